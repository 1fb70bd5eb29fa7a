"""Training: Adam, clipping, early stopping on validation, best/last checkpoints, exact resume, DDP."""
from __future__ import annotations

import csv
import dataclasses
import io
import math
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from tqdm import tqdm

from extract.device import DeviceError, pick_device  # noqa: F401 (DeviceError: part of this API)
from extract.errors import UserError
from extract.fileio import atomic_write_bytes, make_dirs, output_error
from extract.manifest import read_manifest
from extract.store import FeatureStore, StoreError

from .data import (CaptionGroups, DataError, Labels, VideoDataset, assign_val, batches, check_features,
                   drop_blank_captions, feature_dims, feature_stats, to_device)
from .decode import greedy
from .metrics import cider, gap, micro_f1, tag_accuracy
from .levels import best_threshold, kinds, level_loss, probabilities
from .model import ModelConfig, S2VT, caption_loss, squash, tag_loss
from . import shards
from .results import refuse_inputs
from .tagheads import TAG_HEADS
from .text import TOKENIZERS, TextVocab, has_text
from .vocab import SPECIALS, Vocab

CHECKPOINT_FORMAT = "s2vt-checkpoint-1"
# a run folder holding any of these holds a trained model (or its history): never trained over unasked
RUN_FILES = ("best.pt", "last.pt", "metrics.csv")


class ConfigError(UserError):
    """A training setting out of range; one line for the user."""


# settings whose default depends on the data (README "Training recipe"): a TrainConfig field left
# None takes the caption recipe's value when the training split has captions, else the LIC2022
# levels' when its tags are level1:/level2:/tag: names, else the tag-only one's
RECIPES = {"captions": {"epochs": 4, "batch_size": 64, "lr": 1e-3, "hidden": 512, "tag_head": "mlp"},
           # chosen on val GAP of 8 YouTube-8M shards (README "Tags on YouTube-8M")
           "tags": {"epochs": 15, "batch_size": 256, "lr": 3e-3, "hidden": 1024, "tag_head": "moe"},
           # LIC2022 level-1/level-2/topic-tag labels (README "Text"): tuned with these on kuairec val
           # (tags only: one item per video, so an epoch is few steps, 70 for 4,479 videos; early
           # stopping on lic_score ends the run where it stops improving)
           "levels": {"epochs": 30, "batch_size": 64, "lr": 1e-3, "hidden": 512, "tag_head": "mlp"}}


