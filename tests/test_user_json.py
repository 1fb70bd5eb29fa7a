"""Users' JSON and JSON-lines files: a key given twice, absurd numbers and nesting are one line and
exit 2 in every reader; one blank-caption rule (a letter or digit in any script is a caption)."""
import json
import numpy as np

import pytest

from s2vt.vocab import is_blank

from .conftest import run_cli


def s2vt(*args):
    return run_cli("-m", "s2vt.cli", *map(str, args))


def one_error(proc, start):
    assert proc.returncode == 2, proc.stderr[-2000:]
    line, = proc.stderr.strip().splitlines()
    assert line.startswith(start) and "Traceback" not in proc.stderr, proc.stderr
    return line


def test_json_lines_refuse_a_key_given_twice(tmp_path):
    manifest = tmp_path / "m.jsonl"
    manifest.write_text('{"video_id":"a1","split":"test","captions":["a man sings"],"captions":[]}\n')
    preds = tmp_path / "p.json"
    preds.write_text(json.dumps({"a1": "a man sings"}))
    line = one_error(s2vt("score", manifest, preds), f"error: {manifest}:1: ")
    assert "'captions' appears twice in one object" in line
    lic = tmp_path / "lic.json"
    lic.write_text('{"@id": "7", "@id": "999", "title": "x", "category": [{"@meta": {"type": "level1"}, '
                   '"@value": "a"}]}\n')
    line = one_error(s2vt("import", "lic2022", lic, "--out", tmp_path / "l.jsonl"), f"error: {lic}:1: ")
    assert "'@id' appears twice" in line


def test_huge_numbers_and_deep_nesting_are_one_line(tmp_path):
    refs = tmp_path / "r.json"
    refs.write_text(json.dumps({"v1": ["a b"]}))
    huge = tmp_path / "h.json"
    huge.write_text('[{"video_id": %s, "caption": "x"}]' % ("9" * 5000))
    one_error(s2vt("score", refs, huge), f"error: {huge}: not usable JSON")
    deep = tmp_path / "deep.json"
    deep.write_text('{"videos":' + "[" * 100000 + "]" * 100000 + "}")
    one_error(s2vt("import", "msrvtt", deep, "--out", tmp_path / "x.jsonl"), f"error: {deep}: ")
    one_error(s2vt("import", "msrvtt", huge, "--out", tmp_path / "x.jsonl"), f"error: {huge}: ")
    lines = tmp_path / "n.jsonl"
    lines.write_text('{"video_id": "a", "n": %s}\n' % ("9" * 5000))
    one_error(s2vt("score", lines, refs), f"error: {lines}:1: not usable JSON")


def test_blank_means_no_letter_or_digit_in_any_script():
    for text in ("", "  ", "...", "!!!", "“”", "(", "。", "！", "—", "😀🐶"):
        assert is_blank(text), text
    for text in ("a", "1", "一个男人在弹吉他", "𠮷野家", "𨋢", "𝓗𝓮𝓵𝓵𝓸", "мужчина поёт", "رجل", "!?a"):
        assert not is_blank(text), text


def test_predictions_of_punctuation_alone_are_empty_answers(tmp_path):
    refs = tmp_path / "r.json"
    refs.write_text(json.dumps({"v1": ["a man sings"], "v2": ["a dog runs"]}))
    preds = tmp_path / "p.json"
    preds.write_text(json.dumps({"v1": "...", "v2": "!!!"}))
    line = one_error(s2vt("score", refs, preds), f"error: {preds}: these predictions have no captions")
    assert "all 2 are empty" in line


def test_references_left_empty_by_blank_captions_are_named(tmp_path):
    refs = tmp_path / "r.json"
    refs.write_text(json.dumps({"v1": ["🐶🐶"], "v2": ["a dog runs"]}))
    preds = tmp_path / "p.json"
    preds.write_text(json.dumps({"v1": "a man", "v2": "a dog runs"}))
    proc = s2vt("score", refs, preds)
    assert proc.returncode == 2
    assert (f"warning: {refs}: ignoring 1 blank reference caption; videos left without a reference, their captions "
            "all blank: 1 (first: v1)") in proc.stderr


