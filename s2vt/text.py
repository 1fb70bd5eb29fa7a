"""Text as a modality: a video's title, ASR and OCR -> tokens (Chinese and English) -> token ids
-> one vector per video (TF-IDF-weighted sum of token embeddings per field, the fields side by side).

Two tokenisers: `char` (character 1-3-grams, no dictionary; spaces are characters too) and `word` (jieba's segmentation;
English words come out whole). Both add a whole-hashtag token per `#topic` (topic tags are
mostly the uploader's hashtags) and turn `@name` mentions into one `@` token (names are noise).
"""
from __future__ import annotations

import collections
import logging
import math
import re
import unicodedata
import warnings

import torch
from torch import nn

from .errors import UserError
from .manifest import MAX_TEXT_CHARS, TEXT_FIELDS as FIELDS
TOKENIZERS = ("char", "word")
MAX_NGRAM = 3
PAD = "<pad>"
HASHTAG = re.compile(r"#([^#@\s]{1,40})")
MENTION = re.compile(r"@[^#@\s]{0,40}")


class TextError(UserError):
    """Text that cannot be used (not a string, a tokeniser we do not have); one line for the user."""


def clean(text: object, where: str = "") -> str:
    """NFKC-normalised, lower-cased text, cut to MAX_TEXT_CHARS; lone surrogates (invalid UTF-16
    halves a JSON file may carry) become '?'. None is empty; anything else but a string is a TextError."""
    if text is None:
        return ""
    if not isinstance(text, str):
        raise TextError(f"{where}text must be a string, not {type(text).__name__}")
    text = text[:MAX_TEXT_CHARS].encode("utf-8", "replace").decode("utf-8")
    return unicodedata.normalize("NFKC", text).lower()


def _jieba():
    import jieba  # imported on first use: only the word tokeniser needs its dictionary

    jieba.setLogLevel(logging.WARNING)  # not its "Building prefix dict" notes on every run
    return jieba


def tokenize(text: object, tokenizer: str = "char") -> list[str]:
    """The tokens of one field's text (see the module docstring); [] for empty text."""
    text = clean(text)
    tags = ["#" + t for t in HASHTAG.findall(text)]
    plain = MENTION.sub(" @ ", text).replace("#", " ")
    if tokenizer == "word":
        words = [w for w in _jieba().lcut(plain) if w.strip()]
    elif tokenizer == "char":
        # n-grams run across spaces (one space, the text padded with one each side), so "球 o"
        # and " ok " say which characters neighbour and where a word starts or ends: +0.015-0.02
        # level-1 accuracy for a linear SVM on kuairec val over n-grams within each run (docs/benchmarks.md)
        line = f" {' '.join(plain.split())} "
        words = [line[i:i + n] for n in range(1, MAX_NGRAM + 1) for i in range(len(line) - n + 1)
                 if line[i:i + n].strip()] if line.strip() else []
    else:
        raise TextError(f"--text-tokenizer must be one of {', '.join(TOKENIZERS)}, not {tokenizer!r}")
    return words + tags


def fields(entry: dict) -> list[str]:
    """A manifest entry's text fields in FIELDS order ('' where absent)."""
    text = entry.get("text") or {}
    return [text.get(f, "") or "" for f in FIELDS]


def has_text(entries: list[dict]) -> bool:
    """Whether any of `entries` has text: a field of more than blank space (a title " " was text to one check and
    none to another; trial 85)."""
    return any(any(f.strip() for f in fields(e)) for e in entries)


