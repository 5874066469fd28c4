"""A run's test split, prepared from its report's settings as its training prepared it."""

from __future__ import annotations

import torch

from convzoo.data import DataModule, prepared
from convzoo.data.prepared import data_settings, prepared_test_split
from convzoo.train import TrainConfig
from tests.run_report import REPORT


def test_data_settings_fill_what_the_report_does_not_record_from_train_config():
    assert data_settings(REPORT) == {"data": "synthetic", **REPORT["config"]}
    assert data_settings({}) == {
        "data": None,
        "data_dir": TrainConfig.data_dir,
        "permute": TrainConfig.permute,
        "seed": TrainConfig.seed,
        "val_fraction": TrainConfig.val_fraction,
        "standardize": TrainConfig.standardize,
    }


def test_the_test_split_is_prepared_as_training_prepared_it():
    split = prepared_test_split(data_settings(REPORT), [1, 12, 12])
    module = DataModule("synthetic", (1, 12, 12), seed=5, val_fraction=0.25, permute=3)
    module.setup()
    x, y = module.splits["test"]
    assert torch.equal(split.x, x) and torch.equal(split.y, y)
    assert split.fill == module.background and split.data == "synthetic"
    default = prepared_test_split(data_settings({"data": "synthetic"}), (1, 12, 12))
    assert default.fill != split.fill  # another seed and split: another standardization
    raw = {**REPORT, "config": {**REPORT["config"], "standardize": False}}
    unscaled = prepared_test_split(data_settings(raw), [1, 12, 12])
    module = DataModule("synthetic", (1, 12, 12), seed=5, val_fraction=0.25, permute=3)
    module.load()
    assert unscaled.fill == 0.0 and torch.equal(unscaled.x, module.load().test_x)


def test_data_and_data_dir_replace_the_reports(tmp_path, monkeypatch):
    split = prepared_test_split(data_settings(REPORT), (1, 32), data="synthetic1d")
    assert split.data == "synthetic1d" and split.x.shape == (256, 1, 32)
    made: list[DataModule] = []

    def record(**kwargs) -> DataModule:
        made.append(DataModule(**kwargs))
        return made[-1]

    monkeypatch.setattr(prepared, "DataModule", record)
    prepared_test_split(data_settings(REPORT), (1, 12, 12), data_dir=tmp_path)
    assert (made[0].data, made[0].data_dir, made[0].permute) == ("synthetic", tmp_path, 3)
    assert not made[0].resident  # tensors only, on the CPU: no loaders
