"""`python -m extract` end to end: stores, failures, resume, shards, interrupts, bad input."""
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from s2vt.store import FeatureStore, stable_shard

from .conftest import REPO, run_cli

SMALL = ["--weights", "random", "--frames", "4", "--clips", "2", "--image-size", "64"]


def leftovers(store):
    return [p for p in store.rglob(".*") if p.is_file()]


@pytest.fixture(scope="module")
def folder(tmp_path_factory, videos, broken):
    d = tmp_path_factory.mktemp("mixed")
    for name in ("mp4_aac", "webm_opus", "mov_silent", "short", "rotated"):
        shutil.copy(videos[name], d / videos[name].name)
    for name, p in broken.items():
        shutil.copy(p, d / p.name)
    return d


@pytest.fixture(scope="module")
def extracted(folder, tmp_path_factory):
    store = tmp_path_factory.mktemp("store")
    proc = run_cli("-m", "extract", str(folder), "--out", str(store), *SMALL)
    return store, proc


def test_good_videos_written(extracted):
    store, proc = extracted
    fs = FeatureStore(store)
    for vid in ("mp4_aac", "webm_opus", "mov_silent", "short", "rotated"):
        assert fs.read("resnet152", vid).shape == (4, 2048)
        assert fs.read("c3d", vid).shape == (2, 4096)
    assert fs.read("vggish", "mp4_aac").shape == (2, 128)
    assert fs.read("vggish", "mov_silent").shape == (0, 128)
    assert fs.read("vggish", "short").shape == (0, 128)  # 0.4 s < one 0.96 s example
    assert np.load(store / "resnet152" / "mp4_aac.npy").dtype == np.float16
    meta = json.loads((store / "meta.json").read_text())
    assert meta["frames"] == 4 and meta["clips"] == 2 and meta["backbones"]["c3d"] == "random(seed=0)"
    notes = [json.loads(x) for x in (store / "notes.jsonl").read_text().splitlines()]
    assert {"mov_silent", "short"} <= {n["video_id"] for n in notes}
    assert leftovers(store) == []


def test_failures_logged_and_run_continues(extracted):
    store, proc = extracted
    assert proc.returncode == 1
    assert "4 videos failed" in proc.stderr and "Traceback" not in proc.stderr
    failed = {json.loads(x)["video_id"]: json.loads(x)["reason"]
              for x in (store / "failures.jsonl").read_text().splitlines()}
    assert set(failed) == {"zero", "text", "corrupt", "audio_only"}
    assert "empty file" in failed["zero"] and "no video stream" in failed["audio_only"]
    # (an MP4 cut before its index: said to be incomplete, not only unreadable; hostile trial)
    assert "the file looks cut short: its index (moov) is missing" in failed["corrupt"], failed["corrupt"]
    assert not (store / "resnet152" / "zero.npy").exists()


def test_rerun_skips_finished(extracted, folder):
    store, _ = extracted
    before = {p: p.stat().st_mtime_ns for p in store.rglob("*.npy")}
    proc = run_cli("-m", "extract", str(folder), "--out", str(store), *SMALL)
    assert "5 already done" in proc.stderr
    assert {p: p.stat().st_mtime_ns for p in store.rglob("*.npy")} == before


def test_store_refuses_other_settings(extracted, folder):
    store, _ = extracted
    proc = run_cli("-m", "extract", str(folder), "--out", str(store), *SMALL[:-2], "--image-size", "96")
    assert proc.returncode == 2 and "image_size" in proc.stderr and "Traceback" not in proc.stderr


def test_shards_partition_the_videos(videos, tmp_path):
    manifest = tmp_path / "m.jsonl"
    ids = [f"clip-{i}" for i in range(6)]
    manifest.write_text("".join(json.dumps({"video_id": v, "path": str(videos["mov_silent"])}) + "\n"
                                for v in ids))
    for i in range(2):
        proc = run_cli("-m", "extract", str(manifest), "--out", str(tmp_path / "s"), *SMALL,
                       "--modalities", "resnet152", "--shard", f"{i}/2")
        assert proc.returncode == 0, proc.stderr
        written = {p.stem for p in (tmp_path / "s" / "resnet152").glob("*.npy")}
        assert written == {v for v in ids if stable_shard(v, 2) <= i}
    assert written == set(ids)


