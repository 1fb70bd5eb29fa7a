"""Consensus reranking: CIDEr-D as pycocoevalcap computes it, neighbours, the checkpoint's memory."""
import random
import shutil

import pytest
import torch

from s2vt.checkpoint import CheckpointError, load_checkpoint
from s2vt.consensus import CaptionMemory, ConsensusError
from s2vt.decode import DecodeConfig, decode

from .test_decode import BOS, EOS, MarkovTables


def test_cider_equals_pycocoevalcap_with_the_same_document_frequencies():
    from pycocoevalcap.cider.cider import Cider

    # 12 videos of 1-6 captions over 9 words (repeats, shared n-grams, captions of 1-9 words), each scored
    # alone against its own captions: pycocoevalcap's document frequencies are then the memory's
    rng = random.Random(0)
    caps = [[[rng.randrange(3, 12) for _ in range(rng.randint(1, 9))] for _ in range(rng.randint(1, 6))]
            for _ in range(12)]
    hyps = [[rng.randrange(3, 12) for _ in range(rng.randint(1, 9))] for _ in range(12)]
    hyps[0] = caps[0][0]  # one exact match
    memory = CaptionMemory.build(torch.randn(12, 4), caps, EOS)
    text = lambda ids: " ".join(f"w{i}" for i in ids)  # noqa: E731
    _, want = Cider().compute_score({i: [text(c) for c in caps[i]] for i in range(12)},
                                    {i: [text(hyps[i])] for i in range(12)})
    got = [memory.cider(tuple(hyps[i]), [i]) for i in range(12)]
    assert max(abs(g - float(w)) for g, w in zip(got, want)) < 1e-9
    assert max(got) > 0.5  # (the case is not all zeros)


def test_rerank_picks_the_candidate_the_nearest_videos_captions_agree_with():
    # video 0 (key near +x) is "a man cooks food", video 1 (near -x) "a dog runs on grass"
    keys = torch.tensor([[1.0, 0.1], [-1.0, 0.0], [0.0, 1.0]])
    caps = [[[3, 4, 5, 6], [3, 4, 5]], [[3, 7, 8, 9, 10], [3, 7, 8]], [[3, 11]]]
    memory = CaptionMemory.build(keys, caps, EOS)
    cands = torch.tensor([[[3, 7, 8, EOS, 0], [3, 4, 5, 6, EOS]]] * 2)  # the beam ranked the dog first
    query = torch.tensor([[0.9, 0.0], [-0.8, 0.1]])
    assert memory.neighbours(query, 1).tolist() == [[0], [1]]
    assert memory.rerank(cands, query, 1).tolist() == [1, 0]
    state = CaptionMemory.from_state(memory.state(), EOS)
    assert state.rerank(cands, query, 2).tolist() == memory.rerank(cands, query, 2).tolist()


def test_decode_reranks_only_with_a_memory_and_beam_search():
    # the beam prefers 4 (0.55) over 5 (0.45); the memory's only video says 5
    logp = torch.full((1, 7, 7), -30.0)
    logp[0, BOS, 4], logp[0, BOS, 5] = torch.tensor([0.55, 0.45]).log()
    logp[0, 4, EOS] = logp[0, 5, EOS] = 0.0
    model, states = MarkovTables(logp), (torch.zeros(1, 2, 1),)
    memory = CaptionMemory.build(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), [[[5]], [[6]]], EOS)
    query = torch.tensor([[1.0, 0.0], [1.0, 0.1]])
    on = DecodeConfig(beam=3, anti_lm=0.0, consensus=1)
    assert decode(model, states, BOS, EOS, on, 5, memory=memory, query=query)[:, 0].tolist() == [5, 5]
    assert decode(model, states, BOS, EOS, on, 5)[:, 0].tolist() == [4, 4]  # no memory: the beam's best
    off = DecodeConfig(beam=3, anti_lm=0.0, consensus=0)
    assert decode(model, states, BOS, EOS, off, 5, memory=memory, query=query)[:, 0].tolist() == [4, 4]


