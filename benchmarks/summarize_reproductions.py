"""Summarize the reproduction runs of ``benchmarks/reproduce_cpu.sh`` as a Markdown table.

Reads ``runs/reproduce/<label>-seed<S>/report.json`` (or the folder given), groups
the runs by label, and prints for each the test accuracy of every seed, their
median, the training seconds, the machine and the versions -- the rows that
``benchmarks/results/reproduce/README.md`` commits. A run whose report says it
diverged is shown as such, never dropped.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
from pathlib import Path


def _runs(folder: Path) -> dict[str, list[dict]]:
    groups: dict[str, list[dict]] = {}
    for path in sorted(folder.glob("*/report.json")):
        label = re.sub(r"-seed\d+$", "", path.parent.name)
        groups.setdefault(label, []).append(json.loads(path.read_text()))
    return groups


def _row(label: str, reports: list[dict]) -> str:
    ok = [r for r in reports if r.get("status", "ok") == "ok"]
    accs = [100 * r["test_acc"] for r in ok]
    seeds = ", ".join(f"{r['seed']}: {100 * r['test_acc']:.2f}" for r in ok)
    failed = len(reports) - len(ok)
    median = f"{statistics.median(accs):.2f}" if accs else "n/a"
    seconds = f"{statistics.median(r['train_seconds'] for r in ok):.1f}" if ok else "n/a"
    note = f" ({failed} diverged)" if failed else ""
    return f"| {label} | {median} | {seeds}{note} | {seconds} |"


def main() -> None:
    """Print the table of the runs under ``--runs``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=Path("runs/reproduce"))
    args = parser.parse_args()
    groups = _runs(args.runs)
    first = next(iter(groups.values()))[0]
    versions = ", ".join(f"{k} {v}" for k, v in first["versions"].items())
    print(f"Machine: {first['devices']}; {versions}.\n")
    print("| run | median test accuracy (%) | per seed (%) | median train time (s) |")
    print("|---|---:|---|---:|")
    for label, reports in groups.items():
        print(_row(label, reports))


if __name__ == "__main__":
    main()
