"""Training end to end on synthetic stores with a planted signal."""
import csv
import json
import os
import re
import shlex
import shutil
import sys
import time

import numpy as np
import pytest
import torch

from s2vt.checkpoint import CheckpointError, has_captions, load_checkpoint, read_checkpoint
from s2vt.config import ConfigError

from s2vt.engine import TrainConfig, build, train
from s2vt.epoch import EarlyStopping, train_one_epoch, validate
from s2vt.synthetic import make_store

from .conftest import REPO, free_port, run_cli

# refit=False: the recipes' refit on train + val (tested on its own below, with refit=None: the
# recipe's) would train each run twice, and make best.pt's weights other than those val scored
FAST = dict(hidden=64, embed=64, batch_size=32, lr=3e-3, min_count=1, enc_len=10, dropout=0.3, label_smoothing=0.0,
            quiet=True, refit=False)


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    return make_store(tmp_path_factory.mktemp("planted"), videos=360, signal=True)


def rows(run):
    with open(run / "metrics.csv") as f:
        return list(csv.DictReader(f))


def test_planted_signal_is_learned_and_control_is_not(planted, tmp_path):
    best = train(TrainConfig.of(*map(str, planted), out=str(tmp_path / "run"), epochs=8, patience=3, **FAST))
    assert best["CIDEr"] >= 1.0 and best["tag_acc"] >= 0.9
    control = make_store(tmp_path / "control", videos=360, signal=False)
    ctrl = train(TrainConfig.of(*map(str, control), out=str(tmp_path / "ctrl"), epochs=8, patience=3, **FAST))
    assert ctrl["CIDEr"] < 0.7 * best["CIDEr"] and ctrl["tag_acc"] < 0.6
    model, vocab, labels, ckpt = load_checkpoint(tmp_path / "run" / "best.pt")
    assert ckpt["epoch"] == best["epoch"] and labels.names == ["left", "right", "up"]
    assert (tmp_path / "run" / "curves.png").stat().st_size > 1000


def test_early_stopping_keeps_best_epoch(planted, tmp_path):
    cfg = TrainConfig.of(*map(str, planted), out=str(tmp_path / "stall"), epochs=20, patience=2, **{**FAST, "lr": 0.0})
    train(cfg)
    hist = rows(tmp_path / "stall")
    assert len(hist) == 3  # epoch 1 sets the best, 2 and 3 do not improve -> stop
    assert torch.load(tmp_path / "stall" / "best.pt", weights_only=True)["epoch"] == 1
    # resumed after it stopped early: no further epoch, best.pt's result
    best = train(TrainConfig.of(*map(str, planted), out=str(tmp_path / "stall"), epochs=20, patience=2, resume=True,
                                **{**FAST, "lr": 0.0}))
    assert len(rows(tmp_path / "stall")) == 3 and best["epoch"] == 1
    assert best == torch.load(tmp_path / "stall" / "best.pt", weights_only=True)["metrics"]
    cfg = TrainConfig.of(*map(str, planted), out=str(tmp_path / "ok"), epochs=6, patience=2, **FAST)
    train(cfg)
    hist = rows(tmp_path / "ok")
    best_epoch = max(hist, key=lambda r: float(r["CIDEr"]))["epoch"]  # first of the maxima
    assert torch.load(tmp_path / "ok" / "best.pt", weights_only=True)["epoch"] == int(best_epoch)


def test_one_captioned_val_video_is_warned_of(tmp_path, capsys):
    """`import folder --val 1`: val CIDEr-D was 0 at every epoch (over one video, whatever the caption) and best.pt
    stayed epoch 1's, unsaid (trial 130): train says so in a warning, quiet or not."""
    manifest, store = make_store(tmp_path / "d", videos=12)
    rows_in = [json.loads(line) for line in manifest.read_text().splitlines()]
    for i, r in enumerate(rows_in):
        r["split"] = "val" if i == 0 else "test" if i == 1 else "train"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows_in))
    train(TrainConfig.of(str(manifest), str(store), out=str(tmp_path / "run"), epochs=1, **FAST))
    err = capsys.readouterr().err
    assert "warning: one validation video has captions, and CIDEr-D over one video is 0 whatever the caption" in err
    # two val videos given the same captions: every n-gram in both videos' references, CIDEr-D 0 as over one
    for r in rows_in:
        r["split"] = "val" if r["video_id"] in {rows_in[0]["video_id"], rows_in[2]["video_id"]} else r["split"]
    rows_in[2]["captions"] = rows_in[0]["captions"][::-1]
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows_in))
    train(TrainConfig.of(str(manifest), str(store), out=str(tmp_path / "same"), epochs=1, **FAST))
    err = capsys.readouterr().err
    assert "warning: the references of all 2 validation videos hold the same n-grams" in err
    # one differing word, and CIDEr-D can tell captions apart: no warning
    rows_in[2]["captions"] = rows_in[0]["captions"][:-1] + [rows_in[0]["captions"][-1] + " again"]
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows_in))
    train(TrainConfig.of(str(manifest), str(store), out=str(tmp_path / "apart"), epochs=1, **FAST))
    assert "CIDEr-D over" not in capsys.readouterr().err


