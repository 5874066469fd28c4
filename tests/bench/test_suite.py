"""Benchmark suites: every problem of a suite file at once, the grid, the shipped suites."""

from __future__ import annotations

import shutil
from dataclasses import asdict, make_dataclass, replace
from pathlib import Path

import pytest

import convzoo.bench.runner
from convzoo.bench.suite import load_suite
from convzoo.cli import main
from convzoo.errors import ConvzooError
from convzoo.evaluate.config import EvaluateConfig
from convzoo.settings import setting
from tests.bench.conftest import SUITES, bench, no_training


def write_suite(folder: Path, text: str) -> Path:
    shutil.copy(SUITES / "tiny.yaml", folder / "tiny.yaml")
    path = folder / "suite.yaml"
    path.write_text(text)
    return path


def test_every_problem_of_a_suite_is_listed_at_once_and_nothing_trains(tmp_path, monkeypatch):
    calls = no_training(monkeypatch)
    suite = write_suite(
        tmp_path,
        """
name: broken
archs:
  - lenet6
  - tiny.yaml
  - {arch: tiny.yaml, swap: {act: rleu}, label: t2}
  - {arch: tiny.yaml, swap: {pool: lp}, label: t3}
data: [fashion_mnst, mnist1d]
seeds: [0, one]
epochs: 0
train: {lr: fast, batch: 32, seed: 3}
grid: {swap: {pool: [maxx, max]}}
evaluate: {max_shift: -1}
colour: blue
""",
    )
    with pytest.raises(ConvzooError) as caught:
        bench(str(suite), "--out", str(tmp_path / "out"))
    message = str(caught.value)
    expected = [
        "unknown key 'colour'",
        "epochs: expected a positive integer",
        "seeds[1]",
        "train.lr: expected float",
        "unknown setting 'batch'",
        "train.seed: not a `train` setting",
        "evaluate.max_shift",
        "'fashion_mnst'",
        "fashion_mnist",
        "unknown architecture 'lenet6'",
        "'rleu'",
        "'maxx'",
        "swaps pool both here and in the grid",
    ]
    for part in expected:
        assert part in message, part
    assert "nothing was trained" in message and not calls
    assert not (tmp_path / "out").exists()
    assert main(["bench", str(suite)]) == 2


def test_a_network_that_does_not_fit_its_data_is_a_problem(tmp_path):
    suite = write_suite(tmp_path, "name: d\narchs: [tiny.yaml]\ndata: [synthetic1d]\n")
    with pytest.raises(ConvzooError, match=r"2-D input \[1, 12, 12\].*'synthetic1d' is 1-D"):
        load_suite(suite)


def test_the_grid_expands_to_every_combination(tmp_path):
    suite = load_suite(
        write_suite(
            tmp_path,
            """
name: grid
archs: [tiny.yaml, {arch: tiny.yaml, swap: {filter: unfold_conv}, label: unfolded}]
grid: {swap: {act: [relu, tanh, abs], pool: [max, avg]}}
data: [synthetic]
permute: [null, 3]
seeds: [0, 1]
""",
        )
    )
    assert len(suite.cells) == 2 * 3 * 2 * 2 * 2
    assert len({c.id for c in suite.cells}) == len(suite.cells)
    combos = {(c.label, tuple(sorted(c.swap.items())), c.permute, c.seed) for c in suite.cells}
    assert (
        "unfolded act=tanh pool=avg",
        (("act", "tanh"), ("filter", "unfold_conv"), ("pool", "avg")),
        3,
        1,
    ) in combos
    assert ("tiny act=abs pool=max", (("act", "abs"), ("pool", "max")), None, 0) in combos
    assert len({c.spec_hash for c in suite.cells}) == 12
    assert suite.cells[0].id == "tiny_act-relu_pool-max__synthetic__seed0"


@pytest.mark.parametrize(
    ("name", "cells"),
    [
        ("smoke", 4),
        ("fashion-zoo", 27),
        ("stages", 81),
        ("mnist1d", 12),
        ("permutation", 12),
        ("reproduce-hyper", 15),
        ("reproduce-ha", 10),
        ("scale-training", 20),
    ],
)
def test_the_shipped_suites_are_valid(name, cells):
    assert len(load_suite(SUITES / f"{name}.yaml").cells) == cells


