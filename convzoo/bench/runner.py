"""``run_bench``: train and evaluate every cell of a suite, keep finished ones, record failures.

Each cell trains through ``convzoo.train.fit.train`` in its own folder under
``--out`` (see ``bench.files``) and is then evaluated on the test split exactly
as it was trained (the same canvas, permutation and standardization), by every
measure of the table (``evaluate.measures``) with the suite's ``EvaluateConfig``.
Rerunning a suite into the same folder keeps every finished cell and retries the others;
a trained cell whose evaluation failed is evaluated again without retraining,
and an interrupted one resumes from its last checkpoint. A folder holding cells
run with other settings (an edited suite, another ``--epochs``) is refused
before anything runs, so one report never mixes settings. A cell that fails is
recorded with its error and the suite goes on.

Cells run one after the other, each on all ``--devices`` (with ``--strategy
ddp`` every rank runs this loop in step, since Lightning's launcher re-runs the
command; only rank zero evaluates and writes), or with ``--parallel-cells`` one
per device at the same time in worker processes (``bench.parallel``), or with
``--launcher submitit`` each as a job of one array on a cluster (``bench.submit``).
The rows, CSV, report and plots are written by ``bench.report``.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from contextlib import nullcontext
from functools import partial
from pathlib import Path
from typing import Any

import torch

from convzoo.bench import submit
from convzoo.bench.files import (
    CELL,
    ERROR,
    RESULT,
    SUITE_COPY,
    cell_dir,
    cell_fields,
    check_stale,
    collect,
    is_finished,
    record_failure,
    status,
)
from convzoo.bench.options import BenchOptions
from convzoo.bench.parallel import run_parallel, validate_parallel
from convzoo.bench.report import write_outputs
from convzoo.bench.suite import Cell, Suite
from convzoo.data.prepared import data_settings, prepared_test_split
from convzoo.errors import ConvzooError
from convzoo.evaluate.measures import evaluate_all, numbers
from convzoo.evaluate.progress import Progress
from convzoo.files import locked, read_json, write_atomic, write_json
from convzoo.settings import default, problem
from convzoo.spec import load_spec
from convzoo.train import config
from convzoo.train.checkpoint import CHECKPOINT, REPORT, last_checkpoint, load_network
from convzoo.train.distributed import is_rank_zero
from convzoo.train.fit import RunInterrupted, train
from convzoo.train.preemption import RunPreempted

Log = Callable[[str], None]


def print_log(message: str) -> None:
    """The default log: one line on stdout, flushed."""
    sys.stdout.write(message + "\n")
    sys.stdout.flush()


def _silent(message: str) -> None:
    """The log of the extra DDP processes: rank zero speaks for all."""


# -- one cell ----------------------------------------------------------------------------


def _device(accelerator: str) -> torch.device:
    use_gpu = accelerator != "cpu" and torch.cuda.is_available()
    return torch.device("cuda" if use_gpu else "cpu")


def _train(suite: Suite, cell: Cell, options: BenchOptions, folder: Path) -> dict[str, Any]:
    done = read_json(folder / REPORT)
    if done is not None and done.get("status", "ok") != "ok":
        raise ConvzooError(done.get("error") or f"the cell's run ended as {done['status']}")
    if done is not None:
        return done
    made, _ = config.recipe(load_spec(cell.arch))
    run = {
        "data": cell.data,
        "seed": cell.seed,
        "swap": dict(cell.swap),
        "permute": cell.permute,
        "out": str(folder),
        "resume": last_checkpoint(folder) is not None,
        "devices": options.devices,
        "strategy": options.strategy,
        "accelerator": options.accelerator,
        "progress": options.progress,
    }
    if options.data_dir is not None:
        run["data_dir"] = options.data_dir
    if suite.epochs is not None:
        run["epochs"] = suite.epochs
    settings, origins = config.layered(
        cell.arch, ("recipe", made), ("suite", {**suite.train, **cell.train}), ("cell", run)
    )
    return train(settings, origins)


def _evaluate(
    suite: Suite,
    cell: Cell,
    report: dict[str, Any],
    folder: Path,
    device: torch.device,
    options: BenchOptions,
) -> Any:
    """Every robustness measure on the test split, prepared as training prepared it, each
    shown as it runs when ``options.progress``; the checkpoint is read from ``folder`` and the
    data from ``options.data_dir`` where given, so a moved ``--out`` or data still evaluates."""
    model = load_network(folder / CHECKPOINT, device=device)
    settings = data_settings(report)
    split = prepared_test_split(settings, model.spec.input, cell.data, options.data_dir)
    return evaluate_all(
        model,
        split.x.to(device),
        split.y.to(device),
        fill=split.fill,
        progress=Progress() if options.progress else None,
        config=suite.evaluate,
    )


def _result(
    suite: Suite,
    cell: Cell,
    report: dict[str, Any],
    evaluation: dict[str, Any],
    device: torch.device,
) -> dict[str, Any]:
    return {
        **cell_fields(cell),
        "status": "ok",
        "test_acc": report["test_acc"],
        "params": report["params"],
        "flops": report["flops"],
        "epochs": report["epochs"],
        "train_seconds": report["train_seconds"],
        "images_per_s": report["images_per_s"],
        **{number.key: number.read(evaluation) for number in numbers()},
        "versions": report["versions"],
        "device_type": device.type,
        "devices": report["devices"],
        "world_size": report["world_size"],
        "precision": report.get("precision"),
        "fingerprint": suite.fingerprint(cell),
        "run_dir": str(Path("cells") / cell.id),
        "evaluation": evaluation,
    }


def run_cell(suite: Suite, cell: Cell, options: BenchOptions) -> dict[str, Any] | None:
    """Train and evaluate one cell unless it is finished; its result, or its failure.

    Every error but an interrupt (Ctrl-C, SLURM's signal) is caught and written to the
    cell's ``error.json``, so one broken cell cannot stop the suite; an interrupted suite,
    run again, resumes the cell. Returns None on the other ranks of DDP.
    """
    folder = cell_dir(options.out, cell)
    with locked(folder, "benchmark cell") if is_rank_zero() else nullcontext():
        return _run_cell(suite, cell, options, folder)


def _run_cell(
    suite: Suite, cell: Cell, options: BenchOptions, folder: Path
) -> dict[str, Any] | None:
    finished = read_json(folder / RESULT)
    if finished is not None:
        return finished
    if is_rank_zero():
        folder.mkdir(parents=True, exist_ok=True)
        write_json(folder / CELL, {**cell_fields(cell), "fingerprint": suite.fingerprint(cell)})
        (folder / ERROR).unlink(missing_ok=True)
    try:
        report = _train(suite, cell, options, folder)
        if not is_rank_zero():
            return None
        device = _device(options.accelerator)
        evaluation = _evaluate(suite, cell, report, folder, device, options)
        result = _result(suite, cell, report, evaluation, device)
    except (RunInterrupted, RunPreempted, KeyboardInterrupt):
        raise
    except Exception as exc:
        if not is_rank_zero():
            return None
        error = f"{type(exc).__name__}: {exc}"
        return record_failure(options.out, cell, error, traceback.format_exc())
    write_json(folder / RESULT, result)
    return result


# -- the suite ---------------------------------------------------------------------------


def run_bench(suite: Suite, options: BenchOptions, log: Log = print_log) -> list[dict[str, Any]]:
    """Run the suite's cells (or ``options.only``); returns one row per cell, in suite order.

    Without ``only`` it also writes results.csv, results.json, report.md and the plots.
    With ``collect`` it runs nothing and writes them of the cells as they stand; cells
    submitted and not waited for (``wait`` False) get neither rows nor a report.
    """
    cells = suite.select(options.only) if options.only else suite.cells
    log = log if is_rank_zero() else _silent
    _check_options(options)
    executor = None
    if options.collect:
        if not (options.out / SUITE_COPY).is_file():
            raise ConvzooError(
                f"--collect: {options.out} holds no benchmark ({SUITE_COPY}) to report; give "
                "the --out the suite ran into"
            )
    elif options.launcher == "submitit":
        submit.check(options.devices, options.strategy, options.parallel)
        executor = submit.executor(
            options.out, suite.name, options.accelerator, options.launcher_options
        )
    elif options.parallel:
        validate_parallel(options.devices, options.strategy, options.accelerator)
    check_stale(suite, cells, options.out)
    whole = is_rank_zero() and not options.only  # a worker's parent holds the folder
    with locked(options.out, "benchmark") if whole else nullcontext():
        if options.collect:
            return _report(suite, cells, options, log)
        return _run_cells(suite, cells, options, log, executor)


def _check_options(options: BenchOptions) -> None:
    """``--devices``, ``--strategy`` and ``--accelerator`` as ``convzoo train`` checks them,
    ``--retries`` as declared; what follows submitted jobs only with ``--launcher submitit``."""
    for name in ("devices", "strategy", "accelerator"):
        wrong = config.problem(name, getattr(options, name))
        if wrong:
            raise ConvzooError(f"--{name}: {wrong}")
    wrong = problem(BenchOptions, "retries", options.retries)
    if wrong:
        raise ConvzooError(f"--retries: {wrong}")
    given = {
        "--launcher-option": bool(options.launcher_options),
        "--retries": options.retries != default(BenchOptions, "retries"),
        "--no-wait": not options.wait,
    }
    for_jobs = [flag for flag, set_ in given.items() if set_]
    if for_jobs and options.launcher != "submitit" and not options.collect:
        raise ConvzooError(
            f"{' and '.join(for_jobs)} set{'' if len(for_jobs) > 1 else 's'} up submitit's "
            "jobs; add --launcher submitit"
        )


def _run_cells(
    suite: Suite, cells: list[Cell], options: BenchOptions, log: Log, executor: Any
) -> list[dict[str, Any]]:
    """Run the unfinished ``cells``: as submitit jobs through ``executor`` when there is one,
    else here, in parallel workers or one after the other."""
    if is_rank_zero():
        options.out.mkdir(parents=True, exist_ok=True)
        copy = options.out / SUITE_COPY
        if not options.only and copy.resolve() != suite.path:
            write_atomic(copy, suite.path.read_bytes())
    todo = [cell for cell in cells if not is_finished(options.out, cell)]
    log(
        f"{suite.name}: {len(cells)} cell(s), {len(cells) - len(todo)} finished before, "
        f"{len(todo)} to run; results in {options.out}"
    )
    if executor is not None:
        one = BenchOptions(
            options.out.resolve(),
            accelerator=options.accelerator,
            data_dir=options.absolute_data_dir(),
        )
        run = partial(run_cell, suite, options=one)
        submit.run_jobs(run, todo, options.out, executor, log, options.retries, options.wait)
        if todo and not options.wait:
            log(
                f"not waiting for them (--no-wait); convzoo bench {suite.path} --out "
                f"{options.out} --collect writes the report of those that have ended"
            )
            return []
    elif options.parallel:
        run_parallel(suite, todo, options, log)
    else:
        for i, cell in enumerate(todo, 1):
            log(f"[{i}/{len(todo)}] {cell.id} ...")
            row = run_cell(suite, cell, options)
            log(f"[{i}/{len(todo)}] {cell.id}: {status(row)}")
    return _report(suite, cells, options, log)


def _report(
    suite: Suite, cells: list[Cell], options: BenchOptions, log: Log
) -> list[dict[str, Any]]:
    """The cells' rows as their folders hold them, and, without ``only``, the report of them;
    with ``collect`` a cell that has neither result nor failure yet is shown as not ended."""
    if not is_rank_zero():
        return []
    rows = [collect(options.out, cell, ended=not options.collect) for cell in cells]
    if not options.only:
        write_outputs(suite, rows, options.out)
        log(f"report: {options.out / 'report.md'}")
    return rows
