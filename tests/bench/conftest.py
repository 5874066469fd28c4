"""Helpers the bench tests share: the shipped suites, ``convzoo bench`` with its errors raised,
a ``train`` that must not be called, results.csv by cell, and the smoke suite run once."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

import convzoo.bench.runner
from convzoo.cli import bench as cli_bench
from convzoo.cli import make_parser

SUITES = Path(__file__).parents[2] / "benchmarks" / "suites"
SMOKE_CELLS = [
    "tiny__synthetic__seed0",
    "tiny__synthetic__seed1",
    "tiny_tanh__synthetic__seed0",
    "tiny_tanh__synthetic__seed1",
]


def bench(*argv: str) -> int:
    """``convzoo bench ARGV`` with its errors raised (``main`` would turn them into exit 2)."""
    args = make_parser().parse_args(["bench", *argv]).bench
    return cli_bench.run(args)


def no_training(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []

    def train(config, origins=None):
        calls.append(config.out)
        raise AssertionError("train must not be called")

    monkeypatch.setattr(convzoo.bench.runner, "train", train)
    return calls


def rows(out: Path) -> dict[str, dict[str, str]]:
    with (out / "results.csv").open() as f:
        return {row["id"]: row for row in csv.DictReader(f)}


@pytest.fixture(scope="session")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The smoke suite, run once for the session (the runner and parallel tests share it)."""
    out = tmp_path_factory.mktemp("bench") / "smoke"
    assert bench(str(SUITES / "smoke.yaml"), "--out", str(out), "--accelerator", "cpu") == 0
    return out


@pytest.fixture
def smoke_copy(smoke: Path, tmp_path: Path) -> Path:
    out = tmp_path / "smoke"
    shutil.copytree(smoke, out)
    return out
