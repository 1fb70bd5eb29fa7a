"""Atomic file writes: a temp file in the same folder, then a rename, so readers never see half a file;
and `read_json`, how every user JSON file (not JSON Lines: `manifest.json_lines`) is read.

A write that the file system refuses (read-only folder, a path under a file, a full disk)
raises `OutputError`, a user error: the command line tools print it in one line and exit 2.
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import socket
import stat
import tempfile
import time
from pathlib import Path
from typing import Callable

from .errors import SettingError, UserError
from .formats import REPLACEMENT  # (what `replaced_surrogates` puts for a lone surrogate)

try:
    import fcntl
except ImportError:  # pragma: no cover - (not POSIX: stale locks are taken over unguarded)
    fcntl = None


class OutputError(UserError):
    """An output that cannot be written (permissions, a path under a file, no space left); `errno`: the system's
    error it comes from (`output_error`), None for a refusal of s2vt's own."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.errno = code


# the errors of an output that a rerun of the same command gets past: a full disk or quota once space is freed, a
# passing fault (I/O, a busy or stale file, too many open files); any other (a folder that refuses writes, a path
# too long) meets the rerun the same way (`lasting_advice`)
PASSING_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EINTR, errno.EAGAIN, errno.ENOMEM,
                            errno.ENFILE, errno.EMFILE, errno.EBUSY, errno.ETIMEDOUT, errno.ESTALE, errno.ENOLCK,
                            errno.ENOBUFS})


def lasting_advice(e: BaseException, folder: str | os.PathLike, option: str = "--out") -> str | None:
    """What to change before running again, for an error of an output in `folder` (named by `option`) that a rerun
    of the same command would meet again: "rerun the same command to resume" after an immutable folder (EPERM) or
    a path too long failed the rerun the same way (hostile trial). None for one a rerun gets past (PASSING_ERRORS)
    or with no system error (s2vt's own refusal: its line says what to do)."""
    code = getattr(e, "errno", None)
    if code is None or code in PASSING_ERRORS:
        return None
    if code == errno.ENAMETOOLONG:
        return f"a rerun fails the same way: pass a shorter {option}"
    if code in (errno.EPERM, errno.EACCES, errno.EROFS):
        return f"a rerun fails the same way: make {os.fsdecode(folder)} writable, or pass another {option}"
    return f"a rerun fails the same way: pass another {option}"


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


def output_error(path: str | os.PathLike, e: OSError, folder: str | os.PathLike | None = None) -> OutputError:
    """One line naming the output and the system's reason (e.g. 'No space left on device'); `folder`, the
    folder `path` was being made in, where a caller knows it was there (`taking_nothing`)."""
    why = folder is not None and taking_nothing(Path(folder), e)
    return OutputError(f"cannot write {os.fsdecode(path)!s}: {why or e.strerror or type(e).__name__}", e.errno)


def taking_nothing(folder: Path, e: OSError) -> str | None:
    """The reason for an ENOENT from making a name in `folder` while `folder` is there: /proc and /sys refuse a
    new file or folder so, and 'cannot write /proc: No such file or directory' named a folder that is there
    (hostile trial). None for any other error, or a folder gone (removed meanwhile: the system's word holds)."""
    if e.errno == errno.ENOENT and folder.is_dir():  # (with /sys's advice: the /proc line had none; hostile trial)
        root = kernel_folder(folder)
        return (f"{os.fsdecode(folder)} takes nothing new ('{e.strerror}', though {os.fsdecode(folder)} is there"
                + (f": {root} holds the kernel's files" if root else "") + "): name another output")
    # (/sys refuses so: 'Permission denied' even to root, a bare word with no advice; hostile trial)
    if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS) and (root := kernel_folder(folder)) and folder.is_dir():
        return (f"{os.fsdecode(folder)} takes nothing new ('{e.strerror}': {root} holds the kernel's files): "
                "name another output")
    return None


def kernel_folder(path: str | os.PathLike) -> str | None:
    """/proc or /sys when `path` is one of them or in one (the kernel's files, no place for an output), else None."""
    where = os.path.abspath(os.fsdecode(path))
    return next((root for root in KERNEL_FOLDERS if where == root or where.startswith(f"{root}/")), None)


def refuse_existing(paths, force: bool, specials_refused: bool = False) -> None:
    """OutputError for a file the user named as an output that already exists, unless `force`:
    a command never silently replaces a result the user may still want (`--force` to allow it). A path
    is judged and named as typed (a link to a device named as the link; an existing link with the file a write
    replaces, `written_file`: its target). `specials_refused`: the caller refused pipes and devices among
    `paths` already (evaluate: before its other refusals, which would name a device otherwise)."""
    for path in paths:
        if path:
            refuse_broken_link(path)
        if path and (what := folder_path(path)):
            raise OutputError(f"{os.fsdecode(path)} {what}: name a file to write")
        if not specials_refused:
            refuse_special_outputs([path])  # (before 'already exists': --force would not help)
        if path and not force and Path(path).exists():
            # (as the user gave it, as every other line names an output: 'subs/a.zip already exists' named a file
            # never typed; hostile trial)
            target = written_file(path)
            link = f" (a link to {os.fsdecode(target)})" if target != Path(path) else ""
            raise OutputError(f"{os.fsdecode(path)} already exists{link}: pass --force to replace it")


def refuse_linked_defaults(paths, force: bool, command: str, option: str) -> None:
    """OutputError for an output the user did not name (a default, rewritten on every run) that is a symbolic
    link, unless `force`: `ln -s ../important.json lnk/preds_test.json` had evaluate replace important.json,
    exit 0 (hostile trial). A plain default file is rewritten as documented; a link to nothing is refused even
    with --force (`refuse_broken_link`). `option`: the one that names another file (`--out NAME.json`)."""
    for path in paths:
        if not os.path.islink(path):
            continue
        refuse_broken_link(path)
        if not force:
            target = os.fsdecode(written_file(path))
            raise OutputError(f"{os.fsdecode(path)} is a link to {target}: {command} rewrites its default outputs on "
                              f"every run, but not a file a link names: pass --force to replace {target}, or "
                              f"{option} to write elsewhere")


