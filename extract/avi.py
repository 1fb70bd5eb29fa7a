"""What an AVI file's own header declares: the bytes of its RIFF chunk and the frames of its video stream.

ffmpeg reads an AVI cut short without a word: its demuxer scales the header's duration by the share of the
bytes left (said only at `-v debug`: "File is truncated adjusting duration"), so the frames decoded agree
with that guess and a cut file looked whole. The header read here tells it: a RIFF chunk declared longer
than the file. A header never completed (written to a pipe) is scaled so too: its duration is a guess; such a
file cut short is told by its last chunk, which runs past the file's end (`piped_cut`).
"""
from __future__ import annotations

import dataclasses
import os
import struct

# the sizes a writer that could not seek back leaves in place of the real ones (ffmpeg's avienc writing to
# a pipe: a RIFF size of 0xFFFFFFFF, a length of 2^30 frames): such a header declares no size, and a file
# shorter than it is not cut
_UNSET = (0, 0xFFFFFFFF)
_MAX_HEADER = 1 << 20  # (the header list, `hdrl`: a few hundred bytes, an OpenDML index some KiB)


@dataclasses.dataclass(frozen=True)
class Declared:
    """What an AVI's header declares: `size`, the bytes of the file its first RIFF chunk ends at, and
    `frames`, its first video stream's length (`strh` dwLength)."""
    size: int
    frames: int

    @property
    def complete(self) -> bool:
        """Whether the header was completed: its RIFF size is one (not a placeholder written to a pipe)."""
        return self.size - 8 not in _UNSET


def _chunks(data: bytes, start: int, end: int):
    """(fourcc, body start, body end) of the RIFF chunks in data[start:end]."""
    pos = start
    while pos + 8 <= end:
        tag, size = data[pos:pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        yield tag, pos + 8, min(pos + 8 + size, end)
        pos += 8 + size + (size & 1)  # (chunks are word-aligned)


def _video_frames(data: bytes) -> int:
    """The length of the first video stream's `strh` in the `hdrl` list at the start of `data`, 0 if none."""
    for tag, start, end in _chunks(data, 0, len(data)):
        if tag != b"LIST" or data[start:start + 4] != b"hdrl":
            return 0  # (the header list comes first)
        for tag, s, e in _chunks(data, start + 4, end):
            if tag == b"LIST" and data[s:s + 4] == b"strl":
                for tag, s2, e2 in _chunks(data, s + 4, e):
                    if tag == b"strh" and e2 - s2 >= 36 and data[s2:s2 + 4] == b"vids":
                        return struct.unpack_from("<I", data, s2 + 32)[0]
        return 0
    return 0


def _riff_size(head: bytes) -> int | None:
    """The RIFF size field of an AVI's first 12 bytes `head`; None for bytes that do not begin an AVI."""
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:] != b"AVI ":
        return None
    return struct.unpack_from("<I", head, 4)[0]


def declared_size(path: str | os.PathLike) -> int | None:
    """The bytes of the file that the AVI at `path` declares its first RIFF chunk ends at; None for a file that is
    no AVI, or a header never completed (a placeholder size). Read from its first 12 bytes alone: a file cut short
    inside its header (no frame held, nothing ffmpeg can open) is told by it."""
    try:
        with open(path, "rb") as f:
            riff = _riff_size(f.read(12))
    except OSError:
        return None
    return None if riff is None or riff in _UNSET else 8 + riff


def declared(path: str | os.PathLike) -> Declared | None:
    """What the AVI at `path` declares; None for a file that is no AVI, or whose header gives its video
    stream no length (ffmpeg then has no duration to scale)."""
    try:
        with open(path, "rb") as f:
            if (riff := _riff_size(f.read(12))) is None:
                return None
            data = f.read(_MAX_HEADER)
    except OSError:
        return None
    frames = _video_frames(data)
    return Declared(8 + riff, frames) if frames else None


def size_guessed(path: str | os.PathLike) -> Declared | None:
    """What the header declares, for an AVI whose duration ffmpeg guesses from the file's size (its RIFF chunk
    declared longer than the file: cut short, a copy or download broken off, when `complete`; else a header
    never completed); else None."""
    d = declared(path)
    return d if d is not None and d.size > os.path.getsize(path) else None


# the lists the chunk walk of `piped_cut` goes into: the frames' list, whose size a pipe's writer never fills in,
# and the `rec ` groups some writers put its chunks in
_INTO = (b"movi", b"rec ")


def _chunk_heads(f, size: int):
    """(tag, end) of each chunk of the AVI file `f` (`size` bytes) in turn from byte 12, going into the lists of
    `_INTO`: `end` is where its data ends (past `size` when it is cut); (None, its end) last for a chunk header cut
    through. 12 bytes read a chunk (no frame's data)."""
    pos = 12
    while pos < size:
        f.seek(pos)
        head = f.read(12)
        if len(head) < 8:
            yield None, pos + 8
            return
        length = struct.unpack_from("<I", head, 4)[0]
        if head[:4] == b"LIST" and head[8:12] in _INTO:
            pos += 12
            continue
        yield head[:4], pos + 8 + length  # (a last chunk's pad byte may be missing: it holds no data)
        pos += 8 + length + (length & 1)


def piped_cut(path: str | os.PathLike) -> int | None:
    """For an AVI whose header was never completed (written to a pipe, `Declared.complete` false), cut short: the
    bytes its last chunk needs, which the file ends before (a chunk header cut through needs its 8 bytes); else
    None (whole, no AVI, or one whose header gives its size: `size_guessed` tells that one). A walk over the
    chunks' headers (`_chunk_heads`): a file cut between two chunks is not told."""
    try:
        with open(path, "rb", buffering=0) as f:  # (unbuffered: a buffer would read each chunk's data too)
            if _riff_size(f.read(12)) not in _UNSET:
                return None
            size = os.fstat(f.fileno()).st_size
            return next((end for _, end in _chunk_heads(f, size) if end > size), None)
    except OSError:
        return None


def first_frame_cut(path: str | os.PathLike) -> int | None:
    """For an AVI cut short before its first video frame ends (in its header, or in that frame's chunk; its header
    completed or not): the bytes that frame needs, which the file ends before; else None (its first frame whole, or
    no AVI). A walk over the chunks' headers up to the first video frame's (`_chunk_heads`)."""
    try:
        with open(path, "rb", buffering=0) as f:  # (unbuffered: a buffer would read each chunk's data too)
            if _riff_size(f.read(12)) is None:
                return None
            size = os.fstat(f.fileno()).st_size
            for tag, end in _chunk_heads(f, size):
                if tag is not None and tag[2:4] in (b"dc", b"db"):  # (a video stream's frame: compressed or not)
                    return end if end > size else None
                if end > size:  # (a chunk before it, the header's or a sound's, cut: no frame whole)
                    return end
            return size + 8  # (ended between two chunks, before any frame: the next one's header at least)
    except OSError:
        return None
