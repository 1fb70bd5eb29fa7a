"""A training run: its setup (checks, data, model, resume, DDP), its epochs, best/last checkpoints, exact resume."""
from __future__ import annotations

import collections
import contextlib
import csv
import dataclasses
import datetime
import gc
import hashlib
import io
import math
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

import torch
import torch.distributed as dist

from .device import pick_device
from .errors import (SaidByAnotherRank, SettingError, UserError, counted, end_with_launcher, interrupts_held,
                     interrupts_unwrapped, one_line, printable, shell_quote)
from .fileio import (RUN_OUTPUTS, OutputError, atomic_write_bytes, check_writable, refuse_special_outputs,
                     removed_if_failed)
from .locks import TRAIN_LOCK, busy_line, is_lock_name, lock_owner, locked, training_run
from .manifest import read_manifest, shared_files, split_of
from .store import FeatureStore, StoreError, no_store_here, store_not_found, store_of

from .checkpoint import (DataMismatch, acting, check_resumable, checkpoint_of, load_weights, predated, read_checkpoint,
                         shown_modalities, steps_left, write_checkpoint, write_checkpoints)
from .config import RECIPES, ConfigError, TrainConfig, other_data
from .data import (CaptionGroups, DataError, GapStore, Labels, VideoDataset, assign_val, batches, check_features,
                   empty_training_split, feature_dims, feature_stats, may_leave_parts_unused)
from .epoch import (DivergedError, EarlyStopping, check_epoch_loss, check_summaries, distributed, first_step_loss,
                    lr_factor, optimiser, train_one_epoch, validate)
from .finish import (REFIT_IDS_MAX, best_done, finish, steps_due, steps_named, takes_neighbours, training_ids,
                     unfinished, vocabulary_used)
from .formats import SEMANTIC
from .levels import kinds
from .metrics import blind_cider
from .model import S2VT, squash
from .predict import feature_mismatch
from .tagheads import MEAN_POOLING
from . import options, shardkeys, shards
from .results import refuse_inputs
from .resume import (RESUME_IGNORED, RESUME_UNREPORTED, RunFolderError, changed_settings, late_epochs, upgrade_config,
                     load_training_state, read_last, recorded_epochs, resume_point, resumed_settings, resumed_workers,
                     resumed_world, run_settings, same_steps, saved_epochs, tags_cause, upgraded_settings,
                     vocabulary_cause, with_saved)
from .text import TextVocab, fields, has_text
from .vocab import SPECIALS, Vocab, drop_blank_captions

# a run folder holding any of these holds a trained model (or its history): never trained over unasked
RUN_FILES = ("best.pt", "last.pt", "metrics.csv")
# how long a torchrun rank waits for the others at a collective before giving up
RANK_WAIT = datetime.timedelta(hours=1)


T = TypeVar("T")


def launch_rank() -> int:
    """This process's torchrun rank (0 when not launched by torchrun)."""
    return int(os.environ.get("RANK", "0"))


class Dist:
    """Rank/world of a torchrun launch (a single process when not launched by torchrun)."""

    def __init__(self, device: torch.device) -> None:
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = launch_rank()
        self.device = device  # nccl reduces tensors on the GPU, gloo on the CPU
        end_with_launcher()  # (torchrun killed: its ranks stop, not train on as orphans)
        if self.world > 1 and not dist.is_initialized():
            # (the steps rank 0 does alone while the others wait at a barrier, the linear path's fit and the tag
            # neighbours' pass over up to 50,000 training records, take minutes: NCCL's 10-minute default would
            # end a sound run)
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=RANK_WAIT)

    @property
    def main(self) -> bool:
        return self.rank == 0

    def mean(self, total: float, count: int) -> float:
        """sum(total) / sum(count) over the ranks: the whole epoch's mean, not this rank's share."""
        if self.world > 1:
            both = torch.tensor([total, count], dtype=torch.float64, device=self.device)
            dist.all_reduce(both)
            total, count = both.tolist()
        return total / count if count else math.nan

    def gather(self, obj) -> list:
        """Every rank's `obj` (picklable), in rank order. (nccl gathers on the current GPU: this rank's.)"""
        if self.world == 1:
            return [obj]
        parts = [None] * self.world
        with torch.cuda.device(self.device) if self.device.type == "cuda" else contextlib.nullcontext():
            dist.all_gather_object(parts, obj)
        return parts

    def decided(self, check: Callable[[], None]) -> None:
        """`check()` on rank 0 alone (what only rank 0 reads or takes: the run folder and its lock), its refusal
        sent to every rank, which then ends too (`SaidByAnotherRank`: exit 2, the line rank 0's alone). A refusal
        of rank 0's own left the other ranks waiting for it in a collective, deaf to torchrun's SIGTERM, until
        torchrun killed them 30 s later (hostile trial)."""
        self.agreed(check if self.main else lambda: None)  # (only rank 0 can refuse: its line, every rank ends)

    def agreed(self, work: Callable[[], T]) -> T:
        """`work()` on every rank, for what every rank reads alike (the manifest, the store, the shards' val
        records; no collective inside it), its refusal printed once: by rank 0 when it made it, as every rank
        does (each printed its line, the lines run together; new-user trial), else by the ranks that made it.
        Every other rank ends too, silently, exit 2, rather than wait for them in the next collective."""
        try:
            result, failed = work(), None
        except Exception as e:  # (a bug's too: the other ranks end, the rank keeps its traceback)
            result, failed = None, e
        if self.world > 1:
            refused = self.gather(failed is not None)
            if any(refused) and (failed is None or (refused[0] and not self.main)):
                raise SaidByAnotherRank("refused by another rank")
        if failed is not None:
            raise failed
        return result

    def close(self) -> None:
        if self.world > 1 and dist.is_initialized():
            # DDP wrappers left to the interpreter's teardown (the refit's, in a reference cycle) kept gloo work
            # alive past the process group: a rank once aborted at exit ("terminate called without an active
            # exception", torchrun then failing a finished run). Freed now, before the group goes.
            gc.collect()
            dist.barrier()
            dist.destroy_process_group()


def caption_vocabulary(train: list[dict], min_count: int) -> Vocab:
    """The caption vocabulary of the training videos' captions (`prepare`'s, and a --resume's check of a cause)."""
    return Vocab.build((c for e in train for c in e.get("captions", [])), min_count)


def vocabulary_causes(cfg: TrainConfig, last: dict, train: list[dict], vocab: Vocab, text_vocab: dict | None
                      ) -> tuple[str | None, str | None]:
    """The settings of a --resume that made its caption and its text vocabulary differ from last.pt's
    (`resume.vocabulary_cause`), each named only where the run's own values give last.pt's vocabulary back from
    these training videos: an edited manifest beside a changed --min-count was told to pass --min-count, and was
    refused again (trial 121). Looked for only where a vocabulary differs; a hand-edited last.pt's value that
    builds none (a min_count of '2') names nothing (it was a TypeError's traceback; trial 122)."""
    was = last.get("settings", {})
    then = lambda k: was.get(k, options.value(cfg, k))  # noqa: E731
    caption = vocabulary_cause(was, cfg, text=False) if last.get("vocab") != vocab.itos else None
    # (text on one side alone: text_cause says so, without a setting)
    text = vocabulary_cause(was, cfg, text=True) if text_vocab and last.get("text_vocab") not in (None, text_vocab) \
        else None
    try:
        if caption and caption_vocabulary(train, then("min_count")).itos != last["vocab"]:
            caption = None
        if text and TextVocab.build(train, then("text_tokenizer"), then("text_min_count"),
                                    then("text_max_tokens")).state() != last["text_vocab"]:
            text = None
    except (TypeError, ValueError, KeyError):
        return None, None
    return caption, text


