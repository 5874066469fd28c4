"""Helpers the block tests share: a one-off spec around some layers, a parameter count."""

from __future__ import annotations

from typing import Any

from torch import nn


def net(*layers: dict[str, Any], input: tuple[int, ...] = (3, 8, 8)) -> dict[str, Any]:
    """A spec named ``t`` that runs ``layers`` on inputs of shape ``input``."""
    return {"name": "t", "input": list(input), "layers": list(layers)}


def n_params(module: nn.Module) -> int:
    """The number of parameters in ``module`` (each shared tensor once)."""
    return sum(p.numel() for p in module.parameters())
