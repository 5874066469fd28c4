"""Where a run's metrics go: CSV (the default), TensorBoard, or Weights & Biases.

Each resumed part of a run logs into a folder of its own (``logs``, ``logs-2``,
...), so no part's log is overwritten. W&B runs offline unless ``WANDB_API_KEY``
is set, in the project ``--logger-project`` (else ``WANDB_PROJECT``, else
``convzoo``) as the run ``--logger-name`` (else ``WANDB_NAME``); a logger whose
package is missing says what to install. Every logger gets the run's settings as
hyperparameters (``log_settings``), so a run can be told from another in any of
them, the learning rate at every logged step (``learning_rate_monitor``), which
the CSV log otherwise lacks, and ``hp_metric``, the test accuracy (``HpMetric``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback, LearningRateMonitor
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

from convzoo.errors import ConvzooError, install_hint
from convzoo.train.config import LOGGERS, TrainConfig

WANDB_PROJECT = "convzoo"  # when WANDB_PROJECT is not set


def _log_version(out: Path, base: str) -> str:
    """``base`` for a new run; ``base-2``, ``base-3``... for each resumed part, so no
    part of a resumed run's log is overwritten."""
    if not (out / base).exists():
        return base
    n = 2
    while (out / f"{base}-{n}").exists():
        n += 1
    return f"{base}-{n}"


def make_logger(
    name: str, out: Path, project: str | None = None, run_name: str | None = None
) -> Any:
    """The Lightning logger ``name`` writing under ``out``; for W&B, in ``project`` (else
    ``$WANDB_PROJECT``, else convzoo) as the run ``run_name`` (else ``$WANDB_NAME``)."""
    if name == "csv":
        return CSVLogger(str(out), name="", version=_log_version(out, "logs"))
    if name == "tensorboard":
        try:
            return TensorBoardLogger(
                str(out), name="", version=_log_version(out, "tensorboard"), default_hp_metric=False
            )
        except ModuleNotFoundError as exc:
            raise ConvzooError(
                f"--logger tensorboard needs: {install_hint('tensorboard')}"
            ) from exc
    if name == "wandb":
        try:
            import wandb  # noqa: F401
        except ImportError as exc:
            raise ConvzooError(f"--logger wandb needs: {install_hint('wandb')}") from exc
        from lightning.pytorch.loggers import WandbLogger

        offline = not os.environ.get("WANDB_API_KEY")
        project = project or os.environ.get("WANDB_PROJECT") or WANDB_PROJECT
        run_name = run_name or os.environ.get("WANDB_NAME")
        return WandbLogger(save_dir=str(out), offline=offline, project=project, name=run_name)
    raise ConvzooError(f"unknown logger {name!r}; use one of {', '.join(LOGGERS)}")


def _loggable(value: Any) -> Any:
    """``value`` as data every logger stores and a safe YAML loader reads back: tuples as
    lists, paths as strings."""
    if isinstance(value, Mapping):
        return {str(k): _loggable(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_loggable(v) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


def run_settings(config: TrainConfig, trainer: L.Trainer) -> dict[str, Any]:
    """Every setting of the run as plain data: ``config``'s fields, with the accelerator,
    devices and precision that ``trainer`` resolved ``auto`` to, and its number of nodes."""
    settings = {f.name: _loggable(getattr(config, f.name)) for f in fields(config)}
    device = trainer.strategy.root_device.type
    settings.update(
        accelerator="gpu" if device == "cuda" else device,
        devices=trainer.num_devices,
        num_nodes=trainer.num_nodes,
        precision=str(trainer.precision),
    )
    return settings


def log_settings(trainer: L.Trainer, config: TrainConfig) -> dict[str, Any]:
    """Log ``run_settings`` as hyperparameters to every logger of ``trainer``; returns them."""
    settings = run_settings(config, trainer)
    for logger in trainer.loggers:
        logger.log_hyperparams(settings)
    return settings


def learning_rate_monitor() -> LearningRateMonitor:
    """Lightning's callback that logs each optimizer's learning rate (``lr-SGD``, one column
    per parameter group) at every logged step."""
    return LearningRateMonitor(logging_interval="step")


class HpMetric(Callback):
    """``hp_metric``, the number TensorBoard's HPARAMS tab ranks runs by, is the test
    accuracy, logged when testing ends (Lightning's placeholder, -1, is switched off):
    with the settings as TensorBoard's hyperparameters, as a metric for the others."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = settings

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        accuracy = trainer.callback_metrics.get("test_acc")
        if accuracy is None:
            return
        metric = {"hp_metric": float(accuracy)}
        for logger in trainer.loggers:
            if isinstance(logger, TensorBoardLogger):
                logger.log_hyperparams(self.settings, metrics=metric)
            else:
                logger.log_metrics(metric, step=trainer.global_step)
