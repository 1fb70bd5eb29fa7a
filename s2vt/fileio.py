"""Outputs: atomic writes (a temp file in the same folder, then a rename, so readers never see half a file)
and the checks of an output's path before anything is written (a special file, a link, a name too long, a
run's own files).

A write that the file system refuses (read-only folder, a path under a file, a full disk)
raises `OutputError`, a user error: the command line tools print it in one line and exit 2.
How a user's JSON file is read: `jsonfile`; the locks held while an output is written: `locks`.
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import itertools
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Callable

from .errors import SettingError, UserError
from .jsonfile import torch_saved  # (a zip torch.save wrote: `refuse_checkpoints` names it a checkpoint)


class OutputError(UserError):
    """An output that cannot be written (permissions, a path under a file, no space left); `errno`: the system's
    error it comes from (`output_error`), None for a refusal of s2vt's own."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.errno = code


# the errors of an output that a rerun of the same command gets past: a full disk or quota once space is freed, a
# passing fault (I/O, a busy or stale file, too many open files); any other (a folder that refuses writes, a path
# too long) meets the rerun the same way (`lasting_advice`)
PASSING_ERRORS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EINTR, errno.EAGAIN, errno.ENOMEM,
                            errno.ENFILE, errno.EMFILE, errno.EBUSY, errno.ETIMEDOUT, errno.ESTALE, errno.ENOLCK,
                            errno.ENOBUFS})


def lasting_advice(e: BaseException, folder: str | os.PathLike, option: str = "--out") -> str | None:
    """What to change before running again, for an error of an output in `folder` (named by `option`) that a rerun
    of the same command would meet again: "rerun the same command to resume" after an immutable folder (EPERM) or
    a path too long failed the rerun the same way (hostile trial). None for one a rerun gets past (PASSING_ERRORS)
    or with no system error (s2vt's own refusal: its line says what to do)."""
    code = getattr(e, "errno", None)
    if code is None or code in PASSING_ERRORS:
        return None
    if code == errno.ENAMETOOLONG:
        return f"a rerun fails the same way: pass a shorter {option}"
    if code in (errno.EPERM, errno.EACCES, errno.EROFS):
        return f"a rerun fails the same way: make {os.fsdecode(folder)} writable, or pass another {option}"
    return f"a rerun fails the same way: pass another {option}"


def output_error(path: str | os.PathLike, e: OSError, folder: str | os.PathLike | None = None) -> OutputError:
    """One line naming the output and the system's reason (e.g. 'No space left on device'); `folder`, the
    folder `path` was being made in, where a caller knows it was there (`taking_nothing`)."""
    why = folder is not None and taking_nothing(Path(folder), e)
    return OutputError(f"cannot write {os.fsdecode(path)!s}: {why or e.strerror or type(e).__name__}", e.errno)


def taking_nothing(folder: Path, e: OSError) -> str | None:
    """The reason for an ENOENT from making a name in `folder` while `folder` is there: /proc and /sys refuse a
    new file or folder so, and 'cannot write /proc: No such file or directory' named a folder that is there
    (hostile trial). None for any other error, or a folder gone (removed meanwhile: the system's word holds)."""
    if e.errno == errno.ENOENT and folder.is_dir():  # (with /sys's advice: the /proc line had none; hostile trial)
        root = kernel_folder(folder)
        return (f"{os.fsdecode(folder)} takes nothing new ('{e.strerror}', though {os.fsdecode(folder)} is there"
                + (f": {root} holds the kernel's files" if root else "") + "): name another output")
    # (/sys refuses so: 'Permission denied' even to root, a bare word with no advice; hostile trial)
    if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS) and (root := kernel_folder(folder)) and folder.is_dir():
        return (f"{os.fsdecode(folder)} takes nothing new ('{e.strerror}': {root} holds the kernel's files): "
                "name another output")
    return None


def kernel_folder(path: str | os.PathLike) -> str | None:
    """/proc or /sys when `path` is one of them or in one (the kernel's files, no place for an output), else None."""
    where = os.path.abspath(os.fsdecode(path))
    return next((root for root in KERNEL_FOLDERS if where == root or where.startswith(f"{root}/")), None)


