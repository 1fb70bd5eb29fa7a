"""Tokenizer and vocabulary: one tokenisation for training, decoding and evaluation.

Captions are tokenised as pycocoevalcap's PTBTokenizer does (Stanford CoreNLP 3.4.1's PTBLexer
run with -preserveLines -lowerCase, then its punctuation tokens dropped), in Python: `_lexer`
replays the lexer's rules; scoring takes those tokens, training learns `words` (them less brackets).
A caption with CJK characters is split into characters, so Chinese captions train without a segmenter.
"""
from __future__ import annotations

import collections
import functools
import re
import unicodedata
from typing import Callable, Iterable

PAD, BOS, EOS, UNK = "<pad>", "<bos>", "<eos>", "<unk>"
SPECIALS = (PAD, BOS, EOS, UNK)
# pycocoevalcap.tokenizer.ptbtokenizer.PUNCTUATIONS
PUNCTUATIONS = {"''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".", "?", "!", ",", ":", "-", "--",
                "...", ";"}
# Brackets as the lexer names them, lower-cased. pycocoevalcap matches its upper-case -LRB- etc. against
# lower-cased tokens, so scoring keeps them (and `tokenize` must too); but a bracket is no word of a
# description, and a model that learns one writes it ("a a a -rrb- a a cat"): training leaves them out
BRACKETS = {"-lrb-", "-rrb-", "-lsb-", "-rsb-", "-lcb-", "-rcb-"}
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]")
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_SPACE = "[ \t\u00a0\u2000-\u200a\u3000]"  # what Stanford's lexer takes for a space

# --- Stanford's PTBLexer (CoreNLP 3.4.1), rule by rule; see _lexer ---------------------------
Action = Callable[[str], "tuple[str | None, int]"]  # match -> (token or None, characters used)


def _ci(*words: str) -> str:
    """Caseless literal alternatives."""
    return "(?i:" + "|".join(words) + ")"


def _bmp_class(test: Callable[[str], bool]) -> str:
    """A regex class body of the BMP characters passing `test` (Java lexes UTF-16 units)."""
    out, start = [], None
    for cp in range(0x10001):
        inside = cp < 0x10000 and test(chr(cp))
        if inside and start is None:
            start = cp
        elif not inside and start is not None:
            out.append(f"\\u{start:04x}-\\u{cp - 1:04x}")
            start = None
    return "".join(out)


def _keep(t: str) -> tuple[str | None, int]:
    return t, len(t)


def _skip(t: str) -> tuple[str | None, int]:
    return None, len(t)


def _as(text: str) -> Action:
    return lambda t: (text, len(t))


def _pushback(n: int) -> Action:
    """The match less its last `n` characters, which are lexed again ("cannot": "can" "not")."""
    return lambda t: (t[:-n], len(t) - n)


def _unhyphen(t: str) -> tuple[str | None, int]:
    return t.replace("\u00ad", "") or "-", len(t)  # soft hyphens only mark where a line may break


def _amp(t: str) -> tuple[str | None, int]:
    return re.sub("(?i)&amp;", "&", t), len(t)


def _nbsp(t: str) -> tuple[str | None, int]:
    return t.replace(" ", "\u00a0"), len(t)  # a token never holds a space: "3 1/2" is "3\u00a01/2"


def _brackets(t: str) -> tuple[str | None, int]:
    return t.replace(" ", "\u00a0").replace("(", "-LRB-").replace(")", "-RRB-"), len(t)


def _quotes(opening: bool) -> Action:
    """Straight quotes become `` ` (opening) or '' ' (closing); curly ones go by their own side."""
    def convert(t: str) -> tuple[str | None, int]:
        s = re.sub("(?i)&apos;|'", "`" if opening else "'", t)
        s = re.sub('(?i)"|&quot;', "``" if opening else "''", s)
        s = re.sub("[\u0091\u2018\u201b\u2039]", "`", s)
        s = re.sub("[\u0092\u2019\u203a]", "'", s)
        s = re.sub("[\u0093\u201c\u00ab]", "``", s)
        return re.sub("[\u0094\u201d\u00bb]", "''", s), len(t)
    return convert


