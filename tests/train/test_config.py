"""``TrainConfig``: every setting declared once, with a help, a default and its range; the
defaults ``ConvzooModule`` and ``DataModule`` restate are tied to it; recipes, each
architecture's ``train:`` section, layered under --config and flags."""

from __future__ import annotations

import inspect
import warnings

import pytest
import yaml

import convzoo as cz
from convzoo.data import DataModule
from convzoo.errors import ConvzooError
from convzoo.train import ConvzooModule, train
from convzoo.train import config as settings
from convzoo.train.config import RecipeWarning, TrainConfig, for_arch, recipe
from tests.train.conftest import TINY

DECLARED = list(settings.settings().values())
DECLARED_NAMES = set(settings.settings())
BAD = {
    "epochs": [0, -1, 2.5, True],
    "batch_size": [0, -5],
    "lr": [0, -1, "fast"],
    "momentum": [-1, 1.0],
    "weight_decay": [-1],
    "label_smoothing": [5, -0.1],
    "grad_clip": [-1, 0],
    "devices": [0],
    "strategy": ["bogus"],
    "accelerator": ["tpu"],
    "precision": ["8-true"],
    "optimizer": ["adam"],
    "schedule": ["linear"],
    "lr_decay": [0, -0.5, 1.5, "slow"],
    "logger": ["mlflow"],
    "seed": [-1, 2**32],
    "translate": [-3],
    "scale": [[2, 1], [-1, 0], 3, [1]],
    "permute": [-2],
    "val_fraction": [1.5, 1.0, -0.1],
    "swap": [{"act": 3}, "act=relu"],
    "flip": ["yes"],
    "memory_limit": [0, -1],
    "ddp_timeout": [0],
    "steps_per_call": [0, 1.5],
    "num_nodes": [0],
    "logger_project": ["", "team/project", "a:b", "   "],
    "logger_name": ["", "  "],
    "trainer": [
        {"limit_train_batches": 0},
        {"limit_test_batches": 0.0},
        {"val_check_interval": 0},
        {"check_val_every_n_epoch": 0},
        {"callbacks": [{"class_path": "EarlyStopping", "init_args": {"monitor": "val_los"}}]},
        {"callbacks": [{"class_path": "ModelCheckpoint"}]},
    ],
}


@pytest.mark.parametrize("f", DECLARED, ids=lambda f: f.name)
def test_every_setting_has_help_and_its_default_passes_its_own_checks(f):
    assert f.metadata["help"].strip()
    if f.name != "arch":
        assert settings.problem(f.name, settings.default(f.name)) is None


@pytest.mark.parametrize(
    ("name", "value"), [(n, v) for n, values in BAD.items() for v in values], ids=repr
)
def test_a_bad_value_is_refused_naming_the_setting(name, value):
    assert settings.problem(name, value)
    with pytest.raises(ConvzooError, match=f"train setting {name}:"):
        TrainConfig("tiny", **{name: value})


def test_every_range_and_choice_is_exercised():
    checked = {n for n, f in settings.settings().items() if {"rule", "choices"} & set(f.metadata)}
    assert checked <= set(BAD)


def test_good_values_pass():
    config = TrainConfig("tiny", lr=1, scale=[0.8, 1.2], grad_clip=None, permute=0, seed=7)
    assert config.scale == [0.8, 1.2] and config.lr == 1


