"""The reproduction table: generated from benchmarks/reproductions.yaml and the committed runs,
equal in README.md and in the reproductions' README, every row kept, verdicts on the mean."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from convzoo.bench.stats import estimate, paired
from tests.benchmark_script import load_benchmark

ROOT = Path(__file__).resolve().parents[2]


summarize = load_benchmark("summarize_reproductions")


@pytest.mark.parametrize("path", summarize.TARGETS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_the_committed_tables_are_the_generated_one(path):
    text = path.read_text()
    assert summarize.replaced(text, summarize.table(), path) == text, (
        f"{path} is out of date: run python benchmarks/summarize_reproductions.py"
    )


def test_every_row_of_the_file_is_in_the_table():
    rows = yaml.safe_load(summarize.ROWS.read_text())["rows"]
    lines = summarize.table().splitlines()[3:-1]
    assert len(lines) == len(rows)
    for row, line in zip(rows, lines):
        assert line.startswith(f"| {row['result'].replace('|', chr(92) + '|')} |")


def test_a_row_without_committed_runs_says_not_yet_run():
    line = summarize.render_row(
        {
            "result": "r",
            "paper": "p",
            "runs": "no-such-label",
            "measure": "test_acc",
            "goal": {"at_least": 1},
            "command": "c",
        }
    )
    assert line.endswith("| not yet run |") and "| not yet run |" in line


@pytest.mark.parametrize(
    ("goal", "values", "met"),
    [
        ({"at_least": 99.0}, [98.8, 99.1, 99.05], False),  # 99.05 by the median, not the mean
        ({"at_least": 99.0}, [99.0, 99.1, 99.2], True),
        ({"at_most": 1.0}, [0.91, 1.01, 0.81], True),
        ({"within": [68.0, 2.0]}, [65.2, 65.5, 66.1], False),
    ],
)
def test_the_verdict_is_on_the_mean(goal, values, met):
    assert summarize.meets(goal, estimate(values)) is met
    text = summarize.verdict(goal, estimate(values), "%")
    assert text.startswith("met" if met else "**missed**")
    assert "provisional: n = 3 < 5" in text


def test_a_comparison_is_separable_only_when_its_interval_excludes_zero():
    clear = paired({s: 83.0 + s for s in range(5)}, {s: 78.0 + s * 1.1 for s in range(5)})
    unclear = paired({0: 91.6, 1: 91.9, 2: 92.1}, {0: 91.7, 1: 91.8, 2: 91.7})
    assert summarize.meets({"separable": "higher"}, clear)
    assert not summarize.meets({"separable": "higher"}, unclear)
    assert "provisional" not in summarize.verdict({"separable": "higher"}, clear, " points")
