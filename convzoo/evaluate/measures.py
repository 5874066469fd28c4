"""The table of measures: one entry per measure, and everything convzoo does with it.

An entry (``Measure``) says how to run the measure on a trained network and what
its progress line says; the figures it sums up in (``Number``: its key in a
result and a CSV column, how the command line, evaluate.md and the bench report
show it, and a bar chart over configurations); its accuracy curve, if it has one
(``Curve``); its lines of evaluate.md and its own plot; and, for a bench, how the
seeds of a configuration merge, its chart per configuration and its note.
``evaluate_all`` runs the table; ``report`` (evaluate.md and the plots),
``cli/evaluate.py`` (the summary line), ``bench/report.py`` (the CSV columns, the
results table) and ``bench/plots.py`` loop over it.

Adding a measure is its own module (the measure, and any Markdown or plot of its
own), one entry here and its test. A bench result made before a measure existed
still renders: its figures read "n/a" and its curves and charts are left out.
File names follow the key: ``KEY_curve.png`` (evaluate) and ``KEY_curves.png``
(bench) for a curve, ``KEY.png`` for a measure's plot and a number's bars,
``KEY/`` for its charts per configuration.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from convzoo.evaluate import equivariance, plots, receptive, robustness
from convzoo.evaluate._checks import check_convnet, check_data, check_max_shift
from convzoo.evaluate._inference import Inputs
from convzoo.evaluate.config import DEFAULTS, EvaluateConfig
from convzoo.evaluate.progress import Progress, Silent, Tick

Result = Mapping[str, Any]  # what ``evaluate_all`` returns (or a bench configuration's entry)


@dataclass(frozen=True)
class Bars:
    """A bar chart of a share over a bench's configurations: its title and y-axis label."""

    title: str
    ylabel: str


@dataclass(frozen=True)
class Number:
    """One figure a measure sums up in. ``key`` names it in a bench cell's row and the CSV;
    ``read`` takes it from a result. ``name`` is how the command line's summary calls it,
    ``sentence`` how evaluate.md says it (``{value}`` and the settings' names are filled
    in), ``percent`` and ``digits`` how it is written; ``header`` is its column in the bench's
    results table (None: the CSV only), ``meaning`` what the report says it is, ``bars`` a
    bar chart of it over the bench's configurations."""

    key: str
    read: Callable[[Result], float | None]
    name: str
    sentence: str
    percent: bool = False
    digits: int = 2
    header: str | None = None
    meaning: str = ""
    bars: Bars | None = None

    def text(self, value: float | None) -> str:
        """The value as the command line and evaluate.md show it; ``n/a`` where unknown."""
        if value is None or math.isnan(value):
            return "n/a"
        return f"{100 * value:.{self.digits}f}%" if self.percent else f"{value:.{self.digits}f}"


@dataclass(frozen=True)
class Curve:
    """An accuracy curve (the result's entry under the measure's key): the name of its x
    values (``scales``), its title in the bench report, and what plots curves by label."""

    axis: str
    title: str
    plot: Callable[[Path, Mapping[str, Result]], Path]


@dataclass(frozen=True)
class Measure:
    """One measure. ``run`` returns its entries of the result (a ``samples`` mapping is
    merged into the result's); ``progress`` says what it runs on and over how many batches.
    ``markdown`` gives its lines of evaluate.md, ``figure`` draws its own plot (path, result)
    for it. For a bench: ``merge`` turns the evaluations of a configuration's seeds into
    entries of the configuration, ``chart`` draws one configuration (path, name, entry:
    the path, or None for nothing to draw), ``note`` says a line on it under the plots."""

    key: str
    title: str
    run: Callable[[Inputs, Tick], dict[str, Any]]
    progress: Callable[[Inputs], tuple[str, int]]
    numbers: tuple[Number, ...] = ()
    curve: Curve | None = None
    markdown: Callable[[Result], list[str]] = lambda result: []
    figure: Callable[[Path, Result], Any] | None = None
    merge: Callable[[Sequence[Result]], dict[str, Any]] = lambda evaluations: {}
    chart: Callable[[Path, str, Result], Path | None] | None = None
    note: Callable[[str, Result], str | None] | None = None


