"""PNG plots of the robustness measures and of benchmark results, one figure per file.

Each ``*_figure`` function builds one figure and returns it, so tests can check
its axes and labels; the matching ``plot_*`` function writes it as a PNG and
returns the path. Inputs are the plain dicts that ``measures.evaluate_all`` and
the benchmark runner produce, so a plot can be redrawn from a saved JSON file.
The figures are meant to survive a reviewer: scales, which are geometric, sit on
a log axis; bars start at zero; a spread over seeds (``std``) is drawn as a band
or error bars that stay inside [0, 100] %; an equivariance error of exactly 0 is
still marked and written; labels do not overlap.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

from convzoo.evaluate._figures import (
    band,
    figure,
    legend,
    save_png,
    separate,
    spread,
    style,
    wide,
)

MARKERS = "osD^v<>ph*"
ANNOTATED = 10
NOT_MEASURED = "n/a"


def _percent(values: Sequence[float | None]) -> list[float]:
    return [math.nan if v is None else 100 * v for v in values]


def _curves(ax: Any, curves: Mapping[str, Mapping[str, Any]], axis: str) -> None:
    """One line per label, with a band of its ``std`` over seeds where there is one."""
    for i, (label, curve) in enumerate(curves.items()):
        accuracy = _percent(curve["accuracy"])
        ax.plot(curve[axis], accuracy, marker="o", ms=3, label=label, clip_on=False, **style(i))
        if curve.get("std") is not None:
            low, high = band(accuracy, _percent(curve["std"]))
            ax.fill_between(curve[axis], low, high, color=style(i)["color"], alpha=0.2, lw=0)
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    legend(ax, len(curves))


def scale_curves_figure(curves: Mapping[str, Mapping[str, Any]]) -> Figure:
    """Accuracy against input scale on a log axis, one line per label (``{"scales",
    "accuracy"}``, optionally ``"std"``), ticks at the scales measured."""
    fig, ax = figure(wide(len(curves)))
    _curves(ax, curves, "scales")
    ax.set_xscale("log", base=2)
    scales = sorted({s for curve in curves.values() for s in curve["scales"]})
    ax.set_xticks(scales)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda s, _: f"{s:g}"))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.tick_params(axis="x", labelsize="small")
    ax.axvline(1.0, color="0.6", lw=0.8, ls=":")
    ax.set(
        xlabel="scale factor (log axis)",
        ylabel="test accuracy (%)",
        title="Accuracy under rescaling",
    )
    return fig


def plot_scale_curves(path: str | Path, curves: Mapping[str, Mapping[str, Any]]) -> Path:
    """``scale_curves_figure`` as a PNG."""
    return save_png(scale_curves_figure(curves), path)


def shift_curves_figure(curves: Mapping[str, Mapping[str, Any]]) -> Figure:
    """Accuracy against shift in pixels, one line per label (``{"shifts", "accuracy"}``,
    optionally ``"std"``)."""
    fig, ax = figure(wide(len(curves)))
    _curves(ax, curves, "shifts")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set(xlabel="shift (pixels)", ylabel="test accuracy (%)", title="Accuracy under shifts")
    return fig


def plot_shift_curves(path: str | Path, curves: Mapping[str, Mapping[str, Any]]) -> Path:
    """``shift_curves_figure`` as a PNG."""
    return save_png(shift_curves_figure(curves), path)


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def _layers(rows: Sequence[Mapping[str, Any]]) -> dict[str, dict[Any, Any]]:
    """Per layer path, in order: its block, stride and errors by ``multiple``."""
    layers: dict[str, dict[Any, Any]] = {}
    for row in rows:
        layer = layers.setdefault(
            row["path"], {"block": row["block"], "stride": row["stride"], True: [], False: []}
        )
        layer[bool(row["multiple"])].append(float(row["error"]))
    return layers


def _footnote(
    left_out: Sequence[Mapping[str, str]] | None, samples: int | None, width: float
) -> str:
    """What the chart rests on: the samples, what ``n/a`` means, the layers left out
    (``None``: results too old to record them)."""
    parts = [f"{samples} test samples." if samples else ""]
    parts.append(f"{NOT_MEASURED}: no shift of that kind among those measured.")
    if left_out is None:
        parts.append("Layers left out of the measure: not recorded in these results.")
    else:
        parts += [f"Not measured: {e['path']} {e['block']} ({e['reason']})." for e in left_out]
    return textwrap.fill(" ".join(p for p in parts if p), width=int(16 * width))


def equivariance_figure(
    rows: Sequence[Mapping[str, Any]],
    title: str = "Shift equivariance per layer",
    left_out: Sequence[Mapping[str, str]] | None = (),
    samples: int | None = None,
) -> Figure:
    """Mean equivariance error per layer, shifts that are multiples of the layer's
    cumulative stride next to those that are not (rows of ``evaluate_all``'s
    ``equivariance``). Each bar has a marker at its value and the value written above
    it, so an error of exactly 0 shows; a layer without shifts of a kind reads ``n/a``.
    ``left_out`` (``{"path", "block", "reason"}``; None: not recorded) and ``samples`` are
    written below."""
    layers = _layers(rows)
    fig, ax = figure(max(6.4, 0.8 * len(layers) + 2.0), 4.6)
    width = 0.4
    for i, (offset, multiple, name) in enumerate(
        ((-width / 2, True, "shift a multiple of the stride"), (width / 2, False, "other shifts"))
    ):
        x = [p + offset for p in range(len(layers))]
        heights = [_mean(layer[multiple]) for layer in layers.values()]
        bars = ax.bar(x, [0.0 if math.isnan(h) else h for h in heights], width, label=name)
        ax.plot(x, heights, ls="none", marker="_", ms=12, mew=2, color=f"C{i}", clip_on=False)
        texts = [NOT_MEASURED if math.isnan(h) else f"{h:.2g}" for h in heights]
        ax.bar_label(bars, texts, fontsize="xx-small", padding=2)
    ax.set_xticks(range(len(layers)))
    ax.set_xticklabels(
        [f"{p}\n{layer['block']}\nstride {layer['stride']}" for p, layer in layers.items()],
        fontsize="x-small",
    )
    ax.set_ylim(bottom=0)
    ax.margins(y=0.12)
    ax.set_xlabel(_footnote(left_out, samples, fig.get_figwidth()), fontsize="x-small")
    ax.set(ylabel="relative error  ||F(shift x) - shift F(x)|| / ||F(x)||", title=title)
    ax.yaxis.label.set_fontsize("small")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize="small")
    return fig


def plot_equivariance(
    path: str | Path,
    rows: Sequence[Mapping[str, Any]],
    title: str = "Shift equivariance per layer",
    left_out: Sequence[Mapping[str, str]] | None = (),
    samples: int | None = None,
) -> Path:
    """``equivariance_figure`` as a PNG."""
    return save_png(equivariance_figure(rows, title, left_out, samples), path)


def _count(value: float, _: Any = None) -> str:
    """A parameter count in few characters: 950, 21k, 1.2M."""
    for size, unit in ((1e6, "M"), (1e3, "k")):
        if value >= size:
            return f"{value / size:.3g}{unit}"
    return f"{value:.3g}"


def _params_axis(ax: Any, params: Sequence[float]) -> None:
    """A log axis over at least one decade about the counts, ticks at 1, 2 and 5 x 10^k."""
    low, high = min(params) / 1.5, max(params) * 1.5
    if high / low < 10:
        middle = math.sqrt(low * high)
        low, high = middle / math.sqrt(10), middle * math.sqrt(10)
    ax.set_xscale("log")
    ax.set_xlim(low, high)
    ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(_count))
    ax.xaxis.set_minor_locator(LogLocator(subs="auto"))
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda *_: ""))


def accuracy_vs_params_figure(rows: Sequence[Mapping[str, Any]]) -> Figure:
    """Accuracy against parameter count (log scale), one point per row (``{"label",
    "params", "accuracy"}`` with an optional ``"std"``, accuracies in [0, 1]); a few
    points are labelled where they are, moved apart where labels would overlap, many
    in a legend."""
    annotate = len(rows) <= ANNOTATED
    fig, ax = figure(6.4 if annotate else wide(len(rows)))
    labels = []
    for i, row in enumerate(rows):
        accuracy = 100 * row["accuracy"]
        low, high = spread(accuracy, None if row.get("std") is None else 100 * row["std"])
        ax.errorbar(
            row["params"],
            accuracy,
            yerr=[[low], [high]],
            fmt=MARKERS[i // 10 % len(MARKERS)],
            color=f"C{i % 10}",
            ms=4,
            capsize=3,
            label=None if annotate else row["label"],
        )
        if annotate:
            labels.append(
                ax.annotate(
                    row["label"],
                    (row["params"], accuracy),
                    fontsize="x-small",
                    xytext=(6, 2),
                    textcoords="offset points",
                    color=f"C{i % 10}",
                )
            )
    if rows:
        _params_axis(ax, [row["params"] for row in rows])
    ax.set(xlabel="parameters (log axis)", ylabel="test accuracy (%)")
    ax.set_title("Accuracy vs parameters (bars: ± 1 s.d. over seeds)")
    ax.grid(alpha=0.3, which="major")
    if annotate:
        separate(fig, labels)
    else:
        legend(ax, len(rows))
    return fig


def plot_accuracy_vs_params(path: str | Path, rows: Sequence[Mapping[str, Any]]) -> Path:
    """``accuracy_vs_params_figure`` as a PNG."""
    return save_png(accuracy_vs_params_figure(rows), path)


def shares_figure(rows: Sequence[Mapping[str, Any]], title: str, ylabel: str) -> Figure:
    """A share per label (shift consistency, ...) as bars from 0 to 100 % with
    standard-deviation error bars clipped to [0, 100] (``{"label", "mean"}`` with an
    optional ``"std"``, values in [0, 1]); each bar has its value written on it."""
    fig, ax = figure(max(6.4, 0.35 * len(rows) + 2.0), 4.8)
    positions = list(range(len(rows)))
    means = [100 * row["mean"] for row in rows]
    reach = [
        spread(m, None if row.get("std") is None else 100 * row["std"])
        for m, row in zip(means, rows)
    ]
    bars = ax.bar(
        positions, means, yerr=list(zip(*reach)) or None, capsize=3, color="tab:blue", width=0.6
    )
    ax.bar_label(bars, [f"{m:.1f}" for m in means], label_type="center", fontsize="x-small")
    ax.set_xticks(positions)
    ax.set_xticklabels([row["label"] for row in rows], rotation=60, ha="right", fontsize="x-small")
    ax.set_ylim(0.0, 100.0)
    ax.set(ylabel=ylabel, title=f"{title} (± 1 s.d. over seeds)")
    ax.grid(alpha=0.3, axis="y")
    return fig


def plot_shares(
    path: str | Path, rows: Sequence[Mapping[str, Any]], title: str, ylabel: str
) -> Path:
    """``shares_figure`` as a PNG."""
    return save_png(shares_figure(rows, title, ylabel), path)
