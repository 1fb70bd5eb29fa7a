"""caption.py and `s2vt evaluate` end to end: generated videos -> features -> trained checkpoint -> answers."""
import json
import os
import shutil
import sys

import pytest
import torch

from s2vt.demo import caption_for, make_video
from s2vt.manifest import write_manifest

from .conftest import RANDOM_NOTE, REPO, run_cli, run_without_stderr, video_notes, without_random_note

TINY = ["--weights", "random", "--frames", "4", "--clips", "1", "--image-size", "64", "--precision", "fp32"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    d = tmp_path_factory.mktemp("e2e")
    (d / "videos").mkdir()
    entries = []
    combos = [(c, m, s) for c in ("red", "blue") for m in ("left", "right") for s in ("a tone plays", "it is silent")]
    for i, (c, m, s) in enumerate(combos * 2):
        vid = f"v{i:02d}"
        make_video(d / "videos" / f"{vid}.mp4", c, m, s, seconds=1.0, size=(64, 48), rate=16)
        entries.append({"video_id": vid, "path": f"videos/{vid}.mp4", "captions": [caption_for(c, m, s)],
                        "tags": [m], "split": "test" if i >= 12 else "val" if i >= 10 else "train"})
    write_manifest(entries, d / "manifest.jsonl")
    proc = run_cli("-m", "extract", str(d / "manifest.jsonl"), "--out", str(d / "features"), *TINY)
    assert proc.returncode == 0, proc.stderr[-2000:]
    proc = run_cli("train.py", "--manifest", str(d / "manifest.jsonl"), "--features", str(d / "features"),
                   "--out", str(d / "run"), "--epochs", "3", "--hidden", "32", "--embed", "32", "--min-count", "1",
                   "--batch-size", "4")
    assert proc.returncode == 0, proc.stderr[-2000:]
    # a model of extracted video features: the hint, caption.py beside the train.py that ran
    assert f"then {os.path.basename(sys.executable)} caption.py VIDEO" in proc.stderr, proc.stderr
    return d


def test_caption_text_and_json(trained):
    videos = [str(trained / "videos" / "v00.mp4"), str(trained / "videos" / "v01.mp4")]
    proc = run_cli("caption.py", *videos, "--checkpoint", str(trained / "run" / "best.pt"), "--beam", "3",
                   "--json", "--tags", "2")
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [json.loads(x) for x in proc.stdout.splitlines()]
    assert [r["video"] for r in rows] == videos
    words = {w for line in (trained / "manifest.jsonl").read_text().splitlines()
             for c in json.loads(line)["captions"] for w in c.split()}  # the vocabulary (--min-count 1)
    for r in rows:
        assert r["caption"].split() and set(r["caption"].split()) <= words and r["seconds"] > 0
        assert len(r["tags"]) == 2 and {t["tag"] for t in r["tags"]} <= {"left", "right"}
        assert 0 <= r["tags"][1]["p"] <= r["tags"][0]["p"] <= 1
    text = run_cli("caption.py", videos[0], "--checkpoint", str(trained / "run" / "best.pt"))
    assert text.returncode == 0 and text.stdout.startswith(videos[0] + ": ") and "tags: " in text.stdout


def test_caption_bad_inputs(trained, broken, tmp_path, capsys, monkeypatch):
    """caption.py itself once; the other cases through cli.main in this process (caption.py is
    `main(["caption", ...])`), as a fresh interpreter and model each cost most of a minute in all."""
    from s2vt.cli import main

    ckpt = str(trained / "run" / "best.pt")
    good = str(trained / "videos" / "v00.mp4")
    proc = run_cli("caption.py", str(broken["text"]), good, "--checkpoint", ckpt)
    assert proc.returncode == 1, proc.stderr  # some items failed, the rest done: extract's code
    # (the model's backbones are random: said once, before the first answer, not before a failed input's line)
    assert proc.stderr.splitlines()[1] == f"note: {ckpt}{RANDOM_NOTE} (extract --weights random, as the demo's), not " \
        "pretrained ones: its answers hold for videos like its training videos, not for real video", proc.stderr
    stderr = without_random_note(proc.stderr)
    # (the checkpoint's name one line: a newline in it split the note in two; trial 121)
    (tmp_path / "new\nline").mkdir()
    shutil.copy(ckpt, tmp_path / "new\nline" / "best.pt")
    assert main(["caption", good, "--checkpoint", str(tmp_path / "new\nline" / "best.pt")]) == 0
    assert capsys.readouterr().err == f"note: {tmp_path}/new\\nline/best.pt{RANDOM_NOTE} (extract --weights " \
        "random, as the demo's), not pretrained ones: its answers hold for videos like its training videos, not for " \
        "real video\n"
    assert stderr.strip().splitlines()[1:] == ["error: 1 of 2 videos captioned; 1 failed (said above)"]
    assert str(broken["text"]) in stderr.splitlines()[0]
    assert good in proc.stdout  # the other video still ran
    for bad in (tmp_path / "missing.mp4", broken["audio_only"], broken["zero"]):
        code = main(["caption", str(bad), good, "--checkpoint", ckpt])
        out, err = capsys.readouterr()
        assert code == 1, err
        err = without_random_note(err)
        assert len(err.strip().splitlines()) == 2 and str(bad) in err.splitlines()[0]
        assert err.splitlines()[1] == "error: 1 of 2 videos captioned; 1 failed (said above)"
        assert good in out
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint")
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    for ck, message in ((tmp_path / "none.pt", "not found"), (corrupt, "not a PyTorch checkpoint (not a zip archive)"),
                        (other, "not an s2vt checkpoint")):
        code = main(["caption", good, "--checkpoint", str(ck)])
        err = capsys.readouterr().err
        assert code == 2 and message in err
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    # a checkpoint named among the videos: it was skipped as no video and the default model answered (trial 88)
    code = main(["caption", ckpt, good])
    assert (code, capsys.readouterr().err) == (2, f"error: {ckpt} is a model file, not a video: pass it as "
                                                  f"--checkpoint {ckpt}\n")
    # with --checkpoint given the model is chosen: one among the videos (a glob's) is skipped as any non-video,
    # the rest captioned (it stopped the batch; trial 91)
    code = main(["caption", ckpt, good, "--checkpoint", ckpt])
    out, err = capsys.readouterr()
    assert code == 0 and good in out
    assert without_random_note(err) == f"warning: skipped 1 named file that is not a video by its extension ({ckpt})\n"
    # so does $S2VT_CHECKPOINT (trial 92); a model file named alone is said to be one (not ffmpeg's words)
    monkeypatch.setenv("S2VT_CHECKPOINT", ckpt)
    assert main(["caption", ckpt, good]) == 0 and good in capsys.readouterr().out
    monkeypatch.delenv("S2VT_CHECKPOINT")
    assert main(["caption", ckpt, "--checkpoint", ckpt]) == 2
    assert capsys.readouterr().err == f"error: {ckpt} is a model file, not a video\n"
    # a video that is named .pt is captioned: told by its content, not its name (trial 89)
    shutil.copy(good, tmp_path / "clip.pt")
    assert main(["caption", str(tmp_path / "clip.pt"), "--checkpoint", ckpt]) == 0
    assert str(tmp_path / "clip.pt") in capsys.readouterr().out
    # and given to export or score as predictions
    for words in (["export", ckpt, "--format", "msrvtt", "--out", str(tmp_path / "a.zip")],
                  ["score", str(trained / "manifest.jsonl"), ckpt]):
        assert main(words) == 2
        assert capsys.readouterr().err == (f"error: {ckpt}: a PyTorch checkpoint (a model), not a results file: "
                                           f"s2vt evaluate --checkpoint {ckpt} ... writes its predictions\n")


def test_evaluate_and_export(trained, tmp_path):
    preds = tmp_path / "preds.json"
    proc = run_cli("-m", "s2vt.cli", "evaluate", "--checkpoint", str(trained / "run" / "best.pt"),
                   "--manifest", str(trained / "manifest.jsonl"), "--features", str(trained / "features"),
                   "--split", "test", "--beam", "2", "--out", str(preds), "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    metrics = json.loads(proc.stdout)
    assert metrics["videos"] == 4
    assert {"BLEU-4", "ROUGE-L", "METEOR", "gap", "tag_f1"} <= set(metrics)
    assert json.loads((tmp_path / "preds.metrics.json").read_text()) == metrics
    rows = json.loads(preds.read_text())
    assert sorted(r["video_id"] for r in rows) == ["v12", "v13", "v14", "v15"]
    assert all(r["caption"].split() for r in rows)
    # how many captions differ (the README's "distinct" column), counted from the written predictions
    assert metrics["distinct_captions"] == len({r["caption"] for r in rows})
    from s2vt.predict import format_table
    assert (f"distinct      {metrics['distinct_captions']} captions for the 4 videos with reference captions"
            in format_table(metrics).splitlines())
    # the metrics are those of the written predictions: tag accuracy recounted, captions rescored
    truth = {e["video_id"]: e["tags"][0]
             for e in map(json.loads, (trained / "manifest.jsonl").read_text().splitlines())}
    assert metrics["hit@1"] == pytest.approx(sum(r["tags"][0]["tag"] == truth[r["video_id"]] for r in rows) / 4)
    scored = run_cli("-m", "s2vt.cli", "score", str(trained / "manifest.jsonl"), str(preds), "--split", "test",
                     "--json")
    assert scored.returncode == 0, scored.stderr[-2000:]
    for key in ("BLEU-4", "CIDEr", "ROUGE-L"):
        assert json.loads(scored.stdout)[key] == pytest.approx(metrics[key], abs=1e-9)
    out = tmp_path / "answer.zip"
    proc = run_cli("-m", "s2vt.cli", "export", str(preds), "--format", "msrvtt", "--out", str(out))
    assert proc.returncode == 0 and out.is_file()


@pytest.mark.parametrize("stderr", ["closed", "full"])
def test_diagnostics_that_cannot_be_written_do_not_stop_the_work(trained, tmp_path, stderr):
    """(hostile trial) With stderr closed (`2>&-`: sys.stderr None) extract and train exited 1 having done nothing,
    caption.py exited 1 after its answers, and the error: lines of caption --json and evaluate's `wrote` line went
    to stdout among the JSON; with `2>/dev/full` (its writes fail) extract and train exited 1 having done nothing.
    The lines are lost, the work is done, the exit status is the work's."""
    video, bad = str(trained / "videos" / "v00.mp4"), tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    proc = run_without_stderr(stderr, "-m", "extract", video, "--out", str(tmp_path / "f"), *TINY)
    assert (proc.returncode, sorted(p.name for p in tmp_path.glob("f/*/v00.*"))) == (0, ["v00.npy"] * 3), proc.stdout
    assert proc.stdout == ""  # (its lines went to stdout when print's file was None)
    proc = run_without_stderr(stderr, "train.py", "--manifest", str(trained / "manifest.jsonl"), "--features",
                              str(trained / "features"), "--out", str(tmp_path / "run"), "--epochs", "1", "--hidden",
                              "16", "--embed", "16", "--min-count", "1")
    assert proc.returncode == 0 and (tmp_path / "run" / "best.pt").is_file(), proc.stdout
    ckpt = str(trained / "run" / "best.pt")
    proc = run_without_stderr(stderr, "caption.py", video, str(bad), "--checkpoint", ckpt, "--json")
    assert proc.returncode == 1  # (one video failed: its object on stdout, its error: line lost)
    assert [json.loads(line).get("error") is None for line in proc.stdout.splitlines()] == [True, False]
    if stderr == "full":
        return
    proc = run_without_stderr(stderr, "caption.py", video, "--checkpoint", ckpt)
    assert proc.returncode == 0 and proc.stdout.startswith(video + ": ")
    proc = run_without_stderr(stderr, "-m", "s2vt.cli", "evaluate", "--checkpoint", ckpt, "--manifest",
                              str(trained / "manifest.jsonl"), "--features", str(trained / "features"), "--split",
                              "test", "--beam", "1", "--out", str(tmp_path / "p.json"), "--json")
    assert proc.returncode == 0 and json.loads(proc.stdout)["videos"] == 4, proc.stdout


def test_caption_default_checkpoint(trained, tmp_path):
    """`python caption.py video.mp4` as written: $S2VT_CHECKPOINT, else checkpoints/s2vt.pt, else one line."""
    script, good = str(REPO / "caption.py"), str(trained / "videos" / "v00.mp4")
    proc = run_cli(script, good, cwd=tmp_path, env={"S2VT_CHECKPOINT": None})
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()] and "pass --checkpoint" in proc.stderr
    assert f"no model: {tmp_path / 'checkpoints' / 's2vt.pt'} not found" in proc.stderr  # where it looked
    # a missing video is said as such, not hidden behind the missing model (it was "no model" alone)
    proc = run_cli(script, "nothere.mp4", cwd=tmp_path, env={"S2VT_CHECKPOINT": None})
    assert proc.returncode == 2 and proc.stderr.strip() == "error: nothere.mp4: no such file", proc.stderr
    proc = run_cli(script, good, cwd=tmp_path, env={"S2VT_CHECKPOINT": str(trained / "run" / "best.pt")})
    assert proc.returncode == 0 and proc.stdout.startswith(good + ": "), proc.stderr[-2000:]
    (tmp_path / "checkpoints").mkdir()
    shutil.copy(trained / "run" / "best.pt", tmp_path / "checkpoints" / "s2vt.pt")
    proc = run_cli(script, good, cwd=tmp_path, env={"S2VT_CHECKPOINT": None})
    assert proc.returncode == 0 and proc.stdout.startswith(good + ": "), proc.stderr[-2000:]


class FakeCaptioner:
    """Captioner's interface without a model: a path with "bad" in it is not a usable video."""
    has_captions, random_note = True, None

    def __init__(self, *args, **kwargs):
        pass

    def caption(self, path):
        from extract.ffmpeg import MediaError
        if "bad" in path:
            raise MediaError(f"{path}: not a video")
        return {"video": path, "caption": "a caption", "tags": [], "seconds": 0.1, "notes": []}


def fake_caption(capsys, monkeypatch, *args):
    """`caption.py ARGS` with FakeCaptioner: (exit code, stdout lines, stderr lines)."""
    import s2vt.captioner
    from s2vt.cli import main

    monkeypatch.setattr(s2vt.captioner, "Captioner", FakeCaptioner)
    code = main(["caption", *map(str, args), "--checkpoint", "unused.pt"])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err.splitlines()


def test_a_dash_for_standard_input_is_said_to_be_unsupported(tmp_path, capsys, monkeypatch):
    """`caption.py -` said "-: no such file", as if a file named '-' were looked for (hostile trial); export
    and score say the same line (test_export), and python -m extract."""
    monkeypatch.chdir(tmp_path)
    assert fake_caption(capsys, monkeypatch, "-") == (2, [], ["error: reading from standard input ('-') is not supported: name a file"])


def test_a_bare_dash_is_standard_input_even_beside_a_file_named_dash(tmp_path, capsys, monkeypatch):
    """`caption.py -` read a file named '-' silently when one was there, and refused standard input otherwise
    (hostile trial): only a bare '-' is standard input (unsupported), always, the refusal then saying how to name
    the file; './-' is the file."""
    from s2vt.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "-").write_bytes(b"x")
    said = ("error: reading from standard input ('-') is not supported: name a file (for a file named '-', "
            "write ./-)")
    assert fake_caption(capsys, monkeypatch, "-") == (2, [], [said])
    code, out, _ = fake_caption(capsys, monkeypatch, "./-")
    assert code == 0 and out == ["./-: a caption"], out
    (tmp_path / "refs.json").write_text(json.dumps({"a": ["a cat"]}))
    for args in (["score", "refs.json", "-"], ["export", "-", "--format", "coco", "--out", "e.zip"]):
        assert main(args) == 2, args
        assert capsys.readouterr().err == said + "\n", args