def refuse_special_outputs(paths, folders: bool = False) -> None:
    """OutputError for an output (falsy: none) that is there, itself or through a link, and is a pipe, a device or a
    socket (a folder too with `folders`; `refuse_existing` words that one): the atomic write refused it only at the
    end, after the work (evaluate decoded the whole split and wrote its predictions, then refused `--html FIFO` or a
    metrics file linked to one; hostile trial), and a rename over it would swap a device for a plain file (as root,
    /dev/null). Every command checks its outputs so before any work; `atomic_write_bytes` once more, at the write."""
    for path in paths:
        if path:
            refuse_special(path, lambda what: OutputError(f"cannot write {special_output(path, what)}"), folders)


KERNEL_FOLDERS = ("/proc", "/sys")  # (the kernel's files: no new one can be made there, `taking_nothing`)
SYSTEM_FOLDERS = ("/dev", *KERNEL_FOLDERS)  # (the system's own files: none of them is the user's to move)


def special_output(path: str | os.PathLike, what: str) -> str:
    """'PATH: it is WHAT, not a regular file: ...' for an output that is a pipe, a device or a socket (`what`),
    named as the user gave it. The file written through a link was named instead, with 'move it': `RUN/curves.png`
    linked to /dev/null was 'cannot write /dev/null: ... move it', and `--out /dev/stdout` became
    /proc/PID/fd/pipe:[N] (hostile trial). A link is named with what it links to, to be removed; a file of the
    system's (/dev/null, /dev/stdout) is no one's to move."""
    given = os.fsdecode(path)
    if any(os.path.abspath(given).startswith(f"{folder}/") for folder in SYSTEM_FOLDERS):
        return f"{given}: it is {what}, not a regular file: name another output"
    if os.path.islink(given):
        return f"{given}: it is {linked_to(given, what)}, not a regular file: remove the link, or name another output"
    return f"{given}: it is {what}, not a regular file: move it, or name another output"


def linked_to(path: str | os.PathLike, what: str) -> str:
    """`what` (the file `path` is, in words: 'a device') said of a symbolic link: 'a link to TARGET, WHAT' (the
    target left out where it is no path: /proc/self/fd/1's is 'pipe:[N]'); `what` alone for no link."""
    if not os.path.islink(path):
        return what
    target = os.path.realpath(path)
    return f"a link to {target}, {what}" if os.path.exists(target) else f"a link to {what}"


def folder_path(path: str | os.PathLike) -> str | None:
    """How `path`, an output that is to be a file, names a folder instead, in words for the line after it:
    'is a folder', or where none is there yet `ends_as_folder`'s; None for a file's path."""
    return "is a folder" if os.path.isdir(path) else ends_as_folder(path)


def ends_as_folder(path: str | os.PathLike) -> str | None:
    """'ends with '/', so it names a folder, not a file' for a path as typed that ends with '/', '/.' or
    '/..', else None. Path drops a trailing '/' or '/.': `import --out new.jsonl/` wrote the file new.jsonl,
    export told `--out new.zip/` to end in .zip, and evaluate called it "a folder" though none was there."""
    _, sep, tail = os.fsdecode(path).rpartition(os.sep)
    return f"ends with '{sep}{tail}', so it names a folder, not a file" if sep and tail in ("", ".", "..") else None


def refuse_broken_link(path: str | os.PathLike) -> None:
    """OutputError for an output that is a symbolic link to nothing (a write through it would either
    fail after the work or, renamed over it, replace the link with a plain file): one line, `refusal`'s."""
    path = Path(path)
    if path.is_symlink() and not path.exists():
        raise OutputError(f"cannot write {os.fsdecode(path)}: "
                          f"{refusal(path, FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT)))}")


def each_path(paths: dict[str, object]):
    """(option, value) for every path of `paths` ({option: value}; a list value item by item), as the
    refuse_* checks below take them."""
    for option, value in paths.items():
        for v in (value if isinstance(value, (list, tuple)) else [value]):
            yield option, v


def refuse_empty_paths(paths: dict[str, object], error: type[UserError] = SettingError) -> None:
    """`error` naming the first of `paths` ({option: value}; a list value is checked item by item)
    given as an empty string, before anything is read or made: the file system takes "" for the
    current folder (Path("") is "."), so `--out "$RUN"` with RUN unset would fill the current
    folder, and `--checkpoint ""` would fall back silently to the default checkpoint."""
    for option, v in each_path(paths):
        if isinstance(v, str) and not v.strip():  # ("  ": a folder named by spaces is never what was meant)
            raise error(f"{option} is {'empty' if v == '' else 'blank'} (an unset shell variable?): give a path")


def refuse_dash_out(paths: dict[str, object], error: type[UserError] = SettingError) -> None:
    """`error` for `--out -`: standard output's usual name, never written to. `import ... --out -` wrote a file
    named '-', train.py and extract a folder '-', without a word (hostile trial), as `manifest.dash_refusal`
    refuses '-' for an input. './-' names the file or folder '-' (said when one is there)."""
    if isinstance(out := paths.get("--out"), (str, os.PathLike)) and os.fspath(out) == "-":
        raise error("--out -: writing to standard output ('-') is not supported: name a path"
                    + (" (for a file or folder named '-', write ./-)" if os.path.lexists(out) else ""))


def refuse_root_out(paths: dict[str, object], error: type[UserError] = SettingError) -> None:
    """`error` for an --out that is the file system's root ('/', '//.', a link to it): `python -m extract ... --out /`
    (`--out "$STORE/"` with STORE unset) wrote its store's files into it, as `train.py --out /` its run's (hostile
    trial); no command's output belongs there, as `refuse_empty_paths` refuses "" (the current folder)."""
    out = paths.get("--out")
    if not isinstance(out, (str, os.PathLike)) or not os.fspath(out):
        return
    try:
        root = os.path.realpath(out) == os.path.realpath(os.sep)
    except (OSError, ValueError):  # (a NUL byte, a loop: said by the checks after this one, or where it is used)
        return
    if root:
        raise error(f"--out {os.fsdecode(out)}: that is the file system's root (an unset shell variable before the "
                    "'/'?): name another --out")


