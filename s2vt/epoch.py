"""One epoch of training (Adam, clipping, divergence checks) and of validation; the lr schedule, early stopping."""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from .errors import UserError
from .config import TrainConfig
from .data import Labels, to_device
from .decode import greedy
from .metrics import cider, gap, micro_f1, tag_accuracy
from .levels import best_threshold, kinds, level_loss, probabilities
from .model import S2VT, caption_loss, tag_loss
from .vocab import Vocab

if TYPE_CHECKING:  # (engine imports this module: its Dist is named here for the annotation only)
    from .engine import Dist


class DivergedError(UserError):
    """The loss or the weights became NaN or infinite (a learning rate far too high): training stops
    before a checkpoint, a validation or a caption memory is made of them."""


def validate(model: S2VT, loader, vocab: Vocab, labels: Labels, device) -> dict:
    """Greedy captions (up to the model's max_len words, as evaluate decodes them), CIDEr-D over all references,
    tag Hit@1 and (multi-label) micro-F1; for multi-label and LIC2022 tags also the best `tag_threshold`, returned,
    not set on the model."""
    model.eval()
    preds, refs, scores, gold, vids = {}, {}, [], [], []
    groups = kinds(labels.names)
    with torch.no_grad():
        for batch in loader:
            batch = to_device(batch, device)
            enc_out = None
            if any(batch["refs"]) and model.cfg.lstm:  # (refs only in val: a tag-only model has no decoder)
                enc_out, states = model.encode(batch["feats"], batch["lengths"])
                ids = greedy(model, states, vocab.bos, vocab.eos, model.cfg.max_len)
                for vid, row, r in zip(batch["video_id"], ids.tolist(), batch["refs"]):
                    if r:
                        preds[vid], refs[vid] = vocab.decode(row), r
            if model.tag_head is not None and batch["tag"] is not None:
                logits = model.tag_logits(batch["feats"], batch["lengths"], enc_out, batch.get("text"))
                scores.append(probabilities(logits, model.cfg.multilabel, groups).cpu().numpy())
                vids += batch["video_id"]
                t = batch["tag"].cpu()
                gold += ([torch.nonzero(r).flatten().tolist() for r in t] if model.cfg.multilabel
                         else [[int(x)] if x >= 0 else [] for x in t])
    out: dict = {}
    if preds:
        out["CIDEr"] = cider(refs, preds)
        out["examples"] = dict(list(preds.items())[:3])
    if scores and any(gold):  # (val videos without tags: nothing to score, not a score of 0)
        s = np.concatenate(scores)
        out["tag_acc"] = tag_accuracy(s, gold)
        if groups:  # scored against every gold tag, those the label set left out too
            tags = {e["video_id"]: e.get("tags", []) for e in loader.dataset.entries}
            level, out["tag_threshold"] = best_threshold(s, labels.names, groups, [tags[v] for v in vids])
            out.update(level)
        elif model.cfg.multilabel:
            out["gap"] = gap(s, gold)
            best = max(((micro_f1([set(np.flatnonzero(r >= th)) for r in s], [set(g) for g in gold])[2], th)
                        for th in np.arange(0.05, 0.96, 0.05)), key=lambda x: x[0])
            out["tag_f1"], out["tag_threshold"] = float(best[0]), float(best[1])
    return out


def lr_factor(cfg: TrainConfig, steps_per_epoch: int, epochs: int | None = None):
    """The learning-rate multiplier after `step` optimiser steps: linear warmup over `warmup` steps,
    then cosine decay to 5% at the last step of `epochs` (default cfg.epochs; or `step`: halve every
    10 epochs, without a warmup). The warmup lasts at most the first epoch: a small dataset is not left training at
    a fraction of lr."""
    total, warmup = max(1, (epochs or cfg.epochs) * steps_per_epoch), min(cfg.warmup, steps_per_epoch)

    def factor(step: int) -> float:
        # (no warmup under step: its runs, and their refits, which replay the schedule, never had one; a --warmup
        # given with it is said to do nothing, engine.build)
        if cfg.schedule == "step":
            return 0.5 ** (step // (10 * steps_per_epoch))
        if step < warmup:
            return (step + 1) / warmup
        done = min(1.0, (step - warmup) / max(1, total - warmup))
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * done))
    return factor


