"""Caption metrics (pycocoevalcap's scorers on our Python tokenisation) and tag metrics.

Captions are tokenised by `s2vt.vocab.tokenize` — the same function training uses — which
reproduces pycocoevalcap's Java PTBTokenizer path, so BLEU / ROUGE-L / CIDEr-D need no Java.
METEOR needs Java (pycocoevalcap runs its jar) and is None without it, never a fake number.
"""
from __future__ import annotations

import atexit
import contextlib
import shutil
import threading
import warnings

import numpy as np

from .vocab import tokenize

# pycocoevalcap's METEOR jar breaks on lines of tens of thousands of words (a broken pipe, after which
# its Meteor object hangs on its own lock); real captions have a few dozen words
METEOR_MAX_WORDS = 1000
CAPTION_KEYS = ("BLEU-1", "BLEU-2", "BLEU-3", "BLEU-4", "METEOR", "ROUGE-L", "CIDEr")
GAP_TOP_K = 20  # YouTube-8M's GAP@20: each video's top 20 predictions count
TAG_KEYS = ("hit@1", "hit@2", "perr", "gap", "tag_precision", "tag_recall", "tag_f1")


def tokenized(captions: dict[str, list[str]]) -> dict[str, list[str]]:
    """{id: [captions]} -> {id: [space-joined tokens]}, as pycocoevalcap's scorers take them."""
    return {k: [" ".join(tokenize(c)) for c in v] for k, v in captions.items()}


def java_available() -> bool:
    return shutil.which("java") is not None


def score_tokenized(gts: dict[str, list[str]], res: dict[str, list[str]], meteor: bool = True,
                    per_video: dict | None = None) -> dict:
    """pycocoevalcap's scorers on already tokenised refs `gts` and single predictions `res`;
    `per_video`, when given, is filled with each video's CIDEr-D (the same computation's, whose
    mean is the corpus score: the report reuses it instead of scoring again)."""
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    out: dict = {}
    bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    out.update({f"BLEU-{n + 1}": float(b) for n, b in enumerate(bleu)})
    out["METEOR"] = None
    longest = max((len(c.split()) for caps in (*gts.values(), *res.values()) for c in caps), default=0)
    if meteor and java_available() and longest > METEOR_MAX_WORDS:
        warnings.warn(f"METEOR skipped: a caption has {longest} words, its scorer takes at most "
                      f"{METEOR_MAX_WORDS}; reported as null")
    elif meteor and java_available():
        out["METEOR"] = meteor_score(gts, res)
    elif meteor:
        warnings.warn("METEOR needs Java on PATH; reported as null")
    out["ROUGE-L"] = float(Rouge().compute_score(gts, res)[0])
    corpus, scores = Cider().compute_score(gts, res)
    out["CIDEr"] = float(corpus)
    if per_video is not None:  # (Cider scores the videos in gts' order)
        per_video.update(zip(gts, map(float, scores)))
    return {k: out[k] for k in CAPTION_KEYS}


_meteor = None  # one METEOR JVM for the process: it takes seconds to start and its answers are stateless
_meteor_lock = threading.Lock()


def meteor_score(gts: dict[str, list[str]], res: dict[str, list[str]]) -> float | None:
    """pycocoevalcap's METEOR, or None (with a warning) when its jar fails. The jar is started on
    the first call and kept for the next ones (a caller scoring every epoch, tests); one that died
    or failed is replaced."""
    global _meteor
    from pycocoevalcap.meteor.meteor import Meteor

    with _meteor_lock:
        if _meteor is None or _meteor.meteor_p.poll() is not None:
            _stop_meteor()
            _meteor = Meteor()
        try:
            return float(_meteor.compute_score(gts, res)[0])
        except (OSError, ValueError) as e:  # the JVM died or answered garbage
            _stop_meteor()
            warnings.warn(f"METEOR failed ({type(e).__name__}); reported as null")
            return None


def _stop_meteor() -> None:
    """Stop the kept JVM now rather than at garbage collection, its lock never left held (pycocoevalcap's
    __del__ would wait on it). Also at exit, after a Ctrl-C or SIGTERM (`errors.terminate_as_interrupt`)
    that may have come between its writes: its pipes are closed here, quietly, since __del__'s close of
    stdin would flush what is left into the dead JVM and print a BrokenPipeError as the process ends."""
    global _meteor
    if _meteor is not None:
        proc = _meteor.meteor_p
        proc.kill()  # (not a polite EOF on stdin: a JVM that is busy or stuck would keep the process waiting)
        proc.wait()
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            with contextlib.suppress(OSError):
                pipe.close()
        if _meteor.lock.locked():
            _meteor.lock.release()
        _meteor = None


