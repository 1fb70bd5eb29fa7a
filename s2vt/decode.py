"""Decoding: greedy and beam search, batched over videos and beams as tensors.

One code path for CPU and GPU, and for every model exposing `step(words, states)` where
`states` is a nested tuple of tensors whose dim 1 is the batch (LSTM (h, c) pairs).
"""
from __future__ import annotations

import dataclasses

import torch

from .options import check_choices, setting
from .vocab import SPECIALS, UNK

UNK_ID = SPECIALS.index(UNK)  # Vocab's fixed ids


@dataclasses.dataclass(frozen=True)
class DecodeConfig:
    """Decoding settings, each declared once: `s2vt caption`, `s2vt evaluate` and `s2vt serve`
    generate their options from these fields (s2vt/options.py) and pass them to `decode`."""
    beam: int = setting(5, "beam width (1 = greedy)", minimum=1, maximum=100)
    # 1.5 and 0.2: chosen on the MLDS val split over two training seeds (docs/benchmarks.md "Decoding
    # for distinct captions"): mean val CIDEr-D 0.664 -> 0.731 and distinct captions 29 -> 41 of 80
    # against 0.7 / 0, which wrote the same few "a man is ..." captions for many videos
    length_penalty: float = setting(1.5, "beam search ranks finished captions by log-probability / "
                                    "length ** this (0: raw log-probability, which favours short captions)",
                                    within="[0, 10]")  # (28 words ** 10 is far inside float32's range)
    # below 1: at 1 the score no longer rewards fitting the video at all
    anti_lm: float = setting(0.2, "mutual-information decoding: a word's score is log p(word | video) minus "
                             "this times log p(word | the mean video), demoting captions likely for any video "
                             "(0: plain beam search; needs --beam > 1)", within="[0, 1)")
    # 1: chosen on the MLDS val split over two training seeds (docs/benchmarks.md "Consensus reranking")
    consensus: int = setting(1, "rerank the beam's captions by CIDEr-D against the captions of this many of the "
                             "run's train and val videos nearest to the video (0: off; needs --beam > 1 and a "
                             "checkpoint with a caption memory, which train.py writes)", minimum=0)

    def __post_init__(self) -> None:
        check_choices(self)


# how many of a video's likeliest tags an answer shows (`--tags` of caption.py and serve, which take the decoding
# settings above too; declared here once)
TAGS_SHOWN = 3


def decode_config(settings: DecodeConfig | int) -> DecodeConfig:
    """`settings` as a DecodeConfig (a bare int: that beam width, the rest at their defaults)."""
    return DecodeConfig(beam=settings) if isinstance(settings, int) else settings


def map_states(states, fn):
    """Apply `fn` to every tensor in a nested tuple of states."""
    if isinstance(states, torch.Tensor):
        return fn(states)
    return tuple(map_states(s, fn) for s in states)


def stacked_states(a, b):
    """Two nested states of one structure as one batch (dim 1: the LSTMs', the context's and the attention
    steps'), or None where their shapes differ elsewhere."""
    if isinstance(a, torch.Tensor):
        return torch.cat([a, b], 1) if a.shape[:1] + a.shape[2:] == b.shape[:1] + b.shape[2:] else None
    parts = [stacked_states(x, y) for x, y in zip(a, b)]
    return None if len(a) != len(b) or any(p is None for p in parts) else tuple(parts)


def _batch_size(states) -> tuple[int, torch.device]:
    while not isinstance(states, torch.Tensor):
        states = states[0]
    return states.shape[1], states.device


