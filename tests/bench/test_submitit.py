"""``convzoo bench --launcher submitit``: the cells as a job array, run by submitit's local
executor, into the same ``--out`` as a local run, which a rerun continues; a job stopped by
submitit's signal resumes its cell, a job that dies is submitted again, ``--no-wait`` returns
at once and ``--collect`` reports what has ended."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from convzoo.bench import load_suite, submit
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


def _suite(folder: Path, text: str = SUITE) -> str:
    shutil.copy(SUITES / "tiny.yaml", folder / "tiny.yaml")
    (folder / "suite.yaml").write_text(text)
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
        (("--no-wait",), "--no-wait sets up submitit's jobs; add --launcher submitit"),
        (("--retries", "3", "--no-wait"), "--retries and --no-wait set up submitit's jobs"),
        ((*LOCAL, "--retries", "-1"), "--retries: must be zero or more"),
        (("--collect",), "holds no benchmark"),
    ],
)
def test_launcher_settings_that_cannot_work_are_refused(tmp_path, flags, message):
    out = tmp_path / "out"
    with pytest.raises(ConvzooError, match=message):
        bench(_suite(tmp_path), "--out", str(out), *flags)
    assert not out.exists()


class _Job:
    def __init__(self, job_id: str) -> None:
        self.job_id = job_id


class _Executor:
    """A stand-in for submitit's executor: its jobs get the ids it is given, nothing runs."""

    def __init__(self, cluster: str, ids: list[str]) -> None:
        self.cluster, self.ids = cluster, ids

    def map_array(self, job, cells):
        self.job = job
        return [_Job(i) for i in self.ids[: len(cells)]]


@pytest.mark.parametrize(
    ("cluster", "ids", "named"),
    [
        ("local", ["11968", "11974"], "2 local process(es), pids 11968, 11974"),
        ("slurm", ["4242_0", "4242_1"], "slurm jobs 4242_0 to 4242_1"),
    ],
)
def test_the_submitted_jobs_are_named_as_their_cluster_knows_them(tmp_path, cluster, ids, named):
    """The local executor's jobs are processes whose pids do not run in a row: each is named,
    never as a range of 'jobs'; a scheduler's array keeps its range of job ids."""
    cells = load_suite(_suite(tmp_path)).cells
    lines: list[str] = []
    submit.run_jobs(print, cells, tmp_path, _Executor(cluster, ids), lines.append, 1, False)
    assert lines == [
        f"submitted 2 cell(s) through submitit as {named}; their logs: {tmp_path / 'submitit'}"
    ]


def test_each_job_reads_the_data_folder_given_from_wherever_it_starts(tmp_path, monkeypatch):
    fake = _Executor("slurm", ["4242_0", "4242_1"])
    monkeypatch.setattr(submit, "executor", lambda *args: fake)
    monkeypatch.chdir(tmp_path)
    flags = ("--out", "out", *LOCAL, "--no-wait", "--data-dir", "data")
    assert bench(_suite(tmp_path), *flags) == 0
    options = fake.job.run.keywords["options"]  # run_cell's, in every job
    assert (options.data_dir, options.out) == (str(tmp_path / "data"), tmp_path / "out")


LONGER = SUITE.replace("epochs: 1", "epochs: 5").replace("batch_size: 32", "batch_size: 16")
ONE_SEED = SUITE.replace("seeds: [0, 1]", "seeds: [0]")


def _signal_when_training(out: Path, signals: dict[str, int], deadline: float) -> None:
    """Send each cell's job process (its folder's lock holder) its signal as soon as the
    cell's first checkpoint is written, while it trains on."""
    waiting = dict(signals)
    while waiting:
        assert time.monotonic() < deadline, f"{sorted(waiting)} wrote no checkpoint"
        for cell, signum in list(waiting.items()):
            folder = out / "cells" / cell
            if (folder / "checkpoints" / "last.ckpt").is_file():
                os.kill(int((folder / ".lock").read_text()), signum)
                del waiting[cell]
        time.sleep(0.02)


@pytest.mark.timeout(600)
def test_a_preempted_cell_resumes_in_its_requeued_job_and_a_dead_one_is_submitted_again(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setattr(submit, "POLL_SECONDS", 0.2)
    suite, out = _suite(tmp_path, LONGER), tmp_path / "out"
    ended: list[int] = []
    flags = ("--out", str(out), "--accelerator", "cpu", *LOCAL)
    waiting = threading.Thread(target=lambda: ended.append(bench(suite, *flags)))
    waiting.start()
    stops = {CELLS[0]: signal.SIGUSR2, CELLS[1]: signal.SIGKILL}  # submitit's; a lost node
    _signal_when_training(out, stops, time.monotonic() + 300)
    waiting.join(timeout=300)
    assert ended == [0]
    table = rows(out)
    assert all(row["status"] == "ok" and row["epochs"] == "5" for row in table.values())
    for cell in CELLS:  # each went on from its checkpoint: a second part of the run's logs
        assert (out / "cells" / cell / "logs-2").is_dir(), cell
    log = capsys.readouterr().out
    assert f"{CELLS[1]}: FAILED: submitit's local process" in log and "(attempt 2 of 2)" in log
    assert "submitted again" not in log.split(CELLS[1] + ": FAILED")[0]  # the preempted one
    assert log.count("submitted again") == 1  # the dead cell's second job, and no other


@pytest.mark.timeout(600)
def test_no_wait_returns_once_submitted_and_collect_reports_what_has_ended(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    suite, out = _suite(tmp_path, ONE_SEED), tmp_path / "out"
    assert bench(suite, "--out", str(out), "--accelerator", "cpu", *LOCAL, "--no-wait") == 0
    assert "--collect writes the report" in capsys.readouterr().out
    assert not (out / "report.md").exists()
    assert bench(suite, "--out", str(out), "--collect") == 1  # the job is still starting
    assert "1 not ended" in (out / "report.md").read_text()
    assert rows(out)[CELLS[0]]["status"] == "unfinished"
    deadline = time.monotonic() + 300
    while not (out / "cells" / CELLS[0] / "result.json").is_file():
        assert time.monotonic() < deadline, "the job did not end"
        time.sleep(0.2)
    assert bench(suite, "--out", str(out), "--collect") == 0
    assert rows(out)[CELLS[0]]["status"] == "ok"
    assert "not ended" not in (out / "report.md").read_text()
