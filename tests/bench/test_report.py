"""The suite report's aggregation for plots: spreads over seeds, equivariance notes."""

from __future__ import annotations

import json
from pathlib import Path

from convzoo.bench.plots import write_plots
from convzoo.bench.report import configurations

SMOKE = Path(__file__).parents[2] / "benchmarks" / "results" / "smoke" / "results.json"


def smoke_rows() -> list[dict]:
    return json.loads(SMOKE.read_text())["cells"]


def test_curves_carry_the_spread_over_seeds():
    (first, *_) = configurations(smoke_rows())
    scale = first["scale"]
    assert len(scale["std"]) == len(scale["scales"]) and all(s >= 0 for s in scale["std"])


def test_each_equivariance_chart_is_titled_by_its_configuration(tmp_path):
    rows = smoke_rows()
    for row in rows:
        row["evaluation"]["equivariance_left_out"] = [
            {"path": "layers.3", "block": "head.linear", "reason": "its output has no spatial axis"}
        ]
    images = write_plots(configurations(rows), tmp_path)
    titles = [t for t in images if t.startswith("Equivariance")]
    assert titles == ["Equivariance: tiny", "Equivariance: tiny tanh"]
    assert all((tmp_path / images[t]).stat().st_size for t in titles)
