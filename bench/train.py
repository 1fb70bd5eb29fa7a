"""Training throughput: the engine (DataLoader over the feature store) vs a plain PyTorch loop.

Synthetic store with MSR-VTT-like shapes (resnet152 40x2048, c3d 8x4096, vggish 15x128), or with
`--case mlds` the MLDS/MSVD release's (one CNN modality, 80x4096 frames), batch 64 (video, caption)
pairs, the caption recipe's model (its hidden width, RECIPES in s2vt/config.py). The plain loop feeds
the same model the same batches from tensors already in memory, so the ratio shows what the engine's
data path costs.
Run: python bench/train.py [--case msrvtt|mlds] [--videos 256] [--repeats 3]
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import at_least, bench_main, bench_parser, cpu_name  # noqa: E402

from s2vt.config import RECIPES  # noqa: E402
from s2vt.data import CaptionGroups, VideoDataset, collate  # noqa: E402
from s2vt.engine import TrainConfig, prepare, train  # noqa: E402
from s2vt.model import ModelConfig, S2VT, caption_loss, tag_loss  # noqa: E402
from s2vt.synthetic import make_store  # noqa: E402

CASES = {"msrvtt": {"resnet152": (40, 2048), "c3d": (8, 4096), "vggish": (15, 128)},
         "mlds": {"cnn": (80, 4096)}}


def engine_rate(manifest: Path, store: Path, out: Path, batch: int) -> float:
    """samples/s of one engine epoch (training loop only, as its metrics.csv reports)."""
    train(TrainConfig.of(str(manifest), str(store), str(out), epochs=1, batch_size=batch, min_count=1, quiet=True))
    import csv
    with open(out / "metrics.csv") as f:
        return float(next(csv.DictReader(f))["samples_per_s"])


def plain_rate(manifest: Path, store: Path, batch: int, shapes: dict) -> float:
    """samples/s of a bare loop: same model and loss, batches pre-collated in memory."""
    cfg = TrainConfig.of(str(manifest), str(store), "unused", min_count=1)
    splits, fs, modalities, vocab, labels = prepare(cfg)
    ds = VideoDataset(splits["train"], fs, modalities, vocab, labels, cfg.model.max_len, 0, cfg.per_caption)
    batches = [collate([ds[j] for j in b]) for b in CaptionGroups(ds, batch, cfg.per_video, 0)]
    torch.manual_seed(0)
    model = S2VT(ModelConfig.former({m: d for m, (_, d) in shapes.items()}, len(vocab), len(labels.names),
                                    enc_len=cfg.model.enc_len, context=cfg.model.context,
                                    attention=cfg.model.attention, hidden=RECIPES["captions"]["hidden"]))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    t0, n = time.time(), 0
    for b in batches:
        logits, tags = model(b["feats"], b["lengths"], b["words"][:, :-1], 0.0, b["video_index"])
        loss = caption_loss(logits, b["words"][:, 1:], 0) + tag_loss(tags, b["tag"], False)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        n += len(b["video_id"])
    return n / (time.time() - t0)


def main() -> None:
    p = bench_parser(__doc__)
    p.add_argument("--case", choices=sorted(CASES), default="msrvtt", help="feature shapes")
    p.add_argument("--videos", type=at_least(1), default=256)
    p.add_argument("--batch", type=at_least(1), default=64)
    p.add_argument("--repeats", type=at_least(1), default=3)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        manifest, store = make_store(Path(tmp) / "syn", videos=args.videos, shapes=CASES[args.case])
        eng = [engine_rate(manifest, store, Path(tmp) / f"run{i}", args.batch) for i in range(args.repeats)]
        plain = [plain_rate(manifest, store, args.batch, CASES[args.case]) for _ in range(args.repeats)]
    e, b = statistics.median(eng), statistics.median(plain)
    print(cpu_name())
    print(f"{'loop':<28}{'samples/s (median of ' + str(args.repeats) + ')':>30}")
    print(f"{'plain PyTorch, in memory':<28}{b:>30.1f}")
    print(f"{'s2vt engine (store+loader)':<28}{e:>30.1f}")
    print(f"RESULT train_throughput ratio={e / b:.2f} (engine / plain loop: the overhead, no target)")


if __name__ == "__main__":
    bench_main(main)
