"""The feature store: `meta.json` + `<modality>/<video_id>.npy`, atomic writes, resume, shards.

Beside them, JSON Lines logs: `failures.jsonl` (a video file's failure removed once its features are
written, at the run's end: `FeatureStore.settle_failures`), and the append-only `notes.jsonl` and `sources.jsonl`,
one line per written video recording the path, size and mtime of the file its features came from
(the last line for an id wins; one a crash cut short, or never wrote, leaves its file unknown, and a rerun
extracts the video again, which records it), so a rerun re-extracts a video whose file changed, and refuses to
replace the features of another video file that went by the same id (`other_source`); a line with
`"removed": true` says those modalities' features were deleted (`drop_stale`). A line with
`"imported": true` records the `.npy` file an import copied (`record_import`): kept apart from the
video files (`imported`), so extract's checks never take a feature file for a video, and an import
never replaces features another folder's import wrote (`imported_elsewhere`). Each line
is one append (O_APPEND), so concurrent shards writing one store never interleave lines.
"""
from __future__ import annotations

import collections
import contextlib
import errno
import hashlib
import io
import json
import os
import re
import stat
import time
import warnings
from pathlib import Path
from typing import Iterator

import numpy as np

from .errors import SettingError, UserError, counted, printable, shell_quote
from .fileio import (RUN_OUTPUTS, OutputError, atomic_write_bytes, atomic_write_json, dangling_link, folds_case,
                     is_link_loop, make_dirs, output_error, refuse_broken_link, refuse_special, special_file)
from .jsonfile import json_error, json_kind, parse_json
from .manifest import check_video_id, video_files, video_id_problem
from .npyfile import check_npy, cut_short, load_npy, npy_shape
from .options import as_option, one_of

try:
    import fcntl
except ImportError:  # pragma: no cover - (not POSIX)
    fcntl = None
# what flock answers on a file system that cannot lock so (`FeatureStore._logs_locked` goes on unlocked)
UNLOCKABLE = frozenset({errno.EBADF, errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EINVAL})

FP16_MAX = 65504.0
FP16_TINY = 2.0 ** -14  # float16's smallest normal: below it a value keeps fewer bits, below 2**-24 none
# the log of the videos that still have no features from their file (`FeatureStore.settle_failures`)
FAILURES = "failures.jsonl"
# settings that must agree between runs writing into one store (and with a checkpoint)
META_KEYS = ("frames", "image_size", "clips", "clip_len", "sample_rate", "vggish_pca")
# the settings a user chooses with extract's option of the same name (clip_len and sample_rate are fixed)
SETTING_OPTIONS = ("frames", "image_size", "clips", "vggish_pca", "dtype")
# meta.json's objects keyed by modality
MODALITY_KEYS = ("backbones", "dims", "precision")

# the version of meta.json's layout extract writes (its "schema"): one this s2vt does not know is refused
STORE_SCHEMA = 1
# what each key of meta.json holds (the objects by modality: what each modality's value is): read into settings,
# checks and checkpoints, a value of another type was a traceback (dims "x") or recorded as it was ("frames": "x",
# then caption.py's settings from it)
META_TYPES = {"schema": int, **dict.fromkeys(("frames", "image_size", "clips", "clip_len", "sample_rate", "seed"), int),
              "vggish_pca": bool, "synthetic": bool, "dtype": str, "version": str, "source": str,
              "backbones": str, "dims": int, "precision": str}
_TYPE_WORDS = {int: "a whole number", bool: "true or false", str: "a string"}
# the least and greatest (None: no bound) value of meta.json's whole numbers (a modality's, for dims), and the values
# its strings may take: one of the right type but out of them was copied into the checkpoint and failed only where
# used (dims -5: torch's traceback from the model; sample_rate 0: caption.py blamed the machine; hostile trial).
# Extract's own options are held to them (ExtractConfig: --frames, --clips, --image-size, --precision, --dtype):
# declared here, where s2vt reads a store without importing extract
META_LIMITS = {"frames": (1, 1000), "clips": (1, 256), "image_size": (32, 1024), "dims": (1, None),
               # (no option sets these: extract records its 16-frame clips and 16 kHz audio; a bound refuses what
               # no clip (a clip is frames, as many as --frames takes) or audio track is)
               "clip_len": (1, 1000), "sample_rate": (1, 384000)}
META_CHOICES = {"precision": ("auto", "fp32", "bf16", "int8"), "dtype": ("float16", "float32")}


def within(value: int, low: int, high: int | None) -> bool:
    """Whether `value` lies in META_LIMITS' `low`..`high` (None: no bound)."""
    return low <= value and (high is None or value <= high)


def whole_number(low: int, high: int | None) -> str:
    """'a whole number from LOW to HIGH' ('a positive whole number' for 1 and no bound), as a refusal says it."""
    if high is None:
        return "a positive whole number" if low == 1 else f"a whole number of at least {low}"
    return f"a whole number from {low} to {high}"

# every key a feature store's meta.json may hold (extract's settings, backbones and version, an import's source,
# the synthetic stores' mark): a meta.json with any other is another program's (`foreign_meta`)
STORE_META_KEYS = frozenset({"schema", *META_KEYS, "seed", "dtype", *MODALITY_KEYS, "version", "source", "synthetic"})
# the files a store keeps beside its modality folders (lock and temporary files start with '.', which no
# modality name does): a modality named like one would make its folder there, or fail after meta.json listed it
STORE_FILES = ("meta.json", "sources.jsonl", "notes.jsonl", FAILURES)
# the store's logs: JSON Lines, one record of a video a line (`_append`)
LOGS = ("notes.jsonl", "sources.jsonl", FAILURES)

# how every line of a store's log starts (`_append` puts video_id first): a line that begins so but is no JSON is one
# of the store's own, cut short by a crash (`foreign_line`)
RECORD_START = b'{"video_id": "'
# what to do about a file whose width differs from the other files of its modality
MIXED_FIX = "re-extract it, or leave its video out of the manifest"
# why an import leaves out an id (`FeatureStore.twins_among`), and what to do about it
CASE_TWIN = "id that differs only in case from another's, on a file system that folds case"
CASE_FIX = ("put the store on a case-sensitive volume (macOS: a case-sensitive APFS volume; Windows: a folder with "
            "case sensitivity on, or WSL's own file system)")


class StoreError(UserError):
    """A store that cannot be used as asked; one line for the user."""


def source_identity(path: str | os.PathLike) -> dict | None:
    """Size and mtime of a video file, None if it cannot be read: cheap, and a replaced file changes them."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _identity(path: str | os.PathLike) -> tuple[int, int] | None:
    """(device, inode) of the file `path` names, through links; None where there is none."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def same_file(a: dict | None, b: dict | None) -> bool:
    """Whether two `source_identity` records (or sources.jsonl entries) name the same content;
    the path is not compared: a dataset moved elsewhere keeps its features."""
    return (a or {}).get("size") == (b or {}).get("size") and (a or {}).get("mtime_ns") == (b or {}).get("mtime_ns")


def check_rank(path: str | os.PathLike, shape: tuple) -> None:
    """StoreError naming the file unless `shape` is [T, D] or [D] (one frame) with D > 0."""
    if len(shape) not in (1, 2) or shape[-1] == 0:
        raise StoreError(f"{printable(str(path))}: shape {list(shape)}: features must be [T, D] "
                         "(frames by features), or [D] for one frame; re-extract it")


def stable_shard(video_id: str, num_shards: int) -> int:
    """Shard of a video: sha1 of its id modulo N (the same on every machine and run)."""
    return int(hashlib.sha1(video_id.encode()).hexdigest(), 16) % num_shards


def parse_shard(text: str) -> tuple[int, int]:
    """'I/N' with 0 <= I < N -> (I, N)."""
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise SettingError(f"--shard must look like I/N (e.g. 0/4), not {text!r}") from None
    if not (n >= 1 and 0 <= i < n):
        raise SettingError(f"--shard {text}: need 0 <= I < N")
    return i, n


