"""``padding_mode`` on every filter bank: what the padding holds, and the shift invariance
that circular padding buys.

A stride-1 filter bank with circular padding commutes with every circular shift of
its input, so a global max over its maps is invariant to all of them, exactly; with
zeros padding content that wraps across the border changes the output.
"""

from __future__ import annotations

import itertools

import pytest
import torch
from torch.nn import functional as F

import convzoo as cz
from tests.blocks.conftest import net

FILTERS = ("conv", "true_conv", "unfold_conv", "tied", "hyper")
SHAPES = {1: (2, 12), 2: (2, 7, 7)}
EXTRA = {"hyper": {"z_dim": 3, "hidden": 3, "out_block": 2, "in_block": 2}}


def _detector(filter_name: str, dims: int, mode: str) -> torch.nn.Module:
    spec = net(
        {"filter": filter_name, "out": 4, "kernel": 3, "padding": 1, "padding_mode": mode}
        | EXTRA.get(filter_name, {}),
        {"act": "tanh"},
        {"pool": "global_max"},
        input=SHAPES[dims],
    )
    torch.manual_seed(0)
    return cz.build(spec).double().eval()


def _every_roll(x: torch.Tensor) -> torch.Tensor:
    """``x`` [1, C, ...] rolled circularly by every shift, one shift per batch entry."""
    sizes = x.shape[2:]
    shifts = itertools.product(*(range(n) for n in sizes))
    dims = tuple(range(2, x.dim()))
    return torch.cat([x.roll(s, dims) for s in shifts])


def _largest_change(filter_name: str, dims: int, mode: str) -> float:
    model = _detector(filter_name, dims, mode)
    torch.manual_seed(1)
    x = torch.randn(1, *SHAPES[dims], dtype=torch.float64)  # content everywhere, border too
    with torch.no_grad():
        outputs = model(_every_roll(x))
    return (outputs - outputs[:1]).abs().max().item()


@pytest.mark.parametrize("dims", [1, 2])
@pytest.mark.parametrize("filter_name", FILTERS)
def test_circular_padding_makes_global_max_invariant_to_every_circular_shift(filter_name, dims):
    assert _largest_change(filter_name, dims, "circular") < 1e-6


@pytest.mark.parametrize("dims", [1, 2])
def test_zeros_padding_is_not_invariant_to_circular_shifts(dims):
    assert _largest_change("conv", dims, "zeros") > 1e-2


@pytest.mark.parametrize("mode", ["circular", "reflect", "replicate"])
@pytest.mark.parametrize("filter_name", FILTERS)
def test_each_mode_pads_as_torch_does(filter_name, mode):
    model = _detector(filter_name, 2, mode)
    bank = model.layers[0]
    x = torch.randn(3, *SHAPES[2], dtype=torch.float64)
    weight = bank.weight if filter_name == "conv" else bank.kernel()
    if filter_name == "true_conv":
        weight = weight.flip((2, 3))
    expected = F.conv2d(F.pad(x, (1, 1, 1, 1), mode=mode), weight, bank.bias)
    torch.testing.assert_close(bank(x), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("filter_name", FILTERS)
def test_same_padding_with_a_mode_keeps_the_size(filter_name):
    layer = {"filter": filter_name, "out": 2, "kernel": 4, "padding": "same"}
    spec = net(layer | {"padding_mode": "reflect"} | EXTRA.get(filter_name, {}))
    assert cz.build(spec)(torch.randn(2, 3, 8, 8)).shape == (2, 2, 8, 8)


@pytest.mark.parametrize("filter_name", FILTERS)
def test_an_unknown_padding_mode_is_refused_with_the_choices(filter_name):
    spec = net({"filter": filter_name, "out": 2, "kernel": 3, "padding_mode": "wrap"})
    with pytest.raises(cz.SpecError, match="padding_mode must be one of zeros, circular, reflect"):
        cz.build(spec)
