"""``train(config)``: one training run from a spec and a dataset to a report.

Everything a user can get wrong -- an unknown data name, a data dir without the
files, a spec whose input does not fit the data, more devices than there are, a
run directory that already holds a finished run, ``resume`` with nothing to
resume -- is checked before the first step and raised as one ``ConvzooError``.
A run writes its logs and checkpoints (atomically, see ``atomic``) under its
directory, which it holds locked, and only when it has ended ``report.json`` and
``report.md``, so a crashed run never looks finished. A run whose loss becomes
NaN stops there (``divergence``) with a report that says so. Its resolved settings
are written to ``config.yaml`` before the first step (what ``convzoo train
--config`` reads); a resumed run keeps that file and must agree with it, but for
the settings that say where it runs (``config.RUNTIME``). Further Trainer
arguments come from ``config.trainer`` (``trainer_args``); convzoo's own choices
of ``log_every_n_steps``, ``enable_model_summary`` and ``limit_val_batches`` give
way to them.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from typing import Any

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
from convzoo.train.config import TrainConfig, saved
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


def _precision(config: TrainConfig, accelerator: str) -> str:
    if config.precision != "auto":
        return config.precision
    if accelerator == "gpu" and torch.cuda.is_bf16_supported():
        return "bf16-mixed"
    return "32-true"


def _save_config(run: Plan) -> None:
    """``config.yaml``, the run's resolved settings; a resumed run keeps the first one."""
    if is_rank_zero() and not (run.ckpt and (run.out / CONFIG).is_file()):
        write_atomic(run.out / CONFIG, dumps_yaml(saved(run.config)))


def _datamodule(run: Plan) -> DataModule:
    """The data, loaded now: missing or corrupt files and a shape mismatch fail before any step."""
    datamodule = DataModule.from_config(run.config, tuple(run.spec.input))
    preflight.check_data(run, datamodule)
    return datamodule


def _module(run: Plan, data: DataModule) -> ConvzooModule:
    """The module, seeded, handed what it needs to know of the data."""
    L.seed_everything(run.config.seed, workers=True, verbose=False)
    module = ConvzooModule.from_config(run.spec.to_dict(), run.config)
    module.attach(data.batching(run.ranks))
    return module


def _trainer(run: Plan, throughput: Throughput, extra: Sequence[Callback]) -> L.Trainer:
    c = run.config
    run.out.mkdir(parents=True, exist_ok=True)
    last = checkpoint_callback(run.out)
    shown, bar = progress_callbacks(throughput, c.progress)
    one_cpu = run.accelerator == "cpu" and run.devices == 1  # no device to wait for, no collective
    guard = DivergenceGuard(every=1 if one_cpu else max(1, LOG_EVERY // c.steps_per_call))
    chosen = {
        "enable_model_summary": False,
        "log_every_n_steps": LOG_EVERY if c.steps_per_call == 1 else 1,
        "limit_val_batches": 0 if c.val_fraction == 0 else 1.0,  # no split held out: none
    }
    logger = make_logger(c.logger, run.out, c.logger_project, c.logger_name)
    try:
        given, _ = trainer_args.instantiate(c.trainer)
        theirs = given.pop("callbacks", None) or []
        return L.Trainer(
            max_epochs=c.epochs,
            accelerator=run.accelerator,
            devices=run.devices,
            num_nodes=c.num_nodes,
            strategy=distributed.strategy(c.strategy, c.ddp_timeout),
            plugins=[atomic_checkpoint_io()],
            precision=_precision(c, run.accelerator),
            logger=logger,
            callbacks=[guard, last, throughput, learning_rate_monitor(), *shown, *extra, *theirs],
            enable_progress_bar=bar,
            default_root_dir=str(run.out),
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


def _fit(run: Plan, trainer: L.Trainer, module: ConvzooModule, data: DataModule) -> None:
    """``trainer.fit``; a Ctrl-C ends as ``RunInterrupted``, which says how to resume."""
    try:
        trainer.fit(module, datamodule=data, ckpt_path=run.ckpt, weights_only=True)
    except SystemExit:  # Lightning exits after a graceful shutdown on Ctrl-C
        if not trainer.interrupted:
            raise
    except RuntimeError as exc:
        if trainer.world_size > 1 and distributed.is_timeout(exc):
            raise distributed.timed_out(trainer, run.config.ddp_timeout, run.out) from exc
        raise
    if trainer.interrupted:
        raise RunInterrupted(
            f"training was interrupted after {trainer.current_epoch} epoch(s); no report was "
            f"written. Continue it with: convzoo train ... --out {run.out} --resume"
        )


def _run_parts(
    run: Plan, throughput: Throughput, extra: Sequence[Callback]
) -> tuple[L.Trainer, dict[str, Any]]:
    data = _datamodule(run)
    module = _module(run, data)
    with quiet_lightning(run.config.verbose):
        trainer = _trainer(run, throughput, extra)
        _save_config(run)
        trainer.callbacks.append(HpMetric(log_settings(trainer, run.config)))
        _fit(run, trainer, module, data)
        tested = trainer.test(module, datamodule=data, verbose=False)[0]
    return trainer, tested


def _diverged(run: Plan, exc: RunDiverged) -> None:
    """Write the report of a diverged run (rank zero), naming the step and learning rate."""
    if is_rank_zero():
        result = report.diverged(run.config, run.spec, run.out, str(exc), exc.step, exc.lr)
        report.write({**result, "epochs": exc.epochs}, run.out)


def train(
    config: TrainConfig,
    origins: dict[str, str] | None = None,
    callbacks: Sequence[Callback] = (),
) -> dict[str, Any]:
    """Train, test and report; returns the report (also written under the run directory).

    ``origins`` (from ``config.for_arch``) says where each setting came from; the
    report keeps it. ``callbacks`` are Lightning callbacks added after convzoo's
    own (which time the epochs first, so a callback's epoch-end work is not
    counted as training time). Rank zero holds the run directory's lock from start to end, so a
    second run into the same ``--out`` is refused; temporary files a killed run left
    are removed.
    """
    run = preflight.check(config)
    with locked(run.out) if is_rank_zero() else nullcontext():
        if is_rank_zero():
            remove_unfinished_saves(run.out)
        throughput = Throughput()
        try:
            trainer, tested = _run_parts(run, throughput, callbacks)
        except RunDiverged as exc:
            _diverged(run, exc)
            raise
        devices = report.device_label(run.accelerator, run.devices * trainer.num_nodes)
        result = report.finished(
            config,
            run.spec,
            run.out,
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
            report.write(result, run.out)
    return result
