"""Training: the LightningModule, the ``train`` helper and checkpoint loading."""

from convzoo.train.checkpoint import load, read_checkpoint
from convzoo.train.config import TrainConfig
from convzoo.train.fit import train
from convzoo.train.module import ConvzooModule

__all__ = ["ConvzooModule", "TrainConfig", "load", "read_checkpoint", "train"]
