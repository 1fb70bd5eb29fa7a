"""Training settings (`TrainConfig`), each declared once: `s2vt train` / train.py's options are
generated from its fields (s2vt/options.py) and those of its `model` (s2vt/model.py ModelConfig), and the recipes that fill the ones left None."""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from .device import DEFAULT_DEVICE, DEVICE_HELP
from .errors import SettingError, shell_quote
from .fileio import RUN_OUTPUTS, refuse_unusable_paths
from .options import MAX_BATCH, check_choices, derived, flag, make, one_of, setting

from .model import RECIPE_DEFAULT, ModelConfig
from .shards import is_shards
from .text import TOKENIZERS


class ConfigError(SettingError):
    """A training setting out of range; one line for the user."""


# settings whose default depends on the data (docs/usage.md "Training"): a TrainConfig field left
# None takes the caption recipe's value when the training split has captions, else the LIC2022
# levels' when its tags are level1:/level2:/tag: names, else the tag-only one's
RECIPES = {"captions": {"epochs": 4, "batch_size": 64, "lr": 1e-3,
                        # both LSTM layers 1,024 wide: val METEOR +0.005 and CIDEr-D +0.03 to +0.05 on seeds 0
                        # and 1, at 3x the training time (docs/benchmarks.md "Scheduled sampling and a 1,024-wide
                        # decoder")
                        "hidden": 1024, "tag_head": "mlp",
                        "tag_input": "encoder", "tag_ensemble": 1, "feature_dropout": 0.0,
                        # the refit on train + val for the epoch early stopping chose: CIDEr-D +0.10 / +0.05
                        # on clips held out of the choice, seeds 0 and 1 (docs/benchmarks.md "Refitting the
                        # caption recipe on train + val")
                        "refit": True,
                        # the reference model's: above 0.5 and smoothing 0.1 on val METEOR and CIDEr-D,
                        # seeds 0 and 1 (docs/benchmarks.md "Dropout 0.3 without label smoothing")
                        "dropout": 0.3, "label_smoothing": 0.0,
                        # each caption's loss weighed by its agreement with its video's other captions: val METEOR
                        # and CIDEr-D up on seeds 0 and 1 (docs/benchmarks.md "Consensus-weighted captions")
                        "caption_weights": "consensus", "neighbours": False, "tag_focal": 0.0},
           # chosen on val GAP of the YouTube-8M shards, seeds 0 and 1 (README "Tags on YouTube-8M"): 4 MLPs
           # on the L2-normalised features, averaged (the earlier moe, hidden 1024, batch 256, lr 3e-3 on
           # the fused features scored below a plain MLP there)
           # + dropout 0.3 on those features and 20 epochs: val GAP@20 +0.012 on both seeds (docs/benchmarks.md
           # "Input dropout")
           "tags": {"epochs": 20, "batch_size": 64, "lr": 1e-3, "hidden": 2048, "tag_head": "mlp",
                    "tag_input": "features", "tag_ensemble": 4, "feature_dropout": 0.3,
                    # + the refit on train + val for the epoch early stopping chose: GAP@20 +0.009 on a
                    # shard held out of the choice, 4 seeds of 4 (docs/benchmarks.md "Refitting the
                    # tag-only default on train + val")
                    "refit": True, "dropout": 0.5, "label_smoothing": 0.1, "caption_weights": "none",
                    # + the training videos' tags blended in by feature similarity, k, power and share chosen on
                    # val: GAP@20 up on val and test, seeds 0 and 1 (docs/benchmarks.md "Tag neighbours")
                    "neighbours": True,
                    # + the negatives' BCE weighed by p ** 2: val GAP@20 of the blend up on seeds 0 and 1
                    # (docs/benchmarks.md "Focal negatives")
                    "tag_focal": 2.0},
           # LIC2022 level-1/level-2/topic-tag labels (docs/usage.md "Text"): tuned with these on kuairec val
           # (tags only: one item per video, so an epoch is few steps, 70 for 4,479 videos; early
           # stopping on lic_score ends the run where it stops improving)
           "levels": {"epochs": 30, "batch_size": 64, "lr": 1e-3, "hidden": 512, "tag_head": "mlp",
                      "tag_input": "fused", "tag_ensemble": 1, "feature_dropout": 0.0, "refit": False,
                      "dropout": 0.5, "label_smoothing": 0.1, "caption_weights": "none", "neighbours": False,
                      "tag_focal": 0.0}}


