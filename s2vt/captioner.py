"""caption.py and `s2vt serve`: new video files, their features computed as the checkpoint's training ones
were (`Captioner`), and their answers printed; the model used when none is named (`default_checkpoint`)."""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import torch

from .checkpoint import CheckpointError, has_captions, model_from_checkpoint, read_checkpoint
from .decode import TAGS_SHOWN, DecodeConfig, decode_config
from .device import pick_device
from .errors import UserError, counted, invoked_as, one_line, printable, shell_join, shell_quote
from .fileio import refuse_empty_paths
from .jsonfile import torch_saved
from .manifest import json_start, manifest_row  # (what tells a manifest by its content: extract's too)
from .predict import answer, check_settings, checkpoint_warnings, decoding_used, feature_mismatch, vocabulary_option


def is_model_file(path: str) -> bool:
    """Whether `path` is a file torch.save wrote: a zip holding `*/data.pkl`, or a pickle (its protocol byte first)."""
    import zipfile

    try:
        with open(path, "rb") as f:
            head = f.read(2)
        if head[:1] == b"\x80":
            return True
        with zipfile.ZipFile(path) as z:
            return torch_saved(z.namelist())
    except (OSError, zipfile.BadZipFile, ValueError):
        return False


def refuse_model_files(videos: list[str], chosen: bool) -> None:
    """UserError for a checkpoint named among caption.py's videos where no model was `chosen` (--checkpoint or
    $S2VT_CHECKPOINT; `caption.py best.pt clip.mp4`): it was skipped as no video, and the default model answered,
    unsaid (trial 88). Told by its content: a video named clip.pt is captioned (trial 89). With a model chosen, one
    in a glob (`caption.py --checkpoint best.pt folder/*`) is skipped as any other non-video (it stopped the batch;
    trial 91), and one named alone is said to be a model file (ffmpeg's words said it was no video; trial 92)."""
    if chosen and len(videos) > 1:
        return
    if model := next((v for v in videos if os.path.splitext(v)[1].lower() in (".pt", ".pth") and os.path.isfile(v)
                      and is_model_file(v)), None):
        raise UserError(f"{model} is a model file, not a video"
                        + ("" if chosen else f": pass it as --checkpoint {shell_quote(model)}"))


# where `caption.py` finds its model when --checkpoint is not given (relative to the working folder)
CHECKPOINT_ENV = "S2VT_CHECKPOINT"
DEFAULT_CHECKPOINT = os.path.join("checkpoints", "s2vt.pt")
# said with a model's answers (caption.py's stderr, serve's log and each /api/caption answer): the demo's model
# wrote "noise plays" of real clips, with no word of why (trial 118)
RANDOM_BACKBONES = ("features come from backbones with seeded random weights (extract --weights random, as the "
                    "demo's), not pretrained ones: its answers hold for videos like its training videos, not for "
                    "real video")


def default_checkpoint() -> str:
    """$S2VT_CHECKPOINT, else checkpoints/s2vt.pt; with neither, a one-line error saying how to get a model
    (caption.py and `s2vt serve`). Set but empty is refused as an empty --checkpoint is, not taken for unset:
    `S2VT_CHECKPOINT=$CKPT` with CKPT unset must not answer with checkpoints/s2vt.pt's model."""
    if CHECKPOINT_ENV in os.environ:
        path = os.environ[CHECKPOINT_ENV]
        refuse_empty_paths({CHECKPOINT_ENV: path}, CheckpointError)
        if not os.path.lexists(path):  # (said as the variable's: a relative path is the current folder's)
            # (quoted: stray spaces, `S2VT_CHECKPOINT=" ckpt.pt"`, would be invisible)
            raise CheckpointError(f"no model: {CHECKPOINT_ENV}={path!r} names no file ({os.path.abspath(path)!r} not "
                                  f"found): set it to a trained best.pt, or pass --checkpoint")
        return path  # (a file that is not a checkpoint: read_checkpoint's one line)
    if os.path.isfile(DEFAULT_CHECKPOINT):
        return DEFAULT_CHECKPOINT
    # (named absolute: the default is relative to the current folder, so the same command finds a model
    # in one folder and not in another; `python train.py` works only in the checkout: the commands as this
    # one was started, as the end of training names caption's)
    raise CheckpointError(f"no model: {os.path.abspath(DEFAULT_CHECKPOINT)} not found and {CHECKPOINT_ENV} not set: "
                          f"pass --checkpoint RUN/best.pt, set {CHECKPOINT_ENV}=RUN/best.pt, or copy a trained "
                          f"best.pt to {DEFAULT_CHECKPOINT} under the folder you run in "
                          f"({shell_join(invoked_as('train'))} makes one; {shell_join(invoked_as('demo'))} a toy one)")


