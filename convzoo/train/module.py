"""The LightningModule: an assembled network, its head's loss, optimizer and schedule.

Hyperparameters saved in a checkpoint are plain data -- the spec as a dict and
the optimizer settings -- so ``convzoo.load(path)`` rebuilds the trained model
from the checkpoint alone, reading it with ``weights_only=True``. An epoch's training
loss and accuracy are means over every sample it trained on, whatever the logging
interval, and all metrics are torchmetrics metrics, reduced across processes under DDP.

Optimization is manual: one ``training_step`` takes an optimizer step per batch
it is given, and the resident loader hands it several batches at once
(``steps_per_call``), so Lightning's fixed cost per step -- its hooks and loop
bookkeeping, about 2 ms on a CPU, as much as a small net's whole step -- is paid
once for all of them. Each step still goes through Lightning's optimizer (so
precision plugins, DDP and the step count behave as in automatic optimization);
the scheduler moves after every step. Lightning cannot accumulate gradients under
manual optimization, so ``accumulate`` (``--trainer.accumulate_grad_batches``) is
done here: each optimizer step sums the scaled gradients of ``accumulate`` batches
(fewer at the end of an epoch), and the schedule is laid out over those steps.
Lightning's ``global_step`` counts optimizer steps, so a call stops taking steps
once ``max_steps`` are taken; its loggers' step counts calls, which
``count_optimizer_steps``, the one place convzoo reaches into Lightning's privates,
turns into optimizer steps.

What the step needs to know of its data -- the rows of one optimizer step, the
batches in a call and in an epoch, the standardization that a reconstructing head
undoes -- is one frozen value, ``convzoo.data.Batching``, which ``convzoo train``
hands over (``attach``) before the fit; under a Trainer of one's own the module asks
the DataModule for it (``DataModule.batching``) when the fit or test sets up. Its
defaults are ``TrainConfig``'s, which a test ties; ``from_config`` makes the module
of a run's settings.
"""

from __future__ import annotations

import inspect
import math
from typing import Any, cast

import lightning as L
import torch
from lightning.pytorch.core.optimizer import LightningOptimizer
from torch import nn
from torch.optim.lr_scheduler import LRScheduler
from torchmetrics import Metric
from torchmetrics.classification import MulticlassAccuracy

from convzoo.assemble import ConvNet, build
from convzoo.data import Batching
from convzoo.errors import ConvzooError
from convzoo.spec import SpecLike, load_spec
from convzoo.train import trainer_args
from convzoo.train.callbacks import RunDiverged
from convzoo.train.checkpoint import INPUT, finite_state
from convzoo.train.config import OPTIMIZERS, SCHEDULES, TrainConfig, problem, saved, settings

STEP_COUNTER = "_batches_that_stepped"  # Lightning's, private: see count_optimizer_steps


def compiled(model: torch.nn.Module, device: torch.device) -> Any:
    """``torch.compile(model)``; on a GPU in ``reduce-overhead`` mode, which records the
    step's kernels as CUDA graphs and replays them, so the GPU does not wait on Python."""
    return torch.compile(model, mode="reduce-overhead" if device.type == "cuda" else None)


def _accuracy(classes: int) -> MulticlassAccuracy:
    """Top-1 accuracy over ``classes``, reduced across processes under DDP."""
    return MulticlassAccuracy(num_classes=classes, average="micro", validate_args=False)


class EpochMean(Metric):
    """The mean of a value over every sample of the epoch so far, reduced across processes:
    the sum of the value times its weight, over the sum of the weights. Its update only adds
    (torchmetrics' ``MeanMetric`` looks for NaN in every value, which waits for the GPU)."""

    full_state_update = False
    total: torch.Tensor
    weight: torch.Tensor

    def __init__(self) -> None:
        super().__init__()
        self.add_state("total", torch.zeros(()), dist_reduce_fx="sum")
        self.add_state("weight", torch.zeros(()), dist_reduce_fx="sum")

    def update(self, total: torch.Tensor, weight: int) -> None:
        """Add ``total``, the sum of ``weight`` samples' values."""
        self.total += total
        self.weight += weight

    def compute(self) -> torch.Tensor:
        """The mean over the samples added since the last reset."""
        return self.total / self.weight


