"""SLURM's signals, its requeue and Lightning's snapshots, with SLURM's variables set as a
one-task batch job gets them.

``convzoo train`` runs as a subprocess and gets SIGUSR1 once its first checkpoint is
written, as the audit sent it: it must stop with one message, requeue the job (through an
``scontrol`` on ``PATH`` that records its arguments), write no Lightning snapshot, and the
same command line run again as the requeued job (``SLURM_RESTART_COUNT=1``) must end with
the weights and test accuracy of a run never stopped (trained here, in one thread as the
subprocess). SIGTERM stops a run too, and requeues nothing. Only the job that wrote a
folder, restarted, continues it without ``--resume``. The test phase must score the
weights the run ends with whatever snapshot lies in the folder.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch

from convzoo.errors import ConvzooError
from convzoo.train import train
from convzoo.train.checkpoint import CHECKPOINT, last_checkpoint
from tests.train.conftest import train_command

JOB = "4242"
ONE_TASK = {
    "SLURM_JOB_ID": JOB,
    "SLURM_JOB_NAME": "train",
    "SLURM_NTASKS": "1",
    "SLURM_NNODES": "1",
    "SLURM_NTASKS_PER_NODE": "1",
    "SLURM_PROCID": "0",
    "SLURM_LOCALID": "0",
    "SLURM_NODEID": "0",
}
FLAGS = ("--epochs", "5", "--batch-size", "16", "--translate", "1", "--schedule", "cosine")
SCONTROL = '#!/bin/sh\necho "$@" >> "$(dirname "$0")/scontrol.calls"\n'


def _env(folder: Path, **slurm: str) -> dict[str, str]:
    """This process's environment without any launcher's variables, with ``slurm``'s, and a
    recording ``scontrol`` first on ``PATH``."""
    bin_dir = folder / "bin"
    bin_dir.mkdir(exist_ok=True)
    scontrol = bin_dir / "scontrol"
    scontrol.write_text(SCONTROL)
    scontrol.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "TORCHELASTIC"))}
    paths = [str(Path(__file__).parents[2]), os.environ.get("PYTHONPATH", "")]
    env.update(PYTHONPATH=os.pathsep.join(paths), PATH=f"{bin_dir}{os.pathsep}{env['PATH']}")
    env.update(OMP_NUM_THREADS="1", **slurm)
    return env


def _weights(out: Path) -> dict[str, torch.Tensor]:
    return torch.load(out / CHECKPOINT, weights_only=True)["state_dict"]


def _stop(folder: Path, signum: int) -> tuple[subprocess.CompletedProcess[str], Path]:
    """``convzoo train`` under SLURM into ``folder/run``, sent ``signum`` once its first
    checkpoint is written; the ended process and the run folder, checked as every stop must
    be: one message, no traceback, no report, no Lightning snapshot, stopped early."""
    command = train_command(folder, "run", *FLAGS)
    out = folder / "run"
    job = subprocess.Popen(command, env=_env(folder, **ONE_TASK), stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while last_checkpoint(out) is None and job.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    job.send_signal(signum)
    _, stderr = job.communicate(timeout=120)
    assert job.returncode == 128 + signum, stderr[-3000:]
    assert "Traceback" not in stderr and stderr.count("convzoo: error:") == 1, stderr
    assert f"SLURM job {JOB}" in stderr and "same command line" in stderr
    assert not (out / "report.json").exists()
    assert not list(out.glob("hpc_ckpt_*")), "Lightning wrote its own snapshot"
    assert torch.load(out / CHECKPOINT, weights_only=True)["epoch"] < 4  # stopped early
    return subprocess.CompletedProcess(command, job.returncode, "", stderr), out


def _scontrol_calls(folder: Path) -> list[str]:
    calls = folder / "bin" / "scontrol.calls"
    return calls.read_text().split() if calls.exists() else []


@pytest.fixture
def slurm(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """This process as the one task of SLURM job ``JOB``."""
    for key in list(os.environ):
        if key.startswith(("SLURM_", "TORCHELASTIC")):
            monkeypatch.delenv(key)
    for key, value in ONE_TASK.items():
        monkeypatch.setenv(key, value)
    return monkeypatch


def _never_stopped(config, out: Path) -> Path:
    """The run of ``FLAGS`` trained through, in one thread as the subprocesses (its folder)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        train(config(epochs=5, batch_size=16, translate=1, schedule="cosine", out=str(out)))
    finally:
        torch.set_num_threads(threads)
    return out


