"""The settings of one training run, each declared once: type, default, help and range.

``TrainConfig`` is the single declaration. ``convzoo train`` builds its flags
from its fields (``batch_size`` becomes ``--batch-size``, with the help and the
default written here), ``--config`` files and bench suites' ``train:`` sections
are checked against the same fields, and ``TrainConfig(...)`` itself refuses a
value of the wrong type or out of range. Adding a setting means adding one field.

Each field is made by ``convzoo.settings.setting``, whose metadata holds its
``help`` and, where it has them, its ``choices``, a ``rule`` (a range, as
``Rule``) and ``shown`` (how help states a default that is computed); ``flag:
False`` keeps a setting off the command line (``progress``, which the commands
decide). The functions below read this declaration through ``convzoo.settings``.

An architecture's YAML may carry a recipe, its ``train:`` section: the settings
it was made for, with their ``source``. ``for_arch`` layers defaults, recipe,
``--config`` values and flags, and says for each setting which one it came from.
"""

from __future__ import annotations

import typing
import warnings
from collections.abc import Sequence
from dataclasses import Field, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from convzoo import settings as declared
from convzoo.errors import ConvzooError, ConvzooWarning, is_int, is_number
from convzoo.settings import (
    AT_LEAST_ONE,
    DECAY,
    FRACTION,
    NON_NEGATIVE,
    NOT_EMPTY,
    POSITIVE,
    SEED,
    Rule,
    setting,
    unknown,
)
from convzoo.spec import Spec, load_spec
from convzoo.train import trainer_args

OPTIMIZERS = ("sgd", "adamw")
SCHEDULES = ("onecycle", "cosine", "constant", "exponential")
WHOLE_RUN = ("onecycle", "cosine")  # laid out over the run's steps: a resume keeps its epochs
LOGGERS = ("csv", "tensorboard", "wandb")
ACCELERATORS = ("auto", "cpu", "gpu")
Precision = Literal["32-true", "16-mixed", "bf16-mixed", "bf16-true", "64-true"]
PRECISIONS = ("auto", *typing.get_args(Precision))

SCALE_RANGE = Rule("two sizes LO <= HI, both above 0", lambda v: 0 < v[0] <= v[1])
WANDB_PROJECT_NAME = Rule(  # W&B refuses these characters in a project's name
    "a name without / \\ # ? % or :",
    lambda v: bool(v.strip()) and not set(v) & set("/\\#?%:"),
)


def _strategies() -> tuple[str, ...]:
    from lightning.pytorch.strategies import StrategyRegistry

    return ("auto", *StrategyRegistry.available_strategies())


