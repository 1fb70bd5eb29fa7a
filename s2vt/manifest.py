"""Video ids, the manifest (JSON Lines) reader, and folder scanning.

Lives in `extract` (the bottom of the data flow) so both `extract` and `s2vt` share one
definition of what a valid id and a valid manifest line are.
"""
from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import re
import sys
import unicodedata
from pathlib import Path
from typing import Iterator

from .errors import UserError, shell_quote
from .fileio import atomic_write_bytes
from .jsonfile import (LoneSurrogateError, ObjectError, compressed, json_error, json_kind, lenient_keys,
                       no_lone_surrogate, unique_keys)

# what a folder scan (and an upload) counts as a video file
# (raw elementary streams too: decoded by their frames' order, a note saying their times assume ffmpeg's rate)
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v", ".mpg", ".mpeg", ".flv",
                    ".wmv", ".3gp", ".ts", ".ogv", ".mts", ".m2ts", ".vob", ".mxf", ".f4v", ".asf",
                    ".h264", ".264", ".hevc", ".h265", ".265", ".m2v", ".ivf", ".mjpeg", ".mjpg")

VIDEO_ID_RE = re.compile(r"[A-Za-z0-9_.-]{1,128}")
SPLITS = ("train", "val", "test")
DEFAULT_SPLIT = "train"  # a manifest entry without a "split" is a training video


class ManifestError(UserError):
    """A manifest that cannot be used; the message is one line naming file and line."""


def video_id_problem(video_id: object) -> str | None:
    """Why `video_id` is no valid id (ids name files: `<id>.npy`, a folder of frames), or None.
    Valid: [A-Za-z0-9_.-]{1,128}, not '.' or '..', not starting with '.' (a hidden file); a leading
    '-' (a YouTube id, MSVD's) is allowed."""
    if isinstance(video_id, (bool, dict, list)) or video_id is None:  # (said as what it is: "True" read as a name)
        return f"{json_kind(video_id)}, not a string"
    if not isinstance(video_id, str) or VIDEO_ID_RE.fullmatch(video_id) is None:
        return "must match [A-Za-z0-9_.-]{1,128}"
    if video_id in (".", ".."):
        return "'.' and '..' name folders, not files"
    if video_id.startswith("."):
        return "must not start with '.' (a hidden file)"
    return None


