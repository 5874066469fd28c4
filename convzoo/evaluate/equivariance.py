"""Shift equivariance per layer: ||F(shift x) - shift F(x)|| / ||F(x)||, away from the borders.

A convolution commutes with shifts: moving the input moves its feature map. A
layer with cumulative stride S keeps that only for shifts that are multiples of
S -- pooling and strided convolutions are where exact equivariance is lost, and
blurring before subsampling (``pool.blur``) is meant to lose less of it. This
measure says how much, layer by layer, with the definition of DESIGN.md
("Evaluation"); ``equivariance`` spells out which positions are compared.
``markdown``, ``merge`` and ``note`` are how reports show it (its entry in the
table of measures, ``measures``).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from convzoo.assemble import ConvNet
from convzoo.data.transforms import shift
from convzoo.evaluate._checks import check_batch_size, check_convnet, check_data, check_shifts
from convzoo.evaluate._inference import inference
from convzoo.evaluate.config import DEFAULTS
from convzoo.evaluate.progress import Tick, no_tick
from convzoo.summary import summary


@dataclass(frozen=True)
class _Stage:
    """A top-level layer: its module, path and block, and its cumulative stride and receptive
    field along the last axis (None where the summary cannot tell: the stage is not measured)."""

    module: nn.Module
    path: str
    block: str
    stride: int | None
    rf: int | None

    def geometry(self) -> tuple[int, int]:
        """The stride and receptive field of a stage that is measured (both known)."""
        if self.stride is None or self.rf is None:
            raise ValueError(f"{self.path}: its geometry is unknown, so it is not measured")
        return self.stride, self.rf


@dataclass
class _Sums:
    """One (stage, shift): the sums of squares of F(shift x) - shift F(x) and of F(x) over
    the chunks so far, and how many interior positions each chunk compares."""

    num: float = 0.0
    den: float = 0.0
    count: int = 0


@dataclass
class Equivariance:
    """What ``measure`` found: one row per measured (layer, shift), the layers it left out
    (``{"path", "block", "reason"}``) and how many samples it ran on."""

    rows: list[dict[str, Any]]
    left_out: list[dict[str, str]]
    samples: int


@dataclass
class _Pass:
    """The running sums per (stage index, shift) and the stages whose output was spatial."""

    sums: dict[tuple[int, int], _Sums] = field(default_factory=dict)
    spatial: set[int] = field(default_factory=set)


def _stages(model: ConvNet) -> list[_Stage]:
    """The network's top-level layers, in order, with their geometry from the summary."""
    geometry = {layer.path: layer for layer in summary(model).layers}
    stages = []
    for row, module in zip([r for r in model.rows if r.depth == 0], model.layers):
        info = geometry[row.path]
        if info.stride is not None and info.window is not None:
            stages.append(_Stage(module, row.path, row.block, info.stride[-1], info.window[-1]))
        else:
            stages.append(_Stage(module, row.path, row.block, None, None))
    return stages


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


def _add_stage(
    sums: dict[tuple[int, int], _Sums],
    index: int,
    stage: _Stage,
    maps: Sequence[torch.Tensor],
    shifts: Sequence[int],
    width: int,
) -> None:
    """Add one chunk's discrepancies at a stage: ``maps`` holds F(x), then F(shift x) per shift."""
    for s, moved in zip(shifts, maps[1:]):
        num, den, count = _discrepancy(maps[0], moved, s, *stage.geometry(), width)
        total = sums.setdefault((index, s), _Sums())
        total.num += num
        total.den += den
        total.count = count


def _add_chunk(
    found: _Pass,
    stages: Sequence[_Stage],
    clean: torch.Tensor,
    shifts: Sequence[int],
    fill: float,
    width: int,
) -> None:
    """Run a chunk and its shifted copies through the stages in one batch, adding the
    discrepancies of every stage whose map is spatial and whose geometry is known."""
    offsets = [(s,) + (0,) * (clean.dim() - 3) for s in shifts]
    h = torch.cat([clean, *(shift(clean, o, fill) for o in offsets)])
    for index, stage in enumerate(stages):
        h = stage.module(h)
        if h.dim() == clean.dim():
            found.spatial.add(index)
            if stage.stride is not None:
                _add_stage(found.sums, index, stage, h.split(len(clean)), shifts, width)


