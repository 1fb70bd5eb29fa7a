"""ResNet-152 (torchvision's architecture and weights), global-average-pooled pool5: 2048-d per frame.

The network is defined here with torchvision's module names, so torchvision's state dicts
load strictly (a test checks the outputs equal `torchvision.models.resnet152`'s). Two
reasons not to import torchvision on the hot path: importing it costs seconds of
`caption.py`'s cold start (it pulls in torch._dynamo; docs/benchmarks.md), and int8 quantisation needs a
separate ReLU per use and a quantisable residual add, which torchvision's float model lacks.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.ao.nn.quantized import FloatFunctional

from . import Backbone, empty_module, random_id, seeded_init, warn_random
from .synthetic import synthetic_video
from .weights import find_weights, load_state_dict, load_strict

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
BLOCKS = (3, 8, 36, 3)


def center_crop(x: torch.Tensor, size: int) -> torch.Tensor:
    """Centre crop the last two dims of `x` to size x size."""
    h, w = x.shape[-2:]
    top, left = (h - size) // 2, (w - size) // 2
    return x[..., top:top + size, left:left + size]


def _conv_bn(cin: int, cout: int, k: int, stride: int = 1) -> tuple[nn.Conv2d, nn.BatchNorm2d]:
    return nn.Conv2d(cin, cout, k, stride, padding=k // 2, bias=False), nn.BatchNorm2d(cout)


class Bottleneck(nn.Module):
    """torchvision's Bottleneck (stride on the 3x3 conv, ResNet v1.5)."""

    def __init__(self, cin: int, width: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1, self.bn1 = _conv_bn(cin, width, 1)
        self.conv2, self.bn2 = _conv_bn(width, width, 3, stride)
        self.conv3, self.bn3 = _conv_bn(width, width * 4, 1)
        self.relu1, self.relu2 = nn.ReLU(), nn.ReLU()
        self.downsample = None
        if stride != 1 or cin != width * 4:
            self.downsample = nn.Sequential(*_conv_bn(cin, width * 4, 1, stride))
        self.add_relu = FloatFunctional()  # becomes a quantised add+relu after int8 conversion

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.relu2(self.bn2(self.conv2(out)))
        return self.add_relu.add_relu(self.bn3(self.conv3(out)), identity)

    def fuse_groups(self) -> list[list[str]]:
        groups = [["conv1", "bn1", "relu1"], ["conv2", "bn2", "relu2"], ["conv3", "bn3"]]
        return groups + ([["downsample.0", "downsample.1"]] if self.downsample is not None else [])


class ResNet152Net(nn.Module):
    """The ResNet-152 trunk up to global average pooling (no fc): [N, 3, S, S] -> [N, 2048]."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.bn1 = _conv_bn(3, 64, 7, 2)
        self.conv1.padding = (3, 3)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        cin = 64
        for i, (n, width) in enumerate(zip(BLOCKS, (64, 128, 256, 512))):
            blocks = []
            for j in range(n):
                blocks.append(Bottleneck(cin, width, 2 if j == 0 and i > 0 else 1))
                cin = width * 4
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
        self.avgpool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.avgpool(x).flatten(1)

    def fuse_groups(self) -> list[list[str]]:
        """Module-name groups (conv, bn[, relu]) that int8 conversion fuses into one op."""
        groups = [["conv1", "bn1", "relu"]]
        for name, m in self.named_modules():
            if isinstance(m, Bottleneck):
                groups += [[f"{name}.{n}" for n in g] for g in m.fuse_groups()]
        return groups

    def int8_residual_adds(self) -> list[tuple[str, str]]:
        """(conv, add+relu) module names that int8 on oneDNN runs as one op."""
        return [(f"{name}.conv3", f"{name}.add_relu") for name, m in self.named_modules()
                if isinstance(m, Bottleneck)]


def torchvision_state(seed: int) -> dict:
    """torchvision's seeded random ResNet-152 (zero-init residuals), fc dropped."""
    import torchvision  # only for random weights: keeps them bit-identical to torchvision's
    with seeded_init(seed):
        # zero-init residual branches keep random activations bounded through 50 blocks
        net = torchvision.models.resnet152(weights=None, zero_init_residual=True)
    return net.state_dict()


class ResNet152(Backbone):
    name = "resnet152"
    dim = 2048
    supports_int8 = True
    channels_last = True

    def __init__(self, image_size: int = 224, net: ResNet152Net | None = None) -> None:
        super().__init__()
        self.net = net if net is not None else ResNet152Net()
        self.image_size = image_size
        # (x / 255 - mean) / std as one multiply-add: one pass over the batch instead of three
        mean, std = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
        self.register_buffer("scale", 1 / (255 * std), persistent=False)
        self.register_buffer("shift", -mean / std, persistent=False)

    @classmethod
    def create(cls, weights: str = "pretrained", weights_dir=None, seed: int = 0, load: bool = True,
               image_size: int = 224) -> "ResNet152":
        """`load=False` leaves the network's weights on the meta device (the int8 cache supplies its own)."""
        # every weight is overwritten or unused
        model = cls(image_size, empty_module(ResNet152Net, materialize=load))
        if weights == "random":
            warn_random("ResNet-152", seed)
            model.weight_id = random_id(seed)
            state = torchvision_state(seed) if load else None
        else:
            path = find_weights("resnet152", weights_dir)
            model.weight_id = path.name
            model.weight_file = path
            state = load_state_dict(path) if load else None
        if state is not None:
            load_strict(model.net, {k: v for k, v in state.items() if not k.startswith("fc.")},
                        model.weight_file or model.weight_id, "ResNet-152")
        return model

    def inputs(self, frames: np.ndarray) -> torch.Tensor:
        """uint8 [N, H, W, 3] RGB (short side already scaled) -> [N, 3, S, S] uint8, centre-cropped."""
        x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)
        return center_crop(x, self.image_size).contiguous()

    def calibration_inputs(self) -> torch.Tensor:
        height = max(256, 2 * self.image_size)  # larger crops need larger frames
        return self.inputs(synthetic_video(height=height, width=height * 16 // 9))

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return torch.addcmul(self.shift, x.float(), self.scale)
