"""The pieces every plot of ``plots`` shares: the canvas, PNG output, legends, styles, spreads.

A figure is drawn on matplotlib's Agg canvas (no display, no global pyplot state,
so plotting is safe in worker processes and tests). The rules a reader relies on
live here once: a spread over seeds never reaches outside [0, 100] %, a legend
moves beside the axes when it has many entries, text labels never overlap.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Annotation

from convzoo.files import write_atomic

DPI = 120
POINTS_PER_INCH = 72


def figure(width: float = 6.4, height: float = 4.2) -> tuple[Figure, Any]:
    """A figure with one axes on its own Agg canvas."""
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def save_png(fig: Figure, path: str | Path, dpi: float | None = None) -> Path:
    """Render ``fig`` as PNG and write it atomically."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return write_atomic(path, buffer.getvalue())


def columns(count: int) -> int:
    """Legend columns beside the axes for ``count`` entries (0: a legend inside)."""
    return 0 if count <= 8 else math.ceil(count / 18)


def legend(ax: Any, count: int) -> None:
    """A legend inside the axes for a few entries, beside them for many."""
    if columns(count):
        ax.legend(
            fontsize="x-small", loc="upper left", bbox_to_anchor=(1.01, 1.0), ncols=columns(count)
        )
    elif count:
        ax.legend(fontsize="small")


def style(index: int) -> dict[str, Any]:
    """Colour and line style of the ``index``-th curve: ten colours, then the next dash."""
    return {"color": f"C{index % 10}", "ls": ("-", "--", ":", "-.")[index // 10 % 4]}


def wide(count: int) -> float:
    """A figure width that leaves room for a legend of ``count`` entries."""
    return 6.4 + 3.4 * columns(count)


def spread(mean: float, std: float | None) -> tuple[float, float]:
    """How far below and above ``mean`` (in %) a spread of ``std`` reaches, clipped to
    [0, 100]: an accuracy of 99 ± 3 % is drawn from 96 to 100."""
    if std is None or math.isnan(std):
        return 0.0, 0.0
    return min(std, max(mean, 0.0)), min(std, max(100.0 - mean, 0.0))


def band(mean: Sequence[float], std: Sequence[float]) -> tuple[list[float], list[float]]:
    """The lower and upper edges of a band of ``std`` about a curve, clipped to [0, 100]."""
    reach = [spread(m, s) for m, s in zip(mean, std)]
    return [m - lo for m, (lo, _) in zip(mean, reach)], [m + hi for m, (_, hi) in zip(mean, reach)]


def _overlap(a: Any, b: Any) -> float:
    """How many pixels ``a`` must move down to clear ``b`` (0 when they do not overlap)."""
    if a.x1 <= b.x0 or b.x1 <= a.x0 or a.y1 <= b.y0 or b.y1 <= a.y0:
        return 0.0
    return a.y1 - b.y0 + 1.0


def separate(fig: Figure, labels: Sequence[Annotation], rounds: int = 20) -> None:
    """Move annotations (placed with offsets in points) down until no two overlap.

    Labels are taken top to bottom; each one that overlaps a label above it moves down
    just past it. The figure is drawn again after each round, since the layout can move
    the axes; it stops when a round moves nothing.
    """
    for _ in range(rounds):
        renderer = cast(FigureCanvasAgg, fig.canvas).get_renderer()  # figure() made it
        fig.draw_without_rendering()
        boxes = [label.get_window_extent(renderer) for label in labels]
        order = sorted(range(len(labels)), key=lambda i: -boxes[i].y1)
        moved = False
        for n, i in enumerate(order):
            for j in order[:n]:
                push = _overlap(boxes[i], boxes[j])
                if push:
                    x, y = labels[i].xyann
                    labels[i].xyann = (x, y - push * POINTS_PER_INCH / fig.dpi)
                    boxes[i] = boxes[i].translated(0, -push)
                    moved = True
        if not moved:
            return
