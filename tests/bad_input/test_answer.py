"""Issue 15, the answering side: bad inputs to caption.py, `s2vt evaluate`, `export` and `import`
give one line and exit 2 (or an answer, where one can be given), and never lose a file."""
import json
import os
import shutil
import zipfile

import numpy as np
import pytest
import torch

from s2vt.fileio import atomic_write_json
from s2vt.manifest import read_manifest, write_manifest
from s2vt.store import FeatureStore
from s2vt.cli import main
from s2vt.data import VideoDataset, batches
from s2vt.checkpoint import has_captions, load_checkpoint
from s2vt.engine import TrainConfig, train
from s2vt.predict import answer, predict
from s2vt.synthetic import make_store

from ..conftest import fill_disk, make_video, run_cli

DIMS = {"resnet152": 2048, "vggish": 128}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny resnet152 + vggish checkpoint, trained on a synthetic store that records the settings
    caption.py extracts with (4 frames, 64 px, random weights). A few training videos are silent
    (vggish [0, 128]), as MSVD's all are, so the model learns its missing vector."""
    d = tmp_path_factory.mktemp("ck")
    manifest, store = make_store(d, videos=28, shapes={"resnet152": (4, 2048), "vggish": (3, 128)})
    for i in range(2, 28, 7):  # training videos (split by i % 7)
        np.save(store / "vggish" / f"syn{i:05d}.npy", np.zeros((0, 128), np.float16))
    # the test split without references: evaluating it scores tags only (no METEOR jar to start)
    write_manifest([{**e, "captions": [] if e["split"] == "test" else e["captions"]} for e in read_manifest(manifest)],
                   manifest)
    atomic_write_json(store / "meta.json", {"frames": 4, "clips": 1, "image_size": 64, "dims": DIMS,
                                            "backbones": {m: "random(seed=0)" for m in DIMS}})
    train(TrainConfig.of(str(manifest), str(store), str(d / "run"), epochs=3, hidden=32, embed=32, min_count=1,
                      batch_size=4, enc_len=4, quiet=True, device="cpu"))
    return d


def s2vt(capsys, *args):
    """`s2vt ARGS` in process: (exit code, stdout, stderr lines)."""
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err.strip().splitlines()


def evaluate_args(d, *extra):
    return ["evaluate", "--checkpoint", d / "run" / "best.pt", "--manifest", d / "manifest.jsonl",
            "--features", d / "features", "--beam", "1", *extra]


def test_caption_silent_video_with_vggish_checkpoint(trained, tmp_path):
    silent = make_video(tmp_path / "silent.mp4", seconds=1.0, size="64x48", audio=None)
    good = make_video(tmp_path / "good.mp4", seconds=1.5, size="64x48")
    proc = run_cli("caption.py", str(silent), str(good), "--checkpoint", str(trained / "run" / "best.pt"), "--json",
                   "--beam", "2")
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [json.loads(x) for x in proc.stdout.splitlines()]
    assert [r["video"] for r in rows] == [str(silent), str(good)]
    assert all(r["caption"].strip() for r in rows)
    # serving and evaluation prepare features one way: the silent video's [0, 128] audio is
    # answered exactly as in a collated batch beside a sounding video (length 0 -> missing vector)
    model, vocab, labels, ckpt = load_checkpoint(trained / "run" / "best.pt")
    assert has_captions(ckpt)
    store = trained / "features"
    ds = VideoDataset([{"video_id": "syn00002"}, {"video_id": "syn00003"}], FeatureStore(store), sorted(DIMS),
                      vocab, None)
    batch = next(iter(batches(ds, 2)))
    assert batch["lengths"]["vggish"].tolist() == [0, 3]
    captions, probs = predict(model, vocab, batch["feats"], batch["lengths"], beam=2, with_captions=True)
    feats = {m: np.load(store / m / "syn00002.npy").astype(np.float32) for m in DIMS}
    assert feats["vggish"].shape == (0, 128)
    caption, top = answer(model, vocab, labels, feats, beam=2, tags=len(labels.names), with_captions=True)
    assert caption == captions[0]
    assert {t["tag"]: t["p"] for t in top} == pytest.approx(dict(zip(labels.names, probs[0])), abs=1e-4)
    with torch.no_grad():  # and what stands in is the learned missing vector
        model.fusion.missing["vggish"].add_(5.0)
    assert answer(model, vocab, labels, feats, beam=2, tags=len(labels.names), with_captions=True)[1] != top


