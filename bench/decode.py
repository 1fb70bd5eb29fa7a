"""Batched beam search (64 videos x beam 5 as one tensor batch) vs a per-video loop of the same search;
and what consensus reranking (--consensus 1) adds to the batched search, with a caption memory of
MSR-VTT's size (6,513 training videos x 20 captions of 6-12 words; random words, a Zipf-like draw).

The original S2VT model (`ModelConfig.former`: hidden 512, no attention, no mean-feature context; not today's
caption recipe, hidden 1,024 with attention), a 10k vocabulary, MSR-VTT-like inputs, max 28 words; beam search without
the anti-LM.
Run: python bench/decode.py [--videos 64] [--beam 5] [--repeats 3] [--memory-videos 6513]
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import at_least, bench_main, bench_parser, cpu_name, median_time  # noqa: E402

from s2vt.consensus import CaptionMemory  # noqa: E402
from s2vt.decode import DecodeConfig, beam_search, decode, map_states  # noqa: E402
from s2vt.model import ModelConfig, S2VT  # noqa: E402

SHAPES = {"resnet152": (40, 2048), "c3d": (8, 4096), "vggish": (15, 128)}


def main() -> None:
    p = bench_parser(__doc__)
    p.add_argument("--videos", type=at_least(1), default=64)
    p.add_argument("--beam", type=at_least(1), default=5)
    p.add_argument("--vocab", type=at_least(8), default=10000)
    p.add_argument("--repeats", type=at_least(1), default=3)
    p.add_argument("--memory-videos", type=at_least(1), default=6513)
    args = p.parse_args()
    torch.manual_seed(0)
    model = S2VT(ModelConfig.former({m: d for m, (_, d) in SHAPES.items()}, args.vocab, 20)).eval()
    feats = {m: torch.randn(args.videos, t, d) for m, (t, d) in SHAPES.items()}
    lengths = {m: torch.full((args.videos,), t) for m, (t, _) in SHAPES.items()}
    with torch.no_grad():
        _, states = model.encode(feats, lengths)

    def batched():
        return beam_search(model, states, 1, 2, args.beam, 28)[0]

    def per_video():
        outs = []
        for i in range(args.videos):
            one = map_states(states, lambda s: s[:, i:i + 1])  # noqa: B023  (used at once)
            outs.append(beam_search(model, one, 1, 2, args.beam, 28)[0])
        return outs

    batched()  # warm-up: the first call pays one-off allocations, which biased `--repeats 1`
    b = median_time(batched, args.repeats)[0]
    loop = median_time(per_video, args.repeats)[0]
    print(cpu_name())
    print(f"{'decoder (' + str(args.videos) + ' videos x beam ' + str(args.beam) + ')':<36}{'seconds (median)':>18}"
          f"{'videos/s':>12}")
    print(f"{'per-video loop of beam_search':<36}{loop:>18.3f}{args.videos / loop:>12.1f}")
    print(f"{'batched beam_search':<36}{b:>18.3f}{args.videos / b:>12.1f}")
    print(f"RESULT decode_beam ratio={loop / b:.2f} target=10")

    # consensus reranking: the memory's index is built on first use (timed apart), then each batch
    # reranks its n-best against each video's nearest training video's captions
    gen = torch.Generator().manual_seed(1)
    zipf = 1.0 / torch.arange(1, args.vocab - 3).float()
    caps = [[(torch.multinomial(zipf, 6 + i % 7, generator=gen) + 3).tolist() for i in range(20)]
            for _ in range(args.memory_videos)]
    memory = CaptionMemory.build(torch.randn(args.memory_videos, model.cfg.hidden), caps, 2)
    query = model.summary(feats, lengths).detach()
    cfg = DecodeConfig(beam=args.beam, anti_lm=0.0, consensus=1)
    start = time.perf_counter()
    memory._index()
    index = time.perf_counter() - start
    reranked = median_time(lambda: decode(model, states, 1, 2, cfg, 28, memory=memory, query=query), args.repeats)[0]
    print(f"{'batched beam_search + consensus 1':<36}{reranked:>18.3f}{args.videos / reranked:>12.1f}")
    print(f"memory of {args.memory_videos} videos x 20 captions: index built on first use in {index:.2f} s")
    print(f"RESULT decode_consensus ratio={reranked / b:.2f} (time with reranking / without)")


if __name__ == "__main__":
    bench_main(main)
