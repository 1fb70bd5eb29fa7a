"""The base class of the errors a user's input causes (a file, an argument, a checkpoint), and how
a warning reads on the command line."""
import sys


class UserError(Exception):
    """Bad input: the command-line tools print its message on one line and exit 2, no traceback."""


class SettingError(UserError, ValueError):
    """A setting (an option, or one a checkpoint recorded) out of range or not one of its allowed
    values. Also a ValueError: code that checks settings by catching ValueError still does."""


def one_line_warning(message, category, filename, lineno, line=None) -> str:
    """`warnings.formatwarning` for the command-line tools: `warning: MESSAGE`, one line like the
    printed ones, not Python's `FILE:LINE: UserWarning: MESSAGE` with the source line under it."""
    return f"warning: {message}\n"


def interrupt_quietly() -> None:
    """For a command-line entry point, before its heavy imports: a Ctrl-C that no handler catches
    (one in the seconds torch takes to load, before the command's own `interrupted:` line) prints
    `interrupted`, not a traceback through the imports; the exit status stays SIGINT's (130)."""
    previous = sys.excepthook

    def hook(kind, value, tb):
        if issubclass(kind, KeyboardInterrupt):
            print("interrupted", file=sys.stderr)
        else:
            previous(kind, value, tb)
    sys.excepthook = hook
