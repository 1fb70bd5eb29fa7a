"""Competition exports round-trip; hostile ids are refused."""
import json
import os
import zipfile

import pytest

from s2vt.manifest import ManifestError, read_manifest
from s2vt.export import write_zip

from .conftest import run_cli

PREDS = {"video7010": {"caption": "a man plays a guitar", "tags": []},
         "video7011": {"caption": "一个女人在做饭", "tags": []}}


def unzip(path):
    with zipfile.ZipFile(path) as z:
        assert len(z.namelist()) == 1
        name = z.namelist()[0]
        return name, z.read(name).decode("utf-8")


def test_coco_round_trip(tmp_path):
    name, text = unzip(write_zip(PREDS, "coco", tmp_path / "a.zip"))
    assert name == "results.json"
    assert {r["image_id"]: r["caption"] for r in json.loads(text)} == {k: v["caption"] for k, v in PREDS.items()}


def test_msrvtt_round_trip(tmp_path):
    name, text = unzip(write_zip(PREDS, "msrvtt", tmp_path / "a.zip"))
    data = json.loads(text)
    assert data["version"] == "VERSION 1.0" and data["external_data"] == {"used": "false", "details": ""}
    assert {r["video_id"]: r["caption"] for r in data["result"]} == {k: v["caption"] for k, v in PREDS.items()}


def test_lic2022_round_trip(tmp_path):
    preds = {"123": {"caption": "", "tags": [{"tag": "level2:体育/足球", "p": 0.8}, {"tag": "level1:体育", "p": 0.9},
                                            {"tag": "tag:足球", "p": 0.7}, {"tag": "tag:比赛", "p": 0.6}]}}
    name, text = unzip(write_zip(preds, "lic2022", tmp_path / "a.zip", order=["123", "456"]))
    assert name == "result.txt" and "足球" in text  # UTF-8, not \\u escapes
    lines = [json.loads(x) for x in text.splitlines()]
    assert lines[0] == {"@id": "123", "category": [{"@meta": {"type": "level1"}, "@value": "体育"},
                                                   {"@meta": {"type": "level2"}, "@value": "足球"}],
                        "tag": [{"@value": "足球"}, {"@value": "比赛"}]}
    assert lines[1] == {"@id": "456", "category": [{"@meta": {"type": "level1"}, "@value": ""},
                                                   {"@meta": {"type": "level2"}, "@value": ""}], "tag": []}


def test_hostile_id_refused(tmp_path):
    with pytest.raises(ManifestError, match="invalid video_id"):  # a UserError: one line in the CLI
        write_zip({"../../x": {"caption": "a", "tags": []}}, "coco", tmp_path / "a.zip")
    preds = tmp_path / "p.json"
    preds.write_text(json.dumps({"../../x": "a caption"}))
    proc = run_cli("-m", "s2vt.cli", "export", str(preds), "--format", "coco", "--out", str(tmp_path / "b.zip"))
    assert proc.returncode == 2 and "invalid id" in proc.stderr and not (tmp_path / "b.zip").exists()


def lic_manifest(path):
    from s2vt.manifest import write_manifest
    write_manifest([{"video_id": v, "split": s, "tags": ["level1:体育"]}
                    for v, s in (("1", "train"), ("2", "val"), ("3", "test"), ("4", "test"))], path)
    return path


def test_lic2022_export_writes_only_the_predicted_split(tmp_path, capsys):
    from s2vt.cli import main
    preds = tmp_path / "p.json"
    preds.write_text(json.dumps([{"video_id": v, "caption": "", "tags": ["level1:体育"]} for v in ("3", "2")]))
    manifest = lic_manifest(tmp_path / "m.jsonl")
    assert main(["export", str(preds), "--format", "lic2022", "--manifest", str(manifest),
                 "--out", str(tmp_path / "a.zip"), "--allow-partial"]) == 0
    _, text = unzip(tmp_path / "a.zip")
    assert [json.loads(line)["@id"] for line in text.splitlines()] == ["3", "4"]  # test only, manifest order
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == f"wrote {tmp_path / 'a.zip'}: 2 videos (split test of {manifest}, 1 predicted)"
    assert err[0].startswith("warning: 1 of the 2 test videos has no prediction")
    assert main(["export", str(preds), "--format", "lic2022", "--manifest", str(manifest), "--split", "val",
                 "--out", str(tmp_path / "v.zip")]) == 0
    assert [json.loads(line)["@id"] for line in unzip(tmp_path / "v.zip")[1].splitlines()] == ["2"]


def test_export_counts_one_video_as_one_video(tmp_path, capsys):
    """(hostile trial) `s2vt export` of one video said 'wrote a.zip: 1 videos', and its warnings '1 predicted videos
    are not in split test', '1 videos have a level 2 ...', 'none of the 1 val videos': each count now says video
    for one, and its verb agrees."""
    from s2vt.cli import main
    preds = tmp_path / "p.json"
    preds.write_text(json.dumps({"video7010": "a man plays a guitar"}))
    assert main(["export", str(preds), "--format", "coco", "--out", str(tmp_path / "a.zip")]) == 0
    assert capsys.readouterr().err == f"wrote {tmp_path / 'a.zip'}: 1 video\n"
    preds.write_text(json.dumps([{"video_id": "3", "caption": "", "tags": ["level1:q", "level2:x/z"]},
                                 {"video_id": "1", "caption": "", "tags": ["level1:q"]}]))
    manifest = lic_manifest(tmp_path / "m.jsonl")
    assert main(["export", str(preds), "--format", "lic2022", "--manifest", str(manifest),
                 "--out", str(tmp_path / "b.zip"), "--allow-partial"]) == 0
    assert capsys.readouterr().err.splitlines() == [
        "warning: 1 of the 2 test videos has no prediction (written with empty answers); 1 predicted video is not "
        "in split test (left out); 1 video has a level 2 that is not under its level 1, dropped (the level 1 kept; "
        "first: 3: level2:x/z with level1:q)",
        f"wrote {tmp_path / 'b.zip'}: 2 videos (split test of {manifest}, 1 predicted)"]
    assert main(["export", str(preds), "--format", "lic2022", "--manifest", str(manifest), "--split", "val",
                 "--out", str(tmp_path / "c.zip")]) == 2
    assert capsys.readouterr().err == (f"error: {preds} predicts none of the 1 val video of {manifest} (its "
                                       "predictions are of its test, train videos: pass the --split given to s2vt "
                                       "evaluate)\n")
    # another dataset's predictions: none of the manifest's ids (they were told to pass --split; a hostile trial)
    preds.write_text(json.dumps([{"video_id": "video7010", "caption": "", "tags": ["level1:q"]}]))
    assert main(["export", str(preds), "--format", "lic2022", "--manifest", str(manifest),
                 "--out", str(tmp_path / "d.zip")]) == 2
    assert capsys.readouterr().err == (f"error: {preds} predicts none of the 2 test videos of {manifest} nor any other "
                                       "of its videos (the predictions of another dataset, or another --manifest's?)\n")


def test_lic2022_level2_not_under_the_level1_is_dropped_with_one_warning(tmp_path, capsys):
    from s2vt.cli import main
    preds = tmp_path / "p.json"
    preds.write_text(json.dumps([{"video_id": "3", "caption": "", "tags": ["level1:q", "level2:x/z", "tag:t"]},
                                 {"video_id": "4", "caption": "", "tags": [  # the best under its level 1 wins
                                     {"tag": "level1:q", "p": 0.9}, {"tag": "level2:x/z", "p": 0.8},
                                     {"tag": "level2:q/w", "p": 0.5}]}]))
    manifest = lic_manifest(tmp_path / "m.jsonl")
    capsys.readouterr()
    assert main(["export", str(preds), "--format", "lic2022", "--manifest", str(manifest),
                 "--out", str(tmp_path / "a.zip")]) == 0
    rows = [json.loads(line) for line in unzip(tmp_path / "a.zip")[1].splitlines()]
    assert [[c["@value"] for c in r["category"]] for r in rows] == [["q", ""], ["q", "w"]]
    assert rows[0]["tag"] == [{"@value": "t"}]
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and err[0] == ("warning: 2 videos have a level 2 that is not under their level 1, dropped "
                                        "(the level 1 kept; first: 3: level2:x/z with level1:q)"), err


