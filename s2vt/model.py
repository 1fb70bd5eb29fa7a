"""Fusion, S2VT and the tag head — the whole model, top to bottom.

features {modality: [B, T_m, D_m]} --(log,) standardise, resample to L steps--> Linear -> ReLU ->
Dropout per modality --fuse (concat | sum | gated)--> [B, L, H] --S2VT encoder--> states
--S2VT decoder (optionally attending over the L fused steps)--> word logits;  encoder outputs (or,
`tag_input` fused, the fused features; `tag_input` features, the standardised features themselves:
no LSTM runs for tags) --tag head (tagheads.py HEADS: mlp | moe | nextvlad | attention, or an ensemble of
a mean-pooling one)--> tag logits.
With text (s2vt/text.py) the tag head reads [video vector; text vector]: the video vector is the
head's pooling of the steps (late fusion) or their mean weighted by the text's attention (guided);
a model without video modalities tags from the text vector alone.
"""
from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn

from .decode import map_states
from .options import MAX_WIDTH, derived, setting
from .errors import SettingError
from .tagheads import MEAN_POOLING, TAG_HEADS, EnsembleHead, MLPHead, build as build_tag_head
from .text import TextEncoder, TextFitted, TextLinear

# the help's default of a setting the recipe for the data fills (s2vt/config.py RECIPES): where its
# numbers are written down for users
RECIPE_DEFAULT = 'the recipe for the data, docs/usage.md "Training"'
from .vocab import SPECIALS


FUSIONS = ("concat", "sum", "gated")  # how the modalities' projections combine (`Fusion`)
TAG_INPUTS = ("encoder", "fused", "features")  # what the tag head reads (S2VT.tag_logits)
MAX_CAPTION_WORDS = 10000  # --max-len's bound (checked in a checkpoint's config too)


