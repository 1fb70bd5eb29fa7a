"""Bad input to training and checkpoints: one line on stderr, exit 2, and nothing already trained is lost."""
import csv
import json
import re
import shlex
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from s2vt.cli import main
from s2vt.device import DeviceError, pick_device
from s2vt.checkpoint import load_checkpoint
from s2vt.engine import TrainConfig, text_settings_given, train
from s2vt.locks import lock_text
from s2vt.options import settings
from s2vt.synthetic import make_store

from ..conftest import fill_disk, make_video, run_cli

TINY = ["--epochs", "1", "--hidden", "8", "--embed", "8", "--min-count", "1", "--batch-size", "8"]
RUN_FILES = ("best.pt", "last.pt", "metrics.csv")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """24 videos; modality names caption.py knows, so its checkpoint path can be exercised."""
    return make_store(tmp_path_factory.mktemp("store"), videos=24, shapes={"resnet152": (4, 8), "vggish": (3, 4)})


@pytest.fixture(scope="module")
def run(store, tmp_path_factory):
    """A finished one-epoch run folder (best.pt, last.pt, metrics.csv, curves.png)."""
    out = tmp_path_factory.mktemp("run") / "run"
    train(TrainConfig.of(*map(str, store), str(out), epochs=1, hidden=8, embed=8, min_count=1, batch_size=8,
                      quiet=True))
    return out


def s2vt(capsys, *args) -> tuple[int, list[str]]:
    """`s2vt ARGS` in this process: (exit code, stderr lines)."""
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err.strip().splitlines()


def train_args(store, out, *extra) -> list:
    manifest, features = store
    return ["train", "--manifest", manifest, "--features", features, "--out", out, *TINY, *extra]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {n: (folder / n).read_bytes() for n in RUN_FILES if (folder / n).exists()}


def test_training_into_a_folder_that_holds_a_model_is_refused(store, run, tmp_path, capsys):
    kept = tmp_path / "kept"
    shutil.copytree(run, kept)
    before = snapshot(kept)
    proc = run_cli("train.py", *map(str, train_args(store, kept)[1:]))  # the script's exit path
    assert proc.returncode == 2, proc.stderr[-2000:]
    line, = proc.stderr.strip().splitlines()
    assert "already holds a training run" in line and "--resume" in line and "--overwrite" in line
    assert snapshot(kept) == before
    history_only = tmp_path / "history_only"  # a metrics.csv alone is a run's record too
    history_only.mkdir()
    shutil.copy(run / "metrics.csv", history_only)
    code, err = s2vt(capsys, *train_args(store, history_only))
    assert code == 2 and len(err) == 1 and "metrics.csv" in err[0]
    plot_only = tmp_path / "plot_only"  # a curves.png alone (a run writes it with metrics.csv) was replaced
    plot_only.mkdir()
    (plot_only / "curves.png").write_text("my own plot")
    code, err = s2vt(capsys, *train_args(store, plot_only))
    assert code == 2 and len(err) == 1 and "curves.png" in err[0] and "--overwrite" in err[0]
    assert (plot_only / "curves.png").read_text() == "my own plot"
    code, err = s2vt(capsys, *train_args(store, kept, "--overwrite", "--hidden", "16"))
    assert code == 0, err
    assert load_checkpoint(kept / "best.pt")[3]["config"]["hidden"] == 16  # replaced by the new run
    code, err = s2vt(capsys, *train_args(store, kept, "--overwrite", "--resume"))
    assert code == 2 and len(err) == 1 and "one of them" in err[0]



@pytest.mark.parametrize("name", ["best.pt", "last.pt", "metrics.csv", "curves.png"])
def test_a_run_file_that_is_a_pipe_is_refused_before_training(name, store, tmp_path, capsys, monkeypatch):
    """`train --out RUN --overwrite` with RUN/metrics.csv a FIFO trained the whole epoch, wrote best.pt and
    last.pt, then was refused at the write (best.pt a FIFO: after the first epoch); without --overwrite it was
    told to pass --overwrite, which could not help (hostile trial). Now one line, exit 2, before any training."""
    from s2vt import engine

    def no_training(*args, **kwargs):
        raise AssertionError("the run's data was read: the refusal came after the work")
    monkeypatch.setattr(engine, "prepare", no_training)
    out = tmp_path / "run"
    out.mkdir()
    os.mkfifo(out / name)
    for extra in ([], ["--overwrite"], ["--resume"]):
        code, err = s2vt(capsys, *train_args(store, out, *extra))
        assert (code, err) == (2, [f"error: cannot write {out / name}: it is a pipe, not a regular file: move it, "
                                   "or name another output"]), (extra, err)
        assert [p.name for p in out.iterdir()] == [name] and (out / name).is_fifo()


def test_a_run_file_that_links_to_a_device_names_the_link_not_the_device(store, tmp_path, capsys, monkeypatch):
    """RUN/curves.png a link to /dev/null said 'cannot write /dev/null: it is a device, not a regular file: move
    it, or name another output': advice to move /dev/null (hostile trial). The refusal names the path in the run
    and what it links to, and says to remove the link."""
    from s2vt import engine

    def no_training(*args, **kwargs):
        raise AssertionError("the run's data was read: the refusal came after the work")
    monkeypatch.setattr(engine, "prepare", no_training)
    out = tmp_path / "run"
    out.mkdir()
    (out / "curves.png").symlink_to("/dev/null")
    code, err = s2vt(capsys, *train_args(store, out, "--overwrite"))
    assert (code, err) == (2, [f"error: cannot write {out / 'curves.png'}: it is a link to /dev/null, a device, not "
                               "a regular file: remove the link, or name another output"]), err
    assert (out / "curves.png").is_symlink()


def dead_pid() -> int:
    """The pid of a process that has ended (a stale lock's)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_second_training_into_a_folder_being_trained_is_refused(store, run, tmp_path, capsys, monkeypatch):
    """Two train.py runs into one --out both ran to the end (exit 0), each writing over the other's files: the
    second's printed result was not what the folder held (hostile trial). A run holds OUT/.s2vt-train.lock."""
    from s2vt import engine

    other = os.getppid()  # (a live process that is not this one: the run holding the folder)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / ".s2vt-train.lock").write_text(lock_text(other))
    kept = tmp_path / "kept"
    shutil.copytree(run, kept)
    (kept / ".s2vt-train.lock").write_text(lock_text(other))
    before = snapshot(kept)
    for folder, extra in ((busy, []), (kept, ["--resume"]), (kept, ["--overwrite"]), (kept, [])):
        code, err = s2vt(capsys, *train_args(store, folder, *extra))
        assert code == 2 and len(err) == 1 and f"another training run (pid {other}) is writing there" in err[0], err
        assert (folder / ".s2vt-train.lock").read_text() == lock_text(other)  # (its lock, not this run's to remove)
    assert sorted(p.name for p in busy.iterdir()) == [".s2vt-train.lock"] and snapshot(kept) == before

    # a stale lock (its process gone) does not block; the run holds the lock while it trains, and removes it
    # however it ends: done, refused after taking it (--resume of another model), interrupted
    (busy / ".s2vt-train.lock").write_text(f"{dead_pid()}\n")
    seen = []
    curves = engine.write_curves
    monkeypatch.setattr(engine, "write_curves", lambda *a: (seen.append((busy / ".s2vt-train.lock").read_text()),
                                                           curves(*a)))
    code, err = s2vt(capsys, *train_args(store, busy))
    assert code == 0 and [x.split()[0] for x in seen] == [str(os.getpid())] and not (busy / ".s2vt-train.lock").exists(), err
    code, err = s2vt(capsys, *train_args(store, busy, "--resume", "--hidden", "16"))
    assert code == 2 and "hidden=8 (this run: 16)" in err[-1] and not (busy / ".s2vt-train.lock").exists(), err

    def interrupted(*a):
        raise KeyboardInterrupt
    monkeypatch.setattr(engine, "write_curves", interrupted)
    code, err = s2vt(capsys, *train_args(store, busy, "--overwrite"))
    assert code == 130 and not (busy / ".s2vt-train.lock").exists(), err


def test_only_rank_0_holds_the_training_lock(store, run, tmp_path, monkeypatch):
    """Under torchrun rank 0 alone takes the run folder's lock: the other ranks, which write nothing
    there, are not refused by it (rank 0 of a second launch is, and with it the launch)."""
    from s2vt.engine import refuse_locked, refuse_training
    from s2vt.resume import RunFolderError

    kept = tmp_path / "kept"
    shutil.copytree(run, kept)
    (kept / ".s2vt-train.lock").write_text(lock_text(os.getppid()))
    with pytest.raises(RunFolderError, match="another training run"):
        refuse_training(kept)
    monkeypatch.setenv("RANK", "1")
    refuse_training(kept)
    refuse_locked(kept)  # (the evaluate locks' check: the training lock is not one of them)


def test_resume_without_last_pt(store, run, tmp_path, capsys):
    no_last = tmp_path / "no_last"
    shutil.copytree(run, no_last)
    (no_last / "last.pt").unlink()
    before = snapshot(no_last)
    code, err = s2vt(capsys, *train_args(store, no_last, "--resume"))
    assert code == 2 and len(err) == 1 and "last.pt" in err[0] and "--overwrite in place of --resume" in err[0]
    assert snapshot(no_last) == before  # starting over would have replaced best.pt
    # (trial 106) "pass --overwrite" beside the --resume typed was refused as the two together: in place of it
    code, err = s2vt(capsys, *train_args(store, no_last, "--overwrite"))
    assert code == 0 and (no_last / "last.pt").is_file(), err
    code, err = s2vt(capsys, *train_args(store, tmp_path / "new", "--resume"))  # e.g. a requeued job's first try
    assert code == 0 and err[0].startswith("warning: --resume: no ") and "starting a new run" in err[0]
    assert (tmp_path / "new" / "last.pt").is_file()


def test_inconsistent_checkpoint_is_one_line(store, run, tmp_path, capsys):
    ckpt = torch.load(run / "best.pt", weights_only=True)
    # as if extracted from video (a synthetic store's model is refused by caption.py for that alone)
    ckpt["extract"] = {k: v for k, v in ckpt["extract"].items() if k != "synthetic"}
    variants = {  # checkpoint -> what the error line must name
        "hidden": ({**ckpt, "config": {**ckpt["config"], "hidden": 16}}, "hidden=16"),
        "no_config": ({k: v for k, v in ckpt.items() if k != "config"}, "no model config"),
        "short_vocab": ({**ckpt, "vocab": ckpt["vocab"][:-2]}, "vocab_size"),
        "labels": ({**ckpt, "labels": ckpt["labels"][:-1]}, "num_tags"),
        # (a word twice: every id of it decoded as the one word; trial 78)
        "word_twice": ({**ckpt, "vocab": [*ckpt["vocab"][:-1], ckpt["vocab"][-2]]},
                       f"the vocabulary holds {ckpt['vocab'][-2]!r} twice"),
        "tag_twice": ({**ckpt, "labels": [*ckpt["labels"][:-1], ckpt["labels"][0]]},
                      f"the tag names hold {ckpt['labels'][0]!r} twice"),
    }
    manifest, features = store
    for name, (bad, message) in variants.items():
        path = tmp_path / f"{name}.pt"
        torch.save(bad, path)
        code, err = s2vt(capsys, "evaluate", "--checkpoint", path, "--manifest", manifest, "--features", features,
                         "--out", tmp_path / "preds.json")
        assert code == 2 and len(err) == 1, (name, err)
        assert err[0].startswith(f"error: {path}: ") and message in err[0], (name, err)
    # an older s2vt kept a caption's literal "<unk>" as a word beside the special: such a checkpoint still loads
    torch.save({**ckpt, "vocab": [*ckpt["vocab"][:-1], "<unk>"]}, tmp_path / "older.pt")
    code, err = s2vt(capsys, "evaluate", "--checkpoint", tmp_path / "older.pt", "--manifest", manifest, "--features",
                     features, "--out", tmp_path / "older.json")
    assert code == 0, err
    video = make_video(tmp_path / "clip.mp4", seconds=0.5, size="64x48", audio=None)
    proc = run_cli("caption.py", str(video), "--checkpoint", str(tmp_path / "hidden.pt"))
    assert proc.returncode == 2, proc.stderr[-2000:]
    line, = proc.stderr.strip().splitlines()
    assert "hidden=16" in line and "Traceback" not in proc.stderr


def test_resume_with_other_vocabulary_or_sizes(store, run, tmp_path, capsys):
    resumed = tmp_path / "resumed"
    shutil.copytree(run, resumed)
    before = snapshot(resumed)
    for extra, message in ((["--hidden", "16"], "hidden=8 (this run: 16): pass --hidden 8 to resume it"),
                           (["--embed", "16"], "embed=8"),
                           (["--modalities", "resnet152"], "pass --modalities resnet152,vggish to resume it"),
                           # colours are seen 6 times each (the setting named, with the run's value: trial 119)
                           (["--min-count", "7"], "vocabulary differs from {last}'s (8 words now, 14 there): the "
                            "run started with --min-count 1: pass --min-count 1 to resume it"),
                           # other data and other settings (another manifest changes the recipe): the data named
                           (["--min-count", "7", "--hidden", "16"], "vocabulary differs")):
        code, err = s2vt(capsys, *train_args(store, resumed, "--resume", "--epochs", "2", *extra))
        assert code == 2 and len(err) == 1, (extra, err)
        assert err[0].startswith("error: --resume: ") and message.format(last=resumed / "last.pt") in err[0], (extra,
                                                                                                          err)
    # several settings differ: all of them in one line, with every option that gives last.pt's model back
    code, err = s2vt(capsys, *train_args(store, resumed, "--resume", "--epochs", "2", "--hidden", "16", "--embed", "16"))
    assert code == 2 and len(err) == 1 and "hidden=8 (this run: 16), embed=8 (this run: 16)" in err[0], err
    assert err[0].endswith("pass --hidden 8 --embed 8 to resume it"), err
    assert snapshot(resumed) == before


def test_resume_with_other_tags_names_the_setting_or_file_they_came_from(tmp_path, monkeypatch):
    from s2vt.resume import tags_cause
    (tmp_path / "v.csv").write_text("Index,Name\n0,a\n")
    cfg = TrainConfig.of(str(tmp_path / "m.jsonl"), None, str(tmp_path / "run"), min_tag_count=3)
    was = {"manifest": str(tmp_path / "m.jsonl"), "vocabulary": None, "min_tag_count": 3}
    assert tags_cause(was, cfg, False) == f"{tmp_path / 'm.jsonl'} changed since the run started"
    assert tags_cause({**was, "min_tag_count": 5}, cfg, False) == \
        "the run started with --min-tag-count 5: pass it to resume the run"
    assert tags_cause({**was, "manifest": "old.jsonl"}, cfg, False) == \
        "the run started with --manifest old.jsonl: pass the same --manifest to resume it"
    assert tags_cause({}, cfg, False) == f"{tmp_path / 'm.jsonl'} changed since the run started"  # (unrecorded)
    # another spelling of the same vocabulary file is not another vocabulary: the file changed
    shards = TrainConfig.of(None, str(tmp_path / "a.tfrecord"), str(tmp_path / "run"),
                            val_features=str(tmp_path / "b.tfrecord"), vocabulary=str(tmp_path / "v.csv"))
    monkeypatch.chdir(tmp_path)
    assert tags_cause({"vocabulary": "v.csv"}, shards, True) == f"{tmp_path / 'v.csv'} changed since the run started"
    assert tags_cause({"vocabulary": None}, shards, True).startswith("the run started without --vocabulary")


