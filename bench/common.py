"""Shared helpers for the benchmarks: test videos, timing, tables, options and the way a bench ends."""
from __future__ import annotations

import argparse
import atexit
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from extract.ffmpeg import ffmpeg_cmd  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def make_videos(folder: Path, count: int, seconds: float, size: str = "640x360", rate: int = 25) -> list[Path]:
    """`count` testsrc2 + sine videos (H.264/AAC), reused if already there. Each is rendered under a temp name
    and renamed when whole: a render stopped by Ctrl-C left a cut file that every later run reused, and failed on."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(count):
        p = folder / f"bench_{seconds:g}s_{size}_{i:02d}.mp4"
        if not p.exists():
            part = p.with_name(f".{p.stem}.{os.getpid()}.part.mp4")
            try:
                subprocess.run(ffmpeg_cmd(["-loglevel", "error", "-y", "-f", "lavfi", "-i",
                                           f"testsrc2=size={size}:rate={rate}:duration={seconds}",
                                           "-f", "lavfi", "-i", f"sine=frequency={300 + 50 * i}:duration={seconds}",
                                           "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
                                           "-c:a", "aac", "-shortest", str(part)]), check=True)
                os.replace(part, p)
            finally:
                part.unlink(missing_ok=True)
        out.append(p)
    return out


def fresh_int8_cache() -> str:
    """Point the int8 calibration cache at a new temp folder, so a run measures calibration too; the folder
    (~185 MB of calibrated weights) is removed when the bench ends."""
    folder = tempfile.mkdtemp(prefix="s2vt-bench-int8-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    os.environ["S2VT_CACHE_DIR"] = folder
    return folder


def bench_parser(doc: str) -> argparse.ArgumentParser:
    """The bench's option parser; --help shows its whole docstring as written (its first line alone stopped
    mid-sentence in several benches)."""
    return argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)


def at_least(minimum: float, kind: type = int):
    """An argparse type: a `kind` number at least `minimum`, a smaller one refused by argparse in one line, exit 2
    (`--repeats 0` was a traceback after minutes of work)."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not {'an integer' if kind is int else 'a number'}: {text!r}") from None
        if not value >= minimum:  # (NaN too)
            raise argparse.ArgumentTypeError(f"must be at least {minimum:g}, not {text}")
        if value == float("inf"):  # (ffmpeg could not render an infinite video: its traceback; trial 96)
            raise argparse.ArgumentTypeError(f"must be a finite number, not {text}")
        return value
    return parse


def numbers_at_least(minimum: float):
    """An argparse type: a comma-separated list of numbers each at least `minimum` (`--lengths 5,30`)."""
    one = at_least(minimum, float)

    def parse(text: str) -> list[float]:
        return [one(part.strip()) for part in text.split(",")]
    return parse


def bench_main(main) -> None:
    """A bench's entry point: `main`'s exit code; a user's mistake an s2vt check finds (a bad setting, data that
    is not there) is its one `error:` line, exit 2, and Ctrl-C one line, exit 130, not a traceback."""
    from s2vt.errors import UserError
    try:
        code = main()
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(code or 0)


def timed(fn) -> tuple[float, object]:
    """Wall time of one call, and its result."""
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


def median_time(fn, repeats: int) -> tuple[float, object]:
    """Median wall time of `repeats` calls, and the last call's result."""
    times, result = [], None
    for _ in range(repeats):
        t, result = timed(fn)
        times.append(t)
    return statistics.median(times), result


def table(header: list[str], rows: list[list]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    fmt = "  ".join(f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths))
    return "\n".join([fmt.format(*header), fmt.format(*["-" * w for w in widths])] +
                     [fmt.format(*r) for r in rows])


def cpu_name() -> str:
    """CPU model, family/model numbers and the instruction sets that decide int8/bf16 speed.

    Two machines can share a model name ("AMD EPYC") and differ 4x in int8 speed, so the
    tables say which one they ran on.
    """
    from extract.backbones import cpu_supports
    info = {}
    try:
        for line in open("/proc/cpuinfo"):
            key, _, value = line.partition(":")
            info.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    name = info.get("model name", "unknown CPU")
    if "cpu family" in info:
        name += f" (family {info['cpu family']} model {info.get('model', '?')})"
    isa = [f for f in ("avx2", "avx512", "vnni", "avx512_bf16", "amx_tile") if cpu_supports(f)]
    return f"{name}, {' '.join(isa) or 'no AVX2'}"
