"""Extraction cost per video as videos get longer (5 s to 600 s): one decode pass per video,
so the cost grows with decoding alone while the networks see the same 40 frames / 8 clips.
Run: python bench/scaling.py [--lengths 5,30,120,600]
"""
from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

from common import cpu_name, make_videos, table

from extract.pipeline import ExtractConfig, Extractor

warnings.filterwarnings("ignore")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lengths", default="5,30,120,600")
    p.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "s2vt-bench-videos"))
    args = p.parse_args()
    ex = Extractor(ExtractConfig(weights="random"))
    ex.extract(str(make_videos(Path(args.cache), 1, 5)[0]))  # warm-up
    rows, res = [], {}
    for secs in (float(s) for s in args.lengths.split(",")):
        video = str(make_videos(Path(args.cache), 1, secs)[0])
        t0 = time.perf_counter()
        d = ex.decode("v", video)
        t1 = time.perf_counter()
        ex.features([d])
        t2 = time.perf_counter()
        res[secs] = (t1 - t0, t2 - t1)
        rows.append([f"{secs:g}", f"{t1 - t0:.2f}", f"{t2 - t1:.2f}", f"{t2 - t0:.2f}"])
    print(f"640x360, 25 fps, all three modalities (40 frames, 8 clips, audio); {cpu_name()}")
    print(table(["video seconds", "decode s", "networks s", "total s"], rows))
    lo, hi = min(res), max(res)
    extra_total = sum(res[hi]) - sum(res[lo])
    extra_decode = res[hi][0] - res[lo][0]
    print(f"from {lo:g} s to {hi:g} s: +{extra_total:.2f} s in all, of which decoding +{extra_decode:.2f} s")
    print(f"RESULT extract_scaling ratio={extra_decode / extra_total if extra_total else 1:.2f} target=1")


if __name__ == "__main__":
    main()
