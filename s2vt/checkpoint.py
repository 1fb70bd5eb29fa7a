"""Checkpoint files: the format, writing (atomic) and reading (`weights_only=True`), and the
checks that a checkpoint's parts agree (config <-> vocabulary <-> tag names <-> weights), each a
one-line CheckpointError. Training writes them (engine.py, finish.py); evaluate, caption.py and serve read them."""
from __future__ import annotations

import dataclasses
import functools
import os
from pathlib import Path

import torch

from .errors import UserError
from .manifest import dash_refusal
from .fileio import atomic_write_all, is_checkpoint_file, not_a_file  # noqa: F401 (checkpoint.is_checkpoint_file)
from .options import as_option, settings

from .data import Labels
from .device import on_meta
from .model import MAX_CAPTION_WORDS, ModelConfig, S2VT
from .text import TOKENIZERS, TextVocab
from .consensus import CaptionMemory, ConsensusError
from .neighbours import NeighboursError, TagNeighbours
from .vocab import SPECIALS, Vocab

# "has_captions" came within format 1: a checkpoint without it is read as `has_captions` says
CHECKPOINT_FORMAT = "s2vt-checkpoint-1"

# the steps that end a run after its last epoch (s2vt/finish.py), in their order: best.pt's "unfinished" lists
# those still to do (each step takes itself off as it writes best.pt), for evaluate, caption.py and serve to say
# that the model is not yet the run's finished one (a Ctrl-C during the linear fit left a best.pt scoring level-1
# 0.28 where the finished one scored 0.51, unsaid; new-user trial)
LAST_STEPS = {"fit": "the linear path's fit", "neighbours": "the tag neighbours",
              "refit": "the refit on train + val", "memory": "the caption memory"}


def steps_left(ckpt: dict, done: str | None = None) -> list[str]:
    """best.pt's "unfinished" steps (LAST_STEPS keys), less `done` (the step writing it now)."""
    left = ckpt.get("unfinished")
    return [s for s in left if s != done and s in LAST_STEPS] if isinstance(left, list) else []


def save_checkpoint(path: Path, model: S2VT, vocab: Vocab, labels: Labels, meta: dict, epoch: int,
                    metrics: dict, extra: dict | None = None, *, has_captions: bool) -> None:
    """The checkpoint (docs/design.md; loadable with weights_only=True), written atomically;
    `has_captions`: the model was trained on captions, so its decoder's answers mean something."""
    write_checkpoint(path, checkpoint_of(model, vocab, labels, meta, epoch, metrics, extra, has_captions=has_captions))


def checkpoint_of(model: S2VT, vocab: Vocab, labels: Labels, meta: dict, epoch: int, metrics: dict,
                  extra: dict | None = None, *, has_captions: bool) -> dict:
    """The checkpoint dict `save_checkpoint` writes."""
    return {"format": CHECKPOINT_FORMAT, "model": model.state_dict(), "config": dataclasses.asdict(model.cfg),
            "vocab": vocab.itos, "labels": labels.names, "extract": meta, "epoch": epoch, "has_captions": has_captions,
            "metrics": {k: v for k, v in metrics.items() if isinstance(v, (int, float))}, **(extra or {})}


def write_checkpoint(path: Path, ckpt: dict) -> None:
    """A checkpoint dict (save_checkpoint's, or read_checkpoint's with a part added) to `path`, atomically."""
    write_checkpoints([(path, lambda: ckpt)])


def write_checkpoints(parts) -> None:
    """Each (path, make) of `parts` (make: a function giving its checkpoint dict) written, all or none
    (`atomic_write_all`); each made and written in turn, straight into its temp file (serialised in memory first,
    a 30k-video LIC2022 last.pt's 10.6 GB were held twice: docs/benchmarks.md)."""
    atomic_write_all((path, functools.partial(save_into, make)) for path, make in parts)