def test_a_malformed_memory_is_one_line():
    good = CaptionMemory.build(torch.randn(2, 4), [[[3]], [[4]]], EOS).state()
    for bad in ({}, {**good, "owner": torch.tensor([0, 5])}, {**good, "keys": torch.randn(4)},
                {**good, "captions": "x"}):
        with pytest.raises(ConsensusError, match="caption memory"):
            CaptionMemory.from_state(bad, EOS)


def test_training_writes_the_memory_and_evaluate_uses_it(tmp_path, capsys):
    from s2vt import cli
    from s2vt.checkpoint import read_checkpoint
    from s2vt.engine import TrainConfig, train
    from s2vt.manifest import read_manifest
    from s2vt.predict import evaluate
    from s2vt.synthetic import make_store

    from .test_train import FAST

    manifest, store = make_store(tmp_path / "d", videos=40, signal=True)
    train(TrainConfig.of(str(manifest), str(store), str(tmp_path / "run"), epochs=1, **FAST))
    best = tmp_path / "run" / "best.pt"
    model, vocab, _, ckpt = load_checkpoint(best)
    entries = [e for e in read_manifest(manifest) if e["split"] in ("train", "val")]
    assert len(model.memory) == len(entries)  # the train and val videos
    assert ckpt["memory"]["owner"].bincount().tolist() == [len(e["captions"]) for e in entries]
    assert "memory" not in read_checkpoint(tmp_path / "run" / "last.pt")  # (best.pt's model's summaries only)
    metrics = evaluate(str(best), str(manifest), str(store), "test", DecodeConfig(beam=3), out=str(tmp_path / "p.json"))
    assert metrics["consensus"] == DecodeConfig.consensus  # (0 when the checkpoint has no memory)
    # last.pt (the training state, no memory): said to be no chosen model, with the file that is one; not told to
    # --resume a finished run, which wrote nothing (hostile trial)
    capsys.readouterr()
    evaluate(str(tmp_path / "run" / "last.pt"), str(manifest), str(store), "test", DecodeConfig(beam=3),
             out=str(tmp_path / "q.json"))
    assert capsys.readouterr().err.splitlines() == [
        f"warning: {tmp_path / 'run' / 'last.pt'} is a run's training state (its latest epoch), not the model the run "
        "chose: the run's best.pt holds that (the epoch val chose, with the steps after training: the caption memory, "
        f"the refit): pass --checkpoint {best}"]
    # a last.pt copied as best.pt: not told to pass itself (trial 98)
    (tmp_path / "copy").mkdir()
    shutil.copy(tmp_path / "run" / "last.pt", tmp_path / "copy" / "best.pt")
    evaluate(str(tmp_path / "copy" / "best.pt"), str(manifest), str(store), "test", DecodeConfig(beam=3),
             out=str(tmp_path / "r.json"))
    assert capsys.readouterr().err.splitlines()[0] == (
        f"warning: {tmp_path / 'copy' / 'best.pt'} is a run's training state (its latest epoch) (whatever its name), "
        "not the model the run chose: the run's best.pt holds that (the epoch val chose, with the steps after "
        "training: the caption memory, the refit)")
    # linked as best.pt: the run's best.pt, beside the file the link names, is the one to pass (trial 99)
    (tmp_path / "linked").mkdir()
    (tmp_path / "linked" / "best.pt").symlink_to(tmp_path / "run" / "last.pt")
    evaluate(str(tmp_path / "linked" / "best.pt"), str(manifest), str(store), "test", DecodeConfig(beam=3),
             out=str(tmp_path / "s.json"))
    assert capsys.readouterr().err.splitlines()[0].endswith(f"the refit): pass --checkpoint {best}")
    # a memory that does not fit the model is one line
    ckpt["memory"]["keys"] = ckpt["memory"]["keys"][:, :3]
    torch.save(ckpt, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match="caption memory does not fit the model"):
        load_checkpoint(tmp_path / "bad.pt")
    assert cli.main(["caption", "v.mp4", "--checkpoint", str(best), "--beam", "1", "--consensus", "2"]) == 2
    assert "--consensus 2 acts only in beam search" in capsys.readouterr().err