@dataclasses.dataclass
class TrainConfig:
    manifest: str | None            # None: only with --features naming TFRecord shards (s2vt/shards.py)
    features: str | None            # None: text only (the manifest's text, no video modality)
    out: str
    modalities: list[str] | None = None
    # the recipe for a real dataset (README "Training recipe"): an epoch shows every (video, caption)
    # pair, captions of a video in groups sharing one encoding, warmup then cosine decay per step
    epochs: int | None = None       # None: RECIPES
    patience: int = 3               # validation checks (one per epoch) without improvement
    batch_size: int | None = None   # (video, caption) pairs per step; None: RECIPES
    per_video: int = 4              # captions of one video per group (one encoder pass for all of them)
    per_caption: bool = True        # False: an epoch shows one random caption per video (the demo)
    lr: float | None = None         # None: RECIPES
    warmup: int = 200               # optimiser steps of linear warmup
    schedule: str = "cosine"        # cosine: decay to 5% of lr over all epochs' steps; step: halve every 10 epochs
    hidden: int | None = None       # None: RECIPES
    embed: int = 512
    fusion: str = "concat"
    dropout: float = 0.5
    tag_weight: float = 1.0
    label_smoothing: float = 0.1
    sample_prob: float = 0.0
    clip_norm: float = 1.0
    min_count: int = 2
    max_len: int = 28
    enc_len: int = 20
    context: bool = True            # decoder reads the mean video feature (ModelConfig.context)
    text: bool = True               # read the manifest's text (title, ASR, OCR) when it has any
    text_fusion: str = "late"       # late | guided (ModelConfig.text_fusion)
    text_tokenizer: str = "char"    # char: character 1-3-grams; word: jieba words (README "Text")
    text_embed: int = 256
    text_min_count: int = 2         # rarer tokens are dropped
    text_lr: float = 0.05           # token embeddings: few updates each, a higher rate than --lr
    text_wide: bool = True          # wide & deep: + a linear map from the TF-IDF tokens to the tag logits
    wide_lr: float = 0.01           # the wide path's rate
    min_tag_count: int = 3          # LIC2022 topic tags on fewer training videos are dropped
    attention: bool = True          # decoder attends over the encoder steps (ModelConfig.attention)
    log_features: bool = False      # sign(x) log(1 + |x|) before standardising (ModelConfig.log_features)
    tag_head: str | None = None     # tagheads.TAG_HEADS; None: RECIPES
    tag_input: str = "auto"         # auto: the fused features for tag-only data (no LSTM runs), else the encoder's
    seed: int = 0
    resume: bool = False
    overwrite: bool = False         # train over a run folder that already holds a model
    skip_missing: bool = False
    metric: str = "auto"
    device: str = "auto"
    stop_after: int | None = None   # stop (as if killed) after this epoch; for tests and time-boxed runs
    # training from TFRecord shards (--features SHARDS, s2vt/shards.py)
    val_features: str | None = None  # validation shards (read fully once); without them the manifest's val split
    vocabulary: str | None = None   # YouTube-8M vocabulary.csv: tag names of the shards' label ids
    shuffle_buffer: int = 2048      # records each shard reader mixes (raw bytes: ~5 KB video-, ~350 KB frame-level)
    workers: int = 0                # DataLoader worker processes reading shards (0: the training process)
    quiet: bool = False

    def __post_init__(self) -> None:
        """Refuse settings out of range now, not after the data is read or an epoch is trained."""
        counts = ("epochs", "patience", "batch_size", "per_video", "hidden", "embed", "min_count", "max_len",
                  "enc_len", "text_embed", "text_min_count", "min_tag_count", "shuffle_buffer")
        rules = {name: (getattr(self, name) is None or getattr(self, name) >= 1, "at least 1") for name in counts}
        rules.update({  # NaN fails every comparison, so it is refused too
            "stop_after": (self.stop_after is None or self.stop_after >= 1, "at least 1"),
            "wide_lr": (0 <= self.wide_lr < math.inf, "a number >= 0"),
            # lr 0 freezes the model (the early-stopping test)
            "lr": (self.lr is None or 0 <= self.lr < math.inf, "a number >= 0"),
            "clip_norm": (0 < self.clip_norm < math.inf, "a number > 0"),
            "tag_weight": (0 <= self.tag_weight < math.inf, "a number >= 0"),
            "dropout": (0 <= self.dropout < 1, "in [0, 1)"),
            "label_smoothing": (0 <= self.label_smoothing < 1, "in [0, 1)"),
            "sample_prob": (0 <= self.sample_prob <= 1, "in [0, 1]"),
            "metric": (self.metric in ("auto", "CIDEr", "tag_acc", "gap", "lic_score"),
                       "auto, CIDEr, tag_acc, gap or lic_score"),
            "text_lr": (0 <= self.text_lr < math.inf, "a number >= 0"),
            "text_fusion": (self.text_fusion in ("late", "guided"), "late or guided"),
            "text_tokenizer": (self.text_tokenizer in TOKENIZERS, " or ".join(TOKENIZERS)),
            "tag_head": (self.tag_head in (None, *TAG_HEADS), " or ".join(TAG_HEADS)),
            "tag_input": (self.tag_input in ("auto", "encoder", "fused"), "auto, encoder or fused"),
            "warmup": (self.warmup >= 0, "at least 0"),
            "workers": (self.workers >= 0, "at least 0"),
            "schedule": (self.schedule in ("cosine", "step"), "cosine or step"),
        })
        for name, (ok, what) in rules.items():
            if not ok:
                raise ConfigError(f"--{name.replace('_', '-')} must be {what}, not {getattr(self, name)!r}")
        if self.resume and self.overwrite:
            raise ConfigError("--resume continues the run in --out, --overwrite replaces it: pass one of them")
        if not shards.is_shards(self.features) and (self.manifest is None or self.val_features or self.vocabulary):
            raise ConfigError("--val-features, --vocabulary and leaving out --manifest need --features to name "
                              "TFRecord shards (a .tfrecord file, a glob or a folder of them)")


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


