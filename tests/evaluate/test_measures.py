"""The table of measures: each entry runs, sums up, and is shown everywhere from one place."""

from __future__ import annotations

import io

import torch

import convzoo as cz
from convzoo.bench.report import COLUMNS
from convzoo.evaluate.config import EvaluateConfig
from convzoo.evaluate.measures import MEASURES, evaluate_all, numbers, sentences
from convzoo.evaluate.progress import Progress

SPEC = {
    "name": "t",
    "input": [1, 16, 16],
    "classes": 3,
    "layers": [
        {"filter": "conv", "out": 4, "kernel": 3, "padding": "same"},
        {"act": "relu"},
        {"pool": "max", "kernel": 2},
        {"head": "linear"},
    ],
}


def test_keys_and_columns_are_each_named_once():
    keys = [m.key for m in MEASURES]
    figures = [n.key for n in numbers()]
    assert len(set(keys)) == len(keys) and len(set(figures)) == len(figures)
    assert set(figures) <= set(COLUMNS)


def test_evaluate_all_runs_every_measure_in_table_order_and_shows_each():
    torch.manual_seed(0)
    model, x = cz.build(SPEC), torch.randn(20, 1, 16, 16)
    stream = io.StringIO()
    config = EvaluateConfig(scales=(0.5, 1.0), max_shift=1, samples=5)
    result = evaluate_all(model, x, model(x).argmax(1), progress=Progress(stream), config=config)
    shown = [line.split(":")[1].strip() for line in stream.getvalue().splitlines()]
    assert shown == [m.title for m in MEASURES]
    assert all(m.key in result for m in MEASURES)
    assert result["samples"]["accuracy"] == 20 and result["samples"]["equivariance"] == 5
    for number in numbers():
        assert number.text(number.read(result)) != "n/a"
    summary = sentences(result, config)
    assert "Clean test accuracy: 100.00%." in summary and "up to 1 px" in summary


def test_a_figure_that_is_unknown_reads_n_a():
    (number, *_) = numbers()
    assert number.text(None) == number.text(float("nan")) == "n/a"
