"""Greedy and batched beam search."""
import pytest
import torch
from torch import nn

from s2vt.decode import DecodeConfig, _banned, beam_search, decode, greedy, map_states
from s2vt.errors import SettingError
from s2vt.model import ModelConfig, S2VT

BOS, EOS = 1, 2


def random_model(seed=0):
    torch.manual_seed(seed)
    return S2VT(ModelConfig.former({"a": 8}, vocab_size=30, hidden=32, embed=32, enc_len=5, dropout=0.0)).eval()


def test_beam_1_equals_greedy():
    model = random_model()
    _, states = model.encode({"a": torch.randn(16, 5, 8)}, {"a": torch.full((16,), 5)})
    g = greedy(model, states, BOS, EOS, 12)
    b, _ = beam_search(model, states, BOS, EOS, beam=1, max_len=12)
    assert torch.equal(b[:, 0, :g.shape[1]], g)


class MarkovTables(nn.Module):
    """A 'model' whose next-word log-probabilities depend only on the previous word and the
    video: `logits[video, previous word]`, the video's index carried in the state (dim 1 is the
    batch, so beam search reorders it like an LSTM state)."""

    def __init__(self, logits: torch.Tensor) -> None:
        super().__init__()
        self.logits = logits

    def step(self, words, states):
        video = states[0][0, :, 0].long()
        return self.logits[video, words[:, -1]][:, None, :], states


def video_states(videos: int, same: bool = False) -> tuple:
    """States naming each row's table: 0, 1, 2, ... (or table 0 for all rows)."""
    index = torch.zeros(videos) if same else torch.arange(videos, dtype=torch.float)
    return (index.view(1, videos, 1),)


def table(probs: dict[int, dict[int, float]], vocab: int = 6) -> MarkovTables:
    """One Markov table from {previous word: {next word: probability}}, shared by every video."""
    logp = torch.full((1, vocab, vocab), -30.0)
    for prev, nxt in probs.items():
        for w, p in nxt.items():
            logp[0, prev, w] = torch.tensor(p).log()
    return MarkovTables(logp)


def test_beam_finds_better_than_greedy_path():
    # greedy takes word 4 (0.6), then everything after it is unlikely (best: <eos> 0.34): 0.204 in all.
    # Word 5 (0.4) then <eos> (1.0) is 0.4: only a search that keeps 5 alive finds it. (3 is <unk>.)
    model = table({BOS: {4: 0.6, 5: 0.4}, 4: {EOS: 0.34, 6: 0.33, 5: 0.33}, 5: {EOS: 1.0}, 6: {EOS: 1.0}}, vocab=7)
    states = video_states(3, same=True)  # batch of 3 identical videos
    g = greedy(model, states, BOS, EOS, 5)
    assert g[0].tolist()[:2] == [4, EOS]
    best, scores = beam_search(model, states, BOS, EOS, beam=5, max_len=5, n_best=2, length_penalty=0.7)
    assert best[:, 0, :2].tolist() == [[5, EOS]] * 3
    assert best.shape[:2] == (3, 2) and torch.all(scores[:, 0] >= scores[:, 1])
    assert decode(model, states, BOS, EOS, DecodeConfig(beam=5, length_penalty=0.7), max_len=5)[0, :2].tolist() == [5, EOS]


def test_never_unk_pad_or_bos():
    # <unk> is the likeliest word after <bos>, then <pad>, then <bos>: none of them is emitted
    model = table({BOS: {3: 0.5, 0: 0.2, BOS: 0.15, 4: 0.15}, 4: {EOS: 1.0}})
    states = video_states(2, same=True)
    assert greedy(model, states, BOS, EOS, 5)[0, :2].tolist() == [4, EOS]
    assert beam_search(model, states, BOS, EOS, beam=3, max_len=5)[0][0, 0, :2].tolist() == [4, EOS]


