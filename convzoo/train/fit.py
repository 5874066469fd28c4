"""``train(config)``: one training run, from its settings to its report, in named phases.

``train`` and ``_train_and_test`` read top to bottom as a run goes, one labelled
section per phase:

- preflight: every check that needs no data (``preflight.check``) -- a bad name, more
  devices than there are, a network too big for the memory, a run directory that
  holds a finished run or nothing to resume -- is one ``ConvzooError`` before
  anything is written;
- lock: rank zero holds the run directory from here to the end, so a second run into
  the same ``--out`` is refused at once; a save that a kill interrupted is cleaned up;
- data: loaded now, so missing or corrupt files, a shape that does not fit the
  network and less than a batch per rank fail before any step (``preflight.check_data``);
- module: seeded, made from the settings, told how its data is batched;
- trainer: Lightning's, with convzoo's strategy, atomic checkpoints, logger and
  callbacks (the divergence guard, the epoch's checkpoint, throughput, learning
  rate, progress), then the caller's and those of ``config.trainer``
  (``trainer_args``), whose arguments win over convzoo's own choices of
  ``log_every_n_steps``, ``enable_model_summary`` and ``limit_val_batches``;
- fit: ``config.yaml`` written before the first step (what ``convzoo train --config``
  reads; a resumed run keeps its own), the settings logged, ``trainer.fit``. A Ctrl-C
  ends as ``RunInterrupted``, a rank that stops answering or dies as ``RankTimeout``;
  both can be resumed. A loss that becomes NaN stops the run there (``RunDiverged``);
- test: the test split, once, at the end, ended by the same stops as the fit;
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

from convzoo.data import DataModule
from convzoo.errors import ConvzooError, short_repr
from convzoo.files import dumps_yaml, locked, write_atomic
from convzoo.train import distributed, preflight, report, trainer_args
from convzoo.train.callbacks import (
    DivergenceGuard,
    RunDiverged,
    Throughput,
    progress_callbacks,
    quiet_lightning,
)
from convzoo.train.checkpoint import (
    CONFIG,
    atomic_checkpoint_io,
    checkpoint_callback,
    remove_unfinished_saves,
)
from convzoo.train.config import Precision, TrainConfig, saved
from convzoo.train.distributed import is_rank_zero
from convzoo.train.loggers import (
    HpMetric,
    learning_rate_monitor,
    log_settings,
    make_logger,
)
from convzoo.train.module import ConvzooModule
from convzoo.train.preflight import Plan

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
    # -- lock ---------------------------------------------------------------------------
    with locked(plan.out) if is_rank_zero() else nullcontext():
        if is_rank_zero():
            remove_unfinished_saves(plan.out)
        throughput = Throughput()
        try:
            trainer, tested = _train_and_test(plan, throughput, callbacks)
        except RunDiverged as exc:
            _report_diverged(plan, exc)
            raise
        # -- report -----------------------------------------------------------------------
        result = _report(plan, trainer, tested, throughput, origins)
    return result


def _train_and_test(
    plan: Plan, throughput: Throughput, callbacks: Sequence[Callback]
) -> tuple[L.Trainer, dict[str, Any]]:
    """The phases between the lock and the report; returns the trainer and the test's metrics."""
    # -- data ---------------------------------------------------------------------------
    data = DataModule.from_config(plan.config, tuple(plan.spec.input))
    preflight.check_data(plan, data)
    # -- module -------------------------------------------------------------------------
    L.seed_everything(plan.config.seed, workers=True, verbose=False)
    module = ConvzooModule.from_config(plan.spec.to_dict(), plan.config)
    module.attach(data.batching(plan.ranks))
    with quiet_lightning(plan.config.verbose):
        # -- trainer --------------------------------------------------------------------
        trainer = _trainer(plan, throughput, callbacks)
        # -- fit ------------------------------------------------------------------------
        _save_config(plan)
        callbacks_now = trainer.callbacks  # type: ignore[attr-defined]  # set by its connector
        callbacks_now.append(HpMetric(log_settings(trainer, plan.config)))
        _fit(plan, trainer, module, data)
        # -- test -----------------------------------------------------------------------
        with _stopped_as_one_message(plan, trainer, "testing"):
            tested = dict(trainer.test(module, datamodule=data, verbose=False)[0])
    return trainer, tested


# -- trainer -------------------------------------------------------------------------------


def _trainer(plan: Plan, throughput: Throughput, extra: Sequence[Callback]) -> L.Trainer:
    """Lightning's Trainer as the plan says; a Trainer argument Lightning refuses is one message."""
    c = plan.config
    plan.out.mkdir(parents=True, exist_ok=True)
    last = checkpoint_callback(plan.out)
    shown, bar = progress_callbacks(throughput, c.progress)
    one_cpu = (
        plan.accelerator == "cpu" and plan.devices == 1
    )  # no device to wait for, no collective
    guard = DivergenceGuard(every=1 if one_cpu else max(1, LOG_EVERY // c.steps_per_call))
    chosen = {
        "enable_model_summary": False,
        "log_every_n_steps": LOG_EVERY if c.steps_per_call == 1 else 1,
        "limit_val_batches": 0 if c.val_fraction == 0 else 1.0,  # no split held out: none
    }
    logger = make_logger(c.logger, plan.out, c.logger_project, c.logger_name)
    try:
        given, _ = trainer_args.instantiate(c.trainer)
        theirs = given.pop("callbacks", None) or []
        return L.Trainer(
            max_epochs=c.epochs,
            accelerator=plan.accelerator,
            devices=plan.devices,
            num_nodes=c.num_nodes,
            strategy=distributed.strategy(c.strategy, c.ddp_timeout),
            plugins=[atomic_checkpoint_io()],
            precision=_precision(c, plan.accelerator),
            logger=logger,
            callbacks=[guard, last, throughput, learning_rate_monitor(), *shown, *extra, *theirs],
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


def _fit(plan: Plan, trainer: L.Trainer, module: ConvzooModule, data: DataModule) -> None:
    """``trainer.fit``; a Ctrl-C ends as ``RunInterrupted``, which says how to resume."""
    with _stopped_as_one_message(plan, trainer, "training"):
        trainer.fit(module, datamodule=data, ckpt_path=plan.ckpt, weights_only=True)


@contextmanager
def _stopped_as_one_message(plan: Plan, trainer: L.Trainer, phase: str) -> Iterator[None]:
    """Lightning's ``fit`` or ``test`` (``phase``), whose stops become one message: a Ctrl-C
    a ``RunInterrupted`` that says how to resume, a lost DDP rank a ``RankTimeout``."""
    try:
        yield
    except SystemExit:  # Lightning exits after a graceful shutdown on Ctrl-C
        if not trainer.interrupted:
            raise
    except RuntimeError as exc:
        if trainer.world_size > 1 and distributed.is_lost(exc):
            raise distributed.timed_out(trainer, plan.config.ddp_timeout, plan.out, exc) from exc
        raise
    if trainer.interrupted:
        when = f"after {trainer.current_epoch} epoch(s)"
        if phase == "testing":
            when = f"after the training had ended ({trainer.current_epoch} epochs)"
        raise RunInterrupted(
            f"{phase} was interrupted {when}; no report was written. Continue it with: "
            f"convzoo train ... --out {plan.out} --resume"
        )


# -- report --------------------------------------------------------------------------------


def _report(
    plan: Plan,
    trainer: L.Trainer,
    tested: dict[str, Any],
    throughput: Throughput,
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
