"""A training run's directory: where its checkpoint is, and how its data was prepared.

``evaluate`` and ``scan`` take either a run directory or a checkpoint file; both
must find the checkpoint, and the report next to it that says which dataset, data
dir, permutation, seed and validation split the run used. ``prepared_test_split``
is the one place that prepares the test set from those settings exactly as
training did (the same canvas, permutation, split and standardization), for
``evaluate``, ``scan`` and the bench.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.utilities import rank_zero_only

from convzoo.data import DataModule
from convzoo.errors import ConvzooError
from convzoo.train.config import TrainConfig

CHECKPOINT = Path("checkpoints") / "last.ckpt"
REPORT = "report.json"


def locate(path: str | Path) -> tuple[Path, Path | None]:
    """The checkpoint file and the run directory (the folder holding its report), if any."""
    path = Path(path)
    if path.is_dir():
        ckpt = path / CHECKPOINT
        if not ckpt.is_file():
            raise ConvzooError(f"{path}: no checkpoint in this run directory (looked for {ckpt})")
        return ckpt, path
    if not path.is_file():
        raise ConvzooError(f"{path}: no such checkpoint file or run directory")
    for folder in (path.parent, path.parent.parent):
        if (folder / REPORT).is_file():
            return path, folder
    return path, None


def read_report(run: Path | None) -> dict[str, Any]:
    """The run's ``report.json``, or an empty dict without a run directory."""
    if run is None:
        return {}
    try:
        report = json.loads((run / REPORT).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConvzooError(f"{run / REPORT}: cannot read the run's report ({exc})") from exc
    return report if isinstance(report, dict) else {}


def data_settings(report: dict[str, Any]) -> dict[str, Any]:
    """The DataModule arguments of the run: ``data`` (None when the report names none),
    ``data_dir``, ``permute``, ``seed`` and ``val_fraction``; what the report does not
    record is ``TrainConfig``'s default, as training would have used it."""
    config = report.get("config", {})
    settings = {"data": report.get("data")}
    for key in ("data_dir", "permute", "seed", "val_fraction"):
        recorded = config.get(key)
        settings[key] = getattr(TrainConfig, key) if recorded is None else recorded
    return settings


@dataclass(frozen=True)
class PreparedSplit:
    """A run's test samples and labels as its training prepared them, the value ``fill`` of
    a zero pixel after standardization (the background of shifts and rescales), and the
    name of the dataset."""

    x: torch.Tensor
    y: torch.Tensor
    fill: float
    data: str


def prepared_test_split(
    settings: Mapping[str, Any],
    input_shape: Sequence[int],
    data: str | None = None,
    data_dir: str | Path | None = None,
) -> PreparedSplit:
    """The test split of the run whose ``data_settings`` are ``settings``, fitted to the
    network's ``input_shape``, on the CPU.

    ``data`` and ``data_dir`` replace the settings' when given; the caller sees that one
    of them names a dataset (its own rule for a run that names none).
    """
    chosen = {**settings, "data": data or settings["data"]}
    if data_dir:
        chosen["data_dir"] = data_dir
    module = DataModule(input_shape=tuple(input_shape), resident=False, **chosen)
    module.setup("test")
    x, y = module.splits["test"]
    return PreparedSplit(x, y, module.background, chosen["data"])


def is_rank_zero() -> bool:
    """False in the extra processes of a DDP run (rank zero writes the run's files)."""
    return getattr(rank_zero_only, "rank", 0) == 0
