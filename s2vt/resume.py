"""Continuing a training run (`--resume`): where it continues from, and the checks that the command line, the
data and the machine still give the run it was (its settings, steps per epoch, processes, readers, optimiser
state), each refused or warned of in one line before any work."""
from __future__ import annotations

import os
from pathlib import Path

import torch

from .checkpoint import CheckpointError, read_checkpoint
from .config import TrainConfig
from .epoch import lr_factor
from .errors import SettingError, UserError, shell_quote
from .fileio import RUN_OUTPUTS, not_a_file
from . import options


class RunFolderError(UserError):
    """A run folder that would be trained over or cannot be resumed; one line for the user."""


def resume_point(cfg: TrainConfig) -> Path | None:
    """OUT/last.pt when this run continues one; refuses (before any work) to train over a folder
    that holds a model unless --overwrite, and --resume where last.pt is missing but other run files
    are there (starting over would replace them). --resume into an empty or new folder starts a new run."""
    out = Path(cfg.out)
    # (curves.png too: a run writes it with metrics.csv, so alone it is someone's own file)
    held = [name for name in RUN_OUTPUTS if (out / name).exists()]
    if cfg.resume and "last.pt" in held:
        return out / "last.pt"
    if cfg.resume and (what := not_a_file(out / "last.pt")) and os.path.islink(out / "last.pt"):
        # (a link to nothing, or a loop: said as what it is, not missing; trial 102)
        raise RunFolderError(f"{out}: --resume needs last.pt, which is {what}")
    if cfg.resume and held:
        raise RunFolderError(f"{out}: --resume needs last.pt, which is missing (the folder holds {', '.join(held)}); "
                             "pass --overwrite in place of --resume to start a new run there")
    if held and not cfg.overwrite:
        raise RunFolderError(f"{out} already holds a training run ({', '.join(held)}): "
                             + ("pass --resume to continue it or --overwrite to replace it" if "last.pt" in held
                                else "without last.pt it cannot be resumed: pass --overwrite to replace it"))
    return None


# settings a resumed run takes from last.pt, not from this command line: Adam's state and the
# scheduler's base learning rates hold each parameter group's learning rate
RESUME_IGNORED = ("lr", "text_lr", "wide_lr")
# settings that shape the vocabularies: a --resume changing them was refused unless the vocabularies came out as
# last.pt's, so a change that got this far changes nothing (said so: "taking effect" read as a new vocabulary;
# trial 116)
RESUME_SAME_VOCABULARY = ("min_count", "text_tokenizer", "text_min_count", "text_max_tokens")
# where and how a run happens, not what it learns: a change is not worth a warning
RESUME_UNREPORTED = ("manifest", "features", "out", "val_features", "vocabulary", "resume", "overwrite", "quiet",
                     "device", "stop_after", "workers")


def run_settings(cfg: TrainConfig) -> dict:
    """Every setting's value by its flat name (after the recipe), saved in last.pt so that a resumed
    run can say which settings its command line changed."""
    return {f.name: options.value(cfg, f.name) for f, _ in options.settings(TrainConfig)}


def upgraded_settings(was: dict) -> dict:
    """last.pt's run_settings (`was`) in today's terms, meaning what they meant to the s2vt that wrote them. Its
    --per-video beside --no-per-caption grouped nothing (one caption a video: groups of one), and s2vt before
    2026-12-03 saved its default 4 there (the demo's runs): today's --per-video 1, not a pair refused as the
    user's own on every --resume, whatever it passed (hostile trial). One from before --caption-weights weighed
    every caption alike."""
    if was.get("per_caption") is False and was.get("per_video", 1) != 1:
        was = {**was, "per_video": 1}
    # (before --caption-weights, every caption weighed alike: a resumed run goes on so, not at the recipe's)
    # (nor, before --neighbours, were the tags of neighbours blended in; nor, before --tag-focal, the negatives
    # weighed)
    # (nor, before --text-max-tokens, was the text vocabulary cut)
    return {"caption_weights": "none", "neighbours": False, "tag_focal": 0.0, "text_max_tokens": None, **was}


