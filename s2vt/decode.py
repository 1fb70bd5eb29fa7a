"""Decoding: greedy search over a batch of videos (one code path for CPU and GPU)."""
from __future__ import annotations

import torch

from .model import S2VT


@torch.no_grad()
def greedy(model: S2VT, states, bos: int, eos: int, max_len: int = 28) -> torch.Tensor:
    """Token ids [B, <= max_len + 1] (without <bos>) from encoder `states` (`model.encode`'s second
    output), each row stopping at its first <eos>."""
    h = states[0][0]
    b, device = h.shape[1], h.device
    prev = torch.full((b, 1), bos, dtype=torch.long, device=device)
    done = torch.zeros(b, dtype=torch.bool, device=device)
    out = []
    for _ in range(max_len + 1):
        logits, states = model.step(prev, states)
        prev = logits[:, -1].argmax(-1, keepdim=True)
        prev = prev.masked_fill(done[:, None], eos)
        out.append(prev)
        done |= prev[:, 0] == eos
        if done.all():
            break
    return torch.cat(out, 1)