def test_caption_json_has_one_object_per_input_failed_ones_too(tmp_path, capsys, monkeypatch):
    """A failed video had only its stderr line: a script reading --json's stdout lost it."""
    monkeypatch.chdir(tmp_path)
    for name in ("a.mp4", "bad.mp4", "b.mp4", "bad2.mp4"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "empty.mp4").write_bytes(b"")
    code, out, err = fake_caption(capsys, monkeypatch, "a.mp4", "bad.mp4", "b.mp4", "--json")
    assert code == 1 and err == ["error: bad.mp4: not a video",
                                 "error: 2 of 3 videos captioned; 1 failed (said above)"]
    assert [json.loads(line) for line in out] == [
        {"video": "a.mp4", "caption": "a caption", "tags": [], "seconds": 0.1, "notes": []},
        {"video": "bad.mp4", "error": "bad.mp4: not a video", "notes": []},
        {"video": "b.mp4", "caption": "a caption", "tags": [], "seconds": 0.1, "notes": []}]
    # every object has its "notes", a failed input's too (none): a script reads r["notes"] of each
    (tmp_path / "empty_folder").mkdir()
    code, out, err = fake_caption(capsys, monkeypatch, "a.mp4", "bad.mp4", "nope.mp4", "empty.mp4", "empty_folder",
                                  "--json")
    assert code == 1 and [json.loads(line)["notes"] for line in out] == [[]] * 5
    code, out, err = fake_caption(capsys, monkeypatch, "a.mp4", "bad.mp4")  # (text: stdout has answers only)
    assert code == 1 and out == ["a.mp4: a caption"] and err == [
        "error: bad.mp4: not a video", "error: 1 of 2 videos captioned; 1 failed (said above)"]
    # a mistyped path is found before the model loads: among videos, a failed input; alone, exit 2
    code, out, err = fake_caption(capsys, monkeypatch, "a.mp4", "nope.mp4", "--json")
    assert code == 1 and [json.loads(line)["video"] for line in out] == ["a.mp4", "nope.mp4"]
    assert err == ["error: nope.mp4: no such file", "error: 1 of 2 videos captioned; 1 failed (said above)"]
    assert json.loads(out[1])["error"] == "nope.mp4: no such file"
    # (alone too, --json prints its object: a script reading stdout got nothing; trial 98)
    code, out, err = fake_caption(capsys, monkeypatch, "nope.mp4", "--json")
    assert (code, err) == (2, ["error: nope.mp4: no such file"])
    assert [json.loads(line) for line in out] == [{"video": "nope.mp4", "error": "nope.mp4: no such file", "notes": []}]
    code, out, err = fake_caption(capsys, monkeypatch, "nope.mp4", "gone.mp4")
    assert (code, out, err) == (2, [], ["error: nothing to caption: nope.mp4: no such file; gone.mp4: no such file"])
    # an empty file is found before the model loads too; every video failing is exit 2, not a partial 1
    code, out, err = fake_caption(capsys, monkeypatch, "empty.mp4")
    assert (code, out, err) == (2, [], ["error: empty.mp4: empty file (0 bytes)"])
    code, out, err = fake_caption(capsys, monkeypatch, "a.mp4", "empty.mp4")
    assert code == 1 and out == ["a.mp4: a caption"] and err == [
        "error: empty.mp4: empty file (0 bytes)", "error: 1 of 2 videos captioned; 1 failed (said above)"]
    code, out, err = fake_caption(capsys, monkeypatch, "bad.mp4", "bad2.mp4", "empty.mp4")
    # (the input found failed before the model loads is said then, first; the videos' failures in input order)
    assert code == 2 and out == [] and err == ["error: empty.mp4: empty file (0 bytes)", "error: bad.mp4: not a video",
                                                "error: bad2.mp4: not a video",
                                                "error: 0 of 3 videos captioned; 3 failed (said above)"]
    code, out, err = fake_caption(capsys, monkeypatch, "bad.mp4", "nope.mp4", "a.mp4", "--json")
    assert code == 1 and [json.loads(line)["video"] for line in out] == ["bad.mp4", "nope.mp4", "a.mp4"]
    assert err == ["error: nope.mp4: no such file", "error: bad.mp4: not a video",  # (each said once)
                   "error: 1 of 3 videos captioned; 2 failed (said above)"]



