"""Benchmark suites: a grid of (architecture x swaps x data x seeds) training runs, reported.

``suite`` reads and checks a suite file (``checks`` holds one parser per key)
and expands it into cells; ``shipped`` finds the suites convzoo ships by name;
``runner`` trains and evaluates the cells one by one, or ``parallel`` one per
device in worker processes, or ``submit`` as a submitit job array; ``files`` is
the folder layout every cell leaves on disk; ``report`` turns the cells into CSV,
JSON and Markdown, ``plots`` into the report's figures.
"""

from convzoo.bench.runner import BenchOptions, print_log, run_bench, run_cell
from convzoo.bench.shipped import suite_names, suite_path
from convzoo.bench.suite import Cell, Suite, SuiteError, load_suite

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
