"""Tag heads on YouTube-8M: val / test GAP@20, hit@1 and training time of each `--tag-head` (train.py
on a tag-only manifest) against logistic regression on the same split (a linear layer on the
standardised concatenated features, trained the same way: Adam, BCE, early stopping on val GAP).

Data: a manifest with train / val / test splits and its store, as `s2vt import yt8m` writes them
(README "Tags on YouTube-8M"). Each recipe is a comma-separated list of train.py settings (TrainConfig names);
every head is trained with every recipe (head `default`: the tag-only recipe's own, no --tag-head).
Run: python bench/tagheads.py --manifest M --features STORE --out DIR [--device cuda]
     [--heads mlp,moe,nextvlad,attention,default] [--recipe "epochs=20,lr=1e-3" ...] [--no-logreg]
     [--reference-mlp] [--seed N]
"""
from __future__ import annotations

import difflib
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from common import bench_main, bench_parser, table  # noqa: E402

from s2vt.device import pick_device  # noqa: E402
from s2vt.errors import UserError  # noqa: E402
from s2vt.manifest import read_manifest, split_of  # noqa: E402
from s2vt.store import FeatureStore  # noqa: E402
from s2vt.data import Labels  # noqa: E402
from s2vt.engine import TrainConfig, train  # noqa: E402
from s2vt.options import settings  # noqa: E402
from s2vt.metrics import gap, hit_at_k  # noqa: E402
from s2vt.predict import evaluate  # noqa: E402
from s2vt.tagheads import prior_bias  # noqa: E402


def parse_recipe(text: str) -> dict:
    """'epochs=20,lr=1e-3' -> {"epochs": 20, "lr": 0.001}, typed as TrainConfig declares them;
    UserError (one line) naming a part that is not `name=value`, an unknown name or a bad value."""
    types = {f.name: f.type for f, _ in settings(TrainConfig)}
    out = {}
    for part in filter(None, text.split(",")):
        key, eq, value = part.partition("=")
        key = key.strip()
        if not eq:
            raise UserError(f"--recipe {text!r}: {part!r} is not name=value")
        if key in BENCH_SET:  # (a TypeError traceback, or a crash after the baselines had trained; trial 108)
            raise UserError(f"--recipe {text!r}: {key} is the bench's own (its options, or what every run takes), "
                            "not a recipe setting")
        if key not in types:
            close = difflib.get_close_matches(key, types, 1)
            raise UserError(f"--recipe {text!r}: unknown setting {key!r}"
                            + (f" (did you mean {close[0]!r}?)" if close else " (train.py's settings, with _ for -)"))
        kind = types[key]
        try:
            out[key] = (BOOLS[value.lower()] if "bool" in kind else int(value) if kind.startswith("int")
                        else float(value) if kind.startswith("float") else value)
        except (ValueError, KeyError):  # (KeyError: `refit=ture` read as False, silently)
            raise UserError(f"--recipe {text!r}: {key} takes {kind.split()[0]}"
                            + (" (1/0, true/false, yes/no, on/off)" if "bool" in kind else "")
                            + f", not {value!r}") from None
    return out


# what the bench sets itself on every run (its options; `head_run`'s): not a --recipe's to give
BENCH_SET = ("manifest", "features", "out", "device", "quiet", "overwrite")
BOOLS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


def check_runs(args, recipes: list[dict]) -> None:
    """Every head x recipe's settings checked as train.py checks them (ranges, choices: `--tag-head
    mlpp`, `epochs=-1`) before the baselines train: a typo is one line at once, not after minutes."""
    # (`--heads ,`: nothing to run)
    if not any(map(str.strip, args.heads.split(","))) and not (args.logreg or args.reference_mlp):
        raise UserError(f"--heads {args.heads!r} names no tag head (e.g. --heads mlp,moe)")
    for head in filter(None, map(str.strip, args.heads.split(","))):
        for recipe in recipes:
            try:
                TrainConfig.of(manifest=args.manifest, features=args.features, out=args.out, device=args.device,
                               **{**({} if head == "default" else {"tag_head": head}), "seed": args.seed, **recipe})
            except UserError as e:  # (train.py's line names its options: `--epochs`, `--tag-head`; trial 108)
                where = f"--heads {head}" if head != "default" and "--tag-head" in str(e) else \
                    f"--recipe {','.join(f'{k}={v}' for k, v in recipe.items())}"
                raise UserError(f"{where}: {e}") from None


