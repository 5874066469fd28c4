"""The ``lightning.Trainer`` arguments a run passes on, checked against Trainer's signature.

convzoo builds the Trainer itself (``fit.py``) and owns some of its arguments:
``OWNED`` says, for each, which convzoo setting sets it, and giving one as a
Trainer argument is refused with that pointer, so that each has one way to be
set. Every other argument of ``Trainer.__init__`` can be given: as
``--trainer.NAME VALUE`` on the command line, as the ``trainer:`` mapping of a
``--config`` file, a recipe or a suite's ``train:`` section, or as
``TrainConfig(trainer={...})``. jsonargparse -- the library LightningCLI is built
on -- checks each value against the signature's type hints, and turns the
``callbacks`` (and a ``profiler``) given by class path, as LightningCLI takes
them (``class_path``/``init_args``), into objects. Only Lightning's own classes
are followed (``EarlyStopping`` or ``lightning.pytorch.callbacks.EarlyStopping``):
importing a module runs its code, and a config file, a recipe or a suite must never
run code. Before jsonargparse sees a value, ``unsafe`` looks at every string in it as
jsonargparse will (itself, and the data it holds as YAML) and resolves each dotted
path itself, importing Lightning's modules only: it must give a class defined in
Lightning (``lightning.<module>.os.system`` gives ``os.system``, and is refused), of
the kind its argument takes (a ``Callback`` for ``callbacks``). ``check_argv`` does
the same for every form of the command line -- ``--trainer.NAME VALUE``, ``--trainer
JSON``, ``--trainer FILE`` -- and the settings of ``--config`` files, recipes and
suites pass through ``problem``. A callback of one's own goes to
``convzoo.train.train(config, callbacks=[...])``.

convzoo optimizes manually (several optimizer steps per Lightning step), where
Lightning cannot accumulate gradients: ``accumulate_grad_batches`` is taken out
here and done by ``ConvzooModule``'s own loop. Lightning counts
``limit_train_batches``, ``log_every_n_steps`` and ``val_check_interval`` in
calls of ``training_step``, so a run that gives one as a count takes one batch
per call (``steps_per_call`` 1, ``config.layered``), and refuses a larger one.
Lightning is imported only when a run names a Trainer argument: ``convzoo train``
parses its own flags first and the Trainer's words (``split_argv``) after them, so a
flag it refuses, or ``convzoo --help``, costs no Lightning.
"""

from __future__ import annotations

import copy
import importlib
import inspect
import re
from argparse import SUPPRESS, ArgumentError
from collections.abc import Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from convzoo.errors import ConvzooError, did_you_mean, is_int, is_number, short_repr
from convzoo.files import read_yaml, yaml_value

OWNED = {
    "accelerator": "--accelerator",
    "strategy": "--strategy",
    "devices": "--devices",
    "num_nodes": "--num-nodes",
    "precision": "--precision",
    "logger": "--logger",
    "max_epochs": "--epochs",
    "default_root_dir": "--out",
    "gradient_clip_val": "--grad-clip",
    "gradient_clip_algorithm": "--grad-clip (the gradient norm)",
    "enable_progress_bar": "convzoo (a bar in a terminal, else a line per epoch)",
    "enable_checkpointing": "convzoo (it writes checkpoints/last.ckpt)",
    "plugins": "convzoo (it writes checkpoints atomically)",
    "barebones": "convzoo (every run logs, checkpoints and reports)",
}
ACCUMULATE = "accumulate_grad_batches"
# Counted in training batches by Lightning, that is in calls of training_step: exact
# only with one batch per call (--steps-per-call 1); each with the values that leave
# the batches uncounted (Trainer's defaults).
COUNTS_BATCHES = {
    "limit_train_batches": (None, 1.0),
    "overfit_batches": (0, 0.0),
    "log_every_n_steps": (None,),
    "val_check_interval": (None, 1.0),
}
# What a run must do: train, and test what it trained.
ABOVE_ZERO = ("limit_train_batches", "limit_test_batches", "val_check_interval")
AT_LEAST_ONE = ("check_val_every_n_epoch", "log_every_n_steps")
# What tells a ModelCheckpoint apart from convzoo's own (Lightning refuses two alike).
CHECKPOINT_KEYS = {
    "monitor": (None,),
    "every_n_train_steps": (None, 0),
    "every_n_epochs": (None, 1),
    "train_time_interval": (None,),
}
# The metrics ConvzooModule logs, which a callback may monitor.
METRICS = ("train_loss", "train_acc", "val_loss", "val_acc", "test_loss", "test_acc")
FOLLOWED = "lightning"  # the one package whose classes a setting may name
# The class a class path given for a Trainer argument must give: (module, name).
BASES = {
    "callbacks": ("lightning.pytorch.callbacks", "Callback"),
    "profiler": ("lightning.pytorch.profilers", "Profiler"),
}
GROUP = "--trainer"
FLAG = "--trainer."


