"""LIC2022 text models and the videos they are scored on: a tag-only model says when a split holds
its training videos, the challenge's unlabelled videos keep a split of their own, and videos
without any text are counted."""
import json

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
                                "the model (was the manifest re-imported with another --seed?)"]
