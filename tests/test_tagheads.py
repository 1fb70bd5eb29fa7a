"""Tag heads (s2vt/tagheads.py) and tag-only multi-label training + evaluation on planted data."""
import json
import re

import numpy as np
import pytest
import torch

from s2vt.checkpoint import load_checkpoint
from s2vt.config import RECIPES
from s2vt.engine import TrainConfig, train
from s2vt.metrics import gap
from s2vt.model import S2VT, ModelConfig
from s2vt.predict import evaluate
from s2vt.synthetic import make_store
from s2vt.errors import SettingError
from s2vt.tagheads import TAG_HEADS, EnsembleHead, build

FAST = dict(hidden=64, embed=64, batch_size=32, lr=3e-3, min_count=1, enc_len=10, dropout=0.1, quiet=True)


@pytest.mark.parametrize("name", TAG_HEADS)
def test_head_shapes_mask_and_prior(name):
    torch.manual_seed(0)
    head = build(name, 32, 500, 0.0, multilabel=True).eval()
    x = torch.randn(3, 6, 32)
    logits = head(x)
    assert logits.shape == (3, 500)
    assert torch.allclose(head.classify(head.pool(x)), logits)
    # masked steps do not matter: a video of 4 valid steps scores as its 4 steps alone
    mask = torch.tensor([[True] * 4 + [False] * 2] * 3)
    noisy = torch.cat([x[:, :4], 100 * torch.randn(3, 2, 32)], 1)
    assert torch.allclose(head(noisy, mask), head(x[:, :4]), atol=1e-4)
    # the output starts near the prior 1/500 for every tag, not 0.5
    assert torch.sigmoid(logits).mean() < 0.02


@pytest.mark.parametrize("name", TAG_HEADS)
def test_a_head_said_to_mean_pool_pools_by_the_mean(name):
    """MEAN_POOLING, which --tag-input features and --tag-ensemble need, is read off each head's class
    (`mean_pooling`), one entry in HEADS per head: a head that says it is its mean over the valid steps."""
    from s2vt.tagheads import HEADS, MEAN_POOLING, masked_mean

    torch.manual_seed(0)
    head = build(name, 16, 5, 0.0, multilabel=True).eval()
    assert isinstance(HEADS[name].mean_pooling, bool) and (name in MEAN_POOLING) == HEADS[name].mean_pooling
    x, mask = torch.randn(2, 5, 16), torch.tensor([[True] * 5, [True] * 2 + [False] * 3])
    assert torch.allclose(head.pool(x, mask), masked_mean(x, mask)) == HEADS[name].mean_pooling


def test_mlp_head_keeps_old_checkpoint_names():
    model = S2VT(ModelConfig.former(modalities={"a": 4}, vocab_size=5, num_tags=3, hidden=8, embed=8))
    assert {k for k in model.state_dict() if k.startswith("tag_head")} == {
        "tag_head.0.weight", "tag_head.0.bias", "tag_head.3.weight", "tag_head.3.bias"}


def test_fused_tag_input_runs_no_lstm():
    cfg = ModelConfig.former(modalities={"a": 4}, vocab_size=5, num_tags=3, hidden=8, embed=8, enc_len=5, tag_input="fused")
    model = S2VT(cfg)
    model.lstm1.forward = model.lstm2.forward = None  # any call fails
    feats, lengths = {"a": torch.randn(2, 1, 4)}, {"a": torch.tensor([1, 1])}
    _, logits = model(feats, lengths)
    assert logits.shape == (2, 3)


def multilabel_store(path, shapes=None):
    """The planted store with two tags a video: its motion and its colour (both planted)."""
    manifest, store = make_store(path, videos=140, shapes=shapes)
    entries = [json.loads(x) for x in manifest.read_text().splitlines()]
    manifest.write_text("".join(json.dumps({**e, "captions": [], "tags": e["tags"] + [e["captions"][0].split()[1]]})
                                + "\n" for e in entries))
    return manifest, store


