"""The base class of the errors a user's input causes (a file, an argument, a checkpoint)."""


class UserError(Exception):
    """Bad input: the command-line tools print its message on one line and exit 2, no traceback."""


class SettingError(UserError, ValueError):
    """A setting (an option, or one a checkpoint recorded) out of range or not one of its allowed
    values. Also a ValueError: code that checks settings by catching ValueError still does."""