class FeatureStore:
    """A folder of per-video, per-modality feature arrays."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        self._sources: dict[str, dict[str, dict]] | None = None
        self._imported: dict[str, dict[str, dict]] = {}  # (filled with _sources, by `sources`)
        self._cut: set[str] = set()  # videos whose last sources.jsonl record a crash cut short (`sources`)
        self._unnamed = 0  # sources.jsonl records cut short before their video id (`sources`, `mend_sources`)
        self._dims: dict[str, int] | None = None  # widths `read` checks against (`_widths`)
        self._settled_widths: dict[str, tuple[int, str]] = {}  # `settle_width`'s, for stores without meta.json
        self._written: set[tuple[str, str | None]] = set()  # (id, file) written this run (`forget`)
        self._inputs: dict[tuple[int, int], str] = {}  # (device, inode) -> name of a file the run reads (`protect`)
        self._folds: bool | None = None  # whether its file system folds case (`folds_case`)
        self._names: dict[str, dict[str, str]] = {}  # modality -> casefolded id -> the id of its file (`case_twin`)

    @property
    def meta_path(self) -> Path:
        return self.root / "meta.json"

    def meta(self) -> dict:
        """meta.json's content ({} for a store without one, e.g. .npy folders put together by hand); StoreError
        for one that is not a JSON object, whose objects by modality (MODALITY_KEYS) are not, or that holds a
        value of another type than META_TYPES says."""
        meta = self._meta_object()
        self._check_types(meta)
        return meta

    def _check_types(self, meta: dict) -> None:
        """StoreError naming the first key of `meta` (a modality's value, for the objects by modality) whose value
        is not of the type META_TYPES gives it, or lies outside META_LIMITS or META_CHOICES."""
        for key, want in META_TYPES.items():
            values = meta.get(key, {}).items() if key in MODALITY_KEYS else [(None, meta[key])] if key in meta else []
            for modality, value in values:
                name = f"{key} of {modality!r}" if modality is not None else key
                # a whole number written as a float (8.0, as some JSON writers put it) is that number: 'frames is
                # 8.0, not a whole number' refused it (hostile trial); taken as an int, for every reader after
                if (key in META_LIMITS and isinstance(value, float) and value.is_integer()
                        and within(int(value), *META_LIMITS[key])):
                    value = int(value)
                    if modality is None:
                        meta[key] = value
                    else:
                        meta[key][modality] = value
                # (bool is an int to Python: a JSON true is no number of frames)
                if key in META_LIMITS and isinstance(value, float):  # (1e20: out of range, a number all the same)
                    problem = f"{value!r}, not {whole_number(*META_LIMITS[key])}"
                elif not isinstance(value, want) or (want is int and isinstance(value, bool)):
                    problem = f"{json_kind(value)}, not {_TYPE_WORDS[want]}"
                elif key == "schema" and value > STORE_SCHEMA:  # (99: a newer s2vt's store, read as if it were ours)
                    # (the store is whole, this s2vt old: removing meta.json, as for a damaged one, lost the settings
                    # a model needs to caption new videos; trial 108)
                    raise StoreError(f"{self.meta_path}: {name} is {value}, a layout this s2vt does not know (it "
                                     f"reads schema {STORE_SCHEMA}): a newer s2vt wrote it; upgrade this s2vt to "
                                     "read the store as it is (git pull in its checkout)")
                elif key == "schema" and value != STORE_SCHEMA:
                    problem = f"{value}, a layout this s2vt does not know (it reads schema {STORE_SCHEMA})"
                elif key in META_LIMITS and not within(value, *META_LIMITS[key]):
                    problem = f"{value!r}, not {whole_number(*META_LIMITS[key])}"
                elif key in META_CHOICES and value not in META_CHOICES[key]:
                    problem = f"{value!r}, not {one_of(META_CHOICES[key])}"
                else:
                    continue
                raise StoreError(f"{self.meta_path}: {name} is {problem}{self.mend_meta()}")

    def origins(self) -> tuple[set[str], dict[str, set[str]]]:
        """What made the store, by its sources.jsonl: the modalities extract wrote, and {modality: the folders an
        import copied its files from}; nothing known where the log cannot be read."""
        extracted, imported = set(), {}
        try:
            for modalities in self.sources().values():
                extracted.update(modalities)
            for modalities in self._imported.values():
                for modality, ident in modalities.items():
                    imported.setdefault(modality, set()).add(os.path.dirname(str(ident.get("path", ""))))
        except StoreError:  # (a log that cannot be read either: what made the store is not known)
            return set(), {}
        return extracted, imported

    @staticmethod
    def imports_named(imported: dict[str, set[str]]) -> str:
        """`origins`' imports as a line names them: 'aud from /a; cnn from /b, /c'."""
        return "; ".join(f"{m} from {', '.join(printable(f) for f in sorted(folders)[:2])}"
                         f"{', ...' if len(folders) > 2 else ''}" for m, folders in sorted(imported.items()))

    def mend_meta(self) -> str:
        """How to go on from a meta.json that cannot be used, by what made the store (`origins`): an import writes
        its modality into meta.json anew once it is removed (copying nothing it holds already), so each import that
        made the store is named, by modality and folder (the last one alone, run again, left the others' modalities
        out of meta.json, unsaid, and training then left them out; trial 65); extract refuses a store of features
        without one, and a model trained on a store without it cannot caption new videos (meta.json is how their
        features were extracted), so an extracted store is extracted again, with the options it was extracted
        with, into a new --out. Re-extracting or importing into the store as it is met the same refusal (hostile
        trial)."""
        extracted, imported = self.origins()
        made = self.imports_named(imported)
        if extracted:
            again = f" and import into it again what was imported ({made})" if imported else ""
            return (f"; extract again into a new --out, with the options it was extracted with{again} (meta.json "
                    "records how the features were extracted, which a model needs to caption new videos), or remove "
                    "meta.json to train and evaluate on the store as it is")
        if imported:
            return (f"; remove meta.json and run again the import{'s' * (len(imported) > 1)} that made the store "
                    f"({made}): {'each writes its modality' if len(imported) > 1 else 'it writes meta.json'} anew")
        return "; remove meta.json to read the store without it"

    def unlisted(self) -> str | None:
        """The warning for a store whose meta.json (written anew by an import: the old one was removed) leaves out
        modalities it holds files of: training reads the modalities meta.json lists, so it left them out, unsaid,
        where the advice was to run again each import and only some were (trial 66). None when it lists them all."""
        listed = self.meta().get("backbones") or {}
        left = [m for m in self.modalities() if m not in listed and self.has_files(m)]
        if not left:
            return None
        extracted, imported = self.origins()
        again = {m: folders for m, folders in imported.items() if m in left}
        how = [f"run again the import{'s' * (len(again) > 1)} that made {self.imports_named(again)}"] if again else []
        if gone := [m for m in left if m not in again and m in extracted]:  # (its settings went with meta.json)
            how.append(f"for {', '.join(gone)}, extract again into a new --out, with the options it was extracted with, "
                       f"and import into it again what was imported ({self.imports_named(imported)})")
        if unknown := [m for m in left if m not in again and m not in extracted]:  # (files put there by hand)
            how.append(f"for {', '.join(unknown)}, move {'its folder' if len(unknown) == 1 else 'their folders'} out "
                       "of the store and import from there (s2vt import features FOLDER ... --modality NAME)")
        return (f"warning: {printable(str(self.meta_path))} does not list {', '.join(left)}, whose features the store "
                f"holds, so training leaves them out: {'; '.join(how)}")

    def _meta_object(self) -> dict:
        """`meta` before its values' types are checked: `check_meta` first says another program's file is one."""
        if not self.meta_path.is_file():
            return {}
        try:  # (as every user JSON file is read: a key given twice refused, not its last value taken)
            meta = parse_json(self.meta_path.read_bytes())
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            # (a file cut short by a full disk said what was wrong, not how to go on; hostile trial)
            raise StoreError(f"{self.meta_path}: not valid JSON ({json_error(e)}){self.mend_meta()}") from None
        except ValueError as e:  # (an integer of over 4,300 digits: a traceback, as absurd nesting was)
            raise StoreError(f"{self.meta_path}: not usable JSON ({e}){self.mend_meta()}") from None
        except RecursionError:
            raise StoreError(f"{self.meta_path}: not usable JSON (nested too deeply){self.mend_meta()}") from None
        # (every reader looks keys up in it, and modalities up in these: anything else was a traceback)
        if not isinstance(meta, dict):
            raise StoreError(f"{self.meta_path}: {json_kind(meta)}, not an object of the store's settings"
                             f"{self.mend_meta()}")
        for key in MODALITY_KEYS:
            if not isinstance(meta.get(key, {}), dict):
                raise StoreError(f"{self.meta_path}: {key} is {json_kind(meta[key])}, not an object by "
                                 f"modality{self.mend_meta()}")
        return meta

    def path(self, modality: str, video_id: str) -> Path:
        check_video_id(video_id)
        check_video_id(modality)
        return self.root / modality / f"{video_id}.npy"

    def has(self, modality: str, video_id: str) -> bool:
        return self.path(modality, video_id).is_file() and self.case_twin(modality, video_id) is None

    def folds_case(self) -> bool:
        """Whether the store's file system folds case (`fileio.folds_case`), found once."""
        if self._folds is None:
            self._folds = folds_case(self.root)
        return self._folds

    def case_twin(self, modality: str, video_id: str) -> str | None:
        """The other video whose file `video_id`'s is, its id differing only in case, on a store whose file system
        folds case (268 of the 2,950 shared YouTube-8M ids are a twin of an earlier one: on macOS one's features were
        read as the other's, unsaid); else None, and on a file system that tells case apart without a look at the
        disk."""
        if not self.folds_case():
            return None
        if (names := self._names.get(modality)) is None:  # (one listing a modality: a look per video is no dearer)
            folder = self.root / modality
            files = os.listdir(folder) if folder.is_dir() else []  # (there, no two names differ only in case)
            names = self._names[modality] = {n[:-4].casefold(): n[:-4] for n in files if n.endswith(".npy")}
        twin = names.get(video_id.casefold(), video_id)
        return twin if twin != video_id else None

    def twin_of(self, video_id: str, modalities) -> str | None:
        """`case_twin` of the first of `modalities` whose file is another video's."""
        return next(filter(None, (self.case_twin(m, video_id) for m in modalities)), None)

    def twins_among(self, video_ids, modalities) -> dict[str, str]:
        """{id: its twin} for each of `video_ids` that a store whose file system folds case cannot hold beside
        another: one whose file is another video's (`case_twin`), or a later one of `video_ids` in another case than
        an earlier one's (the same in every extract shard given the same ids). {} on a file system that tells case
        apart."""
        if not self.folds_case():
            return {}
        owners: dict[str, str] = {}  # casefolded id -> the id that has it: the one whose file is there, else the first
        twins = {}
        for v in video_ids:
            if (owner := owners.setdefault(v.casefold(), self.twin_of(v, modalities) or v)) != v:
                twins[v] = owner
        return twins

    def refuse_twin(self, modality: str, video_id: str) -> None:
        """StoreError where `video_id`'s file is another video's (`case_twin`)."""
        if twin := self.case_twin(modality, video_id):
            raise StoreError(f"{printable(str(self.path(modality, video_id)))}: is video {twin}'s file, whose id "
                             f"differs only in case, on a file system that folds case: {CASE_FIX}")

    def case_note(self, modality_ids) -> str:
        """'' or, where some of (modality, video id) `modality_ids` lack their file because it is a twin's
        (`case_twin`), a sentence saying so, for a message about videos without features."""
        twins = [(v, t) for m, v in modality_ids if (t := self.case_twin(m, v))]
        if not twins:
            return ""
        n = len({v for v, _ in twins})
        return (f" ({n} of them {'differs' if n == 1 else 'differ'} only in case from another video's id "
                f"(first: {twins[0][0]} and {twins[0][1]}), and {self.root} is on a file system that folds case, where "
                f"their features would be one file: {CASE_FIX})")

    def whole(self, modality: str, video_id: str) -> bool:
        """Whether `modality`'s file of `video_id` is a .npy file whose header is whole and whose size is what the
        header says (`check_npy`, `cut_short`): cheap, its data is not read (NaN in it is `read`'s to find)."""
        path = self.path(modality, video_id)
        try:
            check_npy(path)
        except (OSError, ValueError):
            return False
        return cut_short(path) is None

    def done(self, video_id: str, modalities, source: dict | None = None) -> bool:
        """True when every modality's file for this video exists (resume skips it) and, given the
        `source_identity` of its video file now, was computed from that same file: sources.jsonl holds its
        record (an import's record counts as one). A file with no record is one a crash or a full disk stopped
        before its record (extract writes the files first): counted done, it was never recorded, a changed
        file was never extracted again and another video by its id passed for it (hostile trial). In a store with
        no sources.jsonl at all, one written before it existed, a file with no record counts as unchanged, as it
        always did (extract makes an empty one before a new store's first feature file: `start_sources`)."""
        if not all(self.has(m, video_id) for m in modalities):
            return False
        # (extract's resume: a file cut short or that is no .npy, which train refuses, is extracted again; its header
        # and size only, not every array read)
        if source is not None and not all(self.whole(m, video_id) for m in modalities):
            return False
        known = self.sources().get(video_id, {}) if source is not None else {}
        if source is not None and video_id in self._cut:  # (its file unknown: extracted again, which records it)
            return False
        # (a record cut before its id may be this video's: one with no whole record of a modality is extracted again,
        # and `mend_sources` then drops the cut line)
        if (source is not None and not all(self._recorded(video_id, m) for m in modalities)
                and os.path.lexists(self.root / "sources.jsonl")):
            return False
        return all(same_file(known.get(m, source), source) for m in modalities)

    def start_sources(self) -> None:
        """Make an empty sources.jsonl in a store that holds no feature file and has none yet, before the first
        feature file is written into it: 'no sources.jsonl' then means a store written before it existed (`done`),
        never one a crash stopped between its first feature file and that file's record. An OutputError when it
        cannot be made (a full disk)."""
        path = self.root / "sources.jsonl"
        if os.path.lexists(path) or any(self.has_files(m) for m in self.modalities()):
            return
        try:  # (appending: a file another shard made meanwhile keeps its lines)
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666))
        except OSError as e:
            raise output_error(path, e) from None

    def _recorded_from(self, video_id: str, modality: str, source: dict | None) -> bool:
        """Whether sources.jsonl holds a whole record of `modality`'s features of `video_id` that `done` takes for
        the file `source` identifies (an import's record counts as one)."""
        return (self._recorded(video_id, modality)
                and same_file(self.sources().get(video_id, {}).get(modality, source), source))

    def unwrite(self, video_id: str, modalities, source: dict | None = None) -> None:
        """Remove `video_id`'s files of `modalities` that this run has just written and could not record (a full
        disk at sources.jsonl, a Ctrl-C between them): features with no record are no video written, and a folder
        this run made and wrote nothing else into is then empty again. A modality whose record already held its
        features as the file `source` identifies stays: the run rewrote it only because another modality was
        missing, and its record still vouches for it (removed, the record named a file that was gone). Best effort:
        a file left without its record is not `done`."""
        for m in modalities:
            if source is not None and self._recorded_from(video_id, m, source):
                continue
            with contextlib.suppress(OSError):
                self.path(m, video_id).unlink(missing_ok=True)

    def _recorded(self, video_id: str, modality: str) -> bool:
        """Whether sources.jsonl holds a whole record of `modality`'s features of `video_id` (extracted or imported)."""
        return modality in self.sources().get(video_id, {}) or modality in self._imported.get(video_id, {})

    def mend_sources(self, video_ids, modalities) -> None:
        """Drop from sources.jsonl the records a crash cut before their video id, once every one of `video_ids`
        that has features of `modalities` has a whole record of them (extract ran them again: `done`): no video is
        left whose record the cut line could be, and its warning came on every run for good. Rewritten atomically
        under the logs' exclusive lock (another shard's appends wait, none is lost)."""
        self.sources()
        if not self._unnamed or not all(self._recorded(v, m) for v in video_ids for m in modalities
                                        if self.has(m, v)):
            return
        path = self.root / "sources.jsonl"
        with self._logs_locked(True):
            lines = read_lines(path)  # (under the lock: another shard's records are kept)
            kept = [line for line in lines if _source_line(line)[0] != "unnamed"]
            if len(kept) != len(lines):
                self.refuse_input(path)
                atomic_write_bytes(path, b"".join(kept))
        self._unnamed = 0

    def other_source(self, video_id: str, source: dict | None, path: str) -> str | None:
        """The recorded path of another video file whose features `video_id` holds (in any modality:
        a run for another modality must not give the id a second video's features), when its
        identity also differs from `source`'s: two videos went by one id in different runs (a/v0.mp4,
        then b/v0.mp4). None when the features came from `path` itself (a changed file there is
        re-extracted) or the record has no path (an older store)."""
        for m, old in self.sources().get(video_id, {}).items():
            if (old.get("path") and self.has(m, video_id) and not same_file(old, source)
                    and os.path.realpath(old["path"]) != os.path.realpath(path)):
                return old["path"]
        return None

    def sources(self) -> dict[str, dict[str, dict]]:
        """video id -> modality -> identity of the file its features came from (read once, last line wins)."""
        if self._sources is None:
            self._sources, self._imported = {}, {}
            path = self.root / "sources.jsonl"
            refuse_special_log(path)
            try:
                lines = path.read_bytes().splitlines() if path.exists() else []
            except OSError as e:
                raise StoreError(f"{path}: cannot read ({e.strerror})") from None
            # the videos whose last record is cut short (by id, in order; a later whole record of the video supersedes
            # it: the log is append-only, and its warning came on every run for good), and the cut records whose id
            # is cut too
            cut, unnamed = {}, 0
            for line in lines:
                kind, r = _source_line(line)
                if kind == "record":
                    if r.get("removed") is True:  # (drop_stale: those features were deleted)
                        for m in r["modalities"]:
                            self._sources.get(r["video_id"], {}).pop(m, None)
                    else:
                        into = self._imported if r.get("imported") is True else self._sources
                        into.setdefault(r["video_id"], {}).update(dict.fromkeys(r["modalities"], r["ident"]))
                    cut.pop(r["video_id"], None)
                elif kind == "cut":
                    cut[r] = None
                else:
                    unnamed += kind == "unnamed"
            self._cut = set(cut)  # (`done`: extracted again, which writes a whole record)
            self._unnamed = unnamed  # (`done`: the videos without a whole record extracted again; `mend_sources`)
            if cut or unnamed:  # (said: those videos' sources are unknown)
                first = f"; first: {next(iter(cut))}" if cut else ""
                fix = ": run the extract or import that wrote them again, which writes them anew" if cut else ""
                warnings.warn(f"{printable(str(path))}: passed over {len(cut) + unnamed} record(s) cut short (a write "
                              f"a crash stopped{first}): the files those videos' features came from are not known{fix}")
        return self._sources

    def imported(self) -> dict[str, dict[str, dict]]:
        """video id -> modality -> identity and path of the `.npy` file an import copied (last line wins)."""
        self.sources()
        return self._imported

    def imported_elsewhere(self, modality: str, video_id: str, path: str | os.PathLike, source: str) -> str | None:
        """Where the store's `modality` features of `video_id` came from when that is not the feature
        file `path` (another path, and another size or mtime: a copy kept with its mtime is the same
        file): the recorded path; for a file with no record (an import from before records were
        kept, a file put there by hand), meta.json's `source` unless it names this import's `source`.
        None when the store holds no such file, or it came from `path`."""
        if not self.has(modality, video_id):
            return None
        old = self.imported().get(video_id, {}).get(modality)
        if old is None or not old.get("path"):
            was = self.meta().get("source")
            if isinstance(was, str) and source in was:
                return None
            return was if isinstance(was, str) and was else f"{self.root / modality} (recorded by no import)"
        if same_file(old, source_identity(path)) or os.path.realpath(old["path"]) == os.path.realpath(path):
            return None
        return old["path"]

    def import_done(self, modality: str, video_id: str, path: str | os.PathLike) -> bool:
        """Whether `modality`'s file of `video_id` exists and was copied from the feature file `path` as it is
        now (the same path, size and mtime): a rerun of an import skips it, and records nothing again."""
        old = self.imported().get(video_id, {}).get(modality)
        return (old is not None and self.has(modality, video_id) and same_file(old, source_identity(path))
                # (a copy cut short (a crash, a full disk, a `truncate`) is copied again: a rerun skipped it as done
                # and left the store broken; hostile trial)
                and old.get("path") == os.path.abspath(path) and self.whole(modality, video_id))

    def record_import(self, video_id: str, modality: str, path: str | os.PathLike) -> None:
        """Record in sources.jsonl that `modality`'s features of `video_id` were copied from the feature file `path`."""
        ident = {**(source_identity(path) or {"size": None, "mtime_ns": None}), "path": os.path.abspath(path)}
        self._append("sources.jsonl", {"video_id": video_id, "modalities": [modality], "imported": True, **ident})
        self.imported().setdefault(video_id, {})[modality] = ident
        self._cut.discard(video_id)

    def modalities(self) -> list[str]:
        """Modality folders present in the store."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))

    def no_folder(self, modalities) -> str:
        """': S/M is a link to a missing target (T)' (`not_a_folder`'s words) for the first of `modalities` whose name
        in the store is there but is no folder, to end a refusal that says the store has no features for them
        ('no features for M' alone, of a name `ls` shows, sent the user looking for files); '' when none is."""
        for m in modalities:
            path = self.root / m
            if os.path.lexists(path) and not path.is_dir():
                return f": {printable(str(path))} is {not_a_folder(path)}"
        return ""

    def read(self, modality: str, video_id: str) -> np.ndarray:
        """[T, D] features as float32 (a [D] vector is one frame, [1, D], as `import features` stores
        one); StoreError naming the file for one that is not a numeric array of either shape, holds
        NaN or infinite values, or is not as wide as meta.json (or `settle_width`) says."""
        path = self.path(modality, video_id)
        self.refuse_twin(modality, video_id)  # (the other video's features, read as this one's)
        try:
            x = load_npy(path).astype(np.float32, copy=False)
        except (OSError, ValueError, EOFError) as e:  # pickled objects, a truncated or foreign file
            # (with the way to mend it: said for NaN alone, a file cut short left the user to guess; hostile trial)
            mend = f"; {self._mend(modality, video_id)}" if path.is_file() else ""
            raise StoreError(f"{printable(str(path))}: cannot read features ({e}){mend}") from None
        check_rank(path, x.shape)
        x = x[None] if x.ndim == 1 else x
        # one NaN poisons the feature statistics and every loss after it: training would end with a
        # NaN model and evaluate with NaN scores, neither naming the file
        if not np.isfinite(x).all():
            raise StoreError(f"{printable(str(path))}: cannot read features (holds NaN or infinite values); "
                             f"{self._mend(modality, video_id)}")
        dim = self._widths().get(modality)
        if dim is not None and x.shape[1] != dim:  # (else a shape error deep inside the model)
            settled = self._settled_widths.get(modality)
            raise StoreError(f"{printable(str(path))}: shape {list(x.shape)}, but " + (
                f"the other {modality} files hold {dim} features per frame ({settled[1]}); the store mixes "
                f"feature sizes: {MIXED_FIX}" if settled else
                f"{self.meta_path} gives {modality} {dim} features per frame; the store mixes feature sizes: "
                "rebuild it, or import these features under another modality name"))
        return x

    def _mend(self, modality: str, video_id: str) -> str:
        """What makes a damaged feature file whole again: extract counts a video whose files are there done, so
        're-extract it' alone changed nothing; the file goes first. An import's file (its record, or a store an
        import made: meta.json's `source`) is copied again by its import."""
        if modality not in self.sources().get(video_id, {}):  # (no extract's record of it)
            old = self.imported().get(video_id, {}).get(modality)
            if old and old.get("path"):
                return f"remove it and run the import that copied it from {printable(old['path'])} again"
            if isinstance(source := self.meta().get("source"), str) and source:
                return f"remove it and run the import again ({printable(source)})"
        return "remove it and run extract again, which extracts its video anew"

    def _widths(self) -> dict[str, int]:
        """Features per frame of each modality: meta.json's dims, and those `settle_width` found."""
        if self._dims is None:
            self._dims = {**self.meta().get("dims", {}), **{m: w for m, (w, _) in self._settled_widths.items()}}
        return self._dims

    def settle_width(self, modality: str, video_ids) -> int | None:
        """Features per frame of `modality` for these videos (None: none has a file): meta.json's,
        which `read` checks each file against; for a modality it gives no width of (LIC2022's linked tsn files)
        the width of most of their files, after every file's header is checked against it, so that
        an odd file is refused naming it before training, not met as a shape error in some batch;
        `read` checks against it from then on."""
        if modality in self.meta().get("dims", {}):
            # one file's header against it: a meta.json edited to a width no file has (1e9) built a model
            # of that width, the memory for it refused in torch's traceback before any file was read
            dim = int(self._widths()[modality])
            path = next((p for p in (self.path(modality, v) for v in video_ids) if p.is_file()), None)
            if path is not None:
                try:
                    shape = npy_shape(path)
                except (OSError, ValueError, EOFError) as e:
                    raise StoreError(f"{printable(str(path))}: cannot read features ({e})") from None
                check_rank(path, shape)
                if shape[-1] != dim:  # (the first file: meta.json may be what is wrong, edited by hand)
                    raise StoreError(f"{printable(str(path))}: shape {list(shape)}, but {self.meta_path} gives "
                                     f"{modality} {dim} features per frame: if meta.json is wrong, remove it to read "
                                     "the store by its files; if the files are, rebuild the store")
            return dim
        shapes: dict[Path, tuple] = {}
        for vid in video_ids:
            path = self.path(modality, vid)
            if path.is_file():
                try:
                    shapes[path] = npy_shape(path)
                except (OSError, ValueError, EOFError) as e:
                    raise StoreError(f"{printable(str(path))}: cannot read features ({e})") from None
                check_rank(path, shapes[path])
        if not shapes:
            return None
        counts = collections.Counter(shape[-1] for shape in shapes.values())
        width, n = counts.most_common(1)[0]  # (a tie: the width met first)
        example = next(p for p, shape in shapes.items() if shape[-1] == width)
        seen = f"{n} of {len(shapes)}, e.g. {printable(str(example))} {list(shapes[example])}"
        odd = next((p for p, shape in shapes.items() if shape[-1] != width), None)
        if odd is not None:
            target = f" (a link to {printable(os.path.realpath(odd))})" if odd.is_symlink() else ""
            raise StoreError(f"{printable(str(odd))}{target}: shape {list(shapes[odd])}, but the other {modality} "
                             f"files hold {width} features per frame ({seen}); the store mixes feature sizes "
                             f"and no meta.json says which is right: {MIXED_FIX}")
        self._settled_widths[modality] = (width, seen)
        self._dims = None
        return width

    def width(self, modality: str) -> int | None:
        """Features per frame `modality` holds: meta.json's, else one file's; None while it has no file."""
        if not self.has_files(modality):
            return None
        dim = self.meta().get("dims", {}).get(modality)
        if dim is None:
            try:
                dim = np.load(next((self.root / modality).glob("*.npy")), mmap_mode="r").shape[-1]
            except (OSError, ValueError, EOFError, IndexError, StopIteration):
                return None
        return int(dim)

    @staticmethod
    def encode(array: np.ndarray, dtype: str = "float16") -> np.ndarray:
        """`array` as `write` saves it: float16 falls back to float32 where values would overflow, or where most
        of its non-zero values are below float16's normal range (features on a tiny scale, 1e-6, were stored as
        zeros and a few rounded steps, unsaid)."""
        array = np.asarray(array, dtype=np.float32)
        if dtype != "float16" or array.size == 0:
            return array.astype(np.float16) if dtype == "float16" else array
        size = np.abs(array)
        tiny = np.count_nonzero((size > 0) & (size < FP16_TINY))
        if size.max() < FP16_MAX and tiny <= np.count_nonzero(size) // 2:
            array = array.astype(np.float16)
        return array

    def protect(self, paths) -> None:
        """The files the run reads (extract's manifest and videos): a file of the store that is one of them, by a
        symbolic or a hard link, is never written (`refuse_input`). A store's sources.jsonl linked to the run's own
        manifest had it rewritten as the store's log, a feature file linked to another input video had the video
        replaced by an array (trial 78)."""
        self._inputs = {key: p for p in paths if p and (key := _identity(p)) is not None}

    def refuse_input(self, path: str | os.PathLike) -> None:
        """OutputError for a file of the store that is one of the run's inputs (`protect`): a symbolic link to one,
        or a hard link (the same file by another name: appended to, the manifest gained the store's records)."""
        if not self._inputs or (key := _identity(path)) not in self._inputs:
            return
        named = self._inputs[key]
        if not os.path.islink(path) and os.path.abspath(named) == os.path.abspath(path):
            # (the store's own log given as the manifest, `extract STORE/failures.jsonl --out STORE` to retry its
            # failures: "(remove the link)" had the user delete that log; trial 108)
            raise OutputError(f"cannot write {path}: it is this store's own {Path(path).name}, given as an input of "
                              "this command: copy it elsewhere and give the copy")
        what = f"a symbolic link to {os.path.realpath(path)}" if os.path.islink(path) else \
            f"the same file as {named} (a hard link)"
        raise OutputError(f"cannot write {path}: it is {what}, an input of this command (remove the link)")

    def write(self, modality: str, video_id: str, array: np.ndarray, dtype: str = "float16") -> None:
        """Save [T, D] atomically (`encode`d)."""
        self.refuse_twin(modality, video_id)  # (it would replace the other video's features)
        buf = io.BytesIO()
        np.save(buf, self.encode(array, dtype), allow_pickle=False)
        self.refuse_input(self.path(modality, video_id))
        atomic_write_bytes(self.path(modality, video_id), buf.getvalue())
        if modality in self._names:
            self._names[modality][video_id.casefold()] = video_id

    def check_meta(self, meta: dict, store_option: str = "--out", adds: bool = False) -> dict:
        """StoreError unless an existing meta.json agrees with `meta` (as `init_meta` needs); returns
        meta.json's content. Writes nothing: an importer asks before its other checks. `store_option`
        is the option that named the store, which a refusal says to change (extract's --out, an
        import's --features); `adds`: the run's settings are extract's options, which the refusal names.

        A modality's precision may change only while the store holds none of its files: one
        modality's features all come from one precision.
        """
        refuse_run_folder(self.root, store_option)
        old = self._meta_object()
        if why := foreign_meta(old):  # (another program's file: merged into, it lost its own settings)
            raise StoreError(f"{self.meta_path} is not a feature store's meta.json ({why}): name another {store_option}")
        self._check_types(old)
        # (one store, one dtype: float16 and float32 files never mix)
        differ = [k for k in (*META_KEYS, "dtype") if k in old and k in meta and old[k] != meta[k]]
        weights, precisions, wid = self._other_weights(old, meta) if adds else ({}, {}, None)
        if differ or weights or precisions:
            # every setting that differs, and (extract's: `adds`) the options that match the store: the first alone
            # was said, and a run that fixed it was refused for the next (hostile trial)
            was = ([f"{k}={old[k]!r}" for k in differ] + [f"{m} weights {w}" for m, w in weights.items()]
                   + [f"{m} precision {p}" for m, p in precisions.items()])
            asks = ([f"{k}={meta[k]!r}" for k in differ] + [f"weights {wid}"] * bool(weights)
                    + [f"precision {meta['precision'][m]}" for m in list(precisions)[:1]])
            asks = repr(meta[differ[0]]) if len(differ) == 1 and not (weights or precisions) else ", ".join(asks)
            # (modalities held at two precisions: no one value adds to both, auto adds each at its own; trial 73)
            held = {old.get("precision", {}).get(m) for m in meta.get("precision", {}) if self.has_files(m)}
            options = ([as_option(k, old[k]) for k in differ] + sorted({weights_option(w) for w in weights.values()})
                       + (["--precision auto"] if len(held - {None}) > 1 and precisions else
                          sorted({f"--precision {p}" for p in precisions.values()})))
            same = f"pass {' '.join(options)} to add to this store, or " \
                if adds and all(k in SETTING_OPTIONS for k in differ) else ""
            raise StoreError(f"{self.meta_path}: store was extracted with {', '.join(was)}, this run asks {asks}; "
                             f"{same}use another {store_option}")
        for name, wid in meta.get("backbones", {}).items():
            if wid != ANY_WEIGHT_FILE and old.get("backbones", {}).get(name, wid) != wid:
                raise StoreError(f"{self.meta_path}: {name} features come from {old['backbones'][name]}, "
                                 f"this run uses {wid}; use another {store_option}")
        for name, dim in meta.get("dims", {}).items():
            was = old.get("dims", {}).get(name, dim)
            if was != dim and self.has_files(name):  # (a dims entry is what `read` checks every file against)
                raise StoreError(f"{self.meta_path}: {name} features are {was} per frame, this run's are "
                                 f"{dim}; use another modality name or another store")
        for name, precision in meta.get("precision", {}).items():
            was = old.get("precision", {}).get(name, precision)
            if was != precision and self.has_files(name):
                raise StoreError(f"{self.meta_path}: {name} features were computed in {was}, this run "
                                 f"asks {precision}; pass --precision {was} or use another {store_option}")
        return old

    def _other_weights(self, old: dict, meta: dict) -> tuple[dict[str, str], dict[str, str], str | None]:
        """Extract's run (`meta`: its settings, `extract.pipeline.settings_meta`, or its backbones' record) against
        a store's meta.json (`old`), before the backbones load: ({modality: the store's weights} that differ from
        the run's, {modality: the store's precision} that differs from one the run asks for a modality it holds
        files of, the run's weights). One store's features come from one kind of weights (pretrained, or random
        of one seed) for every modality, as a checkpoint records one: a second seed's modality made a store no
        model of could caption, and the advice to add to it then asked each seed in turn (trial 72). Said with
        the settings in one line: a run that fixed those went on to load weights, or a precision, the store was
        not extracted with, to be refused then (trials 71, 72). Another modality's weights are compared where they
        are random (imports and YouTube-8M name theirs otherwise, and a weight file's name does not say whose)."""
        run = meta.get("backbones", {})
        randoms = [w for w in run.values() if RANDOM_WEIGHTS.fullmatch(str(w))]
        wid = randoms[0] if randoms else ANY_WEIGHT_FILE
        weights = {name: was for name, was in old.get("backbones", {}).items()
                   if (name in run or RANDOM_WEIGHTS.fullmatch(str(was))) and weights_differ(was, run.get(name, wid))}
        precisions = {name: was for name, asked in meta.get("precision", {}).items()
                      if (was := old.get("precision", {}).get(name, asked)) != asked and self.has_files(name)}
        return weights, precisions, (wid if not run or randoms else next(iter(run.values())))

    def init_meta(self, meta: dict, store_option: str = "--out", adds: bool = False) -> bool:
        """Create meta.json, or check an existing one agrees (`check_meta`) and merge new modalities into it;
        True when this call created it (`adds`: as `check_meta`'s). The check and the write are one step under the store's lock: two runs
        of other settings started at once into one new store each found none and wrote their own, the second
        over the first, and both went on writing features under it.

        `source` keeps every source written into the store, '; '-separated (a second import, from
        another folder, adds its own): it stays one string, as every store's.
        """
        make_dirs(self.root)
        with self._logs_locked(True):
            old = self.check_meta(meta, store_option, adds)
            if old:
                merged = {**old, **meta, **{k: {**old.get(k, {}), **meta.get(k, {})}
                                            for k in MODALITY_KEYS if k in meta}}
                was = old.get("source")
                if isinstance(was, str) and isinstance(meta.get("source"), str):
                    merged["source"] = was if meta["source"] in was else f"{was}; {meta['source']}"
            else:
                merged = meta
            if merged != old:
                self.refuse_input(self.meta_path)
                atomic_write_json(self.meta_path, merged)
        self._dims = None
        return not old

    def unrelated(self, ids: list[str], modalities, these: str | None = None) -> str | None:
        """A warning line when this store holds features of other modalities alone (none of `modalities`) and of
        none of the videos `ids`: most likely another dataset's store named by mistake. Added to it, meta.json lists
        the new modalities beside the old, and training on the old manifest asked for features its videos lack,
        with nothing said at the import (trial 88). None otherwise (a new store; a modality added to the same
        videos; more videos of the same modalities). `these`: how the line names `ids` (default: "none of these N
        videos")."""
        modalities = list(modalities)
        held = [m for m in self.modalities() if self.has_files(m)]
        if not held or set(modalities) & set(held) or any(self.has(m, v) for m in held for v in ids):
            return None
        these = these or f"none of these {counted(len(ids), 'video')}"
        return (f"warning: {self.root} holds {', '.join(held)} features of other videos, {these}: "
                f"{', '.join(modalities)} {'is' if len(modalities) == 1 else 'are'} "
                "added beside them, and training on the store then reads every modality its meta.json lists (pass "
                "--modalities to choose): is it another dataset's store?")

    def has_files(self, modality: str) -> bool:
        """Whether `modality` holds any feature file."""
        folder = self.root / modality
        return folder.is_dir() and any(p.suffix == ".npy" for p in folder.iterdir())

    @contextlib.contextmanager
    def _logs_locked(self, exclusive: bool) -> Iterator[None]:
        """Held while failures.jsonl is written: shared by appends (O_APPEND keeps their lines whole),
        exclusive for `settle_failures`' rewrite, whose rename would lose a line another shard appended to
        the file it read, and for `init_meta`'s check and write of meta.json. The lock is the store folder's
        own (flock): no lock file is left behind. Where the file system refuses it (NFS's emulated flock: an
        exclusive lock on a read-only handle is EBADF; CIFS: ENOLCK, EOPNOTSUPP) the caller goes on unlocked,
        as where there is no flock at all: it guards runs on one machine, and was a traceback there."""
        if fcntl is None:  # pragma: no cover - (no flock: a rewrite is as safe as the shards are apart)
            yield
            return
        try:
            fd = os.open(make_dirs(self.root), os.O_RDONLY)
        except OSError as e:
            raise output_error(self.root, e) from None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            except OSError as e:
                if e.errno not in UNLOCKABLE:
                    raise output_error(self.root, e) from None
            yield
        finally:
            os.close(fd)  # (releases the lock)

    def _append(self, name: str, record: dict) -> None:
        # one short line per write with O_APPEND: concurrent shards do not interleave lines
        if not isinstance(record.get("video_id"), str):  # (a caller's mistake: no store log holds such a line)
            raise TypeError(f"a record of the store's {name} needs a video_id: {record!r}")
        # video_id first, whatever order the caller gave: RECORD_START tells a cut line of ours by it
        record = {k: printable(v) if isinstance(v, str) else v for k, v in {"video_id": "", **record}.items()}
        line = json.dumps({**record, "time": time.strftime("%Y-%m-%dT%H:%M:%S")}, ensure_ascii=False) + "\n"
        path = make_dirs(self.root) / name
        self.refuse_input(path)
        # (the logs rewritten in place, failures.jsonl and sources.jsonl: their rewrite holds the lock exclusively)
        lock = self._logs_locked(False) if name in (FAILURES, "sources.jsonl") else contextlib.nullcontext()
        try:
            with lock, open(path, "ab") as f:
                # a log whose last line a crash cut short: this record starts a line of its own (written onto the
                # cut one, both were one line of invalid JSON, and the next run called the store foreign)
                f.write(b"\n" * _ends_mid_line(path) + line.encode("utf-8"))
        except OSError as e:
            raise output_error(path, e) from None

    def check_logs(self, store_option: str = "--out") -> None:
        """OutputError naming the first of the store's logs that exists but cannot be appended to (a folder
        by that name, a read-only file), StoreError for one holding a line no store writes (`foreign_line`), before
        any video: found at a video's first note or failure, it
        stopped the run after that video's features were written and recorded (a rerun found it done, and
        its notes were never written). A log not there yet is left to be made (nothing is created here).
        Asked beside `check_meta` by every command that writes into a store (extract, the imports); `store_option`
        as there."""
        for name in (*LOGS, "meta.json"):
            self.refuse_input(self.root / name)
        for name in LOGS:
            path = self.root / name
            if not os.path.exists(path):  # (nor through a link to nothing: the append makes its file)
                # unless the link goes round for good, or into a folder that is not there: the append fails then,
                # after the video's features are written
                if path.is_symlink() and (is_link_loop(path) or not Path(os.path.realpath(path)).parent.is_dir()):
                    refuse_broken_link(path)
                continue
            refuse_special_log(path)
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_APPEND))
            except OSError as e:
                raise output_error(path, e) from None
            if foreign := foreign_line(read_lines(path)):  # (another program's file: appended to, silently)
                raise StoreError(f"{path} is not a feature store's {name} (line {foreign[0]}: {foreign[1]}): name "
                                 f"another {store_option}")
            self._unshare(path)

    def _unshare(self, path: Path) -> None:
        """A log that is one file under several names (a store copied with `cp -al`, hard links): appended to, the
        other store's log gained this one's lines. Given a file of its own (the same bytes, renamed over the name)
        before anything is appended. An input of the run's is refused before (`refuse_input`); a symbolic link is
        left as it is (a log kept on another disk, the user's choice)."""
        if path.is_symlink() or (was := os.stat(path)).st_nlink < 2:
            return
        with self._logs_locked(True):
            atomic_write_bytes(path, path.read_bytes())
            with contextlib.suppress(OSError):  # (its mode kept: a group-shared store's 664 became 644; trial 85)
                os.chmod(path, stat.S_IMODE(was.st_mode))

    def forget(self, video_id: str, path: str | None) -> None:
        """`video_id`'s features were just written from the file `path`: its failures of that file, in an
        earlier run or this one, no longer hold (a file since repaired). Marked now, removed from
        failures.jsonl by `settle_failures` at the run's end (one rewrite a run, not one a video)."""
        self._written.add((video_id, _same_path(path)))

    def settle_failures(self) -> None:
        """Rewrite failures.jsonl (atomically, under the exclusive lock, only when it changes) without the
        lines `forget` marked (the same id and the same file: another file that went by the id keeps its
        failure) and with only the newest line of a video file that failed again. Lines it cannot read are
        kept as they are."""
        path = self.root / FAILURES
        if not path.is_file():
            self._written.clear()
            return
        with self._logs_locked(True):
            lines = read_lines(path)  # (under the lock: another shard's lines are kept)
            keys = [failure_key(line) for line in lines]
            newest = {k: i for i, k in enumerate(keys) if k is not None}
            kept = [line for i, (line, k) in enumerate(zip(lines, keys))
                    if k is None or (k not in self._written and newest[k] == i)]
            if len(kept) != len(lines):
                self.refuse_input(path)
                atomic_write_bytes(path, b"".join(kept))
        self._written.clear()

    def log_failure(self, video_id: str, path: str, reason: str) -> None:
        """Record a video that could not be extracted in failures.jsonl (its path absolute, as `settle_failures`
        compares it whatever folder a later run starts in; any bytes of its name escaped)."""
        self._append(FAILURES, {"video_id": video_id, "path": _same_path(path), "reason": reason})

    def record_source(self, video_id: str, source: dict, modalities, path: str | None = None) -> None:
        """Record in sources.jsonl the file (its absolute `path` and `source_identity`) `modalities`'
        features were computed from."""
        ident = {**source, **({"path": os.path.abspath(path)} if path is not None else {})}
        self._append("sources.jsonl", {"video_id": video_id, "modalities": list(modalities), **ident})
        self.sources().setdefault(video_id, {}).update(dict.fromkeys(modalities, ident))
        self._cut.discard(video_id)

    def drop_stale(self, video_id: str, source: dict | None) -> list[str]:
        """Delete `video_id`'s feature files that sources.jsonl says came from another file than the
        one `source` identifies (its video changed, and its re-extraction failed: they would pass
        for the new file's features), then record their removal there; the modalities removed.
        Each file goes at once (an unlink); the record follows, so a crash between the two leaves a
        missing file, never stale features passing for current ones."""
        stale = sorted(m for m, old in self.sources().get(video_id, {}).items()
                       if self.has(m, video_id) and not same_file(old, source))
        for m in stale:
            path = self.path(m, video_id)
            try:
                path.unlink(missing_ok=True)
            except OSError as e:
                raise output_error(path, e) from None
        if stale:
            self._append("sources.jsonl", {"video_id": video_id, "modalities": stale, "removed": True})
            for m in stale:
                self.sources()[video_id].pop(m, None)
        return stale

    def note(self, video_id: str, note: str, source: dict | None = None, path: str | None = None) -> None:
        """Record a non-fatal remark (e.g. no audio track) in notes.jsonl, with the file it is about (its absolute
        `path` and `source_identity`, as sources.jsonl records it): the log is append-only, so the note of a
        file since replaced and extracted again stays, and this tells it from the notes of the features the
        store holds now (those whose size and mtime are sources.jsonl's last for the video)."""
        about = {**(source or {}), **({"path": os.path.abspath(path)} if path is not None else {})}
        self._append("notes.jsonl", {"video_id": video_id, "note": note, **about})


