"""`s2vt` command: one entry point, a subcommand per job (DESIGN.md's command contract)."""
from __future__ import annotations

import argparse
import sys

PENDING = {
    "import": "dataset importers (issue 5)",
    "train": "training (issue 3)",
    "caption": "captioning (issue 4)",
    "evaluate": "evaluation (issue 4)",
    "score": "caption scoring (issue 4)",
    "export": "competition export (issue 4)",
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="s2vt", description=__doc__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    from extract.__main__ import add_arguments
    add_arguments(sub.add_parser("extract", help="extract features into a store (= python -m extract)"))
    sub.add_parser("demo", help="generate a dataset and run the pipeline on it", add_help=False)
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
    print(f"s2vt {args.command}: not implemented yet ({PENDING[args.command]})", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