def test_resume_says_which_changed_settings_it_ignores(store, run, tmp_path, capsys):
    resumed = tmp_path / "resumed"
    shutil.copytree(run, resumed)
    code, err = s2vt(capsys, *train_args(store, resumed, "--resume", "--epochs", "2", "--lr", "0.5",
                                         "--dropout", "0.9"))
    assert code == 0, err
    warning, = [line for line in err if line.startswith("warning: --resume")]
    ignored, taken = warning.split("; taking effect: ")
    assert "ignored" in ignored and "--lr 0.5 (last.pt: " in ignored and "--dropout" not in ignored, warning
    assert "--dropout 0.9 (last.pt: 0.3)" in taken and "--epochs 2 (last.pt: 1)" in taken and "--lr" not in taken
    lr = [float(r["lr"]) for r in csv.DictReader(open(resumed / "metrics.csv"))]
    assert len(lr) == 2 and lr[1] < 0.01  # last.pt's schedule, as the warning says
    # last.pt now holds the settings in use: --lr is last.pt's again, so not named as changed
    code, err = s2vt(capsys, *train_args(store, resumed, "--resume", "--epochs", "3", "--dropout", "0.9"))
    assert code == 0 and err[0] == "warning: --resume: taking effect: --epochs 3 (last.pt: 2)", err


def test_resume_does_not_call_a_setting_taken_that_it_says_has_no_effect(store, run, tmp_path, capsys):
    """`--resume --tag-focal 2` on a run whose videos have one tag each was said both 'taking effect: --tag-focal
    2' and '--tag-focal 2 has no effect' (review): the change line leaves out what the other says is idle."""
    resumed = tmp_path / "resumed"
    shutil.copytree(run, resumed)
    code, err = s2vt(capsys, *train_args(store, resumed, "--resume", "--epochs", "2", "--tag-focal", "2"))
    assert code == 0, err
    assert any(e.startswith("warning: --tag-focal 2 has no effect") for e in err), err
    assert [e for e in err if e.startswith("warning: --resume")] == [
        "warning: --resume: taking effect: --epochs 2 (last.pt: 1)"], err


def test_a_finished_run_resumed_with_more_epochs_says_they_train_at_the_end_of_the_decay(store, tmp_path, capsys):
    """`--resume --epochs 3` on a run that had finished its --epochs 2 trained epoch 3 at the end of a 3-epoch
    cosine decay (the schedule keeps its step count, its length is this command's --epochs): from 29% of --lr
    down to the 5% floor, metrics.csv's lr at the floor, and only 'taking effect: --epochs 3' said (hostile
    trial). Now one warning line says so, and what gives a full schedule; a run early in its schedule, or on
    --schedule step, is not warned."""
    out = tmp_path / "run"
    args = train_args(store, out, "--warmup", "0", "--lr", "0.01", "--patience", "9")
    assert s2vt(capsys, *args, "--epochs", "2")[0] == 0
    code, err = s2vt(capsys, *args, "--resume", "--epochs", "3")
    assert code == 0, err
    said = [e for e in err if "decay" in e]
    assert said == ["warning: --epochs 3: the run had trained 2 of its 2 epochs (its learning rate down to 5% of "
                    "--lr 0.01) and its schedule keeps counting steps: epoch 3 trains at the end of a 3-epoch cosine "
                    "decay, from 29% of --lr down to 5%; for a full 3-epoch schedule, train a fresh run "
                    "(--overwrite in place of --resume, or a new --out)"], err
    lr = [float(r["lr"]) for r in csv.DictReader(open(out / "metrics.csv"))]
    assert lr[2] == pytest.approx(0.0005)  # (where the warning says epoch 3 ends)
    # early in its schedule, more epochs are most of a decay still: no warning; nor on --schedule step
    for extra in (["--epochs", "4"], ["--epochs", "2", "--schedule", "step"]):
        other = tmp_path / f"other{len(extra)}"
        assert s2vt(capsys, *train_args(store, other, "--warmup", "0", *extra[2:]), *extra[:2],
                    "--stop-after", "1")[0] == 0
        code, err = s2vt(capsys, *train_args(store, other, "--resume", "--epochs", "5"))
        assert code == 0 and not [e for e in err if "decay" in e], err


def test_a_plain_resume_goes_on_with_the_runs_own_settings(store, tmp_path, capsys):
    """`--resume` with only the data and --out took this command's defaults for the rest: the recipe's
    --epochs 4 for a run begun with --epochs 3 ("taking effect: --epochs 4 (last.pt: 3)"), and a refusal for
    its --hidden 8 (hostile trial). A setting the command line does not give is the run's own; one it gives
    still changes, and is said."""
    manifest, features = store
    out = tmp_path / "run"
    plain = ["train", "--manifest", manifest, "--features", features, "--out", out]
    own = ["--epochs", "3", "--hidden", "8", "--embed", "8", "--min-count", "1", "--batch-size", "8", "--patience", "5"]
    assert s2vt(capsys, *plain, *own, "--stop-after", "1")[0] == 0
    code, err = s2vt(capsys, *plain, "--resume", "--stop-after", "2")
    assert code == 0, err
    assert not any("taking effect" in e or e.startswith("error") for e in err), err
    assert err[-1].startswith("paused after epoch 2 of 3 "), err
    settings = torch.load(out / "last.pt", weights_only=True)["settings"]
    assert (settings["epochs"], settings["hidden"], settings["patience"]) == (3, 8, 5)
    # given, a setting changes, and the warning names it alone
    code, err = s2vt(capsys, *plain, "--resume", "--patience", "4")
    assert code == 0, err
    assert [e for e in err if "--resume:" in e] == ["warning: --resume: taking effect: --patience 4 (last.pt: 5)"], err
    assert torch.load(out / "last.pt", weights_only=True)["epoch"] == 3
    assert len(list(csv.DictReader(open(out / "metrics.csv")))) == 3


def test_a_resume_missing_one_of_its_data_paths_names_what_last_pt_records(store, run, tmp_path, capsys):
    """`--manifest M --resume` without the --features the run began with was told "M: no text ... to train
    on without --features", and `--features F --resume` without its --manifest that leaving out --manifest
    needs TFRecord shards (hostile trial): each is told the data paths last.pt records, as a --resume given
    neither is."""
    manifest, features = store
    resumed = tmp_path / "resumed"
    shutil.copytree(run, resumed)
    before = snapshot(resumed)
    line = (f"error: --resume needs the same --features (and --manifest, if any) the run started with: pass "
            f"--features {features} --manifest {manifest} (as {resumed / 'last.pt'} records)")
    for data in (["--manifest", manifest], ["--features", features], []):
        code, err = s2vt(capsys, "train", *data, "--out", resumed, "--resume")
        assert (code, err) == (2, [line]), (data, err)
    assert snapshot(resumed) == before
    # a new run begun with --resume (no last.pt) is not refused for a store it never had: a text-only run
    code, err = s2vt(capsys, "train", "--manifest", manifest, "--out", tmp_path / "new", "--resume")
    assert code == 2 and "no training video has text (title, asr, ocr) to train on without --features" in err[-1], err