def refit_lr_factor(cfg: TrainConfig, steps_per_epoch: int, history: list[dict]):
    """The refit's learning-rate multiplier: each epoch e at the factor of the schedule epoch e was
    trained under (`lr_factor` over the --epochs in force then, its history row's `schedule_epochs`).
    The rule: the refit replays the schedule the selected epoch saw. A run resumed with a larger
    --epochs trained its first epochs on the shorter schedule and the later ones on the longer one
    (the scheduler's step count is kept, its length is this command's), so neither --epochs alone
    is it. (A row from before `schedule_epochs` was recorded: cfg.epochs, as the refit used then.)"""
    schedules = {h["epoch"]: h.get("schedule_epochs", cfg.epochs) for h in history}
    factors: dict[int, Callable[[int], float]] = {}

    def factor(step: int) -> float:
        # (step s runs at the factor set after step s - 1: the first step after a --resume ran at the
        # old schedule's last factor, which last.pt's optimiser state kept)
        epochs = schedules.get(max(step - 1, 0) // steps_per_epoch + 1, cfg.epochs)
        if epochs not in factors:
            factors[epochs] = lr_factor(cfg, steps_per_epoch, epochs)
        return factors[epochs](step)
    return factor


def param_groups(model: S2VT, cfg: TrainConfig) -> list[dict]:
    """Adam's parameter groups: the token embeddings at --text-lr (each token is seen in few
    batches, so at --lr they barely move in a few epochs), the wide path at --wide-lr,
    everything else at --lr."""
    text = list(model.text.bag.parameters()) if model.text is not None else []
    wide = list(model.wide.parameters()) if model.wide is not None else []
    rest = [p for p in model.parameters() if all(p is not t for t in text + wide)]
    return ([{"params": rest}] + ([{"params": text, "lr": cfg.text_lr}] if text else [])
            + ([{"params": wide, "lr": cfg.wide_lr}] if wide else []))


def optimiser(model: S2VT, cfg: TrainConfig) -> torch.optim.Optimizer:
    """The training (and refit) optimiser: Adam over `param_groups`, lazy where a gradient is sparse."""
    return LazyAdam(param_groups(model, cfg), lr=cfg.lr)


class LazyAdam(torch.optim.Adam):
    """Adam, except that a parameter whose gradient is sparse (the text branch's token tables, `text.sparse_bag`)
    moves only the rows its step's batch touched, and only their moments decay (TensorFlow's LazyAdam). A dense
    step reads and writes every row: at 100k LIC2022 videos the wide path is [53,718 tokens, 3,573 labels], most
    of it tokens the batch lacks (docs/benchmarks.md). Its state is Adam's (step, exp_avg, exp_avg_sq per
    parameter), so either resumes the other's last.pt. Without weight decay or amsgrad, as training builds it."""

    def __init__(self, params, lr: float = 1e-3, **kwargs) -> None:
        if kwargs.get("weight_decay") or kwargs.get("amsgrad"):
            raise ValueError("LazyAdam takes no weight_decay or amsgrad (its sparse rows would go without them)")
        super().__init__(params, lr=lr, **kwargs)

    @torch.no_grad()
    def step(self, closure=None):
        sparse = {p: p.grad for group in self.param_groups for p in group["params"]
                  if p.grad is not None and p.grad.is_sparse}
        for group in self.param_groups:
            for p in group["params"]:
                if p in sparse:
                    self._lazy_step(p, group)
        for p in sparse:  # (hidden from Adam's own step, which refuses sparse gradients)
            p.grad = None
        try:
            return super().step(closure)
        finally:
            for p, grad in sparse.items():
                p.grad = grad

    def _lazy_step(self, p: torch.Tensor, group: dict) -> None:
        beta1, beta2 = group["betas"]
        grad = p.grad.coalesce()
        rows, g = grad.indices()[0], grad.values()
        state = self.state[p]
        if not state:
            state.update(step=torch.tensor(0.0), exp_avg=torch.zeros_like(p), exp_avg_sq=torch.zeros_like(p))
        state["step"] += 1
        t = float(state["step"])
        # (index_select / index_copy_ and in-place arithmetic: the step is memory-bound, [rows, dim] values)
        m = state["exp_avg"].index_select(0, rows).lerp_(g, 1 - beta1)
        v = state["exp_avg_sq"].index_select(0, rows).mul_(beta2).addcmul_(g, g, value=1 - beta2)
        state["exp_avg"].index_copy_(0, rows, m)
        state["exp_avg_sq"].index_copy_(0, rows, v)
        m.div_(v.div_(1 - beta2 ** t).sqrt_().add_(group["eps"]))
        p.index_add_(0, rows, m, alpha=-group["lr"] / (1 - beta1 ** t))


class EarlyStopping:
    """Stop after `patience` validation checks in a row without a score better than the best so far
    (mode "max": higher is better, "min": lower); `best` and `bad` restore a resumed run's state."""

    def __init__(self, patience: int, mode: str = "max", best: float | None = None, bad: int = 0) -> None:
        if mode not in ("max", "min"):
            raise ValueError(f"EarlyStopping mode must be max or min, not {mode!r}")
        self.patience, self.mode, self.bad = patience, mode, bad
        self.best = best if best is not None else -math.inf if mode == "max" else math.inf

    def step(self, score: float) -> bool:
        """Record one validation score; True when it is the best so far (a NaN never is)."""
        improved = score > self.best if self.mode == "max" else score < self.best
        if improved:
            self.best, self.bad = score, 0
        else:
            self.bad += 1
        return improved

    @property
    def stop(self) -> bool:
        return self.bad >= self.patience


def train_one_epoch(net: torch.nn.Module, loader, optim: torch.optim.Optimizer, sched, cfg: TrainConfig, pad: int,
                    multilabel: bool, groups: dict, device, desc: str = "", bar: bool = False,
                    first: list | None = None, ends_at: int | None = None) -> tuple[float, int, int]:
    """One pass over `loader`'s batches, a step of `optim` and `sched` each: (sum of the steps' losses,
    steps, items seen); `bar`: a progress bar on stderr; `first`: an empty list gets the first
    step's loss (the run's scale, which `check_epoch_loss` measures a blown-up loss by). A batch's
    `loss_scale` (a shard stream's under torchrun, `ShardStream.checked`) weighs its loss; at 0 the step
    trains nothing of this rank's. `ends_at`: the schedule's step count at the epoch's end, which a
    stream's epoch, its steps counted before it is read, is set to (`anchor_schedule`)."""
    net.train()
    losses, seen = [], 0
    steps = tqdm(loader, desc=desc, leave=False, unit="step", disable=not bar)
    for batch in steps:
        batch = to_device(batch, device)
        # (0: this rank's records are trained, another's not; the step is the gradient sync's. In eval mode,
        # so that the batch it steps on again and again moves no BatchNorm statistics: NeXtVLAD's)
        scale = batch.get("loss_scale")
        net.train(scale != 0)
        words = batch["words"]
        logits, tag_logits = net(batch["feats"], batch["lengths"], words[:, :-1] if words is not None else None,
                                 cfg.sample_prob, batch["video_index"], batch["text"], batch.get("blank"))
        loss = torch.zeros((), device=device)
        if logits is not None:
            loss = loss + caption_loss(logits, words[:, 1:], pad, cfg.label_smoothing, batch.get("weight"))
        tags = batch["tag"]
        if tag_logits is not None and tags is not None and batch.get("blank") is not None:
            # (a video of captions alone has no tags to learn: its empty tag row is no label of its)
            keep = ~batch["blank"][batch["video_index"]]
            tag_logits, tags = (tag_logits[keep], tags[keep]) if keep.any() else (None, None)
        if tag_logits is not None and tags is not None:
            loss = loss + cfg.tag_weight * (level_loss(tag_logits, tags, groups, cfg.label_smoothing, cfg.tag_focal)
                                            if groups else tag_loss(tag_logits, tags, multilabel, cfg.tag_focal))
        optim.zero_grad(set_to_none=True)
        # (world / ranks training for a rank still training: a step's gradient is the mean of the batches in it)
        (loss if scale is None else loss * scale).backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.clip_norm)
        try:
            optim.step()
        except RuntimeError as e:  # a learning rate beyond float32 (--lr 1e39): the step cannot be taken
            if "overflow" not in str(e):
                raise
            raise DivergedError(f"training cannot take a step in {desc or 'an epoch'}: {e}: lower --lr "
                                f"(now {cfg.lr:g}), --text-lr or --wide-lr") from None
        sched.step()
        value = loss.item()
        if not math.isfinite(value):  # (a step at weight 0 too: its NaN reached every rank's gradient)
            raise DivergedError(f"training diverged in {desc or 'an epoch'}, step {len(losses) + 1}: the loss is "
                                f"{value}: lower --lr (now {cfg.lr:g})")
        if scale == 0:  # (no loss or items of this rank's)
            continue
        losses.append(value)
        if first is not None and not first:
            first.append(losses[-1])
        seen += len(batch["video_id"])
        if len(losses) % 10 == 0:
            steps.set_postfix(loss=f"{np.mean(losses[-50:]):.3f}")
    net.train()
    if ends_at is not None:
        anchor_schedule(sched, ends_at)
    if isinstance(net, DistributedDataParallel):
        average_batch_norm(net.module, len(losses), device)
    # (a last step can overflow the weights with a finite loss: caught before they are validated or saved;
    # the buffers too, as every tensor of the state dict goes into best.pt)
    if not all(bool(torch.isfinite(t).all()) for t in net.state_dict().values() if t.is_floating_point()):
        raise DivergedError(f"training diverged in {desc or 'an epoch'}: its last steps left NaN or infinite "
                            f"weights: lower --lr (now {cfg.lr:g})")
    return float(np.sum(losses)), len(losses), seen


