"""A run's last steps, each recorded in best.pt: the linear path's fit, the tag neighbours, the refit on train + val,
the caption memory."""
from __future__ import annotations

import dataclasses
import itertools
import os
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import torch
import torch.distributed as dist

from .checkpoint import (LAST_STEPS, load_weights, model_from_checkpoint, read_checkpoint, save_checkpoint, steps_left,
                         write_checkpoint)
from .consensus import CaptionMemory, NonFiniteKeys
from .config import TrainConfig
from .data import CaptionGroups, Labels, VideoDataset, batches, collate, may_leave_parts_unused, to_device
from .epoch import (DivergedError, check_epoch_loss, check_summaries, distributed, first_step_loss, optimiser,
                    refit_lr_factor, train_one_epoch, validate)
from .model import S2VT
# (MIXES: the shares tried on val, 0, 0.1, ..., 1: the tag neighbours' and, per label kind, the fitted linear path's)
from .neighbours import KS, MIXES, NEIGHBOURS_MAX, POWERS, SPACES, TagNeighbours, choose
from . import shards
from .text import CNB_WEIGHT, complement_nb, fit_linear, tfidf_matrix
from .vocab import Vocab

if TYPE_CHECKING:  # (engine imports this module: its Run is named here for the annotations only)
    from .engine import Run

# best.pt lists the videos of its refit (and a tag-only model its training videos) up to this many
REFIT_IDS_MAX = 100_000


def best_done(run: Run) -> dict | None:
    """The run's best.pt as it is (what its last steps have done), None without one."""
    out = Path(run.cfg.out) / "best.pt"
    return read_checkpoint(out) if out.exists() else None


def steps_due(run: Run, done: dict, resumed: bool = False) -> tuple[bool, bool, bool, bool]:
    """(fit, neighbours, refit, memory): which of the run's last steps `finish` does, those a best.pt holding `done`
    (`best_done`; {}: one an epoch has just written) lacks."""
    # (a best.pt from before "linear_fitted" was recorded: fitted if its linear weights are, zeros until then)
    fitted = done.get("linear_fitted") or bool(done.get("model", {}).get("linear.bag.weight", torch.zeros(1)).any())
    fit = run.ddp.main and run.model.linear is not None and bool(run.groups) and len(run.val_ds) > 0 and not fitted
    # (chosen on val with the train-only network: not once a refit has made val training data)
    neighbours = (run.ddp.main and bool(run.cfg.neighbours) and takes_neighbours(run.model, run.groups)
                  and len(run.val_ds) > 0 and "neighbours" not in done and "refit" not in done)
    # (resumed: only a run begun with --refit, last.pt's setting, that was killed before its refit was done)
    refit = (bool(run.cfg.refit) and len(run.val_ds) > 0 and "refit" not in done
             and (run.refit_due or not resumed))
    # (a refit replaces the weights the memory's summaries came from: built again after it)
    memory = run.ddp.main and run.has_captions and ("memory" not in done or refit)
    return fit, neighbours, refit, memory


def unfinished(run: Run) -> dict:
    """best.pt's record of the last steps still to do, for an epoch's best.pt: {"unfinished": [LAST_STEPS keys]},
    {} when the run has none."""
    left = [step for step, due in zip(LAST_STEPS, steps_due(run, {})) if due]
    return {"unfinished": left} if left else {}


def record_due(run: Run, ckpt: dict, due: tuple[bool, bool, bool, bool]) -> None:
    """best.pt's "unfinished" made the steps `finish` is about to do (rank 0, before them), where it lists others:
    the epoch that wrote it listed those due under its settings, and a --resume that changed them (--no-refit, a
    --refit added) left a step listed for good that no run would do, or one unlisted that a Ctrl-C left undone
    (review). `ckpt`: best.pt as read (`best_done`)."""
    left = [step for step, on in zip(LAST_STEPS, due) if on]
    if steps_left(ckpt) != left:
        ckpt["unfinished"] = left
        write_checkpoint(Path(run.cfg.out) / "best.pt", ckpt)


