"""The argument checks of the robustness and equivariance measures, each written once.

Every measure refuses what it cannot measure -- samples of the wrong shape,
labels that do not match them, a scale, shift or batch size out of range, a
network that convzoo did not build -- with a ``ConvzooError`` that says which
value is wrong and what range it must be in, so the measures of one module and
the other word the same mistake the same way. A setting's own range is
``EvaluateConfig``'s; what depends on the data (a shift below half the input) is
checked here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from convzoo import settings as declared
from convzoo.assemble import ConvNet
from convzoo.errors import ConvzooError, is_int
from convzoo.evaluate.config import EvaluateConfig


def check_data(x: torch.Tensor, y: torch.Tensor | None = None) -> None:
    """Samples [N, C, L] or [N, C, H, W] with N > 0 and, when given, one label per sample."""
    if not isinstance(x, torch.Tensor) or x.dim() not in (3, 4) or len(x) == 0:
        got = list(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ConvzooError(
            f"the samples must be a non-empty tensor [N, C, L] or [N, C, H, W], got {got}"
        )
    if y is not None and (not isinstance(y, torch.Tensor) or tuple(y.shape) != (len(x),)):
        got = list(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
        raise ConvzooError(f"the labels must be a tensor [{len(x)}] (one per sample), got {got}")


def _declared(name: str, value: Any) -> None:
    """A value ``EvaluateConfig`` takes for the setting ``name``."""
    wrong = declared.problem(EvaluateConfig, name, value)
    if wrong:
        raise ConvzooError(f"{name}: {wrong}")


def check_batch_size(batch_size: int) -> None:
    """A positive integer."""
    _declared("batch_size", batch_size)


def check_scales(scales: Sequence[float]) -> list[float]:
    """A non-empty list of distinct numbers in (0, MAX_SCALE], as floats."""
    if isinstance(scales, (str, bytes)) or not isinstance(scales, Sequence) or not scales:
        raise ConvzooError(f"scales must be a non-empty list of numbers, got {scales!r}")
    _declared("scales", tuple(scales))
    return [float(s) for s in scales]


def _half_limit(size: int) -> int:
    """The largest shift below half of ``size`` pixels."""
    return (size - 1) // 2


def check_max_shift(max_shift: int, x: torch.Tensor) -> int:
    """An integer from 0 to below half the samples' smallest spatial size."""
    size = min(x.shape[2:])
    if not is_int(max_shift) or not 0 <= max_shift <= _half_limit(size):
        raise ConvzooError(
            f"max_shift {max_shift!r} is out of range: it must be an integer in "
            f"[0, {_half_limit(size)}], below half the input's size {list(x.shape[2:])}"
        )
    return max_shift


def check_shifts(shifts: Sequence[int], x: torch.Tensor) -> list[int]:
    """Integers from 1 to below half the samples' length along the last axis."""
    size = x.shape[-1]
    if isinstance(shifts, (str, bytes)) or not isinstance(shifts, Sequence):
        raise ConvzooError(f"shifts must be a list of positive integers, got {shifts!r}")
    for s in shifts:
        if not is_int(s) or not 1 <= s <= _half_limit(size):
            raise ConvzooError(
                f"shift {s!r} is out of range: each shift must be a positive integer in "
                f"[1, {_half_limit(size)}], below half the input's length {size}"
            )
    return list(shifts)


def check_convnet(model: nn.Module) -> ConvNet:
    """A network built by convzoo, whose layers and spec the equivariance measure reads."""
    if not isinstance(model, ConvNet):
        raise ConvzooError(
            f"equivariance needs a network built by convzoo (a ConvNet, with its layers and "
            f"spec), got {type(model).__name__}"
        )
    return model
