"""`s2vt` command: one entry point, a subcommand per job (docs/design.md's command contract)."""
from __future__ import annotations

import argparse
import contextlib
import glob
import json
import math
import os
import sys
import time
import warnings

from .errors import (HUNG_UP, INTERRUPTED, TERMINATED, SettingError, Terminated, UserError, again_line, counted,
                     exit_status, finished_line, guard_stderr, interrupt_quietly, invoked_as, interrupts_unwrapped,
                     left_to_rank_0, listed, one_line, one_line_warning, shell_join, shell_quote, starting_line,
                     terminate_as_interrupt)

if __name__ == "__main__":  # (`python -m s2vt.cli`: a signal while the modules below load is one line)
    interrupt_quietly(sys.argv[1:])
from .manifest import SPLITS, split_of
from .importing import add_import_arguments, run_import
from .options import Parser, advise_missing, abbreviation_hint, command_parser, dash_hint, takes_files


def not_taken(p: argparse.ArgumentParser, command: str, reads_videos: bool) -> None:
    """Record on `p` why `command` has no --weights, for the refusal's hint (`options.abbreviation_hint`): it
    is extract's option, and `caption --weights` was told it could be --weights-dir (hostile trial)."""
    # (the checkpoint's record of its training store's settings says which backbones, pretrained or random:
    # `Captioner` reads them from it, `ExtractConfig.from_meta`; no store is read)
    p.not_taken = {"--weights": (f"no --weights here: {command} computes features with the backbones its "
                                 "checkpoint records (pretrained or random, as its training features were "
                                 "extracted); --weights is extract's option") if reads_videos else
                   (f"no --weights here: {command} reads the store's features, extracted with the backbones "
                    "extract's --weights chose")}


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    not_taken(p, "train", reads_videos=False)
    from .options import add_options, recorded

    from .config import TrainConfig

    add_options(p, TrainConfig)
    p.add_argument("--one-caption-per-video", dest="per_caption", action=recorded(p, "store_false"),
                   help="an epoch shows one random caption per video (= --no-per-caption)")
    show_defaults(p)  # (the recipe's settings, None here, say so in their help)


def run_train(args: argparse.Namespace) -> int:
    started = time.time()
    try:  # (the imports too: torch takes seconds to load, a Ctrl-C then says what the run kept as well)
        from .options import from_args, given, typed

        from .config import TrainConfig
        from .engine import Paused, launch_rank, train

        cfg = from_args(TrainConfig, args, given=given(args), typed=typed(args))
        best = train(cfg)
        getattr(args, "finished", []).append(True)  # (its outputs written: a signal now cuts nothing)
    except KeyboardInterrupt:
        rank = int(os.environ.get("RANK", "0"))  # (engine.launch_rank, which may not be imported yet)
        if (line := interrupted_line(args.out, started, rank, getattr(args, "argv", None))) is not None:
            print(line, file=sys.stderr)
        return 130
    if launch_rank() != 0:  # under torchrun: rank 0 reports for the run
        return 0
    if isinstance(best, Paused):  # (not the result of a run, nor its model to caption with: the run goes on)
        again = resume_command(getattr(args, "argv", None), dropped=("--stop-after",))
        print(one_line(best.line) + (f": {again}" if again else ""), file=sys.stderr)  # (--out's newline: trial 121)
        return 0
    print(json.dumps({k: v for k, v in best.items()
                      if k in ("epoch", "CIDEr", "tag_acc", "gap", "tag_f1", "level1_acc", "level2_acc", "lic_score")}))
    run = f"{cfg.out.rstrip('/')}/best.pt"
    from .captioner import DEFAULT_CHECKPOINT, CHECKPOINT_ENV, captions_videos, extract_unrecorded
    from .checkpoint import read_checkpoint
    ckpt = read_checkpoint(run) if best else None  # (read once, for both questions below)
    if ckpt and captions_videos(ckpt):  # (not a model of text or imported features: caption.py refuses those)
        model = shell_quote(os.path.abspath(run))  # (a line to paste: quoted paths, the folder made, wherever)
        # (`python caption.py` works only in the checkout: the command as train was started, `s2vt caption` for
        # train.py and the console script; hostile trial) (cp -i: the demo's model, copied there as the README
        # says, was replaced unasked; trial 65)
        named = os.environ.get(CHECKPOINT_ENV)
        if named and os.path.isfile(named) and os.path.samefile(named, run):  # (trial 67)
            print(f"this model is the default already ({CHECKPOINT_ENV} names it): "
                  f"{shell_join(invoked_as('caption'))} VIDEO", file=sys.stderr)
        elif named:  # (read first: a model copied to checkpoints/ went unused; trial 66)
            print(f"to caption with this model by default: export {CHECKPOINT_ENV}={model} ({CHECKPOINT_ENV} names "
                  f"{shell_quote(os.environ[CHECKPOINT_ENV])} now, which caption.py reads before "
                  f"{DEFAULT_CHECKPOINT}); then {shell_join(invoked_as('caption'))} VIDEO", file=sys.stderr)
        else:  # (set but empty, caption.py refuses it: unset first; trial 67)
            print(f"to caption with this model by default: {f'unset {CHECKPOINT_ENV} && ' * (named == '')}mkdir -p "
                  f"{os.path.dirname(DEFAULT_CHECKPOINT)} && cp -i {model} {DEFAULT_CHECKPOINT} (or export "
                  f"{CHECKPOINT_ENV}={model}); then {shell_join(invoked_as('caption'))} VIDEO", file=sys.stderr)
    elif ckpt and extract_unrecorded(ckpt):  # (unsaid, caption.py was the first to say it; trial 65)
        print(f"note: {run} will not caption new videos: the feature store it trained on has no meta.json, which "
              "records how its features were extracted; for a model that does, extract them again into a new --out "
              "and train on that", file=sys.stderr)
    return 0


def interrupted_line(out: str, started: float, rank: int, argv: list[str] | None = None) -> str | None:
    """The one line an interrupted training run prints, or None for torchrun ranks other than 0: a
    terminal's Ctrl-C reaches every rank's process, and one run should say it once (rank 0 also
    speaks for the run when it ends normally)."""

    # (one line: a newline in --out broke it in two; new-user trial)
    return one_line(f"interrupted: {kept_by_train(out, started, argv)}") if rank == 0 else None


def resume_command(argv: list[str] | None, dropped: tuple[str, ...] = ()) -> str:
    """train's command line `argv` ("train", its arguments) with --resume and without --overwrite, quoted to
    paste (`errors.again_line`); "" under torchrun (its launcher's command is not this process's) or without
    argv. `dropped`: options left out with their value (`--stop-after N` or `=N`, after a pause)."""
    if not argv or int(os.environ.get("WORLD_SIZE", "1")) > 1:
        return ""
    words, value = [], False
    for word in argv:
        # (--resume last: after a --no-resume the command would not resume)
        if not value and word not in ("--overwrite", "--no-overwrite", "--resume", "--no-resume", *dropped) \
                and word.split("=", 1)[0] not in dropped:
            words.append(word)
        value = word in dropped and not value
    return again_line([*words, "--resume"], STARTED_AGAIN)


