"""Issue 15, the extraction side: bad inputs to `python -m extract` give features, a logged
failure or one line and exit 2, never a blow-up, a traceback, stale features or a lost file."""
import hashlib
import json
import os
import re
import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest

from extract.__main__ import main
from extract.ffmpeg import ffmpeg_cmd
from s2vt.manifest import ManifestError, read_manifest, sanitize_id, scan_videos
from s2vt.store import RECORD_START, FeatureStore, StoreError
from extract.video import MAX_ASPECT, decode_frames

from ..conftest import fill_disk, make_video

# cheap settings: the networks are not the point (VGGish where any modality will do)
FAST = ["--weights", "random", "--precision", "fp32", "--frames", "4", "--clips", "1", "--image-size", "64"]
VGGISH = [*FAST, "--modalities", "vggish"]
RESNET = [*FAST, "--modalities", "resnet152"]


def extract(capsys, *args: str) -> tuple[int, str]:
    """`python -m extract ARGS` in this process: (exit code, stderr)."""
    rc = main([str(a) for a in args])
    return rc, capsys.readouterr().err


def one_line_error(err: str) -> bool:
    return err.strip().splitlines()[-1].startswith("error:") and "Traceback" not in err


def leftovers(store):
    return [p for p in store.rglob(".*") if p.is_file()]


def test_extreme_aspect_ratios_decode_within_a_fixed_budget(tmp_path):
    # 16x2000 used to decode to 256x32000 frames (5.3 GB at the default samples)
    ordinary = decode_frames(make_video(tmp_path / "o.mp4", 0.4, "640x360", audio=None), 4, clips=1)
    budget = ordinary.frames.nbytes * MAX_ASPECT / (640 / 360)  # a 4:1 frame at the same short side
    for size in ("16x2000", "2000x16"):
        fr = decode_frames(make_video(tmp_path / f"{size}.mp4", 0.4, size, audio=None), 4, clips=1)
        assert min(fr.frames.shape[1:3]) == 256 and max(fr.frames.shape[1:3]) == 256 * MAX_ASPECT
        assert fr.frames.nbytes <= budget and fr.clips.nbytes <= budget * 4
        assert fr.frames.std() > 5  # the centre of the picture, not a blank buffer


