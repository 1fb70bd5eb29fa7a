"""`s2vt` command: one entry point, a subcommand per job (DESIGN.md's command contract)."""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys

PENDING = {
    "import": "dataset importers (issue 5)",
    "caption": "captioning (issue 4)",
    "evaluate": "evaluation (issue 4)",
    "score": "caption scoring (issue 4)",
    "export": "competition export (issue 4)",
}


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--manifest", required=True, help="manifest JSONL (train/val splits)")
    p.add_argument("--features", required=True, help="feature store folder")
    p.add_argument("--out", required=True, help="run folder: best.pt, last.pt, metrics.csv, curves.png")
    p.add_argument("--modalities", default=None, help="comma-separated subset (default: all in the store)")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--patience", type=int, default=5, help="epochs without validation improvement before stopping")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--embed", type=int, default=512)
    p.add_argument("--fusion", choices=("concat", "sum", "gated"), default="concat")
    p.add_argument("--dropout", type=float, default=0.3)
    p.add_argument("--tag-weight", type=float, default=1.0, help="lambda of the tag loss")
    p.add_argument("--label-smoothing", type=float, default=0.0)
    p.add_argument("--sample-prob", type=float, default=0.0, help="scheduled sampling probability")
    p.add_argument("--min-count", type=int, default=2, help="rarer words become <unk>")
    p.add_argument("--max-len", type=int, default=28, help="caption length cap in tokens")
    p.add_argument("--metric", default="auto", help="validation metric for early stopping (CIDEr, tag_acc)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    p.add_argument("--skip-missing", action="store_true", help="drop videos without features (with a warning)")
    p.add_argument("--stop-after", type=int, default=None, help=argparse.SUPPRESS)


def run_train(args: argparse.Namespace) -> int:
    from extract.manifest import ManifestError
    from extract.store import StoreError

    from .data import DataError
    from .engine import TrainConfig, train

    kw = {k: v for k, v in vars(args).items() if k in {f.name for f in dataclasses.fields(TrainConfig)}}
    if kw.get("modalities"):
        kw["modalities"] = [m.strip() for m in kw["modalities"].split(",") if m.strip()]
    try:
        best = train(TrainConfig(**kw))
    except (DataError, ManifestError, StoreError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(json.dumps({k: v for k, v in best.items() if k in ("epoch", "CIDEr", "tag_acc", "tag_f1")}))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="s2vt", description=__doc__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    from extract.__main__ import add_arguments
    add_arguments(sub.add_parser("extract", help="extract features into a store (= python -m extract)"))
    sub.add_parser("demo", help="generate a dataset and run the pipeline on it", add_help=False)
    add_train_arguments(sub.add_parser("train", help="train S2VT on a manifest and a feature store (= train.py)"))
    for name, what in PENDING.items():
        sp = sub.add_parser(name, help=f"{what}: not implemented yet")
        sp.add_argument("rest", nargs=argparse.REMAINDER)
    if argv[:1] == ["demo"]:
        from .demo import main as demo_main
        return demo_main(argv[1:])
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if args.command == "extract":
        from extract.__main__ import run
        return run(args)
    if args.command == "train":
        return run_train(args)
    print(f"s2vt {args.command}: not implemented yet ({PENDING[args.command]})", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
