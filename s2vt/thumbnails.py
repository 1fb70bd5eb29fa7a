"""Small JPEG thumbnails of sampled frames, as data URLs: the strips of `s2vt serve`'s page and
of `s2vt evaluate --html`."""
from __future__ import annotations

import base64
import io

import numpy as np

THUMB_HEIGHT = 90


def thumbnails(frames: np.ndarray | None, times: np.ndarray | None, count: int,
               height: int = THUMB_HEIGHT) -> list[dict]:
    """Up to `count` evenly spaced frames of uint8 [N, H, W, 3] as {"t": seconds, "src": JPEG data URL}."""
    from PIL import Image  # (a matplotlib and torchvision dependency)

    if frames is None or times is None or count <= 0 or len(frames) == 0:
        return []
    out = []
    for i in np.unique(np.linspace(0, len(frames) - 1, min(count, len(frames))).round().astype(int)):
        img = Image.fromarray(frames[i])
        img = img.resize((max(2, round(img.width * height / img.height)), height), Image.BILINEAR)
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=80)
        out.append({"t": round(float(times[i]), 3),
                    "src": "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()})
    return out