def kept_by_train(out: str, started: float, argv: list[str] | None = None) -> str:
    """What an interrupted training run leaves, for its one line: the last epoch saved (each epoch's
    checkpoints are written whole, best.pt then last.pt, a Ctrl-C or SIGTERM held until both are:
    `errors.interrupts_held`, so last.pt is either the previous epoch's or this one's). A folder with
    this run's best.pt and no last.pt (no longer left by a signal; kept for one that got here some other
    way) cannot be resumed: said so, with the advice that works (--overwrite)."""
    from pathlib import Path

    from .checkpoint import LAST_STEPS, read_checkpoint, steps_left

    last, best = Path(out) / "last.pt", Path(out) / "best.pt"
    # (a --resume's last.pt is this run's too, rewritten or not: one stopped while it did a finished run's last
    # steps said "no epoch finished; OUT holds the earlier run", with no command to continue; trial 56)
    flags = [a for a in argv or [] if a in ("--resume", "--no-resume")]
    new_last = last.is_file() and (last.stat().st_mtime >= started or flags[-1:] == ["--resume"])
    if not new_last and best.is_file() and best.stat().st_mtime >= started:  # (this run's best.pt, no last.pt)
        try:
            at = f" at epoch {read_checkpoint(best)['epoch']}"
        except (UserError, KeyError):
            at = ""
        return (f"{best} saved{at}, but not last.pt (stopped between the two): the run cannot be resumed; "
                f"{best} is usable as it is, or rerun the same command with --overwrite"
                + " in place of --resume" * (flags[-1:] == ["--resume"]) + " to train again")
    if not last.is_file():
        return "no epoch finished, nothing saved: rerun the same command to start again"
    if not new_last:  # (an earlier run's, kept as it was: --overwrite replaces on save)
        return f"no epoch finished; {out} holds the earlier run, as it was"
    again = resume_command(argv)
    advice = f"to continue: {again}" if again else "rerun the same command with --resume to continue"
    try:
        kept = read_checkpoint(last)
        epoch, settings = kept["epoch"], kept.get("settings", {})
    except UserError:
        return f"{last} kept: {advice}"
    # (the epochs done, by --epochs or early stopping: stopped during the steps after the last epoch, best.pt is
    # not the finished model yet; a Ctrl-C between epochs need not say it)
    ended = epoch >= settings.get("epochs", math.inf) or kept.get("bad_epochs", 0) >= settings.get("patience", math.inf)
    try:
        left = [LAST_STEPS[s] for s in steps_left(read_checkpoint(best))] if ended and best.is_file() else []
    except UserError:
        left = []
    lacks = f"; {best} lacks {', '.join(left)}, which the run does at its end" if left else ""
    return f"{last} kept at epoch {epoch}{lacks}: {advice}"


def add_decode_arguments(p: argparse.ArgumentParser) -> None:
    """--beam, --length-penalty, --anti-lm, --consensus: generated from `DecodeConfig`, the same for
    caption, evaluate and serve."""
    from .decode import DecodeConfig
    from .options import add_options

    add_options(p, DecodeConfig)
    # None unless given: decoding() refuses a beam-only setting the user asked for that --beam 1 would
    # ignore, while greedy decoding with their default values stays plain --beam 1
    p.set_defaults(**{name: None for name in BEAM_ONLY})


def add_device_argument(p: argparse.ArgumentParser) -> None:
    """--device for caption, evaluate and serve: train's default and help (s2vt/device.py), so every
    command uses a GPU when there is one."""
    from .device import DEFAULT_DEVICE, DEVICE_HELP

    p.add_argument("--device", default=DEFAULT_DEVICE, help=DEVICE_HELP)


def add_precision_argument(p: argparse.ArgumentParser) -> None:
    """caption.py's and serve's: the backbones run as the checkpoint's features were computed unless told (serve
    lacked it, and its refusal of an int8 model on a GPU advised it; trial 106)."""
    from .store import META_CHOICES  # (numpy, which these two commands' parsers import already through decode)

    p.add_argument("--precision", choices=[c for c in META_CHOICES["precision"] if c != "auto"], default=None,
                   help="backbone precision (default: the one the checkpoint's features were computed in)")


# DecodeConfig fields that act only in beam search (--length-penalty too: with --beam 1 it was taken, silently;
# trial 109)
BEAM_ONLY = ("length_penalty", "anti_lm", "consensus")


def show_defaults(p: argparse.ArgumentParser) -> None:
    """options.show_defaults, the beam-only options shown with DecodeConfig's value (their own default is
    None, DecodeConfig's once --beam is 2 or more: `decoding`)."""
    from .decode import DecodeConfig
    from .options import show_defaults as show

    show(p, {name: getattr(DecodeConfig, name) for name in BEAM_ONLY})


def decoding(args: argparse.Namespace):
    """The DecodeConfig of parsed options (a value out of range, or a BEAM_ONLY option other than 0 with
    --beam 1: SettingError, one line)."""
    from .decode import DecodeConfig
    from .options import from_args

    given = {name: getattr(args, name, None) for name in BEAM_ONLY}
    for name, value in given.items():
        if value and args.beam == 1:
            flag = "--" + name.replace("_", "-")
            raise SettingError(f"{flag} {value:g} acts only in beam search: pass --beam 2 or more with it, or drop "
                               f"{flag} (--beam 1 is greedy decoding)")
    return from_args(DecodeConfig, args, **{name: getattr(DecodeConfig, name) for name, value in given.items()
                                            if value is None})


def add_caption_arguments(p: argparse.ArgumentParser) -> None:
    not_taken(p, "caption", reads_videos=True)
    p.add_argument("videos", nargs="+", metavar="VIDEO", help="video files, or folders of them")
    p.add_argument("--checkpoint", default=None,
                   help="best.pt of a training run (default: $S2VT_CHECKPOINT, else checkpoints/s2vt.pt)")
    add_decode_arguments(p)
    from extract.backbones.weights import WEIGHTS_DIR_HELP

    from .decode import TAGS_SHOWN

    p.add_argument("--tags", type=int, default=TAGS_SHOWN, help="how many top tags to show")
    p.add_argument("--json", action="store_true", help="one JSON object per video")
    p.add_argument("--weights-dir", default=None, help=WEIGHTS_DIR_HELP)
    add_device_argument(p)
    add_precision_argument(p)
    show_defaults(p)


def run_caption(args: argparse.Namespace) -> int:
    from .captioner import CHECKPOINT_ENV, caption_videos, refuse_model_files

    args.progress = {}  # (an interrupted run's line counts the videos captioned: `interrupted_command`)
    settings = decoding(args)  # (a bad --beam is said before a missing model is looked for)
    refuse_model_files(args.videos, chosen=args.checkpoint is not None or CHECKPOINT_ENV in os.environ)
    return caption_videos(args.videos, args.checkpoint, settings, args.tags, args.json,
                          args.device, args.weights_dir, args.precision, args.progress)


def add_evaluate_arguments(p: argparse.ArgumentParser) -> None:
    not_taken(p, "evaluate", reads_videos=False)
    p.add_argument("--checkpoint", required=True, help="the model to evaluate (a run's best.pt)")
    p.add_argument("--manifest", required=True, help="the manifest whose --split videos are scored")
    # (missing, with --features naming TFRecord shards: the import that makes a manifest)
    advise_missing(p, "--manifest", lambda args: manifest_required(args.features, args.split, args.checkpoint))
    p.add_argument("--features", default=None, help="feature store (not needed by a text-only model)")
    p.add_argument("--split", default="test", choices=SPLITS, help="the manifest's videos to predict and score")
    add_decode_arguments(p)
    p.add_argument("--batch-size", type=int, default=64, help="videos decoded together")
    p.add_argument("--out", default=None, help="predictions JSON, NAME.json (default: preds_<split>.json beside the "
                   "checkpoint); its metrics are written beside it: metrics_<split>.json for a preds_<split>.json, "
                   "else named after it (greedy.json: greedy.metrics.json)")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    add_device_argument(p)
    p.add_argument("--skip-missing", action=argparse.BooleanOptionalAction, default=False,
                   help="leave out videos lacking a feature file (default: off, predict them from what they have)")
    p.add_argument("--html", default=None, metavar="REPORT.html",
                   help="also write a page: per video (worst CIDEr-D first; a tag-only model's worst tag AP "
                        "first) its frames, caption vs references, tags")
    p.add_argument("--force", action="store_true",
                   help="replace an existing --out, its metrics file or --html file (without it: refused; the "
                   "default predictions file beside the checkpoint and its metrics_<split>.json are always "
                   "rewritten, unless a link: written through only with --force)")
    show_defaults(p)


