"""Stop a run at its first non-finite loss, on every rank together.

A learning rate far too high drives the loss to NaN or infinity; training on
would only write a checkpoint full of NaN and a report of chance accuracy. The
guard looks at the loss of every optimizer step (a ``training_step`` may take
several and returns all their losses and learning rates), and reads the result
back in a single CPU process after every call, otherwise at every log interval
and at each epoch's last batch (reading a value back from a
GPU waits for it, and under DDP each check is an all-reduce, so not every
step); at each epoch's last batch it checks the weights too, before the epoch's
checkpoint is written -- so the last checkpoint on disk is the last finite one.
Under DDP the ranks agree through that all-reduce at the same step, and all stop.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback

from convzoo.errors import ConvzooError

NONE = float("-inf")


class RunDiverged(ConvzooError):
    """The loss became NaN or infinite; ``step``, ``lr`` and ``epochs`` (finished) say where.

    Under DDP every rank stops at the same check with the same message, which rank
    zero alone prints (``once``)."""

    exit_code = 1
    once = True

    def __init__(self, message: str, step: int, lr: float, epochs: int) -> None:
        super().__init__(message)
        self.step, self.lr, self.epochs = step, lr, epochs


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
        last = index + 1 >= trainer.num_training_batches
        if last:  # the epoch's checkpoint comes next: the weights must be finite too
            finite = torch.stack([torch.isfinite(p).all() for p in module.parameters()]).all()
            final = torch.tensor(-float(self._step + len(losses) - 1), device=loss.device)
            self._first = torch.where(~finite & (self._first == NONE), final, self._first)
        if last or (index + 1) % self.every == 0:
            self._check(trainer)

    def _check(self, trainer: L.Trainer) -> None:
        first = float(trainer.strategy.reduce(self._first.clone(), reduce_op="max"))
        if first == NONE:
            return
        step = int(-first)
        lr = dict(self._lrs).get(step, self._lrs[-1][1])
        raise RunDiverged(
            f"training diverged: the loss or the weights became NaN or infinite at step {step} "
            f"(epoch {trainer.current_epoch + 1}, learning rate {lr:.4g}); the checkpoint on "
            "disk is the last finite one. Lower --lr (or set --grad-clip) and start again in a "
            "new --out",
            step,
            lr,
            trainer.current_epoch,
        )
