"""The run's report read back: what evaluate and scan learn of the run from it."""

from __future__ import annotations

import json

import pytest

from convzoo.errors import ConvzooError
from convzoo.train.report import read_report

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
