"""`python caption.py`: the same code as `s2vt caption`."""
import os
import sys

from s2vt.errors import interrupt_quietly

if __name__ == "__main__":  # (before s2vt.cli loads: a signal meanwhile is one line, not a traceback)
    interrupt_quietly(["caption", *sys.argv[1:]])
from s2vt.cli import main

if __name__ == "__main__":
    code = main(["caption", *sys.argv[1:]])
    # Every answer is printed and caption writes no files: skip the interpreter's teardown,
    # where unloading torch's libraries takes a measurable part of a cold run (docs/benchmarks.md).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
