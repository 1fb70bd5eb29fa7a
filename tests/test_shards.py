"""Training streamed from TFRecord shards (s2vt/shards.py): reader split, shuffle, runs, damage."""
from __future__ import annotations

import collections
import csv
import json
import re

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from s2vt.cli import main
from s2vt.data import Labels, collate
from s2vt.checkpoint import load_checkpoint
from s2vt.engine import TrainConfig, train
from s2vt.predict import evaluate
from s2vt.shards import ShardStream, count_records, is_shards, shard_files
from s2vt.yt8m import import_yt8m

from .conftest import free_port, run_cli
from s2vt.yt8m import dequantize

from .test_yt8m import example, frames, video, write_shard

def code_of(argv: list[str]) -> int:
    """`main`'s exit code, argparse's refusals' (SystemExit) too."""
    try:
        return main(argv)
    except SystemExit as e:
        return e.code


FAST = dict(hidden=32, batch_size=16, lr=1e-2, dropout=0.0, quiet=True, tag_head="mlp", warmup=1)
LABELS = Labels([f"label{i}" for i in range(5)], multilabel=True)


def planted(vid: str, rng: np.random.Generator) -> bytes:
    """A video-level Example whose first label (0-3) is written into the first rgb dimensions; half
    of them also have label 4."""
    label = int(rng.integers(4))
    rgb = rng.standard_normal(1024).astype(np.float32)
    rgb[:16] = 3.0 * label
    return example({"id": [vid.encode()], "labels": [label] + [4] * int(rng.integers(2)),
                    "mean_rgb": rgb, "mean_audio": rng.standard_normal(128).astype(np.float32)})


def shards(folder, prefix: str, sizes: list[int], seed: int = 0) -> list[str]:
    """Shards `prefix`0000.. of the given record counts, ids unique across calls with other prefixes."""
    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(seed)
    return [str(write_shard(folder / f"{prefix}{i:04d}.tfrecord",
                            [planted(f"{prefix}{i}_{j}", rng) for j in range(n)])) for i, n in enumerate(sizes)]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """train0000-0003 (4 x 40), validate0000 (40), test0000 (20) and a store + manifest of them."""
    root = tmp_path_factory.mktemp("yt8m")
    d = root / "shards"
    files = shards(d, "train", [40] * 4, 0) + shards(d, "validate", [40], 1) + shards(d, "test", [20], 2)
    import_yt8m(files, root / "manifest.jsonl", root / "store")
    return root, d


def stream(files, world=1, rank=0, seed=0, buffer=8) -> ShardStream:
    return ShardStream(files, ["rgb"], LABELS, None, None, batch_size=4, buffer=buffer, seed=seed, rank=rank,
                       world=world)


def ids(ds: ShardStream, workers: int = 1) -> list[str]:
    return [it["video_id"] for k in range(workers) for it in ds.items(k, workers)]


@pytest.mark.parametrize("sizes", [[5, 7, 3, 6, 4, 8, 2, 5], [9, 4, 6]])  # 8 shards >= 4 readers; 3 < 4
def test_every_record_once_per_epoch_across_two_ranks_and_two_workers(tmp_path, sizes):
    files = shards(tmp_path, "train", sizes)
    for epoch in (1, 2):
        seen = collections.Counter()
        for rank in (0, 1):
            ds = stream(files, world=2, rank=rank)
            ds.set_epoch(epoch)
            seen.update(ids(ds, workers=2))
        assert len(seen) == sum(sizes) and set(seen.values()) == {1}


def test_dataloader_workers_split_the_shards(tmp_path):
    files = shards(tmp_path, "train", [6, 5, 7])
    ds = ShardStream(files, ["rgb", "audio"], LABELS, None, None, batch_size=4, buffer=8, seed=0, workers=2)
    got = [v for batch in ds.batches(torch.device("cpu")) for v in batch["video_id"]]
    assert sorted(got) == sorted(ids(stream(files))) and len(got) == 18
    batch = next(iter(ds.batches(torch.device("cpu"))))
    assert batch["feats"]["rgb"].shape == (4, 1, 1024) and batch["tag"].shape == (4, 5)


def test_torchs_advice_on_the_worker_count_comes_once_a_run(tmp_path, monkeypatch):
    """`--workers 3` on 2 cores: torch's ~400-character advice came once an epoch and again for the refit
    (trial 84); said once."""
    import warnings

    from torch.utils.data import DataLoader

    from s2vt import shards as shards_module

    monkeypatch.setattr(shards_module, "worker_advice_said", False)
    monkeypatch.setattr(DataLoader, "check_worker_number_rationality",  # (as on a machine of fewer cores)
                        lambda self: warnings.warn("This DataLoader will create 2 worker processes in total. ..."))
    ds = ShardStream(shards(tmp_path, "train", [3, 2]), ["rgb"], LABELS, None, None, batch_size=4, buffer=8, seed=0,
                     workers=2)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        for _ in range(3):
            assert sum(len(b["video_id"]) for b in ds.batches(torch.device("cpu"))) == 5
    assert [str(w.message) for w in said] == ["This DataLoader will create 2 worker processes in total. ..."]


def test_frame_level_records_stream_dequantised_and_bad_records_are_named(tmp_path, capsys):
    (a, _), (b, qb) = frames("fa", 7), frames("fb", 3)
    path = str(write_shard(tmp_path / "train0000.tfrecord", [a, video("nolabels", None)[0], b]))
    items = {it["video_id"]: it for it in stream([path]).items()}
    assert items.keys() == {"fa", "fb"} and items["fa"]["feats"]["rgb"].shape == (7, 1024)
    assert torch.equal(items["fb"]["feats"]["rgb"], torch.from_numpy(dequantize(qb["rgb"])))
    assert capsys.readouterr().err.strip() == f"warning: {path}: record 2: no labels; skipped"


def test_shuffle_changes_between_epochs_and_repeats_for_a_seed(tmp_path):
    files = shards(tmp_path, "train", [30, 30])

    def order(epoch, seed=0):
        ds = stream(files, seed=seed, buffer=16)
        ds.set_epoch(epoch)
        return ids(ds)
    assert order(1) == order(1) and order(1) != order(2) and order(1) != order(1, seed=1)
    assert sorted(order(1)) == sorted(order(2))
    # the buffer mixes records across shard boundaries, not only the shard order
    first = order(1)[:20]
    assert len({v.split("_")[0] for v in first}) == 2


def test_shards_are_named_by_file_glob_or_folder(data, tmp_path):
    root, d = data
    assert is_shards(str(d)) and is_shards(f"{d}/train*.tfrecord") and is_shards(str(d / "test0000.tfrecord"))
    assert not is_shards(str(root / "store")) and not is_shards(None)
    assert len(shard_files(f"{d}/train*")) == 4 and len(shard_files(str(d))) == 6
    assert count_records(f"{d}/train0000.tfrecord") == 40


def test_a_shard_of_a_damaged_length_or_text_trains_on_with_one_line(data, tmp_path, capsys):
    """count_records (the epoch's size, before any record is read) seeked to a damaged length header's offset,
    past any file: `OSError: [Errno 22] Invalid argument`, a traceback; a text file in the glob did the same
    (new-user trial). It counts up to the damage; the stream says the shard's line and trains on the rest."""
    root, d = data
    raw = bytearray((d / "train0000.tfrecord").read_bytes())
    second = 12 + int.from_bytes(raw[:8], "little") + 4
    raw[second + 7] ^= 0x40  # (the 2nd record's length, its top byte: 2**62 bytes on)
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "a.tfrecord").write_bytes(bytes(raw))
    (tmp_path / "s" / "zz.tfrecord").write_text("not a shard, a text file that a glob took in\n" * 3)
    assert count_records(str(tmp_path / "s" / "a.tfrecord")) == 1
    assert count_records(str(tmp_path / "s" / "zz.tfrecord")) == 0
    assert main(["train", "--features", f"{tmp_path}/s/*.tfrecord", "--val-features", f"{d}/validate*", "--out",
                 str(tmp_path / "run"), "--epochs", "1", "--hidden", "16", "--tag-head", "mlp"]) == 0
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("the rest of this shard is skipped") == 2, err


def metrics_header(run):
    with open(run / "metrics.csv") as f:
        return next(csv.reader(f))


def test_shard_run_matches_a_store_run_of_the_same_data(data, tmp_path):
    root, d = data
    # (--no-refit, --no-neighbours: the same training from a store and from shards, without the steps after it,
    # whose val ids would join the training ids: tests/test_neighbours.py)
    kw = dict(manifest=str(root / "manifest.jsonl"), epochs=3, patience=5, refit=False, neighbours=False, **FAST)
    store = train(TrainConfig.of(features=str(root / "store"), out=str(tmp_path / "store"), **kw))
    streamed = train(TrainConfig.of(features=f"{d}/train*.tfrecord", val_features=f"{d}/validate*.tfrecord",
                                 out=str(tmp_path / "shards"), **kw))
    assert store.keys() == streamed.keys() and {"gap", "tag_acc", "tag_f1"} <= streamed.keys()
    # the same data, model and steps: the same quality (not bit-equal: the order of the items differs)
    assert streamed["gap"] == pytest.approx(store["gap"], abs=0.05)
    *_, a = load_checkpoint(tmp_path / "store" / "best.pt")
    *_, b = load_checkpoint(tmp_path / "shards" / "best.pt")
    assert a["labels"] == b["labels"] and a["config"] == {**b["config"], "tag_threshold": a["config"]["tag_threshold"]}
    # (both list their training videos' ids for evaluate's warning: the stream's, the manifest's train split)
    assert a["extract"]["backbones"] == b["extract"]["backbones"] and a.keys() == b.keys()
    assert sorted(a["training_ids"]) == b["training_ids"]
    assert len(a["training_ids"]) == sum(json.loads(x)["split"] == "train"
                                         for x in (root / "manifest.jsonl").read_text().splitlines())
    assert metrics_header(tmp_path / "store") == metrics_header(tmp_path / "shards")
    # `s2vt evaluate` takes a shard run's checkpoint on an imported store as it takes a store run's
    test = evaluate(str(tmp_path / "shards" / "best.pt"), str(root / "manifest.jsonl"), str(root / "store"), "test",
                    out=str(tmp_path / "preds.json"))
    assert 0 <= test["gap"] <= 1


