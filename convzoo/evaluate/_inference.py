"""Running a model to measure it: eval mode, no gradients, inputs on its device and dtype.

Both the accuracy measures and the equivariance measure run the model this way;
the context restores the model's training mode afterwards, so measuring a
network in the middle of training leaves it as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

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
