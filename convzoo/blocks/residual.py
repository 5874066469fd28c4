"""Residual bypasses: y = body(x) + shortcut(x), around a nested body of layers.

The shortcut is the identity when the body keeps the shape, and a projection
(1x1 convolution with the body's stride, then batch norm) when the channels or
the grid change -- chosen automatically, or forced with the ``projection`` block.
An activation after the sum is the next layer of the spec, so that a swap of
the ``act`` family reaches it like every other activation.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from convzoo.blocks._util import by_dims
from convzoo.registry import register


def _stride_between(size_in: int, size_out: int) -> int:
    """The stride s with ceil(size_in / s) == size_out, which a 1x1 convolution needs."""
    stride = max(1, math.ceil(size_in / size_out))
    if math.ceil(size_in / stride) != size_out:
        raise ValueError(f"no 1x1 projection maps size {size_in} to size {size_out}")
    return stride


class Bypass(nn.Module):
    """The body as ``layers`` and the shortcut as ``shortcut``, summed."""

    def __init__(
        self,
        layers: nn.Module,
        in_shape: tuple[int, ...],
        body_shape: tuple[int, ...],
        dims: int,
        projection: str,
    ) -> None:
        super().__init__()
        if projection not in ("auto", "always"):
            raise ValueError(f"projection must be 'auto' or 'always', got {projection!r}")
        if len(body_shape) != len(in_shape):
            raise ValueError(f"the body maps {list(in_shape)} to {list(body_shape)}: ranks differ")
        self.layers = layers
        if projection == "auto" and tuple(in_shape) == tuple(body_shape):
            self.shortcut: nn.Module = nn.Identity()
        else:
            stride = tuple(_stride_between(i, o) for i, o in zip(in_shape[1:], body_shape[1:]))
            conv = by_dims(dims, nn.Conv1d, nn.Conv2d)
            norm = by_dims(dims, nn.BatchNorm1d, nn.BatchNorm2d)
            self.shortcut = nn.Sequential(
                conv(in_shape[0], body_shape[0], 1, stride=stride, bias=False),
                norm(body_shape[0]),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """body(x) + shortcut(x)."""
        return self.layers(x) + self.shortcut(x)


_BODY = [{"filter": "conv", "out": 3, "kernel": 3, "padding": 1}]


@register(
    "residual",
    "identity",
    description="identity shortcut; a 1x1 projection when channels or stride change",
    reference="He et al. 2016, Deep residual learning for image recognition",
    example={"layers": _BODY},
)
def identity(
    layers: nn.Module,
    in_shape: tuple[int, ...],
    body_shape: tuple[int, ...],
    dims: int,
) -> nn.Module:
    """y = body(x) + x, projecting x only where the shapes demand it."""
    return Bypass(layers, in_shape, body_shape, dims, "auto")


@register(
    "residual",
    "projection",
    description="projection shortcut (1x1 conv + batch norm), always",
    reference="He et al. 2016, Deep residual learning for image recognition",
    example={"layers": _BODY},
)
def projection(
    layers: nn.Module,
    in_shape: tuple[int, ...],
    body_shape: tuple[int, ...],
    dims: int,
) -> nn.Module:
    """y = body(x) + norm(conv1x1(x))."""
    return Bypass(layers, in_shape, body_shape, dims, "always")
