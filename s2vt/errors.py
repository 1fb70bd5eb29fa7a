"""The base class of the errors a user's input causes (a file, an argument, a checkpoint), how
a warning reads on the command line, and how a command-line entry point takes Ctrl-C and SIGTERM."""
import contextlib
import os
import re
import shlex
import signal
import sys
import threading


class UserError(Exception):
    """Bad input: the command-line tools print its message on one line and exit 2, no traceback."""


class SaidByAnotherRank(UserError):
    """Under torchrun, another rank's refusal, sent to this one so that it ends too, exit 2, printing nothing: the
    rank that made it prints its line (`engine.Dist.decided`: what rank 0 alone checks, the run folder and its
    lock; `engine.Dist.agreed`: what every rank reads alike, refused by rank 0 once, not once a rank)."""


def another_rank_says_it() -> bool:
    """Whether this process is a rank other than 0 of a one-machine torchrun launch (TORCHELASTIC_RUN_ID set,
    WORLD_SIZE = LOCAL_WORLD_SIZE above 1, RANK not 0): a refusal of the command line (an option argparse refuses, a
    setting out of range or naming a path that is not there: `SettingError`), made before the ranks connect, is
    then every rank's alike and said by rank 0 alone (it was printed once a rank, the lines run together). Not
    across machines (a path one lacks: its rank says it) nor outside torchrun (a cluster may set RANK and
    WORLD_SIZE for every process: each says its own)."""
    env = os.environ
    try:
        return ("TORCHELASTIC_RUN_ID" in env and int(env.get("WORLD_SIZE", "1")) > 1
                and env.get("LOCAL_WORLD_SIZE") == env.get("WORLD_SIZE") and int(env.get("RANK", "0")) != 0)
    except ValueError:  # (not torchrun's: said as usual)
        return False


def wait_for_rank_0(seconds: float = 10.0) -> None:
    """For a rank whose refusal rank 0 says (`another_rank_says_it`): wait for torchrun to end this process once
    rank 0 has said it and exited (its SIGTERM, or a Ctrl-C: exit 2, nothing said), else `seconds`. Exiting at
    once, this rank could end first: torchrun then stopped rank 0 before its line, which said 'interrupted'
    instead (a flaky test)."""
    import time

    def quiet(signum, frame):
        os._exit(2)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, quiet)
    time.sleep(seconds)


def left_to_rank_0() -> bool:
    """Whether a refusal of the command line is rank 0's to say (`another_rank_says_it`); if so, this rank has
    waited for torchrun to end it (`wait_for_rank_0`) and says nothing."""
    if another_rank_says_it():
        wait_for_rank_0()
        return True
    return False


class SettingError(UserError, ValueError):
    """A setting (an option, or one a checkpoint recorded) out of range or not one of its allowed
    values. Also a ValueError: code that checks settings by catching ValueError still does."""


def one_line_warning(message, category, filename, lineno, line=None) -> str:
    """`warnings.formatwarning` for the command-line tools: `warning: MESSAGE`, one line like the
    printed ones, not Python's `FILE:LINE: UserWarning: MESSAGE` with the source line under it (a newline or an
    escape sequence in a name it holds escaped: the line was split, the screen cleared; trial 122)."""
    return f"warning: {one_line(str(message))}\n"


class ForgivingStderr:
    """sys.stderr for a program (`guard_stderr`): a write or flush that fails (`2>/dev/full`: ENOSPC; a reader
    gone: EPIPE) is a diagnostic lost, not the run's end. It raised out of the first warning or progress line,
    and train and extract exited 1 having done nothing (hostile trial). Anything else is the stream's own."""

    def __init__(self, stream) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        try:
            return self.stream.write(text)
        except OSError:
            return len(text)

    def flush(self) -> None:
        with contextlib.suppress(OSError):
            self.stream.flush()

    def __getattr__(self, name: str):
        return getattr(self.stream, name)


