"""Normalizations: rescale activations so that deep stacks train well.

``batch`` normalizes over the batch; ``group``, ``layer`` and ``instance`` over
parts of each sample alone (the same in training and evaluation); ``none`` is
the ablation; ``lcn`` is the fixed local contrast normalization of the classic
multi-stage convnets (Jarrett et al. 2009), a local operation in space and
across maps with no parameters. On the flat ``[F]`` shape after a flatten,
``batch``, ``group``, ``layer`` and ``none`` treat the features as channels;
``instance`` and ``lcn`` need positions and refuse it.
"""

from __future__ import annotations

import math

from torch import nn

from convzoo.blocks._lcn import LocalContrastNorm
from convzoo.blocks._util import positive_int
from convzoo.errors import is_number
from convzoo.registry import register


def _check_eps(eps: float) -> None:
    if not is_number(eps) or not eps > 0:
        raise ValueError(f"eps must be a positive number (added for stability), got {eps!r}")


def _positions(in_shape: tuple[int, ...], block: str) -> int:
    """The number of positions per channel; a flat ``[F]`` input has none and is refused."""
    if len(in_shape) < 2:
        raise ValueError(
            f"{block} normalization needs positions ([C, L] or [C, H, W]), got the flat "
            f"shape {list(in_shape)}; place it before the flatten, or use norm 'layer' or 'batch'"
        )
    return math.prod(in_shape[1:])


@register(
    "norm",
    "batch",
    description="batch normalization per channel",
    reference="Ioffe & Szegedy 2015",
    example={},
)
def batch(
    in_channels: int,
    in_shape: tuple[int, ...],
    eps: float = 1e-5,
    momentum: float = 0.1,
    affine: bool = True,
) -> nn.Module:
    """Normalize each channel over batch and positions; after a flatten, over the batch."""
    cls = nn.BatchNorm2d if len(in_shape) == 3 else nn.BatchNorm1d
    return cls(in_channels, eps=eps, momentum=momentum, affine=affine)


@register(
    "norm",
    "group",
    description="group normalization: per sample over each group of channels and all positions",
    reference="Wu & He 2018, Group normalization",
    example={"num_groups": 3},
)
def group(
    in_channels: int, num_groups: int | None = None, eps: float = 1e-5, affine: bool = True
) -> nn.Module:
    """Split the channels into ``num_groups`` groups; normalize each per sample; affine per
    channel. ``num_groups`` must divide the channel count; by default it is the largest
    divisor up to 32 (the paper's 32 where the channels allow), so a swap to ``group``
    works on any width."""
    _check_eps(eps)
    if num_groups is None:
        num_groups = max(d for d in range(1, min(32, in_channels) + 1) if in_channels % d == 0)
    positive_int(num_groups, "num_groups")
    if in_channels % num_groups:
        divisors = [d for d in range(1, in_channels + 1) if in_channels % d == 0]
        raise ValueError(
            f"num_groups={num_groups} does not divide the {in_channels} channels; "
            f"use one of {', '.join(map(str, divisors))}"
        )
    return nn.GroupNorm(num_groups, in_channels, eps=eps, affine=affine)


@register(
    "norm",
    "layer",
    description="layer normalization: per sample over all channels and positions",
    reference="Ba, Kiros & Hinton 2016, Layer normalization",
    example={},
)
def layer(in_channels: int, eps: float = 1e-5, affine: bool = True) -> nn.Module:
    """Normalize each sample over all its channels and positions, then scale and shift per
    channel (group normalization with one group, so the affine is per channel, not per pixel)."""
    _check_eps(eps)
    return nn.GroupNorm(1, in_channels, eps=eps, affine=affine)


@register(
    "norm",
    "instance",
    description="instance normalization: per sample and per channel over the positions",
    reference="Ulyanov, Vedaldi & Lempitsky 2016, Instance normalization: the missing "
    "ingredient for fast stylization",
    example={},
)
def instance(
    in_channels: int, in_shape: tuple[int, ...], eps: float = 1e-5, affine: bool = True
) -> nn.Module:
    """Normalize each channel of each sample over its positions; ``affine`` adds a learned
    scale and shift per channel. No running statistics: training and evaluation agree."""
    _check_eps(eps)
    if _positions(in_shape, "instance") < 2:
        raise ValueError(
            f"instance normalization of input {list(in_shape)} has one position per channel, "
            "so every output would be 0; use it where the maps are larger than 1"
        )
    cls = nn.InstanceNorm2d if len(in_shape) == 3 else nn.InstanceNorm1d
    return cls(in_channels, eps=eps, affine=affine)


@register(
    "norm",
    "none",
    description="no normalization (identity), for ablations",
    reference="standard (no transformation)",
    example={},
)
def none() -> nn.Module:
    """The identity: swap a network's norms for this to measure what they bring."""
    return nn.Identity()


@register(
    "norm",
    "lcn",
    description="local contrast normalization: subtract the local Gaussian mean over space and "
    "maps, divide by max(local deviation, its mean)",
    reference="Jarrett, Kavukcuoglu, Ranzato & LeCun 2009, What is the best multi-stage "
    "architecture for object recognition?",
    example={},
)
def lcn(
    in_channels: int,
    in_shape: tuple[int, ...],
    kernel: int = 9,
    sigma: float = 2.0,
    eps: float = 1e-4,
) -> nn.Module:
    """Fixed local contrast normalization with a ``kernel``-wide Gaussian window of std
    ``sigma`` (see ``LocalContrastNorm``); ``eps`` is the smallest divisor."""
    _positions(in_shape, "lcn")
    _check_eps(eps)
    return LocalContrastNorm(in_channels, len(in_shape) - 1, kernel=kernel, sigma=sigma, eps=eps)
