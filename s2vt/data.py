"""Manifest + feature store -> a torch Dataset of (features, captions, tags), collate, splits."""
from __future__ import annotations

import collections
import dataclasses
import math
import os
import random
import warnings

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from .consensus import caption_consensus
from .errors import UserError, counted
from .store import FeatureStore, StoreError

from .formats import LEVEL1, SEMANTIC
from .manifest import split_of
from .text import TextVocab, collate_text
from .vocab import Vocab, tokenize


class DataError(UserError):
    """Data that cannot be trained or evaluated on; one line for the user."""


def assign_val(entries: list[dict], fraction: float = 0.1, seed: int = 0) -> list[dict]:
    """If no entry is in `val`, move a seeded `fraction` of `train` there (at least one; never a video of
    captions alone: there is nothing of it to caption)."""
    if any(split_of(e) == "val" for e in entries):
        return entries
    train = [e for e in entries if split_of(e) == "train" and not e.get("captions_only")]
    if len(train) < 2:
        return entries
    k = max(1, int(round(len(train) * fraction)))
    for e in random.Random(seed).sample(train, k):
        e["split"] = "val"
    return entries


def empty_training_split(manifest, counts: dict[str, int], labelled: bool = True) -> DataError:
    """The error for a manifest left without a training video: which splits it has (`counts`: the
    videos of each split as read, before any were skipped for missing features) and how to make a
    training split (hold_out takes val and test from train, so a file imported whole as val or test
    needs `--split train` first). `labelled`: whether any of its videos has a caption or a tag; none has
    in what `s2vt import folder` writes, which no split would make trainable."""
    if not any(counts.values()):  # (an empty file: no split, nor an import, mends that)
        return DataError(f"{manifest}: the manifest has no video")
    if counts.get("train"):  # (only --skip-missing empties a split that had videos)
        return DataError(f"{manifest}: the training split is empty: none of its {counts['train']} training videos "
                         "has features (--skip-missing left them all out)")
    held = "only " + " and ".join(f"{s} ({n})" for s, n in counts.items() if n)
    if not labelled:  # (import folder has no --split: advice to pass it was untrue)
        return DataError(f"{manifest}: the training split is empty (the manifest has {held}), and none of its videos "
                         "has a caption or a tag to learn from (videos for a trained model to answer for, as s2vt "
                         "import folder, or import features of clips without captions, writes them): train on an "
                         "annotated dataset's manifest (s2vt import msvd, msrvtt, lic2022, mlds, yt8m or features)")
    # (each option named with the importers that have it: hostile trial)
    return DataError(f"{manifest}: the training split is empty (the manifest has {held}): import the videos with "
                     "--split train (s2vt import msrvtt, yt8m or features) and hold some out with --val N / --test N "
                     "(s2vt import msrvtt, lic2022, mlds or features), or set their \"split\" to \"train\" in the "
                     "manifest")


class GapStore(FeatureStore):
    """A store as `evaluate` reads it for a checkpoint, and training with --learn-missing: an absent feature file
    reads as zero rows (the model's missing vector stands in, as for a silent video's audio), and a file whose
    shape the model cannot take is refused naming it."""

    def __init__(self, root: str | os.PathLike, dims: dict[str, int]) -> None:
        super().__init__(root)
        self.dims = dims

    def read(self, modality: str, video_id: str) -> np.ndarray:
        if not self.has(modality, video_id):
            return np.zeros((0, self.dims[modality]), np.float32)
        x = super().read(modality, video_id)
        if x.ndim != 2 or x.shape[1] != self.dims[modality]:
            raise StoreError(f"{self.path(modality, video_id)}: shape {list(x.shape)}, the checkpoint takes "
                             f"[T, {self.dims[modality]}]")
        return x