def save_into(make, f) -> None:
    """torch.save of `make()` into the open file `f`. Its writer turns what a write raises (a full disk's OSError,
    Ctrl-C's KeyboardInterrupt, a SIGTERM) into a RuntimeError that names no cause: that is raised in its place,
    for `atomic_write_all` and the interrupted line to say."""
    failed = []

    class Sink:
        def write(self, data):
            try:
                return f.write(data)
            except BaseException as e:
                failed.append(e)
                raise

        def flush(self):
            f.flush()
    try:
        torch.save(make(), Sink())
    except RuntimeError:
        if failed:
            raise failed[0] from None
        raise


class CheckpointError(UserError):
    """A checkpoint file that is missing, corrupt or not ours; one line for the user."""


class DataMismatch(CheckpointError):
    """A --resume whose data (vocabulary, text vocabulary, tags) is not its last.pt's: what the data decides,
    unlike a setting's difference, so other data paths than the run's are the likelier cause."""


def read_checkpoint(path: str | os.PathLike, device: str | torch.device = "cpu") -> dict:
    """The checkpoint dict of a best.pt / last.pt (CheckpointError if it is not one)."""
    name, path = os.fspath(path), Path(path)  # (named as given: Path('./-') is '-', which reads as stdin)
    if dash := dash_refusal(name):  # (even beside a file '-': './-' names that)
        raise CheckpointError(dash)
    if path.is_dir():  # (most likely a run folder: its model is best.pt)
        hint = f": pass {os.path.join(name, 'best.pt')}" if (path / "best.pt").is_file() else ""
        raise CheckpointError(f"{name}: a folder, not a checkpoint file{hint}")
    if not path.is_file():
        # (a pipe, a device, a dangling link: named, not "not found"; a pipe is never opened, it would wait)
        if (what := not_a_file(path)) is not None:
            raise CheckpointError(f"{name}: {what}, not a checkpoint file")
        # (quoted where spaces begin or end it: `--checkpoint "best.pt "` shows them)
        raise CheckpointError(f"{repr(name) if name != name.strip() else name}: checkpoint not found")
    if torch.device(device).type == "cpu":  # (a map_location of "cpu:0" fails on every checkpoint)
        device = "cpu"
    try:
        try:
            os.fspath(path).encode("utf-8")
        except UnicodeEncodeError:  # (a name that is not UTF-8: torch's reader takes a UTF-8 name, so the file is
            # read through Python's, without mmap; "a zip archive but not a PyTorch checkpoint" was said, trial 121)
            with open(path, "rb") as f:
                ckpt = torch.load(f, map_location=device, weights_only=True)
        else:
            ckpt = torch.load(path, map_location=device, weights_only=True, mmap=True)
    except Exception as e:
        raise CheckpointError(f"{name}: {unreadable(path, e)}") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{name}: not an s2vt checkpoint")
    check_parts(ckpt, name)
    return ckpt


# how every pickle torch.save wrote before PyTorch 1.6 made its files zip archives begins (its magic number)
LEGACY_TORCH = b"\x80\x02\x8a\n"


def unreadable(path: Path, e: Exception) -> str:
    """What is wrong with a checkpoint file torch.load failed on (`e`), in plain words: torch's own errors
    (a RuntimeError whose text speaks of mmap, miniz or a central directory) said nothing a user could act
    on, and its type alone (`not a readable checkpoint (RuntimeError)`) still less."""
    import pickle

    try:  # (torch's own OSError, EINVAL for some files cut short, is no read error: the file tells)
        with open(path, "rb") as f:
            head = f.read(4)
        whole = is_checkpoint_file(path)
    except OSError as err:
        return f"cannot read the checkpoint: {err.strerror or err}"
    if not head:
        return "empty file (0 bytes), not a checkpoint"
    if head.startswith(b"PK\x03\x04") and not whole:  # (a zip's start, no end: cut short)
        return "checkpoint file cut short or corrupt (a zip archive without its end: an interrupted copy or save?)"
    if head == LEGACY_TORCH:
        return "a PyTorch file in the legacy format (before 1.6, not a zip archive): not an s2vt checkpoint"
    if not whole:
        return "not a PyTorch checkpoint (not a zip archive)"
    if isinstance(e, pickle.UnpicklingError):  # (weights_only: objects beyond tensors and plain data)
        return "not an s2vt checkpoint: it holds Python objects other than tensors and plain data (not loaded: " \
               "loading them could run code)"
    if is_content_error(e):
        return "a zip archive but not a PyTorch checkpoint"
    # (a device or memory that failed the load, not the file: said as torch said it, never as a corrupt file)
    said = next((line.strip() for line in str(e).splitlines() if line.strip()), "")
    return f"cannot load it, not a fault of the file: {type(e).__name__}" + (f": {said}" if said else "")


