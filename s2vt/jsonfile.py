"""How every user JSON file is read (`read_json`; JSON Lines: `manifest.json_lines`): a BOM allowed, a key
given twice or a lone surrogate refused, and a file that is not JSON named as what it is (compressed, a tar,
JSON lines, empty) in one line (`json_problem`).
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

from .formats import REPLACEMENT  # (what `replaced_surrogates` puts for a lone surrogate)


class ObjectError(json.JSONDecodeError):
    """A JSON object the parser's hook (`unique_keys`) refuses. A JSONDecodeError, so a caller that refuses invalid
    JSON refuses this too; its message says what is wrong (there is no position to name: the hook sees the
    object, not where it was)."""

    def __init__(self, message: str) -> None:
        ValueError.__init__(self, message)
        self.msg, self.doc, self.pos, self.lineno, self.colno = str(self), "", 0, 1, 1


class DuplicateKeyError(ObjectError):
    """A JSON object that gives one key twice."""

    def __init__(self, key: str) -> None:
        super().__init__(f"{key!r} appears twice in one object: which of its values counts would be a guess")
        self.key = key


class LoneSurrogateError(ObjectError):
    """A JSON string holding a lone surrogate escape (`\\ud800`): valid JSON, no Unicode text; taken in, it
    was a traceback wherever the text was written out again (a manifest, a prediction, a caption; trial 78)."""

    def __init__(self, text: str, line: int | None = None) -> None:
        shown = text.encode("utf-8", "backslashreplace").decode("utf-8")[:60]
        super().__init__(f"{f'line {line}: ' if line else ''}the text \"{shown}\" holds a lone surrogate "
                         "(\\ud800-\\udfff escaped alone): no Unicode character; remove or replace it")
        self.text = text


# an escaped backslash (skipped: "\\ud800" is a backslash and "ud800"), a surrogate pair, or a lone surrogate escape
_SURROGATE_ESCAPE = re.compile(rb"\\\\|\\u[dD][89abAB][0-9a-fA-F]{2}(?:\\u[dD][c-fC-F][0-9a-fA-F]{2})?|"
                               rb"\\u[dD][c-fC-F][0-9a-fA-F]{2}")


_LINE_BREAK = re.compile(rb"\r\n|\r|\n")  # (as bytes.splitlines, by which the JSON-lines readers number lines)


def surrogate_lines(data: bytes):
    """The lines of `data` (JSON text) holding a lone surrogate escape (a pair is one character, no error), in
    order, each once for each escape; numbered as bytes.splitlines numbers them (a CR alone ends a line too)."""
    line, at = 1, 0
    for m in _SURROGATE_ESCAPE.finditer(data):
        if len(m[0]) == 6:
            line += len(_LINE_BREAK.findall(data, at, m.start()))
            at = m.start()
            yield line


def surrogate_line(data: bytes) -> int | None:
    """The line of `data` (JSON text) where its first lone surrogate escape is; None where none is found."""
    return next(surrogate_lines(data), None)


def no_lone_surrogate(value) -> None:
    """LoneSurrogateError for a string, or a string in a list (of lists), that holds one; objects are checked by
    their own hook call."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise LoneSurrogateError(value) from None
    elif isinstance(value, list):
        for item in value:
            no_lone_surrogate(item)


_SURROGATE = re.compile("[\ud800-\udfff]")


def replaced_surrogates(value):
    """`value` with every lone surrogate in its strings (and those of its lists) replaced by U+FFFD (`REPLACEMENT`):
    web text (a LIC2022 title cut between an emoji's two halves) read leniently, where one such title refused a
    whole file."""
    if isinstance(value, str):
        return _SURROGATE.sub(REPLACEMENT, value)
    if isinstance(value, list):
        return [replaced_surrogates(v) for v in value]
    return value


def lenient_keys(pairs: list[tuple[str, object]]) -> dict:
    """`unique_keys` for web text: a lone surrogate becomes U+FFFD (`replaced_surrogates`), not an error."""
    return unique_keys([(replaced_surrogates(k), replaced_surrogates(v)) for k, v in pairs])


def unique_keys(pairs: list[tuple[str, object]]) -> dict:
    # json keeps the last of two equal keys: for {id: caption} that silently drops an answer or a
    # reference, and which one the user meant would be a guess
    out = dict(pairs)
    if len(out) < len(pairs):
        seen = set()
        raise DuplicateKeyError(next(k for k, _ in pairs if k in seen or seen.add(k)))
    for key, value in pairs:
        no_lone_surrogate(key)
        no_lone_surrogate(value)
    return out


def read_json(path: str | os.PathLike):
    """A user's JSON file, parsed: UTF-8 with or without a leading BOM (Windows editors write one;
    the manifest reader accepts it too), and an object that gives a key twice refused.

    Raises what reading and parsing raise (OSError, UnicodeDecodeError, json.JSONDecodeError,
    DuplicateKeyError being one, RecursionError for absurd nesting): callers word them for their input.
    """
    return parse_json(Path(path).read_bytes())


class CompressedError(ObjectError):
    """A JSON file that a compressor wrote (`compressed`): named so, with the tool that undoes it (an ObjectError:
    every reader says its message as it is)."""


