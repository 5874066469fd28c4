"""``convzoo scan``: a run or a checkpoint scanned on strips, window runs, and refusals."""

from __future__ import annotations

from typing import Any

import pytest
import torch
import yaml

from convzoo.cli import make_parser
from convzoo.cli.scan import run
from convzoo.data import DATASETS, DataModule, load_dataset, register_dataset
from convzoo.data.prepared import data_settings, prepared_scan_split
from convzoo.data.windows import window_dataset
from convzoo.errors import ConvzooError
from convzoo.train import TrainConfig, train
from convzoo.train.report import read_report
from tests.evaluate.conftest import LINEAR, SYNTHETIC


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A conv1x1 net trained one epoch on the 12x12 synthetic data."""
    tmp = tmp_path_factory.mktemp("scan")
    spec = tmp / "scan_tiny.yaml"
    spec.write_text(yaml.safe_dump(SYNTHETIC, sort_keys=False))
    out = tmp / "run"
    train(
        TrainConfig(
            str(spec),
            data="synthetic",
            epochs=1,
            batch_size=32,
            out=str(out),
            accelerator="cpu",
            progress=False,
        )
    )
    return out


def scan_args(*argv: str) -> Any:
    """The parsed arguments of ``convzoo scan ARGV``."""
    return make_parser().parse_args(["scan", *argv]).scan


def test_scan_writes_the_plot_into_the_run_and_prints_the_accuracy(run_dir, capsys):
    assert run(scan_args(str(run_dir), "--digits", "3", "--strips", "6")) == 0
    printed = capsys.readouterr().out
    assert "scan_tiny on synthetic: 6 strips of 3 digits" in printed  # data from report.json
    assert "sequence accuracy:" in printed and "digit accuracy:" in printed
    assert "background" not in printed  # a net without a background class reads as before
    assert (run_dir / "scan.png").stat().st_size > 0


def test_scan_takes_a_checkpoint_file_and_an_out_folder(run_dir, tmp_path, capsys):
    ckpt = run_dir / "checkpoints" / "last.ckpt"
    assert run(scan_args(str(ckpt), "--strips", "4", "--out", str(tmp_path / "o"))) == 0
    assert (tmp_path / "o" / "scan.png").stat().st_size > 0
    assert "4 strips of 5 digits" in capsys.readouterr().out


@pytest.fixture(scope="module")
def windows_run(tmp_path_factory):
    """A conv1x1 net with a background class (4), trained one epoch on windows of strips
    of the synthetic images, registered for this module as ``synthetic_windows``."""

    @register_dataset("synthetic_windows", description="windows of synthetic strips", dims=[2])
    def synthetic_windows(data_dir, download):
        return window_dataset("synthetic_windows", load_dataset("synthetic"), shift=1, margin=4)

    tmp = tmp_path_factory.mktemp("scan_windows")
    spec = tmp / "scan_tiny_bg.yaml"
    spec.write_text(yaml.safe_dump({**SYNTHETIC, "name": "scan_tiny_bg", "classes": 5}))
    try:
        train(
            TrainConfig(
                str(spec),
                data="synthetic_windows",
                epochs=1,
                batch_size=32,
                out=str(tmp / "run"),
                accelerator="cpu",
                progress=False,
            )
        )
        yield tmp / "run"
    finally:
        DATASETS.unregister("data", "synthetic_windows")


def test_a_window_run_is_scanned_on_strips_of_its_base_with_its_background(windows_run, capsys):
    assert run(scan_args(str(windows_run), "--digits", "3", "--strips", "6")) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(
        "scan_tiny_bg on synthetic_windows: 6 strips of 3 digits of synthetic's test images, "
        "class 4 = background\n"
    )
    split = prepared_scan_split(data_settings(read_report(windows_run)), (1, 12, 12))
    module = DataModule("synthetic_windows", (1, 12, 12), val_fraction=0.1)
    module.setup()
    base = load_dataset("synthetic")
    assert (split.data, split.background, split.fill) == ("synthetic", 4, module.background)
    assert torch.equal(split.x, module.standardize(base.test_x)) and split.x.shape[-1] == 12
    assert torch.equal(split.y, base.test_y)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--digits", "0"], "--digits 0"),
        (["--strips", "0"], "--strips 0"),
    ],
)
def test_scan_refuses_bad_counts(run_dir, argv, message):
    with pytest.raises(ConvzooError, match=message):
        run(scan_args(str(run_dir), *argv))


def test_scan_refuses_missing_files_and_linear_heads(tmp_path):
    with pytest.raises(ConvzooError, match="no such checkpoint"):
        run(scan_args(str(tmp_path / "nothing.ckpt")))
    with pytest.raises(ConvzooError, match="no checkpoint in this run directory"):
        run(scan_args(str(tmp_path)))
    spec = tmp_path / "linear.yaml"
    spec.write_text(yaml.safe_dump(LINEAR, sort_keys=False))
    train(
        TrainConfig(
            str(spec),
            data="synthetic",
            epochs=1,
            batch_size=64,
            out=str(tmp_path / "run"),
            accelerator="cpu",
            progress=False,
        )
    )
    with pytest.raises(ConvzooError, match=r"ends with head\.linear"):
        run(scan_args(str(tmp_path / "run")))