def refuse_existing(paths, force: bool, specials_refused: bool = False) -> None:
    """OutputError for a file the user named as an output that already exists, unless `force`:
    a command never silently replaces a result the user may still want (`--force` to allow it). A path
    is judged and named as typed (a link to a device named as the link; an existing link with the file a write
    replaces, `written_file`: its target). `specials_refused`: the caller refused pipes and devices among
    `paths` already (evaluate: before its other refusals, which would name a device otherwise)."""
    for path in paths:
        if path:
            refuse_broken_link(path)
        if path and (what := folder_path(path)):
            raise OutputError(f"{os.fsdecode(path)} {what}: name a file to write")
        if not specials_refused:
            refuse_special_outputs([path])  # (before 'already exists': --force would not help)
        if path and not force and Path(path).exists():
            # (as the user gave it, as every other line names an output: 'subs/a.zip already exists' named a file
            # never typed; hostile trial)
            target = written_file(path)
            link = f" (a link to {os.fsdecode(target)})" if target != Path(path) else ""
            raise OutputError(f"{os.fsdecode(path)} already exists{link}: pass --force to replace it")


def refuse_linked_defaults(paths, force: bool, command: str, option: str) -> None:
    """OutputError for an output the user did not name (a default, rewritten on every run) that is a symbolic
    link, unless `force`: `ln -s ../important.json lnk/preds_test.json` had evaluate replace important.json,
    exit 0 (hostile trial). A plain default file is rewritten as documented; a link to nothing is refused even
    with --force (`refuse_broken_link`). `option`: the one that names another file (`--out NAME.json`)."""
    for path in paths:
        if not os.path.islink(path):
            continue
        refuse_broken_link(path)
        if not force:
            target = os.fsdecode(written_file(path))
            raise OutputError(f"{os.fsdecode(path)} is a link to {target}: {command} rewrites its default outputs on "
                              f"every run, but not a file a link names: pass --force to replace {target}, or "
                              f"{option} to write elsewhere")


def refuse_special_outputs(paths, folders: bool = False) -> None:
    """OutputError for an output (falsy: none) that is there, itself or through a link, and is a pipe, a device or a
    socket (a folder too with `folders`; `refuse_existing` words that one): the atomic write refused it only at the
    end, after the work (evaluate decoded the whole split and wrote its predictions, then refused `--html FIFO` or a
    metrics file linked to one; hostile trial), and a rename over it would swap a device for a plain file (as root,
    /dev/null). Every command checks its outputs so before any work; `atomic_write_bytes` once more, at the write."""
    for path in paths:
        if path:
            refuse_special(path, lambda what: OutputError(f"cannot write {special_output(path, what)}"), folders)


KERNEL_FOLDERS = ("/proc", "/sys")  # (the kernel's files: no new one can be made there, `taking_nothing`)
SYSTEM_FOLDERS = ("/dev", *KERNEL_FOLDERS)  # (the system's own files: none of them is the user's to move)


def special_output(path: str | os.PathLike, what: str) -> str:
    """'PATH: it is WHAT, not a regular file: ...' for an output that is a pipe, a device or a socket (`what`),
    named as the user gave it. The file written through a link was named instead, with 'move it': `RUN/curves.png`
    linked to /dev/null was 'cannot write /dev/null: ... move it', and `--out /dev/stdout` became
    /proc/PID/fd/pipe:[N] (hostile trial). A link is named with what it links to, to be removed; a file of the
    system's (/dev/null, /dev/stdout) is no one's to move."""
    given = os.fsdecode(path)
    if any(os.path.abspath(given).startswith(f"{folder}/") for folder in SYSTEM_FOLDERS):
        return f"{given}: it is {what}, not a regular file: name another output"
    if os.path.islink(given):
        return f"{given}: it is {linked_to(given, what)}, not a regular file: remove the link, or name another output"
    return f"{given}: it is {what}, not a regular file: move it, or name another output"


def linked_to(path: str | os.PathLike, what: str) -> str:
    """`what` (the file `path` is, in words: 'a device') said of a symbolic link: 'a link to TARGET, WHAT' (the
    target left out where it is no path: /proc/self/fd/1's is 'pipe:[N]'); `what` alone for no link."""
    if not os.path.islink(path):
        return what
    target = os.path.realpath(path)
    return f"a link to {target}, {what}" if os.path.exists(target) else f"a link to {what}"


