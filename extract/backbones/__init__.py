"""Feature backbones, one small module each; `build_backbone` picks one by modality name."""
from __future__ import annotations

import contextlib
import importlib
import threading
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from s2vt.device import on_meta
from s2vt.errors import SettingError
from s2vt.store import META_CHOICES
from ..modalities import MODALITIES, REGISTRY


def bf16_native(device: torch.device) -> bool:
    """True where bf16 matmuls run in hardware (CUDA, or CPUs with AVX512-BF16/AMX).

    Without BF16 units bf16 autocast ran ResNet-152 slower than fp32 (docs/benchmarks.md), so
    'auto' only picks bf16 where the hardware has it.
    """
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return cpu_supports("avx512_bf16") or cpu_supports("amx_tile")


def cpu_supports(feature: str) -> bool:
    """Whether this CPU has `feature` (avx2, vnni, avx512_bf16, amx_tile, ...), as PyTorch's own
    CPU detection reports it; False where this PyTorch cannot tell."""
    return getattr(getattr(torch, "cpu", None), f"_is_{feature}_supported", lambda: False)()


PRECISIONS = META_CHOICES["precision"]  # (a store's meta.json records one: declared with its other values)


def resolve_precision(precision: str, device: torch.device, supports_int8: bool = True) -> str:
    """'auto' -> int8 on an x86 CPU (for backbones that have it), else bf16 on bf16 hardware, else fp32.

    int8 comes first on a CPU even where it has bf16 units: it measured faster than bf16
    autocast there (docs/benchmarks.md, "Precision"). An int8 backbone checks itself against
    fp32 when it is calibrated and falls back to fp32 if its features drift.
    """
    if precision not in PRECISIONS:
        raise SettingError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    if precision == "int8" and device.type != "cpu":
        raise SettingError("--precision int8 runs on the CPU only; use bf16 or fp32 on a GPU")
    if precision == "auto":
        from . import int8
        if device.type == "cpu" and supports_int8 and int8.available():
            return "int8"
        return "bf16" if bf16_native(device) else "fp32"
    if precision == "int8" and not supports_int8:
        return "fp32"
    return precision


_RNG_LOCK = threading.Lock()


def seeded_init(seed: int):
    """Context in which module construction draws from a private, seeded RNG.

    Holds a lock: backbones are built in parallel threads, and two seeded constructions
    sharing the global RNG at once would interleave their draws.
    """
    stack = contextlib.ExitStack()
    stack.enter_context(_RNG_LOCK)
    stack.enter_context(torch.random.fork_rng(devices=[]))
    torch.manual_seed(seed)
    return stack


def he_init(model: nn.Module) -> nn.Module:
    """He (Kaiming) normal weights and zero biases for every conv and linear layer.

    Keeps ReLU activations at a stable scale through deep plain stacks (C3D, VGGish), where
    PyTorch's default init shrinks them layer after layer.
    """
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Conv3d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            nn.init.zeros_(m.bias)
    return model


def empty_module(factory: Callable[[], nn.Module], materialize: bool = True) -> nn.Module:
    """Build a module with zeroed tensors, skipping random initialisation (for weights loaded next).

    `materialize=False` leaves every tensor on the meta device (shapes only), for a network
    whose layers are all replaced next, as loading a cached int8 network does.
    """
    with on_meta():
        module = factory()
    if not materialize:
        return module
    # zeros allocated directly, not `to_empty`: its meta-tensor path imports sympy (a measurable
    # part of caption.py's cold start, holding the GIL while the other backbones build;
    # docs/benchmarks.md, "Measurements behind choices in the code")
    for m in module.modules():
        for name, p in m._parameters.items():
            if p is not None:
                m._parameters[name] = nn.Parameter(torch.zeros(p.shape, dtype=p.dtype), p.requires_grad)
        for name, b in m._buffers.items():
            if b is not None:
                m._buffers[name] = torch.zeros(b.shape, dtype=b.dtype)
    return module


def random_id(seed: int) -> str:
    """The weight id of a backbone of seeded random weights, as meta.json records it (`s2vt.store.weights_differ`
    reads the seed back for extract's advice)."""
    return f"random(seed={seed})"


