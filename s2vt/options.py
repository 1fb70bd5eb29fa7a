"""Command-line options generated from a settings dataclass, so that each setting is declared once:
its field's default, `metadata["help"]`, `metadata["choices"]` (the allowed values) and
`metadata["minimum"]` (the least number allowed), which the dataclass checks with `check_choices`:
a wrong value is one line, exit 2, not argparse's usage block, for every command generated this way.

The option of field `batch_size` is `--batch-size`; a bool field is `--x` / `--no-x`; a list or
tuple field takes comma-separated values; a field without a default is a required option unless
its type admits None (the option may then be left out).
"""
from __future__ import annotations

import argparse
import dataclasses
import types
import typing

from .errors import SettingError


def setting(default=dataclasses.MISSING, help: str | None = "", choices=None, minimum=None) -> dataclasses.Field:
    """A dataclass field with its command-line help (None: a hidden option), allowed values and, for
    a number, its least allowed value (None allowed where the default is None)."""
    metadata = {"help": help, **({"choices": tuple(choices)} if choices is not None else {}),
                **({"minimum": minimum} if minimum is not None else {})}
    return dataclasses.field(default=default, metadata=metadata)


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def one_of(choices) -> str:
    """'a, b or c'."""
    names = [str(c) for c in choices]
    return ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0]


def comma_list(kind):
    """An argparse type: 'a,b' -> kind(['a', 'b']) (blanks dropped)."""
    return lambda text: kind(x.strip() for x in text.split(",") if x.strip())


def value_type(hint):
    """(argparse type, admits None) of a field's type hint: int, float, str, bool, list or tuple
    of str, or a union of those (its first member) with None."""
    args = typing.get_args(hint)
    optional = False
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        optional = type(None) in args
        hint = next(a for a in args if a is not type(None))
    origin = typing.get_origin(hint)
    if origin in (list, tuple):
        return comma_list(origin), optional
    return hint, optional


def add_options(p: argparse.ArgumentParser, cls, skip: tuple[str, ...] = ()) -> None:
    """An option for each field of dataclass `cls` but those in `skip`."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        kind, optional = value_type(hints[f.name])
        text = f.metadata.get("help", "")
        kw: dict = {"dest": f.name, "help": argparse.SUPPRESS if text is None else text.replace("%", "%%") or None}
        if f.default is not dataclasses.MISSING:
            kw["default"] = f.default
        elif optional:
            kw["default"] = None
        else:
            kw["required"] = True
        if kind is bool:
            kw["action"] = argparse.BooleanOptionalAction
        else:
            kw["type"] = kind
        if "choices" in f.metadata:  # shown, and checked by the dataclass (one line), not by argparse
            kw["metavar"] = "{" + ",".join(map(str, f.metadata["choices"])) + "}"
        p.add_argument(flag(f.name), **kw)


def at_least(name: str, value, minimum) -> None:
    """SettingError unless `value` is a number >= `minimum` (NaN is refused too): the one check of
    a numeric option's lower bound, for the generated options and hand-written ones alike."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= minimum:
        raise SettingError(f"{name} must be at least {minimum}, not {value!r}")


def check_choices(config) -> None:
    """SettingError naming the option and its allowed values for a field outside its choices or
    below its minimum (a field whose default is None may also be None; a mapping's values are
    checked one by one)."""
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if "minimum" in f.metadata and not (value is None and f.default is None):
            at_least(flag(f.name), value, f.metadata["minimum"])
        for v in value.values() if isinstance(value, dict) else [value]:
            if "choices" in f.metadata and v not in f.metadata["choices"] and not (v is None and f.default is None):
                raise SettingError(f"{flag(f.name)} must be {one_of(f.metadata['choices'])}, not {v!r}")


def from_args(cls, args: argparse.Namespace, **overrides):
    """`cls` built from the parsed options of its fields (and `overrides`)."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in vars(args).items() if k in names}, **overrides)