@dataclasses.dataclass
class TrainConfig:
    """Training settings, each declared once: `s2vt train` / train.py's options are generated from
    these fields (s2vt/options.py: help and allowed values from the field's metadata)."""
    manifest: str | None = setting(  # None: only with --features naming TFRecord shards (s2vt/shards.py)
        help="manifest JSONL (train/val splits); optional when --features names TFRecord shards")
    features: str | None = setting(  # None: text only (the manifest's text, no video modality)
        help="feature store folder (optional when the manifest has text: a text-only model), or YouTube-8M "
             "TFRecord shards to stream (a .tfrecord file, a quoted glob or a folder of them)")
    out: str = setting(help="run folder: best.pt, last.pt, metrics.csv, curves.png")
    modalities: list[str] | None = setting(None, "comma-separated subset (default: all in the store)")
    # the recipe for a real dataset (docs/usage.md "Training"): an epoch shows every (video, caption)
    # pair in batches of pairs from different videos, warmup then cosine decay per step
    epochs: int | None = setting(None, f"passes over every (video, caption) pair (default: {RECIPE_DEFAULT})", minimum=1)
    patience: int = setting(3, "validation checks (one per epoch) without improvement before stopping", minimum=1)
    batch_size: int | None = setting(None, f"(video, caption) pairs per step (default: {RECIPE_DEFAULT})",
                                     minimum=1, maximum=MAX_BATCH)
    # 1: a batch's 64 pairs come from ~64 videos; groups of 4 captions of a video (one encoding shared)
    # train faster but scored below it on val over 3 seeds (docs/benchmarks.md "Batches of 64 videos")
    per_video: int = setting(1, "captions of one video per batch group, sharing one encoder pass", minimum=1)
    per_caption: bool = setting(True, "an epoch shows every caption (--no-per-caption, or --one-caption-per-video: "
                                      "one random caption per video, the demo)")
    # lr 0 is allowed on purpose: a frozen model (the early-stopping test)
    lr: float | None = setting(None, f"peak learning rate (default: {RECIPE_DEFAULT}; 0 freezes every "
                                     "parameter but the text embeddings and the wide path, which train at --text-lr "
                                     "and --wide-lr)", within="[0, inf)")
    warmup: int = setting(200, "optimiser steps of linear warmup (at most one epoch; --schedule cosine only)",
                          minimum=0)
    schedule: str = setting("cosine", "cosine: decay to 5% of --lr by the last epoch; step: halve every 10 epochs",
                            ("cosine", "step"))
    # the architecture: --hidden, --embed, --fusion, --dropout, --enc-len, --context, --attention, ...
    # (declared in s2vt/model.py; the data-derived fields of ModelConfig are filled by engine.build)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    tag_weight: float = setting(1.0, "lambda of the tag loss", within="[0, inf)")
    label_smoothing: float | None = setting(None, f"(default: {RECIPE_DEFAULT})", within="[0, 1)")
    caption_weights: str | None = setting(None, "none: every caption of a video alike; consensus: each weighed by "
                                                "its CIDEr-D against the video's other captions (default: "
                                                f"{RECIPE_DEFAULT})", ("none", "consensus"))
    tag_focal: float | None = setting(None, "multi-label tags' BCE with each negative weighed by p ** this (an "
                                            "asymmetric focal loss: the many easy negatives count less; 0: "
                                            f"plain BCE; default: {RECIPE_DEFAULT})", within="[0, inf)")
    sample_prob: float = setting(0.0, "scheduled sampling probability", within="[0, 1]")
    clip_norm: float = setting(1.0, "gradient norm clipping", within="(0, inf)")
    min_count: int = setting(2, "rarer words become <unk>", minimum=1)
    text: bool = setting(True, "read the manifest's text (title, ASR, OCR) when it has any")
    text_tokenizer: str = setting("char", "char: character 1-3-grams; word: jieba words (README \"Text\")",
                                  TOKENIZERS)
    text_min_count: int = setting(2, "tokens on fewer training videos are dropped", minimum=1)
    text_max_tokens: int | None = setting(None, "keep only this many tokens, those on the most training videos "
                                                "(default: every one --text-min-count keeps; the wide and fitted "
                                                "paths are [tokens, labels] tables: usage.md, \"Text\")", minimum=1)
    text_lr: float = setting(0.05, "learning rate of the token embeddings (few updates each: higher than --lr)",
                             within="[0, inf)")
    wide_lr: float = setting(0.01, "learning rate of the wide path (--text-wide)", within="[0, inf)")
    # C=0.3: LinearSVC's best on kuairec val and 5-fold CV (docs/benchmarks.md)
    linear_c: float = setting(0.3, "C of the fitted linear classifier (--text-linear): higher fits the training "
                                   "videos closer", within="(0, inf)")
    linear_steps: int = setting(200, "L-BFGS iterations (at most) of each label kind's linear classifier fit",
                                minimum=1)
    linear_refit: bool = setting(True, "fit the linear classifiers (--text-linear) again on train + val once their "
                                       "mixing weights are chosen on val (val's metrics are then those before)")
    # None: the recipe's (on for captions and tag-only data; LIC2022 levels were not measured with it)
    refit: bool | None = setting(None, "once early stopping has chosen the epoch on val, train the network again "
                                       "from scratch on train + val for that many epochs and keep those weights in "
                                       "best.pt (val's metrics are then those before; default: "
                                       f"{RECIPE_DEFAULT}: on for captions and for tags alone)")
    neighbours: bool | None = setting(None, "multi-label tags over video features: blend in the tags of each video's "
                                            "most similar training videos, how many and how much chosen on val; "
                                            "best.pt keeps the train + val videos' features and tags (default: "
                                            f"{RECIPE_DEFAULT}: on for tags alone)")
    min_tag_count: int = setting(3, "LIC2022 topic tags on fewer training videos are left out of the label set",
                                 minimum=1)
    # (each epoch seeds torch with seed * 1000 + epoch, which must stay in torch.manual_seed's range,
    # -2**63 .. 2**64-1: beyond it a traceback; trials 78, 79)
    seed: int = setting(0, minimum=-2 ** 53, maximum=2 ** 53)
    resume: bool = setting(False, "continue from OUT/last.pt (an empty or new OUT starts a new run, with a note)")
    overwrite: bool = setting(False, f"start a new run in an OUT that holds one ({one_of(RUN_OUTPUTS)}), "
                                     "each old file replaced as its new one is written; without --overwrite or "
                                     "--resume such an OUT is refused")
    skip_missing: bool = setting(False, "drop videos without features (with a warning)")
    learn_missing: bool = setting(False, "train on videos that lack some feature files, the model's missing vector "
                                         "standing in for them and learnt (as evaluate predicts such videos)")
    metric: str = setting("auto", "validation metric for early stopping (auto: CIDEr with captions, else lic_score "
                                  "for LIC2022 levels, gap for multi-label tags, tag_acc for single-label)",
                          ("auto", "CIDEr", "tag_acc", "gap", "lic_score"))
    device: str = setting(DEFAULT_DEVICE, DEVICE_HELP)
    # (a pause: the benches and tests use it too; its own help, since the pause line names it to the user)
    stop_after: int | None = setting(None, "pause after this epoch (before --epochs): last.pt kept, --resume "
                                           "without it trains on", minimum=1)
    quiet: bool = setting(False, "no progress lines on stderr (warnings are still said)")
    # training from TFRecord shards (--features SHARDS, s2vt/shards.py)
    val_features: str | None = setting(None, "validation TFRecord shards, read fully (with shards and no "
                                              "--manifest: required)")
    vocabulary: str | None = setting(None, "YouTube-8M vocabulary.csv: tag names of the shards' label ids "
                                           "(default: label<id>)")
    # raw record bytes: ~5 KB video-level, ~350 KB frame-level
    shuffle_buffer: int = setting(2048, "records each shard reader shuffles among", minimum=1)
    workers: int = setting(0, "DataLoader worker processes reading the shards (0: the training process)", minimum=0)
    # the settings the user gave (the command line's options, `of`'s names); a --resume takes the run's own
    # (last.pt's) for the others: None, every setting counts as given
    given: tuple[str, ...] | None = derived(None)
    # {setting: the option string the command line gave it by} (options.typed): warnings name it as typed
    typed: dict[str, str] | None = derived(None)

    @classmethod
    def of(cls, *args, **settings) -> "TrainConfig":
        """Built from flat setting names, as the options name them (`hidden=16` sets `.model.hidden`); those
        named, and the positional ones, are the settings given."""
        named = (*(f.name for f in dataclasses.fields(cls)[:len(args)]), *settings)
        return make(cls, *args, **{"given": named, **settings})

    def __post_init__(self) -> None:
        """Refuse settings out of range now, not after the data is read or an epoch is trained."""
        check_choices(self)  # (numbers: the fields' `minimum` and `within`)
        if self.modalities == []:  # (`--modalities ''`, an empty variable: the default, every one; as [] a resume
            # said "taking effect: --modalities  (last.pt: not set)" and changed nothing, trial 119)
            self.modalities = None
        refuse_unusable_paths({flag(name): getattr(self, name)
                            for name in ("manifest", "features", "out", "val_features", "vocabulary")}, ConfigError)
        if self.resume and self.overwrite:
            raise ConfigError("--resume continues the run in --out, --overwrite replaces it: pass one of them")
        if not self.per_caption and self.per_video != 1:  # (it did nothing, silently: the sampler takes 1)
            raise ConfigError(f"--per-video {self.per_video} groups captions of one video, and "
                              "--one-caption-per-video (--no-per-caption) shows one caption per video: pass one of them")
        if (not self.per_caption and self.caption_weights == "consensus"
                and "caption_weights" in (self.given or ())):  # (the user's: the recipe's is simply idle there)
            raise ConfigError("--caption-weights consensus weighs the captions of a video against each other, and "
                              "--one-caption-per-video (--no-per-caption) shows one caption per video, drawn at "
                              "random: pass one of them")
        if self.resume and not (self.features and self.manifest is not None):  # (a data path left out: a
            # partial one was told the problem of a new run without it, "no text to train on without --features")
            was = recorded_data(self.out)
            # (a --vocabulary or --val-features left out is told by its own refusal: the tags it names)
            if (not self.features and self.manifest is None) or any(not getattr(self, k) for k in was or ()
                                                                    if k in ("features", "manifest")):
                raise ConfigError(resume_needs_data(self.out, was))
        if not is_shards(self.features) and (self.manifest is None or self.val_features or self.vocabulary):
            if self.features and not Path(self.features).exists():  # (a typo, not a store where shards belong)
                raise ConfigError(f"{self.features}: no such file or folder (--features: a feature store, or "
                                  "TFRecord shards)")
            # (named: only what this command gave or left out, and what its --features is instead; hostile trial)
            shards_are = "TFRecord shards (a .tfrecord file, a glob or a folder of them)"
            named = (f"--features {self.features} names " + ("a feature store" if Path(self.features).is_dir()
                                                            else "a file")) if self.features else ""
            wants = [flag(k) for k in ("val_features", "vocabulary") if getattr(self, k)]
            need = f"{' and '.join(wants)} need{'s' if len(wants) == 1 else ''}"
            if self.manifest is None:
                raise ConfigError("--manifest is required: " + (f"{named}, not {shards_are}" if named else
                                                                f"no --features names {shards_are}")
                                  + ", which alone train without one" + (f"; {need} such shards too" if wants else ""))
            raise ConfigError(f"{need} --features to name {shards_are}" + (f": {named}" if named else ""))


