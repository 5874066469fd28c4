"""``convzoo train`` on the command line: settings from --config and flags, the table, exits."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from convzoo.cli import main, make_parser
from convzoo.cli.train import config_from
from tests.train.conftest import TINY


@pytest.fixture
def spec(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    return path


def test_flags_override_the_config_file(tmp_path, spec):
    cfg = tmp_path / "run.yaml"
    cfg.write_text("data: synthetic\nepochs: 7\nlr: 0.5\nbatch-size: 16\nswap: {act: relu}\n")
    args = make_parser().parse_args(["train", str(spec), "--config", str(cfg), "--epochs", "2",
                                     "--swap", "pool=avg"])  # fmt: skip
    config = config_from(args)
    assert (config.epochs, config.lr, config.batch_size, config.data) == (2, 0.5, 16, "synthetic")
    assert config.swap == {"act": "relu", "pool": "avg"}


def test_train_prints_the_table_and_where_the_report_is(capsys, tmp_path, spec):
    out = tmp_path / "run"
    code = main(["train", str(spec), "--data", "synthetic", "--epochs", "2", "--batch-size", "32",
                 "--accelerator", "cpu", "--out", str(out)])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "test accuracy" in captured.out and "images/s" in captured.out
    assert f"report: {out / 'report.md'}" in captured.out
    assert json.loads((out / "report.json").read_text())["epochs"] == 2


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--data", "fashion"], "(?i)did you mean 'fashion_mnist'"),
        (["--data", "synthetic", "--devices", "99"], "--devices 99"),
        (["--data", "synthetic", "--resume"], "nothing|no checkpoint"),
        (["--data", "synthetic", "--config", "missing.yaml"], "cannot read"),
        (["--data", "synthetic", "--swap", "act"], "KEY=NAME"),
    ],
)
def test_bad_input_is_one_message_and_exit_2(capsys, tmp_path, spec, extra, message):
    code = main(["train", str(spec), "--out", str(tmp_path / "run"), *extra])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("convzoo: error:") and "Traceback" not in err
    assert re.search(message, err)
    assert not (tmp_path / "run" / "report.json").exists()


def test_unknown_config_keys_are_listed(capsys, tmp_path, spec):
    cfg = tmp_path / "run.yaml"
    cfg.write_text("epoch: 3\n")
    code = main(["train", str(spec), "--config", str(cfg)])
    err = capsys.readouterr().err
    assert code == 2 and "unknown setting(s) epoch" in err and "epochs" in err


def test_train_with_evaluate_then_evaluate_again(capsys, tmp_path, spec):
    out = tmp_path / "run"
    code = main(["train", str(spec), "--data", "synthetic", "--epochs", "1", "--accelerator",
                 "cpu", "--out", str(out), "--evaluate"])  # fmt: skip
    assert code == 0 and "evaluation:" in capsys.readouterr().out
    assert (out / "evaluate.json").exists()
    code = main(["evaluate", str(out), "--scales", "0.5", "1", "--max-shift", "1",
                 "--out", str(tmp_path / "again")])  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 0 and "shift consistency" in printed
    assert json.loads((tmp_path / "again" / "evaluate.json").read_text())["scale"]["scales"] == [
        0.5,
        1.0,
    ]
    assert main(["evaluate", str(out), "--scales", "0"]) == 2
    assert "scale" in capsys.readouterr().err
