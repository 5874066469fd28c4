"""``convzoo bench SUITE``: train a grid of cells and write one report of them.

SUITE is a suite file or the name of a suite convzoo ships (``smoke``; see
``convzoo.bench.shipped``).

The suite is validated as a whole first (every problem in one message, exit
status 2). Cells already finished in ``--out`` are kept; the exit status is 1
when any cell failed (or, with ``--collect``, has not ended), else 0. ``python -m
convzoo.cli bench ... --only CELL`` is the worker command of ``--parallel-cells``;
``--launcher submitit`` runs the cells as a job array instead (``convzoo.bench.submit``),
``--retries``, ``--no-wait`` and ``--collect`` are ``BenchOptions``' declared settings.
``--data-dir`` says where this machine keeps the datasets' files, for every cell: a suite,
which may run on any machine, names no folder.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from convzoo.cli._common import add_setting, check_flags, parser
from convzoo.errors import install_hint

EXIT_FAILED_CELLS = 1
NAMES = {"bench": "train a grid of architectures x swaps x data x seeds and report it"}
# The settings of TrainConfig that a bench gives every cell, with what they mean here.
CELL_SETTINGS = {
    "devices": ": per cell, or cells at once with --parallel-cells",
    "strategy": ", for each cell",
    "accelerator": "",
    "data_dir": ", for every cell whose dataset reads files (for several datasets, as "
    "torchvision lays them out: DATA_DIR/MNIST/raw, DATA_DIR/FashionMNIST/raw)",
}
# The settings BenchOptions declares that are flags (convzoo.bench.options).
BENCH_SETTINGS = ("retries", "wait", "collect")


def add_parser(sub: Any) -> None:
    """The ``bench`` subcommand; ``CELL_SETTINGS`` (``--devices``, ``--data-dir``, ...) are
    ``TrainConfig``'s, as ``convzoo train`` makes them, ``BENCH_SETTINGS`` ``BenchOptions``'."""
    from convzoo.bench.options import BenchOptions
    from convzoo.train.config import TrainConfig

    p = parser("Train and evaluate every cell of a suite and write one report of them.")
    p.add_argument(
        "suite",
        metavar="SUITE",
        help="suite YAML file, or the name of a suite shipped with convzoo, e.g. smoke "
        "(the suites of benchmarks/suites/; a wrong name lists them)",
    )
    p.add_argument(
        "--out",
        help="output folder (default: runs/bench-NAME); rerun into the same "
        "folder to keep finished cells",
    )
    for name, note in CELL_SETTINGS.items():
        add_setting(p, TrainConfig, name, note)
    p.add_argument(
        "--parallel-cells",
        action="store_true",
        help="run independent cells at the same time, one worker per device",
    )
    p.add_argument(
        "--launcher",
        choices=("local", "submitit"),
        default="local",
        help="local: on this machine; submitit: every cell a job of one array, on SLURM where "
        f"it is ({install_hint('slurm')}) (default: local)",
    )
    p.add_argument(
        "--launcher-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a submitit executor setting, repeatable: cluster=local, timeout_min=60, "
        "slurm_partition=gpu, gpus_per_node=1, ...",
    )
    for name in BENCH_SETTINGS:
        add_setting(p, BenchOptions, name)
    p.add_argument("--epochs", type=int, help="override the suite's epochs")
    p.add_argument(
        "--only",
        action="append",
        metavar="CELL_ID",
        help="run only this cell (repeatable); writes no report",
    )
    p.add_argument("--list", action="store_true", help="list the suite's cells and exit")
    sub.add_subcommand("bench", p, help=NAMES["bench"])


def run(args: Any) -> int:
    """Run the suite as the arguments say; the exit status (1 when a cell failed)."""
    from convzoo.bench import BenchOptions, load_suite, print_log, run_bench, suite_path
    from convzoo.bench.submit import parse_options

    suite = load_suite(suite_path(args.suite), epochs=args.epochs)
    if args.list:
        for cell in suite.select(args.only) if args.only else suite.cells:
            sys.stdout.write(f"{cell.id}\n")
        return 0
    given = {name: args[name] for name in BENCH_SETTINGS if args[name] is not None}
    check_flags(BenchOptions, given)
    options = BenchOptions(
        out=Path(args.out or Path("runs") / f"bench-{suite.name}"),
        **{name: args[name] for name in CELL_SETTINGS if args[name] is not None},
        **given,
        parallel=args.parallel_cells,
        only=args.only,
        progress=sys.stderr.isatty() and not args.only,
        launcher=args.launcher,
        launcher_options=parse_options(args.launcher_option),
    )
    rows = run_bench(suite, options, print_log)
    return EXIT_FAILED_CELLS if any(row["status"] != "ok" for row in rows) else 0
