"""The filter-bank module behind the ``filter`` blocks other than plain ``conv``.

``FilterBank`` holds what every filter bank shares -- the ``Geometry`` (its
``kernel_size``, ``stride``, ``padding``, ``dilation`` and ``groups`` exposed as
torch's convolutions do, so the summary finds the receptive field; a padding
mode other than zeros pads the input with ``F.pad`` before the sweep), a per-map
bias and the choice of operator -- and asks a subclass for its kernel
``[out, in/groups, *kernel]``. That split lets the kernel come from a learned
tensor (with or without a connection table), from a tensor several layers share,
or from a generator network, while the same code sweeps it over the input:
torch's correlation, the hand-written unfold version, or either with the kernel
flipped (true convolution).
"""

from __future__ import annotations

import math
from abc import ABCMeta, abstractmethod
from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F

from convzoo.blocks._connections import connection_table
from convzoo.blocks._geometry import Geometry, Size
from convzoo.blocks._unfold import same_padding, unfold_correlate
from convzoo.blocks._util import by_dims, positive_int


def check_maps(in_channels: int, out: int, groups: int) -> None:
    """``out`` is a positive integer and ``groups`` divides both map counts."""
    positive_int(out, "out (the number of output maps)")
    if in_channels % groups or out % groups:
        raise ValueError(
            f"groups={groups} must divide both the input maps ({in_channels}) and out ({out})"
        )


def _torch_correlate(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    stride: Size,
    padding: Size | Literal["same"],
    dilation: Size,
    groups: int,
) -> torch.Tensor:
    op = by_dims(weight.dim() - 2, F.conv1d, F.conv2d)
    return op(x, weight, bias, stride, padding, dilation, groups)


OPERATORS = {"torch": _torch_correlate, "unfold": unfold_correlate}


def explicit_padding(geometry: Geometry) -> tuple[int, ...]:
    """The padding as ``F.pad`` takes it: (before, after) per dimension, last dimension first."""
    if geometry.padding == "same":
        pairs = same_padding(geometry.kernel_size, geometry.dilation)
    else:
        pairs = tuple((p, p) for p in geometry.padding)
    return tuple(amount for pair in reversed(pairs) for amount in pair)


def geometry_repr(bank: nn.Module, *more: str) -> str:
    """A bank's maps and geometry as torch's convolutions print theirs (``more`` after the
    dilation), with the padding mode and groups where they are not the default."""
    text = ", ".join(
        [
            f"{bank.in_channels}, {bank.out_channels}, kernel_size={bank.kernel_size}",
            f"stride={bank.stride}, padding={bank.padding!r}, dilation={bank.dilation}",
            *more,
        ]
    )
    if bank.padding_mode != "zeros":
        text += f", padding_mode={bank.padding_mode!r}"
    if bank.groups != 1:
        text += f", groups={bank.groups}"
    return text