def captioning_device(name: str, int8: bool) -> torch.device:
    """The device caption.py and serve run on for --device `name`; `int8`: the checkpoint's features
    were computed in int8 (and no --precision overrides it). `auto` (the default) on a GPU machine
    is then the CPU, the one device whose int8 backbones reproduce those features; a GPU asked for
    by name stays, for Captioner to refuse in one line."""
    device = pick_device(name)
    return torch.device("cpu") if name == "auto" and int8 and device.type != "cpu" else device


def imported_hint(ckpt: dict, modalities, checkpoint) -> str:
    """The next step for a model of precomputed features that caption.py cannot compute for a new video:
    `s2vt evaluate` answers for videos whose features are imported as its training ones were, into a split it
    did not train on (test); "" for any other model. The manifest and store it was trained on hold only videos
    it learnt from (refitted on train + val): that advice scored them, near-perfectly (new-user trial 69)."""
    from extract.modalities import extractable

    meta = ckpt.get("extract") or {}
    backbones = meta["backbones"] if isinstance(meta.get("backbones"), dict) else {}
    imported = [m for m in modalities if not extractable(m, backbones)]
    if not imported:
        return ""
    source = str(meta.get("source", ""))
    evaluate = f"{shell_join(invoked_as('evaluate'))} --checkpoint {shell_quote(str(checkpoint))}"
    imports = shell_join(invoked_as("import"))
    if source.startswith("YouTube-8M"):  # (imported by `s2vt import yt8m`, or streamed from shards by train.py)
        return (f"; it tags the videos of YouTube-8M shards once imported: {imports} yt8m "
                f"SHARD... --split test{vocabulary_option(ckpt, checkpoint)} --features STORE --out MANIFEST, then "
                f"{evaluate} --manifest MANIFEST --features STORE --out PREDS.json")
    if "`s2vt import lic2022`" in source:  # (its tsn links; videos without labels land in split test)
        return (f"; it tags LIC2022 videos once imported with their features: {imports} lic2022 VIDEOS.json "
                f"--features TSN_FOLDER --out DIR/manifest.jsonl (videos without labels are split test), then "
                f"{evaluate} --manifest DIR/manifest.jsonl --features DIR/features --split test --out PREDS.json")
    # (`import mlds` reads a release's layout, with no --split: new clips' files go through `import features`;
    # trial 71. --out: the default preds_test.json beside the checkpoint may hold another split's answers)
    modality = imported[0] if len(imported) == 1 else f"NAME (once for each of {', '.join(imported)})"
    return (f"; it answers for videos whose features are imported as its training ones were, into split test: "
            f"{imports} features FEAT_DIR --captions IDS.json --modality {modality} --split test --features STORE "
            f"--out MANIFEST (IDS.json: {{\"<id>\": []}} for clips without captions), then {evaluate} "
            f"--manifest MANIFEST --features STORE --split test --out PREDS.json")