def steps_named(fit: bool, neighbours: bool, refit: bool, memory: bool) -> str:
    """The steps `steps_due` gives, in words: 'the refit on train + val, the caption memory'."""
    return ", ".join(name for name, due in zip(LAST_STEPS.values(), (fit, neighbours, refit, memory)) if due)


def takes_neighbours(model: S2VT, groups: dict) -> bool:
    """Whether tag neighbours (s2vt/neighbours.py) apply to a model: multi-label tags (not LIC2022's
    levels) over video features, whose standardised values are what similarity is measured on."""
    return model.fusion is not None and model.tag_head is not None and model.cfg.multilabel and not groups


def finish(run: Run, resumed: bool = False) -> dict | None:
    """The steps that end a run after its last epoch, each recorded in best.pt: the linear path's fit
    (fit_text_linear, "linear_fitted"), the tag neighbours (choose_neighbours, "neighbours"), the refit on
    train + val (refit_network, "refit"), then the caption memory ("memory", by the final weights). A
    --resume of a finished run does what its best.pt lacks (a Ctrl-C during a step leaves best.pt as it
    was: atomic writes; the --resume's first line says which, `engine.train_run`). Every rank calls it (the
    refit trains on all of them); the metrics of the fit or the neighbours' choice, or None."""
    if run.ddp.world > 1:  # best.pt as rank 0 wrote it at the last epoch, on every rank
        dist.barrier()
    done = best_done(run)  # (read once: what the steps due are decided on, and where record_due writes them)
    if done is None:
        return None
    fit, neighbours, refit, memory = steps_due(run, done, resumed)
    if run.ddp.main:
        record_due(run, done, (fit, neighbours, refit, memory))
    row = fit_text_linear(run) if fit else None
    if neighbours:
        row = choose_neighbours(run)
    if refit:  # (after the linear path's mixes and the neighbours are chosen on val with the train-only network)
        refit_network(run)
    if memory:
        write_caption_memory(run)
    return row


@dataclasses.dataclass
class RefitData:
    """What the refit trains on (`refit_network`): train + val, from the store or streamed from shards."""
    videos: int                           # the videos (shards without a manifest: records) trained on
    what: str                             # how the log line calls them: "videos" or "records"
    steps: int                            # optimiser steps an epoch on this rank (for the schedule)
    set_epoch: Callable[[int], None]
    epoch_batches: Callable[[], Iterable]
    ids: Callable[[], list[str] | None]   # the ids trained on for best.pt (every rank calls it), None over REFIT_IDS_MAX


def store_refit_data(run: Run) -> RefitData:
    """The train + val entries of a store run (or a text-only one), in the training split's batches."""
    cfg = run.cfg
    entries = run.train_ds.entries + run.val_ds.entries
    ds = VideoDataset(entries, run.train_ds.store, run.train_ds.modalities, run.vocab,
                      run.labels if run.labels.names else None, cfg.model.max_len, cfg.seed, cfg.per_caption,
                      caption_weights=cfg.caption_weights)
    if run.train_ds.text is not None:  # (tokenised once, with the training split's text vocabulary)
        ds.text = run.train_ds.text + run.val_ds.text
    sampler = CaptionGroups(ds, cfg.batch_size, cfg.per_video if cfg.per_caption else 1, cfg.seed, run.ddp.rank,
                            run.ddp.world)

    def set_epoch(epoch: int) -> None:
        ds.set_epoch(epoch)
        sampler.set_epoch(epoch)
    ids = [e["video_id"] for e in entries] if len(entries) <= REFIT_IDS_MAX else None
    return RefitData(len(entries), "videos", len(sampler), set_epoch, lambda: batches(ds, cfg.batch_size, sampler),
                     lambda: ids)


