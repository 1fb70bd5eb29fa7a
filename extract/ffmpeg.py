"""Locate the ffmpeg binary and run it without a shell.

The ffmpeg on PATH wins; otherwise imageio-ffmpeg's bundled static binary is used,
so `pip install` is the whole set-up. That binary ships without ffprobe, which is why
probing (see `extract.video.probe`) parses `ffmpeg -i` instead.
"""
from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import threading
import weakref
from typing import Sequence

from s2vt.errors import UserError


class MediaError(UserError):
    """A video or audio file that cannot be used; the message is one line for the user."""


@functools.lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary: $S2VT_FFMPEG, then PATH, then imageio-ffmpeg's."""
    env = os.environ.get("S2VT_FFMPEG")
    if env:
        return env
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg
    except ImportError as e:  # pragma: no cover - it is a hard dependency
        raise MediaError("ffmpeg not found: install it or `pip install imageio-ffmpeg`") from e
    return imageio_ffmpeg.get_ffmpeg_exe()


# how long `check_ffmpeg` waits for each of its two calls (each takes ~0.01 s): a program that hangs was
# waited for 60 s, then said to "not run"
CHECK_TIMEOUT = 10.0
# the check's real work: a 2x2 grey frame from stdin, scaled and written as the rgb24 frames that video
# decoding reads (extract.video), 4x4x3 bytes; the rawvideo demuxer, not lavfi's test sources, which a
# build without libavdevice lacks
PROBE = ["-v", "error", "-f", "rawvideo", "-pix_fmt", "gray", "-s", "2x2", "-i", "pipe:0",
         "-vf", "scale=4:4", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"]
PROBE_FRAME, PROBE_BYTES = bytes([0, 64, 128, 255]), 4 * 4 * 3


def kill_group(proc: subprocess.Popen) -> None:
    """Kill `proc`'s process group (it leads one: start_new_session) and reap it; its pipes closed. (Before
    it is reaped its pid, the group's id, cannot be another process's.)"""
    import signal

    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
    proc.wait()
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()


def check_ffmpeg() -> None:
    """MediaError unless the ffmpeg binary runs and works: `-version` says ffmpeg, and a tiny frame is
    converted (`PROBE`, ~0.01 s). A wrong $S2VT_FFMPEG or a broken install is one line before any video,
    not every video of a batch failed (and a changed video's old features removed for a failure that was
    not its file's)."""
    exe = ffmpeg_exe()
    where = " ($S2VT_FFMPEG)" if os.environ.get("S2VT_FFMPEG") else ""
    if os.path.isdir(exe):  # (running it says only "Permission denied")
        raise MediaError(f"ffmpeg {exe}{where} is a folder, not a program")

    def call(args: list[str], what: str, stdin: bytes = b"") -> subprocess.CompletedProcess:
        # (in a session of its own, the whole of which is killed if it hangs: a script's children too,
        # `sleep 100` left running, orphaned, when subprocess.run killed the script alone)
        try:
            proc = subprocess.Popen([exe, "-hide_banner", *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, start_new_session=True)
        except OSError as e:
            raise MediaError(f"ffmpeg {exe}{where} does not run: {e.strerror or e}") from None
        try:
            out, err = proc.communicate(stdin, timeout=CHECK_TIMEOUT)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            raise MediaError(f"ffmpeg {exe}{where} did not answer: {what} took over {CHECK_TIMEOUT:g} s") from None
        except BaseException:  # (Ctrl-C while it runs)
            kill_group(proc)
            raise
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    proc = call(["-version"], "`-version`")
    if proc.returncode != 0:
        raise MediaError(f"ffmpeg {exe}{where} does not run: `-version` exited with {proc.returncode}")
    # (a program that runs and is no ffmpeg, $S2VT_FFMPEG=/bin/true: every video would fail as unreadable;
    # every ffmpeg build's `-version` starts so)
    if not proc.stdout.startswith(b"ffmpeg version"):
        raise MediaError(f"ffmpeg {exe}{where} is not ffmpeg: its `-version` does not start with 'ffmpeg version'")
    # (a program that only says so, or an ffmpeg that cannot decode and convert a frame)
    proc = call(PROBE, "converting a 2x2 test frame", PROBE_FRAME)
    if proc.returncode != 0 or len(proc.stdout) != PROBE_BYTES:
        why = last_error_line(proc.stderr) if proc.returncode != 0 and proc.stderr.strip() else \
            f"exited with {proc.returncode}" if proc.returncode != 0 else \
            f"wrote {len(proc.stdout)} bytes, not {PROBE_BYTES}"
        raise MediaError(f"ffmpeg {exe}{where} does not work: converting a 2x2 test frame failed ({why})")


BACKGROUND_NICE = 10
# the ffmpeg processes started (those still running: `stop_ffmpeg` ends them), and how later ones start
_started: weakref.WeakSet = weakref.WeakSet()
_starting = threading.Lock()
_mode = {"own_session": False, "stopped": False}


def ffmpeg_in_own_session() -> None:
    """Start each later ffmpeg in a session of its own (s2vt serve): a Ctrl-C at the terminal reaches the
    server alone, whose first Ctrl-C lets the captions in progress finish (ffmpeg, in the terminal's process
    group, quit on it: the video being decoded failed as unreadable)."""
    _mode["own_session"] = True


def stop_ffmpeg() -> None:
    """Kill the ffmpeg processes running and refuse later ones (MediaError): a server's forced stop (its
    second Ctrl-C), whose captions in progress then end at once, not when their videos are decoded."""
    with _starting:
        _mode["stopped"] = True
        for proc in list(_started):
            if proc.poll() is None:
                proc.kill()


def ffmpeg_path(path: str | os.PathLike) -> str:
    """`path` as ffmpeg must be given it to read (or write) that file and nothing else: `file:` and the
    absolute path, which ffmpeg takes literally (colons, `?`, `%` included). A bare name holding a colon
    is a URL to ffmpeg: `file:x.mp4` was read from x.mp4 (another video's features, silently), and
    `2024-05-01T10:30:00.mp4` failed with 'Protocol not found'. Every file path handed to ffmpeg goes
    through here."""
    return "file:" + os.path.abspath(os.fsdecode(path))


def ffmpeg_cmd(args: Sequence[str], background: bool = False) -> list[str]:
    """The argv for one quiet, non-interactive ffmpeg call (`background`: one decoding thread)."""
    threads = ["-threads", "1", "-filter_threads", "1"] if background else []
    return [ffmpeg_exe(), "-hide_banner", "-nostdin", *threads, *args]


def start_ffmpeg(args: Sequence[str], background: bool = False) -> subprocess.Popen:
    """Start ffmpeg with stdout and stderr piped.

    `background` is for decoding ahead of a network on the same cores: one thread, and a
    lower priority, so ffmpeg fills the gaps the network leaves instead of stalling its
    threads (docs/benchmarks.md, "Measurements behind choices in the code").
    """
    with _starting:
        if _mode["stopped"]:
            raise MediaError("ffmpeg not started: the server is stopping")
        proc = subprocess.Popen(ffmpeg_cmd(args, background), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=_mode["own_session"])
        _started.add(proc)
    if background and hasattr(os, "setpriority"):
        try:
            os.setpriority(os.PRIO_PROCESS, proc.pid, BACKGROUND_NICE)
        except OSError:  # already exited, or not permitted: it only runs at normal priority
            pass
    return proc


def run_ffmpeg(args: Sequence[str], timeout: float | None = None,
               background: bool = False) -> subprocess.CompletedProcess:
    """Run ffmpeg to completion, capturing stdout (bytes) and stderr."""
    with start_ffmpeg(args, background) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


# ffmpeg's own threads reporting that a stage failed, with an error code it has no words for (a truncated
# VP8 .ivf: "[dec:vp8 @ 0x...] Terminating thread with return code -1145393733 (Error number -1145393733
# occurred)", the code of its "Decode error rate 1 exceeds maximum 0.666667"): its internals, not a reason
_INTERNAL = re.compile(r"(Terminating thread|Task finished) with (return|error) code|Error number -?\d+ occurred|"
                       r"Decode error rate [\d.]+ exceeds maximum")
_TAGS = re.compile(r"^(\[[^\]]* @ 0x[0-9a-fA-F]+\] *)+")  # ffmpeg's "[dec:vp8 @ 0x55d2b57bfa80] " before a line
CORRUPT = "cut short or corrupt: its frames fail to decode"
# an MP4 without its index (moov, which ffmpeg and most encoders write last): what `probe` says of it
CUT_BEFORE_INDEX = "the file looks cut short: its index (moov) is missing"


def last_error_line(stderr: bytes) -> str:
    """The most telling line of ffmpeg's stderr, for a one-line error message, without ffmpeg's
    "[context @ 0x...]" tags; a decoder that ffmpeg's threads report failed (`_INTERNAL`, from "[dec:") is
    said as what it means for the file (`CORRUPT`), not as the decoder's last complaint."""
    lines = [ln.strip() for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    if any(_INTERNAL.search(ln) and "[dec:" in ln for ln in lines):
        return CORRUPT
    for ln in reversed(lines):
        if not _INTERNAL.search(ln) and not ln.startswith(("Input #", "Stream #", "Duration", "Metadata",
                                                           "Side data")):
            return _TAGS.sub("", ln)[:300] or ln[:300]
    return "ffmpeg failed"
