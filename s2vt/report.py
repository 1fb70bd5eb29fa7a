"""`s2vt evaluate --html`: one page to see where a model fails. Per video, worst first (by CIDEr-D;
a tag-only model's by tag AP; with neither, the manifest's order): a strip of its frames, the
predicted caption beside the references, the video's text (title, ASR, OCR) where it has some, the tags
with their probabilities (the true ones marked)."""
from __future__ import annotations

import html
import os

from extract.ffmpeg import MediaError
from .fileio import atomic_write_bytes

from .manifest import TEXT_FIELDS
from .metrics import CAPTION_KEYS, TAG_KEYS
from .store import same_file, source_identity
from .thumbnails import THUMB_HEIGHT, thumbnails

STRIP = 6  # frames shown per video
TEXT_SHOWN = 300  # characters of each text field shown (a 4,000-character ASR would bury the row)

STYLE = """body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse}
td,th{border-top:1px solid #ddd;padding:.4em .6em;vertical-align:top;text-align:left}
.strip img{height:60px;margin-right:2px}.pred{font-weight:600}.refs{color:#555;margin:.2em 0 0 1em;padding:0}
.bar{display:inline-block;height:.8em;background:#4a8;margin-right:.4em}.gold{color:#070}.none{color:#999}
.moved{color:#a40;max-width:40em}.text{color:#335;max-width:40em}.text b{font-weight:600;margin-right:.4em}"""


def frame_strip(path: str | None) -> tuple[list[dict], str]:
    """(thumbnails, why there are none) of a video file, decoded small."""
    from extract.video import decode_frames

    if not path:
        return [], "no video path in the manifest"
    if not os.path.isfile(path):
        return [], "video file not found"
    try:
        fr = decode_frames(path, STRIP, 0, THUMB_HEIGHT)
    except MediaError as e:
        return [], str(e)
    return thumbnails(fr.frames, fr.times, STRIP, THUMB_HEIGHT), ""


def other_source(path: str | None, recorded: list[dict]) -> tuple[str, bool]:
    """Why the file `path` names now may not be the video its features came from ('' when it is, or when
    nothing tells), and whether it surely is not: `recorded` holds the store's sources.jsonl records of those
    features. The manifest's `path` can have been pointed elsewhere, or the file replaced, since extraction:
    the frames shown would then be another video's, beside a prediction made from the first. Only another
    size at another path is sure: a copy keeps the size, not the mtime (a dataset copied without its mtimes
    was said to be other files, every video; hostile trial), and a file changed in place may be the same video."""
    now = source_identity(path) if path else None
    if now is None:  # (no file: `frame_strip` says so)
        return "", False
    for was in recorded:
        if not same_file(was, now):  # (the path alone may differ: a dataset moved keeps its files)
            if was.get("path") and os.path.realpath(was["path"]) != os.path.realpath(path):
                if was.get("size") == now["size"]:
                    return (f"its features were extracted from {was['path']} (same size, another path or time): "
                            "these frames may not be theirs"), False
                return f"its features were extracted from another file, {was['path']}: these frames are not theirs", True
            return ("this file changed (size or time) since its features were extracted: these frames may not be "
                    "theirs"), False
    return "", False


def tag_ap(pred: dict, gold: set[str]) -> float:
    """A video's average precision over its ranked tags (the top tags when kept, else the predicted
    ones): the mean, over its true tags, of the precision at the rank each is found (0 if never);
    a single-label model's one predicted tag makes it hit@1."""
    ranked = [t["tag"] for t in pred.get("top_tags") or pred.get("tags", [])]
    hits, total = 0, 0.0
    for rank, tag in enumerate(ranked, 1):
        if tag in gold:
            hits += 1
            total += hits / rank
    return total / len(gold)