def test_a_manifest_given_as_a_video_is_told_to_go_to_evaluate_before_the_model_loads(tmp_path, capsys, monkeypatch):
    """(hostile trial) `caption.py m.jsonl` loaded the model, then said 'm.jsonl: not a readable video (Error
    opening input files: Invalid data found ...)'. Now, before the model loads, one line says it is a manifest
    and names the command that captions a manifest's videos (exit 2; among videos, a failed input). A video
    whose name ends .jsonl is still captioned: judged by its content."""
    monkeypatch.chdir(tmp_path)
    write_manifest([{"video_id": "v1", "split": "test", "captions": ["a cat"]}], tmp_path / "m.jsonl")
    shutil.copy(tmp_path / "m.jsonl", tmp_path / "m.json")  # (an import's --out m.json: JSON lines all the same)
    (tmp_path / "a.mp4").write_bytes(b"x")
    (tmp_path / "clip.jsonl").write_bytes(b"\x00\x00\x00\x18ftypmp42")  # (a video, oddly named)
    loaded = []
    monkeypatch.setattr(FakeCaptioner, "__init__", lambda self, *a, **k: loaded.append(True))
    for name in ("m.jsonl", "m.json"):
        code, out, err = fake_caption(capsys, monkeypatch, name)
        assert (code, out, loaded) == (2, [], []), err
        assert err == [f"error: {name}: a manifest, not a video file (caption takes video files and folders of "
                       f"them); to caption a manifest's videos from their extracted features: s2vt evaluate "
                       f"--checkpoint CKPT --manifest {name} --features STORE"], err
    code, out, err = fake_caption(capsys, monkeypatch, "clip.jsonl")  # (named alone: tried whatever its name)
    assert (code, out) == (0, ["clip.jsonl: a caption"]), err
    # among several (a shell glob's), files not named as videos are skipped in one line, as extract skips them
    # (they were failed videos: 'M of N videos captioned'; trial 55)
    # among several (`caption.py DIR/*` beside the manifest an import wrote there), a manifest is skipped with the
    # other files that are no video (it was a failed input, exit 1; trial 103) and a video named .jsonl captioned
    code, out, err = fake_caption(capsys, monkeypatch, "a.mp4", "m.jsonl", "clip.jsonl")
    assert (code, out) == (0, ["a.mp4: a caption", "clip.jsonl: a caption"]), err
    assert err == ["warning: skipped m.jsonl: a manifest, not a video file (caption takes video files and folders of "
                   "them); to caption a manifest's videos from their extracted features: s2vt evaluate --checkpoint "
                   "CKPT --manifest m.jsonl --features STORE"], err
    shutil.copy(tmp_path / "m.jsonl", tmp_path / "m2.jsonl")  # (manifests alone: each said so, exit 2; trial 104)
    code, out, err = fake_caption(capsys, monkeypatch, "m.jsonl", "m2.jsonl")
    assert (code, out) == (2, []) and err[0].startswith("error: nothing to caption: m.jsonl: a manifest, not a video "
                                                         "file") and "; m2.jsonl: a manifest" in err[0], err
    # other files not named as videos (a shell glob's) are skipped in one line, as extract skips them (they were
    # failed videos: 'M of N videos captioned'; trial 55)
    (tmp_path / "notes.txt").write_text("x")
    code, out, err = fake_caption(capsys, monkeypatch, "a.mp4", "m.json", "notes.txt")
    assert (code, out) == (0, ["a.mp4: a caption"]), err
    assert err == ["warning: skipped 2 named files that are not videos by their extension (m.json, "
                   "notes.txt)"], err
    (tmp_path / "red\x1b[31m.txt").write_text("x")  # (a name's escape sequence never reaches the terminal; trial 104)
    code, out, err = fake_caption(capsys, monkeypatch, "a.mp4", "red\x1b[31m.txt")
    assert (code, err) == (0, ["warning: skipped 1 named file that is not a video by its extension (red\\x1b[31m.txt)"])
    code, out, err = fake_caption(capsys, monkeypatch, "m.json", "notes.txt")
    # all of them: the error alone, naming them (a warning beside it said it twice; trial 57)
    assert (code, out) == (2, []) and err == ["error: nothing to caption: none of the 2 files named is a video "
                                              "by its extension (m.json, notes.txt)"], err