def upgrade_config(last: dict) -> None:
    """last.pt's model config in today's terms, in place: --max-len was a training setting (kept in its run_settings)
    before it was the model's, so a config without it takes the run's own value, not ModelConfig.former's 28 (an
    older run resumed at 28 and was said to predate --max-len; trial 110)."""
    config, was = last.get("config"), last.get("settings")
    if isinstance(config, dict) and isinstance(was, dict) and "max_len" not in config and "max_len" in was:
        config["max_len"] = was["max_len"]


def resumed_settings(cfg: TrainConfig, was: dict, path: str | os.PathLike = "last.pt") -> TrainConfig:
    """A --resume's settings: last.pt's (`was`, its run_settings) for each one its command did not give
    (`cfg.given`), so that a plain --resume goes on as the run began (its --epochs, not the recipe's; its
    --hidden, not refused as another model); where and how it runs (RESUME_UNREPORTED) stay this command's.
    A value there that the option refuses is said as last.pt's (`path`), not as one the command gave."""
    if cfg.given is None:  # (a TrainConfig built field by field: every setting is its caller's)
        return cfg
    names = {f.name for f, _ in options.settings(TrainConfig)}  # (a setting since removed: not one)
    kept = {k: v for k, v in was.items() if k in names and k not in cfg.given and k not in RESUME_UNREPORTED}
    return with_saved(cfg, kept, path, finished=None)


# what a --resume can do about a setting of last.pt's that is refused (`with_saved`)
KEPT_ANYWAY = "the run keeps its own value, whatever the command gives: restore last.pt, or pass --overwrite in " \
              "place of --resume to train the run again"


def with_saved(cfg: TrainConfig, saved: dict, path: str | os.PathLike, finished: bool | None) -> TrainConfig:
    """`cfg` with last.pt's settings `saved` in place; a value the option refuses is a SettingError naming last.pt
    (`path`) and what the command can do: give the option, where the run takes it from the command (not a learning
    rate, RESUME_IGNORED, nor anything of a `finished` run; None: not known yet), else KEPT_ANYWAY."""
    def refused(e: SettingError, k: str | None) -> SettingError:
        # (a hand-edited last.pt: '--max-len must be a whole number' named no file, trial 111; its advice, to give
        # the option, was refused again where the run keeps its own, trial 125)
        advice = KEPT_ANYWAY if finished or k in RESUME_IGNORED else \
            "give that option to resume with another value" + (
                " (a finished run keeps its own: restore last.pt, or pass --overwrite in place of --resume)"
                if finished is None else "")
        return SettingError(f"{path}: a setting the run was saved with is refused: {e}; {advice}")

    hints = dict((f.name, hint) for f, hint in options.settings(TrainConfig))
    for k, v in saved.items():  # (one at a time: the advice is the refused one's)
        try:
            # (of the right type first: a hand-edited last.pt's modalities 5 was a TypeError traceback, 'cnn' read
            # as c,n,n, seed None said to be below its minimum; trial 114; '2' said not to be at least 1, trial 125)
            if wants := options.type_problem(hints[k], v):
                raise SettingError(f"{options.flag(k)} must be {wants}, not {v!r}")
            options.replace(cfg, **{k: v})
        except SettingError as e:
            raise refused(e, k) from None
    try:
        return options.replace(cfg, **saved)
    except SettingError as e:  # (settings refused together alone)
        raise refused(e, None) from None


def recorded_schedule(last: dict) -> int | None:
    """The --epochs the schedule of last.pt's latest epoch ran over, as its history rows record it (None before
    they did)."""
    return next((h["schedule_epochs"] for h in reversed(last.get("history", [])) if "schedule_epochs" in h), None)


