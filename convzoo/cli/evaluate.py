"""``convzoo evaluate RUN_DIR|CKPT``: the measures of a run, written next to it; the summary
line names every figure of the table of measures.

Every field of ``EvaluateConfig`` is a flag (``max_shift`` is ``--max-shift``), made by the
code that makes ``convzoo train``'s (``_common.add_setting``), and so is ``--data-dir``,
``TrainConfig``'s; a flag not given keeps the declared default. Its help names the
measures, whose table imports torch: the names come from the help cache
(``_help_cache``), and a setting out of range is refused before anything heavy is
imported.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from jsonargparse import ArgumentParser

from convzoo.cli import _help_cache
from convzoo.cli._common import add_setting, check_flags, parser

NAMES = {"evaluate": "robustness of a trained run"}
DESCRIPTION = "Measure a trained run ({}) and write the report next to it."


def _titles() -> list[str]:
    """The title of each measure, in the table's order (imports torch)."""
    from convzoo.evaluate.measures import MEASURES

    return [m.title for m in MEASURES]


def _name_the_measures(p: ArgumentParser) -> None:
    titles = _help_cache.cached("measures", _titles, list[str], ("evaluate/measures.py",))
    p.description = DESCRIPTION.format(", ".join(titles))


def add_parser(sub: Any) -> None:
    """The ``evaluate`` subcommand: the run, its data, one flag per evaluation setting, --out;
    its help names the measures."""
    from convzoo import settings as declared
    from convzoo.evaluate.config import EvaluateConfig
    from convzoo.train.config import TrainConfig

    p = parser(DESCRIPTION.format("every measure"), on_help=_name_the_measures)
    p.add_argument("run", metavar="RUN_DIR|CKPT", help="a run directory or a checkpoint")
    p.add_argument("--data", help="dataset (default: the run's)")
    add_setting(p, TrainConfig, "data_dir")
    for name in declared.settings(EvaluateConfig):
        add_setting(p, EvaluateConfig, name)
    p.add_argument("--out", help="where to write (default: the run directory)")
    sub.add_subcommand("evaluate", p, help=NAMES["evaluate"])


def run(args: Any) -> int:
    """Evaluate with progress on stderr, write the files, print the summary line and where
    they are."""
    from convzoo import settings as declared
    from convzoo.evaluate.config import EvaluateConfig

    given = {
        name: args[name] for name in declared.settings(EvaluateConfig) if args[name] is not None
    }
    check_flags(EvaluateConfig, given)
    from convzoo.evaluate.measures import numbers
    from convzoo.evaluate.progress import Progress
    from convzoo.evaluate.report import evaluate

    result = evaluate(
        args.run,
        data=args.data,
        data_dir=args.data_dir,
        out=args.out,
        progress=Progress(),
        config=EvaluateConfig(**given),
    )
    figures = ", ".join(f"{n.name} {n.text(n.read(result))}" for n in numbers())
    sys.stdout.write(
        f"{result['arch']} on {result['data']}: {figures}\n"
        f"evaluation: {Path(result['out']) / 'evaluate.md'}\n"
    )
    return 0
