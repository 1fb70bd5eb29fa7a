"""Command-line options generated from a settings dataclass, so that each setting is declared once:
its field's default, `metadata["help"]`, `metadata["choices"]` (the allowed values) and
`metadata["minimum"]` (the least number allowed), `metadata["maximum"]` (the greatest: a size or a
count beyond it would ask for terabytes, overflow, or hang) or `metadata["within"]` (an interval such as
"[0, 1)" for a real number), which the dataclass checks with `check_choices`:
a wrong value is one line, exit 2, not argparse's usage block, for every command generated this way.

A field whose type is a dataclass (TrainConfig.model: the ModelConfig) contributes its own settings
under their own names (`--hidden`, not `--model-hidden`); a field marked `derived()` is filled from
the data, not a setting, and has no option.

The option of field `batch_size` is `--batch-size`; a bool field is `--x` / `--no-x`; a list or
tuple field takes comma-separated values; a field without a default is a required option unless
its type admits None (the option may then be left out).
"""
from __future__ import annotations

import argparse
import dataclasses
import functools
import os
import sys
import types
import typing

from .errors import SettingError, left_to_rank_0, shell_join

# the greatest batch (videos, caption pairs, frames) and layer width (hidden, embed) an option takes:
# far above any machine's memory for it, far below what overflows or asks for terabytes in one line
MAX_BATCH = 2 ** 20
MAX_WIDTH = 65536


def setting(default=dataclasses.MISSING, help: str | None = "", choices=None, minimum=None,
            within: str | None = None, maximum=None) -> dataclasses.Field:
    """A dataclass field with its command-line help (None: a hidden option), allowed values and, for
    a number, its least and greatest allowed values or the interval it must lie in ("[0, 1)", "(0, inf)":
    brackets include the bound, parentheses exclude it); None is allowed where the default is None."""
    if within is not None:
        interval(within)  # a malformed interval fails where it is declared
    metadata = {"help": help, **({"choices": tuple(choices)} if choices is not None else {}),
                **({"minimum": minimum} if minimum is not None else {}),
                **({"maximum": maximum} if maximum is not None else {}),
                **({"within": within} if within is not None else {})}
    return dataclasses.field(default=default, metadata=metadata)


def advise_missing(parser: argparse.ArgumentParser, option: str, advice) -> None:
    """`advice(namespace)`: the refusal said (whole, one line) when the required `option` is the one
    missing, from the other options given; None leaves argparse's line (`Parser.error`; another parser
    ignores it). The usage still shows the option required (evaluate's --manifest looked optional there,
    with its advice said by hand)."""
    parser.missing_advice = {**getattr(parser, "missing_advice", {}), option: advice}


class Parser(argparse.ArgumentParser):
    """argparse's parser with its errors on one line, `error: MESSAGE (see PROG --help)`, exit 2, instead
    of the whole usage block with the error under it (a forgotten --out scrolled train.py's 40 usage lines
    past); subcommands' parsers are of this class too (argparse makes them of their parent's). Options are
    written whole: argparse took `train.py --hid 0` as --hidden, and the refusal then named --hidden, never typed
    (hostile trial); a prefix is refused with what it could be (`abbreviation_hint`)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def parse_known_args(self, args=None, namespace=None):
        self.given = list(sys.argv[1:] if args is None else args)  # (for `error`'s hint)
        return super().parse_known_args(args, namespace)

    def advice_for_missing(self, message: str) -> str | None:
        """The `advise_missing` refusal for argparse's "required" `message` naming one such option alone."""
        option = message.removeprefix("the following arguments are required: ")
        advice = getattr(self, "missing_advice", {}).get(option)
        if advice is None or option == message:
            return None
        action = self._option_string_actions[option]
        action.required = False  # (parsed again without it: the rest given, as the command would have had them)
        try:
            namespace, _ = super().parse_known_args(self.given)
        finally:
            action.required = True
        return advice(namespace)

    def error(self, message: str):
        given = getattr(self, "given", [])
        hint = dash_hint(given, self._option_string_actions, takes_files(self))
        unknown = unknown_options(given, self)
        if left_to_rank_0():  # (rank 0 says it, alike: this rank waits for torchrun to end it)
            self.exit(2)
        if not (unknown or hint) and (advice := self.advice_for_missing(message)):
            self.exit(2, f"error: {advice}\n")
        if message.startswith("the following arguments are required") and unknown and not hint:
            # argparse checks the required ones before it says what it did not know: `train.py --help-me` was told
            # only "required: --out" (hostile trial); the unknown option, the likelier mistake, is said first
            message = f"unrecognized arguments: {' '.join(unknown)}{abbreviation_hint(unknown, self)}; {message}"
        elif message.startswith("unrecognized arguments") and not hint:
            hint = abbreviation_hint(given, self)
        elif message.endswith(": expected one argument") and not hint:  # (a hint about this error, not another word)
            hint = negative_value_hint(given, message)
        elif ": invalid choice: " in message and not hint:
            hint = command_first_hint(given, self)
        self.exit(2, f"error: {message}{hint} (see {self.prog} --help)\n")


