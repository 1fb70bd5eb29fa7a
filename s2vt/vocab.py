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


_ZERO_WIDTH = re.compile("[\u200b-\u200d\u2060\ufeff]")
_BANG_RUN = re.compile(r"[!?]{2,}")
_ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "st", "jr", "sr", "vs", "etc", "inc", "ltd", "co", "corp", "prof", "mt",
                  "bros", "gen", "gov", "sen", "rep", "rev", "capt", "sgt", "lt", "col", "ave", "blvd", "dept",
                  "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"}
# Stanford's PTB3 escaping of brackets, after pycocoevalcap's -lowerCase (so they are NOT dropped)
_BRACKETS = {"(": "-lrb-", ")": "-rrb-", "[": "-lsb-", "]": "-rsb-", "{": "-lcb-", "}": "-rcb-"}


def _word_final_period(m: re.Match) -> str:
    word = m.group(1)
    initial = len(word) == 1 and word.isupper()
    if initial or word.lower() in _ABBREVIATIONS or re.fullmatch(r"(?:[a-z]\.)+[a-z]", word, re.IGNORECASE):
        return word + "."
    return word + " ."


def _treebank_tokenize(text: str) -> list[str]:
    """nltk's Treebank tokenizer with the few rules where Stanford's PTBTokenizer differs.

    Stanford (what pycocoevalcap runs) splits the period of every non-abbreviation word, not
    only the sentence-final one; keeps runs like "!!" or "?!" as one token; splits a quote
    that opens a word; splits '*' and '&'; and writes brackets as -lrb- etc. Checked token
    for token against the Java tokenizer on the 4,291 MSVD and 9,940 MSR-VTT validation captions.
    """
    global _treebank
    if _treebank is None:
        from nltk.tokenize import TreebankWordTokenizer
        _treebank = TreebankWordTokenizer()
    runs = _BANG_RUN.findall(text)
    text = _BANG_RUN.sub(" zzbangrunzz ", text)
    text = re.sub(r"\.{3,}", " ... ", text)
    text = re.sub(r"(?<!\.)\.\.(?!\.)", " . . ", text)
    text = re.sub(r"(\S*[^\s.])\.(?=\s|$)", _word_final_period, text).rstrip()
    if re.search(r"[^\s.]\.$", text):  # a kept abbreviation ends the text: Stanford adds a "." after it,
        text += " ."                     # and nltk would otherwise cut the abbreviation's own period
    text = re.sub(r"(^|\s)'(?=\w)", r"\1' ", text)
    text = re.sub(r"(?<=\w)([-/])(?=\s|$)", r" \1", text)  # "box- x", "dr/ phil": the mark stands alone
    text = re.sub(r"\*|(?<![A-Z])&(?![A-Z])", r" \g<0> ", text)
    tokens = []
    for t in _treebank.tokenize(text):
        if t == "zzbangrunzz":
            t = runs.pop(0)
        tokens.append(_BRACKETS.get(t, t))
    return tokens


def tokenize(text: str) -> list[str]:
    """Caption -> tokens (lower-case PTB words without punctuation; CJK text -> characters)."""
    text = _ZERO_WIDTH.sub("", text).replace("\n", " ").strip()
    if _CJK.search(text):
        return [c for c in text.lower() if c.isalnum()]  # CJK ideographs are alphanumeric; punctuation is not
    return [t.lower() for t in _treebank_tokenize(text) if t.lower() not in PUNCTUATIONS]


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