def test_memory_warnings_and_the_settings_metrics_record(tmp_path, capsys):
    from s2vt.engine import TrainConfig, train
    from s2vt.predict import evaluate
    from s2vt.synthetic import make_store

    from .test_train import FAST

    manifest, store = make_store(tmp_path / "d", videos=40, signal=True)
    cfg = TrainConfig.of(str(manifest), str(store), str(tmp_path / "run"), epochs=1, **FAST)
    train(cfg)
    best = tmp_path / "run" / "best.pt"
    ckpt = torch.load(best, weights_only=True)
    # a finished run whose best.pt has no memory (trained before memories existed) gets one on --resume
    memory = ckpt.pop("memory")
    torch.save(ckpt, best)
    capsys.readouterr()
    m = evaluate(str(best), str(manifest), str(store), "test", DecodeConfig(beam=3, consensus=5),
                 out=str(tmp_path / "p.json"))
    assert "has no caption memory" in capsys.readouterr().err and m["consensus"] == 0
    train(TrainConfig.of(str(manifest), str(store), str(tmp_path / "run"), epochs=1, resume=True, **FAST))
    again = torch.load(best, weights_only=True)["memory"]
    assert torch.equal(again["keys"], memory["keys"]) and again["ids"] == memory["ids"]
    # val is in the memory: said; the settings recorded are those that acted
    m = evaluate(str(best), str(manifest), str(store), "val", DecodeConfig(beam=3, consensus=10 ** 6),
                 out=str(tmp_path / "v.json"))
    assert "videos of split val were training or val videos of" in capsys.readouterr().err
    assert m["consensus"] == len(memory["ids"]) and m["anti_lm"] == DecodeConfig.anti_lm
    m = evaluate(str(best), str(manifest), str(store), "test", DecodeConfig(beam=1), out=str(tmp_path / "g.json"))
    assert m["beam"] == 1 and "anti_lm" not in m and "consensus" not in m
    assert "warning" not in capsys.readouterr().err
    # a memory that is not what training writes is one line, whatever its shape
    for bad in (torch.zeros(3), {**memory, "keys": memory["keys"].float().fill_(float("nan"))},
                {**memory, "captions": memory["captions"].float()}, {**memory, "ids": ["x"]}):
        torch.save({**ckpt, "memory": bad}, tmp_path / "bad.pt")
        with pytest.raises(CheckpointError, match="caption memory"):
            load_checkpoint(tmp_path / "bad.pt")


