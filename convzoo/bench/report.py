"""A suite's results as files: results.csv and results.json per cell, and report.md.

The CSV and JSON have one row per cell (failed cells included, with their
error), each stamped with the hash of its normalized spec, its seed, the
torch / lightning / convzoo versions, the device type and the world size, so a
number can always be traced to what produced it. ``report.md`` has one row per
configuration -- architecture and swaps, data, permutation -- with the mean and
the sample standard deviation over the seeds that finished, a permutation table
when the suite permutes pixels, each configuration's seed-paired difference from its
baseline with a 95% interval (``bench.paired``), the failed cells (and, in a report
``--collect`` wrote while jobs ran, the cells not ended), and the plots (``bench.plots``).
The figures of the measures -- their CSV columns, their columns of the results
table, how seeds merge -- come from the table of measures (``evaluate.measures``):
a cell measured before a measure existed shows "n/a" for it.
"""

from __future__ import annotations

import csv
import io
import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from convzoo.bench.files import UNFINISHED
from convzoo.bench.paired import paired_table
from convzoo.bench.plots import configuration_name, write_plots
from convzoo.bench.suite import Suite
from convzoo.evaluate.measures import MEASURES, numbers
from convzoo.files import write_atomic, write_json

TRAINING = ("test_acc", "train_seconds", "images_per_s")  # figures of the training run
SHOWN = tuple(n for n in numbers() if n.header is not None)  # the results table's measures
COLUMNS = (
    "id",
    "label",
    "arch",
    "swaps",
    "data",
    "permute",
    "seed",
    "status",
    "test_acc",
    "params",
    "flops",
    "epochs",
    "train_seconds",
    "images_per_s",
    *(n.key for n in SHOWN),
    *(n.key for n in numbers() if n.header is None),
    "spec_hash",
    "torch",
    "lightning",
    "convzoo",
    "device_type",
    "devices",
    "world_size",
    "error",
)
CellRow = dict[str, Any]  # a cell as result.json or error.json holds it
Key = tuple[str, str, Any]


def _csv_value(row: CellRow, column: str) -> Any:
    if column == "swaps":
        return ";".join(f"{k}={v}" for k, v in (row.get("swaps") or {}).items())
    if column in ("torch", "lightning", "convzoo"):
        return row.get("versions", {}).get(column, "")
    value = row.get(column)
    return "" if value is None else value


def write_results(suite: Suite, rows: list[CellRow], out: Path) -> None:
    """results.csv (flat, one row per cell) and results.json (everything, curves included)."""
    table = io.StringIO(newline="")
    writer = csv.writer(table)
    writer.writerow(COLUMNS)
    writer.writerows([[_csv_value(row, c) for c in COLUMNS] for row in rows])
    write_atomic(out / "results.csv", table.getvalue())
    summary = {
        "name": suite.name,
        "description": suite.description,
        **suite.settings(),
        "seeds": suite.seeds,
        "permute": suite.permute,
        "overrides": suite.overrides,
    }
    cells = [{k: v for k, v in row.items() if k != "details"} for row in rows]
    write_json(out / "results.json", {"suite": summary, "cells": cells})


# -- aggregation -------------------------------------------------------------------------


def _mean_std(values: Sequence[float | None]) -> tuple[float, float | None]:
    """Mean and sample standard deviation of the known values (None and NaN are not)."""
    known = [v for v in values if v is not None and not math.isnan(v)]
    if not known:
        return math.nan, None
    return statistics.fmean(known), statistics.stdev(known) if len(known) > 1 else None


def _mean_curve(curves: list[dict[str, Any]], axis: str) -> dict[str, Any]:
    """The mean curve over seeds, with the sample standard deviation where there are two."""
    columns = [_mean_std(c) for c in zip(*(c["accuracy"] for c in curves))]
    curve = {axis: curves[0][axis], "accuracy": [mean for mean, _ in columns]}
    if len(curves) > 1:
        curve["std"] = [std for _, std in columns]
    return curve


def _measured(evaluations: list[dict[str, Any]]) -> dict[str, Any]:
    """Each measure's curve and merged entries over a configuration's seeds, for the measures
    every one of them has (a result made before a measure existed has none of it)."""
    merged: dict[str, Any] = {}
    for measure in MEASURES:
        if all(measure.key in e for e in evaluations):
            if measure.curve is not None:
                curves = [e[measure.key] for e in evaluations]
                merged[measure.key] = _mean_curve(curves, measure.curve.axis)
            merged.update(measure.merge(evaluations))
    return merged