def test_only_json_lines_of_video_ids_are_called_a_manifest(tmp_path, capsys, monkeypatch):
    """(hostile trial) Any JSON-lines file named as a video was called a manifest (LIC2022's train.json, a file
    holding {"a": 1}), and the `s2vt evaluate` it suggested then failed "missing field 'video_id'". Now a manifest
    is JSON lines of video_ids; LIC2022's JSON lines (rows with '@id') are pointed to `s2vt import lic2022`; any
    other JSON is said to be JSON, not a video: one line, exit 2, before the model loads."""
    monkeypatch.chdir(tmp_path)
    lic = [{"@id": "7000000000003975", "title": "t", "perception": {"asr": "", "ocr": ""}, "tag": []},
           {"@id": "7000000000003159", "title": "u", "perception": {"asr": "", "ocr": ""}, "tag": []}]
    (tmp_path / "train.json").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in lic))
    (tmp_path / "odd name.jsonl").write_text('{"@id": "1"}\n')
    (tmp_path / "a.jsonl").write_text('{"a":1}\n')
    (tmp_path / "a.json").write_text('{"a":1}\n{"b": 2}\n')
    (tmp_path / "pretty.json").write_text('{\n  "video_id": "v1"\n}\n')  # (one document: not JSON lines)
    loaded = []
    monkeypatch.setattr(FakeCaptioner, "__init__", lambda self, *a, **k: loaded.append(True))
    taken = "not a video file (caption takes video files and folders of them)"
    for name, quoted in (("train.json", "train.json"), ("odd name.jsonl", "'odd name.jsonl'")):
        code, out, err = fake_caption(capsys, monkeypatch, name)
        assert (code, out, loaded) == (2, [], []), err
        assert err == [f"error: {name}: LIC2022 JSON lines, {taken}; to make a manifest of it: s2vt import lic2022 "
                       f"{quoted} --out M.jsonl"], err
    for name in ("a.jsonl", "a.json", "pretty.json"):
        code, out, err = fake_caption(capsys, monkeypatch, name)
        assert (code, out, err, loaded) == (2, [], [f"error: {name}: a JSON file, {taken}"], []), err


def test_a_json_array_is_called_a_json_array_not_a_video(tmp_path, capsys, monkeypatch):
    """(hostile trial) A JSON array named .jsonl (`[{"video_id": "a"}]`) went to ffmpeg, which said 'no video
    stream'. Now it is a JSON array, not a video file, and, holding manifest rows, not a manifest either (one
    object a line): one line, exit 2, before the model loads."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "rows.jsonl").write_text('[{"video_id": "a"}]\n')
    (tmp_path / "pretty.json").write_text('[\n  {\n    "video_id": "a",\n    "captions": ["x"]\n  }\n]\n')
    (tmp_path / "numbers.json").write_text("\ufeff [1, 2]")
    loaded = []
    monkeypatch.setattr(FakeCaptioner, "__init__", lambda self, *a, **k: loaded.append(True))
    taken = "a JSON array, not a video file (caption takes video files and folders of them)"
    for name in ("rows.jsonl", "pretty.json"):
        code, out, err = fake_caption(capsys, monkeypatch, name)
        assert (code, out, loaded) == (2, [], []), err
        assert err == [f"error: {name}: {taken}, nor a manifest (JSON lines: one object a line, each with its "
                       "video_id)"], err
    code, out, err = fake_caption(capsys, monkeypatch, "numbers.json")
    assert (code, out, err, loaded) == (2, [], [f"error: numbers.json: {taken}"], [])


def test_a_folder_of_a_manifest_and_no_videos_points_to_evaluate(tmp_path, capsys, monkeypatch):
    """(hostile trial) `caption.py DIR/`, DIR holding a manifest and no videos, said only 'no video files in this
    folder'. Now the line names the manifest (manifest.jsonl first, else a *.jsonl of video_id rows) and the
    `s2vt evaluate` that captions its videos; a folder whose .jsonl files are no manifests is said as before."""
    monkeypatch.chdir(tmp_path)
    rows = [{"video_id": "v1", "split": "test", "captions": ["a cat"]}]
    for d, names in (("run", ("manifest.jsonl", "b.jsonl")), ("other", ("b.jsonl",))):
        (tmp_path / d).mkdir()
        (tmp_path / d / "a.jsonl").write_text('{"a": 1}\n')  # (JSON lines, no manifest: passed over)
        for name in names:
            write_manifest(rows, tmp_path / d / name)
    (tmp_path / "none").mkdir()
    (tmp_path / "none" / "a.jsonl").write_text('{"@id": "1"}\n')
    loaded = []
    monkeypatch.setattr(FakeCaptioner, "__init__", lambda self, *a, **k: loaded.append(True))
    for folder, manifest in (("run/", "run/manifest.jsonl"), ("other", "other/b.jsonl")):
        code, out, err = fake_caption(capsys, monkeypatch, folder)
        assert (code, out, loaded) == (2, [], []), err
        assert len(err) == 1 and err[0].startswith(f"error: {folder}: no video files in this folder (by extension: "), err
        assert err[0].endswith(f"skipped); it holds a manifest, {manifest}: to caption its videos from their "
                               f"extracted features: s2vt evaluate --checkpoint CKPT --manifest {manifest} --features "
                               "STORE"), err
    code, out, err = fake_caption(capsys, monkeypatch, "none")
    assert code == 2 and len(err) == 1 and err[0].endswith("are skipped)"), err


def test_a_missing_file_is_said_before_the_model_loads_so_an_interrupted_run_said_it(tmp_path, monkeypatch, capsys):
    """`caption.py a.mp4 missing.mp4` interrupted during a.mp4 never said missing.mp4 was missing: found before
    the model loaded, its line waited for its turn, after a.mp4's."""
    import signal

    from s2vt import captioner
    from s2vt.cli import main

    said = []

    class Fake:  # (a Ctrl-C while the first video is captioned)
        has_captions, random_note = True, None

        def __init__(self, *args):
            said.append(capsys.readouterr().err)  # (what was said when the model loaded)

        def caption(self, path):
            os.kill(os.getpid(), signal.SIGINT)
            return {"video": path, "caption": "a cat", "tags": [], "seconds": 0.1}

    monkeypatch.setattr(captioner, "Captioner", Fake)
    monkeypatch.chdir(tmp_path)
    for name in ("a.mp4", "b.mp4"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "empty.mp4").write_bytes(b"")
    assert main(["caption", "a.mp4", "missing.mp4", "b.mp4", "empty.mp4", "--checkpoint", "ck.pt"]) == 130
    assert said == ["error: missing.mp4: no such file\nerror: empty.mp4: empty file (0 bytes)\n"]
    out = capsys.readouterr()
    assert out.out == "" and len(out.err.splitlines()) == 1 and out.err.startswith("interrupted: "), out.err


def test_caption_takes_folders_as_extract_does(tmp_path, capsys, monkeypatch):
    """A folder was `error: DIR: a folder, not a video file`, while python -m extract takes folders."""
    clips = tmp_path / "clips"
    (clips / "sub").mkdir(parents=True)
    for name in ("b.mp4", "a.webm", "notes.txt", "sub/c.avi"):  # (not empty: a folder's empty file fails as one
        (clips / name).write_bytes(b"x")                           # named does, before the model loads)
    (tmp_path / "empty").mkdir()
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "readme.txt").write_text("no video\n")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.mp4").write_bytes(b"x")  # (an empty file named alone is refused before the model loads)
    code, out, err = fake_caption(capsys, monkeypatch, "x.mp4", clips, tmp_path / "empty", "--json")
    assert code == 1
    assert [json.loads(line)["video"] for line in out] == [
        "x.mp4", str(clips / "a.webm"), str(clips / "b.mp4"), str(clips / "sub" / "c.avi"), str(tmp_path / "empty")]
    assert json.loads(out[-1])["error"].startswith(f"{tmp_path / 'empty'}: no video files in this folder")
    assert len(err) == 2 and err[0].startswith(f"error: {tmp_path / 'empty'}: no video files in this folder")
    assert err[1] == "error: 4 of 4 videos captioned; 1 folder without videos (said above)"  # (the batch's count)
    # nothing at all to caption: one line, exit 2, nothing on stdout
    code, out, err = fake_caption(capsys, monkeypatch, tmp_path / "docs")
    assert code == 2 and out == [] and len(err) == 1
    assert err[0].startswith(f"error: {tmp_path / 'docs'}: no video files in this folder (by extension: .mp4, ")
    code, out, err = fake_caption(capsys, monkeypatch, tmp_path / "docs", tmp_path / "empty")
    assert code == 2 and out == [] and len(err) == 1 and err[0].startswith(
        f"error: nothing to caption: {tmp_path / 'docs'}: no video files in this folder (by extension: ")
    assert f"; {tmp_path / 'empty'}: no video files in this folder" in err[0]
    (tmp_path / "mac").mkdir()  # (only macOS's AppleDouble file of a clip: the folder is said to skip it)
    (tmp_path / "mac" / "._clip.mp4").write_bytes(b"\0\5\26\7")
    code, out, err = fake_caption(capsys, monkeypatch, tmp_path / "mac")
    assert code == 2 and len(err) == 1 and err[0].endswith("hidden files, such as macOS's ._clip.mp4, are skipped)")


