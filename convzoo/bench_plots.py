"""The plots of a suite's report, one point, line or bar per configuration.

Accuracy against parameters, the scale and shift curves overlaid, shift
consistency with its standard deviation over seeds, and one per-layer
equivariance chart per configuration (errors averaged over seeds). Names
carry the dataset when a suite has several, and the permutation when there is one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from convzoo.bench_suite import slug
from convzoo.evaluate import plots


def _name(entry: dict[str, Any], many_data: bool) -> str:
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
    named = [(_name(e, many), e) for e in done]
    points = [{"label": name, "params": e["params"], "accuracy": e["test_acc"][0],
               "std": e["test_acc"][1]} for name, e in named]  # fmt: skip
    bars = [{"label": name, "mean": e["shift_consistency"][0], "std": e["shift_consistency"][1]}
            for name, e in named]  # fmt: skip
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
                out / "equivariance" / _file_name(e, many), e["equivariance"]
            )
    return {title: str(path.relative_to(out)) for title, path in paths.items()}