def check_features(entries: list[dict], store: FeatureStore, modalities: list[str], skip_missing: bool,
                   learn_missing: bool = False) -> list[dict]:
    """Entries whose feature files all exist; missing ones are an error unless `skip_missing` (left out) or
    `learn_missing` (kept, read through `GapStore`: the model's missing vector stands in for the files they lack
    and is learnt, as evaluate then predicts such videos). Counted
    over all `entries` (training checks train and val at once), by split when they are in several.
    Refused too: a video of captions alone (`captions_only`) that has features (its mark would throw them
    away unsaid), and a training split of such videos alone (no video to standardise the features on)."""
    alone = [e["video_id"] for e in entries if e.get("captions_only")]
    if featured := [v for v in alone if any(store.has(m, v) for m in modalities)]:
        raise DataError(f"{len(featured)} videos marked 'captions_only' (captions and no features) have features in "
                        f"{store.root} (first: {', '.join(featured[:5])}): remove the mark from their manifest entries "
                        "to train on their features")
    if alone and all(e.get("captions_only") for e in entries if split_of(e) == "train"):
        raise DataError(f"every one of the {len(alone)} training videos is of captions alone ('captions_only'): "
                        "a model needs training videos with features")
    lost = [e for e in entries if not e.get("captions_only") and not store.done(e["video_id"], modalities)]
    missing = [e["video_id"] for e in lost]

    def twins() -> str:  # (a file another video's id, differing only in case, names on macOS: `case_twin`)
        return store.case_note((m, v) for v in missing for m in modalities)
    by_split = collections.Counter(split_of(e) for e in lost)
    videos = counted(len(missing), "video") + (f" ({', '.join(f'{n} {s}' for s, n in by_split.items())})"
                                         if len(by_split) > 1 or set(by_split) - {"train"} else "")
    if missing and learn_missing:
        lacking = {m: n for m in modalities if (n := sum(not store.has(m, v) for v in missing))}
        if none := [m for m in modalities if not any(store.has(m, e["video_id"]) for e in entries
                                                     if split_of(e) == "train")]:
            # (no file to learn the modality's features or width from: nothing for the vector to stand in for)
            others = [m for m in modalities if m not in none]
            way = (f"pass --modalities {','.join(others)}" if others else
                   "leave out --features to train on the manifest's text alone, if it has some")
            raise DataError(f"no training video has {','.join(none)} features in {store.root}: --learn-missing needs "
                            f"some to learn from; {way}")
        counts = ", ".join(f"{m} {n}" for m, n in lacking.items())
        # (a training video lacking one is what learns its stand-in: val's alone teach it nothing; trial 76)
        trained = any(split_of(e) == "train" for e in lost)
        kept = ("kept, a stand-in for what they lack learnt from the training videos among them (--learn-missing)"
                if trained else
                "kept (--learn-missing), but no training video lacks any, so nothing learns a stand-in for them")
        warnings.warn(f"{videos} {'lacks' if len(missing) == 1 else 'lack'} features ({counts}; first: "
                      f"{', '.join(missing[:5])}){twins()}: {kept}")
        return entries
    if missing and not skip_missing:
        # named by what they lack; a modality all of them have (a store another import added a modality
        # to) is a third way out: training on it alone
        lacking = [m for m in modalities if not all(store.has(m, v) for v in missing)]
        complete = [m for m in modalities if m not in lacking]
        # (imported features, LIC2022's tsn, YouTube-8M's rgb: python -m extract cannot make them; hostile trial)
        from extract.modalities import extractable
        backbones = store.meta().get("backbones") or {}
        extracted = [m for m in lacking if extractable(m, backbones)]
        imported = [m for m in lacking if m not in extracted]
        make = " and ".join([f"extract {','.join(extracted)}"] * bool(extracted)
                            + [f"import {','.join(imported)}"] * bool(imported))
        advice = (f"pass --modalities {','.join(complete)} to train on the features they have, {make} for them, "
                  "or pass --learn-missing to train on them as they are or --skip-missing to leave them out"
                  if complete else f"{make} for them, or pass --learn-missing (a learnt stand-in for what they lack) "
                  "or --skip-missing")
        # (none of the training videos there: the store of another dataset, which --skip-missing would empty; it
        # was advised all the same, and then refused for the empty training split; hostile trial)
        train = [e for e in entries if split_of(e) == "train" and not e.get("captions_only")]
        if (train and set(missing) >= {e["video_id"] for e in train}
                and not any(store.has(m, e["video_id"]) for e in entries for m in modalities)):
            advice = (f"none of the {len(entries)} videos has a feature file there: is it the feature store of "
                      f"another dataset? pass the manifest's own --features, or {make} for them")
        raise DataError(f"{videos} {'has' if len(missing) == 1 else 'have'} no features for {','.join(lacking)} in "
                        f"{store.root} (first: {', '.join(missing[:5])}){twins()}; {advice}")
    if missing:
        warnings.warn(f"skipping {videos} without features (first: {', '.join(missing[:5])}){twins()}")
    gone = set(missing)
    return [e for e in entries if e["video_id"] not in gone]


