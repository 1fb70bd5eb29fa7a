"""`s2vt import FORMAT`: its arguments and its run, one importer a format (the formats' readers are in
datasets.py, precomputed.py and yt8m.py; this module checks the command's paths, writes the manifest under its lock
and says what was written)."""
from __future__ import annotations

import argparse
import contextlib
import os
import sys

from .errors import again_line, counted, shell_quote
from .options import show_defaults


def add_import_arguments(p: argparse.ArgumentParser) -> None:
    kinds = p.add_subparsers(dest="kind", metavar="FORMAT", required=True)
    msvd = kinds.add_parser("msvd", help="MSVD video_corpus.csv")
    msvd.add_argument("files", nargs=1, metavar="video_corpus.csv")
    msvd.add_argument("--language", default="English", help="caption language to keep ('all' for every one)")
    msvd.add_argument("--split-list", nargs="+", action="extend", default=None,
                      help="the official ordered clip list (1200/100/670), or train, val and test lists")
    msrvtt = kinds.add_parser("msrvtt", help="MSR-VTT videodatainfo JSON (several files are merged)")
    msrvtt.add_argument("files", nargs="+", metavar="videodatainfo.json")
    msrvtt.add_argument("--split", default=None, choices=("train", "val", "test"),
                        help="split of every video (default: each video's own 'split'); --split train makes a "
                             "val or test file trainable, --val/--test then hold some of it out")
    lic = kinds.add_parser("lic2022", help="LIC2022 video-tagging JSON lines (train.json, test_a.json)")
    lic.add_argument("files", nargs="+", metavar="FILE.json")
    lic.add_argument("--features", default=None, help="folder holding tsn_features_*/<id>.npy")
    folder = kinds.add_parser("folder", help="every video file under a folder, without annotations or with "
                              "--captions")
    folder.add_argument("files", nargs=1, metavar="DIR")
    folder.add_argument("--captions", default=None,
                        help="each video's captions, by its file name less the extension: MLDS label list, JSON "
                             "{id: [captions]} or a manifest (.jsonl: its captions, tags, text and splits are kept); "
                             "a video without any is left out (default: none, every video split test)")
    folder.add_argument("--split", default=None, choices=("train", "val", "test"),
                        help="split of every video --captions names (required unless --captions is a manifest, "
                             "whose own splits are the default)")
    yt8m = kinds.add_parser("yt8m", help="YouTube-8M TFRecord shards (2018 release, video- or frame-level)")
    yt8m.add_argument("files", nargs="+", metavar="SHARD",
                      help="TFRecord files, globs of them (quoted, as train.py --features takes one), or folders of "
                      "*.tfrecord files")
    yt8m.add_argument("--features", default=None, help="feature store to write (default: <manifest folder>/features)")
    yt8m.add_argument("--split", default=None, choices=("train", "val", "test"),
                      help="split of every shard (default: from the file name: train*, validate* -> val, test*)")
    yt8m.add_argument("--vocabulary", default=None, metavar="vocabulary.csv",
                      help="tags are the class names (default: label<Index>)")
    mlds = kinds.add_parser("mlds", help="MLDS hw2 release folder (training_label.json, training_data/feat/, "
                            "testing_* when present): precomputed MSVD frame features")
    mlds.add_argument("files", nargs=1, metavar="DIR")
    mlds.add_argument("--modality", default="cnn", help="modality name of the features in the store")
    mlds.add_argument("--captions-only", action=argparse.BooleanOptionalAction, default=False,
                      help="keep the training clips without a feature file as videos of captions alone, whose "
                           "captions train the caption decoder's language (default: off, they are left out)")
    feats = kinds.add_parser("features", help="a folder of per-video .npy features ([T, D] or [D]) with captions")
    feats.add_argument("files", nargs=1, metavar="FEAT_DIR")
    feats.add_argument("--captions", required=True,
                       help="MLDS label list, JSON {id: [captions]} or a manifest (.jsonl: its captions, tags, "
                            "text and splits are kept)")
    feats.add_argument("--modality", required=True, help="modality name of the features in the store")
    feats.add_argument("--split", default=None, choices=("train", "val", "test"),
                       help="split of every video (required unless --captions is a manifest, whose own splits "
                            "are the default)")
    for sp in (mlds, feats):
        sp.add_argument("--features", default=None, help="feature store to write (default: <manifest folder>/features)")
    for sp in (mlds, feats, lic, msrvtt, folder):
        sp.add_argument("--val", type=int, default=0, help="training videos to hold out as val (seeded by --seed)")
        sp.add_argument("--test", type=int, default=0, help="training videos to hold out as test (seeded by --seed)")
    # (not for yt8m: nothing of its is random, and an option that does nothing misleads)
    for sp in (msvd, msrvtt, lic, mlds, feats, folder):
        sp.add_argument("--seed", type=int, default=0, help="seeds the split" if sp is msvd else "seeds --val/--test")
    for sp in (msvd, msrvtt, lic, folder, yt8m, mlds, feats):
        # (an empty input is refused by the name the help shows: DIR, SHARD, ..., see path_arguments)
        sp.set_defaults(files_metavar=next(a.metavar for a in sp._actions if a.dest == "files"))
        sp.add_argument("--out", required=True, help="manifest to write (JSONL)")
        sp.add_argument("--force", action="store_true",
                        help="replace an existing --out even if it holds captions or tags this import would drop, "
                             "or this import would move its videos to other splits (re-split it)")
    for sp in (msvd, msrvtt):
        sp.add_argument("--videos", default=None,
                        help="folder with the video files: one not found there gets the path it would have "
                             "there, with a warning (default: the annotation file's folder, where one not found "
                             "gets no path in the manifest)")
        sp.add_argument("--strict", action="store_true", help="missing videos are an error")
    for sp in (msvd, msrvtt, lic, folder, yt8m, mlds, feats):
        # (advice names an option only where this format's parser has it: three per-helper flags said it by
        # hand, and `import mlds` was told --split and `import features` --captions-only, which they lack; trial 106)
        sp.set_defaults(offered=frozenset(o for a in sp._actions for o in a.option_strings))
        show_defaults(sp)  # (--language, --seed, --val, --test, --modality showed none; trial 109)