def test_a_json_mistake_is_said_with_its_line_and_column(tmp_path, capsys):
    """The parser's position was dropped (manifests, feature stores: e.msg alone) or came as
    '(char 41)': the line says where to look."""
    from s2vt.cli import main
    from s2vt.store import FeatureStore, StoreError

    refs = tmp_path / "r.json"
    refs.write_text(json.dumps({"v1": ["a man sings"]}))
    preds = tmp_path / "p.json"
    preds.write_text('[\n  {"video_id": "v1", "caption": "a man"},\n  {"video_id": "v2" "caption": "x"}\n]\n')
    capsys.readouterr()
    assert main(["score", str(refs), str(preds)]) == 2
    assert capsys.readouterr().err == (f"error: {preds}: not valid JSON (Expecting ',' delimiter at line 3 "
                                       "column 21)\n")
    manifest = tmp_path / "m.jsonl"
    manifest.write_text('{"video_id": "v1", "captions": ["a man sings"]}\n{"video_id": "v2", captions: []}\n')
    assert main(["score", str(manifest), str(preds)]) == 2
    assert capsys.readouterr().err == (f"error: {manifest}:2: not valid JSON (Expecting property name enclosed in "
                                       "double quotes at column 20)\n")
    # (through jsonfile.json_error: 'Unterminated string starting at' said its 'at' twice)
    manifest.write_text('{"video_id": "v1", "captions": ["a man sings"]}\n{"video_id": "v2\n')
    assert main(["score", str(manifest), str(preds)]) == 2
    assert capsys.readouterr().err == f"error: {manifest}:2: not valid JSON (Unterminated string starting at column 14)\n"
    from s2vt.datasets import DatasetError, read_labels
    caps = tmp_path / "caps.json"  # (import features --captions: an MLDS list)
    caps.write_text('[\n  {"id": "c1", "caption": ["a man"]}\n  {"id": "c2", "caption": ["a dog"]}\n]\n')
    with pytest.raises(DatasetError, match=r"cannot read captions \(Expecting ',' delimiter at line 3 column 3\)$"):
        read_labels(caps, "train")
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "meta.json").write_text('{"backbones": {}\n')
    with pytest.raises(StoreError, match=r"not valid JSON \(Expecting ',' delimiter at line 2 column 1\); remove "
                                         "meta.json to read the store without it$"):
        FeatureStore(tmp_path / "store").meta()


def test_json_lines_where_one_document_is_expected_say_so(tmp_path, capsys):
    """Predictions written a JSON value a line read 'Extra data: line 2
    column 1', as if line 2 held a typo."""
    from s2vt.cli import main

    refs = tmp_path / "r.json"
    refs.write_text(json.dumps({"v1": ["a man sings"], "v2": ["a dog runs"]}))
    preds = tmp_path / "p.jsonl"
    preds.write_text('{"video_id": "v1", "caption": "a man"}\n\n{"video_id": "v2", "caption": "a dog"}\n')
    capsys.readouterr()
    assert main(["score", str(refs), str(preds)]) == 2
    assert capsys.readouterr().err == (f"error: {preds}: JSON lines (a JSON value on each line); expected one "
                                       'JSON document, a JSON list [{"video_id", "caption"}, ...] or an object '
                                       "{id: caption}, or caption.py --json's lines\n")
    preds.write_text('{"v1": "a man"}\n{"v2": "a dog"\n')  # (its second line broken: that is the mistake to say)
    assert main(["score", str(refs), str(preds)]) == 2
    assert capsys.readouterr().err == f"error: {preds}: not valid JSON (Extra data at line 2 column 1)\n"