def test_resume_matches_uninterrupted(planted, tmp_path):
    kw = dict(epochs=4, patience=10, **FAST)
    train(TrainConfig.of(*map(str, planted), out=str(tmp_path / "full"), **kw))
    train(TrainConfig.of(*map(str, planted), out=str(tmp_path / "cut"), stop_after=2, **kw))
    assert len(rows(tmp_path / "cut")) == 2
    train(TrainConfig.of(*map(str, planted), out=str(tmp_path / "cut"), resume=True, **kw))
    full, cut = rows(tmp_path / "full"), rows(tmp_path / "cut")
    assert len(cut) == 4
    for key in ("train_loss", "CIDEr", "tag_acc"):
        assert float(cut[3][key]) == pytest.approx(float(full[3][key]), abs=1e-6)
    a = torch.load(tmp_path / "full" / "last.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "cut" / "last.pt", weights_only=True)["model"]
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_torchrun_ranks_say_a_data_warning_once(tmp_path):
    """Every torchrun rank read the same manifest and store and warned of what it found (videos without
    features skipped, blank captions): each line once per rank."""
    manifest, store = make_store(tmp_path / "d", videos=30)
    entries = [json.loads(x) for x in manifest.read_text().splitlines()]
    entries[0]["captions"] = [" "]
    manifest.write_text("".join(json.dumps(e) + "\n" for e in entries))
    gone = next(e["video_id"] for e in entries[1:] if e.get("split", "train") == "train")
    for f in store.glob(f"*/{gone}.npy"):
        f.unlink()
    proc = run_cli("-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={free_port()}", "train.py",
                   "--manifest", str(manifest), "--features", str(store), "--out", str(tmp_path / "ddp"),
                   "--skip-missing", "--epochs", "1", "--hidden", "32", "--batch-size", "8", "--quiet",
                   env={"OMP_NUM_THREADS": "1", "PYTHONWARNINGS": None}, timeout=240)  # (run_cli's: ignore)
    assert proc.returncode == 0, proc.stderr[-3000:]
    warned = [x for x in proc.stderr.splitlines() if x.startswith("warning: ")]
    assert sum("without features" in x for x in warned) == 1 and sum("blank caption" in x for x in warned) == 1, \
        proc.stderr[-3000:]


def test_torchrun_two_processes_equal_one_process_of_the_same_global_batch(tmp_path):
    """2 gloo ranks of 16 pairs a step train as 1 process of 32: CaptionGroups gives rank r the r-th half
    of each batch of 32 (the split is a multiple of 32) and DDP averages the gradients."""
    # 64 train videos: 2 full steps of 32 an epoch; modalities named as extracted ones, and a meta.json
    # that says so, so that train.py ends with its hint to caption with the model
    manifest, store = make_store(tmp_path / "d", videos=90, shapes={"resnet152": (10, 32), "vggish": (5, 16)})
    meta = json.loads((store / "meta.json").read_text())
    (store / "meta.json").write_text(json.dumps({**{k: v for k, v in meta.items() if k != "synthetic"},
                                                 "backbones": {"resnet152": "random", "vggish": "random"}}))
    kw = dict(epochs=2, patience=10, hidden=32, embed=32, enc_len=10, min_count=1, lr=3e-3, warmup=0,
              dropout=0.0, label_smoothing=0.0)  # no dropout: its masks depend on the batch's shape
    args = [f"--{k.replace('_', '-')}={v}" for k, v in kw.items()]
    proc = run_cli("-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={free_port()}", "train.py",
                   "--manifest", str(manifest), "--features", str(store), "--out", str(tmp_path / "ddp"),
                   "--batch-size=16", *args, env={"OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr.count("to caption with this model by default") == 1  # rank 0 only
    assert len(proc.stdout.strip().splitlines()) == 1  # the best metrics, once
    for name, batch in (("one", 32), ("half", 16)):
        train(TrainConfig.of(str(manifest), str(store), str(tmp_path / name), batch_size=batch, quiet=True, **kw))
    ddp, one, half = (torch.load(tmp_path / n / "last.pt", weights_only=True)["model"] for n in ("ddp", "one", "half"))
    gap = lambda a, b: max((a[k] - b[k]).abs().max().item() for k in a)  # noqa: E731
    assert gap(ddp, one) < 1e-4
    assert gap(half, one) > 100 * gap(ddp, one)  # another global batch trains visibly differently
    hist_ddp, hist_one = rows(tmp_path / "ddp"), rows(tmp_path / "one")
    assert len(hist_ddp) == len(hist_one) == 2
    for a, b in zip(hist_ddp, hist_one):
        assert float(a["CIDEr"]) == pytest.approx(float(b["CIDEr"]), abs=1e-6)
        assert float(a["tag_acc"]) == pytest.approx(float(b["tag_acc"]), abs=1e-6)
        # the mean over both ranks' halves of each global batch (rank 0's half alone, logged before, needed 2%)
        assert float(a["train_loss"]) == pytest.approx(float(b["train_loss"]), rel=1e-5)
    assert float(hist_one[1]["train_loss"]) < float(hist_one[0]["train_loss"])  # it trained


def torchrun(*args: str, timeout: float = 300):
    """`torchrun --nproc_per_node=2 train.py ARGS` on gloo, in a session of its own: a hang is killed whole
    (the ranks too, which ignore SIGTERM while they wait in a collective) and fails the test, not the CI."""
    import signal
    import subprocess
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    proc = subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
                             f"--master_port={free_port()}", "train.py", *args], cwd=REPO, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"torchrun hung for {timeout} s: {err[-3000:]}")
    return proc.returncode, out, err


def test_caption_groups_give_every_rank_a_batch_of_a_split_under_one_batch(tmp_path):
    """Under torchrun a training split of fewer items than --batch-size (the demo's, a tiny manifest) was one
    batch, rank 0's: rank 1 had none, and the run hung in its first step, forever (hostile trial). Now every
    rank has the same number of batches, none empty, and one global batch is every item once."""
    from s2vt.data import CaptionGroups, DataError, VideoDataset
    from s2vt.store import FeatureStore
    from s2vt.vocab import Vocab
    for videos, captions, per_video, world in ((59, 1, 1, 2), (2, 1, 1, 2), (5, 1, 1, 3), (4, 3, 4, 3),
                                               (30, 3, 4, 2)):
        entries = [{"video_id": f"v{i}", "captions": [f"cap {j}" for j in range(captions)]} for i in range(videos)]
        ds = VideoDataset(entries, FeatureStore(tmp_path), ["m"], Vocab.build(["cap"], 1), None, per_caption=True)
        ranks = [CaptionGroups(ds, 64, per_video, 0, r, world) for r in range(world)]
        for g in ranks:
            g.set_epoch(2)
        got = [list(g) for g in ranks]
        assert [len(b) for b in got] == [len(g) for g in ranks] == [1] * world, (videos, world, got)
        assert all(b for bs in got for b in bs)
        assert sorted(k for bs in got for b in bs for k in b) == list(range(len(ds))), (videos, world)
    # more items than one batch a rank: ceil(70 / (16 * 2)) = 3 steps, each rank's batch 11 or 12 of the 70
    ds = VideoDataset([{"video_id": f"v{i}", "captions": ["cap"]} for i in range(70)], FeatureStore(tmp_path), ["m"],
                      Vocab.build(["cap"], 1), None, per_caption=True)
    assert [[len(b) for b in CaptionGroups(ds, 16, 1, 0, r, 2)] for r in range(2)] == [[11, 12, 12], [12, 11, 12]]
    one = VideoDataset([{"video_id": "v0", "captions": ["cap"]}], FeatureStore(tmp_path), ["m"],
                       Vocab.build(["cap"], 1), None, per_caption=True)
    with pytest.raises(DataError, match="1 training item for 2 torchrun processes.*--nproc_per_node=1 or fewer"):
        CaptionGroups(one, 64, 1, 0, 1, 2)
    assert len(CaptionGroups(one, 64, 1, 0)) == 1  # (one process: its one batch)


def old_caption_groups(items: list, batch_size: int, per_video: int, seed: int, epoch: int) -> list[list[int]]:
    """CaptionGroups' batches in one process before torchrun's were changed (the README's results depend on it)."""
    import random
    rng = random.Random(f"{seed}-{epoch}")
    by_video: dict = {}
    for k, (i, _) in enumerate(items):
        by_video.setdefault(i, []).append(k)
    groups = []
    for ks in by_video.values():
        rng.shuffle(ks)
        groups += [ks[j:j + per_video] for j in range(0, len(ks), per_video)]
    rng.shuffle(groups)
    flat = [k for g in groups for k in g]
    return [flat[j:j + batch_size] for j in range(0, len(flat), batch_size)]


def test_caption_groups_cover_every_item_once_an_epoch_under_torchrun(tmp_path):
    """Under torchrun CaptionGroups kept floor(batches / world) * world batches of --batch-size: --batch-size 10
    on 28 pairs under 2 processes was 1 step of 20 pairs, 8 pairs (29 %) never trained on, every epoch
    (hostile trial). Now every item is in one rank's batch once an epoch, every rank has as many batches
    (`len` as many as it iterates), none empty, none over --batch-size where the items allow; one process
    batches as before."""
    from s2vt.data import CaptionGroups, VideoDataset
    from s2vt.store import FeatureStore
    from s2vt.vocab import Vocab
    for videos, captions, batch, per_video in ((28, 1, 10, 1), (10, 3, 10, 2), (70, 1, 16, 1), (5, 1, 1, 1),
                                               (7, 3, 4, 4), (64, 1, 16, 1)):
        entries = [{"video_id": f"v{i}", "captions": [f"cap {j}" for j in range(captions)]} for i in range(videos)]
        ds = VideoDataset(entries, FeatureStore(tmp_path), ["m"], Vocab.build(["cap"], 1), None, per_caption=True)
        for world in (2, 3):
            ranks = [CaptionGroups(ds, batch, per_video, 0, r, world) for r in range(world)]
            for epoch in (1, 2):
                for g in ranks:
                    g.set_epoch(epoch)
                got = [list(g) for g in ranks]
                case = (videos, captions, batch, world, got)
                assert sorted(k for bs in got for b in bs for k in b) == list(range(len(ds))), case
                assert len({len(bs) for bs in got}) == 1 and [len(bs) for bs in got] == [len(g) for g in ranks], case
                assert all(b for bs in got for b in bs), case
                # (over --batch-size only when there are fewer items than ranks x steps of --batch-size 1 ...)
                assert max(len(b) for bs in got for b in bs) <= max(batch, -(-len(ds) // (len(got[0]) * world))), case
        # (... e.g. 5 items on 2 ranks at --batch-size 1: 2 steps, one of a batch of 2 on one rank)
        one = CaptionGroups(ds, batch, per_video, 0)
        for epoch in (1, 2):
            one.set_epoch(epoch)
            assert list(one) == old_caption_groups(ds.items, batch, per_video, 0, epoch) and len(one) == len(list(one))
    # the finding's case: 28 pairs, --batch-size 10, 2 processes: 2 steps of 7 pairs a rank, all 28
    ds = VideoDataset([{"video_id": f"v{i}", "captions": ["cap"]} for i in range(28)], FeatureStore(tmp_path), ["m"],
                      Vocab.build(["cap"], 1), None, per_caption=True)
    assert [[len(b) for b in CaptionGroups(ds, 10, 1, 0, r, 2)] for r in range(2)] == [[7, 7], [7, 7]]


def three_captions_each(manifest, two: str | None = None) -> None:
    """Rewrite `manifest` so that each video has three captions (its first, + " now", + " again"; video `two`
    the first two alone): the pairs the torchrun tests count."""
    entries = [json.loads(x) for x in manifest.read_text().splitlines()]
    manifest.write_text("".join(json.dumps({**e, "captions": [c + w for c in e["captions"][:1] for w in (
        ("", " now") if e["video_id"] == two else ("", " now", " again"))]}) + "\n" for e in entries))


def test_torchrun_split_smaller_than_one_batch_trains_validates_and_refits(tmp_path):
    """2 gloo ranks on 8 training videos of 3 captions (24 pairs, under one --batch-size 64) and 2 val
    videos, grouped --per-video 4: the run hung in its first step (rank 1 had no batch; hostile trial).
    Now each rank has half of the one global batch: both epochs, validation and the refit on train + val
    end, and the run folder's lock is gone."""
    manifest, store = make_store(tmp_path / "d", videos=12)
    three_captions_each(manifest)
    out = tmp_path / "ddp"
    code, stdout, err = torchrun("--manifest", str(manifest), "--features", str(store), "--out", str(out),
                                 "--epochs", "2", "--patience", "5", "--hidden", "16", "--embed", "16",
                                 "--per-video", "4", "--refit")
    assert code == 0, err[-3000:]
    assert "(24 items, 1 step an epoch)" in err and "val 2 videos" in err, err[-3000:]
    assert "refit epoch 2/" in err or "refit epoch 1/1" in err, err[-3000:]
    assert len(rows(out)) == 2 and len(stdout.strip().splitlines()) == 1
    assert not (out / ".s2vt-train.lock").exists()


def test_torchrun_refit_lines_say_the_items_of_train_and_val(tmp_path):
    """2 gloo ranks refitting on 29 pairs (8 training videos of 3 captions, 2 val videos of 3 and 2) said
    `28 items` a refit epoch: rank 0's count times the ranks (hostile trial: `40 items` for 38 videos). Now
    the ranks' counts summed: 29."""
    manifest, store = make_store(tmp_path / "d", videos=12)
    three_captions_each(manifest, two=next(json.loads(x)["video_id"] for x in manifest.read_text().splitlines()
                                           if json.loads(x)["split"] == "val"))
    code, _, err = torchrun("--manifest", str(manifest), "--features", str(store), "--out", str(tmp_path / "ddp"),
                            "--epochs", "1", "--hidden", "16", "--embed", "16", "--refit")
    assert code == 0, err[-3000:]
    assert "(24 items, 1 step an epoch)" in err, err[-3000:]
    lines = [x for x in err.splitlines() if x.startswith("refit epoch ")]
    assert lines and all(", 29 items, " in x for x in lines), err[-3000:]


def test_torchrun_resume_on_one_process_warns(tmp_path):
    """A run paused after epoch 1 on 2 gloo ranks and resumed on 1 process went on unwarned, its batches no longer
    the uninterrupted run's (hostile trial). Now last.pt says `world` 2 and the resume warns once, naming both
    and how to continue exactly (24 pairs under one --batch-size: 1 step an epoch either way)."""
    manifest, store = make_store(tmp_path / "d", videos=12)
    three_captions_each(manifest)
    out = tmp_path / "ddp"
    args = ["--manifest", str(manifest), "--features", str(store), "--out", str(out), "--epochs", "2", "--hidden",
            "16", "--embed", "16", "--no-refit"]
    code, _, err = torchrun(*args, "--stop-after", "1")
    assert code == 0, err[-3000:]
    assert torch.load(out / "last.pt", weights_only=True)["world"] == 2
    proc = run_cli("train.py", *args, "--resume", env={"OMP_NUM_THREADS": "1"}, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    said = [x for x in proc.stderr.splitlines() if x.startswith("warning: ")]
    assert said == [f"warning: --resume: {out / 'last.pt'} was trained on 2 processes, this run has 1: its batches "
                    "differ from here on; resume on 2 processes (torchrun --nproc_per_node=2) to continue it "
                    "exactly"], proc.stderr[-3000:]
    assert len(rows(out)) == 2


def test_torchrun_fewer_training_items_than_ranks_is_refused(tmp_path):
    """1 training video for 2 ranks: no split gives each a batch; refused before any collective call of the
    training (no hang), exit 2, no lock left behind (hostile trial); in one line, rank 0's (each rank printed
    its own, the lines running together: new-user trial)."""
    manifest, store = make_store(tmp_path / "d", videos=3)  # (one each of val, test and train)
    out = tmp_path / "ddp"
    code, _, err = torchrun("--manifest", str(manifest), "--features", str(store), "--out", str(out),
                            "--epochs", "1", "--hidden", "16", "--embed", "16", "--min-count", "1")
    assert code != 0
    said = [x for x in err.splitlines() if x.startswith("error: ")]
    assert len(said) == 1 and "1 training item for 2 torchrun processes" in said[0], err
    assert "Traceback (most recent call last)" not in err.split("error: ")[0]  # (s2vt's own: none)
    assert not (out / ".s2vt-train.lock").exists() and not (out / "last.pt").exists()
    # a refusal of the data every rank reads alike (here: no training split at all), rank 0's line alone
    manifest.write_text("".join(x + "\n" for x in manifest.read_text().splitlines() if '"train"' not in x))
    code, _, err = torchrun("--manifest", str(manifest), "--features", str(store), "--out", str(out),
                            "--epochs", "1", "--hidden", "16", "--embed", "16", "--min-count", "1")
    said = [x for x in err.splitlines() if x.startswith("error: ")]
    assert code != 0 and len(said) == 1 and "train" in said[0], err
    assert "exitcode: 2" in err and "exitcode: 1" not in err, err


def test_torchrun_refusal_of_rank_0_alone_ends_every_rank_at_once(tmp_path):
    """Under torchrun, a run folder another training run holds was refused by rank 0 alone (the lock is
    rank 0's to read): rank 1 waited for it in the process group's start, deaf to torchrun's SIGTERM, until
    torchrun killed it 30 s later and printed its ChildFailedError traceback (hostile trial). Now rank 0's
    refusal reaches every rank: the line once, from rank 0, and the launch ends at once; the lock is kept."""
    from s2vt.locks import lock_text
    manifest, store = make_store(tmp_path / "d", videos=12)
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / ".s2vt-train.lock").write_text(lock_text(os.getpid()))  # (this test: a live run holding it)
    for extra in ("--overwrite", "--resume"):
        started = time.time()
        code, _, err = torchrun("--manifest", str(manifest), "--features", str(store), "--out", str(busy),
                                "--epochs", "1", "--hidden", "16", "--embed", "16", extra, timeout=120)
        took = time.time() - started
        said = [x for x in err.splitlines() if x.startswith("error: ")]
        assert code != 0 and len(said) == 1 and "another training run" in said[0], err[-3000:]
        assert took < 20, (took, err[-3000:])
        assert "Traceback (most recent call last)" not in err.split("error: ")[0], err[-3000:]
        assert (busy / ".s2vt-train.lock").read_text() == lock_text(os.getpid())
    # rank 0's other refusals of its own: a run whose best.pt is missing, resumed to train on or finished
    run = tmp_path / "run"
    code, _, err = torchrun("--manifest", str(manifest), "--features", str(store), "--out", str(run), "--epochs", "1",
                            "--hidden", "16", "--embed", "16")
    assert code == 0, err[-3000:]
    # (a folder holding a run, neither --overwrite nor --resume: each rank said it, the two lines run together, and
    # a rank could abort in gloo's teardown; new-user trial)
    code, _, err = torchrun("--manifest", str(manifest), "--features", str(store), "--out", str(run), "--epochs", "1",
                            "--hidden", "16", "--embed", "16", timeout=120)
    said = [x for x in err.splitlines() if "error: " in x]
    assert code != 0 and len(said) == 1 and said[0].startswith(f"error: {run} already holds a training run"), err
    assert "terminate called" not in err, err[-3000:]
    (run / "best.pt").unlink()
    for epochs, why in (("2", "last.pt is at epoch 1 but best.pt"), ("1", "the run finished at epoch 1 but its")):
        started = time.time()
        code, _, err = torchrun("--manifest", str(manifest), "--features", str(store), "--out", str(run), "--resume",
                                "--epochs", epochs, "--hidden", "16", "--embed", "16", timeout=120)
        said = [x for x in err.splitlines() if x.startswith("error: ")]
        assert code != 0 and len(said) == 1 and why in said[0], err[-3000:]
        assert time.time() - started < 20, err[-3000:]
        assert "Traceback (most recent call last)" not in err.split("error: ")[0], err[-3000:]


@pytest.mark.parametrize("case", ["damaged last.pt", "metric", "tag weight", "setting", "option"])
def test_torchrun_refusals_before_training_are_said_once(case, tmp_path):
    """Under torchrun, refusals every rank met alike before training, outside `Dist.agreed` (a --resume of a
    damaged last.pt, a --metric the data cannot give, --tag-weight 0 on tags alone), and those of the command line
    before the ranks connect (a setting out of range, an option argparse refuses), were printed once per rank,
    the lines run together. Now rank 0's line alone, and every rank exits 2."""
    manifest, store = make_store(tmp_path / "d", videos=12)
    out, extra, why = tmp_path / "ddp", [], ""
    if case == "damaged last.pt":
        out.mkdir()
        (out / "last.pt").write_bytes(b"\x00" * 64)
        extra, why = ["--resume"], f"{out / 'last.pt'}: "
    elif case in ("setting", "option"):  # (refused before the ranks connect: the command line alone)
        extra, why = (["--hidden", "0"], "--hidden must be at least 1") if case == "setting" else \
            (["--epochs", "x"], "argument --epochs: invalid int value")
    else:  # (tags alone: the captions dropped)
        manifest.write_text("".join(json.dumps({**json.loads(x), "captions": []}) + "\n"
                                    for x in manifest.read_text().splitlines()))
        extra, why = (["--metric", "CIDEr"], "--metric CIDEr: ") if case == "metric" else \
            (["--tag-weight", "0"], "--tag-weight 0 on data without captions")
    code, _, err = torchrun("--manifest", str(manifest), "--features", str(store), "--out", str(out), "--epochs", "1",
                            "--hidden", "16", "--embed", "16", *extra, timeout=120)
    said = [x for x in err.splitlines() if "error: " in x]
    assert code != 0 and len(said) == 1 and said[0].startswith(f"error: {why}"), err[-3000:]
    assert "exitcode: 2" in err and "exitcode: 1" not in err, err[-3000:]
    assert "Traceback (most recent call last)" not in err.split("error: ")[0], err[-3000:]


def test_torchrun_workers_end_when_the_launcher_is_killed(tmp_path):
    """SIGKILL to torchrun itself (`timeout -s KILL`, an OOM kill) left both ranks training on to the end as
    orphans, rank 0 holding the run folder's lock (hostile trial). Now a rank torchrun started is sent SIGTERM
    when torchrun dies (PR_SET_PDEATHSIG): each stops as it does on SIGTERM, and the lock is gone."""
    import signal
    import subprocess
    if not sys.platform.startswith("linux"):
        pytest.skip("PR_SET_PDEATHSIG is Linux's")
    manifest, store = make_store(tmp_path / "d", videos=12)
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    with open(tmp_path / "err", "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
                                 f"--master_port={free_port()}", "train.py", "--manifest", str(manifest), "--features",
                                 str(store), "--out", str(out), "--epochs", "100000", "--patience", "100000",
                                 "--hidden", "16", "--embed", "16"], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                                stderr=err, start_new_session=True)

    def state(pid: str) -> list[str]:  # (/proc/PID/stat after the command's name: state, ppid, ...)
        try:
            return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return ["gone"]

    ranks: list[str] = []  # (torchrun's children: it starts each in a session of its own)

    def workers() -> list[int]:  # (the ranks still alive)
        return [int(pid) for pid in ranks if state(pid)[0] not in ("gone", "Z", "X")]
    try:
        deadline = time.time() + 240
        while not (out / "metrics.csv").exists():  # (both ranks training: past the process group's start)
            assert proc.poll() is None and time.time() < deadline, (tmp_path / "err").read_text()[-3000:]
            time.sleep(0.5)
        assert (out / ".s2vt-train.lock").exists()
        ranks[:] = [pid for pid in os.listdir("/proc") if pid.isdigit() and state(pid)[1:2] == [str(proc.pid)]]
        assert len(ranks) == 2, ranks
        proc.kill()
        proc.wait()
        deadline = time.time() + 20
        while workers() and time.time() < deadline:
            time.sleep(0.5)
        assert not workers(), (tmp_path / "err").read_text()[-3000:]
        assert not (out / ".s2vt-train.lock").exists()
        assert "interrupted: " in (tmp_path / "err").read_text()
    finally:
        for pid in workers():
            os.kill(pid, signal.SIGKILL)


def test_torchrun_a_rank_of_tag_only_videos_beside_captioned_ones_trains(tmp_path):
    """2 gloo ranks on 8 training videos, 7 of them tags alone: a rank's batch of them alone leaves the caption
    decoder without gradients, which DDP, told every parameter is used (the split has captions), did not
    expect: the ranks' gradient reductions mismatched, and the run aborted in gloo ('Is there a distributed
    collective mismatch') or hung (hostile trial). Now it trains and refits."""
    manifest, store = make_store(tmp_path / "d", videos=12)
    entries = [json.loads(x) for x in manifest.read_text().splitlines()]
    train_ids = [e["video_id"] for e in entries if e["split"] == "train"]
    manifest.write_text("".join(json.dumps({**e, "captions": [] if e["video_id"] in train_ids[1:] else e["captions"]})
                                + "\n" for e in entries))
    out = tmp_path / "ddp"
    code, _, err = torchrun("--manifest", str(manifest), "--features", str(store), "--out", str(out), "--epochs", "2",
                            "--patience", "5", "--hidden", "16", "--embed", "16", "--min-count", "1", "--refit")
    assert code == 0, err[-3000:]
    assert "(8 items, 1 step an epoch)" in err and "refit epoch" in err, err[-3000:]
    assert len(rows(out)) == 2


@pytest.mark.parametrize("case", ["encoder", "guided", "nextvlad"])
def test_torchrun_tag_only_model_with_idle_parts_trains(tmp_path, case):
    """A tag-only model without LSTMs uses every parameter, so DDP is not told to look for unused ones (torch
    warned once a rank that it found none); but some tag-only models leave parts idle, which DDP must be told
    of: with --tag-input encoder the caption decoder's parts beside the encoder; in a text-only model the
    query of --text-fusion guided and a pooling head's pooling (no video steps to pool). Untold, both ranks
    failed on their second step ('Expected to have finished reduction in the prior iteration'; review)."""
    if case == "encoder":
        manifest, store = make_store(tmp_path / "d", videos=12)
        manifest.write_text("".join(json.dumps({**json.loads(x), "captions": []}) + "\n"
                                    for x in manifest.read_text().splitlines()))
        args = ["--features", str(store), "--tag-input", "encoder"]
    else:  # (text alone: no --features)
        manifest = tmp_path / "m.jsonl"
        manifest.write_text("".join(json.dumps({"video_id": f"v{i}", "split": "val" if i >= 32 else "train",
                                                "text": {"title": f"title {i % 2} word{i % 3}"},
                                                "tags": [f"level1:{i % 2}", "tag:common"]}) + "\n"
                                    for i in range(40)))
        args = ["--text-embed", "8", "--min-tag-count", "1"] + (
            ["--text-fusion", "guided"] if case == "guided" else ["--tag-head", "nextvlad"])
    code, _, err = torchrun("--manifest", str(manifest), "--out", str(tmp_path / "ddp"), "--epochs", "2",
                            "--hidden", "16", "--batch-size", "4", "--refit", *args)
    assert code == 0 and "refit epoch 1/" in err, err[-3000:]


def test_tag_only_and_caption_only(tmp_path, capsys):
    manifest, store = make_store(tmp_path / "d", videos=60)
    lines = [json.loads(x) for x in manifest.read_text().splitlines()]
    tag_only = tmp_path / "tags.jsonl"
    tag_only.write_text("".join(json.dumps({**e, "captions": []}) + "\n" for e in lines))
    capsys.readouterr()
    best = train(TrainConfig.of(str(tag_only), str(store), str(tmp_path / "t"), epochs=2, **{**FAST, "quiet": False}))
    assert "tag_acc" in best and "CIDEr" not in best
    head = capsys.readouterr().err.splitlines()[0]  # (tag-only data: no caption vocabulary to count)
    assert head.startswith("train ") and "vocab" not in head and "tags (single-label)" in head, head
    assert load_checkpoint(tmp_path / "t" / "best.pt")[3]["has_captions"] is False
    cap_only = tmp_path / "caps.jsonl"
    cap_only.write_text("".join(json.dumps({**e, "tags": []}) + "\n" for e in lines))
    capsys.readouterr()
    best = train(TrainConfig.of(str(cap_only), str(store), str(tmp_path / "c"), epochs=2, **{**FAST, "quiet": False}))
    assert "CIDEr" in best and "tag_acc" not in best
    head = capsys.readouterr().err.splitlines()[0]  # (caption-only data: no "0 tags (single-label)")
    assert head.startswith("train ") and "vocab" in head and "tags" not in head and "label" not in head, head
    assert load_checkpoint(tmp_path / "c" / "best.pt")[3]["has_captions"] is True


def test_a_video_without_captions_does_not_silence_the_caption_loss_of_its_batch(tmp_path):
    from s2vt.data import collate

    def item(vid, words):
        return {"video_id": vid, "feats": {"m": torch.ones(3, 2)}, "words": words, "tag": None, "refs": [],
                "text": None}

    batch = collate([item("a", torch.tensor([1, 5, 6, 2])), item("b", None)])
    assert batch["words"].tolist() == [[1, 5, 6, 2], [0, 0, 0, 0]]  # (<pad>: the loss ignores it)
    assert collate([item("b", None)])["words"] is None
    # one training video's captions removed, every item in one batch: the loss is still a caption loss
    manifest, store = make_store(tmp_path / "d", videos=40)
    lines = [json.loads(x) for x in manifest.read_text().splitlines()]
    one = next(i for i, e in enumerate(lines) if e["split"] == "train")
    holed = tmp_path / "holed.jsonl"
    holed.write_text("".join(json.dumps({**e, "captions": [] if i == one else e["captions"]}) + "\n"
                             for i, e in enumerate(lines)))
    kw = dict(epochs=1, **{**FAST, "batch_size": 4096, "lr": 0.0})
    train(TrainConfig.of(str(manifest), str(store), str(tmp_path / "all"), **kw))
    train(TrainConfig.of(str(holed), str(store), str(tmp_path / "holed"), **kw))
    full, holed_loss = (float(rows(tmp_path / r)[0]["train_loss"]) for r in ("all", "holed"))
    assert holed_loss == pytest.approx(full, rel=0.05)  # (the tag loss alone is a fraction of it)


def test_has_captions_is_recorded_and_checked(tmp_path):
    """A checkpoint says whether its decoder was trained; one from before that was recorded reads
    it from its vocabulary; a value that cannot be true is refused in one line."""
    manifest, store = make_store(tmp_path / "d", videos=24)
    train(TrainConfig.of(str(manifest), str(store), str(tmp_path / "run"), epochs=1, **FAST))
    ckpt = torch.load(tmp_path / "run" / "best.pt", weights_only=True)
    del ckpt["has_captions"]
    torch.save(ckpt, tmp_path / "old.pt")
    assert has_captions(read_checkpoint(tmp_path / "old.pt"))
    ckpt["vocab"], ckpt["config"]["vocab_size"] = ckpt["vocab"][:4], 4  # a tag-only model's vocabulary
    torch.save(ckpt, tmp_path / "old_tags.pt")
    assert not has_captions(read_checkpoint(tmp_path / "old_tags.pt"))
    for value, message in ((True, "the vocabulary has no words"), ("yes", "bad has_captions")):
        torch.save({**ckpt, "has_captions": value}, tmp_path / "bad.pt")
        with pytest.raises(CheckpointError, match=message):
            read_checkpoint(tmp_path / "bad.pt")


@pytest.mark.parametrize("fusion, sample_prob, smoothing", [("sum", 0.0, 0.0), ("gated", 0.5, 0.1)])
def test_fusion_and_sampling_options_train(planted, tmp_path, fusion, sample_prob, smoothing):
    best = train(TrainConfig.of(*map(str, planted), out=str(tmp_path / fusion), epochs=2, fusion=fusion,
                                sample_prob=sample_prob, **{**FAST, "label_smoothing": smoothing}))
    hist = rows(tmp_path / fusion)
    assert float(hist[1]["train_loss"]) < float(hist[0]["train_loss"])  # it learns with these options
    chosen = max(hist, key=lambda r: float(r["CIDEr"]))  # the first epoch of the best validation CIDEr
    assert best["epoch"] == int(chosen["epoch"]) and best["CIDEr"] == pytest.approx(float(chosen["CIDEr"]))



def test_caption_loss_weighs_each_caption_and_keeps_the_scale():
    from s2vt.model import caption_loss

    torch.manual_seed(0)
    logits, targets = torch.randn(2, 4, 7), torch.tensor([[3, 4, 2, 0], [5, 6, 6, 2]])  # 3 + 4 words
    plain = caption_loss(logits, targets, 0)
    assert caption_loss(logits, targets, 0, weight=torch.ones(2)).item() == pytest.approx(plain.item(), abs=1e-6)
    first = caption_loss(logits[:1], targets[:1], 0)  # (the mean over its 3 words)
    got = caption_loss(logits, targets, 0, weight=torch.tensor([2.0, 0.0]))
    assert got.item() == pytest.approx(2 * first.item() * 3 / 7, abs=1e-6)


def test_consensus_caption_weights_train_and_refit(planted, tmp_path, monkeypatch):
    import s2vt.data as data

    sizes, real = [], data.consensus_weights
    monkeypatch.setattr(data, "consensus_weights", lambda entries: sizes.append(len(entries)) or real(entries))
    best = train(TrainConfig.of(*map(str, planted), out=str(tmp_path / "run"), epochs=2,
                                **{**FAST, "caption_weights": "consensus", "refit": True}))
    hist = rows(tmp_path / "run")
    assert float(hist[1]["train_loss"]) < float(hist[0]["train_loss"]) and "CIDEr" in best
    lines = [json.loads(x) for x in planted[0].read_text().splitlines()]
    split = {s: sum(e["split"] == s for e in lines) for s in ("train", "val")}
    assert sizes == [split["train"], split["train"] + split["val"]]  # (the refit on train + val weighs too)



def test_the_caption_recipe_weighs_captions_by_consensus_and_an_older_run_resumes_without(planted, tmp_path):
    kw = {k: v for k, v in FAST.items() if k != "refit"}
    train(TrainConfig.of(*map(str, planted), out=str(tmp_path / "run"), epochs=2, stop_after=1, **kw))
    last = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    assert last["settings"]["caption_weights"] == "consensus"  # (the recipe's, for captions)
    del last["settings"]["caption_weights"]  # (a run begun before --caption-weights: every caption alike)
    torch.save(last, tmp_path / "run" / "last.pt")
    cfg = TrainConfig.of(*map(str, planted), out=str(tmp_path / "run"), epochs=2, resume=True, **kw)
    train(cfg)
    assert torch.load(tmp_path / "run" / "last.pt", weights_only=True)["settings"]["caption_weights"] == "none"



def test_consensus_weights_with_one_caption_per_video_is_refused_when_asked(tmp_path):
    """--caption-weights consensus beside --no-per-caption weighed nothing, silently (new-user trial): refused
    when the user asks for both; the caption recipe's own consensus stays idle there, unsaid."""
    with pytest.raises(ConfigError, match="^--caption-weights consensus weighs the captions of a video against"):
        TrainConfig.of("m.jsonl", "f", str(tmp_path / "r"), caption_weights="consensus", per_caption=False)
    assert TrainConfig.of("m.jsonl", "f", str(tmp_path / "r"), per_caption=False).caption_weights is None
    assert TrainConfig.of("m.jsonl", "f", str(tmp_path / "r"), caption_weights="none", per_caption=False)


def test_bad_inputs_exit_2(planted, tmp_path):
    manifest, store = planted
    cases = {
        "not valid JSON": ("{oops\n", None),
        "invalid video_id": (json.dumps({"video_id": "../x", "split": "train"}) + "\n", None),
        "the training split is empty (the manifest has only test (1)): import the videos with --split train":
            (json.dumps({"video_id": "syn00000", "split": "test", "captions": ["a b"]}) + "\n", None),
        "1 video has no features": (json.dumps({"video_id": "nothere", "split": "train", "captions": ["a b"]}) + "\n", None),
        "no features for": (manifest.read_text(), "resnet152"),
    }
    for i, (message, (text, modalities)) in enumerate(cases.items()):
        m = tmp_path / f"m{i}.jsonl"
        m.write_text(text)
        args = ["train.py", "--manifest", str(m), "--features", str(store), "--out", str(tmp_path / f"r{i}"),
                "--epochs", "1"] + (["--modalities", modalities] if modalities else [])
        proc = run_cli(*args)
        assert proc.returncode == 2, (message, proc.stderr[-2000:])
        assert message in proc.stderr and "Traceback" not in proc.stderr


def test_features_naming_no_store_is_one_line_saying_what_the_folder_is(tmp_path, capsys):
    """--features naming a folder of videos, a training run's folder or an empty folder printed 'modalities {}'
    and ended in a traceback (AttributeError: 'NoneType' object has no attribute 'mean'), exit 1 (hostile trial)."""
    from s2vt import cli

    manifest, _ = make_store(tmp_path / "d", videos=12)
    (tmp_path / "videos").mkdir()
    (tmp_path / "videos" / "a.mp4").write_bytes(b"")
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "best.pt").write_bytes(b"")
    (tmp_path / "empty").mkdir()
    (tmp_path / "npys").mkdir()  # (a release's precomputed features, not imported: "holds no feature files" was said)
    for v in ("a", "b", "c"):
        np.save(tmp_path / "npys" / f"{v}.npy", np.ones((2, 4), np.float32))
    for folder, what in (("videos", "it holds videos (a.mp4), not their features: extract them first"),
                         ("run", "it is a training run's folder (best.pt)"), ("empty", "it is empty"),
                         ("npys", f"it holds .npy files (a.npy, b.npy, ...) but no modality folder: import them first "
                                  f"(s2vt import features {tmp_path / 'npys'} --captions FILE --modality NAME")):
        features = str(tmp_path / folder)
        assert cli.main(["train", "--manifest", str(manifest), "--features", features, "--out",
                         str(tmp_path / f"out_{folder}"), "--epochs", "1"]) == 2, folder
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith(f"error: {features}: no features (the store has none): no "
                                                       "meta.json, so not a feature store"), err
        assert what in err and "python -m extract" in err and "s2vt import" in err, err
        assert not (tmp_path / f"out_{folder}").exists()
    # a folder whose name is not UTF-8: its byte in the command to paste, not the 4 characters \xff (trial 121)
    odd = tmp_path / "vid\udcffs"
    odd.mkdir()
    (odd / "a.mp4").write_bytes(b"")
    assert cli.main(["train", "--manifest", str(manifest), "--features", str(odd), "--out", str(tmp_path / "o"),
                     "--epochs", "1"]) == 2
    assert f"(python -m extract $'{tmp_path}/vid\\xffs' --out STORE)" in capsys.readouterr().err


def test_an_empty_training_split_is_said_before_missing_features(tmp_path, capsys):
    """A manifest of val videos alone, on a store without their features, was told to pass --skip-missing, which
    led to the refusal of its empty training split, the problem from the start (trial 64): that comes first."""
    from s2vt import cli

    manifest, features = make_store(tmp_path / "d", videos=8, shapes={"resnet152": (2, 4)})
    entries = [json.loads(x) for x in manifest.read_text().splitlines()]
    manifest.write_text("".join(json.dumps({**e, "video_id": f"other{i}", "split": "val"}) + "\n"
                                for i, e in enumerate(entries)))
    assert cli.main(["train", "--manifest", str(manifest), "--features", str(features), "--out",
                     str(tmp_path / "run"), "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {manifest}: the training split is empty (the manifest has only val (8)): "), err
    assert "--skip-missing" not in err and not (tmp_path / "run").exists()


def test_empty_training_split_says_what_the_manifest_has():
    """A manifest imported whole as val (MSR-VTT's val file) said only "the training split is empty"."""
    from s2vt.data import empty_training_split

    only_val = str(empty_training_split("m.jsonl", {"train": 0, "val": 497, "test": 0}))
    assert only_val.startswith("m.jsonl: the training split is empty (the manifest has only val (497)): ")
    assert "--split train" in only_val and "--val N" in only_val
    assert "only val (400) and test (97)" in str(empty_training_split("m.jsonl", {"train": 0, "val": 400, "test": 97}))
    skipped = str(empty_training_split("m.jsonl", {"train": 3, "val": 1, "test": 0}))
    assert "none of its 3 training videos has features (--skip-missing" in skipped


def test_an_empty_training_split_advises_only_options_its_importers_have(tmp_path, capsys):
    """Training on an `s2vt import folder` manifest (its videos in test, no captions or tags) advised "import the
    videos with --split train", an option import folder does not have (hostile trial): the line says such a
    manifest has nothing to train on, and names the importers that take --split and --val/--test."""
    from s2vt import cli
    from s2vt.data import empty_training_split

    _, store = make_store(tmp_path / "d", videos=12)
    (tmp_path / "v").mkdir()
    (tmp_path / "v" / "a.mp4").write_bytes(b"")
    assert cli.main(["import", "folder", str(tmp_path / "v"), "--out", str(tmp_path / "m.jsonl")]) == 0
    capsys.readouterr()
    assert cli.main(["train", "--manifest", str(tmp_path / "m.jsonl"), "--features", str(store), "--out",
                     str(tmp_path / "run"), "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "the training split is empty (the manifest has only test (1)), and none of " \
        "its videos has a caption or a tag to learn from (videos for a trained model to answer for, as s2vt import " \
        "folder, or import features of clips without captions, writes them)" in err, err
    assert "--split train" not in err, err
    said = str(empty_training_split("m.jsonl", {"train": 0, "val": 497, "test": 0}))
    assert ("--split train (s2vt import msrvtt, yt8m or features)" in said
            and "--val N / --test N (s2vt import msrvtt, lic2022, mlds or features)" in said), said


def test_attention_and_log_features_train_and_old_checkpoints_load(planted, tmp_path):
    # attention is the default; the sign-log features are not
    train(TrainConfig.of(*map(str, planted), out=str(tmp_path / "att"), epochs=2, log_features=True, **FAST))
    hist = rows(tmp_path / "att")
    assert float(hist[1]["train_loss"]) < float(hist[0]["train_loss"])
    model, *_ = load_checkpoint(tmp_path / "att" / "best.pt")
    assert model.cfg.attention and model.cfg.log_features
    # a checkpoint from before these options (no such config keys) loads as the model it was
    train(TrainConfig.of(*map(str, planted), out=str(tmp_path / "old"), epochs=1, attention=False, **FAST))
    ckpt = torch.load(tmp_path / "old" / "best.pt", weights_only=True)
    del ckpt["config"]["attention"], ckpt["config"]["log_features"]
    torch.save(ckpt, tmp_path / "old.pt")
    model, *_ = load_checkpoint(tmp_path / "old.pt")
    assert not model.cfg.attention and not model.cfg.log_features
    # the attention switch without its weights is refused in one line, not a traceback
    ckpt["config"]["attention"] = True
    torch.save(ckpt, tmp_path / "forged.pt")
    with pytest.raises(CheckpointError, match="forged.pt"):
        load_checkpoint(tmp_path / "forged.pt")


def test_early_stopping_counts_checks_without_improvement():
    stop = EarlyStopping(patience=2)
    assert [stop.step(x) for x in (0.5, 0.7, 0.7, 0.6)] == [True, True, False, False]  # a tie is no improvement
    assert stop.stop and stop.best == 0.7 and stop.bad == 2
    low = EarlyStopping(patience=3, mode="min", best=1.0, bad=2)  # a resumed run's state
    assert not low.stop and low.step(0.9) and low.bad == 0 and not low.step(float("nan"))


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """A built (not trained) run on 48 planted videos."""
    manifest, store = make_store(tmp_path_factory.mktemp("small"), videos=48, signal=True)
    out = tmp_path_factory.mktemp("small_run")
    return build(TrainConfig.of(str(manifest), str(store), str(out / "run"), epochs=3, **FAST))


def test_train_one_epoch_lowers_the_loss(small_run):
    r = small_run
    losses = []
    for epoch in (1, 2, 3):
        r.train_ds.set_epoch(epoch)
        r.sampler.set_epoch(epoch)
        total, steps, seen = train_one_epoch(r.net, r.epoch_batches(), r.optim, r.sched, r.cfg, r.vocab.pad,
                                             r.model.cfg.multilabel, r.groups, r.device)
        losses.append(total / steps)
        assert seen == len(r.train_ds)
    assert losses[2] < losses[1] < losses[0]


def test_validate_returns_metrics_and_leaves_the_model_alone(small_run):
    r = small_run
    before = r.model.cfg.tag_threshold
    val = validate(r.model, r.val_loader, r.vocab, r.labels, r.device)
    assert set(val) == {"CIDEr", "examples", "tag_acc"} and 0 <= val["tag_acc"] <= 1
    assert set(val["examples"]) <= {e["video_id"] for e in r.val_ds.entries}
    assert r.model.cfg.tag_threshold == before and not r.model.training


def test_validate_returns_the_threshold_it_chose_for_multilabel_tags(tmp_path):
    manifest, store = make_store(tmp_path / "d", videos=48)
    entries = [json.loads(x) for x in manifest.read_text().splitlines()]
    manifest.write_text("".join(json.dumps({**e, "captions": [], "tags": e["tags"] + [e["captions"][0].split()[1]]})
                                + "\n" for e in entries))  # two tags a video: its motion and its colour
    r = build(TrainConfig.of(str(manifest), str(store), str(tmp_path / "run"), epochs=1, **FAST))
    val = validate(r.model, r.val_loader, r.vocab, r.labels, r.device)
    assert set(val) == {"tag_acc", "gap", "tag_f1", "tag_threshold"} and 0.05 <= val["tag_threshold"] <= 0.95
    assert r.model.cfg.tag_threshold == 0.5  # chosen, returned, not set: train() sets it


def test_a_checkpoint_written_before_the_architecture_settings_loads_as_it_was_trained(tmp_path):
    """A flat `config` of the first format's keys only: the keys added since take the values the
    model had then (ModelConfig.former), not today's defaults (attention, context, wide path on)."""
    from s2vt.checkpoint import CHECKPOINT_FORMAT
    from s2vt.model import ModelConfig, S2VT
    first = dict(modalities={"frames": 8}, vocab_size=6, num_tags=2, hidden=16, embed=16, enc_len=5,
                 fusion="concat", dropout=0.3, multilabel=False, tag_threshold=0.5, pad_id=0)
    torch.manual_seed(0)
    old = S2VT(ModelConfig.former(**first)).eval()
    ckpt = {"format": CHECKPOINT_FORMAT, "model": old.state_dict(), "config": dict(first),
            "vocab": ["<pad>", "<bos>", "<eos>", "<unk>", "a", "b"], "labels": ["x", "y"], "extract": {}, "epoch": 1}
    torch.save(ckpt, tmp_path / "first.pt")
    model, *_ = load_checkpoint(tmp_path / "first.pt")
    assert (model.cfg.context, model.cfg.attention, model.cfg.text_wide, model.cfg.text_linear, model.cfg.tag_head,
            model.cfg.tag_input, model.cfg.enc_len) == (False, False, False, False, "mlp", "encoder", 5)
    feats, lengths = {"frames": torch.randn(2, 7, 8)}, {"frames": torch.tensor([7, 3])}
    with torch.no_grad():
        assert torch.equal(model(feats, lengths)[1], old(feats, lengths)[1])


def test_architecture_settings_live_in_the_model_config_and_the_recipe_fills_them(tmp_path):
    manifest, store = make_store(tmp_path / "d", videos=30)
    cfg = TrainConfig.of(str(manifest), str(store), str(tmp_path / "run"), hidden=None, embed=16, enc_len=5,
                         tag_head=None, min_count=1, quiet=True)
    assert cfg.model.embed == 16 and not hasattr(cfg, "embed")
    r = build(cfg)
    from s2vt.config import RECIPES
    # the recipe's hidden and tag head, the data's sizes; the settings given kept
    assert (r.model.cfg.hidden, r.model.cfg.tag_head) == \
        (RECIPES["captions"]["hidden"], RECIPES["captions"]["tag_head"])
    assert (r.model.cfg.embed, r.model.cfg.enc_len, r.model.cfg.vocab_size) == (16, 5, len(r.vocab))
    assert r.model.cfg.modalities == {"frames": 32, "audio": 16} and r.cfg.model.vocab_size == 0  # settings only


def test_ctrl_c_during_training_exits_130_with_one_line(tmp_path):
    """Ctrl-C while train.py trains (after "epoch 2:", so epoch 1 was saved): no traceback, exit 130,
    one line naming the last.pt kept (docs/usage.md, exit codes)."""
    import signal
    import subprocess

    manifest, store = make_store(tmp_path, videos=40, shapes={"resnet152": (4, 16)})
    log = tmp_path / "stderr.txt"
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    with open(log, "w") as err:
        proc = subprocess.Popen([sys.executable, "train.py", "--manifest", str(manifest), "--features", str(store),
                                 "--out", str(tmp_path / "run"), "--epochs", "100000", "--patience", "100000",
                                 "--hidden", "16", "--embed", "16", "--batch-size", "2", "--min-count", "1"],
                                cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=err)
        try:
            deadline = time.time() + 300
            while "epoch 2:" not in log.read_text() and proc.poll() is None and time.time() < deadline:
                time.sleep(0.2)
            assert proc.poll() is None, log.read_text()[-2000:]
            proc.send_signal(signal.SIGINT)
            rc = proc.wait(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
    text = log.read_text()
    assert rc == 130, text[-2000:]
    assert "Traceback" not in text and "KeyboardInterrupt" not in text, text[-2000:]
    last = text.strip().splitlines()[-1]
    epoch = read_checkpoint(tmp_path / "run" / "last.pt")["epoch"]
    assert last.startswith("interrupted: ") and f"last.pt kept at epoch {epoch}" in last and "--resume" in last
    # the command to paste: the same one, with --resume (new-user trial: it said only "rerun ... with --resume")
    assert "to continue: " in last and "train.py --manifest" in last and last.endswith("--min-count 1 --resume"), last


def test_resume_command_is_the_command_with_resume_and_without_overwrite(monkeypatch):
    from s2vt.cli import resume_command

    monkeypatch.setattr(sys, "argv", ["train.py"])
    assert resume_command(["train", "--out", "r 1", "--overwrite"]).endswith("train.py --out 'r 1' --resume")
    assert resume_command(["train", "--out", "r", "--resume"]).endswith("train.py --out r --resume")
    assert resume_command(["train", "--resume", "--out", "r", "--no-resume"]).endswith("train.py --out r --resume")
    monkeypatch.setenv("WORLD_SIZE", "2")  # (torchrun's command is its launcher's, not this process's)
    assert resume_command(["train", "--out", "r"]) == ""


def test_only_rank_0_says_interrupted(tmp_path):
    from s2vt.cli import interrupted_line

    assert interrupted_line(str(tmp_path / "new"), 0.0, 0) == \
        "interrupted: no epoch finished, nothing saved: rerun the same command to start again"
    assert interrupted_line(str(tmp_path / "new"), 0.0, 1) is None  # torchrun's other ranks stay quiet
    assert interrupted_line(str(tmp_path / "new"), 0.0, 3) is None


def test_kept_by_train_before_any_epoch(tmp_path):
    from s2vt.cli import kept_by_train

    assert kept_by_train(str(tmp_path / "new"), 0.0) == \
        "no epoch finished, nothing saved: rerun the same command to start again"
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "last.pt").write_bytes(b"x")
    assert "holds the earlier run" in kept_by_train(str(tmp_path / "old"), time.time() + 60)


def test_kept_by_train_best_saved_but_not_last(tmp_path):
    """Ctrl-C after the first epoch's best.pt, before its last.pt: the line says best.pt is there and
    advises --overwrite (--resume would be refused: no last.pt), and a plain rerun advises it too."""
    from s2vt.cli import kept_by_train
    from s2vt.resume import RunFolderError, resume_point

    run = tmp_path / "run"
    run.mkdir()
    (run / "best.pt").write_bytes(b"a model")  # (unreadable: the line names no epoch then)
    line = kept_by_train(str(run), time.time() - 60)
    assert "nothing saved" not in line and "best.pt saved, but not last.pt" in line and "--overwrite" in line
    assert "--resume" not in line.replace("cannot be resumed", "")
    (run / "last.pt").write_bytes(b"an earlier run's")
    os.utime(run / "last.pt", (0, 0))  # (older than this run: the earlier one's)
    assert "best.pt saved" in kept_by_train(str(run), time.time() - 60)
    (run / "last.pt").unlink()
    with pytest.raises(RunFolderError) as e:
        resume_point(TrainConfig.of("m.jsonl", "f", str(run)))
    assert "--overwrite" in str(e.value) and "pass --resume" not in str(e.value)
    # a last.pt that is a link to nothing, or a loop, is said as such to --resume, not missing (trial 102)
    (run / "last.pt").symlink_to("gone.pt")
    with pytest.raises(RunFolderError, match=r"needs last.pt, which is a broken symbolic link \(to gone.pt"):
        resume_point(TrainConfig.of("m.jsonl", "f", str(run), resume=True))
    (run / "last.pt").unlink()
    (run / "last.pt").symlink_to("last.pt")
    with pytest.raises(RunFolderError, match="needs last.pt, which is a symbolic link loop"):
        resume_point(TrainConfig.of("m.jsonl", "f", str(run), resume=True))


def test_a_signal_between_best_and_last_waits_for_both(tmp_path, monkeypatch):
    """Ctrl-C (or SIGTERM) while epoch 1's best.pt was written left no last.pt: a run --resume refused.
    The signal is held until both are written, then interrupts; the run resumes."""
    import signal

    import s2vt.engine as engine

    manifest, store = make_store(tmp_path / "d", videos=40)
    kw = dict(epochs=2, patience=10, **{**FAST, "hidden": 16, "embed": 16, "enc_len": 6})
    run = tmp_path / "run"
    real = engine.write_checkpoints
    written = []

    def save_then_signal(parts):
        def signalling(path, make):
            def made():
                checkpoint = make()
                if path.name == "best.pt":  # (the moment the old code stopped at: best.pt made, last.pt not)
                    os.kill(os.getpid(), signal.SIGINT)
                return checkpoint
            return path, made
        real([signalling(path, make) for path, make in parts])
        written.extend(path.name for path, _ in parts)

    monkeypatch.setattr(engine, "write_checkpoints", save_then_signal)
    with pytest.raises(KeyboardInterrupt):
        train(TrainConfig.of(str(manifest), str(store), str(run), **kw))
    assert written == ["best.pt", "last.pt"]  # interrupted after both, before epoch 2
    # (and after the epoch's metrics.csv and curves.png: Ctrl-C six times after "epoch 1" left a run folder
    # without them, hostile trial)
    assert [int(r["epoch"]) for r in rows(run)] == [1] and (run / "curves.png").stat().st_size > 0
    assert read_checkpoint(run / "last.pt")["epoch"] == 1 == read_checkpoint(run / "best.pt")["epoch"]
    monkeypatch.setattr(engine, "write_checkpoints", real)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # (put back as it was)
    train(TrainConfig.of(str(manifest), str(store), str(run), resume=True, **kw))
    assert [int(r["epoch"]) for r in rows(run)] == [1, 2] and read_checkpoint(run / "last.pt")["epoch"] == 2


def test_interrupts_held_delivers_sigterm_as_terminated_after_the_block():
    import signal
    import threading

    from s2vt.errors import Terminated, interrupts_held, terminate_as_interrupt

    done = []
    with terminate_as_interrupt() as terminated:
        with pytest.raises(Terminated):
            with interrupts_held():
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(0.05)  # (a handler would have run by now)
                done.append("block")
        assert done == ["block"] and terminated == [True]
    # outside the main thread the block runs as it is (no handler can be set there)
    thread = threading.Thread(target=lambda: done.append(interrupts_held().__enter__()))
    thread.start()
    thread.join()
    assert done == ["block", None]


def test_resume_on_features_extracted_otherwise_is_refused(tmp_path):
    """--resume with a store of other extraction settings than the run's (as `evaluate` refuses it):
    one line, before an epoch trains on a mix of the two."""
    import shutil

    from s2vt.store import StoreError

    manifest, store = make_store(tmp_path / "d", videos=40, shapes={"resnet152": (6, 16)})
    meta = json.loads((store / "meta.json").read_text())
    (store / "meta.json").write_text(json.dumps({**meta, "frames": 4}))
    kw = dict(epochs=2, patience=10, **{**FAST, "hidden": 16, "embed": 16, "enc_len": 6})
    train(TrainConfig.of(str(manifest), str(store), str(tmp_path / "run"), stop_after=1, **kw))
    other = tmp_path / "other"
    shutil.copytree(store, other)
    (other / "meta.json").write_text(json.dumps({**meta, "frames": 2}))
    before = (tmp_path / "run" / "last.pt").read_bytes()
    with pytest.raises(StoreError, match=r"--resume: .*meta.json: frames=2 but the checkpoint was trained on frames=4") \
            as refused:
        train(TrainConfig.of(str(manifest), str(other), str(tmp_path / "run"), resume=True, **kw))
    # the store is another folder than the run's: named first, as the likelier cause (a hostile trial)
    assert str(refused.value).startswith(f"--resume: the run in {tmp_path / 'run'} started with --features {store}, "
                                         "not this command's: pass the data it trained on"), refused.value
    # a setting's difference is not the data's: said alone, whatever store is given
    with pytest.raises(CheckpointError) as refused:
        train(TrainConfig.of(str(manifest), str(other), str(tmp_path / "run"), resume=True, **{**kw, "hidden": 24}))
    assert str(refused.value).startswith(f"--resume: {tmp_path / 'run' / 'last.pt'} was trained with hidden=16"), \
        refused.value
    assert (tmp_path / "run" / "last.pt").read_bytes() == before and len(rows(tmp_path / "run")) == 1
    best = train(TrainConfig.of(str(manifest), str(store), str(tmp_path / "run"), resume=True, **kw))  # its own: fine
    assert best and len(rows(tmp_path / "run")) == 2


def tag_only(tmp_path, videos=60, signal=False):
    """A tag-only manifest (the tag-only recipe, which refits by default) and its store."""
    manifest, store = make_store(tmp_path / "d", videos=videos, signal=signal)
    lines = [json.loads(x) for x in manifest.read_text().splitlines()]
    tags = tmp_path / "tags.jsonl"
    tags.write_text("".join(json.dumps({**e, "captions": []}) + "\n" for e in lines))
    return tags, store, {s: sum(e["split"] == s for e in lines) for s in ("train", "val")}


def test_a_resume_into_a_folder_without_a_run_warns_even_when_quiet(tmp_path, capsys):
    """--resume where no last.pt is (a typo in --out, or a run stopped before its first epoch ended) starts a
    new run: said in a warning line, which --quiet keeps (it was a note that --quiet dropped; a hostile trial)."""
    manifest, store = make_store(tmp_path / "d", videos=24, shapes={"rgb": (4, 8)})
    train(TrainConfig.of(str(manifest), str(store), str(tmp_path / "typo"), resume=True, epochs=1,
                         **{**FAST, "hidden": 16, "embed": 16}))
    err = capsys.readouterr().err.splitlines()
    assert err == [f"warning: --resume: no {tmp_path / 'typo' / 'last.pt'} to resume from: starting a new run there "
                   "(is --out the run's?)"], err
    assert (tmp_path / "typo" / "last.pt").is_file()


def test_a_step_pooling_head_on_video_level_features_is_warned_of(tmp_path, capsys):
    """--tag-head nextvlad / attention on one row a video (YouTube-8M video-level) trained silently: one
    warning (a hostile trial); on features of several rows a video, none."""
    kw = dict(epochs=1, **{**FAST, "hidden": 16, "quiet": False, "neighbours": False})
    for rows_a_video, warned in ((1, True), (4, False)):
        manifest, store = make_store(tmp_path / f"d{rows_a_video}", videos=30, shapes={"rgb": (rows_a_video, 8)})
        lines = [json.loads(x) for x in manifest.read_text().splitlines()]
        manifest.write_text("".join(json.dumps({**e, "captions": []}) + "\n" for e in lines))
        train(TrainConfig.of(str(manifest), str(store), str(tmp_path / f"run{rows_a_video}"), tag_head="attention",
                             **kw))
        said = [x for x in capsys.readouterr().err.splitlines() if "one row a video" in x]
        assert said == ([] if not warned else [
            "warning: --tag-head attention pools a video's steps, and these features are one row a video (video-level): "
            "it pools a single step, of the fused features (the tag-only recipe's 4 MLPs on the features need a "
            "mean-pooling head: mlp or moe)"]), said
    # resumed once finished: it trains nothing, and the warning (said when it trained) is not said again
    train(TrainConfig.of(str(tmp_path / "d1" / "manifest.jsonl"), str(tmp_path / "d1" / "features"),
                         str(tmp_path / "run1"), tag_head="attention", resume=True, **kw))
    assert "one row a video" not in capsys.readouterr().err


def test_refit_trains_on_train_and_val_for_the_chosen_epochs_and_keeps_the_val_metrics(tmp_path, capsys):
    manifest, store, n = tag_only(tmp_path)
    kw = dict(epochs=4, patience=10, **{**FAST, "hidden": 16, "quiet": False, "refit": None})
    best = train(TrainConfig.of(str(manifest), str(store), str(tmp_path / "refit"), **kw))
    err = capsys.readouterr().err
    plain = train(TrainConfig.of(str(manifest), str(store), str(tmp_path / "plain"), **{**kw, "refit": False}))
    assert "refit" not in capsys.readouterr().err  # --no-refit: today's run
    refit = torch.load(tmp_path / "refit" / "best.pt", weights_only=True)
    was = torch.load(tmp_path / "plain" / "best.pt", weights_only=True)
    epochs, videos = was["epoch"], n["train"] + n["val"]
    # e* epochs from scratch on train + val, every video once an epoch
    lines = [x for x in err.splitlines() if x.startswith("refit epoch ")]
    assert [x.split(":")[0] for x in lines] == [f"refit epoch {k}/{epochs}" for k in range(1, epochs + 1)]
    assert all(f", {videos} items, " in x for x in lines) and 0 < n["val"] < videos
    assert f"(val, before the refit on the {videos} train + val videos)" in err
    assert refit["refit"] == {"videos": videos, "epochs": epochs, "ids": refit["refit"]["ids"]} and "refit" not in was
    lines = map(json.loads, manifest.read_text().splitlines())
    assert sorted(refit["refit"]["ids"]) == sorted(e["video_id"] for e in lines if e["split"] in ("train", "val"))
    # the val metrics, epoch, threshold and labels of the train-only run; other weights
    timing = ("seconds", "samples_per_s")
    untimed = lambda m: {k: v for k, v in m.items() if k not in timing}  # noqa: E731
    assert untimed(best) == untimed(plain) == untimed(refit["metrics"]) == untimed(was["metrics"])
    assert refit["epoch"] == was["epoch"] and refit["config"] == was["config"] and refit["labels"] == was["labels"]
    head = [k for k in was["model"] if k.startswith("tag_head.") and k.endswith(".weight")]
    assert head and not any(torch.equal(refit["model"][k], was["model"][k]) for k in head)
    # the feature statistics stay the training split's
    assert all(torch.equal(refit["model"][k], was["model"][k]) for k in was["model"] if ".mean_" in k or ".std_" in k)
    # evaluate on val scores the refitted model's own training videos: said; the train-only one: not
    from s2vt.predict import evaluate
    for run, said in (("refit", True), ("plain", False)):
        evaluate(str(tmp_path / run / "best.pt"), str(manifest), str(store), "val", out=str(tmp_path / f"{run}.json"))
        err = capsys.readouterr().err
        assert (f"{n['val']} of {n['val']} videos of split val were training videos of" in err
                and "refitted on train + val" in err) == said, err


def test_a_refit_checkpoint_without_ids_warns_on_train_and_val(tmp_path, capsys):
    """A tag-only best.pt refitted on train + val by an s2vt that recorded no ids (`refit` with `videos`
    alone, no `training_ids`) was evaluated on split train without a warning, though it trained on every
    video scored (hostile trial): train and val are both said, conditionally, with why no ids are listed."""
    from s2vt.predict import evaluate

    manifest, store, n = tag_only(tmp_path)
    run = tmp_path / "run"
    train(TrainConfig.of(str(manifest), str(store), str(run), epochs=1, **{**FAST, "hidden": 16, "refit": None}))
    ckpt = torch.load(run / "best.pt", weights_only=True)
    del ckpt["refit"]["ids"]  # as that s2vt wrote it
    ckpt.pop("training_ids", None)
    torch.save(ckpt, run / "best.pt")
    capsys.readouterr()
    for split in ("train", "val"):
        evaluate(str(run / "best.pt"), str(manifest), str(store), split, out=str(tmp_path / f"{split}.json"))
        warned = [x for x in capsys.readouterr().err.splitlines() if x.startswith("warning:")]
        assert warned == [f"warning: {run / 'best.pt'} was refitted on train + val ({n['train'] + n['val']} videos) "
                          "and does not record their ids (written before s2vt recorded them, or streamed from shards "
                          "without them): if this is the manifest "
                          f"it was trained on, split {split} is among its training videos, so these scores are "
                          "optimistic" + (" (best.pt's own val metrics are those from before the refit)"
                                          if split == "val" else "")], warned


def test_a_refit_after_a_resume_with_more_epochs_replays_the_schedule_its_epochs_were_trained_on(
        tmp_path, monkeypatch):
    """Resumed with --epochs 5 after 2 epochs of --epochs 2, the refit ran every epoch on the 5-epoch
    cosine: its first epochs at learning rates the selected epoch's weights never trained at."""
    from s2vt import engine, epoch, finish

    manifest, store, _ = tag_only(tmp_path, videos=120, signal=True)  # (learnable: val picks a later epoch)
    started = []  # (the epoch's label, the learning rate of its first step)
    trained = epoch.train_one_epoch

    def recorded(*args):
        started.append((args[9], args[2].param_groups[0]["lr"]))
        return trained(*args)
    monkeypatch.setattr(engine, "train_one_epoch", recorded)  # (the run's epochs)
    monkeypatch.setattr(finish, "train_one_epoch", recorded)  # (the refit's)
    kw = dict(patience=10, **{**FAST, "hidden": 16, "refit": None})
    train(TrainConfig.of(str(manifest), str(store), str(tmp_path / "run"), epochs=2, **{**kw, "refit": False}))
    train(TrainConfig.of(str(manifest), str(store), str(tmp_path / "run"), epochs=5, resume=True, **kw))
    epochs = torch.load(tmp_path / "run" / "best.pt", weights_only=True)["refit"]["epochs"]
    trained_at = [lr for desc, lr in started if desc.startswith("epoch ")]
    refit_at = [lr for desc, lr in started if desc.startswith("refit epoch ")]
    assert len(trained_at) == 5 and len(refit_at) == epochs >= 3
    # (epoch 1 begins in the warmup, whose steps are the refit's own, more, per epoch: not compared)
    assert refit_at[1:] == pytest.approx(trained_at[1:epochs])
    assert trained_at[2] < trained_at[1]  # (the old schedule's last step: not what a 5-epoch cosine gives there)
    assert epoch.refit_lr_factor(TrainConfig.of("m", "f", "o", epochs=5), 4, [
        {"epoch": 1, "schedule_epochs": 2}, {"epoch": 2, "schedule_epochs": 2}, {"epoch": 3, "schedule_epochs": 5}
    ])(8) == pytest.approx(0.05)  # (the first step of epoch 3: the 2-epoch cosine's end, as training ran it)


def test_the_caption_recipe_refits_and_its_memory_is_built_from_the_refitted_weights(planted, tmp_path, capsys):
    from s2vt.data import VideoDataset, batches
    from s2vt.manifest import read_manifest
    from s2vt.store import FeatureStore

    kw = dict(epochs=1, **{**FAST, "hidden": 16, "embed": 16, "quiet": False, "refit": None})
    train(TrainConfig.of(*map(str, planted), out=str(tmp_path / "caps"), **kw))
    err = capsys.readouterr().err
    assert "refit epoch 1/1: " in err and err.index("refit epoch 1/1: ") < err.index("caption memory for consensus")
    refit = torch.load(tmp_path / "caps" / "best.pt", weights_only=True)
    train(TrainConfig.of(*map(str, planted), out=str(tmp_path / "plain"), **{**kw, "refit": False}))  # --no-refit
    assert "refit" not in capsys.readouterr().err
    plain = torch.load(tmp_path / "plain" / "best.pt", weights_only=True)
    videos = sum(e["split"] in ("train", "val") for e in read_manifest(planted[0]))
    assert refit["refit"] == {"videos": videos, "epochs": 1, "ids": refit["memory"]["ids"]} and "refit" not in plain
    # the memory's keys are the refitted model's summaries of the train + val videos, not the train-only one's
    model, vocab, _, _ = load_checkpoint(tmp_path / "caps" / "best.pt")
    ids = refit["memory"]["ids"][:8]
    entries = {e["video_id"]: e for e in read_manifest(planted[0])}
    ds = VideoDataset([entries[v] for v in ids], FeatureStore(planted[1]), model.cfg.modalities, vocab, None)
    batch = next(iter(batches(ds, 8)))
    with torch.no_grad():
        keys = model.summary(batch["feats"], batch["lengths"]).half()
    assert torch.allclose(refit["memory"]["keys"][:8].float(), keys.float(), atol=1e-2)
    assert not torch.allclose(plain["memory"]["keys"][:8].float(), keys.float(), atol=1e-2)


def killed_in_the_refit(monkeypatch, cfg: TrainConfig) -> None:
    """Train `cfg` with a Ctrl-C at its first refit epoch (its train-only best.pt written), then
    give train_one_epoch back."""
    import s2vt.finish as finish  # (the refit's epochs: finish.refit_network)

    real = finish.train_one_epoch

    def killed(*args, **kwargs):
        if kwargs.get("desc", args[9] if len(args) > 9 else "").startswith("refit"):
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(finish, "train_one_epoch", killed)
    with pytest.raises(KeyboardInterrupt):
        train(cfg)
    monkeypatch.setattr(finish, "train_one_epoch", real)


def test_resume_of_a_caption_run_from_before_text_linear_says_nothing_of_it(tmp_path, capsys):
    """A caption run without text, its last.pt written before --text-linear existed: --resume warned "written
    before --text-linear existed ... (--no-text-linear)", a setting of a text branch the run has not got
    (hostile trial). Said only where the run has text (tests/test_text.py covers that warning)."""
    manifest, store = make_store(tmp_path / "d", videos=40)
    kw = dict(epochs=2, **{**FAST, "hidden": 16, "embed": 16, "quiet": False})
    train(TrainConfig.of(str(manifest), str(store), str(tmp_path / "run"), stop_after=1, **kw))
    last = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    del last["config"]["text_linear"], last["settings"]["text_linear"]  # as that s2vt wrote it
    torch.save(last, tmp_path / "run" / "last.pt")
    capsys.readouterr()
    train(TrainConfig.of(str(manifest), str(store), str(tmp_path / "run"), resume=True, **kw))
    err = capsys.readouterr().err
    assert f"resuming from {tmp_path / 'run' / 'last.pt'} at epoch 2" in err, err
    assert "text-linear" not in err and "existed" not in err, err


def test_a_caption_run_killed_in_its_refit_resumes_with_its_own_settings_whatever_the_command_says(
        tmp_path, monkeypatch, capsys):
    """--resume of a run killed in its refit: the refit and the memory after it use last.pt's
    settings (the warning calls the command's changes ignored: they are), so best.pt is the
    unbroken run's, memory included."""
    manifest, store = make_store(tmp_path / "d", videos=40)
    kw = dict(epochs=2, patience=10, **{**FAST, "hidden": 16, "embed": 16, "refit": None})
    train(TrainConfig.of(str(manifest), str(store), str(tmp_path / "whole"), **kw))
    killed_in_the_refit(monkeypatch, TrainConfig.of(str(manifest), str(store), str(tmp_path / "run"), **kw))
    capsys.readouterr()
    changed = {**kw, "refit": False, "batch_size": 8, "seed": 7, "label_smoothing": 0.2, "epochs": 1, "quiet": False}
    train(TrainConfig.of(str(manifest), str(store), str(tmp_path / "run"), resume=True, **changed))
    err = capsys.readouterr().err
    assert "ignored (the run has finished, so nothing uses them): " in err and "--no-refit (last.pt: --refit)" in err
    whole, run = (read_checkpoint(tmp_path / r / "best.pt") for r in ("whole", "run"))
    assert run["refit"] == whole["refit"]
    assert all(torch.equal(run["model"][k], v) for k, v in whole["model"].items())
    assert torch.equal(run["memory"]["keys"], whole["memory"]["keys"])  # (built after the refit, from its weights)


def test_a_run_killed_during_the_refit_keeps_its_best_pt_and_resume_refits(tmp_path, monkeypatch, capsys):
    """(and its --resume said first "nothing to train", then refitted for minutes (hostile trial): its first line
    says it refits)"""
    manifest, store, n = tag_only(tmp_path)
    kw = dict(epochs=2, patience=10, **{**FAST, "hidden": 16, "refit": None})
    killed_in_the_refit(monkeypatch, TrainConfig.of(str(manifest), str(store), str(tmp_path / "run"), **kw))
    before = read_checkpoint(tmp_path / "run" / "best.pt")
    assert "refit" not in before and not list((tmp_path / "run").glob(".*.tmp-*"))  # the train-only best.pt, whole
    (tmp_path / "run" / "preds_test.json").write_text("{}")  # (evaluate's, of the stopped run's best.pt)
    capsys.readouterr()
    best = train(TrainConfig.of(str(manifest), str(store), str(tmp_path / "run"), resume=True,
                                **{**kw, "quiet": False}))
    err = capsys.readouterr().err
    # the other files made from the best.pt the resume replaces are named, as a resume that trains names them
    # (trial 90)
    assert (f"warning: --resume finishes the run in {tmp_path / 'run'}, and best.pt changes: the other files there "
            "were made before (results of the model it replaces?): preds_test.json\n") in err, err
    said = [x for x in err.splitlines() if x.startswith(str(tmp_path / "run"))]
    assert said[0].startswith(f"{tmp_path / 'run'}: the run already finished at epoch 2 (best epoch ") and said[0].endswith(
        "): all epochs trained; doing the last steps best.pt lacks (stopped while they ran), as the run was: the "
        "refit on train + val"), said
    after = read_checkpoint(tmp_path / "run" / "best.pt")
    assert after["refit"]["videos"] == n["train"] + n["val"] and best == before["metrics"] == after["metrics"]
    done = (tmp_path / "run" / "best.pt").read_bytes()
    train(TrainConfig.of(str(manifest), str(store), str(tmp_path / "run"), resume=True, **kw))
    assert (tmp_path / "run" / "best.pt").read_bytes() == done  # refitted once


def older_run(tmp_path, capsys, *args, data=None):
    """The command-line arguments of a tiny run paused after epoch 1 of 3 (train.py's, before --resume), whose
    last.pt the caller edits to look like an older s2vt's; `data`: (manifest, store), else a caption store."""
    from s2vt import cli

    manifest, store = data or make_store(tmp_path / "d", videos=24)
    cmd = ["train", "--manifest", str(manifest), "--features", str(store), "--out", str(tmp_path / "run"),
           "--hidden", "16", "--embed", "16", "--enc-len", "6", "--min-count", "1", "--no-refit", "--quiet", *args]
    assert cli.main([*cmd, "--epochs", "3", "--stop-after", "1"]) == 0
    capsys.readouterr()
    return cmd


def test_a_stop_after_at_or_past_epochs_says_it_pauses_nothing_and_is_in_the_help(tmp_path, capsys):
    """--stop-after N with N >= --epochs on a fresh run trained to the end silently, a 'pause' that was none, and
    the option the pause line names was not in --help (new-user trial)."""
    from s2vt import cli

    manifest, store = make_store(tmp_path / "d", videos=24)
    cmd = ["train", "--manifest", str(manifest), "--features", str(store), "--hidden", "16", "--embed", "16",
           "--enc-len", "6", "--min-count", "1", "--no-refit", "--epochs", "1"]
    for after, more in (("1", ""), ("3", " (pass --epochs above it to train on after the pause)")):
        assert cli.main([*cmd, "--out", str(tmp_path / f"run{after}"), "--stop-after", after]) == 0
        err = capsys.readouterr().err
        assert (f"warning: --stop-after {after} pauses nothing: the run ends at --epochs 1 and does its last steps"
                + more + "\n") in err and "paused after" not in err, err
    # --quiet leaves out progress lines, not the warning (a scripted run lost it; new-user trial)
    assert cli.main([*cmd, "--out", str(tmp_path / "quiet"), "--stop-after", "1", "--quiet"]) == 0
    assert capsys.readouterr().err.splitlines() == ["warning: --stop-after 1 pauses nothing: the run ends at --epochs 1 "
                                                    "and does its last steps"]
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    assert "--stop-after" in capsys.readouterr().out


def edit_last(run, edit) -> None:
    """OUT/last.pt rewritten as `edit(ckpt)` leaves it (the way an older s2vt wrote it)."""
    ckpt = torch.load(run / "last.pt", weights_only=True)
    edit(ckpt)
    torch.save(ckpt, run / "last.pt")


def test_a_last_pt_of_the_epoch_counted_step_schedule_resumes_with_schedule_step_else_one_line(tmp_path, capsys):
    """A last.pt of 678a974 (2026-11-30) holds a StepLR's state (halve every 10 epochs, stepped once an epoch):
    --resume, with --schedule step or without, ended in a traceback, KeyError: 'lr_lambdas' (hostile trial)."""
    from s2vt import cli

    cmd = older_run(tmp_path, capsys)
    run = tmp_path / "run"

    def step_lr(ckpt):  # (678a974's last.pt: no settings, no first loss, its history rows without steps)
        del ckpt["settings"], ckpt["first_loss"]
        ckpt["history"] = [{k: v for k, v in h.items() if k not in ("steps", "schedule_epochs")}
                           for h in ckpt["history"]]
        lr = ckpt["optimizer"]["param_groups"][0]["initial_lr"]
        param = torch.zeros(1, requires_grad=True)
        sched = torch.optim.lr_scheduler.StepLR(torch.optim.Adam([param], lr=lr), step_size=10, gamma=0.5)
        sched.optimizer.step()
        sched.step()  # (after epoch 1)
        ckpt["scheduler"] = sched.state_dict()
    edit_last(run, step_lr)
    before = (run / "last.pt").read_bytes()
    for extra in ([], ["--schedule", "cosine"]):
        assert cli.main([*cmd, "--resume", "--epochs", "3", *extra]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err, err
        assert f"{run / 'last.pt'}: its learning-rate schedule is the StepLR of an older s2vt" in err, err
        assert "pass --schedule step to resume it" in err and "--overwrite" in err, err
        assert (run / "last.pt").read_bytes() == before
    edit_last(run, lambda ckpt: ckpt.update(scheduler={"milestones": [3], "last_epoch": 1}))  # (no s2vt's)
    assert cli.main([*cmd, "--resume", "--epochs", "3"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "schedule state does not fit" in err and "--overwrite" in err, err
    (run / "last.pt").write_bytes(before)
    # --schedule step: HEAD's step schedule (halve every 10 epochs, counted in steps) takes the epochs it counted
    assert cli.main([*cmd, "--resume", "--epochs", "3", "--schedule", "step"]) == 0
    last = torch.load(run / "last.pt", weights_only=True)
    steps = last["history"][-1]["steps"]
    assert last["epoch"] == 3 and last["scheduler"]["last_epoch"] == 3 * steps
    lr = last["optimizer"]["param_groups"][0]["initial_lr"]
    assert [h["lr"] for h in last["history"]] == pytest.approx([lr] * 3)  # (under 10 epochs: not yet halved)


def test_a_step_lr_run_that_does_not_record_its_epochs_is_told_every_option_at_once(tmp_path, capsys):
    """A last.pt of 678a974 (2026-11-30) records neither its --epochs nor its schedule: --resume was refused for
    '--epochs N', then, given it, refused again for '--schedule step' (hostile trial). Now the first line names
    both, and the command it asks for resumes the run."""
    from s2vt import cli

    cmd = older_run(tmp_path, capsys)
    run = tmp_path / "run"

    def step_lr(ckpt):  # (678a974's last.pt, its scheduler a StepLR after epoch 1)
        older_record(ckpt)
        param = torch.zeros(1, requires_grad=True)
        lr = ckpt["optimizer"]["param_groups"][0]["initial_lr"]
        sched = torch.optim.lr_scheduler.StepLR(torch.optim.Adam([param], lr=lr), step_size=10, gamma=0.5)
        sched.optimizer.step()
        sched.step()
        ckpt["scheduler"] = sched.state_dict()
    edit_last(run, step_lr)
    before = (run / "last.pt").read_bytes()
    for extra in ([], ["--schedule", "cosine"]):
        assert cli.main([*cmd, "--resume", *extra]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith(f"error: {run / 'last.pt'} does not record how many epochs"), err
        assert "pass --epochs N --schedule step (it has trained 1;" in err, err
        assert (run / "last.pt").read_bytes() == before
    assert cli.main([*cmd, "--resume", "--epochs", "3", "--schedule", "step"]) == 0, capsys.readouterr().err
    assert torch.load(run / "last.pt", weights_only=True)["epoch"] == 3
    # a StepLR no --schedule continues: that refusal alone (--epochs would not resume it)
    (run / "last.pt").write_bytes(before)
    edit_last(run, lambda ckpt: ckpt["scheduler"].update(step_size=5))
    assert cli.main([*cmd, "--resume"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "that no --schedule continues: pass --overwrite" in err, err


def older_record(ckpt) -> None:
    """`ckpt` (a last.pt dict) as s2vt of 2026-11-30 (7a98b62) wrote it: no settings, no first loss, history rows
    without their optimiser steps and schedule length."""
    del ckpt["settings"], ckpt["first_loss"]
    ckpt["history"] = [{k: v for k, v in h.items() if k not in ("steps", "schedule_epochs")} for h in ckpt["history"]]


def test_a_tag_only_run_of_an_older_s2vt_resumed_once_resumes_again(tmp_path, capsys, monkeypatch):
    """A tag-only last.pt of 7a98b62 holds the LSTMs (its config had no `lstm`): the first --resume kept them and
    wrote `lstm: True`, which the next --resume ignored: 'weight embed.weight is not in the model the config (...)
    describes', on every later --resume (hostile trial)."""
    from s2vt import cli, engine
    from s2vt.model import S2VT
    from s2vt.predict import evaluate

    manifest, store, _ = tag_only(tmp_path, videos=40)
    # (7a98b62 built the LSTMs into every model, a tag-only one's too)
    monkeypatch.setattr(engine, "S2VT", lambda cfg: S2VT(engine.dataclasses.replace(cfg, lstm=True)))
    cmd = older_run(tmp_path, capsys, "--tag-input", "fused", data=(manifest, store))
    monkeypatch.undo()
    run = tmp_path / "run"

    def older(ckpt):
        older_record(ckpt)
        assert ckpt["config"].pop("lstm") is True and "embed.weight" in ckpt["model"]
    edit_last(run, older)
    ckpt = torch.load(run / "best.pt", weights_only=True)
    del ckpt["config"]["lstm"]
    torch.save(ckpt, run / "best.pt")
    assert cli.main([*cmd, "--resume", "--epochs", "3", "--stop-after", "2"]) == 0, capsys.readouterr().err
    assert torch.load(run / "last.pt", weights_only=True)["config"]["lstm"] is True
    assert cli.main([*cmd, "--resume", "--epochs", "3"]) == 0, capsys.readouterr().err
    last = torch.load(run / "last.pt", weights_only=True)
    assert last["epoch"] == 3 and last["config"]["lstm"] is True and "embed.weight" in last["model"]
    for name in ("last.pt", "best.pt"):  # (checkpoints the resumes wrote, the LSTMs kept)
        scores = evaluate(str(run / name), str(manifest), str(store), "val", out=str(tmp_path / f"{name}.json"))
        assert scores["videos"] == 6 and "hit@1" in scores, scores


def test_a_run_of_an_older_s2vt_that_does_not_record_its_epochs_is_not_resumed_under_todays_default(tmp_path,
                                                                                                   capsys):
    """A last.pt of 7a98b62 records no --epochs: a plain --resume of a run that had finished its --epochs 2 said
    'resuming ... at epoch 3', trained on to the recipe's default and replaced best.pt, without a word (hostile
    trial). Now it takes the schedule length its history records, else it is refused in one line."""
    from s2vt import cli

    manifest, store, _ = tag_only(tmp_path, videos=40)
    cmd = older_run(tmp_path, capsys, data=(manifest, store))
    run = tmp_path / "run"
    edit_last(run, older_record)
    before = {name: (run / name).read_bytes() for name in ("last.pt", "best.pt", "metrics.csv")}
    assert cli.main([*cmd, "--resume"]) == 2
    err = capsys.readouterr().err
    assert err == (f"error: {run / 'last.pt'} does not record how many epochs the run was to train (written by an "
                   "older s2vt): pass --epochs N (it has trained 1)\n"), err
    assert {name: (run / name).read_bytes() for name in before} == before
    assert cli.main([*cmd, "--resume", "--epochs", "1"]) == 0  # (finished: nothing trained)
    assert len(rows(run)) == 1
    # a last.pt whose history rows say the schedule's length (settings not yet saved): that is its --epochs
    (run / "last.pt").write_bytes(before["last.pt"])
    edit_last(run, lambda ckpt: ckpt["history"][-1].update(schedule_epochs=2))
    assert cli.main([*cmd, "--resume"]) == 0
    assert len(rows(run)) == 2 and torch.load(run / "last.pt", weights_only=True)["settings"]["epochs"] == 2


def test_an_early_stopped_run_of_an_older_s2vt_is_asked_for_its_epochs_and_patience_in_one_line(tmp_path, capsys):
    """A last.pt of 7a98b62 records neither --epochs nor --patience: a run its early stopping ended (its last epochs
    no better than an older one) was asked for '--epochs N' alone, and the --epochs given trained it on under
    today's --patience 3, past the --patience 2 that had ended it, without a word (hostile trial). Now the one
    refusal names both, with what last.pt tells: the epochs since the best, the command that keeps it ended."""
    from s2vt import cli

    manifest, store, _ = tag_only(tmp_path, videos=40)
    cmd = older_run(tmp_path, capsys, data=(manifest, store))
    run = tmp_path / "run"
    assert cli.main([*cmd, "--resume"]) == 0  # (epochs 2 and 3)

    def stopped(ckpt):  # (as if epochs 2 and 3 did not beat epoch 1's, and --patience 2 ended the run)
        older_record(ckpt)
        ckpt["bad_epochs"] = 2
    edit_last(run, stopped)
    before = {name: (run / name).read_bytes() for name in ("last.pt", "best.pt", "metrics.csv")}
    assert cli.main([*cmd, "--resume"]) == 2
    err = capsys.readouterr().err
    assert err == (f"error: {run / 'last.pt'} does not record how many epochs the run was to train, nor its "
                   "--patience (written by an older s2vt): pass --epochs N --patience P (it has trained 3; its "
                   "last 2 epochs did not improve on epoch 1: if early stopping ended the run, --epochs 3 --patience "
                   "2 keep it ended)\n"), err
    assert {name: (run / name).read_bytes() for name in before} == before
    assert cli.main([*cmd, "--resume", "--epochs", "5", "--patience", "2"]) == 0  # (ended: nothing trained)
    assert len(rows(run)) == 3 and (run / "last.pt").read_bytes() == before["last.pt"]
    # --patience given: --epochs alone is asked for, as before
    assert cli.main([*cmd, "--resume", "--patience", "2"]) == 2
    assert "pass --epochs N (it has trained 3)\n" in capsys.readouterr().err


def test_an_older_runs_per_video_beside_one_caption_per_video_resumes_as_it_trained(tmp_path, capsys):
    """A last.pt of 64c188d (2026-12-01) records --per-video 4 (its default) beside --one-caption-per-video (the
    demo's), a pair today refuses: --resume, with neither given, with --per-video 1 or with --per-caption, said
    '--per-video 4 ... and --one-caption-per-video (--no-per-caption) ...: pass one of them' (hostile trial). Its
    --per-video did nothing then (one caption a video, so groups of one): it is read as --per-video 1."""
    from s2vt import cli

    cmd = older_run(tmp_path, capsys, "--one-caption-per-video")
    run = tmp_path / "run"
    edit_last(run, lambda ckpt: ckpt["settings"].update(per_video=4))
    paused = (run / "last.pt").read_bytes()
    for extra in ([], ["--per-video", "1"]):
        (run / "last.pt").write_bytes(paused)
        assert cli.main([*cmd, "--resume", "--stop-after", "2", *extra]) == 0, capsys.readouterr().err
        last = torch.load(run / "last.pt", weights_only=True)
        assert last["epoch"] == 2 and last["settings"]["per_video"] == 1 and not last["settings"]["per_caption"]
    assert cli.main([*cmd, "--resume", "--per-caption"]) == 0, capsys.readouterr().err  # (taken: every caption)
    last = torch.load(run / "last.pt", weights_only=True)
    assert last["epoch"] == 3 and last["settings"]["per_caption"] and last["settings"]["per_video"] == 1
    edit_last(run, lambda ckpt: ckpt["settings"].update(per_video=4, per_caption=False))  # (finished: ignored)
    for extra in ([], ["--per-video", "1"], ["--per-caption"]):
        assert cli.main([*cmd, "--resume", *extra]) == 0, capsys.readouterr().err


def test_a_full_disk_at_an_epochs_checkpoints_writes_both_or_neither(tmp_path, monkeypatch):
    """A full disk in the first epoch: best.pt was written, then "cannot write RUN/last.pt: No space left on device",
    and the run could be neither resumed (no last.pt) nor rerun without --overwrite (hostile trial). An epoch's
    best.pt and last.pt are now written both or neither: nothing of the run is left after its first epoch, and
    after a later one the epoch before's pair, which --resume goes on from."""
    import errno

    import s2vt.fileio
    from s2vt.fileio import OutputError

    manifest, store = make_store(tmp_path / "d", videos=40, signal=True)
    run = tmp_path / "run"

    def full_disk_at(n):
        writes = []

        def fake_open(file, mode="r", *args, **kwargs):
            if "w" in mode and os.path.basename(os.fspath(file)).startswith(".last.pt.tmp-"):
                writes.append(file)
                if len(writes) == n:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return open(file, mode, *args, **kwargs)
        monkeypatch.setattr(s2vt.fileio, "open", fake_open, raising=False)

    cfg = TrainConfig.of(str(manifest), str(store), str(run), epochs=2, patience=5, **FAST)
    full_disk_at(1)
    with pytest.raises(OutputError, match=f"^cannot write {run}/last.pt: No space left on device$"):
        train(cfg)
    assert not run.exists()  # (nothing of the run, no temp file: the folder it made removed again)
    full_disk_at(2)
    with pytest.raises(OutputError, match="last.pt: No space left on device"):
        train(cfg)  # (the rerun, no --overwrite needed: no run was left)
    assert read_checkpoint(run / "last.pt")["epoch"] == 1 and read_checkpoint(run / "best.pt")["epoch"] == 1
    monkeypatch.undo()
    train(TrainConfig.of(str(manifest), str(store), str(run), epochs=2, patience=5, resume=True, **FAST))
    assert read_checkpoint(run / "last.pt")["epoch"] == 2


def test_a_disk_that_fills_while_a_checkpoint_is_written_is_one_line_and_no_file(tmp_path, monkeypatch):
    """Checkpoints are written straight into their temp file (not serialised in memory first: a 10.6 GB last.pt
    was held twice). torch.save's writer turns a failing write into a RuntimeError that names no cause: the disk's
    OSError is what is said, and nothing is left."""
    import errno

    import s2vt.fileio
    from s2vt.checkpoint import write_checkpoints
    from s2vt.fileio import OutputError

    writes, stop = [], [OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))]

    class FillingFile:
        def __init__(self, f):
            self.f, self.written = f, 0

        def write(self, data):
            writes.append(len(data))
            self.written += len(data)
            if self.written > 4096:
                raise stop[0]
            return self.f.write(data)

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    def filling_at_last_pt(file, *args, **kwargs):
        f = open(file, *args, **kwargs)
        return FillingFile(f) if os.path.basename(file).startswith(".last.pt.tmp-") else f
    monkeypatch.setattr(s2vt.fileio, "open", filling_at_last_pt, raising=False)
    big = {"weights": torch.zeros(100_000)}
    with pytest.raises(OutputError, match=f"^cannot write {tmp_path}/last.pt: No space left on device$"):
        write_checkpoints([(tmp_path / "best.pt", lambda: big), (tmp_path / "last.pt", lambda: big)])
    assert list(tmp_path.iterdir()) == []  # (neither best.pt, written whole before, nor a temp file)
    assert len(writes) > 1  # (written as torch.save makes it, not its bytes whole from memory)
    stop[0] = KeyboardInterrupt()  # (Ctrl-C mid-write: itself, not the RuntimeError torch's writer makes of it)
    with pytest.raises(KeyboardInterrupt):
        write_checkpoints([(tmp_path / "last.pt", lambda: big)])
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    write_checkpoints([(tmp_path / "last.pt", lambda: big)])
    assert torch.equal(torch.load(tmp_path / "last.pt", weights_only=True)["weights"], big["weights"])


def test_a_best_pt_before_its_last_steps_is_said_not_to_be_the_finished_model(tmp_path, capsys):
    """A Ctrl-C during the steps after the last epoch (the linear fit, the refit) left a best.pt that scored far
    below the finished one, and neither the interrupted line nor evaluate said so (new-user trial): best.pt lists
    the steps still to do ("unfinished"), each step takes itself off, and evaluate, caption.py, serve and the
    interrupted line name them."""
    from s2vt import cli
    from s2vt.predict import evaluate
    manifest, store = make_store(tmp_path / "d", videos=48)
    run = tmp_path / "run"
    kw = {**FAST, "refit": True, "epochs": 2}
    train(TrainConfig.of(str(manifest), str(store), str(run), stop_after=1, **kw))  # (paused: no last steps)
    assert read_checkpoint(run / "best.pt")["unfinished"] == ["refit", "memory"]
    capsys.readouterr()
    evaluate(str(run / "best.pt"), str(manifest), str(store), "test", out=str(tmp_path / "p.json"),
             beam=1)
    said = [x for x in capsys.readouterr().err.splitlines() if "finished model" in x]
    assert said == [f"warning: {run / 'best.pt'} is not its run's finished model: it lacks the refit on train + val "
                    "and the caption memory (the run was stopped or paused before them, or is still training; `"
                    + shlex.join(cli.invoked_as("train")) + f" ... --out {shlex.quote(str(run))} --resume` on its run "
                    "writes them into best.pt): its answers and scores are not the finished model's"], said
    # (beam search with consensus reranking: the same line says what the missing memory means, and no second
    # 'has no caption memory' line guesses why; trial 56)
    evaluate(str(run / "best.pt"), str(manifest), str(store), "test", out=str(tmp_path / "p2.json"), beam=2)
    said = [x for x in capsys.readouterr().err.splitlines() if "memory" in x]
    assert len(said) == 1 and said[0].endswith("not the finished model's; decoding without consensus reranking"), said
    # the interrupted line says it once the epochs are done (a Ctrl-C during the last steps), not between epochs
    assert cli.kept_by_train(str(run), 0.0).startswith(f"{run / 'last.pt'} kept at epoch 1: ")
    ended = tmp_path / "ended"
    ended.mkdir()
    shutil.copy(run / "best.pt", ended / "best.pt")
    last = torch.load(run / "last.pt", weights_only=True)
    torch.save({**last, "settings": {**last["settings"], "epochs": 1}}, ended / "last.pt")
    assert cli.kept_by_train(str(ended), 0.0).startswith(
        f"{ended / 'last.pt'} kept at epoch 1; {ended / 'best.pt'} lacks the refit on train + val, the caption "
        "memory, which the run does at its end: ")
    # a --resume stopped while it did them (its last.pt older than it, not rewritten): the same, not "no epoch
    # finished; OUT holds the earlier run" (trial 56)
    later = time.time() + 60
    assert cli.kept_by_train(str(ended), later, ["--out", str(ended), "--resume"]).startswith(
        f"{ended / 'last.pt'} kept at epoch 1; {ended / 'best.pt'} lacks the refit")
    assert cli.kept_by_train(str(ended), later, ["--out", str(ended)]).startswith("no epoch finished")
    # a step listed that the run no longer does (an epoch's list, under settings a --resume changed: --no-refit,
    # --no-neighbours): finish makes the list what it does, not a step listed for good that no run would do (review)
    stale = tmp_path / "stale"
    shutil.copytree(run, stale)
    ckpt = torch.load(stale / "best.pt", weights_only=True)
    torch.save({**ckpt, "unfinished": ["neighbours", "refit", "memory"]}, stale / "best.pt")
    train(TrainConfig.of(str(manifest), str(store), str(stale), resume=True, **{**kw, "epochs": 1}))  # (ends it)
    best = read_checkpoint(stale / "best.pt")
    assert best["unfinished"] == [] and "refit" in best and "memory" in best
    train(TrainConfig.of(str(manifest), str(store), str(run), resume=True, **kw))
    best = read_checkpoint(run / "best.pt")
    assert best["unfinished"] == [] and "refit" in best and "memory" in best
    capsys.readouterr()
    evaluate(str(run / "best.pt"), str(manifest), str(store), "test", out=str(tmp_path / "q.json"),
             beam=1)
    assert "finished model" not in capsys.readouterr().err


def test_one_video_file_in_train_and_test_under_two_ids_is_said(tmp_path):
    """Two entries naming one video file, one in train and one in test: extracted twice and trained on, its test
    score counted a video the model had learnt, unsaid (trial 103). A warning names it, the test video first; one
    file under two ids within one split is no leak and is not said. Told by the paths (`sub/../v.mp4` is
    `v.mp4`), no file read: training reads no video."""
    manifest, store = make_store(tmp_path / "d", videos=12)
    entries = [json.loads(x) for x in manifest.read_text().splitlines()]
    train_ids = [e["video_id"] for e in entries if e["split"] == "train"]
    test_id = [e["video_id"] for e in entries if e["split"] == "test"][-1]  # (listed after the training ones)
    for e in entries:  # (two training videos on one file: no leak)
        e["path"] = {train_ids[0]: "v.mp4", train_ids[1]: "v.mp4"}.get(e["video_id"])

    def write(es):
        manifest.write_text("".join(json.dumps({k: v for k, v in e.items() if v is not None}) + "\n" for e in es))
    write(entries)
    import warnings
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train(TrainConfig.of(str(manifest), str(store), str(tmp_path / "r1"), epochs=1, **FAST))
    assert not [w for w in caught if "video file" in str(w.message)], [str(w.message) for w in caught]
    for e in entries:
        if e["video_id"] == test_id:
            e["path"] = "sub/../v.mp4"
    write(entries)
    said = (f"1 video file in split train and in another under other ids (first: {tmp_path / 'd' / 'v.mp4'}: "
            f"{test_id} (test), {train_ids[0]} (train), {train_ids[1]} (train)): val and test scores count videos the "
            "model trained on; give each video one entry")
    with pytest.warns(UserWarning, match=re.escape(said)):
        train(TrainConfig.of(str(manifest), str(store), str(tmp_path / "r2"), epochs=1, **FAST))