# what torch.load raises for a zip archive whose content is not a PyTorch checkpoint: its zip reader's errors
# (no data.pkl, files outside its folder, a record it cannot read) and a pickle's bytes that are not one
ZIP_READER = ("PytorchStreamReader", "inline_container", "archive")


def is_content_error(e: Exception) -> bool:
    """Whether torch.load's `e` comes from the file's content (the rest, e.g. an unknown map_location or
    CUDA out of memory, is no fault of the file)."""
    if isinstance(e, (EOFError, UnicodeDecodeError, KeyError, IndexError, TypeError, ValueError)):
        return True
    return type(e) is RuntimeError and any(word in str(e) for word in ZIP_READER)


def is_strings(x) -> bool:
    return isinstance(x, list) and all(isinstance(t, str) for t in x)


def check_parts(ckpt: dict, path: str | os.PathLike) -> None:
    """Refuse a checkpoint whose parts disagree: model config, vocabulary, tag names (the weights
    are checked against the config when the model is built, `load_weights`)."""
    config = ckpt.get("config")
    if not isinstance(config, dict):
        raise CheckpointError(f"{path}: the checkpoint has no model config")
    try:
        cfg = ModelConfig.former(**config)
    except TypeError as e:
        raise CheckpointError(f"{path}: bad model config ({e})") from None
    if not (isinstance(cfg.modalities, dict) and (cfg.modalities or cfg.text_vocab)
            and all(isinstance(d, int) and d > 0 for d in cfg.modalities.values())):
        raise CheckpointError(f"{path}: bad model config (modalities {cfg.modalities!r})")
    whole = lambda v, low: isinstance(v, int) and not isinstance(v, bool) and v >= low  # noqa: E731
    rules = {"hidden": whole(cfg.hidden, 1), "embed": whole(cfg.embed, 1), "enc_len": whole(cfg.enc_len, 1),
             # (decoding reads it: 'x' was a TypeError traceback, 0 wrote captions of -inf beams; trial 110)
             "max_len": whole(cfg.max_len, 1) and cfg.max_len <= MAX_CAPTION_WORDS,
             "vocab_size": whole(cfg.vocab_size, len(SPECIALS)), "num_tags": whole(cfg.num_tags, 0),
             # (the bound only where vocab_size is a number: 'x' there was a TypeError traceback; trial 102)
             "pad_id": whole(cfg.pad_id, 0) and (not whole(cfg.vocab_size, 0) or cfg.pad_id < cfg.vocab_size),
             "multilabel": isinstance(cfg.multilabel, bool),
             "tag_threshold": isinstance(cfg.tag_threshold, (int, float)) and 0 <= cfg.tag_threshold <= 1,
             "dropout": isinstance(cfg.dropout, (int, float)) and 0 <= cfg.dropout < 1,
             "attention": isinstance(cfg.attention, bool), "log_features": isinstance(cfg.log_features, bool),
             "lstm": isinstance(cfg.lstm, bool)}
    bad = [k for k, ok in rules.items() if not ok]
    if bad:
        raise CheckpointError(f"{path}: bad model config ({bad[0]}={getattr(cfg, bad[0])!r})")
    if not isinstance(ckpt.get("model"), dict):
        raise CheckpointError(f"{path}: the checkpoint has no model weights")
    vocab, labels = ckpt.get("vocab"), ckpt.get("labels")
    if not is_strings(vocab) or tuple(vocab[:len(SPECIALS)]) != SPECIALS:
        raise CheckpointError(f"{path}: the checkpoint has no vocabulary starting with {', '.join(SPECIALS)}")
    if len(vocab) != cfg.vocab_size:
        raise CheckpointError(f"{path}: the vocabulary has {len(vocab)} words, the config says "
                              f"vocab_size={cfg.vocab_size}")
    if not is_strings(labels) or len(labels) != cfg.num_tags:
        count = f"{len(labels)} tag names" if is_strings(labels) else "no list of tag names"
        raise CheckpointError(f"{path}: {count}, the config says num_tags={cfg.num_tags}")
    # (a word twice decoded each of its ids as the one word, a caption read "a green square a down"; trial 78)
    # (a special twice is an older s2vt's vocabulary of captions that wrote "<unk>": it loads as it did)
    for what, names in (("vocabulary", [w for w in vocab[len(SPECIALS):] if w not in SPECIALS]), ("tag names", labels)):
        if len(set(names)) != len(names):
            seen: set = set()
            twice = next(n for n in names if n in seen or seen.add(n))
            raise CheckpointError(f"{path}: the {what} hold{'s' * (what == 'vocabulary')} {twice!r} twice: a damaged "
                                  "or hand-edited checkpoint")
    if not isinstance(ckpt.get("has_captions", False), bool):
        raise CheckpointError(f"{path}: bad has_captions ({ckpt['has_captions']!r}, not true or false)")
    if ckpt.get("has_captions") and len(vocab) == len(SPECIALS):
        raise CheckpointError(f"{path}: has_captions is true but the vocabulary has no words")
    if not isinstance(ckpt.get("extract", {}), dict):
        raise CheckpointError(f"{path}: bad extraction settings ('extract' is not a mapping)")
    text = ckpt.get("text_vocab")
    if cfg.text_vocab and not (isinstance(text, dict) and text.get("tokenizer") in TOKENIZERS
                               and is_strings(text.get("tokens")) and len(text["tokens"]) == cfg.text_vocab
                               and isinstance(text.get("idf"), list) and len(text["idf"]) == cfg.text_vocab):
        raise CheckpointError(f"{path}: the config says text_vocab={cfg.text_vocab}, the checkpoint has no "
                              "text vocabulary of that size")