class RunFolderError(UserError):
    """A run folder that would be trained over or cannot be resumed; one line for the user."""


def resume_point(cfg: TrainConfig) -> Path | None:
    """OUT/last.pt when this run continues one; refuses (before any work) to train over a folder
    that holds a model unless --overwrite, and --resume where last.pt is missing but other run files
    are there (starting over would replace them). --resume into an empty or new folder starts a new run."""
    out = Path(cfg.out)
    held = [name for name in RUN_FILES if (out / name).exists()]
    if cfg.resume and "last.pt" in held:
        return out / "last.pt"
    if cfg.resume and held:
        raise RunFolderError(f"{out}: --resume needs last.pt, which is missing (the folder holds {', '.join(held)}); "
                             "pass --overwrite to start a new run there")
    if held and not cfg.overwrite:
        raise RunFolderError(f"{out} already holds a training run ({', '.join(held)}): pass --resume to continue it "
                             "or --overwrite to replace it")
    return None


def check_writable(folder: Path) -> None:
    """Create the run folder and write a scratch file there, so an unwritable --out (read-only, under a
    file, a full disk) fails now rather than when the first epoch's checkpoint is saved."""
    make_dirs(folder)
    try:
        with tempfile.TemporaryFile(dir=folder) as f:  # unnamed where the OS allows: nothing left behind
            f.write(bytes(4096))
            f.flush()
    except OSError as e:
        raise output_error(folder, e) from None


def open_store(cfg: TrainConfig, entries: list[dict]) -> tuple[FeatureStore | None, list[str]]:
    """The feature store and the modalities to train on; (None, []) without --features, which
    needs text in the manifest (a text-only model; captions need video and are set aside)."""
    if cfg.features is None:
        if cfg.modalities:
            raise DataError("--modalities needs --features (the store holding them)")
        if not (cfg.text and has_text(entries)):
            raise DataError(f"{cfg.manifest}: no text (title, asr, ocr) to train on without --features")
        if any(e.get("captions") for e in entries):
            warnings.warn("no --features: captions need video, so only tags are learnt (from the text)")
            for e in entries:
                e["captions"] = []
        return None, []
    store = FeatureStore(cfg.features)
    if not store.root.is_dir():
        raise DataError(f"{store.root}: feature store not found")
    present = store.modalities()
    modalities = list(cfg.modalities or store.meta().get("backbones", {}) or present)
    absent = [m for m in modalities if m not in present]
    if absent:
        raise StoreError(f"{store.root}: no features for {','.join(absent)} (store has {','.join(present) or 'none'})")
    return store, modalities


def prepare(cfg: TrainConfig):
    """Read and check manifest + store; returns (entries by split, store, modalities, vocab, labels)."""
    entries = assign_val(read_manifest(cfg.manifest), seed=cfg.seed)
    store, modalities = open_store(cfg, entries)
    splits = {s: [e for e in entries if e.get("split", "train") == s] for s in ("train", "val", "test")}
    for s in ("train", "val") if store is not None else ():
        splits[s] = check_features(splits[s], store, modalities, cfg.skip_missing)
    if not splits["train"]:
        raise DataError(f"{cfg.manifest}: the training split is empty")
    blank = drop_blank_captions(splits["train"] + splits["val"])
    has_caps = any(e.get("captions") for e in splits["train"])
    if not has_caps and not any(e.get("tags") for e in splits["train"]):
        raise DataError(f"{cfg.manifest}: nothing to learn: no training video has a caption or a tag"
                        + (f" ({blank} captions are blank)" if blank else ""))
    if blank:
        warnings.warn(f"{cfg.manifest}: ignoring {blank} blank captions"
                      + ("" if has_caps else "; none is left, so only the tag head is trained"))
    vocab = Vocab.build((c for e in splits["train"] for c in e.get("captions", [])), cfg.min_count)
    if has_caps and len(vocab) == len(SPECIALS):
        raise DataError(f"{cfg.manifest}: no word occurs --min-count {cfg.min_count} times in the training captions")
    labels = Labels.build(splits["train"] + splits["val"], cfg.min_tag_count, splits["train"])
    return splits, store, modalities, vocab, labels


