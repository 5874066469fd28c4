"""``convzoo.load``: a run directory or its checkpoint gives back a network that takes the
test set as its dataset gives it and scores exactly the accuracy the run's report says; the
preprocessing it applies is the one the checkpoint records, and a checkpoint that records
none loads with a warning (written before convzoo kept it) or silently (a user's own data)."""

from __future__ import annotations

import warnings

import pytest
import torch
import yaml
from torch.utils.data import DataLoader, TensorDataset

import convzoo as cz
from convzoo.data import DataModule, load_dataset
from convzoo.data.prepared import data_settings, prepared_test_split
from convzoo.data.preprocessing import Preprocessing
from convzoo.errors import ConvzooError, ConvzooWarning
from convzoo.train import ConvzooModule, train
from convzoo.train.checkpoint import DIGEST, INPUT, digest, last_checkpoint
from convzoo.train.report import read_report
from tests.train.conftest import TINY
from tests.users_trainer import users_trainer

CANVAS = {**TINY, "name": "canvas", "input": [1, 16, 16]}  # 12x12 samples centred on 16x16


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A run of a net on a larger canvas than its data's samples, permuted and standardized."""
    folder = tmp_path_factory.mktemp("load")
    spec = folder / "canvas.yaml"
    spec.write_text(yaml.safe_dump(CANVAS, sort_keys=False))
    settings = {"data": "synthetic", "epochs": 2, "batch_size": 32, "permute": 3, "lr": 0.05}
    settings.update(out=str(folder / "run"), progress=False, accelerator="cpu")
    train(cz.train.TrainConfig(str(spec), **settings))
    return folder / "run"


def _accuracy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return (model(x).argmax(1) == y).sum().item() / len(y)


def test_the_raw_test_set_scores_what_the_report_says(run):
    report = read_report(run)
    raw = load_dataset("synthetic")
    for path in (run, last_checkpoint(run), str(run)):
        model = cz.load(path)
        assert _accuracy(model, raw.test_x, raw.test_y) == report["test_acc"], path
    split = prepared_test_split(data_settings(report), CANVAS["input"])
    assert torch.equal(model.preprocess(raw.test_x), split.x)  # as training prepared it
    steps = model.preprocess
    assert (steps.canvas, steps.permute) == ((1, 16, 16), 3) and steps.std != 1.0
    assert not model.training


def test_the_loaded_model_is_the_network_with_its_weights(run):
    model = cz.load(run)
    assert isinstance(model, cz.ConvNet) and model.spec.name == "canvas"
    assert model.state_dict().keys() == model.net.state_dict().keys()
    assert cz.summary(model).params == cz.summary(model.net).params
    x = torch.rand(5, 1, 12, 12)
    assert torch.equal(model(x), model.net(model.preprocess(x)))


def _rewritten(run, tmp_path, change) -> str:
    content = torch.load(last_checkpoint(run), weights_only=True)
    change(content["convzoo"])
    content[DIGEST] = digest(content)
    path = tmp_path / "edited.ckpt"
    torch.save(content, path)
    return str(path)


def test_a_checkpoint_from_before_the_preprocessing_was_kept_loads_with_a_warning(run, tmp_path):
    path = _rewritten(run, tmp_path, lambda convzoo: convzoo.pop(INPUT))
    with pytest.warns(ConvzooWarning, match="edited.ckpt: the checkpoint records no input pre"):
        model = cz.load(path)
    x = torch.rand(5, 1, 16, 16)
    assert model.preprocess is None and torch.equal(model(x), model.net(x))


@pytest.mark.parametrize("recorded", ["text", {"permute": 3, "mean": 0.0, "std": -1.0}])
def test_a_preprocessing_convzoo_does_not_write_is_one_clear_error(run, tmp_path, recorded):
    path = _rewritten(run, tmp_path, lambda convzoo: convzoo.update({INPUT: recorded}))
    with pytest.raises(ConvzooError, match="edited.ckpt: the input preprocessing it records"):
        cz.load(path)


def test_a_run_directory_without_a_checkpoint_is_one_clear_error(tmp_path):
    with pytest.raises(ConvzooError, match="no checkpoint in this run directory"):
        cz.load(tmp_path)


def _users_fit(data, tmp_path) -> str:
    module = ConvzooModule(CANVAS, schedule="constant")
    trainer = users_trainer(limit_val_batches=0)
    trainer.fit(module, **data)
    trainer.save_checkpoint(tmp_path / "own.ckpt")
    return str(tmp_path / "own.ckpt")


def test_under_a_users_trainer_the_datamodules_preprocessing_is_recorded(tmp_path):
    data = DataModule("synthetic", batch_size=32, permute=5)
    model = cz.load(_users_fit({"datamodule": data}, tmp_path))
    assert model.preprocess == Preprocessing((1, 16, 16), 5, data.mean, data.std)


def test_a_users_own_data_records_no_preprocessing_and_loads_without_a_warning(tmp_path):
    x, y = torch.rand(64, 1, 16, 16), torch.arange(64) % 4
    loader = DataLoader(TensorDataset(x, y), batch_size=16)
    path = _users_fit({"train_dataloaders": loader}, tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = cz.load(path)
    assert model.preprocess is None and torch.equal(model(x), model.net(x))
