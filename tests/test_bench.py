"""bench/ scripts a README command runs: a missing benchmark dependency is one line, not a traceback."""
import json
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO


@pytest.fixture(autouse=True)
def bench_on_path(monkeypatch):
    """What `python bench/X.py` gives a bench script: its own folder first on sys.path, for `common`."""
    monkeypatch.syspath_prepend(str(REPO / "bench"))

def test_text_baseline_without_sklearn_names_the_extra(monkeypatch, capsys, tmp_path):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # (import sklearn now fails as if not installed)
    monkeypatch.setattr(sys, "argv", ["text_baseline.py", "--manifest", str(tmp_path / "M"),
                                      "--out", str(tmp_path / "RUN")])
    with pytest.raises(SystemExit) as e:
        runpy.run_path(str(REPO / "bench" / "text_baseline.py"), run_name="__main__")
    assert e.value.code == 2
    err = capsys.readouterr().err
    # (the checkout's absolute path: `".[bench]"` fails outside its root, hostile trial)
    assert err.count("\n") == 1 and "scikit-learn" in err and f"-e '{REPO}[bench]'" in err and "Traceback" not in err
    assert not (tmp_path / "RUN").exists()


# --- bench/text_baseline.py: paths, the run folder, a failing train.py, what a manifest lacks -----------

def lic_manifest(path, tags: bool = True, text: bool = True, test: bool = True):
    """A small LIC2022-shaped manifest: 2 level-1 and 2 level-2 classes, 2 topic tags on 8 videos each."""
    rows = []
    for i in range(16):
        a = i % 2
        entry = {"video_id": f"v{i}", "split": "test" if test and i >= 12 else "train" if i < 10 else "val",
                 "captions": [], "tags": [f"level1:l{a}", f"level2:l{a}/m{a}"] + [f"tag:t{i % 3 % 2}"]}
        if not tags:
            entry["tags"], entry["captions"] = [], [f"a caption {i}"]
        if text:
            entry["text"] = {"title": f"title {'cats cats' if a else 'dogs dogs'} {i}", "asr": "", "ocr": ""}
        rows.append(entry)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def text_baseline(monkeypatch, *argv, train_code: int = 0):
    """Run bench/text_baseline.py with `argv`, its children faked: (exit code, children's argv). train.py
    exits with `train_code`; evaluate writes OUT/metrics_test.json."""
    pytest.importorskip("sklearn")
    calls = []

    def fake_run(cmd, cwd=None, **kw):
        calls.append(cmd[1:])
        if cmd[1] == "train.py":
            if not train_code:
                Path(cmd[cmd.index("--out") + 1]).mkdir(exist_ok=True)
            return subprocess.CompletedProcess(cmd, train_code)
        out = Path(cmd[cmd.index("--checkpoint") + 1]).parent
        (out / "metrics_test.json").write_text(json.dumps({"level1_acc": 1.0, "level2_acc": 1.0, "tag_f1": 1.0}))
        return subprocess.CompletedProcess(cmd, 0)

    monkeypatch.setattr(subprocess, "run", fake_run)
    monkeypatch.setattr(sys, "argv", ["text_baseline.py", *argv])
    code = 0
    try:
        runpy.run_path(str(REPO / "bench" / "text_baseline.py"), run_name="__main__")
    except SystemExit as e:
        code = e.code
    return code, calls


def test_text_baseline_relative_paths_work_from_any_folder(monkeypatch, capsys, tmp_path):
    lic_manifest(tmp_path / "M.jsonl")
    monkeypatch.chdir(tmp_path)
    code, calls = text_baseline(monkeypatch, "--manifest", "M.jsonl", "--out", "RUN")
    assert code == 0
    train_args = calls[0]
    assert train_args[train_args.index("--manifest") + 1] == str(tmp_path / "M.jsonl")  # the children run in REPO
    assert train_args[train_args.index("--out") + 1] == str(tmp_path / "RUN") and "--overwrite" not in train_args
    assert "| train.py defaults (text only) | 1.000 |" in capsys.readouterr().out