def _in_lightning(found: Any) -> bool:
    """Whether ``found`` is one of Lightning's modules, or a class defined in one."""
    name = found.__name__ if inspect.ismodule(found) else None
    if inspect.isclass(found):
        name = found.__module__
    return isinstance(name, str) and (name == FOLLOWED or name.startswith(f"{FOLLOWED}."))


def lightning_class(path: str) -> type | None:
    """The class the dotted ``path`` names when it is a class defined in Lightning, else None.

    It is resolved one name at a time, importing Lightning's own modules only and looking
    inside nothing else: ``lightning.pytorch.callbacks.model_checkpoint.os.system`` stops
    at ``os``, a module outside Lightning, before anything of it is reached."""
    head, *names = path.split(".")
    if head != FOLLOWED:
        return None
    found: Any = importlib.import_module(FOLLOWED)
    for name in names:
        if not _in_lightning(found):
            return None
        if inspect.ismodule(found) and name not in vars(found):
            try:
                found = importlib.import_module(f"{found.__name__}.{name}")
            except ImportError:
                return None
        else:
            found = getattr(found, name, None)
    return found if inspect.isclass(found) and _in_lightning(found) else None


def _class_paths(value: Any, base: tuple[str, str] | None) -> Iterator[tuple[str, Any]]:
    """Each string in ``value`` that jsonargparse would take for an import path, with the
    base its class must have (None: any of Lightning's); a string is looked at as
    jsonargparse reads it, itself and the data it holds as YAML."""
    if isinstance(value, str):
        text = value.strip()
        parts = text.split(".")
        if len(parts) > 1 and all(part.isidentifier() for part in parts):
            yield text, base
        elif (held := yaml_value(text, f"{GROUP} value")) != text:
            yield from _class_paths(held, base)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _class_paths(item, base if key == "class_path" else None)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _class_paths(item, base)


def unsafe(value: dict[str, Any]) -> str | None:
    """Why a mapping of Trainer arguments may not go to jsonargparse -- a class path that is
    not a class defined in Lightning, or not of the kind its argument takes -- or None."""
    for argument, given in value.items():
        for path, base in _class_paths(given, BASES.get(argument)):
            found = lightning_class(path)
            if found is None:
                outside = not path.startswith(f"{FOLLOWED}.")
                return (
                    f"{short_repr(path)} "
                    + ("is a class path outside Lightning" if outside else "is no Lightning class")
                    + "; convzoo imports no other module from settings (importing runs its "
                    "code). Name a Lightning class (EarlyStopping, "
                    "lightning.pytorch.callbacks.EarlyStopping), or pass your own callbacks to "
                    "convzoo.train.train(config, callbacks=[...])"
                )
            if base is not None and not issubclass(found, _base(base)):
                return f"{short_repr(path)} is not a subclass of {base[1]} ({'.'.join(base)})"
    return None


def _base(base: tuple[str, str]) -> type:
    return getattr(importlib.import_module(base[0]), base[1])


def _words(argv: Sequence[str]) -> Iterator[tuple[int, int]]:
    """Where each Trainer argument of ``argv`` starts and how many words it takes:
    ``--trainer.NAME=VALUE`` (or ``+=VALUE``) one, ``--trainer.NAME VALUE`` and ``--trainer
    JSON|FILE`` two -- the next word is the value unless there is none or it is an option."""
    for i, word in enumerate(argv):
        flag, sep, _ = word.partition("=")
        if flag == GROUP or flag.startswith(FLAG):
            valued = not sep and i + 1 < len(argv) and not argv[i + 1].startswith("--")
            yield i, 2 if valued else 1


