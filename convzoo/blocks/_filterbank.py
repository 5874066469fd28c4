"""The filter-bank module behind the ``filter`` blocks other than plain ``conv``.

``FilterBank`` holds what every filter bank shares -- the geometry (``kernel_size``,
``stride``, ``padding``, ``dilation``, ``groups``, exposed as torch's convolutions
do, so the summary finds the receptive field), a per-map bias and the choice of
operator -- and asks a subclass for its kernel ``[out, in/groups, *kernel]``.
That split lets the kernel come from a learned tensor (with or without a
connection table), from a tensor several layers share, or from a generator
network, while the same code sweeps it over the input: torch's correlation, the
hand-written unfold version, or either with the kernel flipped (true convolution).
"""

from __future__ import annotations

import math
from abc import ABCMeta, abstractmethod
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from convzoo.blocks._connections import connection_table
from convzoo.blocks._unfold import unfold_correlate
from convzoo.blocks._util import as_size, by_dims

Size = tuple[int, ...]


def _tuple(value: int | Sequence[int], dims: int, what: str, least: int) -> Size:
    size = as_size(value, dims, what)
    size = (size,) * dims if isinstance(size, int) else size
    if any(v < least for v in size):
        raise ValueError(f"{what} must be at least {least} in every dimension, got {value!r}")
    return size


def geometry(
    dims: int,
    kernel: int | Sequence[int],
    stride: int | Sequence[int],
    padding: int | str | Sequence[int],
    dilation: int | Sequence[int],
) -> tuple[Size, Size, Size | str, Size]:
    """Checked ``(kernel, stride, padding, dilation)`` as tuples; ``padding`` may stay "same"."""
    by_dims(dims, 1, 2)
    kernel_size = _tuple(kernel, dims, "kernel", 1)
    strides = _tuple(stride, dims, "stride", 1)
    dilations = _tuple(dilation, dims, "dilation", 1)
    if padding == "valid":
        padding = 0
    if isinstance(padding, str):
        if padding != "same":
            raise ValueError(
                f"padding must be an integer, a list, 'same' or 'valid', got {padding!r}"
            )
        if any(s != 1 for s in strides):
            raise ValueError(
                f"padding 'same' keeps the size only with stride 1, got stride {stride!r}; "
                "give the padding as a number instead"
            )
        return kernel_size, strides, "same", dilations
    return kernel_size, strides, _tuple(padding, dims, "padding", 0), dilations


def check_maps(in_channels: int, out: int, groups: int) -> None:
    """``out`` and ``groups`` are positive integers and ``groups`` divides both map counts."""
    for what, value in (("out (the number of output maps)", out), ("groups", groups)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{what} must be a positive integer, got {value!r}")
    if in_channels % groups or out % groups:
        raise ValueError(
            f"groups={groups} must divide both the input maps ({in_channels}) and out ({out})"
        )


def _torch_correlate(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    stride: Size,
    padding: Size | str,
    dilation: Size,
    groups: int,
) -> torch.Tensor:
    op = by_dims(weight.dim() - 2, F.conv1d, F.conv2d)
    return op(x, weight, bias, stride, padding, dilation, groups)


OPERATORS = {"torch": _torch_correlate, "unfold": unfold_correlate}


class FilterBank(nn.Module, metaclass=ABCMeta):
    """``out`` maps, each the (optionally flipped) kernel swept over the input, plus a bias.

    Subclasses provide ``kernel()``; ``operator`` picks torch's correlation or the
    unfold one; ``flip`` reverses every spatial axis of the kernel first, which
    turns cross-correlation into true convolution.
    """

    def __init__(
        self,
        in_channels: int,
        dims: int,
        out: int,
        kernel: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        padding: int | str | Sequence[int] = 0,
        dilation: int | Sequence[int] = 1,
        groups: int = 1,
        bias: bool = True,
        operator: str = "torch",
        flip: bool = False,
    ) -> None:
        super().__init__()
        check_maps(in_channels, out, groups)
        self.kernel_size, self.stride, self.padding, self.dilation = geometry(
            dims, kernel, stride, padding, dilation
        )
        self.dims, self.in_channels, self.out_channels, self.groups = dims, in_channels, out, groups
        self.operator, self.flip = operator, flip
        self.bias = nn.Parameter(torch.empty(out)) if bias else None

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
        return op(x, weight, self.bias, self.stride, self.padding, self.dilation, self.groups)

    def extra_repr(self) -> str:
        text = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding!r}, dilation={self.dilation}"
        )
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.operator != "torch":
            text += f", operator={self.operator!r}"
        return text + (", flipped" if self.flip else "")


class LearnedBank(FilterBank):
    """A filter bank that learns its own kernels: all of them (``weight`` [out, in/groups, *k],
    like torch's convolutions) or, with a connection table, only the connected ones
    (``kernels`` [connections, *k], scattered into a zero kernel for the others)."""

    def __init__(
        self,
        in_channels: int,
        dims: int,
        out: int,
        kernel: int | Sequence[int],
        stride: int | Sequence[int] = 1,
        padding: int | str | Sequence[int] = 0,
        dilation: int | Sequence[int] = 1,
        groups: int = 1,
        bias: bool = True,
        connections: str | Sequence[Sequence[int]] | None = None,
        operator: str = "torch",
        flip: bool = False,
    ) -> None:
        super().__init__(
            in_channels, dims, out, kernel, stride, padding, dilation, groups, bias, operator, flip
        )
        taps = math.prod(self.kernel_size)
        if connections is None:
            self.connections = None
            self.weight = nn.Parameter(torch.empty(self.kernel_shape))
            fan_in = in_channels // groups * taps
            bound = torch.full((out,), 1 / math.sqrt(fan_in))
        else:
            self.connections = connection_table(connections, in_channels, out, groups)
            index = [o * in_channels + i for o, row in enumerate(self.connections) for i in row]
            self.register_buffer("index", torch.tensor(index, dtype=torch.long), persistent=False)
            self.kernels = nn.Parameter(torch.empty(len(index), *self.kernel_size))
            fan_in = [len(row) * taps for row in self.connections]
            bound = torch.tensor(
                [1 / math.sqrt(len(r) * taps) for r in self.connections for _ in r]
            )
        learned = self.weight if self.connections is None else self.kernels
        with torch.no_grad():
            shape = (-1, *(1,) * (learned.dim() - 1))
            learned.uniform_(-1, 1).mul_(bound.to(learned).view(shape))
        self.reset_bias(fan_in)

    def kernel(self) -> torch.Tensor:
        """``weight``, or the connected ``kernels`` placed in a kernel that is zero elsewhere."""
        if self.connections is None:
            return self.weight
        dense = self.kernels.new_zeros(self.out_channels * self.in_channels, *self.kernel_size)
        return dense.index_copy(0, self.index, self.kernels).view(self.kernel_shape)

    def extra_repr(self) -> str:
        if self.connections is None:
            return super().extra_repr()
        total = self.out_channels * self.in_channels
        return super().extra_repr() + f", connections={len(self.index)}/{total}"
