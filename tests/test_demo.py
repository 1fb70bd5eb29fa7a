"""`s2vt demo` end to end, as a newcomer runs it (about 4 minutes on 2 CPU cores)."""
import json

from .conftest import run_cli


def test_demo_meets_its_targets(tmp_path):
    out = tmp_path / "demo"
    proc = run_cli("-m", "s2vt.cli", "demo", "--out", str(out), timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    m = json.loads((out / "metrics.json").read_text())
    assert m["CIDEr"] >= 1.0 and m["hit@1"] >= 0.9
    a = m["audio_word_accuracy"]
    assert a["with_vggish"] >= a["without_vggish"] + 0.3  # sound words need the audio modality
    # every second silent clip has no audio track (as MSVD's clips): its VGGish features are 0 rows, which the
    # model reads as its learned missing input
    import numpy as np
    empty = [f.stem for f in (out / "features" / "vggish").glob("*.npy") if np.load(f).shape[0] == 0]
    assert len(empty) == 16, empty
    for p in ("videos", "manifest.jsonl", "features/meta.json", "run/best.pt", "run/last.pt", "run/metrics.csv",
              "run/curves.png", "report.md"):
        assert (out / p).exists(), p
    report = (out / "report.md").read_text()
    assert "| CIDEr-D |" in report and "caption.py" in report and "random" in report
    assert set(m) >= {"BLEU-4", "CIDEr", "METEOR", "ROUGE-L", "hit@1", "gap", "tag_f1", "seconds"}
    # the run without sound reads every other modality of the first run (it named resnet152 and c3d, so a modality
    # added to extract's registry was left out of it too: the two runs differed by more than the sound; trial 100)
    from s2vt.checkpoint import read_checkpoint
    trained = [list(read_checkpoint(out / run / "best.pt")["config"]["modalities"]) for run in ("run", "run_no_audio")]
    assert trained[1] == [m for m in trained[0] if m != "vggish"] and "vggish" in trained[0]  # (in its order too)


def demo_cli(capsys, *args):
    from s2vt.cli import main

    code = main(["demo", *map(str, args)])
    return code, capsys.readouterr().err.strip().splitlines()


def test_demo_refuses_a_folder_of_the_users(tmp_path, capsys):
    """A non-empty --out that holds no demo is never written into, --overwrite or not."""
    out = tmp_path / "mine"
    out.mkdir()
    mine = '{"video_id": "v1", "path": "v1.mp4", "captions": ["my own caption"]}\n'
    (out / "manifest.jsonl").write_text(mine)
    for extra in ([], ["--overwrite"]):
        code, err = demo_cli(capsys, "--out", out, *extra)
        assert code == 2 and len(err) == 1 and "not empty and holds no demo" in err[0], err
        assert sorted(p.name for p in out.iterdir()) == ["manifest.jsonl"]
        assert (out / "manifest.jsonl").read_text() == mine
    (tmp_path / "file").write_text("x")
    code, err = demo_cli(capsys, "--out", tmp_path / "file")
    assert code == 2 and len(err) == 1 and "not a folder" in err[0]


def test_demo_refuses_a_folder_the_file_system_refuses_in_one_line(tmp_path, capsys, monkeypatch):
    """mkdir's OSError (a path under a file, /proc) and one from taking the lock in a folder that exists
    (read-only: root ignores modes, so the refusal is simulated) were tracebacks, exit 1."""
    import os

    (tmp_path / "file").write_text("x")
    code, err = demo_cli(capsys, "--out", tmp_path / "file" / "sub")
    assert code == 2 and err == [f"error: --out {tmp_path / 'file' / 'sub'}: cannot write there: "
                                 f"{tmp_path / 'file'} is a file, not a folder"]
    code, err = demo_cli(capsys, "--out", "/proc/s2vt-demo")
    assert code == 2 and len(err) == 1 and err[0].startswith("error: --out /proc/s2vt-demo: cannot write there: ")

    def read_only(*a, **kw):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(os, "open", read_only)
    (tmp_path / "ro").mkdir()
    code, err = demo_cli(capsys, "--out", tmp_path / "ro")
    assert code == 2 and err == [f"error: --out {tmp_path / 'ro'}: cannot write there: Permission denied"]
    assert list((tmp_path / "ro").iterdir()) == []


def test_demo_into_a_broken_symbolic_link_says_so(tmp_path, capsys):
    """--out naming a link to a folder since removed said "cannot write there: File exists"."""
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "gone")
    for out in (link, link / "sub"):
        code, err = demo_cli(capsys, "--out", out)
        assert (code, err) == (2, [f"error: --out {out}: cannot write there: {link} is a broken symbolic link (to "
                                   f"{tmp_path / 'gone'}, which does not exist): remove it, or make what it points "
                                   "to"])
    assert link.is_symlink() and not (tmp_path / "gone").exists()


