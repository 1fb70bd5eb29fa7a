"""Synthetic feature stores with planted signals, for tests and benchmarks (no videos needed)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .fileio import atomic_write_json
from .manifest import write_manifest
from .store import FeatureStore

COLOURS = ("red", "green", "blue", "yellow")
MOTIONS = ("left", "right", "up")


def make_store(out: str | Path, videos: int = 120, shapes: dict[str, tuple[int, int]] | None = None,
               signal: bool = True, seed: int = 0, dtype: str = "float16") -> tuple[Path, Path]:
    """Write `out/manifest.jsonl` and `out/features/` with random features; returns (manifest, store).

    Captions read "a <colour> square moves <motion>" and the tag is the motion. With
    `signal`, the colour is planted in feature dim 0 of the first modality and the motion
    in dim 1 of the last one; without it the features carry nothing about either.
    """
    shapes = shapes or {"frames": (10, 32), "audio": (5, 16)}
    rng = np.random.default_rng(seed)
    out = Path(out)
    store = FeatureStore(out / "features")
    names = list(shapes)
    entries = []
    for i in range(videos):
        colour, motion = COLOURS[i % len(COLOURS)], MOTIONS[(i // len(COLOURS)) % len(MOTIONS)]
        vid = f"syn{i:05d}"
        for m, (t, d) in shapes.items():
            x = rng.standard_normal((t, d)).astype(np.float32)
            if signal and m == names[0]:
                x[:, 0] += 3.0 * (COLOURS.index(colour) - 1.5)
            if signal and m == names[-1]:
                x[:, 1] += 3.0 * (MOTIONS.index(motion) - 1.0)
            store.write(m, vid, x, dtype)
        split = "val" if i % 7 == 0 else "test" if i % 7 == 1 else "train"  # 7 is coprime to 4 and 3
        entries.append({"video_id": vid, "split": split, "captions": [f"a {colour} square moves {motion}"],
                        "tags": [motion]})
    atomic_write_json(store.meta_path, {"frames": shapes[names[0]][0], "synthetic": True,
                                        "dims": {m: d for m, (_, d) in shapes.items()},
                                        "backbones": {m: "synthetic" for m in names}})
    manifest = out / "manifest.jsonl"
    write_manifest(entries, manifest)
    return manifest, store.root