def test_import_json_mistakes_say_what_was_expected(tmp_path, capsys):
    """`import msrvtt` of a JSON list said `(TypeError: list indices must be integers...)`, of a cut file
    `(char 2000)`, of JSON lines `Extra data`; `import features --captions` of JSON lines of {id: [captions]}
    and a manifest whose line 1 is a list both said `missing field 'video_id'`."""
    import numpy as np

    from s2vt.cli import main

    def error(*args):
        capsys.readouterr()
        assert main(list(map(str, args))) == 2
        line, = capsys.readouterr().err.strip().splitlines()
        return line

    listed = tmp_path / "list.json"
    listed.write_text(json.dumps([{"video_id": "v"}]))
    assert error("import", "msrvtt", listed, "--out", tmp_path / "m.jsonl") == (
        f"error: {listed}: not an MSR-VTT videodatainfo file: expected a JSON object "
        '{"videos": [{"video_id", "split", "category"}, ...], "sentences": [{"video_id", "caption"}, ...]}')
    cut = tmp_path / "cut.json"
    cut.write_text(json.dumps({"videos": [{"video_id": f"video{i}", "split": "train"} for i in range(99)]})[:2000])
    line = error("import", "msrvtt", cut, "--out", tmp_path / "m.jsonl")
    assert line == f"error: {cut}: not valid JSON (Unterminated string starting at line 1 column 1994)", line
    lines = tmp_path / "lines.json"
    lines.write_text('{"videos": []}\n{"sentences": []}\n')
    assert error("import", "msrvtt", lines, "--out", tmp_path / "m.jsonl").startswith(
        f"error: {lines}: JSON lines (a JSON value on each line); expected one JSON document, a JSON object")
    (tmp_path / "feat").mkdir()
    for c in ("c1", "c2"):
        np.save(tmp_path / "feat" / f"{c}.npy", np.zeros((3, 4), np.float32))
    caps = tmp_path / "caps.json"
    caps.write_text('{"c1": ["a man"]}\n{"c2": ["a dog"]}\n')
    common = ["import", "features", tmp_path / "feat", "--modality", "rgb", "--out", tmp_path / "m.jsonl"]
    assert error(*common, "--captions", caps, "--split", "train") == (
        f"error: {caps}: JSON lines of {{id: captions}} objects, not a captions format; expected a JSON "
        '{id: [captions]} (one object), an MLDS list [{"id", "caption"}, ...] or a manifest (one {"video_id", ...} '
        "object per line)")
    manifest = tmp_path / "m_list.jsonl"
    manifest.write_text('["c1", "a man"]\n')
    assert error(*common, "--captions", manifest).startswith(
        f"error: {manifest}:1: a JSON list, not an object: a manifest is one JSON object per line")
    assert not (tmp_path / "m.jsonl").exists()


def test_an_empty_json_file_is_said_to_be_empty(tmp_path, capsys):
    """`s2vt score refs.json empty.json`, empty.json of 0 bytes, said 'not valid JSON (Expecting value at line 1
    column 1)' (hostile trial), as if it held a typo. Now the file is said to be empty, with what was expected; a
    file of blank space alone likewise."""
    from s2vt.cli import main

    refs, empty, blank = tmp_path / "r.json", tmp_path / "empty.json", tmp_path / "blank.json"
    refs.write_text(json.dumps({"v1": ["a man sings"]}))
    empty.write_bytes(b"")
    blank.write_bytes(b" \n\n")
    capsys.readouterr()
    # (caption.py's lines too: an answers.jsonl left empty by a caption.py that stopped before its first answer)
    expected = 'a JSON list [{"video_id", "caption"}, ...] or an object {id: caption}, or caption.py --json\'s lines'
    for path, said in [(empty, "empty file (0 bytes)"), (blank, "nothing but blank space (3 bytes)")]:
        assert main(["score", str(refs), str(path)]) == 2
        assert capsys.readouterr().err == f"error: {path}: {said}; expected {expected}\n"
    assert main(["score", str(empty), str(refs)]) == 2
    assert capsys.readouterr().err.startswith(f"error: {empty}: empty file (0 bytes); expected a JSON object")