def has_captions(ckpt: dict) -> bool:
    """Whether a checkpoint's model was trained on captions (decode them) or on tags alone; a
    checkpoint from before this was recorded: whether its vocabulary has words."""
    return ckpt.get("has_captions", Vocab(ckpt["vocab"]).has_words)


def text_vocab_of(ckpt: dict) -> TextVocab | None:
    """The text vocabulary (and tokeniser) a checkpoint was trained with; None without text."""
    return TextVocab.from_state(ckpt["text_vocab"]) if ckpt["config"].get("text_vocab") else None


def load_weights(model: S2VT, state: dict, name: str | os.PathLike, assign: bool = False) -> None:
    """`model.load_state_dict(state, assign=assign)`, but a state dict that does not fit the
    model's config is a CheckpointError naming the first parameter that differs."""
    cfg = model.cfg
    built = (f"hidden={cfg.hidden}, embed={cfg.embed}, vocab_size={cfg.vocab_size}, num_tags={cfg.num_tags}, "
             f"fusion={cfg.fusion}, modalities " + ",".join(f"{m}:{d}" for m, d in cfg.modalities.items()))
    expected = model.state_dict()
    shape = lambda t: "x".join(map(str, t.shape)) if torch.is_tensor(t) else type(t).__name__  # noqa: E731
    for key, want in expected.items():
        if key not in state:
            raise CheckpointError(f"{name}: the weights lack {key}, which the config ({built}) has")
        if not torch.is_tensor(state[key]) or state[key].shape != want.shape:
            raise CheckpointError(f"{name}: weight {key} is {shape(state[key])}, the config ({built}) "
                                  f"makes it {shape(want)}")
        if state[key].is_floating_point() and not torch.isfinite(state[key]).all():
            raise CheckpointError(f"{name}: weight {key} holds NaN or infinite values")
    extra = [k for k in state if k not in expected]
    if extra:
        raise CheckpointError(f"{name}: weight {extra[0]} is not in the model the config ({built}) describes")
    model.load_state_dict(state, assign=assign)


