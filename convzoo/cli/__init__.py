"""The ``convzoo`` command: one table of subcommands, one place where errors become messages.

Each subcommand is a module with the same contract: ``NAMES`` (the subcommands
it adds, each with its one-line help), ``add_parser(sub)`` and ``run(args) -> int``.
A subcommand module imports what its command needs (torch, Lightning,
matplotlib) inside ``run`` or ``add_parser``, never at its top: ``main`` builds
the full parser of the one subcommand named on the command line only, and a
placeholder with the one-line help for each other one, so that ``convzoo --help``
imports no torch and ``convzoo list`` no Lightning. Bad input -- an unknown
name, malformed YAML, a shape that does not fit, an unknown argument, a setting
out of range -- ends here as one message on stderr and exit status 2, never a
traceback (``--debug`` shows it), and so does a path the system refuses or a disk
that is full. A run that stopped exits with its error's ``exit_code``: 130
interrupted, 1 diverged.
"""

from __future__ import annotations

import errno
import sys
import traceback
import warnings
from collections.abc import Collection, Sequence
from types import ModuleType
from typing import Any

from jsonargparse import ArgumentParser

from convzoo.cli import bench, evaluate, listing, scan, train
from convzoo.cli._common import Parser, add_debug, parser
from convzoo.errors import ConvzooError, ConvzooWarning, short_repr
from convzoo.files import reason
from convzoo.train import trainer_args
from convzoo.version import VERSION

SUBCOMMANDS: tuple[ModuleType, ...] = (listing, train, evaluate, scan, bench)
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)  # a write that fails for want of room, wherever
PATH_HINT = "check the path given (--out, --data-dir, a spec or suite file)"


def make_parser(full: Collection[str] | None = None) -> ArgumentParser:
    """The argument parser of the ``convzoo`` command.

    ``full`` names the subcommands whose parsers are built in full (default: all);
    each other one gets a placeholder that knows only its one-line help.
    """
    top = Parser(
        prog="convzoo",
        description="Assemble convolutional networks from registered blocks, train and measure "
        "them.",
    )
    top.add_argument("--version", action="version", version=f"convzoo {VERSION}")
    add_debug(top)
    sub = top.add_subcommands(dest="command", metavar="COMMAND")
    for module in SUBCOMMANDS:
        if full is None or any(name in full for name in module.NAMES):
            module.add_parser(sub)
        else:
            for name, help in module.NAMES.items():
                sub.add_subcommand(name, parser(help), help=help)
    return top


def _command(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` names: its first word that is not an option (``convzoo``'s
    own options take no value)."""
    return next((word for word in argv if not word.startswith("-")), None)


def _handler(command: str) -> ModuleType:
    return next(m for m in SUBCOMMANDS if command in m.NAMES)


def _show_warning(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
    if issubclass(category, ConvzooWarning):
        sys.stderr.write(f"convzoo: warning: {message}\n")
    else:
        _default_showwarning(message, category, *args, **kwargs)


_default_showwarning = warnings.showwarning


def _rank_zero() -> bool:
    """Whether this process is rank zero (or alone); asked only after a run has trained, when
    Lightning is loaded."""
    from convzoo.train.distributed import is_rank_zero

    return is_rank_zero()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    warnings.showwarning = _show_warning
    try:
        trainer_args.check_argv(argv)
        command = _command(argv)
        # settings come from argv and files only, never from variables that jsonargparse reads
        # under JSONARGPARSE_DEFAULT_ENV, where check_argv would not see them
        parsed = make_parser(() if command is None else (command,)).parse_args(argv, env=False)
        args = parsed[parsed.command]
        args.command = parsed.command
        debug = parsed.debug or args.debug
        return _handler(parsed.command).run(args)
    except ConvzooError as exc:
        if debug:
            traceback.print_exc()
        if not getattr(exc, "once", False) or _rank_zero():
            sys.stderr.write(f"convzoo: error: {exc}\n")
        return exc.exit_code
    except BrokenPipeError:  # an OSError too: caught first, a reader that went away
        return 0
    except OSError as exc:
        full = exc.errno in DISK_FULL
        if exc.filename is None and not full:  # no path the user gave: a fault of convzoo's
            raise
        if debug:
            traceback.print_exc()
        where = "" if exc.filename is None else f"{short_repr(str(exc.filename))}: "
        fix = "make room on the disk (or choose another --out)" if full else PATH_HINT
        sys.stderr.write(f"convzoo: error: {where}{reason(exc)}; {fix}\n")
        return 2
    finally:
        warnings.showwarning = _default_showwarning
