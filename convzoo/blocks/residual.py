"""Residual bypasses: y = body(x) + shortcut(x), around a nested body of layers.

The shortcut is the identity when the body keeps the shape, and a projection
(1x1 convolution with the body's stride, then a normalization) when the
channels or the grid change -- chosen automatically (`identity`) or forced
(`projection`). With ``preact: true`` the block uses the pre-activation order of
He et al. 2016b ("Identity mappings in deep residual networks"): x is normalized
and activated first, the body sees that, and a projection shortcut does too,
while an identity shortcut carries x itself. An activation after the sum is the
next layer of the spec, so that a swap of the ``act`` family reaches it like
every other activation. ``antialias: N`` makes a subsampling projection blur
first (a binomial filter of size N, then the subsampling) and apply its 1x1
convolution at stride 1, as Zhang 2019's anti-aliased ResNets do, so that the
shortcut aliases no more than the body.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from convzoo.blocks._util import conv_class, make_block
from convzoo.blocks.blur_pool import Blur
from convzoo.registry import register


def _stride_between(size_in: int, size_out: int) -> int:
    """The stride s with ceil(size_in / s) == size_out, which a 1x1 convolution needs."""
    stride = max(1, math.ceil(size_in / size_out))
    if math.ceil(size_in / stride) != size_out:
        raise ValueError(
            f"no 1x1 projection maps size {size_in} to size {size_out}; make the body's "
            "output size the input size divided by its stride"
        )
    return stride


class Bypass(nn.Module):
    """The body as ``layers``, the shortcut as ``shortcut`` and, pre-activated, ``pre``."""

    def __init__(
        self,
        layers: nn.Module,
        in_shape: tuple[int, ...],
        body_shape: tuple[int, ...],
        dims: int,
        force_projection: bool,
        projection_norm: str | None,
        preact: bool,
        pre_norm: str,
        pre_activation: str,
        antialias: int | None = None,
    ) -> None:
        super().__init__()
        if len(body_shape) != len(in_shape) or len(in_shape) != dims + 1:
            raise ValueError(
                f"the body maps {list(in_shape)} to {list(body_shape)}: a bypass needs "
                "feature maps of the same rank on both sides"
            )
        self.layers = layers
        self.pre: nn.Module | None = None
        if preact:
            self.pre = nn.Sequential(
                make_block("norm", pre_norm, in_shape=in_shape, dims=dims),
                make_block("act", pre_activation, in_shape=in_shape, dims=dims),
            )
        self.projects = force_projection or tuple(in_shape) != tuple(body_shape)
        if not self.projects:
            self.shortcut: nn.Module = nn.Identity()
        else:
            stride = tuple(_stride_between(i, o) for i, o in zip(in_shape[1:], body_shape[1:]))
            conv = conv_class(dims)
            parts: list[nn.Module] = []
            if antialias is not None and any(s > 1 for s in stride):
                parts.append(Blur(in_shape[0], dims, antialias, stride))
                stride = (1,) * dims
            parts.append(conv(in_shape[0], body_shape[0], 1, stride=stride, bias=False))
            if projection_norm is not None:
                parts.append(make_block("norm", projection_norm, in_shape=body_shape, dims=dims))
            self.shortcut = nn.Sequential(*parts)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """body(x) + shortcut(x), with x pre-activated where the order asks for it."""
        if self.pre is None:
            return self.layers(x) + self.shortcut(x)
        activated = self.pre(x)
        return self.layers(activated) + self.shortcut(activated if self.projects else x)


_BODY = [{"filter": "conv", "out": 3, "kernel": 3, "padding": 1}]
_HE = "He et al. 2016, Deep residual learning for image recognition"


def _bypass_factory(force_projection: bool) -> Callable[..., nn.Module]:
    def bypass(
        layers: nn.Module,
        in_shape: tuple[int, ...],
        body_shape: tuple[int, ...],
        dims: int,
        preact: bool = False,
        pre_norm: str = "batch",
        pre_activation: str = "relu",
        projection_norm: str | None = "batch",
        antialias: int | None = None,
    ) -> nn.Module:
        return Bypass(
            layers,
            in_shape,
            body_shape,
            dims,
            force_projection,
            projection_norm,
            preact,
            pre_norm,
            pre_activation,
            antialias,
        )

    return bypass


register(
    "residual",
    "identity",
    _bypass_factory(False),
    description="identity shortcut; a 1x1 projection when channels or stride change",
    reference=_HE,
    example={"layers": _BODY},
)
register(
    "residual",
    "projection",
    _bypass_factory(True),
    description="projection shortcut (1x1 conv + norm), always",
    reference=_HE,
    example={"layers": _BODY},
)
