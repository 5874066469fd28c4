"""Run directories: the checkpoint and the report."""

from __future__ import annotations

import json

import pytest

from convzoo.errors import ConvzooError
from convzoo.train.rundir import locate, read_report

REPORT = {
    "data": "synthetic",
    "config": {
        "data_dir": None,
        "permute": 3,
        "seed": 5,
        "val_fraction": 0.25,
        "standardize": True,
    },
}


def test_locate_finds_the_checkpoint_and_the_run(tmp_path):
    ckpt = tmp_path / "run" / "checkpoints" / "last.ckpt"
    ckpt.parent.mkdir(parents=True)
    ckpt.write_bytes(b"")
    assert locate(tmp_path / "run") == (ckpt, tmp_path / "run")
    assert locate(ckpt) == (ckpt, None)  # no report next to it
    (tmp_path / "run" / "report.json").write_text("{}")
    assert locate(ckpt) == (ckpt, tmp_path / "run")
    with pytest.raises(ConvzooError, match="no checkpoint in this run directory"):
        locate(tmp_path)
    with pytest.raises(ConvzooError, match="no such checkpoint file or run directory"):
        locate(tmp_path / "nothing")


def test_read_report(tmp_path):
    assert read_report(None) == {}
    (tmp_path / "report.json").write_text(json.dumps(REPORT))
    assert read_report(tmp_path) == REPORT
    (tmp_path / "report.json").write_text("[1, 2]")
    assert read_report(tmp_path) == {}
    (tmp_path / "report.json").write_text("{not json")
    with pytest.raises(ConvzooError, match="cannot read the run's report"):
        read_report(tmp_path)