def copy_store(trained, tmp_path):
    return shutil.copytree(trained / "features", tmp_path / "features")


def test_evaluate_predicts_videos_without_features(trained, tmp_path, capsys):
    store = copy_store(trained, tmp_path)
    (store / "vggish" / "syn00001.npy").unlink()  # a test video without audio features
    for m in DIMS:  # and one without any features
        (store / m / "syn00008.npy").unlink()
    args = evaluate_args(trained, "--features", store, "--out", tmp_path / "p.json")
    code, _, err = s2vt(capsys, *args)
    assert code == 0, err
    assert err[1:] == [wrote_p(tmp_path)] and "2 of 4 test videos lack features" in err[0] and "vggish 2" in err[0]
    assert "resnet152 1" in err[0] and "1 with none at all" in err[0] and "predicted" in err[0]
    preds = {p["video_id"]: p for p in json.loads((tmp_path / "p.json").read_text())}
    assert sorted(preds) == ["syn00001", "syn00008", "syn00015", "syn00022"]
    assert all(p["caption"] and p["tags"] for p in preds.values())
    code, _, err = s2vt(capsys, *args, "--skip-missing", "--force")  # (p.json exists: replaced)
    assert code == 0 and err[1:] == [wrote_p(tmp_path)] and "left out" in err[0]
    assert sorted(p["video_id"] for p in json.loads((tmp_path / "p.json").read_text())) == ["syn00015", "syn00022"]


def test_evaluate_names_a_modality_folder_that_links_to_nothing(trained, tmp_path, capsys):
    """S/vggish, a link to a missing folder, was 'S: no features for vggish', which `ls` contradicts (hostile
    trial): the refusal says what S/vggish is, as extract and the imports do."""
    store = copy_store(trained, tmp_path)
    shutil.rmtree(store / "vggish")
    (store / "vggish").symlink_to(tmp_path / "gone")
    code, out, err = s2vt(capsys, *evaluate_args(trained, "--features", store, "--out", tmp_path / "p.json"))
    assert code == 2 and not out and err == [
        f"error: {store}: no features for vggish, which {trained / 'run' / 'best.pt'} reads (resnet152,vggish; the "
        f"store has resnet152): {store / 'vggish'} is a link to a missing target ({tmp_path / 'gone'})"], err


@pytest.mark.parametrize("folder, what", [("videos", "it holds videos (a.mp4), not their features"),
                                          ("run", "it is a training run's folder (best.pt)"), ("empty", "it is empty")])
def test_evaluate_says_what_a_folder_named_as_the_store_is(trained, tmp_path, capsys, folder, what):
    """--features naming a folder of videos, a training run's or an empty one said only 'no features for
    resnet152,vggish ... the store has none', as train said before it learnt to name what the folder is (hostile
    trial): evaluate's line ends the same way."""
    (tmp_path / folder).mkdir()
    if folder != "empty":
        (tmp_path / folder / ("a.mp4" if folder == "videos" else "best.pt")).write_bytes(b"")
    code, out, err = s2vt(capsys, *evaluate_args(trained, "--features", tmp_path / folder, "--out",
                                                 tmp_path / "p.json"))
    assert code == 2 and not out and len(err) == 1, err
    assert "the store has none): no meta.json, so not a feature store" in err[0] and what in err[0], err
    assert not (tmp_path / "p.json").exists()


def test_evaluate_refuses_a_store_without_a_modality(trained, tmp_path, capsys):
    """A store holding none of a modality the checkpoint reads is refused before anything is
    written (predicting every video from the missing vector alone is not an evaluation)."""
    store = copy_store(trained, tmp_path)
    shutil.rmtree(store / "vggish")
    (store / "vggish").mkdir()  # (an empty folder is no better than none)
    run = shutil.copytree(trained / "run", tmp_path / "run")
    before = sorted(p.name for p in run.iterdir())
    args = ["evaluate", "--checkpoint", run / "best.pt", "--manifest", trained / "manifest.jsonl", "--features",
            store, "--beam", "1"]
    code, out, err = s2vt(capsys, *args)
    assert code == 2 and len(err) == 1 and not out, err
    assert "no features for vggish" in err[0] and str(store) in err[0]
    assert sorted(p.name for p in run.iterdir()) == before  # no preds_test.json / metrics_test.json
    code, _, err = s2vt(capsys, *args, "--out", tmp_path / "p.json")
    assert code == 2 and not (tmp_path / "p.json").exists()


