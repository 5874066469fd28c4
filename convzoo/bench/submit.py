"""``--launcher submitit``: a suite's cells as one job array, through submitit.

submitit (what Hydra's SLURM launcher uses) pickles a function with its
arguments and submits it as a SLURM job array, or, with ``cluster=local``, runs
it in local processes. Each job here is one cell: the runner's ``run_cell`` on one
device, writing into the same ``--out`` as a local run, so its folder, result and
failure are the files a local run leaves, and a rerun (local or submitted) keeps
every finished cell and submits only the others.

A job SLURM is about to stop -- its time limit (``timeout_min``; submitit asks SLURM
for SIGUSR2 90 s before it) or a preemption -- is requeued by submitit, not ended: the
job is a ``job.Resumable``, whose ``checkpoint`` hook submitit calls, and the requeued
job resumes the cell's run from its last checkpoint (up to submitit's
``slurm_max_num_timeout`` times, 3). A cell whose job failed -- an error, or a job
that died without a word (a lost node, memory) -- is submitted again, up to
``retries`` times (``--retries``, default 1: a lost node or a passing fault gets a
second job, a cell that fails for good costs one more), and resumes from its
checkpoint as well; then it is recorded as failed, with the job's error.

This process waits for every job to end and the runner then writes the report; with
``wait`` False (``--no-wait``) it returns once the array is submitted, does not
retry, and ``convzoo bench SUITE --out OUT --collect`` later writes the report of the
cells that have ended. submitit's own files -- the pickles, each job's stdout and
stderr -- go to ``--out``/submitit.

Executor settings are ``KEY=VALUE`` pairs (``--launcher-option``): ``cluster``
(``slurm``, ``local``; default: SLURM where it is, else local), then any
parameter of submitit's ``AutoExecutor`` (``timeout_min``, ``slurm_partition``,
``gpus_per_node``, ...).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from convzoo.bench.files import ended, status
from convzoo.bench.suite import Cell
from convzoo.errors import ConvzooError, install_hint
from convzoo.files import parse_yaml

FOLDER = "submitit"
DEFAULTS = {"timeout_min": 240}  # submitit's own 5 minutes would end most cells
POLL_SECONDS = 5.0


def parse_options(pairs: Sequence[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs as executor settings, each value read as YAML (``60``, ``gpu``)."""
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConvzooError(
                f"--launcher-option {pair!r}: expected KEY=VALUE, e.g. slurm_partition=gpu"
            )
        options[key] = parse_yaml(value, f"--launcher-option {key}")
    return options


def check(devices: int, strategy: str, parallel: bool) -> None:
    """A job trains one cell on one device; the flags for one machine's devices do not apply."""
    if parallel or devices != 1 or strategy != "auto":
        raise ConvzooError(
            "--launcher submitit runs every cell as its own job on one device, in parallel; "
            "leave out --parallel-cells, --devices and --strategy (ask for a job's resources "
            "with --launcher-option, e.g. gpus_per_node=1)"
        )


def executor(out: Path, name: str, accelerator: str, options: dict[str, Any]) -> Any:
    """submitit's ``AutoExecutor`` for the jobs of suite ``name``, its files under ``out``."""
    try:
        import submitit
    except ImportError:
        raise ConvzooError(f"--launcher submitit needs submitit: {install_hint('slurm')}") from None
    settings = {**DEFAULTS, "name": f"convzoo-{name}", **options}
    if accelerator == "gpu":
        settings.setdefault("gpus_per_node", 1)
    cluster = settings.pop("cluster", None)
    fresh = not out.exists()  # submitit makes its folder at once: a refusal leaves none behind
    try:
        made = submitit.AutoExecutor(folder=out.resolve() / FOLDER, cluster=cluster)
        made.update_parameters(**settings)
    except (NameError, ValueError, TypeError) as exc:
        if fresh:
            shutil.rmtree(out, ignore_errors=True)
        raise ConvzooError(f"--launcher-option: submitit refused the settings: {exc}") from None
    return made


def job_name(cluster: str, job_id: str) -> str:
    """One job as its cluster knows it: the local executor's jobs are processes, named by pid;
    a scheduler's (SLURM's) by its job id."""
    return f"local process {job_id}" if cluster == "local" else f"{cluster} job {job_id}"


def jobs_named(cluster: str, job_ids: list[str]) -> str:
    """The jobs of one array as their cluster knows them: a scheduler's ids run in a row
    (``slurm jobs 4242_0 to 4242_3``); the local executor's pids do not, so each is listed."""
    if cluster == "local":
        return f"{len(job_ids)} local process(es), pids {', '.join(job_ids)}"
    if len(job_ids) == 1:
        return job_name(cluster, job_ids[0])
    return f"{cluster} jobs {job_ids[0]} to {job_ids[-1]}"


def run_jobs(
    job: Callable[[Cell], Any],
    cells: list[Cell],
    out: Path,
    executor: Any,
    log: Callable[[str], None],
    retries: int,
    wait: bool,
) -> None:
    """Submit ``job`` over ``cells`` as one array of ``Resumable`` jobs; with ``wait``, wait for
    them all, submitting a cell whose job failed again up to ``retries`` times."""
    if not cells:
        return
    from convzoo.bench.job import Resumable

    resumable = Resumable(job)
    jobs = executor.map_array(resumable, cells)
    cluster = executor.cluster
    logs = out.resolve() / FOLDER
    named = jobs_named(cluster, [submitted.job_id for submitted in jobs])
    log(f"submitted {len(jobs)} cell(s) through submitit as {named}; their logs: {logs}")
    if not wait:
        return
    running, attempts, ended_count = list(zip(jobs, cells)), {cell.id: 1 for cell in cells}, 0
    try:
        while running:
            time.sleep(POLL_SECONDS)
            for submitted, cell in [pair for pair in running if pair[0].done()]:
                running.remove((submitted, cell))
                name = job_name(cluster, submitted.job_id)
                why = f"submitit's {name} ended without a result; see {submitted.paths.stderr}"
                row = ended(out, cell, why, str(submitted.exception() or ""))
                if row.get("status") != "ok" and attempts[cell.id] <= retries:
                    attempts[cell.id] += 1
                    again = executor.submit(resumable, cell)
                    running.append((again, cell))
                    log(
                        f"{cell.id}: {status(row)}; submitted again as "
                        f"{job_name(cluster, again.job_id)} "
                        f"(attempt {attempts[cell.id]} of {retries + 1})"
                    )
                    continue
                ended_count += 1
                log(f"[{ended_count}/{len(cells)}] {cell.id}: {status(row)}")
    except KeyboardInterrupt:
        for submitted, _ in running:
            submitted.cancel(check=False)
        raise