def open_store(cfg: TrainConfig, entries: list[dict]) -> tuple[FeatureStore | None, list[str]]:
    """The feature store and the modalities to train on; (None, []) without --features, which
    needs text in the manifest (a text-only model; captions need video and are set aside)."""
    if cfg.features is None:
        if cfg.modalities:
            raise DataError("--modalities needs --features (the store holding them)")
        if not cfg.text:  # (whether or not the manifest has text: --no-text is what leaves nothing)
            # (a resume's run read the text alone: --features would be refused for it; trial 119)
            raise DataError("--no-text without --features leaves nothing to learn from: "
                            + ("drop --no-text to resume the run (it trained on the manifest's text)" if cfg.resume
                               else "pass --features (a store) or drop --no-text to train on the manifest's text"))
        # (the training videos' text: with text on test videos alone, the run built no text vocabulary and was a
        # traceback at its first step; trial 83)
        train = [e for e in entries if split_of(e) == "train"]
        if not has_text(train if train else entries):  # (no training video at all: said as such after; trial 85)
            some = " (only videos of other splits have some)" if has_text(entries) else ""
            raise DataError(f"{cfg.manifest}: no training video has text (title, asr, ocr){some} to train on "
                            "without --features")
        for split in ("train", "val"):  # (a text-only model learns nothing from them, and scores each alike;
            # said as evaluate says a test video's; trial 83)
            these = [e for e in entries if split_of(e) == split]
            if bare := [e["video_id"] for e in these if not any(f.strip() for f in fields(e))]:
                warnings.warn(f"{len(bare)} of the {len(these)} {split} videos {'has' if len(bare) == 1 else 'have'} "
                              f"no text (title, asr, ocr; first: {', '.join(bare[:3])}), and without --features a "
                              "model reads nothing else of them")
        if any(e.get("captions") for e in entries):
            warnings.warn("no --features: captions need video, so only tags are learnt (from the text)")
            for e in entries:
                e["captions"] = []
        return None, []
    store = FeatureStore(cfg.features)
    if not store.root.is_dir():  # (named as typed: Path('./-') is '-')
        raise DataError(store_not_found(cfg.features))
    present = store.modalities()
    modalities = list(cfg.modalities or store.meta().get("backbones", {}) or present)
    absent = [m for m in modalities if m not in present]
    if absent:
        raise StoreError(f"{store.root}: no features for {','.join(absent)} (store has {','.join(present) or 'none'})"
                         + store.no_folder(absent))
    # (a folder of videos, a run's, an empty one: no modality to train on, which ran on no features at all)
    why = no_store_here(store, cfg.features)
    if not modalities or why:  # (named as typed: Path('./-') is '-')
        raise StoreError(f"{printable(os.fspath(cfg.features))}: no features (the store has none){why}")
    return store, modalities


def prepare(cfg: TrainConfig):
    """Read and check manifest + store; returns (entries by split, store, modalities, vocab, labels);
    the splits also give "val_skipped", how many val videos --skip-missing left out."""
    entries = read_manifest(cfg.manifest)
    had_val = any(split_of(e) == "val" for e in entries)
    entries = assign_val(entries, seed=cfg.seed)
    if not entries:  # (an empty file: said as such first, not as one without text or features)
        raise empty_training_split(cfg.manifest, {})
    store, modalities = open_store(cfg, entries)
    splits = {s: [e for e in entries if split_of(e) == s] for s in ("train", "val", "test")}
    counts = {s: len(es) for s, es in splits.items()}
    if not splits["train"]:  # (before the features: their advice, --skip-missing, led to this refusal; trial 64)
        raise empty_training_split(cfg.manifest, counts, any(e.get("captions") or e.get("tags") for e in entries))
    if store is not None:  # (train and val at once: the first's error counted the videos of train alone)
        if cfg.skip_missing and cfg.learn_missing:
            # (one of them a --resume's, from last.pt: said so, not as if typed; trial 76)
            said = {k: options.flag(k) + ("" if cfg.given is None or k in cfg.given else " (the run's own, from last.pt)")
                    for k in ("skip_missing", "learn_missing")}
            raise DataError(f"{said['skip_missing']} leaves out the videos {said['learn_missing']} trains on: pass "
                            "one of them")
        kept = {id(e) for e in check_features(splits["train"] + splits["val"], store, modalities, cfg.skip_missing,
                                              cfg.learn_missing)}
        for s in ("train", "val"):
            splits[s] = [e for e in splits[s] if id(e) in kept]
    if not splits["train"]:
        raise empty_training_split(cfg.manifest, counts, any(e.get("captions") or e.get("tags") for e in entries))
    # one video file in train and in val or test under other ids: its scores there count a video trained on (trial
    # 103: a manifest's two entries naming one file, extracted twice, unsaid); of the videos kept (--skip-missing)
    if leaks := {path: g for path, g in shared_files(splits["train"] + splits["val"] + splits["test"]).items()
                 if "train" in map(split_of, g) and set(map(split_of, g)) - {"train"}}:
        path, group = next(iter(leaks.items()))
        shown = sorted(group, key=lambda e: split_of(e) == "train")[:3]  # (the leak first: a val or test video)
        warnings.warn(f"{cfg.manifest}: {counted(len(leaks), 'video file')} in split train and in another under "
                      f"other ids (first: {one_line(path)}: "
                      + ", ".join(f"{one_line(e['video_id'])} ({split_of(e)})" for e in shown)
                      + "): val and test scores count videos the model trained on; give each video one entry")
    # (a val split --skip-missing emptied: build says so, not "no val split")
    splits["val_skipped"] = counts["val"] - len(splits["val"])
    splits["val_carved"] = not had_val and counts["val"] > 0  # (held out of train here: said in the log line)
    blank = drop_blank_captions(splits["train"] + splits["val"])
    has_caps = any(e.get("captions") for e in splits["train"])
    if not has_caps and not any(e.get("tags") for e in splits["train"]):
        raise DataError(f"{cfg.manifest}: nothing to learn: no training video has a caption or a tag"
                        + (f" ({counted(blank, 'caption')} {'is' if blank == 1 else 'are'} blank)" if blank else ""))
    if blank:
        warnings.warn(f"{cfg.manifest}: ignoring {counted(blank, 'blank caption')}"
                      + ("" if has_caps else "; none is left, so only the tag head is trained"))
    vocab = caption_vocabulary(splits["train"], cfg.min_count)
    if has_caps and len(vocab) == len(SPECIALS):
        raise DataError(f"{cfg.manifest}: no word occurs --min-count {cfg.min_count} times in the training captions")
    labels = Labels.build(splits["train"] + splits["val"], cfg.min_tag_count, splits["train"])
    return splits, store, modalities, vocab, labels