def test_repeated_trigram_blocked():
    # 4 -> 5 -> 4 -> 5 ... loops forever; after "4 5 4" the next 5 would repeat the trigram "4 5 4"
    # once more ("5 4 5" then "4 5 4"): blocked, so the decoder must leave the loop (only <eos> is left)
    model = table({BOS: {4: 1.0}, 4: {5: 0.9, EOS: 0.1}, 5: {4: 0.9, EOS: 0.1}})
    states = video_states(1)
    for ids in (greedy(model, states, BOS, EOS, 10)[0], beam_search(model, states, BOS, EOS, 3, 10)[0][0, 0]):
        words = ids.tolist()[:ids.tolist().index(EOS)]
        trigrams = [tuple(words[i:i + 3]) for i in range(len(words) - 2)]
        assert len(trigrams) == len(set(trigrams)) and words[:3] == [4, 5, 4]


def test_batch_of_64_by_5_decodes_in_one_pass():
    model = random_model(1)
    feats = torch.randn(64, 5, 8)
    _, states = model.encode({"a": feats}, {"a": torch.full((64,), 5)})
    ids, scores = beam_search(model, states, BOS, EOS, beam=5, max_len=10)
    assert ids.shape[0] == 64 and torch.isfinite(scores).all()
    # the batched result for video 7 equals decoding video 7 alone
    _, one = model.encode({"a": feats[7:8]}, {"a": torch.full((1,), 5)})
    alone, _ = beam_search(model, one, BOS, EOS, beam=5, max_len=10)
    assert torch.equal(alone[0, 0], ids[7, 0])


def full_vocabulary_beam(model, states, beam, max_len):
    """Textbook beam search, one video at a time, scoring every word of the vocabulary: the oracle.
    Returns per video the `beam` (log-probability, words) it keeps, best first."""
    out = []
    for i in range(states[0].shape[1]):
        hyps = [(0.0, [], map_states(states, lambda s: s[:, i:i + 1]), False)]  # (score, words, states, done)
        for step in range(max_len + 1):
            cands = []
            for score, words, st, done in hyps:
                if done:
                    cands.append((score, words + [EOS], st, True))
                    continue
                logits, st2 = model.step(torch.tensor([[words[-1] if words else BOS]]), st)
                logp = torch.log_softmax(_banned(logits[0, -1:].clone(), BOS, 0, seqs=torch.tensor([words])), -1)[0]
                cands += [(score + logp[w].item(), words + [w], st2, w == EOS) for w in range(len(logp))
                          if step < max_len or w == EOS]  # (max_len words, then <eos>)
            hyps = sorted(cands, key=lambda h: -h[0])[:beam]
            if all(h[3] for h in hyps):
                break
        out.append([(score, words) for score, words, _, _ in hyps])
    return out


def test_beam_search_equals_a_full_vocabulary_search():
    videos, beam, max_len = 6, 4, 7
    # each video its own random table; <eos> a little less likely, so sentences end at several lengths
    logits = torch.randn(videos, 12, 12, generator=torch.Generator().manual_seed(0)) * 2
    logits[..., EOS] -= 1.0
    model, states = MarkovTables(logits), video_states(videos)
    ids, scores = beam_search(model, states, BOS, EOS, beam=beam, max_len=max_len, n_best=beam,
                              length_penalty=0.0)
    oracle = full_vocabulary_beam(model, states, beam, max_len)
    lengths = {words.index(EOS) for hyps in oracle for _, words in hyps if EOS in words}
    assert len(lengths) >= 3  # hypotheses finished at different steps: the frozen-score path ran
    for i, hyps in enumerate(oracle):
        for j, (score, words) in enumerate(hyps):
            got = ids[i, j].tolist()
            assert got[:len(words)] == words[:len(got)]
            assert abs(scores[i, j].item() - score) < 1e-4