def distributed(model: torch.nn.Module, find_unused: bool) -> DistributedDataParallel:
    """`model` for torchrun's ranks: DDP, told whether a step can leave parameters unused
    (`data.may_leave_parts_unused`). Buffers are not sent from rank 0 before each step: each rank's BatchNorm
    statistics follow its own batches and are averaged at the epoch's end (`average_batch_norm`); sent, a
    rank 0 out of a shard stream's records (stepping in eval mode) kept its statistics of the epoch before
    for every rank, beside the weights trained on (new-user trial)."""
    import inspect
    # (torch 2.14 names it forward_sync_buffers and warns, once a call, for broadcast_buffers; torch >= 2.4 before it
    # knows broadcast_buffers alone)
    for bag in model.modules():  # (a sparse gradient is not all-reduced by NCCL: the text tables' dense here)
        if isinstance(bag, torch.nn.EmbeddingBag):
            bag.sparse = False
    sync = ("forward_sync_buffers" if "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters
            else "broadcast_buffers")
    return DistributedDataParallel(model, find_unused_parameters=find_unused, **{sync: False})


def average_batch_norm(model: torch.nn.Module, steps: int, device) -> None:
    """Every rank's BatchNorm running statistics set to their mean over the ranks, each weighted by the
    `steps` it trained this epoch (a rank out of records, which stepped in eval mode, by 0); the count of
    batches tracked, the most a rank tracked. Called by every rank at an epoch's end, before validation and
    checkpoints."""
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
             and m.track_running_stats and m.running_mean is not None]
    if not norms:
        return
    stats = torch.cat([torch.cat([m.running_mean, m.running_var]) for m in norms]).double() * steps
    flat = torch.cat([stats.to(device), torch.tensor([float(steps)], dtype=torch.float64, device=device)])
    tracked = torch.stack([m.num_batches_tracked for m in norms]).to(device)
    dist.all_reduce(flat)
    dist.all_reduce(tracked, op=dist.ReduceOp.MAX)
    total = flat[-1].item()
    if total == 0:  # (no rank trained a step: each kept what it had, the same everywhere)
        return
    at = 0
    for m in norms:
        n = m.running_mean.numel()
        m.running_mean.copy_((flat[at:at + n] / total).to(m.running_mean))
        m.running_var.copy_((flat[at + n:at + 2 * n] / total).to(m.running_var))
        at += 2 * n
    for m, count in zip(norms, tracked):
        m.num_batches_tracked.copy_(count)