def guard_stderr() -> None:
    """For a program's entry point, first thing: diagnostics that cannot be written do not stop the work. A
    closed stderr (`2>&-`: sys.stderr None, which `print(file=sys.stderr)` takes for stdout and `.isatty()`
    and tqdm fail on) becomes /dev/null, fd 2 included (else the next file opened takes fd 2, and whatever
    writes there, a child or a C library, writes into it); writes that fail are dropped (`ForgivingStderr`).
    tqdm, the warnings and logging read sys.stderr when they write, so they follow. Done once."""
    if isinstance(sys.stderr, ForgivingStderr):
        return
    if sys.stderr is None:
        try:
            os.fstat(2)
        except OSError:  # (closed: /dev/null takes its place; one that is open is someone's file, left alone)
            null = os.open(os.devnull, os.O_WRONLY)  # (fd 2 itself when 0 and 1 are open: the lowest free one)
            if null != 2:
                os.dup2(null, 2)
                os.close(null)
            sys.stderr = open(2, "w", buffering=1, errors="backslashreplace", closefd=False)
        else:
            sys.stderr = open(os.devnull, "w")
    sys.stderr = ForgivingStderr(sys.stderr)


def interrupt_quietly(argv: list[str] | None = None) -> None:
    """For a command-line entry point, before its heavy imports: a Ctrl-C or SIGTERM that no handler catches
    (one while the modules load, before the command's own `interrupted:` line) prints `interrupted: while
    starting, ...` (with the line that starts `argv`, a command and its arguments, again), not a traceback
    through the imports nor, for SIGTERM, a silent end; the exit status is the signal's (130, 143). Only the
    standard library: it is in place before anything heavy loads. `terminate_as_interrupt` takes SIGTERM over
    once the command runs. Also `guard_stderr`."""
    guard_stderr()
    previous = sys.excepthook

    def hook(kind, value, tb):
        if not issubclass(kind, KeyboardInterrupt):
            previous(kind, value, tb)
            return
        for s in (signal.SIGINT, signal.SIGTERM):  # (a second signal: no traceback out of this hook)
            with contextlib.suppress(Exception):
                signal.signal(s, signal.SIG_IGN)
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            print(starting_line(argv), file=sys.stderr, flush=True)
        os._exit(TERMINATED if issubclass(kind, Terminated) else INTERRUPTED)
    sys.excepthook = hook
    if threading.current_thread() is not threading.main_thread():
        return
    if argv and argv[:1] == ["serve"]:  # (serve stops on them even inherited ignored: `signals_honoured`)
        unignore_interrupts()
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, terminated_while_starting)


def terminated_while_starting(signum, frame) -> None:
    """SIGTERM's handler from `interrupt_quietly` until `terminate_as_interrupt` replaces it."""
    raise Terminated


def unignore_interrupts() -> dict:
    """An inherited SIG_IGN of SIGINT (bash starts a script's `cmd &` so) or SIGTERM replaced by the handlers
    of the foreground: a KeyboardInterrupt, `Terminated`. The handlers replaced, by signal. Main thread only."""
    replaced = {}
    for s, handler in ((signal.SIGINT, signal.default_int_handler), (signal.SIGTERM, terminated_while_starting)):
        if signal.getsignal(s) is signal.SIG_IGN:
            replaced[s] = signal.signal(s, handler)
    return replaced


