"""The geometry of a filter bank -- how its kernels sweep the input -- checked once.

Every ``filter`` block that sweeps kernels takes the same spec arguments for it:
``kernel``, ``stride``, ``padding``, ``padding_mode`` (what the padding holds:
zeros, or the input continued circularly, mirrored or repeated -- circular
padding makes a stride-1 bank exactly equivariant to circular shifts),
``dilation``, ``groups`` and ``bias``.
``Geometry.from_spec`` is the one place they are declared (names, defaults) and
checked; ``takes_geometry`` gives a factory those parameters in its signature --
which the assembler reads to match spec arguments and to list the accepted ones --
and hands the factory the built ``Geometry`` instead. A bank class then takes one
frozen value, not six loose arguments.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from convzoo.blocks._util import by_dims, positive_int, sizes

Size = tuple[int, ...]
Ints = int | Sequence[int]
T = TypeVar("T")
PADDING_MODES = ("zeros", "circular", "reflect", "replicate")


def _padding(
    padding: int | str | Sequence[int], stride: Ints, strides: Size, dims: int
) -> Size | Literal["same"]:
    """Padding per dimension, or "same" (which keeps the size only at stride 1)."""
    if padding == "valid":
        padding = 0
    if not isinstance(padding, str):
        return sizes(padding, dims, "padding", 0)
    if padding != "same":
        raise ValueError(f"padding must be an integer, a list, 'same' or 'valid', got {padding!r}")
    if any(s != 1 for s in strides):
        raise ValueError(
            f"padding 'same' keeps the size only with stride 1, got stride {stride!r}; "
            "give the padding as a number instead"
        )
    return "same"


def _padding_mode(mode: str) -> str:
    if mode not in PADDING_MODES:
        raise ValueError(f"padding_mode must be one of {', '.join(PADDING_MODES)}, got {mode!r}")
    return mode


@dataclass(frozen=True)
class Geometry:
    """Checked kernel size, stride, padding (a tuple or "same"), dilation, groups, bias and
    padding mode."""

    kernel_size: Size
    stride: Size
    padding: Size | Literal["same"]
    dilation: Size
    groups: int
    bias: bool
    padding_mode: str = "zeros"

    @property
    def dims(self) -> int:
        """The number of spatial dimensions, 1 or 2."""
        return len(self.kernel_size)

    @classmethod
    def from_spec(
        cls,
        dims: int,
        kernel: Ints,
        stride: Ints = 1,
        padding: int | str | Sequence[int] = 0,
        dilation: Ints = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
    ) -> Geometry:
        """The geometry for ``dims`` spatial dimensions from the spec's values.

        Its parameters other than ``dims`` are the spec arguments of every block
        declared with ``takes_geometry``.
        """
        by_dims(dims, 1, 2)
        kernel_size = sizes(kernel, dims, "kernel", 1)
        strides = sizes(stride, dims, "stride", 1)
        dilations = sizes(dilation, dims, "dilation", 1)
        pad = _padding(padding, stride, strides, dims)
        groups = positive_int(groups, "groups")
        mode = _padding_mode(padding_mode)
        return cls(kernel_size, strides, pad, dilations, groups, bias, mode)


def takes_geometry(factory: Callable[..., T]) -> Callable[..., T]:
    """``factory`` with its parameter ``geometry`` replaced by those of ``Geometry.from_spec``.

    The returned factory's signature (``__signature__``, which ``inspect.signature``
    and so the assembler read) lists ``dims``, ``kernel``, ``stride``, ... in the
    place of ``geometry``; a call builds the ``Geometry`` from them and passes it on.
    """
    own = inspect.signature(factory)
    if "geometry" not in own.parameters:
        raise TypeError(f"{factory.__qualname__} must take a 'geometry' parameter")
    spec = list(inspect.signature(Geometry.from_spec).parameters.values())
    params = [q for p in own.parameters.values() for q in (spec if p.name == "geometry" else [p])]
    public = own.replace(parameters=params)

    @functools.wraps(factory)
    def build(*args: Any, **kwargs: Any) -> T:
        bound = public.bind(*args, **kwargs)
        bound.apply_defaults()
        values = dict(bound.arguments)
        geometry = Geometry.from_spec(**{p.name: values.pop(p.name) for p in spec})
        return factory(**values, geometry=geometry)

    build.__signature__ = public  # type: ignore[attr-defined]
    return build