def folder_path(path: str | os.PathLike) -> str | None:
    """How `path`, an output that is to be a file, names a folder instead, in words for the line after it:
    'is a folder', or where none is there yet `ends_as_folder`'s; None for a file's path."""
    return "is a folder" if os.path.isdir(path) else ends_as_folder(path)


def ends_as_folder(path: str | os.PathLike) -> str | None:
    """'ends with '/', so it names a folder, not a file' for a path as typed that ends with '/', '/.' or
    '/..', else None. Path drops a trailing '/' or '/.': `import --out new.jsonl/` wrote the file new.jsonl,
    export told `--out new.zip/` to end in .zip, and evaluate called it "a folder" though none was there."""
    _, sep, tail = os.fsdecode(path).rpartition(os.sep)
    return f"ends with '{sep}{tail}', so it names a folder, not a file" if sep and tail in ("", ".", "..") else None


def refuse_broken_link(path: str | os.PathLike) -> None:
    """OutputError for an output that is a symbolic link to nothing (a write through it would either
    fail after the work or, renamed over it, replace the link with a plain file): one line, `refusal`'s."""
    path = Path(path)
    if path.is_symlink() and not path.exists():
        raise OutputError(f"cannot write {os.fsdecode(path)}: "
                          f"{refusal(path, FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT)))}")


def each_path(paths: dict[str, object]):
    """(option, value) for every path of `paths` ({option: value}; a list value item by item), as the
    refuse_* checks below take them."""
    for option, value in paths.items():
        for v in (value if isinstance(value, (list, tuple)) else [value]):
            yield option, v


def refuse_empty_paths(paths: dict[str, object], error: type[UserError] = SettingError) -> None:
    """`error` naming the first of `paths` ({option: value}; a list value is checked item by item)
    given as an empty string, before anything is read or made: the file system takes "" for the
    current folder (Path("") is "."), so `--out "$RUN"` with RUN unset would fill the current
    folder, and `--checkpoint ""` would fall back silently to the default checkpoint."""
    for option, v in each_path(paths):
        if isinstance(v, str) and not v.strip():  # ("  ": a folder named by spaces is never what was meant)
            raise error(f"{option} is {'empty' if v == '' else 'blank'} (an unset shell variable?): give a path")


def refuse_dash_out(paths: dict[str, object], error: type[UserError] = SettingError) -> None:
    """`error` for `--out -`: standard output's usual name, never written to. `import ... --out -` wrote a file
    named '-', train.py and extract a folder '-', without a word (hostile trial), as `manifest.dash_refusal`
    refuses '-' for an input. './-' names the file or folder '-' (said when one is there)."""
    if isinstance(out := paths.get("--out"), (str, os.PathLike)) and os.fspath(out) == "-":
        raise error("--out -: writing to standard output ('-') is not supported: name a path"
                    + (" (for a file or folder named '-', write ./-)" if os.path.lexists(out) else ""))


def refuse_root_out(paths: dict[str, object], error: type[UserError] = SettingError) -> None:
    """`error` for an --out that is the file system's root ('/', '//.', a link to it): `python -m extract ... --out /`
    (`--out "$STORE/"` with STORE unset) wrote its store's files into it, as `train.py --out /` its run's (hostile
    trial); no command's output belongs there, as `refuse_empty_paths` refuses "" (the current folder)."""
    out = paths.get("--out")
    if not isinstance(out, (str, os.PathLike)) or not os.fspath(out):
        return
    try:
        root = os.path.realpath(out) == os.path.realpath(os.sep)
    except (OSError, ValueError):  # (a NUL byte, a loop: said by the checks after this one, or where it is used)
        return
    if root:
        raise error(f"--out {os.fsdecode(out)}: that is the file system's root (an unset shell variable before the "
                    "'/'?): name another --out")