@pytest.mark.parametrize("head, shapes", [("mlp", {"rgb": (1, 16), "audio": (1, 8)}), ("moe", None),
                                          ("nextvlad", None), ("attention", None)])
def test_tag_only_multilabel_trains_on_gap_and_evaluates(tmp_path, head, shapes):
    manifest, store = multilabel_store(tmp_path / "d", shapes)
    run = tmp_path / "run"
    # (the fused input, one head: what this test measured before the tag-only recipe's features input)
    best = train(TrainConfig.of(str(manifest), str(store), str(run), epochs=8, tag_head=head, tag_input="fused",
                                tag_ensemble=1, **{**FAST, "lr": 1e-2}))
    assert best["gap"] > 0.55  # chance is ~0.4; selected on GAP (the default for multi-label tag-only data)
    model, *_ = load_checkpoint(run / "best.pt")
    assert model.cfg.tag_head == head and model.cfg.tag_input == "fused"
    metrics = evaluate(str(run / "best.pt"), str(manifest), str(store), "test", out=str(tmp_path / "p.json"))
    preds = json.loads((tmp_path / "p.json").read_text())
    # every video carries its top tags with probabilities (all 7 here, 20 at most): GAP from the file alone
    names = sorted({t["tag"] for p in preds for t in p["top_tags"]})
    assert all(len(p["top_tags"]) == 7 for p in preds)
    gold_of = {json.loads(x)["video_id"]: json.loads(x)["tags"] for x in manifest.read_text().splitlines()}
    scores = np.array([[next(t["p"] for t in p["top_tags"] if t["tag"] == n) for n in names] for p in preds])
    gold = [[names.index(t) for t in gold_of[p["video_id"]]] for p in preds]
    assert gap(scores, gold) == pytest.approx(metrics["gap"], abs=1e-6)
    assert {"hit@1", "perr", "tag_precision", "tag_recall", "tag_f1", "tag_threshold"} <= set(metrics)


@pytest.mark.parametrize("head", ["mlp", "moe"])
def test_ensemble_head_averages_independent_members(head):
    torch.manual_seed(0)
    ens = build(head, 16, 40, 0.0, multilabel=True, width=12, ensemble=3).eval()
    assert isinstance(ens, EnsembleHead) and len(ens.members) == 3
    v = torch.randn(5, 12)
    probs = torch.stack([torch.sigmoid(m.classify(v)) for m in ens.members])
    assert not torch.allclose(probs[0], probs[1])  # each member from its own init
    assert torch.allclose(torch.sigmoid(ens.classify(v)), probs.mean(0), atol=1e-5)
    assert ens(torch.randn(5, 2, 12)).shape == (5, 40)
    assert torch.sigmoid(ens.classify(v)).mean() < 0.1  # every member starts at the prior
    # a softmax head averages the logits
    single = build(head, 16, 40, 0.0, multilabel=False, width=12, ensemble=2).eval()
    assert torch.allclose(single.classify(v), (single.members[0].classify(v) + single.members[1].classify(v)) / 2,
                          atol=1e-5)


