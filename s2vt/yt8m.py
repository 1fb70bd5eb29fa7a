"""YouTube-8M (2018 release) TFRecord shards -> a manifest and the project's feature store.

Video-level shards hold one `tf.train.Example` per video (`id`, `labels`, `mean_rgb` [1024],
`mean_audio` [128]); frame-level shards one `tf.train.SequenceExample` (context `id`,
`labels`; feature lists `rgb` and `audio`, one uint8-quantised vector per second). They
become modalities `rgb` [1, 1024] / [T, 1024] and `audio` [1, 128] / [T, 128].
"""
from __future__ import annotations

import collections
import csv
import os
import re
import sys
from pathlib import Path

import numpy as np

from .errors import counted, interrupts_held
from .jsonfile import compressed
from .manifest import SPLITS, valid_video_id, write_manifest
from .store import CASE_FIX, CASE_TWIN, FeatureStore

from .datasets import DatasetError, regular_files
from .tfrecord import CorruptRecord, ProtoError, TFRecordError, masked_crc32c, parse_sequence_example, read_records

NUM_CLASSES = 3862  # the 2018 vocabulary; used as the label range when no vocabulary is given
DIMS = {"rgb": 1024, "audio": 128}
VIDEO_LEVEL = {"rgb": "mean_rgb", "audio": "mean_audio"}  # modality -> Example feature
# recorded as the modalities' "backbones" in meta.json: FeatureStore.init_meta then refuses to
# mix video-level and frame-level features of one modality in one store
SOURCES = {"video": {"rgb": "youtube-8m:video-level mean_rgb (Inception-v3, PCA)",
                     "audio": "youtube-8m:video-level mean_audio (VGG-like, PCA)"},
           "frame": {"rgb": "youtube-8m:frame-level rgb (Inception-v3, PCA, dequantised)",
                     "audio": "youtube-8m:frame-level audio (VGG-like, PCA, dequantised)"}}
SPLIT_PREFIXES = (("train", "train"), ("validate", "val"), ("test", "test"))
REPEATED_SHOWN = 3  # repeated ids (or corrupt records) named in a file's one warning line


class SkipRecord(Exception):
    """A record that cannot be imported: `reason` (the report counts records by it) and details."""

    def __init__(self, reason: str, detail: str = "", vid: str | None = None) -> None:
        super().__init__(f"{reason} ({detail})" if detail else reason)
        self.reason, self.detail = reason, detail
        self.vid = vid  # the record's id, where it was read before the record failed


def skipped_line(path: str, n: int, e: SkipRecord) -> str:
    """The warning line of record `n` of `path` skipped for `e` (the import's and training's alike)."""
    return f"warning: {path}: record {n}" + (f" (id {e.vid})" if e.vid else "") + f": {e}; skipped"


OUTSIDE = "label outside the vocabulary"  # a SkipRecord reason said once per file (shards.LabelMisses), not per record
NON_FINITE = "features hold NaN or infinite values"


def dequantize(quantized: np.ndarray, max_quantized_value: float = 2.0,
               min_quantized_value: float = -2.0) -> np.ndarray:
    """uint8 -> float32 exactly as the starter code's `Dequantize` (google/youtube-8m utils.py):
    feat * (max - min) / 255 + (max - min) / 512 + min."""
    quantized_range = max_quantized_value - min_quantized_value
    scalar = quantized_range / 255.0
    bias = quantized_range / 512.0 + min_quantized_value
    # in float32, as TensorFlow computes it on the float32 tensor
    return quantized.astype(np.float32) * np.float32(scalar) + np.float32(bias)


def starts_as_tfrecord(head: bytes) -> bool:
    """Whether bytes begin as a TFRecord file does: its first record's length and that length's masked CRC-32C."""
    return len(head) >= 12 and masked_crc32c(head[:8]) == int.from_bytes(head[8:12], "little")


