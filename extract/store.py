"""The feature store: `meta.json` + `<modality>/<video_id>.npy`, atomic writes, resume, shards."""
from __future__ import annotations

import hashlib
import io
import json
import os
import time
from pathlib import Path

import numpy as np

from .errors import UserError
from .fileio import atomic_write_bytes, atomic_write_json
from .manifest import check_video_id

FP16_MAX = 65504.0
# settings that must agree between runs writing into one store (and with a checkpoint)
META_KEYS = ("frames", "image_size", "clips", "clip_len", "sample_rate", "vggish_pca")


class StoreError(UserError):
    """A store that cannot be used as asked; one line for the user."""


def stable_shard(video_id: str, num_shards: int) -> int:
    """Shard of a video: sha1 of its id modulo N (the same on every machine and run)."""
    return int(hashlib.sha1(video_id.encode()).hexdigest(), 16) % num_shards


def parse_shard(text: str) -> tuple[int, int]:
    """'I/N' with 0 <= I < N -> (I, N)."""
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard must look like I/N (e.g. 0/4), not {text!r}") from None
    if not (n >= 1 and 0 <= i < n):
        raise ValueError(f"--shard {text}: need 0 <= I < N")
    return i, n


class FeatureStore:
    """A folder of per-video, per-modality feature arrays."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)

    @property
    def meta_path(self) -> Path:
        return self.root / "meta.json"

    def meta(self) -> dict:
        """meta.json's content ({} for a store without one, e.g. LIC2022's tsn folders)."""
        if not self.meta_path.is_file():
            return {}
        try:
            return json.loads(self.meta_path.read_text())
        except json.JSONDecodeError as e:
            raise StoreError(f"{self.meta_path}: not valid JSON ({e.msg})") from None

    def path(self, modality: str, video_id: str) -> Path:
        check_video_id(video_id)
        check_video_id(modality)
        return self.root / modality / f"{video_id}.npy"

    def has(self, modality: str, video_id: str) -> bool:
        return self.path(modality, video_id).is_file()

    def done(self, video_id: str, modalities) -> bool:
        """True when every modality's file for this video exists (resume skips it)."""
        return all(self.has(m, video_id) for m in modalities)

    def modalities(self) -> list[str]:
        """Modality folders present in the store."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))

    def read(self, modality: str, video_id: str) -> np.ndarray:
        """[T, D] features as float32."""
        return np.load(self.path(modality, video_id), allow_pickle=False).astype(np.float32, copy=False)

    def write(self, modality: str, video_id: str, array: np.ndarray, dtype: str = "float16") -> None:
        """Save [T, D] atomically; float16 falls back to float32 where values would overflow."""
        array = np.asarray(array, dtype=np.float32)
        if dtype == "float16" and (array.size == 0 or np.abs(array).max() < FP16_MAX):
            array = array.astype(np.float16)
        buf = io.BytesIO()
        np.save(buf, array, allow_pickle=False)
        atomic_write_bytes(self.path(modality, video_id), buf.getvalue())

    def init_meta(self, meta: dict) -> dict:
        """Create meta.json, or check an existing one agrees and merge new modalities into it."""
        self.root.mkdir(parents=True, exist_ok=True)
        old = self.meta()
        if old:
            for key in META_KEYS:
                if key in old and key in meta and old[key] != meta[key]:
                    raise StoreError(f"{self.meta_path}: store was extracted with {key}={old[key]!r}, "
                                     f"this run asks {meta[key]!r}; use another --out")
            for name, wid in meta.get("backbones", {}).items():
                if old.get("backbones", {}).get(name, wid) != wid:
                    raise StoreError(f"{self.meta_path}: {name} features come from {old['backbones'][name]}, "
                                     f"this run uses {wid}; use another --out")
            merged = {**old, **meta, **{k: {**old.get(k, {}), **meta.get(k, {})}
                                        for k in ("backbones", "dims", "precision") if k in meta}}
        else:
            merged = meta
        if merged != old:
            atomic_write_json(self.meta_path, merged)
        return merged

    def _append(self, name: str, record: dict) -> None:
        # one short line per write with O_APPEND: concurrent shards do not interleave lines
        line = json.dumps({**record, "time": time.strftime("%Y-%m-%dT%H:%M:%S")}, ensure_ascii=False) + "\n"
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / name, "a", encoding="utf-8") as f:
            f.write(line)

    def log_failure(self, video_id: str, path: str, reason: str) -> None:
        """Record a video that could not be extracted in failures.jsonl."""
        self._append("failures.jsonl", {"video_id": video_id, "path": path, "reason": reason})

    def note(self, video_id: str, note: str) -> None:
        """Record a non-fatal remark (e.g. no audio track) in notes.jsonl."""
        self._append("notes.jsonl", {"video_id": video_id, "note": note})