@dataclass
class TrainConfig:
    """The settings of one run; ``convzoo train`` flags and ``--config`` keys by the same names."""

    arch: str = field(metadata={"help": "registry name or YAML spec file", "flag": False})
    data: str = setting("fashion_mnist", "dataset name (convzoo list data)")
    data_dir: str | None = setting(None, "folder with the dataset's files")
    epochs: int = setting(5, "passes over the training split", rule=AT_LEAST_ONE)
    batch_size: int = setting(256, "samples per optimizer step", rule=AT_LEAST_ONE)
    lr: float = setting(0.1, "(peak) learning rate", rule=POSITIVE)
    optimizer: str = setting("sgd", "optimizer", choices=OPTIMIZERS)
    schedule: str = setting("onecycle", "learning-rate schedule", choices=SCHEDULES)
    lr_decay: float = setting(
        0.95,
        "exponential schedule: the learning rate's factor per epoch, applied a little at "
        "every optimizer step (lr * lr_decay ** (step / steps per epoch))",
        rule=DECAY,
    )
    momentum: float = setting(0.9, "SGD momentum (Nesterov)", rule=FRACTION)
    weight_decay: float = setting(5e-4, "weight decay of weights, not biases", rule=NON_NEGATIVE)
    label_smoothing: float = setting(0.0, "label smoothing of cross-entropy", rule=FRACTION)
    grad_clip: float | None = setting(None, "clip the gradient norm at this value", rule=POSITIVE)
    swap: dict[str, str] = setting({}, "replace blocks: act=relu (a family) or pool.max=avg")
    devices: int = setting(1, "GPUs or CPU processes", rule=AT_LEAST_ONE)
    num_nodes: int = setting(
        1, "machines (nodes) the run spans, each with --devices processes", rule=AT_LEAST_ONE
    )
    strategy: str = setting("auto", "Lightning strategy, e.g. ddp", choices=_strategies)
    accelerator: str = setting("auto", "where to train", choices=ACCELERATORS)
    precision: str = setting(
        "auto", "numeric precision (auto: bf16-mixed on GPUs)", choices=PRECISIONS
    )
    compile: bool = setting(False, "torch.compile the network")
    channels_last: bool = setting(False, "channels-last memory format for 2-D networks")
    logger: str = setting("csv", "where the metrics go", choices=LOGGERS)
    logger_project: str | None = setting(
        None,
        "the W&B project (--logger wandb)",
        shown="$WANDB_PROJECT, else convzoo",
        rule=WANDB_PROJECT_NAME,
    )
    logger_name: str | None = setting(
        None,
        "the W&B run's name (--logger wandb)",
        shown="$WANDB_NAME, else W&B's own",
        rule=NOT_EMPTY,
    )
    seed: int = setting(0, "seed of initialization, split and augmentation", rule=SEED)
    out: str | None = setting(None, "run directory", shown="runs/ARCH-DATA-TIME")
    resume: bool = setting(False, "continue the unfinished run in --out")
    translate: int = setting(0, "augment: random shifts of up to N pixels", rule=NON_NEGATIVE)
    scale: tuple[float, float] | None = setting(
        None, "augment: random rescaling within [LO, HI]", rule=SCALE_RANGE
    )
    flip: bool = setting(False, "augment: mirror images")
    permute: int | None = setting(
        None, "one fixed random pixel permutation (its seed), train and test", rule=SEED
    )
    val_fraction: float = setting(0.1, "share of the training split held out", rule=FRACTION)
    standardize: bool = setting(
        True,
        "scale inputs by the training split's mean and std (no: the raw values, for a "
        "recipe whose reference trains on them)",
    )
    resident: bool = setting(True, "keep the data on the training device (no: a DataLoader)")
    steps_per_call: int = setting(
        10,
        "optimizer steps per Lightning training step on resident data: Lightning's fixed "
        "cost per step is paid once for them all",
        rule=AT_LEAST_ONE,
    )
    memory_limit: float | None = setting(
        None, "GiB the run may need", rule=POSITIVE, shown="the device's free memory"
    )
    ddp_timeout: int = setting(
        1800, "seconds a DDP rank waits for the others before the run fails", rule=AT_LEAST_ONE
    )
    trainer: dict[str, Any] = setting(
        {},
        "further lightning.Trainer arguments, --trainer.NAME VALUE (those convzoo sets "
        "itself are refused, naming its flag)",
        check=trainer_args.problem,
    )
    verbose: bool = setting(False, "show Lightning's banners and every warning")
    progress: bool = setting(
        True, "show progress (a bar in a terminal, else a line per epoch)", flag=False
    )

    def __post_init__(self) -> None:
        declared.check(self, "train")
        validated = [m for m in trainer_args.monitored(self.trainer) if m.startswith("val_")]
        never = self._never_validated()
        if validated and never:
            raise ConvzooError(
                f"train setting trainer: a callback monitors {validated[0]}, but {never[0]}, so "
                f"it is never logged; monitor a train_ metric, or {never[1]}"
            )
        counted = trainer_args.counts_batches(self.trainer)
        if counted and self.steps_per_call > 1:
            raise ConvzooError(
                f"train setting trainer: {', '.join(counted)} counts batches, and Lightning "
                f"sees one call of steps_per_call = {self.steps_per_call} batches as one; "
                "use steps_per_call 1 with it (--steps-per-call 1)"
            )

    def _never_validated(self) -> tuple[str, str] | None:
        """Why the run never validates, and how to make it, or None."""
        given = self.trainer
        if self.val_fraction == 0:
            return (
                "val_fraction 0 holds out no validation split",
                "hold some out (--val-fraction 0.1)",
            )
        limit = given.get("limit_val_batches")
        if is_number(limit) and limit == 0 and not given.get("overfit_batches"):
            return "limit_val_batches 0 takes no validation batch", "drop limit_val_batches"
        every = given.get("check_val_every_n_epoch")
        if is_int(every) and every > self.epochs and not given.get("fast_dev_run"):
            return (
                f"check_val_every_n_epoch {every} first validates after epoch {every}, and the "
                f"run has {self.epochs}",
                f"use --trainer.check_val_every_n_epoch {self.epochs} or less",
            )
        return None


def settings() -> dict[str, Field[Any]]:
    """The declared settings by name, in declaration order."""
    return declared.settings(TrainConfig)


def default(name: str) -> Any:
    """The default of the setting ``name``."""
    return declared.default(TrainConfig, name)


def choices(name: str) -> Sequence[str] | None:
    """The values the setting ``name`` may take, when it has a fixed list."""
    return declared.choices(TrainConfig, name)