def _acronym(t: str) -> tuple[str | None, int]:
    """An acronym before a sentence start: "I." gives "I" and "."; "U.S." gives "U.S." and "."."""
    return (t[0], 1) if len(t) == 2 else (t, len(t) - 1)


def _lookup(table: dict[str, str]) -> Action:
    return lambda t: (table.get(t, t), len(t))


_FRACTIONS = {"\u00bc": "1/4", "\u00bd": "1/2", "\u00be": "3/4", "\u2153": "1/3", "\u2154": "2/3"}
_CURRENCY = {"\u00a2": "cents", "\u00a3": "#", "\u0080": "$", "\u00a4": "$", "\u20a0": "$", "\u20ac": "$"}


@functools.cache
def _lexer() -> tuple[re.Pattern, list[re.Pattern], list[Action]]:
    """Stanford's lexer rules: one regex trying them all at a position (each in a lookahead with
    two groups: the token, its trailing context), one regex each, and their actions.

    Unlike nltk's Treebank regexes, Stanford's lexer is a JFlex scanner: every rule is tried at
    a position and the longest match wins (a rule's trailing context counts towards its length),
    ties going to the earlier rule. So a period leaves any word but a listed abbreviation (in
    "Noah's Ark." it stays: Ark. is Arkansas), "?" and "!" stay inside a word ("cutest?They"),
    quotes become `` or '' by their side (and "It’s" is "It" "'s"), brackets become -LRB- etc.,
    URLs, e-mails and file names stay whole, and a character no rule knows (an emoji, a
    zero-width joiner) is deleted. The lexer is %caseless: literal text (marked by `_ci`) matches
    either case, character classes do not. tests/test_tokenizer_parity.py checks the rules
    against the Java tokenizer."""
    letter = _bmp_class(lambda c: unicodedata.category(c)[0] == "L")  # JFlex [:letter:]
    alnum = f"[{letter}\\d]"
    # WORD's letters add soft hyphen, combining marks and &eacute;-style entities
    LETTER = (f"(?:[{letter}\u00ad\u0237-\u024f\u02c2-\u02c5\u02d2-\u02df\u02e5-\u02ff\u0300-\u036f"
              "\u0370-\u037d\u0384\u0385\u03cf\u03f6\u03fc-\u03ff\u0483-\u0487\u04cf\u04f6-\u04ff\u0510-\u0525"
              "\u055a-\u055f\u0591-\u05bd\u05bf\u05c1\u05c2\u05c4\u05c5\u05c7\u0615-\u061a\u063b-\u063f\u064b-\u065e"
              "\u0670\u06d6-\u06ef\u06fa-\u06ff\u070f\u0711\u0730-\u074f\u0750-\u077f\u07a6-\u07b1\u07ca-\u07f5"
              "\u07fa\u0900-\u0903\u093c\u093e-\u094e\u0951-\u0955\u0962-\u0963\u0981-\u0983\u09bc-\u09c4\u09c7"
              "\u09c8\u09cb-\u09cd\u09d7\u09e2\u09e3\u0a01-\u0a03\u0a3c\u0a3e-\u0a4f\u0a81-\u0a83\u0abc-\u0acf"
              "\u0b82\u0bbe-\u0bc2\u0bc6-\u0bc8\u0bca-\u0bcd\u0c01-\u0c03\u0c3e-\u0c56\u0d3e-\u0d44\u0d46-\u0d48"
              "\u0e30-\u0e3a\u0e47-\u0e4e\u0eb1-\u0ebc\u0ec8-\u0ecd]"
              "|&[aeiouAEIOU]" + _ci("acute", "grave", "uml") + ";)")
    SPACENL = "[ \t\u00a0\u2000-\u200a\u3000\n\u000b\u000c\r\u0085\u2028\u2029]"
    INSENTP = "[,;:\u3001]"
    WORD = f"{LETTER}(?:{LETTER}|\\d)*(?:[.!?]{LETTER}(?:{LETTER}|\\d)*)*"
    APOS = "(?:['\u0092\u2019]|" + _ci("&apos;") + ")"
    APOSETC = f"(?:{APOS}|[`\u0091\u2018\u201b])"  # also found inside words, rightly or wrongly
    REDAUX = f"{APOS}(?:[msdMSD]|{_ci('re', 've', 'll')})"
    SREDAUX = f"{_ci('n')}{APOSETC}{_ci('t')}"
    ACRO_LETTERS = "[A-Za-z](?:\\.[A-Za-z])*"  # U.S, e.g, and (before a sentence start) I
    ACRO_NAMES = _ci("canada-u\\.s", "sino-u\\.s", "korean-u\\.s", "eu-u\\.s", "japan-u\\.s", "non-u\\.s",
                     "u\\.s\\.-u\\.k", "u\\.s\\.-u\\.s\\.s\\.r")
    NAME = "[A-Za-z][A-Za-z0-9_:.-]*"
    SGML = f"<(?:[!?][A-Za-z-][^>\r\n]*|{NAME}(?: +{NAME}(?: *= *(?:'[^']*'|\"[^\"]*\"))?)* */?|/{NAME}) *>"
    WWW = _ci("www") + "\\.(?:[^ \t\n\f\r\"<>|.!?(){},]+\\.)+[a-zA-Z]{2,4}"
    DOTCOM = "(?:[^ \t\n\f\r\"`'<>|.!?(){},-_$]+\\.)+" + _ci("com", "net", "org", "edu")
    URLPATH = "/[^ \t\n\f\r\"<>|()]+[^ \t\n\f\r\"<>|.!?(){},-]"
    EMAILCHAR = "[^ \t\n\f\r\"<>|(){}.\u00a0]"
    THINGPART = f"(?:[dDoOlL]{APOSETC}{alnum})?{alnum}+"  # d'Avignon
    HTHING = f"[A-Za-z0-9][A-Za-z0-9.,\u00ad]*(?:-(?:[A-Za-z](?:\\.[A-Za-z])+\\.|[A-Za-z0-9\u00ad]+|{ACRO_NAMES}\\.))+"
    THINGA = "[A-Z]+(?:(?:[+&]|" + _ci("&amp;") + ")[A-Z]+)+"
    # ABBREV1 is usually followed by a lower-case word, ABBREV4 + "." by a capital
    ABBREV1 = (_ci("jan", "feb", "mar", "apr", "jun", "jul", "aug", "sept?", "oct", "nov", "dec", "mon", "tues?",
                   "wed", "thu(?:rs)?", "fri", "ala", "ariz", "calif", "colo", "conn", "ct", "dak", "fla", "ga", "ind",
                   "kans?", "ky", "md", "mich", "minn", "mo", "mont", "neb", "nev", "okla", "penn", "tenn", "va",
                   "vt", "wisc?", "wyo", "inc", "cos?", "corp", "ltd", "plc", "rt", "bancorp", "bhd", "assn", "univ",
                   "intl", "sys", "tel", "est", "ext", "sq", "jr", "sr", "bros", "ed\\.d", "ph\\.d", "esq", "etc",
                   "al", "seq", "bldg")
               + "|" + _ci("pp?t") + "[ye]" + _ci("s") + "?"  # Pty, Pte (the [ye] is a class)
               # states that are common words keep a capital: "Ark." is Arkansas, "ark." is "ark" "."
               + "|A" + _ci("z", "rk") + "|D" + _ci("el") + "|I" + _ci("ll") + "|L" + _ci("a")
               + "|M" + _ci("ass", "iss") + "|O" + _ci("re") + "|P" + _ci("a") + "|T" + _ci("ex") + "|W" + _ci("ash"))
    ABBREV4 = (_ci("mrs?", "ms", "drs?", "profs?", "sens?", "reps?", "attys?", "lt", "col", "gen", "messrs", "govs?",
                   "adm", "rev", "maj", "sgt", "cpl", "pvt", "capt", "ste?", "ave", "pres", "lieut", "hon", "brig",
                   "co?mdr", "pfc", "spc", "supts?", "det", "mt", "ft", "adj", "adv", "asst", "assoc", "ens", "insp",
                   "mlle", "mme", "msgr", "sfc", "vs", "alex", "wm", "jos", "cie", "a\\.k\\.a", "cf", "treas", "ph",
                   "invt", "elec", "natl", "dept", "blvd", "rd")
               + f"|M{_ci('iss')}|{_ci('m')}[ft]{_ci('g')}|v")
    SENT_START = ("A" + _ci("bout", "ccording", "dditionally", "fter", "n", "s", "t", "") + "|B" + _ci("ut")
                  + "|E" + _ci("arlier") + "|H" + _ci("e", "er", "ere", "owever") + "|I" + _ci("f", "n", "t")
                  + "|L" + _ci("ast") + "|M" + _ci("any", "ore", "r\\.", "s\\.") + "|N" + _ci("ow")
                  + "|O" + _ci("nce", "ne", "ther", "ur") + "|S" + _ci("he", "ince", "o", "ome", "uch")
                  + "|T" + _ci("hat", "he", "heir", "hen", "here", "hese", "hey", "his")
                  + "|W" + _ci("e", "hen", "hile", "hat") + "|Y" + _ci("et", "ou") + "|" + SGML)
    FILE_EXT = _ci("bat", "bmp", "c", "class", "cgi", "cpp", "dll", "docx?", "exe", "gif", "gz", "h", "html?", "jar",
                   "java", "jpe?g", "mov", "mp3", "pdf", "php", "pl", "png", "ppt", "ps", "py", "sql", "tar", "txt",
                   "wav", "x", "xml", "zip")
    FACE = "[-^x=~<>']"
    MISCSYMBOL = ("[+%&~^|\\\\\u00a6-\u00a9\u00ac\u00ae-\u00ba\u00d7\u00f7\u0387\u05be\u05c0\u05c3\u05c6\u05f3\u05f4"
                  "\u0600-\u0603\u0606-\u060a\u060c\u0614\u061b\u061e\u066a\u066d\u0703-\u070d\u07f6-\u07f8\u0964"
                  "\u0965\u0e4f\u1fbd\u2016\u2017\u2020-\u2023\u2030-\u2038\u203b\u203e-\u2042\u2044\u207a-\u207f"
                  "\u208a-\u208e\u2100-\u214f\u2190-\u21ff\u2200-\u2bff\u3012\u30fb\uff01-\uff0f\uff1a-\uff20"
                  "\uff3b-\uff40\uff5b-\uff65]")

    rules: list[tuple[str | tuple[str, ...], str, Action]] = [
        # (token, or alternatives each matched on its own so the longest counts; trailing context; action)
        (_ci("c\\+\\+", "[cf]#"), "", _keep),
        (_ci("cannot", "'twas"), "", _pushback(3)),                       # can not, 't was
        (_ci("'tis", "gonna", "gotta", "lemme", "gimme", "wanna"), "", _pushback(2)),
        (SGML, "", _nbsp),                                                # <b>, <a href="x y">
        (_ci("&(?:md|mdash|ndash);") + "|[\u0096\u0097\u2013\u2014\u2015]", "", _as("--")),
        (_ci("&amp;"), "", _as("&")),
        (_ci("&(?:ht|tl|ur|lr|qc|ql|qr|odq|cdq|#[0-9]+);"), "", _keep),
        (WORD, REDAUX, _unhyphen),                                        # it 's
        ("[A-Za-z\u00ad]*[A-MO-Za-mo-z]\u00ad*", SREDAUX, _unhyphen),      # do n't (the word cannot end in n)
        (WORD, "", _unhyphen),                                            # "cutest?They" is one word
        ((f"{APOS}{_ci('n')}{APOS}?", f"[lLdDjJ]{APOS}", _ci("dunkin", "somethin", "ol") + APOS,
          f"{APOS}{_ci('em', 'till?', 'cause', '[2-9]0s')}", f"[A-HJ-XZn]{APOSETC}[{letter}]{{2,}}",
          f"[{letter}]+[aeiouyAEIOUY]{APOSETC}[aeiouA-Z][{letter}]*", f"{_ci('o')}{APOSETC}{_ci('o')}",
          _ci("cont'd\\.?", "nor'easter", "c'mon", "e'er", "s'mores", "ev'ry", "li'l", "nat'l")),
         "", _keep),                                                      # 'n', O'Malley, Shi'ite: one word
        (f"{_ci('y')}{APOS}", f"[{letter}]", _keep),                       # y' all
        (_ci("https?://") + "[^ \t\n\f\r\"<>|(){}]+[^ \t\n\f\r\"<>|.!?(){},-]", "", _keep),
        ((WWW + URLPATH, WWW, DOTCOM + URLPATH, DOTCOM), "", _keep),  # www.x.org, x.com/y
        (f"(?:<|{_ci('&lt;')})?[a-zA-Z0-9][^ \t\n\f\r\"<>|(){{}}\u00a0]*@(?:{EMAILCHAR}+\\.)*{EMAILCHAR}+"
         f"(?:>|{_ci('&gt;')})?", "", _keep),                             # e-mail, <a@b.com>
        (("@[a-zA-Z_][a-zA-Z_0-9]*", f"#{LETTER}+"), "", _keep),          # @name, #hashtag
        (REDAUX, "[^A-Za-z]", _quotes(False)),
        (SREDAUX, "", _quotes(False)),
        ("\\d{1,2}[-/]\\d{1,2}[-/]\\d{2,4}", "", _keep),                 # 12/25/2014
        ("[-+]?(?:\\d*(?:[.:,\u00ad\u066b\u066c]\\d+)+|\\d+)", "", _unhyphen),  # -5, 3.14, 10:30, :30
        ("[\u207a\u207b\u208a\u208b]?(?:[\u2070\u00b9\u00b2\u00b3\u2074-\u2079]+|[\u2080-\u2089]+)", "", _keep),
        ("(?:\\d{1,4}[- \u00a0])?\\d{1,4}(?:\\\\?/|\u2044)\\d{1,4}", "", _nbsp),  # 3 1/2
        ("[\u00bc\u00bd\u00be\u2153-\u215e]", "", _lookup(_FRACTIONS)),
        (f"-{_ci('rrb', 'lrb', 'rcb', 'lcb', 'rsb', 'lsb')}-|"
         + _ci("c\\.d\\.s", "pro-", "anti-", "s(?:&|&amp;)p-500", "s(?:&|&amp;)ls")
         + f"|{_ci('cap')}{APOS}{_ci('n')}|{_ci('c')}{APOS}{_ci('est')}", "", _amp),
        ("[A-Za-z0-9]+(?:-[A-Za-z]+){0,2}(?:\\\\?/[A-Za-z0-9]+(?:-[A-Za-z]+){0,2}){1,2}", "", _keep),  # and/or
        ("[A-Z]*\\$|#", "", _keep),                                       # US$
        ("[\u00a2\u00a3\u00a4\u00a5\u0080\u20a0\u20ac\u060b\u0e3f\u20a4\uffe0\uffe1\uffe5\uffe6]", "",
         _lookup(_CURRENCY)),
        ((f"{ACRO_LETTERS}\\.", f"{ACRO_NAMES}\\."), f"{SPACENL}+(?:{SENT_START}){SPACENL}", _acronym),
        (_ci("ca", "figs?", "prop", "nos?", "art", "bldg", "pp", "op") + "\\.", f"{SPACENL}?\\d", _keep),  # fig. 5
        (f"(?:{ABBREV1})\\.", "[\\s\\S]{2}", _keep),  # with its context it outlasts a word: "Jan.x" is "Jan." "x"
        (f"(?:{ABBREV1})\\.", "", _keep),
        ((f"(?:{ABBREV4})\\.", f"{ACRO_LETTERS}\\.", f"{ACRO_NAMES}\\."), "", _keep),  # Mr., U.S., a.k.a.e.g.
        ((ABBREV4, ACRO_LETTERS, ACRO_NAMES), _SPACE, _keep),
        ((ACRO_LETTERS, ACRO_NAMES), SPACENL, _keep),
        (f"{APOS}[0-9][0-9]", SPACENL, _keep),                           # '90
        (f"(?:{LETTER}|\\d)+(?:\\.(?:{LETTER}|\\d)+)*\\.{FILE_EXT}", f"{SPACENL}|[.?!,]", _keep),  # 1.txt
        (f"{WORD}\\.", INSENTP, _unhyphen),                              # "word.," keeps its period
        (("(?:\\([0-9]{2,3}\\)[ \u00a0]?|(?:\\+\\+?)?(?:[0-9]{2,4}[- \u00a0])?[0-9]{2,4}[- \u00a0])"
          "[0-9]{3,4}[- \u00a0]?[0-9]{3,5}",
          "(?:(?:\\+\\+?)?[0-9]{2,4}\\.)?[0-9]{2,4}\\.[0-9]{3,4}\\.[0-9]{3,5}"), "", _brackets),  # phone numbers
        ('"|' + _ci("&quot;"), "[A-Za-z0-9$]", _quotes(True)),
        ('"|' + _ci("&quot;"), "", _quotes(False)),
        ("\x7f", "", _skip),
        ("<|" + _ci("&lt;"), "", _as("<")),
        (">|" + _ci("&gt;"), "", _as(">")),
        ("[<>]?[:;=][-o*']?[()DPdpO\\\\{@|\\[\\]]", "[^A-Za-z0-9]", _brackets),  # :-) is one token
        ((f"{FACE}_{FACE}", f"\\({FACE}[_.]?{FACE}\\)", "\\([\\^x=~<>']-[\\^x=~<>'`]\\)"), "", _brackets),  # ^_^
        ("\\{", "", _as("-LCB-")),
        ("\\}", "", _as("-RCB-")),
        ("\\[", "", _as("-LSB-")),
        ("\\]", "", _as("-RSB-")),
        ("\\(", "", _as("-LRB-")),
        ("\\)", "", _as("-RRB-")),
        ("-+", "", lambda t: ("--" if 3 <= len(t) <= 4 else t, len(t))),
        (("\\.{3,5}", "(?:\\.[ \u00a0]){2,4}\\.", "[\u0085\u2026]"), "", _as("...")),
        ("@+|#+|_+", "", _keep),
        ("\\*+|(?:\\\\\\*){1,3}", "", _keep),
        (INSENTP, "", _keep),
        ("[?!]+", "", _keep),
        ("[.\u00a1\u00bf\u037e\u0589\u061f\u06d4\u0700-\u0702\u07fa\u3002]", "", _keep),
        ("=", "", _keep),
        ("/", "", _keep),
        (f"{HTHING}\\.", INSENTP, _unhyphen),
        (HTHING, "", _unhyphen),                                          # rock-n-roll, x-U.S.
        (f"{THINGPART}(?:[-_\u058a\u2010\u2011]{THINGPART})*\\.", INSENTP, _keep),
        (f"{THINGPART}(?:[-_\u058a\u2010\u2011]{THINGPART})*", "", _keep),  # x_x
        (f"{THINGA}\\.", INSENTP, _amp),
        (THINGA, "", _amp),                                               # AT&T
        ("'", "[A-Za-z][^ \t\n\r\u00a0]", _quotes(True)),                # 'hello
        (REDAUX, "", _quotes(False)),
        ((APOS, "''", "[`\u2018\u2019\u201a\u201b\u201c\u201d\u0091-\u0094\u201e\u201f\u2039\u203a\u00ab\u00bb]{1,2}"),
         "", _quotes(False)),
        ("<<|>>", "", _keep),
        (MISCSYMBOL, "", _keep),
        (f"\x00|{_SPACE}+|[\u200b\u200e\u200f\ufeff]|{SPACENL}|" + _ci("&nbsp;"), "", _skip),
        ("[\\s\\S]", "", _skip),  # any other character is "untokenizable": deleted
    ]
    alone, actions = [], []
    for tok, ctx, action in rules:
        for alternative in (tok if isinstance(tok, tuple) else (tok,)):
            alone.append(f"({alternative})({ctx})")
            actions.append(action)
    together = "".join(f"(?:(?={rule})|)" for rule in alone)  # all rules at once, each with its two groups
    return re.compile(together), [re.compile(rule) for rule in alone], actions