class TextVocab:
    """Token strings <-> ids (0 is padding; tokens outside the vocabulary are dropped), each
    token's IDF on the training split, and the tokeniser: what a checkpoint stores to read text
    as it trained."""

    def __init__(self, tokens: list[str], tokenizer: str, idf: list[float]) -> None:
        if tokenizer not in TOKENIZERS:
            raise TextError(f"--text-tokenizer must be one of {', '.join(TOKENIZERS)}, not {tokenizer!r}")
        self.itos, self.tokenizer, self.idf = list(tokens), tokenizer, list(idf)
        self.stoi = {t: i for i, t in enumerate(self.itos)}
        self.found = len(self.itos) - 1  # (tokens on `min_count` training videos: more where `max_tokens` cut them)

    @classmethod
    def build(cls, entries: list[dict], tokenizer: str, min_count: int,
              max_tokens: int | None = None) -> "TextVocab":
        """Tokens seen in at least `min_count` of `entries` (the training split), commonest first, the first
        `max_tokens` of them (None: all)."""
        counts = collections.Counter(t for e in entries for f in fields(e) for t in set(tokenize(f, tokenizer)))
        found = sorted((t for t, c in counts.items() if c >= min_count), key=lambda t: (-counts[t], t))
        kept, n = found[:max_tokens], len(entries)
        vocab = cls([PAD, *kept], tokenizer, [0.0] + [math.log((1 + n) / (1 + counts[t])) + 1 for t in kept])
        vocab.found = len(found)
        return vocab

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, entry: dict) -> list[tuple[list[int], list[float]]]:
        """(token ids, weights) of each field of a manifest entry: sublinear TF x IDF, L2-normalised
        per field, as a TF-IDF vector (rare, telling tokens count most; a long text is no louder)."""
        out = []
        for f in fields(entry):
            tf = collections.Counter(self.stoi[t] for t in tokenize(f, self.tokenizer) if t in self.stoi)
            w = [(1 + math.log(c)) * self.idf[i] for i, c in tf.items()]
            norm = math.sqrt(sum(x * x for x in w)) or 1.0
            out.append((list(tf), [x / norm for x in w]))
        return out

    def state(self) -> dict:
        return {"tokenizer": self.tokenizer, "tokens": self.itos, "idf": self.idf}

    @classmethod
    def from_state(cls, state: dict) -> "TextVocab":
        return cls(state["tokens"], state["tokenizer"], state["idf"])


def collate_text(encoded: list[list[tuple[list[int], list[float]]]]) -> dict:
    """Per-video field (ids, weights) -> EmbeddingBag input: flat ids and weights, one offset per
    (video, field)."""
    ids, weights, offsets = [], [], []
    for video in encoded:
        for field_ids, field_weights in video:
            offsets.append(len(ids))
            ids += field_ids
            weights += field_weights
    return {"ids": torch.tensor(ids, dtype=torch.long), "weights": torch.tensor(weights, dtype=torch.float),
            "offsets": torch.tensor(offsets, dtype=torch.long)}


def sparse_bag(vocab_size: int, dim: int) -> nn.EmbeddingBag:
    """A trained token table: weighted sums of rows, its gradient sparse (the rows of the batch's tokens alone,
    which `epoch.LazyAdam` updates; dense under DDP, `epoch.distributed`)."""
    return nn.EmbeddingBag(vocab_size, dim, mode="sum", padding_idx=0, sparse=True)


class TextEncoder(nn.Module):
    """TF-IDF-weighted sum of token embeddings per field (an empty field is zeros), the fields
    concatenated so the projection weighs title, ASR and OCR apart -> [B, out]."""

    def __init__(self, vocab_size: int, dim: int, out: int, dropout: float) -> None:
        super().__init__()
        self.bag = sparse_bag(vocab_size, dim)
        self.proj = nn.Sequential(nn.Dropout(dropout), nn.Linear(len(FIELDS) * dim, out), nn.ReLU(),
                                  nn.Dropout(dropout))

    def forward(self, text: dict | None, batch: int) -> torch.Tensor:
        """`text` from `collate_text` (None: `batch` videos without text, e.g. caption.py's)."""
        e = bag_fields(self.bag, text, batch)
        return self.proj(e.view(-1, len(FIELDS) * e.shape[-1]))


