"""Importers from public dataset formats to the manifest (JSON Lines, see docs/design.md), and the
captions files an import of features reads (`read_labels`); the feature files themselves: `s2vt.precomputed`."""
from __future__ import annotations

import codecs
import collections
import csv
import io
import json
import os
import random
import re
import sys
from collections.abc import Collection
from pathlib import Path

from .errors import UserError, counted, listed, one_line, printable
from .fileio import OutputError, not_a_file, refuse_checkpoints, special_file, written_file
from .jsonfile import (DuplicateKeyError, is_json_lines, json_error, json_kind, json_problem, parse_json,
                       surrogate_lines)
from .formats import EMPTY_TAG, MSRVTT_CATEGORIES, CategoryError, lic2022_left_out, lic2022_tags
from .manifest import (MAX_TEXT_CHARS, SPLITS, TEXT_FIELDS, VIDEO_EXTENSIONS, ManifestError, broken_link, check_entry,
                       dataset_import, is_manifest, json_lines, manifest_row, refuse_not_utf8, two_names, no_such_video,
                       read_manifest, sanitize_id, scan_videos, quoted_id, split_of, valid_video_id)
from .store import store_of
from .vocab import is_blank

# a manifest entry's fields an import of features sets itself (a video path is dropped: features, not videos)
ENTRY_KEYS = ("video_id", "split", "captions", "tags", "path", "abspath")
MSVD_SPLIT = (1200, 100, 670)  # the standard train / val / test clip counts
# far above any real caption (the longest in MSVD's and MSR-VTT's validation sets: 295 characters),
# low enough that one runaway caption cannot dominate tokenising or scoring
MAX_CAPTION_CHARS = 1000


class DatasetError(UserError):
    """Annotations that cannot be imported; one line for the user."""


def _find_video(videos: Path | None, vid: str) -> Path | None:
    """The file for `vid` in `videos` (any video extension), or None."""
    if videos is None:
        return None
    for ext in VIDEO_EXTENSIONS:
        p = videos / f"{vid}{ext}"
        if p.is_file():
            return p
    return None


def attach_paths(entries: list[dict], videos: str | Path | None, out: str | Path, default_ext: str,
                 strict: bool = False, annotations: list[str] | None = None) -> list[str]:
    """Set each entry's `path` (relative to the manifest at `out`); returns ids whose video is missing.

    With `videos` (--videos), a video not found there gets the path it would have in that folder
    (with a warning: the files may come later). Without it, videos are looked for beside the
    `annotations` files, and one not found there gets no path at all: a guess under the current
    folder would name files that depend on where the command happened to run."""
    folders = [Path(videos)] if videos else list(dict.fromkeys(Path(a).parent for a in annotations or []))
    base = Path(out).resolve().parent
    missing = []
    for e in entries:
        found = next((p for f in folders if (p := _find_video(f, e["video_id"])) is not None), None)
        if found is None:
            missing.append(e["video_id"])
            if not videos:
                continue
            found = Path(videos) / f"{e['video_id']}{default_ext}"
        e["path"] = os.path.relpath(Path(found).resolve(), base)
    if missing:
        where = printable(str(videos) if videos else " or ".join(str(f) for f in folders))
        msg = f"{len(missing)} of {len(entries)} videos not found under {where} (first: {', '.join(missing[:5])})"
        if not videos and not strict:
            msg += ": they have no path in the manifest; pass --videos FOLDER to name where the files are"
        if strict:
            raise DatasetError(msg)
        print(f"warning: {msg}", file=sys.stderr)
    return missing


def cap_captions(entries: list[dict]) -> int:
    """Cut captions longer than MAX_CAPTION_CHARS and text fields longer than MAX_TEXT_CHARS (the text
    branch reads no more: a 50k-character title was kept whole unsaid), with one warning line for each
    kind giving the count; returns the number cut."""
    capped = collections.Counter()
    where = collections.defaultdict(list)  # (the videos, first ones named: the count alone left them to be found)
    for e in entries:
        long = [i for i, c in enumerate(e["captions"]) if len(c) > MAX_CAPTION_CHARS]
        for i in long:
            e["captions"][i] = e["captions"][i][:MAX_CAPTION_CHARS]
        capped["caption"] += len(long)
        where["caption"] += [e["video_id"]] * bool(long)
        for field, value in (e.get("text") or {}).items():
            # (a key the text branch does not read is the user's own, kept whole as the import says)
            if field in TEXT_FIELDS and isinstance(value, str) and len(value) > MAX_TEXT_CHARS:
                e["text"][field] = value[:MAX_TEXT_CHARS]
                capped[field] += 1
                where[field].append(e["video_id"])
    for kind, n in capped.items():
        if n:
            limit = MAX_CAPTION_CHARS if kind == "caption" else MAX_TEXT_CHARS
            said = {"asr": "ASR text", "ocr": "OCR text"}.get(kind, kind)
            ids = where[kind]
            print(f"warning: {counted(n, said)} longer than {limit} characters {'were' if n != 1 else 'was'} "
                  f"cut to that length ({'video' if len(ids) == 1 else 'videos'} " + ", ".join(ids[:3])
                  + (", ..." if len(ids) > 3 else "") + ")", file=sys.stderr)
    return sum(capped.values())


def proportional_split(ids: list[str], counts: tuple[int, ...], seed: int) -> dict[str, str]:
    """Seeded shuffle, then train/val/test in proportion to `counts`."""
    order = sorted(ids)
    random.Random(seed).shuffle(order)
    total = sum(counts)
    n_train = round(len(order) * counts[0] / total)
    n_val = round(len(order) * counts[1] / total)
    return {v: "train" if i < n_train else "val" if i < n_train + n_val else "test" for i, v in enumerate(order)}


def read_split_lists(files: list[str]) -> dict[str, str]:
    """One file: the official ordered clip list (first 1,200 train, 100 val, rest test).
    Three files: train, val and test id lists. A name with a video extension is its clip (`ls YouTubeClips >
    test.txt` lists `<id>.avi`: refused as naming no clip; trial 127). A clip listed twice is refused: in two
    lists it went to the last one's split unsaid (trial 129)."""
    if len(files) not in (1, 3):
        raise DatasetError("--split-list takes one ordered clip list or three files (train, val, test)")
    lists = []
    for f in files:
        try:
            data = Path(f).read_bytes()  # (a folder, a file not UTF-8: tracebacks; trial 129)
            refuse_not_utf8(f"--split-list {f}", data, DatasetError)
            text = data.decode("utf-8-sig")  # (Notepad's BOM: the first id matched no clip, which went to train)
        except OSError as e:
            raise DatasetError(f"--split-list {f}: cannot read ({e.strerror or type(e).__name__})") from None
        except UnicodeDecodeError as e:
            line = data.count(b"\n", 0, e.start) + 1
            raise DatasetError(f"--split-list {f}:{line}: not valid UTF-8 (byte 0x{data[e.start]:02x})") from None
        lists.append([clip_id(ln.split()[0]) for ln in text.splitlines() if ln.strip()])
    listed_in: dict[str, int] = {}  # clip -> the list it is in
    for i, ids in enumerate(lists):
        for v in ids:
            if (j := listed_in.get(v)) is not None:
                where = f"twice in {files[i]}" if j == i else f"in {files[j]} and in {files[i]}"
                raise DatasetError(f"--split-list: clip {v} is listed {where}: list each clip once")
            listed_in[v] = i
    if len(lists) == 1:
        return {v: "train" if i < MSVD_SPLIT[0] else "val" if i < MSVD_SPLIT[0] + MSVD_SPLIT[1] else "test"
                for i, v in enumerate(lists[0])}
    return {v: s for s, ids in zip(("train", "val", "test"), lists) for v in ids}


