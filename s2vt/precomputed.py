"""Precomputed per-video feature files into the store: `s2vt import features` (a folder of `.npy`, any
float dtype, `[T, D]` or `[D]`), `s2vt import mlds` (the MLDS hw2 release) and the links of `s2vt import
lic2022 --features` (its `tsn_features_*` files). Each file is checked before any is written; the
annotations they come with are read by `s2vt.datasets`."""
from __future__ import annotations

import collections
import os
import sys
from collections.abc import Callable, Collection
from pathlib import Path

import numpy as np

from .datasets import BadRows, DatasetError, is_labelled, name_id, read_labels, regular_files
from .errors import counted, interrupts_held
from .fileio import OutputError, make_dirs, output_error
from .manifest import two_names
from .npyfile import load_npy
from .store import CASE_FIX, CASE_TWIN, FeatureStore, modality_problem, not_a_folder, refuse_run_folder


class UnusableFeatures(DatasetError):
    """A feature file that cannot be imported; `kind` says why in a few words (a batch counts its files by it),
    `example` what the batch's warning says of the first such file (the message, or only what the kind leaves out)."""

    def __init__(self, message: str, kind: str, example: str | None = None):
        super().__init__(message)
        self.kind, self.example = kind, message if example is None else example


def link_lic2022_features(entries: list[dict], features: str, out: str) -> list[str]:
    """Link `features`' tsn_features_*/<id>.npy into `<out dir>/features/tsn/`, listing tsn in the store's
    meta.json (created, or merged into an extract's: training's modalities default to meta.json's, so
    tsn left out of it was not trained on, nor offered as a way out for the videos lacking the others;
    no width is recorded: training checks the linked files' widths before it starts); returns the ids
    without a file, also listed in a warning. DatasetError, before anything is made, when no video has
    one (the wrong folder: an empty store would only fail at training)."""
    store = FeatureStore(Path(out).resolve().parent / "features")
    refuse_run_folder(store.root, "--out")  # (before the files' warnings: no link into it would follow)
    files = {p.stem: p for p in regular_files(features, sorted(Path(features).glob("tsn_features_*/*.npy")))}
    # every file checked as `import features` checks its own, before a link is made: a bad one would stop a
    # training run, one a run, with "re-extract it" about a file no one extracted; left out, it is missing
    usable = usable_files(features, {e["video_id"]: files[e["video_id"]] for e in entries if e["video_id"] in files})
    absent = [e["video_id"] for e in entries if e["video_id"] not in files]  # (no file; a left-out one is said above)
    files = {vid: files[vid] for vid in usable}
    missing = [e["video_id"] for e in entries if e["video_id"] not in files]
    if len(missing) == len(entries):
        raise DatasetError(f"--features {features}: none of the {len(entries)} videos has a tsn_features_*/<id>.npy "
                           "file there; name the folder holding the tsn_features_* folders, or leave out --features "
                           "to import the text alone")
    meta = {"source": f"LIC2022 tsn features linked from {Path(features).resolve()} by `s2vt import lic2022`",
            "backbones": {"tsn": "precomputed"}}
    store.check_meta(meta, "--out")  # (a store whose meta.json says otherwise: refused before a link is made)
    store.check_logs("--out")  # (and one whose logs are another program's, as extract refuses it)
    if said := store.unrelated(list(files), ["tsn"]):  # (another dataset's store? trial 89)
        print(said, file=sys.stderr)
    tsn = make_dirs(store.root / "tsn")
    for e in entries:
        if (src := files.get(e["video_id"])) is None:
            continue
        link = tsn / f"{e['video_id']}.npy"
        if not link.exists():
            try:
                link.symlink_to(src.resolve())
            except OSError as err:
                raise output_error(link, err) from None
    if store.init_meta(meta, "--out") and (line := store.unlisted()):  # (a meta.json removed, as import features')
        print(line, file=sys.stderr)
    if missing:  # (the files left out were counted as missing too, their ids named as having none; trial 64)
        rejected = len(missing) - len(absent)
        print(f"warning: {len(missing)} ids have no usable tsn features: "
              + ", ".join([f"{len(absent)} without a tsn_features_*/<id>.npy file (first: {', '.join(absent[:5])})"]
                          * bool(absent) + [f"{rejected} whose file was left out above"] * bool(rejected))
              + "; train with --learn-missing (a learnt stand-in for them) or --skip-missing (left out)",
              file=sys.stderr)
    return missing