def model_from_checkpoint(ckpt: dict, device: str | torch.device = "cpu",
                          name: str | os.PathLike = "checkpoint") -> tuple[S2VT, Vocab, Labels]:
    """(model in eval mode, vocab, labels) of a checkpoint dict from `read_checkpoint`; `name` (its
    path) starts the error line if its weights do not fit its config."""
    try:
        # built on the meta device (no random init) and given the checkpoint's tensors: no draw
        # from torch's global RNG, which seeded random backbones built meanwhile in other
        # threads (caption.py) are using, so their weights do not depend on thread timing
        with on_meta():
            model = S2VT(ModelConfig.former(**ckpt["config"]))
    except (TypeError, ValueError, RuntimeError) as e:  # e.g. an unknown fusion, a size torch refuses
        raise CheckpointError(f"{name}: bad model config ({e})") from None
    load_weights(model, ckpt["model"], name, assign=True)
    vocab = Vocab(ckpt["vocab"])
    model.memory = memory_of(ckpt, vocab, name)
    model.neighbours = neighbours_of(ckpt, model, name)
    if model.neighbours is not None:
        model.neighbours.to(device)
    return model.to(device).eval(), vocab, Labels(list(ckpt["labels"]), model.cfg.multilabel)


def memory_of(ckpt: dict, vocab: Vocab, name: str | os.PathLike = "checkpoint") -> CaptionMemory | None:
    """The caption memory of consensus reranking that training wrote into best.pt (None in a checkpoint
    without one: one written before it existed, a tag-only one, a last.pt)."""
    state = ckpt.get("memory")
    if state is None:
        return None
    try:
        memory = CaptionMemory.from_state(state, vocab.eos)
    except ConsensusError as e:
        raise CheckpointError(f"{name}: {e}") from None
    hidden = ckpt["config"].get("hidden")
    if memory.keys.shape[1] != hidden or (
            memory.raw["captions"].numel() and int(memory.raw["captions"].max()) >= len(vocab)):
        raise CheckpointError(f"{name}: caption memory does not fit the model (hidden {hidden}, {len(vocab)} words)")
    return memory


def neighbours_of(ckpt: dict, model: S2VT, name: str | os.PathLike = "checkpoint") -> TagNeighbours | None:
    """The tag neighbours training wrote into best.pt (s2vt/neighbours.py); None in a checkpoint without
    them (written before them, a caption or text model, a last.pt) or whose val chose the network alone."""
    state = ckpt.get("neighbours")
    if state is None or (isinstance(state, dict) and "keys" not in state and "features" not in state
                         and state.get("mix") == 0):
        return None  # ({"mix": 0, ...}: val chose the network alone)
    if model.fusion is None or not model.cfg.multilabel or not model.cfg.num_tags:
        raise CheckpointError(f"{name}: tag neighbours in a model without multi-label tags over video features")
    try:
        if not isinstance(state, dict):
            raise NeighboursError(f"tag neighbours do not fit the model ({type(state).__name__}, not a table)")
        return TagNeighbours.from_state(state, model.cfg.num_tags, sum(model.cfg.modalities.values()),
                                        model.neighbour_layer())
    except NeighboursError as e:
        raise CheckpointError(f"{name}: {e}") from None


def load_checkpoint(path: str | os.PathLike, device: str | torch.device = "cpu"):
    """(model in eval mode, vocab, labels, checkpoint dict) from a best.pt / last.pt."""
    ckpt = read_checkpoint(path, device)
    return (*model_from_checkpoint(ckpt, device, path), ckpt)


# ModelConfig fields a resumed run need not share with its last.pt: dropout and max_len make no weights (this run's
# apply; a changed --max-len is said to take effect, as it was while it was a training setting), tag_threshold is
# chosen on val every epoch, and the vocabulary and tag sizes are compared below
# with a line naming what changed (lstm follows from them, tag_input and the modalities, each compared by
# name; engine.build keeps an older last.pt's LSTMs). Every other field shapes the weights: a field added later
# is compared by default, so a run with other architecture settings is refused with their names, not as a
# corrupt file.
RESUME_FREE = frozenset({"dropout", "max_len", "tag_threshold", "vocab_size", "num_tags", "pad_id", "text_vocab",
                         "lstm"})