def test_shards_alone_vocabulary_labels_and_cli(data, tmp_path, capsys):
    root, d = data
    vocab = tmp_path / "vocabulary.csv"
    vocab.write_text("Index,Name\n" + "".join(f"{i},class {i}\n" for i in range(6)))
    code = main(["train", "--features", str(d / "train0000.tfrecord"), "--val-features", f"{d}/validate*",
                 "--vocabulary", str(vocab), "--out", str(tmp_path / "run"), "--epochs", "1", "--hidden", "32",
                 "--batch-size", "16", "--tag-head", "mlp", "--shuffle-buffer", "4"])
    assert code == 0, capsys.readouterr().err
    *_, ckpt = load_checkpoint(tmp_path / "run" / "best.pt")
    assert ckpt["labels"] == [f"class {i}" for i in range(6)] and "gap" in ckpt["metrics"]


def test_damaged_shard_is_logged_and_training_goes_on(data, tmp_path, capsys):
    root, d = data
    bad = tmp_path / "train0001.tfrecord"
    whole = (d / "train0001.tfrecord").read_bytes()
    bad.write_bytes(whole[:len(whole) // 2])  # cut inside a record
    files = [str(d / "train0000.tfrecord"), str(bad)]
    ds = stream(files)
    got = ids(ds)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(bad) in err[0] and "truncated at byte" in err[0]
    assert 40 < len(got) < 80  # all of the good shard, the records before the cut of the bad one
    best = train(TrainConfig.of(manifest=str(root / "manifest.jsonl"), features=f"{tmp_path}/train*.tfrecord",
                             val_features=f"{d}/validate*", out=str(tmp_path / "run"), epochs=2, **FAST))
    assert "gap" in best
    # read for the feature statistics' sample, then streamed in each epoch: said once, not three times
    broken = [line for line in capsys.readouterr().err.splitlines() if "the rest of this shard is skipped" in line]
    assert len(broken) == 1 and str(bad) in broken[0], broken


def test_records_with_a_bad_data_checksum_are_skipped_in_one_line_per_shard(tmp_path, capsys):
    """A shard with damaged records logged one line per record (as the import no longer does: one per
    file, with the count and the first three)."""
    from s2vt.shards import ShardSource
    files = shards(tmp_path, "train", [6])
    raw = bytearray(open(files[0], "rb").read())
    starts = [0]
    for _ in range(5):  # each record: 12-byte header, data, 4-byte checksum
        starts.append(starts[-1] + 12 + int.from_bytes(raw[starts[-1]:starts[-1] + 8], "little") + 4)
    for r in (2, 3, 4, 5):  # records 2 to 5, in their data; lengths and length checksums intact
        raw[starts[r - 1] + 30] ^= 0xFF
    open(files[0], "wb").write(bytes(raw))
    line = (f"warning: {files[0]}: 4 of 6 records skipped: corrupt record (bad data checksum: record 2 at byte "
            f"{starts[1]}, record 3 at byte {starts[2]}, record 4 at byte {starts[3]}, ...)")
    for world in (1, 2):  # whole shards, and records split j::N between readers: one line either way
        got = [v for rank in range(world) for v in ids(stream(files, world=world, rank=rank))]
        assert sorted(got) == ["train0_0", "train0_5"]
        assert capsys.readouterr().err.splitlines() == [line]
    entries = ShardSource(files, ["rgb"], None, None).read_split(files, "val", lambda vid, tags: tags)
    assert [e["video_id"] for e in entries] == ["train0_0", "train0_5"]
    assert capsys.readouterr().err.splitlines() == [line]


def test_a_bad_record_is_said_once_a_run_by_dataloader_workers_too(tmp_path, capfd):
    """A worker's record of the lines said is a copy that never reaches back: a bad record the statistics' sample
    had not met was said again every epoch with --workers 2 (trial 87); workers say theirs in the first epoch."""
    path = write_shard(tmp_path / "train0000.tfrecord", [video(f"v{i}")[0] for i in range(5)]
                       + [video("nolabels", None)[0]] + [video(f"w{i}")[0] for i in range(5)])
    ds = ShardStream([str(path)], ["rgb"], LABELS, None, None, batch_size=4, buffer=8, seed=0, workers=2)
    for epoch in (1, 2, 3):
        ds.epoch = epoch
        assert sum(len(b["video_id"]) for b in ds.batches(torch.device("cpu"))) == 10
    assert capfd.readouterr().err.count("record 6: no labels; skipped") == 1


def test_shards_of_two_kinds_are_named_each(tmp_path):
    """Video-level training shards beside frame-level val shards: the refusal named the first training shard alone,
    as if it held both kinds (trial 84)."""
    from s2vt.engine import DataError
    from s2vt.shards import ShardSource

    train = str(write_shard(tmp_path / "train0000.tfrecord", [video("v0")[0]]))
    val = str(write_shard(tmp_path / "validate0000.tfrecord", [frames("f0", 2)[0]]))
    source = ShardSource([train], ["rgb"], None, None)
    source.read_split([train], "train", lambda vid, tags: tags)
    with pytest.raises(DataError) as e:
        source.read_split([val], "val", lambda vid, tags: tags)
    assert str(e.value) == f"{val}: frame-level records, where {train} holds video-level ones: a run reads one kind"


def test_a_stream_or_source_that_does_not_speak_reads_the_same_and_says_nothing(tmp_path, capsys):
    """`speaks`, one flag for the stream (the refit's reads the shards the run said already) and the source
    (a rank other than 0 reads the val and sample records rank 0 says): the stream's was `silent`."""
    from types import SimpleNamespace

    from s2vt.shards import ShardSource

    (a, _), (b, _) = frames("fa", 7), frames("fb", 3)
    path = str(write_shard(tmp_path / "train0000.tfrecord", [a, video("nolabels", None)[0], b]))
    whole = open(path, "rb").read()
    (tmp_path / "train0001.tfrecord").write_bytes(whole[:len(whole) // 2])  # (cut inside a record)
    files = [path, str(tmp_path / "train0001.tfrecord")]
    loud, quiet = stream(files), stream(files)
    quiet.speaks = False
    assert loud.speaks and (got := ids(loud)) and "fa" in got
    err = capsys.readouterr().err
    assert f"{path}: record 2: no labels; skipped" in err and "the rest of this shard is skipped" in err
    assert err.count("\n") == 2
    assert ids(quiet) == got and capsys.readouterr().err == ""
    loud.epoch += 1  # (a bad record's line once a run: every epoch said it again; trial 84)
    assert sorted(ids(loud)) == sorted(got) and capsys.readouterr().err == ""
    read = [ShardSource(files, ["rgb"], None, None, speaks).read_split(files, "val", lambda vid, tags: tags)
            for speaks in (True, False)]
    assert read[0] == read[1] and [e["video_id"] for e in read[0]] == ["fa", "fb"]
    assert sorted(capsys.readouterr().err.splitlines()) == sorted(err.splitlines())  # (the loud one's, once)
    cfg = SimpleNamespace(batch_size=4, shuffle_buffer=8, seed=0, workers=0)
    source = ShardSource(files, ["rgb"], None, None)
    assert source.stream(cfg, LABELS, 0, 1).speaks and not source.refit_stream(cfg, LABELS, [], 0, 1).speaks


def test_no_readable_data_exits_2(data, tmp_path, capsys):
    root, d = data
    (tmp_path / "train0000.tfrecord").write_bytes(b"not a tfrecord file at all")
    common = ["--out", str(tmp_path / "run"), "--epochs", "1"]
    assert main(["train", "--features", str(tmp_path / "train0000.tfrecord"), "--val-features",
                 f"{d}/validate*", *common]) == 2
    assert "no training record could be read" in capsys.readouterr().err
    assert main(["train", "--features", f"{tmp_path}/nothing*.tfrecord", "--val-features", f"{d}/validate*",
                 *common]) == 2
    assert "no TFRecord shards there" in capsys.readouterr().err
    assert main(["train", "--features", f"{d}/train*", *common]) == 2  # no val shards, no manifest
    assert "--val-features" in capsys.readouterr().err
    assert main(["train", "--manifest", str(root / "manifest.jsonl"), "--features", str(root / "store"),
                 "--val-features", f"{d}/validate*", *common]) == 2  # a store takes no --val-features
    assert "TFRecord shards" in capsys.readouterr().err


def test_epoch_steps_under_torchrun_are_those_of_the_rank_of_the_most_shards(tmp_path):
    """Whole shards go to ranks r::w and a rank short of records pads until the rank of the most has trained
    its own (`batches`): an epoch lasts that rank's steps. The learning-rate schedule counted the records over
    the ranks evenly (5 shards of ~30 records on 2 ranks, batch 4: 19 steps an epoch for the 22-23 run),
    so its cosine reached its floor epochs before the run's end (review)."""
    files = shards(tmp_path, "train", [28, 30, 31, 30, 28])
    ds = ShardStream(files, ["rgb"], LABELS, None, None, batch_size=4, buffer=8, seed=0, rank=0, world=2)
    counts = {f: count_records(f) for f in files}
    taken = []
    for epoch in range(1, 9):
        ds.set_epoch(epoch)
        taken.append(max(-(-sum(counts[f] for f, _, _ in ds.plan(r, 2, 0, 1)) // 4) for r in (0, 1)))
    assert abs(len(ds.sampler) - np.mean(taken)) <= 1, (len(ds.sampler), taken)
    # (fewer shards than readers: every reader keeps records j::N of every shard, an even share)
    few = ShardStream(files[:1], ["rgb"], LABELS, None, None, batch_size=4, buffer=8, seed=0, rank=0, world=2)
    assert len(few.sampler) == -(-28 // 8)


@pytest.mark.parametrize("others", [4, 1, 0])
def test_a_rank_steps_on_at_weight_0_once_its_records_are_trained(tmp_path, monkeypatch, others):
    """Under torchrun the ranks stopped an epoch at the first step one of them had no batch for (another's
    records untrained), then padded by reading their records again (records trained twice an epoch; new-user
    trial). A rank whose records are trained now steps on with its last batch at loss weight 0, and a rank
    still training weighs its batch by world / ranks training: each record once, a step's gradient the mean
    of the batches trained in it. `others`: the other rank's batches; this one has 2."""
    files = shards(tmp_path, "train", [6, 6])  # (rank 0 of 2: one of them, 2 batches)
    ds = ShardStream(files, ["rgb"], LABELS, None, None, batch_size=4, buffer=8, seed=0, rank=0, world=2)
    theirs = iter([1] * others + [0] * 9)

    def all_reduce(flag):
        flag[0] += next(theirs)
    monkeypatch.setattr("s2vt.shards.dist.all_reduce", all_reduce)
    got = list(ds.checked(iter(DataLoader(ds, batch_size=4, collate_fn=collate)), torch.device("cpu")))
    scales = [b.get("loss_scale") for b in got]
    assert scales == {4: [None, None, 0.0, 0.0], 1: [None, 2.0], 0: [2.0, 2.0]}[others]
    assert sum(len(b["video_id"]) for b in got if b.get("loss_scale") != 0) == 6  # (each record once)
    assert all(b["video_id"] == got[1]["video_id"] for b in got[2:])


def test_a_validation_video_met_by_another_rank_is_said_by_that_rank_alone(tmp_path, monkeypatch):
    """Validation videos deep in a training shard, met by one rank: every rank ended in its own line, rank 0
    'found streaming epoch 1 on another rank', the other naming the videos (new-user trial). The rank that
    met them says so; the others end, exit 2, in silence."""
    from s2vt.errors import SaidByAnotherRank
    files = shards(tmp_path, "train", [6, 6])
    ds = ShardStream(files, ["rgb"], LABELS, None, None, batch_size=4, buffer=8, seed=0, rank=0, world=2)

    def all_reduce(flag):  # (the other rank: a batch, holding a validation video)
        flag[0] += 1
        flag[1] += 1
    monkeypatch.setattr("s2vt.shards.dist.all_reduce", all_reduce)
    with pytest.raises(SaidByAnotherRank):
        list(ds.checked(iter(DataLoader(ds, batch_size=4, collate_fn=collate)), torch.device("cpu")))


def test_a_zero_weight_step_trains_nothing_and_the_schedule_is_anchored_at_the_epoch_end(tmp_path):
    """train_one_epoch with a stream's weights (`ShardStream.checked`): a batch at loss_scale 0 moves no weight,
    counts no item or loss, and runs in eval mode (NeXtVLAD's BatchNorm statistics were pulled towards the one
    batch an idle rank steps on again and again; review); and a stream's epoch, whose steps are counted before
    it is read (3 counted, 5 run), ends at the schedule's step for its end, not 2 steps into the next epoch's."""
    from s2vt.epoch import lr_factor, train_one_epoch
    from s2vt.model import S2VT, ModelConfig
    files = shards(tmp_path, "train", [12])
    ds = ShardStream(files, ["rgb"], LABELS, None, None, batch_size=4, buffer=8, seed=0)
    batches = list(DataLoader(ds, batch_size=4, collate_fn=collate))
    torch.manual_seed(0)
    model = S2VT(ModelConfig(modalities={"rgb": 1024}, num_tags=len(LABELS.names), hidden=16,
                                dropout=0.1, tag_head="nextvlad", tag_input="fused", lstm=False, multilabel=True))
    cfg = TrainConfig.of(None, files[0], str(tmp_path / "run"), epochs=2)
    optim = torch.optim.Adam(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.LambdaLR(optim, lr_factor(cfg, 3))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    modes = []
    model.register_forward_pre_hook(lambda m, args: modes.append(m.training))
    total, steps, seen = train_one_epoch(model, [{**b, "loss_scale": 0.0} for b in batches], optim, sched, cfg, 0,
                                         True, {}, torch.device("cpu"), ends_at=3)
    assert (steps, seen, total) == (0, 0, 0.0) and modes == [False] * 3
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    batches = batches + batches[:2]  # (5 steps for the 3 counted)
    total, steps, seen = train_one_epoch(model, batches, optim, sched, cfg, 0, True, {}, torch.device("cpu"),
                                         ends_at=6)
    assert (steps, seen) == (5, 20) and modes[3:] == [True] * 5 and sched.last_epoch == 6
    assert optim.param_groups[0]["lr"] == pytest.approx(1e-3 * lr_factor(cfg, 3)(6))


def test_torchrun_process_whose_shards_hold_no_training_video_steps_on_another_share(data, tmp_path):
    """Shards go whole to torchrun processes: one whose shards hold none of the manifest's training videos in
    an epoch had nothing to train or to pad with, and the run ended there ('no training record could be read
    from 2 shard(s)' from every process, false of the other's; then, mid-run, on the epoch whose shuffle gave
    it none; new-user trial). It now steps at loss weight 0 on training records of any shard, read for it."""
    root, d = data  # (two shards for two processes: the training videos of train0000, the val ones of validate0000)
    proc = run_cli("-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={free_port()}", "train.py",
                   "--manifest", str(root / "manifest.jsonl"), "--features", f"{d}/[tv][ra]*0000.tfrecord",
                   "--out", str(tmp_path / "ddp"), "--epochs", "2", "--hidden", "32", "--batch-size", "8",
                   "--tag-head", "mlp", env={"OMP_NUM_THREADS": "1"}, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # (train0000's 40 training videos and validate0000's 40 val ones, streamed together, each once)
    assert re.search(r"refit epoch 1/\d: loss \S+, 80 items", proc.stderr), proc.stderr[-3000:]


def test_torchrun_batch_norm_statistics_learn_from_a_rank_0_out_of_records(data, tmp_path):
    """DDP sent rank 0's buffers to every rank before each step, and a rank out of records steps in eval mode:
    an epoch whose shuffle left rank 0 no training record kept NeXtVLAD's BatchNorm statistics of the epoch
    before (unchanged, num_batches_tracked too) beside weights trained on (new-user trial). Each rank keeps its
    own statistics now, averaged at the epoch's end by the batches each trained."""
    root, d = data
    pattern = f"{d}/[tv][ra]*0000.tfrecord"  # (train0000's training videos; validate0000's are val)
    files = shard_files(pattern)
    def rank_0_reads(seed):  # (epoch 1's shard)
        ds = stream(files, world=2, seed=seed)
        ds.set_epoch(1)
        return ds.plan(0, 2, 0, 1)[0][0]
    seed = next(s for s in range(100) if "validate" in rank_0_reads(s))
    proc = run_cli("-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={free_port()}", "train.py",
                   "--manifest", str(root / "manifest.jsonl"), "--features", pattern, "--seed", str(seed),
                   "--out", str(tmp_path / "ddp"), "--epochs", "1", "--hidden", "32", "--batch-size", "8",
                   "--tag-head", "nextvlad", "--tag-input", "fused", "--no-refit",
                   env={"OMP_NUM_THREADS": "1"}, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    state = torch.load(tmp_path / "ddp" / "best.pt", weights_only=True)["model"]
    tracked = {k: int(v) for k, v in state.items() if k.endswith("num_batches_tracked")}
    assert tracked and all(n == 5 for n in tracked.values()), tracked  # (train0000's 40 videos: 5 batches)
    assert all(state[k.replace("num_batches_tracked", "running_mean")].abs().sum() > 0 for k in tracked)


@pytest.mark.parametrize("workers", ["0", "1"])
def test_torchrun_uneven_shards_train_every_record(data, tmp_path, workers):
    """Under torchrun the ranks stopped an epoch at the first step one of them had no batch for: with
    shards of 30, 5 and 12 records split two to one, the rank of fewer records ran out first and the
    other's remaining records were never trained (a refit streamed 1,281 of 1,486). A rank that runs out
    now steps on at loss weight 0 until the last rank's are trained, and the shards' lines are said once
    a run (a record of bad data checksum in each: one line a shard, not one an epoch)."""
    root, d = data
    files = shards(tmp_path / "uneven", "train", [30, 5, 12])  # (two shards to one rank, one to the other)
    for f in files:
        raw = bytearray(open(f, "rb").read())
        raw[20] ^= 0xFF  # a byte of the first record's data: its length and length checksum intact
        open(f, "wb").write(bytes(raw))
    proc = run_cli("-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={free_port()}", "train.py",
                   "--features", str(tmp_path / "uneven"), "--val-features", f"{d}/validate*", "--out",
                   str(tmp_path / "ddp"), "--epochs", "2", "--hidden", "32", "--batch-size", "8", "--tag-head", "mlp",
                   "--workers", workers, env={"OMP_NUM_THREADS": "1", "PYTHONWARNINGS": None}, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    said = [x for x in proc.stderr.splitlines() if "bad data checksum" in x]
    assert sorted(x.split(":")[1].strip() for x in said) == sorted(files), said
    # a tag-only model without LSTMs uses every parameter: DDP is not told otherwise (torch warned once a rank);
    # nor told of buffers by a name torch deprecates (torch 2.14 warned for broadcast_buffers; new-user trial)
    assert "find_unused_parameters=True was specified" not in proc.stderr, proc.stderr[-3000:]
    assert "is deprecated" not in proc.stderr, proc.stderr[-3000:]
    *_, ckpt = load_checkpoint(tmp_path / "ddp" / "last.pt")
    assert ckpt["epoch"] == 2
    # (every rank's streamed ids, gathered: rank 0 streams two of the shards, rank 1 the other)
    assert len(set(ckpt["trained_ids"])) == 47 - 3
    # and best.pt lists them all for evaluate's "were training videos" warning (it listed rank 0's alone)
    *_, best = load_checkpoint(tmp_path / "ddp" / "best.pt")
    assert set(ckpt["trained_ids"]) <= set(best["training_ids"])
    # the refit streams train + val (44 + 40 records): each counted once, a rank's repeated batches not
    refits = re.findall(r"refit epoch \d+/\d+: loss \S+, (\d+) items", proc.stderr)
    assert refits and all(n == "84" for n in refits), proc.stderr[-3000:]


def test_resumed_shard_run_matches_an_uninterrupted_one(data, tmp_path):
    root, d = data
    kw = dict(manifest=str(root / "manifest.jsonl"), features=f"{d}/train000[0-1].tfrecord",
              val_features=f"{d}/validate*", epochs=2, patience=5, **FAST)
    train(TrainConfig.of(out=str(tmp_path / "full"), **kw))
    train(TrainConfig.of(out=str(tmp_path / "cut"), stop_after=1, **kw))
    train(TrainConfig.of(out=str(tmp_path / "cut"), resume=True, **kw))
    a = torch.load(tmp_path / "full" / "last.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "cut" / "last.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)  # the epoch-2 stream is (seed, epoch)'s alone
    # (the manifest's training videos, which a later --resume's val split is checked against)
    assert len(torch.load(tmp_path / "cut" / "last.pt", weights_only=True)["trained_ids"]) == 160
    # the refit (the tags recipe's default) on the manifest's train videos in the training shards + its val
    # videos in --val-features: the resumed run's is the unbroken one's
    a, b = (torch.load(tmp_path / r / "best.pt", weights_only=True) for r in ("full", "cut"))
    assert a["refit"] == b["refit"] and all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert sorted(a["refit"]["ids"]) == sorted([f"train{i}_{j}" for i in range(2) for j in range(40)]
                                               + [f"validate0_{j}" for j in range(40)])


def test_real_shard_streams_every_record(sample_data):
    path = sample_data / "yt8m" / "validate0000.tfrecord"
    if not path.is_file():
        pytest.skip(f"no YouTube-8M shards in {path.parent}")
    path = str(path)
    got = list(stream([path], buffer=64).items())
    assert len(got) == count_records(path) > 200 and len({it["video_id"] for it in got}) == len(got)
    assert all(it["feats"]["rgb"].shape == (1, 1024) for it in got)


def test_manifest_val_split_found_in_the_training_shards(data, tmp_path, capsys):
    root, d = data  # the folder holds train*, validate* and test*: the manifest says which is which
    best = train(TrainConfig.of(manifest=str(root / "manifest.jsonl"), features=str(d), out=str(tmp_path / "run"),
                             epochs=2, **{**FAST, "quiet": False}))
    err = capsys.readouterr().err
    assert "gap" in best and "train 160 videos" in err and "/ val 40 videos" in err
    # the tag-only recipe refits on train + val: the manifest's train and val videos, streamed from the same
    # shards (each once), not its test videos
    ckpt = torch.load(tmp_path / "run" / "best.pt", weights_only=True)
    epochs = ckpt["epoch"]
    assert ckpt["refit"]["epochs"] == epochs and ckpt["refit"]["videos"] == 200
    assert f"refitted on train + val for {epochs} epoch" in err and "the 200 train + val videos" in err
    # (said when it starts: the refit replays the chosen epochs, minutes without a line on real data)
    assert f"refit: a fresh network on train + val (200 videos) for the {epochs} epoch" in err
    assert all(", 200 items, " in x for x in err.splitlines() if x.startswith("refit epoch "))
    lines = map(json.loads, (root / "manifest.jsonl").read_text().splitlines())
    assert sorted(ckpt["refit"]["ids"]) == sorted(e["video_id"] for e in lines if e["split"] in ("train", "val"))


def test_manifest_val_videos_missing_from_the_shards_are_said(data, tmp_path, capsys):
    """A manifest whose val videos sit in shards not given to --features said "no validation videos (no val
    split, and too few training videos to hold one out)", both halves false, and trained without validation."""
    root, d = data
    code = main(["train", "--manifest", str(root / "manifest.jsonl"), "--features", f"{d}/train*",
                 "--out", str(tmp_path / "run"), "--epochs", "1", "--hidden", "32", "--tag-head", "mlp"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert err[0].startswith(f"error: {root / 'manifest.jsonl'}: none of its 40 val videos is in --features ") and \
        err[0].endswith("pass --val-features SHARDS that hold them"), err
    assert not (tmp_path / "run").exists()


def test_a_shard_in_both_features_and_val_features_is_refused(data, tmp_path, capsys):
    root, d = data
    (tmp_path / "link.tfrecord").symlink_to(d / "train0001.tfrecord")
    common = ["--out", str(tmp_path / "run"), "--epochs", "1", "--hidden", "32", "--tag-head", "mlp"]
    for val in (str(d / "train0001.tfrecord"), f"{d}/train000[1]*", str(tmp_path / "link.tfrecord")):
        assert main(["train", "--features", f"{d}/train*", "--val-features", val, *common]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: --val-features ") and "is also a training shard" in err[0]
        assert "train0001.tfrecord" in err[0]
    assert not (tmp_path / "run").exists()


def test_validation_videos_among_the_training_records_are_refused(data, tmp_path, capsys, monkeypatch):
    root, d = data
    train_dir = tmp_path / "train"
    train_dir.mkdir()
    for name in ("train0000.tfrecord", "train0001.tfrecord"):
        (train_dir / name).write_bytes((d / name).read_bytes())
    # another file with the validation shard's records (a copy): the same videos, not the same file
    (train_dir / "zcopy.tfrecord").write_bytes((d / "validate0000.tfrecord").read_bytes())
    common = ["--features", str(train_dir), "--val-features", str(d / "validate0000.tfrecord"), "--epochs", "1",
              "--hidden", "32", "--tag-head", "mlp", "--batch-size", "16"]
    # in the statistics' sample (all 120 records here): refused before training, with the count and ids
    assert main(["train", *common, "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: --val-features: 40 video ids ") and "first: validate0_0" in err[-1], err
    assert not (tmp_path / "a").exists()
    # beyond the sample: the stream meets them in epoch 1, before any checkpoint
    monkeypatch.setattr("s2vt.shards.STATS_SAMPLE", 10)
    assert main(["train", *common, "--out", str(tmp_path / "b"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: --val-features: ") and "found streaming epoch 1" in err[-1], err
    assert "validate0_" in err[-1]
    assert not any((tmp_path / "b" / name).exists() for name in ("best.pt", "last.pt", "metrics.csv"))


def test_an_existing_shard_whose_name_looks_like_a_glob_is_read_as_named(data, tmp_path):
    root, d = data
    literal = tmp_path / "day[1].tfrecord"
    literal.write_bytes((d / "test0000.tfrecord").read_bytes())
    (tmp_path / "day1.tfrecord").write_bytes((d / "train0000.tfrecord").read_bytes())  # what the glob matches
    assert shard_files(str(literal)) == [str(literal)]
    assert shard_files(f"{tmp_path}/day[1].tfrecord") == [str(literal)]
    assert shard_files(f"{tmp_path}/day?.tfrecord") == [str(tmp_path / "day1.tfrecord")]  # not a file: a glob


def test_resume_with_other_shards_says_which_changed(data, tmp_path, capsys):
    root, d = data
    (tmp_path / "moved").mkdir()
    for name in ("train0000.tfrecord", "train0001.tfrecord", "validate0000.tfrecord"):
        (tmp_path / "moved" / name).write_bytes((d / name).read_bytes())
    kw = dict(manifest=None, epochs=3, patience=5, out=str(tmp_path / "run"), **{**FAST, "quiet": False})
    train(TrainConfig.of(features=f"{d}/train000[0-1].tfrecord", val_features=str(d / "validate0000.tfrecord"),
                         stop_after=1, **kw))
    capsys.readouterr()
    # the same shards from another folder (a moved copy): nothing to say
    train(TrainConfig.of(features=str(tmp_path / "moved" / "train*"),
                         val_features=str(tmp_path / "moved" / "validate0000.tfrecord"), stop_after=2, resume=True,
                         **kw))
    assert "other shards" not in capsys.readouterr().err
    # other val shards: best.pt's score was measured on the old ones, which the warning names
    train(TrainConfig.of(features=f"{d}/train000[0-2].tfrecord", val_features=str(d / "test0000.tfrecord"),
                         resume=True, **kw))
    line = [x for x in capsys.readouterr().err.splitlines() if "other shards" in x]
    assert len(line) == 1 and line[0].startswith("warning: --resume: other shards than last.pt's: --features "), line
    assert "1 shard added (train0002.tfrecord)" in line[0] and "1 shard left out (validate0000.tfrecord)" in line[0]
    assert "compared with best.pt's gap " in line[0]
    assert f"pass --val-features {tmp_path / 'moved' / 'validate0000.tfrecord'}" in line[0]


def test_resume_without_the_vocabulary_it_started_with_names_it(data, tmp_path, capsys):
    root, d = data
    vocab = tmp_path / "vocabulary.csv"
    vocab.write_text("Index,Name\n" + "".join(f"{i},class {i}\n" for i in range(3862)))  # (as many as label0..)
    common = ["train", "--features", f"{d}/train000[0-1].tfrecord", "--val-features", str(d / "validate0000.tfrecord"),
              "--out", str(tmp_path / "run"), "--epochs", "2", "--hidden", "32", "--tag-head", "mlp", "--quiet"]
    assert main([*common, "--vocabulary", str(vocab), "--stop-after", "1"]) == 0
    capsys.readouterr()
    assert main([*common, "--resume"]) == 2  # label0.. now, "class 0".. there: as many tags, other names
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --resume: the tags differ from "), err
    assert "(as many, 3862, in other names or order)" in err[0] and "manifest" not in err[0]
    assert err[0].endswith(f"the run started with --vocabulary {vocab}: pass the same --vocabulary to resume it")
    assert main([*common, "--resume", "--vocabulary", str(vocab)]) == 0


def test_resume_reads_the_shards_with_the_runs_workers(data, tmp_path, capsys):
    """The shards are shared out among the DataLoader workers, so the records' order follows --workers: a plain
    --resume of a --workers 2 run read them on 0 and trained another model, unsaid (trial 90). It takes the run's;
    another count given is warned of."""
    root, d = data
    for run, first, again, said in (
            ("plain", "2", [], None), ("same", "0", ["--workers", "1"], None),  # (0 or 1: one reader, one order)
            ("other", "2", ["--workers", "0"], "warning: --resume: the run read its shards with --workers 2, this one "
             "with 0: the records' order differs from here on; pass --workers 2 to continue it exactly")):
        common = ["train", "--features", f"{d}/train000[0-1].tfrecord", "--val-features",
                  str(d / "validate0000.tfrecord"), "--out", str(tmp_path / run), "--epochs", "2", "--hidden", "32",
                  "--tag-head", "mlp", "--quiet"]
        assert main([*common, "--workers", first, "--stop-after", "1"]) == 0
        capsys.readouterr()
        assert main([*common, "--resume", *again]) == 0
        err = capsys.readouterr().err.splitlines()
        assert [x for x in err if "--workers" in x] == ([said] if said else []), err
        workers = torch.load(tmp_path / run / "last.pt", weights_only=True)["settings"]["workers"]
        assert workers == {"plain": 2, "same": 1, "other": 0}[run]
    # a finished run reads no records: nothing to say
    assert main([*common, "--resume", "--workers", "2"]) == 0
    assert "--workers" not in capsys.readouterr().err


def test_evaluate_on_shards_says_to_import_them_and_that_import_works(data, tmp_path, capsys):
    import shlex

    root, d = data
    run = tmp_path / "run"
    assert main(["train", "--features", str(d / "train0000.tfrecord"),
                 "--val-features", str(d / "validate0000.tfrecord"), "--out", str(run), "--epochs", "1",
                 "--hidden", "32", "--tag-head", "mlp", "--quiet"]) == 0
    capsys.readouterr()
    for given in (str(d / "test0000.tfrecord"), str(d), f"{d}/test*.tfrecord"):
        assert main(["evaluate", "--checkpoint", str(run / "best.pt"), "--manifest", str(tmp_path / "m.jsonl"),
                     "--features", given]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"error: {given}: YouTube-8M TFRecord shards, not a feature store")
        assert "feature store not found" not in err[0] and "--vocabulary" not in err[0]  # (label0..: none was given)
    # without --manifest: argparse's 'required: --manifest' alone, not why (new-user trial); now with the import
    assert code_of(["evaluate", "--checkpoint", str(run / "best.pt"), "--features", f"{d}/test*.tfrecord"]) == 2
    said = capsys.readouterr().err.strip().splitlines()
    assert len(said) == 1 and said[0].startswith(f"error: --features '{d}/test*.tfrecord' names YouTube-8M TFRecord "
                                                 "shards, and evaluate reads a feature store and its --manifest: "
                                                 "import the shards first ("), said
    assert "s2vt import yt8m" in said[0] and "--out MANIFEST.jsonl" in said[0]
    assert code_of(["evaluate", "--checkpoint", str(run / "best.pt"), "--features", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == ("error: the following arguments are required: --manifest (see s2vt "
                                               "evaluate --help)")
    # the import it says, as it says it (the glob quoted: the import expands it, as train.py does), then
    # evaluate as it says
    command = err[0].split("import the shards first (")[1].split(")")[0]
    store, manifest = tmp_path / "store", tmp_path / "test.jsonl"
    words = [str(store) if w == "STORE" else str(manifest) if w == "MANIFEST.jsonl" else w
             for w in shlex.split(command)]
    assert words[:3] == ["s2vt", "import", "yt8m"] and words[3] == f"{d}/test*.tfrecord"
    assert main(words[1:]) == 0
    assert main(["evaluate", "--checkpoint", str(run / "best.pt"), "--manifest", str(manifest),
                 "--features", str(store), "--out", str(tmp_path / "preds.json")]) == 0
    # and its Kaggle file (no yt8m export existed; hostile trial): inference.py's CSV of the top 20 classes, the
    # tags label<Index> of a run without --vocabulary read back as their indices
    out = tmp_path / "predictions.csv"
    assert main(["export", str(tmp_path / "preds.json"), "--format", "yt8m", "--out", str(out)]) == 0
    preds = {p["video_id"]: p["top_tags"] for p in json.loads((tmp_path / "preds.json").read_text())}
    lines = out.read_text().splitlines()
    assert lines[0] == "VideoId,LabelConfidencePairs" and len(lines) == 1 + len(preds) == 21
    for line in lines[1:]:
        vid, pairs = line.split(",")
        pairs = pairs.split()
        confs = [float(p) for p in pairs[1::2]]  # (best first; float32 ties by class index)
        assert len(pairs) == 40 and confs == sorted(confs, reverse=True)
        assert dict(zip(map(int, pairs[::2]), confs)) == pytest.approx({int(t["tag"][5:]): t["p"] for t in preds[vid]},
                                                                       rel=1e-5)


def test_shard_run_lists_its_streamed_ids_and_evaluate_on_its_training_shard_warns(data, tmp_path, capsys):
    root, d = data
    run = tmp_path / "run"
    assert main(["train", "--features", f"{d}/train000[0-1].tfrecord", "--val-features",
                 str(d / "validate0000.tfrecord"), "--out", str(run), "--epochs", "2", "--hidden", "32",
                 "--tag-head", "mlp", "--quiet", "--no-neighbours"]) == 0  # (their memory adds val's ids)
    *_, ckpt = load_checkpoint(run / "best.pt")
    assert ckpt["training_ids"] == sorted(f"train{i}_{j}" for i in range(2) for j in range(40))
    capsys.readouterr()
    # a manifest of one of its training shards, named split val, as `s2vt import yt8m` of validate* files is
    manifest, store = tmp_path / "m.jsonl", tmp_path / "store"
    import_yt8m([str(d / "train0001.tfrecord")], manifest, store, split="val")
    assert main(["evaluate", "--checkpoint", str(run / "best.pt"), "--manifest", str(manifest), "--features",
                 str(store), "--split", "val", "--out", str(tmp_path / "preds.json")]) == 0
    err = capsys.readouterr().err
    assert f"warning: 40 of 40 videos of split val were training videos of {run / 'best.pt'}" in err, err
    # held-out videos: no warning
    held, held_store = tmp_path / "h.jsonl", tmp_path / "held"
    import_yt8m([str(d / "train0002.tfrecord")], held, held_store, split="val")
    assert main(["evaluate", "--checkpoint", str(run / "best.pt"), "--manifest", str(held), "--features",
                 str(held_store), "--split", "val", "--out", str(tmp_path / "held.json")]) == 0
    assert "training videos" not in capsys.readouterr().err


def test_resume_of_a_last_pt_without_its_shard_list_compares_the_shards_its_flags_name(data, tmp_path, capsys):
    root, d = data
    kw = dict(manifest=None, epochs=3, patience=5, out=str(tmp_path / "run"), **{**FAST, "quiet": False})
    train(TrainConfig.of(features=f"{d}/train000[0-1].tfrecord", val_features=str(d / "validate0000.tfrecord"),
                         stop_after=1, **kw))
    last = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    del last["shards"]  # (as a last.pt written before it was recorded)
    torch.save(last, tmp_path / "run" / "last.pt")
    capsys.readouterr()
    train(TrainConfig.of(features=f"{d}/train000[0-1].tfrecord", val_features=str(d / "test0000.tfrecord"),
                         stop_after=2, resume=True, **kw))
    line = [x for x in capsys.readouterr().err.splitlines() if "other shards" in x]
    assert len(line) == 1 and "--val-features " in line[0] and "--features " not in line[0].split(": ", 2)[2], line


def test_resume_refuses_val_shards_the_run_trained_on_even_two_resumes_back(data, tmp_path, capsys):
    root, d = data
    run = tmp_path / "run"
    common = ["train", "--out", str(run), "--epochs", "4", "--hidden", "32", "--tag-head", "mlp", "--quiet"]
    assert main([*common, "--features", f"{d}/train000[0-1].tfrecord", "--val-features",
                 str(d / "validate0000.tfrecord"), "--stop-after", "1"]) == 0
    assert main([*common, "--features", str(d / "train0002.tfrecord"), "--val-features",
                 str(d / "validate0000.tfrecord"), "--stop-after", "2", "--resume"]) == 0
    capsys.readouterr()
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    # train0000 trained epoch 1 (last.pt's latest shards are train0002's alone): refused, also as a copy
    (tmp_path / "copy.tfrecord").write_bytes((d / "train0000.tfrecord").read_bytes())
    for val in (str(d / "train0000.tfrecord"), str(tmp_path / "copy.tfrecord")):
        assert main([*common, "--features", str(d / "train0003.tfrecord"), "--val-features", val, "--resume"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"error: --resume: --val-features {val}: "), err
        assert "the run in" in err[0] and "trained on" in err[0] and "inflates the scores" in err[0]
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before
    ckpt = torch.load(run / "last.pt", weights_only=True)
    assert [p.rsplit("/", 1)[1] for p, *_ in ckpt["shards"]["trained"]] == ["train0000.tfrecord",
                                                                            "train0001.tfrecord", "train0002.tfrecord"]


def test_resume_refuses_val_records_the_run_trained_on_inside_another_file(data, tmp_path, capsys):
    """Without a manifest last.pt lists the ids the run streamed: a val file that holds training records
    among others (a concatenation, a re-export) is another shard by size and digest, found by its videos."""
    root, d = data
    run = tmp_path / "run"
    common = ["train", "--out", str(run), "--epochs", "4", "--hidden", "32", "--tag-head", "mlp", "--quiet"]
    assert main([*common, "--features", str(d / "train0000.tfrecord"), "--val-features",
                 str(d / "validate0000.tfrecord"), "--stop-after", "1"]) == 0
    assert sorted(torch.load(run / "last.pt", weights_only=True)["trained_ids"]) == sorted(
        f"train0_{j}" for j in range(40))
    capsys.readouterr()
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    both = tmp_path / "both.tfrecord"  # train0000's 40 records, then test0000's 20
    both.write_bytes((d / "train0000.tfrecord").read_bytes() + (d / "test0000.tfrecord").read_bytes())
    assert main([*common, "--features", str(d / "train0001.tfrecord"), "--val-features", str(both), "--resume"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: --resume: --val-features {both}: 40 of its 60 videos are "
                                               f"videos the run in {run / 'last.pt'} trained on (first: "), err
    assert "inflates the scores" in err[0]
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before
    # disjoint videos: resumed; last.pt then lists both epochs' training shards' ids
    assert main([*common, "--features", str(d / "train0001.tfrecord"), "--val-features", str(d / "test0000.tfrecord"),
                 "--stop-after", "2", "--resume"]) == 0
    assert sorted(torch.load(run / "last.pt", weights_only=True)["trained_ids"]) == sorted(
        f"train{i}_{j}" for i in range(2) for j in range(40))


def test_resume_refuses_a_manifest_whose_val_videos_the_run_trained_on(data, tmp_path, capsys):
    root, d = data
    entries = [json.loads(x) for x in (root / "manifest.jsonl").read_text().splitlines()]
    moved = [{**e, "split": "val"} if e["video_id"] in ("train0_0", "train0_1", "train0_2", "train0_3") else e
             for e in entries]
    other = [{**e, "split": "test"} if e["video_id"].startswith("validate0_1") else e for e in entries]
    for name, es in (("moved.jsonl", moved), ("other.jsonl", other)):
        (tmp_path / name).write_text("".join(json.dumps(e) + "\n" for e in es))
    run = tmp_path / "run"
    common = ["train", "--features", str(root / "store"), "--out", str(run), "--epochs", "3", "--hidden", "32",
              "--tag-head", "mlp", "--no-refit"]
    assert main([*common, "--manifest", str(root / "manifest.jsonl"), "--stop-after", "1", "--quiet"]) == 0
    assert len(torch.load(run / "last.pt", weights_only=True)["trained_ids"]) == 160
    capsys.readouterr()
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    assert main([*common, "--manifest", str(tmp_path / "moved.jsonl"), "--resume"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --resume: 4 of the 44 validation videos of "), err
    assert "(first: train0_0, train0_1, train0_2, ...)" in err[0]
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before
    # another val split with no training video in it: a warning, best.pt's score was on other videos
    assert main([*common, "--manifest", str(tmp_path / "other.jsonl"), "--resume", "--stop-after", "2"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert sum("validation videos are not those of" in x for x in err) == 1, err


def test_val_features_without_a_readable_record_exits_2(data, tmp_path, capsys):
    root, d = data
    (tmp_path / "empty.tfrecord").write_bytes(b"")
    (tmp_path / "vocabulary.csv").write_text("Index,TrainVideoCount,Name\n0,10,Game\n")
    for val in (str(tmp_path / "empty.tfrecord"), str(tmp_path / "vocabulary.csv")):
        for manifest in ([], ["--manifest", str(root / "manifest.jsonl")]):
            assert main(["train", "--features", str(d / "train0000.tfrecord"), "--val-features", val, *manifest,
                         "--out", str(tmp_path / "run"), "--epochs", "1", "--quiet"]) == 2
            err = capsys.readouterr().err.strip().splitlines()
            if val.endswith(".csv"):  # (named as no shard: refused alone, before any reading; new-user trial 94)
                assert err == [f"error: {val}: not a TFRecord file (a vocabulary CSV goes in --vocabulary)"]
            else:
                assert err[-1].startswith(f"error: --val-features {val}: no validation ") and "could be read" in err[-1]
            assert not any("no validation videos" in x for x in err) and not (tmp_path / "run").exists()


def test_an_empty_training_shard_is_said_in_one_line(data, tmp_path, capsys):
    """A 0-byte file among the training shards (a download cut at its start) trained on silently, as if it
    were there (new-user trial); now one warning line names it, once a run, and training goes on."""
    root, d = data
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "train0000.tfrecord").write_bytes((d / "train0000.tfrecord").read_bytes())
    (tmp_path / "s" / "train0001.tfrecord").write_bytes(b"")
    assert main(["train", "--features", str(tmp_path / "s"), "--val-features", str(d / "validate0000.tfrecord"),
                 "--out", str(tmp_path / "run"), "--epochs", "2", "--hidden", "16", "--tag-head", "mlp"]) == 0
    said = [x for x in capsys.readouterr().err.splitlines() if "train0001" in x]
    assert said == [f"warning: {tmp_path / 's' / 'train0001.tfrecord'}: an empty file (0 bytes): no records to "
                    "train on"], said


def test_an_empty_manifest_beside_shards_is_said_to_be_empty(data, tmp_path, capsys):
    """An empty --manifest with shards was told to import its videos with --split train (review): no split mends
    an empty file; it is said to have no video, as train.py says it from a store or without one."""
    root, d = data
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert main(["train", "--manifest", str(empty), "--features", str(d / "train0000.tfrecord"),
                 "--out", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err.splitlines() == [f"error: {empty}: the manifest has no video"]


def test_a_header_only_vocabulary_is_refused_and_a_truncated_one_said_once_per_shard(data, tmp_path, capsys):
    root, d = data
    common = ["train", "--features", f"{d}/train000[0-1].tfrecord", "--val-features", str(d / "validate0000.tfrecord"),
              "--epochs", "2", "--hidden", "32", "--tag-head", "mlp", "--quiet"]
    (tmp_path / "header.csv").write_text("Index,TrainVideoCount,KnowledgeGraphId,Name\n")
    assert main([*common, "--vocabulary", str(tmp_path / "header.csv"), "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {tmp_path / 'header.csv'}: a vocabulary without any class")
    assert not (tmp_path / "a").exists()
    # classes 0-3 of the planted 0-4: half the records (those with label 4) are skipped, in one line per shard
    (tmp_path / "short.csv").write_text("Index,Name\n" + "".join(f"{i},class {i}\n" for i in range(4)))
    assert main([*common, "--vocabulary", str(tmp_path / "short.csv"), "--out", str(tmp_path / "b")]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert not any(": record " in x for x in err), err[:5]
    said = [x for x in err if "label outside the vocabulary" in x]
    assert sorted(x.split(":")[1].strip() for x in said) == sorted(
        str(d / f"{n}.tfrecord") for n in ("validate0000", "train0000", "train0001")), said
    assert all(" records skipped: label outside the vocabulary (label 4)" in x for x in said), said
    # (every record outside it: the line asks whether the vocabulary is truncated)
    (tmp_path / "other.csv").write_text("Index,Name\n900,x\n901,y\n")
    assert main([*common, "--vocabulary", str(tmp_path / "other.csv"), "--out", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert any("40 of 40 records skipped" in x and "is --vocabulary truncated" in x for x in err), err
    assert len(err) <= 4, err


def test_resume_without_shard_flags_says_what_the_run_started_with(data, tmp_path, capsys):
    root, d = data
    run = tmp_path / "run"
    assert main(["train", "--features", f"{d}/train000[0-1].tfrecord", "--val-features",
                 str(d / "validate0000.tfrecord"), "--out", str(run), "--epochs", "2", "--stop-after", "1", "--hidden",
                 "32", "--tag-head", "mlp", "--quiet"]) == 0
    capsys.readouterr()
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    assert main(["train", "--out", str(run), "--resume"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --resume needs the same --features"), err
    assert f"pass --features '{d}/train000[0-1].tfrecord' --val-features {d / 'validate0000.tfrecord'}" in err[0]
    assert "--vocabulary" not in err[0] and "leaving out" not in err[0]
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before
    assert main(["train", "--out", str(tmp_path / "none"), "--resume"]) == 2
    assert capsys.readouterr().err.strip().endswith("--resume needs the same --features (and --manifest, if any) the "
                                                    "run started with")


def test_a_shard_given_twice_is_refused_and_repeated_videos_said_once(data, tmp_path, capsys, monkeypatch):
    root, d = data
    twice = tmp_path / "twice"
    twice.mkdir()
    (twice / "train0000.tfrecord").write_bytes((d / "train0000.tfrecord").read_bytes())
    (twice / "train0000 copy.tfrecord").write_bytes((d / "train0000.tfrecord").read_bytes())
    (tmp_path / "linked").mkdir()
    (tmp_path / "linked" / "a.tfrecord").symlink_to(d / "train0001.tfrecord")
    (tmp_path / "linked" / "b.tfrecord").symlink_to(d / "train0001.tfrecord")
    common = ["--val-features", str(d / "validate0000.tfrecord"), "--epochs", "2", "--hidden", "32", "--tag-head",
              "mlp", "--quiet"]
    for features in (str(twice), str(tmp_path / "linked")):
        assert main(["train", "--features", features, *common, "--out", str(tmp_path / "a")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: --features: ") and "are the same shard" in err[0], err
        assert not (tmp_path / "a").exists()
    # other records of 5 of train0000's videos (a re-export): trained, with one warning naming them
    other = tmp_path / "other"
    shards(other, "train", [5], seed=9)
    (twice / "train0000 copy.tfrecord").write_bytes((other / "train0000.tfrecord").read_bytes())
    (twice / "train0001.tfrecord").write_bytes((d / "train0001.tfrecord").read_bytes())
    # in the statistics' sample, and (the sample the copy's 5 records alone) met by the stream only
    for sample, run, where in ((1000, "b", "among the first"), (5, "c", "epoch 1")):
        monkeypatch.setattr("s2vt.shards.STATS_SAMPLE", sample)
        assert main(["train", "--features", str(twice), *common, "--out", str(tmp_path / run)]) == 0
        err = [x for x in capsys.readouterr().err.splitlines() if "in more than one training record" in x]
        assert len(err) == 1 and err[0].startswith("warning: --features: 5 video ids in more than one"), err
        assert f"({where}" in err[0] and "first: train0_" in err[0]


def test_the_summary_counts_records_not_videos_without_a_manifest(data, tmp_path, capsys):
    """Shards with a video in two of them said `train 881 videos (881 items, ...)`: their records."""
    root, d = data
    twice = tmp_path / "twice"
    twice.mkdir()
    (twice / "train0000.tfrecord").write_bytes((d / "train0000.tfrecord").read_bytes())
    (twice / "train0001.tfrecord").write_bytes((d / "train0001.tfrecord").read_bytes()
                                               + (d / "train0000.tfrecord").read_bytes())
    args = ["--val-features", str(d / "validate0000.tfrecord"), "--epochs", "1", "--hidden", "32", "--tag-head", "mlp"]
    assert main(["train", "--features", str(twice), *args, "--out", str(tmp_path / "run")]) == 0
    err = capsys.readouterr().err
    assert "train 120 records (120 items, " in err and "videos (" not in err.split("/ val")[0], err
    # with the manifest: its training videos, as before
    assert main(["train", "--features", str(d), "--manifest", str(root / "manifest.jsonl"), *args[2:],
                 "--out", str(tmp_path / "m")]) == 0
    assert "train 160 videos (160 items, " in capsys.readouterr().err


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_a_signal_to_the_process_group_with_workers_says_one_line(tmp_path, sig):
    """SIGTERM (or Ctrl-C) to train.py's process group while its --workers 2 DataLoader workers read the
    shards: the workers got it too, and died of it, and the loader printed `Exception ignored in
    _MultiProcessingDataLoaderIter.__del__` with a traceback before the `interrupted:` line. The workers
    now leave the signal to the training process, which ends them itself: its one line, exit 130/143."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from .conftest import REPO

    files = shards(tmp_path / "s", "train", [400] * 4) + shards(tmp_path / "s", "validate", [40], 1)
    log = tmp_path / "stderr.txt"
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    with open(log, "w") as err:
        proc = subprocess.Popen([sys.executable, "train.py", "--features", str(tmp_path / "s" / "train*.tfrecord"),
                                 "--val-features", files[-1], "--out", str(tmp_path / "run"), "--workers", "2",
                                 "--epochs", "100000", "--patience", "100000", "--hidden", "16", "--embed", "16",
                                 "--batch-size", "4"],
                                cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
        try:
            deadline = time.time() + 300
            while "epoch 1:" not in log.read_text() and proc.poll() is None and time.time() < deadline:
                time.sleep(0.2)
            assert proc.poll() is None, log.read_text()[-2000:]
            time.sleep(0.5)  # (into epoch 2: the workers are reading)
            os.killpg(proc.pid, getattr(signal, sig))  # (as a terminal's Ctrl-C or `timeout` sends it)
            rc = proc.wait(timeout=120)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
    text = log.read_text()
    assert rc == (143 if sig == "SIGTERM" else 130), text[-2000:]
    assert "Traceback" not in text and "Exception ignored" not in text, text[-2000:]
    assert text.strip().splitlines()[-1].startswith("interrupted: "), text[-2000:]


def test_evaluate_on_shards_names_the_vocabulary_trained_with_quoted(data, tmp_path, capsys, monkeypatch):
    """The advice said `--vocabulary vocabulary.csv` (the file's name alone) for a model trained with
    `--vocabulary yt8m/vocabulary.csv`, and paths with spaces unquoted: now the path trained with, as
    usable from here, each path quoted to paste."""
    import shlex

    root, d = data
    (tmp_path / "my data").mkdir()
    vocab = tmp_path / "my data" / "vocabulary.csv"
    vocab.write_text("Index,Name\n" + "".join(f"{i},class {i}\n" for i in range(5)))
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--features", str(d / "train0000.tfrecord"), "--val-features", str(d / "validate0000.tfrecord"),
                 "--vocabulary", "my data/vocabulary.csv", "--out", "my run", "--epochs", "1", "--hidden", "32",
                 "--tag-head", "mlp", "--quiet"]) == 0
    capsys.readouterr()
    (tmp_path / "my shards").mkdir()
    (tmp_path / "my shards" / "a.tfrecord").write_bytes((d / "test0000.tfrecord").read_bytes())
    assert main(["evaluate", "--checkpoint", "my run/best.pt", "--manifest", "m.jsonl",
                 "--features", "my shards/a.tfrecord"]) == 2
    err = capsys.readouterr().err.strip()
    words = shlex.split(err.split("import the shards first (")[1].split(")")[0])
    assert words[3] == "my shards/a.tfrecord" and words[words.index("--vocabulary") + 1] == "my data/vocabulary.csv"


def test_an_epoch_left_open_at_exit_ends_its_workers(tmp_path):
    """The workers ignore SIGTERM (the training process ends them): an epoch's loader still open when the
    process exits (an interrupted epoch kept by a reference cycle) would leave multiprocessing's exit,
    which ends daemon processes with SIGTERM, waiting for them for ever."""
    import subprocess
    import sys

    from .conftest import REPO

    files = shards(tmp_path, "train", [40, 40])
    code = ("import sys, torch\nfrom s2vt.shards import ShardStream\nfrom s2vt.data import Labels\n"
            f"ds = ShardStream({files!r}, ['rgb'], Labels([f'label{{i}}' for i in range(5)], multilabel=True), "
            "None, None, batch_size=4, buffer=8, seed=0, workers=2)\n"
            "g = ds.batches(torch.device('cpu'))\nnext(g)\nKEEP = [g, KEEP] if 'KEEP' in dir() else [g]\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**__import__("os").environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0 and "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr, \
        proc.stderr[-2000:]


@pytest.mark.parametrize("sizes, workers", [([12, 10, 14, 9], 2),  # whole shards: 4 shards >= 2 readers
                                            ([12, 10], 3)])  # records split j::3: every worker reads every shard
def test_a_shard_line_from_dataloader_workers_is_said_once_a_run(tmp_path, capfd, sizes, workers):
    """With --workers, a shard's line (labels outside a truncated --vocabulary) came once per epoch, each
    epoch's workers starting from the main process's set of lines said, and with fewer shards than readers
    from every worker: the same line N times."""
    files = shards(tmp_path, "train", sizes)
    vocab = {i: f"label{i}" for i in range(4)}  # (label 4, planted in half the records, is outside it)
    ds = ShardStream(files, ["rgb"], LABELS, vocab, None, batch_size=4, buffer=8, seed=0, workers=workers)
    capfd.readouterr()
    for epoch in (0, 1):
        ds.set_epoch(epoch)
        assert sum(len(b["video_id"]) for b in ds.batches(torch.device("cpu"))) > 0
    said = [x for x in capfd.readouterr().err.splitlines() if "label outside the vocabulary" in x]
    assert sorted(x.split(":")[1].strip() for x in said) == sorted(files), said  # (each shard once)


def test_torchrun_ranks_say_a_shard_line_once(data, tmp_path):
    """Under torchrun every rank read the same validation and statistics records and said their lines
    (labels outside a truncated --vocabulary): each line twice with two ranks."""
    root, d = data
    (tmp_path / "short.csv").write_text("Index,Name\n" + "".join(f"{i},class {i}\n" for i in range(4)))
    proc = run_cli("-m", "torch.distributed.run", "--nproc_per_node=2", f"--master_port={free_port()}", "train.py",
                   "--features", f"{d}/train000[0-1].tfrecord", "--val-features", str(d / "validate0000.tfrecord"),
                   "--vocabulary", str(tmp_path / "short.csv"), "--out", str(tmp_path / "ddp"), "--epochs", "2",
                   "--hidden", "32", "--batch-size", "8", "--tag-head", "mlp", "--quiet",
                   env={"OMP_NUM_THREADS": "1"}, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    said = [x for x in proc.stderr.splitlines() if "label outside the vocabulary" in x]
    assert sorted(x.split(":")[1].strip() for x in said) == sorted(
        str(d / f"{n}.tfrecord") for n in ("validate0000", "train0000", "train0001")), said


def refit_args(d, *more: str) -> list[str]:
    return ["train", "--features", f"{d}/train000[0-1].tfrecord", "--val-features", str(d / "validate0000.tfrecord"),
            "--epochs", "2", "--hidden", "32", "--batch-size", "16", "--tag-head", "mlp", *more]


def test_a_shard_run_refits_on_the_training_and_validation_records(data, tmp_path, capsys):
    """The tag-only recipe's refit on train + val was skipped for shards (a note): now a fresh network
    trains on the training shards' records and the validation shards' for the epochs val chose."""
    root, d = data
    assert main(refit_args(d, "--out", str(tmp_path / "refit"))) == 0
    err = capsys.readouterr().err
    assert main(refit_args(d, "--no-refit", "--out", str(tmp_path / "plain"))) == 0
    assert "refit" not in capsys.readouterr().err  # --no-refit: no refit, no note
    refit, was = (torch.load(tmp_path / r / "best.pt", weights_only=True) for r in ("refit", "plain"))
    epochs = was["epoch"]
    lines = [x for x in err.splitlines() if x.startswith("refit epoch ")]
    assert [x.split(":")[0] for x in lines] == [f"refit epoch {k}/{epochs}" for k in range(1, epochs + 1)]
    assert all(", 120 items, " in x for x in lines), lines  # (80 training records + 40 validation ones)
    assert f"refitted on train + val for {epochs} epoch" in err and "the 120 train + val videos" in err
    assert "refit" not in was and refit["refit"]["epochs"] == epochs and refit["refit"]["videos"] == 120
    assert sorted(refit["refit"]["ids"]) == sorted([f"train{i}_{j}" for i in range(2) for j in range(40)]
                                                   + [f"validate0_{j}" for j in range(40)])
    untimed = lambda m: {k: v for k, v in m.items() if k not in ("seconds", "samples_per_s")}  # noqa: E731
    assert untimed(refit["metrics"]) == untimed(was["metrics"]) and refit["training_ids"] == was["training_ids"]
    head = [k for k in was["model"] if k.startswith("tag_head.") and k.endswith(".weight")]
    assert head and not any(torch.equal(refit["model"][k], was["model"][k]) for k in head)
    assert all(torch.equal(refit["model"][k], was["model"][k]) for k in was["model"] if ".mean_" in k or ".std_" in k)
    a, b = (torch.load(tmp_path / r / "last.pt", weights_only=True)["model"] for r in ("refit", "plain"))
    assert all(torch.equal(a[k], b[k]) for k in a)  # last.pt: the training's, untouched by the refit


def test_a_shard_refit_with_workers_trains_on_val_without_refusing_it(data, tmp_path, capfd):
    """The refit's stream holds the validation records: the training stream's refusal of val videos
    (checked per batch) must not fire there, nor a shard's line be said again by the refit's workers."""
    root, d = data
    (tmp_path / "short.csv").write_text("Index,Name\n" + "".join(f"{i},class {i}\n" for i in range(4)))
    assert main(refit_args(d, "--workers", "2", "--vocabulary", str(tmp_path / "short.csv"),
                           "--out", str(tmp_path / "run"))) == 0
    err = capfd.readouterr().err
    ckpt = torch.load(tmp_path / "run" / "best.pt", weights_only=True)
    assert ckpt["refit"]["epochs"] == ckpt["epoch"] and "refitted on train + val" in err
    # the videos trained on, not the shards' records (those skipped for their label counted 120 before)
    n = ckpt["refit"]["videos"]
    assert n == len(set(ckpt["refit"]["ids"])) < 120 and f"the {n} train + val videos" in err
    # (label 4 is outside the vocabulary: records skipped, the same in the refit, said once a shard)
    said = [x for x in err.splitlines() if "label outside the vocabulary" in x]
    assert sorted(x.split(":")[1].strip() for x in said) == sorted(
        str(d / f"{n}.tfrecord") for n in ("validate0000", "train0000", "train0001")), said


def test_a_shard_run_killed_in_its_refit_refits_on_resume(data, tmp_path, monkeypatch):
    from .test_train import killed_in_the_refit

    root, d = data
    kw = dict(manifest=None, features=f"{d}/train000[0-1].tfrecord", val_features=str(d / "validate0000.tfrecord"),
              epochs=2, out=str(tmp_path / "run"), **FAST)
    killed_in_the_refit(monkeypatch, TrainConfig.of(**kw))
    assert "refit" not in torch.load(tmp_path / "run" / "best.pt", weights_only=True)
    train(TrainConfig.of(resume=True, **kw))
    ckpt = torch.load(tmp_path / "run" / "best.pt", weights_only=True)
    assert ckpt["refit"]["epochs"] == ckpt["epoch"] and ckpt["refit"]["videos"] == 120


def test_a_manifest_of_another_dataset_says_so_before_its_val_split(data, tmp_path, capsys):
    """A manifest of one dataset (MLDS's) with the shards of another (YouTube-8M's) said only "none of its
    40 val videos is in --features ...: pass --val-features", and with --val-features that no validation
    video could be read: the training split is missing as well, and that is said first."""
    root, d = data
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text("".join(json.dumps({"video_id": f"clip{i}", "split": s, "captions": ["a man talks"]}) + "\n"
                                for i, s in enumerate(["train"] * 6 + ["val"] * 2 + ["test"])))
    for extra in ([], ["--val-features", f"{d}/validate*"]):
        code = main(["train", "--manifest", str(manifest), "--features", f"{d}/train000[01]*", *extra,
                     "--out", str(tmp_path / "run"), "--epochs", "1", "--quiet"])
        err = capsys.readouterr().err.strip().splitlines()
        assert (code, err) == (2, [f"error: {manifest}: none of its 6 train videos is in these shards (80 records "
                                   f"read from 2 shards of --features {d}/train000[01]*): features of another "
                                   "dataset?"]), extra
        assert not (tmp_path / "run").exists()


def test_evaluate_of_a_manifest_imported_without_the_models_vocabulary_says_to_import_it_again(data, tmp_path,
                                                                                               capsys, monkeypatch):
    """A model trained with --vocabulary, evaluated on a manifest imported without it (tags label<id>): the
    tags whose class has an empty name (label<id> in both) matched, the rest were "counted as misses" and
    near-zero scores printed, no word of the way out. Refused now, with the import to run again, the
    vocabulary the model recorded named."""
    import shlex

    import shutil

    original, d = data
    root = tmp_path / "copy"  # (the module's store and manifest are other tests' too: the advice replaces them)
    root.mkdir()
    shutil.copytree(original / "store", root / "store")
    shutil.copy(original / "manifest.jsonl", root / "manifest.jsonl")
    vocab = tmp_path / "vocabulary.csv"  # (class 4 unnamed: label4, as the 56 unnamed of the real vocabulary)
    vocab.write_text("Index,Name\n" + "".join(f"{i},class {i}\n" for i in range(4)) + "4,\n")
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--features", str(d / "train0000.tfrecord"), "--val-features", str(d / "validate0000.tfrecord"),
                 "--vocabulary", "vocabulary.csv", "--out", "run", "--epochs", "1", "--hidden", "32",
                 "--tag-head", "mlp", "--quiet"]) == 0
    capsys.readouterr()
    code = main(["evaluate", "--checkpoint", "run/best.pt", "--manifest", str(root / "manifest.jsonl"),
                 "--features", str(root / "store"), "--out", "p.json"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: "), err
    assert "imported without --vocabulary" in err[0], err
    advice = err[0].split("import the shards again with the model's: ")[1]
    command, then = advice.split(" (SHARDS: the shards of split test), then pass --manifest ")
    words = shlex.split(command)
    assert words[1:3] == ["import", "yt8m"] and words[words.index("--vocabulary") + 1] == "vocabulary.csv", err
    # (a manifest of its own for the split: the manifest given may hold other imports, which --force replaced)
    new = root / "manifest-test.jsonl"
    assert words[words.index("--split") + 1] == "test" and words[words.index("--out") + 1] == str(new), err
    assert "--force" not in words and shlex.split(then) == [str(new)], err
    assert not (tmp_path / "p.json").exists()
    # the advice run as given (the split's shards for SHARDS) leaves the manifest given as it was, and evaluate
    # scores the new one
    before = (root / "manifest.jsonl").read_bytes()
    i = words.index("SHARDS")
    assert main(words[1:i] + [str(d / "test0000.tfrecord")] + words[i + 1:]) == 0, capsys.readouterr().err
    capsys.readouterr()
    assert (root / "manifest.jsonl").read_bytes() == before
    assert main(["evaluate", "--checkpoint", "run/best.pt", "--manifest", str(new),
                 "--features", str(root / "store"), "--out", "p.json"]) == 0, capsys.readouterr().err


def test_evaluate_on_shards_without_manifest_names_the_vocabulary_trained_with(data, tmp_path, capsys, monkeypatch):
    """Without --manifest, the shard advice said `[--vocabulary the model's]`, a placeholder to puzzle out
    although best.pt records the file: now that file; a checkpoint that cannot be read says it in words."""
    import shlex

    root, d = data
    (tmp_path / "voc").mkdir()
    (tmp_path / "voc" / "vocabulary.csv").write_text("Index,Name\n" + "".join(f"{i},class {i}\n" for i in range(5)))
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--features", str(d / "train0000.tfrecord"), "--val-features", str(d / "validate0000.tfrecord"),
                 "--vocabulary", "voc/vocabulary.csv", "--out", "run", "--epochs", "1", "--hidden", "32",
                 "--tag-head", "mlp", "--quiet"]) == 0
    capsys.readouterr()
    assert code_of(["evaluate", "--checkpoint", "run/best.pt", "--features", str(d / "test0000.tfrecord")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "the model's" not in err[0], err
    words = shlex.split(err[0].split("import the shards first (")[1].split(")")[0])
    assert words[words.index("--vocabulary") + 1] == "voc/vocabulary.csv", err
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    assert code_of(["evaluate", "--checkpoint", "bad.pt", "--features", str(d / "test0000.tfrecord")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "the model's]" not in err[0], err
    assert "--vocabulary VOCABULARY.csv if the model was trained with one" in err[0], err


def test_evaluate_usage_says_manifest_is_required_and_its_refusal_keeps_the_shard_advice(data, capsys, tmp_path):
    """`s2vt evaluate --help` showed `[--manifest MANIFEST]`, optional, though evaluate refuses without it."""
    root, d = data
    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    usage = capsys.readouterr().out.split("\n\n")[0]
    assert " --manifest MANIFEST" in usage and "[--manifest" not in usage, usage
    assert code_of(["evaluate", "--checkpoint", "x.pt", "--features", str(d / "test0000.tfrecord")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "names YouTube-8M TFRecord shards" in err[0] and "import the shards first" in err[0], err
    # both missing: argparse's own line
    assert code_of(["evaluate", "--features", str(d / "test0000.tfrecord")]) == 2
    assert capsys.readouterr().err.strip().startswith("error: the following arguments are required: --checkpoint, "
                                                      "--manifest")
    # a path with a space quoted, one with a newline escaped (it split the line; trial 117)
    for folder in ("my shards", "new\nline"):
        (tmp_path / folder).mkdir()
        shard = tmp_path / folder / "a b.tfrecord"
        shard.write_bytes((d / "test0000.tfrecord").read_bytes())
        assert code_of(["evaluate", "--checkpoint", "x.pt", "--features", str(shard)]) == 2
        err = capsys.readouterr().err
        quoted = f"'{tmp_path}/{folder}/a b.tfrecord'" if folder == "my shards" else \
            f"$'{tmp_path}/new\\x0aline/a b.tfrecord'"  # (bash's quoting: pasted, the same path; trial 119)
        assert err.count("\n") == 1 and err.startswith(f"error: --features {quoted} names "), err
        assert f"yt8m {quoted} --split" in err


WORKER_SHARES_A_FILE = """
import os, socket, sys, threading
from multiprocessing import resource_sharer
from s2vt.loaders import worker_ignores_interrupts

if sys.argv[1] == "worker":
    worker_ignores_interrupts(0)
r, w = os.pipe()
lost = resource_sharer.DupFd(r)  # (a batch's shared memory, offered to the training process)
peer = socket.socket(socket.AF_UNIX)
peer.connect(resource_sharer._resource_sharer._address)
peer.close()  # (the training process gone mid-handshake)
os.close(resource_sharer.DupFd(w).detach())  # (served after the lost one: it has been dealt with)

def fails():
    raise ValueError("a real error in a thread")
t = threading.Thread(target=fails)
t.start()
t.join()
"""


@pytest.mark.parametrize("where", ["worker", "elsewhere"])
def test_a_worker_says_nothing_of_a_training_process_lost_mid_handshake(where):
    """A DataLoader worker hands its batches' shared memory over through multiprocessing's resource sharer,
    whose thread printed `BrokenPipeError` when the interrupted training process went mid-handshake: a cut-off
    traceback before the `interrupted:` line (tests/test_shards.py's signal test failed so once in CI). In a
    worker it is quiet now; another error in a thread is still said, and outside a worker all is as before."""
    import subprocess
    import sys

    from .conftest import REPO

    proc = subprocess.run([sys.executable, "-c", WORKER_SHARES_A_FILE, where], cwd=REPO, capture_output=True,
                          text=True, timeout=120, env={**__import__("os").environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 0, proc.stderr
    assert ("BrokenPipeError" in proc.stderr) == (where == "elsewhere"), proc.stderr
    assert "ValueError: a real error in a thread" in proc.stderr


@pytest.mark.parametrize("stopping", [True, False])
def test_a_second_signal_as_the_workers_close_is_dropped_when_stopping(tmp_path, monkeypatch, stopping):
    """Two Ctrl-Cs in a row: the second could land in the epoch's `finally` before close_loader held signals, and
    came out of the generator's close as `Exception ignored in: <generator ...>` with a traceback (trial 117). Now
    the close is tried again and the second dropped while the first stops the run; at an epoch's end (nothing
    stopping) the signal is the one to act on, raised once the workers are closed."""
    import s2vt.shards as shards_module

    closes = []
    real = shards_module.close_loader

    def interrupted_once(it):
        closes.append(it)
        if len(closes) == 1:
            raise KeyboardInterrupt  # (as a signal at the call, before its hold)
        real(it)
    monkeypatch.setattr(shards_module, "close_loader", interrupted_once)
    ds = ShardStream(shards(tmp_path, "train", [6, 5]), ["rgb"], LABELS, None, None, batch_size=4, buffer=8, seed=0,
                     workers=2)
    batches = ds.batches(torch.device("cpu"))
    next(batches)
    if stopping:
        batches.close()  # (GeneratorExit: what the first interrupt's unwinding does to the epoch's generator)
        assert len(closes) == 2
    else:
        with pytest.raises(KeyboardInterrupt):
            list(batches)
        assert len(closes) == 1
    from s2vt.loaders import LIVE_LOADERS
    assert all(getattr(it, "closed_by_s2vt", False) for it in closes[1:]) and (stopping or len(LIVE_LOADERS) == 1)
    for it in list(LIVE_LOADERS):  # (the one at exit would)
        real(it)
    assert not LIVE_LOADERS and all(not w.is_alive() for it in closes for w in it._workers)


def test_a_signal_held_while_the_workers_start_ends_them_too(tmp_path, monkeypatch):
    """A Ctrl-C as an epoch's workers start is held until they have, then raised: it was raised before the
    `try` whose `finally` ends them, so torch's __del__ shut them down and printed a traceback after the
    `interrupted:` line (and, with a second signal there, the process waited on its workers for ever; trial 119)."""
    import os
    import signal

    import s2vt.shards as shards_module
    from s2vt.loaders import LIVE_LOADERS

    started = []

    class InterruptedAsTheyStart(DataLoader):
        def __iter__(self):
            it = super().__iter__()
            started.append(it)
            os.kill(os.getpid(), signal.SIGINT)  # (held: raised as the hold ends)
            return it
    monkeypatch.setattr(shards_module, "DataLoader", InterruptedAsTheyStart)
    ds = ShardStream(shards(tmp_path, "train", [6, 5]), ["rgb"], LABELS, None, None, batch_size=4, buffer=8, seed=0,
                     workers=2)
    with pytest.raises(KeyboardInterrupt):
        next(ds.batches(torch.device("cpu")))
    assert len(started) == 1 and getattr(started[0], "closed_by_s2vt", False) and started[0] not in LIVE_LOADERS
    assert not any(w.is_alive() for w in started[0]._workers)
