"""The locally connected bank: a conv's kernel at every position is the conv; each position's
kernel is its own; its parameters are counted exactly; a too-small input is one message."""

from __future__ import annotations

import math

import pytest
import torch

import convzoo as cz
from convzoo.spec import SpecError

GEOMETRIES = [
    {"kernel": 3},
    {"kernel": 3, "stride": 2, "padding": 1},
    {"kernel": 2, "dilation": 2, "padding": "same"},
    {"kernel": 3, "groups": 2, "padding": 1, "padding_mode": "circular"},
    {"kernel": 3, "bias": False},
]


def _pair(dims: int, geometry: dict) -> tuple[torch.nn.Module, torch.nn.Module]:
    """The same one-layer spec built with ``local`` and with ``conv``."""
    spec = {"name": "one", "input": [4] + [9] * dims, "layers": [{"out": 6, **geometry}]}
    spec["layers"][0]["filter"] = "local"
    local = cz.build(spec).layers[0]
    spec["layers"][0]["filter"] = "conv"
    return local, cz.build(spec).layers[0]


@pytest.mark.parametrize("dims", [1, 2])
@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_a_convs_kernel_at_every_position_is_the_conv(dims, geometry):
    local, conv = _pair(dims, geometry)
    spread = (1,) * dims
    with torch.no_grad():
        local.weight.copy_(conv.weight.reshape(*conv.weight.shape, *spread).expand_as(local.weight))
        if conv.bias is not None:
            local.bias.copy_(conv.bias.reshape(-1, *spread).expand_as(local.bias))
    x = torch.randn(3, 4, *[9] * dims)
    torch.testing.assert_close(local(x), conv(x), rtol=1e-5, atol=1e-5)


def test_each_position_has_a_kernel_of_its_own():
    local, _ = _pair(2, {"kernel": 3})
    x = torch.randn(1, 4, 9, 9)
    before = local(x)
    with torch.no_grad():
        local.weight[..., 2, 5] += 1.0  # the kernel of output position (2, 5) only
    changed = (local(x) - before).abs().sum(dim=(0, 1)) > 0
    assert changed.nonzero().tolist() == [[2, 5]]


@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_its_parameters_are_the_convs_times_the_positions(geometry):
    local, conv = _pair(2, geometry)
    positions = math.prod(conv(torch.zeros(1, 4, 9, 9)).shape[2:])
    expected = positions * sum(p.numel() for p in conv.parameters())
    assert sum(p.numel() for p in local.parameters()) == expected
    info = cz.summary(
        {"name": "one", "input": [4, 9, 9], "layers": [{"filter": "local", "out": 6, **geometry}]}
    )
    assert info.params == expected


def test_it_matches_an_independent_loop_over_positions():
    local, _ = _pair(1, {"kernel": 3, "stride": 2})
    x = torch.randn(2, 4, 9)
    expected = torch.stack(
        [
            torch.einsum("nck,ock->no", x[:, :, 2 * i : 2 * i + 3], local.weight[..., i])
            + local.bias[:, i]
            for i in range(local.weight.shape[-1])
        ],
        dim=-1,
    )
    torch.testing.assert_close(local(x), expected)


def test_an_input_smaller_than_the_kernel_is_one_message():
    spec = {
        "name": "small",
        "input": [1, 4, 4],
        "layers": [{"filter": "local", "out": 2, "kernel": 5}],
    }
    with pytest.raises(SpecError, match="smaller than the kernel"):
        cz.build(spec)
