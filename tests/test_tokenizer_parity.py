"""Differential test: `s2vt.vocab.tokenize` against pycocoevalcap's PTBTokenizer (Stanford's Java).

Runs when `java` is on PATH. The Java tokenizer reads a whole batch as one text, so the end
of a caption can depend on the next one (Stanford's "I." before "He" is "I" "."); each caption
is therefore followed by a neutral one ("zzz"), the context `tokenize` assumes. CJK captions
are left out: `tokenize` splits them into characters on purpose.
"""
from __future__ import annotations

import csv
import json
import random
import shutil

import pytest

from s2vt.vocab import _CJK, tokenize

pytestmark = pytest.mark.skipif(shutil.which("java") is None, reason="java not on PATH")

SEPARATOR = "zzz"


def java_tokens(captions: list[str]) -> list[str]:
    """pycocoevalcap's tokenisation of `captions`, in one batch (one JVM)."""
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    batch = {}
    for i, caption in enumerate(captions):
        batch[f"c{i}"] = [{"caption": caption}]
        batch[f"s{i}"] = [{"caption": SEPARATOR}]
    out = PTBTokenizer().tokenize(batch)
    assert all(out[f"s{i}"] == [SEPARATOR] for i in range(len(captions))), "Java's lines went out of step"
    return [out[f"c{i}"][0] for i in range(len(captions))]


def assert_same_as_java(captions: list[str]) -> None:
    captions = [c for c in captions if not _CJK.search(c)]
    differ = [(c, j, " ".join(tokenize(c))) for c, j in zip(captions, java_tokens(captions))
              if " ".join(tokenize(c)) != j]
    report = "\n".join(f"{c!r}\n    java:   {j!r}\n    python: {p!r}" for c, j, p in differ[:10])
    assert not differ, f"{len(differ)} of {len(captions)} captions tokenise differently:\n{report}"


PIECES = [
    "man woman girl boy dog cat guitar stage video song people kids ball water Noah Ark street".split(),
    ["A", "The", "He", "She", "It", "I", "They", "In", "Their", "NASA", "TV", "OK", "US"],
    ["'s", "n't", "'re", "'ll", "'ve", "'d", "'m", "’s", "n’t", "‘s", "'S", "N'T", "´s"],          # clitics
    ["‘", "’", "“", "”", "–", "—", "…", "'", '"', "`", "``", "''", "«", "»", "„", "‚"],              # quotes, dashes
    ["5", "3.14", "1,000", "-5", "+7", "10:30", ".5", "1/2", "3 1/2", "12/25/2014", "$5.99", "5%", "2nd",
     "'90s", "555-1234", "(555) 555-1234", "½", "x²", "100k", "4x4", "1.txt"],                   # numbers
    ["Mr.", "Dr.", "U.S.", "e.g.", "i.e.", "etc.", "p.m.", "Ark.", "Jan.", "St.", "vs.", "No.", "fig.",
     "A.", "I.", "Inc.", "Ph.D.", "a.k.a.", "U.S.-U.K.", "non-U.S."],                           # abbreviations
    ["http://x.com/a?b=c", "https://www.youtube.com/watch?v=abc", "www.site.org", "site.com/path",
     "a.b@c.com", "<me@site.co.uk>", "#tag", "#Tag1", "@user", "c++", "file.txt"],             # urls, e-mails
    ["(", ")", "[", "]", "{", "}", "<", ">", "<b>", "</b>", "-", "--", "---", "...", ". . .", "&", "&amp;",
     "&quot;", "*", "/", "\\", "=", "@", "#", "_", "|", "~", ":)", ":-(", "^_^", "•", "©", "♥", "¿", "¡"],
    ["😀", "🎸", "👍🏽", "❤️", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00a0", "\t", "\u00ad",
     "é", "ñ", "ß", "Ω", "ж", "\u0301", "①"],                                                   # emoji, zero-width
    ["cannot", "gonna", "'Tis", "'twas", "o'clock", "y'all", "O'Malley", "rock'n'roll", "t-shirt",
     "anti-war", "mid-1990s", "AT&T", "S&P-500", "-LRB-", "Cap'n", "'em", "'cause"],
]
GLUE = ["?", "!", "!!!", "?!", ".", ",", "-", "'", "’", "`", "\\", "/", "&", "*", "_", "…", "\u200b", ":", "@"]


def generated_caption(rng: random.Random) -> str:
    """A random mix of the pieces above; some glued into words ("cutest?They", "-Amazing", "a\\b")."""
    words = []
    for _ in range(rng.randint(1, 12)):
        piece = rng.choice(rng.choice(PIECES))
        if rng.random() < 0.15:
            piece = rng.choice(PIECES[0]) + rng.choice(GLUE) + rng.choice(PIECES[0] + PIECES[1] + [""])
        elif rng.random() < 0.08:
            piece = rng.choice(["-", "`", "'", "‘", '"', "(", "#", "\\", "\ufeff"]) + rng.choice(PIECES[0] + PIECES[1])
        words.append(piece + rng.choice([" ", " ", " ", "", "  "]))
    return "".join(words).strip(" ") + rng.choice(["", "", ".", "!", "?", "...", " .", "'s.", "’s."])


def test_generated_captions_tokenize_like_java():
    rng = random.Random(15)
    assert_same_as_java([generated_caption(rng) for _ in range(4000)])


def test_shared_captions_tokenize_like_java(sample_data):
    with open(sample_data / "msvd" / "video_corpus_val.csv", encoding="utf-8") as f:
        captions = [row["Description"] for row in csv.DictReader(f)]  # every language
    msrvtt = json.loads((sample_data / "msrvtt" / "videodatainfo_val.json").read_text(encoding="utf-8"))
    captions += [s["caption"] for s in msrvtt["sentences"]]
    clips = json.loads((sample_data / "clips" / "captions.json").read_text(encoding="utf-8"))
    captions += [c for refs in clips.values() for c in refs]
    mlds = json.loads((sample_data / "mlds" / "training_label.json").read_text(encoding="utf-8"))
    captions += [c for clip in mlds for c in clip["caption"]]
    assert len(captions) == 4291 + 9940 + 206 + 24232
    assert_same_as_java(captions)
