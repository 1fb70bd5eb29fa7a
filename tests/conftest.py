"""Shared fixtures: small videos generated with ffmpeg (lavfi), and the optional real sample data."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from extract.ffmpeg import ffmpeg_cmd

REPO = Path(__file__).resolve().parents[1]
# pytest-xdist's workers, one per core (pytest.ini's -n): torch's own threads beside them only crowd the cores, as
# do the commands the tests start (they inherit this). Set before torch loads: no test module is imported yet.
if "PYTEST_XDIST_WORKER" in os.environ:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
# int8 calibration caches go to a per-run folder, never the user's torch hub cache; removed when the run ends (each
# run left its own, up to 300 MB: 135 of them filled 4 GB of /tmp; trial 65)
_CACHE = None if "S2VT_CACHE_DIR" in os.environ else tempfile.mkdtemp(prefix="s2vt-test-cache-")
if _CACHE is not None:
    os.environ["S2VT_CACHE_DIR"] = _CACHE


def pytest_xdist_auto_num_workers(config):
    """pytest.ini's `-n auto`: a worker per core the process may use, at most two (the number the suite is run and
    timed with; a test trains, or starts commands that do, in each)."""
    return max(1, min(2, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))


def pytest_sessionfinish(session, exitstatus):
    if _CACHE is not None:
        shutil.rmtree(_CACHE, ignore_errors=True)
# the Ctrl-C tests need SIGINT delivered: a suite started as a background job (`nohup ... &` from a script, as
# some CI runners do) inherits it ignored, and so did every command the tests start (17 failed so, though
# nothing was wrong). Python's own handler here; the commands started get the default one at exec.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def make_video(path: Path, seconds: float = 2.0, size: str = "160x120", rate: int = 25,
               vcodec: str = "libx264", audio: str | None = "sine=frequency=440",
               acodec: str = "aac", extra: list[str] | None = None, video_src: str | None = None) -> Path:
    """Encode a lavfi test video (testsrc2 + an audio source) to `path`."""
    src = video_src or f"testsrc2=size={size}:rate={rate}"
    args = ["-loglevel", "error", "-y", "-f", "lavfi", "-i", f"{src}:duration={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"{audio}:duration={seconds}:sample_rate=44100"]
    args += ["-c:v", vcodec, "-pix_fmt", "yuv420p"]
    if vcodec == "libx264":
        args += ["-preset", "ultrafast"]
    if audio:
        args += ["-c:a", acodec]
    args += (extra or []) + [str(path)]
    subprocess.run(ffmpeg_cmd(args), check=True, capture_output=True)
    return path


def piped_avi(path: Path, seconds: float = 4.0, size: str = "64x48") -> Path:
    """An AVI as ffmpeg writes it to a pipe (`-f avi pipe:1`): its header's sizes never filled in, so ffmpeg
    guesses its duration from the file's size (a 4 s clip "lasts" some hundreds of seconds)."""
    with open(path, "wb") as f:
        subprocess.run(ffmpeg_cmd(["-loglevel", "error", "-f", "lavfi", "-i",
                                   f"testsrc2=size={size}:rate=25:duration={seconds}", "-f", "lavfi", "-i",
                                   f"sine=frequency=440:duration={seconds}:sample_rate=44100",
                                   "-c:v", "mpeg4", "-c:a", "libmp3lame", "-f", "avi", "pipe:1"]),
                       stdout=f, check=True)
    return path


@pytest.fixture(scope="session")
def videos(tmp_path_factory) -> dict[str, Path]:
    """Good videos in several codecs/containers, plus the awkward ones."""
    d = tmp_path_factory.mktemp("videos")
    out = {
        "mp4_aac": make_video(d / "mp4_aac.mp4"),
        "webm_opus": make_video(d / "webm_opus.webm", vcodec="libvpx", acodec="libopus",
                                extra=["-b:v", "200k", "-deadline", "realtime"]),
        "avi_mp3": make_video(d / "avi_mp3.avi", vcodec="mpeg4", acodec="libmp3lame"),
        "mkv_pcm": make_video(d / "mkv_pcm.mkv", acodec="pcm_s16le"),
        "mov_silent": make_video(d / "mov_silent.mov", audio=None),
        "short": make_video(d / "short.mp4", seconds=0.4),  # 10 frames < one C3D clip
    }
    rotated = make_video(d / "plain_for_rotation.mp4", seconds=1.0, size="160x96", audio=None)
    out["rotated"] = d / "rotated.mp4"
    subprocess.run(ffmpeg_cmd(["-loglevel", "error", "-y", "-display_rotation:v:0", "90", "-i", str(rotated),
                               "-c", "copy", str(out["rotated"])]), check=True, capture_output=True)
    rotated.unlink()
    return out


