"""Precomputed-feature import (MLDS hw2 release, any .npy folder) and the real-data training recipe."""
import json
import shutil
import os

import numpy as np
import pytest

from s2vt.store import FeatureStore
from s2vt.data import CaptionGroups, VideoDataset
from s2vt.engine import TrainConfig
from s2vt.epoch import lr_factor
from s2vt.vocab import Vocab
from tests.conftest import run_cli


def release(root, train_frames=80, train_dtype=np.float64, dim=16):
    """An MLDS-style folder: three labelled training clips (one without features) and one test clip."""
    rng = np.random.default_rng(0)
    labels = {"training": [("a1_0_5.avi", train_frames), ("b2_3_9.avi", 20), ("nofeat_1_2.avi", None)],
              "testing": [("t1_4_8.avi", 20)]}
    for part, clips in labels.items():
        (root / f"{part}_data" / "feat").mkdir(parents=True)
        (root / f"{part}_label.json").write_text(json.dumps(
            [{"id": cid, "caption": [f"a man is playing {cid[:2]}", "someone plays"]} for cid, _ in clips]))
        for cid, frames in clips:
            if frames:
                dtype = train_dtype if cid.startswith("a1") else np.float16
                np.save(root / f"{part}_data" / "feat" / f"{cid}.npy", rng.random((frames, dim)).astype(dtype))
    return root


