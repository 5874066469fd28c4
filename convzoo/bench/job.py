"""One bench cell as a submitit job that continues where it was stopped: submitit's
``checkpoint`` hook.

submitit ends a job that SLURM is about to stop (its time limit, ``timeout_min``; a
preemption) by calling the job's ``checkpoint`` from its signal handler (SIGUSR2 by
default), which returns the call to make when the job is requeued; submitit then requeues
the job and exits it. ``Resumable`` is a ``Checkpointable``, whose ``checkpoint`` makes the
same call again: everything a cell needs to go on is on disk, its training run's
checkpoint written atomically at every epoch's end, so the requeued job's ``run_cell``
resumes the run from there (a cell folder with a checkpoint is resumed), or, once it has
trained, evaluates it again. This module imports submitit: only ``submit.run_jobs`` imports
it, once submitit is known to be there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from submitit.helpers import Checkpointable

from convzoo.bench.suite import Cell


class Resumable(Checkpointable):
    """``run(cell)`` as a submitit job that submitit requeues, not ends, when SLURM stops it."""

    def __init__(self, run: Callable[[Cell], Any]) -> None:
        self.run = run

    def __call__(self, cell: Cell) -> Any:
        return self.run(cell)