def command_first_hint(given: list[str], parser: argparse.ArgumentParser) -> str:
    """The hint for argparse's "invalid choice" of a command when options came before it (`s2vt import --out m.jsonl
    msvd FILE`: the word after --out was taken for the format; hostile trial): the command comes first, and the
    words in that order; '' when no command is named later, or a word before it is an option of `parser` itself."""
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        at = next((i for i, word in enumerate(given) if i and word in action.choices), None)
        before = given[:at]
        if at is None or not before[0].startswith("-") or any(w.split("=")[0] in parser._option_string_actions
                                                              for w in before):
            return ""
        what = (action.metavar or "command").lower()
        return f"; the {what} comes first, before its options: {parser.prog} {shell_join([*given[at:], *before])}"
    return ""


def negative_value_hint(given: list[str], message: str) -> str:
    """The hint for argparse's "argument --lr: expected one argument" when the word after --lr is a negative number
    it read as an option (`--lr -1e-3`: argparse takes -1 and -.5 as values, not an exponent; hostile trial):
    join it to its option ('' for any other word)."""
    names = message[len("argument "):-len(": expected one argument")].split("/")
    for option, word in zip(given, given[1:]):
        if option in names and word.startswith("-"):
            try:
                float(word)
            except ValueError:
                continue
            return f"; write {option}={word} (a value starting with - reads as an option)"
    return ""


def unknown_options(given: list[str], parser: argparse.ArgumentParser) -> list[str]:
    """The words of `given` that read as options `parser` does not take (`--help-me`), as typed; not a negative
    number (a value), a word after '--' or one after the name of a command under `parser` (its own parser's)."""
    commands = {c for a in parser._actions if isinstance(a, argparse._SubParsersAction) for c in a.choices}
    found = []
    for word in given:
        if word == "--" or word in commands:
            break
        if (word.startswith("-") and word != "-" and word.split("=")[0] not in parser._option_string_actions
                and not parser._negative_number_matcher.match(word)):
            found.append(word)
    return found


def dash_hint(given: list[str], options=(), files: bool = True) -> str:
    """The hint for a file whose name starts with "-" (`caption.py -clip.mp4`): argparse reads it as an
    option and says "required: VIDEO" or "unrecognized arguments", which hides the cause. After '--' every
    word is a file name, as the user meant by it: what is wrong there is one of the parser's `options`
    written after it (`python -m extract -- * --out X` was told to name ./--help.m2v, a file its glob swept
    in, which '--' had already made a file name). `files`: whether the command takes file names (arguments
    without an option): `train -- --out X` takes none, so its --out is not said to be one."""
    if "--" in given:
        given, after = given[:given.index("--")], given[given.index("--") + 1:]
        late = next((a for a in after if a.split("=")[0] in options), None)
        if late is not None:
            fate = "is taken as a file name" if files else "is not read as an option"
            return f"; {late.split('=')[0]} after '--' {fate}: put options before '--'"
    files = [a for a in given if a.startswith("-") and a not in ("-", "--") and os.path.exists(a)]
    kind = "folder" if files and os.path.isdir(files[0]) else "file"
    return (f"; {files[0]} is a {kind}: name it ./{files[0]} (a word starting with - reads as an option)"
            if files else "")


