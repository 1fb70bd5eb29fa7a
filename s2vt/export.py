"""Competition files: one results file per format, zipped under a fixed member name."""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from .errors import SettingError
from .fileio import atomic_write_bytes
from .formats import coco_results, lic2022_record, msrvtt_results
from .manifest import check_video_id
from .results import check_captions

FORMATS = ("coco", "msrvtt", "lic2022")
CAPTION_FORMATS = ("coco", "msrvtt")  # (lic2022 holds tags only)
MEMBER = {"coco": "results.json", "msrvtt": "results.json", "lic2022": "result.txt"}


def render(preds: dict[str, dict], fmt: str, order: list[str] | None = None) -> bytes:
    """The results file's bytes. `order` (manifest order) is required for lic2022."""
    for vid in list(preds) + list(order or []):
        check_video_id(vid)
    if fmt in CAPTION_FORMATS:
        check_captions(preds, "export", f"export as {fmt} captions")
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
    raise SettingError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")


def write_zip(preds: dict[str, dict], fmt: str, out: str | Path, order: list[str] | None = None) -> Path:
    """Write the zip (atomically) with the format's single results file; returns its path."""
    data = render(preds, fmt, order)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(MEMBER[fmt], data)
    atomic_write_bytes(out, buf.getvalue())
    return Path(out)