# the data a run trains on: a --resume passes them again (they stay the command's, resume.RESUME_UNREPORTED)
DATA_PATHS = ("features", "val_features", "manifest", "vocabulary")


def recorded_data(out: str) -> dict | None:
    """{setting: path} of the data paths OUT/last.pt records the run started with; None where no last.pt
    can be read (a --resume into a new folder starts a new run)."""
    last = Path(out) / "last.pt"
    if not last.is_file():  # (a pipe there would hold torch.load; build refuses it in one line)
        return None
    from .checkpoint import read_checkpoint  # (read as every command reads one: its one home)
    try:
        was = read_checkpoint(last).get("settings", {})
    except Exception:  # (not a checkpoint, or not one read_checkpoint can vet: build's read says so)
        return None
    return {k: was[k] for k in DATA_PATHS if was.get(k)}


def other_data(cfg: "TrainConfig", was: dict, streaming: bool = False) -> dict:
    """{setting: recorded path} of the data paths this --resume gives that are not those `was` (last.pt's
    "settings") records, where both name a path that exists here (a recorded path is as typed where the run
    started: from another folder it may name nothing, or another file, so the caller says it as typed).
    `streaming`: the features are TFRecord shards, matched by their names, not their paths (s2vt/shards.py)."""
    differ = {}
    for k in DATA_PATHS if not streaming else ("manifest", "vocabulary"):
        now, then = getattr(cfg, k, None), was.get(k)
        if not now or not then or str(now) == str(then):
            continue
        try:
            if os.path.exists(now) and os.path.exists(then) and not os.path.samefile(now, then):
                differ[k] = then
        except OSError:  # (unreadable: nothing to say about it)
            continue
    return differ


def resume_needs_data(out: str, was: dict | None) -> str:
    """The refusal of a --resume given not every data path its run started with: what it needs, named
    from `was`, OUT/last.pt's record of them (recorded_data), where it could be read."""
    line = "--resume needs the same --features (and --manifest, if any) the run started with"
    given = [f"{flag(k)} {shell_quote(str(v))}" for k, v in (was or {}).items()]
    # (recorded as typed where the run started: from another folder they name nothing; hostile trial)
    elsewhere = any(not os.path.isabs(str(v)) and not os.path.exists(str(v)) for v in (was or {}).values())
    where = ", relative to the folder the run started in" if elsewhere else ""
    return line + (f": pass {' '.join(given)} (as {Path(out) / 'last.pt'} records{where})" if given else "")