class Captioner:
    """The backbones and the model of a checkpoint, loaded once; `caption(path)` per video file
    (caption.py and `s2vt serve`).

    Features are computed as the checkpoint's training features were (its record of the
    extraction settings, weight files and precision), in memory (no store); a machine that
    cannot reproduce them is refused with one line. `precision` overrides the recorded one
    (e.g. bf16 on a GPU for a model trained on int8 CPU features), with a warning. The
    backbones build in threads while the first video decodes and the model loads.
    """

    def __init__(self, checkpoint: str, beam: DecodeConfig | int = DecodeConfig.beam, tags: int = TAGS_SHOWN,
                 device: str = "cpu", weights_dir: str | None = None, precision: str | None = None) -> None:
        from extract.pipeline import ExtractConfig, Extractor

        check_settings(beam, tags)
        self.decoding = decode_config(beam)
        self.beam, self.tags, self.checkpoint, self.precision = self.decoding.beam, tags, checkpoint, precision
        name, device = device, pick_device(device)
        self.ckpt = read_checkpoint(checkpoint, device)
        if not self.ckpt["config"]["modalities"]:
            # (where the texts go, and which split: the line alone left the manifest's shape to guess; trial 69)
            raise CheckpointError(f"{checkpoint}: a text-only model reads no video: tag the texts with "
                                  f"{shell_join(invoked_as('evaluate'))} --checkpoint {shell_quote(str(checkpoint))} "
                                  "--manifest MANIFEST, its videos of split test each with \"text\": {\"title\", "
                                  "\"asr\", \"ocr\"} (docs/usage.md, \"Text: titles, ASR and OCR (LIC2022)\")")
        self.meta, self.modalities = self.ckpt.get("extract", {}), sorted(self.ckpt["config"]["modalities"])
        recorded = {m: self.meta.get("precision", {}).get(m) for m in self.modalities}
        device = captioning_device(name, precision is None and "int8" in recorded.values())
        if precision is None and device.type != "cpu" and "int8" in recorded.values():
            raise CheckpointError(f"{checkpoint}: its features were computed in int8, which runs on the CPU only: "
                                  "pass --device cpu, or --precision bf16 (or fp32) to accept features that differ "
                                  "slightly from the training ones")
        if precision is not None and any(p not in (None, precision) for p in recorded.values()):
            trained = ", ".join(sorted({p for p in recorded.values() if p}))
            print(f"warning: features in {precision}, the model trained on {trained} features: answers may differ "
                  "from evaluate's (a word or a tag where a score was close)", file=sys.stderr)
        try:
            cfg = ExtractConfig.from_meta(self.meta, self.modalities, device=str(device), weights_dir=weights_dir,
                                          **({"precision": precision} if precision else {}))
        except (ValueError, TypeError) as e:  # settings a hand-edited or foreign checkpoint recorded
            raise CheckpointError(f"{checkpoint}: its extraction settings cannot be used: {e}"
                                  f"{imported_hint(self.ckpt, self.modalities, checkpoint)}") from None
        self.extractor = Extractor(cfg, wait=False)
        self.model, self.vocab, self.labels = model_from_checkpoint(self.ckpt, device, checkpoint)
        self.has_captions = has_captions(self.ckpt)
        for line in checkpoint_warnings(checkpoint, self.ckpt, self.decoding, self.model, self.has_captions):
            print(line, file=sys.stderr)
        self.random_note = f"note: {one_line(str(checkpoint))}'s {RANDOM_BACKBONES}" if cfg.weights == "random" \
            else None
        self.decoding_used = decoding_used(self.decoding, self.model, self.has_captions)  # (what /api/model shows)
        self.checked = False  # the backbones built match the checkpoint's record (checked once built)

    def caption(self, path: str, with_media: bool = False, max_seconds: float | None = None):
        """{"video", "caption", "tags", "seconds", "notes"} of one file (and its decoded Media when
        `with_media`); MediaError for a file that is not a usable video, or (`max_seconds`) one
        that lasts longer."""
        from extract.ffmpeg import MediaError

        t0 = time.time()
        try:
            feats, media = self.extractor.extract_media(path, max_seconds)
        except MediaError:
            _ = self.extractor.backbones  # a backbone that cannot be built outranks a bad video
            raise
        if not self.checked:  # (once the backbones are built: they build while the first video decodes)
            problem = feature_mismatch(self.extractor.meta(), self.meta, self.modalities,
                                       compare_precision=self.precision is None)
            if problem:
                raise CheckpointError(f"{self.checkpoint}: this machine cannot compute its features: {problem}")
            self.checked = True
        caption, top = answer(self.model, self.vocab, self.labels, feats, self.decoding, self.tags,
                              with_captions=self.has_captions)
        # (extract's notes of the video, which its store keeps in notes.jsonl: a file cut short, no audio track)
        result = {"video": path, "caption": caption, "tags": top, "seconds": round(time.time() - t0, 3),
                  "notes": list(media.notes)}
        return (result, media) if with_media else result


def failed(video: str, error: str) -> dict:
    """The answer for a video that failed, {"video", "error", "notes"}: its notes none, as every answer has
    them (a script reads each object's "notes": a failed one's lacked the key)."""
    return {"video": video, "error": error, "notes": []}


def caption_files(videos: list[str], checkpoint: str, beam: DecodeConfig | int = DecodeConfig.beam,
                  tags: int = TAGS_SHOWN, device: str = "cpu", weights_dir: str | None = None,
                  precision: str | None = None, captioner: Captioner | None = None):
    """Yield, per video file, {"video", "caption", "tags", "seconds", "notes"} or `failed`'s {"video", "error",
    "notes"};
    `seconds` is each video's wall time (the first one's includes waiting for the backbones).
    `captioner`: one already loaded (the others' arguments are then unused)."""
    from extract.ffmpeg import MediaError

    captioner = captioner or Captioner(checkpoint, beam, tags, device, weights_dir, precision)
    for path in videos:
        try:
            yield captioner.caption(path)
        except MediaError as e:
            yield failed(path, str(e))


