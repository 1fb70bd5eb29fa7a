"""Tag neighbours: a multi-label tag model's memory of the videos it learnt from, their feature vectors and
tags. A video's tag probabilities are the network's blended with those of its k most similar memory
videos (cosine over the standardised, L2-normalised features the tag-only head reads, similarity to the
power p as each neighbour's vote): (1 - mix) x network + mix x neighbours. k, p and mix are chosen on val
when training ends (`finish.choose_neighbours`), with a memory of the training videos; best.pt keeps a
memory of train + val. On YouTube-8M's video-level features the neighbours alone score about what the
network does, and the blend above either (docs/benchmarks.md "Tag neighbours").
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .metrics import gap

# what is tried on val: neighbours, the similarity's power, the neighbours' share (0: the network alone)
KS = (10, 25, 50, 100)  # (100: more data, more neighbours worth asking; 25-50 chosen on 2,376 videos)
POWERS = (1, 3)
MIXES = tuple(round(0.1 * i, 1) for i in range(11))
# the videos a memory holds at most (1,152 numbers a YouTube-8M video: ~115 MB in best.pt at the cap, float16,
# twice that once loaded, float32); a run over more keeps the first it reads
NEIGHBOURS_MAX = 50_000
# the query rows scored against the whole memory at once (a [rows, memory] similarity matrix)
CHUNK = 256


class NeighboursError(ValueError):
    """A memory state that does not fit its model (checkpoint.neighbours_of says which file)."""


class TagNeighbours:
    """`keys` [N, D] unit vectors (float16 values), `tags` the tag ids of each of the N videos as a CSR
    (`indptr` [N + 1], `indices`), over `num_tags` tags. Not an nn.Module: its size is the data's, not
    the model's, so it lives beside the state dict (best.pt's "neighbours"), as the caption memory does."""

    def __init__(self, keys: torch.Tensor, indptr: torch.Tensor, indices: torch.Tensor, num_tags: int,
                 k: int, power: float, mix: float) -> None:
        # (built on the CPU, whatever device a checkpoint was read onto; `to` moves it). The float16 values
        # best.pt stores (`state`), held as float32 for the similarity's products: the memory val chose
        # with is, to the bit, the one predictions use
        self.keys = keys.detach().cpu().to(torch.float16).float()
        self.indptr, self.indices = indptr.detach().cpu().long(), indices.detach().cpu().long()
        self.num_tags, self.k, self.power, self.mix = num_tags, int(k), float(power), float(mix)
        rows = torch.repeat_interleave(torch.arange(len(self.keys)), self.indptr.diff())
        # [num_tags, N]: a neighbour's votes reach its tags in one sparse product
        self.votes = torch.sparse_coo_tensor(torch.stack([self.indices, rows]), torch.ones(len(rows)),
                                             (num_tags, len(self.keys)), check_invariants=True).coalesce()

    @classmethod
    def build(cls, keys: torch.Tensor, targets: torch.Tensor, k: int = KS[0], power: float = POWERS[0],
              mix: float = 0.0) -> "TagNeighbours":
        """From [N, D] keys (`keys_of`) and [N, C] 0/1 targets."""
        rows, cols = torch.nonzero(targets, as_tuple=True)
        indptr = torch.zeros(len(targets) + 1, dtype=torch.long)
        indptr[1:] = torch.bincount(rows, minlength=len(targets)).cumsum(0)
        return cls(keys, indptr, cols, targets.shape[1], k, power, mix)

    def state(self) -> dict:
        return {"keys": self.keys.to(torch.float16).cpu(), "indptr": self.indptr.cpu(),
                "indices": self.indices.int().cpu(), "num_tags": self.num_tags, "k": self.k, "power": self.power,
                "mix": self.mix}

    @classmethod
    def from_state(cls, state: dict, num_tags: int, width: int) -> "TagNeighbours":
        """NeighboursError where the memory does not fit a model of `num_tags` tags reading `width` features."""
        try:
            keys, indptr, indices = state["keys"], state["indptr"], state["indices"]
            k, power, mix = state["k"], float(state["power"]), float(state["mix"])
            integers = all(torch.is_tensor(t) and not t.is_floating_point() and not t.is_complex()
                           and t.dtype != torch.bool for t in (indptr, indices))
            fits = (integers and torch.is_tensor(keys) and keys.is_floating_point() and keys.dim() == 2
                    and keys.shape[1] == width and int(state["num_tags"]) == num_tags
                    and indptr.dim() == 1 and len(indptr) == len(keys) + 1 and int(indptr[0]) == 0
                    and bool((indptr.diff() >= 0).all()) and int(indptr[-1]) == len(indices)
                    and (not len(indices) or 0 <= int(indices.min()) <= int(indices.max()) < num_tags)
                    and isinstance(k, int) and not isinstance(k, bool) and k >= 1 and 0 <= mix <= 1
                    and 0 < power < float("inf")
                    # (unit vectors: finite in float16, as they are kept)
                    and bool(torch.isfinite(keys.to(torch.float16)).all()))
        except (KeyError, TypeError, AttributeError, ValueError, RuntimeError, IndexError):
            fits = False
        if not fits:
            raise NeighboursError(f"tag neighbours do not fit the model ({num_tags} tags, {width} features a video)")
        return cls(keys, indptr, indices, num_tags, k, power, mix)

    def to(self, device) -> "TagNeighbours":
        self.keys, self.votes = self.keys.to(device), self.votes.to(device)
        return self

    def __len__(self) -> int:
        return len(self.keys)

    def scores(self, query: torch.Tensor, k: int | None = None, power: float | None = None) -> torch.Tensor:
        """[B, num_tags] in [0, 1]: each tag's share of the similarity-weighted votes of the k nearest
        memory videos of each query row ([B, D] unit vectors)."""
        k, power = k or self.k, power or self.power
        return self.scores_for(query, [(k, power)])[(k, power)]

    def scores_for(self, query: torch.Tensor, pairs: list[tuple[int, float]]) -> dict:
        """`scores` for each (k, power) of `pairs`, the similarities computed once (the costly part: a
        [rows, memory] product) and the nearest max(k) taken once."""
        if self.keys.device != query.device:
            self.to(query.device)
        n = len(self)
        most = min(max(k for k, _ in pairs), n)
        out: dict = {pair: [] for pair in pairs}
        for part in query.float().split(CHUNK):
            sim = part @ self.keys.T                                  # [b, N]
            top = sim.topk(most, dim=1)                               # (sorted: the first k are the k nearest)
            for k, power in pairs:
                w = top.values[:, :min(k, n)].clamp(min=0) ** power
                weights = torch.zeros_like(sim).scatter_(1, top.indices[:, :min(k, n)], w)
                votes = torch.sparse.mm(self.votes, weights.T).T
                out[(k, power)].append(votes / w.sum(1, keepdim=True).clamp(min=1e-9))
        empty = query.new_zeros(0, self.num_tags)
        return {pair: torch.cat(parts) if parts else empty for pair, parts in out.items()}

    def blend(self, logits: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        """The network's logits with the neighbours' share mixed into its probabilities, as logits."""
        if self.mix <= 0 or not len(self):
            return logits
        p = (1 - self.mix) * torch.sigmoid(logits.float()) + self.mix * self.scores(query)
        return torch.logit(p, eps=1e-6).to(logits.dtype)


def keys_of(steps: torch.Tensor) -> torch.Tensor:
    """A video's key: the mean of its feature steps [B, steps, D] (`Fusion.features`), unit length."""
    return F.normalize(steps.float().mean(1), dim=-1)


