"""The built-in blocks, one file per family; importing this package registers them."""

from convzoo.blocks import filters, heads, nonlinear, norm, pooling, residual

__all__ = ["filters", "heads", "nonlinear", "norm", "pooling", "residual"]