def shard_refit_data(run: Run) -> RefitData:
    """A shard run's train + val, streamed (`ShardSource.refit_stream`); its ids are those the refit's first
    epoch streamed on every rank (gathered: the call is collective)."""
    stream = run.val_ds.store.refit_stream(run.cfg, run.labels, run.val_ds.entries, run.ddp.rank, run.ddp.world)

    def ids() -> list[str] | None:
        seen = stream.streamed
        parts = run.ddp.gather(sorted(seen) if seen is not None and len(seen) <= REFIT_IDS_MAX else None)
        both = list(dict.fromkeys(v for p in parts for v in p)) if all(p is not None for p in parts) else None
        return both if both is not None and len(both) <= REFIT_IDS_MAX else None
    return RefitData(len(stream), "records" if stream.tags is None else "videos", len(stream.sampler),
                     stream.set_epoch, lambda: stream.batches(run.device), ids)


def refit_network(run: Run) -> None:
    """--refit: once early stopping has chosen best.pt's epoch e* on val, a fresh network (the same
    seed, settings and initial weights) trains on train + val for e* epochs, on the learning-rate
    schedule epochs 1..e* were trained on (`refit_lr_factor`: over --epochs, stopped after e*; a
    --resume that changed --epochs changed it from there on), and
    best.pt gets its weights. Kept from the train-only run: the label set, the feature statistics
    and the text vocabulary (the training split's), the tag threshold and the linear path's fit
    and mixes (chosen on val), and best.pt's val metrics and epoch: after the refit val is training
    data, so they are those measured before it. best.pt is replaced once the refit is done (a run
    killed during it keeps the train-only best.pt, and `--resume` refits then). Every rank trains
    (torchrun), rank 0 writes. Called by `finish` with --refit, val videos and best.pt. Streamed
    TFRecord shards: the training shards' records and the validation shards' stream together
    (`shard_refit_data`), split over the ranks and workers as in training."""
    cfg, out, log = run.cfg, Path(run.cfg.out), run.log
    if run.ddp.world > 1:  # rank 0 may still be writing best.pt (or fitting the linear path): all read it after
        dist.barrier()
    best = read_checkpoint(out / "best.pt", run.device)
    epochs = int(best["epoch"])
    t0 = time.time()
    torch.manual_seed(cfg.seed)  # the initial weights of the run's own model (build)
    model = S2VT(run.model.cfg)
    if model.fusion is not None:  # the feature statistics of the training split, not recomputed on train + val
        model.fusion.load_state_dict({k: v for k, v in run.model.fusion.state_dict().items()
                                      if k.startswith(("mean_", "std_"))}, strict=False)
    model = model.to(run.device)
    data = shard_refit_data(run) if shards.is_shards(cfg.features) else store_refit_data(run)
    # (said before it starts: the refit takes as long as the epochs it replays, and printed nothing until its first)
    log(f"refit: a fresh network on train + val ({data.videos} {data.what}) for the {epochs} "
        f"epoch{'s' if epochs != 1 else ''} val chose")
    entries = getattr(run.train_ds, "entries", []) + run.val_ds.entries  # (a stream: its items have no captions)
    net = (distributed(model, may_leave_parts_unused(entries, run.has_captions, model.idle_without_captions()))
           if run.ddp.world > 1 else model)
    optim = optimiser(model, cfg)
    sched = torch.optim.lr_scheduler.LambdaLR(optim, refit_lr_factor(cfg, data.steps, run.history))
    for epoch in range(1, epochs + 1):
        torch.manual_seed(cfg.seed * 1000 + epoch)
        data.set_epoch(epoch)
        t1 = time.time()
        first = [] if run.first_loss is None else None  # (a last.pt from before it was saved)
        try:
            total, steps, seen = train_one_epoch(net, data.epoch_batches(), optim, sched, cfg,
                                                 run.vocab.pad, model.cfg.multilabel, run.groups, run.device,
                                                 f"refit epoch {epoch}",
                                                 not cfg.quiet and run.ddp.main and sys.stderr.isatty(), first,
                                                 epoch * data.steps if shards.is_shards(cfg.features) else None)
            if first is not None:
                run.first_loss = first_step_loss(run.ddp, first)
            loss = run.ddp.mean(total, steps)
            check_epoch_loss(loss, run.first_loss, f"refit epoch {epoch}", cfg)
            if run.has_captions and model.fusion is not None:  # (val is training data now: its summaries all the same)
                check_summaries(model, run.val_loader, run.device, f"refit epoch {epoch}", cfg)
        except DivergedError as e:
            raise DivergedError(f"{e} and train again (--overwrite; or --no-refit); {out / 'best.pt'} keeps the "
                                "weights trained on train alone, without its refit") from None
        # (every rank's count summed: rank 0's times the ranks said 40 items of 38 videos; a shard stream's
        # ranks read unequal counts too)
        items = sum(run.ddp.gather(seen))
        log(f"refit epoch {epoch}/{epochs}: loss {loss:.4g}, {items} items, {time.time() - t1:.0f} s")
    ids = data.ids()  # (on every rank: a shard run gathers them)
    if not run.ddp.main:
        return
    state = model.state_dict()
    # the fitted linear path is not trained by the optimiser: best.pt's fit (and its mixes) are kept
    state.update({k: v for k, v in best["model"].items() if k.startswith("linear.")})
    best["model"] = state
    # the ids: evaluate tells a split among them by its videos, not by its name, whatever the manifest;
    # not for a run of YouTube-8M's millions (megabytes in every best.pt: evaluate then warns for train and val alone)
    # (the videos trained on when listed: a shard's records skipped, unread or repeated are not among them)
    count, what = (len(ids), "videos") if ids is not None else (data.videos, data.what)
    best["refit"] = {"videos": count, "epochs": epochs}
    best["unfinished"] = steps_left(best, "refit")
    if ids is not None:
        best["refit"]["ids"] = ids
    write_checkpoint(out / "best.pt", best)
    score = best["metrics"].get(run.metric)
    log(f"refitted on train + val for {epochs} epoch{'s' if epochs != 1 else ''} ({time.time() - t0:.0f} s): "
        + (f"best.pt's {run.metric} {score:.3f} (val, before the refit on the {count} train + val {what})"
           if score is not None else f"{count} {what}"))


