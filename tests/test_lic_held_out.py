"""LIC2022 text models and the videos they are scored on: a tag-only model says when a split holds
its training videos, --test is refused beside the challenge's unlabelled file (they would share
split test), a split that mixes them anyway says which videos were scored, and videos without any
text are counted."""
import json
import zipfile

import torch

from s2vt.manifest import read_manifest

from .test_text import lic_manifest, s2vt, text_run_args, write_lic


def warnings_of(err):
    return [line for line in err.splitlines() if line.startswith("warning:")]


def test_a_text_model_says_when_it_is_scored_on_videos_it_was_fitted_on(tmp_path, capsys):
    """evaluate on val after the linear path's train + val refit, or on the test split of a manifest
    re-imported with another --seed, scored training videos (0.843 where held-out ones scored 0.539),
    silently: caption models said it by their memory, tag-only models recorded nothing."""
    manifest = lic_manifest(tmp_path, capsys)  # 30 train, 10 val
    run, plain = tmp_path / "run", tmp_path / "plain"
    assert s2vt(capsys, *text_run_args(manifest, run, 1))[0] == 0
    assert s2vt(capsys, *text_run_args(manifest, plain, 1), "--no-linear-refit")[0] == 0
    val = [e["video_id"] for e in read_manifest(manifest) if e["split"] == "val"]
    train = [e["video_id"] for e in read_manifest(manifest) if e["split"] == "train"]
    refitted = torch.load(run / "best.pt", weights_only=True)["training_ids"]
    assert sorted(refitted) == sorted(train + val)  # ids only: best.pt stays small
    assert sorted(torch.load(plain / "best.pt", weights_only=True)["training_ids"]) == sorted(train)
    code, _, err = s2vt(capsys, "evaluate", "--checkpoint", run / "best.pt", "--manifest", manifest, "--split", "val",
                        "--out", tmp_path / "a.json")
    assert code == 0, err
    assert warnings_of(err) == [f"warning: 10 of 10 videos of split val were training videos of {run / 'best.pt'} "
                                "(it lists the 40 videos it was fitted on): the scores overstate the model"]
    # the train-only fit has not seen val: nothing to say
    code, _, err = s2vt(capsys, "evaluate", "--checkpoint", plain / "best.pt", "--manifest", manifest, "--split",
                        "val", "--out", tmp_path / "b.json")
    assert code == 0 and not warnings_of(err), err
    # re-imported with another seed: its test split is drawn from the videos the model trained on
    reseeded = tmp_path / "reseeded.jsonl"
    code, _, err = s2vt(capsys, "import", "lic2022", tmp_path / "lic" / "train.json", "--out", reseeded, "--val", "10",
                        "--test", "10", "--seed", "1")
    assert code == 0, err
    test = [e["video_id"] for e in read_manifest(reseeded) if e["split"] == "test"]
    inside = len(set(test) & set(train))
    assert 0 < inside < len(test)  # (a count that could be wrong either way)
    code, _, err = s2vt(capsys, "evaluate", "--checkpoint", plain / "best.pt", "--manifest", reseeded, "--split",
                        "test", "--out", tmp_path / "c.json")
    assert code == 0, err
    assert warnings_of(err) == [f"warning: {inside} of 10 videos of split test were training videos of "
                                f"{plain / 'best.pt'} (it lists the 30 videos it was fitted on): the scores overstate "
                                "the model (was the manifest imported anew, with another --seed or other files as "
                                "test?)"]


def test_the_unlabelled_file_is_split_test_and_export_writes_exactly_it(tmp_path, capsys):
    """The documented flow: `import lic2022 train.json test_a.json` (test_a.json without labels),
    train, `evaluate --split test`, `export --format lic2022`: result.txt answers every video of
    test_a.json, in its order, and nothing else (--val stays allowed: it draws from the labelled)."""
    lic = write_lic(tmp_path / "lic")  # train.json: 40 labelled, test_a.json: 8 without labels
    manifest = tmp_path / "m.jsonl"
    code, _, err = s2vt(capsys, "import", "lic2022", lic / "train.json", lic / "test_a.json", "--out", manifest,
                        "--val", "10")
    assert code == 0, err
    assert "48 videos (30 train, 10 val, 8 test)" in err
    unlabelled = [json.loads(x)["@id"] for x in (lic / "test_a.json").read_text().splitlines()]
    assert [e["video_id"] for e in read_manifest(manifest) if e["split"] == "test"] == unlabelled
    run = tmp_path / "run"
    assert s2vt(capsys, *text_run_args(manifest, run, 1))[0] == 0
    code, _, err = s2vt(capsys, "evaluate", "--checkpoint", run / "best.pt", "--manifest", manifest, "--split", "test",
                        "--out", tmp_path / "test.json")
    assert code == 0 and "nothing to score" in err, err
    # export's default split is test: exactly test_a.json's ids, in its order
    code, _, err = s2vt(capsys, "export", tmp_path / "test.json", "--format", "lic2022", "--manifest", manifest,
                        "--out", tmp_path / "r.zip")
    assert code == 0 and "8 videos (split test of" in err and "warning" not in err, err
    with zipfile.ZipFile(tmp_path / "r.zip") as z:
        assert [json.loads(x)["@id"] for x in z.read("result.txt").decode().splitlines()] == unlabelled
    # the default split (test) of a manifest without one names the splits it has
    bare = tmp_path / "bare.jsonl"
    assert s2vt(capsys, "import", "lic2022", lic / "train.json", "--out", bare)[0] == 0
    code, _, err = s2vt(capsys, "evaluate", "--checkpoint", run / "best.pt", "--manifest", bare, "--out",
                        tmp_path / "x.json")
    assert code == 2
    assert err == f"error: {bare}: no videos in split 'test' (it has 40 train): pass --split train\n"
    # (a split held out is named: trial 72)
    tests = tmp_path / "tests.jsonl"
    tests.write_text("".join(json.dumps(e) + "\n" for e in read_manifest(manifest) if e["split"] == "test"))
    code, _, err = s2vt(capsys, "evaluate", "--checkpoint", run / "best.pt", "--manifest", tests, "--split", "train",
                        "--out", tmp_path / "x.json")
    assert code == 2 and err.endswith(" test): pass --split test\n"), err


