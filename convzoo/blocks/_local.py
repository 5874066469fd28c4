"""The locally connected filter bank: a convolution's geometry without its weight sharing.

Every output position has a kernel of its own -- the same window, stride,
padding and dilation as ``conv``, so the two have equal receptive fields and
equal connections (LeNet's count of links), but ``positions`` times the weights.
It is the control of the lecture's claim that sharing weights across positions
makes a network learn faster and generalise better, and of the shift
equivariance sharing buys (LeCun 1989's Net-3 against Net-4 and Net-5).

The weight is ``[out, in/groups, *kernel, *positions]``: a ``conv``'s weight with
the output positions appended, so a conv's kernel copied to every position gives
the conv's output exactly. The bias is unshared too, one per map and position.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from convzoo.blocks._filterbank import check_maps, explicit_padding, geometry_repr
from convzoo.blocks._geometry import Geometry, Size
from convzoo.blocks._unfold import windows


def output_size(in_sizes: Sequence[int], geometry: Geometry) -> Size:
    """The output positions per spatial dimension, as torch's convolutions compute them."""
    g, pads = geometry, geometry.padding
    if isinstance(pads, str):  # "same", allowed at stride 1 only
        return tuple(in_sizes)
    sizes = tuple(
        (n + 2 * p - d * (k - 1) - 1) // s + 1
        for n, p, k, s, d in zip(in_sizes, pads, g.kernel_size, g.stride, g.dilation)
    )
    if any(n < 1 for n in sizes):
        raise ValueError(
            f"the input {list(in_sizes)} is smaller than the kernel {list(g.kernel_size)} "
            f"(dilation {list(g.dilation)}, padding {list(g.padding)}): no output position"
        )
    return sizes


class LocalBank(nn.Module):
    """``out`` maps, each output position weighing its own window with its own kernel."""

    def __init__(
        self, in_channels: int, in_sizes: Sequence[int], out: int, geometry: Geometry
    ) -> None:
        super().__init__()
        check_maps(in_channels, out, geometry.groups)
        self.kernel_size, self.stride = geometry.kernel_size, geometry.stride
        self.padding, self.dilation = geometry.padding, geometry.dilation
        self.dims, self.in_channels, self.out_channels = geometry.dims, in_channels, out
        self.groups, self.padding_mode = geometry.groups, geometry.padding_mode
        self._pads = explicit_padding(geometry)
        self.positions = output_size(in_sizes, geometry)
        per_group = in_channels // self.groups
        self.weight = nn.Parameter(torch.empty(out, per_group, *self.kernel_size, *self.positions))
        self.bias = nn.Parameter(torch.empty(out, *self.positions)) if geometry.bias else None
        bound = 1 / math.sqrt(per_group * math.prod(self.kernel_size))  # conv's fan-in rule
        with torch.no_grad():
            self.weight.uniform_(-bound, bound)
            if self.bias is not None:
                self.bias.uniform_(-bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """y[n, o, i] = sum_{c, j} w[o, c, j, i] x_pad[n, c, i stride + j dilation] + b[o, i]."""
        padding = self.padding
        if self.padding_mode != "zeros":
            x, padding = F.pad(x, self._pads, mode=self.padding_mode), (0,) * self.dims
        cut = windows(x, self.kernel_size, self.stride, padding, self.dilation)
        n, g, places = x.shape[0], self.groups, math.prod(self.positions)
        taps = math.prod(self.kernel_size)
        cut = cut.reshape(n, g, self.in_channels // g, places, taps)
        kernel = self.weight.reshape(g, self.out_channels // g, self.in_channels // g, taps, places)
        y = torch.einsum("ngcpk,gockp->ngop", cut, kernel).reshape(
            n, self.out_channels, *self.positions
        )
        return y if self.bias is None else y + self.bias

    def extra_repr(self) -> str:
        text = geometry_repr(self, f"positions={self.positions}")
        return text + (", bias=False" if self.bias is None else "")
