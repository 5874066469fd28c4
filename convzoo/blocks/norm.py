"""Normalizations: rescale activations so that deep stacks train well."""

from __future__ import annotations

from torch import nn

from convzoo.registry import register


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