def test_attention_decode_equals_teacher_forced_argmax():
    torch.manual_seed(1)
    model = S2VT(ModelConfig.former({"a": 8}, vocab_size=30, hidden=32, embed=32, enc_len=5, dropout=0.0, context=True,
                             attention=True)).eval()
    _, states = model.encode({"a": torch.randn(6, 5, 8)}, {"a": torch.tensor([5, 5, 4, 3, 2, 1])})
    ids = greedy(model, states, BOS, EOS, 8)
    with torch.no_grad():  # one pass over the whole caption sees what the step-by-step decoder saw
        logits, _ = model.step(torch.cat([torch.full((6, 1), BOS), ids[:, :-1]], 1), states)
    # the same bans at each position as greedy applied (a random model loops: trigram blocking acts)
    want = torch.stack([_banned(logits[:, t], BOS, 0, seqs=ids[:, :t]).argmax(-1) for t in range(ids.shape[1])], 1)
    ended = (ids == EOS).cumsum(1) - (ids == EOS).long() > 0  # positions after a caption's <eos>
    ended[:, 8:] = True  # (and the <eos> after 8 words, which no argmax chose)
    assert torch.equal(want[~ended], ids[~ended])
    b, _ = beam_search(model, states, BOS, EOS, beam=1, max_len=8)
    assert torch.equal(b[:, 0, :ids.shape[1]], ids)


def test_anti_lm_zero_is_todays_beam_search_to_the_token():
    model = random_model(3)
    feats, lengths = {"a": torch.randn(16, 5, 8)}, {"a": torch.full((16,), 5)}
    _, states = model.encode(feats, lengths)
    _, blank = model.encode(feats, lengths, blank=True)
    plain = beam_search(model, states, BOS, EOS, beam=5, max_len=12, length_penalty=0.7)[0][:, 0]
    off = decode(model, states, BOS, EOS, DecodeConfig(beam=5, length_penalty=0.7, anti_lm=0.0), 12, lm_states=blank)
    assert torch.equal(off, plain)
    # and the anti-LM does act on the same model: some video's caption changes
    on = decode(model, states, BOS, EOS, DecodeConfig(beam=5, length_penalty=0.7, anti_lm=0.9), 12, lm_states=blank)
    assert not torch.equal(on, plain)


def test_anti_lm_demotes_the_caption_any_video_gets():
    # the video says 4 (0.55) a little more than 5 (0.45); the blank video says 4 almost always (0.9):
    # 4 is the generic caption. Score of 4: log .55 - .3 log .9 = -0.57; of 5: log .45 - .3 log .1 = -0.11
    logp = torch.full((2, 7, 7), -30.0)
    for t, (p4, p5) in enumerate(((0.55, 0.45), (0.9, 0.1))):  # table 0: the video, 1: the blank video
        logp[t, BOS, 4], logp[t, BOS, 5] = torch.tensor([p4, p5]).log()
        logp[t, 4, EOS] = logp[t, 5, EOS] = 0.0
    model = MarkovTables(logp)
    states, blank = (torch.zeros(1, 3, 1),), (torch.ones(1, 3, 1),)
    plain = decode(model, states, BOS, EOS, DecodeConfig(beam=3, anti_lm=0.0), 5, lm_states=blank)
    mi = decode(model, states, BOS, EOS, DecodeConfig(beam=3, anti_lm=0.3), 5, lm_states=blank)
    assert plain[:, 0].tolist() == [4, 4, 4]
    assert mi[:, 0].tolist() == [5, 5, 5]
    assert (mi[:, 1] == EOS).all()


def test_decode_settings_out_of_range_are_one_line():
    for kw, word in (({"beam": 0}, "--beam"), ({"anti_lm": 1.0}, "--anti-lm"), ({"anti_lm": -0.1}, "--anti-lm"),
                     ({"length_penalty": -1.0}, "--length-penalty"), ({"length_penalty": float("nan")}, "--length-penalty"),
                     ({"length_penalty": float("inf")}, "--length-penalty"),
                     # 29 ** 100 overflows float32: every beam would tie at -0.0
                     ({"length_penalty": 100.0}, "--length-penalty")):
        with pytest.raises(SettingError, match=word):
            DecodeConfig(**kw)


