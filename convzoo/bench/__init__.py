"""Benchmark suites: a grid of (architecture x swaps x data x seeds) training runs, reported.

``suite`` reads and checks a suite file (``checks`` holds one parser per key)
and expands it into cells; ``shipped`` finds the suites convzoo ships by name;
``options`` says how a suite runs; ``runner`` trains and evaluates the cells one by
one, or ``parallel`` one per device in worker processes, or ``submit`` as a submitit
job array (each job a ``job.Resumable``); ``files`` is the folder layout every cell
leaves on disk; ``report`` turns the cells into CSV, JSON and Markdown, ``plots`` into
the report's figures.

The names below are imported on first use (``convzoo.lazy``): ``convzoo.bench.options``,
which the command line reads to make ``convzoo bench``'s flags, must not import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from convzoo.lazy import lazy_exports

if TYPE_CHECKING:
    from convzoo.bench.options import BenchOptions
    from convzoo.bench.runner import print_log, run_bench, run_cell
    from convzoo.bench.shipped import suite_names, suite_path
    from convzoo.bench.suite import Cell, Suite, SuiteError, load_suite

_EXPORTS = {
    "BenchOptions": "convzoo.bench.options",
    "Cell": "convzoo.bench.suite",
    "Suite": "convzoo.bench.suite",
    "SuiteError": "convzoo.bench.suite",
    "load_suite": "convzoo.bench.suite",
    "print_log": "convzoo.bench.runner",
    "run_bench": "convzoo.bench.runner",
    "run_cell": "convzoo.bench.runner",
    "suite_names": "convzoo.bench.shipped",
    "suite_path": "convzoo.bench.shipped",
}
lazy_exports(__name__, _EXPORTS)

__all__ = [
    "BenchOptions",
    "Cell",
    "Suite",
    "SuiteError",
    "load_suite",
    "print_log",
    "run_bench",
    "run_cell",
    "suite_names",
    "suite_path",
]