def write_curves(history: list[dict], out: Path) -> None:
    """metrics.csv (every epoch) and curves.png (loss, validation CIDEr, tag accuracy)."""
    keys = ["epoch", "train_loss", "CIDEr", "tag_acc", "gap", "level1_acc", "level2_acc", "tag_f1", "lic_score", "lr",
            "seconds", "samples_per_s"]
    text = io.StringIO()
    # ("\n", not csv's default "\r\n": a stray \r at each line's end for cut, awk and the like; trial 77)
    w = csv.DictWriter(text, keys, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    w.writerows(history)
    atomic_write_bytes(out / "metrics.csv", text.getvalue().encode())
    with interrupts_unwrapped():  # (the first call imports matplotlib: a second or so a signal may fall in)
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


@dataclasses.dataclass
class Run:
    """A training run as `build` sets it up, ready for its first (or resumed) epoch."""
    cfg: TrainConfig              # with the recipe's values filled in
    device: torch.device
    ddp: Dist
    log: Callable[..., None]      # print to stderr, or nothing (--quiet, ranks > 0)
    model: S2VT
    net: torch.nn.Module          # the model, or its DistributedDataParallel wrapper
    vocab: Vocab
    labels: Labels
    groups: dict                  # LIC2022 tag kinds (levels.kinds); empty for other tags
    metric: str                   # what early stopping and best.pt select on
    has_captions: bool
    text_extra: dict              # the text vocabulary, saved with every checkpoint
    meta: dict                    # the feature store's meta.json, saved with every checkpoint
    train_ds: VideoDataset
    val_ds: VideoDataset
    val_loader: torch.utils.data.DataLoader
    sampler: CaptionGroups
    epoch_batches: Callable[[], Iterable]  # an epoch's training batches: streamed from shards or from the store
    optim: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.LambdaLR
    stopper: EarlyStopping
    start_epoch: int = 1
    history: list = dataclasses.field(default_factory=list)
    finished: bool = False        # resumed after its last epoch or its early stop: nothing left to train
    refit_due: bool = False       # finished, begun with --refit: best.pt gets the refit if it lacks it (killed in it)
    first_loss: float | None = None  # the run's first step's loss (every rank's mean): what a blown-up loss is told by
    shards: dict | None = None    # a shard run's training and val shards (shardkeys.shard_ids), saved in last.pt
    # last.pt's record of the videos: every training video of the run so far (up to REFIT_IDS_MAX; shards
    # without a manifest: those streamed, `record_streamed`) and a digest of the validation ones, which a
    # --resume checks its val split against
    videos: dict = dataclasses.field(default_factory=dict)
    streamed_recorded: bool = False  # this process's streamed training ids are in `videos` (`record_streamed`)


def data_metrics(has_caps: bool, labels: Labels, groups: dict | None) -> list[str]:
    """The --metric values `validate` scores on this data (what early stopping can select on)."""
    tags = ["tag_acc"] + (["lic_score"] if groups else ["gap"] if labels.multilabel else []) if labels.names else []
    return (["CIDEr"] if has_caps else []) + tags


def check_metric(metric: str, has_caps: bool, labels: Labels, groups: dict | None) -> None:
    """Refuse a --metric this data cannot produce: early stopping would silently select on the
    training loss instead. (With no val videos every metric falls back to the loss, as said in build.)"""
    have = data_metrics(has_caps, labels, groups)
    if metric == "auto" or metric in have:
        return
    why = ("has no captions" if metric == "CIDEr" else "has no tags" if not labels.names
           else "has no LIC2022 levels (level1:/level2:/tag: names)" if metric == "lic_score"
           else "has LIC2022 levels, scored by lic_score" if groups else "has single-label tags")
    raise ConfigError(f"--metric {metric}: this data {why}; its metrics are {', '.join(have)}")


# settings that only the text branch reads: given on data without text, they do nothing (said once)
TEXT_SETTINGS = ("text_tokenizer", "text_min_count", "text_max_tokens", "text_lr", "wide_lr", "linear_c",
                 "linear_steps", "linear_refit", "text_embed", "text_fusion", "text_wide", "text_linear")


def text_settings_given(cfg: TrainConfig) -> list[str]:
    """The text settings the user changed from their defaults (those that would have an effect); a switch turned
    off is none (`--no-text-linear` on shards without text was told "--text-linear has no effect"; trial 76)."""
    defaults = {f.name: f.default for f, _ in options.settings(TrainConfig)}
    # (typed on this command line, where that is known: a --resume --no-text was told "--text-embed has no
    # effect" of the value it took from last.pt; trial 119)
    return [n for n in TEXT_SETTINGS if options.value(cfg, n) != defaults[n] and options.value(cfg, n) is not False
            and (cfg.given is None or n in cfg.given)]


def training_elsewhere(out: Path) -> Callable[[int], UserError]:
    """The refusal of a run folder another training run holds (the `busy` of `locks.take_lock`)."""
    def busy(pid: int) -> RunFolderError:
        return RunFolderError(busy_line(str(out), "another training run", pid, "is writing there",
                                        "pass another --out", out / TRAIN_LOCK))
    return busy


def refuse_training(out: Path) -> None:
    """RunFolderError while another training run holds `out` (before its files are read: they are that
    run's, changing). Rank 0 alone: under torchrun the other ranks write nothing there, and rank 0's own
    lock must not refuse them (rank 0 of a second launch is refused, which ends that launch)."""
    out = Path(out)
    if launch_rank() == 0 and out.is_dir() and (pid := training_run(out)) is not None:
        raise training_elsewhere(out)(pid)


def refuse_locked(out: Path) -> None:
    """RunFolderError while another s2vt command (an evaluate writing its predictions there) holds a
    live lock in the run folder: training would replace the model under it. A stale lock, or a file
    of such a name that is not s2vt's, is no refusal; nor is a training run's lock (`refuse_training`)."""
    for lock in sorted(p for p in out.iterdir() if is_lock_name(p.name) and p.name != TRAIN_LOCK):
        try:
            pid = lock_owner(lock)
        except OutputError:  # (not s2vt's lock)
            continue
        if pid is not None:  # (its model may be another run's: the lock says only that it writes here)
            raise RunFolderError(busy_line(str(out), "another s2vt command", pid, "is writing into this folder",
                                           "", lock))


def video_level(store, entries: list[dict], modalities: list[str], streaming: bool) -> bool:
    """Whether the features are one row a video (YouTube-8M's video-level ones): the shards' kind, else the
    files of the first training videos (a store holds one kind: its importer refuses to mix them)."""
    if streaming:
        return getattr(store, "kind", None) == "video"
    rows = [len(store.read(m, e["video_id"])) for e in entries[:20] for m in modalities if store.has(m, e["video_id"])]
    return bool(rows) and max(rows) == 1


def stray_results(out: Path, shown: int = 5) -> str:
    """The files of a run folder that are not the run's (a user's evaluate --out or export; lock files, live or
    stale, are not the user's), named as a warning names them ('' when none): what --overwrite or --resume leaves
    beside a model that may no longer be the one they were made from."""
    stray = sorted(p.name for p in out.iterdir() if p.name not in RUN_OUTPUTS and not is_lock_name(p.name))
    return ", ".join(stray[:shown]) + (f" and {len(stray) - shown} more" if len(stray) > shown else "")


def run_logger(ddp: Dist, quiet: bool) -> Callable[..., None]:
    """Rank 0's progress lines on stderr; under --quiet its warnings alone (a --stop-after that pauses nothing,
    which a scripted run lost, is said all the same; new-user trial)."""
    def log(*a) -> None:
        if ddp.main and (not quiet or (a and str(a[0]).startswith("warning:"))):
            # (each one line: a newline in --out split "resuming from ..." in two; trial 121)
            print(*map(one_line, map(str, a)), file=sys.stderr)
    return log


def take_run_folder(cfg: TrainConfig, ddp: Dist, log: Callable[..., None],
                    hold: contextlib.ExitStack | None) -> Path | None:
    """Check --out as a run folder and take it (TRAIN_LOCK, entered into `hold`), rank 0 alone, its refusal said
    once (`Dist.decided`); returns the last.pt a --resume goes on from (None: a new run), rank 0's on every rank."""
    out = Path(cfg.out)
    last_path: Path | None = None  # (rank 0's, shared once it has taken the folder below)

    def look_at_folder() -> None:  # (every rank refusing on its own printed the line once per rank, run together)
        nonlocal last_path
        refuse_training(out)
        # (a feature store's own folder: the run's files were written among its features; extract refuses a run's
        # folder alike; hostile trial)
        # (a folder inside one too, a modality's or a new one, read as a modality: `store_of` looks one level up)
        if (of := store_of(out / "best.pt")) is not None and not (
                cfg.features and os.path.realpath(cfg.features) == os.path.realpath(of)):  # (that: refuse_inputs')
            where = ("a feature store (it holds a store's meta.json)" if of == out.absolute() else
                     f"inside the feature store {printable(os.fspath(out.parent))}")
            raise RunFolderError(f"{out}: {where}, not a run folder: name another --out")
        # a run file that is a pipe or a device: refused at its first write, after training (before its 'already
        # holds a run', which --overwrite cannot answer; and before a --resume reads last.pt)
        refuse_special_outputs([out / name for name in RUN_OUTPUTS])
        last_path = resume_point(cfg)
        if any((out / name).exists() for name in RUN_FILES):
            refuse_locked(out)
    ddp.decided(look_at_folder)
    # the run's files never land in (or on) what it reads: the feature store, the manifest (refused before the
    # warnings below: --overwrite's of the folder's other files came first, then this refusal; hostile trial)
    refuse_inputs([out / name for name in (*RUN_FILES, "curves.png")], [cfg.manifest],
                  folders=[f for f in [cfg.features] if f])
    if cfg.resume and last_path is None:
        # (a warning, said under --quiet too: a typo in --out trains from scratch; a run stopped in its first
        # epoch, before any last.pt, is started again by the same command, on purpose)
        log(f"warning: --resume: no {out / 'last.pt'} to resume from: starting a new run there (is --out the run's?)")
    if cfg.overwrite and last_path is None and any((out / name).exists() for name in RUN_FILES):
        # (a user's evaluate --out or export into the run folder: left as they are, but no longer of its
        # model; lock files, live or stale, are not the user's)
        if stray := stray_results(out):
            log(f"warning: --overwrite replaces the run in {out}, not the other files there (results of the "
                f"model it replaces?): {stray}")

    def take_folder() -> None:
        nonlocal last_path
        check_writable(out)
        if hold is not None:
            hold.enter_context(locked(out / TRAIN_LOCK, training_elsewhere(out)))
            # (the folder as it is now this run's: another run may have written it since it was read above)
            last_path = resume_point(cfg)
    ddp.decided(take_folder)
    # (rank 0's: it alone read the folder again under the lock, and ranks that resumed from other last.pt files
    # would train apart, or wait in collectives the others never make)
    return ddp.gather(last_path)[0]


def build(cfg: TrainConfig, hold: contextlib.ExitStack | None = None) -> Run:
    """Device and torchrun ranks, data, model, optimiser and (with --resume) the state of last.pt;
    every check on the settings, the data and the run folder happens here, before any training.
    `hold`: the run folder's lock (TRAIN_LOCK, rank 0) is entered into it, for the caller to release."""
    device = pick_device(cfg.device)
    ddp = Dist(device)  # (first: rank 0's refusals below reach the other ranks through it, `Dist.decided`)
    out = Path(cfg.out)
    log = run_logger(ddp, cfg.quiet)  # (--quiet is this command's: a --resume never takes it from last.pt)
    last_path = take_run_folder(cfg, ddp, log, hold)
    # (mmap: copy-on-write; every rank reads it: a damaged one is refused once, by rank 0, as every check below
    # that every rank makes alike, `Dist.agreed`)
    last = ddp.agreed(lambda: read_last(last_path, device)) if last_path is not None else None
    if last is not None and "settings" in last:
        last["settings"] = upgraded_settings(last["settings"])
        upgrade_config(last)
    if last is not None:  # (before the data is read: --seed, --min-count and others decide it)
        was = last.get("settings", {})
        cfg = ddp.agreed(lambda: recorded_epochs(resumed_settings(cfg, was, last_path), last, last_path))
    streaming = shards.is_shards(cfg.features)  # training records streamed from TFRecord shards
    readers_moved = None  # (said once the run is known to train on: a finished run reads no records)
    if last is not None and streaming:
        cfg, readers_moved = resumed_workers(cfg, last.get("settings", {}))
    held = (last.get("config") or {}).get("modalities") if last is not None else None
    if held and cfg.modalities is None and not streaming:
        # (the model's modalities, not the store's: a --resume on another dataset's store was told to extract that
        # store's modalities for its videos, which the model does not read; trial 75)
        cfg = options.replace(cfg, modalities=list(held))  # (in the model's order: its features are read in it)
    with warnings.catch_warnings():
        if not ddp.main:  # (every rank reads the same manifest and store: rank 0 alone says their warnings)
            warnings.simplefilter("ignore")
        splits, store, modalities, vocab, labels = ddp.agreed(
            lambda: shards.prepare(cfg, ddp.main) if streaming else prepare(cfg))
    if labels.dropped:
        log(f"tags: {len(labels.names)} kept, {labels.dropped} topic tags dropped (on fewer than "
            f"--min-tag-count {cfg.min_tag_count} training videos)")
    # LIC2022 topic tags and how many training videos each is on (shards hold YouTube-8M classes: none)
    topics = collections.Counter(t for e in ([] if streaming else splits["train"]) for t in set(e.get("tags", []))
                                 if t.startswith(SEMANTIC))
    if topics and not any(n.startswith(SEMANTIC) for n in labels.names):
        # (every one left out: said, not found out as tag F1 0 and a lower lic_score; hostile trial)
        top, n = topics.most_common(1)[0]
        log(f"warning: --min-tag-count {cfg.min_tag_count} leaves out every topic tag (the commonest, "
            f"{top.removeprefix(SEMANTIC)!r}, is on {n} training video{'s' * (n != 1)}): the model learns none, and "
            "its tag F1 is 0")
    # (val's files too: one of another width would otherwise stop the run at its first validation)
    dims = ddp.agreed(lambda: feature_dims(store, splits["train"] + splits["val"], modalities)) if modalities else {}
    if cfg.learn_missing and modalities and not streaming:  # (an absent file reads as zero rows, as evaluate's)
        store = GapStore(store.root, dims)
    has_caps = any(e.get("captions") for e in splits["train"])
    has_tags = bool(labels.names)
    groups = kinds(labels.names)
    # settings about the video that a text-only model has no use for: said, not silent; after a --resume's
    # checks (one that refuses them as another model's said them ignored first)
    # (a --resume of a last.pt trained guided before it was ignored keeps its model: not said ignored; trial 89)
    resumed_guided = last is not None and (last.get("config") or {}).get("text_fusion") == "guided"
    unused_video = [] if modalities else (
        (["warning: --text-fusion guided is ignored: a text-only model (no --features) has no video steps for the "
          "text to attend over, so its text vector is classified alone"]
         if cfg.model.text_fusion == "guided" and not resumed_guided else [])
        + ([f"warning: --tag-head {cfg.model.tag_head} pools video steps, and a text-only model (no --features) has "
            "none: only its classifier runs, on the text vector"] if cfg.model.tag_head not in (None, *MEAN_POOLING)
           else [])
        # (accepted unsaid on a text-only manifest; trial 76)
        + [f"warning: {options.flag(k)} has no effect: a text-only model (no --features) reads no feature "
           "files" for k in ("learn_missing", "skip_missing") if getattr(cfg, k)])
    # (said ignored, so ignored: it took the recipe of a head over fused steps and made a query layer, which moved
    # the seeded start: another result; trial 83. Not for a --resume of a last.pt trained so before: its weights
    # are that model's; trial 87)
    if not modalities and cfg.model.text_fusion == "guided" and not resumed_guided:
        cfg = options.replace(cfg, text_fusion="late")
    # (before the recipe's, and not a --resume's kept from last.pt: a warning only for the user's own)
    given_dropout = cfg.model.feature_dropout if cfg.given is None or "feature_dropout" in cfg.given else None
    given_neighbours = cfg.neighbours and (cfg.given is None or "neighbours" in cfg.given)
    given_focal = cfg.tag_focal if cfg.given is None or "tag_focal" in cfg.given else None
    recipe = dict(RECIPES["captions" if has_caps else "levels" if groups else "tags"])
    if (cfg.model.tag_head or recipe["tag_head"]) not in MEAN_POOLING or cfg.model.text_fusion == "guided":
        # nextvlad and attention pool steps of the hidden size, as guided text fusion attends over them, one
        # head each: the recipe's features input and ensemble (for the mean-pooling heads) become fused, one
        recipe.update(tag_ensemble=1, tag_input="fused" if recipe["tag_input"] == "features" else recipe["tag_input"])
    # (tag_input's "auto" is the recipe's, as a None setting is)
    recipe_focal = options.value(cfg, "tag_focal") is None  # (not the user's, nor a --resume's from last.pt)
    cfg = options.replace(cfg, **{k: v for k, v in recipe.items() if options.value(cfg, k) in (None, "auto")})
    if cfg.model.tag_head not in (None, *MEAN_POOLING) and modalities and ddp.agreed(
            lambda: video_level(store, splits["train"], modalities, streaming)):
        unused_video.append(f"warning: --tag-head {cfg.model.tag_head} pools a video's steps, and these features are "
                            f"one row a video (video-level): it pools a single step, of the {cfg.model.tag_input} "
                            "features" + ("" if has_caps or groups else " (the tag-only recipe's 4 MLPs on the features "
                                          f"need a mean-pooling head: {' or '.join(MEAN_POOLING)})"))
    metric = cfg.metric if cfg.metric != "auto" else (
        "CIDEr" if has_caps else "lic_score" if groups else "gap" if labels.multilabel else "tag_acc")

    def check_settings() -> None:
        check_metric(cfg.metric, has_caps, labels, groups)
        if not has_caps and cfg.tag_weight == 0:
            raise ConfigError("--tag-weight 0 on data without captions trains nothing: the tag loss is its only "
                              "loss (pass a positive --tag-weight)")
    ddp.agreed(check_settings)
    tag_input = cfg.model.tag_input
    # (where the loss weighs negatives: LIC2022's topic tags (`level_loss`), else multi-label tags (`tag_loss`))
    # (settings said to have no effect here: a --resume's change line does not call them taken)
    inert: set[str] = set()

    def no_effect(names: list[str], why: str, shown: list[str] | None = None) -> None:
        """The one warning line for settings `names` that do nothing here, `shown` as said (default: their options)."""
        inert.update(names)
        shown = shown or [options.flag(n) for n in names]
        log(f"warning: {', '.join(shown)} {'has' if len(shown) == 1 else 'have'} no effect: {why}")
    if given_focal and not (groups["tag"] if groups else labels.multilabel):
        no_effect(["tag_focal"], "it weighs the negatives of multi-label tags, and "
                  + ("this data has no tags" if not has_tags else "these LIC2022 labels have no topic tags" if groups
                     else "each video has one tag"), [f"--tag-focal {given_focal:g}"])
    if not topics and has_tags and "min_tag_count" in (cfg.given or ()):  # (the user's own, not the default)
        no_effect(["min_tag_count"], "it counts LIC2022 topic tags (tag:...), and none of these tags is one",
                  [f"--min-tag-count {cfg.min_tag_count}"])
    # (a tag-only run resumed with another --max-len was told it took effect; trial 111)
    if not has_caps and "max_len" in (cfg.given or ()):
        no_effect(["max_len"], "it cuts captions and ends decoded ones, and this data has no captions",
                  [f"--max-len {cfg.model.max_len}"])
    # (said, not silent: --schedule step has no warmup; trial 109)
    if cfg.schedule == "step" and cfg.warmup and "warmup" in (cfg.given or ()):
        no_effect(["warmup"], "--schedule step halves the learning rate every 10 epochs from the first step, without "
                  "a warmup (--schedule cosine has one)", [f"--warmup {cfg.warmup}"])
    # (the shard readers' settings on a store: taken silently; trial 109)
    if not streaming and (readers := [k for k in ("workers", "shuffle_buffer") if k in (cfg.given or ())]):
        no_effect(readers, f"{'it reads' if len(readers) == 1 else 'they read'} TFRecord shards, and "
                  + ("--features is a feature store" if cfg.features else "there is no --features"))
    if given_dropout and tag_input != "features":
        no_effect(["feature_dropout"], f"the tag head reads the {tag_input} features (it acts with --tag-input "
                  "features)", [f"--feature-dropout {given_dropout}"])
    text_vocab = (TextVocab.build(splits["train"], cfg.text_tokenizer, cfg.text_min_count, cfg.text_max_tokens)
                  if cfg.text and has_text(splits["train"]) else None)
    if text_vocab is not None and len(text_vocab) == 1:  # (<pad> alone: every token left out; trial 95)
        said = (f"--text-min-count {cfg.text_min_count} leaves out every text token (none is on "
                f"{cfg.text_min_count:,} of the {len(splits['train']):,} training videos)")
        if not modalities:  # (a text-only model would read nothing: it answered the commonest category for all)
            raise DataError(f"{said}: a model without --features would read nothing; lower it (default 2)")
        log(f"warning: {said}: the model reads no text, only the video features")
    text_extra = {"text_vocab": text_vocab.state()} if text_vocab else {}
    unused = text_settings_given(cfg) if text_vocab is None else []
    if unused:  # (a warning, not a refusal: the run trains as it would without them)
        no_effect(unused, "--no-text leaves out the text" if not cfg.text else
                  "the training videos have no text (title, asr, ocr)")
    # (the fitted linear classifier's settings beside --no-text-linear, which turns it off: taken silently; trial 109)
    elif linear := [k for k in ("linear_c", "linear_steps", "linear_refit") if k in (cfg.given or ())
                    and not cfg.model.text_linear]:
        no_effect(linear, "--no-text-linear turns the fitted linear classifier off",
                  [(cfg.typed or {}).get(k, options.flag(k)) for k in linear])
    # the settings' architecture, with what the data decides
    mcfg = dataclasses.replace(cfg.model, modalities=dims, vocab_size=len(vocab), num_tags=len(labels.names),
                               multilabel=labels.multilabel, pad_id=vocab.pad, tag_input=tag_input,
                               text_vocab=len(text_vocab) if text_vocab else 0,
                               feature_dropout=cfg.model.feature_dropout if tag_input == "features" else 0.0,
                               # tag-only, head not on the encoder: the LSTMs would never run (no dead weight saved)
                               lstm=has_caps or vocab.has_words or (tag_input == "encoder" and bool(dims)))
    if last is not None and (older := predated(last["config"], mcfg)):
        if said := acting(older, mcfg):  # (all are taken back; those with no effect on this model go unsaid)
            log(f"warning: --resume: {last_path} was written before {', '.join(options.flag(k) for k in said)} "
                f"existed: resuming it as it was trained ({' '.join(options.as_option(k, v) for k, v in said.items())})")
        mcfg, cfg = dataclasses.replace(mcfg, **older), options.replace(cfg, **older)
    if last is not None and last["config"].get("lstm", True) and not mcfg.lstm:
        # a tag-only last.pt from before tag-only models left the LSTMs out holds their weights: keep them; and
        # so does the last.pt its --resume wrote, which says lstm: True (read as absent only, a second --resume
        # of such a run was refused: 'weight embed.weight is not in the model'; hostile trial)
        mcfg = dataclasses.replace(mcfg, lstm=True)
    val_ids = [e["video_id"] for e in splits["val"]]
    videos = {"val_digest": hashlib.sha1("\n".join(sorted(val_ids)).encode()).hexdigest()[:16]}
    was_trained = set(last.get("trained_ids") or []) if last is not None else set()

    def same_run() -> None:  # (--resume: the run's data and model, else one line naming what differs)
        # the split first: a manifest split again (another seed) has another vocabulary too (the training
        # captions changed), which check_resumable would say instead of the cause
        if cfg.manifest and (seen := [v for v in val_ids if v in was_trained]):
            raise DataError(f"--resume: {len(seen)} of the {len(val_ids)} validation videos of {cfg.manifest} "
                            f"are videos the run in {last_path} trained on (first: "
                            + ", ".join(seen[:3]) + (", ..." if len(seen) > 3 else "")
                            + "): validating on them inflates the scores and best.pt's choice; pass the "
                              "manifest (and --seed) the run started with")
        resplit = last.get("val_digest") not in (None, videos["val_digest"])
        try:
            was = last.get("settings", {})
            check_resumable(last, mcfg, vocab, labels, last_path, text_extra.get("text_vocab"),
                            tags_cause(was, cfg, streaming), resplit,
                            vocabulary_causes(cfg, last, splits["train"], vocab, text_extra.get("text_vocab")))
            # the features must be those the run trained on: evaluate's check, before an epoch mixes the two
            problem = feature_mismatch(store.meta(), last.get("extract") or {}, modalities) if modalities \
                else None
            if problem:
                raise StoreError(f"--resume: {getattr(store, 'meta_path', cfg.features)}: {problem} ({last_path})")
        except (DataMismatch, StoreError) as e:
            # data that differs, given other data paths than the run's: those paths, the likelier cause,
            # said first (the vocabulary's difference read as a changed split, a hostile trial's --resume onto
            # another dataset); TFRecord shards are matched by name, not path (`shards`)
            # (a path the cause names already, as tags_cause does, is not said twice)
            moved = {k: v for k, v in other_data(cfg, last.get("settings", {}), streaming).items()
                     if f"{options.flag(k)} {shell_quote(str(v))}" not in str(e)}
            if moved:
                e.args = (f"--resume: the run in {out} started with "
                          + " ".join(f"{options.flag(k)} {shell_quote(str(v))}" for k, v in moved.items())
                          + (" (as typed in the folder it started in)" if any(not os.path.isabs(str(v))
                                                                              for v in moved.values()) else "")
                          + ", not this command's: pass the data it trained on (or --overwrite in place of "
                            "--resume to train anew on these); what differs: " + str(e).removeprefix("--resume: "),)
            raise
    torch.manual_seed(cfg.seed)
    try:
        model = S2VT(mcfg)
    except SettingError:
        if last is not None:  # (a --resume's change that the model refuses is a change first: "pass --tag-head
            # mlp to resume it", not "--tag-input features works with mlp or moe only", a setting last.pt chose;
            # after the data's checks, in their order, as a model it builds; said once under torchrun; trial 104)
            ddp.agreed(same_run)
        raise
    if recipe_focal and cfg.tag_focal and not (cfg.neighbours and takes_neighbours(model, groups)
                                               and any(e.get("tags") for e in splits["val"])):
        # (the recipe's focal negatives measured better only blended with the neighbours: the network alone
        # scored lower with them, docs/benchmarks.md "Focal negatives"; nor do the neighbours run without val
        # tags to choose their blend on)
        cfg = options.replace(cfg, tag_focal=0.0)
    if given_neighbours and not takes_neighbours(model, groups):
        no_effect(["neighbours"], "it blends in multi-label tags by video features, and "
                  + ("this model has no video features" if not dims else "these are LIC2022 levels" if groups
                     else "each video has one tag" if has_tags else "this data has no tags"))
    if modalities:
        empty: list[str] = []
        model.fusion.set_stats(feature_stats(splits["train"], store, modalities, seed=cfg.seed,
                                             transform=squash if mcfg.log_features else None, empty=empty))
        if empty and last is None and ddp.rank == 0:  # (trained silently on nothing of it: trial 78)
            others = [m for m in modalities if m not in empty]
            print(f"warning: every training video's {' and '.join(empty)} features are empty (0 frames"
                  f"{': no sound' if empty == ['vggish'] else ''}): the model learns nothing from "
                  f"{'them' if len(empty) > 1 else 'it'}" + (f"; --modalities {','.join(others)} trains without"
                                                             if others else ""), file=sys.stderr)
    model = model.to(device)
    train_ds = (store.stream(cfg, labels, ddp.rank, ddp.world) if streaming else
                VideoDataset(splits["train"], store, modalities, vocab, labels if has_tags else None,
                             cfg.model.max_len, cfg.seed, cfg.per_caption, text_vocab, cfg.caption_weights))
    val_ds = VideoDataset(splits["val"], store, modalities, vocab, labels if has_tags else None, cfg.model.max_len,
                          cfg.seed, text_vocab=text_vocab)
    if modalities and last is None and not streaming:  # (a val file that cannot be read: said now,
        # not after an epoch of training; from shards val is read whole before training anyway)
        for e in splits["val"]:
            for m in modalities:
                if store.has(m, e["video_id"]):
                    store.read(m, e["video_id"])
    val_loader = batches(val_ds, cfg.batch_size)
    sampler = train_ds.sampler if streaming else ddp.agreed(lambda: CaptionGroups(
        train_ds, cfg.batch_size, cfg.per_video if cfg.per_caption else 1, cfg.seed, ddp.rank, ddp.world))
    epoch_batches = ((lambda: train_ds.batches(device)) if streaming else
                     (lambda: batches(train_ds, cfg.batch_size, sampler)))
    optim = optimiser(model, cfg)
    sched = torch.optim.lr_scheduler.LambdaLR(optim, lr_factor(cfg, len(sampler)))
    start_epoch, stopper, history, finished, refit_due = 1, EarlyStopping(cfg.patience), [], False, False
    # (what a --resume compares its shards with: not the flags, a glob or a folder can name other files later)
    shard_list = ({"features": shardkeys.shard_ids(store.files),
                   "val_features": shardkeys.shard_ids(store.val_files)}
                  if streaming else None)
    if streaming:
        shard_list["trained"] = shard_list["features"]
    first_loss = None
    if cfg.manifest:  # (the manifest's training videos; from shards: the train split, streamed ones among them)
        now_ids = list(store.tags) if streaming else [e["video_id"] for e in splits["train"]]
        before = last.get("trained_ids", []) if last is not None else []
        if last is not None and last.get("trained_ids_skipped"):
            videos["trained_ids_skipped"] = True
        else:
            ids = list(dict.fromkeys([*before, *now_ids]))
            if len(ids) <= REFIT_IDS_MAX:
                videos["trained_ids"] = ids
            else:
                log(f"note: {len(ids)} training videos, over {REFIT_IDS_MAX}: last.pt does not list them, so a later "
                    "--resume cannot check that its validation videos are not among them")
                videos["trained_ids_skipped"] = True
    elif streaming and last is not None:  # (no manifest: the ids are known as they stream, `record_streamed`)
        videos.update({k: last[k] for k in ("trained_ids", "trained_ids_skipped") if k in last})
    if last is not None:
        def resumable() -> tuple[int, list, EarlyStopping, bool]:  # (every rank's checks alike: `Dist.agreed`)
            same_run()
            load_weights(model, last["model"], last_path)
            load_training_state(optim, sched, last, cfg, len(sampler), last_path)
            start_epoch, stopper = last["epoch"] + 1, EarlyStopping(cfg.patience, best=last["best"],
                                                                    bad=last["bad_epochs"])
            finished = start_epoch > cfg.epochs or stopper.stop
            # a run paused before its own --epochs (--stop-after, a kill) cannot end before epochs it trained:
            # --epochs below them was called "already finished" at that epoch, then refitted for best.pt's
            ends = saved_epochs(last)
            if not stopper.stop and cfg.epochs < last["epoch"] and ends is not None and ends > last["epoch"]:
                raise RunFolderError(f"{out}: --resume --epochs {cfg.epochs}: the run is at epoch {last['epoch']} "
                                     f"(of its --epochs {ends}): pass --epochs {last['epoch']} to end it there, more "
                                     "to train on, or --overwrite in place of --resume to start over")
            # (a pause at an epoch already done: it trained one more, then said it paused after the epoch it asked)
            if not finished and cfg.stop_after is not None and cfg.stop_after < start_epoch:
                raise RunFolderError(f"{out}: --resume --stop-after {cfg.stop_after}: the run is at epoch "
                                     f"{last['epoch']} (of its --epochs {cfg.epochs}): pass --stop-after above "
                                     f"{last['epoch']} to pause it later, or leave it out to train on")
            if not finished and not streaming:
                same_steps(last, len(sampler), cfg, out, ddp.world)
            return start_epoch, list(last["history"]), stopper, finished
        start_epoch, history, stopper, finished = ddp.agreed(resumable)
        if not finished and (moved := resumed_world(last, ddp.world)):
            log(f"warning: --resume: {last_path} was {moved}")
        if not finished and readers_moved:
            log(readers_moved)

        def best_kept() -> None:  # (rank 0's: it writes best.pt)
            # (resumed epochs that do not beat last.pt's best would leave the run without any model)
            if not (out / "best.pt").exists():
                raise RunFolderError(f"{out}: last.pt is at epoch {start_epoch - 1} but best.pt, the model val "
                                     "chose, is missing: pass --overwrite in place of --resume to train it "
                                     "again")
        if not finished:
            ddp.decided(best_kept)
        if not finished and ddp.main and (stray := stray_results(out)):
            # (evaluate's predictions of the paused run's best.pt stayed beside the one the resumed run replaced it
            # with, read as its own; hostile trial)
            log(f"warning: --resume trains on the run in {out}, and best.pt may change: the other files there were "
                f"made before (results of the model it may replace?): {stray}")
        # (last.pt's setting, not this command line's: a finished run's changed settings are ignored)
        refit_due = finished and bool(last.get("settings", {}).get("refit"))
        first_loss = last.get("first_loss")  # (None in a last.pt from before it was saved: the resumed first step's)
        if "settings" in last:  # (a last.pt from before they were saved: nothing to compare)
            was = dict(last["settings"])
            if was.get("modalities") is None and cfg.modalities:  # (None: every one in the store, those its
                # model reads; naming them is no change)
                was["modalities"] = list(last["config"].get("modalities") or {}) or None
            warning = changed_settings(was, cfg,
                                       ("patience" if stopper.stop else "epochs") if finished else None, inert)
            # (a run begun with --neighbours takes the recipe's focal negatives with them; one begun without kept
            # --tag-focal 0, which a --resume --neighbours goes on with: said, not left to be found out)
            if (warning and not finished and cfg.neighbours and not was.get("neighbours") and "neighbours" not in inert
                    and not cfg.tag_focal and "tag_focal" not in (cfg.given or ()) and recipe.get("tag_focal")):
                warning += (f"; --tag-focal stays {cfg.tag_focal:g}, as the run trained (a run begun with --neighbours "
                            f"takes the recipe's {recipe['tag_focal']:g}: pass --tag-focal {recipe['tag_focal']:g} "
                            "for it)")
            if warning:
                log(warning)
            # the values in use, saved again with last.pt: a later --resume compares with them; a
            # finished run's steps still to do (the linear fit, the refit, the memory) use all of the
            # run's own settings, as the warning says, so that they give what the unbroken run gave
            now = run_settings(cfg)
            keep = ([k for k in last["settings"] if k in now and k not in RESUME_UNREPORTED] if finished
                    else [k for k in RESUME_IGNORED if k in last["settings"]])
            # (a hand-edited min_count '2' read as the typed --min-count refused, whose typing changed nothing; trial
            # 122, 125)
            cfg = with_saved(cfg, {k: last["settings"][k] for k in keep}, last_path, finished)
        was_shards = last.get("shards") or shards.named_then(last.get("settings", {}))

        def val_apart() -> None:  # (every training shard the run ever had: a later val shard must not be one)
            if not cfg.manifest and was_shards:
                shards.refuse_trained_val(shards.trained_shards(was_shards, []), shard_list["val_features"],
                                          cfg.val_features, str(last_path))
            shard_list["trained"] = shards.trained_shards(was_shards, shard_list["features"])
            # (the videos, wherever they sit: a val file holding training shards' records, concatenated or
            # re-exported, is another shard by its identity; val is read whole anyway, a set look-up each)
            if not cfg.manifest and (seen := [v for v in val_ids if v in was_trained]):
                raise DataError(f"--resume: --val-features {cfg.val_features}: {len(seen)} of its {len(val_ids)} "
                                f"videos are videos the run in {last_path} trained on (first: "
                                + ", ".join(seen[:3]) + (", ..." if len(seen) > 3 else "")
                                + "): validating on them inflates the scores and best.pt's choice; pass validation "
                                  "shards whose videos the run never trained on")
        if streaming:  # (every rank's check alike: said once, `Dist.agreed`)
            ddp.agreed(val_apart)
        on_loss = not any(metric in h for h in last["history"])
        best_said = f"training loss {-last['best']:.4g}" if on_loss else f"{metric} {last['best']:.3f}"
        warning = None
        if streaming and not finished and was_shards:
            warning = shards.changed_shards(was_shards, shard_list, last.get("settings", {}),
                                            {"features": cfg.features, "val_features": cfg.val_features}, best_said)
            if warning:
                log(warning)
        if (not finished and last.get("val_digest") not in (None, videos["val_digest"])
                and not (warning and "--val-features" in warning)):
            log(f"warning: --resume: the {len(val_ids)} validation videos are not those of {last_path}'s epochs: the "
                f"epochs to come are compared with best.pt's {best_said}, measured on other videos")
        if not finished and (late := late_epochs(cfg, last, len(sampler), sched.last_epoch, sched.base_lrs[0])):
            log(late)
        if not finished:
            log(f"resuming from {last_path} at epoch {start_epoch}")
    for line in unused_video if not finished else []:  # (a finished run trains nothing: said when it trained)
        log(line)
    net = (distributed(model, may_leave_parts_unused(splits["train"], has_caps, model.idle_without_captions()))
           if ddp.world > 1 else model)
    meta = store.meta() if store is not None else {}
    run = Run(cfg, device, ddp, log, model, net, vocab, labels, groups, metric, has_caps, text_extra, meta,
              train_ds, val_ds, val_loader, sampler, epoch_batches, optim, sched, stopper, start_epoch, history,
              finished, refit_due, first_loss, shard_list, videos)
    if not finished:  # (a finished run trains nothing: train() says so instead)
        say_start(run, splits, dims, text_vocab, streaming)
    return run


def say_start(run: Run, splits: dict, dims: dict, text_vocab: TextVocab | None, streaming: bool) -> None:
    """The run's first line (its videos, steps, inputs, labels and what best.pt is chosen on), and a note where
    early stopping has no val metric to choose on."""
    cfg, train_ds, val_ds, labels, groups, metric = (run.cfg, run.train_ds, run.val_ds, run.labels, run.groups,
                                                     run.metric)
    # val videos without what the metric scores (captions for CIDEr, tags for the others): validate has
    # no metric to give, and early stopping falls back to the training loss, as with no val at all
    refs = "captions" if metric == "CIDEr" else "tags"
    scored = any(e.get(refs) for e in splits["val"])
    # (shards without a manifest: their records, counted before any is read, a video in two of them twice)
    counted = "records" if streaming and getattr(train_ds, "tags", None) is None else "videos"
    alone = 0 if streaming else sum(bool(e.get("captions_only")) for e in train_ds.entries)
    steps = len(run.sampler)
    cut = text_vocab is not None and text_vocab.found > len(text_vocab) - 1 and run.start_epoch == 1
    run.log(f"train {len(train_ds) if streaming else len(train_ds.entries)} {counted} ("
            + (f"{alone} of them captions alone, " if alone else "") + f"{len(train_ds)} items, "
            f"{steps} step{'s' * (steps != 1)} an epoch) / val "
            f"{len(val_ds)} video{'s' * (len(val_ds) != 1)}"
            + (" (a seeded tenth of train: the manifest has no val split), " if splits.get("val_carved") else ", ")
            + f"modalities {shown_modalities(dims)}, "
            + (f"vocab {len(run.vocab)}, " if run.has_captions else "")  # (tag-only: no caption vocabulary is used)
            + (f"text {len(text_vocab) - 1} {cfg.text_tokenizer} token{'s' * (len(text_vocab) != 2)}"  # (<pad>
               # is no token: 1 was said for none)
               # (how many --text-max-tokens left out, unsaid before, trial 116; a resumed run's are last.pt's, and a
               # count by this command's other --text-min-count read as a new vocabulary, trial 117)
               + (f" of {text_vocab.found} (--text-max-tokens, " if cut else " (")
               + f"{run.model.cfg.text_fusion + ' fusion' if dims else 'text alone'}), " if text_vocab else "")
            + (f"{len(labels.names)} labels (LIC2022: {len(groups['level1'])} level 1, {len(groups['level2'])} "
               f"level 2, {len(groups['tag'])} topic tags), " if groups else
               f"{len(labels.names)} tags ({'multi' if labels.multilabel else 'single'}-label), " if labels.names
               else "")  # (caption-only data: nothing to say about tags)
            + f"select on {metric if scored else 'training loss'}, "
            f"{run.device}")
    if not len(val_ds):
        why = (f"--skip-missing left out all {splits['val_skipped']} videos of the val split: they lack features"
               if splits.get("val_skipped") else "no val split, and too few training videos to hold one out")
        # (the steps chosen on val, or trained on it, are said not to run: a run ended with no word of them)
        val_steps = {"the refit on train + val": cfg.refit,
                     "the tag neighbours": cfg.neighbours and takes_neighbours(run.model, groups),
                     "the linear path's fit": run.model.linear is not None and groups}
        skipped = [name for name, on in val_steps.items() if on]
        run.log(f"note: no validation videos ({why}): early stopping and best.pt use the training loss"
                + (f"; without val, {' and '.join(skipped)} will not run" if skipped else ""))
    elif not scored:
        run.log(f"note: none of the {len(val_ds)} validation videos has {refs} to score {metric} on: early stopping "
                "and best.pt use the training loss")
    elif metric == "CIDEr" and blind_cider(val_refs := {e["video_id"]: e["captions"] for e in splits["val"]
                                                        if e.get("captions")}):
        # (`import folder --val 1`, or val videos given the same captions: val CIDEr-D 0 at every epoch, best.pt
        # epoch 1's, unsaid; trial 130)
        why = ("one validation video has captions, and CIDEr-D over one video is 0 whatever the caption (every "
               "n-gram is in all of its references)" if len(val_refs) == 1 else
               f"the references of all {len(val_refs)} validation videos hold the same n-grams, and CIDEr-D over "
               "them is 0 whatever the caption (an n-gram in every video's references weighs nothing)")
        run.log(f"warning: {why}: val cannot pick an epoch, and best.pt stays the first epoch's; hold out more "
                "videos as val (import's --val N)")


class Paused(dict):
    """What `train` returns for a run paused by --stop-after before its --epochs: the best metrics so far,
    and `line`, the one line that says so (not a finished run's result: nothing has ended it)."""

    def __init__(self, metrics: dict, line: str):
        super().__init__(metrics)
        self.line = line


def train(cfg: TrainConfig) -> dict:
    """Train until `epochs` or early stopping; returns the best validation metrics (`Paused` when
    --stop-after paused the run before them)."""
    # (build makes --out before reading the data: a refusal, or a stop before anything is written
    # in it, leaves no empty folder behind)
    # (the run folder's lock released before an empty folder is removed)
    with removed_if_failed(cfg.out), contextlib.ExitStack() as hold:
        try:
            return train_run(cfg, hold)
        except BaseException:
            # (under torchrun, a refusal's way out: the process group left to the interpreter's teardown kept
            # gloo's threads alive past it, and a rank could abort there, "terminate called without an active
            # exception", exit -6 for its exit 2; ended here, on this rank alone: no barrier, the others may be
            # gone. A run's normal end closes it in train_run, `Dist.close`)
            if dist.is_available() and dist.is_initialized():
                dist.destroy_process_group()
            raise


def end_run_at(last: Path, epoch: int) -> None:
    """Record in `last` (a paused run's last.pt) that the run ends at `epoch`, the one it is at: its --epochs."""
    ckpt = read_checkpoint(last)
    ckpt["settings"] = {**ckpt.get("settings", {}), "epochs": epoch}
    with interrupts_held():
        write_checkpoint(last, ckpt)


def train_run(cfg: TrainConfig, hold: contextlib.ExitStack | None = None) -> dict:
    run = build(cfg, hold)
    cfg, model, log, out = run.cfg, run.model, run.log, Path(cfg.out)
    if run.finished:  # nothing is trained or fitted: best.pt's result, as when it finished
        best, done = best_result(out), run.start_epoch - 1
        # (the early-stopping count last.pt holds, not this command's --patience: what would train on)
        more = (f"--patience above {run.stopper.bad}" if run.stopper.stop else f"--epochs above {done}")
        def best_kept() -> None:  # (rank 0's: it writes best.pt)
            if not (out / "best.pt").exists():
                raise RunFolderError(f"{out}: the run finished at epoch {done} but its best.pt is missing: pass "
                                     "--overwrite in place of --resume to train it again")
        run.ddp.decided(best_kept)
        # (cfg holds last.pt's --epochs now: below it, this command's --epochs, the epoch it is at, ends the run)
        ended = ("" if run.stopper.stop or done >= cfg.epochs
                 else f"--epochs {done} ends the run at epoch {done}, where it is")
        # (what best.pt lacks is said first: "nothing to train", then minutes of refit, was untrue; hostile trial)
        done_ckpt = best_done(run)  # (read once: the steps it lacks, and whether it lists them)
        steps = steps_named(*steps_due(run, done_ckpt, resumed=True)) if done_ckpt is not None else ""
        # (a best.pt that lists steps still due was stopped before they were done; else an older s2vt's, or edited)
        why = ("stopped while they ran" if steps and steps_left(done_ckpt)
               else "stopped while they ran, or written by an older s2vt without them")
        lacks = ("doing its last steps" if ended
                 else f"all epochs trained; doing the last steps best.pt lacks ({why}), as the run was")
        log(f"{out}: " + (ended or f"the run already finished at epoch {done}")
            + (f" (best epoch {best['epoch']})" if "epoch" in best else "")
            + (f": {lacks}: {steps}" if steps
               else f": nothing to train ({more} to train on, --overwrite in place of --resume to start "
                 "over)"))
        if steps and run.ddp.main and (stray := stray_results(out)):  # (as a resume that trains says it: evaluate's
            # predictions of the stopped run's best.pt stayed beside the finished one, unsaid; trial 90)
            log(f"warning: --resume finishes the run in {out}, and best.pt changes: the other files there were made "
                f"before (results of the model it replaces?): {stray}")
        # (last.pt still held its --epochs: a later --resume would train on past it; before the last steps, so that
        # one stopped during them resumes as an ended run, and the interrupted line knows it; review)
        if ended and run.ddp.main:
            end_run_at(out / "last.pt", done)
        # a run stopped (Ctrl-C) during its last steps, or finished before training wrote caption
        # memories: what best.pt still lacks is done now
        best = finish(run, resumed=True) or best
        run.net = run.model  # (its DDP wrapper freed before the process group: `Dist.close`)
        run.ddp.close()
        return best
    best_metrics: dict = {}
    paused = False
    if cfg.stop_after is not None and cfg.stop_after >= cfg.epochs:
        # (a pause at or past the last epoch is none: the run trained to its end unsaid; new-user trial)
        log(f"warning: --stop-after {cfg.stop_after} pauses nothing: the run ends at --epochs {cfg.epochs} and does "
            "its last steps" + (" (pass --epochs above it to train on after the pause)"
                                if cfg.stop_after > cfg.epochs else ""))
    for epoch in range(run.start_epoch, cfg.epochs + 1):
        torch.manual_seed(cfg.seed * 1000 + epoch)  # dropout / sampling depend on (seed, epoch) only: resumable
        run.train_ds.set_epoch(epoch)
        run.sampler.set_epoch(epoch)
        t0 = time.time()
        # a bar on a terminal only (a log file or a test gets the one line per epoch)
        first = [] if run.first_loss is None else None
        try:
            # (a stream's epoch is set to end where the schedule counted it to: its steps are not known before)
            total, steps, seen = train_one_epoch(run.net, run.epoch_batches(), run.optim, run.sched, cfg,
                                                 run.vocab.pad, model.cfg.multilabel, run.groups, run.device,
                                                 f"epoch {epoch}",
                                                 not cfg.quiet and run.ddp.main and sys.stderr.isatty(), first,
                                                 epoch * len(run.sampler) if shards.is_shards(cfg.features) else None)
            if first is not None:
                run.first_loss = first_step_loss(run.ddp, first)
            loss = run.ddp.mean(total, steps)  # every rank's steps, so the logged loss is the global batches'
            # (before validation and any checkpoint: a finite but blown-up loss never becomes best.pt)
            check_epoch_loss(loss, run.first_loss, f"epoch {epoch}", cfg)
            if run.has_captions and model.fusion is not None:  # (what the caption memory is made of)
                check_summaries(model, run.val_loader, run.device, f"epoch {epoch}", cfg)
        except DivergedError as e:
            kept = best_result(out).get("epoch")
            raise DivergedError(f"{e} and train again" + (
                f" (--overwrite); {out / 'best.pt'} keeps epoch {kept}, the best before it (at that --lr, it may be "
                "unusable too)" if kept is not None
                else "; no checkpoint was written")) from None
        secs = time.time() - t0
        val = validate(model, run.val_loader, run.vocab, run.labels, run.device) if len(run.val_ds) else {}
        if "tag_threshold" in val:  # the one place it is set: the checkpoints below predict with it
            model.cfg.tag_threshold = val["tag_threshold"]
        row = {"epoch": epoch, "train_loss": loss, "lr": run.optim.param_groups[0]["lr"], "seconds": round(secs, 2),
               # (every rank's count: rank 0's times the ranks overstated it where their shares differ)
               "samples_per_s": round(sum(run.ddp.gather(seen)) / secs, 1) if secs else 0.0,
               **{k: v for k, v in val.items() if isinstance(v, float)}}
        # (the schedule length this epoch trained under: --resume may change --epochs; the refit replays it)
        # (and the optimiser steps an epoch had: the schedule counts steps, which a --resume must keep: `same_steps`)
        run.history.append({**row, "schedule_epochs": cfg.epochs, "steps": len(run.sampler)})
        improved = run.stopper.step(val.get(run.metric, -row["train_loss"]))
        if improved:
            best_metrics = row
        # 4 significant digits: a converged tag loss (0.007 on YouTube-8M, less on small data) reads 0.000 at :.3f
        log(", ".join([f"epoch {epoch}: loss {row['train_loss']:.4g}",
                       *(f"{k} {v:.3f}" for k, v in row.items() if k in ("CIDEr", "tag_acc", "gap", "tag_f1",
                                                                         "level1_acc", "level2_acc", "lic_score")),
                       f"{row['samples_per_s']:.0f} samples/s"]) + (" *best*" if improved else ""))
        record_streamed(run)
        if run.ddp.main:
            # both of the epoch's checkpoints or neither: a Ctrl-C between them (epoch 1) left best.pt without
            # the last.pt that --resume needs, and later ones a best.pt newer than last.pt's record of it; and
            # its metrics.csv and curves.png with them: a Ctrl-C held there came out before them (Ctrl-C pressed
            # six times after "epoch 1": a run folder without them, until a later epoch wrote them); a full disk
            # too (`write_checkpoints`: at last.pt, the first epoch's best.pt was left alone, a run that could be
            # neither resumed nor trained again without --overwrite; hostile trial)
            with interrupts_held():
                def best() -> dict:
                    return checkpoint_of(model, run.vocab, run.labels, run.meta, epoch, row,
                                         {**run.text_extra, **training_ids(run), **vocabulary_used(cfg),
                                          **unfinished(run)},
                                         has_captions=run.has_captions)

                def last() -> dict:
                    return checkpoint_of(model, run.vocab, run.labels, run.meta, epoch, row,
                                         {**run.text_extra, "optimizer": run.optim.state_dict(),
                                          "scheduler": run.sched.state_dict(), "best": run.stopper.best,
                                          "bad_epochs": run.stopper.bad, "history": run.history,
                                          "settings": run_settings(cfg), "first_loss": run.first_loss,
                                          "world": run.ddp.world,  # (a --resume under another one warns)
                                          **({"shards": run.shards} if run.shards else {}), **run.videos},
                                         has_captions=run.has_captions)
                write_checkpoints([*([(out / "best.pt", best)] if improved else []), (out / "last.pt", last)])
                write_curves(run.history, out)
        if run.stopper.stop:
            on_loss = run.metric not in val  # (the stopper was fed -loss: shown as the loss)
            log(f"early stopping: no improvement in {'training loss' if on_loss else run.metric} for {cfg.patience} "
                f"checks (best {-run.stopper.best if on_loss else run.stopper.best:.4g})")
            break
        if cfg.stop_after is not None and epoch >= cfg.stop_after:
            paused = epoch < cfg.epochs
            break
    if not paused:  # the fit and the memory are part of finishing a run, not of a --stop-after pause
        best_metrics = finish(run) or best_metrics
    run.net = run.model  # (its DDP wrapper freed before the process group: `Dist.close`)
    run.ddp.close()
    # a resumed run whose best epoch came before it: best.pt's, not nothing
    best_metrics = best_metrics or (best_result(out) if run.ddp.main else {})
    if paused:
        # (--resume beside the --overwrite of the command that began it was refused; trial 106)
        return Paused(best_metrics, f"paused after epoch {epoch} of {cfg.epochs} (--stop-after {cfg.stop_after}): "
                                    f"{out / 'last.pt'} kept; rerun the same command with --resume"
                                    + " in place of --overwrite" * bool(cfg.overwrite)
                                    + " and without --stop-after to train on")
    return best_metrics


def record_streamed(run: Run) -> None:
    """A shard run without a manifest: the training ids this process's first epoch streamed
    (`ShardStream.streamed`), every rank's, are added to last.pt's "trained_ids" (a manifest run's key: a
    later --resume refuses val videos among them, wherever they sit). Over REFIT_IDS_MAX, none are kept
    ("trained_ids_skipped", said once), as for a manifest. Once a process (its later epochs stream the same
    records), after its first epoch; every rank calls it (the gather is collective)."""
    ids = getattr(run.train_ds, "streamed", None)
    if run.streamed_recorded or run.cfg.manifest or not shards.is_shards(run.cfg.features) or ids is None:
        return
    run.streamed_recorded = True
    mine = sorted(ids) if len(ids) <= REFIT_IDS_MAX else None  # (a rank over it: the run is over it)
    parts = run.ddp.gather(mine)
    if run.videos.get("trained_ids_skipped"):
        return
    both = (list(dict.fromkeys([*run.videos.get("trained_ids", []), *(v for p in parts for v in p)]))
            if all(p is not None for p in parts) else None)
    if both is not None and len(both) <= REFIT_IDS_MAX:
        run.videos["trained_ids"] = both
        return
    run.videos.pop("trained_ids", None)
    run.videos["trained_ids_skipped"] = True
    run.log(f"note: over {REFIT_IDS_MAX} training videos: last.pt does not list them, so a later --resume cannot "
            "check that its validation videos are not among them")


def best_result(out: Path) -> dict:
    """The metrics best.pt was saved with (as `train` returns them); {} without a best.pt."""
    path = out / "best.pt"
    return dict(read_checkpoint(path)["metrics"]) if path.exists() else {}