def quoted_id(value: object, limit: int = 60) -> str:
    """`value`'s repr for a message, a long one cut with its length said: an id of 5,000 characters made an
    `error:` line of 5 KB (trial 95)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(str(value)):,} characters)"


def valid_video_id(video_id: object) -> bool:
    """True for ids that `video_id_problem` finds nothing wrong with."""
    return video_id_problem(video_id) is None


def check_video_id(video_id: object, where: str = "") -> str:
    """Return `video_id` if valid, else raise ManifestError with a one-line reason."""
    problem = video_id_problem(video_id)
    if problem:
        raise ManifestError(f"{where}invalid video_id {quoted_id(video_id)}: {problem}")
    return video_id  # type: ignore[return-value]


def sanitize_id(stem: str) -> str:
    """A valid id from a file stem: other characters become '_', cut to 128.

    A stem that is not all ASCII also gets '_' + 8 hex digits of the sha1 of its NFC UTF-8
    form, so names in other scripts (two Chinese titles both -> '__') keep distinct ids, the
    same on every machine. ASCII stems map as they always did.
    """
    # (NFC first, the kept characters too: a decomposed name (macOS's `café`) kept its 'e' where the composed
    # one did not, so one visible name gave two ids and captions keyed by it missed the file; hostile trial)
    nfc = unicodedata.normalize("NFC", stem)
    clean = re.sub(r"[^A-Za-z0-9_.-]", "_", nfc)[:128].strip(".") or "video"
    if stem.isascii():
        return clean
    name = nfc.encode("utf-8", "surrogatepass")  # (a non-UTF-8 name's bytes too)
    return f"{clean[:119]}_{hashlib.sha1(name).hexdigest()[:8]}"


def two_names(a: str | os.PathLike, b: str | os.PathLike, show=os.fspath) -> str:
    """`a and b` (each as `show` writes it), for a refusal of two names of one id: where they differ only in how
    their accents are written (composed in one, decomposed in the other, as macOS writes names) they would print
    alike, so they are shown escaped, with what tells them apart (hostile trial)."""
    a, b = os.fspath(a), os.fspath(b)
    if look_alike(a, b):
        return f"{ascii(a)} and {ascii(b)} {LOOK_ALIKE}"
    return f"{show(a)} and {show(b)}"


def duplicate_ids(clashes: list[tuple[str, str | os.PathLike, str | os.PathLike]]) -> str:
    """The refusal of videos whose ids clash, every clash at once (id, the first path, another path): one pair a
    run, renamed and run again to find the next, was said one at a time (trial 86); the files of one id are named
    together, every id is named (trial 87)."""
    files: dict[str, list] = {}
    for vid, a, b in clashes:
        files.setdefault(vid, [a]).append(b)
    if len(clashes) == 1:
        vid, a, b = clashes[0]
        return f"duplicate video id {vid!r}: {two_names(a, b)} (rename one)"

    def names(paths: list) -> str:
        return two_names(*paths) if len(paths) == 2 else ", ".join(map(os.fspath, paths[:-1])) + \
            f" and {os.fspath(paths[-1])}"

    shown = "; ".join(f"{vid!r}: {names(paths)}" for vid, paths in list(files.items())[:3])
    rest = list(files)[3:]
    more = f"; also {', '.join(map(repr, rest))}" if rest else ""
    return (f"{len(files)} video id{'s' * (len(files) > 1)} name{'s' * (len(files) == 1)} several files ({shown}"
            f"{more}): rename all but one of each")


def apart(a: str | os.PathLike, b: str | os.PathLike) -> tuple[str, str, str]:
    """Two names as a line naming them in turn shows them: as they are, or escaped where they `look_alike`, with
    what tells them apart to add after the second (' (one name, ...)', else '')."""
    a, b = os.fspath(a), os.fspath(b)
    return (ascii(a), ascii(b), f" {LOOK_ALIKE}") if look_alike(a, b) else (a, b, "")


# what tells two names apart that `look_alike` finds alike
LOOK_ALIKE = ("(one name, its accents written as one character in one and as a letter and a combining mark in the "
              "other)")


def look_alike(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether two names differ only in how their accents are written (composed, decomposed): printed, they look
    the same, so a line naming both shows them escaped, with LOOK_ALIKE."""
    a, b = os.fspath(a), os.fspath(b)
    return a != b and unicodedata.normalize("NFC", a) == unicodedata.normalize("NFC", b)


def split_of(entry: dict) -> str:
    """An entry's split: its own, else DEFAULT_SPLIT (one home for that default: every reader of a manifest
    asks here)."""
    return entry.get("split", DEFAULT_SPLIT)


def check_entry(entry: object, where: str = "") -> dict:
    """Return `entry` if it is a valid manifest entry (id, split, captions, tags, path), else raise
    ManifestError starting with `where`. One check for the reader and the importers that write manifests."""
    if not isinstance(entry, dict):  # (a list, a string: said as what it is, not as a missing field)
        raise ManifestError(f"{where}{json_kind(entry)}, not an object: a manifest is one JSON object per line "
                            "({\"video_id\": ..., \"split\": ..., \"captions\": [...]})")
    if "video_id" not in entry:
        raise ManifestError(f"{where}missing field 'video_id'")
    check_video_id(entry["video_id"], where)
    split = split_of(entry)
    if split not in SPLITS:
        raise ManifestError(f"{where}split must be one of {', '.join(SPLITS)}, not {split!r}")
    for key in ("captions", "tags"):
        value = entry.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ManifestError(f"{where}{key!r} must be a list of strings")
    # (a blank tag was a label of its own, " x " another than "x"; trial 78)
    if (odd := next((t for t in entry.get("tags", []) if not t.strip() or t != t.strip()), None)) is not None:
        raise ManifestError(f"{where}tag {odd!r} " + ("is blank" if not odd.strip() else
                                                      f"has spaces at its ends: write {odd.strip()!r}"))
    text = entry.get("text", {})
    if not isinstance(text, dict) or not all(isinstance(v, str) for v in text.values()):
        raise ManifestError(f"{where}'text' must be an object of strings ({', '.join(TEXT_FIELDS)})")
    rel = entry.get("path")
    if rel is not None and not isinstance(rel, str):
        raise ManifestError(f"{where}'path' must be a string")
    only = entry.get("captions_only", False)
    if not isinstance(only, bool):
        raise ManifestError(f"{where}'captions_only' must be true or false")
    # (a video of captions alone teaches the decoder's language: there is nothing of it to evaluate or tag)
    if only and (split != "train" or not entry.get("captions") or entry.get("tags")):
        raise ManifestError(f"{where}'captions_only' marks a training video that has captions and no features: "
                            + (f"this one is in split {split}" if split != "train" else "this one has no captions"
                               if not entry.get("captions") else "this one has tags (nothing of it could learn them)"))
    return entry