def test_import_mlds_reads_80_frame_float64_and_20_frame_float16(tmp_path):
    src = release(tmp_path / "mlds")
    proc = run_cli("-m", "s2vt.cli", "import", "mlds", str(src), "--out", str(tmp_path / "m" / "manifest.jsonl"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("no feature file") == 1 and "1 of 3 clips of " in proc.stderr
    assert "left out" in proc.stderr and "--captions-only keeps" in proc.stderr  # (the option, named where it helps)
    entries = {json.loads(x)["video_id"]: json.loads(x) for x in (tmp_path / "m" / "manifest.jsonl").open()}
    assert {v: e["split"] for v, e in entries.items()} == {"a1_0_5": "train", "b2_3_9": "train", "t1_4_8": "test"}
    assert not any("captions_only" in e for e in entries.values())
    store = FeatureStore(tmp_path / "m" / "features")
    assert np.load(store.path("cnn", "a1_0_5")).dtype == np.float16
    assert store.read("cnn", "a1_0_5").shape == (80, 16) and store.read("cnn", "b2_3_9").shape == (20, 16)
    meta = store.meta()
    assert "precomputed" in meta["source"] and meta["dims"] == {"cnn": 16}
    assert entries["a1_0_5"]["captions"] == ["a man is playing a1", "someone plays"]


def test_import_mlds_refuses_test_clips_of_another_width_than_the_training_ones(tmp_path, capsys):
    from s2vt.cli import main

    src = release(tmp_path / "mlds")
    np.save(src / "testing_data" / "feat" / "t1_4_8.avi.npy", np.ones((20, 8), np.float16))
    assert main(["import", "mlds", str(src), "--out", str(tmp_path / "m" / "manifest.jsonl")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == f"error: {src / 'testing_data' / 'feat'}: 8 features per frame, the training clips have 16", err
    assert not (tmp_path / "m").exists()


def test_import_features_takes_vectors_and_a_caption_dict(tmp_path):
    (tmp_path / "feat").mkdir()
    np.save(tmp_path / "feat" / "v1.npy", np.ones(8, np.float32))       # [D]: one frame
    np.save(tmp_path / "feat" / "v2.npy", np.ones((3, 8), np.float64))
    (tmp_path / "caps.json").write_text(json.dumps({"v1": ["a cat"], "v2": ["a dog", " "]}))
    proc = run_cli("-m", "s2vt.cli", "import", "features", str(tmp_path / "feat"), "--captions",
                   str(tmp_path / "caps.json"), "--modality", "clip", "--split", "val",
                   "--out", str(tmp_path / "o" / "m.jsonl"), "--features", str(tmp_path / "store"))
    assert proc.returncode == 0, proc.stderr
    store = FeatureStore(tmp_path / "store")
    assert store.read("clip", "v1").shape == (1, 8) and store.read("clip", "v2").shape == (3, 8)
    entries = [json.loads(x) for x in (tmp_path / "o" / "m.jsonl").open()]
    assert [(e["split"], e["captions"]) for e in entries] == [("val", ["a cat"]), ("val", ["a dog"])]


def test_float16_store_keeps_float32_where_float16_would_lose_the_values(tmp_path):
    """float16 cannot hold values past 65504, and keeps fewer bits below 2**-14 (none below 2**-24): features on
    a tiny scale were stored as zeros and a few rounded steps, unsaid. Such a file is kept as float32; features on
    an ordinary scale with a few tiny values (post-ReLU) stay float16."""
    store = FeatureStore(tmp_path / "s")
    rng = np.random.default_rng(0)
    tiny = rng.random((4, 8)) * 1e-6          # e.g. features scaled down: float16 kept 0 or 1-2 bits of each
    ordinary = rng.random((4, 8))
    ordinary[0, :3] = 1e-9                      # a few values float16 flushes: no reason for float32
    for name, array, dtype in (("tiny", tiny, np.float32), ("ordinary", ordinary, np.float16),
                               ("large", ordinary * 1e5, np.float32), ("zeros", np.zeros((2, 8)), np.float16)):
        store.write("m", name, array)
        back = store.read("m", name)
        assert np.load(store.path("m", name)).dtype == dtype, name
        if dtype == np.float32:
            np.testing.assert_allclose(back, array, rtol=1e-6)
    assert np.load(store.path("m", "tiny")).min() > 0
    # and standardised to the scale of ordinary ones: the std floor's absolute 1e-6 divided them to a thousandth
    # (trial 85); a modality of zeros keeps the floor (no division by zero), ordinary ones keep theirs to the bit
    import torch

    from s2vt.data import feature_stats
    for name, array in (("t1", tiny), ("t2", tiny[::-1] * 0.5), ("o1", ordinary), ("o2", ordinary[::-1] * 0.5)):
        store.write(name[0], name, array)
    for modality, videos, spread in (("t", ["t1", "t2"], (0.5, 1.5)), ("o", ["o1", "o2"], (0.5, 1.5))):
        stats = feature_stats([{"video_id": v} for v in videos], store, [modality])[modality]
        x = np.concatenate([store.read(modality, v) for v in videos])
        assert spread[0] < ((x - stats[0].numpy()) / stats[1].numpy()).std() < spread[1], modality
    x = np.concatenate([store.read("o", v) for v in ("o1", "o2")]).astype(np.float64)
    floor = 1e-3 * x.std(0).mean() + 1e-6  # (the floor as it was, for features on an ordinary scale)
    assert torch.equal(feature_stats([{"video_id": "o1"}, {"video_id": "o2"}], store, ["o"])["o"][1],
                       torch.from_numpy(x.std(0) + floor).float())
    store.write("z", "z1", np.zeros((2, 8)))
    assert torch.all(feature_stats([{"video_id": "z1"}], store, ["z"])["z"][1] == torch.tensor(1e-6))


def test_a_store_copied_with_hard_links_keeps_its_own_log(tmp_path):
    """`cp -al A B` makes B's logs the same files as A's: an import into B appended its sources to A's log."""
    import shutil

    (tmp_path / "feat").mkdir()
    for name in ("v1", "v2"):
        np.save(tmp_path / "feat" / f"{name}.npy", np.ones((2, 8), np.float32))
    (tmp_path / "caps.json").write_text(json.dumps({"v1": ["a cat"], "v2": ["a dog"]}))

    def import_into(store, modality):
        proc = run_cli("-m", "s2vt.cli", "import", "features", str(tmp_path / "feat"), "--captions",
                       str(tmp_path / "caps.json"), "--modality", modality, "--split", "train",
                       "--out", str(tmp_path / f"{modality}.jsonl"), "--features", str(store))
        assert proc.returncode == 0, proc.stderr

    import_into(tmp_path / "a", "one")
    os.chmod(tmp_path / "a" / "sources.jsonl", 0o664)  # (a group-shared store's: kept by the copy's own log)
    shutil.copytree(tmp_path / "a", tmp_path / "b", copy_function=os.link)
    log_a = (tmp_path / "a" / "sources.jsonl").read_bytes()
    assert os.stat(tmp_path / "b" / "sources.jsonl").st_nlink == 2
    import_into(tmp_path / "b", "two")
    assert (tmp_path / "a" / "sources.jsonl").read_bytes() == log_a
    log_b = (tmp_path / "b" / "sources.jsonl").read_bytes()
    assert log_b.startswith(log_a) and log_b.count(b"\n") == 4
    assert os.stat(tmp_path / "a" / "sources.jsonl").st_nlink == 1
    assert os.stat(tmp_path / "b" / "sources.jsonl").st_mode & 0o777 == 0o664


def test_import_features_refuses_an_id_that_is_a_path(tmp_path):
    (tmp_path / "feat").mkdir()
    (tmp_path / "caps.json").write_text(json.dumps({"../evil": ["a cat"]}))
    proc = run_cli("-m", "s2vt.cli", "import", "features", str(tmp_path / "feat"), "--captions",
                   str(tmp_path / "caps.json"), "--modality", "clip", "--split", "train",
                   "--out", str(tmp_path / "m.jsonl"))
    assert proc.returncode == 2 and "unusable clip id '../evil'" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and not (tmp_path / "m.jsonl").exists()


def test_shared_mlds_features_import(sample_data, tmp_path):
    root = sample_data / "mlds"
    if not (root / "training_data" / "feat").is_dir():
        pytest.skip(f"no MLDS features in {root}")
    labels = json.loads((root / "training_label.json").read_text())
    have = [d for d in labels if (root / "training_data" / "feat" / f"{d['id']}.npy").is_file()][:3]
    (tmp_path / "caps.json").write_text(json.dumps(have))
    proc = run_cli("-m", "s2vt.cli", "import", "features", str(root / "training_data" / "feat"), "--captions",
                   str(tmp_path / "caps.json"), "--modality", "cnn", "--split", "train",
                   "--out", str(tmp_path / "m.jsonl"))
    assert proc.returncode == 0, proc.stderr
    store = FeatureStore(tmp_path / "features")
    for d in have:
        assert store.read("cnn", d["id"][:-len(".avi")]).shape == (20, 4096)


def test_an_epoch_shows_every_caption_once_grouped_by_video(tmp_path):
    entries = [{"video_id": f"v{i}", "captions": [f"cap {j}" for j in range(i + 1)]} for i in range(6)]
    ds = VideoDataset(entries, FeatureStore(tmp_path), ["m"], Vocab.build(["cap"], 1), None, per_caption=True)
    groups = CaptionGroups(ds, batch_size=4, per_video=2, seed=0)
    groups.set_epoch(3)
    seen = [k for b in groups for k in b]
    assert sorted(seen) == list(range(21))  # 1 + 2 + ... + 6 pairs, each once
    pairs = [ds.items[k][0] for k in seen]
    assert sum(a == b for a, b in zip(pairs, pairs[1:])) >= 7  # captions of a video come together


def test_learning_rate_warms_up_then_decays():
    f = lr_factor(TrainConfig.of("m", "f", "o", epochs=4, warmup=10), steps_per_epoch=100)
    assert f(0) == pytest.approx(0.1) and f(9) == pytest.approx(1.0)
    assert f(200) < f(100) < 1.0 and f(399) == pytest.approx(0.05, abs=1e-3)
    # (--schedule step has no warmup: its runs never had one, and their refits replay it; trial 110)
    step = lr_factor(TrainConfig.of("m", "f", "o", epochs=40, warmup=10, schedule="step"), steps_per_epoch=100)
    assert step(0) == step(999) == 1.0 and step(1000) == 0.5


def test_import_holds_out_a_seeded_val_and_test(tmp_path):
    """`--val N --test N --seed S`: the README's MLDS split, reproducible from the command alone."""
    from s2vt.datasets import hold_out
    entries = [{"video_id": f"v{i:02d}", "split": "train"} for i in range(20)]
    hold_out(entries, 3, 4, seed=17)
    splits = [e["split"] for e in entries]
    assert splits.count("val") == 3 and splits.count("test") == 4 and splits.count("train") == 13
    again = [{"video_id": f"v{i:02d}", "split": "train"} for i in reversed(range(20))]  # order does not matter
    hold_out(again, 3, 4, seed=17)
    assert {e["video_id"]: e["split"] for e in again} == {e["video_id"]: e["split"] for e in entries}
    src = release(tmp_path / "mlds")
    proc = run_cli("-m", "s2vt.cli", "import", "mlds", str(src), "--out", str(tmp_path / "m.jsonl"), "--val", "5")
    assert proc.returncode == 2 and "only 2 training videos" in proc.stderr
    assert not (tmp_path / "features").exists()  # refused before the store was written


def test_import_features_leaves_out_bad_files_by_name_and_refuses_when_all_are(tmp_path, capsys):
    """NaN features were imported without a word; training then said "re-extract it" about a file
    that was imported, not extracted. Then each bad file stopped the import, one a run, so a folder of
    them took a rerun per file (hostile trial): each is left out now, counted in one line with the first
    and its reason, the rest imported; a [0, D] file (no frame) is one, and integers are told to be cast."""
    from s2vt import cli

    feat = tmp_path / "feat"
    feat.mkdir()
    np.save(feat / "a.npy", np.ones((3, 4), np.float32))
    bad = np.ones((3, 4), np.float32)
    bad[1, 2] = np.nan
    np.save(feat / "b.npy", bad)
    np.save(feat / "c.npy", np.zeros((0, 4), np.float32))
    np.save(feat / "d.npy", np.ones((3, 4), np.int64))
    (tmp_path / "caps.json").write_text(json.dumps({v: ["a cat sits"] for v in "abcd"}))
    out = tmp_path / "m" / "m.jsonl"
    args = ["import", "features", str(feat), "--captions", str(tmp_path / "caps.json"), "--modality", "cnn",
            "--split", "train", "--out", str(out)]
    assert cli.main(args) == 0
    err = capsys.readouterr().err.splitlines()
    # one line per reason, each naming its first file (one line of three reasons named only the first's)
    assert err[:3] == [f"warning: {feat}: 1 of 4 feature files left out: NaN or infinite values (first: {feat / 'b.npy'})",
                       f"warning: {feat}: 1 of 4 feature files left out: not a float [T, D] or [D] array with a frame "
                       f"(first: {feat / 'c.npy'}: features must be a float [T, D] or [D] array with T, D > 0, not "
                       "float32 [0, 4])",
                       f"warning: {feat}: 1 of 4 feature files left out: integer or boolean values (first: "
                       f"{feat / 'd.npy'}: features must be a float [T, D] or [D] array with T, D > 0, not int64 [3, 4]: "
                       "save it as float (x.astype(np.float32)))"], err
    assert [json.loads(x)["video_id"] for x in out.read_text().splitlines()] == ["a"]
    from s2vt.datasets import DatasetError
    from s2vt.precomputed import feature_width
    with pytest.raises(DatasetError, match=r"with T, D > 0, not float32 \[0, 4\]$"):
        feature_width(feat / "c.npy")
    with pytest.raises(DatasetError, match=r"not int64 \[3, 4\]: save it as float \(x.astype\(np.float32\)\)$"):
        feature_width(feat / "d.npy")
    # every file bad: the first one's reason, and how many more
    (feat / "a.npy").unlink()
    out2 = tmp_path / "m2" / "m.jsonl"
    assert cli.main([*args[:-1], str(out2)]) == 2
    assert capsys.readouterr().err == (f"error: {feat / 'b.npy'}: features hold NaN or infinite values (and 2 more of "
                                       "the clips' files unusable)\n")
    assert not out2.exists()


def test_import_mlds_refuses_a_clip_listed_twice(tmp_path, capsys):
    """A repeated entry of training_label.json doubled the clip's captions (or merged two lists) unseen."""
    from s2vt.cli import main

    src = release(tmp_path / "mlds")
    labels = json.loads((src / "training_label.json").read_text())
    (src / "training_label.json").write_text(json.dumps(labels + [dict(labels[1], caption=["another list"])]))
    out = tmp_path / "m" / "manifest.jsonl"
    assert main(["import", "mlds", str(src), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {src / 'training_label.json'}: clip b2_3_9 is listed twice (entry 4 and an earlier "
                   "one): give each clip one entry"]
    assert not out.exists() and not (tmp_path / "m" / "features").exists()


def test_import_features_leaves_out_the_file_of_the_odd_width(tmp_path, capsys):
    """With the first file 9 wide and the others 8, the refusal named the second (a good file); then it named the odd
    one, but stopped the import for it, a rerun per odd file (a batch's bad file is left out and counted)."""
    from s2vt.cli import main

    (tmp_path / "feat").mkdir()
    for vid, dim in (("v0", 9), ("v1", 8), ("v2", 8)):
        np.save(tmp_path / "feat" / f"{vid}.npy", np.ones((2, dim), np.float32))
    (tmp_path / "caps.json").write_text(json.dumps({v: ["a cat"] for v in ("v0", "v1", "v2")}))
    assert main(["import", "features", str(tmp_path / "feat"), "--captions", str(tmp_path / "caps.json"),
                 "--modality", "clip", "--split", "train", "--out", str(tmp_path / "m.jsonl")]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0] == (f"warning: {tmp_path / 'feat'}: 1 of 3 feature files left out: another width than most (first: "
                      f"{tmp_path / 'feat' / 'v0.npy'}: 9 features per frame, but 2 of the 3 files have 8)"), err
    assert [json.loads(x)["video_id"] for x in (tmp_path / "m.jsonl").read_text().splitlines()] == ["v1", "v2"]
    assert json.loads((tmp_path / "features" / "meta.json").read_text())["dims"] == {"clip": 8}


def test_import_features_leaves_out_an_id_differing_only_in_case_on_a_store_that_folds_case(tmp_path, capsys,
                                                                                          monkeypatch):
    """On macOS's or Windows' default file system CLIP.npy is clip.npy: the import wrote the first, then stopped at the
    second (exit 2, no manifest), and so did every rerun. The second is left out, said; the rest imported."""
    from s2vt.cli import main

    monkeypatch.setattr(FeatureStore, "folds_case", lambda self: True)  # (Linux's file systems tell case apart)
    (tmp_path / "feat").mkdir()
    ids = ("aaa", "CLIP", "clip", "zzz")
    for vid in ids:
        np.save(tmp_path / "feat" / f"{vid}.npy", np.ones((2, 8), np.float32))
    (tmp_path / "caps.json").write_text(json.dumps({v: ["a cat"] for v in ids}))
    args = ["import", "features", str(tmp_path / "feat"), "--captions", str(tmp_path / "caps.json"), "--modality",
            "clip", "--split", "train", "--out", str(tmp_path / "m.jsonl")]
    for _ in range(2):  # (and a rerun)
        assert main(args) == 0
        assert (f"warning: {tmp_path / 'features'}: 1 clip left out: id that differs only in case from another's, on "
                "a file system that folds case (first: clip beside CLIP): put the store on a case-sensitive volume"
                in capsys.readouterr().err)
        assert [json.loads(x)["video_id"] for x in (tmp_path / "m.jsonl").read_text().splitlines()] == \
            ["aaa", "CLIP", "zzz"]
        assert sorted(p.name for p in (tmp_path / "features" / "clip").iterdir()) == ["CLIP.npy", "aaa.npy", "zzz.npy"]


@pytest.mark.parametrize("dims, says", [
    ((64, 63, 62), "the 3 feature files disagree on features per frame, with no width in most of them: "
                   "64 in v0.npy; 63 in v1.npy; 62 in v2.npy"),
    ((8, 8, 9, 9, 7), "the 5 feature files disagree on features per frame, with no width in most of them: "
                      "8 in 2 files (e.g. v0.npy); 9 in 2 files (e.g. v2.npy); 7 in v4.npy")])
def test_import_features_without_a_majority_width_lists_the_widths(dims, says, tmp_path, capsys):
    """64/63/62 wide, one file each: the refusal named v1.npy as "the odd one" (any file could be)."""
    from s2vt.cli import main

    (tmp_path / "feat").mkdir()
    for i, dim in enumerate(dims):
        np.save(tmp_path / "feat" / f"v{i}.npy", np.ones((2, dim), np.float32))
    (tmp_path / "caps.json").write_text(json.dumps({f"v{i}": ["a cat"] for i in range(len(dims))}))
    assert main(["import", "features", str(tmp_path / "feat"), "--captions", str(tmp_path / "caps.json"),
                 "--modality", "clip", "--split", "train", "--out", str(tmp_path / "m.jsonl")]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [f"error: {tmp_path / 'feat'}: {says}"]
    assert not (tmp_path / "m.jsonl").exists()


def test_import_mlds_keeps_clips_without_features_as_captions_alone_without_moving_the_split(tmp_path):
    """The shared MLDS release lacks the feature files of 646 of its 1,450 training clips; their 10,697 captions
    were left out. They are kept as training videos of captions alone (`captions_only`), never drawn for
    --val/--test: the held-out videos are those an import without them draws (--no-captions-only)."""
    src = release(tmp_path / "mlds")
    for n in range(6):  # (enough clips with features to hold out from)
        np.save(src / "training_data" / "feat" / f"c{n}_0_1.avi.npy", np.ones((4, 16), np.float32))
    labels = json.loads((src / "training_label.json").read_text())
    labels += [{"id": f"c{n}_0_1.avi", "caption": [f"clip {n}"]} for n in range(6)]
    labels += [{"id": f"z{n}_0_1.avi", "caption": [f"words alone {n}"]} for n in range(5)]  # (no feature file)
    (src / "training_label.json").write_text(json.dumps(labels))
    splits = {}
    for flag in ("--no-captions-only", "--captions-only"):
        out = tmp_path / flag.strip("-") / "m.jsonl"
        proc = run_cli("-m", "s2vt.cli", "import", "mlds", str(src), "--out", str(out), "--val", "2", "--test", "2",
                       "--seed", "3", flag)
        assert proc.returncode == 0, proc.stderr
        splits[flag] = {(e := json.loads(x))["video_id"]: (e["split"], e.get("captions_only", False))
                        for x in out.open()}
    assert "15 videos (10 train, 6 of them captions alone, 2 val, 3 test)" in proc.stderr, proc.stderr
    alone = {v for v, (_, only) in splits["--captions-only"].items() if only}
    assert alone == {"nofeat_1_2", *(f"z{n}_0_1" for n in range(5))}
    assert all(splits["--captions-only"][v][0] == "train" for v in alone)
    assert {v: s for v, s in splits["--captions-only"].items() if v not in alone} == splits["--no-captions-only"]


def test_a_video_of_captions_alone_trains_the_decoder_on_the_mean_video(tmp_path):
    """A training video of captions alone is read as one row of zeros that the model takes for the mean
    training frame (the anti-LM's blank video): its feature statistics, its caption memory and its tag
    loss leave it out, and its encoding is the blank video's."""
    import torch

    from s2vt.data import batches, feature_stats
    from s2vt.model import ModelConfig, S2VT

    store = FeatureStore(tmp_path / "features")
    rng = np.random.default_rng(0)
    for v in ("a", "b"):
        store.write("cnn", v, rng.random((5, 8)).astype(np.float32) + 3)
    entries = [{"video_id": "a", "split": "train", "captions": ["a cat runs"]},
               {"video_id": "b", "split": "train", "captions": ["a dog runs"]},
               {"video_id": "w", "split": "train", "captions": ["a bird sings"], "captions_only": True}]
    assert not store.has("cnn", "w")
    stats = feature_stats(entries, store, ["cnn"])
    assert torch.allclose(stats["cnn"][0], feature_stats(entries[:2], store, ["cnn"])["cnn"][0])
    vocab = Vocab.build([c for e in entries for c in e["captions"]], min_count=1)
    ds = VideoDataset(entries, store, ["cnn"], vocab, None, per_caption=True)
    batch = next(iter(batches(ds, 3)))
    assert batch["blank"].tolist() == [False, False, True] and batch["feats"]["cnn"].shape == (3, 5, 8)
    torch.manual_seed(0)
    model = S2VT(ModelConfig(modalities={"cnn": 8}, vocab_size=len(vocab), hidden=8, embed=8, dropout=0.0,
                             attention=True, tag_input="encoder")).eval()
    model.fusion.set_stats(stats)
    with torch.no_grad():
        out, _ = model.encode(batch["feats"], batch["lengths"], batch["blank"])
        blank, _ = model.encode(batch["feats"], batch["lengths"], blank=True)
        plain, _ = model.encode(batch["feats"], batch["lengths"])
    assert torch.allclose(out[2], blank[2]) and torch.allclose(out[:2], plain[:2])
    assert not torch.allclose(out[0], blank[0])


@pytest.mark.parametrize("entry, said", [
    ({"video_id": "w", "split": "val", "captions": ["a"], "captions_only": True}, "this one is in split val"),
    ({"video_id": "w", "split": "train", "captions": [], "captions_only": True}, "this one has no captions"),
    ({"video_id": "w", "split": "train", "captions": ["a"], "captions_only": "yes"}, "must be true or false"),
    # (hostile trial: its tags built a tag head that nothing of it could learn)
    ({"video_id": "w", "split": "train", "captions": ["a"], "tags": ["dog"], "captions_only": True}, "has tags")])
def test_a_manifest_marks_captions_alone_on_captioned_training_videos_only(entry, said, tmp_path):
    from s2vt.manifest import ManifestError, read_manifest
    (tmp_path / "m.jsonl").write_text(json.dumps(entry) + "\n")
    with pytest.raises(ManifestError, match=said):
        read_manifest(tmp_path / "m.jsonl")


def test_training_with_videos_of_captions_alone(tmp_path, capsys):
    """train.py on a manifest with videos of captions alone (and tags beside captions): it trains, says how many,
    learns their words, and best.pt's caption memory lists only videos with features."""
    import torch

    from s2vt.engine import train
    from s2vt.synthetic import make_store

    manifest, features = make_store(tmp_path / "store", videos=12, shapes={"resnet152": (4, 8)})
    entries = [json.loads(x) for x in open(manifest)]
    entries += [{"video_id": f"words{n}", "split": "train", "captions": ["a zebra gallops far away"],
                 "captions_only": True} for n in range(3)]
    with open(manifest, "w") as f:
        f.writelines(json.dumps(e) + "\n" for e in entries)
    out = tmp_path / "run"
    train(TrainConfig.of(str(manifest), str(features), str(out), epochs=1, hidden=8, embed=8, min_count=1,
                         batch_size=8, refit=False))
    said = capsys.readouterr().err
    assert "(3 of them captions alone, " in said, said
    ckpt = torch.load(out / "best.pt", weights_only=True)
    assert "zebra" in ckpt["vocab"]  # (the words of captions alone are the decoder's too)
    assert not any(v.startswith("words") for v in ckpt["memory"]["ids"])
    assert len(ckpt["memory"]["ids"]) == sum(not e.get("captions_only") and e.get("split", "train") in ("train", "val")
                                             for e in entries)


def _with_alone(tmp_path, marked: list[str] = (), extra: int = 2):
    """A synthetic store's manifest with `extra` videos of captions alone, and `marked` of its own videos (which have
    features) marked captions_only too."""
    from s2vt.synthetic import make_store

    manifest, features = make_store(tmp_path / "store", videos=12, shapes={"resnet152": (4, 8)})
    entries = [json.loads(x) for x in open(manifest)]
    for e in entries:
        if e["video_id"] in marked:
            e.update(split="train", captions_only=True)
            e.pop("tags", None)
    entries += [{"video_id": f"words{n}", "split": "train", "captions": ["a zebra gallops far away"],
                 "captions_only": True} for n in range(extra)]
    with open(manifest, "w") as f:
        f.writelines(json.dumps(e) + "\n" for e in entries)
    return manifest, features, entries


def test_a_video_marked_captions_alone_that_has_features_is_refused(tmp_path):
    """(hostile trial) A training video with features marked captions_only lost its features unsaid (left out of
    the statistics, the caption memory and evaluate --split train); now refused, naming it and the way out."""
    _, _, plain = _with_alone(tmp_path / "plain")
    vid = next(e["video_id"] for e in plain if e.get("split") == "train" and not e.get("captions_only"))
    manifest, features, _ = _with_alone(tmp_path, marked=[vid])
    proc = run_cli("train.py", "--manifest", str(manifest), "--features", str(features), "--out",
                   str(tmp_path / "run"), "--epochs", "1", "--hidden", "8")
    assert proc.returncode == 2 and "have features in" in proc.stderr and vid in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "run" / "best.pt").exists()


def test_a_training_split_of_captions_alone_is_refused(tmp_path):
    """(hostile trial) A manifest whose training videos were all of captions alone trained with feature
    standardisation off (no video to take the statistics of); now refused in one line."""
    manifest, features, entries = _with_alone(tmp_path)
    kept = [e for e in entries if e.get("captions_only") or e.get("split") == "val"]
    with open(manifest, "w") as f:
        f.writelines(json.dumps(e) + "\n" for e in kept)
    proc = run_cli("train.py", "--manifest", str(manifest), "--features", str(features), "--out",
                   str(tmp_path / "run"), "--epochs", "1", "--hidden", "8")
    assert proc.returncode == 2 and "training videos is of captions alone" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_score_and_extract_leave_videos_of_captions_alone_out(tmp_path):
    """(hostile trial) `s2vt score M P --split train` refused evaluate's own predictions ('5 referenced ids have
    no prediction': the videos of captions alone, which evaluate never captions) and, given one, scored it;
    `python -m extract` on such a manifest logged each as a failure (no 'path'): it could never end well."""
    from extract.__main__ import collect_items
    from s2vt.results import load_references

    manifest, _, entries = _with_alone(tmp_path)
    refs = load_references(manifest, "train")
    assert refs and not any(v.startswith("words") for v in refs)
    assert len(refs) == sum(e.get("split") == "train" and not e.get("captions_only") and bool(e.get("captions"))
                            for e in entries)
    for e in entries:
        if not e.get("captions_only"):
            e.setdefault("path", str(tmp_path / f"{e['video_id']}.mp4"))
    with open(manifest, "w") as f:
        f.writelines(json.dumps(e) + "\n" for e in entries)
    assert not any(v.startswith("words") for v, _ in collect_items(str(manifest)))


def test_an_import_without_captions_only_over_one_with_it_names_the_option(tmp_path):
    """(hostile trial) Importing again without --captions-only over a manifest made with it was refused as
    'holds 2 annotations this import would drop' (distinct ones, where the summary had counted captions) with no
    word of the option that keeps them; now it says they are its videos of captions alone, and the option."""
    src = release(tmp_path / "mlds")
    out = tmp_path / "m" / "manifest.jsonl"
    first = run_cli("-m", "s2vt.cli", "import", "mlds", str(src), "--out", str(out), "--captions-only")
    assert first.returncode == 0, first.stderr
    again = run_cli("-m", "s2vt.cli", "import", "mlds", str(src), "--out", str(out))
    assert again.returncode == 2 and "distinct annotations" in again.stderr, again.stderr
    assert "all of its 1 video of captions alone" in again.stderr and "pass --captions-only to keep them" in again.stderr
    assert run_cli("-m", "s2vt.cli", "import", "mlds", str(src), "--out", str(out), "--captions-only").returncode == 0
    # (trial 106) `import features`, which has no --captions-only, was told to pass it: its way is --force
    (src / "testing_label.json").unlink()  # (a release of training clips alone: only those of captions alone lost)
    shutil.rmtree(src / "testing_data")
    out = tmp_path / "m2" / "manifest.jsonl"
    assert run_cli("-m", "s2vt.cli", "import", "mlds", str(src), "--out", str(out), "--captions-only").returncode == 0
    other = run_cli("-m", "s2vt.cli", "import", "features", str(src / "training_data" / "feat"), "--captions",
                    str(src / "training_label.json"), "--modality", "cnn", "--split", "train", "--out", str(out))
    assert other.returncode == 2 and "all of its 1 video of captions alone" in other.stderr, other.stderr
    assert "--captions-only" not in other.stderr and "--force to replace it" in other.stderr


def test_mlds_refusals_never_advise_a_split_option_it_lacks(tmp_path):
    """(trial 106) `import mlds` takes its splits from the release's files and has no --split; two of its refusals
    advised one: --val on a release whose training clips have no feature file, and a release of blank captions."""
    src = release(tmp_path / "a")
    for f in (src / "training_data" / "feat").iterdir():
        f.unlink()
    held = run_cli("-m", "s2vt.cli", "import", "mlds", str(src), "--out", str(tmp_path / "a.jsonl"), "--val", "1")
    assert held.returncode == 2 and "none of these videos is of split train (1 test)" in held.stderr, held.stderr
    assert "--split" not in held.stderr and "leave out --val and --test" in held.stderr
    blank = release(tmp_path / "b")
    (blank / "training_label.json").write_text(json.dumps([{"id": c, "caption": []} for c in ("a1_0_5.avi",
                                                                                              "b2_3_9.avi")]))
    (blank / "testing_label.json").unlink()
    shutil.rmtree(blank / "testing_data")
    empty = run_cli("-m", "s2vt.cli", "import", "mlds", str(blank), "--out", str(tmp_path / "b.jsonl"))
    assert empty.returncode == 2 and "nothing to train or evaluate on" in empty.stderr, empty.stderr
    assert "--split" not in empty.stderr
    # `import features` has --split: its refusal still says it
    feats = run_cli("-m", "s2vt.cli", "import", "features", str(src / "testing_data" / "feat"), "--captions",
                    str(src / "testing_label.json"), "--modality", "cnn", "--split", "test", "--val", "1",
                    "--out", str(tmp_path / "c.jsonl"))
    assert feats.returncode == 2 and "import them with --split train" in feats.stderr, feats.stderr