class BadRows:
    """Rows of an annotation file an importer skips (or keeps in part), by kind: one `warning:` line
    per kind, with the count and the first example, the rest of the file imported (a batch's
    logged failure, as `import mlds` counts the clips it leaves out)."""

    def __init__(self, path: str | os.PathLike, unit: str = "row", outcome: str = "skipped"):
        self.path, self.unit, self.outcome = path, unit, outcome
        self.kinds: dict[str, list] = {}  # what is wrong with them -> [count, first example]

    def add(self, what: str, first: str) -> None:
        self.kinds.setdefault(what, [0, first])[0] += 1

    def __len__(self) -> int:
        return sum(n for n, _ in self.kinds.values())

    def warn(self, total: int) -> None:
        """The warning lines, `total` being how many rows the file has."""
        for what, (n, first) in self.kinds.items():
            print(f"warning: {self.path}: {n} of {total} {self.unit}{'s' * (total != 1)} {self.outcome}: {what} "
                  f"(first: {first})", file=sys.stderr)


def regular_files(folder: str | os.PathLike, found: list[Path], quiet: bool = False) -> list[Path]:
    """The files an import's scan of `folder` `found`, less those that are no regular file once links are
    followed: a pipe, a socket, a device (reading one waits for a writer for good, or never ends; extract's
    folder scan leaves them out too), said in one warning line unless `quiet`. A folder or a link to nothing
    is kept: its reader names it."""
    def kind(p: Path) -> str | None:
        try:
            what = special_file(os.stat(p).st_mode)
        except OSError:
            return None
        return None if what == "a folder" else what

    odd = [(p, what) for p in found if (what := kind(p))]
    if odd and not quiet:
        n, (first, what) = len(odd), odd[0]
        name = os.path.relpath(first, folder)
        print(f"warning: {folder}: left out {n} file{'s' * (n != 1)} that {'is' if n == 1 else 'are'} not a regular "
              f"file{'s' * (n != 1)} ({'first: ' * (n != 1)}{name}: {what})", file=sys.stderr)
    return [p for p in found if p not in {p for p, _ in odd}]


def csv_records(path: str | os.PathLike) -> tuple[list[str], list[tuple[int, list[str], tuple[str, str] | None]]]:
    """The header and each record of a CSV file as (first line number, fields, problem): `problem`
    is (what, detail) for a record that cannot be trusted, else None: the last record cut short
    (the file ends inside a quoted field, or mid-line with fewer fields than the header), or a
    quote left open whose field swallowed lines that are rows of their own. A quote never closed
    that swallows more than its own line is a DatasetError: the rest of the file would be lost.
    Blank lines are skipped; OSError; DatasetError for bytes that are not UTF-8 (naming their line)."""
    data = Path(path).read_bytes()
    refuse_not_utf8(path, data, DatasetError)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:  # (named by line, as the other readers name one: not by offset in the file)
        start, line = data.rfind(b"\n", 0, e.start) + 1, data.count(b"\n", 0, e.start) + 1
        raise DatasetError(f"{path}:{line}: not valid UTF-8 (byte "
                           f"0x{data[e.start]:02x} at column {e.start - start + 1})") from None
    lines = io.StringIO(text, newline="").readlines()
    reader = csv.reader(lines)
    header, records, start = None, [], 0
    for fields in reader:
        first, start = start + 1, reader.line_num
        if not fields:
            continue
        if header is None:
            header = fields
            continue
        problem = None
        if start == len(lines):  # the last record: a cut file ends inside it
            try:  # (strict: the one way to learn that the file ended inside a quoted field)
                list(csv.reader(lines[first - 1:], strict=True))
            except csv.Error as e:
                if "end of data" in str(e):
                    if start > first:  # (a stray quote, not a cut: every line after it would be one caption)
                        raise DatasetError(f"{path}:{first}: a quote opened on this line is never closed, so the "
                                           f"{start - first} lines after it would be read as one field: close or "
                                           "remove it") from None
                    problem = ("the last line cut short", "the file ends inside a quoted field")
            if problem is None and not lines[-1].endswith(("\n", "\r")) and len(fields) < len(header):
                problem = ("the last line cut short", f"the file ends mid-line: {len(fields)} of {len(header)} fields")
        # a field over several lines that hold whole rows: a quote left open (a real caption has no such lines)
        if problem is None and start > first and any(len(next(csv.reader([line]), [])) >= len(header)
                                                     for line in lines[first:start]):
            problem = ("a quote left open (the rows inside its field are not imported)",
                       f"the field runs over lines {first}-{start}")
        records.append((first, fields, problem))
    return header or [], records


def import_msvd(csv_path: str, language: str = "English", split_lists: list[str] | None = None,
                seed: int = 0) -> list[dict]:
    """MSVD's video_corpus.csv -> entries; id `<VideoID>_<Start>_<End>`; no tags.

    A bad row (not the header's fields, a Start or End that is not a whole number, an unusable
    id, the last line cut short, a quote left open over other rows) is skipped, counted in one
    warning line per kind."""
    caps: dict[str, list[str]] = {}
    blank: list[str] = []  # (the clip of each blank caption, said in one warning)
    languages: set[str] = set()
    bad = BadRows(csv_path)
    try:
        header, records = csv_records(csv_path)
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise DatasetError(f"{csv_path}: cannot read ({e})") from None
    need = {"VideoID", "Start", "End", "Language", "Description"}
    if not need <= set(header):
        raise DatasetError(f"{csv_path}: not a video_corpus.csv (needs columns {', '.join(sorted(need))})")
    for line, fields, problem in records:
        where = f"{csv_path}:{line}"
        if problem:
            bad.add(problem[0], f"{where}: {problem[1]}")
            continue
        if len(fields) != len(header):  # (a row of another shape: which field is which is a guess)
            bad.add(f"not the header's {len(header)} fields", f"{where}: {len(fields)} fields")
            continue
        row = dict(zip(header, fields))
        # Start and End are whole seconds in the corpus, and name the clip file: anything else is no clip
        odd = next((k for k in ("Start", "End") if not re.fullmatch(r"[0-9]+", row[k])), None)
        if odd:
            bad.add("a Start or End that is not a whole number", f"{where}: {odd} {row[odd]!r}")
            continue
        vid = f"{row['VideoID']}_{row['Start']}_{row['End']}"
        if not row["VideoID"] or not valid_video_id(vid):
            bad.add("an unusable clip id", f"{where}: {vid!r}")
            continue
        caps.setdefault(vid, [])
        languages.add(row["Language"])
        if language == "all" or row["Language"] == language:
            if not is_blank(row["Description"]):
                caps[vid].append(row["Description"].strip())
            else:
                blank.append(vid)
    bad.warn(len(records))
    say_blank_captions(csv_path, len(blank), [v for v in dict.fromkeys(blank) if not caps[v]], "left out")
    if records and len(bad) == len(records):
        raise DatasetError(f"{csv_path}: no usable row ({len(bad)} bad rows, counted above): nothing to import")
    caps = {v: c for v, c in caps.items() if c}
    if not caps:  # (an empty manifest would import "successfully" and train on nothing)
        if language == "all":
            raise DatasetError(f"{csv_path}: no caption in the file: nothing to import")
        raise DatasetError(f"{csv_path}: no caption in language {language!r} (languages in the file: "
                           f"{', '.join(sorted(languages)) or 'none'}); nothing to import")
    if not split_lists:
        splits = proportional_split(list(caps), MSVD_SPLIT, seed)
    else:
        splits = read_split_lists(split_lists)
        unlisted = [v for v in caps if v not in splits]
        if len(unlisted) == len(caps):  # ids of another form (a different corpus, file names): all would be train
            raise DatasetError(f"--split-list: none of its {len(splits)} ids is a clip of {csv_path} (a listed id: "
                               f"{next(iter(splits), '(none)')!r}, a clip id: {unlisted[0]!r})")
        if unlisted:
            print(f"warning: {len(unlisted)} of {len(caps)} clips {'is' if len(unlisted) == 1 else 'are'} not in "
                  "--split-list and go" + "es" * (len(unlisted) == 1) + " to train "
                  f"(first: {', '.join(unlisted[:3])})", file=sys.stderr)
    return [{"video_id": v, "split": splits.get(v, "train"), "captions": c, "tags": []} for v, c in caps.items()]


