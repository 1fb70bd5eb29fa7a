"""Feature backbones, one small module each; `build_backbone` picks one by modality name."""
from __future__ import annotations

import contextlib
import warnings

import torch
from torch import nn

MODALITIES = ("resnet152", "c3d", "vggish")


def bf16_native(device: torch.device) -> bool:
    """True where bf16 matmuls run in hardware (CUDA, or CPUs with AVX512-BF16/AMX).

    Measured on a 2-core AVX-512 CPU *without* BF16 units: bf16 autocast ran ResNet-152 at
    2.4 img/s against fp32's 5.6, so 'auto' only picks bf16 where the hardware has it.
    """
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    cpu = getattr(torch, "cpu", None)
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(cpu, c, lambda: False)() for c in checks)


def resolve_precision(precision: str, device: torch.device) -> str:
    """'auto' -> 'bf16' on bf16 hardware else 'fp32'; 'fp32'/'bf16' pass through."""
    if precision not in ("auto", "fp32", "bf16"):
        raise ValueError(f"precision must be auto, fp32 or bf16, not {precision!r}")
    if precision == "auto":
        return "bf16" if bf16_native(device) else "fp32"
    return precision


def seeded_init(seed: int):
    """Context in which module construction draws from a private, seeded RNG."""
    stack = contextlib.ExitStack()
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


def warn_random(name: str, seed: int) -> None:
    """The loud warning every random-weight backbone gives."""
    warnings.warn(f"{name}: using SEEDED RANDOM weights (seed {seed}), not pretrained ones: "
                  "features carry no learned semantics", stacklevel=3)


class Backbone(nn.Module):
    """A feature network plus the preprocessing that turns decoded media into its input."""
    name: str = ""
    dim: int = 0

    def __init__(self) -> None:
        super().__init__()
        self.weight_id = "random"
        self.precision = "fp32"

    @torch.inference_mode()
    def embed(self, x: torch.Tensor, batch_size: int = 32) -> torch.Tensor:
        """Run the network over `x` in chunks; float32 output on the CPU."""
        device = next(self.parameters()).device
        outs = []
        for chunk in torch.split(x, batch_size):
            chunk = chunk.to(device, non_blocking=True)
            if chunk.dim() == 4:
                chunk = chunk.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16"):
                outs.append(self(chunk).float().cpu())
        return torch.cat(outs) if outs else torch.zeros(0, self.dim)


def build_backbone(name: str, weights: str = "pretrained", weights_dir=None, seed: int = 0,
                   device: str | torch.device = "cpu", precision: str = "auto", **options) -> Backbone:
    """Construct a backbone by modality name with pretrained or seeded random weights."""
    if weights not in ("pretrained", "random"):
        raise ValueError(f"weights must be 'pretrained' or 'random', not {weights!r}")
    if name == "resnet152":
        from .resnet import ResNet152 as cls
    elif name == "c3d":
        from .c3d import C3D as cls
    elif name == "vggish":
        from .vggish import VGGish as cls
    else:
        raise ValueError(f"unknown modality {name!r}; choose from {', '.join(MODALITIES)}")
    device = torch.device(device)
    model = cls.create(weights=weights, weights_dir=weights_dir, seed=seed, **options)
    model.precision = resolve_precision(precision, device)
    model = model.eval().to(device)
    if name == "resnet152":
        model = model.to(memory_format=torch.channels_last)
    return model