def test_a_dataset_file_given_as_a_manifest_names_its_import(tmp_path):
    """`s2vt train --manifest videodatainfo_val.json` (MSR-VTT's annotations) and every other reader of a
    manifest said "...:1: missing field 'video_id'", with no word of the import that makes one (hostile trial).
    Now the manifest reader's line goes on with the `s2vt import` of MSR-VTT's, MSVD's, MLDS's or LIC2022's file."""
    from s2vt.manifest import ManifestError, read_manifest

    files = {
        "videodatainfo_val.json": (json.dumps({"info": {}, "videos": [{"video_id": "video1", "split": "val"}],
                                               "sentences": [{"video_id": "video1", "caption": "a man"}]}),
                                   ":1: missing field 'video_id'; it looks like MSR-VTT's videodatainfo JSON: make a "
                                   "manifest of it: s2vt import msrvtt {f} --out M.jsonl"),
        "videodatainfo_indented.json": (json.dumps({"info": {}, "videos": [{"video_id": "video1"}]}, indent=2),
                                        ": one JSON document over 8 lines, not JSON lines (one object a line); it "
                                        "looks like MSR-VTT's videodatainfo JSON: make a manifest of it: s2vt import "
                                        "msrvtt {f} --out M.jsonl"),
        # evaluate's own files, as it writes them (indented): named, not said as any JSON (trial 96)
        "metrics_test.json": (json.dumps({"split": "test", "videos": 2, "BLEU-4": 0.5, "seconds": 1.0}, indent=2),
                              ": one JSON document over 6 lines, not JSON lines (one object a line); it is "
                              "evaluate's metrics file: pass the manifest the run was evaluated on"),
        "preds_test.json": (json.dumps([{"video_id": "v1", "caption": "a man", "tags": []}], indent=2),
                            ": one JSON document over 7 lines, not JSON lines (one object a line); it looks like "
                            "predictions (evaluate's, a JSON list): pass the manifest the videos came from"),
        "video_corpus.csv": ("VideoID,Start,End,WorkerID,Source,AnnotationTime,Language,Description\n"
                             "a,1,2,3,clean,4,English,a man\n",
                             ":1: not valid JSON (Expecting value at column 1); it looks like MSVD's video_corpus.csv: "
                             "make a manifest of it: s2vt import msvd {f} --out M.jsonl"),
        "training_label.json": (json.dumps([{"caption": ["a man"], "id": "a.avi"}], indent=4),
                                ": one JSON document over 8 lines, not JSON lines (one object a line); it looks like "
                                "MLDS's training_label.json: make a manifest of it: s2vt import mlds {d} --out "
                                "M.jsonl (the release folder holding it)"),
        "train.json": (json.dumps({"@id": "7", "title": "t", "tag": []}) + "\n",
                       ":1: missing field 'video_id'; it looks like LIC2022's JSON lines: make a manifest of it: "
                       "s2vt import lic2022 {f} --out M.jsonl"),
    }
    for name, (text, says) in files.items():
        f = tmp_path / name
        f.write_text(text)
        with pytest.raises(ManifestError) as e:
            read_manifest(f)
        assert str(e.value) == f"{f}" + says.format(f=f, d=tmp_path)
    other = tmp_path / "other.jsonl"  # (any other mistake: said as before)
    # a JSON object that counts its "videos" (a run's metrics.json, one line or indented) is no MSR-VTT file: it
    # was sent to `s2vt import msrvtt`, which refused it (new-user trial 94)
    for text, says in [('{"path": "x.mp4"}\n', ":1: missing field 'video_id'"),
                       ('{"videos": 3, "sentences": 9}\n', ":1: missing field 'video_id'"),
                       ('{"videos": {}, "sentences": []}\n', ":1: missing field 'video_id'"),  # (trial 96)
                       # (a manifest's own rows indented, or in a list: not taken for evaluate's files)
                       (json.dumps({"video_id": "v", "split": "test", "captions": []}, indent=1),
                        ": one JSON document over 5 lines, not JSON lines (one object a line)"),
                       (json.dumps([{"video_id": "v", "split": "test", "captions": []}]),
                        ":1: a JSON list, not an object: a manifest is one JSON object per line ({\"video_id\": ..., "
                        "\"split\": ..., \"captions\": [...]})"),
                       (json.dumps({"CIDEr": 0.5, "videos": 20}, indent=1), ": one JSON document over 4 lines, not "
                                                                          "JSON lines (one object a line)")]:
        other.write_text(text)
        with pytest.raises(ManifestError) as e:
            read_manifest(other)
        assert str(e.value) == f"{other}{says}"


