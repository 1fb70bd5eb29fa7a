"""`python -m extract INPUT... --out STORE`: features for a manifest, or for video files and folders."""
from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import sys
import threading
import time
import warnings
from pathlib import Path

if __name__ == "__main__" and not __package__:
    # (`python extract/__main__.py`, run by path: its relative imports were an ImportError, and its folder first
    # on sys.path would let audio.py or video.py stand for any module of those names. The repository's root
    # there instead, and the file run as `python -m extract` runs it; session 50's open item)
    sys.path[0] = str(Path(__file__).resolve().parents[1])
    __package__ = "extract"

from s2vt.errors import (INTERRUPTED, TERMINATED, UserError, counted, exit_quietly_after, exit_status, guard_stderr,
                         interrupt_quietly, invoked_as, one_line, one_line_warning, quiet_once_interrupted,
                         running_as_program, shell_join, shell_quote, terminate_as_interrupt)

if __name__ == "__main__":
    interrupt_quietly()  # (before the imports below load torch: seconds)
from s2vt.fileio import (OutputError, lasting_advice, make_dirs, new_folders, refuse_unusable_paths,
                         remove_if_empty)
from s2vt.options import Parser, add_options, at_least, from_args, show_defaults
from s2vt.manifest import (ManifestError, apart, dash_refusal, duplicate_ids, json_start, manifest_row, missing_note,
                           no_such_video, not_videos_named, read_manifest, sanitize_id, skipped_line, video_files)
from .ffmpeg import check_ffmpeg
from .modalities import MODALITIES
from .pipeline import ExtractConfig, Extractor, default_workers, settings_meta
from .backbones.weights import WeightsNotFound, random_instead
from s2vt.store import (CASE_FIX, FAILURES, LOGS, FeatureStore, StoreError, not_a_folder, parse_shard, read_lines,
                        record_id, same_file, source_identity, stable_shard, store_of)

