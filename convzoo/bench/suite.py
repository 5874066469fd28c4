"""Benchmark suites: the YAML format, its validation, and the cells it expands to.

A suite names architectures, datasets and seeds, and optionally a grid of swaps
and a pixel permutation; every combination is one *cell*, one training run::

    name: stages
    description: what the suite compares
    archs:
      - lenet5                                   # a registered architecture
      - stages_net.yaml                          # a spec file, relative to the suite file
      - {arch: convnet2, swap: {act: tanh}, label: convnet2-tanh}
      - {arch: lenet5, train: {scale: [0.5, 0.5]}, label: lenet5-small}   # its own settings
    data: [fashion_mnist]
    seeds: [0, 1, 2]
    epochs: 5
    train: {batch_size: 128, lr: 0.05}           # further TrainConfig fields
    evaluate: {scales: [0.7, 1.0, 1.3], max_shift: 4}   # EvaluateConfig fields
    grid: {swap: {act: [tanh, relu], pool: [avg, max]}}   # every combination, on every arch
    permute: [null, 0]                           # each cell without and with permutation 0

Everything a suite can get wrong -- unknown keys, architectures, datasets or
swaps, a swap or a layer that does not fit an architecture, a 1-D network on
2-D data, a setting of the wrong type -- is collected and raised as one
``SuiteError`` that lists every problem, before anything trains: a long
benchmark must not die an hour in on a typo. YAML is read with the safe loader.

A cell's fingerprint (``Suite.fingerprint``) hashes everything that determines its
result, so that a rerun never mixes cells made by other settings: its spec, data,
permutation and seed, the suite's epochs and ``train`` mapping, and of the
evaluation settings ``scales`` (None where the suite names none) and ``max_shift``
-- as every fingerprint has since the first suites -- and any other only where it
differs from its default. A setting or a measure added later, at its default,
leaves every fingerprint, and so every committed result, as it was. The data is
named by its dataset: a dataset's files are checked against its known SHA-256 sums,
so the folder they lie in (``--data-dir``, this machine's, which a suite's ``train``
cannot set) is no part of a fingerprint.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from convzoo.assemble import apply_swaps, build_meta
from convzoo.bench.checks import (
    Checker,
    datasets,
    evaluate_settings,
    grid_swaps,
    swap_mapping,
    train_settings,
)
from convzoo.data import DATASETS
from convzoo.errors import ConvzooError, did_you_mean, is_int
from convzoo.evaluate.config import EvaluateConfig, changed
from convzoo.files import read_yaml
from convzoo.spec import Spec, load_spec, spec_file

TOP_KEYS = (
    "name",
    "description",
    "archs",
    "data",
    "seeds",
    "epochs",
    "train",
    "evaluate",
    "grid",
    "permute",
)
ARCH_KEYS = ("arch", "swap", "label", "train")


class SuiteError(ConvzooError):
    """A suite that cannot run; the message lists every problem found."""


@dataclass(frozen=True)
class Cell:
    """One training run: a configuration (label = arch and swaps, data, permute) and a seed.

    ``arch`` is what ``train`` takes (a registry name or a spec file's absolute
    path), ``arch_name`` the spec's name, ``spec_hash`` the hash of the swapped spec.
    """

    id: str
    label: str
    arch: str
    arch_name: str
    swap: dict[str, str]
    data: str
    permute: int | None
    seed: int
    spec_hash: str
    train: dict[str, Any] = field(default_factory=dict)  # the entry's own, over the suite's


@dataclass
class Suite:
    """A validated suite and its cells, in the order they run."""

    name: str
    description: str
    path: Path
    epochs: int | None  # None: each architecture's recipe, else the default
    train: dict[str, Any]
    evaluate: EvaluateConfig
    seeds: list[int]
    permute: list[int | None]
    cells: list[Cell]
    overrides: dict[str, Any] = field(default_factory=dict)  # what the command line changed
    evaluate_keys: tuple[str, ...] = ()  # the evaluation settings the suite file names

    def select(self, ids: list[str]) -> list[Cell]:
        """The cells with these ids; an unknown id is an error with the closest ones."""
        known = {cell.id: cell for cell in self.cells}
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise SuiteError(
                f"{self.path}: no cell {unknown[0]!r}.{did_you_mean(unknown[0], known)} "
                f"The suite has {len(known)} cells (convzoo bench SUITE --list)."
            )
        return [known[i] for i in ids]

    def settings(self) -> dict[str, Any]:
        """The settings shared by every cell, as results.json records them and fingerprints
        hash them: ``scales`` (None where the suite file names none) and ``max_shift``
        always, any other evaluation setting that changes a figure where it differs from its
        default."""
        evaluation = changed(self.evaluate)
        named = list(self.evaluate.scales) if "scales" in self.evaluate_keys else None
        return {
            "epochs": self.epochs,
            "train": self.train,
            "scales": evaluation.pop("scales", named),
            "max_shift": evaluation.pop("max_shift", self.evaluate.max_shift),
            **evaluation,
        }

    def fingerprint(self, cell: Cell) -> str:
        """A hash of everything that determines a cell's result (an entry's own ``train``
        settings only where it has some, so that the cells of every other entry keep theirs)."""
        own = {"cell_train": cell.train} if cell.train else {}
        return _digest(
            {
                "spec": cell.spec_hash,
                "data": cell.data,
                "permute": cell.permute,
                "seed": cell.seed,
                **self.settings(),
                **own,
            }
        )


def _digest(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def spec_hash(spec: Spec) -> str:
    """A short hash of the normalized spec (after swaps)."""
    return _digest(spec.to_dict())


def slug(label: str) -> str:
    """The label as a file-system-safe name: ``convnet2 act=tanh`` -> ``convnet2_act-tanh``."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", label.replace(" ", "_").replace("=", "-")).strip("-")


