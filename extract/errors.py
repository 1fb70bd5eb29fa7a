"""The base class of the errors a user's input causes (a file, an argument, a checkpoint)."""


class UserError(Exception):
    """Bad input: the command-line tools print its message on one line and exit 2, no traceback."""
