"""Each configuration of a suite against its baseline, seed by seed: the report's paired table.

A bench compares configurations; a difference of two means says little when the
seeds spread more than the effect. Every cell of a configuration has a partner
with the same seed in its baseline (same data, same initialisation order and data
order), so the report gives the seed-paired difference with its 95% interval
(``bench.stats``) and says "not separable at n = …" when the interval holds zero.

The baseline of a configuration, on the same data:
- a permuted configuration's is the same configuration with the pixels in place;
- a configuration with swaps has the same architecture without swaps, where the
  suite has it;
- any other's is the suite's first configuration (with the pixels in place).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from convzoo.bench.stats import Estimate, paired

Key = tuple[str, str, Any]  # label, data, permute
COMPARED = (("test_acc", "test accuracy"), ("shift_consistency", "shift consistency"))


def _key(row: Mapping[str, Any]) -> Key:
    return (row["label"], row["data"], row["permute"])


def baselines(rows: Sequence[Mapping[str, Any]]) -> dict[Key, Key]:
    """Each configuration's baseline, for those that have one other than themselves."""
    first: dict[Key, Mapping[str, Any]] = {}
    for row in rows:
        first.setdefault(_key(row), row)
    plain = {(r["arch"], r["data"]): k for k, r in first.items() if not r["swaps"] and k[2] is None}
    found: dict[Key, Key] = {}
    for key, row in first.items():
        label, data, permute = key
        if permute is not None:
            base = (label, data, None)
        elif row["swaps"] and (row["arch"], data) in plain:
            base = plain[(row["arch"], data)]
        else:
            base = next((k for k in first if k[1] == data and k[2] is None), key)
        if base != key and base in first:
            found[key] = base
    return found


def differences(
    rows: Sequence[Mapping[str, Any]], key: Key, base: Key, measure: str
) -> Estimate | None:
    """``measure`` of ``key`` minus its baseline's, paired by seed over finished cells."""

    def by_seed(which: Key) -> dict[int, float]:
        return {
            r["seed"]: 100 * r[measure]
            for r in rows
            if _key(r) == which and r["status"] == "ok" and r.get(measure) is not None
        }

    a, b = by_seed(key), by_seed(base)
    return paired(a, b) if set(a) & set(b) else None


def _cell(value: Estimate | None) -> list[str]:
    if value is None:
        return ["n/a", ""]
    if value.low is None or value.high is None:
        return [f"{value.mean:+.2f} (n = 1)", "n/a"]
    verdict = "" if value.separable else f"; {value.verdict()}"
    return [
        f"{value.mean:+.2f} ± {value.sd:.2f} (n = {value.n})",
        f"[{value.low:+.2f}, {value.high:+.2f}]{verdict}",
    ]


def paired_table(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The Markdown table: one line per configuration with a baseline; empty if none has."""
    pairs = baselines(rows)
    if not pairs:
        return []
    header = "| configuration | against | data | permuted | " + " | ".join(
        f"{name}: difference (points) | 95% interval" for _, name in COMPARED
    )
    lines = [header + " |", "|---|---|---|---|" + "---:|---:|" * len(COMPARED)]
    for (label, data, permute), base in pairs.items():
        figures = [
            c
            for m, _ in COMPARED
            for c in _cell(differences(rows, (label, data, permute), base, m))
        ]
        against = base[0] if permute is None else "unpermuted"
        shown = "no" if permute is None else permute
        lines.append(f"| {label} | {against} | {data} | {shown} | " + " | ".join(figures) + " |")
    return lines
