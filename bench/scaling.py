"""Extraction cost per video as videos get longer (5 s to 600 s): one decode pass per video, so
ResNet-152 and C3D cost the same at any length (40 frames, 8 clips); decoding grows with the
length, and so does VGGish, which embeds every 0.96 s of audio. RESULT ratio: ResNet+C3D time
at the shortest length / at the longest (1 = flat).
Run: python bench/scaling.py [--lengths 5,30,120,600] [--repeats 3]
"""
from __future__ import annotations

import statistics
import tempfile
import time
import warnings
from pathlib import Path

from common import at_least, bench_main, bench_parser, cpu_name, make_videos, numbers_at_least, table

from extract.pipeline import ExtractConfig, Extractor

warnings.filterwarnings("ignore")


def main() -> None:
    p = bench_parser(__doc__)
    p.add_argument("--lengths", type=numbers_at_least(1), default="5,30,120,600")
    p.add_argument("--repeats", type=at_least(1), default=3)
    p.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "s2vt-bench-videos"))
    args = p.parse_args()
    ex = Extractor(ExtractConfig(weights="random"))
    ex.extract(str(make_videos(Path(args.cache), 1, 5)[0]))  # warm-up
    rows, res = [], {}
    for secs in args.lengths:
        video = str(make_videos(Path(args.cache), 1, secs)[0])
        runs = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            d = ex.decode("v", video)
            t1 = time.perf_counter()
            for m in ("resnet152", "c3d"):
                ex.backbones[m].embed(d.inputs[m])
            t2 = time.perf_counter()
            ex.backbones["vggish"].embed(d.inputs["vggish"])
            t3 = time.perf_counter()
            runs.append((t1 - t0, t2 - t1, t3 - t2))
        res[secs] = tuple(statistics.median(x) for x in zip(*runs))
        rows.append([f"{secs:g}", *(f"{x:.2f}" for x in res[secs]), f"{sum(res[secs]):.2f}"])
    print(f"640x360, 25 fps, all three modalities (40 frames, 8 clips, audio); {cpu_name()}; "
          f"median of {args.repeats} per length")
    print(table(["video seconds", "decode s (frames+audio)", "ResNet+C3D s", "VGGish s", "total s"], rows))
    lo, hi = min(res), max(res)
    print(f"from {lo:g} s to {hi:g} s: decoding +{res[hi][0] - res[lo][0]:.2f} s, ResNet+C3D "
          f"{res[hi][1] - res[lo][1]:+.2f} s (same 40 frames and 8 clips), VGGish +{res[hi][2] - res[lo][2]:.2f} s "
          "(one 128-d row per 0.96 s of audio, by design)")
    print(f"RESULT extract_scaling ratio={res[lo][1] / res[hi][1]:.2f} target=1")


if __name__ == "__main__":
    bench_main(main)
