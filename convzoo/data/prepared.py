"""A trained run's test split, prepared from its settings exactly as its training prepared it.

``evaluate``, ``scan`` and the bench measure a network that a run trained; they
must see the test images as that run saw them -- fitted to the same canvas,
permuted with the same seed, standardized with the mean and std of the same
training split. The run's report records the DataModule arguments that decide
this; ``data_settings`` reads them back (what it does not record is the
DataModule's default, which a test ties to ``TrainConfig``'s, so it is what the run
used), and ``prepared_test_split`` builds a DataModule from them and takes its
test split, on the CPU. ``prepared_scan_split`` gives the images a scan lays out
as strips, which for a dataset of windows are its base's.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from convzoo.data.catalog import load_dataset
from convzoo.data.module import DataModule
from convzoo.data.transforms import fit_canvas
from convzoo.errors import ConvzooError

RECORDED = ("data_dir", "permute", "seed", "val_fraction", "standardize")
DEFAULTS = {name: inspect.signature(DataModule).parameters[name].default for name in RECORDED}


def data_settings(report: dict[str, Any]) -> dict[str, Any]:
    """The DataModule arguments of the run whose ``report.json`` is ``report``: ``data`` (None
    when the report names none) and the ``RECORDED`` ones from its ``config``; what the report
    does not record is the DataModule's default, as training would have used it."""
    config = report.get("config", {})
    settings = {"data": report.get("data")}
    for key in RECORDED:
        recorded = config.get(key)
        settings[key] = DEFAULTS[key] if recorded is None else recorded
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