def evaluate_split(model: S2VT, loader, vocab: Vocab, labels: Labels, device, max_len: int) -> dict:
    """Greedy captions, CIDEr-D over all references, tag Hit@1 and (multi-label) micro-F1 / threshold."""
    model.eval()
    preds, refs, scores, gold, vids = {}, {}, [], [], []
    groups = kinds(labels.names)
    with torch.no_grad():
        for batch in loader:
            batch = to_device(batch, device)
            enc_out = None
            if any(batch["refs"]):
                enc_out, states = model.encode(batch["feats"], batch["lengths"])
                ids = greedy(model, states, vocab.bos, vocab.eos, max_len)
                for vid, row, r in zip(batch["video_id"], ids.tolist(), batch["refs"]):
                    if r:
                        preds[vid], refs[vid] = vocab.decode(row), r
            if model.tag_head is not None and batch["tag"] is not None:
                logits = model.tag_logits(batch["feats"], batch["lengths"], enc_out, batch.get("text"))
                scores.append(probabilities(logits, model.cfg.multilabel, groups).cpu().numpy())
                vids += batch["video_id"]
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
        if groups:  # scored against every gold tag, those the label set left out too
            tags = {e["video_id"]: e.get("tags", []) for e in loader.dataset.entries}
            level, out["tag_threshold"] = best_threshold(s, labels.names, groups, [tags[v] for v in vids])
            out.update(level)
        elif model.cfg.multilabel:
            out["gap"] = gap(s, gold)
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
    check_parts(ckpt, path)
    return ckpt


def is_strings(x) -> bool:
    return isinstance(x, list) and all(isinstance(t, str) for t in x)


def check_parts(ckpt: dict, path: Path) -> None:
    """Refuse a checkpoint whose parts disagree: model config, vocabulary, tag names (the weights
    are checked against the config when the model is built, `load_weights`)."""
    config = ckpt.get("config")
    if not isinstance(config, dict):
        raise CheckpointError(f"{path}: the checkpoint has no model config")
    try:
        cfg = ModelConfig(**config)
    except TypeError as e:
        raise CheckpointError(f"{path}: bad model config ({e})") from None
    if not (isinstance(cfg.modalities, dict) and (cfg.modalities or cfg.text_vocab)
            and all(isinstance(d, int) and d > 0 for d in cfg.modalities.values())):
        raise CheckpointError(f"{path}: bad model config (modalities {cfg.modalities!r})")
    whole = lambda v, low: isinstance(v, int) and not isinstance(v, bool) and v >= low  # noqa: E731
    rules = {"hidden": whole(cfg.hidden, 1), "embed": whole(cfg.embed, 1), "enc_len": whole(cfg.enc_len, 1),
             "vocab_size": whole(cfg.vocab_size, len(SPECIALS)), "num_tags": whole(cfg.num_tags, 0),
             "pad_id": whole(cfg.pad_id, 0) and cfg.pad_id < cfg.vocab_size,
             "multilabel": isinstance(cfg.multilabel, bool),
             "tag_threshold": isinstance(cfg.tag_threshold, (int, float)) and 0 <= cfg.tag_threshold <= 1,
             "dropout": isinstance(cfg.dropout, (int, float)) and 0 <= cfg.dropout < 1,
             "attention": isinstance(cfg.attention, bool), "log_features": isinstance(cfg.log_features, bool)}
    bad = [k for k, ok in rules.items() if not ok]
    if bad:
        raise CheckpointError(f"{path}: bad model config ({bad[0]}={getattr(cfg, bad[0])!r})")
    if not isinstance(ckpt.get("model"), dict):
        raise CheckpointError(f"{path}: the checkpoint has no model weights")
    vocab, labels = ckpt.get("vocab"), ckpt.get("labels")
    if not is_strings(vocab) or tuple(vocab[:len(SPECIALS)]) != SPECIALS:
        raise CheckpointError(f"{path}: the checkpoint has no vocabulary starting with {', '.join(SPECIALS)}")
    if len(vocab) != cfg.vocab_size:
        raise CheckpointError(f"{path}: the vocabulary has {len(vocab)} words, the config says "
                              f"vocab_size={cfg.vocab_size}")
    if not is_strings(labels) or len(labels) != cfg.num_tags:
        count = f"{len(labels)} tag names" if is_strings(labels) else "no list of tag names"
        raise CheckpointError(f"{path}: {count}, the config says num_tags={cfg.num_tags}")
    if not isinstance(ckpt.get("extract", {}), dict):
        raise CheckpointError(f"{path}: bad extraction settings ('extract' is not a mapping)")
    text = ckpt.get("text_vocab")
    if cfg.text_vocab and not (isinstance(text, dict) and text.get("tokenizer") in TOKENIZERS
                               and is_strings(text.get("tokens")) and len(text["tokens"]) == cfg.text_vocab
                               and isinstance(text.get("idf"), list) and len(text["idf"]) == cfg.text_vocab):
        raise CheckpointError(f"{path}: the config says text_vocab={cfg.text_vocab}, the checkpoint has no "
                              "text vocabulary of that size")