def test_a_lone_surrogate_escape_is_refused_where_it_is_read(tmp_path, capsys):
    """`"down\\ud800"` is valid JSON and no Unicode text: a manifest holding it trained, and every command that
    wrote the text out again (caption.py, evaluate, import's manifest, serve) was a traceback (trial 78). Every
    JSON reader refuses it in one line naming the file (and the line), the text shown escaped."""
    from s2vt.cli import main

    said = 'the text "a man \\ud800 sings" holds a lone surrogate (\\ud800-\\udfff escaped alone)'
    manifest = tmp_path / "m.jsonl"
    manifest.write_text('{"video_id": "a", "split": "train", "captions": ["a man \\ud800 sings"], "tags": []}\n')
    preds = tmp_path / "p.json"
    preds.write_text('{"a": "a man \\ud800 sings"}')
    good = tmp_path / "good.json"
    good.write_text('{"a": "a man sings"}')
    refs = tmp_path / "refs.json"
    refs.write_text('{"a": ["a man sings"]}')
    msrvtt = tmp_path / "videodatainfo.json"
    msrvtt.write_text('{"videos": [{"video_id": "video0", "split": "train"}], '
                      '"sentences": [{"video_id": "video0", "caption": "a man \\ud800 sings"}]}')
    lic = tmp_path / "lic.json"
    lic.write_text('{"@id": "1", "title": "a man \\ud800 sings"}\n')
    for words, where in ((["score", manifest, good], f"{manifest}:1: "), (["score", refs, preds], f"{preds}: "),
                         (["import", "msrvtt", msrvtt, "--out", tmp_path / "i" / "m.jsonl"], f"{msrvtt}: ")):
        assert main([str(w) for w in words]) == 2, words
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith(f"error: {where}") and said in err, err
    assert not (tmp_path / "i").exists()
    # LIC2022's web text (a title cut between an emoji's halves) is read leniently: U+FFFD stands for it; a topic
    # tag so cut is left out and said (kept, "cat\ufffd" was a label apart from "cat")
    lic.write_text('{"@id": "1", "title": "a man \\ud800 sings", "category": [{"@meta": {"type": "level1"}, '
                   '"@value": "pets"}], "tag": [{"@value": "cat\\ud83d"}, {"@value": "cat"}]}\n')
    assert main(["import", "lic2022", str(lic), "--out", str(tmp_path / "i" / "l.jsonl")]) == 0
    entry = json.loads((tmp_path / "i" / "l.jsonl").read_text())
    assert entry["text"]["title"] == "a man \ufffd sings" and entry["tags"] == ["level1:pets", "tag:cat"]
    err = capsys.readouterr().err
    assert "1 video imported without some labels" in err and "cut inside a character" in err, err
    from s2vt.manifest import read_manifest

    # a record's own U+FFFD (scraped text holds some) is a label as written; a category cut so is left out too
    # (trial 85: "体育\ud83c" was a level 1 apart from "体育")
    lic.write_text('{"@id": "1", "category": [{"@meta": {"type": "level1"}, "@value": "pets"}], '
                   '"tag": [{"@value": "cat\\ufffd"}]}\n'
                   '{"@id": "2", "category": [{"@meta": {"type": "level1"}, "@value": "sport\\ud83c"}], '
                   '"tag": [{"@value": "run"}]}\n'
                   '{"@id": "3", "category": [{"@meta": {"type": "level1"}, "@value": "sport"}]}\n')
    assert main(["import", "lic2022", str(lic), "--out", str(tmp_path / "i" / "l.jsonl"), "--force"]) == 0
    assert [(e["video_id"], e["tags"]) for e in read_manifest(tmp_path / "i" / "l.jsonl")] == [
        ("1", ["level1:pets", "tag:cat\ufffd"]), ("2", ["tag:run"]), ("3", ["level1:sport"])]
    assert "a category whose text is cut inside a character" in capsys.readouterr().err
    # lines ended by CR alone (numbered as the reader numbers them: trial 87, the rule held for line 1 alone)
    lic.write_bytes(lic.read_bytes().replace(b"\n", b"\r"))
    assert main(["import", "lic2022", str(lic), "--out", str(tmp_path / "i" / "l.jsonl"), "--force"]) == 0
    assert [e["tags"] for e in read_manifest(tmp_path / "i" / "l.jsonl")] == [
        ["level1:pets", "tag:cat\ufffd"], ["tag:run"], ["level1:sport"]]
    assert "a category whose text is cut inside a character" in capsys.readouterr().err
    # a tag's key too, and a string inside a list of lists
    (tmp_path / "k.json").write_text('{"a\\udfff": [["x"]]}')
    (tmp_path / "n.json").write_text('{"a": [["x \\udfff"]]}')
    for name in ("k.json", "n.json"):
        assert main(["score", str(tmp_path / name), str(good)]) == 2
        assert "holds a lone surrogate" in capsys.readouterr().err


