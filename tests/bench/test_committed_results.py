"""Every committed bench result was made by the settings of its suite file, or says what differed.

A result under ``benchmarks/results/`` that a suite file no longer describes (an
edited suite, a run with ``--epochs``) would be a silently wrong figure; the
bench records what the command line changed as ``overrides``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from convzoo.assemble import apply_swaps
from convzoo.bench import load_suite
from convzoo.spec import load_spec
from convzoo.summary import summary
from convzoo.train.config import recipe

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


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.parent.relative_to(RESULTS)))
def test_committed_parameter_and_flop_counts_are_todays(path):
    """Counts come from the spec alone: a change of the counting rules must be carried into
    the committed results (``benchmarks/rerender_results.py``), never left stale."""
    counted = {}
    for cell in json.loads(path.read_text())["cells"]:
        if cell["status"] != "ok":
            continue
        key = (cell["arch_source"], json.dumps(cell.get("swaps") or {}, sort_keys=True))
        if key not in counted:
            counted[key] = summary(apply_swaps(load_spec(key[0]), json.loads(key[1])))
        today = counted[key]
        assert (cell["params"], cell["flops"]) == (today.params, today.flops), (
            f"{path}: {cell['id']} has params {cell['params']}, FLOPs {cell['flops']}; today's "
            f"count is {today.params}, {today.flops}: run benchmarks/rerender_results.py"
        )


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.parent.relative_to(RESULTS)))
def test_every_committed_cell_is_what_todays_suite_would_train(path):
    """A cell's fingerprint hashes its spec (recipe included), data, permutation, seed and
    the suite's settings. A committed cell whose fingerprint is not the one today's suite
    gives it was trained on a network, recipe or suite that has changed since: a figure
    the suite would no longer give. Re-run the suite and commit what it gives."""
    data = json.loads(path.read_text())
    recorded = data["suite"]
    epochs = recorded.get("overrides", {}).get("epochs")
    suite = load_suite(SUITES / f"{recorded['name']}.yaml", epochs=epochs)
    today = {cell.id: suite.fingerprint(cell) for cell in suite.cells}
    stale = [c["id"] for c in data["cells"] if today.get(c["id"]) != c["fingerprint"]]
    assert not stale, f"{path}: trained before their spec, recipe or suite changed: {stale}"


SINGLE_RUNS = sorted(p for p in (RESULTS / "reproduce").glob("*-seed*.json"))


def test_there_are_committed_single_runs_to_check():
    assert len(SINGLE_RUNS) >= 15


@pytest.mark.parametrize("path", SINGLE_RUNS, ids=lambda p: p.stem)
def test_every_committed_single_run_is_what_today_would_train(path):
    """A reproduction's run report keeps its spec (after swaps) and its settings with where
    each came from: today's spec must be the same network, and every recipe setting the run
    took must still be the recipe's, and the recipe must set nothing the run did not take
    from it or override. Otherwise the committed figure belongs to an older recipe."""
    run = json.loads(path.read_text())
    config, origins = run["config"], run["settings_from"]
    spec = load_spec(config["arch"])
    today = apply_swaps(spec, config.get("swap") or {}).to_dict()
    assert today == run["spec"], f"{path.name}: the network changed since it ran; re-run it"
    made, _ = recipe(spec)
    changed = {
        k: (config[k], v) for k, v in made.items() if origins.get(k) == "recipe" and config[k] != v
    }
    unused = [k for k in made if origins.get(k) not in ("recipe", "config", "flag")]
    assert not changed, f"{path.name}: ran with an older recipe (then, today): {changed}"
    assert not unused, f"{path.name}: the recipe now sets {unused}, which the run did not take"
