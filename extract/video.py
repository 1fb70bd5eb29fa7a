"""Probe a video and sample its frames in ONE ffmpeg pass streamed as raw RGB.

Both the per-frame samples (ResNet) and the 16-frame clips (C3D) come from the same
decode: ffmpeg's `select` filter keeps only the frame indices either needs, scales them
once (short side `short_side`, long side at most MAX_ASPECT times it), and pipes rgb24
bytes to us. No JPEGs, no temp folders. Only a stream holding fewer frames than its
header says is decoded a second time, over the frames it really holds.
"""
from __future__ import annotations

import collections
import dataclasses
import math
import os
import re
import stat
import struct

import numpy as np

from s2vt.fileio import kernel_folder
from s2vt.manifest import no_such_video

from . import avi
from .ffmpeg import CORRUPT, CUT_BEFORE_INDEX, MediaError, ffmpeg_path, last_error_line, run_ffmpeg, start_ffmpeg

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
    timed: bool = True  # False: a stream without timestamps (raw H.264), its duration its frames over `fps`
    # a stream that carries no frame rate at all (raw MJPEG, a piped image sequence): its demuxer's name, what
    # a note calls it; `fps` is then ffmpeg's default, 25, and the duration only its frames over that
    fps_assumed: str = ""
    # an AVI cut short: what its header declares (more bytes than the file holds); its duration above is then
    # ffmpeg's guess, the header's scaled by the bytes left (`extract.avi`)
    avi_cut: avi.Declared | None = None
    # ffmpeg's duration was its guess from the file's size (an AVI cut short or written to a pipe, a duration it
    # says it estimated from the bitrate), not one a header or timestamps give: what a note says of its frames
    size_guess: bool = False
    # the frames such a stream holds, counted at the probe (a remux, no decoding; 0: none counted): the duration
    # above is then theirs over `fps`, not the guess (an AVI written to a pipe, 4 s, "lasted" 631 s: refused as
    # over `s2vt serve`'s limit, and sampled as 15,773 frames; hostile trial)
    counted: int = 0
    # an AVI written to a pipe (its header gives no size) and cut short: the bytes its last chunk needs, more than
    # the file holds (`avi.piped_cut`); 0: not told so. One written to a file and cut is `avi_cut`
    pipe_cut: int = 0
    # a raw or multipart JPEG stream cut short through its last JPEG (`_ends_inside_a_jpeg`): that picture is left
    # out, which a note says (it was left out unsaid: hostile trial)
    jpeg_cut: bool = False

    @property
    def est_frames(self) -> int:
        """Frame count estimated from duration x rate (headers rarely carry the exact count)."""
        return max(1, int(math.floor(self.duration * self.fps + 1e-6)))


_DURATION = re.compile(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)")
_VSTREAM = re.compile(r"Stream #\d+:\d+.*?: Video: (.*)")
_SIZE = re.compile(r"\b([1-9]\d{0,4})x([1-9]\d{0,4})\b")  # 2000x2 too; not a codec tag such as 0x0000
_SAR = re.compile(r"SAR (\d+):(\d+)")
_FPS = re.compile(r"([\d.]+)(k?) (?:fps|tbr)\b")
_ROTATION = re.compile(r"rotation of (-?[\d.]+) degrees", re.IGNORECASE)
_FORMAT = re.compile(r"^Input #0, ([\w,]+), from", re.M)
_BITRATE_GUESS = "Estimating duration from bitrate"  # (ffmpeg's warning when no header or timestamp gives one)
# ffmpeg's demuxers of streams with no timing anywhere, whose frames it times at its default 25 fps: raw
# MJPEG is JPEGs one after another, and a multipart JPEG stream's parts carry no time either (their packets'
# durations are that default, so they cannot time it as they do a raw H.264, HEVC or MPEG-2 stream). Raw JPEGs
# that are not 4:2:0 (a USB webcam's 4:2:2, 4:4:4, grey) are read by `jpeg_pipe`, as every piped image sequence
# by its `<codec>_pipe` (hostile trial: a 4:2:2 stream was timed at 25 fps unsaid): those too.
RATELESS_FORMATS = {"mjpeg", "mpjpeg", "image2pipe", "ingenient", "mjpeg_2000"}
# ffmpeg's input option of every read of a video's packets, counted or decoded: drop a packet its demuxer read
# short (flagged corrupt), the last one of a file cut short (AVI, MP4, MOV; Matroska's demuxer drops it itself).
# Decoded, a JPEG cut through has its missing part filled from memory the decoder never set: an MJPEG AVI cut
# short gave another last frame, and another caption, on every run (hostile trial). Counting and decoding drop
# the same packet, so the frames counted are the frames decoded and sampling by index stays right.
WHOLE_PACKETS = ["-fflags", "+discardcorrupt"]


