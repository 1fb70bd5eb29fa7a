"""From a checkpoint to answers: batch prediction and `s2vt evaluate` (new video files: `s2vt.captioner`)."""
from __future__ import annotations

import collections
import contextlib
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from .device import pick_device
from .errors import UserError, counted, invoked_as, listed, one_line, printable, shell_join, shell_quote
from .fileio import (OutputError, atomic_write_all, check_writable, folder_path, json_bytes, make_dirs,
                     refuse_existing, refuse_linked_defaults, lock_path, refuse_long_names,
                     refuse_special_outputs, refuse_checkpoints, removed_if_failed, RUN_OUTPUTS, written_file)
from .locks import TRAIN_LOCK, busy_line, locked, training_run, writing_elsewhere
from .options import MAX_BATCH, at_least, at_most
from .store import META_KEYS, FeatureStore, StoreError, no_store_here, store_not_found
from .manifest import split_of

from .checkpoint import (LAST_STEPS, CheckpointError, has_captions, load_checkpoint, steps_left, read_checkpoint,
                         text_vocab_of)
from .data import GapStore, Labels, VideoDataset, batches, collate, to_device
from .decode import TAGS_SHOWN, DecodeConfig, decode, decode_config
from .levels import LEVEL_KEYS, kinds, level_prediction, level_scores, probabilities
from .metrics import CAPTION_KEYS, GAP_TOP_K, TAG_KEYS, TagTally, blind_cider, caption_scores, java_available
from .model import S2VT
from .results import KEPT_METRICS, KEPT_PREDS, metrics_file, refuse_inputs
from .text import FIELDS
from .vocab import Vocab, drop_blank_captions
from .yt8m import is_label_tag


def check_settings(beam: DecodeConfig | int, tags: int = 0, batch_size: int = 1) -> None:
    """Refuse a beam, tag count or batch size out of range (SettingError: one line)."""
    decode_config(beam)  # (DecodeConfig checks its own fields)
    for name, value, least in (("--tags", tags, 0), ("--batch-size", batch_size, 1)):
        at_least(name, value, least)
    at_most("--batch-size", batch_size, MAX_BATCH)


@torch.no_grad()
def predict(model: S2VT, vocab: Vocab, feats, lengths, beam: DecodeConfig | int = DecodeConfig.beam,
            text: dict | None = None, names: list[str] | None = None, *, with_captions: bool):
    """(captions, tag probabilities [B, C] or None) for one collated batch (`beam`: the decoding
    settings, or a bare beam width with the other settings at their defaults; `names`: the tag names,
    whose kinds say how a LIC2022 head turns logits into probabilities; `with_captions`: the model was
    trained on captions, `checkpoint.has_captions`; else every caption is "")."""
    model.eval()
    enc_out, states = None, None
    if with_captions:
        enc_out, states = model.encode(feats, lengths)
    b = len(next(iter(feats.values()))) if feats else len(text["offsets"]) // len(FIELDS)
    if states is not None:
        cfg = decode_config(beam)
        # the anti-LM's "any video": the mean training frame at every step
        lm_states = model.encode(feats, lengths, blank=True)[1] if cfg.anti_lm > 0 and cfg.beam > 1 else None
        memory = model.memory if cfg.consensus > 0 and cfg.beam > 1 else None
        query = model.summary(feats, lengths) if memory is not None else None
        ids = decode(model, states, vocab.bos, vocab.eos, cfg, model.cfg.max_len, lm_states, memory, query)
        captions = [vocab.decode(row) for row in ids.tolist()]
    else:
        captions = [""] * b
    logits = model.tag_logits(feats, lengths, enc_out, text)
    if logits is None:
        return captions, None
    probs = probabilities(logits, model.cfg.multilabel, kinds(names or []))
    return captions, probs.float().cpu().numpy()


def decoding_used(cfg: DecodeConfig, model: S2VT, with_captions: bool) -> dict:
    """The decoding settings that acted, as metrics files record them: none for a model without
    captions, the beam alone for greedy decoding, consensus 0 without a memory, and at most the
    memory's size (more neighbours than videos is all of them)."""
    if not with_captions:
        return {}
    if cfg.beam <= 1:
        return {"beam": 1}
    consensus = min(cfg.consensus, len(model.memory)) if model.memory is not None else 0
    return {"beam": cfg.beam, "length_penalty": cfg.length_penalty, "anti_lm": cfg.anti_lm, "consensus": consensus}


def reranks(cfg: DecodeConfig) -> bool:
    """Whether a decoding asks for consensus reranking (beam search with --consensus above 0)."""
    return cfg.beam > 1 and cfg.consensus > 0


def resume_fix(checkpoint: str, what: str) -> str:
    """How to add `what` to a checkpoint its run did not finish: --resume on its run, where a last.pt is beside
    it; else training again (a run whose last.pt the disk could not hold was told to --resume, which refused it;
    hostile trial)."""
    train, folder = shell_join(invoked_as("train")), Path(checkpoint).parent
    if (folder / "last.pt").is_file():  # (its run's folder: named; a copied best.pt's folder is no run's)
        return f"`{train} ... --out {shell_quote(str(folder))} --resume` on its run writes {what} into best.pt"
    return (f"there is no last.pt beside it to resume its run from: a run trained again (`{train} ... --out RUN "
            f"--overwrite`) writes {what}")


def unfinished_warning(checkpoint: str, ckpt: dict, reranking: bool = False) -> str | None:
    """The `warning:` line for a best.pt its run has not finished (`checkpoint.steps_left`: stopped during or
    before the steps after its last epoch, paused by --stop-after, or still training): its answers are not the
    finished model's; `reranking`: the decoding asks for consensus reranking, which a missing memory rules out
    (said here: `memory_warnings` leaves it to this line)."""
    if not (left := steps_left(ckpt)):
        return None
    names = [LAST_STEPS[s] for s in left]
    it = "them" if len(names) > 1 else "it"
    return (f"warning: {checkpoint} is not its run's finished model: it lacks {listed(names)} (the run was stopped or "
            f"paused before {it}, or is still training; {resume_fix(checkpoint, it)}): its answers and scores are "
            "not the finished model's" + ("; decoding without consensus reranking" if reranking and "memory" in left
                                          else ""))


# what a test split holding a model's training videos suggests (import yt8m has no --seed: its splits are files)
RESPLIT = " (was the manifest imported anew, with another --seed or other files as test?)"


