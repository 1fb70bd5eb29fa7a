"""`python -m s2vt` and the `s2vt` console script: `s2vt.cli.main`, with a Ctrl-C or SIGTERM that comes while
its modules load said in one line (`errors.interrupt_quietly`), not as a traceback through the imports."""
import sys

from s2vt.errors import interrupt_quietly


def main() -> int:
    interrupt_quietly(sys.argv[1:])  # (before s2vt.cli loads)
    from s2vt.cli import main as cli_main
    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
