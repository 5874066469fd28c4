"""What a run shows and watches while it trains: throughput, progress, divergence.

``Throughput`` times the training (validation left out) and counts its images over
all ranks; it is saved in each checkpoint, so a resumed run adds up over its parts.

In a terminal the progress bar redraws in place with the running images/s, its metrics
rounded so that the line fits 100 columns (``Bar``). Where
stderr is not a terminal (a log file, CI, a cluster job) a redrawn bar would write
kilobytes of carriage returns, so the run prints one line per epoch instead.
Lightning's start-up banners ("GPU available ...", tips) and warnings known to be
harmless for convzoo's runs are quiet unless ``verbose``; any other warning, such
as a dataloader bottleneck, still shows.

``DivergenceGuard`` stops a run at its first non-finite loss, on every rank
together: a learning rate far too high drives the loss to NaN or infinity, and
training on would only write a checkpoint full of NaN and a report of chance
accuracy. The guard looks at the loss of every optimizer step (a
``training_step`` may take several and returns all their losses and learning
rates), and reads the result back in a single CPU process after every call,
otherwise at every log interval, at each epoch's last batch and before every
checkpoint, whatever writes it (reading a value back from a GPU waits for it, and
under DDP each check is an all-reduce, so not every step). Under DDP the ranks agree
through that all-reduce at the same step, and all stop. The module itself refuses
to save weights or optimizer state that are not finite on any rank
(``ConvzooModule.on_save_checkpoint``), so the last checkpoint on disk is the last
finite one.
"""

from __future__ import annotations

import logging
import sys
import time
import warnings
from collections import deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, TQDMProgressBar

from convzoo.errors import ConvzooError

BANNER_LOGGERS = (
    "lightning.pytorch.utilities.rank_zero",
    "lightning.fabric.utilities.rank_zero",
    "lightning.fabric.utilities.distributed",  # "Initializing distributed: GLOBAL_RANK ..."
    "lightning.pytorch.trainer.connectors.signal_connector",  # "Received SIGTERM": convzoo says
)
HARMLESS = (
    r"The number of training batches .* is smaller than the logging interval",
    r"Checkpoint directory .* exists and is not empty",
    r".*isinstance\(treespec, LeafSpec\)` is deprecated",
)

NONE = float("-inf")  # the guard's mark for "no step was non-finite"


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


def rounded(value: float) -> str:
    """A loss or an accuracy in five or six characters: ``0.412``, ``1e-04``, ``2e+03``."""
    return f"{value:.3f}" if value == 0 or 1e-3 <= abs(value) < 100 else f"{value:.0e}"


def per_second(value: float) -> str:
    """A rate in at most five characters: ``950``, ``12.3k``, ``123k``, ``1.2M``."""
    for unit, size in (("M", 1e6), ("k", 1e3)):
        if value >= size:
            digits = 1 if value < 100 * size else 0
            return f"{value / size:.{digits}f}{unit}"
    return f"{value:.0f}"


BAR_METRICS = {  # what the bar shows of what the run logs, and its short name there
    "train_loss_step": "loss",
    "train_acc_step": "acc",
    "val_loss": "val_loss",
    "val_acc": "val_acc",
}


def bar_metrics(logged: Mapping[str, Any], rate: float | None) -> dict[str, str]:
    """The bar's metrics: the last logged step's loss and accuracy, the last validation's,
    rounded, and the running images/s (``rate``, None outside training)."""
    shown = {new: rounded(float(logged[key])) for key, new in BAR_METRICS.items() if key in logged}
    if rate is not None:
        shown["img/s"] = per_second(rate)
    return shown


class Bar(TQDMProgressBar):
    """Lightning's bar kept to one readable line in 100 columns: the epoch (from 1, as the
    epoch lines count), the share done, the time left, and ``bar_metrics``. Lightning's own
    line (``Epoch 0: 43%|...| 6/14 [00:01<00:02, 3.71it/s, train_loss_step=0.000135, ...``)
    is cut at the terminal's width, and the metrics, last on it, are what is cut."""

    FORMAT = "{desc} {percentage:3.0f}%|{bar}| eta {remaining}{postfix}"

    def __init__(self, throughput: Throughput) -> None:
        super().__init__(refresh_rate=10)
        self.throughput = throughput

    def init_train_tqdm(self) -> Any:
        bar = super().init_train_tqdm()
        bar.bar_format = self.FORMAT
        return bar

    def on_train_epoch_start(self, trainer: L.Trainer, *args: Any) -> None:
        super().on_train_epoch_start(trainer, *args)
        epoch = f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs}"
        self.train_progress_bar.set_description_str(epoch)

    def get_metrics(self, trainer: L.Trainer, module: L.LightningModule) -> dict[str, Any]:
        logged = super().get_metrics(trainer, module)
        return bar_metrics(logged, self.throughput.running_rate() if trainer.training else None)