def modality_problem(name: str) -> str | None:
    """Why `name` cannot name a modality, a folder of the store (for a message after the name); None when it can:
    a plain name (as a video id: no '/', '.' or '..', no hidden file) that is not one of the store's own files
    (STORE_FILES, in any case: a file system may not tell them apart)."""
    if problem := video_id_problem(name):
        return problem
    if name.lower() in STORE_FILES:
        return f"the feature store keeps its own {name.lower()} under that name; name the modality otherwise"
    return None


def not_a_folder(path: Path) -> str:
    """What `path`, there but no folder, is, in words: a file, a pipe, ..., or a link to nothing (which `ls` shows
    there: 'no folder' said it was not)."""
    if link := dangling_link(path, broken="a link to a missing target ({})"):
        return printable(link)
    return "a file" if path.is_file() else special_file(os.stat(path).st_mode) or "not a folder"


def store_not_found(features: str | os.PathLike) -> str:
    """The line for a --features that names no folder (train's, evaluate's), as typed: what is there in
    `not_a_folder`'s words ('a file', 'a pipe', 'a link to a missing target (T)'), extract's too; "feature store
    not found" said of a file that is there (hostile trial) only where nothing is."""
    name = os.fspath(features)
    if not os.path.lexists(name):  # (what makes one: the line alone left it to guess; trial 71)
        return f"{name}: feature store not found (python -m extract writes one from videos, s2vt import from " \
               "precomputed features)"
    return f"{name}: {not_a_folder(Path(name))}, not a folder: --features names a feature store (the folder extract " \
           "writes)"


