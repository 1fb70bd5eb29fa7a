"""Bad input to `s2vt evaluate`, `score` and their outputs: one line and exit 2 where nothing can be
scored, a warning with the counts where part of it can, and no output replaced without --force."""
import json
import os
import re
from pathlib import Path

import pytest

from s2vt.locks import lock_text
from s2vt.predict import MismatchError, check_fit, evaluate

from .test_train import run, s2vt, store, with_nan_features  # noqa: F401  (the module's tiny store and one-epoch run)


def relabelled(store, path: Path, rename) -> Path:  # noqa: F811
    """The store's manifest with each test video's tags passed through `rename(index, tag)`."""
    rows = [json.loads(line) for line in Path(store[0]).read_text().splitlines()]
    tests = [r for r in rows if r["split"] == "test"]
    for i, r in enumerate(tests):
        r["tags"] = [rename(i, t) for t in r["tags"]]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_disjoint_tags_refused(store, run, tmp_path, capsys):  # noqa: F811
    """Tags none of which the model knows leave nothing to score where the split has no captions: refused. With
    captions, a caption model's captions are scored and the tags warned of (a small MSR-VTT test split of
    categories unseen in training was refused, captions and all; trial 75)."""
    manifest = relabelled(store, tmp_path / "m.jsonl", lambda i, t: f"other_{t}")
    code, err = s2vt(capsys, "evaluate", "--checkpoint", run / "best.pt", "--manifest", manifest, "--features",
                     store[1], "--out", tmp_path / "p.json", "--beam", "1")
    assert code == 0, err
    warning = [line for line in err if line.startswith("warning:") and "distinct tags" in line]
    assert len(warning) == 1 and warning[0].endswith("): they count as misses"), err
    metrics = json.loads((tmp_path / "p.metrics.json").read_text())
    assert metrics["CIDEr"] is not None and metrics["hit@1"] == 0
    rows = [json.loads(line) for line in manifest.read_text().splitlines()]
    manifest.write_text("".join(json.dumps({**r, "captions": []} if r["split"] == "test" else r) + "\n" for r in rows))
    code, err = s2vt(capsys, "evaluate", "--checkpoint", run / "best.pt", "--manifest", manifest, "--features",
                     store[1], "--out", tmp_path / "q.json")
    assert code == 2 and len(err) == 1
    assert err[0].startswith(f"error: none of the checkpoint's 3 tags is in the test split of {manifest}")
    assert not (tmp_path / "q.json").exists()


def test_partial_overlap_warns_with_counts(store, run, tmp_path, capsys):  # noqa: F811
    manifest = relabelled(store, tmp_path / "m.jsonl", lambda i, t: t if i % 2 else f"other_{t}")
    code, err = s2vt(capsys, "evaluate", "--checkpoint", run / "best.pt", "--manifest", manifest, "--features",
                     store[1], "--out", tmp_path / "p.json", "--beam", "1")
    assert code == 0
    warning = [line for line in err if line.startswith("warning:") and "distinct tags" in line]
    assert len(warning) == 1 and "not among the checkpoint's 3" in warning[0]
    assert (tmp_path / "p.metrics.json").exists()  # (its metrics, named after it)


def test_yt8m_label_ids_hint_vocabulary():
    entries = [{"video_id": "a", "tags": ["Games"]}, {"video_id": "b", "tags": ["Car"]}]
    with pytest.raises(MismatchError, match=r"none of the checkpoint's 3 tags .*trained from YouTube-8M shards "
                                            r"without --vocabulary"):
        check_fit("ckpt.pt", "m.jsonl", "test", entries, ["label0", "label1", "label2"], ["rgb"], False)


def test_text_model_on_a_manifest_without_text():
    entries = [{"video_id": "a", "tags": ["level1:x"]}]
    with pytest.raises(MismatchError, match="reads only text .* none of the test videos in m.jsonl has any"):
        check_fit("ckpt.pt", "m.jsonl", "test", entries, ["level1:x"], [], True)


def test_unknown_tags_with_newlines_are_said_on_one_line(capsys):
    """A manifest tag holding a raw newline broke evaluate's warning over two lines (hostile trial): its
    control characters are escaped as caption.py's lines escape them (errors.one_line). The text is shown as
    the manifest holds it: '&amp;' there is the manifest's own, not escaped for HTML."""
    entries = [{"video_id": "a", "tags": ["line1\nline2", "&amp; <b>\x1b[2J"]}, {"video_id": "b", "tags": ["x"]}]
    check_fit("ckpt.pt", "m.jsonl", "test", entries, ["x"], ["rgb"], False)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "\x1b" not in err, err
    assert "(first: &amp; <b>\\x1b[2J, line1\\nline2)" in err, err


def test_out_and_html_not_replaced_without_force(store, run, tmp_path, capsys):  # noqa: F811
    out = tmp_path / "p.json"
    out.write_text("mine")
    args = ["evaluate", "--checkpoint", run / "best.pt", "--manifest", store[0], "--features", store[1], "--out", out,
            "--beam", "1"]
    code, err = s2vt(capsys, *args)
    assert code == 2 and err == [f"error: {out} already exists: pass --force to replace it"] and out.read_text() == "mine"
    code, _ = s2vt(capsys, *args, "--force")
    assert code == 0 and json.loads(out.read_text())


def test_a_named_out_keeps_its_own_metrics_and_never_rewrites_the_runs(store, run, tmp_path, capsys):  # noqa: F811
    """`--out R/greedy.json` rewrote R/metrics_test.json, which then no longer described R/preds_test.json."""
    import shutil

    r = tmp_path / "R"
    shutil.copytree(run, r)
    base = ["evaluate", "--checkpoint", r / "best.pt", "--manifest", store[0], "--features", store[1]]
    assert s2vt(capsys, *base, "--beam", "2")[0] == 0  # the default: R/preds_test.json, R/metrics_test.json
    default = (r / "metrics_test.json").read_text()
    assert json.loads(default)["beam"] == 2
    assert s2vt(capsys, *base, "--beam", "1", "--out", r / "greedy.json")[0] == 0
    assert (r / "metrics_test.json").read_text() == default
    assert json.loads((r / "greedy.metrics.json").read_text())["beam"] == 1
    # refused as the predictions file is: its metrics alone, an earlier run's, are no more replaced silently
    (r / "greedy.json").unlink()
    code, err = s2vt(capsys, *base, "--beam", "1", "--out", r / "greedy.json")
    assert code == 2 and err == [f"error: {r / 'greedy.metrics.json'} already exists: pass --force to replace it"]
    assert not (r / "greedy.json").exists()
    assert s2vt(capsys, *base, "--beam", "1", "--out", r / "greedy.json", "--force")[0] == 0
    # a named preds_<split>.json keeps the name readers of a run's folder look for
    assert s2vt(capsys, *base, "--out", tmp_path / "preds_test.json", "--beam", "1")[0] == 0
    assert json.loads((tmp_path / "metrics_test.json").read_text())["split"] == "test"


def test_html_report_scores_cider_once(store, run, tmp_path, monkeypatch):  # noqa: F811
    from pycocoevalcap.cider.cider import Cider

    calls = []
    real = Cider.compute_score
    monkeypatch.setattr(Cider, "compute_score", lambda self, *a: calls.append(1) or real(self, *a))
    metrics = evaluate(str(run / "best.pt"), str(store[0]), str(store[1]), beam=1, out=str(tmp_path / "p.json"),
                       html=str(tmp_path / "r.html"))
    assert len(calls) == 1 and "CIDEr" in metrics and (tmp_path / "r.html").is_file()


def test_score_on_a_split_without_captions_says_so(tmp_path, capsys):
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"video_id": "a", "split": "test", "tags": ["x"]}) + "\n")
    preds = tmp_path / "p.json"
    preds.write_text(json.dumps({"a": "a caption"}))
    code, err = s2vt(capsys, "score", manifest, preds, "--split", "test")
    assert code == 2 and err == [f"error: {manifest}: no reference captions in split 'test': nothing to score "
                                 "captions against; its videos' tags are scored by s2vt evaluate (hit@1, GAP@20, F1; "
                                 "LIC2022's scores), from the model's checkpoint"]  # (tags alone: whose; trial 83)
    # the splits that do have references are named (`--split test` of a file of val videos alone said none)
    manifest.write_text("".join(json.dumps({"video_id": v, "split": s, "captions": ["a dog"]}) + "\n"
                                for v, s in (("b", "val"), ("c", "val"), ("d", "train"))))
    code, err = s2vt(capsys, "score", manifest, preds, "--split", "test")
    assert code == 2 and err == [f"error: {manifest}: no reference captions in split 'test': nothing to score "
                                 "captions against; its references are in split train (1 video), split val (2 videos)"]
    # rows without a split (a hand-made manifest) are train's: said, where nothing said so (trial 127)
    manifest.write_text(json.dumps({"video_id": "a", "captions": ["a dog"]}) + "\n")
    code, err = s2vt(capsys, "score", manifest, preds, "--split", "test")
    assert code == 2 and err == [f"error: {manifest}: no reference captions in split 'test': nothing to score "
                                 "captions against; its references are in split train (1 video); a row without a "
                                 "\"split\" is in train"]


def test_score_of_a_pipe_says_it_is_one_with_split_or_without(tmp_path, capsys):
    """`s2vt score <(cat M) <(cat P) --split test` said "--split needs a manifest (JSON lines of video_id records)"
    of a manifest read through a pipe, and without --split "not a regular file" (hostile trial): one line alike,
    naming the pipe, never waiting on it; a dangling link is named so, not "file not found"."""
    import os

    fifo = tmp_path / "refs"
    os.mkfifo(fifo)
    preds = tmp_path / "p.json"
    preds.write_text(json.dumps({"a": "a cat"}))
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"video_id": "a", "split": "test", "captions": ["a cat"]}) + "\n")
    said = f"error: {fifo}: a pipe (FIFO), not a regular file: save what it holds to a file, and pass that"
    for extra in (["--split", "test"], []):
        assert s2vt(capsys, "score", fifo, preds, *extra) == (2, [said])
        assert s2vt(capsys, "score", manifest, fifo, *extra) == (2, [said])
    (tmp_path / "gone").symlink_to(tmp_path / "nowhere.jsonl")
    assert s2vt(capsys, "score", tmp_path / "gone", preds, "--split", "test") == (2, [
        f"error: {tmp_path / 'gone'}: a broken symbolic link (to {tmp_path / 'nowhere.jsonl'}, which does not exist), "
        "not a regular file: remove the link, or make what it points to"])


