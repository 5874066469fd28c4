"""Running a model to measure it: what a measure runs on, and eval mode, no gradients,
inputs on the model's device and dtype.

Every measure of the table (``measures``) is given the same ``Inputs``. The
accuracy measures and the equivariance measure run the model in ``inference``;
the context restores the model's training mode afterwards, so measuring a
network in the middle of training leaves it as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn

from convzoo.assemble import ConvNet
from convzoo.evaluate.config import EvaluateConfig


@dataclass(frozen=True)
class Inputs:
    """What a measure runs on: a network built by convzoo, the test samples and their labels,
    the background value ``fill`` that uncovered pixels get, and the settings (checked
    against the samples: ``max_shift`` fits them)."""

    model: ConvNet
    x: torch.Tensor
    y: torch.Tensor
    fill: float
    config: EvaluateConfig


Place = Callable[[torch.Tensor], torch.Tensor]  # a batch -> the same on the model's device/dtype


def _placement(model: nn.Module) -> tuple[torch.device, torch.dtype | None]:
    """The model's device and floating dtype (CPU and None for a model without tensors)."""
    tensors = [*model.parameters(), *model.buffers()]
    device = tensors[0].device if tensors else torch.device("cpu")
    floating = [t.dtype for t in tensors if t.is_floating_point()]
    return device, floating[0] if floating else None


@contextmanager
def inference(model: nn.Module) -> Iterator[Place]:
    """Eval mode and no gradients, yielding what moves a batch to the model's device and
    floating dtype; the training mode is restored afterwards."""
    device, dtype = _placement(model)

    def place(batch: torch.Tensor) -> torch.Tensor:
        batch = batch.to(device)
        return batch if dtype is None else batch.to(dtype)

    training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield place
    finally:
        model.train(training)
