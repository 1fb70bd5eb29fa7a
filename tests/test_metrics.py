"""Caption metrics equal pycocoevalcap's; tag metrics equal hand-computed values."""
import csv
import json
import shutil

import numpy as np
import pytest

from s2vt.metrics import caption_scores, gap, hit_at_k, micro_f1, perr, score_tokenized, tag_scores

from .conftest import run_cli

GTS = {"v1": ["A man is playing a guitar.", "Someone plays the guitar!", "a man plays guitar on stage"],
       "v2": ["A cat is sleeping on a bed.", "a kitten sleeps", "The cat is lying on the bed."],
       "v3": ["A woman is cooking pasta.", "someone cooks food in a kitchen"]}
RES = {"v1": "A man is playing guitar.", "v2": "a cat sleeps on the bed", "v3": "A man is cooking!"}
# pycocoevalcap 1.2 on the lower-cased, punctuation-free versions of GTS / RES (computed once, written down)
FIXED = {"BLEU-1": 0.8731398525797581, "BLEU-2": 0.6902776624981679, "BLEU-3": 0.529652638099655,
         "BLEU-4": 0.3901371443987149, "ROUGE-L": 0.7382220825769212, "CIDEr": 2.015720499823006,
         "METEOR": 0.34390502409810053}


@pytest.fixture
def no_java(monkeypatch):
    """METEOR off (its JVM takes seconds to start): the tests that use this check something else."""
    monkeypatch.setattr("s2vt.metrics.java_available", lambda: False)


def test_fixed_case_written_down(tmp_path):
    refs, preds = tmp_path / "refs.json", tmp_path / "preds.json"
    refs.write_text(json.dumps(GTS))
    preds.write_text(json.dumps([{"image_id": k, "caption": v} for k, v in RES.items()]))
    proc = run_cli("-m", "s2vt.cli", "score", str(refs), str(preds), "--json")
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    for k, v in FIXED.items():
        if k == "METEOR" and got[k] is None:
            continue  # no Java here: null, never a fake number
        assert got[k] == pytest.approx(v, abs=1e-9), k