def feature_files(feat_dir: str | os.PathLike) -> dict[str, Path]:
    """{clip id: file} for the `.npy` files of `feat_dir`, ids by `name_id` (`<id>.npy`, `<id>.avi.npy`,
    `my clip.npy` -> `my_clip`); two files of one id are a DatasetError naming both. Hidden files are
    skipped, counted in one warning."""
    files: dict[str, Path] = {}
    hidden = []
    for p in regular_files(feat_dir, sorted(Path(feat_dir).glob("*.npy"))):
        # skipped as extract's folder scan skips them (`manifest.video_files`): a stray dotfile, or macOS's
        # `._x.npy`, was imported as clip x, in place of x.npy's features or beside them
        if p.name.startswith("."):
            hidden.append(p.name)
            continue
        vid = name_id(p.name[:-4])
        if vid is None:  # ('.npy' alone)
            continue
        if vid in files:
            raise DatasetError(f"{two_names(files[vid], p)} are both clip {vid}: rename one")
        files[vid] = p
    if hidden:
        print(f"warning: {feat_dir}: skipped {len(hidden)} hidden file{'s' * (len(hidden) > 1)} (a name starting "
              f"with '.'; first: {', '.join(hidden[:3])})", file=sys.stderr)
    return files


def plan_features(feat_dir: str | os.PathLike, labels: dict[str, dict], named: str | os.PathLike,
                  captions_only: bool | None = None, held: tuple[int, str, Callable[[int], str]] | None = None
                  ) -> tuple[list[tuple[dict, Path]], int | None, list[dict]]:
    """The manifest entries of `labels` (from read_labels, read from `named`) that have a `.npy` in
    `feat_dir` (see `feature_files`), each with its file, the files' feature width (None when
    there is none), and the entries of `labels`' training clips without a file when `captions_only`
    (marked so: their captions train the decoder's language; False: they are left out, the warning names
    `--captions-only`; None: the importer has no such option). Every file is checked before anything is
    written, an unusable one left out (`usable_files`, which `held` goes to). A clip without a file, and a file
    without an entry, are each counted in one warning."""
    files = feature_files(feat_dir)
    missing = [vid for vid in labels if vid not in files]
    usable = usable_files(feat_dir, {vid: files[vid] for vid in labels if vid in files}, held)
    plan = [(labels[vid], files[vid]) for vid in usable]
    dim = next(iter(usable.values()), None)
    kept = [{**labels[v], "captions_only": True} for v in missing
            if captions_only and labels[v].get("split") == "train" and labels[v].get("captions")]
    if kept:  # (an MLDS release lacks the files of 646 of its 1,450 training clips: their 10,697 captions still
        # teach the words: docs/benchmarks.md "Captions without features")
        print(f"note: {len(kept)} of {len(labels)} clips of {named} have no feature file in {feat_dir}: their "
              f"captions are kept to train the caption decoder's language (captions_only; --no-captions-only leaves "
              f"them out; first: {', '.join(e['video_id'] for e in kept[:5])})", file=sys.stderr)
    if len(missing) > len(kept):
        taken = {e["video_id"] for e in kept}
        left = [v for v in missing if v not in taken]
        could = captions_only is False and any(labels[v].get("split") == "train" and labels[v].get("captions")
                                               for v in left)
        print(f"warning: {len(left)} of {counted(len(labels), 'clip')} of {named} "
              f"{'has' if len(left) == 1 else 'have'} no feature file in {feat_dir} and "
              f"{'is' if len(left) == 1 else 'are'} left out (first: {', '.join(left[:5])})"
              + ("; --captions-only keeps the training ones' captions to train the caption decoder's language"
                 if could else ""), file=sys.stderr)
    if unnamed := [p.name for vid, p in files.items() if vid not in labels]:
        one = len(unnamed) == 1
        print(f"warning: {len(unnamed)} of {len(files)} feature files in {feat_dir} {'has' if one else 'have'} no "
              f"entry in {named} and {'is' if one else 'are'} left out (first: {', '.join(unnamed[:5])})",
              file=sys.stderr)
    return plan, dim, kept


