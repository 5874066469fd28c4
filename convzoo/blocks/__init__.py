"""The built-in blocks, one file per family; importing this package registers them."""

from convzoo.blocks import (
    blur_pool,
    capsule,
    capsule_head,
    filters,
    global_pooling,
    heads,
    nonlinear,
    norm,
    pooling,
    residual,
)

__all__ = [
    "blur_pool",
    "capsule",
    "capsule_head",
    "filters",
    "global_pooling",
    "heads",
    "nonlinear",
    "norm",
    "pooling",
    "residual",
]
