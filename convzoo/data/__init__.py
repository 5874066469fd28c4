"""Datasets by name, device-resident batching, and the LightningDataModule.

from convzoo.data import DataModule, load_dataset, dataset_names

``DataModule`` and ``Batching``, what it hands the training step, are imported on
first use (``convzoo.lazy``), so that listing the datasets does not import Lightning.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from convzoo.data import sources, windows
from convzoo.data.catalog import DATASETS, Dataset, dataset_names, load_dataset, register_dataset
from convzoo.data.idx import DataError
from convzoo.data.resident import ResidentLoader
from convzoo.data.strips import make_strips, paste, strip_layout
from convzoo.data.transforms import Augment, fit_canvas, permute_pixels, pixel_permutation, warp
from convzoo.lazy import lazy_exports

if TYPE_CHECKING:
    from convzoo.data.module import Batching, DataModule

lazy_exports(__name__, {"Batching": "convzoo.data.module", "DataModule": "convzoo.data.module"})

__all__ = [
    "DATASETS",
    "Augment",
    "Batching",
    "DataError",
    "DataModule",
    "Dataset",
    "ResidentLoader",
    "dataset_names",
    "fit_canvas",
    "load_dataset",
    "make_strips",
    "paste",
    "permute_pixels",
    "pixel_permutation",
    "register_dataset",
    "sources",
    "strip_layout",
    "warp",
    "windows",
]