def refuse_unusable_paths(paths: dict[str, object], error: type[UserError] = SettingError) -> None:
    """The checks every command makes of the paths it was given ({option: value}, as `refuse_empty_paths`
    takes them), before anything is read or made: no empty path (`refuse_empty_paths`), no --out '-'
    (`refuse_dash_out`) nor the root (`refuse_root_out`), none that goes through a folder that does not exist before
    a '..' (`refuse_dotdot_after_missing`), none the system cannot look up (`refuse_unreachable`)."""
    refuse_empty_paths(paths, error)
    refuse_dash_out(paths, error)
    refuse_root_out(paths, error)
    refuse_dotdot_after_missing(paths, error)
    refuse_unreachable(paths, error)


# the positional arguments that name a batch's items (caption.py's videos, extract's inputs, an import's files)
BATCH_ARGUMENTS = ("VIDEO", "INPUT", "FILE")


def refuse_unreachable(paths: dict[str, object], error: type[UserError] = OutputError) -> None:
    """`error` for a path the system cannot look up at all: through a symbolic link loop, or with a part longer
    than the file system takes (255 bytes): each was an OSError or RuntimeError traceback, exit 1, in export,
    train, evaluate, import and extract (hostile trial). One line, before anything is read or made. The videos
    or files of a batch (VIDEO, INPUT, FILE) are left to it: one of them is a logged failure, the rest go on."""
    for option, v in each_path(paths):
        if option in BATCH_ARGUMENTS or not isinstance(v, (str, os.PathLike)):
            continue
        try:
            os.stat(v)
        except OSError as e:
            if e.errno == errno.ELOOP:
                raise error(f"{option} {os.fsdecode(v)}: goes through a symbolic link loop: name another "
                            "path") from None
            if e.errno == errno.ENAMETOOLONG:
                raise error(f"{option} {os.fsdecode(v)}: longer than the file system takes (a name over 255 "
                            "bytes, or the whole path over 4,096): name it shorter") from None
        except ValueError:  # (a NUL byte: said where the path is used)
            pass


def missing_before_dotdot(path: str | os.PathLike) -> str | None:
    """The part of `path` before a '..' that is not a folder (`nosuch` of `nosuch/../model.pt`), else None.
    A glob character changes nothing: an output path is never expanded (`n[x/../a.json` made `n[x` and
    replaced a.json), and a '..' after a pattern in an input is no path a user means."""
    text = os.fsdecode(path)
    parts = text.split(os.sep)
    for i, part in enumerate(parts):
        if part != ".." or i == 0:
            continue
        before = os.sep.join(parts[:i]) or os.sep
        if not os.path.isdir(before):
            return before
    return None


def refuse_dotdot_after_missing(paths: dict[str, object], error: type[UserError] = OutputError) -> None:
    """`error` for a path (`refuse_empty_paths`' {option: value}) through a folder that does not exist, then
    '..': `--out nosuch/../model.pt` passed every check made on the path as typed (it "does not exist"), then
    writing made `nosuch` and the path named the real model.pt, which was replaced (hostile trial). The
    system cannot follow such a path until the folder is made, so it is refused as typed, nothing made."""
    for option, v in each_path(paths):
        if isinstance(v, (str, os.PathLike)) and (missing := missing_before_dotdot(v)) is not None:
            what = "is not a folder" if os.path.lexists(missing) else "does not exist"
            raise error(f"{option} {os.fsdecode(v)}: {missing} {what}, and the path goes on with '..' after "
                        "it: name the path without it")


@contextlib.contextmanager
def removed_if_failed(folder: str | os.PathLike):
    """Run the block; if it raises, remove `folder` and the parents it had to create, provided they
    are still empty: a run refused after making its output folder leaves nothing behind (a folder
    that existed before, or one holding anything, is kept)."""
    new = new_folders(folder)
    try:
        yield
    except BaseException:
        remove_if_empty(new)
        raise


def new_folders(folder: str | os.PathLike) -> list[Path]:
    """`folder` and its parents that do not exist yet, deepest first: the ones a run that makes
    `folder` creates (`remove_if_empty` takes them back)."""
    folder = Path(folder).absolute()
    new = []
    for f in (folder, *folder.parents):
        if f.exists():
            break
        new.append(f)
    return new


def remove_if_empty(folders: list[Path]) -> None:
    """Remove `folders` (new_folders' list, deepest first) while each is empty: never anything written,
    never a folder that holds something, nor one above it."""
    for f in folders:
        try:
            f.rmdir()  # (only an empty folder)
        except OSError:
            break