@dataclasses.dataclass
class ModelConfig:
    """The model's architecture settings, declared here once (TrainConfig.model holds them, the
    options `--hidden`, `--fusion`, ... are generated from them) and the fields the data decides
    (`derived`: `engine.build` fills them). A checkpoint keeps `dataclasses.asdict` of it."""
    modalities: dict[str, int] = derived(default_factory=dict)   # name -> feature dim
    vocab_size: int = derived(0)
    num_tags: int = derived(0)
    hidden: int | None = setting(None, f"(default: {RECIPE_DEFAULT})", minimum=1, maximum=MAX_WIDTH)
    embed: int = setting(512, minimum=1, maximum=MAX_WIDTH)
    enc_len: int = setting(20, "encoder steps the frames are resampled to", minimum=1, maximum=10000)
    # (the model's, as nanoGPT's block_size: evaluate, caption.py and serve decode up to the length it learnt; a
    # training setting alone, they wrote 28 words whatever a run had learnt; trial 109)
    max_len: int = setting(28, "longest caption in words: training cuts captions there, decoding stops there",
                           minimum=1, maximum=MAX_CAPTION_WORDS)
    fusion: str = setting("concat", choices=FUSIONS)
    # None: the recipe's (s2vt/config.py RECIPES: 0.3 for captions, 0.5 for tags)
    dropout: float | None = setting(None, f"(default: {RECIPE_DEFAULT})", within="[0, 1)")
    multilabel: bool = derived(False)
    tag_threshold: float = derived(0.5)  # chosen on val (engine.train) for multi-label tags
    pad_id: int = derived(0)
    context: bool = setting(True, "decoding steps feed LSTM1 the mean video feature (--no-context: zeros, the "
                                  "original S2VT)")
    text_vocab: int = derived(0)         # text tokens (0: no text branch)
    text_embed: int = setting(256, "token embedding size", minimum=1, maximum=MAX_WIDTH)
    text_fusion: str = setting("late", "late: text vector beside the pooled video vector; guided: the text attends "
                                       "over the video", ("late", "guided"))
    # MLDS split, epoch 2: val CIDEr-D 0.638 greedy vs 0.501 without, distinct captions 41 vs 19 of 80
    attention: bool = setting(True, "each word reads an attention-weighted sum of the encoder steps "
                                    "(Yao et al. 2015)")
    log_features: bool = setting(False, "sign(x) log(1 + |x|) of the features before standardising them")
    tag_head: str | None = setting(None, f"tag head (s2vt/tagheads.py; default: {RECIPE_DEFAULT})", TAG_HEADS)
    # engine.build turns auto into encoder or fused (S2VT refuses auto)
    tag_input: str = setting("auto", "what the tag head reads: the S2VT encoder's outputs, the fused features (no "
                                     "LSTM) or the standardised features themselves, each modality L2-normalised (no "
                                     f"projection); auto: {RECIPE_DEFAULT}", ("auto",) + TAG_INPUTS)
    text_wide: bool = setting(True, "wide & deep: + a linear path from the TF-IDF tokens to the tag logits "
                                    "(--no-text-wide: the MLP alone)")
    tag_ensemble: int | None = setting(None, f"independently initialised tag heads ({', '.join(MEAN_POOLING)}) whose "
                                             f"probabilities are averaged (default: {RECIPE_DEFAULT})", minimum=1,
                                       maximum=64)
    text_linear: bool = setting(True, "+ a linear classifier over the TF-IDF tokens fitted to convergence after "
                                      "training, mixed into the logits per label kind with weights chosen on val; "
                                      "used on LIC2022 labels with text and a val split (--no-text-linear: the "
                                      "network alone)")
    # only with tag_input features (the head's raw input: 1,152 numbers a YouTube-8M video); the tags recipe's
    # value was chosen on the YouTube-8M shards' val GAP (docs/benchmarks.md "Input dropout")
    feature_dropout: float | None = setting(None, "dropout on the features the tag head reads with --tag-input "
                                                  f"features (default: {RECIPE_DEFAULT})", within="[0, 1)")
    # False: no S2VT LSTMs, word embedding, attention or word output, and with tag_input features no fused
    # projections either (engine.build: a model without captions whose tag head does not read the encoder
    # never runs them, and they were ~4/5 of a YouTube-8M checkpoint); True before it existed, so an older
    # tag-only checkpoint, which holds them, still loads
    lstm: bool = derived(True)

    @classmethod
    def former(cls, *args, **kw) -> "ModelConfig":
        """A config whose fields left out take the model's defaults from before they were settings
        (`BEFORE_FIELD`): how a checkpoint that lacks a key was trained; tests and benches built on them."""
        taken = {f.name for f in dataclasses.fields(cls)[:len(args)]}
        return cls(*args, **{**{k: v for k, v in BEFORE_FIELD.items() if k not in taken}, **kw})


# the model's defaults before its architecture became settings: a checkpoint written before a field
# existed was trained with these, so its absent key takes this value, not today's default
BEFORE_FIELD = {"num_tags": 0, "multilabel": False, "tag_threshold": 0.5, "pad_id": 0, "context": False,
                "text_vocab": 0, "text_embed": 256, "text_fusion": "late", "attention": False, "log_features": False,
                "tag_head": "mlp", "tag_input": "encoder", "text_wide": False, "text_linear": False,
                "enc_len": 40, "dropout": 0.3,
                "hidden": 512, "embed": 512, "fusion": "concat", "tag_ensemble": 1, "lstm": True,
                "feature_dropout": 0.0, "max_len": 28}


def squash(x: torch.Tensor) -> torch.Tensor:
    """sign(x) log(1 + |x|): post-ReLU CNN features are mostly zeros with a long tail, which
    standardisation alone turns into a few huge inputs; the log keeps their order, not their scale."""
    return torch.sign(x) * torch.log1p(x.abs())


def one_step(lengths: dict[str, torch.Tensor]) -> int | None:
    """1 for video-level features (one row a video: one step, not enc_len copies of it), else None."""
    return 1 if all(int(n.max()) <= 1 for n in lengths.values()) else None


