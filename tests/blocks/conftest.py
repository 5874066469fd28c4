"""Helpers the block tests share: a one-off spec around some layers, a parameter count, and
for the pooling tests a single pooling layer, torch's max pooling and a fixed seed."""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import convzoo as cz


def net(*layers: dict[str, Any], input: tuple[int, ...] = (3, 8, 8)) -> dict[str, Any]:
    """A spec named ``t`` that runs ``layers`` on inputs of shape ``input``."""
    return {"name": "t", "input": list(input), "layers": list(layers)}


def n_params(module: nn.Module) -> int:
    """The number of parameters in ``module`` (each shared tensor once)."""
    return sum(p.numel() for p in module.parameters())


# -- poolings ------------------------------------------------------------------------

GLOBAL = ("global_max", "global_avg", "global_lp")
SHAPES = [(3, 12), (3, 12, 8)]


def block(name: str, shape: tuple[int, ...], **args):
    """The single pooling layer ``name`` built for inputs ``[C, *spatial]``."""
    spec = {"name": "t", "input": list(shape), "layers": [{"pool": name, **args}]}
    return cz.build(spec).layers[0]


def max_pool(x: torch.Tensor, k: int, stride: int | None = None, padding: int = 0):
    pool = F.max_pool1d if x.dim() == 3 else F.max_pool2d
    return pool(x, k, stride=stride, padding=padding)


@pytest.fixture
def torch_seed():
    """Seed torch's global generator with 0 (every pooling test starts from it)."""
    torch.manual_seed(0)
