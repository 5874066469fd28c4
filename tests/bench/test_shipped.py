"""The suites convzoo ships are found by name; a file stays a file; a wrong name says what is."""

from __future__ import annotations

from pathlib import Path

import pytest

from convzoo.bench import SuiteError, suite_names, suite_path
from convzoo.cli import main

SUITES = Path(__file__).parents[2] / "benchmarks" / "suites"


def test_a_name_is_a_shipped_suite_and_a_file_is_a_file(tmp_path):
    assert suite_path("smoke") == SUITES / "smoke.yaml"
    mine = tmp_path / "smoke.yaml"
    assert suite_path(str(mine)) == mine


def test_the_spec_files_beside_the_suites_are_not_suites():
    names = suite_names()
    assert {"smoke", "stages", "permutation"} <= set(names)
    assert not {"tiny", "stages_net", "mlp1d"} & set(names)
    with pytest.raises(SuiteError, match="unknown suite 'tiny'"):
        suite_path("tiny")


def test_an_unknown_name_exits_2_with_the_closest_and_the_list(capsys):
    assert main(["bench", "smok", "--list"]) == 2
    err = capsys.readouterr().err
    assert err.count("convzoo: error") == 1
    assert "did you mean 'smoke'" in err.lower() and "Shipped suites: " in err
