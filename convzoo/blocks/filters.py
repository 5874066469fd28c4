"""Filter banks: the convolution layers that sweep learned kernels over the input."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from convzoo.blocks._util import as_size, by_dims
from convzoo.registry import register


@register(
    "filter",
    "conv",
    description="cross-correlation filter bank (torch's ConvNd): stride, padding, dilation, groups",
    reference="LeCun et al. 1989, Backpropagation applied to handwritten zip code recognition",
    example={"out": 4, "kernel": 3},
)
def conv(
    in_channels: int,
    dims: int,
    out: int,
    kernel: int | Sequence[int],
    stride: int | Sequence[int] = 1,
    padding: int | str | Sequence[int] = 0,
    dilation: int | Sequence[int] = 1,
    groups: int = 1,
    bias: bool = True,
) -> nn.Module:
    """y[i, j] = sum_kl w[k, l] x[i + k, j + l] + b: ``out`` maps of ``kernel``-sized filters."""
    if not isinstance(padding, str):
        padding = as_size(padding, dims, "padding")
    cls = by_dims(dims, nn.Conv1d, nn.Conv2d)
    return cls(
        in_channels,
        out,
        as_size(kernel, dims, "kernel"),
        stride=as_size(stride, dims, "stride"),
        padding=padding,
        dilation=as_size(dilation, dims, "dilation"),
        groups=groups,
        bias=bias,
    )