def with_folders_expanded(videos: list[str]) -> list[str | dict]:
    """caption.py's inputs in order, a folder replaced by its video files as `python -m extract` finds
    them (`video_files`: recursively, by extension, sorted), the other files of several named skipped as it skips
    them (`not_videos_named`); a folder with none, or a path that does not
    exist, is a failed input, `failed`'s {"video", "error", "notes"}, and so is a named file that is plainly
    no video (empty, unreadable, a device). UserError when no video is left at all: there is nothing to caption (a user's
    mistake, exit 2, before the model loads)."""
    from extract.ffmpeg import MediaError
    from extract.video import check_video_file

    from .manifest import VIDEO_EXTENSIONS, dash_refusal, not_videos_named, skipped_line, video_files

    def file_refusal(path) -> str | None:
        try:
            check_video_file(str(path))
        except MediaError as e:
            return str(e)
        return None

    items: list[str | dict] = []
    # (a shell glob's other files, `mixed/*`, skipped as extract skips them: they were failed videos; trial 55)
    # (and a manifest among them, told by its content: `caption.py DIR/*` beside the DIR/manifest.jsonl an import
    # wrote was a failed video, exit 1; trial 103; said as a manifest, with the command for its videos, not as a
    # file of another extension; trial 104. Named alone it is refused so)
    named = [v for v in videos if not dash_refusal(v)]
    others = set(not_videos_named(named))
    skipped = [v for v in named if v in others]
    # ({name: why it is no video}, read once: json_not_video's, as for one named alone)
    manifests = {v: why for v in named if len(named) > 1 and v not in others and Path(v).suffix.lower() == ".jsonl"
                 and os.path.isfile(v) and (why := json_not_video(v))}
    if skipped or manifests:
        videos = [v for v in videos if v not in set(skipped) | set(manifests)]
        if not videos and not skipped:  # (only manifests: each said as one named alone is)
            raise UserError("nothing to caption: " + "; ".join(list(manifests.values())[:2])
                            + ("; ..." if len(manifests) > 2 else ""))
        if not videos:  # (the error alone: a warning that skipped them all beside it said it twice; trial 57)
            every = skipped + list(manifests)
            raise UserError(f"nothing to caption: none of the {len(every)} files named is a video by its extension "
                            f"({', '.join(every[:3])}{', ...' if len(every) > 3 else ''})")
        if skipped:
            print(one_line(skipped_line(skipped)), file=sys.stderr)  # (a name's escape sequence: escaped; trial 104)
        for why in manifests.values():
            print(f"warning: skipped {one_line(why)}", file=sys.stderr)
    for v in videos:
        if dash := dash_refusal(v):  # (standard input even where a file '-' is there: './-' names that)
            items.append(failed(v, dash))
            continue
        if not os.path.isdir(v):
            try:  # (found now, not after the model loads: a mistyped path or an empty file alone is exit 2)
                check_video_file(v)
            except MediaError as e:
                items.append(failed(v, str(e)))
                continue
            if why := json_not_video(v):  # (ffmpeg's 'Invalid data found', after the model loaded, said nothing useful)
                items.append(failed(v, why))
                continue
            items.append(v)  # (a file ffmpeg cannot read fails as a video, in its turn)
            continue
        # (a link to nothing, its disk not mounted, or a pipe named as a video, which ffmpeg would wait on: failed
        # now, as a named one is)
        found = [str(p) if not (why := file_refusal(p)) else failed(str(p), why) for p in video_files(v)]
        why = (f"{v}: no video files in this folder (by extension: {', '.join(VIDEO_EXTENSIONS[:4])}, ...; hidden "
               "files, such as macOS's ._clip.mp4, are skipped)")
        if not found and (manifest := manifest_in(v)):  # (its manifest said, and where its videos are captioned)
            why += f"; it holds a manifest, {manifest}: to caption its videos from their extracted features: " \
                   f"{to_evaluate(manifest)}"
        items += found or [failed(v, why)]
    if all(isinstance(i, dict) for i in items):
        shown = "; ".join(i["error"] for i in items[:3]) + ("; ..." if len(items) > 3 else "")
        raise NothingToCaption(items[0]["error"] if len(items) == 1 else f"nothing to caption: {shown}", items)
    return items