def run_import(args: argparse.Namespace) -> int:
    import collections
    import os
    from pathlib import Path

    from .manifest import VIDEO_EXTENSIONS, write_manifest

    from . import datasets as ds

    args.progress = {}  # (an interrupted import says how many videos it wrote: the importer's count, "written")
    if args.kind == "yt8m":  # (a quoted glob, as train.py --features takes it)
        from .yt8m import expand_patterns
        args.files = expand_patterns(args.files)
    require_inputs(args)
    # (--seed seeds the --val/--test hold-outs, and msvd's split when no --split-list gives it)
    seeded = ((args.kind == "msvd" and not args.split_list)
              or getattr(args, "val", 0) > 0 or getattr(args, "test", 0) > 0)
    if getattr(args, "seed", 0) and not seeded:
        print(f"warning: --seed {args.seed} has no effect: it seeds the --val/--test hold-outs, and none is asked for"
              if args.kind != "msvd" else f"warning: --seed {args.seed} has no effect: --split-list gives the split",
              file=sys.stderr)
    if args.kind == "yt8m":
        return run_import_yt8m(args)
    if args.kind in ("mlds", "features"):
        try:
            return run_import_features(args)
        except KeyboardInterrupt:
            print(interrupted_import(args.features or Path(args.out).resolve().parent / "features", args.out,
                                     args.argv, args.progress.get("written", 0)), file=sys.stderr)
            return 130
    if args.kind == "msvd":
        entries = ds.import_msvd(args.files[0], args.language, args.split_list, args.seed)
    elif args.kind == "msrvtt":
        entries = ds.import_msrvtt(args.files, args.split)
        if (args.val > 0 or args.test > 0) and not any(e["split"] == "train" for e in entries):
            splits = collections.Counter(e["split"] for e in entries)
            raise ds.DatasetError("--val/--test hold out training videos and these files have none ("
                                  + ", ".join(f"{n} {s}" for s, n in sorted(splits.items()))
                                  + "): pass --split train to import every video as training first")
        ds.hold_out(entries, args.val, args.test, args.seed, args.offered)
    elif args.kind == "lic2022":
        entries = ds.import_lic2022(args.files, args.test)  # (refuses --test beside a file without labels)
        ds.hold_out(entries, args.val, args.test, args.seed, args.offered)
    else:
        entries = ds.import_folder(args.files[0])
        if args.captions is not None:
            unsplit: list[str] = []
            labels = ds.read_labels(args.captions, args.split, unsplit, "left out unless they have tags")
            entries = ds.with_captions(entries, labels, args.captions, args.files[0])
        elif args.split is not None:  # (every video is split test without captions: a split of nothing to learn)
            raise ds.DatasetError(f"--split {args.split} gives the split of the videos --captions names, and no "
                                  "--captions is given: pass --captions FILE, or leave out --split")
        ds.hold_out(entries, args.val, args.test, args.seed, args.offered)
        if args.captions is not None:
            say_unsplit(args.captions, entries, unsplit)
    if not entries:  # (an empty manifest would train on nothing; an existing --out stays as it was)
        raise ds.DatasetError(f"{', '.join(args.files)}: no video found: nothing to import")
    # checked before anything is written, --force or not: the manifest never replaces an annotation
    # file, a split list, a video (in the folder videos are looked for in) or a linked feature file
    if args.kind in ("msvd", "msrvtt"):
        folders = [(args.videos, VIDEO_EXTENSIONS)] if args.videos else \
            [(Path(f).parent, VIDEO_EXTENSIONS) for f in args.files]
    else:
        folders = [(args.files[0], VIDEO_EXTENSIONS)] if args.kind == "folder" else [(args.features, (".npy",))]
    ds.refuse_import_inputs(args.out, [*args.files, *(getattr(args, "split_list", None) or []),
                                       *([args.captions] if getattr(args, "captions", None) else []),
                                       *(e.get("path") for e in entries)], folders)
    ds.refuse_foreign_out(args.out)  # (after: an input is named as one)
    ds.cap_captions(entries)
    if args.kind == "folder":
        base = Path(args.out).resolve().parent
        for e in entries:
            e["path"] = os.path.relpath(Path(e["path"]).resolve(), base)
    if args.kind in ("msvd", "msrvtt"):
        ds.attach_paths(entries, args.videos, args.out, ".avi" if args.kind == "msvd" else ".mp4", args.strict,
                        annotations=args.files)
    with writing_manifest(args.out):  # (before the links: they are written beside --out)
        # (after the paths are attached: it compares them too; before lic2022's feature links)
        ds.refuse_dropping_annotations(args.out, entries, args.force, args.offered)
        if args.kind == "lic2022" and args.features:
            from .precomputed import link_lic2022_features
            link_lic2022_features(entries, args.features, args.out)
        write_manifest(entries, args.out)
    linked = args.kind == "lic2022" and args.features
    if linked:
        where = f"; features in {Path(args.out).resolve().parent / 'features'}"
    elif any(e.get("path") for e in entries):  # (the next step, unsaid: a new user looked for it; trial 130)
        from .errors import invoked_as, shell_join
        store = os.path.join(os.path.dirname(args.out), "features")
        where = f"; extract their features next: {shell_join([*invoked_as('extract'), args.out, '--out', store])}"
    else:
        where = ""
    say_imported(args.out, entries, where)
    return 0