def test_a_resume_from_another_folder_is_told_its_recorded_paths_are_relative_to_where_it_began(store, tmp_path,
                                                                                                  capsys, monkeypatch):
    """A run begun with relative data paths, resumed from another folder without them, was told to pass them as
    last.pt records them, which name nothing from there (hostile trial): the line says what they are relative to."""
    manifest, features = store
    shutil.copytree(os.path.dirname(features), tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    data = [f"data/{os.path.basename(manifest)}", f"data/{os.path.basename(features)}"]
    assert s2vt(capsys, *train_args(data, "run", "--epochs", "2", "--stop-after", "1"))[0] == 0
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    code, err = s2vt(capsys, "train", "--out", "../run", "--resume")
    assert code == 2 and err[-1].endswith(f"--manifest {data[0]} (as ../run/last.pt records, relative to the folder "
                                          "the run started in)"), err


def test_resume_naming_the_modalities_the_run_already_reads_is_no_change(store, run, tmp_path, capsys):
    """`--modalities cnn` (the store's only one) on a run begun without --modalities (last.pt: None, all of
    them) was warned "taking effect: --modalities cnn (last.pt: None)" (hostile trial): the modalities
    are compared as the run reads them, and the same ones are no change."""
    resumed = tmp_path / "resumed"
    shutil.copytree(run, resumed)
    code, err = s2vt(capsys, *train_args(store, resumed, "--resume", "--modalities", "resnet152,vggish"))
    assert code == 0, err
    assert not any("--resume:" in e for e in err), err
    # (an empty --modalities, `--modalities "$MODS"` unset, is the default: every one; as [] it was said to take
    # effect, changing nothing, trial 119)
    code, err = s2vt(capsys, *train_args(store, resumed, "--resume", "--modalities", ""))
    assert code == 0, err
    assert not any("--resume:" in e for e in err), err
    code, err = s2vt(capsys, *train_args(store, resumed, "--resume", "--modalities", "resnet152"))
    assert code == 2 and "pass --modalities resnet152,vggish to resume it" in err[-1], err


def test_a_resume_on_a_store_of_other_modalities_names_the_models(store, run, tmp_path, capsys):
    """`--resume` of a run begun without --modalities, given another dataset's store, read that store's
    modalities and advised extracting them for the run's videos, which the model does not read (trial 75): the
    run reads its model's modalities, and the refusal names them."""
    other = make_store(tmp_path / "other", videos=4, shapes={"c3d": (2, 8)})
    resumed = tmp_path / "resumed"
    shutil.copytree(run, resumed)
    code, err = s2vt(capsys, *train_args((store[0], other[1]), resumed, "--resume", "--epochs", "2"))
    assert code == 2 and err[-1].startswith(f"error: {other[1]}: no features for resnet152,vggish (store has c3d)"), err


def test_resume_warns_of_no_feature_dropout_it_was_not_given(store, tmp_path, capsys):
    """A tag-only run's --resume --tag-input encoder was warned "--feature-dropout 0.3 has no effect", a value
    the user never gave (the recipe's, kept from last.pt), before its refusal as another model (hostile
    trial): the warning is for a --feature-dropout the command line gives."""
    tags = rewritten(store, tmp_path / "tags.jsonl", lambda e, i: {**e, "captions": []})
    out = tmp_path / "run"
    args = train_args((tags, store[1]), out, "--epochs", "2")
    assert s2vt(capsys, *args, "--stop-after", "1")[0] == 0
    code, err = s2vt(capsys, *args, "--resume", "--tag-input", "encoder")
    assert code == 2 and not any("--feature-dropout" in e and "no effect" in e for e in err), err
    assert err[-1].startswith("error: --resume: ") and "tag_input=features (this run: encoder)" in err[-1], err
    code, err = s2vt(capsys, *args, "--resume", "--tag-input", "encoder", "--feature-dropout", "0.2")
    assert code == 2 and any(e.startswith("warning: --feature-dropout 0.2 has no effect: the tag head reads the "
                                          "encoder features") for e in err), err


def test_resume_names_a_changed_setting_by_the_flag_typed(store, run, tmp_path, capsys):
    """`--resume --one-caption-per-video` was warned "--no-per-caption (last.pt: --per-caption)", a flag the
    user never typed (hostile trial): the warning names the option as given."""
    resumed = tmp_path / "resumed"
    shutil.copytree(run, resumed)
    for typed in ("--one-caption-per-video", "--no-per-caption"):
        code, err = s2vt(capsys, *train_args(store, resumed, "--resume", typed))
        assert code == 0, err
        assert err[0] == (f"warning: --resume: ignored (the run has finished, so nothing uses them): {typed} "
                          "(last.pt: --per-caption)"), err


def test_resuming_a_finished_run_trains_nothing(store, run, tmp_path, capsys):
    done = tmp_path / "done"
    shutil.copytree(run, done)
    before = snapshot(done)
    code = main([str(a) for a in train_args(store, done, "--resume", "--dropout", "0.9")])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert f"{done}: the run already finished at epoch 1 (best epoch 1): nothing to train" in err
    assert err.startswith("warning: --resume: ignored (the run has finished, so nothing uses them): --dropout 0.9 "
                          "(last.pt: 0.3)\n"), err
    assert len(err.splitlines()) == 2 and "resuming from" not in err  # the warning and that line: no epoch
    best = torch.load(done / "best.pt", weights_only=True)["metrics"]
    assert json.loads(out.splitlines()[0]) == {k: best[k] for k in ("epoch", "CIDEr", "tag_acc") if k in best}
    assert snapshot(done) == before


def test_val_without_references_says_training_selects_on_the_loss(store, tmp_path, capsys):
    """Val videos without captions (a caption model) used to be announced as "select on CIDEr" while
    every epoch was chosen by the training loss, silently."""
    manifest, features = store
    rows = [json.loads(line) for line in Path(manifest).read_text().splitlines()]
    for r in rows:
        if r["split"] != "train":
            r["captions"], r["tags"] = [], []
    bare = tmp_path / "bare.jsonl"
    bare.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code, err = s2vt(capsys, "train", "--manifest", bare, "--features", features, "--out", tmp_path / "run", *TINY)
    assert code == 0, err
    assert any("select on training loss" in line for line in err), err
    val = sum(r["split"] == "val" for r in rows)
    assert (f"note: none of the {val} validation videos has captions to score CIDEr on: early stopping and best.pt "
            "use the training loss") in err
    metrics = torch.load(tmp_path / "run" / "best.pt", weights_only=True)["metrics"]
    assert "CIDEr" not in metrics and "tag_acc" not in metrics, metrics  # no tags in val: no tag score of 0
    code, err = s2vt(capsys, *train_args(store, tmp_path / "ok"))  # with references: no such note
    assert code == 0 and not any("note: none of the" in line for line in err), err


def test_resuming_a_finished_run_without_best_pt_says_so(store, run, tmp_path, capsys):
    done = tmp_path / "done"
    shutil.copytree(run, done)
    (done / "best.pt").unlink()
    code, err = s2vt(capsys, *train_args(store, done, "--resume"))
    assert code == 2 and err == [f"error: {done}: the run finished at epoch 1 but its best.pt is missing: pass "
                                 "--overwrite in place of --resume to train it again"], err
    # a run that would go on: refused too (epochs not beating last.pt's best would leave no model at all)
    code, err = s2vt(capsys, *train_args(store, done, "--resume", "--epochs", "3"))
    assert code == 2 and err == [f"error: {done}: last.pt is at epoch 1 but best.pt, the model val chose, is missing: "
                                 "pass --overwrite in place of --resume to train it again"], err
    assert not (done / "best.pt").exists() and torch.load(done / "last.pt", weights_only=True)["epoch"] == 1


def test_an_early_stopped_run_is_told_the_patience_it_stopped_at(store, tmp_path, capsys):
    out = tmp_path / "stopped"
    assert s2vt(capsys, *train_args(store, out, "--lr", "0", "--patience", "2", "--epochs", "5"))[0] == 0
    # lr 0: no improvement after epoch 1, stopped after 2 bad checks; resumed with --patience 1 it is
    # finished still, and the advice is last.pt's count, not this command's 1
    code, err = s2vt(capsys, *train_args(store, out, "--resume", "--lr", "0", "--epochs", "5", "--patience", "1"))
    assert code == 0, err
    line, = [e for e in err if "already finished" in e]
    assert "--patience above 2 to train on" in line, err
    assert not any("--patience 1 (last.pt: 2)" in e for e in err), err  # what decided it: not "ignored"


def test_a_finished_run_names_the_epochs_or_patience_its_line_does_not_as_ignored(store, run, tmp_path, capsys):
    """`--resume --epochs 8` on a run early stopping ended was told "the run already finished at epoch 3 ...
    (--patience above 2 to train on ...)" and nothing of its --epochs 8 (hostile trial), where another
    setting is said ignored: the one of --epochs and --patience that the finished line does not name is."""
    out = tmp_path / "stopped"
    assert s2vt(capsys, *train_args(store, out, "--lr", "0", "--patience", "2", "--epochs", "5"))[0] == 0
    code, err = s2vt(capsys, *train_args(store, out, "--resume", "--lr", "0", "--epochs", "8", "--patience", "2"))
    assert code == 0, err
    assert err[0] == ("warning: --resume: ignored (the run has finished, so nothing uses them): --epochs 8 (last.pt: "
                      "5)"), err
    assert any("already finished" in e and "--patience above 2 to train on" in e for e in err), err
    # a run that ran its --epochs: its line names --epochs, and a --patience given is what is ignored
    done = tmp_path / "done"
    shutil.copytree(run, done)
    code, err = s2vt(capsys, *train_args(store, done, "--resume", "--patience", "5"))
    assert code == 0, err
    assert err[0] == "warning: --resume: ignored (the run has finished, so nothing uses them): --patience 5 (last.pt: 3)"
    assert any("already finished" in e and "--epochs above 1 to train on" in e for e in err), err
    # a --stop-after pauses nothing there either (said nothing of, it read as taken: hostile trial)
    code, err = s2vt(capsys, *train_args(store, done, "--resume", "--stop-after", "1"))
    assert code == 0 and err[0] == ("warning: --resume: ignored (the run has finished, so nothing uses them): "
                                    "--stop-after 1"), err


def test_a_paused_run_says_it_paused_not_what_a_finished_run_says(store, tmp_path, capsys):
    """`--stop-after 1` of 3 epochs printed best.pt's result (the JSON line) and the line on how to caption
    with the model, as a run that ended does (hostile trial): it says it paused, and how to go on."""
    out = tmp_path / "paused"
    code = main([str(a) for a in train_args(store, out, "--epochs", "3", "--quiet", "--stop-after", "1")])
    said = capsys.readouterr()
    assert code == 0 and said.out == "", said
    line, = said.err.strip().splitlines()
    assert line.startswith(f"paused after epoch 1 of 3 (--stop-after 1): {out / 'last.pt'} kept; rerun the same "
                           "command with --resume and without --stop-after to train on: "), said.err
    assert line.endswith(" --quiet --resume") and line.count("--stop-after") == 2, line  # (the command to paste)
    assert "refit" not in torch.load(out / "best.pt", weights_only=True)
    # (trial 106) a run begun with --overwrite: its pause said to add --resume, which --overwrite refuses
    args = [str(a) for a in train_args(store, out, "--epochs", "3", "--quiet", "--overwrite", "--stop-after", "1")]
    assert main(args) == 0
    line = capsys.readouterr().err.strip()
    assert "rerun the same command with --resume in place of --overwrite and without --stop-after" in line, line
    again = shlex.split(line.split(" to train on: ", 1)[1])
    assert "--overwrite" not in again and "--stop-after" not in again and again[-1] == "--resume", again
    assert main(again[again.index("train"):]) == 0, capsys.readouterr().err
    assert torch.load(out / "last.pt", weights_only=True)["epoch"] == 3


def test_resume_with_fewer_epochs_than_a_paused_run_has_done_is_refused(store, tmp_path, capsys):
    """A run stopped at epoch 2 of 3, resumed with --epochs 1, was called "already finished at epoch 1"
    and then refitted for best.pt's epochs (hostile trial): nothing can end it before epochs it trained."""
    out = tmp_path / "paused"
    args = train_args(store, out, "--epochs", "3", "--refit")
    assert s2vt(capsys, *args, "--stop-after", "2")[0] == 0
    before = snapshot(out)
    code, err = s2vt(capsys, *args, "--resume", "--epochs", "1")
    assert code == 2 and err == [f"error: {out}: --resume --epochs 1: the run is at epoch 2 (of its --epochs 3): pass "
                                 "--epochs 2 to end it there, more to train on, "
                                 "or --overwrite in place of --resume to start over"], err
    assert snapshot(out) == before and "refit" not in torch.load(out / "best.pt", weights_only=True)
    # --epochs 2, where it is: the run ends there, said as such, and its last steps (the refit) are done
    code, err = s2vt(capsys, *args, "--resume", "--epochs", "2")
    assert code == 0, err
    assert not any("already finished" in e or "stopped while" in e for e in err), err
    assert any(e.startswith(f"{out}: --epochs 2 ends the run at epoch 2, where it is (best epoch ")
               and e.endswith("): doing its last steps: the refit on train + val, the caption memory") for e in err), err
    assert torch.load(out / "best.pt", weights_only=True)["refit"]["epochs"] >= 1
    # ended there, it is finished at 2: a later --resume --epochs 1 was refused as "at epoch 2 (of its --epochs
    # 3)", and one with --epochs 3 would train on past the refit (hostile trial)
    assert torch.load(out / "last.pt", weights_only=True)["settings"]["epochs"] == 2
    refit = snapshot(out)
    for more in (["--epochs", "1"], ["--epochs", "2"]):
        code, err = s2vt(capsys, *args, "--resume", *more)
        assert code == 0 and any(e.startswith(f"{out}: the run already finished at epoch 2 (best epoch ")
                                 for e in err), err
    assert snapshot(out) == refit
    # a run that reached its own --epochs is finished, whatever --epochs a later --resume gives
    done = tmp_path / "done"
    assert s2vt(capsys, *train_args(store, done, "--epochs", "2"))[0] == 0
    code, err = s2vt(capsys, *train_args(store, done, "--epochs", "1", "--resume"))
    assert code == 0, err
    assert any(e.startswith(f"{done}: the run already finished at epoch 2 (best epoch ") for e in err), err


def test_stop_after_an_epoch_a_resumed_run_has_done_is_refused(store, tmp_path, capsys):
    """`--resume --stop-after 1` on a run at epoch 2 trained epoch 3, then said "paused after epoch 3 of 4
    (--stop-after 1)" (hostile trial): refused before training, naming the epoch the run is at."""
    out = tmp_path / "paused"
    args = train_args(store, out, "--epochs", "4")
    assert s2vt(capsys, *args, "--stop-after", "2")[0] == 0
    before = snapshot(out)
    for n in (1, 2):
        code, err = s2vt(capsys, *args, "--resume", "--stop-after", n)
        assert (code, err) == (2, [f"error: {out}: --resume --stop-after {n}: the run is at epoch 2 (of its --epochs "
                                   "4): pass --stop-after above 2 to pause it later, or leave it out to train on"]), err
    assert snapshot(out) == before
    code, err = s2vt(capsys, *args, "--resume", "--stop-after", "3")
    assert code == 0 and err[-1].startswith("paused after epoch 3 of 4 (--stop-after 3)"), err


def test_a_resume_under_another_number_of_processes_warns(store, tmp_path, capsys):
    """A run trained under torchrun on 2 processes and resumed on 1 (or the reverse) went on unwarned, though
    its batches, cut among the processes, differed from the uninterrupted run's from there on (hostile trial).
    last.pt records its `world`; a --resume under another says so in one warning line and trains on (its
    steps an epoch the same), or is refused naming the processes when they change the steps; a last.pt
    without the record says nothing. (The 2 processes faked in last.pt: `test_torchrun_resume_on_one_process_
    warns` trains them.)"""
    out = tmp_path / "paused"
    args = train_args(store, out, "--epochs", "3", "--batch-size", "4")
    assert s2vt(capsys, *args, "--stop-after", "1")[0] == 0
    last = torch.load(out / "last.pt", weights_only=True)
    assert last["world"] == 1
    torch.save({**last, "world": 2}, out / "last.pt")
    code, err = s2vt(capsys, *args, "--resume", "--stop-after", "2")
    said = [x for x in err if x.startswith("warning: ")]
    assert code == 0 and said == [f"warning: --resume: {out / 'last.pt'} was trained on 2 processes, this run has 1: "
                                  "its batches differ from here on; resume on 2 processes (torchrun "
                                  "--nproc_per_node=2) to continue it exactly"], err
    last = torch.load(out / "last.pt", weights_only=True)
    assert last["world"] == 1  # (this run's own, from here on)
    steps = last["history"][-1]["steps"]
    last["history"][-1]["steps"] = steps + 1
    torch.save({**last, "world": 2}, out / "last.pt")
    before = snapshot(out)
    code, err = s2vt(capsys, *args, "--resume")
    assert (code, err) == (2, [f"error: {out}: --resume: an epoch would be {steps} optimiser steps, the run's were "
                               f"{steps + 1} (trained on 2 processes, this run has 1): its learning-rate schedule "
                               "counts steps, so resume on 2 processes (torchrun --nproc_per_node=2), or pass "
                               "--overwrite in place of --resume to start over"]), err
    assert snapshot(out) == before
    last["history"][-1]["steps"] = steps
    torch.save({k: v for k, v in last.items() if k != "world"}, out / "last.pt")  # (an older s2vt's)
    code, err = s2vt(capsys, *args, "--resume")
    assert code == 0 and not [x for x in err if x.startswith("warning: ")], err


def test_a_resume_whose_epochs_would_be_another_number_of_steps_is_refused(store, tmp_path, capsys):
    """`--resume --batch-size 16` on a run begun with 64 was only warned "taking effect": the schedule kept its
    step count but took its length from the new epochs, so the run ended in the middle of its cosine, never
    decayed, and its refit replayed a schedule it never trained on (hostile trial). Refused before training,
    naming the setting as typed and what to resume with; the same settings resume."""
    out = tmp_path / "paused"
    args = train_args(store, out, "--epochs", "3", "--batch-size", "4")
    assert s2vt(capsys, *args, "--stop-after", "1")[0] == 0
    before = snapshot(out)
    steps = torch.load(out / "last.pt", weights_only=True)["history"][-1]["steps"]
    code, err = s2vt(capsys, *args, "--resume", "--batch-size", "2")
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith(f"error: {out}: --resume: an epoch would be "), err
    assert f", the run's were {steps} (--batch-size 2 (last.pt: 4)): its learning-rate schedule counts steps, so " \
           "resume with --batch-size 4, or pass --overwrite in place of --resume to start over" in err[0], err
    assert snapshot(out) == before
    code, err = s2vt(capsys, *args, "--resume")
    assert code == 0, err


def test_settings_out_of_range_are_refused_up_front(store, tmp_path, capsys):
    for flag, value in (("--batch-size", "0"), ("--epochs", "0"), ("--hidden", "0"), ("--embed", "-1"),
                        ("--lr", "-0.001"), ("--lr", "nan"), ("--patience", "0"), ("--dropout", "1"),
                        ("--min-count", "0"), ("--max-len", "0"), ("--sample-prob", "2"), ("--metric", "BLEU")):
        code, err = s2vt(capsys, *train_args(store, tmp_path / "run", flag, value))
        assert code == 2 and len(err) == 1 and err[0].startswith(f"error: {flag} must be "), (flag, err)
    assert not (tmp_path / "run").exists()  # refused before anything was made


def test_unavailable_device_is_one_line(store, tmp_path, capsys):
    devices = ["foo", "cuda:x", "mps"] + ([] if torch.cuda.is_available() else ["cuda"])
    for device in devices:
        code, err = s2vt(capsys, *train_args(store, tmp_path / "run", "--device", device))
        assert code == 2 and len(err) == 1 and err[0].startswith(f"error: --device {device}: "), (device, err)
    if not torch.cuda.is_available():
        assert err[0] == "error: --device cuda: no CUDA GPU is available"
    with pytest.raises(DeviceError):
        pick_device("cuda:99")  # no GPU here, or no 100th one


def test_cpu_with_an_index_is_the_cpu(store, run, tmp_path, capsys):
    """`--device cpu:0` (valid torch) passed the check, then every checkpoint load failed (map_location
    'cpu:0': "don't know how to restore data location"), said as a corrupt checkpoint (hostile trial)."""
    assert pick_device("cpu:1") == torch.device("cpu") and str(pick_device("cpu:0")) == "cpu"
    code, err = s2vt(capsys, *train_args(store, tmp_path / "run", "--device", "cpu:1"))
    assert code == 0 and (tmp_path / "run" / "best.pt").is_file(), err
    code, err = s2vt(capsys, "evaluate", "--checkpoint", run / "best.pt", "--manifest", store[0], "--features",
                     store[1], "--split", "val", "--out", tmp_path / "preds.json", "--device", "cpu:1")
    assert code == 0 and (tmp_path / "preds.json").is_file(), err


def test_a_load_failure_that_is_not_the_file_is_not_called_corrupt(run, monkeypatch):
    """A torch.load that failed for a reason outside the file (a device, memory) was said as 'a zip archive
    but not a PyTorch checkpoint': the file's fault is named only for errors of reading the file."""
    from s2vt.checkpoint import CheckpointError, read_checkpoint

    def fails(*a, **k):
        raise RuntimeError("don't know how to restore data location of torch.storage.UntypedStorage "
                           "(tagged with cpu:1)\nmore")
    monkeypatch.setattr(torch, "load", fails)
    with pytest.raises(CheckpointError) as e:
        read_checkpoint(run / "best.pt")
    said = str(e.value)
    assert "not a PyTorch checkpoint" not in said and "corrupt" not in said and "\n" not in said, said
    assert "don't know how to restore data location" in said and "not a fault of the file" in said, said


def train_on_edited_meta(store, tmp_path, capsys, edit) -> tuple[int, list[str]]:
    """train.py's (exit code, stderr lines) on a copy of the `store` fixture's features whose meta.json is
    `edit(meta)`."""
    manifest, features = store
    shutil.copytree(features, tmp_path / "features")
    meta = json.loads((tmp_path / "features" / "meta.json").read_text())
    (tmp_path / "features" / "meta.json").write_text(json.dumps(edit(meta)))
    return s2vt(capsys, *train_args((manifest, tmp_path / "features"), tmp_path / "run"))


@pytest.mark.parametrize("key, value, said", [
    ("frames", "x", "frames is a JSON string, not a whole number"),
    ("frames", True, "frames is a JSON boolean, not a whole number"),
    ("source", 5, "source is a JSON number, not a string"),
    ("version", 5, "version is a JSON number, not a string"),
    ("vggish_pca", "yes", "vggish_pca is a JSON string, not true or false"),
    ("dims", {"resnet152": "x", "vggish": 4}, "dims of 'resnet152' is a JSON string, not a whole number"),
    ("backbones", {"resnet152": 5}, "backbones of 'resnet152' is a JSON number, not a string"),
    # (read as our own layout, hostile trial)
    ("schema", -1, "schema is -1, a layout this s2vt does not know (it reads schema 1)")])
def test_a_store_meta_json_value_of_the_wrong_type_is_refused_naming_it(key, value, said, store, tmp_path, capsys):
    """meta.json's dims {"resnet152": "x"} stopped training with int()'s traceback, and "frames": "x", "source": 5
    or "vggish_pca": "yes" were taken and copied into the checkpoint, for caption.py to build its settings from
    (hostile trial): a value of the wrong type is refused in one line naming the key and the file."""
    code, err = train_on_edited_meta(store, tmp_path, capsys, lambda meta: {**meta, key: value})
    assert (code, err) == (2, [f"error: {tmp_path / 'features' / 'meta.json'}: {said}; remove meta.json to "
                               "read the store without it"])
    assert not (tmp_path / "run").exists()


def test_a_newer_stores_schema_advises_an_upgrade_not_removing_meta_json(store, tmp_path, capsys):
    """(trial 108) a store of a newer s2vt's layout was refused with "remove meta.json", which lost the settings a
    model needs to caption new videos: the store is whole, this s2vt old."""
    code, err = train_on_edited_meta(store, tmp_path, capsys, lambda meta: {**meta, "schema": 99})
    assert (code, err) == (2, [f"error: {tmp_path / 'features' / 'meta.json'}: schema is 99, a layout this s2vt does "
                               "not know (it reads schema 1): a newer s2vt wrote it; upgrade this s2vt to read the "
                               "store as it is (git pull in its checkout)"])
    assert (tmp_path / "features" / "meta.json").is_file()


@pytest.mark.parametrize("dim", [-5, 0])
def test_a_store_meta_json_width_that_is_not_positive_is_refused_naming_it(dim, store, tmp_path, capsys):
    """meta.json's dims {"resnet152": -5} stopped training with torch's traceback ('zeros: Dimension size must be
    non-negative'), and 0 let torch's warning out before a refusal (hostile trial): refused in one line naming the
    key and the file, before any model is built."""
    code, err = train_on_edited_meta(store, tmp_path, capsys,
                                     lambda meta: {**meta, "dims": {**meta["dims"], "resnet152": dim}})
    assert (code, err) == (2, [f"error: {tmp_path / 'features' / 'meta.json'}: dims of 'resnet152' is {dim}, not a "
                               "positive whole number; remove meta.json to read the store without it"])
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("dim", [10 ** 9, 5])
def test_a_store_meta_json_width_no_file_has_is_refused_before_a_model_is_built(dim, store, tmp_path, capsys):
    """meta.json's dims {"resnet152": 1000000000} (a positive whole number) built a model that wide, and torch
    refused the memory for it in a traceback before any file was read (hostile trial): one file's header is
    checked against meta.json's width first, the refusal naming the file, the width and meta.json."""
    code, err = train_on_edited_meta(store, tmp_path, capsys,
                                     lambda meta: {**meta, "dims": {**meta["dims"], "resnet152": dim}})
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith(f"error: {tmp_path / 'features' / 'resnet152'}"), err
    assert f"but {tmp_path / 'features' / 'meta.json'} gives resnet152 {dim} features per frame" in err[0], err
    assert "if meta.json is wrong, remove it to read the store by its files" in err[0], err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("key, value, said", [
    ("frames", -1, "frames is -1, not a whole number from 1 to 1000"),
    ("frames", 0, "frames is 0, not a whole number from 1 to 1000"),
    ("frames", 100000000, "frames is 100000000, not a whole number from 1 to 1000"),
    ("image_size", 0, "image_size is 0, not a whole number from 32 to 1024"),
    ("image_size", 100000, "image_size is 100000, not a whole number from 32 to 1024"),
    ("clips", -3, "clips is -3, not a whole number from 1 to 256"),
    ("sample_rate", 0, "sample_rate is 0, not a whole number from 1 to 384000"),
    ("clip_len", 0, "clip_len is 0, not a whole number from 1 to 1000"),
    ("sample_rate", 1e20, "sample_rate is 1e+20, not a whole number from 1 to 384000"),
    ("frames", 8.5, "frames is 8.5, not a whole number from 1 to 1000"),
    ("dtype", "float8", "dtype is 'float8', not float16 or float32"),
    ("precision", {"resnet152": "int3"}, "precision of 'resnet152' is 'int3', not auto, fp32, bf16 or int8")])
def test_a_store_meta_json_setting_out_of_range_is_refused_naming_it(key, value, said, store, tmp_path, capsys):
    """meta.json's frames -1, image_size 100000, clips -3, precision "int3" or sample_rate 0, of the right type,
    were copied into the checkpoint and failed only where used (caption.py then blamed the machine: 'this machine
    cannot compute its features: sample_rate=16000 but the checkpoint was trained on sample_rate=0'; hostile trial):
    refused when the store is read, by the limits extract's own options are held to."""
    code, err = train_on_edited_meta(store, tmp_path, capsys, lambda meta: {**meta, key: value})
    assert (code, err) == (2, [f"error: {tmp_path / 'features' / 'meta.json'}: {said}; remove meta.json to "
                               "read the store without it"])
    assert not (tmp_path / "run").exists()


def test_a_store_meta_json_whole_number_written_as_a_float_is_taken(store, tmp_path, capsys):
    """meta.json's "frames": 8.0 (a whole number, as some JSON writers put it) was refused as 'frames is 8.0, not a
    whole number from 1 to 1000' (hostile trial), a line that contradicts itself. It is taken as 8: training runs,
    and the checkpoint records the whole numbers, for caption.py's settings."""
    import torch

    def floats(meta):
        return {**meta, "frames": float(meta.get("frames", 8)), "dims": {m: float(d) for m, d in meta["dims"].items()}}

    code, err = train_on_edited_meta(store, tmp_path, capsys, floats)
    assert code == 0, err
    kept = torch.load(tmp_path / "run" / "best.pt", weights_only=False)["extract"]
    assert type(kept["frames"]) is int and all(type(d) is int for d in kept["dims"].values()), kept


def test_a_store_meta_json_giving_a_key_twice_is_refused(store, tmp_path, capsys):
    """meta.json's {"frames": 8, "frames": 9} was read as frames 9, silently, where every other JSON input refuses a
    key given twice (hostile trial): which one the store was extracted with would be a guess."""
    manifest, features = store
    shutil.copytree(features, tmp_path / "features")
    meta = tmp_path / "features" / "meta.json"
    meta.write_text('{"frames": 8, ' + meta.read_text().lstrip("{"))
    assert meta.read_text().count('"frames"') == 2
    code, err = s2vt(capsys, *train_args((manifest, tmp_path / "features"), tmp_path / "run"))
    assert (code, err) == (2, [f"error: {meta}: not valid JSON ('frames' appears twice in one object: which of its "
                               "values counts would be a guess); remove meta.json to read the store without it"])
    assert not (tmp_path / "run").exists()
    meta.write_text(meta.read_text()[:20])  # (cut short, as a full disk leaves it: how to go on is said too)
    code, err = s2vt(capsys, *train_args((manifest, tmp_path / "features"), tmp_path / "run"))
    assert code == 2 and err[0].startswith(f"error: {meta}: not valid JSON (") and err[0].endswith(
        "; remove meta.json to read the store without it"), err
    meta.unlink()  # (and following it works: the store is read by its files' headers)
    code, err = s2vt(capsys, *train_args((manifest, tmp_path / "features"), tmp_path / "run"))
    assert code == 0, err


@pytest.mark.parametrize("text, said", [('{"frames": ' + "9" * 5000 + "}", "not usable JSON (Exceeds the limit "),
                                         ("[" * 100000 + "]" * 100000, "not usable JSON (nested too deeply)")])
def test_a_store_meta_json_python_cannot_parse_is_one_line(text, said, store, tmp_path, capsys):
    """meta.json holding a 5,000-digit number or 100,000 nested lists stopped training with a ValueError or
    RecursionError traceback from the JSON parser: refused in one line naming the file, as other JSON inputs are."""
    manifest, features = store
    shutil.copytree(features, tmp_path / "features")
    (tmp_path / "features" / "meta.json").write_text(text)
    code, err = s2vt(capsys, *train_args((manifest, tmp_path / "features"), tmp_path / "run"))
    assert code == 2 and len(err) == 1 and err[0].startswith(f"error: {tmp_path / 'features' / 'meta.json'}: {said}")
    assert not (tmp_path / "run").exists()


def test_manifest_whose_captions_are_all_blank(store, tmp_path, capsys):
    entries = [json.loads(x) for x in store[0].read_text().splitlines()]
    blank = tmp_path / "blank.jsonl"
    blank.write_text("".join(json.dumps({**e, "captions": ["", " "]}) + "\n" for e in entries))
    with pytest.warns(UserWarning, match="ignoring 40 blank captions; none is left"):
        code = main([str(a) for a in train_args((blank, store[1]), tmp_path / "tags")])
    best = json.loads(capsys.readouterr().out)
    assert code == 0 and set(best) == {"epoch", "tag_acc"}  # tags are left to learn: the tag head alone trains
    bare = tmp_path / "bare.jsonl"
    bare.write_text("".join(json.dumps({**e, "captions": [""], "tags": []}) + "\n" for e in entries))
    code, err = s2vt(capsys, *train_args((bare, store[1]), tmp_path / "bare"))
    assert code == 2 and len(err) == 1 and "nothing to learn" in err[0] and "blank" in err[0]


def read_only_folder(request, tmp_path) -> Path:
    """A folder no one may write into: chmod 555, or for root (who ignores permission bits) the small
    tmpfs of `small_disk` remounted read-only."""
    if os.geteuid() != 0:
        folder = tmp_path / "ro"
        folder.mkdir(mode=0o555)
        return folder
    folder = request.getfixturevalue("small_disk")
    subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True, capture_output=True)
    return folder


