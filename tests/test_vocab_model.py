import torch

from s2vt.model import ModelConfig, S2VT, resample, squash
from s2vt.vocab import Vocab, tokenize


def test_tokenize_like_pycocoevalcap():
    assert tokenize("A man is playing a Guitar.") == ["a", "man", "is", "playing", "a", "guitar"]
    # brackets become -lrb-/-rrb- and stay: pycocoevalcap lower-cases before matching its (upper-case) list
    assert tokenize("Someone's dog -- (a puppy) runs, fast!") == ["someone", "'s", "dog", "-lrb-", "a", "puppy",
                                                                 "-rrb-", "runs", "fast"]
    assert tokenize("Wow!! Mr. Smith went to the U.S. today. It's 5 p.m.") == [
        "wow", "!!", "mr.", "smith", "went", "to", "the", "u.s.", "today", "it", "'s", "5", "p.m."]
    assert tokenize("一个男人在弹吉他。") == list("一个男人在弹吉他")


def test_vocab_min_count_and_max_len():
    v = Vocab.build(["a man runs", "a man walks", "a dog runs"], min_count=2)
    assert v.itos == ["<pad>", "<bos>", "<eos>", "<unk>", "a", "man", "runs"]
    assert v.encode("a man flies") == [1, 4, 5, 3, 2]
    assert v.encode("a man runs a man runs", max_len=2) == [1, 4, 5, 2]
    assert v.decode([4, 5, 6, 2, 4]) == "a man runs"


def test_a_captions_literal_special_token_is_no_word():
    """Captions preprocessed to hold "<unk>" put a second "<unk>" in the vocabulary, a word the decoder could
    write, and a checkpoint that held it twice (trial 79): the specials are never words; in a caption, one is an
    unknown word, never a control token."""
    v = Vocab.build(["a <unk> runs", "a <unk> walks", "a <pad> <eos> runs"] * 2, min_count=1)
    assert len(set(v.itos)) == len(v.itos) and v.itos[:4] == ["<pad>", "<bos>", "<eos>", "<unk>"]
    assert v.encode("a <unk> <pad> <eos> runs") == [1, v.stoi["a"], 3, 3, 3, v.stoi["runs"], 2]
    # an older s2vt's vocabulary held them as words too: never written out (trial 80)
    older = Vocab([*v.itos, "<unk>", "<bos>"])
    assert older.decode([older.stoi["a"], len(v.itos), len(v.itos) + 1, older.stoi["runs"], 2]) == "a runs"


def test_resample_interpolates_and_flags_empty():
    x = torch.tensor([[[0.0], [3.0], [9.0]], [[5.0], [0.0], [0.0]]])
    out = resample(x, torch.tensor([2, 0]), 4)
    # two rows [0, 3] stretched to 4 steps at centres 0.5/4 * 2 - 0.5 ...: 0, 0.75, 2.25, 3
    assert torch.allclose(out[0, :, 0], torch.tensor([0.0, 0.75, 2.25, 3.0]))
    assert torch.all(out[1] == 0)
    same = resample(x[:1], torch.tensor([3]), 3)
    assert torch.allclose(same, x[:1])


def test_model_shapes_and_missing_modality():
    cfg = ModelConfig.former(modalities={"a": 8, "b": 4}, vocab_size=11, num_tags=3, hidden=16, embed=16, enc_len=5)
    model = S2VT(cfg).eval()
    feats = {"a": torch.randn(2, 7, 8), "b": torch.randn(2, 3, 4)}
    lengths = {"a": torch.tensor([7, 4]), "b": torch.tensor([3, 0])}
    logits, tags = model(feats, lengths, torch.randint(0, 11, (2, 6)))
    assert logits.shape == (2, 6, 11) and tags.shape == (2, 3)
    with torch.no_grad():
        model.fusion.missing["b"].fill_(1.0)
        changed, _ = model(feats, lengths, torch.zeros(2, 6, dtype=torch.long))
        model.fusion.missing["b"].fill_(0.0)
        base, _ = model(feats, lengths, torch.zeros(2, 6, dtype=torch.long))
    assert torch.allclose(changed[0], base[0]) and not torch.allclose(changed[1], base[1])