def require_inputs(args: argparse.Namespace) -> None:
    """Every input path of an import exists, checked before anything else: a mistyped path is
    reported as itself, not as whatever an importer checks first (the split a shard's name
    implies, the layout of a folder)."""
    from .datasets import DatasetError
    from .fileio import special_file

    what = "folder" if args.kind in ("folder", "mlds", "features") else "file"
    named = [(f, "", what) for f in args.files]
    named += [(f, "--split-list ", "file") for f in getattr(args, "split_list", None) or []]
    named += [(getattr(args, option, None), f"--{option} ", "file") for option in ("vocabulary", "captions")]
    named.append((getattr(args, "videos", None), "--videos ", "folder"))
    if args.kind == "lic2022":  # (for mlds, features and yt8m, --features is the store the import writes)
        named.append((args.features, "--features ", "folder"))
    for path, option, what in named:
        if path is not None and not os.path.exists(path):
            raise DatasetError(f"{option}{path}: no such {what}")
    # a file is read once, so a pipe is fine (`<(head -5 train.json)`, /dev/stdin); a device is not (/dev/zero
    # never ends, /dev/null is no file); a shard is read by its size, and twice, so not from a pipe either
    for path, option, what in named:
        special = special_file(os.stat(path).st_mode) if path is not None and what == "file" else None
        shard = args.kind == "yt8m" and not option
        if special in (None, "a folder") or (special == "a pipe" and not shard):
            continue
        if shard:
            raise DatasetError(f"{path}: {special}, not a TFRecord file: shards are read from files (save it to one, "
                               "then import that)")
        raise DatasetError(f"{option}{path}: {special}, not a file")
    # (merged twice, every caption would count twice; a split list twice, its clips in two splits: trial 131)
    for option, paths in (("", args.files), ("--split-list ", getattr(args, "split_list", None) or [])):
        for i, path in enumerate(paths):
            again = next((f for f in paths[:i] if os.path.samefile(f, path)), None)
            if again is not None:
                raise DatasetError(f"{option}{path}: given twice" + (f" (also as {again})" if again != path else ""))