def refuse_unusable_paths(paths: dict[str, object], error: type[UserError] = SettingError) -> None:
    """The checks every command makes of the paths it was given ({option: value}, as `refuse_empty_paths`
    takes them), before anything is read or made: no empty path (`refuse_empty_paths`), no --out '-'
    (`refuse_dash_out`) nor the root (`refuse_root_out`), none that goes through a folder that does not exist before
    a '..' (`refuse_dotdot_after_missing`), none the system cannot look up (`refuse_unreachable`)."""
    refuse_empty_paths(paths, error)
    refuse_dash_out(paths, error)
    refuse_root_out(paths, error)
    refuse_dotdot_after_missing(paths, error)
    refuse_unreachable(paths, error)


# the positional arguments that name a batch's items (caption.py's videos, extract's inputs, an import's files)
BATCH_ARGUMENTS = ("VIDEO", "INPUT", "FILE")


def refuse_unreachable(paths: dict[str, object], error: type[UserError] = OutputError) -> None:
    """`error` for a path the system cannot look up at all: through a symbolic link loop, or with a part longer
    than the file system takes (255 bytes): each was an OSError or RuntimeError traceback, exit 1, in export,
    train, evaluate, import and extract (hostile trial). One line, before anything is read or made. The videos
    or files of a batch (VIDEO, INPUT, FILE) are left to it: one of them is a logged failure, the rest go on."""
    for option, v in each_path(paths):
        if option in BATCH_ARGUMENTS or not isinstance(v, (str, os.PathLike)):
            continue
        try:
            os.stat(v)
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise error(f"{option} {os.fsdecode(v)}: goes through a symbolic link loop: name another "
                            "path") from None
            if e.errno == errno.ENAMETOOLONG:
                raise error(f"{option} {os.fsdecode(v)}: longer than the file system takes (a name over 255 "
                            "bytes, or the whole path over 4,096): name it shorter") from None
        except ValueError:  # (a NUL byte: said where the path is used)
            pass


def missing_before_dotdot(path: str | os.PathLike) -> str | None:
    """The part of `path` before a '..' that is not a folder (`nosuch` of `nosuch/../model.pt`), else None.
    A glob character changes nothing: an output path is never expanded (`n[x/../a.json` made `n[x` and
    replaced a.json), and a '..' after a pattern in an input is no path a user means."""
    text = os.fsdecode(path)
    parts = text.split(os.sep)
    for i, part in enumerate(parts):
        if part != ".." or i == 0:
            continue
        before = os.sep.join(parts[:i]) or os.sep
        if not os.path.isdir(before):
            return before
    return None


def refuse_dotdot_after_missing(paths: dict[str, object], error: type[UserError] = OutputError) -> None:
    """`error` for a path (`refuse_empty_paths`' {option: value}) through a folder that does not exist, then
    '..': `--out nosuch/../model.pt` passed every check made on the path as typed (it "does not exist"), then
    writing made `nosuch` and the path named the real model.pt, which was replaced (hostile trial). The
    system cannot follow such a path until the folder is made, so it is refused as typed, nothing made."""
    for option, v in each_path(paths):
        if isinstance(v, (str, os.PathLike)) and (missing := missing_before_dotdot(v)) is not None:
            what = "is not a folder" if os.path.lexists(missing) else "does not exist"
            raise error(f"{option} {os.fsdecode(v)}: {missing} {what}, and the path goes on with '..' after "
                        "it: name the path without it")


@contextlib.contextmanager
def removed_if_failed(folder: str | os.PathLike):
    """Run the block; if it raises, remove `folder` and the parents it had to create, provided they
    are still empty: a run refused after making its output folder leaves nothing behind (a folder
    that existed before, or one holding anything, is kept)."""
    new = new_folders(folder)
    try:
        yield
    except BaseException:
        remove_if_empty(new)
        raise


def new_folders(folder: str | os.PathLike) -> list[Path]:
    """`folder` and its parents that do not exist yet, deepest first: the ones a run that makes
    `folder` creates (`remove_if_empty` takes them back)."""
    folder = Path(folder).absolute()
    new = []
    for f in (folder, *folder.parents):
        if f.exists():
            break
        new.append(f)
    return new


def remove_if_empty(folders: list[Path]) -> None:
    """Remove `folders` (new_folders' list, deepest first) while each is empty: never anything written,
    never a folder that holds something, nor one above it."""
    for f in folders:
        try:
            f.rmdir()  # (only an empty folder)
        except OSError:
            break


def make_dirs(folder: str | os.PathLike) -> Path:
    """mkdir -p, with an OutputError instead of an OSError. (A path through a missing folder then '..', which
    mkdir -p would make, is refused where the command's arguments are read: `refuse_unusable_paths`, once, not
    at each folder made or store-log append.)"""
    given, folder = folder, Path(folder)  # (named as typed: Path('./-') is '-')
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot write {os.fsdecode(given)}: {refusal(given, e)}") from None
    return folder