@pytest.mark.timeout(300)
def test_sigusr1_stops_requeues_and_the_requeued_job_resumes_the_run_exactly(config, tmp_path):
    stopped, out = _stop(tmp_path, signal.SIGUSR1)
    assert _scontrol_calls(tmp_path) == ["requeue", JOB]
    assert "the job was requeued: run again with the same command line" in stopped.stderr

    again = subprocess.run(
        stopped.args,
        env=_env(tmp_path, **ONE_TASK, SLURM_RESTART_COUNT="1"),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"requeued SLURM job {JOB} (restart 1): resuming" in again.stderr
    whole = _never_stopped(config, tmp_path / "whole")
    parts, reference = _weights(out), _weights(whole)
    assert parts.keys() == reference.keys()
    assert all(torch.equal(parts[k], reference[k]) for k in reference)
    report = json.loads((out / "report.json").read_text())
    assert report["test_acc"] == json.loads((whole / "report.json").read_text())["test_acc"]
    assert report["epochs"] == 5


def test_sigterm_stops_the_run_without_requeuing_it(slurm, config, tmp_path):
    from lightning.pytorch.callbacks import Callback

    class Preempt(Callback):  # SLURM's SIGTERM, to this process, in the second epoch
        def on_train_batch_end(self, trainer, module, outputs, batch, index):
            if trainer.current_epoch == 1 and index == 3:
                os.kill(os.getpid(), signal.SIGTERM)

    slurm.setenv("PATH", _env(tmp_path)["PATH"])
    with pytest.raises(ConvzooError, match="SIGTERM.*if SLURM requeues the job") as stopped:
        train(config(epochs=3, steps_per_call=1), callbacks=[Preempt()])
    assert stopped.value.exit_code == 128 + signal.SIGTERM
    assert f"--out {tmp_path / 'run'} --resume" in str(stopped.value)
    assert _scontrol_calls(tmp_path) == []
    assert torch.load(last_checkpoint(tmp_path / "run"), weights_only=True)["epoch"] == 0
    assert not (tmp_path / "run" / "report.json").exists()
    assert not list((tmp_path / "run").glob("hpc_ckpt_*"))
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # the run's handler is gone


def _snapshot_of_zeros(out: Path, name: str = "hpc_ckpt_1.ckpt") -> Path:
    """A Lightning snapshot made from the run's checkpoint with every weight zero: it scores
    chance (a quarter), where the trained net scores far above."""
    content = torch.load(out / CHECKPOINT, weights_only=True)
    content["state_dict"] = {k: torch.zeros_like(v) for k, v in content["state_dict"].items()}
    torch.save(content, out / name)
    return out / name


def test_the_test_scores_the_final_weights_whatever_snapshot_lies_in_the_folder(
    slurm, config, tmp_path
):
    from lightning.pytorch.callbacks import Callback

    class LeaveASnapshot(Callback):  # as Lightning's SIGUSR1 handler did, mid-run
        def on_train_end(self, trainer, module):
            _snapshot_of_zeros(tmp_path / "run")

    report = train(config(epochs=1), callbacks=[LeaveASnapshot()])
    assert (tmp_path / "run" / "hpc_ckpt_1.ckpt").is_file()
    assert report["test_acc"] > 0.9
    clean = train(config(epochs=1, out=str(tmp_path / "clean")))
    assert report["test_acc"] == clean["test_acc"]


def test_a_new_run_into_a_folder_holding_a_lightning_snapshot_is_refused(slurm, config, tmp_path):
    train(config(epochs=1, out=str(tmp_path / "done")))
    (tmp_path / "run").mkdir()
    _snapshot_of_zeros(tmp_path / "done").rename(tmp_path / "run" / "hpc_ckpt_3.ckpt")
    with pytest.raises(ConvzooError, match=r"hpc_ckpt_3.ckpt.*Lightning.*delete it"):
        train(config(epochs=1))
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["hpc_ckpt_3.ckpt"]


def test_only_the_requeued_job_that_wrote_a_folder_continues_it(
    slurm, config, tmp_path, monkeypatch
):
    from tests.train.test_fit import interrupt_in_epoch

    interrupt_in_epoch(monkeypatch, 1)
    with pytest.raises(ConvzooError, match="interrupted"):
        train(config(epochs=2))
    monkeypatch.undo()  # the job's variables too: set them again
    for key, value in {**ONE_TASK, "SLURM_JOB_ID": "999", "SLURM_RESTART_COUNT": "1"}.items():
        slurm.setenv(key, value)
    with pytest.raises(ConvzooError, match="holds an unfinished run; continue it with --resume"):
        train(config(epochs=2))  # another job, even requeued
    slurm.setenv("SLURM_JOB_ID", JOB)
    slurm.delenv("SLURM_RESTART_COUNT")
    with pytest.raises(ConvzooError, match="holds an unfinished run; continue it with --resume"):
        train(config(epochs=2))  # the same job not requeued: a second command into the folder
    slurm.setenv("SLURM_RESTART_COUNT", "1")
    assert train(config(epochs=2))["epochs"] == 2  # requeued: it resumes
    saved = json.loads((tmp_path / "run" / "report.json").read_text())
    slurm.setenv("SLURM_RESTART_COUNT", "2")
    assert train(config(epochs=2)) == saved  # requeued once the run had ended: its report
    slurm.setenv("SLURM_JOB_ID", "999")
    with pytest.raises(ConvzooError, match="already holds a finished run"):
        train(config(epochs=2))