def test_a_setting_added_at_its_default_leaves_every_fingerprint_as_it_was():
    suite = load_suite(SUITES / "smoke.yaml")
    cell, before = suite.cells[0], suite.fingerprint(suite.cells[0])
    later = make_dataclass(
        "Later",
        [("radius", int, setting(3, "a setting added later"))],
        bases=(EvaluateConfig,),
        frozen=True,
    )
    given = asdict(suite.evaluate)
    assert replace(suite, evaluate=later(**given)).fingerprint(cell) == before
    assert replace(suite, evaluate=later(**given, radius=4)).fingerprint(cell) != before
    assert replace(suite, evaluate=replace(suite.evaluate, samples=32)).fingerprint(cell) != before
    assert (
        replace(suite, evaluate=replace(suite.evaluate, batch_size=7)).fingerprint(cell) == before
    )


def test_scales_the_suite_names_are_hashed_as_named_even_at_their_default(tmp_path):
    default = list(EvaluateConfig().scales)
    text = "name: s\narchs: [tiny.yaml]\ndata: [synthetic]\n"
    named = load_suite(write_suite(tmp_path, text + f"evaluate: {{scales: {default}}}\n"))
    assert named.settings()["scales"] == default
    assert load_suite(write_suite(tmp_path, text)).settings()["scales"] is None


def test_the_evaluate_mapping_is_checked_as_evaluate_config_checks_it(tmp_path):
    suite = write_suite(
        tmp_path,
        "name: e\narchs: [tiny.yaml]\ndata: [synthetic]\n"
        "evaluate: {scales: [1.0, 9], samples: 0, max_shfit: 2, consistency_seed: 3}\n",
    )
    with pytest.raises(ConvzooError) as caught:
        load_suite(suite)
    message = str(caught.value)
    assert "evaluate.scales: scale 9 is out of range" in message
    assert "evaluate.samples: must be at least 1, got 0" in message
    assert "unknown setting 'max_shfit'. Did you mean 'max_shift'?" in message
    assert "3 problem(s)" in message


ENTRY_TRAIN = """
name: own
archs: [tiny.yaml, {arch: tiny.yaml, train: {scale: [0.5, 0.5]}, label: small}]
data: [synthetic]
train: {batch_size: 16}
"""


def test_an_entry_trains_with_its_own_settings_over_the_suites(tmp_path, monkeypatch):
    suite = load_suite(write_suite(tmp_path, ENTRY_TRAIN))
    plain, small = suite.cells
    assert (plain.train, small.train) == ({}, {"scale": [0.5, 0.5]})
    seen = {}

    def train(config, origins=None):
        scale = None if config.scale is None else tuple(config.scale)
        seen[config.out] = (scale, config.batch_size, origins["scale"])
        raise RuntimeError("stop after the settings")

    monkeypatch.setattr(convzoo.bench.runner, "train", train)
    bench(str(tmp_path / "suite.yaml"), "--out", str(tmp_path / "out"), "--accelerator", "cpu")
    by_cell = {Path(out).name: value for out, value in seen.items()}
    assert by_cell[small.id] == ((0.5, 0.5), 16, "suite")
    assert by_cell[plain.id][:2] == (None, 16)


def test_an_entrys_own_settings_change_only_its_fingerprints(tmp_path):
    with_own = load_suite(write_suite(tmp_path, ENTRY_TRAIN))
    without = load_suite(
        write_suite(tmp_path, ENTRY_TRAIN.replace("train: {scale: [0.5, 0.5]}, ", ""))
    )
    assert with_own.fingerprint(with_own.cells[0]) == without.fingerprint(without.cells[0])
    assert with_own.fingerprint(with_own.cells[1]) != without.fingerprint(without.cells[1])


def test_a_bad_entry_setting_is_named_with_its_entry(tmp_path):
    text = ENTRY_TRAIN.replace("scale: [0.5, 0.5]", "scale: [0.5, 0.5], seed: 3, lr: -1")
    with pytest.raises(ConvzooError) as err:
        load_suite(write_suite(tmp_path, text))
    message = str(err.value)
    assert "archs[1].train.seed: not a `train` setting of a suite; `seeds` sets it" in message
    assert "archs[1].train.lr:" in message
