"""Windows cut from strips of digits, with a background class: training data for a scanner.

A net swept densely over a strip of digits (``convzoo scan``) sees, at most of its
positions, a window centred on no digit -- between two of them, or on the blank end
of the strip -- with parts of the neighbours in it. Trained on centred digits alone it
has no answer for those and names a digit anyway. The space displacement neural
network (LeCun et al. 1998, Sec. VII; Matan et al. 1992) is trained on windows of
strips instead, with one more class for "no digit centred here".

``make_windows`` cuts each window from its own strip of three images drawn by
``strip_layout`` (the scan's geometry: gaps of ``gap`` blank columns):

- a digit window is centred on the middle image, shifted by up to ``shift``
  columns, and labelled with that image's class; the neighbours, each present
  with probability ``neighbour``, intrude from the sides;
- a background window (``share`` of them, exactly) is centred on one side of the
  middle image, at least ``margin`` columns from its centre and from the
  neighbour's there -- on the gap between them, or on the blank canvas when that
  neighbour is absent (up to an image and the widest gap away) -- and labelled
  ``background``.

``mnist_windows`` makes MNIST's 60,000 training and 10,000 test images into as many
windows each, train windows from training images and test windows from test images,
a third of them background (class 10), with fixed seeds (0 and 1): the same data
every time, built batched in a few seconds. Its ``Dataset`` names class 10 as its
``background`` and ``mnist`` as its ``base``, whose test split ``convzoo scan``
lays out as strips.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from convzoo.data.catalog import Dataset, load_dataset, register_dataset
from convzoo.data.strips import paste, strip_layout
from convzoo.errors import ConvzooError

CHUNK = 8192  # windows pasted at a time: bounds the memory of the gathers


def _check(
    count: int,
    width: int,
    share: float,
    shift: int,
    margin: int,
    gap: tuple[int, int],
    neighbour: float,
) -> None:
    where = "make_windows"
    if count < 1:
        raise ConvzooError(f"{where}: count {count} must be at least 1 (the number of windows)")
    for name, value in (("share", share), ("neighbour", neighbour)):
        if not 0.0 <= value <= 1.0:
            raise ConvzooError(f"{where}: {name} {value} must be a probability in [0, 1]")
    if not 0 <= shift < margin:
        raise ConvzooError(
            f"{where}: shift {shift} and margin {margin} need 0 <= shift < margin, so that no "
            "window is both centred on a digit and far from it; lower shift or raise margin"
        )
    if 2 * margin > width + gap[0]:
        raise ConvzooError(
            f"{where}: margin {margin} leaves no room between two images {width} columns wide "
            f"and {gap[0]} apart (needs 2 * margin <= {width + gap[0]}); lower margin"
        )


def make_windows(
    images: torch.Tensor,
    labels: torch.Tensor,
    count: int,
    background: int,
    seed: int = 0,
    share: float = 1 / 3,
    shift: int = 4,
    margin: int = 10,
    gap: tuple[int, int] = (0, 8),
    neighbour: float = 0.8,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` windows ``[count, *images.shape[1:]]`` and their labels (int64).

    ``images`` ``[N, C, H, W]`` with blank value 0 (as datasets load them); the rule
    is in the module docstring. The same arguments give the same windows.
    """
    width = images.shape[-1]
    _check(count, width, share, shift, margin, gap, neighbour)
    lefts, picks = strip_layout(count, 3, width, len(images), gap, seed=2 * seed)
    draw = torch.Generator().manual_seed(2 * seed + 1)
    is_background = torch.zeros(count, dtype=torch.bool)
    is_background[torch.randperm(count, generator=draw)[: round(share * count)]] = True
    present = torch.rand(count, 3, generator=draw) < neighbour
    present[:, 1] = True
    side = 2 * torch.randint(0, 2, (count,), generator=draw) - 1  # -1: left, +1: right
    shifts = torch.randint(-shift, shift + 1, (count,), generator=draw)
    rows = torch.arange(count)
    apart = (lefts[rows, 1 + side] - lefts[:, 1]).abs()  # centre to centre, on that side
    farthest = torch.where(present[rows, 1 + side], apart - margin, width + gap[1])
    away = margin + (torch.rand(count, generator=draw) * (farthest - margin + 1)).long()
    start = lefts[:, 1] + torch.where(is_background, side * away, shifts)
    # an absent neighbour is pasted a whole window to the right: off the canvas
    offsets = torch.where(present, lefts - start[:, None], width)
    windows = torch.zeros(count, *images.shape[1:], dtype=images.dtype)
    for begin in range(0, count, CHUNK):
        part = slice(begin, begin + CHUNK)
        for j in range(3):
            windows[part] = paste(windows[part], images[picks[part, j]], offsets[part, j])
    truth = torch.where(is_background, background, labels[picks[:, 1]].long())
    return windows, truth


def window_dataset(name: str, base: Dataset, **cut: Any) -> Dataset:
    """``base`` made into windows as ``make_windows`` cuts them (``cut``: its further
    arguments), as many per split as it has images (train seed 0, test seed 1), with the
    background class after its own."""
    background = base.classes
    train = make_windows(base.train_x, base.train_y, len(base.train_y), background, 0, **cut)
    test = make_windows(base.test_x, base.test_y, len(base.test_y), background, 1, **cut)
    return Dataset(
        name, *train, *test, classes=background + 1, background=background, base=base.name
    )


@register_dataset(
    "mnist_windows",
    description="60,000 + 10,000 28x28 windows of strips of MNIST digits, class 10 = background",
    reference="LeCun et al. 1998, Sec. VII; Matan et al. 1992",
    dims=[2],
)
def mnist_windows(data_dir: Path | None, download: bool) -> Dataset:
    """Windows of strips of MNIST's images: train from train, test from test."""
    return window_dataset("mnist_windows", load_dataset("mnist", data_dir, download))
