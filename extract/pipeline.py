"""Decode videos (ahead, in threads) and run the backbones over frames batched across videos.

Used by `python -m extract` (writing a store) and by `caption.py` (in memory, no store).
"""
from __future__ import annotations

import collections
import dataclasses
import os
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from typing import Callable, Iterable, Iterator

import numpy as np
import torch

from .backbones import PRECISIONS, Backbone, build_backbone, random_id
from .backbones.weights import WEIGHTS_DIR_HELP
from .modalities import MODALITIES, REGISTRY, extractable
from s2vt.device import pick_device
from s2vt.errors import SettingError
from .ffmpeg import MediaError
from .media import Media, decode_media
from s2vt.options import MAX_BATCH, check_choices, setting
from s2vt.store import (ANY_WEIGHT_FILE, META_CHOICES, META_LIMITS, STORE_SCHEMA, FeatureStore, source_identity,
                        whole_number)
from .video import C3D_CLIP_LEN


def package_version() -> str:
    try:
        from importlib.metadata import version
        return version("s2vt")
    except Exception:  # not installed (running from a checkout)
        return "0+unknown"


@dataclasses.dataclass
class ExtractConfig:
    """Extraction settings; everything that changes the features is recorded in meta.json.
    `python -m extract`'s options are generated from these fields (s2vt/options.py)."""
    modalities: tuple[str, ...] = setting(MODALITIES, f"comma-separated subset of {','.join(MODALITIES)}")
    frames: int = setting(40, "frames sampled uniformly per video")
    clips: int = setting(8, "16-frame C3D clips per video")
    image_size: int = setting(224, "ResNet crop size (short side scaled to 256/224 of it)")
    weights: str = setting("pretrained", choices=("pretrained", "random"))
    weights_dir: str | None = setting(None, WEIGHTS_DIR_HELP)
    seed: int = setting(0, "seed for --weights random", minimum=-2 ** 63, maximum=2 ** 64 - 1)  # (torch's range)
    # one for every modality, or per modality (a checkpoint's record)
    precision: str | dict[str, str] = setting("auto", choices=PRECISIONS)
    dtype: str = setting("float16", choices=META_CHOICES["dtype"])
    device: str = "cpu"  # (python -m extract's --device defaults to the GPU when there is one)
    # one video's frames (the default --frames) in one network call
    batch_size: int = setting(40, "network batch (frames or clips)", minimum=1, maximum=MAX_BATCH)
    batch_videos: int = setting(4, "videos whose frames are batched together", minimum=1, maximum=MAX_BATCH)
    vggish_pca: bool = setting(False, "apply the official VGGish PCA post-processing")

    def __post_init__(self) -> None:
        check_choices(self)
        self.modalities = tuple(self.modalities)
        unknown = [m for m in self.modalities if m not in MODALITIES]
        if unknown or not self.modalities:
            raise SettingError(f"--modalities must be a non-empty subset of {','.join(MODALITIES)}, got {unknown}")
        # upper bounds keep a hand-edited checkpoint or a typo from asking for more frames than memory holds; the
        # limits a store's meta.json is read by (one home: a store of other values is refused when read)
        for name in ("frames", "clips", "image_size"):
            value, (low, high) = getattr(self, name), META_LIMITS[name]
            if not (isinstance(value, int) and not isinstance(value, bool) and low <= value <= high):
                raise SettingError(f"--{name.replace('_', '-')} must be {whole_number(low, high)}, not {value!r}")
        self.device = str(pick_device(self.device))  # DeviceError (one line) for a device this machine lacks
        if isinstance(self.precision, dict):
            self.precision = {m: self.precision.get(m, "auto") for m in self.modalities}

    def precision_of(self, modality: str) -> str:
        return self.precision[modality] if isinstance(self.precision, dict) else self.precision

    @property
    def short_side(self) -> int:
        """Frames are scaled so the short side is 256/224 of the crop size, as ImageNet eval does."""
        return int(round(self.image_size * 256 / 224 / 2) * 2)

    @classmethod
    def from_meta(cls, meta: dict, modalities, **overrides) -> "ExtractConfig":
        """The settings a store was extracted with (a checkpoint keeps a copy of its meta.json)."""
        if meta.get("synthetic"):
            raise SettingError("the checkpoint was trained on synthetic features (s2vt.synthetic), not on features "
                               "of videos: it cannot caption a video")
        ids = meta.get("backbones", {})
        if not ids and modalities:  # (a store without meta.json: "not extracted by this toolkit" was not so; trial)
            raise SettingError("the checkpoint records no extraction settings (the feature store it was trained on "
                               "had no meta.json, which records how its features were extracted), so they cannot be "
                               "computed for a new video")
        # (an import names its modality as it likes: features imported as `resnet152` are another program's, which
        # this toolkit's ResNet-152 would not reproduce)
        unknown = [m for m in modalities if m not in ids or not extractable(m, ids)]
        if unknown:
            one = len(unknown) == 1
            raise SettingError(f"{'modality' if one else 'modalities'} {', '.join(unknown)} "
                               f"{'was' if one else 'were'} not extracted from video by this toolkit, so "
                               f"{'it' if one else 'they'} cannot be computed for a new video")
        weights = "random" if any(str(ids[m]).startswith("random") for m in modalities) else "pretrained"
        # a setting the record leaves out (an older store's) takes its default
        kw = {k: meta[k] for k in ("frames", "clips", "image_size", "seed", "dtype", "vggish_pca") if k in meta}
        kw.update(modalities=tuple(modalities), weights=weights)
        if meta.get("precision"):
            kw["precision"] = dict(meta["precision"])
        return cls(**{**kw, **overrides})