def test_export_lic2022_plain_string_tags(tmp_path, capsys):
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"video_id": "123", "split": "test"}) + "\n")
    preds = tmp_path / "p.json"
    preds.write_text(json.dumps([{"video_id": "123", "caption": "", "tags": ["level1:体育", "level2:体育/足球",
                                                                             "tag:比赛"]}]))
    code, _, err = s2vt(capsys, "export", preds, "--format", "lic2022", "--manifest", manifest,
                        "--out", tmp_path / "r.zip")
    assert code == 0, err
    with zipfile.ZipFile(tmp_path / "r.zip") as z:
        line = json.loads(z.read("result.txt"))
    assert [c["@value"] for c in line["category"]] == ["体育", "足球"] and line["tag"] == [{"@value": "比赛"}]
    preds.write_text(json.dumps([{"video_id": "123", "caption": "", "tags": [7]}]))
    code, _, err = s2vt(capsys, "export", preds, "--format", "lic2022", "--manifest", manifest,
                        "--out", tmp_path / "r2.zip")
    assert code == 2 and len(err) == 1 and "item 0" in err[0] and not (tmp_path / "r2.zip").exists()


def lic2022_fixture(folder):
    """train.json with one record whose tsn features exist."""
    (folder / "tsn_features_train").mkdir(parents=True)
    rec = {"@id": "1000", "title": "t", "category": [{"@meta": {"type": "level1"}, "@value": "体育"}], "tag": []}
    (folder / "train.json").write_text(json.dumps(rec, ensure_ascii=False) + "\n")
    np.save(folder / "tsn_features_train" / "1000.npy", np.zeros((3, 8), np.float16))
    return folder / "train.json"


def test_unwritable_and_full_outputs_one_line(trained, tmp_path, capsys, small_disk):
    preds = tmp_path / "p.json"
    preds.write_text(json.dumps({"syn00001": "a red square moves left"}))
    lic = lic2022_fixture(tmp_path / "lic")
    inputs = [preds, lic, trained / "manifest.jsonl", trained / "run" / "best.pt"]
    before = {p: p.read_bytes() for p in inputs}
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    fill_disk(small_disk)
    for out in (blocker / "sub" / "out", small_disk / "out"):
        for args in (evaluate_args(trained, "--out", out),
                     ["export", preds, "--format", "coco", "--out", out.with_name("out.zip")],
                     ["import", "lic2022", lic, "--features", lic.parent, "--out", out]):
            code, _, err = s2vt(capsys, *args)
            assert code == 2 and len(err) == 1 and err[0].startswith("error: cannot write"), (args, err)
    # no temp file, no half a file: only lic2022's feature links may stay (whole, a store a rerun completes)
    left = [p for p in small_disk.rglob("*") if p.is_symlink() or p.is_file()]
    source = (lic.parent / "tsn_features_train" / "1000.npy").resolve()
    assert all(p.name == "filler" or p.resolve() == source for p in left) and len(left) <= 2
    assert {p: p.read_bytes() for p in inputs} == before


def test_out_of_range_settings_one_line(trained, tmp_path, capsys):
    ck = trained / "run" / "best.pt"
    for args, message in ((["caption", "v.mp4", "--checkpoint", ck, "--beam", "0"], "--beam must be at least 1"),
                          (["caption", "v.mp4", "--checkpoint", ck, "--tags", "-1"], "--tags must be at least 0"),
                          (evaluate_args(trained, "--beam", "0", "--out", tmp_path / "p.json"), "--beam"),
                          (evaluate_args(trained, "--batch-size", "0", "--out", tmp_path / "p.json"),
                           "--batch-size must be at least 1")):
        code, out, err = s2vt(capsys, *args)
        assert code == 2 and len(err) == 1 and message in err[0] and not out, (args, err)
    assert not (tmp_path / "p.json").exists()


