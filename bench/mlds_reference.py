"""Issue 17's reference captioner, to place a split against the issue's held-back figures.

The issue measured a 60-line model on the held-back MLDS test clips (CIDEr-D 0.42, METEOR 0.22,
BLEU-4 0.28 at its best epoch; val CIDEr-D 0.72 after three epochs) and set the bar above it. This is
that model as the issue describes it: an LSTM encoder over 10 frames, an LSTM decoder fed the
encoder's final state, every (video, caption) pair once per epoch, greedy decoding; plus what it
needs to learn here at all (the frame features standardised on the training split: without it,
it writes one caption for every video). Trained on a manifest's train split, scored on val and
test after every epoch with the metrics `s2vt evaluate` reports, so a split's scores for it can
be set beside `train.py`'s on the same split.
Run: python bench/mlds_reference.py --manifest data/mlds/manifest.jsonl --features data/mlds/features
    [--modality cnn] [--epochs 4] [--seed 0]
One JSON line per epoch and split on stdout. CPU, one thread (about 80 s an epoch on 644 clips).
"""
from __future__ import annotations

import collections
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import at_least, bench_main, bench_parser  # noqa: E402

from s2vt.errors import UserError  # noqa: E402
from s2vt.manifest import read_manifest, split_of  # noqa: E402
from s2vt.metrics import caption_scores  # noqa: E402
from s2vt.store import FeatureStore  # noqa: E402
from s2vt.vocab import tokenize  # noqa: E402

FRAMES, MAX_WORDS, MIN_COUNT, HIDDEN, BATCH = 10, 20, 3, 512, 64
PAD, BOS, EOS, UNK = 0, 1, 2, 3


class Reference(nn.Module):
    def __init__(self, width: int, words: int) -> None:
        super().__init__()
        self.proj, self.enc = nn.Linear(width, HIDDEN), nn.LSTM(HIDDEN, HIDDEN, batch_first=True)
        self.emb, self.dec = nn.Embedding(words, HIDDEN), nn.LSTM(HIDDEN, HIDDEN, batch_first=True)
        self.out, self.drop = nn.Linear(HIDDEN, words), nn.Dropout(0.3)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        _, state = self.enc(self.drop(torch.relu(self.proj(x))))
        h, _ = self.dec(self.drop(self.emb(y)), state)
        return self.out(self.drop(h))

    @torch.no_grad()
    def greedy(self, x: torch.Tensor) -> list[list[int]]:
        _, state = self.enc(torch.relu(self.proj(x)))
        word, out = torch.full((len(x), 1), BOS), []
        for _ in range(MAX_WORDS):
            h, state = self.dec(self.emb(word), state)
            logits = self.out(h[:, -1])
            logits[:, [PAD, BOS, UNK]] = -1e9
            word = logits.argmax(-1, keepdim=True)
            out.append(word)
        return torch.cat(out, 1).tolist()


def main() -> int:
    try:
        return run()
    except UserError as e:  # (a manifest or store that is not one: its one line)
        print(f"error: {e}", file=sys.stderr)
        return 2


def run() -> int:
    p = bench_parser(__doc__)
    p.add_argument("--manifest", required=True)
    p.add_argument("--features", required=True)
    p.add_argument("--modality", default="cnn")
    p.add_argument("--epochs", type=at_least(1), default=4)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    torch.manual_seed(a.seed)
    np.random.seed(a.seed)
    torch.set_num_threads(1)
    store = FeatureStore(a.features)
    split = collections.defaultdict(list)
    for e in read_manifest(a.manifest):
        split[split_of(e)].append(e)
    if not any(e["captions"] for e in split["train"]) or store.width(a.modality) is None:
        raise UserError(f"{a.manifest}: needs captioned train videos and their {a.modality!r} features in {a.features}")
    feats = {}
    for e in (e for rows in split.values() for e in rows):
        x = store.read(a.modality, e["video_id"]).astype(np.float32).reshape(-1, store.width(a.modality))
        feats[e["video_id"]] = x[::max(1, len(x) // FRAMES)][:FRAMES]  # (20 given frames: every other)
    train = np.concatenate([feats[e["video_id"]] for e in split["train"]])
    mean, std = train.mean(0), train.std(0) + 1e-3
    feats = {k: (v - mean) / std for k, v in feats.items()}
    counts = collections.Counter(w for e in split["train"] for c in e["captions"] for w in tokenize(c))
    itos = ["<pad>", "<bos>", "<eos>", "<unk>"] + sorted(w for w, n in counts.items() if n >= MIN_COUNT)
    stoi = {w: i for i, w in enumerate(itos)}
    pairs = [(e["video_id"], [BOS] + [stoi.get(w, UNK) for w in tokenize(c)][:MAX_WORDS - 1] + [EOS])
             for e in split["train"] for c in e["captions"]]
    model = Reference(store.width(a.modality), len(itos))
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    loss_fn = nn.CrossEntropyLoss(ignore_index=PAD)

    def caption(ids: list[int]) -> str:
        return " ".join(itos[i] for i in (ids[:ids.index(EOS)] if EOS in ids else ids))

    for epoch in range(1, a.epochs + 1):
        t0, order = time.time(), np.random.permutation(len(pairs))
        model.train()
        for b in range(0, len(order), BATCH):
            batch = [pairs[i] for i in order[b:b + BATCH]]
            y = torch.zeros(len(batch), max(len(t) for _, t in batch), dtype=torch.long)
            for i, (_, t) in enumerate(batch):
                y[i, :len(t)] = torch.tensor(t)
            logits = model(torch.from_numpy(np.stack([feats[v] for v, _ in batch])), y[:, :-1])
            loss = loss_fn(logits.reshape(-1, logits.shape[-1]), y[:, 1:].reshape(-1))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5)
            opt.step()
        model.eval()
        for name in ("val", "test"):
            rows = [e for e in split[name] if e["captions"]]
            if not rows:
                continue
            preds = model.greedy(torch.from_numpy(np.stack([feats[e["video_id"]] for e in rows])))
            preds = {e["video_id"]: caption(c) for e, c in zip(rows, preds)}
            s = caption_scores({e["video_id"]: e["captions"] for e in rows}, preds)
            print(json.dumps({"seed": a.seed, "epoch": epoch, "split": name,
                              **{k: None if s[k] is None else round(s[k], 3)
                                 for k in ("BLEU-4", "METEOR", "ROUGE-L", "CIDEr")},
                              "distinct": len(set(preds.values())), "seconds": round(time.time() - t0)}), flush=True)
    return 0


if __name__ == "__main__":
    bench_main(main)
