"""From a checkpoint to answers: batch prediction, `s2vt evaluate`, and `caption.py`."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from extract.fileio import atomic_write_json
from extract.store import META_KEYS, FeatureStore, StoreError

from .data import Labels, VideoDataset, batches, check_features, to_device
from .decode import decode
from .metrics import CAPTION_KEYS, TAG_KEYS, caption_scores, tag_scores
from .model import S2VT
from .vocab import Vocab


@torch.no_grad()
def predict(model: S2VT, vocab: Vocab, feats, lengths, beam: int = 5, max_len: int = 28):
    """(captions, tag probabilities [B, C] or None) for one collated batch."""
    model.eval()
    enc_out, states = model.encode(feats, lengths)
    b = enc_out.shape[0]
    if len(vocab) > 4:  # a model trained with captions
        ids = decode(model, states, vocab.bos, vocab.eos, beam, max_len)
        captions = [vocab.decode(row) for row in ids.tolist()]
    else:
        captions = [""] * b
    logits = model.tags(enc_out)
    if logits is None:
        return captions, None
    probs = torch.sigmoid(logits) if model.cfg.multilabel else torch.softmax(logits, -1)
    return captions, probs.float().cpu().numpy()


def answer(model: S2VT, vocab: Vocab, labels: Labels, feats: dict[str, np.ndarray], beam: int = 5,
           tags: int = 3) -> tuple[str, list[dict]]:
    """(caption, top `tags` tags) of one video's features ({modality: [T, D]})."""
    device = next(model.parameters()).device
    batch = {m: torch.from_numpy(np.asarray(x, np.float32))[None].to(device) for m, x in feats.items()}
    lengths = {m: torch.tensor([x.shape[1]], device=device) for m, x in batch.items()}
    captions, probs = predict(model, vocab, batch, lengths, beam)
    return captions[0], top_tags(probs[0], labels, tags) if probs is not None and tags > 0 else []


def predicted_tags(probs: np.ndarray, labels: Labels, threshold: float) -> list[dict]:
    """The predicted tag set of one video, best first: top-1 (single-label) or p >= threshold
    (multi-label, at least the top one)."""
    order = np.argsort(-probs)
    keep = [order[0]] if not labels.multilabel else [i for i in order if probs[i] >= threshold] or [order[0]]
    return [{"tag": labels.names[i], "p": round(float(probs[i]), 4)} for i in keep]


def top_tags(probs: np.ndarray, labels: Labels, k: int) -> list[dict]:
    return [{"tag": labels.names[i], "p": round(float(probs[i]), 4)} for i in np.argsort(-probs)[:k]]


def check_store_matches(store: FeatureStore, ckpt_meta: dict, modalities: list[str]) -> None:
    """Refuse a store extracted with other settings or weights than the checkpoint's training store."""
    meta = store.meta()
    for key in META_KEYS:
        if key in meta and key in ckpt_meta and meta[key] != ckpt_meta[key]:
            raise StoreError(f"{store.meta_path}: {key}={meta[key]!r} but the checkpoint was trained on "
                             f"{key}={ckpt_meta[key]!r}")
    for m in modalities:
        a, b = meta.get("backbones", {}).get(m), ckpt_meta.get("backbones", {}).get(m)
        if a and b and a != b:
            raise StoreError(f"{store.meta_path}: {m} features come from {a}, the checkpoint's from {b}")