def resample(x: torch.Tensor, lengths: torch.Tensor, steps: int) -> torch.Tensor:
    """Linearly interpolate each sequence x[b, :lengths[b]] to `steps` rows ([B, T, D] -> [B, steps, D]).

    Rows of length-0 sequences come out as zeros.
    """
    b, t, d = x.shape
    if t == 0:  # every sequence empty (one silent video): nothing to interpolate
        return x.new_zeros(b, steps, d)
    n = lengths.clamp(min=1).to(x.dtype)[:, None]                       # [B, 1]
    pos = ((torch.arange(steps, device=x.device, dtype=x.dtype) + 0.5) * n / steps - 0.5)
    pos = pos.clamp(min=0).minimum(n - 1)                               # [B, steps]
    lo = pos.floor().long().clamp(max=max(t - 1, 0))
    hi = (lo + 1).minimum((n - 1).long())
    w = (pos - lo.to(x.dtype)).unsqueeze(-1)
    gather = lambda idx: x.gather(1, idx.unsqueeze(-1).expand(-1, -1, x.shape[-1]))  # noqa: E731
    out = gather(lo) * (1 - w) + gather(hi) * w
    return out * (lengths > 0).to(x.dtype)[:, None, None]


class Fusion(nn.Module):
    """Per-modality projection and intermediate fusion at each encoder time step."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.names = sorted(cfg.modalities)
        h = cfg.hidden
        if cfg.fusion not in FUSIONS:
            raise ValueError(f"fusion must be {', '.join(FUSIONS)}, not {cfg.fusion!r}")
        # per-dimension standardisation of each modality, measured on the training set (after
        # `squash` with log_features: `set_stats`); kept in the state dict so a checkpoint normalises as it trained
        for i, m in enumerate(self.names):
            self.register_buffer(f"mean_{i}", torch.zeros(cfg.modalities[m]))
            self.register_buffer(f"std_{i}", torch.ones(cfg.modalities[m]))
        # a model without LSTMs whose tag head reads the standardised features (`features`) never
        # projects or fuses them: only the statistics above are built (a tenth of a YouTube-8M model)
        self.projects = cfg.lstm or cfg.tag_input == "fused"
        if not self.projects:
            return
        self.proj = nn.ModuleDict({m: nn.Sequential(nn.Linear(d, h), nn.ReLU(), nn.Dropout(cfg.dropout))
                                   for m, d in cfg.modalities.items()})
        # stands in for a modality with no rows (e.g. a silent video): the "missing" flag, learned
        self.missing = nn.ParameterDict({m: nn.Parameter(torch.zeros(h)) for m in self.names})
        if cfg.fusion == "concat":
            self.fuse = nn.Linear(len(self.names) * h, h)
        elif cfg.fusion == "gated":
            self.gate = nn.Linear(len(self.names) * h, len(self.names))

    def set_stats(self, stats: dict[str, tuple[torch.Tensor, torch.Tensor]]) -> None:
        """Install per-dimension (mean, std) of each modality's features."""
        for i, m in enumerate(self.names):
            getattr(self, f"mean_{i}").copy_(stats[m][0])
            getattr(self, f"std_{i}").copy_(stats[m][1])

    def standardised(self, x: torch.Tensor, i: int) -> torch.Tensor:
        """Modality i's features, (log-squashed and) standardised with the training set's statistics."""
        x = squash(x) if self.cfg.log_features else x
        return (x - getattr(self, f"mean_{i}")) / getattr(self, f"std_{i}")

    def features(self, feats: dict[str, torch.Tensor], lengths: dict[str, torch.Tensor],
                 steps: int | None = None) -> torch.Tensor:
        """[B, steps, sum of D_m] the tag head reads with `tag_input` features: each modality standardised,
        then L2-normalised to norm sqrt(D_m) at every step (a video's overall feature scale says
        little about its tags; rgb and audio keep their share), concatenated; no learned projection."""
        parts = []
        for i, m in enumerate(self.names):
            x = resample(self.standardised(feats[m], i), lengths[m], steps or self.cfg.enc_len)
            parts.append(F.normalize(x, dim=-1) * x.shape[-1] ** 0.5)  # (a missing modality stays zeros)
        return torch.cat(parts, -1)

    def forward(self, feats: dict[str, torch.Tensor], lengths: dict[str, torch.Tensor],
                steps: int | None = None, blank: bool | torch.Tensor | None = False) -> torch.Tensor:
        """[B, steps, H] fused features (steps: enc_len unless given; `blank`: every frame the mean
        training frame, i.e. zeros after normalisation, a video that shows nothing in particular; a
        bool tensor [B]: those videos' frames, the videos of captions alone a training batch holds)."""
        if not self.projects:  # (S2VT calls `features` for such a model: reaching here is a bug)
            raise RuntimeError("this model's tag head reads the features: it has no fused projections")
        parts = []
        for i, m in enumerate(self.names):
            x = self.standardised(feats[m], i)
            if isinstance(blank, torch.Tensor):
                x = x.masked_fill(blank[:, None, None], 0.0)
            elif blank:
                x = torch.zeros_like(x)
            p = self.proj[m](resample(x, lengths[m], steps or self.cfg.enc_len))
            absent = (lengths[m] == 0)[:, None, None]
            parts.append(torch.where(absent, self.missing[m].expand_as(p), p))
        if self.cfg.fusion == "concat":
            return torch.relu(self.fuse(torch.cat(parts, -1)))
        if self.cfg.fusion == "sum":
            return torch.stack(parts).sum(0)
        g = torch.softmax(self.gate(torch.cat(parts, -1)), -1)              # [B, L, M]
        return (torch.stack(parts, -1) * g.unsqueeze(-2)).sum(-1)


