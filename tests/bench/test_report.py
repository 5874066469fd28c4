"""The suite report: spreads over seeds, equivariance charts, results older than a measure."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from convzoo.bench.files import status
from convzoo.bench.plots import write_plots
from convzoo.bench.report import configurations, write_outputs
from convzoo.bench.suite import load_suite
from tests.bench.conftest import SUITES

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


def test_a_result_made_before_a_measure_existed_shows_it_as_not_measured(tmp_path):
    rows = smoke_rows()
    for row in rows:  # as if shift consistency had been added after these cells ran
        del row["shift_consistency"], row["evaluation"]["shift_consistency"]
    suite = load_suite(SUITES / "smoke.yaml")
    write_outputs(suite, rows, tmp_path)
    table = (tmp_path / "report.md").read_text().splitlines()
    tiny = next(line for line in table if line.startswith("| tiny | synthetic |"))
    assert tiny.rstrip(" |").endswith("| n/a")
    assert not (tmp_path / "shift_consistency.png").exists()
    assert (tmp_path / "scale_curves.png").exists()
    with (tmp_path / "results.csv").open() as f:
        assert {row["shift_consistency"] for row in csv.DictReader(f)} == {""}


def test_committed_results_older_than_the_effective_rf_render_it_as_not_measured(tmp_path):
    write_outputs(load_suite(SUITES / "smoke.yaml"), smoke_rows(), tmp_path)
    table = (tmp_path / "report.md").read_text().splitlines()
    assert table[table.index("## Results") + 4].endswith("| effective rf (%) |")
    tiny = next(line for line in table if line.startswith("| tiny | synthetic |"))
    assert tiny.endswith("| n/a |") and not (tmp_path / "effective_rf_share.png").exists()


def test_a_train_time_of_milliseconds_keeps_three_significant_digits(tmp_path):
    rows = smoke_rows()  # trained in about 20 ms a cell
    write_outputs(load_suite(SUITES / "smoke.yaml"), rows, tmp_path)
    table = (tmp_path / "report.md").read_text().splitlines()
    tiny = next(line for line in table if line.startswith("| tiny | synthetic |"))
    seconds = [r["train_seconds"] for r in rows if r["label"] == "tiny"]
    mean, spread = sum(seconds) / 2, abs(seconds[0] - seconds[1]) / 2**0.5
    assert f"| {mean:.3g} ± {spread:.2g} |" in tiny and "| 0.0 ± 0.0 |" not in tiny


def test_a_cell_whose_test_was_cut_short_shows_no_test_accuracy(tmp_path):
    rows = smoke_rows()
    for row in rows:  # as a run's report gives it when limit_test_batches cut its test short
        row["test_acc"] = None
    write_outputs(load_suite(SUITES / "smoke.yaml"), rows, tmp_path)
    table = (tmp_path / "report.md").read_text().splitlines()
    tiny = next(line for line in table if line.startswith("| tiny | synthetic |"))
    assert tiny.startswith("| tiny | synthetic | no | 2/2 | n/a | 620 |")
    assert status(rows[0]) == "finished; its test was cut short, so no test accuracy"