def recorded_epochs(cfg: TrainConfig, last: dict, path: Path) -> TrainConfig:
    """A --resume's --epochs where its command gave none and last.pt, written by an older s2vt, has no settings
    to take it from: the schedule length its history rows record, else RunFolderError naming every option the
    resume needs (--patience too after epochs without improvement, --schedule step for a StepLR). (A run of
    2026-11-30 that had finished its --epochs 2 trained on to today's default, and replaced best.pt, unsaid;
    hostile trial.)"""
    if cfg.given is None or "epochs" in cfg.given or "epochs" in last.get("settings", {}):
        return cfg
    then = recorded_schedule(last)
    if then is None:
        # every option the resume needs in this one line: load_training_state's refusal of an older StepLR
        # came after it, so --epochs given was refused again for --schedule (hostile trial)
        if refusal := step_lr_refusal(last.get("scheduler"), cfg, path, options_only=True):
            raise RunFolderError(refusal)  # (no option resumes that one: --epochs would not help)
        need, why, nor = ["--epochs N"], [f"it has trained {last['epoch']}"], ""
        # nor its --patience: epochs without improvement may be early stopping's end, which the --epochs asked
        # for alone trained on under this command's --patience (hostile trial); last.pt's count tells which
        bad = last.get("bad_epochs", 0)
        if isinstance(bad, int) and bad > 0 and "patience" not in cfg.given:
            need.append("--patience P")
            nor = ", nor its --patience"
            why.append(f"its last {bad} epoch{'s' * (bad != 1)} did not improve on epoch {last['epoch'] - bad}: if "
                       f"early stopping ended the run, --epochs {last['epoch']} --patience {bad} keep it ended")
        if is_step_lr(last.get("scheduler")) and cfg.schedule != "step":
            need.append("--schedule step")
            why.append("its learning-rate schedule is the StepLR of an older s2vt, halve every 10 epochs")
        raise RunFolderError(f"{path} does not record how many epochs the run was to train{nor} (written by an "
                             f"older s2vt): pass {' '.join(need)} ({'; '.join(why)})")
    return options.replace(cfg, epochs=then)


def changed_settings(was: dict, cfg: TrainConfig, finished: str | None, inert: set[str] = frozenset()) -> str | None:
    """The warning line for the settings this --resume changed from last.pt's (`was`, its
    run_settings): those it ignores, then those that take effect; None when none changed. A
    finished run trains no more, so every change is ignored; `finished`: None while the run trains on,
    else the setting that decided it is finished ("epochs" or "patience"), which its own line names.
    `inert`: settings already said to have no effect on this data or model (left out: 'taking effect' beside
    'has no effect' said both of one option)."""
    now = run_settings(cfg)
    changed = [k for k in now if k in was and k not in RESUME_UNREPORTED and now[k] != was[k]
               # (the other one of the two is said ignored: an early-stopped run's --epochs 8 went unsaid)
               and k != finished and k not in inert]
    # (a finished run's --stop-after pauses nothing: unsaid, it read as taken; hostile trial)
    pause = [f"--stop-after {cfg.stop_after}"] if finished and cfg.stop_after else []
    if not changed and not pause:
        return None
    # (None: an option left at its default of none, "(last.pt: None)" said in Python's word; trial 115)
    show = lambda v: (",".join(map(str, v)) if isinstance(v, (list, tuple))  # noqa: E731
                      else "not set" if v is None else str(v))
    typed = cfg.typed or {}  # (a bool as the user typed it: --one-caption-per-video, not --no-per-caption)
    said = lambda keys: ", ".join(  # noqa: E731
        f"{typed.get(k) or options.as_option(k, now[k])} (last.pt: {options.as_option(k, was[k])})"
        if isinstance(now[k], bool)
        # (last.pt's value of another type, a hand-edited '2': said as it is, not as the 2 beside it; trial 122)
        else f"{options.flag(k)} {show(now[k])} (last.pt: "
             f"{repr(was[k]) if isinstance(was[k], str) and isinstance(now[k], (int, float)) else show(was[k])})"
        for k in keys)
    ignored = [k for k in changed if finished or k in RESUME_IGNORED]
    same = [k for k in changed if k not in ignored and k in RESUME_SAME_VOCABULARY]
    taken = [k for k in changed if k not in ignored and k not in same]
    why = ("the run has finished, so nothing uses them" if finished
           else "last.pt's optimiser and schedule keep its learning rates")
    unused = ", ".join([said(ignored)] * bool(ignored) + pause)
    return "warning: --resume: " + "; ".join(([f"ignored ({why}): {unused}"] if unused else [])
                                             + ([f"no effect (the vocabularies are last.pt's): {said(same)}"]
                                                if same else [])
                                             + ([f"taking effect: {said(taken)}"] if taken else []))


# a cosine schedule's factor at or below which a run is (nearly) finished: its learning rate in the last
# stretch of the decay (5% when done; 25%: the last third or so of its epochs without warmup)
NEARLY_DECAYED = 0.25


