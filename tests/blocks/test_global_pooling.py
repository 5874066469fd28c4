"""The global poolings: one value per map at any size, shift invariance, learned p."""

from __future__ import annotations

import pytest
import torch

import convzoo as cz
import convzoo.blocks.global_pooling  # registers the global poolings
from tests.blocks.conftest import GLOBAL, SHAPES, block

pytestmark = pytest.mark.usefixtures("torch_seed")


def _reference(name: str, x: torch.Tensor) -> torch.Tensor:
    flat = x.flatten(2)
    if name == "global_max":
        return flat.amax(-1)
    if name == "global_avg":
        return flat.mean(-1)
    return flat.square().sum(-1).sqrt()


@pytest.mark.parametrize("shape", SHAPES, ids=["1d", "2d"])
@pytest.mark.parametrize("name", GLOBAL)
def test_global_pooling_gives_one_value_per_map_at_any_size(name, shape):
    pool = block(name, shape)
    dims = len(shape) - 1
    assert pool.kernel_size == pool.stride == tuple(shape[1:])
    for spatial in (shape[1:], tuple(3 * s + 1 for s in shape[1:])):
        x = torch.randn(2, 3, *spatial)
        out = pool(x)
        assert out.shape == (2, 3) + (1,) * dims
        torch.testing.assert_close(out.flatten(1), _reference(name, x))


@pytest.mark.parametrize("shape", SHAPES, ids=["1d", "2d"])
@pytest.mark.parametrize("name", GLOBAL)
def test_global_pooling_is_invariant_to_circular_shifts(name, shape):
    pool = block(name, shape, **({"p": 3.0} if name == "global_lp" else {}))
    x = torch.randn(2, *shape, dtype=torch.float64)
    out = pool.double()(x)
    for shift in (1, 3, 5):
        dims = tuple(range(2, x.dim()))
        moved = x.roll((shift,) * len(dims), dims)
        torch.testing.assert_close(pool(moved), out)
    assert not torch.allclose(out, pool(x.flip(1)))  # but it does tell the maps apart


def test_global_lp_p_and_summary_receptive_field():
    x = torch.randn(2, 3, 8, 8)
    torch.testing.assert_close(
        block("global_lp", (3, 8, 8), p=1)(x).flatten(1), x.abs().sum((2, 3))
    )
    learned = block("global_lp", (3, 8, 8), learn_p=True)
    learned(x).sum().backward()
    assert learned.p.raw.grad is not None and learned.p.raw.grad != 0
    spec = {
        "name": "t",
        "input": [1, 12, 12],
        "layers": [{"filter": "conv", "out": 4, "kernel": 5}, {"pool": "global_max"}],
    }
    table = cz.summary(spec)
    assert table.layers[-1].rf == "all" and table.output == (4, 1, 1)
    model = cz.build(spec)
    assert model(torch.randn(2, 1, 40, 30)).shape == (2, 4, 1, 1)