class TextLinear(nn.Module):
    """The wide half of wide & deep: one linear map from the TF-IDF token vector (the fields
    summed) straight to the tag logits, beside the MLP over embeddings. It learns what TF-IDF +
    a linear classifier learns (a `#hashtag` token -> its topic tag), which the narrow MLP
    blurs. Starts at zero: the MLP's logits alone at first."""

    def __init__(self, vocab_size: int, out: int) -> None:
        super().__init__()
        self.bag = sparse_bag(vocab_size, out)
        nn.init.zeros_(self.bag.weight)

    def forward(self, text: dict | None, batch: int) -> torch.Tensor:
        return bag_fields(self.bag, text, batch).view(-1, len(FIELDS), self.bag.embedding_dim).sum(1)


def bag_fields(bag: nn.EmbeddingBag, text: dict | None, batch: int) -> torch.Tensor:
    """[videos * fields, dim]: `bag` over each (video, field)'s weighted tokens; `text` None is
    `batch` videos without text (zeros)."""
    if text is None:
        device = bag.weight.device
        text = {"ids": torch.zeros(0, dtype=torch.long, device=device), "weights": torch.zeros(0, device=device),
                "offsets": torch.zeros(batch * len(FIELDS), dtype=torch.long, device=device)}
    return bag(text["ids"], text["offsets"], per_sample_weights=text["weights"])


# the fitted linear path's scores are margins (about +-1 at the hinge), the network's are logits: x4
# puts a margin of 1 at p ~ 0.98, so a mixing weight in [0, 1] spans both scales
MIX_SCALE = 4.0


class TextFitted(nn.Module):
    """A linear classifier over the TF-IDF token vector (the fields summed) fitted to convergence
    after training (`fit_linear`: squared-hinge one-vs-rest with an L2 penalty, what a LinearSVC
    solves), its scores mixed into the network's logits label by label: `mix` (0: the network
    alone, 1: the linear classifier alone) is chosen on val per label kind. Adam trained jointly
    with the MLP leaves such a path below a converged linear model on level 1 (docs/benchmarks.md)."""

    def __init__(self, vocab_size: int, out: int) -> None:
        super().__init__()
        self.bag = nn.EmbeddingBag(vocab_size, out, mode="sum", padding_idx=0)
        nn.init.zeros_(self.bag.weight)
        self.bias = nn.Parameter(torch.zeros(out))
        self.register_buffer("mix", torch.zeros(out))  # a buffer: saved in the checkpoint, not trained
        self.requires_grad_(False)  # set by fit_linear, never by the optimiser

    def scores(self, text: dict | None, batch: int) -> torch.Tensor:
        return bag_fields(self.bag, text, batch).view(-1, len(FIELDS), self.bag.embedding_dim).sum(1) + self.bias

    def blend(self, logits: torch.Tensor, text: dict | None) -> torch.Tensor:
        if not bool(self.mix.any()):  # not fitted (during training): the network's logits untouched
            return logits
        return (1 - self.mix) * logits + self.mix * MIX_SCALE * self.scores(text, logits.shape[0])


def tfidf_matrix(encoded: list[list[tuple[list[int], list[float]]]], vocab_size: int) -> torch.Tensor:
    """Sparse (COO) [videos, vocab] TF-IDF matrix of `TextVocab.encode`d videos, the fields summed (as
    TextFitted reads them)."""
    rows, cols, vals = [], [], []
    for r, video in enumerate(encoded):
        for ids, weights in video:
            rows += [r] * len(ids)
            cols += ids
            vals += weights
    with warnings.catch_warnings():  # (torch's "sparse CSR support is in beta" note, on every run)
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_coo_tensor(torch.tensor([rows, cols], dtype=torch.long),
                                       torch.tensor(vals, dtype=torch.float), (len(encoded), vocab_size)).coalesce()


# the complement naive Bayes share of a level's linear weights and its smoothing: chosen by 5-fold CV
# over kuairec train+val with these TF-IDF tokens (level 1 +0.009, level 2 +0.005 over the SVM alone;
# docs/benchmarks.md)
CNB_WEIGHT, CNB_ALPHA = 0.3, 0.3


