"""`python caption.py`: the same code as `s2vt caption`."""
import os
import sys

from s2vt.cli import main

if __name__ == "__main__":
    code = main(["caption", *sys.argv[1:]])
    # Every answer is printed and caption writes no files: skip the interpreter's teardown,
    # where unloading torch (CUDA build) alone takes 0.5-0.9 s on a 2-core CPU.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