@pytest.mark.parametrize("line, message", [
    ('{"video_id": "../../etc/passwd", "path": "x.mp4"}', "invalid video_id"),
    ('{"video_id": "ok", "path": "x.mp4"', "not valid JSON"),
    ('{"path": "x.mp4"}', "missing field 'video_id'"),
    # a pretty-printed JSON array: its first line alone was "not valid JSON", of a valid file
    ('[\n  {"video_id": "ok", "path": "x.mp4"}\n]', "bad.jsonl: one JSON document over 3 lines, not JSON lines"),
])
def test_bad_manifest_is_one_line_exit_2(tmp_path, line, message):
    manifest = tmp_path / "bad.jsonl"
    manifest.write_text(line + "\n")
    proc = run_cli("-m", "extract", str(manifest), "--out", str(tmp_path / "s"), *SMALL)
    assert proc.returncode == 2 and message in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith("error:") and "Traceback" not in proc.stderr


def test_missing_manifest_path_is_logged_failure(tmp_path, videos):
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"video_id": "gone", "path": "nowhere/gone.mp4"}) + "\n"
                        + json.dumps({"video_id": "here", "path": str(videos["mp4_aac"])}) + "\n")
    proc = run_cli("-m", "extract", str(manifest), "--out", str(tmp_path / "s"), *SMALL, "--modalities", "vggish")
    assert proc.returncode == 1 and "1 video failed" in proc.stderr
    assert (tmp_path / "s" / "vggish" / "here.npy").exists()


# `python -c FOLDING ARGS...`: `python -m extract ARGS...` as if its store's file system folded case (macOS's and
# Windows' defaults; Linux's tell case apart)
FOLDING = ("import runpy, sys; from s2vt.store import FeatureStore; FeatureStore.folds_case = lambda self: True; "
           "sys.argv = ['extract', *sys.argv[1:]]; runpy.run_module('extract', run_name='__main__')")


def test_ids_differing_only_in_case_on_a_store_that_folds_case(tmp_path, videos):
    """On macOS's or Windows' default file system `Clip.npy` is `clip.npy`: the second of two such ids wrote over the
    first's features unsaid (or stopped the run). It is a logged failure, the rest extracted; every shard agrees on
    which, so two shards never write both."""
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps({"video_id": v, "path": str(videos["mp4_aac"])}) + "\n"
                                for v in ("clip", "other", "Clip")))
    store = tmp_path / "s"
    proc = run_cli("-c", FOLDING, str(manifest), "--out", str(store), *SMALL, "--modalities", "vggish")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert (f"failed: 1 video has an id that differs only in case from another video's, and {store} is on a file "
            "system that folds case, where their features would be one file (first: Clip beside clip): put the "
            "store on a case-sensitive volume") in proc.stderr
    assert sorted(p.name for p in (store / "vggish").iterdir()) == ["clip.npy", "other.npy"]
    failed = [json.loads(x) for x in (store / "failures.jsonl").read_text().splitlines()]
    assert [f["video_id"] for f in failed] == ["Clip"] and "differs only in case" in failed[0]["reason"]
    manifest.write_text("".join(json.dumps({"video_id": v, "path": str(videos["mp4_aac"])}) + "\n"
                                for v in ("clip", "CLIP")))  # (in shards 0 and 1 of 2: `stable_shard`)
    for i in (1, 0):  # (each shard alone, the one holding the later id first)
        shard = run_cli("-c", FOLDING, str(manifest), "--out", str(tmp_path / "t"), *SMALL, "--modalities", "vggish",
                        "--shard", f"{i}/2")
        # (shard 1's one video failed: exit 2, as any run where every video fails)
        assert shard.returncode == 2 * i and "Traceback" not in shard.stderr, shard.stderr
    assert [p.name for p in (tmp_path / "t" / "vggish").iterdir()] == ["clip.npy"]


def test_missing_weights_exit_2(tmp_path, videos):
    proc = run_cli("-m", "extract", str(videos["mp4_aac"]), "--out", str(tmp_path / "s"),
                   "--weights-dir", str(tmp_path), env={"TORCH_HOME": str(tmp_path / "hub")})
    assert proc.returncode == 2 and "resnet152-394f9c45.pth" in proc.stderr and "Traceback" not in proc.stderr