def saved_epochs(last: dict) -> int | None:
    """last.pt's --epochs: None before settings were saved, or where a hand-edited value is no whole number (the
    command's --epochs stands then: its '4' beside the --epochs 4 its refusal advised was a TypeError; trial 126)."""
    value = last.get("settings", {}).get("epochs")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def late_epochs(cfg: TrainConfig, last: dict, steps: int, step: int, lr: float) -> str | None:
    """The warning for a --resume whose larger --epochs extends a (nearly) finished cosine run, else None: the
    scheduler keeps its `step` count and takes this command's length (`lr_factor`), so the added epochs train at
    the end of the longer decay, not on a decay of their own (`lr`: the run's --lr, which last.pt keeps; `steps`:
    an epoch's). Unsaid, `--epochs 3` on a finished 2-epoch run trained epoch 3 from 29% of --lr down to 5%."""
    # (the length its last epoch trained under: a paused run ended at its epoch (`end_run_at`) records the
    # --epochs it ended at, not the longer schedule it was on)
    then = recorded_schedule(last)
    ends = saved_epochs(last) or then
    if cfg.schedule != "cosine" or ends is None or cfg.epochs <= ends:
        return None
    was = lr_factor(cfg, steps, then or ends)(step)
    if was > NEARLY_DECAYED:  # (early in its decay: the longer one is most of a schedule still)
        return None
    done, start = last["epoch"], last["epoch"] + 1
    added = f"epoch {start} trains" if start == cfg.epochs else f"epochs {start}-{cfg.epochs} train"
    return (f"warning: --epochs {cfg.epochs}: the run had trained {done} of its {ends} epochs (its learning rate "
            f"down to {was:.0%} of --lr {lr:g}) and its schedule keeps counting steps: {added} at the end of a "
            f"{cfg.epochs}-epoch cosine decay, from {lr_factor(cfg, steps)(step):.0%} of --lr down to 5%; for a full "
            f"{cfg.epochs}-epoch schedule, train a fresh run (--overwrite in place of --resume, or a new --out)")


# the settings an epoch's number of optimiser steps follows, besides the data and the processes (torchrun's)
STEP_SETTINGS = ("batch_size", "per_video", "per_caption")


def processes(n: int) -> str:
    return f"{n} process{'es' * (n != 1)}"


def resumed_world(last: dict, world: int) -> str | None:
    """What a --resume under another number of torchrun processes than last.pt's (its `world`) changes, in
    words: each process takes its share of every step's batches, so the run's batches differ from there on
    and it is not the run it would have been, unwarned before (hostile trial). None when the same, or when
    last.pt, written before s2vt recorded it, cannot say."""
    was = last.get("world")
    if was is None or was == world:
        return None
    return (f"trained on {processes(was)}, this run has {world}: its batches differ from here on; resume on "
            f"{processes(was)} (torchrun --nproc_per_node={was}) to continue it exactly")


def resumed_workers(cfg: TrainConfig, was: dict) -> tuple[TrainConfig, str | None]:
    """A --resume of a run streamed from shards, and the warning line where it cannot go on as the run would have:
    the shards are shared out among the DataLoader workers, whose batches interleave, so the records' order follows
    --workers. Not given, it is last.pt's (`was`, its settings); given otherwise, said (a plain --resume of a
    --workers 2 run read them on 0 and trained another model, unsaid; trial 90)."""
    then = was.get("workers")
    if then is None or max(then, 1) == max(cfg.workers, 1):  # (0 workers: the training process reads, as one)
        return cfg, None
    if cfg.given is not None and "workers" not in cfg.given:
        return options.replace(cfg, workers=then), None
    return cfg, (f"warning: --resume: the run read its shards with --workers {then}, this one with {cfg.workers}: "
                 f"the records' order differs from here on; pass --workers {then} to continue it exactly")


# last.pt's training state as a --resume reads it: each part's types, and what they are called (a hand-edited
# last.pt's settings 5, or epoch 'x', was a traceback; new-user trial 45)
STATE_TYPES = {"settings": (dict, "an object of settings"), "epoch": (int, "a whole number"),
               "bad_epochs": (int, "a whole number"), "world": (int, "a whole number"),
               "best": ((int, float), "a number"), "first_loss": ((int, float, type(None)), "a number"),
               "history": (list, "a list of epoch rows")}