atexit.register(_stop_meteor)


def caption_scores(refs: dict[str, list[str]], preds: dict[str, str], meteor: bool = True,
                   per_video: dict | None = None) -> dict:
    """BLEU-1..4, METEOR (None without Java), ROUGE-L, CIDEr-D of `preds` against `refs`
    (`per_video`: filled with each video's CIDEr-D, see `score_tokenized`)."""
    ids = sorted(preds)
    gts = tokenized({i: refs[i] for i in ids})
    res = {i: [" ".join(tokenize(preds[i]))] for i in ids}
    return score_tokenized(gts, res, meteor, per_video)


# (pycocoevalcap's CIDEr-D too: a 0.0000 over one video read as a wrong caption; hostile trial)
ONE_VIDEO_CIDER = ("note: CIDEr-D weighs n-grams by their rarity among the scored videos' references: over one "
                   "video every n-gram is in all of them, so CIDEr-D is 0 whatever the caption")


def blind_cider(refs: dict[str, list[str]]) -> str | None:
    """Why CIDEr-D over these videos is 0 whatever the captions, or None when it is not: each n-gram (1-4) weighs
    log(videos / videos whose references hold it), 0 for one in every video's references. Over one video that is
    every n-gram; over several, so it is when all their references have the same n-grams (two val videos given
    the same captions: val CIDEr-D 0 at every epoch, unsaid; session 50's open item)."""
    seen = None
    for caps in refs.values():  # (each tokenised in turn: two videos apart end it, however many there are)
        grams = {tuple(w[i:i + n]) for c in caps for w in [tokenize(c)]
                 for n in range(1, 5) for i in range(len(w) - n + 1)}
        if seen is not None and grams != seen:
            return None
        seen = grams
    if seen is None:
        return None
    if len(refs) == 1:
        return ONE_VIDEO_CIDER
    return ("note: CIDEr-D weighs n-grams by their rarity among the scored videos' references: the references of "
            f"all {len(refs)} videos hold the same n-grams, so CIDEr-D is 0 whatever the caption")


def cider(refs: dict[str, list[str]], preds: dict[str, str]) -> float:
    """CIDEr-D alone (the validation metric during training)."""
    return float(np.mean(list(cider_per_video(refs, preds).values())))


def cider_per_video(refs: dict[str, list[str]], preds: dict[str, str]) -> dict[str, float]:
    """Each video's CIDEr-D (document frequencies from all of `refs`'s videos in `preds`); their
    mean is the corpus CIDEr-D."""
    from pycocoevalcap.cider.cider import Cider

    ids = sorted(preds)
    gts = tokenized({i: refs[i] for i in ids})
    _, scores = Cider().compute_score(gts, {i: [" ".join(tokenize(preds[i]))] for i in ids})
    return dict(zip(ids, map(float, scores)))


# ---- tags: scores [N, C] (higher = more likely), gold = one list of label indices per video ----

def hit_at_k(scores: np.ndarray, gold: list[list[int]], k: int) -> float:
    """Fraction of videos with at least one gold label among their top-k scores (YouTube-8M Hit@k)."""
    hits = _hits(scores, gold, k)
    return float(np.mean(hits)) if hits else 0.0


def _hits(scores: np.ndarray, gold: list[list[int]], k: int) -> list[bool]:
    top = np.argsort(-scores, axis=1)[:, :k]
    return [bool(set(t.tolist()) & set(g)) for t, g in zip(top, gold)]


def tag_accuracy(scores: np.ndarray, gold: list[list[int]]) -> float:
    """Hit@1 over videos that have gold labels."""
    keep = [i for i, g in enumerate(gold) if g]
    return hit_at_k(scores[keep], [gold[i] for i in keep], 1) if keep else 0.0


def perr(scores: np.ndarray, gold: list[list[int]]) -> float:
    """Precision at equal recall rate: precision of each video's top-|gold| scores, averaged."""
    vals = _perr_rows(scores, gold)
    return float(np.mean(vals)) if vals else 0.0


def _perr_rows(scores: np.ndarray, gold: list[list[int]]) -> list[float]:
    vals = []
    for s, g in zip(scores, gold):
        if g:
            top = np.argsort(-s)[:len(g)]
            vals.append(len(set(top.tolist()) & set(g)) / len(g))
    return vals


