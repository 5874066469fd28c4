"""Robustness measures: accuracy under rescaling and shifts, and shift consistency.

A convnet is meant to recognise a pattern wherever it is and, within limits,
whatever its size. These measures say how far a trained network lives up to it,
with the definitions of DESIGN.md ("Evaluation"), so numbers compare across runs:

- ``scale_curve``: accuracy with every test sample resized about its centre by s
  (``rescale``: bilinear, antialiased, on the same canvas); summary = mean
  accuracy over the scales / clean accuracy.
- ``shift_curve``: accuracy under an exact shift of d pixels, averaged over the
  directions (8 in 2-D, 2 in 1-D).
- ``shift_consistency`` (Zhang 2019): the share of samples whose top-1 class is
  the same under two independent random shifts of up to k pixels per axis.

Uncovered pixels get ``fill``, the background (a zero pixel after
standardization). The model runs in eval mode without gradients, in batches on
its own device, and the transforms run there too; its training mode is restored
afterwards. Every result is plain Python numbers and lists, ready for JSON. The
defaults are ``EvaluateConfig``'s; the table of measures (``measures``) runs these
with the others and shows their curves with ``curve_table``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from convzoo.data.transforms import rescale, shift
from convzoo.evaluate._checks import check_batch_size, check_data, check_max_shift, check_scales
from convzoo.evaluate._inference import inference
from convzoo.evaluate.config import DEFAULTS
from convzoo.evaluate.progress import Tick, no_tick

DIRECTIONS = {
    1: ((1,), (-1,)),
    2: ((1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (1, -1), (-1, 1), (-1, -1)),
}

View = Callable[[torch.Tensor, slice], torch.Tensor]  # (batch on the device, its rows) -> input


# -- running the model -----------------------------------------------------------------


def _predictions(
    model: nn.Module,
    x: torch.Tensor,
    views: Sequence[View],
    batch_size: int,
    tick: Tick = no_tick,
) -> list[torch.Tensor]:
    """Top-1 classes (CPU) of every sample under each view; each batch is moved once and
    ``tick`` called after it."""
    check_batch_size(batch_size)
    out: list[list[torch.Tensor]] = [[] for _ in views]
    with inference(model) as place:
        for start in range(0, len(x), batch_size):
            rows = slice(start, start + batch_size)
            batch = place(x[rows])
            for preds, view in zip(out, views):
                preds.append(model(view(batch, rows)).argmax(dim=1).cpu())
            tick()
    return [torch.cat(preds) for preds in out]


def _as_is(batch: torch.Tensor, rows: slice) -> torch.Tensor:
    return batch


def _rescaled(scale: float, fill: float) -> View:
    return lambda batch, rows: rescale(batch, scale, fill)


def _shifted(offset: tuple[int, ...] | torch.Tensor, fill: float) -> View:
    if isinstance(offset, torch.Tensor):
        return lambda batch, rows: shift(batch, offset[rows], fill)
    return lambda batch, rows: shift(batch, offset, fill)


def _share(preds: torch.Tensor, y: torch.Tensor) -> float:
    return (preds == y.cpu()).double().mean().item()


# -- accuracy measures -----------------------------------------------------------------


def predict(
    model: nn.Module, x: torch.Tensor, batch_size: int = DEFAULTS.batch_size
) -> torch.Tensor:
    """The top-1 class of every sample, on the CPU."""
    check_data(x)
    return _predictions(model, x, [_as_is], batch_size)[0]


def accuracy(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = DEFAULTS.batch_size
) -> float:
    """The share of samples whose top-1 class is the label."""
    check_data(x, y)
    return _share(predict(model, x, batch_size), y)


def scale_curve(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    scales: Sequence[float] = DEFAULTS.scales,
    fill: float = 0.0,
    batch_size: int = DEFAULTS.batch_size,
    *,
    tick: Tick = no_tick,
) -> dict[str, Any]:
    """Accuracy with every sample resized by each scale, and the summary.

    ``clean`` is the accuracy at scale 1 (measured even when 1 is not among the
    scales); ``summary`` = mean accuracy over the scales / ``clean`` (NaN when the
    clean accuracy is 0).
    """
    check_data(x, y)
    scales = check_scales(scales)
    grid = scales if 1.0 in scales else [*scales, 1.0]
    preds = _predictions(model, x, [_rescaled(s, fill) for s in grid], batch_size, tick)
    acc = [_share(p, y) for p in preds]
    clean = acc[grid.index(1.0)]
    curve = acc[: len(scales)]
    mean = sum(curve) / len(curve)
    return {
        "scales": scales,
        "accuracy": curve,
        "clean": clean,
        "summary": mean / clean if clean > 0 else math.nan,
    }


def shift_curve(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    max_shift: int = DEFAULTS.max_shift,
    fill: float = 0.0,
    batch_size: int = DEFAULTS.batch_size,
    *,
    tick: Tick = no_tick,
) -> dict[str, Any]:
    """Accuracy under a shift of d = 0..max_shift pixels, averaged over the directions.

    A shift of d moves the samples by (±d, 0), (0, ±d) and (±d, ±d) in 2-D, ±d in 1-D.
    """
    check_data(x, y)
    max_shift = check_max_shift(max_shift, x)
    directions = DIRECTIONS[x.dim() - 2]
    views = [_as_is] + [
        _shifted(tuple(d * u for u in unit), fill)
        for d in range(1, max_shift + 1)
        for unit in directions
    ]
    acc = [_share(p, y) for p in _predictions(model, x, views, batch_size, tick)]
    per_shift = [acc[0]] + [
        sum(acc[1 + i : 1 + i + len(directions)]) / len(directions)
        for i in range(0, max_shift * len(directions), len(directions))
    ]
    return {"shifts": list(range(max_shift + 1)), "accuracy": per_shift}


def shift_consistency(
    model: nn.Module,
    x: torch.Tensor,
    max_shift: int = DEFAULTS.max_shift,
    fill: float = 0.0,
    seed: int = DEFAULTS.consistency_seed,
    batch_size: int = DEFAULTS.batch_size,
    *,
    tick: Tick = no_tick,
) -> float:
    """The share of samples whose top-1 class is the same under two random shifts.

    Each sample gets two offsets, each axis drawn uniformly from
    [-max_shift, max_shift] by a generator seeded with ``seed`` (independent of
    ``batch_size`` and the device).
    """
    check_data(x)
    max_shift = check_max_shift(max_shift, x)
    generator = torch.Generator().manual_seed(seed)
    first, second = torch.randint(
        -max_shift, max_shift + 1, (2, len(x), x.dim() - 2), generator=generator
    )
    views = [_shifted(first, fill), _shifted(second, fill)]
    a, b = _predictions(model, x, views, batch_size, tick)
    return (a == b).double().mean().item()


# -- how reports show them ---------------------------------------------------------------


def curve_table(axis: str, points: Sequence[str], accuracy: Sequence[float]) -> list[str]:
    """evaluate.md's table of an accuracy curve: ``axis`` and its points, accuracy in %."""
    return [
        f"| {axis} | " + " | ".join(points) + " |",
        "|---|" + "---:|" * len(points),
        "| accuracy | " + " | ".join(f"{100 * a:.1f}" for a in accuracy) + " |",
        "",
    ]