def vocabulary_used(cfg: TrainConfig) -> dict:
    """best.pt's record of the --vocabulary its tags were named by, {"vocabulary": absolute path}: evaluate's
    advice for shards (`predict.not_a_store`) names the same file, wherever it is run from."""
    return {"vocabulary": os.path.abspath(cfg.vocabulary)} if cfg.vocabulary else {}


def training_ids(run: Run, with_val: bool = False) -> dict:
    """best.pt's record of the videos a tag-only model learnt from, {"training_ids": [...]}: the
    training split's, + val's once the linear path is refitted on train + val (`with_val`). evaluate
    warns by them when a split holds such videos (a manifest re-imported with another --seed, val
    after the refit): their scores overstate the model. A caption model's memory lists its videos
    already; runs over REFIT_IDS_MAX videos record none (megabytes in best.pt). A shard run lists the
    ids its stream met in its first epoch (its refit's, val's among them, are best.pt's "refit" ids): every
    rank's, as `engine.record_streamed` gathered them into last.pt's "trained_ids", where the run has no
    manifest; with one, this process's (`ShardStream.streamed`; under torchrun rank 0's part alone:
    evaluate's warning may then under-count training videos, never count a held-out one)."""
    if run.has_captions:
        return {}
    if shards.is_shards(run.cfg.features):
        if not run.cfg.manifest and (run.videos.get("trained_ids") or run.videos.get("trained_ids_skipped")):
            ids = run.videos.get("trained_ids")  # (None: over REFIT_IDS_MAX)
        else:
            ids = getattr(run.train_ds, "streamed", None)
        return {"training_ids": sorted(ids)} if ids is not None and len(ids) <= REFIT_IDS_MAX else {}
    entries = run.train_ds.entries + (run.val_ds.entries if with_val else [])
    return {"training_ids": [e["video_id"] for e in entries]} if len(entries) <= REFIT_IDS_MAX else {}