@pytest.mark.parametrize("attention", [False, True])
def test_the_anti_lm_steps_with_the_video_in_one_batch_as_it_did_apart(attention, monkeypatch):
    """The blank video's hypotheses step in one batch with the video's (the decoder's weights read once for
    both: caption.py's decoding ~1.8x faster); the captions and scores are those of two separate steps."""
    import s2vt.decode as decoding

    torch.manual_seed(0)
    dims = {"a": 16, "b": 8}
    model = S2VT(ModelConfig.former(dims, 50, 0, hidden=32, embed=16, attention=attention, context=True)).eval()
    feats = {"a": torch.randn(3, 6, 16), "b": torch.randn(3, 4, 8)}
    lengths = {"a": torch.full((3,), 6), "b": torch.full((3,), 4)}
    states, blank = model.encode(feats, lengths)[1], model.encode(feats, lengths, blank=True)[1]
    stacked = []
    monkeypatch.setattr(decoding, "stacked_states", lambda a, b, f=decoding.stacked_states: stacked.append(1) or f(a, b))
    ids, scores = beam_search(model, states, 1, 2, beam=4, anti_lm=0.3, lm_states=blank)
    assert stacked
    monkeypatch.setattr(decoding, "stacked_states", lambda a, b: None)  # (steps apart, as before)
    apart_ids, apart_scores = beam_search(model, states, 1, 2, beam=4, anti_lm=0.3, lm_states=blank)
    assert torch.equal(ids, apart_ids) and torch.allclose(scores, apart_scores, atol=1e-5)
    # states of other shapes (attention steps of another length) are not stacked
    assert decoding.stacked_states((torch.zeros(2, 3, 4),), (torch.zeros(5, 3, 4),)) is None


@pytest.mark.parametrize("beam", [1, 3])
def test_a_caption_ends_after_max_len_words(beam):
    """(trial 109) training cuts captions at --max-len words; decoding wrote one word more (28 + 1), and evaluate,
    caption.py and serve decoded to 28 whatever the run's --max-len: the cap is the model's, and <eos> follows it."""
    from s2vt.predict import predict
    from s2vt.vocab import SPECIALS, Vocab

    never = torch.zeros(4, 6, 6)
    never[..., EOS] = -30.0  # (a model that never ends a caption of itself)
    ids = decode(MarkovTables(never), video_states(4), BOS, EOS, DecodeConfig(beam=beam), max_len=5)
    assert ids.shape[1] == 6 and (ids[:, :5] != EOS).all() and (ids[:, 5] == EOS).all(), ids
    model = S2VT(ModelConfig.former({"a": 8}, vocab_size=30, hidden=32, embed=32, enc_len=5, dropout=0.0,
                                    max_len=3)).eval()
    with torch.no_grad():
        model.out.bias[EOS] = -30.0  # (the same with a real decoder: it would run to the cap)
    vocab = Vocab([*SPECIALS, *(f"w{i}" for i in range(26))])
    captions, _ = predict(model, vocab, {"a": torch.randn(2, 5, 8)}, {"a": torch.full((2,), 5)}, beam,
                          with_captions=True)
    assert [len(c.split()) for c in captions] == [3, 3], captions


def test_consensus_reranking_never_picks_a_hypothesis_the_beam_could_not_fill():
    """(trial 110) a beam wider than the words there are (3 words and <eos> here, beam 8, one word at most) keeps
    -inf hypotheses; the reranking reads ids alone, and picked one: an unended 2-word caption. The best stands in."""
    class LastCandidate:  # (a memory whose reranking prefers the last candidate, whatever it is)
        def rerank(self, ids, query, k):
            return torch.full((len(ids),), ids.shape[1] - 1, dtype=torch.long)

    logits = torch.zeros(2, 6, 6)
    ids = decode(MarkovTables(logits), video_states(2), BOS, EOS, DecodeConfig(beam=8, anti_lm=0.0, consensus=1),
                 max_len=1, memory=LastCandidate(), query=torch.zeros(2, 4))
    words = [row[:row.tolist().index(EOS)] if EOS in row.tolist() else None for row in ids]
    assert all(w is not None and len(w) <= 1 for w in words), ids