def shown(answer: dict) -> dict:
    """caption.py's answer for one input as printed: a file name that is not UTF-8 (its bytes kept as lone
    surrogates), and an error naming it, escaped (\\xff), as extract's failures.jsonl shows it: the output stays
    UTF-8, and JSON that parses."""
    return {**answer, "video": printable(answer["video"]),
            **({"error": printable(answer["error"])} if "error" in answer else {})}


class NothingToCaption(UserError):
    """Every input of caption.py failed before the model loaded; `items` are their failed objects (--json prints
    them: a script reading stdout got nothing for a lone missing or empty file, trial 98)."""

    def __init__(self, message: str, items: list[dict]):
        super().__init__(message)
        self.items = items


def to_evaluate(manifest: str) -> str:
    """The command that captions a manifest's videos, for caption given one instead of videos."""
    return f"s2vt evaluate --checkpoint CKPT --manifest {shell_quote(manifest)} --features STORE"


def json_not_video(path: str) -> str | None:
    """Why a file named as a video is JSON, not a video, in one line (`json_start`); None for any other file
    (ffmpeg's to read)."""
    if (json_file := json_start(path)) is None:
        return None
    start, first = json_file
    taken = "not a video file (caption takes video files and folders of them)"
    if start[:1] == b"[":  # (ffmpeg said 'no video stream' of one named .jsonl; hostile trial)
        rows = b'"video_id"' in start  # (an array of manifest rows, pretty-printed or not: no manifest all the same)
        return f"{path}: a JSON array, {taken}" + (", nor a manifest (JSON lines: one object a line, each with its "
                                                   "video_id)" if rows else "")
    if manifest_row(first):
        return (f"{path}: a manifest, {taken}; to caption a manifest's videos from their extracted features: "
                f"{to_evaluate(path)}")
    if isinstance(first, dict) and "@id" in first:  # (LIC2022's train.json, test_a.json: import makes a manifest)
        return (f"{path}: LIC2022 JSON lines, {taken}; to make a manifest of it: s2vt import lic2022 "
                f"{shell_quote(path)} --out M.jsonl")
    return f"{path}: a JSON file, {taken}"


def manifest_in(folder: str) -> str | None:
    """A manifest directly in `folder` (manifest.jsonl first, else the first *.jsonl of video_id rows, of a
    few), for caption given a folder without videos: a run's folder holds its manifest, not its videos."""
    try:
        names = sorted(n for n in os.listdir(folder) if n.endswith(".jsonl") and not n.startswith("."))
    except OSError:  # (a folder that cannot be listed: its own message stands)
        return None
    if "manifest.jsonl" in names:
        names.remove("manifest.jsonl")
        names.insert(0, "manifest.jsonl")
    for name in names[:20]:  # (each read for its first line alone; a folder of thousands is not read through)
        path = os.path.join(folder, name)
        if os.path.isfile(path) and (json_file := json_start(path)) and manifest_row(json_file[1]):
            return path
    return None