def test_unwritable_out_fails_before_training(store, tmp_path, request, capsys):
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder\n")
    code, err = s2vt(capsys, *train_args(store, a_file / "run"))
    assert code == 2 and err == [f"error: cannot write {a_file / 'run'}: {a_file} is a file, not a folder"]
    ro = read_only_folder(request, tmp_path)
    code, err = s2vt(capsys, *train_args(store, ro))
    assert code == 2 and len(err) == 1 and err[0].startswith(f"error: cannot write {ro}: "), err  # no epoch ran


def test_disk_full_keeps_the_checkpoints(store, small_disk, capsys):
    out = small_disk / "run"
    code, err = s2vt(capsys, *train_args(store, out))
    assert code == 0, err
    before = snapshot(out)
    fill_disk(small_disk)
    code, err = s2vt(capsys, *train_args(store, out, "--resume", "--epochs", "2"))
    assert code == 2 and err == [f"error: cannot write {out}: No space left on device"]  # before training
    filler = small_disk / "filler"
    os.truncate(filler, filler.stat().st_size - 16384)  # room to start, not to save a checkpoint
    code, err = s2vt(capsys, *train_args(store, out, "--resume", "--epochs", "2"))
    assert code == 2 and err[-1].startswith(f"error: cannot write {out}/") and "No space left" in err[-1]
    assert snapshot(out) == before and sorted(p.name for p in out.iterdir()) == sorted([*RUN_FILES, "curves.png"])
    assert load_checkpoint(out / "last.pt")[3]["epoch"] == 1  # what was saved still loads


def test_out_inside_the_feature_store_is_refused(store, capsys):
    code, err = s2vt(capsys, *train_args(store, store[1]))
    assert code == 2 and len(err) == 1 and "an input of this command" in err[0]
    assert not (store[1] / "best.pt").exists() and not (store[1] / "metrics.csv").exists()


def test_out_naming_another_feature_store_is_refused(store, tmp_path, capsys):
    """`--out OTHER_STORE` wrote best.pt, last.pt and metrics.csv among another store's features (hostile
    trial); extract refuses a run's folder alike."""
    import shutil

    other = shutil.copytree(store[1], tmp_path / "other")
    before = sorted(p.name for p in other.iterdir())
    code, err = s2vt(capsys, *train_args(store, other))
    assert (code, err) == (2, [f"error: {other}: a feature store (it holds a store's meta.json), not a run folder: "
                               "name another --out"])
    assert sorted(p.name for p in other.iterdir()) == before
    # inside it too: a modality's folder, or a new one (read as a modality)
    for inside in (other / "resnet152", other / "run"):
        code, err = s2vt(capsys, *train_args(store, inside))
        assert (code, err) == (2, [f"error: {inside}: inside the feature store {other}, not a run folder: name "
                                   "another --out"]), err
    assert sorted(p.name for p in other.iterdir()) == before
    # --features naming a store's modality folder: said to be one, the store to pass named
    code, err = s2vt(capsys, "train", "--manifest", store[0], "--features", other / "resnet152", "--out",
                     tmp_path / "r")
    assert code == 2 and err[0].endswith(f"no meta.json, so not a feature store: it is the 'resnet152' folder of the "
                                         f"store {other}: pass --features {other}"), err


def test_features_path_that_does_not_exist(store, tmp_path, capsys):
    code, err = s2vt(capsys, "train", "--features", tmp_path / "nope", "--out", tmp_path / "out")
    assert code == 2 and err == [f"error: {tmp_path / 'nope'}: no such file or folder (--features: a feature store, "
                                 "or TFRecord shards)"]
    code, err = s2vt(capsys, "train", "--manifest", store[0], "--features", tmp_path / "nope", "--out",
                     tmp_path / "out")
    assert code == 2 and err == [f"error: {tmp_path / 'nope'}: feature store not found (python -m extract writes "
                                 "one from videos, s2vt import from precomputed features)"]
    assert not (tmp_path / "out").exists()


