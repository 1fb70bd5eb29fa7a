"""`--device` for every command: one check that the device exists on this machine."""
from __future__ import annotations

import contextlib
import os

import torch

from .errors import UserError


# every command's --device default (train, caption, evaluate, serve): a GPU when there is one, as
# the README promises; extract's own default picks the GPU the same way
DEFAULT_DEVICE = "auto"
DEVICE_HELP = "auto (a CUDA GPU when there is one, else the CPU), cpu, cuda or cuda:N"


class DeviceError(UserError):
    """A --device that is not a device, or not on this machine; one line for the user."""


def pick_device(name: str) -> torch.device:
    """The torch device for --device: auto (a GPU when there is one, else the CPU), cpu, cuda or cuda:N
    (cpu:N is taken for cpu).

    A bare `cuda` under torchrun means this process's GPU (LOCAL_RANK), as `auto` does.
    """
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if name == "auto":
        return torch.device("cuda", local) if torch.cuda.is_available() else torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise DeviceError(f"--device {name}: not a device (auto, cpu, cuda or cuda:N)") from None
    if device.type == "cpu":  # (cpu:N is valid torch, and the one CPU: a map_location of "cpu:N" fails to
        return torch.device("cpu")  # load any checkpoint, "don't know how to restore data location")
    if device.type != "cuda":
        raise DeviceError(f"--device {name}: not supported (auto, cpu, cuda or cuda:N)")
    if not torch.cuda.is_available():
        raise DeviceError(f"--device {name}: no CUDA GPU is available")
    index = local if device.index is None else device.index
    if index >= torch.cuda.device_count():
        raise DeviceError(f"--device {name}: there is no GPU {index} ({torch.cuda.device_count()} found)")
    return torch.device("cuda", index)


class _SkipNormalOnMeta(torch.overrides.TorchFunctionMode):
    """`normal_` on a meta tensor does nothing (there is nothing to draw): torch runs it through its
    Python reference, whose first call imports torch._dynamo, seconds of a cold start."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in (torch.Tensor.normal_, torch.nn.init.normal_):
            tensor = args[0] if args else kwargs.get("tensor", kwargs.get("self"))
            if getattr(tensor, "is_meta", False):
                return tensor
        return func(*args, **kwargs)


@contextlib.contextmanager
def on_meta():
    """Build modules on the meta device: shapes only, no random initialisation (their weights are
    given next), and no draw from torch's global random generator."""
    with torch.device("meta"), _SkipNormalOnMeta():
        yield
