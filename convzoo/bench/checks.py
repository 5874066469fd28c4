"""Checking a suite file's values: a collector of problems and one parser per key.

Each parser takes the raw YAML value, adds a problem for everything wrong with
it (saying where, what was expected and what was found, with "did you mean"
for misspelt names) and returns what it could use, so that ``load_suite`` can
go on and report every problem of the file at once instead of the first.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from convzoo import settings as declared
from convzoo.data import DATASETS
from convzoo.errors import ConvzooError, did_you_mean
from convzoo.evaluate.config import EvaluateConfig
from convzoo.train import config

GRID_KEYS = ("swap",)
# TrainConfig fields a suite's ``train`` may not set, and what sets them instead.
RESERVED = {
    "arch": "`archs`",
    "data": "`data`",
    "seed": "`seeds`",
    "epochs": "`epochs`",
    "swap": "`archs` and `grid`",
    "permute": "`permute`",
    "out": "--out",
    "resume": "rerunning into the same --out",
    "devices": "--devices",
    "strategy": "--strategy",
    "accelerator": "--accelerator",
    "data_dir": "--data-dir",
    "progress": "the bench command",
}


class Checker:
    """Collects the problems of one suite file, each once, in the order found."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def add(self, problem: str) -> None:
        """Note a problem."""
        if problem not in self.problems:
            self.problems.append(problem)

    def unknown_keys(self, raw: dict[str, Any], accepted: tuple[str, ...], where: str) -> None:
        """A problem for each key of ``raw`` that is not ``accepted``."""
        for key in raw:
            if key not in accepted:
                self.add(
                    f"{where}: unknown key {key!r}.{did_you_mean(str(key), accepted)} "
                    f"Accepted: {', '.join(accepted)}."
                )

    def items(
        self, raw: Any, key: str, ok: Callable[[Any], bool], what: str, default: list[Any]
    ) -> list[Any]:
        """A non-empty list whose items pass ``ok`` (``default`` when absent); a problem for
        each bad or repeated item."""
        if raw is None:
            return default
        if not isinstance(raw, list) or not raw:
            self.add(f"{key}: expected a non-empty list of {what}, got {raw!r}")
            return []
        good = []
        for i, item in enumerate(raw):
            if ok(item):
                good.append(item)
            else:
                self.add(f"{key}[{i}]: expected {what}, got {item!r}")
        if len(set(map(repr, good))) < len(good):
            self.add(f"{key}: {good} lists a value twice")
        return good


def swap_mapping(raw: Any, where: str, check: Checker) -> dict[str, str] | None:
    """An architecture's ``swap``: a mapping of KEY: NAME (None when malformed)."""
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
    ):
        check.add(f"{where}: a swap is a mapping of KEY: NAME (e.g. {{act: relu}}), got {raw!r}")
        return None
    return dict(raw)


def grid_swaps(raw: Any, check: Checker) -> list[dict[str, str]]:
    """Every combination of the grid's swaps (``[{}]`` without a grid)."""
    if raw is None:
        return [{}]
    if not isinstance(raw, dict):
        check.add(f"grid: expected a mapping {{swap: {{KEY: [NAME, ...]}}}}, got {raw!r}")
        return [{}]
    check.unknown_keys(raw, GRID_KEYS, "grid")
    swaps = raw.get("swap") or {}
    if not isinstance(swaps, dict):
        check.add(f"grid.swap: expected a mapping of KEY: [NAME, ...], got {swaps!r}")
        return [{}]
    axes = []
    for key, names in swaps.items():
        ok = check.items(names, f"grid.swap.{key}", lambda n: isinstance(n, str), "names", [])
        if ok:
            axes.append([(str(key), name) for name in ok])
    return [dict(combo) for combo in itertools.product(*axes)]


def train_settings(raw: Any, check: Checker, where: str = "train") -> dict[str, Any]:
    """A ``train`` mapping (the suite's, or an architecture entry's at ``where``): settings the
    suite does not set itself, checked as ``TrainConfig`` checks them (type, choices, range)."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        check.add(f"{where}: expected a mapping of training settings, got {raw!r}")
        return {}
    accepted = tuple(name for name in config.settings() if name not in RESERVED)
    good = {}
    for key, value in raw.items():
        key = str(key).replace("-", "_")
        if key in RESERVED:
            check.add(f"{where}.{key}: not a `train` setting of a suite; {RESERVED[key]} sets it")
        elif key not in accepted:
            check.add(f"{where}: {declared.unknown(key, accepted)}")
        elif wrong := config.problem(key, value):
            check.add(f"{where}.{key}: {wrong}")
        else:
            good[key] = value
    return good


def evaluate_settings(raw: Any, check: Checker) -> dict[str, Any]:
    """The ``evaluate`` mapping: the ``EvaluateConfig`` settings it gives, checked as that
    checks them (type, range)."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        check.add(f"evaluate: expected a mapping of evaluation settings, got {raw!r}")
        return {}
    accepted = tuple(declared.settings(EvaluateConfig))
    good = {}
    for key, value in raw.items():
        key = str(key).replace("-", "_")
        if key not in accepted:
            check.add(f"evaluate: {declared.unknown(key, accepted)}")
        elif wrong := declared.problem(EvaluateConfig, key, value):
            check.add(f"evaluate.{key}: {wrong}")
        else:
            good[key] = value
    return good


def datasets(raw: Any, check: Checker) -> list[str]:
    """The ``data`` list: registered dataset names."""
    if raw is None:
        check.add("data: missing; list the datasets, e.g. data: [fashion_mnist]")
        return []
    good = []
    for i, name in enumerate(check.items(raw, "data", lambda n: isinstance(n, str), "names", [])):
        try:
            DATASETS.get("data", name)
            good.append(name)
        except ConvzooError as exc:
            check.add(f"data[{i}]: {exc}")
    return good
