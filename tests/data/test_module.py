"""The DataModule: a seeded validation split, standardization, the canvas, both loader paths,
what it tells the training step (``Batching``), and the DataModule of a run's settings."""

from __future__ import annotations

import inspect

import lightning as L
import pytest
import torch
from torch.utils.data import DataLoader

import convzoo as cz
from convzoo.data import Batching, DataError, DataModule, ResidentLoader
from convzoo.data.module import batches_per_rank
from convzoo.errors import ConvzooError
from convzoo.train import ConvzooModule, TrainConfig
from convzoo.train.config import default, settings
from tests.users_trainer import users_trainer


def ready(**kw) -> DataModule:
    dm = DataModule("synthetic", **kw)
    dm.setup("fit")
    return dm


def test_validation_is_carved_from_training_with_a_fixed_seed():
    dm = ready(val_fraction=0.25, seed=7)
    (_xt, yt), (xv, yv), (_xs, ys) = (dm.splits[s] for s in ("train", "val", "test"))
    assert (len(yt), len(yv), len(ys)) == (384, 128, 256)
    again = ready(val_fraction=0.25, seed=7)
    assert torch.equal(again.splits["val"][0], xv)
    other = ready(val_fraction=0.25, seed=8)
    assert not torch.equal(other.splits["val"][0], xv)


def test_standardized_with_the_training_split():
    dm = ready()
    x = dm.splits["train"][0]
    assert abs(float(x.mean())) < 1e-4 and abs(float(x.std()) - 1) < 1e-3
    assert dm.background == pytest.approx(-dm.mean / dm.std)


def test_standardize_false_keeps_the_raw_values():
    raw = ready(standardize=False)
    scaled = ready()
    assert (raw.mean, raw.std, raw.background) == (0.0, 1.0, 0.0)
    x, _ = raw.splits["test"]
    assert torch.equal(x, raw.load().test_x)
    assert torch.allclose(scaled.splits["test"][0], (x - scaled.mean) / scaled.std)


def test_smaller_samples_are_centred_on_the_spec_canvas():
    dm = ready(input_shape=(1, 16, 16))
    x = dm.splits["test"][0]
    assert x.shape[1:] == (1, 16, 16)
    assert torch.allclose(x[:, :, :2, :], torch.full_like(x[:, :, :2, :], dm.background))


def test_a_mismatched_spec_names_both_shapes():
    with pytest.raises(DataError, match=r"\[1, 12, 12\].*\[3, 12, 12\]"):
        ready(input_shape=(3, 12, 12))


def test_resident_and_dataloader_paths_give_the_same_data():
    resident = ready(batch_size=32)
    loader = resident.train_dataloader()
    assert isinstance(loader, ResidentLoader) and len(loader) == 461 // 32
    plain = ready(batch_size=32, resident=False)
    assert isinstance(plain.train_dataloader(), DataLoader)
    assert torch.equal(
        torch.cat([y for _, y in plain.test_dataloader()]),
        torch.cat([y for _, y in resident.test_dataloader()]),
    )


def test_flips_only_where_the_data_allows():
    assert not ready(flip=True).augment.flip  # synthetic is not flip-invariant
    assert ready(translate=2).augment.translate == 2


def test_permutation_is_the_same_for_train_and_test():
    plain, permuted = ready(), ready(permute=3)
    from convzoo.data import pixel_permutation

    order = pixel_permutation((1, 12, 12), 3)
    for split in ("train", "test"):
        expect = plain.splits[split][0].flatten(2)[:, :, order]
        assert torch.allclose(permuted.splits[split][0].flatten(2), expect, atol=1e-6)


SPEC = {
    "name": "sixteen",
    "input": [1, 16, 16],
    "classes": 4,
    "layers": [{"filter": "conv", "out": 4, "kernel": 3}, {"act": "relu"}, {"head": "linear"}],
}


