"""A suite's plots: accuracy against parameters, then each measure's of the table of measures
(``evaluate.measures``): the scale and shift curves, shift consistency, per configuration its
layers' shift equivariance, ...

Each plot shows the configurations that finished (and, for a measure, that have it),
with the spread over their seeds; ``write_plots`` returns the titles and paths that
report.md links.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from convzoo.bench.suite import slug
from convzoo.evaluate import plots
from convzoo.evaluate.measures import MEASURES, Measure


def configuration_name(entry: dict[str, Any], many_data: bool) -> str:
    """A configuration's label in plots and notes: architecture and swaps, the data when a
    suite has several, the permutation when it has one."""
    parts = [entry["label"]]
    if many_data:
        parts.append(f"[{entry['data']}]")
    if entry["permute"] is not None:
        parts.append(f"(permuted {entry['permute']})")
    return " ".join(parts)


def _file_name(entry: dict[str, Any], many_data: bool) -> str:
    data = f"__{entry['data']}" if many_data else ""
    perm = "" if entry["permute"] is None else f"__perm{entry['permute']}"
    return f"{slug(entry['label'])}{data}{perm}.png"


def _measure_plots(
    measure: Measure, named: list[tuple[str, dict[str, Any]]], out: Path, many: bool
) -> dict[str, Path]:
    """One measure's plots over the configurations that have it: its curves, its figures'
    bars, its chart of each configuration; title -> path."""
    paths = {}
    having = [(name, e) for name, e in named if measure.key in e]
    if measure.curve is not None and having:
        curves = {name: e[measure.key] for name, e in having}
        paths[measure.curve.title] = measure.curve.plot(out / f"{measure.key}_curves.png", curves)
    for number in measure.numbers:
        if number.bars is None:
            continue
        bars = [
            {"label": name, "mean": e[number.key][0], "std": e[number.key][1]}
            for name, e in named
            if not math.isnan(e[number.key][0])
        ]
        if bars:
            title, ylabel = number.bars.title, number.bars.ylabel
            paths[title] = plots.plot_shares(out / f"{number.key}.png", bars, title, ylabel)
    if measure.chart is not None:
        for name, e in having:
            path = measure.chart(out / measure.key / _file_name(e, many), name, e)
            if path is not None:
                paths[f"{measure.title.capitalize()}: {name}"] = path
    return paths


def write_plots(entries: list[dict[str, Any]], out: Path) -> dict[str, str]:
    """The PNGs of the configurations that finished; returns title -> path relative to ``out``."""
    done = [e for e in entries if e["finished"]]
    if not done:
        return {}
    many = len({e["data"] for e in done}) > 1
    named = [(configuration_name(e, many), e) for e in done]
    points = [
        {
            "label": name,
            "params": e["params"],
            "accuracy": e["test_acc"][0],
            "std": e["test_acc"][1],
        }
        for name, e in named
    ]
    paths = {
        "Accuracy vs parameters": plots.plot_accuracy_vs_params(
            out / "accuracy_vs_params.png", points
        )
    }
    for measure in MEASURES:
        paths.update(_measure_plots(measure, named, out, many))
    return {title: str(path.relative_to(out)) for title, path in paths.items()}
