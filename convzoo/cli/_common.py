"""What every subcommand shares: its parser, the console and tables, JSON, and ``--swap``.

Parsers are jsonargparse's (the library LightningCLI is built on), so that a
subcommand can take its options from a declaration -- ``convzoo train`` takes
``TrainConfig``'s fields -- and later from classes such as ``lightning.Trainer``.
Help shows each option's help as written, with the default it names itself.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from typing import Any

from jsonargparse import ArgumentParser, DefaultHelpFormatter
from rich.console import Console
from rich.table import Table

from convzoo.errors import ConvzooError
from convzoo.io import dumps_json

NUMERIC = {"params", "FLOPs", "rf", "stride"}


class HelpFormatter(DefaultHelpFormatter):
    """jsonargparse's formatter without the ``(type: ..., default: ...)`` it appends."""

    def _get_help_string(self, action: Any) -> str:
        return action.help or ""


def parser(description: str) -> ArgumentParser:
    """A subcommand's parser, with ``--debug``."""
    p = ArgumentParser(description=description, formatter_class=HelpFormatter)
    add_debug(p)
    return p


def add_debug(p: ArgumentParser) -> None:
    """``--debug``: show the traceback of an error."""
    p.add_argument("--debug", action="store_true", help="show the full traceback of an error")


def console() -> Console:
    """A console that wraps tables in a terminal and never truncates them in a pipe."""
    if sys.stdout.isatty():
        return Console()
    return Console(width=240, no_color=True, highlight=False)


def table(
    title: str | None, header: Sequence[str], rows: Sequence[Sequence[str]], totals: bool = False
) -> Table:
    """A borderless table; numeric columns right-aligned; ``totals`` rules off the last row."""
    out = Table(title=title, title_justify="left", box=None, header_style="bold")
    for name in header:
        out.add_column(name, justify="right" if name in NUMERIC else "left")
    for i, row in enumerate(rows):
        out.add_row(*row, end_section=totals and i == len(rows) - 2)
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
