"""Batched geometric transforms that run where the data is (CPU or GPU), no per-sample Python.

``warp`` resizes each sample about its centre by a factor and shifts it by a
number of pixels, on the same canvas, filling uncovered pixels with the
background value; 1-D signals are treated as images of height 1. ``Augment``
draws random translations, rescalings and flips for a whole batch at once.
``fit_canvas`` centres smaller samples on the canvas a spec asks for (LeNet-5's
32x32 against 28x28 digits). ``permute_pixels`` applies one fixed permutation of
the positions to every sample (the permutation experiment: a fully connected
net does not care, a convnet does). ``rescale`` (one factor, antialiased) and
``shift`` (whole pixels, exact; one offset or one per sample) are the
evaluation's transforms, so a measured accuracy belongs to exactly one change.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.nn import functional as F

from convzoo.data.idx import DataError
from convzoo.errors import is_int


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
    out = (
        F.grid_sample(img - fill, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        + fill
    )
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
        kw: dict[str, Any] = {"device": x.device, "generator": generator}
        shift = None
        if self.translate:
            shift = torch.randint(-self.translate, self.translate + 1, (n, dims), **kw)
        scale: torch.Tensor | float = 1.0
        if self.scale is not None:
            lo, hi = self.scale
            scale = lo + (hi - lo) * torch.rand(n, **kw)
        flip = torch.rand(n, **kw) < 0.5 if self.flip else None
        return warp(x, scale, shift, flip, self.fill)


def check_canvas(have: tuple[int, ...], shape: tuple[int, ...], what: str) -> None:
    """Refuse samples of shape ``have`` that cannot be centred on a canvas ``shape``: the
    channels and rank must match and the canvas must be at least as large."""
    bigger = len(have) == len(shape) and have[0] == shape[0]
    if not bigger or any(s < h for s, h in zip(shape[1:], have[1:])):
        raise DataError(
            f"{what} has samples of shape {list(have)} but the network's input is {list(shape)}: "
            "the channels and rank must match and the input must be at least as large "
            "(smaller samples are centred on the larger canvas)"
        )


def fit_canvas(x: torch.Tensor, shape: tuple[int, ...], what: str) -> torch.Tensor:
    """Centre samples [N, *s] on a canvas ``shape`` at least as large; zero background."""
    have = tuple(x.shape[1:])
    if have == tuple(shape):
        return x
    check_canvas(have, tuple(shape), what)
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


def _canvas_size(size: int, scale: float) -> int:
    """The resized length nearest ``scale * size`` with the parity of ``size`` (at least 1)."""
    size_to = size + 2 * math.floor(size * (scale - 1.0) / 2.0 + 0.5)
    return max(size_to, 2 - size % 2)


def rescale(x: torch.Tensor, scale: float, fill: float = 0.0) -> torch.Tensor:
    """Resize every sample about its centre by ``scale`` and keep it on the same canvas.

    ``x`` is [N, C, H, W] or [N, C, L] (1-D signals are resized along L only).
    Bilinear, antialiased when shrinking; the resized sample is cropped (scale > 1)
    or padded with ``fill`` (scale < 1) back to the canvas. Each resized length is
    the one nearest ``scale * size`` with the parity of ``size``, so the sample
    stays exactly centred (the factor is off by at most one pixel over the length).
    Unlike ``warp`` it filters before subsampling: meant for evaluation.
    """
    if not scale > 0:
        raise DataError(f"rescale: the scale must be positive, got {scale!r}")
    if scale == 1:
        return x
    one_d = x.dim() == 3
    img = x.unsqueeze(2) if one_d else x
    h, w = img.shape[2:]
    size = (h if one_d else _canvas_size(h, scale), _canvas_size(w, scale))
    out = F.interpolate(img, size=size, mode="bilinear", align_corners=False, antialias=True)
    pad: list[int] = []
    for have, want in ((size[1], w), (size[0], h)):
        pad += [(want - have) // 2, (want - have) // 2]
    out = F.pad(out, pad, value=fill)
    return out.squeeze(2) if one_d else out


def _offsets(offset: int | Sequence[int] | torch.Tensor, n: int, dims: int) -> torch.Tensor:
    """``offset`` as an [n, dims] integer tensor (x then y order)."""
    if isinstance(offset, torch.Tensor):
        if offset.shape != (n, dims) or offset.is_floating_point():
            raise DataError(
                f"shift: a per-sample offset must be an integer tensor of shape [{n}, {dims}], "
                f"got {offset.dtype} {list(offset.shape)}"
            )
        return offset.long()
    values = [offset] if dims == 1 and not isinstance(offset, Sequence) else offset
    if not isinstance(values, Sequence) or len(values) != dims or not all(map(is_int, values)):
        form = "an int" if dims == 1 else "a pair of ints (dx, dy)"
        raise DataError(f"shift: the offset of {dims}-D samples must be {form}, got {offset!r}")
    return torch.tensor([list(values)]).expand(n, dims)


def shift(
    x: torch.Tensor, offset: int | Sequence[int] | torch.Tensor, fill: float = 0.0
) -> torch.Tensor:
    """Move every sample by a whole number of pixels; uncovered pixels get ``fill``.

    ``offset`` is an int for [N, C, L] signals, ``(dx, dy)`` for [N, C, H, W]
    images (positive = right and down), or an integer tensor [N, dims] with one
    offset per sample in the same order. Exact: pixels are copied, not interpolated.
    """
    dims = x.dim() - 2
    off = _offsets(offset, x.shape[0], dims).to(x.device)
    sizes = x.shape[2:]
    margin = min(int(off.abs().max()), max(sizes)) if off.numel() else 0
    padded = F.pad(x, [margin] * 2 * dims, value=fill)
    index = [
        (torch.arange(size, device=x.device) + margin - off[:, axis : axis + 1]).clamp(
            0, size + 2 * margin - 1
        )
        for axis, size in enumerate(reversed(sizes))
    ]
    samples = torch.arange(x.shape[0], device=x.device)
    if dims == 1:
        return padded[samples[:, None], :, index[0]].permute(0, 2, 1)
    cols, rows = index
    return padded[samples[:, None, None], :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)
