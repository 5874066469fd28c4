"""The ``convzoo`` command: list blocks and architectures, show a network's table.

Bad input -- an unknown name, malformed YAML, a shape that does not fit, an
unknown argument -- ends with one message on stderr and exit status 2, never a
traceback (``--debug`` shows it). ``--json`` gives the same data for programs.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
import warnings
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

import convzoo
from convzoo.archs import list_archs
from convzoo.assemble import build_meta
from convzoo.plugins import PluginWarning
from convzoo.registry import ConvzooError
from convzoo.spec import load_spec
from convzoo.summary import summary

EXIT_USAGE = 2


def _console() -> Console:
    """A console that wraps tables in a terminal and never truncates them in a pipe."""
    if sys.stdout.isatty():
        return Console()
    return Console(width=240, no_color=True, highlight=False)


def _table(
    title: str | None,
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    totals: bool = False,
) -> Table:
    table = Table(title=title, title_justify="left", box=None, header_style="bold")
    numeric = {"params", "FLOPs", "rf", "stride"}
    for name in header:
        table.add_column(name, justify="right" if name in numeric else "left")
    for i, row in enumerate(rows):
        table.add_row(*row, end_section=totals and i == len(rows) - 2)
    return table


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


def _parse_swaps(items: Sequence[str] | None) -> dict[str, str]:
    swaps: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise ConvzooError(
                f"--swap {item!r}: write KEY=NAME, e.g. --swap act=relu or "
                "--swap filter.conv=unfold_conv"
            )
        swaps[key.strip()] = value.strip()
    return swaps


# -- commands --------------------------------------------------------------------------


def cmd_list_blocks(args: argparse.Namespace) -> int:
    """``convzoo list blocks``."""
    blocks = convzoo.list_blocks(args.pattern, family=args.family)
    if args.json:
        _print_json(
            [
                {
                    "family": b.family,
                    "name": b.name,
                    "description": b.description,
                    "dims": list(b.dims),
                    "source": b.source,
                    "reference": b.reference,
                }
                for b in blocks
            ]
        )
        return 0
    rows = [[b.family, b.name, ",".join(map(str, b.dims)), b.description, b.source] for b in blocks]
    _console().print(_table(None, ["family", "name", "dims", "description", "source"], rows))
    return 0


def _arch_entry(name: str) -> dict[str, Any]:
    try:
        spec = load_spec(name)
        params = sum(p.numel() for p in build_meta(spec).parameters())
        return {"name": name, "description": spec.description, "params": params}
    except ConvzooError as exc:
        return {"name": name, "description": "", "params": None, "error": str(exc)}


def cmd_list_archs(args: argparse.Namespace) -> int:
    """``convzoo list archs``."""
    entries = [_arch_entry(n) for n in list_archs(args.pattern)]
    if args.json:
        _print_json(entries)
    else:
        rows = [
            [
                e["name"],
                f"{e['params']:,}" if e["params"] is not None else "error",
                e["description"] or e.get("error", ""),
            ]
            for e in entries
        ]
        _console().print(_table(None, ["name", "params", "description"], rows))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    """``convzoo show``."""
    result = summary(args.arch, swap=_parse_swaps(args.swap))
    if args.json:
        _print_json(result.to_dict())
        return 0
    rows = result.rows()
    _console().print(_table(result.name, rows[0], rows[1:], totals=True))
    return 0


# -- parser ----------------------------------------------------------------------------


def make_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``convzoo`` command."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show the full traceback of an error",
    )
    parser = argparse.ArgumentParser(
        prog="convzoo",
        parents=[common],
        description="Assemble convolutional networks from registered blocks.",
    )
    parser.add_argument("--version", action="version", version=f"convzoo {convzoo.__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    listing = sub.add_parser("list", parents=[common], help="list blocks or architectures")
    what = listing.add_subparsers(dest="what", required=True, metavar="blocks|archs")
    blocks = what.add_parser("blocks", parents=[common], help="registered blocks")
    blocks.add_argument("pattern", nargs="?", help="glob on block names, e.g. 'conv*'")
    blocks.add_argument("--family", choices=convzoo.REGISTRY.families, help="one family only")
    blocks.add_argument("--json", action="store_true", help="a JSON list for programs")
    blocks.set_defaults(func=cmd_list_blocks)
    archs = what.add_parser("archs", parents=[common], help="named architectures")
    archs.add_argument("pattern", nargs="?", help="glob on architecture names")
    archs.add_argument("--json", action="store_true", help="a JSON list for programs")
    archs.set_defaults(func=cmd_list_archs)

    show = sub.add_parser("show", parents=[common], help="the per-layer table of a network")
    show.add_argument("arch", metavar="NAME|FILE", help="registry name or YAML spec file")
    show.add_argument(
        "--swap",
        action="append",
        metavar="KEY=NAME",
        help="replace blocks: --swap act=relu (a family) or --swap filter.conv=NAME (a name)",
    )
    show.add_argument("--json", action="store_true", help="the table as JSON")
    show.set_defaults(func=cmd_show)
    return parser


def _show_warning(message: Any, category: type[Warning], *args: Any, **kwargs: Any) -> None:
    if issubclass(category, PluginWarning):
        sys.stderr.write(f"convzoo: warning: {message}\n")
    else:
        _default_showwarning(message, category, *args, **kwargs)


_default_showwarning = warnings.showwarning


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = make_parser().parse_args(argv)
    debug = getattr(args, "debug", False)
    warnings.showwarning = _show_warning
    try:
        return args.func(args)
    except ConvzooError as exc:
        if debug:
            traceback.print_exc()
        sys.stderr.write(f"convzoo: error: {exc}\n")
        return EXIT_USAGE
    except BrokenPipeError:
        return 0
    finally:
        warnings.showwarning = _default_showwarning


if __name__ == "__main__":
    sys.exit(main())