def test_text_baseline_needs_out_only_for_the_model(monkeypatch, capsys, tmp_path):
    """(trial 109) --out, train.py's run folder, was required with --skip-model too, where nothing uses it."""
    lic_manifest(tmp_path / "M.jsonl")
    code, calls = text_baseline(monkeypatch, "--manifest", str(tmp_path / "M.jsonl"), "--skip-model")
    assert code == 0 and calls == [] and "| TF-IDF char 1-3 + LinearSVC |" in capsys.readouterr().out
    code, calls = text_baseline(monkeypatch, "--manifest", str(tmp_path / "M.jsonl"))
    assert code == 2 and calls == [] and "--out is required (the run folder for train.py), unless --skip-model" in \
        capsys.readouterr().err


def test_text_baseline_refuses_an_existing_run_before_the_baselines(monkeypatch, capsys, tmp_path):
    lic_manifest(tmp_path / "M.jsonl")
    (tmp_path / "RUN").mkdir()
    (tmp_path / "RUN" / "best.pt").write_bytes(b"a run")
    code, calls = text_baseline(monkeypatch, "--manifest", str(tmp_path / "M.jsonl"), "--out", str(tmp_path / "RUN"))
    out, err = capsys.readouterr()
    assert code == 2 and calls == [] and out == ""  # refused before the baselines ran
    assert err == f"error: {tmp_path / 'RUN'} already holds a training run (best.pt): pass --overwrite to replace " \
                  "it, or another --out\n"
    code, calls = text_baseline(monkeypatch, "--manifest", str(tmp_path / "M.jsonl"), "--out", str(tmp_path / "RUN"),
                                "--overwrite")
    assert code == 0 and "--overwrite" in calls[0]


def test_text_baseline_failing_train_is_one_line_and_its_code_after_the_baselines(monkeypatch, capsys, tmp_path):
    lic_manifest(tmp_path / "M.jsonl")
    code, calls = text_baseline(monkeypatch, "--manifest", str(tmp_path / "M.jsonl"), "--out", str(tmp_path / "RUN"),
                                train_code=3)
    out, err = capsys.readouterr()
    assert code == 3 and len(calls) == 1  # no evaluate after a failed training
    assert "| TF-IDF char 1-3 + LinearSVC |" in out and "train.py defaults" not in out
    assert err == "error: train.py failed (exit 3; its message is above); the table above has the baselines only\n"


@pytest.mark.parametrize("kind, message", [
    ({"tags": False}, "no tags or levels on any video"),  # captions only (MLDS), though imported with --test
    ({"text": False}, "no text (title, ASR, OCR) on any train/val video"),  # tags, no text (YouTube-8M)
    ({"test": False}, "no labelled test videos (import with --test N)"),
])
def test_text_baseline_names_what_the_manifest_lacks(monkeypatch, capsys, tmp_path, kind, message):
    m = lic_manifest(tmp_path / "M.jsonl", **kind)
    code, calls = text_baseline(monkeypatch, "--manifest", str(m), "--out", str(tmp_path / "RUN"), "--skip-model")
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and err.count("\n") == 1 and err.startswith(f"error: {m}: {message}")


# --- bench/tagheads.py: a recipe typo, a manifest without tags ------------------------------------------

def tagheads(monkeypatch, *argv) -> int:
    monkeypatch.setattr(sys, "argv", ["tagheads.py", *argv])
    monkeypatch.syspath_prepend(str(REPO / "bench"))  # (its `from common import table`)
    with pytest.raises(SystemExit) as e:
        runpy.run_path(str(REPO / "bench" / "tagheads.py"), run_name="__main__")
    return e.value.code


def test_tagheads_recipe_typo_is_one_line(monkeypatch, capsys, tmp_path):
    m = lic_manifest(tmp_path / "M.jsonl")
    common = ["--manifest", str(m), "--features", str(tmp_path / "store"), "--out", str(tmp_path / "out")]
    for recipe, message in [("epoch=1", "unknown setting 'epoch' (did you mean 'epochs'?)"),
                            ("epochs", "'epochs' is not name=value"), ("epochs=x", "epochs takes int, not 'x'")]:
        assert tagheads(monkeypatch, *common, "--recipe", recipe) == 2
        assert capsys.readouterr().err == f"error: --recipe {recipe!r}: {message}\n"
    # values train.py would refuse, and a head typo: refused before the baselines train, not after
    assert tagheads(monkeypatch, *common, "--recipe", "refit=ture") == 2  # (was False, silently)
    assert "refit takes bool (1/0, true/false, yes/no, on/off), not 'ture'" in capsys.readouterr().err
    for extra, message in [(["--recipe", "epochs=-1"], "--recipe epochs=-1: --epochs"),
                           (["--heads", "mlpp"], "--heads mlpp: --tag-head"),
                           # (trial 108: a TypeError traceback; a crash after the baselines trained)
                           (["--recipe", "out=x"], "out is the bench's own"),
                           (["--recipe", "quiet=1"], "quiet is the bench's own")]:
        assert tagheads(monkeypatch, *common, *extra) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and message in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "out").exists()