_SPACES = re.compile(_SPACE + "+")
_WINDOW = 256  # characters of text the rules see at first (see _next_token)
# pycocoevalcap's Java reads a caption followed by a newline and the next caption; NUL stands for
# a next caption no rule looks at (before "He ..." an acronym "I." would lose its period)
_AFTER = "\n\x00"


def _next_token(text: str, p: int) -> tuple[str | None, int]:
    """The token at `p` (None for spaces and deleted characters) and the characters it uses.

    The rules see a window of text from `p`; when the longest match (with its context) comes
    near the window's end, the window is doubled and the rules run again, so a long word or URL
    comes out whole. A rule that would fail far ahead (an e-mail address with no "@") stops at
    the window's end, which keeps the time linear in the text's length; the price is that a
    token only its far end confirms (an e-mail address or SGML tag of 200+ characters) comes
    out in pieces where Java keeps it whole."""
    together, alone, actions = _lexer()
    end = min(len(text), p + _WINDOW)
    spans = together.match(text, p, end).regs[1:]  # token, context, token, context, ...
    while end < len(text) and max(stop for _, stop in spans[1::2]) >= end - _WINDOW // 4:
        end = min(len(text), p + 2 * (end - p))
        # a long token: over long text the rules run faster one by one (no groups to save)
        spans = [span for m in (rule.match(text, p, end) for rule in alone)
                 for span in ((m.span(1), m.span(2)) if m else ((-1, -1), (-1, -1)))]
    ends = [stop for _, stop in spans[1::2]]
    best = ends.index(max(ends))  # the longest match; on a tie the earlier rule
    start, stop = spans[2 * best]
    return actions[best](text[start:stop])