def chunk_size(shifts: Sequence[int], batch_size: int) -> int:
    """Samples per chunk: a chunk and its shifted copies make at most ``batch_size`` samples
    (at least one each)."""
    return max(1, batch_size // (1 + len(shifts)))


def _accumulate(
    model: ConvNet,
    x: torch.Tensor,
    shifts: Sequence[int],
    fill: float,
    batch_size: int,
    tick: Tick,
) -> tuple[list[_Stage], _Pass]:
    """The stages and what one pass over ``x`` in chunks found; ``tick`` after each chunk."""
    stages = _stages(model)
    chunk = chunk_size(shifts, batch_size)
    found = _Pass()
    with inference(model) as place:
        for start in range(0, len(x), chunk):
            clean = place(x[start : start + chunk])
            _add_chunk(found, stages, clean, shifts, fill, x.shape[-1])
            tick()
    return stages, found


def _reason(stage: _Stage, spatial: bool, width: int) -> str:
    """Why a stage has no measured shift."""
    if not spatial:
        return "its output has no spatial axis"
    if stage.stride is None:
        return "the summary does not know its stride"
    return (
        f"no position is away from the borders (receptive field {stage.rf} px, "
        f"stride {stage.stride}, input {width} px)"
    )


def _result(stage: _Stage, s: int, total: _Sums) -> dict[str, Any]:
    """One row of the result: the relative error of a stage under a shift ``s``."""
    if total.den > 0:
        error = math.sqrt(total.num / total.den)
    else:
        error = 0.0 if total.num == 0 else math.inf
    return {
        "path": stage.path,
        "block": stage.block,
        "stride": stage.geometry()[0],
        "shift": s,
        "multiple": s % stage.geometry()[0] == 0,
        "error": error,
    }


def default_shifts(max_shift: int = DEFAULTS.max_shift) -> list[int]:
    """The shifts measured: 1 to ``max_shift`` pixels."""
    return list(range(1, max_shift + 1))


def measure(
    model: nn.Module,
    x: torch.Tensor,
    shifts: Sequence[int] | None = None,
    fill: float = 0.0,
    batch_size: int = DEFAULTS.batch_size,
    tick: Tick = no_tick,
    samples: int = DEFAULTS.samples,
) -> Equivariance:
    """``equivariance``'s rows, with the layers it left out and why, and the sample count;
    ``tick`` is called after each chunk of samples (``chunk_size``)."""
    model = check_convnet(model)
    check_data(x)
    shifts = check_shifts(default_shifts() if shifts is None else shifts, x)
    check_batch_size(batch_size)
    x = x[:samples]
    stages, found = _accumulate(model, x, shifts, fill, batch_size, tick)
    rows = [_result(stages[i], s, total) for (i, s), total in found.sums.items() if total.count]
    measured = {row["path"] for row in rows}
    left_out = [
        {
            "path": stage.path,
            "block": stage.block,
            "reason": _reason(stage, i in found.spatial, x.shape[-1]),
        }
        for i, stage in enumerate(stages)
        if stage.path not in measured
    ]
    return Equivariance(rows, left_out, len(x))


def equivariance(
    model: nn.Module,
    x: torch.Tensor,
    shifts: Sequence[int] | None = None,
    fill: float = 0.0,
    batch_size: int = DEFAULTS.batch_size,
    samples: int = DEFAULTS.samples,
) -> list[dict[str, Any]]:
    """Per top-level layer and shift s along the last axis: ||F(shift x) - shift F(x)|| / ||F(x)||.

    ``shifts`` are by default 1 to ``EvaluateConfig``'s ``max_shift`` pixels.
    F is the network up to and including the layer, run on the first ``samples`` samples;
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
    are left out (``measure`` says which and why).
    """
    return measure(model, x, shifts, fill, batch_size, samples=samples).rows


# -- how reports show it -----------------------------------------------------------------


def markdown(result: Mapping[str, Any]) -> list[str]:
    """evaluate.md's lines: what the measures ran on, the layers left out, and the errors."""
    samples = result["samples"]
    measured = ", ".join(dict.fromkeys(e["path"] for e in result["equivariance"])) or "none"
    left_out = "; ".join(
        f"{e['path']} {e['block']} ({e['reason']})" for e in result["equivariance_left_out"]
    )
    lines = [
        f"Samples: {samples['accuracy']:,} test samples for the accuracy measures, the first "
        f"{samples['equivariance']} for equivariance. Layers measured: {measured}. "
        f"Left out: {left_out or 'none'}.",
        "",
        "Equivariance error ||F(shift x) - shift F(x)|| / ||F(x)|| per layer:",
        "",
        "| layer | block | stride | shift | multiple of stride | error |",
        "|---|---|---:|---:|---|---:|",
    ]
    lines += [
        f"| {e['path']} | {e['block']} | {e['stride']} | {e['shift']} | "
        f"{'yes' if e['multiple'] else 'no'} | {e['error']:.4f} |"
        for e in result["equivariance"]
    ]
    return [*lines, ""]


def merge(evaluations: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The seeds of one bench configuration as one: the mean error per (layer, shift), the
    layers left out and the samples (None where results are too old to record them)."""
    merged: dict[tuple[str, int], dict[str, Any]] = {}
    for evaluation in evaluations:
        for row in evaluation["equivariance"]:
            entry = merged.setdefault((row["path"], row["shift"]), {**row, "errors": []})
            entry["errors"].append(row["error"])
    return {
        "equivariance": [
            {
                **{k: v for k, v in e.items() if k != "errors"},
                "error": statistics.fmean(e["errors"]),
            }
            for e in merged.values()
        ],
        "equivariance_left_out": evaluations[0].get("equivariance_left_out"),
        "equivariance_samples": evaluations[0].get("samples", {}).get("equivariance"),
    }


def note(name: str, entry: Mapping[str, Any]) -> str:
    """The bench report's line on a configuration: its samples and the layers left out."""
    left_out, samples = entry.get("equivariance_left_out"), entry.get("equivariance_samples")
    if left_out is None:
        return f"- equivariance of {name}: layers left out not recorded"
    skipped = "; ".join(f"{x['path']} {x['block']} ({x['reason']})" for x in left_out)
    return f"- equivariance of {name} ({samples} samples): " + (
        f"not measured: {skipped}" if skipped else "every layer measured"
    )
