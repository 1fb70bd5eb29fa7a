"""Tag heads: a per-step sequence [B, L, H] (encoder outputs or fused features) -> tag logits [B, C].

Each head is `classify(pool(x, mask))`: `pool` makes one video vector [B, H], `classify` maps a
vector of `width` (H, or more where another source such as text is concatenated in between) to logits. As the
YouTube-8M starter's video_level_models.py, one small class per model, chosen by name (`build`):

- mlp: mean over steps, Linear-ReLU-Dropout-Linear (the original head; its checkpoints still load)
- moe: mean over steps, the starter's video-level mixture of experts (softmax gate over experts and a
  dummy expert, sigmoid experts)
- nextvlad: NeXtVLAD (Lin et al. 2018, seed 002) over the steps, FC, SE context gating, linear
- attention: learned attention weights over the steps (AttentionLSTM's pooling, seeds 000/003), MLP

`ensemble` > 1 (`EnsembleHead`): that many independently initialised copies of a mean-pooling head
(MEAN_POOLING: mlp, moe), their probabilities averaged.

A new head is its class (`pool`, `classify`, `forward`; the constructor's arguments as MLPHead's; `mean_pooling`
True when its `pool` is the mean over steps, which `--tag-input features` and `--tag-ensemble` need) and its
entry in HEADS, which names every head (`--tag-head`'s choices).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .errors import SettingError


def prior_bias(layer: nn.Linear, num_tags: int, multilabel: bool) -> nn.Linear:
    """Start a multi-label output layer at p = 1/(num_tags + 1) for every tag (bias -log C: sigmoid(-log C) is
    1/(C + 1), about the 1/C of one tag in C) instead of 0.5: with
    thousands of classes, Adam (steps of ~lr) would otherwise spend thousands of steps just pushing
    every bias down from 0 (YouTube-8M, docs/benchmarks.md).
    A softmax ignores a shift shared by all classes: single-label heads keep torch's init."""
    if multilabel and num_tags > 1:
        nn.init.constant_(layer.bias, -math.log(num_tags))
    return layer


