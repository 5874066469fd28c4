"""``convzoo evaluate``: the robustness measures of a trained run, as JSON, Markdown and plots.

Given a run directory (or a checkpoint), it rebuilds the trained network from
the checkpoint alone, prepares the test set exactly as training did (the same
dataset, canvas, permutation, split and standardization, from the run's report), runs
every measure of the table (``measures.evaluate_all``) and writes ``evaluate.json``,
``evaluate.md`` and each measure's PNG plots (scale curve, shift curve, per-layer
equivariance, ...) next to the run. The JSON is written last, through a temporary file, so a run
with an ``evaluate.json`` has all of it. Each measure reports its progress as it
runs (``progress.Progress``), and the Markdown and the equivariance chart say how
many samples each measure used and which layers were left out, and why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from convzoo.data.prepared import data_settings, prepared_test_split
from convzoo.errors import ConvzooError
from convzoo.evaluate.config import DEFAULTS, EvaluateConfig
from convzoo.evaluate.measures import MEASURES, evaluate_all, sentences
from convzoo.evaluate.progress import Progress
from convzoo.files import write_atomic, write_json
from convzoo.train.checkpoint import load_network, locate
from convzoo.train.report import read_report


def markdown(result: Mapping[str, Any], config: EvaluateConfig) -> str:
    """The measures as Markdown: the figures, then each measure's tables, then the plots."""
    lines = [
        f"# Robustness of {result['arch']} on {result['data']}",
        "",
        sentences(result, config),
        "",
    ]
    for measure in MEASURES:
        lines += measure.markdown(result)
    curves = [f"![{m.title}]({m.key}_curve.png)" for m in MEASURES if m.curve is not None]
    lines += [" ".join(curves), ""]
    for measure in MEASURES:
        if measure.figure is not None:
            lines += [f"![{measure.title}]({measure.key}.png)", ""]
    return "\n".join(lines)


def _plots(folder: Path, result: Mapping[str, Any]) -> None:
    """Each measure's curve and plot, as evaluate.md links them."""
    for measure in MEASURES:
        if measure.curve is not None:
            measure.curve.plot(
                folder / f"{measure.key}_curve.png", {result["arch"]: result[measure.key]}
            )
        if measure.figure is not None:
            measure.figure(folder / f"{measure.key}.png", result)


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
    model = load_network(ckpt)
    split = prepared_test_split(settings, model.spec.input, data, data_dir)
    result = {
        "arch": model.spec.name,
        "data": split.data,
        "checkpoint": str(ckpt),
        **evaluate_all(model, split.x, split.y, fill=split.fill, progress=progress, config=config),
    }
    folder = Path(out) if out else (run or ckpt.parent)
    folder.mkdir(parents=True, exist_ok=True)
    _plots(folder, result)
    write_atomic(folder / "evaluate.md", markdown(result, config))
    write_json(folder / "evaluate.json", result)
    result["out"] = str(folder)
    return result