def test_a_store_without_manifest_names_only_what_was_left_out(store, tmp_path, capsys):
    """`train --features STORE` without --manifest was told "--val-features, --vocabulary and leaving out --manifest
    need --features to name TFRecord shards", naming two options the user never passed (hostile trial)."""
    manifest, features = store
    code, err = s2vt(capsys, "train", "--features", features, "--out", tmp_path / "out")
    assert code == 2 and len(err) == 1 and err[0].startswith(
        f"error: --manifest is required: --features {features} names a feature store, not TFRecord shards"), err
    assert "--val-features" not in err[0] and "--vocabulary" not in err[0], err
    vocab = tmp_path / "vocabulary.csv"
    vocab.write_text("Index,Name\n0,a\n")
    code, err = s2vt(capsys, "train", "--manifest", manifest, "--features", features, "--vocabulary", vocab,
                     "--out", tmp_path / "out")
    assert code == 2 and len(err) == 1 and err[0].startswith("error: --vocabulary needs --features to name TFRecord "
                                                             f"shards (a .tfrecord file, a glob or a folder of them): --features {features} names a "
                                                             "feature store"), err
    assert "--manifest" not in err[0] and "--val-features" not in err[0], err
    assert not (tmp_path / "out").exists()


def test_unquoted_glob_says_quote_it(tmp_path, capsys):
    shards = [tmp_path / f"train{i}.tfrecord" for i in range(3)]
    for s in shards:
        s.write_bytes(b"")
    code, err = s2vt(capsys, "train", "--features", *shards, "--out", tmp_path / "out")
    assert code == 2 and len(err) == 1
    assert err[0].endswith(f"quote the pattern: --features '{tmp_path}/train*.tfrecord'") and "3 files" in err[0]


@pytest.mark.parametrize("option", ["--features", "--val-features"])
def test_a_shard_option_given_twice_is_refused(tmp_path, capsys, option):
    """(new-user trial 45) `--features a.tfrecord --features b.tfrecord` trained on b's records alone, unsaid."""
    a, b = tmp_path / "a.tfrecord", tmp_path / "b.tfrecord"
    for s in (a, b):
        s.write_bytes(b"")
    code, err = s2vt(capsys, "train", "--features", a, *([option, a] if option == "--val-features" else []),
                     f"{option}={b}", "--out", tmp_path / "out")
    assert code == 2 and err == [f"error: {option} is given 2 times, and takes one feature store, shard, quoted glob "
                                 "or folder of shards (only the last would be read): give several shards as one "
                                 f"quoted glob ({option} 'DIR/train*.tfrecord') or a folder of them"], err
    assert not (tmp_path / "out").exists()


def test_the_pattern_to_quote_is_no_wider_than_the_files_it_came_from(tmp_path, capsys):
    """`--features yt8m/validate000*.tfrecord`, unquoted, was told to quote 'yt8m/*.tfrecord': the
    training shards beside them too."""
    from s2vt.cli import common_pattern

    for split in ("train", "validate"):
        for i in range(4):
            (tmp_path / f"{split}000{i}.tfrecord").write_bytes(b"")
    given = sorted(tmp_path.glob("validate000*.tfrecord"))
    code, err = s2vt(capsys, "train", "--features", *given, "--out", tmp_path / "out")
    assert code == 2 and len(err) == 1, err
    assert err[0].endswith(f"quote the pattern: --features '{tmp_path}/validate000*.tfrecord'"), err
    assert sorted(tmp_path.glob(common_pattern(list(map(str, given)))[len(str(tmp_path)) + 1:])) == given
    assert common_pattern(["a/x1.npy", "a/x22.npy"]) == "a/x*.npy"
    assert common_pattern(["a/s1.tfrecord", "b/s2.tfrecord"]) is None  # (several folders: no one-star pattern)
    assert common_pattern(["a/one", "a/two.npy"]) is None  # (nothing in common: '*' would take in every file)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "m.txt").write_text("")
    code, err = s2vt(capsys, "train", "--features", tmp_path / "train0000.tfrecord", tmp_path / "elsewhere" / "m.txt",
                     "--out", tmp_path / "out")
    assert code == 2 and err[0].endswith("quote the pattern: --features PATTERN"), err


def test_the_pattern_to_quote_takes_in_no_file_the_user_did_not_list(tmp_path, capsys):
    """`--features Y/validate000[0-1].tfrecord --val-features Y/validate0002.tfrecord`, unquoted, was told to quote
    'Y/validate000*.tfrecord', which takes in the val shard too, and was then refused for it (hostile trial): the
    pattern suggested names the files listed and no other, else the line says why it names none."""
    for i in range(4):
        (tmp_path / f"validate000{i}.tfrecord").write_bytes(b"")
    (tmp_path / "validate0013.tfrecord").write_bytes(b"")
    val = ["--val-features", tmp_path / "validate0002.tfrecord", "--out", tmp_path / "out"]
    given = [tmp_path / "validate0000.tfrecord", tmp_path / "validate0001.tfrecord"]
    code, err = s2vt(capsys, "train", "--features", *given, *val)
    assert code == 2 and len(err) == 1, err
    assert err[0].endswith(f"quote the pattern: --features '{tmp_path}/validate000[01].tfrecord'"), err
    assert sorted(tmp_path.glob("validate000[01].tfrecord")) == given
    # (no pattern names these two alone: validate00*, validate00[01][03] take in validate0003 too)
    code, err = s2vt(capsys, "train", "--features", tmp_path / "validate0000.tfrecord",
                     tmp_path / "validate0013.tfrecord", *val)
    assert code == 2 and len(err) == 1, err
    assert err[0].endswith(f"quote the pattern: --features PATTERN (as you typed it: {tmp_path}/validate00*.tfrecord "
                           f"would take in {tmp_path}/validate0001.tfrecord too)"), err
    assert not (tmp_path / "out").exists()
    # one shard named twice: no pattern gives a path twice (it was said as a pattern of 1 file; trial 84)
    one = tmp_path / "validate0000.tfrecord"
    code, err = s2vt(capsys, "train", "--features", one, one, *val)
    assert (code, err) == (2, [f"error: --features takes one path, and {one} is given 2 times: name it once"])
    # two options' globs expanded, each leaving a run: the first is said, as a pattern (trial 85: "given 2 times")
    code, err = s2vt(capsys, "train", "--features", *[tmp_path / f"validate000{i}.tfrecord" for i in (0, 1)],
                     "--val-features", one, one, "--out", tmp_path / "out")
    assert code == 2 and err[0].endswith(f"quote the pattern: --features '{tmp_path}/validate000[01].tfrecord'"), err


def test_no_text_without_features_says_so(store, tmp_path, capsys):
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps({**json.loads(line), "text": {"title": "a clip"}}) + "\n"
                                for line in Path(store[0]).read_text().splitlines()))
    code, err = s2vt(capsys, "train", "--manifest", manifest, "--no-text", "--out", tmp_path / "out", *TINY)
    assert code == 2 and err == ["error: --no-text without --features leaves nothing to learn from: pass --features "
                                 "(a store) or drop --no-text to train on the manifest's text"]


def test_a_modality_folder_that_links_to_nothing_is_named(store, tmp_path, capsys):
    """S/resnet152, a link to a missing folder (`ln -s /nonexistent/rn S/resnet152`), was 'S: no features for
    resnet152 (store has vggish)', which `ls` contradicts (hostile trial): the refusal says what it is, as extract
    and the imports do."""
    manifest, features = store
    shutil.copytree(features, tmp_path / "features")
    shutil.rmtree(tmp_path / "features" / "resnet152")
    (tmp_path / "features" / "resnet152").symlink_to("/nonexistent/rn")
    code, err = s2vt(capsys, *train_args((manifest, tmp_path / "features"), tmp_path / "run"))
    link = tmp_path / "features" / "resnet152"
    assert (code, err) == (2, [f"error: {tmp_path / 'features'}: no features for resnet152 (store has vggish): "
                               f"{link} is a link to a missing target (/nonexistent/rn)"])


def test_failed_run_leaves_no_out_folder(store, tmp_path, capsys):
    out = tmp_path / "runs" / "new"
    code, err = s2vt(capsys, *train_args(store, out, "--modalities", "c3d"))  # found after --out was made
    assert code == 2 and "no features for c3d" in err[-1]
    assert not (tmp_path / "runs").exists()
    (tmp_path / "mine").mkdir()  # a folder that was there before is kept
    code, _ = s2vt(capsys, *train_args(store, tmp_path / "mine", "--modalities", "c3d"))
    assert code == 2 and (tmp_path / "mine").is_dir()


def with_nan_features(store, folder: Path, split: str) -> tuple[Path, Path, Path]:
    """A copy of the store whose first `split` video's resnet152 file holds NaN: (manifest, store, that file)."""
    shutil.copytree(store[1], folder / "features")
    vid = next(json.loads(line)["video_id"] for line in Path(store[0]).read_text().splitlines()
               if json.loads(line)["split"] == split)
    bad = folder / "features" / "resnet152" / f"{vid}.npy"
    np.save(bad, np.full((4, 8), np.nan, np.float16))
    return Path(store[0]), folder / "features", bad


@pytest.mark.parametrize("split", ["train", "val"])
def test_non_finite_features_are_refused_before_any_checkpoint(split, store, tmp_path, capsys):
    # (a val file: found before the first epoch, not at its validation, with an empty run folder left)
    manifest, features, bad = with_nan_features(store, tmp_path / split, split)
    out = tmp_path / "run"
    code, err = s2vt(capsys, *train_args((manifest, features), out))
    assert code == 2 and err == [f"error: {bad}: cannot read features (holds NaN or infinite values); remove it "
                                 "and run extract again, which extracts its video anew"]
    assert not out.exists()


def test_setting_minimum_is_one_line(store, tmp_path, capsys):
    code, err = s2vt(capsys, *train_args(store, tmp_path / "out", "--workers", "-1"))
    assert code == 2 and err == ["error: --workers must be at least 0, not -1"]


def test_the_shard_readers_settings_on_a_store_are_said_to_do_nothing(store, tmp_path, capsys):
    """(trial 109) --workers and --shuffle-buffer set the TFRecord shard readers; on a store they were taken
    silently."""
    code, err = s2vt(capsys, *train_args(store, tmp_path / "out", "--workers", "2", "--shuffle-buffer", "8"))
    assert code == 0 and ("warning: --workers, --shuffle-buffer have no effect: they read TFRecord shards, and "
                          "--features is a feature store") in err, err


def test_no_validation_split_is_explained(store, tmp_path, capsys):
    manifest = tmp_path / "one.jsonl"  # one training video: none can be held out for validation
    manifest.write_text(Path(store[0]).read_text().splitlines()[2] + "\n")
    code, err = s2vt(capsys, "train", "--manifest", manifest, "--features", store[1], "--out", tmp_path / "out",
                     *TINY, "--epochs", "2")
    assert code == 0
    assert any(line.startswith("note: no validation videos") and "training loss" in line for line in err)
    epochs = [line for line in err if line.startswith("epoch ")]
    assert len(epochs) == 2 and all(", ," not in line for line in epochs)
    assert re.fullmatch(r"epoch 1: loss [0-9.e+-]+, \d+ samples/s \*best\*", epochs[0])
    rows = (tmp_path / "out" / "metrics.csv").read_text().splitlines()
    loss = float(rows[1].split(",")[rows[0].split(",").index("train_loss")])
    assert epochs[0].startswith(f"epoch 1: loss {loss:.4g}, ")  # 4 significant digits (a 0.007 loss is not 0.000)


def test_a_text_min_count_above_every_token_is_said(store, tmp_path, capsys):
    """--text-min-count 100000 kept no text token: a text-only model trained on nothing and answered the
    commonest category for every video, unsaid (trial 95). Refused without --features; warned of with them."""
    manifest = tmp_path / "m.jsonl"
    rows = [json.loads(line) for line in Path(store[0]).read_text().splitlines()]
    manifest.write_text("".join(json.dumps({**r, "text": {"title": f"clip {i % 3}"}}) + "\n" for i, r in enumerate(rows)))
    train = sum(r.get("split", "train") == "train" for r in rows)
    said = f"--text-min-count 100000 leaves out every text token (none is on 100,000 of the {train} training videos)"
    code, err = s2vt(capsys, "train", "--manifest", manifest, "--out", tmp_path / "out", *TINY, "--text-min-count",
                     "100000")
    assert (code, err) == (2, [f"error: {said}: a model without --features would read nothing; lower it (default 2)"])
    assert not (tmp_path / "out").exists()
    code, err = s2vt(capsys, "train", "--manifest", manifest, "--features", store[1], "--out", tmp_path / "out",
                     *TINY, "--text-min-count", "100000", "--epochs", "1")
    assert code == 0 and f"warning: {said}: the model reads no text, only the video features" in err, err


def test_video_settings_on_a_text_only_model_are_said_ignored(store, tmp_path, capsys):
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps({**json.loads(line), "text": {"title": f"clip {i % 3}"}}) + "\n"
                                for i, line in enumerate(Path(store[0]).read_text().splitlines())))
    code, err = s2vt(capsys, "train", "--manifest", manifest, "--out", tmp_path / "out", *TINY, "--text-min-count",
                     "1", "--text-fusion", "guided", "--tag-head", "nextvlad", "--learn-missing")
    assert code == 0
    assert any(line.startswith("warning: --text-fusion guided is ignored: a text-only model") for line in err)
    assert any(line.startswith("warning: --tag-head nextvlad pools video steps") for line in err)
    # (accepted unsaid; trial 76)
    assert "warning: --learn-missing has no effect: a text-only model (no --features) reads no feature files" in err
    # said ignored, so ignored: the model is the late-fusion one (a query layer and the guided head's recipe had
    # made it another model, with another result; trial 83)
    import torch
    ckpt = torch.load(tmp_path / "out" / "best.pt", weights_only=True)
    assert ckpt["config"]["text_fusion"] == "late" and not any(k.startswith("query.") for k in ckpt["model"])


def test_training_videos_without_text_are_said_on_a_text_only_run(store, tmp_path, capsys):
    """A text-only model learns nothing from a video without text (evaluate said so of test videos only; trial 83)."""
    manifest = tmp_path / "m.jsonl"
    entries = [json.loads(line) for line in Path(store[0]).read_text().splitlines()]
    bare = [e["video_id"] for e in entries if e.get("split", "train") == "train"][:2]
    manifest.write_text("".join(json.dumps({**e, "text": {"title": " " if e["video_id"] in bare else f"clip {i % 3}"}})
                                + "\n" for i, e in enumerate(entries)))
    with pytest.warns(UserWarning) as said:  # (the CLI prints a warning as "warning: ..."; pytest catches it)
        code, err = s2vt(capsys, "train", "--manifest", manifest, "--out", tmp_path / "out", *TINY,
                         "--text-min-count", "1", "--epochs", "1")
    train = sum(e.get("split", "train") == "train" for e in entries)
    assert code == 0 and (f"2 of the {train} train videos have no text (title, asr, ocr; first: {', '.join(bare)}), "
                          "and without --features a model reads nothing else of them") in [str(w.message) for w in said]


def test_a_video_setting_said_ignored_is_ignored_by_a_resume_too(store, tmp_path, capsys):
    """A text-only run's --resume --text-fusion guided was warned "--text-fusion guided is ignored", then
    refused as another model (hostile trial): ignored, it is the same model, and the run resumes."""
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps({**json.loads(line), "text": {"title": f"clip {i % 3}"}}) + "\n"
                                for i, line in enumerate(Path(store[0]).read_text().splitlines())))
    args = ["train", "--manifest", manifest, "--out", tmp_path / "out", *TINY, "--text-min-count", "1"]
    assert s2vt(capsys, *args, "--epochs", "2", "--stop-after", "1")[0] == 0
    code, err = s2vt(capsys, *args, "--epochs", "2", "--resume", "--text-fusion", "guided")
    assert code == 0 and err[0].startswith("resuming from ") and not any("error" in line for line in err), err
    assert sum(line.startswith("warning: --text-fusion guided is ignored: a text-only model") for line in err) == 1


