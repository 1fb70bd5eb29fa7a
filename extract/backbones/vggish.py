"""VGGish (Hershey et al. 2017) with the public PyTorch port's keys: `features.*`, `embeddings.*`.

Like the current official model, there is no ReLU after the final 128-d layer. Optional
PCA post-processing with the official parameters (`pca_eigen_vectors`, `pca_means`).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import Backbone, empty_module, he_init, seeded_init, warn_random
from .weights import find_weights, load_state_dict

QUANTIZE_MIN, QUANTIZE_MAX = -2.0, 2.0


def _features() -> nn.Sequential:
    layers: list[nn.Module] = []
    channels = 1
    for v in (64, "M", 128, "M", 256, 256, "M", 512, 512, "M"):
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(channels, v, 3, padding=1), nn.ReLU(inplace=True)]
            channels = v
    return nn.Sequential(*layers)


def _embeddings() -> nn.Sequential:
    return nn.Sequential(nn.Linear(512 * 4 * 6, 4096), nn.ReLU(True), nn.Linear(4096, 4096), nn.ReLU(True),
                         nn.Linear(4096, 128))


def load_pca(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(eigen_vectors [128, 128], means [128]) from the official .npz or the port's .pth."""
    if path.suffix == ".npz":
        with np.load(path) as f:
            return f["pca_eigen_vectors"].astype(np.float32), f["pca_means"].reshape(-1).astype(np.float32)
    state = torch.load(path, map_location="cpu", weights_only=True)
    return (np.asarray(state["pca_eigen_vectors"], np.float32),
            np.asarray(state["pca_means"], np.float32).reshape(-1))


class VGGish(Backbone):
    name = "vggish"
    dim = 128
    channels_last = True

    def __init__(self, pca: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        super().__init__()
        # no default initialisation: he_init or the weight file sets every weight (saves ~0.6 s)
        self.features = empty_module(_features)
        self.embeddings = empty_module(_embeddings)
        self.pca = pca is not None
        if pca is not None:
            self.register_buffer("pca_vectors", torch.from_numpy(pca[0]), persistent=False)
            self.register_buffer("pca_means", torch.from_numpy(pca[1]), persistent=False)

    @classmethod
    def create(cls, weights: str = "pretrained", weights_dir=None, seed: int = 0,
               pca: bool = False) -> "VGGish":
        pca_params = load_pca(find_weights("vggish_pca", weights_dir)) if pca else None
        if weights == "random":
            warn_random("VGGish", seed)
            with seeded_init(seed):
                model = he_init(cls(pca_params))
            model.weight_id = f"random(seed={seed})"
            return model
        path = find_weights("vggish", weights_dir)
        model = cls(pca_params)
        state = {k: v for k, v in load_state_dict(path).items() if not k.startswith("pca_")}
        model.load_state_dict(state, strict=True)
        model.weight_id = path.name
        return model

    def inputs(self, examples: np.ndarray) -> torch.Tensor:
        """float [A, 96, 64] log-mel examples -> [A, 1, 96, 64]."""
        return torch.from_numpy(np.ascontiguousarray(examples, dtype=np.float32)).unsqueeze(1)

    def postprocess(self, emb: torch.Tensor) -> torch.Tensor:
        """Official post-processing: PCA, clip to [-2, 2], quantise to 0..255 (kept as float)."""
        x = (emb - self.pca_means) @ self.pca_vectors.T
        x = x.clamp(QUANTIZE_MIN, QUANTIZE_MAX)
        return torch.round((x - QUANTIZE_MIN) * (255.0 / (QUANTIZE_MAX - QUANTIZE_MIN)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        # [B, C, H, W] -> [B, H, W, C] before flattening, as the TF model's layout
        x = x.permute(0, 2, 3, 1).flatten(1)
        x = self.embeddings(x)
        return self.postprocess(x.float()) if self.pca else x
