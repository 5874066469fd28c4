"""The blur pooling (MaxBlurPool): its binomial taps, geometry, and shift stability."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import convzoo as cz
from convzoo.blocks.blur_pool import binomial_filter
from tests.blocks.conftest import block, max_pool

F64 = {"check_dtype": False}

pytestmark = pytest.mark.usefixtures("torch_seed")


def test_binomial_filter_taps_are_normalized():
    torch.testing.assert_close(binomial_filter(3, 1), torch.tensor([1, 2, 1]) / 4.0, **F64)
    torch.testing.assert_close(binomial_filter(4, 1), torch.tensor([1, 3, 3, 1]) / 8.0, **F64)
    two = binomial_filter(5, 2)
    assert two.shape == (5, 5) and math.isclose(two.sum().item(), 1.0)


@pytest.mark.parametrize("pre", ["max", "avg", "none"])
@pytest.mark.parametrize("shape", [(2, 16), (2, 16, 12)], ids=["1d", "2d"])
def test_blur_keeps_a_constant_map_constant(pre, shape):
    pool = block("blur", shape, pre=pre, filter_size=5)
    out = pool(torch.full((1, *shape), 2.5))
    interior = out[..., 2:-2] if len(shape) == 2 else out[..., 2:-2, 2:-2]
    torch.testing.assert_close(interior, torch.full_like(interior, 2.5))
    torch.testing.assert_close(out, torch.full_like(out, 2.5))  # reflect padding: borders too


def test_blur_of_an_impulse_shows_the_taps_and_the_subsampling_phase():
    pool = block("blur", (1, 9), pre="none")
    x = torch.zeros(1, 1, 9)
    x[..., 5] = 1.0  # blurred: 1/4 at 4, 1/2 at 5, 1/4 at 6; kept: positions 0, 2, 4, 6, 8
    torch.testing.assert_close(pool(x), torch.tensor([[[0.0, 0.0, 0.25, 0.25, 0.0]]]))


@pytest.mark.parametrize("size", [7, 8, 9, 16])
@pytest.mark.parametrize("dims", [1, 2])
def test_blur_output_size_matches_max_pooling(size, dims):
    shape = (2,) + (size,) * dims
    x = torch.randn(1, *shape)
    assert block("blur", shape)(x).shape == max_pool(x, 2).shape
    wide = block("blur", shape, kernel=3, padding=1)(x)
    assert wide.shape == max_pool(x, 3, stride=2, padding=1).shape
    assert block("blur", shape, pre="none")(x).shape[2:] == (math.ceil(size / 2),) * dims


def test_max_blur_is_dense_max_then_blur_and_its_receptive_field():
    x = torch.randn(2, 3, 10, 10)
    pool = block("blur", (3, 10, 10))
    blur_only = block("blur", (3, 9, 9), pre="none")
    torch.testing.assert_close(pool(x), blur_only(F.max_pool2d(x, 2, stride=1)))
    table = cz.summary({"name": "t", "input": [3, 16, 16], "layers": [{"pool": "blur"}]})
    assert table.layers[0].rf == (4, 4) and table.layers[0].stride == (2, 2)


def _smooth_relu_noise(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    """ReLU of white noise lightly smoothed by a Gaussian (sigma 0.5 px), circularly."""
    x = torch.randn(*shape, generator=torch.Generator().manual_seed(seed))
    taps = torch.exp(-torch.arange(-2.0, 3.0).square() / (2 * 0.5**2))
    taps /= taps.sum()
    for axis in range(2, x.dim()):
        x = sum(w * x.roll(shift, axis) for shift, w in zip(range(-2, 3), taps))
    return x.relu()


def _change_under_one_pixel_shift(pool, x: torch.Tensor) -> tuple[float, float]:
    """||pool(shift x) - pool(x)|| relative to ||pool(x)|| and to its spread about its mean,
    away from the borders (the shift is circular, the blur's padding is not)."""
    crop = (..., *(slice(2, -2),) * (x.dim() - 2))
    out, moved = pool(x)[crop], pool(x.roll(1, -1))[crop]
    diff = (moved - out).norm()
    return (diff / out.norm()).item(), (diff / (out - out.mean()).norm()).item()


@pytest.mark.parametrize("shape", [(4, 256), (4, 48, 48)], ids=["1d", "2d"])
def test_blur_changes_much_less_than_max_pooling_under_a_one_pixel_shift(shape):
    # Measured: max pooling changes by 0.70 (1-D) / 0.59 (2-D) of its norm, MaxBlurPool by
    # 0.43 / 0.29; relative to the spread, 0.96 / 0.98 against 0.67 / 0.68.
    x = _smooth_relu_noise((8, *shape), seed=0)
    plain = _change_under_one_pixel_shift(block("max", shape, kernel=2), x)
    blurred = _change_under_one_pixel_shift(block("blur", shape), x)
    wider = _change_under_one_pixel_shift(block("blur", shape, filter_size=5), x)
    assert blurred[0] < 0.7 * plain[0]
    assert blurred[1] < 0.8 * plain[1]  # not only a smaller spread
    assert wider[0] < 0.9 * blurred[0] and wider[1] < 0.9 * blurred[1]  # a stronger low-pass
