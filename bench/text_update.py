"""LIC2022's wide text path at scale: one training step of its [text tokens, labels] table, dense Adam (every
row read and written each step) vs s2vt's LazyAdam over sparse gradients (the rows the batch's tokens name),
the same batches in one run. A step: the table's forward over a batch of videos' title/ASR/OCR bags (a third of
--tokens-a-video each), backward, gradient clipping, the optimiser. RESULT ratio: dense seconds a step / lazy
seconds a step (below 1 on small tables, where a dense step is cheap: docs/benchmarks.md).
The default shape is the wide path of 100k generated LIC2022 videos (docs/benchmarks.md, "Data handling at
scale"); the table, its gradient and Adam's two moments are 4 copies of tokens x labels float32 values.
Run: python bench/text_update.py [--tokens 53718] [--labels 3573] [--tokens-a-video 150] [--steps 5]
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import at_least, bench_main, bench_parser, cpu_name, median_time, table  # noqa: E402

from s2vt.epoch import LazyAdam  # noqa: E402
from s2vt.errors import UserError  # noqa: E402
from s2vt.text import FIELDS, sparse_bag  # noqa: E402

BATCH = 64  # videos a step, train.py's batch size


def batch(tokens: int, per_video: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
    """EmbeddingBag input of BATCH videos: ids Zipf-like (a few tokens in most videos, most in few), TF-IDF-like
    weights, one bag per (video, field)."""
    per_bag = per_video // len(FIELDS)
    ranks = torch.rand(BATCH * len(FIELDS) * per_bag, generator=generator).pow(3)  # (skewed towards the common ids)
    ids = 1 + (ranks * (tokens - 1)).long()
    weights = torch.rand(len(ids), generator=generator)
    return ids, weights, torch.arange(0, len(ids), per_bag)


def step_seconds(bag: torch.nn.EmbeddingBag, optim: torch.optim.Optimizer, batches: list, steps: int) -> float:
    """Median seconds of a step over `steps` batches, after one untimed step (Adam's state is made there)."""
    it = iter(batches)

    def step() -> None:
        ids, weights, offsets = next(it)
        optim.zero_grad(set_to_none=True)
        logits = bag(ids, offsets, per_sample_weights=weights).view(BATCH, len(FIELDS), -1).sum(1)
        torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits)).backward()
        torch.nn.utils.clip_grad_norm_(bag.parameters(), 1.0)
        optim.step()
    step()
    return median_time(step, steps)[0]


def main() -> None:
    p = bench_parser(__doc__)
    p.add_argument("--tokens", type=at_least(2), default=53_718)
    p.add_argument("--labels", type=at_least(1), default=3_573)
    p.add_argument("--tokens-a-video", type=at_least(len(FIELDS)), default=150)
    p.add_argument("--steps", type=at_least(1), default=5)
    args = p.parse_args()
    g = torch.Generator().manual_seed(0)
    batches = [batch(args.tokens, args.tokens_a_video, g) for _ in range(args.steps + 1)]
    rows, secs = [], {}
    for name in ("dense Adam", "LazyAdam"):
        try:
            bag = sparse_bag(args.tokens, args.labels)
        except RuntimeError as e:  # (torch's "can't allocate memory")
            raise UserError(f"a {args.tokens:,} x {args.labels:,} table does not fit in this machine's memory "
                            f"({str(e).splitlines()[0]}): pass smaller --tokens or --labels") from None
        bag.sparse = name == "LazyAdam"
        optim = (LazyAdam if bag.sparse else torch.optim.Adam)(bag.parameters(), lr=0.01)
        secs[name] = step_seconds(bag, optim, batches, args.steps)
        rows.append([name, f"{secs[name]:.3f}", f"{BATCH / secs[name]:.0f}"])
        del bag, optim
    print(f"CPU: {cpu_name()}, torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"table {args.tokens:,} x {args.labels:,}, {BATCH} videos x {args.tokens_a_video} tokens a step")
    print(table(["optimiser", "s/step", "videos/s"], rows))
    print(f"RESULT ratio {secs['dense Adam'] / secs['LazyAdam']:.1f}")


if __name__ == "__main__":
    bench_main(main)
