"""`python train.py`: the same code as `s2vt train`."""
import sys

from s2vt.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]], program=True))