def test_the_input_shape_comes_from_the_model_it_is_given():
    net = cz.build(SPEC)
    assert DataModule("synthetic", model=net).input_shape == (1, 16, 16)
    assert DataModule("synthetic", model=ConvzooModule(SPEC)).input_shape == (1, 16, 16)
    with pytest.raises(ConvzooError, match=r"differs from the model's input \[1, 16, 16\]"):
        DataModule("synthetic", (1, 20, 20), model=net)
    with pytest.raises(ConvzooError, match="Linear is not a convzoo network"):
        DataModule("synthetic", model=torch.nn.Linear(2, 2))


def test_under_a_users_trainer_the_input_shape_comes_from_the_module_trained():
    module = ConvzooModule(SPEC, lr=0.05)
    data = DataModule("synthetic", batch_size=32)
    trainer = users_trainer()
    trainer.fit(module, datamodule=data)
    assert data.input_shape == (1, 16, 16)
    assert data.splits["train"][0].shape[1:] == (1, 16, 16)  # 12x12 samples, centred
    assert trainer.test(module, datamodule=data, verbose=False)[0]["test_acc"] > 0.25


def test_an_input_shape_that_is_not_the_trained_modules_is_one_clear_error():
    data = DataModule("synthetic", (1, 12, 12), batch_size=32)
    trainer = L.Trainer(max_epochs=1, accelerator="cpu", logger=False, enable_checkpointing=False)
    with pytest.raises(
        ConvzooError, match=r"input_shape \[1, 12, 12\] is not the input \[1, 16, 16\]"
    ):
        trainer.fit(ConvzooModule(SPEC), datamodule=data)


def test_batches_per_rank_count_whole_batches_of_each_ranks_share():
    assert batches_per_rank(461, 256, 2) == 0
    assert batches_per_rank(461, 230, 2) == 1
    assert batches_per_rank(461, 32, 1) == 14


def test_the_training_split_size_is_the_one_setup_makes():
    data = DataModule("synthetic", (1, 12, 12), val_fraction=0.1)
    expected = data.train_samples
    data.setup("fit")
    assert len(data.splits["train"][1]) == expected


@pytest.mark.parametrize("ranks", [1, 2])
def test_the_batching_told_before_setup_is_what_the_loader_and_setup_give(ranks):
    data = DataModule("synthetic", (1, 12, 12), batch_size=32, steps=4)
    told = data.batching(ranks)
    data.setup("fit")
    x, y = data.splits["train"]
    loader = ResidentLoader(x, y, 32, drop_last=True, world_size=ranks, steps=4)
    assert told == Batching(32, 4, loader.batches, data.mean, data.std)
    assert (told.mean, told.std) != (0.0, 1.0)
    raw = DataModule("synthetic", (1, 12, 12), standardize=False, resident=False, steps=4)
    assert (raw.batching().mean, raw.batching().std, raw.batching().steps_per_call) == (0, 1, 1)


def test_from_config_takes_every_setting_of_the_same_name():
    changed = {
        "data": "synthetic1d",
        "data_dir": "/nowhere",
        "batch_size": 7,
        "val_fraction": 0.3,
        "seed": 3,
        "translate": 2,
        "scale": (0.9, 1.1),
        "flip": True,
        "resident": False,
        "permute": 5,
        "standardize": False,
    }
    same = [n for n in inspect.signature(DataModule).parameters if n in settings()]
    assert sorted(same) == sorted(changed)
    assert all(value != default(name) for name, value in changed.items())
    seen = {}

    class Seen(DataModule):
        def __init__(self, *args, **kwargs):
            seen.update(inspect.signature(DataModule).bind(*args, **kwargs).arguments)
            super().__init__(*args, **kwargs)

    config = TrainConfig("tiny", steps_per_call=3, **changed)
    Seen.from_config(config, [1, 32])
    assert {name: seen[name] for name in same} == changed
    assert (seen["input_shape"], seen["steps"]) == ((1, 32), 3)