def usable_files(folder: str | os.PathLike, files: dict[str, Path],
                 held: tuple[int, str, Callable[[int], str]] | None = None) -> dict[str, int]:
    """{id: features per frame} of the `files` ({id: .npy file}, read from `folder`) that can be imported, all of
    one width. A file that cannot (`usable_width`), or whose width is not the one most of them have, is left out
    and counted, one warning line per reason naming the first such file, the rest imported (a batch's logged
    failure: one refusal a run took a rerun per bad file to mend a folder of them; hostile trial). Refused:
    every file unusable (no way around it to say but the first one's reason), or several widths none of which
    most files have (calling one of them odd would be arbitrary: `mixed_widths`). `held`: (width, holder, refusal)
    where the width is decided already (the store's modality holds it, or a release's training clips have it, as
    `holder` says it: "the store's modality 'cnn' holds"): the files of another are left out, unless most of them
    are, which is refused, saying `refusal(their width)` (it warned of the one file of the store's width it left
    out, then refused the rest for theirs; trial 64)."""
    bad, width, first = BadRows(folder, "feature file", "left out"), {}, ""
    for vid, path in files.items():
        try:
            width[vid] = usable_width(path)
        except UnusableFeatures as e:
            bad.add(e.kind, e.example)
            first = first or str(e)
    if bad and not width:
        raise DatasetError(first + (f" (and {len(bad) - 1} more of the clips' files unusable)" if len(bad) > 1 else ""))
    widths = collections.Counter(width.values())
    if held is not None and width:
        dim, holder, refusal = held
        if 2 * widths[dim] <= len(width):
            other, count = widths.most_common(1)[0] if widths.most_common(1)[0][0] != dim else widths.most_common(2)[1]
            if 2 * count <= len(width):  # (no width of most files: "these are 64-wide" named the store's; trial 65)
                raise DatasetError(mixed_widths(folder, {files[vid]: w for vid, w in width.items()})
                                   + f" ({holder} {dim}): leave the files of other widths out of the folder")
            raise DatasetError(refusal(other))
        why = f"another width than {dim}"
    elif len(widths) > 1:
        dim, count = widths.most_common(1)[0]
        if 2 * count <= len(width):
            raise DatasetError(mixed_widths(folder, {files[vid]: w for vid, w in width.items()}))
        why = "another width than most"
    else:  # (one width, or none: nothing to leave out for it)
        dim = next(iter(widths), None)
    for vid, w in list(width.items()):
        if w != dim:
            bad.add(why, f"{files[vid]}: {w} features per frame, but {widths[dim]} of the {len(width)} files have {dim}")
            del width[vid]
    bad.warn(len(files))
    return width


def mixed_widths(feat_dir: str | os.PathLike, width: dict[Path, int], shown: int = 5) -> str:
    """The refusal of feature files of several widths ({file: width}), none of them most files' (`usable_files`
    leaves out the odd ones of a width most have): each width found is listed with a file of it."""
    widths = collections.Counter(width.values())
    example: dict[int, Path] = {}
    for p, w in width.items():
        example.setdefault(w, p)
    found = [f"{w} in {example[w].name}" if n == 1 else f"{w} in {n} files (e.g. {example[w].name})"
             for w, n in widths.most_common(shown)]
    more = f"; ... {len(widths)} widths in all" if len(widths) > shown else ""
    return (f"{feat_dir}: the {len(width)} feature files disagree on features per frame, with no width "
            f"in most of them: {'; '.join(found)}{more}")


def check_modality(modality: str) -> None:
    """A modality name is a store folder: DatasetError unless it is a plain name, not one of the store's files."""
    problem = modality_problem(modality)
    if problem:
        raise DatasetError(f"--modality {modality!r}: {problem}")


def refuse_replacing(plan: list[tuple[dict, Path]], modality: str, store: FeatureStore, source: str,
                     predict_only: bool = False) -> None:
    """DatasetError when the store's `modality` already holds features of a planned clip that came
    from another feature file (another folder's import, or one the store has no record of) and differ
    from what this import would write: an import never silently replaces another's features (a
    model evaluated on the first import's manifest would score differently). A rerun of the same
    import, and new clips from another folder, are fine. `predict_only` (clips for a model to answer for): the
    advice is another store alone, as a model reads its modality by name."""
    clashes = []
    for entry, path in plan:
        was = store.imported_elsewhere(modality, entry["video_id"], path, source)
        if was is not None and not same_features(store, modality, entry["video_id"], path):
            clashes.append((entry["video_id"], was))
    if clashes:
        vid, was = clashes[0]
        where = Path(was).parent if os.path.isabs(was) and was.endswith(".npy") else was
        # (clips to predict under another modality name: the model read its own modality, the old features, and
        # answered from them, unsaid; trial 72)
        other = (f"pass another --features store (a model reads its modality by name: {modality!r} here)"
                 if predict_only else "pass another --modality name or another --features store")
        raise DatasetError(f"{store.root}: modality {modality!r} already holds features of {len(clashes)} of these "
                           f"clips from {where} (first: {vid}); this import would replace them: {other}")