def split_argv(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """``argv`` without its Trainer arguments, and those arguments (``_words``), each in its
    order: ``convzoo train`` parses its own flags without Lightning, and the Trainer's only
    when there are any."""
    own, trainer = list(argv), list[str]()
    for i, count in reversed(list(_words(argv))):
        trainer[:0] = own[i : i + count]
        del own[i : i + count]
    return own, trainer


def check_argv(argv: Sequence[str]) -> None:
    """Refuse a Trainer argument on the command line that ``unsafe`` refuses, before the
    parser resolves (and so imports) it: ``--trainer.NAME VALUE`` (or ``=VALUE``, ``+=``)
    as the mapping ``{NAME: VALUE}``, and the whole group, ``--trainer JSON`` or
    ``--trainer FILE``, which jsonargparse reads as a file when it names one."""
    for i, count in _words(argv):
        flag, sep, value = argv[i].partition("=")
        if not sep:
            value = argv[i + 1] if count == 2 else ""
        given: Any = value
        if flag == GROUP:
            given = read_yaml(value, f"the {GROUP} file") if _is_file(value) else value
            given = yaml_value(given, GROUP) if isinstance(given, str) else given
        else:
            for key in reversed(flag.removeprefix(FLAG).rstrip("+").split(".")):
                given = {key: given}
        if isinstance(given, dict) and (found := unsafe(given)) is not None:
            raise ConvzooError(f"{flag.rstrip('+')}: {found}")


def _is_file(text: str) -> bool:
    try:
        return Path(text).is_file()
    except (OSError, ValueError):  # a name too long, or holding a NUL, names no file
        return False


def explain(message: str) -> str:
    """jsonargparse's account of a Trainer value it refused, as one line: the class path
    and what its class said, or the name that is no Lightning callback, or the value's
    expected type."""
    text = " ".join(message.split())
    problem_ = re.search(r"Problem with given class_path '([^']+)': (.+?)(?: - |$)", text)
    if problem_:
        return f"{problem_.group(1)}: {problem_.group(2)}"
    unknown = re.search(r"Expected a dot import path string: (\S+)", text)
    if unknown:
        import lightning.pytorch.callbacks as callbacks

        name = unknown.group(1)
        return (
            f"{name!r} is not one of Lightning's callbacks "
            f"(lightning.pytorch.callbacks).{did_you_mean(name, callbacks.__all__)}"
        )
    text = re.sub(r" \(see [^)]*--help\)", "", text)
    key = re.match(r'(?:Parser key )?"([^"]+)":', text)
    first = re.search(r"Errors: - (.+?)(?: - |$)", text)
    if key and first:
        return f"{key.group(1)}: {first.group(1)}"
    return text.split(" Given value type:")[0].replace("Parser key ", "")


@lru_cache(maxsize=1)
def signature() -> dict[str, inspect.Parameter]:
    """The arguments of ``lightning.Trainer.__init__`` a run may give, by name."""
    import lightning as L

    params = inspect.signature(L.Trainer.__init__).parameters
    return {n: p for n, p in params.items() if n != "self" and n not in OWNED}


def add_to(parser: Any, key: str | None = "trainer") -> None:
    """Trainer's arguments, but the ones convzoo owns, as the group ``key`` of ``parser``."""
    import lightning as L

    parser.add_class_arguments(L.Trainer, key, skip=set(OWNED), fail_untyped=False)
    for name in OWNED:  # parsed, so that ``problem`` can say which flag sets it
        parser.add_argument(f"--{key}.{name}" if key else f"--{name}", help=SUPPRESS)


@lru_cache(maxsize=1)
def _parser() -> Any:
    from jsonargparse import ArgumentParser

    parser = ArgumentParser(exit_on_error=False)
    add_to(parser, None)
    return parser


def problem(value: Any) -> str | None:
    """What is wrong with a mapping of Trainer arguments (names, types, ranges), or None."""
    if not value:
        return None
    if not isinstance(value, dict):
        return f"expected a mapping of lightning.Trainer arguments, got {short_repr(value)}"
    if (found := unsafe(value)) is not None:
        return found
    accepted = signature()
    for name in value:
        if name in OWNED:
            return f"{name} is set by convzoo: use {OWNED[name]}"
        if name not in accepted:
            return f"lightning.Trainer has no argument {name!r}.{did_you_mean(str(name), accepted)}"
    accumulate = value.get(ACCUMULATE, 1)
    if not is_int(accumulate) or accumulate < 1:
        return f"{ACCUMULATE} must be at least 1, got {accumulate!r}"
    if (wrong := _range_problem(value)) is not None:
        return wrong
    try:
        _parser().parse_object(copy.deepcopy(value))  # it turns mappings into Namespaces
    except ArgumentError as exc:
        return explain(str(exc))
    return None


def counts_batches(value: dict[str, Any]) -> list[str]:
    """The arguments in ``value`` that count or share out training batches (a count or a
    fraction: Lightning takes both in its batches)."""
    return [n for n, unset in COUNTS_BATCHES.items() if n in value and value[n] not in unset]


def _range_problem(value: dict[str, Any]) -> str | None:
    """A value Lightning would take, then fail on mid-run (or train or test nothing)."""
    for name in ABOVE_ZERO:
        v = value.get(name)
        if is_number(v) and v <= 0:
            return f"{name} must be above 0 (a run trains and tests), got {v!r}"
    for name in AT_LEAST_ONE:
        v = value.get(name)
        if is_number(v) and v < 1:
            return f"{name} must be at least 1, got {v!r}"
    for named, args in _callbacks(value):
        alike = all(args.get(k) in unset for k, unset in CHECKPOINT_KEYS.items())
        if named.endswith("ModelCheckpoint") and alike:
            return (
                "callbacks: convzoo already keeps checkpoints/last.ckpt, every epoch; a "
                "ModelCheckpoint of your own needs a monitor (e.g. val_acc) or another "
                f"cadence ({', '.join(list(CHECKPOINT_KEYS)[1:])})"
            )
        monitor = args.get("monitor")
        if isinstance(monitor, str) and monitor not in METRICS:
            return (
                f"callbacks: {named} monitors {monitor!r}, which a run does not log; it "
                f"logs {', '.join(METRICS)}.{did_you_mean(monitor, METRICS)}"
            )
    return None


def _callbacks(value: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Each callback of a mapping of Trainer arguments as (class path, init_args)."""
    found = []
    listed = value.get("callbacks")
    for callback in listed if isinstance(listed, list) else [] if listed is None else [listed]:
        if isinstance(callback, dict):
            args = callback.get("init_args")
            found.append(
                (str(callback.get("class_path", "")), args if isinstance(args, dict) else {})
            )
        else:
            found.append((str(callback), {}))
    return found


def monitored(value: dict[str, Any]) -> list[str]:
    """The metrics the callbacks in a mapping of Trainer arguments monitor."""
    return [m for _, args in _callbacks(value) if isinstance(m := args.get("monitor"), str)]


def given(namespace: Any) -> dict[str, Any]:
    """The arguments of a parsed ``trainer`` group that differ from Trainer's defaults, as
    plain data (a callback as ``{class_path, init_args}``)."""
    values = namespace.as_dict() if hasattr(namespace, "as_dict") else dict(namespace or {})
    accepted = signature()
    return {
        n: v
        for n, v in values.items()
        if (n in OWNED and v is not None) or (n in accepted and v != accepted[n].default)
    }


def instantiate(value: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """The Trainer's keyword arguments from a checked mapping (callbacks as a list of
    objects), and ``accumulate_grad_batches``, which the module does itself."""
    arguments = dict(value)
    accumulate = arguments.pop(ACCUMULATE, 1)
    if not arguments:
        return {}, accumulate
    parser = _parser()
    made = parser.instantiate(parser.parse_object(copy.deepcopy(arguments)))
    kwargs = {name: made[name] for name in arguments}
    callbacks = kwargs.get("callbacks")
    if callbacks is not None and not isinstance(callbacks, list):
        kwargs["callbacks"] = [callbacks]
    return kwargs, accumulate