def settings_meta(c: ExtractConfig) -> dict:
    """The part of a store's meta.json that the settings alone give (`Extractor.meta` adds what the
    backbones do): an existing store is checked against it before they load (seconds to minutes)."""
    return {"schema": STORE_SCHEMA, "frames": c.frames, "image_size": c.image_size, "clips": c.clips,
            "clip_len": C3D_CLIP_LEN, "sample_rate": 16000, "vggish_pca": c.vggish_pca, "seed": c.seed,
            "dtype": c.dtype,
            # (the weights, and a precision asked for, as the settings name them: `Extractor.meta` replaces them
            # with the backbones' own)
            "backbones": {m: random_id(c.seed) if c.weights == "random" else ANY_WEIGHT_FILE for m in c.modalities},
            "precision": {m: c.precision_of(m) for m in c.modalities if c.precision_of(m) != "auto"}}


@dataclasses.dataclass
class Decoded:
    """One video's backbone inputs (CPU tensors) and remarks, or the error that stopped it;
    `source`: the file's `source_identity` as it was decoded."""
    video_id: str
    path: str
    inputs: dict[str, torch.Tensor] = dataclasses.field(default_factory=dict)
    notes: list[str] = dataclasses.field(default_factory=list)
    error: str | None = None
    source: dict | None = None


