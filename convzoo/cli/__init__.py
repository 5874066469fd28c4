"""The ``convzoo`` command: one table of subcommands, one place where errors become messages.

Each subcommand is a module with the same contract: ``NAMES`` (the subcommands
it adds), ``add_parser(sub)`` and ``run(args) -> int``. Bad input -- an unknown
name, malformed YAML, a shape that does not fit, an unknown argument, a setting
out of range -- ends here as one message on stderr and exit status 2, never a
traceback (``--debug`` shows it). A run that stopped exits with its error's
``exit_code``: 130 interrupted, 1 diverged.
"""

from __future__ import annotations

import sys
import traceback
import warnings
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from jsonargparse import ArgumentParser

import convzoo
from convzoo.cli import bench, evaluate, listing, scan, train
from convzoo.cli._common import HelpFormatter, add_debug
from convzoo.errors import ConvzooError, ConvzooWarning

SUBCOMMANDS: tuple[ModuleType, ...] = (listing, train, evaluate, scan, bench)


def make_parser() -> ArgumentParser:
    """The argument parser of the ``convzoo`` command."""
    parser = ArgumentParser(
        prog="convzoo",
        description="Assemble convolutional networks from registered blocks, train and measure "
        "them.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"convzoo {convzoo.__version__}")
    add_debug(parser)
    sub = parser.add_subcommands(dest="command", metavar="COMMAND")
    for module in SUBCOMMANDS:
        module.add_parser(sub)
    return parser


def _handler(command: str) -> ModuleType:
    return next(m for m in SUBCOMMANDS if command in m.NAMES)


def _show_warning(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
    if issubclass(category, ConvzooWarning):
        sys.stderr.write(f"convzoo: warning: {message}\n")
    else:
        _default_showwarning(message, category, *args, **kwargs)


_default_showwarning = warnings.showwarning


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parsed = make_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    args = parsed[parsed.command]
    args.command = parsed.command
    debug = parsed.debug or args.debug
    warnings.showwarning = _show_warning
    try:
        return _handler(parsed.command).run(args)
    except ConvzooError as exc:
        if debug:
            traceback.print_exc()
        sys.stderr.write(f"convzoo: error: {exc}\n")
        return exc.exit_code
    except BrokenPipeError:
        return 0
    finally:
        warnings.showwarning = _default_showwarning
