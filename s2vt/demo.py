"""The synthetic demo dataset and the end-to-end demo run.

Each video: a coloured square on black moving in one direction, and an audio track with a
tone, noise or silence (or, for half the silent ones, no audio track at all). Colour is visible in
every frame (ResNet), the direction only in motion (C3D and the frame sequence), the sound only in
the audio (VGGish) — so each modality has something only it can tell.
"""
from __future__ import annotations

import errno
import itertools
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path

from extract.ffmpeg import ffmpeg_cmd, ffmpeg_path, last_error_line
from .errors import UserError, exit_status, guard_stderr, invoked_as, shell_join, terminate_as_interrupt
from .fileio import OutputError, atomic_write_json, output_error, refusal, refuse_unusable_paths, temp_path
from .locks import LockFileError, busy_line, lock_owner, release_lock
from .locks import take_lock as take_file_lock
from .manifest import ManifestError, read_manifest, split_of, write_manifest
from .options import Parser, at_least, show_defaults

COLOURS = {"red": "0xE02020", "green": "0x20C020", "blue": "0x2040E0", "yellow": "0xE0E020"}
MOTIONS = {  # name -> (x(t), y(t)) of the square's top-left corner, for a W x H frame and D seconds
    "left": ("(W-w)*(1-t/{d})", "(H-h)/2"),
    "right": ("(W-w)*t/{d}", "(H-h)/2"),
    "up": ("(W-w)/2", "(H-h)*(1-t/{d})"),
    "down": ("(W-w)/2", "(H-h)*t/{d}"),
}
SILENT = "it is silent"
SOUNDS = {
    "a tone plays": "sine=frequency=880:sample_rate=16000",
    "noise plays": "anoisesrc=color=white:amplitude=0.4:sample_rate=16000",
    SILENT: "anullsrc=channel_layout=mono:sample_rate=16000",  # (every second one: no track at all, `make_dataset`)
}
DIRECTION_WORDS = {"left": "to the left", "right": "to the right", "up": "up", "down": "down"}
# the demo's own recipe (its 24-word world, one caption per video), not train.py's real-data defaults (bench/cuda.py
# trains with it too). Sum fusion: with concat the sound words (128-d VGGish beside 6,144 visual dims) were learned
# only after ~25 epochs, sometimes after early stopping had already ended the run
DEMO_RECIPE = dict(hidden=256, embed=256, batch_size=4, lr=1e-3, epochs=40, patience=8, min_count=1, enc_len=8,
                   fusion="sum", per_caption=False, schedule="step", warmup=0, context=False,
                   attention=False, dropout=0.3, label_smoothing=0.0, refit=False, caption_weights="none")


def caption_for(colour: str, motion: str, sound: str) -> str:
    # the sound comes first: at the end of the sentence S2VT's decoder (which sees the video only
    # through its LSTM state) had to carry it for ~10 steps and named it right far less often
    # (docs/design.md, "The demo"; measured rates in docs/benchmarks.md)
    return f"{sound} while a {colour} square moves {DIRECTION_WORDS[motion]}"


def make_video(path: Path, colour: str, motion: str, sound: str, seconds: float = 3.0,
               size: tuple[int, int] = (160, 120), rate: int = 16, seed: int = 0, audio_track: bool = True) -> None:
    """Render one demo clip with ffmpeg's lavfi sources (H.264 + AAC in MP4); `seed` seeds its noise;
    `audio_track` False (a silent clip only): no audio stream at all."""
    if not audio_track and sound != SILENT:
        raise ValueError(f"a clip without an audio track is silent, not {sound!r}")
    w, h = size
    x, y = (e.format(d=seconds) for e in MOTIONS[motion])
    audio = SOUNDS[sound]
    if audio.startswith("anoisesrc"):  # (its default seed, -1, is a new one each run: two demos differed)
        audio += f":seed={seed}"
    if "anullsrc" not in audio:
        audio += f":duration={seconds}"
    sound_args = ["-f", "lavfi", "-i", audio] if audio_track else []
    args = ["-loglevel", "error", "-y",
            "-f", "lavfi", "-i", f"color=c=black:s={w}x{h}:r={rate}:d={seconds}",
            "-f", "lavfi", "-i", f"color=c={COLOURS[colour]}:s={h // 3}x{h // 3}:r={rate}:d={seconds}",
            *sound_args,
            "-filter_complex", f"[0][1]overlay=x='{x}':y='{y}':shortest=1[v]",
            "-map", "[v]", *(["-map", "2:a"] if audio_track else []), "-t", str(seconds),
            "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", *(["-c:a", "aac"] if audio_track else []),
            "-f", "mp4", ffmpeg_path(tmp := temp_path(path))]  # (-f: the temp name's ending names no format)
    # written under a temp name, renamed when whole: on a full disk ffmpeg left the video cut short under its
    # own name (hostile trial), which a later demo would take as rendered
    try:
        subprocess.run(ffmpeg_cmd(args), check=True, capture_output=True)
        os.replace(tmp, path)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        if isinstance(e, subprocess.CalledProcessError):
            raise OutputError(f"cannot write {path}: ffmpeg failed: {ffmpeg_reason(e.stderr or b'')}") from None
        if isinstance(e, OSError):
            raise output_error(path, e, path.parent) from None
        raise


