"""``convzoo bench``: a smoke suite end to end, resume, failures, refusals and recipes -- on the
CPU with a tiny spec and synthetic data."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
import yaml

import convzoo.bench.runner
from convzoo.bench import BenchOptions, load_suite, run_cell
from convzoo.bench.files import RESULT, cell_dir
from convzoo.data import sources
from convzoo.errors import ConvzooError
from tests.bench.conftest import SMOKE_CELLS, SUITES, bench, no_training, rows
from tests.data.conftest import write_idx_set


def test_the_smoke_suite_runs_end_to_end(smoke):
    table = rows(smoke)
    assert sorted(table) == SMOKE_CELLS
    for row in table.values():
        assert row["status"] == "ok" and float(row["test_acc"]) > 0.5 and int(row["params"]) > 0
        assert row["spec_hash"] and row["torch"] and row["device_type"] == "cpu"
        assert row["world_size"] == "1" and float(row["shift_consistency"]) >= 0
    assert table["tiny_tanh__synthetic__seed1"]["swaps"] == "act=tanh"
    results = json.loads((smoke / "results.json").read_text())
    assert results["suite"]["name"] == "smoke" and len(results["cells"]) == 4
    evaluation = results["cells"][0]["evaluation"]
    assert evaluation["scale"]["scales"] == [0.75, 1.0, 1.25] and evaluation["shift"]["shifts"]
    report = (smoke / "report.md").read_text()
    assert "| tiny | synthetic | no | 2/2 |" in report and "| tiny tanh |" in report
    assert " ± " in report and "Failed cells" not in report
    images = [
        line.split("(")[1].rstrip(")") for line in report.splitlines() if line.startswith("![")
    ]
    assert {"accuracy_vs_params.png", "scale_curves.png", "shift_consistency.png"} <= set(images)
    assert all((smoke / image).read_bytes().startswith(b"\x89PNG") for image in images)


def test_a_rerun_keeps_finished_cells(smoke_copy, monkeypatch):
    calls = no_training(monkeypatch)
    before = rows(smoke_copy)
    assert bench(str(SUITES / "smoke.yaml"), "--out", str(smoke_copy)) == 0
    assert not calls and rows(smoke_copy) == before
    with pytest.raises(ConvzooError, match="run with other settings"):
        bench(str(SUITES / "smoke.yaml"), "--out", str(smoke_copy), "--epochs", "2")
    assert not calls


def test_a_failing_cell_is_recorded_and_retried_on_the_next_run(smoke_copy, monkeypatch):
    failing = SMOKE_CELLS[1]
    shutil.rmtree(smoke_copy / "cells" / failing)
    real_train = convzoo.bench.runner.train

    def train(config, origins=None):
        raise RuntimeError("out of luck")

    monkeypatch.setattr(convzoo.bench.runner, "train", train)
    suite = str(SUITES / "smoke.yaml")
    assert bench(suite, "--out", str(smoke_copy), "--accelerator", "cpu") == 1
    table = rows(smoke_copy)
    assert table[failing]["status"] == "failed"
    assert table[failing]["error"] == "RuntimeError: out of luck"
    assert all(table[c]["status"] == "ok" for c in SMOKE_CELLS if c != failing)
    report = (smoke_copy / "report.md").read_text()
    assert "## Failed cells" in report and f"| {failing} | RuntimeError: out of luck |" in report
    assert "| tiny | synthetic | no | 1/2 |" in report
    monkeypatch.setattr(convzoo.bench.runner, "train", real_train)
    assert bench(suite, "--out", str(smoke_copy), "--accelerator", "cpu") == 0
    assert rows(smoke_copy)[failing]["status"] == "ok"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--devices", "0"], "--devices: must be at least 1"),
        (["--strategy", "bogus"], "--strategy: 'bogus' is not one of"),
        (["--accelerator", "tpu"], "--accelerator: 'tpu' is not one of auto, cpu, gpu."),
    ],
)
def test_bad_devices_are_refused_before_any_cell_runs(tmp_path, monkeypatch, flags, message):
    calls = no_training(monkeypatch)
    with pytest.raises(ConvzooError, match=message):
        bench(str(SUITES / "smoke.yaml"), "--out", str(tmp_path / "b"), *flags)
    assert not calls and not (tmp_path / "b").exists()


def test_a_second_bench_into_the_same_folder_is_refused(smoke_copy, monkeypatch):
    calls = no_training(monkeypatch)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time\nfrom convzoo.files import locked\n"
            f"with locked({str(smoke_copy)!r}):\n    print('held', flush=True)\n    time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(ConvzooError, match="another convzoo process .* this benchmark"):
            bench(str(SUITES / "smoke.yaml"), "--out", str(smoke_copy))
    finally:
        holder.kill()
        holder.wait()
    assert not calls


def test_a_cell_whose_run_diverged_is_failed_not_evaluated(smoke_copy, monkeypatch):
    cell = smoke_copy / "cells" / SMOKE_CELLS[0]
    (cell / "result.json").unlink()
    report = json.loads((cell / "report.json").read_text())
    diverged = {**report, "status": "diverged", "error": "training diverged at step 3"}
    (cell / "report.json").write_text(json.dumps(diverged))
    calls = no_training(monkeypatch)
    assert bench(str(SUITES / "smoke.yaml"), "--out", str(smoke_copy)) == 1
    assert rows(smoke_copy)[SMOKE_CELLS[0]]["error"] == "ConvzooError: training diverged at step 3"
    assert not calls


def test_cells_use_each_recipe_for_what_the_suite_does_not_set(tmp_path):
    spec = yaml.safe_load((SUITES / "tiny.yaml").read_text())
    spec["train"] = {"source": "a test", "lr": 0.05, "batch_size": 64, "epochs": 2}
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(spec))
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        "name: recipes\narchs: [tiny.yaml]\ndata: [synthetic]\ntrain: {batch_size: 32}\n"
        "evaluate: {scales: [1.0], max_shift: 1}\n"
    )
    assert bench(str(suite), "--out", str(tmp_path / "b"), "--accelerator", "cpu") == 0
    report = json.loads(
        (tmp_path / "b" / "cells" / "tiny__synthetic__seed0" / "report.json").read_text()
    )
    assert (report["config"]["lr"], report["config"]["batch_size"], report["epochs"]) == (
        0.05,
        32,
        2,
    )
    origins = report["settings_from"]
    assert (origins["lr"], origins["batch_size"], origins["seed"]) == ("recipe", "suite", "cell")


def test_a_cell_shows_each_measure_of_its_evaluation(smoke_copy, capsys):
    suite = load_suite(SUITES / "smoke.yaml")
    cell = suite.cells[0]
    (cell_dir(smoke_copy, cell) / RESULT).unlink()  # trained, not yet evaluated
    quiet = run_cell(suite, cell, BenchOptions(smoke_copy, accelerator="cpu"))
    assert quiet is not None and "evaluate:" not in capsys.readouterr().err
    (cell_dir(smoke_copy, cell) / RESULT).unlink()
    shown = run_cell(suite, cell, BenchOptions(smoke_copy, accelerator="cpu", progress=True))
    err = capsys.readouterr().err
    measures = [line for line in err.splitlines() if line.startswith("evaluate: ")]
    assert shown is not None and len(measures) >= 3, err
    assert any("scale" in line for line in measures) and any("shift" in line for line in measures)


MNIST_SUITE = """name: on-mnist
archs: [lenet5_modern]
data: [mnist]
epochs: 1
train: {batch_size: 16, val_fraction: 0.0}
evaluate: {scales: [1.0], max_shift: 1}
"""


def test_data_dir_reaches_every_cell_and_no_fingerprint(tmp_path, monkeypatch):
    """``--data-dir`` is where this machine keeps the files, as ``--devices`` is what it has:
    each cell trains and is evaluated on the files there, and a rerun with the files moved
    elsewhere is the same cell (its fingerprint names the data by its verified content)."""
    monkeypatch.setattr(sources, "MNIST_SHA256", write_idx_set(tmp_path / "here"))
    (tmp_path / "suite.yaml").write_text(MNIST_SUITE)
    suite, out = str(tmp_path / "suite.yaml"), tmp_path / "out"
    flags = ("--out", str(out), "--accelerator", "cpu")
    assert bench(suite, *flags, "--data-dir", str(tmp_path / "here")) == 0
    cell = load_suite(suite).cells[0]
    report = json.loads((cell_dir(out, cell) / "report.json").read_text())
    assert report["config"]["data_dir"] == str(tmp_path / "here")
    assert report["settings_from"]["data_dir"] == "cell"
    started = json.loads((cell_dir(out, cell) / "cell.json").read_text())
    assert started["fingerprint"] == load_suite(suite).fingerprint(cell)
    (tmp_path / "here").rename(tmp_path / "there")
    (cell_dir(out, cell) / RESULT).unlink()  # trained, to be evaluated again
    assert bench(suite, *flags, "--data-dir", str(tmp_path / "there")) == 0
    assert rows(out)[cell.id]["status"] == "ok"


def test_a_suite_names_no_data_folder_the_command_line_does(tmp_path):
    (tmp_path / "suite.yaml").write_text(MNIST_SUITE.replace("16,", "16, data_dir: /mnt/mnist,"))
    with pytest.raises(ConvzooError, match=r"train.data_dir: not a `train` setting of a suite; "):
        load_suite(tmp_path / "suite.yaml")