def test_lic2022_level2_warning_with_a_newline_stays_one_line(tmp_path, capsys):
    """A stray level 2 tag holding a raw newline broke export's warning after 'level1:<b>"x' (hostile trial)."""
    from s2vt.cli import main
    preds = tmp_path / "p.json"
    preds.write_text(json.dumps([{"video_id": "3", "caption": "", "tags": ["level1:<b>\"x", "level2:a\nb/c\u2028"]}]))
    manifest = lic_manifest(tmp_path / "m.jsonl")
    capsys.readouterr()
    assert main(["export", str(preds), "--format", "lic2022", "--manifest", str(manifest),
                 "--out", str(tmp_path / "a.zip"), "--allow-partial"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and err[0].endswith('first: 3: level2:a\\nb/c\\u2028 with level1:<b>"x)'), err


def test_export_refuses_predictions_for_another_split(tmp_path, capsys):
    from s2vt.cli import main
    preds = tmp_path / "p.json"
    preds.write_text(json.dumps([{"video_id": "3", "caption": "", "tags": ["level1:体育"]}]))  # a test video
    manifest = lic_manifest(tmp_path / "m.jsonl")
    capsys.readouterr()
    assert main(["export", str(preds), "--format", "lic2022", "--manifest", str(manifest), "--split", "val",
                 "--out", str(tmp_path / "v.zip")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {preds} predicts none of the 1 val video of {manifest}") and "\n" not in err
    assert not (tmp_path / "v.zip").exists()
    # --split / --manifest mean nothing for the caption formats: refused, not silently ignored
    assert main(["export", str(preds), "--format", "coco", "--split", "val", "--out", str(tmp_path / "c.zip")]) == 2
    assert "error: --split is for --format lic2022" in capsys.readouterr().err
    assert not (tmp_path / "c.zip").exists()
    # (--allow-partial too: taken, it did nothing; trial 109)
    assert main(["export", str(preds), "--format", "coco", "--allow-partial", "--manifest", str(manifest),
                 "--out", str(tmp_path / "c.zip")]) == 2
    assert "error: --manifest and --allow-partial are for --format lic2022" in capsys.readouterr().err
    assert not (tmp_path / "c.zip").exists()


def test_export_refuses_to_overwrite_without_force(tmp_path, capsys):
    from s2vt.cli import main
    preds = tmp_path / "p.json"
    preds.write_text(json.dumps(PREDS_JSON := {k: v["caption"] for k, v in PREDS.items()}))
    out = tmp_path / "a.zip"
    out.write_bytes(b"an earlier submission")
    assert main(["export", str(preds), "--format", "coco", "--out", str(out)]) == 2
    assert capsys.readouterr().err.strip() == f"error: {out} already exists: pass --force to replace it"
    assert out.read_bytes() == b"an earlier submission"
    assert main(["export", str(preds), "--format", "coco", "--out", str(out), "--force"]) == 0
    assert {r["image_id"]: r["caption"] for r in json.loads(unzip(out)[1])} == PREDS_JSON


def test_an_out_another_export_is_writing_is_refused(tmp_path, capsys):
    """(hostile trial) Two `export ... --out same.zip` at once (no --force) both found it absent, both said "wrote",
    and the one ending last silently replaced the other's: "never silently replaced" broken. Now export holds a
    lock beside --out while it checks and writes it, as evaluate does: the other run is refused in one line."""
    import subprocess
    import sys

    from s2vt.cli import main
    from s2vt.locks import lock_text

    preds = tmp_path / "p.json"
    preds.write_text(json.dumps({k: v["caption"] for k, v in PREDS.items()}))
    out, lock = tmp_path / "a.zip", tmp_path / ".a.zip.lock"
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])  # (a running export)
    try:
        lock.write_text(lock_text(other.pid))
        assert main(["export", str(preds), "--format", "coco", "--out", str(out)]) == 2
        assert capsys.readouterr().err.strip() == (
            f"error: --out {out}: another s2vt export (pid {other.pid}) is writing it: wait for it to end, or name "
            f"another --out (if none runs, remove {lock})")
        assert not out.exists()
    finally:
        other.kill()
        other.wait()
    # its process gone, the lock is stale: taken over, the zip written and the lock removed
    assert main(["export", str(preds), "--format", "coco", "--out", str(out)]) == 0
    assert unzip(out)[0] and not lock.exists()


def linked_submission(tmp_path, name: str):
    """(p.json of PREDS' captions, subs/a.zip holding an earlier submission, the link `name` to it)."""
    preds = tmp_path / "p.json"
    preds.write_text(json.dumps({k: v["caption"] for k, v in PREDS.items()}))
    (tmp_path / "subs").mkdir()
    target, link = tmp_path / "subs" / "a.zip", tmp_path / name
    target.write_bytes(b"an earlier submission")
    link.symlink_to(target)
    return preds, target, link


def test_export_through_a_symbolic_link_writes_its_file_and_a_broken_one_is_refused(tmp_path, capsys):
    """--out LINK: the rename replaced the link with a plain file (its target untouched); a broken
    link was replaced the same way."""
    import os

    from s2vt.cli import main
    from s2vt.fileio import OutputError, atomic_write_bytes

    preds, target, link = linked_submission(tmp_path, "a.zip")
    assert main(["export", str(preds), "--format", "coco", "--out", str(link), "--force"]) == 0
    assert link.is_symlink() and os.readlink(link) == str(target) and len(unzip(target)[1]) > 0
    assert sorted(p.name for p in (tmp_path / "subs").iterdir()) == ["a.zip"]
    broken = tmp_path / "b.zip"
    broken.symlink_to(tmp_path / "gone" / "b.zip")
    capsys.readouterr()
    assert main(["export", str(preds), "--format", "coco", "--out", str(broken), "--force"]) == 2
    assert capsys.readouterr().err == (f"error: cannot write {broken}: {broken} is a broken symbolic link (to "
                                       f"{tmp_path / 'gone' / 'b.zip'}, which does not exist): remove it, or make "
                                       "what it points to\n")
    assert broken.is_symlink() and not (tmp_path / "gone").exists()
    with pytest.raises(OutputError, match="is a broken symbolic link"):  # (the one place every output goes through)
        atomic_write_bytes(broken, b"x")
    assert broken.is_symlink()


def test_export_judges_a_link_out_by_the_file_written_as_evaluate_does(tmp_path, capsys):
    """--out LINK: every check goes by the file written through it (fileio.written_file, as evaluate's outputs):
    the .zip name was asked of the link and of its target, so a link `mine` to subs/a.zip was refused, and an
    input reached through a link was named by the link, not the file export would have written over."""
    import os

    from s2vt.cli import main

    preds, target, link = linked_submission(tmp_path, "mine")
    assert main(["export", str(preds), "--format", "coco", "--out", str(link)]) == 2
    # (named as given, with the file a write replaces)
    assert capsys.readouterr().err == f"error: {link} already exists (a link to {target}): pass --force to replace it\n"
    assert main(["export", str(preds), "--format", "coco", "--out", str(link), "--force"]) == 0
    # (but named as given, as evaluate names its outputs: 'wrote subs/a.zip' named a file the user never typed)
    assert capsys.readouterr().err == f"wrote {link}: 2 videos\n"
    assert link.is_symlink() and os.readlink(link) == str(target) and len(unzip(target)[1]) > 0
    (tmp_path / "in.zip").symlink_to(preds)
    before = preds.read_bytes()
    assert main(["export", str(preds), "--format", "coco", "--out", str(tmp_path / "in.zip"), "--force"]) == 2
    assert capsys.readouterr().err == f"error: cannot write {preds}: it is an input of this command\n"
    assert preds.read_bytes() == before


def test_export_to_a_pipe_or_a_device_is_refused_before_reading(tmp_path, capsys):
    """--out FIFO.zip was told 'already exists: pass --force', which could not help, and with --force refused
    only at the write, after the predictions were read (hostile trial): one line, exit 2, before any work."""
    import os

    from s2vt.cli import main

    preds = tmp_path / "p.json"
    preds.write_text("not read")
    fifo, dev = tmp_path / "a.zip", tmp_path / "d.zip"
    os.mkfifo(fifo)
    dev.symlink_to("/dev/null")
    # (through a link: the link named, to be removed; hostile trial: 'cannot write /dev/null: ... move it')
    for out, said in [(fifo, "it is a pipe, not a regular file: move it, or name another output"),
                      (dev, "it is a link to /dev/null, a device, not a regular file: remove the link, or name another "
                            "output")]:
        for force in ([], ["--force"]):
            assert main(["export", str(preds), "--format", "coco", "--out", str(out), *force]) == 2
            assert capsys.readouterr().err == f"error: cannot write {out}: {said}\n", (out, force)
    assert fifo.is_fifo() and dev.is_symlink()


def test_export_checks_what_it_is_given(tmp_path, capsys):
    from s2vt.cli import main
    manifest = lic_manifest(tmp_path / "m.jsonl")
    preds = tmp_path / "p.json"

    def export(*extra, out="a.zip"):
        capsys.readouterr()
        code = main(["export", str(preds), "--format", "lic2022", "--manifest", str(manifest),
                     "--out", str(tmp_path / out), *extra])
        return code, capsys.readouterr().err.strip().splitlines()

    # a tag model that is not a LIC2022 one (YouTube-8M names): refused, not blank answers
    preds.write_text(json.dumps([{"video_id": "3", "caption": "", "tags": ["Car", "Game"]}]))
    code, err = export()
    assert code == 2 and len(err) == 1 and "no predicted tag is a LIC2022 label" in err[0]
    # the results file is zipped under its fixed name: --out result.txt would hold a zip
    preds.write_text(json.dumps([{"video_id": v, "caption": "", "tags": ["level1:体育"]} for v in ("3", "2")]))
    code, err = export(out="result.txt")
    assert code == 2 and err == [f"error: --out {tmp_path / 'result.txt'}: export writes a zip holding result.txt; "
                                 "name it .zip"]
    # a .zip name that is a link to another file (a checkpoint) is judged by that file too: never replaced
    (tmp_path / "best.pt").write_bytes(b"model")
    (tmp_path / "bl.zip").symlink_to(tmp_path / "best.pt")
    code, err = export("--force", out="bl.zip")
    assert code == 2 and err == [f"error: --out {tmp_path / 'best.pt'}: export writes a zip holding result.txt; "
                                 "name it .zip"], err
    assert (tmp_path / "best.pt").read_bytes() == b"model"
    (tmp_path / "bl.zip").unlink()
    # part of the split predicted: a submission with blank lines is refused (another split's predictions sharing
    # some ids were written half blank, exit 0; trial 74), written with --allow-partial, with one warning line
    code, err = export()
    assert code == 2 and err == [f"error: {preds} has no prediction for 1 of the 2 test videos of {manifest} (first: "
                                 "4): s2vt evaluate --split test predicts every one (without --skip-missing); "
                                 "--allow-partial writes them with empty answers"], err
    assert not (tmp_path / "a.zip").exists()
    code, err = export("--allow-partial")
    assert code == 0 and err[0] == ("warning: 1 of the 2 test videos has no prediction (written with empty answers); "
                                    "1 predicted video is not in split test (left out)")
    # the same video twice: which answer counts would be a guess
    preds.write_text(json.dumps([{"video_id": "3", "caption": "a", "tags": []}, {"video_id": "3", "caption": "b"}]))
    code, err = export(out="b.zip")
    assert code == 2 and len(err) == 1 and "item 1: video 3 is predicted twice (also item 0)" in err[0]
    # {id: caption} form: the message names the entry, not a list item
    preds.write_text(json.dumps({"3": 1}))
    code, err = export(out="c.zip")
    assert code == 2 and err == [f"error: {preds}: '3' ({{id: caption}} form): caption must be a string, not int"]
    assert sorted(p.name for p in tmp_path.glob("*.zip")) == ["a.zip"]
    # an --out through a file: the message names the file in the way (mkdir said "File exists")
    preds.write_text(json.dumps([{"video_id": "3", "caption": "", "tags": ["level1:体育"]}]))
    code, err = export(out="p.json/x.zip")
    assert code == 2 and err[-1] == f"error: cannot write {preds}: {preds} is a file, not a folder"


def test_caption_export_refuses_predictions_without_captions(tmp_path, capsys):
    """A tag-only model's predictions (every caption "") are no caption submission: refused in one
    line, no zip; some empty captions are exported with a warning counting them."""
    from s2vt.cli import main
    from s2vt.results import ResultsError
    preds = tmp_path / "p.json"
    tags = [{"tag": "Car", "p": 0.9}]
    preds.write_text(json.dumps([{"video_id": v, "caption": "", "tags": tags} for v in ("v1", "v2")]))
    for fmt in ("coco", "msrvtt"):
        capsys.readouterr()
        assert main(["export", str(preds), "--format", fmt, "--out", str(tmp_path / f"{fmt}.zip")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err == [f"error: {preds}: these predictions have no captions (all 2 are empty), e.g. from a "
                       f"tag-only model: nothing to export as {fmt} captions; tags alone export with --format yt8m, "
                       "if they are YouTube-8M classes"]
    # LIC2022 predictions are named as such, with the format that takes them (new-user trial 69)
    lic = tmp_path / "lic.json"
    lic.write_text(json.dumps([{"video_id": "7", "caption": "", "tags": [{"tag": "level1:体育", "p": 0.8}]}]))
    assert main(["export", str(lic), "--format", "msrvtt", "--out", str(tmp_path / "lic.zip")]) == 2
    assert capsys.readouterr().err.strip().endswith("nothing to export as msrvtt captions; these are LIC2022 "
                                                    "predictions: export them with --format lic2022 --manifest MANIFEST")
    assert not list(tmp_path.glob("*.zip"))
    with pytest.raises(ResultsError, match="these predictions have no captions"):  # the library refuses too
        write_zip({"v1": {"caption": " ", "tags": []}}, "coco", tmp_path / "lib.zip")
    preds.write_text(json.dumps([{"video_id": "v1", "caption": "a car", "tags": tags},
                                 {"video_id": "v2", "caption": "", "tags": tags}]))
    assert main(["export", str(preds), "--format", "coco", "--out", str(tmp_path / "some.zip")]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0] == ("warning: 1 of 2 predicted captions are empty (first: v2); they are exported as empty "
                      "answers")
    assert [r["caption"] for r in json.loads(unzip(tmp_path / "some.zip")[1])] == ["a car", ""]


def refused_by_export_and_score(capsys, preds, refs, out, line: str) -> None:
    """`s2vt export PREDS` (coco, to `out`) and `s2vt score REFS PREDS` each refuse `preds` with exactly `line`."""
    from s2vt.cli import main
    for args in (["export", str(preds), "--format", "coco", "--out", str(out)], ["score", str(refs), str(preds)]):
        capsys.readouterr()
        assert main(args) == 2, args
        assert capsys.readouterr().err.strip().splitlines() == [line], args


def test_missing_caption_is_refused_like_null_in_export_and_score(tmp_path, capsys):
    from s2vt.cli import main
    preds, refs = tmp_path / "p.json", tmp_path / "refs.json"
    refs.write_text(json.dumps({"v1": ["a car drives"], "v2": ["a dog runs"]}))
    for second in ({"video_id": "v2"}, {"video_id": "v2", "caption": None}):
        preds.write_text(json.dumps([{"video_id": "v1", "caption": "a car"}, second]))
        refused_by_export_and_score(capsys, preds, refs, tmp_path / "a.zip",
                                    f"error: {preds}: item 1: video v2 has no caption (\"caption\" is missing or null)")
    assert not (tmp_path / "a.zip").exists()
    # lic2022 is a tag format: tags without a caption are what it exports
    manifest = lic_manifest(tmp_path / "m.jsonl")
    preds.write_text(json.dumps([{"video_id": v, "tags": ["level1:体育"]} for v in ("3", "4")]))
    assert main(["export", str(preds), "--format", "lic2022", "--manifest", str(manifest),
                 "--out", str(tmp_path / "lic.zip")]) == 0
    assert "体育" in unzip(tmp_path / "lic.zip")[1]


def test_score_refuses_empty_captions_and_counts_some(tmp_path, capsys):
    from s2vt.cli import main
    preds, refs = tmp_path / "p.json", tmp_path / "refs.json"
    refs.write_text(json.dumps({"v1": ["a car drives"], "v2": ["a dog runs"]}))
    preds.write_text(json.dumps({"v1": "", "v2": " "}))
    assert main(["score", str(refs), str(preds)]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"error: {preds}: these predictions have no captions (all 2 are empty), e.g. from a tag-only model: "
        "nothing to score"]
    preds.write_text(json.dumps({"v1": "a car drives", "v2": ""}))
    assert main(["score", str(refs), str(preds), "--json"]) == 0
    out = capsys.readouterr()
    assert out.err.strip().splitlines() == [
        "warning: 1 of 2 predicted captions are empty (first: v2); they score as empty answers"]
    assert json.loads(out.out)["BLEU-1"] > 0


@pytest.mark.parametrize("fmt", ["coco", "msrvtt"])
def test_score_reads_every_caption_format_export_writes(fmt, tmp_path, capsys, monkeypatch):
    """export then score: the zip export writes, and the results file in it, read back as the predictions
    (only the unzipped file was scored here, and score refused the zip itself as not UTF-8)."""
    from s2vt.cli import main
    from s2vt.export import CAPTION_FORMATS
    from s2vt.manifest import write_manifest

    assert fmt in CAPTION_FORMATS
    monkeypatch.setattr("s2vt.metrics.java_available", lambda: False)  # (METEOR's JVM: seconds, not checked here)
    preds = tmp_path / "preds_test.json"
    preds.write_text(json.dumps([{"video_id": v, "caption": p["caption"], "tags": []} for v, p in PREDS.items()]))
    manifest = tmp_path / "manifest.jsonl"
    write_manifest([{"video_id": v, "captions": [p["caption"]], "split": "test"} for v, p in PREDS.items()]
                   + [{"video_id": "video1", "captions": ["a dog runs"], "split": "train"}], manifest)
    assert main(["export", str(preds), "--format", fmt, "--out", str(tmp_path / "answer.zip")]) == 0
    name, text = unzip(tmp_path / "answer.zip")
    (tmp_path / name).write_text(text, encoding="utf-8")
    for scored in (tmp_path / "answer.zip", tmp_path / name):
        capsys.readouterr()
        assert main(["score", str(manifest), str(scored), "--split", "test", "--json"]) == 0, \
            capsys.readouterr().err
        assert json.loads(capsys.readouterr().out)["BLEU-1"] == pytest.approx(1.0)  # the references themselves


def test_score_refuses_a_zip_without_one_json_results_file(tmp_path, capsys, monkeypatch):
    """lic2022's zip (tags in result.txt), a zip of two files, a cut zip, bad JSON inside: one line each."""
    from s2vt.cli import main

    refs = tmp_path / "refs.json"
    refs.write_text(json.dumps({"v1": ["a cat"]}))
    z = tmp_path / "answer.zip"

    def score(members):
        with zipfile.ZipFile(z, "w") as f:
            for name, text in members.items():
                f.writestr(name, text)
        capsys.readouterr()
        assert main(["score", str(refs), str(z)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1, err
        return err.strip()

    assert score({"result.txt": "{}\n"}) == (f"error: {z}: a zip holding result.txt; expected a zip holding one "
                                             ".json results file, as `s2vt export --format coco|msrvtt` writes")
    assert "a zip holding a.json, b.json;" in score({"a.json": "{}", "b.json": "{}"})
    # an empty zip starts with its end record (PK\x05\x06), not a member's: it read as "not valid JSON"
    assert score({}).startswith(f"error: {z}: a zip holding nothing; expected a zip holding one .json")
    assert score({"results.json": '{"v1": "a cat",}'}) == (
        f"error: {z} (results.json): not valid JSON (Expecting property name enclosed in double quotes at "
        "line 1 column 16)")
    monkeypatch.setattr("s2vt.results.MAX_UNZIPPED", 10)  # (a zip bomb's member is not read whole)
    assert score({"results.json": " " * 11}) == f"error: {z}: results.json unzips to 11 bytes, more than a " \
                                                   "results file holds"
    z.write_bytes(z.read_bytes()[:40])  # (a download cut short)
    capsys.readouterr()
    assert main(["score", str(refs), str(z)]) == 2
    assert capsys.readouterr().err.startswith(f"error: {z}: not a readable zip (")


def test_lic2022_level2_alone_brings_its_own_level1(tmp_path, capsys):
    from s2vt.cli import main
    preds = tmp_path / "p.json"
    preds.write_text(json.dumps([{"video_id": "3", "caption": "", "tags": [{"tag": "level2:摄影/主题摄影", "p": 0.9}]},
                                 {"video_id": "4", "caption": "", "tags": [  # the best-scored level 2's parent
                                     {"tag": "level2:x/z", "p": 0.4}, {"tag": "level2:q/w", "p": 0.5}]}]))
    manifest = lic_manifest(tmp_path / "m.jsonl")
    assert main(["export", str(preds), "--format", "lic2022", "--manifest", str(manifest),
                 "--out", str(tmp_path / "a.zip")]) == 0
    rows = [json.loads(line) for line in unzip(tmp_path / "a.zip")[1].splitlines()]
    assert [[c["@value"] for c in r["category"]] for r in rows] == [["摄影", "主题摄影"], ["q", "w"]]
    assert "warning" not in capsys.readouterr().err  # (no level 1 to be stray from)


@pytest.mark.parametrize("p", ["NaN", "Infinity", "-Infinity", "9" * 400, "1.7", "-0.3"])
def test_a_probability_that_is_not_finite_is_refused_naming_the_video(p, tmp_path, capsys):
    """(and one outside [0, 1]: a score or logit was exported as given, unsaid; trial 95)"""
    from s2vt.cli import main
    preds = tmp_path / "p.json"
    preds.write_text('[{"video_id": "3", "caption": "", "tags": [{"tag": "level1:q", "p": 0.5}]}, '
                     '{"video_id": "4", "caption": "", "tags": [{"tag": "level1:q", "p": %s}]}]' % p)
    manifest = lic_manifest(tmp_path / "m.jsonl")
    capsys.readouterr()
    assert main(["export", str(preds), "--format", "lic2022", "--manifest", str(manifest),
                 "--out", str(tmp_path / "a.zip")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "video 4" in err and "level1:q" in err, err
    assert ("from 0 to 1" if p in ("1.7", "-0.3") else "finite") in err, err
    assert not (tmp_path / "a.zip").exists()


@pytest.mark.parametrize("empty", ["[]", "{}", '{"version": "VERSION 1.0", "result": []}'])
def test_empty_predictions_are_refused_by_export_as_by_score(empty, tmp_path, capsys):
    from s2vt.cli import main
    preds, refs = tmp_path / "p.json", tmp_path / "refs.json"
    preds.write_text(empty)
    refs.write_text(json.dumps({"a": ["a man"]}))
    capsys.readouterr()
    assert main(["score", str(refs), str(preds)]) == 2
    said = capsys.readouterr().err
    assert said.startswith(f"error: {preds}: no predictions"), said
    for fmt in ("coco", "msrvtt", "lic2022"):
        assert main(["export", str(preds), "--format", fmt, "--out", str(tmp_path / "e.zip")]
                    + (["--manifest", str(lic_manifest(tmp_path / "m.jsonl"))] if fmt == "lic2022" else [])) == 2
        assert capsys.readouterr().err == said, fmt  # the same line
        assert not (tmp_path / "e.zip").exists()


def test_score_of_caption_py_json_lines_says_what_it_takes(tmp_path, capsys):
    """`caption.py --json > cap.jsonl` then `s2vt score refs cap.jsonl` said only "not valid JSON (Extra data)"."""
    from s2vt.cli import main

    refs = tmp_path / "refs.json"
    refs.write_text(json.dumps({"v1": ["a cat"], "v2": ["a dog"]}))
    lines = tmp_path / "cap.jsonl"
    lines.write_text("".join(json.dumps({"video": f"clips/{v}.mp4", "caption": "a cat", "tags": []}) + "\n"
                             for v in ("v1", "v2")))
    assert main(["score", str(refs), str(lines)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    # (with a manifest, score matches such lines to its videos: test_caption_py_json_lines_are_scored_against_...)
    assert err == [f"error: {lines}: caption.py --json's lines name videos by path, not by id: score matches them to "
                   f"a manifest's video files, and {refs} is no manifest: pass the manifest of these videos (or, as "
                   "the predictions, `s2vt evaluate --out` predictions or a JSON {id: caption})"]
    assert main(["export", str(lines), "--format", "coco", "--out", str(tmp_path / "e.zip")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {lines}: not valid JSON (Extra data")
    assert "caption.py --json" in err[0] and "s2vt evaluate --out" in err[0] and "s2vt score MANIFEST" in err[0]
    lines.write_text('{"video_id": "v1", "caption": "a cat"}\n{"video_id": "v2", "caption": "a dog"}\n')
    assert main(["score", str(refs), str(lines)]) == 2  # other JSON lines: no such note, but what is expected
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "name videos by path" not in err[0]
    assert err[0] == (f"error: {lines}: JSON lines (a JSON value on each line); expected one JSON document, "
                      'a JSON list [{"video_id", "caption"}, ...] or an object {id: caption}, or caption.py --json\'s '
                      "lines")


@pytest.mark.parametrize("line", [{"video": "clips/v1.mp4", "caption": "a cat", "tags": [], "seconds": 0.2},
                                  {"video": "clips/v1.mp4", "error": "cannot decode clips/v1.mp4"}],
                         ids=["captioned", "failed"])
def test_one_caption_py_json_line_is_refused_by_score_and_export(tmp_path, capsys, line):
    """`caption.py v1.mp4 --json > cap.jsonl` is one line, so valid JSON: it read as {id: caption} with
    ids "video", "caption", "tags" (score: a misleading error), and a failed video's {"video", "error"}
    was exported as two fake videos, exit 0."""
    from s2vt.cli import main

    refs = tmp_path / "refs.json"
    refs.write_text(json.dumps({"v1": ["a cat"]}))
    one = tmp_path / "cap.jsonl"
    one.write_text(json.dumps(line) + "\n")
    capsys.readouterr()
    assert main(["score", str(refs), str(one)]) == 2  # (no manifest: no files to match the line's video to)
    said = capsys.readouterr().err
    assert said.startswith(f"error: {one}: ") and said.count("\n") == 1, said
    assert "caption.py --json" in said and "s2vt evaluate --out" in said and "is no manifest" in said
    assert main(["export", str(one), "--format", "coco", "--out", str(tmp_path / "e.zip")]) == 2
    said = capsys.readouterr().err
    assert said.startswith(f"error: {one}: one object with a \"video\" key") and said.count("\n") == 1, said
    for fmt in ("coco", "msrvtt", "lic2022"):
        out = tmp_path / "e.zip"
        assert main(["export", str(one), "--format", fmt, "--out", str(out)]
                    + (["--manifest", str(lic_manifest(tmp_path / "m.jsonl"))] if fmt == "lic2022" else [])) == 2
        assert capsys.readouterr().err == said, fmt  # the same line
        # nothing written: no zip, and no partial or temporary file beside it
        assert {p.name for p in tmp_path.iterdir()} <= {"cap.jsonl", "refs.json", "m.jsonl"}, fmt


def test_caption_py_lines_in_a_list_say_so(tmp_path, capsys):
    """The same lines gathered into a JSON list: "invalid id None" alone did not say why. One such item among
    predictions by id is said where it stands."""
    from s2vt.cli import main

    preds = tmp_path / "cap.json"
    preds.write_text(json.dumps([{"video": "clips/v1.mp4", "caption": "a cat", "tags": []}]))
    assert main(["export", str(preds), "--format", "coco", "--out", str(tmp_path / "e.zip")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {preds}: a list of caption.py --json's lines; "), err
    preds.write_text(json.dumps([{"video_id": "v2", "caption": "a dog"},
                                 {"video": "clips/v1.mp4", "caption": "a cat", "tags": []}]))
    assert main(["export", str(preds), "--format", "coco", "--out", str(tmp_path / "e.zip")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "item 1: invalid id None" in err[0] and "caption.py --json" in err[0], err
    assert not (tmp_path / "e.zip").exists()


def test_caption_py_lines_score_in_any_form_and_each_file_answers_every_id_naming_it(tmp_path, monkeypatch, capsys):
    """`jq -s .` of the lines (a JSON list; MSR-VTT's envelope), a leading blank line, the same file captioned twice
    alike (caption.py v.mp4 ./v.mp4), a file two manifest rows name: all scored (each was refused, trial 124)."""
    from s2vt.cli import main

    monkeypatch.chdir(tmp_path)
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps({"video_id": v, "path": f"clips/{f}.mp4", "captions": [f"a cat sits {v}"]})
                                + "\n" for v, f in (("v1", "v1"), ("v2", "v2"), ("v2b", "v2"))))
    lines = [{"video": "clips/v1.mp4", "caption": "a cat sits", "tags": []},
             {"video": "./clips/v1.mp4", "caption": "a cat sits", "tags": []},
             {"video": "clips/v2.mp4", "caption": "a dog runs", "tags": []}]
    forms = {"list.json": json.dumps(lines), "envelope.json": json.dumps({"version": "1", "result": lines}),
             "blank.jsonl": "\n" + "".join(json.dumps(x) + "\n" for x in lines)}
    scores = set()
    for name, text in forms.items():
        (tmp_path / name).write_text(text)
        assert main(["score", str(manifest), str(tmp_path / name), "--json"]) == 0, capsys.readouterr().err
        out, err = capsys.readouterr()
        assert err == "" and json.loads(out)["scored"] == 3, name  # (v2's answer is v2b's too)
        scores.add(out)
    assert len(scores) == 1
    (tmp_path / "nul.jsonl").write_text(json.dumps({"video": "clips/a\0b.mp4", "caption": "x"}) + "\n"
                                         + json.dumps(lines[0]) + "\n")  # (a NUL byte: no file; was a traceback)
    assert main(["score", str(manifest), str(tmp_path / "nul.jsonl")]) == 2
    err = capsys.readouterr().err
    # `jq .`'s pretty-printed objects; the same captions with other tags (two runs' --tags; score reads captions)
    pretty = "".join(json.dumps({**x, "tags": [{"tag": "t", "p": 0.5}] * (n == 1)}, indent=2) + "\n"
                     for n, x in enumerate(lines))
    (tmp_path / "pretty.json").write_text(pretty)
    assert main(["score", str(manifest), str(tmp_path / "pretty.json"), "--json"]) == 0, capsys.readouterr().err
    assert capsys.readouterr().out in scores
    (tmp_path / "pretty.json").write_text(pretty.replace("}\n{", "}x\n{", 1))  # (after line 5's closing brace)
    assert main(["score", str(manifest), str(tmp_path / "pretty.json")]) == 2
    assert capsys.readouterr().err == (f"error: {tmp_path / 'pretty.json'}: line 5: not valid JSON (more after the "
                                       "value on its line)\n")
    # a list that is caption lines, then evaluate's predictions: the item that is not one (item 0 was blamed)
    (tmp_path / "mixed.json").write_text(json.dumps(lines + [{"video_id": "v1", "caption": "a cat"}]))
    assert main(["score", str(manifest), str(tmp_path / "mixed.json")]) == 2
    assert capsys.readouterr().err == (f"error: {tmp_path / 'mixed.json'}: item 3: not one of caption.py --json's "
                                       'lines ({"video", "caption", "tags", ...}), unlike item 0\n')
    nul = tmp_path / "nul.jsonl"
    assert err.startswith(f"error: {nul}: 1 video not found (first: clips/a"), err
    assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("value", [{"caption": "a cat"}, ["a cat"], 3])
def test_id_caption_form_refuses_a_caption_that_is_no_string(tmp_path, capsys, value):
    """{id: caption} whose value is an object, a list or a number: refused naming the id, not exported."""
    from s2vt.cli import main

    refs = tmp_path / "refs.json"
    refs.write_text(json.dumps({"v1": ["a cat"], "v2": ["a dog"]}))
    preds = tmp_path / "preds.json"
    preds.write_text(json.dumps({"v1": "a cat", "v2": value}))
    capsys.readouterr()
    assert main(["score", str(refs), str(preds)]) == 2
    said = capsys.readouterr().err
    assert said == f"error: {preds}: 'v2' ({{id: caption}} form): caption must be a string, not {type(value).__name__}\n"
    assert main(["export", str(preds), "--format", "coco", "--out", str(tmp_path / "e.zip")]) == 2
    assert capsys.readouterr().err == said
    assert not (tmp_path / "e.zip").exists()


@pytest.mark.parametrize("one", [{"video_id": "a", "caption": "x"}, {"image_id": "a", "caption": "x", "tags": []},
                                 {"id": "a", "caption": "x"}],
                         ids=["video_id", "image_id", "id"])
def test_one_prediction_object_is_refused_by_score_and_export(tmp_path, capsys, one):
    """`{"video_id": "a", "caption": "x"}` read as {id: caption}: export wrote two videos, ids "video_id" and
    "caption" (exit 0), and score said no id was both predicted and referenced (hostile trial)."""
    from s2vt.cli import main

    refs = tmp_path / "refs.json"
    refs.write_text(json.dumps({"a": ["a cat"]}))
    preds = tmp_path / "p_obj.json"
    preds.write_text(json.dumps(one))
    capsys.readouterr()
    assert main(["score", str(refs), str(preds)]) == 2
    said = capsys.readouterr().err
    assert said.startswith(f"error: {preds}: one prediction") and said.count("\n") == 1, said
    assert "[" in said and "{id: caption}" in said, said
    for fmt in ("coco", "msrvtt"):
        assert main(["export", str(preds), "--format", fmt, "--out", str(tmp_path / "e.zip")]) == 2
        assert capsys.readouterr().err == said, fmt  # the same line
        assert not (tmp_path / "e.zip").exists()


def test_ids_named_like_fields_among_others_still_read_as_id_caption(tmp_path):
    """{id: caption} whose ids merely include a field's name ("caption" among real ids) is still that form."""
    from s2vt.results import load_predictions

    preds = tmp_path / "p.json"
    preds.write_text(json.dumps({"v1": "a cat", "v2": "a dog", "v3": "a bird", "caption": "a fish"}))
    assert set(load_predictions(preds)) == {"v1", "v2", "v3", "caption"}


def test_a_dash_for_standard_input_is_said_to_be_unsupported_by_score_and_export(tmp_path, capsys, monkeypatch):
    """`s2vt export - ...` and `s2vt score refs -` said "-: file not found" (hostile trial)."""
    from s2vt.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "refs.json").write_text(json.dumps({"a": ["a cat"]}))
    capsys.readouterr()
    for args in (["score", "refs.json", "-"], ["score", "-", "refs.json"],
                 ["export", "-", "--format", "coco", "--out", "e.zip"]):
        assert main(args) == 2, args
        assert capsys.readouterr().err == "error: reading from standard input ('-') is not supported: name a file\n", args
    assert not (tmp_path / "e.zip").exists()


def test_a_bare_dash_is_refused_as_standard_input_by_manifest_and_checkpoint_readers(tmp_path, capsys, monkeypatch):
    """`train.py --manifest -` and `evaluate --checkpoint -` read a file named '-' silently where one was there
    (hostile trial; caption.py, score and extract refuse '-'): a bare '-' is standard input, refused, naming
    './-' for the file; a manifest './-' that is no JSON is named as typed in its error."""
    from s2vt.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "-").write_text("not json\n")
    capsys.readouterr()
    for args in (["train", "--manifest", "-", "--out", "r"], ["evaluate", "--checkpoint", "-", "--manifest", "-"]):
        assert main(args) == 2, args
        assert capsys.readouterr().err == ("error: reading from standard input ('-') is not supported: name a file "
                                           "(for a file named '-', write ./-)\n"), args
    assert main(["train", "--manifest", "./-", "--out", "r"]) == 2
    assert capsys.readouterr().err.startswith("error: ./-:1: not valid JSON")
    assert not (tmp_path / "r").exists()


def test_dot_slash_dash_is_the_file_named_dash_not_standard_input(tmp_path, capsys, monkeypatch):
    """`./-` names the file '-' in the current folder, yet Path('./-') is '-': `s2vt score ./- refs.json` said
    reading standard input is not supported, and train and evaluate said "-: ... not found" (hostile trial). Only a
    bare '-' is standard input: `./-` is read as that file, or said missing as typed."""
    from s2vt.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "refs.json").write_text(json.dumps({"a": ["a cat"]}))
    (tmp_path / "m.jsonl").write_text(json.dumps({"video_id": "a", "captions": ["a cat"]}) + "\n")
    capsys.readouterr()
    for args, said in [(["score", "refs.json", "./-"], "./-: file not found"),
                       (["score", "./-", "refs.json"], "./-: file not found"),
                       (["export", "./-", "--format", "coco", "--out", "e.zip"], "./-: file not found"),
                       (["evaluate", "--checkpoint", "./-", "--manifest", "m.jsonl"], "./-: checkpoint not found"),
                       (["train", "--manifest", "./-", "--out", "r"], "./-: manifest not found"),
                       (["train", "--manifest", "m.jsonl", "--features", "./-", "--out", "r"],
                        "./-: feature store not found (python -m extract writes one from videos, s2vt import "
                        "from precomputed features)")]:
        assert main(args) == 2, args
        assert capsys.readouterr().err == f"error: {said}\n", args
    (tmp_path / "-").write_text(json.dumps({"a": "a cat"}))  # (predictions in a file named '-')
    assert main(["score", "refs.json", "./-", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["scored"] == 1
    assert main(["score", "./-", "refs.json"]) == 2  # (the file is read: its content is predictions, said so)
    assert capsys.readouterr().err == ("error: ./-: a predictions file (one caption a video), given as the "
                                       "references: score takes REFS first, then PREDS\n")
    assert not (tmp_path / "e.zip").exists() and not (tmp_path / "r").exists()


def test_dot_slash_dash_is_named_as_typed_in_every_refusal(tmp_path, capsys, monkeypatch):
    """`./-` was named '-' (Path('./-') is '-', standard input's name) in refusals of what the file or folder '-'
    is: `evaluate --checkpoint ./-` (a folder), `--features ./-` without meta.json, `--out ./-`, a file that is
    no checkpoint, `extract --out ./-` (a file), `import mlds ./-` (a file); and `import folder ./-`, '-' a file,
    said 'no video files found' (hostile trial). Now each names './-' as typed."""
    from s2vt.cli import main

    from .bad_input.test_extract import extract

    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.jsonl").write_text(json.dumps({"video_id": "a", "captions": ["a cat"], "split": "test"}) + "\n")
    (tmp_path / "-").mkdir()
    capsys.readouterr()
    assert main(["evaluate", "--checkpoint", "./-", "--manifest", "m.jsonl"]) == 2
    assert capsys.readouterr().err == "error: ./-: a folder, not a checkpoint file\n"
    (tmp_path / "-").rmdir()
    (tmp_path / "-").write_text("x")
    for args, said in [(["evaluate", "--checkpoint", "./-", "--manifest", "m.jsonl"],
                        "./-: not a PyTorch checkpoint (not a zip archive)"),
                       (["import", "mlds", "./-", "--out", "o.jsonl"], "./-: a file, not a folder; pass the MLDS "
                        "release folder (the one holding training_label.json and training_data/)"),
                       (["import", "folder", "./-", "--out", "o.jsonl"], "./-: a file, not a folder: import folder "
                        "reads the folder holding the videos")]:
        assert main(args) == 2, args
        assert capsys.readouterr().err == f"error: {said}\n", args
    (tmp_path / "v").mkdir()
    (tmp_path / "v" / "a.mp4").write_text("x")
    code, err = extract(capsys, "v", "--out", "./-", "--modalities", "vggish")
    assert code == 2 and err.startswith("error: cannot write ./-: ./- is a file, not a folder"), err
    assert main(["evaluate", "--checkpoint", "m.jsonl", "--manifest", "m.jsonl", "--out", "./-", "--force"]) == 2
    assert capsys.readouterr().err.startswith("error: cannot write ./-: "), "--out ./-"
    assert not (tmp_path / "o.jsonl").exists() and (tmp_path / "-").read_text() == "x"


def test_export_names_dot_slash_dash_out_as_typed(tmp_path, capsys, monkeypatch):
    """`export --out ./-` was told '--out -: export writes a zip ...' (Path('./-') is '-', standard output's name;
    hostile trial), where evaluate and the other commands name './-' as typed."""
    from s2vt.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.json").write_text(json.dumps({"a": "a cat"}))
    assert main(["export", "p.json", "--format", "coco", "--out", "./-"]) == 2
    assert capsys.readouterr().err == "error: --out ./-: export writes a zip holding results.json; name it .zip\n"
    assert not (tmp_path / "-").exists()


def test_export_refuses_a_non_zip_name_before_saying_it_exists(tmp_path, capsys):
    """`export --out existing.json` was told 'already exists: pass --force to replace it', and with --force was
    then refused for not being a .zip (hostile trial): advice that led nowhere. The name is refused first, with
    or without --force, and the file is left as it was."""
    from s2vt.cli import main

    (preds := tmp_path / "p.json").write_text(json.dumps({"a": "a cat"}))
    (out := tmp_path / "existing.json").write_text("{}")
    for force in ([], ["--force"]):
        assert main(["export", str(preds), "--format", "coco", "--out", str(out), *force]) == 2
        assert capsys.readouterr().err == (f"error: --out {out}: export writes a zip holding results.json; "
                                           "name it .zip\n"), force
    assert out.read_text() == "{}"


def test_evaluates_metrics_file_given_as_predictions_is_named_with_its_predictions(tmp_path, capsys):
    """`s2vt export` or `s2vt score` given evaluate's metrics_test.json instead of its preds_test.json said
    "'videos' ({id: caption} form): caption must be a string, not int" (hostile trial). Now the file is said to be
    evaluate's metrics, with the predictions file beside it to pass (or its usual name when there is none)."""
    from s2vt.cli import main
    metrics, refs = tmp_path / "metrics_test.json", tmp_path / "refs.json"
    metrics.write_text(json.dumps({"split": "test", "videos": 2, "beam": 1, "bleu4": 0.1, "seconds": 1.5}))
    refs.write_text(json.dumps({"v1": ["a car drives"]}))
    other = tmp_path / "greedy.metrics.json"
    other.write_text(metrics.read_text())
    (tmp_path / "greedy.json").write_text("[]")
    for given, says in ((metrics, "pass its predictions file (evaluate's --out; preds_<split>.json by default)"),
                        (other, f"pass {tmp_path / 'greedy.json'}")):
        refused_by_export_and_score(capsys, given, refs, tmp_path / "a.zip",
                                    f"error: {given}: evaluate's metrics, not its predictions: {says}")
    (tmp_path / "preds_test.json").write_text("[]")
    assert main(["score", str(refs), str(metrics)]) == 2
    assert capsys.readouterr().err.strip() == (f"error: {metrics}: evaluate's metrics, not its predictions: pass "
                                               f"{tmp_path / 'preds_test.json'}")


def test_evaluates_metrics_file_given_as_references_says_what_to_pass(tmp_path, capsys):
    """`s2vt score METRICS PREDS`, evaluate's metrics file in the references' place, said only "expected {id:
    [captions]} or a manifest" (hostile trial): no pointer to what the file is. Now one line says it is evaluate's
    metrics and to pass the manifest evaluate read in their place, with the split the metrics are of."""
    from s2vt.cli import main
    metrics, preds = tmp_path / "greedy.metrics.json", tmp_path / "greedy.json"
    metrics.write_text(json.dumps({"split": "val", "videos": 2, "beam": 1, "bleu4": 0.1, "seconds": 1.5}, indent=2))
    preds.write_text(json.dumps({"v1": "a car drives"}))
    said = (f"error: {metrics}: evaluate's metrics, not references: pass the manifest evaluate read (its "
            "--manifest) in their place, with --split val")
    assert main(["score", str(metrics), str(preds)]) == 2
    assert capsys.readouterr().err == said + "\n"
    assert main(["score", str(metrics), str(metrics)]) == 2  # (the references' place is said first)
    assert capsys.readouterr().err == said + "\n"


def test_predictions_of_inverts_metrics_file():
    """The metrics-file name evaluate writes and the predictions name export/score point back to have one home
    (results.py); each maps back to the file it came from."""
    from pathlib import Path
    from s2vt.results import metrics_file, predictions_of
    for split in ("train", "val", "test"):
        for preds in (Path("r") / f"preds_{split}.json", Path("r") / "greedy.json", Path("r") / "preds_val.x.json"):
            assert predictions_of(metrics_file(preds, split)) == preds, (preds, split)
    assert predictions_of(Path("r/scores.json")) is None


# --- YouTube-8M (Kaggle) ----------------------------------------------------------------------

def yt8m_vocabulary(path):
    path.write_text("Index,TrainVideoCount,KnowledgeGraphId,Name\n0,10,/m/a,Game\n1,9,/m/b,Car\n"
                    "2,8,/m/c,Music\n3,7,/m/d,Dance\n", encoding="utf-8")
    return path


def test_yt8m_export_writes_the_csv_youtube8m_inference_py_writes(tmp_path, capsys):
    """`s2vt export --format yt8m` did not exist: a model trained on YouTube-8M had no way to its Kaggle
    submission, and its predictions name tags, not class indices (hostile trial). Now it writes
    google/youtube-8m inference.py's file: the header, then per video `id,label conf ...` (`%i %g`), the top
    20 classes by confidence, ties by class index; evaluate's unrounded top_tags are preferred over the
    rounded, thresholded tags; fewer than 20 tags are written as they are; a video without tags gets an
    empty answer, counted in a warning line."""
    from s2vt.cli import main

    vocab = yt8m_vocabulary(tmp_path / "vocabulary.csv")
    preds = tmp_path / "preds.json"
    preds.write_text(json.dumps([
        # evaluate of a multi-label model: tags rounded and thresholded, top_tags unrounded
        {"video_id": "Ab12", "caption": "", "tags": [{"tag": "Car", "p": 0.9877}],
         "top_tags": [{"tag": "Car", "p": 0.98765432}, {"tag": "Music", "p": 0.00001},
                      {"tag": "Game", "p": 0.25}, {"tag": "Dance", "p": 0.25}]},
        {"video_id": "-xY_9", "caption": "", "tags": [{"tag": "Dance", "p": 1}, {"tag": "Game", "p": 0.5}]},
        {"video_id": "none", "caption": "", "tags": []}]))
    out = tmp_path / "predictions.csv"
    assert main(["export", str(preds), "--format", "yt8m", "--vocabulary", str(vocab), "--out", str(out)]) == 0
    assert out.read_text() == ("VideoId,LabelConfidencePairs\n"
                               "Ab12,1 0.987654 0 0.25 3 0.25 2 1e-05\n"
                               "-xY_9,3 1 0 0.5\n"
                               "none,\n")
    err = capsys.readouterr().err.splitlines()
    assert err == ["warning: 1 video has no scored tag (first: none): written with an empty answer",
                   f"wrote {out}: 3 videos"]
    # --top-k as inference.py's; a zip holds the same CSV (Kaggle takes either)
    assert main(["export", str(preds), "--format", "yt8m", "--vocabulary", str(vocab), "--top-k", "2",
                 "--out", str(tmp_path / "sub.zip")]) == 0
    assert unzip(tmp_path / "sub.zip") == ("predictions.csv", "VideoId,LabelConfidencePairs\n"
                                           "Ab12,1 0.987654 0 0.25\n-xY_9,3 1 0 0.5\nnone,\n")


def test_yt8m_export_of_predictions_without_tags_or_beyond_their_top_k_is_said(tmp_path, capsys):
    """A caption model's predictions (no tags at all) were written as a CSV of empty answers, exit 0; and
    --top-k 50 on evaluate's top 20 wrote 20 a video, unsaid (new-user trial)."""
    from s2vt.cli import main

    preds = tmp_path / "preds.json"
    preds.write_text(json.dumps([{"video_id": "v1", "caption": "a man is cooking", "tags": []},
                                 {"video_id": "v2", "caption": "a dog runs", "tags": []}]))
    out = tmp_path / "p.csv"
    assert main(["export", str(preds), "--format", "yt8m", "--out", str(out)]) == 2
    assert capsys.readouterr().err.strip() == (f"error: {preds}: none of its 2 videos has a tag to submit (a caption "
                                               "model's predictions?): --format yt8m writes tags")
    assert not out.exists()
    preds.write_text(json.dumps([{"video_id": "v1", "caption": "",
                                  "top_tags": [{"tag": f"label{i}", "p": i / 100} for i in range(20)],
                                  "tags": [{"tag": "label19", "p": 0.19}]}]))
    assert main(["export", str(preds), "--format", "yt8m", "--top-k", "50", "--out", str(out)]) == 0
    assert capsys.readouterr().err.splitlines()[0] == (
        "warning: --top-k 50: the predictions hold at most 20 scored tags a video (evaluate writes its top 20): "
        "20 written")
    assert len(out.read_text().splitlines()[1].split(",")[1].split()) == 40


def test_yt8m_export_without_vocabulary_reads_label_ids(tmp_path, capsys):
    """A model trained without --vocabulary tags label<id>: those are the class indices (hostile trial: no
    export existed); more than 20 scored tags keep the 20 best."""
    from s2vt.cli import main

    preds = tmp_path / "preds.json"
    preds.write_text(json.dumps([{"video_id": "v1", "caption": "",
                                  "tags": [{"tag": f"label{i}", "p": i / 10000} for i in range(3862 - 25, 3862)]}]))
    out = tmp_path / "p.csv"
    assert main(["export", str(preds), "--format", "yt8m", "--out", str(out)]) == 0
    pairs = out.read_text().splitlines()[1].split(",")[1].split()
    assert pairs[:4] == ["3861", "0.3861", "3860", "0.386"] and len(pairs) == 40
    preds.write_text(json.dumps([{"video_id": "v1", "caption": "", "tags": [{"tag": "label5", "p": -0.0}]}]))
    assert main(["export", str(preds), "--format", "yt8m", "--out", str(out), "--force"]) == 0
    assert out.read_text().splitlines()[1] == "v1,5 0"  # (-0.0 is 0: it was written '-0'; trial 96)


@pytest.mark.parametrize("tags, vocab, said", [
    ([{"tag": "Car", "p": 0.5}], False,
     "video v1: tag 'Car' is no YouTube-8M class: without --vocabulary tags must be label<Index> (tags named "
     "by a vocabulary, given to import yt8m or to train.py: pass that vocabulary.csv)"),
    ([{"tag": "label1", "p": 0.5}], True,
     "video v1: tag 'label1' is not in {vocab} (a model trained without --vocabulary tags label<Index>: "
     "leave --vocabulary out)"),
    ([{"tag": "Plane", "p": 0.5}], True, "video v1: tag 'Plane' is not in {vocab}"),
    ([{"tag": "label3862", "p": 0.5}], False,
     "video v1: tag 'label3862' is no YouTube-8M class: without --vocabulary tags must be label<Index> (tags named "
     "by a vocabulary, given to import yt8m or to train.py: pass that vocabulary.csv)"),
    (["Car"], True, "video v1: tag 'Car' has no confidence (\"p\"): a submission ranks each video's classes by it"),
    # (LIC2022's labels, with or without --vocabulary: no vocabulary maps them, as the class refusal advised)
    ([{"tag": "level1:体育", "p": 0.5}], False, "video v1: tag 'level1:体育' is a LIC2022 label, not a YouTube-8M "
     "class: these are LIC2022 predictions: export them with --format lic2022 --manifest MANIFEST"),
])
def test_yt8m_export_refuses_a_tag_it_cannot_map_in_one_line(tags, vocab, said, tmp_path, capsys):
    """A tag that names no class (or one without a confidence) would leave a guess in the submission: refused
    in one line, exit 2, nothing written (hostile trial: no yt8m export existed)."""
    from s2vt.cli import main

    v = yt8m_vocabulary(tmp_path / "vocabulary.csv")
    preds = tmp_path / "preds.json"
    preds.write_text(json.dumps([{"video_id": "v1", "caption": "", "tags": tags}]))
    out = tmp_path / "p.csv"
    assert main(["export", str(preds), "--format", "yt8m", "--out", str(out)] + ["--vocabulary", str(v)] * vocab) == 2
    assert capsys.readouterr().err == f"error: {preds}: {said.format(vocab=v)}\n"
    assert not out.exists()


def test_yt8m_export_checks_its_options_and_out(tmp_path, capsys):
    """--vocabulary/--top-k mean nothing to the other formats, an id with a comma would split its CSV line, an
    --out neither .csv nor .zip, or one that exists without --force, is refused (hostile trial)."""
    from s2vt.cli import main

    preds = tmp_path / "preds.json"
    preds.write_text(json.dumps([{"video_id": "v1", "caption": "a", "tags": [{"tag": "label1", "p": 0.5}]}]))
    run = ["export", str(preds), "--out"]
    assert main([*run, str(tmp_path / "a.zip"), "--format", "coco", "--top-k", "3"]) == 2
    assert capsys.readouterr().err == "error: --vocabulary and --top-k are for --format yt8m\n"
    assert main([*run, str(tmp_path / "a.zip"), "--format", "yt8m", "--top-k", "0"]) == 2
    assert capsys.readouterr().err == "error: --top-k must be at least 1, not 0\n"
    assert main([*run, str(tmp_path / "a.txt"), "--format", "yt8m"]) == 2
    assert capsys.readouterr().err == (f"error: --out {tmp_path / 'a.txt'}: yt8m export writes a CSV (name it .csv) "
                                       "or a zip holding predictions.csv (name it .zip)\n")
    (tmp_path / "old.csv").write_text("an earlier submission")
    assert main([*run, str(tmp_path / "old.csv"), "--format", "yt8m"]) == 2
    assert capsys.readouterr().err == f"error: {tmp_path / 'old.csv'} already exists: pass --force to replace it\n"
    assert (tmp_path / "old.csv").read_text() == "an earlier submission"
    preds.write_text(json.dumps([{"video_id": "v,1", "caption": "", "tags": [{"tag": "label1", "p": 0.5}]}]))
    assert main([*run, str(tmp_path / "b.csv"), "--format", "yt8m"]) == 2
    assert "invalid id 'v,1'" in capsys.readouterr().err and not (tmp_path / "b.csv").exists()


def test_lic2022_video_without_a_level_1_is_said(tmp_path, capsys):
    """(new-user trial) hand-made predictions of topic tags alone were written with an empty level 1, unsaid."""
    from s2vt.cli import main
    preds = tmp_path / "p.json"
    preds.write_text(json.dumps([{"video_id": "3", "caption": "", "tags": ["level2:x", "tag:t"]},
                                 {"video_id": "4", "caption": "", "tags": ["level1:q", "tag:t"]}]))
    manifest = lic_manifest(tmp_path / "m.jsonl")
    capsys.readouterr()
    assert main(["export", str(preds), "--format", "lic2022", "--manifest", str(manifest),
                 "--out", str(tmp_path / "a.zip")]) == 0
    rows = [json.loads(line) for line in unzip(tmp_path / "a.zip")[1].splitlines()]
    # (a level 2 naming no level 1 is not written alone: a result line never has one without its level 1; nor put
    # under the parent another level 2 names; review)
    from s2vt.formats import lic2022_fields
    assert lic2022_fields([{"tag": "level2:X", "p": 0.9}, {"tag": "level2:A/B", "p": 0.5}]) == ("A", "B", [])
    # (a topic tag of no name, `tag:`, is no tag: it was written as "@value": ""; trial 95)
    assert lic2022_fields([{"tag": "tag:", "p": 0.9}, {"tag": "tag: ", "p": 0.8}, {"tag": "tag:cat", "p": 0.5}]) \
        == ("", "", ["cat"])
    # (nor a level 1 or level 2 of no name: an empty level 1 was written over the named one below it; trial 96)
    assert lic2022_fields([{"tag": "level1:", "p": 0.99}, {"tag": "level1:  ", "p": 0.9}, {"tag": "level1:A", "p": 0.5},
                           {"tag": "level2:A/", "p": 0.9}, {"tag": "level2:A/B", "p": 0.4}]) == ("A", "B", [])
    assert lic2022_fields([{"tag": "level2:A/", "p": 0.9}, {"tag": "level2:A/B", "p": 0.5}]) == ("A", "B", [])
    assert lic2022_fields([{"tag": "level2:/X", "p": 0.9}, {"tag": "level2:C/D", "p": 0.5}]) == ("C", "D", [])
    assert [[c["@value"] for c in r["category"]] for r in rows] == [["", ""], ["q", ""]]
    assert capsys.readouterr().err.splitlines()[0] == ("warning: 1 predicted video has no level-1 tag (nor a level 2 "
                                                      "naming its level 1, level2:L1/L2): written with an empty "
                                                      "level 1 and level 2 (first: 3)")


def test_msrvtt_export_of_another_datasets_ids_is_warned(tmp_path, capsys):
    """MSVD ids (TZ860P4iTaM_15_28) went into an MSR-VTT submission unsaid (trial 75): written, with one warning
    counting them; MSR-VTT's own ids (videoNNNN) say nothing."""
    from s2vt.cli import main
    preds = tmp_path / "p.json"
    preds.write_text(json.dumps({**{v: p["caption"] for v, p in PREDS.items()}, "TZ860P4iTaM_15_28": "a cat"}))
    assert main(["export", str(preds), "--format", "msrvtt", "--out", str(tmp_path / "a.zip")]) == 0
    assert capsys.readouterr().err.splitlines()[0] == ("warning: 1 of the 3 predicted videos is not MSR-VTT's "
                                                       "(videoNNNN; first: TZ860P4iTaM_15_28): its challenge scores "
                                                       "none of them")
    preds.write_text(json.dumps({v: p["caption"] for v, p in PREDS.items()}))
    assert main(["export", str(preds), "--format", "msrvtt", "--out", str(tmp_path / "b.zip")]) == 0
    assert capsys.readouterr().err == f"wrote {tmp_path / 'b.zip'}: 2 videos\n"


def test_an_id_that_is_true_is_no_name(tmp_path, capsys):
    """A prediction's video_id true was exported as "True" (a bool is Python's int; trial 78); a number stays an
    id (COCO's image_id), a boolean is refused as what it is, in a manifest too."""
    from s2vt.cli import main

    preds = tmp_path / "p.json"
    preds.write_text(json.dumps([{"video_id": True, "caption": "a cat"}]))
    assert main(["export", str(preds), "--format", "msrvtt", "--out", str(tmp_path / "e.zip")]) == 2
    assert capsys.readouterr().err == f"error: {preds}: item 0: invalid id True (a JSON boolean, not a string)\n"
    preds.write_text(json.dumps([{"image_id": 5, "caption": "a cat"}]))
    assert main(["export", str(preds), "--format", "coco", "--out", str(tmp_path / "e.zip")]) == 0
    manifest = tmp_path / "m.jsonl"
    manifest.write_text('{"video_id": false, "split": "test"}\n')
    with pytest.raises(ManifestError, match=r":1: invalid video_id False: a JSON boolean, not a string$"):
        read_manifest(manifest)


@pytest.mark.parametrize("lines, said", [
    (['{"video": "clips/v1.mp4", "caption": "a cat"}', '{"video": "./clips/v1.mp4", "caption": "a dog"}'],
     "line 2: video v1 (./clips/v1.mp4) is captioned otherwise on line 1: keep one of the two lines"),
    (['{"video": "clips/v1.mp4", "caption": "a cat"}', '{"video_id": "v2", "caption": "a dog"}'],
     "line 2: not one of caption.py --json's lines ({\"video\", \"caption\", \"tags\", ...}), unlike line 1"),
    (['{"video": null, "caption": "a cat"}'], "line 1: \"video\" must be the video's path, not null"),
    (['', '{"video": "", "caption": "a cat"}', '{"video": "clips/v1.mp4", "caption": "a cat"}'],
     "line 2: \"video\" must be the video's path, not \"\""),
    (['{"video": "clips/v1.mp4", "caption": 3}', '{"video": "clips/v2.mp4", "caption": "a dog"}'],
     "line 1: caption must be a string, not int"),
    (['{"video": "clips/v2.mp4", "caption": "a dog"}', '{"video": "clips/v1.mp4", "tags": []}'],
     "line 2: clips/v1.mp4 has no caption (\"caption\" is missing or null)"),
    (['{"video": "clips/v1.mp4", "caption": "a cat"}', '{"video": "clips/v2.mp4", "caption": "a \\ud800"}'],
     "line 2: the text \"a \\ud800\" holds a lone surrogate (\\ud800-\\udfff escaped alone): no Unicode "
     "character; remove or replace it"),
    (['{"video": "clips/v1.mp4", "error": "cannot decode"}', '{"video": "clips/v2.mp4", "error": "cannot decode"}'],
     "no captioned video (caption.py could not caption any of the 2 videos its lines name)"),
], ids=["otherwise-twice", "other-line", "null-video", "empty-video", "caption-type", "no-caption", "surrogate",
        "all-failed"])
def test_caption_py_lines_that_cannot_be_scored_are_refused_in_one_line(tmp_path, monkeypatch, capsys, lines, said):
    """caption.py --json's lines matched to a manifest's files (score): what cannot be matched or read is one line."""
    from s2vt.cli import main

    monkeypatch.chdir(tmp_path)
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps({"video_id": v, "path": f"clips/{f}.mp4", "captions": ["a cat"]}) + "\n"
                                for v, f in (("v1", "v1"), ("v2", "v2"), ("v3", "v3"), ("v3b", "v3"))))
    answers = tmp_path / "answers.jsonl"
    answers.write_text("\n".join(lines) + "\n")
    assert main(["score", str(manifest), str(answers), "--allow-partial"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == f"error: {answers}: " + said, err
    manifest.write_text(json.dumps({"video_id": "v1", "captions": ["a cat"]}) + "\n")  # (features alone: no files)
    assert main(["score", str(manifest), str(answers)]) == 2
    assert capsys.readouterr().err == (f"error: {answers}: caption.py --json's lines name videos by path, and "
                                       f"{manifest} names no video file (a manifest of imported features): score them "
                                       "against references by id\n")


def test_predictions_in_utf16_are_named_so(tmp_path, capsys):
    """PowerShell's `caption.py ... --json > answers.jsonl` writes UTF-16: said as such (was 'not UTF-8: byte 0xff
    at offset 0'), as the manifest reader says it."""
    from s2vt.cli import main

    refs = tmp_path / "refs.json"
    refs.write_text(json.dumps({"v1": ["a cat"]}))
    preds = tmp_path / "p.json"
    preds.write_bytes(json.dumps({"v1": "a cat"}).encode("utf-16"))
    assert main(["score", str(refs), str(preds)]) == 2
    assert capsys.readouterr().err == f"error: {preds}: UTF-16 text, not UTF-8: save it as UTF-8\n"


def test_caption_py_lines_given_as_the_references_say_the_files_are_swapped(tmp_path, capsys):
    """`s2vt score answers.jsonl manifest.jsonl` said "missing field 'video_id'" of the lines (trial 124)."""
    from s2vt.cli import main

    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"video_id": "v1", "path": "v1.mp4", "captions": ["a cat"]}) + "\n")
    answers = tmp_path / "answers.jsonl"
    answers.write_text("\n" + json.dumps({"video": "v1.mp4", "caption": "a cat", "tags": []}) + "\n")
    assert main(["score", str(answers), str(manifest)]) == 2
    assert capsys.readouterr().err == (f"error: {answers}: caption.py --json's lines, given as the references: score "
                                       "takes REFS (the manifest) first, then PREDS\n")


def test_caption_py_text_output_given_to_score_says_json(tmp_path, capsys):
    """caption.py's text output (--json left out) was 'not valid JSON (Expecting value at line 1 column 1)' (trial
    129): it is named, with the --json to save."""
    from s2vt.cli import main

    refs, plain = tmp_path / "refs.json", tmp_path / "answers.txt"
    refs.write_text(json.dumps({"v1": ["a cat"]}))
    plain.write_text("clips/v1.mp4: a cat is sitting\n  tags: cat (0.90)\n")
    assert main(["score", str(refs), str(plain)]) == 2
    assert capsys.readouterr().err == (f"error: {plain}: not JSON: it begins with caption.py's text output "
                                       "(clips/v1.mp4: a cat is sitting): save what caption.py VIDEOS --json prints\n")
    plain.write_text("\ufeffclips/v1.mp4: a cat\n")  # (a BOM: not shown in the line quoted; trial 131)
    assert main(["score", str(refs), str(plain)]) == 2
    assert "text output (clips/v1.mp4: a cat)" in capsys.readouterr().err
    assert main(["score", str(plain), str(refs)]) == 2  # (as the references: no advice on caption.py's output)
    assert "caption.py" not in capsys.readouterr().err
    plain.write_text("not json: at all\n")  # (no video's name before the colon: no such guess)
    assert main(["score", str(refs), str(plain)]) == 2
    assert "caption.py" not in capsys.readouterr().err


def test_caption_py_lines_of_a_video_the_manifest_does_not_list_are_said_so(tmp_path, monkeypatch, capsys):
    """A folder captioned whole, one video of it without references (not in the manifest): said as '1 video of
    none of m.jsonl's files' with advice to run score where caption.py ran, though its file was found (trial 130).
    Now: a video the manifest does not list, so without references; --allow-partial scores the others."""
    from s2vt.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "clips").mkdir()
    for v in ("v1", "v2"):
        (tmp_path / "clips" / f"{v}.mp4").write_bytes(v.encode())
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"video_id": "v1", "path": "clips/v1.mp4", "captions": ["a cat"]}) + "\n")
    answers = tmp_path / "answers.jsonl"
    answers.write_text("".join(json.dumps({"video": f"clips/{v}.mp4", "caption": "a cat", "tags": []}) + "\n"
                               for v in ("v1", "v2")))
    assert main(["score", str(manifest), str(answers)]) == 2
    assert capsys.readouterr().err == (f"error: {answers}: 1 video whose file {manifest} does not list, so without "
                                       "references (first: clips/v2.mp4); --allow-partial scores the others\n")
    assert main(["score", str(manifest), str(answers), "--allow-partial", "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["scored"] == 1 and err.splitlines()[0] == (
        f"warning: {answers}: left out 1 video that {manifest} does not list (--allow-partial; first: clips/v2.mp4)")
    # a video on two lines (two runs' output appended) is one; the manifest's files moved away: said, not
    # --allow-partial, which would drop videos that have references (trial 131)
    answers.write_text(answers.read_text() + json.dumps({"video": "./clips/v2.mp4", "caption": "a", "tags": []}) + "\n")
    (tmp_path / "clips" / "v1.mp4").rename(tmp_path / "clips" / "v1b.mp4")
    answers.write_text(answers.read_text().replace("clips/v1.mp4", "clips/v1b.mp4"))
    assert main(["score", str(manifest), str(answers)]) == 2
    assert capsys.readouterr().err == (f"error: {answers}: 2 videos whose file {manifest} does not list, so without "
                                       f"references (first: clips/v1b.mp4); the files of 1 row of {manifest} are not "
                                       f"there (first: {tmp_path / 'clips' / 'v1.mp4'}): moved since it was made? "
                                       "import them again\n")


def test_caption_py_lines_answer_the_split_scored_and_warn_in_one_line(tmp_path, monkeypatch, capsys):
    """A file a train row and a test row both name: under --split test its line answers the test id alone (it
    answered both, then 'the predicted ids span splits'); a failed line's warning names the video's id; a
    name's newline or U+202E is escaped in the warnings (trial 125)."""
    from s2vt.cli import main

    monkeypatch.chdir(tmp_path)
    manifest = tmp_path / "m.jsonl"
    rows = [("t1", "test", "clips/t1.mp4"), ("t2", "test", "clips/t2.mp4"), ("alias", "train", "clips/../clips/t1.mp4")]
    manifest.write_text("".join(json.dumps({"video_id": v, "path": p, "split": s, "captions": [f"a cat sits {v}"]})
                                + "\n" for v, s, p in rows))
    answers = tmp_path / "answers.jsonl"
    answers.write_text(json.dumps({"video": "clips/t1.mp4", "caption": "a cat sits", "tags": []}) + "\n"
                       + json.dumps({"video": "clips/t2.mp4", "caption": "a cat", "tags": []}) + "\n")
    assert main(["score", str(manifest), str(answers), "--split", "test", "--json"]) == 0, capsys.readouterr().err
    out, err = capsys.readouterr()
    assert err == "" and json.loads(out)["scored"] == 2
    answers.write_text(json.dumps({"video": "clips/t1.mp4", "caption": "a cat sits", "tags": []}) + "\n"
                       + json.dumps({"video": "clips/t2.mp4", "error": "cannot decode", "notes": []}) + "\n"
                       + json.dumps({"video": "x\nrm -rf\u202e.mp4", "caption": "a", "tags": []}) + "\n")
    assert main(["score", str(manifest), str(answers), "--split", "test", "--allow-partial"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err[:2] == [f"warning: {answers}: left out 1 video not found (--allow-partial; first: "
                       "x\\nrm -rf\\u202e.mp4)",
                       f"warning: {answers}: 1 video caption.py could not caption (a line with an \"error\"): no "
                       "prediction for t2"], err


def test_caption_py_lines_match_a_hard_link_and_stderr_mixed_in_is_said(tmp_path, monkeypatch, capsys):
    """A manifest row naming a hard link of the captioned file is that file (matched by its inode; the path
    alone did not match); caption.py's stderr saved into the file (`2>&1`) is said so, not 'Expecting value at
    line 1 column 1' (trial 125)."""
    from s2vt.cli import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / "v1.mp4").write_bytes(b"video")
    os.link(tmp_path / "clips" / "v1.mp4", tmp_path / "linked.mp4")
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"video_id": "v1", "path": "linked.mp4", "captions": ["a cat sits"]}) + "\n")
    line = json.dumps({"video": "clips/v1.mp4", "caption": "a cat sits", "tags": []}) + "\n"
    answers = tmp_path / "answers.jsonl"
    answers.write_text(line)
    assert main(["score", str(manifest), str(answers), "--json"]) == 0, capsys.readouterr().err
    assert json.loads(capsys.readouterr().out)["scored"] == 1
    answers.write_text("note: best.pt's features come from backbones with seeded random weights (extract ...)\n" + line)
    assert main(["score", str(manifest), str(answers)]) == 2
    assert capsys.readouterr().err == (f"error: {answers}: not JSON: it begins with a message line (note: best.pt's "
                                       "features come from backbones with seeded ran...), which commands write to "
                                       "stderr: save their standard output alone (`> FILE`, not `&>` or `2>&1`)\n")


def test_caption_py_lines_that_json_cannot_hold_or_that_failed_and_were_captioned(tmp_path, monkeypatch, capsys):
    """(trial 126) An integer of 5,000 digits or arrays nested 100,000 deep on a later line: one line, not a
    traceback; a video with an "error" line and a captioned one (two runs' lines) is not said to have no
    prediction; a JSON list's place is its item (from 0), not a line of the file; stderr in the middle (2>&1)."""
    from s2vt.cli import main

    monkeypatch.chdir(tmp_path)
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps({"video_id": v, "path": f"clips/{v}.mp4", "captions": [f"a cat sits {v}"]})
                                + "\n" for v in ("v1", "v2")))
    good = [json.dumps({"video": f"clips/{v}.mp4", "caption": "a cat sits", "tags": []}) for v in ("v1", "v2")]
    answers = tmp_path / "answers.jsonl"
    for bad, said in ((good[1][:-1] + ', "seconds": ' + "9" * 5000 + "}", "line 2: not usable JSON (Exceeds the "),
                      ("[" * 100_000 + "]" * 100_000, "line 2: not usable JSON (nested too deeply)"),
                      ("note: v2.mp4: no audio track", "line 2: not JSON: a message line (note: v2.mp4: no audio "
                       "track), which commands write to stderr")):
        answers.write_text(good[0] + "\n" + bad + "\n")
        assert main(["score", str(manifest), str(answers)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: {answers}: {said}") and err.count("\n") == 1, err
    answers.write_text("\n".join([json.dumps({"video": "clips/v1.mp4", "error": "boom"})] * 2 + good) + "\n")
    assert main(["score", str(manifest), str(answers), "--json"]) == 0
    out, err = capsys.readouterr()
    assert err == "" and json.loads(out)["scored"] == 2
    listed = tmp_path / "list.json"
    listed.write_text(json.dumps([json.loads(good[0]), {"video": "", "caption": "x"}], indent=2))
    assert main(["score", str(manifest), str(listed)]) == 2
    assert capsys.readouterr().err == f"error: {listed}: item 1: \"video\" must be the video's path, not \"\"\n"