def read_last(path: Path, device) -> dict:
    """A --resume's last.pt; a damaged one's refusal says what is left to do (it said only "cut short or corrupt";
    trial 78), as does one whose training state is not of its types (STATE_TYPES)."""
    try:
        last = read_checkpoint(path, device)
        for key, (kind, said) in STATE_TYPES.items():
            value = last.get(key)
            if key in last and (not isinstance(value, kind) or isinstance(value, bool)
                                or key == "history" and not all(isinstance(h, dict) for h in value)):
                raise CheckpointError(f"{path}: its {key!r} is {value!r:.60}, not {said}")
        return last
    except CheckpointError as e:
        kept = " (copy best.pt elsewhere first to keep the best epoch so far)" if (path.parent / "best.pt").is_file() \
            else ""
        raise CheckpointError(f"{e}; this run cannot be resumed: --overwrite in place of --resume starts it "
                              f"again{kept}") from None


def same_steps(last: dict, steps: int, cfg: TrainConfig, out: Path, world: int = 1) -> None:
    """RunFolderError when a --resume's epochs would be `steps` optimiser steps and the run's were another
    number: the learning-rate schedule counts steps (`lr_factor`, over --epochs epochs of them), so a run
    resumed with --batch-size 16 instead of 64 ran its last epoch at the schedule's middle, never decayed,
    and the refit replayed a schedule it never trained on (hostile trial). (A last.pt from before the steps
    were recorded is not checked.)"""
    then = next((h["steps"] for h in reversed(last.get("history", [])) if "steps" in h), None)
    if then is None or then == steps:
        return
    was = last.get("settings", {})
    typed = cfg.typed or {}
    moved = [k for k in STEP_SETTINGS if k in was and options.value(cfg, k) != was[k]]
    if moved:
        now = {k: options.value(cfg, k) for k in moved}
        cause = ", ".join(f"{typed.get(k) or options.as_option(k, now[k])} (last.pt: {options.as_option(k, was[k])})"
                          if isinstance(now[k], bool) else f"{typed.get(k) or options.flag(k)} {now[k]} (last.pt: "
                          f"{was[k]})" for k in moved)
        fix = f"resume with {' '.join(options.as_option(k, was[k]) for k in moved)}"
    elif last.get("world", world) != world:
        cause, fix = f"trained on {processes(last['world'])}, this run has {world}", \
            f"resume on {processes(last['world'])} (torchrun --nproc_per_node={last['world']})"
    elif "world" not in last and world > 1:  # (a torchrun run paused by an s2vt that cut its batches otherwise)
        cause = "an older s2vt cut the batches of torchrun's processes otherwise, or the training videos changed"
        fix = "resume it with the s2vt that began it"
    else:
        cause = "the training videos or the number of processes changed"
        fix = "resume with the data and processes it began with"
    raise RunFolderError(f"{out}: --resume: an epoch would be {steps} optimiser steps, the run's were {then} "
                         f"({cause}): its learning-rate schedule counts steps, so {fix}, or pass --overwrite in place "
                         "of --resume to start over")


def tags_cause(was: dict, cfg: TrainConfig, streaming: bool) -> str:
    """What made a --resume's tags differ from last.pt's (`was`, its run_settings; {} in a last.pt from
    before they were saved), as check_resumable says it: the setting that changed and its value then,
    else the file the tags come from."""
    def moved(name: str) -> bool:  # (another spelling of the same file is not another file)
        then, now = was.get(name), options.value(cfg, name)
        return name in was and then != now and not (then and now and os.path.realpath(then) == os.path.realpath(now))
    if moved("vocabulary"):
        return (f"the run started with --vocabulary {shell_quote(was['vocabulary'])}: pass the same --vocabulary to "
                "resume it"
                if was["vocabulary"] else "the run started without --vocabulary (tags label0, label1, ...): leave "
                "--vocabulary out to resume it")
    if moved("manifest"):
        return (f"the run started with --manifest {shell_quote(was['manifest'])}: pass the same --manifest to resume it"
                if was["manifest"] else "the run started without --manifest: leave it out to resume the run")
    if "min_tag_count" in was and was["min_tag_count"] != cfg.min_tag_count:
        return f"the run started with --min-tag-count {was['min_tag_count']}: pass it to resume the run"
    if streaming and not cfg.manifest:  # (the tags are the vocabulary's names, in its order)
        return f"{cfg.vocabulary} changed since the run started" if cfg.vocabulary else "the tag vocabulary changed"
    return f"{cfg.manifest} changed since the run started" if cfg.manifest else "the manifest changed"


