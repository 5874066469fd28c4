"""A suite's plots: accuracy against parameters, the scale and shift curves, shift
consistency, and per configuration its layers' shift equivariance.

Each plot shows the configurations that finished, with the spread over their seeds;
``write_plots`` returns the titles and paths that report.md links.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from convzoo.bench.suite import slug
from convzoo.evaluate import plots


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
    bars = [
        {"label": name, "mean": e["shift_consistency"][0], "std": e["shift_consistency"][1]}
        for name, e in named
    ]
    paths = {
        "Accuracy vs parameters": plots.plot_accuracy_vs_params(
            out / "accuracy_vs_params.png", points
        ),
        "Accuracy under rescaling": plots.plot_scale_curves(
            out / "scale_curves.png", {name: e["scale"] for name, e in named}
        ),
        "Accuracy under shifts": plots.plot_shift_curves(
            out / "shift_curves.png", {name: e["shift"] for name, e in named}
        ),
        "Shift consistency": plots.plot_shift_consistency(out / "shift_consistency.png", bars),
    }
    for name, e in named:
        if e["equivariance"]:
            paths[f"Equivariance: {name}"] = plots.plot_equivariance(
                out / "equivariance" / _file_name(e, many),
                e["equivariance"],
                title=f"Shift equivariance per layer: {name}",
                left_out=e.get("equivariance_left_out"),
                samples=e.get("equivariance_samples"),
            )
    return {title: str(path.relative_to(out)) for title, path in paths.items()}
