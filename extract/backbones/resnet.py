"""ResNet-152 (torchvision), global-average-pooled pool5 features: 2048-d per frame."""
from __future__ import annotations

import numpy as np
import torch
import torchvision
from torch import nn

from . import Backbone, seeded_init, warn_random
from .weights import find_weights, load_state_dict

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def center_crop(x: torch.Tensor, size: int) -> torch.Tensor:
    """Centre crop the last two dims of `x` to size x size."""
    h, w = x.shape[-2:]
    top, left = (h - size) // 2, (w - size) // 2
    return x[..., top:top + size, left:left + size]


class ResNet152(Backbone):
    name = "resnet152"
    dim = 2048

    def __init__(self, net: nn.Module, image_size: int = 224) -> None:
        super().__init__()
        net.fc = nn.Identity()
        self.net = net
        self.image_size = image_size
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    @classmethod
    def create(cls, weights: str = "pretrained", weights_dir=None, seed: int = 0,
               image_size: int = 224) -> "ResNet152":
        if weights == "random":
            warn_random("ResNet-152", seed)
            # zero-init residual branches keep random activations bounded through 50 blocks
            with seeded_init(seed):
                net = torchvision.models.resnet152(weights=None, zero_init_residual=True)
            model = cls(net, image_size)
            model.weight_id = f"random(seed={seed})"
            return model
        path = find_weights("resnet152", weights_dir)
        net = torchvision.models.resnet152(weights=None)
        net.load_state_dict(load_state_dict(path), strict=True)
        model = cls(net, image_size)
        model.weight_id = path.name
        return model

    def inputs(self, frames: np.ndarray) -> torch.Tensor:
        """uint8 [N, H, W, 3] RGB (short side already scaled) -> [N, 3, S, S] uint8, centre-cropped."""
        x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)
        return center_crop(x, self.image_size).contiguous()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x.float() / 255.0 - self.mean) / self.std
        return self.net(x)