def test_attention_model_shapes_and_gradients():
    cfg = ModelConfig.former(modalities={"a": 8}, vocab_size=11, hidden=16, embed=16, enc_len=5, context=True, attention=True)
    model = S2VT(cfg)
    feats, lengths = {"a": torch.randn(2, 7, 8)}, {"a": torch.tensor([7, 4])}
    # three captions of video 0, one of video 1: the attended steps follow each caption's video
    logits, _ = model(feats, lengths, torch.randint(0, 11, (4, 6)), video_index=torch.tensor([0, 0, 0, 1]))
    assert logits.shape == (4, 6, 11)
    logits.sum().backward()
    for p in (model.att_query.weight, model.att_mix.weight, model.fusion.proj["a"][0].weight):
        assert p.grad is not None and p.grad.abs().sum() > 0
    plain = S2VT(ModelConfig.former(modalities={"a": 8}, vocab_size=11, hidden=16, embed=16, enc_len=5))
    assert len(model.encode(feats, lengths)[1]) == 4 and len(plain.encode(feats, lengths)[1]) == 3


def test_log_features_squash_before_standardising():
    torch.manual_seed(0)
    on = S2VT(ModelConfig.former(modalities={"a": 8}, vocab_size=11, hidden=16, embed=16, enc_len=5, log_features=True)).eval()
    off = S2VT(ModelConfig.former(modalities={"a": 8}, vocab_size=11, hidden=16, embed=16, enc_len=5)).eval()
    off.load_state_dict(on.state_dict())
    x, lengths = torch.randn(2, 7, 8) * 10, {"a": torch.tensor([7, 4])}
    assert torch.allclose(squash(torch.tensor([-3.0, 0.0, 3.0])), torch.tensor([-1.3863, 0.0, 1.3863]), atol=1e-4)
    with torch.no_grad():
        assert torch.allclose(on.fusion({"a": x}, lengths), off.fusion({"a": squash(x)}, lengths))
        assert not torch.allclose(on.fusion({"a": x}, lengths), off.fusion({"a": x}, lengths))


def test_a_blank_caption_is_one_without_a_word_everywhere():
    """Training, `evaluate` and `score` drop the same captions: none with a word after tokenisation."""
    from s2vt.vocab import drop_blank_captions, is_blank

    entries = [{"captions": ["a dog runs", "", "  ", " . ", "?", "...", "狗"]}, {"tags": ["x"]}]
    assert drop_blank_captions(entries) == 5
    assert entries == [{"captions": ["a dog runs", "狗"]}, {"tags": ["x"]}]
    assert is_blank("...") and not is_blank("a.")


def test_training_words_leave_out_brackets_scoring_keeps():
    # the scorer keeps -lrb- (pycocoevalcap's list is upper-case, its tokens lower-case), but a model
    # trained on them wrote them into captions ("a a a -rrb- a a cat"): the vocabulary and the
    # training targets take the words alone
    caps = ["a cat (a kitten) sits", "a [red] car {fast}", "a cat ( ) [ ] { } sits", "a -LRB- cat -RRB-"]
    v = Vocab.build(caps, min_count=1)
    assert not {"-lrb-", "-rrb-", "-lsb-", "-rsb-", "-lcb-", "-rcb-"} & set(v.itos)
    assert [v.itos[i] for i in v.encode("a cat (a kitten) sits")] == ["<bos>", "a", "cat", "a", "kitten", "sits",
                                                                    "<eos>"]
    assert v.encode("( [ { } ] )") == [v.bos, v.eos]
    assert tokenize("a cat (a kitten)") == ["a", "cat", "-lrb-", "a", "kitten", "-rrb-"]


def test_an_older_vocabulary_with_brackets_decodes_without_them():
    v = Vocab(["<pad>", "<bos>", "<eos>", "<unk>", "a", "-rrb-", "cat"])
    assert v.decode([4, 5, 6, 2]) == "a cat"