def write_caption_memory(run: Run) -> None:
    """best.pt gets the caption memory of consensus reranking (s2vt/consensus.py): the summaries
    (`S2VT.summary`, by best.pt's weights) and captions of the train and val videos. Val joins once
    the run is over, as the linear path's refit does: the reranking's setting was chosen on val with
    a memory of train alone, and at prediction time more videos are more neighbours. Rank 0 only, for
    a caption model with a best.pt (`finish` decides)."""
    out = Path(run.cfg.out)
    ckpt = read_checkpoint(out / "best.pt", run.device)
    model, vocab, _ = model_from_checkpoint(ckpt, run.device, out / "best.pt")
    # (videos of captions alone have no summary of their own to be found by)
    entries = [e for e in (*run.train_ds.entries, *run.val_ds.entries) if e.get("captions") and not e.get("captions_only")]
    ds = VideoDataset(entries, run.train_ds.store, run.train_ds.modalities, vocab, None)
    keys = []
    with torch.no_grad():
        for batch in batches(ds, 64):
            batch = to_device(batch, run.device)
            keys.append(model.summary(batch["feats"], batch["lengths"]).float().cpu())
    # every word of every caption (the training max_len cuts only what the decoder learns to write)
    captions = [[vocab.encode(c, max_len=10 ** 6)[1:-1] for c in e["captions"]] for e in entries]
    ids = [e["video_id"] for e in entries]
    try:
        memory = CaptionMemory.build(torch.cat(keys), captions, vocab.eos, ids)
    except NonFiniteKeys:  # (NaN or beyond float16's range: finite weights blown up by a learning rate far
        # too high give such summaries, a memory, and a model, evaluate would refuse)
        raise DivergedError(f"training diverged: the video summaries of {out / 'best.pt'} (epoch {ckpt['epoch']}) "
                            f"are NaN or beyond float16's range, as a learning rate far too high leaves the weights: "
                            f"lower --lr (now {run.cfg.lr:g}) and train again (--overwrite)") from None
    ckpt["memory"] = memory.state()
    ckpt["unfinished"] = steps_left(ckpt, "memory")
    write_checkpoint(out / "best.pt", ckpt)
    val = any(e.get("captions") for e in run.val_ds.entries)  # (none: no val, or its videos were all skipped)
    run.log(f"caption memory for consensus reranking: {len(entries)} videos, "
            f"{sum(map(len, captions))} captions ({'train + val' if val else 'train'})")


