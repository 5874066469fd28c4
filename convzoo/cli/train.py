"""``convzoo train``: flags made from ``TrainConfig``'s declaration, ``--config``, the table.

Every field of ``TrainConfig`` (but ``arch``, the positional argument, and the
ones declared ``flag: False``) is a flag: ``batch_size`` is ``--batch-size``,
a bool is ``--flip``/``--no-flip``, a pair is ``--scale LO HI``, the swap
mapping is ``--swap KEY=NAME`` given once per swap, and the ``trainer`` mapping
is the group ``--trainer.NAME VALUE`` of ``lightning.Trainer``'s own arguments
(``train.trainer_args``), callbacks by class path as in LightningCLI
(``--trainer.callbacks+=EarlyStopping --trainer.callbacks.monitor=val_loss``).
Settings come from the declared defaults, then the architecture's recipe (its
``train:`` section), then the ``--config`` YAML file (keys named like the
fields; ``-`` may stand for ``_``), then the flags given, each overriding the one
before (swaps and Trainer arguments add up); a value of the wrong type or out of
range is refused, naming where it came from. ``--print_config`` prints the
settings so resolved, in the form ``--config`` reads and the run directory's
``config.yaml`` keeps, and trains nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from jsonargparse import ArgumentParser

from convzoo.cli._common import (
    add_setting,
    add_swap,
    check_flags,
    flag,
    parse_swaps,
    parser,
    print_table,
)
from convzoo.errors import ConvzooError
from convzoo.files import dumps_yaml, read_yaml
from convzoo.train import config as settings
from convzoo.train import trainer_args
from convzoo.train.config import TrainConfig

NAMES = {"train": "train a network and write a report"}


def _add_setting(p: ArgumentParser, name: str) -> None:
    """One flag for one declared setting; the swaps and the Trainer's arguments are groups."""
    if name == "swap":
        add_swap(p, settings.settings()[name].metadata["help"].split(":")[0])
    elif name == "trainer":
        trainer_args.add_to(p)
    else:
        add_setting(p, TrainConfig, name)


def add_parser(sub: Any) -> None:
    """The ``train`` subcommand: one flag per declared setting, ``--config``, ``--evaluate``."""
    p = parser("Train a network, test it, and write a report into its run directory.")
    p.add_argument(
        "arch",
        nargs="?",
        metavar="ARCH|SPEC",
        help="registry name or YAML spec file (default: the --config file's arch)",
    )
    for f in settings.settings().values():
        if f.metadata.get("flag", True):
            _add_setting(p, f.name)
    p.add_argument("--config", help="YAML file of settings (the flags override it; default: none)")
    p.add_argument(
        "--print_config",
        nargs="?",
        const="",
        metavar="",
        help="print the resolved settings as YAML (what --config reads) and exit",
    )
    p.add_argument("--evaluate", action="store_true", help="run `convzoo evaluate` afterwards")
    sub.add_subcommand("train", p, help=NAMES["train"])


def _from_file(path: Path) -> dict[str, Any]:
    """The ``--config`` file's settings, each known and valid."""
    data = read_yaml(path, "the --config file") or {}
    if not isinstance(data, dict):
        raise ConvzooError(f"--config {path}: expected a mapping of settings")
    accepted = [
        "arch",
        *(n for n, f in settings.settings().items() if f.metadata.get("flag", True)),
    ]
    values = {str(k).replace("-", "_"): v for k, v in data.items()}
    unknown = sorted(k for k in values if k not in accepted)
    if unknown:
        raise ConvzooError(
            f"--config {path}: unknown setting(s) {', '.join(unknown)}; "
            f"accepted: {', '.join(sorted(accepted))}"
        )
    check_flags(TrainConfig, values, lambda name: f"--config {path}: {name}")
    return values


def config_from(args: Any) -> tuple[TrainConfig, dict[str, str]]:
    """The architecture's recipe, then the ``--config`` file, then the flags given; and where
    each setting came from."""
    values = _from_file(Path(args.config)) if args.config else {}
    arch = args.arch or values.pop("arch", None)
    values.pop("arch", None)
    if arch is None:
        raise ConvzooError(
            "convzoo train: name an architecture (ARCH|SPEC) or a --config with arch"
        )
    given = {k: args[k] for k in settings.settings() if k in args and args[k] is not None}
    given.pop("arch", None)
    given["trainer"] = trainer_args.given(given.get("trainer"))
    if not given["trainer"]:
        del given["trainer"]
    if "swap" in given:
        given["swap"] = parse_swaps(given["swap"])
    check_flags(TrainConfig, given, lambda name: "--trainer" if name == "trainer" else flag(name))
    return settings.for_arch(arch, values, given)


def run(args: Any) -> int:
    """Train as the arguments say, print the report's table, evaluate if asked."""
    from convzoo.evaluate.report import evaluate
    from convzoo.train.distributed import is_rank_zero
    from convzoo.train.fit import train
    from convzoo.train.report import report_markdown

    config, origins = config_from(args)
    if args.print_config is not None:  # jsonargparse hands it on as --print_config=
        sys.stdout.write(dumps_yaml(settings.saved(config)))
        return 0
    report = train(config, origins)
    if not is_rank_zero():  # the other ranks of a DDP run: rank zero reports and evaluates
        return 0
    rows = [line.strip("|").split("|") for line in report_markdown(report).splitlines()[4:]]
    print_table(None, ["", ""], [[a.strip(), b.strip()] for a, b in rows])
    sys.stdout.write(f"report: {Path(report['run_dir']) / 'report.md'}\n")
    if args.evaluate:
        result = evaluate(report["run_dir"])
        sys.stdout.write(f"evaluation: {Path(result['out']) / 'evaluate.md'}\n")
    return 0
