"""Robustness measures: accuracy under rescaling and shifts, shift consistency, equivariance.

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
- ``equivariance``: per top-level layer, ||F(shift x) - shift F(x)|| / ||F(x)||,
  for shifts that are and are not multiples of the layer's cumulative stride,
  compared away from the borders (see ``equivariance``).

Uncovered pixels get ``fill``, the background (a zero pixel after
standardization). The model runs in eval mode without gradients, in batches on
its own device, and the transforms run there too; its training mode is restored
afterwards. Every result is plain Python numbers and lists, ready for JSON.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from convzoo.assemble import ConvNet
from convzoo.data.transforms import rescale, shift
from convzoo.errors import ConvzooError
from convzoo.summary import summary

DEFAULT_SCALES = (0.5, 0.625, 0.75, 0.875, 1.0, 1.25, 1.5, 1.75, 2.0)
MAX_SCALE = 8.0
EQUIVARIANCE_SAMPLES = 64
DIRECTIONS = {
    1: ((1,), (-1,)),
    2: ((1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (1, -1), (-1, 1), (-1, -1)),
}

View = Callable[[torch.Tensor, slice], torch.Tensor]  # (batch on the device, its rows) -> input


# -- checks ----------------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_data(x: torch.Tensor, y: torch.Tensor | None = None) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() not in (3, 4) or len(x) == 0:
        got = list(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ConvzooError(
            f"the samples must be a non-empty tensor [N, C, L] or [N, C, H, W], got {got}"
        )
    if y is not None and (not isinstance(y, torch.Tensor) or tuple(y.shape) != (len(x),)):
        got = list(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
        raise ConvzooError(f"the labels must be a tensor [{len(x)}] (one per sample), got {got}")


def _check_batch_size(batch_size: int) -> None:
    if not _is_int(batch_size) or batch_size < 1:
        raise ConvzooError(f"batch_size must be a positive integer, got {batch_size!r}")


def _check_scales(scales: Sequence[float]) -> list[float]:
    if isinstance(scales, (str, bytes)) or not isinstance(scales, Sequence) or not scales:
        raise ConvzooError(f"scales must be a non-empty list of numbers, got {scales!r}")
    for s in scales:
        if isinstance(s, bool) or not isinstance(s, (int, float)) or not 0 < s <= MAX_SCALE:
            raise ConvzooError(
                f"scale {s!r} is out of range: each scale must be a number in (0, {MAX_SCALE:g}]"
            )
    return [float(s) for s in scales]


def _half_limit(size: int) -> int:
    """The largest shift below half of ``size`` pixels."""
    return (size - 1) // 2


def _check_max_shift(max_shift: int, x: torch.Tensor) -> int:
    size = min(x.shape[2:])
    if not _is_int(max_shift) or not 0 <= max_shift <= _half_limit(size):
        raise ConvzooError(
            f"max_shift {max_shift!r} is out of range: it must be an integer in "
            f"[0, {_half_limit(size)}], below half the input's size {list(x.shape[2:])}"
        )
    return max_shift


def _check_shifts(shifts: Sequence[int], x: torch.Tensor) -> list[int]:
    size = x.shape[-1]
    if isinstance(shifts, (str, bytes)) or not isinstance(shifts, Sequence):
        raise ConvzooError(f"shifts must be a list of positive integers, got {shifts!r}")
    for s in shifts:
        if not _is_int(s) or not 1 <= s <= _half_limit(size):
            raise ConvzooError(
                f"shift {s!r} is out of range: each shift must be a positive integer in "
                f"[1, {_half_limit(size)}], below half the input's length {size}"
            )
    return list(shifts)


def _check_convnet(model: nn.Module) -> ConvNet:
    if not isinstance(model, ConvNet):
        raise ConvzooError(
            f"equivariance needs a network built by convzoo (a ConvNet, with its layers and "
            f"spec), got {type(model).__name__}"
        )
    return model


# -- running the model -----------------------------------------------------------------


def _placement(model: nn.Module) -> tuple[torch.device, torch.dtype | None]:
    """The model's device and floating dtype (CPU and None for a model without tensors)."""
    tensors = [*model.parameters(), *model.buffers()]
    device = tensors[0].device if tensors else torch.device("cpu")
    floating = [t.dtype for t in tensors if t.is_floating_point()]
    return device, floating[0] if floating else None


@contextmanager
def _inference(model: nn.Module) -> Iterator[tuple[torch.device, torch.dtype | None]]:
    """Eval mode and no gradients; the training mode is restored afterwards."""
    training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield _placement(model)
    finally:
        model.train(training)


