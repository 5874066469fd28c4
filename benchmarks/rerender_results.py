"""Re-render committed bench results with today's report and plot code, recounting what
is computed from the spec alone.

A committed ``benchmarks/results/NAME/results.json`` holds every cell's measured
figures (accuracies, curves, times). Parameters and FLOPs are not measured: they
are counted from the spec, so when the counting rules change (connected FLOPs,
for one) the committed counts go stale. This script recounts them with
``convzoo.summary``, prints each count it changed, and writes results.csv,
results.json, report.md and the plots again from the cells; no measured figure
is touched. Usage: ``python benchmarks/rerender_results.py benchmarks/results/permutation ...``
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from convzoo.assemble import apply_swaps
from convzoo.bench.report import write_outputs
from convzoo.bench.suite import load_suite
from convzoo.spec import load_spec
from convzoo.summary import summary

SUITES = Path(__file__).resolve().parent / "suites"


def recount(cell: dict) -> list[str]:
    """Set the cell's params and FLOPs to today's count; what changed, as text."""
    counted = summary(apply_swaps(load_spec(cell["arch_source"]), cell.get("swaps") or {}))
    changes = []
    for key, value in (("params", counted.params), ("flops", counted.flops)):
        if cell.get(key) != value:
            changes.append(f"{cell['id']}: {key} {cell.get(key)} -> {value}")
            cell[key] = value
    return changes


def rerender(folder: Path) -> list[str]:
    """Recount and re-render one results folder; the counts that changed."""
    data = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    recorded = data["suite"]
    suite = load_suite(
        SUITES / f"{recorded['name']}.yaml", recorded.get("overrides", {}).get("epochs")
    )
    cells = data["cells"]
    changes = [c for cell in cells if cell["status"] == "ok" for c in recount(cell)]
    write_outputs(suite, cells, folder)
    return changes


def main() -> None:
    """Re-render each folder named on the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    for folder in parser.parse_args().folders:
        changes = rerender(folder)
        print(f"{folder}: {len(changes)} count(s) changed")
        for line in changes:
            print(f"  {line}")


if __name__ == "__main__":
    main()
