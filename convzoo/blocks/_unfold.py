"""Cross-correlation as unfold (im2col) + one matrix product, with no torch convolution.

Every output position's receptive window is cut out of the padded input with
``Tensor.unfold`` (a strided view per spatial dimension), the windows become
the rows of a matrix, and one batched matrix product with the flattened kernels
computes all output maps at once (Chellapilla et al. 2006). Written out like
this, stride, padding, dilation and groups are each one visible line, which is
the point of the ``unfold_conv`` block; it matches ``torch.nn.functional.conv*``.
Its output is always contiguous, whatever layout the matrix product leaves.
"""

from __future__ import annotations

import math
from types import EllipsisType
from typing import Literal

import torch
from torch.nn import functional as F


def same_padding(kernel: tuple[int, ...], dilation: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    """(before, after) per dimension so that stride 1 keeps the size; the odd pixel goes after,
    as torch's ``padding="same"`` does."""
    totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
    return tuple((t // 2, t - t // 2) for t in totals)


def windows(
    x: torch.Tensor,
    kernel: tuple[int, ...],
    stride: tuple[int, ...],
    padding: tuple[int, ...] | Literal["same"],
    dilation: tuple[int, ...],
) -> torch.Tensor:
    """Every window a kernel of size ``kernel`` sees in ``x`` padded with zeros:
    ``[N, C, *positions, *kernel]``, a strided view where no padding is needed."""
    pads = same_padding(kernel, dilation) if padding == "same" else tuple((p, p) for p in padding)
    x = F.pad(x, [amount for pair in reversed(pads) for amount in pair])
    for axis, (k, s, d) in enumerate(zip(kernel, stride, dilation)):
        span = d * (k - 1) + 1
        if x.shape[2 + axis] < span:
            raise ValueError(
                f"padded input size {x.shape[2 + axis]} is smaller than the dilated kernel "
                f"({span}) in spatial dimension {axis}"
            )
        x = x.unfold(2 + axis, span, s)  # appends the window as the last dimension
    taps: tuple[EllipsisType | slice, ...] = (..., *(slice(None, None, d) for d in dilation))
    return x[taps]  # keep every d-th tap


def unfold_correlate(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    stride: tuple[int, ...],
    padding: tuple[int, ...] | Literal["same"],
    dilation: tuple[int, ...],
    groups: int,
) -> torch.Tensor:
    """y[n, o, i] = sum_{c, j} w[o, c, j] x_pad[n, g(o) C/G + c, i stride + j dilation] + b[o]."""
    dims = weight.dim() - 2
    kernel = tuple(weight.shape[2:])
    out, per_group = weight.shape[:2]
    if x.dim() != dims + 2 or x.shape[1] != per_group * groups:
        raise ValueError(
            f"expected input [N, {per_group * groups}, ...] with {dims} spatial dimension(s), "
            f"got {list(x.shape)}"
        )
    x = windows(x, kernel, stride, padding, dilation)
    n, sizes = x.shape[0], tuple(x.shape[2 : 2 + dims])
    x = x.reshape(n, groups, per_group, *sizes, *kernel)
    order = (1, 0, *range(3, 3 + dims), 2, *range(3 + dims, 3 + 2 * dims))
    rows = x.permute(order).reshape(groups, n * math.prod(sizes), per_group * math.prod(kernel))
    kernels = weight.reshape(groups, out // groups, -1).transpose(1, 2)
    y = torch.matmul(rows, kernels)  # [groups, n * positions, out / groups]
    y = y.reshape(groups, n, *sizes, out // groups)
    # the product leaves the maps last in memory (channels-last); hand on the default layout
    # instead: fed channels-last, a following stride-3 1x1 conv's backward overruns a buffer
    # in oneDNN's AVX2 kernel and corrupts the heap (benchmarks/mkldnn_crash.py)
    y = y.permute(1, 0, 2 + dims, *range(2, 2 + dims)).reshape(n, out, *sizes).contiguous()
    if bias is not None:
        y = y + bias.view(1, out, *(1,) * dims)
    return y