def test_tagheads_refuses_a_manifest_without_tags_before_training(monkeypatch, capsys, tmp_path):
    m = lic_manifest(tmp_path / "M.jsonl", tags=False)
    assert tagheads(monkeypatch, "--manifest", str(m), "--features", str(tmp_path / "store"), "--out",
                    str(tmp_path / "out"), "--no-logreg", "--heads", "mlp") == 2
    assert capsys.readouterr().err == f"error: {m}: no tags on any video (a captions-only manifest?); this " \
                                      "benchmark scores tag predictions (s2vt import yt8m)\n"
    assert not (tmp_path / "out").exists()
    # one tag a video (the demo's): the baselines were a traceback on its class indices (trial 96)
    m.write_text("".join(json.dumps({"video_id": f"v{i}", "split": ["train", "val", "test"][i % 3],
                                     "captions": [], "tags": [f"t{i % 2}"]}) + "\n" for i in range(6)))
    assert tagheads(monkeypatch, "--manifest", str(m), "--features", str(tmp_path / "store"), "--out",
                    str(tmp_path / "out"), "--heads", "mlp") == 2
    assert capsys.readouterr().err == f"error: {m}: one tag a video (single-label); this benchmark compares " \
                                      "multi-label tag heads by GAP@20, as on YouTube-8M (s2vt import yt8m)\n"
    # (trial 107) training videos without a "split" are train, as train.py reads them (`manifest.split_of`): they
    # were said to be no tagged training videos
    m.write_text("".join(json.dumps({"video_id": f"v{i}", **({"split": ["val", "test"][i % 2]} if i > 3 else {}),
                                     "captions": [], "tags": [f"t{i % 2}"]}) + "\n" for i in range(8)))
    assert tagheads(monkeypatch, "--manifest", str(m), "--features", str(tmp_path / "store"), "--out",
                    str(tmp_path / "out"), "--heads", "mlp") == 2
    assert "one tag a video (single-label)" in capsys.readouterr().err
    assert tagheads(monkeypatch, "--manifest", str(m), "--features", str(tmp_path / "store"), "--out",
                    str(tmp_path / "out"), "--no-logreg", "--heads", ",") == 2
    assert capsys.readouterr().err == "error: --heads ',' names no tag head (e.g. --heads mlp,moe)\n"
    assert not (tmp_path / "out").exists()


# --- bench/mlds_reference.py: issue 17's reference captioner ---------------------------------------------