def linear_weights(x: torch.Tensor, y: torch.Tensor, groups: dict, c: float, steps: int, log, what: str
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """[vocab, labels] weights and [labels] bias of the fitted linear path over the TF-IDF rows `x`
    with 0/1 targets `y`: one-vs-rest squared hinge per label kind (levels: + complement naive Bayes);
    a progress line per kind (minutes on a real dataset: said, not silent), `what` saying on what."""
    weight, bias = torch.zeros(x.shape[1], y.shape[1]), torch.zeros(y.shape[1])
    for kind in ("level1", "level2", "tag"):
        idx = torch.tensor(groups[kind], dtype=torch.long)
        if len(idx):  # level 1 and 2: the videos that have one; tags: every tagged video
            t_kind = time.time()
            rows = y[:, idx].sum(1) > 0 if kind != "tag" else y.sum(1) > 0
            weight[:, idx], bias[idx] = fit_linear(x, y[:, idx], rows, c, steps)
            if kind != "tag":  # one class a video: + complement naive Bayes (text.CNB_WEIGHT)
                weight[:, idx] += CNB_WEIGHT * complement_nb(x, y[:, idx], rows)
            log(f"linear path: {kind} {what}, {len(idx)} classes over {int(rows.sum())} videos, "
                f"{time.time() - t_kind:.0f} s")
    return weight, bias


def set_linear(linear, weight: torch.Tensor, bias: torch.Tensor) -> None:
    with torch.no_grad():
        linear.bag.weight.copy_(weight.to(linear.bag.weight.device))
        linear.bias.copy_(bias.to(linear.bias.device))


def choose_mixes(model: S2VT, loader, vocab: Vocab, labels: Labels, groups: dict, device) -> None:
    """Each label kind's mixing weight (model.linear.mix) in MIXES, the best on `loader`'s videos:
    level 2 after level 1 (its answer lies under level 1's)."""
    score = {"level1": "level1_acc", "level2": "level2_acc", "tag": "tag_f1"}
    linear = model.linear
    for kind in ("level1", "level2", "tag"):
        idx = groups[kind]
        if not idx:
            continue
        tried = {}
        for mix in MIXES:
            linear.mix[idx] = mix
            tried[mix] = validate(model, loader, vocab, labels, device).get(score[kind], 0.0)
        linear.mix[idx] = max(MIXES, key=lambda m: (tried[m], m))  # a tie: the linear side, the steadier one


def fit_text_linear(run: Run) -> dict:
    """best.pt's fitted linear path (model.TextFitted): one-vs-rest squared-hinge classifiers over the
    training videos' TF-IDF tokens per label kind (levels: + complement naive Bayes), then the mixing
    weight of each kind chosen on val (level-1 accuracy, level-2 accuracy, tag F1); with
    --linear-refit the classifiers are then fitted again on train + val (the same tokens, IDF and C:
    more videos, the mixes kept). best.pt is rewritten with them; the val metrics returned and saved
    are those measured before the refit (after it val is training data). Rank 0 only, with a linear
    path, LIC2022 levels, val and best.pt (`finish` decides)."""
    model, groups, out, cfg = run.model, run.groups, Path(run.cfg.out), run.cfg
    best = read_checkpoint(out / "best.pt", run.device)
    # (popped once loaded: at 30k LIC2022 videos best.pt's weights are 5 GB, a copy the fit does not read)
    load_weights(model, best.pop("model"), out / "best.pt")
    model.cfg.tag_threshold = best["config"]["tag_threshold"]
    t0 = time.time()
    run.log(f"fitting the linear path on the {len(run.train_ds)} training videos' text, its mixes on val")
    labels, linear = run.labels, model.linear
    target = lambda ds: torch.stack([labels.target(e.get("tags", [])) for e in ds.entries])  # noqa: E731
    weight, bias = linear_weights(tfidf_matrix(run.train_ds.text, model.cfg.text_vocab), target(run.train_ds), groups,
                                  cfg.linear_c, cfg.linear_steps, run.log, "fitted")
    set_linear(linear, weight, bias)
    choose_mixes(model, run.val_loader, run.vocab, labels, groups, run.device)
    val = validate(model, run.val_loader, run.vocab, labels, run.device)
    model.cfg.tag_threshold = val["tag_threshold"]  # (chosen with the train-only fit, kept after the refit)
    row = {**best["metrics"], **{k: v for k, v in val.items() if isinstance(v, float)}}
    # (as words: "{'level1': 1.0, ...}" printed Python's dict; trial 116)
    mixes = ", ".join(f"{kind} {float(linear.mix[groups[kind][0]]):.2g}" for kind in ("level1", "level2", "tag")
                      if groups[kind])
    if cfg.linear_refit:
        both = run.train_ds.text + run.val_ds.text
        y = torch.cat([target(run.train_ds), target(run.val_ds)])
        weight, bias = linear_weights(tfidf_matrix(both, model.cfg.text_vocab), y, groups, cfg.linear_c,
                                      cfg.linear_steps, run.log, "refitted on train + val")
        set_linear(linear, weight, bias)
    run.log(f"fitted linear path ({time.time() - t0:.0f} s), mixed in at {mixes} (0: network alone, 1: linear alone): "
            + ", ".join(f"{k} {row[k]:.3f}" for k in ("level1_acc", "level2_acc", "tag_f1", "lic_score") if k in row)
            + (f" (val, before the refit on the {len(both)} train + val videos)" if cfg.linear_refit else ""))
    save_checkpoint(out / "best.pt", model, run.vocab, labels, run.meta, best["epoch"], row,
                    {**run.text_extra, **training_ids(run, with_val=cfg.linear_refit), **vocabulary_used(cfg),
                     "linear_fitted": True, "unfinished": steps_left(best, "fit")},
                    has_captions=run.has_captions)
    return row


def neighbour_rows(model: S2VT, loader, device, training: bool = False
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, list[str]]:
    """(features [N, D] (`S2VT.neighbour_features`), targets [N, C], the network's probabilities [N, C], ids) of a
    loader's videos, the
    first NEIGHBOURS_MAX of them (one row a video: a batch item repeated for its captions counts once).
    `training`: the memory's rows: only videos with a tag (one without votes nothing, and would take a
    neighbour's place), no probabilities (None)."""
    keys, targets, probs, ids, seen = [], [], [], [], set()
    with torch.no_grad():
        for batch in loader:
            batch = to_device(batch, device)
            first = [i for i, v in enumerate(batch["video_id"]) if v not in seen and not seen.add(v)]
            if training:
                first = [i for i in first if batch["tag"][i].any()]
            first = first[:NEIGHBOURS_MAX - len(ids)]
            if not first:
                continue
            rows = batch["video_index"][first].to(device)
            keys.append(model.neighbour_features(batch["feats"], batch["lengths"])[rows].cpu())
            if not training:
                logits = model.tag_logits(batch["feats"], batch["lengths"], text=batch.get("text"))
                probs.append(torch.sigmoid(logits)[rows].cpu())
            targets.append(batch["tag"][torch.tensor(first, device=batch["tag"].device)].float().cpu())
            ids += [batch["video_id"][i] for i in first]
            if len(ids) >= NEIGHBOURS_MAX:
                break
    cat = lambda parts, width: torch.cat(parts) if parts else torch.zeros(0, width)  # noqa: E731
    return (cat(keys, sum(model.cfg.modalities.values())), cat(targets, model.cfg.num_tags),
            None if training else cat(probs, model.cfg.num_tags), ids)


def training_batches(run: Run):
    """The training videos once, in batches, for the neighbours' memory: the store's entries in order, or
    the training shards streamed by this process alone (its lines said already in training)."""
    if shards.is_shards(run.cfg.features):
        stream = run.val_ds.store.stream(run.cfg, run.labels, 0, 1)
        stream.speaks, stream.repeats_said = False, True
        items = stream.items()
        while chunk := list(itertools.islice(items, run.cfg.batch_size)):
            yield collate(chunk)
        return
    ds = VideoDataset(run.train_ds.entries, run.train_ds.store, run.train_ds.modalities, run.vocab, run.labels,
                      run.cfg.model.max_len)
    yield from batches(ds, run.cfg.batch_size)


def choose_neighbours(run: Run) -> dict:
    """best.pt's tag neighbours (s2vt/neighbours.py): with a memory of the training videos, the space (the
    features, or the network's hidden layer where it has one), k, power and share (mix) whose blend with best.pt's
    network scores the best GAP@20 on val; then a memory of
    train + val with them (val's own videos join once they are chosen, as the caption memory's and the
    refit's do). best.pt's val metrics and tag threshold become those of the blend (measured with the
    train-only memory); where val chose the network alone (mix 0) best.pt records that and keeps no
    memory. Rank 0, before the refit, for a model `takes_neighbours` with val (`finish` decides)."""
    out = Path(run.cfg.out)
    ckpt = read_checkpoint(out / "best.pt", run.device)
    model, _, _ = model_from_checkpoint(ckpt, run.device, out / "best.pt")
    model.neighbours = None  # (the network alone: what is blended)
    t0 = time.time()
    feats, targets, _, _ = neighbour_rows(model, training_batches(run), run.device, training=True)
    val_feats, val_targets, probs, val_ids = neighbour_rows(model, run.val_loader, run.device)
    gold = [torch.nonzero(t).flatten().tolist() for t in val_targets]
    if not any(gold) or not len(feats):  # (nothing to choose on, or to remember: said, not a "gap 0.000")
        ckpt["neighbours"] = {"k": KS[0], "power": POWERS[0], "mix": 0.0, "videos": 0}
        ckpt["unfinished"] = steps_left(ckpt, "neighbours")
        write_checkpoint(out / "best.pt", ckpt)
        run.log("tag neighbours: none kept: " + ("no val video has tags to choose them on" if not any(gold)
                                                 else "no training video has tags"))
        return ckpt["metrics"]
    # each space's memory and its choice (the similarities on the run's device); a tie: the features space
    layer = model.neighbour_layer()

    def memory_of(space: str, rows: torch.Tensor, tags: torch.Tensor, **how) -> TagNeighbours:
        return TagNeighbours.build(rows, tags, **how, layer=layer if space == "hidden" else None).to(run.device)
    tried = {}
    for space in SPACES if layer is not None else SPACES[:1]:
        memory = memory_of(space, feats, targets)
        tried[space] = choose(memory, probs, memory.query(val_feats.to(run.device), layer), gold)
    space = max(tried, key=lambda sp: (tried[sp][1], -SPACES.index(sp)))
    chosen, score, alone = tried[space]
    lowered = None
    if chosen["mix"] > 0:
        model.neighbours = memory_of(space, feats, targets, **chosen)
        val = validate(model, run.val_loader, run.vocab, run.labels, run.device)
        # (chosen on GAP: a run that selects on another metric keeps the network alone where the blend lowers it)
        was = ckpt["metrics"].get(run.metric)
        if run.metric != "gap" and was is not None and val.get(run.metric, was) < was:
            lowered, chosen = (run.metric, val[run.metric], was, chosen["mix"]), {**chosen, "mix": 0.0}
    if chosen["mix"] > 0:
        ckpt["metrics"] = {**ckpt["metrics"], **{k: v for k, v in val.items() if isinstance(v, float)}}
        ckpt["config"]["tag_threshold"] = val.get("tag_threshold", ckpt["config"].get("tag_threshold"))
        has = val_targets.sum(1) > 0  # (val's videos with a tag join, as far as there is room)
        room = max(0, NEIGHBOURS_MAX - len(feats))  # (the training videos first: the memory val chose with)
        held, known = val_feats[has][:room], val_targets[has][:room]
        both = memory_of(space, torch.cat([feats, held]), torch.cat([targets, known]), **chosen)
        ckpt["neighbours"] = {**both.state(), "videos": len(both)}
        if isinstance(ckpt.get("training_ids"), list):  # (val's videos are in the memory now: evaluate warns for them)
            kept = [v for v, t in zip(val_ids, val_targets) if t.any()][:len(held)]
            ckpt["training_ids"] = list(dict.fromkeys([*ckpt["training_ids"], *kept]))
    else:
        ckpt["neighbours"] = {**chosen, "videos": 0}
    ckpt["unfinished"] = steps_left(ckpt, "neighbours")
    write_checkpoint(out / "best.pt", ckpt)
    run.log(f"tag neighbours ({time.time() - t0:.0f} s): "
            + (f"the {chosen['k']} most similar of {len(feats)} training videos in the {space} space, similarity ^ "
               f"{chosen['power']:g}, "
               f"mixed in at {chosen['mix']:g}: val gap {score:.3f} (the network alone {alone:.3f}); best.pt keeps "
               f"the {len(feats)} + {len(held)} train + val videos" if chosen["mix"] > 0
               else f"val chose the network alone (gap {score:.3f}): none kept" if lowered is None
               else f"the blend gap chose (mixed in at {lowered[3]:g}: val gap {score:.3f}, the network alone "
                    f"{alone:.3f}) lowers val {lowered[0]}, the run's --metric, from {lowered[2]:.3f} to "
                    f"{lowered[1]:.3f}: none kept"))
    return ckpt["metrics"]