def cell_id(label: str, data: str, permute: int | None, seed: int) -> str:
    """A file-system-safe id: ``LABEL__DATA[__permP]__seedS``."""
    perm = "" if permute is None else f"__perm{permute}"
    return f"{slug(label)}__{data}{perm}__seed{seed}"


# -- architectures and their cells -------------------------------------------------------


@dataclass
class _Arch:
    where: str
    arch: str
    spec: Spec
    swap: dict[str, str]
    label: str | None
    train: dict[str, Any] = field(default_factory=dict)


def _resolve_arch(name: str, folder: Path) -> str:
    """A spec file relative to the suite's folder (absolute), or a registry name as it is."""
    path = spec_file(name, folder)
    return name if path is None else str(path.resolve())


def _arch(item: Any, where: str, folder: Path, check: Checker) -> _Arch | None:
    entry = {"arch": item} if isinstance(item, str) else item
    if not isinstance(entry, dict):
        check.add(f"{where}: expected a name, a spec file or a mapping, got {item!r}")
        return None
    check.unknown_keys(entry, ARCH_KEYS, where)
    name, label = entry.get("arch"), entry.get("label")
    swap = swap_mapping(entry.get("swap"), f"{where}.swap", check)
    train = train_settings(entry.get("train"), check, f"{where}.train")
    if label is not None and (not isinstance(label, str) or not label.strip()):
        check.add(f"{where}.label: expected a non-empty string, got {label!r}")
        return None
    if not isinstance(name, str):
        check.add(f"{where}: `arch` must name an architecture or a spec file, got {name!r}")
        return None
    try:
        arch = _resolve_arch(name, folder)
        spec = load_spec(arch)
    except ConvzooError as exc:
        check.add(f"{where}: {exc}")
        return None
    return None if swap is None else _Arch(where, arch, spec, swap, label, train)


def _archs(raw: Any, folder: Path, check: Checker) -> list[_Arch]:
    if not isinstance(raw, list) or not raw:
        check.add(
            "archs: expected a non-empty list of architecture names, spec files or "
            f"{{arch, swap, label, train}} mappings, got {raw!r}"
        )
        return []
    found = [_arch(item, f"archs[{i}]", folder, check) for i, item in enumerate(raw)]
    return [arch for arch in found if arch is not None]


def _swaps_fit(entry: _Arch, combos: list[dict[str, str]], check: Checker) -> bool:
    """Each swap of the entry and of the grid on its own, so every bad name is listed once."""
    clash = sorted(entry.swap.keys() & {key for combo in combos for key in combo})
    if clash:
        check.add(f"{entry.where}: swaps {', '.join(clash)} both here and in the grid")
        return False
    fits = True
    for key, name in dict.fromkeys([*entry.swap.items(), *(i for c in combos for i in c.items())]):
        try:
            apply_swaps(entry.spec, {key: name})
        except ConvzooError as exc:
            check.add(f"{entry.where} ({entry.spec.name}): {exc}")
            fits = False
    return fits