CLASHES_SHOWN = 3  # videos named in the warning on files that disagree


def import_msrvtt(json_paths: list[str], split: str | None = None, odd_splits: list | None = None) -> list[dict]:
    """MSR-VTT videodatainfo JSON files (merged) -> entries; tag = the category name; split: each
    video's own, or `split` for all.

    Each entry a file adds to is checked as the manifest reader checks it (ManifestError naming
    the file and the video: a caption that is not a string, a bad id); a video of a split that is not
    train, validate or test is left out, counted in one warning line per file (and 'id: "split"' added to
    `odd_splits` when given: `s2vt score` says it, the warnings being the import's). The
    videos of every file are read before any caption, so the files' order changes nothing but
    which file a repeated caption is kept from, and whose split and category a video keeps when
    files disagree (the first file's; the videos are counted in one warning line, the first few
    named). A category that is not an id 0-19 on the row a video's tags come from (the video is
    imported without a tag: counted once, in the file that first lists it) and a caption of a video
    no file lists (left out) are counted, one warning line each per file.
    """
    def failed(path, e, raw=b""):  # (raw: the file's bytes, read once: a pipe holds them only once)
        if isinstance(e, OSError):
            return DatasetError(f"{path}: cannot read ({e.strerror or type(e).__name__})")
        if isinstance(e, (UnicodeDecodeError, json.JSONDecodeError, DuplicateKeyError)):
            return DatasetError(f"{path}: {json_problem(raw, e, MSRVTT_EXPECTED)}")
        if isinstance(e, (ValueError, RecursionError)):  # (a 4,300-digit number, absurd nesting)
            return DatasetError(f"{path}: not usable JSON ({e or type(e).__name__})")
        missing = f" (no {e.args[0]!r} key)" if isinstance(e, KeyError) and e.args else ""
        return DatasetError(f"{path}: not an MSR-VTT videodatainfo file{missing}: expected {MSRVTT_EXPECTED}")
    videos: dict[str, dict] = {}
    # video -> its first disagreement (split or category): (what is said of it, whether it is within one file)
    clashes: dict[str, tuple[str, bool]] = {}
    origin: dict[str, str] = {}  # video -> the file whose row gave it its split and category
    files = []
    unsplit: set[str] = set()  # videos left out for a split that is none of the format's (their captions too)
    for path in json_paths:
        odd_category = BadRows(path, "video", "imported without a tag")
        odd_split = BadRows(path, "video", "left out")
        raw = b""
        try:
            raw = Path(path).read_bytes()  # (once: a pipe, `<(...)`, gives them only once)
            data = parse_json(raw)  # (a BOM allowed, a key given twice refused)
            touched = []
            listed = set()  # the file's videos, each once (a video it lists twice is one video)
            for i, v in enumerate(data["videos"]):
                vid = v["video_id"]
                own = {"validate": "val"}.get(v.get("split", "train"), v.get("split", "train"))
                if split is None and own not in SPLITS and vid not in videos:
                    # (left out and counted, the rest imported: it refused the whole file, and `s2vt score --split
                    # test` with it, for one video of a split no one asked for; hostile trial)
                    odd_split.add("a split that is not train, validate (val) or test", f"videos[{i}], {vid}: "
                                  f"{json.dumps(v.get('split'), ensure_ascii=False)}")
                    unsplit.add(vid)
                    listed.add(vid)
                    if odd_splits is not None:
                        odd_splits.append(f"{vid}: {json.dumps(v.get('split'), ensure_ascii=False)}")
                    continue
                cat = v.get("category")
                # (bool is an int to Python, not to the format; no category at all is an unlabelled video)
                known = isinstance(cat, int) and not isinstance(cat, bool) and 0 <= cat < len(MSRVTT_CATEGORIES)
                listed.add(vid)
                # counted only where this row gives the video its tags: a video an earlier row or file
                # gave keeps those (a disagreement is the clash warning's), so it is not imported without one
                if cat is not None and not known and vid not in videos:
                    odd_category.add(f"a category that is not an id 0-{len(MSRVTT_CATEGORIES) - 1}",
                                     f"videos[{i}], {vid}: {cat!r}")
                tags = [MSRVTT_CATEGORIES[cat]] if known else []
                kept = videos.setdefault(vid, {"video_id": vid, "split": split or own, "captions": [], "tags": tags})
                origin.setdefault(vid, path)
                # overlapping files (or two rows of one file) that disagree: the first value stays, but
                # never silently, and said as what it is: a file's own repeat is not a later file's
                within = origin[vid] == path
                for what, theirs, ours in (("split", split or own, kept["split"]),
                                           ("category", (tags or ["none"])[0], (kept["tags"] or ["none"])[0])):
                    if theirs != ours:
                        clashes.setdefault(vid, (f"{vid}: {what} {ours} kept, {theirs} "
                                                 + (f"on a later row of {path}" if within else f"in {path}"), within))
                touched.append(vid)
            sentences = data.get("sentences", [])
        except (OSError, ValueError, RecursionError, KeyError, TypeError) as e:  # (ValueError: bad JSON or UTF-8)
            raise failed(path, e, raw) from None
        odd_category.warn(len(listed))
        odd_split.warn(len(listed))
        files.append((path, sentences, touched))
    dropped = 0
    blanks: dict[str, list[str]] = {}  # file -> the video of each blank caption it gives (left out, as training would)
    for path, sentences, touched in files:
        orphans = BadRows(path, "caption", "left out")
        # a caption an earlier file already gave the video (overlapping files) is not added again;
        # repeats within one file are kept: they are the annotators' own
        earlier = {vid: collections.Counter(v["captions"]) for vid, v in videos.items() if v["captions"]}
        try:
            for i, s in enumerate(sentences):
                if s["video_id"] in unsplit and s["video_id"] not in videos:  # (its video's warning counts it)
                    continue
                if s["video_id"] not in videos:
                    orphans.add("their video_id is not among the videos of any file given",
                                f"sentences[{i}]: {s['video_id']!r}")
                    continue
                if not isinstance(s["caption"], str):  # named as the user wrote it, not as the entry holds it
                    raise ManifestError(f"{path}: sentences[{i}] (video {s['video_id']!r}): "
                                        f"'caption' must be a string, not {json.dumps(s['caption'])}")
                if is_blank(s["caption"]):
                    blanks.setdefault(path, []).append(s["video_id"])
                    continue
                seen = earlier.get(s["video_id"])
                if seen and seen[s["caption"]] > 0:
                    seen[s["caption"]] -= 1
                    dropped += 1
                    continue
                videos[s["video_id"]]["captions"].append(s["caption"])
                touched.append(s["video_id"])
        except (KeyError, TypeError) as e:
            raise failed(path, e) from None
        orphans.warn(len(sentences))
        for vid in dict.fromkeys(touched):
            check_entry(videos[vid], f"{path}: video {vid!r}: ")
    for path, vids in blanks.items():  # (once every file is read: another file may give the video a caption)
        say_blank_captions(path, len(vids), [v for v in dict.fromkeys(vids) if not videos[v]["captions"]],
                           "imported without captions")
    if dropped:
        print(f"warning: {counted(dropped, 'caption')} repeat{'s' * (dropped == 1)} what an earlier file gave the "
              "same video (overlapping files); each is kept once", file=sys.stderr)
    if clashes:
        shown = [text for text, _ in clashes.values()]
        first = "; ".join(shown[:CLASHES_SHOWN]) + ("; ..." if len(clashes) > CLASHES_SHOWN else "")
        many = len(clashes) != 1
        kinds = {within for _, within in clashes.values()}
        where = ("in a later row of the same file; the first row's" if kinds == {True}
                 else "in a later file; the first file's" if kinds == {False}
                 else "in a later row of the same file or in a later file; the first one")
        print(f"warning: {len(clashes)} video{'s' * many} {'have' if many else 'has'} another split or category "
              f"{where} is kept (first: {first})", file=sys.stderr)
    return list(videos.values())


