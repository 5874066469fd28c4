"""``convzoo evaluate RUN_DIR|CKPT``: the robustness measures of a run, written next to it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from convzoo.cli._common import parser

NAMES = {"evaluate": "robustness of a trained run"}


def add_parser(sub: Any) -> None:
    """The ``evaluate`` subcommand."""
    from convzoo.evaluate.robustness import DEFAULT_SCALES

    p = parser("Scale curve, shift curve, shift consistency and per-layer equivariance of a run.")
    p.add_argument("run", metavar="RUN_DIR|CKPT", help="a run directory or a checkpoint")
    p.add_argument("--data", help="dataset (default: the run's)")
    p.add_argument("--data-dir", help="folder with the dataset's files")
    p.add_argument(
        "--scales",
        type=float,
        nargs="+",
        metavar="S",
        help=f"resize factors (default: {' '.join(map(str, DEFAULT_SCALES))})",
    )
    p.add_argument("--max-shift", type=int, default=4, help="largest shift in pixels (default: 4)")
    p.add_argument("--out", help="where to write (default: the run directory)")
    sub.add_subcommand("evaluate", p, help=NAMES["evaluate"])


def run(args: Any) -> int:
    """Evaluate with progress on stderr, write the files, print the summary line and where
    they are."""
    from convzoo.evaluate.progress import Progress
    from convzoo.evaluate.report import evaluate
    from convzoo.evaluate.robustness import DEFAULT_SCALES

    result = evaluate(
        args.run,
        data=args.data,
        data_dir=args.data_dir,
        scales=args.scales or DEFAULT_SCALES,
        max_shift=args.max_shift,
        out=args.out,
        progress=Progress(),
    )
    sys.stdout.write(
        f"{result['arch']} on {result['data']}: clean accuracy {100 * result['clean_acc']:.2f}%, "
        f"scale summary {result['scale']['summary']:.3f}, "
        f"shift consistency {100 * result['shift_consistency']:.2f}%\n"
        f"evaluation: {Path(result['out']) / 'evaluate.md'}\n"
    )
    return 0