def test_non_utf8_name_of_a_broken_video_is_logged_and_the_run_goes_on(tmp_path, videos, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    bad = os.path.join(os.fsencode(folder), b"a-\xff\xfe.mp4")  # not UTF-8; sorts before the good one
    with open(bad, "wb") as f:
        f.write(b"not a video\n")
    shutil.copy(videos["mp4_aac"], folder / "b.mp4")
    rc, err = extract(capsys, folder, "--out", tmp_path / "s", *VGGISH)
    assert rc == 1 and "1 video failed" in err and "Traceback" not in err
    assert FeatureStore(tmp_path / "s").read("vggish", "b").shape == (2, 128)
    (failure,) = [json.loads(x) for x in (tmp_path / "s" / "failures.jsonl").read_text("utf-8").splitlines()]
    assert failure["video_id"] == sanitize_id(os.fsdecode(b"a-\xff\xfe"))
    assert failure["path"].endswith("a-\\xff\\xfe.mp4")  # the name's bytes, escaped


def test_cover_art_and_truncated_mp4_sample_the_real_frames(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    # one picture over 10 s of audio: the header's 10 s hold a single video frame
    picture = make_video(tmp_path / "picture.mp4", 0.04, audio=None)
    subprocess.run(ffmpeg_cmd(["-loglevel", "error", "-i", str(picture), "-f", "lavfi", "-i", "sine=duration=10",
                               "-map", "0", "-map", "1", "-c:v", "copy", "-c:a", "aac", str(folder / "cover.mp4")]),
                   check=True)
    # a faststart file (index first) cut to 30%: the header still promises 8 s
    whole = make_video(tmp_path / "whole.mp4", 8.0, extra=["-movflags", "+faststart"]).read_bytes()
    (folder / "truncated.mp4").write_bytes(whole[: len(whole) * 3 // 10])
    rc, err = extract(capsys, folder, "--out", tmp_path / "s", *RESNET)
    assert rc == 0, err
    store = FeatureStore(tmp_path / "s")
    cover, truncated = store.read("resnet152", "cover"), store.read("resnet152", "truncated")
    assert cover.shape == (4, 2048) and np.all(cover == cover[0])  # the one picture, repeated
    assert len(np.unique(truncated, axis=0)) == 4  # four real frames, none copied from another
    notes = {json.loads(x)["video_id"]: json.loads(x)["note"]
             for x in (tmp_path / "s" / "notes.jsonl").read_text().splitlines()}
    assert notes["cover"] == ("video stream holds only 1 of the 250 frames the file's duration implies (10.0 s at 25 "
                              "fps: a stream cut short, or sound that outlasts the video): sampled over those")
    assert notes["truncated"].startswith("file cut short (") and ": video stream holds only " in notes["truncated"]


def test_unwritable_or_full_store_one_line_exit_2(tmp_path, videos, capsys, small_disk):
    (tmp_path / "file").write_text("x")
    impossible = [tmp_path / "file" / "store", "/sys/s2vt-test-store"]
    if os.geteuid() != 0:  # (root writes into a read-only folder anyway)
        (tmp_path / "ro").mkdir(mode=0o555)
        impossible.append(tmp_path / "ro" / "store")
    for out in impossible:
        rc, err = extract(capsys, videos["mp4_aac"], "--out", out, *VGGISH)
        assert rc == 2 and one_line_error(err) and f"cannot write {out}" in err
    # a disk that fills up after the first video: stop at once, the first video's files intact
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(videos["mp4_aac"], folder / "a.mp4")
    store = small_disk / "s"
    assert extract(capsys, folder, "--out", store, *VGGISH)[0] == 0
    fill_disk(small_disk)
    shutil.copy(videos["mkv_pcm"], folder / "b.mkv")
    shutil.copy(videos["avi_mp3"], folder / "c.avi")
    rc, err = extract(capsys, folder, "--out", store, *VGGISH)
    assert rc == 2 and one_line_error(err) and "No space left on device" in err
    assert "stopped after 0 videos written" in err and not (store / "failures.jsonl").exists()
    assert FeatureStore(store).read("vggish", "a").shape == (2, 128)
    assert sorted(p.name for p in (store / "vggish").iterdir()) == ["a.npy"] and leftovers(store) == []


def test_undecodable_manifest_and_store_files_are_named(tmp_path):
    manifest = tmp_path / "m.jsonl"
    manifest.write_bytes(b'{"video_id": "a", "captions": ["ok"]}\n{"video_id": "b", "captions": ["caf\xe9"]}\n')
    with pytest.raises(ManifestError) as e:
        read_manifest(manifest)
    assert str(e.value) == f"{manifest}:2: not valid UTF-8 (byte 0xe9 at column 36)"
    store = FeatureStore(tmp_path / "s")
    (tmp_path / "s" / "resnet152").mkdir(parents=True)
    np.save(tmp_path / "s" / "resnet152" / "pickled.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    np.save(tmp_path / "s" / "resnet152" / "cut.npy", np.zeros((4, 2048), np.float16))
    path = tmp_path / "s" / "resnet152" / "cut.npy"
    path.write_bytes(path.read_bytes()[:1000])
    (tmp_path / "s" / "resnet152" / "garbage.npy").write_bytes(b"\x93NUMPY garbage")
    for vid in ("pickled", "cut", "garbage"):
        with pytest.raises(StoreError, match=f"^{re.escape(str(store.path('resnet152', vid)))}: cannot read features"):
            store.read("resnet152", vid)


def test_non_finite_features_are_named_with_how_to_mend_them(tmp_path):
    store = FeatureStore(tmp_path / "s")
    (tmp_path / "s" / "c3d").mkdir(parents=True)
    np.save(tmp_path / "s" / "c3d" / "nan.npy", np.full((1, 4096), np.nan, np.float16))
    np.save(tmp_path / "s" / "c3d" / "inf.npy", np.array([[0.0, -np.inf]], np.float32))
    np.save(tmp_path / "s" / "c3d" / "ok.npy", np.ones((2, 4), np.float16))
    for vid in ("nan", "inf"):
        with pytest.raises(StoreError, match=f"^{re.escape(str(store.path('c3d', vid)))}: cannot read features "
                                             r"\(holds NaN or infinite values\); remove it and run extract again, "
                                             "which extracts its video anew$"):
            store.read("c3d", vid)
    assert store.read("c3d", "ok").tolist() == [[1.0] * 4] * 2


def test_symlinked_sub_folders_are_scanned_once(tmp_path):
    root, elsewhere = tmp_path / "root", tmp_path / "elsewhere"
    (root / "real").mkdir(parents=True)
    elsewhere.mkdir()
    (root / "real" / "a.mp4").write_bytes(b"x")
    (elsewhere / "b.mp4").write_bytes(b"x")
    (root / "linked").symlink_to(elsewhere, target_is_directory=True)
    (root / "real" / "loop").symlink_to(root, target_is_directory=True)  # back up the tree
    assert scan_videos(root) == [("a", root / "real" / "a.mp4"), ("b", root / "linked" / "b.mp4")]


def test_a_changed_file_under_an_existing_id_is_extracted_again(tmp_path, videos, capsys):
    clip, store = tmp_path / "clip.mp4", tmp_path / "s"
    shutil.copy(videos["mp4_aac"], clip)
    assert extract(capsys, clip, "--out", store, *VGGISH)[0] == 0
    assert FeatureStore(store).read("vggish", "clip").shape == (2, 128)
    shutil.copy(videos["short"], clip)  # another video under the same name (0.4 s: no VGGish rows)
    rc, err = extract(capsys, clip, "--out", store, *VGGISH)
    assert rc == 0 and "0 already done, 1 to extract" in err
    assert FeatureStore(store).read("vggish", "clip").shape == (0, 128)
    rc, err = extract(capsys, clip, "--out", store, *VGGISH)  # unchanged now: resume skips it
    assert rc == 0 and "1 already done, 0 to extract" in err


def test_a_changed_file_that_fails_to_extract_loses_its_old_features(tmp_path, videos, capsys):
    # its features were of the file as it was: kept, train and evaluate would read them for the new one
    folder, store = tmp_path / "chg", tmp_path / "s"
    folder.mkdir()
    shutil.copy(videos["mp4_aac"], folder / "v0.mp4")
    shutil.copy(videos["mp4_aac"], folder / "v1.mp4")
    assert extract(capsys, folder, "--out", store, *VGGISH)[0] == 0
    (folder / "v0.mp4").write_text("not a video any more")
    rc, err = extract(capsys, folder, "--out", store, *VGGISH)
    failed = [line for line in err.splitlines() if line.startswith("failed: v0: ")]
    assert rc == 1 and len(failed) == 1
    assert failed[0].endswith("; its old features, of the file as it was, were removed")
    assert sorted(p.name for p in (store / "vggish").iterdir()) == ["v1.npy"] and leftovers(store) == []
    assert "v0" not in FeatureStore(store).sources() or not FeatureStore(store).sources()["v0"]
    assert FeatureStore(store).sources()["v1"]["vggish"]["size"] == (folder / "v1.mp4").stat().st_size
    rc, err = extract(capsys, folder, "--out", store, *VGGISH)  # nothing left to remove: said once
    assert rc == 1 and "failed: v0: " in err and "were removed" not in err
    shutil.copy(videos["mp4_aac"], folder / "v0.mp4")  # a video again: extracted as any missing one
    rc, err = extract(capsys, folder, "--out", store, *VGGISH)
    assert rc == 0 and "1 already done, 1 to extract" in err
    assert FeatureStore(store).read("vggish", "v0").shape == (2, 128)


def test_an_ffmpeg_that_does_not_run_is_one_line_before_any_video(tmp_path, videos, capsys, monkeypatch):
    # a wrong $S2VT_FFMPEG failed every video, and a video whose mtime had changed lost its features
    from extract.ffmpeg import ffmpeg_exe

    folder, store = tmp_path / "v", tmp_path / "s"
    folder.mkdir()
    shutil.copy(videos["mp4_aac"], folder / "v0.mp4")
    assert extract(capsys, folder, "--out", store, *VGGISH)[0] == 0
    os.utime(folder / "v0.mp4", ns=(10 ** 9, 10 ** 9))  # (restored from a backup: re-extracted next time)
    # (/bin/true runs, and is no ffmpeg: every video failed as unreadable)
    for exe, why in ((str(tmp_path / "nothere"), "does not run"), ("/bin/false", "does not run"),
                     ("/bin/true", "is not ffmpeg")):
        monkeypatch.setenv("S2VT_FFMPEG", exe)
        ffmpeg_exe.cache_clear()
        rc, err = extract(capsys, folder, "--out", store, *VGGISH)
        assert rc == 2 and one_line_error(err) and f"ffmpeg {exe} ($S2VT_FFMPEG) {why}" in err, err
        assert (store / "vggish" / "v0.npy").exists()
        rc, err = extract(capsys, folder, "--out", tmp_path / "new", *VGGISH)
        assert rc == 2 and not (tmp_path / "new").exists()  # (nothing made)
    monkeypatch.delenv("S2VT_FFMPEG")
    ffmpeg_exe.cache_clear()


def test_a_fake_a_folder_or_a_hanging_ffmpeg_is_one_line_before_any_video(tmp_path, capsys, monkeypatch):
    """A program that printed "ffmpeg version" passed the check (every video then failed as unreadable);
    $S2VT_FFMPEG=/tmp said "Permission denied"; a program hanging on -version was waited for 60 s."""
    from extract import ffmpeg as ffmpeg_module  # (not `import extract.ffmpeg`: `extract` is this file's helper)
    from extract.ffmpeg import check_ffmpeg, ffmpeg_exe

    def program(name: str, body: str) -> str:
        path = tmp_path / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)
        return str(path)

    says = program("says", 'case "$*" in *-version*) echo "ffmpeg version 7.0 Copyright (c) the FFmpeg developers";; esac')
    echoes = program("echoes", 'echo "ffmpeg version 7.0"; cat')  # (writes something: not the frame)
    hangs = program("hangs", "exec sleep 30")
    monkeypatch.setattr(ffmpeg_module, "CHECK_TIMEOUT", 0.5)
    cases = [(says, "does not work: converting a 2x2 test frame failed (wrote 0 bytes, not 48)"),
             (echoes, "does not work: converting a 2x2 test frame failed (wrote 23 bytes, not 48)"),
             (str(tmp_path), "is a folder, not a program"),
             (hangs, "did not answer: `-version` took over 0.5 s")]
    try:
        for exe, why in cases:
            monkeypatch.setenv("S2VT_FFMPEG", exe)
            ffmpeg_exe.cache_clear()
            rc, err = extract(capsys, tmp_path / "none", "--out", tmp_path / "s", *VGGISH)
            assert rc == 2 and one_line_error(err) and err.strip() == f"error: ffmpeg {exe} ($S2VT_FFMPEG) {why}", err
            assert not (tmp_path / "s").exists()
    finally:
        monkeypatch.delenv("S2VT_FFMPEG")
        ffmpeg_exe.cache_clear()
    check_ffmpeg()  # the real one passes (its probe's frame converted)


def test_a_hanging_ffmpeg_check_leaves_no_process_behind(tmp_path, monkeypatch):
    """S2VT_FFMPEG=a script running `sleep 100` timed out after 10 s, but the sleep ran on, orphaned (hostile
    trial): the check's program runs in a session of its own, the whole of which is killed on a timeout."""
    import time

    from extract import ffmpeg as ffmpeg_module
    from extract.ffmpeg import MediaError, check_ffmpeg, ffmpeg_exe

    child = tmp_path / "child.pid"
    script = tmp_path / "hangs"
    script.write_text(f"#!/bin/sh\nsleep 100 &\necho $! > {child}\nwait\n")
    script.chmod(0o755)
    monkeypatch.setattr(ffmpeg_module, "CHECK_TIMEOUT", 1.0)
    monkeypatch.setenv("S2VT_FFMPEG", str(script))
    ffmpeg_exe.cache_clear()
    try:
        with pytest.raises(MediaError, match="did not answer"):
            check_ffmpeg()
    finally:
        monkeypatch.delenv("S2VT_FFMPEG")
        ffmpeg_exe.cache_clear()
    pid = int(child.read_text())

    def running() -> bool:  # (a zombie, killed and waiting for init to reap it, is not running)
        try:
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except (FileNotFoundError, ProcessLookupError):
            return False
    deadline = time.monotonic() + 5
    while running() and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        assert not running(), f"the script's child {pid} is still running"
    finally:
        if running():
            os.kill(pid, 9)


def two_videos_one_id(tmp_path, videos):
    """a/v0.mp4 and b/v0.mp4, two different videos whose names give one id, and a store path."""
    a, b = tmp_path / "a" / "v0.mp4", tmp_path / "b" / "v0.mp4"
    for path, video in ((a, "mp4_aac"), (b, "short")):
        path.parent.mkdir()
        shutil.copy(videos[video], path)
    return a, b, tmp_path / "s"


def test_a_stored_id_of_a_name_written_otherwise_is_told_apart_across_runs(tmp_path, videos, capsys):
    """café.mp4 (composed) extracted, then café.mp4 (decomposed) in another run: refused, as one id, naming two
    paths that printed alike, in the failed line and in failures.jsonl (trial 64)."""
    a, b = tmp_path / "a" / "caf\u00e9.mp4", tmp_path / "a" / "cafe\u0301.mp4"
    a.parent.mkdir()
    shutil.copy(videos["mp4_aac"], a)
    assert extract(capsys, a, "--out", tmp_path / "s", *VGGISH)[0] == 0
    shutil.copy(videos["short"], b)
    rc, err = extract(capsys, b, "--out", tmp_path / "s", *VGGISH)
    told = ("one name, its accents written as one character in one and as a letter and a combining mark in the "
            "other")
    assert rc == 2 and f"this run {ascii(str(b))} ({told})" in err and f": {ascii(str(a))}, this run" in err, err
    reason = json.loads((tmp_path / "s" / "failures.jsonl").read_text().splitlines()[-1])["reason"]
    assert f"another video, {ascii(str(a))}; not replacing them with those of {ascii(str(b))} ({told})" in reason, reason
    a.unlink()  # (the first one gone, the second is extracted in its place: its note tells the two apart too)
    rc, err = extract(capsys, b, "--out", tmp_path / "s", *VGGISH)
    notes = [json.loads(x)["note"] for x in (tmp_path / "s" / "notes.jsonl").read_text().splitlines()]
    assert rc == 0 and (f"re-extracted from {ascii(str(b))}: its features came from {ascii(str(a))} ({told}), which "
                        "no longer exists (a moved or renamed dataset)") in notes, notes


def test_another_video_under_a_stored_id_is_refused_unless_its_file_is_gone(tmp_path, videos, capsys):
    # a/v0.mp4 then, in another run, b/v0.mp4: the second replaced a's features, as if a's file had changed
    a, b, store = two_videos_one_id(tmp_path, videos)
    assert extract(capsys, a, "--out", store, *VGGISH)[0] == 0
    rc, err = extract(capsys, b, "--out", store, *VGGISH)
    assert rc == 2 and "Traceback" not in err and "0 already done, 0 to extract" in err  # (its only video failed)
    assert f"first: v0: {a}, this run {b}" in err and "another --out" in err and "v0.npy" in err
    assert FeatureStore(store).read("vggish", "v0").shape == (2, 128)  # a's features, kept
    reason = json.loads((store / "failures.jsonl").read_text().splitlines()[-1])["reason"]
    assert str(a) in reason and str(b) in reason
    shutil.copy(videos["short"], a)  # a changed file at its own path: extracted again, as before
    assert extract(capsys, a, "--out", store, *VGGISH)[0] == 0
    assert FeatureStore(store).read("vggish", "v0").shape == (0, 128)
    a.unlink()  # a's file gone (a dataset moved or renamed): b's features replace a's, with a note
    shutil.copy(videos["mp4_aac"], b)
    rc, err = extract(capsys, b, "--out", store, *VGGISH)
    assert rc == 0 and "0 already done, 1 to extract" in err
    assert FeatureStore(store).read("vggish", "v0").shape == (2, 128)
    assert f"its features came from {a}, which no longer exists" in (store / "notes.jsonl").read_text()


def test_a_store_whose_sources_record_no_paths_re_extracts_as_before(tmp_path, videos, capsys):
    a, b, store = two_videos_one_id(tmp_path, videos)
    assert extract(capsys, a, "--out", store, *VGGISH)[0] == 0
    lines = [json.loads(line) for line in (store / "sources.jsonl").read_text().splitlines()]
    assert all(r.pop("path") == str(a) for r in lines)
    (store / "sources.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))  # as an older store's
    rc, err = extract(capsys, b, "--out", store, *VGGISH)
    assert rc == 0 and "0 already done, 1 to extract" in err
    assert FeatureStore(store).read("vggish", "v0").shape == (0, 128)


def test_non_ascii_names_get_distinct_stable_ids(tmp_path):
    for name in ("日本.mp4", "中国.mp4", "a b.mp4"):
        (tmp_path / name).write_bytes(b"x")
    ids = dict((p.name, vid) for vid, p in scan_videos(tmp_path))
    assert ids["a b.mp4"] == "a_b"  # ASCII names keep their ids
    assert ids["日本.mp4"] != ids["中国.mp4"] and ids["中国.mp4"].startswith("___")
    assert ids["日本.mp4"] == sanitize_id("日本") == "___" + hashlib.sha1("日本".encode()).hexdigest()[:8]
    # one visible name, composed or decomposed (as macOS writes names), is one id: captions keyed by the one
    # found the features of a file named the other only by the hash, not the kept letters (hostile trial)
    assert sanitize_id("caf\u00e9 clip") == sanitize_id("cafe\u0301 clip") == \
        "caf__clip_" + hashlib.sha1("caf\u00e9 clip".encode()).hexdigest()[:8]


def test_two_files_of_one_name_composed_and_decomposed_are_told_apart(tmp_path):
    """Two files whose names differ only in how an accent is written are one id, refused naming both: the two
    names printed alike ("café.mp4 and café.mp4"), so which to rename could not be read off the line."""
    from s2vt.datasets import DatasetError
    from s2vt.precomputed import feature_files

    composed, decomposed = "caf\u00e9", "cafe\u0301"
    for name in (composed, decomposed):
        (tmp_path / f"{name}.mp4").write_bytes(b"x")
        (tmp_path / f"{name}.npy").write_bytes(b"x")
    def said(ext: str) -> str:  # (the decomposed name sorts first)
        return (f"{ascii(str(tmp_path / (decomposed + ext)))} and {ascii(str(tmp_path / (composed + ext)))} (one name, "
                "its accents written as one character in one and as a letter and a combining mark in the other)")

    with pytest.raises(ManifestError) as e:
        scan_videos(tmp_path)
    assert str(e.value) == f"duplicate video id {sanitize_id(composed)!r}: {said('.mp4')} (rename one)", str(e.value)
    with pytest.raises(DatasetError) as e:
        feature_files(tmp_path)
    assert str(e.value) == f"{said('.npy')} are both clip {sanitize_id(composed)}: rename one", str(e.value)


def test_rerun_at_another_precision_refuses_a_mixed_store(tmp_path, videos, capsys):
    store = tmp_path / "s"
    assert extract(capsys, videos["mp4_aac"], "--out", store, *VGGISH)[0] == 0
    rc, err = extract(capsys, videos["mp4_aac"], "--out", store, *VGGISH, "--precision", "bf16")
    # (said before the backbones load, with the option that adds to the store: trial 72)
    assert rc == 2 and one_line_error(err) and err.endswith(
        "store was extracted with vggish precision fp32, this run asks precision bf16; pass --precision fp32 to add "
        "to this store, or use another --out\n"), err
    assert json.loads((store / "meta.json").read_text())["precision"] == {"vggish": "fp32"}


def test_frames_with_a_side_under_ten_pixels_are_read(tmp_path):
    # the header parser wanted two digits per side: a 2000x2 video had "no frame size"
    for size in ("2000x2", "2x2"):
        fr = decode_frames(make_video(tmp_path / f"{size}.mp4", 0.4, size, audio=None), 4, clips=1)
        assert fr.frames.shape[0] == 4 and fr.clips.shape[:2] == (1, 16), size


def test_nested_or_bom_manifest_lines(tmp_path):
    deep = tmp_path / "deep.jsonl"
    deep.write_text('{"video_id": "a"}\n' + "[" * 100_000 + "\n")
    with pytest.raises(ManifestError, match=r"deep.jsonl:2: .*nested too deeply"):
        read_manifest(deep)
    bom = tmp_path / "bom.jsonl"
    bom.write_bytes(b'\xef\xbb\xbf{"video_id": "a"}\n{"video_id": "b"}\n')  # as Windows editors save
    assert [e["video_id"] for e in read_manifest(bom)] == ["a", "b"]


def test_batch_sizes_and_devices_this_machine_lacks_are_one_line(tmp_path, videos, capsys):
    # extract took --batch-size 0 into torch.split and --device cuda into the driver (tracebacks)
    import torch
    cases = [["--batch-size", "0"], ["--batch-videos", "0"], ["--device", "nonsense"]]
    if not torch.cuda.is_available():
        cases.append(["--device", "cuda"])
    for extra in cases:
        rc, err = extract(capsys, videos["mp4_aac"], "--out", tmp_path / "st", *RESNET, *extra)
        assert rc == 2 and one_line_error(err) and len(err.strip().splitlines()) == 1, (extra, err)
        assert not (tmp_path / "st").exists(), extra  # refused before anything is written


def test_rerun_at_another_dtype_refuses_a_mixed_store(tmp_path, videos, capsys):
    # meta.json's dtype was overwritten by the rerun: float16 and float32 files under one record
    store = tmp_path / "s"
    assert extract(capsys, videos["mp4_aac"], "--out", store, *VGGISH)[0] == 0
    rc, err = extract(capsys, videos["short"], "--out", store, *VGGISH, "--dtype", "float32")
    assert rc == 2 and one_line_error(err) and "store was extracted with dtype='float16'" in err
    assert json.loads((store / "meta.json").read_text())["dtype"] == "float16"


def test_out_of_range_workers_refused_and_no_out_left(videos, tmp_path, capsys, monkeypatch):
    out = tmp_path / "deep" / "store"
    rc, err = extract(capsys, videos["mp4_aac"], "--out", out, "--workers", "-2", *VGGISH)
    assert rc == 2 and err.strip() == "error: --workers must be at least 1, not -2"
    rc, err = extract(capsys, videos["mp4_aac"], "--out", out, "--batch-size", "0", *VGGISH)
    assert rc == 2 and err.strip() == "error: --batch-size must be at least 1, not 0"  # a setting's minimum
    # refused after --out was made (here: the backbones cannot be built): the folders it made are gone
    from s2vt.errors import SettingError

    def no_backbones(cfg):
        assert out.is_dir()  # (made before the backbones load, so the failure below is the late kind)
        raise SettingError("no weights")
    monkeypatch.setattr("extract.__main__.Extractor", no_backbones)
    rc, err = extract(capsys, videos["mp4_aac"], "--out", out, *VGGISH)
    assert rc == 2 and err.strip() == "error: no weights"
    assert not (tmp_path / "deep").exists() and tmp_path.is_dir()


def test_entries_whose_file_is_not_there_are_counted_in_one_line_and_the_rest_extracted(tmp_path, videos, capsys):
    """A manifest imported where its videos are not (MSR-VTT's 497 without the clips) printed one 'failed:' line a
    video (hostile trial): each is logged, counted in one line with the first few, the rest extracted."""
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps(e) + "\n" for e in [
        {"video_id": "a", "path": str(tmp_path / "gone" / "a.mp4")}, {"video_id": "here", "path": str(videos["mp4_aac"])},
        {"video_id": "b", "path": str(tmp_path / "gone" / "b.mp4")}]))
    store = tmp_path / "s"
    rc, err = extract(capsys, manifest, "--out", store, *VGGISH)
    failed = [x for x in err.splitlines() if x.startswith("failed:")]
    assert rc == 1 and failed == [f"failed: 2 videos of the manifest are not at their paths (first: a: "
                                  f"{tmp_path / 'gone' / 'a.mp4'}; b: {tmp_path / 'gone' / 'b.mp4'}): put them there, "
                                  "or re-import naming the folder that holds them (s2vt import msvd or msrvtt ... "
                                  "--videos FOLDER; s2vt import folder FOLDER), or correct the manifest's paths"], err
    assert "3 videos, 3 in shard 0/1, 0 already done, 1 to extract" in err
    assert (store / "vggish" / "here.npy").is_file()
    logged = [json.loads(x) for x in (store / "failures.jsonl").read_text().splitlines()]
    assert [r["video_id"] for r in logged] == ["a", "b"] and "no such file" in logged[0]["reason"], logged


def test_entries_without_a_path_are_logged_failures_and_the_rest_extracted(tmp_path, videos, capsys):
    manifest = tmp_path / "m.jsonl"  # an msvd import without --videos that found one video of three
    manifest.write_text("".join(json.dumps(e) + "\n" for e in [
        {"video_id": "a", "captions": ["x"]}, {"video_id": "here", "path": str(videos["mp4_aac"])},
        {"video_id": "b", "captions": ["y"]}]))
    store = tmp_path / "s"
    rc, err = extract(capsys, manifest, "--out", store, *VGGISH)
    assert rc == 1 and "Traceback" not in err
    assert ("failed: 2 videos have no 'path' in the manifest (first: a, b): re-import with --videos FOLDER to name "
            "where the videos are (s2vt import msvd, msrvtt), or give each entry its 'path'") in err.splitlines()
    assert err.strip().splitlines()[-1].startswith("error: 2 videos failed")
    assert (store / "vggish" / "here.npy").is_file()
    logged = [json.loads(x) for x in (store / "failures.jsonl").read_text().splitlines()]
    assert [(r["video_id"], r["path"]) for r in logged] == [("a", None), ("b", None)]
    # every entry without a path: nothing could run, so one line, exit 2, nothing written
    manifest.write_text(json.dumps({"video_id": "a"}) + "\n" + json.dumps({"video_id": "b"}) + "\n")
    rc, err = extract(capsys, manifest, "--out", tmp_path / "t", *VGGISH)
    assert (rc, err.strip()) == (2, f"error: {manifest}: none of its 2 entries has a 'path', so there is no video "
                                    "to extract: an import of precomputed features (mlds, features, yt8m, lic2022) is "
                                    f"trained on with its store: s2vt train --manifest {manifest} --features STORE; an "
                                    "import of msvd or msrvtt that found no video: re-import with --videos FOLDER to "
                                    "name where the videos are")
    assert not (tmp_path / "t").exists()


def test_the_advice_to_train_names_the_command_as_it_pastes(tmp_path, capsys, monkeypatch):
    """`python -m extract` on an import's manifest advised `train.py --manifest M --features STORE`: neither `python
    train.py` nor an installed command, so the line did not paste (hostile trial). Now the train command as this
    program was started (`python -m s2vt train` from `python -m extract`), its paths quoted."""
    manifest = tmp_path / "my m" / "manifest.jsonl"
    manifest.parent.mkdir()
    manifest.write_text(json.dumps({"video_id": "a", "captions": ["x"]}) + "\n")
    monkeypatch.chdir(tmp_path)  # (away from the checkout's root, where it names train.py)
    monkeypatch.setattr("sys.argv", ["/repo/extract/__main__.py"])
    monkeypatch.setattr("sys.orig_argv", ["python3", "-m", "extract"])
    rc, err = extract(capsys, manifest, "--out", tmp_path / "t", *VGGISH)
    assert rc == 2 and err.strip().endswith(f"trained on with its store: python3 -m s2vt train --manifest "
                                            f"'{manifest}' --features STORE; an import of msvd or msrvtt that found no "
                                            "video: re-import with --videos FOLDER to name where the videos are"), err


def test_a_manifest_of_imported_features_says_there_is_nothing_to_extract(tmp_path, capsys):
    """`python -m extract` on an mlds (or features, yt8m, lic2022) import's manifest said "re-import with --videos
    FOLDER", an option none of those imports has (hostile trial). Now it says there is nothing to extract, and how
    to train: with the store the import wrote beside it, named, or on LIC2022's text."""
    manifest = tmp_path / "m" / "manifest.jsonl"
    manifest.parent.mkdir()
    manifest.write_text(json.dumps({"video_id": "a", "captions": ["x"]}) + "\n")
    FeatureStore(tmp_path / "m" / "features").init_meta({"source": "precomputed", "backbones": {"cnn": "precomputed"}})
    rc, err = extract(capsys, manifest, "--out", tmp_path / "t", *VGGISH)
    assert (rc, err.strip()) == (2, f"error: {manifest}: none of its 1 entries has a 'path', so there is no video to "
                                    f"extract: its features were imported with it, into {tmp_path / 'm' / 'features'}: "
                                    f"train on them: s2vt train --manifest {manifest} --features "
                                    f"{tmp_path / 'm' / 'features'}")
    lic = tmp_path / "M"  # (LIC2022's text alone, named as the README's import names it)
    lic.write_text(json.dumps({"video_id": "7", "tags": ["level1:x"], "text": {"title": "t"}}) + "\n")
    rc, err = extract(capsys, lic, "--out", tmp_path / "t", *VGGISH)
    assert (rc, err.strip()) == (2, f"error: {lic}: none of its 1 entries has a 'path', so there is no video to "
                                    f"extract: its videos are text (LIC2022's); train on it: s2vt train --manifest {lic} "
                                    "(with --features STORE where `s2vt import lic2022 --features DIR` imported their "
                                    "tsn features)")
    assert "--videos" not in err and not (tmp_path / "t").exists()


@pytest.mark.parametrize("name", ["nothere.mp4", "nothere.jsonl", "nodir/"])
def test_a_named_input_that_is_not_there_is_one_line_and_nothing_is_made(name, tmp_path, capsys):
    rc, err = extract(capsys, tmp_path / name, "--out", tmp_path / "st3", *VGGISH)
    assert rc == 2 and one_line_error(err) and len(err.strip().splitlines()) == 1, err
    assert str(tmp_path / name.rstrip("/")) in err and not (tmp_path / "st3").exists()


def test_several_files_and_folders_in_one_run(tmp_path, capsys, videos):
    """`python -m extract clips/*.mp4 more/ --out S`: every named video and every video of the folders,
    each once (a file also found in a named folder is not extracted twice)."""
    more = tmp_path / "more"
    more.mkdir()
    shutil.copy(videos["mp4_aac"], more / "third.mp4")
    first, second = tmp_path / "first.mp4", tmp_path / "second.mp4"
    shutil.copy(videos["mp4_aac"], first)
    shutil.copy(videos["mp4_aac"], second)
    rc, err = extract(capsys, first, second, more, more / "third.mp4", "--out", tmp_path / "s", *VGGISH)
    assert rc == 0, err
    assert "3 videos" in err
    assert sorted(p.stem for p in (tmp_path / "s" / "vggish").glob("*.npy")) == ["first", "second", "third"]


def test_two_videos_of_one_id_are_one_line(tmp_path, capsys, videos):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    shutil.copy(videos["mp4_aac"], tmp_path / "a" / "clip.mp4")
    shutil.copy(videos["mp4_aac"], tmp_path / "b" / "clip.mp4")
    args, expected = [tmp_path / "a", tmp_path / "b" / "clip.mp4"], "duplicate video id 'clip'"
    rc, err = extract(capsys, *args, "--out", tmp_path / "s", *VGGISH)
    assert rc == 2 and one_line_error(err) and len(err.strip().splitlines()) == 1, err
    assert expected in err and not (tmp_path / "s").exists()
    # every clash at once (trial 86: one pair a run, renamed, run again to find the next)
    for name in ("other.mp4", "third.mp4"):
        shutil.copy(videos["mp4_aac"], tmp_path / "a" / name)
        shutil.copy(videos["mp4_aac"], tmp_path / "b" / name.replace(".mp4", ".mkv"))
    shutil.copy(videos["mp4_aac"], tmp_path / "b" / "clip.avi")  # (one id, three files: named together)
    rc, err = extract(capsys, tmp_path / "a", tmp_path / "b", "--out", tmp_path / "s", *VGGISH)
    assert rc == 2 and len(err.strip().splitlines()) == 1 and err.startswith("error: 3 video ids name several files ("), err
    assert all(f"{v!r}: " in err for v in ("clip", "other", "third")) and err.strip().endswith("rename all but one of each")
    assert f"'clip': {tmp_path / 'a' / 'clip.mp4'}, {tmp_path / 'b' / 'clip.avi'} and {tmp_path / 'b' / 'clip.mp4'}" \
        in err, err
    # a folder given twice: its clash once, in the one pair's words (trial 89: the second file named twice)
    rc, err = extract(capsys, tmp_path / "b", tmp_path / "b", "--out", tmp_path / "s", *VGGISH)
    assert (rc, err.strip()) == (2, f"error: duplicate video id 'clip': {tmp_path / 'b' / 'clip.avi'} and "
                                    f"{tmp_path / 'b' / 'clip.mp4'} (rename one)"), err


def test_a_glob_of_a_folder_extracts_its_videos_and_skips_the_other_files(tmp_path, capsys, videos):
    """`python -m extract g/* --out S`: subtitles, Thumbs.db or a captions file swept in by the glob are
    skipped in one warning, not failed videos or id clashes; a manifest (.jsonl) beside other inputs is
    refused (its videos would go unextracted)."""
    g = tmp_path / "g"
    g.mkdir()
    shutil.copy(videos["mp4_aac"], g / "clip.mp4")
    (g / "clip.srt").write_text("1\n00:00:00,000 --> 00:00:01,000\nhello\n")
    (g / "Thumbs.db").write_bytes(b"\0" * 64)
    (g / "captions.json").write_text(json.dumps({"clip": ["a caption"]}))
    named = sorted(g.iterdir())
    for rerun in (False, True):
        rc, err = extract(capsys, *named, "--out", tmp_path / "s", *VGGISH)
        assert rc == 0 and "Traceback" not in err, err
        assert err.splitlines()[0] == (f"warning: skipped 3 named files that are not videos by their extension "
                                       f"({g / 'Thumbs.db'}, {g / 'captions.json'}, {g / 'clip.srt'})")
        assert "1 video, " in err and not (tmp_path / "s" / "failures.jsonl").exists()
    assert [p.name for p in (tmp_path / "s" / "vggish").iterdir()] == ["clip.npy"]
    (g / "manifest.jsonl").write_text(json.dumps({"video_id": "x", "path": "clip.mp4"}) + "\n")
    rc, err = extract(capsys, *sorted(g.iterdir()), "--out", tmp_path / "t", *VGGISH)
    assert (rc, err.strip()) == (2, f"error: {g / 'manifest.jsonl'}: a manifest is given alone, not beside other "
                                    f"inputs: pass {g / 'manifest.jsonl'} alone (its videos), or the videos or their "
                                    f"folder ({g}) without it")
    assert not (tmp_path / "t").exists()


def test_a_single_named_file_is_tried_whatever_its_name(tmp_path, capsys, videos):
    shutil.copy(videos["mp4_aac"], tmp_path / "clip.video")
    rc, err = extract(capsys, tmp_path / "clip.video", "--out", tmp_path / "s", *VGGISH)
    assert rc == 0 and (tmp_path / "s" / "vggish" / "clip.npy").is_file(), err


def test_a_missing_input_is_named_before_the_others_are_looked_at(tmp_path, capsys, videos):
    rc, err = extract(capsys, tmp_path / "nope.jsonl", videos["mp4_aac"], "--out", tmp_path / "s", *VGGISH)
    assert (rc, err.strip()) == (2, f"error: {tmp_path / 'nope.jsonl'}: no such file or folder")
    assert not (tmp_path / "s").exists()
    rc, err = extract(capsys, "-", "--out", tmp_path / "s", *VGGISH)  # ("-: no such file or folder": hostile trial)
    assert (rc, err.strip()) == (2, "error: reading from standard input ('-') is not supported: name a file")
    rc, err = extract(capsys, "https://example.com/v.mp4", "--out", tmp_path / "s", *VGGISH)
    assert (rc, err.strip()) == (2, "error: https://example.com/v.mp4: no such file or folder (a URL: videos are "
                                    "read from files; download it first)")


@pytest.mark.parametrize("case", ["empty folder", "empty manifest", "nothing but other files"])
def test_no_videos_at_all_is_one_line_and_no_store(case, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "m.jsonl").write_text("")
    (tmp_path / "a.srt").write_text("x")
    (tmp_path / "b.txt").write_text("x")
    args = {"empty folder": [tmp_path / "empty"], "empty manifest": [tmp_path / "m.jsonl"],
            "nothing but other files": [tmp_path / "a.srt", tmp_path / "b.txt"]}[case]
    rc, err = extract(capsys, *args, "--out", tmp_path / "deep" / "s", *VGGISH)
    assert rc == 2 and err.strip().splitlines()[-1] == f"error: no videos in {', '.join(map(str, args))}", err
    assert len(err.strip().splitlines()) == (2 if case == "nothing but other files" else 1)
    assert not (tmp_path / "deep").exists()


def test_ctrl_c_while_the_backbones_load_is_one_line_exit_130(tmp_path, capsys, videos, monkeypatch):
    out = tmp_path / "deep" / "s"

    def interrupted(cfg):
        assert out.is_dir()  # (made before the backbones load: it must be gone after)
        raise KeyboardInterrupt
    monkeypatch.setattr("extract.__main__.Extractor", interrupted)
    try:
        rc, err = extract(capsys, videos["mp4_aac"], "--out", out, *VGGISH)
    except KeyboardInterrupt:  # (escaping, it would end the whole test session, not fail this test)
        pytest.fail("the KeyboardInterrupt escaped python -m extract (a traceback for the user)")
    assert (rc, err.strip()) == (130, f"interrupted: 0 videos written; {out} removed again (this run made it); "
                                      "rerun the same command to start again")
    assert not (tmp_path / "deep").exists()


@pytest.mark.parametrize("value", ["-1/2", "-0/-2"])
def test_a_negative_shard_is_one_line(value, tmp_path, capsys, videos):
    rc, err = extract(capsys, videos["mp4_aac"], "--out", tmp_path / "s", "--shard", value, *VGGISH)
    assert (rc, err.strip()) == (2, f"error: --shard {value}: need 0 <= I < N")
    from s2vt.cli import main as s2vt_main
    assert s2vt_main(["extract", str(videos["mp4_aac"]), "--out", str(tmp_path / "s"), "--shard", value]) == 2
    assert capsys.readouterr().err.strip() == f"error: --shard {value}: need 0 <= I < N"
    assert not (tmp_path / "s").exists()


def test_a_manifest_path_that_is_a_folder_or_a_device_says_so(tmp_path):
    (tmp_path / "data.jsonl").mkdir()  # a folder named like a manifest
    with pytest.raises(ManifestError, match=r"data.jsonl: a folder, not a manifest \(a .jsonl file\)"):
        read_manifest(tmp_path / "data.jsonl")
    with pytest.raises(ManifestError, match=r"/dev/null: not a regular file"):
        read_manifest("/dev/null")
    with pytest.raises(ManifestError, match=r"nope.jsonl: manifest not found"):
        read_manifest(tmp_path / "nope.jsonl")


def test_a_run_for_another_modality_gives_an_id_no_second_video(tmp_path, videos, capsys):
    """a/v0.mp4's resnet152, then b/v0.mp4 for vggish: the id would hold two videos' features."""
    a, b, store = two_videos_one_id(tmp_path, videos)
    assert extract(capsys, a, "--out", store, *RESNET)[0] == 0
    rc, err = extract(capsys, b, "--out", store, *VGGISH)
    assert rc == 2 and f"first: v0: {a}, this run {b}" in err  # (its only video failed)
    assert not (store / "vggish" / "v0.npy").exists()


def test_a_moved_dataset_is_followed_so_a_new_video_at_the_old_path_does_not_pass_for_it(tmp_path, videos, capsys):
    ds, store = tmp_path / "ds", tmp_path / "s"
    ds.mkdir()
    shutil.copy(videos["mp4_aac"], ds / "clip.mp4")
    assert extract(capsys, ds / "clip.mp4", "--out", store, *VGGISH)[0] == 0
    ds.rename(tmp_path / "ds_old")  # (mv keeps the mtime: the same file, elsewhere)
    rc, err = extract(capsys, tmp_path / "ds_old" / "clip.mp4", "--out", store, *VGGISH)
    assert rc == 0 and "1 already done, 0 to extract" in err
    ds.mkdir()
    shutil.copy(videos["short"], ds / "clip.mp4")  # another video where the first one was
    rc, err = extract(capsys, ds / "clip.mp4", "--out", store, *VGGISH)
    assert rc == 2 and f"first: clip: {tmp_path / 'ds_old' / 'clip.mp4'}, this run {ds / 'clip.mp4'}" in err
    assert FeatureStore(store).read("vggish", "clip").shape == (2, 128)  # the first video's, kept


def test_hidden_files_in_a_scanned_folder_are_not_videos(tmp_path, capsys):
    """macOS's AppleDouble `._clip.mp4` (and `.DS_Store`) in a video folder were each a failed video,
    in `python -m extract DIR` and `caption.py DIR` alike; one named on the command line is still tried."""
    from extract.__main__ import collect_items
    from s2vt.captioner import with_folders_expanded

    root = tmp_path / "clips"
    (root / ".AppleDouble").mkdir(parents=True)
    for name in ("a.mp4", "._a.mp4", ".DS_Store", ".AppleDouble/a.mp4"):
        (root / name).write_bytes(b"x")
    assert scan_videos(root) == [("a", root / "a.mp4")]
    assert collect_items([str(root)]) == [("a", str(root / "a.mp4"))]
    assert with_folders_expanded([str(root)]) == [str(root / "a.mp4")]
    assert collect_items([str(root / "._a.mp4")]) == [(sanitize_id("._a"), str(root / "._a.mp4"))]
    assert with_folders_expanded([str(root / "._a.mp4")]) == [str(root / "._a.mp4")]


def test_a_store_of_other_settings_is_refused_before_the_backbones_load(tmp_path, capsys, monkeypatch):
    """The refusal came after the backbones were built (~1 min on a loaded machine)."""
    import extract.__main__ as cli

    def no_backbones(*args, **kwargs):
        raise AssertionError("backbones built before the store's settings were checked")

    monkeypatch.setattr(cli, "Extractor", no_backbones)
    FeatureStore(tmp_path / "store").init_meta({"frames": 8, "image_size": 112, "dtype": "float16"})
    (tmp_path / "x.mp4").write_bytes(b"x")
    rc, err = extract(capsys, tmp_path / "x.mp4", "--out", tmp_path / "store", "--weights", "random")
    assert rc == 2 and err == (f"error: {tmp_path / 'store' / 'meta.json'}: store was extracted with frames=8, "
                               "image_size=112, this run asks frames=40, image_size=224; pass --frames 8 --image-size "
                               "112 to add to this store, or use another --out\n")


def test_two_runs_recording_other_settings_into_one_new_store_at_once_one_is_refused(tmp_path, monkeypatch):
    """Two extracts of other settings started at the same instant into one new --out: each checked that no
    meta.json was there, then wrote its own, the second over the first, and both went on writing features
    under one meta.json (the first run's then recorded with the second's settings). Now the check and the
    write of meta.json are one step under the store's lock: the second waits, then is refused."""
    import threading

    from s2vt.store import StoreError

    first, second = FeatureStore(tmp_path / "store"), FeatureStore(tmp_path / "store")
    mine, other = {"frames": 8, "image_size": 112, "dtype": "float16"}, {"frames": 16, "image_size": 112,
                                                                         "dtype": "float16"}
    outcome = {}

    def second_run():
        try:
            outcome["second"] = second.init_meta(other)
        except StoreError as e:
            outcome["second"] = e

    check = FeatureStore.check_meta
    racer = threading.Thread(target=second_run)

    def checked_then_raced(self, meta, *args, **kwargs):
        found = check(self, meta, *args, **kwargs)
        if self is first and not racer.is_alive() and "second" not in outcome:  # (the other run, between its check
            racer.start()                                                      # and its write)
            racer.join(2)
        return found

    monkeypatch.setattr(FeatureStore, "check_meta", checked_then_raced)
    assert first.init_meta(mine) is True  # (it wrote meta.json)
    racer.join(30)
    assert isinstance(outcome.get("second"), StoreError), outcome
    assert "store was extracted with frames=8, this run asks 16" in str(outcome["second"])
    assert json.loads(first.meta_path.read_text()) == mine


def test_a_store_on_a_file_system_without_flock_is_written_unlocked(tmp_path, monkeypatch):
    """The store's lock is a flock on its folder; NFS emulates flock with byte-range locks, which refuse an
    exclusive lock on a read-only handle (EBADF; CIFS: ENOLCK, EOPNOTSUPP). Once meta.json's write took the lock
    (review), every extract and import into such a store was a traceback, OSError from flock. There the runs go
    on unlocked, as safe as shards are apart, as where there is no flock at all."""
    import errno

    import s2vt.store as store_module

    def no_flock(fd, op):
        raise OSError(errno.EBADF, "Bad file descriptor")

    monkeypatch.setattr(store_module.fcntl, "flock", no_flock)
    store = FeatureStore(tmp_path / "store")
    assert store.init_meta({"frames": 8, "image_size": 112, "dtype": "float16"}) is True
    store.log_failure("v1", str(tmp_path / "v1.mp4"), "unreadable")  # (the failure log's appends and rewrite take it too)
    store.settle_failures()
    assert json.loads(store.meta_path.read_text())["frames"] == 8


def test_a_store_of_other_settings_names_each_and_the_options_that_add_to_it(tmp_path, capsys, monkeypatch):
    """(hostile trial) Adding a modality to a store of other settings said only the first that differed ("store was
    extracted with frames=8, this run asks 40; use another --out"): fixed, the next run was refused for the next
    setting. Now every differing setting is named, with the options that match the store."""
    import extract.__main__ as cli

    monkeypatch.setattr(cli, "Extractor", lambda *a, **k: pytest.fail("backbones built"))
    store = FeatureStore(tmp_path / "store")
    store.init_meta({"frames": 8, "clips": 2, "image_size": 224, "vggish_pca": True, "dtype": "float32"})
    (tmp_path / "x.mp4").write_bytes(b"x")
    rc, err = extract(capsys, tmp_path / "x.mp4", "--out", store.root, "--weights", "random", "--modalities", "vggish")
    assert rc == 2 and err == (f"error: {store.meta_path}: store was extracted with frames=8, clips=2, vggish_pca=True, "
                               "dtype='float32', this run asks frames=40, clips=8, vggish_pca=False, dtype='float16'; "
                               "pass --frames 8 --clips 2 --vggish-pca --dtype float32 to add to this store, or use "
                               "another --out\n")


@pytest.mark.parametrize("weights, asks", [
    ((), "weights pretrained"),
    (("--weights", "random", "--seed", "1"), "weights random(seed=1)")])
def test_a_store_of_other_weights_is_named_with_its_settings_before_they_load(weights, asks, tmp_path, capsys,
                                                                             monkeypatch):
    """(trial 71) A store of seeded random weights and other settings: the refusal named the settings alone, and a
    run that passed them went on to look for pretrained weights (not found), or was refused with 'use another
    --out' for the seed. The weights are named with the settings, and the options that add to the store."""
    import extract.__main__ as cli

    class Built(Exception):
        pass

    def built(*args, **kwargs):
        raise Built

    monkeypatch.setattr(cli, "Extractor", built)
    store = FeatureStore(tmp_path / "store")
    store.init_meta({"frames": 4, "image_size": 64, "seed": 0, "dtype": "float16",
                     "backbones": {"resnet152": "random(seed=0)", "vggish": "random(seed=0)"}})
    (tmp_path / "x.mp4").write_bytes(b"x")
    rc, err = extract(capsys, tmp_path / "x.mp4", "--out", store.root, "--modalities", "resnet152", *weights)
    assert rc == 2 and err == (f"error: {store.meta_path}: store was extracted with frames=4, image_size=64, resnet152 "
                               "weights random(seed=0), vggish weights random(seed=0), this run asks frames=40, "
                               f"image_size=224, {asks}; pass --frames 4 --image-size 64 --weights random --seed 0 to "
                               "add to this store, or use another --out\n")
    # one store, one kind of weights for every modality: a second seed's c3d made a store no model of could
    # caption, and the advice then asked each seed in turn (trial 72)
    rc, err = extract(capsys, tmp_path / "x.mp4", "--out", store.root, "--modalities", "c3d", "--frames", "4",
                      "--image-size", "64", *weights)
    assert rc == 2 and "pass --weights random --seed 0 to add to this store" in err, err
    assert "c3d" not in json.loads(store.meta_path.read_text())["backbones"]
    # (the weights alone: the same advice; a store of a weight file still takes a pretrained run)
    rc, err = extract(capsys, tmp_path / "x.mp4", "--out", store.root, "--modalities", "resnet152", "--frames", "4",
                      "--image-size", "64", *weights)
    assert rc == 2 and err.endswith(f"this run asks {asks}; pass --weights random --seed 0 to add to this store, or "
                                    "use another --out\n"), err
    assert FeatureStore(tmp_path / "s2").init_meta({"frames": 40, "backbones": {"resnet152": "r152-abc.pth"}})
    with pytest.raises(Built):  # (past the check, to the backbones)
        extract(capsys, tmp_path / "x.mp4", "--out", tmp_path / "s2", "--modalities", "resnet152")


def test_auto_precision_adds_to_a_store_at_each_modality_s_own(tmp_path, capsys, monkeypatch):
    """A store of int8 resnet152 and fp32 vggish (asked for by name): `--precision auto` over both refused for
    vggish's, and the advised --precision fp32 then for resnet152's, and so on (trial 73). auto takes each held
    modality's precision; one asked for by name is still checked against it."""
    import numpy as np

    import extract.__main__ as cli

    built = []

    class Built(Exception):
        pass

    def build(cfg):
        built.append(cfg)
        raise Built

    monkeypatch.setattr(cli, "Extractor", build)
    store = FeatureStore(tmp_path / "store")
    store.init_meta({"frames": 4, "image_size": 64, "seed": 0, "dtype": "float16",
                     "backbones": {"resnet152": "random(seed=0)", "vggish": "random(seed=0)"},
                     "precision": {"resnet152": "int8", "vggish": "fp32"}})
    for m in ("resnet152", "vggish"):
        (store.root / m).mkdir()
        np.save(store.root / m / "v.npy", np.zeros((2, 3), np.float16))
    (tmp_path / "x.mp4").write_bytes(b"x")
    args = (capsys, tmp_path / "x.mp4", "--out", store.root, "--weights", "random", "--frames", "4", "--image-size", "64")
    with pytest.raises(Built):
        extract(*args)
    assert built[0].precision == {"resnet152": "int8", "c3d": "auto", "vggish": "fp32"}
    rc, err = extract(*args, "--precision", "fp32")
    assert rc == 2 and err.endswith("store was extracted with resnet152 precision int8, this run asks precision fp32; "
                                    "pass --precision auto to add to this store, or use another --out\n"), err
    rc, err = extract(*args, "--precision", "fp32", "--modalities", "resnet152")  # (one held precision: named)
    assert rc == 2 and err.endswith("pass --precision int8 to add to this store, or use another --out\n"), err


def test_a_store_another_run_began_with_other_settings_gives_no_resume_advice(tmp_path, capsys, monkeypatch):
    """(hostile trial) Two runs into one empty store at once, --frames 8 and --frames 4: the one that wrote its
    meta.json second said "... store was extracted with frames=8, this run asks 4; use another --out (stopped after
    0 videos written, complete files only; rerun the same command to resume)", and a rerun was refused the same way.
    Now its line is the one a run started after the other says: no resume advice a rerun would not follow."""
    import extract.__main__ as cli

    store = tmp_path / "store"
    follow_moves = cli.follow_moves

    def other_run_begins(*args, **kwargs):  # (after this run's checks, before its first video's record)
        FeatureStore(store).init_meta({"frames": 8, "image_size": 64, "dtype": "float16"})
        return follow_moves(*args, **kwargs)

    monkeypatch.setattr(cli, "follow_moves", other_run_begins)
    (tmp_path / "x.mp4").write_bytes(b"not a video")
    rc, err = extract(capsys, tmp_path / "x.mp4", "--out", store, *VGGISH)
    assert rc == 2 and err.strip().splitlines()[-1] == (
        f"error: {store / 'meta.json'}: store was extracted with frames=8, this run asks 4; pass --frames 8 to add to "
        "this store, or use another --out"), err
    assert sorted(p.name for p in store.iterdir()) == ["meta.json"]


def bad_pca(folder, kind):
    """A vggish_pca_params.npz that is not the PCA parameters: wrong shapes, other arrays, or text."""
    path = folder / "vggish_pca_params.npz"
    if kind == "shapes":
        np.savez(path, pca_eigen_vectors=np.zeros((3, 3)), pca_means=np.zeros(3))
    elif kind == "names":
        np.savez(path, a=np.zeros(3))
    elif kind in ("nan", "inf"):  # right names and shapes: every feature was NaN, exit 0
        vectors = np.eye(128, dtype=np.float32)
        vectors[5, 7] = float(kind)
        np.savez(path, pca_eigen_vectors=vectors, pca_means=np.zeros(128, np.float32))
    else:
        path.write_text("not an npz\n")
    return path


@pytest.mark.parametrize("kind, says", [("shapes", "shapes [3, 3] and [3], not [128, 128] and [128]"),
                                        ("names", "no pca_eigen_vectors or pca_means array"),
                                        ("text", "ValueError"),
                                        ("nan", "pca_eigen_vectors holds 1 NaN or infinite values"),
                                        ("inf", "pca_eigen_vectors holds 1 NaN or infinite values")])
def test_a_bad_vggish_pca_file_is_one_line_naming_it_and_no_store(kind, says, tmp_path, videos, capsys):
    """It was a traceback at the first video's PCA (or its loading), exit 1, and a store's meta.json left."""
    path = bad_pca(tmp_path, kind)
    out = tmp_path / "store"
    rc, err = extract(capsys, videos["mp4_aac"], "--out", out, *VGGISH, "--vggish-pca", "--weights-dir", tmp_path)
    assert rc == 2 and "Traceback" not in err and err.count("\n") == 1
    assert err.startswith(f"error: {path}: does not load as VGGish PCA parameters") and says in err
    assert not out.exists()


@pytest.mark.parametrize("modality, file, state, says", [
    ("resnet152", "resnet152-394f9c45.pth", {"foo": [3]},
     "not ResNet-152 weights (missing keys: conv1.weight, bn1.weight, bn1.bias, ... 930 in all; unexpected: foo)"),
    ("c3d", "c3d.pickle", {"foo": [3]}, "not C3D weights (missing keys: conv1.weight, conv1.bias, conv2.weight, "
     "... 22 in all; unexpected: foo)"),
    ("vggish", "vggish-10086976.pth", {"features.0.weight": [3]},
     "not VGGish weights (missing keys: features.0.bias, features.3.weight, features.3.bias, ... 17 in all; "
     "features.0.weight is [3], not [64, 1, 3, 3])"),
    ("c3d", "c3d.pickle", "nan", "not usable C3D weights (conv3a.bias holds NaN or infinite values)"),
    ("c3d", "c3d.pickle", "inf", "not usable C3D weights (conv1.weight holds NaN or infinite values; 2 tensors do)"),
    ("c3d", "c3d.pickle", "empty", "empty file, not a PyTorch weights file")])
def test_weights_of_another_network_are_one_short_line_naming_the_file(modality, file, state, says, tmp_path,
                                                                       videos, capsys):
    """A torch file of the wrong keys or shapes under a backbone's name was torch's multi-kilobyte
    "Error(s) in loading state_dict" traceback, exit 1 (caption.py and `s2vt serve` load the same way)."""
    import torch
    from extract.backbones.c3d import C3DNet

    if state == "empty":
        (tmp_path / file).write_bytes(b"")
    elif state in ("nan", "inf"):  # the right keys and shapes: every feature was NaN, exit 0
        good = {k: torch.zeros(v.shape) for k, v in C3DNet().state_dict().items()}
        for key in ("conv3a.bias",) if state == "nan" else ("conv1.weight", "fc7.bias"):
            good[key].view(-1)[4] = float(state)
        torch.save(good, tmp_path / file)
    else:
        torch.save({k: torch.zeros(shape) for k, shape in state.items()}, tmp_path / file)
    out = tmp_path / "store"
    rc, err = extract(capsys, videos["mp4_aac"], "--out", out, *FAST, "--weights", "pretrained",
                      "--modalities", modality, "--weights-dir", tmp_path)
    assert rc == 2 and err == f"error: {tmp_path / file}: {says}\n"
    assert not out.exists()


@pytest.mark.parametrize("existed", [False, True])
@pytest.mark.parametrize("stop", ["disk full at meta.json", "ctrl-c before the first video"])
def test_a_run_stopped_before_writing_anything_leaves_no_out_folder_it_made(stop, existed, tmp_path, capsys, videos,
                                                                            monkeypatch):
    """A full disk at meta.json (exit 2) or a Ctrl-C after the "N to extract -> OUT" line, before the
    first video (exit 130), left the empty --out behind; a folder that existed before is kept."""
    import errno

    out = tmp_path / "deep" / "s"
    if existed:
        out.mkdir(parents=True)
    if stop == "disk full at meta.json":
        replace = os.replace

        def full(src, dst):
            if os.path.basename(dst) == "meta.json":
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return replace(src, dst)
        monkeypatch.setattr(os, "replace", full)
    else:
        def interrupted(self, items, on_result, workers=2):
            raise KeyboardInterrupt
        monkeypatch.setattr("extract.pipeline.Extractor.run", interrupted)
    try:
        rc, err = extract(capsys, videos["mp4_aac"], "--out", out, *VGGISH)
    except KeyboardInterrupt:
        pytest.fail("the KeyboardInterrupt escaped python -m extract (a traceback for the user)")
    last = err.strip().splitlines()[-1]
    if stop == "disk full at meta.json":
        assert rc == 2 and last.startswith(f"error: cannot write {out / 'meta.json'}: No space left on device"), err
    else:
        assert rc == 130 and last.startswith("interrupted: 0 videos written"), err
        # (nothing to resume where the store this run made is gone: trial 77)
        assert last.endswith("rerun the same command to resume" if existed else
                             f"{out} removed again (this run made it); rerun the same command to start again"), err
    assert "Traceback" not in err
    if existed:
        assert out.is_dir() and list(out.iterdir()) == []  # kept as it was
    else:
        assert not (tmp_path / "deep").exists()


def test_dot_ids_are_refused_with_the_true_reason(tmp_path, capsys):
    """'.' said "must match [A-Za-z0-9_.-]{1,128}", which it does; '.x' was taken and became the hidden
    file .x.npy. Ids name files: '.' and '..' are refused as such, a leading '.' as a hidden file; a
    leading '-' (MSVD's YouTube ids) stays allowed."""
    from s2vt.manifest import check_video_id, valid_video_id

    cases = {".": "'.' and '..' name folders, not files",
             "..": "'.' and '..' name folders, not files",
             ".x": "must not start with '.' (a hidden file)",
             "a/b": "must match [A-Za-z0-9_.-]{1,128}",
             "": "must match [A-Za-z0-9_.-]{1,128}"}
    for vid, reason in cases.items():
        manifest = tmp_path / "m.jsonl"
        manifest.write_text(json.dumps({"video_id": vid, "path": "x.mp4"}) + "\n")
        with pytest.raises(ManifestError) as e:
            read_manifest(manifest)
        assert str(e.value) == f"{manifest}:1: invalid video_id {vid!r}: {reason}", vid
        rc, err = extract(capsys, manifest, "--out", tmp_path / "s", *VGGISH)
        assert (rc, err.strip().splitlines()[-1]) == (2, f"error: {e.value}")
        assert not (tmp_path / "s").exists()
    for vid in ("-4wsuPCjDBc_5_10", "a.b", "x.", "_", "-"):
        assert valid_video_id(vid) and check_video_id(vid) == vid
    assert sanitize_id(".x") == "x" and valid_video_id(sanitize_id("._a"))


def test_raw_elementary_streams_are_videos_by_their_extension(tmp_path):
    """Raw streams decode (by frame order) when named alone, but a folder of them said 'no videos in DIR' and
    `python -m extract a.h264` skipped it as not a video by its extension (hostile trial)."""
    names = ["a.h264", "b.264", "c.hevc", "d.h265", "e.265", "f.m2v", "g.ivf", "h.mjpeg", "i.MJPG"]
    for name in names:
        (tmp_path / name).write_bytes(b"\0")
    assert [p.name for _, p in scan_videos(tmp_path)] == names


def test_a_symbolic_link_loop_is_called_one(tmp_path):
    """`ln -s loop.mp4 d/loop.mp4` was reported as 'broken symbolic link to loop.mp4' (hostile trial)."""
    from s2vt.manifest import no_such_video

    (tmp_path / "loop.mp4").symlink_to("loop.mp4")
    (tmp_path / "a.mp4").symlink_to("b.mp4")
    (tmp_path / "b.mp4").symlink_to("a.mp4")
    (tmp_path / "gone.mp4").symlink_to("/mnt/unmounted/gone.mp4")
    assert no_such_video(tmp_path / "loop.mp4") == f"{tmp_path / 'loop.mp4'}: a symbolic link loop (to loop.mp4)"
    assert no_such_video(tmp_path / "a.mp4") == f"{tmp_path / 'a.mp4'}: a symbolic link loop (to b.mp4)"
    assert no_such_video(tmp_path / "gone.mp4") == (f"{tmp_path / 'gone.mp4'}: broken symbolic link to "
                                                    "/mnt/unmounted/gone.mp4")



def test_a_batch_whose_every_video_failed_is_exit_2_as_in_caption(tmp_path, videos, capsys):
    """`python -m extract` exited 1 when every video failed, where caption.py exits 2 for the same bad input
    (hostile trial): exit 1 says the others were done. Now 2 when no video of the run has features (none
    extracted, none done before); a rerun whose other videos are done is still a partial 1."""
    folder, store = tmp_path / "in", tmp_path / "s"
    folder.mkdir()
    (folder / "a.mp4").write_text("not a video")
    (folder / "b.mp4").write_text("nor this")
    store.mkdir()  # (a store there before the run: kept, its failures logged for a rerun)
    rc, err = extract(capsys, folder, "--out", store, *VGGISH)
    assert rc == 2 and "Traceback" not in err, err
    assert err.strip().splitlines()[-1] == (f"error: 2 videos failed (all of them: no video has features); "
                                            f"reasons in {store / 'failures.jsonl'}")
    assert len((store / "failures.jsonl").read_text().splitlines()) == 2  # (logged, for a rerun)
    shutil.copy(videos["mp4_aac"], folder / "c.mp4")
    assert extract(capsys, folder, "--out", store, *VGGISH)[0] == 1  # (c extracted)
    rc, err = extract(capsys, folder, "--out", store, *VGGISH)  # (c done before: a and b fail again)
    assert rc == 1 and err.strip().splitlines()[-1].startswith("error: 2 videos failed; reasons in"), err


def test_a_named_input_that_is_a_link_loop_or_a_broken_link_is_called_one(tmp_path, capsys):
    """`python -m extract a`, a -> b -> a, said 'a: no such file or folder' (hostile trial), where caption.py
    says 'a symbolic link loop (to b)'; a link to nothing likewise said nothing of the link. Now as caption.py."""
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    (tmp_path / "gone.mp4").symlink_to("/mnt/unmounted/gone.mp4")
    for name, said in [("a", "a symbolic link loop (to b)"),
                       ("gone.mp4", "broken symbolic link to /mnt/unmounted/gone.mp4")]:
        rc, err = extract(capsys, tmp_path / name, "--out", tmp_path / "s", *VGGISH)
        assert (rc, err.strip()) == (2, f"error: {tmp_path / name}: {said}")
    assert not (tmp_path / "s").exists()


def test_a_broken_link_among_several_inputs_is_a_failed_video_the_rest_go_on(tmp_path, videos, capsys):
    """`python -m extract d/*` with a link loop in d refused the whole batch (new-user trial), where caption.py and a
    scan of d log it as a failed video and go on. A name that is not there at all stays a refusal (a typo)."""
    d = tmp_path / "d"
    d.mkdir()
    shutil.copy(videos["mp4_aac"], d / "good.mp4")
    (d / "loop.mp4").symlink_to("loop.mp4")
    (d / "gone.mp4").symlink_to("/mnt/unmounted/gone.mp4")
    rc, err = extract(capsys, d / "good.mp4", d / "loop.mp4", d / "gone.mp4", "--out", tmp_path / "s", *VGGISH)
    assert rc == 1 and "Traceback" not in err, err
    assert f"failed: loop: {d / 'loop.mp4'}: a symbolic link loop (to loop.mp4)" in err, err
    assert err.strip().splitlines()[-1].startswith("error: 2 videos failed; reasons in"), err
    assert (tmp_path / "s" / "vggish" / "good.npy").is_file()
    rc, err = extract(capsys, d / "good.mp4", d / "typo.mp4", "--out", tmp_path / "s2", *VGGISH)
    assert rc == 2 and err.strip().startswith(f"error: {d / 'typo.mp4'}: no such file or folder"), err
    # a broken link without a video's extension (a folder on a disk not mounted) is refused, not skipped as a
    # file that is no video (review)
    (d / "disk2").symlink_to("/mnt/unmounted/disk2")
    rc, err = extract(capsys, d / "good.mp4", d / "disk2", "--out", tmp_path / "s3", *VGGISH)
    assert (rc, err.strip()) == (2, f"error: {d / 'disk2'}: broken symbolic link to /mnt/unmounted/disk2"), err
    # one named as another kind of file (subtitles) is skipped as that file would be, not a refusal (review)
    (d / "subs.srt").symlink_to("/mnt/unmounted/subs.srt")
    rc, err = extract(capsys, d / "good.mp4", d / "subs.srt", "--out", tmp_path / "s4", *VGGISH)
    assert rc == 0 and err.splitlines()[0] == ("warning: skipped 1 named file that is not a video by its extension "
                                               f"({d / 'subs.srt'})"), err


def test_a_store_folder_that_is_a_symbolic_link_loop_is_called_one(tmp_path, videos, capsys):
    """A store whose vggish/ is a link loop was refused as 'a broken symbolic link (to vggish, which does not
    exist): remove it, or make what it points to', which no target made could mend (hostile trial)."""
    store = tmp_path / "store"
    store.mkdir()
    (store / "vggish").symlink_to("vggish")
    rc, err = extract(capsys, videos["mp4_aac"], "--out", store, *VGGISH)
    assert rc == 2 and one_line_error(err)
    assert err.strip().splitlines()[-1] == (f"error: cannot write {store / 'vggish'}: it is a symbolic link loop (to "
                                            "vggish), not the folder of modality 'vggish': move it, or pass another --out")
    assert "to extract" not in err  # (before any video, as a pipe or a file there is: store.not_a_folder's words)
    assert (store / "vggish").is_symlink()


@pytest.mark.parametrize("log", ["notes.jsonl", "failures.jsonl", "sources.jsonl"])
def test_a_store_log_that_cannot_be_appended_to_is_refused_before_any_video(log, tmp_path, videos, capsys):
    """`mkdir STORE/notes.jsonl` stopped extract after its first video's features and sources.jsonl line were
    written, saying '0 videos written'; a rerun found the video done and its notes were never written
    (hostile trial). Now one line before any video; once the log is fixed the rerun writes everything."""
    store = tmp_path / "s"
    (store / log).mkdir(parents=True)
    rc, err = extract(capsys, videos["mov_silent"], "--out", store, *VGGISH)
    assert rc == 2 and one_line_error(err) and err.strip().splitlines()[-1] == (
        f"error: cannot write {store / log}: Is a directory"), err
    assert sorted(p.name for p in store.iterdir()) == [log]  # nothing of the video written
    (store / log).rmdir()
    rc, err = extract(capsys, videos["mov_silent"], "--out", store, *VGGISH)
    assert rc == 0 and "1 written" in err, err
    notes = [json.loads(x) for x in (store / "notes.jsonl").read_text().splitlines()]
    assert [n["video_id"] for n in notes] == ["mov_silent"] and "no audio track" in notes[0]["note"]


@pytest.mark.parametrize("log, special", [("failures.jsonl", "fifo"), ("notes.jsonl", "fifo"),
                                          ("sources.jsonl", "/dev/zero"), ("notes.jsonl", "/dev/zero"),
                                          ("failures.jsonl", "/dev/full")])
def test_a_store_log_that_is_a_pipe_or_a_device_is_one_line_never_a_hang(log, special, tmp_path, videos, capsys):
    """A FIFO at STORE/failures.jsonl or notes.jsonl hung extract for good; STORE/sources.jsonl a link to /dev/full
    read until the kernel killed it; notes.jsonl a link to /dev/zero passed and the notes vanished (hostile
    trial). Now one line, exit 2, before any video, the file left as it is."""
    import signal

    store = tmp_path / "s"
    store.mkdir()
    if special == "fifo":
        os.mkfifo(store / log)
    else:
        (store / log).symlink_to(special)
    previous = signal.signal(signal.SIGALRM, lambda *_: pytest.fail("extract waited on the pipe"))
    signal.alarm(60)
    try:
        rc, err = extract(capsys, videos["mov_silent"], "--out", store, *VGGISH)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    what = "a pipe" if special == "fifo" else "a device"
    assert rc == 2 and one_line_error(err) and err.strip().splitlines()[-1] == (
        f"error: {store / log} is {what}, not a file: the store keeps its log under that name: move it"), err
    assert sorted(p.name for p in store.iterdir()) == [log]


@pytest.mark.parametrize("kind", ["fifo", "file", "link to a fifo", "link to nothing"])
def test_a_modality_folder_that_is_a_pipe_or_a_file_is_named_as_what_it_is_before_any_video(kind, tmp_path, videos,
                                                                                           capsys):
    """A FIFO in the place of STORE/vggish was called 'STORE/vggish is a file, not a folder', after the backbones
    loaded and the first video was decoded (hostile trial; `s2vt import features` says 'it is a pipe'). Now it is
    named as what it is, in one line before any video, and left as it is."""
    store = tmp_path / "s"
    store.mkdir()
    folder = store / "vggish"
    if kind == "file":
        folder.write_text("not features")
    elif kind == "fifo":
        os.mkfifo(folder)
    elif kind == "link to a fifo":
        os.mkfifo(tmp_path / "fifo")
        folder.symlink_to(tmp_path / "fifo")
    else:
        folder.symlink_to(tmp_path / "gone")
    rc, err = extract(capsys, videos["mov_silent"], "--out", store, *VGGISH)
    gone = f"a link to a missing target ({tmp_path / 'gone'})"
    what = {"file": "a file", "link to nothing": gone}.get(kind, "a pipe")
    assert rc == 2 and one_line_error(err) and err.strip().splitlines()[-1] == (
        f"error: cannot write {folder}: it is {what}, not the folder of modality 'vggish': move it, or pass "
        "another --out"), err
    assert "to extract" not in err  # (before any video)
    assert sorted(p.name for p in store.iterdir()) == ["vggish"] and os.path.lexists(folder)


def test_a_note_that_fails_mid_run_leaves_its_video_to_the_rerun(tmp_path, videos, capsys, monkeypatch):
    """A note that cannot be written (a full disk) once the run is going: its video's features are not
    written either, the count says so, and the rerun extracts it, notes and all."""
    from s2vt.fileio import OutputError

    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(videos["mov_silent"], folder / "a.mov")
    shutil.copy(videos["mov_silent"], folder / "b.mov")
    store = tmp_path / "s"
    note = FeatureStore.note

    def full(self, video_id, text, *about):
        if video_id == "b":
            raise OutputError(f"cannot write {self.root / 'notes.jsonl'}: No space left on device")
        note(self, video_id, text, *about)
    monkeypatch.setattr(FeatureStore, "note", full)
    rc, err = extract(capsys, folder, "--out", store, *VGGISH, "--batch-videos", "1", "--workers", "1")
    assert rc == 2 and "stopped after 1 video written" in err, err
    assert sorted(p.name for p in (store / "vggish").iterdir()) == ["a.npy"]
    monkeypatch.setattr(FeatureStore, "note", note)
    rc, err = extract(capsys, folder, "--out", store, *VGGISH)
    assert rc == 0 and "1 already done, 1 to extract" in err and "1 written" in err, err
    assert [json.loads(x)["video_id"] for x in (store / "notes.jsonl").read_text().splitlines()] == ["a", "b"]


def test_failures_are_worded_for_the_user_and_name_files_as_failures_jsonl_does(tmp_path, videos, capsys,
                                                                                 monkeypatch):
    """Hostile trial: a failure's reason kept the path as typed ("v.m2v: not a readable video") beside an absolute
    "path", and a same-id failure said "this run v.h264"; random bytes named .hevc were said to have "video
    stream has no frame size"; a truncated VP8 .ivf said "Terminating thread with return code -1145393733
    (Error number -1145393733 occurred)", ffmpeg's internals."""
    import numpy as np

    monkeypatch.chdir(tmp_path)
    folder = Path("in")
    folder.mkdir()
    (folder / "v.m2v").write_bytes(b"not a video\n")
    (folder / "r.hevc").write_bytes(np.random.default_rng(0).bytes(20000))
    whole = make_video(tmp_path / "t.ivf", 1.0, "64x48", vcodec="libvpx", audio=None).read_bytes()
    (folder / "t.ivf").write_bytes(whole[:100])  # (its header and the start of its first frame)
    Path("s").mkdir()  # (a store there before: its failures are kept; a new one of failures only is removed)
    rc, err = extract(capsys, folder, "--out", "s", *RESNET)
    assert rc == 2 and "Traceback" not in err, err  # (every video failed)
    failures = {f["video_id"]: f for f in map(json.loads, Path("s/failures.jsonl").read_text().splitlines())}
    for vid, says in (("v", "not a readable video"), ("r", "not a readable video"),
                      ("t", "cut short or corrupt: its frames fail to decode")):
        f = failures[vid]
        assert f["path"] == str(tmp_path / "in" / Path(f["path"]).name), f
        assert f["reason"].startswith(f"{f['path']}: ") and says in f["reason"], f
        assert f"failed: {vid}: {f['reason']}" in err
        assert f["reason"].startswith(f"{f['path']}: {says}") or vid == "t", f
        assert "Error number" not in f["reason"] and "@ 0x" not in f["reason"]
    # a second video under a stored id, named relative: its path as the store records the first's
    for name, video in (("a", "mp4_aac"), ("b", "short")):
        Path(name).mkdir()
        shutil.copy(videos[video], Path(name) / "c.mp4")
    assert extract(capsys, "a/c.mp4", "--out", "s2", *VGGISH)[0] == 0
    rc, err = extract(capsys, "b/c.mp4", "--out", "s2", *VGGISH)
    assert rc == 2 and f"(first: c: {tmp_path / 'a' / 'c.mp4'}, this run {tmp_path / 'b' / 'c.mp4'})" in err, err


def test_an_option_after_double_dash_is_named_not_a_dash_file(tmp_path, capsys, monkeypatch):
    """`python -m extract -- * --out X` (a folder holding --help.m2v) said "--help.m2v is a file: name it
    ./--help.m2v", though '--' had made it a file name: the option after '--' is what is wrong."""
    monkeypatch.chdir(tmp_path)
    for name in ("a.m2v", "--help.m2v"):
        Path(name).write_bytes(b"\0")
    with pytest.raises(SystemExit) as e:
        main(["--", "--help.m2v", "a.m2v", "--out", "X"])
    assert e.value.code == 2
    assert capsys.readouterr().err == ("error: the following arguments are required: --out; --out after '--' is "
                                       "taken as a file name: put options before '--' (see s2vt extract --help)\n")
    with pytest.raises(SystemExit):  # (without '--', a file named like an option still gets its hint)
        main(["--help.m2v", "a.m2v"])
    assert "--help.m2v is a file: name it ./--help.m2v" in capsys.readouterr().err
    assert not Path("X").exists()


@pytest.mark.parametrize("meta, why", [({"name": "my app", "version": "2.0"}, "its key 'name' is no store's"),
                                       ({"frames": 40, "owner": "me"}, "its key 'owner' is no store's")])
def test_extract_refuses_a_meta_json_that_is_no_stores(meta, why, tmp_path, capsys, monkeypatch):
    """Another program's meta.json in --out was merged into (its "version" replaced by the package's, no word
    said; hostile trial): refused in one line before the backbones load, the file as it was."""
    import extract.__main__ as cli

    monkeypatch.setattr(cli, "Extractor", lambda *a, **k: pytest.fail("backbones built"))
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "meta.json").write_text(json.dumps(meta))
    (tmp_path / "x.mp4").write_bytes(b"x")
    rc, err = extract(capsys, tmp_path / "x.mp4", "--out", tmp_path / "proj", "--weights", "random")
    assert (rc, err) == (2, f"error: {tmp_path / 'proj' / 'meta.json'} is not a feature store's meta.json ({why}): "
                            "name another --out\n")
    assert json.loads((tmp_path / "proj" / "meta.json").read_text()) == meta


@pytest.mark.parametrize("log", ["sources.jsonl", "notes.jsonl", "failures.jsonl"])
@pytest.mark.parametrize("line, why", [("keep me\n", "not valid JSON"), ('{"name": "x"}\n', "no video_id")])
def test_extract_refuses_a_log_that_is_no_stores(log, line, why, tmp_path, capsys, monkeypatch):
    """A foreign line in --out's sources.jsonl ('keep me') was accepted and appended to silently (hostile trial):
    refused in one line before the backbones load; a last line cut short (a crash mid-append) is no refusal."""
    import extract.__main__ as cli

    monkeypatch.setattr(cli, "Extractor", lambda *a, **k: pytest.fail("backbones built"))
    store = FeatureStore(tmp_path / "st")
    store.record_source("v0", {"size": 1, "mtime_ns": 1}, ["resnet152"], str(tmp_path / "v0.mp4"))
    path = tmp_path / "st" / log
    good = path.read_bytes() if path.exists() else b""
    path.write_bytes(good + line.encode())
    (tmp_path / "x.mp4").write_bytes(b"x")
    rc, err = extract(capsys, tmp_path / "x.mp4", "--out", tmp_path / "st", "--weights", "random")
    assert rc == 2 and err.startswith(f"error: {path} is not a feature store's {log} (line {good.count(b'{') + 1}: "
                                      f"{why}") and err.endswith("): name another --out\n"), err
    assert path.read_bytes() == good + line.encode()
    path.write_bytes(good + b'{"video_id": "v1", "modal')  # (cut short: the append a crash stopped)
    monkeypatch.setattr(cli, "Extractor", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt))
    rc, err = extract(capsys, tmp_path / "x.mp4", "--out", tmp_path / "st", "--weights", "random")
    assert "is not a feature store's" not in err


def test_a_log_cut_short_by_a_crash_takes_the_next_runs_records_on_lines_of_their_own(tmp_path, videos, capsys):
    """A crash cut sources.jsonl's last line short; the next run appended its record straight onto it, making one
    line of invalid JSON that ends in a newline, so the run after that called the store foreign ('line 2: not
    valid JSON: name another --out') and the record was lost (hostile trial). Now an append starts a line of its
    own, the cut line is passed over by every reader, and later runs go on."""
    store = tmp_path / "s"
    assert extract(capsys, videos["mp4_aac"], "--out", store, *VGGISH)[0] == 0
    log = store / "sources.jsonl"
    log.write_bytes(log.read_bytes()[:-20])  # (the last line cut short, no newline)
    for video in ("mkv_pcm", "avi_mp3"):
        rc, err = extract(capsys, videos[video], "--out", store, *VGGISH)
        assert rc == 0 and "1 written" in err, err
    assert sorted(FeatureStore(store).sources()) == ["avi_mp3", "mkv_pcm"]
    lines = log.read_bytes().splitlines()
    assert len(lines) == 3 and [json.loads(x)["video_id"] for x in lines[1:]] == ["mkv_pcm", "avi_mp3"]


def test_reading_a_log_with_cut_records_says_how_many_once(tmp_path):
    """sources.jsonl lines a crash cut short were passed over without a word: those videos' sources went
    unknown (counted unchanged) and nothing said so (hostile trial). Now one warning gives the count and the
    file; a blank line is no record and is not counted."""
    store = FeatureStore(tmp_path)
    store.record_source("a", {"size": 1, "mtime_ns": 2}, ["vggish"], path=str(tmp_path / "a.mp4"))
    log = tmp_path / "sources.jsonl"
    whole = log.read_bytes()
    log.write_bytes(whole + b'{"video_id": "b", "mod\n\n' + whole + b'{"video_id": "c", "modalities": ["vg')
    with pytest.warns(UserWarning) as said:
        assert sorted(FeatureStore(tmp_path).sources()) == ["a"]
    assert [str(w.message) for w in said] == [
        f"{log}: passed over 2 record(s) cut short (a write a crash stopped; first: b): the files those videos' "
        "features came from are not known: run the extract or import that wrote them again, which writes them anew"]


def test_a_cut_record_whose_video_is_written_again_is_no_longer_said(tmp_path):
    """The warning of a record cut short came on every run for good (the log is append-only), and a record whose
    first words are cut gives no video to name (hostile trial): a later whole record of the same video supersedes
    the cut one, and an unnamed one is counted without a name or a fix."""
    store = FeatureStore(tmp_path)
    store.record_source("a", {"size": 1, "mtime_ns": 2}, ["vggish"], path=str(tmp_path / "a.mp4"))
    log = tmp_path / "sources.jsonl"
    whole = log.read_bytes()
    log.write_bytes(b'{"video_id": "a", "modalities": ["vg\n' + whole + b'{"vid\n')
    with pytest.warns(UserWarning) as said:
        assert sorted(FeatureStore(tmp_path).sources()) == ["a"]
    assert [str(w.message) for w in said] == [
        f"{log}: passed over 1 record(s) cut short (a write a crash stopped): the files those videos' features "
        "came from are not known"]


def test_a_video_whose_source_record_a_crash_cut_short_is_extracted_again(tmp_path, videos, capsys):
    """A sources.jsonl record cut short by a crash left its video counted as done, its file unknown, and warned on
    every run without naming it (hostile trial): the next run extracts it again, which records it, and the
    warning ends."""
    store = tmp_path / "s"
    assert extract(capsys, videos["mp4_aac"], "--out", store, *VGGISH)[0] == 0
    log = store / "sources.jsonl"
    log.write_bytes(log.read_bytes()[:-20])  # (its record cut short, no newline)
    with pytest.warns(UserWarning, match="cut short .*first: mp4_aac"):
        rc, err = extract(capsys, videos["mp4_aac"], "--out", store, *VGGISH)
    assert rc == 0 and "0 already done, 1 to extract" in err and "1 written" in err, err
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        rc, err = extract(capsys, videos["mp4_aac"], "--out", store, *VGGISH)
    assert rc == 0 and "1 already done" in err and not [w for w in said if "cut short" in str(w.message)], err
    assert list(FeatureStore(store).sources()) == ["mp4_aac"]


def test_every_store_log_record_starts_with_its_video_id(tmp_path):
    """RECORD_START tells a cut line of the store's own from another program's by its start, and relied on each
    caller of `_append` giving video_id first, which nothing enforced: `_append` puts it first itself, and refuses
    a record without one (a programming error: no store log holds such a line)."""
    store = FeatureStore(tmp_path)
    store._append("notes.jsonl", {"note": "no audio track", "video_id": "v"})
    line = (tmp_path / "notes.jsonl").read_bytes()
    assert line.startswith(RECORD_START) and json.loads(line)["note"] == "no audio track"
    with pytest.raises(TypeError, match="needs a video_id"):
        store._append("notes.jsonl", {"note": "x"})
    assert (tmp_path / "notes.jsonl").read_bytes() == line


@pytest.mark.parametrize("log", ["sources.jsonl", "notes.jsonl", "failures.jsonl"])
@pytest.mark.parametrize("target, says", [
    ("{log}", "is a symbolic link loop (to {log}): remove it, or point it elsewhere"),
    ("gone/{log}", "is a broken symbolic link (to gone/{log}, which does not exist): remove it, or make what it "
                   "points to")])
def test_a_store_log_that_is_a_link_loop_or_a_link_into_nothing_is_refused_before_any_video(
        log, target, says, tmp_path, videos, capsys):
    """`ln -s sources.jsonl STORE/sources.jsonl` passed the check of the logs (a loop is not there to
    os.path.exists), and extract wrote the video's features, then stopped: 'cannot write STORE/sources.jsonl: Too
    many levels of symbolic links (stopped after 0 videos written ...)' (hostile trial). Now one line before any
    video; a link to a file not made yet, in a folder that is there, is still a log the append makes."""
    store = tmp_path / "s"
    store.mkdir()
    (store / log).symlink_to(target.format(log=log))
    rc, err = extract(capsys, videos["mov_silent"], "--out", store, *VGGISH)
    assert rc == 2 and one_line_error(err) and err.strip().splitlines()[-1] == (
        f"error: cannot write {store / log}: {store / log} {says.format(log=log)}"), err
    assert sorted(p.name for p in store.iterdir()) == [log]
    (store / log).unlink()
    (store / log).symlink_to(tmp_path / "elsewhere.jsonl")
    rc, err = extract(capsys, videos["mov_silent"], "--out", store, *VGGISH)
    assert rc == 0 and "1 written" in err, err


@pytest.mark.parametrize("meta", [None, b"{}"])
def test_extract_into_a_store_of_features_without_meta_json_is_refused(meta, tmp_path, videos, capsys):
    """A store whose meta.json was removed (as many refusals advise, to read it without one) or emptied, re-run
    with other settings, said 'already done, 0 to extract', exit 0, and wrote a meta.json of this run's settings
    over features extracted with others: a model trained on it recorded the wrong settings (hostile trial). Now one
    line, exit 2, and no meta.json is written; a store holding no feature file is extracted into as before."""
    store = tmp_path / "s"
    assert extract(capsys, videos["mp4_aac"], "--out", store, *VGGISH)[0] == 0
    if meta is None:
        (store / "meta.json").unlink()
    else:
        (store / "meta.json").write_bytes(meta)
    other = [*VGGISH, "--frames", "8"]  # (another setting: its meta.json would be this run's, not the files')
    rc, err = extract(capsys, videos["mp4_aac"], "--out", store, *other)
    assert rc == 2 and one_line_error(err) and len(err.strip().splitlines()) == 1, err
    assert err.strip() == (
        f"error: {store} holds feature files (e.g. {store / 'vggish' / 'mp4_aac.npy'}) but no record in "
        f"{store / 'meta.json'} of the settings they were extracted with, so this run cannot tell whether its "
        "settings match theirs: extract into another --out (or put the store's meta.json back)"), err
    assert (store / "meta.json").read_bytes() == meta if meta else not (store / "meta.json").exists()
    (store / "vggish" / "mp4_aac.npy").unlink()  # (no feature file left: nothing to vouch for)
    rc, err = extract(capsys, videos["mp4_aac"], "--out", store, *other)
    assert rc == 0 and "1 written" in err, err
    assert json.loads((store / "meta.json").read_bytes())["frames"] == 8


def test_extract_into_a_store_whose_new_meta_json_lists_not_its_extracted_features_is_refused(tmp_path, videos,
                                                                                               capsys):
    """Its meta.json removed, a store got a new one from an import of another modality, listing that alone: extract
    then took any settings, wrote them into meta.json over the files extracted with others, and caption.py used
    them (trial 67). Refused as a store without meta.json is; the example is an extracted file, not an imported one."""
    store = tmp_path / "s"
    assert extract(capsys, videos["mp4_aac"], "--out", store, *VGGISH)[0] == 0
    (store / "meta.json").unlink()
    (store / "extra").mkdir()
    np.save(store / "extra" / "a.npy", np.ones((2, 4), np.float32))
    (store / "meta.json").write_text(json.dumps({"source": "an import", "backbones": {"extra": "precomputed"},
                                                 "dims": {"extra": 4}, "dtype": "float16"}))
    before = (store / "meta.json").read_bytes()
    rc, err = extract(capsys, videos["mp4_aac"], "--out", store, *VGGISH, "--frames", "8")
    assert rc == 2 and err.strip() == (
        f"error: {store} holds vggish feature files (e.g. {store / 'vggish' / 'mp4_aac.npy'}) that "
        f"{store / 'meta.json'} does not list (written anew by an import, the old one removed?), so this run cannot "
        "tell whether its settings match the ones they were extracted with: extract into another --out"), err
    assert (store / "meta.json").read_bytes() == before


def test_a_feature_file_cut_short_or_no_npy_is_extracted_again(tmp_path, videos, capsys):
    """A store .npy cut short (a copy broken off) or overwritten: train and evaluate said 'cannot read features (cut
    short ...)', but extract counted the video done ('already done, 0 to extract') and the file stayed broken for
    good (hostile trial). Now a file whose header or size is wrong is extracted again."""
    folder, store = tmp_path / "in", tmp_path / "s"
    folder.mkdir()
    shutil.copy(videos["mp4_aac"], folder / "v0.mp4")
    shutil.copy(videos["mkv_pcm"], folder / "v1.mp4")
    assert extract(capsys, folder, "--out", store, *VGGISH)[0] == 0
    v0, v1 = store / "vggish" / "v0.npy", store / "vggish" / "v1.npy"
    v0.write_bytes(v0.read_bytes()[:-100])
    v1.write_bytes(b"not an array\n")
    for path in (v0, v1):
        with pytest.raises(StoreError, match="cannot read features"):
            FeatureStore(store).read("vggish", path.stem)
    rc, err = extract(capsys, folder, "--out", store, *VGGISH)
    assert rc == 0 and "0 already done, 2 to extract" in err and "2 written" in err, err
    assert [FeatureStore(store).read("vggish", v).shape for v in ("v0", "v1")] == [(2, 128)] * 2
    rc, err = extract(capsys, folder, "--out", store, *VGGISH)
    assert rc == 0 and "2 already done, 0 to extract" in err, err


def test_non_finite_features_say_what_mends_them(tmp_path, videos, capsys):
    """A store .npy holding NaN was refused with '; re-extract it', but extract counted its video done and kept the
    file (hostile trial): the refusal now says what works, removing the file and extracting again (importing again,
    for a file an import copied: naming the file it came from)."""
    store = tmp_path / "s"
    assert extract(capsys, videos["mp4_aac"], "--out", store, *VGGISH)[0] == 0
    path = store / "vggish" / "mp4_aac.npy"
    np.save(path, np.full((2, 128), np.nan, np.float16))
    with pytest.raises(StoreError) as e:
        FeatureStore(store).read("vggish", "mp4_aac")
    assert str(e.value) == (f"{path}: cannot read features (holds NaN or infinite values); remove it and run extract "
                            "again, which extracts its video anew")
    path.unlink()
    assert extract(capsys, videos["mp4_aac"], "--out", store, *VGGISH)[0] == 0
    assert FeatureStore(store).read("vggish", "mp4_aac").shape == (2, 128)
    copied = tmp_path / "feats" / "clip.npy"
    copied.parent.mkdir()
    np.save(copied, np.ones((3, 4), np.float16))
    imported = FeatureStore(tmp_path / "imp")
    imported.write("cnn", "clip", np.full((3, 4), np.inf, np.float16))
    imported.record_import("clip", "cnn", copied)
    with pytest.raises(StoreError) as e:
        FeatureStore(tmp_path / "imp").read("cnn", "clip")
    assert str(e.value) == (f"{imported.path('cnn', 'clip')}: cannot read features (holds NaN or infinite values); "
                            f"remove it and run the import that copied it from {copied} again")


def test_a_source_record_cut_before_its_video_id_is_mended_by_the_next_extract(tmp_path, videos, capsys):
    """A sources.jsonl record a crash cut before its video id was never repaired: every later extract warned
    'passed over 1 record(s) cut short ... the files those videos' features came from are not known', and the video
    it was about still counted as done (hostile trial). Now extract extracts again the videos whose features have no
    whole record, then rewrites the log without the cut line (whole, every other record kept): the warning ends."""
    folder, store = tmp_path / "in", tmp_path / "s"
    folder.mkdir()
    shutil.copy(videos["mp4_aac"], folder / "v0.mp4")
    shutil.copy(videos["mkv_pcm"], folder / "v1.mp4")
    assert extract(capsys, folder, "--out", store, *VGGISH)[0] == 0
    log = store / "sources.jsonl"
    lines = {json.loads(x)["video_id"]: x for x in log.read_bytes().splitlines(keepends=True)}
    log.write_bytes(lines["v0"] + b'{"vid')  # (v1's record cut before its id: no video to name)
    with pytest.warns(UserWarning, match=r"passed over 1 record\(s\) cut short"):
        rc, err = extract(capsys, folder, "--out", store, *VGGISH)
    assert rc == 0 and "1 already done, 1 to extract" in err and "1 written" in err, err
    records = [json.loads(x) for x in log.read_bytes().splitlines()]
    assert [r["video_id"] for r in records] == ["v0", "v1"] and log.read_bytes().startswith(lines["v0"])
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        rc, err = extract(capsys, folder, "--out", store, *VGGISH)
    assert rc == 0 and "2 already done, 0 to extract" in err, err
    assert not [w for w in said if "cut short" in str(w.message)]
    assert sorted(FeatureStore(store).sources()) == ["v0", "v1"] and leftovers(store) == []


def test_a_manifest_named_without_jsonl_is_read_as_one_and_a_new_store_of_failures_only_is_removed(tmp_path, videos,
                                                                                                   capsys):
    """The README's `s2vt import ... --out M` (no extension) then `python -m extract M --out f7` tried M as a
    video: 'M: not a readable video', exit 2, and f7/ was left holding meta.json and failures.jsonl (hostile trial).
    Now a manifest is told by its first line, whatever its name; and a run that made --out and wrote no feature
    into it (every input failed) removes it again (a folder there before is kept: test above)."""
    manifest = tmp_path / "M"
    manifest.write_text(json.dumps({"video_id": "here", "path": str(videos["mp4_aac"])}) + "\n")
    rc, err = extract(capsys, manifest, "--out", tmp_path / "f7", *VGGISH)
    assert rc == 0 and (tmp_path / "f7" / "vggish" / "here.npy").is_file(), err
    bad = tmp_path / "bad.mp4"
    bad.write_text("not a video")
    rc, err = extract(capsys, bad, "--out", tmp_path / "new" / "f8", *VGGISH)
    assert rc == 2 and err.strip().splitlines()[-1] == (
        f"error: 1 video failed (all of them: no video has features); reasons above; {tmp_path / 'new' / 'f8'} "
        "removed again (this run made it and wrote no features)"), err
    assert f"failed: bad: {bad}: not a readable video" in err
    assert not (tmp_path / "new").exists()


def test_a_training_run_folder_is_refused_as_out(tmp_path, videos, capsys):
    """`python -m extract clips --out s2vt-demo/run` silently wrote a feature store into a training run's folder
    (beside its best.pt, last.pt, metrics.csv) (hostile trial). Now one line, exit 2, nothing written there; an
    empty folder or a store is used as before."""
    run = tmp_path / "run"
    run.mkdir()
    for name in ("best.pt", "last.pt", "metrics.csv"):
        (run / name).write_bytes(b"x")
    rc, err = extract(capsys, videos["mp4_aac"], "--out", run, *VGGISH)
    assert (rc, err.strip()) == (2, f"error: {run}: a training run's folder (it holds best.pt), not a feature store: "
                                    "name another --out")
    assert sorted(p.name for p in run.iterdir()) == ["best.pt", "last.pt", "metrics.csv"]


@pytest.mark.parametrize("other", ["failure", "meta", "shard"])
def test_a_new_out_another_run_writes_into_is_kept_when_every_video_fails(tmp_path, videos, capsys, monkeypatch, other):
    """Shards started together into a new --out each thought they had made it: one whose every video failed removed
    the folder with the other's meta.json and failures.jsonl, and the other went on to write features with no
    meta.json, a store later runs refused (hostile trial). Now a sharded run never removes --out, and an unsharded
    one removes only what it wrote itself: another run's failure or meta.json (written after this run started) keeps
    the folder, and the last line names its failures.jsonl."""
    import extract.__main__ as cli
    from s2vt.store import stable_shard
    bad = tmp_path / "bad.mp4"
    bad.write_text("not a video")
    out = tmp_path / "new" / "f9"
    prepare = cli.prepare

    def another_run_writes(args):  # (after this run found --out new: another run's record lands there)
        shard, cfg, items, store, extractor = prepare(args)
        if other == "failure":
            store.log_failure("theirs", str(tmp_path / "theirs.mp4"), "not a readable video")
        elif other == "meta":
            store.init_meta(extractor.meta())
        return shard, cfg, items, store, extractor

    monkeypatch.setattr(cli, "prepare", another_run_writes)
    shard = ["--shard", f"{stable_shard('bad', 2)}/2"] if other == "shard" else []
    rc, err = extract(capsys, bad, "--out", out, *VGGISH, *shard)
    assert rc == 2 and err.strip().splitlines()[-1] == (
        f"error: 1 video failed (all of them: no video has features); reasons in {out / 'failures.jsonl'}"), err
    ids = [json.loads(x)["video_id"] for x in (out / "failures.jsonl").read_bytes().splitlines()]
    assert ids == (["theirs", "bad"] if other == "failure" else ["bad"]) and (out / "meta.json").is_file()


def test_a_store_file_linked_to_an_input_is_not_written_through(tmp_path, capsys, videos):
    """A store whose sources.jsonl was a symbolic link to the run's own manifest had the manifest rewritten as the
    store's log; a feature file linked to another input video had the video replaced by an array (trial 78). A
    store file that links to one of the run's inputs is refused, the input kept byte for byte."""
    d = tmp_path / "v"
    d.mkdir()
    shutil.copy(videos["mp4_aac"], d / "a.mp4")
    shutil.copy(videos["short"], d / "b.mp4")
    store = tmp_path / "s"
    assert extract(capsys, d, "--out", store, *RESNET)[0] == 0
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps({"video_id": v, "path": str(d / f"{v}.mp4"), "split": "test"}) + "\n"
                                for v in "ab"))
    before = manifest.read_bytes()
    (store / "sources.jsonl").unlink()
    (store / "sources.jsonl").symlink_to(manifest)
    rc, err = extract(capsys, manifest, "--out", store, *RESNET)
    assert rc == 2 and err.strip().splitlines()[-1] == (
        f"error: cannot write {store / 'sources.jsonl'}: it is a symbolic link to {manifest}, an input of this "
        "command (remove the link)"), err
    assert manifest.read_bytes() == before
    (store / "sources.jsonl").unlink()
    video = (d / "b.mp4").read_bytes()
    (store / "resnet152" / "a.npy").unlink()
    (store / "resnet152" / "a.npy").symlink_to(d / "b.mp4")
    rc, err = extract(capsys, d, "--out", store, *RESNET)
    assert rc == 2 and f"error: cannot write {store / 'resnet152' / 'a.npy'}: it is a symbolic link to " \
                       f"{d / 'b.mp4'}, an input of this command (remove the link)" in err, err
    assert (d / "b.mp4").read_bytes() == video
    # a hard link is the same file by another name: refused too (trial 79)
    os.link(manifest, store / "sources.jsonl")
    rc, err = extract(capsys, manifest, "--out", store, *RESNET)
    assert rc == 2 and err.strip().splitlines()[-1] == (
        f"error: cannot write {store / 'sources.jsonl'}: it is the same file as {manifest} (a hard link), an input of "
        "this command (remove the link)"), err
    assert manifest.read_bytes() == before
    # (trial 108) the store's own log given as the manifest (to retry its failures) was told "(remove the link)",
    # which deleted it: it is said as the store's own file, to copy
    (store / "sources.jsonl").unlink()
    shutil.copy(manifest, store / "sources.jsonl")
    log = (store / "sources.jsonl").read_bytes()
    rc, err = extract(capsys, store / "sources.jsonl", "--out", store, *RESNET)
    assert rc == 2 and err.strip().splitlines()[-1] == (
        f"error: cannot write {store / 'sources.jsonl'}: it is this store's own sources.jsonl, given as an input of "
        "this command: copy it elsewhere and give the copy"), err
    assert (store / "sources.jsonl").read_bytes() == log


