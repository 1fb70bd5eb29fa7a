"""Lock files: held (created with O_EXCL, this process's pid, start time and host inside) by the process
writing a folder or an output, removed when it ends, so two runs never write the same outputs at once
(`s2vt demo`'s folder, `s2vt evaluate`'s --out, a training run's folder); one whose process is gone (killed)
is stale and taken over.
"""
from __future__ import annotations

import contextlib
import errno
import os
import re
import socket
import time
from pathlib import Path
from typing import Callable

from .errors import UserError
from .fileio import OutputError, check_writable, lock_path, refusal, refuse_special, removed_if_failed

try:
    import fcntl
except ImportError:  # pragma: no cover - (not POSIX: stale locks are taken over unguarded)
    fcntl = None

# the lock a training run holds in its run folder (rank 0's pid) from its checks to its end: two runs into one
# --out at once wrote over each other's checkpoints, and the result each printed was not the folder's; an
# evaluate writing into such a folder is refused too (predict.refuse_training_runs)
TRAIN_LOCK = ".s2vt-train.lock"

LOCK_WRITING_S = 10  # a lock still empty (its pid not written yet) is another run's for this long


def is_lock_name(name: str) -> bool:
    """A lock file's name (`lock_path`'s, or the demo's `.s2vt-demo.lock`)."""
    return name.startswith(".") and name.endswith(".lock")


def process_start(pid: int) -> str | None:
    """When process `pid` started (Linux: field 22 of /proc/PID/stat, clock ticks since boot), written in a
    lock beside the pid: a lock whose pid is now another process's (reused after a reboot or a container
    restart) is stale. None where that cannot be read (no /proc, the process gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    fields = stat.rsplit(b")", 1)[-1].split()  # (after the command's name, which may hold spaces)
    start = fields[19] if len(fields) > 19 else b""  # (fields 3 on: 22 is the 20th)
    return start.decode("ascii") if start.isdigit() else None


def this_host() -> str:
    """This machine's name as a lock records it (socket.gethostname, one word of printable ASCII)."""
    return "".join(c if "!" <= c <= "~" else "_" for c in socket.gethostname()) or "_"


class LockHolder(int):
    """The pid of a lock taken on another host (`host`: its name). An int, so every caller of `lock_owner`
    and every `busy` takes it as any pid; `busy_line` names the host."""
    host: str

    def __new__(cls, pid: int, host: str) -> LockHolder:
        holder = super().__new__(cls, pid)
        holder.host = host
        return holder


def lock_text(pid: int | None = None) -> str:
    """What this process writes in a lock: its pid, its start time ('-' where unknown: `process_start`)
    and this host's name: a run on a shared file system is then never judged by another machine's
    processes (its pid absent there, its lock was taken over as stale). `pid`: another process of this
    host's, as its lock would read (a test's stand-in for a running command)."""
    pid = os.getpid() if pid is None else pid
    return f"{pid} {process_start(pid) or '-'} {this_host()}\n"


# a lock's one line: "PID START HOST\n" (START '-' where unknown: `lock_text`); written before, "PID START\n" and
# "PID\n" (HOST: `this_host`'s printable ASCII)
LOCK_LINE = re.compile(rb"([0-9]+)(?: ([0-9]+)| ([0-9]+|-) ([!-~]+))?\n")
LOCK_WHOLE = re.compile(rb"[0-9]+ (?:[0-9]+|-) [!-~]+")  # (`lock_text`'s line without its newline: `lock_owner`)
LOCK_CUT = re.compile(rb"[0-9]+(?: (?:(?:[0-9]+|-) ?)?)?")  # (one cut before its host: `lock_owner`)
LOCK_MAX_BYTES = 512  # more than any lock holds: a bigger file is not one, and is never read whole


