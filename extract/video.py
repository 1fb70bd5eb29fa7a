"""Probe a video and sample its frames in ONE ffmpeg pass streamed as raw RGB.

Both the per-frame samples (ResNet) and the 16-frame clips (C3D) come from the same
decode: ffmpeg's `select` filter keeps only the frame indices either needs, scales them
once (short side `short_side`), and pipes rgb24 bytes to us. No JPEGs, no temp folders.
"""
from __future__ import annotations

import dataclasses
import math
import os
import re

import numpy as np

from .ffmpeg import MediaError, last_error_line, run_ffmpeg, start_ffmpeg

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v", ".mpg", ".mpeg", ".flv",
                    ".wmv", ".3gp", ".ts", ".ogv")
C3D_CLIP_LEN = 16


@dataclasses.dataclass(frozen=True)
class VideoInfo:
    """What `probe` learns from the container header (display geometry, after rotation)."""
    path: str
    duration: float
    fps: float
    width: int
    height: int
    rotation: int
    has_audio: bool

    @property
    def est_frames(self) -> int:
        """Frame count estimated from duration x rate (headers rarely carry the exact count)."""
        return max(1, int(math.floor(self.duration * self.fps + 1e-6)))


_DURATION = re.compile(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)")
_VSTREAM = re.compile(r"Stream #\d+:\d+.*?: Video: (.*)")
_SIZE = re.compile(r"\b(\d{2,5})x(\d{2,5})\b")
_SAR = re.compile(r"SAR (\d+):(\d+)")
_FPS = re.compile(r"([\d.]+)(k?) (?:fps|tbr)\b")
_ROTATION = re.compile(r"rotation of (-?[\d.]+) degrees", re.IGNORECASE)


def _parse_duration(text: str) -> float | None:
    m = _DURATION.search(text)
    if not m:
        return None
    h, mi, s = m.groups()
    return int(h) * 3600 + int(mi) * 60 + float(s)


def _measure_duration(path: str) -> float:
    """Decode-free duration for containers whose header has none (remux to null)."""
    proc = run_ffmpeg(["-i", path, "-map", "0:v:0", "-c", "copy", "-f", "null", "-"], timeout=600)
    times = re.findall(r"time=(\d+):(\d+):(\d+(?:\.\d+)?)", proc.stderr.decode("utf-8", "replace"))
    if not times:
        return 0.0
    h, mi, s = times[-1]
    return int(h) * 3600 + int(mi) * 60 + float(s)


