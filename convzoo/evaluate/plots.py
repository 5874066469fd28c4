"""PNG plots of the robustness measures and of benchmark results, one figure per file.

Each function draws one figure with matplotlib's Agg canvas (no display, no
global pyplot state, so plotting is safe in worker processes and tests), writes
it as a PNG and returns its path. Inputs are the plain dicts that
``robustness.evaluate_all`` and the benchmark runner produce, so a plot can be
redrawn from a saved JSON file.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from convzoo.io import write_atomic

DPI = 120


def _figure(width: float = 6.4, height: float = 4.2) -> tuple[Figure, Any]:
    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure, figure.add_subplot()


def save_png(figure: Figure, path: str | Path, dpi: float | None = None) -> Path:
    """Render ``figure`` as PNG and write it atomically."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return write_atomic(path, buffer.getvalue())


MARKERS = "osD^v<>ph*"
ANNOTATED = 10


def _columns(count: int) -> int:
    """Legend columns beside the axes for ``count`` entries (0: a legend inside)."""
    return 0 if count <= 8 else math.ceil(count / 18)


def _legend(ax: Any, count: int) -> None:
    if _columns(count):
        ax.legend(
            fontsize="x-small", loc="upper left", bbox_to_anchor=(1.01, 1.0), ncols=_columns(count)
        )
    elif count:
        ax.legend(fontsize="small")


def _style(index: int) -> dict[str, Any]:
    """Colour and line style of the ``index``-th curve: ten colours, then the next dash."""
    return {"color": f"C{index % 10}", "ls": ("-", "--", ":", "-.")[index // 10 % 4]}


def _wide(count: int) -> float:
    """A figure width that leaves room for a legend of ``count`` entries."""
    return 6.4 + 3.4 * _columns(count)


def plot_scale_curves(path: str | Path, curves: Mapping[str, Mapping[str, Any]]) -> Path:
    """Accuracy against input scale, one line per label (``{"scales", "accuracy", ...}``)."""
    figure, ax = _figure(_wide(len(curves)))
    for i, (label, curve) in enumerate(curves.items()):
        accuracy = [100 * a for a in curve["accuracy"]]
        ax.plot(curve["scales"], accuracy, marker="o", ms=3, label=label, **_style(i))
    ax.axvline(1.0, color="0.6", lw=0.8, ls=":")
    ax.set(xlabel="scale factor", ylabel="test accuracy (%)", title="Accuracy under rescaling")
    ax.grid(alpha=0.3)
    _legend(ax, len(curves))
    return save_png(figure, path)


def plot_shift_curves(path: str | Path, curves: Mapping[str, Mapping[str, Any]]) -> Path:
    """Accuracy against shift in pixels, one line per label (``{"shifts", "accuracy"}``)."""
    figure, ax = _figure(_wide(len(curves)))
    for i, (label, curve) in enumerate(curves.items()):
        accuracy = [100 * a for a in curve["accuracy"]]
        ax.plot(curve["shifts"], accuracy, marker="o", ms=3, label=label, **_style(i))
    ax.set(xlabel="shift (pixels)", ylabel="test accuracy (%)", title="Accuracy under shifts")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(alpha=0.3)
    _legend(ax, len(curves))
    return save_png(figure, path)


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def plot_equivariance(path: str | Path, rows: Sequence[Mapping[str, Any]]) -> Path:
    """Mean equivariance error per layer, shifts that are multiples of the layer's
    cumulative stride next to those that are not (rows of ``evaluate_all``'s
    ``equivariance``)."""
    layers: dict[str, dict[str, Any]] = {}
    for row in rows:
        layer = layers.setdefault(
            row["path"], {"block": row["block"], "stride": row["stride"], True: [], False: []}
        )
        layer[bool(row["multiple"])].append(float(row["error"]))
    figure, ax = _figure(max(6.4, 0.55 * len(layers) + 2.0))
    positions = range(len(layers))
    width = 0.4
    for offset, multiple, name in (
        (-width / 2, True, "shift a multiple of the stride"),
        (width / 2, False, "other shifts"),
    ):
        heights = [_mean(layer[multiple]) for layer in layers.values()]
        ax.bar([p + offset for p in positions], heights, width, label=name)
    ax.set_xticks(list(positions))
    ax.set_xticklabels(
        [f"{p}\n{layer['block']}\nstride {layer['stride']}" for p, layer in layers.items()],
        fontsize="x-small",
    )
    ax.set(ylabel="relative error", title="Shift equivariance per layer")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize="small")
    return save_png(figure, path)


def plot_accuracy_vs_params(path: str | Path, rows: Sequence[Mapping[str, Any]]) -> Path:
    """Accuracy against parameter count (log scale), one point per row (``{"label",
    "params", "accuracy"}`` with an optional ``"std"``, accuracies in [0, 1]); a few
    points are labelled where they are, many in a legend."""
    annotate = len(rows) <= ANNOTATED
    figure, ax = _figure(6.4 if annotate else _wide(len(rows)))
    for i, row in enumerate(rows):
        std = row.get("std")
        ax.errorbar(
            row["params"],
            100 * row["accuracy"],
            yerr=None if std is None else 100 * std,
            fmt=MARKERS[i // 10 % len(MARKERS)],
            color=f"C{i % 10}",
            ms=4,
            capsize=3,
            label=None if annotate else row["label"],
        )
        if annotate:
            ax.annotate(
                row["label"],
                (row["params"], 100 * row["accuracy"]),
                fontsize="x-small",
                xytext=(4, 3),
                textcoords="offset points",
            )
    ax.set_xscale("log")
    ax.set(xlabel="parameters", ylabel="test accuracy (%)", title="Accuracy vs parameters")
    ax.grid(alpha=0.3, which="both")
    if not annotate:
        _legend(ax, len(rows))
    return save_png(figure, path)


def plot_shift_consistency(path: str | Path, rows: Sequence[Mapping[str, Any]]) -> Path:
    """Shift consistency per label as bars with standard-deviation error bars
    (``{"label", "mean"}`` with an optional ``"std"``, values in [0, 1])."""
    figure, ax = _figure(max(6.4, 0.35 * len(rows) + 2.0), 4.8)
    positions = list(range(len(rows)))
    errors = [100 * (row.get("std") or 0.0) for row in rows]
    ax.bar(positions, [100 * row["mean"] for row in rows], yerr=errors, capsize=3, color="tab:blue")
    ax.set_xticks(positions)
    ax.set_xticklabels([row["label"] for row in rows], rotation=60, ha="right", fontsize="x-small")
    lowest = min((100 * row["mean"] - e for row, e in zip(rows, errors)), default=0.0)
    ax.set_ylim(max(0.0, lowest - 5.0), 100.0)
    ax.set(ylabel="consistent predictions (%)", title="Shift consistency")
    ax.grid(alpha=0.3, axis="y")
    return save_png(figure, path)
