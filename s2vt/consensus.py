"""Consensus reranking: the beam's finished captions re-ranked by CIDEr-D against the captions of
the training videos nearest to the video (Devlin et al. 2015, "Language models for image captioning:
the quirks and what works"; Mao et al. 2015's nearest-neighbour consensus).

A small training set teaches the decoder a few safe sentences ("a man is playing a guitar"); among
its beam's captions, the one that the most similar training videos' annotators would also have
written is the more specific and the better one (docs/benchmarks.md, "Consensus reranking").

The memory (best.pt's "memory", written by training) holds each training video's summary vector
(`S2VT.summary`: its mean fused feature) and its captions as vocabulary ids. CIDEr-D is
pycocoevalcap's formula (n-grams 1-4, sigma 6, clipped counts, x 10) with the document frequencies
of the memory's videos, a fixed corpus: a single video scored alone needs the same weights as a
batch.
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict

import numpy as np
import torch

from .errors import UserError

NGRAMS, SIGMA = 4, 6.0  # pycocoevalcap's CiderScorer defaults


class ConsensusError(UserError):
    """A checkpoint's memory that is not what training writes (one line)."""


class NonFiniteKeys(ConsensusError):
    """A key NaN, infinite or beyond float16's range (the model's summaries: its weights blown up)."""


def ngrams(words: tuple):
    """The caption's 1- to 4-grams, as pycocoevalcap's precook counts them."""
    return (tuple(words[i:i + n]) for n in range(1, NGRAMS + 1) for i in range(len(words) - n + 1))


def ngram_counts(words: tuple) -> Counter:
    return Counter(ngrams(words))


def words_of(row, eos: int, pad: int = 0) -> tuple:
    """Token ids up to the first <eos> (padding dropped)."""
    out = []
    for t in row:
        if t == eos:
            break
        if t != pad:
            out.append(t)
    return tuple(out)


def tfidf(counts: Counter, df: dict, log_n: float) -> tuple:
    """A caption's n-gram counts as pycocoevalcap's CIDEr-D vector: (tf-idf per n, norms per n, length)."""
    vec: list[dict] = [{} for _ in range(NGRAMS)]
    norm = [0.0] * NGRAMS
    length = 0
    for g, tf in counts.items():
        n = len(g) - 1
        w = float(tf) * (log_n - math.log(max(1.0, df.get(g, 0.0))))
        vec[n][g] = w
        norm[n] += w * w
        if n == 1:  # (pycocoevalcap's "length" counts bigrams)
            length += tf
    return vec, [math.sqrt(x) for x in norm], length


def pair_cider(cand: tuple, ref: tuple) -> float:
    """CIDEr-D of one candidate against one reference, both `tfidf` vectors (a video's score is the mean
    over its references)."""
    vec, norm, length = cand
    rvec, rnorm, rlength = ref
    penalty = math.exp(-((length - rlength) ** 2) / (2 * SIGMA ** 2))
    total = 0.0
    for n in range(NGRAMS):
        val = sum(min(w, rvec[n].get(g, 0.0)) * rvec[n].get(g, 0.0) for g, w in vec[n].items())
        if norm[n] and rnorm[n]:
            val /= norm[n] * rnorm[n]
        total += val * penalty
    return total / NGRAMS * 10.0


def caption_consensus(captions: list[list[tuple]]) -> list[list[float]]:
    """Each caption's CIDEr-D against the other captions of its video (`captions`: each video's, as word
    tuples; document frequencies over the videos, one document each): how far its annotators agree with it.
    A video's lone caption scores 0."""
    df: defaultdict = defaultdict(float)
    for caps in captions:
        for g in {g for w in caps for g in ngrams(w)}:
            df[g] += 1
    log_n = math.log(float(max(1, len(captions))))
    out = []
    for caps in captions:
        vecs = [tfidf(ngram_counts(w), df, log_n) for w in caps]
        out.append([sum(pair_cider(v, r) for k, r in enumerate(vecs) if k != j) / (len(vecs) - 1)
                    if len(vecs) > 1 else 0.0 for j, v in enumerate(vecs)])
    return out