@dataclasses.dataclass
class Labels:
    """Tag names and whether the task is single-label (softmax) or multi-label (sigmoid)."""
    names: list[str]
    multilabel: bool
    dropped: int = 0  # topic tags left out by min_tag_count (said once at training start)

    @classmethod
    def build(cls, entries: list[dict], min_tag_count: int = 1, train: list[dict] | None = None) -> "Labels":
        """The tags of `entries`, less LIC2022 topic tags (`tag:`) seen on fewer than `min_tag_count`
        videos of `train` (default: `entries`): one-off tags would crowd the label space."""
        tagged = [e.get("tags", []) for e in entries if e.get("tags")]
        counts = collections.Counter(t for e in (entries if train is None else train) for t in set(e.get("tags", [])))
        seen = {t for tags in tagged for t in tags}
        names = sorted(t for t in seen if not t.startswith(SEMANTIC) or counts[t] >= min_tag_count)
        # (LIC2022 labels are a 0/1 row whatever each video has, as `levels.level_loss` reads them: videos of a
        # level 1 alone each had one tag, were read as single-label, and training failed in an IndexError)
        lic = any(n.startswith(LEVEL1) for n in names)
        return cls(names, multilabel=lic or any(len(t) != 1 for t in tagged), dropped=len(seen) - len(names))

    def __post_init__(self) -> None:
        # built once: target() runs for every item of every epoch (3,862 names for YouTube-8M)
        self.index = {n: i for i, n in enumerate(self.names)}

    def target(self, tags: list[str]) -> torch.Tensor:
        index = self.index
        if self.multilabel:
            y = torch.zeros(len(self.names))
            for t in tags:
                if t in index:
                    y[index[t]] = 1
            return y
        return torch.tensor(index.get(tags[0], -100) if tags else -100)