def fake_demo(out, marker=True):
    from s2vt.demo import MARKER
    from s2vt.manifest import write_manifest

    (out / "run").mkdir(parents=True)
    (out / "run" / "best.pt").write_bytes(b"old")
    (out / "videos").mkdir()
    (out / "report.md").write_text("# old report\n")
    (out / "metrics.json").write_text("{}")
    write_manifest([{"video_id": "demo000_red_left", "path": "videos/demo000_red_left.mp4", "captions": ["c"],
                     "tags": ["left"], "split": "train"}], out / "manifest.jsonl")
    if marker:
        (out / MARKER).write_text("")
    (out / "notes.txt").write_text("the user's")


def test_demo_over_an_earlier_demo_needs_overwrite_and_clears_it(tmp_path, capsys):
    from s2vt.demo import MARKER, PREVIOUS, prepare_folder, release_lock

    out = tmp_path / "demo"
    fake_demo(out)
    before = sorted(p.name for p in out.iterdir())
    code, err = demo_cli(capsys, "--out", out)
    assert code == 2 and len(err) == 1 and "earlier demo" in err[0] and "--overwrite" in err[0], err
    assert sorted(p.name for p in out.iterdir()) == before and (out / "run" / "best.pt").read_bytes() == b"old"
    release_lock(prepare_folder(out, overwrite=True))  # what `s2vt demo --overwrite` does before rendering
    # (the finished demo kept aside until the new one is finished; the user's notes: kept)
    assert sorted(p.name for p in out.iterdir()) == [MARKER, PREVIOUS, "notes.txt"]
    assert (out / PREVIOUS / "run" / "best.pt").read_bytes() == b"old"
    old = tmp_path / "old"  # a demo made before the marker is recognised by its manifest
    fake_demo(old, marker=False)
    release_lock(prepare_folder(old, overwrite=True))
    assert sorted(p.name for p in old.iterdir()) == [MARKER, PREVIOUS, "notes.txt"]
    new = tmp_path / "new" / "demo"  # a new folder: made, marked
    release_lock(prepare_folder(new, overwrite=False))
    assert (new / MARKER).is_file()


def test_an_overwrite_that_stops_puts_the_earlier_demo_back(tmp_path, capsys, monkeypatch):
    """`demo --overwrite` removed the earlier demo before making the new one: a Ctrl-C lost both (trial 75). The
    earlier finished demo is kept aside and put back if the new one stops, removed once the new one is finished."""
    import s2vt.demo

    out = tmp_path / "demo"
    fake_demo(out)
    def files():  # (the marker's text is the demo's, rewritten)
        return {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file() and p.name != ".s2vt-demo"}
    before = files()

    def stops(out, per_combo):
        (out / "videos").mkdir()
        (out / "videos" / "demo000_red_left.mp4").write_bytes(b"partial")
        raise KeyboardInterrupt
    monkeypatch.setattr(s2vt.demo, "demo_steps", stops)
    code, err = demo_cli(capsys, "--out", out, "--overwrite")
    assert code == 130 and err == [f"interrupted: the earlier demo in {out} is kept as it was; to replace it: "
                                   f"s2vt demo --out {out} --overwrite"], err
    assert files() == before

    def finishes(out, per_combo):
        (out / "report.md").write_text("# new report\n")
        return {"BLEU-4": 0.5}
    # a killed --overwrite (no Ctrl-C to put it back): the finished demo kept aside is named by a plain rerun
    (out / s2vt.demo.PREVIOUS).mkdir()
    for name in ("report.md", "run"):
        (out / name).rename(out / s2vt.demo.PREVIOUS / name)
    code, err = demo_cli(capsys, "--out", out)
    assert code == 2 and f"its last finished demo is in {out / s2vt.demo.PREVIOUS}, kept aside by an --overwrite " \
        "that was killed" in err[0], err
    monkeypatch.setattr(s2vt.demo, "demo_steps", finishes)
    assert s2vt.demo.run_demo(out, overwrite=True) == {"BLEU-4": 0.5}
    assert sorted(p.name for p in out.iterdir()) == [s2vt.demo.MARKER, "notes.txt", "report.md"]
    assert (out / "report.md").read_text() == "# new report\n"