def no_store_here(store: FeatureStore, name: str | os.PathLike) -> str:
    """': no meta.json, so not a feature store (...): it is empty' -- what a folder is that has no meta.json and no
    feature file (a folder of videos, a training run's, an empty one), to end a refusal that says it has no
    features; '' for a store (a meta.json, or feature files without one). Training on such a folder ran on no
    features at all and ended in a traceback (hostile trial). `name`: the store as typed (Path('./-') is '-')."""
    root = store.root
    if store.meta_path.exists() or any(store.has_files(m) for m in store.modalities()):
        return ""
    run = [f for f in RUN_OUTPUTS if (root / f).exists()]
    videos = [printable(p.name) for p, _ in zip(video_files(root), range(3))]
    if (of := store_of(root / "x")) is not None and of != root.absolute():
        # (a store's modality folder: "import them first" would copy the store's own files into another one)
        parent = shell_quote(os.fspath(Path(name).parent))
        return f": no meta.json, so not a feature store: it is the {root.name!r} folder of the store {parent}: pass " \
               f"--features {parent}"
    if run:
        what = f"it is a training run's folder ({', '.join(run)})"
    elif videos:
        what = f"it holds videos ({', '.join(videos[:2])}{', ...' if len(videos) > 2 else ''}), not their " \
               f"features: extract them first (python -m extract {shell_quote(os.fspath(name))} --out STORE)"
    elif not any(root.iterdir()):
        what = "it is empty"
    elif npys := [printable(p.name) for p, _ in zip(sorted(root.glob("*.npy")), range(3))]:
        # (precomputed features straight in the folder, as a release gives them: "it holds no feature files"
        # contradicted the folder's 200 .npy files; hostile trial)
        what = (f"it holds .npy files ({', '.join(npys[:2])}{', ...' if len(npys) > 2 else ''}) but no modality "
                f"folder: import them first (s2vt import features {shell_quote(os.fspath(name))} "
                "--captions FILE --modality NAME --out MANIFEST, or s2vt import mlds for an MLDS release)")
    else:
        what = "it holds no feature files"
    return f": no meta.json, so not a feature store (made by python -m extract or s2vt import): {what}"