class FilterBank(nn.Module, metaclass=ABCMeta):
    """``out`` maps, each the (optionally flipped) kernel swept over the input, plus a bias.

    Subclasses provide ``kernel()``; ``operator`` picks torch's correlation or the
    unfold one; ``flip`` reverses every spatial axis of the kernel first, which
    turns cross-correlation into true convolution.
    """

    def __init__(
        self,
        in_channels: int,
        out: int,
        geometry: Geometry,
        operator: str = "torch",
        flip: bool = False,
    ) -> None:
        super().__init__()
        check_maps(in_channels, out, geometry.groups)
        self.kernel_size, self.stride = geometry.kernel_size, geometry.stride
        self.padding, self.dilation = geometry.padding, geometry.dilation
        self.dims, self.in_channels, self.out_channels = geometry.dims, in_channels, out
        self.groups, self.operator, self.flip = geometry.groups, operator, flip
        self.padding_mode, self._pads = geometry.padding_mode, explicit_padding(geometry)
        self.bias = nn.Parameter(torch.empty(out)) if geometry.bias else None

    @property
    def kernel_shape(self) -> Size:
        """``(out, in/groups, *kernel_size)``, the shape ``kernel()`` returns."""
        return (self.out_channels, self.in_channels // self.groups, *self.kernel_size)

    @abstractmethod
    def kernel(self) -> torch.Tensor:
        """The kernel ``[out, in/groups, *kernel_size]`` this bank applies."""

    def reset_bias(self, fan_in: int | Sequence[int]) -> None:
        """Uniform in +-1/sqrt(fan-in), per map when ``fan_in`` is a list (torch's default rule)."""
        if self.bias is None:
            return
        fans = [fan_in] * self.out_channels if isinstance(fan_in, int) else list(fan_in)
        bounds = torch.tensor([1 / math.sqrt(f) for f in fans], device=self.bias.device)
        with torch.no_grad():
            self.bias.uniform_(-1, 1).mul_(bounds.to(self.bias.dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Sweep the kernel (flipped for true convolution) over ``x`` and add the bias."""
        weight = self.kernel()
        if self.flip:
            weight = weight.flip(tuple(range(2, 2 + self.dims)))
        op = OPERATORS[self.operator]
        padding = self.padding
        if self.padding_mode != "zeros":
            x, padding = F.pad(x, self._pads, mode=self.padding_mode), (0,) * self.dims
        return op(x, weight, self.bias, self.stride, padding, self.dilation, self.groups)

    def extra_repr(self) -> str:
        text = geometry_repr(self)
        if self.bias is None:
            text += ", bias=False"
        if self.operator != "torch":
            text += f", operator={self.operator!r}"
        return text + (", flipped" if self.flip else "")


class LearnedBank(FilterBank):
    """A filter bank that learns its own kernels: all of them (``weight`` [out, in/groups, *k],
    like torch's convolutions) or, with a connection table, only the connected ones
    (``kernels`` [connections, *k], scattered into a zero kernel for the others)."""

    index: torch.Tensor  # a buffer, with a connection table

    def __init__(
        self,
        in_channels: int,
        out: int,
        geometry: Geometry,
        connections: str | Sequence[Sequence[int]] | None = None,
        operator: str = "torch",
        flip: bool = False,
    ) -> None:
        super().__init__(in_channels, out, geometry, operator, flip)
        taps = math.prod(self.kernel_size)
        if connections is None:
            self.connections = None
            self.weight = nn.Parameter(torch.empty(self.kernel_shape))
            fans = [in_channels // self.groups * taps] * out
            self._reset(self.weight, fans, fans)
        else:
            self.connections = connection_table(connections, in_channels, out, self.groups)
            index = [o * in_channels + i for o, row in enumerate(self.connections) for i in row]
            self.register_buffer("index", torch.tensor(index, dtype=torch.long), persistent=False)
            self.kernels = nn.Parameter(torch.empty(len(index), *self.kernel_size))
            fans = [len(row) * taps for row in self.connections]
            self._reset(self.kernels, [f for f, r in zip(fans, self.connections) for _ in r], fans)

    def _reset(self, learned: nn.Parameter, rows: list[int], maps: list[int]) -> None:
        """Each learned kernel uniform in +-1/sqrt(fan-in of its ``rows`` entry); the bias too
        (fan-in per output map in ``maps``), as torch initializes its convolutions."""
        bound = torch.tensor([1 / math.sqrt(f) for f in rows])
        with torch.no_grad():
            shape = (-1, *(1,) * (learned.dim() - 1))
            learned.uniform_(-1, 1).mul_(bound.to(learned).view(shape))
        self.reset_bias(maps)

    def kernel(self) -> torch.Tensor:
        """``weight``, or the connected ``kernels`` placed in a kernel that is zero elsewhere."""
        if self.connections is None:
            return self.weight
        dense = self.kernels.new_zeros(self.out_channels * self.in_channels, *self.kernel_size)
        return dense.index_copy(0, self.index, self.kernels).view(self.kernel_shape)

    def multiply_adds(self, out_shape: Size) -> int:
        """Per sample, for the summary: each output position weighs the taps of the kernels it
        learns -- with a connection table only the connected ones, not the dense kernel's zeros."""
        out, per_group = self.kernel_shape[:2]
        kernels = out * per_group if self.connections is None else len(self.index)
        return math.prod(out_shape[1:]) * kernels * math.prod(self.kernel_size)

    def extra_repr(self) -> str:
        if self.connections is None:
            return super().extra_repr()
        total = self.out_channels * self.in_channels
        return super().extra_repr() + f", connections={len(self.index)}/{total}"