def rewritten(store, path: Path, change) -> Path:
    """The store's manifest with `change(entry, i)` applied to each entry, written to `path`."""
    path.write_text("".join(json.dumps(change(json.loads(line), i)) + "\n"
                            for i, line in enumerate(Path(store[0]).read_text().splitlines())))
    return path


def test_metric_the_data_cannot_produce_is_refused(store, tmp_path, capsys):
    tag_only = rewritten(store, tmp_path / "tags.jsonl", lambda e, i: {**e, "captions": []})
    out = tmp_path / "runs" / "new"
    code, err = s2vt(capsys, "train", "--manifest", tag_only, "--features", store[1], "--out", out, *TINY,
                     "--metric", "CIDEr")
    assert code == 2 and err == ["error: --metric CIDEr: this data has no captions; its metrics are tag_acc"]
    assert not (tmp_path / "runs").exists()  # refused before training: no run folder left
    code, err = s2vt(capsys, *train_args(store, out, "--metric", "gap"))
    assert code == 2 and err == ["error: --metric gap: this data has single-label tags; its metrics are CIDEr, "
                                 "tag_acc"]
    code, err = s2vt(capsys, *train_args(store, out, "--metric", "lic_score"))
    assert code == 2 and len(err) == 1 and "has no LIC2022 levels" in err[0]
    levels = rewritten(store, tmp_path / "levels.jsonl",
                       lambda e, i: {**e, "captions": [], "tags": [f"level1:{e['tags'][0]}", f"level2:x{i % 2}"]})
    code, err = s2vt(capsys, "train", "--manifest", levels, "--features", store[1], "--out", out, *TINY,
                     "--metric", "gap")
    assert code == 2 and err == ["error: --metric gap: this data has LIC2022 levels, scored by lic_score; its "
                                 "metrics are tag_acc, lic_score"]
    assert not (tmp_path / "runs").exists()


def test_tag_weight_zero_without_captions_is_refused(store, tmp_path, capsys):
    tag_only = rewritten(store, tmp_path / "tags.jsonl", lambda e, i: {**e, "captions": []})
    code, err = s2vt(capsys, "train", "--manifest", tag_only, "--features", store[1], "--out", tmp_path / "out",
                     *TINY, "--tag-weight", "0")
    assert code == 2 and err == ["error: --tag-weight 0 on data without captions trains nothing: the tag loss is its "
                                 "only loss (pass a positive --tag-weight)"]
    assert not (tmp_path / "out").exists()


def test_text_settings_on_data_without_text_are_said_to_do_nothing(store, tmp_path, capsys):
    code, err = s2vt(capsys, *train_args(store, tmp_path / "a", "--no-text-linear", "--linear-c", "0.5",
                                         "--linear-steps", "5"))
    assert code == 0  # a warning, not a refusal
    warned = [line for line in err if "no effect" in line]
    # once, each named; a switch turned off (--no-text-linear) is none: it was told "has no effect" (trial 76)
    assert warned == ["warning: --linear-c, --linear-steps have no effect: the training videos have no text (title, "
                      "asr, ocr)"]
    code, err = s2vt(capsys, *train_args(store, tmp_path / "b"))
    assert code == 0 and not [line for line in err if "no effect" in line]
    # the text settings that differ from their defaults (one left at its default says nothing)
    cfg = TrainConfig.of(*map(str, store), str(tmp_path / "c"), linear_c=1.0, text_linear=True, text_fusion="guided")
    assert text_settings_given(cfg) == ["linear_c", "text_fusion"]


def test_lr_zero_is_documented_in_its_help():
    help_text = next(f for f, _ in settings(TrainConfig) if f.name == "lr").metadata["help"]
    assert "0 freezes" in help_text  # allowed on purpose (the early-stopping test), so said where it is set


def test_a_diverging_run_stops_in_one_line_before_a_checkpoint_holds_nan(tmp_path, capsys, monkeypatch):
    """`--lr 1e30` trained on with loss nan, then failed on a NaN caption memory (best.pt held the
    weights Adam's steps had blown up)."""
    from s2vt import engine

    manifest, features = make_store(tmp_path / "d", videos=60, signal=True)
    args = ["train", "--manifest", manifest, "--features", features, "--epochs", "3", "--hidden", "32", "--embed",
            "32", "--no-refit", "--quiet"]  # (batch 64: one step an epoch)
    # Adam's first step at lr 1e30 leaves finite weights of ~1e30: their summaries overflow, so epoch 1
    # is refused before its best.pt
    code, err = s2vt(capsys, *args, "--out", tmp_path / "first", "--lr", "1e30")
    assert code == 2 and err == ["error: training diverged in epoch 1: its weights give video summaries that are NaN "
                                 "or beyond float16's range: lower --lr (now 1e+30) and train again; no checkpoint "
                                 "was written"], err
    assert not (tmp_path / "first").exists()
    # without that check, epoch 1 is saved and the next loss is nan: the step is named, epoch 1 kept
    monkeypatch.setattr(engine, "check_summaries", lambda *a: None)
    code, err = s2vt(capsys, *args, "--out", tmp_path / "nan", "--lr", "1e30")
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith("error: training diverged in epoch 2, step 1: the loss is nan: lower --lr (now 1e+30)")
    assert f"{tmp_path / 'nan' / 'best.pt'} keeps epoch 1, the best before it" in err[0]
    with open(tmp_path / "nan" / "metrics.csv") as f:
        assert [r["epoch"] for r in csv.DictReader(f)] == ["1"]  # the diverged epoch is not recorded
    assert torch.load(tmp_path / "nan" / "last.pt", weights_only=True)["epoch"] == 1
    # a learning rate beyond float32: the step itself fails; the folder train made is not left behind
    code, err = s2vt(capsys, *args, "--out", tmp_path / "big", "--lr", "1e39")
    assert code == 2 and len(err) == 1 and "lower --lr (now 1e+39)" in err[0], err
    assert err[0].endswith("no checkpoint was written") and not (tmp_path / "big").exists()


def test_overwrite_names_the_files_of_the_model_it_replaces(store, run, tmp_path, capsys):
    """The old model's preds_test.json and metrics sat beside the new best.pt without a word."""
    folder = tmp_path / "run"
    shutil.copytree(run, folder)
    (folder / "preds_test.json").write_text("{}")
    (folder / "coco.zip").write_bytes(b"")
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (folder / ".preds_val.json.lock").write_text(gone.stdout)  # (a killed evaluate's: stale, not the user's)
    code, err = s2vt(capsys, *train_args(store, folder, "--overwrite"))
    assert code == 0
    assert (f"warning: --overwrite replaces the run in {folder}, not the other files there (results of the "
            "model it replaces?): coco.zip, preds_test.json\n") in "\n".join(err) + "\n"
    assert (folder / "preds_test.json").read_text() == "{}"  # (the user's: never deleted)


def test_resume_names_the_results_made_from_the_paused_runs_model(store, tmp_path, capsys):
    """Predictions evaluate made from a paused run's best.pt stayed beside the best.pt the resumed run replaced it
    with, unsaid; a finished run's --resume trains nothing and says nothing of them."""
    folder = tmp_path / "run"
    assert s2vt(capsys, *train_args(store, folder, "--epochs", "2", "--stop-after", "1"))[0] == 0
    (folder / "preds_test.json").write_text("{}")
    code, err = s2vt(capsys, *train_args(store, folder, "--epochs", "2", "--resume"))
    assert code == 0
    assert (f"warning: --resume trains on the run in {folder}, and best.pt may change: the other files there were "
            "made before (results of the model it may replace?): preds_test.json") in err, err
    code, err = s2vt(capsys, *train_args(store, folder, "--epochs", "2", "--resume"))
    assert code == 0 and not any("preds_test.json" in line for line in err), err
    assert (folder / "preds_test.json").read_text() == "{}"


def test_training_over_a_run_an_evaluate_is_writing_in_is_refused(store, run, tmp_path, capsys):
    """--overwrite replaced best.pt while an evaluate (its live lock in the folder) wrote its predictions. The
    refusal said the evaluate wrote "from this run's model" whatever model it used (hostile trial): it says
    only what the lock tells, that another command is writing into this folder."""
    folder = tmp_path / "run"
    shutil.copytree(run, folder)
    before = snapshot(folder)
    (folder / ".preds_test.json.lock").write_text(lock_text())  # (a live process: a running evaluate's)
    for extra in ("--overwrite", "--resume"):
        code, err = s2vt(capsys, *train_args(store, folder, extra))
        assert code == 2 and err == [f"error: {folder}: another s2vt command (pid {os.getpid()}) is writing into "
                                     "this folder: wait for it to end (if none runs, remove "
                                     f"{folder / '.preds_test.json.lock'})"], err
        assert snapshot(folder) == before


def test_the_line_to_make_a_model_the_default_can_be_pasted(tmp_path, capsys, monkeypatch):
    """It read `cp runs real/r1/best.pt checkpoints/s2vt.pt`: unquoted, and into a folder that exists
    only in the repository; and it ended 'then python caption.py VIDEO', which works only in the repository
    checkout (hostile trial): the command as installed, `s2vt caption`."""
    import shlex

    manifest, features = make_store(tmp_path / "d", videos=24, shapes={"resnet152": (4, 8), "vggish": (3, 4)})
    meta = json.loads((features / "meta.json").read_text())  # (as extracted: caption.py can use the model)
    (features / "meta.json").write_text(json.dumps({**{k: v for k, v in meta.items() if k != "synthetic"},
                                                    "backbones": {"resnet152": "random", "vggish": "random"}}))
    out = tmp_path / "runs real" / "r1"
    code, err = s2vt(capsys, *train_args((manifest, features), out))
    assert code == 0
    line = next(e for e in err if e.startswith("to caption with this model by default: "))
    words = shlex.split(line.split(": ", 1)[1].split(" (or ")[0])
    # (absolute: pasted in the folder caption.py runs in, not the one train.py ran in)
    # (cp -i: a model there already, the demo's as the README copies it, is not replaced unasked; trial 65)
    assert words == ["mkdir", "-p", "checkpoints", "&&", "cp", "-i", f"{out}/best.pt",
                     os.path.join("checkpoints", "s2vt.pt")]
    assert out.is_absolute()
    assert shlex.split(line.split("export ", 1)[1].split(")")[0]) == [f"S2VT_CHECKPOINT={out}/best.pt"]
    assert line.endswith("; then s2vt caption VIDEO"), line
    # with S2VT_CHECKPOINT set, caption.py reads it first: a copy to checkpoints/ went unused (trial 66)
    monkeypatch.setenv("S2VT_CHECKPOINT", "/models/old.pt")
    code, err = s2vt(capsys, *train_args((manifest, features), out, "--overwrite"))
    line = next(e for e in err if e.startswith("to caption with this model by default: "))
    assert code == 0 and line == (f"to caption with this model by default: export S2VT_CHECKPOINT="
                                  f"{shlex.quote(str(out / 'best.pt'))} (S2VT_CHECKPOINT names /models/old.pt now, which caption.py reads before "
                                  f"{os.path.join('checkpoints', 's2vt.pt')}); then s2vt caption VIDEO"), line
    # naming this run's model already: nothing to change; set but empty (caption.py refuses it): unset first (trial 67)
    monkeypatch.setenv("S2VT_CHECKPOINT", str(out / "best.pt"))
    code, err = s2vt(capsys, *train_args((manifest, features), out, "--overwrite"))
    assert code == 0 and "this model is the default already (S2VT_CHECKPOINT names it): s2vt caption VIDEO" in err, err
    monkeypatch.setenv("S2VT_CHECKPOINT", "")
    code, err = s2vt(capsys, *train_args((manifest, features), out, "--overwrite"))
    line = next(e for e in err if e.startswith("to caption with this model by default: "))
    assert code == 0 and line.startswith("to caption with this model by default: unset S2VT_CHECKPOINT && mkdir -p "
                                         "checkpoints && cp -i "), line
def test_a_model_of_a_store_without_meta_json_is_said_to_caption_no_new_video(tmp_path, capsys):
    """Trained on an extracted store whose meta.json was removed (the advice for a damaged one), the run said
    nothing, and caption.py was the first to refuse its model (trial 65)."""
    manifest, features = make_store(tmp_path / "d", videos=24, shapes={"resnet152": (4, 8)})
    (features / "meta.json").unlink()
    code, err = s2vt(capsys, *train_args((manifest, features), tmp_path / "run"))
    assert code == 0 and f"note: {tmp_path / 'run'}/best.pt will not caption new videos: the feature store it " \
        "trained on has no meta.json" in "\n".join(err), err
    assert not any(e.startswith("to caption with this model by default") for e in err)


def test_videos_lacking_one_modality_are_told_the_modalities_they_have(store, tmp_path, capsys):
    """After another import added a modality, the advice was "extract them or pass --skip-missing", naming
    every modality as missing: --modalities with those they all have is the third way."""
    shutil.copytree(store[1], tmp_path / "features")
    meta = json.loads((tmp_path / "features" / "meta.json").read_text())
    meta["backbones"]["pooled"], meta["dims"]["pooled"] = "precomputed", 4
    (tmp_path / "features" / "meta.json").write_text(json.dumps(meta))
    (tmp_path / "features" / "pooled").mkdir()
    rows = [json.loads(line) for line in Path(store[0]).read_text().splitlines()]
    lacking = [r["video_id"] for r in rows if r["split"] == "train"][:3]
    for r in rows:
        if r["video_id"] not in lacking:
            np.save(tmp_path / "features" / "pooled" / f"{r['video_id']}.npy", np.ones((1, 4), np.float16))
    code, err = s2vt(capsys, *train_args((store[0], tmp_path / "features"), tmp_path / "out"))
    assert code == 2 and err == [f"error: 3 videos have no features for pooled in {tmp_path / 'features'} (first: "
                                 f"{', '.join(lacking)}); pass --modalities resnet152,vggish to train on the features "
                                 "they have, import pooled for them, or pass --learn-missing to train on them as "
                                 "they are or --skip-missing to leave them out"]
    # --learn-missing trains on them as they are: the store's other videos have pooled to learn it from
    said = (f"3 videos lack features (pooled 3; first: {', '.join(lacking)}): kept, a stand-in for what they lack "
            "learnt from the training videos among them (--learn-missing)")
    with pytest.warns(UserWarning, match=re.escape(said)):
        code, err = s2vt(capsys, *train_args((store[0], tmp_path / "features"), tmp_path / "out", "--learn-missing"))
    assert code == 0, err


