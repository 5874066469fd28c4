"""``--parallel-cells``: cells in worker processes, and a worker that dies fails only its cell."""

from __future__ import annotations

import json
import shutil
import sys

import pytest

from convzoo.bench import parallel as bench_parallel
from convzoo.cli import make_parser
from convzoo.errors import ConvzooError
from tests.bench.conftest import SMOKE_CELLS, SUITES, bench, rows


def test_cells_run_in_parallel_worker_processes(smoke_copy):
    for cell in SMOKE_CELLS[2:]:
        shutil.rmtree(smoke_copy / "cells" / cell)
    status = bench(
        str(SUITES / "smoke.yaml"),
        "--out",
        str(smoke_copy),
        "--parallel-cells",
        "--devices",
        "2",
        "--accelerator",
        "cpu",
    )
    assert status == 0
    assert all(row["status"] == "ok" for row in rows(smoke_copy).values())
    assert all((smoke_copy / "cells" / c / "log.txt").is_file() for c in SMOKE_CELLS[2:])
    with pytest.raises(ConvzooError, match="does not combine with --strategy ddp"):
        bench(
            str(SUITES / "smoke.yaml"),
            "--out",
            str(smoke_copy),
            "--parallel-cells",
            "--strategy",
            "ddp",
        )


def test_a_worker_that_dies_fails_only_its_cell(smoke_copy, monkeypatch):
    dead = SMOKE_CELLS[0]
    shutil.rmtree(smoke_copy / "cells" / dead)
    crash = [sys.executable, "-c", "import sys; print('segfault, say'); sys.exit(139)"]
    monkeypatch.setattr(bench_parallel, "worker_command", lambda *args: crash)
    status = bench(
        str(SUITES / "smoke.yaml"),
        "--out",
        str(smoke_copy),
        "--parallel-cells",
        "--accelerator",
        "cpu",
    )
    assert status == 1
    table = rows(smoke_copy)
    assert "the worker exited with status 139" in table[dead]["error"]
    assert all(table[c]["status"] == "ok" for c in SMOKE_CELLS if c != dead)
    error = json.loads((smoke_copy / "cells" / dead / "error.json").read_text())
    assert "segfault, say" in error["details"]


def test_each_worker_reads_the_data_folder_given_from_wherever_it_starts(tmp_path, monkeypatch):
    commands = []
    real = bench_parallel.worker_command

    def command(*args):
        commands.append(real(*args))
        return [sys.executable, "-c", "import sys; sys.exit(3)"]

    monkeypatch.setattr(bench_parallel, "worker_command", command)
    monkeypatch.chdir(tmp_path)
    smoke = str(SUITES / "smoke.yaml")
    flags = ("--out", "out", "--parallel-cells", "--accelerator", "cpu", "--data-dir", "data")
    assert bench(smoke, *flags) == 1
    assert len(commands) == len(SMOKE_CELLS)
    for line in commands:
        assert line[1:4] == ["-m", "convzoo.cli", "bench"]
        assert make_parser().parse_args(line[3:]).bench.data_dir == str(tmp_path / "data")