def parse_json(data: bytes):
    """`read_json` of bytes already read (a zip's member). A lone surrogate is said with its line (a document over
    many lines: pretty-printed MSR-VTT or MLDS files); compressed bytes are CompressedError (they were "not UTF-8:
    byte 0x8b at offset 1"; trial 85)."""
    if packed := compressed(data):
        raise CompressedError(packed)
    try:
        return json.loads(data.decode("utf-8-sig"), object_pairs_hook=unique_keys)
    except LoneSurrogateError as e:
        raise LoneSurrogateError(e.text, surrogate_line(data)) from None


def json_error(e: ValueError, line: bool = True) -> str:
    """The parser's reason with where it is ('Expecting value at line 3 column 5'), for a message's
    parentheses (`e.msg` alone left the user to hunt for the mistake); a key given twice names the key
    instead (the hook has no position); bytes that are not UTF-8 are named by offset. Without `line`,
    the column alone: the text parsed was one line of a file (JSON lines), which the message names
    before (its 'line 1' would be wrong)."""
    if isinstance(e, ObjectError):
        return str(e)
    if isinstance(e, json.JSONDecodeError):  # ('Unterminated string starting at': its own 'at' once)
        return f"{e.msg.removesuffix(' at')} at " + (f"line {e.lineno} " if line else "") + f"column {e.colno}"
    if isinstance(e, UnicodeDecodeError):
        return f"not UTF-8: byte 0x{e.object[e.start]:02x} at offset {e.start}"
    return str(e)


def json_kind(value: object) -> str:
    """What a parsed JSON value is, as a message says it ('a JSON list'): a file holding another kind
    of value than its format's is told so, not said to lack a field."""
    return {dict: "a JSON object", list: "a JSON list", str: "a JSON string", bool: "a JSON boolean",
            type(None): "null"}.get(type(value), "a JSON number")


def is_json_lines(data: bytes, error: ValueError) -> bool:
    """Whether a file the parser stopped at with 'Extra data' is JSON lines, a value on each line (a
    manifest, a log): its error at 'line 2 column 1' would send the user looking for a typo there."""
    if not (isinstance(error, json.JSONDecodeError) and error.msg == "Extra data"):
        return False
    try:
        # (bytes' lines: str.splitlines also splits at a string's raw U+2028)
        lines = [line for line in data.removeprefix(b"\xef\xbb\xbf").splitlines() if line.strip()]
        for line in lines:
            json.loads(line)
    except (ValueError, RecursionError):
        return False
    return len(lines) > 1


# stream compressors' magic numbers, and the tool that undoes each: a compressed text file is told as such
COMPRESSED = ((b"\x1f\x8b", "gzip", "gunzip"), (b"BZh", "bzip2", "bunzip2"), (b"\xfd7zXZ\x00", "xz", "unxz"),
              (b"\x28\xb5\x2f\xfd", "zstd", "unzstd"))


def compressed(data: bytes) -> str | None:
    """'gzip-compressed: decompress it first (gunzip)' for a file a compressor wrote (by its magic number), or a
    tar archive, else None: such a text file was warned of as a last line cut short, then refused as not UTF-8 at
    line 1, never named for what it is (trial 83)."""
    for magic, name, tool in COMPRESSED:
        if data.startswith(magic) and (name != "bzip2" or data[3:4].isdigit()):  # ("BZh" then the block size)
            return f"{name}-compressed: decompress it first ({tool})"
    if tar_header(data[:512]):  # (a tar of a text file is UTF-8 up to its NULs: warned of as a last line cut
        # short, then refused at line 1 as not JSON; trial 89)
        return "a tar archive: extract the file from it first (tar xf)"
    return None


def tar_header(block: bytes) -> bool:
    """Whether `block` is a tar member's header: "ustar" at byte 257 and the header's checksum right (text that
    holds "ustar" there by chance is not one)."""
    if len(block) < 512 or block[257:262] != b"ustar":
        return False
    try:
        recorded = int(block[148:156].replace(b"\x00", b" ").strip(), 8)
    except ValueError:
        return False
    return recorded == sum(block[:148]) + 8 * ord(" ") + sum(block[156:512])


def torch_saved(names: list[str]) -> bool:
    """Whether a zip holding the members `names` is one torch.save wrote (a model file, not a video or answers)."""
    return any(n.endswith("/data.pkl") for n in names)


def json_problem(data: bytes, error: ValueError, expected: str) -> str:
    """What is wrong with a user's file that does not parse as one JSON document, for the line after
    its name: JSON lines (a value a line) said as such, with what was `expected`; else 'not valid
    JSON (REASON at line L column C)' (`json_error`: no '(char N)'). An empty file is said to be one: 'not valid
    JSON (Expecting value at line 1 column 1)' read as a typo in it (hostile trial)."""
    if isinstance(error, LoneSurrogateError):  # (valid JSON: said as what it holds, where, `parse_json`; trial 79)
        return str(error)
    if packed := compressed(data):
        return packed
    if not data.strip():
        return (f"nothing but blank space ({len(data):,} bytes)" if data else "empty file (0 bytes)") + \
            f"; expected {expected}"
    if is_json_lines(data, error):
        return f"JSON lines (a JSON value on each line); expected one JSON document, {expected}"
    return f"not valid JSON ({json_error(error)})"