def memory_warnings(checkpoint: str, cfg: DecodeConfig, model: S2VT, with_captions: bool,
                    video_ids: list[str] | None = None, split: str | None = None,
                    unfinished: bool = False) -> list[str]:
    """`warning:` lines about the caption memory: consensus reranking asked for but impossible (a
    checkpoint without one: written before it existed, or by a run interrupted before it ended; --resume
    of the run writes it), and
    `split`'s videos that the memory lists, which were training or val videos of the model (a manifest
    re-imported with another --seed splits anew): their scores overstate it however they are decoded,
    and consensus reranking finds their own captions among the neighbours too. `unfinished`: best.pt is due its
    memory (`unfinished_warning` says so, and what it means for the decoding)."""
    if not with_captions:  # (a tag-only model has no memory: `training_warning` reads its training_ids)
        return []
    reranking = reranks(cfg)
    if model.memory is None and unfinished:
        return []
    if model.memory is None:
        # (both causes, and the command that adds it: "when a run ends" told the owner of a finished run nothing;
        # --resume only where there is a last.pt to resume: a run whose last.pt the disk could not hold was told
        # to --resume, which refused it; hostile trial)
        fix = resume_fix(checkpoint, "it")
        return [f"warning: {checkpoint} has no caption memory (written by an older s2vt, or by a run stopped before "
                f"its end; {fix}): decoding without consensus reranking"] if reranking else []
    inside = len(set(video_ids or ()) & set(model.memory.ids))
    if inside:
        return [f"warning: {inside} of {len(video_ids)} videos of split {split} were training or val videos of "
                f"{checkpoint} (its caption memory lists them): the scores overstate the model"
                + (", and consensus reranking finds their own captions among the neighbours" if reranking else "")
                + (RESPLIT if split == "test" else "")]
    return []


def training_warning(checkpoint: str, ckpt: dict, model: S2VT, with_captions: bool, video_ids: list[str],
                     split: str) -> str | None:
    """The `warning:` line for a checkpoint evaluated on videos it trained on, or None: those of a
    refit on train + val (train.py --refit) or of a tag-only model's training (`training_ids`: the
    training split, + val once its linear path was refitted on train + val). Said by the videos'
    ids, whatever the split's name (another dataset's val split is no training data of it), unless
    the caption memory lists them, which `memory_warnings` has already counted (None then: one warning
    for one fact). A refitted checkpoint that records no ids (a tag-only one written before they were
    recorded, or more than finish.REFIT_IDS_MAX) is told about for splits train and val alone, conditionally:
    which manifest it trained on is unknown."""
    refit = ckpt.get("refit") if isinstance(ckpt.get("refit"), dict) else None
    trained = ckpt.get("training_ids")
    if refit is None and not isinstance(trained, list):
        return None
    memory = model.memory.ids if with_captions and model.memory is not None else None
    if memory is not None and set(video_ids) & set(memory):  # (memory_warnings has said it)
        return None
    ids = refit.get("ids") if refit is not None else None
    reseeded = RESPLIT if split == "test" else ""
    if isinstance(ids, list):
        inside = len(set(video_ids) & set(ids))
        if inside:
            return (f"warning: {inside} of {len(video_ids)} videos of split {split} were training videos of "
                    f"{checkpoint} (it was refitted on train + val, {len(ids)} videos, and lists them): the scores "
                    "overstate the model (best.pt's own val metrics are those from before the refit)" + reseeded)
    if isinstance(trained, list):
        inside = len(set(video_ids) & set(trained))
        if not inside:
            return None
        # (the linear path's refit adds val to the list, and so do the tag neighbours' memory: its videos here are
        # no longer held out; "fitted on" alone read as a contradiction beside a best.pt still due its refit)
        kept = model.neighbours is not None  # (with --no-refit, val's are in the neighbours' memory alone)
        return (f"warning: {inside} of {len(video_ids)} videos of split {split} were training videos of {checkpoint}"
                + (" or are among its tag neighbours" if kept else "") + f" (it lists the {len(trained)} videos it "
                f"was fitted on{' or keeps as neighbours' if kept else ''}): the scores overstate the model" + reseeded)
    if refit is None or isinstance(ids, list) or memory is not None or split not in ("train", "val"):
        return None  # (the memory lists train + val: none of them is here)
    from .finish import REFIT_IDS_MAX  # (here: evaluate need not load the training code)

    # (train too: a checkpoint from before the ids were recorded scored its own training split silently)
    videos = refit.get("videos")
    why = ("too many to list" if isinstance(videos, int) and videos > REFIT_IDS_MAX
           else "written before s2vt recorded them, or streamed from shards without them")
    return (f"warning: {checkpoint} was refitted on train + val ({videos} videos) and does not record their ids "
            f"({why}): if this is the manifest it was trained on, split {split} is among its training videos, so "
            "these scores are optimistic" + (" (best.pt's own val metrics are those from before the refit)"
                                             if split == "val" else ""))


def checkpoint_warnings(checkpoint: str, ckpt: dict, cfg: DecodeConfig, model: S2VT, with_captions: bool,
                        video_ids: list[str] | None = None, split: str | None = None) -> list[str]:
    """The `warning:` lines a checkpoint's answers carry, in the order said (evaluate's and the Captioner's
    alike): not its run's finished model, its caption memory, and (`video_ids` of `split`, evaluate's) videos
    it trained on."""
    if "optimizer" in ckpt:  # (a run's last.pt: the memory warning's advice, --resume, did nothing; hostile trial)
        # (the run's best.pt beside the file itself, through a link: `best.pt -> ../run/last.pt` named no model;
        # a last.pt copied as best.pt was told to pass itself, and that "best.pt holds" the model; trials 98, 99)
        best = Path(os.path.realpath(checkpoint)).with_name("best.pt")
        named = " (whatever its name)" if Path(checkpoint).name == "best.pt" else ""
        return [f"warning: {checkpoint} is a run's training state (its latest epoch){named}, not the model the run "
                "chose: the run's best.pt holds that (the epoch val chose, with the steps after training: "
                f"the caption memory, the refit)"
                + (f": pass --checkpoint {best}" if best.is_file() and not os.path.samefile(best, checkpoint) else "")]
    due = "memory" in steps_left(ckpt)
    lines = [unfinished_warning(checkpoint, ckpt, with_captions and reranks(cfg)),
             *memory_warnings(checkpoint, cfg, model, with_captions, video_ids, split, due)]
    if video_ids is not None:
        lines.append(training_warning(checkpoint, ckpt, model, with_captions, video_ids, split))
    return [line for line in lines if line]


