"""Prediction and reference files: the formats `score`, `evaluate` and `export` read and write."""
from __future__ import annotations

import codecs
import collections
import io
import json
import math
import os
import re
import sys
import zipfile
from pathlib import Path

from .errors import UserError, counted, one_line, printable, shell_quote
from .fileio import OutputError, not_a_file
from .jsonfile import (LoneSurrogateError, ObjectError, json_error, json_problem, parse_json, torch_saved,
                       unique_keys)
from .formats import msrvtt_items
from .manifest import (SPLITS, VIDEO_EXTENSIONS, ManifestError, dash_refusal, is_manifest, json_start, not_utf8,
                       read_manifest, valid_video_id, split_of, video_id_problem)
from .vocab import drop_blank_captions, is_blank


class ResultsError(UserError):
    """A predictions or references file that cannot be used; one line for the user."""


class CaptionLines(ResultsError):
    """A predictions file that is caption.py --json's lines (`data`: the file's bytes), which name videos by
    path: refused where ids are read (export), matched to a manifest's videos by `score`."""

    def __init__(self, message: str, data: bytes, items: bool = False):
        super().__init__(message)
        self.data = data
        self.items = items  # (a JSON list's items, a line each in `data`: said as "item N", from 0, as the list's)


def refuse_not_a_file(name: str) -> None:
    """ResultsError for a predictions or references path that is there but holds no regular file: a pipe
    (`<(cat m.jsonl)`, which a manifest's --split reads more than once, and a device may never end), a device, a
    broken link, each named the same way whatever the file was to hold (with --split a pipe was said to be no
    manifest; without it, 'not a regular file'). A folder is the callers' to word."""
    if (what := not_a_file(name)) is not None and what != "a folder":
        fix = "remove the link, or make what it points to" if "symbolic link" in what else \
            "save what it holds to a file, and pass that"
        raise ResultsError(f"{name}: {what}, not a regular file: {fix}")


def _load_json(path: str | Path, expected: str, answers: bool = False):
    """The parsed JSON of a predictions or references file (or of the one file in export's zip); any
    reason it cannot be read is a ResultsError, its line naming the file. `expected`: what the caller
    reads, said to a file of JSON lines; `answers`: it reads predictions (caption.py's text output is told)."""
    # (the name as given: Path('./-') is '-', which the user did not type, and a bare '-' alone is stdin)
    name, path = os.fspath(path), Path(path)
    if dash := dash_refusal(name):
        raise ResultsError(dash)
    if path.is_dir():
        raise ResultsError(f"{name}: is a folder (expected a file)")
    refuse_not_a_file(name)
    if not path.exists():
        raise ResultsError(f"{name}: file not found")
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ResultsError(f"{path}: cannot read ({e.strerror})") from None
    where = path
    if data.startswith(ZIP_MAGICS):  # (no JSON text starts so) `s2vt export`'s zip: its one results file
        where, data = _zip_member(path, data)
    if kind := not_utf8(data):  # (PowerShell's `>` writes UTF-16: "byte 0xff at offset 0" said less; trial 124)
        raise ResultsError(f"{where}: {kind} text, not UTF-8: save it as UTF-8")
    try:
        return parse_json(data)
    except ObjectError as e:
        raise ResultsError(f"{where}: {e}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        # (caption.py's text output is said of predictions alone: references of `name.mp4: caption` lines are no
        # caption.py output to save otherwise; trial 131)
        if said := _message_line(data.lstrip()) or (answers and _caption_text_line(data.lstrip())):
            raise ResultsError(f"{where}: not JSON: it begins with {said}") from None
        if note := _caption_lines_note(data, e):
            raise CaptionLines(f"{where}: not valid JSON ({json_error(e)})" + note, data) from None
        raise ResultsError(f"{where}: {json_problem(data, e, expected)}") from None
    except ValueError as e:  # (an integer of over 4,300 digits)
        raise ResultsError(f"{where}: not usable JSON ({e})") from None
    except RecursionError:
        raise ResultsError(f"{where}: not usable JSON (nested too deeply)") from None


ZIP_MAGIC = b"PK\x03\x04"
# a zip's first bytes: a member's header, or the end-of-directory record of an empty zip (and a spanned
# zip's marker): the empty one is "a zip holding nothing", not "not valid JSON"
ZIP_MAGICS = (ZIP_MAGIC, b"PK\x05\x06", b"PK\x07\x08")
MAX_UNZIPPED = 1 << 30  # bytes; 3,000 answered videos (MSR-VTT's test split) are well under 1 MB


def _zip_member(path: Path, data: bytes) -> tuple[str, bytes]:
    """('ZIP (MEMBER)', its bytes) for a zip holding a single .json file, as `s2vt export --format coco|msrvtt`
    writes one; any other zip is refused in one line (lic2022's result.txt holds tags, no captions)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = [i.filename for i in z.infolist() if not i.is_dir()]
            if torch_saved(names):  # (torch.save's zip: a checkpoint, not answers; trial 88)
                raise ResultsError(f"{path}: a PyTorch checkpoint (a model), not a results file: s2vt evaluate "
                                   f"--checkpoint {shell_quote(os.fspath(path))} ... writes its predictions")
            if len(names) != 1 or not names[0].lower().endswith(".json"):
                held = ", ".join(names[:3]) + (f", ... ({len(names)})" if len(names) > 3 else "") or "nothing"
                raise ResultsError(f"{path}: a zip holding {held}; expected a zip holding one .json results "
                                   "file, as `s2vt export --format coco|msrvtt` writes")
            if (size := z.getinfo(names[0]).file_size) > MAX_UNZIPPED:  # (read whole: a few KB can unzip to GBs)
                raise ResultsError(f"{path}: {names[0]} unzips to {size:,} bytes, more than a results file holds")
            return f"{path} ({names[0]})", z.read(names[0])
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, EOFError, OSError) as e:
        # (NotImplementedError: a compression method this Python lacks; RuntimeError: an encrypted member;
        # the rest: a damaged or cut zip)
        raise ResultsError(f"{path}: not a readable zip ({e})") from None


def _message_line(data: bytes) -> str | None:
    """What to say where `data` begins with a command's message line (`note: `, `warning: `, `error: `): stderr
    saved with the output (`caption.py ... --json > a.jsonl 2>&1`: "Expecting value at line 1 column 1" said
    less; trial 125), else None."""
    if not data.startswith((b"note: ", b"warning: ", b"error: ")):
        return None
    return (f"a message line ({_first_line(data)}), which commands write to stderr: save their standard output alone "
            "(`> FILE`, not `&>` or `2>&1`)")


def _caption_text_line(data: bytes) -> str | None:
    """What to say where `data` begins with caption.py's text output (`VIDEO: caption`, a video file's name before
    the colon): --json left out ("Expecting value at line 1 column 1" said less; trial 129), else None."""
    name, colon, _ = _first_line(data, 1 << 12).partition(": ")
    if not colon or os.path.splitext(name)[1].lower() not in VIDEO_EXTENSIONS:
        return None
    return f"caption.py's text output ({_first_line(data)}): save what caption.py VIDEOS --json prints"


def _first_line(data: bytes, most: int = 60) -> str:
    """The first line of `data` as a message quotes it: a BOM dropped, cut at `most` characters ("..."),
    escaped (`printable`)."""
    first = data.removeprefix(codecs.BOM_UTF8).split(b"\n", 1)[0].decode("utf-8", "replace")
    return printable(first if len(first) <= most else first[:most] + "...")


def _caption_lines_note(data: bytes, error: ValueError) -> str:
    """What to say when a file that is not one JSON document is `caption.py --json`'s output (JSON lines
    naming each video by its path): answers to score or export are evaluate's, by video id."""
    if not (isinstance(error, json.JSONDecodeError) and error.msg == "Extra data"):
        return ""
    return CAPTION_LINES_NOTE if _starts_with_caption_line(data) else ""


