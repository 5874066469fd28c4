"""Small helpers shared by the block files: picking the 1-D or 2-D torch class, tuples."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

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