def answer(model: S2VT, vocab: Vocab, labels: Labels, feats: dict[str, np.ndarray],
           beam: DecodeConfig | int = DecodeConfig.beam, tags: int = TAGS_SHOWN, *,
           with_captions: bool) -> tuple[str, list[dict]]:
    """(caption, top `tags` tags) of one video's features ({modality: [T, D]}).

    The batch is built by training's `collate`, so a modality without rows (a silent video's
    vggish) is padded and flagged exactly as in training: the model's learned missing vector.
    """
    item = {"video_id": "", "refs": [], "words": None, "tag": None,
            "feats": {m: torch.from_numpy(np.asarray(x, np.float32)) for m, x in feats.items()}}
    batch = to_device(collate([item]), next(model.parameters()).device)
    captions, probs = predict(model, vocab, batch["feats"], batch["lengths"], beam, names=labels.names,
                              with_captions=with_captions)
    return captions[0], top_tags(probs[0], labels, tags) if probs is not None and tags > 0 else []


def predicted_tags(probs: np.ndarray, labels: Labels, threshold: float) -> list[dict]:
    """The predicted tag set of one video, best first: top-1 (single-label), p >= threshold
    (multi-label, at least the top one) or, for LIC2022, `level_prediction`."""
    groups = kinds(labels.names)
    if groups:
        return level_prediction(probs, labels.names, groups, threshold)
    order = np.argsort(-probs)
    keep = [order[0]] if not labels.multilabel else [i for i in order if probs[i] >= threshold] or [order[0]]
    return [{"tag": labels.names[i], "p": round(float(probs[i]), 4)} for i in keep]


def top_tags(probs: np.ndarray, labels: Labels, k: int, digits: int | None = 4) -> list[dict]:
    """The k likeliest tags, p rounded to `digits` (None: as computed, float32's digits)."""
    return [{"tag": labels.names[i], "p": float(probs[i]) if digits is None else round(float(probs[i]), digits)}
            for i in np.argsort(-probs)[:k]]


def feature_mismatch(meta: dict, ckpt_meta: dict, modalities: list[str], compare_precision: bool = True) -> str | None:
    """How features made with `meta`'s settings differ from those a checkpoint trained on
    (`ckpt_meta`, its copy of the training store's meta.json), or None. The one compatibility
    check for a store (`evaluate`) and for the backbones `caption.py` builds."""
    for key in META_KEYS:
        if key in meta and key in ckpt_meta and meta[key] != ckpt_meta[key]:
            return f"{key}={meta[key]!r} but the checkpoint was trained on {key}={ckpt_meta[key]!r}"
    keys = (("backbones", "come from"), ("precision", "were computed in"))[:2 if compare_precision else 1]
    for m in modalities:
        for key, what in keys:
            a, b = meta.get(key, {}).get(m), ckpt_meta.get(key, {}).get(m)
            if a and b and a != b:
                return f"{m} features {what} {a}, the checkpoint's {what} {b}"
    return None


def meta_gaps(meta: dict, ckpt_meta: dict, modalities: list[str]) -> list[str]:
    """What a checkpoint's record of its features (`ckpt_meta`) says that a store's `meta` does not, so
    that `feature_mismatch` cannot compare it: its settings, then its modalities' backbones and precision."""
    gaps = [k for k in META_KEYS if k in ckpt_meta and k not in meta]
    for key, one, many in (("backbones", "backbone", "backbones"), ("precision", "precision", "precision")):
        lack = [m for m in modalities if ckpt_meta.get(key, {}).get(m) and not meta.get(key, {}).get(m)]
        if lack:
            gaps.append(f"the {many if len(lack) > 1 else one} of "
                        + (f"{', '.join(lack[:-1])} and {lack[-1]}" if len(lack) > 1 else lack[0]))
    return gaps


def check_store_matches(store: FeatureStore, ckpt_meta: dict, modalities: list[str],
                        name: str | os.PathLike | None = None) -> None:
    """Refuse a store extracted with other settings or weights than the checkpoint's training store. `name`: the
    store as typed (Path('./-') is '-')."""
    assumed = "assuming it was extracted with the checkpoint's settings"
    if ckpt_meta and not store.meta_path.is_file():
        print(f"warning: {os.fspath(name or store.root)} has no meta.json: {assumed}", file=sys.stderr)
    # a meta.json of {}, or cut short, was taken silently: what it does not say is not compared either (a
    # modality the store has no folder of has nothing to compare: its videos are said to lack features)
    elif ckpt_meta and (gaps := meta_gaps(store.meta(), ckpt_meta, [m for m in modalities
                                                                     if (store.root / m).is_dir()])):
        print(f"warning: {store.meta_path} lacks {', '.join(gaps)}: {assumed}", file=sys.stderr)
    problem = feature_mismatch(store.meta(), ckpt_meta, modalities)
    if problem:
        raise StoreError(f"{store.meta_path}: {problem}")


def with_features(entries: list[dict], store: FeatureStore, modalities: list[str], skip_missing: bool,
                  split: str, manifest: str, from_text: bool, unlearnt: tuple[str, ...] = (),
                  projects: bool = True) -> list[dict]:
    """`entries`, less those lacking a feature file when `skip_missing`; either way one stderr line
    says how many lack which modality (those kept are predicted from what they have). No video
    with any feature file at all is refused (StoreError): the store of another dataset, most likely,
    and every prediction would be the missing vector's; unless `from_text` (the model reads text and
    the split has some: it is predicted from that). `unlearnt`: the modalities whose missing vector training never
    learnt (no training video lacked them): said so, not "learned" (trial 74), with what learns it; `projects`
    false: a tag head on the features, which has no missing vector (zeros, the training mean, stand in)."""
    gaps = {e["video_id"]: [m for m in modalities if not store.has(m, e["video_id"])] for e in entries}
    gaps = {v: ms for v, ms in gaps.items() if ms}
    if not gaps:
        return entries
    counts = ", ".join(f"{m} {n}" for m in modalities if (n := sum(m in ms for ms in gaps.values())))
    bare = sum(len(ms) == len(modalities) for ms in gaps.values())
    if bare == len(entries) and not from_text:
        none = (f"the {split} video of {manifest} has no features there" if len(entries) == 1 else
                f"none of the {len(entries)} {split} videos of {manifest} has features there")
        raise StoreError(f"{store.root}: {none} (first: {', '.join(list(gaps)[:3])}): is it the feature store of "
                         "another dataset?")
    never = [m for m in modalities if m in unlearnt and any(m in ms for ms in gaps.values())]
    stand_in = ("training mean standing in for the rest (its tag head reads the features: no missing vector)"
                if not projects else
                f"missing vector standing in for the rest, never learnt for {','.join(never)} (no training video "
                # (not "--learn-missing learns it": on data where none lacks it, it learns nothing; trial 108)
                "lacked it: train.py --learn-missing learns it from training videos that lack it)" if never else
                "learned missing vector standing in for the rest")
    twins = store.case_note((m, v) for v, ms in gaps.items() for m in ms)  # (macOS: `FeatureStore.case_twin`)
    what = ("left out (--skip-missing)" if skip_missing else
            f"predicted from the features they have, the model's {stand_in} (--skip-missing leaves them out)")
    print(f"warning: {len(gaps)} of {len(entries)} {split} videos lack features in {store.root} ({counts}; "
          f"{bare} with none at all; first: {', '.join(list(gaps)[:5])}){twins}: {what}", file=sys.stderr)
    kept = [e for e in entries if e["video_id"] not in gaps] if skip_missing else entries
    if not kept:
        raise StoreError(f"{store.root}: no {split} video has all its features")
    return kept


