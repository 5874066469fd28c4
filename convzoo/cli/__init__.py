"""The ``convzoo`` command: list blocks, architectures and data; show a network; train it.

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
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

import convzoo
from convzoo.archs import list_archs
from convzoo.assemble import build_meta, parse_swaps
from convzoo.cli import bench as cli_bench
from convzoo.cli import scan as cli_scan
from convzoo.cli import train as cli_train
from convzoo.data import DATASETS
from convzoo.errors import ConvzooError
from convzoo.evaluate.report import evaluate
from convzoo.evaluate.robustness import DEFAULT_SCALES
from convzoo.plugins import PluginWarning
from convzoo.spec import load_spec
from convzoo.summary import summary
from convzoo.train.fit import RunInterrupted, report_markdown

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


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
    result = summary(args.arch, swap=parse_swaps(args.swap))
    if args.json:
        _print_json(result.to_dict())
        return 0
    rows = result.rows()
    _console().print(_table(result.name, rows[0], rows[1:], totals=True))
    return 0


def cmd_list_data(args: argparse.Namespace) -> int:
    """``convzoo list data``."""
    found = DATASETS.list("data", args.pattern)
    if args.json:
        _print_json([{"name": d.name, "description": d.description, "dims": list(d.dims),
                      "reference": d.reference} for d in found])  # fmt: skip
        return 0
    rows = [[d.name, ",".join(map(str, d.dims)), d.description] for d in found]
    _console().print(_table(None, ["name", "dims", "description"], rows))
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    """``convzoo train``: train, test, write the report, print its table."""
    report = cli_train.run(args)
    rows = [line.strip("|").split("|") for line in report_markdown(report).splitlines()[4:]]
    _console().print(_table(None, ["", ""], [[a.strip(), b.strip()] for a, b in rows]))
    sys.stdout.write(f"report: {Path(report['run_dir']) / 'report.md'}\n")
    if args.evaluate:
        result = evaluate(report["run_dir"])
        sys.stdout.write(f"evaluation: {Path(result['out']) / 'evaluate.md'}\n")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    """``convzoo evaluate``: the robustness measures of a run, written next to it."""
    result = evaluate(args.run, data=args.data, data_dir=args.data_dir,
                      scales=args.scales or DEFAULT_SCALES, max_shift=args.max_shift,
                      out=args.out)  # fmt: skip
    sys.stdout.write(
        f"{result['arch']} on {result['data']}: clean accuracy {100 * result['clean_acc']:.2f}%, "
        f"scale summary {result['scale']['summary']:.3f}, "
        f"shift consistency {100 * result['shift_consistency']:.2f}%\n"
        f"evaluation: {Path(result['out']) / 'evaluate.md'}\n"
    )
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

    listing = sub.add_parser("list", parents=[common], help="list blocks, architectures or data")
    what = listing.add_subparsers(dest="what", required=True, metavar="blocks|archs|data")
    blocks = what.add_parser("blocks", parents=[common], help="registered blocks")
    blocks.add_argument("pattern", nargs="?", help="glob on block names, e.g. 'conv*'")
    blocks.add_argument("--family", choices=convzoo.REGISTRY.families, help="one family only")
    blocks.add_argument("--json", action="store_true", help="a JSON list for programs")
    blocks.set_defaults(func=cmd_list_blocks)
    archs = what.add_parser("archs", parents=[common], help="named architectures")
    archs.add_argument("pattern", nargs="?", help="glob on architecture names")
    archs.add_argument("--json", action="store_true", help="a JSON list for programs")
    archs.set_defaults(func=cmd_list_archs)
    data = what.add_parser("data", parents=[common], help="datasets")
    data.add_argument("pattern", nargs="?", help="glob on dataset names")
    data.add_argument("--json", action="store_true", help="a JSON list for programs")
    data.set_defaults(func=cmd_list_data)

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
    cli_train.add_parser(sub, [common]).set_defaults(func=cmd_train)
    cli_bench.add_parser(sub, [common]).set_defaults(func=cli_bench.run)
    cli_scan.add_parser(sub, [common]).set_defaults(func=cli_scan.run)
    ev = sub.add_parser("evaluate", parents=[common], help="robustness of a trained run")
    ev.add_argument("run", metavar="RUN_DIR|CKPT", help="a run directory or a checkpoint")
    ev.add_argument("--data", help="dataset (default: the run's)")
    ev.add_argument("--data-dir", help="folder with the dataset's files")
    ev.add_argument("--scales", type=float, nargs="+", metavar="S", help="resize factors")
    ev.add_argument("--max-shift", type=int, default=4, help="largest shift in pixels")
    ev.add_argument("--out", help="where to write (default: the run directory)")
    ev.set_defaults(func=cmd_evaluate)
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
        return EXIT_INTERRUPTED if isinstance(exc, RunInterrupted) else EXIT_USAGE
    except BrokenPipeError:
        return 0
    finally:
        warnings.showwarning = _default_showwarning