def probe(path: str | os.PathLike) -> VideoInfo:
    """Read duration, frame rate, display size, rotation and audio presence; MediaError if unusable."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise MediaError(f"{path}: no such file")
    if not os.access(path, os.R_OK):
        raise MediaError(f"{path}: not readable")
    if os.path.getsize(path) == 0:
        raise MediaError(f"{path}: empty file (0 bytes)")
    proc = run_ffmpeg(["-i", path], timeout=120)
    text = proc.stderr.decode("utf-8", "replace")
    if "Input #0" not in text:
        raise MediaError(f"{path}: not a readable video ({last_error_line(proc.stderr)})")
    vlines = _VSTREAM.findall(text)
    if not vlines:
        raise MediaError(f"{path}: no video stream")
    vline = vlines[0]
    size = _SIZE.search(vline)
    if not size:
        raise MediaError(f"{path}: video stream has no frame size")
    width, height = int(size.group(1)), int(size.group(2))
    sar = _SAR.search(vline)
    if sar and int(sar.group(1)) > 0 and int(sar.group(2)) > 0:
        width = max(2, round(width * int(sar.group(1)) / int(sar.group(2))))
    fps_m = _FPS.search(vline)
    fps = float(fps_m.group(1)) * (1000 if fps_m.group(2) else 1) if fps_m else 25.0
    if not 0.1 <= fps <= 1000:
        fps = 25.0
    # the rotation side data follows the video stream line it belongs to
    vstart = text.find(vline)
    vend = text.find("Stream #", vstart + len(vline))
    rot_m = _ROTATION.search(text, vstart, vend if vend >= 0 else len(text))
    rotation = int(round(float(rot_m.group(1)))) % 360 if rot_m else 0
    if rotation in (90, 270):
        width, height = height, width
    duration = _parse_duration(text)
    if not duration:
        duration = _measure_duration(path)
    if duration <= 0:
        raise MediaError(f"{path}: video has no duration (no decodable frames)")
    has_audio = re.search(r"Stream #\d+:\d+.*?: Audio:", text) is not None
    return VideoInfo(path, duration, fps, width, height, rotation, has_audio)


def scaled_size(width: int, height: int, short_side: int) -> tuple[int, int]:
    """(w, h) with the short side `short_side`, aspect kept, both even (what ffmpeg emits)."""
    if width <= height:
        w, h = short_side, height * short_side / width
    else:
        w, h = width * short_side / height, short_side
    return int(round(w / 2) * 2), int(round(h / 2) * 2)


def uniform_indices(total: int, count: int) -> np.ndarray:
    """`count` frame indices spread evenly over `total` frames, each at its segment centre.

    With fewer frames than asked, indices repeat evenly (a 10-frame video sampled at 40
    shows each frame 4 times) rather than failing.
    """
    pos = (np.arange(count) + 0.5) * total / count
    return np.clip(np.floor(pos), 0, total - 1).astype(np.int64)


def clip_indices(total: int, clips: int, clip_len: int = C3D_CLIP_LEN) -> np.ndarray:
    """[clips, clip_len] consecutive frame indices centred at evenly spaced times.

    Videos shorter than `clip_len` frames repeat their last frame to fill a clip.
    """
    centres = uniform_indices(total, clips)
    starts = np.clip(centres - clip_len // 2, 0, max(0, total - clip_len))
    idx = starts[:, None] + np.arange(clip_len)[None, :]
    return np.minimum(idx, total - 1)


@dataclasses.dataclass
class Frames:
    """Decoded frames of one video: `frames` uint8 [N, H, W, 3] RGB and `clips` uint8 [K, 16, H, W, 3]."""
    info: VideoInfo
    frames: np.ndarray
    clips: np.ndarray | None


def _select_expr(indices: np.ndarray) -> str:
    """ffmpeg select expression keeping exactly `indices` (merged into ranges to stay short)."""
    parts, start, prev = [], None, None
    for i in indices.tolist():
        if start is None:
            start = prev = i
        elif i == prev + 1:
            prev = i
        else:
            parts.append((start, prev))
            start = prev = i
    parts.append((start, prev))
    return "+".join(f"eq(n,{a})" if a == b else f"between(n,{a},{b})" for a, b in parts)


def decode_frames(path: str | os.PathLike, num_frames: int = 40, clips: int = 0,
                  short_side: int = 256, info: VideoInfo | None = None, background: bool = False) -> Frames:
    """Decode the video once and return the uniformly sampled frames (and C3D clips when clips > 0).

    Frames are scaled so their short side is `short_side` (display aspect, rotation applied).
    If the file holds fewer frames than its header promised, missing indices repeat the
    last decoded frame. `background`: see `extract.ffmpeg.start_ffmpeg`.
    """
    info = info or probe(path)
    total = info.est_frames
    frame_idx = uniform_indices(total, num_frames)
    clip_idx = clip_indices(total, clips) if clips > 0 else np.zeros((0, C3D_CLIP_LEN), np.int64)
    wanted = np.unique(np.concatenate([frame_idx, clip_idx.ravel()]))
    w, h = scaled_size(info.width, info.height, short_side)
    vf = f"select='{_select_expr(wanted)}',scale={w}:{h}:flags=bilinear,format=rgb24"
    args = ["-loglevel", "error", "-i", os.fspath(path), "-map", "0:v:0", "-an", "-sn",
            "-vf", vf, "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]
    # read straight into one array: no per-frame bytes objects, no stacking copy
    decoded = np.empty((len(wanted), h, w, 3), np.uint8)
    view, filled = memoryview(decoded).cast("B"), 0
    with start_ffmpeg(args, background) as proc:
        while filled < len(view):
            n = proc.stdout.readinto(view[filled:])
            if not n:
                break
            filled += n
        view.release()
        proc.stdout.close()
        err = proc.stderr.read()
        proc.wait()
    got = filled // (w * h * 3)
    if not got:
        raise MediaError(f"{os.fspath(path)}: no decodable video frames ({last_error_line(err)})")
    decoded = decoded[:got]
    # position of each wanted index in `decoded`; beyond what was decoded -> last frame
    lookup = {int(i): min(j, got - 1) for j, i in enumerate(wanted)}
    frames = decoded[[lookup[int(i)] for i in frame_idx]]
    clip_arr = decoded[[lookup[int(i)] for i in clip_idx.ravel()]].reshape(
        clips, C3D_CLIP_LEN, h, w, 3) if clips > 0 else None
    return Frames(info, frames, clip_arr)
