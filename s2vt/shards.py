"""Training straight from YouTube-8M TFRecord shards: a streaming dataset, no conversion step.

`train.py --features SHARDS` (a .tfrecord file, a glob, or a folder of *.tfrecord) streams the
training records instead of reading a per-video feature store (docs/usage.md "Training from TFRecord shards").
Each epoch the shard list is shuffled by (seed, epoch); rank r of w takes shards r::w and its
DataLoader worker k of n takes its share of those (with fewer shards than readers, every reader
reads every shard and keeps records j::N instead); each reader mixes its records in a seeded
shuffle buffer. Validation reads its shards fully once and keeps them in memory.

Where a video's split and tags come from:
- with `--manifest`: its manifest entry (records of videos not in the manifest's train split are
  passed over); validation = the manifest's val videos found in `--val-features` (or, without
  it, in the training shards: one pass at the start). The label set is the manifest's, as for
  a store, so a shard run and a store run of one manifest build the same model.
- without one: every record of `--features` trains and every record of `--val-features`
  validates; tags are the `--vocabulary` names of the record's labels and the label set is
  the whole vocabulary (all 3,862 classes; no pass over the data to find them).
"""
from __future__ import annotations

import glob
import itertools
import math
import os
import random
import sys
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from .errors import SaidByAnotherRank, interrupts_held, shell_quote
from .loaders import LIVE_LOADERS, close_loader, worker_ignores_interrupts
from .manifest import read_manifest, split_of
from .shardkeys import content_key, file_key, name_key, same_shard, shard_id, shard_ids

from .data import DataError, Labels, assign_val, collate, empty_training_split
from .tfrecord import TFRecordError
from .vocab import Vocab
from .yt8m import (DIMS, NUM_CLASSES, REPEATED_SHOWN, SOURCES, LabelMisses, ShardRecords, SkipRecord,
                   folder_shards, label_tag, read_video, read_vocabulary, refuse_not_a_shard, skipped_line)

GLOB_CHARS = "*?["
STATS_SAMPLE = 1000  # training records held for the feature statistics (data.feature_stats' default limit)


def is_shards(features: str | None) -> bool:
    """True when --features names TFRecord shards (a .tfrecord file, a glob, or a folder of
    *.tfrecord without a store's meta.json) rather than a feature store."""
    if not features:
        return False
    path = Path(features)
    if path.is_dir():
        return not (path / "meta.json").exists() and any(path.glob("*.tfrecord"))
    return path.suffix == ".tfrecord" or any(c in features for c in GLOB_CHARS)


def shard_files(spec: str) -> list[str]:
    """The sorted shard paths a file, glob or folder names; DataError when there are none."""
    path = Path(spec)
    if path.is_dir():
        files = folder_shards(path)
    elif path.is_file():  # (before the glob: a shard named `day[1].tfrecord` is itself, not `day1.tfrecord`)
        files = [spec]
    elif any(c in spec for c in GLOB_CHARS):
        files = sorted(p for p in glob.glob(spec) if Path(p).is_file())
    else:
        files = []
    if not files:
        raise DataError(f"{spec}: no TFRecord shards there")
    return files


def refuse_shared_shards(files: list[str], val_files: list[str]) -> None:
    """DataError when a shard is both a training and a validation one (every record of --val-features
    validates without a manifest: validating on training records inflates the scores). The same file
    by any spelling, symlink or hard link: compared by device and inode (`file_key`), not by name."""
    trained = {file_key(f): f for f in files}
    both = [(f, trained[k]) for f in val_files if (k := file_key(f)) in trained]
    if both:
        f, t = both[0]
        raise DataError(f"--val-features {f} is also a training shard" + (f" (--features gives it as {t})" if t != f
                                                                          else "")
                        + (f", as are {len(both) - 1} more of the {len(val_files)}" if len(both) > 1 else "")
                        + ": validating on training records inflates the scores; pass validation shards that "
                          "--features does not name")


def shared_ids_error(ids: list[str], where: str) -> DataError:
    """The refusal for training records whose video ids are validation ones (the same videos in other
    shards, a copy's or a re-export's): `where` says which records were looked at."""
    shown = ", ".join(ids[:REPEATED_SHOWN]) + (", ..." if len(ids) > REPEATED_SHOWN else "")
    return DataError(f"--val-features: {len(ids)} video id{'s' if len(ids) != 1 else ''} of the validation shards "
                     f"{'are' if len(ids) != 1 else 'is'} in --features' training records too ({where}; "
                     f"first: {shown}): validating on training videos inflates the scores; pass validation "
                     "shards whose videos are not among the training ones")