# the system's reasons a write fails for, as ffmpeg prints them at the end of a line: said rather than ffmpeg's
# last line, which on a full disk was "Nothing was written into output file, because at least one of its streams
# received no packets."
SYSTEM_REASONS = tuple(os.strerror(n) for n in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EIO,
                                                errno.EFBIG))


def ffmpeg_reason(stderr: bytes) -> str:
    """Why ffmpeg failed, in a few words: the system's reason a write failed for where it printed one, else its
    most telling line (`last_error_line`)."""
    text = stderr.decode("utf-8", "replace")
    return next((r for r in SYSTEM_REASONS if r in text), None) or last_error_line(stderr)


def make_dataset(out: Path, per_combo: int = 1, seed: int = 0) -> Path:
    """Render every colour x motion x sound combination `per_combo` times; write manifest.jsonl.

    Splits are stratified by motion (the tag) so every split sees every tag. Every second silent clip has no
    audio track at all, as many real clips (MSVD's) have none: the model learns that its missing audio
    input is silence (trained only on silent tracks, it named a real clip's missing sound "noise").
    """
    rng = random.Random(seed)
    videos = out / "videos"
    videos.mkdir(parents=True, exist_ok=True)
    entries = []
    combos = list(itertools.product(COLOURS, MOTIONS, SOUNDS)) * per_combo
    rng.shuffle(combos)
    silent = 0
    for i, (colour, motion, sound) in enumerate(combos):
        vid = f"demo{i:03d}_{colour}_{motion}"
        path = videos / f"{vid}.mp4"
        clip_seed = rng.randrange(2 ** 32)  # (anoisesrc's range; drawn for every clip: each keeps its seed)
        silent += sound == SILENT
        track = not (sound == SILENT and silent % 2 == 0)
        if not path.exists():
            make_video(path, colour, motion, sound, seed=clip_seed, audio_track=track)
        entries.append({"video_id": vid, "path": f"videos/{vid}.mp4", "captions": [caption_for(colour, motion, sound)],
                        "tags": [motion]})
    for n, e in enumerate(entries):
        e["split"] = "test" if n % 5 == 0 else "val" if n % 5 == 1 else "train"
    manifest = out / "manifest.jsonl"
    write_manifest(entries, manifest)
    return manifest


def sound_of(caption: str) -> str | None:
    """Which demo sound a caption names (None if none)."""
    return next((s for s in SOUNDS if s in caption), None)


def audio_word_accuracy(preds_path: Path, manifest: Path) -> float:
    """Fraction of the predicted captions that name the right sound."""
    truth = {e["video_id"]: sound_of(e["captions"][0]) for e in read_manifest(manifest) if e.get("captions")}
    preds = json.loads(preds_path.read_text())
    return sum(sound_of(p["caption"]) == truth[p["video_id"]] for p in preds) / max(1, len(preds))


def sound_clips(manifest: Path, split: str = "test") -> int:
    """How many of `split`'s clips have a caption naming a sound: what `audio_word_accuracy` scores."""
    return sum(bool(e.get("captions")) and sound_of(e["captions"][0]) is not None
               for e in read_manifest(manifest) if split_of(e) == split)


