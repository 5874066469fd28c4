"""``convzoo evaluate``: the robustness measures of a trained run, as JSON, Markdown and plots.

Given a run directory (or a checkpoint), it rebuilds the trained network from
the checkpoint alone, prepares the test set exactly as training did (the same
dataset, canvas, permutation, split and standardization, from the run's report), runs
every measure of ``robustness.evaluate_all`` and writes ``evaluate.json``,
``evaluate.md`` and PNG plots (scale curve, shift curve, per-layer equivariance)
next to the run. The JSON is written last, through a temporary file, so a run
with an ``evaluate.json`` has all of it. Each measure reports its progress as it
runs (``progress.Progress``), and the Markdown and the equivariance chart say how
many samples each measure used and which layers were left out, and why.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from convzoo.errors import ConvzooError
from convzoo.evaluate import plots
from convzoo.evaluate.config import DEFAULTS, EvaluateConfig
from convzoo.evaluate.progress import Progress
from convzoo.evaluate.robustness import evaluate_all
from convzoo.files import write_atomic, write_json
from convzoo.train.checkpoint import load
from convzoo.train.rundir import data_settings, locate, prepared_test_split, read_report


def _coverage(result: dict[str, Any]) -> str:
    """The line that says what the measures ran on and which layers were left out."""
    samples = result["samples"]
    measured = ", ".join(dict.fromkeys(e["path"] for e in result["equivariance"])) or "none"
    left_out = "; ".join(
        f"{e['path']} {e['block']} ({e['reason']})" for e in result["equivariance_left_out"]
    )
    return (
        f"Samples: {samples['accuracy']:,} test samples for the accuracy measures, the first "
        f"{samples['equivariance']} for equivariance. Layers measured: {measured}. "
        f"Left out: {left_out or 'none'}."
    )


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
        _coverage(result),
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
    lines += [
        "",
        "![scale curve](scale_curve.png) ![shift curve](shift_curve.png)",
        "",
        "![equivariance](equivariance.png)",
        "",
    ]
    return "\n".join(lines)


def evaluate(
    path: str | Path,
    data: str | None = None,
    data_dir: str | None = None,
    *,
    out: str | Path | None = None,
    progress: Progress | None = None,
    config: EvaluateConfig | None = None,
    **settings: Any,
) -> dict[str, Any]:
    """Evaluate a run directory or checkpoint; returns the result (also written to disk).
    ``config`` (default: ``DEFAULTS``), with ``settings`` replaced (``max_shift=2``), says how;
    ``progress`` (default: none shown) reports each measure as it runs."""
    config = replace(config or DEFAULTS, **settings)
    ckpt, run = locate(path)
    settings = data_settings(read_report(run))
    if not (data or settings["data"]):
        raise ConvzooError(f"{ckpt}: no run report names its dataset; pass --data NAME")
    model = load(ckpt)
    split = prepared_test_split(settings, model.spec.input, data, data_dir)
    result = {
        "arch": model.spec.name,
        "data": split.data,
        "checkpoint": str(ckpt),
        **evaluate_all(model, split.x, split.y, fill=split.fill, progress=progress, config=config),
    }
    folder = Path(out) if out else (run or ckpt.parent)
    folder.mkdir(parents=True, exist_ok=True)
    label = model.spec.name
    plots.plot_scale_curves(folder / "scale_curve.png", {label: result["scale"]})
    plots.plot_shift_curves(folder / "shift_curve.png", {label: result["shift"]})
    plots.plot_equivariance(
        folder / "equivariance.png",
        result["equivariance"],
        title=f"Shift equivariance per layer: {label} on {split.data}",
        left_out=result["equivariance_left_out"],
        samples=result["samples"]["equivariance"],
    )
    write_atomic(folder / "evaluate.md", markdown(result))
    write_json(folder / "evaluate.json", result)
    result["out"] = str(folder)
    return result
