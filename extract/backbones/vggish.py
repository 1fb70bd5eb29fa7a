"""VGGish (Hershey et al. 2017) with the public PyTorch port's keys: `features.*`, `embeddings.*`.

Like the current official model, there is no ReLU after the final 128-d layer. Optional
PCA post-processing with the official parameters (`pca_eigen_vectors`, `pca_means`).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import Backbone, empty_module, he_init, random_id, seeded_init, warn_random
from ..audio import SAMPLE_RATE, log_mel_examples
from .synthetic import synthetic_audio
from .weights import BadWeights, find_weights, load_state_dict, load_strict, load_weights_file

QUANTIZE_MIN, QUANTIZE_MAX = -2.0, 2.0


class VGGishNet(nn.Module):
    """The network with the port's keys: log-mel [A, 1, 96, 64] -> [A, 128] (no final ReLU)."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 1
        for v in (64, "M", 128, "M", 256, 256, "M", 512, 512, "M"):
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(channels, v, 3, padding=1), nn.ReLU(inplace=True)]
                channels = v
        self.features = nn.Sequential(*layers)
        self.embeddings = nn.Sequential(nn.Linear(512 * 4 * 6, 4096), nn.ReLU(True), nn.Linear(4096, 4096),
                                        nn.ReLU(True), nn.Linear(4096, 128))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        # [B, C, H, W] -> [B, H, W, C] before flattening, as the TF model's layout
        return self.embeddings(x.permute(0, 2, 3, 1).flatten(1))

    def fuse_groups(self) -> list[list[str]]:
        """(layer, relu) name pairs that int8 conversion fuses into one op."""
        return [[f"{seq}.{i}", f"{seq}.{i + 1}"] for seq in ("features", "embeddings")
                for i, m in enumerate(getattr(self, seq)[:-1]) if isinstance(getattr(self, seq)[i + 1], nn.ReLU)]


def load_pca(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(eigen_vectors [128, 128], means [128]) from the official .npz or the port's .pth; BadWeights,
    one line naming the file, for any other file: checked here, as the store is made, not when the
    first video's features fail to multiply (`s2vt weights list` runs this check too)."""
    try:
        if path.suffix == ".npz":
            with np.load(path) as f:
                vectors, means = pca_arrays(path, f)
        else:
            vectors, means = pca_arrays(path, load_weights_file(path))
        vectors, means = np.asarray(vectors, np.float32), np.asarray(means, np.float32).reshape(-1)
    except (OSError, BadWeights):  # (unreadable, not a torch file, no such array: their own one-line messages)
        raise
    except Exception as e:  # noqa: BLE001 - not an .npz (numpy refuses pickles), not numbers
        reason = " ".join(str(e).split()).split(". ")[0][:200]  # (a second sentence is advice: allow_pickle)
        raise BadWeights(f"{path}: does not load as VGGish PCA parameters ({type(e).__name__}: {reason})") \
            from None
    if vectors.shape != (128, 128) or means.shape != (128,):
        raise BadWeights(f"{path}: does not load as VGGish PCA parameters: shapes {list(vectors.shape)} and "
                         f"{list(means.shape)}, not [128, 128] and [128]")
    # a NaN or inf would pass the shapes and turn every feature into NaN (exit 0, invalid JSON later)
    for name, a in (("pca_eigen_vectors", vectors), ("pca_means", means)):
        if not np.isfinite(a).all():
            raise BadWeights(f"{path}: does not load as VGGish PCA parameters: {name} holds "
                             f"{np.count_nonzero(~np.isfinite(a)):,} NaN or infinite values")
    return vectors, means


def pca_arrays(path: Path, arrays) -> tuple:
    """The two PCA arrays of a loaded .npz or state dict; BadWeights naming the ones it lacks."""
    names = ("pca_eigen_vectors", "pca_means")
    missing = [k for k in names if not isinstance(arrays, dict | np.lib.npyio.NpzFile) or k not in arrays]
    if missing:
        raise BadWeights(f"{path}: does not load as VGGish PCA parameters (no {' or '.join(missing)} array)")
    return arrays[names[0]], arrays[names[1]]


class VGGish(Backbone):
    name = "vggish"
    dim = 128
    supports_int8 = True
    channels_last = True

    def __init__(self, pca: tuple[np.ndarray, np.ndarray] | None = None, net: VGGishNet | None = None) -> None:
        super().__init__()
        self.net = net if net is not None else VGGishNet()
        self.pca = pca is not None
        if pca is not None:
            self.register_buffer("pca_vectors", torch.from_numpy(pca[0]), persistent=False)
            self.register_buffer("pca_means", torch.from_numpy(pca[1]), persistent=False)

    @classmethod
    def create(cls, weights: str = "pretrained", weights_dir=None, seed: int = 0, load: bool = True,
               pca: bool = False) -> "VGGish":
        """`load=False` leaves the network's weights on the meta device (the int8 cache supplies its own)."""
        pca_params = load_pca(find_weights("vggish_pca", weights_dir)) if pca else None
        if weights == "random":
            warn_random("VGGish", seed)
            if load:
                with seeded_init(seed):  # no default init first: he_init sets every weight
                    model = cls(pca_params, he_init(empty_module(VGGishNet)))
            else:
                model = cls(pca_params, empty_module(VGGishNet, materialize=False))
            model.weight_id = random_id(seed)
            return model
        path = find_weights("vggish", weights_dir)
        model = cls(pca_params, empty_module(VGGishNet, materialize=load))  # the file supplies every weight
        if load:
            state = {k: v for k, v in load_state_dict(path).items() if not k.startswith("pca_")}
            load_strict(model.net, state, path, "VGGish")
        model.weight_id = path.name
        model.weight_file = path
        return model

    def inputs(self, examples: np.ndarray) -> torch.Tensor:
        """float [A, 96, 64] log-mel examples -> [A, 1, 96, 64]."""
        return torch.from_numpy(np.ascontiguousarray(examples, dtype=np.float32)).unsqueeze(1)

    def calibration_inputs(self) -> torch.Tensor:
        return self.inputs(log_mel_examples(synthetic_audio(), SAMPLE_RATE))

    def postprocess(self, emb: torch.Tensor) -> torch.Tensor:
        """Official post-processing: PCA, clip to [-2, 2], quantise to 0..255 (kept as float)."""
        x = (emb - self.pca_means) @ self.pca_vectors.T
        x = x.clamp(QUANTIZE_MIN, QUANTIZE_MAX)
        return torch.round((x - QUANTIZE_MIN) * (255.0 / (QUANTIZE_MAX - QUANTIZE_MIN)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.net(x)
        return self.postprocess(x.float()) if self.pca else x