class VideoDataset(Dataset):
    """One item per video (its features per modality, one encoded caption and its tag target), or
    with `per_caption` one item per (video, caption) pair, so that an epoch shows every caption."""

    def __init__(self, entries: list[dict], store: FeatureStore, modalities: list[str], vocab: Vocab,
                 labels: Labels | None, max_len: int = 28, seed: int = 0, per_caption: bool = False,
                 text_vocab: TextVocab | None = None, caption_weights: str = "none") -> None:
        self.entries, self.store, self.modalities = entries, store, list(modalities)
        # "consensus": each caption's loss weighed by its agreement with its video's other captions
        # (`consensus_weights`); None: every caption alike
        self.weights = consensus_weights(entries) if caption_weights == "consensus" and per_caption else None
        # token ids per video and field, tokenised once (jieba is the slow part of an epoch otherwise)
        self.text = [text_vocab.encode(e) for e in entries] if text_vocab is not None else None
        self.vocab, self.labels, self.max_len, self.seed = vocab, labels, max_len, seed
        self.epoch = 0
        self._last: tuple[int, dict] | None = None  # (entry index, features): a video's captions come in a row
        # (entry index, caption index or None: a caption drawn per epoch)
        self.items = [(i, c) for i, e in enumerate(entries)
                      for c in (range(len(e.get("captions", []))) if per_caption and e.get("captions") else [None])]

    def set_epoch(self, epoch: int) -> None:
        """Which caption each video shows depends on (seed, epoch, index) only: resumable."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, k: int) -> dict:
        i, pick = self.items[k]
        e = self.entries[i]
        if self._last is None or self._last[0] != i:  # CaptionGroups hands a video's captions in a row: read once
            # a video of captions alone: one row of zeros, which the model reads as the mean training frame
            # (`blank`): the decoder learns its captions' language from a video that shows nothing in particular
            self._last = i, ({m: torch.zeros(1, self.store.width(m)) for m in self.modalities}
                             if e.get("captions_only") else
                             {m: torch.from_numpy(self.store.read(m, e["video_id"])) for m in self.modalities})
        feats = self._last[1]
        caps = e.get("captions", [])
        words = None
        if caps:
            if pick is None:
                pick = random.Random(f"{self.seed}-{self.epoch}-{i}").randrange(len(caps))
            words = torch.tensor(self.vocab.encode(caps[pick], self.max_len))
        tag = self.labels.target(e.get("tags", [])) if self.labels and self.labels.names else None
        item = {"video_id": e["video_id"], "feats": feats, "words": words, "tag": tag, "refs": caps,
                "text": self.text[i] if self.text is not None else None, "blank": bool(e.get("captions_only"))}
        if self.weights is not None and words is not None:
            item["weight"] = self.weights[i][pick]
        return item


class CaptionGroups(Sampler):
    """Batches of item indices for one epoch: each video's items (its captions) shuffled and cut into
    groups of `per_video`, the groups shuffled, by (seed, epoch) only (resumable). A group shares one
    encoding of its video (`collate`'s video_index), so a batch of B pairs encodes ~B/per_video videos.
    Under torchrun the epoch's items, in the same order, are cut into ceil(items / (batch_size * world))
    steps of `world` near-equal contiguous batches, rank r taking the r-th of each step: every item trained
    on once an epoch, every rank as many batches, none empty, at most batch_size where there are items enough
    for batches of 1 (2 ranks of B, with items a multiple of 2B, are exactly 1 process's batches of 2B);
    DataError, on every rank before any collective call, when there are fewer items than ranks."""

    def __init__(self, ds: VideoDataset, batch_size: int, per_video: int, seed: int, rank: int = 0,
                 world: int = 1) -> None:
        self.ds, self.batch_size, self.per_video, self.seed = ds, batch_size, per_video, seed
        self.rank, self.world, self.epoch = rank, world, 0
        if world > 1 and len(ds.items) < world:  # (a rank without a batch would wait in DDP's step forever)
            n = len(ds.items)
            raise DataError(f"{n} training item{'s' * (n != 1)} for {world} torchrun processes: each process needs "
                            f"at least one a step: pass --nproc_per_node={max(1, n)} or fewer, or train on more "
                            "videos")

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _steps(self) -> int:
        """Batches of the epoch each rank runs (ranks step together)."""
        n = len(self.ds.items)
        if self.world == 1:
            return math.ceil(n / self.batch_size)
        # (whole batches of batch_size, every world-th a rank's, left up to world * batch_size - 1 items out of
        # every epoch (29 % of 28 pairs at --batch-size 10 on 2 ranks; hostile trial). Capped at n // world so
        # that no rank's batch is empty: n >= world, checked above)
        return min(math.ceil(n / (self.batch_size * self.world)), n // self.world)

    def _batches(self) -> list[list[int]]:
        rng = random.Random(f"{self.seed}-{self.epoch}")
        by_video: dict[int, list[int]] = {}
        for k, (i, _) in enumerate(self.ds.items):
            by_video.setdefault(i, []).append(k)
        groups = []
        for ks in by_video.values():
            rng.shuffle(ks)
            groups += [ks[j:j + self.per_video] for j in range(0, len(ks), self.per_video)]
        rng.shuffle(groups)
        flat = [k for g in groups for k in g]
        if self.world == 1:  # (one process batches as it always has: the README's results were trained so)
            return [flat[j:j + self.batch_size] for j in range(0, len(flat), self.batch_size)]
        n = self._steps() * self.world
        return [flat[len(flat) * c // n:len(flat) * (c + 1) // n] for c in range(n)][self.rank::self.world]

    def __iter__(self):
        return iter(self._batches())

    def __len__(self) -> int:  # the grouping reorders items but never changes how many batches
        return self._steps()


def consensus_weights(entries: list[dict]) -> list[list[float]]:
    """Each entry's captions' loss weights: their CIDEr-D against the video's other captions
    (`consensus.caption_consensus`), scaled to a mean of 1 within the video, so that every video weighs as
    before and, within it, a caption its annotators agree with counts more than an outlier (Phan et al.
    2017, "Consensus-based Sequence Training for Video Captioning": the weighted cross-entropy)."""
    scores = caption_consensus([[tuple(tokenize(c)) for c in e.get("captions", [])] for e in entries])
    out = []
    for s in scores:
        mean = sum(s) / len(s) if s else 0.0
        out.append([x / mean for x in s] if mean > 0 else [1.0] * len(s))
    return out


def may_leave_parts_unused(entries: list[dict], has_captions: bool, idle_without_captions: bool) -> bool:
    """Whether a training batch of `entries` can leave part of the model without gradients, which
    DistributedDataParallel must be told (find_unused_parameters): tag-only training of a model with parts
    it leaves idle (`S2VT.idle_without_captions`), and a split where a rank's batch can be all videos without
    captions (the decoder) or all videos of captions alone (the tag head). Untold, the ranks' gradient
    reductions did not match: gloo aborted ('Is there a distributed collective mismatch') or the ranks hung
    (hostile trial). Told needlessly, torch warned once a rank that it found no unused parameter."""
    if not has_captions:
        return idle_without_captions
    return any(not e.get("captions") or e.get("captions_only") for e in entries)


def collate(items: list[dict]) -> dict:
    """Pad features per modality ([V, T_max, D] + lengths) over the V distinct videos and words
    ([B, L_max], pad 0) over the B items; video_index [B] gives each item's row of the features."""
    rows: dict[str, int] = {}
    firsts, index = [], []  # the first item of each distinct video; each item's row
    for it in items:
        if it["video_id"] not in rows:
            rows[it["video_id"]] = len(firsts)
            firsts.append(it)
        index.append(rows[it["video_id"]])
    out = {"video_id": [it["video_id"] for it in items], "refs": [it["refs"] for it in items],
           "feats": {}, "lengths": {}, "video_index": torch.tensor(index)}
    for m in items[0]["feats"]:
        seqs = [it["feats"][m] for it in firsts]
        lengths = torch.tensor([len(s) for s in seqs])
        dim = seqs[0].shape[1]
        padded = torch.zeros(len(seqs), max(1, int(lengths.max())), dim)
        for b, s in enumerate(seqs):
            padded[b, :len(s)] = s
        out["feats"][m], out["lengths"][m] = padded, lengths
    if any(it["words"] is not None for it in items):
        # a video without captions (tags only) beside captioned ones: its row is all <pad> (id 0), which
        # the caption loss ignores, so the batch's other items still teach captions (with None for the
        # whole batch, one such video silenced the caption loss of every item sharing its batch)
        blank = torch.zeros(2, dtype=torch.long)
        out["words"] = torch.nn.utils.rnn.pad_sequence(
            [it["words"] if it["words"] is not None else blank for it in items], batch_first=True)
    else:
        out["words"] = None
    out["weight"] = (torch.tensor([it.get("weight", 1.0) for it in items])
                     if any("weight" in it for it in items) else None)
    out["tag"] = torch.stack([it["tag"] for it in items]) if items[0]["tag"] is not None else None
    # [V] the videos of captions alone (None: none in the batch)
    out["blank"] = (torch.tensor([it.get("blank", False) for it in firsts])
                    if any(it.get("blank") for it in firsts) else None)
    out["text"] = collate_text([it["text"] for it in firsts]) if items[0].get("text") is not None else None
    return out


def batches(ds: Dataset, batch_size: int, batch_sampler=None) -> DataLoader:
    """Collated batches of `ds` in order (or as `batch_sampler` forms them); one loader for training,
    validation and evaluation."""
    if batch_sampler is not None:
        return DataLoader(ds, batch_sampler=batch_sampler, collate_fn=collate)
    return DataLoader(ds, batch_size=batch_size, collate_fn=collate)


def to_device(batch: dict, device: torch.device) -> dict:
    """Move a collated batch's tensors to `device`."""
    moved = dict(batch)
    moved["feats"] = {m: x.to(device) for m, x in batch["feats"].items()}
    moved["lengths"] = {m: x.to(device) for m, x in batch["lengths"].items()}
    for k in ("words", "tag", "video_index", "blank", "weight"):
        if batch.get(k) is not None:
            moved[k] = batch[k].to(device)
    if batch.get("text") is not None:
        moved["text"] = {k: x.to(device) for k, x in batch["text"].items()}
    return moved


def feature_dims(store: FeatureStore, entries: list[dict], modalities: list[str]) -> dict[str, int]:
    """Feature dim of each modality, from meta.json or (a modality it gives no width of, e.g. LIC2022 tsn) the
    files of `entries`, each checked to agree (`FeatureStore.settle_width`)."""
    return {m: int(store.settle_width(m, [e["video_id"] for e in entries])) for m in modalities}


def feature_stats(entries: list[dict], store: FeatureStore, modalities: list[str], limit: int = 1000,
                  seed: int = 0, transform=None,
                  empty: list | None = None) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Per-dimension mean and std of each modality over (a seeded sample of) `entries`' rows,
    after `transform` (a tensor function, the model's own) when given; videos of captions alone
    (`captions_only`) have none. `empty`, when given, gets the modalities of which no sampled video has a row
    (mean 0, std 1: a modality the model never sees)."""
    entries = [e for e in entries if not e.get("captions_only")]
    sample = random.Random(seed).sample(entries, min(limit, len(entries)))
    stats = {}
    for m in modalities:
        rows = [store.read(m, e["video_id"]) for e in sample]
        x = np.concatenate([r for r in rows if len(r)]) if any(len(r) for r in rows) else None
        if x is not None and transform is not None:
            x = transform(torch.from_numpy(x.astype(np.float32))).numpy()
        if x is None:
            dim = rows[0].shape[1] if rows else 1
            stats[m] = (torch.zeros(dim), torch.ones(dim))
            if empty is not None and rows:
                empty.append(m)
            continue
        mean, std = x.mean(0, dtype=np.float64), x.std(0, dtype=np.float64)
        # a floor keeps near-constant dims (dead ReLUs, fp16 noise) from being blown up; its absolute part, 1e-6, is
        # cut to the features' own scale below 1e-3 (features on a scale of 1e-9, kept whole by the store's float32
        # files, were divided by 1e-6: a thousandth of the standardised input; trial 85), and stays where all are 0
        scale = 1e-3 * float(std.mean())
        std = std + scale + (min(1e-6, scale) or 1e-6)
        stats[m] = (torch.from_numpy(mean).float(), torch.from_numpy(std).float())
    return stats