def test_demo_refuses_no_videos_per_combination_before_making_anything(tmp_path, capsys):
    for n in (0, -3):
        code, err = demo_cli(capsys, "--out", tmp_path / "d", "--per-combo", n)
        assert (code, err) == (2, [f"error: --per-combo must be at least 1, not {n}"])
        assert not (tmp_path / "d").exists()


def test_an_interrupted_demo_says_one_line_of_what_to_rerun(tmp_path, capsys, monkeypatch):
    """A Ctrl-C during extraction printed extract's 'rerun the same command to resume' and then the
    demo's 'rerun with --overwrite': a plain rerun refuses the partial demo."""
    import extract.__main__
    import s2vt.demo
    import s2vt.engine
    from s2vt.manifest import write_manifest

    def one_video(out, per_combo=1, seed=0):  # (no ffmpeg rendering: the stages after it are interrupted)
        (out / "videos").mkdir(parents=True, exist_ok=True)
        (out / "videos" / "demo000_red_left.mp4").write_bytes(b"")
        write_manifest([{"video_id": "demo000_red_left", "path": "videos/demo000_red_left.mp4", "captions": ["c"],
                         "tags": ["left"], "split": "train"}], out / "manifest.jsonl")
        return out / "manifest.jsonl"

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(s2vt.demo, "make_dataset", one_video)
    out = tmp_path / "demo"
    for stage, (module, name) in {"extract": (extract.__main__, "Extractor"), "train": (s2vt.engine, "train"),
                                  "render": (s2vt.demo, "make_dataset")}.items():
        if stage == "train":  # (extraction done, as far as the demo can tell)
            monkeypatch.setattr(extract.__main__, "main", lambda argv, rerun_line=True: 0)
        monkeypatch.setattr(module, name, interrupt)
        code, err = demo_cli(capsys, "--out", out, "--overwrite", "--per-combo", 3)
        interrupted = [line for line in err if line.startswith("interrupted")]
        assert code == 130 and interrupted == [f"interrupted: {out} holds a partial demo; to start it again: "
                                               f"s2vt demo --out {out} --per-combo 3 --overwrite"], (stage, err)
        assert not (out / s2vt.demo.LOCK).exists()  # (released: the rerun it names is not refused)


def test_an_extraction_that_fails_in_a_demo_gives_the_demos_advice(tmp_path, capsys, monkeypatch):
    """A store that cannot be written mid-extraction (a full disk) ended the demo with extract's own
    advice, "rerun the same command to resume", which for the demo is refused (a partial demo in --out)."""
    import pytest

    import extract.__main__
    import s2vt.demo
    from s2vt.fileio import OutputError
    from s2vt.manifest import write_manifest

    def one_video(out, per_combo=1, seed=0):
        (out / "videos").mkdir(parents=True, exist_ok=True)
        (out / "videos" / "demo000_red_left.mp4").write_bytes(b"")
        write_manifest([{"video_id": "demo000_red_left", "path": "videos/demo000_red_left.mp4", "captions": ["c"],
                         "tags": ["left"], "split": "train"}], out / "manifest.jsonl")
        return out / "manifest.jsonl"

    class FullDisk:
        def __init__(self, cfg):
            pass

        def meta(self):
            return {}

        def run(self, todo, on_result, workers=1):
            raise OutputError("cannot write features/vggish/demo000_red_left.npy: No space left on device")

    monkeypatch.setattr(s2vt.demo, "make_dataset", one_video)
    monkeypatch.setattr(extract.__main__, "Extractor", FullDisk)
    out = tmp_path / "demo"
    with pytest.raises(SystemExit) as e:
        demo_cli(capsys, "--out", out, "--per-combo", 3)
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error")]
    assert e.value.code == 2 and err == [
        "error: cannot write features/vggish/demo000_red_left.npy: No space left on device (stopped after 0 videos "
        f"written, complete files only; to start the demo again: s2vt demo --out {out} --per-combo 3 --overwrite)"]
    assert not (out / s2vt.demo.LOCK).exists()