def predated(config: dict, mcfg: ModelConfig) -> dict:
    """The architecture settings a last.pt's `config` lacks (it was written before they existed) whose
    value then (`ModelConfig.former`) differs from this run's: {name: that value}. Its weights were
    trained that way, so a resumed run takes them, as it takes last.pt's learning rates."""
    was = ModelConfig.former(**config)
    return {f.name: getattr(was, f.name) for f, _ in settings(ModelConfig)
            if f.name not in config and f.name not in RESUME_FREE and getattr(was, f.name) != getattr(mcfg, f.name)}


def acting(older: dict, mcfg: ModelConfig) -> dict:
    """Those of `predated`'s settings that act in `mcfg`'s model (as S2VT builds it): the text branch's need
    text, the paths from its tokens to the tags tags too (a caption run without text was warned that
    --text-linear did not exist yet: it has no text branch for the setting to shape; hostile trial)."""
    text, to_tags = ("text_embed", "text_fusion", "text_wide", "text_linear"), ("text_wide", "text_linear")
    return {k: v for k, v in older.items()
            if not (k in text and not mcfg.text_vocab) and not (k in to_tags and not mcfg.num_tags)}


# why a resumed run's text vocabulary can differ from its last.pt's
TEXT_CAUSE = "the manifest, --text-tokenizer, --text-min-count or --text-max-tokens changed"


def older_tokens(was: dict | None, now: dict | None) -> str | None:
    """Why a last.pt's text vocabulary differs when an older s2vt made its tokens (else None): char
    n-grams ran within words until they ran across spaces (text.tokenize), so a char vocabulary without
    a token holding a space, beside this run's with some, may be that tokeniser's."""
    if not (isinstance(was, dict) and now and was.get("tokenizer") == now.get("tokenizer") == "char"
            and isinstance(was.get("tokens"), list)):
        return None
    if any(" " in str(t) for t in was["tokens"]) or not any(" " in t for t in now["tokens"]):
        return None
    # (told by the tokens alone, so said beside the other causes: text that gained spaces looks the same)
    return (f"{TEXT_CAUSE}, or an older s2vt made its char tokens (n-grams within words; they now run across "
            "spaces too): pass --overwrite in place of --resume to train the run again")


def text_sizes(was: dict | None, now: dict | None) -> str:
    """' (N word tokens now, M char tokens there)': which way the text vocabularies differ (the four causes the
    refusal names did not say which; trial 116)."""
    def size(v) -> str:  # (a hand-edited last.pt's may lack either: said, not a KeyError; trial 117)
        if not isinstance(v, dict):
            return "no text"
        tokens = v.get("tokens")
        tokenizer = v.get("tokenizer") if isinstance(v.get("tokenizer"), str) else "?"
        return f"{len(tokens) - 1 if isinstance(tokens, list) and tokens else 0} {tokenizer} tokens"
    return f" ({size(now)} now, {size(was)} there)"


def text_cause(was: dict | None, now: dict | None, settings: str | None = None) -> str:
    """Why a resumed run's text vocabulary differs from last.pt's: text on one side alone is --no-text's (or a
    manifest's without text), not one of the four causes TEXT_CAUSE names (trial 117); `settings`: the text
    settings this run changed, as `resume.vocabulary_cause` says them (trial 119)."""
    if was and not now:
        return ("this run reads no text and the run trained on it: resume without --no-text, with the manifest the "
                "run started with")
    if now and not was:
        return "the run trained without text (--no-text, or a manifest without it): pass --no-text to resume it"
    return settings or older_tokens(was, now) or TEXT_CAUSE


def shown_modalities(dims: dict[str, int]) -> str:
    """A model's modalities as a user reads them, "rgb 2048 + c3d 4096" ("none": the text alone), not Python's
    "{'rgb': 2048}" (trials 117 and 120)."""
    return " + ".join(f"{m} {d}" for m, d in dims.items()) or "none"