def check_out(out: str) -> None:
    """OutputError now for an --out the manifest could not be written to (a folder, a path under a
    file, a read-only place): importers that write a feature store or links first would otherwise
    fill it and only then fail on the manifest. Makes --out's folder: callers remove it (if still
    empty) when they fail later, with removed_if_failed."""
    from pathlib import Path

    from .fileio import check_writable, refuse_existing

    # (force: only a folder at --out is refused here; whether an existing manifest may be replaced is
    # refuse_dropping_annotations' call)
    refuse_existing([out], force=True)
    check_writable(Path(out).parent, out)


@contextlib.contextmanager
def writing_manifest(out: str):
    """Every importer's --out from before the check of what an existing manifest holds (the "would drop"
    refusal) to its rename: `check_out`, then the manifest's lock held. Two imports into one --out at once
    both found it absent (or droppable), both wrote and said "wrote", and the manifest held one run's videos
    alone (hostile trial): the second is now refused in one line. A refusal leaves no folder it made."""
    from pathlib import Path

    from .fileio import lock_path, refuse_special_outputs, removed_if_failed, written_file
    from .locks import locked, writing_elsewhere

    if Path(out).is_symlink():  # (a link to a folder or a device: named as typed, "a link to TARGET", as the write
        refuse_special_outputs([out], folders=True)  # words it; check_out said "dirlink.json is a folder")
    with removed_if_failed(Path(out).absolute().parent):
        check_out(out)
        target = written_file(out)  # (through a link: the file written, as evaluate locks it)
        with locked(lock_path(target), writing_elsewhere(target, "--out ", f"--out {out}", "import")):
            yield


def say_imported(out: str, entries: list[dict], where: str = "") -> None:
    """The one summary line every importer ends with; its names escaped (`one_line`): a newline in --out split it,
    an escape sequence in it reached the terminal (hostile trial)."""
    from .errors import one_line

    splits = {s: sum(e["split"] == s for e in entries) for s in ("train", "val", "test")}
    tags = {t for e in entries for t in e.get("tags", [])}
    alone = sum(bool(e.get("captions_only")) for e in entries)
    captions = sum(len(e.get("captions", [])) for e in entries)
    print(one_line(f"wrote {out}: {counted(len(entries), 'video')} ({splits['train']} train"
                   + (f", {alone} of them captions alone" if alone else "") + f", {splits['val']} val, "
                   f"{splits['test']} test), {counted(captions, 'caption')}, "
                   f"{counted(len(tags), 'distinct tag')}{where}"), file=sys.stderr)