class CaptionMemory:
    """Training videos' summary vectors and captions, and the consensus score of a candidate caption."""

    def __init__(self, keys: torch.Tensor, captions: torch.Tensor, owner: torch.Tensor, eos: int,
                 ids: list[str] | None = None) -> None:
        if not all(isinstance(t, torch.Tensor) for t in (keys, captions, owner)):
            raise ConsensusError("caption memory: keys, captions and owner must be tensors")
        keys = keys.float().cpu()
        if keys.ndim != 2 or captions.ndim != 2 or owner.shape != captions.shape[:1] or not len(keys):
            raise ConsensusError("caption memory: keys [N, H], captions [M, L] and owner [M] expected")
        # (one inf key would make the centre, and every neighbour, garbage; the keys are kept in float16,
        # so a finite key beyond its range is one too)
        if not torch.isfinite(keys.half()).all():
            raise NonFiniteKeys("caption memory: a video's key holds NaN or infinite values")
        if captions.is_floating_point() or owner.is_floating_point():
            raise ConsensusError("caption memory: captions and owner must hold integers")
        if len(owner) and (int(owner.min()) < 0 or int(owner.max()) >= len(keys)):
            raise ConsensusError("caption memory: a caption's owner is not one of its videos")
        if ids is not None and (not isinstance(ids, list) or len(ids) != len(keys)
                                or not all(isinstance(i, str) for i in ids)):
            raise ConsensusError("caption memory: ids must name each of its videos")
        self.raw = {"keys": keys.half(), "captions": captions.int().cpu(), "owner": owner.long().cpu()}
        # the videos' ids: evaluate says when a split's videos are in the memory (val, after training)
        self.ids = ids or []
        if ids is not None:
            self.raw["ids"] = list(ids)
        # centred before the cosine: mean fused features share a large common component
        self.centre = keys.mean(0)
        k = keys - self.centre
        self.keys = k / k.norm(dim=1, keepdim=True).clamp(min=1e-8)
        self.eos = eos
        self.log_n = math.log(float(len(keys)))
        self._rows: list[list[tuple]] | None = None  # each video's captions as words: built on first use
        self.df: dict = {}
        self._vecs: dict[int, list] = {}

    def _index(self) -> None:
        """Each video's captions and the document frequencies (a video's captions are one document), on
        first use: a checkpoint loaded to decode with --consensus 0, or to tag, never pays for it."""
        rows: list[list[tuple]] = [[] for _ in range(len(self.keys))]
        for row, who in zip(self.raw["captions"].tolist(), self.raw["owner"].tolist()):
            rows[who].append(words_of(row, self.eos))
        df: defaultdict = defaultdict(float)
        for caps in rows:
            for g in {g for w in caps for g in ngrams(w)}:
                df[g] += 1
        # df first: `_rows` is what says the index is built (serve's worker threads may race here)
        self.df = df
        self._rows = rows

    @classmethod
    def build(cls, keys: torch.Tensor, captions: list[list[list[int]]], eos: int,
              ids: list[str] | None = None) -> "CaptionMemory":
        """From [N, H] keys and each video's captions as token-id lists (without <bos> / <eos>), and
        the videos' `ids`."""
        rows = [c for caps in captions for c in caps]
        width = max((len(r) for r in rows), default=0) + 1
        table = torch.zeros(len(rows), width, dtype=torch.int32)
        for i, r in enumerate(rows):
            table[i, :len(r)] = torch.tensor(r, dtype=torch.int32)
            table[i, len(r)] = eos
        owner = torch.tensor([v for v, caps in enumerate(captions) for _ in caps], dtype=torch.long)
        return cls(keys, table, owner, eos, ids)

    @classmethod
    def from_state(cls, state: dict, eos: int) -> "CaptionMemory":
        if not isinstance(state, dict):
            raise ConsensusError("caption memory: not what training writes (keys, captions, owner)")
        try:
            return cls(state["keys"], state["captions"], state["owner"], eos, state.get("ids"))
        except (KeyError, TypeError, AttributeError, RuntimeError, IndexError, ValueError):
            raise ConsensusError("caption memory: not what training writes (keys, captions, owner)") from None

    def state(self) -> dict:
        return dict(self.raw)

    def __len__(self) -> int:
        return len(self.keys)

    def neighbours(self, query: torch.Tensor, k: int) -> torch.Tensor:
        """Indices [B, k] of the memory's videos nearest (cosine, centred) to `query` [B, H]."""
        q = query.float().cpu() - self.centre
        q = q / q.norm(dim=1, keepdim=True).clamp(min=1e-8)
        return (q @ self.keys.T).topk(min(k, len(self.keys)), dim=1).indices

    def _vec(self, counts: Counter):
        return tfidf(counts, self.df, self.log_n)

    def _ref_vecs(self, video: int) -> list:
        if video not in self._vecs:
            self._vecs[video] = [self._vec(ngram_counts(w)) for w in self._rows[video]]
        return self._vecs[video]

    def cider(self, words: tuple, videos) -> float:
        """CIDEr-D of the caption `words` against all captions of the memory's `videos`."""
        if self._rows is None:
            self._index()
        vec = self._vec(ngram_counts(words))
        refs = [r for v in videos for r in self._ref_vecs(int(v))]
        if not refs:
            return 0.0
        return sum(pair_cider(vec, ref) for ref in refs) / len(refs)

    def rerank(self, candidates: torch.Tensor, query: torch.Tensor, k: int) -> torch.Tensor:
        """For each video, the index into its candidates [B, n, T] (token ids, <eos>-terminated) of the
        one with the highest CIDEr-D against its `k` nearest memory videos' captions (ties: the
        earlier, i.e. the beam's better-ranked)."""
        near = self.neighbours(query, k).tolist()
        best = []
        for rows, videos in zip(candidates.tolist(), near):
            scores = [self.cider(words_of(r, self.eos), videos) for r in rows]
            best.append(int(np.argmax(scores)))
        return torch.tensor(best, dtype=torch.long, device=candidates.device)
