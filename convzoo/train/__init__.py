"""Training, one module for each question a reader asks.

    config        every setting of a run, declared once (``TrainConfig``), and the recipes
    trainer_args  the other ``lightning.Trainer`` arguments a run passes on, checked
    module        where a step is taken: the LightningModule (``ConvzooModule``)
    fit           the run, in named phases: ``train(config)``
    checkpoint    where a checkpoint is written and read: the run directory, ``load``
    preflight     what is checked before the first step
    distributed   what is special about several processes: strategies, launchers, rank zero
    preemption    what a run does when SLURM stops it: its signals, the requeued job
    callbacks     what a run shows and watches: throughput, progress, divergence
    report        what a run logs and reports: its loggers, ``report.json`` and ``report.md``

The names below are imported on first use (``convzoo.lazy``): ``convzoo.train.config``,
which the command line reads to make ``convzoo train``'s flags, must not import
Lightning.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from convzoo.lazy import lazy_exports

if TYPE_CHECKING:
    from convzoo.train.checkpoint import load, read_checkpoint
    from convzoo.train.config import TrainConfig
    from convzoo.train.fit import train
    from convzoo.train.module import ConvzooModule

_EXPORTS = {
    "ConvzooModule": "convzoo.train.module",
    "TrainConfig": "convzoo.train.config",
    "load": "convzoo.train.checkpoint",
    "read_checkpoint": "convzoo.train.checkpoint",
    "train": "convzoo.train.fit",
}
lazy_exports(__name__, _EXPORTS)

__all__ = ["ConvzooModule", "TrainConfig", "load", "read_checkpoint", "train"]
