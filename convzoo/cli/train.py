"""``convzoo train``: flags made from ``TrainConfig``'s declaration, ``--config``, the table.

Every field of ``TrainConfig`` (but ``arch``, the positional argument, and the
ones declared ``flag: False``) is a flag: ``batch_size`` is ``--batch-size``,
a bool is ``--flip``/``--no-flip``, a pair is ``--scale LO HI``, the swap
mapping is ``--swap KEY=NAME`` given once per swap, and the ``trainer`` mapping
is the group ``--trainer.NAME VALUE`` of ``lightning.Trainer``'s own arguments
(``train.trainer_args``), callbacks by class path as in LightningCLI
(``--trainer.callbacks+=EarlyStopping --trainer.callbacks.monitor=val_loss``).
Settings come from the declared defaults, then the architecture's recipe (its
``train:`` section), then the ``--config`` YAML files in their order (keys named
like the fields; ``-`` may stand for ``_``), then the flags given, each overriding
the one before (swaps and Trainer arguments add up, key by key); a value of the
wrong type or out of range is refused, naming the flag or file it came from.
``--print_config`` prints the settings so resolved, in the form ``--config`` reads
and the run directory's ``config.yaml`` keeps, and trains nothing;
``--print_config=skip_null`` leaves out the null ones.

The parse comes in two stages, so that a refused setting, or a run that names no
Trainer argument, never imports Lightning (seconds of start-up): ``TrainParser``
parses convzoo's own flags and sets the Trainer's words aside (``trainer``);
``config_from`` checks every setting of convzoo's own, and the architecture, and
only then parses the Trainer's words against Trainer's signature. Help lists
Trainer's arguments from the help cache (``_help_cache``), made once per installed
version.
"""

from __future__ import annotations

import sys
from argparse import SUPPRESS, Action
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from jsonargparse import ArgumentParser, Namespace

from convzoo.cli import _help_cache
from convzoo.cli._common import (
    Parser,
    add_setting,
    add_swap,
    check_flags,
    parse_swaps,
    parser,
    print_table,
)
from convzoo.errors import ConvzooError
from convzoo.files import dumps_yaml, read_yaml
from convzoo.spec import load_spec
from convzoo.train import config as settings
from convzoo.train import trainer_args
from convzoo.train.config import TrainConfig

NAMES = {"train": "train a network and write a report"}


TRAINER = "trainer"  # the setting, the group of its flags and the key of its words
PRINT_CONFIG = {"skip_null": "leaves out the settings that are null"}
# What the help of the Trainer's arguments is made from (the help cache's key).
TRAINER_HELP_SOURCES = ("train/trainer_args.py", "cli/_common.py", "cli/train.py")
TrainerHelp = list[tuple[list[str], str, str]]  # each flag's option strings, value and help


class TrainParser(Parser):
    """``convzoo train``'s parser: convzoo's own flags; the Trainer's words
    (``trainer_args.split_argv``) are set aside, as they were given, under ``trainer`` --
    but the help of a Trainer argument's classes (``--trainer.callbacks.help NAME``), which
    is shown as soon as it is asked for, as ``--help`` is."""

    def parse_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: Any = None, **kwargs: Any
    ) -> Namespace:
        own, words = trainer_args.split_argv(sys.argv[1:] if args is None else args)
        if any(word.partition("=")[0].endswith(".help") for word in words):
            _trainer_words(words)  # shows that help and exits
        parsed = super().parse_args(own, namespace, **kwargs)
        parsed[TRAINER] = words
        return parsed


def _add_setting(p: ArgumentParser, name: str) -> None:
    """One flag for one declared setting; the swaps and the Trainer's arguments are groups."""
    if name == "swap":
        add_swap(p, settings.settings()[name].metadata["help"].split(":")[0])
    elif name == TRAINER:  # only holds the words TrainParser sets aside: never parsed
        p.add_argument(f"--{TRAINER}", help=SUPPRESS, default=[])
    else:
        add_setting(p, TrainConfig, name)


def add_parser(sub: Any) -> None:
    """The ``train`` subcommand: one flag per declared setting, ``--config``, ``--evaluate``;
    its help lists Trainer's arguments too."""
    p = parser(
        "Train a network, test it, and write a report into its run directory.",
        on_help=_add_trainer_help,
        kind=TrainParser,
    )
    p.add_argument(
        "arch",
        nargs="?",
        metavar="ARCH|SPEC",
        help="registry name or YAML spec file (default: the --config file's arch)",
    )
    for f in settings.settings().values():
        if f.metadata.get("flag", True):
            _add_setting(p, f.name)
    p.add_argument(
        "--config",
        action="append",
        help="YAML file of settings; given again, each file overrides the ones before it key "
        "by key, and the flags override them all (default: none)",
    )
    p.add_argument(
        "--print_config",
        nargs="?",
        const="",
        metavar="=skip_null",
        help="print the resolved settings as YAML (what --config reads) and exit; "
        f"--print_config=skip_null {PRINT_CONFIG['skip_null']} (default: no)",
    )
    p.add_argument("--evaluate", action="store_true", help="run `convzoo evaluate` afterwards")
    sub.add_subcommand("train", p, help=NAMES["train"])


def _trainer_parser() -> ArgumentParser:
    """The parser of the Trainer's words (``--trainer.NAME VALUE``); imports Lightning."""
    p = Parser(prog="convzoo train")
    trainer_args.add_to(p)
    return p


