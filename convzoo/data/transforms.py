"""Batched geometric transforms that run where the data is (CPU or GPU), no per-sample Python.

``warp`` resizes each sample about its centre by a factor and shifts it by a
number of pixels, on the same canvas, filling uncovered pixels with the
background value; 1-D signals are treated as images of height 1. ``Augment``
draws random translations, rescalings and flips for a whole batch at once.
``fit_canvas`` centres smaller samples on the canvas a spec asks for (LeNet-5's
32x32 against 28x28 digits). ``permute_pixels`` applies one fixed permutation of
the positions to every sample (the permutation experiment: a fully connected
net does not care, a convnet does).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F

from convzoo.data.idx import DataError


def warp(
    x: torch.Tensor,
    scale: torch.Tensor | float = 1.0,
    shift: torch.Tensor | None = None,
    flip: torch.Tensor | None = None,
    fill: float = 0.0,
) -> torch.Tensor:
    """Resize by ``scale`` about the centre and shift by ``shift`` pixels, per sample.

    ``x`` is [N, C, H, W] or [N, C, L]; ``scale`` a number or [N]; ``shift``
    [N, dims] in pixels (x then y order: last dim first); ``flip`` [N] booleans
    mirror the last axis. Bilinear, without low-pass filtering: meant for
    training augmentation, where each sample has its own factor.
    """
    one_d = x.dim() == 3
    img = x.unsqueeze(2) if one_d else x
    n, _, h, w = img.shape
    scale = torch.as_tensor(scale, dtype=img.dtype, device=img.device).expand(n)
    theta = torch.zeros(n, 2, 3, dtype=img.dtype, device=img.device)
    sx = 1.0 / scale
    if flip is not None:
        sx = torch.where(flip.to(img.device), -sx, sx)
    theta[:, 0, 0] = sx
    theta[:, 1, 1] = 1.0 / scale
    if shift is not None:
        shift = shift.to(img.dtype).to(img.device)
        theta[:, 0, 2] = -2.0 * shift[:, 0] / w
        if not one_d:
            theta[:, 1, 2] = -2.0 * shift[:, 1] / h
    grid = F.affine_grid(theta, list(img.shape), align_corners=False)
    out = F.grid_sample(img - fill, grid, mode="bilinear", padding_mode="zeros",
                        align_corners=False) + fill  # fmt: skip
    return out.squeeze(2) if one_d else out


@dataclass(frozen=True)
class Augment:
    """Random translate (pixels), rescale (range) and flip, drawn per sample."""

    translate: int = 0
    scale: tuple[float, float] | None = None
    flip: bool = False
    fill: float = 0.0

    @property
    def active(self) -> bool:
        """Whether the augmentation changes anything."""
        return bool(self.translate) or self.scale is not None or self.flip

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Augment a batch in one call."""
        if not self.active:
            return x
        n, dims = x.shape[0], x.dim() - 2
        kw = {"device": x.device, "generator": generator}
        shift = None
        if self.translate:
            shift = torch.randint(-self.translate, self.translate + 1, (n, dims), **kw)
        scale: torch.Tensor | float = 1.0
        if self.scale is not None:
            lo, hi = self.scale
            scale = lo + (hi - lo) * torch.rand(n, **kw)
        flip = torch.rand(n, **kw) < 0.5 if self.flip else None
        return warp(x, scale, shift, flip, self.fill)


def fit_canvas(x: torch.Tensor, shape: tuple[int, ...], what: str) -> torch.Tensor:
    """Centre samples [N, *s] on a canvas ``shape`` at least as large; zero background."""
    have = tuple(x.shape[1:])
    if have == tuple(shape):
        return x
    bigger = len(have) == len(shape) and have[0] == shape[0]
    if not bigger or any(s < h for s, h in zip(shape[1:], have[1:])):
        raise DataError(
            f"{what} has samples of shape {list(have)} but the network's input is {list(shape)}: "
            "the channels and rank must match and the input must be at least as large "
            "(smaller samples are centred on the larger canvas)"
        )
    pad: list[int] = []
    for s, h in reversed(list(zip(shape[1:], have[1:]))):
        pad += [(s - h) // 2, s - h - (s - h) // 2]
    return F.pad(x, pad)


def pixel_permutation(shape: tuple[int, ...], seed: int = 0) -> torch.Tensor:
    """One fixed random order of the positions of a sample of ``shape`` ([C, H, W] or [C, L])."""
    positions = int(torch.tensor(shape[1:]).prod())
    return torch.randperm(positions, generator=torch.Generator().manual_seed(seed))


def permute_pixels(x: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
    """Move every sample's positions to ``order`` (the same for all samples and channels)."""
    flat = x.flatten(2)
    return flat[:, :, order.to(x.device)].view_as(x)