def choose(memory: TagNeighbours, probs: torch.Tensor, query: torch.Tensor, gold: list[list[int]]
           ) -> tuple[dict, float, float]:
    """The (k, power, mix) of KS x POWERS x MIXES whose blend of the network's val probabilities `probs`
    [V, C] and the neighbours' scores scores the best GAP@20 on val (`gold`: each val video's tag ids), that
    GAP, and the network's alone. A tie: the smaller mix (the network alone first), then the smaller k and
    power."""
    tried = {}
    p_net = probs.float().cpu().numpy()
    tried[(0.0, KS[0], POWERS[0])] = gap(p_net, gold)  # (the network alone: once, whatever k and power)
    ks = sorted({min(k, max(1, len(memory))) for k in KS})  # (k above the memory's size: all of it, once)
    scores = memory.scores_for(query, [(k, power) for k in ks for power in POWERS])
    for (k, power), s in scores.items():
        s = s.cpu().numpy()
        for mix in MIXES[1:]:
            tried[(mix, k, power)] = gap((1 - mix) * p_net + mix * s, gold)
    best = max(tried, key=lambda t: (tried[t], -t[0], -t[1], -t[2]))
    mix, k, power = best
    return {"k": k, "power": power, "mix": mix}, float(tried[best]), float(tried[min(tried)])