def refuse_run_folder(root: str | os.PathLike, store_option: str = "--out") -> None:
    """StoreError for a store folder that is a training run's (it holds best.pt, last.pt, metrics.csv or
    curves.png) and no store's (no meta.json): extract wrote a store silently beside the model, and an import one
    the run could not be resumed beside after (hostile trials). `store_option`: the option that named it."""
    held = [name for name in RUN_OUTPUTS if os.path.isfile(os.path.join(root, name))]
    if held and not os.path.lexists(os.path.join(root, "meta.json")):
        raise StoreError(f"{os.fspath(root)}: a training run's folder (it holds {held[0]}), not a feature store: "
                         f"name another {store_option}")


# extract's weights before they are found (`extract.pipeline.settings_meta`): any weight file, for `weights_differ`
ANY_WEIGHT_FILE = "pretrained"
RANDOM_WEIGHTS = re.compile(r"random\(seed=(-?\d+)\)")


def weights_differ(was: object, wid: object) -> bool:
    """Whether an extract run's weights for a backbone (`wid`: its weight id, or ANY_WEIGHT_FILE before the file is
    found) differ from a store's (`was`) in a way `--weights` / `--seed` change: random against a weight file, or
    another seed. Two weight files, or imported features, are refused by the backbone check alone."""
    if was == wid or "precomputed" in (was, wid):
        return False
    random = [bool(RANDOM_WEIGHTS.fullmatch(str(w))) for w in (was, wid)]
    return random[0] if wid == ANY_WEIGHT_FILE else any(random)