class Extractor:
    """Holds the backbones (loaded once) and turns video files into feature arrays."""

    def __init__(self, cfg: ExtractConfig, wait: bool = True) -> None:
        """Start building the backbones; `wait=False` returns at once (`decode` can run meanwhile,
        and `backbones` waits for them, raising any build error there)."""
        self.cfg = cfg
        options = {m: {kw: getattr(cfg, field) for kw, field in REGISTRY[m].options} for m in cfg.modalities}
        # built side by side: loading, quantising and packing weights mostly run outside the GIL
        self._pool = ThreadPoolExecutor(len(cfg.modalities))
        self._building = {m: self._pool.submit(build_backbone, m, cfg.weights, cfg.weights_dir, cfg.seed,
                                               cfg.device, cfg.precision_of(m), **options[m])
                          for m in cfg.modalities}
        self._backbones: dict[str, Backbone] | None = None
        if wait:
            _ = self.backbones  # build errors surface from the constructor

    @property
    def backbones(self) -> dict[str, Backbone]:
        """The backbones by modality, waiting for them to be built the first time."""
        if self._backbones is None:
            try:
                self._backbones = {m: f.result() for m, f in self._building.items()}
            finally:
                self._pool.shutdown(wait=False)
        return self._backbones

    def meta(self) -> dict:
        """The store's meta.json for these settings."""
        return {**settings_meta(self.cfg),
                "backbones": {m: b.weight_id for m, b in self.backbones.items()},
                "dims": {m: b.dim for m, b in self.backbones.items()},
                "precision": {m: b.precision for m, b in self.backbones.items()},
                "version": package_version()}

    def _built(self) -> Iterator[tuple[str, Backbone]]:
        """(modality, backbone) pairs, each as soon as its build finishes; build errors raise here."""
        if self._backbones is not None:
            yield from self._backbones.items()
            return
        names = {f: m for m, f in self._building.items()}
        for f in as_completed(names):
            yield names[f], f.result()
        _ = self.backbones  # all built: keep them, free the build threads

    def _media(self, path: str, background: bool = False, max_seconds: float | None = None) -> Media:
        c = self.cfg
        return decode_media(path, c.modalities, c.frames, c.clips, c.short_side, background, max_seconds)

    def decode(self, video_id: str, path: str, background: bool = False) -> Decoded:
        """Decode one video to backbone inputs; a MediaError becomes `error` (never raised).

        `background` (decoding ahead of the networks): ffmpeg single-threaded at low priority.
        """
        # identity before decoding: a file that changes meanwhile is extracted again next run
        out = Decoded(video_id, path, source=source_identity(path))
        try:
            media = self._media(path, background)
        except MediaError as e:
            out.error = str(e)
            return out
        out.notes = media.notes
        for m, net in self._built():  # (the first videos decode while the backbones build)
            out.inputs[m] = net.inputs(media.of(m))
        return out

    def features(self, batch: list[Decoded]) -> list[dict[str, np.ndarray]]:
        """Run each backbone once over the inputs of several videos and split the result back."""
        results: list[dict[str, np.ndarray]] = [{} for _ in batch]
        for m, net in self._built():
            xs = [d.inputs[m] for d in batch]
            feats = net.embed(torch.cat(xs), self.cfg.batch_size)
            for r, chunk in zip(results, torch.split(feats, [len(x) for x in xs])):
                r[m] = chunk.numpy()
        return results

    def extract(self, path: str) -> dict[str, np.ndarray]:
        """Features of one file in memory (`caption.py`); MediaError if it cannot be decoded.

        Each backbone runs as soon as it is built: on a cold start the first features are
        computed while the slowest backbone is still loading.
        """
        return self.extract_media(path)[0]

    def extract_media(self, path: str, max_seconds: float | None = None) -> tuple[dict[str, np.ndarray], Media]:
        """`extract`, plus the decoded media (`s2vt serve` shows the sampled frames); `max_seconds`:
        see `decode_media`."""
        media = self._media(path, max_seconds=max_seconds)
        # as the store writes them (`FeatureStore.encode`: its dtype, float32 where float16 would lose the values):
        # the model sees what it would read from a store (evaluate); a plain cast made an overflowing value inf
        return {m: FeatureStore.encode(net.embed(net.inputs(media.of(m)), self.cfg.batch_size).numpy(), self.cfg.dtype)
                for m, net in self._built()}, media

    def iter_decoded(self, items: Iterable[tuple[str, str]], workers: int = 2) -> Iterator[Decoded]:
        """Decode `items` in order, `workers` videos ahead of the consumer (ffmpeg runs in parallel)."""
        pending: collections.deque[Future] = collections.deque()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for vid, path in items:
                pending.append(pool.submit(self.decode, vid, path, background=True))
                if len(pending) > workers + self.cfg.batch_videos:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()

    def run(self, items: list[tuple[str, str]], on_result: Callable[[Decoded, dict | None], None],
            workers: int = 2) -> None:
        """Extract `items`, calling on_result(decoded, features) per video (features None on failure)."""
        batch: list[Decoded] = []

        def flush() -> None:
            if batch:
                for d, feats in zip(batch, self.features(batch)):
                    on_result(d, feats)
                batch.clear()

        for d in self.iter_decoded(items, workers):
            if d.error:
                on_result(d, None)
                continue
            batch.append(d)
            if len(batch) >= self.cfg.batch_videos:
                flush()
        flush()


def default_workers() -> int:
    return max(1, min(4, (os.cpu_count() or 2)))