def _swap_text(swap: dict[str, str]) -> str:
    return " ".join(f"{k}={v}" for k, v in swap.items())


@dataclass
class _Axes:
    combos: list[dict[str, str]]
    data: list[str]
    permute: list[int | None]
    seeds: list[int]


def _cells(entry: _Arch, axes: _Axes, labels: dict[str, str], check: Checker) -> list[Cell]:
    """The cells of one architecture entry: grid x data x permute x seeds."""
    cells: list[Cell] = []
    base = entry.label or " ".join(filter(None, [entry.spec.name, _swap_text(entry.swap)]))
    for combo in axes.combos:
        label = " ".join(filter(None, [base, _swap_text(combo)]))
        if slug(label) in labels:
            check.add(
                f"{entry.where}: the label {label!r} is taken by {labels[slug(label)]}; "
                "give a distinct `label`"
            )
            continue
        labels[slug(label)] = entry.where
        swap = {**entry.swap, **combo}
        try:
            spec = apply_swaps(entry.spec, swap)
            build_meta(spec)
        except ConvzooError as exc:
            check.add(f"{label}: {exc}")
            continue
        digest = spec_hash(spec)
        for data in axes.data:
            dims = tuple(DATASETS.get("data", data).dims)
            if spec.dims not in dims:
                check.add(
                    f"{label}: takes {spec.dims}-D input {list(spec.input)}, but dataset "
                    f"{data!r} is {'/'.join(map(str, dims))}-D"
                )
                continue
            cells += [
                Cell(
                    id=cell_id(label, data, p, s),
                    label=label,
                    arch=entry.arch,
                    arch_name=spec.name,
                    swap=swap,
                    data=data,
                    permute=p,
                    seed=s,
                    spec_hash=digest,
                    train=entry.train,
                )
                for p in axes.permute
                for s in axes.seeds
            ]
    return cells


def load_suite(path: str | Path, epochs: int | None = None) -> Suite:
    """Read, validate and expand a suite file; ``epochs`` overrides the file's."""
    path = Path(path)
    raw = read_yaml(path, "the suite file", SuiteError)
    if not isinstance(raw, dict):
        raise SuiteError(f"{path}: a suite is a mapping with keys {', '.join(TOP_KEYS)}")
    check = Checker()
    check.unknown_keys(raw, TOP_KEYS, "suite")
    name, description = raw.get("name"), raw.get("description") or ""
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        check.add(f"name: expected a plain name (letters, digits, _ . -), got {name!r}")
    if not isinstance(description, str):
        check.add(f"description: expected a string, got {description!r}")
    overrides = {"epochs": epochs} if epochs is not None and epochs != raw.get("epochs") else {}
    epochs = raw.get("epochs") if epochs is None else epochs
    if epochs is not None and (not is_int(epochs) or epochs < 1):
        check.add(f"epochs: expected a positive integer, got {epochs!r}")
    seeds = check.items(raw.get("seeds"), "seeds", is_int, "integers", [0])
    permute = check.items(
        raw.get("permute"),
        "permute",
        lambda p: p is None or is_int(p),
        "null or integer seeds",
        [None],
    )
    train = train_settings(raw.get("train"), check)
    evaluation = evaluate_settings(raw.get("evaluate"), check)
    axes = _Axes(
        grid_swaps(raw.get("grid"), check), datasets(raw.get("data"), check), permute, seeds
    )
    labels: dict[str, str] = {}
    cells = [
        cell
        for entry in _archs(raw.get("archs"), path.parent, check)
        if _swaps_fit(entry, axes.combos, check)
        for cell in _cells(entry, axes, labels, check)
    ]
    if check.problems:
        listing = "\n".join(f"  - {p}" for p in check.problems)
        raise SuiteError(
            f"{path}: {len(check.problems)} problem(s), nothing was trained:\n{listing}"
        )
    return Suite(
        name=str(name),  # a plain name: any other value is a problem above
        description=description,
        path=path.resolve(),
        epochs=epochs,
        train=train,
        evaluate=EvaluateConfig(**evaluation),
        seeds=seeds,
        permute=permute,
        cells=cells,
        overrides=overrides,
        evaluate_keys=tuple(evaluation),
    )
