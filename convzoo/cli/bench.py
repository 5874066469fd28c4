"""``convzoo bench SUITE.yaml``: train a grid of cells and write one report of them.

The suite is validated as a whole first (every problem in one message, exit
status 2). Cells already finished in ``--out`` are kept; the exit status is 1
when any cell failed, else 0. Run as ``python -m convzoo.cli_bench bench ...``
this module is the worker command of ``--parallel-cells``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from convzoo.bench.runner import BenchOptions, print_log, run_bench
from convzoo.bench.suite import load_suite

EXIT_FAILED_CELLS = 1
EXIT_USAGE = 2


def add_parser(sub: Any, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """The ``bench`` subcommand's parser."""
    p = sub.add_parser(
        "bench",
        parents=parents,
        help="train a grid of architectures x swaps x data x seeds and report it",
    )
    p.add_argument("suite", metavar="SUITE", help="suite YAML file (see benchmarks/suites/)")
    p.add_argument(
        "--out",
        help="output folder (default runs/bench-NAME); rerun into the same "
        "folder to keep finished cells",
    )
    p.add_argument(
        "--devices",
        type=int,
        default=1,
        help="GPUs or CPU processes: per cell, or cells at once with --parallel-cells",
    )
    p.add_argument("--strategy", default="auto", help="Lightning strategy per cell, e.g. ddp")
    p.add_argument("--accelerator", choices=("auto", "cpu", "gpu"), default="auto")
    p.add_argument(
        "--parallel-cells",
        action="store_true",
        help="run independent cells at the same time, one worker per device",
    )
    p.add_argument("--epochs", type=int, help="override the suite's epochs")
    p.add_argument(
        "--only",
        action="append",
        metavar="CELL_ID",
        help="run only this cell (repeatable); writes no report",
    )
    p.add_argument("--list", action="store_true", help="list the suite's cells and exit")
    return p


def run(args: argparse.Namespace) -> int:
    """Run the suite as the arguments say; the exit status (1 when a cell failed)."""
    suite = load_suite(args.suite, epochs=args.epochs)
    if args.list:
        for cell in suite.select(args.only) if args.only else suite.cells:
            sys.stdout.write(f"{cell.id}\n")
        return 0
    options = BenchOptions(
        out=Path(args.out or Path("runs") / f"bench-{suite.name}"),
        devices=args.devices,
        strategy=args.strategy,
        accelerator=args.accelerator,
        parallel=args.parallel_cells,
        only=args.only,
        progress=sys.stderr.isatty() and not args.only,
    )
    rows = run_bench(suite, options, print_log)
    return EXIT_FAILED_CELLS if any(row["status"] != "ok" for row in rows) else 0