@contextlib.contextmanager
def signals_honoured():
    """For serve, while it runs: a SIGINT or SIGTERM stops it even when inherited ignored, from its start (its
    model loading) as once it serves (uvicorn stops on them whatever their handler; the signal it re-raises
    then decides the exit status and line). An inherited SIG_IGN swallowed one while the model loaded, and the
    server went on to serve. A SIGHUP at its default (which ended it at once, 129 with no line) stops it as
    SIGTERM does, exit 129 (`HungUp`); one ignored (`nohup`) stays ignored. The handlers before are put back
    at the end. Outside the main thread, nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    replaced = unignore_interrupts()
    if hasattr(signal, "SIGHUP") and signal.getsignal(signal.SIGHUP) is signal.SIG_DFL:
        replaced[signal.SIGHUP] = signal.signal(signal.SIGHUP, hung_up)
    try:
        yield
    finally:
        for s, handler in replaced.items():
            signal.signal(s, handler)


# what a line cannot show as it is (a regex class's ranges): control characters (C0, DEL, C1, the Unicode line
# and paragraph separators) and the invisible ones that reorder or hide a line's text (bidirectional overrides and
# isolates, zero-width characters, the byte-order mark; trial 122); `one_line` escapes them in a message
CONTROL_CHARS = "\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
# what a pasted word cannot hold as it is: those and a file name's undecodable bytes (os.fsdecode's surrogate
# escapes)
_UNPASTABLE = re.compile(f"[{CONTROL_CHARS}\udc80-\udcff]")


def printable(text: str) -> str:
    """`text` that encodes as UTF-8: the raw bytes of a non-UTF-8 file name (which os.fsdecode
    keeps as lone surrogates) and any other lone surrogate become backslash escapes (\\xff)."""
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate no file name decodes to (e.g. a JSON "\\ud800")
        raw = text.encode("utf-8", "backslashreplace")
    return raw.decode("utf-8", "backslashreplace")


_CONTROL = re.compile(f"[{CONTROL_CHARS}]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def one_line(text: str) -> str:
    """`printable(text)` for a terminal line: control characters (C0, DEL, C1, the Unicode line and paragraph
    separators) escaped too (`\\n`, `\\x1b`, `\\u2028`), as the bytes of a name that is not UTF-8 are. A file
    name holding a newline, printed as is, broke caption.py's one line per video (and an escape sequence
    would act on the terminal). JSON output needs no such escaping: json.dumps writes them escaped."""
    # (C1 as \\u0085: \\x85 is how `printable` shows a name's byte 0x85, another name; trial 122)
    return _CONTROL.sub(lambda m: _NAMED.get(m[0]) or (f"\\x{ord(m[0]):02x}" if ord(m[0]) < 0x80
                                                          else f"\\u{ord(m[0]):04x}"), printable(text))


def shell_quote(word: str) -> str:
    """`shlex.quote`, but a word holding what a line cannot show (a newline in a file name, an undecodable byte)
    in bash's $'...' with it escaped: the line stays one line, and pasted it is the same word (a newline inside
    '...' broke the `interrupted:` line in two)."""
    if not _UNPASTABLE.search(word):
        return shlex.quote(word)

    def escaped(c: str) -> str:
        n = ord(c)
        if 0xDC80 <= n <= 0xDCFF:  # (the byte itself)
            return f"\\x{n - 0xDC00:02x}"
        if c in "\\'":
            return "\\" + c
        # (a character past ASCII as its UTF-8 bytes: bash reads \\u only in a UTF-8 locale, \\x in any; trial 121)
        return "".join(f"\\x{b:02x}" for b in c.encode()) if _UNPASTABLE.match(c) else c
    return "$'" + "".join(map(escaped, word)) + "'"


def listed(words) -> str:
    """'a', 'a and b', 'a, b and c': `words` (strings, or anything str() says) as a sentence lists them."""
    words = [str(w) for w in words]
    return " and ".join([", ".join(words[:-1]), words[-1]] if len(words) > 1 else words)


def counted(n: int, what: str) -> str:
    """'1 video', '2 videos': a count and its noun, plural but for one."""
    return f"{n} {what}{'s' * (n != 1)}"


def shell_join(words) -> str:
    """`shlex.join` by `shell_quote`."""
    return " ".join(map(shell_quote, words))


def again_line(argv: list[str] | None, commands: tuple[str, ...] | None = None) -> str:
    """The command line that starts `argv` (a command and its arguments) again, quoted to paste, when its
    first word is one of `commands` (the CLI's; None, from an entry point whose CLI has not loaded: any
    first word that is not an option); "" otherwise."""
    first = argv[0] if argv else ""
    known = first in commands if commands is not None else bool(first) and not first.startswith("-")
    return shell_join([*invoked_as(first), *argv[1:]]) if known else ""


def starting_line(argv: list[str] | None, commands: tuple[str, ...] | None = None) -> str:
    """The line of a Ctrl-C or SIGTERM while the program was starting (its modules loading), before the
    command's own handling: nothing was written yet; how to start `argv` again (`again_line`)."""
    again = again_line(argv, commands)
    return "interrupted: while starting, before anything was written" + (f"; to start again: {again}" if again else "")