def refuse_json_array(path: str | os.PathLike, data: bytes) -> None:
    """DatasetError when `path` holds one JSON array (`data`, its bytes: the first character, after a BOM
    and blanks, is `[`) where JSON lines are read: each line would otherwise be refused for what it is not."""
    if data.removeprefix(b"\xef\xbb\xbf").lstrip()[:1] == b"[":
        raise DatasetError(f"{path}: not JSON lines (one object per line): it is a JSON array; write one object "
                           f"per line, e.g. jq -c '.[]' {path} > lines.json")


def not_lic2022(path: str | os.PathLike, where: str, obj: dict, data: bytes) -> str:
    """Why a JSON-lines value without '@id' (`obj`, at `where`) is no LIC2022 video: the file as a whole
    (`data`) when it is one JSON document (MSR-VTT's videodatainfo JSON, say), else the line."""
    keys = list(obj)
    what = (f"an object with key{'s' * (len(keys) > 1)} {', '.join(map(str, keys[:6]))}"
            f"{', ...' if len(keys) > 6 else ''}" if keys else "an empty object")
    lines = "not LIC2022 JSON lines (one video's object a line, each with '@id')"
    alone = data.strip().count(b"\n") == 0
    # (a file of one line is JSON lines too, `{"id": 1, ...}` one video's object: said as a line unless it is
    # MSR-VTT's videodatainfo JSON, one document written on one line)
    if not alone or not {"videos", "sentences"} <= obj.keys():
        return f"{where}no '@id' key ({what}): {lines}"
    return f"{path}: one JSON document ({what}), {lines}; it looks like MSR-VTT's videodatainfo JSON: s2vt import msrvtt"


def refuse_pretty_json(path: str | os.PathLike, data: bytes) -> None:
    """DatasetError when `path` holds JSON objects written over several lines each (pretty-printed, `jq .`'s
    output) where JSON lines are read: its first line is not JSON and the file is a run of JSON values. Its
    last line ('}') was warned of as cut short, then line 1 refused as not JSON, with no way on (new-user
    trial 69)."""
    data = data.removeprefix(b"\xef\xbb\xbf")
    text = data.decode("utf-8", "replace")
    # (lines split as bytes: str.splitlines also splits at U+2028, U+0085... inside a string, which json.dumps
    # writes raw with ensure_ascii=False; a title holding one was refused as pretty-printed; trial 83)
    first = next((line for line in data.splitlines() if line.strip()), b"").decode("utf-8", "replace")
    try:
        json.loads(first)
        return
    except (ValueError, RecursionError):
        pass
    decoder, blank, at, values, one = json.JSONDecoder(), re.compile(r"\s*"), 0, 0, None
    try:
        while (at := blank.match(text, at).end()) < len(text):
            one, at = decoder.raw_decode(text, at)
            values += 1
    except (ValueError, RecursionError):
        return  # (not a run of JSON values: the reader names the line)
    if values == 1 and isinstance(one, dict) and "@id" not in one:  # (MSR-VTT's videodatainfo, say: named so)
        raise DatasetError(not_lic2022(path, f"{path}: ", one, b"{}"))
    if values:
        spans = "spans several lines" if values == 1 else f"{values} JSON values span several lines each"
        raise DatasetError(f"{path}: not JSON lines (one object per line): its {'JSON value ' * (values == 1)}{spans} "
                           f"(pretty-printed); write one per line, e.g. jq -c . {path} > lines.json")


def cut_last_line(path: str | os.PathLike, data: bytes) -> bytes:
    """JSON lines' `data` less its last line when the file ends inside it (no newline after it) and it is not
    whole (not UTF-8, not JSON): a file cut short (a copy stopped, a download broken off), said in one warning
    line as msvd says its cut last line; the lines before it import. Any other bad line is the reader's to refuse."""
    start = max(data.rfind(b"\n"), data.rfind(b"\r")) + 1
    last = data[start:]
    if not last.strip():  # (no last line, or the file ends with its newline)
        return data
    first = next(iter(data.splitlines()), b"")
    try:  # (a first line that is no text either: no text file, the reader's one line, not a warning first; trial 88)
        first.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data
    try:
        json.loads(last.decode("utf-8-sig" if start == 0 else "utf-8"))
        return data
    except UnicodeDecodeError:
        why = "not valid UTF-8"
    except (ValueError, RecursionError):
        why = "not valid JSON"
    n = len(data.splitlines())  # (as json_lines numbers them)
    bad = BadRows(path, "line")
    bad.add("the last line cut short", f"{path}:{n}: the file ends mid-line: {why}")
    bad.warn(n)
    return data[:start]


def mlds_labels(data: bytes) -> bool:
    """Whether a file's `data` is a JSON array of MLDS label records ({"caption": [...], "id": ...}:
    training_label.json), given to `import lic2022`: rewritten as JSON lines it would only fail next for lack
    of '@id'."""
    try:
        if data.removeprefix(b"\xef\xbb\xbf").lstrip()[:1] != b"[":
            return False
        records = json.loads(data.decode("utf-8-sig"))
    except (ValueError, RecursionError):  # (left to the reader's own message)
        return False
    return bool(records) and all(isinstance(r, dict) and isinstance(r.get("caption"), list) and "id" in r
                                 for r in records[:10])


