"""Classifiers: turn the last feature maps into one score per class."""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import nn

from convzoo.blocks.nonlinear import create_act
from convzoo.registry import register


@register(
    "head",
    "linear",
    description="flatten, optional hidden fully connected layers, then logits",
    example={"hidden": [5]},
)
def linear(
    in_shape: tuple[int, ...],
    classes: int,
    hidden: Sequence[int] = (),
    activation: str = "relu",
    dropout: float = 0.0,
) -> nn.Module:
    """Flatten -> [Linear -> activation -> Dropout] per hidden width -> Linear(classes)."""
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    layers: list[nn.Module] = [nn.Flatten()]
    width = math.prod(in_shape)
    for units in hidden:
        layers += [nn.Linear(width, units), create_act(activation, units)]
        if dropout:
            layers.append(nn.Dropout(dropout))
        width = units
    layers.append(nn.Linear(width, classes))
    return nn.Sequential(*layers)