def _predictions(
    model: nn.Module, x: torch.Tensor, views: Sequence[View], batch_size: int
) -> list[torch.Tensor]:
    """Top-1 classes (CPU) of every sample under each view; each batch is moved once."""
    _check_batch_size(batch_size)
    out: list[list[torch.Tensor]] = [[] for _ in views]
    with _inference(model) as (device, dtype):
        for start in range(0, len(x), batch_size):
            rows = slice(start, start + batch_size)
            batch = x[rows].to(device)
            if dtype is not None:
                batch = batch.to(dtype)
            for preds, view in zip(out, views):
                preds.append(model(view(batch, rows)).argmax(dim=1).cpu())
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


def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """The top-1 class of every sample, on the CPU."""
    _check_data(x)
    return _predictions(model, x, [_as_is], batch_size)[0]


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 512) -> float:
    """The share of samples whose top-1 class is the label."""
    _check_data(x, y)
    return _share(predict(model, x, batch_size), y)


def scale_curve(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    scales: Sequence[float] = DEFAULT_SCALES,
    fill: float = 0.0,
    batch_size: int = 512,
) -> dict[str, Any]:
    """Accuracy with every sample resized by each scale, and the summary.

    ``clean`` is the accuracy at scale 1 (measured even when 1 is not among the
    scales); ``summary`` = mean accuracy over the scales / ``clean`` (NaN when the
    clean accuracy is 0).
    """
    _check_data(x, y)
    scales = _check_scales(scales)
    grid = scales if 1.0 in scales else [*scales, 1.0]
    preds = _predictions(model, x, [_rescaled(s, fill) for s in grid], batch_size)
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
    max_shift: int = 4,
    fill: float = 0.0,
    batch_size: int = 512,
) -> dict[str, Any]:
    """Accuracy under a shift of d = 0..max_shift pixels, averaged over the directions.

    A shift of d moves the samples by (±d, 0), (0, ±d) and (±d, ±d) in 2-D, ±d in 1-D.
    """
    _check_data(x, y)
    max_shift = _check_max_shift(max_shift, x)
    directions = DIRECTIONS[x.dim() - 2]
    views = [_as_is] + [
        _shifted(tuple(d * u for u in unit), fill)
        for d in range(1, max_shift + 1)
        for unit in directions
    ]
    acc = [_share(p, y) for p in _predictions(model, x, views, batch_size)]
    per_shift = [acc[0]] + [
        sum(acc[1 + i : 1 + i + len(directions)]) / len(directions)
        for i in range(0, max_shift * len(directions), len(directions))
    ]
    return {"shifts": list(range(max_shift + 1)), "accuracy": per_shift}


def shift_consistency(
    model: nn.Module,
    x: torch.Tensor,
    max_shift: int = 4,
    fill: float = 0.0,
    seed: int = 0,
    batch_size: int = 512,
) -> float:
    """The share of samples whose top-1 class is the same under two random shifts.

    Each sample gets two offsets, each axis drawn uniformly from
    [-max_shift, max_shift] by a generator seeded with ``seed`` (independent of
    ``batch_size`` and the device).
    """
    _check_data(x)
    max_shift = _check_max_shift(max_shift, x)
    generator = torch.Generator().manual_seed(seed)
    first, second = torch.randint(
        -max_shift, max_shift + 1, (2, len(x), x.dim() - 2), generator=generator
    )
    views = [_shifted(first, fill), _shifted(second, fill)]
    a, b = _predictions(model, x, views, batch_size)
    return (a == b).double().mean().item()


# -- equivariance ----------------------------------------------------------------------