def trained_shards(was: dict | None, now: list[list]) -> list[list]:
    """Every training shard of a run so far: last.pt's record (`was`, its "shards"; its "trained", or its
    "features" in a last.pt from before that was kept) with this run's `now` added."""
    before = list((was or {}).get("trained") or (was or {}).get("features") or [])
    return before + [s for s in now if not any(same_shard(s, b) for b in before)]


def refuse_trained_val(trained: list[list], val: list[list], val_spec: str, last: str) -> None:
    """DataError for a --resume whose validation shards the run trained on earlier (without a manifest every
    record of --val-features validates: its score would be inflated, and best.pt chosen on it)."""
    both = [(v, t) for v in val for t in trained if same_shard(v, t)]
    if both:
        (v, _), (_, t) = both[0], both[0]
        name = os.path.basename(v[0])
        raise DataError(f"--resume: --val-features {val_spec}: {name} is a shard the run in {last} trained on"
                        + (f" (as {os.path.basename(t[0])})" if os.path.basename(t[0]) != name else "")
                        + (f", as are {len(both) - 1} more of the {len(val)}" if len(both) > 1 else "")
                        + ": validating on training records inflates the scores; pass validation shards the run "
                          "never trained on")


def refuse_twice(files: list[str], flag: str = "--features") -> None:
    """DataError for one shard given twice (the same file by two names, `file_key`, or a copy of it: the same
    size and content digest, `content_key`): every record of it would train twice an epoch."""
    seen: dict = {}
    for f in files:
        entry = shard_id(f)  # (an empty file's content is every empty file's: known by its file alone)
        for key in [("file", file_key(f))] + ([("copy", content_key(entry))] if entry[1] else []):
            if (again := seen.get(key)) is not None:
                raise DataError(f"{flag}: {f} and {again} are the same shard"
                                + (" (a copy)" if key[0] == "copy" else "")
                                + ": its records would train twice an epoch; name each shard once")
            seen[key] = f


def named_then(settings: dict) -> dict | None:
    """What a last.pt from before it recorded its shards (`shard_ids`) trained and validated on, as far as
    its flags (`settings`) name those shards now; None when they name none any more (moved: not known)."""
    if not settings.get("features"):
        return None
    try:  # (no --val-features: val came from the training shards, as ShardSource.val_files says)
        return {"features": shard_ids(shard_files(settings["features"])),
                "val_features": shard_ids(shard_files(settings.get("val_features") or settings["features"]))}
    except (DataError, OSError):
        return None


def changed_shards(was: dict, now: dict, specs: dict, given: dict, best: str) -> str | None:
    """The warning line of a --resume whose shards are not last.pt's (`was`, `now`: {"features", "val_features":
    shard_ids}; `specs` the flags last.pt was given, `given` this run's): the flags, what was added and left
    out; other validation shards also say that best.pt's score (`best`) was measured on last.pt's. A shard is
    known by its file name and size (`name_key`), not its folder: a moved copy of the data is the same data."""
    key = lambda ids: {name_key(s) for s in ids}  # noqa: E731
    spec = lambda s: s or "(none: val from the training shards)"  # noqa: E731

    def listed(names: list[str], what: str) -> list[str]:
        return [f"{len(names)} shard{'s' * (len(names) != 1)} {what} ({names[0]}{', ...' * (len(names) > 1)})"
                ] if names else []
    parts, val = [], False
    for name in ("features", "val_features"):
        old, new = key(was.get(name, [])), key(now[name])
        if name in was and old != new:
            val |= name == "val_features"
            added, gone = sorted(f for f, _ in new - old), sorted(f for f, _ in old - new)
            what = (listed(added, "added") + listed(gone, "left out") if set(added) != set(gone)
                    else ["the same names, other sizes"])
            parts.append(f"--{name.replace('_', '-')} {spec(given[name])} (last.pt: {spec(specs.get(name))}; "
                         f"{', '.join(what)})")
    if not parts:
        return None
    back = f" (pass --val-features {shell_quote(specs['val_features'])} to validate on them)" \
        if specs.get("val_features") else ""
    return ("warning: --resume: other shards than last.pt's: " + "; ".join(parts)
            + (f": the epochs to come are compared with best.pt's {best}, measured on last.pt's validation shards"
               + back if val else ""))


def count_records(path: str) -> int:
    """Records in a shard from their length headers alone (no reading of the data, no checksums):
    cheap enough to size an epoch over millions of records. A damaged file counts up to the damage: a
    record whose length runs past the file's end (a cut file, a damaged length, a file of text) is not one;
    its reading says the damage (`ShardStream.records_of`). (A seek to such a length, past 2**63, was an
    OSError.)"""
    n, offset = 0, 0
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        while len(header := f.read(12)) == 12:
            offset += 12 + int.from_bytes(header[:8], "little") + 4
            if offset > size:
                break
            f.seek(offset)
            n += 1
    return n