def import_lic2022(json_paths: list[str], test: int = 0) -> list[dict]:
    """LIC2022 JSON-lines files -> entries (files with labels -> train, without -> test: the
    challenge's test file, which `s2vt export` writes). DatasetError for `test` > 0 (`--test`, labelled
    videos held out as test) with videos without labels: the two would mix in split test."""
    entries, seen, counts, partials, first_bare, first_labelled = [], {}, {}, [], {}, {}
    for path in json_paths:
        try:  # (read once, every check then reads the bytes: a pipe, /dev/stdin or `<(...)`, gives them once)
            data = Path(path).read_bytes()
        except OSError as e:
            raise DatasetError(f"{path}: cannot read ({e.strerror})") from None
        refuse_not_utf8(path, data, DatasetError)  # (before the last line's check: it read as cut short)
        if mlds_labels(data):
            raise DatasetError(f"{path}: not JSON lines (one object per line): it is a JSON array; it looks like "
                               "MLDS's training_label.json: s2vt import mlds")
        refuse_json_array(path, data)
        refuse_pretty_json(path, data)
        data = cut_last_line(path, data)
        start = len(entries)
        # (labels the manifest cannot hold: said, not dropped unsaid; a video with labels, none of which it can hold,
        # is left out: as a video without labels it would join the challenge's test videos, or refuse --test;
        # trial 56)
        partial = BadRows(path, "video", "imported without some labels")
        labelless = BadRows(path, "video", "left out")
        # its lines whose U+FFFD stands for a lone surrogate, not the record's own, as `json_lines` names them
        cut = {f"{path}:{n}: " for n in surrogate_lines(data)}
        for where, obj in json_lines(path, DatasetError, data, lenient=True):  # (web text: U+FFFD for a lone surrogate)
            if not isinstance(obj, dict):
                raise DatasetError(f"{where}not a JSON object (each line holds one video's object)")
            if "@id" not in obj:
                raise DatasetError(not_lic2022(path, where, obj, data))
            raw = obj.get("@id", "")
            if raw is None or isinstance(raw, (bool, list, dict)):  # (said as JSON says them, not 'None'; trial 96)
                raise DatasetError(f"{where}'@id' must be digits, not {json_kind(raw)}")
            if isinstance(raw, float):  # (1e400 was said as 'inf'; trial 97)
                raise DatasetError(f"{where}'@id' must be digits, not a number with a fraction or exponent")
            vid = str(raw)
            if not (vid.isascii() and vid.isdigit()):
                raise DatasetError(f"{where}'@id' must be digits, not {quoted_id(vid)}")
            if not valid_video_id(vid):  # (ids name files: digits, but too many; said as such, trial 95)
                raise DatasetError(f"{where}'@id' must be at most 128 digits, not {len(vid):,}")
            if vid in seen:  # (naming where it was first: in another of the files, the line alone misled)
                raise DatasetError(f"{where}duplicate @id {vid} (first at {seen[vid]})")
            seen[vid] = where.rstrip(": ")
            try:
                line_cut = where in cut
                tags = lic2022_tags(obj, line_cut)
                left_out = lic2022_left_out(obj, line_cut)
            except CategoryError as e:
                raise DatasetError(f"{where}@id {vid}: {e}") from None
            except (AttributeError, TypeError):
                raise DatasetError(f"{where}@id {vid}: 'category' and 'tag' must be lists of objects "
                                   "with a string '@value'") from None
            perception = obj.get("perception")
            if perception in ("", []):  # (an empty placeholder: no perception, as null)
                perception = None
            if perception is not None and not isinstance(perception, dict):  # (its text was dropped unsaid; trial 83)
                raise DatasetError(f"{where}@id {vid}: 'perception' must be an object (with 'asr' and 'ocr'), not "
                                   f"{json_kind(perception)}")
            perception = perception or {}
            text = {"title": obj.get("title"), "asr": perception.get("asr"), "ocr": perception.get("ocr")}
            bad = [k for k, v in text.items() if v is not None and not isinstance(v, str)]
            if bad:
                raise DatasetError(f"{where}@id {vid}: {bad[0]!r} must be a string")
            # (an empty topic tag on a video without labels drops nothing that meant one: a test record's placeholder)
            unheld = [(kind, this) for kind, this in left_out if kind != EMPTY_TAG]
            for kind, this in dict(reversed(left_out)).items() if tags else []:  # (a kind once a video: its first)
                partial.add(kind, f"{where}@id {vid}: {this}")
            if unheld and not tags:
                labelless.add(f"{unheld[0][0]}, its only label", f"{where}@id {vid}: {unheld[0][1]}")
                continue
            if not tags:
                first_bare.setdefault(path, f"{where}@id {vid}")
            else:
                first_labelled.setdefault(path, f"{where}@id {vid}")
            entries.append({"video_id": vid, "split": "train" if tags else "test", "captions": [], "tags": tags,
                            # (a lone surrogate, valid JSON, not UTF-8, is U+FFFD already: `json_lines(lenient=True)`)
                            "text": {k: v or "" for k, v in text.items()}})
        partials += [(partial, len(entries) - start), (labelless, len(entries) - start + len(labelless))]
        counts[path] = (len(entries) - start, sum(e["split"] == "test" for e in entries[start:]))
    if not entries and (gone := [b for b, _ in partials if len(b) and b.outcome == "left out"]):
        # (every video left out: said in the refusal, not warned and then refused as 'no video found')
        kind, (_, first) = next(iter(gone[0].kinds.items()))
        raise DatasetError(f"{', '.join(map(str, json_paths))}: every video was left out: {kind} (first: {first})")
    if test > 0 and any(bare for _, bare in counts.values()):
        refuse_test_with_unlabelled(counts, test, first_bare)
    for partial, n in partials:  # (once the import goes on: a refused one said nothing was imported)
        partial.warn(n)
    for path, (n, bare) in counts.items():
        # (a file named as the challenge's test file whose videos all have labels went to train unsaid, and
        # evaluate --split test found no video; hostile trial)
        if n > bare and Path(path).name.lower().startswith("test"):
            if not bare:  # (a held-out set of one's own)
                print(f"note: {path}: its {n} videos have labels, so they are imported as train (the challenge's "
                      "test file has none): --test N holds labelled videos out as split test", file=sys.stderr)
                continue
            # (a stray label in the challenge's test file: its video went to train, and was missing from result.txt
            # with every step exiting 0; a warning, saying so; trial 95)
            some = n - bare
            print(f"warning: {path}: {some} of its {n} videos {'has' if some == 1 else 'have'} labels (first: "
                  f"{first_labelled[path]}), so {'it is' if some == 1 else 'they are'} imported as train, not test, "
                  f"and will have no answer in the test predictions or an export's result.txt: remove the labels of "
                  "test videos (the challenge's test file has none)", file=sys.stderr)
        elif 0 < bare < n:  # (a labelled file's video whose label was blank went to test, and into the submission,
            # unsaid; trial 76)
            print(f"warning: {path}: {bare} of its {n} videos {'has' if bare == 1 else 'have'} no label (an empty or "
                  f"missing category; first: {first_bare[path]}): imported as split test, as the challenge's test "
                  "videos are: label them, or remove them, if they are training videos", file=sys.stderr)
    return entries


def refuse_test_with_unlabelled(counts: dict[str, tuple[int, int]], test: int,
                                first_bare: dict[str, str] | None = None) -> None:
    """DatasetError for `--test N` beside LIC2022 videos without labels (`counts`: each file's videos
    and those without labels): held-out labelled videos and the challenge's test file would be one
    split test, scored on part of it and exported as a submission with ids the challenge never asked for."""
    unlabelled = [p for p, (_, bare) in counts.items() if bare]
    labelled = [p for p, (n, bare) in counts.items() if n and not bare]
    if len(unlabelled) == 1:
        n, bare = counts[unlabelled[0]]
        first = f"; first: {first_bare[unlabelled[0]]}" if first_bare and unlabelled[0] in first_bare else ""
        what = (f"{unlabelled[0]} ({'no labels' if bare == n else f'{bare} of its {n} videos without labels{first}'})"
                " is")
    else:
        what = f"{listed(unlabelled)} (without labels) are"
    alone = listed(labelled) if labelled else "the labelled videos"
    raise DatasetError(f"--test {test} holds labelled videos out as split test, but {what} the test split here: "
                       f"to measure on held-out labelled videos import {alone} alone with --test; to predict "
                       f"{listed(unlabelled)} leave out --test")


def import_folder(folder: str) -> list[dict]:
    """Every video under `folder` -> a test entry without annotations (ids: sanitised stems)."""
    if os.path.exists(folder) and not os.path.isdir(folder):  # ('no video files found' said nothing of why)
        raise DatasetError(f"{os.fspath(folder)}: a file, not a folder: import folder reads the folder holding the "
                           "videos")
    # a manifest is UTF-8 JSON: a file name that is not UTF-8 cannot be written in one (extract reads such a
    # folder directly); the folder's own name is every video's path (said as its files' names, then "no video
    # files found", of a folder that holds them; trial 80)
    if printable(os.path.abspath(folder)) != os.path.abspath(folder):
        raise DatasetError(f"{printable(os.fspath(folder))}: the folder's path is not UTF-8, which a manifest (UTF-8 "
                           "JSON) must be: rename it, or extract the folder directly")
    try:
        found = scan_videos(folder)
    except ManifestError as e:
        raise DatasetError(str(e)) from None
    unnamed = [p for _, p in found if printable(str(p)) != str(p)]
    if unnamed:
        n = len(unnamed)
        print(f"warning: left out {n} video{'s' * (n > 1)} whose file name{'s are' if n > 1 else ' is'} not UTF-8 "
              f"(first: {printable(str(unnamed[0]))}); rename them, or extract the folder directly", file=sys.stderr)
    found = [(vid, p) for vid, p in found if p not in unnamed]
    # (a link to nothing, its disk not mounted, or a pipe or socket named as a video: each said, left out; extract
    # would fail it as a video)
    broken = [p for _, p in found if not p.is_file()]
    whys = [printable(no_such_video(p) if broken_link(p) else f"{p}: {not_a_file(p) or 'not a regular file'}, not a "
                      "video file") for p in broken]
    if len(broken) < len(found):  # (all of them: the error below says it)
        for why in whys:
            print(f"warning: left out {why}", file=sys.stderr)
    found = [(vid, p) for vid, p in found if p not in broken]
    if not found:
        raise DatasetError(f"{folder}: no video files found" + (
            f" (only {len(broken)} left out, first: {whys[0]})"
            if broken else ""))
    return [{"video_id": vid, "path": str(p), "split": "test", "captions": [], "tags": []} for vid, p in found]