def text_vocab_of(ckpt: dict) -> TextVocab | None:
    """The text vocabulary (and tokeniser) a checkpoint was trained with; None without text."""
    return TextVocab.from_state(ckpt["text_vocab"]) if ckpt["config"].get("text_vocab") else None


def load_weights(model: S2VT, state: dict, name: str | os.PathLike, assign: bool = False) -> None:
    """`model.load_state_dict(state, assign=assign)`, but a state dict that does not fit the
    model's config is a CheckpointError naming the first parameter that differs."""
    cfg = model.cfg
    built = (f"hidden={cfg.hidden}, embed={cfg.embed}, vocab_size={cfg.vocab_size}, num_tags={cfg.num_tags}, "
             f"fusion={cfg.fusion}, modalities " + ",".join(f"{m}:{d}" for m, d in cfg.modalities.items()))
    expected = model.state_dict()
    shape = lambda t: "x".join(map(str, t.shape)) if torch.is_tensor(t) else type(t).__name__  # noqa: E731
    for key, want in expected.items():
        if key not in state:
            raise CheckpointError(f"{name}: the weights lack {key}, which the config ({built}) has")
        if not torch.is_tensor(state[key]) or state[key].shape != want.shape:
            raise CheckpointError(f"{name}: weight {key} is {shape(state[key])}, the config ({built}) "
                                  f"makes it {shape(want)}")
        if state[key].is_floating_point() and not torch.isfinite(state[key]).all():
            raise CheckpointError(f"{name}: weight {key} holds NaN or infinite values")
    extra = [k for k in state if k not in expected]
    if extra:
        raise CheckpointError(f"{name}: weight {extra[0]} is not in the model the config ({built}) describes")
    model.load_state_dict(state, assign=assign)


def model_from_checkpoint(ckpt: dict, device: str | torch.device = "cpu",
                          name: str | os.PathLike = "checkpoint") -> tuple[S2VT, Vocab, Labels]:
    """(model in eval mode, vocab, labels) of a checkpoint dict from `read_checkpoint`; `name` (its
    path) starts the error line if its weights do not fit its config."""
    try:
        # built on the meta device (no random init) and given the checkpoint's tensors: no draw
        # from torch's global RNG, which seeded random backbones built meanwhile in other
        # threads (caption.py) are using, so their weights do not depend on thread timing
        with torch.device("meta"):
            model = S2VT(ModelConfig(**ckpt["config"]))
    except (TypeError, ValueError, RuntimeError) as e:  # e.g. an unknown fusion, a size torch refuses
        raise CheckpointError(f"{name}: bad model config ({e})") from None
    load_weights(model, ckpt["model"], name, assign=True)
    return model.to(device).eval(), Vocab(ckpt["vocab"]), Labels(list(ckpt["labels"]), model.cfg.multilabel)


