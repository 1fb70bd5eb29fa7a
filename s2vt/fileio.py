"""Atomic file writes: a temp file in the same folder, then a rename, so readers never see half a file.

A write that the file system refuses (read-only folder, a path under a file, a full disk)
raises `OutputError`, a user error: the command line tools print it in one line and exit 2.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from .errors import UserError


class OutputError(UserError):
    """An output that cannot be written (permissions, a path under a file, no space left)."""


def output_error(path: str | os.PathLike, e: OSError) -> OutputError:
    """One line naming the output and the system's reason (e.g. 'No space left on device')."""
    return OutputError(f"cannot write {os.fsdecode(path)!s}: {e.strerror or type(e).__name__}")


def make_dirs(folder: str | os.PathLike) -> Path:
    """mkdir -p, with an OutputError instead of an OSError."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise output_error(folder, e) from None
    return folder


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` via a temp file and os.replace; nothing partial is left on failure."""
    path = Path(path)
    make_dirs(path.parent)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException as e:  # Ctrl-C or a full disk
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        if isinstance(e, OSError):
            raise output_error(path, e) from None
        raise


def atomic_write_json(path: str | os.PathLike, obj) -> None:
    """Pretty-printed UTF-8 JSON, atomically."""
    atomic_write_bytes(path, (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode())