def abbreviation_hint(given: list[str], parser: argparse.ArgumentParser) -> str:
    """The hint for an option written in part (`--hid` for --hidden), which `Parser` does not take: what the first
    such word could be ('' for none). Words after '--' are file names, not options. Only `parser`'s own options
    are named: those of the commands under it are refused where the words were given (`s2vt import mlds --vid`
    was told "could be --videos", an option of other formats; hostile trial). An option named in `parser.not_taken`
    ({option: why this command has none}, `cli.not_taken`) is said with its reason instead."""
    options = set(parser._option_string_actions)
    # (an option of another command, said with why this one has none: `caption --weights` was told it
    # could be --weights-dir, which does nothing of the kind; hostile trial)
    elsewhere = getattr(parser, "not_taken", {})
    for word in given[:given.index("--")] if "--" in given else given:
        name = word.split("=")[0]
        if name in elsewhere:
            return f"; {elsewhere[name]}"
        whole = sorted(o for o in options if o.startswith(name)) if name.startswith("--") else []
        if whole and name not in options:
            could = " or ".join([", ".join(whole[:-1]), whole[-1]] if len(whole) > 1 else whole)
            return f"; write an option whole: {name} could be {could}"
    return ""


def takes_files(parser: argparse.ArgumentParser) -> bool:
    """Whether `parser` takes arguments without an option (`export P.json`, `import mlds DIR`)."""
    return any(not a.option_strings and not isinstance(a, argparse._SubParsersAction) for a in parser._actions)