class MismatchError(UserError):
    """A checkpoint and a manifest split that share nothing to score (disjoint tags, no text for a
    text model): evaluating would print all-zero metrics; one line for the user instead."""


def check_fit(checkpoint: str, manifest: str, split: str, entries: list[dict], names: list[str],
              modalities: list[str], reads_text: bool, features: str | None = None,
              vocabulary: str | None = None, captions: bool = False) -> None:
    """Refuse a split the model cannot be scored on (MismatchError), warn (one stderr line) when
    only part of it fits: tags the model never learnt, text a text-reading model would miss.
    `features` and `vocabulary` (the --vocabulary the model recorded, `vocabulary_of`) are named in the
    import to run again when the manifest's YouTube-8M tags are named otherwise than the model's (`renamed`).
    `captions`: the model captions and the split has references: tags none of which the model knows are then
    warned of, the captions scored (a small MSR-VTT test split of categories unseen in training was refused,
    captions and all; trial 75)."""
    from .text import fields, has_text

    if reads_text and not has_text(entries):
        if not modalities:
            raise MismatchError(f"{checkpoint} reads only text (title, asr, ocr), and none of the {split} videos "
                                f"in {manifest} has any")
        print(f"warning: {checkpoint} reads text too, and none of the {split} videos in {manifest} has any: "
              "predicted from the video alone", file=sys.stderr)
    elif reads_text and (bare := [e["video_id"] for e in entries if not any(f.strip() for f in fields(e))]):
        # (LIC2022 videos with an empty title, ASR and OCR: a text-only model answers each of them the same)
        alone = ("a text-only model gives each the same answer, its guess for empty text" if not modalities
                 else "predicted from the video alone")
        print(f"warning: {len(bare)} of the {len(entries)} {split} videos in {manifest} "
              f"{'has' if len(bare) == 1 else 'have'} no text (title, asr, ocr; first: {', '.join(bare[:3])}): "
              f"{alone}", file=sys.stderr)
    gold = {t for e in entries for t in e.get("tags", [])}
    if not (names and gold):
        return
    known = set(names)
    missing = sorted(gold - known)
    hint = renamed(names, gold, manifest, split, features, vocabulary) if missing else ""
    if len(missing) == len(gold) and not (captions and not hint):
        raise MismatchError(f"none of the checkpoint's {len(known)} tags is in the {split} split of {manifest} "
                            f"({len(gold)} distinct tags, e.g. {', '.join(missing[:3])}; the checkpoint's: "
                            f"{', '.join(names[:3])}){hint}")
    if hint:  # (the classes named alike on both sides, unnamed in the vocabulary, matched: the rest scored as misses)
        raise MismatchError(f"{len(missing)} of the {len(gold)} distinct tags in the {split} split of {manifest} "
                            f"are not among the checkpoint's {len(known)} (first: {one_line(', '.join(missing[:3]))};"
                            f" the checkpoint's: {one_line(', '.join(names[:3]))}){hint}")
    if missing:  # (a tag is the manifest's text: a newline in one would break the line, one_line escapes it)
        print(f"warning: {len(missing)} of the {len(gold)} distinct tags in the {split} split of {manifest} are not "
              f"among the checkpoint's {len(known)} (first: {one_line(', '.join(missing[:3]))}): they count as misses",
              file=sys.stderr)


def renamed(names: list[str], gold: set[str], manifest: str, split: str, features: str | None,
            vocabulary: str | None) -> str:
    """The way out, "; ..." (else ""), when the model's tags and the manifest's name YouTube-8M classes
    differently: one side label<id> (imported or trained without --vocabulary), the other vocabulary names.
    The classes a vocabulary leaves unnamed are label<id> on both sides and match, so a few tags did: the
    rest were scored as misses, with near-zero metrics and no word of why. The import said writes `split`'s
    shards to a manifest of their own, beside `manifest`: `--out MANIFEST --force` replaced a manifest of
    several imports (the README's `cat` of three) with one split, in split val (hostile trial)."""
    def ids(tags) -> float:  # (the share of tags named label<id>)
        tags = list(tags)
        return sum(map(is_label_tag, tags)) / len(tags)

    new = Path(manifest).with_name(f"{Path(manifest).stem}-{split}.jsonl")
    where = (f" --split {split} --features {shell_quote(features) if features else 'STORE'} --out "
             f"{shell_quote(os.fspath(new))} (SHARDS: the shards of split {split}), then pass --manifest "
             f"{shell_quote(os.fspath(new))}")
    if ids(gold) == 1 and ids(names) < 0.5:
        return (f"; its tags are YouTube-8M label ids (label<id>) and the checkpoint's are vocabulary names: was it "
                f"imported without --vocabulary? import the shards again with the model's: "
                f"{shell_join(invoked_as('import'))} yt8m SHARDS --vocabulary "
                f"{shell_quote(vocabulary) if vocabulary else 'VOCABULARY.csv'}{where}")
    if ids(names) == 1 and ids(gold) < 0.5:
        return ("; the checkpoint's tags are label<id>: was it trained from YouTube-8M shards without --vocabulary? "
                f"then import the shards again leaving --vocabulary out: {shell_join(invoked_as('import'))} yt8m "
                f"SHARDS{where} (or train with --vocabulary)")
    return ""


def predictions_file(checkpoint: str, split: str, out: str | None = None) -> Path:
    """Where evaluate writes its predictions: `out` (the file it names when it is a symbolic link:
    `fileio.written_file`, so its metrics file and lock are the written file's), else `preds_<split>.json`
    beside the checkpoint."""
    return written_file(out) if out else Path(checkpoint).with_name(f"preds_{split}.json")