def caption_videos(videos: list[str], checkpoint: str | None, beam: DecodeConfig | int = DecodeConfig.beam,
                   tags: int = TAGS_SHOWN, as_json: bool = False, device: str = "cpu", weights_dir: str | None = None,
                   precision: str | None = None, progress: dict | None = None) -> int:
    """Print captions and tags of video files and folders of them (caption.py); a bad video (or a
    folder without any) prints one line on stderr, and with `as_json` its {"video", "error", "notes"} object
    on stdout, and the rest go on. Returns 1 if some failed (a batch's partial failure, as `python -m
    extract`'s), 2 if every one did (nothing was captioned: a user's mistake, as one found before any video
    ran), else 0. `progress`, when given, gets "videos" (the video files to caption) once the folders are
    listed, and "captioned" and "failed" as the answers are printed: an interrupted run's line counts them.
    `checkpoint` None: `default_checkpoint()`, looked for once the inputs are checked (a missing video is said as
    such, with or without a model: before, `caption.py nothere.mp4` without one said "no model" alone)."""
    import warnings

    from extract.ffmpeg import check_ffmpeg

    check_settings(beam, tags)  # (a setting's mistake first, as every command says it)
    try:
        items = with_folders_expanded(videos)  # (before the model loads: seconds)
    except NothingToCaption as e:
        for r in e.items if as_json else ():  # (as a batch's failed inputs are printed: every input on stdout)
            print(json.dumps(shown(r), ensure_ascii=False), flush=True)
        raise
    # a wrong $S2VT_FFMPEG was said as every video's failure, each after the model loaded: one line first
    check_ffmpeg()
    # the inputs failed already (a missing or empty file, a folder without videos) are said now, before the
    # model loads: said in their turn, a run interrupted before it never said them (--json's objects stay in
    # input order, for a script reading stdout)
    for item in items:
        if isinstance(item, dict):
            print(f"error: {one_line(item['error'])}", file=sys.stderr, flush=True)
    checkpoint = default_checkpoint() if checkpoint is None else checkpoint
    failed = 0
    progress = {} if progress is None else progress
    progress.update(videos=sum(isinstance(i, str) for i in items), captioned=0, failed=0)
    # stderr is for errors: the library's notices (random weights, torch deprecations, some
    # raised in the backbone build threads) are silenced while the videos run
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        captioner = Captioner(checkpoint, beam, tags, device, weights_dir, precision)
        # never "v.mp4: " with nothing after it: say why there is no caption
        blank = "(empty caption)" if captioner.has_captions else "(no caption: the model writes tags only)"
        random_note = captioner.random_note
        # (--json: first in each answer's notes, as serve's: a saved answers file says it; trial 127)
        model_note = [f"the model's {RANDOM_BACKBONES}"] * bool(random_note)
        results = caption_files([i for i in items if isinstance(i, str)], checkpoint, beam, tags, device,
                                weights_dir, precision, captioner)
        for item in items:  # (in input order: a folder without videos among the answers, where it was named)
            r = shown(next(results) if isinstance(item, str) else item)
            if "error" in r:
                if isinstance(item, str):  # (a failed input's line was said before the model loaded)
                    print(f"error: {one_line(r['error'])}", file=sys.stderr)
                failed += 1
                progress["failed"] += isinstance(item, str)  # (a folder without videos is no video)
            if "error" not in r and random_note:  # (once, before the first answer and its notes)
                print(random_note, file=sys.stderr, flush=True)
                random_note = None
            for note in r.get("notes", []):  # (extract keeps them in notes.jsonl: the answer stands, on less video)
                print(f"note: {one_line(r['video'])}: {one_line(note)}", file=sys.stderr)
            if as_json:  # (a failed input too, `failed`'s object: a script reading stdout sees every input)
                noted = r if "error" in r or not model_note else {**r, "notes": model_note + r.get("notes", [])}
                print(json.dumps(noted, ensure_ascii=False), flush=True)
            elif "error" not in r:
                tag_text = ", ".join(f"{t['tag']} ({t['p']:.2f})" for t in r["tags"])
                # (a name holding a newline or an escape sequence: escaped, one line per video)
                print(f"{one_line(r['video'])}: {r['caption'] or blank}"
                      + (f"\n  tags: {tag_text}" if tag_text else ""), flush=True)
            progress["captioned"] += "error" not in r  # (once its answer is out)
    if failed and len(items) > 1:  # (a batch's count, as extract's last line: each failure's line may be far up)
        empty = sum(isinstance(i, dict) and os.path.isdir(i["video"]) for i in items)  # (folders without videos)
        bad = failed - empty  # (videos, named or found, a missing or empty file among them)
        print(f"error: {progress['captioned']} of {counted(len(items) - empty, 'video')} captioned; "
              + ", ".join([f"{bad} failed"] * bool(bad) + [f"{counted(empty, 'folder')} without videos"] * bool(empty))
              + " (said above)", file=sys.stderr)
    return 0 if not failed else 2 if failed == len(items) else 1


def extract_unrecorded(ckpt: dict) -> bool:
    """Whether a checkpoint (read_checkpoint's dict) reads modalities extract computes but records no extraction
    settings (its store had no meta.json): caption.py cannot compute its features for a new video, though extract
    could have (a store holding imported features beside them too: trial 66)."""
    from extract.modalities import MODALITIES

    return any(m in MODALITIES for m in ckpt["config"]["modalities"]) and not ckpt.get("extract")


def captions_videos(ckpt: dict) -> bool:
    """Whether caption.py can use a checkpoint (read_checkpoint's dict): it reads features this toolkit extracts
    from video (not text alone, synthetic features or imported precomputed ones)."""
    from extract.pipeline import ExtractConfig

    modalities = sorted(ckpt["config"]["modalities"])
    try:
        ExtractConfig.from_meta(ckpt.get("extract", {}), modalities)
    except (ValueError, TypeError):  # (no modality at all is a ValueError too)
        return False
    return True