@pytest.fixture(scope="session")
def broken(tmp_path_factory, videos) -> dict[str, Path]:
    """Inputs that must fail cleanly."""
    d = tmp_path_factory.mktemp("broken")
    zero = d / "zero.mp4"
    zero.write_bytes(b"")
    text = d / "text.mp4"
    text.write_text("this is not a video\n" * 50)
    corrupt = d / "corrupt.mp4"
    data = videos["mp4_aac"].read_bytes()
    corrupt.write_bytes(data[: len(data) // 3])  # moov atom (at the end) is lost
    audio_only = d / "audio_only.m4a"
    subprocess.run(ffmpeg_cmd(["-loglevel", "error", "-y", "-f", "lavfi", "-i", "sine=duration=2",
                               "-c:a", "aac", str(audio_only)]), check=True, capture_output=True)
    audio_only_mp4 = d / "audio_only.mp4"
    audio_only.rename(audio_only_mp4)
    return {"zero": zero, "text": text, "corrupt": corrupt, "audio_only": audio_only_mp4}


@pytest.fixture(scope="session")
def sample_data() -> Path:
    """The real clips in $S2VT_SAMPLE_DATA (default: the project's shared data folder); skips when absent."""
    root = Path(os.environ.get("S2VT_SAMPLE_DATA", REPO.parent / "shared" / "data"))
    if not (root / "clips").is_dir():
        pytest.skip(f"sample data not found at {root} (set S2VT_SAMPLE_DATA)")
    return root


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 600):
    """Run `python -m ...`-style commands with this interpreter; returns CompletedProcess (text).
    `env`: variables to set, a None value to unset."""
    full_env = {k: v for k, v in {**os.environ, "PYTHONWARNINGS": "ignore", **(env or {})}.items() if v is not None}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd or REPO,
                          env=full_env, timeout=timeout)


# caption.py's and serve's note for a model on random backbones (every model the tests train): said once
RANDOM_NOTE = "'s features come from backbones with seeded random weights"


def video_notes(answer: dict) -> list[str]:
    """A caption.py --json answer's notes of its video: the model's note of random backbones, asserted first (every
    model the tests train has them), left out."""
    from s2vt.captioner import RANDOM_BACKBONES

    if "error" in answer:
        return answer["notes"]
    model_note, *notes = answer["notes"]
    assert model_note == f"the model's {RANDOM_BACKBONES}", answer
    return notes


def without_random_note(stderr: str) -> str:
    """`stderr` without caption.py's note of random backbones, asserted said at most once."""
    lines = stderr.splitlines(keepends=True)
    assert sum(RANDOM_NOTE in line for line in lines) <= 1, stderr
    return "".join(line for line in lines if RANDOM_NOTE not in line)


# `python -c CLOSE_STDERR ARGS...`: runs `python ARGS...` with fd 2 closed, as `2>&-` starts it (Python then has
# sys.stderr None); subprocess.DEVNULL would be an open /dev/null, not a closed stream
CLOSE_STDERR = "import os, sys; os.close(2); os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"


def run_without_stderr(how: str, *args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 600):
    """`run_cli`, stdout captured, with a stderr that takes nothing: `how` "closed" (`2>&-`) or "full" (`2>/dev/full`:
    every write to it fails, ENOSPC)."""
    full_env = {k: v for k, v in {**os.environ, "PYTHONWARNINGS": "ignore", **(env or {})}.items() if v is not None}
    argv = [sys.executable, "-c", CLOSE_STDERR, *args] if how == "closed" else [sys.executable, *args]
    with open("/dev/full" if how == "full" else os.devnull, "w") as stderr:
        return subprocess.run(argv, stdout=subprocess.PIPE, stderr=stderr, text=True, cwd=cwd or REPO, env=full_env,
                              timeout=timeout)


def free_port() -> int:
    """A TCP port free on loopback now (torchrun's rendezvous): a fixed one collided when two test
    runs shared the machine."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def small_disk(tmp_path):
    """A folder on a 256 KiB tmpfs, to run a command out of disk space (ENOSPC) for real.

    Needs the right to mount (root in CI's sandbox); skips elsewhere. Fill it first with
    `fill_disk(folder)` to leave no space at all.
    """
    import shutil
    mnt = tmp_path / "disk"
    mnt.mkdir()
    mount, umount = shutil.which("mount"), shutil.which("umount")
    if not mount or os.geteuid() != 0 or subprocess.run([mount, "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)],
                                                        capture_output=True).returncode:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        yield mnt
    finally:
        subprocess.run([umount, "-l", str(mnt)], capture_output=True)


def fill_disk(folder: Path) -> None:
    """Write filler into `folder` until its file system reports ENOSPC."""
    with open(folder / "filler", "wb", buffering=0) as f:  # unbuffered: close() has nothing left to fail on
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError:
            pass