def names_shards(features: str | None) -> bool:
    """Whether --features names YouTube-8M TFRecord shards that are there (what train.py streams)."""
    from .data import DataError
    from .shards import is_shards, shard_files
    try:
        return bool(features) and is_shards(features) and bool(shard_files(features))
    except DataError:  # (a .tfrecord name that is not there: not found, as a store's)
        return False


def shards_import(features: str, split: str, vocab: str, note: str = "") -> str:
    """The advice for shards where evaluate reads a store and a manifest: the import that makes them, its
    `vocab` option as given (`vocabulary_option`) and `note` after it, every path quoted as it is pasted into a
    shell (a glob too: the import expands it as train.py --features does, `yt8m.expand_patterns`)."""
    return (f"import the shards first ({shell_join(invoked_as('import'))} yt8m {shell_quote(features)} --split "
            f"{split}{vocab} --features STORE --out MANIFEST.jsonl{note}) and pass --manifest MANIFEST.jsonl "
            "--features STORE")


def vocabulary_option(ckpt: dict, checkpoint: str | os.PathLike | None) -> str:
    """The import's --vocabulary for a model's tags, " --vocabulary PATH" (quoted to paste): the one it was
    trained with (`vocabulary_of`), VOCABULARY.csv when none was recorded; "" for tags label0.. (none given)."""
    # (tags named by a vocabulary: the import names them so too, or no tag would match the model's)
    # (every tag label<id>, not the first alone: a model whose videos never had class 0 starts at label1, and was
    # told to import with --vocabulary, which evaluate then refused; trial 108)
    if all(map(is_label_tag, ckpt.get("labels") or [])):
        return ""
    return f" --vocabulary {shell_quote(vocabulary_of(ckpt, checkpoint) or 'VOCABULARY.csv')}"


def not_a_store(features: str, split: str, labels: Labels, ckpt: dict | None = None,
                checkpoint: str | os.PathLike | None = None) -> str | None:
    """The refusal for --features naming YouTube-8M TFRecord shards, with the import that makes them a store
    and a manifest evaluate reads (`shards_import`); None when they are not shards. The --vocabulary said is
    the one the model was trained with (`vocabulary_of`), VOCABULARY.csv when none was recorded."""
    if not names_shards(features):
        return None
    return (f"{features}: YouTube-8M TFRecord shards, not a feature store: evaluate reads a store and its manifest; "
            + shards_import(features, split, vocabulary_option({**(ckpt or {}), "labels": labels.names}, checkpoint)))


def vocabulary_of(ckpt: dict, checkpoint: str | os.PathLike | None) -> str | None:
    """The --vocabulary a model was trained with, as a path usable from here (relative when under the
    current folder): best.pt's record (finish.vocabulary_used), else the settings of its last.pt, or of
    the last.pt beside it (those name it as it was typed, from where the run started)."""
    def recorded(ckpt: dict) -> object:  # (a hand-edited file's settings 5 was a traceback; new-user trial 45)
        return settings.get("vocabulary") if isinstance(settings := ckpt.get("settings"), dict) else None

    path = ckpt.get("vocabulary") or recorded(ckpt)
    if not path and checkpoint is not None and (last := Path(checkpoint).with_name("last.pt")).is_file():
        try:
            path = recorded(read_checkpoint(last))
        except Exception:  # (an unreadable last.pt: the placeholder is said instead)
            path = None
    if not path or not isinstance(path, str):
        return None
    relative = os.path.relpath(path)
    return path if not os.path.isabs(path) else (relative if not relative.startswith("..") else path)


def evaluate(checkpoint: str, manifest: str, features: str | None, split: str = "test",
             beam: DecodeConfig | int = DecodeConfig.beam,
             out: str | None = None, batch_size: int = 64, device: str = "cpu", skip_missing: bool = False,
             html: str | None = None, force: bool = True, written: list[Path] | None = None) -> dict:
    """Decode a split, write predictions and their metrics beside them (`metrics_file`), return the
    metrics; `html`: also a browsable report there (`s2vt.report`). `force` False: an existing `out`,
    its metrics file or `html` is refused (`s2vt evaluate` without --force); the default predictions
    file beside the checkpoint and its `metrics_<split>.json` are always rewritten. `written`: each
    file is appended to it once written whole (what a Ctrl-C left is then known exactly).

    A video without some (or all) feature files is still predicted (see `GapStore`) and counted
    in a warning; `skip_missing` leaves such videos out instead. An output folder this call made is
    removed again if it fails or is interrupted before writing into it.
    """
    written = [] if written is None else written
    with contextlib.ExitStack() as made:
        folders = {predictions_file(checkpoint, split, out).parent, *([Path(html).parent] if html else [])}
        for folder in sorted(folders, key=lambda f: len(f.absolute().parts)):  # (the deepest removed first)
            made.enter_context(removed_if_failed(folder))
        return evaluate_split(checkpoint, manifest, features, split, beam, out, batch_size, device, skip_missing,
                              html, force, written, made)


def as_typed(option: str, given: str | os.PathLike, written: Path) -> str:
    """An output named as the user typed it ('--out q.json'; the default, by its path alone), with the file a
    link names: the locks' refusals named the written file, and a metrics file as '--out', never typed."""
    name = f"{option} {os.fsdecode(given)}" if option else os.fsdecode(given)
    return name + (f" (a link to {os.fsdecode(written)})" if Path(given) != written else "")


def refuse_training_runs(outputs: list[tuple[Path, str]]) -> None:
    """OutputError for an output (path, its option) in a folder a live training run holds (its TRAIN_LOCK):
    `--out RUN/best.pt --force` replaced the model under the run. A lock that is stale, or a folder that cannot
    be read (refused later, as for any output) is no refusal here; a lock that cannot be read, or is not s2vt's,
    is one, as train's (evaluate wrote past a lock cut short of its newline, train refused it; hostile trial)."""
    for path, option in outputs:
        lock = Path(path).absolute().parent / TRAIN_LOCK
        try:
            pid = training_run(lock.parent)
        except OutputError as e:
            raise OutputError(f"cannot write {path}: {e}") from None
        except OSError as e:
            if not os.path.lexists(lock):  # (the folder unreadable: refused where the output is written)
                continue
            raise OutputError(f"cannot write {path}: the lock {os.fsdecode(lock)} of a training run there cannot be "
                              f"read ({e.strerror})") from None
        if pid is not None:
            raise OutputError(busy_line(f"cannot write {path}", "a training run", pid,
                                        f"is writing {Path(path).parent}", f"name another {option}",
                                        Path(path).parent / TRAIN_LOCK))