def refusal(path: str | os.PathLike, e: OSError) -> str:
    """Why the file system refused to make or write `path`, for a one-line error: the file on its way
    when there is one (mkdir's "File exists" or "Not a directory" for a path through a file says
    nothing useful), a broken symbolic link on its way (mkdir's "File exists" again), else the
    system's reason."""
    given, path = os.fsdecode(path), Path(path)

    def named(p: Path) -> str:  # (the path itself as typed: Path('./-') is '-')
        return given if p == path else os.fsdecode(p)

    if e.errno == errno.ENAMETOOLONG:  # (a stat of the path itself would raise it too)
        return e.strerror
    blocker = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), None)
    if blocker is not None:  # (a pipe or a device named as one: 'a file' sent the user looking for a file)
        what = special_file(os.stat(blocker).st_mode) or "a file"
        # (a link named with what it links to, as `special_output` does: 'devnull.json is a device' called the
        # link the device; hostile trial)
        return f"{named(blocker)} is {linked_to(blocker, what)}, not a folder"
    # (a link to nothing: mkdir says "File exists" for it, and ls shows it as present)
    broken = next((p for p in (path, *path.parents) if p.is_symlink() and not p.exists()), None)
    if broken is not None:
        target = os.fsdecode(os.readlink(broken))
        if is_link_loop(broken):  # (no target made mends it: "make what it points to" sent the user round it)
            return f"{named(broken)} is a symbolic link loop (to {target}): remove it, or point it elsewhere"
        *through, missing = link_chain(broken)
        hops = f", through {', '.join(through)}" if through else ""
        return f"{named(broken)} is a broken symbolic link (to {missing}, which does " \
               f"not exist{hops}): remove it, or make what it points to"
    # (mkdir -p: the first folder missing is made in the last one there)
    return taking_nothing(next((p for p in path.parents if p.exists()), Path(".")), e) or e.strerror or \
        type(e).__name__


def link_chain(link: Path) -> list[str]:
    """The names a broken symbolic link `link` leads through, the missing one last: [its target] for one hop
    (as the link holds it); for a chain each hop joined to the folder of the link naming it. Only the first hop
    was named: m3.zip -> mine.zip -> subs/a.zip (missing) said 'to mine.zip, which does not exist', though
    mine.zip is there, a link (hostile trial). (Not for a loop: `is_link_loop`.)"""
    names, at = [], os.fsdecode(link)
    while os.path.islink(at) and len(names) < 40:  # (the system's own limit on links followed)
        hop = os.fsdecode(os.readlink(at))
        names.append(hop if not names else os.path.join(os.path.dirname(names[-1]), hop))
        at = os.path.join(os.path.dirname(at), hop)
    return names


def is_link_loop(path: Path) -> bool:
    """Whether following the link `path` goes round links for good (`ln -s loop loop`, a -> b -> a)."""
    try:
        os.stat(path)
    except OSError as e:
        return e.errno == errno.ELOOP
    return False


def name_limit(path: str | os.PathLike) -> int:
    """The longest file name, in bytes, the file system allows in `path`'s folder (its nearest folder there)."""
    path = Path(path)
    folder = next((f for f in (path.parent, *path.parent.parents) if f.is_dir()), Path("."))
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255


def refuse_long_names(paths) -> None:
    """OutputError for an output whose name, with what s2vt adds to it for its lock ('.NAME.lock', take_lock's),
    is longer than the file system allows: said before any work, not a traceback (or a lost result) when it is
    written. (The temp file a write goes through always fits: `temp_path`.)"""
    for path in paths:
        if not path:
            continue
        path = Path(path)
        limit = name_limit(path)
        if len(os.fsencode(lock_path(path).name)) > limit:
            raise OutputError(f"cannot write {os.fsdecode(path)}: its name is too long ({len(os.fsencode(path.name))} "
                              f"bytes; with the '.' and '.lock' of the lock s2vt holds beside it while writing it, the "
                              f"file system allows {limit}): name it shorter")


def check_writable(folder: str | os.PathLike, output: str | os.PathLike | None = None) -> None:
    """Create `folder` and write a scratch file there, so an output that cannot be written (read-only,
    under a file, a full disk) fails now, before the work, not after it (train: when the first
    epoch's checkpoint is saved; an import: after filling a feature store). `output`: the file to be
    written there, which the refusal names (else the folder)."""
    folder = make_dirs(folder)
    try:
        with tempfile.TemporaryFile(dir=folder) as f:  # unnamed where the OS allows: nothing left behind
            f.write(bytes(4096))
            f.flush()
    except OSError as e:
        raise output_error(output or folder, e, folder) from None


def written_file(path: str | os.PathLike) -> Path:
    """The file a write of `path` replaces: the one a symbolic link names (atomic_write_bytes writes through
    a link, the link kept), else `path` itself. Every check, lock and derived name (evaluate's metrics file)
    of an output goes by it: judged by the link's own folder and name, `--out LINK` rewrote a live training
    run's file, locked beside the link while another command wrote the same file (hostile trial). A broken
    link is left as it is, for `refuse_broken_link`."""
    path = Path(path)
    try:
        if path.is_symlink() and path.exists():
            return Path(os.path.realpath(path))
    except OSError:  # (a name too long to look up: refused where the output is checked, as any unusable name)
        pass
    return path