def check_tags(args) -> None:
    """Refuse, before any model trains, a manifest whose splits lack the tagged videos this benchmark
    scores (a captions-only one has none: evaluate would have no GAP to report after the training)."""
    entries = read_manifest(args.manifest)
    if not any(e.get("tags") for e in entries):
        raise UserError(f"{args.manifest}: no tags on any video (a captions-only manifest?); this benchmark "
                        "scores tag predictions (s2vt import yt8m)")
    needed = ["train", "test"] + (["val"] if args.logreg or args.reference_mlp else [])  # (baselines stop on val)
    missing = [s for s in needed if not any(e.get("tags") and split_of(e) == s for e in entries)]
    if missing:
        raise UserError(f"{args.manifest}: no tagged videos in the {' or '.join(missing)} split(s); this "
                        "benchmark needs tagged train, val and test videos")
    # (one class a video, the demo's: the baselines' BCE was a traceback on its class indices; trial 96)
    if not Labels.build([e for e in entries if e.get("tags") and split_of(e) in ("train", "val")]).multilabel:
        raise UserError(f"{args.manifest}: one tag a video (single-label); this benchmark compares multi-label tag "
                        "heads by GAP@20, as on YouTube-8M (s2vt import yt8m)")


def head_run(args, head: str, recipe: dict, out: Path) -> dict:
    settings = {**({} if head == "default" else {"tag_head": head}), "seed": args.seed, **recipe}
    cfg = TrainConfig.of(manifest=args.manifest, features=args.features, out=str(out), device=args.device,
                      quiet=True, overwrite=True, **settings)
    t0 = time.perf_counter()
    best = train(cfg)
    seconds = time.perf_counter() - t0
    test = evaluate(str(out / "best.pt"), args.manifest, args.features, "test", out=str(out / "preds_test.json"),
                    batch_size=256, device=args.device)
    return {"val_gap": best.get("gap"), "best_epoch": best.get("epoch"), "test_gap": test["gap"],
            "test_hit@1": test["hit@1"], "train_s": round(seconds, 1)}


def gold_rows(entries: list[dict], labels: Labels) -> list[list[int]]:
    """Label ids per video; tags the model never saw get negative ids (they count against GAP), as in evaluate."""
    index = {n: i for i, n in enumerate(labels.names)}
    return [[index.get(t, -1 - j) for j, t in enumerate(e.get("tags", []))] for e in entries]


def baseline(args, batch_size: int = 64, lr: float = 1e-3, epochs: int = 100, patience: int = 4,
             hidden: int = 0, dropout: float = 0.0, seed: int = 0) -> dict:
    """Logistic regression (hidden=0): one linear layer (its bias started at the prior, as the heads'),
    Adam, BCE, early stopping on val GAP. hidden > 0: the plain two-layer MLP the issue's reference
    figures use (Linear-ReLU-Dropout-Linear on the same input)."""
    dev = pick_device(args.device)
    entries = read_manifest(args.manifest)
    store = FeatureStore(args.features)
    split = {s: [e for e in entries if split_of(e) == s and e.get("tags")] for s in ("train", "val", "test")}
    labels = Labels.build(split["train"] + split["val"])
    mods = sorted(store.modalities())
    x = {s: torch.tensor(np.stack([np.concatenate([store.read(m, e["video_id"]).mean(0) for m in mods])
                                   for e in es]), dtype=torch.float32) for s, es in split.items()}
    mean, std = x["train"].mean(0), x["train"].std(0) + 1e-6
    x = {s: ((v - mean) / std).to(dev) for s, v in x.items()}
    y = torch.stack([labels.target(e["tags"]) for e in split["train"]]).to(dev)
    gold = {s: gold_rows(split[s], labels) for s in ("val", "test")}
    torch.manual_seed(seed)
    width = x["train"].shape[1]
    last = prior_bias(torch.nn.Linear(hidden or width, len(labels.names)), len(labels.names), True)
    model = (torch.nn.Sequential(torch.nn.Linear(width, hidden), torch.nn.ReLU(), torch.nn.Dropout(dropout), last)
             if hidden else last).to(dev)
    optim = torch.optim.Adam(model.parameters(), lr=lr)
    t0, best, bad, result = time.perf_counter(), -1.0, 0, {}
    for epoch in range(1, epochs + 1):
        model.train()
        for idx in torch.randperm(len(y), device=dev).split(batch_size):
            loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x["train"][idx]), y[idx])
            optim.zero_grad()
            loss.backward()
            optim.step()
        model.eval()
        with torch.no_grad():
            scores = {s: torch.sigmoid(model(x[s])).cpu().numpy() for s in ("val", "test")}
        val_gap = gap(scores["val"], gold["val"])
        if val_gap > best:
            best, bad = val_gap, 0
            result = {"val_gap": val_gap, "best_epoch": epoch, "test_gap": gap(scores["test"], gold["test"]),
                      "test_hit@1": hit_at_k(scores["test"], gold["test"], 1)}
        else:
            bad += 1
            if bad >= patience:
                break
    return {**result, "train_s": round(time.perf_counter() - t0, 1)}


