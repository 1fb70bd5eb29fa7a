"""Reading a `.npy` features file safely: never a pickle, never a pipe read for ever, and a file that is no
array of real numbers (or is cut short) said in a few words a user can act on (`NpyError`)."""
from __future__ import annotations

import math
import os
import stat

import numpy as np

from .errors import printable


class NpyError(ValueError):
    """Why a file is no readable .npy array, in a few words: callers say "cannot read features (REASON)"."""


_NOT_A_FILE = ((stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"),
               (stat.S_ISFIFO, "a pipe"), (stat.S_ISSOCK, "a socket"))


def check_npy(path: str | os.PathLike) -> None:
    """NpyError unless `path` is a regular file starting as a .npy file does, with a whole header of numbers.
    Checked before numpy reads it: numpy calls a file without its magic string pickled data ('If you trust
    the file you can load it unsafely ...': a text file named .npy, a link to /dev/zero; hostile trial), a
    pipe would be read for ever, and numpy's and the system's words for a header cut short ('EOF: reading
    array header, expected 118 bytes got 20'), an array of Python objects ('Array can't be memory-mapped')
    and a link to nothing ('[Errno 2] ...' naming the link) say nothing a user can act on."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        if os.path.islink(path):
            raise NpyError(f"a link to a missing file {printable(os.readlink(path))}") from None
        raise
    for test, kind in _NOT_A_FILE:
        if test(mode):
            raise NpyError(f"{kind}, not a file")
    with open(path, "rb") as f:
        head = f.read(len(np.lib.format.MAGIC_PREFIX))
        if head != np.lib.format.MAGIC_PREFIX:
            raise NpyError("not a .npy file" + (" (empty)" if not head else ""))
        dtype = _header_dtype(f, os.fstat(f.fileno()).st_size)
    if dtype is not None and dtype.hasobject:  # (numpy would need allow_pickle, which no features file needs)
        raise NpyError("holds Python objects, not numbers: refused, as loading them could run code")
    if dtype is not None and dtype.kind not in "fiu":
        # (complex ones were cast to real with numpy's bare warning naming no file, booleans taken as 0/1; trial 78)
        raise NpyError(f"holds {NOT_REAL.get(dtype.kind, f'values of dtype {dtype}')}, not real numbers")


# what a .npy file of a dtype kind that is no real number holds (`check_npy`)
NOT_REAL = {"c": "complex numbers", "b": "booleans", "U": "text", "S": "bytes", "V": "records",
            "M": "dates", "m": "time spans"}


def _header_dtype(f, size: int) -> np.dtype | None:
    """The dtype the header of the .npy file `f` gives (read past its magic string, `size` bytes long); None for a
    format version numpy alone reads (3: no public reader). NpyError when the file ends inside its header."""
    start = f.tell()
    version = f.read(2)
    width = {1: 2, 2: 4, 3: 4}.get(version[0], 0) if len(version) == 2 else 2
    if not width:  # (a version numpy does not know: its own words say so)
        return None
    length = f.read(width) if len(version) == 2 else b""
    if len(length) < width:
        raise NpyError(f"header cut short ({size:,} bytes)")
    need = start + 2 + width + int.from_bytes(length, "little")
    if size < need:
        raise NpyError(f"header cut short ({size:,} of {need:,} bytes)")
    if version[0] not in (1, 2):
        return None
    f.seek(start - len(np.lib.format.MAGIC_PREFIX))
    np.lib.format.read_magic(f)
    reader = np.lib.format.read_array_header_1_0 if version[0] == 1 else np.lib.format.read_array_header_2_0
    return reader(f)[2]


def cut_short(path: str | os.PathLike) -> str | None:
    """"cut short (N of M bytes)" when the file is shorter than its header says (numpy's words for it:
    'mmap length is greater than file size', 'Failed to read all data ...'), else None."""
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            reader = {(1, 0): np.lib.format.read_array_header_1_0,
                      (2, 0): np.lib.format.read_array_header_2_0}.get(version)
            if reader is None:
                return None
            shape, _, dtype = reader(f)
            need = f.tell() + math.prod(shape) * dtype.itemsize
            size = os.fstat(f.fileno()).st_size
    except (OSError, ValueError, EOFError):
        return None
    return f"cut short ({size:,} of {need:,} bytes)" if size < need else None


def load_npy(path: str | os.PathLike, mmap_mode: str | None = None) -> np.ndarray:
    """np.load of a features file (no pickles); a file it cannot read raises NpyError (a ValueError) with the
    true short reason where one is known (`check_npy`, `cut_short`), else numpy's OSError or ValueError."""
    check_npy(path)
    try:
        return np.load(path, mmap_mode=mmap_mode, allow_pickle=False)
    except (ValueError, EOFError):
        if reason := cut_short(path):
            raise NpyError(reason) from None
        raise


def npy_shape(path: str | os.PathLike) -> tuple[int, ...]:
    """The shape a `.npy` file's header gives, without reading its data."""
    check_npy(path)
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            return np.lib.format.read_array_header_1_0(f)[0]
        if version == (2, 0):
            return np.lib.format.read_array_header_2_0(f)[0]
    return load_npy(path, mmap_mode="r").shape  # (version 3: no public header reader)
