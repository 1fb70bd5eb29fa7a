"""caption.py latency on one 10-s 640x360 video with all three modalities: warm and cold.

Warm: backbones and model already loaded (and run once), one video from file to caption and tags.
Cold: `python caption.py VIDEO --checkpoint CKPT` from process start to answer.
The checkpoint is a randomly initialised S2VT of the caption recipe's width (RECIPES, s2vt/config.py;
10k words, 20 tags) with
the default extraction settings (40 frames, 8 C3D clips, 224 px, seeded random backbones);
an untrained decoder runs to the full 28 words, so decoding time is the worst case.
Run: python bench/caption.py [--repeats 5]
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch

from common import REPO, at_least, bench_main, bench_parser, cpu_name, fresh_int8_cache, make_videos, table, timed

from extract.media import decode_media
from extract.pipeline import ExtractConfig, Extractor
from s2vt.data import Labels
from s2vt.checkpoint import has_captions, load_checkpoint, save_checkpoint
from s2vt.config import RECIPES
from s2vt.model import ModelConfig, S2VT
from s2vt.predict import answer
from s2vt.vocab import SPECIALS, Vocab

warnings.filterwarnings("ignore")


def make_checkpoint(path: Path) -> None:
    ex = Extractor(ExtractConfig(weights="random"))
    vocab = Vocab([*SPECIALS, *(f"w{i}" for i in range(10000 - 4))])
    labels = Labels([f"tag{i}" for i in range(20)], multilabel=False)
    torch.manual_seed(0)
    model = S2VT(ModelConfig.former({m: b.dim for m, b in ex.backbones.items()}, len(vocab), 20,
                                    hidden=RECIPES["captions"]["hidden"]))
    save_checkpoint(path, model, vocab, labels, ex.meta(), 0, {}, has_captions=True)


def run_child(args: list[str]) -> tuple[float, float]:
    """(wall seconds, peak memory MiB) of one child process; raises if it fails."""
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=err)
        # wait4: this child's own peak (RUSAGE_CHILDREN mixes all children); a child starts
        # from its parent's size, so the children run before this process loads any model
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        assert proc.returncode == 0, err.read().decode()[-2000:]
    return seconds, usage.ru_maxrss / 1024


def main() -> None:
    p = bench_parser(__doc__)
    p.add_argument("--repeats", type=at_least(1), default=5)
    p.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "s2vt-bench-videos"))
    p.add_argument("--write-checkpoint", help=argparse.SUPPRESS)  # (the first-use step, in a child)
    args = p.parse_args()
    if args.write_checkpoint:
        return make_checkpoint(Path(args.write_checkpoint))
    video = str(make_videos(Path(args.cache), 1, 10)[0])
    fresh_int8_cache()  # the first use calibrates; the cold runs and the warm process read the cache
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / "bench.pt"
        t_first, _ = run_child([sys.executable, __file__, "--write-checkpoint", str(ckpt)])
        cold, peaks = zip(*(run_child([sys.executable, str(REPO / "caption.py"), video, "--checkpoint", str(ckpt)])
                            for _ in range(args.repeats)))
        peak_child = max(peaks)

        t0 = time.perf_counter()
        model, vocab, labels, meta = load_checkpoint(ckpt)
        captions = has_captions(meta)
        ex = Extractor(ExtractConfig.from_meta(meta["extract"], sorted(model.cfg.modalities)))
        t_load = time.perf_counter() - t0
        answer(model, vocab, labels, ex.extract(video), beam=5, with_captions=captions)  # one untimed run: first-call allocations
        warm, parts = [], []
        for _ in range(args.repeats):
            # caption.py's path; the decoding alone is timed again for the breakdown
            t_decode, _ = timed(lambda: decode_media(video, ex.cfg.modalities, ex.cfg.frames, ex.cfg.clips,
                                                     ex.cfg.short_side))
            t0 = time.perf_counter()
            feats = ex.extract(video)
            t2 = time.perf_counter()
            t1 = t0 + t_decode
            answer(model, vocab, labels, feats, beam=5, with_captions=captions)
            t3 = time.perf_counter()
            warm.append(t3 - t0)
            parts.append((t1 - t0, t2 - t1, t3 - t2))
    peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    w, c = statistics.median(warm), statistics.median(cold)
    d, n, m = (statistics.median(x) for x in zip(*parts))
    prec = "/".join(f"{m} {b.precision}" for m, b in ex.backbones.items())
    print(f"one 10-s 640x360 video, resnet152 (40 frames) + c3d (8 clips) + vggish, beam 5 ({prec}); {cpu_name()}, "
          f"{torch.get_num_threads()} threads; median of {args.repeats}")
    print(table(["measure", "seconds", "target"], [
        ["warm: decode (ffmpeg frames + audio)", f"{d:.2f}", ""],
        ["warm: backbones (input preparation + networks)", f"{n:.2f}", ""],
        ["warm: S2VT + beam search", f"{m:.2f}", ""],
        ["warm total", f"{w:.2f}", "3"],
        ["cold: process start to answer", f"{c:.2f}", "10"],
        ["(model + backbone loading, in process)", f"{t_load:.2f}", ""],
        ["(first use on a machine: int8 calibration, once; a process)", f"{t_first:.2f}", ""],
    ]))
    print(f"peak memory: {peak_child:.0f} MiB (caption.py process), {peak_self:.0f} MiB (this process, warm)")
    print(f"RESULT caption_warm seconds={w:.2f} target=3")
    print(f"RESULT caption_cold seconds={c:.2f} target=10")


if __name__ == "__main__":
    bench_main(main)
