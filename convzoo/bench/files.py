"""The folders a benchmark writes under ``--out``, one per cell, and how they are read back.

::

    suite.yaml                 the suite file as it was run
    cells/<id>/cell.json       the cell and the fingerprint of its settings (written first)
    cells/<id>/report.json     the cell's training run (logs, checkpoints) in the same folder
    cells/<id>/result.json     written last, atomically: the cell is finished
    cells/<id>/error.json      why the cell's last attempt failed
    cells/<id>/log.txt         a worker's output (--parallel-cells)
    results.csv  results.json  report.md  *.png

The files on disk are the truth: the runner, the parallel workers and a rerun
all decide what is finished, failed or stale by reading them, so a crash at any
moment leaves a folder the next run can continue from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from convzoo.bench.suite import Cell, Suite, SuiteError
from convzoo.files import read_json, write_json

CELL, RESULT, ERROR, LOG = "cell.json", "result.json", "error.json", "log.txt"
SUITE_COPY = "suite.yaml"
UNFINISHED = "unfinished"  # the status of a cell whose job had not ended (--collect)


def cell_dir(out: Path, cell: Cell) -> Path:
    """The folder of one cell."""
    return out / "cells" / cell.id


def cell_fields(cell: Cell) -> dict[str, Any]:
    """What identifies a cell in results and reports."""
    return {
        "id": cell.id,
        "label": cell.label,
        "arch": cell.arch_name,
        "arch_source": cell.arch,
        "swaps": cell.swap,
        "data": cell.data,
        "permute": cell.permute,
        "seed": cell.seed,
        "spec_hash": cell.spec_hash,
    }


def is_finished(out: Path, cell: Cell) -> bool:
    """Whether the cell has its result."""
    return read_json(cell_dir(out, cell) / RESULT) is not None


def record_failure(out: Path, cell: Cell, error: str, details: str = "") -> dict[str, Any]:
    """Write and return a failed cell's row."""
    failure = {**cell_fields(cell), "status": "failed", "error": error, "details": details}
    folder = cell_dir(out, cell)
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / ERROR, failure)
    return failure


def ended(out: Path, cell: Cell, error: str, details: str = "") -> dict[str, Any]:
    """A cell's row once the process that ran it (a worker, a job) has ended: what it wrote,
    or, when it wrote neither result nor error (it died), a failure with ``error``."""
    folder = cell_dir(out, cell)
    if read_json(folder / RESULT) is None and read_json(folder / ERROR) is None:
        return record_failure(out, cell, error, details)
    return collect(out, cell)


def collect(out: Path, cell: Cell, ended: bool = True) -> dict[str, Any]:
    """A cell's row as its folder holds it: the result, else the failure. A cell with neither
    failed, or, where its job may still run (``ended`` False: ``--collect``), has not ended."""
    folder = cell_dir(out, cell)
    row = read_json(folder / RESULT) or read_json(folder / ERROR)
    if row is None and not ended:
        row = {**cell_fields(cell), "status": UNFINISHED, "error": "it had not ended"}
    elif row is None:
        row = {**cell_fields(cell), "status": "failed", "error": "the cell left no result"}
    return row


def status(row: dict[str, Any] | None) -> str:
    """How a cell ended, in a log line: its test accuracy, or why it failed."""
    if row is None or row.get("status") != "ok":
        return f"FAILED: {row['error'] if row else 'no result'}"
    if row.get("test_acc") is None:  # its run's test was cut short (limit_test_batches)
        return "finished; its test was cut short, so no test accuracy"
    return f"test accuracy {100 * row['test_acc']:.2f}%"


def check_stale(suite: Suite, cells: list[Cell], out: Path) -> None:
    """Refuse a folder whose cells were started with other settings."""
    stale = []
    for cell in cells:
        started = read_json(cell_dir(out, cell) / CELL)
        if started is not None and started.get("fingerprint") != suite.fingerprint(cell):
            stale.append(cell.id)
    if stale:
        more = " ..." if len(stale) > 5 else ""
        raise SuiteError(
            f"{out}: {len(stale)} cell(s) were run with other settings (the suite or --epochs "
            f"changed): {', '.join(stale[:5])}{more}. Use another --out, or delete those "
            "folders under cells/ to rerun them."
        )