def test_mlds_reference_trains_and_scores_val_and_test_each_epoch(tmp_path):
    """One JSON line per epoch and split with the caption metrics; a manifest that is not one: one line, exit 2."""
    import numpy as np

    from s2vt.store import FeatureStore

    store = FeatureStore(tmp_path / "features")
    store.init_meta({"source": "precomputed", "backbones": {"cnn": "precomputed"}, "dims": {"cnn": 8},
                     "dtype": "float16"})
    rows, rng = [], np.random.default_rng(0)
    for i in range(12):
        store.write("cnn", f"v{i}", rng.standard_normal((20, 8)).astype(np.float32) + i % 2)
        caps = ["a cat is eating food", "a cat eats"] if i % 2 else ["a man is playing a guitar", "a man plays"]
        rows.append({"video_id": f"v{i}", "split": "train" if i < 8 else "val" if i < 10 else "test", "captions": caps})
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    script = [sys.executable, str(REPO / "bench" / "mlds_reference.py"), "--features", str(tmp_path / "features"),
              "--epochs", "2"]
    done = subprocess.run([*script, "--manifest", str(manifest)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(x) for x in done.stdout.splitlines()]
    assert [(x["epoch"], x["split"]) for x in lines] == [(1, "val"), (1, "test"), (2, "val"), (2, "test")]
    assert all(0 <= x["CIDEr"] and 0 <= x["BLEU-4"] <= 1 and 1 <= x["distinct"] <= 2 for x in lines)
    bad = subprocess.run([*script, "--manifest", str(tmp_path / "nope.jsonl")], capture_output=True, text=True)
    assert bad.returncode == 2 and bad.stderr.startswith("error: ") and bad.stderr.count("\n") == 1, bad.stderr


# --- the benches' own options and files ----------------------------------------------------------------------

@pytest.mark.parametrize("script, args, message", [
    ("decode.py", ["--repeats", "0"], "must be at least 1"),
    ("train.py", ["--videos", "two"], "not an integer"),
    ("scaling.py", ["--lengths", "5,abc"], "not a number"),
    ("extract.py", ["--seconds", "0"], "must be at least 1"),
    ("shards.py", ["--workers", "-1"], "must be at least 0"),
    ("extract.py", ["--seconds", "inf"], "must be a finite number"),
    ("cuda.py", ["--smoke", "--out", str(REPO / "README.md")], "exists: name a new --out file"),
    ("cuda.py", ["--smoke", "--out", "/nonexistent-folder/c.json"], "no folder /nonexistent-folder"),
    ("cuda.py", ["--smoke", "--out", "/tmp/s2vt-cuda-x", "--work", "/tmp/s2vt-cuda-x"], "is inside --work"),
    # (trial 108: a second run into one --work timed an extraction of nothing)
    ("cuda.py", ["--smoke", "--out", "/tmp/s2vt-cuda-never.json", "--work", str(REPO / "docs")],
     "holds an earlier check's files: name a new --work"),
])
def test_a_bench_refuses_a_bad_number_before_any_work(script, args, message):
    """argparse's one usage line and exit 2, in well under the minutes the bench would run first."""
    done = subprocess.run([sys.executable, str(REPO / "bench" / script), *args], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_bench_main_says_a_user_error_in_one_line(capsys):
    from common import bench_main

    from s2vt.errors import UserError

    def fails():
        raise UserError("no such manifest")
    with pytest.raises(SystemExit) as stop:
        bench_main(fails)
    assert stop.value.code == 2 and capsys.readouterr().err == "error: no such manifest\n"
    with pytest.raises(SystemExit) as stop:
        bench_main(lambda: None)
    assert stop.value.code == 0


def test_make_videos_renames_whole_files_and_leaves_no_part(tmp_path, monkeypatch):
    """A render cut short leaves nothing a later run would reuse; a whole one appears under its name at once."""
    import common
    [video] = common.make_videos(tmp_path, 1, 1, size="64x36")
    assert video.stat().st_size > 0 and [p.name for p in tmp_path.iterdir()] == [video.name]

    def cut(cmd, check):
        Path(cmd[-1]).write_bytes(b"half a video")
        raise KeyboardInterrupt
    monkeypatch.setattr(common.subprocess, "run", cut)
    with pytest.raises(KeyboardInterrupt):
        common.make_videos(tmp_path / "cut", 1, 1, size="64x36")
    assert list((tmp_path / "cut").iterdir()) == []


def test_the_cuda_bench_trains_with_the_demos_recipe():
    """(trial 109) bench/cuda.py's "the demo's recipe" was a copy of its options that had lost three settings (it
    trained with attention, the refit and consensus weights): its options now come from s2vt.demo's DEMO_RECIPE,
    and train.py's parser reads them back as that recipe."""
    import argparse

    from s2vt.cli import add_train_arguments
    from s2vt.config import TrainConfig
    from s2vt.demo import DEMO_RECIPE
    from s2vt.options import from_args, given, value

    cuda = runpy.run_path(str(REPO / "bench" / "cuda.py"))
    p = argparse.ArgumentParser()
    add_train_arguments(p)
    args = p.parse_args(["--manifest", "m", "--features", "f", "--out", "o", *cuda["DEMO_OPTIONS"]])
    cfg = from_args(TrainConfig, args, given=given(args))
    assert {k: value(cfg, k) for k in DEMO_RECIPE} == DEMO_RECIPE
    assert set(given(args)) >= set(DEMO_RECIPE)