class S2VT(nn.Module):
    """Sequence to sequence, video to text (Venugopalan et al. 2015) with fusion and a tag head."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        if cfg.hidden is None or cfg.dropout is None or (cfg.num_tags and cfg.tag_head is None):
            raise ValueError("hidden, dropout and tag_head must be set (engine.build takes them from the recipe)")
        self.cfg = cfg
        h, e = cfg.hidden, cfg.embed
        self.fusion = Fusion(cfg) if cfg.modalities else None  # None: text only
        if not cfg.lstm and cfg.vocab_size > len(SPECIALS):
            raise ValueError(f"a model with a caption vocabulary ({cfg.vocab_size} words) needs its LSTMs (lstm=True)")
        if not cfg.lstm and cfg.tag_input == "encoder" and cfg.num_tags and self.fusion is not None:
            raise ValueError("tag_input encoder reads the S2VT encoder's outputs: it needs the LSTMs (lstm=True)")
        self.drop = nn.Dropout(cfg.dropout)
        self.feature_drop = nn.Dropout(cfg.feature_dropout or 0.0)  # (no weights: old checkpoints load as they are)
        if cfg.lstm:
            self.embed = nn.Embedding(cfg.vocab_size, e, padding_idx=cfg.pad_id)
            self.lstm1 = nn.LSTM(h, h, batch_first=True)
            self.lstm2 = nn.LSTM(h + e, h, batch_first=True)
            if cfg.attention:  # soft temporal attention (Yao et al. 2015), Luong's "general" score
                self.att_query = nn.Linear(h, h, bias=False)
                self.att_mix = nn.Linear(2 * h, h)
            self.out = nn.Linear(h, cfg.vocab_size)
        self.text = TextEncoder(cfg.text_vocab, cfg.text_embed, h, cfg.dropout) if cfg.text_vocab else None
        if cfg.text_fusion not in ("late", "guided"):
            raise ValueError(f"text fusion must be late or guided, not {cfg.text_fusion!r}")
        if cfg.tag_input not in TAG_INPUTS:
            raise ValueError(f"tag_input must be {', '.join(TAG_INPUTS)}, not {cfg.tag_input!r}")
        features = cfg.tag_input == "features" and self.fusion is not None
        guided = self.text is not None and cfg.text_fusion == "guided"
        # (nextvlad, attention and guided text fusion read steps of the hidden size; features are not)
        if features and cfg.num_tags and cfg.tag_head not in MEAN_POOLING:
            raise SettingError(f"--tag-head {cfg.tag_head} pools steps of the hidden size, which --tag-input features "
                               f"are not: --tag-input features works with --tag-head {' or '.join(MEAN_POOLING)} "
                               "only (or pass --tag-input fused)")
        if features and cfg.num_tags and guided:
            raise SettingError("--text-fusion guided attends over steps of the hidden size, which --tag-input "
                               "features are not: --tag-input features needs --text-fusion late (or pass "
                               "--tag-input fused)")
        self.query = nn.Linear(h, h) if self.text is not None and cfg.text_fusion == "guided" else None
        video = sum(cfg.modalities.values()) if features else h * (self.fusion is not None)
        width = video + h * (self.text is not None)  # what the head classifies
        self.tag_head = (build_tag_head(cfg.tag_head, h, cfg.num_tags, cfg.dropout, cfg.multilabel, width,
                                        cfg.tag_ensemble or 1) if cfg.num_tags else None)
        self.wide = (TextLinear(cfg.text_vocab, cfg.num_tags)
                     if cfg.text_wide and self.text is not None and self.tag_head is not None else None)
        self.linear = (TextFitted(cfg.text_vocab, cfg.num_tags)
                       if cfg.text_linear and self.text is not None and self.tag_head is not None else None)
        # the training videos' summaries and captions for consensus reranking (s2vt/consensus.py): not a
        # weight, set from best.pt's "memory" when there is one
        self.memory = None
        # a multi-label model's tag neighbours (s2vt/neighbours.py): likewise, from best.pt's "neighbours"
        self.neighbours = None

    def encode(self, feats, lengths, blank: bool | torch.Tensor | None = False):
        """Encoding steps: LSTM1 reads fused features, LSTM2 reads [h1; <pad> embedding]
        (`blank`: of the mean video instead, for the anti-LM of `decode.beam_search`; [B]: of those videos).

        Returns (encoder outputs of LSTM2 [B, L, H], (state1, state2, context [1, B, H][, steps [L, B, H]])):
        with `attention` the fused steps ride along in the states, batch in dim 1 as the decoders expect;
        (None, None) for a text-only model.
        """
        if self.fusion is None:
            return None, None
        if not self.cfg.lstm:  # (callers check has_captions / tag_input first: reaching here is a bug)
            raise RuntimeError("this tag-only model has no S2VT encoder (lstm=False): nothing to encode")
        x = self.fusion(feats, lengths, blank=blank)
        h1, s1 = self.lstm1(x)
        pad = self.embed.weight[self.cfg.pad_id].expand(x.shape[0], x.shape[1], -1)
        h2, s2 = self.lstm2(torch.cat([self.drop(h1), pad], -1))
        context = x.mean(1)[None] if self.cfg.context else x.new_zeros(1, x.shape[0], x.shape[2])
        return h2, (s1, s2, context, x.transpose(0, 1)) if self.cfg.attention else (s1, s2, context)

    def summary(self, feats, lengths) -> torch.Tensor:
        """[B, H] one vector per video, its mean fused feature: how consensus reranking finds the
        training videos nearest to a video."""
        return self.fusion(feats, lengths).mean(1)

    def step(self, words: torch.Tensor, states):
        """Decoding steps for `words` [B, T] (the previous words) -> logits [B, T, V]. LSTM1 reads the
        video's mean fused feature at every step (zeros in the original S2VT, `context` off): the
        decoder keeps seeing the video instead of drifting to the likeliest caption of the dataset."""
        s1, s2, context, *steps = states
        b, t = words.shape
        h1, s1 = self.lstm1(context.transpose(0, 1).expand(b, t, -1), s1)
        h2, s2 = self.lstm2(torch.cat([self.drop(h1), self.embed(words)], -1), s2)
        if steps:  # each word's state picks the frames it needs: what the mean feature blurs together
            frames = steps[0].transpose(0, 1)                                    # [B, L, H]
            weights = torch.softmax(self.att_query(h2) @ frames.transpose(1, 2), -1)  # [B, T, L]
            h2 = torch.tanh(self.att_mix(torch.cat([h2, weights @ frames], -1)))
        return self.out(self.drop(h2)), (s1, s2, context, *steps)

    def tag_logits(self, feats, lengths, enc_out: torch.Tensor | None = None,
                   text: dict | None = None) -> torch.Tensor | None:
        """Tag logits [B, C]: the head reads the fused features (`tag_input` fused: the LSTMs do not
        run) or the encoder outputs (`enc_out` where already computed), and the text; plus the
        wide path's (a linear map of the text's TF-IDF tokens) where there is one, mixed with the
        fitted linear classifier's scores where it has been fitted (TextFitted)."""
        if self.tag_head is None:
            return None
        if self.fusion is None:  # text only
            steps = None
        elif self.cfg.tag_input in ("fused", "features"):
            steps = (self.fusion if self.cfg.tag_input == "fused" else self.fusion.features)(
                feats, lengths, one_step(lengths))
            if self.cfg.tag_input == "features":
                steps = self.feature_drop(steps)
        else:
            steps = enc_out if enc_out is not None else self.encode(feats, lengths)[0]
        logits = self.tag_head.classify(self.pooled(steps, text))
        logits = logits + self.wide(text, logits.shape[0]) if self.wide is not None else logits
        logits = self.linear.blend(logits, text) if self.linear is not None else logits
        if self.neighbours is not None and not self.training:  # (set on a trained model only: `finish`, best.pt)
            keys = self.neighbours.query(self.neighbour_features(feats, lengths), self.neighbour_layer())
            logits = self.neighbours.blend(logits, keys)
        return logits

    def neighbour_features(self, feats, lengths) -> torch.Tensor:
        """[B, D] what tag neighbours measure similarity on (s2vt/neighbours.py): the videos' standardised,
        L2-normalised features (`Fusion.features`, what --tag-input features reads), averaged over the steps."""
        return self.fusion.features(feats, lengths, one_step(lengths)).float().mean(1)

    def neighbour_layer(self) -> nn.Linear | None:
        """The hidden layer of the neighbours' "hidden" space: the first layer of the (first) MLP head reading
        the video features alone (--tag-input features, no text beside them); None where there is none."""
        head = self.tag_head
        first = head.members[0] if isinstance(head, EnsembleHead) else head
        width = sum(self.cfg.modalities.values())
        if (isinstance(first, MLPHead) and self.cfg.tag_input == "features" and self.fusion is not None
                and first[0].in_features == width):
            return first[0]
        return None

    def idle_without_captions(self) -> bool:
        """Whether a step without captions (tag-only training) leaves parameters without gradients, which
        DistributedDataParallel must be told: the LSTMs' decoder parts (built for captions, or for
        --tag-input encoder), and in a text-only model (no video steps) the guided query and a pooling
        head's pooling, which `pooled` passes by."""
        return self.cfg.lstm or (self.fusion is None and self.text is not None
                                 and (self.query is not None or self.cfg.tag_head not in MEAN_POOLING))

    def pooled(self, steps: torch.Tensor | None, text: dict | None) -> torch.Tensor:
        """What the head classifies: its pooling of the video steps, the text vector, or both side
        by side. Guided fusion (MultimodalVideoTag): the text vector is the query of an attention
        over the steps, so what the title says picks the moments of the video that count."""
        if self.text is None:
            return self.tag_head.pool(steps)
        t = self.text(text, steps.shape[0] if steps is not None else 0)
        if steps is None:
            return t
        if self.query is None:
            return torch.cat([self.tag_head.pool(steps), t], -1)
        w = torch.softmax((steps @ self.query(t).unsqueeze(-1)).squeeze(-1) / steps.shape[-1] ** 0.5, -1)
        return torch.cat([(w.unsqueeze(-1) * steps).sum(1), t], -1)

    def forward(self, feats, lengths, words: torch.Tensor | None = None, sample_prob: float = 0.0,
                video_index: torch.Tensor | None = None, text: dict | None = None, blank: torch.Tensor | None = None):
        """Teacher-forced logits for `words` [B, T] (<bos> ... ) and tag logits.

        `video_index` [B] names each caption's row of `feats` (several captions of one video share
        its encoding: the encoder, the costlier half, runs once per video); `blank` [V]: the rows that
        are videos of captions alone, read as the mean video (`Fusion.forward`).
        With sample_prob > 0 (scheduled sampling) each step's input is, with that
        probability, the model's own previous prediction instead of the reference word.
        """
        enc_out, states = (self.encode(feats, lengths, blank) if words is not None or self.cfg.tag_input == "encoder"
                           else (None, None))  # tag-only with fused or features input: no LSTM runs
        tag_logits = self.tag_logits(feats, lengths, enc_out, text)
        if video_index is not None:
            states = map_states(states, lambda s: s.index_select(1, video_index)) if states is not None else None
            tag_logits = tag_logits.index_select(0, video_index) if tag_logits is not None else None
        if words is None:
            return None, tag_logits
        if sample_prob <= 0:
            logits, _ = self.step(words, states)
            return logits, tag_logits
        outs, prev = [], words[:, :1]
        for t in range(words.shape[1]):
            logit, states = self.step(prev, states)
            outs.append(logit)
            if t + 1 < words.shape[1]:
                use_own = torch.rand(words.shape[0], 1, device=words.device) < sample_prob
                prev = torch.where(use_own, logit.argmax(-1), words[:, t + 1:t + 2])
        return torch.cat(outs, 1), tag_logits


