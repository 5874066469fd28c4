"""``benchmarks/fuzz_cli.py``'s own parts, without the command line it runs: its mutations
are deterministic for a seed and change what they say, and its verdicts sort an
invocation as the README's guarantees do (one message, exit status 2, no traceback,
no run folder left by a refusal)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import yaml

from tests.benchmark_script import load_benchmark

ROOT = Path(__file__).resolve().parents[1]


fuzz = load_benchmark("fuzz_cli")

BASE = {
    "name": "small",
    "description": "two convolutions and a head",
    "input": [1, 12, 12],
    "classes": 4,
    "layers": [
        {"filter": "conv", "out": 4, "kernel": 3},
        {"act": "relu"},
        {"residual": "identity", "layers": [{"filter": "conv", "out": 4, "kernel": 1}]},
        {"head": "linear"},
    ],
}
OTHER = {"name": "other", "input": [1, 40], "layers": [{"pool": "max", "kernel": 2}]}
BASES = {
    name: (yaml.safe_dump(data, sort_keys=False), data)
    for name, data in (("small", BASE), ("other", OTHER))
}
TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "convzoo/blocks/heads.py", line 80, in forward\n'
    "IndexError: Target 5 is out of bounds.\n"
)
MESSAGE = "convzoo: error: spec.yaml: classes must be a positive integer, got 0\n"


def test_a_mutation_is_the_same_for_the_same_seed_and_index():
    for index in range(2 * len(fuzz.KINDS)):
        assert fuzz.mutate(BASES, 3, index) == fuzz.mutate(BASES, 3, index)
    draws = range(len(fuzz.KINDS))
    assert [fuzz.mutate(BASES, 3, i) for i in draws] != [fuzz.mutate(BASES, 4, i) for i in draws]


def test_every_kind_is_drawn_in_turn():
    kinds = [fuzz.mutate(BASES, 0, i).kind for i in range(len(fuzz.KINDS))]
    assert kinds == list(fuzz.KINDS)


@pytest.mark.parametrize("seed", range(5))
def test_classes_and_input_mutations_change_their_field(seed):
    spec = json.loads(json.dumps(BASE))
    change = fuzz.change_classes(spec, random.Random(seed), {})
    assert spec["classes"] in fuzz.CLASSES and change == f"classes: {spec['classes']!r}"
    spec = json.loads(json.dumps(BASE))
    fuzz.change_input(spec, random.Random(seed), {})
    assert spec["input"] != BASE["input"]


def test_a_set_value_changes_one_number_to_a_listed_value():
    spec = json.loads(json.dumps(BASE))
    change = fuzz.set_value(spec, random.Random(0), {})
    where, value = change.split(": ", 1)
    assert spec != BASE and value in {repr(v) for v in fuzz.VALUES}, change
    assert where in {fuzz._where(path) for _, _, path in fuzz._leaves(BASE)}


def test_a_block_name_becomes_a_near_miss_or_another_familys_name():
    names = fuzz.names_by_family([BASE, OTHER])
    assert names == {
        "act": ["relu"],
        "filter": ["conv"],
        "head": ["linear"],
        "pool": ["max"],
        "residual": ["identity"],
    }
    for seed in range(10):
        spec = json.loads(json.dumps(BASE))
        change = fuzz.foreign_block(spec, random.Random(seed), names)
        before = {path: (family, layer[family]) for layer, family, path in fuzz._blocks(BASE)}
        after = {path: (family, layer[family]) for layer, family, path in fuzz._blocks(spec)}
        [(family, name)] = [after[p] for p in before if after[p] != before[p]]
        others = {n for f, found in names.items() if f != family for n in found}
        assert name in others and repr(name) in change
    for seed in range(10):
        word = fuzz.near_miss("lecun_tanh", random.Random(seed))
        assert word != "lecun_tanh" and word


def test_raw_mutations_give_bytes_that_are_not_the_file():
    text = BASES["small"][0]
    for kind in fuzz.RAW.values():
        content, change = kind(text, random.Random(0))
        assert isinstance(content, bytes) and content != text.encode() and change
    bomb, _ = fuzz.bomb(text, random.Random(0))
    assert len(bomb) < 2000 and b"*a" in bomb


def test_a_traceback_is_a_bug_whatever_the_exit_status():
    for rc in (0, 1, 2):
        assert fuzz.classify("show", rc, TRACEBACK)[0] == fuzz.BUG
    assert fuzz.bug_line(TRACEBACK, Path("/tmp")) == "IndexError: Target 5 is out of bounds."


def test_one_error_line_with_exit_status_2_is_a_refusal(tmp_path):
    assert fuzz.classify("show", 2, MESSAGE) == (fuzz.REFUSED, "")
    warned = "convzoo: warning: its recipe was made for 'mnist'\n" + MESSAGE
    assert fuzz.classify("train", 2, warned, tmp_path / "run-0") == (fuzz.REFUSED, "")
    table = MESSAGE + "Layers that fit:\n  path  block  in -> out\n"
    assert fuzz.classify("show", 2, table) == (fuzz.REFUSED, "")
    assert fuzz.classify("show", 2, MESSAGE + MESSAGE)[0] == fuzz.BUG
    assert fuzz.classify("show", 2, MESSAGE + "convzoo: warning: late\n")[0] == fuzz.BUG
    assert fuzz.classify("show", 2, "")[0] == fuzz.BUG
    assert fuzz.classify("show", 3, MESSAGE)[0] == fuzz.BUG
    assert fuzz.classify("show", None, "")[0] == fuzz.BUG


def test_a_refused_run_that_left_files_is_a_bug(tmp_path):
    (tmp_path / "report.json").write_text('{"status": "ok"}')
    outcome, problem = fuzz.classify("train", 2, MESSAGE, tmp_path)
    assert outcome == fuzz.BUG and "report.json" in problem


def test_a_train_ends_ok_with_its_report_or_diverged_saying_so(tmp_path):
    assert fuzz.classify("train", 0, "", tmp_path)[0] == fuzz.BUG
    (tmp_path / "report.json").write_text('{"status": "ok"}')
    assert fuzz.classify("train", 0, "", tmp_path) == (fuzz.OK, "")
    (tmp_path / "report.json").write_text('{"status": "diverged"}')
    diverged = "convzoo: error: training diverged: the loss became NaN at step 3\n"
    assert fuzz.classify("train", 1, diverged, tmp_path) == (fuzz.DIVERGED, "")
    assert fuzz.classify("show", 1, diverged)[0] == fuzz.BUG