def binary_kind(path: str | os.PathLike) -> str | None:
    """What a file that is no text is, from its first bytes: 'a TFRecord shard' (`starts_as_tfrecord`), 'a binary
    file' (a NUL byte); None for text or a file that cannot be read. `train --vocabulary validate0000.tfrecord`
    said "cannot read ('utf-8' codec can't decode byte 0xd3 ...)" (hostile trial)."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return None
    if starts_as_tfrecord(head):
        return "a TFRecord shard"
    if packed := compressed(head):  # (a gzipped vocabulary.csv was "a binary file"; trial 85)
        return packed
    # (a NUL byte is in no text file: a CSV of another encoding, Latin-1, is left to the reader's own line)
    return "a binary file" if b"\x00" in head else None


def label_tag(index: int) -> str:
    """The tag of a class a vocabulary does not name (or names like another): `label<Index>`."""
    return f"label{index}"


def is_label_tag(tag: str) -> bool:
    return re.fullmatch(r"label\d+", tag) is not None


def read_vocabulary(path: str | os.PathLike, speaks: bool = True,
                    shards_go: str = "shards go in --features") -> dict[int, str]:
    """Class index -> tag: the `Name`, or `label<Index>` where the name is empty or shared by
    several classes (a tag must name one class; said in one warning line unless `speaks` is False).
    An Index given twice is a DatasetError: which name its videos get would be a guess. `shards_go`: where the
    command takes shards, said when one is given as the vocabulary (import's are its SHARD arguments; trial 77)."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            if not {"Index", "Name"} <= set(reader.fieldnames or []):
                what = binary_kind(path)  # (a tar of it reads as text up to its NULs: said as what it is)
                raise DatasetError(f"{path}: not a YouTube-8M vocabulary.csv (needs columns Index, Name)"
                                   + (f": {what}" if what else ""))
            rows = []
            for row in reader:
                if row["Index"] is None or row["Name"] is None:  # (a row cut before its Name: the class went
                    # unnamed, unsaid, trial 84; one without the columns after it is read, trial 85)
                    raise DatasetError(f"{path}: line {reader.line_num}: {sum(v is not None for v in row.values())} "
                                       f"of the header's {len(reader.fieldnames)} fields, without its "
                                       f"{'Index' if row['Index'] is None else 'Name'} (a file cut short, or a row "
                                       "written by hand?)")
                rows.append((row["Index"], row["Name"].strip(), reader.line_num))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        if (what := binary_kind(path)) is not None:  # (a codec's error said nothing of what the file is)
            where = f" ({shards_go})" if what == "a TFRecord shard" and shards_go else ""
            raise DatasetError(f"{path}: not a vocabulary CSV: {what}{where}; --vocabulary takes YouTube-8M's "
                               "vocabulary.csv (columns Index, Name)") from None
        raise DatasetError(f"{path}: cannot read ({e})") from None
    if not rows:  # (every record's labels would be outside it: a flood of skipped records, nothing trained)
        raise DatasetError(f"{path}: a vocabulary without any class (its header alone): pass the whole "
                           "vocabulary.csv, or leave --vocabulary out (tags label<id>)")
    names: dict[int, str] = {}
    lines: dict[int, int] = {}  # index -> its line
    for index, name, line in rows:
        try:
            i = int(index)
        except ValueError:
            raise DatasetError(f"{path}: line {line}: Index must be an integer, not {index!r}") from None
        if i < 0:  # (no record's label is negative: the class could never be tagged)
            raise DatasetError(f"{path}: line {line}: Index must be 0 or more, not {i}")
        if i in names:
            raise DatasetError(f"{path}: line {line}: Index {i} is given twice (also on line {lines[i]}): give each "
                               "class one row")
        names[i], lines[i] = name, line
    shared: dict[str, list[int]] = {}
    for i, name in names.items():
        shared.setdefault(name, []).append(i)
    shared = {name: idx for name, idx in shared.items() if name and len(idx) > 1}
    if shared and speaks:
        name, idx = next(iter(shared.items()))
        n = len(shared)
        print(f"warning: {path}: {n} name{'s are each' if n > 1 else ' is'} given to several classes ({'first: ' * (n > 1)}{name!r}, "
              f"Index {', '.join(map(str, idx[:REPEATED_SHOWN]))}{', ...' if len(idx) > REPEATED_SHOWN else ''}): "
              "those classes are tagged label<Index>", file=sys.stderr)
    return {i: name if name and name not in shared else label_tag(i) for i, name in names.items()}


def refuse_not_a_shard(path: str | os.PathLike) -> None:
    """DatasetError naming a file that does not begin as a TFRecord file; nothing for one that does, an empty one,
    or one that cannot be read (the reader's to say)."""
    if not os.path.isfile(path):  # (a pipe is not opened: reading it would wait)
        return
    try:
        with open(path, "rb") as f:
            head = f.read(512)  # (a tar member's header, `compressed`; a record's length and CRC are the first 12)
    except OSError:
        return
    if head and not starts_as_tfrecord(head):  # (an empty file: the import's "empty" line says it)
        hint = compressed(head) or ("a vocabulary CSV goes in --vocabulary" if Path(path).suffix.lower() == ".csv" else
                                    "YouTube-8M's shards are train*.tfrecord, validate*.tfrecord, test*.tfrecord")
        raise DatasetError(f"{path}: not a TFRecord file ({hint})")


def split_of_shard(path: str | os.PathLike) -> str:
    """train*, validate*, test* file names -> train, val, test."""
    name = Path(path).name
    for prefix, split in SPLIT_PREFIXES:
        if name.startswith(prefix):
            return split
    raise DatasetError(f"{path}: cannot tell the split from the file name (train*, validate*, test*); "
                       f"pass --split")


def _video_id(context: dict) -> str:
    raw = context.get("id")
    if raw is not None and not isinstance(raw, list):  # (numbers: said as "no id", which it has; trial 84)
        raise SkipRecord("id is not a bytes string", f"{getattr(raw, 'dtype', type(raw).__name__)} values")
    if not isinstance(raw, list) or len(raw) != 1:
        raise SkipRecord("no id" if not raw else "more than one id")
    try:
        vid = raw[0].decode("utf-8")
    except UnicodeDecodeError:
        raise SkipRecord("invalid id", repr(raw[0][:80])) from None
    if not valid_video_id(vid):
        raise SkipRecord("invalid id", repr(vid[:80]))
    return vid


def _tags(context: dict, vocab: dict[int, str] | None, split: str) -> list[str]:
    """Tags of the record's labels; train and val records must have some, test ones may not."""
    labels = context.get("labels")
    if labels is None or len(labels) == 0:
        if split == "test":
            return []
        raise SkipRecord("no labels")
    if not isinstance(labels, np.ndarray) or labels.dtype != np.int64:
        raise SkipRecord("labels are not an int64 list")
    tags = []
    for label in dict.fromkeys(labels.tolist()):  # unique, in order
        known = label in vocab if vocab is not None else 0 <= label < NUM_CLASSES
        if not known:
            raise SkipRecord(OUTSIDE, str(label))
        tags.append(vocab[label] if vocab is not None else label_tag(label))
    return tags


def _video_level(context: dict) -> dict[str, np.ndarray]:
    feats = {}
    for modality, key in VIDEO_LEVEL.items():
        x = context.get(key)
        if not isinstance(x, np.ndarray) or x.dtype != np.float32 or x.size != DIMS[modality]:
            raise SkipRecord(f"{key} is not {DIMS[modality]} floats")
        # (stored, they would stop training with "re-extract it" about a file no one extracted; the
        # record is skipped and counted like any other bad record. Finite values past float16's range
        # are kept: the store writes such a file as float32)
        if not np.isfinite(x).all():
            raise SkipRecord(NON_FINITE, key)
        feats[modality] = x.reshape(1, -1)
    return feats


def _frame_level(lists: dict) -> dict[str, np.ndarray]:
    feats = {}
    for modality, dim in DIMS.items():
        frames = lists.get(modality)
        if frames is None or not all(isinstance(f, list) and len(f) == 1 and len(f[0]) == dim for f in frames):
            raise SkipRecord(f"{modality} is not a list of {dim}-byte frames")
        feats[modality] = dequantize(np.frombuffer(b"".join(f[0] for f in frames), np.uint8).reshape(-1, dim))
    # (a record without a frame was stored as empty arrays and trained on unsaid; trial 84. rgb and audio of other
    # lengths are kept, as the starter code's reader keeps them: each modality is read at its own length)
    if not any(len(x) for x in feats.values()):
        raise SkipRecord("no frames")
    return feats


def read_video(data: bytes, vocab: dict[int, str] | None, split: str) -> tuple[str, list[str], str, dict]:
    """(video id, tags, 'video' or 'frame', {modality: [T, D] float32}) of one record."""
    try:
        context, lists = parse_sequence_example(data)
    except ProtoError as e:
        raise SkipRecord("not a tf.train.Example", str(e)) from None
    vid = _video_id(context)
    tags = _tags(context, vocab, split)
    try:
        if lists:
            return vid, tags, "frame", _frame_level(lists)
        return vid, tags, "video", _video_level(context)
    except SkipRecord as e:  # (its features: the line names the video, its id being known by now)
        e.vid = vid
        raise


def folder_shards(folder: str | os.PathLike, quiet: bool = True) -> list[str]:
    """The sorted `*.tfrecord` files of a folder (hidden ones left out: an editor's or a copy's temporary
    file; so are pipes and devices, said in one line unless `quiet`: `datasets.regular_files`), as
    `s2vt import yt8m DIR` and `train.py --features DIR` read them."""
    found = sorted(p for p in Path(folder).glob("*.tfrecord") if not p.name.startswith("."))
    # (compressed shards were skipped unsaid, and with none beside them the folder was "no shards"; trial 80)
    packed = sorted(p.name for p in Path(folder).glob("*.tfrecord.gz") if not p.name.startswith("."))
    if packed and not quiet:
        print(f"warning: {folder}: left out {len(packed)} gzip-compressed shard{'s' * (len(packed) > 1)} "
              f"(first: {packed[0]}): decompress them first (gunzip)", file=sys.stderr)
    return [str(p) for p in regular_files(folder, found, quiet)]


def expand_patterns(names: list[str]) -> list[str]:
    """`names` with each glob that names no file itself (`'yt8m/validate000[0-7].tfrecord'`, quoted, as
    train.py --features takes it) replaced by the files it matches, sorted; DatasetError for one that matches
    none (said "no such file", as if the pattern were a file's name; hostile trial)."""
    import glob

    files = []
    for name in names:
        pattern = any(c in name for c in "*?[") and not os.path.exists(name)
        matches = sorted(glob.glob(name)) if pattern else []
        if pattern and not matches:
            raise DatasetError(f"{name}: the pattern matches no file")
        files += matches or [name]
    return files


def expand_folders(names: list[str]) -> list[str]:
    """Shard paths with each folder among `names` replaced by its shards (`folder_shards`); DatasetError
    for a folder without any, or a shard named twice (merged twice, every video would be a repeat)."""
    files = []
    for name in names:
        if os.path.isdir(name):
            if not (found := folder_shards(name, quiet=False)):
                raise DatasetError(f"{name}: a folder without TFRecord shards (*.tfrecord)")
            files += found
        else:
            files.append(name)
    seen: dict[str, str] = {}  # real path -> the name it was first given by
    for f in files:
        if (again := seen.get(key := os.path.realpath(f))) is not None:
            raise DatasetError(f"{f}: given twice" + (f" (also as {again})" if again != f else ""))
        seen[key] = f
    return files


def corrupt_warning(shard: str, corrupt: list[tuple[int, int]], n: int) -> str:
    """The one line for a file's records with a bad data checksum, `corrupt` [(record number from 1,
    byte offset)] of the `n` read: their count and the first few (damage rarely stops at one record,
    and a line per record buried every other message)."""
    where = ", ".join(f"record {r} at byte {o}" for r, o in corrupt[:REPEATED_SHOWN])
    return (f"warning: {shard}: {len(corrupt)} of {n} record{'s' if n != 1 else ''} skipped: corrupt record "
            f"(bad data checksum: {where}{', ...' if len(corrupt) > REPEATED_SHOWN else ''})")


class LabelMisses:
    """Records skipped for a label outside the vocabulary, said in one line per shard (their count, the first
    labels) once its reading is done, not one line per record (a truncated vocabulary skipped hundreds);
    `said` (the run's) keeps a shard from being said again in later reads of it; `speaks` False: the shards
    are marked said, no line printed (another process says them: torchrun's rank 0, DataLoader worker 0)."""

    def __init__(self, said: set, name: str = "the vocabulary", speaks: bool = True) -> None:
        self.said, self.name, self.speaks = said, name, speaks  # (name: how the line calls the vocabulary)
        self.read: collections.Counter = collections.Counter()  # records read per shard
        self.labels: dict[str, list[str]] = {}  # shard -> the labels of its skipped records

    def skip(self, path: str, e: SkipRecord) -> bool:
        """True when `e` is a label outside the vocabulary, counted to be said later; else False."""
        if e.reason != OUTSIDE:
            return False
        self.labels.setdefault(path, []).append(e.detail)
        return True

    def say(self) -> None:
        for path, labels in self.labels.items():
            if ("labels", path) in self.said:
                continue
            self.said.add(("labels", path))
            if not self.speaks:
                continue
            n, m = len(labels), max(self.read[path], len(labels))
            first = list(dict.fromkeys(labels))
            print(f"warning: {path}: {n} of {m} record{'s' if m != 1 else ''} skipped: {OUTSIDE} (label"
                  f"{'s' if len(first) > 1 else ''} {', '.join(first[:REPEATED_SHOWN])}"
                  f"{', ...' if len(first) > REPEATED_SHOWN else ''})"
                  + (f"; most of its records: is {self.name} truncated, or another dataset's?" if 2 * n > m else ""),
                  file=sys.stderr)
        self.labels.clear()
        self.read.clear()


class ShardRecords:
    """The intact records of one shard, `(record number from 1, data)`, for the import and for training
    from shards alike. A record whose data checksum is bad is skipped (its framing is intact: reading goes
    on) and listed in `corrupt`; once the file is left, read to its end or not, they are said in one line
    (`corrupt_warning`) unless `warn` is False. Broken framing raises `TFRecordError` (after that line):
    the rest of the file is lost. `n` is the records read so far, the corrupt ones included."""

    def __init__(self, path: str, warn: bool = True) -> None:
        self.path, self.warn = path, warn
        self.n = 0
        self.corrupt: list[tuple[int, int]] = []  # (record number, byte offset)

    def __iter__(self):
        try:
            for self.n, data in enumerate(read_records(self.path, keep_going=True), 1):
                if isinstance(data, CorruptRecord):
                    self.corrupt.append((self.n, data.offset))
                else:
                    yield self.n, data
        finally:
            if self.corrupt and self.warn:
                print(corrupt_warning(self.path, self.corrupt, self.n), file=sys.stderr)


def _videos(shards: list[str], splits: dict[str, str], vocab: dict[int, str] | None, skipped: collections.Counter,
            failed_files: list[str], quiet: bool = False, empty_files: list[str] | None = None):
    """(video id, split, tags, kind, features) of every record kept, in order; a skipped record or
    unreadable file is counted in `skipped` / `failed_files` (and one warning line, unless `quiet`);
    a file of no record (0 bytes) is listed in `empty_files` when given."""
    seen: set[str] = set()
    level = None
    misses = LabelMisses(set())
    for shard in shards:
        # ids this file repeats: counted in one line per file, as a copied shard imported beside its
        # original repeats every one of its records (one line each buried the other warnings)
        repeated: list[str] = []
        records = ShardRecords(shard, warn=not quiet)
        try:
            for n, data in records:
                misses.read[shard] += 1
                try:
                    vid, tags, kind, feats = read_video(data, vocab, splits[shard])
                    if vid in seen:
                        skipped["repeated id"] += 1
                        repeated.append(vid)
                        continue
                    if level not in (None, kind):
                        raise SkipRecord(f"{kind}-level record among {level}-level ones")
                except SkipRecord as e:
                    skipped[e.reason] += 1
                    if not misses.skip(shard, e) and not quiet:
                        print(skipped_line(shard, n, e), file=sys.stderr)
                    continue
                level = kind
                seen.add(vid)
                yield vid, splits[shard], tags, kind, feats
        except TFRecordError as e:
            failed_files.append(str(e))
            n = records.n
            rest = f"the rest of this file is skipped ({n} record{'s' * (n != 1)} read)" if n else \
                "this file is skipped"
            if not quiet:
                print(f"warning: {e}; {rest}", file=sys.stderr)
        else:
            if records.n == 0 and empty_files is not None:
                empty_files.append(shard)
        if not quiet:  # (records whose label is outside the vocabulary: one line for the file)
            misses.say()
        misses.labels.clear()
        if records.corrupt:
            skipped["corrupt record"] += len(records.corrupt)
        if repeated and not quiet:
            n = records.n
            first = ", ".join(repeated[:REPEATED_SHOWN]) + (", ..." if len(repeated) > REPEATED_SHOWN else "")
            print(f"warning: {shard}: {len(repeated)} of {n} record{'s' if n != 1 else ''} skipped: repeated id, "
                  f"already imported (first: {first})", file=sys.stderr)


# the reason a record is skipped whose id the store holds already with other features
HELD = "id the store holds with other features"


def other_features(store: FeatureStore, vid: str, feats: dict[str, np.ndarray]) -> bool:
    """Whether the store holds features of `vid` that differ from `feats` (as the store would write them): a second
    import into one store (the README's train, val and test shards) whose shard repeats an id replaced the first
    import's features unsaid, under the first manifest's video (trial 84). The same features (a rerun) are no clash."""
    for modality, x in feats.items():
        path = store.path(modality, vid)
        if not path.exists():
            continue
        try:
            was = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError):  # (a damaged file: rewritten, as a rerun mends a cut one)
            continue
        new = store.encode(x)
        if was.shape != new.shape or not np.array_equal(was.astype(np.float32), new.astype(np.float32)):
            return True
    return False