def shuffled(items, size: int, rng: random.Random):
    """`items` through a shuffle buffer of `size`: each one out is drawn at random from the buffer."""
    buf = []
    for item in items:
        if len(buf) < size:
            buf.append(item)
            continue
        i = rng.randrange(size)
        buf[i], item = item, buf[i]
        yield item
    rng.shuffle(buf)
    yield from buf


# torch's ~400-character advice on more workers than cores, let through once a process (`ShardStream.batches`)
WORKER_ADVICE = "This DataLoader will create"
worker_advice_said = False


def say_skipped(said: set, path: str, n: int, e: SkipRecord, misses: LabelMisses, speaks: bool) -> None:
    """The line for record `n` of `path`, skipped, unless `said` (the run's lines) holds it: the statistics' pass
    and every epoch read the record again, and said it each time (trial 84). A label outside the vocabulary is
    counted in `misses` instead (one line a file)."""
    if not misses.skip(path, e) and speaks and ("skipped", path, n) not in said:
        said.add(("skipped", path, n))
        print(skipped_line(path, n, e), file=sys.stderr)


def say_broken(said: set[str], e: TFRecordError, path: str, speaks: bool = True) -> None:
    """The one line for a shard whose framing is broken (the rest of it is lost), unless `said` (the
    run's shards already said) holds `path`: a run reads its first shards for val and the feature
    statistics' sample, then streams them again every epoch, and the same line each time (three for
    one shard in a two-epoch run) read as damage to other shards. A DataLoader worker (--workers)
    gets a copy of the set as it starts, which its own additions never reach back from: workers speak in
    the run's first streamed epoch only (`ShardStream.items`). `speaks` False: marked said, not printed."""
    if path not in said:
        said.add(path)
        if speaks:
            print(f"warning: {e}; the rest of this shard is skipped", file=sys.stderr)


REPEAT_TRACKED = 1_000_000  # training ids an epoch's stream keeps to find repeated ones (about 100 MB)


def say_repeated(ids: list[str], where: str) -> None:
    """The one warning line for training video ids met in more than one record (two shards holding the same
    videos, a copy's or a re-export's): each trains more than once an epoch."""
    first = list(dict.fromkeys(ids))
    print(f"warning: --features: {len(first)} video id{'s' * (len(first) != 1)} in more than one training record "
          f"({where}; first: {', '.join(first[:REPEATED_SHOWN])}{', ...' * (len(first) > REPEATED_SHOWN)}): "
          "those videos train more than once an epoch; leave out the shards that repeat them", file=sys.stderr)