def evaluate(checkpoint: str, manifest: str, features: str, split: str = "test", beam: int = 5,
             out: str | None = None, batch_size: int = 64, device: str = "cpu") -> dict:
    """Decode a split, write predictions and metrics.json, return the metrics."""
    from extract.manifest import read_manifest

    from .engine import load_checkpoint

    model, vocab, labels, ckpt = load_checkpoint(checkpoint, device)
    modalities = sorted(model.cfg.modalities)
    store = FeatureStore(features)
    check_store_matches(store, ckpt.get("extract", {}), modalities)
    entries = [e for e in read_manifest(manifest) if e.get("split", "train") == split]
    if not entries:
        raise StoreError(f"{manifest}: no videos in split {split!r}")
    entries = check_features(entries, store, modalities, skip_missing=False)
    ds = VideoDataset(entries, store, modalities, vocab, None)
    loader = batches(ds, batch_size)
    t0 = time.time()
    preds, all_probs = {}, []
    for batch in loader:
        batch = to_device(batch, torch.device(device))
        captions, probs = predict(model, vocab, batch["feats"], batch["lengths"], beam)
        for i, vid in enumerate(batch["video_id"]):
            tags = predicted_tags(probs[i], labels, model.cfg.tag_threshold) if probs is not None else []
            preds[vid] = {"video_id": vid, "caption": captions[i], "tags": tags}
        if probs is not None:
            all_probs.append(probs)
    metrics: dict = {"split": split, "videos": len(entries), "beam": beam}
    refs = {e["video_id"]: e["captions"] for e in entries if e.get("captions")}
    if refs and len(vocab) > 4:
        metrics.update(caption_scores(refs, {v: preds[v]["caption"] for v in refs}))
    tagged = [e for e in entries if e.get("tags")]
    if all_probs and tagged:
        probs = np.concatenate(all_probs)
        index = {n: i for i, n in enumerate(labels.names)}
        # tags the model never saw stay in the gold sets (negative ids): they count against recall and GAP
        gold = [[index.get(t, -1 - j) for j, t in enumerate(e.get("tags", []))] for e in entries]
        rows = [i for i, e in enumerate(entries) if e.get("tags")]
        pred_sets = [{index[t["tag"]] for t in preds[entries[i]["video_id"]]["tags"]} for i in rows]
        metrics.update(tag_scores(probs[rows], [gold[i] for i in rows], pred_sets))
    metrics["seconds"] = round(time.time() - t0, 2)
    out_path = Path(out) if out else Path(checkpoint).with_name(f"preds_{split}.json")
    atomic_write_json(out_path, list(preds.values()))
    atomic_write_json(out_path.with_name("metrics.json"), metrics)
    return metrics


def format_table(metrics: dict) -> str:
    """Aligned 'name  value' lines for the caption and tag metrics present."""
    lines = []
    for k in CAPTION_KEYS + TAG_KEYS:
        if k in metrics:
            v = metrics[k]
            lines.append(f"{k:<14}{'n/a (no Java)' if v is None else f'{v:.4f}'}")
    return "\n".join(lines)


def caption_files(videos: list[str], checkpoint: str, beam: int = 5, tags: int = 3, device: str = "cpu",
                  weights_dir: str | None = None):
    """Yield, per video file, {"video", "caption", "tags", "seconds"} or {"video", "error"}.

    Uses the extraction settings recorded in the checkpoint, in memory (no store). The
    backbones build in threads while the first video decodes and the model loads; `seconds`
    is each video's wall time (the first one's includes waiting for the backbones).
    """
    from extract.ffmpeg import MediaError
    from extract.pipeline import ExtractConfig, Extractor

    from .engine import model_from_checkpoint, read_checkpoint

    ckpt = read_checkpoint(checkpoint, device)
    cfg = ExtractConfig.from_meta(ckpt.get("extract", {}), sorted(ckpt["config"]["modalities"]), device=device,
                                  weights_dir=weights_dir)
    extractor = Extractor(cfg, wait=False)
    model, vocab, labels = model_from_checkpoint(ckpt, device)
    for path in videos:
        t0 = time.time()
        try:
            feats = extractor.extract(path)
        except MediaError as e:
            _ = extractor.backbones  # a backbone that cannot be built outranks a bad video
            yield {"video": path, "error": str(e)}
            continue
        caption, top = answer(model, vocab, labels, feats, beam, tags)
        yield {"video": path, "caption": caption, "tags": top, "seconds": round(time.time() - t0, 3)}


def caption_videos(videos: list[str], checkpoint: str, beam: int = 5, tags: int = 3, as_json: bool = False,
                   device: str = "cpu", weights_dir: str | None = None) -> int:
    """Print captions and tags of video files (caption.py); a bad video prints one line on stderr
    and the rest go on. Returns 2 if any failed, else 0."""
    import warnings

    failed = 0
    # stderr is for errors: the library's notices (random weights, torch deprecations, some
    # raised in the backbone build threads) are silenced while the videos run
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for r in caption_files(videos, checkpoint, beam, tags, device, weights_dir):
            if "error" in r:
                print(f"error: {r['error']}", file=sys.stderr)
                failed += 1
            elif as_json:
                print(json.dumps(r, ensure_ascii=False), flush=True)
            else:
                tag_text = ", ".join(f"{t['tag']} ({t['p']:.2f})" for t in r["tags"])
                print(f"{r['video']}: {r['caption']}" + (f"\n  tags: {tag_text}" if tag_text else ""), flush=True)
    return 2 if failed else 0
