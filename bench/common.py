"""Shared helpers for the benchmarks: test videos, timing, tables."""
from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from extract.ffmpeg import ffmpeg_cmd  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def make_videos(folder: Path, count: int, seconds: float, size: str = "640x360", rate: int = 25) -> list[Path]:
    """`count` testsrc2 + sine videos (H.264/AAC), reused if already there."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(count):
        p = folder / f"bench_{seconds:g}s_{size}_{i:02d}.mp4"
        if not p.exists():
            subprocess.run(ffmpeg_cmd(["-loglevel", "error", "-y", "-f", "lavfi", "-i",
                                       f"testsrc2=size={size}:rate={rate}:duration={seconds}",
                                       "-f", "lavfi", "-i", f"sine=frequency={300 + 50 * i}:duration={seconds}",
                                       "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
                                       "-c:a", "aac", "-shortest", str(p)]), check=True)
        out.append(p)
    return out


def fresh_int8_cache() -> str:
    """Point the int8 calibration cache at a new temp folder, so a run measures calibration too."""
    import os
    import tempfile
    os.environ["S2VT_CACHE_DIR"] = tempfile.mkdtemp(prefix="s2vt-bench-int8-")
    return os.environ["S2VT_CACHE_DIR"]


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
