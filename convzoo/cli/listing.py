"""``convzoo list blocks|archs|data`` and ``convzoo show NAME|FILE``: what there is, one net.

``show`` prints the per-layer table and, where the spec carries one, its recipe;
``show NAME --yaml`` the architecture's file as shipped, comments and all, to copy
and edit (an installed wheel keeps it deep inside site-packages). Architectures are
files only (``convzoo.archs``): plugins add blocks and datasets, not architectures.
A listing fits the terminal: each entry takes one or two lines, its description
cut short where longer (``...``); ``--verbose`` shows every column in full
(references, sources).

``--json`` gives the same data for programs; for blocks it is an object with
the ``blocks`` and the ``plugin_failures`` (plugins that failed to load, which
registered nothing). An architecture that fails to build is listed with its
error instead of taking the listing down.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Sequence
from typing import Any

from jsonargparse import ArgumentParser

import convzoo
from convzoo import plugins
from convzoo.archs import arch_path, list_archs
from convzoo.cli._common import (
    add_swap,
    console,
    parse_swaps,
    parser,
    print_json,
    print_table,
    table,
)
from convzoo.errors import ConvzooError
from convzoo.files import read_bounded
from convzoo.registry import REGISTRY
from convzoo.spec import SpecError, load_spec, spec_file
from convzoo.train.config import recipe

NAMES = {
    "list": "list blocks, architectures or data",
    "show": "the per-layer table of a network",
}


def _lister(
    description: str, pattern: str, json: str = "a JSON list for programs"
) -> ArgumentParser:
    p = parser(description)
    p.add_argument("pattern", nargs="?", help=f"glob on {pattern} names, e.g. 'conv*'")
    p.add_argument("--json", action="store_true", help=json)
    p.add_argument(
        "--verbose",
        action="store_true",
        help="every column in full: references, sources, whole descriptions",
    )
    return p


DESCRIPTION_LINES = 2  # a listed entry's description takes at most this many lines
NARROWEST = 20  # the description's column is never cut narrower than this


def _print_listing(
    header: Sequence[str], rows: Sequence[Sequence[str]], verbose: bool = False
) -> None:
    """A listing's table. Without ``verbose`` its ``description`` column takes the width the
    other columns leave in the terminal, cut to ``DESCRIPTION_LINES`` lines, so that each
    entry is a line or two; with it every cell is whole, wrapped as the terminal needs."""
    out = console()
    if not verbose:
        at = list(header).index("description")
        others = sum(
            max(len(row[i]) for row in [header, *rows]) + 2 for i in range(len(header)) if i != at
        )
        wrap = textwrap.TextWrapper(
            width=max(NARROWEST, out.width - others - 2),
            max_lines=DESCRIPTION_LINES,
            placeholder=" ...",
        )
        rows = [[*row[:at], wrap.fill(row[at]), *row[at + 1 :]] for row in rows]
    out.print(table(None, header, rows))


def add_parser(sub: Any) -> None:
    """The ``list`` subcommand (blocks, archs, data) and ``show``."""
    listing = parser("List registered blocks, named architectures or datasets.")
    sub.add_subcommand("list", listing, help=NAMES["list"])
    what = listing.add_subcommands(dest="what", metavar="blocks|archs|data")
    blocks = _lister(
        "Registered blocks with their metadata.",
        "block",
        "a JSON object for programs: blocks, and plugin_failures (plugins that did not load)",
    )
    blocks.add_argument("--family", choices=REGISTRY.families, help="one family only")
    what.add_subcommand("blocks", blocks, help="registered blocks")
    what.add_subcommand(
        "archs", _lister("Named architectures and their sizes.", "arch"), help="named architectures"
    )
    what.add_subcommand("data", _lister("Datasets.", "dataset"), help="datasets")
    show = parser("The per-layer table of a network: shapes, parameters, FLOPs, receptive field.")
    show.add_argument("arch", metavar="NAME|FILE", help="registry name or YAML spec file")
    add_swap(show)
    show.add_argument("--json", action="store_true", help="the table as JSON")
    show.add_argument(
        "--yaml",
        action="store_true",
        help="the spec to copy and edit: its file as shipped, comments included "
        "(with --swap, the swapped spec)",
    )
    sub.add_subcommand("show", show, help=NAMES["show"])


def _blocks(args: Any) -> int:
    found = convzoo.list_blocks(args.pattern, family=args.family)
    if args.json:
        blocks = [
            {
                "family": b.family,
                "name": b.name,
                "description": b.description,
                "dims": list(b.dims),
                "source": b.source,
                "reference": b.reference,
            }
            for b in found
        ]
        failed = [f.to_dict() for f in plugins.failures(REGISTRY)]
        print_json({"blocks": blocks, "plugin_failures": failed})
        return 0
    header = ["family", "name", "dims", "description", "reference", "source"]
    rows = [
        [b.family, b.name, ",".join(map(str, b.dims)), b.description, b.reference or "", b.source]
        for b in found
    ]
    shown = len(header) if args.verbose else 4
    _print_listing(header[:shown], [row[:shown] for row in rows], args.verbose)
    return 0


def _arch_entry(name: str) -> dict[str, Any]:
    from convzoo.assemble import build_meta

    try:
        spec = load_spec(name)
        params = sum(p.numel() for p in build_meta(spec).parameters())
        return {"name": name, "description": spec.description, "params": params}
    except ConvzooError as exc:
        return {"name": name, "description": "", "params": None, "error": str(exc)}


def _archs(args: Any) -> int:
    entries = [_arch_entry(n) for n in list_archs(args.pattern)]
    if args.json:
        print_json(entries)
        return 0
    rows = [
        [
            e["name"],
            "error" if e["params"] is None else f"{e['params']:,}",
            e["description"] or e.get("error", ""),
        ]
        for e in entries
    ]
    _print_listing(["name", "params", "description"], rows, args.verbose)
    return 0


def _data(args: Any) -> int:
    from convzoo.data import DATASETS

    found = DATASETS.list(args.pattern, family="data")
    if args.json:
        print_json(
            [
                {
                    "name": d.name,
                    "description": d.description,
                    "dims": list(d.dims),
                    "reference": d.reference,
                }
                for d in found
            ]
        )
        return 0
    header = ["name", "dims", "description", "reference"]
    rows = [[d.name, ",".join(map(str, d.dims)), d.description, d.reference or ""] for d in found]
    shown = len(header) if args.verbose else 3
    _print_listing(header[:shown], [row[:shown] for row in rows], args.verbose)
    return 0


def _show_yaml(args: Any) -> int:
    """The spec as YAML: its file's text as written, or with ``--swap`` the swapped spec, which
    no file holds. Either loads back as the spec shown."""
    spec = load_spec(args.arch)
    if args.swap:
        from convzoo.assemble import apply_swaps

        sys.stdout.write(apply_swaps(spec, parse_swaps(args.swap)).to_yaml())
    else:
        path = spec_file(args.arch) or arch_path(args.arch)
        sys.stdout.write(read_bounded(path, "the spec file", SpecError).decode("utf-8"))
    return 0


def _show(args: Any) -> int:
    from convzoo.summary import summary

    if args.yaml:
        if args.json:
            raise ConvzooError("show: --json and --yaml are two forms of output; give one")
        return _show_yaml(args)
    spec = load_spec(args.arch)
    made, source = recipe(spec)
    result = summary(spec, swap=parse_swaps(args.swap))
    if args.json:
        print_json({**result.to_dict(), "recipe": {**made, "source": source} if made else None})
        return 0
    rows = result.rows()
    print_table(result.name, rows[0], rows[1:], totals=True)
    if made:
        sys.stdout.write(f"\nrecipe ({source or 'no source given'}):\n")
        print_table(None, ["setting", "value"], [[k, str(v)] for k, v in made.items()])
    return 0


LISTS = {"blocks": _blocks, "archs": _archs, "data": _data}


def run(args: Any) -> int:
    """List what ``args.what`` names, or show ``args.arch``."""
    if args.command == "show":
        return _show(args)
    return LISTS[args.what](args[args.what])
