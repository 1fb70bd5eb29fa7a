"""Competition files: one results file per format, zipped under a fixed member name (yt8m's CSV may also be
written bare, as google/youtube-8m's inference.py writes it: Kaggle takes either)."""
from __future__ import annotations

import io
import json
import os
import re
import zipfile
from pathlib import Path

from .errors import SettingError
from .fileio import atomic_write_bytes
from .formats import (LEVEL1, LEVEL2, SEMANTIC, YT8M_HEADER, YT8M_TOP_K, coco_results, lic2022_record, msrvtt_results,
                      yt8m_line)
from .manifest import check_video_id
from .results import ResultsError, check_captions

FORMATS = ("coco", "msrvtt", "lic2022", "yt8m")
CAPTION_FORMATS = ("coco", "msrvtt")  # (lic2022 and yt8m hold tags only)
MEMBER = {"coco": "results.json", "msrvtt": "results.json", "lic2022": "result.txt", "yt8m": "predictions.csv"}
LABEL_ID = re.compile(r"label(0|[1-9][0-9]*)")  # the tag `s2vt import yt8m` gives a class without --vocabulary


def yt8m_scores(preds: dict[str, dict], vocabulary: str | os.PathLike | None,
                source: str | os.PathLike) -> dict[str, list[tuple[int, float]]]:
    """Each video's (class index, confidence) pairs, from evaluate's unrounded `top_tags` where it wrote
    them (a multi-label model's top 20), else its `tags`. A tag maps back as `s2vt import yt8m` named it:
    the vocabulary.csv name (read as the import reads it) with `vocabulary`, else `label<Index>`. A tag
    that names no class, or has no confidence, is refused (`source`: the predictions file, for the line)."""
    from .yt8m import NUM_CLASSES, read_vocabulary

    index = ({name: i for i, name in read_vocabulary(vocabulary, speaks=False, shards_go="").items()}
             if vocabulary else None)
    out = {}
    for vid, pred in preds.items():
        pairs = []
        for t in pred.get("top_tags") or pred["tags"]:
            tag = t["tag"]
            if isinstance(tag, str) and tag.startswith((LEVEL1, LEVEL2, SEMANTIC)):
                # (another dataset's labels: no vocabulary maps them, which the class refusal advised; hostile trial)
                raise ResultsError(f"{source}: video {vid}: tag {tag!r} is a LIC2022 label, not a YouTube-8M class: "
                                   "these are LIC2022 predictions: export them with --format lic2022 "
                                   "--manifest MANIFEST")
            if "p" not in t:  # (plain names: no order to rank the classes by)
                raise ResultsError(f"{source}: video {vid}: tag {tag!r} has no confidence (\"p\"): a submission "
                                   "ranks each video's classes by it")
            if index is not None:
                i = index.get(tag)
                if i is None:
                    hint = (" (a model trained without --vocabulary tags label<Index>: leave --vocabulary out)"
                            if LABEL_ID.fullmatch(tag) else "")
                    raise ResultsError(f"{source}: video {vid}: tag {tag!r} is not in {vocabulary}{hint}")
            else:
                m = LABEL_ID.fullmatch(tag)
                i = int(m.group(1)) if m else None
                if i is None or i >= NUM_CLASSES:
                    raise ResultsError(f"{source}: video {vid}: tag {tag!r} is no YouTube-8M class: without "
                                       "--vocabulary tags must be label<Index> (tags named by a vocabulary, given to "
                                       "import yt8m or to train.py: pass that vocabulary.csv)")
            pairs.append((i, float(t["p"])))
        out[vid] = pairs
    return out


def check_caption_export(preds: dict[str, dict], path: str | Path, fmt: str) -> str | None:
    """`check_captions` for a caption format: predictions without captions are refused, naming the format their
    tags export as (said for the tag formats alike; new-user trial 69); the warning line for some empty ones."""
    try:
        return check_captions(preds, path, f"export as {fmt} captions")
    except ResultsError as e:
        raise ResultsError(f"{e}{tags_format(preds)}") from None


def tags_format(preds: dict[str, dict]) -> str:
    """For predictions without captions given to a caption format: the format their tags export as."""
    tags = [t.get("tag") for p in preds.values() for t in p.get("tags") or [] if isinstance(t, dict)]
    if any(isinstance(t, str) and t.startswith((LEVEL1, LEVEL2, SEMANTIC)) for t in tags):
        return "; these are LIC2022 predictions: export them with --format lic2022 --manifest MANIFEST"
    if tags:
        return "; tags alone export with --format yt8m, if they are YouTube-8M classes"
    return ""


def render(preds: dict[str, dict], fmt: str, order: list[str] | None = None,
           scores: dict[str, list[tuple[int, float]]] | None = None, top_k: int = YT8M_TOP_K) -> bytes:
    """The results file's bytes. `order` (manifest order) is required for lic2022; `scores` (`yt8m_scores`)
    for yt8m, each video's `top_k` best written."""
    for vid in list(preds) + list(order or []):
        check_video_id(vid)
    if fmt in CAPTION_FORMATS:
        check_caption_export(preds, "export", fmt)
    if fmt == "coco":
        return json.dumps(coco_results(preds)).encode()
    if fmt == "msrvtt":
        return json.dumps(msrvtt_results(preds)).encode()
    if fmt == "lic2022":
        if order is None:
            raise SettingError("lic2022 export needs --manifest (its order and its ids)")
        lines = [json.dumps(lic2022_record(vid, preds.get(vid, {}).get("tags", [])), ensure_ascii=False)
                 for vid in order]
        return ("\n".join(lines) + "\n").encode("utf-8")
    if fmt == "yt8m":
        if scores is None:
            raise SettingError("yt8m export needs each video's class scores (yt8m_scores)")
        lines = [YT8M_HEADER] + [yt8m_line(vid, scores.get(vid, []), top_k) for vid in preds]
        return ("\n".join(lines) + "\n").encode("utf-8")
    raise SettingError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")


def write_zip(preds: dict[str, dict], fmt: str, out: str | Path, order: list[str] | None = None,
              scores: dict[str, list[tuple[int, float]]] | None = None, top_k: int = YT8M_TOP_K) -> Path:
    """Write the zip (atomically) with the format's single results file; returns its path. A yt8m `out`
    named .csv is that file itself, as inference.py writes it."""
    data = render(preds, fmt, order, scores, top_k)
    if fmt == "yt8m" and Path(out).suffix.lower() == ".csv":
        atomic_write_bytes(out, data)
        return Path(out)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(MEMBER[fmt], data)
    atomic_write_bytes(out, buf.getvalue())
    return Path(out)
