"""Training: the LightningModule, the ``train`` helper and checkpoint loading.

The names are imported on first use (``convzoo.lazy``): ``convzoo.train.config``,
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