def test_adding_to_an_int8_store_on_a_gpu_says_device_cpu(tmp_path, videos, capsys, monkeypatch):
    """(trial 108) a store extracted in int8 on a CPU, added to on a GPU with --precision auto, was told "--precision
    int8 runs on the CPU only; use bf16 or fp32", an option not typed, and --precision bf16 was then refused for
    the store's int8: the store's precision is said, and --device cpu."""
    import torch

    import extract.pipeline as pipeline

    store = tmp_path / "s"
    assert extract(capsys, videos["mp4_aac"], "--out", store, *VGGISH, "--precision", "fp32")[0] == 0
    meta = json.loads((store / "meta.json").read_text())
    (store / "meta.json").write_text(json.dumps({**meta, "precision": {"vggish": "int8"}}))
    monkeypatch.setattr(pipeline, "pick_device", lambda name: torch.device("cuda"))  # (a GPU machine's choice)
    auto = [a for a in VGGISH if a not in ("--precision", "fp32")]  # (--precision auto: the store's own)
    rc, err = extract(capsys, videos["short"], "--out", store, *auto)
    assert rc == 2 and err.strip().splitlines()[-1] == (
        f"error: {store}: its vggish features were computed in int8, which runs on the CPU only: pass --device cpu "
        "to add to this store, or use another --out"), err
