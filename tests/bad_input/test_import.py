"""Bad input to `s2vt import`: a missing path is named before anything else is checked (one line,
exit 2, nothing written); a bad shard among good ones is one warning line, the rest import, and
the command ends with one `error:` line and exit 1 (a batch's partial failure, as `python -m extract`)."""
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from s2vt.cli import main
from s2vt.manifest import read_manifest
from s2vt.store import FeatureStore, StoreError
from s2vt.synthetic import make_store

from ..test_yt8m import shard_of


def s2vt(capsys, *args) -> tuple[int, list[str]]:
    """`s2vt ARGS` in this process: (exit code, stderr lines)."""
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err.strip().splitlines()


@pytest.mark.parametrize("args, named", [
    (["yt8m", "nope.tfrecord"], "nope.tfrecord: no such file"),  # its name implies no split: not reported first
    (["yt8m", "nope*.tfrecord"], "nope*.tfrecord: the pattern matches no file"),  # (a quoted glob: not "no such file")
    (["yt8m", "train0000.tfrecord", "--vocabulary", "nope.csv"], "--vocabulary nope.csv: no such file"),
    (["lic2022", "nope.json"], "nope.json: no such file"),
    (["lic2022", "train.json", "--features", "nope"], "--features nope: no such folder"),
    (["mlds", "nope"], "nope: no such folder"),
    (["features", "nope", "--captions", "nope.json", "--modality", "cnn", "--split", "train"], "nope: no such folder"),
    (["features", "feat", "--captions", "nope.json", "--modality", "cnn", "--split", "train"],
     "--captions nope.json: no such file"),
    (["msvd", "nope.csv"], "nope.csv: no such file"),
    (["msvd", "corpus.csv", "--split-list", "nope.txt"], "--split-list nope.txt: no such file"),
    (["msrvtt", "nope.json"], "nope.json: no such file"),
    (["msrvtt", "info.json", "--videos", "nope"], "--videos nope: no such folder"),
    (["folder", "nope"], "nope: no such folder"),
])
def test_missing_input_named_first(args, named, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shard_of(tmp_path, "train0000.tfrecord", 1)
    for name in ("train.json", "corpus.csv", "info.json"):
        (tmp_path / name).write_text("")
    (tmp_path / "feat").mkdir()
    code, err = s2vt(capsys, "import", *args, "--out", tmp_path / "x" / "manifest.jsonl")
    assert (code, err) == (2, [f"error: {named}"])
    assert not (tmp_path / "x").exists()


def test_text_file_among_shards_named_and_the_rest_imported(tmp_path, capsys):
    good = shard_of(tmp_path, "validate0000.tfrecord", 3)
    text = tmp_path / "validate0001.tfrecord"
    text.write_text("some notes\nsaved under the wrong name\n")
    short = tmp_path / "validate0002.tfrecord"
    short.write_text("hi\n")  # shorter than a record header
    out = tmp_path / "m" / "manifest.jsonl"
    code, err = s2vt(capsys, "import", "yt8m", good, text, short, "--out", out)
    assert code == 1 and len(out.read_text().splitlines()) == 3
    assert err[0] == f"warning: {text}: not a TFRecord file (bad length checksum at byte 0); this file is skipped"
    assert err[1] == f"warning: {short}: not a TFRecord file (record header cut short); this file is skipped"
    assert err[2].startswith(f"wrote {out}: 3 videos")
    assert err[3:] == ["error: 2 of 3 files not read to the end (see the warnings above); 3 videos imported"]


def test_skipped_records_counted_in_the_last_line(tmp_path, capsys):
    from ..test_yt8m import video, write_shard
    shard = write_shard(tmp_path / "train0000.tfrecord", [video("a")[0], video("b", labels=None)[0]])
    code, err = s2vt(capsys, "import", "yt8m", shard, "--out", tmp_path / "m.jsonl")
    assert code == 1
    assert err[-1] == "error: 1 record skipped (no labels: 1) (see the warnings above); 1 video imported"


def test_clean_import_exits_0(tmp_path, capsys):
    shard = shard_of(tmp_path, "test0000.tfrecord", 2)
    code, err = s2vt(capsys, "import", "yt8m", shard, "--out", tmp_path / "m.jsonl")
    assert code == 0 and len(err) == 1 and err[0].startswith("wrote ")


# --- a hostile new user's trial: inputs never rewritten, stores never mixed, nothing empty or lost ---

def feature_folder(folder, ids, dim, dtype=np.float32):
    """`folder/<id>.npy` [3, dim] for each id (values 0.1 apart: float16 would change them)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, vid in enumerate(ids):
        np.save(folder / f"{vid}.npy", (np.arange(3 * dim, dtype=np.float64).reshape(3, dim) * 0.1 + i).astype(dtype))
    return folder


def snapshot(folder) -> dict:
    """Every file under `folder` with its bytes (compare before and after a refused command)."""
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_features_import_refuses_to_write_over_its_input_folder(tmp_path, capsys):
    feature_folder(tmp_path / "st" / "cnn", ["v1", "v2"], 4)
    (tmp_path / "caps.json").write_text(json.dumps({"v1": ["a cat"], "v2": ["a dog"]}))
    before = snapshot(tmp_path)
    code, err = s2vt(capsys, "import", "features", tmp_path / "st" / "cnn", "--captions", tmp_path / "caps.json",
                     "--modality", "cnn", "--split", "train", "--features", tmp_path / "st",
                     "--out", tmp_path / "st" / "m.jsonl")
    assert code == 2 and err == [f"error: cannot write {tmp_path / 'st' / 'cnn'}: it is an input of this command "
                                 f"(the .npy files of {tmp_path / 'st' / 'cnn'}); pass another --features store "
                                 "or --modality"]
    assert snapshot(tmp_path) == before  # still float32, no manifest, no meta.json


def test_mlds_import_refuses_to_write_over_its_input_folder(tmp_path, capsys):
    src = tmp_path / "mlds"
    feature_folder(src / "training_data" / "feat", ["a1_0_5.avi", "b2_3_9.avi"], 4)
    (src / "training_label.json").write_text(json.dumps([{"id": "a1_0_5.avi", "caption": ["a man"]},
                                                         {"id": "b2_3_9.avi", "caption": ["a dog"]}]))
    before = snapshot(tmp_path)
    code, err = s2vt(capsys, "import", "mlds", src, "--features", src / "training_data", "--modality", "feat",
                     "--out", tmp_path / "m.jsonl")
    assert code == 2 and len(err) == 1 and "it is an input of this command" in err[0]
    assert snapshot(tmp_path) == before


def test_mlds_import_of_a_file_asks_for_the_release_folder(tmp_path, capsys):
    """The label file itself was "X/training_label.json: no training_label.json (not an MLDS release folder)"."""
    src = tmp_path / "mlds"
    feature_folder(src / "training_data" / "feat", ["a1_0_5.avi"], 4)
    (src / "training_label.json").write_text(json.dumps([{"id": "a1_0_5.avi", "caption": ["a man"]}]))
    (tmp_path / "notes.txt").write_text("x\n")
    out = tmp_path / "m" / "manifest.jsonl"
    for given, says in ((src / "training_label.json", f"a file; pass the MLDS release folder that holds it: {src}"),
                        (tmp_path / "notes.txt", "a file, not a folder; pass the MLDS release folder (the one "
                                                 "holding training_label.json and training_data/)")):
        assert s2vt(capsys, "import", "mlds", given, "--out", out) == (2, [f"error: {given}: {says}"])
    assert not out.parent.exists()


def test_import_refuses_another_feature_size_under_a_modality_of_the_store(tmp_path, capsys):
    src = tmp_path / "mlds"
    feature_folder(src / "training_data" / "feat", ["a1_0_5.avi", "b2_3_9.avi"], 16)
    (src / "training_label.json").write_text(json.dumps([{"id": "a1_0_5.avi", "caption": ["a man"]},
                                                         {"id": "b2_3_9.avi", "caption": ["a dog"]}]))
    assert s2vt(capsys, "import", "mlds", src, "--out", tmp_path / "m1" / "manifest.jsonl")[0] == 0
    feature_folder(tmp_path / "feat64", ["c3", "d4"], 8)
    (tmp_path / "caps.json").write_text(json.dumps({"c3": ["a cat"], "d4": ["a bird"]}))
    before = snapshot(tmp_path / "m1")
    code, err = s2vt(capsys, "import", "features", tmp_path / "feat64", "--captions", tmp_path / "caps.json",
                     "--modality", "cnn", "--split", "train", "--features", tmp_path / "m1" / "features",
                     "--out", tmp_path / "m2.jsonl")
    assert code == 2 and err == [f"error: {tmp_path / 'm1' / 'features'}: modality 'cnn' holds 16-wide features, "
                                 "these are 8-wide; pass another --modality name or another --features store"]
    assert snapshot(tmp_path / "m1") == before and not (tmp_path / "m2.jsonl").exists()
    # under another name they go into the same store
    code, _ = s2vt(capsys, "import", "features", tmp_path / "feat64", "--captions", tmp_path / "caps.json",
                   "--modality", "small", "--split", "train", "--features", tmp_path / "m1" / "features",
                   "--out", tmp_path / "m2.jsonl")
    assert code == 0 and FeatureStore(tmp_path / "m1" / "features").meta()["dims"] == {"cnn": 16, "small": 8}
    # a folder mostly of the store's width: the others are left out; mostly of another: refused, with no warning
    # of the one file of the store's width left out before (trial 64)
    feature_folder(tmp_path / "mixed", ["e5", "f6", "g7"], 8)
    np.save(tmp_path / "mixed" / "h8.npy", np.ones((2, 16), np.float32))
    (tmp_path / "caps2.json").write_text(json.dumps({v: ["a cow"] for v in ("e5", "f6", "g7", "h8")}))
    code, err = s2vt(capsys, "import", "features", tmp_path / "mixed", "--captions", tmp_path / "caps2.json",
                     "--modality", "cnn", "--split", "train", "--features", tmp_path / "m1" / "features",
                     "--out", tmp_path / "m3.jsonl")
    assert code == 2 and err == [f"error: {tmp_path / 'm1' / 'features'}: modality 'cnn' holds 16-wide features, "
                                 "these are 8-wide; pass another --modality name or another --features store"], err
    code, err = s2vt(capsys, "import", "features", tmp_path / "mixed", "--captions", tmp_path / "caps2.json",
                     "--modality", "small", "--split", "train", "--features", tmp_path / "m1" / "features",
                     "--out", tmp_path / "m3.jsonl")
    assert code == 0 and err[0] == (f"warning: {tmp_path / 'mixed'}: 1 of 4 feature files left out: another width than "
                                    f"8 (first: {tmp_path / 'mixed' / 'h8.npy'}: 16 features per frame, but 3 of the 4 "
                                    "files have 8)"), err
    np.save(tmp_path / "mixed" / "g7.npy", np.ones((2, 16), np.float32))  # (2 of 16, the store's, and 2 of 8: a tie)
    code, err = s2vt(capsys, "import", "features", tmp_path / "mixed", "--captions", tmp_path / "caps2.json",
                     "--modality", "cnn", "--split", "train", "--features", tmp_path / "m1" / "features",
                     "--out", tmp_path / "m4.jsonl")
    assert code == 2 and err == [f"error: {tmp_path / 'mixed'}: the 4 feature files disagree on features per frame, "
                                 "with no width in most of them: 8 in 2 files (e.g. e5.npy); 16 in 2 files (e.g. "
                                 "g7.npy) (the store's modality 'cnn' holds 16): leave the files of other widths out of "
                                 "the folder"], err


def test_a_store_file_of_another_width_than_meta_is_one_line_in_training(tmp_path, capsys):
    manifest, store = make_store(tmp_path / "s", videos=12, shapes={"frames": (3, 8)})
    np.save(store / "frames" / "syn00002.npy", np.ones((3, 5), np.float16))  # a file the meta does not describe
    with pytest.raises(StoreError, match=r"syn00002.npy: shape \[3, 5\], but .*meta.json gives frames 8 features"):
        FeatureStore(store).read("frames", "syn00002")
    code, err = s2vt(capsys, "train", "--manifest", manifest, "--features", store, "--out", tmp_path / "run",
                     "--epochs", "1", "--hidden", "8",
                     "--embed", "8", "--min-count", "1", "--batch-size", "4")
    assert code == 2 and len(err) == 1 and err[0].startswith("error: ") and "syn00002.npy: shape [3, 5]" in err[0]


def store_without_meta(tmp_path) -> tuple:
    """(manifest, store, first training video, first val video, first test video) of a store without
    meta.json: nothing but the files says their width (as for the tsn files `import lic2022 --features` links)."""
    manifest, store = make_store(tmp_path / "s", videos=14, shapes={"frames": (3, 8)})
    (store / "meta.json").unlink()
    rows = [json.loads(line) for line in manifest.read_text().splitlines()]
    return (manifest, store, *(next(r["video_id"] for r in rows if r["split"] == s) for s in ("train", "val", "test")))


TRAIN_TINY = ["--epochs", "1", "--hidden", "8", "--embed", "8", "--min-count", "1", "--batch-size", "4"]


@pytest.mark.parametrize("split, shape, says", [
    ("train", (3, 5), "shape [3, 5], but the other frames files hold 8 features per frame (11 of 12, e.g. "),
    ("val", (3, 5), "shape [3, 5], but the other frames files hold 8 features per frame (11 of 12, e.g. "),
    ("train", (5,), "shape [5], but the other frames files hold 8 features per frame (11 of 12, e.g. "),
    ("train", (2, 3, 8), "shape [2, 3, 8]: features must be [T, D] (frames by features), or [D] for one frame"),
])
def test_a_store_file_of_another_width_than_the_others_is_one_line_in_training_without_meta(
        split, shape, says, tmp_path, capsys):
    """Without meta.json such a file was a traceback (numpy's concatenate, an IndexError, a tensor copy) from
    wherever training first met it; now every train and val file's header is checked before training."""
    manifest, store, *first = store_without_meta(tmp_path)
    bad = store / "frames" / f"{first[('train', 'val').index(split)]}.npy"
    np.save(bad, np.ones(shape, np.float16))
    code, err = s2vt(capsys, "train", "--manifest", manifest, "--features", store, "--out", tmp_path / "run",
                     *TRAIN_TINY)
    assert code == 2 and len(err) == 1 and err[0].startswith(f"error: {bad}: {says}")
    assert not (tmp_path / "run").exists()


def test_a_one_frame_vector_in_a_store_without_meta_is_one_frame_in_training_and_evaluate(tmp_path, capsys):
    """A [D] file is [1, D], as `import features` stores one: training once failed on it (numpy's
    concatenate) and evaluate refused it ("the checkpoint takes [T, 8]")."""
    manifest, store, train, val, test = store_without_meta(tmp_path)
    for vid in (train, val, test):
        np.save(store / "frames" / f"{vid}.npy", np.ones(8, np.float16))
    assert FeatureStore(store).read("frames", train).shape == (1, 8)
    code, err = s2vt(capsys, "train", "--manifest", manifest, "--features", store, "--out", tmp_path / "run",
                     *TRAIN_TINY)
    assert code == 0, err
    code, err = s2vt(capsys, "evaluate", "--checkpoint", tmp_path / "run" / "best.pt", "--manifest", manifest,
                     "--features", store, "--out", tmp_path / "p.json", "--beam", "1")
    assert code == 0, err


def test_import_refused_by_an_extracted_store_names_its_features_option(tmp_path, capsys):
    """The refusal said "use another --out", the manifest's option; the store is --features."""
    manifest, store = make_store(tmp_path / "s", videos=4, shapes={"cnn": (3, 8)})
    meta = json.loads((store / "meta.json").read_text())
    (store / "meta.json").write_text(json.dumps({**meta, "dtype": "float32"}))  # (as extract --dtype float32 writes)
    feature_folder(tmp_path / "pooled", [f"syn{i:05d}" for i in range(4)], 6)
    code, err = s2vt(capsys, "import", "features", tmp_path / "pooled", "--captions", manifest, "--modality", "pooled",
                     "--split", "train", "--features", store, "--out", tmp_path / "m.jsonl")
    assert code == 2 and err == [f"error: {store / 'meta.json'}: store was extracted with dtype='float32', this run "
                                 "asks 'float16'; use another --features"]


def msvd_csv(path, rows):
    lines = ["VideoID,Start,End,WorkerID,Source,AnnotationTime,Language,Description"]
    lines += [f"{v},1,5,9,clean,3,{lang},{text}" for v, lang, text in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_msvd_import_of_no_caption_refuses_and_keeps_the_old_manifest(tmp_path, capsys):
    csv = msvd_csv(tmp_path / "corpus.csv", [("a", "English", "a cat"), ("b", "German", "ein Hund")])
    keep = tmp_path / "keep.jsonl"
    keep.write_text('{"video_id": "x", "captions": ["mine"]}\n')
    code, err = s2vt(capsys, "import", "msvd", csv, "--language", "EN", "--out", keep)
    assert (code, err) == (2, [f"error: {csv}: no caption in language 'EN' (languages in the file: English, German); "
                               "nothing to import"])
    assert keep.read_text() == '{"video_id": "x", "captions": ["mine"]}\n'


@pytest.mark.parametrize("kind, content", [
    ("msrvtt", json.dumps({"videos": [], "sentences": []})),
    ("lic2022", ""),
])
def test_an_import_of_no_video_refuses(kind, content, tmp_path, capsys):
    (tmp_path / "in.json").write_text(content)
    code, err = s2vt(capsys, "import", kind, tmp_path / "in.json", "--out", tmp_path / "m.jsonl")
    assert (code, err) == (2, [f"error: {tmp_path / 'in.json'}: no video found: nothing to import"])
    assert not (tmp_path / "m.jsonl").exists()


def test_msvd_split_list_matching_no_clip_refuses_and_part_warns(tmp_path, capsys):
    csv = msvd_csv(tmp_path / "corpus.csv", [(v, "English", f"clip {v}") for v in ("a", "b", "c")])
    other = tmp_path / "other.txt"
    other.write_text("vid1.avi\nvid2.avi\n")
    code, err = s2vt(capsys, "import", "msvd", csv, "--split-list", other, "--out", tmp_path / "m.jsonl")
    assert (code, err) == (2, [f"error: --split-list: none of its 2 ids is a clip of {csv} (a listed id: "
                               "'vid1', a clip id: 'a_1_5')"])  # (a file's name is its clip's: .avi dropped)
    assert not (tmp_path / "m.jsonl").exists()
    lists = [tmp_path / f"{s}.txt" for s in ("train", "val", "test")]
    for path, ids in zip(lists, (["a_1_5"], ["b_1_5"], [])):
        path.write_text("".join(f"{v}\n" for v in ids))
    code, err = s2vt(capsys, "import", "msvd", csv, "--split-list", *lists, "--out", tmp_path / "m.jsonl")
    assert code == 0 and err[0] == "warning: 1 of 3 clips is not in --split-list and goes to train (first: c_1_5)"
    assert {e["video_id"]: e["split"] for e in read_manifest(tmp_path / "m.jsonl")} == \
        {"a_1_5": "train", "b_1_5": "val", "c_1_5": "train"}


def import_folder_over(capsys, tmp_path, out, mine: str) -> tuple[int, list[str]]:
    """`import folder` of a folder of one clip, `--out` a manifest holding `mine` already."""
    (tmp_path / "vid").mkdir(exist_ok=True)
    (tmp_path / "vid" / "clip.mp4").write_bytes(b"x")
    out.write_text(mine)
    return s2vt(capsys, "import", "folder", tmp_path / "vid", "--out", out)


def test_an_import_over_another_datasets_manifest_says_so_not_videos(tmp_path, capsys):
    """`import msrvtt ... --out` MSVD's manifest (paths kept with --videos) was told to "pass --videos FOLDER to
    keep the paths", which no import of other videos can (hostile trial): said to be other videos' manifest."""
    out = tmp_path / "m.jsonl"
    mine = '{"video_id": "a_1_5", "path": "a.avi", "split": "train", "captions": ["a cat"]}\n'
    code, err = import_folder_over(capsys, tmp_path, out, mine)
    assert (code, err) == (2, [f"error: {out} exists and is the manifest of other videos (none of its 1 is among this "
                               "import's 1; first: a_1_5): pass another --out, or --force to replace it"])
    assert out.read_text() == mine


def test_folder_import_refuses_to_drop_a_hand_written_manifests_captions(tmp_path, capsys):
    out = tmp_path / "vid" / "manifest.jsonl"
    (tmp_path / "vid").mkdir()
    mine = '{"video_id": "clip", "path": "clip.mp4", "split": "train", "captions": ["my words"], "tags": ["t"]}\n'
    code, err = import_folder_over(capsys, tmp_path, out, mine)
    assert (code, err) == (2, [f"error: {out} exists and holds 2 distinct annotations this import would drop "
                               "(first: video clip, caption 'my words'); pass --force to replace it, or another --out"])
    assert out.read_text() == mine
    out.write_text("my notes\n")  # not a manifest at all: --force does not replace it either
    for force in [], ["--force"]:
        assert s2vt(capsys, "import", "folder", tmp_path / "vid", "--out", out, *force)[1] == \
            [f"error: cannot write {out}: it is there and is not a manifest (line 1: not valid JSON (Expecting value "
             "at column 1)): import replaces only a manifest: move it, or name another --out"]
    out.write_text(mine.replace('"train"', '"dev"'))  # one bad line: said where and what, to mend by hand
    assert s2vt(capsys, "import", "folder", tmp_path / "vid", "--out", out)[1] == \
        [f"error: {out} exists and is not a manifest (line 1: split must be one of train, val, test, not 'dev'): "
         "mend it, pass --force to replace it, or --out another manifest"]
    # an import's own manifest is rewritten freely (rerunning an import updates it); --force replaces any
    assert s2vt(capsys, "import", "folder", tmp_path / "vid", "--out", out, "--force")[0] == 0
    assert s2vt(capsys, "import", "folder", tmp_path / "vid", "--out", out)[0] == 0
    assert read_manifest(out)[0]["captions"] == []


def test_yt8m_refusal_to_drop_annotations_writes_nothing_to_the_store(tmp_path, capsys):
    from ..test_yt8m import video, write_shard

    def snapshot(folder):
        return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}

    out, store = tmp_path / "m.jsonl", tmp_path / "features"
    mine = '{"video_id": "v0", "split": "train", "captions": ["my words"], "tags": ["t"]}\n'
    out.write_text(mine)
    code, err = s2vt(capsys, "import", "yt8m", shard_of(tmp_path, "train0000.tfrecord", 2), "--out", out)
    assert code == 2 and len(err) == 1 and "would drop" in err[0], err
    assert not store.exists() and out.read_text() == mine  # refused before the store was made
    # a store an earlier import filled stays exactly as it was
    first = tmp_path / "first.jsonl"
    assert s2vt(capsys, "import", "yt8m", shard_of(tmp_path, "train0001.tfrecord", 2, start=5), "--out", first,
                "--features", store)[0] == 0
    before = snapshot(store)
    code, err = s2vt(capsys, "import", "yt8m", tmp_path / "train0000.tfrecord", "--out", out, "--features", store)
    assert code == 2 and "would drop" in err[-1] and snapshot(store) == before
    # rerunning an import over its own manifest: checked, then written; each warning said once
    shard = write_shard(tmp_path / "train0002.tfrecord", [video("a")[0], video("b", labels=None)[0]])
    assert s2vt(capsys, "import", "yt8m", shard, "--out", tmp_path / "own.jsonl")[0] == 1
    code, err = s2vt(capsys, "import", "yt8m", shard, "--out", tmp_path / "own.jsonl")
    assert code == 1 and sum("record 2: no labels" in line for line in err) == 1, err
    assert [e["video_id"] for e in read_manifest(tmp_path / "own.jsonl")] == ["a"]
    # nothing to import over an existing --out: each skipped record still named, then the one error
    empty = write_shard(tmp_path / "train0003.tfrecord", [video("c", labels=None)[0]])
    code, err = s2vt(capsys, "import", "yt8m", empty, "--out", tmp_path / "own.jsonl")
    assert code == 2 and "record 1: no labels" in err[0] and err[-1].startswith("error: no video imported"), err


def test_msrvtt_videos_of_an_unknown_split_are_left_out_and_score_reads_the_rest(tmp_path, capsys):
    """One video of split "dev" refused the whole videodatainfo file: its import, and `s2vt score --split test`
    with it as the references, though the test videos were all well formed (hostile trial)."""
    info = tmp_path / "info.json"
    splits = {"v0": "train", "v1": "dev", "v2": "test", "v3": "test"}
    info.write_text(json.dumps({"videos": [{"video_id": v, "category": 0, "split": s} for v, s in splits.items()],
                                "sentences": [{"video_id": v, "caption": f"a man sings {v}"} for v in splits]}))
    code, err = s2vt(capsys, "import", "msrvtt", info, "--out", tmp_path / "m.jsonl")
    assert code == 0 and err[0] == (f"warning: {info}: 1 of 4 videos left out: a split that is not train, validate (val) "
                                    'or test (first: videos[1], v1: "dev")'), err
    assert {e["video_id"]: e["split"] for e in read_manifest(tmp_path / "m.jsonl")} == \
        {"v0": "train", "v2": "test", "v3": "test"}
    preds = tmp_path / "preds.json"
    preds.write_text(json.dumps({"v2": "a man sings v2", "v3": "a man sings"}))
    code, err = s2vt(capsys, "score", info, preds, "--split", "test")  # (refused before: 'split must be one of')
    assert code == 0 and err[0] == (f"note: {info}: 1 video of a split that is not train, validate (val) or test is not "
                                    "among the references (first: v1: \"dev\")"), err


def test_msrvtt_overlapping_files_keep_each_caption_once(tmp_path, capsys):
    def info(ids, sentences):
        return json.dumps({"videos": [{"video_id": v, "category": 0, "split": "train"} for v in ids],
                           "sentences": [{"video_id": v, "caption": c} for v, c in sentences]})
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(info(["video0"], [("video0", "a man sings"), ("video0", "a man sings"), ("video0", "music")]))
    b.write_text(info(["video0", "video1"], [("video0", "a man sings"), ("video0", "new"), ("video1", "x")]))
    code, err = s2vt(capsys, "import", "msrvtt", a, a, "--out", tmp_path / "m.jsonl")
    assert (code, err) == (2, [f"error: {a}: given twice"]) and not (tmp_path / "m.jsonl").exists()
    code, err = s2vt(capsys, "import", "msrvtt", a, b, "--out", tmp_path / "m.jsonl")
    assert code == 0 and err[0] == ("warning: 1 caption repeats what an earlier file gave the same video "
                                    "(overlapping files); each is kept once")
    caps = {e["video_id"]: e["captions"] for e in read_manifest(tmp_path / "m.jsonl")}
    # a file's own repeats stay (the annotators'); the second file's copy of one is dropped
    assert caps == {"video0": ["a man sings", "a man sings", "music", "new"], "video1": ["x"]}


def every_path(folder) -> dict:
    """Every file and folder under `folder` (files with their bytes): nothing made, nothing changed."""
    return {p.relative_to(folder): p.read_bytes() if p.is_file() else None for p in sorted(folder.rglob("*"))}


@pytest.mark.parametrize("kind", ["yt8m", "features", "mlds", "lic2022"])
@pytest.mark.parametrize("where", ["under a file", "a folder"])
def test_an_out_that_cannot_be_written_is_refused_before_the_store_is_written(kind, where, tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    if kind == "yt8m":
        args = [shard_of(src, "train0000.tfrecord", 3), "--features", tmp_path / "st"]
    elif kind == "features":
        (src / "caps.json").write_text(json.dumps({"v1": ["a cat"], "v2": ["a dog"]}))
        args = [feature_folder(src / "feat", ["v1", "v2"], 4), "--captions", src / "caps.json", "--modality", "x",
                "--split", "train", "--features", tmp_path / "st"]
    elif kind == "mlds":
        feature_folder(src / "training_data" / "feat", ["a1_0_5.avi", "b2_3_9.avi"], 4)
        (src / "training_label.json").write_text(json.dumps([{"id": "a1_0_5.avi", "caption": ["a man"]},
                                                             {"id": "b2_3_9.avi", "caption": ["a dog"]}]))
        args = [src, "--features", tmp_path / "st"]
    else:  # (its features are linked beside --out)
        (src / "train.json").write_text(json.dumps({"@id": "1001", "title": "t", "tag": [{"@value": "x"}]}) + "\n")
        feature_folder(src / "tsn_features_train", ["1001"], 4)
        args = [src / "train.json", "--features", src]
    (tmp_path / "afile").write_text("not a folder\n")
    (tmp_path / "adir").mkdir()
    out = tmp_path / "afile" / "m.jsonl" if where == "under a file" else tmp_path / "adir"
    before = every_path(tmp_path)
    code, err = s2vt(capsys, "import", kind, *args, "--out", out)
    said = (f"cannot write {tmp_path / 'afile'}: {tmp_path / 'afile'} is a file, not a folder"
            if where == "under a file" else f"{out} is a folder: name a file to write")
    assert (code, err) == (2, [f"error: {said}"])
    assert every_path(tmp_path) == before  # no store, no meta.json, no links


def test_msvd_rerun_without_videos_refuses_to_drop_the_paths_of_one_made_with_it(tmp_path, capsys):
    csv = msvd_csv(tmp_path / "corpus.csv", [(v, "English", f"clip {v}") for v in ("a", "b", "c")])
    (tmp_path / "videos").mkdir()
    for v in ("a", "b", "c"):
        (tmp_path / "videos" / f"{v}_1_5.avi").write_bytes(b"x")
    (tmp_path / "c_1_5.avi").write_bytes(b"x")  # the one video beside the annotations
    out = tmp_path / "p" / "m.jsonl"
    assert s2vt(capsys, "import", "msvd", csv, "--videos", tmp_path / "videos", "--out", out)[0] == 0
    made = out.read_text()
    code, err = s2vt(capsys, "import", "msvd", csv, "--out", out)
    assert code == 2 and err[-1] == (f"error: {out} exists and holds 2 video paths this import would drop (first: "
                                     "video a_1_5, path '../videos/a_1_5.avi'); pass --videos FOLDER to keep the "
                                     "paths, --force to replace it, or another --out"), err
    assert out.read_text() == made
    # the same import again, or one naming the files elsewhere, keeps every video's path: rewritten freely
    assert s2vt(capsys, "import", "msvd", csv, "--videos", tmp_path / "videos", "--out", out)[0] == 0
    assert out.read_text() == made
    assert s2vt(capsys, "import", "msvd", csv, "--out", out, "--force")[0] == 0
    assert [e.get("path") for e in read_manifest(out)] == [None, None, "../c_1_5.avi"]


def import_inputs(tmp_path) -> dict:
    """One small input of each importer, all under tmp_path/in: {kind: (arguments before --out)}."""
    src = tmp_path / "in"
    clips = src / "clips"
    clips.mkdir(parents=True)
    for name in ("a_1_5.avi", "video1.mp4"):
        (clips / name).write_bytes(b"not really a video")
    msvd_csv(clips / "corpus.csv", [("a", "English", "a cat")])
    msrvtt_json = src / "info.json"
    msrvtt_json.write_text(json.dumps({"videos": [{"video_id": "video1", "split": "train", "category": 1}],
                                       "sentences": [{"video_id": "video1", "caption": "a dog"}]}))
    feature_folder(src / "feat", ["vid0", "vid1"], 4)
    (src / "caps.json").write_text(json.dumps({"vid0": ["a cat"], "vid1": ["a dog"]}))
    mlds = src / "mlds"
    feature_folder(mlds / "training_data" / "feat", ["a1_0_5.avi", "b2_3_9.avi"], 4)
    (mlds / "training_label.json").write_text(json.dumps([{"id": "a1_0_5.avi", "caption": ["a man"]},
                                                          {"id": "b2_3_9.avi", "caption": ["a dog"]}]))
    (src / "lic.json").write_text(json.dumps({"@id": "1"}) + "\n")
    feature_folder(src / "tsn" / "tsn_features_train", ["1"], 4)
    shard_of(src, "train0000.tfrecord", 1)
    (src / "vocabulary.csv").write_text("Index,Name\n0,Cat\n")
    return {
        "msvd": ["msvd", clips / "corpus.csv", "--videos", clips],
        "msvd-beside": ["msvd", clips / "corpus.csv"],
        "msrvtt": ["msrvtt", msrvtt_json, "--videos", clips],
        "folder": ["folder", clips],
        "features": ["features", src / "feat", "--captions", src / "caps.json", "--modality", "m", "--split",
                     "train", "--features", tmp_path / "store"],
        "mlds": ["mlds", mlds, "--features", tmp_path / "store"],
        "lic2022": ["lic2022", src / "lic.json", "--features", src / "tsn"],
        "yt8m": ["yt8m", src / "train0000.tfrecord", "--vocabulary", src / "vocabulary.csv",
                 "--features", tmp_path / "store"],
    }


@pytest.mark.parametrize("kind, out", [
    ("msvd", "clips/a_1_5.avi"), ("msvd", "clips/video1.mp4"), ("msvd", "clips/corpus.csv"),
    ("msvd-beside", "clips/video1.mp4"), ("msrvtt", "clips/video1.mp4"), ("msrvtt", "info.json"),
    ("folder", "clips/a_1_5.avi"), ("features", "feat/vid0.npy"), ("features", "caps.json"),
    ("mlds", "mlds/training_data/feat/a1_0_5.avi.npy"), ("mlds", "mlds/training_label.json"),
    ("lic2022", "lic.json"), ("lic2022", "tsn/tsn_features_train/1.npy"),
    ("yt8m", "train0000.tfrecord"), ("yt8m", "vocabulary.csv"),
])
@pytest.mark.parametrize("force", [[], ["--force"]])
def test_import_never_writes_over_one_of_its_inputs(kind, out, force, tmp_path, capsys):
    args = import_inputs(tmp_path)[kind]
    before = snapshot(tmp_path)
    out = tmp_path / "in" / out
    code, err = s2vt(capsys, "import", *args, "--out", out, *force)
    assert (code, err) == (2, [f"error: cannot write {out}: it is an input of this command"])
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("kind, out", [("features", "feat/new.npy"), ("mlds", "mlds/training_data/feat/X.npy"),
                                       ("msvd", "clips/new.avi"), ("folder", "clips/sub/new.mp4")])
def test_import_names_no_manifest_like_an_input_in_its_input_folder(kind, out, tmp_path, capsys):
    args = import_inputs(tmp_path)[kind]
    before = snapshot(tmp_path)
    out = tmp_path / "in" / out
    code, err = s2vt(capsys, "import", *args, "--out", out, "--force")
    assert code == 2 and len(err) == 1 and err[0].startswith(f"error: cannot write {out}: a {out.suffix} file in ")
    assert err[0].endswith("would be read as one of its inputs; name the manifest .jsonl")
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("kind, out", [("msvd", "clips/manifest.jsonl"), ("folder", "clips/manifest.jsonl"),
                                       ("features", "feat/manifest.jsonl")])
def test_import_writes_its_manifest_beside_its_inputs(kind, out, tmp_path, capsys):
    out = tmp_path / "in" / out
    code, err = s2vt(capsys, "import", *import_inputs(tmp_path)[kind], "--out", out)
    assert code == 0 and err[-1].startswith(f"wrote {out}: ") and read_manifest(out)


@pytest.mark.parametrize("kind", ["features", "mlds", "yt8m"])
@pytest.mark.parametrize("name", ["meta.json", "m/vid0.npy", "manifest.jsonl"])
@pytest.mark.parametrize("force", [[], ["--force"]])
def test_import_puts_no_manifest_inside_the_store_it_writes(kind, name, force, tmp_path, capsys):
    """--out inside --features: it would replace the store's meta.json or a feature file (or sit among
    them), the store then unreadable; refused before the store is made, --force or not."""
    args = import_inputs(tmp_path)[kind]
    before = snapshot(tmp_path)
    out = tmp_path / "store" / name
    code, err = s2vt(capsys, "import", *args, "--out", out, *force)
    assert (code, err) == (2, [f"error: cannot write {out}: it is inside the feature store {tmp_path / 'store'} "
                               "this command writes; put the manifest beside the store"])
    assert snapshot(tmp_path) == before and not (tmp_path / "store").exists()


# --- a second import into one store; a manifest as --captions; file names that are no ids ---

def import_features(capsys, src, caps, store, out, modality="cnn", *more):
    return s2vt(capsys, "import", "features", src, "--captions", caps, "--modality", modality, *more,
                "--features", store, "--out", out)


@pytest.mark.parametrize("kind, reason", [
    ("text", "not a .npy file"), ("device", "a device, not a file"), ("cut", "cut short (228 of 320 bytes)"),
    ("empty", "not a .npy file (empty)"), ("header", "header cut short (50 of 128 bytes)"),
    ("length", "header cut short (9 bytes)"),
    ("objects", "holds Python objects, not numbers: refused, as loading them could run code"),
    # (complex ones were cast to real with numpy's bare warning, booleans taken as 0/1; trial 78)
    ("complex", "holds complex numbers, not real numbers"), ("bool", "holds booleans, not real numbers"),
    ("link", "a link to a missing file {gone}")])
def test_an_unreadable_feature_file_gives_its_true_reason(kind, reason, tmp_path, capsys):
    """A text file named .npy and a link to /dev/zero were said to hold pickled data ('If you trust the file
    you can load it unsafely ...'), a truncated one 'mmap length is greater than file size' (hostile trial).
    So were numpy's and the system's own words given for a file whose header is cut short ('EOF: reading array
    header, expected 118 bytes got 20'), one of Python objects ('Array can't be memory-mapped: Python objects in
    dtype.') and a link to a file not there ('[Errno 2] No such file or directory')."""
    src = feature_folder(tmp_path / "f", ["good1", "good2"], 8)
    bad = src / "bad.npy"
    reason = reason.format(gone=tmp_path / "gone.npy")
    if kind == "header" or kind == "length":
        np.save(bad, np.zeros((3, 8), np.float64))
        bad.write_bytes(bad.read_bytes()[:50 if kind == "header" else 9])
    elif kind == "objects":
        np.save(bad, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    elif kind in ("complex", "bool"):
        np.save(bad, np.ones((3, 8), np.complex64 if kind == "complex" else bool))
    elif kind == "link":
        bad.symlink_to(tmp_path / "gone.npy")
    elif kind == "text":
        bad.write_text("not numpy\n")
    elif kind == "device":
        bad.symlink_to("/dev/zero")
    elif kind == "cut":
        np.save(bad, np.zeros((3, 8), np.float64))  # 128 header bytes and 192 of data
        bad.write_bytes(bad.read_bytes()[:228])
    else:
        bad.write_bytes(b"")
    caps = tmp_path / "caps.json"
    caps.write_text(json.dumps({"good1": ["a cat"], "good2": ["a dog"], "bad": ["a bird"]}))
    code, err = import_features(capsys, src, caps, tmp_path / "s", tmp_path / "o" / "m.jsonl", "cnn",
                                "--split", "train")
    if kind == "device":  # (a folder scan leaves a device out, as extract's does: `regular_files`)
        assert code == 0 and err[0].startswith(f"warning: {src}: left out 1 file that is not a regular file"), err
    else:  # (left out and counted, the rest imported: a batch's logged failure)
        assert code == 0 and err[0] == (f"warning: {src}: 1 of 3 feature files left out: unreadable "
                                        f"(first: {bad}: cannot read features ({reason}))"), err
        assert [json.loads(x)["video_id"] for x in (tmp_path / "o" / "m.jsonl").read_text().splitlines()] == \
            ["good1", "good2"]
    store = FeatureStore(tmp_path / "s2")  # the store's reader says the same
    (tmp_path / "s2" / "cnn").mkdir(parents=True)
    os.rename(bad, tmp_path / "s2" / "cnn" / "bad.npy")
    with pytest.raises(StoreError) as e:
        store.read("cnn", "bad")
    mend = "; remove it and run extract again, which extracts its video anew" if kind not in ("link", "device") else ""
    assert str(e.value) == f"{store.path('cnn', 'bad')}: cannot read features ({reason}){mend}"


def test_an_import_into_a_training_runs_folder_is_refused(tmp_path, capsys):
    """`import features ... --features RUN` wrote a store beside the run's last.pt, and the run could not be
    resumed there after (hostile trial); extract refused such a folder alone. The refusal comes first: a warning
    about the folder's bad files came before it, about an import that would not happen."""
    src = feature_folder(tmp_path / "f", ["a"], 8)
    np.save(src / "b.npy", np.full((2, 8), np.nan, np.float32))
    caps = tmp_path / "caps.json"
    caps.write_text(json.dumps({"a": ["a cat"], "b": ["a dog"]}))
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "last.pt").write_bytes(b"x")
    code, err = import_features(capsys, src, caps, tmp_path / "run", tmp_path / "m.jsonl", "cnn", "--split", "train")
    assert (code, err) == (2, [f"error: {tmp_path / 'run'}: a training run's folder (it holds last.pt), not a feature "
                               "store: name another --features"])
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["last.pt"]


def test_a_damaged_meta_json_is_said_how_to_mend_by_what_made_the_store(tmp_path, capsys):
    """A store's meta.json cut short (a full disk) advised 're-extract or import the store again': the import then
    met the same refusal, and extract into the same store too (hostile trial). The advice is now what works, by
    what made the store: an imported one is mended by removing meta.json and importing again (followed here); an
    extracted one is extracted again into a new --out (its meta.json is how the features were extracted)."""
    from s2vt.store import FeatureStore

    src = feature_folder(tmp_path / "f", ["a", "b"], 8)
    caps = tmp_path / "caps.json"
    caps.write_text(json.dumps({"a": ["a cat"], "b": ["a dog"]}))
    args = (src, caps, tmp_path / "s", tmp_path / "m.jsonl", "cnn", "--split", "train")
    assert import_features(capsys, *args)[0] == 0
    meta = tmp_path / "s" / "meta.json"
    meta.write_bytes(meta.read_bytes()[:30])
    code, err = import_features(capsys, *args, "--force")
    assert code == 2 and err[-1].startswith(f"error: {meta}: not valid JSON (") and err[-1].endswith(
        f"; remove meta.json and run again the import that made the store (cnn from {src}): it writes meta.json "
        "anew"), err
    meta.unlink()
    code, err = import_features(capsys, *args, "--force")
    assert code == 0, err
    assert json.loads(meta.read_text())["dims"] == {"cnn": 8}
    # two imports, two modalities: each is named (the last one alone, run again, left the other's modality out of
    # meta.json, and training out of the model; trial 65); followed, meta.json lists both again
    other = feature_folder(tmp_path / "g", ["a", "b"], 4)
    more = (other, tmp_path / "m.jsonl", tmp_path / "s", tmp_path / "m2.jsonl", "aud")
    assert import_features(capsys, *more)[0] == 0
    meta.write_bytes(meta.read_bytes()[:30])
    code, err = import_features(capsys, *more)
    assert code == 2 and err[-1].endswith(f"; remove meta.json and run again the imports that made the store (aud from "
                                          f"{other}; cnn from {src}): each writes its modality anew"), err
    meta.unlink()
    code, err = import_features(capsys, *more)  # (one of the two run again: the other's modality is said left out)
    assert code == 0 and (f"warning: {meta} does not list cnn, whose features the store holds, so training leaves "
                          f"them out: run again the import that made cnn from {src}") in err, err
    assert import_features(capsys, *args, "--force")[0] == 0
    assert json.loads(meta.read_text())["dims"] == {"cnn": 8, "aud": 4}
    extracted = FeatureStore(tmp_path / "x")
    extracted.root.mkdir()
    extracted.record_source("v", {"size": 1, "mtime_ns": 1}, ["resnet152"], str(tmp_path / "v.mp4"))
    (extracted.root / "meta.json").write_text("{")
    with pytest.raises(StoreError) as e:
        FeatureStore(extracted.root).meta()
    assert str(e.value).endswith("; extract again into a new --out, with the options it was extracted with (meta.json "
                                 "records how the features were extracted, which a model needs to caption new videos), "
                                 "or remove meta.json to train and evaluate on the store as it is"), str(e.value)
    # an import into it, once its meta.json is removed, says the extracted modality is not in the new one (trial 66)
    (extracted.root / "resnet152").mkdir()
    np.save(extracted.root / "resnet152" / "v.npy", np.ones((2, 8), np.float32))
    (extracted.root / "meta.json").unlink()
    code, err = import_features(capsys, src, caps, extracted.root, tmp_path / "m3.jsonl", "extra", "--split", "train")
    assert code == 0 and (f"warning: {extracted.root / 'meta.json'} does not list resnet152, whose features the store "
                          "holds, so training leaves them out: for resnet152, extract again into a new --out, with "
                          f"the options it was extracted with, and import into it again what was imported (extra "
                          f"from {src})") in err, err
    # files put there by hand (no record of where they came from): moved out and imported (trial 67)
    hand = tmp_path / "hand"
    (hand / "cnn").mkdir(parents=True)
    np.save(hand / "cnn" / "a.npy", np.ones((2, 8), np.float32))
    code, err = import_features(capsys, other, caps, hand, tmp_path / "m4.jsonl", "aud", "--split", "train")
    assert code == 0 and (f"warning: {hand / 'meta.json'} does not list cnn, whose features the store holds, so "
                          "training leaves them out: for cnn, move its folder out of the store and import from there "
                          "(s2vt import features FOLDER ... --modality NAME)") in err, err


def test_an_imported_copy_cut_short_is_said_how_to_mend_and_a_rerun_copies_it_again(tmp_path, capsys):
    """A store file an import copied, cut short (a crash, a full disk): train and evaluate said only 'cannot read
    features (cut short ...)', and a rerun of the import copied nothing, the store left broken (hostile trial)."""
    src = feature_folder(tmp_path / "f", ["a", "b"], 8)
    caps = tmp_path / "caps.json"
    caps.write_text(json.dumps({"a": ["a cat"], "b": ["a dog"]}))
    args = (src, caps, tmp_path / "s", tmp_path / "m.jsonl", "cnn", "--split", "train")
    assert import_features(capsys, *args)[0] == 0
    store = FeatureStore(tmp_path / "s")
    path = store.path("cnn", "a")
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(StoreError) as e:
        FeatureStore(tmp_path / "s").read("cnn", "a")
    assert str(e.value).endswith(f"; remove it and run the import that copied it from {src / 'a.npy'} again"), e.value
    assert import_features(capsys, *args, "--force")[0] == 0
    assert FeatureStore(tmp_path / "s").read("cnn", "a").shape == (3, 8)


def test_blank_captions_an_import_drops_are_counted_in_one_warning(tmp_path, capsys):
    """Blank captions ("", "   ") were dropped without a word, and a clip whose captions were all blank went
    into train with none (hostile trial): one warning line counts both, naming the first such clips."""
    src = feature_folder(tmp_path / "f", ["a", "b", "c"], 8)
    caps = tmp_path / "caps.json"
    caps.write_text(json.dumps({"a": ["   "], "b": ["x", ""], "c": ["y"]}))
    code, err = import_features(capsys, src, caps, tmp_path / "s", tmp_path / "o" / "m.jsonl", "cnn",
                                "--split", "train")
    assert code == 0
    warning = [line for line in err if line.startswith("warning:")]
    assert warning == [f"warning: {caps}: ignoring 2 blank captions; clips left without a caption, their captions "
                       "all blank: 1 (first: a), imported without captions"], err
    rows = [("v", "English", "  "), ("w", "English", "a cat"), ("w", "English", "")]
    assert main(["import", "msvd", str(msvd_csv(tmp_path / "c.csv", rows)), "--out", str(tmp_path / "o2" / "m.jsonl")]) == 0
    warning = [line for line in capsys.readouterr().err.splitlines() if " blank caption" in line]
    assert warning == [f"warning: {tmp_path / 'c.csv'}: ignoring 2 blank captions; clips left without a caption, "
                       "their captions all blank: 1 (first: v_1_5), left out"], warning


@pytest.mark.parametrize("source", ["mlds", "object", "manifest", "msvd", "msrvtt"])
def test_captions_of_no_letter_or_digit_are_blank_to_every_importer_as_to_training(source, tmp_path, capsys):
    """MLDS labels ["...", "😀", "-"] imported silently (blank was `c.strip()` alone) and training then said
    'ignoring 3 blank captions', the clip trained with none; a manifest as --captions kept '' and '  ' and
    counted them (hostile trial). Every importer drops what training drops (`vocab.is_blank`), in one warning."""
    blanks = ["...", "😀", "-", "", "  "]
    feat = feature_folder(tmp_path / "feat", ["a", "b"], 4)
    out = tmp_path / "o" / "m.jsonl"
    if source == "mlds":
        feature_folder(tmp_path / "r" / "training_data" / "feat", ["a.avi", "b.avi"], 4)
        given = tmp_path / "r" / "training_label.json"
        given.write_text(json.dumps([{"id": "a.avi", "caption": blanks}, {"id": "b.avi", "caption": ["a dog", "?"]}]))
        code, err = s2vt(capsys, "import", "mlds", tmp_path / "r", "--out", out)
    elif source == "object":
        given = tmp_path / "caps.json"
        given.write_text(json.dumps({"a": blanks, "b": ["a dog", "?"]}))
        code, err = import_features(capsys, feat, given, tmp_path / "s", out, "cnn", "--split", "train")
    elif source == "manifest":
        given = tmp_path / "caps.jsonl"
        given.write_text("".join(json.dumps({"video_id": v, "split": "train", "captions": c}) + "\n"
                                 for v, c in (("a", blanks), ("b", ["a dog", "?"]))))
        code, err = import_features(capsys, feat, given, tmp_path / "s", out)
    elif source == "msvd":
        given = msvd_csv(tmp_path / "c.csv", [("a", "English", c) for c in blanks if c != "-"]  # (6 blanks less "-":
                         + [("b", "English", "a dog"), ("b", "English", "?"), ("a", "English", "!")])  # the CSV's "")
        code, err = s2vt(capsys, "import", "msvd", given, "--out", out)
    else:
        given = tmp_path / "info.json"
        given.write_text(json.dumps({"videos": [{"video_id": v, "category": 0, "split": "train"} for v in "ab"],
                                     "sentences": [{"video_id": "a", "caption": c} for c in blanks]
                                     + [{"video_id": "b", "caption": c} for c in ("a dog", "?")]}))
        code, err = s2vt(capsys, "import", "msrvtt", given, "--out", out)
    assert code == 0, err
    fate = "left out" if source == "msvd" else "imported without captions"
    first = {"mlds": "a", "msvd": "a_1_5"}.get(source, "a")
    assert [line for line in err if "blank" in line] == [
        f"warning: {given}: ignoring 6 blank captions; clips left without a caption, their captions all blank: 1 "
        f"(first: {first}), {fate}"], err
    caps = {e["video_id"]: e["captions"] for e in read_manifest(out)}
    assert caps.get(first, []) == [] and caps[{"msvd": "b_1_5"}.get(source, "b")] == ["a dog"], caps


def test_hidden_feature_files_are_skipped_and_counted(tmp_path, capsys):
    """`.hidden.npy` was imported as clip 'hidden' and `..x.npy` as 'x' (hostile trial): a stray dotfile could
    stand in for a real clip's features. Hidden files are skipped, as extract's folder scan skips them, and counted."""
    src = feature_folder(tmp_path / "f", ["x", "y"], 8)
    np.save(src / ".hidden.npy", np.ones((3, 8), np.float32))
    np.save(src / "..x.npy", np.ones((3, 8), np.float32))
    caps = tmp_path / "caps.json"
    caps.write_text(json.dumps({"x": ["a cat"], "y": ["a dog"], "hidden": ["a bird"]}))
    code, err = import_features(capsys, src, caps, tmp_path / "s", tmp_path / "o" / "m.jsonl", "cnn",
                                "--split", "train")
    assert code == 0
    assert f"warning: {src}: skipped 2 hidden files (a name starting with '.'; first: ..x.npy, .hidden.npy)" in err, err
    assert sorted(e["video_id"] for e in read_manifest(tmp_path / "o" / "m.jsonl")) == ["x", "y"]
    assert np.array_equal(FeatureStore(tmp_path / "s").read("cnn", "x"), np.load(src / "x.npy").astype(np.float16))


def test_an_import_never_replaces_features_another_folder_imported(tmp_path, capsys):
    """The same ids from another folder into the same modality: refused before anything is written
    (the first import's manifest would otherwise evaluate on other features); the same import
    again is a no-op; new ids from another folder join the modality, meta.json naming both folders."""
    feature_folder(tmp_path / "a", ["v0", "v1"], 4)
    feature_folder(tmp_path / "b", ["v1", "v0"], 4)  # (the same ids, other values)
    feature_folder(tmp_path / "c", ["w0"], 4)
    caps = tmp_path / "caps.json"
    caps.write_text(json.dumps({"v0": ["a cat"], "v1": ["a dog"], "w0": ["a bird"]}))
    store = tmp_path / "m" / "features"
    assert import_features(capsys, tmp_path / "a", caps, store, tmp_path / "m" / "a.jsonl", "cnn",
                           "--split", "test")[0] == 0
    before = snapshot(tmp_path / "m")
    assert import_features(capsys, tmp_path / "a", caps, store, tmp_path / "m" / "a.jsonl", "cnn",
                           "--split", "test")[0] == 0
    assert snapshot(tmp_path / "m") == before  # (a rerun copies and records nothing again)
    np.save(tmp_path / "a" / "v1.npy", np.full((2, 4), 7, np.float32))  # (a file of that folder changed)
    assert import_features(capsys, tmp_path / "a", caps, store, tmp_path / "m" / "a.jsonl", "cnn",
                           "--split", "test")[0] == 0
    assert FeatureStore(store).read("cnn", "v1").tolist() == [[7.0] * 4] * 2
    before = snapshot(tmp_path / "m")
    code, err = import_features(capsys, tmp_path / "b", caps, store, tmp_path / "m" / "b.jsonl", "cnn",
                                "--split", "test")
    assert code == 2 and err[-1] == (f"error: {store}: modality 'cnn' already holds features of 2 of these clips "
                                     f"from {tmp_path / 'a'} (first: v0); this import would replace them: pass "
                                     "another --modality name or another --features store")
    assert snapshot(tmp_path / "m") == before and not (tmp_path / "m" / "b.jsonl").exists()
    assert import_features(capsys, tmp_path / "b", caps, store, tmp_path / "m" / "b.jsonl", "cnn2",
                           "--split", "test")[0] == 0
    assert import_features(capsys, tmp_path / "c", caps, store, tmp_path / "m" / "c.jsonl", "cnn",
                           "--split", "train")[0] == 0
    s = FeatureStore(store)
    assert np.array_equal(s.read("cnn", "v0"), np.load(tmp_path / "a" / "v0.npy").astype(np.float16))
    assert s.meta()["source"] == "; ".join(f"precomputed features from {tmp_path / d}, imported by `s2vt import "
                                           "features`" for d in "abc")
    assert s.sources() == {}  # (an import's records are no video files: extract's checks never see them)


def test_an_import_into_a_store_without_records_replaces_only_what_it_would_not_change(tmp_path, capsys):
    """A store written before imports were recorded: its files count as another source's unless
    they hold exactly what this import would write."""
    feature_folder(tmp_path / "a", ["v0"], 4)
    caps = tmp_path / "caps.json"
    caps.write_text(json.dumps({"v0": ["a cat"]}))
    store = tmp_path / "features"
    assert import_features(capsys, tmp_path / "a", caps, store, tmp_path / "a.jsonl", "cnn", "--split", "test")[0] == 0
    (store / "sources.jsonl").unlink()
    import shutil
    shutil.copytree(tmp_path / "a", tmp_path / "copy")  # (the same values, another mtime)
    assert import_features(capsys, tmp_path / "copy", caps, store, tmp_path / "b.jsonl", "cnn",
                           "--split", "test")[0] == 0
    (store / "sources.jsonl").unlink()
    feature_folder(tmp_path / "other", ["x", "v0"], 4)
    code, err = import_features(capsys, tmp_path / "other", caps, store, tmp_path / "c.jsonl", "cnn",
                                "--split", "test")
    assert code == 2 and err[-1].startswith(f"error: {store}: modality 'cnn' already holds features of 1 of these "
                                            f"clips from precomputed features from {tmp_path / 'a'}, imported by")


def test_a_manifest_as_captions_keeps_its_captions_tags_text_and_splits(tmp_path, capsys):
    feature_folder(tmp_path / "feat", ["v0", "v1", "v2", "extra"], 4)
    rows = [{"video_id": "v0", "split": "train", "captions": ["a cat"], "tags": ["pets"], "text": {"title": "Cat"},
             "path": "videos/v0.mp4"},
            {"video_id": "v1", "split": "val", "tags": ["music"]},  # (a YouTube-8M entry: tags, no captions)
            {"video_id": "v2", "split": "test"}]
    manifest = tmp_path / "labels.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "o" / "m.jsonl"
    code, err = import_features(capsys, tmp_path / "feat", manifest, tmp_path / "st", out)
    assert code == 0 and err[0] == (f"warning: 1 of 4 feature files in {tmp_path / 'feat'} has no entry in {manifest} "
                                    "and is left out (first: extra.npy)")
    assert read_manifest(out) == [
        {"video_id": "v0", "split": "train", "captions": ["a cat"], "tags": ["pets"], "text": {"title": "Cat"},
         "abspath": None},
        {"video_id": "v1", "split": "val", "captions": [], "tags": ["music"], "abspath": None},
        {"video_id": "v2", "split": "test", "captions": [], "tags": [], "abspath": None}]
    # --split replaces every video's (--force: it re-splits the manifest written above)
    assert import_features(capsys, tmp_path / "feat", manifest, tmp_path / "st", out, "cnn", "--split", "train",
                           "--force")[0] == 0
    assert {e["split"] for e in read_manifest(out)} == {"train"}
    # ... an invalid one too: it refused the import the user's --split asked for
    rows[1]["split"] = "validation"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, err = import_features(capsys, tmp_path / "feat", manifest, tmp_path / "st", out)
    assert (code, err[-1]) == (2, f"error: {manifest}:2: split must be one of train, val, test, not 'validation'")
    code, err = import_features(capsys, tmp_path / "feat", manifest, tmp_path / "st", out, "cnn", "--split", "val",
                                "--force")
    assert code == 0, err
    assert [(e["video_id"], e["split"]) for e in read_manifest(out)] == [("v0", "val"), ("v1", "val"), ("v2", "val")]


def test_a_caption_file_needs_split_and_an_import_of_nothing_labelled_is_refused(tmp_path, capsys):
    feature_folder(tmp_path / "feat", ["v0", "v1"], 4)
    (tmp_path / "caps.json").write_text(json.dumps({"v0": ["a cat"]}))
    code, err = import_features(capsys, tmp_path / "feat", tmp_path / "caps.json", tmp_path / "st", tmp_path / "m.jsonl")
    assert (code, err) == (2, [f"error: {tmp_path / 'caps.json'}: a caption file gives no split: pass --split train, "
                               "val or test (a manifest as --captions gives each video's own)"])
    manifest = tmp_path / "folder.jsonl"  # (as `import folder` writes: no captions, no tags)
    manifest.write_text("".join(json.dumps({"video_id": v, "split": s, "captions": [], "tags": []}) + "\n"
                                for v, s in (("v0", "train"), ("v1", "test"))))
    code, err = import_features(capsys, tmp_path / "feat", manifest, tmp_path / "st", tmp_path / "m.jsonl")
    assert (code, err) == (2, [f"error: {manifest}: no clip with a feature file has captions or tags (2 clips "
                               "without): nothing to train or evaluate on; clips to predict only are imported with "
                               "--split test"])
    assert not (tmp_path / "st").exists() and not (tmp_path / "m.jsonl").exists()
    # every clip of split test: new videos for a model of such features to answer for (new-user trial 70)
    code, err = import_features(capsys, tmp_path / "feat", manifest, tmp_path / "st", tmp_path / "m.jsonl", "cnn",
                                "--split", "test")
    assert code == 0 and err[0] == (f"note: {manifest}: no clip has captions or tags: the 2 clips of split test are "
                                    "for a model to predict (s2vt evaluate --split test), nothing to score"), err
    assert [(e["video_id"], e["split"], e["captions"]) for e in read_manifest(tmp_path / "m.jsonl")] == \
        [("v0", "test", []), ("v1", "test", [])]
    # --test N holds training videos out: none is of split train (trial 71: "only 0 training videos: leave at
    # least one to train on")
    code, err = import_features(capsys, tmp_path / "feat", manifest, tmp_path / "st", tmp_path / "m3.jsonl", "cnn",
                                "--split", "test", "--test", "1")
    assert (code, err) == (2, ["error: --val 0 --test 1 hold labelled videos out to score them, and these have no "
                               "captions or tags: leave out --val and --test"])
    # the note comes once they are written: other features of the same clips are refused, and said alone
    feature_folder(tmp_path / "feat2", ["v1", "v0"], 4)
    code, err = import_features(capsys, tmp_path / "feat2", manifest, tmp_path / "st", tmp_path / "m2.jsonl", "cnn",
                                "--split", "test")
    assert code == 2 and len(err) == 1 and err[0].startswith("error: ") and "note:" not in err[0], err
    assert not (tmp_path / "m2.jsonl").exists()
    # ... with another store as the way out: under another modality name a model read the old features (trial 72)
    assert err[0].endswith("this import would replace them: pass another --features store (a model reads its "
                           "modality by name: 'cnn' here)"), err
    # under another modality name: imported, and said that a model of cnn answers from the cnn ones (trial 73)
    code, err = import_features(capsys, tmp_path / "feat2", manifest, tmp_path / "st", tmp_path / "m2.jsonl", "cnn3",
                                "--split", "test")
    assert code == 0 and f"note: {tmp_path / 'st'} holds cnn features of 2 clips of these too (first: v0): a model " \
        "reads the modalities it was trained on by name, so one of cnn answers for them from those (another " \
        "--features store keeps new clips apart)" in err, err


def test_feature_files_named_like_no_id_get_extracts_ids_and_their_captions(tmp_path, capsys):
    """`my clip.npy` is clip my_clip, as extract names `my clip.mp4`; captions keyed by the file's
    name (`my clip`, `日本 clip.avi`) find it."""
    from s2vt.manifest import sanitize_id
    feature_folder(tmp_path / "feat", ["my clip", "日本 clip", "v0"], 4)
    (tmp_path / "caps.json").write_text(json.dumps({"my clip": ["a cat"], "日本 clip.avi": ["a dog"],
                                                    "v0": ["a bird"]}))
    out = tmp_path / "m.jsonl"
    code, err = import_features(capsys, tmp_path / "feat", tmp_path / "caps.json", tmp_path / "st", out, "cnn",
                                "--split", "train")
    assert code == 0 and len(err) == 1, err
    assert {e["video_id"]: e["captions"] for e in read_manifest(out)} == {
        "my_clip": ["a cat"], sanitize_id("日本 clip"): ["a dog"], "v0": ["a bird"]}
    assert sanitize_id("日本 clip").startswith("___clip_")
    assert FeatureStore(tmp_path / "st").read("cnn", "my_clip").shape == (3, 4)
    # two caption keys of one id, two files of one id: refused naming both
    (tmp_path / "caps2.json").write_text(json.dumps({"my clip": ["a cat"], "my_clip.avi": ["a dog"]}))
    code, err = import_features(capsys, tmp_path / "feat", tmp_path / "caps2.json", tmp_path / "st2", out, "cnn",
                                "--split", "train")
    assert (code, err) == (2, [f"error: {tmp_path / 'caps2.json'}: clips 'my clip' and 'my_clip.avi' are both clip "
                               "my_clip: rename one"])
    feature_folder(tmp_path / "feat", ["my_clip"], 4)
    code, err = import_features(capsys, tmp_path / "feat", tmp_path / "caps.json", tmp_path / "st2", out, "cnn",
                                "--split", "train")
    assert (code, err) == (2, [f"error: {tmp_path / 'feat' / 'my clip.npy'} and {tmp_path / 'feat' / 'my_clip.npy'} "
                               "are both clip my_clip: rename one"])


def test_an_import_into_an_extracted_modality_is_named_as_such_not_as_another_folder(tmp_path, capsys):
    store = FeatureStore(tmp_path / "st")
    store.init_meta({"backbones": {"resnet152": "random(seed=0)"}, "dims": {"resnet152": 4}, "dtype": "float16"})
    store.write("resnet152", "v0", np.zeros((2, 4), np.float32))
    feature_folder(tmp_path / "feat", ["v0"], 4)
    (tmp_path / "caps.json").write_text(json.dumps({"v0": ["a cat"]}))
    code, err = import_features(capsys, tmp_path / "feat", tmp_path / "caps.json", tmp_path / "st", tmp_path / "m.jsonl",
                                "resnet152", "--split", "train")
    assert (code, err) == (2, [f"error: {store.meta_path}: resnet152 features come from random(seed=0), this run "
                               "uses precomputed; use another --features"])


def test_manifest_entries_without_a_split_are_said_to_go_to_train(tmp_path, capsys):
    """A --captions manifest entry without a split was silently imported as a training video."""
    ids = [f"v{i}" for i in range(6)]
    feature_folder(tmp_path / "feat", ids, 4)
    manifest = tmp_path / "labels.jsonl"
    rows = [{"video_id": v, "captions": ["a cat"], **({"split": "test"} if i < 2 else {})} for i, v in enumerate(ids)]
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "o" / "m.jsonl"
    code, err = import_features(capsys, tmp_path / "feat", manifest, tmp_path / "st", out)
    assert code == 0 and err[0] == (f"warning: {manifest}: 4 of the 6 videos imported have no split (first: v2, v3, "
                                    "v4, ...) and went to train; pass --split train, val or test to give every video "
                                    "that split"), err
    assert [e["split"] for e in read_manifest(out)] == ["test", "test", "train", "train", "train", "train"]
    code, err = import_features(capsys, tmp_path / "feat", manifest, tmp_path / "st", out, "cnn", "--split", "val",
                                "--force")
    assert code == 0 and not any(line.startswith("warning") for line in err), err
    assert {e["split"] for e in read_manifest(out)} == {"val"}
    # --val / --test hold some of them out afterwards: only those left in train are said to be there
    code, err = import_features(capsys, tmp_path / "feat", manifest, tmp_path / "st", out, "cnn", "--val", "1",
                                "--test", "1", "--force")
    trained = [e["video_id"] for e in read_manifest(out) if e["split"] == "train"]
    assert code == 0 and len(trained) == 2 and err[0] == (
        f"warning: {manifest}: 2 of the 6 videos imported have no split (first: {', '.join(trained)}) and went to "
        "train (2 more went to val or test by --val / --test); pass --split train, val or test to give every video "
        "that split"), err


@pytest.mark.parametrize("caption", [None, 3, ["a cat"]])
def test_msrvtt_a_caption_that_is_not_a_string_is_named_as_the_sentence_it_is(caption, tmp_path, capsys):
    info = tmp_path / "info.json"
    info.write_text(json.dumps({"videos": [{"video_id": "v1", "category": 0, "split": "train"}],
                                "sentences": [{"video_id": "v1", "caption": "a man"},
                                              {"video_id": "v1", "caption": caption}]}))
    code, err = s2vt(capsys, "import", "msrvtt", info, "--out", tmp_path / "m.jsonl")
    assert code == 2 and err == [f"error: {info}: sentences[1] (video 'v1'): 'caption' must be a string, "
                                 f"not {json.dumps(caption)}"], err
    assert not (tmp_path / "m.jsonl").exists()


def test_a_reimport_that_would_move_videos_between_splits_is_refused(tmp_path, capsys):
    """Re-importing onto an existing manifest without --val/--test, or with another --seed, silently
    re-split it (its held-out test videos went to train: the next training run trained on them).
    Refused in one line saying how many move, unless --force; the same import again stays allowed."""
    from ..test_text import write_lic

    lic = write_lic(tmp_path / "lic") / "train.json"  # 40 labelled videos
    out = tmp_path / "m.jsonl"
    assert s2vt(capsys, "import", "lic2022", lic, "--val", "5", "--test", "5", "--seed", "0", "--out", out)[0] == 0
    held = out.read_text()
    assert s2vt(capsys, "import", "lic2022", lic, "--val", "5", "--test", "5", "--seed", "0", "--out", out)[0] == 0
    assert out.read_text() == held  # (an identical re-import)
    code, err = s2vt(capsys, "import", "lic2022", lic, "--out", out)
    assert (code, err) == (2, [f"error: {out}: 10 videos would change split (5 of its test videos to train, 5 of its "
                               "val videos to train): pass --force to re-split, or --out a new manifest"])
    assert out.read_text() == held
    code, err = s2vt(capsys, "import", "lic2022", lic, "--val", "5", "--test", "5", "--seed", "5", "--out", out)
    assert code == 2 and len(err) == 1 and err[0].startswith(f"error: {out}: ") and "would change split" in err[0]
    assert out.read_text() == held
    code, err = s2vt(capsys, "import", "lic2022", lic, "--out", out, "--force")
    assert code == 0 and {e["split"] for e in read_manifest(out)} == {"train"}
    # an import that writes a store compares the splits --val/--test give, before the store is written
    ids = [f"v{i}" for i in range(8)]
    feature_folder(tmp_path / "feat", ids, 4)
    caps = tmp_path / "caps.json"
    caps.write_text(json.dumps({v: ["a cat"] for v in ids}))
    fout, store = tmp_path / "f.jsonl", tmp_path / "st"
    args = (capsys, tmp_path / "feat", caps, store, fout, "cnn", "--split", "train", "--test", "2")
    assert import_features(*args)[0] == 0
    assert import_features(*args)[0] == 0  # (the same held-out test split again)
    before, held = snapshot(store), fout.read_text()
    code, err = import_features(*args, "--seed", "3")
    assert code == 2 and len(err) == 1 and "would change split" in err[0], err
    assert snapshot(store) == before and fout.read_text() == held


def test_a_file_that_is_not_lic2022_json_lines_says_what_it_is(tmp_path, capsys):
    """MSR-VTT's videodatainfo JSON given to `import lic2022` said `:1: '@id' must be digits, not ''`:
    the key is absent, and the file is one JSON document, not JSON lines."""
    info = tmp_path / "videodatainfo_val.json"
    info.write_text(json.dumps({"info": {}, "videos": [{"video_id": "video0"}], "sentences": []}))
    code, err = s2vt(capsys, "import", "lic2022", info, "--out", tmp_path / "m.jsonl")
    assert (code, err) == (2, [f"error: {info}: one JSON document (an object with keys info, videos, sentences), "
                               "not LIC2022 JSON lines (one video's object a line, each with '@id'); it looks "
                               "like MSR-VTT's videodatainfo JSON: s2vt import msrvtt"])
    lines = tmp_path / "other.jsonl"
    lines.write_text(json.dumps({"video_id": "v0", "captions": []}) + "\n" + json.dumps({"video_id": "v1"}) + "\n")
    code, err = s2vt(capsys, "import", "lic2022", lines, "--out", tmp_path / "m.jsonl")
    assert (code, err) == (2, [f"error: {lines}:1: no '@id' key (an object with keys video_id, captions): not "
                               "LIC2022 JSON lines (one video's object a line, each with '@id')"])
    # a one-line file is JSON lines too: said as the multi-line one (it was called 'one JSON document')
    lines.write_text('{"id": 1, "title": "x"}\n')
    code, err = s2vt(capsys, "import", "lic2022", lines, "--out", tmp_path / "m.jsonl")
    assert (code, err) == (2, [f"error: {lines}:1: no '@id' key (an object with keys id, title): not "
                               "LIC2022 JSON lines (one video's object a line, each with '@id')"])
    # MLDS's training_label.json: `jq -c '.[]'` would only fail next for lack of '@id'
    mlds = tmp_path / "training_label.json"
    mlds.write_text(json.dumps([{"caption": ["a cat"], "id": "v0.avi"}], indent=1))
    code, err = s2vt(capsys, "import", "lic2022", mlds, "--out", tmp_path / "m.jsonl")
    assert (code, err) == (2, [f"error: {mlds}: not JSON lines (one object per line): it is a JSON array; it looks "
                               "like MLDS's training_label.json: s2vt import mlds"])
    # objects written over several lines each (jq .'s output; no newline at the end): the last '}' was warned of
    # as a line cut short, then line 1 refused as not JSON (new-user trial 69); pretty-printed MSR-VTT JSON is named
    pretty = tmp_path / "pretty.json"
    pretty.write_text("\n".join(json.dumps({"@id": str(i), "title": "t"}, indent=2) for i in range(3)))
    code, err = s2vt(capsys, "import", "lic2022", pretty, "--out", tmp_path / "m.jsonl")
    assert (code, err) == (2, [f"error: {pretty}: not JSON lines (one object per line): its 3 JSON values span "
                               f"several lines each (pretty-printed); write one per line, e.g. jq -c . {pretty} > "
                               "lines.json"])
    pretty.write_text(json.dumps({"info": {}, "videos": [], "sentences": []}, indent=2))
    code, err = s2vt(capsys, "import", "lic2022", pretty, "--out", tmp_path / "m.jsonl")
    assert code == 2 and err[0].endswith("it looks like MSR-VTT's videodatainfo JSON: s2vt import msrvtt"), err
    # a title holding U+2028, U+2029 or U+0085 (json.dumps writes them raw with ensure_ascii=False) on the first
    # line: one object a line all the same (str.splitlines cut the line there, and it was refused as pretty-printed)
    for odd in ("\u2028", "\u2029", "\x85"):
        lines.write_text("".join(json.dumps({"@id": str(i), "title": f"a{odd}b", "category": [
            {"@meta": {"type": "level1"}, "@value": "c"}]}, ensure_ascii=False) + "\n" for i in range(2)),
            encoding="utf-8")
        code, err = s2vt(capsys, "import", "lic2022", lines, "--out", tmp_path / "odd" / "m.jsonl")
        assert code == 0, err
        assert [e["text"]["title"] for e in read_manifest(tmp_path / "odd" / "m.jsonl")] == [f"a{odd}b"] * 2
        shutil.rmtree(tmp_path / "odd")
    # a binary file (a YouTube-8M shard): its first line refused, no "last line cut short" warning before (trial 88)
    shard = tmp_path / "train0000.tfrecord"
    shard.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00\x8d\xff\x00\x01" + bytes(range(256)) * 4)
    code, err = s2vt(capsys, "import", "lic2022", shard, "--out", tmp_path / "m.jsonl")
    assert code == 2 and len(err) == 1 and "not valid UTF-8" in err[0], err
    lines.write_text('{"@id": ""}\n')  # (there, but empty: said as before)
    code, err = s2vt(capsys, "import", "lic2022", lines, "--out", tmp_path / "m.jsonl")
    assert (code, err) == (2, [f"error: {lines}:1: '@id' must be digits, not ''"])
    assert not (tmp_path / "m.jsonl").exists()
    # 200 digits were said not to be digits, and a 5,000-character id was echoed whole (trial 95)
    for vid, said in [("1" * 200, "must be at most 128 digits, not 200"),
                      ("x" * 5000, f"must be digits, not {'x' * 5000!r:.60}... (5,000 characters)"),
                      ("\uff11\uff12", "must be digits, not '\uff11\uff12'"),
                      (None, "must be digits, not null"), (True, "must be digits, not a JSON boolean"),  # (trial 96)
                      (7.5, "must be digits, not a number with a fraction or exponent")]:
        lines.write_text(json.dumps({"@id": vid, "title": "t"}) + "\n")
        code, err = s2vt(capsys, "import", "lic2022", lines, "--out", tmp_path / "m.jsonl")
        assert (code, err) == (2, [f"error: {lines}:1: '@id' {said}"])


def foreign_outputs(tmp_path) -> dict:
    """Files no manifest may replace, under tmp_path/other: {name: the refusal's words after 'cannot write PATH: '}."""
    import zipfile

    other = tmp_path / "other"
    (other / "run").mkdir(parents=True)
    for name in ("ck_copy.pt", "run/best.pt"):  # (a checkpoint is a zip archive, as torch.save writes it)
        with zipfile.ZipFile(other / name, "w") as z:
            z.writestr("archive/data.pkl", b"weights")
    (other / "run" / "metrics.csv").write_text("epoch,loss\n1,2.0\n")
    (other / "run" / "curves.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    store = FeatureStore(other / "st")
    store.init_meta({"frames": 40, "dims": {"cnn": 4}, "dtype": "float16"})
    store.write("cnn", "v0", np.zeros((3, 4), np.float32))
    store.record_source("v0", {"size": 1, "mtime_ns": 1}, ["cnn"], str(tmp_path / "v0.mp4"))
    (other / "keep.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42")
    (other / "notes.txt").write_text("my notes\n")
    return {"ck_copy.pt": "it is a checkpoint: import never writes over one",
            "run/best.pt": "it is a checkpoint: import never writes over one",
            "run/metrics.csv": f"metrics.csv is a file of the training run in {other / 'run'}: import never writes "
                               "over one",
            "run/curves.png": f"curves.png is a file of the training run in {other / 'run'}: import never writes "
                              "over one",
            "st/meta.json": f"it is inside the feature store {other / 'st'}: put the manifest beside the store",
            "st/sources.jsonl": f"it is inside the feature store {other / 'st'}: put the manifest beside the store",
            "st/cnn/v0.npy": f"it is inside the feature store {other / 'st'}: put the manifest beside the store",
            "st/new.jsonl": f"it is inside the feature store {other / 'st'}: put the manifest beside the store",
            "keep.mp4": "a .mp4 name is a video's: name the manifest .jsonl",
            "new.avi": "a .avi name is a video's: name the manifest .jsonl",
            "notes.txt": "it is there and is not a manifest (line 1: not valid JSON (Expecting value at column 1)): "
                         "import replaces only a manifest: move it, or name another --out"}


@pytest.mark.parametrize("name", [
    "ck_copy.pt", "run/best.pt", "run/metrics.csv", "run/curves.png", "st/meta.json", "st/sources.jsonl",
    "st/cnn/v0.npy", "st/new.jsonl", "keep.mp4", "new.avi", "notes.txt"])
@pytest.mark.parametrize("kind", ["folder", "features", "yt8m"])
@pytest.mark.parametrize("force", [[], ["--force"]])
def test_import_never_writes_over_a_checkpoint_a_run_a_store_or_a_video(name, kind, force, tmp_path, capsys):
    """`import ... --out run/best.pt --force` replaced the model with a manifest (a store's meta.json or
    sources.jsonl, a video, curves.png alike), and the refusal without --force suggested the flag (hostile
    trial): such an --out is refused in one line, --force or not, before anything is written; --force
    replaces only a manifest."""
    args = import_inputs(tmp_path)[kind]
    words = foreign_outputs(tmp_path)[name]
    before = snapshot(tmp_path)
    out = tmp_path / "other" / name
    code, err = s2vt(capsys, "import", *args, "--out", out, *force)
    assert (code, err) == (2, [f"error: cannot write {out}: {words}"])
    assert snapshot(tmp_path) == before and not (tmp_path / "store").exists()


@pytest.mark.parametrize("modality", ["meta.json", "sources.jsonl", "notes.jsonl", "failures.jsonl", "META.JSON"])
@pytest.mark.parametrize("kind", ["features", "mlds"])
def test_no_modality_is_named_like_a_file_the_store_keeps(modality, kind, tmp_path, capsys):
    """`import features ... --modality notes.jsonl` into a store made its log a folder, and `--modality meta.json`
    was refused only after meta.json listed it as a modality: train and extract then failed on the store; into a
    new store `--modality sources.jsonl` was the system's 'Is a directory' (hostile trial). Refused in one line
    before anything is written."""
    args = import_inputs(tmp_path)[kind]
    store = tmp_path / "store"
    assert s2vt(capsys, "import", *args, "--out", tmp_path / "first.jsonl")[0] == 0
    FeatureStore(store).note("vid0", "a note")  # (the store's logs there, as extract leaves them)
    FeatureStore(store).log_failure("vid9", str(tmp_path / "vid9.mp4"), "no video")
    before = snapshot(tmp_path)
    chosen = [*(args[:args.index("--modality")] if "--modality" in args else args), "--modality", modality,
              *(args[args.index("--modality") + 2:] if "--modality" in args else [])]
    for where, out in ((store, tmp_path / "m.jsonl"), (tmp_path / "new", tmp_path / "n.jsonl")):
        code, err = s2vt(capsys, "import", *chosen[:chosen.index("--features") + 1], where,
                         *chosen[chosen.index("--features") + 2:], "--out", out)
        assert (code, err) == (2, [f"error: --modality {modality!r}: the feature store keeps its own "
                                   f"{modality.lower()} under that name; name the modality otherwise"])
        assert snapshot(tmp_path) == before and not (tmp_path / "new").exists()


def test_a_refused_import_leaves_meta_json_as_it_was(tmp_path, capsys):
    """An import refused at its first feature file (the modality's folder a file there) had already added the
    modality to meta.json (hostile trial): usage.md promises the refusal comes before anything is written."""
    args = import_inputs(tmp_path)["features"]
    store = tmp_path / "store"
    assert s2vt(capsys, "import", *args, "--out", tmp_path / "first.jsonl")[0] == 0
    (store / "cnn2").write_text("someone's file\n")
    before = snapshot(tmp_path)
    chosen = [a if a != "m" else "cnn2" for a in args]
    code, err = s2vt(capsys, "import", *chosen, "--out", tmp_path / "m.jsonl")
    assert (code, err) == (2, [f"error: cannot write {store / 'cnn2'}: it is a file, not the folder of modality "
                               "'cnn2': pass another --modality name or another --features store"])
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("target, what", [("gone", "a link to a missing target ({store}/gone)"),
                                          ("cnn2", "a symbolic link loop (to cnn2)")])
def test_a_modality_folder_that_is_a_link_to_nothing_is_said_so(target, what, tmp_path, capsys):
    """A modality folder that is a link to a missing target was refused as 'it is no folder', though `ls` shows
    it there (hostile trial): it is said to be a link to what is not there, or a loop."""
    args = import_inputs(tmp_path)["features"]
    store = tmp_path / "store"
    assert s2vt(capsys, "import", *args, "--out", tmp_path / "first.jsonl")[0] == 0
    (store / "cnn2").symlink_to(store / target if target != "cnn2" else target)
    before = snapshot(tmp_path)
    code, err = s2vt(capsys, "import", *[a if a != "m" else "cnn2" for a in args], "--out", tmp_path / "m.jsonl")
    assert (code, err) == (2, [f"error: cannot write {store / 'cnn2'}: it is {what.format(store=store)}, not the "
                               "folder of modality 'cnn2': pass another --modality name or another --features store"])
    assert snapshot(tmp_path) == before


def test_a_yt8m_record_of_nan_or_infinite_features_is_skipped_and_counted(tmp_path, capsys):
    """A record whose mean_rgb was all NaN was stored as it was (exit 0), and training then refused its file with
    "re-extract it", which no one can do to an imported feature; now it is a skipped record, said and counted.
    Finite values past float16's range are kept, in a float32 file (as the store writes any such values)."""
    from ..test_yt8m import example, write_shard
    rgb = np.ones(1024, np.float32)
    records = [example({"id": [vid.encode()], "labels": [1], "mean_rgb": x, "mean_audio": np.ones(128, np.float32)})
               for vid, x in (("good", rgb), ("nanv", np.full(1024, np.nan, np.float32)),
                              ("infv", np.where(np.arange(1024) == 5, np.inf, rgb).astype(np.float32)),
                              ("big", rgb * 1e6))]
    shard = write_shard(tmp_path / "train0.tfrecord", records)
    out = tmp_path / "m" / "m.jsonl"
    code, err = s2vt(capsys, "import", "yt8m", shard, "--out", out)
    assert code == 1
    assert err[:2] == [f"warning: {shard}: record 2 (id nanv): features hold NaN or infinite values (mean_rgb); "
                       "skipped",
                       f"warning: {shard}: record 3 (id infv): features hold NaN or infinite values (mean_rgb); "
                       "skipped"]
    assert err[-1] == ("error: 2 records skipped (features hold NaN or infinite values: 2) (see the warnings above); "
                       "2 videos imported")
    assert [e["video_id"] for e in read_manifest(out)] == ["good", "big"]
    store = FeatureStore(out.parent / "features")
    assert not store.path("rgb", "nanv").exists() and not store.path("rgb", "infv").exists()
    big = np.load(store.path("rgb", "big"))
    assert big.dtype == np.float32 and np.array_equal(store.read("rgb", "big"), rgb[None] * 1e6)


@contextlib.contextmanager
def never_waiting(what: str):
    """Fail (not hang) a command that waits on a pipe for a minute."""
    previous = signal.signal(signal.SIGALRM, lambda *_: pytest.fail(f"{what} waited on the pipe"))
    signal.alarm(60)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("kind, pipe", [("features", "feat/vid1.npy"), ("mlds", "mlds/training_data/feat/b2_3_9.avi.npy"),
                                        ("lic2022", "tsn/tsn_features_train/2.npy"), ("yt8m", "train0001.tfrecord")])
def test_a_pipe_an_import_finds_in_a_folder_is_left_out_in_one_line_never_waited_on(kind, pipe, tmp_path, capsys):
    """A stray FIFO among the .npy files `import features` (or mlds) reads, the tsn files lic2022 links or a folder's
    shards hung the import with no word (training too, from a linked pipe); extract's folder scan leaves such files
    out. Now the import leaves it out too, says so in one line, and imports the rest."""
    args = import_inputs(tmp_path)[kind]
    src = tmp_path / "in"
    if kind == "lic2022":
        (src / "lic.json").write_text(json.dumps({"@id": "1"}) + "\n" + json.dumps({"@id": "2"}) + "\n")
    if kind == "yt8m":
        args = ["yt8m", src]  # (the folder of shards)
    pipe = src / pipe
    if pipe.exists():
        pipe.unlink()
    os.mkfifo(pipe)
    out = tmp_path / "m" / "m.jsonl"
    with never_waiting(f"import {kind}"):
        code, err = s2vt(capsys, "import", *args, "--out", out)
    assert code == 0, err
    scanned = src / "tsn" if kind == "lic2022" else pipe.parent
    assert err[0] == (f"warning: {scanned}: left out 1 file that is not a regular file "
                      f"({pipe.relative_to(scanned)}: a pipe)")
    assert err[-1].startswith(f"wrote {out}: ") and pipe.is_fifo()
    assert [p for p in (out.parent / "features").rglob("*") if p.name == pipe.name] == []


@pytest.mark.parametrize("special", ["fifo", "/dev/null"])
def test_a_shard_that_is_a_pipe_or_a_device_is_one_line_never_waited_on(special, tmp_path, capsys):
    """`s2vt import yt8m FIFO` waited for good (and a pipe with a writer read as 0 records: its size is 0); now it
    is refused in one line, exit 2, before anything is read or written."""
    shard = tmp_path / "train0001.tfrecord"
    if special == "fifo":
        os.mkfifo(shard)
    else:
        shard.symlink_to(special)
    what = "a pipe" if special == "fifo" else "a device"
    out = tmp_path / "m" / "m.jsonl"
    with never_waiting("import yt8m"):
        code, err = s2vt(capsys, "import", "yt8m", shard, "--out", out)
    assert (code, err) == (2, [f"error: {shard}: {what}, not a TFRecord file: shards are read from files (save it "
                               "to one, then import that)"])
    assert not out.parent.exists()


def piped(path: Path, content: bytes) -> Path:
    """A FIFO at `path` that a thread fills with `content` (as `<(cat FILE)` gives a file), once."""
    import threading

    os.mkfifo(path)
    threading.Thread(target=lambda: path.write_bytes(content), daemon=True).start()
    return path


@pytest.mark.parametrize("through_a_pipe", [False, True])
@pytest.mark.parametrize("given, kind", [("clips/corpus.csv", "msvd"), ("info.json", "msrvtt"),
                                         ("lic.json", "lic2022")])
def test_another_datasets_file_as_captions_names_its_import(given, kind, through_a_pipe, tmp_path, capsys):
    """MSR-VTT's videodatainfo as --captions was said to hold "clip info" whose captions are no list, MSVD's CSV
    to be no JSON: each is named, with the import that reads it, from a file or through a pipe."""
    import_inputs(tmp_path)
    given = tmp_path / "in" / given
    if through_a_pipe:
        given = piped(tmp_path / "piped", given.read_bytes())
    out = tmp_path / "m" / "m.jsonl"
    with never_waiting("import features"):
        code, err = s2vt(capsys, "import", "features", tmp_path / "in" / "feat", "--captions", given, "--split",
                         "train", "--modality", "m", "--out", out)
    assert code == 2 and len(err) == 1 and err[0].startswith(f"error: {given}: ") and \
        f"make a manifest of it: s2vt import {kind} {given} --out M.jsonl" in err[0], err
    assert not out.parent.exists()


@pytest.mark.parametrize("rows", [1, 2])
def test_a_manifest_through_a_pipe_as_captions_is_said_to_be_one(rows, tmp_path, capsys):
    """`--captions <(cat m.jsonl)`: a manifest is told by its name or its content, which a pipe gives once; it was
    refused as JSON lines that are no caption format (or, without --split, as a caption file that needs one; a
    one-line manifest, as a clip "video_id" whose captions are no list)."""
    import_inputs(tmp_path)
    pipe = piped(tmp_path / "captions", "".join(json.dumps({"video_id": v, "split": "train", "captions": ["a cat"]})
                                                + "\n" for v in ("vid0", "vid1")[:rows]).encode())
    out = tmp_path / "m" / "m.jsonl"
    with never_waiting("import features"):
        code, err = s2vt(capsys, "import", "features", tmp_path / "in" / "feat", "--captions", pipe, "--modality", "m",
                         "--out", out)
    assert (code, err) == (2, [f"error: {pipe}: a manifest through a pipe: save it to a file and pass that (a "
                               "manifest is told by its name or content, which a pipe gives only once)"])
    assert not out.parent.exists()


@pytest.mark.parametrize("kind", ["lic2022", "msrvtt", "msvd", "captions", "vocabulary"])
def test_an_annotation_file_that_is_a_device_is_one_line(kind, tmp_path, capsys):
    """/dev/zero named as an annotation file was read without end (memory), /dev/null read as an empty file;
    now a device is refused by name, in one line, exit 2. (A pipe is read, once: `<(head -5 train.json)`.)"""
    dev = tmp_path / "dev.json"
    dev.symlink_to("/dev/null")
    args = import_inputs(tmp_path)
    args = {"lic2022": ["lic2022", dev], "msrvtt": ["msrvtt", dev], "msvd": ["msvd", dev],
            "captions": args["features"][:2] + ["--captions", dev] + args["features"][4:],
            "vocabulary": args["yt8m"][:2] + ["--vocabulary", dev]}[kind]
    option = {"captions": "--captions ", "vocabulary": "--vocabulary "}.get(kind, "")
    out = tmp_path / "m" / "m.jsonl"
    assert s2vt(capsys, "import", *args, "--out", out) == (2, [f"error: {option}{dev}: a device, not a file"])
    assert not out.parent.exists()


def written_once(fifo, data: bytes):
    """A thread that writes `data` into the FIFO once, as `<(head -5 train.json)` or a pipe into /dev/stdin does."""
    import threading

    def write():
        with open(fifo, "wb") as f:
            f.write(data)

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


def test_lic2022_from_stdin_reads_the_pipe_once(tmp_path):
    """`head -5 train.json | s2vt import lic2022 /dev/stdin` said "no video found: nothing to import": the file was
    read twice (whether it is MLDS's JSON array, then its lines), the second time from an empty pipe."""
    lines = "".join(json.dumps({"@id": str(i), "title": f"t{i}", "tag": [{"@value": "cat"}]}) + "\n" for i in range(5))
    out = tmp_path / "m.jsonl"
    done = subprocess.run([sys.executable, "-m", "s2vt", "import", "lic2022", "/dev/stdin", "--out", str(out)],
                          input=lines, capture_output=True, text=True, timeout=120, cwd=Path(__file__).parents[2])
    assert done.returncode == 0, done.stderr
    assert [e["video_id"] for e in read_manifest(out)] == ["0", "1", "2", "3", "4"]


@pytest.mark.parametrize("kind, data, says", [
    ("lic2022", '{"@id": "1", "tag": [{"@value": "cat"}]}\n', None),
    ("lic2022", '{"@id": "1"}\n{"id": 2}\n', "{pipe}:2: no '@id' key (an object with key id): not LIC2022 JSON lines "
                                            "(one video's object a line, each with '@id')"),
    ("msrvtt", "{oops", "{pipe}: not valid JSON (Expecting property name enclosed in double quotes at line 1 "
                        "column 2)"),
    ("captions", "{oops", "{pipe}: cannot read captions (Expecting property name enclosed in double quotes "
                          "at line 1 column 2)"),
])
def test_an_annotation_file_that_is_a_named_pipe_is_read_once(kind, data, says, tmp_path, capsys):
    """A FIFO's second open waits for a writer for good: lic2022 read its file twice (and then hung), msrvtt and
    --captions read theirs a second time to say what was wrong with it."""
    pipe = tmp_path / "pipe.json"
    os.mkfifo(pipe)
    args = import_inputs(tmp_path)
    args = {"lic2022": ["lic2022", pipe], "msrvtt": ["msrvtt", pipe],
            "captions": args["features"][:2] + ["--captions", pipe] + args["features"][4:]}[kind]
    writer = written_once(pipe, data.encode())
    with never_waiting(f"import {kind}"):
        code, err = s2vt(capsys, "import", *args, "--out", tmp_path / "m" / "m.jsonl")
    writer.join(5)
    if says is None:
        assert code == 0 and err[-1].startswith("wrote "), err
    else:
        assert (code, err) == (2, ["error: " + says.format(pipe=pipe)])


def test_a_vocabulary_index_given_twice_is_refused_and_repeated_names_are_said(tmp_path, capsys):
    """A second row for Index 0 silently replaced its name ("Game" -> "Conflicting" on every video of that class),
    and names shared by several classes became label<Index> unsaid (hostile trial). Now a repeated Index is one
    line naming the file and both lines (exit 2, nothing written), and repeated names one warning line."""
    from ..test_yt8m import video, write_shard
    shard = write_shard(tmp_path / "train0000.tfrecord", [video("a", [0, 2])[0], video("b", [3])[0]])
    vocab = tmp_path / "vocabulary.csv"
    vocab.write_text("Index,Name\n0,Game\n1,Car\n0,Conflicting\n")
    out = tmp_path / "m" / "m.jsonl"
    assert s2vt(capsys, "import", "yt8m", shard, "--vocabulary", vocab, "--out", out) == (
        2, [f"error: {vocab}: line 4: Index 0 is given twice (also on line 2): give each class one row"])
    assert not out.parent.exists()
    vocab.write_text("Index,Name\n0,Game\n1,Dog\n2,Dog\n3,Dog\n4,Cat\n5,Cat\n")
    code, err = s2vt(capsys, "import", "yt8m", shard, "--vocabulary", vocab, "--out", out)
    assert code == 0 and err[0] == (f"warning: {vocab}: 2 names are each given to several classes (first: 'Dog', "
                                    "Index 1, 2, 3): those classes are tagged label<Index>")
    assert [e["tags"] for e in read_manifest(out)] == [["Game", "label2"], ["label3"]]


@pytest.mark.parametrize("entry, says", [({"id": "a1_0_5.avi"}, 'entry 1: no "caption"'),
                                         ({"caption": ["a man"]}, 'entry 1: no "id"'),
                                         ("a1_0_5.avi", "entry 1: not an object {\"id\", \"caption\"}, but a JSON string")])
def test_an_mlds_entry_without_its_caption_is_named(entry, says, tmp_path, capsys):
    """One MLDS entry without "caption" said the whole file was 'not a caption file; expected a JSON {id: [captions]}
    ...' (hostile trial); the entry is named now."""
    src = tmp_path / "mlds"
    feature_folder(src / "training_data" / "feat", ["a1_0_5.avi", "b2_3_9.avi"], 4)
    labels = src / "training_label.json"
    labels.write_text(json.dumps([entry, {"id": "b2_3_9.avi", "caption": ["a dog"]}]))
    out = tmp_path / "m" / "m.jsonl"
    assert s2vt(capsys, "import", "mlds", src, "--out", out) == (2, [f"error: {labels}: {says}"])
    code, err = s2vt(capsys, "import", "features", src / "training_data" / "feat", "--captions", labels,
                     "--modality", "m", "--split", "train", "--out", out)
    assert (code, err) == (2, [f"error: {labels}: {says}"])


def test_a_rerun_that_copies_changed_files_again_says_so(tmp_path, capsys):
    """A feature file changed since its import was copied again by a rerun, unsaid: a model trained before had
    learnt from the old features (trial 71). A rerun of unchanged files says nothing of the kind."""
    feature_folder(tmp_path / "feat", ["v0", "v1"], 4)
    caps = tmp_path / "caps.json"
    caps.write_text(json.dumps({"v0": ["a cat"], "v1": ["a dog"]}))
    args = (capsys, tmp_path / "feat", caps, tmp_path / "st", tmp_path / "m.jsonl", "cnn", "--split", "train")
    assert import_features(*args)[0] == 0
    code, err = import_features(*args, "--force")
    assert code == 0 and not any("copied again" in line for line in err), err
    new = np.full((3, 4), 7.0, dtype=np.float32)
    np.save(tmp_path / "feat" / "v1.npy", new)
    os.utime(tmp_path / "feat" / "v1.npy", ns=(1, 1))  # (another mtime, whatever the clock's resolution)
    code, err = import_features(*args, "--force")
    assert code == 0 and f"note: {tmp_path / 'st'}: the cnn features of 1 clip copied again, their files changed " \
        "since they were imported, or their copies cut short (first: v1); a model trained on them before learnt " \
        "from the old ones" in err, err
    assert np.array_equal(np.load(tmp_path / "st" / "cnn" / "v1.npy").astype(np.float32), new)
    # the same files through links: copied again (another path), not said to have changed (trial 73)
    (tmp_path / "links").mkdir()
    for v in ("v0", "v1"):
        (tmp_path / "links" / f"{v}.npy").symlink_to(tmp_path / "feat" / f"{v}.npy")
    code, err = import_features(capsys, tmp_path / "links", caps, tmp_path / "st", tmp_path / "m.jsonl", "cnn",
                                "--split", "train", "--force")
    assert code == 0 and not any("copied again" in line for line in err), err


def test_an_empty_mlds_label_list_is_said_so(tmp_path, capsys):
    """`[]` as training_label.json was 'not a caption file; expected ... an MLDS list', which it is (trial 71)."""
    src = tmp_path / "mlds"
    feature_folder(src / "training_data" / "feat", ["a1_0_5.avi"], 4)
    (src / "training_label.json").write_text("[]")
    out = tmp_path / "m" / "m.jsonl"
    assert s2vt(capsys, "import", "mlds", src, "--out", out) == (
        2, [f"error: {src / 'training_label.json'}: an empty list: no clips, no captions"])
    assert not out.parent.exists()


@pytest.mark.parametrize("cut", ["mid-character", "mid-JSON"])
def test_lic2022_a_last_line_cut_short_is_skipped_as_msvd_skips_one(cut, tmp_path, capsys):
    """A file cut mid-character or mid-JSON on its last line refused the whole import ("k.json:3: not valid UTF-8
    (byte 0xe5 at column 48)") where msvd skips a cut last line with a warning (hostile trial); now lic2022 does
    the same. A bad line that is not the last, or a last line ended by a newline, is refused as before."""
    lines = [json.dumps({"@id": str(i), "title": "标题", "tag": [{"@value": "cat"}]}, ensure_ascii=False)
             for i in range(3)]
    data = "\n".join(lines).encode()
    data = data[:-10] if cut == "mid-JSON" else data[:data.rindex("题".encode()) + 1]
    lic = tmp_path / "k.json"
    lic.write_bytes(data)
    out = tmp_path / "m.jsonl"
    code, err = s2vt(capsys, "import", "lic2022", lic, "--out", out)
    why = "not valid UTF-8" if cut == "mid-character" else "not valid JSON"
    assert code == 0 and err[0].startswith(f"warning: {lic}: 1 of 3 lines skipped: the last line cut short (first: "
                                           f"{lic}:3: the file ends mid-line: {why}"), err
    assert [e["video_id"] for e in read_manifest(out)] == ["0", "1"]
    lic.write_bytes(data + b"\n")  # (a newline after it: not cut, a bad line)
    code, err = s2vt(capsys, "import", "lic2022", lic, "--out", out)
    assert code == 2 and len(err) == 1 and err[0].startswith(f"error: {lic}:3: {why}")


def test_utf16_annotations_are_named_as_such(tmp_path, capsys):
    """A UTF-16 file (Windows Notepad's "Unicode") was warned of as cut short on its last line, then refused at its
    first byte as not valid UTF-8 (trial 74): one line naming the encoding, with or without a byte-order mark, for
    JSON lines, a manifest and an MSVD CSV alike."""
    text = json.dumps({"@id": "1", "title": "猫", "category": [{"@meta": {"type": "level1"}, "@value": "动物"}]},
                      ensure_ascii=False) + "\n"
    for encoding, kind in (("utf-16", "UTF-16"), ("utf-16-be", "UTF-16"), ("utf-32", "UTF-32")):
        lic = tmp_path / f"{encoding}.json"
        lic.write_bytes(text.encode(encoding))
        code, err = s2vt(capsys, "import", "lic2022", lic, "--out", tmp_path / "m.jsonl")
        assert (code, err) == (2, [f"error: {lic}: {kind} text, not UTF-8: save it as UTF-8"]), err
    csv = tmp_path / "msvd.csv"
    header = "VideoID,Start,End,WorkerID,Source,AnnotationTime,Language,Description"
    csv.write_bytes(f"{header}\nv,1,2,w,clean,3,English,a cat\n".encode("utf-16"))
    code, err = s2vt(capsys, "import", "msvd", csv, "--out", tmp_path / "m.jsonl")
    assert (code, err) == (2, [f"error: {csv}: UTF-16 text, not UTF-8: save it as UTF-8"]), err
    from s2vt.manifest import ManifestError, read_manifest as read
    manifest = tmp_path / "u.jsonl"
    manifest.write_bytes(b'{"video_id": "a"}\n'.decode().encode("utf-16"))
    with pytest.raises(ManifestError, match=r"u\.jsonl: UTF-16 text, not UTF-8: save it as UTF-8$"):
        read(manifest)
    assert not (tmp_path / "m.jsonl").exists()
    # UTF-16 without a byte-order mark, mostly Chinese: a tenth of its bytes NULs (trial 79)
    title = "猫和狗在草地上" * 30
    manifest.write_bytes("".join(json.dumps({"video_id": f"v{i}", "split": "train", "text": {"title": title}},
                                            ensure_ascii=False) + "\n" for i in range(20)).encode("utf-16-le"))
    with pytest.raises(ManifestError, match=r"u\.jsonl: UTF-16 text, not UTF-8: save it as UTF-8$"):
        read(manifest)
    # NULs a crash padded the file's end with are no UTF-16 nor UTF-32 either: a damaged last line (trial 80)
    manifest.write_bytes(b"".join(b'{"video_id": "v%d", "split": "train"}\n' % i for i in range(12)) + b"\x00" * 40)
    with pytest.raises(ManifestError, match=r"u\.jsonl:13: not valid JSON"):
        read(manifest)
    # a stray NUL byte in UTF-8 text is no UTF-16: its line is named (trial 78)
    manifest.write_bytes(b'{"video_id": "a", "split": "train"}\n{"video_id": "b\x00", "split": "train"}\n')
    with pytest.raises(ManifestError, match=r"u\.jsonl:2: not valid JSON \(Invalid control character"):
        read(manifest)


def cat(kind, value):
    """A LIC2022 category entry."""
    return {"@meta": {"type": kind}, "@value": value}


def import_lic_rows(capsys, tmp_path, rows) -> tuple:
    """`import lic2022` of `rows` written as JSON lines to k.json: (k.json, m.jsonl, exit code, stderr lines)."""
    lic, out = tmp_path / "k.json", tmp_path / "m.jsonl"
    lic.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return (lic, out, *s2vt(capsys, "import", "lic2022", lic, "--out", out))


def test_lic2022_labels_a_manifest_cannot_hold_are_said_not_dropped_unsaid(tmp_path, capsys):
    """A level 2 without its level 1 (a manifest's level-2 tag names its parent) and a topic tag with an empty
    '@value' were dropped unsaid, and a video whose only label was such a level 2 became a test video (among the
    challenge's, or refusing --test; trial 56): now said, and that video left out."""
    rows = [{"@id": "1", "title": "a", "category": [cat("level2", "猫")]},
            {"@id": "2", "title": "b", "category": [cat("level1", "动物")], "tag": [{"@value": ""}, {"@value": "x"}]},
            {"@id": "3", "title": "c", "category": [cat("level1", "动物"), cat("level2", "狗")]},
            {"@id": "4", "title": "d", "category": [cat("level1", "动物")], "tag": [{"@value": ""}]},
            {"@id": "5", "title": "e", "tag": [{"@value": ""}]}]  # (no label: a test video, its placeholder unsaid)
    lic, out, code, err = import_lic_rows(capsys, tmp_path, rows)
    assert code == 0 and err[:2] == [
        f"warning: {lic}: 2 of 4 videos imported without some labels: a topic tag with an empty '@value' (first: "
        f"{lic}:2: @id 2: a topic tag with an empty '@value')",
        f"warning: {lic}: 1 of 5 videos left out: a level 2 without a level 1, its only label (first: {lic}:1: "
        "@id 1: level 2 '猫' without a level 1)"], err
    tags = {e["video_id"]: (e["split"], e["tags"]) for e in read_manifest(out)}
    assert tags == {"2": ("train", ["level1:动物", "tag:x"]), "3": ("train", ["level1:动物", "level2:动物/狗"]),
                    "4": ("train", ["level1:动物"]), "5": ("test", [])}
    # a refusal says nothing of videos imported (review)
    code, err = s2vt(capsys, "import", "lic2022", lic, "--out", tmp_path / "t.jsonl", "--test", "1")
    assert code == 2 and len(err) == 1 and err[0].startswith("error: --test 1 holds labelled videos out"), err
    # every video left out: the refusal says why, not a warning and then 'no video found' (review)
    only = tmp_path / "only.json"
    only.write_text(json.dumps(rows[0], ensure_ascii=False) + "\n", encoding="utf-8")
    code, err = s2vt(capsys, "import", "lic2022", only, "--out", tmp_path / "o.jsonl")
    assert (code, err) == (2, [f"error: {only}: every video was left out: a level 2 without a level 1, its only "
                               f"label (first: {only}:1: @id 1: level 2 '猫' without a level 1)"]), err


def test_lic2022_categories_of_no_known_type_are_said_and_two_level_1s_refused(tmp_path, capsys):
    """A category written "Level1", without '@meta' or of type "level3" was dropped unsaid: a labelled video whose only
    label it was became a test video, exported in the submission; two level 1s kept the last unsaid; "  其他 " was a
    class apart from "其他" (hostile trial 74)."""
    rows = [{"@id": "1", "title": "a", "category": [cat(" Level1", "  动物 "), cat("LEVEL2", "猫")],
             "tag": [{"@value": " x "}, {"@value": "x"}]},
            {"@id": "2", "title": "b", "category": [{"@value": "动物"}]},
            {"@id": "3", "title": "c", "category": [cat("level3", "野生"), cat("level1", "动物")]},
            {"@id": "4", "title": "d", "category": [cat("level1", "动物"), cat("level1", "动物")]},
            {"@id": "5", "title": "e"}]
    lic, out, code, err = import_lic_rows(capsys, tmp_path, rows)
    assert code == 0 and err[:2] == [
        f"warning: {lic}: 1 of 4 videos imported without some labels: a category whose type is not level1 or level2 "
        f"(first: {lic}:3: @id 3: category '野生' of type 'level3')",
        f"warning: {lic}: 1 of 5 videos left out: a category whose type is not level1 or level2, its only label "
        f"(first: {lic}:2: @id 2: category '动物' without a type)"], err
    tags = {e["video_id"]: (e["split"], e["tags"]) for e in read_manifest(out)}
    assert tags == {"1": ("train", ["level1:动物", "level2:动物/猫", "tag:x"]), "3": ("train", ["level1:动物"]),
                    "4": ("train", ["level1:动物"]), "5": ("test", [])}
    # a labelled file's video whose only category is blank goes to test as the challenge's do: said (trial 76)
    rows[3]["category"] = [cat("level1", " ")]
    (tmp_path / "blank").mkdir()
    lic, out, code, err = import_lic_rows(capsys, tmp_path / "blank", rows)
    assert code == 0 and f"warning: {lic}: 2 of its 4 videos have no label (an empty or missing category; first: " \
        f"{lic}:4: @id 4): imported as split test, as the challenge's test videos are: label them, or remove them, " \
        "if they are training videos" in err, err
    rows[3]["category"] = [cat("level1", "动物"), cat("level1", "植物")]
    lic.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    code, err = s2vt(capsys, "import", "lic2022", lic, "--out", tmp_path / "two.jsonl")
    assert (code, err) == (2, [f"error: {lic}:4: @id 4: two level1 categories, '动物' and '植物': a video has "
                               "one"]), err
    assert not (tmp_path / "two.jsonl").exists()


def test_lic2022_a_labelled_file_named_test_is_noted_to_go_to_train(tmp_path, capsys):
    """`import lic2022 train.json test_a.json`, the second file labelled: all 500 videos went to train unsaid, and
    `evaluate --split test` then found none (hostile trial). A note says so, and what holds videos out."""
    train, test = tmp_path / "train.json", tmp_path / "test_a.json"
    for path, ids in ((train, "12"), (test, "34")):
        path.write_text("".join(json.dumps({"@id": i, "title": "t", "tag": [{"@value": "cat"}]}) + "\n" for i in ids))
    out = tmp_path / "m.jsonl"
    code, err = s2vt(capsys, "import", "lic2022", train, test, "--out", out)
    assert code == 0 and err[0] == (f"note: {test}: its 2 videos have labels, so they are imported as train (the "
                                    "challenge's test file has none): --test N holds labelled videos out as split "
                                    "test"), err
    test.write_text(json.dumps({"@id": "3", "title": "t", "tag": [{"@value": "cat"}]}) + "\n"  # (some labelled)
                    + json.dumps({"@id": "4", "title": "t"}) + "\n")
    code, err = s2vt(capsys, "import", "lic2022", train, test, "--out", out, "--force")
    # (a stray label in the challenge's test file: a warning, as its video has no answer in result.txt; trial 95)
    assert code == 0 and err[0] == (f"warning: {test}: 1 of its 2 videos has labels (first: {test}:1: @id 3), so it "
                                    "is imported as train, not test, and will have no answer in the test predictions "
                                    "or an export's result.txt: remove the labels of test videos (the challenge's "
                                    "test file has none)"), err
    test.write_text("".join(json.dumps({"@id": i, "title": "t"}) + "\n" for i in "34"))  # (the challenge's: unsaid)
    code, err = s2vt(capsys, "import", "lic2022", train, test, "--out", out, "--force")
    assert code == 0 and not [x for x in err if x.startswith("note:")], err


def test_lic2022_a_duplicate_id_names_where_it_was_first(tmp_path, capsys):
    """Two files holding one @id: the line named only the second place, as if the file repeated itself."""
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps({"@id": "7", "title": "x"}) + "\n" + json.dumps({"@id": "8", "title": "y"}) + "\n")
    b.write_text(json.dumps({"@id": "8", "title": "z"}) + "\n")
    code, err = s2vt(capsys, "import", "lic2022", a, b, "--out", tmp_path / "m.jsonl")
    assert (code, err) == (2, [f"error: {b}:1: duplicate @id 8 (first at {a}:2)"])
    assert not (tmp_path / "m.jsonl").exists()


def test_msvd_a_byte_that_is_not_utf8_is_named_by_line(tmp_path, capsys):
    """One Latin-1 byte said "cannot read ('utf-8' codec can't decode byte 0xe9 in position 4293 ...)"; the other
    readers give file:line."""
    csv = msvd_csv(tmp_path / "corpus.csv", [("a", "English", "a cat"), ("b", "French", "un caf\xe9")])
    csv.write_bytes(csv.read_bytes().replace("é".encode(), b"\xe9"))
    code, err = s2vt(capsys, "import", "msvd", csv, "--out", tmp_path / "m.jsonl")
    assert (code, err) == (2, [f"error: {csv}:3: not valid UTF-8 (byte 0xe9 at column 30)"])


def test_lic2022_leaves_out_tsn_files_that_are_no_usable_features(tmp_path, capsys):
    """`import lic2022 --features` linked a [5, 4, 4] file, a text file or one of NaN values unchecked: each then
    stopped a training run, one a run, with "re-extract it" about a file no one extracted (hostile trial). Every
    file is checked now, as `import features` checks its files: a bad one is left out, said in one line with the
    first, its video among those without a tsn file; files of mixed widths are refused, naming the odd one."""
    src = tmp_path / "tsn"
    feat = feature_folder(src / "tsn_features_train", ["1", "5"], 4)
    np.save(feat / "2.npy", np.ones((5, 4, 4), np.float32))
    (feat / "3.npy").write_text("not features\n")
    np.save(feat / "4.npy", np.full((3, 4), np.nan, np.float32))
    lic = tmp_path / "lic.json"
    lic.write_text("".join(json.dumps({"@id": str(i), "tag": [{"@value": "cat"}]}) + "\n" for i in range(1, 6)))
    out = tmp_path / "m" / "m.jsonl"
    code, err = s2vt(capsys, "import", "lic2022", lic, "--features", src, "--out", out)
    assert code == 0, err
    assert err[:3] == [f"warning: {src}: 1 of 5 feature files left out: not a float [T, D] or [D] array with a frame "
                       f"(first: {feat / '2.npy'}: features must be a float [T, D] or [D] array with T, D > 0, not "
                       "float32 [5, 4, 4])",
                       err[1],
                       f"warning: {src}: 1 of 5 feature files left out: NaN or infinite values (first: "
                       f"{feat / '4.npy'})"], err
    assert err[1].startswith(f"warning: {src}: 1 of 5 feature files left out: unreadable (first: {feat / '3.npy'}: ")
    # (the files left out are not said to be missing: trial 64)
    assert err[3] == ("warning: 3 ids have no usable tsn features: 3 whose file was left out above; train with "
                      "--learn-missing (a learnt stand-in for them) or --skip-missing (left out)")
    assert sorted(p.name for p in (out.parent / "features" / "tsn").iterdir()) == ["1.npy", "5.npy"]
    np.save(feat / "2.npy", np.ones((3, 8), np.float32))  # (another width than most: left out, as a bad file)
    code, err = s2vt(capsys, "import", "lic2022", lic, "--features", src, "--out", tmp_path / "n" / "m.jsonl")
    assert code == 0 and (f"warning: {src}: 1 of 5 feature files left out: another width than most (first: "
                          f"{feat / '2.npy'}: 8 features per frame, but 2 of the 3 files have 4)") in err, err
    assert sorted(p.name for p in (tmp_path / "n" / "features" / "tsn").iterdir()) == ["1.npy", "5.npy"]
    np.save(feat / "1.npy", np.ones((3, 16), np.float32))  # (three widths, none most files': refused)
    code, err = s2vt(capsys, "import", "lic2022", lic, "--features", src, "--out", tmp_path / "o" / "m.jsonl")
    assert code == 2 and err[-1].startswith(f"error: {src}: the 3 feature files disagree on features per frame"), err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("kind", ["features", "mlds", "yt8m", "lic2022"])
def test_an_import_refuses_a_store_whose_log_is_no_stores(kind, tmp_path, capsys):
    """`import features ... --features fj` appended its records to fj/sources.jsonl holding 'keep me', another
    program's file, where extract refuses such a store (hostile trial): every import that writes into a store
    refuses it in one line, as extract does, before anything is written."""
    args = import_inputs(tmp_path)[kind]
    if kind == "yt8m":  # (its vocabulary there lacks the shard's label: a refusal of its own)
        args = [a for i, a in enumerate(args) if "--vocabulary" not in args[i - 1:i + 1]]
    store, option = (tmp_path / "features", "--out") if kind == "lic2022" else (tmp_path / "store", "--features")
    store.mkdir()
    (store / "sources.jsonl").write_text("keep me\n")
    before = snapshot(tmp_path)
    code, err = s2vt(capsys, "import", *args, "--out", tmp_path / "m.jsonl")
    assert (code, err) == (2, [f"error: {store / 'sources.jsonl'} is not a feature store's sources.jsonl (line 1: "
                               f"not valid JSON): name another {option}"])
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("kind", ["yt8m", "folder", "mlds"])
def test_an_out_another_import_is_writing_is_refused(kind, tmp_path, capsys):
    """(hostile trial) Two imports into one --out at once both found it absent (or theirs to rewrite), both said
    "wrote" and exited 0, and the manifest held one run's videos alone. Now the import holds a lock beside its
    manifest from the "would drop" check to the rename, as evaluate does: the other run is refused in one line."""
    from s2vt.locks import lock_text

    out, lock = tmp_path / "m.jsonl", tmp_path / ".m.jsonl.lock"
    if kind == "yt8m":
        args = [shard_of(tmp_path, "train0000.tfrecord", 2)]
    elif kind == "folder":
        out, lock = tmp_path / "vid" / "m.jsonl", tmp_path / "vid" / ".m.jsonl.lock"
        (tmp_path / "vid").mkdir()
        (tmp_path / "vid" / "clip.mp4").write_bytes(b"x")
        args = [tmp_path / "vid"]
    else:
        src = tmp_path / "mlds"
        feature_folder(src / "training_data" / "feat", ["a1_0_5.avi"], 4)
        (src / "training_label.json").write_text(json.dumps([{"id": "a1_0_5.avi", "caption": ["a man"]}]))
        args = [src]
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])  # (a running import)
    try:
        lock.write_text(lock_text(other.pid))
        out.write_text(mine := '{"video_id": "v0", "split": "train", "captions": ["mine"]}\n')
        code, err = s2vt(capsys, "import", kind, *args, "--out", out, "--force")
        assert (code, err) == (2, [f"error: --out {out}: another s2vt import (pid {other.pid}) is writing it: wait "
                                   f"for it to end, or name another --out (if none runs, remove {lock})"])
        assert out.read_text() == mine and not (tmp_path / "features").exists()
    finally:
        other.kill()
        other.wait()
    # its process gone, the lock is stale: taken over, and the import runs (and removes it)
    assert s2vt(capsys, "import", kind, *args, "--out", out, "--force")[0] == 0
    assert not lock.exists() and read_manifest(out)


@pytest.mark.parametrize("empties", [1, 3])
def test_yt8m_import_of_empty_shards_names_them(empties, tmp_path, capsys):
    """A 0-byte shard (a download cut at its start) was refused with "no video imported from 1 file(s)
    (0 records skipped, 0 files unreadable)", which named no file: the user was left to guess which."""
    files = [tmp_path / f"train000{i}.tfrecord" for i in range(empties)]
    for f in files:
        f.write_bytes(b"")
    code, err = s2vt(capsys, "import", "yt8m", *files, "--out", tmp_path / "X" / "manifest.jsonl")
    which = f"{files[0]} and {empties - 1} other files are" if empties > 1 else f"{files[0]} is"
    assert (code, err) == (2, [f"error: no video imported from {empties} file(s) (0 records skipped, 0 files "
                               f"unreadable): {which} empty (0 bytes: no records)"]), err
    assert not (tmp_path / "X" / "manifest.jsonl").exists()


def test_an_empty_shard_among_others_is_named_in_the_last_line(tmp_path, capsys):
    """A 0-byte shard among shards that import was passed by unsaid, exit 0: a download cut at its start
    looked like a shard of no videos."""
    good = shard_of(tmp_path, "validate0000.tfrecord", 3)
    empty = tmp_path / "validate0001.tfrecord"
    empty.write_bytes(b"")
    out = tmp_path / "m" / "manifest.jsonl"
    code, err = s2vt(capsys, "import", "yt8m", good, empty, "--out", out)
    assert code == 1 and len(out.read_text().splitlines()) == 3
    assert err[-1] == f"error: 1 of 2 files empty (0 bytes, no records: {empty}); 3 videos imported", err


def test_a_video_folder_whose_name_is_not_utf8_is_one_line(tmp_path, capsys):
    """`import msvd --videos DIR` with DIR's name not UTF-8 was a traceback in write_manifest (UnicodeEncodeError;
    trial 79): a manifest is UTF-8 JSON, so the path is refused naming the video and the path, its bytes escaped."""
    import os as _os

    csv = tmp_path / "video_corpus.csv"
    csv.write_text("VideoID,Start,End,WorkerID,Source,AnnotationTime,Language,Description\n"
                   "abc,1,2,w,clean,3,English,a cat plays\n")
    folder = _os.fsdecode(_os.fsencode(str(tmp_path)) + b"/vid\xff")
    _os.mkdir(folder)
    code, err = s2vt(capsys, "import", "msvd", csv, "--videos", folder, "--out", tmp_path / "m.jsonl")
    assert code == 2 and err[-1] == ("error: video abc_1_2: its path \"vid\\xff/abc_1_2.avi\" is not UTF-8 text, "
                                     "which a manifest (UTF-8 JSON) must be: rename the file or folder it names"), err
    assert f"not found under {tmp_path}/vid\\xff " in err[0], err
    assert not (tmp_path / "m.jsonl").exists()
    # import folder on that folder: one line for the folder's own name (its files' names were said, then "no video
    # files found"; trial 80)
    (Path(folder) / "a.mp4").write_bytes(b"x")
    code, err = s2vt(capsys, "import", "folder", folder, "--out", tmp_path / "f.jsonl")
    assert (code, err) == (2, [f"error: {tmp_path}/vid\\xff: the folder's path is not UTF-8, which a manifest "
                               "(UTF-8 JSON) must be: rename it, or extract the folder directly"]), err


def test_lic2022_null_category_or_tag_is_none(tmp_path, capsys):
    """`"category": null` or `"tag": null` on one record stopped the whole import ("must be lists of objects"),
    while a missing one was read as none (trial 95): null is none too; another type is still refused."""
    lic = tmp_path / "train.json"
    rows = [{"@id": "1", "title": "a", "category": [{"@meta": {"type": "level1"}, "@value": "猫"}], "tag": None},
            {"@id": "2", "title": "b", "category": None, "tag": [{"@value": "x"}]},
            {"@id": "3", "title": "c", "category": [{"@meta": {"type": "level1"}, "@value": "狗"}]}]
    lic.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    code, err = s2vt(capsys, "import", "lic2022", lic, "--out", tmp_path / "m.jsonl")
    assert code == 0, err
    got = {e["video_id"]: (e["split"], e["tags"]) for e in read_manifest(tmp_path / "m.jsonl")}
    assert got == {"1": ("train", ["level1:猫"]), "2": ("train", ["tag:x"]), "3": ("train", ["level1:狗"])}
    rows[0]["tag"] = "x"
    lic.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    code, err = s2vt(capsys, "import", "lic2022", lic, "--out", tmp_path / "m2.jsonl")
    assert code == 2 and len(err) == 1 and "'category' and 'tag' must be lists of objects" in err[0], err


@pytest.mark.parametrize("fmt", ["msvd", "msrvtt", "lic2022", "folder", "yt8m", "mlds", "features"])
def test_the_options_an_imports_refusals_may_advise_are_its_parsers_own(fmt):
    """A refusal of an import advises --split, --videos or --captions-only only where that format has it (`offered`,
    from its parser: `import mlds` was told --split and `import features` --captions-only, which they lack)."""
    import argparse

    from s2vt import datasets as ds
    from s2vt.importing import add_import_arguments

    p = argparse.ArgumentParser()
    add_import_arguments(p)
    kind = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction)).choices[fmt]
    offered = p.parse_args([fmt, "x", "--out", "m.jsonl"] + ["--captions", "c", "--modality", "m"] * (fmt == "features")
                           ).offered
    assert offered == {o for a in kind._actions for o in a.option_strings} and "--out" in offered
    assert ("--split" in offered) == (fmt in ("msrvtt", "yt8m", "features", "folder"))
    assert ("--videos" in offered) == (fmt in ("msvd", "msrvtt"))
    assert ("--captions-only" in offered) == (fmt == "mlds")
    with pytest.raises(ds.DatasetError) as held:  # (no training video to hold out: --split train is the way, if any)
        ds.check_hold_out([{"video_id": "a", "split": "test", "captions": ["x"]}], 1, 0, offered)
    assert ("--split train" in str(held.value)) == ("--split" in offered), held.value
