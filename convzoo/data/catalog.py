"""The datasets convzoo knows, by name, in a registry of their own.

Datasets use the same ``Registry`` as blocks -- lookups with suggestions,
metadata, natural-order listing -- in a separate instance with the single
family ``data``, so that a dataset can never be mistaken for a layer of a spec.
A loader returns a ``Dataset``: the train and test tensors on the CPU, images
scaled to [0, 1], labels as int64. A dataset cut from another one (the windows
of ``convzoo.data.windows``) names that one as its ``base`` and, when one of its
classes means "no object here", that class as its ``background``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from convzoo.registry import Registry

DATASETS = Registry(("data",), noun="dataset")


@dataclass
class Dataset:
    """A whole dataset in memory: ``shape`` is one sample's [C, H, W] or [C, L].

    ``background`` is the class of samples that show no object (None: every class is
    one), ``base`` the name of the dataset the samples were cut from (None: none).
    """

    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    classes: int
    flips: bool = False
    background: int | None = None
    base: str | None = None

    @property
    def shape(self) -> tuple[int, ...]:
        """One sample's shape, without the batch dimension."""
        return tuple(self.train_x.shape[1:])


Loader = Callable[[Path | None, bool], Dataset]


def register_dataset(name: str, **metadata: Any) -> Callable[[Loader], Loader]:
    """Register ``loader(data_dir, download) -> Dataset`` under ``name``."""
    return DATASETS.register("data", name, **metadata)


def load_dataset(name: str, data_dir: str | Path | None = None, download: bool = True) -> Dataset:
    """The dataset ``name``, from ``data_dir`` when given (else its usual places)."""
    loader = DATASETS.get("data", name).obj
    return loader(Path(data_dir) if data_dir is not None else None, download)


def dataset_names() -> list[str]:
    """Every registered dataset name, in natural order."""
    return [info.name for info in DATASETS.list(family="data")]