def configurations(rows: list[CellRow]) -> list[dict[str, Any]]:
    """One entry per (label, data, permute), in suite order, averaged over finished seeds."""
    groups: dict[Key, list[CellRow]] = {}
    for row in rows:
        groups.setdefault((row["label"], row["data"], row["permute"]), []).append(row)
    entries = []
    for (label, data, permute), members in groups.items():
        ok = [r for r in members if r["status"] == "ok"]
        entry: dict[str, Any] = {
            "label": label,
            "data": data,
            "permute": permute,
            "seeds": len(members),
            "finished": len(ok),
        }
        if ok:
            for key in (*TRAINING, *(n.key for n in numbers())):
                entry[key] = _mean_std([r.get(key) for r in ok])
            entry["params"], entry["flops"] = ok[0]["params"], ok[0]["flops"]
            entry.update(_measured([r["evaluation"] for r in ok]))
        entries.append(entry)
    return entries


# -- Markdown ----------------------------------------------------------------------------


def _pm(value: tuple[float, float | None], scale: float = 1.0, digits: int = 2) -> str:
    mean, std = value
    if math.isnan(mean):
        return "n/a"
    text = f"{scale * mean:.{digits}f}"
    return text if std is None else f"{text} ± {scale * std:.{digits}f}"


def _seconds(value: tuple[float, float | None]) -> str:
    """A time in seconds as ``_pm`` gives it, with three significant digits below 100 s: a
    run of a few milliseconds is not shown as 0.0."""
    mean = value[0]
    small = not math.isnan(mean) and 0 < mean < 100
    return _pm(value, digits=max(1, 2 - math.floor(math.log10(mean))) if small else 1)


def _results_table(entries: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| configuration | data | permuted | seeds | test accuracy (%) | params | FLOPs | "
        "train time (s) | images/s | " + " | ".join(str(n.header) for n in SHOWN) + " |",
        "|---|---|---|---:|" + "---:|" * (5 + len(SHOWN)),
    ]
    for e in entries:
        head = (
            f"| {e['label']} | {e['data']} | {'no' if e['permute'] is None else e['permute']} "
            f"| {e['finished']}/{e['seeds']} |"
        )
        if not e["finished"]:
            lines.append(head + " failed |" + " |" * (4 + len(SHOWN)))
            continue
        shown = [_pm(e[n.key], 100 if n.percent else 1, n.digits) for n in SHOWN]
        lines.append(
            f"{head} {_pm(e['test_acc'], 100)} | {e['params']:,} | {e['flops']:,} | "
            f"{_seconds(e['train_seconds'])} | {_pm(e['images_per_s'], digits=0)} | "
            + " | ".join(shown)
            + " |"
        )
    return lines


def _permutation_table(entries: list[dict[str, Any]], seeds: list[Any]) -> list[str]:
    permuted = [p for p in seeds if p is not None]
    by_key = {(e["label"], e["data"], e["permute"]): e for e in entries}
    header = (
        "| configuration | data | original (%) | "
        + " | ".join(f"permutation {p} (%) | change (points)" for p in permuted)
        + " |"
    )
    lines = [header, "|---|---|---:|" + "---:|---:|" * len(permuted)]
    for label, data in dict.fromkeys((e["label"], e["data"]) for e in entries):
        base = by_key.get((label, data, None))
        cells = [_pm(base["test_acc"], 100) if base and base["finished"] else "n/a"]
        for p in permuted:
            other = by_key.get((label, data, p))
            if not other or not other["finished"]:
                cells += ["n/a", ""]
                continue
            cells.append(_pm(other["test_acc"], 100))
            if base and base["finished"]:
                cells.append(f"{100 * (other['test_acc'][0] - base['test_acc'][0]):+.2f}")
            else:
                cells.append("")
        lines.append(f"| {label} | {data} | " + " | ".join(cells) + " |")
    return lines


def _stamps(rows: list[CellRow]) -> list[str]:
    ok = [r for r in rows if r["status"] == "ok"]

    def distinct(get: Any) -> str:
        return ", ".join(sorted({str(get(r)) for r in ok})) or "n/a"

    return [
        f"- versions: torch {distinct(lambda r: r['versions']['torch'])}, lightning "
        f"{distinct(lambda r: r['versions']['lightning'])}, convzoo "
        f"{distinct(lambda r: r['versions']['convzoo'])}, code "
        f"{distinct(lambda r: r['versions'].get('code', 'not recorded'))}",
        f"- devices: {distinct(lambda r: r['devices'])} (world size "
        f"{distinct(lambda r: r['world_size'])})",
    ]


