"""Tag heads (s2vt/tagheads.py) and tag-only multi-label training + evaluation on planted data."""
import json

import numpy as np
import pytest
import torch

from s2vt.checkpoint import load_checkpoint
from s2vt.engine import TrainConfig, train
from s2vt.metrics import gap
from s2vt.model import S2VT, ModelConfig
from s2vt.predict import evaluate
from s2vt.synthetic import make_store
from s2vt.tagheads import TAG_HEADS, build

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
    best = train(TrainConfig.of(str(manifest), str(store), str(run), epochs=8, tag_head=head, **{**FAST, "lr": 1e-2}))
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
