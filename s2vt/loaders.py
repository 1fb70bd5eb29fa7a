"""The shutdown of DataLoader worker processes, for an interrupted run's one `interrupted:` line.

A Ctrl-C or SIGTERM reaches the whole process group: workers that died of it made the loader print
a traceback before that line, and workers left alive at exit kept the process waiting. Here the
workers ignore the signals (`worker_ignores_interrupts`) and the training process ends them itself:
when the epoch's iterator is done with (`close_loader`), or at exit for one an interrupted epoch
kept alive (`LIVE_LOADERS`, `close_live_loaders`).
"""
from __future__ import annotations

import atexit
import sys
import weakref

import torch.utils.data  # noqa: F401  (torch's and multiprocessing's exit hooks registered before ours: ours runs first)

from .errors import interrupts_held


def worker_ignores_interrupts(worker: int) -> None:
    """A DataLoader worker's init: a Ctrl-C or SIGTERM (sent to the whole process group, as a terminal
    or `timeout` does) is the training process's to act on, which then ends the workers itself
    (`close_loader`); a worker ended by the signal made the loader print a traceback before the
    `interrupted:` line."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sys.excepthook = quiet_lost_peer(sys.excepthook)


def quiet_lost_peer(hook):
    """`hook` but silent for a broken connection outside the main thread. A worker hands each batch's shared memory
    to the training process through multiprocessing's resource sharer, whose thread prints any error of a
    connection with `sys.excepthook`: a training process interrupted mid-handshake left a worker printing
    `BrokenPipeError` (cut short as the worker was ended) before the `interrupted:` line (a flaky test)."""
    import multiprocessing
    import threading

    def excepthook(kind, value, tb):
        lost = issubclass(kind, (OSError, EOFError, multiprocessing.AuthenticationError))
        if not (lost and threading.current_thread() is not threading.main_thread()):
            hook(kind, value, tb)
    return excepthook


LIVE_LOADERS: weakref.WeakSet = weakref.WeakSet()  # the iterators of `shards.ShardStream.batches` with workers, until closed


@atexit.register  # (after torch's and multiprocessing's registered: it runs before them)
def close_live_loaders() -> None:
    """At exit, the workers of an iterator not closed yet (an interrupted epoch's, kept by a reference
    cycle): multiprocessing's own exit ends daemon processes with SIGTERM, which the workers ignore, and
    then waits for them."""
    for it in list(LIVE_LOADERS):
        close_loader(it)


def close_loader(it) -> None:
    """Ends the worker processes of a DataLoader iterator now (they ignore SIGTERM, so one still alive
    after the loader's own shutdown is killed), for an interrupted run's one `interrupted:` line with no
    `Exception ignored in ... __del__` traceback before it. Closed only once it has closed (marked so, and out of
    LIVE_LOADERS, at the end): a signal before its hold leaves it to a call again (`shards.ShardStream.batches`
    calls it until it returns) or to the one at exit."""
    if not hasattr(it, "_workers") or getattr(it, "closed_by_s2vt", False):  # (no workers, or closed at exit)
        LIVE_LOADERS.discard(it)
        return
    stopping = sys.exc_info()[1] is not None  # (an interrupt or an error on its way out: this is its finally)
    try:
        with interrupts_held():  # (a Ctrl-C while they stop: acted on once they have, or dropped when stopping)
            shutdown = getattr(it, "_shutdown_workers", None)  # (workers > 0: torch's multiprocessing iterator)
            if shutdown is not None:
                shutdown()  # (again after an interrupted call: it does nothing once done)
            for w in getattr(it, "_workers", []):
                if w.is_alive():
                    w.kill()
                    w.join()
            it.closed_by_s2vt = True
            LIVE_LOADERS.discard(it)
    except KeyboardInterrupt:
        if not stopping:
            raise