def _lex(caption: str, remember_words: bool = True) -> list[str]:
    """Stanford's tokens for one caption, followed (as the Java tokenizer reads it) by _AFTER.

    A word of plain letters, and the last word, is tokenised once and remembered: no rule
    reaches across a space into a word, none looks back, and the last word's context is fixed."""
    text = caption + _AFTER
    last = caption.rfind(" ") + 1
    out, p = [], 0
    while p < len(caption):
        if caption[p] == " ":  # one token of space, which may go on with other space characters
            p = _SPACES.match(caption, p).end()
            continue
        if remember_words and (p == 0 or caption[p - 1] == " "):
            q = len(caption) if p == last else caption.find(" ", p)
            if q - p <= 64 and (p == last or caption[p:q].isascii() and caption[p:q].isalpha()):
                out += _word_tokens(caption[p:q])
                p = q
                continue
        token, used = _next_token(text, p)
        if token is not None:
            out.append(token)
        p += used
    return out


@functools.lru_cache(maxsize=1 << 16)
def _word_tokens(word: str) -> list[str]:
    return _lex(word, remember_words=False)


def _surrogates(code: int) -> str:
    return chr(0xD7C0 + (code >> 10)) + chr(0xDC00 + (code & 0x3FF))


def _ptb_tokens(text: str) -> list[str]:
    """Stanford's PTBLexer tokens of one caption (before lower-casing)."""
    if not _ASTRAL.search(text):
        return _lex(text)
    # Java lexes UTF-16 units: an emoji is two surrogates (deleted, or kept inside a URL)
    units = _ASTRAL.sub(lambda m: _surrogates(ord(m.group())), text)
    return [t.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace") for t in _lex(units)]


def tokenize(text: str) -> list[str]:
    """Caption -> tokens (lower-case PTB words without punctuation; CJK text -> characters)."""
    text = text.replace("\n", " ")  # as pycocoevalcap does before it runs the Java tokenizer
    if _CJK.search(text):
        return [c for c in text.lower() if c.isalnum()]  # CJK ideographs are alphanumeric; punctuation is not
    tokens = [t.lower() for t in _ptb_tokens(text)]
    if tokens:  # pycocoevalcap strips the end of Java's line: a last token may end in U+00A0
        tokens[-1] = tokens[-1].rstrip()
    return [t for t in tokens if t and t not in PUNCTUATIONS]


def words(text: str) -> list[str]:
    """The tokens a model learns to write: `tokenize`'s, less brackets (`BRACKETS`)."""
    return [t for t in tokenize(text) if t not in BRACKETS]


def is_blank(caption: str) -> bool:
    """A caption with no letter or digit in any script (empty, spaces, punctuation or emoji alone):
    no description, in any language."""
    return not any(ch.isalnum() for ch in caption)


def drop_blank_captions(entries: list[dict]) -> int:
    """Remove blank captions (`is_blank`) from `entries`' "captions" lists, in place; returns how many.

    The one rule for every reader of captions (training, `evaluate`, `score`): a blank caption is
    no description. Training on one would teach the decoder to stop at once, and as a reference it
    would move the scores (CIDEr's document frequencies count it) though it describes nothing.
    """
    dropped = 0
    for e in entries:
        if e.get("captions"):
            kept = [c for c in e["captions"] if not is_blank(c)]
            dropped += len(e["captions"]) - len(kept)
            e["captions"] = kept
    return dropped


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
        # (a caption's literal "<pad>", "<eos>"... is no control token: an unknown word; ids name the specials)
        self.stoi.update(dict.fromkeys(SPECIALS, self.unk))

    @classmethod
    def build(cls, captions: Iterable[str], min_count: int = 2) -> "Vocab":
        """Words (`words`) seen at least `min_count` times, most frequent first (ties alphabetical)."""
        counts = collections.Counter(t for c in captions for t in words(c))
        # (a caption's literal "<unk>", as preprocessed caption sets write it, is the special, not a word of its own:
        # kept, it was a second "<unk>" the decoder could write; trial 79)
        kept = sorted((w for w, n in counts.items() if n >= min_count and w not in SPECIALS),
                      key=lambda w: (-counts[w], w))
        return cls([*SPECIALS, *kept])

    @property
    def has_words(self) -> bool:
        """Whether the vocabulary holds words beyond the specials: a model trained with captions."""
        return len(self) > len(SPECIALS)

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, caption: str, max_len: int = 28) -> list[int]:
        """<bos> w1 .. wn <eos>, at most `max_len` words."""
        ids = [self.stoi.get(t, self.unk) for t in words(caption)[:max_len]]
        return [self.bos, *ids, self.eos]

    def decode(self, ids: Iterable[int]) -> str:
        """Ids -> caption, stopping at <eos> and skipping <bos>/<pad> (and brackets, which only a
        vocabulary built before `words` left them out holds, and a special's name as a word of its own, which an
        older s2vt kept from captions that held "<unk>": written out, it read "... left <bos> while"; trial 80)."""
        words = []
        for i in ids:
            i = int(i)
            if i == self.eos:
                break
            if i not in (self.bos, self.pad) and self.itos[i] not in BRACKETS and self.itos[i] not in SPECIALS:
                words.append(self.itos[i])
        return join_tokens(words)