def make_dirs(folder: str | os.PathLike) -> Path:
    """mkdir -p, with an OutputError instead of an OSError. (A path through a missing folder then '..', which
    mkdir -p would make, is refused where the command's arguments are read: `refuse_unusable_paths`, once, not
    at each folder made or store-log append.)"""
    given, folder = folder, Path(folder)  # (named as typed: Path('./-') is '-')
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot write {os.fsdecode(given)}: {refusal(given, e)}") from None
    return folder


def refusal(path: str | os.PathLike, e: OSError) -> str:
    """Why the file system refused to make or write `path`, for a one-line error: the file on its way
    when there is one (mkdir's "File exists" or "Not a directory" for a path through a file says
    nothing useful), a broken symbolic link on its way (mkdir's "File exists" again), else the
    system's reason."""
    given, path = os.fsdecode(path), Path(path)

    def named(p: Path) -> str:  # (the path itself as typed: Path('./-') is '-')
        return given if p == path else os.fsdecode(p)

    if e.errno == errno.ENAMETOOLONG:  # (a stat of the path itself would raise it too)
        return e.strerror
    blocker = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), None)
    if blocker is not None:  # (a pipe or a device named as one: 'a file' sent the user looking for a file)
        what = special_file(os.stat(blocker).st_mode) or "a file"
        # (a link named with what it links to, as `special_output` does: 'devnull.json is a device' called the
        # link the device; hostile trial)
        return f"{named(blocker)} is {linked_to(blocker, what)}, not a folder"
    # (a link to nothing: mkdir says "File exists" for it, and ls shows it as present)
    broken = next((p for p in (path, *path.parents) if p.is_symlink() and not p.exists()), None)
    if broken is not None:
        target = os.fsdecode(os.readlink(broken))
        if is_link_loop(broken):  # (no target made mends it: "make what it points to" sent the user round it)
            return f"{named(broken)} is a symbolic link loop (to {target}): remove it, or point it elsewhere"
        *through, missing = link_chain(broken)
        hops = f", through {', '.join(through)}" if through else ""
        return f"{named(broken)} is a broken symbolic link (to {missing}, which does " \
               f"not exist{hops}): remove it, or make what it points to"
    # (mkdir -p: the first folder missing is made in the last one there)
    return taking_nothing(next((p for p in path.parents if p.exists()), Path(".")), e) or e.strerror or \
        type(e).__name__


def link_chain(link: Path) -> list[str]:
    """The names a broken symbolic link `link` leads through, the missing one last: [its target] for one hop
    (as the link holds it); for a chain each hop joined to the folder of the link naming it. Only the first hop
    was named: m3.zip -> mine.zip -> subs/a.zip (missing) said 'to mine.zip, which does not exist', though
    mine.zip is there, a link (hostile trial). (Not for a loop: `is_link_loop`.)"""
    names, at = [], os.fsdecode(link)
    while os.path.islink(at) and len(names) < 40:  # (the system's own limit on links followed)
        hop = os.fsdecode(os.readlink(at))
        names.append(hop if not names else os.path.join(os.path.dirname(names[-1]), hop))
        at = os.path.join(os.path.dirname(at), hop)
    return names


def is_link_loop(path: Path) -> bool:
    """Whether following the link `path` goes round links for good (`ln -s loop loop`, a -> b -> a)."""
    try:
        os.stat(path)
    except OSError as e:
        return e.errno == errno.ELOOP
    return False


def folds_case(path: str | os.PathLike) -> bool:
    """Whether the file system `path` is on (or would be made on) folds case, as macOS's and Windows' do by default:
    there `tHaa.npy` and `THaa.npy`, two YouTube-8M videos, are one file. Found without writing: the first ASCII
    name with letters (one whose other case is plainly that: 'ß' is no 'SS' to a file system), among the real
    path's own entries, then the path itself and its parents, looked up again in the other case: the same entry
    (`lstat`: a link is not what it names) folds; no such name does not. False where no name can tell."""
    path = Path(os.path.realpath(path))  # (a link to a store: the folder it names, on its own file system)
    places = []
    with contextlib.suppress(OSError), os.scandir(path) as entries:  # (a few: a folder may hold millions)
        places = [(path, e.name) for e in itertools.islice(entries, 20)]
    places += [(p.parent, p.name) for p in (path, *path.parents) if p.name]
    for folder, name in places:
        if not name.isascii() or name.swapcase() == name:
            continue
        try:
            this = os.lstat(folder / name)
        except OSError:  # (not there: a parent of a store not yet made)
            continue
        try:
            other = os.lstat(folder / name.swapcase())
        except FileNotFoundError:  # (no such name in the other case: a file system that tells them apart)
            return False
        except OSError:
            continue
        return (this.st_dev, this.st_ino) == (other.st_dev, other.st_ino)
    return False