def weights_option(was: str) -> str:
    """The extract options that ask the weights a store's backbone id names."""
    seed = RANDOM_WEIGHTS.fullmatch(str(was))
    return f"--weights random --seed {seed.group(1)}" if seed else "--weights pretrained"


def foreign_meta(meta: object) -> str | None:
    """Why the content of a meta.json is not a feature store's, in words ('a JSON list', 'its key 'name' is no
    store's'); None for a store's (an object of STORE_META_KEYS)."""
    if not isinstance(meta, dict):
        return json_kind(meta)
    if other := sorted(set(meta) - STORE_META_KEYS):
        return f"its key {other[0]!r} is no store's"
    return None


def store_of(path: str | os.PathLike) -> Path | None:
    """The feature store `path` lies in, as another command's output: its folder, or that folder's folder (a
    modality's), when it holds a store's meta.json (a non-empty object of store keys: `foreign_meta`); else None."""
    folder = Path(path).absolute().parent
    for root in (folder, folder.parent):
        if not (root / "meta.json").is_file():  # (a pipe by that name would never end a read)
            continue
        try:
            meta = json.loads((root / "meta.json").read_bytes())
        except (OSError, ValueError, RecursionError):  # (none there, or not JSON: no store's)
            continue
        if meta and foreign_meta(meta) is None:
            return root
    return None


