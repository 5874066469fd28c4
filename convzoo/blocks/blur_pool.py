"""Anti-aliased downsampling (Zhang 2019): low-pass filter before subsampling.

Max pooling with stride 2 subsamples without low-pass filtering, so shifting the
input by one pixel can change its output a lot (aliasing). Zhang's fix keeps the
dense part of the operation (max over each window at stride 1) and moves the
stride into a fixed binomial blur: MaxBlurPool. ``blur`` builds it as an
``nn.Sequential`` of the stride-1 pre-op and ``Blur``, both with
``kernel_size``/``stride`` attributes, so the summary's receptive field is
right; ``pre: none`` is the plain blur-then-subsample. The blur is a convolution, so
the summary counts its FLOPs, as it counts any convolution's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from convzoo.blocks._util import by_dims, sizes
from convzoo.blocks._windows import check_padding, check_rank
from convzoo.errors import is_int
from convzoo.registry import register

PRE_OPS = ("max", "avg", "none")


def binomial_filter(size: int, dims: int) -> torch.Tensor:
    """The normalized binomial low-pass filter: row ``size - 1`` of Pascal's triangle / its
    sum ([1, 2, 1] / 4 for size 3); in 2-D the outer product of two rows. It sums to 1."""
    if not is_int(size) or size < 1:
        raise ValueError(f"filter_size must be a positive integer (3 is the default), got {size!r}")
    taps = torch.tensor([math.comb(size - 1, i) for i in range(size)], dtype=torch.float64)
    taps = taps / taps.sum()
    return taps if dims == 1 else taps[:, None] * taps[None, :]


class Blur(nn.Module):
    """Depthwise binomial blur of every map (reflect padding), then subsampling by ``stride``.

    The padding keeps the grid (before subsampling), so the output has ceil(size /
    stride) positions per dimension; ``padding`` is the part before the first position
    (what the summary needs), ``pad`` both parts as ``F.pad`` takes them. The filter is a
    buffer, not a parameter.
    """

    weight: torch.Tensor  # a buffer

    def __init__(
        self, in_channels: int, dims: int, filter_size: int = 3, stride: int | Sequence[int] = 2
    ) -> None:
        super().__init__()
        self.conv = by_dims(dims, F.conv1d, F.conv2d)
        self.dims = dims
        kernel = binomial_filter(filter_size, dims)
        weight = kernel.to(torch.get_default_dtype()).expand(in_channels, 1, *kernel.shape)
        self.register_buffer("weight", weight.clone(), persistent=False)
        self.kernel_size = (filter_size,) * dims
        self.stride = sizes(stride, dims, "stride", 1)
        self.padding = ((filter_size - 1) // 2,) * dims
        self.pad = [self.padding[0], filter_size // 2] * dims

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Blur each map, then keep every ``stride``-th position."""
        check_rank(x, self.dims)
        if any(size <= max(self.pad) for size in x.shape[2:]):
            raise ValueError(
                f"reflect padding of {max(self.pad)} needs more than {max(self.pad)} positions "
                f"per dimension, got {list(x.shape[2:])}; use a smaller filter_size"
            )
        x = F.pad(x, self.pad, mode="reflect")
        return self.conv(x, self.weight, stride=self.stride, groups=self.weight.shape[0])

    def extra_repr(self) -> str:
        return f"filter_size={self.kernel_size[0]}, stride={self.stride}"


@register(
    "pool",
    "blur",
    description="anti-aliased pooling: dense max (or avg) over each window at stride 1, "
    "then binomial blur and subsampling (MaxBlurPool); pre: none blurs and subsamples",
    reference="Zhang 2019, Making convolutional networks shift-invariant again",
    example={"kernel": 2},
)
def blur(
    in_channels: int,
    dims: int,
    pre: str = "max",
    kernel: int | Sequence[int] | None = None,
    stride: int | Sequence[int] = 2,
    padding: int | Sequence[int] = 0,
    filter_size: int = 3,
) -> nn.Module:
    """``pre`` over ``kernel``-sized windows (default 2) at stride 1, then ``Blur``.

    With the defaults it replaces ``{pool: max, kernel: 2}`` and gives the same
    output size: max pooling's for the same kernel, stride and padding.
    """
    if pre not in PRE_OPS:
        raise ValueError(f"pre must be one of {', '.join(PRE_OPS)}, got {pre!r}")
    low_pass = Blur(in_channels, dims, filter_size, stride)
    pad = sizes(padding, dims, "padding", 0)
    if pre == "none":
        if kernel is not None or any(pad):
            raise ValueError(
                "pre: none blurs the input directly and has no window; drop kernel and padding, "
                "or use pre: max or pre: avg"
            )
        return low_pass
    window = sizes(2 if kernel is None else kernel, dims, "kernel", 1)
    check_padding(pad, window)
    dense = (
        by_dims(dims, nn.MaxPool1d, nn.MaxPool2d)
        if pre == "max"
        else by_dims(dims, nn.AvgPool1d, nn.AvgPool2d)
    )
    return nn.Sequential(dense(window, stride=1, padding=pad), low_pass)
