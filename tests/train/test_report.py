"""What a run logs and reports: W&B's project from WANDB_PROJECT, every setting as
hyperparameters, the learning rate in the CSV log; the run's report read back, as
evaluate and scan learn of the run from it."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import lightning as L
import pytest
import yaml
from lightning.pytorch.loggers import CSVLogger

from convzoo.data import DATASETS, load_dataset, register_dataset
from convzoo.data.catalog import Dataset
from convzoo.errors import ConvzooError
from convzoo.train import train
from convzoo.train.report import (
    WANDB_PROJECT,
    duration,
    learning_rate_monitor,
    log_settings,
    make_logger,
    read_report,
    report_markdown,
)
from tests.run_report import REPORT


def test_the_wandb_project_comes_from_wandb_project(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("WANDB_PROJECT", "my-ablation")
    assert make_logger("wandb", tmp_path).name == "my-ablation"
    monkeypatch.delenv("WANDB_PROJECT")
    assert make_logger("wandb", tmp_path).name == WANDB_PROJECT == "convzoo"


def test_logger_project_and_name_come_before_wandbs_variables(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("WANDB_PROJECT", "from-env")
    monkeypatch.setenv("WANDB_NAME", "env-run")
    assert make_logger("wandb", tmp_path)._wandb_init["name"] == "env-run"
    chosen = make_logger("wandb", tmp_path, project="mine", run_name="ablation-3")
    assert (chosen.name, chosen._wandb_init["name"]) == ("mine", "ablation-3")


@pytest.mark.parametrize("logger", ["csv", "tensorboard"])
def test_logger_project_and_name_are_refused_with_another_logger(config, tmp_path, logger):
    for setting in ("logger_project", "logger_name"):
        with pytest.raises(ConvzooError, match="use them with --logger wandb"):
            train(config(logger=logger, **{setting: "x"}))
    assert not (tmp_path / "run").exists()


def _without_tensorboard(monkeypatch):
    import lightning.fabric.loggers.tensorboard as fabric_tensorboard

    monkeypatch.setattr(fabric_tensorboard, "_TENSORBOARD_AVAILABLE", False)
    monkeypatch.setattr(fabric_tensorboard, "_TENSORBOARDX_AVAILABLE", False)


def _without_wandb(monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)  # import wandb raises ImportError


@pytest.mark.parametrize(
    ("logger", "hide"), [("tensorboard", _without_tensorboard), ("wandb", _without_wandb)]
)
def test_a_missing_logger_extra_is_one_install_hint_and_leaves_no_folder(
    config, tmp_path, monkeypatch, logger, hide
):
    hide(monkeypatch)
    with pytest.raises(ConvzooError) as caught:
        train(config(logger=logger))
    assert str(caught.value) == f"--logger {logger} needs: pip install 'convzoo[{logger}]'"
    assert not (tmp_path / "run").exists()


def test_hp_metric_is_the_test_accuracy(config, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    report = train(config(epochs=1, logger="tensorboard"))
    values = []
    for events in sorted((tmp_path / "run" / "tensorboard").rglob("events.out.tfevents.*")):
        accumulator = EventAccumulator(str(events))
        accumulator.Reload()
        if "hp_metric" in accumulator.Tags()["scalars"]:
            values += [e.value for e in accumulator.Scalars("hp_metric")]
    assert values == [pytest.approx(report["test_acc"])]


def test_the_csv_log_has_hp_metric_the_test_accuracy(config, tmp_path):
    report = train(config(epochs=1))
    rows = list(csv.DictReader((tmp_path / "run" / "logs" / "metrics.csv").open()))
    values = [float(r["hp_metric"]) for r in rows if r.get("hp_metric")]
    assert values == [pytest.approx(report["test_acc"])]


@pytest.fixture
def long_test():
    """The synthetic data with its test set five times over: 1,280 test images, two test
    batches (of 1,024 and 256), so that a test can be cut short."""
    name = "synthetic_long_test"

    @register_dataset(name, description="synthetic, its test set five times", dims=[2])
    def loader(data_dir, download):
        d = load_dataset("synthetic")
        tests = d.test_x.repeat(5, 1, 1, 1), d.test_y.repeat(5)
        return Dataset(name, d.train_x, d.train_y, *tests, d.classes)

    yield name
    DATASETS.unregister("data", name)


def test_a_whole_test_reports_its_accuracy_and_images(config, tmp_path, long_test):
    report = train(config(data=long_test, epochs=1))
    assert report["test_images"] == report["test_split_images"] == 1280
    assert 0.5 < report["test_acc"] <= 1 and "partial_test_acc" not in report
    line = f"| test accuracy | {100 * report['test_acc']:.2f}% (1,280 test images) |"
    assert line in (tmp_path / "run" / "report.md").read_text()


@pytest.mark.parametrize("trainer", [{"limit_test_batches": 1}, {"fast_dev_run": True}])
def test_a_test_cut_short_gives_no_test_accuracy_only_that_of_its_images(
    config, tmp_path, long_test, trainer
):
    report = train(config(data=long_test, epochs=1, trainer=trainer))
    assert report["status"] == "ok" and report["test_acc"] is report["test_loss"] is None
    assert (report["test_images"], report["test_split_images"]) == (1024, 1280)
    assert 0 <= report["partial_test_acc"] <= 1 and report["partial_test_loss"] > 0
    saved = json.loads((tmp_path / "run" / "report.json").read_text())
    assert saved["test_acc"] is None and saved["partial_test_acc"] == report["partial_test_acc"]
    markdown = (tmp_path / "run" / "report.md").read_text()
    assert "| test accuracy | none: the test was cut short (1,024 of 1,280 images) |" in markdown
    assert f"| accuracy on those 1,024 | {100 * saved['partial_test_acc']:.2f}% |" in markdown
    logs = tmp_path / "run" / "logs" / "metrics.csv"
    assert not logs.exists() or "hp_metric" not in logs.read_text()  # fast_dev_run logs none


@pytest.mark.parametrize(
    ("value", "shown"), [(0.0412, "0.0412 s"), (0.3, "0.3 s"), (12.34, "12.3 s"), (4321, "4,321 s")]
)
def test_a_duration_keeps_three_significant_digits(value, shown):
    assert duration(value) == shown


@pytest.mark.parametrize(("compile_", "held"), [(False, "(warm-up,"), (True, "(compilation and")])
def test_the_first_call_holds_compilation_only_when_compiling(compile_, held):
    report = {
        "arch": "tiny",
        "data": "synthetic",
        "test_acc": 0.5,
        "params": 1,
        "flops": 1,
        "epochs": 1,
        "train_seconds": 0.04,
        "first_call_seconds": 0.01,
        "images_per_s": 1.0,
        "devices": "1 x CPU",
        "config": {"compile": compile_},
    }
    markdown = report_markdown(report)
    assert f"| first training call | 0.01 s {held}" in markdown
    assert "| train time | 0.04 s |" in markdown


def test_every_logger_gets_every_resolved_setting(config, tmp_path):
    run = config(seed=3, translate=2, scale=(0.9, 1.1), flip=True, swap={"act": "tanh"})
    loggers = [CSVLogger(str(tmp_path / name), name="", version="logs") for name in "ab"]
    trainer = L.Trainer(
        logger=loggers,
        accelerator="cpu",
        devices=1,
        precision="32-true",
        max_epochs=run.epochs,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    settings = log_settings(trainer, run)
    expected = {
        "data": "synthetic",
        "epochs": 2,
        "batch_size": 32,
        "seed": 3,
        "translate": 2,
        "scale": [0.9, 1.1],
        "flip": True,
        "swap": {"act": "tanh"},
        "precision": "32-true",
        "accelerator": "cpu",
        "devices": 1,
        "num_nodes": 1,
    }
    assert expected.items() <= settings.items()
    for logger in loggers:
        logger.save()
        saved = yaml.safe_load((Path(logger.log_dir) / "hparams.yaml").read_text())
        assert saved == settings


def test_the_csv_log_has_the_learning_rate_of_every_logged_step(config, tmp_path):
    train(config(epochs=2, schedule="cosine"), callbacks=[learning_rate_monitor()])
    rows = list(csv.DictReader((tmp_path / "run" / "logs" / "metrics.csv").open()))
    columns = [c for c in rows[0] if c.startswith("lr-")]
    assert columns, f"no learning-rate column in {list(rows[0])}"
    rates = [float(r[columns[0]]) for r in rows if r[columns[0]]]
    assert len(rates) >= 2 and all(0 <= r <= 0.1 for r in rates)
    assert rates == sorted(rates, reverse=True) and rates[-1] < rates[0]  # cosine decays


def test_a_run_logs_its_settings_and_learning_rate_to_the_csv_log(config, tmp_path):
    train(config(epochs=1, schedule="cosine"))
    logs = tmp_path / "run" / "logs"
    hparams = yaml.safe_load((logs / "hparams.yaml").read_text())
    assert (hparams["data"], hparams["batch_size"], hparams["epochs"]) == ("synthetic", 32, 1)
    assert hparams["precision"] == "32-true" and hparams["accelerator"] == "cpu"
    with open(logs / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    lrs = [float(r[k]) for r in rows for k in r if k.startswith("lr-") and r[k]]
    assert lrs and lrs == sorted(lrs, reverse=True) and lrs[0] <= 0.1


def test_read_report(tmp_path):
    assert read_report(None) == {}
    (tmp_path / "report.json").write_text(json.dumps(REPORT))
    assert read_report(tmp_path) == REPORT
    (tmp_path / "report.json").write_text("[1, 2]")  # edited: no run writes that
    with pytest.raises(ConvzooError, match="report.json: the run's report is not a JSON object"):
        read_report(tmp_path)
    (tmp_path / "report.json").write_text("{not json")
    with pytest.raises(ConvzooError, match="cannot read the run's report"):
        read_report(tmp_path)