def type_hint(name: str) -> Any:
    """The setting's type hint, resolved (``int | None``, ``tuple[float, float]``...)."""
    return declared.type_hint(TrainConfig, name)


def problem(name: str, value: Any) -> str | None:
    """What is wrong with ``value`` for the setting ``name`` (type, choices, range), or None."""
    return declared.problem(TrainConfig, name, value)


# -- recipes ---------------------------------------------------------------------------

NOT_IN_RECIPE = ("arch", "out", "resume", "progress")
MERGED = ("swap", "trainer")  # mappings whose keys add up over the layers
# the settings a resume may change: where and how the run goes on
RUNTIME: tuple[str, ...] = ("resume", "devices", "num_nodes", "strategy", "accelerator")
RUNTIME += ("ddp_timeout", "memory_limit", "verbose", "progress", "data_dir")
RUNTIME += ("logger_project", "logger_name")  # where the metrics are shown
RUNTIME += ("out",)  # a run folder may be moved or copied, then resumed
RUNTIME += ("epochs",)  # a resume may run longer where its schedule allows (fit.py checks it)


PATHS = ("arch", "data_dir", "out")  # settings that may name a file or folder


def saved(config: TrainConfig) -> dict[str, Any]:
    """The settings as ``--print_config`` prints them and the run directory's
    ``config.yaml`` keeps them: plain data that ``--config`` reads back, from any folder
    (relative paths are written absolute)."""
    return {
        f.name: _portable(f.name, getattr(config, f.name))
        for f in fields(config)
        if f.name == "arch" or f.metadata.get("flag", True)
    }


def _portable(name: str, value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    path = Path(value) if name in PATHS and isinstance(value, str) else None
    if path is not None and not path.is_absolute() and (name != "arch" or path.is_file()):
        return str(path.resolve())  # an arch that is no file here is a registry name
    return value


class RecipeWarning(ConvzooWarning):
    """A recipe is used on other data than it was made for."""


def recipe(spec: Spec) -> tuple[dict[str, Any], str | None]:
    """The settings of the spec's ``train:`` section, each known and valid, and its source."""
    raw = dict(spec.recipe or {})
    source = raw.pop("source", None)
    accepted = [name for name in settings() if name not in NOT_IN_RECIPE]
    for key, value in raw.items():
        if key not in accepted:
            raise ConvzooError(f"{spec.name}: train: {unknown(key, [*accepted, 'source'])}")
        wrong = problem(key, value)
        if wrong:
            raise ConvzooError(f"{spec.name}: train.{key}: {wrong}")
    if source is not None and not isinstance(source, str):
        raise ConvzooError(f"{spec.name}: train.source: expected a string, got {source!r}")
    return raw, source


def lay_over(values: dict[str, Any], given: dict[str, Any]) -> None:
    """``given`` laid over ``values`` in place: each setting replaces the one before, but the
    ``MERGED`` mappings (swaps, Trainer arguments) add up key by key."""
    for key, value in given.items():
        values[key] = {**values.get(key, {}), **value} if key in MERGED else value


def layered(arch: str, *layers: tuple[str, dict[str, Any]]) -> tuple[TrainConfig, dict[str, str]]:
    """Defaults, then each ``(origin, settings)`` layer in turn (recipe, config, flags); the
    config and, for every setting, where its value came from. Swaps and Trainer arguments add
    up over the layers."""
    values: dict[str, Any] = {}
    origins = {name: "default" for name in settings() if name != "arch"}
    for origin, given in layers:
        lay_over(values, given)
        origins.update(dict.fromkeys(given, origin))
    counted = trainer_args.counts_batches(values.get("trainer", {}))
    if counted and "steps_per_call" not in values:  # so that they count batches
        values["steps_per_call"] = 1
        origins["steps_per_call"] = f"trainer ({', '.join(counted)})"
    return TrainConfig(arch, **values), origins


def for_arch(
    arch: str, config: dict[str, Any] | None = None, flags: dict[str, Any] | None = None
) -> tuple[TrainConfig, dict[str, str]]:
    """The settings ``convzoo train ARCH`` uses: the architecture's recipe under the config
    file's values under the flags; warns when the recipe was made for other data."""
    made, source = recipe(load_spec(arch))
    result, origins = layered(
        arch, ("recipe", made), ("config", config or {}), ("flag", flags or {})
    )
    if "data" in made and result.data != made["data"]:
        warnings.warn(
            f"{arch}: its recipe ({source or 'no source given'}) was made for {made['data']!r}, "
            f"and this run trains on {result.data!r}",
            RecipeWarning,
            stacklevel=2,
        )
    return result, origins
