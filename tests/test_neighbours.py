"""Tag neighbours (s2vt/neighbours.py): the votes of a video's most similar training videos, blended with
the network's tag probabilities, chosen on val when training ends and kept in best.pt."""
from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

from s2vt.checkpoint import CheckpointError, load_checkpoint, read_checkpoint
from s2vt.cli import main
from s2vt.metrics import gap
from s2vt.neighbours import MIXES, NeighboursError, TagNeighbours, choose
from s2vt.predict import evaluate
from s2vt.yt8m import import_yt8m

from .test_shards import shards

ARGS = ["--epochs", "2", "--hidden", "32", "--batch-size", "16", "--tag-head", "mlp", "--no-refit"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Video-level shards whose first label sits in the first rgb dimensions (half with a second label):
    train0000-0001 (2 x 40), validate0000 (40), test0000 (20), and a store + manifest of them."""
    root = tmp_path_factory.mktemp("nb")
    d = root / "shards"
    files = shards(d, "train", [40] * 2, 0) + shards(d, "validate", [40], 1) + shards(d, "test", [20], 2)
    import_yt8m(files, root / "manifest.jsonl", root / "store")
    return root, d


def memory() -> TagNeighbours:
    """Four videos in 2-d: tags {0}, {0, 1}, {1}, {2}."""
    keys = torch.tensor([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-1.0, 0.0]])
    targets = torch.tensor([[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1]])
    return TagNeighbours.build(keys, targets, k=2, power=1, mix=0.5)


def test_scores_are_the_similarity_weighted_votes_of_the_k_nearest():
    nb = memory()
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    # query 1: nearest (1, 0) sim 1 tags {0}, (0.8, 0.6) sim 0.8 tags {0, 1}: tag 0 (1 + 0.8) / 1.8, tag 1 0.8 / 1.8
    # query 2: (0, 1) sim 1 tags {1}, (0.8, 0.6) sim 0.6 tags {0, 1}
    want = torch.tensor([[1.0, 0.8 / 1.8, 0.0], [0.6 / 1.6, 1.0, 0.0]])
    assert torch.allclose(nb.scores(q), want, atol=1e-3)
    # power 3 sharpens the votes towards the nearest; k 1 takes it alone
    assert torch.allclose(nb.scores(q, power=3)[0], torch.tensor([1.0, 0.512 / 1.512, 0.0]), atol=1e-3)
    assert torch.allclose(nb.scores(q, k=1), torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), atol=1e-3)
    # a negative similarity votes nothing; k above the memory's size takes all of it
    assert torch.allclose(nb.scores(torch.tensor([[-1.0, 0.0]]), k=2), torch.tensor([[0.0, 0.0, 1.0]]), atol=1e-3)
    assert nb.scores(q, k=100).shape == (2, 3)


def test_blend_mixes_probabilities_and_mix_zero_is_the_network_alone():
    nb = memory()
    q = torch.tensor([[1.0, 0.0]])
    logits = torch.tensor([[0.0, 0.0, 0.0]])
    p = torch.sigmoid(nb.blend(logits, q))
    assert torch.allclose(p, 0.5 * torch.tensor([[0.5, 0.5, 0.5]]) + 0.5 * nb.scores(q), atol=1e-4)
    nb.mix = 0.0
    assert torch.equal(nb.blend(logits, q), logits)


def test_state_round_trip_and_a_memory_that_does_not_fit_is_refused():
    nb = memory()
    back = TagNeighbours.from_state(nb.state(), 3, 2)
    q = torch.tensor([[0.6, 0.8]])
    assert torch.equal(back.scores(q), nb.scores(q)) and (back.k, back.power, back.mix) == (2, 1.0, 0.5)
    state = nb.state()
    bad = [(state, 4, 2), (state, 3, 5), ({**state, "indices": torch.tensor([0, 0, 1, 1, 7])}, 3, 2),
           ({**state, "indptr": torch.tensor([0, 1, 3])}, 3, 2), ({**state, "mix": 2.0}, 3, 2),
           ({**state, "keys": torch.full((4, 2), math.nan)}, 3, 2), ({"k": 1}, 3, 2),
           # (hostile trial: accepted, scoring nonsense or cut to integers silently)
           ({**state, "power": math.inf}, 3, 2), ({**state, "k": 2.7}, 3, 2), ({**state, "k": True}, 3, 2),
           ({**state, "keys": state["keys"].int()}, 3, 2), ({**state, "keys": state["keys"].bool()}, 3, 2),
           ({**state, "keys": state["keys"].to(torch.complex64)}, 3, 2),
           ({**state, "indices": state["indices"].float()}, 3, 2),
           ({**state, "indptr": state["indptr"].double()}, 3, 2),
           ({**state, "indices": state["indices"][:, None]}, 3, 2),  # (a traceback from the sparse votes; trial 58)
           ({**state, "keys": torch.full((4, 2), 1e6)}, 3, 2)]  # (beyond float16: infinite as kept)
    for state, tags, width in bad:
        with pytest.raises(NeighboursError, match="do not fit the model"):
            TagNeighbours.from_state(state, tags, width)


def test_the_hidden_space_maps_the_kept_features_through_the_layer_it_is_loaded_with():
    """A hidden-space memory: keys are the features through the layer and a ReLU, centred on the memory's mean,
    unit length; best.pt keeps the features, so that a memory loaded beside other weights (the refit's) is mapped
    by those, never by the weights val chose with."""
    F = torch.nn.functional
    torch.manual_seed(0)
    layer = torch.nn.Linear(2, 4)
    feats = torch.tensor([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-1.0, 0.0]]) * 1.3
    targets = torch.tensor([[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1]])
    nb = TagNeighbours.build(feats, targets, k=2, power=1, mix=0.5, layer=layer)
    with torch.no_grad():
        hidden = F.relu(layer(feats.half().float()))
        q = torch.tensor([[0.9, 0.1]])
        want_q = F.normalize(F.relu(layer(q)) - hidden.mean(0), dim=-1)
    assert nb.space == "hidden" and torch.allclose(nb.keys, F.normalize(hidden - hidden.mean(0), dim=-1))
    assert torch.allclose(nb.query(q, layer), want_q) and nb.scores(nb.query(q, layer)).shape == (1, 3)
    # the features space: the unit features, the layer unused
    plain = TagNeighbours.build(feats, targets, k=2, power=1, mix=0.5)
    assert plain.space == "features" and torch.allclose(plain.query(q, layer), F.normalize(q, dim=-1))
    state = nb.state()
    assert state["space"] == "hidden" and "keys" not in state and torch.equal(state["features"], feats.half())
    assert "space" not in plain.state() and "keys" in plain.state()  # (as best.pt kept it before the hidden space)
    assert torch.equal(TagNeighbours.from_state(state, 3, 2, layer).keys, nb.keys)
    refit = torch.nn.Linear(2, 4)
    moved = TagNeighbours.from_state(state, 3, 2, refit)
    with torch.no_grad():
        again = F.relu(refit(feats.half().float()))
    assert torch.allclose(moved.keys, F.normalize(again - again.mean(0), dim=-1))
    assert not torch.allclose(moved.keys, nb.keys)
    # a model without the layer, or whose layer reads another width: one error, not a shape traceback
    for other in (None, torch.nn.Linear(3, 4)):
        with pytest.raises(NeighboursError, match="do not fit the model"):
            TagNeighbours.from_state(state, 3, 2, other)
    with pytest.raises(NeighboursError, match="in the hidden space of a model without one"):
        TagNeighbours.from_state(state, 3, 2)
    with pytest.raises(NeighboursError, match="do not fit the model"):
        TagNeighbours.from_state({**state, "space": "pixels"}, 3, 2, layer)
    empty = TagNeighbours.build(torch.zeros(0, 2), torch.zeros(0, 3), layer=layer)  # (a centre of no video: 0)
    assert len(empty) == 0 and torch.equal(empty.centre, torch.zeros(4)) and empty.keys.shape == (0, 4)


def test_choose_takes_the_neighbours_where_they_know_and_the_network_where_they_do_not():
    rng = np.random.default_rng(0)
    classes, n = 5, 200
    label = rng.integers(classes, size=n)
    centres = torch.tensor(rng.standard_normal((classes, 8)), dtype=torch.float32)
    noise = torch.randn(n, 8, generator=torch.Generator().manual_seed(0))
    keys = torch.nn.functional.normalize(centres[label] + 0.3 * noise, dim=1)
    targets = torch.nn.functional.one_hot(torch.tensor(label), classes)
    train, val = slice(0, 150), slice(150, n)
    gold = [[int(x)] for x in label[val]]
    flat = torch.full((50, classes), 0.2)  # a network that knows nothing
    chosen, score, alone = choose(TagNeighbours.build(keys[train], targets[train]), flat, keys[val], gold)
    assert chosen["mix"] > 0 and score > alone + 0.3 and alone == pytest.approx(gap(flat.numpy(), gold))
    # neighbours whose tags are shuffled know nothing: the network alone, which knows
    shuffled = targets[train][torch.randperm(150, generator=torch.Generator().manual_seed(1))]
    sure = torch.nn.functional.one_hot(torch.tensor(label[val]), classes).float() * 0.9 + 0.02
    chosen, score, alone = choose(TagNeighbours.build(keys[train], shuffled), sure, keys[val], gold)
    assert chosen["mix"] == MIXES[0] == 0 and score == alone == pytest.approx(1.0)


def test_a_tag_only_run_keeps_neighbours_chosen_on_val_and_evaluate_uses_them(data, tmp_path, capsys):
    root, d = data
    run = tmp_path / "run"
    assert main(["train", "--manifest", str(root / "manifest.jsonl"), "--features", str(root / "store"),
                 "--out", str(run), *ARGS]) == 0
    err = capsys.readouterr().err
    best = read_checkpoint(run / "best.pt")
    nb = best["neighbours"]
    assert "tag neighbours (" in err
    if nb["mix"] > 0:  # (val chose them: the memory holds train + val, and evaluate says val is in it)
        kept = nb["keys"] if nb.get("space", "features") == "features" else nb["features"]
        assert nb["videos"] == len(kept) == 120 and "best.pt keeps the 80 + 40 train + val videos" in err
        assert len(best["training_ids"]) == 120
        # evaluate on val says its videos are the neighbours' (a best.pt still due its refit was said to have been
        # "fitted on" them: a contradiction to read; new-user trial)
        evaluate(str(run / "best.pt"), str(root / "manifest.jsonl"), str(root / "store"), "val",
                 out=str(tmp_path / "val.json"))
        assert ("40 of 40 videos of split val were training videos of" in (said := capsys.readouterr().err)
                and "or are among its tag neighbours (it lists the 120 videos it was fitted on or keeps as "
                    "neighbours)" in said), said
    model, *_ = load_checkpoint(run / "best.pt")
    assert (model.neighbours is not None) == (nb["mix"] > 0)
    # the same best.pt without them: what evaluate scores differs where they were chosen
    scores = {}
    for name, keep in (("with", True), ("without", False)):
        ckpt = read_checkpoint(run / "best.pt")
        if not keep:
            del ckpt["neighbours"]
        torch.save(ckpt, tmp_path / f"{name}.pt")
        scores[name] = evaluate(str(tmp_path / f"{name}.pt"), str(root / "manifest.jsonl"), str(root / "store"),
                                "test", out=str(tmp_path / f"{name}.json"))["gap"]
    assert (scores["with"] != scores["without"]) == (nb["mix"] > 0)
    # the metrics file says what the scores were blended with
    import json
    recorded = {name: json.loads((tmp_path / f"{name}.metrics.json").read_text()).get("neighbours")
                for name in scores}
    assert recorded["without"] is None
    assert recorded["with"] == ({"space": nb.get("space", "features"), "k": nb["k"], "power": nb["power"],
                                 "mix": nb["mix"], "videos": nb["videos"]}
                                if nb["mix"] > 0 else None)


def test_neighbours_are_chosen_from_a_memory_that_knows_and_kept_with_val(data, tmp_path, capsys):
    """A network trained for no step (--lr 0) knows nothing; the planted features do: val chooses the
    neighbours, and their GAP is what the network's was not."""
    root, d = data
    run = tmp_path / "run"
    assert main(["train", "--manifest", str(root / "manifest.jsonl"), "--features", str(root / "store"),
                 "--out", str(run), *ARGS, "--lr", "0", "--epochs", "1"]) == 0
    err = capsys.readouterr().err
    best = read_checkpoint(run / "best.pt")
    assert best["neighbours"]["mix"] > 0 and best["neighbours"]["videos"] == 120, err
    line = next(x for x in err.splitlines() if x.startswith("tag neighbours ("))
    blended, alone = (float(x) for x in re.findall(r"(?:gap|alone) (\d\.\d+)", line))
    assert blended > alone + 0.2 and best["metrics"]["gap"] == pytest.approx(blended, abs=1e-3), line
    metrics = evaluate(str(run / "best.pt"), str(root / "manifest.jsonl"), str(root / "store"), "test",
                       out=str(tmp_path / "test.json"))
    nb = best["neighbours"]
    assert metrics["neighbours"] == {"space": nb.get("space", "features"), "k": nb["k"], "power": nb["power"],
                                     "mix": nb["mix"], "videos": 120}


def test_val_chooses_the_space_and_a_hidden_one_is_mapped_by_the_final_weights(data, tmp_path, capsys, monkeypatch):
    """Both spaces are tried on val, the better kept (here the hidden one, made to score higher); best.pt keeps
    its features, which evaluate maps through best.pt's own first hidden layer (the refit's weights), and a model
    without such a layer (--tag-head moe) is refused a hidden memory in one line."""
    import s2vt.finish as finish

    real, spaces = finish.choose, []

    def favour_hidden(memory, probs, query, gold):
        spaces.append(memory.space)
        chosen, score, alone = real(memory, probs, query, gold)
        return ({**chosen, "mix": 0.3}, score + 1.0, alone) if memory.space == "hidden" else (chosen, score, alone)
    monkeypatch.setattr(finish, "choose", favour_hidden)
    root, d = data
    run = tmp_path / "run"
    assert main(["train", "--manifest", str(root / "manifest.jsonl"), "--features", str(root / "store"),
                 "--out", str(run), "--epochs", "2", "--hidden", "32", "--batch-size", "16"]) == 0
    err = capsys.readouterr().err
    assert spaces == ["features", "hidden"] and "training videos in the hidden space" in err, err
    ckpt = read_checkpoint(run / "best.pt")
    nb = ckpt["neighbours"]
    assert nb["space"] == "hidden" and nb["features"].shape == (120, 1152) and "keys" not in nb and "refit" in ckpt
    model, *_ = load_checkpoint(run / "best.pt")
    layer = model.neighbour_layer()
    assert layer is model.tag_head.members[0][0]
    with torch.no_grad():
        hidden = torch.relu(layer(nb["features"].float()))
    assert torch.allclose(model.neighbours.keys, torch.nn.functional.normalize(hidden - hidden.mean(0), dim=-1),
                          atol=1e-5)
    metrics = evaluate(str(run / "best.pt"), str(root / "manifest.jsonl"), str(root / "store"), "test",
                       out=str(tmp_path / "test.json"))
    assert metrics["neighbours"]["space"] == "hidden" and 0 < metrics["gap"] <= 1
    alone = {k: v for k, v in ckpt.items() if k != "neighbours"}
    torch.save(alone, tmp_path / "alone.pt")
    assert evaluate(str(tmp_path / "alone.pt"), str(root / "manifest.jsonl"), str(root / "store"), "test",
                    out=str(tmp_path / "alone.json"))["gap"] != metrics["gap"]  # (the hidden memory acted)
    # a k above the memory's videos acts as all of them, and the metrics file says so (it recorded 10^9; trial 58)
    ckpt["neighbours"] = {**nb, "k": 10 ** 9}
    torch.save(ckpt, tmp_path / "wide.pt")
    metrics = evaluate(str(tmp_path / "wide.pt"), str(root / "manifest.jsonl"), str(root / "store"), "test",
                       out=str(tmp_path / "wide.json"))
    assert metrics["neighbours"]["k"] == metrics["neighbours"]["videos"] == 120
    moe = tmp_path / "moe"
    assert main(["train", "--manifest", str(root / "manifest.jsonl"), "--features", str(root / "store"),
                 "--out", str(moe), *ARGS, "--tag-head", "moe", "--no-neighbours"]) == 0
    other = read_checkpoint(moe / "best.pt")
    other["neighbours"] = nb
    torch.save(other, tmp_path / "moe.pt")
    with pytest.raises(CheckpointError, match=r"moe\.pt: tag neighbours do not fit the model \(5 tags, 1152 features a "
                                              r"video, in the hidden space of a model without one\)"):
        load_checkpoint(tmp_path / "moe.pt")


def test_no_neighbours_leaves_best_pt_without_them(data, tmp_path, capsys):
    root, d = data
    run = tmp_path / "run"
    assert main(["train", "--manifest", str(root / "manifest.jsonl"), "--features", str(root / "store"),
                 "--out", str(run), *ARGS, "--no-neighbours"]) == 0
    assert "neighbours" not in read_checkpoint(run / "best.pt") and "tag neighbours" not in capsys.readouterr().err


def test_resume_with_neighbours_of_a_run_begun_without_says_tag_focal_stays(data, tmp_path, capsys):
    """A run begun with --no-neighbours kept --tag-focal 0 (the recipe's 2 goes with the neighbours); its
    --resume --neighbours goes on with 0, which its warning says, with the option that gives the recipe's."""
    root, d = data
    run = tmp_path / "run"
    given = ["train", "--manifest", str(root / "manifest.jsonl"), "--features", str(root / "store"), "--out", str(run),
             *ARGS, "--epochs", "3"]
    assert main([*given, "--no-neighbours", "--stop-after", "1"]) == 0
    assert read_checkpoint(run / "last.pt")["settings"]["tag_focal"] == 0
    snapshot = (run / "last.pt").read_bytes()
    capsys.readouterr()
    assert main([*given, "--resume", "--neighbours", "--stop-after", "2"]) == 0
    said = [x for x in capsys.readouterr().err.splitlines() if x.startswith("warning: --resume")]
    assert said == ["warning: --resume: taking effect: --neighbours (last.pt: --no-neighbours); --tag-focal stays 0, "
                    "as the run trained (a run begun with --neighbours takes the recipe's 2: pass --tag-focal 2 for "
                    "it)"], said
    (run / "last.pt").write_bytes(snapshot)  # (given --tag-focal, it takes effect, and nothing more is said)
    assert main([*given, "--resume", "--neighbours", "--tag-focal", "2", "--stop-after", "2"]) == 0
    said = [x for x in capsys.readouterr().err.splitlines() if x.startswith("warning: --resume")]
    assert said == ["warning: --resume: taking effect: --tag-focal 2.0 (last.pt: 0.0), --neighbours (last.pt: "
                    "--no-neighbours)"], said


def test_a_shard_run_builds_its_memory_from_the_stream(data, tmp_path, capsys):
    root, d = data
    run = tmp_path / "run"
    assert main(["train", "--features", f"{d}/train000[0-1].tfrecord", "--val-features",
                 str(d / "validate0000.tfrecord"), "--out", str(run), *ARGS, "--lr", "0", "--epochs", "1"]) == 0
    err = capsys.readouterr().err
    nb = read_checkpoint(run / "best.pt")["neighbours"]
    assert nb["mix"] > 0 and nb["videos"] == 120 and "of 80 training videos" in err, err


def test_neighbours_given_where_they_cannot_act_are_said_to_have_no_effect(tmp_path, capsys):
    from s2vt.engine import TrainConfig, train
    from s2vt.synthetic import make_store

    manifest, store = make_store(tmp_path / "d", videos=24)
    train(TrainConfig.of(str(manifest), str(store), str(tmp_path / "run"), epochs=1, hidden=16, embed=16,
                         min_count=1, refit=False, neighbours=True))
    err = capsys.readouterr().err
    assert "warning: --neighbours has no effect: it blends in multi-label tags by video features, and each video " \
           "has one tag" in err, err
    assert "neighbours" not in read_checkpoint(tmp_path / "run" / "best.pt")


def test_a_checkpoint_whose_neighbours_do_not_fit_is_one_error(data, tmp_path, capsys):
    root, d = data
    run = tmp_path / "run"
    assert main(["train", "--manifest", str(root / "manifest.jsonl"), "--features", str(root / "store"),
                 "--out", str(run), *ARGS, "--lr", "0", "--epochs", "1"]) == 0
    ckpt = read_checkpoint(run / "best.pt")
    field = "keys" if "keys" in ckpt["neighbours"] else "features"  # (as val chose the space)
    ckpt["neighbours"][field] = ckpt["neighbours"][field][:, :10]
    torch.save(ckpt, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match=r"bad\.pt: tag neighbours do not fit the model \(5 tags, 1152 features"):
        load_checkpoint(tmp_path / "bad.pt")


def test_an_edited_neighbours_entry_that_is_no_table_or_lacks_its_memory_is_refused(data, tmp_path):
    """A `neighbours` entry that is a list, or a table with a share but no memory, was the network alone,
    silently (hostile trial); {"mix": 0, ...} (val chose the network alone) is that, on purpose."""
    root, d = data
    run = tmp_path / "run"
    assert main(["train", "--manifest", str(root / "manifest.jsonl"), "--features", str(root / "store"),
                 "--out", str(run), *ARGS, "--lr", "0", "--epochs", "1"]) == 0
    ckpt = read_checkpoint(run / "best.pt")
    for name, entry in (("list", [1, 2]), ("nomemory", {"k": 10, "power": 1.0, "mix": 0.4, "videos": 0})):
        torch.save({**ckpt, "neighbours": entry}, tmp_path / f"{name}.pt")
        with pytest.raises(CheckpointError, match=f"{name}\\.pt: tag neighbours do not fit the model"):
            load_checkpoint(tmp_path / f"{name}.pt")
    torch.save({**ckpt, "neighbours": {"k": 10, "power": 1.0, "mix": 0.0, "videos": 0}}, tmp_path / "alone.pt")
    assert load_checkpoint(tmp_path / "alone.pt")[0].neighbours is None


def test_val_without_tags_keeps_no_neighbours_and_says_why(data, tmp_path, capsys):
    """A val whose videos have no tags printed "val chose the network alone (gap 0.000)": nothing was chosen."""
    import json

    root, d = data
    rows = [json.loads(x) for x in (root / "manifest.jsonl").read_text().splitlines()]
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps({**e, "tags": []} if e["split"] == "val" else e) + "\n" for e in rows))
    assert main(["train", "--manifest", str(manifest), "--features", str(root / "store"), "--out", str(tmp_path / "r"),
                 *ARGS, "--epochs", "1"]) == 0
    err = capsys.readouterr().err
    assert "tag neighbours: none kept: no val video has tags to choose them on" in err, err
    assert read_checkpoint(tmp_path / "r" / "best.pt")["neighbours"]["mix"] == 0