class ShardStream(IterableDataset):
    """Training items streamed from TFRecord shards, the dicts `data.VideoDataset` yields."""

    def __init__(self, files: list[str], modalities: list[str], labels: Labels, vocab: dict[int, str] | None,
                 tags: dict[str, list[str]] | None, batch_size: int, buffer: int, seed: int, workers: int = 0,
                 rank: int = 0, world: int = 1, said: set[str] | None = None,
                 val_ids: frozenset[str] = frozenset()) -> None:
        self.files, self.modalities, self.labels, self.vocab, self.tags = files, modalities, labels, vocab, tags
        self.said = set() if said is None else said  # broken shards already said (`say_broken`)
        self.val_ids = val_ids  # validation videos no training record may be (`batches`)
        self.repeats_said = False  # training ids met twice said, or looked for (an epoch's, once a run: `batches`)
        # lines about the shards said at all (as `ShardSource.speaks`); False for the refit's stream
        # (`ShardSource.refit_stream`), which reads shards the run read (and said) already, in this process or,
        # for a --resume, in the one it continues
        self.speaks = True
        self.tracked = False  # an epoch's training ids tracked (`streamed`, the first epoch this process finished)
        # the training ids this process's first epoch streamed (the set `checked` tracks repeats by, up to
        # REPEAT_TRACKED, as it fills): best.pt lists them (`finish.training_ids`) for evaluate's warning
        self.streamed: set[str] | None = None
        self.batch_size, self.buffer, self.seed, self.workers = batch_size, buffer, seed, workers
        self.rank, self.world, self.epoch = rank, world, 0
        # the first epoch this process streams (`batches`): DataLoader workers say shard lines in it only
        self.first_epoch: int | None = None
        self.stand_in_batch: dict | None = None  # (`stand_in`'s, kept for the epochs after)
        # the epoch's length, for the learning-rate schedule and the progress bar: the manifest's
        # training videos, else the shards' records (a rank short of records steps on in `batches` regardless);
        # and how they are spread over the shards: their record counts, or with a manifest (its training videos
        # are not counted per shard) their sizes (`EpochSteps`)
        counts = [count_records(f) for f in files] if tags is None else None
        self.records = len(tags) if tags is not None else sum(counts)
        self.weights = counts if counts is not None else [os.path.getsize(f) for f in files]

    def set_epoch(self, epoch: int) -> None:
        """The shard order and the shuffle depend on (seed, epoch) only: resumable."""
        self.epoch = epoch

    def __len__(self) -> int:
        """Training items of an epoch (about: the manifest's training videos, else the shards' records)."""
        return self.records

    @property
    def sampler(self) -> "EpochSteps":
        return EpochSteps(self)

    def plan(self, rank: int, world: int, worker: int, workers: int) -> list[tuple[str, int, int]]:
        """(shard, first record, step) for one reader of the epoch: whole shards when there are at
        least as many as readers (rank r of w takes the shuffled files r::w, worker k of n its k::n of
        those), else every shard with records j::N for reader j of N, so that no reader idles."""
        files = list(self.files)
        random.Random(f"{self.seed}-{self.epoch}").shuffle(files)
        readers, reader = world * workers, rank * workers + worker
        if len(files) < readers:
            return [(f, reader, readers) for f in files]
        return [(f, 0, 1) for f in files[rank::world][worker::workers]]

    def records_of(self, plan: list[tuple[str, int, int]], speaks: bool = True):
        """(shard, record number from 1, raw record) of a plan; a shard whose framing is broken is logged
        in one line (file and offset) and the rest of it skipped, the other shards go on. Records with
        a bad data checksum are skipped and said in one line per file (`yt8m.ShardRecords`); with records
        split j::N every reader meets the damage, so reader 0 alone says it; once a run, as a broken shard
        (`say_broken`: not again each epoch). `speaks` (`items`): whether this reader says a shard at all."""
        for path, first, step in plan:
            said = ("checksum", path)
            records = ShardRecords(path, warn=first == 0 and speaks and said not in self.said)
            try:
                for n, data in records:
                    if n - 1 >= first and (n - 1 - first) % step == 0:  # (this reader's records j::N)
                        yield path, n, data
            except TFRecordError as e:
                if first == 0:
                    say_broken(self.said, e, path, speaks)
            if records.corrupt:
                self.said.add(said)

    def item(self, path: str, n: int, data: bytes, misses: LabelMisses, speaks: bool | None = None) -> dict | None:
        """The training item of record `n` of `path`, None for one outside the training split or
        unreadable (logged in one line, as `s2vt import yt8m` does, unless `speaks` is False; None: `self.speaks`)."""
        misses.read[path] += 1
        try:
            vid, tags, _, feats = read_video(data, self.vocab, "train")
        except SkipRecord as e:
            say_skipped(self.said, path, n, e, misses, self.speaks if speaks is None else speaks)
            return None
        if self.tags is not None:
            if vid not in self.tags:
                return None
            tags = self.tags[vid]
        return {"video_id": vid, "feats": {m: torch.tensor(feats[m]) for m in self.modalities},
                "words": None, "tag": self.labels.target(tags), "refs": [], "text": None}

    def items(self, worker: int = 0, workers: int = 1):
        """The items of one reader (this rank's DataLoader worker `worker` of `workers`) for the epoch."""
        rng = random.Random(f"{self.seed}-{self.epoch}-{self.rank}-{worker}")
        plan = self.plan(self.rank, self.world, worker, workers)
        # a shard's line once a run, whoever reads it: with records split j::N (every reader reads every
        # shard, each its share) reader 0 alone says it, from its share; a DataLoader worker's `said` is a
        # copy of the main process's that its additions never reach back from, so the workers say what they
        # meet in the run's first streamed epoch only (every shard is read in it), not again every epoch
        once = self.speaks and (get_worker_info() is None or self.epoch == self.first_epoch)
        speaks = once and all(first == 0 for _, first, _ in plan)
        # raw records in the buffer (smaller than decoded features, frame-level ones especially)
        misses = LabelMisses(self.said, "--vocabulary", speaks)
        try:
            for record in shuffled(self.records_of(plan, speaks), self.buffer, rng):
                # (a bad record is said by the reader whose share holds it, a worker in the first epoch alone: it
                # was said again every epoch, `said` being a worker's copy; trial 87)
                item = self.item(*record, misses, once)
                if item is not None:
                    yield item
        finally:
            misses.say()

    def __iter__(self):
        info = get_worker_info()
        return self.items(info.id, info.num_workers) if info is not None else self.items()

    def batches(self, device: torch.device):
        """This rank's collated batches of the epoch. Under torchrun a step is collective (DDP's gradient
        sync): a rank whose records run out while another's have not steps on with its last batch at a loss
        weight of 0 (`loss_scale`, `epoch.train_one_epoch`), and the ranks still training weigh theirs by
        world / ranks training, so a step's gradient is the mean of theirs: every record trains once an epoch,
        none twice (DDP's Join, for a stream). DataError when no rank has any, or (on every rank, before the
        step) when a batch holds a validation video: the statistics' sample saw the first training records
        only, the stream sees them all (a set look-up per record: no pass over the shards of its own)."""
        global worker_advice_said
        if self.first_epoch is None:  # (before the workers start: they get it with their copy)
            self.first_epoch = self.epoch
        it = None
        try:  # (the hold's signal, raised as it ends, is inside: the workers it started are ended below, not by
            # torch's __del__, whose traceback came after the `interrupted:` line; trial 119)
            with interrupts_held(), warnings.catch_warnings():  # (a Ctrl-C while the workers fork: held, not lost
                # in a fork hook; torch's ~400-character advice on more workers than cores, once a run, not an epoch)
                said, worker_advice_said = worker_advice_said, True
                if said:  # (the constructor says it, then the iterator: heard from the first constructor only)
                    warnings.filterwarnings("ignore", message=WORKER_ADVICE)
                loader = DataLoader(self, batch_size=self.batch_size, collate_fn=collate, num_workers=self.workers,
                                    worker_init_fn=worker_ignores_interrupts if self.workers else None)
                if not said:
                    warnings.filterwarnings("ignore", message=WORKER_ADVICE)
                it = iter(loader)
                if self.workers:
                    LIVE_LOADERS.add(it)
            yield from self.checked(it, device)
        finally:  # (an interrupt, an error or a finished epoch: the workers end here, not in __del__)
            while it is not None:  # (a second signal on the heels of the first, as it stops the run, could land
                # in the call before close_loader holds signals: one line of the run's, no "Exception ignored in"
                # traceback; trial 117)
                try:
                    close_loader(it)
                    break
                except KeyboardInterrupt as again:
                    if again.__context__ is None:  # (an epoch's end, not a stop: this signal is the one to act on)
                        raise

    def checked(self, it, device: torch.device):
        """`batches`' loop over the loader's iterator `it`."""
        # the first epoch's training ids, to say repeated videos once (a set look-up per record, as for val;
        # up to REPEAT_TRACKED ids, the memory it may take) and for best.pt and last.pt to list (`streamed`),
        # also when the statistics' sample said the repeats already
        seen, repeated = (set(), []) if not self.tracked else (None, [])
        if seen is not None:
            self.streamed = seen
        last, ended = None, False  # (this rank's last batch: what it steps on once its records are trained)
        while True:
            batch = None if ended else next(it, None)
            more = batch is not None
            ended = not more
            if more and seen is not None:
                for v in batch["video_id"]:
                    if v in seen:
                        repeated.append(v)
                    elif len(seen) < REPEAT_TRACKED:
                        seen.add(v)
            shared = [v for v in batch["video_id"] if v in self.val_ids] if more and self.val_ids else []
            training, anywhere = int(more), bool(shared)
            if self.world > 1:  # (one reduction for both: the ranks with a batch, and whether any holds val videos)
                flag = torch.tensor([training, int(anywhere)], device=device)
                dist.all_reduce(flag)
                training, anywhere = int(flag[0].item()), bool(flag[1].item())
            if anywhere:  # (the count is the first such batch's: the step stops there)
                if not shared:  # (the rank that met them says so: one line, not one a rank)
                    raise SaidByAnotherRank("a validation video among the training records of another rank")
                raise shared_ids_error(shared, f"found streaming epoch {self.epoch}, in one batch"
                                       + (f" of rank {self.rank}" if self.world > 1 else ""))
            if not training:
                break
            if batch is None:  # this rank's records are trained, another rank's not yet: a step that adds nothing
                # (a rank whose share holds no training record this epoch: any training records, to step on)
                if last is None:  # (read once a run: the shards' first training records)
                    self.stand_in_batch = last = self.stand_in_batch or self.stand_in()
                batch = {**last, "loss_scale": 0.0}
            else:
                last = batch
                if training < self.world:
                    batch = {**batch, "loss_scale": self.world / training}
            yield batch
        if seen is not None:
            self.tracked = True
            if repeated and not self.repeats_said:
                say_repeated(repeated, f"epoch {self.epoch}" + (f", rank {self.rank}" if self.world > 1 else ""))
            self.repeats_said = True
        if last is None:  # (no rank had a batch: a rank with none of its own steps on another's records)
            raise DataError(f"no training record could be read from {len(self.files)} shard(s) "
                            f"(first: {self.files[0]})")

    def stand_in(self) -> dict:
        """A batch of the first training records of any shard, read here and silently: what a rank whose share
        of the epoch holds none steps on, at a loss weight of 0 (`checked`). Such a rank was refused mid-run
        (a manifest whose training videos sit in some of the shards, the epoch's shuffle giving it none)."""
        said, speaks = self.said, self.speaks
        self.said, self.speaks = set(said), False  # (what it meets is said by the rank whose share it is)
        try:
            misses = LabelMisses(self.said, "--vocabulary", False)
            items = (self.item(*record, misses) for record in self.records_of([(f, 0, 1) for f in self.files], False))
            got = list(itertools.islice((x for x in items if x is not None), self.batch_size))
        finally:
            self.said, self.speaks = said, speaks
        if not got:  # (another rank read one: the shards changed since)
            raise DataError(f"no training record could be read from {len(self.files)} shard(s) by rank {self.rank} "
                            f"of {self.world}, while another rank read some (first: {self.files[0]})")
        return collate(got)


