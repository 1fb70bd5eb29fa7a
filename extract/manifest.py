"""Video ids, the manifest (JSON Lines) reader, and folder scanning.

Lives in `extract` (the bottom of the data flow) so both `extract` and `s2vt` share one
definition of what a valid id and a valid manifest line are.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

from .errors import UserError
from .fileio import atomic_write_bytes
from .video import VIDEO_EXTENSIONS

VIDEO_ID_RE = re.compile(r"[A-Za-z0-9_.-]{1,128}")
SPLITS = ("train", "val", "test")


class ManifestError(UserError):
    """A manifest that cannot be used; the message is one line naming file and line."""


def valid_video_id(video_id: object) -> bool:
    """True for ids matching [A-Za-z0-9_.-]{1,128} that are not '.' or '..' (ids name files)."""
    return (isinstance(video_id, str) and VIDEO_ID_RE.fullmatch(video_id) is not None
            and video_id not in (".", ".."))


def check_video_id(video_id: object, where: str = "") -> str:
    """Return `video_id` if valid, else raise ValueError with a one-line reason."""
    if not valid_video_id(video_id):
        raise ValueError(f"{where}invalid video_id {video_id!r}: must match [A-Za-z0-9_.-]{{1,128}}")
    return video_id  # type: ignore[return-value]


def sanitize_id(stem: str) -> str:
    """A valid id from a file stem: other characters become '_', cut to 128."""
    clean = re.sub(r"[^A-Za-z0-9_.-]", "_", stem)[:128].strip(".") or "video"
    return clean


def read_manifest(path: str | os.PathLike) -> list[dict]:
    """Entries of a JSONL manifest, validated; `path` fields resolved against its folder.

    Each entry keeps its fields and gains `abspath` (None when it has no `path`).
    """
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"{path}: manifest not found")
    entries, seen = [], set()
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"{path}:{n}: "
            try:
                entry = json.loads(line)
            except json.JSONDecodeError as e:
                raise ManifestError(f"{where}not valid JSON ({e.msg})") from None
            if not isinstance(entry, dict) or "video_id" not in entry:
                raise ManifestError(f"{where}missing field 'video_id'")
            try:
                vid = check_video_id(entry["video_id"])
            except ValueError as e:
                raise ManifestError(f"{where}{e}") from None
            if vid in seen:
                raise ManifestError(f"{where}duplicate video_id {vid!r}")
            seen.add(vid)
            split = entry.get("split", "train")
            if split not in SPLITS:
                raise ManifestError(f"{where}split must be one of {', '.join(SPLITS)}, not {split!r}")
            for key in ("captions", "tags"):
                value = entry.get(key, [])
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise ManifestError(f"{where}{key!r} must be a list of strings")
            rel = entry.get("path")
            if rel is not None and not isinstance(rel, str):
                raise ManifestError(f"{where}'path' must be a string")
            entry["abspath"] = str(path.parent / rel) if rel else None
            entries.append(entry)
    return entries


def write_manifest(entries: list[dict], path: str | os.PathLike) -> None:
    """Write entries as JSONL atomically (temp file + rename); drops the derived `abspath`."""
    lines = (json.dumps({k: v for k, v in e.items() if k != "abspath"}, ensure_ascii=False) + "\n"
             for e in entries)
    atomic_write_bytes(path, "".join(lines).encode("utf-8"))


def scan_videos(folder: str | os.PathLike) -> list[tuple[str, Path]]:
    """(id, path) for every video file under `folder`, recursively, sorted; ids from sanitised stems.

    Two files that map to the same id raise ValueError naming both.
    """
    folder = Path(folder)
    found: dict[str, Path] = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS:
            vid = sanitize_id(p.stem)
            if vid in found:
                raise ValueError(f"duplicate video id {vid!r}: {found[vid]} and {p} (rename one)")
            found[vid] = p
    return sorted(found.items())