def _starts_with_caption_line(data: bytes) -> bool:
    """Whether the first JSON value of `data` (a line of JSON lines, or the first object `jq .` pretty-printed) is
    one of caption.py --json's."""
    try:
        text = data.decode("utf-8-sig")
        return _is_caption_line(json.JSONDecoder().raw_decode(text, _JSON_SPACE.match(text).end())[0])
    except ValueError:  # (UnicodeDecodeError and JSONDecodeError too)
        return False


_JSON_SPACE = re.compile(r"[ \t\n\r]*")


def _json_values(data: bytes, path: str | Path):
    """(line, value) of each JSON value of a stream of them: JSON lines, or `jq .`'s objects over many lines each
    (`line`: where the value starts). One that does not parse is a ResultsError naming where."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ResultsError(f"{path}: not valid JSON ({json_error(e)})") from None
    # (the hook every file's objects pass: a key given twice, a lone surrogate refused as parse_json refuses them)
    decoder, at, line = json.JSONDecoder(object_pairs_hook=unique_keys), _JSON_SPACE.match(text).end(), 1
    line += text.count("\n", 0, at)
    while at < len(text):
        try:
            value, end = decoder.raw_decode(text, at)
        except LoneSurrogateError as e:
            raise ResultsError(f"{path}: line {line}: {e}") from None
        except ObjectError as e:  # (the hook's: no position of its own; the value's line)
            raise ResultsError(f"{path}: line {line}: not valid JSON ({json_error(e, line=False)})") from None
        except json.JSONDecodeError as e:
            if said := _message_line(text[at:at + 200].encode()):  # (caption.py's stderr saved into it, 2>&1)
                raise ResultsError(f"{path}: line {line}: not JSON: {said}") from None
            raise ResultsError(f"{path}: not valid JSON ({json_error(e)})") from None
        except ValueError as e:  # (an integer of over 4,300 digits)
            raise ResultsError(f"{path}: line {line}: not usable JSON ({e})") from None
        except RecursionError:
            raise ResultsError(f"{path}: line {line}: not usable JSON (nested too deeply)") from None
        yield line, value
        following = _JSON_SPACE.match(text, end).end()
        if following == end and following < len(text):  # (`{...}x`: what follows a value must be space or a value)
            raise ResultsError(f"{path}: line {line + text.count(chr(10), at, end)}: not valid JSON (more after the "
                               "value on its line)")
        line += text.count("\n", at, following)
        at = following


CAPTION_LINES_NOTE = ("; it reads like caption.py --json's lines, which name videos by path, not by id: export "
                      "takes `s2vt evaluate --out` predictions (or a JSON {id: caption}); `s2vt score MANIFEST` "
                      "takes the lines, matching their videos to the manifest's files")


def _file_key(path: str) -> tuple | str | None:
    """What tells the file `path` names (from the working folder): its device and inode where it is there (a
    hard link, a name in another case on a case-insensitive disk, the same folder mounted twice: one file), else
    the path with links and '..' resolved; None for a path no file can have (a NUL byte: ValueError)."""
    try:
        st = os.stat(path)
        return st.st_dev, st.st_ino
    except (ValueError, OSError):
        pass
    try:
        return os.path.realpath(path)
    except (ValueError, OSError):
        return None


def caption_line_predictions(lines: CaptionLines, path: str | Path, refs: str | Path, allow_partial: bool = False,
                             wanted: set | frozenset = frozenset()) -> dict[str, dict]:
    """`load_predictions`'s {id: {"caption", "tags"}} of caption.py --json's lines (`lines`, as load_predictions
    refused them), each video given the id of the manifest `refs`'s video in the same file (every id naming that
    file: the same video). The lines name their videos by the paths caption.py was given: resolved from the
    working folder, as caption.py resolved them, else from the answers file's folder. A failed video's line is
    counted in a warning (it has no prediction); the same file captioned twice alike is one answer (tags aside:
    score reads captions), otherwise refused; a video not found, or whose file the manifest does not list, is
    refused, or with `allow_partial` left out and counted.
    `wanted`: the ids scored (a --split's); a file some of them name answers those alone."""
    if not is_manifest(refs):  # (ids only a manifest's paths can give)
        raise ResultsError(f"{path}: caption.py --json's lines name videos by path, not by id: score matches them to "
                           f"a manifest's video files, and {refs} is no manifest: pass the manifest of these videos "
                           "(or, as the predictions, `s2vt evaluate --out` predictions or a JSON {id: caption})")
    try:
        entries = read_manifest(refs)
    except ManifestError as e:
        raise ResultsError(str(e)) from None
    by_file: dict[tuple | str, list[str]] = collections.defaultdict(list)
    # (the manifest's own files not there, moved since the import: its videos read as unlisted ones; trial 131)
    moved: list[str] = []
    for e in entries:  # (a captions-only row too: its answer is said as one without references, not as no file)
        if e.get("abspath") and (real := _file_key(e["abspath"])) is not None:
            by_file[real].append(e["video_id"])
            if not isinstance(real, tuple):  # (no device and inode: not there)
                moved.append(e["abspath"])
    if not by_file:  # (MLDS's, YouTube-8M's: imported features, no video to caption)
        raise ResultsError(f"{path}: caption.py --json's lines name videos by path, and {refs} names no video file "
                           "(a manifest of imported features): score them against references by id")
    preds: dict[str, dict] = {}
    line_of: dict[str, int] = {}
    failed, first = [], None
    unknown: dict = {}  # file key -> (the path its first line gave, whether the file is there): a video once
    place = (lambda n: f"item {n - 1}") if lines.items else (lambda n: f"line {n}")  # noqa: E731
    for n, obj in _json_values(lines.data, path):
        first = first or n
        where = f"{path}: {place(n)}"
        if not _is_caption_line(obj):
            raise ResultsError(f"{where}: not one of caption.py --json's lines ({{\"video\", \"caption\", "
                               "\"tags\", ...})" + (f", unlike {place(first)}" if n > first else ""))
        if not (isinstance(obj["video"], str) and obj["video"]):
            raise ResultsError(f"{where}: \"video\" must be the video's path, not {json.dumps(obj['video'])}")
        real = _file_key(obj["video"])
        if real not in by_file and not os.path.isabs(obj["video"]):  # (score run elsewhere than caption.py: the
            # answers saved where it ran, `> answers.jsonl`, name their videos from their own folder; trial 127)
            real = _file_key(os.path.join(os.path.dirname(os.path.abspath(path)), obj["video"]))
        ids = [i for i in by_file.get(real, []) if i in wanted] or by_file.get(real, [])
        if "error" in obj:
            failed.append((ids, obj["video"]))
            continue
        if not ids:  # (with whether its file is there: one the manifest does not list has no references)
            unknown.setdefault(real if real is not None else obj["video"], (obj["video"], isinstance(real, tuple)))
            continue
        caption = obj.get("caption")
        if caption is None:  # (a missing key is no more an answer than null is; as load_predictions says it)
            raise ResultsError(f"{where}: {printable(obj['video'])} has no caption (\"caption\" is missing or null)")
        if not isinstance(caption, str):
            raise ResultsError(f"{where}: caption must be a string, not {type(caption).__name__}")
        tags = obj.get("tags", [])
        if not isinstance(tags, list):
            raise ResultsError(f"{where}: tags must be a list")
        answer = {"caption": caption, "tags": [tag_item(t, f"{where}: ") for t in tags]}
        for vid in ids:
            if vid in preds:  # (alike, the same file given twice: one answer; two runs' lines, a guess)
                if preds[vid]["caption"] != caption:
                    raise ResultsError(f"{where}: video {vid} ({printable(obj['video'])}) is captioned otherwise on "
                                       f"{place(line_of[vid])}: keep one of the two"
                                       + (" items" if lines.items else " lines"))
                continue
            preds[vid], line_of[vid] = answer, n
    # (a video the manifest has no row for was said as one "of none of its files", with advice on the folder score
    # runs in, where the file was found and has no references: said apart; trial 130)
    gone = [video for video, there in unknown.values() if not there]
    unlisted = [video for video, there in unknown.values() if there]
    if unknown and (not allow_partial or not preds):
        partial = "" if allow_partial or not preds or moved else "; --allow-partial scores the others"
        also = f" ({counted(len(unlisted), 'other')} that {refs} does not list)" if gone and unlisted else ""
        if gone:
            raise ResultsError(f"{path}: {counted(len(gone), 'video')} not found (first: {printable(gone[0])}){also}: "
                               "caption.py --json names each video by the path it was given, resolved here from the "
                               "folder score runs in, then from the answers' own folder (run score where caption.py "
                               f"ran){partial}")
        raise ResultsError(f"{path}: {counted(len(unlisted), 'video')} whose file {refs} does not list, so without "
                           f"references (first: {printable(unlisted[0])})"
                           + (f"; the files of {counted(len(moved), 'row')} of {refs} are not there (first: "
                              f"{printable(moved[0])}): moved since it was made? import them again"
                              if moved else partial))
    for videos, what in ((gone, "not found"), (unlisted, f"that {refs} does not list")):
        if videos:  # (one line: a name's newline or escape sequence escaped, as the error lines are)
            print(one_line(f"warning: {path}: left out {counted(len(videos), 'video')} {what} (--allow-partial; "
                           f"first: {printable(videos[0])})"), file=sys.stderr)
    # (caption.py's failures: their videos have no prediction, as match_ids will say; a video also captioned on
    # another line (two runs' lines) has one, and a file that failed twice is one video; trial 126)
    failed = list(dict.fromkeys(ids[0] if ids else video for ids, video in failed
                                if not any(i in preds for i in ids)))
    if failed:
        print(one_line(f"warning: {path}: {counted(len(failed), 'video')} caption.py could not caption (a line with "
                       "an \"error\"): no prediction for " + (f"them (first: {printable(failed[0])})"
                                                              if len(failed) > 1 else printable(failed[0]))),
              file=sys.stderr)
    if not preds:
        raise ResultsError(f"{path}: no captioned video (caption.py could not caption any of the "
                           f"{counted(len(failed), 'video')} its lines name)")
    return preds


# What caption.py --json (and serve) put beside "video": {"video", "caption", "tags", "seconds", "notes"}, or
# {"video", "error", "notes"} for a file that failed.
_CAPTION_LINE_KEYS = {"caption", "tags", "seconds", "error"}


def _is_caption_line(obj) -> bool:
    """Whether `obj` is one of caption.py --json's lines: an object naming its video by path ("video"
    and no "video_id"), beside a caption or an error. Such a line alone (one video captioned) is valid
    JSON, so it would read as {id: caption} with ids "video", "caption", ... (a failed video's line
    was exported so, as two fake videos)."""
    return (isinstance(obj, dict) and "video" in obj and "video_id" not in obj
            and bool(_CAPTION_LINE_KEYS & obj.keys()))


# The keys of one prediction, as a list's items (and evaluate's) hold them.
_PREDICTION_ID_KEYS = {"video_id", "image_id", "id"}
_PREDICTION_KEYS = _PREDICTION_ID_KEYS | {"caption", "tags"}


def _is_one_prediction(obj) -> bool:
    """Whether `obj` is a single prediction, {"video_id": id, "caption": ...}, not an {id: caption} map:
    it names an id and an answer by their field names, and those fields are most of its keys. Such an
    object is valid JSON that would read as {id: caption} with ids "video_id" and "caption" (export
    wrote it as two videos; hostile trial). A map whose ids merely include "caption" among others is a map."""
    return (isinstance(obj, dict) and bool(_PREDICTION_ID_KEYS & obj.keys())
            and bool({"caption", "tags"} & obj.keys()) and 2 * len(_PREDICTION_KEYS & obj.keys()) >= len(obj))


def refuse_inputs(outputs: list, inputs: list, folders: list = ()) -> None:
    """OutputError for an output that is one of the command's input files (by any path or link:
    same file) or lies inside one of its input `folders` (a feature store): outputs never
    replace inputs."""
    for out in map(Path, outputs):
        if out.exists() and any(i and Path(i).exists() and os.path.samefile(out, i) for i in inputs):
            raise OutputError(f"cannot write {out}: it is an input of this command")
        # (the output's own link followed too: a run's best.pt linked to the store's meta.json was written through,
        # the store's meta.json lost; trial 78)
        where = out.resolve()
        for folder in folders:
            if where.is_relative_to(Path(folder).resolve()):
                raise OutputError(f"cannot write {out}: it is inside {folder}, an input of this command")


def tag_item(tag, where: str) -> dict:
    """A predicted tag as {"tag", "p"?}: objects as `evaluate` writes them, or plain tag names."""
    if isinstance(tag, str):
        return {"tag": tag}
    p = tag.get("p", 0) if isinstance(tag, dict) else None
    if not (isinstance(tag, dict) and isinstance(tag.get("tag"), str)
            and isinstance(p, (int, float)) and not isinstance(p, bool)):
        raise ResultsError(f"{where}each tag must be a name or {{\"tag\": name, \"p\": number}}, not {tag!r}")
    try:  # (Python's json reads NaN and Infinity: a NaN sorts anywhere, ranking nothing)
        shown = p if math.isfinite(p) else None
    except OverflowError:  # (an integer of 400 digits: no float holds it, and the line would not either)
        shown = "an integer too large for a float"
    if shown is None or isinstance(shown, str):
        raise ResultsError(f"{where}tag {tag['tag']!r} has probability {shown or p}: p must be a finite number")
    if not 0 <= p <= 1:  # (a score, a logit: exported as given, unsaid; trial 95)
        raise ResultsError(f"{where}tag {tag['tag']!r} has probability {p}: p must be from 0 to 1")
    return {**tag, "p": 0.0} if p == 0 else tag  # (-0.0 is 0: written as '-0' it was; trial 96)


def metrics_file(preds: Path, split: str) -> Path:
    """Where evaluate writes the metrics of the predictions file `preds`: beside it, `metrics_<split>.json`
    for the default name `preds_<split>.json`, else named after it (`greedy.json` -> `greedy.metrics.json`),
    so predictions written under another name never rewrite the metrics of the run beside them."""
    if preds.name == f"preds_{split}.json":
        return preds.with_name(f"metrics_{split}.json")
    return preds.with_name(f"{preds.stem}.metrics.json")


def predictions_of(metrics: Path) -> Path | None:
    """The predictions file whose metrics `metrics_file` names `metrics` (its inverse); None for another name."""
    if kept := re.fullmatch(r"metrics_(train|val|test)\.json", metrics.name):
        return metrics.with_name(f"preds_{kept[1]}.json")
    if metrics.name.endswith(".metrics.json"):
        return metrics.with_name(metrics.name.removesuffix(".metrics.json") + ".json")
    return None


# names kept for a run's other files (an output under one would be read as metrics, or replaced without
# --force by the default run of another split)
KEPT_METRICS = re.compile(r"metrics_.*\.json|.*\.metrics\.json")
KEPT_PREDS = re.compile(r"preds_(train|val|test)\.json")


def is_evaluate_metrics(data: object) -> bool:
    """Whether parsed JSON is evaluate's metrics file (its "split", "videos" and "seconds")."""
    return isinstance(data, dict) and data.get("split") in SPLITS and type(data.get("videos")) is int \
        and "seconds" in data


def metrics_not_predictions(path: str | Path, data: object) -> str | None:
    """The line for evaluate's metrics file (its "split", "videos" and "seconds") given as predictions, naming the
    predictions file beside it (`predictions_of`) when it is there; None for any other data. Read as
    {id: caption}, it was refused as "'videos' ({id: caption} form): caption must be a string, not int"
    (hostile trial)."""
    if not is_evaluate_metrics(data):
        return None
    preds = predictions_of(Path(path))
    return f"{path}: evaluate's metrics, not its predictions: pass " + (
        str(preds) if preds is not None and preds.is_file()
        else "its predictions file (evaluate's --out; preds_<split>.json by default)")


PREDICTIONS_EXPECTED = "a JSON list [{\"video_id\", \"caption\"}, ...] or an object {id: caption}"


def load_predictions(path: str | Path, captions: bool = True, expected: str = PREDICTIONS_EXPECTED
                     ) -> dict[str, dict]:
    """{id: {"caption": str, "tags": [{"tag", "p"}], "top_tags"?: [...]}} from `{id: caption}` or a list of
    `{"image_id"|"video_id": id, "caption": ..., "tags": [...]}` (as `s2vt evaluate` writes;
    tags may also be plain names), that list also inside MSR-VTT's results envelope (what `s2vt
    export --format msrvtt` writes). `captions`: the caller uses them, so an entry without one
    (no "caption" key, or null) is refused, naming it; else such a caption reads as "". `expected`: what a
    refusal of the file says the command takes (score: caption.py's lines too)."""
    data = _load_json(path, expected, answers=True)
    if (why := metrics_not_predictions(path, data)) is not None:
        raise ResultsError(why)
    out: dict[str, dict] = {}
    if (inner := msrvtt_items(data)) is not None:
        data = inner  # (its items name their place as a list's do)
    if _is_caption_line(data):  # (a single video's caption.py --json line; ids "video", "error" would be a guess)
        raise CaptionLines(f"{path}: one object with a \"video\" key, not {{id: caption}}" + CAPTION_LINES_NOTE,
                           json.dumps(data).encode())
    if isinstance(data, list) and data and _is_caption_line(data[0]):  # (`jq -s . answers.jsonl`)
        if (other := next((n for n, item in enumerate(data) if not _is_caption_line(item)), None)) is not None:
            raise ResultsError(f"{path}: item {other}: not one of caption.py --json's lines ({{\"video\", "
                               f"\"caption\", \"tags\", ...}}), unlike item 0")
        raise CaptionLines(f"{path}: a list of caption.py --json's lines" + CAPTION_LINES_NOTE,
                           b"\n".join(json.dumps(item).encode() for item in data), items=True)
    if _is_one_prediction(data):
        raise ResultsError(f"{path}: one prediction ({', '.join(sorted(data))}), not a list of them or an "
                           "{id: caption} map; write [{\"video_id\": id, \"caption\": ...}] or {id: caption}")
    if isinstance(data, dict):
        items = [{"video_id": k, "caption": v} for k, v in data.items()]
    elif isinstance(data, list):
        items = data
    else:
        raise ResultsError(f"{path}: expected {{id: caption}} or a list of objects")
    if not items:  # (score and export alike: an empty answer file is never what was meant to be handed in)
        raise ResultsError(f"{path}: no predictions (an empty {'object' if isinstance(data, dict) else 'list'})")
    first: dict[str, int] = {}
    for n, item in enumerate(items):
        where = f"{path}: item {n}" if isinstance(data, list) else f"{path}: {item['video_id']!r} ({{id: caption}} form)"
        if not isinstance(item, dict):
            raise ResultsError(f"{where} is not an object")
        vid = item.get("video_id", item.get("image_id"))
        # (COCO's image_id is a number; true was written "True"; trial 78)
        vid = str(vid) if isinstance(vid, int) and not isinstance(vid, bool) else vid
        if not valid_video_id(vid):  # (caption.py's lines gathered into a list: said as for its lines)
            note = CAPTION_LINES_NOTE if vid is None and _is_caption_line(item) else ""
            raise ResultsError(f"{where}: invalid id {vid!r} ({video_id_problem(vid)})" + note)
        if vid in first:  # which answer counts would be a guess
            raise ResultsError(f"{where}: video {vid} is predicted twice (also item {first[vid]})")
        first[vid] = n
        caption = item.get("caption")
        if caption is None and captions:  # (a missing key is no more an answer than null is)
            raise ResultsError(f"{where}: video {vid} has no caption (\"caption\" is missing or null)")
        caption = "" if caption is None else caption
        if not isinstance(caption, str):
            raise ResultsError(f"{where}: caption must be a string, not {type(caption).__name__}")
        tags = item.get("tags", [])
        if not isinstance(tags, list):
            raise ResultsError(f"{where}: tags must be a list")
        out[vid] = {"caption": caption, "tags": [tag_item(t, f"{where}: video {vid}: ") for t in tags]}
        # (evaluate's unrounded top 20 of a multi-label model: the confidences a YouTube-8M submission ranks by)
        top = item.get("top_tags")
        if top is not None:
            if not isinstance(top, list):
                raise ResultsError(f"{where}: top_tags must be a list")
            out[vid]["top_tags"] = [tag_item(t, f"{where}: video {vid}: ") for t in top]
    return out


def check_captions(preds: dict[str, dict], path: str | Path, what: str) -> str | None:
    """Refuse predictions whose captions are all empty (a tag-only model's: scoring or exporting them
    would hand in blanks as answers); when only some are empty, the warning line to print, else None."""
    empty = [v for v, p in preds.items() if is_blank(p["caption"])]  # (the references' rule: "..." is no answer)
    if preds and len(empty) == len(preds):
        raise ResultsError(f"{path}: these predictions have no captions (all {len(preds)} are empty), e.g. from a "
                           f"tag-only model: nothing to {what}")
    return (f"warning: {len(empty)} of {len(preds)} predicted captions are empty (first: {empty[0]}); "
            f"they {'score' if what == 'score' else 'are exported'} as empty answers") if empty else None


def load_references(path: str | Path, split: str | None = None, splits: list | None = None) -> dict[str, list[str]]:
    """{id: [captions]} from a manifest (`manifest.is_manifest`: .jsonl, or JSON lines of records with a
    video_id whatever the name; only `split`'s videos when given), a JSON object of that shape, or a
    release's reference file (`official_references`). Blank captions are left out
    (`vocab.drop_blank_captions`, as training does: a warning line counts them), and so are ids left
    without a caption: they have nothing to score against.
    A file with no reference caption at all is refused. `splits`, when given, gets the entries of every split
    ({"video_id", "captions", "split"}) where the references have splits (for `partial_advice`: the file is read
    once)."""
    path = os.fspath(path)  # (as given: Path('./-') would be '-', standard input's name)
    if not dash_refusal(path):  # (before is_manifest, which reads no pipe: said alike with --split or without)
        refuse_not_a_file(path)
    every = None  # the entries of every split, where the references have splits
    if is_manifest(path):
        try:
            # (a video of captions alone is never captioned: evaluate leaves it out, so does its score)
            every = [{"video_id": e["video_id"], "captions": e.get("captions", []), "split": split_of(e),
                      "tagged": bool(e.get("tags")), "unsplit": "split" not in e}
                     for e in read_manifest(path) if not e.get("captions_only")]
        except ManifestError as e:
            if (start := json_start(path)) and _is_caption_line(start[1]):  # (the two files swapped: "missing field
                # 'video_id'" said less)
                raise ResultsError(f"{path}: caption.py --json's lines, given as the references: score takes REFS "
                                   "(the manifest) first, then PREDS") from None
            raise ResultsError(str(e)) from None
        entries = [e for e in every if split is None or e["split"] == split]
    elif is_msvd_corpus(path):  # (MSVD's own reference file, read as `s2vt import msvd` reads it; hostile trial)
        if split is not None:
            raise ResultsError(f"{path}: MSVD's video_corpus.csv has no splits (`s2vt import msvd` draws them): pass "
                               "the manifest that import wrote, with --split, or leave out --split")
        from .datasets import import_msvd
        entries = [{"video_id": e["video_id"], "captions": e["captions"]} for e in read_quietly(import_msvd, path)]
    else:
        data = _load_json(path, "a JSON object {id: [captions]} (or a manifest: JSON lines of video_id records)")
        if (official := official_references(path, data)) is not None:  # (a release's own file)
            if not any("split" in e for e in official):
                if split is not None:
                    raise ResultsError(f"{path}: an MLDS label list has no splits: leave out --split")
                entries = official
            else:
                every = official
                entries = [e for e in every if split is None or e["split"] == split]
        elif split is not None:
            raise ResultsError(f"{path}: --split needs a manifest (JSON lines of video_id records) or an MSR-VTT "
                               "videodatainfo file as the references")
        elif is_evaluate_metrics(data):  # (said only "expected {id: [captions]} or a manifest"; hostile trial)
            raise ResultsError(f"{path}: evaluate's metrics, not references: pass the manifest evaluate read (its "
                               f"--manifest) in their place, with --split {data['split']}")
        else:
            if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
                # (the two files swapped: said as such, not only "expected {id: [captions]}"; hostile trial)
                swapped = ((isinstance(data, dict) and data and all(isinstance(v, str) for v in data.values()))
                           or (isinstance(data, list) and data and all(
                               isinstance(d, dict) and "caption" in d and ("video_id" in d or "image_id" in d)
                               for d in data)))
                raise ResultsError(f"{path}: " + ("a predictions file (one caption a video), given as the references: "
                                                  "score takes REFS first, then PREDS" if swapped else
                                                  "expected {id: [captions]}, a manifest (JSON lines of video_id "
                                                  "records), an MLDS label list or an MSR-VTT videodatainfo file"))
            for k, v in data.items():  # (as the manifest reader says it)
                if not all(isinstance(c, str) for c in v):
                    raise ResultsError(f"{path}: {k!r}: 'captions' must be a list of strings")
            entries = [{"video_id": str(k), "captions": list(v)} for k, v in data.items()]
    if splits is not None and every is not None:
        splits.extend(every)
    had = [e["video_id"] for e in entries if e["captions"]]
    blank = drop_blank_captions(entries)
    refs = {e["video_id"]: e["captions"] for e in entries if e["captions"]}
    emptied = [v for v in had if v not in refs]  # (said: else their predictions read as of unknown ids)
    if not refs:  # (else match_ids would blame the ids and advise --split)
        only = f" (only {blank} blank {'ones' if blank > 1 else 'one'})" if blank else ""
        # (the splits that do have references: `--split test` of a file of val alone named none; hostile trial)
        have = collections.Counter(e.get("split") for e in every or [] if any(not is_blank(c) for c in e["captions"]))
        others = "; its references are in " + ", ".join(f"split {s} ({n} video{'s' * (n > 1)})"
                                                        for s, n in sorted(have.items())) if have else ""
        # (a manifest of tags alone, LIC2022's or YouTube-8M's: their scores are evaluate's, never said; trial 83)
        tags = ("; its videos' tags are scored by s2vt evaluate (hit@1, GAP@20, F1; LIC2022's scores), from the "
                "model's checkpoint" if not have and any(e.get("tagged") for e in every or []) else "")
        # (a hand-made manifest without splits, scored --split test: its rows' split was nowhere said; trial 127)
        unsplit = "; a row without a \"split\" is in train" if split and any(e.get("unsplit") for e in every or []) \
            else ""
        raise ResultsError(f"{path}: no reference captions" + (f" in split {split!r}" if split else "")
                           + f"{only}: nothing to score captions against{others}{unsplit}{tags}")
    if blank:
        print(f"warning: {path}: ignoring {blank} blank reference caption{'s' if blank > 1 else ''}"
              + (f"; videos left without a reference, their captions all blank: {len(emptied)} (first: "
                 f"{', '.join(emptied[:3])})" if emptied else ""), file=sys.stderr)
    return refs


def is_msvd_corpus(path: str) -> bool:
    """Whether `path` starts as MSVD's video_corpus.csv does: a header line naming VideoID, Start, End and
    Description (its first bytes only are read; a file that cannot be read is not one: said where it is read)."""
    try:
        with open(path, "rb") as f:
            head = f.read(4096).removeprefix(b"\xef\xbb\xbf").split(b"\n", 1)[0]
    except OSError:
        return False
    return {b"VideoID", b"Start", b"End", b"Description"} <= {c.strip() for c in head.split(b",")}


def official_references(path: str, data) -> list[dict] | None:
    """A release's reference file as its importer reads it (ids as `s2vt import` makes them, so evaluate's
    predictions match; its warnings, of tags and categories, are not score's and go unsaid): an MLDS label list
    ([{"id": "<clip>.avi", "caption": [...]}]) or an MSR-VTT videodatainfo file (each entry with its "split");
    None for anything else. `data`: the file's parsed JSON."""
    from .datasets import import_msrvtt, read_captions
    mlds = isinstance(data, list) and bool(data) and all(isinstance(d, dict) and {"id", "caption"} <= d.keys()
                                                         for d in data)
    msrvtt = isinstance(data, dict) and {"videos", "sentences"} <= data.keys()
    if not (mlds or msrvtt):
        return None
    with open(path, "rb") as f:  # (its first bytes only: the importers below read the file itself, as plain JSON)
        zipped = f.read(4) in ZIP_MAGICS
    if zipped:
        raise ResultsError(f"{path}: a zip holding {'an MLDS label list' if mlds else 'an MSR-VTT videodatainfo file'}"
                           ": unzip it and pass the .json")
    if mlds:
        return [{"video_id": k, "captions": v} for k, v in read_quietly(read_captions, path).items()]
    odd: list[str] = []
    entries = [{"video_id": e["video_id"], "captions": e.get("captions", []), "split": e.get("split")}
               for e in read_quietly(import_msrvtt, [path], None, odd)]
    if odd:  # (unsaid, their predictions were said to have "no references"; trial 64)
        print(f"note: {path}: {counted(len(odd), 'video')} of a split that is not train, validate (val) or test "
              f"{'is' if len(odd) == 1 else 'are'} not among the references (first: {', '.join(odd[:3])})",
              file=sys.stderr)
    return entries


def read_quietly(importer, *args):
    """`importer(*args)` reading a release's reference file as `s2vt import` does, its warnings (of tags,
    categories, languages) unsaid, not being score's; its refusal (DatasetError) a ResultsError."""
    import contextlib

    from .datasets import DatasetError
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            return importer(*args)
    except DatasetError as e:
        raise ResultsError(str(e)) from None


def partial_advice(refs_path: str | Path, entries: list[dict], split: str | None, preds: dict) -> str:
    """What to pass when the ids of references and predictions differ: the split(s) (of a manifest or a
    videodatainfo file: `entries`, every split's, as `load_references` gives them; none for references without
    splits) the predicted ids are in (when that is not `split`, the one given), else --allow-partial alone."""
    if not entries:  # (--split needs a manifest or a videodatainfo file)
        return "pass --allow-partial to score the overlap"
    counts: dict[str, int] = {}
    splits = set()
    for e in entries:
        if any(not is_blank(c) for c in e.get("captions", [])):
            splits.add(split_of(e))
            if e["video_id"] in preds:
                counts[split_of(e)] = counts.get(split_of(e), 0) + 1
    if len(splits) == 1 and split is None:  # (--split would change nothing)
        return "pass --allow-partial to score the overlap"
    if not counts:  # (no predicted id is in the manifest: no split would help)
        return "none of the predicted ids is in the references"
    covered = sorted(counts, key=lambda s: -counts[s])
    # (a --split none of the predicted ids is in: --allow-partial would score nothing; it was advised, and then
    # said to be predictions of another dataset; trial 108)
    none_in_split = split is not None and split not in counts
    if len(covered) == 1 and covered[0] != split:
        given = f", not {split!r}" if split else ""
        return (f"the predicted ids are in split {covered[0]} of {refs_path}{given}: pass --split {covered[0]}"
                + ("" if none_in_split else ", or --allow-partial to score the overlap"))
    if len(covered) > 1:
        if none_in_split:
            return (f"the predicted ids are in splits {', '.join(covered)} of {refs_path}, not {split!r}: pass "
                    + " or ".join(f"--split {s}" for s in covered) + " (with --allow-partial: its videos only)")
        return (f"the predicted ids span splits {', '.join(covered)} of {refs_path}: pass --allow-partial to score "
                "the overlap" + ("" if split else " (with --split SPLIT: its videos only)"))
    if split:
        return "pass --allow-partial to score the overlap"
    return "pass --split SPLIT (a manifest's split) or --allow-partial to score the overlap"


def extension_hint(named: list[str], others: list[str]) -> str:
    """What to add where ids of `named` are ids of `others` with a video file's extension (`clip.avi` for `clip`:
    references keyed by file name, which `import folder --captions` reads as the clip; score said two lists of ids
    alone, trial 130), else ''."""
    wanted = set(others)
    hits = [i for i in named if (stem := os.path.splitext(i))[1].lower() in VIDEO_EXTENSIONS and stem[0] in wanted]
    return f" ({hits[0]!r} is {os.path.splitext(hits[0])[0]!r} with a file's extension: write the ids alike)" \
        if hits else ""


def match_ids(refs: dict, preds: dict, allow_partial: bool, advice: str | None = None) -> list[str]:
    """Ids scored: all of them when refs and preds agree, else an error (or the overlap if allowed);
    `advice`: what the error suggests (`partial_advice`)."""
    only_p, only_r = sorted(set(preds) - set(refs)), sorted(set(refs) - set(preds))
    if not set(refs) & set(preds) and not (advice and "--split" in advice):
        # (no overlap at all, and no split to try: --allow-partial would score nothing either)
        first = f" (first predicted: {', '.join(only_p[:3])})" if only_p else ""
        if hint := extension_hint(only_r, only_p) or extension_hint(only_p, only_r):
            raise ResultsError(f"no id is both predicted and referenced: {len(preds)} predicted{first}, "
                               f"{len(refs)} referenced{hint}")
        raise ResultsError(f"no id is both predicted and referenced: {len(preds)} predicted{first}, "
                           f"{len(refs)} referenced; are these predictions of another dataset?")
    if (only_p or only_r) and (not allow_partial or not set(refs) & set(preds)):  # (no overlap: nothing to score)
        parts = []
        if only_p:
            parts.append(f"{len(only_p)} predicted id{' has' if len(only_p) == 1 else 's have'} no references "
                         f"({'first: ' * (len(only_p) > 3)}{', '.join(only_p[:3])})")
        if only_r:
            parts.append(f"{len(only_r)} referenced id{' has' if len(only_r) == 1 else 's have'} no prediction "
                         f"({'first: ' * (len(only_r) > 3)}{', '.join(only_r[:3])})")
        raise ResultsError("; ".join(parts) + (extension_hint(only_r, only_p) or extension_hint(only_p, only_r))
                           + "; " + (advice or "pass --split SPLIT (a manifest's split) or --allow-partial to score "
                                     "the overlap"))
    ids = sorted(set(refs) & set(preds))
    if not ids:  # (with --allow-partial, after a split was advised)
        raise ResultsError("no id is both predicted and referenced")
    return ids