def check_resumable(last: dict, mcfg: ModelConfig, vocab: Vocab, labels: Labels, path: Path,
                    text_vocab: dict | None = None, tags_cause: str = "the manifest changed",
                    resplit: bool = False, vocab_causes: tuple[str | None, str | None] = (None, None)) -> None:
    """Refuse to resume a last.pt whose model this run would build differently (other settings,
    modalities, vocabulary or tags): the data's difference, else every setting's in one line;
    `tags_cause`: what to say made the tags differ (resume.tags_cause); `resplit`: the validation
    videos are not last.pt's (the split changed: so did the training captions the vocabularies come from);
    `vocab_causes`: the settings that made the caption and the text vocabulary differ (`resume.vocabulary_cause`),
    None where none did."""
    missing = [k for k in ("optimizer", "scheduler", "best", "bad_epochs", "history") if k not in last]
    if missing:
        raise CheckpointError(f"--resume: {path} holds no training state ({', '.join(missing)}); is it a best.pt?")
    # the data first: another manifest changes the recipe too, and its settings would be named
    # before the real cause
    split = ("the manifest's split changed (its validation videos are not those of the run), and with it the "
             "training videos: pass the manifest (and --seed) the run started with")
    if last["vocab"] != vocab.itos:
        # (as many words, other ones: "25 words now, 25 there" said no difference; trial 122)
        sizes = (f"{len(vocab)} words now, {len(last['vocab'])} there" if len(vocab) != len(last["vocab"])
                 else f"as many words, {len(vocab)}, not all the same")
        raise DataMismatch(f"--resume: the vocabulary differs from {path}'s ({sizes}): "
                           + (split if resplit else vocab_causes[0] or "the manifest or --min-count changed"))
    if last.get("text_vocab") != text_vocab:
        raise DataMismatch(f"--resume: the text vocabulary differs from {path}'s"
                           f"{text_sizes(last.get('text_vocab'), text_vocab)}: "
                           + (split if resplit else text_cause(last.get("text_vocab"), text_vocab, vocab_causes[1])))
    # (as many tags: other names or another order, which "3862 now, 3862 there" said neither of)
    if last["labels"] != labels.names:
        raise DataMismatch(f"--resume: the tags differ from {path}'s ("
                              + (f"{len(labels.names)} now, {len(last['labels'])} there" if len(labels.names)
                                 != len(last["labels"]) else f"as many, {len(labels.names)}, in other names or order")
                              + f"): {tags_cause}")
    was = ModelConfig.former(**last["config"])
    options = {f.name for f, _ in settings(ModelConfig)}  # (the others come from the data: no option sets them)
    differ = [k for k in (f.name for f in dataclasses.fields(ModelConfig) if f.name not in RESUME_FREE)
              if getattr(was, k) != getattr(mcfg, k)]
    if differ:  # every difference in one line, and the options that give last.pt's model back
        fix = [as_option(k, getattr(was, k)) for k in differ if k in options]
        # (the store's dims, data; the option names them; none: the text alone, which no --modalities value gives:
        # "pass --modalities  to resume it" was said; trial 116)
        if "modalities" in differ and was.modalities:
            fix.append("--modalities " + ",".join(was.modalities))
        alone = "modalities" in differ and not was.modalities
        # (modalities as names and sizes: "modalities={} (this run: {'tsn': 16})" was Python's; trial 117)
        shown = lambda k, v: shown_modalities(v) if k == "modalities" else v  # noqa: E731
        # (and --modalities, which needs --features: leaving out --features alone was refused)
        advice = " and ".join([f"pass {' '.join(fix)}"] * bool(fix) + ["leave out --features (and any --modalities; "
                                                                       "it trained on the text alone)"] * alone)
        raise CheckpointError(f"--resume: {path} was trained with "
                              + ", ".join(f"{k}={shown(k, getattr(was, k))} (this run: {shown(k, getattr(mcfg, k))})"
                                          for k in differ)
                              + (f": {advice} to resume it" if advice else ""))
