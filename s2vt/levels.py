"""LIC2022's label kinds in one tag head: level 1 (one class per video, softmax), level 2 (one
class per video, softmax; predicted within the predicted level 1), topic tags (multi-label, sigmoid).

The kinds come from the tag names the LIC2022 importer writes (`level1:L1`, `level2:L1/L2`,
`tag:T`); a label set without `level1:` names is no LIC2022 task and keeps the plain head.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .formats import LEVEL1, LEVEL2, SEMANTIC
from .metrics import micro_f1
from .model import multilabel_loss

LEVEL_KEYS = ("level1_acc", "level2_acc", "lic_score")  # beside metrics.TAG_KEYS in `s2vt evaluate`'s table


def kinds(names: list[str]) -> dict[str, list[int]] | None:
    """{kind: indices of its names} for a LIC2022 label set, else None."""
    if not any(n.startswith(LEVEL1) for n in names):
        return None
    prefix = {"level1": LEVEL1, "level2": LEVEL2, "tag": SEMANTIC}
    return {k: [i for i, n in enumerate(names) if n.startswith(p)] for k, p in prefix.items()}


def level_loss(logits: torch.Tensor, targets: torch.Tensor, groups: dict[str, list[int]],
               smoothing: float = 0.0, focal: float = 0.0) -> torch.Tensor:
    """Cross-entropy over level 1 and over level 2 (videos with one; label smoothing `smoothing`,
    train.py's --label-smoothing), BCE over topic tags (`focal`: train.py's --tag-focal, model.multilabel_loss);
    `targets` is the 0/1 matrix of every name (Labels.target)."""
    loss = logits.new_zeros(())
    for kind in ("level1", "level2"):
        idx = groups[kind]
        y = targets[:, idx]
        has = y.sum(1) > 0
        if idx and has.any():
            loss = loss + F.cross_entropy(logits[has][:, idx], y[has].argmax(1), label_smoothing=smoothing)
    if groups["tag"]:
        idx = groups["tag"]
        loss = loss + multilabel_loss(logits[:, idx], targets[:, idx], focal)
    return loss


def level_probs(logits: torch.Tensor, groups: dict[str, list[int]]) -> torch.Tensor:
    """Softmax within level 1 and within level 2, sigmoid for topic tags."""
    probs = torch.sigmoid(logits)
    for kind in ("level1", "level2"):
        if groups[kind]:
            probs[:, groups[kind]] = torch.softmax(logits[:, groups[kind]], -1)
    return probs


def level_prediction(probs: np.ndarray, names: list[str], groups: dict[str, list[int]],
                     threshold: float) -> list[dict]:
    """One video's answer, best first: its level 1, the likeliest level 2 under that level 1
    (none when the model knows no level 2 there), and the topic tags with p >= threshold."""
    l1 = max(groups["level1"], key=lambda i: probs[i])
    parent = names[l1][len(LEVEL1):] + "/"
    children = [i for i in groups["level2"] if names[i][len(LEVEL2):].startswith(parent)]
    keep = [l1] + ([max(children, key=lambda i: probs[i])] if children else [])
    keep += sorted((i for i in groups["tag"] if probs[i] >= threshold), key=lambda i: -probs[i])
    return [{"tag": names[i], "p": round(float(probs[i]), 4)} for i in keep]


def level_scores(pred: list[list[str]], gold: list[list[str]]) -> dict:
    """Level-1 accuracy, level-2 accuracy (videos with a gold level 2; none: left out), topic-tag micro P/R/F1 (gold
    tags the model never saw count as missed), and lic_score: the mean of level-1 accuracy,
    level-2 accuracy and tag F1, the three figures the LIC2022 baseline reports, over the kinds the gold labels
    have (data without topic tags: a tag F1 that can only be 0 held the score under 2/3; new-user trial) and the
    tag figures only where the gold labels have topic tags (they read 0.000, a score of nothing)."""
    def of(tags, prefix):
        return [t for t in tags if t.startswith(prefix)]

    rows = list(zip(pred, gold))
    out, present = {}, []
    for kind, prefix in (("level1", LEVEL1), ("level2", LEVEL2)):
        scored = [(of(p, prefix)[:1], of(g, prefix)[:1]) for p, g in rows if of(g, prefix)]
        # (level 2 only where the gold labels have one: labels of level 1 alone read 'level2_acc 0.000' in every
        # epoch line, evaluate's table and the metrics files, a score of nothing; hostile trial)
        if scored or kind == "level1":
            out[f"{kind}_acc"] = float(np.mean([p == g for p, g in scored])) if scored else 0.0
        if scored:
            present.append(out[f"{kind}_acc"])
    if any(of(g, SEMANTIC) for _, g in rows):
        p, r, f = micro_f1([set(of(p, SEMANTIC)) for p, _ in rows], [set(of(g, SEMANTIC)) for _, g in rows])
        out.update(tag_precision=p, tag_recall=r, tag_f1=f)
        present.append(f)
    return {**out, "lic_score": float(np.mean(present)) if present else 0.0}


def probabilities(logits: torch.Tensor, multilabel: bool, groups: dict[str, list[int]] | None) -> torch.Tensor:
    """Tag probabilities as the head was trained: per kind (LIC2022), sigmoid (multi-label) or softmax."""
    if groups:
        return level_probs(logits, groups)
    return torch.sigmoid(logits) if multilabel else torch.softmax(logits, -1)


def best_threshold(probs: np.ndarray, names: list[str], groups: dict[str, list[int]],
                   gold: list[list[str]]) -> tuple[dict, float]:
    """(level_scores, topic-tag threshold) at the threshold with the best tag F1 on these videos
    (gold tags outside `names` count as missed)."""
    idx = groups["tag"]
    index = {names[i]: j for j, i in enumerate(idx)}
    hits = np.zeros((len(gold), len(idx)), bool)
    for r, tags in enumerate(gold):
        hits[r, [index[t] for t in tags if t in index]] = True
    n_gold = sum(t.startswith(SEMANTIC) for tags in gold for t in tags)
    p = probs[:, idx]

    def f1(th):
        pred = p >= th
        return 2 * (pred & hits).sum() / max(1, pred.sum() + n_gold)
    th = float(max(np.arange(0.05, 0.96, 0.05), key=f1))
    pred = [[t["tag"] for t in level_prediction(row, names, groups, th)] for row in probs]
    return level_scores(pred, gold), th