def command_parser(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser:
    """The parser of the command `args` were parsed for (`s2vt import mlds ...`: import's `mlds` parser)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and getattr(args, action.dest, None) in action.choices:
            return command_parser(action.choices[getattr(args, action.dest)], args)
    return parser


def interval(text: str) -> tuple[bool, float, float, bool]:
    """(closed on the left, low, high, closed on the right) of "[low, high)" and the like."""
    left, right, (low, high) = text[0], text[-1], text[1:-1].split(",")
    if left not in "[(" or right not in "])":
        raise ValueError(f"not an interval: {text!r}")
    return left == "[", float(low), float(high), right == "]"


def in_interval(name: str, value, within: str) -> None:
    """SettingError unless `value` is a number in the interval `within` (NaN is refused too)."""
    closed_low, low, high, closed_high = interval(within)
    ok = (not isinstance(value, bool) and isinstance(value, (int, float))
          and (low <= value if closed_low else low < value) and (value <= high if closed_high else value < high))
    if not ok:
        raise SettingError(f"{name} must be in {within}, not {value!r}")


def derived(default=dataclasses.MISSING, default_factory=dataclasses.MISSING) -> dataclasses.Field:
    """A dataclass field filled from the data (e.g. the vocabulary's size), not a setting: no option."""
    return dataclasses.field(default=default, default_factory=default_factory, metadata={"setting": False})


def nested(cls) -> dict[str, type]:
    """{field name: dataclass} of the fields of `cls` that hold another settings dataclass."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if dataclasses.is_dataclass(hints[f.name])}


def settings(cls) -> list[tuple[dataclasses.Field, object]]:
    """(field, type hint) of each setting of `cls`, those of its nested dataclasses in their place."""
    hints, inner, out = typing.get_type_hints(cls), nested(cls), []
    for f in dataclasses.fields(cls):
        if f.name in inner:
            out += settings(inner[f.name])
        elif f.metadata.get("setting", True):
            out.append((f, hints[f.name]))
    return out


def by_owner(cls, values: dict) -> tuple[dict, dict[str, dict]]:
    """Flat setting names split into (those of `cls` itself, {nested field: its settings' values})."""
    own, inner = dict(values), {}
    for name, sub in nested(cls).items():
        names = {f.name for f, _ in settings(sub)}
        mine = {k: own.pop(k) for k in list(own) if k in names}
        if mine:
            inner[name] = mine
    return own, inner


def make(cls, *args, **values):
    """`cls(*args, ...)` from flat setting names, as the options name them: those of a nested
    dataclass's settings build that field (`hidden=` -> `.model.hidden`); an unknown name is a TypeError."""
    own, inner = by_owner(cls, values)
    kinds = nested(cls)
    return cls(*args, **own, **{name: make(kinds[name], **v) for name, v in inner.items()})


def value(config, name: str):
    """The setting `name` of `config` or of its nested dataclass that holds it."""
    for field in nested(type(config)):
        if name in {f.name for f, _ in settings(type(getattr(config, field)))}:
            return getattr(getattr(config, field), name)
    return getattr(config, name)


def replace(config, **values):
    """`dataclasses.replace` by flat setting names (those of a nested dataclass replaced in it)."""
    own, inner = by_owner(type(config), values)
    return dataclasses.replace(config, **own, **{name: dataclasses.replace(getattr(config, name), **v)
                                                 for name, v in inner.items()})


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def as_option(name: str, value) -> str:
    """The command-line words that set `name` to `value`: `--x` or `--no-x` for a bool, `--x a,b` for a list."""
    if isinstance(value, bool):
        return flag(name) if value else "--no-" + flag(name)[2:]
    if isinstance(value, (list, tuple)):
        value = ",".join(map(str, value))
    return f"{flag(name)} {value}"


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


# the parsed options' attribute naming the settings given on the command line: {setting: the option string
# it was given by (the last one, given twice)}
GIVEN = "given_settings"


def recorded(p: argparse.ArgumentParser, action) -> type:
    """argparse's `action` (a name or a class) that also records its setting, and the option string typed, in
    the namespace's GIVEN when the command line gives it: argparse's defaults cannot tell '--patience 3' from no
    --patience, and a --resume keeps the run's own value of a setting not given (resume.resumed_settings)."""
    kind = p._registry_get("action", action, action)

    class Recorded(kind):
        def __call__(self, parser, namespace, values, option_string=None):
            super().__call__(parser, namespace, values, option_string)
            setattr(namespace, GIVEN, {**getattr(namespace, GIVEN, {}), self.dest: option_string})
    return Recorded


def given(args: argparse.Namespace) -> tuple[str, ...]:
    """The settings the command line of `args` gave (`recorded`), sorted."""
    return tuple(sorted(getattr(args, GIVEN, ())))


def typed(args: argparse.Namespace) -> dict[str, str]:
    """{setting: the option string the command line of `args` gave it by} (`recorded`): a setting with two
    spellings (--one-caption-per-video, --no-per-caption) is named as the user typed it."""
    return dict(getattr(args, GIVEN, {}))


def add_options(p: argparse.ArgumentParser, cls, skip: tuple[str, ...] = ()) -> None:
    """An option for each setting of dataclass `cls` (`settings`) but those in `skip`; each one given is
    recorded (`given`)."""
    for f, hint in settings(cls):
        if f.name in skip:
            continue
        kind, optional = value_type(hint)
        text = f.metadata.get("help", "")
        kw: dict = {"dest": f.name, "help": argparse.SUPPRESS if text is None else text.replace("%", "%%") or None}
        if f.default is not dataclasses.MISSING:
            kw["default"] = f.default
        elif optional:
            kw["default"] = None
        else:
            kw["required"] = True
        if kind is bool:
            kw["action"] = recorded(p, argparse.BooleanOptionalAction)
        else:
            kw["type"], kw["action"] = kind, recorded(p, "store")
        if "choices" in f.metadata:  # shown, and checked by the dataclass (one line), not by argparse
            kw["metavar"] = "{" + ",".join(map(str, f.metadata["choices"])) + "}"
        p.add_argument(flag(f.name), **kw)


def at_least(name: str, value, minimum) -> None:
    """SettingError unless `value` is a number >= `minimum` (NaN is refused too): the one check of
    a numeric option's lower bound, for the generated options and hand-written ones alike."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= minimum:
        raise SettingError(f"{name} must be at least {minimum}, not {value!r}")


def at_most(name: str, value, maximum) -> None:
    """SettingError unless `value` is a number <= `maximum` (NaN is refused too): the upper bound of a
    size or a count (a batch, a beam, a layer's width), whose absurd values would otherwise overflow,
    allocate terabytes or run for hours before failing."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value <= maximum:
        raise SettingError(f"{name} must be at most {maximum}, not {value!r}")


def type_problem(hint, value) -> str | None:
    """What a setting of type hint `hint` must be where `value` is not that ('a whole number'), else None: a value
    not from the command line (a hand-edited last.pt's: None, 'abc', {'a': 1}) is checked as argparse checks one
    typed. A whole float passes as a whole number (`check_choices` makes it one)."""
    kind, optional = value_type(hint)
    if value is None and optional:
        return None
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    said, right = {int: ("a whole number", number), float: ("a number", number),
                   bool: ("true or false", isinstance(value, bool)), str: ("a string", isinstance(value, str))}.get(
        kind, ("a list of names", isinstance(value, (list, tuple)) and all(isinstance(x, str) for x in value)))
    return None if right else said


@functools.cache
def whole_number_fields(cls) -> frozenset[str]:
    """The fields of dataclass `cls` whose type hint is int (or int | None), as `value_type` reads a hint."""
    hints = typing.get_type_hints(cls)
    return frozenset(f.name for f in dataclasses.fields(cls) if value_type(hints[f.name])[0] is int)


def check_choices(config) -> None:
    """SettingError naming the option and its allowed values for a field outside its choices, below
    its minimum, above its maximum or outside its interval (a field whose default is None may also be None; a mapping's values are
    checked one by one; a nested settings dataclass is checked too)."""
    for f in dataclasses.fields(config):
        held = getattr(config, f.name)
        if dataclasses.is_dataclass(held):
            check_choices(held)
            continue
        # a whole-number setting given a float (argparse's int refuses one typed; a hand-edited last.pt's settings
        # do not: max_len 3.5 was a TypeError traceback in slicing; trial 111): 3.0 is 3, 3.5 refused
        if f.name in whole_number_fields(type(config)) and isinstance(held, float):
            if not held.is_integer():
                raise SettingError(f"{flag(f.name)} must be a whole number, not {held!r}")
            object.__setattr__(config, f.name, held := int(held))  # (a frozen config too: DecodeConfig)
        if "minimum" in f.metadata and not (held is None and f.default is None):
            at_least(flag(f.name), held, f.metadata["minimum"])
        if "maximum" in f.metadata and not (held is None and f.default is None):
            at_most(flag(f.name), held, f.metadata["maximum"])
        if "within" in f.metadata and not (held is None and f.default is None):
            in_interval(flag(f.name), held, f.metadata["within"])
        for v in held.values() if isinstance(held, dict) else [held]:
            if "choices" in f.metadata and v not in f.metadata["choices"] and not (v is None and f.default is None):
                raise SettingError(f"{flag(f.name)} must be {one_of(f.metadata['choices'])}, not {v!r}")


def from_args(cls, args: argparse.Namespace, **overrides):
    """`cls` built from the parsed options of its settings (and `overrides`)."""
    names = {f.name for f, _ in settings(cls)}
    return make(cls, **{**{k: v for k, v in vars(args).items() if k in names}, **overrides})


def show_defaults(p: argparse.ArgumentParser, shown: dict | None = None) -> None:
    """Append ' (default: X)' to the help of each option of `p` with a fixed default its help does not
    already state (serve's help showed every default, the other commands' none: hostile trial). A flag
    (--x/--no-x) shows on or off; a store_true flag (off unless given) and a default of None (decided at
    run time; its help says by what) show none. `shown`: {dest: the default to show} for options whose
    argparse default is not the one that acts (serve's beam-only ones)."""
    shown = shown or {}
    for action in p._actions:
        help_text = action.help or ""
        if action.help == argparse.SUPPRESS or "(default" in help_text or "default:" in help_text:
            continue
        value = shown.get(action.dest, action.default)
        if isinstance(action, argparse.BooleanOptionalAction) and isinstance(value, bool):
            value = "on" if value else "off"
        elif value is None or value == argparse.SUPPRESS or action.nargs == 0:  # (store_true, help, version)
            continue
        elif isinstance(value, (list, tuple)):
            value = ",".join(map(str, value))
        action.help = f"{help_text} (default: {str(value).replace('%', '%%')})".lstrip()