def test_score_says_how_many_videos_it_scored(tmp_path, capsys, no_java):
    """Plain `score` printed the metrics alone (--json had "scored"): it says how many videos were scored and how
    many distinct captions they got, as evaluate's table does."""
    from s2vt.cli import main

    refs, preds = tmp_path / "refs.json", tmp_path / "preds.json"
    refs.write_text(json.dumps(GTS))
    preds.write_text(json.dumps({k: "a man is talking" for k in RES}))
    assert main(["score", str(refs), str(preds)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert f"distinct      1 caption for the {len(GTS)} videos with reference captions" in lines, lines
    assert main(["score", str(refs), str(preds), "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert (got["scored"], got["distinct_captions"]) == (len(GTS), 1)
    preds.write_text(json.dumps({next(iter(RES)): "a man"}))  # ('for the 1 videos'; trial 129)
    assert main(["score", str(refs), str(preds), "--allow-partial"]) == 0
    assert "distinct      1 caption for the 1 video with reference captions" in capsys.readouterr().out


def test_score_says_when_cider_cannot_tell_captions_apart(tmp_path, capsys, no_java):
    """Videos whose references all hold the same n-grams give each n-gram the weight log(N/N) = 0: CIDEr-D is 0
    whatever the captions, as over one video. Said, not left to read as wrong captions; where one reference
    differs, not said."""
    from s2vt.cli import main
    from s2vt.metrics import blind_cider

    refs, preds = tmp_path / "refs.json", tmp_path / "preds.json"
    same = {"v1": ["A man is talking.", "a man talks"], "v2": ["a man talks", "a man is talking"]}
    refs.write_text(json.dumps(same))
    preds.write_text(json.dumps({"v1": "a man is talking", "v2": "a dog runs"}))
    assert main(["score", str(refs), str(preds), "--json"]) == 0
    got = capsys.readouterr()
    assert json.loads(got.out)["CIDEr"] == 0 and "the references of all 2 videos hold the same n-grams, so " \
        "CIDEr-D is 0 whatever the caption" in got.err
    assert blind_cider({"v1": same["v1"]}).endswith("over one video every n-gram is in all of them, so CIDEr-D is "
                                                     "0 whatever the caption")
    apart = {**same, "v2": same["v2"] + ["a man is singing"]}
    refs.write_text(json.dumps(apart))
    preds.write_text(json.dumps({"v1": "a man is talking", "v2": "a man is singing"}))
    assert main(["score", str(refs), str(preds), "--json"]) == 0
    got = capsys.readouterr()
    assert json.loads(got.out)["CIDEr"] > 0 and "CIDEr-D is 0" not in got.err and blind_cider(apart) is None
    assert blind_cider(GTS) is None and blind_cider({}) is None


def test_equals_pycocoevalcap_scorers_called_directly():
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    clean = lambda s: s.lower().replace(".", "").replace("!", "").strip()  # noqa: E731
    gts = {k: [clean(c) for c in v] for k, v in GTS.items()}
    res = {k: [clean(v)] for k, v in RES.items()}
    ours = caption_scores(GTS, RES, meteor=False)
    bleu = Bleu(4).compute_score(gts, res, verbose=0)[0]
    assert [ours[f"BLEU-{n}"] for n in range(1, 5)] == pytest.approx(bleu, abs=1e-12)
    assert ours["ROUGE-L"] == pytest.approx(Rouge().compute_score(gts, res)[0], abs=1e-12)
    assert ours["CIDEr"] == pytest.approx(Cider().compute_score(gts, res)[0], abs=1e-12)
    assert ours["METEOR"] is None


def test_score_id_mismatch_is_an_error(tmp_path):
    refs, preds = tmp_path / "refs.json", tmp_path / "preds.json"
    refs.write_text(json.dumps(GTS))
    preds.write_text(json.dumps({"v1": "a man", "zz": "x"}))
    proc = run_cli("-m", "s2vt.cli", "score", str(refs), str(preds))
    assert proc.returncode == 2 and "no references" in proc.stderr and "Traceback" not in proc.stderr
    ok = run_cli("-m", "s2vt.cli", "score", str(refs), str(preds), "--allow-partial", "--json")
    assert ok.returncode == 0 and json.loads(ok.stdout)["BLEU-1"] > 0


def test_score_says_ids_that_differ_by_a_file_extension(tmp_path, capsys, no_java):
    """References keyed by file name (`clip.avi`) against predictions by id (`clip`): score listed both sets of ids
    alone (trial 130); it says the extension is the difference."""
    from s2vt.cli import main

    refs, preds = tmp_path / "refs.json", tmp_path / "preds.json"
    preds.write_text(json.dumps({"a": "a cat", "b": "a dog"}))
    for keys in (("a.avi", "b.MP4"), ("a.avi", "b")):
        refs.write_text(json.dumps({k: ["a cat"] for k in keys}))
        assert main(["score", str(refs), str(preds)]) == 2
        err = capsys.readouterr().err
        assert "('a.avi' is 'a' with a file's extension: write the ids alike" in err and err.count("\n") == 1, err


def test_matches_java_tokenizer_path_on_msvd(sample_data):
    if shutil.which("java") is None:
        pytest.skip("java not on PATH")
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    caps: dict[str, list[str]] = {}
    with open(sample_data / "msvd" / "video_corpus_val.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["Language"] == "English":
                caps.setdefault(f"{row['VideoID']}_{row['Start']}_{row['End']}", []).append(row["Description"])
    refs = {k: v[1:] for k, v in caps.items()}
    preds = {k: v[0] for k, v in caps.items()}
    ours = caption_scores(refs, preds)
    tok = PTBTokenizer()
    gts = tok.tokenize({k: [{"caption": c} for c in v] for k, v in refs.items()})
    res = tok.tokenize({k: [{"caption": c}] for k, c in preds.items()})
    java = score_tokenized(gts, res)
    assert len(caps) == 100
    for k in java:
        assert ours[k] == pytest.approx(java[k], abs=1e-6), k


def test_tag_metrics_hand_computed():
    # 3 videos, 25 classes. Scores fall with the class index, except where set.
    scores = np.tile(np.linspace(0.5, 0.01, 25), (3, 1))
    scores[0, 3] = 0.9                     # video 0: gold {3, 7}: 3 ranks 1st, 7 ranks 8th
    gold = [[3, 7], [1], [24]]             # video 1: gold 1 ranks 2nd; video 2: gold 24 ranks 25th (> top 20)
    assert hit_at_k(scores, gold, 1) == pytest.approx(1 / 3)
    assert hit_at_k(scores, gold, 2) == pytest.approx(2 / 3)
    # PERR: video 0 top-2 = {3, 0} -> 1/2; video 1 top-1 = {0} -> 0; video 2 -> 0
    assert perr(scores, gold) == pytest.approx((0.5 + 0 + 0) / 3)
    # GAP by hand on a small case: pooled (score, gold?) = 0.9 F, 0.7 T, 0.6 F, 0.5 T; 2 gold labels
    small = np.array([[0.9, 0.5, 0.1], [0.7, 0.6, 0.2]])
    assert gap(small, [[1], [0]], top_k=2) == pytest.approx((1 / 2) / 2 + (2 / 4) / 2)
    assert gap(small, [[1], [0]], top_k=1) == pytest.approx((1 / 2) / 2)  # class 1 of video 0 is cut off
    # the 25-class case: video 2's gold (class 24) never reaches a top 20, so GAP < 1 even if all else were perfect
    assert gap(scores, gold) < gap(scores[:2], gold[:2])
    assert micro_f1([{3, 0}, {0}, {0}], [{3, 7}, {1}, {24}]) == pytest.approx((0.25, 0.25, 0.25))
    assert micro_f1([{1, 2}], [{1}]) == pytest.approx((0.5, 1.0, 2 / 3))


def test_gap_counts_gold_outside_top_k():
    scores = np.array([[0.9, 0.1, 0.05], [0.8, 0.2, 0.1]])
    assert gap(scores, [[0], [0]], top_k=1) == pytest.approx(1.0)
    # a second gold label on video 1 that is not in its top-1 halves recall's reach
    assert gap(scores, [[0], [0, 2]], top_k=1) == pytest.approx((1 / 1 + 2 / 2) / 3)
    all_tags = tag_scores(scores, [[0], [0, 2]], [{0}, {0}])
    assert set(all_tags) == {"hit@1", "hit@2", "perr", "gap", "tag_precision", "tag_recall", "tag_f1"}
    assert all_tags["tag_recall"] == pytest.approx(2 / 3)


def test_tokens_equal_java_tokenizer_on_msrvtt(sample_data):
    if shutil.which("java") is None:
        pytest.skip("java not on PATH")
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    from s2vt.vocab import tokenize

    data = json.loads((sample_data / "msrvtt" / "videodatainfo_val.json").read_text())
    caps = {str(i): [{"caption": s["caption"]}] for i, s in enumerate(data["sentences"])}
    java = PTBTokenizer().tokenize(caps)
    assert len(caps) == 9940
    assert all(" ".join(tokenize(v[0]["caption"])) == java[k][0] for k, v in caps.items())


def reference_gap(predictions: np.ndarray, actuals: np.ndarray, top_k: int = 20) -> float:
    """google/youtube-8m eval_util.calculate_gap, written from its published definition:
    top_k_by_class keeps each video's top-k (prediction, label) pairs and counts every class's
    positives over ALL videos; AveragePrecisionCalculator.ap_at_n sorts the pooled pairs by
    prediction and sums precision at each positive times delta_recall = 1 / total positives."""
    pairs = []
    for p, a in zip(predictions, actuals):
        m = min(top_k, len(p))
        pairs += [(p[i], a[i]) for i in np.argpartition(p, -m)[-m:]]
    num_positives = actuals.sum()
    pairs.sort(key=lambda t: -t[0])
    ap, poscount = 0.0, 0
    for i, (_, label) in enumerate(pairs):
        if label > 0:
            poscount += 1
            ap += poscount / (i + 1) / num_positives
    return ap


def test_gap_equals_youtube8m_definition_with_ties_and_gold_outside_top_20():
    rng = np.random.default_rng(0)
    n, c = 12, 40
    scores = rng.random((n, c)).round(2)     # rounding to 2 digits makes many ties across videos
    actuals = np.zeros((n, c), int)
    for v in range(n):
        actuals[v, rng.choice(c, size=1 + v % 4, replace=False)] = 1
    # positives outside every top 20: the lowest scores of videos 0 and 1
    for v in (0, 1):
        actuals[v, np.argmin(scores[v])] = 1
    # the published order of tied (positive, negative) pairs is a seeded shuffle: keep ties between
    # pairs of one kind only (positive-positive across videos, negative-negative everywhere)
    scores[2, 5] = scores[3, 6] = 0.995
    actuals[2, 5] = actuals[3, 6] = 1
    for v in range(n):
        for i in np.flatnonzero(actuals[v]):
            if scores[v, i] not in (0.995,) and np.isin(scores[actuals == 0], scores[v, i]).any():
                scores[v, i] += 0.001 * (v + 1) / n  # a positive never ties a negative
    assert (np.unique(scores[actuals == 0], return_counts=True)[1] > 1).any()  # negative ties remain
    gold = [np.flatnonzero(a).tolist() for a in actuals]
    top20 = np.argsort(-scores, axis=1)[:, :20]
    assert any(not set(g) <= set(t.tolist()) for g, t in zip(gold, top20))  # gold outside the top 20
    assert gap(scores, gold) == pytest.approx(reference_gap(scores, actuals), abs=1e-6)
    assert gap(scores, gold, top_k=5) == pytest.approx(reference_gap(scores, actuals, 5), abs=1e-6)


def test_blank_references_are_left_out_and_all_blank_is_one_line(tmp_path, capsys, no_java):
    """A blank reference (empty, spaces, punctuation alone: no word after tokenisation) is no
    reference, as training reads it: it moves no score, and references that are all blank are one
    line (exit 2), not pycocoevalcap's `max() arg is an empty sequence`."""
    from s2vt.cli import main
    refs, preds = tmp_path / "refs.json", tmp_path / "preds.json"
    preds.write_text(json.dumps(RES))
    refs.write_text(json.dumps(GTS))
    assert main(["score", str(refs), str(preds), "--json"]) == 0
    clean = json.loads(capsys.readouterr().out)
    refs.write_text(json.dumps({k: v + ["", "  ", " . "] for k, v in GTS.items()}))
    assert main(["score", str(refs), str(preds), "--json"]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out) == clean  # (CIDEr's document frequencies counted "" before)
    assert out.err.strip().splitlines() == [f"warning: {refs}: ignoring 9 blank reference captions"]
    preds.write_text(json.dumps({"a": "a man is cooking"}))
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"video_id": "a", "split": "test", "captions": [""]}) + "\n")
    for captions in ([""], [" ", "\t"], ["."]):
        refs.write_text(json.dumps({"a": captions}))
        for ref, split in ((refs, []), (manifest, []), (manifest, ["--split", "test"])):
            assert main(["score", str(ref), str(preds), *split]) == 2
            err = capsys.readouterr().err
            assert err.count("\n") == 1 and err.startswith(f"error: {ref}: no reference captions"), err


def test_score_refuses_references_that_are_not_strings(tmp_path, capsys):
    from s2vt.cli import main
    refs, preds = tmp_path / "refs.json", tmp_path / "preds.json"
    preds.write_text(json.dumps({"a": "a man is cooking"}))
    for bad in ([1, 2], ["a man", None], [["a man"]]):
        refs.write_text(json.dumps({"a": bad}))
        assert main(["score", str(refs), str(preds)]) == 2
        assert capsys.readouterr().err == f"error: {refs}: 'a': 'captions' must be a list of strings\n"


def test_an_id_given_twice_in_the_object_forms_is_refused(tmp_path, capsys):
    """{id: ...} with a key twice: json keeps the last; which one the user meant would be a guess."""
    from s2vt.cli import main
    refs, preds = tmp_path / "refs.json", tmp_path / "preds.json"
    refs.write_text(json.dumps({"a": ["a man is cooking"]}))
    preds.write_text('{"a": "a man is cooking", "a": "zzz"}')
    assert main(["score", str(refs), str(preds)]) == 2
    assert capsys.readouterr().err == (f"error: {preds}: 'a' appears twice in one object: which of its values "
                                       "counts would be a guess\n")
    preds.write_text(json.dumps({"a": "a man is cooking"}))
    refs.write_text('{"a": ["a man is cooking"], "a": ["zzz"]}')
    assert main(["score", str(refs), str(preds)]) == 2
    assert capsys.readouterr().err.startswith(f"error: {refs}: 'a' appears twice in one object")
    refs.write_text(json.dumps({"a": ["a man is cooking"]}))  # (the export reads the same way)
    assert main(["export", str(tmp_path / "p2.json"), "--format", "coco", "--out", str(tmp_path / "a.zip")]) == 2
    (tmp_path / "p2.json").write_text('[{"video_id": "a", "caption": "x", "caption": "y"}]')
    capsys.readouterr()
    assert main(["export", str(tmp_path / "p2.json"), "--format", "coco", "--out", str(tmp_path / "a.zip")]) == 2
    assert "'caption' appears twice" in capsys.readouterr().err and not (tmp_path / "a.zip").exists()


def test_a_utf8_bom_is_accepted_in_predictions_and_references(tmp_path, capsys, no_java):
    """Windows editors write one; the manifest reader accepts it, and so do the JSON readers."""
    from s2vt.cli import main
    refs, preds = tmp_path / "refs.json", tmp_path / "preds.json"
    refs.write_bytes(b"\xef\xbb\xbf" + json.dumps(GTS).encode())
    preds.write_bytes(b"\xef\xbb\xbf" + json.dumps(RES).encode())
    assert main(["score", str(refs), str(preds), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["CIDEr"] == pytest.approx(FIXED["CIDEr"], abs=1e-9)


def test_evaluate_of_a_split_without_references_says_so_in_one_line(tmp_path, capsys, no_java):
    """Nothing to score (no captions, blank ones only, no tags): one line saying only the
    predictions were written (then evaluate's line saying where it wrote), exit 0 (they are a valid product), no empty line on stdout."""
    from s2vt.cli import main
    from s2vt.engine import TrainConfig, train
    from s2vt.synthetic import make_store

    from .test_train import FAST

    manifest, store = make_store(tmp_path / "d", videos=28, shapes={"frames": (4, 8)})
    train(TrainConfig.of(str(manifest), str(store), str(tmp_path / "run"), epochs=1, **FAST))
    best = tmp_path / "run" / "best.pt"
    rows = [json.loads(x) for x in manifest.read_text().splitlines()]
    for captions, only in (([""], " (only 4 blank ones)"), ([" ", "."], " (only 8 blank ones)"), (None, "")):
        bare = tmp_path / "bare.jsonl"
        bare.write_text("".join(json.dumps({**{k: v for k, v in r.items() if k not in ("captions", "tags")},
                                            **({"captions": captions} if captions else {})}) + "\n"
                                for r in rows if r["split"] == "test"))
        out = tmp_path / "p.json"
        capsys.readouterr()
        assert main(["evaluate", "--checkpoint", str(best), "--manifest", str(bare), "--features", str(store),
                     "--out", str(out), "--force", "--beam", "1"]) == 0
        got = capsys.readouterr()
        assert got.out == ""
        assert got.err.strip().splitlines() == [
            f"note: split 'test' of {bare} has no reference captions{only} or tags: nothing to score; the "
            f"predictions were written to {out}; their metrics file holds no scores",
            f"wrote {out} (the predictions) and {tmp_path / 'p.metrics.json'} (their metrics)"]
        assert len(json.loads(out.read_text())) == len([r for r in rows if r["split"] == "test"])
        assert not {"CIDEr", "hit@1"} & set(json.loads((tmp_path / "p.metrics.json").read_text()))
    # blank captions beside real ones: left out with a warning, the rest scored as `score` scores them
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text("".join(json.dumps({**r, "captions": r["captions"] + [""]}) + "\n" for r in rows))
    assert main(["evaluate", "--checkpoint", str(best), "--manifest", str(mixed), "--features", str(store),
                 "--out", str(out), "--force", "--beam", "1", "--json"]) == 0
    got = capsys.readouterr()
    assert got.err.strip().splitlines() == [f"warning: {mixed}: ignoring 4 blank reference captions in split 'test'",
                                            f"wrote {out} (the predictions) and {tmp_path / 'p.metrics.json'} (their "
                                            "metrics)"]
    assert main(["score", str(manifest), str(out), "--split", "test", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["CIDEr"] == pytest.approx(json.loads(got.out)["CIDEr"], abs=1e-9)
    # one video with references: CIDEr-D is 0 by its document frequencies, noted as score notes it
    one = tmp_path / "one.jsonl"
    one.write_text(json.dumps(next(r for r in rows if r["split"] == "test")) + "\n")
    assert main(["evaluate", "--checkpoint", str(best), "--manifest", str(one), "--features", str(store),
                 "--out", str(out), "--force", "--beam", "1", "--json"]) == 0
    got = capsys.readouterr()
    assert json.loads(got.out)["CIDEr"] == 0 and got.err.splitlines()[0].startswith(
        "note: CIDEr-D weighs n-grams by their rarity") and "so CIDEr-D is 0 whatever the caption" in got.err


def test_score_knows_a_manifest_by_its_content_not_its_name(tmp_path, capsys, no_java):
    """`s2vt import ... --out m.json` writes a manifest under another suffix: score (and import mlds
    --captions) still read it as one, --split included."""
    from s2vt.cli import main
    from s2vt.datasets import read_captions
    from s2vt.manifest import write_manifest

    entries = [{"video_id": k, "captions": v, "split": "test" if k != "v3" else "train"} for k, v in GTS.items()]
    preds = tmp_path / "preds.json"
    preds.write_text(json.dumps({k: RES[k] for k in ("v1", "v2")}))
    for name in ("m.json", "manifest"):
        write_manifest(entries, tmp_path / name)
        capsys.readouterr()
        assert main(["score", str(tmp_path / name), str(preds), "--split", "test", "--json"]) == 0, \
            capsys.readouterr().err
        assert json.loads(capsys.readouterr().out)["CIDEr"] > 0
        # without --split: the manifest's ids, v3 unpredicted (the manifest's advice, not a JSON error)
        assert main(["score", str(tmp_path / name), str(preds)]) == 2
        err = capsys.readouterr().err
        assert "not valid JSON" not in err and "--split test" in err, err
        assert read_captions(tmp_path / name) == {k: v for k, v in GTS.items()}
    # a manifest under another name whose first record lacks its video_id: the manifest reader's line
    (tmp_path / "bad.json").write_text('{"captions": ["a"]}\n' + json.dumps(entries[0]) + "\n")
    assert main(["score", str(tmp_path / "bad.json"), str(preds)]) == 2
    err = capsys.readouterr().err
    assert "not valid JSON" not in err and "video_id" in err and ":1" in err, err
    # a JSON {id: [captions]} on one line is still references, not a manifest
    (tmp_path / "refs.json").write_text(json.dumps({k: GTS[k] for k in ("v1", "v2")}))
    assert main(["score", str(tmp_path / "refs.json"), str(preds), "--json"]) == 0


@pytest.mark.skipif(shutil.which("java") is None, reason="METEOR needs Java")
def test_meteor_keeps_one_jvm_and_replaces_one_that_died(monkeypatch):
    """The jar takes seconds to start: it is kept for the process's next scores, which equal a fresh
    jar's (its stdio answers are stateless); a dead or failed one is replaced, not reused."""
    from pycocoevalcap.meteor.meteor import Meteor

    from s2vt import metrics

    gts = {"a": ["a man is playing a guitar", "someone plays the guitar"], "b": ["a cat sleeps"]}
    res = {"a": ["a man plays guitar"], "b": ["a dog is sleeping"]}
    first = metrics.meteor_score(gts, res)
    jvm = metrics._meteor.meteor_p
    sub = metrics.meteor_score({"b": gts["b"]}, {"b": res["b"]})  # another call between: no state carried
    assert metrics.meteor_score(gts, res) == first and metrics._meteor.meteor_p is jvm
    fresh = Meteor()
    try:
        assert float(fresh.compute_score(gts, res)[0]) == first
        assert float(fresh.compute_score({"b": gts["b"]}, {"b": res["b"]})[0]) == sub
    finally:
        fresh.meteor_p.kill()
        fresh.meteor_p.wait()
    jvm.kill()
    jvm.wait()
    assert metrics.meteor_score(gts, res) == first and metrics._meteor.meteor_p is not jvm

    def broken(self, gts, res):
        raise ValueError("garbage")
    monkeypatch.setattr(Meteor, "compute_score", broken)
    kept = metrics._meteor.meteor_p
    with pytest.warns(UserWarning, match=r"METEOR failed \(ValueError\)"):
        assert metrics.meteor_score(gts, res) is None
    assert metrics._meteor is None and kept.poll() is not None  # that JVM is stopped, not left running


def test_stopping_meteor_between_its_writes_prints_nothing():
    """A Ctrl-C or SIGTERM can come between a write to the METEOR JVM and its flush: at exit pycocoevalcap's
    __del__ then flushed the rest into the killed JVM, and the user saw a BrokenPipeError traceback."""
    if shutil.which("java") is None:
        pytest.skip("java not on PATH")
    proc = run_cli("-c", "from pycocoevalcap.meteor.meteor import Meteor\n"
                         "from s2vt import metrics\n"
                         "metrics._meteor = Meteor()\n"
                         "metrics._meteor.meteor_p.stdin.write(b'SCORE ||| a cat ||| a cat')  # (buffered)\n"
                         "java = metrics._meteor.meteor_p\n"
                         "metrics._stop_meteor()\n"
                         "print(java.returncode)\n", timeout=60)
    assert (proc.returncode, proc.stderr) == (0, "") and proc.stdout.strip() not in ("", "None"), proc.stderr


def test_score_reads_the_releases_own_reference_files(tmp_path, capsys, no_java):
    """An MLDS label list and an MSR-VTT videodatainfo file score as their importers read them (ids without
    `.avi`; `--split val` for MSR-VTT's `validate`): a hostile trial was told 'expected {id: [captions]}'."""
    from s2vt.cli import main

    preds = tmp_path / "preds.json"
    preds.write_text(json.dumps({k: RES[k] for k in ("v1", "v2")}))
    mlds = tmp_path / "training_label.json"
    mlds.write_text(json.dumps([{"id": f"{k}.avi", "caption": GTS[k]} for k in ("v1", "v2")]))
    refs = tmp_path / "refs.json"
    refs.write_text(json.dumps({k: GTS[k] for k in ("v1", "v2")}))
    assert main(["score", str(refs), str(preds), "--json"]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert main(["score", str(mlds), str(preds), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == plain
    assert main(["score", str(mlds), str(preds), "--split", "val"]) == 2
    assert capsys.readouterr().err.strip().endswith("an MLDS label list has no splits: leave out --split")
    msrvtt = tmp_path / "videodatainfo.json"
    msrvtt.write_text(json.dumps({
        "videos": [{"video_id": k, "split": s, "category": 0} for k, s in (("v1", "validate"), ("v2", "validate"),
                                                                          ("v3", "train"))],
        "sentences": [{"video_id": k, "caption": c} for k, caps in GTS.items() for c in caps]}))
    assert main(["score", str(msrvtt), str(preds), "--split", "val", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == plain
    assert main(["score", str(msrvtt), str(preds)]) == 2  # (v3 unpredicted: the split to pass, as a manifest's)
    err = capsys.readouterr().err
    assert "v3" in err and "the predicted ids are in split val of" in err and "pass --split val" in err, err
    # MSVD's video_corpus.csv, read as `s2vt import msvd` reads it (English captions; ids VideoID_Start_End); it has
    # no splits
    corpus = tmp_path / "video_corpus.csv"
    corpus.write_text("VideoID,Start,End,WorkerID,Source,AnnotationTime,Language,Description\n" + "".join(
        f"v,{k[1]},9,1,clean,1,English,{c}\n" for k, caps in GTS.items() if k in ("v1", "v2") for c in caps)
        + "v,1,9,1,clean,1,German,ein Hund\n")
    msvd_preds = tmp_path / "msvd_preds.json"
    msvd_preds.write_text(json.dumps({f"v_{k[1]}_9": RES[k] for k in ("v1", "v2")}))
    assert main(["score", str(corpus), str(msvd_preds), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == plain
    assert main(["score", str(corpus), str(msvd_preds), "--split", "test"]) == 2
    assert capsys.readouterr().err == (f"error: {corpus}: MSVD's video_corpus.csv has no splits (`s2vt import msvd` "
                                       "draws them): pass the manifest that import wrote, with --split, or leave out "
                                       "--split\n")
    # the importer's own warnings (tags, categories) are not score's; a zip of the file is one line
    assert main(["score", str(msrvtt), str(preds), "--split", "val"]) == 0
    assert "warning" not in capsys.readouterr().err
    import zipfile
    with zipfile.ZipFile(tmp_path / "vdi.zip", "w") as z:
        z.write(msrvtt, "videodatainfo.json")
    assert main(["score", str(tmp_path / "vdi.zip"), str(preds)]) == 2
    assert capsys.readouterr().err == (f"error: {tmp_path / 'vdi.zip'}: a zip holding an MSR-VTT videodatainfo file: "
                                       "unzip it and pass the .json\n")
    # one video scored: CIDEr-D is 0 by its IDF, which a note says
    assert main(["score", str(refs), str(preds), "--allow-partial", "--json"]) == 0 and "CIDEr-D is 0" not in \
        capsys.readouterr().err
    preds.write_text(json.dumps({"v1": RES["v1"]}))
    assert main(["score", str(refs), str(preds), "--allow-partial", "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["CIDEr"] == 0 and "over one video every n-gram is in all of them, so CIDEr-D is 0" in err


def test_tag_tally_a_batch_at_a_time_is_the_whole_matrix_s_scores():
    """evaluate scores tags a batch at a time (`TagTally`: it held every video's [tags] row, several times over, ~105 KB
    a YouTube-8M video): every metric equals the whole matrix's, to the bit, with tied scores, unseen gold tags
    (negative ids), videos without gold tags and batches of any size."""
    from s2vt.metrics import TagTally
    rng = np.random.default_rng(0)
    for _ in range(12):
        n, c = int(rng.integers(1, 200)), int(rng.integers(1, 50))
        scores = np.round(rng.random((n, c)), int(rng.integers(1, 3))).astype(np.float32)  # (ties)
        gold = [[int(x) - 3 for x in rng.choice(c + 3, int(rng.integers(0, 5)), replace=False)] for _ in range(n)]
        pred_sets = [set(np.flatnonzero(row > 0.5).tolist()) for row in scores]
        whole = tag_scores(scores, gold, pred_sets)
        tally, size = TagTally(), int(rng.integers(1, 40))
        for i in range(0, n, size):
            tally.add(scores[i:i + size], gold[i:i + size], pred_sets[i:i + size])
        assert tally.result() == whole
        assert whole["gap"] == gap(scores, gold) and whole["perr"] == perr(scores, gold)
        assert (whole["hit@1"], whole["hit@2"]) == (hit_at_k(scores, gold, 1), hit_at_k(scores, gold, 2))