def complement_nb(x: torch.Tensor, targets: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """[vocab, classes] weights of a complement naive Bayes classifier (Rennie et al. 2003; what
    scikit-learn's ComplementNB scores with, smoothing CNB_ALPHA) over the videos in `rows` of the
    one-class-a-video `targets`, centred over the classes: softmax and argmax see the same answer
    and the weights add to a linear classifier's. A different bias from the hinge's (class
    frequencies of tokens, not margins): the two together beat either on level 1."""
    keep = torch.nonzero(rows).flatten()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        counts = torch.sparse.mm(torch.index_select(x, 0, keep).coalesce().t(), targets[keep].float())  # [V, C]
    complement = counts.sum(1, keepdim=True) - counts + CNB_ALPHA
    log_prob = torch.log(complement / complement.sum(0, keepdim=True))
    return -(log_prob - log_prob.mean(1, keepdim=True))


# the labels of a one-vs-rest fit are independent problems: fitted a chunk at a time, each chunk's [vocab, chunk]
# weights (and [videos, chunk] scores) about this many values, so L-BFGS's copies of them (2 x its history, the
# gradient, the step) stay bounded where thousands of tags meet a vocabulary of 100k+ tokens (docs/benchmarks.md)
FIT_CHUNK_VALUES = 2 ** 24


def fit_linear(x: torch.Tensor, targets: torch.Tensor, rows: torch.Tensor, c: float,
               steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(weights [vocab, labels], bias [labels]) minimising 0.5 |W|^2 + c * sum over the videos in
    `rows` ([videos] bool) of max(0, 1 - y (xW + b))^2 for each label (y = +-1 from the 0/1
    `targets`): one-vs-rest squared hinge, LinearSVC's problem, by full-batch L-BFGS (`steps`
    iterations at most) over FIT_CHUNK_VALUES-sized chunks of the labels, the bias unpenalised."""
    keep = torch.nonzero(rows).flatten()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        x = torch.index_select(x, 0, keep).coalesce()
        # CSR both ways: the fast sparse @ dense for the scores and for the gradient (autograd's
        # backward through a CSR product transposes it at every step)
        xt, x = x.t().coalesce().to_sparse_csr(), x.to_sparse_csr()
    sign = 2 * targets[keep].float() - 1
    w, b = torch.zeros(x.shape[1], targets.shape[1]), torch.zeros(targets.shape[1])
    chunk = max(1, FIT_CHUNK_VALUES // max(x.shape[0], x.shape[1]))
    for start in range(0, targets.shape[1], chunk):
        part = slice(start, start + chunk)
        w[:, part], b[part] = fit_chunk(x, xt, sign[:, part].contiguous(), c, steps)
    return w, b


def fit_chunk(x, xt, sign: torch.Tensor, c: float, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """fit_linear's problem for the labels of `sign` (+-1 [videos, labels]) by L-BFGS."""
    w = torch.zeros(x.shape[1], sign.shape[1])
    b = torch.zeros(sign.shape[1])
    opt = torch.optim.LBFGS([w, b], lr=1, max_iter=steps, history_size=5, line_search_fn="strong_wolfe",
                            tolerance_grad=1e-5, tolerance_change=1e-9)

    def closure():
        loss, w.grad, b.grad = squared_hinge(x, xt, sign, c, w, b)
        return loss
    with torch.no_grad():
        opt.step(closure)
    return w, b


def squared_hinge(x, xt, sign, c: float, w: torch.Tensor, b: torch.Tensor):
    """(loss, d loss / d w, d loss / d b) of fit_linear's problem, the gradient written by hand:
    `x` [videos, vocab] and its transpose `xt` (both sparse), `sign` +-1 [videos, labels]."""
    margin = (1 - sign * (x @ w + b)).clamp(min=0)
    g = -2 * c * sign * margin  # d loss / d scores
    return 0.5 * (w * w).sum() + c * (margin * margin).sum(), w + xt @ g, g.sum(0)