class EpochSteps:
    """What engine.train asks of a batch sampler, for a stream: the steps of an epoch on one rank (for the
    learning-rate schedule; skipped records move it a little). Whole shards go to ranks r::w
    (`ShardStream.plan`) and an epoch lasts until the rank of the most records has trained them (`batches`):
    counted as the share of the ceil(shards / w) largest shards, the most any rank can be dealt, so that
    the schedule does not reach its floor before the epochs end. (Records split j::N, with fewer shards than
    readers: an even share.)"""

    def __init__(self, stream: ShardStream) -> None:
        self.stream = stream

    def set_epoch(self, epoch: int) -> None:
        self.stream.set_epoch(epoch)

    def __len__(self) -> int:
        s = self.stream
        files, weights = len(s.files), sorted(s.weights, reverse=True)
        most = (sum(weights[:-(-files // s.world)]) / max(1, sum(weights))
                if files >= s.world * max(1, s.workers) else 1 / s.world)
        return max(1, math.ceil(len(s) * most / s.batch_size))


class ShardSource:
    """A shard run's data source. The features of a few videos are held in memory and read as
    `s2vt.store.FeatureStore` reads them, so the validation set and the feature-statistics
    sample go through the store's code (data.VideoDataset, feature_dims, feature_stats); the
    training shards are streamed, `stream` per rank."""

    def __init__(self, files: list[str], modalities: list[str], vocab: dict[int, str] | None,
                 tags: dict[str, list[str]] | None, speaks: bool = True) -> None:
        self.root, self.files, self.modalities, self.vocab, self.tags = files[0], files, modalities, vocab, tags
        # every torchrun rank reads the same val and sample records: rank 0 alone says their lines (the
        # others mark them said all the same, so that their streams do not say them either)
        self.speaks = speaks
        self.kind: str | None = None
        self.kind_from: str | None = None  # the shard the first record of `kind` came from
        self.feats: dict[str, dict[str, np.ndarray]] = {}
        self.said: set[str] = set()  # broken shards already said (`say_broken`), shared with the stream
        self.val_ids: frozenset[str] = frozenset()  # without a manifest: the val videos, checked in the stream
        self.val_files = files  # the shards val was read from (--val-features, else the training ones)
        self.repeats_said = False
        self.repeated: list[str] = []  # training video ids met twice in the statistics' sample (`say_repeated`)

    def add(self, vid: str, kind: str, feats: dict[str, np.ndarray], path: str | None = None) -> None:
        """Hold `vid`'s features, read from the shard `path` (named when its kind is not the run's)."""
        if self.kind not in (None, kind):  # (each file named: the first training shard was blamed for a val
            # shard's frame-level records; trial 84)
            raise DataError(f"{path or self.root}: {kind}-level records, where {self.kind_from} holds "
                            f"{self.kind}-level ones: a run reads one kind")
        self.kind, self.kind_from = kind, self.kind_from or path or self.root
        self.feats[vid] = {m: feats[m].copy() for m in self.modalities}  # writable, as np.load gives them

    def read(self, modality: str, video_id: str) -> np.ndarray:
        return self.feats[video_id][modality]

    def meta(self) -> dict:
        """What `s2vt import yt8m` writes into a store's meta.json (a checkpoint records it)."""
        kind = self.kind or "video"
        return {"source": f"YouTube-8M precomputed features (2018 release), {kind}-level, streamed from "
                          "TFRecord shards by train.py",
                "backbones": {m: SOURCES[kind][m] for m in self.modalities},
                "dims": {m: DIMS[m] for m in self.modalities}}

    def settle_width(self, modality: str, video_ids) -> int:
        """Features per frame of `modality` (FeatureStore's interface): the release's, which the reader checks
        every record against."""
        return self.meta()["dims"][modality]

    def read_split(self, files: list[str], split: str, keep, limit: int | None = None) -> list[dict]:
        """Entries (of `split`) of the records that `keep(vid, tags)` gives tags (None: passed over),
        their features held; at most `limit`. A bad record (a bad data checksum included) is logged in
        one line and skipped; a shard whose framing is broken in one line and the rest of it skipped."""
        entries, misses = [], LabelMisses(self.said, "--vocabulary", self.speaks)
        for path in files:
            records = ShardRecords(path, warn=self.speaks and ("checksum", path) not in self.said)
            try:
                for n, data in records:
                    misses.read[path] += 1
                    try:
                        vid, tags, kind, feats = read_video(data, self.vocab, "train")
                    except SkipRecord as e:
                        say_skipped(self.said, path, n, e, misses, self.speaks)
                        continue
                    tags = keep(vid, tags)
                    if tags is None:
                        continue
                    if vid in self.feats:
                        if split == "train" and vid not in self.repeated:
                            self.repeated.append(vid)
                        continue
                    self.add(vid, kind, feats, path)
                    entries.append({"video_id": vid, "split": split, "captions": [], "tags": tags})
                    if limit is not None and len(entries) >= limit:
                        misses.say()
                        return entries  # (the corrupt records read so far are said as the reader closes)
            except TFRecordError as e:
                say_broken(self.said, e, path, self.speaks)
            if records.corrupt:  # (a shard read whole: its count said, the stream's reads say it no more)
                self.said.add(("checksum", path))
            misses.say()
        return entries

    def stream(self, cfg, labels: Labels, rank: int, world: int) -> ShardStream:
        """The training stream of one rank."""
        stream = ShardStream(self.files, self.modalities, labels, self.vocab, self.tags, cfg.batch_size,
                             cfg.shuffle_buffer, cfg.seed, cfg.workers, rank, world, self.said, self.val_ids)
        stream.repeats_said = self.repeats_said  # (said from the statistics' sample: not again)
        return stream

    def refit_stream(self, cfg, labels: Labels, val: list[dict], rank: int, world: int) -> ShardStream:
        """The stream of the refit on train + val (finish.refit_network) for one rank: the training shards
        and the validation ones (without a manifest every record of both; with one the manifest's train
        videos and `val`, the val entries read, wherever they sit), split over ranks and workers as the
        training stream is. Val is training data here: no val ids refused; and no line is said again
        (`speaks` False; repeated ids were looked for in the training stream's first epoch)."""
        known = {file_key(f) for f in self.files}  # (a manifest's val from the training shards: those same files)
        files = self.files + [f for f in self.val_files if file_key(f) not in known]
        tags = None if self.tags is None else {**self.tags, **{e["video_id"]: e.get("tags", []) for e in val}}
        stream = ShardStream(files, self.modalities, labels, self.vocab, tags, cfg.batch_size, cfg.shuffle_buffer,
                             cfg.seed, cfg.workers, rank, world, self.said)
        stream.repeats_said, stream.speaks = True, False
        return stream


def prepare(cfg, speaks: bool) -> tuple[dict, ShardSource, list[str], Vocab, Labels]:
    """engine.prepare for shards: (splits, source, modalities, vocab, labels). splits["train"] holds
    the first STATS_SAMPLE training records only (the feature statistics' sample); the training
    records themselves are streamed (`ShardSource.stream`). `speaks`: this process says the lines about
    the val and sample records (torchrun's rank 0, `engine.launch_rank`: every rank reads the same ones)."""
    files = shard_files(cfg.features)
    refuse_twice(files)
    for f in files:  # (a download cut at its start: trained on as if there, unsaid; new-user trial)
        if speaks and os.path.getsize(f) == 0:
            print(f"warning: {f}: an empty file (0 bytes): no records to train on", file=sys.stderr)
    modalities = list(cfg.modalities or DIMS)
    unknown = [m for m in modalities if m not in DIMS]
    if unknown:
        raise DataError(f"{cfg.features}: YouTube-8M shards hold {', '.join(DIMS)}, not {', '.join(unknown)}")
    vocab = read_vocabulary(cfg.vocabulary, speaks) if cfg.vocabulary else None
    val_files = shard_files(cfg.val_features) if cfg.val_features else None
    # a file not named as a shard whose bytes are no shard either (vocabulary.csv, validate_notes.txt as
    # --val-features) is refused in one line; a text file a *.tfrecord glob took in stays a warned-of skip (new-user
    # trials 94, 96)
    for f in files + (val_files or []):
        if not f.endswith(".tfrecord"):
            refuse_not_a_shard(f)
    if cfg.manifest:
        entries = assign_val(read_manifest(cfg.manifest), seed=cfg.seed)
        by_split = {s: [e for e in entries if split_of(e) == s] for s in ("train", "val")}
        if not by_split["train"]:
            raise empty_training_split(cfg.manifest, {s: sum(split_of(e) == s for e in entries)
                                                      for s in ("train", "val", "test")},
                                       any(e.get("captions") or e.get("tags") for e in entries))
        split = {s: {e["video_id"]: e.get("tags", []) for e in es} for s, es in by_split.items()}
        labels = Labels.build(by_split["train"] + by_split["val"], cfg.min_tag_count, by_split["train"])
        source = ShardSource(files, modalities, vocab, split["train"], speaks)
        source.val_files = val_files or files
        val = source.read_split(val_files or files, "val", lambda vid, tags: split["val"].get(vid))
        read = [0]  # (the training records read for the sample: every one of them when none is of the train split)

        def train_tags(vid: str, tags: list[str]) -> list[str] | None:
            read[0] += 1
            return split["train"].get(vid)
        sample = source.read_split(files, "train", train_tags, STATS_SAMPLE)
        if not sample and read[0]:  # (said before a val split missing too: --val-features would not help)
            raise DataError(f"{cfg.manifest}: none of its {len(split['train'])} train videos is in these shards "
                            f"({read[0]} records read from {len(files)} shard{'s' if len(files) > 1 else ''} of "
                            f"--features {cfg.features}): features of another dataset?")
        if val_files and not val:
            raise DataError(f"--val-features {cfg.val_features}: no validation video could be read from "
                            f"{len(val_files)} shard(s) (first: {val_files[0]}; none readable, or none of "
                            f"{cfg.manifest}'s val split)")
        if not val_files and by_split["val"] and not val:  # (else: no validation, blamed on too few videos)
            raise DataError(f"{cfg.manifest}: none of its {len(by_split['val'])} val videos is in --features "
                            f"{cfg.features}: pass --val-features SHARDS that hold them")
    else:
        if val_files is None:
            raise DataError(f"{cfg.features}: pass --val-features SHARDS (the validation shards) or a --manifest "
                            "that splits the videos")
        names = vocab if vocab is not None else {i: label_tag(i) for i in range(NUM_CLASSES)}
        labels = Labels([names[i] for i in sorted(names)], multilabel=True)
        refuse_shared_shards(files, val_files)
        source = ShardSource(files, modalities, vocab, None, speaks)
        source.val_files = val_files
        val = source.read_split(val_files, "val", lambda vid, tags: tags)
        if not val:  # (training without validation, and a note blaming too few training videos: as no training record)
            raise DataError(f"--val-features {cfg.val_features}: no validation record could be read from "
                            + (f"{len(val_files)} shards (first: {val_files[0]})" if len(val_files) > 1
                               else f"{val_files[0]}"))
        source.val_ids = frozenset(e["video_id"] for e in val)
        shared = []  # (the statistics' sample, a pass made anyway: a shared video is refused before any step)

        def train_tags(vid: str, tags: list[str]) -> list[str] | None:
            if vid in source.val_ids:
                shared.append(vid)
                return None
            return tags
        sample = source.read_split(files, "train", train_tags, STATS_SAMPLE)
        if shared:
            raise shared_ids_error(shared, f"among the first {len(sample) + len(shared)} training records read for "
                                           "the feature statistics")
    if source.repeated:  # (said once: the stream, which looks at every record of its first epoch, then says none)
        source.repeats_said = True
        if speaks:  # (every rank read the same sample)
            say_repeated(source.repeated,
                         f"among the first {len(sample) + len(source.repeated)} training records read")
    if not sample:
        raise DataError(f"{cfg.features}: no training record could be read from {len(files)} shard(s)"
                        + (f" (none of their videos is in {cfg.manifest}'s train split)" if cfg.manifest else ""))
    return {"train": sample, "val": val, "test": []}, source, modalities, Vocab.build([], 1), labels