MANIFEST_SUFFIXES = (".jsonl", ".json")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The extraction options (shared by `python -m extract` and `s2vt extract`)."""
    p.add_argument("input", nargs="+", help="a manifest (.jsonl), or video files and folders of videos")
    p.add_argument("--out", required=True, help="feature store folder")
    add_options(p, ExtractConfig, skip=("device",))
    p.add_argument("--shard", default="0/1", help="I/N: only videos whose id hashes to shard I of N (0-based)")
    # (--workers' default depends on the machine: said in words, not as this machine's value; --device's is
    # auto, as caption's, evaluate's and train's: `auto` was taken, and not listed in its help; new-user trial)
    # (imported here, as the parser is built, not with this module: s2vt.device loads torch, whose C start-up
    # swallows a Ctrl-C that falls in its numpy import; the entry point loads numpy first)
    from s2vt.device import DEFAULT_DEVICE, DEVICE_HELP
    p.add_argument("--device", default=DEFAULT_DEVICE, help=DEVICE_HELP)
    p.add_argument("--workers", type=int, default=default_workers(),
                   help="videos decoded ahead in parallel (default: the CPU count, at most 4)")
    show_defaults(p)


def say(message: str) -> None:
    """One line on stderr; the bytes of a non-UTF-8 path in it shown escaped (\\xff), never an error."""
    print(one_line(message), file=sys.stderr)


REIMPORT = "re-import with --videos FOLDER to name where the videos are"
# (a manifest's videos not where it says: only import msvd and msrvtt have --videos, and a folder import or a
# hand-written manifest was told to re-import with it; trial 108)
NO_PATH = f"{REIMPORT} (s2vt import msvd, msrvtt), or give each entry its 'path'"
MOVED = ("re-import naming the folder that holds them (s2vt import msvd or msrvtt ... --videos FOLDER; s2vt import "
         "folder FOLDER), or correct the manifest's paths")


def no_videos_advice(manifest: Path, entries: list[dict]) -> str:
    """What to do with a manifest none of whose entries has a path: one of precomputed features (import mlds,
    features, yt8m, lic2022) was told to "re-import with --videos FOLDER", an option none of those imports has
    (hostile trial). The store an import wrote beside it (<manifest folder>/features) is named when it is there."""
    # (the train command as this program was started, so the line pastes: a bare `train.py` did not)
    train = shell_join([*invoked_as("train"), "--manifest", str(manifest)])
    if (store := store_of(manifest.parent / "features" / "meta.json")) is not None:
        return f"its features were imported with it, into {store}: train on them: {train} " \
               f"--features {shell_quote(str(store))}"
    if all(e.get("text") for e in entries):  # (LIC2022's: titles, ASR, OCR)
        return f"its videos are text (LIC2022's); train on it: {train} (with --features STORE " \
               "where `s2vt import lic2022 --features DIR` imported their tsn features)"
    return f"an import of precomputed features (mlds, features, yt8m, lic2022) is trained on with its store: " \
           f"{train} --features STORE; an import of msvd or msrvtt that found no video: {REIMPORT}"


def same_id_advice(store: FeatureStore, vid: str) -> str:
    return f"extract it into another --out, or delete {store.root / '*' / vid}.npy first to replace them"


def follow_moves(store: FeatureStore, mine: list[tuple[str, str | None]], pending: set[str]) -> None:
    """A video already done whose file is now found at another path (the same size and mtime: a
    dataset moved) gets that path recorded: the old path is no longer where its features came from,
    and another video placed there later must not pass for it."""
    for v, p in mine:
        if p is None or v in pending:
            continue
        ident = source_identity(p)
        stale = sorted(m for m, old in store.sources().get(v, {}).items()
                       if old.get("path") and same_file(old, ident)
                       and os.path.realpath(old["path"]) != os.path.realpath(p))
        if stale:
            store.record_source(v, ident, stale, p)


def named(sources: list[str]) -> str:
    """The inputs for a message: a few, then how many more (a glob may name thousands)."""
    more = f" and {len(sources) - 3} more" if len(sources) > 3 else ""
    return ", ".join(map(str, sources[:3])) + more


def collect_items(sources: list[str] | str) -> list[tuple[str, str | None]]:
    """(video_id, path) pairs from a manifest, or from video files and folders (`clips/*.mp4`), each path
    absolute (as a manifest's are): failures.jsonl records it so, and a failure's reason and line name the
    same file the same way (`v.m2v: not a readable video` beside "path": "/data/v.m2v"). A
    manifest entry without a path (an import that did not find its video) has path None: run() logs it
    as a failure, unless no entry has one (ManifestError: nothing could be extracted).

    A manifest is one only when it is the sole input (a .jsonl beside other inputs is refused: its
    videos would go unextracted). Among several inputs (a shell glob, `g/*`), a
    named file that is not a video by its extension (subtitles, Thumbs.db, captions.json) is
    skipped, all of them counted in one warning: a glob sweeps them in, and each would otherwise be a
    failed video on every rerun or a clash of ids (clip.mp4, clip.srt). A single named file is tried
    whatever its name."""
    sources = [sources] if isinstance(sources, str) else list(sources)
    for source in sources:  # a mistyped argument is named first, before what the others are
        if (len(sources) > 1 and os.path.islink(source) and not dash_refusal(source)
                and Path(source).suffix):
            # (a link loop or a link to nothing among several inputs, a shell glob's: named as a video, a failed
            # video logged while the rest go on (as a folder scan meets it), not the whole batch refused (new-user
            # trial); named as another file (subs.srt), skipped below as that file would be (review). One without
            # an extension (a folder on a disk not mounted?) is refused below)
            continue
        if (dash := dash_refusal(source)) or not os.path.exists(source):  # (refused before --out is made)
            # (a link loop or a link to nothing said as caption.py says it: 'no such file or folder' named a link
            # that is there; hostile trial)
            raise ManifestError(dash or (no_such_video(source) if os.path.islink(source) else
                                         f"{source}: no such file or folder{missing_note(source)}"))
    src = Path(sources[0])
    if len(sources) == 1 and not src.is_dir() and (src.suffix.lower() in MANIFEST_SUFFIXES or named_otherwise(src)):
        # (a video of captions alone has no video to extract: not a failure, or such a manifest never ends well)
        entries = [e for e in read_manifest(src) if not e.get("captions_only")]
        if not entries:
            raise ManifestError(f"no videos in {src}")
        if not any(e["abspath"] for e in entries):
            raise ManifestError(f"{src}: none of its {len(entries)} entries has a 'path', so there is no video to "
                                f"extract: {no_videos_advice(src, entries)}")
        return [(e["video_id"], e["abspath"]) for e in entries]
    items: list[tuple[str, str | None]] = []
    skipped, other = [], set(not_videos_named(sources))
    for source in sources:
        src = Path(source)
        if src.is_dir():
            # (`scan_videos`' files, its clashes left to the check below: said with every other input's at once)
            items += sorted(((sanitize_id(p.stem), os.path.abspath(p)) for p in video_files(src)), key=lambda x: x[0])
        elif len(sources) > 1 and src.suffix.lower() == ".jsonl":  # (a manifest: its videos would be lost)
            # (`extract DIR/*` with DIR's manifest among the files: the shell's glob, not a choice)
            raise ManifestError(f"{source}: a manifest is given alone, not beside other inputs: pass "
                                f"{shell_quote(source)} alone (its videos), or the videos or their folder "
                                f"({shell_quote(str(src.parent))}) without it")
        elif source in other:
            skipped.append(source)
        else:
            items.append((sanitize_id(src.stem), os.path.abspath(src)))
    if skipped:
        say(skipped_line(skipped))
    if not items:  # (an empty folder or manifest: a store of nothing would look like a finished run)
        raise ManifestError(f"no videos in {named(sources)}")
    seen: dict[str, str] = {}
    unique, clashes = [], []
    for vid, path in items:  # one id, one row in the store: two videos may not share it
        first = seen.setdefault(vid, path)
        if first is path:
            unique.append((vid, path))
        elif os.path.realpath(first) != os.path.realpath(path) and not any(
                v == vid and os.path.realpath(p) == os.path.realpath(path) for v, _, p in clashes):
            clashes.append((vid, first, path))  # (one video named twice, or a folder given twice: once; trial 89)
    if clashes:  # (every pair at once; trial 86)
        raise ManifestError(duplicate_ids(clashes))
    return unique


def named_otherwise(path: Path) -> bool:
    """Whether a file without a manifest's extension is a manifest all the same, by its first line (`json_start`,
    read from its first bytes alone): an import's `--out M` was tried as a video, 'not a readable video', and left
    a store of its failure behind (hostile trial)."""
    return path.is_file() and (start := json_start(path)) is not None and manifest_row(start[1])


def joined_shard(argv: list[str]) -> list[str]:
    """`argv` with `--shard -1/2` written `--shard=-1/2`: argparse takes a value that starts with '-'
    for an option and answers with its usage text; joined, the value reaches parse_shard, whose one
    line says what a shard must be."""
    argv = list(argv)
    for i in range(len(argv) - 1):
        if argv[i] == "--shard" and argv[i + 1].startswith("-") and "/" in argv[i + 1]:
            argv[i:i + 2] = [f"--shard={argv[i + 1]}"]
            break
    return argv


RESUME = "rerun the same command to resume"


def nothing_kept(root: Path) -> str:
    """The advice of a run stopped before its first video: the same rerun, which starts again where the --out this
    run made is gone with it (there is nothing to resume; trial 77)."""
    if root.exists():
        return RESUME
    return f"{root} removed again (this run made it); rerun the same command to start again"


class SettingsRefused(StoreError):
    """A meta.json of other settings found once the run began (another run into the same empty store wrote it
    since this one's checks): a rerun is refused the same way, so the line is the one a run started after the
    other says, with no "rerun the same command to resume" (hostile trial)."""


def main(argv: list[str] | None = None, rerun_line: bool | str = True) -> int:
    """`rerun_line`: say how to resume after a Ctrl-C or an output that fails mid-run. A string is a
    caller's own advice for such a failure, and a Ctrl-C is then the caller's to report (`s2vt demo` runs
    this as one of its steps: 'the same command' is not the demo's); False: no advice."""
    if sys.stderr is None:  # stderr closed (`2>&-`): the lines are discarded, the work done (`guard_stderr`)
        guard_stderr()
    warnings.formatwarning = one_line_warning
    # (named as it was started, `s2vt-extract` or `python -m extract`: the latter needs the package's name)
    p = Parser(prog=shell_join(invoked_as("extract")), description=__doc__)
    add_arguments(p)
    if argv is None:  # the program's own run (not a caller's process: its handlers stay)
        running_as_program("extract")
    with terminate_as_interrupt() as terminated:  # (s2vt-extract's entry: a SIGTERM stops it as a Ctrl-C does)
        code = exit_status(run(p.parse_args(joined_shard(sys.argv[1:] if argv is None else argv)), rerun_line),
                           terminated)
    if argv is None:  # the program's own run (not a caller's process: its handlers stay)
        exit_quietly_after("extract", said=code in (INTERRUPTED, TERMINATED))
    return code


def refuse_blocked_folders(store: FeatureStore, modalities) -> None:
    """OutputError for a modality's folder of `store` that is there and no folder, named as what it is (a file, a
    pipe, a link to nothing: `store.not_a_folder`, import's words too): found where the first video's features
    were written, after the backbones loaded, a FIFO was called 'a file, not a folder' (hostile trial)."""
    for m in modalities:
        folder = store.root / m
        if os.path.lexists(folder) and not folder.is_dir():
            raise OutputError(f"cannot write {folder}: it is {not_a_folder(folder)}, not the folder of modality "
                              f"{m!r}: move it, or pass another --out")


def refuse_unrecorded_features(store: FeatureStore, old: dict) -> None:
    """StoreError when the store holds feature files of a modality its meta.json does not list, or has no
    meta.json at all (removed, as refusals advise to read a store without it; or written anew by an import, which
    lists its own modality alone): the run would write its own settings there, vouching for files extracted with
    others, and every model trained on the store would record them (hostile trials)."""
    listed = (old.get("backbones") or {}) if old else {}
    unlisted = [m for m in store.modalities() if m not in listed]
    # (an extracted modality's file first: an imported one was given as an example of features "extracted with")
    for m in sorted(unlisted, key=lambda m: m not in MODALITIES):
        # (a leftover temporary file, '.NAME', is no feature file)
        example = next((p for p in (store.root / m).glob("*.npy") if not p.name.startswith(".")), None)
        if example is None:
            continue
        if not old:
            raise StoreError(f"{store.root} holds feature files (e.g. {example}) but no record in {store.meta_path} "
                             "of the settings they were extracted with, so this run cannot tell whether its settings "
                             "match theirs: extract into another --out (or put the store's meta.json back)")
        raise StoreError(f"{store.root} holds {m} feature files (e.g. {example}) that {store.meta_path} does not list "
                         "(written anew by an import, the old one removed?), so this run cannot tell whether its "
                         "settings match the ones they were extracted with: extract into another --out")


def prepare(args: argparse.Namespace):
    """(shard, config, items, store, extractor) of parsed arguments; a UserError for bad ones."""
    shard = parse_shard(args.shard)
    at_least("--workers", args.workers, 1)
    check_ffmpeg()  # (before any video: a broken ffmpeg would fail them all)
    # (`--modalities ''`, an empty variable: the default, every one, as train.py takes it; "got []" was said, trial 121)
    cfg = from_args(ExtractConfig, args, **({} if args.modalities else {"modalities": MODALITIES}))
    items = collect_items(args.input)
    store = FeatureStore(make_dirs(args.out))  # (an impossible --out fails before the backbones load)
    store.protect([*args.input, *(path for _, path in items)])  # (no store file written through a link to one)
    # (so does a store of other settings, or of features whose settings no meta.json records)
    old = store.check_meta(settings_meta(cfg), adds=True)
    refuse_unrecorded_features(store, old)
    # `--precision auto` adds to a store at the precision each modality's files were computed in: "auto" picks one
    # for the machine, and a store of two (one modality's fp32 asked for by name) refused every value (trial 73)
    held = {m: p for m, p in (old.get("precision") or {}).items() if m in cfg.modalities and store.has_files(m)}
    if cfg.precision == "auto" and held:
        if (int8 := sorted(m for m, p in held.items() if p == "int8")) and not cfg.device.startswith("cpu"):
            # (said as "--precision int8 runs on the CPU only; use bf16 or fp32", an option not typed, whose
            # bf16 the store then refused for its int8; trial 108)
            raise StoreError(f"{store.root}: its {', '.join(int8)} features were computed in int8, which runs on the "
                             f"CPU only: pass --device cpu to add to this store, or use another --out")
        cfg = dataclasses.replace(cfg, precision={m: held.get(m, "auto") for m in cfg.modalities})
    store.check_logs()  # (and a log that cannot be appended to: found at a video, after its features)
    refuse_blocked_folders(store, cfg.modalities)  # (and a modality's folder that is none)
    if said := store.unrelated([vid for vid, _ in items], cfg.modalities):  # (another dataset's store?)
        print(said, file=sys.stderr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            extractor = Extractor(cfg)
        except WeightsNotFound as e:  # (extract's own way round: --weights random)
            raise random_instead(e) from None
    return shard, cfg, items, store, extractor


def run(args: argparse.Namespace, rerun_line: bool | str = True) -> int:
    """Run extraction for parsed arguments; returns the exit code (130 after a Ctrl-C, with a line
    saying how to resume when `rerun_line` is True; `main` says what a string means)."""
    advice = RESUME if rerun_line is True else rerun_line or ""
    rerun_line = rerun_line is True
    from tqdm import tqdm

    # the folders of --out this run makes: a run that stops (refused, a full disk, a Ctrl-C) before it
    # has written anything removes them again, still empty; a folder that existed before is kept
    made: list[Path] = []
    begun = False
    wrote_meta = False  # (meta.json written by this run, not found there: `remove_unwritten` may take it back)
    meta: dict = {}

    def begin() -> None:
        """Write meta.json, once: an empty --out gets it with the run's first record (a feature file,
        a failure), so a run stopped before its first video leaves the folder empty (and removes it
        when it made it)."""
        nonlocal begun, wrote_meta
        if not begun:
            try:  # (checked as it is written, under the store's lock: another run's may have come since the first check;
                # a meta.json that cannot be written, a full disk, is an OutputError, a stop a rerun resumes)
                wrote_meta = store.init_meta(meta, adds=True)
            except StoreError as e:
                raise SettingsRefused(str(e)) from None
            store.start_sources()  # (a new store: 'no sources.jsonl' is then an old store alone, `done`)
            begun = True

    try:
        # ("" is the current folder to the file system: a store would be written there)
        refuse_unusable_paths({"--out": args.out, "INPUT": args.input, "--weights-dir": args.weights_dir})
        made = new_folders(args.out)  # (before prepare makes it)
        shard, cfg, items, store, extractor = prepare(args)
        if cfg.weights == "random":
            print("warning: --weights random: seeded random backbones, features carry no learned semantics",
                  file=sys.stderr)
        meta = extractor.meta()
        store.check_meta(meta, adds=True)  # (a store of other backbones is refused now, whenever meta.json is written)
        if any(store.root.iterdir()):  # a store that holds anything gets its meta.json now, as it always did
            begin()
        mine = [(v, p) for v, p in items if stable_shard(v, shard[1]) == shard[0]]
        # (a path-less entry whose features an earlier run wrote is done, not failed)
        pathless = [v for v, p in mine if p is None and not store.done(v, cfg.modalities)]
        todo = [(v, p) for v, p in mine if p is not None and not store.done(v, cfg.modalities, source_identity(p))]
        # another video already went by this id (in an earlier run: within one, collect_items refuses
        # it): never replace its features silently, unless its file is gone (a dataset moved)
        elsewhere = {v: store.other_source(v, source_identity(p), p) for v, p in todo}
        clashes = [(v, p, elsewhere[v]) for v, p in todo if elsewhere[v] and os.path.exists(elsewhere[v])]
        moved = {v: old for v, old in elsewhere.items() if old and not os.path.exists(old)}
        todo = [(v, p) for v, p in todo if not (elsewhere[v] and os.path.exists(elsewhere[v]))]
        # (a manifest's videos not at their paths (imported without the videos there): each logged, counted in one
        # line, as the path-less are; one line each flooded the terminal, 497 of an MSR-VTT import; hostile trial)
        absent = [(v, p) for v, p in todo if not os.path.lexists(p)]
        todo = [(v, p) for v, p in todo if os.path.lexists(p)]
        # (ids differing only in case, on a file system that folds case: one file for two videos; each logged,
        # counted in one line; found among every shard's videos, so that two shards never write both)
        twins = store.twins_among([v for v, _ in items], cfg.modalities)
        twinned = [(v, p) for v, p in todo if v in twins]
        todo = [(v, p) for v, p in todo if v not in twins]
        follow_moves(store, mine, {v for v, _ in todo} | {v for v, _, _ in clashes})
        if not todo:  # (no video to record: the store is written now)
            begin()
    except UserError as e:  # bad input, before any video runs: one line, exit 2
        remove_if_empty(made)
        say(f"error: {e}")
        return 2
    except KeyboardInterrupt:  # (loading the backbones takes seconds: a Ctrl-C is likely then; --out, if
        # this run made it, is gone with it)
        remove_if_empty(made)
        if rerun_line:
            print(f"interrupted: 0 videos written; {nothing_kept(Path(args.out))}", file=sys.stderr)
        return 130

    say(f"{counted(len(items), 'video')}, {len(mine)} in shard {args.shard}, "
        f"{len(mine) - len(todo) - len(pathless) - len(clashes) - len(absent) - len(twinned)} already done, "
        f"{len(todo)} to extract "
        f"-> {store.root}")
    failures = written = 0
    # the videos written with notes, and the first note: said in one line at the end (they went to notes.jsonl
    # alone, never on the terminal, as caption.py says them: hostile trial); one line, not one per video (a
    # dataset without sound notes each of its thousands of videos)
    noted: list = [0, None]
    if clashes or pathless or absent or twinned:  # (failures are records: meta.json first)
        begin()
    if clashes:  # each logged with both paths, counted in one line (names that print alike: escaped, told apart)
        for v, p, old in clashes:
            was, now, note = apart(old, p)
            store.log_failure(v, p, f"{store.root} holds {v}'s features from another video, {was}; not replacing "
                              f"them with those of {now}{note}: {same_id_advice(store, v)}")
        failures += len(clashes)
        v, p, old = clashes[0]
        was, now, note = apart(old, p)
        say(f"failed: {counted(len(clashes), 'video')} {'shares' if len(clashes) == 1 else 'share'} an id with another "
            f"video whose features {store.root} holds "
            f"(first: {v}: {was}, this run {now}{note}): {same_id_advice(store, v)}")
    if pathless:  # the rest are extracted: each logged, counted in one line
        for v in pathless:
            store.log_failure(v, None, f"no 'path' in the manifest: {NO_PATH}")
        failures += len(pathless)
        say(f"failed: {len(pathless)} videos have no 'path' in the manifest (first: {', '.join(pathless[:3])}): "
            f"{NO_PATH}")
    if absent:
        for v, p in absent:
            store.log_failure(v, p, no_such_video(p))
        failures += len(absent)
        shown = "; ".join(f"{v}: {os.path.normpath(p)}" for v, p in absent[:3])
        say(one_line(f"failed: {counted(len(absent), 'video')} of the manifest {'is' if len(absent) == 1 else 'are'} "
                     f"not at {'its path' if len(absent) == 1 else 'their paths'} ({'first: ' * (len(absent) > 1)}"
                     f"{shown}): put {'it' if len(absent) == 1 else 'them'} there, or {MOVED}"))
    if twinned:
        for v, p in twinned:
            store.log_failure(v, p, f"its id differs only in case from video {twins[v]}'s, on a file system that "
                              f"folds case: {CASE_FIX}")
        failures += len(twinned)
        v = twinned[0][0]
        say(f"failed: {counted(len(twinned), 'video')} {'has' if len(twinned) == 1 else 'have'} an id that differs "
            f"only in case from another video's, and {store.root} is on a file system that folds case, where their "
            f"features would be one file (first: {v} beside {twins[v]}): {CASE_FIX}")
    # (REIMPORT read as if --videos had not been given; trial 64)
    bar = tqdm(total=len(todo), unit="video", dynamic_ncols=True, disable=None)

    interrupted = False

    def on_sigint(signum, frame) -> None:
        nonlocal interrupted
        if interrupted:  # (a Ctrl-C pressed again while the stopped run winds down: the same stop, said once)
            return
        interrupted = True
        raise KeyboardInterrupt

    def on_result(d, feats) -> None:
        nonlocal failures, written
        if interrupted:  # Python drops a KeyboardInterrupt raised inside a __del__: never lose a Ctrl-C
            raise KeyboardInterrupt
        begin()
        if feats is None:
            failures += 1
            # its file changed since its features were extracted: they must not pass for this file's
            if store.drop_stale(d.video_id, d.source):
                d.error += "; its old features, of the file as it was, were removed"
            store.log_failure(d.video_id, d.path, d.error)
            bar.write(one_line(f"failed: {d.video_id}: {d.error}"), file=sys.stderr)
        else:
            # its notes before its features: a note or feature file that cannot be written (a full disk) stops
            # the run before this video is done, so it is not counted and a rerun extracts it again, notes and
            # all; written after them, a failed note left the video done (its features and their source
            # recorded), counted as not written and its notes lost for good
            now, was, alike = apart(d.path, moved.get(d.video_id, ""))  # (alike names: told apart; trial 65)
            notes = ([f"re-extracted from {now}: its features came from {was}{alike}, which no longer exists (a moved "
                      "or renamed dataset)"] if d.video_id in moved else []) + d.notes
            for note in notes:
                store.note(d.video_id, note, d.source, d.path)
            # its feature files, then their record: a video is written once recorded; stopped between them (a full
            # disk at sources.jsonl, a Ctrl-C), the files it added are taken back (`unwrite`), and a file a crash left
            # with no record is not `done` (the rerun extracts and records it)
            wrote = []
            try:
                for m, arr in feats.items():
                    store.write(m, d.video_id, arr, cfg.dtype)
                    wrote.append(m)
                if d.source:
                    store.record_source(d.video_id, d.source, feats, d.path)
            except BaseException:  # (a modality already recorded from this same file is kept)
                store.unwrite(d.video_id, wrote, d.source)
                raise
            store.forget(d.video_id, d.path)  # (an earlier failure of this file no longer holds: at the run's end)
            written += 1
            if notes:  # (counted once written: a video whose features could not be written is not done)
                noted[0] += 1
                noted[1] = noted[1] or f"{d.video_id}: {notes[0]}"
        bar.update(1)

    start = time.time()
    in_main = threading.current_thread() is threading.main_thread()  # (signals are main-thread only)
    previous = signal.signal(signal.SIGINT, on_sigint) if in_main else None
    stopped = None
    try:
        extractor.run(todo, on_result, workers=max(1, args.workers))
    except KeyboardInterrupt:
        interrupted = True
    except UserError as e:  # the store cannot be written (disk full, permissions): every next video would fail too
        stopped = e
    finally:
        # (once interrupted, on_sigint stays until the run's line is said: a further Ctrl-C then is no
        # KeyboardInterrupt out of the lines below, a traceback)
        if in_main and not interrupted:
            signal.signal(signal.SIGINT, previous)
    if not (stopped or interrupted):  # (sources.jsonl's records cut before their id: their videos now recorded)
        try:
            store.mend_sources([v for v, _ in items], cfg.modalities)
        except UserError as e:
            stopped = e
        except KeyboardInterrupt:  # (the rewrite is atomic: the log is as it was, or mended)
            interrupted = True
    # (what `remove_unwritten` may take back: this run's ids and whether it wrote meta.json; nothing for a shard,
    # as the shards started together into a new --out each found it new)
    own = ({v for v, _ in mine}, wrote_meta) if shard[1] == 1 else None
    try:
        return ended(store, bar, made, written, failures, stopped, interrupted, start, advice, rerun_line, len(mine),
                     noted, own)
    finally:
        if in_main:
            signal.signal(signal.SIGINT, previous)
            if interrupted:  # (before this frame is freed: the bar's __del__ then took a Ctrl-C pressed again
                quiet_once_interrupted()  # for an "Exception ignored" traceback)


def ended(store: FeatureStore, bar, made: list[Path], written: int, failures: int, stopped: UserError | None,
          interrupted: bool, start: float, advice: str, rerun_line: bool, batch: int, noted: list | None = None,
          own: tuple[set[str], bool] | None = None) -> int:
    """The end of `run` once its videos are extracted, stopped or interrupted: failures.jsonl settled, the
    lines that say so, the exit code. `batch`: the videos of the run (of its shard), done before or not;
    `noted`: [videos written with notes, the first's 'ID: note']; `own`: `remove_unwritten`'s (None: keep --out)."""
    bar.close()
    if noted and noted[0]:  # (the notes of the videos written, stopped or not: in notes.jsonl already)
        which = "the video written has" if written == 1 else \
            f"{noted[0]} of the {written} videos written {'has' if noted[0] == 1 else 'have'}"
        say(f"note: {which} notes (first: {noted[1]}); all in {store.root / 'notes.jsonl'}")
    try:  # (interrupted or stopped too: the videos written are done; a failure here says what it could not)
        store.settle_failures()
    except UserError as e:
        stopped = stopped or e
    except KeyboardInterrupt:  # (a Ctrl-C once the videos were done: failures.jsonl is as it was, whole; a rerun
        interrupted = True     # settles it)
    # (a Ctrl-C or a full disk before the first video was written: --out, if this run made it, goes with the records
    # of nothing it holds, its meta.json and the logs of the videos this run did not write)
    taken_back = bool((stopped or interrupted) and not written and not failures and own
                      and remove_unwritten(store, made, *own))
    if (stopped or interrupted) and not taken_back:
        remove_if_empty(made)
    if isinstance(stopped, SettingsRefused):  # (before its first record: nothing written, nothing to resume)
        say(f"error: {stopped}")
        return 2
    if stopped:
        # (resume advice for what a rerun gets past; what to change for what it would meet again: extract's own
        # run alone, whose --out the user gave; a caller's advice, `s2vt demo`'s, is its own to say)
        if rerun_line:
            advice = lasting_advice(stopped, store.root) or advice
        say(f"error: {stopped} (stopped after {counted(written, 'video')} written, complete files only" +
            (f"; {advice})" if advice else ")"))
        return 2
    if interrupted:  # (also one dropped during the last video)
        if rerun_line and taken_back:
            print(f"interrupted: 0 videos written; {nothing_kept(store.root)}", file=sys.stderr)
        elif rerun_line:
            print(f"interrupted: {counted(written, 'video')} written (complete files only); {RESUME}", file=sys.stderr)
        return 130
    secs = time.time() - start
    print(f"done: {written} written, {failures} failed in {secs:.1f}s"
          + (f" ({written / secs:.2f} videos/s)" if written and secs > 0 else ""), file=sys.stderr)
    if failures:
        # every video of the run failed (none extracted, none done before): the user's bad input, exit 2 as
        # caption.py's for the same videos; exit 1 said the others were done (hostile trial)
        every = not written and failures == batch
        if every and own and remove_unwritten(store, made, *own):  # (each reason was said in its `failed:` line)
            say(f"error: {counted(failures, 'video')} failed (all of them: no video has features); reasons above; "
                f"{store.root} removed again (this run made it and wrote no features)")
            return 2
        log = store.root / FAILURES
        # (never a failures.jsonl named that is gone: one `remove_unwritten` took back before it had to keep --out)
        where = f"reasons in {log}" if log.is_file() else "reasons above"
        say(f"error: {counted(failures, 'video')} failed{' (all of them: no video has features)' * every}; {where}")
        return 2 if every else 1
    return 0


def remove_unwritten(store: FeatureStore, made: list[Path], ids: set[str], wrote_meta: bool) -> bool:
    """Remove --out when this run made it (`made`) and it holds no more than this run's own records of nothing: the
    meta.json it wrote (`wrote_meta`), logs (failures.jsonl, notes.jsonl, sources.jsonl) empty or of its videos
    (`ids`) alone, empty modality folders. A run whose every input failed, or that a full disk stopped before its
    first video was written, left a new store behind, which read as a store begun (hostile trial). True when it is
    gone; a folder that holds anything else (another run's record, written since this run began) is kept.

    Under the store's log lock: another run's failure appended meanwhile is not unlinked with this run's (its
    features are no logged record: a folder it wrote into is no longer empty, and its rmdir fails)."""
    if not made:
        return False
    try:
        with store._logs_locked(True):
            with os.scandir(store.root) as it:
                entries = list(it)
            folders = [e for e in entries if e.is_dir(follow_symlinks=False)]
            files = {e.name: e for e in entries if e.is_file(follow_symlinks=False)}
            mine = {*LOGS} | ({"meta.json"} if wrote_meta else set())
            if len(folders) + len(files) != len(entries) or not set(files) <= mine or any(
                    os.listdir(e.path) for e in folders):
                return False
            if any(record_id(line) not in ids for name in LOGS if name in files
                   for line in read_lines(store.root / name)):
                return False
            for e in folders:  # (first: one another run has just written a feature into is kept, and all else)
                os.rmdir(e.path)
            for name in (*LOGS, "meta.json"):  # (meta.json last: a store is never left without it sooner)
                if name in files:
                    os.unlink(files[name].path)
    except (OSError, UserError):  # (another run writing there now: its folder, kept)
        return False
    remove_if_empty(made)
    return not os.path.lexists(store.root)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:
        os._exit(1)