def count_optimizer_steps(trainer: L.Trainer, steps: int) -> None:
    """Make the loggers' step count the ``steps`` optimizer steps the call just ended took.

    Lightning logs at ``trainer.fit_loop.epoch_loop._batches_that_stepped``, which it adds
    one to after each call of ``training_step``; with several optimizer steps per call the
    logs would count calls. Lightning offers no public way to say otherwise, so the other
    ``steps - 1`` go to that private counter here, and nowhere else. A Lightning without
    it fails here with a message, rather than logging on a wrong axis; a test checks
    that Lightning still logs at it.
    """
    if steps == 1:
        return
    loop = trainer.fit_loop.epoch_loop
    if not hasattr(loop, STEP_COUNTER):
        raise ConvzooError(
            f"lightning {L.__version__} has no fit_loop.epoch_loop.{STEP_COUNTER}, through "
            "which convzoo's logs count optimizer steps when a call takes several; install "
            "the Lightning version convzoo names in its requirements, or use --steps-per-call 1"
        )
    setattr(loop, STEP_COUNTER, getattr(loop, STEP_COUNTER) + steps - 1)


class ConvzooModule(L.LightningModule):
    """Trains ``build(spec)``; the loss comes from the network's head."""

    def __init__(
        self,
        spec: SpecLike,
        optimizer: str = "sgd",
        lr: float = 0.1,
        momentum: float = 0.9,
        nesterov: bool = True,
        weight_decay: float = 5e-4,
        schedule: str = "onecycle",
        lr_decay: float = 0.95,
        label_smoothing: float = 0.0,
        channels_last: bool = False,
        compile: bool = False,
        grad_clip: float | None = None,
        accumulate: int = 1,
    ) -> None:
        super().__init__()
        self.automatic_optimization = False
        if optimizer not in OPTIMIZERS:
            raise ConvzooError(
                f"unknown optimizer {optimizer!r}; use one of {', '.join(OPTIMIZERS)}"
            )
        if schedule not in SCHEDULES:
            raise ConvzooError(f"unknown schedule {schedule!r}; use one of {', '.join(SCHEDULES)}")
        wrong = problem("lr_decay", lr_decay)
        if wrong:
            raise ConvzooError(f"lr_decay: {wrong}")
        spec = load_spec(spec).to_dict()  # saved as plain data, whatever was given
        self.save_hyperparameters()
        self.model: ConvNet = build(spec)
        classes = self.model.spec.classes
        if classes is None:
            raise ConvzooError(f"{self.model.spec.name}: training needs the spec's 'classes'")
        self.batching: Batching | None = None  # what the step knows of its data (see setup)
        self.run_config: dict[str, Any] | None = None  # the run's settings (from_config)
        self._batching_given = False
        self._pending = 0  # batches whose gradients wait for the next optimizer step
        self._head_takes_inputs = callable(getattr(self.model.layers[-1], "loss", None))
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        if channels_last and self.model.spec.dims == 2:
            self.model = self.model.to(memory_format=torch.channels_last)
        self._net = compiled(self.model, torch.device("cpu")) if compile else self.model
        self.train_loss, self.train_acc = EpochMean(), EpochMean()
        self.val_acc, self.test_acc = _accuracy(classes), _accuracy(classes)

    @classmethod
    def from_config(cls, spec: SpecLike, config: TrainConfig) -> ConvzooModule:
        """The module a run of ``config`` trains: each parameter named as a setting takes its
        value, ``accumulate`` the Trainer's ``accumulate_grad_batches``; its checkpoints carry
        the settings (``run_config``)."""
        named = [n for n in inspect.signature(cls).parameters if n in settings()]
        accumulate = config.trainer.get(trainer_args.ACCUMULATE, 1)
        module = cls(spec, **{n: getattr(config, n) for n in named}, accumulate=accumulate)
        module.run_config = saved(config)
        return module

    def attach(self, batching: Batching) -> None:
        """Train on data batched as ``batching`` says (``convzoo train`` hands it over)."""
        self.batching, self._batching_given = batching, True

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
        batching = self.batching
        pixels = x * batching.std + batching.mean if self._head_takes_inputs and batching else x
        loss = self.model.loss(scores, y, pixels, self.hparams["label_smoothing"])
        return loss, scores

    def setup(self, stage: str) -> None:
        """Without a ``Batching`` handed over (``attach``), ask the Trainer's DataModule for one:
        a convzoo ``DataModule`` tells it (``batching``); other data is one batch per call, as
        it comes, with no standardization to undo."""
        if self._trainer is None:
            return
        if not self._batching_given:
            ask = getattr(getattr(self.trainer, "datamodule", None), "batching", None)
            self.batching = ask(self.trainer.world_size) if callable(ask) else None
        if self.hparams["compile"]:
            self._net = compiled(self.model, self.trainer.strategy.root_device)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], index: int) -> dict[str, Any]:
        """One optimizer step per batch in ``batch`` (the datamodule's ``batch_size`` rows each).

        Returns the steps' losses and learning rates, for the divergence check. Every
        batch counts in the epoch's loss and accuracy (``train_loss``, ``train_acc``: means
        over its samples); the last step's (``train_loss_step``, ``train_acc_step``) are
        logged on every ``log_every_n_steps``-th call only: logging costs about a
        millisecond, 5% of a small net's CPU step.
        """
        x, y = batch
        size = self.batching.batch_size if self.batching else len(y)
        # configure_optimizers gives one optimizer and at most one scheduler
        optimizer = cast(LightningOptimizer, self.optimizers())
        scheduler = cast("LRScheduler | None", self.lr_schedulers())
        clip = self.hparams.get("grad_clip")
        accumulate = self.hparams.get("accumulate", 1)
        attached = self._trainer is not None
        max_steps = self.trainer.max_steps if attached else -1
        last_call = attached and self.trainer.is_last_batch
        batches = list(zip(x.split(size), y.split(size)))
        losses, right, seen, lrs, stepped = [], [], [], [], 0
        for i, (xb, yb) in enumerate(batches):
            if attached and 0 <= max_steps <= self.trainer.global_step:
                break
            loss, scores = self._step((xb, yb))
            lrs.append(optimizer.param_groups[0]["lr"])
            if self._pending == 0:
                optimizer.zero_grad(set_to_none=True)
            self.manual_backward(loss / accumulate)
            self._pending += 1
            if self._pending == accumulate or (last_call and i == len(batches) - 1):
                if clip is not None:
                    self.clip_gradients(optimizer.optimizer, clip, "norm")
                optimizer.step()
                if scheduler is not None:
                    scheduler.step()
                self._pending, stepped = 0, stepped + 1
            losses.append(loss.detach())
            right.append((scores.detach().argmax(1) == yb).sum())
            seen.append(len(yb))
        rows = sum(seen)
        self.train_loss.update(torch.stack([v * n for v, n in zip(losses, seen)]).sum(), rows)
        self.train_acc.update(torch.stack(right).sum(), rows)
        every = 1
        if attached:
            every = self.trainer.log_every_n_steps  # type: ignore[attr-defined]  # set at init
            count_optimizer_steps(self.trainer, stepped)
        if index % max(1, every) == 0:
            self.log("train_loss_step", losses[-1], prog_bar=True)
            self.log("train_acc_step", right[-1] / seen[-1], prog_bar=True)
            self.log("train_loss", self.train_loss, on_step=False, on_epoch=True)
            self.log("train_acc", self.train_acc, on_step=False, on_epoch=True)
        return {"loss": torch.stack(losses), "lr": lrs}

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
        """Refuse a checkpoint whose weights or optimizer state are not finite on some rank --
        every rank stops here together, as diverged, whatever asked for the checkpoint -- and
        record what the learning-rate schedule was laid out for and the run's settings, as
        plain data: a resumed run must keep them; and how the data prepared its samples
        (``INPUT``; None for data other than a convzoo ``DataModule``), which ``load`` applies."""
        bad = torch.tensor(0.0 if finite_state(checkpoint) else 1.0, device=self.device)
        if float(self.trainer.strategy.reduce(bad, reduce_op="max")):
            optimizers = self.trainer.optimizers
            lr = optimizers[0].param_groups[0]["lr"] if optimizers else self.hparams["lr"]
            raise RunDiverged.at(self.trainer.global_step, float(lr), self.trainer.current_epoch)
        batching = self.batching
        checkpoint["convzoo"] = {
            "epochs": self.trainer.max_epochs,
            "schedule": self.hparams["schedule"],
            "lr_decay": self.hparams["lr_decay"],
            INPUT: batching.preprocessing(self.model.spec.input).to_dict() if batching else None,
        }
        if self.run_config is not None:
            checkpoint["convzoo"]["config"] = self.run_config

    def on_train_epoch_start(self) -> None:
        """An epoch starts with no gradients waiting (the last one stepped them all), and its
        loss and accuracy from no sample."""
        self._pending = 0
        self.train_loss.reset()
        self.train_acc.reset()

    def _steps_per_epoch(self) -> int:
        """Optimizer steps in one epoch: every ``accumulate`` batches make one. With several
        batches per call the data counts them (``Batching``); with one, Lightning's count of
        calls does, limits such as ``limit_train_batches`` included."""
        batching = self.batching
        batches: float  # Lightning's count may be infinite (an iterable without a length)
        if batching is not None and batching.steps_per_call > 1:
            batches = batching.batches_per_epoch
        else:
            self.trainer.estimated_stepping_batches  # noqa: B018 -- loads the train data
            batches = self.trainer.num_training_batches
        return max(1, math.ceil(batches / self.hparams.get("accumulate", 1)))

    def _total_steps(self) -> int:
        """Optimizer steps in the whole run: its epochs' steps, or ``max_steps`` if fewer."""
        total = self._steps_per_epoch() * max(1, self.trainer.max_epochs or 1)
        max_steps = self.trainer.max_steps
        return max(1, min(total, max_steps) if max_steps >= 0 else total)

    def configure_optimizers(self) -> Any:
        """SGD (momentum, Nesterov) or AdamW, fused on a GPU; one-cycle, cosine, constant or
        exponential learning rate. The exponential one multiplies the rate by ``lr_decay``
        per epoch in equal factors at every optimizer step, so it is smooth and, its state
        saved in the checkpoint, a resumed run continues where it stopped."""
        hp: Any = self.hparams  # the constructor's arguments, by attribute
        decay: list[nn.Parameter] = []
        no_decay: list[nn.Parameter] = []
        for p in self.model.parameters():
            if p.requires_grad:
                (decay if p.dim() > 1 else no_decay).append(p)
        groups = [
            {"params": decay, "weight_decay": hp.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ]
        fused: dict[str, Any] = (
            {"fused": True} if self.device.type == "cuda" else {}
        )  # one kernel per step
        if hp.optimizer == "sgd":
            nesterov = hp.nesterov and hp.momentum > 0
            opt: torch.optim.Optimizer = torch.optim.SGD(
                groups, lr=hp.lr, momentum=hp.momentum, nesterov=nesterov, **fused
            )
        else:
            opt = torch.optim.AdamW(groups, lr=hp.lr, **fused)
        if hp.schedule == "constant":
            return opt
        if hp.schedule == "onecycle":
            steps = self._total_steps()
            cycle = hp.optimizer != "sgd" or hp.momentum > 0
            sched: Any = torch.optim.lr_scheduler.OneCycleLR(
                opt, max_lr=hp.lr, total_steps=steps, cycle_momentum=cycle
            )
        elif hp.schedule == "cosine":
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=self._total_steps())
        else:
            sched = torch.optim.lr_scheduler.ExponentialLR(
                opt, gamma=hp.lr_decay ** (1 / self._steps_per_epoch())
            )
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