def gap(scores: np.ndarray, gold: list[list[int]], top_k: int = GAP_TOP_K) -> float:
    """Global Average Precision of every video's top-k predictions, as google/youtube-8m's
    eval_util.calculate_gap: all videos' top-k (score, is-gold) pairs pooled and sorted by score,
    GAP = sum_i precision(i) * [pair i is gold] / (number of gold labels of ALL videos), so a gold
    label that never reaches its video's top k still lowers the score. (Pairs of equal score, one
    gold and one not, have no defined order there either: it shuffles them with a fixed seed.)
    """
    total = sum(len(set(g)) for g in gold)
    if not total or not scores.size:
        return 0.0
    return _pooled_gap(*_top_pairs(scores, gold, top_k), total)


def _top_pairs(scores: np.ndarray, gold: list[list[int]], top_k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each video's top-k (score, is-gold) pairs, flat, in the videos' order."""
    k = min(top_k, scores.shape[1])
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    is_gold = np.stack([np.isin(t, list(g)) for t, g in zip(top, gold)]).ravel()
    return np.take_along_axis(scores, top, 1).ravel(), is_gold


def _pooled_gap(top: np.ndarray, is_gold: np.ndarray, total: int) -> float:
    hits = is_gold[np.argsort(-top, kind="stable")]
    ranks = np.flatnonzero(hits) + 1
    return float(np.sum(np.arange(1, len(ranks) + 1) / ranks) / total)


def micro_f1(pred_sets: list[set], gold_sets: list[set]) -> tuple[float, float, float]:
    """Micro P, R, F1 over tag sets: P = sum|G&P| / sum|P|, R = sum|G&P| / sum|G|."""
    inter = sum(len(p & g) for p, g in zip(pred_sets, gold_sets))
    return f1_of(inter, sum(len(p) for p in pred_sets), sum(len(g) for g in gold_sets))


def f1_of(inter: int, npred: int, ngold: int) -> tuple[float, float, float]:
    """Micro P, R, F1 from the sums |G & P|, |P| and |G|."""
    p = inter / npred if npred else 0.0
    r = inter / ngold if ngold else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def tag_scores(scores: np.ndarray, gold: list[list[int]], pred_sets: list[set]) -> dict:
    """Every tag metric under docs/design.md's keys."""
    return TagTally().add(scores, gold, pred_sets).result()


class TagTally:
    """`tag_scores` over videos given a batch at a time, each batch kept as what the metrics read of it (each
    video's hits, PERR and top GAP_TOP_K scores), not as its [videos, tags] scores: evaluate held every video's row,
    several times over, ~105 KB a video of YouTube-8M's 3,862 tags (a 700k-video test split: ~70 GB; trial 113).
    Each metric is the same as its function's over the whole matrix: rows are read one by one, and GAP's pooled
    pairs sorted once, in the videos' order."""

    def __init__(self) -> None:
        self.hits: dict[int, list[bool]] = {1: [], 2: []}
        self.perr: list[float] = []
        self.top: list[np.ndarray] = []  # each batch's top-k (score, is-gold) pairs (`_top_pairs`)
        self.is_gold: list[np.ndarray] = []
        self.gold_total = 0
        self.sets: list[int] = [0, 0, 0]  # micro F1's sums: |G & P|, |P|, |G|

    def add(self, scores: np.ndarray, gold: list[list[int]], pred_sets: list[set]) -> "TagTally":
        for k, hits in self.hits.items():
            hits += _hits(scores, gold, k)
        self.perr += _perr_rows(scores, gold)
        self.gold_total += sum(len(set(g)) for g in gold)
        if scores.size:
            top, is_gold = _top_pairs(scores, gold, GAP_TOP_K)
            self.top.append(top)
            self.is_gold.append(is_gold)
        for p, g in zip(pred_sets, map(set, gold)):
            self.sets = [self.sets[0] + len(p & g), self.sets[1] + len(p), self.sets[2] + len(g)]
        return self

    def result(self) -> dict:
        p, r, f = f1_of(*self.sets)
        gap_ = (_pooled_gap(np.concatenate(self.top), np.concatenate(self.is_gold), self.gold_total)
                if self.gold_total and self.top else 0.0)
        return {"hit@1": float(np.mean(self.hits[1])) if self.hits[1] else 0.0,
                "hit@2": float(np.mean(self.hits[2])) if self.hits[2] else 0.0,
                "perr": float(np.mean(self.perr)) if self.perr else 0.0, "gap": gap_,
                "tag_precision": p, "tag_recall": r, "tag_f1": f}
