"""What a run shows while it trains: throughput, a bar or one line per epoch, quiet Lightning.

In a terminal the bar redraws in place with the running images/s. Where stderr
is not a terminal (a log file, CI, a cluster job) a redrawn bar would write
kilobytes of carriage returns, so the run prints one line per epoch instead.
Lightning's start-up banners ("GPU available ...", tips) and warnings known to
be harmless for convzoo's runs are quiet unless ``verbose``; any other warning,
such as a dataloader bottleneck, still shows.
"""

from __future__ import annotations

import logging
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, TQDMProgressBar

BANNER_LOGGERS = (
    "lightning.pytorch.utilities.rank_zero",
    "lightning.fabric.utilities.rank_zero",
    "lightning.fabric.utilities.distributed",  # "Initializing distributed: GLOBAL_RANK ..."
)
HARMLESS = (
    r"The number of training batches .* is smaller than the logging interval",
    r"Checkpoint directory .* exists and is not empty",
    r".*isinstance\(treespec, LeafSpec\)` is deprecated",
)


class Throughput(Callback):
    """Training time and images per second over all ranks; validation time is left out.

    ``first_call`` is the wall time of the run's first training call (None after a
    resume): it holds ``torch.compile``'s compilation and the warm-up, which the
    report shows apart.
    """

    def __init__(self) -> None:
        self.seconds = 0.0
        self.images = 0
        self.first_call: float | None = None
        self._first_start: float | None = None
        self._start = 0.0
        self._validation_start = 0.0
        self._epoch_images = 0

    def on_train_epoch_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self._sync(module)
        self._epoch_images = 0
        self._start = time.perf_counter()

    def on_train_batch_start(
        self, trainer: L.Trainer, module: L.LightningModule, batch: Any, index: int
    ) -> None:
        if trainer.global_step == 0 and self._first_start is None:
            self._sync(module)
            self._first_start = time.perf_counter()

    def on_train_batch_end(
        self, trainer: L.Trainer, module: L.LightningModule, outputs: Any, batch: Any, index: int
    ) -> None:
        self._epoch_images += len(batch[1]) * trainer.world_size
        if self.first_call is None and self._first_start is not None:
            self._sync(module)
            self.first_call = time.perf_counter() - self._first_start

    def on_validation_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.training:
            return
        self._sync(module)
        self._validation_start = time.perf_counter()

    def on_validation_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.training:
            return
        self._sync(module)
        self._start += time.perf_counter() - self._validation_start

    def on_train_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self._sync(module)
        elapsed = time.perf_counter() - self._start
        self.seconds += elapsed
        self.images += self._epoch_images
        module.log(
            "images_per_s", self._epoch_images / max(elapsed, 1e-9), prog_bar=True, sync_dist=True
        )

    def state_dict(self) -> dict[str, Any]:
        """Saved in each checkpoint, so that a resumed run adds up over all its parts."""
        return {"seconds": self.seconds, "images": self.images}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """The time and images of the parts before a resume."""
        self.seconds, self.images = float(state["seconds"]), int(state["images"])

    def running_rate(self) -> float:
        """Images per second so far in the current epoch."""
        elapsed = time.perf_counter() - self._start
        return self._epoch_images / elapsed if elapsed > 0 else 0.0

    @staticmethod
    def _sync(module: L.LightningModule) -> None:
        if module.device.type == "cuda":
            torch.cuda.synchronize(module.device)


class Bar(TQDMProgressBar):
    """Lightning's bar with the running images/s of the current epoch."""

    def __init__(self, throughput: Throughput) -> None:
        super().__init__(refresh_rate=10)
        self.throughput = throughput

    def get_metrics(self, trainer: L.Trainer, module: L.LightningModule) -> dict[str, Any]:
        metrics = super().get_metrics(trainer, module)
        metrics.pop("v_num", None)
        metrics.pop("images_per_s", None)
        if trainer.training:
            metrics["img/s"] = f"{self.throughput.running_rate():,.0f}"
        return metrics


class EpochLines(Callback):
    """One line on stderr per finished epoch: its number, the logged metrics, images/s."""

    SHOWN = ("train_loss", "train_acc_epoch", "val_loss", "val_acc", "images_per_s")

    def on_train_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if not trainer.is_global_zero or trainer.sanity_checking:
            return
        metrics = trainer.callback_metrics
        parts = [f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs}"]
        for key in self.SHOWN:
            if key in metrics:
                value = float(metrics[key])
                text = f"{value:,.0f}" if key == "images_per_s" else f"{value:.4f}"
                parts.append(f"{key.removesuffix('_epoch')} {text}")
        sys.stderr.write("  ".join(parts) + "\n")
        sys.stderr.flush()


def progress_callbacks(throughput: Throughput, show: bool) -> tuple[list[Callback], bool]:
    """The callbacks that show progress, and whether Lightning's own bar is on.

    Lightning's bar redraws itself on stdout; it is shown only when stdout and stderr
    are both terminals, so that neither a redirected log nor a job's output fills
    with redraws. Otherwise one line per epoch goes to stderr."""
    if not show:
        return [], False
    if sys.stdout.isatty() and sys.stderr.isatty():
        return [Bar(throughput)], True
    return [EpochLines()], False


@contextmanager
def quiet_lightning(verbose: bool) -> Iterator[None]:
    """Lightning's banners and the known-harmless warnings silenced, unless ``verbose``."""
    if verbose:
        yield
        return
    loggers = [logging.getLogger(name) for name in BANNER_LOGGERS]
    levels = [lg.level for lg in loggers]
    with warnings.catch_warnings():
        for pattern in HARMLESS:
            warnings.filterwarnings("ignore", message=pattern)
        for lg in loggers:
            lg.setLevel(logging.WARNING)
        try:
            yield
        finally:
            for lg, level in zip(loggers, levels):
                lg.setLevel(level)