def with_captions(entries: list[dict], labels: dict[str, dict], named: str | os.PathLike,
                  folder: str | os.PathLike) -> list[dict]:
    """`import_folder`'s entries given the captions, tags, text and splits of `labels` (read_labels', read from
    `named`) by id (a file's name less its extension, made an id as `name_id` makes a caption key): a video without
    an entry, and an entry without a video, are each counted in one warning and left out (as `import features`
    leaves out a feature file or a clip)."""
    found = {e["video_id"]: e for e in entries}
    where, source = one_line(os.fspath(folder)), one_line(os.fspath(named))
    # (an entry of no caption or tag is no reference: kept, a train manifest of nothing to learn; trial 129)
    labelled = {vid: e for vid, e in labels.items() if is_labelled(e)}
    if not labelled:
        raise DatasetError(f"{source}: no clip there has a caption" + (" or a tag" if labels else "")
                           + ": nothing to give the videos")
    kept = [{**labelled[vid], "path": e["path"]} for vid, e in found.items() if vid in labelled]
    if not kept:
        raise DatasetError(f"{where}: none of its {counted(len(found), 'video')} has captions in {source} (first "
                           f"video: {next(iter(found))}, first clip there: {next(iter(labelled))}): a video's id is "
                           "its file's name less the extension")
    if bare := [vid for vid in found if vid not in labelled]:
        print(one_line(f"warning: {len(bare)} of {counted(len(found), 'video')} in {where} "
                       f"{'has' if len(bare) == 1 else 'have'} no captions in {source} and "
                       f"{'is' if len(bare) == 1 else 'are'} left out (first: {', '.join(bare[:5])})"), file=sys.stderr)
    if missing := [vid for vid in labelled if vid not in found]:
        print(one_line(f"warning: {len(missing)} of {counted(len(labelled), 'clip')} with captions in {source} "
                       f"{'has' if len(missing) == 1 else 'have'} no video in {where} and "
                       f"{'is' if len(missing) == 1 else 'are'} left out (first: {', '.join(missing[:5])})"),
              file=sys.stderr)
    return kept


def clip_id(name: str) -> str:
    """A clip name without a video extension (MLDS ids and feature files carry `.avi`)."""
    stem, dot, ext = name.rpartition(".")
    return stem if dot and f".{ext.lower()}" in VIDEO_EXTENSIONS else name


def name_id(name: object) -> str | None:
    """The id of a clip named `name` (a caption key, a feature file's name less `.npy`): without a
    video extension, and an unusable one made an id as extract makes a file's (`sanitize_id`: `my
    clip` -> `my_clip`, `日本 clip` -> `___<8 hex>`), so captions keyed by a file's name find its
    features. None for what no file name can be (a path, an empty name, not a string)."""
    if not isinstance(name, str) or not name.strip() or "/" in name or "\\" in name or name in (".", ".."):
        return None
    vid = clip_id(name)
    return vid if valid_video_id(vid) else sanitize_id(vid)


def read_captions(path: str | os.PathLike) -> dict[str, list[str]]:
    """{clip id: [captions]} from an MLDS label list ([{"id", "caption"}]), a JSON {id: [captions]}
    or a manifest (`manifest.is_manifest`: by its content, whatever its name). Ids lose a video
    extension and are made ids as file names are (`name_id`); a name no file can have is a DatasetError."""
    return {vid: e["captions"] for vid, e in read_labels(path, "train").items()}


MSRVTT_EXPECTED = ('a JSON object {"videos": [{"video_id", "split", "category"}, ...], '
                   '"sentences": [{"video_id", "caption"}, ...]}')
CAPTIONS_EXPECTED = ('a JSON {id: [captions]} (one object), an MLDS list [{"id", "caption"}, ...] or a manifest '
                     '(one {"video_id", ...} object per line)')


def caption_lines(path: str | os.PathLike) -> bool:
    """Whether `path` is JSON lines of {id: [captions]} objects, none with a "video_id": `is_manifest`
    takes JSON lines for a manifest, whose reader then said line 1 had no video_id."""
    try:
        lines = [json.loads(line) for line in Path(path).read_bytes().removeprefix(codecs.BOM_UTF8).splitlines()
                 if line.strip()]  # (bytes' lines: a string's U+2028 splits none)
    except (OSError, ValueError, RecursionError):
        return False
    return len(lines) > 1 and all(isinstance(v, dict) and v and "video_id" not in v and
                                  all(isinstance(c, (list, str)) for c in v.values()) for v in lines)


PIPED_MANIFEST = ("a manifest through a pipe: save it to a file and pass that (a manifest is told by its name or "
                  "content, which a pipe gives only once)")