def same_features(store: FeatureStore, modality: str, video_id: str, path: Path) -> bool:
    """Whether the store's file holds exactly what importing `path` would write (nothing would change)."""
    try:
        held = np.load(store.path(modality, video_id), allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return False
    new = read_feature_file(path)
    return held.shape == new.shape and np.array_equal(held.astype(np.float32), store.encode(new).astype(np.float32))


def write_features(plan: list[tuple[dict, Path]], dim: int, modality: str, store: FeatureStore,
                   source: str, labels_from: str | os.PathLike, before_write=None,
                   progress: dict | None = None, captions_only: list[dict] = (),
                   offered: Collection[str] = frozenset()) -> list[dict]:
    """Write `plan`'s files (from plan_features) into `store` as `modality` (float16), each recorded
    (`record_import`; one copied already from the same file is skipped); returns the entries, then
    `captions_only`'s (plan_features': entries without a file, nothing to write).
    Refused first: a store already holding `modality` features of another width, or whose meta.json
    disagrees (`check_meta`: e.g. an extracted modality), a plan where no clip has captions or tags
    (named as read from `labels_from`), features of these clips another import wrote
    (`refuse_replacing`); then `before_write(entries)` is called (a check of the caller's) before
    anything is written. `progress`, when given, gets "written": the videos whose file this run wrote
    so far (an interrupted import says it: `importing.interrupted_import`). `offered`: the import's options, of
    which the refusal of clips without labels advises --split. A clip whose id a store on a file system that folds
    case cannot hold beside another's (`twins_among`) is left out, said in one line (it stopped the import midway)."""
    progress = {} if progress is None else progress
    progress["written"] = 0
    check_modality(modality)
    if twins := store.twins_among([entry["video_id"] for entry, _ in plan], [modality]):  # (one file: left out)
        first = next(iter(twins))
        print(f"warning: {store.root}: {counted(len(twins), 'clip')} left out: {CASE_TWIN} (first: {first} beside "
              f"{twins[first]}): {CASE_FIX}", file=sys.stderr)
        plan = [(entry, path) for entry, path in plan if entry["video_id"] not in twins]
    if not plan:
        return []
    held = store.width(modality)
    if held not in (None, dim):  # mixed widths in one modality: training would fail far from here
        raise DatasetError(f"{store.root}: modality {modality!r} holds {held}-wide features, these are {dim}-wide; "
                           "pass another --modality name or another --features store")
    # (test clips without references are new videos for a model of such features to answer for, as its
    # refusal in caption.py advises: evaluate predicts them and scores nothing; new-user trial 70. The note
    # saying so comes once they are written: the store's checks below may refuse them yet)
    predict_only = not any(is_labelled(entry) for entry, _ in plan)
    if predict_only and not all(entry["split"] == "test" for entry, _ in plan):  # (training would refuse)
        raise DatasetError(f"{labels_from}: no clip with a feature file has captions or tags ({len(plan)} "
                           f"clip{'s' * (len(plan) != 1)} without): nothing to train or evaluate on"
                           # (`import mlds` has no --split, and was told to pass it; trial 106)
                           + ("; clips to predict only are imported with --split test" if "--split" in offered else ""))
    meta = {"source": source, "backbones": {modality: "precomputed"}, "dims": {modality: dim}, "dtype": "float16"}
    # (an extracted modality is named as such, before its files count as another source)
    store.check_meta(meta, "--features")
    store.check_logs("--features")  # (another program's sources.jsonl: appended to, silently, where extract refuses)
    refuse_replacing(plan, modality, store, source, predict_only)
    if said := store.unrelated([entry["video_id"] for entry, _ in plan], [modality]):  # (another dataset's store?)
        print(said, file=sys.stderr)
    # (now, not at the first file: meta.json, written before it, would list a modality the store cannot hold)
    folder = store.root / modality
    if os.path.lexists(folder) and not folder.is_dir():
        raise OutputError(f"cannot write {folder}: it is {not_a_folder(folder)}, not the folder of modality "
                          f"{modality!r}: pass another --modality name or another --features store")
    if before_write is not None:
        before_write([entry for entry, _ in plan] + list(captions_only))
    created = store.init_meta(meta, store_option="--features")
    replaced = []  # (a rerun's clips whose file changed since: silently replaced, a model's features were not; trial 71)
    for entry, path in plan:
        if not store.import_done(modality, entry["video_id"], path):  # (a rerun: the same file, copied already)
            # (a file the same through another path, a link, is copied again, unchanged: not said; trial 73)
            if store.has(modality, entry["video_id"]) and not same_features(store, modality, entry["video_id"], path):
                replaced.append(entry["video_id"])
            x = read_feature_file(path)
            with interrupts_held():  # (a Ctrl-C or SIGTERM comes after the file, its record and its count)
                store.write(modality, entry["video_id"], x)
                store.record_import(entry["video_id"], modality, path)
                progress["written"] += 1
    if created and (line := store.unlisted()):  # (a meta.json removed, then one import of several run again)
        print(line, file=sys.stderr)
    if replaced:
        print(f"note: {store.root}: the {modality} features of {counted(len(replaced), 'clip')} copied again, their "
              f"files changed since they were imported, or their copies cut short (first: {replaced[0]}); a model "
              "trained on them before learnt from the old ones", file=sys.stderr)
    if predict_only:
        print(f"note: {labels_from}: no clip has captions or tags: the {counted(len(plan), 'clip')} of split test "
              "are for a model to predict (s2vt evaluate --split test), nothing to score", file=sys.stderr)
        # (a model reads its modalities by name: one of another name held for these ids answers from those, not
        # from the features imported here; trial 73)
        ids = [entry["video_id"] for entry, _ in plan]
        if others := [m for m in store.modalities() if m != modality and any(store.has(m, v) for v in ids)]:
            held = [v for v in ids if any(store.has(m, v) for m in others)]
            print(f"note: {store.root} holds {', '.join(others)} features of {counted(len(held), 'clip')} of these "
                  f"too (first: {held[0]}): a model reads the modalities it was trained on by name, so one of "
                  f"{others[0]} answers for them from those (another --features store keeps new clips apart)",
                  file=sys.stderr)
    return [entry for entry, _ in plan] + list(captions_only)


def import_features(feat_dir: str | os.PathLike, labels: dict[str, dict], modality: str, store: FeatureStore,
                    source: str, named: str | os.PathLike, before_write=None,
                    progress: dict | None = None, offered: Collection[str] = frozenset()) -> list[dict]:
    """Per-clip `.npy` files of `feat_dir` (`<id>.npy` or `<id>.avi.npy`; [T, D] or [D], any float
    dtype) -> `store` (float16) and the entries of `labels` (read_labels, from `named`) that have one.
    A clip without a file, or a file without a clip, is left out, counted in one warning. `progress`:
    as `write_features`'."""
    check_modality(modality)
    plan, dim, _ = plan_features(feat_dir, labels, named, held=store_width(store, modality))
    return write_features(plan, dim, modality, store, source, named, before_write, progress, offered=offered)


def store_width(store: FeatureStore, modality: str) -> tuple[int, str, Callable[[int], str]] | None:
    """`held` for `usable_files`: the width `store`'s `modality` holds, with the refusal of files mostly of another
    (as `write_features` refuses them); None while it holds none."""
    held = store.width(modality)
    return None if held is None else (held, f"the store's modality {modality!r} holds", lambda dim: (
        f"{store.root}: modality {modality!r} holds {held}-wide features, these are {dim}-wide; pass another "
        "--modality name or another --features store"))


def feature_width(path: Path) -> int:
    """Features per frame of a `.npy` file, from its header (mapped, not read); DatasetError as read_feature_file."""
    try:
        x = load_npy(path, mmap_mode="r")
    except (OSError, ValueError, EOFError) as e:
        raise UnusableFeatures(f"{path}: cannot read features ({e})", "unreadable") from None
    refuse_unusable(path, x)
    return int(x.shape[-1])


def refuse_unusable(path: Path, x: np.ndarray) -> None:
    """DatasetError unless `x` is a float [T, D] or [D] array with a frame (T > 0) and a feature (D > 0): a [0, D]
    file was imported, and its clip captioned from nothing (hostile trial)."""
    if x.ndim not in (1, 2) or not np.issubdtype(x.dtype, np.floating) or x.shape[-1] == 0 or x.shape[0] == 0:
        cast = (": save it as float (x.astype(np.float32))" if x.ndim in (1, 2) and min(x.shape) > 0
                and (np.issubdtype(x.dtype, np.integer) or x.dtype == bool) else "")
        # (an integer file is its own kind: its advice, to save it as float, is no other kind's; trial 64)
        raise UnusableFeatures(f"{path}: features must be a float [T, D] or [D] array with T, D > 0, not {x.dtype} "
                               f"{list(x.shape)}{cast}", "integer or boolean values" if cast else
                               "not a float [T, D] or [D] array with a frame")


def usable_width(path: Path) -> int:
    """`feature_width`, and every value finite (read through a memory map, nothing copied); DatasetError as
    read_feature_file."""
    dim = feature_width(path)
    x = np.load(path, mmap_mode="r", allow_pickle=False)
    if not all(np.isfinite(x[i:i + 4096]).all() for i in range(0, len(x), 4096)):  # (in slices: a bounded copy)
        raise UnusableFeatures(f"{path}: features hold NaN or infinite values", "NaN or infinite values", str(path))
    return dim


def read_feature_file(path: Path) -> np.ndarray:
    """A clip's features as float32 [T, D] (a [D] vector is one frame); DatasetError for anything else."""
    try:
        x = load_npy(path)
    except (OSError, ValueError, EOFError) as e:
        raise DatasetError(f"{path}: cannot read features ({e})") from None
    refuse_unusable(path, x)
    x = (x[None] if x.ndim == 1 else x).astype(np.float32)
    # refused here, by the file's own name: in the store they would stop training far from here with
    # "re-extract it" about a file that was imported, not extracted
    if not np.isfinite(x).all():
        raise DatasetError(f"{path}: features hold NaN or infinite values: fix the file, or leave it out of the "
                           "captions file")
    return x


def import_mlds(folder: str | os.PathLike, store: FeatureStore, modality: str = "cnn", before_write=None,
                progress: dict | None = None, captions_only: bool = False,
                offered: Collection[str] = frozenset()) -> list[dict]:
    """The MLDS hw2 release (training_label.json + training_data/feat/, testing_label.json +
    testing_data/feat/ when present) -> store + entries (train and test splits; `captions_only`: with the
    training clips that have no feature file, as videos of captions alone). `progress`: as
    `write_features`'."""
    root, name = Path(folder), os.fspath(folder)  # (named as typed: Path('./-') is '-')
    if not root.is_dir():  # (a file: "no training_label.json" would contradict a path ending in it)
        raise DatasetError(f"{name}: a file; pass the MLDS release folder that holds it: {root.parent}"
                           if (root.parent / "training_label.json").is_file() else
                           f"{name}: a file, not a folder; pass the MLDS release folder (the one holding "
                           "training_label.json and training_data/)")
    if not (root / "training_label.json").is_file():
        raise DatasetError(f"{name}: no training_label.json (not an MLDS release folder)")
    source = f"precomputed MLDS hw2 frame features from {root.resolve()}, imported by `s2vt import mlds`"
    check_modality(modality)
    plan, dim, alone = [], None, []
    for split, labels, feats in (("train", "training_label.json", "training_data/feat"),
                                 ("test", "testing_label.json", "testing_data/feat")):
        if (root / labels).is_file():
            # (the test clips' width is the training clips': theirs decided first)
            def test_width(w: int, at: Path = root / feats, d: int | None = dim) -> str:
                return f"{at}: {w} features per frame, the training clips have {d}"

            held = store_width(store, modality) if dim is None else (dim, "the training clips have", test_width)
            part, width, kept = plan_features(root / feats, read_labels(root / labels, split), root / labels,
                                              captions_only, held)
            plan, dim, alone = plan + part, dim or width, alone + kept
    if not plan:
        raise DatasetError(f"{root}: no labelled clip has a feature file")
    # both splits checked before either is written: a refusal leaves the store as it was
    return write_features(plan, dim, modality, store, source, root, before_write, progress, alone, offered)
