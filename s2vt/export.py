"""Competition files: one results file per format, zipped under a fixed member name."""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from extract.errors import SettingError
from extract.fileio import atomic_write_bytes
from extract.manifest import check_video_id

FORMATS = ("coco", "msrvtt", "lic2022")
MEMBER = {"coco": "results.json", "msrvtt": "results.json", "lic2022": "result.txt"}
# how the LIC2022 importer keeps each tag's kind inside a manifest tag string
LEVEL1, LEVEL2, SEMANTIC = "level1:", "level2:", "tag:"


def lic2022_fields(tags: list[dict]) -> tuple[str, str, list[str]]:
    """(level1, level2, semantic tags) from predicted tags [{"tag", "p"}], best-scored first."""
    ranked = [t["tag"] for t in sorted(tags, key=lambda t: -float(t.get("p", 0)))]
    l1 = next((t[len(LEVEL1):] for t in ranked if t.startswith(LEVEL1)), "")
    l2 = next((t[len(LEVEL2):].split("/", 1)[-1] for t in ranked if t.startswith(LEVEL2)), "")
    return l1, l2, [t[len(SEMANTIC):] for t in ranked if t.startswith(SEMANTIC)]


def render(preds: dict[str, dict], fmt: str, order: list[str] | None = None) -> bytes:
    """The results file's bytes. `order` (manifest order) is required for lic2022."""
    for vid in list(preds) + list(order or []):
        check_video_id(vid)
    if fmt == "coco":
        return json.dumps([{"image_id": v, "caption": p["caption"]} for v, p in preds.items()]).encode()
    if fmt == "msrvtt":
        return json.dumps({"version": "VERSION 1.0",
                           "result": [{"video_id": v, "caption": p["caption"]} for v, p in preds.items()],
                           "external_data": {"used": "false", "details": ""}}).encode()
    if fmt == "lic2022":
        if order is None:
            raise SettingError("lic2022 export needs --manifest (its order and its ids)")
        lines = []
        for vid in order:
            l1, l2, tags = lic2022_fields(preds.get(vid, {}).get("tags", []))
            lines.append(json.dumps({"@id": vid, "category": [{"@meta": {"type": "level1"}, "@value": l1},
                                                              {"@meta": {"type": "level2"}, "@value": l2}],
                                     "tag": [{"@value": t} for t in tags]}, ensure_ascii=False))
        return ("\n".join(lines) + "\n").encode("utf-8")
    raise SettingError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")


def write_zip(preds: dict[str, dict], fmt: str, out: str | Path, order: list[str] | None = None) -> Path:
    """Write the zip (atomically) with the format's single results file; returns its path."""
    data = render(preds, fmt, order)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(MEMBER[fmt], data)
    atomic_write_bytes(out, buf.getvalue())
    return Path(out)