def test_outputs_never_overwrite_inputs(trained, tmp_path, capsys):
    manifest = tmp_path / "manifest.jsonl"
    write_manifest([{**e, "captions": []} for e in read_manifest(trained / "manifest.jsonl")], manifest)
    ck = shutil.copy(trained / "run" / "best.pt", tmp_path / "best.pt")
    preds = tmp_path / "p.json"
    preds.write_text(json.dumps({"syn00001": "a red square moves left"}))
    ann = tmp_path / "info.json"
    ann.write_text(json.dumps({"videos": [{"video_id": "video1", "split": "train", "category": 1}], "sentences": []}))
    inputs = [manifest, ck, preds, ann, trained / "features" / "meta.json"]
    before = {p: p.read_bytes() for p in inputs}
    run = ["--checkpoint", ck, "--manifest", manifest, "--features", trained / "features", "--beam", "1"]
    for args in (["export", preds, "--format", "coco", "--out", preds],
                 ["evaluate", *run, "--out", manifest],
                 ["evaluate", *run, "--out", ck],
                 ["evaluate", *run, "--out", trained / "features" / "meta.json"],
                 ["evaluate", *run, "--out", trained / "features" / "preds.json"],
                 ["import", "msrvtt", ann, "--out", ann]):
        code, _, err = s2vt(capsys, *args)
        assert code == 2 and len(err) == 1 and "cannot write" in err[0] and "input" in err[0], (args, err)
    assert {p: p.read_bytes() for p in inputs} == before
    # metrics are named per split: evaluating val keeps the test metrics
    for split in ("test", "val"):
        assert s2vt(capsys, "evaluate", *run, "--split", split, "--out", tmp_path / f"preds_{split}.json")[0] == 0
    assert [json.loads((tmp_path / f"metrics_{s}.json").read_text())["split"] for s in ("test", "val")] == \
        ["test", "val"]


def msrvtt_file(path, videos, sentences):
    path.write_text(json.dumps({"info": {}, "videos": videos, "sentences": sentences}))
    return path


def test_import_validates_entries(tmp_path, capsys):
    good = {"video_id": "video1", "split": "train", "category": 1}
    # (a video of an unknown split is left out, counted, the rest imported: tests/bad_input/test_import.py)
    bad_files = {
        "caption": msrvtt_file(tmp_path / "caption.json", [good], [{"video_id": "video1", "caption": None}]),
        "id": msrvtt_file(tmp_path / "id.json", [{**good, "video_id": "../x"}], []),
    }
    for what, path in bad_files.items():
        code, _, err = s2vt(capsys, "import", "msrvtt", path, "--out", tmp_path / "m.jsonl")
        assert code == 2 and len(err) == 1 and str(path) in err[0] and "video" in err[0], (what, err)
    lic = tmp_path / "lic.json"
    lic.write_text(json.dumps({"@id": "1", "category": [], "tag": [{"@value": 5}]}) + "\n")
    code, _, err = s2vt(capsys, "import", "lic2022", lic, "--out", tmp_path / "m.jsonl")
    assert code == 2 and len(err) == 1 and f"{lic}:1: @id 1" in err[0]
    assert not (tmp_path / "m.jsonl").exists()


def test_import_caps_long_captions(tmp_path, capsys):
    path = msrvtt_file(tmp_path / "info.json", [{"video_id": "video1", "split": "train", "category": 1}],
                       [{"video_id": "video1", "caption": "a" * 100_000}, {"video_id": "video1", "caption": "a man"}])
    code, _, err = s2vt(capsys, "import", "msrvtt", path, "--out", tmp_path / "m.jsonl")
    assert code == 0 and "warning: 1 caption longer than 1000 characters was cut to that length (video video1)" in err
    assert [len(c) for c in read_manifest(tmp_path / "m.jsonl")[0]["captions"]] == [1000, 5]


def test_import_caps_long_text(tmp_path, capsys):
    # (a 50k-character title was kept whole unsaid; the text branch reads its first MAX_TEXT_CHARS)
    level1 = [{"@meta": {"type": "level1"}, "@value": "food"}]
    lic = tmp_path / "train.json"
    lic.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in [
        {"@id": "1", "title": "长" * 50_000, "perception": {"ocr": "x" * 5000, "asr": "y"}, "category": level1},
        {"@id": "2", "title": "长" * 4000, "category": level1}]) + "\n", encoding="utf-8")
    code, _, err = s2vt(capsys, "import", "lic2022", lic, "--out", tmp_path / "m.jsonl")
    # (the videos named: the count alone left them to be found)
    assert code == 0 and "warning: 1 title longer than 4000 characters was cut to that length (video 1)" in err
    assert "warning: 1 OCR text longer than 4000 characters was cut to that length (video 1)" in err
    assert not any("ASR" in line for line in err)
    texts = [e["text"] for e in read_manifest(tmp_path / "m.jsonl")]
    assert [{k: len(v) for k, v in t.items()} for t in texts] == [{"title": 4000, "asr": 1, "ocr": 4000},
                                                                   {"title": 4000, "asr": 0, "ocr": 0}]
    # a text key the text branch does not read is the user's own: kept whole, as the import says it keeps it
    from s2vt.datasets import cap_captions
    entry = {"video_id": "v", "captions": [], "text": {"title": "t" * 4001, "summary": "s" * 5000}}
    assert cap_captions([entry]) == 1 and entry["text"] == {"title": "t" * 4000, "summary": "s" * 5000}