def caption_loss(logits: torch.Tensor, targets: torch.Tensor, pad_id: int, smoothing: float = 0.0,
                 weight: torch.Tensor | None = None) -> torch.Tensor:
    """Masked cross-entropy over words (pad positions ignored), optional label smoothing; `weight` [B]
    weighs each caption's words (the mean over the batch's words stays the scale)."""
    flat = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=pad_id,
                           label_smoothing=smoothing, reduction="none" if weight is not None else "mean")
    if weight is None:
        return flat
    words = (targets != pad_id).sum().clamp(min=1)
    return (flat.view(targets.shape) * weight[:, None]).sum() / words


def tag_loss(logits: torch.Tensor, targets: torch.Tensor, multilabel: bool, focal: float = 0.0) -> torch.Tensor:
    """Softmax cross-entropy (single-label, targets = class ids) or BCE (multi-label, 0/1 matrix)."""
    if multilabel:
        return multilabel_loss(logits, targets, focal)
    return F.cross_entropy(logits, targets)


def multilabel_loss(logits: torch.Tensor, targets: torch.Tensor, focal: float = 0.0) -> torch.Tensor:
    """BCE averaged over every (video, tag); `focal` > 0 weighs each negative's term by p ** focal, p its
    predicted probability (the asymmetric loss of Ridnik et al. 2021, no shift, positives as BCE): with
    thousands of tags a video has a few of, the easy negatives' sum otherwise outweighs its positives."""
    y = targets.float()
    if not focal:
        return F.binary_cross_entropy_with_logits(logits, y)
    # p ** focal as exp(focal x log p) (not detached: the loss's own gradient, as the paper's): pow's gradient at
    # a p that rounds to 0 (a logit below about -88 in float32) is 0 x inf = NaN for a focal below 1
    log_p = F.logsigmoid(logits)
    return -(y * log_p + (1 - y) * torch.exp(focal * log_p) * F.logsigmoid(-logits)).mean()