def anchor_schedule(sched: torch.optim.lr_scheduler.LambdaLR, step: int) -> None:
    """Set `sched` (and its optimiser's learning rates) to its state after `step` steps. A stream's epoch
    (TFRecord shards) has its steps counted before its records are read; the records a rank is dealt, a
    manifest's videos among the shards and skipped records move the count taken, and the schedule, which
    runs by steps, drifted from the epochs: a cosine at its floor epochs early (new-user trial). Set at each
    epoch's end, it is off by a part of an epoch at most, and back on time at the next."""
    if sched.last_epoch == step:
        return
    sched.last_epoch = step
    for group, base, factor in zip(sched.optimizer.param_groups, sched.base_lrs, sched.lr_lambdas):
        group["lr"] = base * factor(step)
    sched._last_lr = [group["lr"] for group in sched.optimizer.param_groups]


# an epoch whose mean loss is this many times the run's first step's has diverged, finite as it is:
# `--lr 1e9` trained on at losses of 1e10 to 1e17 (never NaN), refitted, and only the caption
# memory's float16 summaries overflowed, after best.pt was written. An untrained model's loss is
# about the largest a sound run sees (its curve falls from there), and a spike of a few steps moves
# an epoch's mean far less than this: no sound run comes near it
LOSS_BLOWUP = 1e3