def run_evaluate(args: argparse.Namespace) -> int:
    written: list = []
    try:  # (the import too: a Ctrl-C while torch loads says what to rerun as well)
        from .predict import evaluate, format_table, predictions_file
        from .results import metrics_file

        # (the default predictions beside the checkpoint are rewritten on every run: said, not done unsaid; trial 75)
        default = predictions_file(args.checkpoint, args.split, None)
        args.replaces = (False, False) if args.out else (default.is_file(),
                                                         metrics_file(default, args.split).is_file())

        metrics = evaluate(args.checkpoint, args.manifest, args.features, args.split, decoding(args), args.out,
                           args.batch_size, args.device, args.skip_missing, args.html, args.force, written)
    except KeyboardInterrupt:
        print(interrupted_evaluate(args, written), file=sys.stderr)
        return 130
    print(wrote_evaluate(args, written), file=sys.stderr)
    table = format_table(metrics)
    if args.json or table:  # (no table at all when nothing was scored: evaluate said why, in one line)
        print(json.dumps(metrics) if args.json else table)
    return 0


def manifest_required(features: str | None, split: str, checkpoint: str) -> str | None:
    """evaluate's refusal without --manifest for --features naming YouTube-8M TFRecord shards (which train.py
    reads without a manifest): why --manifest is needed and the import that makes the store and manifest evaluate
    reads (argparse's line alone left a user of shards nowhere to go; new-user trial); None (argparse's line) for
    any other --features. Its --vocabulary is the one `checkpoint` was trained with (`predict.vocabulary_option`);
    said in words when the checkpoint cannot be read."""
    from .checkpoint import CheckpointError, read_checkpoint
    from .predict import names_shards, shards_import, vocabulary_option

    if not names_shards(features):
        return None
    try:
        advice = shards_import(features, split, vocabulary_option(read_checkpoint(checkpoint), checkpoint))
    except CheckpointError:  # (its own refusal comes once --manifest is given: the advice is said without it)
        advice = shards_import(features, split, "", ", with --vocabulary VOCABULARY.csv if the model was trained "
                               "with one")
    # (the cause first: argparse's "the following arguments are required: --manifest" led the line; trial 116)
    # (quoted to paste: a path with a space read as two words, a newline split the line, trial 117; one with a
    # newline or tab in bash's $'...', the same word pasted, trial 119)
    return (f"--features {shell_quote(features)} names YouTube-8M TFRecord shards, and evaluate reads a feature store "
            f"and its --manifest: {advice}")


def wrote_evaluate(args: argparse.Namespace, written: list) -> str:
    """The line saying where evaluate wrote (`written`: its files, in order): no line named them, and `--out ql.json`,
    a link to out2/q2.json, left its metrics in out2/q2.metrics.json unsaid (hostile trial). --out and --html as
    typed; the metrics file where it is (beside the file a link names: no name typed says it). Names escaped
    (`one_line`): a newline in --out split the line, an escape sequence in it reached the terminal (hostile trial)."""

    preds_replaced, metrics_replaced = getattr(args, "replaces", (False, False))  # (each: an earlier one was there)
    what = [os.fsdecode(args.out or written[0]) + " (the predictions"
            + (", replacing the earlier ones)" if preds_replaced else ")"),
            os.fsdecode(written[1]) + " (their metrics"
            + (", replacing the earlier ones)" if metrics_replaced else ")"),
            *([f"{os.fsdecode(args.html)} (the report)"] if args.html else [])]
    return one_line("wrote " + listed(what))


def interrupted_evaluate(args: argparse.Namespace, written: list) -> str:
    """The one line an interrupted evaluate prints: which outputs it did not write (each is written
    whole, at the end, so none is half-written), and the command that starts it again (with --force
    when an output of the user's it did write would refuse a plain rerun)."""
    from .fileio import written_file
    from .predict import predictions_file
    from .results import metrics_file

    preds = predictions_file(args.checkpoint, args.split, args.out)
    outputs = [preds, metrics_file(preds, args.split), *([written_file(args.html)] if args.html else [])]
    missing = [os.fsdecode(p) for p in outputs if p not in written]
    done = [os.fsdecode(p) for p in outputs if p in written]
    again = [*invoked_as(args.argv[0]), *args.argv[1:]]
    if done and (args.out or args.html) and not args.force:
        again.append("--force")
    said = f"{listed(missing)} not written" + (f" ({listed(done)} written)" if done else "")
    return one_line(f"interrupted: {said}; to start again: {shell_join(again)}")  # (the paths: one line too)


def add_score_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("refs", help="manifest (JSON lines, any name), JSON {id: [captions]}, an MLDS label list, an "
                   "MSR-VTT videodatainfo file or MSVD's video_corpus.csv")
    p.add_argument("preds", help="JSON {id: caption} or [{\"image_id\"|\"video_id\": id, \"caption\": ...}], "
                   "bare or as MSR-VTT's results.json (export's files); with a manifest as REFS, caption.py --json's "
                   "lines too (each video matched to the manifest's row of the same file)")
    p.add_argument("--json", action="store_true", help="print the scores as one JSON object")
    p.add_argument("--split", default=None, choices=SPLITS,
                   help="score against this split of the references only (a manifest's or an MSR-VTT "
                   "videodatainfo file's; as `s2vt evaluate --split` predicts it)")
    p.add_argument("--allow-partial", action="store_true", help="score only the ids present in both")


def run_score(args: argparse.Namespace) -> int:
    from .metrics import blind_cider, caption_scores
    from .predict import format_table
    from .results import (PREDICTIONS_EXPECTED, CaptionLines, caption_line_predictions, check_captions,
                          load_predictions, load_references, match_ids, partial_advice)

    every: list = []  # (every split's entries, where the references have splits: the advice's, read once)
    refs = load_references(args.refs, args.split, every)
    try:
        # (an empty answers.jsonl, caption.py having stopped before its first answer, was told of lists alone)
        preds = load_predictions(args.preds, expected=f"{PREDICTIONS_EXPECTED}, or caption.py --json's lines")
    except CaptionLines as lines:  # (`caption.py VIDEOS --json > answers.jsonl`: ids from the manifest's files)
        preds = caption_line_predictions(lines, args.preds, args.refs, args.allow_partial, set(refs))
    # (advice under --allow-partial too where nothing overlaps: the split to pass; trial 108)
    agree = (args.allow_partial and bool(set(refs) & set(preds))) or set(refs) == set(preds)
    ids = match_ids(refs, preds, args.allow_partial,
                    None if agree else partial_advice(args.refs, every, args.split, preds))
    warning = check_captions({i: preds[i] for i in ids}, args.preds, "score")
    if warning:
        print(warning, file=sys.stderr)
    scores = caption_scores({i: refs[i] for i in ids}, {i: preds[i]["caption"] for i in ids})
    if len(ids) < len(refs) or len(ids) < len(preds):  # (--allow-partial: the overlap alone, said as evaluate's note)
        unreferenced = len(preds) - len(ids)
        missing = len(refs) - len(ids)
        others = [f"the {missing} others have no prediction" if missing > 1 else "the other has no prediction"] \
            if missing else []
        if unreferenced:
            others.append(f"{unreferenced} predicted id{'s' * (unreferenced > 1)} without references "
                          f"{'were' if unreferenced > 1 else 'was'} left out")
        print(f"note: scored {len(ids)} of the {len(refs)} referenced videos (--allow-partial: {'; '.join(others)})",
              file=sys.stderr)
    if blind := blind_cider({i: refs[i] for i in ids}):
        print(blind, file=sys.stderr)
    # (how many were scored, and how many captions differ: plain output said neither; --json had "scored" alone)
    scores["distinct_captions"] = len({preds[i]["caption"] for i in ids})
    print(json.dumps({**scores, "scored": len(ids)}) if args.json else
          format_table({**scores, "distinct_captions_of": len(ids)}))
    return 0


