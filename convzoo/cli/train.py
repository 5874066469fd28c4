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
import typing
from dataclasses import Field
from pathlib import Path
from typing import Any

from jsonargparse import ActionYesNo, ArgumentParser

from convzoo.cli._common import add_swap, parse_swaps, parser, print_table
from convzoo.errors import ConvzooError
from convzoo.files import dumps_yaml, read_yaml
from convzoo.train import config as settings
from convzoo.train import trainer_args
from convzoo.train.config import TrainConfig

NAMES = {"train": "train a network and write a report"}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _help(f: Field[Any]) -> str:
    value = settings.default(f.name)
    if isinstance(value, bool):
        value = "yes" if value else "no"
    shown = f.metadata.get("shown", "none" if value in (None, {}) else value)
    return f"{f.metadata['help']} (default: {shown})"


def _add_setting(p: ArgumentParser, f: Field[Any]) -> None:
    """One flag for one declared setting, typed by its hint; every default is None (= not
    given), so that the config file can sit between the defaults and the flags."""
    hint = settings.type_hint(f.name)
    plain = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
    kind = typing.get_origin(plain[0]) or plain[0]
    if f.name == "swap":
        add_swap(p, f.metadata["help"].split(":")[0])
    elif f.name == "trainer":
        trainer_args.add_to(p)
    elif kind is bool:
        p.add_argument(
            _flag(f.name), action=ActionYesNo(no_prefix="no-"), default=None, help=_help(f)
        )
    elif kind is tuple:
        args = typing.get_args(plain[0])
        p.add_argument(
            _flag(f.name),
            type=args[0],
            nargs=len(args),
            help=_help(f),
            metavar=("LO", "HI") if len(args) == 2 else None,
        )
    else:
        fixed = f.metadata.get("choices")  # listed in help; ``settings.problem`` checks them
        p.add_argument(
            _flag(f.name),
            type=kind,
            help=_help(f),
            **({"metavar": "{" + ",".join(fixed) + "}"} if isinstance(fixed, tuple) else {}),
        )


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
            _add_setting(p, f)
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


def _check(values: dict[str, Any], where: str) -> None:
    for name, value in values.items():
        wrong = settings.problem(name, value)
        if wrong:
            raise ConvzooError(f"{where(name)}: {wrong}")


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
    _check(values, lambda name: f"--config {path}: {name}")
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
    _check(given, lambda name: "--trainer" if name == "trainer" else _flag(name))
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