def _trainer_help() -> TrainerHelp:
    """Each Trainer flag as jsonargparse writes its help (Trainer's docstring, the type and
    default); imports Lightning."""
    p = _trainer_parser()
    form = p._get_formatter()
    return [
        (
            list(action.option_strings),
            ""
            if action.nargs == 0
            else form._format_args(action, form._get_default_metavar_for_optional(action)),
            " ".join(form._expand_help(action).split()),
        )
        for action in (p.groups or {})[TRAINER]._group_actions
        if action.help != SUPPRESS
    ]


def _add_trainer_help(p: ArgumentParser) -> None:
    """The group of Trainer's arguments in ``p``'s help, from the help cache: descriptions
    only, which parse nothing (``config_from`` parses the Trainer's words)."""
    found = _help_cache.cached(TRAINER, _trainer_help, TrainerHelp, TRAINER_HELP_SOURCES)
    group = p.add_argument_group(
        "lightning.Trainer's arguments",
        "Every other argument of lightning.Trainer, as --trainer.NAME VALUE (in a --config "
        "file: its trainer: mapping); callbacks by class path, Lightning's own "
        "(--trainer.callbacks+=EarlyStopping --trainer.callbacks.monitor=val_loss). convzoo "
        "sets these itself and refuses them, naming the flag that sets them: "
        f"{', '.join(trainer_args.OWNED)}.",
    )
    for flags, value, text in found:
        group._group_actions.append(
            Action(
                list(flags),
                SUPPRESS,
                nargs=None if value else 0,
                metavar=value or None,
                default=SUPPRESS,
                help=text.replace("%", "%%"),
            )
        )


def _from_file(path: Path) -> dict[str, Any]:
    """The ``--config`` file's settings, each known and valid but its Trainer arguments, which
    ``config_from`` checks last (with Lightning)."""
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
    own = {k: v for k, v in values.items() if k != TRAINER}
    check_flags(TrainConfig, own, _in_file(path))
    return values


def _in_file(path: Path) -> Callable[[str], str]:
    return lambda name: f"--config {path}: {name}"


def _trainer_words(words: Sequence[str]) -> dict[str, Any]:
    """The Trainer arguments of the command line, parsed against Trainer's signature (this
    imports Lightning), as plain data."""
    return trainer_args.given(_trainer_parser().parse_args(list(words), env=False)[TRAINER])


def config_from(args: Any) -> tuple[TrainConfig, dict[str, str]]:
    """The architecture's recipe, then the ``--config`` files in order, then the flags given;
    and where each setting came from. Everything of convzoo's own is checked before the
    Trainer's arguments are, which imports Lightning."""
    files = [(path, _from_file(path)) for path in map(Path, args.config or [])]
    values: dict[str, Any] = {}
    for _, read in files:
        settings.lay_over(values, {k: v for k, v in read.items() if k != TRAINER})
    arch = args.arch or values.get("arch")
    values.pop("arch", None)
    if arch is None:
        raise ConvzooError(
            "convzoo train: name an architecture (ARCH|SPEC) or a --config with arch"
        )
    skipped = ("arch", TRAINER)
    given = {
        k: args[k]
        for k in settings.settings()
        if k not in skipped and k in args and args[k] is not None
    }
    if "swap" in given:
        given["swap"] = parse_swaps(given["swap"])
    check_flags(TrainConfig, given)
    settings.recipe(load_spec(arch))  # a bad architecture or recipe: refused before Lightning
    for path, read in files:
        if TRAINER in read:
            check_flags(TrainConfig, {TRAINER: read[TRAINER]}, _in_file(path))
            settings.lay_over(values, {TRAINER: read[TRAINER]})
    words = args.get(TRAINER) or []
    if words and (trainer := _trainer_words(words)):
        check_flags(TrainConfig, {TRAINER: trainer}, lambda name: f"--{TRAINER}")
        given[TRAINER] = trainer
    return settings.for_arch(arch, values, given)


def _printing(value: str) -> set[str]:
    """What ``--print_config=VALUE`` asks for, each a key of ``PRINT_CONFIG``."""
    asked = {word.strip() for word in value.split(",") if word.strip()}
    wrong = sorted(asked - set(PRINT_CONFIG))
    if wrong:
        raise ConvzooError(
            f"--print_config={wrong[0]}: convzoo takes --print_config alone (every setting) or "
            f"--print_config=skip_null ({PRINT_CONFIG['skip_null']})"
        )
    return asked


def _without_nulls(data: Any) -> Any:
    """``data`` without the mapping entries that are None, at any depth."""
    if isinstance(data, dict):
        return {k: _without_nulls(v) for k, v in data.items() if v is not None}
    if isinstance(data, list):
        return [_without_nulls(v) for v in data]
    return data


def run(args: Any) -> int:
    """Train as the arguments say, print the report's table, evaluate if asked. What a run
    needs is imported once its settings are all taken."""
    printing = None if args.print_config is None else _printing(args.print_config)
    config, origins = config_from(args)
    if printing is not None:
        saved = settings.saved(config)
        sys.stdout.write(dumps_yaml(_without_nulls(saved) if "skip_null" in printing else saved))
        return 0
    from convzoo.evaluate.report import evaluate
    from convzoo.train.distributed import is_rank_zero
    from convzoo.train.fit import train
    from convzoo.train.report import report_markdown

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
