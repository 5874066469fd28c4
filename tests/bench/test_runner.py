"""``convzoo bench``: suite validation, the grid, a smoke suite end to end, resume, failures,
and cells in parallel worker processes -- on the CPU with a tiny spec and synthetic data."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

import convzoo.bench.runner
from convzoo.bench import parallel as bench_parallel
from convzoo.bench.suite import load_suite
from convzoo.cli import bench as cli_bench
from convzoo.cli import main, make_parser
from convzoo.errors import ConvzooError

SUITES = Path(__file__).parents[2] / "benchmarks" / "suites"
SMOKE_CELLS = [
    "tiny__synthetic__seed0",
    "tiny__synthetic__seed1",
    "tiny_tanh__synthetic__seed0",
    "tiny_tanh__synthetic__seed1",
]


def bench(*argv: str) -> int:
    """``convzoo bench ARGV`` with its errors raised (``main`` would turn them into exit 2)."""
    args = make_parser().parse_args(["bench", *argv]).bench
    return cli_bench.run(args)


def no_training(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []

    def train(config, origins=None):
        calls.append(config.out)
        raise AssertionError("train must not be called")

    monkeypatch.setattr(convzoo.bench.runner, "train", train)
    return calls


def write_suite(folder: Path, text: str) -> Path:
    shutil.copy(SUITES / "tiny.yaml", folder / "tiny.yaml")
    path = folder / "suite.yaml"
    path.write_text(text)
    return path


def rows(out: Path) -> dict[str, dict[str, str]]:
    with (out / "results.csv").open() as f:
        return {row["id"]: row for row in csv.DictReader(f)}


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The smoke suite, run once for the module."""
    out = tmp_path_factory.mktemp("bench") / "smoke"
    assert bench(str(SUITES / "smoke.yaml"), "--out", str(out), "--accelerator", "cpu") == 0
    return out


@pytest.fixture
def smoke_copy(smoke: Path, tmp_path: Path) -> Path:
    out = tmp_path / "smoke"
    shutil.copytree(smoke, out)
    return out


def test_every_problem_of_a_suite_is_listed_at_once_and_nothing_trains(tmp_path, monkeypatch):
    calls = no_training(monkeypatch)
    suite = write_suite(
        tmp_path,
        """
name: broken
archs:
  - lenet6
  - tiny.yaml
  - {arch: tiny.yaml, swap: {act: rleu}, label: t2}
  - {arch: tiny.yaml, swap: {pool: lp}, label: t3}
data: [fashion_mnst, mnist1d]
seeds: [0, one]
epochs: 0
train: {lr: fast, batch: 32, seed: 3}
grid: {swap: {pool: [maxx, max]}}
evaluate: {max_shift: -1}
colour: blue
""",
    )
    with pytest.raises(ConvzooError) as caught:
        bench(str(suite), "--out", str(tmp_path / "out"))
    message = str(caught.value)
    expected = [
        "unknown key 'colour'",
        "epochs: expected a positive integer",
        "seeds[1]",
        "train.lr: expected float",
        "unknown setting 'batch'",
        "train.seed: not a `train` setting",
        "evaluate.max_shift",
        "'fashion_mnst'",
        "fashion_mnist",
        "unknown architecture 'lenet6'",
        "'rleu'",
        "'maxx'",
        "swaps pool both here and in the grid",
    ]
    for part in expected:
        assert part in message, part
    assert "nothing was trained" in message and not calls
    assert not (tmp_path / "out").exists()
    assert main(["bench", str(suite)]) == 2


def test_a_network_that_does_not_fit_its_data_is_a_problem(tmp_path):
    suite = write_suite(tmp_path, "name: d\narchs: [tiny.yaml]\ndata: [synthetic1d]\n")
    with pytest.raises(ConvzooError, match=r"2-D input \[1, 12, 12\].*'synthetic1d' is 1-D"):
        load_suite(suite)


def test_the_grid_expands_to_every_combination(tmp_path):
    suite = load_suite(
        write_suite(
            tmp_path,
            """
name: grid
archs: [tiny.yaml, {arch: tiny.yaml, swap: {filter: unfold_conv}, label: unfolded}]
grid: {swap: {act: [relu, tanh, abs], pool: [max, avg]}}
data: [synthetic]
permute: [null, 3]
seeds: [0, 1]
""",
        )
    )
    assert len(suite.cells) == 2 * 3 * 2 * 2 * 2
    assert len({c.id for c in suite.cells}) == len(suite.cells)
    combos = {(c.label, tuple(sorted(c.swap.items())), c.permute, c.seed) for c in suite.cells}
    assert (
        "unfolded act=tanh pool=avg",
        (("act", "tanh"), ("filter", "unfold_conv"), ("pool", "avg")),
        3,
        1,
    ) in combos
    assert ("tiny act=abs pool=max", (("act", "abs"), ("pool", "max")), None, 0) in combos
    assert len({c.spec_hash for c in suite.cells}) == 12
    assert suite.cells[0].id == "tiny_act-relu_pool-max__synthetic__seed0"


@pytest.mark.parametrize(
    ("name", "cells"),
    [("smoke", 4), ("fashion-zoo", 27), ("stages", 81), ("mnist1d", 12), ("permutation", 12)],
)
def test_the_shipped_suites_are_valid(name, cells):
    assert len(load_suite(SUITES / f"{name}.yaml").cells) == cells


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


def test_cells_run_in_parallel_worker_processes(smoke_copy):
    for cell in SMOKE_CELLS[2:]:
        shutil.rmtree(smoke_copy / "cells" / cell)
    status = bench(
        str(SUITES / "smoke.yaml"),
        "--out",
        str(smoke_copy),
        "--parallel-cells",
        "--devices",
        "2",
        "--accelerator",
        "cpu",
    )
    assert status == 0
    assert all(row["status"] == "ok" for row in rows(smoke_copy).values())
    assert all((smoke_copy / "cells" / c / "log.txt").is_file() for c in SMOKE_CELLS[2:])
    with pytest.raises(ConvzooError, match="does not combine with --strategy ddp"):
        bench(
            str(SUITES / "smoke.yaml"),
            "--out",
            str(smoke_copy),
            "--parallel-cells",
            "--strategy",
            "ddp",
        )


def test_a_worker_that_dies_fails_only_its_cell(smoke_copy, monkeypatch):
    dead = SMOKE_CELLS[0]
    shutil.rmtree(smoke_copy / "cells" / dead)
    crash = [sys.executable, "-c", "import sys; print('segfault, say'); sys.exit(139)"]
    monkeypatch.setattr(bench_parallel, "worker_command", lambda *args: crash)
    status = bench(
        str(SUITES / "smoke.yaml"),
        "--out",
        str(smoke_copy),
        "--parallel-cells",
        "--accelerator",
        "cpu",
    )
    assert status == 1
    table = rows(smoke_copy)
    assert "the worker exited with status 139" in table[dead]["error"]
    assert all(table[c]["status"] == "ok" for c in SMOKE_CELLS if c != dead)
    error = json.loads((smoke_copy / "cells" / dead / "error.json").read_text())
    assert "segfault, say" in error["details"]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--devices", "0"], "--devices: must be at least 1"),
        (["--strategy", "bogus"], "--strategy: 'bogus' is not one of"),
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
            "import time\nfrom convzoo.io import locked\n"
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