class EpochLines(Callback):
    """One line on stderr per finished epoch: its number, its training loss and accuracy over
    all its batches, the validation's, images/s."""

    SHOWN = ("train_loss", "train_acc", "val_loss", "val_acc", "images_per_s")

    def on_train_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if not trainer.is_global_zero or trainer.sanity_checking:
            return
        metrics = trainer.callback_metrics
        parts = [f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs}"]
        for key in self.SHOWN:
            if key in metrics:
                value = float(metrics[key])
                text = f"{value:,.0f}" if key == "images_per_s" else f"{value:.4f}"
                parts.append(f"{key} {text}")
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


class RunDiverged(ConvzooError):
    """The loss became NaN or infinite; ``step``, ``lr`` and ``epochs`` (finished) say where.

    Under DDP every rank stops at the same check with the same message, which rank
    zero alone prints (``once``)."""

    exit_code = 1
    once = True

    def __init__(self, message: str, step: int, lr: float, epochs: int) -> None:
        super().__init__(message)
        self.step, self.lr, self.epochs = step, lr, epochs

    @classmethod
    def at(cls, step: int, lr: float, epochs: int) -> RunDiverged:
        """The divergence first seen at ``step`` (1-based), with ``epochs`` finished."""
        return cls(
            f"training diverged: the loss or the weights became NaN or infinite at step {step} "
            f"(epoch {epochs + 1}, learning rate {lr:.4g}); the checkpoint on disk is the last "
            "finite one. Lower --lr (or set --grad-clip) and start again in a new --out",
            step,
            lr,
            epochs,
        )


class DivergenceGuard(Callback):
    """Raises ``RunDiverged`` at the first check that finds a non-finite training loss."""

    def __init__(self, every: int) -> None:
        self.every = max(1, every)
        self._first: torch.Tensor | None = None
        self._step = 0
        self._lrs: deque[tuple[int, float]] = deque(maxlen=64 * (self.every + 1))

    def on_train_batch_start(
        self, trainer: L.Trainer, module: L.LightningModule, batch: Any, index: int
    ) -> None:
        """Note the first step of this call (1-based) and the learning rate it uses."""
        self._step = trainer.global_step + 1
        self._lrs.append((self._step, float(trainer.optimizers[0].param_groups[0]["lr"])))

    def on_train_batch_end(
        self, trainer: L.Trainer, module: L.LightningModule, outputs: Any, batch: Any, index: int
    ) -> None:
        """Record the first step (1-based) whose loss is not finite; check now and then."""
        loss = outputs["loss"] if isinstance(outputs, Mapping) else outputs
        losses = loss.detach().reshape(-1)
        lrs = outputs.get("lr", []) if isinstance(outputs, Mapping) else []
        self._lrs.extend((self._step + k, float(lr)) for k, lr in enumerate(lrs))
        if self._first is None:
            self._first = torch.full((), NONE, device=loss.device)
        bad = ~torch.isfinite(losses)
        offsets = torch.arange(len(losses), device=loss.device, dtype=torch.float32)
        here = -(self._step + torch.where(bad, offsets, float(len(losses))).min())
        self._first = torch.where(bad.any() & (self._first == NONE), here, self._first)
        if index + 1 >= trainer.num_training_batches or (index + 1) % self.every == 0:
            self._check(trainer)

    def on_save_checkpoint(
        self, trainer: L.Trainer, module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        """Check the losses seen so far on every rank before any checkpoint is written."""
        self._check(trainer)

    def _check(self, trainer: L.Trainer) -> None:
        if self._first is None:  # no loss seen yet
            return
        first = float(trainer.strategy.reduce(self._first.clone(), reduce_op="max"))
        if first == NONE:
            return
        step = int(-first)
        lr = dict(self._lrs).get(step, self._lrs[-1][1])
        raise RunDiverged.at(step, lr, trainer.current_epoch)


class ValidateAtMaxSteps(Callback):
    """A run that ``max_steps`` ends inside an epoch validates at its last step, as a run
    whose last epoch ends does. Lightning validates at an epoch's end only, so such a run
    would end its epoch unvalidated: a callback monitoring ``val_loss`` (``EarlyStopping``)
    would then fail, the metric never logged. Asking Lightning to stop at the step that
    reaches ``max_steps`` -- where it stops anyway -- makes it validate there first."""

    def on_train_batch_end(
        self, trainer: L.Trainer, module: L.LightningModule, outputs: Any, batch: Any, index: int
    ) -> None:
        if 0 <= trainer.max_steps <= trainer.global_step:
            trainer.should_stop = True
