"""What a run does when SLURM stops it: the signals, the requeue, the requeued job, Lightning's
snapshots.

SLURM warns a job before its time limit with the signal ``#SBATCH --signal=USR1@SECONDS``
asks for, and preempts or cancels it with SIGTERM (SIGKILL follows after the cluster's
``KillWait``). Under SLURM -- Lightning's ``SLURMEnvironment.detect()``: ``SLURM_NTASKS`` set,
a job name other than ``bash`` or ``interactive`` -- convzoo answers both itself, and
Lightning's own answer is off (``distributed.Slurm`` has ``auto_requeue=False``):

- The signal is noted (``Preemption`` holds SIGUSR1 and SIGTERM from the run's start to its
  report, each one the program leaves at its default: a submitit job keeps its own); training
  stops at the next call it checks -- every call, or with several ranks every rank at the same
  check, the divergence guard's -- and the run ends with one message (``RunPreempted``), exit
  status 128 + the signal's number (138, 143) and no report.
- The checkpoint it leaves is the run's own, ``checkpoints/last.ckpt``, written atomically at
  every epoch's end, the one ``--resume`` continues; the signal writes no other. A checkpoint
  taken in the middle of an epoch would resume exactly only if Lightning put the data back
  at the same batch, which it does only for loaders that keep their own position, and then
  not once ``configure_optimizers`` has counted the steps (Lightning issue 20550); the
  epoch's checkpoint resumes bit-identically on the CPU, at the cost of training again the
  part of the epoch that was done.
- On SIGUSR1 rank zero then requeues the job, ``scontrol requeue $SLURM_JOB_ID``, as
  Lightning's handler would have: the job would otherwise end at its limit unfinished. On
  SIGTERM it does not: ``scancel`` means stop, and a preempting SLURM requeues a job that
  allows it (``--requeue``) itself.
- A signal once training has ended does not stop the run, which only tests and reports; a
  SIGTERM stops the test (Lightning ends its loop), and the requeued job tests again.

A requeued job runs its command line again, unchanged, without ``--resume``. Each
checkpoint records the SLURM job that wrote it (``JOB_KEY``); a job that SLURM restarted
(``SLURM_RESTART_COUNT`` above 0) whose id is the one recorded in ``--out`` continues that
run as ``--resume`` would, with the same checks, or, where the run had ended before the
requeue, gives its report back (``requeued``). Any other job into a folder holding a run,
finished or not, is refused as any other run is.

Lightning's SLURM snapshots (``hpc_ckpt_N.ckpt``, written by its handler mid-step) are never
taken for convzoo's checkpoint: under SLURM, Lightning looks for the newest of them in the
run folder whenever it is given no checkpoint and would start from it -- a new run instead of
its first step, the test instead of the module it is handed. So a new run into a folder
holding one is refused (``check_snapshots``), a resumed run names its checkpoint, and the
test names the checkpoint of the weights the run ends with (``fit.py``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import lightning as L
from lightning.fabric.plugins.environments import SLURMEnvironment
from lightning.pytorch.callbacks import Callback

from convzoo.errors import ConvzooError
from convzoo.train.checkpoint import CHECKPOINT, REPORT, last_checkpoint, read_checkpoint
from convzoo.train.distributed import is_rank_zero

SIGNALS = {
    signal.SIGUSR1: "is near its time limit",
    signal.SIGTERM: "was preempted or cancelled",
}
REQUEUE_ON = signal.SIGUSR1
JOB_KEY = "slurm_job"  # a checkpoint's entry: the SLURM job that wrote it
SNAPSHOTS = "hpc_ckpt_*.ckpt"  # Lightning's SLURM snapshots, in the Trainer's default_root_dir


def job() -> str | None:
    """The SLURM job this process is a task of; None outside SLURM, as Lightning sees it."""
    return os.environ.get("SLURM_JOB_ID") if SLURMEnvironment.detect() else None


def _restarts() -> int:
    """How many times SLURM has restarted this job (``SLURM_RESTART_COUNT``; 0 if not)."""
    count = os.environ.get("SLURM_RESTART_COUNT", "").strip()
    return int(count) if count.isdigit() else 0


def requeued(out: Path) -> bool:
    """Whether this process is the job that wrote ``out``'s checkpoint, restarted by SLURM: it
    continues that run."""
    this, ckpt = job(), last_checkpoint(out)
    if this is None or ckpt is None or _restarts() < 1:
        return False
    return read_checkpoint(ckpt).get(JOB_KEY) == this


def announce(out: Path) -> None:
    """Say on stderr (rank zero) what a requeued job does with its run."""
    if not is_rank_zero():
        return
    done = (
        f"the run had ended: its report is {out / REPORT}"
        if (out / REPORT).is_file()
        else f"resuming the run in {out} from {out / CHECKPOINT}"
    )
    sys.stderr.write(f"requeued SLURM job {job()} (restart {_restarts()}): {done}\n")


def check_snapshots(out: Path) -> None:
    """Refuse a new run, under SLURM, into a folder holding a Lightning snapshot, which
    Lightning would start the run from."""
    found = sorted(out.glob(SNAPSHOTS)) if SLURMEnvironment.detect() else []
    if found:
        others = f" (and the {len(found) - 1} other hpc_ckpt_*.ckpt)" if len(found) > 1 else ""
        raise ConvzooError(
            f"{found[0]}: a snapshot of Lightning's SLURM handler, which convzoo never writes "
            f"(its checkpoint is {CHECKPOINT}) and which Lightning would start this new run "
            f"from; delete it{others} or choose another --out"
        )


def requeue(job_id: str) -> str | None:
    """Requeue the job with ``scontrol``; None when SLURM took it, else why not."""
    try:
        done = subprocess.run(
            ["scontrol", "requeue", job_id], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"scontrol: {exc}"
    if done.returncode != 0:
        return " ".join((done.stderr or done.stdout).split()) or f"exit status {done.returncode}"
    return None


class Stopped(BaseException):
    """Raised in the training loop at the first check after SLURM's signal: a BaseException,
    as KeyboardInterrupt is, so that no ``except Exception`` on its way takes it for an error."""


class RunPreempted(ConvzooError):
    """SLURM stopped the run; its requeued job, or ``--resume``, continues it. Every rank
    raises it, rank zero says it (``once``); the exit status is 128 + the signal's number."""

    once = True

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.exit_code = 128 + signum


