"""Feature pooling: summarize each window of a map, usually with a stride."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from convzoo.blocks._util import as_size, by_dims
from convzoo.registry import register


@register("pool", "max", description="maximum over each window", example={"kernel": 2})
def max_pool(
    dims: int,
    kernel: int | Sequence[int],
    stride: int | Sequence[int] | None = None,
    padding: int | Sequence[int] = 0,
    dilation: int | Sequence[int] = 1,
    ceil_mode: bool = False,
) -> nn.Module:
    """Max pooling; ``stride`` defaults to ``kernel`` (non-overlapping windows)."""
    cls = by_dims(dims, nn.MaxPool1d, nn.MaxPool2d)
    return cls(
        as_size(kernel, dims, "kernel"),
        stride=None if stride is None else as_size(stride, dims, "stride"),
        padding=as_size(padding, dims, "padding"),
        dilation=as_size(dilation, dims, "dilation"),
        ceil_mode=ceil_mode,
    )


@register("pool", "avg", description="mean over each window", example={"kernel": 2})
def avg_pool(
    dims: int,
    kernel: int | Sequence[int],
    stride: int | Sequence[int] | None = None,
    padding: int | Sequence[int] = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> nn.Module:
    """Average pooling; ``stride`` defaults to ``kernel``."""
    cls = by_dims(dims, nn.AvgPool1d, nn.AvgPool2d)
    return cls(
        as_size(kernel, dims, "kernel"),
        stride=None if stride is None else as_size(stride, dims, "stride"),
        padding=as_size(padding, dims, "padding"),
        ceil_mode=ceil_mode,
        count_include_pad=count_include_pad,
    )