INTERRUPTED = 130  # a command's exit status after a Ctrl-C (128 + SIGINT), with its `interrupted` line
TERMINATED = 128 + signal.SIGTERM  # 143: the same after a SIGTERM (a `kill`, a job scheduler, a container stop)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the main thread is (`terminate_as_interrupt`). A KeyboardInterrupt, so every
    command's Ctrl-C handling runs for it too: its `interrupted:` line saying what was written and how to
    start again, its finally blocks (locks, temporary files, output folders it made), and atexit (the
    METEOR JVM)."""
    status = TERMINATED  # (the exit status of the command it stops)


# the process that started this one, as it was when s2vt loaded (one of the first modules a command imports):
# a parent gone since then has left this process to another (init, a subreaper) by the time it asks to hear of it
LAUNCHER = os.getppid()
# (a child forked after the import starts afresh: its parent, not the one inherited, which as the grandparent
# read as the launcher gone, and the child sent itself SIGTERM; review)
os.register_at_fork(after_in_child=lambda: globals().update(LAUNCHER=os.getppid()))
PR_SET_PDEATHSIG = 1  # (linux/prctl.h)


def end_with_launcher() -> None:
    """A rank that torchrun started (LOCAL_RANK or TORCHELASTIC_RUN_ID set) gets SIGTERM from the kernel when
    torchrun dies, and stops as on any SIGTERM (`Terminated`: its `interrupted:` line, the run folder's lock
    released). torchrun killed (`timeout -s KILL`, the OOM killer) left its ranks training on to the end as
    orphans, rank 0 holding the lock (hostile trial). Linux only (prctl); anywhere else, or not under torchrun,
    nothing."""
    if not sys.platform.startswith("linux") or not {"LOCAL_RANK", "TORCHELASTIC_RUN_ID"} & os.environ.keys():
        return
    import ctypes
    try:
        if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            return
    except (OSError, AttributeError):  # (a libc without prctl)
        return
    if os.getppid() != LAUNCHER:  # (torchrun died before the request: no signal will come for it)
        os.kill(os.getpid(), signal.SIGTERM)


HUNG_UP = 129  # 128 + SIGHUP: the terminal or ssh session that started serve closed (`signals_honoured`)


class HungUp(Terminated):
    """SIGHUP, where a command takes it as SIGTERM (serve, `signals_honoured`): exit 129, not SIGHUP's silent
    end."""
    status = HUNG_UP


def hung_up(signum, frame) -> None:
    """SIGHUP's handler while serve runs (`signals_honoured`), uvicorn's own once it serves aside."""
    raise HungUp


@contextlib.contextmanager
def interrupts_unwrapped():
    """A Ctrl-C or SIGTERM as itself when Python wrapped it: before 3.12 an exception raised while a class is
    made (a signal while a module such as matplotlib defines its classes, in `__set_name__`) comes out as a
    RuntimeError whose cause is the KeyboardInterrupt, so an `except KeyboardInterrupt` missed it and the
    user got a traceback (train.py stopped while it first drew curves.png)."""
    try:
        yield
    except RuntimeError as e:
        if isinstance(e.__cause__, KeyboardInterrupt):
            raise e.__cause__ from None
        raise


@contextlib.contextmanager
def terminate_as_interrupt():
    """For a command-line entry point: while the block runs, SIGTERM raises `Terminated`. Python's own
    SIGTERM ends the process at once, running no finally block or atexit function: an evaluate killed so
    left its output's lock file (refusing the next run until removed by hand) and its METEOR JVM running.
    Yields a list that holds True once a SIGTERM came: the entry point then exits TERMINATED, not
    INTERRUPTED. Nothing is changed outside the main thread (only it can set a handler), nor when SIGTERM
    is already ignored or handled (a parent's SIG_IGN, or a program that calls the entry point in-process
    with its own handler); the handler before is put back at the end."""
    came: list[bool] = []
    # (an entry point's `interrupt_quietly` handler, there while the modules loaded, is taken over)
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, terminated_while_starting):
        yield came
        return

    def on_sigterm(signum, frame) -> None:
        came.append(True)
        raise Terminated

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        yield came
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


@contextlib.contextmanager
def interrupts_held():
    """While the block runs, a SIGINT (Ctrl-C) or SIGTERM is held, not acted on; when the block ends it
    is delivered to the handler that was there before (KeyboardInterrupt, `Terminated`, or SIGTERM's
    default end of the process). For writes that must happen together: training's best.pt and last.pt
    of one epoch, which a Ctrl-C between them left as a run folder that `--resume` refuses (best.pt,
    no last.pt). Outside the main thread (only it can set a handler, and only it gets the signals) the
    block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    came: list[int] = []
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for s in before:
        signal.signal(s, lambda signum, frame: came.append(signum))
    try:
        yield
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)
        if came:  # (a SIGTERM is the stronger word: its exit status, 143, is the one said)
            # raise_signal runs the restored Python handler at once, raising here
            signal.raise_signal(signal.SIGTERM if signal.SIGTERM in came else signal.SIGINT)