def test_ctrl_c_loses_nothing(tmp_path, videos):
    n = 150  # enough that a busy machine cannot finish between the 2nd file and the SIGINT
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps({"video_id": f"v{i}", "path": str(videos["mp4_aac"])}) + "\n"
                                for i in range(n)))
    store = tmp_path / "s"
    args = [sys.executable, "-m", "extract", str(manifest), "--out", str(store), *SMALL,
            "--modalities", "resnet152,vggish", "--batch-videos", "1"]
    proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONWARNINGS": "ignore"})
    deadline = time.time() + 120
    while time.time() < deadline and len(list(store.glob("resnet152/*.npy"))) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "rerun the same command to resume" in err
    assert leftovers(store) == []
    for f in store.glob("*/*.npy"):
        np.load(f)  # every file that exists is complete
    done = run_cli(*args[1:])
    assert done.returncode == 0
    assert len(list(store.glob("resnet152/*.npy"))) == n and leftovers(store) == []


@pytest.mark.parametrize("entry", [["-m", "extract"], ["-m", "s2vt", "extract"]])
def test_ctrl_c_pressed_again_and_again_is_said_once(entry, tmp_path, videos):
    """Five SIGINTs 50 ms apart printed `interrupted: 0 videos written ...`, then "Exception ignored in:
    <module 'threading'> Traceback ... KeyboardInterrupt" (hostile trial): the ones after the first, falling
    while the run wound down or the process exited (its frames freed, its decoding threads joined), are quiet."""
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps({"video_id": f"v{i}", "path": str(videos["mp4_aac"])}) + "\n"
                                for i in range(40)))
    args = [sys.executable, *entry, str(manifest), "--out", str(tmp_path / "s"), *SMALL]
    proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONWARNINGS": "ignore"})
    err = []
    for line in proc.stderr:
        err.append(line)
        if "to extract" in line:
            time.sleep(0.3)
            for _ in range(5):
                proc.send_signal(signal.SIGINT)
                time.sleep(0.05)
            break
    err = "".join(err) + proc.stderr.read()
    assert proc.wait(timeout=120) == 130, err
    assert "Traceback" not in err and "Exception ignored" not in err and err.count("interrupted:") == 1, err
    assert err.strip().splitlines()[-1].startswith("interrupted: ")


def test_in_memory_extraction_matches_store(extracted, videos):
    from extract.pipeline import ExtractConfig, Extractor

    store, _ = extracted
    ex = Extractor(ExtractConfig(modalities=("resnet152", "vggish"), frames=4, clips=2, image_size=64,
                                 weights="random"))
    feats = ex.extract(str(videos["mp4_aac"]))
    assert feats["vggish"].shape == (2, 128)
    saved = FeatureStore(store).read("resnet152", "mp4_aac")
    assert np.allclose(feats["resnet152"], saved, rtol=2e-3, atol=2e-3)  # float16 storage


def test_runs_from_a_worker_thread(tmp_path, videos):
    """The Ctrl-C handler is installed from the main thread only; elsewhere the CLI still runs."""
    from extract.__main__ import main

    out = {}
    args = [str(videos["mp4_aac"]), "--out", str(tmp_path / "s"), *SMALL, "--modalities", "vggish"]
    t = threading.Thread(target=lambda: out.setdefault("rc", main(args)))
    t.start()
    t.join()
    assert out.get("rc") == 0 and len(list((tmp_path / "s" / "vggish").glob("*.npy"))) == 1


def test_broken_links_in_a_folder_are_logged_failures(tmp_path, videos):
    """A link to a disk not mounted was skipped unsaid ('no videos in brk'; beside good videos, not counted nor
    in failures.jsonl): now a failure naming where it points, and the rest go on."""
    d = tmp_path / "mixed"
    d.mkdir()
    shutil.copy(videos["short"], d / "good.mp4")
    (d / "v1.mp4").symlink_to("/mnt/unmounted/v1.mp4")
    store = tmp_path / "s"
    proc = run_cli("-m", "extract", str(d), "--out", str(store), *SMALL, "--modalities", "resnet152")
    assert proc.returncode == 1 and "1 written, 1 failed" in proc.stdout + proc.stderr
    why = f"{d / 'v1.mp4'}: broken symbolic link to /mnt/unmounted/v1.mp4"
    assert f"failed: v1: {why}" in proc.stderr
    assert [(f["video_id"], f["reason"]) for f in map(json.loads, (store / "failures.jsonl").open())] == [("v1", why)]
    assert FeatureStore(store).has("resnet152", "good")


