"""`python caption.py`: the same code as `s2vt caption`."""
import sys

from s2vt.cli import main

if __name__ == "__main__":
    sys.exit(main(["caption", *sys.argv[1:]]))