def run_import_features(args: argparse.Namespace) -> int:
    """Precomputed per-clip features (an MLDS release or any .npy folder) -> store + manifest."""
    from pathlib import Path

    from .fileio import OutputError
    from .manifest import write_manifest
    from .store import FeatureStore, refuse_run_folder

    from . import datasets as ds
    from . import precomputed as pre

    # the manifest never replaces the labels, the captions or a .npy file read (nor is it named like one)
    root = Path(args.files[0])
    ds.refuse_import_inputs(args.out, [root, args.captions] if args.kind == "features" else
                            [root, root / "training_label.json", root / "testing_label.json"], [(root, (".npy",))])
    ds.refuse_foreign_out(args.out)
    with writing_manifest(args.out):  # (before the store is written)
        store = FeatureStore(args.features or Path(args.out).resolve().parent / "features")
        refuse_run_folder(store.root, "--features")  # (before the files' warnings: no import into it would follow)
        pre.check_modality(args.modality)  # (a folder of the store: checked before the path below is made)
        # the store's files for this modality are written by name: in the folder the .npy files are
        # read from, they would replace them (float32 -> float16, in place)
        target = store.root / args.modality
        feat_dirs = ([Path(args.files[0])] if args.kind == "features"
                     else [Path(args.files[0], d, "feat") for d in ("training_data", "testing_data")])
        for folder in feat_dirs:
            if target.is_dir() and folder.is_dir() and os.path.samefile(target, folder):
                raise OutputError(f"cannot write {target}: it is an input of this command (the .npy files of "
                                  f"{folder}); pass another --features store or --modality")
        ds.refuse_out_in_store(args.out, store.root)

        def guard(entries: list[dict]) -> None:  # (before the importer writes the store)
            ds.check_hold_out(entries, args.val, args.test, args.offered)
            # (compared with the splits the manifest will get: --val/--test are held out below, after the store)
            final = [dict(e) for e in entries]
            ds.hold_out(final, args.val, args.test, args.seed, args.offered)
            ds.refuse_dropping_annotations(args.out, final, args.force, args.offered)

        if args.kind == "mlds":
            entries = pre.import_mlds(args.files[0], store, args.modality, guard, args.progress, args.captions_only,
                                      args.offered)
        else:
            source = f"precomputed features from {Path(args.files[0]).resolve()}, imported by `s2vt import features`"
            unsplit: list[str] = []
            entries = pre.import_features(args.files[0], ds.read_labels(args.captions, args.split, unsplit),
                                         args.modality, store, source, args.captions, guard, args.progress,
                                         offered=args.offered)
            if not entries:
                raise ds.DatasetError(f"{args.files[0]}: no clip of {args.captions} has a feature file")
        ds.cap_captions(entries)
        ds.hold_out(entries, args.val, args.test, args.seed, args.offered)
        if args.kind != "mlds":
            say_unsplit(args.captions, entries, unsplit)
        write_manifest(entries, args.out)
    say_imported(args.out, entries, f"; features in {store.root}")
    return 0


def say_unsplit(captions: str, entries: list[dict], unsplit: list[str]) -> None:
    """The warning for a manifest given as --captions whose rows name no split (`unsplit`, read_labels'): they went
    to train, which a test video trained on inflates scores of; counted after --val / --test held some out."""
    split_in = {e["video_id"]: e["split"] for e in entries}
    held = sum(split_in.get(v) in ("val", "test") for v in unsplit)
    if trained := [v for v in unsplit if split_in.get(v) == "train"]:
        shown = ", ".join(trained[:3]) + (", ..." if len(trained) > 3 else "")
        print(f"warning: {captions}: {len(trained)} of the {len(entries)} videos imported have no "
              f"split (first: {shown}) and went to train"
              + (f" ({held} more went to val or test by --val / --test)" if held else "")
              + "; pass --split train, val or test to give every video that split", file=sys.stderr)