def test_evaluate_store_without_meta_says_what_it_assumes(trained, tmp_path, capsys):
    store = copy_store(trained, tmp_path)
    (store / "meta.json").unlink()
    code, _, err = s2vt(capsys, *evaluate_args(trained, "--features", store, "--out", tmp_path / "p.json"))
    assert code == 0 and err == [f"warning: {store} has no meta.json: assuming it was extracted with the "
                                 "checkpoint's settings", wrote_p(tmp_path)]


def wrote_p(folder) -> str:
    """evaluate's line saying where it wrote `--out FOLDER/p.json`."""
    return f"wrote {folder / 'p.json'} (the predictions) and {folder / 'p.metrics.json'} (their metrics)"


def test_evaluate_store_with_an_empty_or_partial_meta_says_what_it_lacks(trained, tmp_path, capsys):
    """A meta.json of `{}` was taken silently, as if it said the checkpoint's settings, where a missing one
    warns (hostile trial); one that is not a JSON object was a traceback."""
    store = copy_store(trained, tmp_path)
    args = evaluate_args(trained, "--features", store, "--out", tmp_path / "p.json", "--force")
    for meta, lacks in (({}, "frames, image_size, clips, the backbones of resnet152 and vggish"),
                        ({"frames": 4, "image_size": 64, "backbones": {"resnet152": "random(seed=0)"}},
                         "clips, the backbone of vggish")):
        atomic_write_json(store / "meta.json", meta)
        code, _, err = s2vt(capsys, *args)
        assert code == 0 and err == [f"warning: {store / 'meta.json'} lacks {lacks}: assuming it was extracted with "
                                     "the checkpoint's settings", wrote_p(tmp_path)], (meta, err)
    for meta, what in (([], "a JSON list"), ({"backbones": ["x"]}, "backbones is a JSON list")):
        (store / "meta.json").write_text(json.dumps(meta))
        code, _, err = s2vt(capsys, *args)
        assert code == 2 and len(err) == 1 and err[0].startswith(f"error: {store / 'meta.json'}: {what}, "), err
    atomic_write_json(store / "meta.json", json.loads((trained / "features" / "meta.json").read_text()))
    code, _, err = s2vt(capsys, *args)
    assert code == 0 and err == [wrote_p(tmp_path)], err  # the whole meta.json: nothing to say but where it wrote


def test_evaluate_says_which_videos_its_distinct_captions_are_of(trained, tmp_path, capsys):
    """"distinct  3 captions" counted the captions of the videos with reference captions alone, and did not
    say so: a split with some videos unreferenced read as if every video's were counted (hostile trial)."""
    entries = read_manifest(trained / "manifest.jsonl")
    val = [e["video_id"] for e in entries if e["split"] == "val"]
    write_manifest([{**e, "captions": [] if e["video_id"] == val[0] else e["captions"]} for e in entries],
                   tmp_path / "manifest.jsonl")
    code, out, err = s2vt(capsys, "evaluate", "--checkpoint", trained / "run" / "best.pt", "--manifest",
                          tmp_path / "manifest.jsonl", "--features", trained / "features", "--split", "val",
                          "--beam", "1", "--out", tmp_path / "p.json")
    assert code == 0, err
    metrics = json.loads((tmp_path / "p.metrics.json").read_text())
    preds = {r["video_id"]: r["caption"] for r in json.loads((tmp_path / "p.json").read_text())}
    assert metrics["distinct_captions"] == len({preds[v] for v in val[1:]})
    assert metrics["distinct_captions_of"] == len(val) - 1
    line, = [x for x in out.splitlines() if x.startswith("distinct")]
    assert line == (f"distinct      {metrics['distinct_captions']} captions for the {len(val) - 1} videos with "
                    "reference captions"), line