def refuse_special_log(path: Path) -> None:
    """OutputError when the store's log `path` is there but is a pipe, a device or a socket (itself or through a
    link): reading a pipe waited for good, a link to /dev/zero or /dev/full read until the kernel killed the
    process, and notes appended to /dev/zero vanished (hostile trial). A folder is said where it is opened."""
    refuse_special(path, lambda what: OutputError(f"{path} is {what}, not a file: the store keeps its log under "
                                                  "that name: move it"), folders=False)


def foreign_line(lines: list[bytes]) -> tuple[int, str] | None:
    """(line number, why) of the first of a log's `lines` that no store writes: not a JSON object with a string
    "video_id"; None when there is none. A last line without its newline (an append a crash cut short), one such
    line that a later append ended (`_append` starts a new line after it: the start of a store's record, cut) and
    blank lines are passed over: the readers skip them."""
    for n, line in enumerate(lines, 1):
        head = line.strip()
        if not head or not line.endswith(b"\n") or head.startswith(RECORD_START) or RECORD_START.startswith(head):
            continue
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            return n, "not valid JSON"
        if not isinstance(record, dict):
            return n, f"{json_kind(record)}, not a record of a video"
        if not isinstance(record.get("video_id"), str):
            return n, "no video_id"
    return None


def cut_record_id(line: bytes) -> str | None:
    """The video id a log's line cut short by a crash starts with (`_append` writes it first: RECORD_START, the id,
    its closing quote), when that much of it is there and it is a video id; else None (a whole JSON line too: one
    that lacks a field is no record cut short)."""
    head = line.strip()
    if not head.startswith(RECORD_START) or b'"' not in head[len(RECORD_START):]:
        return None
    try:
        json.loads(head)
        return None
    except (ValueError, RecursionError):
        pass
    vid = head[len(RECORD_START):].split(b'"', 1)[0].decode("utf-8", "replace")
    return None if video_id_problem(vid) else vid