# fewer test clips than the default demo's 20 (--per-combo 1: 10, three sounds): each one moves a rate by
# 0.1, and both runs naming none right (0.00 vs 0.00) is a coin's outcome, not a measure of what VGGish adds
MIN_SOUND_CLIPS = 20


def too_few(clips: int | None) -> str:
    """The note after the sound comparison when `clips` (metrics' count; None before it was kept) are too few."""
    return f" ({clips} test clips: too few to compare)" if clips is not None and clips < MIN_SOUND_CLIPS else ""


def write_report(out: Path, metrics: dict, examples: list[dict], weights: str) -> None:
    """DIR/report.md: what was run, the test metrics, the curves and example captions."""
    truth = {e["video_id"]: e["captions"][0] for e in read_manifest(out / "manifest.jsonl")}
    a = metrics["audio_word_accuracy"]
    lines = [
        "# s2vt demo report", "",
        f"Generated {metrics['videos_total']} videos (coloured squares moving left/right/up/down; a tone, noise or "
        f"silence on the audio track, half the silent ones with no audio track at all), extracted ResNet-152, C3D "
        f"and VGGish features with **{weights}** backbone weights (demo settings: 8 frames, 1 clip, 112 px), "
        f"trained S2VT with early stopping, and evaluated on the {metrics['videos']} held-out test videos. Total time: {metrics['seconds']:.0f} s.", "",
        "| test metric | value |", "| --- | --- |",
        # (metrics' "CIDEr" is pycocoevalcap's Cider, which is CIDEr-D: named so, as the demo's last line names it)
        *[f"| {shown} | {metrics[k]:.3f} |" for k, shown in (("BLEU-4", "BLEU-4"), ("METEOR", "METEOR"),
                                                               ("CIDEr", "CIDEr-D"), ("ROUGE-L", "ROUGE-L"))
          if metrics.get(k) is not None],
        f"| tag accuracy (hit@1) | {metrics['hit@1']:.3f} |",
        f"| sound named correctly, with VGGish | {a['with_vggish']:.3f} |",
        f"| sound named correctly, same run without VGGish | {a['without_vggish']:.3f}{too_few(a.get('clips'))} |",
        "",
        "![training curves](run/curves.png)", "", "## Captions of held-out videos (caption.py)", "",
    ]
    for ex in examples:
        vid = Path(ex["video"]).stem
        tags = ", ".join(f"{t['tag']} ({t['p']:.2f})" for t in ex.get("tags", []))
        lines += [f"- `{vid}`: **{ex.get('caption', ex.get('error'))}** — tags: {tags}  ",
                  f"  reference: {truth.get(vid, '?')}"]
    (out / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


# everything a demo writes in its folder, the results first: --overwrite removes them in this order, so
# an interrupted rerun never leaves the old report or metrics beside a new (or half-made) run
DEMO_OUTPUTS = ("report.md", "metrics.json", "run", "run_no_audio", "features", "manifest.jsonl", "videos")
# written first into a new demo folder: a partial demo is still recognised as one
MARKER = ".s2vt-demo"
# held (O_EXCL) by the demo writing into the folder, its pid inside, removed when it ends: a second
# demo, --overwrite or not, would otherwise remove the first one's outputs while it writes them
LOCK = ".s2vt-demo.lock"
# where --overwrite keeps an earlier finished demo's outputs while the new one is made: put back if the new one
# stops (a Ctrl-C, a full disk), removed once it is finished (the earlier demo had been removed before the new
# one began, and a Ctrl-C lost both; trial 75)
PREVIOUS = ".s2vt-demo-previous"
DEFAULT_PER_COMBO = 2  # videos per colour x motion x sound


class DemoFolderError(UserError):
    """An --out the demo would write over (a user's files, or an earlier demo without --overwrite)."""


def is_demo(out: Path) -> bool:
    """Whether `out` holds a demo of ours, finished or partial: its marker, or (a demo from before the
    marker) a manifest of demo videos only."""
    if (out / MARKER).is_file():
        return True
    try:
        entries = read_manifest(out / "manifest.jsonl")
    except (ManifestError, OSError, ValueError):
        return False
    return bool(entries) and all(re.fullmatch(r"demo\d{3}_[a-z]+_[a-z]+", e["video_id"]) for e in entries)


def refuse_running(out: Path) -> None:
    """DemoFolderError when another demo holds `out`'s lock."""
    pid = lock_owner(out / LOCK)
    if pid is not None:
        raise running_demo(out, pid)


def running_demo(out: Path, pid: int) -> DemoFolderError:
    return DemoFolderError(busy_line(f"--out {out}", "another s2vt demo", pid, "is writing into this folder",
                                     "choose another folder", out / LOCK))


def take_lock(out: Path) -> Path:
    """Create `out`'s lock (`locks.take_lock`: of two demos starting together one gets it; a stale one
    is replaced). DemoFolderError while another demo holds it."""
    try:
        return take_file_lock(out / LOCK, lambda pid: running_demo(out, pid))
    except LockFileError as e:  # (prepare_folder words it for the folder, as mkdir's)
        raise e.error from None


def prepare_folder(out: Path, overwrite: bool) -> Path:
    """Refuse `out` while another demo writes into it, and a non-empty one unless it holds an earlier
    demo and `overwrite`; take its lock, then remove that demo's own outputs (anything else there is
    kept), so old and new results never mix. Returns the lock: the caller releases it (release_lock).
    A folder the file system refuses (/proc, /sys, read-only, a path under a file) is a DemoFolderError."""
    try:
        return claim_folder(out, overwrite)
    except OSError as e:  # (from mkdir, the lock, the marker or the removals: the lock is released by then)
        raise DemoFolderError(f"--out {out}: cannot write there: {refusal(out, e)}") from None


def claim_folder(out: Path, overwrite: bool) -> Path:
    """prepare_folder's steps; what the file system refuses is its OSError."""
    if out.exists() and not out.is_dir():
        raise DemoFolderError(f"--out {out}: a file, not a folder")
    if out.is_dir():
        refuse_running(out)  # (before the other refusals: "pass --overwrite" would not help)
    held = sorted(p.name for p in out.iterdir() if p.name != LOCK) if out.is_dir() else []
    if held:
        shown = ", ".join(held[:4]) + (", ..." if len(held) > 4 else "")
        if not is_demo(out):
            raise DemoFolderError(f"--out {out} is not empty and holds no demo ({shown}): choose a new or empty "
                                  "folder (the demo writes manifest.jsonl, videos/, features/, run/ there)")
        if not overwrite:
            # (a killed --overwrite left the finished demo it replaced in PREVIOUS: named, not one name among the
            # listed; trial 76)
            kept = (f"; its last finished demo is in {out / PREVIOUS}, kept aside by an --overwrite that was killed"
                    if (out / PREVIOUS).is_dir() and not (out / "report.md").is_file() else "")
            raise DemoFolderError(f"--out {out} holds an earlier demo ({shown}{kept}): pass --overwrite to replace "
                                  "it, or choose another folder")
    out.mkdir(parents=True, exist_ok=True)
    lock = take_lock(out)
    try:
        previous = out / PREVIOUS
        if held and (out / "report.md").is_file():  # (a finished demo: its report is written last)
            remove(previous)  # (an older one a killed demo had kept aside: this one is newer, and finished)
            previous.mkdir()
            for name in DEMO_OUTPUTS:
                if (out / name).exists() or (out / name).is_symlink():
                    (out / name).rename(previous / name)
        for name in DEMO_OUTPUTS if held else ():  # (a partial demo's: a finished one kept aside stays)
            remove(out / name)
        (out / MARKER).write_text("made by `s2vt demo`; `s2vt demo --overwrite` replaces this folder's demo\n")
    except BaseException:
        release_lock(lock)
        raise
    return lock


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def restore_previous(out: Path) -> bool:
    """Put back the earlier demo --overwrite kept aside (PREVIOUS), in place of the new one's partial outputs;
    whether there was one."""
    previous = out / PREVIOUS
    if not previous.is_dir():
        return False
    for name in DEMO_OUTPUTS:
        remove(out / name)
        if (previous / name).exists() or (previous / name).is_symlink():
            (previous / name).rename(out / name)
    shutil.rmtree(previous)
    return True


def run_demo(out: Path, per_combo: int = DEFAULT_PER_COMBO, overwrite: bool = False) -> dict:
    """The whole pipeline on a generated dataset; returns DIR/metrics.json's content. An earlier demo --overwrite
    replaces is kept aside until this one is finished, and put back if it stops."""
    at_least("--per-combo", per_combo, 1)  # (0 renders nothing and would fail only after making folders)
    lock = prepare_folder(out, overwrite)  # (before any work: a refusal leaves the folder as it was)
    try:
        metrics = demo_steps(out, per_combo)
    except UserError as e:  # (a full disk while rendering or training: the extraction step's advice, alike)
        kept = restore_previous(out)
        raise DemoStepError(f"{e} ({again_advice(str(out), per_combo, kept)})") from None
    except BaseException:  # (a Ctrl-C, extraction's exit)
        restore_previous(out)
        raise
    else:  # (finished: a Ctrl-C from here on leaves the new demo, the earlier one's remains beside it)
        remove(out / PREVIOUS)
        return metrics
    finally:  # (a Ctrl-C or a failure too: the next demo in this folder is not refused)
        release_lock(lock)


def demo_steps(out: Path, per_combo: int) -> dict:
    """run_demo's steps, in a prepared folder whose lock this process holds."""
    from extract.__main__ import main as extract_main
    from extract.backbones.weights import find_weights

    from .engine import TrainConfig, train
    from .captioner import caption_files
    from .predict import evaluate
    from .checkpoint import read_checkpoint

    start = time.time()
    say = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    say(f"[1/6] rendering demo videos into {out / 'videos'} (half the silent ones with no audio track, as many real "
        "clips: their features' note says so)")
    manifest = make_dataset(out, per_combo)
    pretrained = all(find_weights(m, None, required=False) for m in ("resnet152", "c3d", "vggish"))
    weights = "pretrained" if pretrained else "random"
    say(f"[2/6] extracting features with {'pretrained' if pretrained else 'SEEDED RANDOM'} weights "
        "(demo settings: 8 frames, 1 clip, 112 px)")
    # (a failure's advice is the demo's: extract's "rerun the same command" would resume nothing here)
    rc = extract_main([str(manifest), "--out", str(out / "features"), "--weights", weights,
                       "--frames", "8", "--clips", "1", "--image-size", "112"],
                      rerun_line=again_advice(str(out), per_combo))
    if rc == 130:  # Ctrl-C in extraction: the demo's one line (`main`) says what to rerun, not extract's
        raise KeyboardInterrupt
    if rc != 0:
        raise SystemExit(rc)
    train_kw = DEMO_RECIPE
    say(f"[3/6] training S2VT -> {out / 'run'}")
    train(TrainConfig.of(str(manifest), str(out / "features"), str(out / "run"), **train_kw))
    say("[4/6] evaluating on the held-out test split")
    metrics = evaluate(str(out / "run" / "best.pt"), str(manifest), str(out / "features"), "test", beam=5,
                       out=str(out / "run" / "preds_test.json"))
    test_ids = [e["video_id"] for e in read_manifest(manifest) if e["split"] == "test"][:2]
    say("[5/6] captioning two held-out videos with caption.py's code")
    with warnings.catch_warnings():  # (the random-weight notices were given at step 2)
        warnings.simplefilter("ignore")
        examples = list(caption_files([str(out / "videos" / f"{v}.mp4") for v in test_ids],
                                      str(out / "run" / "best.pt"), beam=5, tags=2))
    for ex in examples:
        say(f"  {Path(ex['video']).name}: {ex.get('caption', ex.get('error'))}")
    say("[6/6] the same run without the audio modality (vggish), to show what sound adds")
    # (every modality the first run trained on but vggish: a modality added to extract's registry is in both runs,
    # so the two differ by the sound alone; trial 100)
    # (in the first run's order, which its model's fusion follows: sorted, the run differed by more; trial 102)
    first = read_checkpoint(out / "run" / "best.pt")["config"]["modalities"]
    pictures = [m for m in first if m != "vggish"]
    train(TrainConfig.of(str(manifest), str(out / "features"), str(out / "run_no_audio"),
                      modalities=pictures, quiet=True, **train_kw))
    evaluate(str(out / "run_no_audio" / "best.pt"), str(manifest), str(out / "features"), "test", beam=5,
             out=str(out / "run_no_audio" / "preds_test.json"))
    metrics["audio_word_accuracy"] = {
        "with_vggish": audio_word_accuracy(out / "run" / "preds_test.json", manifest),
        "without_vggish": audio_word_accuracy(out / "run_no_audio" / "preds_test.json", manifest),
        "clips": sound_clips(manifest)}
    metrics["videos_total"] = len(read_manifest(manifest))
    metrics["weights"] = weights
    metrics["seconds"] = round(time.time() - start, 1)
    atomic_write_json(out / "metrics.json", metrics)
    write_report(out, metrics, examples, weights)
    return metrics


class DemoStepError(UserError):
    """A step of the demo that failed (a video, a checkpoint the disk cannot hold), with what to run again."""


def again_advice(out: str, per_combo: int, kept: bool = False) -> str:
    """What every failed step of a demo ends its line with (a partial demo is left in `out`; `kept`: the earlier
    demo it was to replace is there as it was instead)."""
    if kept:
        return f"the earlier demo in {out} is kept as it was; to replace it: {restart_command(out, per_combo)}"
    return f"to start the demo again: {restart_command(out, per_combo)}"


def restart_command(out: str, per_combo: int) -> str:
    """The command that starts a demo in `out` again, as the user started this one (a demo does not
    resume: a plain rerun refuses the partial demo in `out`)."""
    again = [*invoked_as("demo"), "--out", out, "--overwrite"]
    if per_combo != DEFAULT_PER_COMBO:
        again[-1:-1] = ["--per-combo", str(per_combo)]
    return shell_join(again)


def main(argv: list[str] | None = None) -> int:
    if argv is None or sys.stderr is None:  # (`python -m s2vt.demo 2>&-`: its lines discarded, the demo made)
        guard_stderr()
    with terminate_as_interrupt() as terminated:  # (`python -m s2vt.demo`: a SIGTERM stops it as a Ctrl-C does)
        try:
            return exit_status(run_main(argv), terminated)
        except UserError as e:  # (bad input, one line: `python -m s2vt.demo --out ""` was a traceback, exit 1)
            from .errors import one_line
            print(f"error: {one_line(str(e))}", file=sys.stderr)
            return 2


def run_main(argv: list[str] | None) -> int:
    p = Parser(prog=shell_join(invoked_as("demo")), description=__doc__.splitlines()[0])
    p.add_argument("--out", default="s2vt-demo", help="output folder")
    p.add_argument("--per-combo", type=int, default=DEFAULT_PER_COMBO,
                   help="videos per colour x motion x sound combination")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an earlier demo in --out (a finished one is kept aside until the new one is "
                   "finished, and put back if it stops); a folder holding anything else is refused even so")
    show_defaults(p)
    args = p.parse_args(argv)
    refuse_unusable_paths({"--out": args.out})  # ("" is the current folder; "nosuch/..")
    try:
        m = run_demo(Path(args.out), args.per_combo, args.overwrite)
    except KeyboardInterrupt:
        # a demo does not resume (a plain rerun refuses the partial demo in --out): start it again
        if (Path(args.out) / "report.md").is_file():  # (a partial demo has none: the earlier one was put back)
            print(f"interrupted: the earlier demo in {args.out} is kept as it was; to replace it: "
                  f"{restart_command(args.out, args.per_combo)}", file=sys.stderr)
        else:
            print(f"interrupted: {args.out} holds a partial demo; to start it again: "
                  f"{restart_command(args.out, args.per_combo)}", file=sys.stderr)
        return 130
    a = m["audio_word_accuracy"]
    print(f"demo done in {m['seconds']:.0f}s: test CIDEr-D {m['CIDEr']:.3f}, BLEU-4 {m['BLEU-4']:.3f}, "
          f"tag accuracy {m['hit@1']:.3f}; sound named right {a['with_vggish']:.2f} with VGGish vs "
          f"{a['without_vggish']:.2f} without{too_few(a.get('clips'))}. Report: {Path(args.out) / 'report.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