def suite_markdown(
    suite: Suite, rows: list[CellRow], entries: list[dict[str, Any]], images: dict[str, str]
) -> str:
    """The report: settings, the configuration table, permutations, failures, plots."""
    failed = [r for r in rows if r["status"] not in ("ok", UNFINISHED)]
    unfinished = [r["id"] for r in rows if r["status"] == UNFINISHED]
    settings = ", ".join(f"{k}={v}" for k, v in suite.train.items()) or "defaults"
    shared = suite.settings()
    scales = shared.pop("scales") or "default"
    others = [f"{k} {v}" for k, v in shared.items() if k not in ("epochs", "train", "max_shift")]
    epochs = suite.epochs if suite.epochs is not None else "each recipe's"
    max_shift = suite.evaluate.max_shift
    lines = [f"# Benchmark: {suite.name}", ""]
    if suite.description:
        lines += [suite.description.strip(), ""]
    lines += [
        f"- cells: {len(rows)} ({len(rows) - len(failed) - len(unfinished)} finished, "
        f"{len(failed)} failed{f', {len(unfinished)} not ended' if unfinished else ''}); "
        f"seeds {', '.join(map(str, suite.seeds))}; {epochs} epoch(s); training: {settings}",
        *(
            [f"- not ended when this report was written: {', '.join(unfinished)}"]
            if unfinished
            else []
        ),
        *(
            [f"- overridden on the command line (the suite file says otherwise): {changed}"]
            if (changed := ", ".join(f"{k}={v}" for k, v in suite.overrides.items()))
            else []
        ),
        "; ".join([f"- evaluation: scales {scales}", f"shifts up to {max_shift} px", *others]),
        *_stamps(rows),
        "- per cell (spec hash, seed, versions, device): results.csv and results.json",
        "",
        "## Results",
        "",
        "Mean ± sample standard deviation over the seeds that finished. Test accuracy is "
        "top-1 on the test split; "
        + "; ".join(n.meaning.format(**asdict(suite.evaluate)) for n in SHOWN)
        + ".",
        "",
        *_results_table(entries),
        "",
    ]
    if any(p is not None for p in suite.permute):
        lines += [
            "## Permutation",
            "",
            "Test accuracy with the pixels in their places and "
            "with one fixed random permutation applied to train and test.",
            "",
            *_permutation_table(entries, suite.permute),
            "",
        ]
    if table := paired_table([r for r in rows if r["status"] != UNFINISHED]):
        lines += [
            "## Paired differences",
            "",
            "Each configuration against its baseline (the same network without its swaps, "
            "the pixels in place, or else the suite's first configuration), seed by seed: "
            "the mean difference ± its standard deviation over the seeds both finished, and "
            "the 95% interval of the mean difference (Student's t); an interval that holds "
            "zero cannot tell the two apart.",
            "",
            *table,
            "",
        ]
    if failed:
        lines += ["## Failed cells", "", "| cell | error |", "|---|---|"]
        lines += [f"| {r['id']} | {str(r['error']).splitlines()[0][:300]} |" for r in failed]
        lines.append("")
    if images:
        lines += ["## Plots", ""]
        lines += [f"![{title}]({path})" for title, path in images.items()]
        lines += ["", *_notes(entries), ""]
    return "\n".join(lines)


def _notes(entries: list[dict[str, Any]]) -> list[str]:
    """Each measure's note on each configuration that finished and has it."""
    many = len({e["data"] for e in entries}) > 1
    notes = [
        measure.note(configuration_name(e, many), e)
        for measure in MEASURES
        if measure.note is not None
        for e in entries
        if e["finished"] and measure.key in e
    ]
    return [line for line in notes if line]


# -- all files -------------------------------------------------------------------------


def write_outputs(suite: Suite, rows: list[CellRow], out: Path) -> None:
    """results.csv, results.json, the plots and report.md."""
    write_results(suite, rows, out)
    entries = configurations(rows)
    images = write_plots(entries, out)
    write_atomic(out / "report.md", suite_markdown(suite, rows, entries, images))