def _interior(n: int, s: int, stride: int, rf: int, width: int) -> range:
    """The positions j compared for a shift ``s`` (see ``equivariance``): j's window must lie
    in [s, width - 1], those of j - s // stride (and of the position before it when the
    move is fractional) in [0, width - 1]."""
    pad = ((n - 1) * stride + rf - width) / 2
    neighbours = (0, 1) if s % stride else (0,)

    def inside(j: int, low: int) -> bool:
        first = j * stride - pad - stride
        return 0 <= j < n and first >= low and first + rf - 1 + 2 * stride <= width - 1

    kept = [
        j
        for j in range(n)
        if inside(j, s) and all(inside(j - s // stride - k, 0) for k in neighbours)
    ]
    return range(kept[0], kept[-1] + 1) if kept else range(0)


def _discrepancy(
    clean: torch.Tensor, moved: torch.Tensor, s: int, stride: int, rf: int, width: int
) -> tuple[float, float, int]:
    """Sums of squares of F(shift x) - shift F(x) and of F(x) over the interior positions
    along the last axis, and how many positions that is."""
    keep = _interior(clean.shape[-1], s, stride, rf, width)
    if not keep:
        return 0.0, 0.0, 0
    whole, frac = s // stride, s % stride / stride
    at = clean[..., keep.start - whole : keep.stop - whole]
    expected = (
        at
        if not frac
        else (1 - frac) * at + frac * clean[..., keep.start - whole - 1 : keep.stop - whole - 1]
    )
    diff = moved[..., keep.start : keep.stop] - expected
    ref = clean[..., keep.start : keep.stop]
    num, den = torch.linalg.vector_norm(diff), torch.linalg.vector_norm(ref)
    return num.item() ** 2, den.item() ** 2, len(keep)


def equivariance(
    model: nn.Module,
    x: torch.Tensor,
    shifts: Sequence[int] = (1, 2, 3, 4),
    fill: float = 0.0,
    batch_size: int = 512,
) -> list[dict[str, Any]]:
    """Per top-level layer and shift s along the last axis: ||F(shift x) - shift F(x)|| / ||F(x)||.

    F is the network up to and including the layer, run on the first 64 samples;
    the norms are over those samples, all channels, every row (2-D) and the
    interior positions along the shifted axis.
    shift F(x) moves the map by s / S positions, S the layer's cumulative stride:
    an exact move when S divides s (``multiple``), else linear interpolation
    between the two neighbouring positions.

    Interior: with n positions along the axis, receptive field R and input length
    W, position j is taken to see input pixels [j*S - p, j*S - p + R - 1], where
    p = ((n - 1)*S + R - W) / 2 is the padding the sizes imply. Position j is
    compared only if that window, widened by S pixels on each side (for rounding
    and uneven padding), lies in [s, W - 1] (so F(shift x) there sees neither the
    shift's fill nor padding) and the windows of the one or two positions of F(x)
    it is compared with lie in [0, W - 1]. Layers without spatial dimensions or
    with an unknown stride, and (layer, shift) pairs with no interior position,
    are left out.
    """
    model = _check_convnet(model)
    _check_data(x)
    shifts = _check_shifts(shifts, x)
    _check_batch_size(batch_size)
    x = x[:EQUIVARIANCE_SAMPLES]
    dims, width = x.dim() - 2, x.shape[-1]
    geometry = {layer.path: layer for layer in summary(model).layers}
    top = [row for row in model.rows if row.depth == 0]
    offsets = [(s,) + (0,) * (dims - 1) for s in shifts]
    chunk = max(1, batch_size // (1 + len(shifts)))
    sums: dict[tuple[int, int], list[float]] = {}
    with _inference(model) as (device, dtype):
        for start in range(0, len(x), chunk):
            clean = x[start : start + chunk].to(device)
            if dtype is not None:
                clean = clean.to(dtype)
            h = torch.cat([clean, *(shift(clean, o, fill) for o in offsets)])
            for i, (row, layer) in enumerate(zip(top, model.layers)):
                h = layer(h)
                info = geometry[row.path]
                if h.dim() != dims + 2 or info.stride is None or info.rf is None:
                    continue
                maps = h.split(len(clean))
                for s, moved in zip(shifts, maps[1:]):
                    num, den, count = _discrepancy(
                        maps[0], moved, s, info.stride[-1], info.rf[-1], width
                    )
                    total = sums.setdefault((i, s), [0.0, 0.0, 0])
                    total[0] += num
                    total[1] += den
                    total[2] = count
    results = []
    for (i, s), (num, den, count) in sums.items():
        if not count:
            continue
        stride = geometry[top[i].path].stride[-1]
        error = math.sqrt(num / den) if den > 0 else (0.0 if num == 0 else math.inf)
        results.append(
            {
                "path": top[i].path,
                "block": top[i].block,
                "stride": int(stride),
                "shift": s,
                "multiple": s % stride == 0,
                "error": error,
            }
        )
    return results


def evaluate_all(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    fill: float = 0.0,
    scales: Sequence[float] = DEFAULT_SCALES,
    max_shift: int = 4,
    batch_size: int = 512,
) -> dict[str, Any]:
    """Every measure: clean accuracy, scale and shift curves, shift consistency, and the
    equivariance errors for shifts 1..max_shift."""
    _check_convnet(model)
    _check_data(x, y)
    _check_scales(scales)
    _check_max_shift(max_shift, x)
    _check_batch_size(batch_size)
    scale = scale_curve(model, x, y, scales, fill, batch_size)
    return {
        "clean_acc": scale["clean"],
        "scale": scale,
        "shift": shift_curve(model, x, y, max_shift, fill, batch_size),
        "shift_consistency": shift_consistency(model, x, max_shift, fill, batch_size=batch_size),
        "equivariance": equivariance(model, x, range(1, max_shift + 1), fill, batch_size),
    }