def video_row(rank: int, entry: dict, pred: dict, score: float | None, frames_shown: bool = True,
              moved: str = "") -> str:
    """One video's row; `moved`: `other_source`'s note, said under its frames."""
    e = html.escape
    if frames_shown:
        strip, why = frame_strip(entry.get("abspath"))
        frames = "".join(f'<img src="{f["src"]}" title="{f["t"]:.1f} s" alt="{f["t"]:.1f} s">' for f in strip) \
            or f'<span class="none">{e(why)}</span>'
        if moved:
            frames += f'<div class="moved">{e(moved)}</div>'
        frames = f'<td class="strip">{frames}</td>'
    else:
        frames = ""
    refs = "".join(f"<li>{e(r)}</li>" for r in entry.get("captions", []))
    # (what a text model read: a text-only model's row showed no caption, no reference and nothing of it; trial 83)
    text = entry.get("text") or {}
    said = "".join(f'<div class="text"><b>{f}</b>{e(v[:TEXT_SHOWN])}{"…" * (len(v) > TEXT_SHOWN)}</div>'
                   for f in TEXT_FIELDS if isinstance(v := text.get(f), str) and v.strip())
    gold = set(entry.get("tags", []))
    tags = "<br>".join(f'<span class="bar" style="width:{round(60 * t["p"])}px"></span>'
                       f'<span class="{"gold" if t["tag"] in gold else ""}">{e(t["tag"])} {t["p"]:.2f}</span>'
                       for t in pred.get("tags", []))
    if gold:
        tags += f'<br><span class="none">true: {e(", ".join(sorted(gold)))}</span>'
    return (f"<tr><td>{rank}</td><td>{e(entry['video_id'])}</td><td>{'' if score is None else f'{score:.3f}'}</td>"
            f'{frames}<td><div class="pred">{e(pred["caption"])}</div>'
            f'<ul class="refs">{refs}</ul>{said}</td><td>{tags}</td></tr>')


def write_report(path: str | os.PathLike, entries: list[dict], preds: dict[str, dict],
                 scores: dict[str, float], metrics: dict, sources: dict[str, list[dict]] | None = None
                 ) -> tuple[int, int]:
    """The page, atomically; worst first by `scores` (each video's CIDEr-D), without them by tag AP
    (`tag_ap`) when the model predicts tags and videos have true ones, else in the manifest's order;
    videos without a score (no references) come last. A manifest without video paths shows no frames,
    said once. `sources`: video id -> the store's records of the files its features came from; a video
    whose file is not that one is noted under its frames (`other_source`). Returns how many surely were not,
    and how many may not be (a warning's counts, worded as the notes are)."""
    if scores:
        column, order_said = "CIDEr-D", "worst CIDEr-D first"
    elif any(x.get("tags") for x in entries) and any(p.get("tags") or p.get("top_tags") for p in preds.values()):
        scores = {x["video_id"]: tag_ap(preds[x["video_id"]], set(x["tags"])) for x in entries if x.get("tags")}
        column, order_said = "tag AP", "worst tag AP first (each video's average precision over its ranked tags)"
    else:
        column, order_said = "", "in the manifest's order"
    order = sorted(entries, key=lambda x: (x["video_id"] not in scores, scores.get(x["video_id"], 0.0)))
    summary = ", ".join(f"{k} {metrics[k]:.3f}" for k in CAPTION_KEYS + TAG_KEYS
                        if isinstance(metrics.get(k), float))
    frames_shown = any(x.get("abspath") for x in entries)  # (MLDS's, YouTube-8M's manifests: features alone)
    said = "" if frames_shown else "<p>no frames: the manifest has no video paths (&#x27;path&#x27;)</p>"
    moved = {x["video_id"]: other_source(x.get("abspath"), (sources or {}).get(x["video_id"], []))
             for x in entries} if frames_shown else {}
    rows = "\n".join(video_row(i + 1, x, preds[x["video_id"]], scores.get(x["video_id"]), frames_shown,
                               moved.get(x["video_id"], ("", False))[0]) for i, x in enumerate(order))
    page = (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>s2vt evaluation: '
            f'{html.escape(metrics["split"])}</title><style>{STYLE}</style></head><body>'
            f'<h1>{html.escape(metrics["split"])}: {metrics["videos"]} videos, {order_said}</h1>'
            f"<p>{html.escape(summary)}</p>{said}<table><tr><th>#</th><th>video</th><th>{column}</th>"
            + ("<th>frames</th>" if frames_shown else "")
            + f"<th>prediction / references{' / text' * any((x.get('text') or {}) for x in entries)}</th>"
            f"<th>tags</th></tr>\n{rows}\n</table></body></html>\n")
    atomic_write_bytes(path, page.encode())
    return (sum(1 for why, sure in moved.values() if why and sure),
            sum(1 for why, sure in moved.values() if why and not sure))
