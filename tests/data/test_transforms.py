"""Batched transforms: exact integer shifts, flips, per-sample scales, the canvas."""

from __future__ import annotations

import pytest
import torch

from convzoo.data import Augment, DataError, fit_canvas, warp


def dot(size=7, at=(3, 3)):
    x = torch.zeros(1, 1, size, size)
    x[0, 0, at[0], at[1]] = 1.0
    return x


def test_integer_shifts_move_pixels_exactly():
    out = warp(dot(), shift=torch.tensor([[2, -1]]))
    assert out[0, 0].nonzero().tolist() == [[2, 5]]
    assert out.sum() == pytest.approx(1.0)


def test_one_dimensional_shift_and_flip():
    x = torch.arange(6.0).view(1, 1, 6)
    assert warp(x, shift=torch.tensor([[2]]))[0, 0].tolist() == [0, 0, 0, 1, 2, 3]
    flipped = warp(x, flip=torch.tensor([True]))[0, 0]
    assert torch.allclose(flipped, torch.tensor([5.0, 4, 3, 2, 1, 0]), atol=1e-6)


def test_fill_is_the_background_value():
    out = warp(torch.zeros(1, 1, 5, 5), shift=torch.tensor([[2, 0]]), fill=-0.5)
    assert torch.all(out[0, 0, :, :2] == -0.5) and torch.all(out[0, 0, :, 2:] == 0)


def test_scale_about_the_centre_per_sample():
    x = torch.zeros(2, 1, 9, 9)
    x[:, :, 2:7, 2:7] = 1.0  # a 5x5 square in the middle
    out = warp(x, scale=torch.tensor([1.0, 0.6]))
    assert torch.allclose(out[0], x[0], atol=1e-6)
    assert out[1].sum() < 0.6 * x[1].sum() and out[1, 0, 4, 4] == pytest.approx(1.0)


def test_augment_draws_per_sample_and_is_reproducible():
    x = dot(9, (4, 4)).repeat(64, 1, 1, 1)
    augment = Augment(translate=2)
    a = augment(x, torch.Generator().manual_seed(1))
    b = augment(x, torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    positions = {tuple(s[0].nonzero()[0].tolist()) for s in a}
    assert len(positions) > 5 and all(abs(r - 4) <= 2 and abs(c - 4) <= 2 for r, c in positions)
    assert not Augment().active and Augment().__call__(x) is x


def test_fit_canvas_centres_and_refuses_mismatches():
    out = fit_canvas(torch.ones(3, 1, 28, 28), (1, 32, 32), "fashion")
    assert out.shape == (3, 1, 32, 32) and out[:, :, 2:30, 2:30].min() == 1 and out.sum() == 3 * 784
    with pytest.raises(DataError, match=r"\[1, 28, 28\] but the network's input is \[3, 32, 32\]"):
        fit_canvas(torch.ones(3, 1, 28, 28), (3, 32, 32), "fashion")
    with pytest.raises(DataError, match="at least as large"):
        fit_canvas(torch.ones(3, 1, 28, 28), (1, 24, 24), "fashion")


def test_one_fixed_permutation_for_every_sample_and_channel():
    from convzoo.data import permute_pixels, pixel_permutation

    order = pixel_permutation((2, 3, 4), seed=1)
    assert sorted(order.tolist()) == list(range(12))
    assert torch.equal(order, pixel_permutation((2, 3, 4), seed=1))
    x = torch.arange(2 * 2 * 12, dtype=torch.float32).view(2, 2, 3, 4)
    y = permute_pixels(x, order)
    assert torch.equal(y.flatten(2), x.flatten(2)[:, :, order])
    assert torch.equal(y[1, 0].flatten(), x[1, 0].flatten()[order])