def finished_line(command: str) -> str:
    """The line of a Ctrl-C or SIGTERM that came once `command` had finished (its outputs written)."""
    return f"interrupted: while exiting, after {command} had finished: nothing was cut short"


def exit_quietly_after(command: str, said: bool = False) -> None:
    """For a command-line program once its command has returned: a SIGTERM or Ctrl-C while the process
    exits (atexit functions, the interpreter unloading torch: a second or so) printed nothing and exited
    143 (SIGTERM's default), or a KeyboardInterrupt traceback. Now, until the atexit functions run, one
    line, the output flushed, METEOR's JVM stopped, and the process ends at once with the signal's status
    (143, 130); from then on the signal is ignored and the finished command exits as it would have. Only
    a handler left at its default is replaced; only in the main thread (the only one that may set one).

    `said`: the command was itself interrupted and has said so (its `interrupted:` line): a further Ctrl-C
    (a user pressing it again while the process exits: extract's decoding threads being joined gave an
    "Exception ignored in: <module 'threading'>" traceback) ends the process the same way, with no second
    line: nothing more was cut short."""
    import os

    if threading.current_thread() is not threading.main_thread():
        return

    def on_signal(signum, frame) -> None:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            if not said:
                print(finished_line(command), file=sys.stderr, flush=True)
            sys.stderr.flush()
        if (metrics := sys.modules.get("s2vt.metrics")) is not None:
            with contextlib.suppress(Exception):
                metrics._stop_meteor()
        os._exit(TERMINATED if signum == signal.SIGTERM else INTERRUPTED)

    mine = [s for s, default in ((signal.SIGTERM, signal.SIG_DFL), (signal.SIGINT, signal.default_int_handler))
            if signal.getsignal(s) is default]
    for s in mine:
        signal.signal(s, on_signal)

    def ignore_from_now() -> None:
        # the last stretch (atexit functions, then the interpreter's teardown, where torch's libraries
        # unload: no Python handler runs there, and Python puts back SIGTERM's default, which ended the
        # finished command with 143 and no line): the signal is ignored, the process ends by itself
        for s in mine:
            if signal.getsignal(s) is on_signal:
                signal.signal(s, signal.SIG_IGN)
    import atexit
    atexit.register(ignore_from_now)  # (atexit runs the last registered first: before METEOR's stop)


# the command a program's entry point runs as the process itself (`running_as_program`); empty in a caller's
# process (a test, the demo running extract in-process), whose signal handlers are its own
_program: list[str] = []


def running_as_program(command: str) -> None:
    """Called by a program's entry point, in its own process only, before `command` runs: an interrupted
    command's `quiet_once_interrupted` then hands further signals to `exit_quietly_after`. Also `guard_stderr`
    (`s2vt-extract`'s console script starts here)."""
    guard_stderr()
    _program[:] = [command]


def quiet_once_interrupted() -> None:
    """For a command interrupted that has said so, as it returns, in its handler's place: in a program's own
    run, a further Ctrl-C (pressed again while the process exits: its frames freed, its threads joined) ends
    the process at once, quietly (`exit_quietly_after`, `said`); put in place by the entry point only once the
    command had returned, it came late: a signal in between was a KeyboardInterrupt out of the finished
    command. In a caller's process, nothing."""
    if _program:
        exit_quietly_after(_program[0], said=True)


