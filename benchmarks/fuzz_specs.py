"""The long fuzz run: thousands of random specs, each built and run or refused.

The same strategy as ``tests/test_fuzz.py`` (``tests/fuzz_strategies.py``), over
many more examples, and it does not stop at the first bug: it prints how many
specs built, how many each error type refused, and every distinct bug (an
exception that is not a ``ConvzooError``) with the shortest spec that raised it.
Exit status 1 when there was a bug.

    .venv/bin/python benchmarks/fuzz_specs.py [--examples 5000] [--seed 0]
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
import warnings
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, seed, settings

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from convzoo.spec import short_repr
from tests.fuzz_strategies import outcome, specs

BUG = "bug"
SPEC_LIMIT = 4000  # characters of a bug's spec the summary shows


def fuzz(examples: int, at: int) -> tuple[Counter[str], dict[str, tuple[str, str]]]:
    """Outcome counts over ``examples`` specs, and per distinct bug its shortest spec and
    traceback."""
    counts: Counter[str] = Counter()
    bugs: dict[str, tuple[str, str]] = {}

    @seed(at)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(data=specs())
    def run(data):
        try:
            counts[outcome(data)] += 1
        except Exception as exc:
            counts[BUG] += 1
            key = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0][:160]}"
            text = short_repr(data, SPEC_LIMIT)
            if key not in bugs or len(text) < len(bugs[key][0]):
                bugs[key] = (text, traceback.format_exc(limit=-3))

    run()
    return counts, bugs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=5000, help="how many specs to draw")
    parser.add_argument("--seed", type=int, default=0, help="the random seed of the draw")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    start = time.perf_counter()
    counts, bugs = fuzz(args.examples, args.seed)
    total = sum(counts.values())
    print(f"{total} specs in {time.perf_counter() - start:.0f} s (seed {args.seed})")
    print(f"  built and ran: {counts['built']}")
    for name, n in counts.most_common():
        if name not in ("built", BUG):
            print(f"  refused by {name}: {n}")
    print(f"  bugs: {counts[BUG]} ({len(bugs)} distinct)")
    for key, (spec, trace) in bugs.items():
        print(f"\n{key}\n  shortest spec: {spec}\n{trace}")
    return 1 if bugs else 0


if __name__ == "__main__":
    sys.exit(main())
