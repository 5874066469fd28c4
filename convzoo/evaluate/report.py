"""``convzoo evaluate``: the robustness measures of a trained run, as JSON, Markdown and plots.

Given a run directory (or a checkpoint), it rebuilds the trained network from
the checkpoint alone, prepares the test set exactly as training did (the same
dataset, canvas, permutation, split and standardization, from the run's report), runs
every measure of ``robustness.evaluate_all`` and writes ``evaluate.json``,
``evaluate.md`` and PNG plots (scale curve, shift curve, per-layer equivariance)
next to the run. The JSON is written last, through a temporary file, so a run
with an ``evaluate.json`` has all of it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from convzoo.data import DataModule
from convzoo.evaluate import plots
from convzoo.evaluate.robustness import DEFAULT_SCALES, evaluate_all
from convzoo.registry import ConvzooError
from convzoo.train.checkpoint import load

CHECKPOINT = Path("checkpoints") / "last.ckpt"


def resolve(path: str | Path) -> tuple[Path, Path | None]:
    """The checkpoint file and, where there is one, its run directory."""
    path = Path(path)
    if path.is_dir():
        ckpt = path / CHECKPOINT
        if not ckpt.is_file():
            raise ConvzooError(f"{path}: no {CHECKPOINT} in this directory; is it a run directory?")
        return ckpt, path
    if not path.is_file():
        raise ConvzooError(f"{path}: no such run directory or checkpoint")
    run = path.parent.parent
    return path, run if (run / "report.json").is_file() else None


def run_settings(run: Path | None) -> dict[str, Any]:
    """The data settings a run was trained with (empty without a report)."""
    if run is None:
        return {}
    report = json.loads((run / "report.json").read_text())
    config = report.get("config", {})
    return {"data": report.get("data"), "data_dir": config.get("data_dir"),
            "permute": config.get("permute"), "seed": config.get("seed", 0),
            "val_fraction": config.get("val_fraction", 0.1)}  # fmt: skip


def markdown(result: dict[str, Any]) -> str:
    """The measures as Markdown tables."""
    scale, shift = result["scale"], result["shift"]
    lines = [
        f"# Robustness of {result['arch']} on {result['data']}",
        "",
        f"Clean test accuracy: {100 * result['clean_acc']:.2f}%. "
        f"Scale-robustness summary (mean accuracy over scales / clean): {scale['summary']:.3f}. "
        f"Shift consistency (two random shifts of up to {shift['shifts'][-1]} px): "
        f"{100 * result['shift_consistency']:.2f}%.",
        "",
        "| scale | " + " | ".join(f"{s:g}" for s in scale["scales"]) + " |",
        "|---|" + "---:|" * len(scale["scales"]),
        "| accuracy | " + " | ".join(f"{100 * a:.1f}" for a in scale["accuracy"]) + " |",
        "",
        "| shift (px) | " + " | ".join(str(s) for s in shift["shifts"]) + " |",
        "|---|" + "---:|" * len(shift["shifts"]),
        "| accuracy | " + " | ".join(f"{100 * a:.1f}" for a in shift["accuracy"]) + " |",
        "",
        "Equivariance error ||F(shift x) - shift F(x)|| / ||F(x)|| per layer:",
        "",
        "| layer | block | stride | shift | multiple of stride | error |",
        "|---|---|---:|---:|---|---:|",
    ]
    lines += [
        f"| {e['path']} | {e['block']} | {e['stride']} | {e['shift']} | "
        f"{'yes' if e['multiple'] else 'no'} | {e['error']:.4f} |"
        for e in result["equivariance"]
    ]
    lines += ["", "![scale curve](scale_curve.png) ![shift curve](shift_curve.png)",
              "", "![equivariance](equivariance.png)", ""]  # fmt: skip
    return "\n".join(lines)


def evaluate(
    path: str | Path,
    data: str | None = None,
    data_dir: str | None = None,
    scales: Sequence[float] = DEFAULT_SCALES,
    max_shift: int = 4,
    out: str | Path | None = None,
) -> dict[str, Any]:
    """Evaluate a run directory or checkpoint; returns the result (also written to disk)."""
    ckpt, run = resolve(path)
    settings = run_settings(run)
    data = data or settings.get("data")
    if not data:
        raise ConvzooError(f"{ckpt}: no run report names its dataset; pass --data NAME")
    model = load(ckpt)
    module = DataModule(data, tuple(model.spec.input), data_dir or settings.get("data_dir"),
                        permute=settings.get("permute"), seed=settings.get("seed", 0),
                        val_fraction=settings.get("val_fraction", 0.1))  # fmt: skip
    module.setup("test")
    x, y = module.splits["test"]
    result = {"arch": model.spec.name, "data": data, "checkpoint": str(ckpt)}
    result.update(evaluate_all(model, x, y, fill=module.background, scales=tuple(scales),
                               max_shift=max_shift))  # fmt: skip
    folder = Path(out) if out else (run or ckpt.parent)
    folder.mkdir(parents=True, exist_ok=True)
    label = model.spec.name
    plots.plot_scale_curves(folder / "scale_curve.png", {label: result["scale"]})
    plots.plot_shift_curves(folder / "shift_curve.png", {label: result["shift"]})
    plots.plot_equivariance(folder / "equivariance.png", result["equivariance"])
    (folder / "evaluate.md").write_text(markdown(result))
    tmp = folder / "evaluate.json.tmp"
    tmp.write_text(json.dumps(result, indent=2))
    tmp.replace(folder / "evaluate.json")
    result["out"] = str(folder)
    return result