def test_learn_missing_says_what_it_can_learn(store, tmp_path, capsys):
    """--learn-missing where only val videos lack a file learnt nothing and said it did; where no training video has
    the store's one modality it advised --modalities without it, which leaves none (trial 76); a --resume's
    --skip-missing, from last.pt, was refused beside --learn-missing as if typed."""
    shutil.copytree(store[1], tmp_path / "features")
    rows = [json.loads(line) for line in Path(store[0]).read_text().splitlines()]
    val = [r["video_id"] for r in rows if r["split"] == "val"][:2]
    for v in val:
        (tmp_path / "features" / "vggish" / f"{v}.npy").unlink()
    with pytest.warns(UserWarning, match=re.escape(f"2 videos (2 val) lack features (vggish 2; first: {', '.join(val)}): "
                                                   "kept (--learn-missing), but no training video lacks any, so "
                                                   "nothing learns a stand-in for them")):
        code, err = s2vt(capsys, *train_args((store[0], tmp_path / "features"), tmp_path / "out", "--learn-missing"))
    assert code == 0, err
    code, err = s2vt(capsys, *train_args((store[0], tmp_path / "features"), tmp_path / "out3", "--skip-missing",
                                         "--stop-after", "1", "--epochs", "2"))
    assert code == 0, err
    code, err = s2vt(capsys, *train_args((store[0], tmp_path / "features"), tmp_path / "out3", "--resume",
                                         "--learn-missing", "--epochs", "2"))
    assert code == 2 and err[-1] == ("error: --skip-missing (the run's own, from last.pt) leaves out the videos "
                                     "--learn-missing trains on: pass one of them"), err
    for v in [r["video_id"] for r in rows if r["split"] == "train"]:
        (tmp_path / "features" / "vggish" / f"{v}.npy").unlink(missing_ok=True)
    code, err = s2vt(capsys, *train_args((store[0], tmp_path / "features"), tmp_path / "out2", "--learn-missing",
                                         "--modalities", "vggish"))
    assert code == 2 and err[-1] == (f"error: no training video has vggish features in {tmp_path / 'features'}: "
                                     "--learn-missing needs some to learn from; leave out --features to train on the "
                                     "manifest's text alone, if it has some"), err


def test_a_store_holding_none_of_the_videos_is_said_to_be_another_datasets(store, tmp_path, capsys):
    """A store of other videos (another dataset's) was answered "... or pass --skip-missing", which then left the
    training split empty (hostile trial): it is said to be one, with the way out."""
    shutil.copytree(store[1], tmp_path / "features")
    for f in (tmp_path / "features").glob("*/*.npy"):
        f.rename(f.with_name("other_" + f.name))
    code, err = s2vt(capsys, *train_args((store[0], tmp_path / "features"), tmp_path / "out"))
    assert code == 2 and len(err) == 1, err
    assert "; none of the " in err[0] and err[0].endswith(
        "videos has a feature file there: is it the feature store of another dataset? pass the manifest's own "
        "--features, or extract resnet152,vggish for them"), err


def test_videos_without_features_are_counted_in_train_and_val_together(store, tmp_path, capsys):
    """'7 videos have no features for tiny' where 8 had none: 7 in train, and 1 in the val split held out of it,
    checked after the first error (hostile trial). The count is all of them, by split."""
    shutil.copytree(store[1], tmp_path / "features")
    rows = [json.loads(line) for line in Path(store[0]).read_text().splitlines()]
    train = [r["video_id"] for r in rows if r["split"] == "train"]
    val = [r["video_id"] for r in rows if r["split"] == "val"]
    assert len(train) >= 2 and val
    for vid in train[:2] + val[:1]:
        for m in ("resnet152", "vggish"):
            (tmp_path / "features" / m / f"{vid}.npy").unlink()
    code, err = s2vt(capsys, *train_args((store[0], tmp_path / "features"), tmp_path / "out"))
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith(f"error: 3 videos (2 train, 1 val) have no features for resnet152,vggish in "
                             f"{tmp_path / 'features'} (first: "), err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_a_val_split_skipped_whole_for_missing_features_is_said_so(store, tmp_path, capsys):
    """It said "no val split" and that the caption memory held "train + val"."""
    shutil.copytree(store[1], tmp_path / "features")
    rows = [json.loads(line) for line in Path(store[0]).read_text().splitlines()]
    val = [r["video_id"] for r in rows if r["split"] == "val"]
    for vid in val:
        (tmp_path / "features" / "resnet152" / f"{vid}.npy").unlink()
    code, err = s2vt(capsys, *train_args((store[0], tmp_path / "features"), tmp_path / "out", "--skip-missing"))
    assert code == 0
    # (and the refit, the caption recipe's, which trains on val: the run ended with no word of it; hostile trial)
    assert (f"note: no validation videos (--skip-missing left out all {len(val)} videos of the val split: they lack "
            "features): early stopping and best.pt use the training loss; without val, the refit on train + val will "
            "not run") in err
    memory = [line for line in err if line.startswith("caption memory")]
    assert len(memory) == 1 and memory[0].endswith(" captions (train)")


def test_weights_blown_up_but_finite_are_refused_before_a_memory_evaluate_cannot_read(tmp_path, capsys,
                                                                                         monkeypatch):
    """`--lr 10` on real features: finite losses of 1e8, a run that "finished", and a best.pt whose
    float16 memory keys were inf, which evaluate refused."""
    from s2vt import engine, finish

    manifest, features = make_store(tmp_path / "d", videos=60, signal=True)
    args = ["train", "--manifest", manifest, "--features", features, "--epochs", "3", "--hidden", "32", "--embed",
            "32", "--batch-size", "8", "--no-refit", "--quiet", "--lr", "0.001"]
    # what --lr 10 does to the weights, and by which epoch, differs between CPUs (on one they stayed in
    # range): epoch 2's weights are blown up here, as the check sees them (losses stay sound); stopped
    # there, before its best.pt; epoch 1's is kept
    real_check = engine.check_summaries

    def check_after_blow_up(model, loader, device, desc, cfg):
        if desc == "epoch 2":
            with torch.no_grad():
                for p in model.fusion.parameters():
                    p.mul_(1e6)
        real_check(model, loader, device, desc, cfg)

    monkeypatch.setattr(engine, "check_summaries", check_after_blow_up)
    code, err = s2vt(capsys, *args, "--out", tmp_path / "run")
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith("error: training diverged in epoch 2: its weights give video summaries that are NaN or "
                             "beyond float16's range: lower --lr (now 0.001)"), err
    assert f"{tmp_path / 'run' / 'best.pt'} keeps epoch 1" in err[0]
    assert torch.load(tmp_path / "run" / "best.pt", weights_only=True)["epoch"] == 1
    last = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    assert last["epoch"] == 1 and last["first_loss"] > 0  # (a --resume measures a blow-up by the same first step)
    # the caption memory's own check stays the last line (train videos' summaries val's did not show):
    # best.pt's summaries blown up as the memory reads them, the epochs' check off
    real = finish.model_from_checkpoint  # (the caption memory's: finish.write_caption_memory)

    def blown_up(*a, **k):
        model, *rest = real(*a, **k)
        summary = model.summary
        model.summary = lambda feats, lengths: summary(feats, lengths) * 1e6
        return (model, *rest)

    monkeypatch.setattr(finish, "model_from_checkpoint", blown_up)
    monkeypatch.setattr(engine, "check_summaries", lambda *a: None)
    code, err = s2vt(capsys, *args, "--out", tmp_path / "memory")
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith(f"error: training diverged: the video summaries of {tmp_path / 'memory' / 'best.pt'}")
    assert "lower --lr (now 0.001)" in err[0]
    assert "memory" not in torch.load(tmp_path / "memory" / "best.pt", weights_only=True)


def test_a_finite_but_exploding_loss_stops_the_run_in_that_epoch(tmp_path, capsys):
    """`--lr 1e9`: losses of 1e10 to 1e17, never NaN, so every epoch and the refit ran and wrote
    best.pt; only the caption memory then found NaN summaries, and best.pt still evaluated."""
    manifest, features = make_store(tmp_path / "d", videos=60, signal=True)
    code, err = s2vt(capsys, "train", "--manifest", manifest, "--features", features, "--out", tmp_path / "run",
                     "--epochs", "3", "--hidden", "32", "--embed", "32", "--batch-size", "8", "--refit", "--quiet",
                     "--lr", "1e9")
    assert code == 2 and len(err) == 1, err
    assert re.fullmatch(r"error: training diverged in epoch 1: its mean loss \S+ is over 1000 times the first "
                        r"step's \(\S+\): lower --lr \(now 1e\+09\) and train again; no checkpoint was written",
                        err[0]), err
    assert not (tmp_path / "run").exists()  # (nothing of the diverged epoch, and no empty folder)


def test_the_loss_blow_up_check_leaves_sound_losses_alone():
    from s2vt.epoch import DivergedError, check_epoch_loss

    cfg = TrainConfig.of("m", "f", "o", lr=1e-3)
    for loss, first in ((5.0, 5.0), (3000.0, 4.0), (1e6, None), (1e6, 0.0), (1e6, float("nan"))):
        check_epoch_loss(loss, first, "epoch 2", cfg)  # (no reference: only a non-finite mean is refused)
    for loss in (4001.0, float("inf"), float("nan")):
        with pytest.raises(DivergedError, match="diverged in epoch 2: .*lower --lr"):
            check_epoch_loss(loss, 4.0, "epoch 2", cfg)


def test_resume_with_a_re_split_manifest_says_the_split_changed_first(store, tmp_path, capsys):
    """The same videos split again (another seed) were refused for 'the vocabulary differs ... (N words now,
    M there)', true but not the cause: the val split holds videos the run trained on, said first."""
    entries = [json.loads(x) for x in Path(store[0]).read_text().splitlines()]
    for e in entries:  # (a word only syn00002 has: out of the vocabulary once it is a val video)
        if e["video_id"] == "syn00002":
            e["captions"] = ["a purple square moves left"]
    manifest, resplit = tmp_path / "m.jsonl", tmp_path / "resplit.jsonl"
    manifest.write_text("".join(json.dumps(e) + "\n" for e in entries))
    swap = {"syn00002": "val", "syn00000": "train"}
    resplit.write_text("".join(json.dumps({**e, "split": swap.get(e["video_id"], e["split"])}) + "\n"
                               for e in entries))
    run = tmp_path / "run"
    assert s2vt(capsys, *train_args((manifest, store[1]), run))[0] == 0
    before = snapshot(run)
    code, err = s2vt(capsys, *train_args((resplit, store[1]), run, "--resume", "--epochs", "2"))
    assert (code, len(err)) == (2, 1) and err[0].startswith(
        f"error: --resume: 1 of the 4 validation videos of {resplit} are videos the run in {run / 'last.pt'} "
        "trained on (first: syn00002)"), err
    assert snapshot(run) == before
    last = torch.load(run / "last.pt", weights_only=False)  # (a run of too many videos to list them: no overlap to
    del last["trained_ids"]                                  # look for, the vocabulary's difference said of the split)
    torch.save({**last, "trained_ids_skipped": True}, run / "last.pt")
    code, err = s2vt(capsys, *train_args((resplit, store[1]), run, "--resume", "--epochs", "2"))
    # (another manifest file than the run's: named first, as the run's data)
    assert (code, err) == (2, [f"error: --resume: the run in {run} started with --manifest {manifest}, not this "
                               "command's: pass the data it trained on "
                               "(or --overwrite in place of --resume to train anew on these); what "
                               f"differs: the vocabulary differs from {run / 'last.pt'}'s (14 words now, 15 "
                               "there): the manifest's split changed (its validation videos are not those of the run), "
                               "and with it the training videos: pass the manifest (and --seed) the run started with"])


def test_resume_with_another_manifests_tags_names_the_runs_manifest_once(store, tmp_path, capsys):
    """Tags that differ because another manifest was given: the cause names the run's --manifest, and the
    prefix naming it too ("the run in R started with --manifest M ...: what differs: ... --manifest M") went."""
    entries = [json.loads(x) for x in Path(store[0]).read_text().splitlines()]
    manifest, other = tmp_path / "m.jsonl", tmp_path / "other.jsonl"
    manifest.write_text("".join(json.dumps(e) + "\n" for e in entries))
    other.write_text("".join(json.dumps({**e, "tags": [t + "x" for t in e.get("tags", [])] or ["x"]}) + "\n"
                             for e in entries))
    run = tmp_path / "run"
    assert s2vt(capsys, *train_args((manifest, store[1]), run))[0] == 0
    code, err = s2vt(capsys, *train_args((other, store[1]), run, "--resume", "--epochs", "2"))
    assert (code, len(err)) == (2, 1) and err[0].startswith(f"error: --resume: the tags differ from {run / 'last.pt'}'s")
    assert err[0].endswith(f"the run started with --manifest {manifest}: pass the same --manifest to resume it")
    assert err[0].count(str(manifest)) == 1, err


def test_the_start_line_says_1_step_not_1_steps(store, tmp_path, capsys):  # noqa: F811
    """train's start line said '1 steps an epoch' (hostile trial)."""
    code, err = s2vt(capsys, *train_args(store, tmp_path / "one", "--batch-size", "64"))
    start = [x for x in err if x.startswith("train ") and " items, " in x]
    assert code == 0 and len(start) == 1 and " items, 1 step an epoch) / val " in start[0], err
    code, err = s2vt(capsys, *train_args(store, tmp_path / "more"))  # (batch 8)
    start = [x for x in err if x.startswith("train ") and " items, " in x]
    assert code == 0 and len(start) == 1 and re.search(r" items, [2-9] steps an epoch\) / val ", start[0]), err


def test_steps_changed_under_torchrun_since_an_older_s2vt_name_that_cause():
    """A torchrun run paused by an s2vt that cut its processes' batches otherwise (no `world` in last.pt), resumed
    on its data and processes, has about half the time another number of steps an epoch; the refusal blamed "the
    training videos or the number of processes changed", neither of which had (review). It names the older s2vt."""
    from s2vt.config import TrainConfig
    from s2vt.resume import RunFolderError, same_steps

    last = {"history": [{"steps": 375}], "settings": {}}
    with pytest.raises(RunFolderError, match="an older s2vt cut the batches of torchrun's processes otherwise"):
        same_steps(last, 376, TrainConfig("m.jsonl", None, "run"), Path("run"), world=2)
    with pytest.raises(RunFolderError, match=r"\(the training videos or the number of processes changed\)"):
        same_steps(last, 376, TrainConfig("m.jsonl", None, "run"), Path("run"), world=1)


def test_a_run_file_linked_into_the_feature_store_is_refused(store, tmp_path, capsys):
    """`--overwrite` with best.pt a symbolic link to the store's meta.json wrote the checkpoint through it: the
    store's meta.json became a zip and every later run on the store was refused (trial 78). A run's output that
    is a link into its --features store is refused before training, as one inside it is."""
    manifest, features = store
    meta = Path(features) / "meta.json"
    before = meta.read_bytes()
    for name in ("best.pt", "curves.png"):
        out = tmp_path / name.split(".")[0]
        out.mkdir()
        (out / name).symlink_to(meta)
        code, err = s2vt(capsys, *train_args(store, out, "--overwrite"))
        assert code == 2 and err == [f"error: cannot write {out / name}: it is inside {features}, an input of this "
                                     "command"], err
        assert meta.read_bytes() == before and (out / name).is_symlink()