_OS = "lightning.pytorch.callbacks.model_checkpoint.os.system"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"max_step": 3}, "no argument 'max_step'. Did you mean 'max_steps'"),
        ({"devices": 2}, "devices is set by convzoo: use --devices"),
        ({"max_steps": "many"}, "max_steps"),
        ({"callbacks": [{"class_path": "os.path.join"}]}, "class path outside Lightning"),
        ({"profiler": {"class_path": "x.Profiler", "init_args": {}}}, "outside Lightning"),
        ({"callbacks": [{"class_path": "lightning.pytorch.Trainer"}]}, "Callback"),
        # a dotted path into Lightning that leaves it: Lightning would call os.system
        (
            {"callbacks": [{"class_path": "LambdaCallback", "init_args": {"on_fit_start": _OS}}]},
            f"'{_OS}' is no Lightning class",
        ),
        ({"callbacks": f"[{{class_path: {_OS}}}]"}, "is no Lightning class"),  # YAML in a string
        ({"profiler": {"class_path": "lightning.pytorch.callbacks.EarlyStopping"}}, "Profiler"),
        ({"callbacks": [{"class_path": "EarlyStoping"}]}, "Did you mean 'EarlyStopping'?"),
        (
            {"callbacks": [{"class_path": "EarlyStopping", "init_args": {"patience": "x"}}]},
            "lightning.pytorch.callbacks.EarlyStopping: ",
        ),
        ({"accumulate_grad_batches": 0}, "at least 1"),
    ],
)
def test_trainer_arguments_are_checked_against_the_signature(value, message):
    with pytest.raises(ConvzooError, match="train setting trainer:") as caught:
        TrainConfig("tiny", trainer=value)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("path", "found"),
    [
        ("lightning.pytorch.callbacks.EarlyStopping", "EarlyStopping"),
        ("lightning.pytorch.callbacks.early_stopping.EarlyStopping", "EarlyStopping"),
        ("lightning.pytorch.Trainer", "Trainer"),
        (_OS, None),  # os.system, reached through a Lightning module
        ("lightning.pytorch.callbacks.model_checkpoint.os.PathLike", None),  # a class, not theirs
        ("lightning.pytorch.callbacks.model_checkpoint.torch.nn.Module", None),
        ("lightning.pytorch.utilities.rank_zero_only", None),  # Lightning's, but no class
        ("lightning.no_such_module.Thing", None),
        ("lightningx.Thing", None),
    ],
)
def test_a_class_path_resolves_only_to_a_class_defined_in_lightning(path, found):
    resolved = settings.trainer_args.lightning_class(path)
    assert (resolved and resolved.__name__) == found


def test_trainer_arguments_add_up_over_the_layers(tiny_spec):
    result, origins = settings.layered(
        str(tiny_spec),
        ("config", {"trainer": {"max_steps": 4, "deterministic": True}}),
        ("flag", {"trainer": {"max_steps": 2}}),
    )
    assert result.trainer == {"max_steps": 2, "deterministic": True}
    assert origins["trainer"] == "flag"


def test_trainer_arguments_that_count_batches_take_one_batch_per_call(tiny_spec):
    counted = [
        {"limit_train_batches": 3},
        {"limit_train_batches": 0.5},  # a share of the batches, counted in them too
        {"overfit_batches": 2},
        {"log_every_n_steps": 5},
        {"val_check_interval": 4.0},
    ]
    for value in counted:
        result, origins = settings.layered(str(tiny_spec), ("flag", {"trainer": value}))
        assert result.steps_per_call == 1 and origins["steps_per_call"].startswith("trainer")
    unset, _ = settings.layered(str(tiny_spec), ("flag", {"trainer": {"limit_train_batches": 1.0}}))
    assert unset.steps_per_call == settings.default("steps_per_call") > 1
    with pytest.raises(
        ConvzooError, match="limit_train_batches counts batches.*--steps-per-call 1"
    ):
        settings.layered(
            str(tiny_spec), ("flag", {"steps_per_call": 4, "trainer": {"limit_train_batches": 3}})
        )


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"val_fraction": 0.0}, "val_fraction 0 holds out no validation split.*--val-fraction"),
        ({"trainer": {"limit_val_batches": 0}}, "limit_val_batches 0 takes no validation batch"),
        (
            {"epochs": 2, "trainer": {"check_val_every_n_epoch": 3}},
            "check_val_every_n_epoch 3 first validates after epoch 3, and the run has 2.*"
            "--trainer.check_val_every_n_epoch 2 or less",
        ),
    ],
)
def test_a_callback_monitoring_validation_needs_a_run_that_validates(settings, message):
    early = {"callbacks": [{"class_path": "EarlyStopping", "init_args": {"monitor": "val_acc"}}]}
    trainer = {**early, **settings.pop("trainer", {})}
    with pytest.raises(ConvzooError, match=f"a callback monitors val_acc, but {message}"):
        TrainConfig("tiny", trainer=trainer, **settings)
    assert TrainConfig("tiny", trainer=early, val_fraction=0.1).trainer == early
    every = {**early, "check_val_every_n_epoch": 2}
    assert TrainConfig("tiny", trainer=every, epochs=2).trainer == every


@pytest.mark.parametrize("made", [ConvzooModule, DataModule], ids=lambda made: made.__name__)
def test_every_default_restated_beside_train_config_is_train_configs(made):
    params = inspect.signature(made).parameters.items()
    restated = {n: p.default for n, p in params if n in DECLARED_NAMES and p.default != p.empty}
    assert len(restated) >= 10, sorted(restated)
    assert restated == {name: settings.default(name) for name in restated}


# -- recipes ------------------------------------------------------------------------------

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