def test_a_video_the_disk_cannot_hold_is_one_line_and_no_partial_video(tmp_path, capsys, monkeypatch):
    """A full disk while rendering: ffmpeg's CalledProcessError was a traceback (exit 1) and the video was left cut
    short under its final name (hostile trial). Now ffmpeg writes a temp name, renamed when whole; its failure is
    one line with ffmpeg's reason and the demo's advice, exit 2, and nothing of the video is left."""
    import subprocess

    import s2vt.demo

    def full_disk(argv, **kwargs):
        out = argv[-1].removeprefix("file:")
        with open(out, "wb") as f:  # (what ffmpeg wrote before the disk filled)
            f.write(bytes(16384))
        raise subprocess.CalledProcessError(228, argv, b"", (
            b"[out#0/mp4 @ 0x55e4] Could not write header (incorrect codec parameters ?): No space left on device\n"
            b"[fc#0 @ 0x55e4] Terminating thread with return code -28 (No space left on device)\n"
            b"[out#0/mp4 @ 0x55e4] Nothing was written into output file, because at least one of its streams "
            b"received no packets.\n"))
    monkeypatch.setattr(s2vt.demo.subprocess, "run", full_disk)
    out = tmp_path / "demo"
    code, err = demo_cli(capsys, "--out", out, "--per-combo", 1)
    assert code == 2 and err[-1].startswith(f"error: cannot write {out / 'videos'}/demo000_"), err
    assert err[-1].endswith(".mp4: ffmpeg failed: No space left on device (to start the demo again: s2vt demo --out "
                            f"{out} --per-combo 1 --overwrite)"), err
    assert [line for line in err if line.startswith("error")] == err[-1:]
    assert list((out / "videos").iterdir()) == [] and not (out / s2vt.demo.LOCK).exists()


def test_a_training_step_that_fails_in_a_demo_gives_the_demos_advice(tmp_path, capsys, monkeypatch):
    """A full disk while the demo trained said "cannot write .../last.pt: No space left on device" alone, without
    the "to start the demo again" its extraction step gives."""
    import extract.__main__
    import s2vt.demo
    import s2vt.engine
    from s2vt.fileio import OutputError

    def one_video(out, per_combo=1, seed=0):
        (out / "videos").mkdir(parents=True, exist_ok=True)
        (out / "manifest.jsonl").write_text("")
        return out / "manifest.jsonl"

    def full_disk(cfg):
        raise OutputError(f"cannot write {cfg.out}/last.pt: No space left on device")
    monkeypatch.setattr(s2vt.demo, "make_dataset", one_video)
    monkeypatch.setattr(extract.__main__, "main", lambda argv, rerun_line=True: 0)
    monkeypatch.setattr(s2vt.engine, "train", full_disk)
    out = tmp_path / "demo"
    code, err = demo_cli(capsys, "--out", out)
    assert code == 2 and err[-1] == (f"error: cannot write {out / 'run'}/last.pt: No space left on device (to start "
                                     f"the demo again: s2vt demo --out {out} --overwrite)"), err
    assert not (out / s2vt.demo.LOCK).exists()