def read_labels(path: str | os.PathLike, split: str | None, unsplit: list[str] | None = None,
                emptied_fate: str = "imported without captions") -> dict[str, dict]:
    """{clip id: manifest entry} from what `read_captions` reads. A manifest's entries keep their
    captions, tags, text and split (`split`, when given, replaces every one; their video paths are
    dropped: the import writes features, not videos); the others' get `split`, which they need.
    `unsplit`: the ids of the manifest's entries that give no split (train, a manifest's default) are
    appended to it, for a warning once the import is done. `emptied_fate`: what becomes of a clip whose captions
    are all blank, as the warning says it (import folder leaves such a clip out)."""
    if is_manifest(path):  # (.jsonl, or JSON lines of video_id records whatever the name: as score tells)
        if caption_lines(path):
            raise DatasetError(f"{path}: JSON lines of {{id: captions}} objects, not a captions format; expected "
                               f"{CAPTIONS_EXPECTED}")
        labels = {}
        entries = read_manifest(path, split)
        if unsplit is not None and split is None:
            unsplit += [e["video_id"] for e in entries if "split" not in e]
        blank, emptied = 0, []
        for e in entries:
            captions = [c for c in e.get("captions", []) if not is_blank(c)]
            blank += len(e.get("captions", [])) - len(captions)
            if e.get("captions") and not captions:
                emptied.append(e["video_id"])
            labels[e["video_id"]] = {"video_id": e["video_id"], "split": split_of(e),
                                     "captions": captions, "tags": e.get("tags", []),
                                     **{k: v for k, v in e.items() if k not in ENTRY_KEYS}}
        say_blank_captions(path, blank, emptied, emptied_fate)
        return labels
    try:
        raw = Path(path).read_bytes()  # (once: a pipe, `<(...)`, gives them only once)
    except OSError as e:
        raise DatasetError(f"{path}: cannot read captions ({json_error(e)})") from None
    # (another dataset's own file: MSR-VTT's JSON was said to have "clip info" whose captions are no list, MSVD's
    # CSV to be no JSON; session 50's open item. An MLDS list is one of the caption files)
    if (hint := dataset_import(str(path), raw)) and not hint.startswith("it looks like MLDS"):
        raise DatasetError(f"{path}: not a caption file; {hint}")
    try:
        data = parse_json(raw)  # (a BOM allowed, a key given twice refused)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        if is_json_lines(raw, e):  # (JSON lines of something else than a manifest's records)
            # (a manifest through a pipe, `<(cat m.jsonl)`, is told by neither name nor content, which a pipe
            # gives once: it was said to be no manifest, or to need --split; session 50's open item)
            if manifest_row(json.loads(next(line for line in raw.removeprefix(codecs.BOM_UTF8).splitlines()
                                            if line.strip()))):
                raise DatasetError(f"{path}: {PIPED_MANIFEST}") from None
            raise DatasetError(f"{path}: {json_problem(raw, e, CAPTIONS_EXPECTED)}") from None
        raise DatasetError(f"{path}: cannot read captions ({json_error(e)})") from None
    except (ValueError, RecursionError) as e:  # (ValueError: a 4,300-digit number, a key given twice)
        raise DatasetError(f"{path}: cannot read captions ({json_error(e)})") from None
    if manifest_row(data):  # (a one-line manifest through a pipe: read as {id: captions}, its id "video_id")
        raise DatasetError(f"{path}: {PIPED_MANIFEST}")
    if split is None:
        raise DatasetError(f"{path}: a caption file gives no split: pass --split train, val or test "
                           "(a manifest as --captions gives each video's own)")
    records = isinstance(data, list) and any(isinstance(d, dict) and {"id", "caption"} & d.keys() for d in data)
    if data == []:  # (a caption list, empty: "not a caption file" misled; trial 71)
        raise DatasetError(f"{path}: an empty list: no clips, no captions")
    if not (records or isinstance(data, dict)):
        raise DatasetError(f"{path}: not a caption file; expected {CAPTIONS_EXPECTED}")
    if records:  # (an MLDS list: an entry that is wrong is named, not the whole file said to be no caption file)
        for n, d in enumerate(data, 1):
            if not isinstance(d, dict):
                raise DatasetError(f'{path}: entry {n}: not an object {{"id", "caption"}}, but {json_kind(d)}')
            if missing := next((k for k in ("id", "caption") if k not in d), None):
                raise DatasetError(f'{path}: entry {n}: no "{missing}"')
    pairs = [(d["id"], d["caption"]) for d in data] if records else list(data.items())
    labels: dict[str, dict] = {}
    named: dict[str, str] = {}  # id -> the name (less a video extension) that gave it
    key_of: dict[str, str] = {}  # id -> the key, as written
    blank, emptied = 0, []
    for n, (raw, captions) in enumerate(pairs, 1):
        vid = name_id(raw)
        if vid is None:
            raise DatasetError(f"{path}: unusable clip id {raw!r}")
        if named.setdefault(vid, clip_id(raw)) != clip_id(raw):  # ('my clip' and 'my_clip': two clips, one id)
            raise DatasetError(f"{path}: clips {two_names(named[vid], raw, repr)} are both clip {vid}: rename one")
        if vid in labels:  # (a list can repeat one: its captions were counted twice, or two lists merged unseen)
            # (keys `clip.avi` and `clip`: both named, the one said was neither as written; trial 130)
            keys = f" (as {two_names(key_of[vid], raw, repr)})" if key_of[vid] != raw else ""
            raise DatasetError(f"{path}: clip {vid} is listed twice{keys} (entry {n} and an earlier one): give each "
                               "clip one entry")
        key_of[vid] = raw
        if not isinstance(captions, list) or not all(isinstance(c, str) for c in captions):
            raise DatasetError(f"{path}: clip {vid}: captions must be a list of strings")
        labels[vid] = {"video_id": vid, "split": split,
                       "captions": [c.strip() for c in captions if not is_blank(c)],
                       "tags": []}
        blank += len(captions) - len(labels[vid]["captions"])
        if captions and not labels[vid]["captions"]:
            emptied.append(vid)
    say_blank_captions(path, blank, emptied, emptied_fate)
    return labels


def say_blank_captions(path: str | os.PathLike, blank: int, emptied: list[str], fate: str) -> None:
    """The warning line for the `blank` captions (`vocab.is_blank`: "", "   ", "...") an importer left out of
    `path`, and the clips `emptied` of every caption by it (what became of them: `fate`): dropped unsaid, a
    clip of blanks went into train with none (hostile trial). Training's rule, not one of the importer's
    own: a caption of punctuation alone imported silently, and training then left it out."""
    if blank:
        print(f"warning: {path}: ignoring {blank} blank caption{'s' * (blank > 1)}" + (
            f"; clips left without a caption, their captions all blank: {len(emptied)} (first: "
            f"{', '.join(emptied[:3])}), {fate}" if emptied else ""), file=sys.stderr)


def _destination(out: str | os.PathLike) -> Path:
    """Where `out` will be written, its folder resolved (the file itself may not exist yet)."""
    return Path(out).parent.resolve() / Path(out).name


def refuse_import_inputs(out: str | os.PathLike, files: list, folders: list[tuple[str | os.PathLike, tuple]] = ()
                         ) -> None:
    """OutputError, whatever --force says, when the manifest at `out` would replace an input of the
    import: one of `files` (annotations, split lists, a vocabulary, videos), or a file inside an input
    folder named like what is read from it (`folders`: (folder, suffixes), e.g. the .npy files of a
    feature folder, the videos of a video folder). Such a name is refused even when no file has it
    yet: a manifest saved as X.npy among features would be read as one on the next import. Any other
    name in such a folder is fine (a manifest.jsonl beside its videos)."""
    from .results import refuse_inputs  # (results imports manifest, as this module does: no cycle)

    refuse_inputs([out], files)
    where = _destination(out)
    for folder, suffixes in folders:
        if folder and Path(folder).is_dir() and where.is_relative_to(Path(folder).resolve()) \
                and where.suffix.lower() in suffixes:
            if where.exists():
                raise OutputError(f"cannot write {out}: it is an input of this command")
            raise OutputError(f"cannot write {out}: a {where.suffix} file in {folder}, an input of this command, "
                              "would be read as one of its inputs; name the manifest .jsonl")


def refuse_out_in_store(out: str | os.PathLike, store: str | os.PathLike | None) -> None:
    """OutputError, whatever --force says, when the manifest at `out` lies inside the feature store
    the import writes: it would replace the store's meta.json or a feature file, or sit among them."""
    if store is None:
        return
    where = _destination(out)
    if where.is_relative_to(Path(store).resolve()):
        raise OutputError(f"cannot write {out}: it is inside the feature store {store} this command writes; "
                          "put the manifest beside the store")


# the start of an existing --out read to tell a manifest from another file (a video named so may be gigabytes);
# a manifest's first line is far shorter
MANIFEST_HEAD_BYTES = 1 << 20


def not_a_manifest(path: str | os.PathLike) -> str | None:
    """Why the existing file `path` is no manifest at all, for a refusal's parentheses: its first non-blank line is
    not UTF-8, not JSON, or not an object with a "video_id". None for a manifest, a damaged one included (a bad
    value in that object, a bad line further on: mended by hand, or replaced with --force), for an empty file
    (nothing in it to lose) and for one that cannot be read (said where it is written). Only the file's first
    MANIFEST_HEAD_BYTES are read."""
    try:
        with open(path, "rb") as f:
            head = f.read(MANIFEST_HEAD_BYTES)
    except OSError:
        return None
    lines = head.removeprefix(codecs.BOM_UTF8).splitlines()
    for n, raw in enumerate(lines, 1):
        whole = len(head) < MANIFEST_HEAD_BYTES or n < len(lines)  # (else cut where the read stopped)
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            if whole or e.start < len(raw) - 3:  # (a character cut at the end of the read is no error)
                return f"line {n}: not valid UTF-8 (byte 0x{raw[e.start]:02x} at column {e.start + 1})"
            line = raw[:e.start].decode("utf-8")
        if not line.strip():
            continue
        if not whole:  # (a first line of over a MiB: a manifest's, if it opens one of its records)
            return None if line.lstrip().startswith("{") and '"video_id"' in line else \
                f"line {n}: not a JSON object with a video_id"
        try:
            value = json.loads(line)
        except json.JSONDecodeError as e:
            return f"line {n}: not valid JSON ({json_error(e, line=False)})"
        except (ValueError, RecursionError):
            return f"line {n}: not usable JSON"
        if not isinstance(value, dict) or "video_id" not in value:
            return f"line {n}: {json_kind(value)}" + (" without a video_id" if isinstance(value, dict) else
                                                      ", not an object with a video_id")
        return None
    return None


