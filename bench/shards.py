"""Training samples/s streamed from TFRecord shards vs read from the per-video store, same data, one run.

Data: the real video-level shards in ../shared/data/yt8m (or $S2VT_SAMPLE_DATA/yt8m) when present,
else 10 generated shards of 295 videos. Split by file as README "Tags on YouTube-8M": shards 0-7
train, 8 val, 9 test. The shards are first imported (`s2vt import yt8m`, three imports into one
temp store, one manifest); then train.py runs on that manifest from the store
(`--features STORE`) and from the shards (`--features 'validate000[0-7]*.tfrecord'
--val-features 'validate0008*'`), taking turns, for each model: train.py's tag-only defaults
(s2vt/config.py RECIPES["tags"]) and a small `mlp` head (hidden 64) whose steps are cheap, so that reading the
data is a larger part of them. samples/s is train.py's own figure (metrics.csv: training items /
seconds of the training loop, validation excluded), the median over epochs and repeats. A first
row times the training loader alone (one epoch of collated batches, no model), built as train.py
builds it.
Run: python bench/shards.py [--epochs 2] [--repeats 1] [--workers 0]
"""
from __future__ import annotations

import csv
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import at_least, bench_main, bench_parser, cpu_name, table  # noqa: E402
from yt8m_import import video_shards  # noqa: E402

import torch  # noqa: E402

from s2vt.manifest import write_manifest  # noqa: E402
from s2vt import shards as streaming  # noqa: E402
from s2vt.data import CaptionGroups, VideoDataset, batches  # noqa: E402
from s2vt.config import RECIPES  # noqa: E402
from s2vt.engine import TrainConfig, prepare, train  # noqa: E402
from s2vt.yt8m import import_yt8m  # noqa: E402

# (the defaults' row named from the recipe itself: it said "moe, hidden 1024" long after they changed; trial 109)
TAGS = RECIPES["tags"]
MODELS = {f"train.py defaults ({TAGS['tag_ensemble']} x {TAGS['tag_head']}, hidden {TAGS['hidden']})": {},
          "small head (mlp, hidden 64)": {"tag_head": "mlp", "hidden": 64}}


def import_split(shards: list[Path], tmp: Path) -> tuple[Path, Path, float]:
    """Three imports (train 0-7, val 8, test 9) into one store; one manifest of them all."""
    store, entries = tmp / "store", []
    t0 = time.perf_counter()
    for split, files in (("train", shards[:8]), ("val", shards[8:9]), ("test", shards[9:])):
        entries += import_yt8m([str(s) for s in files], tmp / f"{split}.jsonl", store, split)[0]
    seconds = time.perf_counter() - t0
    write_manifest(entries, tmp / "manifest.jsonl")
    return tmp / "manifest.jsonl", store, seconds


def turns(sources: dict, repeat: int) -> list:
    """The sources in turn, the first one going first in even repeats and last in odd ones (a machine
    that warms up or gets busier favours neither)."""
    return list(sources.items())[::-1 if repeat % 2 else 1]


def loader_items_per_s(cfg: TrainConfig) -> float:
    """Items/s of one epoch of train.py's training loader for `cfg` (a store or shards), no model."""
    if streaming.is_shards(cfg.features):
        _, source, _, _, labels = streaming.prepare(cfg, True)  # (one process: rank 0 of 1, as its stream)
        loader = source.stream(cfg, labels, 0, 1).batches(torch.device("cpu"))
    else:
        splits, store, modalities, vocab, labels = prepare(cfg)
        ds = VideoDataset(splits["train"], store, modalities, vocab, labels)
        loader = batches(ds, cfg.batch_size, CaptionGroups(ds, cfg.batch_size, 1, cfg.seed))
    t0 = time.perf_counter()
    n = sum(len(b["video_id"]) for b in loader)
    return n / (time.perf_counter() - t0)


def samples_per_s(run: Path) -> list[float]:
    with open(run / "metrics.csv") as f:
        return [float(r["samples_per_s"]) for r in csv.DictReader(f)]


def main() -> None:
    p = bench_parser(__doc__)
    p.add_argument("--epochs", type=at_least(1), default=2)
    p.add_argument("--repeats", type=at_least(1), default=1)
    p.add_argument("--workers", type=at_least(0), default=0, help="train.py --workers for the shard runs")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        shards, where = video_shards(tmp)
        manifest, store, import_s = import_split(shards, tmp)
        sources = {"store": {"features": str(store)},
                   "shards": {"features": str(shards[0].parent / shards[0].name.replace("0000.", "000[0-7].")),
                              "val_features": str(shards[8]), "workers": args.workers}}
        rows = []
        speed = {s: [] for s in sources}
        for r in range(args.repeats):
            for source, feats in turns(sources, r):
                speed[source].append(loader_items_per_s(TrainConfig.of(manifest=str(manifest), out=str(tmp / "unused"),
                                                                    batch_size=256, **feats)))
        med = {s: statistics.median(v) for s, v in speed.items()}
        rows.append(["training loader alone (no model)", f"{med['store']:.0f}", f"{med['shards']:.0f}",
                     f"{med['shards'] / med['store']:.2f}"])
        for model, settings in MODELS.items():
            speed = {s: [] for s in sources}
            for r in range(args.repeats):
                for source, feats in turns(sources, r):
                    out = tmp / f"run_{source}"
                    train(TrainConfig.of(manifest=str(manifest), out=str(out), epochs=args.epochs, patience=args.epochs,
                                      quiet=True, overwrite=True, device="cpu", refit=False,  # (speed: the epochs alone)
                                      **feats, **settings))
                    speed[source] += samples_per_s(out)
            med = {s: statistics.median(v) for s, v in speed.items()}
            rows.append([model, f"{med['store']:.0f}", f"{med['shards']:.0f}", f"{med['shards'] / med['store']:.2f}"])
    print(f"{cpu_name()}; {len(shards)} shards ({where}); import into the store {import_s:.1f} s; load average "
          f"{os.getloadavg()[0]:.1f}; median samples/s over {args.epochs} epochs x {args.repeats} repeats")
    print(table(["model", "store samples/s", "shards samples/s", "shards / store"], rows))
    print(f"RESULT shards_vs_store ratio={rows[1][3]}")


if __name__ == "__main__":
    bench_main(main)