def test_ensemble_head_learns_a_separable_case():
    torch.manual_seed(0)
    x = torch.randn(200, 1, 8)
    y = torch.stack([(x[:, 0, 0] > 0), (x[:, 0, 1] > 0), (x[:, 0, 0] + x[:, 0, 1] > 0)], 1).float()
    ens = build("mlp", 32, 3, 0.0, multilabel=True, width=8, ensemble=4)
    opt = torch.optim.Adam(ens.parameters(), lr=1e-2)
    for _ in range(150):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(ens(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert ((ens.eval()(x) > 0).float() == y).float().mean() > 0.95


def test_ensemble_and_features_input_refuse_pooling_heads():
    with pytest.raises(SettingError, match="mean-pooling"):
        build("nextvlad", 16, 4, 0.0, multilabel=True, ensemble=2)
    # each message names what is wrong, not the value it asks for (--text-fusion late was already given)
    with pytest.raises(SettingError) as e:
        S2VT(ModelConfig(modalities={"a": 4}, vocab_size=5, num_tags=3, hidden=8, embed=8,
                         dropout=0.5, tag_head="attention",
                         tag_input="features"))
    assert str(e.value) == ("--tag-head attention pools steps of the hidden size, which --tag-input features are "
                            "not: --tag-input features works with --tag-head mlp or moe only (or pass --tag-input "
                            "fused)")
    with pytest.raises(SettingError) as e:
        S2VT(ModelConfig(modalities={"a": 4}, vocab_size=5, num_tags=3, hidden=8, embed=8, dropout=0.5, tag_head="mlp",
                         tag_input="features", text_vocab=6, text_fusion="guided"))
    assert str(e.value).startswith("--text-fusion guided attends over steps of the hidden size") \
        and "needs --text-fusion late" in str(e.value) and "--tag-head" not in str(e.value)


def test_features_tag_input_is_each_modality_normalised():
    cfg = ModelConfig(modalities={"a": 4, "b": 6}, vocab_size=5, num_tags=3, hidden=8, embed=8,
                      dropout=0.5, tag_head="mlp",
                      tag_input="features", tag_ensemble=2, multilabel=True)
    model = S2VT(cfg).eval()
    model.lstm1.forward = model.lstm2.forward = None  # any call fails: no LSTM runs
    model.fusion.proj.forward = None  # nor the projections
    feats = {"a": 5 * torch.randn(3, 1, 4), "b": torch.randn(3, 1, 6)}
    lengths = {"a": torch.tensor([1, 1, 1]), "b": torch.tensor([1, 0, 1])}  # video 1 without b
    x = model.fusion.features(feats, lengths, 1)
    assert x.shape == (3, 1, 10)
    assert torch.allclose(x[:, 0, :4].norm(dim=-1), torch.full((3,), 2.0))  # sqrt(4), whatever the scale
    assert torch.allclose(x[[0, 2], 0, 4:].norm(dim=-1), torch.full((2,), 6 ** 0.5))
    assert torch.all(x[1, 0, 4:] == 0)
    _, logits = model(feats, lengths)
    assert logits.shape == (3, 3)
    assert model.tag_head.members[0][0].in_features == 10  # the features, no projection in between


def test_tag_only_default_recipe_trains_and_round_trips(tmp_path):
    """train.py's tag-only defaults (no head, input or ensemble named): 4 MLPs on the normalised features."""
    manifest, store = multilabel_store(tmp_path / "d", {"rgb": (1, 16), "audio": (1, 8)})
    run = tmp_path / "run"
    # (--no-refit, --no-neighbours: best.pt's val metrics are then its own weights', which evaluate must reproduce;
    # the refit and the neighbours' memory, also the recipe's, hold val: tests/test_train.py, tests/test_neighbours.py)
    best = train(TrainConfig.of(str(manifest), str(store), str(run), epochs=15, refit=False, neighbours=False,
                                **{**FAST, "lr": 1e-2}))
    assert best["gap"] > 0.55  # chance is ~0.4
    model, *_ = load_checkpoint(run / "best.pt")
    assert (model.cfg.tag_head, model.cfg.tag_input, model.cfg.tag_ensemble) == ("mlp", "features", 4)
    assert isinstance(model.tag_head, EnsembleHead)
    assert model.cfg.lstm is False and not hasattr(model, "lstm1")  # no caption decoder built, saved or loaded
    metrics = evaluate(str(run / "best.pt"), str(manifest), str(store), "val", out=str(tmp_path / "p.json"))
    assert metrics["gap"] == pytest.approx(best["gap"], abs=1e-6)  # the reloaded model scores as it trained


def test_old_checkpoint_config_builds_one_head():
    model = S2VT(ModelConfig.former(modalities={"a": 4}, vocab_size=5, num_tags=3, hidden=8, embed=8))
    assert model.cfg.tag_ensemble == 1 and not isinstance(model.tag_head, EnsembleHead)
    assert model.cfg.feature_dropout == 0.0  # (a checkpoint from before it: trained without)


@pytest.mark.parametrize("given, expected", [({}, ("mlp", "features", 4)),
                                             ({"tag_head": "nextvlad"}, ("nextvlad", "fused", 1)),
                                             ({"tag_head": "moe", "tag_ensemble": 2}, ("moe", "features", 2)),
                                             ({"tag_input": "fused"}, ("mlp", "fused", 4))])
def test_tag_only_recipe_fills_head_input_and_ensemble(tmp_path, given, expected):
    from s2vt.engine import build as build_run
    manifest, store = multilabel_store(tmp_path / "d")
    r = build_run(TrainConfig.of(str(manifest), str(store), str(tmp_path / "run"), **{**FAST, "hidden": 16, **given}))
    assert (r.model.cfg.tag_head, r.model.cfg.tag_input, r.model.cfg.tag_ensemble) == expected
    # the features input's dropout: the recipe's there, none for a head that reads anything else
    assert r.model.cfg.feature_dropout == (RECIPES["tags"]["feature_dropout"] if expected[1] == "features" else 0.0)


def test_feature_dropout_drops_the_features_input_in_training_only(tmp_path, capsys):
    cfg = ModelConfig(modalities={"a": 64}, vocab_size=5, num_tags=3, hidden=8, embed=8, dropout=0.5, tag_head="mlp",
                      tag_input="features", multilabel=True, feature_dropout=0.5)
    model = S2VT(cfg)
    feats, lengths = {"a": torch.randn(2, 1, 64)}, {"a": torch.tensor([1, 1])}
    model.train()
    assert not torch.equal(model.tag_logits(feats, lengths), model.tag_logits(feats, lengths))
    model.eval()
    assert torch.equal(model.tag_logits(feats, lengths), model.tag_logits(feats, lengths))
    assert torch.equal(model.tag_logits(feats, lengths), model.tag_head.classify(model.fusion.features(feats, lengths, 1)[:, 0]))
    from s2vt.engine import build as build_run
    manifest, store = multilabel_store(tmp_path / "d")
    r = build_run(TrainConfig.of(str(manifest), str(store), str(tmp_path / "run"),
                                 **{**FAST, "hidden": 16, "quiet": False, "tag_input": "fused", "feature_dropout": 0.2}))
    assert r.model.cfg.feature_dropout == 0.0
    assert "warning: --feature-dropout 0.2 has no effect: the tag head reads the fused features" in capsys.readouterr().err


CAPTION_PARTS = ("embed.", "lstm1.", "lstm2.", "att_query.", "att_mix.", "out.")
PROJECTIONS = ("fusion.proj.", "fusion.missing.", "fusion.fuse.", "fusion.gate.")


def test_tag_only_model_leaves_out_the_lstms_unless_its_head_reads_the_encoder(tmp_path):
    """Tag-only data with the tag head on the features (or fused features): the S2VT LSTMs, word
    embedding, attention and word output never run, so they are not built (nor saved); on the
    features, nor are the fused projections."""
    from s2vt.engine import build as build_run
    manifest, store = multilabel_store(tmp_path / "d", {"rgb": (1, 16), "audio": (1, 8)})
    runs = {given: build_run(TrainConfig.of(str(manifest), str(store), str(tmp_path / given), tag_input=given,
                                            **FAST)).model for given in ("features", "fused", "encoder")}
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    for given, left_out in (("features", CAPTION_PARTS + PROJECTIONS), ("fused", CAPTION_PARTS)):
        lean = runs[given]
        assert lean.cfg.lstm is False and not [k for k in lean.state_dict() if k.startswith(left_out)]
        assert {"fusion.mean_0", "fusion.std_1"} <= set(lean.state_dict())  # (the standardisation stays)
        assert (given == "fused") == any(k.startswith(PROJECTIONS) for k in lean.state_dict())
        # the same config with the LSTMs: exactly the parts left out more, several times the lean model's
        full = S2VT(ModelConfig(**{**vars(lean.cfg), "lstm": True}))
        dropped = sum(p.numel() for k, p in full.named_parameters() if k.startswith(left_out))
        assert count(full) == count(lean) + dropped and dropped > 2 * count(lean)
    encoder = runs["encoder"]  # its tag head reads LSTM2's outputs: kept
    assert encoder.cfg.lstm is True and {"lstm1.weight_ih_l0", "lstm2.weight_ih_l0"} <= set(encoder.state_dict())
    with pytest.raises(ValueError, match="needs its LSTMs"):
        S2VT(ModelConfig(**{**vars(runs["fused"].cfg), "vocab_size": 6}))  # a caption vocabulary without a decoder
    with pytest.raises(ValueError, match="needs the LSTMs"):
        S2VT(ModelConfig(**{**vars(runs["fused"].cfg), "tag_input": "encoder"}))


def test_tag_only_checkpoint_from_before_lean_models_still_loads_predicts_and_resumes(tmp_path):
    """A tag-only checkpoint written before `lstm` existed holds the LSTM weights and no `lstm` key:
    it is built with them (ModelConfig.former), loads strictly, predicts as the lean model does and
    resumes with them."""
    from s2vt.epoch import param_groups
    manifest, store = multilabel_store(tmp_path / "d", {"rgb": (1, 16), "audio": (1, 8)})
    run = tmp_path / "run"
    cfg = TrainConfig.of(str(manifest), str(store), str(run), epochs=1, **FAST)
    train(cfg)
    lean, *_ = load_checkpoint(run / "best.pt")
    assert lean.cfg.lstm is False
    for name in ("best.pt", "last.pt"):  # forged as the code before wrote them
        ckpt = torch.load(run / name, weights_only=True)
        config = {k: v for k, v in ckpt["config"].items() if k != "lstm"}
        full = S2VT(ModelConfig.former(**config))
        assert full.load_state_dict(ckpt["model"], strict=False).unexpected_keys == []
        ckpt["model"], ckpt["config"] = full.state_dict(), config
        if "optimizer" in ckpt:  # one Adam entry per parameter, the LSTMs' too
            ckpt["optimizer"] = torch.optim.Adam(param_groups(full, cfg), lr=cfg.lr).state_dict()
        torch.save(ckpt, tmp_path / name if name == "best.pt" else run / name)
    old, *_ = load_checkpoint(tmp_path / "best.pt")
    assert old.cfg.lstm is True and "lstm1.weight_ih_l0" in old.state_dict()
    ours = evaluate(str(run / "best.pt"), str(manifest), str(store), "test", out=str(tmp_path / "lean.json"))
    theirs = evaluate(str(tmp_path / "best.pt"), str(manifest), str(store), "test", out=str(tmp_path / "old.json"))
    assert theirs["gap"] == pytest.approx(ours["gap"], abs=1e-6)
    assert json.loads((tmp_path / "old.json").read_text()) == json.loads((tmp_path / "lean.json").read_text())
    train(TrainConfig.of(str(manifest), str(store), str(run), epochs=2, resume=True, **FAST))
    last = torch.load(run / "last.pt", weights_only=True)
    assert last["epoch"] == 2 and "lstm1.weight_ih_l0" in last["model"] and last["config"]["lstm"] is True


def test_focal_negatives_weigh_each_negative_by_its_probability():
    import torch.nn.functional as F
    from s2vt.model import multilabel_loss

    logits = torch.tensor([[3.0, -3.0, 0.5, 2.0]])
    target = torch.tensor([[1, 0, 0, 0]])
    assert multilabel_loss(logits, target) == pytest.approx(F.binary_cross_entropy_with_logits(logits, target.float()).item())
    p = torch.sigmoid(logits)[0]
    by_hand = -(torch.log(p[0]) + sum(p[i] ** 2 * torch.log(1 - p[i]) for i in (1, 2, 3))) / 4
    assert multilabel_loss(logits, target, 2.0).item() == pytest.approx(by_hand.item(), rel=1e-6)

    def grad(focal):
        z = logits.clone().requires_grad_()
        multilabel_loss(z, target, focal).backward()
        return z.grad[0]
    plain, focal = grad(0.0), grad(2.0)
    assert focal[0] == pytest.approx(plain[0].item())           # the positive learns as with BCE
    assert 0 < focal[1] < 0.01 * plain[1]                       # an easy negative (p 0.05) nearly not at all
    assert 0 < focal[2] < plain[2]                              # an unsure one (p 0.62) less
    assert focal[3] > 0.5 * plain[3]                            # a confident mistake (p 0.88) as much as ever
    # a probability that rounds to 0 (logit -120) with a focal below 1: a finite gradient, not pow's 0 x inf
    z = torch.tensor([[-120.0, 0.0, 120.0]], requires_grad=True)
    multilabel_loss(z, torch.tensor([[0, 0, 1]]), 0.5).backward()
    assert torch.isfinite(z.grad).all() and z.grad[0, 0] == 0


def test_tag_focal_weighs_lic2022_topic_tags_alone_and_says_where_it_has_nothing_to_weigh(tmp_path, capsys):
    """--tag-focal reaches LIC2022's topic tags (level_loss) and leaves the levels' cross-entropy alone; given on
    data with levels and no topic tags, or with no tags at all, it says it has no effect (review: untested)."""
    from s2vt.engine import build as build_run
    from s2vt.levels import level_loss
    from s2vt.model import multilabel_loss
    groups = {"level1": [0, 1], "level2": [], "tag": [2, 3]}
    logits = torch.tensor([[2.0, -1.0, 3.0, -2.0], [0.5, 0.2, -3.0, 1.0]])
    targets = torch.tensor([[1, 0, 0, 0], [0, 1, 0, 1]])
    level_only = level_loss(logits, targets, {**groups, "tag": []})
    plain, focal = level_loss(logits, targets, groups), level_loss(logits, targets, groups, focal=2.0)
    assert plain - level_only == pytest.approx(multilabel_loss(logits[:, 2:], targets[:, 2:]).item())
    assert focal - level_only == pytest.approx(multilabel_loss(logits[:, 2:], targets[:, 2:], 2.0).item())
    assert focal < plain  # (the confident negatives weigh less)
    manifest, store = make_store(tmp_path / "d", videos=24)
    entries = [json.loads(x) for x in manifest.read_text().splitlines()]
    for name, tags in (("levels", lambda e: ["level1:" + t for t in e["tags"]]), ("none", lambda e: [])):
        m = tmp_path / f"{name}.jsonl"
        m.write_text("".join(json.dumps({**e, "tags": tags(e)}) + "\n" for e in entries))
        build_run(TrainConfig.of(str(m), str(store), str(tmp_path / name), **{**FAST, "hidden": 16, "quiet": False,
                                                                              "tag_focal": 2.0}))
        said = [x for x in capsys.readouterr().err.splitlines() if "--tag-focal" in x]
        why = "these LIC2022 labels have no topic tags" if name == "levels" else "this data has no tags"
        assert said == ["warning: --tag-focal 2 has no effect: it weighs the negatives of multi-label tags, and "
                        + why], said


def test_tag_focal_is_the_tag_recipes_and_said_idle_where_no_tag_is_multi_label(tmp_path, capsys):
    from s2vt.engine import build as build_run
    from s2vt.resume import upgraded_settings
    manifest, store = multilabel_store(tmp_path / "d")
    r = build_run(TrainConfig.of(str(manifest), str(store), str(tmp_path / "run"), **{**FAST, "hidden": 16}))
    assert r.cfg.tag_focal == RECIPES["tags"]["tag_focal"] > 0
    assert RECIPES["captions"]["tag_focal"] == RECIPES["levels"]["tag_focal"] == 0
    # the recipe's focal is the neighbours' partner (alone the network scored lower with it): without them, 0,
    # unless the user asks for it
    r = build_run(TrainConfig.of(str(manifest), str(store), str(tmp_path / "run2"),
                                 **{**FAST, "hidden": 16, "neighbours": False}))
    assert r.cfg.tag_focal == 0.0
    r = build_run(TrainConfig.of(str(manifest), str(store), str(tmp_path / "run3"),
                                 **{**FAST, "hidden": 16, "neighbours": False, "tag_focal": 2.0}))
    assert r.cfg.tag_focal == 2.0
    # nor where the neighbours cannot choose their blend: val without tags (review)
    entries = [json.loads(x) for x in manifest.read_text().splitlines()]
    assert any(e["split"] == "val" for e in entries)
    untagged = tmp_path / "untagged.jsonl"
    untagged.write_text("".join(json.dumps({**e, "tags": [] if e["split"] == "val" else e["tags"]}) + "\n"
                                for e in entries))
    r = build_run(TrainConfig.of(str(untagged), str(store), str(tmp_path / "run4"), **{**FAST, "hidden": 16}))
    assert r.cfg.neighbours and r.cfg.tag_focal == 0.0
    # a last.pt from before the option resumes as it trained: plain BCE
    assert upgraded_settings({"epochs": 3})["tag_focal"] == 0.0
    manifest, store = make_store(tmp_path / "one", videos=24)  # one tag a video
    build_run(TrainConfig.of(str(manifest), str(store), str(tmp_path / "run1"), **{**FAST, "hidden": 16,
                                                                                   "quiet": False, "tag_focal": 2.0}))
    assert "warning: --tag-focal 2 has no effect: it weighs the negatives of multi-label tags, and each video has " \
           "one tag" in capsys.readouterr().err


@pytest.mark.parametrize("change", [dict(tag_head="attention"), dict(tag_head="attention", tag_input="fused")])
def test_a_resume_with_a_head_its_model_refuses_names_the_change(tmp_path, change):
    """A --resume that asks for another head is refused as a change of last.pt's model, with the options that
    give it back: not with what the head refuses of last.pt's own features input (trial 102's leftover)."""
    from s2vt.checkpoint import CheckpointError
    from s2vt.data import DataError
    manifest, store = multilabel_store(tmp_path / "d", {"rgb": (1, 16), "audio": (1, 8)})
    run = tmp_path / "run"
    train(TrainConfig.of(str(manifest), str(store), str(run), epochs=2, stop_after=1, **FAST))
    with pytest.raises(CheckpointError, match=r"was trained with tag_head=mlp \(this run: attention\).*"
                                              r"pass --tag-head mlp"):
        train(TrainConfig.of(str(manifest), str(store), str(run), epochs=2, resume=True, **change, **FAST))
    # another split too: said first, as a --resume without the change says it (trial 104: the head was blamed)
    entries = [json.loads(x) for x in manifest.read_text().splitlines()]
    moved = next(e for e in entries if e["split"] == "train")
    moved["split"] = "val"
    other = tmp_path / "other.jsonl"
    other.write_text("".join(json.dumps(e) + "\n" for e in entries))
    said = (rf"--resume: 1 of the \d+ validation videos of {re.escape(str(other))} are videos the run in "
            rf"{re.escape(str(run / 'last.pt'))} trained on \(first: {moved['video_id']}\)")
    with pytest.raises(DataError, match=said):
        train(TrainConfig.of(str(other), str(store), str(run), epochs=2, resume=True, **change, **FAST))
