"""Recipes: each architecture's ``train:`` section, layered under --config and flags."""

from __future__ import annotations

import warnings

import pytest
import yaml

import convzoo as cz
from convzoo.errors import ConvzooError
from convzoo.train import config as settings
from convzoo.train import train
from convzoo.train.config import RecipeWarning, for_arch, recipe
from tests.train.conftest import TINY

WITH_RECIPE = [name for name in cz.arch_names() if cz.load_spec(name).recipe is not None]


def test_the_classics_carry_recipes():
    assert {"lenet5", "lenet5_modern", "mnist1d_cnn", "convnet2", "capsnet"} <= set(WITH_RECIPE)


@pytest.mark.parametrize("name", WITH_RECIPE)
def test_every_shipped_recipe_is_valid_and_names_its_source(name):
    made, source = recipe(cz.load_spec(name))
    assert source and len(source) > 10, f"{name}: a recipe names where it comes from"
    assert made["data"] in {d for d in ("mnist", "mnist1d", "fashion_mnist", "mnist_windows")}
    assert settings.TrainConfig(name, **made).data == made["data"]


@pytest.fixture
def spec(tmp_path):
    path = tmp_path / "tiny.yaml"
    made = {
        "source": "a test",
        "data": "synthetic",
        "lr": 0.05,
        "epochs": 3,
        "batch_size": 64,
        "swap": {"act": "tanh"},
    }
    path.write_text(yaml.safe_dump({**TINY, "train": made}, sort_keys=False))
    return path


def test_recipe_then_config_then_flags_with_where_each_came_from(spec):
    result, origins = for_arch(
        str(spec), {"epochs": 4, "batch_size": 32}, {"epochs": 2, "swap": {"pool": "avg"}}
    )
    assert (result.lr, result.batch_size, result.epochs) == (0.05, 32, 2)
    assert result.swap == {"act": "tanh", "pool": "avg"}
    assert (origins["lr"], origins["batch_size"], origins["epochs"]) == ("recipe", "config", "flag")
    assert origins["momentum"] == "default" and origins["swap"] == "flag"


def test_a_spec_without_a_recipe_gets_the_defaults(tmp_path):
    path = tmp_path / "plain.yaml"
    path.write_text(yaml.safe_dump(TINY))
    result, origins = for_arch(str(path))
    assert result.lr == settings.default("lr") and set(origins.values()) == {"default"}


@pytest.mark.parametrize(
    ("made", "message"),
    [
        ({"lr": 0.1, "epoch": 3}, r"unknown setting 'epoch'.*Did you mean 'epochs'.*Accepted:"),
        ({"lr": "fast"}, r"tiny: train.lr: expected float"),
        ({"out": "runs/x"}, r"unknown setting 'out'"),
        ({"source": 3}, r"train.source: expected a string"),
    ],
)
def test_a_bad_recipe_is_refused_when_the_spec_loads(tmp_path, made, message):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({**TINY, "train": made}))
    with pytest.raises(ConvzooError, match=message):
        for_arch(str(path))


def test_a_recipe_made_for_other_data_warns_naming_both(spec):
    with pytest.warns(RecipeWarning, match="made for 'synthetic'.*trains on 'digits'"):
        for_arch(str(spec), {}, {"data": "digits"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for_arch(str(spec))


def test_the_report_says_which_setting_came_from_where(spec, tmp_path):
    result, origins = for_arch(
        str(spec),
        {},
        {"out": str(tmp_path / "run"), "progress": False, "accelerator": "cpu", "epochs": 1},
    )
    report = train(result, origins)
    assert report["settings_from"]["lr"] == "recipe" and report["settings_from"]["out"] == "flag"
    markdown = (tmp_path / "run" / "report.md").read_text()
    assert "settings from the recipe | data, batch_size, lr, swap" in markdown


def test_the_mnist1d_recipe_learns_in_a_few_epochs(tmp_path):
    result, origins = for_arch(
        "mnist1d_cnn",
        {},
        {"epochs": 4, "out": str(tmp_path / "run"), "progress": False, "accelerator": "cpu"},
    )
    report = train(result, origins)
    assert report["test_acc"] > 0.3  # ten classes: chance is 0.1
    assert report["settings_from"]["optimizer"] == "recipe"


def test_the_capsnet_recipe_makes_a_small_capsnet_learn(tmp_path):
    made, source = recipe(cz.load_spec("capsnet"))
    assert (made["optimizer"], made["schedule"], made["translate"]) == ("adamw", "exponential", 2)
    small = {  # CapsNet's layers, narrower, on the 12x12 synthetic images: the recipe as it is
        "name": "capsnet_small",
        "input": [1, 12, 12],
        "classes": 4,
        "layers": [
            {"filter": "conv", "out": 16, "kernel": 3},
            {"act": "relu"},
            {"capsule": "primary", "capsules": 4, "dim": 8, "kernel": 3, "stride": 2},
            {"capsule": "routing", "dim": 16, "iterations": 3},
            {"head": "capsule"},
        ],
        "train": {**made, "source": source, "data": "synthetic"},
    }
    path = tmp_path / "capsnet_small.yaml"
    path.write_text(yaml.safe_dump(small, sort_keys=False))
    result, origins = for_arch(
        str(path),
        {},
        {"epochs": 4, "out": str(tmp_path / "run"), "progress": False, "accelerator": "cpu"},
    )
    report = train(result, origins)
    assert report["test_acc"] > 0.5  # four classes: chance is 0.25
    assert {origins[k] for k in ("lr", "lr_decay", "batch_size", "translate")} == {"recipe"}