def record_id(line: bytes) -> str | None:
    """The video id of one line of a store's log: a whole record's, or that of a record a crash cut short after its
    id (`cut_record_id`); None for any other line."""
    try:
        record = json.loads(line)
    except (ValueError, RecursionError):
        return cut_record_id(line)
    return record.get("video_id") if isinstance(record, dict) and isinstance(record.get("video_id"), str) else None


def _source_line(line: bytes) -> tuple[str, object]:
    """What a sources.jsonl line is: ("record", its fields, with "ident": the file's identity as `sources` keeps it),
    ("cut", the video id) for a record a crash cut short after its id (`cut_record_id`), ("unnamed", None) for one
    cut before it, ("blank", None) for a blank line."""
    try:
        r = json.loads(line)
        hash(r["video_id"]), dict.fromkeys(r["modalities"])  # (keys of `sources`' dicts: else no record)
        if r.get("removed") is True:  # (drop_stale: those features were deleted)
            return "record", r
        ident = {"size": r["size"], "mtime_ns": r["mtime_ns"]}
        if isinstance(r.get("path"), str):  # (lines before paths were recorded have none)
            ident["path"] = r["path"]
        return "record", {**r, "ident": ident}
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):  # a line cut short by a crash
        if vid := cut_record_id(line):
            return "cut", vid
        return ("unnamed" if line.strip() else "blank"), None


def _ends_mid_line(path: Path) -> bool:
    """Whether the log `path` holds bytes after its last newline (an append a crash cut short)."""
    try:
        with open(path, "rb") as f:
            if f.seek(0, os.SEEK_END) == 0:
                return False
            f.seek(-1, os.SEEK_END)
            return f.read(1) != b"\n"
    except OSError:  # (unreadable: the append says what is wrong, if anything)
        return False


def read_lines(path: Path) -> list[bytes]:
    """A log's lines (bytes, each with its newline; [] without the file)."""
    refuse_special_log(path)
    try:
        with open(path, "rb") as f:
            return f.readlines()
    except FileNotFoundError:
        return []
    except OSError as e:
        raise output_error(path, e) from None


def _same_path(path: str | None) -> str | None:
    """A file path as failures.jsonl holds it and `failure_key` compares it: absolute (a relative one from an
    older log is taken from the current folder)."""
    return os.path.abspath(path) if isinstance(path, str) and path else None


def failure_key(line: bytes) -> tuple[str, str | None] | None:
    """(video id, file) of one failures.jsonl line; None for a line that is not such a JSON object (kept as it
    is)."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    if not isinstance(record, dict) or not isinstance(record.get("video_id"), str):
        return None
    return record["video_id"], _same_path(record.get("path"))