def refuse_listed_videos(outputs: list[Path], manifest: str) -> list[dict] | None:
    """OutputError for an output that is a video the manifest lists (any split; by its resolved path, so
    through a link either way too): `--out clip.mp4 --force` wrote the predictions over it, and the report
    then read them as that video. Only when an output exists (one that is not there is no video written
    over) is the manifest read: its entries then, for the caller to use; else None."""
    there = [p for p in outputs if os.path.lexists(p)]
    if not there:
        return None
    from .manifest import read_manifest

    every = read_manifest(manifest)
    listed: dict[str, str] = {}  # resolved video path -> the first id listing it
    for e in every:
        if e.get("abspath"):
            listed.setdefault(os.path.realpath(e["abspath"]), e["video_id"])
    for path in there:
        if (vid := listed.get(os.path.realpath(path))) is not None:
            raise OutputError(f"cannot write {path}: it is a video {manifest} lists ({vid}), an input of this "
                              "command")
    return every


def evaluate_split(checkpoint: str, manifest: str, features: str | None, split: str, beam: DecodeConfig | int,
                   out: str | None, batch_size: int, device: str, skip_missing: bool, html: str | None, force: bool,
                   written: list[Path], hold: contextlib.ExitStack) -> dict:
    """evaluate's steps, its output folders removed by the caller if they are left empty; the locks of
    its outputs are entered into `hold` (released by the caller, before those folders are removed)."""
    from .manifest import read_manifest

    check_settings(beam, batch_size=batch_size)
    cfg = decode_config(beam)
    dev = pick_device(device)
    # a training run's folder given as --features (its best.pt beside) is said to be one before any output check:
    # else its default predictions, inside it, were refused as "inside an input" and the cause came only with
    # --out (hostile trial)
    if features and os.path.isdir(features) and any((Path(features) / name).exists() for name in RUN_OUTPUTS) \
            and (why := no_store_here(FeatureStore(features), features)):
        raise StoreError(f"{printable(os.fspath(features))}: no features (the store has none){why}")
    # (".", "/" or "runs/x/" name a folder: Path drops the slash, and "." has no name to replace)
    for path, what in ((out, "--out: the predictions JSON"), (html, "--html: the report")):
        if path and (folder := folder_path(path)):
            raise OutputError(f"{path} {folder}: name a file to write ({what})")
    out_path = predictions_file(checkpoint, split, out)
    # (a metrics file that is itself a link is judged, locked and written as its target, as --out and --html
    # are: `q.metrics.json -> RUN/metrics.csv` rewrote a run's file past every check; hostile trial)
    metrics_path = written_file(metrics_file(out_path, split))
    report = written_file(html) if html else None  # (through a link: the file written, as for --out)
    # (as the user gave them: a link named as one, /dev/stdout not as /proc/PID/fd/pipe:[N]; the default
    # predictions file too: it is replaced without --force. Here, not in refuse_existing below: the refusals
    # between would name a device otherwise, '/dev/null: evaluate writes its predictions as NAME.json')
    given = [out or out_path, metrics_file(out_path, split), html]
    refuse_special_outputs(given)
    # (--out as typed where it is the file written: Path('./-') is '-'; through a link, the file judged below)
    shown = os.fsdecode(out) if out and Path(out) == out_path else out_path
    # names a run's readers (and a later evaluate) take for another file: predictions under them would
    # be read as metrics, or replaced without --force by the default run of another split
    if out_path.name == f"metrics_{split}.json":
        raise OutputError(f"cannot write {shown}: that name is kept for the metrics of split {split}")
    if KEPT_METRICS.fullmatch(out_path.name):
        raise OutputError(f"cannot write {shown}: names like metrics_<split>.json and X.metrics.json are kept "
                          "for metrics files: name the predictions otherwise")
    other = KEPT_PREDS.fullmatch(out_path.name)
    if other and other[1] != split:
        raise OutputError(f"cannot write {shown}: that name is kept for the predictions of split {other[1]} "
                          f"(this is split {split})")
    # (compared as the system resolves them: `sub3/../p8.json` is p8.json, and was refused as locked by another
    # evaluate, this one, hostile trial)
    if html and (same := next((name for name, p in (("--out", out_path), ("its metrics file", metrics_path))
                               if os.path.realpath(report) == os.path.realpath(p)), None)):
        raise OutputError(f"cannot write the report to {html}: --html names the same file as {same} "
                          f"({out_path if same == '--out' else metrics_path})")
    # (the report under a name kept for metrics or predictions: a later evaluate, or a reader, takes it for those)
    if html and KEPT_METRICS.fullmatch(Path(html).name):
        raise OutputError(f"cannot write the report to {html}: names like metrics_<split>.json and X.metrics.json "
                          "are kept for metrics files: name it REPORT.html")
    if html and (kept := KEPT_PREDS.fullmatch(Path(html).name)):
        raise OutputError(f"cannot write the report to {html}: that name is kept for the predictions of split "
                          f"{kept[1]}: name it REPORT.html")
    outputs = [out_path, metrics_path, *([report] if html else [])]
    refuse_long_names(outputs)
    # a run's predictions or metrics given as the manifest are no manifest: said as its reader says it, not as the
    # output this command would write there ("cannot write preds_test.json: it is an input"; new-user trial 94)
    if manifest and os.path.exists(manifest) and any(
            os.path.exists(o) and os.path.samefile(o, manifest) for o in outputs):
        read_manifest(manifest)
    # never write over what this command reads: the checkpoint, the manifest, the store
    refuse_inputs(outputs, [checkpoint, manifest], folders=[f for f in [features] if f])
    every = refuse_listed_videos(outputs, manifest)
    # (even with --force) not into a folder a training run is writing, nor over a checkpoint
    refuse_training_runs([(out_path, "--out"), (metrics_path, "--out"), *([(report, "--html")] if html else [])])
    refuse_checkpoints(outputs, "evaluate")
    # the metrics file is named after the predictions' stem: `--out m1`, `m1.txt` and `m1.json` all paired
    # with m1.metrics.json (hostile trial: `--out m1 --beam 1 --force` left it beside m1.json of beam 5); after
    # the refusals above, which say more (`--out RUN/last.pt`: a checkpoint)
    if out_path.suffix != ".json":
        raise OutputError(f"cannot write {shown}: evaluate writes its predictions as NAME.json and their metrics "
                          "beside them as NAME.metrics.json: name --out NAME.json")
    # (the report's too, as the file written, through a link: `--html clip.mp4 --force` wrote the page over a video
    # no manifest listed, lost; trial 103)
    if html and report.suffix.lower() not in (".html", ".htm"):
        raise OutputError(f"cannot write the report to {html}"
                          + (f" (a link to {report})" if report != Path(html) else "")
                          + ": evaluate writes its report as an HTML page: name --html REPORT.html")
    # (after refuse_inputs: writing over an input is refused even so); the metrics of a named --out
    # are refused with it: replacing them alone would leave an earlier run's predictions unexplained
    refuse_existing([out, out and given[1], html], force, specials_refused=True)  # (as given)
    if not out:  # (the default outputs, always rewritten: but not a file elsewhere, through a link)
        refuse_linked_defaults([out_path, given[1]], force, "evaluate", "--out NAME.json")
    for folder, path in {p.parent: p for p in [*([report] if html else []), out_path]}.items():
        check_writable(folder, path)  # (now: not after decoding the whole split)
    # two runs writing the same outputs at once: the one that ended last would silently win
    # (its metrics file too, held as an output of its own: by whatever name another command reaches it, no two
    # write it at once)
    named = as_typed("--out" if out else "", out or out_path, out_path)
    for path, option, subject in [(out_path, "--out " if out else "", named),
                                  (metrics_path, "--out " if out else "",
                                   f"the metrics file {metrics_path}" + (f" of --out {out}" if out else "")),
                                  *([(report, "--html ", as_typed("--html", html, report))] if html else [])]:
        hold.enter_context(locked(lock_path(path), writing_elsewhere(path, option, subject)))
    model, vocab, labels, ckpt = load_checkpoint(checkpoint, dev)
    with_captions = has_captions(ckpt)
    modalities = sorted(model.cfg.modalities)
    store = None
    if not modalities and features:  # (read by no one: said, not passed by; hostile trial)
        print(f"warning: --features has no effect: {checkpoint} reads text alone (title, asr, ocr), no video "
              "features", file=sys.stderr)
    if modalities:  # (a text-only model reads no store)
        if features is None:
            raise StoreError(f"{checkpoint} reads video features ({','.join(modalities)}): pass --features")
        store = GapStore(features, model.cfg.modalities)
        if shards := not_a_store(features, split, labels, ckpt, checkpoint):  # (a folder of them too: no store's meta.json there)
            raise StoreError(shards)
        if not store.root.is_dir():  # (named as typed: Path('./-') is '-')
            raise StoreError(store_not_found(features))
        if why := no_store_here(store, features):  # (a folder of videos, a run's, an empty one: said what it is)
            raise StoreError(f"{printable(os.fspath(features))}: no features for {','.join(modalities)}, which "
                             f"{checkpoint} reads (the store has none){why}")
        check_store_matches(store, ckpt.get("extract", {}), modalities, features)
        # a modality with no file at all is a wrong store (or a wrong checkpoint), not a few missing
        # videos: every prediction would come from the missing vector alone (train refuses it too)
        present = [m for m in store.modalities() if store.has_files(m)]
        if absent := [m for m in modalities if m not in present]:
            raise StoreError(f"{store.root}: no features for {','.join(absent)}, which {checkpoint} reads "
                             f"({','.join(modalities)}; the store has {','.join(present) or 'none'})"
                             + store.no_folder(absent))
    every = read_manifest(manifest) if every is None else every
    # (a training video of captions alone has nothing to caption or score)
    entries = [e for e in every if split_of(e) == split and not e.get("captions_only")]
    if not entries:
        have = collections.Counter(split_of(e) for e in every)
        if not have:  # (an empty file: "(it has ): pass --split" was said, which no --split mends)
            raise StoreError(f"{manifest}: the manifest has no video")
        # (the split to pass named: "pass --split" left it to guess, and was an error as typed; trials 72, 73. Train
        # only where nothing is held out: evaluate then says whether the model learnt from those videos)
        splits = [s for s in ("val", "test") if s in have] or [s for s in have if s != split]
        # (an --out named for this split's predictions is refused under another --split: said with it; trial 106)
        named = KEPT_PREDS.fullmatch(Path(out).name) if out else None
        raise StoreError(f"{manifest}: no videos in split {split!r} (it has "
                         + ", ".join(f"{n} {s}" for s, n in have.items()) + "): pass "
                         + " or ".join(f"--split {s}" for s in splits)
                         + (f", with an --out not named {named[0]} (kept for split {split}'s predictions)"
                            if named and named[1] == split else ""))
    blank = drop_blank_captions(entries)  # (no references, as `score` and training read them)
    if blank and any(e.get("captions") or e.get("tags") for e in entries):  # (else the note at the end says it)
        print(f"warning: {manifest}: ignoring {blank} blank reference caption{'s' if blank > 1 else ''} in split "
              f"{split!r}", file=sys.stderr)
    if store is not None:
        from .text import has_text

        fusion = model.fusion
        unlearnt = tuple(m for m in modalities if fusion.projects and not bool(fusion.missing[m].any()))
        entries = with_features(entries, store, modalities, skip_missing, split, manifest,
                                text_vocab_of(ckpt) is not None and has_text(entries), unlearnt, fusion.projects)
    check_fit(checkpoint, manifest, split, entries, labels.names, modalities, text_vocab_of(ckpt) is not None,
              features, vocabulary_of(ckpt, checkpoint), with_captions and any(e.get("captions") for e in entries))
    if html and store is not None:
        store.sources()  # (the report reads them: a pipe or unreadable sources.jsonl refused now, not after decoding)
    make_dirs(out_path.parent)  # an impossible output folder fails now, not after decoding
    for line in checkpoint_warnings(checkpoint, ckpt, cfg, model, with_captions, [e["video_id"] for e in entries],
                                    split):
        print(line, file=sys.stderr)
    ds = VideoDataset(entries, store, modalities, vocab, None, text_vocab=text_vocab_of(ckpt))
    loader = batches(ds, batch_size)
    t0 = time.time()
    preds, tally, tagging = {}, TagTally(), False  # (the tag scores, a batch at a time: `TagTally`)
    index = {n: i for i, n in enumerate(labels.names)}
    tags_of = {e["video_id"]: e.get("tags") for e in entries}
    for batch in loader:
        batch = to_device(batch, dev)
        captions, probs = predict(model, vocab, batch["feats"], batch["lengths"], cfg, text=batch["text"],
                                  names=labels.names, with_captions=with_captions)
        if probs is not None and not np.isfinite(probs).all():  # (the features were checked finite: the weights)
            raise CheckpointError(f"{checkpoint}: its tag scores are NaN or infinite (first in this batch: "
                                  f"{batch['video_id'][0]}): its weights are unusable, as a training run that "
                                  "diverged leaves them: train again with a lower --lr")
        for i, vid in enumerate(batch["video_id"]):
            tags = predicted_tags(probs[i], labels, model.cfg.tag_threshold) if probs is not None else []
            preds[vid] = {"video_id": vid, "caption": captions[i], "tags": tags}
            if probs is not None and labels.multilabel:  # GAP@20 can be recomputed from the file: unrounded,
                # since rounding ties saturated probabilities and ties reorder the ranking GAP reads
                preds[vid]["top_tags"] = top_tags(probs[i], labels, GAP_TOP_K, digits=None)
        if probs is not None:
            tagging = True
            rows = [i for i, vid in enumerate(batch["video_id"]) if tags_of[vid]]
            # tags the model never saw stay in the gold sets (negative ids): they count against recall and GAP
            tally.add(probs[rows], [[index.get(t, -1 - j) for j, t in enumerate(tags_of[batch["video_id"][i]])]
                                    for i in rows],
                      [{index[t["tag"]] for t in preds[batch["video_id"][i]]["tags"]} for i in rows])
    metrics: dict = {"split": split, "videos": len(entries), **decoding_used(cfg, model, with_captions)}
    refs = {e["video_id"]: e["captions"] for e in entries if e.get("captions")}
    per_video: dict[str, float] = {}  # each video's CIDEr-D, for the report
    if refs and with_captions:
        metrics.update(caption_scores(refs, {v: preds[v]["caption"] for v in refs}, per_video=per_video))
        # (a model that says one caption for every video scores well above zero: how many differ tells it apart)
        metrics["distinct_captions"] = len({preds[v]["caption"] for v in refs})
        # (of the videos with reference captions, those the caption scores are over: not every video predicted)
        metrics["distinct_captions_of"] = len(refs)
        if blind := blind_cider(refs):
            print(blind, file=sys.stderr)
    tagged = [e for e in entries if e.get("tags")]
    if tagging and tagged:
        rows = [i for i, e in enumerate(entries) if e.get("tags")]
        metrics.update(tally.result())
        if kinds(labels.names):  # topic-tag P/R/F1 (none where the gold labels have no topic tag), not over levels
            for k in ("tag_precision", "tag_recall", "tag_f1"):
                metrics.pop(k, None)
            metrics.update(level_scores([[t["tag"] for t in preds[entries[i]["video_id"]]["tags"]] for i in rows],
                                        [entries[i]["tags"] for i in rows]))
        elif labels.multilabel:  # the threshold of tag_precision/recall/f1, chosen on val in training
            metrics["tag_threshold"] = model.cfg.tag_threshold
        if (nb := model.neighbours) is not None:  # (the scores are the blend's: with what, recorded beside them)
            # (k as it acted: at most the memory's videos)
            metrics["neighbours"] = {"space": nb.space, "k": min(nb.k, len(nb)), "power": nb.power, "mix": nb.mix,
                                     "videos": len(nb)}
    # the videos the scores are over: a split that mixes labelled and unlabelled videos (an old LIC2022 import
    # with --test, or a hand-made manifest) is scored on its labelled ones alone
    scored = len({*(refs if refs and with_captions else ()), *(e["video_id"] for e in tagged if tagging)})
    if scored:
        metrics["scored"] = scored
        if scored < len(entries):
            print(f"note: the scores are over the {scored} of the {len(entries)} {split} videos that have references "
                  f"(captions or tags); the other {len(entries) - scored} were predicted only", file=sys.stderr)
    metrics["seconds"] = round(time.time() - t0, 2)
    # both or neither: a full disk at the metrics left the predictions alone, which a rerun with the same --out was
    # then refused to replace without --force (new-user trial)
    atomic_write_all([(out_path, json_bytes(out_path, list(preds.values()))),
                      (metrics_path, json_bytes(metrics_path, metrics))])
    written += [out_path, metrics_path]
    if not any(k in metrics for k in CAPTION_KEYS + TAG_KEYS):  # (the predictions are still a product)
        only = f" (only {blank} blank {'ones' if blank > 1 else 'one'})" if blank else ""
        caps = f"no reference captions{only}" if not refs else ""
        why = (f"split {split!r} of {manifest} has {caps} or tags" if not refs and not tagged else
               f"split {split!r} of {manifest} has {caps} and {checkpoint} predicts no tags" if not refs else
               f"{checkpoint} writes no captions and split {split!r} of {manifest} has no tags" if not tagged else
               f"{checkpoint} writes no captions and predicts no tags")
        print(f"note: {why}: nothing to score; the predictions were written to {given[0]}; their metrics file holds "
              "no scores", file=sys.stderr)
    if html:
        from .report import write_report

        # (the store's own records: a manifest path pointed at another file would show its frames, unremarked)
        sources = {e["video_id"]: [r for m in modalities if (r := store.sources().get(e["video_id"], {}).get(m))]
                   for e in entries} if store is not None else None
        other, maybe = write_report(report, entries, preds, per_video, metrics, sources)
        written.append(report)
        if other or maybe:  # (counted as the notes word them: a copy of the file 'may not be', not 'is not')
            n = other or maybe
            more = f", and those of {maybe} more may not be" if other and maybe else ""
            print(f"warning: {html}: the frames of {n} video{'s' if n > 1 else ''} "
                  f"{'are not' if other else 'may not be'} of the file {'their' if n > 1 else 'its'} features were "
                  f"extracted from{more} ({store.root / 'sources.jsonl'}): "
                  f"{'each is' if other + maybe > 1 else 'it is'} noted under its frames", file=sys.stderr)
    return metrics


def format_table(metrics: dict) -> str:
    """Aligned 'name  value' lines for the caption and tag metrics present."""
    lines = []
    for k in CAPTION_KEYS + TAG_KEYS + LEVEL_KEYS:
        if k in metrics:
            v = metrics[k]
            if v is None:  # (why METEOR is null: no Java, else the warning line above says it (a caption over
                # its scorer's length, a failed jar), which "no Java" contradicted; hostile trial)
                lines.append(f"{k:<14}n/a ({'no Java' if not java_available() else 'see the warning'})")
            else:
                lines.append(f"{k:<14}{v:.4f}")
        if k == "CIDEr" and "distinct_captions" in metrics:
            of = metrics.get("distinct_captions_of")
            lines.append(f"{'distinct':<14}{counted(metrics['distinct_captions'], 'caption')}"
                         + (f" for the {counted(of, 'video')} with reference captions" if of is not None else ""))
    return "\n".join(lines)
