"""Training: Adam, clipping, early stopping on validation, best/last checkpoints, exact resume, DDP."""
from __future__ import annotations

import csv
import dataclasses
import io
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import RandomSampler
from torch.utils.data.distributed import DistributedSampler

from extract.errors import UserError
from extract.fileio import atomic_write_bytes
from extract.manifest import read_manifest
from extract.store import FeatureStore, StoreError

from .data import (DataError, Labels, VideoDataset, assign_val, batches, check_features, feature_dims,
                   feature_stats, to_device)
from .decode import greedy
from .metrics import cider, micro_f1, tag_accuracy
from .model import ModelConfig, S2VT, caption_loss, tag_loss
from .vocab import Vocab

CHECKPOINT_FORMAT = "s2vt-checkpoint-1"


@dataclasses.dataclass
class TrainConfig:
    manifest: str
    features: str
    out: str
    modalities: list[str] | None = None
    epochs: int = 30
    patience: int = 5
    batch_size: int = 64
    lr: float = 1e-3
    hidden: int = 512
    embed: int = 512
    fusion: str = "concat"
    dropout: float = 0.3
    tag_weight: float = 1.0
    label_smoothing: float = 0.0
    sample_prob: float = 0.0
    clip_norm: float = 1.0
    min_count: int = 2
    max_len: int = 28
    enc_len: int = 40
    seed: int = 0
    resume: bool = False
    skip_missing: bool = False
    metric: str = "auto"
    device: str = "auto"
    stop_after: int | None = None   # stop (as if killed) after this epoch; for tests and time-boxed runs
    quiet: bool = False


class Dist:
    """Rank/world of a torchrun launch (a single process when not launched by torchrun)."""

    def __init__(self, device: torch.device) -> None:
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        if self.world > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")

    @property
    def main(self) -> bool:
        return self.rank == 0

    def close(self) -> None:
        if self.world > 1 and dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()


def pick_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        return torch.device("cpu")
    return torch.device(name)


def prepare(cfg: TrainConfig):
    """Read and check manifest + store; returns (entries by split, store, modalities, vocab, labels)."""
    entries = assign_val(read_manifest(cfg.manifest), seed=cfg.seed)
    store = FeatureStore(cfg.features)
    if not store.root.is_dir():
        raise DataError(f"{store.root}: feature store not found")
    present = store.modalities()
    modalities = list(cfg.modalities or store.meta().get("backbones", {}) or present)
    absent = [m for m in modalities if m not in present]
    if absent:
        raise StoreError(f"{store.root}: no features for {','.join(absent)} (store has {','.join(present) or 'none'})")
    splits = {s: [e for e in entries if e.get("split", "train") == s] for s in ("train", "val", "test")}
    for s in ("train", "val"):
        splits[s] = check_features(splits[s], store, modalities, cfg.skip_missing)
    if not splits["train"]:
        raise DataError(f"{cfg.manifest}: the training split is empty")
    vocab = Vocab.build((c for e in splits["train"] for c in e.get("captions", [])), cfg.min_count)
    labels = Labels.build(splits["train"] + splits["val"])
    return splits, store, modalities, vocab, labels


def evaluate_split(model: S2VT, loader, vocab: Vocab, labels: Labels, device, max_len: int) -> dict:
    """Greedy captions, CIDEr-D over all references, tag Hit@1 and (multi-label) micro-F1 / threshold."""
    model.eval()
    preds, refs, scores, gold = {}, {}, [], []
    with torch.no_grad():
        for batch in loader:
            batch = to_device(batch, device)
            enc_out, states = model.encode(batch["feats"], batch["lengths"])
            if any(batch["refs"]):
                ids = greedy(model, states, vocab.bos, vocab.eos, max_len)
                for vid, row, r in zip(batch["video_id"], ids.tolist(), batch["refs"]):
                    if r:
                        preds[vid], refs[vid] = vocab.decode(row), r
            if model.tag_head is not None and batch["tag"] is not None:
                logits = model.tags(enc_out)
                prob = torch.sigmoid(logits) if model.cfg.multilabel else torch.softmax(logits, -1)
                scores.append(prob.cpu().numpy())
                t = batch["tag"].cpu()
                gold += ([torch.nonzero(r).flatten().tolist() for r in t] if model.cfg.multilabel
                         else [[int(x)] if x >= 0 else [] for x in t])
    out: dict = {}
    if preds:
        out["CIDEr"] = cider(refs, preds)
        out["examples"] = dict(list(preds.items())[:3])
    if scores:
        s = np.concatenate(scores)
        out["tag_acc"] = tag_accuracy(s, gold)
        if model.cfg.multilabel:
            best = max(((micro_f1([set(np.flatnonzero(r >= th)) for r in s], [set(g) for g in gold])[2], th)
                        for th in np.arange(0.05, 0.96, 0.05)), key=lambda x: x[0])
            out["tag_f1"], out["tag_threshold"] = float(best[0]), float(best[1])
    return out


