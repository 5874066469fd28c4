"""The LightningDataModule: a named dataset, split, normalized, fitted to the spec's input.

The validation split is carved from the training set with a fixed seed; the test
set is only for the final report. Samples smaller than the network's input are
centred on its canvas; any other mismatch is an error naming both shapes. With
``permute=SEED`` one fixed random permutation of the positions (drawn from SEED)
is applied to train and test alike. Data is standardized with the training
split's mean and standard deviation, unless ``standardize=False`` keeps the raw
values (a reference recipe that trains on them).

With ``resident=True`` (the default) the tensors are moved to the training
device once and batched there by ``ResidentLoader``, with augmentation on the
device; with ``resident=False`` a standard DataLoader feeds the device and the
same augmentation runs after the transfer (for data that does not fit).

The input shape need not be passed by hand: ``model=`` takes it from a convzoo
network or a ``ConvzooModule``, and a DataModule given to a ``lightning.Trainer``
with neither takes it from the module being trained, the way a user's own loop
``trainer.fit(ConvzooModule(...), datamodule=DataModule("fashion_mnist"))`` runs.

What the training step needs to know of its data -- the rows of one optimizer
step, the batches in one call and in one epoch, the standardization to undo --
the DataModule hands it as one frozen value, ``batching(ranks)``; ``convzoo train``
passes it to the module before the fit. ``from_config`` makes the DataModule of a
run's settings; the defaults here are ``TrainConfig``'s, which a test ties (data/
is drawn above train/, so it cannot import them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from convzoo.data.catalog import Dataset, load_dataset
from convzoo.data.preprocessing import Preprocessing, standardize
from convzoo.data.resident import ResidentLoader
from convzoo.data.transforms import (
    Augment,
    check_canvas,
    fit_canvas,
    permute_pixels,
    pixel_permutation,
)
from convzoo.errors import ConvzooError


@dataclass(frozen=True)
class Batching:
    """What a training step needs to know of the data it is given, on each rank.

    One call of ``training_step`` holds up to ``steps_per_call`` batches of
    ``batch_size`` rows (the resident loader's ``steps``; 1 from a DataLoader), each an
    optimizer step; ``batches_per_epoch`` whole batches make an epoch. The inputs are
    standardized, ``(x - mean) / std``: a head that reconstructs them undoes it. With
    ``permute`` their positions were permuted with that seed; ``preprocessing`` is all
    that was done to the dataset's samples, which a checkpoint records.
    """

    batch_size: int
    steps_per_call: int
    batches_per_epoch: int
    mean: float = 0.0
    std: float = 1.0
    permute: int | None = None

    def preprocessing(self, canvas: tuple[int, ...]) -> Preprocessing:
        """What made the dataset's samples the step's inputs, on the network's ``canvas``."""
        return Preprocessing(tuple(canvas), self.permute, self.mean, self.std)


def batches_per_rank(samples: int, batch_size: int, ranks: int) -> int:
    """Whole training batches each of ``ranks`` processes takes from ``samples`` per epoch
    (the last, short batch is dropped; every rank takes the same share)."""
    return (samples // ranks) // batch_size


def input_shape_of(model: nn.Module) -> tuple[int, ...]:
    """The input ``[C, *spatial]`` of a convzoo network, or of the one a module trains."""
    spec = getattr(getattr(model, "model", model), "spec", None)
    if spec is None:
        raise ConvzooError(
            f"{type(model).__name__} is not a convzoo network or ConvzooModule: it carries no "
            "spec to take the input shape from; pass input_shape=(C, H, W)"
        )
    return tuple(spec.input)


class DataModule(L.LightningDataModule):
    """Train/val/test loaders for the dataset ``data`` shaped for ``input_shape``."""

    def __init__(
        self,
        data: str,
        input_shape: tuple[int, ...] | None = None,
        data_dir: str | Path | None = None,
        batch_size: int = 256,
        eval_batch_size: int = 1024,
        val_fraction: float = 0.1,
        seed: int = 0,
        translate: int = 0,
        scale: tuple[float, float] | None = None,
        flip: bool = False,
        resident: bool = True,
        download: bool = True,
        permute: int | None = None,
        steps: int = 1,
        standardize: bool = True,
        model: nn.Module | None = None,
    ) -> None:
        super().__init__()
        if not 0.0 <= val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
        if model is not None:
            shape = input_shape_of(model)
            if input_shape is not None and tuple(input_shape) != shape:
                raise ConvzooError(
                    f"input_shape {list(input_shape)} differs from the model's input "
                    f"{list(shape)}; give one of them"
                )
            input_shape = shape
        self.data, self.input_shape, self.data_dir = data, input_shape, data_dir
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size
        self.val_fraction, self.seed = val_fraction, seed
        self.resident, self.download = resident, download
        self.permute, self.steps, self.standardized = permute, steps, standardize
        self.augment_settings: dict[str, Any] = {
            "translate": translate,
            "scale": scale,
            "flip": flip,
        }
        self.dataset: Dataset | None = None
        self.splits: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self.augment = Augment()
        self.mean = self.std = 0.0
        self._measured: tuple[float, float] | None = None

    @classmethod
    def from_config(cls, config: Any, input_shape: tuple[int, ...]) -> DataModule:
        """The data of a training run whose settings are ``config`` (a ``TrainConfig``, read by
        name), fitted to ``input_shape``."""
        return cls(
            config.data,
            tuple(input_shape),
            config.data_dir,
            batch_size=config.batch_size,
            val_fraction=config.val_fraction,
            seed=config.seed,
            translate=config.translate,
            scale=tuple(config.scale) if config.scale else None,
            flip=config.flip,
            resident=config.resident,
            steps=config.steps_per_call,
            permute=config.permute,
            standardize=config.standardize,
        )

    # -- loading ---------------------------------------------------------------------
    def prepare_data(self) -> None:
        """Download (once, on the first process) when the files are not there."""
        load_dataset(self.data, self.data_dir, self.download)

    def load(self, check: Callable[[Dataset], None] | None = None) -> Dataset:
        """The dataset, fitted to the input shape (loaded once). ``check`` sees it as its
        loader gives it, once its samples are known to fit the input and before the canvas
        costs memory (the checks before a run)."""
        if self.dataset is None:
            ds = load_dataset(self.data, self.data_dir, self.download)
            if self.trainer is not None:
                trained = input_shape_of(self.trainer.lightning_module)
                if self.input_shape is not None and tuple(self.input_shape) != trained:
                    raise ConvzooError(
                        f"the DataModule's input_shape {list(self.input_shape)} is not the "
                        f"input {list(trained)} of the module the Trainer trains; give neither "
                        "(it takes the module's) or the module's"
                    )
                self.input_shape = trained
            what = f"dataset {self.data!r}"
            if self.input_shape is not None:
                check_canvas(ds.shape, tuple(self.input_shape), what)
            if check is not None:
                check(ds)
            if self.input_shape is not None:
                ds.train_x = fit_canvas(ds.train_x, self.input_shape, what)
                ds.test_x = fit_canvas(ds.test_x, self.input_shape, what)
            if self.permute is not None:
                order = pixel_permutation(ds.shape, self.permute)
                ds.train_x = permute_pixels(ds.train_x, order)
                ds.test_x = permute_pixels(ds.test_x, order)
                ds.flips = False
            self.dataset = ds
        return self.dataset

    def setup(self, stage: str | None = None) -> None:
        """Split, standardize, and (resident) move the tensors to the training device."""
        if self.splits:
            return
        ds = self.load()
        val_idx, train_idx = self._split()
        self.mean, self.std = self._standardization()
        device = self._device() if self.resident else torch.device("cpu")

        def prepared(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            return self.standardize(x).to(device), y.to(device)

        self.splits = {
            "train": prepared(ds.train_x[train_idx], ds.train_y[train_idx]),
            "val": prepared(ds.train_x[val_idx], ds.train_y[val_idx]),
            "test": prepared(ds.test_x, ds.test_y),
        }
        chosen = self.augment_settings
        self.augment = Augment(
            translate=chosen["translate"],
            scale=chosen["scale"],
            flip=bool(chosen["flip"]) and ds.flips,
            fill=self.background,
        )

    def _split(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The indices of the validation and the training split: a fixed draw from ``seed``."""
        n = len(self.load().train_y)
        order = torch.randperm(n, generator=torch.Generator().manual_seed(self.seed))
        n_val = n - self.train_samples
        return order[:n_val], order[n_val:]

    def _standardization(self) -> tuple[float, float]:
        """The training split's mean and std (0 and 1 without ``standardize``), measured once."""
        if self._measured is None:
            if self.standardized:
                x = self.load().train_x[self._split()[1]]
                self._measured = (float(x.mean()), float(x.std()) or 1.0)
            else:
                self._measured = (0.0, 1.0)
        return self._measured

    def batching(self, ranks: int = 1) -> Batching:
        """What the training step needs to know of this data, on each of ``ranks`` processes."""
        steps = self.steps if self.resident else 1
        batches = batches_per_rank(self.train_samples, self.batch_size, ranks)
        mean, std = self._standardization()
        return Batching(self.batch_size, steps, batches, mean, std, self.permute)

    @property
    def train_samples(self) -> int:
        """Samples in the training split: the dataset's training set less the held-out share."""
        n = len(self.load().train_y)
        return n - round(n * self.val_fraction)

    def standardize(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` scaled as the splits are: less the training split's mean, over its std."""
        return standardize(x, self.mean, self.std)

    @property
    def background(self) -> float:
        """The value of a zero pixel after standardization."""
        return -self.mean / self.std

    def _device(self) -> torch.device:
        trainer = self.trainer
        return trainer.strategy.root_device if trainer is not None else torch.device("cpu")

    # -- loaders ---------------------------------------------------------------------
    def _rank(self) -> tuple[int, int]:
        trainer = self.trainer
        return (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)

    def _loader(self, split: str, train: bool) -> Any:
        x, y = self.splits[split]
        batch = self.batch_size if train else self.eval_batch_size
        if not self.resident:
            return DataLoader(
                TensorDataset(x, y),
                batch_size=batch,
                shuffle=train,
                drop_last=train,
                pin_memory=torch.cuda.is_available(),
            )
        rank, world = self._rank()
        trainer = self.trainer
        return ResidentLoader(
            x,
            y,
            batch,
            shuffle=train,
            drop_last=train,
            augment=self.augment if train and self.augment.active else None,
            seed=self.seed,
            rank=rank,
            world_size=world,
            steps=self.steps if train else 1,
            epoch_source=(lambda: trainer.current_epoch) if trainer is not None else None,
        )

    def train_dataloader(self) -> Any:
        """Shuffled, augmented, each rank its own shard."""
        return self._loader("train", train=True)

    def val_dataloader(self) -> Any:
        """The validation split carved from the training set."""
        return self._loader("val", train=False)

    def test_dataloader(self) -> Any:
        """The test set: for the final report only."""
        return self._loader("test", train=False)

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        """The DataLoader path's augmentation, on the device after the transfer."""
        if self.resident or self.trainer is None or not self.trainer.training:
            return batch
        x, y = batch
        return (self.augment(x) if self.augment.active else x), y