def lock_path(path: Path) -> Path:
    """The lock file a command holds while it writes `path` (`locks.take_lock`), beside it: `.NAME.lock`."""
    return path.with_name(f".{path.name}.lock")


def name_limit(path: str | os.PathLike) -> int:
    """The longest file name, in bytes, the file system allows in `path`'s folder (its nearest folder there)."""
    path = Path(path)
    folder = next((f for f in (path.parent, *path.parent.parents) if f.is_dir()), Path("."))
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255


def refuse_long_names(paths) -> None:
    """OutputError for an output whose name, with what s2vt adds to it for its lock ('.NAME.lock', take_lock's),
    is longer than the file system allows: said before any work, not a traceback (or a lost result) when it is
    written. (The temp file a write goes through always fits: `temp_path`.)"""
    for path in paths:
        if not path:
            continue
        path = Path(path)
        limit = name_limit(path)
        if len(os.fsencode(lock_path(path).name)) > limit:
            raise OutputError(f"cannot write {os.fsdecode(path)}: its name is too long ({len(os.fsencode(path.name))} "
                              f"bytes; with the '.' and '.lock' of the lock s2vt holds beside it while writing it, the "
                              f"file system allows {limit}): name it shorter")


def check_writable(folder: str | os.PathLike, output: str | os.PathLike | None = None) -> None:
    """Create `folder` and write a scratch file there, so an output that cannot be written (read-only,
    under a file, a full disk) fails now, before the work, not after it (train: when the first
    epoch's checkpoint is saved; an import: after filling a feature store). `output`: the file to be
    written there, which the refusal names (else the folder)."""
    folder = make_dirs(folder)
    try:
        with tempfile.TemporaryFile(dir=folder) as f:  # unnamed where the OS allows: nothing left behind
            f.write(bytes(4096))
            f.flush()
    except OSError as e:
        raise output_error(output or folder, e, folder) from None


def written_file(path: str | os.PathLike) -> Path:
    """The file a write of `path` replaces: the one a symbolic link names (atomic_write_bytes writes through
    a link, the link kept), else `path` itself. Every check, lock and derived name (evaluate's metrics file)
    of an output goes by it: judged by the link's own folder and name, `--out LINK` rewrote a live training
    run's file, locked beside the link while another command wrote the same file (hostile trial). A broken
    link is left as it is, for `refuse_broken_link`."""
    path = Path(path)
    try:
        if path.is_symlink() and path.exists():
            return Path(os.path.realpath(path))
    except OSError:  # (a name too long to look up: refused where the output is checked, as any unusable name)
        pass
    return path