class Preemption(Callback):
    """Notes SLURM's signal (``holding``), stops training at the next check, says how the run
    continues (``stopped``); records the job in every checkpoint."""

    def __init__(self, job_id: str, every: int) -> None:
        self.job_id, self.every = job_id, max(1, every)
        self.signal: signal.Signals | None = None

    @contextmanager
    def holding(self) -> Iterator[None]:
        """Take SIGUSR1 and SIGTERM while the run lasts, each one the program leaves at its
        default, in the main thread (the only one Python hands signals to)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        before = {s: signal.getsignal(s) for s in SIGNALS}
        taken = [s for s, handler in before.items() if handler == signal.SIG_DFL]
        for s in taken:
            signal.signal(s, self._note)
        try:
            yield
        finally:
            for s in taken:
                signal.signal(s, before[s])

    def _note(self, signum: int, frame: FrameType | None) -> None:
        if self.signal is None:
            self.signal = signal.Signals(signum)

    def on_train_batch_end(
        self, trainer: L.Trainer, module: L.LightningModule, outputs: Any, batch: Any, index: int
    ) -> None:
        """Stop after this call if the signal has come; several ranks agree every ``every``
        calls and at an epoch's last, so that all stop at the same one."""
        if trainer.world_size == 1:
            stop = self.signal is not None
        elif (index + 1) % self.every == 0 or index + 1 >= trainer.num_training_batches:
            stop = trainer.strategy.reduce_boolean_decision(self.signal is not None, all=False)
        else:
            return
        if stop:
            raise Stopped

    def on_save_checkpoint(
        self, trainer: L.Trainer, module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        """Record the job that writes the checkpoint: its requeued run continues from it."""
        checkpoint[JOB_KEY] = self.job_id

    def stopped(self, out: Path, epoch: int | None) -> RunPreempted:
        """The message of a run stopped by the signal noted, in ``epoch`` (0-based; None: once
        training had ended); on SIGUSR1 rank zero requeues the job first."""
        assert self.signal is not None  # asked only once the signal has come
        where = (
            "the test stopped (training had ended)"
            if epoch is None
            else f"training stopped in epoch {epoch + 1}"
        )
        ckpt = last_checkpoint(out)
        start = f"resumes from {ckpt}" if ckpt else "starts the run again (no epoch had ended)"
        resume = f"convzoo train ... --out {out} --resume"
        if self.signal == REQUEUE_ON:
            failed = requeue(self.job_id) if is_rank_zero() else None
            then = (
                f"the job was requeued: run again with the same command line, it {start}"
                if failed is None
                else f"requeuing it failed ({failed}); continue the run with {resume}"
            )
        else:
            then = (
                f"if SLURM requeues the job (sbatch --requeue), the same command line {start}; "
                f"else continue the run with {resume}"
            )
        return RunPreempted(
            f"SLURM job {self.job_id} {SIGNALS[self.signal]} ({self.signal.name}): {where}; {then}",
            self.signal,
        )
