"""The effective receptive field (Luo et al. 2016): how much of its theoretical field a unit uses.

A unit of a convnet depends on every input pixel its window covers -- its
theoretical receptive field -- but not evenly: the pixels near its centre count
far more, and a deep stack concentrates them further. This measure says how
far, with the definition of DESIGN.md ("Evaluation"):

- the unit: for each top-level layer whose output is a spatial map, its central
  position (index (n - 1) // 2 along each spatial axis of n positions), the
  channels summed: y = sum_c F(x)[c, centre]. The central one is the unit least
  touched by the borders' padding.
- the gradient map: |dy/dx| summed over the input's channels, averaged over the
  first ``samples`` test samples (``EvaluateConfig``, as the equivariance), with the
  network in eval mode.
- the theoretical field: the input pixels the unit's window covers, from the
  summary's window and cumulative stride (the padding the sizes imply, as the
  equivariance measure takes it), clipped to the input; the whole input for a
  layer that sees all of it (``summary``'s ``rf == "all"``).
- the share: the fewest pixels, largest gradient first, that hold 95% of the
  map's mass, over the pixels of the theoretical field.

Every top-level layer with a spatial output and a known geometry is measured (a
forward pass and one backward pass per layer, per chunk of ``batch_size``
samples); the layers without one are left out, saying why. The summary number is
the last measured layer's share -- the deepest spatial map, the one the
classifier reads -- and the plot is its gradient map, stored relative to its
maximum (three decimals) so that a result stays small. ``markdown`` and ``plot``
are how reports show it (its entry in the table of measures, ``measures``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from torch import nn

from convzoo.assemble import ConvNet
from convzoo.evaluate._checks import check_batch_size, check_convnet, check_data
from convzoo.evaluate._figures import figure, save_png
from convzoo.evaluate._inference import Inputs, inference
from convzoo.evaluate.config import DEFAULTS
from convzoo.evaluate.progress import Tick, no_tick
from convzoo.summary import ALL, LayerSummary, summary

MASS = 0.95  # the share of the gradient's mass the effective field holds


@dataclass(frozen=True)
class Measured:
    """A top-level layer to measure: its index, path and block, the central position of its
    output and its theoretical field, ``(first, last)`` input pixel per spatial axis."""

    index: int
    path: str
    block: str
    centre: tuple[int, ...]
    field: tuple[tuple[int, int], ...]


def _span(n: int, stride: int, window: int, width: int) -> tuple[int, int]:
    """The input pixels the central of ``n`` positions sees, widened to whole pixels where
    the implied padding is uneven, clipped to the input."""
    pad = ((n - 1) * stride + window - width) / 2
    first = (n - 1) // 2 * stride - pad
    return max(0, math.floor(first)), min(width - 1, math.ceil(first + window - 1))


def _field(layer: LayerSummary, width: tuple[int, ...]) -> tuple[tuple[int, int], ...] | str:
    """The theoretical field of the layer's central unit, or why it has none."""
    sizes = layer.out_shape[1:]
    if len(sizes) != len(width):
        return "its output has no spatial axis"
    if layer.rf == ALL:
        return tuple((0, w - 1) for w in width)
    if layer.window is None or layer.stride is None:
        return "the summary does not know its window"
    return tuple(map(_span, sizes, layer.stride, layer.window, width))