# ffmpeg's demuxers of raw JPEG streams, JPEGs one after another with no size of each: the last one of a stream
# cut short is handed on as it is, not flagged as read short, so WHOLE_PACKETS keeps it (and its decoded picture
# changed from run to run: hostile trial). Such a stream is cut through a JPEG when one begins after the last
# JPEG's end: bytes after a whole last JPEG (padding, a newline) are no JPEG, and ffmpeg decodes every frame before
# them (hostile trial: taking any other last bytes for a cut lost a whole stream's last frame).
RAW_JPEG = {"mjpeg", "jpeg_pipe"}
JPEG_START, JPEG_END = b"\xff\xd8\xff", b"\xff\xd9"  # (SOI and the next marker's FF; EOI, every JPEG's end)
_JPEG_TAIL = 1 << 24  # (the bytes read from a stream's end: a JPEG begun in them, or the last one ended there)


def _ends_inside_a_jpeg(path: str) -> bool:
    """Whether the raw JPEG stream at `path` is cut short through its last JPEG: one begins (SOI) after the last
    end marker (EOI) in its last bytes. A JPEG larger than those, with no marker there, is taken as whole."""
    with open(path, "rb") as f:
        f.seek(max(0, os.path.getsize(path) - _JPEG_TAIL))
        tail = f.read()
    return tail.rfind(JPEG_START) > tail.rfind(JPEG_END)


def rateless(demuxer: str) -> bool:
    """Whether ffmpeg's demuxer `demuxer` reads a stream that carries no frame rate (`RATELESS_FORMATS`)."""
    return demuxer in RATELESS_FORMATS or demuxer.endswith("_pipe")


def _parse_duration(text: str) -> float | None:
    m = _DURATION.search(text)
    if not m:
        return None
    h, mi, s = m.groups()
    return int(h) * 3600 + int(mi) * 60 + float(s)


def count_frames(path: str | os.PathLike) -> tuple[int, float]:
    """(frames, seconds) the video stream really holds, read without decoding (a remux to null).

    For headers that lie or say nothing: a container's duration may be its audio's (a cover
    image over 10 s of music), or promise what a truncated file no longer holds. The framecrc
    muxer writes one line per packet in the same format in every ffmpeg version; the progress
    line's `frame=` that this once read is absent for stream copies in ffmpeg 7.0.
    """
    return _packets(path)[:2]


def _packets(path: str | os.PathLike, whole: bool = True) -> tuple[int, float, float | None, float | None]:
    """`count_frames`' (frames, seconds), and the frames per second the packets' own durations give (None
    when they give none): the rate a raw stream's headers carry (an H.264 or HEVC stream's timing, an
    MPEG-2 frame rate code), which ffmpeg's `NN fps` never shows for such a stream (it says 25, its
    default) and its `tbr` shows only in some versions (ffmpeg 9 gives an H.264 stream's field rate,
    twice its frame rate); then the rate the usual step between their timestamps gives (None without two):
    an MJPEG stream copied into an AVI written to a pipe has packets of one tick of a 1/600 time base, 24
    ticks apart (hostile trial). `whole`: its whole packets alone (`WHOLE_PACKETS`), as decoding reads them."""
    proc = run_ffmpeg(["-v", "error", *(WHOLE_PACKETS if whole else []), "-i", ffmpeg_path(path), "-map", "0:v:0",
                       "-c", "copy",
                       "-f", "framecrc", "-"], timeout=600)
    text = proc.stdout.decode("utf-8", "replace")
    tb = re.search(r"^#tb 0: (\d+)/(\d+)", text, re.M)
    # packet lines: stream, dts, pts, duration, size, crc
    packets = [ln.split(",") for ln in text.splitlines() if ln and not ln.startswith("#")]
    if not tb:
        return len(packets), 0.0, None, None
    unit = int(tb[1]) / int(tb[2])
    durations = collections.Counter(int(p[3]) for p in packets if len(p) >= 5 and int(p[3]) > 0)
    rate = 1 / (durations.most_common(1)[0][0] * unit) if durations else None  # (the usual frame's duration)
    # (pts, duration) of packets with a timestamp (no pts prints as INT64_MIN)
    timed = [(int(p[2]), max(int(p[3]), 0)) for p in packets if len(p) >= 5 and int(p[2]) > -(2 ** 62)]
    if not timed:
        return len(packets), 0.0, rate, None
    span = max(pts + dur for pts, dur in timed) - min(pts for pts, _ in timed)
    order = sorted(pts for pts, _ in timed)
    steps = collections.Counter(b - a for a, b in zip(order, order[1:]) if b > a)
    stepped = 1 / (steps.most_common(1)[0][0] * unit) if steps else None
    return len(packets), span * unit, rate, stepped


