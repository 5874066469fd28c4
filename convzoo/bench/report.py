"""A suite's results as files: results.csv and results.json per cell, and report.md.

The CSV and JSON have one row per cell (failed cells included, with their
error), each stamped with the hash of its normalized spec, its seed, the
torch / lightning / convzoo versions, the device type and the world size, so a
number can always be traced to what produced it. ``report.md`` has one row per
configuration -- architecture and swaps, data, permutation -- with the mean and
the sample standard deviation over the seeds that finished, a permutation table
when the suite permutes pixels, the failed cells, and the plots (``bench.plots``).
"""

from __future__ import annotations

import csv
import io
import math
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from convzoo.bench.plots import configuration_name, write_plots
from convzoo.bench.suite import Suite
from convzoo.files import write_atomic, write_json

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
    "scale_summary",
    "shift_consistency",
    "clean_acc",
    "spec_hash",
    "torch",
    "lightning",
    "convzoo",
    "device_type",
    "devices",
    "world_size",
    "error",
)
MEASURES = ("test_acc", "scale_summary", "shift_consistency", "train_seconds", "images_per_s")
Row = dict[str, Any]
Key = tuple[str, str, Any]


def _csv_value(row: Row, column: str) -> Any:
    if column == "swaps":
        return ";".join(f"{k}={v}" for k, v in (row.get("swaps") or {}).items())
    if column in ("torch", "lightning", "convzoo"):
        return row.get("versions", {}).get(column, "")
    value = row.get(column)
    return "" if value is None else value


def write_results(suite: Suite, rows: list[Row], out: Path) -> None:
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


def _mean_std(values: Sequence[float]) -> tuple[float, float | None]:
    values = [v for v in values if not math.isnan(v)]
    if not values:
        return math.nan, None
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else None


def _mean_curve(curves: list[dict[str, Any]], axis: str) -> dict[str, Any]:
    """The mean curve over seeds, with the sample standard deviation where there are two."""
    columns = [_mean_std(c) for c in zip(*(c["accuracy"] for c in curves))]
    curve = {axis: curves[0][axis], "accuracy": [mean for mean, _ in columns]}
    if len(curves) > 1:
        curve["std"] = [std for _, std in columns]
    return curve


def _mean_equivariance(runs: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    merged: dict[tuple[str, int], dict[str, Any]] = {}
    for rows in runs:
        for row in rows:
            entry = merged.setdefault((row["path"], row["shift"]), {**row, "errors": []})
            entry["errors"].append(row["error"])
    return [
        {**{k: v for k, v in e.items() if k != "errors"}, "error": statistics.fmean(e["errors"])}
        for e in merged.values()
    ]


def configurations(rows: list[Row]) -> list[dict[str, Any]]:
    """One entry per (label, data, permute), in suite order, averaged over finished seeds."""
    groups: dict[Key, list[Row]] = {}
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
            for key in MEASURES:
                entry[key] = _mean_std([float(r[key]) for r in ok])
            entry["params"], entry["flops"] = ok[0]["params"], ok[0]["flops"]
            evaluations = [r["evaluation"] for r in ok]
            entry["scale"] = _mean_curve([e["scale"] for e in evaluations], "scales")
            entry["shift"] = _mean_curve([e["shift"] for e in evaluations], "shifts")
            entry["equivariance"] = _mean_equivariance([e["equivariance"] for e in evaluations])
            entry["equivariance_left_out"] = evaluations[0].get("equivariance_left_out")
            entry["equivariance_samples"] = evaluations[0].get("samples", {}).get("equivariance")
        entries.append(entry)
    return entries


# -- Markdown ----------------------------------------------------------------------------


def _pm(value: tuple[float, float | None], scale: float = 1.0, digits: int = 2) -> str:
    mean, std = value
    if math.isnan(mean):
        return "n/a"
    text = f"{scale * mean:.{digits}f}"
    return text if std is None else f"{text} ± {scale * std:.{digits}f}"


def _results_table(entries: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| configuration | data | permuted | seeds | test accuracy (%) | params | FLOPs | "
        "train time (s) | images/s | scale robustness | shift consistency (%) |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for e in entries:
        head = (
            f"| {e['label']} | {e['data']} | {'no' if e['permute'] is None else e['permute']} "
            f"| {e['finished']}/{e['seeds']} |"
        )
        if not e["finished"]:
            lines.append(head + " failed | | | | | | |")
            continue
        lines.append(
            f"{head} {_pm(e['test_acc'], 100)} | {e['params']:,} | {e['flops']:,} | "
            f"{_pm(e['train_seconds'], digits=1)} | {_pm(e['images_per_s'], digits=0)} | "
            f"{_pm(e['scale_summary'], digits=3)} | {_pm(e['shift_consistency'], 100)} |"
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


def _stamps(rows: list[Row]) -> list[str]:
    ok = [r for r in rows if r["status"] == "ok"]

    def distinct(get: Any) -> str:
        return ", ".join(sorted({str(get(r)) for r in ok})) or "n/a"

    return [
        f"- versions: torch {distinct(lambda r: r['versions']['torch'])}, lightning "
        f"{distinct(lambda r: r['versions']['lightning'])}, convzoo "
        f"{distinct(lambda r: r['versions']['convzoo'])}",
        f"- devices: {distinct(lambda r: r['devices'])} (world size "
        f"{distinct(lambda r: r['world_size'])})",
    ]


def report_markdown(
    suite: Suite, rows: list[Row], entries: list[dict[str, Any]], images: dict[str, str]
) -> str:
    """The report: settings, the configuration table, permutations, failures, plots."""
    failed = [r for r in rows if r["status"] != "ok"]
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
        f"- cells: {len(rows)} ({len(rows) - len(failed)} finished, {len(failed)} failed); "
        f"seeds {', '.join(map(str, suite.seeds))}; {epochs} epoch(s); training: {settings}",
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
        "top-1 on the test split; scale robustness is the mean accuracy over the scales "
        "divided by the clean accuracy; shift consistency is the share of test samples "
        f"whose class is the same under two random shifts of up to {max_shift} px.",
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
    if failed:
        lines += ["## Failed cells", "", "| cell | error |", "|---|---|"]
        lines += [f"| {r['id']} | {str(r['error']).splitlines()[0][:300]} |" for r in failed]
        lines.append("")
    if images:
        lines += ["## Plots", ""]
        lines += [f"![{title}]({path})" for title, path in images.items()]
        lines += ["", *_equivariance_notes(entries), ""]
    return "\n".join(lines)


def _equivariance_notes(entries: list[dict[str, Any]]) -> list[str]:
    """Per configuration: the samples its equivariance used and the layers it left out."""
    lines = []
    many = len({e["data"] for e in entries}) > 1
    for e in entries:
        if not e["finished"]:
            continue
        name = configuration_name(e, many)
        left_out = e.get("equivariance_left_out")
        samples = e.get("equivariance_samples")
        if left_out is None:
            lines.append(f"- equivariance of {name}: layers left out not recorded")
            continue
        skipped = "; ".join(f"{x['path']} {x['block']} ({x['reason']})" for x in left_out)
        lines.append(
            f"- equivariance of {name} ({samples} samples): "
            + (f"not measured: {skipped}" if skipped else "every layer measured")
        )
    return lines


# -- all files -------------------------------------------------------------------------


def write_outputs(suite: Suite, rows: list[Row], out: Path) -> None:
    """results.csv, results.json, the plots and report.md."""
    write_results(suite, rows, out)
    entries = configurations(rows)
    images = write_plots(entries, out)
    write_atomic(out / "report.md", report_markdown(suite, rows, entries, images))
