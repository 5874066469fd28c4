"""The report's paired table: which baseline each configuration gets, and seed-paired
differences equal to the statistics module's on the same numbers."""

from __future__ import annotations

import pytest

from convzoo.bench.paired import baselines, differences, paired_table
from convzoo.bench.stats import paired


def _row(label, seed, acc, *, arch="net", swaps="", data="d", permute=None, status="ok"):
    return {
        "label": label,
        "arch": arch,
        "swaps": swaps,
        "data": data,
        "permute": permute,
        "seed": seed,
        "status": status,
        "test_acc": acc,
        "shift_consistency": acc / 2,
    }


ROWS = [
    *(_row("net", s, 0.90 + s / 100) for s in range(3)),
    *(_row("net act=tanh", s, 0.88 + s / 100, swaps="act=tanh") for s in range(3)),
    *(_row("other", s, 0.80 + s / 50, arch="other") for s in range(3)),
    *(_row("other act=tanh", s, 0.70, arch="other", swaps="act=tanh") for s in range(3)),
    *(_row("net", s, 0.50, permute=0) for s in range(3)),
]


def test_each_configuration_gets_its_baseline():
    assert baselines(ROWS) == {
        ("net act=tanh", "d", None): ("net", "d", None),  # same net without its swap
        ("other", "d", None): ("net", "d", None),  # the suite's first configuration
        ("other act=tanh", "d", None): ("other", "d", None),
        ("net", "d", 0): ("net", "d", None),  # the pixels in place
    }


def test_the_difference_is_the_seed_paired_one_in_points():
    value = differences(ROWS, ("other", "d", None), ("net", "d", None), "test_acc")
    expected = paired({s: 80 + 2 * s for s in range(3)}, {s: 90 + s for s in range(3)})
    assert value.mean == pytest.approx(expected.mean) and value.low == pytest.approx(expected.low)


def test_unfinished_or_failed_seeds_are_left_out_of_the_pairs():
    rows = [*ROWS[:6], _row("net act=tanh", 1, 0.2, swaps="act=tanh", status="failed")]
    rows = [
        r
        for r in rows
        if not (r["label"] == "net act=tanh" and r["seed"] == 1 and r["status"] == "ok")
    ]
    value = differences(rows, ("net act=tanh", "d", None), ("net", "d", None), "test_acc")
    assert value.n == 2 and value.mean == pytest.approx(-2.0)


def test_the_table_says_when_an_interval_holds_zero():
    noisy = [_row("a", s, v) for s, v in enumerate([0.90, 0.92, 0.91])]
    noisy += [_row("b", s, v, arch="b") for s, v in enumerate([0.91, 0.90, 0.92])]
    lines = paired_table(noisy)
    assert len(lines) == 3 and lines[2].startswith("| b | a | d | no |")
    assert "not separable at n = 3" in lines[2]
    assert paired_table(noisy[:3]) == []
