"""The modalities this toolkit extracts from video: one entry each, the single place that names them
(the feature size is the backbone class's `dim`).

Adding a modality is one entry here plus its backbone module in `extract/backbones/` (and, if it
reads media of a new kind, that kind in `media.py`). Kept free of torch: `media.py` reads it.
"""
from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Modality:
    module: str                                   # extract/backbones/<module>.py
    backbone: str                                 # its Backbone class
    reads: str                                    # the Media field it reads: frames | clips | examples
    options: tuple[tuple[str, str], ...] = ()     # (backbone keyword, ExtractConfig field)


REGISTRY = {
    "resnet152": Modality("resnet", "ResNet152", "frames", (("image_size", "image_size"),)),
    "c3d": Modality("c3d", "C3D", "clips"),
    "vggish": Modality("vggish", "VGGish", "examples", (("pca", "vggish_pca"),)),
}
MODALITIES = tuple(REGISTRY)


def reads(modalities) -> set[str]:
    """The kinds of decoded media the given modalities need."""
    return {REGISTRY[m].reads for m in modalities}


def extractable(modality: str, backbones: dict) -> bool:
    """Whether this toolkit computes `modality` from a video as a store's meta.json `backbones` record it: an
    import names its modality as it likes ("resnet152" imported is another program's features, recorded as
    "precomputed"; YouTube-8M's carry the release's names), and extract cannot reproduce those. A modality
    the record does not name yet is extract's to fill. The one rule for training's advice (extract or import),
    caption.py's refusal and its advice for models of imported features."""
    return modality in REGISTRY and backbones.get(modality) != "precomputed"