def _batches(inputs: Inputs, samples: int | None = None, per_batch: int | None = None) -> int:
    """Batches a pass over ``samples`` (all) takes, ``per_batch`` (the batch size) at a time."""
    count = len(inputs.x) if samples is None else samples
    return -(-count // (per_batch or inputs.config.batch_size))


def _scale(i: Inputs, tick: Tick) -> dict[str, Any]:
    c = i.config
    found = robustness.scale_curve(i.model, i.x, i.y, c.scales, i.fill, c.batch_size, tick=tick)
    return {"clean_acc": found["clean"], "scale": found}


def _shift(i: Inputs, tick: Tick) -> dict[str, Any]:
    c = i.config
    return {
        "shift": robustness.shift_curve(
            i.model, i.x, i.y, c.max_shift, i.fill, c.batch_size, tick=tick
        )
    }


def _consistency(i: Inputs, tick: Tick) -> dict[str, Any]:
    c = i.config
    share = robustness.shift_consistency(
        i.model, i.x, c.max_shift, i.fill, c.consistency_seed, c.batch_size, tick=tick
    )
    return {"shift_consistency": share}


def _equivariance(i: Inputs, tick: Tick) -> dict[str, Any]:
    c = i.config
    shifts = equivariance.default_shifts(c.max_shift)
    found = equivariance.measure(i.model, i.x, shifts, i.fill, c.batch_size, tick, c.samples)
    return {
        "equivariance": found.rows,
        "equivariance_left_out": found.left_out,
        "samples": {"equivariance": found.samples},
    }


def _equivariance_progress(i: Inputs) -> tuple[str, int]:
    c, samples = i.config, min(len(i.x), i.config.samples)
    chunk = equivariance.chunk_size(equivariance.default_shifts(c.max_shift), c.batch_size)
    text = f"shifts 1..{c.max_shift} x {samples} samples, per layer"
    return text, _batches(i, samples, chunk)


MEASURES = (
    Measure(
        key="scale",
        title="scale curve",
        run=_scale,
        progress=lambda i: (f"{len(i.config.scales)} scales x {len(i.x):,} samples", _batches(i)),
        numbers=(
            Number(
                "clean_acc",
                lambda r: r["clean_acc"],
                "clean accuracy",
                "Clean test accuracy: {value}.",
                percent=True,
            ),
            Number(
                "scale_summary",
                lambda r: r["scale"]["summary"],
                "scale summary",
                "Scale-robustness summary (mean accuracy over scales / clean): {value}.",
                digits=3,
                header="scale robustness",
                meaning="scale robustness is the mean accuracy over the scales divided by the "
                "clean accuracy",
            ),
        ),
        curve=Curve("scales", "Accuracy under rescaling", plots.plot_scale_curves),
        markdown=lambda r: robustness.curve_table(
            "scale", [f"{s:g}" for s in r["scale"]["scales"]], r["scale"]["accuracy"]
        ),
    ),
    Measure(
        key="shift",
        title="shift curve",
        run=_shift,
        progress=lambda i: (f"shifts 0..{i.config.max_shift} x {len(i.x):,} samples", _batches(i)),
        curve=Curve("shifts", "Accuracy under shifts", plots.plot_shift_curves),
        markdown=lambda r: robustness.curve_table(
            "shift (px)", [str(s) for s in r["shift"]["shifts"]], r["shift"]["accuracy"]
        ),
    ),
    Measure(
        key="shift_consistency",
        title="shift consistency",
        run=_consistency,
        progress=lambda i: (f"{len(i.x):,} samples", _batches(i)),
        numbers=(
            Number(
                "shift_consistency",
                lambda r: r["shift_consistency"],
                "shift consistency",
                "Shift consistency (two random shifts of up to {max_shift} px): {value}.",
                percent=True,
                header="shift consistency (%)",
                meaning="shift consistency is the share of test samples whose class is the "
                "same under two random shifts of up to {max_shift} px",
                bars=Bars("Shift consistency", "consistent predictions (%)"),
            ),
        ),
    ),
    Measure(
        key="equivariance",
        title="equivariance",
        run=_equivariance,
        progress=_equivariance_progress,
        markdown=equivariance.markdown,
        figure=lambda path, r: plots.plot_equivariance(
            path,
            r["equivariance"],
            title=f"Shift equivariance per layer: {r['arch']} on {r['data']}",
            left_out=r["equivariance_left_out"],
            samples=r["samples"]["equivariance"],
        ),
        merge=equivariance.merge,
        chart=lambda path, name, e: (
            plots.plot_equivariance(
                path,
                e["equivariance"],
                title=f"Shift equivariance per layer: {name}",
                left_out=e.get("equivariance_left_out"),
                samples=e.get("equivariance_samples"),
            )
            if e["equivariance"]
            else None
        ),
        note=equivariance.note,
    ),
    Measure(
        key="effective_rf",
        title="effective receptive field",
        run=receptive.run,
        progress=lambda i: (
            f"{min(len(i.x), i.config.samples)} samples, per layer",
            _batches(i, min(len(i.x), i.config.samples)),
        ),
        numbers=(
            Number(
                "effective_rf_share",
                lambda r: r["effective_rf"]["share"],
                "effective receptive field",
                "Effective receptive field (Luo et al. 2016): {value} of the last spatial "
                "layer's theoretical field holds 95% of its central unit's gradient.",
                percent=True,
                digits=1,
                header="effective rf (%)",
                meaning="effective rf is the share of the last spatial layer's theoretical "
                "receptive field that holds 95% of its central unit's gradient ({samples} "
                "samples)",
                bars=Bars("Effective receptive field", "field holding 95% of the gradient (%)"),
            ),
        ),
        markdown=receptive.markdown,
        figure=receptive.plot,
    ),
)


def numbers() -> Iterator[Number]:
    """Every measure's figures, in table order."""
    return (number for measure in MEASURES for number in measure.numbers)


def sentences(result: Result, config: EvaluateConfig) -> str:
    """evaluate.md's summary: every figure's sentence."""
    return " ".join(
        n.sentence.format(value=n.text(n.read(result)), **asdict(config)) for n in numbers()
    )


def evaluate_all(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    fill: float = 0.0,
    progress: Progress | None = None,
    config: EvaluateConfig | None = None,
    **settings: Any,
) -> dict[str, Any]:
    """Every measure of the table on the samples ``x`` with labels ``y``, in table order:
    clean accuracy, scale and shift curves, shift consistency, the equivariance errors
    for shifts 1..max_shift with the layers it left out (``equivariance_left_out``), ...,
    and the samples each measure used (``samples``). ``config`` (default: ``DEFAULTS``),
    with ``settings`` replaced (``max_shift=2``), says how; ``progress`` (default: none
    shown) reports each measure as it runs."""
    config = replace(config or DEFAULTS, **settings)
    model = check_convnet(model)
    check_data(x, y)
    check_max_shift(config.max_shift, x)
    inputs = Inputs(model, x, y, fill, config)
    show = progress or Silent()
    result: dict[str, Any] = {}
    samples = {"accuracy": len(x)}
    for measure in MEASURES:
        text, batches = measure.progress(inputs)
        with show.measure(f"{measure.title}: {text}", batches) as tick:
            found = measure.run(inputs, tick)
        samples.update(found.pop("samples", {}))
        result.update(found)
    return {**result, "samples": samples}