def exit_status(code: int, terminated: list) -> int:
    """`code` as the entry point returns it: a command's INTERRUPTED becomes TERMINATED when a SIGTERM
    (`terminate_as_interrupt`) was what interrupted it."""
    return TERMINATED if terminated and code == INTERRUPTED else code


def invoked_as(command: str) -> list[str]:
    """The words that start `command` (demo, evaluate, ...) the way the user started this program, for
    a line saying how to start it again: `s2vt demo`, `python -m s2vt.cli demo`, `python -m s2vt.demo`,
    `python train.py` (the script names its command itself; from train.py, caption is `python caption.py`
    beside it). Read from sys.argv[0], which the shell resolved (`s2vt` is its console script); anything
    else (a test runner, an embedding program) is said as `s2vt COMMAND`."""
    import os

    path = sys.argv[0] if sys.argv and sys.argv[0] else ""
    name, folder = os.path.basename(path), os.path.basename(os.path.dirname(os.path.abspath(path))) if path else ""
    orig = getattr(sys, "orig_argv", None)
    python = os.path.basename(orig[0]) if orig and orig[0] else "python"  # (as typed: python, python3)
    # module -> the command it is (None: it takes the command as its first word)
    modules = {("s2vt", "cli.py"): ("s2vt.cli", None), ("s2vt", "__main__.py"): ("s2vt", None),
               ("s2vt", "demo.py"): ("s2vt.demo", "demo"),
               ("extract", "__main__.py"): ("extract", "extract")}
    if (folder, name) in modules:
        module, own = modules[folder, name]
        if own is None:
            return [python, "-m", module, command]
        if command == own:
            return [python, "-m", module]
        # (from `python -m extract` in the checkout's root: its train.py / caption.py, as the README runs them)
        root = checkout_root()
        if command in ("train", "caption") and root is not None and os.path.isfile(f"{command}.py") and \
                os.path.samefile(f"{command}.py", root / f"{command}.py"):
            return [python, f"{command}.py"]
        # (another command: `python -m s2vt`'s, importable where this module was; the module's own words named
        # extract for `train`, a line that did not paste, hostile trial; s2vt.cli's differed from what `python -m
        # s2vt weights list` advises, trial 130)
        return [python, "-m", "s2vt", command]
    if name in ("train.py", "caption.py") and command == name[:-3]:  # (the script adds its command)
        return [python, path]
    sibling = os.path.join(os.path.dirname(path), f"{command}.py") if path else ""
    if name in ("train.py", "caption.py") and command in ("train", "caption") and os.path.isfile(sibling):
        return [python, sibling]  # (its neighbour in the checkout, as typed: works where `s2vt` is not installed)
    if name == "s2vt-extract" and command == "extract":
        return [name]
    return ["s2vt", command]


def checkout_root():
    """The source checkout this s2vt runs from (the folder above the package, holding setup.py), as an
    absolute Path; None when it runs installed (site-packages has no setup.py)."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    return root if (root / "setup.py").is_file() else None


def extra_install_hint(extra: str) -> str:
    """The command that installs setup.py's extra `extra` (serve, test, bench) for this s2vt. `pip install -e
    ".[serve]"` works only in the checkout's root (elsewhere: 'does not appear to be a Python project'), so:
    from a checkout, its absolute path; installed, the extra's requirements themselves, read from the
    installed metadata (setup.py declares them once)."""
    import importlib.metadata
    import re

    root = checkout_root()
    if root is not None:
        return f"pip install -e {shell_quote(f'{root}[{extra}]')}"
    try:
        requires = importlib.metadata.requires("s2vt") or []
    except importlib.metadata.PackageNotFoundError:
        requires = []
    marker = re.compile(rf"""\bextra\s*==\s*["']{re.escape(extra)}["']""")
    names = [r.split(";", 1)[0].strip() for r in requires if ";" in r and marker.search(r.split(";", 1)[1])]
    if names:
        return "pip install " + shell_join(names)
    # (neither a checkout nor installed metadata, e.g. the package copied onto PYTHONPATH: a placeholder)
    return f"pip install {shell_quote(f'S2VT_SOURCE[{extra}]')} (the folder holding setup.py)"