def warn_random(name: str, seed: int) -> None:
    """The loud warning every random-weight backbone gives."""
    warnings.warn(f"{name}: using SEEDED RANDOM weights (seed {seed}), not pretrained ones: "
                  "features carry no learned semantics", stacklevel=3)


class Backbone(nn.Module):
    """A feature network (`net`) plus the preprocessing that turns decoded media into its input.

    `inputs` (decoded media -> tensor) runs in the decode threads; `normalize` (cheap, on the
    batch) then `net` run in `embed`. int8 quantisation replaces `net` only.
    A backbone sets `name` (its modality), `dim` (its feature size) and defines `create` and `inputs`
    (c3d.py is a small example); its modality's entry in extract/modalities.py names it.
    """
    name: str = ""
    dim: int = 0
    supports_int8 = False
    # 2-D conv nets run faster channels-last on CPU (docs/benchmarks.md, "Measurements behind choices")
    channels_last = False
    net: nn.Module

    def __init__(self) -> None:
        super().__init__()
        self.weight_id = "random"
        self.weight_file: Path | None = None
        self.precision = "fp32"
        self.int8_cosine: float | None = None  # int8 vs fp32 on held-out calibration frames

    @classmethod
    def create(cls, weights: str = "pretrained", weights_dir=None, seed: int = 0, load: bool = True,
               **options) -> Backbone:
        """The backbone with its weights: "pretrained" from its file in `weights_dir` (`weights.find_weights`, a
        one-line error when missing), or "random", seeded with `seed` (saying so, `warn_random`); `weight_id` set
        to the file's name or `random_id(seed)`, which a store's meta.json records. `load=False` leaves the
        network's weights on the meta device (the int8 cache supplies its own). `options`: the modality's
        entry's options (`Modality.options`, e.g. resnet152's `image_size`)."""
        raise NotImplementedError(f"{cls.__name__} defines no create()")

    def inputs(self, media: np.ndarray) -> torch.Tensor:
        """The decoded media its modality reads (`Modality.reads`: frames uint8 [N, H, W, 3] RGB, clips uint8
        [K, 16, H, W, 3], or examples float [E, 96, 64] log-mel) -> the network's input batch, on the CPU."""
        raise NotImplementedError(f"{type(self).__name__} defines no inputs()")

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """Network-input normalisation applied to a batch of `inputs` (identity by default)."""
        return x

    def calibration_inputs(self) -> torch.Tensor:
        """`inputs` built from synthetic media (`synthetic`), for int8 calibration."""
        raise NotImplementedError(f"{self.name} has no int8 calibration")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.normalize(x))

    @torch.inference_mode()
    def embed(self, x: torch.Tensor, batch_size: int = 32) -> torch.Tensor:
        """Run the network over `x` in chunks; float32 output on the CPU."""
        # int8 networks keep their weights packed, not as parameters, and run on the CPU
        if len(x) == 0:  # (a video without audio has no VGGish examples)
            return torch.zeros(0, self.dim)
        device = next(self.parameters(), torch.empty(0)).device
        outs = []
        for chunk in torch.split(x, batch_size):
            chunk = chunk.to(device, non_blocking=True)
            if self.channels_last:
                chunk = chunk.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16"):
                outs.append(self(chunk).float().cpu())
        return torch.cat(outs)


def build_backbone(name: str, weights: str = "pretrained", weights_dir=None, seed: int = 0,
                   device: str | torch.device = "cpu", precision: str = "auto", **options) -> Backbone:
    """Construct a backbone by modality name with pretrained or seeded random weights."""
    if weights not in ("pretrained", "random"):
        raise SettingError(f"weights must be 'pretrained' or 'random', not {weights!r}")
    if name not in REGISTRY:
        raise SettingError(f"unknown modality {name!r}; choose from {', '.join(MODALITIES)}")
    cls = getattr(importlib.import_module(f".{REGISTRY[name].module}", __package__), REGISTRY[name].backbone)
    device = torch.device(device)
    precision = resolve_precision(precision, device, cls.supports_int8)
    if precision == "int8":
        from .int8 import build_int8
        model = build_int8(cls, weights, weights_dir, seed, **options)
        if model is not None:
            return model
        precision = "fp32"
    model = cls.create(weights=weights, weights_dir=weights_dir, seed=seed, **options)
    model.precision = precision
    model = model.eval().to(device)
    if model.channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model