def masked_mean(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Mean of x [B, L, H] over the steps where mask [B, L] is true (all of them without a mask)."""
    if mask is None:
        return x.mean(1)
    m = mask.unsqueeze(-1).to(x.dtype)
    return (x * m).sum(1) / m.sum(1).clamp(min=1)


class MLPHead(nn.Sequential):
    """Mean over steps, then Linear-ReLU-Dropout-Linear. A Sequential, so its weights keep the names
    (tag_head.0.*, tag_head.3.*) of checkpoints saved before heads were selectable."""
    mean_pooling = True

    def __init__(self, h: int, num_tags: int, dropout: float, multilabel: bool, width: int | None = None) -> None:
        super().__init__(nn.Linear(width or h, h), nn.ReLU(), nn.Dropout(dropout),
                         prior_bias(nn.Linear(h, num_tags), num_tags, multilabel))

    def pool(self, x, mask=None):
        return masked_mean(x, mask)

    def classify(self, v):
        return super().forward(v)

    def forward(self, x, mask=None):
        return self.classify(self.pool(x, mask))


class MoEHead(nn.Module):
    """video_level_models.MoeModel: per class, a softmax gate over `experts` + 1 (a dummy expert that
    always says 0) weighs sigmoid experts. Returns logit(p) so the same losses apply."""
    mean_pooling = True

    def __init__(self, h: int, num_tags: int, dropout: float, multilabel: bool, width: int | None = None,
                 experts: int = 2) -> None:
        super().__init__()
        self.experts, self.num_tags = experts, num_tags
        self.drop = nn.Dropout(dropout)
        self.gate = nn.Linear(width or h, num_tags * (experts + 1))
        self.expert = prior_bias(nn.Linear(width or h, num_tags * experts), num_tags, multilabel)

    def pool(self, x, mask=None):
        return masked_mean(x, mask)

    def classify(self, v):
        v = self.drop(v)
        gate = torch.softmax(self.gate(v).view(-1, self.num_tags, self.experts + 1), -1)
        expert = torch.sigmoid(self.expert(v).view(-1, self.num_tags, self.experts))
        p = (gate[..., :self.experts] * expert).sum(-1)
        return torch.logit(p, eps=1e-6)

    def forward(self, x, mask=None):
        return self.classify(self.pool(x, mask))


class NeXtVLADHead(nn.Module):
    """NeXtVLAD (linrongc/youtube-8m nextvlad.py): expand each step's feature by `expansion`, split it
    into `groups` of size N' = expansion*H/groups, soft-assign every group to `clusters` (weighted by
    a per-group sigmoid attention), aggregate the residuals to the cluster centres over steps and
    groups ([clusters, N'], intra-normalised), then Dropout-FC-BN and SE context gating."""
    mean_pooling = False

    def __init__(self, h: int, num_tags: int, dropout: float, multilabel: bool, width: int | None = None,
                 clusters: int = 32, groups: int = 8, expansion: int = 2, gating_reduction: int = 8) -> None:
        super().__init__()
        wide = expansion * h
        if wide % groups:
            raise SettingError(f"--tag-head nextvlad: {expansion} x --hidden {h} is not divisible into {groups} groups")
        self.clusters, self.groups, self.size = clusters, groups, wide // groups
        self.expand = nn.Linear(h, wide)
        self.attention = nn.Linear(wide, groups)
        self.assign = nn.Linear(wide, groups * clusters, bias=False)
        self.centres = nn.Parameter(torch.randn(1, self.size, clusters) * 0.01)
        self.vlad_bn = nn.BatchNorm1d(self.size * clusters)
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(self.size * clusters, h)
        self.fc_bn = nn.BatchNorm1d(h)
        self.se = nn.Sequential(nn.Linear(h, h // gating_reduction), nn.BatchNorm1d(h // gating_reduction),
                                nn.ReLU(), nn.Linear(h // gating_reduction, h), nn.BatchNorm1d(h), nn.Sigmoid())
        self.out = prior_bias(nn.Linear(width or h, num_tags), num_tags, multilabel)

    def pool(self, x, mask=None):
        b, steps, _ = x.shape
        x = self.expand(x)                                                      # [B, L, wide]
        att = torch.sigmoid(self.attention(x))                                  # [B, L, G]
        if mask is not None:
            att = att * mask.unsqueeze(-1).to(att.dtype)
        a = torch.softmax(self.assign(x).view(b, steps, self.groups, self.clusters), -1)
        a = (a * att.unsqueeze(-1)).reshape(b, steps * self.groups, self.clusters)  # [B, L*G, K]
        parts = x.reshape(b, steps * self.groups, self.size)                    # [B, L*G, N']
        vlad = a.transpose(1, 2) @ parts                                        # [B, K, N']
        vlad = vlad.transpose(1, 2) - a.sum(1, keepdim=True) * self.centres     # [B, N', K]
        vlad = F.normalize(vlad, dim=1).reshape(b, -1)
        v = self.fc_bn(self.fc(self.drop(self.vlad_bn(vlad))))
        return v * self.se(v)

    def classify(self, v):
        return self.out(v)

    def forward(self, x, mask=None):
        return self.classify(self.pool(x, mask))


class AttentionHead(nn.Module):
    """Attention pooling: weights softmax(w . tanh(W x_t)) over the steps, then the MLP classifier."""
    mean_pooling = False

    def __init__(self, h: int, num_tags: int, dropout: float, multilabel: bool, width: int | None = None) -> None:
        super().__init__()
        self.score = nn.Sequential(nn.Linear(h, h), nn.Tanh(), nn.Linear(h, 1))
        self.mlp = MLPHead(h, num_tags, dropout, multilabel, width)

    def pool(self, x, mask=None):
        s = self.score(x).squeeze(-1)                                           # [B, L]
        if mask is not None:
            s = s.masked_fill(~mask, -torch.inf)
        return (torch.softmax(s, -1).unsqueeze(-1) * x).sum(1)

    def classify(self, v):
        return self.mlp.classify(v)

    def forward(self, x, mask=None):
        return self.classify(self.pool(x, mask))


class EnsembleHead(nn.Module):
    """K copies of a mean-pooling head, each from its own random init, classifying the same pooled
    vector; the output is the logit of their mean probability (multi-label; the mean of the logits for
    a softmax head), trained as one model on that mean (the loss on the mean beat K losses, one a member,
    on YouTube-8M: docs/benchmarks.md)."""

    def __init__(self, members: list[nn.Module], multilabel: bool) -> None:
        super().__init__()
        self.members, self.multilabel = nn.ModuleList(members), multilabel

    def pool(self, x, mask=None):
        return masked_mean(x, mask)

    def classify(self, v):
        logits = torch.stack([m.classify(v) for m in self.members])
        if not self.multilabel:
            return logits.mean(0)
        return torch.logit(torch.sigmoid(logits).mean(0), eps=1e-6)

    def forward(self, x, mask=None):
        return self.classify(self.pool(x, mask))


def build(name: str, h: int, num_tags: int, dropout: float, multilabel: bool, width: int | None = None,
          ensemble: int = 1) -> nn.Module:
    """The tag head called `name` (one of TAG_HEADS) from steps of hidden size h to num_tags logits;
    `width`: what `classify` reads (default h); `ensemble` > 1: that many of them averaged (EnsembleHead)."""
    if name not in HEADS:
        raise ValueError(f"tag_head must be one of {', '.join(TAG_HEADS)}, not {name!r}")
    if ensemble == 1:
        return HEADS[name](h, num_tags, dropout, multilabel, width)
    if name not in MEAN_POOLING:
        # (their pooling is learned: K of them would each need their own pooled vector, and the text's
        # vector sits beside one pooled vector in S2VT.pooled)
        raise SettingError(f"--tag-ensemble {ensemble} needs a mean-pooling head ({', '.join(MEAN_POOLING)}), "
                           f"not --tag-head {name}")
    return EnsembleHead([HEADS[name](h, num_tags, dropout, multilabel, width) for _ in range(ensemble)], multilabel)


# every head by name, the one list of them (`--tag-head`'s choices)
HEADS = {"mlp": MLPHead, "moe": MoEHead, "nextvlad": NeXtVLADHead, "attention": AttentionHead}
TAG_HEADS = tuple(HEADS)
MEAN_POOLING = tuple(n for n, head in HEADS.items() if head.mean_pooling)  # (EnsembleHead shares their pool)