def test_test_beside_a_file_without_labels_is_refused(tmp_path, capsys):
    """`import lic2022 train.json test_a.json --test N` put the held-out labelled videos in test_a.json's
    split: result.txt held ids the challenge never asked for, and the scores were over part of the split."""
    lic = write_lic(tmp_path / "lic")
    out = tmp_path / "new" / "m.jsonl"
    code, _, err = s2vt(capsys, "import", "lic2022", lic / "train.json", lic / "test_a.json", "--out", out,
                        "--val", "10", "--test", "5")
    assert code == 2
    assert err == (f"error: --test 5 holds labelled videos out as split test, but {lic / 'test_a.json'} (no labels) "
                   f"is the test split here: to measure on held-out labelled videos import {lic / 'train.json'} "
                   f"alone with --test; to predict {lic / 'test_a.json'} leave out --test\n")
    assert not (tmp_path / "new").exists()
    # an existing manifest stays as it was
    out.parent.mkdir()
    out.write_text('{"video_id": "kept"}\n')
    code, _, err = s2vt(capsys, "import", "lic2022", lic / "test_a.json", lic / "train.json", "--out", out,
                        "--test", "5", "--force")
    assert code == 2 and err.count("\n") == 1 and "--test 5 holds labelled videos out" in err, err
    assert out.read_text() == '{"video_id": "kept"}\n'
    # what the refusal says to do instead: either import works
    code, _, err = s2vt(capsys, "import", "lic2022", lic / "train.json", "--out", out, "--test", "5", "--force")
    assert code == 0 and "40 videos (35 train, 0 val, 5 test)" in err, err


def test_a_split_mixing_labelled_and_unlabelled_videos_says_which_were_scored(tmp_path, capsys):
    """A manifest that holds both in test (imported before --test was refused beside a file without
    labels, or put together by hand) is scored on its labelled videos alone, and says so."""
    lic = write_lic(tmp_path / "lic")
    manifest, unlabelled = tmp_path / "m.jsonl", tmp_path / "u.jsonl"
    code, _, err = s2vt(capsys, "import", "lic2022", lic / "train.json", "--out", manifest, "--val", "10",
                        "--test", "5")
    assert code == 0, err
    assert s2vt(capsys, "import", "lic2022", lic / "test_a.json", "--out", unlabelled)[0] == 0
    run = tmp_path / "run"
    assert s2vt(capsys, *text_run_args(manifest, run, 1))[0] == 0
    old = tmp_path / "old.jsonl"
    old.write_text(manifest.read_text() + unlabelled.read_text())
    code, _, err = s2vt(capsys, "evaluate", "--checkpoint", run / "best.pt", "--manifest", old, "--out",
                        tmp_path / "p.json")
    assert code == 0, err
    metrics = json.loads((tmp_path / "p.metrics.json").read_text())
    assert (metrics["videos"], metrics["scored"]) == (13, 5)
    assert ("note: the scores are over the 5 of the 13 test videos that have references (captions or tags); the "
            "other 8 were predicted only\n") in err
    code, _, err = s2vt(capsys, "evaluate", "--checkpoint", run / "best.pt", "--manifest", manifest, "--out",
                        tmp_path / "q.json")
    assert code == 0 and "note:" not in err, err
    assert json.loads((tmp_path / "q.metrics.json").read_text())["scored"] == 5


def test_videos_without_any_text_are_counted_when_a_text_model_predicts_them(tmp_path, capsys):
    """A video with no title, ASR or OCR was tagged silently: a text-only model's answer to empty text."""
    manifest = lic_manifest(tmp_path, capsys)
    run = tmp_path / "run"
    assert s2vt(capsys, *text_run_args(manifest, run, 1), "--no-linear-refit")[0] == 0
    rows = [json.loads(x) for x in manifest.read_text().splitlines()]
    val = [r for r in rows if r["split"] == "val"]
    for r in val[:2]:
        r["text"] = {"title": "", "asr": "", "ocr": ""}
    val[2]["text"] = {"title": "  \n", "asr": "", "ocr": ""}  # (blanks: no token either)
    blank = tmp_path / "blank.jsonl"
    blank.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    code, _, err = s2vt(capsys, "evaluate", "--checkpoint", run / "best.pt", "--manifest", blank, "--split", "val",
                        "--out", tmp_path / "p.json")
    assert code == 0, err
    first = ", ".join(r["video_id"] for r in val[:3])
    assert warnings_of(err) == [f"warning: 3 of the 10 val videos in {blank} have no text (title, asr, ocr; first: "
                                f"{first}): a text-only model gives each the same answer, its guess for empty text"]
    preds = {p["video_id"]: p["tags"] for p in json.loads((tmp_path / "p.json").read_text())}
    assert preds[val[0]["video_id"]] == preds[val[1]["video_id"]]  # (what the warning says)
    code, _, err = s2vt(capsys, "evaluate", "--checkpoint", run / "best.pt", "--manifest", manifest, "--split", "val",
                        "--out", tmp_path / "q.json")
    assert code == 0 and not warnings_of(err), err