def main() -> None:
    ap = bench_parser(__doc__)
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--features", required=True)
    ap.add_argument("--out", required=True, help="folder for the runs and results.json")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--heads", default="mlp,moe,nextvlad,attention",
                    help="comma-separated --tag-head names, and `default` for the tag-only recipe's own head "
                         "(default: the four heads)")
    ap.add_argument("--seed", type=int, default=0, help="of the baselines and of every head (unless a recipe sets it)")
    ap.add_argument("--recipe", action="append", default=None, help="train.py settings (repeatable)")
    ap.add_argument("--no-logreg", dest="logreg", action="store_false")
    ap.add_argument("--reference-mlp", action="store_true",
                    help="add the plain MLP baseline: 2,048 hidden, dropout 0.5, 15 epochs, best epoch on val")
    args = ap.parse_args()
    try:
        run(args)
    except UserError as e:  # a typo in a recipe, a manifest without tags, a missing file: one line
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)


def run(args) -> None:
    recipes = [parse_recipe(text) for text in args.recipe or [""]]  # every recipe checked before any training
    check_runs(args, recipes)
    check_tags(args)
    out = Path(args.out)
    rows = []
    if args.logreg:  # with the first recipe's batch size and learning rate
        first = recipes[0]
        same = {k: first[k] for k in ("batch_size", "lr") if k in first}
        rows.append({"head": "logistic regression", "seed": args.seed, "recipe": ",".join(f"{k}={v}" for k, v in same.items())
                     or "defaults", **baseline(args, **same, seed=args.seed)})
        print(json.dumps(rows[-1]), flush=True)
    if args.reference_mlp:
        rows.append({"head": "plain MLP 2048", "seed": args.seed, "recipe": "epochs=15,dropout=0.5",
                     **baseline(args, epochs=15, patience=15, hidden=2048, dropout=0.5, seed=args.seed)})
        print(json.dumps(rows[-1]), flush=True)
    for text, recipe in zip(args.recipe or [""], recipes):
        for head in filter(None, map(str.strip, args.heads.split(","))):
            name = f"{head}-{len(rows)}"
            rows.append({"head": head, "seed": recipe.get("seed", args.seed), "recipe": text or "defaults",
                         **head_run(args, head, recipe, out / name)})
            print(json.dumps(rows[-1]), flush=True)
    (out / "results.json").write_text(json.dumps(rows, indent=1))
    fmt = lambda v: f"{v:.4f}" if isinstance(v, float) else str(v)  # noqa: E731
    keys = ["head", "seed", "recipe", "val_gap", "test_gap", "test_hit@1", "best_epoch", "train_s"]
    print(table(keys, [[fmt(r.get(k)) for k in keys] for r in rows]))


if __name__ == "__main__":
    bench_main(main)
