"""Every committed bench result was made by the settings of its suite file, or says what differed.

A result under ``benchmarks/results/`` that a suite file no longer describes (an
edited suite, a run with ``--epochs``) would be a silently wrong figure; the
bench records what the command line changed as ``overrides``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from convzoo.bench import load_suite

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"
SUITES = ROOT / "benchmarks" / "suites"
FILES = sorted(RESULTS.rglob("results.json"))


def test_there_are_committed_results_to_check():
    assert len(FILES) >= 3


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.parent.relative_to(RESULTS)))
def test_a_committed_result_was_made_by_its_suite_file(path):
    data = json.loads(path.read_text())
    recorded = data["suite"]
    suite = load_suite(SUITES / f"{recorded['name']}.yaml")
    expected = {**suite.settings(), "seeds": suite.seeds, "permute": suite.permute}
    overrides = recorded.get("overrides", {})
    for key, value in expected.items():
        wanted = overrides.get(key, value)
        assert recorded[key] == wanted, (
            f"{path}: {key} is {recorded[key]!r}, the suite says {value!r}"
        )
    assert len(data["cells"]) == len(suite.cells), f"{path}: not every cell of the suite"
    epochs = overrides.get("epochs", suite.epochs)
    if epochs is not None:
        ran = {cell["epochs"] for cell in data["cells"] if cell["status"] == "ok"}
        assert ran == {epochs}, (
            f"{path}: cells trained {sorted(ran)} epochs, the suite says {epochs}"
        )


def test_the_bench_records_what_the_command_line_overrode():
    smoke = SUITES / "smoke.yaml"
    assert load_suite(smoke).overrides == {}
    assert load_suite(smoke, epochs=load_suite(smoke).epochs).overrides == {}
    assert load_suite(smoke, epochs=7).overrides == {"epochs": 7}
