"""The LightningModule: an assembled network, its head's loss, optimizer and schedule.

Hyperparameters saved in a checkpoint are plain data -- the spec as a dict and
the optimizer settings -- so ``convzoo.load(path)`` rebuilds the trained model
from the checkpoint alone, reading it with ``weights_only=True``. Accuracy is a
torchmetrics metric, reduced across processes under DDP.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from torchmetrics.classification import MulticlassAccuracy

from convzoo.assemble import ConvNet, build
from convzoo.errors import ConvzooError
from convzoo.train.config import OPTIMIZERS, SCHEDULES


class ConvzooModule(L.LightningModule):
    """Trains ``build(spec)``; the loss comes from the network's head."""

    def __init__(
        self,
        spec: dict[str, Any],
        optimizer: str = "sgd",
        lr: float = 0.1,
        momentum: float = 0.9,
        nesterov: bool = True,
        weight_decay: float = 5e-4,
        schedule: str = "onecycle",
        label_smoothing: float = 0.0,
        channels_last: bool = False,
        compile: bool = False,
    ) -> None:
        super().__init__()
        if optimizer not in OPTIMIZERS:
            raise ConvzooError(
                f"unknown optimizer {optimizer!r}; use one of {', '.join(OPTIMIZERS)}"
            )
        if schedule not in SCHEDULES:
            raise ConvzooError(f"unknown schedule {schedule!r}; use one of {', '.join(SCHEDULES)}")
        self.save_hyperparameters()
        self.model: ConvNet = build(spec)
        classes = self.model.spec.classes
        if classes is None:
            raise ConvzooError(f"{self.model.spec.name}: training needs the spec's 'classes'")
        self._mean, self._std = 0.0, 1.0  # the data's standardization (see setup)
        self._head_takes_inputs = callable(getattr(self.model.layers[-1], "loss", None))
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        if channels_last and self.model.spec.dims == 2:
            self.model = self.model.to(memory_format=torch.channels_last)
        self._net = torch.compile(self.model) if compile else self.model
        accuracy = {"num_classes": classes, "average": "micro", "validate_args": False}
        self.train_acc = MulticlassAccuracy(**accuracy)
        self.val_acc = MulticlassAccuracy(**accuracy)
        self.test_acc = MulticlassAccuracy(**accuracy)

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "_net":  # the compiled wrapper must not register the weights twice
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class scores."""
        if self.memory_format is torch.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return self._net(x)

    def _step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = batch
        scores = self(x)
        pixels = x * self._std + self._mean if self._head_takes_inputs else x
        loss = self.model.loss(scores, y, pixels, self.hparams.label_smoothing)
        return loss, scores

    def setup(self, stage: str) -> None:
        """Learn how the data was standardized, so that a head that reconstructs its input
        (capsules) compares with the pixels as they were, in [0, 1], not standardized."""
        data = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        self._mean = float(getattr(data, "mean", 0.0))
        self._std = float(getattr(data, "std", 1.0)) or 1.0

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], index: int) -> torch.Tensor:
        """One optimization step's loss.

        Loss and accuracy are measured on every ``log_every_n_steps``-th batch only
        (the progress bar and the logs show no more): logging each step costs about
        a millisecond, which on a small network on the CPU is 5% of the step.
        """
        loss, scores = self._step(batch)
        every = self.trainer.log_every_n_steps if self._trainer is not None else 1
        if index % max(1, every) == 0:
            self.train_acc(scores.detach(), batch[1])
            self.log("train_loss", loss.detach(), prog_bar=True)
            self.log("train_acc", self.train_acc, prog_bar=True, on_step=True, on_epoch=True)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], _: int) -> None:
        """Loss and accuracy on the validation split, reduced over processes."""
        loss, scores = self._step(batch)
        self.val_acc(scores, batch[1])
        self.log("val_loss", loss, prog_bar=True, sync_dist=True)
        self.log("val_acc", self.val_acc, prog_bar=True)

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], _: int) -> None:
        """Loss and accuracy on the test set, reduced over processes."""
        loss, scores = self._step(batch)
        self.test_acc(scores, batch[1])
        self.log("test_loss", loss, sync_dist=True)
        self.log("test_acc", self.test_acc)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Record the planned epochs: a resumed run must keep its learning-rate schedule."""
        checkpoint["convzoo"] = {
            "epochs": self.trainer.max_epochs,
            "schedule": self.hparams.schedule,
        }

    def configure_optimizers(self) -> Any:
        """SGD (momentum, Nesterov) or AdamW; one-cycle, cosine or constant learning rate."""
        hp = self.hparams
        decay, no_decay = [], []
        for p in self.model.parameters():
            if p.requires_grad:
                (decay if p.dim() > 1 else no_decay).append(p)
        groups = [
            {"params": decay, "weight_decay": hp.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ]
        if hp.optimizer == "sgd":
            opt: torch.optim.Optimizer = torch.optim.SGD(
                groups, lr=hp.lr, momentum=hp.momentum, nesterov=hp.nesterov and hp.momentum > 0
            )
        else:
            opt = torch.optim.AdamW(groups, lr=hp.lr)
        if hp.schedule == "constant":
            return opt
        steps = max(1, int(self.trainer.estimated_stepping_batches))
        if hp.schedule == "onecycle":
            cycle = hp.optimizer != "sgd" or hp.momentum > 0
            sched: Any = torch.optim.lr_scheduler.OneCycleLR(
                opt, max_lr=hp.lr, total_steps=steps, cycle_momentum=cycle
            )
        else:
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