def test_a_blank_or_spaced_tag_is_refused_and_a_misspelt_field_warned(tmp_path, capsys):
    """A manifest's tag "" trained as a label of its own, " x " as another label than "x", and a field "captoins"
    was ignored unsaid (the run became tag-only; trial 78): the tags are refused naming the line, a field s2vt does
    not read that is near one it does is warned of; any other field is the user's own, kept silently."""
    from s2vt.manifest import ManifestError, read_manifest

    m = tmp_path / "m.jsonl"
    for tags, said in (([""], "tag '' is blank"), (["  "], "tag '  ' is blank"),
                       (["x", " x "], "tag ' x ' has spaces at its ends: write 'x'")):
        m.write_text(json.dumps({"video_id": "a", "tags": ["y"]}) + "\n" + json.dumps({"video_id": "b", "tags": tags}))
        with pytest.raises(ManifestError) as e:
            read_manifest(m)
        assert str(e.value) == f"{m}:2: {said}"
    m.write_text("".join(json.dumps(e) + "\n" for e in (
        {"video_id": "a", "captoins": ["a man"], "url": "https://x"}, {"video_id": "b", "captoins": ["a dog"]},
        {"video_id": "c", "tag": ["x"], "source": "mine"},
        # (names that extend a field, or are longer by many letters, are the user's own: no warning; trial 79)
        {"video_id": "d", "captions_en": ["a"], "caption_count": 1, "video": "d.mp4", "split0": "x", "test": True})))
    entries = read_manifest(m)
    assert capsys.readouterr().err == (f"warning: {m}: fields s2vt does not read: 'captoins' (2 videos; 'captions' "
                                       "meant?), 'tag' (1 video; 'tags' meant?)\n")
    assert entries[0]["url"] == "https://x" and entries[2]["source"] == "mine"
    # "text" is s2vt's own object: any key in it the text branch does not read is said (trial 83: trained on no text)
    m.write_text("".join(json.dumps(e) + "\n" for e in (
        {"video_id": "a", "text": {"tittle": "a man"}}, {"video_id": "b", "text": {"Title": "x", "ocr": "y"}},
        {"video_id": "c", "text": {"description": "z", "title": "t"}}, {"video_id": "d", "text": {"asr": ""}})))
    assert read_manifest(m)[2]["text"]["description"] == "z"
    assert capsys.readouterr().err == (f"warning: {m}: 'text' keys s2vt does not read: 'tittle' (1 video; 'title' "
                                       "meant?), 'Title' (1 video; 'title' meant?), 'description' (1 video) (it "
                                       "reads title, asr, ocr)\n")