def test_unknown_options_and_a_spaced_checkpoint_are_one_clear_line(tmp_path, capsys, monkeypatch):
    """`caption.py x.mp4 --batch-size 0` was argparse's usage and error lines under the name `s2vt`;
    `--checkpoint "best.pt "` was `best.pt : checkpoint not found`, its space unseen."""
    from s2vt.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.mp4").write_bytes(b"x")  # (not empty: an empty file is refused before the checkpoint is read)
    monkeypatch.setattr("sys.argv", ["caption.py"])
    assert main(["caption", "x.mp4", "--batch-size", "0"]) == 2
    assert capsys.readouterr().err == "error: unrecognized arguments: --batch-size 0 (see python caption.py --help)\n"
    assert main(["caption", "x.mp4", "--checkpoint", "best.pt "]) == 2
    assert capsys.readouterr().err == "error: 'best.pt ': checkpoint not found\n"


def test_an_empty_checkpoint_variable_is_refused_not_taken_for_unset(tmp_path, monkeypatch):
    """S2VT_CHECKPOINT= fell back silently to checkpoints/s2vt.pt (caption.py and serve share the helper)."""
    from s2vt.captioner import CHECKPOINT_ENV, CheckpointError, default_checkpoint

    monkeypatch.chdir(tmp_path)
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "s2vt.pt").write_bytes(b"")  # (the fallback that must not be taken)
    for value, said in (("", "empty"), (" ", "blank")):
        monkeypatch.setenv(CHECKPOINT_ENV, value)
        with pytest.raises(CheckpointError, match=f"^{CHECKPOINT_ENV} is {said} \\(an unset shell variable\\?\\)"):
            default_checkpoint()
    monkeypatch.delenv(CHECKPOINT_ENV)
    assert default_checkpoint() == os.path.join("checkpoints", "s2vt.pt")


def test_no_model_names_the_absolute_path_it_looked_at(tmp_path, monkeypatch):
    """The default checkpoint is relative to the current folder: the error says which file that was."""
    from s2vt.captioner import CHECKPOINT_ENV, CheckpointError, default_checkpoint

    monkeypatch.delenv(CHECKPOINT_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CheckpointError) as e:
        default_checkpoint()
    looked = tmp_path.resolve() / "checkpoints" / "s2vt.pt"
    assert str(e.value).startswith(f"no model: {looked} not found and {CHECKPOINT_ENV} not set: ")
    assert "\n" not in str(e.value)
    monkeypatch.setenv(CHECKPOINT_ENV, "nothere.pt")  # (relative: the current folder's)
    with pytest.raises(CheckpointError) as e:
        default_checkpoint()
    assert str(e.value).startswith(f"no model: {CHECKPOINT_ENV}='nothere.pt' names no file "
                                   f"('{tmp_path.resolve() / 'nothere.pt'}' not found)")


@pytest.mark.parametrize("argv0, train, demo", [
    ("/venv/bin/s2vt", "s2vt train", "s2vt demo"),
    ("caption.py", "s2vt train", "s2vt demo"),  # (no train.py beside it: the installed command)
    (str(REPO / "caption.py"), f"python3 {REPO / 'train.py'}", "s2vt demo"),  # (the checkout's, beside it)
    ("/repo/s2vt/cli.py", "python3 -m s2vt.cli train", "python3 -m s2vt.cli demo")])