def test_a_best_pt_from_before_memories_is_said_as_such_and_the_fix_named(tmp_path, capsys):
    """A finished run whose best.pt an older s2vt wrote without a caption memory: --resume said "doing the last
    steps best.pt lacks (stopped while they ran?)", though the run was never stopped, and evaluate/caption said
    only "train.py writes it into best.pt when a run ends" (hostile trial): both causes are said, and the
    warning names the command that writes the memory."""
    import shlex

    from s2vt.engine import TrainConfig, train
    from s2vt.errors import invoked_as
    from s2vt.predict import evaluate
    from s2vt.synthetic import make_store

    from .test_train import FAST

    manifest, store = make_store(tmp_path / "d", videos=40)
    kw = dict(epochs=1, **{**FAST, "hidden": 16, "embed": 16})
    train(TrainConfig.of(str(manifest), str(store), str(tmp_path / "run"), **kw))
    best = tmp_path / "run" / "best.pt"
    ckpt = torch.load(best, weights_only=True)
    del ckpt["memory"]  # as an s2vt from before the memory wrote it
    torch.save(ckpt, best)
    capsys.readouterr()
    evaluate(str(best), str(manifest), str(store), "test", DecodeConfig(beam=3, consensus=5),
             out=str(tmp_path / "p.json"))
    err = capsys.readouterr().err
    assert (f"warning: {best} has no caption memory (written by an older s2vt, or by a run stopped before its end; "
            f"`{shlex.join(invoked_as('train'))} ... --out {shlex.quote(str(best.parent))} --resume` on its run writes "
            "it into best.pt): "
            "decoding without consensus reranking\n") in err, err
    train(TrainConfig.of(str(manifest), str(store), str(tmp_path / "run"), resume=True, **{**kw, "quiet": False}))
    err = capsys.readouterr().err
    assert ("all epochs trained; doing the last steps best.pt lacks (stopped while they ran, or written by an "
            "older s2vt without them), as the run was: the caption memory") in err, err
    # without last.pt beside it (a run whose last.pt could not be written) --resume cannot run: the advice was untrue
    (tmp_path / "run" / "last.pt").unlink()
    torch.save(ckpt, best)
    evaluate(str(best), str(manifest), str(store), "test", DecodeConfig(beam=3, consensus=5),
             out=str(tmp_path / "p.json"), force=True)
    err = capsys.readouterr().err
    assert (f"warning: {best} has no caption memory (written by an older s2vt, or by a run stopped before its end; "
            f"there is no last.pt beside it to resume its run from: a run trained again "
            f"(`{shlex.join(invoked_as('train'))} ... --out RUN --overwrite`) writes it): "
            "decoding without consensus "
            "reranking\n") in err, err


def test_caption_consensus_is_each_captions_cider_d_against_its_videos_other_captions():
    from s2vt.consensus import caption_consensus, ngram_counts, pair_cider

    # the document frequencies are the memory's (a video's captions one document), whose CIDEr-D is
    # pycocoevalcap's (the test above): a caption against all of its video's n captions is the mean of n
    # pairs, one of them itself, which the consensus leaves out
    rng = random.Random(1)
    caps = [[tuple(rng.randrange(3, 12) for _ in range(rng.randint(1, 9))) for _ in range(rng.randint(2, 6))]
            for _ in range(10)] + [[(3, 4, 5)]]
    got = caption_consensus(caps)
    memory = CaptionMemory.build(torch.randn(len(caps), 4), [[list(c) for c in v] for v in caps], EOS)
    for v, video in enumerate(caps[:-1]):
        for j, c in enumerate(video):
            with_itself = memory.cider(c, [v]) * len(video)  # (the sum over all n pairs)
            vec = memory._vec(ngram_counts(c))
            assert got[v][j] == pytest.approx((with_itself - pair_cider(vec, vec)) / (len(video) - 1), abs=1e-9)
    assert got[-1] == [0.0]  # (a lone caption has nobody to agree with)
    assert max(max(v) for v in got) > 0.5


def test_consensus_weights_favour_the_captions_a_videos_annotators_agree_on():
    from s2vt.data import consensus_weights

    entries = [{"video_id": "a", "captions": ["a man is slicing an onion", "a man slices an onion",
                                              "a man is cutting an onion", "a cat plays the piano"]},
               {"video_id": "b", "captions": ["a dog runs", "a dog is running on grass"]},
               {"video_id": "c", "captions": ["only one"]},
               {"video_id": "d", "captions": []},
               {"video_id": "e", "captions": ["x y", "p q"]}]  # (no n-gram in common: all zero)
    w = consensus_weights(entries)
    assert sum(w[0]) == pytest.approx(4) and sum(w[1]) == pytest.approx(2)  # each video weighs as before
    assert min(w[0]) == w[0][3] < 0.2 and min(w[0][:3]) > 1  # the outlier counts little
    assert w[2] == [1.0] and w[3] == [] and w[4] == [1.0, 1.0]