@torch.no_grad()
def _banned(logits: torch.Tensor, bos: int, pad: int, unk: int = UNK_ID, seqs: torch.Tensor | None = None) -> torch.Tensor:
    """Never emit <bos>, <pad> or <unk> (a barely trained model ranks them high; <unk> is no word),
    nor a word that would repeat a trigram of `seqs` [N, n] (the words so far, one row per
    `logits` row): repeats are the degenerate loop of an under-trained decoder. In place."""
    logits[..., bos] = float("-inf")
    logits[..., pad] = float("-inf")
    logits[..., unk] = float("-inf")
    n = 0 if seqs is None else seqs.shape[1]
    if n >= 3:
        # the last two words met before at j, j+1: the word after them (j+2) may not follow again
        seen = (seqs[:, :n - 2] == seqs[:, n - 2:n - 1]) & (seqs[:, 1:n - 1] == seqs[:, n - 1:])
        logits.view(-1, logits.shape[-1]).scatter_(1, torch.where(seen, seqs[:, 2:], pad), float("-inf"))
    return logits


@torch.no_grad()
def greedy(model, states, bos: int, eos: int, max_len: int = 28, pad: int = 0) -> torch.Tensor:
    """Token ids [B, <= max_len + 1] (without <bos>) from encoder `states` (`model.encode`'s second
    output), each row stopping at its first <eos>: at most `max_len` words, then <eos>."""
    b, device = _batch_size(states)
    prev = torch.full((b, 1), bos, dtype=torch.long, device=device)
    done = torch.zeros(b, dtype=torch.bool, device=device)
    out = [prev[:, :0]]
    for _ in range(max_len):
        logits, states = model.step(prev, states)
        prev = _banned(logits[:, -1], bos, pad, seqs=torch.cat(out, 1)).argmax(-1, keepdim=True)
        prev = prev.masked_fill(done[:, None], eos)
        out.append(prev)
        done |= prev[:, 0] == eos
        if done.all():
            break
    else:  # (max_len words: the caption ends there, as training cut its captions; it wrote max_len + 1)
        out.append(torch.full((b, 1), eos, dtype=torch.long, device=device))
    return torch.cat(out, 1)


