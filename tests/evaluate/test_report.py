"""``convzoo evaluate``: a run's measures written as JSON, Markdown and plots next to it."""

from __future__ import annotations

import io
import json
import shutil

import pytest
import yaml

from convzoo.cli import main
from convzoo.errors import ConvzooError
from convzoo.evaluate.progress import Progress
from convzoo.evaluate.report import evaluate
from convzoo.train import TrainConfig, train
from tests.train.conftest import TINY


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("evaluate")
    spec = folder / "tiny.yaml"
    spec.write_text(yaml.safe_dump(TINY))
    config = TrainConfig(
        str(spec),
        data="synthetic",
        epochs=2,
        batch_size=32,
        lr=0.1,
        out=str(folder / "run"),
        progress=False,
        accelerator="cpu",
    )
    train(config)
    return folder / "run"


def test_evaluating_a_run_writes_everything(run_dir):
    result = evaluate(run_dir, scales=(0.5, 1.0, 1.5), max_shift=2)
    saved = json.loads((run_dir / "evaluate.json").read_text())
    assert saved["arch"] == "tiny" and saved["data"] == "synthetic"
    report = json.loads((run_dir / "report.json").read_text())
    assert saved["clean_acc"] == pytest.approx(report["test_acc"], abs=1e-6)
    assert saved["scale"]["scales"] == [0.5, 1.0, 1.5]
    assert saved["shift"]["shifts"] == [0, 1, 2]
    assert 0.0 <= saved["shift_consistency"] <= 1.0
    assert result["equivariance"] and {"path", "error"} <= set(result["equivariance"][0])
    for name in ("scale_curve.png", "shift_curve.png", "equivariance.png", "effective_rf.png"):
        assert (run_dir / name).stat().st_size > 0
    assert 0 < saved["effective_rf"]["share"] <= 1 and saved["effective_rf"]["path"]
    assert "Effective receptive field (Luo et al. 2016)" in (run_dir / "evaluate.md").read_text()
    assert "Shift consistency" in (run_dir / "evaluate.md").read_text()


def test_the_command_prints_one_line_per_measure_on_stderr(run_dir, tmp_path, capsys):
    argv = ["evaluate", str(run_dir), "--scales", "0.5", "1", "--max-shift", "1"]
    assert main([*argv, "--out", str(tmp_path)]) == 0
    lines = capsys.readouterr().err.splitlines()
    measures = [line for line in lines if line.startswith("evaluate: ")]
    assert [m.split(":")[1].strip() for m in measures] == [
        "scale curve",
        "shift curve",
        "shift consistency",
        "equivariance",
        "effective receptive field",
    ]


def test_every_evaluation_setting_is_a_flag(run_dir, tmp_path, capsys):
    argv = ["evaluate", str(run_dir), "--scales", "1", "--max-shift", "1", "--samples", "5"]
    assert main([*argv, "--batch-size", "7", "--out", str(tmp_path)]) == 0
    saved = json.loads((tmp_path / "evaluate.json").read_text())
    assert saved["samples"]["equivariance"] == 5 and saved["scale"]["scales"] == [1.0]
    capsys.readouterr()
    assert main(["evaluate", str(run_dir), "--max-shift", "-1"]) == 2
    assert "--max-shift: must be zero or more, got -1" in capsys.readouterr().err


def test_the_report_says_what_each_measure_used(run_dir, tmp_path):
    stream = io.StringIO()
    result = evaluate(run_dir, scales=(1.0,), max_shift=1, out=tmp_path, progress=Progress(stream))
    assert "equivariance: shifts 1..1 x" in stream.getvalue()
    text = (tmp_path / "evaluate.md").read_text()
    measured = dict.fromkeys(e["path"] for e in result["equivariance"])
    assert f"Layers measured: {', '.join(measured)}." in text
    assert [e["path"] for e in result["equivariance_left_out"]]
    for left in result["equivariance_left_out"]:
        assert f"{left['path']} {left['block']} ({left['reason']})" in text


def test_a_bare_checkpoint_needs_the_data_name(run_dir, tmp_path):
    ckpt = tmp_path / "model.ckpt"
    ckpt.write_bytes((run_dir / "checkpoints" / "last.ckpt").read_bytes())
    with pytest.raises(ConvzooError, match="--data"):
        evaluate(ckpt)
    result = evaluate(ckpt, data="synthetic", scales=(1.0,), max_shift=1)
    assert (tmp_path / "evaluate.json").exists() and result["clean_acc"] > 0.5


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"scales": (0.0, 1.0)}, "scale"), ({"max_shift": -1}, "shift")],
)
def test_out_of_range_measures_are_refused(run_dir, kwargs, message):
    with pytest.raises(ConvzooError, match=message):
        evaluate(run_dir, **kwargs)


def test_missing_paths_are_clear(tmp_path):
    with pytest.raises(ConvzooError, match="no such checkpoint file or run directory"):
        evaluate(tmp_path / "nothing")
    with pytest.raises(ConvzooError, match="no checkpoint in this run directory"):
        evaluate(tmp_path)


EDITS = {  # a hand edit of report.json -> what the one message names
    "config": (lambda r: r.update(config=[]), "config: expected the run's settings"),
    "seed": (lambda r: r["config"].update(seed="x"), "config.seed: expected int"),
    "permute": (lambda r: r["config"].update(permute="x"), "config.permute: expected int | None"),
    "fraction": (lambda r: r["config"].update(val_fraction=2), "config.val_fraction: must be in"),
    "standardize": (lambda r: r["config"].update(standardize="yes"), "standardize: expected bool"),
    "data_dir": (lambda r: r["config"].update(data_dir=5), "config.data_dir: expected str"),
    "data": (lambda r: r.update(data=5), "report.json: data: expected str, got 5"),
}


@pytest.mark.parametrize("edit", sorted(EDITS))
def test_a_hand_edited_report_is_one_message_naming_the_file_and_key(
    run_dir, tmp_path, capsys, edit
):
    change, message = EDITS[edit]
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    (copy / "evaluate.json").unlink(missing_ok=True)  # another test's
    report = json.loads((copy / "report.json").read_text())
    change(report)
    (copy / "report.json").write_text(json.dumps(report))
    assert main(["evaluate", str(copy), "--samples", "8"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"convzoo: error: {copy / 'report.json'}: ") and message in err, err
    assert err.count("\n") == 1 and not (copy / "evaluate.json").exists()
