"""Bad input to `s2vt import`: a missing path is named before anything else is checked (one line,
exit 2, nothing written); a bad shard among good ones is one warning line, the rest import, and
the command ends with one `error:` line and exit 1 (a batch's partial failure, as `python -m extract`)."""
import pytest

from s2vt.cli import main

from ..test_yt8m import shard_of


def s2vt(capsys, *args) -> tuple[int, list[str]]:
    """`s2vt ARGS` in this process: (exit code, stderr lines)."""
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err.strip().splitlines()


@pytest.mark.parametrize("args, named", [
    (["yt8m", "nope.tfrecord"], "nope.tfrecord: no such file"),  # its name implies no split: not reported first
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
    assert err[3:] == ["error: 2 of 3 files not read to the end (each named in a warning above); 3 videos imported"]


def test_skipped_records_counted_in_the_last_line(tmp_path, capsys):
    from ..test_yt8m import video, write_shard
    shard = write_shard(tmp_path / "train0000.tfrecord", [video("a")[0], video("b", labels=None)[0]])
    code, err = s2vt(capsys, "import", "yt8m", shard, "--out", tmp_path / "m.jsonl")
    assert code == 1
    assert err[-1] == "error: 1 record skipped (no labels: 1) (each named in a warning above); 1 video imported"


def test_clean_import_exits_0(tmp_path, capsys):
    code, err = s2vt(capsys, "import", "yt8m", shard_of(tmp_path, "test0000.tfrecord", 2), "--out", tmp_path / "m.jsonl")
    assert code == 0 and len(err) == 1 and err[0].startswith("wrote ")