def add_export_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("preds", help="predictions JSON (as `s2vt evaluate` writes, or {id: caption})")
    p.add_argument("--format", required=True, choices=("coco", "msrvtt", "lic2022", "yt8m"))
    p.add_argument("--out", required=True, help="zip file to write (yt8m: a .csv, or a .zip holding it)")
    p.add_argument("--manifest", default=None, help="for lic2022, and required there: the ids, in the order to "
                                                     "write them")
    p.add_argument("--split", default=None, choices=SPLITS,
                   help="for lic2022: the manifest split the predictions are for, as `s2vt evaluate --split` "
                        "(default test)")
    p.add_argument("--vocabulary", default=None, metavar="CSV",
                   help="for yt8m: the vocabulary.csv the model was trained with (its tag names -> class indices); "
                        "without it, tags are label<Index>, as `s2vt import yt8m` names them without one")
    p.add_argument("--top-k", type=int, default=None,
                   help="for yt8m: classes written per video (default 20, as youtube-8m's inference.py)")
    p.add_argument("--allow-partial", action="store_true",
                   help="for lic2022: write the split's videos the predictions lack with empty answers (without it: "
                        "refused)")
    p.add_argument("--force", action="store_true", help="replace an existing --out file (without it: refused)")


def run_export(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .fileio import refuse_existing
    from .manifest import read_manifest

    from .export import CAPTION_FORMATS, MEMBER, check_caption_export, write_zip, yt8m_scores
    from .formats import YT8M_TOP_K
    from .metrics import GAP_TOP_K
    from .formats import lic2022_fields, not_msrvtt, stray_level2
    from .results import ResultsError, load_predictions, refuse_inputs

    if args.format != "lic2022" and (args.manifest or args.split or args.allow_partial):
        # (--allow-partial too: it was taken and did nothing; trial 109)
        named = [o for o, v in (("--manifest", args.manifest), ("--split", args.split),
                                ("--allow-partial", args.allow_partial)) if v]
        raise ResultsError(f"{listed(named)} {'are' if len(named) > 1 else 'is'} for --format lic2022; {args.format} "
                           "writes every video of the predictions file")
    if args.format != "yt8m" and (args.vocabulary or args.top_k is not None):
        raise ResultsError("--vocabulary and --top-k are for --format yt8m")
    if args.top_k is not None and args.top_k < 1:
        raise ResultsError(f"--top-k must be at least 1, not {args.top_k}")
    from .fileio import ends_as_folder, written_file
    from .locks import writing_alone, writing_elsewhere

    # through a link, every check is of the file written, as evaluate's outputs are (`--out bl.zip --force`, bl.zip a
    # link to RUN/best.pt, replaced the checkpoint; hostile trial)
    # (as typed where it ends with '/': refuse_existing says it names a folder, which a Path would drop)
    out = args.out if ends_as_folder(args.out) else written_file(args.out)
    refuse_inputs([out], [args.preds, args.manifest, args.vocabulary])
    # (as typed: a link to a device is named as the link, not as the device; one it would replace, as its file)
    # a folder, a pipe or a device first (force=True: those alone; --force would not help them)
    refuse_existing([args.out], True)
    # the results file goes inside, under its fixed name (--out as typed where it is the file written, as evaluate
    # names it: Path('./-') is '-'; through a link, the file judged). Before 'already exists': `--out existing.json`
    # was told to pass --force, and with it refused for the name (hostile trial)
    # (yt8m: Kaggle takes inference.py's CSV bare or zipped)
    if args.format == "yt8m" and out.suffix.lower() not in (".csv", ".zip"):
        shown = os.fsdecode(args.out) if Path(args.out) == out else out
        raise ResultsError(f"--out {shown}: yt8m export writes a CSV (name it .csv) or a zip holding "
                           f"{MEMBER['yt8m']} (name it .zip)")
    if args.format != "yt8m" and out.suffix.lower() != ".zip":
        shown = os.fsdecode(args.out) if Path(args.out) == out else out
        raise ResultsError(f"--out {shown}: export writes a zip holding {MEMBER[args.format]}; name it .zip")
    # two exports into one --out at once both found it absent and the last silently replaced the other's (hostile
    # trial): its lock is held from the check that it is not there to the rename, as evaluate holds its outputs'
    subject = f"--out {args.out}" + (f" (a link to {out})" if Path(args.out) != out else "")
    with writing_alone(out, writing_elsewhere(out, "--out ", subject, "export")):
        refuse_existing([args.out], args.force)
        preds = load_predictions(args.preds, captions=args.format in CAPTION_FORMATS)
        if args.format in CAPTION_FORMATS:
            warning = check_caption_export(preds, args.preds, args.format)
            if warning:
                print(warning, file=sys.stderr)
        if args.format == "msrvtt" and (other := not_msrvtt(preds)):
            # (MSVD ids were written into an MSR-VTT submission unsaid; trial 75)
            verb = "is" if len(other) == 1 else "are"
            print(f"warning: {len(other)} of the {counted(len(preds), 'predicted video')} {verb} not MSR-VTT's "
                  f"(videoNNNN; first: {one_line(other[0])}): its challenge scores none of them", file=sys.stderr)
        order, split = None, args.split or "test"
        # only the split predicted: the other splits' videos would go in with empty answers
        if args.manifest and args.format == "lic2022":
            entries = read_manifest(args.manifest)
            order = [e["video_id"] for e in entries if split_of(e) == split]
            if not order:
                raise ResultsError(f"{args.manifest}: no videos in split {split!r} (pass --split)")
            if not any(v in preds for v in order):
                # (another dataset's predictions were told to pass --split; hostile trial)
                held = sorted({split_of(e) for e in entries if e["video_id"] in preds})
                raise ResultsError(f"{args.preds} predicts none of the {counted(len(order), split + ' video')} of "
                                   f"{args.manifest} " + (f"(its predictions are of its {', '.join(held)} videos: "
                                                          "pass the --split given to s2vt evaluate)" if held else
                                                          "nor any other of its videos (the predictions of another "
                                                          "dataset, or another --manifest's?)"))
            # (what each line would hold)
            if not any(any(lic2022_fields(preds[v]["tags"])) for v in order if v in preds):
                raise ResultsError(f"{args.preds}: no predicted tag is a LIC2022 label (level1:, level2:, tag:): "
                                   "a model trained on LIC2022 data writes them")
            missing, outside = sum(v not in preds for v in order), len(set(preds) - set(order))
            if missing and not args.allow_partial:
                # (a submission half of whose lines were blank was written, exit 0, from another split's predictions
                # that shared some ids; trial 74)
                first = next(v for v in order if v not in preds)
                raise ResultsError(f"{args.preds} has no prediction for {missing} of the "
                                   f"{counted(len(order), split + ' video')} of {args.manifest} (first: "
                                   f"{one_line(first)}): s2vt evaluate --split {split} predicts every one (without "
                                   "--skip-missing); --allow-partial writes them with empty answers")
            # (each count said as 'video' for one, its verb agreeing: '1 predicted videos are' was said; hostile trial)
            notes = ([f"{missing} of the {counted(len(order), split + ' video')} {'has' if missing == 1 else 'have'} "
                      "no prediction (written with empty answers)"] * bool(missing)
                     + [f"{counted(outside, 'predicted video')} {'is' if outside == 1 else 'are'} not in split {split} "
                        "(left out)"] * bool(outside))
            # (hand-made or merged predictions: a level 2 names its level 1, `level2:L1/L2`)
            stray = [(v, s) for v in order if v in preds and (s := stray_level2(preds[v]["tags"]))]
            if stray:
                v, tags = stray[0]
                # (tags are the predictions file's text: one_line escapes a newline, which would break the line)
                one = len(stray) == 1
                notes.append(f"{counted(len(stray), 'video')} {'has' if one else 'have'} a level 2 that is not under "
                             f"{'its' if one else 'their'} level 1, dropped (the "
                             f"level 1 kept; first: {v}: {one_line(tags[0])} with "
                             f"level1:{one_line(lic2022_fields(preds[v]['tags'])[0])})")
            # (hand-made predictions of tags alone: every result line needs a level 1, `evaluate`'s always have one)
            if no_level1 := [v for v in order if v in preds and not lic2022_fields(preds[v]["tags"])[0]]:
                one = len(no_level1) == 1
                notes.append(f"{counted(len(no_level1), 'predicted video')} {'has' if one else 'have'} no level-1 "
                             "tag (nor a level 2 naming its level 1, level2:L1/L2): written with an empty level 1 "
                             "and level 2 "
                             f"(first: {one_line(no_level1[0])})")
            if notes:
                print("warning: " + "; ".join(notes), file=sys.stderr)
        scores = yt8m_scores(preds, args.vocabulary, args.preds) if args.format == "yt8m" else None
        if scores is not None and not any(scores.values()):  # (a caption model's: a CSV of empty answers, exit 0)
            raise ResultsError(f"{args.preds}: none of its {counted(len(scores), 'video')} has a tag to submit (a "
                               "caption model's predictions?): --format yt8m writes tags")
        if scores is not None and args.top_k and args.top_k > (most := max(len(p) for p in scores.values())):
            print(f"warning: --top-k {args.top_k}: the predictions hold at most {most} scored tags a video (evaluate "
                  f"writes its top {GAP_TOP_K}): {most} written", file=sys.stderr)
        if scores is not None and (empty := [v for v, pairs in scores.items() if not pairs]):
            # (every video keeps its line, as inference.py writes one per video it read)
            print(f"warning: {counted(len(empty), 'video')} {'has' if len(empty) == 1 else 'have'} no scored tag "
                  f"(first: {empty[0]}): written with an empty answer", file=sys.stderr)
        write_zip(preds, args.format, out, order, scores, args.top_k or YT8M_TOP_K)
    count = len(order) if order is not None else len(preds)
    what = f" (split {split} of {args.manifest}, {sum(v in preds for v in order)} predicted)" if order else ""
    # (as the user gave it, as evaluate names its outputs: through a link, its target is not what they typed;
    # escaped, as evaluate's line: a newline in it split the line)
    print(one_line(f"wrote {args.out}: {counted(count, 'video')}{what}"), file=sys.stderr)
    return 0


def add_extract_arguments(p: argparse.ArgumentParser) -> None:
    from extract.__main__ import add_arguments
    add_arguments(p)


def run_extract(args: argparse.Namespace) -> int:
    from extract.__main__ import run
    return run(args)


def add_weights_arguments(p: argparse.ArgumentParser) -> None:
    from extract.backbones.weights import SPECS

    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    get = actions.add_parser("download", help="fetch, verify and install backbone weight files "
                             "($S2VT_WEIGHTS_URL: a mirror's folder URL instead of the official ones)")
    get.add_argument("names", nargs="*", metavar="NAME",
                     help=f"any of {', '.join(SPECS)} (default: resnet152 c3d vggish)")
    show = actions.add_parser("list", help="which weight files are verified, present, unusable or missing")
    for sp in (get, show):
        # (None: default_weights_dir() when the command runs, so $S2VT_WEIGHTS_DIR is read then)
        sp.add_argument("--dir", default=None, help="weights folder, as --weights-dir elsewhere (default: "
                        "$S2VT_WEIGHTS_DIR, else checkpoints/" + ("; then torch hub's cache)" if sp is show
                                                                 else ")"))
    show.add_argument("--json", action="store_true", help="one JSON object per weight file, a line each (JSON Lines)")
    for sp in (get, show):
        show_defaults(sp)


def run_weights(args: argparse.Namespace) -> int:
    from extract.backbones.download import download, int8_cache, int8_cache_by_backbone, status
    from extract.backbones.weights import SPECS, default_weights_dir, weights_command, weights_dir_hint

    if args.action == "download":
        if unknown := [n for n in args.names if n not in SPECS]:
            raise SettingError(f"unknown weights {', '.join(unknown)}: choose from {', '.join(SPECS)}")
        return download(args.names, args.dir if args.dir is not None else default_weights_dir(made=True))
    if args.dir is not None and not os.path.isdir(args.dir):  # (a typo would read as "not downloaded")
        raise SettingError(f"--dir {args.dir}: " + ("not a folder" if os.path.exists(args.dir) else "no such folder"))
    rows = status(args.dir if args.dir is not None else default_weights_dir())
    if args.json:  # (each row its backbone's int8 cache files: a key, so every line stays one weight file's row)
        folder, held = int8_cache_by_backbone()
        for r in rows:
            count, size = held.get(r["name"], (0, 0))
            r["int8_cache"] = {"folder": os.path.abspath(folder), "files": count, "bytes": size}
    # a missing file's row names the file it is looked for under, where a found one's path is (its hint alone
    # named no file: weights downloaded by hand had no name to be saved under; hostile trial), padded so that the
    # "(looked in ...)" of every missing row lines up
    width = max((len(r["file"]) for r in rows if r["path"] is None), default=0)
    for r in rows:
        print(json.dumps(r) if args.json else
              f"{r['name']:<11} {r['status']:<9} {r['path'] or r['file'].ljust(width)}"
              + (f"  ({r['reason']})" if r["reason"] else ""))
    # (once, not per row; not for the optional PCA alone: "fetch them" read as a step before extract, trial 131)
    if not args.json and args.dir is None and any(r["status"] == "missing" and r["name"] != "vggish_pca" for r in rows):
        print(f"missing files: `{shell_join(weights_command())} download NAME...` fetches them, or "
              + weights_dir_hint())
    if not args.json and (cache := int8_cache()):
        folder, count, size = cache
        mb = size / 1e6
        # (the files, not the folder, are safe to remove: $S2VT_CACHE_DIR may be a folder the user shares;
        # not "made from the weights above": those may be missing, and --weights random runs make some too)
        print(f"int8 cache: {count} file{'s' if count != 1 else ''}, {mb:.{1 if mb < 10 else 0}f} MB in "
              f"{os.path.abspath(folder)} (the int8 backbones an int8 run made; safe to remove)")
    return 0


def add_serve_arguments(p: argparse.ArgumentParser) -> None:
    not_taken(p, "serve", reads_videos=True)
    p.add_argument("--checkpoint", default=None,
                   help="best.pt of a training run (default: $S2VT_CHECKPOINT, else checkpoints/s2vt.pt)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface)")
    p.add_argument("--port", type=int, default=8000, help="port to listen on")
    from extract.backbones.weights import WEIGHTS_DIR_HELP

    from .decode import TAGS_SHOWN
    from .serve import MAX_UPLOAD_MB, MAX_VIDEO_SECONDS, MIN_UPLOAD_RATE, QUEUE, UPLOAD_TIMEOUT, WORKERS

    p.add_argument("--workers", type=int, default=WORKERS, help="videos captioned at once")
    p.add_argument("--queue", type=int, default=QUEUE, help="requests waiting beyond those (more: 503 + Retry-After)")
    p.add_argument("--max-upload-mb", type=float, default=MAX_UPLOAD_MB, help="larger uploads get 413")

    p.add_argument("--upload-timeout", type=float, default=UPLOAD_TIMEOUT, metavar="SECONDS",
                   help="an upload that sends nothing for this long gets 408 and frees its slot; a connection whose "
                        "request headers are not whole this long after it opened (or after its last answer) is closed")
    p.add_argument("--min-upload-rate", type=float, default=MIN_UPLOAD_RATE, metavar="KB/S",
                   help="an upload must average at least this many KB/s after its first --upload-timeout seconds, "
                        "else 408 and its slot freed (a 200 MB upload may take --upload-timeout + 5.7 h at the "
                        "default; 0: no minimum)")
    p.add_argument("--max-video-seconds", type=float, default=MAX_VIDEO_SECONDS, metavar="SECONDS",
                   help="longer videos get 422, from their probed duration, before any decoding")
    add_decode_arguments(p)
    p.add_argument("--tags", type=int, default=TAGS_SHOWN, help="how many top tags to answer")
    p.add_argument("--weights-dir", default=None, help=WEIGHTS_DIR_HELP)
    add_device_argument(p)
    add_precision_argument(p)
    # every default in the help: a server's are what a user checks first (--port showed none; hostile trial)
    show_defaults(p)


def run_serve(args: argparse.Namespace) -> int:
    from .errors import signals_honoured

    with signals_honoured():  # (`s2vt serve &` in a script: a Ctrl-C while the model loads too)
        from .captioner import default_checkpoint
        from .serve import serve

        return serve(args.checkpoint or default_checkpoint(), args.host, args.port, args.workers, args.queue,
                     args.max_upload_mb, decoding(args), args.tags, args.device, args.weights_dir,
                     args.upload_timeout, args.max_video_seconds, args.min_upload_rate, args.precision)


COMMANDS = {  # name -> (help, add_arguments, run)
    "extract": ("extract features into a store (= python -m extract)", add_extract_arguments, run_extract),
    "train": ("train S2VT on a manifest and a feature store (= train.py)", add_train_arguments, run_train),
    "import": ("convert dataset annotations to a manifest", add_import_arguments, run_import),
    "caption": ("caption and tag video files (= caption.py)", add_caption_arguments, run_caption),
    "evaluate": ("decode a split and print caption and tag metrics", add_evaluate_arguments, run_evaluate),
    "score": ("score predicted captions against references", add_score_arguments, run_score),
    "export": ("write a competition file (a zip holding it; yt8m: a csv too)", add_export_arguments, run_export),
    "serve": ("caption uploaded videos over HTTP: a JSON API and a web page (the serve extra)", add_serve_arguments,
              run_serve),
    "weights": ("download or list the backbones' pretrained weight files", add_weights_arguments, run_weights),
}
STARTED_AGAIN = (*COMMANDS, "demo")  # the commands an `interrupted:` line says how to start again (`again_line`)


# options that name a store or shards: given twice, argparse kept the last alone (`--features a.tfrecord --features
# b.tfrecord` trained on b's records, unsaid; new-user trial 45). A store given again is taken as argparse takes it
SHARD_OPTIONS = ("--features", "--val-features")


def repeated_shards(argv: list[str]) -> str | None:
    """What to say about a SHARD_OPTIONS option given more than once in `argv` (before a '--'), naming TFRecord
    shards each time but the last, or None."""
    words = argv[:argv.index("--")] if "--" in argv else argv
    for option in SHARD_OPTIONS:
        given = [w.partition("=")[2] if w.startswith(option + "=") else words[i + 1] if i + 1 < len(words) else ""
                 for i, w in enumerate(words) if w == option or w.startswith(option + "=")]
        if len(given) < 2:
            continue
        from .shards import is_shards  # (torch: only where an option is given twice)

        if any(is_shards(v) for v in given[:-1]):
            return (f"{option} is given {len(given)} times, and takes one feature store, shard, quoted glob or folder "
                    f"of shards (only the last would be read): give several shards as one quoted glob "
                    f"({option} 'DIR/train*.tfrecord') or a folder of them")
    return None


def unquoted_pattern(argv: list[str], stray: list[str]) -> str:
    """What to say about file arguments no option takes: most likely an unquoted glob
    (--features yt8m/*.tfrecord) that the shell expanded into many paths, the first taken by the
    option and the rest left over."""
    # (the first run of left-over paths: where stray[0] stands after another path, not as an option's value; a
    # path given twice, `--features a a`, was found as the option's value and said as a pattern of 1 file, trial 84;
    # each option's expanded glob leaves a run of its own, `--features a0 a1 --val-features a8 a9`, trial 85)
    start = max((i for i, a in enumerate(argv) if a == stray[0] and (i == 0 or not argv[i - 1].startswith("-"))),
                default=argv.index(stray[0]))  # (after a flag that takes no value, `--resume a.tfrecord`)
    end = start
    while end < len(argv) and not argv[end].startswith("-"):
        end += 1
    run = argv[start:end]
    j = start - 1
    while j >= 0 and not argv[j].startswith("-"):
        j -= 1
    option = argv[j] if j >= 0 and argv[j].startswith("--") else None
    paths = argv[j + 1:start] + run if option else run
    shown = ", ".join(paths[:3]) + (", ..." if len(paths) > 3 else "")
    if option is None:
        return f"unexpected file arguments ({shown}); if they come from a pattern, quote it so the shell leaves it"
    if twice := next((p for i, p in enumerate(paths) if p in paths[:i]), None):  # (no pattern gives a path twice)
        return f"{option} takes one path, and {twice} is given {paths.count(twice)} times: name it once"
    said = f"{option} takes one path, but the shell expanded a pattern into {len(paths)} files ({shown}): quote " \
           f"the pattern: {option} "
    # (a pattern that takes in a file the user did not list, the val shard beside the train ones, is refused in
    # turn or trains on it: none is suggested then, and the line says what it would take in; hostile trial)
    wide = common_pattern(paths)
    for pattern in (wide, class_pattern(paths)):
        if pattern and not more_files(pattern, paths):
            return said + shell_quote(pattern)
    if wide is None:
        return said + "PATTERN"
    return said + f"PATTERN (as you typed it: {wide} would take in {more_files(wide, paths)[0]} too)"


def common_pattern(paths: list[str]) -> str | None:
    """The narrowest one-star pattern matching all `paths`: their folder, and the common start and end
    of their names around a `*` (yt8m/validate0000.tfrecord ... yt8m/validate0003.tfrecord:
    yt8m/validate000*.tfrecord). Advice to quote `yt8m/*.tfrecord` would take in the train shards
    beside them, files the user's own pattern left out. None for paths in several folders or
    names with nothing in common (no pattern of one star names them but a much wider one)."""
    folders = {os.path.dirname(p) for p in paths}
    if len(folders) != 1:
        return None
    names = [os.path.basename(p) for p in paths]
    start = os.path.commonprefix(names)
    # (the common end of what is left after the common start: the two never overlap)
    end = os.path.commonprefix([n[len(start):][::-1] for n in names])[::-1]
    if not start and not end:
        return None
    return os.path.join(folders.pop(), start + "*" + end)


def class_pattern(paths: list[str]) -> str | None:
    """The pattern of one character class per position where `paths` differ (yt8m/validate0000.tfrecord and
    yt8m/validate0001.tfrecord: yt8m/validate000[01].tfrecord), which names fewer files than `common_pattern`'s
    star; None for paths in several folders, names of unequal length or classes of glob's own characters."""
    folders = {os.path.dirname(p) for p in paths}
    names = [os.path.basename(p) for p in paths]
    if len(folders) != 1 or len({len(n) for n in names}) != 1:
        return None
    pattern = ""
    for chars in map(set, zip(*names)):
        if len(chars) == 1:
            pattern += glob.escape(chars.pop())
        elif chars & set("[]!^-\\"):
            return None
        else:
            pattern += "[" + "".join(sorted(chars)) + "]"
    return os.path.join(folders.pop(), pattern)


def more_files(pattern: str, paths: list[str]) -> list[str]:
    """The files `pattern` matches beyond `paths`, sorted."""
    given = {os.path.realpath(p) for p in paths}
    return sorted(p for p in glob.glob(pattern) if os.path.realpath(p) not in given)


# the options and arguments of the commands that name a file or folder (train's are also checked by
# TrainConfig itself, for code that trains without the command line)
PATH_OPTIONS = ("out", "features", "manifest", "checkpoint", "html", "weights_dir", "videos", "captions",
                "vocabulary", "split_list", "dir")
PATH_ARGUMENTS = {"input": "INPUT", "files": "FILE", "preds": "PREDS", "refs": "REFS"}


def path_arguments(args: argparse.Namespace) -> dict[str, object]:
    """{how the user wrote it: value} of the paths among the parsed arguments, for refuse_unusable_paths."""
    from .options import flag

    positional = {**PATH_ARGUMENTS, **({"videos": "VIDEO"} if args.command == "caption" else {}),
                  **({"files": args.files_metavar} if hasattr(args, "files_metavar") else {})}
    return {positional.get(name) or flag(name): getattr(args, name)
            for name in (*PATH_OPTIONS, *PATH_ARGUMENTS) if hasattr(args, name)}


# the exit status of a program killed by SIGPIPE (128 + 13), as a C tool's in `... | head` would be
BROKEN_PIPE = 141


def main(argv: list[str] | None = None, program: bool | None = None) -> int:
    """The program's entry point (train.py and caption.py run this too, `program` True: the process ends
    when it returns; by default, when it reads sys.argv itself); a SIGTERM ends a command as a Ctrl-C
    does, exit 143."""
    if sys.stdout is None:  # stdout closed (`caption.py v.mp4 >&-`): its output is discarded, as print() does
        discard_stdout()
    if sys.stderr is None:  # stderr closed (`train.py ... 2>&-`): the diagnostics are discarded, the work done
        guard_stderr()
    terminated: list = []
    finished: list = []  # (True once the command's function has returned: its outputs are written)
    if argv is None if program is None else program:
        from .errors import running_as_program
        running_as_program(command_of(argv))
    try:
        with terminate_as_interrupt() as terminated:
            code = exit_status(run_main(argv, finished), terminated)
    except KeyboardInterrupt:  # (a signal just as the command returned: it had finished)
        if finished:
            with contextlib.suppress(Exception):
                print(finished_line(command_of(argv)), file=sys.stderr)
        code = exit_status(130, terminated)
    if argv is None if program is None else program:  # (not a caller's own process: its handlers stay)
        from .errors import exit_quietly_after
        exit_quietly_after(command_of(argv), said=code in SAID_STOPPED)
    return code


def command_of(argv: list[str] | None) -> str:
    """The command `argv` (None: the program's own arguments) runs, as the lines name it."""
    return " ".join((sys.argv[1:] if argv is None else argv)[:1]) or "the command"


class WatchedStdout:
    """sys.stdout while a command runs: notes the OSError its writes raise, so that a stdout that cannot be
    written (`> /dev/full`, a full disk) is told apart from an OSError of the command's own, a bug that keeps
    its traceback (a failed write says nothing of the file it was for, and the stream drops what it could not
    write: the error itself is the only trace). Anything else is the stream's own."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.failed: list[OSError] = []

    def write(self, text: str) -> int:
        try:
            return self.stream.write(text)
        except OSError as e:
            self.failed.append(e)
            raise

    def flush(self) -> None:
        try:
            self.stream.flush()
        except OSError as e:
            self.failed.append(e)
            raise

    def __getattr__(self, name: str):
        return getattr(self.stream, name)


def discard_stdout() -> None:
    """What is printed from now on goes nowhere: fd 1 is /dev/null (what is still buffered, flushed at exit,
    would raise again; a closed fd 1 would be taken by the next file opened, and a child's output go there)
    and sys.stdout writes to it (None when stdout was closed at start)."""
    try:
        fd = sys.stdout.fileno() if sys.stdout is not None else 1
    except (OSError, ValueError):  # (a caller's own stdout, in a test, has no fd: left alone)
        return
    null = os.open(os.devnull, os.O_WRONLY)  # (fd 1 itself when it was closed: the lowest free one)
    if null != fd:
        os.dup2(null, fd)
        os.close(null)
    if sys.stdout is None:
        sys.stdout = open(1, "w", closefd=False)


def run_main(argv: list[str] | None, finished: list | None = None) -> int:
    finished = [] if finished is None else finished
    stdout = sys.stdout = WatchedStdout(sys.stdout)
    try:
        return run_watched(argv, finished, stdout)
    finally:
        if sys.stdout is stdout:
            sys.stdout = stdout.stream


# a command's exit status once it has said it was stopped (its `interrupted:` line): Ctrl-C, SIGTERM, SIGHUP
SAID_STOPPED = (INTERRUPTED, TERMINATED, HUNG_UP)


def run_watched(argv: list[str] | None, finished: list, stdout: WatchedStdout) -> int:
    code = None
    try:
        with interrupts_unwrapped():  # (a signal Python wrapped in a RuntimeError: said as the signal it was)
            code = run_command(sys.argv[1:] if argv is None else argv, finished)
        if code not in SAID_STOPPED:  # (an interrupted command has not finished: a signal now is no news)
            finished.append(True)
        sys.stdout.flush()  # (a reader gone raises here, not in the interpreter's exit)
        return code
    except KeyboardInterrupt:  # (Ctrl-C while the modules load, before a command's own handling)
        if code in SAID_STOPPED:  # (a second signal after the command's `interrupted:` line said "while exiting,
            return code  # after train had finished" beside it; trial 119)
        print(finished_line(command_of(argv)) if finished else interrupted_starting(sys.argv[1:] if argv is None
                                                                                     else argv), file=sys.stderr)
        return 130
    except BrokenPipeError:  # stdout's reader is gone (`caption.py DIR --json | head -1`): it wanted no more
        # (what is still buffered goes nowhere: flushed at exit into a closed pipe it would raise again)
        discard_stdout()
        return BROKEN_PIPE
    except SystemExit:  # (argparse's --help ends so: what it printed must reach stdout too, or be said lost)
        try:
            sys.stdout.flush()
        except OSError as e:
            return stdout_lost(e, argv, finished, stdout)
        if stdout.failed:  # (argparse's own write swallows the OSError, the watch saw it)
            return stdout_lost(stdout.failed[-1], argv, finished, stdout)
        raise
    except OSError as e:
        return stdout_lost(e, argv, finished, stdout)


def stdout_lost(e: OSError, argv: list[str] | None, finished: list, stdout: WatchedStdout) -> int:
    """A command's OSError: stdout's own (its one line, exit 2) or a bug's (raised again, its traceback)."""
    if not any(e is failed for failed in stdout.failed):  # (not stdout's: a bug, its traceback)
        raise e
    if isinstance(e, BrokenPipeError):  # (its reader is gone, `--help | head -1`: it wanted no more)
        discard_stdout()
        return BROKEN_PIPE
    # (`caption.py ... > /dev/full`: the answers cannot go out, so the run stops; files written stay)
    # (a run's files are written by then: train.py > /dev/full looked like a failed training)
    done = f" (after {command_of(argv)} had finished: only what it printed is lost)" if finished else ""
    print(f"error: cannot write to standard output: {e.strerror or e}{done}", file=sys.stderr)
    discard_stdout()
    return 2


def run_command(argv: list[str], finished: list | None = None) -> int:
    """`argv`'s command run; `finished` gets True once the command's function has returned (train's: once
    its outputs are written), so that a signal from then on is said as one that cut nothing short."""
    finished = [] if finished is None else finished
    warnings.formatwarning = one_line_warning
    if argv[:1] and not argv[0].startswith("-"):  # (a command: it loads torch)
        # numpy before torch: torch's C start-up imports it and swallows a Ctrl-C that falls there (the
        # command then ran on, numpy half-imported); imported here, the signal is the command's to say
        import numpy  # noqa: F401
    # (named as the user started it, as each command's parser is: `(see python -m s2vt.cli --help)`)
    parser = Parser(prog=shell_join(w for w in invoked_as("COMMAND") if w != "COMMAND"),
                    description="Caption and tag videos: a subcommand per job (`COMMAND --help`: its options); "
                    "the steps, from videos to answers: README.md and docs/usage.md.")
    from . import __version__  # (declared once, there: setup.py reads it too)
    parser.add_argument("--version", action="version", version=f"s2vt {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("demo", help="render a small dataset and run the whole pipeline on it", add_help=False)
    for name, (what, add, _) in COMMANDS.items():
        # (argparse's usage and error lines name the program as it was started: `python caption.py`)
        command = sub.add_parser(name, help=what, **({"prog": shell_join(invoked_as(name))} if argv[:1] == [name]
                                                     else {}))
        # only the command run gets its options: extract's import torch (seconds), which `s2vt
        # import ...` or `s2vt --help` would otherwise wait for
        if argv[:1] == [name]:
            add(command)
    if argv[:1] == ["demo"]:
        from .demo import main as demo_main
        try:
            return demo_main(argv[1:])
        except UserError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:  # (before the demo began: once it has, demo.main says what to rerun)
            print(interrupted_starting(argv), file=sys.stderr)
            return 130
    if argv[:1] == ["extract"]:
        from extract.__main__ import joined_shard
        argv = joined_shard(argv)  # (`--shard -1/2`: one line from parse_shard, not argparse's usage text)
    args, extra = parser.parse_known_args(argv)
    if extra:  # (only paths left over: an unknown option is argparse's to report)
        if all(not a.startswith("-") for a in extra) and (stray := [a for a in extra if os.path.exists(a)]):
            print(f"error: {unquoted_pattern(argv, stray)}", file=sys.stderr)
            return 2
        # any other unknown argument: one line naming the program as it was started (argparse's own
        # message is two, its usage line and its error, under the name `s2vt` even for `python caption.py`)
        prog = shell_join(invoked_as(args.command)) if args.command in COMMANDS else parser.prog
        # (`s2vt import yt8m --bogus`: the options are the format's, so is the help to see)
        prog += "".join(f" {getattr(args, sub)}" for sub in ("kind", "action") if getattr(args, sub, None))
        # (the command's options too: `--out a1 -- --out a2` was not told that '--' made the second a file name;
        # argparse drops the '--' once a positional took a word: `export --out a1 p.json -- --out a2` left
        # `--out a2`, so the words after argv's '--' are read from argv)
        told = extra if "--" in extra or "--" not in argv else [*extra, *argv[argv.index("--"):]]
        # (the options of the command the words were given to: `import mlds`'s, not those of other formats)
        given_to = command_parser(parser, args)
        hint = (dash_hint(told, given_to._option_string_actions, takes_files(given_to))
                or abbreviation_hint(told, given_to))  # (`--hid`: options are written whole)
        if not left_to_rank_0():  # (under torchrun: every rank's alike, rank 0's line)
            print(f"error: unrecognized arguments: {' '.join(extra)}{hint} (see {prog} --help)", file=sys.stderr)
        return 2
    if said := repeated_shards(argv):
        if not left_to_rank_0():
            print(f"error: {said}", file=sys.stderr)
        return 2
    if args.command is None:  # bare `s2vt` asks what it can do: the help on stdout, exit 0 (as bare `pip`)
        parser.print_help()
        return 0
    if args.command not in COMMANDS:
        parser.print_help()
        return 2
    args.argv = argv  # (a line saying how to start the command again repeats it)
    args.finished = finished
    try:
        from .fileio import refuse_unusable_paths
        refuse_unusable_paths(path_arguments(args))
        code = COMMANDS[args.command][2](args)
        finished.append(True)
        return code
    except UserError as e:  # bad input: one line (anything else is a bug: its traceback)
        from .errors import SaidByAnotherRank
        from .errors import one_line  # (a path that is not UTF-8: \xff, as the rest of the output shows it; a
        # (under torchrun, the line of the rank that refused is the one; a setting's, every rank's alike, rank 0's)
        if not isinstance(e, SaidByAnotherRank) and not (isinstance(e, SettingError) and left_to_rank_0()):
            print(f"error: {one_line(str(e))}", file=sys.stderr)  # newline in a name: \n, the error stays one line
        return 2
    except KeyboardInterrupt as e:  # Ctrl-C: one line and 130 (the commands write outputs whole, at their end)
        # (a signal just after the command returned, or after train's outputs were written: it had finished)
        print(finished_line(args.command) if finished else
              interrupted_command(args.command, argv, getattr(args, "progress", None)), file=sys.stderr)
        # (a SIGTERM or SIGHUP raised by the command itself, no handler of `terminate_as_interrupt`'s to note it:
        # serve's, 143 or 129)
        return e.status if isinstance(e, Terminated) else 130


def interrupted_starting(argv: list[str]) -> str:
    """The line of a Ctrl-C or SIGTERM while the program was starting (its modules loading), before the
    command's own handling: nothing was written yet."""
    return starting_line(argv, STARTED_AGAIN)


def interrupted_command(command: str, argv: list[str], progress: dict | None = None) -> str:
    """The line of a command interrupted that has no line of its own: the server stopped; caption's
    videos captioned so far (`progress`, as `captioner.caption_videos` counts them); any other writes its
    outputs whole, at its end (a temporary file renamed), so none was half-written."""
    if command == "serve":
        return "interrupted: the server stopped"
    if command == "weights" and "download" in argv[1:]:  # (each file installed once verified; a part kept)
        return ("interrupted: the weight files installed so far stay, a partial download is kept (.part-NAME) "
                "and resumed by a rerun" + (f": {again}" if (again := again_line(argv, STARTED_AGAIN)) else ""))
    if command == "caption":  # (each video's answer is printed as it is made)
        return f"interrupted: {captioned_so_far(progress or {})}" + \
            (f"; to start again: {again}" if (again := again_line(argv, STARTED_AGAIN)) else "")
    return f"interrupted: {command} did not finish (it writes its outputs whole, at its end: none was written)" + \
        (f"; to start again: {again}" if (again := again_line(argv, STARTED_AGAIN)) else "")


def captioned_so_far(progress: dict) -> str:
    """How many of an interrupted caption run's videos were captioned: `captioner.caption_videos`' counts
    ({} before its folders were listed)."""
    total, done, failed = progress.get("videos"), progress.get("captioned", 0), progress.get("failed", 0)
    if total is None:
        return "no video was captioned"
    if not done and not failed:
        return "the video was not captioned" if total == 1 else f"none of the {total} videos was captioned"
    rest = total - done - failed
    return (f"{done} of {total} video{'s' * (total != 1)} {'was' if done == 1 else 'were'} captioned (above)"
            + (f", {failed} failed" if failed else "") + (f", the other {rest} {'was' if rest == 1 else 'were'} not"
                                                          if rest else ""))


if __name__ == "__main__":
    sys.exit(main())