def test_score_advice_fits_the_split_given_and_a_folder_is_named_so(tmp_path, capsys):
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps({"video_id": v, "split": split, "captions": ["a cat"]}) + "\n"
                                for v, split in (("a", "train"), ("b", "test"), ("c", "test"))))
    preds = tmp_path / "p.json"
    preds.write_text(json.dumps({"b": "a cat", "c": "a dog"}))
    code, err = s2vt(capsys, "score", manifest, preds, "--split", "train")
    # (trial 108) not "or --allow-partial": split train holds none of them, an overlap of nothing
    assert code == 2 and len(err) == 1 and err[0].endswith(f"the predicted ids are in split test of {manifest}, "
                                                           "not 'train': pass --split test"), err
    code, again = s2vt(capsys, "score", manifest, preds, "--split", "train", "--allow-partial")
    assert code == 2 and again[0].endswith("not 'train': pass --split test") and "another dataset" not in again[0]
    both = tmp_path / "both.json"  # (the predictions span test and val; --split train holds none of them)
    manifest.write_text(manifest.read_text() + json.dumps({"video_id": "d", "split": "val", "captions": ["a"]}) + "\n")
    both.write_text(json.dumps({"b": "a cat", "c": "a dog", "d": "a"}))
    code, err = s2vt(capsys, "score", manifest, both, "--split", "train")
    assert code == 2 and err[0].endswith(f"the predicted ids are in splits test, val of {manifest}, not 'train': "
                                         "pass --split test or --split val (with --allow-partial: its videos "
                                         "only)"), err
    assert s2vt(capsys, "score", manifest, both, "--split", "test", "--allow-partial")[0] == 0
    manifest.write_text("".join(json.dumps({"video_id": v, "split": split, "captions": ["a cat"]}) + "\n"
                                for v, split in (("a", "train"), ("b", "test"), ("c", "test"))))
    code, err = s2vt(capsys, "score", manifest, preds)  # (no --split: the same split named)
    assert code == 2 and err[0].endswith(f"in split test of {manifest}: pass --split test, or --allow-partial to "
                                         "score the overlap"), err
    refs = tmp_path / "refs.json"  # (--split needs a manifest: not advised)
    refs.write_text(json.dumps({"b": ["a cat"]}))
    code, err = s2vt(capsys, "score", refs, preds)
    assert code == 2 and err[0].endswith("has no references (c); pass --allow-partial to score the overlap")
    code, err = s2vt(capsys, "score", tmp_path, preds)
    assert code == 2 and err == [f"error: {tmp_path}: is a folder (expected a file)"]
    code, err = s2vt(capsys, "score", manifest, tmp_path, "--split", "test")
    assert code == 2 and err == [f"error: {tmp_path}: is a folder (expected a file)"]
    code, err = s2vt(capsys, "score", manifest, "/dev/null", "--split", "test")
    assert code == 2 and err == ["error: /dev/null: a character device, not a regular file: save what it holds to a "
                                 "file, and pass that"]
    other = tmp_path / "other.json"  # (ids of another dataset: no split and no --allow-partial would help)
    other.write_text(json.dumps({"zzz": "a cat", "yyy": "a dog"}))
    for extra in ([], ["--allow-partial"], ["--split", "test"]):
        code, err = s2vt(capsys, "score", manifest, other, *extra)
        assert code == 2 and err == ["error: no id is both predicted and referenced: 2 predicted (first predicted: "
                                     f"yyy, zzz), {3 if not extra or extra[0] != '--split' else 2} referenced; "
                                     "are these predictions of another dataset?"], (extra, err)
    other.write_text("{}")  # (nothing predicted: said as such, as export says it)
    for extra in ([], ["--allow-partial"], ["--split", "test"]):
        code, err = s2vt(capsys, "score", manifest, other, *extra)
        assert code == 2 and err == [f"error: {other}: no predictions (an empty object)"], (extra, err)


def test_outputs_never_replace_a_device_or_each_other(tmp_path):
    """An atomic write's rename would swap a device or pipe for a plain file (/dev/null as root);
    a folder named as an output says so; the report never lands on this run's predictions."""
    import os

    import pytest

    from s2vt.decode import DecodeConfig
    from s2vt.errors import SettingError
    from s2vt.fileio import OutputError, atomic_write_bytes, refuse_existing

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(OutputError, match="not a regular file"):
        atomic_write_bytes(fifo, b"x")
    assert fifo.is_fifo()
    with pytest.raises(OutputError, match="is a folder"):
        refuse_existing([tmp_path], force=True)
    for bad in (float("nan"), float("inf"), -1.0):
        with pytest.raises(SettingError, match="length-penalty"):
            DecodeConfig(length_penalty=bad)


def test_non_finite_features_are_one_line_and_nothing_written(store, run, tmp_path, capsys):  # noqa: F811
    manifest, features, bad = with_nan_features(store, tmp_path, "test")
    for extra in ([], ["--skip-missing"]):  # (a file there but unreadable is no missing one to skip)
        code, err = s2vt(capsys, "evaluate", "--checkpoint", run / "best.pt", "--manifest", manifest, "--features",
                         features, "--out", tmp_path / "p.json", "--beam", "1", *extra)
        assert code == 2 and err == [f"error: {bad}: cannot read features (holds NaN or infinite values); "
                                     "remove it and run extract again, which extracts its video anew"]
        assert not (tmp_path / "p.json").exists() and not (tmp_path / "p.metrics.json").exists()


def test_json_outputs_never_hold_nan(tmp_path):
    import pytest

    from s2vt.fileio import OutputError, atomic_write_json

    (tmp_path / "m.json").write_text("kept")
    for bad in (float("nan"), float("inf"), -float("inf")):
        with pytest.raises(OutputError, match=r"^cannot write .*m\.json: a value is NaN or infinite"):
            atomic_write_json(tmp_path / "m.json", {"scores": [{"p": bad}]})
    assert (tmp_path / "m.json").read_text() == "kept" and [p.name for p in tmp_path.iterdir()] == ["m.json"]
    atomic_write_json(tmp_path / "m.json", {"p": 0.5})
    assert json.loads((tmp_path / "m.json").read_text()) == {"p": 0.5}


def test_report_never_replaces_this_runs_predictions(store, run, tmp_path, capsys):  # noqa: F811
    same = tmp_path / "same.json"
    code, err = s2vt(capsys, "evaluate", "--checkpoint", run / "best.pt", "--manifest", store[0], "--features",
                     store[1], "--out", same, "--html", same)
    assert code == 2 and len(err) == 1 and "cannot write the report to" in err[0]
    assert not same.exists()
    # names kept for other files (as --out refuses them): a later evaluate or a reader takes the page for those
    for name, why in [("p.metrics.json", "kept for metrics files"), ("metrics_val.json", "kept for metrics files"),
                      ("preds_test.json", "predictions of split test"), ("preds_val.json", "predictions of split val")]:
        code, err = s2vt(capsys, "evaluate", "--checkpoint", run / "best.pt", "--manifest", store[0], "--features",
                         store[1], "--out", same, "--html", tmp_path / name, "--beam", "1")
        assert code == 2 and len(err) == 1 and f"cannot write the report to {tmp_path / name}" in err[0], err
        assert why in err[0] and not (tmp_path / name).exists()
    assert sorted(tmp_path.iterdir()) == []


def test_a_runs_predictions_given_as_the_manifest_are_said_to_be_no_manifest(store, run, tmp_path, capsys):  # noqa: F811
    """`evaluate --manifest RUN/preds_test.json` (the file evaluate writes by default) said "cannot write
    preds_test.json: it is an input of this command", hiding the mistake: that file is no manifest (trial 94)."""
    import shutil
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    args = ["evaluate", "--checkpoint", copy / "best.pt", "--features", store[1], "--beam", "1", "--split", "val"]
    code, err = s2vt(capsys, *args, "--manifest", store[0])
    assert code == 0 and (copy / "preds_val.json").is_file(), err
    before = (copy / "preds_val.json").read_bytes()
    code, err = s2vt(capsys, *args, "--manifest", copy / "preds_val.json", "--force")
    lines = len(before.splitlines())
    assert code == 2 and err == [f"error: {copy / 'preds_val.json'}: one JSON document over {lines} lines, not "
                                 "JSON lines (one object a line); it looks like predictions (evaluate's, a JSON "
                                 "list): pass the manifest the videos came from"], err
    assert (copy / "preds_val.json").read_bytes() == before
    # a manifest that is one (named as the output by --out): the output is refused, as before
    code, err = s2vt(capsys, *args, "--manifest", store[0], "--out", store[0], "--force")
    assert (code, err) == (2, [f"error: cannot write {store[0]}: it is an input of this command"])


