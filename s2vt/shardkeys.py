"""Which shard is which: three identities of a TFRecord shard, each the answer to its own question.

- `file_key(path)`: is it the same file now? Device and inode: another spelling, a symlink or a hard
  link is the same file (a shard in both --features and --val-features, or twice in --features).
- `content_key(entry)`: is it the same shard's data, here or in a run's past? Size and a digest of its
  first 64 KiB (`shard_ids` entries, as last.pt records them): a copy or a renamed file is the same
  shard (a --resume's val shard the run trained on; one shard twice in --features).
- `name_key(entry)`: which shard would the user call it? File name and size: a moved copy of the data is
  the same (a --resume's warning about other shards; an older last.pt's entry, without the digest).

A `shard_ids` entry is a list, [real path, bytes, digest] ([real path, bytes] in a last.pt from before
the digest): last.pt stores it, and `torch.load(weights_only=True)` reads plain lists back.
"""
from __future__ import annotations

import functools
import hashlib
import os

DIGEST_BYTES = 1 << 16  # read from a shard's start for its content identity (`content_digest`)


def file_key(path: str) -> tuple[int, int]:
    """One file however it is named (another spelling, a symlink, a hard link): its device and inode."""
    st = os.stat(path)
    return st.st_dev, st.st_ino


def content_digest(path: str) -> str:
    """A cheap content identity of a shard: the sha1 of its first DIGEST_BYTES (a shard's first records,
    their video ids among them); with the size, a copy or a renamed file is the same shard."""
    st = os.stat(path)
    return _digest(os.path.realpath(path), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=None)
def _digest(path: str, size: int, mtime: int) -> str:  # (once per file and version: prepare and last.pt ask)
    with open(path, "rb") as f:
        return hashlib.sha1(f.read(DIGEST_BYTES)).hexdigest()[:16]


def shard_id(path: str) -> list:
    """[real path, bytes, content digest] of a shard: its `shard_ids` entry."""
    return [os.path.realpath(path), os.path.getsize(path), content_digest(path)]


def shard_ids(files: list[str]) -> list[list]:
    """[real path, bytes, content digest] of each shard, as last.pt records the shards a run trained and
    validated on (a last.pt from before the digest holds [real path, bytes])."""
    return [shard_id(f) for f in files]


def content_key(entry: list) -> tuple[int, str] | None:
    """(bytes, digest) of a `shard_ids` entry: the same shard's data, wherever and however named; None for
    an older last.pt's entry, which lacks the digest."""
    return (entry[1], entry[2]) if len(entry) > 2 else None


def name_key(entry: list) -> tuple[str, int]:
    """(file name, bytes) of a `shard_ids` entry: the shard as a user names it, its folder aside."""
    return os.path.basename(entry[0]), entry[1]


def same_shard(a: list, b: list) -> bool:
    """Whether two `shard_ids` entries are one shard: by content (`content_key`), or by name and size
    (`name_key`) where one lacks the digest (an older last.pt's)."""
    if (ka := content_key(a)) is not None and (kb := content_key(b)) is not None:
        return ka == kb
    return name_key(a) == name_key(b)