def check_video_file(path: str) -> None:
    """MediaError for a path no video can be read from, found without ffmpeg: a folder, nothing there, a
    device or pipe, an unreadable or empty file (caption.py checks its named inputs so before the model
    loads)."""
    if os.path.isdir(path):
        raise MediaError(f"{path}: a folder, not a video file")
    if not os.path.exists(path):
        raise MediaError(no_such_video(path))
    if not os.path.isfile(path):  # (/dev/null, a pipe, a socket: ffmpeg could wait on one forever)
        mode = os.stat(path).st_mode
        kind = next((k for test, k in ((stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                                       (stat.S_ISFIFO, "a pipe (FIFO)"), (stat.S_ISSOCK, "a socket"))
                     if test(mode)), "not a regular file")
        raise MediaError(f"{path}: {kind}, not a video file")
    if not os.access(path, os.R_OK):
        raise MediaError(f"{path}: not readable")
    if os.path.getsize(path) == 0:
        # (/proc's and /sys's files report size 0 yet hold text: 'empty file' was said of /proc/self/maps; hostile
        # trial)
        if root := kernel_folder(os.path.realpath(path)):
            raise MediaError(f"{path}: a kernel file under {root} (its size reads 0, its content is the system's), "
                             "not a video file")
        raise MediaError(f"{path}: empty file (0 bytes)")


def mp4_cut(path: str | os.PathLike) -> int | None:
    """For an MP4 or QuickTime file (`starts_as_mp4`) whose last top-level box runs past the file's end (a
    download broken off after the index, which faststart writes first): the bytes that box needs; else None.
    A walk over the top-level boxes' headers (16 bytes read each, no media data)."""
    if not starts_as_mp4(path):
        return None
    try:
        with open(path, "rb", buffering=0) as f:
            size, pos = os.fstat(f.fileno()).st_size, 0
            while pos < size:
                f.seek(pos)
                head = f.read(16)
                if len(head) < 8:
                    return pos + 8
                length = struct.unpack_from(">I", head)[0]
                if length == 1:  # (a 64-bit size follows the type)
                    if len(head) < 16:
                        return pos + 16
                    length = struct.unpack_from(">Q", head, 8)[0]
                if length == 0:  # (the last box, to the file's end: nothing to tell)
                    return None
                if length < 8:  # (no box: not a file this walk can read)
                    return None
                pos += length
            return pos if pos > size else None
    except OSError:
        return None


def starts_as_mp4(path: str) -> bool:
    """Whether `path` begins as an MP4 or QuickTime file does: a first box (size, then its type) 'ftyp'."""
    try:
        with open(path, "rb") as f:
            return f.read(8)[4:8] == b"ftyp"
    except OSError:
        return False


def probe(path: str | os.PathLike) -> VideoInfo:
    """Read duration, frame rate, display size, rotation and audio presence; MediaError if unusable."""
    path = os.fspath(path)
    check_video_file(path)
    proc = run_ffmpeg(["-i", ffmpeg_path(path)], timeout=120)
    text = proc.stderr.decode("utf-8", "replace")
    if "Input #0" not in text:
        size = avi.declared_size(path)
        if size is not None and size > os.path.getsize(path):  # (an AVI cut within its header: no frame to open)
            raise MediaError(f"{path}: file cut short before its first frame ({os.path.getsize(path):,} of the "
                             f"{size:,} bytes its AVI header gives)")
        # (an MP4 whose index, written last, never came: a download or copy stopped early. 'Invalid data found when
        # processing input' gave no hint the file is incomplete; hostile trial. ffmpeg says 'moov atom not found' of
        # any file named .mp4: a text file is no cut MP4, so only one that starts as an MP4, its 'ftyp' box)
        if b"moov atom not found" in proc.stderr and starts_as_mp4(path):
            raise MediaError(f"{path}: not a readable video ({CUT_BEFORE_INDEX})")
        raise MediaError(f"{path}: not a readable video ({last_error_line(proc.stderr)})")
    vlines = _VSTREAM.findall(text)
    if not vlines:
        raise MediaError(f"{path}: no video stream")
    vline = vlines[0]
    size = _SIZE.search(vline)
    if not size:  # (random bytes named .hevc: ffmpeg's raw demuxer takes any file, finding no picture in it)
        raise MediaError(f"{path}: not a readable video (ffmpeg finds no frame size in it)")
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
    duration, timed = _parse_duration(text), True
    if not duration:  # (no container: a raw stream, whose rate is its packets', not the `25 fps` ffmpeg shows)
        frames, duration, rate, _ = _packets(path)
        if rate is not None and 0.1 <= rate <= 1000:
            fps = rate
        if duration <= 0 < frames:  # frames without timestamps (a raw .h264 stream): counted, decoded by index
            duration, timed = frames / fps, False
    fmt = _FORMAT.search(text)
    # (a multipart stream's parts have sizes: ffmpeg drops the part read short itself, and it is only to be said)
    jpeg_cut = bool(fmt and fmt[1] in RAW_JPEG | {"mpjpeg"} and _ends_inside_a_jpeg(path))
    if jpeg_cut and fmt[1] in RAW_JPEG:  # (its last frame, cut through: never sampled)
        duration -= 1 / fps
    if duration <= 0:
        raise MediaError(f"{path}: video has no duration (no decodable frames)")
    has_audio = re.search(r"Stream #\d+:\d+.*?: Audio:", text) is not None
    scaled = avi.size_guessed(path) if fmt and fmt[1] == "avi" else None
    guessed, counted = scaled is not None or _BITRATE_GUESS in text, 0
    # (a header never completed tells no size, so a cut is told by the last chunk: it was not told at all)
    pipe_cut = (avi.piped_cut(path) or 0) if fmt and fmt[1] == "avi" and not (scaled and scaled.complete) \
        else 0
    if guessed:  # (its frames counted, at the rate their timestamps step by: a header's may be its time base's)
        counted, _, _, stepped = _packets(path)
        if stepped is not None and 0.1 <= stepped <= 1000:
            fps = stepped
        duration = counted / fps if counted else duration
    return VideoInfo(path, duration, fps, width, height, rotation, has_audio, timed,
                     fps_assumed=fmt[1] if fmt and rateless(fmt[1]) else "",
                     avi_cut=scaled if scaled is not None and scaled.complete else None,
                     size_guess=guessed, counted=counted, jpeg_cut=jpeg_cut, pipe_cut=pipe_cut)


# The long side is decoded up to 4x the short side; beyond that, only its centre. Every film and
# screen shape in use (2.39:1 scope, 2.76:1, 32:9 monitors, 19.5:9 phone recordings) stays whole,
# so its features do not change, while a 16x2000 video no longer decodes to 256x32000 frames
# (5.3 GB for the default samples). ResNet reads only the centre square of a frame; C3D
# squeezes the whole frame to 171x128, so for C3D an extreme frame becomes its 4:1 centre.
MAX_ASPECT = 4.0


def centre_region(width: float, height: float, max_aspect: float = MAX_ASPECT) -> tuple[float, float]:
    """(w, h) of the part of a frame that is decoded: the long side cut to its centre `max_aspect` x the short."""
    return min(width, height * max_aspect), min(height, width * max_aspect)


def scaled_size(width: float, height: float, short_side: int) -> tuple[int, int]:
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
    """Decoded frames of one video: `frames` uint8 [N, H, W, 3] RGB and `clips` uint8 [K, 16, H, W, 3],
    plus remarks on a stream that held fewer frames than its header said; `times`: each sampled
    frame's time in seconds (shown by `s2vt serve`)."""
    info: VideoInfo
    frames: np.ndarray
    clips: np.ndarray | None
    notes: list[str] = dataclasses.field(default_factory=list)
    times: np.ndarray | None = None


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


def _sample(total: int, num_frames: int, clips: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frame indices, [clips, 16] clip indices and the sorted distinct indices both need."""
    frame_idx = uniform_indices(total, num_frames)
    clip_idx = clip_indices(total, clips) if clips > 0 else np.zeros((0, C3D_CLIP_LEN), np.int64)
    return frame_idx, clip_idx, np.unique(np.concatenate([frame_idx, clip_idx.ravel()]))


def _read_frames(path: str | os.PathLike, wanted: np.ndarray, geometry: str, size: tuple[int, int],
                 background: bool, one_thread: bool = False) -> tuple[np.ndarray, bytes]:
    """([n, h, w, 3] frames at the indices `wanted`, ffmpeg's stderr); n < len(wanted) when the stream ends first.
    `one_thread`: one decoding thread, as `background` decodes (a damaged stream's repair depends on it)."""
    w, h = size
    threads = ["-threads", "1", "-filter_threads", "1"] if one_thread and not background else []
    args = [*threads, "-loglevel", "error", *WHOLE_PACKETS, "-i", ffmpeg_path(path), "-map", "0:v:0", "-an", "-sn",
            "-vf", f"select='{_select_expr(wanted)}',{geometry}",
            "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]
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
    return decoded[:filled // (w * h * 3)], err


# seconds of video a file with sound may promise beyond its video stream's last frame, unsaid: an AAC track's encoder
# padding outlasts the video by a frame or two, and every clip ffmpeg cut from a file with sound got the note (trial
# 91); without sound, a frame short is damage (trial 92)
SHORT_UNSAID = 0.1


def decode_frames(path: str | os.PathLike, num_frames: int, clips: int = 0,
                  short_side: int = 256, info: VideoInfo | None = None, background: bool = False) -> Frames:
    """Decode the video and return the uniformly sampled frames (and C3D clips when clips > 0).

    Frames are scaled so their short side is `short_side` (display aspect, rotation applied),
    the long side cut to its centre beyond MAX_ASPECT x the short side. Indices spread over the
    frames the header implies; when the stream ends before that (a cover image over long audio,
    a truncated file), its real frames are counted (a remux, no decoding) and sampled instead,
    with a note. An AVI cut short (`VideoInfo.avi_cut`: ffmpeg's duration a guess) has them counted at
    the probe (`VideoInfo.counted`), and a note if they are fewer than its header's. Samples that still
    find no frame repeat the last decoded one, noted too.
    `background`: see `extract.ffmpeg.start_ffmpeg`.
    """
    info = info or probe(path)
    cw, ch = centre_region(info.width, info.height)
    size = w, h = scaled_size(cw, ch, short_side)
    crop = "" if (cw, ch) == (info.width, info.height) else \
        f"crop=iw*{cw / info.width:.6f}:ih*{ch / info.height:.6f},"  # (before scaling: small frames)
    geometry = f"{crop}scale={w}:{h}:flags=bilinear,format=rgb24"
    total, notes = info.est_frames, []
    if info.avi_cut is not None:  # (the guess may fall over the frames held, or under: the last never sampled)
        real = info.counted or count_frames(path)[0]
        total = real or total
        cut = f"file cut short ({os.path.getsize(path):,} of the {info.avi_cut.size:,} bytes its AVI header gives)"
        if 0 < real < info.avi_cut.frames:
            notes.append(f"{cut}: its video stream holds {real} of the header's {info.avi_cut.frames} "
                         "frames: sampled over those")
        elif real:  # (cut in its index or its last audio chunk: still cut short, said so (hostile trial))
            notes.append(f"{cut}: its video stream holds all of the header's {info.avi_cut.frames} frames (what is "
                         "lost comes after them: its last sound or its index)")
    elif info.pipe_cut:  # (its frames were counted at the probe: ffmpeg's guess of them is the file's size's)
        notes.append(f"file cut short ({os.path.getsize(path):,} bytes, its last chunk needing {info.pipe_cut:,}: an "
                     "AVI written to a pipe, whose header gives no size): its video stream holds "
                     f"{info.counted or total} whole frames: sampled over those")
    one_thread = background

    def read(wanted: np.ndarray) -> tuple[np.ndarray, bytes]:
        # a stream ffmpeg reports errors in is decoded again on one thread, as extract decodes every video: how the
        # decoder repairs damage depends on its thread count, and caption.py's features then differed from the
        # store's for a damaged file (trial 86); an undamaged stream decodes alike on any number of threads
        nonlocal one_thread
        decoded, err = _read_frames(path, wanted, geometry, size, background, one_thread)
        if err.strip() and not one_thread:
            one_thread = True
            decoded, err = _read_frames(path, wanted, geometry, size, background, one_thread)
        return decoded, err

    frame_idx, clip_idx, wanted = _sample(total, num_frames, clips)
    decoded, err = read(wanted)
    if len(decoded) < len(wanted):  # the header promised more than the stream holds
        real = count_frames(path)[0]
        if 0 < real < total:
            frame_idx, clip_idx, wanted = _sample(real, num_frames, clips)
            decoded, err = read(wanted)
            # (an MP4 whose index comes first, cut: its last box tells it, which the note said nothing of)
            need = mp4_cut(path)
            cut = f"file cut short ({os.path.getsize(path):,} of the {need:,} bytes its boxes give): " if need else ""
            # (the file's duration at the stream's rate: a file whose sound or cover outlasts its video was said to
            # have a video header promising more; trial 86)
            whose = "ffmpeg guesses from the file's size" if info.size_guess else \
                f"the file's duration implies ({info.duration:,.1f} s at {info.fps:g} fps" + \
                (")" if need else ": a stream cut short, or sound that outlasts the video)")
            if need or info.size_guess or not info.has_audio or (total - real) / info.fps > SHORT_UNSAID:
                notes.append(f"{cut}video stream holds only {real} of the {total} frames {whose}: sampled over "
                             "those")
        if 0 < len(decoded) < len(wanted):
            notes.append(f"{len(wanted) - len(decoded)} of the {len(wanted)} frames sampled could not be decoded: "
                         "the last decoded frame stands in")
    if info.jpeg_cut:
        notes.insert(0, f"file cut short through its last JPEG (the file ends before that picture does): left out, "
                        f"its {total} whole frames sampled")
    if info.fps_assumed:
        what = "raw MJPEG" if info.fps_assumed in ("mjpeg", "mpjpeg", "jpeg_pipe") else info.fps_assumed
        notes.append(f"video stream carries no frame rate ({what}): its {total} frames sampled by their order, "
                     f"their times and its duration ({info.duration:,.1f} s) taken at {info.fps:g} fps")
    elif not info.timed:
        notes.append(f"video stream has no timestamps (a raw stream?): its {total} frames sampled by their order, "
                     f"their times taken at {info.fps:g} fps")
    got = len(decoded)
    if not got:  # (a stream whose every packet was read short: dropped, which ffmpeg says only in a warning)
        if (need := avi.first_frame_cut(path)) is not None:  # (an AVI cut within its first frame: ffmpeg's words,
            # 'Nothing was written into output file', said nothing of it; trial 103; not one whose frames are whole
            # and fail to decode, nor only one whose header was completed; trial 104)
            held, size = os.path.getsize(path), avi.declared_size(path)
            raise MediaError(f"{os.fspath(path)}: file cut short before its first frame ("
                             + (f"{held:,} of the {size:,} bytes its AVI header gives"
                                if size is not None and size > held else f"{held:,} bytes; that frame ends at byte "
                                f"{need:,}") + ")")
        why = CORRUPT if count_frames(path)[0] == 0 < _packets(path, whole=False)[0] else last_error_line(err)
        raise MediaError(f"{os.fspath(path)}: no decodable video frames ({why})")
    # position of each wanted index in `decoded`; beyond what was decoded -> last frame
    lookup = {int(i): min(j, got - 1) for j, i in enumerate(wanted)}
    frames = decoded[[lookup[int(i)] for i in frame_idx]]
    clip_arr = decoded[[lookup[int(i)] for i in clip_idx.ravel()]].reshape(
        clips, C3D_CLIP_LEN, h, w, 3) if clips > 0 else None
    return Frames(info, frames, clip_arr, notes, frame_idx / max(info.fps, 1e-6))