def refuse_foreign_out(out: str | os.PathLike) -> None:
    """OutputError, whatever --force says, when the manifest at `out` (through a link: the file written) would
    replace what no manifest may: a checkpoint or a training run's own file (`fileio.refuse_checkpoints`, as
    evaluate's outputs), a file in a feature store (its meta.json, its logs, a feature file), a video (by its
    name, there or not: the next import of the folder would read it as one), or an existing file that is no
    manifest at all (`not_a_manifest`): `--out run/best.pt --force` replaced the model (hostile trial). --force
    replaces only a manifest."""
    where = written_file(out)
    refuse_checkpoints([where], "import")
    if (store := store_of(where)) is not None:
        raise OutputError(f"cannot write {out}: it is inside the feature store {store}: put the manifest beside "
                          "the store")
    if where.suffix.lower() in VIDEO_EXTENSIONS:
        raise OutputError(f"cannot write {out}: a {where.suffix} name is a video's: name the manifest .jsonl")
    if where.is_file() and (why := not_a_manifest(where)):
        raise OutputError(f"cannot write {out}: it is there and is not a manifest ({why}): import replaces only a "
                          "manifest: move it, or name another --out")


def refuse_dropping_annotations(out: str | os.PathLike, entries: list[dict], force: bool,
                                offered: Collection[str] = frozenset()) -> None:
    """OutputError when `out` exists and holds annotations (captions, tags, text) or video paths that
    `entries` lack, or puts a video it shares with `entries` in another split, unless `force`: an import
    rewrites its own manifest freely (the same annotations and splits come back), never a hand-written
    one (or a file that is no manifest at all) whose captions it would lose, nor one made with --videos
    whose paths a rerun without it would lose, nor one whose held-out val/test videos it would move
    (`entries` carry their final splits, --val/--test held out). A path counts as kept
    when the video has any path in `entries` (the import's own, e.g. from another --videos). `offered`: the
    options of the import (its parser's `offered`), of which the refusal advises --videos and --captions-only."""
    out = Path(out)
    if force or not out.is_file():
        return
    try:
        old = read_manifest(out)
    except UserError as e:  # (what is wrong with it: one bad line is mended by hand, not by --force's re-split)
        why = re.sub(r"^(\d+):", r"line \1:", str(e).removeprefix(f"{out}:").strip())  # (`M:3: ...`: line 3)
        raise OutputError(f"{out} exists and is not a manifest ({why}): mend it, pass --force to replace it, or "
                          "--out another manifest") from None

    def notes(es: list[dict]) -> set[tuple[str, str, str]]:
        found = set()
        for e in es:
            found |= {(e["video_id"], "caption", str(c)[:MAX_CAPTION_CHARS]) for c in e.get("captions") or []}
            found |= {(e["video_id"], "tag", str(t)) for t in e.get("tags") or []}
            text = e.get("text") if isinstance(e.get("text"), dict) else {}
            found |= {(e["video_id"], str(k), str(v)) for k, v in text.items() if v}
        return found

    pathed = {e["video_id"] for e in entries if e.get("path")}
    paths = {(e["video_id"], "path", str(e["path"])) for e in old if e.get("path") and e["video_id"] not in pathed}
    lost = sorted((notes(old) - notes(entries)) | paths)
    if lost and old and not {e["video_id"] for e in old} & {e["video_id"] for e in entries}:
        # (no video in common: another dataset's manifest, which no option of this import keeps; --videos was
        # advised "to keep the paths" of MSVD's manifest to an MSR-VTT import; hostile trial)
        raise OutputError(f"{out} exists and is the manifest of other videos (none of its {len(old)} is among this "
                          f"import's {len(entries)}; first: {old[0]['video_id']}): pass another --out, or --force to "
                          "replace it")
    if lost:
        vid, kind, value = lost[0]
        what = " and ".join(w for w, n in (("distinct annotations", len(lost) - len(paths)), ("video paths", len(paths)))
                            if n)
        # (a manifest imported with --captions-only, imported again without it: the option is the way to keep them)
        alone = {e["video_id"] for e in old if e.get("captions_only")} - {e["video_id"] for e in entries}
        alone_lost = alone and all(v in alone for v, _, _ in lost)
        raise OutputError(f"{out} exists and holds {len(lost)} {what} this import would drop (first: video {vid}, "
                          f"{kind} {value[:60]!r}"
                          + (f"; all of its {len(alone)} video{'s' * (len(alone) > 1)} of captions alone" if alone_lost else "") + "); pass "
                          # (import mlds' option alone: `import features` was told to pass it; trial 106)
                          + "--captions-only to keep them, " * bool(alone_lost and "--captions-only" in offered)
                          + "--videos FOLDER to keep the paths, " * (bool(paths) and "--videos" in offered)
                          + "--force to replace it, or another --out")
    # a re-import that moves videos between splits (another --seed, --val/--test left out) silently
    # undid a held-out split: the next training run would train on the old test videos
    now_in = {e["video_id"]: split_of(e) for e in entries}
    moves = collections.Counter((split_of(e), now_in[e["video_id"]]) for e in old
                                if e["video_id"] in now_in and split_of(e) != now_in[e["video_id"]])
    if moves:
        n = sum(moves.values())
        how = ", ".join(f"{k} of its {was} videos to {now}"
                        for (was, now), k in sorted(moves.items(), key=lambda m: (-m[1], m[0])))
        raise OutputError(f"{out}: {n} video{'s' * (n != 1)} would change split ({how}): pass --force to re-split, "
                          "or --out a new manifest")


def is_labelled(entry: dict) -> bool:
    """Whether a video has something to learn or score: a caption or a tag."""
    return bool(entry.get("captions") or entry.get("tags"))


def check_hold_out(entries: list[dict], val: int, test: int, offered: Collection[str] = frozenset()) -> None:
    """Refuse `--val` / `--test` counts that `hold_out` could not take from `entries` (an importer
    checks them before it writes its store). `offered`: the import's options; the refusal advises --split when
    among them (mlds and lic2022 take their splits from the release's files)."""
    if val < 0 or test < 0:
        raise DatasetError("--val and --test count videos: 0 or more")
    train = sum(e["split"] == "train" and not e.get("captions_only") for e in entries)
    if (val or test) and val + test > train - 1:
        alone = any(e.get("captions_only") for e in entries)  # (those are never held out: not counted)
        if not any(is_labelled(e) for e in entries):  # (--split train then refused them: nothing to learn; trial 72)
            raise DatasetError(f"--val {val} --test {test} hold labelled videos out to score them, and these have no "
                               "captions or tags: leave out --val and --test")
        if not train:  # (--split val / test: "leave at least one to train on" asked for what none is; trial 71)
            splits = collections.Counter(e["split"] for e in entries)
            raise DatasetError(f"--val {val} --test {test} hold training videos out, and none of these videos is "
                               "of split train (" + ", ".join(f"{n} {s}" for s, n in sorted(splits.items())) + "): "
                               + ("import them with --split train to hold some out" if "--split" in offered else
                                  "leave out --val and --test"))  # (no --split to advise; trial 106)
        raise DatasetError(f"--val {val} --test {test}: only {counted(train, 'training video')}"
                           + (" with features" if alone else "") + ": leave at least one to train on")


def hold_out(entries: list[dict], val: int, test: int, seed: int, offered: Collection[str] = frozenset()) -> None:
    """Move `val` then `test` training videos (a seeded shuffle of the sorted ids) to those splits, in place;
    never a video of captions alone (nothing to caption), nor do they change which videos are drawn.
    `offered`: `check_hold_out`'s."""
    check_hold_out(entries, val, test, offered)
    if not val and not test:
        return
    train = sorted((e for e in entries if e["split"] == "train" and not e.get("captions_only")),
                   key=lambda e: e["video_id"])
    random.Random(seed).shuffle(train)
    for e in train[:val]:
        e["split"] = "val"
    for e in train[val:val + test]:
        e["split"] = "test"