def test_k_is_at_most_the_memory_and_the_shares_reach_the_neighbours_alone():
    """Three training videos asked for k 10 (best.pt said "the 10 most similar of 3"): the k kept is 3 at most;
    and a network sure of the wrong tags is outvoted by neighbours that know only above a share of 0.5, the top
    of the range once: now the range goes on to the neighbours alone (1)."""
    keys = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.2]]), dim=1)
    targets = torch.eye(3)
    wrong = torch.eye(3)[[1, 2, 0]]  # (each video's probability 1 on another's tag)
    chosen, score, alone = choose(TagNeighbours.build(keys, targets), wrong, keys, [[0], [1], [2]])
    assert chosen["k"] <= 3 and chosen["mix"] > 0.5 and MIXES[-1] == 1.0 and score == pytest.approx(1.0) and alone < 1


def test_torchrun_ranks_wait_for_rank_0s_steps_longer_than_nccls_ten_minutes(monkeypatch):
    """Rank 0 alone reads up to 50,000 training records for the memory while the other ranks wait at a
    barrier: with NCCL's default 10-minute timeout a sound run could end there (hostile trial's estimate)."""
    import datetime

    import s2vt.engine

    got = {}
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setattr(s2vt.engine.dist, "is_initialized", lambda: False)
    monkeypatch.setattr(s2vt.engine.dist, "init_process_group", lambda backend, **kw: got.update(backend=backend, **kw))
    monkeypatch.setattr(s2vt.engine, "end_with_launcher", lambda: None)
    s2vt.engine.Dist(torch.device("cpu"))
    assert got["backend"] == "gloo" and got["timeout"] >= datetime.timedelta(minutes=30)


