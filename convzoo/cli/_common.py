"""What every subcommand shares: its parser, flags made from declared settings, the console
and tables, JSON, and ``--swap``.

Parsers are jsonargparse's (the library LightningCLI is built on), so that a
subcommand can take its options from a declaration -- ``convzoo train`` takes
``TrainConfig``'s fields, ``convzoo evaluate`` ``EvaluateConfig``'s, ``convzoo bench``
the device settings of ``TrainConfig`` (``add_setting``) -- and from classes such as
``lightning.Trainer``.
Help shows each option's help as written, with the default it names itself, or else
the type and default jsonargparse finds (``--trainer.*``). What only a heavy import can
write (Trainer's arguments, the measures) is added when help is asked for (``on_help``),
so that a parse never pays for it. An abbreviated option is refused, and an unknown one
is answered with the closest ones.
"""

from __future__ import annotations

import re
import sys
import types
import typing
from argparse import SUPPRESS
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, NoReturn

from jsonargparse import ActionYesNo, ArgumentParser, DefaultHelpFormatter
from rich.console import Console
from rich.table import Table
from rich.text import Text

from convzoo import settings as declared
from convzoo.errors import ConvzooError, closest, did_you_mean
from convzoo.files import dumps_json
from convzoo.train.trainer_args import OWNED, explain

NUMERIC = {"params", "FLOPs/sample", "FLOPs/batch", "connections", "rf", "stride"}


class HelpFormatter(DefaultHelpFormatter):
    """jsonargparse's formatter with every default said once, as convzoo's own help says
    them (``none``, ``no``, ``yes``), and no ``(type: ...)``."""

    def _get_help_string(self, action: Any) -> str:
        text = action.help or ""
        if "default:" in text.lower() or action.default == SUPPRESS or not action.option_strings:
            return text
        if action.default is None or isinstance(action.default, bool) or action.default == []:
            flag = isinstance(action.default, bool)
            shown = ("yes" if action.default else "no") if flag else "none"
            return f"{text} (default: {shown})"
        return super()._get_help_string(action)


class Parser(ArgumentParser):
    """jsonargparse's parser with no abbreviations, whose "unrecognized arguments" error
    names the closest options; ``on_help(parser)``, where given, completes it before its
    help is first written."""

    def __init__(self, on_help: Callable[[ArgumentParser], None] | None = None, **kwargs: Any):
        super().__init__(allow_abbrev=False, formatter_class=HelpFormatter, **kwargs)
        self._on_help = on_help

    def format_help(self, formatter: Any = None) -> str:
        """The help, completed by ``on_help`` the first time."""
        if self._on_help is not None:
            complete, self._on_help = self._on_help, None
            complete(self)
        return super().format_help(formatter)

    def _options(self) -> Iterator[str]:
        """The options a user may give (not the hidden ones, which are refused)."""
        parsers = [self]
        for action in self._actions:
            parsers += (getattr(action, "_name_parser_map", None) or {}).values()
        for p in parsers:
            for option, action in p._option_string_actions.items():
                if action.help != SUPPRESS:
                    yield option

    def error(self, message: str, ex: Exception | None = None) -> NoReturn:
        """One message, as every other refusal (``convzoo: error: ...``, exit status 2)."""
        unknown = re.match(r"unrecognized arguments: (--[^\s=]+)", message, re.IGNORECASE)
        if unknown:
            flag = unknown.group(1)
            group = flag.rpartition(".")[0] + "." if "." in flag else "--"
            options = [
                o
                for o in set(self._options())
                if o.startswith(group) and o != "--trainer" and not o.endswith("+")
            ]
            message = f"{message.rstrip()}.{did_you_mean(flag, options)}"
            owned = closest(flag.removeprefix("--trainer."), OWNED) if group == "--trainer." else []
            if owned:  # a Trainer argument convzoo sets: its flag, not a hidden one
                message += f" ({owned[0]} is set by convzoo: use {OWNED[owned[0]]})"
        elif "Parser key" in message:
            message = explain(message)
        command = self.prog.replace(" [options]", "")
        required = re.search(r"required: ([\w-]+)\.([\w-]+)", message)
        if required:  # a subcommand's positional argument, by its name in the namespace
            command = f"{command} {required.group(1)}"
            message = f"{command}: name the {required.group(2).upper()}"
        choice = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if choice and (
            hint := did_you_mean(choice.group(1), re.findall(r"'([^']*)'", choice.group(2)))
        ):
            message = f"{message.rstrip('.')}.{hint}"
        if re.match(r'expected "command" to be one of', message):
            message = f"name a command, one of: {', '.join(self._commands())}"
        raise ConvzooError(f"{message.rstrip()} (see {command} --help)")

    def _commands(self) -> list[str]:
        action = getattr(self, "_subcommands_action", None)
        return list(action._name_parser_map) if action is not None else []


