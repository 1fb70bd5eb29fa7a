"""`python train.py`: the same code as `s2vt train`."""
import sys

from s2vt.errors import interrupt_quietly

if __name__ == "__main__":  # (before s2vt.cli loads: a signal meanwhile is one line, not a traceback)
    interrupt_quietly(["train", *sys.argv[1:]])
from s2vt.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]], program=True))