def temp_path(path: Path) -> Path:
    """The hidden name beside `path` that its content is written under before the rename to `path` (a reader
    never finds half a file under the real name): `.NAME.tmp-PID`; for a NAME too long for that (within 9 bytes
    of the file system's limit), NAME cut to fit, a hash of the whole of it after: a legal --out of 247 bytes
    failed with "File name too long" once an import had filled its store (hostile trial)."""
    pid = f".tmp-{os.getpid()}"
    limit = name_limit(path)
    if len(os.fsencode(f".{path.name}{pid}")) <= limit:
        return path.with_name(f".{path.name}{pid}")
    # (the hash: two long names alike in their first bytes never share a temp file)
    tag = "~" + hashlib.sha1(os.fsencode(path.name)).hexdigest()[:12]
    keep = path.name
    while keep and len(os.fsencode(f".{keep}{tag}{pid}")) > limit:  # (by characters: none cut in its bytes)
        keep = keep[:-1]
    return path.with_name(f".{keep}{tag}{pid}")


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` via a temp file and os.replace; nothing partial is left on failure."""
    atomic_write_all([(path, data)])


def write_target(path: str | os.PathLike) -> Path:
    """The file a write of `path` replaces (through a symbolic link: the file it names), its folder made;
    OutputError for a name that holds no file to replace (a folder, a pipe, a broken link)."""
    if what := ends_as_folder(path):  # (before Path drops the '/')
        raise OutputError(f"{os.fsdecode(path)} {what}: name a file to write")
    path = Path(path)
    if path.is_symlink():  # (the rename would replace the link by a plain file: the file it names is written)
        refuse_broken_link(path)
        # (named as typed, with what it links to: judged by its target alone, `import --out devnull.json` said
        # "cannot write /dev/null"; hostile trial)
        refuse_special_outputs([path], folders=True)
        path = written_file(path)
    refuse_special_outputs([path], folders=True)  # (a pipe put there since the command's checks)
    make_dirs(path.parent)
    return path


def atomic_write_all(items) -> None:
    """Write each (path, data) of `items` to a temp file beside its path (`temp_path`), then rename each onto its
    path: all of them or, when one cannot be written (a full disk, Ctrl-C), none (its temp files removed).
    `items` is taken one at a time: a generator need not hold every file's bytes at once. (A training epoch's
    best.pt and last.pt: a full disk at last.pt left the first epoch's best.pt without the last.pt that resumes
    it, a run neither resumable nor to be trained again without --overwrite; hostile trial.)"""
    # the file being written, named by an OSError (None while `items` makes the next: an OSError of its own is
    # raised as it is, never said of the file before it)
    staged, writing = [], None
    try:
        for path, data in items:
            writing = Path(path)  # (as given: `write_target` itself may fail, a name too long)
            writing = write_target(path)
            staged.append((temp_path(writing), writing))
            with open(staged[-1][0], "wb") as f:
                f.write(data)
            data, writing = None, None  # (not held while `items` makes the next)
        for tmp, writing in staged:  # (renames take no space: a full disk has failed above, before any)
            os.replace(tmp, writing)
    except BaseException as e:  # Ctrl-C or a full disk
        for tmp, _ in staged:
            try:
                tmp.unlink(missing_ok=True)
            except OSError:
                pass
        if isinstance(e, OSError) and writing is not None:
            raise output_error(writing, e, writing.parent) from None
        raise


def json_bytes(path: str | os.PathLike, obj) -> bytes:
    """`obj` as pretty-printed UTF-8 JSON for the file `path`; OutputError (nothing written) for a NaN or infinite
    number, which JSON has no way to write (json's default writes `NaN`, which JSON readers refuse)."""
    try:
        text = json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False)
    except ValueError as e:
        if "Out of range float" not in str(e):  # (a circular reference: a bug, its traceback)
            raise
        raise OutputError(f"cannot write {os.fsdecode(path)}: a value is NaN or infinite, which JSON cannot "
                          "hold (nothing written)") from None
    return (text + "\n").encode()


def atomic_write_json(path: str | os.PathLike, obj) -> None:
    """Pretty-printed UTF-8 JSON, atomically (`json_bytes`)."""
    atomic_write_bytes(path, json_bytes(path, obj))


# A lock file: held (created with O_EXCL, its pid inside) by the process writing a folder or an output,
# removed when it ends, so two runs never write the same outputs at once (`s2vt demo`'s folder,
# `s2vt evaluate`'s --out); one whose process is gone (killed) is stale and taken over.
# the lock a training run holds in its run folder (rank 0's pid) from its checks to its end: two runs into one
# --out at once wrote over each other's checkpoints, and the result each printed was not the folder's; an
# evaluate writing into such a folder is refused too (predict.refuse_training_runs)
TRAIN_LOCK = ".s2vt-train.lock"

# the files a training run writes in its folder (engine.RUN_FILES, which mark one, and its plot): no other
# command writes over them, --force or not, in a folder holding a run (`run_file`)
RUN_OUTPUTS = ("best.pt", "last.pt", "metrics.csv", "curves.png")


def run_file(path: str | os.PathLike) -> Path | None:
    """The run folder whose own file `path` is (one of RUN_OUTPUTS, in a folder holding best.pt or last.pt),
    else None: `evaluate --out RUN/metrics.csv --force` replaced a finished run's metrics with predictions."""
    path = Path(path)
    folder = path.absolute().parent
    if path.name in RUN_OUTPUTS and any((folder / name).is_file() for name in ("best.pt", "last.pt")):
        return folder
    return None


def is_checkpoint_file(path: str | os.PathLike) -> bool:
    """Whether `path` is a file in PyTorch's checkpoint format: a whole zip archive (its central directory,
    written last, found), as every torch.save since 1.6 writes (not whether it is an s2vt checkpoint)."""
    import zipfile

    return os.path.isfile(path) and zipfile.is_zipfile(path)


def refuse_checkpoints(outputs: list[Path], command: str) -> None:
    """OutputError for an output that is a PyTorch checkpoint (a finished run's best.pt or last.pt), or
    another file a training run writes in its folder (`run_file`: metrics.csv, curves.png), even with
    --force: `command`'s output written over it loses the model, or the run's record, for good."""
    import zipfile

    for path in outputs:
        if is_checkpoint_file(path):
            try:  # (any whole zip is kept; named as what it is: an export's zip was called a checkpoint, trial 95)
                with zipfile.ZipFile(path) as z:
                    what = "a checkpoint" if torch_saved(z.namelist()) else "a zip archive (an export's, say)"
            except (OSError, zipfile.BadZipFile):
                what = "a zip archive"
            raise OutputError(f"cannot write {path}: it is {what}: {command} never writes over one")
        if (run := run_file(path)) is not None:
            raise OutputError(f"cannot write {path}: {path.name} is a file of the training run in {run}: {command} "
                              "never writes over one")


LOCK_WRITING_S = 10  # a lock still empty (its pid not written yet) is another run's for this long


def lock_path(path: Path) -> Path:
    """The lock file a command holds while it writes `path` (take_lock), beside it: `.NAME.lock`."""
    return path.with_name(f".{path.name}.lock")


def is_lock_name(name: str) -> bool:
    """A lock file's name (`lock_path`'s, or the demo's `.s2vt-demo.lock`)."""
    return name.startswith(".") and name.endswith(".lock")


def process_start(pid: int) -> str | None:
    """When process `pid` started (Linux: field 22 of /proc/PID/stat, clock ticks since boot), written in a
    lock beside the pid: a lock whose pid is now another process's (reused after a reboot or a container
    restart) is stale. None where that cannot be read (no /proc, the process gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    fields = stat.rsplit(b")", 1)[-1].split()  # (after the command's name, which may hold spaces)
    start = fields[19] if len(fields) > 19 else b""  # (fields 3 on: 22 is the 20th)
    return start.decode("ascii") if start.isdigit() else None


def this_host() -> str:
    """This machine's name as a lock records it (socket.gethostname, one word of printable ASCII)."""
    return "".join(c if "!" <= c <= "~" else "_" for c in socket.gethostname()) or "_"


class LockHolder(int):
    """The pid of a lock taken on another host (`host`: its name). An int, so every caller of `lock_owner`
    and every `busy` takes it as any pid; `busy_line` names the host."""
    host: str

    def __new__(cls, pid: int, host: str) -> LockHolder:
        holder = super().__new__(cls, pid)
        holder.host = host
        return holder


def lock_text(pid: int | None = None) -> str:
    """What this process writes in a lock: its pid, its start time ('-' where unknown: `process_start`)
    and this host's name: a run on a shared file system is then never judged by another machine's
    processes (its pid absent there, its lock was taken over as stale). `pid`: another process of this
    host's, as its lock would read (a test's stand-in for a running command)."""
    pid = os.getpid() if pid is None else pid
    return f"{pid} {process_start(pid) or '-'} {this_host()}\n"


# a lock's one line: "PID START HOST\n" (START '-' where unknown: `lock_text`); written before, "PID START\n" and
# "PID\n" (HOST: `this_host`'s printable ASCII)
LOCK_LINE = re.compile(rb"([0-9]+)(?: ([0-9]+)| ([0-9]+|-) ([!-~]+))?\n")
LOCK_WHOLE = re.compile(rb"[0-9]+ (?:[0-9]+|-) [!-~]+")  # (`lock_text`'s line without its newline: `lock_owner`)
LOCK_CUT = re.compile(rb"[0-9]+(?: (?:(?:[0-9]+|-) ?)?)?")  # (one cut before its host: `lock_owner`)
LOCK_MAX_BYTES = 512  # more than any lock holds: a bigger file is not one, and is never read whole


# What a name holds when it is no regular file, by its mode, in words: one table for every refusal that says it
# (test, word, precise word): the word ends an output's or a store's line ('it is a pipe, not a regular file',
# `special_file`), the precise one an input's (`not_a_file`: 'a pipe (FIFO)', 'a character device')
FILE_KINDS = ((stat.S_ISDIR, "a folder", "a folder"), (stat.S_ISFIFO, "a pipe", "a pipe (FIFO)"),
              (stat.S_ISSOCK, "a socket", "a socket"), (stat.S_ISCHR, "a device", "a character device"),
              (stat.S_ISBLK, "a device", "a block device"))


def not_a_file(path: str | os.PathLike) -> str | None:
    """What `path` names when there is no regular file to read there, in words for an input's one-line refusal: 'a
    folder', 'a pipe (FIFO)', 'a socket', 'a character device', 'a block device', 'a broken symbolic link (to T)',
    'a symbolic link loop (to T)'; None for a regular file (through links) and for nothing there at all (the
    caller's 'not found'). Called missing, a pipe (`<(cat m.jsonl)`), /dev/zero or a dangling link sent the user
    looking for a file that is there (hostile trial)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return dangling_link(path)
    except ValueError:  # (a NUL in the name: nothing there to name)
        return None
    return special_file(mode, precise=True)


def dangling_link(path: str | os.PathLike, broken: str = "a broken symbolic link (to {}, which does not exist)"
                  ) -> str | None:
    """What the symbolic link `path` is when following it finds nothing, in words: 'a symbolic link loop (to T)',
    or `broken` with T in it; None when `path` is no such link (`not_a_file`'s, `store.not_a_folder`'s)."""
    if not os.path.islink(path) or os.path.exists(path):
        return None
    try:
        target = os.fsdecode(os.readlink(path))
    except OSError:
        return None
    return f"a symbolic link loop (to {target})" if is_link_loop(Path(path)) else broken.format(target)


def special_file(mode: int, precise: bool = False) -> str | None:
    """What a file of `mode` is when not a regular file, in words (`not_a_lock`'s; `precise`: `not_a_file`'s, from
    the one table FILE_KINDS); None for a regular one."""
    for test, word, exact in FILE_KINDS:
        if test(mode):
            return exact if precise else word
    return None if stat.S_ISREG(mode) else "not a regular file"


def refuse_special(path: str | os.PathLike | int, refused: Callable[[str], UserError], folders: bool = True) -> None:
    """Raise `refused(WHAT)` when `path` (followed through links; or an open descriptor) is there and is not a
    regular file: a pipe, a socket, a device, a folder unless `folders` is False (WHAT: `special_file`'s words).
    The one check of "this name holds no file" (a lock's, a store's log, an output's): each caller words the
    refusal for what s2vt keeps under the name. Nothing there, or not to be looked up: no refusal (said where
    the path is opened)."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return
    if (what := special_file(mode)) and (folders or what != "a folder"):
        raise refused(what)


def read_lock(lock: Path) -> tuple[bytes, float] | None:
    """The first LOCK_MAX_BYTES + 1 bytes of `lock` and its age in seconds; None when there is none (a
    dangling symbolic link too: taken over, as a link to a stale lock is). Never blocks nor reads without
    bound: a pipe there hung the command for good, a link to /dev/zero read until memory ran out, and a
    link loop was an OSError traceback (hostile trial); those, a folder, a socket or a device are
    OutputError, not s2vt's lock. Other OSErrors (unreadable) are raised as they are."""
    try:
        # the type before opening: opening a device may do something (a tape rewinds, a watchdog arms)
        refuse_special(lock, lambda what: not_a_lock(lock, what))
        # O_NONBLOCK: a pipe put there since the stat opens at once instead of waiting for a writer
        fd = os.open(lock, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except FileNotFoundError:
        return None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise not_a_lock(lock, "a symbolic link loop") from None
        raise
    try:
        refuse_special(fd, lambda what: not_a_lock(lock, what))  # (replaced between the stat and the open)
        info = os.fstat(fd)
        return os.read(fd, LOCK_MAX_BYTES + 1), time.time() - info.st_mtime
    finally:
        os.close(fd)


def lock_owner(lock: Path) -> int | None:
    """The pid of the live process that holds `lock` (-1: one that has not written its pid yet); None
    for no lock or a stale one (its process is gone, or empty for LOCK_WRITING_S, or its pid now another
    process's: started at another time than the lock says; a lock of a pid alone, as written before, of
    no start time ('-'), or of one that cannot be checked now (/proc/PID/stat unreadable) is not checked so: a
    BarePid). A lock of another host is live: a LockHolder naming it. A file of that name holding
    anything else is not s2vt's (a user's own), nor is
    anything but a regular file (`read_lock`): OutputError, never taken over (removed)."""
    if (got := read_lock(lock)) is None:
        return None
    data, age = got
    if len(data) > LOCK_MAX_BYTES:
        raise not_a_lock(lock, "a file that holds something other than a process id")
    if not data:  # (created, its pid not yet written; or its writer killed then, and old)
        return -1 if age < LOCK_WRITING_S else None
    if not data.endswith(b"\n"):
        # a write cut short (a full disk): read as the lock it is wherever that can be told, by every command
        # alike (train called a live run's lock not s2vt's, evaluate wrote past it; hostile trial). The whole
        # "PID START HOST": its pid and start end at a space (a host cut short reads as another host's: live,
        # never taken over). Shorter, where its pid or start ended cannot be told: refused, never taken over.
        if LOCK_CUT.fullmatch(data):
            raise not_a_lock(lock, "not in s2vt's lock format: no trailing newline")
        if LOCK_WHOLE.fullmatch(data):
            data += b"\n"
    # exactly as s2vt writes it (`lock_text`): read loosely, "12345\n67890\n" or "300 400" was taken for
    # "PID START" and, its pid gone, removed as stale, though a file holding anything else is the user's
    if (line := LOCK_LINE.fullmatch(data)) is None:
        raise not_a_lock(lock, "a file that holds something other than a process id")
    parts = [p.decode("ascii") for p in line.groups() if p is not None]
    pid = int(parts[0])
    if pid <= 0:  # (no process's id: os.kill(0, 0) signals the caller's own group, so '0' was live for good)
        raise not_a_lock(lock, "a file that holds something other than a process id")
    if len(parts) == 3 and parts[2] != this_host():
        # another machine's run (a shared file system): its process cannot be looked up from here, so
        # it is live; the refusal names the host, where the user can tell (`busy_line`)
        return LockHolder(pid, parts[2])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:  # (another user's process: alive)
        pass
    except (OverflowError, ValueError):  # (no such process id can exist)
        raise not_a_lock(lock, "a file that holds something other than a process id") from None
    start = process_start(pid) if len(parts) >= 2 and parts[1] != "-" else None
    if start is not None and start != parts[1]:
        return None  # (the pid reused: another process than the one that took the lock)
    if len(parts) >= 2 and parts[1] != "-" and start is None:  # (recorded, but nothing to check it against)
        return BarePid(pid, f"the start time the lock records cannot be checked: /proc/{pid}/stat cannot be read "
                            "now, so a process that got that pid since cannot be told from the one that took the lock")
    if len(parts) == 1:
        return BarePid(pid, "the lock holds a process id alone, as older s2vt versions wrote it")
    if parts[1] == "-":  # (written where the system gave no start time: the pid alone is checked, as above)
        return BarePid(pid, "the lock records no start time beside it, so a process that got that pid since cannot "
                            "be told from the one that took the lock")
    return pid


class BarePid(int):
    """The pid of a live process named by a lock without its start time (`why`, in words): a pid alone, as s2vt
    wrote before it recorded one, or 'PID - HOST', written where the system gave none; or with one that cannot be
    read for the process now, to compare. It may be any process that
    got that pid since (pid 1 was said as "another s2vt evaluate"; hostile trial). An int, as `lock_owner`'s
    callers take it; `busy_line` words it as not known to be s2vt's."""
    why: str

    def __new__(cls, pid: int, why: str) -> BarePid:
        bare = super().__new__(cls, pid)
        bare.why = why
        return bare


class LockFileError(OutputError):
    """A lock file the file system refused to make (`error`, its OSError: a caller may word it itself)."""

    def __init__(self, message: str, error: OSError) -> None:
        super().__init__(message, error.errno)
        self.error = error


def not_a_lock(lock: Path, what: str) -> OutputError:
    return OutputError(f"{os.fsdecode(lock)} is not s2vt's lock ({what}), but s2vt writes its lock under that name: "
                       "move or rename it")


def take_lock(lock: Path, busy: Callable[[int], UserError]) -> Path:
    """Create `lock` (O_EXCL: of two runs starting together one gets it) with this pid; a stale one
    is replaced (one that is empty or names a process that is gone: anything else is not s2vt's,
    an OutputError). Raises `busy(pid)` while another live process holds it (pid -1: not written yet),
    and OutputError for a lock the file system refuses to make (a name too long, a read-only folder)."""
    for _ in range(3):  # (a race with another run lost and won again is refused)
        if create_lock(lock):
            return lock
        # the stale lock is judged and replaced under the guard: unguarded, of two runs that both found it
        # stale one could remove the lock the other had just made in its place, and both ran (two train.py
        # into one --out after a SIGKILL: 2 of 200 trials, hostile trial)
        with takeover_guard(lock):
            if (pid := lock_owner(lock)) is not None:
                raise busy(pid)
            lock.unlink(missing_ok=True)
            if create_lock(lock):
                return lock
            # (made since by a run that found no lock at all, unguarded: judged again)
    if (pid := lock_owner(lock)) is not None:
        raise busy(pid)
    raise busy(-1)


def create_lock(lock: Path) -> bool:
    """Make `lock` with this process's `lock_text`: False when a file of that name exists; LockFileError
    when the file system refuses it."""
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    except OSError as e:
        why = refusal(lock, e) + (" (the lock's name is the output's with '.' before and '.lock' after: "
                                  "name the output shorter)" if e.errno == errno.ENAMETOOLONG else "")
        raise LockFileError(f"cannot write the lock file {os.fsdecode(lock)}: {why}", e) from None
    # the pid's write can fail where the name was made (a full disk has inodes left): the lock is removed again,
    # or the empty file left read as a run still writing its pid, and a rerun was refused (hostile trial)
    text = lock_text().encode("ascii")
    try:
        try:
            if os.write(fd, text) != len(text):  # (a short write: the disk filled as it wrote)
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        finally:
            os.close(fd)
    except BaseException as e:  # (a Ctrl-C too: no empty lock left)
        with contextlib.suppress(OSError):
            lock.unlink()
        if isinstance(e, OSError):
            raise LockFileError(f"cannot write the lock file {os.fsdecode(lock)}: {refusal(lock, e)}", e) from None
        raise
    return True


@contextlib.contextmanager
def takeover_guard(lock: Path):
    """Held while a stale `lock` is judged and replaced (`take_lock`): flock on the lock's folder, so no
    file is left behind (a guard file would need a guard of its own to be removed safely). Where the
    folder cannot be opened or the file system has no flock, nothing is held: the takeover as before."""
    fd = None
    if fcntl is not None:
        try:
            fd = os.open(lock.parent, os.O_RDONLY | os.O_DIRECTORY)
            fcntl.flock(fd, fcntl.LOCK_EX)  # (waits for another run's takeover: a few system calls)
        except OSError:
            pass
    try:
        yield
    finally:
        if fd is not None:
            os.close(fd)  # (releases the flock)


def busy_line(subject: str, who: str, pid: int, doing: str, instead: str, lock: Path) -> str:
    """The line for a command refused by a live lock (the `busy` of `take_lock`, or a check before one):
    `SUBJECT: WHO (pid N) DOING: wait for it to end, or INSTEAD (if none runs, remove LOCK)`; pid -1 (not
    written yet) is not named, nor INSTEAD when empty. A lock of another host (a LockHolder) names it:
    `WHO on host H (pid N) ... (if none runs on H, remove LOCK)`: from here it cannot be told; one of a pid alone
    or without its start time (a BarePid) is not said to be WHO at all."""
    if isinstance(pid, BarePid):
        return (f"{subject}: the lock file {os.fsdecode(lock)} names pid {pid}, a running process that may not be "
                f"{who} ({pid.why}): remove "
                f"{os.fsdecode(lock)} if no s2vt command is running" + (f", or {instead}" if instead else ""))
    host = getattr(pid, "host", None)
    return (f"{subject}: {who}" + (f" on host {host}" if host else "") + (f" (pid {pid})" if pid > 0 else "")
            + f" {doing}: wait for it to end" + (f", or {instead}" if instead else "")
            + f" (if none runs{f' on {host}' if host else ''}, remove {os.fsdecode(lock)})")


def training_run(folder: Path) -> int | None:
    """The pid of the live training run holding `folder` (its TRAIN_LOCK; -1: its pid not written yet), None
    when none does; OutputError for a file of that name that is not s2vt's lock (`lock_owner`)."""
    return lock_owner(Path(folder) / TRAIN_LOCK)


def release_lock(lock: Path) -> None:
    """Remove `lock` if it is still this process's (a stale one taken over by another run is not)."""
    try:
        got = read_lock(lock)  # (bounded, never blocking: a pipe put there since must not hang the run's end)
    except (OutputError, OSError):  # (not a lock any more, or unreadable: not this process's to remove)
        return
    parts = got[0].split() if got is not None else []
    # (this pid, and this host where the lock names one: the same pid on another machine is another run)
    if parts[:1] == [str(os.getpid()).encode()] and parts[2:] in ([], [this_host().encode()]):
        lock.unlink(missing_ok=True)


@contextlib.contextmanager
def locked(lock: Path, busy: Callable[[int], UserError]):
    """Hold `lock` (take_lock) while the block runs, released however it ends."""
    take_lock(lock, busy)
    try:
        yield lock
    finally:
        release_lock(lock)


def writing_elsewhere(path: Path, option: str, subject: str | None = None, command: str = "evaluate"):
    """The refusal for an output another s2vt `command` is writing (the `busy` of `take_lock`); `subject`: the
    output as the user knows it (else `option` and `path`)."""
    def busy(pid: int) -> OutputError:
        return OutputError(busy_line(subject or f"{option}{path}", f"another s2vt {command}", pid, "is writing it",
                                     f"name another {option.strip() or '--out'}", lock_path(path)))
    return busy


@contextlib.contextmanager
def writing_alone(path: Path, busy: Callable[[int], UserError]):
    """Hold `path`'s lock (`lock_path`) while the block checks what is there and writes it: two runs writing one
    output at once each checked before either wrote, so both passed and the last silently replaced the other's
    (hostile trial). Its folder is made and checked writable first (`check_writable`: a folder that takes no file,
    or a full disk, is said of the output, not of the lock beside it), and removed again, left empty, if the
    block fails."""
    with removed_if_failed(path.parent):
        check_writable(path.parent, path)
        with locked(lock_path(path), busy):
            yield