def test_a_modality_whose_every_file_is_empty_is_warned_of(tmp_path, capsys):
    """A store whose resnet152 files all held [0, 2048] trained without a word, the banner listing the modality
    the model never saw a frame of (trial 78): a warning names it and how to train without it."""
    manifest, features = make_store(tmp_path / "s", videos=12, shapes={"resnet152": (4, 8), "vggish": (3, 4)})
    for f in (Path(features) / "vggish").glob("*.npy"):
        np.save(f, np.zeros((0, 4), np.float16))
    code, err = s2vt(capsys, *train_args((manifest, features), tmp_path / "run"))
    assert code == 0, err
    assert ("warning: every training video's vggish features are empty (0 frames: no sound): the model learns nothing "
            "from it; --modalities resnet152 trains without") in err, err
    first = next(e for e in map(json.loads, Path(manifest).read_text().splitlines()) if e["split"] == "train")
    np.save(Path(features) / "vggish" / f"{first['video_id']}.npy", np.ones((2, 4), np.float16))  # (one with sound)
    code, err = s2vt(capsys, *train_args((manifest, features), tmp_path / "run2"))
    assert code == 0 and not any("are empty" in line for line in err), err


def test_a_damaged_last_pt_says_what_is_left_to_do(store, run, tmp_path, capsys):
    """`--resume` on a last.pt cut short said only "checkpoint file cut short or corrupt" (trial 78): now that the
    run cannot be resumed, how to start it again, and that best.pt (whole) holds the best epoch so far."""
    out = tmp_path / "run"
    shutil.copytree(run, out)
    data = (out / "last.pt").read_bytes()
    (out / "last.pt").write_bytes(data[:len(data) // 2])
    code, err = s2vt(capsys, *train_args(store, out, "--resume", "--epochs", "2"))
    assert code == 2 and err == [
        f"error: {out / 'last.pt'}: checkpoint file cut short or corrupt (a zip archive without its end: an "
        "interrupted copy or save?); this run cannot be resumed: "
        "--overwrite in place of --resume starts it again (copy best.pt elsewhere "
        "first to keep the best epoch so far)"], err


def test_max_len_on_resume_is_the_runs_own_and_may_change(store, tmp_path, capsys):
    """(trial 110) --max-len became the model's (best.pt's config) from a training setting (last.pt's settings): a
    last.pt of before resumed at ModelConfig.former's 28, said to predate --max-len; it takes its settings' value.
    A changed --max-len on --resume makes no weights: it takes effect, said so, not refused as another model."""
    out = tmp_path / "run"
    args = ["train", "--manifest", store[0], "--features", store[1], "--out", out, "--hidden", "8", "--embed", "8",
            "--min-count", "1", "--batch-size", "8", "--epochs", "3", "--max-len", "3"]
    assert s2vt(capsys, *args, "--stop-after", "1")[0] == 0
    last = torch.load(out / "last.pt", weights_only=True)
    assert last["config"]["max_len"] == 3
    del last["config"]["max_len"]  # (as s2vt before it wrote it: in the settings alone)
    torch.save(last, out / "last.pt")
    code, err = s2vt(capsys, *args, "--resume", "--stop-after", "2")
    assert code == 0 and not [line for line in err if line.startswith("warning") and "max-len" in line], err
    assert torch.load(out / "last.pt", weights_only=True)["config"]["max_len"] == 3
    code, err = s2vt(capsys, *args[:-2], "--max-len", "5", "--resume")
    assert code == 0 and "warning: --resume: taking effect: --max-len 5 (last.pt: 3)" in err, err
    assert torch.load(out / "best.pt", weights_only=True)["config"]["max_len"] == 5


def test_warmup_under_the_step_schedule_is_said_to_do_nothing(store, tmp_path, capsys):
    """(trial 109) --schedule step has no warmup; a --warmup given with it was taken silently."""
    code, err = s2vt(capsys, *train_args(store, tmp_path / "out", "--schedule", "step", "--warmup", "50"))
    assert code == 0 and ("warning: --warmup 50 has no effect: --schedule step halves the learning rate every 10 "
                          "epochs from the first step, without a warmup (--schedule cosine has one)") in err, err
    code, err = s2vt(capsys, *train_args(store, tmp_path / "zero", "--schedule", "step", "--warmup", "0"))
    assert code == 0 and not [line for line in err if "--warmup" in line], err


def test_max_len_on_tags_alone_is_said_to_do_nothing(store, tmp_path, capsys):
    """(trial 111) --max-len cuts captions and ends decoded ones: on tag-only data a --resume with another value was
    told 'taking effect', and a new run took it silently."""
    manifest = tmp_path / "tags.jsonl"
    manifest.write_text("".join(json.dumps({**json.loads(line), "captions": []}) + "\n"
                                for line in Path(store[0]).read_text().splitlines()))
    args = ["train", "--manifest", manifest, "--features", store[1], "--out", tmp_path / "run", *TINY]
    code, err = s2vt(capsys, *args, "--max-len", "5")
    assert code == 0 and ("warning: --max-len 5 has no effect: it cuts captions and ends decoded ones, and this data "
                          "has no captions") in err, err
    assert not [line for line in err if "taking effect" in line]


@pytest.mark.parametrize("key, value, said", [
    ("settings", 5, "an object of settings"), ("epoch", "x", "a whole number"), ("best", "x", "a number"),
    ("history", ["x"], "a list of epoch rows"), ("first_loss", "x", "a number"), ("bad_epochs", True, "a whole number")])
def test_a_last_pt_whose_training_state_is_of_another_type_cannot_be_resumed(store, tmp_path, capsys, key, value,
                                                                              said):
    """(new-user trial 45) a hand-edited last.pt's settings 5, or epoch 'x', was a traceback on --resume."""
    out = tmp_path / "run"
    args = ["train", "--manifest", store[0], "--features", store[1], "--out", out, "--hidden", "8", "--embed", "8",
            "--min-count", "1", "--batch-size", "8", "--epochs", "3"]
    assert s2vt(capsys, *args, "--stop-after", "1")[0] == 0
    last = torch.load(out / "last.pt", weights_only=True)
    last[key] = value
    torch.save(last, out / "last.pt")
    code, err = s2vt(capsys, *args, "--resume", "--stop-after", "2")
    assert code == 2 and len(err) == 1 and err[0].startswith(
        f"error: {out / 'last.pt'}: its {key!r} is {value!r}, not {said}; this run cannot be resumed: "), err


@pytest.mark.parametrize("name, value, said", [
    ("modalities", 5, "--modalities must be a list of names, not 5"),  # (a TypeError traceback)
    ("modalities", "cnn", "--modalities must be a list of names, not 'cnn'"),  # (read as c,n,n)
    ("seed", None, "--seed must be a whole number, not None"),  # ('must be at least -9007199254740992')
    ("max_len", "abc", "--max-len must be a whole number, not 'abc'"),  # ('must be at least 1')
    ("per_caption", "yes", "--per-caption must be true or false, not 'yes'"),
    ("lr", [1], "--lr must be a number, not [1]")])
def test_a_last_pt_setting_of_the_wrong_type_is_said_as_last_pt_s(store, tmp_path, capsys, name, value, said):
    """(trial 114) a hand-edited last.pt's settings are checked as argparse checks an option typed, and said as
    last.pt's."""
    out = tmp_path / "run"
    args = ["train", "--manifest", store[0], "--features", store[1], "--out", out, "--hidden", "8", "--embed", "8",
            "--min-count", "1", "--batch-size", "8", "--epochs", "3"]
    assert s2vt(capsys, *args, "--stop-after", "1")[0] == 0
    last = torch.load(out / "last.pt", weights_only=True)
    last["settings"][name] = value
    torch.save(last, out / "last.pt")
    code, err = s2vt(capsys, *args[:-2], "--resume", "--stop-after", "2")
    from s2vt.resume import KEPT_ANYWAY
    advice = KEPT_ANYWAY if name == "lr" else "give that option to resume with another value (a finished run keeps " \
        "its own: restore last.pt, or pass --overwrite in place of --resume)"  # (a learning rate is last.pt's)
    assert code == 2 and err == [f"error: {out / 'last.pt'}: a setting the run was saved with is refused: {said}; "
                                 f"{advice}"], err


@pytest.mark.parametrize("value, said", [(3.0, None), (3.5, ": a setting the run was saved with is refused: --max-len "
                                                  "must be a whole number, not 3.5; give that option to resume with "
                                                  "another value (a finished run keeps its own: restore last.pt, or "
                                                  "pass --overwrite in place of --resume)")])
def test_a_float_where_last_pt_keeps_a_whole_number(store, tmp_path, capsys, value, said):
    """(trial 111) a hand-edited last.pt whose settings held max_len 3.0 was a TypeError traceback on --resume (in
    slicing the captions): 3.0 is 3, and 3.5 one line."""
    out = tmp_path / "run"
    args = ["train", "--manifest", store[0], "--features", store[1], "--out", out, "--hidden", "8", "--embed", "8",
            "--min-count", "1", "--batch-size", "8", "--epochs", "3"]
    assert s2vt(capsys, *args, "--max-len", "3", "--stop-after", "1")[0] == 0
    last = torch.load(out / "last.pt", weights_only=True)
    last["settings"]["max_len"] = value
    torch.save(last, out / "last.pt")
    code, err = s2vt(capsys, *args, "--resume", "--stop-after", "2")
    if said is None:
        assert code == 0 and torch.load(out / "last.pt", weights_only=True)["config"]["max_len"] == 3, err
    else:  # (named as last.pt's: the command gave no --max-len)
        assert code == 2 and err == [f"error: {out / 'last.pt'}{said}"], err
        # (given, it is the command's: the resume goes on)
        assert s2vt(capsys, *args, "--max-len", "4", "--resume", "--stop-after", "2")[0] == 0


def test_a_newline_in_out_leaves_the_pause_and_resume_lines_one_line_each(store, tmp_path, capsys):
    """`paused after epoch 1 ...: OUT/last.pt kept` and `resuming from OUT/last.pt` printed --out raw: a newline in
    it split each line in two (trial 121); the command to paste stays bash's $'...'."""
    out = tmp_path / "r\nx"
    code, err = s2vt(capsys, *train_args(store, out, "--epochs", "2", "--stop-after", "1"))
    assert code == 0 and err[-1].startswith(f"paused after epoch 1 of 2 (--stop-after 1): {tmp_path}/r\\nx/last.pt "
                                            "kept; rerun"), err
    assert f"--out $'{tmp_path}/r\\x0ax'" in err[-1] and not any(e.startswith("x/") for e in err), err
    code, err = s2vt(capsys, *train_args(store, out, "--epochs", "2", "--resume"))
    assert code == 0 and f"resuming from {tmp_path}/r\\nx/last.pt at epoch 2" in err, err


def test_a_checkpoint_whose_name_is_not_utf8_is_read(run, tmp_path):
    """A best.pt under a folder name that is not UTF-8 was "a zip archive but not a PyTorch checkpoint": torch's
    mmap reader takes a UTF-8 name (trial 121); train.py's own run there could not read back its best.pt."""
    from s2vt.checkpoint import CHECKPOINT_FORMAT, read_checkpoint

    odd = tmp_path / "raw\udcffdir"
    odd.mkdir()
    shutil.copy(run / "best.pt", odd / "best.pt")
    assert read_checkpoint(odd / "best.pt")["format"] == CHECKPOINT_FORMAT


def test_a_resume_whose_last_pt_holds_a_vocabulary_setting_of_another_type_is_one_line(run, store, tmp_path, capsys):
    """A hand-edited last.pt's min_count of '2', with --min-count typed as its refusal advises: the check of which
    setting changed the vocabulary rebuilt it with '2' and ended in a TypeError's traceback (trial 122)."""
    resumed = tmp_path / "resumed"
    shutil.copytree(run, resumed)
    last = torch.load(resumed / "last.pt", weights_only=True)
    last["settings"]["min_count"] = "2"
    torch.save(last, resumed / "last.pt")
    code, err = s2vt(capsys, *train_args(store, resumed, "--resume", "--min-count", "2"))
    assert code == 2 and err[-1].startswith("error: ") and "Traceback" not in "".join(err), err
    # (last.pt's '2' said as it is, and as last.pt's: "--min-count 2 (last.pt: 2)" read as no change at all, then
    # "--min-count must be at least 1, not '2'" as if the value typed were refused)
    advice = "the run keeps its own value, whatever the command gives: restore last.pt, or pass --overwrite in " \
             "place of --resume to train the run again"
    assert err == ["warning: --resume: ignored (the run has finished, so nothing uses them): --min-count 2 (last.pt: "
                   "'2')", f"error: {resumed / 'last.pt'}: a setting the run was saved with is refused: --min-count "
                   f"must be a whole number, not '2'; {advice}"], err
    # a setting it keeps of its own (--lr): the advice of the first refusal, to give the option, was refused again
    # with "must be in [0, inf), not '0.001'" (trial 125)
    last["settings"]["min_count"] = 2
    last["settings"]["lr"] = "0.001"
    torch.save(last, resumed / "last.pt")
    code, err = s2vt(capsys, *train_args(store, resumed, "--resume"))
    assert (code, err[-1]) == (2, f"error: {resumed / 'last.pt'}: a setting the run was saved with is refused: --lr "
                                  f"must be a number, not '0.001'; {advice}"), err
    code, err = s2vt(capsys, *train_args(store, resumed, "--resume", "--lr", "0.001"))
    assert (code, err[-1]) == (2, f"error: {resumed / 'last.pt'}: a setting the run was saved with is refused: --lr "
                                  f"must be a number, not '0.001'; {advice}"), err
    # last.pt's --epochs '4' beside the --epochs its refusal advised: read as no number (a TypeError; trial 126)
    last["settings"]["lr"] = 0.001
    last["settings"]["epochs"] = "4"
    torch.save(last, resumed / "last.pt")
    code, err = s2vt(capsys, *train_args(store, resumed, "--resume", "--epochs", "4"))
    assert "Traceback" not in "".join(err) and not any("TypeError" in line for line in err), err


def test_a_vocabulary_of_as_many_other_words_is_said_so():
    """'(25 words now, 25 there)' said no difference where the words were others (trial 122)."""
    from s2vt.checkpoint import DataMismatch, check_resumable
    from s2vt.vocab import Vocab

    now, then = Vocab.build(["a red box"], 1), Vocab.build(["a blue box"], 1)
    last = {"optimizer": {}, "scheduler": {}, "best": 0.0, "bad_epochs": 0, "history": [], "vocab": then.itos}
    with pytest.raises(DataMismatch, match=rf"\(as many words, {len(now)}, not all the same\): the manifest or "):
        check_resumable(last, None, now, None, Path("last.pt"))
