"""``convzoo bench --launcher submitit``: the cells as a job array, run by submitit's local
executor, into the same ``--out`` as a local run, which a rerun continues."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from convzoo.errors import ConvzooError
from tests.bench.conftest import SUITES, bench, rows

SUITE = """name: sub
archs: [tiny.yaml]
data: [synthetic]
seeds: [0, 1]
epochs: 1
train: {batch_size: 32, lr: 0.1}
evaluate: {scales: [1.0], max_shift: 1, batch_size: 256}
"""
CELLS = ["tiny__synthetic__seed0", "tiny__synthetic__seed1"]
LOCAL = ("--launcher", "submitit", "--launcher-option", "cluster=local")


def _suite(folder: Path) -> str:
    shutil.copy(SUITES / "tiny.yaml", folder / "tiny.yaml")
    (folder / "suite.yaml").write_text(SUITE)
    return str(folder / "suite.yaml")


def _submitted(out: Path) -> int:
    return len(list((out / "submitit").glob("*_submitted.pkl")))


@pytest.mark.timeout(600)
def test_cells_run_as_local_jobs_and_a_rerun_keeps_the_finished_ones(tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    suite, out = _suite(tmp_path), tmp_path / "out"
    assert bench(suite, "--out", str(out), "--accelerator", "cpu", *LOCAL) == 0
    table = rows(out)
    assert sorted(table) == CELLS and all(row["status"] == "ok" for row in table.values())
    assert all((out / "cells" / cell / "result.json").is_file() for cell in CELLS)
    assert (out / "report.md").is_file() and _submitted(out) == 2

    assert bench(suite, "--out", str(out), "--accelerator", "cpu", *LOCAL) == 0
    assert _submitted(out) == 2 and rows(out) == table  # nothing submitted again

    shutil.rmtree(out / "cells" / CELLS[1])
    assert bench(suite, "--out", str(out), "--accelerator", "cpu", *LOCAL) == 0
    assert _submitted(out) == 3 and rows(out)[CELLS[0]] == table[CELLS[0]]
    assert rows(out)[CELLS[1]]["status"] == "ok"


def test_without_submitit_one_install_hint_and_no_folder(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "submitit", None)  # import submitit fails
    out = tmp_path / "out"
    with pytest.raises(ConvzooError, match=r"pip install 'convzoo\[slurm\]'"):
        bench(_suite(tmp_path), "--out", str(out), *LOCAL)
    assert not out.exists()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ((*LOCAL, "--launcher-option", "no_such_setting=1"), "submitit refused"),
        ((*LOCAL, "--launcher-option", "timeout_min"), "expected KEY=VALUE"),
        ((*LOCAL, "--launcher-option", "mem_gb=[a"), "--launcher-option mem_gb"),
        ((*LOCAL, "--parallel-cells"), "leave out --parallel-cells"),
        (("--launcher-option", "timeout_min=5"), "add --launcher submitit"),
    ],
)
def test_launcher_settings_that_cannot_work_are_refused(tmp_path, flags, message):
    out = tmp_path / "out"
    with pytest.raises(ConvzooError, match=message):
        bench(_suite(tmp_path), "--out", str(out), *flags)
    assert not out.exists()
