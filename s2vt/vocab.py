"""Tokenizer and vocabulary: one tokenisation for training, decoding and evaluation.

Lower-case, PTB tokenisation with nltk's Treebank tokenizer (no nltk data needed), and
the punctuation tokens pycocoevalcap's PTBTokenizer drops are dropped. A caption with CJK
characters is split into characters, so Chinese captions train without a segmenter.
"""
from __future__ import annotations

import collections
import re
from typing import Iterable

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIALS = (PAD, BOS, EOS, UNK)
# pycocoevalcap.tokenizer.ptbtokenizer.PUNCTUATIONS
PUNCTUATIONS = {"''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?", "!", ",", ":", "-", "--",
                "...", ";"}
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]")
_treebank = None


def _treebank_tokenize(text: str) -> list[str]:
    global _treebank
    if _treebank is None:
        from nltk.tokenize import TreebankWordTokenizer
        _treebank = TreebankWordTokenizer()
    # the Stanford PTB tokenizer (what pycocoevalcap runs) writes brackets as -LRB- etc.
    return [{"(": "-LRB-", ")": "-RRB-", "{": "-LCB-", "}": "-RCB-"}.get(t, t)
            for t in _treebank.tokenize(text)]


def tokenize(text: str) -> list[str]:
    """Caption -> tokens (lower-case PTB words without punctuation; CJK text -> characters)."""
    text = text.lower().strip()
    if _CJK.search(text):
        return [c for c in text if c.isalnum()]  # CJK ideographs are alphanumeric; punctuation is not
    return [t for t in _treebank_tokenize(text) if t not in PUNCTUATIONS]


def join_tokens(tokens: list[str]) -> str:
    """Tokens -> caption text (characters of CJK captions are joined without spaces)."""
    if tokens and all(_CJK.fullmatch(t) for t in tokens):
        return "".join(tokens)
    return " ".join(tokens)


class Vocab:
    """Token <-> id, with <pad>=0, <bos>=1, <eos>=2, <unk>=3."""

    def __init__(self, tokens: Iterable[str]) -> None:
        self.itos = list(tokens)
        if tuple(self.itos[:4]) != SPECIALS:
            raise ValueError("vocabulary must start with <pad>, <bos>, <eos>, <unk>")
        self.stoi = {t: i for i, t in enumerate(self.itos)}
        self.pad, self.bos, self.eos, self.unk = range(4)

    @classmethod
    def build(cls, captions: Iterable[str], min_count: int = 2) -> "Vocab":
        """Words seen at least `min_count` times, most frequent first (ties alphabetical)."""
        counts = collections.Counter(t for c in captions for t in tokenize(c))
        words = sorted((w for w, n in counts.items() if n >= min_count), key=lambda w: (-counts[w], w))
        return cls([*SPECIALS, *words])

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, caption: str, max_len: int = 28) -> list[int]:
        """<bos> w1 .. wn <eos>, at most `max_len` words."""
        ids = [self.stoi.get(t, self.unk) for t in tokenize(caption)[:max_len]]
        return [self.bos, *ids, self.eos]

    def decode(self, ids: Iterable[int]) -> str:
        """Ids -> caption, stopping at <eos> and skipping <bos>/<pad>."""
        words = []
        for i in ids:
            i = int(i)
            if i == self.eos:
                break
            if i not in (self.bos, self.pad):
                words.append(self.itos[i])
        return join_tokens(words)