def load_checkpoint(path: str | os.PathLike, device: str | torch.device = "cpu"):
    """(model in eval mode, vocab, labels, checkpoint dict) from a best.pt / last.pt."""
    ckpt = read_checkpoint(path, device)
    return (*model_from_checkpoint(ckpt, device, path), ckpt)


def check_resumable(last: dict, mcfg: ModelConfig, vocab: Vocab, labels: Labels, path: Path,
                    text_vocab: dict | None = None) -> None:
    """Refuse to resume a last.pt whose model this run would build differently (other settings,
    modalities, vocabulary or tags), naming the first difference."""
    missing = [k for k in ("optimizer", "scheduler", "best", "bad_epochs", "history") if k not in last]
    if missing:
        raise CheckpointError(f"--resume: {path} holds no training state ({', '.join(missing)}); is it a best.pt?")
    was = ModelConfig(**last["config"])
    for key in ("modalities", "hidden", "embed", "fusion", "enc_len", "multilabel", "context", "attention",
                "log_features", "text_embed", "text_fusion", "text_wide", "tag_head", "tag_input"):
        if getattr(was, key) != getattr(mcfg, key):
            raise CheckpointError(f"--resume: {path} was trained with {key}={getattr(was, key)}, "
                                  f"this run has {key}={getattr(mcfg, key)}")
    if last["vocab"] != vocab.itos:
        raise CheckpointError(f"--resume: the vocabulary differs from {path}'s ({len(vocab)} words now, "
                              f"{len(last['vocab'])} there): the manifest or --min-count changed")
    if last.get("text_vocab") != text_vocab:
        raise CheckpointError(f"--resume: the text vocabulary differs from {path}'s: the manifest, --text-tokenizer "
                              "or --text-min-count changed")
    if last["labels"] != labels.names:
        raise CheckpointError(f"--resume: the tags differ from {path}'s ({len(labels.names)} now, "
                              f"{len(last['labels'])} there): the manifest changed")


def write_curves(history: list[dict], out: Path) -> None:
    """metrics.csv (every epoch) and curves.png (loss, validation CIDEr, tag accuracy)."""
    keys = ["epoch", "train_loss", "CIDEr", "tag_acc", "gap", "level1_acc", "level2_acc", "tag_f1", "lic_score", "lr",
            "seconds", "samples_per_s"]
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


def lr_factor(cfg: TrainConfig, steps_per_epoch: int):
    """The learning-rate multiplier after `step` optimiser steps: linear warmup over `warmup` steps,
    then cosine decay to 5% at the last step of `epochs` (or `step`: halve every 10 epochs). The
    warmup lasts at most the first epoch: a small dataset is not left training at a fraction of lr."""
    total, warmup = max(1, cfg.epochs * steps_per_epoch), min(cfg.warmup, steps_per_epoch)

    def factor(step: int) -> float:
        if cfg.schedule == "step":
            return 0.5 ** (step // (10 * steps_per_epoch))
        if step < warmup:
            return (step + 1) / warmup
        done = min(1.0, (step - warmup) / max(1, total - warmup))
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * done))
    return factor


def param_groups(model: S2VT, cfg: TrainConfig) -> list[dict]:
    """Adam's parameter groups: the token embeddings at --text-lr (each token is seen in few
    batches, so at --lr they barely move in a few epochs), the wide path at --wide-lr,
    everything else at --lr."""
    text = list(model.text.bag.parameters()) if model.text is not None else []
    wide = list(model.wide.parameters()) if model.wide is not None else []
    rest = [p for p in model.parameters() if all(p is not t for t in text + wide)]
    return ([{"params": rest}] + ([{"params": text, "lr": cfg.text_lr}] if text else [])
            + ([{"params": wide, "lr": cfg.wide_lr}] if wide else []))