def test_outputs_never_write_over_a_video_the_manifest_lists(store, run, tmp_path, capsys):  # noqa: F811
    """`--out odd/good1.mp4 --force` replaced that video, one of the manifest's, by the predictions (and the
    HTML, which reads it, then showed 'no video stream'): --out, its metrics file and --html are refused
    when they are (or lead by a link to) any video the manifest lists, whatever its split (hostile trial)."""
    rows = [json.loads(line) for line in Path(store[0]).read_text().splitlines()]
    videos = tmp_path / "videos"
    videos.mkdir()
    for r in rows:
        r["path"] = f"videos/{r['video_id']}.mp4"
        (tmp_path / r["path"]).write_bytes(b"a video " + r["video_id"].encode())
    train_video = next(r["video_id"] for r in rows if r["split"] == "train")
    rows[0]["path"] = "videos/linked.mp4"  # (listed through a link: the file it leads to is the video)
    (videos / "linked.mp4").symlink_to(videos / "real.mp4")
    (videos / "real.mp4").write_bytes(b"the real video")
    rows[1]["path"] = "videos/clip.metrics.json"  # (a video under the name of a metrics file: odd, but listed)
    (videos / "clip.metrics.json").write_bytes(b"a video named oddly")
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "to_video.html").symlink_to(videos / f"{train_video}.mp4")
    before = {p: p.read_bytes() for p in videos.iterdir()}
    args = ["evaluate", "--checkpoint", run / "best.pt", "--manifest", manifest, "--features", store[1], "--beam", "1",
            "--force"]
    for extra, named in ((["--out", videos / f"{train_video}.mp4"], videos / f"{train_video}.mp4"),
                         (["--out", videos / "real.mp4"], videos / "real.mp4"),
                         (["--out", videos / "clip.json"], videos / "clip.metrics.json"),
                         (["--out", tmp_path / "p.json", "--html", tmp_path / "to_video.html"],
                          videos / f"{train_video}.mp4")):  # (named as the file a link leads to: the one written)
        code, err = s2vt(capsys, *args, *extra)
        assert code == 2 and len(err) == 1, err
        assert err[0].startswith(f"error: cannot write {named}: it is a video {manifest} lists ("), err
        assert {p: p.read_bytes() for p in videos.iterdir()} == before
    assert not (tmp_path / "p.json").exists()
    code, err = s2vt(capsys, *args, "--out", videos / "p.json", "--html", tmp_path / "r.html")  # (beside them: fine)
    assert code == 0 and (videos / "p.json").is_file() and (tmp_path / "r.html").is_file(), err


def test_an_out_through_a_symbolic_link_writes_its_file(store, run, tmp_path, capsys):  # noqa: F811
    """--out LINK was replaced by a plain file (the file it named untouched); a broken link as well,
    after the whole split was decoded: now refused in one line before."""
    import os

    (tmp_path / "keep").mkdir()
    target, link = tmp_path / "keep" / "p.json", tmp_path / "p.json"
    target.write_text("{}")
    link.symlink_to(target)
    args = ["evaluate", "--checkpoint", run / "best.pt", "--manifest", store[0], "--features", store[1], "--beam", "1"]
    code, err = s2vt(capsys, *args, "--out", link, "--force")
    assert code == 0 and link.is_symlink() and os.readlink(link) == str(target), err
    # (its metrics beside the file written, named after it: see the test below)
    assert json.loads(target.read_text()) and (tmp_path / "keep" / "p.metrics.json").is_file()
    broken = tmp_path / "q.json"
    broken.symlink_to(tmp_path / "gone.json")
    code, err = s2vt(capsys, *args, "--out", broken)
    assert code == 2 and err == [f"error: cannot write {broken}: {broken} is a broken symbolic link (to "
                                 f"{tmp_path / 'gone.json'}, which does not exist): remove it, or make what it "
                                 "points to"], err
    assert broken.is_symlink() and not (tmp_path / "q.metrics.json").exists()


def test_evaluate_names_its_outputs_as_given_through_a_link(store, run, tmp_path, capsys):  # noqa: F811
    """`--out LINK` was named by the file it leads to, a name the user never typed, in 'X already exists' and in
    'only the predictions were written, to X' (hostile trial; export names its --out as given): now as given, an
    existing one with the file a write would replace."""
    (tmp_path / "keep").mkdir()
    target, link = tmp_path / "keep" / "p.json", tmp_path / "p.json"
    target.write_text("{}")
    link.symlink_to(target)
    bare = tmp_path / "bare.jsonl"  # (its test videos without captions or tags: nothing to score)
    bare.write_text("".join(json.dumps({k: v for k, v in e.items() if k not in ("captions", "tags")}) + "\n"
                            for line in Path(store[0]).read_text().splitlines()
                            if (e := json.loads(line))["split"] == "test"))
    args = ["evaluate", "--checkpoint", run / "best.pt", "--manifest", bare, "--features", store[1], "--beam", "1",
            "--out", link]
    code, err = s2vt(capsys, *args)
    assert (code, err) == (2, [f"error: {link} already exists (a link to {target}): pass --force to replace it"])
    code, err = s2vt(capsys, *args, "--force")
    assert code == 0 and err[-2].endswith(f": nothing to score; the predictions were written to {link}; their metrics "
                                     "file holds no scores"), err
    assert link.is_symlink() and json.loads(target.read_text())


def test_an_out_that_is_a_symbolic_link_is_judged_locked_and_paired_by_the_file_written(store, run, tmp_path,  # noqa: F811
                                                                                      capsys):
    """`--out LINK` was judged by the link's folder and name, not the file written (hostile trial): a link into a
    live training run's folder rewrote its file (`--out RUN/p.json` refused), the lock was taken beside the link
    (two evaluates wrote q.json at once), and `--out qlink.json --force --beam 1` left q.json's beam-1 predictions
    beside q.metrics.json of beam 5. Now the checks, the lock and the metrics file are the written file's."""
    import shutil

    args = ["evaluate", "--checkpoint", run / "best.pt", "--manifest", store[0], "--features", store[1], "--beam", "1",
            "--force"]
    live = tmp_path / "live"
    shutil.copytree(run, live)
    train_lock = live / ".s2vt-train.lock"
    other = os.getppid()  # (a live process that is not this one: the training run, or another evaluate)
    train_lock.write_text(lock_text(other))
    (live / "x.json").write_text("run's")
    (tmp_path / "xlink.json").symlink_to(live / "x.json")
    code, err = s2vt(capsys, *args, "--out", tmp_path / "xlink.json")
    assert (code, err) == (2, [f"error: cannot write {live / 'x.json'}: a training run (pid {other}) is writing {live}: "
                               f"wait for it to end, or name another --out (if none runs, remove {train_lock})"]), err
    assert (live / "x.json").read_text() == "run's" and not (tmp_path / "xlink.metrics.json").exists()
    # the metrics file a link too: judged as the file it names (it rewrote a run's metrics.csv, a live run's
    # file, a store's meta.json past every check; hostile trial)
    (tmp_path / "ml.metrics.json").symlink_to(live / "x.json")
    code, err = s2vt(capsys, *args, "--out", tmp_path / "ml.json")
    assert (code, err) == (2, [f"error: cannot write {live / 'x.json'}: a training run (pid {other}) is writing {live}: "
                               f"wait for it to end, or name another --out (if none runs, remove {train_lock})"]), err
    (tmp_path / "meta.metrics.json").symlink_to(Path(store[1]) / "meta.json")
    meta = (Path(store[1]) / "meta.json").read_bytes()
    code, err = s2vt(capsys, *args, "--out", tmp_path / "meta.json")
    assert code == 2 and len(err) == 1 and f"{Path(store[1]) / 'meta.json'}" in err[0], err
    assert (Path(store[1]) / "meta.json").read_bytes() == meta and (live / "x.json").read_text() == "run's"
    assert not (tmp_path / "ml.json").exists() and not (tmp_path / "meta.json").exists()

    q, qlink = tmp_path / "q.json", tmp_path / "qlink.json"
    qlink.symlink_to(q.name)
    assert s2vt(capsys, *args[:-3], "--beam", "2", "--out", q)[0] == 0
    lock = tmp_path / ".q.json.lock"
    lock.write_text(lock_text(other))  # (another evaluate writing q.json)
    code, err = s2vt(capsys, *args, "--out", qlink)
    assert (code, err) == (2, [f"error: --out {qlink} (a link to {q}): another s2vt evaluate (pid {other}) is "
                               f"writing it: wait for it to end, or name another --out (if none runs, remove "
                               f"{lock})"]), err
    lock.unlink()
    code, err = s2vt(capsys, *args, "--out", qlink)
    assert code == 0 and qlink.is_symlink(), err
    assert json.loads((tmp_path / "q.metrics.json").read_text())["beam"] == 1  # (the predictions' own, rewritten)
    assert not (tmp_path / "qlink.metrics.json").exists() and not (tmp_path / ".qlink.json.lock").exists()


def test_one_metrics_file_belongs_to_one_out_and_is_locked_with_it(store, run, tmp_path, capsys):  # noqa: F811
    """`--out m1.json`, `--out m1` and `--out m1.txt` all wrote m1.metrics.json, only the --out name locked: two
    evaluates could write one metrics file, and `--out m1 --beam 1 --force` left m1.metrics.json of beam 1 beside
    m1.json of beam 5 (hostile trial). Now --out is NAME.json (one name per metrics file), and the metrics file
    is locked too."""
    args = ["evaluate", "--checkpoint", run / "best.pt", "--manifest", store[0], "--features", store[1], "--beam", "1",
            "--force"]
    m1 = tmp_path / "m1.json"
    assert s2vt(capsys, *args[:-3], "--beam", "2", "--out", m1)[0] == 0
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    for name in ("m1", "m1.txt", "m1.JSON"):
        code, err = s2vt(capsys, *args, "--out", tmp_path / name)
        assert (code, err) == (2, [f"error: cannot write {tmp_path / name}: evaluate writes its predictions as "
                                   "NAME.json and their metrics beside them as NAME.metrics.json: name --out "
                                   "NAME.json"]), err
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    lock = tmp_path / ".m1.metrics.json.lock"
    lock.write_text(lock_text(os.getppid()))  # (another live process writing m1.metrics.json)
    code, err = s2vt(capsys, *args, "--out", m1)
    # (named with the --out typed: '--out m1.metrics.json' was never typed; hostile trial)
    assert (code, err) == (2, [f"error: the metrics file {tmp_path / 'm1.metrics.json'} of --out {m1}: another s2vt "
                               f"evaluate (pid {os.getppid()}) is writing it: wait for it to end, or name another "
                               f"--out (if none runs, remove {lock})"]), err
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p != lock} == before
    lock.unlink()
    assert s2vt(capsys, *args, "--out", m1)[0] == 0
    assert json.loads((tmp_path / "m1.metrics.json").read_text())["beam"] == 1 and not lock.exists()