def test_a_blend_that_lowers_the_runs_own_metric_is_not_kept(data, tmp_path, capsys, monkeypatch):
    """k, power and mix are chosen on GAP: a run selecting on another --metric (tag_acc here) kept a blend that
    lowered it, with best.pt's metrics replaced by the lower ones (review). Now the network alone, said."""
    import s2vt.finish

    root, d = data
    real = s2vt.finish.validate
    monkeypatch.setattr(s2vt.finish, "validate", lambda *a, **kw: {**real(*a, **kw), "tag_acc": 0.0})
    run = tmp_path / "run"
    assert main(["train", "--manifest", str(root / "manifest.jsonl"), "--features", str(root / "store"),
                 "--out", str(run), *ARGS, "--lr", "0", "--epochs", "1", "--metric", "tag_acc"]) == 0
    err = capsys.readouterr().err
    best = read_checkpoint(run / "best.pt")
    assert best["neighbours"]["mix"] == 0 and "keys" not in best["neighbours"], err
    line = next(x for x in err.splitlines() if x.startswith("tag neighbours ("))
    assert re.search(r"the blend gap chose \(mixed in at 0\.\d: val gap 0\.\d+, the network alone 0\.\d+\) lowers "
                     r"val tag_acc, the run's --metric, from 0\.\d+ to 0\.000: none kept$", line), line
    assert best["metrics"]["tag_acc"] > 0  # (the network's own, not the blend's)


def test_a_run_without_val_says_the_neighbours_and_the_refit_will_not_run(data, tmp_path, capsys):
    """Every val video skipped for lack of features: the run ended with no word that the steps chosen on val
    (the neighbours) or trained on it (the refit) were not done (hostile trial)."""
    import json
    import shutil

    root, d = data
    shutil.copytree(root / "store", tmp_path / "store")
    rows = [json.loads(x) for x in (root / "manifest.jsonl").read_text().splitlines()]
    for e in rows:
        if e["split"] == "val":
            for m in ("rgb", "audio"):
                (tmp_path / "store" / m / f"{e['video_id']}.npy").unlink()
    assert main(["train", "--manifest", str(root / "manifest.jsonl"), "--features", str(tmp_path / "store"),
                 "--out", str(tmp_path / "run"), *ARGS[:-1], "--skip-missing"]) == 0
    err = capsys.readouterr().err
    assert "training loss; without val, the refit on train + val and the tag neighbours will not run" in err, err
    assert "neighbours" not in read_checkpoint(tmp_path / "run" / "best.pt")