def test_hand_edited_checkpoint_settings_are_one_line(trained, tmp_path, capsys):
    """Values a hand-edited checkpoint may hold: a frame count beyond memory, a string where a number
    goes, an impossible encoder length or pad id, a NaN threshold or weight, a synthetic-feature model."""
    good = make_video(tmp_path / "good.mp4", seconds=1.0, size="64x48")
    ck = torch.load(trained / "run" / "best.pt", weights_only=True)
    first_weight = next(iter(ck["model"]))
    edits = {"frames": lambda c: c["extract"].update(frames=10 ** 9),
             "clips": lambda c: c["extract"].update(clips="x"),
             "synthetic": lambda c: c["extract"].update(synthetic=True),
             "enc_len": lambda c: c["config"].update(enc_len=0),
             "pad_id": lambda c: c["config"].update(pad_id=99999),
             "tag_threshold": lambda c: c["config"].update(tag_threshold=float("nan")),
             "multilabel": lambda c: c["config"].update(multilabel="yes"),
             # (a word where the vocabulary size goes: the pad id's bound compared an int with it, a traceback)
             "vocab_size": lambda c: c["config"].update(vocab_size="x"),
             "max_len": lambda c: c["config"].update(max_len="x"),  # (a TypeError traceback; trial 110)
             "NaN": lambda c: c["model"][first_weight].fill_(float("nan"))}
    for what, edit in edits.items():
        bad = {**ck, "config": dict(ck["config"]), "extract": dict(ck["extract"]),
               "model": {k: v.clone() for k, v in ck["model"].items()}}
        edit(bad)
        path = tmp_path / f"{what}.pt"
        torch.save(bad, path)
        code, out, err = s2vt(capsys, "caption", good, "--checkpoint", path)
        assert code == 2 and out == "" and len(err) == 1 and err[0].startswith(f"error: {path}"), (what, err)
        assert what in err[0], (what, err)


def test_score_one_split_of_a_manifest_and_empty_references(trained, tmp_path, capsys):
    """evaluate predicts one split; score compared it against every split of the manifest. An empty
    reference list crashed pycocoevalcap's BLEU."""
    entries = read_manifest(trained / "manifest.jsonl")
    val = {e["video_id"]: e["captions"][0] for e in entries if e["split"] == "val"}
    preds = tmp_path / "preds_val.json"
    preds.write_text(json.dumps(val))
    code, out, err = s2vt(capsys, "score", trained / "manifest.jsonl", preds, "--split", "val", "--json")
    assert code == 0 and json.loads(out)["BLEU-4"] > 0.99, err
    code, _, err = s2vt(capsys, "score", trained / "manifest.jsonl", preds)
    assert code == 2 and len(err) == 1 and "--split" in err[0]
    refs = tmp_path / "refs.json"
    refs.write_text(json.dumps({"a": [], "b": ["a red square"]}))
    preds.write_text(json.dumps({"a": "x", "b": "a red square"}))
    code, _, err = s2vt(capsys, "score", refs, preds)
    assert code == 2 and len(err) == 1 and "1 predicted id has no references (a)" in err[0]


def test_import_folder_with_a_non_utf8_file_name(tmp_path, capsys):
    folder = tmp_path / "vids"
    folder.mkdir()
    make_video(folder / "good.mp4", seconds=0.5, size="64x48", audio=None)
    shutil.copy(folder / "good.mp4", os.fsdecode(os.fsencode(str(folder)) + b"/bad\xff.mp4"))
    code, _, err = s2vt(capsys, "import", "folder", folder, "--out", tmp_path / "m.jsonl")
    assert code == 0 and any("not UTF-8" in line and "bad\\xff.mp4" in line for line in err), err
    assert [e["video_id"] for e in read_manifest(tmp_path / "m.jsonl")] == ["good"]


def test_evaluate_refuses_a_store_of_another_precision(trained, tmp_path, capsys):
    ck = torch.load(trained / "run" / "best.pt", weights_only=True)
    ck["extract"] = {**ck["extract"], "precision": {m: "fp32" for m in DIMS}}
    torch.save(ck, tmp_path / "fp32.pt")
    store = copy_store(trained, tmp_path)
    meta = json.loads((store / "meta.json").read_text())
    atomic_write_json(store / "meta.json", {**meta, "precision": {m: "int8" for m in DIMS}})
    code, out, err = s2vt(capsys, "evaluate", "--checkpoint", tmp_path / "fp32.pt", "--manifest",
                          trained / "manifest.jsonl", "--features", store, "--out", tmp_path / "p.json")
    assert code == 2 and out == "" and len(err) == 1 and "computed in int8" in err[0] and "fp32" in err[0], err