def vocabulary_cause(was: dict, cfg: TrainConfig, text: bool) -> str | None:
    """The settings of this --resume that built its caption vocabulary (`text`: its text vocabulary) otherwise than
    last.pt's (`was`, its run_settings), as check_resumable says them, with the values the run started with; None
    when none changed (the manifest did). "the manifest, --text-tokenizer, --text-min-count or --text-max-tokens
    changed" left the one typed to be found (trial 119)."""
    keys = [k for k in RESUME_SAME_VOCABULARY if k.startswith("text_") == text]  # (the text's, or the captions')
    moved = [k for k in keys if k in was and was[k] != options.value(cfg, k)]
    if not moved:
        return None
    then = " ".join(f"{options.flag(k)} {shell_quote(str(was[k]))}" for k in moved if was[k] is not None)
    without = " and ".join(options.flag(k) for k in moved if was[k] is None)  # (None: not set, no cap)
    started = " and ".join([f"with {then}"] * bool(then) + [f"without {without}"] * bool(without))
    advice = " and ".join([f"pass {then}"] * bool(then) + [f"leave out {without}"] * bool(without))
    return f"the run started {started}: {advice} to resume it"


def is_step_lr(state) -> bool:
    """Whether a last.pt's scheduler state is an older s2vt's StepLR (678a974), not today's LambdaLR."""
    return isinstance(state, dict) and "lr_lambdas" not in state and "step_size" in state


def step_lr_refusal(state, cfg: TrainConfig, path: Path, options_only: bool = False) -> str | None:
    """Why `cfg` cannot resume a last.pt whose scheduler `state` is an older s2vt's StepLR, else None: a StepLR
    other than today's --schedule step (halve every 10 epochs) continues under no --schedule; that one needs
    --schedule step. `options_only`: the first refusal alone, which no option answers."""
    if not is_step_lr(state):
        return None
    if (state["step_size"], state.get("gamma")) != (10, 0.5):
        return (f"{path}: its learning-rate schedule is a StepLR (step {state['step_size']}, gamma "
                f"{state.get('gamma')}) that no --schedule continues: pass --overwrite in place of --resume to "
                "train the run again")
    if cfg.schedule != "step" and not options_only:
        return (f"{path}: its learning-rate schedule is the StepLR of an older s2vt (halve every "
                f"{state['step_size']} epochs): pass --schedule step to resume it, or pass --overwrite in place of "
                "--resume to train the run again")
    return None


def load_training_state(optim: torch.optim.Optimizer, sched: torch.optim.lr_scheduler.LambdaLR, last: dict,
                        cfg: TrainConfig, steps: int, path: Path) -> None:
    """last.pt's optimiser and scheduler state loaded into `optim` and `sched` (a LambdaLR stepped once an
    optimiser step, `steps` of them an epoch). An older s2vt's StepLR (halve every 10 epochs, stepped once an
    epoch: 678a974) is today's --schedule step counted in steps; with another --schedule, or a state that does
    not fit, RunFolderError in one line (torch's KeyError: 'lr_lambdas' was a traceback; hostile trial)."""
    state = last["scheduler"]
    again = "or pass --overwrite in place of --resume to train the run again"
    if refusal := step_lr_refusal(state, cfg, path):
        raise RunFolderError(refusal)
    if is_step_lr(state):
        done = state["last_epoch"] * steps  # (the same halving, at the same epochs: step_size 10 epochs of steps)
        state = {**sched.state_dict(), "base_lrs": state["base_lrs"], "last_epoch": done, "_step_count": done + 1,
                 "_last_lr": state.get("_last_lr", state["base_lrs"])}
    try:
        optim.load_state_dict(last["optimizer"])
        if not isinstance(state, dict) or "lr_lambdas" not in state or len(
                state.get("base_lrs", ())) != len(optim.param_groups):
            raise ValueError("another scheduler's state")
        sched.load_state_dict(dict(state))
    except (KeyError, TypeError, ValueError):
        raise RunFolderError(f"{path}: its optimiser or learning-rate schedule state does not fit the model this "
                             f"s2vt builds (written by another version?): resume it with the s2vt that wrote it, "
                             f"{again}") from None