def test_no_model_names_the_training_command_as_caption_was_started(argv0, train, demo, tmp_path, monkeypatch):
    """It said '(python train.py makes one; s2vt demo a toy one)': `python train.py` works only in the
    repository checkout (hostile trial); now the commands as caption (or serve) was started."""
    from s2vt.captioner import CHECKPOINT_ENV, CheckpointError, default_checkpoint

    monkeypatch.delenv(CHECKPOINT_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.argv", [argv0, "v.mp4"])
    monkeypatch.setattr("sys.orig_argv", ["python3", argv0, "v.mp4"])
    with pytest.raises(CheckpointError) as e:
        default_checkpoint()
    assert str(e.value).endswith(f"under the folder you run in ({train} makes one; {demo} a toy one)"), str(e.value)
    monkeypatch.setenv(CHECKPOINT_ENV, "  nothere.pt ")  # (stray spaces: shown, quoted)
    with pytest.raises(CheckpointError) as e:
        default_checkpoint()
    assert str(e.value).startswith(f"no model: {CHECKPOINT_ENV}='  nothere.pt ' names no file "
                                   f"('{tmp_path.resolve() / '  nothere.pt '}' not found)")


def test_caption_equals_evaluate_on_the_same_videos(trained, tmp_path):
    """Training/serving parity: caption.py computes features as the training store holds them
    (recorded weights, precision and dtype), so it answers exactly as `evaluate` on a store extracted
    with the checkpoint's settings. On a real clip (its codec, size and frame rate, not a generated
    one's) when the shared sample data is there, else on a generated clip."""
    from s2vt.checkpoint import read_checkpoint
    from s2vt.captioner import caption_files
    from s2vt.predict import evaluate
    ckpt = str(trained / "run" / "best.pt")
    clips = REPO.parent / "shared" / "data" / "clips"  # (the sample_data fixture's folder; it would skip)
    real = clips / "PeUHy0A1GF0_114_121.avi"  # MSVD, 7 s, 260 KB: the shortest file there
    clip = real if real.is_file() else trained / "videos" / "v12.mp4"
    shutil.copy(clip, tmp_path / clip.name)
    write_manifest([{"video_id": "clip", "path": clip.name, "captions": ["a clip"], "tags": ["left"],
                     "split": "test"}], tmp_path / "manifest.jsonl")
    meta = read_checkpoint(ckpt)["extract"]  # TINY: the settings the checkpoint's store was extracted with
    proc = run_cli("-m", "extract", str(tmp_path / "manifest.jsonl"), "--out", str(tmp_path / "features"), *TINY)
    assert proc.returncode == 0, proc.stderr[-2000:]
    store_meta = json.loads((tmp_path / "features" / "meta.json").read_text())
    settings = ("frames", "clips", "image_size", "seed", "dtype", "backbones", "precision")
    assert {k: store_meta.get(k) for k in settings} == {k: meta.get(k) for k in settings}
    evaluate(ckpt, str(tmp_path / "manifest.jsonl"), str(tmp_path / "features"), "test", beam=3,
             out=str(tmp_path / "preds.json"))
    [pred] = json.loads((tmp_path / "preds.json").read_text())
    [row] = caption_files([str(tmp_path / clip.name)], ckpt, beam=3, tags=len(pred["tags"]))
    assert row["caption"] == pred["caption"] and row["caption"].split()
    assert [t["tag"] for t in row["tags"]] == [t["tag"] for t in pred["tags"]]
    assert all(abs(a["p"] - b["p"]) <= 1e-4 for a, b in zip(row["tags"], pred["tags"]))


def test_caption_refuses_features_it_cannot_reproduce(trained, tmp_path):
    """A checkpoint trained on another weight file's features is refused in one line, not answered."""
    ckpt = torch.load(trained / "run" / "best.pt", weights_only=True)
    ckpt["extract"]["backbones"]["resnet152"] = "resnet152-f82ba261.pth"
    other = tmp_path / "other_weights.pt"
    torch.save(ckpt, other)
    proc = run_cli("caption.py", str(trained / "videos" / "v00.mp4"), "--checkpoint", str(other))
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert "resnet152 features come from random(seed=0)" in proc.stderr and "f82ba261" in proc.stderr


def refusal_of(trained, path, extract: dict, modalities: dict | None = None) -> str:
    """caption.py's one-line refusal (exit 2, nothing on stdout) of the demo model saved to `path` with `extract`
    as its features' record (and `modalities`: refused before the model is built)."""
    ckpt = torch.load(trained / "run" / "best.pt", weights_only=True)
    ckpt["extract"] = extract
    if modalities is not None:
        ckpt["config"]["modalities"] = modalities
    torch.save(ckpt, path)
    proc = run_cli("caption.py", str(trained / "videos" / "v00.mp4"), "--checkpoint", str(path))
    assert proc.returncode == 2 and proc.stdout == "" and proc.stderr.count("\n") == 1, proc.stderr
    return proc.stderr


def test_a_model_of_imported_features_points_to_evaluate(trained, tmp_path):
    """A model trained on imported (precomputed) features cannot caption a new video: the refusal said only that,
    not that `s2vt evaluate` answers for the videos whose features were imported. Features imported under the name
    of a modality this toolkit extracts (`--modality resnet152`) are another program's: caption.py computed its
    own ResNet-152 features for them, which would not be what the model learnt from."""
    modalities = torch.load(trained / "run" / "best.pt", weights_only=True)["config"]["modalities"]
    err = refusal_of(trained, tmp_path / "imported.pt", {
        "source": "precomputed features from /data/feat, imported by `s2vt import features`", "dtype": "float16",
        "backbones": {m: "precomputed" for m in modalities}})
    # (the videos it answers for are those imported into split test: the manifest it trained on holds only videos
    # it learnt from, which that advice scored near-perfectly; new-user trial 69)
    # (by `import features` into split test, an MLDS model's too: `import mlds` has no --split; trial 71)
    evaluate = f"s2vt evaluate --checkpoint {tmp_path / 'imported.pt'}"
    assert "cannot be computed for a new video; it answers for videos whose features are imported as its training " \
        "ones were, into split test: s2vt import features FEAT_DIR --captions IDS.json --modality NAME (once for " \
        f"each of {', '.join(sorted(modalities))}) " \
        "--split test --features STORE --out MANIFEST (IDS.json: {\"<id>\": []} for clips without captions), then " \
        f"{evaluate} --manifest MANIFEST --features STORE --split test --out PREDS.json" in err, err
    # LIC2022's tsn features: its import puts videos without labels in split test, the store beside the manifest
    err = refusal_of(trained, tmp_path / "lic.pt", {
        "source": "LIC2022 tsn features linked from /data/tsn by `s2vt import lic2022`",
        "backbones": {"tsn": "precomputed"}}, {"tsn": 8})
    assert err.rstrip().endswith(
        "it tags LIC2022 videos once imported with their features: s2vt import lic2022 VIDEOS.json --features "
        "TSN_FOLDER --out DIR/manifest.jsonl (videos without labels are split test), then s2vt evaluate --checkpoint "
        f"{tmp_path / 'lic.pt'} --manifest DIR/manifest.jsonl --features DIR/features --split test --out PREDS.json"), err


@pytest.mark.parametrize("how", ["imported", "streamed"])
def test_a_youtube8m_model_points_to_evaluate(trained, tmp_path, how):
    """A YouTube-8M model names its backbones by the release's names, not "precomputed": its refusal gave no
    next step. Imported by `s2vt import yt8m` or trained straight from the shards, it tags the videos of shards
    imported into split test with its vocabulary."""
    from s2vt.yt8m import SOURCES

    source = {"imported": "YouTube-8M precomputed features (2018 release), video-level, imported by `s2vt import "
                          "yt8m`",
              "streamed": "YouTube-8M precomputed features (2018 release), video-level, streamed from TFRecord "
                          "shards by train.py"}[how]
    dims = {"rgb": 1024, "audio": 128}
    err = refusal_of(trained, tmp_path / "yt8m.pt", {"source": source, "dtype": "float16",
                                                     "backbones": SOURCES["video"], "dims": dims}, dims)
    assert "it tags the videos of YouTube-8M shards once imported: s2vt import yt8m SHARD... --split test " \
        "--vocabulary VOCABULARY.csv --features STORE --out MANIFEST, then s2vt evaluate --checkpoint " \
        f"{tmp_path / 'yt8m.pt'} --manifest MANIFEST --features STORE --out PREDS.json" in err, err


def test_loading_a_checkpoint_leaves_the_global_rng_alone(trained):
    """caption.py loads the model while seeded random backbones build in other threads from
    torch's global RNG: a draw here made their weights, and so the answers, change run to run."""
    from s2vt.checkpoint import model_from_checkpoint, read_checkpoint
    ckpt = read_checkpoint(trained / "run" / "best.pt")
    before = torch.get_rng_state()
    model, _, _ = model_from_checkpoint(ckpt)
    assert torch.equal(torch.get_rng_state(), before)
    assert all(p.device.type == "cpu" for p in model.parameters())


def test_evaluate_html_report(trained, tmp_path):
    report = tmp_path / "report.html"
    proc = run_cli("-m", "s2vt.cli", "evaluate", "--checkpoint", str(trained / "run" / "best.pt"),
                   "--manifest", str(trained / "manifest.jsonl"), "--features", str(trained / "features"),
                   "--split", "test", "--beam", "2", "--out", str(tmp_path / "preds.json"), "--html", str(report))
    assert proc.returncode == 0, proc.stderr[-2000:]
    page = report.read_text()
    assert page.count("<tr><td>") == 4 and page.count("data:image/jpeg;base64,") >= 4


def test_tag_only_model_says_it_writes_no_caption(trained, tmp_path):
    rows = [json.loads(line) for line in (trained / "manifest.jsonl").read_text().splitlines()]
    manifest = tmp_path / "tags.jsonl"  # the same videos, tags only
    manifest.write_text("".join(json.dumps({**{k: v for k, v in r.items() if k != "captions"},
                                            "path": str(trained / r["path"])}) + "\n" for r in rows))
    proc = run_cli("train.py", "--manifest", str(manifest), "--features", str(trained / "features"), "--out",
                   str(tmp_path / "run"), "--epochs", "1", "--hidden", "16", "--batch-size", "4", "--quiet")
    assert proc.returncode == 0, proc.stderr[-2000:]
    video = str(trained / "videos" / "v00.mp4")
    proc = run_cli("caption.py", video, "--checkpoint", str(tmp_path / "run" / "best.pt"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.splitlines()[0] == f"{video}: (no caption: the model writes tags only)"


def test_a_file_name_that_is_not_utf8_is_printed_escaped(monkeypatch, capsys, tmp_path):
    """caption.py's output stays UTF-8 (and its JSON parses as such) for a name with a raw 0xff byte:
    shown as \\xff, as extract's failures.jsonl shows it, on stdout and in an error line alike."""
    import os

    from extract.ffmpeg import MediaError
    from s2vt import captioner

    class Fake:  # (what caption_videos reads of a Captioner: the names are the point, not the model)
        has_captions, random_note = True, None

        def __init__(self, *args):
            pass

        def caption(self, path):
            if "broken" in path:
                raise MediaError(f"{path}: not a readable video")
            return {"video": path, "caption": "a cat", "tags": [{"tag": "pets", "p": 0.5}], "seconds": 0.1}

    monkeypatch.setattr(captioner, "Captioner", Fake)
    good, bad = os.fsdecode(b"bad\xffname.mp4"), os.fsdecode(b"broken\xfe.mp4")
    monkeypatch.chdir(tmp_path)
    for name in (good, bad):  # (they exist: a missing path or an empty file is refused before the captioner runs)
        with open(name, "wb") as f:
            f.write(b"x")
    assert captioner.caption_videos([good, bad], "ck.pt", as_json=True) == 1
    out = capsys.readouterr()
    assert out.out.encode("utf-8") and out.err.encode("utf-8")  # (a lone surrogate would not encode)
    assert [json.loads(line) for line in out.out.splitlines()][1] == {
        "video": "broken\\xfe.mp4", "error": "broken\\xfe.mp4: not a readable video",
        "notes": []}  # (the failed one's too)
    assert json.loads(out.out.splitlines()[0])["video"] == "bad\\xffname.mp4"
    assert out.err == ("error: broken\\xfe.mp4: not a readable video\n"
                       "error: 1 of 2 videos captioned; 1 failed (said above)\n")
    assert captioner.caption_videos([good], "ck.pt") == 0
    assert capsys.readouterr().out.splitlines() == ["bad\\xffname.mp4: a cat", "  tags: pets (0.50)"]
    # a command's one-line error names such a path the same way
    from s2vt.cli import main
    monkeypatch.undo()  # (the real Captioner)
    monkeypatch.chdir(tmp_path)
    assert main(["caption", good, "--checkpoint", os.fsdecode(b"x\xff.pt")]) == 2
    assert capsys.readouterr().err == "error: x\\xff.pt: checkpoint not found\n"


def test_an_interrupted_caption_run_counts_the_videos_captioned(tmp_path, monkeypatch, capsys):
    """A Ctrl-C in a caption run over several videos said 'the videos above were captioned, the rest were
    not': how many, of how many, was left to count by hand."""
    import signal

    from extract.ffmpeg import MediaError
    from s2vt import captioner
    from s2vt.cli import captioned_so_far, main

    class Fake:  # (a Captioner's names: the 5th video gets a real SIGINT, as a Ctrl-C while it runs)
        has_captions, random_note = True, None

        def __init__(self, *args):
            self.calls = 0

        def caption(self, path):
            self.calls += 1
            if self.calls == 5:
                os.kill(os.getpid(), signal.SIGINT)
            if "broken" in path:
                raise MediaError(f"{path}: not a readable video")
            return {"video": path, "caption": "a cat", "tags": [], "seconds": 0.1}

    monkeypatch.setattr(captioner, "Captioner", Fake)
    monkeypatch.chdir(tmp_path)
    names = [f"v{i}.mp4" if i != 1 else "broken.mp4" for i in range(10)]
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    assert main(["caption", *names, "--checkpoint", "ck.pt"]) == 130
    out = capsys.readouterr()
    assert out.out.splitlines() == ["v0.mp4: a cat", "v2.mp4: a cat", "v3.mp4: a cat"]
    assert out.err.splitlines() == [
        "error: broken.mp4: not a readable video",
        "interrupted: 3 of 10 videos were captioned (above), 1 failed, the other 6 were not; to start again: "
        f"s2vt caption {' '.join(names)} --checkpoint ck.pt"]
    assert captioned_so_far({}) == "no video was captioned"  # (interrupted while the folders were listed)
    assert captioned_so_far({"videos": 4, "captioned": 0, "failed": 0}) == "none of the 4 videos was captioned"
    assert captioned_so_far({"videos": 1, "captioned": 0, "failed": 0}) == "the video was not captioned"
    assert captioned_so_far({"videos": 3, "captioned": 1, "failed": 0}) == \
        "1 of 3 videos was captioned (above), the other 2 were not"


def test_a_video_named_with_a_leading_dash_gets_a_hint(tmp_path):
    """`caption.py -clip.mp4` said only "the following arguments are required: VIDEO" (argparse reads the
    name as an option), and `caption.py a.mp4 -clip.mp4` "unrecognized arguments": both now name the file
    and how to pass it."""
    from .conftest import REPO, run_cli

    (tmp_path / "-clip.mp4").write_bytes(b"")
    for args in (["-clip.mp4"], ["a.mp4", "-clip.mp4"]):
        proc = run_cli(str(REPO / "caption.py"), *args, "--checkpoint", "x.pt", cwd=tmp_path, timeout=120)
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
        assert "-clip.mp4 is a file: name it ./-clip.mp4" in proc.stderr, proc.stderr
    (tmp_path / "-vids").mkdir()  # (a folder of videos, as caption.py takes)
    proc = run_cli(str(REPO / "caption.py"), "-vids", "--checkpoint", "x.pt", cwd=tmp_path, timeout=120)
    assert proc.returncode == 2 and "-vids is a folder: name it ./-vids" in proc.stderr, proc.stderr
    proc = run_cli(str(REPO / "caption.py"), "a.mp4", "-zz", cwd=tmp_path, timeout=120)  # (not a file: no hint)
    assert proc.returncode == 2 and "is a file" not in proc.stderr and "unrecognized arguments: -zz" in proc.stderr


def test_a_bad_decoding_setting_is_said_before_a_missing_model(tmp_path):
    """`caption.py x.mp4 --beam 0` with no model said the model was missing; fixing that, the user then
    met the --beam error: both are the command line's, the setting is said first."""
    from .conftest import REPO, run_cli

    proc = run_cli(str(REPO / "caption.py"), "x.mp4", "--beam", "0", cwd=tmp_path,
                   env={"S2VT_CHECKPOINT": None}, timeout=120)
    assert proc.returncode == 2 and proc.stderr == "error: --beam must be at least 1, not 0\n", proc.stderr


def test_an_ffmpeg_that_does_not_run_is_one_line_before_the_model_loads(tmp_path, capsys, monkeypatch):
    """A wrong $S2VT_FFMPEG was blamed on each video (`error: v.mp4: FileNotFoundError: ...`), after the
    model loaded: one line now, exit 2, as python -m extract says it."""
    from extract.ffmpeg import ffmpeg_exe

    (tmp_path / "v.mp4").write_bytes(b"x")
    monkeypatch.chdir(tmp_path)
    proc = run_cli(str(REPO / "caption.py"), "v.mp4", "--checkpoint", "none.pt", cwd=tmp_path,
                   env={"S2VT_FFMPEG": "/nonexistent"})
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == "error: ffmpeg /nonexistent ($S2VT_FFMPEG) does not run: No such file or directory\n"
    try:
        for exe, why in (("/etc/passwd", "does not run: Permission denied"), ("/bin/true", "is not ffmpeg")):
            monkeypatch.setenv("S2VT_FFMPEG", exe)
            ffmpeg_exe.cache_clear()
            code, out, err = fake_caption(capsys, monkeypatch, "v.mp4", "v.mp4")  # (FakeCaptioner: no ffmpeg)
            assert (code, out) == (2, []) and len(err) == 1 and err[0].startswith(f"error: ffmpeg {exe} "
                                                                                  f"($S2VT_FFMPEG) {why}"), err
    finally:
        monkeypatch.delenv("S2VT_FFMPEG")
        ffmpeg_exe.cache_clear()


def test_broken_links_in_a_folder_are_failed_videos_not_skipped(tmp_path, capsys, monkeypatch):
    """A link to a disk not mounted was left out of a folder unsaid: 'no videos in brk', or among good videos
    never counted. Each is a failed input naming where it points; a folder of only those says so."""
    (tmp_path / "mixed").mkdir()
    (tmp_path / "mixed" / "a.mp4").write_bytes(b"x")
    (tmp_path / "mixed" / "v1.mp4").symlink_to("/mnt/unmounted/v1.mp4")
    (tmp_path / "brk").mkdir()
    (tmp_path / "brk" / "v1.mp4").symlink_to("/mnt/unmounted/v1.mp4")
    monkeypatch.chdir(tmp_path)
    code, out, err = fake_caption(capsys, monkeypatch, "mixed", "--json")
    assert code == 1 and [json.loads(line) for line in out] == [
        {"video": "mixed/a.mp4", "caption": "a caption", "tags": [], "seconds": 0.1, "notes": []},
        {"video": "mixed/v1.mp4", "error": "mixed/v1.mp4: broken symbolic link to /mnt/unmounted/v1.mp4",
         "notes": []}]
    assert err == ["error: mixed/v1.mp4: broken symbolic link to /mnt/unmounted/v1.mp4",
                   "error: 1 of 2 videos captioned; 1 failed (said above)"]
    code, out, err = fake_caption(capsys, monkeypatch, "brk")
    assert (code, out, err) == (2, [], ["error: brk/v1.mp4: broken symbolic link to /mnt/unmounted/v1.mp4"])
    code, out, err = fake_caption(capsys, monkeypatch, "brk/v1.mp4")  # (named alone: where it points, too)
    assert (code, out, err) == (2, [], ["error: brk/v1.mp4: broken symbolic link to /mnt/unmounted/v1.mp4"])


def test_a_name_holding_a_newline_stays_on_its_line(tmp_path, capsys, monkeypatch):
    """A file name holding a newline was printed as is: two lines for one video (an escape sequence acted on
    the terminal). Text output and error lines escape them, as non-UTF-8 bytes are; --json keeps the name."""
    monkeypatch.chdir(tmp_path)
    for name in ("a\nb.mp4", "bad\x1b[2J.mp4"):
        (tmp_path / name).write_bytes(b"x")
    code, out, err = fake_caption(capsys, monkeypatch, "a\nb.mp4", "bad\x1b[2J.mp4")
    assert code == 1 and out == ["a\\nb.mp4: a caption"] and err == [
        "error: bad\\x1b[2J.mp4: not a video", "error: 1 of 2 videos captioned; 1 failed (said above)"]
    code, out, err = fake_caption(capsys, monkeypatch, "a\nb.mp4", "--json")
    assert code == 0 and [json.loads(line)["video"] for line in out] == ["a\nb.mp4"]


def test_caption_says_extracts_notes_of_a_video(trained, tmp_path, capsys):
    """A faststart MP4 cut short was captioned with no remark, where extract notes it (the header promises
    more frames than the stream holds): caption.py says its notes as 'note:' lines on stderr, and --json
    gives each video a "notes" list (hostile trial)."""
    from s2vt.cli import main

    from .conftest import make_video as lavfi_video

    whole = lavfi_video(tmp_path / "whole.mp4", 8.0, size="64x48", extra=["-movflags", "+faststart"]).read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole[: len(whole) * 3 // 10])
    # an AVI cut short, whose duration ffmpeg guesses from the bytes left: no note, or one counting that guess
    whole = lavfi_video(tmp_path / "whole.avi", 4.0, size="64x48", vcodec="mpeg4", audio=None).read_bytes()
    cut_avi = tmp_path / "cut.avi"
    cut_avi.write_bytes(whole[: len(whole) * 3 // 10])
    good = str(trained / "videos" / "v00.mp4")
    code = main(["caption", str(cut), good, str(cut_avi), "--checkpoint", str(trained / "run" / "best.pt"), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    # (each answer's notes: the model's random backbones first, as serve's; a saved answers file says it, trial 127)
    notes = [video_notes(r) for r in rows]
    assert notes[0] and notes[0][0].startswith(f"file cut short ({cut.stat().st_size:,} of the ") and notes[1] == []
    assert rows[2]["caption"] and notes[2][0].startswith(f"file cut short ({cut_avi.stat().st_size:,} of the "
                                                         f"{len(whole):,} bytes its AVI header gives): ")
    assert without_random_note(err).splitlines() == [f"note: {r['video']}: {n}" for r, ns in zip(rows, notes) for n in ns]
    assert RANDOM_NOTE in err.splitlines()[0], err  # (before the first answer's notes too; trial 123)


def test_an_avi_written_to_a_pipe_is_captioned_over_its_frames_without_a_guess(trained, tmp_path, capsys):
    """An AVI written to a pipe was noted 'video stream holds only 100 of the 15773 frames ffmpeg guesses from
    the file's size', its duration taken as ffmpeg's guess from the file's size (hostile trial): its frames
    are counted at the probe, its duration and frame times theirs, and there is nothing to note."""
    from s2vt.cli import main
    from s2vt.captioner import Captioner

    from .conftest import piped_avi

    piped = piped_avi(tmp_path / "piped.avi", 4.0)
    code = main(["caption", str(piped), "--checkpoint", str(trained / "run" / "best.pt"), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    row, = [json.loads(line) for line in out.splitlines()]
    assert row["caption"] and video_notes(row) == [] and without_random_note(err) == ""
    _, media = Captioner(str(trained / "run" / "best.pt")).caption(str(piped), with_media=True)
    assert 0 <= media.times[0] < media.times[-1] < 4.0


def test_a_kernel_file_whose_size_reads_zero_is_not_called_empty(tmp_path, capsys, monkeypatch):
    """`caption.py /proc/self/maps` said 'empty file (0 bytes)' (hostile trial): /proc's files report size 0
    yet hold text. Now it is said to be a kernel file, not a video file."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "maps.mp4").symlink_to("/proc/self/maps")  # (through a link too: judged by the file it names)
    for path in ("/proc/self/maps", "maps.mp4"):
        code, out, err = fake_caption(capsys, monkeypatch, path)
        assert (code, out) == (2, []) and err == [f"error: {path}: a kernel file under /proc (its size reads 0, "
                                                  "its content is the system's), not a video file"], err


def test_a_pipe_in_a_folder_fails_as_a_video(tmp_path, capsys, monkeypatch):
    """A pipe named clip.mp4 in a folder was skipped unsaid by caption.py and extract (a video missing from the
    batch; hostile trial), and ffmpeg would wait on it forever: a failed input naming its kind, the rest go on."""
    from extract.__main__ import main as extract_main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "v").mkdir()
    (tmp_path / "v" / "a.mp4").write_bytes(b"x")
    os.mkfifo(tmp_path / "v" / "b.mp4")
    code, out, err = fake_caption(capsys, monkeypatch, "v", "--json")
    assert code == 1 and [json.loads(line).get("error") for line in out] == [None, "v/b.mp4: a pipe (FIFO), not a "
                                                                                  "video file"], (out, err)
    (tmp_path / "v" / "a.mp4").unlink()
    code, out, err = fake_caption(capsys, monkeypatch, "v")
    assert code == 2 and err == ["error: v/b.mp4: a pipe (FIFO), not a video file"], err
    # extract: a failed video (its only one: exit 2, the store it made removed again)
    assert extract_main(["v", "--out", "s", "--weights", "random", "--modalities", "resnet152"]) == 2
    err = capsys.readouterr().err
    assert f"failed: b: {tmp_path / 'v' / 'b.mp4'}: a pipe (FIFO), not a video file" in err, err
    assert "1 video failed" in err and not (tmp_path / "s").exists()


def test_caption_py_json_lines_are_scored_against_a_manifest_by_their_files(trained, tmp_path, monkeypatch, capsys):
    """`caption.py videos/ --json > answers.jsonl` then `s2vt score manifest.jsonl answers.jsonl`: each line's
    video is given the id of the manifest's video in the same file (its lines were refused: they name videos
    by path). The scores are those of the same captions given by id."""
    from s2vt.cli import main

    test = [f"videos/v{i:02d}.mp4" for i in range(12, 16)]  # (the split test's files, as typed where caption.py ran)
    proc = run_cli(str(REPO / "caption.py"), *test, "--checkpoint", "run/best.pt", "--json", cwd=trained)
    assert proc.returncode == 0, proc.stderr[-2000:]
    answers = tmp_path / "answers.jsonl"
    answers.write_text(proc.stdout)
    by_id = tmp_path / "by_id.json"
    by_id.write_text(json.dumps({os.path.basename(r["video"])[:-4]: r["caption"]
                                 for r in map(json.loads, proc.stdout.splitlines())}))
    manifest = str(trained / "manifest.jsonl")
    monkeypatch.chdir(trained)
    assert main(["score", manifest, str(answers), "--split", "test", "--json"]) == 0
    out, err = capsys.readouterr()
    assert err == "" and json.loads(out)["scored"] == 4
    assert main(["score", manifest, str(by_id), "--split", "test", "--json"]) == 0
    assert capsys.readouterr().out == out  # (the same captions, by id)
    # a failed video's line: counted, and its video has no prediction (refused as a missing one is)
    lines = proc.stdout.splitlines()
    answers.write_text("\n".join([json.dumps({"video": test[0], "error": "cannot decode", "notes": []})]
                                 + lines[1:]) + "\n")
    assert main(["score", manifest, str(answers), "--split", "test"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"warning: {answers}: 1 video caption.py could not caption (a line with an \"error\"): no " \
                     "prediction for v12"
    assert err[1].startswith("error: ") and "v12" in err[1] and len(err) == 2, err
    assert main(["score", manifest, str(answers), "--split", "test", "--allow-partial", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["scored"] == 3
    # from another folder the same relative paths name other files: said, with where to run it
    monkeypatch.chdir(tmp_path)
    answers.write_text(proc.stdout)
    assert main(["score", manifest, str(answers), "--split", "test"]) == 2
    said = capsys.readouterr().err
    assert said == (f"error: {answers}: 4 videos not found (first: videos/v12.mp4): caption.py "
                    "--json names each video by the path it was given, resolved here from the folder score runs in, "
                    "then from the answers' own folder (run score where caption.py ran)\n")
    # saved where caption.py ran (`> answers.jsonl`), they are read from anywhere: their folder names the videos
    work = tmp_path / "work"
    work.mkdir()
    (work / "videos").symlink_to(trained / "videos")
    (work / "answers.jsonl").write_text(proc.stdout)
    assert main(["score", manifest, str(work / "answers.jsonl"), "--split", "test", "--json"]) == 0
    assert capsys.readouterr().out == out
    # references that are no manifest have no files to match
    refs = tmp_path / "refs.json"
    refs.write_text(json.dumps({"v12": ["a cat"]}))
    assert main(["score", str(refs), str(answers)]) == 2
    said = capsys.readouterr().err
    assert said.count("\n") == 1 and f"{refs} is no manifest: pass the manifest of these videos" in said, said
