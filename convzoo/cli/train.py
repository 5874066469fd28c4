"""``convzoo train``: its flags, the ``--config`` file, and the final table.

Settings come from ``TrainConfig``'s defaults, then the ``--config`` YAML file
(keys named like the flags, with ``_`` for ``-``), then the flags given on the
command line, each overriding the one before.
"""

from __future__ import annotations

import argparse
from dataclasses import fields
from pathlib import Path
from typing import Any

from convzoo.assemble import parse_swaps
from convzoo.errors import ConvzooError
from convzoo.io import read_yaml
from convzoo.train.fit import LOGGERS, TrainConfig, train
from convzoo.train.module import OPTIMIZERS, SCHEDULES

PRECISIONS = ("auto", "32-true", "16-mixed", "bf16-mixed", "bf16-true", "64-true")


def add_parser(sub: Any, parents: list[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    """The ``train`` subcommand's parser; every option defaults to None (= not given)."""
    p = sub.add_parser("train", parents=parents, help="train a network and write a report",
                       argument_default=None)  # fmt: skip
    p.add_argument("arch", metavar="ARCH|SPEC", help="registry name or YAML spec file")
    p.add_argument("--data", help="dataset name (convzoo list data)")
    p.add_argument("--data-dir", help="folder with the dataset's files")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float, help="(peak) learning rate")
    p.add_argument("--optimizer", choices=OPTIMIZERS)
    p.add_argument("--schedule", choices=SCHEDULES)
    p.add_argument("--momentum", type=float)
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--label-smoothing", type=float)
    p.add_argument("--grad-clip", type=float, help="clip the gradient norm at this value")
    p.add_argument("--swap", action="append", metavar="KEY=NAME", help="replace blocks")
    p.add_argument("--devices", type=int, help="GPUs or CPU processes")
    p.add_argument("--strategy", help="Lightning strategy, e.g. ddp")
    p.add_argument("--accelerator", choices=("auto", "cpu", "gpu"))
    p.add_argument("--precision", choices=PRECISIONS)
    p.add_argument("--compile", action="store_true", default=None, help="torch.compile the net")
    p.add_argument("--channels-last", action="store_true", default=None)
    p.add_argument("--logger", choices=LOGGERS)
    p.add_argument("--seed", type=int)
    p.add_argument("--out", help="run directory (default runs/ARCH-DATA-TIME)")
    p.add_argument("--resume", action="store_true", default=None, help="continue --out's run")
    p.add_argument("--translate", type=int, help="augment: random shifts up to N pixels")
    p.add_argument("--scale", type=float, nargs=2, metavar=("LO", "HI"),
                   help="augment: random rescaling within [LO, HI]")  # fmt: skip
    p.add_argument("--flip", action="store_true", default=None, help="augment: mirror images")
    p.add_argument("--permute", type=int, metavar="SEED",
                   help="one fixed random permutation of the pixels, train and test")  # fmt: skip
    p.add_argument("--val-fraction", type=float)
    p.add_argument(
        "--no-resident",
        dest="resident",
        action="store_false",
        default=None,
        help="feed batches through a DataLoader instead of device-resident tensors",
    )
    p.add_argument("--config", help="YAML file of settings (flags override it)")
    p.add_argument("--evaluate", action="store_true", help="run `convzoo evaluate` afterwards")
    return p


def config_from(args: argparse.Namespace) -> TrainConfig:
    """Defaults, then the ``--config`` file, then the flags given."""
    names = {f.name for f in fields(TrainConfig)}
    values: dict[str, Any] = {}
    if args.config:
        path = Path(args.config)
        data = read_yaml(path, "the --config file") or {}
        if not isinstance(data, dict):
            raise ConvzooError(f"--config {path}: expected a mapping of settings")
        unknown = sorted(k for k in data if k.replace("-", "_") not in names)
        if unknown:
            raise ConvzooError(
                f"--config {path}: unknown setting(s) {', '.join(unknown)}; "
                f"accepted: {', '.join(sorted(names - {'progress'}))}"
            )
        values.update({k.replace("-", "_"): v for k, v in data.items()})
    given = {k: v for k, v in vars(args).items() if k in names and v is not None}
    if "swap" in given:
        given["swap"] = {**values.get("swap", {}), **parse_swaps(given["swap"])}
    values.update(given)
    try:
        return TrainConfig(**values)
    except TypeError as exc:
        raise ConvzooError(f"train settings: {exc}") from exc


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Train as the arguments say and return the report."""
    return train(config_from(args))
