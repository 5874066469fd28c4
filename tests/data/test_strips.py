"""``paste``: each sample's image put at its own column, cut where it leaves the canvas."""

from __future__ import annotations

import torch

from convzoo.data.strips import paste


def test_paste_puts_each_image_at_its_column_and_cuts_it_at_the_edges():
    images = torch.arange(1.0, 5.0).expand(3, 2, 4)  # [3, C=2, w=4]: columns 1, 2, 3, 4
    canvas = torch.full((3, 2, 6), -1.0)
    out = paste(canvas, images, torch.tensor([1, -2, 4]))
    assert out[0, 0].tolist() == [-1, 1, 2, 3, 4, -1]
    assert out[1, 0].tolist() == [3, 4, -1, -1, -1, -1]
    assert out[2, 0].tolist() == [-1, -1, -1, -1, 1, 2]
    assert torch.equal(out[:, 0], out[:, 1]) and canvas.eq(-1).all()  # the canvas is kept
    far = paste(canvas, images, torch.tensor([6, -4, 100]))
    assert torch.equal(far, canvas)


def test_paste_works_on_images_and_signals():
    images = torch.rand(2, 1, 5, 3)
    out = paste(torch.zeros(2, 1, 5, 8), images, torch.tensor([0, 5]))
    assert torch.equal(out[0, ..., :3], images[0]) and torch.equal(out[1, ..., 5:], images[1])
    assert out[0, ..., 3:].eq(0).all() and out[1, ..., :5].eq(0).all()
    signal = paste(torch.zeros(1, 2, 7), torch.ones(1, 2, 3), torch.tensor([2]))
    assert signal[0, 0].tolist() == [0, 0, 1, 1, 1, 0, 0]