def parser(
    description: str,
    on_help: Callable[[ArgumentParser], None] | None = None,
    kind: type[Parser] = Parser,
) -> ArgumentParser:
    """A subcommand's parser (a ``kind``), with ``--debug``; ``on_help`` as ``Parser``'s."""
    p = kind(on_help=on_help, description=description)
    add_debug(p)
    return p


def add_debug(p: ArgumentParser) -> None:
    """``--debug``: show the traceback of an error."""
    p.add_argument("--debug", action="store_true", help="show the full traceback of an error")


def flag(name: str) -> str:
    """A setting's flag: ``batch_size`` is ``--batch-size``."""
    return "--" + name.replace("_", "-")


def _help(config: type, name: str, note: str) -> str:
    """The setting's help and ``note``, with its default as help states it: ``yes``/``no``,
    ``none``, a list's items spaced, or the declaration's ``shown``."""
    meta = declared.settings(config)[name].metadata
    value = declared.default(config, name)
    if isinstance(value, bool):
        value = "yes" if value else "no"
    elif isinstance(value, tuple):
        value = " ".join(map(str, value))
    shown = meta.get("shown", "none" if value in (None, {}) else value)
    return f"{meta['help']}{note} (default: {shown})"


def add_setting(p: ArgumentParser, config: type, name: str, note: str = "") -> None:
    """One flag for the setting ``name`` that ``config`` declares, typed by its hint, its help
    followed by ``note``: a bool is ``--NAME``/``--no-NAME``, a pair ``--NAME LO HI``, a list
    (``tuple[float, ...]``) one or more values. Its default is None (= not given), so that a
    command can layer what was given over other sources; ``check_flags`` checks the values."""
    hint = declared.type_hint(config, name)
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    plain = [a for a in typing.get_args(hint) if a is not type(None)] if union else [hint]
    kind = typing.get_origin(plain[0]) or plain[0]
    meta = declared.settings(config)[name].metadata
    text = _help(config, name, note)
    if kind is bool:
        p.add_argument(flag(name), action=ActionYesNo(no_prefix="no-"), default=None, help=text)
    elif kind is tuple:
        args = typing.get_args(plain[0])
        many = len(args) == 2 and args[1] is Ellipsis
        p.add_argument(
            flag(name),
            type=args[0],
            nargs="+" if many else len(args),
            help=text,
            metavar=meta.get("metavar", ("LO", "HI") if len(args) == 2 and not many else None),
        )
    else:
        fixed = meta.get("choices")  # listed in help; ``check_flags`` checks them
        listed: dict[str, Any] = {}
        if isinstance(fixed, tuple):
            listed["metavar"] = "{" + ",".join(fixed) + "}"
        p.add_argument(flag(name), type=kind, help=text, **listed)


def check_flags(config: type, given: Mapping[str, Any], where: Callable[[str], str] = flag) -> None:
    """Refuse the first value of ``given`` that the setting of its name does not take, saying
    ``where(name)`` it came from (by default its flag)."""
    for name, value in given.items():
        wrong = declared.problem(config, name, value)
        if wrong:
            raise ConvzooError(f"{where(name)}: {wrong}")


def console() -> Console:
    """A console that wraps tables in a terminal and never truncates them in a pipe."""
    if sys.stdout.isatty():
        return Console()
    return Console(width=240, no_color=True, highlight=False)


def table(
    title: str | None, header: Sequence[str], rows: Sequence[Sequence[str]], totals: bool = False
) -> Table:
    """A borderless table; numeric columns right-aligned; ``totals`` rules off the last row.
    Cells are plain text: ``y[i] = sum_j w[j] x[i - j]`` is not read as rich's markup."""
    out = Table(title=title, title_justify="left", box=None, header_style="bold")
    for name in header:
        out.add_column(name, justify="right" if name in NUMERIC else "left")
    for i, row in enumerate(rows):
        out.add_row(*(Text(cell) for cell in row), end_section=totals and i == len(rows) - 2)
    return out


def print_table(*args: Any, **kwargs: Any) -> None:
    """Print ``table(...)`` on stdout."""
    console().print(table(*args, **kwargs))


def print_json(data: Any) -> None:
    """``data`` as strict JSON on stdout."""
    sys.stdout.write(dumps_json(data))


def add_swap(p: ArgumentParser, help: str = "replace blocks") -> None:
    """``--swap KEY=NAME``, repeatable."""
    p.add_argument(
        "--swap",
        action="append",
        metavar="KEY=NAME",
        help=f"{help}: --swap act=relu (a family) or --swap filter.conv=NAME (a name)",
    )


def parse_swaps(items: Iterable[str] | None) -> dict[str, str]:
    """``["act=relu", "filter.conv=unfold_conv"]`` (command-line form) as a swap mapping."""
    swaps: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ConvzooError(
                f"--swap {item!r}: write KEY=NAME, e.g. --swap act=relu or "
                "--swap filter.conv=unfold_conv"
            )
        swaps[key.strip()] = value.strip()
    return swaps