def train(cfg: TrainConfig) -> dict:
    """Train until `epochs` or early stopping; returns the best validation metrics."""
    device = pick_device(cfg.device)
    last_path = resume_point(cfg)
    out = Path(cfg.out)
    ddp = Dist(device)
    log = (lambda *a: print(*a, file=sys.stderr)) if ddp.main and not cfg.quiet else (lambda *a: None)
    if cfg.resume and last_path is None:
        log(f"note: no {out / 'last.pt'} to resume from: starting a new run")
    # the run's files never land in (or on) what it reads: the feature store, the manifest
    refuse_inputs([out / name for name in RUN_FILES], [cfg.manifest], folders=[f for f in [cfg.features] if f])
    if ddp.main:
        check_writable(out)
    streaming = shards.is_shards(cfg.features)  # training records streamed from TFRecord shards
    splits, store, modalities, vocab, labels = (shards.prepare if streaming else prepare)(cfg)
    dims = feature_dims(store, splits["train"], modalities) if modalities else {}
    has_caps = any(e.get("captions") for e in splits["train"])
    has_tags = bool(labels.names)
    groups = kinds(labels.names)
    recipe = RECIPES["captions" if has_caps else "levels" if groups else "tags"]
    cfg = dataclasses.replace(cfg, **{k: v for k, v in recipe.items() if getattr(cfg, k) is None})
    metric = cfg.metric if cfg.metric != "auto" else (
        "CIDEr" if has_caps else "lic_score" if groups else "gap" if labels.multilabel else "tag_acc")
    tag_input = cfg.tag_input if cfg.tag_input != "auto" else ("encoder" if has_caps else "fused")
    text_vocab = (TextVocab.build(splits["train"], cfg.text_tokenizer, cfg.text_min_count)
                  if cfg.text and has_text(splits["train"]) else None)
    text_extra = {"text_vocab": text_vocab.state()} if text_vocab else {}
    mcfg = ModelConfig(modalities=dims, vocab_size=len(vocab), num_tags=len(labels.names), hidden=cfg.hidden,
                       embed=cfg.embed, enc_len=cfg.enc_len, fusion=cfg.fusion, dropout=cfg.dropout,
                       multilabel=labels.multilabel, pad_id=vocab.pad, context=cfg.context,
                       text_vocab=len(text_vocab) if text_vocab else 0, text_embed=cfg.text_embed,
                       text_fusion=cfg.text_fusion, attention=cfg.attention, log_features=cfg.log_features,
                       tag_head=cfg.tag_head, tag_input=tag_input, text_wide=cfg.text_wide)
    torch.manual_seed(cfg.seed)
    model = S2VT(mcfg)
    if modalities:
        model.fusion.set_stats(feature_stats(splits["train"], store, modalities, seed=cfg.seed,
                                             transform=squash if cfg.log_features else None))
    model = model.to(device)
    train_ds = (store.stream(cfg, labels, ddp.rank, ddp.world) if streaming else
                VideoDataset(splits["train"], store, modalities, vocab, labels if has_tags else None,
                             cfg.max_len, cfg.seed, cfg.per_caption, text_vocab))
    val_ds = VideoDataset(splits["val"], store, modalities, vocab, labels if has_tags else None, cfg.max_len, cfg.seed,
                          text_vocab=text_vocab)
    val_loader = batches(val_ds, cfg.batch_size)
    sampler = train_ds.sampler if streaming else CaptionGroups(
        train_ds, cfg.batch_size, cfg.per_video if cfg.per_caption else 1, cfg.seed, ddp.rank, ddp.world)
    optim = torch.optim.Adam(param_groups(model, cfg), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(optim, lr_factor(cfg, len(sampler)))
    start_epoch, best, bad, history = 1, -math.inf, 0, []
    if last_path is not None:
        last = read_checkpoint(last_path, device)  # (mmap is copy-on-write: updates stay in memory)
        check_resumable(last, mcfg, vocab, labels, last_path, text_extra.get("text_vocab"))
        load_weights(model, last["model"], last_path)
        optim.load_state_dict(last["optimizer"])
        sched.load_state_dict(last["scheduler"])
        start_epoch, best, bad, history = last["epoch"] + 1, last["best"], last["bad_epochs"], list(last["history"])
        log(f"resuming from {last_path} at epoch {start_epoch}")
    # tag-only training leaves the caption decoder (and with fused tag input the LSTMs) without gradients
    net = (torch.nn.parallel.DistributedDataParallel(model, find_unused_parameters=not has_caps)
           if ddp.world > 1 else model)
    meta = store.meta() if store is not None else {}
    log(f"train {len(train_ds) if streaming else len(train_ds.entries)} videos ({len(train_ds)} items, "
        f"{len(sampler)} steps an epoch) / val "
        f"{len(val_ds)} videos, modalities {dims}, vocab {len(vocab)}, "
        + (f"text {len(text_vocab)} {cfg.text_tokenizer} tokens ({cfg.text_fusion} fusion), " if text_vocab else "")
        + f"{len(labels.names)} tags ({'multi' if labels.multilabel else 'single'}-label), select on {metric}, "
        f"{device}")
    best_metrics: dict = {}
    for epoch in range(start_epoch, cfg.epochs + 1):
        torch.manual_seed(cfg.seed * 1000 + epoch)  # dropout / sampling depend on (seed, epoch) only: resumable
        train_ds.set_epoch(epoch)
        sampler.set_epoch(epoch)
        net.train()
        t0, losses, seen = time.time(), [], 0
        # a bar on a terminal only (a log file or a test gets the one line per epoch)
        loader = train_ds.batches(device) if streaming else batches(train_ds, cfg.batch_size, sampler)
        bar = tqdm(loader, desc=f"epoch {epoch}", leave=False, unit="step",
                   disable=cfg.quiet or not ddp.main or not sys.stderr.isatty())
        for batch in bar:
            batch = to_device(batch, device)
            words = batch["words"]
            logits, tag_logits = net(batch["feats"], batch["lengths"], words[:, :-1] if words is not None else None,
                                     cfg.sample_prob, batch["video_index"], batch["text"])
            loss = torch.zeros((), device=device)
            if logits is not None:
                loss = loss + caption_loss(logits, words[:, 1:], vocab.pad, cfg.label_smoothing)
            if tag_logits is not None and batch["tag"] is not None:
                loss = loss + cfg.tag_weight * (level_loss(tag_logits, batch["tag"], groups, cfg.label_smoothing)
                                                if groups else tag_loss(tag_logits, batch["tag"], mcfg.multilabel))
            optim.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_norm)
            optim.step()
            sched.step()
            losses.append(loss.item())
            seen += len(batch["video_id"])
            if len(losses) % 10 == 0:
                bar.set_postfix(loss=f"{np.mean(losses[-50:]):.3f}")
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
            f"{k} {v:.3f}" for k, v in row.items() if k in ("CIDEr", "tag_acc", "gap", "tag_f1", "level1_acc",
                                                            "level2_acc", "lic_score"))
            + f", {row['samples_per_s']:.0f} samples/s" + (" *best*" if improved else ""))
        if ddp.main:
            if improved:
                save_checkpoint(out / "best.pt", model, vocab, labels, meta, epoch, row, text_extra)
            save_checkpoint(out / "last.pt", model, vocab, labels, meta, epoch, row,
                            {**text_extra, "optimizer": optim.state_dict(), "scheduler": sched.state_dict(),
                             "best": best, "bad_epochs": bad, "history": history})
            write_curves(history, out)
        if bad >= cfg.patience:
            log(f"early stopping: no improvement in {metric} for {cfg.patience} validation checks (best {best:.3f})")
            break
        if cfg.stop_after is not None and epoch >= cfg.stop_after:
            break
    ddp.close()
    return best_metrics
