"""Caption metrics (pycocoevalcap scorers on our tokenisation) and tag metrics."""
from __future__ import annotations

import numpy as np

from .vocab import tokenize


def _tokenized(captions: dict[str, list[str]]) -> dict[str, list[str]]:
    return {k: [" ".join(tokenize(c)) for c in v] for k, v in captions.items()}


def cider(refs: dict[str, list[str]], preds: dict[str, str]) -> float:
    """CIDEr-D (pycocoevalcap's Cider) of `preds` {id: caption} against `refs` {id: [captions]}."""
    from pycocoevalcap.cider.cider import Cider

    ids = sorted(preds)
    score, _ = Cider().compute_score({i: _tokenized({i: refs[i]})[i] for i in ids},
                                     {i: [" ".join(tokenize(preds[i]))] for i in ids})
    return float(score)


def tag_accuracy(scores: np.ndarray, gold: list[list[int]]) -> float:
    """Fraction of videos whose top-scored tag is one of their gold tags (Hit@1)."""
    hits = [int(np.argmax(s)) in g for s, g in zip(scores, gold) if g]
    return float(np.mean(hits)) if hits else 0.0


def micro_f1(pred_sets: list[set], gold_sets: list[set]) -> tuple[float, float, float]:
    """Micro P, R, F1 over tag sets: P = sum|G&P| / sum|P|, R = sum|G&P| / sum|G|."""
    inter = sum(len(p & g) for p, g in zip(pred_sets, gold_sets))
    npred, ngold = sum(len(p) for p in pred_sets), sum(len(g) for g in gold_sets)
    p = inter / npred if npred else 0.0
    r = inter / ngold if ngold else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)