def check_epoch_loss(loss: float, first: float | None, desc: str, cfg: TrainConfig) -> None:
    """DivergedError when an epoch's mean `loss` is not finite or above LOSS_BLOWUP times `first`, the
    run's first step's loss (None, or not a positive number: the ratio is not checked)."""
    if not math.isfinite(loss):
        raise DivergedError(f"training diverged in {desc}: its mean loss is {loss}: lower --lr (now {cfg.lr:g})")
    if first is not None and math.isfinite(first) and first > 0 and loss > LOSS_BLOWUP * first:
        raise DivergedError(f"training diverged in {desc}: its mean loss {loss:.3g} is over {LOSS_BLOWUP:g} times "
                            f"the first step's ({first:.3g}): lower --lr (now {cfg.lr:g})")


def check_summaries(model: S2VT, loader, device, desc: str, cfg: TrainConfig) -> None:
    """DivergedError when a video summary (`S2VT.summary`) of `loader`'s videos is NaN or beyond
    float16's range, as finite weights blown up by a learning rate far too high leave them (`--lr 10`:
    losses of a few hundred, then a caption memory whose float16 keys were inf). The memory is built
    from best.pt at the run's end: checked on val at each epoch's end, this keeps such weights out of
    best.pt (and the refit's out of it), not only out of its memory."""
    model.eval()
    with torch.no_grad():
        for batch in loader:
            batch = to_device(batch, device)
            if not torch.isfinite(model.summary(batch["feats"], batch["lengths"]).half()).all():
                raise DivergedError(f"training diverged in {desc}: its weights give video summaries that are NaN "
                                    f"or beyond float16's range: lower --lr (now {cfg.lr:g})")


def first_step_loss(ddp: Dist, first: list) -> float | None:
    """The first step's loss as `train_one_epoch` recorded it in `first`, averaged over the ranks
    (every rank calls this after its first epoch: the same reference everywhere); None without a step."""
    mean = ddp.mean(sum(first), len(first))
    return mean if math.isfinite(mean) else None
