"""C3D (Tran et al. 2015) with the state-dict layout of the public Sports-1M PyTorch port.

fc6 after ReLU: 4096-d per 16-frame clip. Input: 112x112 crops of frames resized to
128x171, BGR, Sports-1M mean subtracted, shape [K, 3, 16, 112, 112].
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import Backbone, empty_module, he_init, random_id, seeded_init, warn_random
from .resnet import center_crop
from .synthetic import synthetic_video
from .weights import find_weights, load_state_dict, load_strict
from ..video import C3D_CLIP_LEN as CLIP_LEN

SPORTS1M_MEAN_BGR = (90.25, 97.66, 101.41)
RESIZE_HW = (128, 171)
CROP = 112
ACTIVATED = ("conv1", "conv2", "conv3a", "conv3b", "conv4a", "conv4b", "conv5a", "conv5b", "fc6")


class C3DNet(nn.Module):
    """The network, with the port's keys (conv1 ... fc8); [K, 3, 16, 112, 112] -> fc6 [K, 4096]."""

    def __init__(self) -> None:
        super().__init__()
        conv = lambda i, o: nn.Conv3d(i, o, kernel_size=3, padding=1)  # noqa: E731
        self.conv1, self.conv2 = conv(3, 64), conv(64, 128)
        self.conv3a, self.conv3b = conv(128, 256), conv(256, 256)
        self.conv4a, self.conv4b = conv(256, 512), conv(512, 512)
        self.conv5a, self.conv5b = conv(512, 512), conv(512, 512)
        self.pool1 = nn.MaxPool3d((1, 2, 2), (1, 2, 2))
        self.pool = nn.MaxPool3d(2, 2)
        self.pool5 = nn.MaxPool3d(2, 2, padding=(0, 1, 1))
        self.fc6 = nn.Linear(8192, 4096)
        # fc7/fc8 are unused for fc6 features but kept so the port's file loads strictly
        self.fc7 = nn.Linear(4096, 4096)
        self.fc8 = nn.Linear(4096, 487)
        # one ReLU module per layer (no parameters): int8 conversion fuses each into its layer
        self.relu = nn.ModuleDict({n: nn.ReLU() for n in ACTIVATED})
        self.int8_unused = ("fc7", "fc8")

    def act(self, name: str, x: torch.Tensor) -> torch.Tensor:
        return self.relu[name](getattr(self, name)(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.pool1(self.act("conv1", x))
        h = self.pool(self.act("conv2", h))
        h = self.pool(self.act("conv3b", self.act("conv3a", h)))
        h = self.pool(self.act("conv4b", self.act("conv4a", h)))
        h = self.pool5(self.act("conv5b", self.act("conv5a", h)))
        return self.act("fc6", h.flatten(1))

    def fuse_groups(self) -> list[list[str]]:
        return [[n, f"relu.{n}"] for n in ACTIVATED]


class C3D(Backbone):
    name = "c3d"
    dim = 4096
    supports_int8 = True

    def __init__(self, net: C3DNet | None = None) -> None:
        super().__init__()
        self.net = net if net is not None else C3DNet()
        # a plain attribute, not a buffer: `inputs` runs on the CPU (decode threads) wherever the
        # network is, and a buffer would follow the network to the GPU
        self.mean = torch.tensor(SPORTS1M_MEAN_BGR).view(1, 3, 1, 1, 1)

    @classmethod
    def create(cls, weights: str = "pretrained", weights_dir=None, seed: int = 0, load: bool = True) -> "C3D":
        """`load=False` leaves the network's weights on the meta device (the int8 cache supplies its own)."""
        if weights == "random":
            warn_random("C3D", seed)
            if load:
                with seeded_init(seed):
                    model = cls(he_init(C3DNet()))
            else:
                model = cls(empty_module(C3DNet, materialize=False))
            model.weight_id = random_id(seed)
            return model
        path = find_weights("c3d", weights_dir)
        model = cls(empty_module(C3DNet, materialize=load))  # the file (or the int8 cache) supplies every weight
        if load:
            load_strict(model.net, load_state_dict(path), path, "C3D")
        model.weight_id = path.name
        model.weight_file = path
        return model

    def inputs(self, clips: np.ndarray) -> torch.Tensor:
        """uint8 [K, 16, H, W, 3] RGB -> float [K, 3, 16, 112, 112] BGR, mean-subtracted (0-255 scale)."""
        k, t, h, w, _ = clips.shape
        x = torch.from_numpy(np.ascontiguousarray(clips)).reshape(k * t, h, w, 3).permute(0, 3, 1, 2)
        # resized as uint8 (PyTorch's vectorised path, faster than float: docs/benchmarks.md; within one
        # grey level of the float resize), then to float for the mean subtraction
        x = F.interpolate(x, size=RESIZE_HW, mode="bilinear", align_corners=False, antialias=True)
        x = center_crop(x, CROP).flip(1).float()  # RGB -> BGR
        x = x.reshape(k, t, 3, CROP, CROP).permute(0, 2, 1, 3, 4)
        return (x - self.mean).contiguous()

    def calibration_inputs(self) -> torch.Tensor:
        video = synthetic_video()
        k = len(video) // CLIP_LEN
        return self.inputs(video[:k * CLIP_LEN].reshape(k, CLIP_LEN, *video.shape[1:]))
