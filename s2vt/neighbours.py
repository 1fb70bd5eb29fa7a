"""Tag neighbours: a multi-label tag model's memory of the videos it learnt from, their feature vectors and
tags. A video's tag probabilities are the network's blended with those of its k most similar memory
videos (cosine similarity to the power p as each neighbour's vote): (1 - mix) x network + mix x neighbours.
Similarity is measured in one of two spaces (SPACES): "features", the standardised, L2-normalised features the
tag-only head reads, or "hidden", those features through the head's first hidden layer (`S2VT.neighbour_layer`:
ReLU, centred on the memory's mean), where the network has learnt which differences matter for its tags. The
space, k, p and mix are chosen on val when training ends (`finish.choose_neighbours`), with a memory of the
training videos; best.pt keeps a memory of train + val. A hidden-space memory keeps the features and maps them
when it is loaded, through the network it is loaded with: the refit's weights, not those val chose with. On
YouTube-8M's video-level features the neighbours alone score about what the network does, and the blend above
either, the more in the hidden space (docs/benchmarks.md "Tag neighbours", "Neighbours in the hidden space").
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .metrics import gap

# what is tried on val: neighbours, the similarity's power, the neighbours' share (0: the network alone)
KS = (10, 25, 50, 100)  # (100: more data, more neighbours worth asking; 25-50 chosen on 2,376 videos)
POWERS = (1, 3)
MIXES = tuple(round(0.1 * i, 1) for i in range(11))
SPACES = ("features", "hidden")
# the videos a memory holds at most (1,152 numbers a YouTube-8M video: ~115 MB in best.pt at the cap, float16;
# once loaded twice that as float32 keys, or in the hidden space 2,048 float32 a video, ~410 MB, beside the
# float16 features); a run over more keeps the first it reads
NEIGHBOURS_MAX = 50_000
# the query rows scored against the whole memory at once (a [rows, memory] similarity matrix)
CHUNK = 256


class NeighboursError(ValueError):
    """A memory state that does not fit its model (checkpoint.neighbours_of says which file)."""


class TagNeighbours:
    """`vectors` [N, D] (float16 values) and the tag ids of each of the N videos as a CSR (`indptr` [N + 1],
    `indices`), over `num_tags` tags. In the "features" space the vectors are the keys (unit vectors); in the
    "hidden" space they are the videos' features, kept, and the keys those through a hidden layer (`embed`, before
    the memory is used). Not an nn.Module: its size is the data's, not the model's, so it lives beside the state
    dict (best.pt's "neighbours"), as the caption memory does."""

    def __init__(self, vectors: torch.Tensor, indptr: torch.Tensor, indices: torch.Tensor, num_tags: int,
                 k: int, power: float, mix: float, space: str = "features") -> None:
        # (built on the CPU, whatever device a checkpoint was read onto; `to` moves it). The float16 values
        # best.pt stores (`state`), held as float32 for the similarity's products: in the features space the
        # memory val chose with is, to the bit, the one predictions use (the hidden space's is mapped by the
        # weights it is loaded with: after a refit, the refit's)
        self.space = space
        # (the hidden space's features kept as stored, float16, for `state`: each float32 copy of a memory at the
        # cap, 50,000 videos, is another 230 MB)
        self.vectors = vectors.detach().cpu().to(torch.float16) if space == "hidden" else None
        self.keys = vectors.detach().cpu().to(torch.float16).float() if space == "features" else None  # (or `embed`)
        self.centre = None
        self.indptr, self.indices = indptr.detach().cpu().long(), indices.detach().cpu().long()
        self.num_tags, self.k, self.power, self.mix = num_tags, int(k), float(power), float(mix)
        rows = torch.repeat_interleave(torch.arange(len(vectors)), self.indptr.diff())
        # [num_tags, N]: a neighbour's votes reach its tags in one sparse product
        self.votes = torch.sparse_coo_tensor(torch.stack([self.indices, rows]), torch.ones(len(rows)),
                                             (num_tags, len(vectors)), check_invariants=True).coalesce()

    @classmethod
    def build(cls, features: torch.Tensor, targets: torch.Tensor, k: int = KS[0], power: float = POWERS[0],
              mix: float = 0.0, layer: nn.Linear | None = None) -> "TagNeighbours":
        """From [N, D] features (`S2VT.neighbour_features`) and [N, C] 0/1 targets; `layer`: the hidden space's
        (None: the features space)."""
        rows, cols = torch.nonzero(targets, as_tuple=True)
        indptr = torch.zeros(len(targets) + 1, dtype=torch.long)
        indptr[1:] = torch.bincount(rows, minlength=len(targets)).cumsum(0)
        if layer is None:
            return cls(F.normalize(features.float(), dim=-1), indptr, cols, targets.shape[1], k, power, mix)
        return cls(features, indptr, cols, targets.shape[1], k, power, mix, "hidden").embed(layer)

    def embed(self, layer: nn.Linear) -> "TagNeighbours":
        """The hidden space's keys: the vectors through `layer` and a ReLU (the tag head's first hidden layer),
        centred on their mean over the memory, unit length. The features space's keys are its vectors."""
        if self.space == "hidden":
            def hidden(rows: torch.Tensor) -> torch.Tensor:
                return F.relu(layer(rows.to(layer.weight.device, layer.weight.dtype))).float()
            # (in parts and in place: the whole memory's hidden vectors at once were several copies of the keys
            # at their peak, ~0.4 GB each at the cap)
            with torch.no_grad():
                keys = torch.zeros(len(self.vectors), layer.out_features, device=layer.weight.device)
                for i in range(0, len(self.vectors), CHUNK * 16):
                    keys[i:i + CHUNK * 16] = hidden(self.vectors[i:i + CHUNK * 16])
                self.centre = keys.mean(0) if len(keys) else keys.new_zeros(layer.out_features)
                keys.sub_(self.centre)
                self.keys = keys.div_(keys.norm(dim=-1, keepdim=True).clamp_(min=1e-12))  # (F.normalize, in place)
                self.votes = self.votes.to(self.keys.device)
        return self

    def query(self, features: torch.Tensor, layer: nn.Linear | None) -> torch.Tensor:
        """[B, K] the keys of videos' [B, D] features (`S2VT.neighbour_features`) in this memory's space."""
        if self.space == "features":
            return F.normalize(features.float(), dim=-1)
        if self.centre.device != features.device:  # (a model moved after its memory was mapped)
            self.to(features.device)
        with torch.no_grad():
            return F.normalize(F.relu(layer(features.to(layer.weight.dtype))).float() - self.centre, dim=-1)

    def state(self) -> dict:
        kept = ({"keys": self.keys.to(torch.float16).cpu()} if self.space == "features"
                else {"features": self.vectors, "space": "hidden"})
        return {**kept, "indptr": self.indptr.cpu(), "indices": self.indices.int().cpu(), "num_tags": self.num_tags,
                "k": self.k, "power": self.power, "mix": self.mix}

    @classmethod
    def from_state(cls, state: dict, num_tags: int, width: int, layer: nn.Linear | None = None) -> "TagNeighbours":
        """NeighboursError where the memory does not fit a model of `num_tags` tags reading `width` features
        (a hidden-space memory: whose hidden `layer` reads them; None, a model without one)."""
        space = state.get("space", "features") if isinstance(state, dict) else None
        try:
            vectors = state["keys"] if space == "features" else state["features"]
            indptr, indices = state["indptr"], state["indices"]
            k, power, mix = state["k"], float(state["power"]), float(state["mix"])
            integers = all(torch.is_tensor(t) and not t.is_floating_point() and not t.is_complex()
                           and t.dtype != torch.bool for t in (indptr, indices))
            fits = (space in SPACES and (space == "features" or (layer is not None and layer.in_features == width))
                    and integers and torch.is_tensor(vectors) and vectors.is_floating_point() and vectors.dim() == 2
                    and vectors.shape[1] == width and int(state["num_tags"]) == num_tags
                    and indptr.dim() == 1 and indices.dim() == 1 and len(indptr) == len(vectors) + 1
                    and int(indptr[0]) == 0
                    and bool((indptr.diff() >= 0).all()) and int(indptr[-1]) == len(indices)
                    and (not len(indices) or 0 <= int(indices.min()) <= int(indices.max()) < num_tags)
                    and isinstance(k, int) and not isinstance(k, bool) and k >= 1 and 0 <= mix <= 1
                    and 0 < power < float("inf")
                    # (finite in float16, as they are kept: unit keys, or standardised features)
                    and bool(torch.isfinite(vectors.to(torch.float16)).all()))
        except (KeyError, TypeError, AttributeError, ValueError, RuntimeError, IndexError):
            fits = False
        if not fits:
            raise NeighboursError(f"tag neighbours do not fit the model ({num_tags} tags, {width} features a video"
                                  + (", in the hidden space of a model without one" if space == "hidden"
                                     and layer is None else "") + ")")
        return cls(vectors, indptr, indices, num_tags, k, power, mix, space).embed(layer)

    def to(self, device) -> "TagNeighbours":
        self.keys, self.votes = self.keys.to(device), self.votes.to(device)
        self.centre = self.centre.to(device) if self.centre is not None else None
        return self

    def __len__(self) -> int:
        return len(self.indptr) - 1

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
        """The network's logits with the neighbours' share mixed into its probabilities, as logits (`query`:
        the videos' keys, as `TagNeighbours.query` gives them)."""
        if self.mix <= 0 or not len(self):
            return logits
        p = (1 - self.mix) * torch.sigmoid(logits.float()) + self.mix * self.scores(query)
        return torch.logit(p, eps=1e-6).to(logits.dtype)


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
