"""Small helpers shared by the block files: 1-D or 2-D classes, sizes, blocks inside blocks."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from torch import nn

from convzoo.errors import is_int
from convzoo.registry import REGISTRY, injectable

T = TypeVar("T")


def by_dims(dims: int, one: T, two: T) -> T:
    """``one`` for 1-D signals, ``two`` for 2-D images."""
    if dims not in (1, 2):
        raise ValueError(f"dims must be 1 or 2, got {dims}")
    return one if dims == 1 else two


def conv_class(dims: int) -> Callable[..., nn.Conv1d | nn.Conv2d]:
    """``nn.Conv1d`` or ``nn.Conv2d``, typed to take sizes as tuples of ``dims`` ints (torch's
    stubs ask for tuples of a fixed length, which a checker cannot see ``dims`` gives)."""
    one: Callable[..., nn.Conv1d | nn.Conv2d] = nn.Conv1d
    return by_dims(dims, one, nn.Conv2d)


def positive_int(value: Any, what: str) -> int:
    """``value`` itself when it is an integer of at least 1, else a ValueError naming ``what``."""
    if not is_int(value) or value < 1:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    return value


def as_size(value: int | Sequence[int], dims: int, what: str) -> int | tuple[int, ...]:
    """An int, or a list with one entry per spatial dimension (checked)."""
    if is_int(value):
        return value
    if isinstance(value, Sequence) and len(value) == dims and all(is_int(v) for v in value):
        return tuple(value)
    raise ValueError(f"{what} must be an integer or a list of {dims} integers, got {value!r}")


def sizes(value: int | Sequence[int], dims: int, what: str, minimum: int) -> tuple[int, ...]:
    """One integer per spatial dimension, each at least ``minimum``."""
    size = as_size(value, dims, what)
    per_dim = (size,) * dims if isinstance(size, int) else tuple(size)
    if any(v < minimum for v in per_dim):
        raise ValueError(f"{what} must be at least {minimum} in every dimension, got {value!r}")
    return per_dim


def make_block(family: str, name: str, in_shape: Sequence[int], dims: int) -> nn.Module:
    """A registered block with its default arguments, built for ``in_shape``.

    For blocks that contain others (a bypass's pre-activation): the block gets
    the injected values it asks for, as the assembler would give them.
    """
    factory = REGISTRY.get(family, name).obj
    available = {"in_channels": in_shape[0], "in_shape": tuple(in_shape), "dims": dims}
    return factory(**injectable(factory, available))
