"""A training run's directory: where its checkpoint is, and how its data was prepared.

``evaluate`` and ``scan`` take either a run directory or a checkpoint file; both
must find the checkpoint, and the report next to it that says which dataset, data
dir, permutation, seed and validation split the run used. ``prepared_test_split``
is the one place that prepares the test set from those settings exactly as
training did (the same canvas, permutation, split and standardization), for
``evaluate``, ``scan`` and the bench; ``prepared_scan_split`` gives the images a
scan lays out as strips, which for a dataset of windows are its base's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.utilities import rank_zero_only

from convzoo.data import DataModule, fit_canvas, load_dataset
from convzoo.errors import ConvzooError
from convzoo.train.config import TrainConfig

CHECKPOINT = Path("checkpoints") / "last.ckpt"
REPORT = "report.json"
CONFIG = "config.yaml"  # the resolved settings, written before the first step


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
    ``data_dir``, ``permute``, ``seed``, ``val_fraction`` and ``standardize``; what the
    report does not record is ``TrainConfig``'s default, as training would have used it."""
    config = report.get("config", {})
    settings = {"data": report.get("data")}
    for key in ("data_dir", "permute", "seed", "val_fraction", "standardize"):
        recorded = config.get(key)
        settings[key] = getattr(TrainConfig, key) if recorded is None else recorded
    return settings


@dataclass(frozen=True)
class PreparedSplit:
    """A run's test samples and labels as its training prepared them, the value ``fill`` of
    a zero pixel after standardization (the background of shifts and rescales), the
    name of the dataset, and the class that means "no object here" if it has one."""

    x: torch.Tensor
    y: torch.Tensor
    fill: float
    data: str
    background: int | None = None


def _prepared(
    settings: Mapping[str, Any],
    input_shape: Sequence[int],
    data: str | None,
    data_dir: str | Path | None,
) -> DataModule:
    chosen = {**settings, "data": data or settings["data"]}
    if data_dir:
        chosen["data_dir"] = data_dir
    module = DataModule(input_shape=tuple(input_shape), resident=False, **chosen)
    module.setup("test")
    return module


def _test_split(module: DataModule) -> PreparedSplit:
    x, y = module.splits["test"]
    return PreparedSplit(x, y, module.background, module.data, module.load().background)


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
    return _test_split(_prepared(settings, input_shape, data, data_dir))


def prepared_scan_split(
    settings: Mapping[str, Any],
    input_shape: Sequence[int],
    data: str | None = None,
    data_dir: str | Path | None = None,
) -> PreparedSplit:
    """The images a scan lays side by side, as ``prepared_test_split`` takes its arguments.

    A dataset cut from another one (``Dataset.base``: windows of strips) gives that one's
    test images at their own width, standardized with the run's statistics (those of the
    windows it trained on), with its background class; any other dataset its test split.
    """
    module = _prepared(settings, input_shape, data, data_dir)
    ds = module.load()
    if ds.base is None:
        return _test_split(module)
    if module.permute is not None:
        raise ConvzooError(
            f"{module.data}: a run trained with --permute {module.permute} cannot be scanned "
            f"(its windows' pixels are permuted, strips of {ds.base} are not); "
            "scan a run trained without --permute"
        )
    base = load_dataset(ds.base, module.data_dir, module.download)
    shape = (*input_shape[:-1], base.test_x.shape[-1])
    x = fit_canvas(base.test_x, shape, f"dataset {ds.base!r} (the base of {module.data!r})")
    return PreparedSplit(
        module.standardize(x), base.test_y, module.background, ds.base, ds.background
    )


def is_rank_zero() -> bool:
    """False in the extra processes of a DDP run (rank zero writes the run's files)."""
    return getattr(rank_zero_only, "rank", 0) == 0
