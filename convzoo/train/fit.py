"""``train(config)``: one training run, from its settings to its report, in named phases.

``train`` and ``_train_and_test`` read top to bottom as a run goes, one labelled
section per phase:

- preflight: every check that needs no data (``preflight.check``) -- a bad name, more
  devices than there are, a network too big for the memory, a run directory that
  holds a finished run or nothing to resume -- is one ``ConvzooError`` before
  anything is written; a requeued SLURM job whose run had ended gives its report back;
- lock: rank zero holds the run directory from here to the end, so a second run into
  the same ``--out`` is refused at once; a save that a kill interrupted is cleaned up;
- data: loaded now, so missing or corrupt files, a shape that does not fit the
  network and less than a batch per rank fail before any step (``preflight.check_data``);
- module: seeded, made from the settings, told how its data is batched;
- trainer: Lightning's, with convzoo's strategy, atomic checkpoints, logger and
  callbacks (the divergence guard, the epoch's checkpoint, throughput, learning
  rate, a validation where ``max_steps`` ends an epoch early, progress), then the
  caller's and those of ``config.trainer`` (``trainer_args``), whose arguments win
  over convzoo's own choices of ``log_every_n_steps``, ``enable_model_summary`` and
  ``limit_val_batches``;
- fit: ``config.yaml`` written before the first step (what ``convzoo train --config``
  reads; a resumed run keeps its own), the settings logged, ``trainer.fit``. A Ctrl-C
  ends as ``RunInterrupted``, a rank that stops answering or dies as ``RankTimeout``,
  SLURM's signal as ``RunPreempted`` (``preemption.py``: from preflight to the report,
  under SLURM, the run holds SIGUSR1 and SIGTERM); all can be resumed. A loss that
  becomes NaN stops the run there (``RunDiverged``);
- test: the test split, once, at the end, scored with the weights the run ends with:
  saved first as the run's checkpoint and named to Lightning, which, given none, would
  test a SLURM snapshot of its own in their place; ended by the same stops as the fit;
  its images are counted (``TestCount``), and a test that ``limit_test_batches`` or
  ``fast_dev_run`` cut short reports no test accuracy, only the accuracy on those images;
- report: ``report.md``, then ``report.json`` (rank zero), written only when the run
  has ended -- or diverged, saying so -- so a crashed run never looks finished.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any, cast

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities.exceptions import SIGTERMException

from convzoo.data import DataModule
from convzoo.errors import ConvzooError, short_repr
from convzoo.files import dumps_yaml, locked, read_json, write_atomic
from convzoo.train import distributed, preemption, preflight, report, trainer_args
from convzoo.train.callbacks import (
    DivergenceGuard,
    RunDiverged,
    Throughput,
    ValidateAtMaxSteps,
    progress_callbacks,
    quiet_lightning,
)
from convzoo.train.checkpoint import (
    CHECKPOINT,
    CONFIG,
    REPORT,
    atomic_checkpoint_io,
    checkpoint_callback,
    remove_unfinished_saves,
)
from convzoo.train.config import Precision, TrainConfig, saved
from convzoo.train.distributed import is_rank_zero
from convzoo.train.module import ConvzooModule
from convzoo.train.preemption import Preemption
from convzoo.train.preflight import Plan
from convzoo.train.report import (
    HpMetric,
    TestCount,
    learning_rate_monitor,
    log_settings,
    make_logger,
)

LOG_EVERY = 10


class RunInterrupted(ConvzooError):
    """Training stopped by the user (Ctrl-C) before its last epoch; it can be resumed."""

    exit_code = 130


def train(
    config: TrainConfig,
    origins: dict[str, str] | None = None,
    callbacks: Sequence[Callback] = (),
) -> dict[str, Any]:
    """Train, test and report; returns the report (also written under the run directory).

    ``origins`` (from ``config.for_arch``) says where each setting came from; the
    report keeps it. ``callbacks`` are Lightning callbacks added after convzoo's
    own (which time the epochs first, so a callback's epoch-end work is not
    counted as training time).
    """
    # -- preflight ----------------------------------------------------------------------
    plan = preflight.check(config)
    if plan.requeued:
        preemption.announce(plan.out)
        if (plan.out / REPORT).is_file():
            return cast(dict[str, Any], read_json(plan.out / REPORT))
    job_id = preemption.job()
    watch = Preemption(job_id, _check_every(plan)) if job_id is not None else None
    # -- lock ---------------------------------------------------------------------------
    with (
        locked(plan.out) if is_rank_zero() else nullcontext(),
        watch.holding() if watch is not None else nullcontext(),
    ):
        if is_rank_zero():
            remove_unfinished_saves(plan.out)
        throughput, count = Throughput(), TestCount()
        try:
            trainer, tested = _train_and_test(plan, throughput, count, callbacks, watch)
        except RunDiverged as exc:
            _report_diverged(plan, exc)
            raise
        # -- report -----------------------------------------------------------------------
        result = _report(plan, trainer, tested, throughput, count, origins)
    return result


def _train_and_test(
    plan: Plan,
    throughput: Throughput,
    count: TestCount,
    callbacks: Sequence[Callback],
    watch: Preemption | None,
) -> tuple[L.Trainer, dict[str, Any]]:
    """The phases between the lock and the report; returns the trainer and the test's metrics
    (``count`` counts what it scored)."""
    # -- data ---------------------------------------------------------------------------
    data = DataModule.from_config(plan.config, tuple(plan.spec.input))
    preflight.check_data(plan, data)
    # -- module -------------------------------------------------------------------------
    L.seed_everything(plan.config.seed, workers=True, verbose=False)
    module = ConvzooModule.from_config(plan.spec.to_dict(), plan.config)
    module.attach(data.batching(plan.ranks))
    with quiet_lightning(plan.config.verbose):
        # -- trainer --------------------------------------------------------------------
        trainer = _trainer(plan, throughput, [*([watch] if watch else []), *callbacks])
        # -- fit ------------------------------------------------------------------------
        _save_config(plan)
        callbacks_now = trainer.callbacks  # type: ignore[attr-defined]  # set by its connector
        callbacks_now += [count, HpMetric(log_settings(trainer, plan.config), count)]
        _fit(plan, trainer, module, data, watch)
        # -- test -----------------------------------------------------------------------
        tested = _test(plan, trainer, module, data, watch)
        count.split_images = len(data.load().test_y)
    return trainer, tested


# -- trainer -------------------------------------------------------------------------------


def _trainer(plan: Plan, throughput: Throughput, extra: Sequence[Callback]) -> L.Trainer:
    """Lightning's Trainer as the plan says; a Trainer argument Lightning refuses is one message."""
    c = plan.config
    plan.out.mkdir(parents=True, exist_ok=True)
    last = checkpoint_callback(plan.out)
    shown, bar = progress_callbacks(throughput, c.progress)
    guard = DivergenceGuard(every=_check_every(plan))
    chosen = {
        "enable_model_summary": False,
        "log_every_n_steps": LOG_EVERY if c.steps_per_call == 1 else 1,
        "limit_val_batches": 0 if c.val_fraction == 0 else 1.0,  # no split held out: none
    }
    logger = make_logger(c.logger, plan.out, c.logger_project, c.logger_name)
    try:
        given, _ = trainer_args.instantiate(c.trainer)
        theirs = given.pop("callbacks", None) or []
        strategy = distributed.strategy(c.strategy, c.ddp_timeout)
        return L.Trainer(
            max_epochs=c.epochs,
            accelerator=plan.accelerator,
            devices=plan.devices,
            num_nodes=c.num_nodes,
            strategy=strategy,
            plugins=[atomic_checkpoint_io(), *distributed.plugins(strategy)],
            precision=_precision(c, plan.accelerator),
            logger=logger,
            callbacks=[
                guard,
                last,
                throughput,
                learning_rate_monitor(),
                ValidateAtMaxSteps(),
                *shown,
                *extra,
                *theirs,
            ],
            enable_progress_bar=bar,
            default_root_dir=str(plan.out),
            **{**chosen, **given},
        )
    except ConvzooError:
        raise
    except Exception as exc:  # a value of the right type that Lightning refuses
        if not c.trainer:
            raise
        raise ConvzooError(
            f"lightning.Trainer refused the trainer settings {short_repr(c.trainer)}: "
            f"{' '.join(str(exc).split())}"
        ) from exc