def test_an_html_naming_the_out_file_by_another_path_is_said_so(store, run, tmp_path, capsys, monkeypatch):  # noqa: F811
    """`mkdir sub3; evaluate --out p8.json --html sub3/../p8.json` said another evaluate (the pid of this one) was
    writing it (hostile trial): one file named twice is said as such."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub3").mkdir()
    args = ["evaluate", "--checkpoint", run / "best.pt", "--manifest", store[0], "--features", store[1], "--beam", "1",
            "--out", "p8.json"]
    code, err = s2vt(capsys, *args, "--html", "sub3/../p8.json")
    assert (code, err) == (2, ["error: cannot write the report to sub3/../p8.json: --html names the same file as "
                               "--out (p8.json)"]), err
    (tmp_path / "link.html").symlink_to("p8.metrics.json")  # (through a link: the metrics file)
    code, err = s2vt(capsys, *args, "--html", "link.html")
    assert (code, err) == (2, ["error: cannot write the report to link.html: --html names the same file as its "
                               "metrics file (p8.metrics.json)"]), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.html", "sub3"]


def test_an_out_naming_a_folder_is_one_line(store, run, tmp_path, capsys, monkeypatch):  # noqa: F811
    # ".", "/" had no name to replace (a traceback); "newdir/" wrote a file named newdir
    monkeypatch.chdir(tmp_path)
    for out in (".", "./", "/", "newdir/"):
        code, err = s2vt(capsys, "evaluate", "--checkpoint", run / "best.pt", "--manifest", store[0], "--features",
                         store[1], "--out", out, "--beam", "1")
        what = "ends with '/', so it names a folder, not a file" if out == "newdir/" else "is a folder"
        said = (f"error: {out} {what}: name a file to write (--out: the predictions JSON)" if out != "/" else
                "error: --out /: that is the file system's root (an unset shell variable before the '/'?): name "
                "another --out")
        assert code == 2 and err == [said], err
    assert not (tmp_path / "newdir").exists() and not (tmp_path / "metrics_test.json").exists()


@pytest.mark.parametrize("decoding, reranks", [([], True), (["--consensus", "0"], False), (["--beam", "1"], False)])
def test_test_videos_the_model_trained_on_are_said_however_decoded(decoding, reranks, store, run,  # noqa: F811
                                                                   tmp_path, capsys):
    """A manifest re-imported with another --seed puts training videos in test: the only warning was consensus
    reranking's, and none with --consensus 0, though the scores overstate the model either way."""
    rows = [json.loads(line) for line in Path(store[0]).read_text().splitlines()]
    tests = sum(r["split"] == "test" for r in rows)
    for r in [r for r in rows if r["split"] == "train"][:3]:
        r["split"] = "test"
    manifest = tmp_path / "reseeded.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, err = s2vt(capsys, "evaluate", "--checkpoint", run / "best.pt", "--manifest", manifest, "--features",
                     store[1], "--out", tmp_path / "p.json", *decoding)
    assert code == 0
    said = [line for line in err if "training or val videos" in line]
    assert said == [f"warning: 3 of {tests + 3} videos of split test were training or val videos of "
                    f"{run / 'best.pt'} (its caption memory lists them): the scores overstate the model"
                    + (", and consensus reranking finds their own captions among the neighbours" if reranks else "")
                    + " (was the manifest imported anew, with another --seed or other files as test?)"]
    code, err = s2vt(capsys, "evaluate", "--checkpoint", run / "best.pt", "--manifest", store[0], "--features",
                     store[1], "--out", tmp_path / "q.json", *decoding)
    assert code == 0 and not any("training or val videos" in line for line in err)


def test_a_model_that_scores_nan_is_named_not_the_output_file(store, run, tmp_path, capsys, monkeypatch):  # noqa: F811
    """Finite but blown-up weights (a diverged run's best.pt) gave NaN scores, and the one line
    blamed the predictions file: "cannot write p.json: a value is NaN"."""
    import numpy as np

    from s2vt import predict

    real = predict.predict

    def blown_up(*args, **kwargs):
        captions, probs = real(*args, **kwargs)
        return captions, np.full_like(probs, np.nan)

    monkeypatch.setattr(predict, "predict", blown_up)
    manifest, features = store
    code, err = s2vt(capsys, "evaluate", "--checkpoint", run / "best.pt", "--manifest", manifest, "--features",
                     features, "--split", "val", "--out", tmp_path / "p.json")
    assert code == 2 and err[-1].startswith(f"error: {run / 'best.pt'}: its tag scores are NaN or infinite"), err
    assert "lower --lr" in err[-1] and not (tmp_path / "p.json").exists()


def test_out_names_kept_for_other_files_and_unwritable_folders_are_refused_before_decoding(
        store, run, tmp_path, capsys, monkeypatch):  # noqa: F811
    """--out preds_val.json for split test was taken, then replaced by a plain `evaluate --split val`;
    --out X.metrics.json was read as metrics; an --out in a folder nothing can be written to was found
    only after the whole split was decoded."""
    from s2vt import predict

    def no_decoding(*args, **kwargs):
        raise AssertionError("the checkpoint was loaded: the refusal came after the work")
    monkeypatch.setattr(predict, "load_checkpoint", no_decoding)
    args = ["evaluate", "--checkpoint", run / "best.pt", "--manifest", store[0], "--features", store[1], "--beam", "1"]
    for name, why in [("preds_val.json", "kept for the predictions of split val (this is split test)"),
                      ("metrics_val.json", "names like metrics_<split>.json and X.metrics.json are kept"),
                      ("x.metrics.json", "names like metrics_<split>.json and X.metrics.json are kept")]:
        code, err = s2vt(capsys, *args, "--out", tmp_path / name)
        assert code == 2 and len(err) == 1 and why in err[0], err
        assert not (tmp_path / name).exists()
    if os.path.isdir("/proc/self"):  # (nothing can be created in /proc, root or not)
        code, err = s2vt(capsys, *args, "--out", "/proc/x.json")
        assert code == 2 and len(err) == 1 and err[0].startswith("error: ") and "/proc" in err[0], err


def test_no_such_split_advice_names_an_out_kept_for_that_split(store, run, tmp_path, capsys):  # noqa: F811
    """(trial 106) `--out preds_test.json` on a manifest without a test split was told "pass --split val", then
    refused for that name: the advice says both."""
    lines = [json.loads(x) for x in Path(store[0]).read_text().splitlines()]
    manifest = tmp_path / "no_test.jsonl"
    manifest.write_text("".join(json.dumps(e) + "\n" for e in lines if e.get("split") != "test"))
    args = ["evaluate", "--checkpoint", run / "best.pt", "--manifest", manifest, "--features", store[1], "--beam", "1"]
    code, err = s2vt(capsys, *args, "--out", tmp_path / "preds_test.json")
    assert code == 2 and err[-1].endswith("pass --split val, with an --out not named preds_test.json (kept for split "
                                          "test's predictions)"), err
    code, err = s2vt(capsys, *args, "--out", tmp_path / "p.json")
    assert code == 2 and err[-1].endswith("pass --split val"), err


def test_a_ctrl_c_while_decoding_leaves_no_new_folder_and_says_what_to_rerun(store, run, tmp_path, capsys,  # noqa: F811
                                                                              monkeypatch):
    """Ctrl-C while decoding left the --out folder it had made, empty, and said a bare "interrupted"."""
    from s2vt import predict

    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(predict, "predict", ctrl_c)
    out = tmp_path / "new" / "deeper" / "p.json"
    args = ["evaluate", "--checkpoint", run / "best.pt", "--manifest", store[0], "--features", store[1], "--out", out,
            "--beam", "1"]
    code, err = s2vt(capsys, *args)
    assert code == 130 and err == [f"interrupted: {out} and {out.with_name('p.metrics.json')} not written; to "
                                   f"start again: s2vt {' '.join(map(str, args))}"], err
    assert not (tmp_path / "new").exists()

    monkeypatch.undo()
    import s2vt.fileio as fileio
    real = fileio.temp_path
    monkeypatch.setattr(fileio, "temp_path", lambda path: (_ for _ in ()).throw(KeyboardInterrupt)
                        if path.name.endswith(".metrics.json") else real(path))
    code, err = s2vt(capsys, *args)  # (between the two files: both are written or neither, so the rerun is the same)
    assert code == 130 and err == [f"interrupted: {out} and {out.with_name('p.metrics.json')} not written; to "
                                   f"start again: s2vt {' '.join(map(str, args))}"], err
    assert not out.exists() and not out.with_name("p.metrics.json").exists()


def test_an_out_another_evaluate_is_writing_is_refused(store, run, tmp_path, capsys):  # noqa: F811
    """Two evaluates into the same --out at once both succeeded, the one ending last silently winning."""
    import subprocess
    import sys

    out = tmp_path / "p.json"
    lock = tmp_path / ".p.json.lock"
    lock.write_text(lock_text())  # (a live process: as a running evaluate's lock holds)
    args = ["evaluate", "--checkpoint", run / "best.pt", "--manifest", store[0], "--features", store[1], "--out", out,
            "--beam", "1", "--force"]
    code, err = s2vt(capsys, *args)
    assert (code, err) == (2, [f"error: --out {out}: another s2vt evaluate (pid {os.getpid()}) is writing it: wait "
                               f"for it to end, or name another --out (if none runs, remove {lock})"])
    assert sorted(p.name for p in tmp_path.iterdir()) == [".p.json.lock"]
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    lock.write_text(gone.stdout)  # a killed evaluate's lock: its process is gone, the lock is stale
    code, err = s2vt(capsys, *args)
    assert code == 0 and out.is_file() and not lock.exists(), err