def save_checkpoint(path: Path, model: S2VT, vocab: Vocab, labels: Labels, meta: dict, epoch: int,
                    metrics: dict, extra: dict | None = None) -> None:
    """DESIGN.md's checkpoint (loadable with weights_only=True), written atomically."""
    ckpt = {"format": CHECKPOINT_FORMAT, "model": model.state_dict(), "config": dataclasses.asdict(model.cfg),
            "vocab": vocab.itos, "labels": labels.names, "extract": meta, "epoch": epoch,
            "metrics": {k: v for k, v in metrics.items() if isinstance(v, (int, float))}, **(extra or {})}
    buf = io.BytesIO()
    torch.save(ckpt, buf)
    atomic_write_bytes(path, buf.getvalue())


class CheckpointError(UserError):
    """A checkpoint file that is missing, corrupt or not ours; one line for the user."""


def read_checkpoint(path: str | os.PathLike, device: str | torch.device = "cpu") -> dict:
    """The checkpoint dict of a best.pt / last.pt (CheckpointError if it is not one)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        ckpt = torch.load(path, map_location=device, weights_only=True, mmap=True)
    except Exception as e:
        raise CheckpointError(f"{path}: not a readable checkpoint ({type(e).__name__})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path}: not an s2vt checkpoint")
    return ckpt


def model_from_checkpoint(ckpt: dict, device: str | torch.device = "cpu") -> tuple[S2VT, Vocab, Labels]:
    """(model in eval mode, vocab, labels) of a checkpoint dict."""
    model = S2VT(ModelConfig(**ckpt["config"])).to(device)
    model.load_state_dict(ckpt["model"])
    return model.eval(), Vocab(ckpt["vocab"]), Labels(list(ckpt["labels"]), ckpt["config"]["multilabel"])


def load_checkpoint(path: str | os.PathLike, device: str | torch.device = "cpu"):
    """(model in eval mode, vocab, labels, checkpoint dict) from a best.pt / last.pt."""
    ckpt = read_checkpoint(path, device)
    return (*model_from_checkpoint(ckpt, device), ckpt)


def write_curves(history: list[dict], out: Path) -> None:
    """metrics.csv (every epoch) and curves.png (loss, validation CIDEr, tag accuracy)."""
    keys = ["epoch", "train_loss", "CIDEr", "tag_acc", "lr", "seconds", "samples_per_s"]
    text = io.StringIO()
    w = csv.DictWriter(text, keys, extrasaction="ignore")
    w.writeheader()
    w.writerows(history)
    atomic_write_bytes(out / "metrics.csv", text.getvalue().encode())
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
    epochs = [h["epoch"] for h in history]
    for ax, key, title in zip(axes, ("train_loss", "CIDEr", "tag_acc"), ("training loss", "val CIDEr-D", "val tag acc")):
        ys = [h.get(key, math.nan) for h in history]
        ax.plot(epochs, ys, marker="o")
        ax.set_title(title)
        ax.set_xlabel("epoch")
    fig.tight_layout()
    png = io.BytesIO()
    fig.savefig(png, format="png")
    plt.close(fig)
    atomic_write_bytes(out / "curves.png", png.getvalue())


def train(cfg: TrainConfig) -> dict:
    """Train until `epochs` or early stopping; returns the best validation metrics."""
    device = pick_device(cfg.device)
    ddp = Dist(device)
    log = (lambda *a: print(*a, file=sys.stderr)) if ddp.main and not cfg.quiet else (lambda *a: None)
    splits, store, modalities, vocab, labels = prepare(cfg)
    dims = feature_dims(store, splits["train"], modalities)
    has_caps = any(e.get("captions") for e in splits["train"])
    has_tags = bool(labels.names)
    metric = cfg.metric if cfg.metric != "auto" else ("CIDEr" if has_caps else "tag_acc")
    mcfg = ModelConfig(modalities=dims, vocab_size=len(vocab), num_tags=len(labels.names), hidden=cfg.hidden,
                       embed=cfg.embed, enc_len=cfg.enc_len, fusion=cfg.fusion, dropout=cfg.dropout,
                       multilabel=labels.multilabel, pad_id=vocab.pad)
    torch.manual_seed(cfg.seed)
    model = S2VT(mcfg)
    model.fusion.set_stats(feature_stats(splits["train"], store, modalities, seed=cfg.seed))
    model = model.to(device)
    optim = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.StepLR(optim, step_size=10, gamma=0.5)
    out = Path(cfg.out)
    start_epoch, best, bad, history = 1, -math.inf, 0, []
    if cfg.resume and (out / "last.pt").is_file():
        last = read_checkpoint(out / "last.pt", device)  # (mmap is copy-on-write: updates stay in memory)
        model.load_state_dict(last["model"])
        optim.load_state_dict(last["optimizer"])
        sched.load_state_dict(last["scheduler"])
        start_epoch, best, bad, history = last["epoch"] + 1, last["best"], last["bad_epochs"], list(last["history"])
        log(f"resuming from {out / 'last.pt'} at epoch {start_epoch}")
    if ddp.main:
        out.mkdir(parents=True, exist_ok=True)
    net = torch.nn.parallel.DistributedDataParallel(model) if ddp.world > 1 else model

    train_ds = VideoDataset(splits["train"], store, modalities, vocab, labels if has_tags else None,
                            cfg.max_len, cfg.seed)
    val_ds = VideoDataset(splits["val"], store, modalities, vocab, labels if has_tags else None, cfg.max_len, cfg.seed)
    val_loader = batches(val_ds, cfg.batch_size)
    meta = store.meta()
    log(f"train {len(train_ds)} / val {len(val_ds)} videos, modalities {dims}, vocab {len(vocab)}, "
        f"{len(labels.names)} tags ({'multi' if labels.multilabel else 'single'}-label), select on {metric}, {device}")
    best_metrics: dict = {}
    for epoch in range(start_epoch, cfg.epochs + 1):
        torch.manual_seed(cfg.seed * 1000 + epoch)  # dropout / sampling depend on (seed, epoch) only: resumable
        train_ds.set_epoch(epoch)
        if ddp.world > 1:
            sampler = DistributedSampler(train_ds, ddp.world, ddp.rank, shuffle=True, seed=cfg.seed)
            sampler.set_epoch(epoch)
        else:
            sampler = RandomSampler(train_ds, generator=torch.Generator().manual_seed(cfg.seed * 1000 + epoch))
        loader = batches(train_ds, cfg.batch_size, sampler)
        net.train()
        t0, losses, seen = time.time(), [], 0
        for batch in loader:
            batch = to_device(batch, device)
            words = batch["words"]
            logits, tag_logits = net(batch["feats"], batch["lengths"], words[:, :-1] if words is not None else None,
                                     cfg.sample_prob)
            loss = torch.zeros((), device=device)
            if logits is not None:
                loss = loss + caption_loss(logits, words[:, 1:], vocab.pad, cfg.label_smoothing)
            if tag_logits is not None and batch["tag"] is not None:
                loss = loss + cfg.tag_weight * tag_loss(tag_logits, batch["tag"], mcfg.multilabel)
            optim.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_norm)
            optim.step()
            losses.append(loss.item())
            seen += len(batch["video_id"])
        sched.step()
        secs = time.time() - t0
        val = evaluate_split(model, val_loader, vocab, labels, device, cfg.max_len) if len(val_ds) else {}
        if "tag_threshold" in val:
            model.cfg.tag_threshold = val["tag_threshold"]
        row = {"epoch": epoch, "train_loss": float(np.mean(losses)) if losses else math.nan,
               "lr": optim.param_groups[0]["lr"], "seconds": round(secs, 2),
               "samples_per_s": round(seen * ddp.world / secs, 1) if secs else 0.0,
               **{k: v for k, v in val.items() if isinstance(v, float)}}
        history.append(row)
        score = val.get(metric, -row["train_loss"])
        improved = score > best
        if improved:
            best, bad, best_metrics = score, 0, row
        else:
            bad += 1
        log(f"epoch {epoch}: loss {row['train_loss']:.3f}, " + ", ".join(
            f"{k} {v:.3f}" for k, v in row.items() if k in ("CIDEr", "tag_acc", "tag_f1"))
            + f", {row['samples_per_s']:.0f} samples/s" + (" *best*" if improved else ""))
        if ddp.main:
            if improved:
                save_checkpoint(out / "best.pt", model, vocab, labels, meta, epoch, row)
            save_checkpoint(out / "last.pt", model, vocab, labels, meta, epoch, row,
                            {"optimizer": optim.state_dict(), "scheduler": sched.state_dict(), "best": best,
                             "bad_epochs": bad, "history": history})
            write_curves(history, out)
        if bad >= cfg.patience:
            log(f"early stopping: no improvement in {metric} for {cfg.patience} epochs (best {best:.3f})")
            break
        if cfg.stop_after is not None and epoch >= cfg.stop_after:
            break
    ddp.close()
    return best_metrics