def import_yt8m(shards: list[str], manifest_out: str | os.PathLike, features: str | os.PathLike | None = None,
                split: str | None = None, vocabulary: str | os.PathLike | None = None,
                before_write=None, progress: dict | None = None) -> tuple[list[dict], dict]:
    """Import YouTube-8M shards: features into the store (default `<manifest folder>/features`),
    entries into the manifest at `manifest_out`. Returns (entries, report).

    A bad record (no labels in a train/val file, a label outside the vocabulary, an invalid id,
    wrong features) is logged in one line and skipped; the records of a file whose data checksum is
    bad, or whose ids were already imported, are logged in one line for the file; a file whose framing is
    broken (bad length checksum, truncated) or that is not a TFRecord file is logged in one line
    and the rest of it skipped (records are counted from 1).
    The report counts both:
    {"videos", "skipped": {reason: count}, "failed_files": [message], "empty_files": [path]}.
    `before_write(entries)`, when given, is a check of the caller's that may refuse: it is called
    on the entries of a first, reading-only pass over the shards, before anything (store or
    manifest) is written; the shards are then read again to write. Without it, one pass.
    `progress`, when given, gets "written": the videos whose features this run wrote so far (an
    interrupted import says it: `importing.interrupted_import`).
    """
    progress = {} if progress is None else progress
    progress["written"] = 0
    if split not in (None, *SPLITS):
        raise DatasetError(f"split must be one of {', '.join(SPLITS)}, not {split!r}")
    vocab = read_vocabulary(vocabulary, shards_go="shards are the SHARD arguments") if vocabulary else None
    if split is None:  # (a file that is no shard, vocabulary.csv, was first told to pass --split; trial 77)
        for s in shards:
            if not any(Path(s).name.startswith(prefix) for prefix, _ in SPLIT_PREFIXES):
                refuse_not_a_shard(s)
    splits = {s: split or split_of_shard(s) for s in shards}  # every name checked before any work
    store = FeatureStore(features if features is not None else Path(manifest_out).parent / "features")
    store.check_logs("--features")  # (a store whose logs are another program's: refused before any shard is read)

    if before_write is not None:
        # (a refusal must leave the store as it was: the entries are known only once every shard is
        # read, so they are read once without keeping features, and checked, before any write)
        planned = [{"video_id": vid, "split": sp, "captions": [], "tags": tags}
                   for vid, sp, tags, _, _ in _videos(shards, splits, vocab, collections.Counter(), [], quiet=True)]
        if planned:  # (none: the writing pass writes nothing, and says why, record by record)
            before_write(planned)
    entries: list[dict] = []
    skipped, failed_files, empty_files, held, twins = collections.Counter(), [], [], [], []
    for vid, sp, tags, kind, feats in _videos(shards, splits, vocab, skipped, failed_files, empty_files=empty_files):
        if not entries and not held:  # (before the ids: a store of the other level is refused as such; trial 85)
            if said := store.unrelated([vid], feats, "not this import's first video"):  # (another dataset's store?)
                print(said, file=sys.stderr)
            store.init_meta({"source": "YouTube-8M precomputed features (2018 release), "
                                       f"{kind}-level, imported by `s2vt import yt8m`",
                             "backbones": SOURCES[kind], "dims": DIMS, "dtype": "float16"},
                            store_option="--features")
        if twin := store.twin_of(vid, feats):  # (macOS, Windows: tHaa and THaa would be one file)
            skipped[CASE_TWIN] += 1
            twins.append((vid, twin))
            continue
        if other_features(store, vid, feats):  # (kept, not replaced: another manifest's video; trial 84)
            skipped[HELD] += 1
            held.append(vid)
            continue
        with interrupts_held():  # (a Ctrl-C or SIGTERM comes after the video's files and its count)
            for modality, x in feats.items():
                store.write(modality, vid, x)
            progress["written"] += 1
        entries.append({"video_id": vid, "split": sp, "captions": [], "tags": tags})
    if held:
        first = ", ".join(held[:REPEATED_SHOWN]) + (", ..." if len(held) > REPEATED_SHOWN else "")
        print(f"warning: {store.root}: {counted(len(held), 'record')} skipped: {HELD} (an earlier import's, kept, not "
              f"replaced: a YouTube-8M id is one video; first: {first})", file=sys.stderr)
    if twins:
        print(f"warning: {store.root}: {counted(len(twins), 'record')} skipped: {CASE_TWIN} (first: {twins[0][0]}, "
              f"beside {twins[0][1]}): {CASE_FIX}, or train from the shards themselves (train.py --features SHARD...)",
              file=sys.stderr)
    if not entries:
        # (a 0-byte shard, a download cut at its start, was not named: the user was left to guess which)
        empty = "" if not empty_files else f": {empty_files[0]} " + (
            f"and {len(empty_files) - 1} other file{'s' * (len(empty_files) > 2)} are" if len(empty_files) > 1
            else "is") + " empty (0 bytes: no records)"
        raise DatasetError(f"no video imported from {len(shards)} file(s) "
                           f"({counted(sum(skipped.values()), 'record')} skipped, {counted(len(failed_files), 'file')} "
                           f"unreadable){empty}")
    write_manifest(entries, manifest_out)
    return entries, {"videos": len(entries), "skipped": dict(skipped), "failed_files": failed_files,
                     "empty_files": empty_files}