def interrupted_import(store: str | os.PathLike, out: str, argv: list[str], wrote: int) -> str:
    """The line of an import interrupted while it wrote its feature store: how many videos' features this
    run wrote (`wrote`, the importer's count: `progress["written"]`) and how many the store holds, earlier
    imports' included (each file whole), the manifest, written last, is not there; a rerun finishes."""
    from pathlib import Path

    root = Path(store)
    folders = [d for d in root.iterdir() if d.is_dir()] if root.is_dir() else []
    held = max((sum(1 for _ in d.glob("*.npy")) for d in folders), default=0)
    where, again = shell_quote(str(root)), again_line(argv, ("import",))  # (argv: this command's)
    if wrote:
        kept = (f"it wrote the features of {wrote} video{'s' * (wrote != 1)} to the store {where} before it stopped"
                + (f" (the store holds {held})" if held != wrote else ""))
    else:
        kept = f"no feature was written to {where}" + (f" (the store holds the {held} from before)" if held else "")
    return f"interrupted: {kept}; the manifest {shell_quote(out)}, written last, was not; " + \
        (f"run the same command again to finish: {again}" if again else "run the same command again to finish")


def run_import_yt8m(args: argparse.Namespace) -> int:
    """YouTube-8M shards -> manifest + store (written by the importer); exit 1 when records or files
    were skipped (the rest imported: a batch's partial failure, as `python -m extract`'s)."""
    from pathlib import Path

    from .results import refuse_inputs
    from .yt8m import expand_folders, import_yt8m

    args.files = expand_folders(args.files)  # (a folder of shards, as train.py --features takes it)
    refuse_inputs([args.out], [*args.files, *([args.vocabulary] if args.vocabulary else [])])
    from .datasets import refuse_dropping_annotations, refuse_foreign_out, refuse_out_in_store

    refuse_foreign_out(args.out)

    refuse_out_in_store(args.out, args.features)
    from .store import refuse_run_folder  # (before the shards' warnings: no import into it would follow)
    refuse_run_folder(args.features or Path(args.out).resolve().parent / "features", "--features")

    try:
        with writing_manifest(args.out):  # (before the store is written)
            # the guard needs every entry, so it costs the importer a reading-only pass first (nothing is
            # written before a refusal): asked for only where it can refuse, an existing --out without --force
            # (looked for under the lock: another import may be writing it)
            guard = None if args.force or not os.path.isfile(args.out) else \
                (lambda entries: refuse_dropping_annotations(args.out, entries, args.force, args.offered))
            entries, report = import_yt8m(args.files, args.out, args.features, args.split, args.vocabulary, guard,
                                          args.progress)
    except KeyboardInterrupt:
        print(interrupted_import(args.features or Path(args.out).parent / "features", args.out, args.argv,
                                 args.progress.get("written", 0)), file=sys.stderr)
        return 130
    # (the store named, the default one too: it appeared unsaid in the current folder; new-user trial 69)
    say_imported(args.out, entries, f"; features in {args.features or Path(args.out).parent / 'features'}")

    problems = []
    if report["failed_files"]:
        problems.append(f"{len(report['failed_files'])} of {counted(len(args.files), 'file')} not read to the end")
    if report["skipped"]:
        problems.append(f"{counted(sum(report['skipped'].values()), 'record')} skipped "
                        f"({', '.join(f'{k}: {v}' for k, v in report['skipped'].items())})")
    warned = bool(problems)
    if empty := report.get("empty_files"):  # (a download cut at its start: no warning line of its own above)
        problems.append(f"{len(empty)} of {counted(len(args.files), 'file')} empty (0 bytes, no records: "
                        f"{empty[0]}{', ...' if len(empty) > 1 else ''})")
    if problems:
        print(f"error: {' and '.join(problems)}{' (see the warnings above)' if warned else ''}; "
              f"{counted(len(entries), 'video')} imported", file=sys.stderr)
        return 1
    return 0