def renamed(store, path: Path, splits=("test",), keep: int = 0) -> Path:  # noqa: F811
    """The store's manifest with the videos of `splits` renamed (another dataset's ids, e.g. MSR-VTT's),
    but for the first `keep` of them."""
    rows = [json.loads(line) for line in Path(store[0]).read_text().splitlines()]
    for i, r in enumerate([r for r in rows if r["split"] in splits][keep:]):
        r["video_id"] = f"video{i}"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_a_store_with_none_of_the_splits_videos_is_refused(store, run, tmp_path, capsys):  # noqa: F811
    """The wrong --features (another dataset's store): it printed "4 of 4 test videos lack features ...
    4 with none at all", then scored predictions made from the missing vector alone, exit 0."""
    manifest = renamed(store, tmp_path / "m.jsonl")
    out = tmp_path / "sub" / "p.json"
    for extra in ([], ["--skip-missing"]):
        code, err = s2vt(capsys, "evaluate", "--checkpoint", run / "best.pt", "--manifest", manifest, "--features",
                         store[1], "--out", out, "--beam", "1", *extra)
        assert code == 2 and err == [f"error: {store[1]}: none of the 4 test videos of {manifest} has features there "
                                     "(first: video0, video1, video2): is it the feature store of another dataset?"]
        assert not out.exists() and not out.parent.exists()
    # some of them there: predicted as before, with the warning
    manifest = renamed(store, tmp_path / "m.jsonl", keep=1)
    code, err = s2vt(capsys, "evaluate", "--checkpoint", run / "best.pt", "--manifest", manifest, "--features",
                     store[1], "--out", out, "--beam", "1")
    assert code == 0 and out.exists()
    assert [line for line in err if "lack features" in line and "3 of 4 test videos" in line and "3 with none" in line]


def refitted_without_memory(run, path: Path, ids: bool) -> Path:  # noqa: F811
    """The run's best.pt as a checkpoint without a caption memory (a tag-only model has none), its
    refit's ids kept or dropped (a checkpoint written before the refit recorded them)."""
    import torch

    from s2vt.checkpoint import write_checkpoint

    ckpt = torch.load(run / "best.pt", weights_only=True)
    del ckpt["memory"]
    if not ids:
        del ckpt["refit"]["ids"]
    write_checkpoint(path, ckpt)
    return path


def test_the_refit_warning_goes_by_the_videos_not_the_splits_name(store, run, tmp_path, capsys):  # noqa: F811
    """Another dataset's val split was called "among its training videos" of a refitted best.pt."""
    import torch

    refit = torch.load(run / "best.pt", weights_only=True)["refit"]
    val = [json.loads(x)["video_id"] for x in Path(store[0]).read_text().splitlines() if '"val"' in x]
    assert refit["videos"] == len(refit["ids"]) and set(val) <= set(refit["ids"])  # (training records them)
    import shutil

    other = renamed(store, tmp_path / "other.jsonl", ("val",))
    features = shutil.copytree(store[1], tmp_path / "features")  # (another dataset's: its val videos' own ids)
    for i, vid in enumerate(val):
        for f in features.glob(f"*/{vid}.npy"):
            f.rename(f.with_name(f"video{i}.npy"))
    base = ["--split", "val", "--beam", "1", "--out"]
    said = f"warning: {len(val)} of {len(val)} videos of split val were training or val videos of {run / 'best.pt'}"
    # a caption model: its memory lists them, one warning (not a second one for the refit)
    code, err = s2vt(capsys, "evaluate", "--checkpoint", run / "best.pt", "--manifest", store[0], "--features",
                     store[1], *base, tmp_path / "a.json")
    assert code == 0 and [x for x in err if x.startswith(said)] and len(err) == 2 and err[1].startswith("wrote "), err
    for ckpt, ids in ((tmp_path / "ids.pt", True), (tmp_path / "old.pt", False)):
        refitted_without_memory(run, ckpt, ids)
        code, err = s2vt(capsys, "evaluate", "--checkpoint", ckpt, "--manifest", store[0], "--features", store[1],
                         *base, tmp_path / "b.json", "--force")
        assert code == 0 and len(err) == 2 and err[1].startswith("wrote "), err  # (then where it wrote)
        if ids:
            assert err[0].startswith(f"warning: {len(val)} of {len(val)} videos of split val were training videos of "
                                     f"{ckpt} (it was refitted on train + val, {refit['videos']} videos")
        else:  # (which manifest it trained on is unknown: said as a condition)
            assert err[0].startswith(f"warning: {ckpt} was refitted on train + val ({refit['videos']} videos) and does "
                                     "not record their ids (written before s2vt recorded them, or streamed from shards "
                                     "without them): if this is the manifest it was trained on, split val")
        # another dataset's val split: no warning when the ids are known
        code, err = s2vt(capsys, "evaluate", "--checkpoint", ckpt, "--manifest", other, "--features", features,
                         *base, tmp_path / "c.json", "--force")
        assert code == 0
        if ids:
            assert not [x for x in err if "refitted" in x or "training videos" in x], err
        else:  # (the condition is all it can say)
            assert len(err) == 2 and "if this is the manifest it was trained on" in err[0], err
    code, err = s2vt(capsys, "evaluate", "--checkpoint", run / "best.pt", "--manifest", other, "--features",
                     features, *base, tmp_path / "d.json")
    assert code == 0 and not [x for x in err if "refitted" in x or "training" in x], err


def test_a_tag_repeated_in_one_video_counts_once(tmp_path, capsys):
    """["a", "a"] in one line turned single-label data into multi-label (another loss, other metrics)."""
    from s2vt.data import Labels
    from s2vt.manifest import read_manifest

    manifest = tmp_path / "m.jsonl"
    rows = [{"video_id": "v0", "tags": ["a", "a"]}, {"video_id": "v1", "tags": ["b"]},
            {"video_id": "v2", "tags": ["b", "c", "b", "c"]}, {"video_id": "v3", "tags": ["c"]}]
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    entries = read_manifest(manifest)
    assert [e["tags"] for e in entries] == [["a"], ["b"], ["b", "c"], ["c"]]  # (order kept)
    assert capsys.readouterr().err.splitlines() == [
        f"warning: {manifest}: 2 videos list a tag more than once (first: v0, v2): each counts once"]
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows[:2]))
    labels = Labels.build(read_manifest(manifest))
    assert labels.names == ["a", "b"] and not labels.multilabel  # single-label, as the data is
    assert capsys.readouterr().err.strip() == f"warning: {manifest}: 1 video lists a tag more than once (first: v0): " \
                                              "each counts once"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows[1:2]))
    read_manifest(manifest)
    assert capsys.readouterr().err == ""  # (no repeat: no warning)