def measured_layers(model: ConvNet) -> tuple[list[Measured], list[dict[str, str]]]:
    """The top-level layers to measure, and those left out with why."""
    width = tuple(model.spec.input[1:])
    geometry = {layer.path: layer for layer in summary(model).layers}
    measured, left_out = [], []
    for index, row in enumerate(r for r in model.rows if r.depth == 0):
        layer = geometry[row.path]
        field = _field(layer, width)
        if isinstance(field, str):
            left_out.append({"path": row.path, "block": row.block, "reason": field})
        else:
            centre = tuple((n - 1) // 2 for n in layer.out_shape[1:])
            measured.append(Measured(index, row.path, row.block, centre, field))
    return measured, left_out


def gradient_maps(
    model: ConvNet,
    x: torch.Tensor,
    layers: Sequence[Measured],
    batch_size: int = DEFAULTS.batch_size,
    tick: Tick = no_tick,
) -> list[torch.Tensor]:
    """Per layer, |dy/dx| of its central unit y, summed over the input's channels and
    averaged over the samples ``x``: one map of the input's spatial shape each (CPU)."""
    sums = [torch.zeros(x.shape[2:], dtype=torch.float64) for _ in layers]
    centres = {layer.index: (slice(None), slice(None), *layer.centre) for layer in layers}
    with inference(model) as place, torch.enable_grad():
        for start in range(0, len(x), batch_size):
            batch = place(x[start : start + batch_size]).requires_grad_(True)
            h, units = batch, []
            for index, module in enumerate(model.layers):
                h = module(h)
                if index in centres:
                    units.append(h[centres[index]].sum())
            for total, unit in zip(sums, units):
                (grad,) = torch.autograd.grad(unit, batch, retain_graph=True)
                total += grad.abs().sum(dim=(0, 1)).double().cpu()
            tick()
    return [total / len(x) for total in sums]


def share(gradient: torch.Tensor, field: Sequence[tuple[int, int]]) -> tuple[int, float | None]:
    """The fewest pixels (largest first) holding ``MASS`` of the map's mass, and their share
    of the theoretical ``field``'s pixels (None when the map has no mass)."""
    values = gradient.flatten().sort(descending=True).values
    total = values.sum().item()
    if total <= 0:
        return 0, None
    pixels = int((values.cumsum(0) < MASS * total).sum().item()) + 1
    return pixels, pixels / math.prod(last - first + 1 for first, last in field)


def _relative(gradient: torch.Tensor) -> list[Any]:
    """The map relative to its maximum, three decimals, as nested lists."""
    top = gradient.max().item()
    return (gradient / top if top > 0 else gradient).round(decimals=3).tolist()


def measure(
    model: nn.Module,
    x: torch.Tensor,
    samples: int = DEFAULTS.samples,
    batch_size: int = DEFAULTS.batch_size,
    tick: Tick = no_tick,
) -> dict[str, Any]:
    """The effective field of every measured layer (``layers``: path, block, theoretical
    ``field`` in pixels per axis, the ``pixels`` holding 95% of the mass and their
    ``share``), the last one's ``share``, ``path``, ``field`` (first and last pixel per axis)
    and relative ``gradient`` map (None where no layer is measured), the layers
    ``left_out`` and the ``samples`` used."""
    model = check_convnet(model)
    check_data(x)
    check_batch_size(batch_size)
    x = x[:samples]
    measured, left_out = measured_layers(model)
    maps = gradient_maps(model, x, measured, batch_size, tick)
    rows = []
    for layer, gradient in zip(measured, maps):
        pixels, part = share(gradient, layer.field)
        sizes = [last - first + 1 for first, last in layer.field]
        rows.append(
            {
                "path": layer.path,
                "block": layer.block,
                "field": sizes,
                "pixels": pixels,
                "share": part,
            }
        )
    last = measured[-1] if measured else None
    return {
        "layers": rows,
        "share": rows[-1]["share"] if rows else None,
        "path": last.path if last else None,
        "field": [list(span) for span in last.field] if last else None,
        "gradient": _relative(maps[-1]) if maps else None,
        "left_out": left_out,
        "samples": len(x),
    }


def run(inputs: Inputs, tick: Tick) -> dict[str, Any]:
    """The measure's entries of ``evaluate_all``'s result."""
    config = inputs.config
    found = measure(inputs.model, inputs.x, config.samples, config.batch_size, tick)
    return {"effective_rf": found, "samples": {"effective_rf": found["samples"]}}


# -- how reports show it -----------------------------------------------------------------


def markdown(result: Mapping[str, Any]) -> list[str]:
    """evaluate.md's lines: each measured layer's field and share, the layers left out."""
    found = result["effective_rf"]
    left_out = "; ".join(f"{e['path']} {e['block']} ({e['reason']})" for e in found["left_out"])
    lines = [
        "Effective receptive field (Luo et al. 2016): |gradient| of each layer's central unit "
        f"with respect to the input, over the first {found['samples']} test samples; the "
        f"pixels that hold {MASS:.0%} of its mass, and their share of the layer's theoretical "
        f"field. Left out: {left_out or 'none'}.",
        "",
        f"| layer | block | theoretical field (px) | {MASS:.0%} of the mass (px) | share (%) |",
        "|---|---|---:|---:|---:|",
    ]
    lines += [
        f"| {e['path']} | {e['block']} | {'x'.join(map(str, e['field']))} | {e['pixels']} | "
        + ("n/a" if e["share"] is None else f"{100 * e['share']:.1f}")
        + " |"
        for e in found["layers"]
    ]
    return [*lines, ""]


def figure_of(result: Mapping[str, Any]) -> Figure:
    """The last measured layer's gradient map (an image, or a profile for 1-D data) with its
    theoretical field outlined."""
    found = result["effective_rf"]
    fig, ax = figure(5.6, 4.8)
    if found["gradient"] is None:
        ax.text(0.5, 0.5, "no layer with a spatial map and a known window", ha="center")
        ax.set_axis_off()
        return fig
    gradient, field = found["gradient"], found["field"]
    if len(field) == 2:
        image = ax.imshow(gradient, cmap="magma", vmin=0.0, vmax=1.0)
        fig.colorbar(image, ax=ax, label="|gradient| / its maximum")
        (top, bottom), (left, right) = field
        box = (left - 0.5, top - 0.5)
        ax.add_patch(
            Rectangle(box, right - left + 1, bottom - top + 1, fill=False, ec="C0", lw=1.5)
        )
    else:
        ax.plot(range(len(gradient)), gradient, color="C1")
        ax.axvspan(field[0][0] - 0.5, field[0][1] + 0.5, color="C0", alpha=0.15)
        ax.set(ylabel="|gradient| / its maximum", ylim=(0, 1.05))
    share_text = "n/a" if found["share"] is None else f"{100 * found['share']:.1f}%"
    ax.set_title(f"Effective receptive field: {result['arch']}, {found['path']}", fontsize="small")
    ax.set_xlabel(
        f"{share_text} of the theoretical field (outlined) holds {MASS:.0%} of the gradient's "
        f"mass; {found['samples']} samples",
        fontsize="x-small",
    )
    return fig


def plot(path: Path, result: Mapping[str, Any]) -> Path:
    """``figure_of`` as a PNG."""
    return save_png(figure_of(result), path)