def not_utf8(data: bytes) -> str | None:
    """"UTF-16" or "UTF-32" for text in one of those, else None: what Windows Notepad's "Unicode" writes was read as
    UTF-8, after a false "last line cut short" warning, and refused at its first byte (trial 74). Told by its
    byte-order mark, or by where NUL bytes fall near the start: UTF-16 puts one beside each ASCII character, all on
    one side of the byte pairs (half the bytes of English, a tenth of Chinese titles among JSON's keys; trial 79);
    UTF-32 two or three in each four, in the same places. NULs that fall anywhere, a stray one or a run a crash
    padded a file with, are a damaged line, its reader's to name (trials 78, 80)."""
    if data.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        return "UTF-32"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "UTF-16"
    head = data[:4096]
    if head.count(b"\x00") < max(2, len(head) // 16):
        return None
    by4 = [head[k::4].count(b"\x00") / max(1, len(head[k::4])) for k in range(4)]
    if (min(by4[2], by4[3]) > 0.9 > 0.1 > by4[0]) or (min(by4[0], by4[1]) > 0.9 > 0.1 > by4[3]):  # (LE, BE)
        return "UTF-32"
    even, odd = head[0::2].count(b"\x00"), head[1::2].count(b"\x00")
    return "UTF-16" if min(even, odd) * 8 <= max(even, odd) else None


def refuse_not_utf8(path: str | os.PathLike, data: bytes, error: type[UserError]) -> None:
    if packed := compressed(data):
        raise error(f"{path}: {packed}")
    if kind := not_utf8(data):
        raise error(f"{path}: {kind} text, not UTF-8: save it as UTF-8")


def json_lines(path: str | os.PathLike, error: type[UserError] = ManifestError,
               data: bytes | None = None, lenient: bool = False) -> Iterator[tuple[str, object]]:
    """(where, value) for each non-blank line of a JSON Lines file, `where` being 'PATH:LINE: ';
    `data`: its bytes, where the caller read them already (a pipe gives them only once); `lenient`: a lone
    surrogate escape becomes U+FFFD (web text, `lenient_keys`), not an error.

    A file that cannot be read, or a line that is not UTF-8 or not JSON, raises `error` in one
    line naming the file and the line.
    """
    try:
        data = Path(path).read_bytes() if data is None else data
    except OSError as e:
        raise error(f"{path}: cannot read ({e.strerror})") from None
    refuse_not_utf8(path, data, error)
    for n, raw in enumerate(data.splitlines(), 1):
        where = f"{path}:{n}: "
        try:
            line = raw.decode("utf-8-sig" if n == 1 else "utf-8")  # a BOM, as Windows editors write, is no error
        except UnicodeDecodeError as e:
            raise error(f"{where}not valid UTF-8 (byte 0x{raw[e.start]:02x} at column {e.start + 1})") from None
        if not line.strip():
            continue
        try:  # (a key given twice: json would keep the last one, silently)
            value = json.loads(line, object_pairs_hook=lenient_keys if lenient else unique_keys)
        except ObjectError as e:
            raise error(f"{where}{e}") from None
        except json.JSONDecodeError as e:
            if one_document(data):  # (a pretty-printed array or object: its first line alone is no JSON)
                raise error(f"{path}: one JSON document over {len(data.splitlines())} lines, not JSON lines "
                            "(one object a line)") from None
            raise error(f"{where}not valid JSON ({json_error(e, line=False)})") from None  # (where: its line)
        except ValueError as e:  # (an integer of over 4,300 digits)
            raise error(f"{where}not usable JSON ({e})") from None
        except RecursionError:
            raise error(f"{where}not usable JSON (nested too deeply)") from None
        yield where, value


URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def missing_note(path: str | os.PathLike) -> str:
    """What to add to "no such file" for a path that is a URL (https://…/v.mp4): only files are read."""
    return " (a URL: videos are read from files; download it first)" if URL.match(os.fspath(path)) else ""


STDIN_DASH = "reading from standard input ('-') is not supported: name a file"


def dash_refusal(path: str | os.PathLike) -> str | None:
    """The line for a bare '-', the usual name of standard input, as an input path: "-: no such file" (caption.py)
    or "-: file not found" (export, score) read as if the dash were a file's name, and where a file '-' was there
    it was read silently (hostile trial). Only bare '-' is standard input, always refused; './-' is the file, which
    the line names when one is there. None for any other path (callers keep './-' as typed: Path makes it '-')."""
    if os.fspath(path) != "-":
        return None
    return STDIN_DASH + (" (for a file named '-', write ./-)" if os.path.lexists(path) else "")


def no_such_video(path: str | os.PathLike) -> str:
    """The one-line reason for a video path that is not there (extract's probe, caption.py's inputs): a
    symbolic link to nothing (a disk not mounted) says where it points; '-', that stdin is not read."""
    if dash := dash_refusal(path):
        return dash
    if os.path.islink(path):
        try:
            target = os.readlink(path)
        except OSError:  # (removed meanwhile)
            pass
        else:
            try:
                os.stat(path)
            except OSError as e:
                if e.errno == errno.ELOOP:  # (`ln -s loop.mp4 loop.mp4`, or a.mp4 -> b.mp4 -> a.mp4)
                    return f"{os.fspath(path)}: a symbolic link loop (to {target})"
            return f"{os.fspath(path)}: broken symbolic link to {target}"
    return f"{os.fspath(path)}: no such file{missing_note(path)}"


def not_videos_named(sources: list) -> list:
    """The inputs of several (a shell glob's, `g/*`) that are files, or links to nothing, not named as videos by
    their extension (subtitles, Thumbs.db, captions.json): extract and caption.py skip them in one warning line
    (`skipped_line`), where each would be a failed video on every run; a single named file is tried whatever its
    name, and a folder is scanned."""
    if len(sources) < 2:
        return []
    # (a manifest, .jsonl, is each command's own matter: extract refuses it beside other inputs, caption.py
    # points to `s2vt evaluate`)
    return [s for s in sources if not os.path.isdir(s) and Path(s).suffix.lower() not in (*VIDEO_EXTENSIONS, ".jsonl")
            and (os.path.exists(s) or (os.path.islink(s) and Path(s).suffix))]


def skipped_line(skipped: list) -> str:
    """The warning for `not_videos_named`'s files."""
    one = len(skipped) == 1
    return (f"warning: skipped {len(skipped)} named file{'' if one else 's'} that {'is' if one else 'are'} not "
            f"{'a video' if one else 'videos'} by {'its' if one else 'their'} extension ("
            f"{'first: ' if len(skipped) > 3 else ''}{', '.join(map(str, skipped[:3]))})")


def broken_link(path: str | os.PathLike) -> bool:
    """Whether `path` is a symbolic link to nothing (or a loop of links)."""
    return os.path.islink(path) and not os.path.exists(path)


def one_document(data: bytes) -> bool:
    """Whether `data` is one JSON document (valid as a whole, so not JSON lines that failed)."""
    try:
        json.loads(data.decode("utf-8-sig"))
    except (ValueError, RecursionError):
        return False
    return True


def is_manifest(path: str | os.PathLike) -> bool:
    """Whether `path` is a manifest: named .jsonl, or JSON lines whose first record is a manifest's row
    (`json_start`, `manifest_row`), whatever its name (an import's --out m.json). What score and `import mlds
    --captions` go by to tell a manifest from a JSON {id: [captions]}: a JSON object of ids never has
    a string "video_id" on its first line, nor a second line after a first that is a whole object."""
    path = Path(path)
    if path.suffix == ".jsonl":
        return True
    if not path.is_file() or (json_file := json_start(path)) is None:  # (a folder, a pipe: the reader's to say)
        return False
    first = json_file[1]
    if manifest_row(first):
        return True
    if not isinstance(first, dict):
        return False
    # a first line that is a whole JSON object followed by more lines is JSON lines too (a manifest
    # whose first record lacks its video_id: the manifest reader names the line)
    try:
        with path.open("rb") as f:
            lines = (line for line in f if line.strip())
            return next(lines, None) is not None and next(lines, None) is not None
    except OSError:
        return False


JSON_LINE_LIMIT = 1 << 20  # (the most of a JSON file's first line read: a manifest's line is far shorter)


def json_start(path: str | os.PathLike, data: bytes | None = None) -> tuple[bytes, object] | None:
    """(its first non-blank bytes, up to 4 KiB; its first line's JSON value, or None where that line is no
    JSON) for a file that is JSON, None for any other. Told from its first 4 KiB and first line alone (a 2 GB
    video is not read): JSON's first non-blank byte is '{' or '[' and it holds no NUL byte, which no video
    container starts so (a video named clip.jsonl is still one). `data`: the file's bytes, already read (a pipe's,
    which gives them once)."""
    try:
        with io.BytesIO(data) if data is not None else open(path, "rb") as f:
            head = f.read(4096)
            start = head.removeprefix(b"\xef\xbb\xbf").lstrip()  # (a BOM, as json_lines allows)
            if start[:1] not in (b"{", b"[") or b"\x00" in head:
                return None
            f.seek(len(head) - len(start))
            line = f.readline(JSON_LINE_LIMIT)
    except OSError:  # (left to the video's own reading to say)
        return None
    try:
        return start, json.loads(line.decode("utf-8"))
    except (ValueError, RecursionError):  # (a pretty-printed document, a line cut at the limit: JSON all the same)
        return start, None


def manifest_row(value: object) -> bool:
    """Whether a JSON lines file's first value is a manifest's row: an object with its video_id
    (manifest.check_entry); a file of other JSON lines called a manifest was sent to `s2vt evaluate`, which
    refused it (hostile trial)."""
    return isinstance(value, dict) and isinstance(value.get("video_id"), str)


MSRVTT_LISTS = re.compile(rb'"(?:videos|sentences)"\s*:\s*\[')  # (in a document over several lines, or cut)
# evaluate's metrics and predictions files, over several lines (as it writes them), told from their start
EVALUATE_METRICS = re.compile(rb'\{\s*"split"\s*:\s*"(?:train|val|test)"\s*,\s*"videos"\s*:\s*\d')
EVALUATE_PREDICTIONS = re.compile(rb'\[\s*\{\s*"video_id"\s*:\s*"[^"]*"\s*,\s*"caption"')


def dataset_import(path: str, data: bytes | None = None) -> str | None:
    """The `s2vt import` that makes a manifest of `path` when it is a dataset's own file (MSR-VTT's videodatainfo
    JSON, MSVD's video_corpus.csv, MLDS's training_label.json, LIC2022's JSON lines), told from its first bytes
    (`json_start`); None for any other. Said where a manifest reader fails on it: "...:1: missing field
    'video_id'" gave no pointer to the import (hostile trial)."""
    q = shell_quote(path)
    made = "make a manifest of it: s2vt import"
    if (json_file := json_start(path, data)) is None:  # (`data`: as json_start's)
        try:
            with io.BytesIO(data) if data is not None else open(path, "rb") as f:
                head = f.read(200).removeprefix(b"\xef\xbb\xbf")
        except OSError:
            return None
        return f"it looks like MSVD's video_corpus.csv: {made} msvd {q} --out M.jsonl" \
            if head.startswith(b"VideoID,Start,End,") else None
    start, first = json_file
    if manifest_row(first):  # (a manifest's own line further on is the mistake)
        return None
    # (the lists of videos and sentences, not the names alone: any JSON object counting its "videos" (a run's
    # metrics.json) was sent to `s2vt import msrvtt`, which refused it; new-user trial 94)
    if start[:1] == b"{" and (MSRVTT_LISTS.search(start) if first is None else isinstance(first, dict) and all(
            isinstance(first.get(key, []), list) for key in ("videos", "sentences"))
            and any(key in first for key in ("videos", "sentences"))):
        return f"it looks like MSR-VTT's videodatainfo JSON: {made} msrvtt {q} --out M.jsonl"
    # evaluate's own files named as a manifest (a run's preds_test.json as --manifest; trial 96)
    if isinstance(first, dict) and {"split", "videos", "seconds"} <= first.keys() or first is None and start[:1] == \
            b"{" and EVALUATE_METRICS.match(start):
        return "it is evaluate's metrics file: pass the manifest the run was evaluated on"
    if first is None and start[:1] == b"[" and EVALUATE_PREDICTIONS.match(start) or isinstance(first, list) and \
            first and isinstance(first[0], dict) and {"video_id", "caption"} <= first[0].keys():
        return "it looks like predictions (evaluate's, a JSON list): pass the manifest the videos came from"
    if isinstance(first, dict) and "@id" in first:
        return f"it looks like LIC2022's JSON lines: {made} lic2022 {q} --out M.jsonl"
    if start[:1] == b"[" and b'"caption"' in start and b'"id"' in start:
        folder = shell_quote(os.path.dirname(os.path.abspath(path)))
        return f"it looks like MLDS's training_label.json: {made} mlds {folder} --out M.jsonl (the release folder " \
               "holding it)"
    return None


# the fields of a manifest's line that s2vt reads (any other is the user's own, kept as it is)
MANIFEST_FIELDS = ("video_id", "split", "captions", "tags", "text", "path", "captions_only")
# the keys of its "text" object that the text branch reads (s2vt.text), in the order it reads them
TEXT_FIELDS = ("title", "asr", "ocr")
# far above any real title (the longest of the 5,599 KuaiRec ones: 1,984 characters), low enough
# that one runaway field cannot dominate tokenising or a batch: the text branch reads no more of a field
MAX_TEXT_CHARS = 4000


def misspelt_fields(entries: list[dict]) -> list[tuple[tuple[str, str], int]]:
    """((field, the field it is near), videos that have it) for each field of `entries` that is not read and is
    close to one that is (`"captoins"`: training went on tag-only, unsaid; trial 78), in order met."""
    found: dict[tuple[str, str], int] = {}
    for entry in entries:
        for key in entry:
            if key not in MANIFEST_FIELDS and key != "abspath" and isinstance(key, str):
                near = next((f for f in MANIFEST_FIELDS if misspelt(key, f)), None)
                if near is not None:
                    found[(key, near)] = found.get((key, near), 0) + 1
    return list(found.items())


def unread_text_keys(entries: list[dict]) -> list[tuple[tuple[str, str | None], int]]:
    """((key, the text field it is near, or None), videos that have it) for each key of `entries`' "text" objects
    that the text branch does not read: "text" is s2vt's own field, so any other key is one the user meant to be
    read (`{"tittle": ...}`, `{"Title": ...}`, `{"description": ...}` trained on no text, unsaid; trial 83)."""
    found: dict[tuple[str, str | None], int] = {}
    for entry in entries:
        for key in entry.get("text") or {}:
            if key not in TEXT_FIELDS:
                near = next((f for f in TEXT_FIELDS if misspelt(key, f)), None)
                found[(key, near)] = found.get((key, near), 0) + 1
    return list(found.items())


def misspelt(key: str, field: str) -> bool:
    """Whether a field `key` reads as `field` mistyped: in another case, or one letter off, a swap of two neighbours
    counting one ("captoins", "caption", "tgas"); for a field of four letters, not one letter replaced ("next",
    "math", "tag2" are words of their own). Not a name that extends the field ("captions_en", "video_ids",
    "split0": the user's own), nor a split's name ("test": true, a user's mark). Trials 78-80."""
    key = key.lower()
    if key == field:
        return True
    if key.startswith(field) or key in SPLITS or swaps_distance(key, field) > 1:
        return False
    return not (len(field) <= 4 and len(key) == len(field) and sorted(key) != sorted(field))


def swaps_distance(a: str, b: str) -> int:
    """Edits (insert, delete, replace, or swap two neighbours) from `a` to `b` (optimal string alignment)."""
    d = [[i + j if not i * j else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


def shared_files(entries: list[dict]) -> dict[str, list[dict]]:
    """{video file: its entries} for the files whose path two or more entries give (`a/../b` is `b`): one video under
    several ids (a hand-written manifest). Told by the paths alone, links not followed: training, which asks,
    reads no video file (a path on a mount that is gone would stall it; trial 104)."""
    groups: dict[str, list[dict]] = {}
    for e in entries:
        if e.get("abspath"):
            groups.setdefault(os.path.normpath(e["abspath"]), []).append(e)
    return {path: g for path, g in groups.items() if len(g) > 1}


def read_manifest(path: str | os.PathLike, split: str | None = None) -> list[dict]:
    """Entries of a JSONL manifest, validated; `path` fields resolved against its folder.

    Each entry keeps its fields and gains `abspath` (None when it has no `path`). `split` (an
    import's --split) replaces every entry's split before the check: the file's own, valid or not,
    is then not used, so it cannot refuse what the user asked for.
    """
    name, path = os.fspath(path), Path(path)  # (named as given: Path('./-') is '-', which reads as stdin)
    if dash := dash_refusal(name):  # (even beside a file '-': './-' names that)
        raise ManifestError(dash)
    if not path.is_file():
        what = "a folder" if path.is_dir() else "not a regular file" if path.exists() else "manifest not found"
        raise ManifestError(f"{name}: {what}" + (", not a manifest (a .jsonl file)" if path.is_dir() else ""))
    entries, seen, repeats = [], set(), []
    try:
        for where, entry in json_lines(name):
            if split is not None and isinstance(entry, dict):
                entry["split"] = split
            vid = check_entry(entry, where)["video_id"]
            if vid in seen:
                raise ManifestError(f"{where}duplicate video_id {vid!r}")
            seen.add(vid)
            entries.append(entry)
    except ManifestError as e:
        if (to_import := dataset_import(name)) is None:
            raise
        raise ManifestError(f"{e}; {to_import}") from None
    for entry in entries:
        vid = entry["video_id"]
        tags = entry.get("tags")
        if tags and len(set(tags)) != len(tags):  # a tag given twice is one tag: each counts once, order kept
            entry["tags"] = list(dict.fromkeys(tags))
            repeats.append(vid)
        rel = entry.get("path")
        entry["abspath"] = str(path.parent / rel) if rel else None
    if misspelt := misspelt_fields(entries):  # (a field that is not read is kept as a user's own, unsaid)
        said = ", ".join(f"{key!r} ({n} video{'s' * (n > 1)}; {meant!r} meant?)" for (key, meant), n in misspelt[:3])
        print(f"warning: {path}: field{'s' * (len(misspelt) > 1)} s2vt does not read: {said}", file=sys.stderr)
    if unread := unread_text_keys(entries):
        said = ", ".join(f"{key!r} ({n} video{'s' * (n > 1)}{f'; {near!r} meant?' if near else ''})"
                         for (key, near), n in unread[:3])
        print(f"warning: {path}: 'text' key{'s' * (len(unread) > 1)} s2vt does not read: {said} (it reads "
              f"{', '.join(TEXT_FIELDS)})", file=sys.stderr)
    if repeats:  # (else single-label data with one ["a", "a"] would read as multi-label)
        print(f"warning: {path}: {len(repeats)} video{'s list' if len(repeats) > 1 else ' lists'} a tag more than "
              f"once (first: {', '.join(repeats[:3])}): each counts once", file=sys.stderr)
    return entries


def write_manifest(entries: list[dict], path: str | os.PathLike) -> None:
    """Write entries as JSONL atomically (temp file + rename); drops the derived `abspath`."""
    lines = (json.dumps({k: v for k, v in e.items() if k != "abspath"}, ensure_ascii=False) + "\n"
             for e in entries)
    text = "".join(lines)
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:  # (a path under a folder whose name is not UTF-8: a traceback; trial 79)
        from .errors import printable

        for entry in entries:
            for key, value in entry.items():
                shown = json.dumps(value, ensure_ascii=False)
                try:
                    no_lone_surrogate(shown)
                except LoneSurrogateError:
                    if key != "abspath":
                        raise ManifestError(f"video {entry.get('video_id')}: its {key} {printable(shown)} is not "
                                            "UTF-8 text, which a manifest (UTF-8 JSON) must be: rename the file or "
                                            "folder it names") from None
        raise
    atomic_write_bytes(path, data)


def video_files(folder: str | os.PathLike):
    """Yield every video file (by its extension) under `folder`, recursively: each folder's files in
    sorted order, then its sub-folders in sorted order.

    Symlinked sub-folders are followed, each real folder once (so a link to a folder already
    scanned, or back up the tree, neither loops nor finds its videos twice), except a link to a folder that
    holds `folder` itself (`self -> ..`), whose tree is not the one named. Hidden files and
    sub-folders (a name starting with '.') are skipped: macOS leaves `._clip.mp4` (AppleDouble
    metadata, not a video) beside each video copied to a foreign disk, `.DS_Store` in each folder,
    and a `.AppleDouble/` of such files on network shares; each would be a failed video. (A hidden
    file named as an input itself is still tried: that is a choice, not a folder's content.)
    A symbolic link to nothing (`broken_link`: its disk not mounted), a pipe or a socket so named is yielded
    too, to fail as a video (`no_such_video` names where a link points): left out, its video was missing from
    the batch unsaid.
    """
    scanned: set[tuple[int, int]] = set()
    top = Path(os.path.realpath(folder))
    for root, dirs, files in os.walk(folder, followlinks=True):
        st = os.stat(root)
        if (st.st_dev, st.st_ino) in scanned:
            dirs.clear()
            continue
        scanned.add((st.st_dev, st.st_ino))
        # (walked in order: the first of two paths to one folder is the one kept; a link to a folder that holds the
        # one named, `self -> ..`, is not followed: it captioned the whole tree above it; trial 98)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not (
            os.path.islink(os.path.join(root, d)) and top.is_relative_to(os.path.realpath(os.path.join(root, d)))))
        for name in sorted(files):
            if name.startswith("."):
                continue
            p = Path(root, name)
            # (anything else named as a video, a pipe or a socket, is yielded too, to fail as one naming its
            # kind, `check_video_file`: skipped, it was missing from the batch unsaid; hostile trial)
            if p.suffix.lower() in VIDEO_EXTENSIONS:
                yield p


def scan_videos(folder: str | os.PathLike) -> list[tuple[str, Path]]:
    """(id, path) for every video file under `folder` (`video_files`), sorted by id; ids from
    sanitised stems. Two files that map to the same id raise ManifestError naming both.
    """
    found: dict[str, Path] = {}
    clashes = []
    for p in video_files(folder):
        vid = sanitize_id(p.stem)
        if vid in found:
            clashes.append((vid, found[vid], p))
            continue
        found[vid] = p
    if clashes:
        raise ManifestError(duplicate_ids(clashes))
    return sorted(found.items())