def test_a_lone_surrogate_in_a_document_over_many_lines_is_said_with_its_line(tmp_path, capsys):
    """A pretty-printed file (MSR-VTT's, MLDS's labels) named no line; an escaped backslash before it ("\\\\ud800":
    a backslash, then text) was taken for the surrogate (trial 80)."""
    from s2vt.cli import main

    refs = tmp_path / "refs.json"
    refs.write_text('{\n  "a": ["one \\\\ud800 two"],\n  "b": ["a pair \\ud83d\\ude00 is an emoji"],\n'
                    '  "c": ["a lone \\udc00 one"]\n}\n')
    preds = tmp_path / "p.json"
    preds.write_text('{"a": "one", "b": "two", "c": "three"}')
    assert main(["score", str(refs), str(preds)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f'error: {refs}: line 4: the text "a lone \\udc00 one" holds a lone surrogate'), err


def test_a_compressed_file_is_named_for_what_it_is(tmp_path, capsys):
    """A gzip-compressed JSON lines file was warned of as a last line cut short, then refused as not UTF-8 at
    line 1 (trial 83); a compressed JSON document as not valid JSON. Each is named: decompress it first."""
    import bz2
    import gzip
    import lzma

    from s2vt.cli import main

    lines = "".join(json.dumps({"@id": str(i), "title": "t", "category": [{"@meta": {"type": "level1"},
                                                                         "@value": "c"}]}) + "\n" for i in range(30))
    for name, pack, tool in (("a.json.gz", gzip.compress, "gzip-compressed: decompress it first (gunzip)"),
                             ("a.json.bz2", bz2.compress, "bzip2-compressed: decompress it first (bunzip2)"),
                             ("a.json.xz", lzma.compress, "xz-compressed: decompress it first (unxz)")):
        (tmp_path / name).write_bytes(pack(lines.encode()))
        assert main(["import", "lic2022", str(tmp_path / name), "--out", str(tmp_path / "o" / "m.jsonl")]) == 2
        assert capsys.readouterr().err == f"error: {tmp_path / name}: {tool}\n"
    manifest, refs, preds = tmp_path / "m.jsonl.gz", tmp_path / "refs.json.gz", tmp_path / "p.json"
    manifest.write_bytes(gzip.compress(b'{"video_id": "v0", "captions": ["a b"]}\n'))
    refs.write_bytes(gzip.compress(b'{"v0": ["a b"]}'))
    preds.write_text('{"v0": "a b"}')
    for given in (manifest, refs):
        assert main(["score", str(given), str(preds)]) == 2
        assert capsys.readouterr().err == f"error: {given}: gzip-compressed: decompress it first (gunzip)\n"
    # a tar of the file: UTF-8 up to its NUL padding, warned of as a last line cut short (trial 89)
    import io
    import tarfile
    with tarfile.open(tmp_path / "a.tar", "w") as tar:
        info = tarfile.TarInfo("train.json")
        info.size = len(lines.encode())
        tar.addfile(info, io.BytesIO(lines.encode()))
    assert main(["import", "lic2022", str(tmp_path / "a.tar"), "--out", str(tmp_path / "o" / "m.jsonl")]) == 2
    assert capsys.readouterr().err == f"error: {tmp_path / 'a.tar'}: a tar archive: extract the file from it first " \
                                      "(tar xf)\n"
    # text holding "ustar" where a tar header has it is no tar: its header checksum tells
    from s2vt.jsonfile import compressed
    start = '{"@id": "1", "title": "'
    chance = (start + "x" * (257 - len(start)) + 'ustar and more"}\n').encode()
    assert chance[257:262] == b"ustar" and compressed(chance) is None
    assert not (tmp_path / "o").exists()
    # a caption file and a vocabulary, read by other paths (trial 85: "not UTF-8: byte 0x8b", "a binary file")
    (tmp_path / "feat").mkdir()
    np.save(tmp_path / "feat" / "v0.npy", np.ones((2, 4), np.float32))
    assert main(["import", "features", str(tmp_path / "feat"), "--captions", str(refs), "--modality", "x",
                 "--split", "train", "--out", str(tmp_path / "o" / "m.jsonl")]) == 2
    assert capsys.readouterr().err == f"error: {refs}: cannot read captions (gzip-compressed: decompress it first " \
                                      "(gunzip))\n"
    from s2vt.datasets import DatasetError
    from s2vt.yt8m import read_vocabulary
    vocab = tmp_path / "vocabulary.csv"
    vocab.write_bytes(gzip.compress(b"Index,Name\n0,a\n"))
    with pytest.raises(DatasetError, match="not a vocabulary CSV: gzip-compressed: decompress it first"):
        read_vocabulary(vocab)
    # a tar of the vocabulary or of a shard (trial 92: the columns, a length checksum, said alone)
    from s2vt.tfrecord import TFRecordError, read_records
    from .test_yt8m import video, write_shard
    vocab.write_bytes(b"Index,Name\n0,a\n")
    write_shard(tmp_path / "train0000.tfrecord", [video("v0", [0])[0]])
    for name in ("vocabulary.csv", "train0000.tfrecord"):
        with tarfile.open(tmp_path / f"{name}.tar", "w") as tar:
            tar.add(tmp_path / name, arcname=name)
    with pytest.raises(DatasetError, match=r"needs columns Index, Name\): a tar archive: extract the file from it"):
        read_vocabulary(tmp_path / "vocabulary.csv.tar")
    with pytest.raises(TFRecordError, match=r"not a TFRecord file \(bad length checksum at byte 0\); a tar archive"):
        list(read_records(tmp_path / "train0000.tfrecord.tar"))
    assert not (tmp_path / "o").exists()