def _check_every(plan: Plan) -> int:
    """How often (in calls) the ranks check together for a divergence or SLURM's signal: every
    call with one CPU process on each node (no device to wait for), else every ``LOG_EVERY``
    optimizer steps."""
    if plan.accelerator == "cpu" and plan.devices == 1:
        return 1
    return max(1, LOG_EVERY // plan.config.steps_per_call)


def _precision(config: TrainConfig, accelerator: str) -> Precision:
    """The precision ``auto`` stands for: bf16-mixed on a GPU that has it, else 32-true."""
    if config.precision != "auto":
        return cast(Precision, config.precision)  # one of PRECISIONS (TrainConfig checks)
    if accelerator == "gpu" and torch.cuda.is_bf16_supported():
        return "bf16-mixed"
    return "32-true"


# -- fit -----------------------------------------------------------------------------------


def _save_config(plan: Plan) -> None:
    """``config.yaml``, the run's resolved settings; a resumed run keeps the first one."""
    if is_rank_zero() and not (plan.ckpt and (plan.out / CONFIG).is_file()):
        write_atomic(plan.out / CONFIG, dumps_yaml(saved(plan.config)))


def _fit(
    plan: Plan,
    trainer: L.Trainer,
    module: ConvzooModule,
    data: DataModule,
    watch: Preemption | None,
) -> None:
    """``trainer.fit``, whose stops become one message each (``_stopped_as_one_message``)."""
    with _stopped_as_one_message(plan, trainer, "training", watch):
        trainer.fit(module, datamodule=data, ckpt_path=plan.ckpt, weights_only=True)


@contextmanager
def _stopped_as_one_message(
    plan: Plan, trainer: L.Trainer, phase: str, watch: Preemption | None
) -> Iterator[None]:
    """Lightning's ``fit`` or ``test`` (``phase``), whose stops become one message: SLURM's
    signal a ``RunPreempted``, a lost DDP rank a ``RankTimeout``, a Ctrl-C a
    ``RunInterrupted`` that says how to resume. Any other way out -- submitit's exit when
    it requeues a bench cell's job -- goes on as it came."""
    try:
        yield
    except BaseException as exc:
        if watch is not None and watch.signal is not None and not isinstance(exc, ConvzooError):
            epoch = trainer.current_epoch if phase == "training" else None
            raise watch.stopped(plan.out, epoch) from exc
        if isinstance(exc, RuntimeError) and trainer.world_size > 1 and distributed.is_lost(exc):
            raise distributed.timed_out(trainer, plan.config.ddp_timeout, plan.out, exc) from exc
        if not (_stopped_by_lightning(exc) and trainer.interrupted):
            raise
    if trainer.interrupted:
        when = f"after {trainer.current_epoch} epoch(s)"
        if phase == "testing":
            when = f"after the training had ended ({trainer.current_epoch} epochs)"
        raise RunInterrupted(
            f"{phase} was interrupted {when}; no report was written. Continue it with: "
            f"convzoo train ... --out {plan.out} --resume"
        )


def _stopped_by_lightning(exc: BaseException) -> bool:
    """Whether ``exc`` is how Lightning ends a fit or test it shut down gracefully: on Ctrl-C
    (it exits while handling the KeyboardInterrupt) and on SIGTERM. Any other exit (submitit's,
    which requeues its job) is not, though Lightning marks the trainer interrupted for it too."""
    return isinstance(exc, SIGTERMException) or (
        isinstance(exc, SystemExit) and isinstance(exc.__context__, KeyboardInterrupt)
    )


# -- test ----------------------------------------------------------------------------------


def _test(
    plan: Plan,
    trainer: L.Trainer,
    module: ConvzooModule,
    data: DataModule,
    watch: Preemption | None,
) -> dict[str, Any]:
    """The test's metrics, of the weights the run ends with, saved as the run's checkpoint
    and named; its stops are the fit's (SLURM's SIGTERM a ``RunPreempted``, Ctrl-C a
    ``RunInterrupted``)."""
    final = plan.out / CHECKPOINT
    trainer.save_checkpoint(final, weights_only=False)  # the whole state: a resume reads it
    with _stopped_as_one_message(plan, trainer, "testing", watch):
        tested = trainer.test(
            module, datamodule=data, ckpt_path=final, verbose=False, weights_only=True
        )
    return dict(tested[0])


# -- report --------------------------------------------------------------------------------


def _report(
    plan: Plan,
    trainer: L.Trainer,
    tested: dict[str, Any],
    throughput: Throughput,
    count: TestCount,
    origins: dict[str, str] | None,
) -> dict[str, Any]:
    """The finished run's report, written by rank zero."""
    devices = report.device_label(plan.accelerator, plan.devices * trainer.num_nodes)
    result = report.finished(
        plan.config,
        plan.spec,
        plan.out,
        trainer,
        tested,
        throughput.seconds,
        throughput.images,
        devices,
        count,
        throughput.first_call,
    )
    if origins is not None:
        result["settings_from"] = origins
    if trainer.is_global_zero:
        report.write(result, plan.out)
    return result


def _report_diverged(plan: Plan, exc: RunDiverged) -> None:
    """Write the report of a diverged run (rank zero), naming the step and learning rate."""
    if is_rank_zero():
        result = report.diverged(plan.config, plan.spec, plan.out, str(exc), exc.step, exc.lr)
        report.write({**result, "epochs": exc.epochs}, plan.out)