def test_a_video_extracted_after_failing_is_no_longer_listed_as_failed(tmp_path, videos):
    """failures.jsonl kept a video's failure after a later run extracted it fine ('1 written, 0 failed', exit 0,
    yet listed as unreadable): a written file's old failure is gone; notes.jsonl, a record of remarks about
    the features in the store (a run for another modality keeps them), stays append-only."""
    d = tmp_path / "v"
    d.mkdir()
    shutil.copy(videos["mov_silent"], d / "good1.mp4")  # first without audio: noted
    store = tmp_path / "s"
    args = ["-m", "extract", str(d), "--out", str(store), *SMALL, "--modalities", "resnet152,vggish"]
    assert run_cli(*args).returncode == 0
    assert [json.loads(x)["video_id"] for x in (store / "notes.jsonl").open()] == ["good1"]
    data = videos["mp4_aac"].read_bytes()
    (d / "good1.mp4").write_bytes(data[:3000])
    for _ in range(2):  # (failed twice: one line, the newest; the run's only video: exit 2)
        proc = run_cli(*args)
        assert proc.returncode == 2, proc.stderr
    assert [json.loads(x)["video_id"] for x in (store / "failures.jsonl").open()] == ["good1"]
    (d / "good1.mp4").write_bytes(data)  # restored, with audio
    proc = run_cli(*args)
    assert proc.returncode == 0 and "1 written, 0 failed" in proc.stdout + proc.stderr, proc.stderr
    assert (store / "failures.jsonl").read_bytes() == b""
    assert [json.loads(x)["video_id"] for x in (store / "notes.jsonl").open()] == ["good1"]  # (kept)
    # (hostile trial: the silent file's "no audio track" note read as the new file's; it names the file it was
    # about, which sources.jsonl's last line for good1, the file as it is now, is not)
    (note,) = map(json.loads, (store / "notes.jsonl").open())
    last = [json.loads(x) for x in (store / "sources.jsonl").open()][-1]
    assert note["note"].startswith("no audio track") and note["path"] == last["path"] == str(d / "good1.mp4")
    assert (note["size"], note["mtime_ns"]) != (last["size"], last["mtime_ns"])
    assert last["size"] == os.path.getsize(d / "good1.mp4")
    assert leftovers(store) == []


def test_a_written_video_clears_its_own_files_failures_only(tmp_path):
    """The failure of another file that went by the same id (refused: the store holds the first's features)
    was removed when the first file was extracted again: its video still has no features, so it stays;
    a line that is not a failure record is kept; the file is rewritten once, at the run's end."""
    store = FeatureStore(tmp_path / "s")
    store.log_failure("v0", str(tmp_path / "a" / "v0.mp4"), "unreadable")
    store.log_failure("v0", str(tmp_path / "b" / "v0.mp4"), "holds v0's features from another video")
    store.log_failure("v1", "v1.mp4", "unreadable")
    with open(store.root / "failures.jsonl", "ab") as f:
        f.write(b"not json\n")
    store.log_failure("v1", "v1.mp4", "unreadable again")  # (the same file failed again: the newest kept)
    before = (store.root / "failures.jsonl").read_bytes()
    store.forget("v0", str(tmp_path / "a" / "v0.mp4"))
    assert (store.root / "failures.jsonl").read_bytes() == before  # (marked: settled at the run's end)
    store.settle_failures()
    lines = (store.root / "failures.jsonl").read_bytes().splitlines()
    assert [json.loads(x)["path"] if x != b"not json" else x for x in lines] == [
        str(tmp_path / "b" / "v0.mp4"), b"not json", os.path.abspath("v1.mp4")]  # (logged absolute)
    assert json.loads(lines[-1])["reason"] == "unreadable again"
    store.settle_failures()  # (nothing to change: not rewritten)
    assert (store.root / "failures.jsonl").read_bytes().splitlines() == lines
    assert leftovers(store.root) == []