def read_lock(lock: Path) -> tuple[bytes, float] | None:
    """The first LOCK_MAX_BYTES + 1 bytes of `lock` and its age in seconds; None when there is none (a
    dangling symbolic link too: taken over, as a link to a stale lock is). Never blocks nor reads without
    bound: a pipe there hung the command for good, a link to /dev/zero read until memory ran out, and a
    link loop was an OSError traceback (hostile trial); those, a folder, a socket or a device are
    OutputError, not s2vt's lock. Other OSErrors (unreadable) are raised as they are."""
    try:
        # the type before opening: opening a device may do something (a tape rewinds, a watchdog arms)
        refuse_special(lock, lambda what: not_a_lock(lock, what))
        # O_NONBLOCK: a pipe put there since the stat opens at once instead of waiting for a writer
        fd = os.open(lock, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except FileNotFoundError:
        return None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise not_a_lock(lock, "a symbolic link loop") from None
        raise
    try:
        refuse_special(fd, lambda what: not_a_lock(lock, what))  # (replaced between the stat and the open)
        info = os.fstat(fd)
        return os.read(fd, LOCK_MAX_BYTES + 1), time.time() - info.st_mtime
    finally:
        os.close(fd)


def lock_owner(lock: Path) -> int | None:
    """The pid of the live process that holds `lock` (-1: one that has not written its pid yet); None
    for no lock or a stale one (its process is gone, or empty for LOCK_WRITING_S, or its pid now another
    process's: started at another time than the lock says; a lock of a pid alone, as written before, of
    no start time ('-'), or of one that cannot be checked now (/proc/PID/stat unreadable) is not checked so: a
    BarePid). A lock of another host is live: a LockHolder naming it. A file of that name holding
    anything else is not s2vt's (a user's own), nor is
    anything but a regular file (`read_lock`): OutputError, never taken over (removed)."""
    if (got := read_lock(lock)) is None:
        return None
    data, age = got
    if len(data) > LOCK_MAX_BYTES:
        raise not_a_lock(lock, "a file that holds something other than a process id")
    if not data:  # (created, its pid not yet written; or its writer killed then, and old)
        return -1 if age < LOCK_WRITING_S else None
    if not data.endswith(b"\n"):
        # a write cut short (a full disk): read as the lock it is wherever that can be told, by every command
        # alike (train called a live run's lock not s2vt's, evaluate wrote past it; hostile trial). The whole
        # "PID START HOST": its pid and start end at a space (a host cut short reads as another host's: live,
        # never taken over). Shorter, where its pid or start ended cannot be told: refused, never taken over.
        if LOCK_CUT.fullmatch(data):
            raise not_a_lock(lock, "not in s2vt's lock format: no trailing newline")
        if LOCK_WHOLE.fullmatch(data):
            data += b"\n"
    # exactly as s2vt writes it (`lock_text`): read loosely, "12345\n67890\n" or "300 400" was taken for
    # "PID START" and, its pid gone, removed as stale, though a file holding anything else is the user's
    if (line := LOCK_LINE.fullmatch(data)) is None:
        raise not_a_lock(lock, "a file that holds something other than a process id")
    parts = [p.decode("ascii") for p in line.groups() if p is not None]
    pid = int(parts[0])
    if pid <= 0:  # (no process's id: os.kill(0, 0) signals the caller's own group, so '0' was live for good)
        raise not_a_lock(lock, "a file that holds something other than a process id")
    if len(parts) == 3 and parts[2] != this_host():
        # another machine's run (a shared file system): its process cannot be looked up from here, so
        # it is live; the refusal names the host, where the user can tell (`busy_line`)
        return LockHolder(pid, parts[2])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:  # (another user's process: alive)
        pass
    except (OverflowError, ValueError):  # (no such process id can exist)
        raise not_a_lock(lock, "a file that holds something other than a process id") from None
    start = process_start(pid) if len(parts) >= 2 and parts[1] != "-" else None
    if start is not None and start != parts[1]:
        return None  # (the pid reused: another process than the one that took the lock)
    if len(parts) >= 2 and parts[1] != "-" and start is None:  # (recorded, but nothing to check it against)
        return BarePid(pid, f"the start time the lock records cannot be checked: /proc/{pid}/stat cannot be read "
                            "now, so a process that got that pid since cannot be told from the one that took the lock")
    if len(parts) == 1:
        return BarePid(pid, "the lock holds a process id alone, as older s2vt versions wrote it")
    if parts[1] == "-":  # (written where the system gave no start time: the pid alone is checked, as above)
        return BarePid(pid, "the lock records no start time beside it, so a process that got that pid since cannot "
                            "be told from the one that took the lock")
    return pid


class BarePid(int):
    """The pid of a live process named by a lock without its start time (`why`, in words): a pid alone, as s2vt
    wrote before it recorded one, or 'PID - HOST', written where the system gave none; or with one that cannot be
    read for the process now, to compare. It may be any process that
    got that pid since (pid 1 was said as "another s2vt evaluate"; hostile trial). An int, as `lock_owner`'s
    callers take it; `busy_line` words it as not known to be s2vt's."""
    why: str

    def __new__(cls, pid: int, why: str) -> BarePid:
        bare = super().__new__(cls, pid)
        bare.why = why
        return bare


class LockFileError(OutputError):
    """A lock file the file system refused to make (`error`, its OSError: a caller may word it itself)."""

    def __init__(self, message: str, error: OSError) -> None:
        super().__init__(message, error.errno)
        self.error = error


def not_a_lock(lock: Path, what: str) -> OutputError:
    return OutputError(f"{os.fsdecode(lock)} is not s2vt's lock ({what}), but s2vt writes its lock under that name: "
                       "move or rename it")


def take_lock(lock: Path, busy: Callable[[int], UserError]) -> Path:
    """Create `lock` (O_EXCL: of two runs starting together one gets it) with this pid; a stale one
    is replaced (one that is empty or names a process that is gone: anything else is not s2vt's,
    an OutputError). Raises `busy(pid)` while another live process holds it (pid -1: not written yet),
    and OutputError for a lock the file system refuses to make (a name too long, a read-only folder)."""
    for _ in range(3):  # (a race with another run lost and won again is refused)
        if create_lock(lock):
            return lock
        # the stale lock is judged and replaced under the guard: unguarded, of two runs that both found it
        # stale one could remove the lock the other had just made in its place, and both ran (two train.py
        # into one --out after a SIGKILL: 2 of 200 trials, hostile trial)
        with takeover_guard(lock):
            if (pid := lock_owner(lock)) is not None:
                raise busy(pid)
            lock.unlink(missing_ok=True)
            if create_lock(lock):
                return lock
            # (made since by a run that found no lock at all, unguarded: judged again)
    if (pid := lock_owner(lock)) is not None:
        raise busy(pid)
    raise busy(-1)


def create_lock(lock: Path) -> bool:
    """Make `lock` with this process's `lock_text`: False when a file of that name exists; LockFileError
    when the file system refuses it."""
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    except OSError as e:
        why = refusal(lock, e) + (" (the lock's name is the output's with '.' before and '.lock' after: "
                                  "name the output shorter)" if e.errno == errno.ENAMETOOLONG else "")
        raise LockFileError(f"cannot write the lock file {os.fsdecode(lock)}: {why}", e) from None
    # the pid's write can fail where the name was made (a full disk has inodes left): the lock is removed again,
    # or the empty file left read as a run still writing its pid, and a rerun was refused (hostile trial)
    text = lock_text().encode("ascii")
    try:
        try:
            if os.write(fd, text) != len(text):  # (a short write: the disk filled as it wrote)
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        finally:
            os.close(fd)
    except BaseException as e:  # (a Ctrl-C too: no empty lock left)
        with contextlib.suppress(OSError):
            lock.unlink()
        if isinstance(e, OSError):
            raise LockFileError(f"cannot write the lock file {os.fsdecode(lock)}: {refusal(lock, e)}", e) from None
        raise
    return True


@contextlib.contextmanager
def takeover_guard(lock: Path):
    """Held while a stale `lock` is judged and replaced (`take_lock`): flock on the lock's folder, so no
    file is left behind (a guard file would need a guard of its own to be removed safely). Where the
    folder cannot be opened or the file system has no flock, nothing is held: the takeover as before."""
    fd = None
    if fcntl is not None:
        try:
            fd = os.open(lock.parent, os.O_RDONLY | os.O_DIRECTORY)
            fcntl.flock(fd, fcntl.LOCK_EX)  # (waits for another run's takeover: a few system calls)
        except OSError:
            pass
    try:
        yield
    finally:
        if fd is not None:
            os.close(fd)  # (releases the flock)


def busy_line(subject: str, who: str, pid: int, doing: str, instead: str, lock: Path) -> str:
    """The line for a command refused by a live lock (the `busy` of `take_lock`, or a check before one):
    `SUBJECT: WHO (pid N) DOING: wait for it to end, or INSTEAD (if none runs, remove LOCK)`; pid -1 (not
    written yet) is not named, nor INSTEAD when empty. A lock of another host (a LockHolder) names it:
    `WHO on host H (pid N) ... (if none runs on H, remove LOCK)`: from here it cannot be told; one of a pid alone
    or without its start time (a BarePid) is not said to be WHO at all."""
    if isinstance(pid, BarePid):
        return (f"{subject}: the lock file {os.fsdecode(lock)} names pid {pid}, a running process that may not be "
                f"{who} ({pid.why}): remove "
                f"{os.fsdecode(lock)} if no s2vt command is running" + (f", or {instead}" if instead else ""))
    host = getattr(pid, "host", None)
    return (f"{subject}: {who}" + (f" on host {host}" if host else "") + (f" (pid {pid})" if pid > 0 else "")
            + f" {doing}: wait for it to end" + (f", or {instead}" if instead else "")
            + f" (if none runs{f' on {host}' if host else ''}, remove {os.fsdecode(lock)})")


def training_run(folder: Path) -> int | None:
    """The pid of the live training run holding `folder` (its TRAIN_LOCK; -1: its pid not written yet), None
    when none does; OutputError for a file of that name that is not s2vt's lock (`lock_owner`)."""
    return lock_owner(Path(folder) / TRAIN_LOCK)


def release_lock(lock: Path) -> None:
    """Remove `lock` if it is still this process's (a stale one taken over by another run is not)."""
    try:
        got = read_lock(lock)  # (bounded, never blocking: a pipe put there since must not hang the run's end)
    except (OutputError, OSError):  # (not a lock any more, or unreadable: not this process's to remove)
        return
    parts = got[0].split() if got is not None else []
    # (this pid, and this host where the lock names one: the same pid on another machine is another run)
    if parts[:1] == [str(os.getpid()).encode()] and parts[2:] in ([], [this_host().encode()]):
        lock.unlink(missing_ok=True)


@contextlib.contextmanager
def locked(lock: Path, busy: Callable[[int], UserError]):
    """Hold `lock` (take_lock) while the block runs, released however it ends."""
    take_lock(lock, busy)
    try:
        yield lock
    finally:
        release_lock(lock)


def writing_elsewhere(path: Path, option: str, subject: str | None = None, command: str = "evaluate"):
    """The refusal for an output another s2vt `command` is writing (the `busy` of `take_lock`); `subject`: the
    output as the user knows it (else `option` and `path`)."""
    def busy(pid: int) -> OutputError:
        return OutputError(busy_line(subject or f"{option}{path}", f"another s2vt {command}", pid, "is writing it",
                                     f"name another {option.strip() or '--out'}", lock_path(path)))
    return busy


@contextlib.contextmanager
def writing_alone(path: Path, busy: Callable[[int], UserError]):
    """Hold `path`'s lock (`lock_path`) while the block checks what is there and writes it: two runs writing one
    output at once each checked before either wrote, so both passed and the last silently replaced the other's
    (hostile trial). Its folder is made and checked writable first (`check_writable`: a folder that takes no file,
    or a full disk, is said of the output, not of the lock beside it), and removed again, left empty, if the
    block fails."""
    with removed_if_failed(path.parent):
        check_writable(path.parent, path)
        with locked(lock_path(path), busy):
            yield