def test_a_demo_into_a_folder_another_demo_is_writing_is_refused(tmp_path, capsys):
    """`s2vt demo --overwrite` removed the outputs of a demo still writing them in the same --out."""
    import os
    import subprocess
    import sys

    from s2vt.demo import LOCK, prepare_folder, release_lock
    from s2vt.locks import lock_text

    out = tmp_path / "demo"
    fake_demo(out)
    (out / LOCK).write_text(lock_text())  # (a live process: as the running demo's lock holds)
    before = sorted(p.name for p in out.iterdir())
    for extra in (["--overwrite"], []):
        code, err = demo_cli(capsys, "--out", out, *extra)
        assert (code, err) == (2, [f"error: --out {out}: another s2vt demo (pid {os.getpid()}) is writing into this "
                                   f"folder: wait for it to end, or choose another folder (if none runs, remove "
                                   f"{out / LOCK})"])
        assert sorted(p.name for p in out.iterdir()) == before and (out / "run" / "best.pt").read_bytes() == b"old"
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (out / LOCK).write_text(gone.stdout)  # a killed demo's lock: its process is gone, the lock is stale
    lock = prepare_folder(out, overwrite=True)
    assert lock.read_text() == lock_text() and not (out / "run").exists()  # (its pid and start time)
    release_lock(lock)
    assert not lock.exists()


def test_demo_videos_render_the_same_twice(tmp_path):
    """Two demos on one machine rendered different 'noise plays' videos (hostile trial): ffmpeg's anoisesrc
    drew a new random seed per run, so those videos, their features and the training on them differed. Now
    each clip's noise is seeded."""
    from s2vt.demo import SOUNDS, make_video

    for sound in SOUNDS:
        a, b = tmp_path / f"a_{sound[:5]}.mp4", tmp_path / f"b_{sound[:5]}.mp4"
        make_video(a, "red", "left", sound, seconds=1.0)
        make_video(b, "red", "left", sound, seconds=1.0)
        assert a.read_bytes() == b.read_bytes(), sound


def test_a_silent_demo_clip_may_have_no_audio_track(tmp_path):
    """Every second silent demo clip has no audio stream at all (as MSVD's clips): only a silent one may."""
    import pytest

    from extract.video import probe
    from s2vt.demo import SILENT, make_video

    make_video(tmp_path / "none.mp4", "red", "left", SILENT, seconds=1.0, audio_track=False)
    make_video(tmp_path / "track.mp4", "red", "left", SILENT, seconds=1.0)
    assert not probe(tmp_path / "none.mp4").has_audio and probe(tmp_path / "track.mp4").has_audio
    with pytest.raises(ValueError, match="is silent"):
        make_video(tmp_path / "x.mp4", "red", "left", "a tone plays", seconds=1.0, audio_track=False)
    assert not (tmp_path / "x.mp4").exists()


def test_a_demo_too_small_to_compare_the_sound_says_so(tmp_path, capsys, monkeypatch):
    """`s2vt demo --per-combo 1` holds 10 test clips (48 clips, one in five held out for test): its last line said
    'sound named right 0.00 with VGGish vs 0.00 without' as if the audio modality added nothing, with no word that
    so few clips cannot tell the two runs apart (hostile trial). Now the line says so; the default demo's does not."""
    import s2vt.demo
    from s2vt.cli import main

    def metrics(clips):
        return {"seconds": 60, "CIDEr": 1.0, "BLEU-4": 0.5, "hit@1": 1.0,
                "audio_word_accuracy": {"with_vggish": 0.0, "without_vggish": 0.0, "clips": clips}}
    for per_combo, clips in ((1, 10), (2, 20)):
        monkeypatch.setattr(s2vt.demo, "run_demo", lambda out, per_combo, overwrite: metrics(clips))
        assert main(["demo", "--out", str(tmp_path / "d"), "--per-combo", str(per_combo)]) == 0
        said = capsys.readouterr().out
        assert said.count("\n") == 1 and "0.00 with VGGish vs 0.00 without" in said, said
        assert ("(10 test clips: too few to compare)" in said) == (per_combo == 1), said
    # the clip counts themselves, from a manifest as the demo writes it
    from s2vt.manifest import write_manifest
    entries = [{"video_id": f"demo{n:03d}_red_left", "path": "x.mp4", "tags": ["left"],
                "captions": [s2vt.demo.caption_for("red", "left", "a tone plays")],
                "split": "test" if n % 5 == 0 else "train"} for n in range(48)]
    write_manifest(entries, tmp_path / "manifest.jsonl")
    assert s2vt.demo.sound_clips(tmp_path / "manifest.jsonl") == 10
