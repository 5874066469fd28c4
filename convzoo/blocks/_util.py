"""Small helpers shared by the block files: 1-D or 2-D classes, sizes, blocks inside blocks."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any, TypeVar

from torch import nn

from convzoo.registry import REGISTRY

T = TypeVar("T")


def by_dims(dims: int, one: T, two: T) -> T:
    """``one`` for 1-D signals, ``two`` for 2-D images."""
    if dims not in (1, 2):
        raise ValueError(f"dims must be 1 or 2, got {dims}")
    return one if dims == 1 else two


def as_size(value: int | Sequence[int], dims: int, what: str) -> int | tuple[int, ...]:
    """An int, or a list with one entry per spatial dimension (checked)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if (
        isinstance(value, Sequence)
        and len(value) == dims
        and all(isinstance(v, int) for v in value)
    ):
        return tuple(value)
    raise ValueError(f"{what} must be an integer or a list of {dims} integers, got {value!r}")


def make_block(family: str, name: str, in_shape: Sequence[int], dims: int) -> nn.Module:
    """A registered block with its default arguments, built for ``in_shape``.

    For blocks that contain others (a bypass's pre-activation): the block gets
    the injected values it asks for, as the assembler would give them.
    """
    factory = REGISTRY.get(family, name).obj
    available: dict[str, Any] = {
        "in_channels": in_shape[0],
        "in_shape": tuple(in_shape),
        "dims": dims,
    }
    params = inspect.signature(factory).parameters
    return factory(**{k: v for k, v in available.items() if k in params})