@torch.no_grad()
def beam_search(model, states, bos: int, eos: int, beam: int = DecodeConfig.beam, max_len: int = 28,
                length_penalty: float = DecodeConfig.length_penalty, n_best: int = 1, pad: int = 0, anti_lm: float = 0.0,
                lm_states=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Beam search for every video at once: B videos x `beam` hypotheses advance as one batch.

    Finished hypotheses stay in the beam with their score frozen (they can only extend
    with <eos> at log-probability 0). After `max_len` words the next is <eos> (with its log-probability).
    Final ranking divides each log-probability by length ** length_penalty (length counts words and the <eos>).
    Returns (ids [B, n_best, T] with <eos> padding, normalised scores [B, n_best]).
    With beam=1 this is exactly greedy decoding.

    `anti_lm` > 0 with `lm_states` (the same decoder's states for a video that says nothing, e.g.
    `S2VT.encode(..., blank=True)`): each word scores log p(w | video) - anti_lm * log p(w | blank),
    the mutual-information objective of Li et al. (2016): beam search otherwise converges on the
    captions the decoder finds likely for every video ("a man is playing"), so few are distinct.
    """
    b, device = _batch_size(states)
    k = beam
    states = map_states(states, lambda s: s.repeat_interleave(k, dim=1))
    use_lm = anti_lm > 0 and lm_states is not None
    n = b * k
    if use_lm:
        lm_states = map_states(lm_states, lambda s: s.repeat_interleave(k, dim=1))
        # the video's hypotheses and the blank's as one batch: a step reads the decoder's weights once for both,
        # which is most of its time for a few videos (caption.py: 5 hypotheses; docs/benchmarks.md)
        if (both := stacked_states(states, lm_states)) is not None:
            states, lm_states = both, None
    scores = torch.zeros(b, k, device=device)
    scores[:, 1:] = float("-inf")  # all beams start identical: keep one alive
    prev = torch.full((b * k, 1), bos, dtype=torch.long, device=device)
    seqs = torch.zeros(b, k, 0, dtype=torch.long, device=device)
    finished = torch.zeros(b, k, dtype=torch.bool, device=device)
    lengths = torch.zeros(b, k, device=device)
    offsets = (torch.arange(b, device=device) * k)[:, None]
    for step in range(max_len + 1):
        stacked = use_lm and lm_states is None
        logits, states = model.step(torch.cat([prev, prev]) if stacked else prev, states)
        logits = logits[:, -1].float()
        if stacked:
            logits, lm_logits = logits[:n], logits[n:]
        elif use_lm:
            lm_logits, lm_states = model.step(prev, lm_states)
            lm_logits = lm_logits[:, -1].float()
        logp = torch.log_softmax(_banned(logits, bos, pad, seqs=seqs.reshape(n, seqs.shape[-1])), -1).view(b, k, -1)
        if use_lm:  # (banned words stay -inf: -inf - finite)
            logp = logp - anti_lm * torch.log_softmax(lm_logits, -1).view(b, k, -1)
        if step == max_len:  # (max_len words: the caption ends, as training cut its captions; it wrote max_len + 1)
            logp = torch.where(torch.arange(logp.shape[-1], device=device) == eos, logp, float("-inf"))
        vocab = logp.shape[-1]
        if finished.any():  # a finished hypothesis may only add <eos>, at no cost
            logp.masked_fill_(finished[..., None], float("-inf"))
            logp[..., eos].masked_fill_(finished, 0.0)
        top_scores, top_idx = (scores[..., None] + logp).view(b, -1).topk(k, dim=-1)
        src, tok = top_idx // vocab, top_idx % vocab
        flat = (offsets + src).view(-1)
        chosen = torch.cat([flat, flat + n]) if stacked else flat
        states = map_states(states, lambda s: s.index_select(1, chosen))
        if use_lm and not stacked:
            lm_states = map_states(lm_states, lambda s: s.index_select(1, flat))
        was_done = finished.gather(1, src)
        seqs = torch.cat([seqs.gather(1, src[..., None].expand(-1, -1, seqs.shape[-1])), tok[..., None]], -1)
        lengths = lengths.gather(1, src) + (~was_done).float()
        finished = was_done | (tok == eos)
        scores = top_scores
        prev = tok.view(-1, 1)
        if finished.all():
            break
    norm = scores / lengths.clamp(min=1) ** length_penalty
    best, order = norm.topk(min(n_best, k), dim=-1)
    return seqs.gather(1, order[..., None].expand(-1, -1, seqs.shape[-1])), best


def decode(model, states, bos: int, eos: int, beam: DecodeConfig | int = 1, max_len: int = 28,
           lm_states=None, memory=None, query: torch.Tensor | None = None) -> torch.Tensor:
    """Best token ids [B, T] per video: greedy for beam 1, else beam search with the settings `beam`
    (a bare int: that beam width, the other settings at their defaults); the anti-LM acts only
    given `lm_states` (`S2VT.encode(..., blank=True)`, as `predict.predict` passes them), consensus
    reranking only given a `memory` (consensus.CaptionMemory) and the videos' `query` vectors
    (`S2VT.summary`)."""
    cfg = decode_config(beam)
    if cfg.beam <= 1:
        return greedy(model, states, bos, eos, max_len)
    rerank = cfg.consensus > 0 and memory is not None and query is not None
    ids, scores = beam_search(model, states, bos, eos, cfg.beam, max_len, cfg.length_penalty,
                              n_best=cfg.beam if rerank else 1, anti_lm=cfg.anti_lm, lm_states=lm_states)
    if not rerank:
        return ids[:, 0]
    # a hypothesis scored -inf is none (a beam wider than the words there are to start with, e.g. --max-len 1): the
    # best one stands in for it, which the reranking, reading ids alone, had chosen unended (trial 110)
    ids = torch.where(torch.isfinite(scores)[..., None], ids, ids[:, :1])
    return ids[torch.arange(len(ids), device=ids.device), memory.rerank(ids, query, cfg.consensus)]