# `s2vt evaluate` held where a SIGTERM does most harm, its --out lock taken: with Java, as METEOR's JVM
# starts scoring (not after: loading its tables takes seconds), else as the predictions are about to be
# written. It prints the JVM's pid (0: none) when it gets there.
HELD_EVALUATE = """
import sys, threading
from pycocoevalcap.meteor.meteor import Meteor
from s2vt import predict
def held(pid):
    print(pid, flush=True)
    threading.Event().wait(60)
Meteor.compute_score = lambda self, gts, res: held(self.meteor_p.pid)
predict.atomic_write_all = lambda items: held(0)
from s2vt.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_sigterm_while_writing_leaves_no_lock_folder_or_jvm(store, run, tmp_path):  # noqa: F811
    """A SIGTERM (`kill`, a scheduler or a container stopping the job) ended evaluate at once, as Python's
    default does: the --out lock stayed (the next evaluate was refused until it was removed by hand), so
    did the folder it had made, and METEOR's JVM outlived it. Now it ends as a Ctrl-C does, exit 143."""
    import shutil
    import signal
    import subprocess
    import sys

    from ..conftest import REPO

    out = tmp_path / "new" / "p.json"
    args = ["evaluate", "--checkpoint", run / "best.pt", "--manifest", store[0], "--features", store[1], "--out", out,
            "--beam", "1"]
    proc = subprocess.Popen([sys.executable, "-c", HELD_EVALUATE, *map(str, args)], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONWARNINGS": "ignore"})
    try:
        java = proc.stdout.readline().strip()
        assert java.isdigit(), proc.communicate(timeout=20)[1]  # (it never got there: its error)
        assert (out.parent / ".p.json.lock").is_file()  # (held: the signal comes while it is writing)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = [line for line in proc.stderr.read().splitlines() if not line.startswith("warning: ")]
    assert code == 143 and err == [f"interrupted: {out} and {out.with_name('p.metrics.json')} not written; to "
                                   f"start again: s2vt {' '.join(map(str, args))}"], (code, err)
    assert not (tmp_path / "new").exists()  # its lock, and the folder this run made for --out
    if shutil.which("java"):
        assert int(java) > 0  # (METEOR ran: the JVM was there to stop)
        with pytest.raises(ProcessLookupError):  # (stopped and reaped: not even a zombie is left)
            os.kill(int(java), 0)


def test_a_file_that_is_no_checkpoint_is_said_in_plain_words(tmp_path, capsys):
    """`not a readable checkpoint (RuntimeError)` said nothing a user could act on (torch's own text spoke
    of mmap and miniz): what the file is instead, or what is wrong with it."""
    import fractions

    import torch

    from s2vt.cli import main

    torch.save({"a": torch.zeros(2)}, tmp_path / "whole.pt")
    whole = (tmp_path / "whole.pt").read_bytes()
    torch.save({"a": torch.zeros(100_000)}, tmp_path / "big.pt")  # (cut early, torch says OSError EINVAL)
    files = {"text.pt": b"not a checkpoint", "empty.pt": b"", "cut.pt": whole[:len(whole) // 2],
             "cut_early.pt": (tmp_path / "big.pt").read_bytes()[:5000]}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    torch.save({"a": torch.zeros(2)}, tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    torch.save({"a": fractions.Fraction(1, 3)}, tmp_path / "objects.pt")  # (weights_only refuses it: no plain data)
    (tmp_path / "m.jsonl").write_text('{"video_id": "a", "captions": ["a cat"], "split": "test"}\n')
    for name, said in (("text.pt", "not a PyTorch checkpoint (not a zip archive)"),
                       ("empty.pt", "empty file (0 bytes), not a checkpoint"),
                       ("cut.pt", "checkpoint file cut short or corrupt"),
                       ("cut_early.pt", "checkpoint file cut short or corrupt"),
                       ("legacy.pt", "a PyTorch file in the legacy format"),
                       ("objects.pt", "not an s2vt checkpoint: it holds Python objects other than tensors")):
        code = main(["evaluate", "--checkpoint", str(tmp_path / name), "--manifest", str(tmp_path / "m.jsonl")])
        err = capsys.readouterr().err
        assert code == 2 and err.startswith(f"error: {tmp_path / name}: {said}") and err.count("\n") == 1, err


def test_score_allow_partial_says_how_many_videos_it_scored(tmp_path, capsys):
    """`score --allow-partial` said nothing of how many references were scored (evaluate reports `scored`)."""
    from s2vt.cli import main

    refs = tmp_path / "refs.json"
    refs.write_text(json.dumps({v: [f"a cat sits on mat {v}"] for v in "abcdef"}))  # (one word apart: not blind)
    preds = tmp_path / "p.json"
    preds.write_text(json.dumps({"a": "a cat sits", "b": "a dog runs", "z": "a bird"}))
    code = main(["score", str(refs), str(preds), "--allow-partial", "--json"])
    out, err = capsys.readouterr()
    note = ("note: scored 2 of the 6 referenced videos (--allow-partial: the 4 others have no prediction; "
            "1 predicted id without references was left out)")
    assert (code, err.strip().splitlines()) == (0, [note]) and json.loads(out)["scored"] == 2
    code = main(["score", str(refs), str(preds), "--allow-partial"])
    out, err = capsys.readouterr()
    assert (code, err.strip().splitlines()) == (0, [note]) and out.startswith("BLEU-1")
    preds.write_text(json.dumps({v: "a cat" for v in "abcdef"}))  # (all of them: no note; scored in the JSON)
    code = main(["score", str(refs), str(preds), "--json"])
    out, err = capsys.readouterr()
    assert (code, err, json.loads(out)["scored"]) == (0, "", 6)


def test_evaluate_never_writes_into_a_live_training_run_nor_over_a_checkpoint(store, run, tmp_path, capsys):  # noqa: F811
    """`evaluate --out RUN/best.pt --force` (or --out RUN/metrics.csv, --html RUN/last.pt) wrote over a training
    run's files while it trained, and over a finished run's checkpoints (hostile trial)."""
    import shutil

    live = tmp_path / "live"
    shutil.copytree(run, live)
    lock = live / ".s2vt-train.lock"
    other = os.getppid()  # (a live process that is not this one: the training run)
    lock.write_text(lock_text(other))
    before = {p.name: p.read_bytes() for p in live.iterdir()}
    base = ["evaluate", "--checkpoint", run / "best.pt", "--manifest", store[0], "--features", store[1], "--beam", "1",
            "--force"]
    for extra, path, option in ((["--out", live / "metrics.csv"], live / "metrics.csv", "--out"),
                                (["--out", live / "p.json"], live / "p.json", "--out"),
                                (["--out", tmp_path / "p.json", "--html", live / "r.html"], live / "r.html", "--html")):
        code, err = s2vt(capsys, *base, *extra)
        assert (code, err) == (2, [f"error: cannot write {path}: a training run (pid {other}) is writing {live}: wait "
                                   f"for it to end, or name another {option} (if none runs, remove {lock})"]), err
    assert {p.name: p.read_bytes() for p in live.iterdir()} == before and not (tmp_path / "p.json").exists()

    lock.unlink()  # (the run ended: its checkpoints are still never replaced by predictions)
    for extra, path in ((["--out", live / "last.pt"], live / "last.pt"),
                        (["--out", tmp_path / "p.json", "--html", live / "best.pt"], live / "best.pt")):
        code, err = s2vt(capsys, *base, *extra)
        assert (code, err) == (2, [f"error: cannot write {path}: it is a checkpoint: evaluate never writes over one"])
    assert {p.name: p.read_bytes() for p in live.iterdir()} == {k: v for k, v in before.items() if k != lock.name}
    import zipfile  # (an export's zip is kept as well, and named as what it is, not as a checkpoint: trial 95)
    with zipfile.ZipFile(tmp_path / "answer.zip", "w") as z:
        z.writestr("result.txt", "{}\n")
    code, err = s2vt(capsys, *base, "--out", tmp_path / "answer.zip")
    assert (code, err) == (2, [f"error: cannot write {tmp_path / 'answer.zip'}: it is a zip archive (an export's, "
                               "say): evaluate never writes over one"])
    code, err = s2vt(capsys, *base, "--out", live / "p.json")  # (beside them, under a name of its own: written)
    assert code == 0 and (live / "p.json").is_file(), err


@pytest.mark.parametrize("command", [
    ["evaluate", "--checkpoint", "model.pt", "--manifest", "manifest.jsonl", "--out", "nosuch/../model.pt", "--force"],
    ["evaluate", "--checkpoint", "model.pt", "--manifest", "manifest.jsonl", "--out", "p.json", "--html",
     "videos/nosuch/../a.mp4"],
    ["export", "q.json", "--format", "coco", "--out", "nosuch/../qz.zip"],
    ["train", "--manifest", "manifest.jsonl", "--features", "features", "--out", "run/nosuch/.."],
    ["extract", "videos", "--out", "nosuch/../features"],
    ["import", "folder", "videos", "--out", "nosuch/../manifest.jsonl", "--force"],
    ["demo", "--out", "run/nosuch/.."],
    # (a glob character in the missing part let it through: output paths are never expanded, so `n[x` is a
    # folder like any other, made, and the path named the real file; hostile trial)
    ["evaluate", "--checkpoint", "model.pt", "--manifest", "manifest.jsonl", "--out", "nosuch[x/../q.json"],
    ["export", "q.json", "--format", "coco", "--out", "nosuch*/../qz.zip"],
    ["import", "folder", "videos", "--out", "nosuch?/../manifest.jsonl"],
    # (every other option that names a folder to make: checked with the arguments, as make_dirs does not)
    ["train", "--manifest", "manifest.jsonl", "--features", "features", "--out", "run2", "--val-features",
     "nosuch/../features"],
    ["import", "yt8m", "q.json", "--out", "manifest.jsonl", "--features", "nosuch/../features", "--force"],
    ["weights", "download", "--dir", "nosuch/../checkpoints"],
    # (train.py's run folder: `--out 'r[/../t1'` left a folder r[ behind, hostile trial 29)
    ["train", "--manifest", "manifest.jsonl", "--features", "features", "--out", "nosuch[/../t1"],
])
def test_an_output_through_a_missing_folder_then_dotdot_is_refused(command, tmp_path, capsys, monkeypatch):
    """`evaluate --out nosuch/../model.pt --force` passed every check made on the path as typed (it "does not
    exist"), then writing made nosuch/ and the path named the real model.pt, which it replaced (hostile trial);
    export, train, extract, import and demo as well: now one line, exit 2, nothing made or replaced."""
    from s2vt.cli import main

    monkeypatch.chdir(tmp_path)
    for name in ("model.pt", "manifest.jsonl", "q.json", "qz.zip", "videos/a.mp4", "features/meta.json",
                 "run/best.pt"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(name)
    before = {p: p.read_bytes() if p.is_file() else None for p in tmp_path.rglob("*")}
    code = main(command)
    err = capsys.readouterr().err.strip().splitlines()
    path = next(a for a in command if "nosuch" in a)
    option = command[command.index(path) - 1]
    missing = path.split("/..")[0]
    assert (code, err) == (2, [f"error: {option} {path}: {missing} does not exist, and the path goes on with '..' "
                               "after it: name the path without it"]), err
    assert {p: p.read_bytes() if p.is_file() else None for p in tmp_path.rglob("*")} == before


@pytest.mark.parametrize("out", ["loop/p.json", "k" * 300 + ".json"])
@pytest.mark.parametrize("command", [
    ["evaluate", "--checkpoint", "model.pt", "--manifest", "manifest.jsonl", "--out"],
    ["export", "q.json", "--format", "coco", "--out"],
    ["train", "--manifest", "manifest.jsonl", "--features", "features", "--out"],
    ["extract", "videos", "--out"],
    ["import", "folder", "videos", "--out"],
])
def test_an_output_through_a_link_loop_or_with_a_name_too_long_is_one_line(command, out, tmp_path, capsys,
                                                                          monkeypatch):
    """An output through a symbolic link loop (`ln -s loop loop; --out loop/p.json`) was a RuntimeError traceback,
    one with a name over 255 bytes an OSError traceback, exit 1, in evaluate, export, train, import and extract
    (hostile trial): one line, exit 2, nothing made."""
    from s2vt.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "loop").symlink_to("loop")
    for name in ("model.pt", "manifest.jsonl", "q.json", "videos/a.mp4", "features/meta.json"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(name)
    before = sorted(tmp_path.rglob("*"))
    code = main([*command, out])
    err = capsys.readouterr().err.strip().splitlines()
    why = ("goes through a symbolic link loop" if out.startswith("loop") else "longer than the file system takes")
    assert code == 2 and len(err) == 1 and err[0].startswith(f"error: --out {out}: {why}"), err
    assert sorted(tmp_path.rglob("*")) == before


def test_evaluate_never_writes_over_a_finished_runs_own_files(store, run, tmp_path, capsys):  # noqa: F811
    """`evaluate --out RUN/metrics.csv --force` on a finished run replaced its metrics.csv with predictions JSON
    (hostile trial): only its checkpoints were protected. Now every file a run writes in its folder (best.pt,
    last.pt, metrics.csv, curves.png) is refused as an output there, --force or not, there yet or not."""
    import shutil

    done = tmp_path / "done"
    shutil.copytree(run, done)
    (done / "curves.png").unlink(missing_ok=True)  # (a run without its plot: the name is still the run's)
    before = {p.name: p.read_bytes() for p in done.iterdir()}
    assert "metrics.csv" in before
    base = ["evaluate", "--checkpoint", run / "best.pt", "--manifest", store[0], "--features", store[1], "--beam", "1",
            "--force", "--out", tmp_path / "p.json"]
    for name in ("metrics.csv", "curves.png"):
        code, err = s2vt(capsys, *base, "--html", done / name)
        assert (code, err) == (2, [f"error: cannot write {done / name}: {name} is a file of the training run in "
                                   f"{done}: evaluate never writes over one"]), err
    code, err = s2vt(capsys, *base[:-2], "--out", done / "metrics.csv")  # (the trial's own)
    assert (code, err) == (2, [f"error: cannot write {done / 'metrics.csv'}: metrics.csv is a file of the training "
                               f"run in {done}: evaluate never writes over one"]), err
    assert {p.name: p.read_bytes() for p in done.iterdir()} == before and not (tmp_path / "p.json").exists()
    other = tmp_path / "other"  # (outside a run folder the name is the user's own: refused only as no .html name)
    other.mkdir()
    code, err = s2vt(capsys, *base, "--html", other / "curves.png")
    assert (code, err) == (2, [f"error: cannot write the report to {other / 'curves.png'}: evaluate writes its report "
                               "as an HTML page: name --html REPORT.html"]), err


def test_an_output_that_is_a_pipe_or_a_device_is_refused_before_decoding(store, run, tmp_path, capsys,  # noqa: F811
                                                                          monkeypatch):
    """`--html X` with X a FIFO (or a device), or the metrics file beside --out a link to a FIFO, was refused only
    when written: after the whole split was decoded, the predictions already written (hostile trial); without
    --force, 'already exists: pass --force', which could never help. Now one line, exit 2, before any work."""
    from s2vt import predict

    def no_decoding(*args, **kwargs):
        raise AssertionError("the checkpoint was loaded: the refusal came after the work")
    monkeypatch.setattr(predict, "load_checkpoint", no_decoding)
    args = ["evaluate", "--checkpoint", run / "best.pt", "--manifest", store[0], "--features", store[1], "--beam", "1"]
    fifo, fifo2, dev = tmp_path / "fifo", tmp_path / "fifo2", tmp_path / "dev.html"
    os.mkfifo(fifo)
    os.mkfifo(fifo2)
    dev.symlink_to("/dev/null")
    (tmp_path / "q.metrics.json").symlink_to(fifo2)
    # (a link is named as the user's, never with advice to move /dev/null; a device of the system's is not to move;
    # /dev/fd/N, as /dev/stdout, was named /proc/PID/fd/pipe:[N], its target, and refused for its suffix; hostile trial)
    readable, writable = os.pipe()
    piped = f"/dev/fd/{writable}"
    link = "remove the link, or name another output"
    for extra, said in [(["--html", fifo], f"{fifo}: it is a pipe, not a regular file: move it, or name another output"),
                        (["--html", dev], f"{dev}: it is a link to /dev/null, a device, not a regular file: {link}"),
                        (["--out", fifo], f"{fifo}: it is a pipe, not a regular file: move it, or name another output"),
                        (["--out", tmp_path / "q.json"],
                         f"{tmp_path / 'q.metrics.json'}: it is a link to {fifo2}, a pipe, not a regular file: {link}"),
                        (["--out", "/dev/null"], "/dev/null: it is a device, not a regular file: name another output"),
                        (["--out", piped], f"{piped}: it is a pipe, not a regular file: name another output")]:
        out = [] if "--out" in extra else ["--out", tmp_path / "m.json"]
        for force in ([], ["--force"]):
            code, err = s2vt(capsys, *args, *out, *extra, *force)
            assert (code, err) == (2, [f"error: cannot write {said}"]), (extra, force, err)
            assert not (tmp_path / "m.json").exists() and not (tmp_path / "q.json").exists()
            assert fifo.is_fifo() and fifo2.is_fifo()
    os.close(readable)
    os.close(writable)


def test_report_says_when_a_videos_frames_are_not_the_file_its_features_came_from(store, run, tmp_path,  # noqa: F811
                                                                                capsys):
    """Pointing a video's manifest path at a copy of another video made `--html` show the other video's
    frames beside the prediction, with no warning, though sources.jsonl names the file its features came
    from (hostile trial): such a video, or one whose file changed since, is noted under its frames and
    counted in one warning line. A byte-identical copy (a dataset copied without its mtimes) was said flatly to be
    another file, 'these frames are not theirs' (hostile trial): a file of the recorded size at another path
    'may not be' theirs, and the warning counts the two apart."""
    import shutil

    from s2vt.store import FeatureStore, source_identity

    from ..conftest import make_video

    features = tmp_path / "store"
    shutil.copytree(store[1], features)
    videos = tmp_path / "videos"
    videos.mkdir()
    a, b, c, d = (make_video(videos / f"{n}.mp4", seconds=s, size="96x64", audio=None)
                  for n, s in (("a", 1.0), ("b", 1.5), ("c", 2.0), ("d", 2.5)))
    rows = [json.loads(line) for line in Path(store[0]).read_text().splitlines()]
    next(r for r in rows if r["split"] == "val")["split"] = "test"  # (a fifth test video)
    tests = [r for r in rows if r["split"] == "test"]
    moved, same, changed, older, twin = (r["video_id"] for r in tests[:5])
    fs = FeatureStore(features)
    for vid, src in ((moved, a), (same, b), (changed, c), (twin, d)):
        fs.record_source(vid, source_identity(src), ["resnet152", "vggish"], str(src))
    shutil.copy(b, videos / "copy.mp4")  # (a copy of b: another size than a, a new mtime)
    shutil.copy(d, videos / "d_copy.mp4")  # (a copy of d: its size, a new mtime)
    paths = {moved: "videos/copy.mp4", same: "videos/b.mp4", changed: "videos/c.mp4", twin: "videos/d_copy.mp4"}
    for r in rows:
        r["path"] = paths.get(r["video_id"], "videos/b.mp4")  # (older: no record, nothing to compare)
    os.utime(c, ns=(1, 1))  # (c changed since its features were extracted)
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, err = s2vt(capsys, "evaluate", "--checkpoint", run / "best.pt", "--manifest", manifest, "--features",
                     features, "--out", tmp_path / "p.json", "--html", tmp_path / "r.html", "--beam", "1")
    assert code == 0, err
    warned = [line for line in err if "sources.jsonl" in line]
    assert warned == [f"warning: {tmp_path / 'r.html'}: the frames of 1 video are not of the file its features were "
                      f"extracted from, and those of 2 more may not be ({features / 'sources.jsonl'}): each is noted "
                      "under its frames"], err
    rows_html = {re.search(r"<td>\d+</td><td>([\w.-]+)</td>", row)[1]: row for row in (tmp_path / "r.html").read_text()
                 .split("<tr>")[2:]}
    assert f"its features were extracted from another file, {a}" in rows_html[moved]
    assert "changed (size or time) since its features were extracted" in rows_html[changed]
    assert (f"its features were extracted from {d} (same size, another path or time): these frames may not be "
            "theirs") in rows_html[twin]
    assert not any("features were extracted" in rows_html[v] for v in (same, older))


def test_report_refuses_a_sources_log_that_is_a_pipe_before_decoding(store, run, tmp_path, capsys):  # noqa: F811
    """`--html` reads the store's sources.jsonl (whose file each video's features came from): a pipe there was
    refused only after the split was decoded and its predictions written; now before."""
    import shutil

    features = tmp_path / "store"
    shutil.copytree(store[1], features)
    (features / "sources.jsonl").unlink(missing_ok=True)
    os.mkfifo(features / "sources.jsonl")
    out = tmp_path / "p.json"
    code, err = s2vt(capsys, "evaluate", "--checkpoint", run / "best.pt", "--manifest", store[0], "--features",
                     features, "--out", out, "--html", tmp_path / "r.html", "--beam", "1")
    assert code == 2 and len(err) == 1 and "sources.jsonl is a pipe" in err[0], err
    assert not out.exists() and not (tmp_path / "r.html").exists()


def test_features_dot_slash_dash_is_named_as_typed(store, run, tmp_path, capsys, monkeypatch):  # noqa: F811
    """`--features ./-` with no folder '-' there was '-: feature store not found' (Path('./-') is '-', standard
    input's name; hostile trial): named as typed."""
    manifest, _ = store
    monkeypatch.chdir(tmp_path)
    code, err = s2vt(capsys, "evaluate", "--checkpoint", run / "best.pt", "--manifest", manifest, "--features", "./-",
                     "--out", tmp_path / "p.json")
    assert (code, err) == (2, ["error: ./-: feature store not found (python -m extract writes one from videos, "
                               "s2vt import from precomputed features)"])


def test_a_default_output_that_is_a_link_is_not_written_through_without_force(store, run, tmp_path, capsys):  # noqa: F811
    """The default preds_<split>.json beside the checkpoint is rewritten on every run; when it was a link
    (`ln -s ../important.json lnk/preds_test.json`) the file it named was replaced, exit 0 (hostile trial). Now
    a default output that is a link is refused without --force, naming the link and its target; a plain one is
    still rewritten, and --force writes through the link."""
    import shutil

    lnk = tmp_path / "lnk"
    lnk.mkdir()
    shutil.copy(run / "best.pt", lnk / "model.pt")
    important = tmp_path / "important.json"
    important.write_text("mine")
    (lnk / "preds_test.json").symlink_to("../important.json")
    args = ["evaluate", "--checkpoint", lnk / "model.pt", "--manifest", store[0], "--features", store[1], "--beam", "1"]
    code, err = s2vt(capsys, *args)
    assert (code, err) == (2, [f"error: {lnk / 'preds_test.json'} is a link to {important}: evaluate rewrites its "
                               "default outputs on every run, but not a file a link names: pass --force to replace "
                               f"{important}, or --out NAME.json to write elsewhere"]), err
    assert important.read_text() == "mine" and not (lnk / "metrics_test.json").exists()
    (lnk / "preds_test.json").unlink()
    (lnk / "metrics_test.json").symlink_to(important)  # (its metrics file too)
    code, err = s2vt(capsys, *args)
    assert code == 2 and err[0].startswith(f"error: {lnk / 'metrics_test.json'} is a link to {important}:"), err
    assert important.read_text() == "mine" and not (lnk / "preds_test.json").exists()
    (lnk / "metrics_test.json").unlink()
    (lnk / "preds_test.json").write_text("old")  # (a plain default file: rewritten, as documented)
    assert s2vt(capsys, *args)[0] == 0 and json.loads((lnk / "preds_test.json").read_text())
    (lnk / "preds_test.json").unlink()
    (lnk / "preds_test.json").symlink_to("../important.json")
    assert s2vt(capsys, *args, "--force")[0] == 0 and json.loads(important.read_text())
    assert (lnk / "preds_test.json").is_symlink()


def test_evaluate_says_where_it_wrote(store, run, tmp_path, capsys):  # noqa: F811
    """No line named the predictions or metrics files: `--out ql.json`, a link to out2/q2.json, left its metrics
    in out2/q2.metrics.json unsaid (hostile trial). Now one line names what was written: --out and --html as
    typed, the metrics file where it is."""
    (tmp_path / "out2").mkdir()
    (tmp_path / "out2" / "q2.json").write_text("{}")
    ql = tmp_path / "ql.json"
    ql.symlink_to(Path("out2") / "q2.json")
    code, err = s2vt(capsys, "evaluate", "--checkpoint", run / "best.pt", "--manifest", store[0], "--features",
                     store[1], "--beam", "1", "--out", ql, "--force", "--html", tmp_path / "r.html")
    assert code == 0 and err[-1] == (f"wrote {ql} (the predictions), {tmp_path / 'out2' / 'q2.metrics.json'} (their "
                                     f"metrics) and {tmp_path / 'r.html'} (the report)"), err
    assert (tmp_path / "out2" / "q2.metrics.json").is_file() and (tmp_path / "r.html").is_file()


def test_features_dot_slash_dash_without_meta_is_named_as_typed(store, run, tmp_path, capsys, monkeypatch):  # noqa: F811
    """`--features ./-`, a store without meta.json, was warned '- has no meta.json' (hostile trial): as typed."""
    import shutil

    manifest, features = store
    monkeypatch.chdir(tmp_path)
    shutil.copytree(features, tmp_path / "-", ignore=shutil.ignore_patterns("meta.json"))
    code, err = s2vt(capsys, "evaluate", "--checkpoint", run / "best.pt", "--manifest", manifest, "--features", "./-",
                     "--out", tmp_path / "p.json", "--beam", "1")
    assert code == 0 and any(line.startswith("warning: ./- has no meta.json: ") for line in err), err


def test_run_folder_as_features_is_said_first_whatever_out_is(store, run, tmp_path, capsys):  # noqa: F811
    """`evaluate --features RUN` (a training run's folder, its best.pt beside) without --out was refused for
    writing its predictions inside an input folder; only with --out did the line say that RUN is a training run's
    folder, not a feature store (hostile trial). Now that line comes first, --out or not."""
    before = sorted(p.name for p in run.iterdir())
    for extra in ([], ["--out", tmp_path / "p.json"]):
        code, err = s2vt(capsys, "evaluate", "--checkpoint", run / "best.pt", "--manifest", store[0], "--features",
                         run, *extra)
        assert code == 2 and len(err) == 1, (extra, err)
        assert err[0].startswith(f"error: {run}: no features (the store has none): no meta.json, so not a feature "
                                 "store"), err
        assert "it is a training run's folder (best.pt, last.pt" in err[0] and "inside" not in err[0], err
    assert sorted(p.name for p in run.iterdir()) == before and not (tmp_path / "p.json").exists()


def test_vocabulary_names_against_a_model_of_label_ids_say_to_import_without_it():
    """A model trained without --vocabulary (tags label<id>) on a manifest imported with it: the unnamed
    classes (label<id> in both) matched, the rest counted as misses with no word of why. Refused, saying
    the import to run again."""
    entries = [{"video_id": "a", "tags": ["Games", "label7"]}, {"video_id": "b", "tags": ["Car"]}]
    with pytest.raises(MismatchError, match=r"2 of the 3 distinct tags .* trained from YouTube-8M shards without "
                                            r"--vocabulary.* import the shards again leaving --vocabulary out"):
        check_fit("ckpt.pt", "m.jsonl", "test", entries, [f"label{i}" for i in range(10)], ["rgb"], False)


def test_a_full_disk_at_the_metrics_leaves_neither_file(store, run, tmp_path, capsys, monkeypatch):  # noqa: F811
    """A full disk at the metrics file left the predictions file alone, which the same command, run again once
    there was room, refused to replace without --force (new-user trial): both are written or neither."""
    import errno

    import s2vt.fileio as fileio

    real = fileio.temp_path

    def full_at_the_metrics(path):
        if path.name.endswith(".metrics.json"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(path)

    out = tmp_path / "p.json"
    args = ["evaluate", "--checkpoint", run / "best.pt", "--manifest", store[0], "--features", store[1], "--out", out,
            "--beam", "1"]
    monkeypatch.setattr(fileio, "temp_path", full_at_the_metrics)
    code, err = s2vt(capsys, *args)
    assert code == 2 and err == [f"error: cannot write {tmp_path / 'p.metrics.json'}: No space left on device"], err
    assert sorted(p.name for p in tmp_path.iterdir()) == [], list(tmp_path.iterdir())
    monkeypatch.setattr(fileio, "temp_path", real)
    assert s2vt(capsys, *args)[0] == 0 and out.exists() and (tmp_path / "p.metrics.json").exists()


def test_an_empty_manifest_is_said_to_be_empty(store, run, tmp_path, capsys):  # noqa: F811
    """(new-user trial) an empty manifest: evaluate said "no videos in split 'test' (it has ): pass --split", which no
    --split mends, and train.py without --features "no text (title, asr, ocr) to train on"."""
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    code, err = s2vt(capsys, "evaluate", "--checkpoint", run / "best.pt", "--manifest", empty, "--features", store[1])
    assert (code, err) == (2, [f"error: {empty}: the manifest has no video"])
    code, err = s2vt(capsys, "train", "--manifest", empty, "--out", tmp_path / "r")
    assert (code, err) == (2, [f"error: {empty}: the manifest has no video"])
    # with a store too (it said there was no training video, with advice to import one)
    code, err = s2vt(capsys, "train", "--manifest", empty, "--features", store[1], "--out", tmp_path / "r")
    assert (code, err) == (2, [f"error: {empty}: the manifest has no video"])


def test_the_default_predictions_rewritten_are_said_replaced(store, run, tmp_path, capsys):  # noqa: F811
    """evaluate rewrites preds_<split>.json and metrics_<split>.json beside the checkpoint on every run (documented
    under --force) and said only 'wrote' (trial 75): a rerun says it replaced them."""
    import shutil
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    args = ["evaluate", "--checkpoint", copy / "best.pt", "--manifest", store[0], "--features", store[1], "--beam", "1"]
    said = f"wrote {copy / 'preds_test.json'} (the predictions{{}}) and {copy / 'metrics_test.json'} (their metrics{{}})"
    code, err = s2vt(capsys, *args)
    assert code == 0 and err[-1] == said.format("", ""), err
    code, err = s2vt(capsys, *args)
    again = ", replacing the earlier ones"
    assert code == 0 and err[-1] == said.format(again, again), err
    (copy / "preds_test.json").unlink()  # (each said as it was: metrics alone there, metrics alone replaced)
    code, err = s2vt(capsys, *args)
    assert code == 0 and err[-1] == said.format("", again), err


def test_an_html_report_not_named_html_is_refused_even_with_force(store, run, tmp_path, capsys):  # noqa: F811
    """`--html clip.mp4 --force` wrote the report over a video no manifest listed (trial 103): the report is
    named .html (or .htm), as the file written, through a link too; nothing is replaced."""
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"a video's bytes")
    (tmp_path / "r.html").symlink_to(video)
    args = ["evaluate", "--checkpoint", run / "best.pt", "--manifest", store[0], "--features", store[1], "--beam", "1",
            "--out", tmp_path / "p.json", "--force"]
    for html, said in ((video, ""), (tmp_path / "r.html", f" (a link to {video})")):
        code, err = s2vt(capsys, *args, "--html", html)
        assert (code, err) == (2, [f"error: cannot write the report to {html}{said}: evaluate writes its report as "
                                   "an HTML page: name --html REPORT.html"]), err
    assert video.read_bytes() == b"a video's bytes" and not (tmp_path / "p.json").exists()
    assert s2vt(capsys, *args, "--html", tmp_path / "r.HTM")[0] == 0 and (tmp_path / "r.HTM").exists()


@pytest.mark.parametrize("settings", [5, "x", [1], None, {"vocabulary": 7}])
def test_the_vocabulary_a_hand_edited_checkpoint_records_is_read_only_of_its_type(tmp_path, settings):
    """(new-user trial 45) best.pt or last.pt with settings 5 was an AttributeError traceback in evaluate."""
    from s2vt.predict import vocabulary_of
    import torch
    torch.save({"settings": settings}, tmp_path / "last.pt")
    assert vocabulary_of({"settings": settings}, tmp_path / "best.pt") is None
    assert vocabulary_of({"settings": {"vocabulary": "v.csv"}}, None) == "v.csv"