def test_the_notes_of_a_run_are_said_on_stderr(tmp_path):
    """extract wrote a video's notes (a file cut short) only to notes.jsonl, never on the terminal, while
    caption.py says them (hostile trial): a user extracting a dataset never learnt that some features come
    from part of a video. One line on stderr counts the videos noted, shows the first note and says where the
    rest are; a run without notes says nothing of them."""
    from .conftest import make_video

    d = tmp_path / "videos"
    d.mkdir()
    make_video(d / "a_whole.mp4", 1.0, size="64x48", audio=None)
    whole = make_video(tmp_path / "whole.avi", 2.0, size="64x48", vcodec="mpeg4", audio=None)
    data = whole.read_bytes()
    (d / "b_cut.avi").write_bytes(data[: len(data) // 2])
    args = ["--modalities", "resnet152", "--frames", "4", "--image-size", "64", "--weights", "random",
            "--precision", "fp32"]
    store = tmp_path / "s"
    proc = run_cli("-m", "extract", str(d), "--out", str(store), *args)
    assert proc.returncode == 0, proc.stderr
    (note,) = [json.loads(x)["note"] for x in (store / "notes.jsonl").read_text().splitlines()]
    assert note.startswith("file cut short (")
    lines = proc.stderr.splitlines()
    said = [ln for ln in lines if ln.startswith("note:")]
    assert said == [f"note: 1 of the 2 videos written has notes (first: b_cut: {note}); all in "
                    f"{store / 'notes.jsonl'}"], proc.stderr
    assert lines[-1].startswith("done: 2 written")
    proc = run_cli("-m", "extract", str(d / "a_whole.mp4"), "--out", str(tmp_path / "s2"), *args)
    assert proc.returncode == 0 and "note:" not in proc.stderr, proc.stderr


def full_disk_at(monkeypatch, log=None, modality=None, code=errno.ENOSPC):
    """Make the store's append to the log `log` (or its write of `modality`'s feature file) fail as a full disk
    does (ENOSPC), as a tiny tmpfs did in the hostile trial; `code`: another error instead."""
    from s2vt.fileio import output_error

    def no_space(path):
        return output_error(path, OSError(code, os.strerror(code)))

    append, write = FeatureStore._append, FeatureStore.write

    def full_append(self, name, record):
        if name == log:  # (the file made, nothing written to it: as open() and a refused write leave it)
            open(self.root / name, "ab").close()
            raise no_space(self.root / name)
        return append(self, name, record)

    def full_write(self, m, video_id, *args, **kwargs):
        if m == modality:
            raise no_space(self.path(m, video_id))
        return write(self, m, video_id, *args, **kwargs)

    monkeypatch.setattr(FeatureStore, "_append", full_append)
    monkeypatch.setattr(FeatureStore, "write", full_write)


@pytest.mark.parametrize("log, modality", [("sources.jsonl", None), (None, "vggish")])
def test_a_video_a_full_disk_stopped_before_its_record_is_extracted_again(log, modality, tmp_path, videos,
                                                                          monkeypatch, capsys):
    """A full disk at a video's sources.jsonl record (after its feature file was in place), or at its second
    modality's file, left feature files with no record; the rerun counted the video done ('1 already done') and
    never recorded it: a changed file was never extracted again, and another clip by its id passed for it
    (hostile trial). A video whose record is not written is not written: the files of it the run wrote are taken
    back, and a file with no record (a crash between the two) does not count as done."""
    from extract.__main__ import main

    d = tmp_path / "v"
    d.mkdir()
    for name in ("a", "b"):
        shutil.copy(videos["mp4_aac"], d / f"{name}.mp4")
    store = tmp_path / "s"
    store.mkdir()  # (a folder that existed before: kept whatever the run wrote, so its files are there to see)
    args = [str(d), "--out", str(store), *SMALL, "--modalities", "resnet152,vggish", "--batch-videos", "1"]
    with monkeypatch.context() as m:
        full_disk_at(m, log, modality)
        assert main(args) == 2
    err = capsys.readouterr().err
    assert "No space left on device (stopped after 0 videos written" in err, err
    assert list(store.glob("*/*.npy")) == [], "feature files without their record"
    assert main(args) == 0
    assert "0 already done, 2 to extract" in capsys.readouterr().err
    fs = FeatureStore(store)
    assert all(fs.done(v, ["resnet152", "vggish"], {"size": os.path.getsize(d / f"{v}.mp4"),
                                                    "mtime_ns": os.stat(d / f"{v}.mp4").st_mtime_ns})
               for v in ("a", "b"))


def test_a_stopped_video_keeps_the_features_already_recorded_from_its_file(tmp_path, videos, monkeypatch, capsys):
    """A run for a modality more, stopped at the video's sources.jsonl record (a full disk), took back every file it
    wrote for the video, a modality already there and recorded from the same file too (rewritten only because
    the other was missing): sources.jsonl still recorded it, its file was gone (review). Only what the run newly
    added is taken back."""
    from extract.__main__ import main

    video = tmp_path / "a.mp4"
    shutil.copy(videos["mp4_aac"], video)
    store = tmp_path / "s"
    args = [str(video), "--out", str(store), *SMALL]
    assert main([*args, "--modalities", "resnet152"]) == 0
    before = (store / "resnet152" / "a.npy").read_bytes()
    with monkeypatch.context() as m:
        full_disk_at(m, "sources.jsonl")
        assert main([*args, "--modalities", "resnet152,vggish"]) == 2
    assert "No space left on device" in capsys.readouterr().err
    assert (store / "resnet152" / "a.npy").read_bytes() == before
    assert not (store / "vggish" / "a.npy").exists()
    source = {"size": os.path.getsize(video), "mtime_ns": os.stat(video).st_mtime_ns}
    fs = FeatureStore(store)
    assert fs.done("a", ["resnet152"], source) and not fs.done("a", ["resnet152", "vggish"], source)
    assert main([*args, "--modalities", "resnet152"]) == 0
    assert "1 already done, 0 to extract" in capsys.readouterr().err


def test_a_feature_file_without_its_record_is_not_done(tmp_path, videos, capsys):
    """A crash between a video's feature file and its sources.jsonl record leaves the file with no record: the
    rerun extracts the video again and records it, as for a record a crash cut short."""
    from extract.__main__ import main

    d = tmp_path / "v"
    d.mkdir()
    shutil.copy(videos["mp4_aac"], d / "a.mp4")
    store = tmp_path / "s"
    args = [str(d), "--out", str(store), *SMALL, "--modalities", "vggish"]
    assert main(args) == 0
    (store / "sources.jsonl").write_bytes(b"")  # (the record a crash never wrote)
    capsys.readouterr()
    assert main(args) == 0
    assert "0 already done, 1 to extract" in capsys.readouterr().err
    (record,) = map(json.loads, (store / "sources.jsonl").open())
    assert record["video_id"] == "a" and record["path"] == str(d / "a.mp4")
    assert main(args) == 0 and "1 already done, 0 to extract" in capsys.readouterr().err


def test_a_store_from_before_sources_jsonl_counts_as_done(tmp_path, videos, monkeypatch, capsys):
    """A store written before sources.jsonl existed (its feature files, no sources.jsonl at all) was extracted again
    in full, silently, once a file with no record stopped counting as done (review): with no sources.jsonl, such a
    file counts as done, as before; extract makes an empty sources.jsonl before a new store's first feature file, so
    a crash between a file and its record there still leaves the file not done."""
    from extract.__main__ import main

    video = tmp_path / "a.mp4"
    shutil.copy(videos["mp4_aac"], video)
    store = tmp_path / "s"
    store.mkdir()  # (a folder that existed before: kept whatever the run wrote)
    args = [str(video), "--out", str(store), *SMALL, "--modalities", "vggish"]
    with monkeypatch.context() as m:
        full_disk_at(m, modality="vggish")
        assert main(args) == 2
    assert (store / "sources.jsonl").read_bytes() == b""  # (made with meta.json, before the first feature file)
    source = {"size": os.path.getsize(video), "mtime_ns": os.stat(video).st_mtime_ns}
    fs = FeatureStore(store)
    fs.write("vggish", "a", np.zeros((2, 128), np.float32))  # (a crash before its record)
    assert not FeatureStore(store).done("a", ["vggish"], source)
    (store / "sources.jsonl").unlink()  # (a store from before sources.jsonl)
    assert FeatureStore(store).done("a", ["vggish"], source)
    capsys.readouterr()
    assert main(args) == 0
    assert "1 already done, 0 to extract" in capsys.readouterr().err


@pytest.mark.parametrize("log, modality", [("notes.jsonl", None), (None, "vggish"), ("sources.jsonl", None)])
def test_a_new_out_a_full_disk_stopped_before_its_first_video_is_removed(log, modality, tmp_path, videos,
                                                                         monkeypatch, capsys):
    """A full disk at the first video's note, feature file or record left the --out this run made, holding its
    meta.json and empty notes.jsonl and sources.jsonl, though nothing was written (hostile trial): such a folder is
    removed, as one a Ctrl-C before the first video leaves; one that existed before is kept."""
    from extract.__main__ import main

    store = tmp_path / "s"
    # (mov_silent has no audio track: its vggish features come with a note)
    args = [str(videos["mov_silent"]), "--out", str(store), *SMALL, "--modalities", "vggish"]
    with monkeypatch.context() as m:
        full_disk_at(m, log, modality)
        assert main(args) == 2
        assert "No space left on device (stopped after 0 videos written" in capsys.readouterr().err
        assert not store.exists(), sorted(p.name for p in store.rglob("*"))
        store.mkdir()
        assert main(args) == 2
        assert store.is_dir()
    capsys.readouterr()
    assert main(args) == 0 and FeatureStore(store).has("vggish", "mov_silent")


@pytest.mark.parametrize("code, advice", [
    (errno.ENOSPC, "rerun the same command to resume"),
    (errno.EIO, "rerun the same command to resume"),
    (errno.EPERM, "a rerun fails the same way: make {out} writable, or pass another --out"),
    (errno.EACCES, "a rerun fails the same way: make {out} writable, or pass another --out"),
    (errno.EROFS, "a rerun fails the same way: make {out} writable, or pass another --out"),
    (errno.ENAMETOOLONG, "a rerun fails the same way: pass a shorter --out")])
def test_a_store_that_cannot_be_written_says_what_to_change(code, advice, tmp_path, videos, monkeypatch, capsys):
    """A store that refuses writes (an immutable folder: EPERM) or a path too long was told "rerun the same command
    to resume", which fails the same way (hostile trial): that advice is for what a rerun gets past (a full disk,
    an I/O error); for the others, what to change."""
    from extract.__main__ import main

    out = tmp_path / "s"
    with monkeypatch.context() as m:
        full_disk_at(m, modality="vggish", code=code)
        assert main([str(videos["mp4_aac"]), "--out", str(out), *SMALL, "--modalities", "vggish"]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == (f"error: cannot write {out / 'vggish' / 'mp4_aac.npy'}: {os.strerror(code)} (stopped after 0 "
                    f"videos written, complete files only; {advice.format(out=out)})")


def test_a_callers_advice_is_said_for_a_store_that_cannot_be_written(tmp_path, videos, monkeypatch, capsys):
    """Under `s2vt demo` (its own advice given as `rerun_line`), a store that refuses writes ended with extract's
    'make DIR writable, or pass another --out', though the user never gave extract an --out (review): the caller's
    advice, the demo's line, as before."""
    from extract.__main__ import main

    out = tmp_path / "s"
    with monkeypatch.context() as m:
        full_disk_at(m, modality="vggish", code=errno.EPERM)
        assert main([str(videos["mp4_aac"]), "--out", str(out), *SMALL, "--modalities", "vggish"],
                    rerun_line="to start the demo again: s2vt demo --out D --overwrite") == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last == (f"error: cannot write {out / 'vggish' / 'mp4_aac.npy'}: {os.strerror(errno.EPERM)} (stopped "
                    "after 0 videos written, complete files only; to start the demo again: s2vt demo --out D "
                    "--overwrite)")


def test_run_by_its_path(tmp_path):
    """`python extract/__main__.py` was an ImportError (its relative imports, no package): run so, it is the
    command `python -m extract` is, from any folder."""
    proc = run_cli(str(REPO / "extract" / "__main__.py"), str(tmp_path / "none.mp4"), "--out", str(tmp_path / "s"),
                   cwd=tmp_path)
    assert (proc.returncode, proc.stderr.strip()) == (2, f"error: {tmp_path / 'none.mp4'}: no such file or folder")
    assert not (tmp_path / "s").exists()
