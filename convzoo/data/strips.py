"""Strips of images laid side by side with random gaps: the geometry of multi-digit reading.

The dense scan (``convzoo.evaluate.scan``) reads such strips, and the window
datasets (``convzoo.data.windows``) cut their training samples from strips drawn
the same way, so both live here, below the evaluation: ``strip_layout`` is the
random draw (each image's left edge and which image), ``paste`` puts one image
per sample onto a canvas at a column of its own, and ``make_strips`` assembles
whole strips from the two. Everything is batched over the strips; the only
Python loop runs over the images of one strip.
"""

from __future__ import annotations

import torch

from convzoo.errors import ConvzooError


def _check_counts(digits: int, count: int, gap: tuple[int, int]) -> None:
    if digits < 1:
        raise ConvzooError(f"digits per strip must be at least 1, got {digits}")
    if count < 1:
        raise ConvzooError(f"the number of strips must be at least 1, got {count}")
    if not 0 <= gap[0] <= gap[1]:
        raise ConvzooError(f"gap must be (low, high) with 0 <= low <= high, got {gap}")


def strip_layout(
    count: int,
    digits: int,
    width: int,
    images: int,
    gap: tuple[int, int] = (0, 8),
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The random draw behind ``make_strips``: each digit's left edge and image index.

    Both are ``[count, digits]``: consecutive images ``width`` columns wide are
    ``gap[0]`` to ``gap[1]`` blank columns apart (uniform), and each image is
    drawn uniformly from ``images`` of them. The same arguments give the same draw.
    """
    _check_counts(digits, count, gap)
    generator = torch.Generator().manual_seed(seed)
    gaps = torch.randint(gap[0], gap[1] + 1, (count, digits - 1), generator=generator)
    steps = torch.cat([torch.zeros(count, 1, dtype=torch.long), gaps + width], dim=1)
    picks = torch.randint(0, images, (count, digits), generator=generator)
    return steps.cumsum(1), picks


def paste(canvas: torch.Tensor, images: torch.Tensor, lefts: torch.Tensor) -> torch.Tensor:
    """``canvas`` ``[N, ..., width]`` with image i of ``images`` ``[N, ..., w]`` put with
    its left edge at column ``lefts[i]`` (any integer: what falls off the canvas is cut).

    The columns an image covers take its values exactly; the rest keep the canvas's.
    """
    width, w = canvas.shape[-1], images.shape[-1]
    source = torch.arange(width, device=canvas.device) - lefts.to(canvas.device)[:, None]
    inside = (source >= 0) & (source < w)
    shape = (len(lefts), *[1] * (canvas.dim() - 2), width)
    index = source.clamp(0, w - 1).view(shape).expand(*images.shape[:-1], width)
    return torch.where(inside.view(shape), images.gather(-1, index), canvas)


def make_strips(
    images: torch.Tensor,
    labels: torch.Tensor,
    digits: int,
    count: int,
    gap: tuple[int, int] = (0, 8),
    seed: int = 0,
    fill: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` strips of ``digits`` random images side by side, and their label sequences.

    Images are ``[N, C, H, W]`` (or ``[N, C, L]``), placed as ``strip_layout`` draws
    them; every strip is ``digits * W + (digits - 1) * gap[1]`` wide and ``fill``
    (the data's blank value) where no image is. Digit j of strip i is centred on
    column ``lefts[i, j] + (W - 1) / 2``. Sequences are ``[count, digits]`` int64.
    """
    width = images.shape[-1]
    lefts, picks = strip_layout(count, digits, width, len(images), gap, seed)
    total = digits * width + (digits - 1) * gap[1]
    images = images.cpu()
    strips = torch.full((count, *images.shape[1:-1], total), fill, dtype=images.dtype)
    for j in range(digits):
        strips = paste(strips, images[picks[:, j]], lefts[:, j])
    return strips, labels.cpu()[picks].long()