def temp_path(path: Path) -> Path:
    """The hidden name beside `path` that its content is written under before the rename to `path` (a reader
    never finds half a file under the real name): `.NAME.tmp-PID`; for a NAME too long for that (within 9 bytes
    of the file system's limit), NAME cut to fit, a hash of the whole of it after: a legal --out of 247 bytes
    failed with "File name too long" once an import had filled its store (hostile trial)."""
    pid = f".tmp-{os.getpid()}"
    limit = name_limit(path)
    if len(os.fsencode(f".{path.name}{pid}")) <= limit:
        return path.with_name(f".{path.name}{pid}")
    # (the hash: two long names alike in their first bytes never share a temp file)
    tag = "~" + hashlib.sha1(os.fsencode(path.name)).hexdigest()[:12]
    keep = path.name
    while keep and len(os.fsencode(f".{keep}{tag}{pid}")) > limit:  # (by characters: none cut in its bytes)
        keep = keep[:-1]
    return path.with_name(f".{keep}{tag}{pid}")


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` via a temp file and os.replace; nothing partial is left on failure."""
    atomic_write_all([(path, data)])


def write_target(path: str | os.PathLike) -> Path:
    """The file a write of `path` replaces (through a symbolic link: the file it names), its folder made;
    OutputError for a name that holds no file to replace (a folder, a pipe, a broken link)."""
    if what := ends_as_folder(path):  # (before Path drops the '/')
        raise OutputError(f"{os.fsdecode(path)} {what}: name a file to write")
    path = Path(path)
    if path.is_symlink():  # (the rename would replace the link by a plain file: the file it names is written)
        refuse_broken_link(path)
        # (named as typed, with what it links to: judged by its target alone, `import --out devnull.json` said
        # "cannot write /dev/null"; hostile trial)
        refuse_special_outputs([path], folders=True)
        path = written_file(path)
    refuse_special_outputs([path], folders=True)  # (a pipe put there since the command's checks)
    make_dirs(path.parent)
    return path


def atomic_write_all(items) -> None:
    """Write each (path, data) of `items` (data: bytes, or a function that writes into the open file) to a temp
    file beside its path (`temp_path`), then rename each onto its path: all of them or, when one cannot be written
    (a full disk, Ctrl-C), none (its temp files removed). `items` is taken one at a time: a generator need not
    hold every file's bytes at once. (A training epoch's best.pt and last.pt: a full disk at last.pt left the
    first epoch's best.pt without the last.pt that resumes it, a run neither resumable nor to be trained again
    without --overwrite; hostile trial.)"""
    # the file being written, named by an OSError (None while `items` makes the next: an OSError of its own is
    # raised as it is, never said of the file before it)
    staged, writing = [], None
    try:
        for path, data in items:
            writing = Path(path)  # (as given: `write_target` itself may fail, a name too long)
            writing = write_target(path)
            staged.append((temp_path(writing), writing))
            with open(staged[-1][0], "wb") as f:
                data(f) if callable(data) else f.write(data)
            data, writing = None, None  # (not held while `items` makes the next)
        for tmp, writing in staged:  # (renames take no space: a full disk has failed above, before any)
            os.replace(tmp, writing)
    except BaseException as e:  # Ctrl-C or a full disk
        for tmp, _ in staged:
            try:
                tmp.unlink(missing_ok=True)
            except OSError:
                pass
        if isinstance(e, OSError) and writing is not None:
            raise output_error(writing, e, writing.parent) from None
        raise


def json_bytes(path: str | os.PathLike, obj) -> bytes:
    """`obj` as pretty-printed UTF-8 JSON for the file `path`; OutputError (nothing written) for a NaN or infinite
    number, which JSON has no way to write (json's default writes `NaN`, which JSON readers refuse)."""
    try:
        text = json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False)
    except ValueError as e:
        if "Out of range float" not in str(e):  # (a circular reference: a bug, its traceback)
            raise
        raise OutputError(f"cannot write {os.fsdecode(path)}: a value is NaN or infinite, which JSON cannot "
                          "hold (nothing written)") from None
    return (text + "\n").encode()


def atomic_write_json(path: str | os.PathLike, obj) -> None:
    """Pretty-printed UTF-8 JSON, atomically (`json_bytes`)."""
    atomic_write_bytes(path, json_bytes(path, obj))


# the files a training run writes in its folder (engine.RUN_FILES, which mark one, and its plot): no other
# command writes over them, --force or not, in a folder holding a run (`run_file`)
RUN_OUTPUTS = ("best.pt", "last.pt", "metrics.csv", "curves.png")


def run_file(path: str | os.PathLike) -> Path | None:
    """The run folder whose own file `path` is (one of RUN_OUTPUTS, in a folder holding best.pt or last.pt),
    else None: `evaluate --out RUN/metrics.csv --force` replaced a finished run's metrics with predictions."""
    path = Path(path)
    folder = path.absolute().parent
    if path.name in RUN_OUTPUTS and any((folder / name).is_file() for name in ("best.pt", "last.pt")):
        return folder
    return None


def is_checkpoint_file(path: str | os.PathLike) -> bool:
    """Whether `path` is a file in PyTorch's checkpoint format: a whole zip archive (its central directory,
    written last, found), as every torch.save since 1.6 writes (not whether it is an s2vt checkpoint)."""
    import zipfile

    return os.path.isfile(path) and zipfile.is_zipfile(path)


def refuse_checkpoints(outputs: list[Path], command: str) -> None:
    """OutputError for an output that is a PyTorch checkpoint (a finished run's best.pt or last.pt), or
    another file a training run writes in its folder (`run_file`: metrics.csv, curves.png), even with
    --force: `command`'s output written over it loses the model, or the run's record, for good."""
    import zipfile

    for path in outputs:
        if is_checkpoint_file(path):
            try:  # (any whole zip is kept; named as what it is: an export's zip was called a checkpoint, trial 95)
                with zipfile.ZipFile(path) as z:
                    what = "a checkpoint" if torch_saved(z.namelist()) else "a zip archive (an export's, say)"
            except (OSError, zipfile.BadZipFile):
                what = "a zip archive"
            raise OutputError(f"cannot write {path}: it is {what}: {command} never writes over one")
        if (run := run_file(path)) is not None:
            raise OutputError(f"cannot write {path}: {path.name} is a file of the training run in {run}: {command} "
                              "never writes over one")


# What a name holds when it is no regular file, by its mode, in words: one table for every refusal that says it
# (test, word, precise word): the word ends an output's or a store's line ('it is a pipe, not a regular file',
# `special_file`), the precise one an input's (`not_a_file`: 'a pipe (FIFO)', 'a character device')
FILE_KINDS = ((stat.S_ISDIR, "a folder", "a folder"), (stat.S_ISFIFO, "a pipe", "a pipe (FIFO)"),
              (stat.S_ISSOCK, "a socket", "a socket"), (stat.S_ISCHR, "a device", "a character device"),
              (stat.S_ISBLK, "a device", "a block device"))


def not_a_file(path: str | os.PathLike) -> str | None:
    """What `path` names when there is no regular file to read there, in words for an input's one-line refusal: 'a
    folder', 'a pipe (FIFO)', 'a socket', 'a character device', 'a block device', 'a broken symbolic link (to T)',
    'a symbolic link loop (to T)'; None for a regular file (through links) and for nothing there at all (the
    caller's 'not found'). Called missing, a pipe (`<(cat m.jsonl)`), /dev/zero or a dangling link sent the user
    looking for a file that is there (hostile trial)."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return dangling_link(path)
    except ValueError:  # (a NUL in the name: nothing there to name)
        return None
    return special_file(mode, precise=True)


def dangling_link(path: str | os.PathLike, broken: str = "a broken symbolic link (to {}, which does not exist)"
                  ) -> str | None:
    """What the symbolic link `path` is when following it finds nothing, in words: 'a symbolic link loop (to T)',
    or `broken` with T in it; None when `path` is no such link (`not_a_file`'s, `store.not_a_folder`'s)."""
    if not os.path.islink(path) or os.path.exists(path):
        return None
    try:
        target = os.fsdecode(os.readlink(path))
    except OSError:
        return None
    return f"a symbolic link loop (to {target})" if is_link_loop(Path(path)) else broken.format(target)


def special_file(mode: int, precise: bool = False) -> str | None:
    """What a file of `mode` is when not a regular file, in words (`not_a_lock`'s; `precise`: `not_a_file`'s, from
    the one table FILE_KINDS); None for a regular one."""
    for test, word, exact in FILE_KINDS:
        if test(mode):
            return exact if precise else word
    return None if stat.S_ISREG(mode) else "not a regular file"


def refuse_special(path: str | os.PathLike | int, refused: Callable[[str], UserError], folders: bool = True) -> None:
    """Raise `refused(WHAT)` when `path` (followed through links; or an open descriptor) is there and is not a
    regular file: a pipe, a socket, a device, a folder unless `folders` is False (WHAT: `special_file`'s words).
    The one check of "this name holds no file" (a lock's, a store's log, an output's): each caller words the
    refusal for what s2vt keeps under the name. Nothing there, or not to be looked up: no refusal (said where
    the path is opened)."""
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):
        return
    if (what := special_file(mode)) and (folders or what != "a folder"):
        raise refused(what)
