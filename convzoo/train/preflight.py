"""Every check before a run's first step, so that what a user can get wrong is one message.

Each check raises one ``ConvzooError`` that says what is wrong and how to fix it,
before the run writes anything or trains a step. ``check(config)`` runs every check
that needs no data, in this order, and returns the ``Plan`` the run follows:

- names: the spec (with its swaps) and the dataset exist; ``--logger-project`` and
  ``--logger-name`` come with ``--logger wandb`` only;
- devices: no more GPUs or CPU processes than the machine has; in ranks that
  torchrun or SLURM started, the launcher's count of processes is ``num_nodes x
  devices`` (Lightning checks it only once the Trainer is built, with a traceback
  on every rank), and ``--num-nodes`` above 1 needs such a launcher, without which
  the run would wait, silent, for nodes that never come;
- memory: the run must fit the free memory of its device (or ``--memory-limit``
  GiB), estimated on the meta device before anything is allocated, so that a spec
  asking for ``out: 10**12`` channels is refused with a number, not by the
  allocator failing (or the machine swapping). The estimate counts the parameters
  four times (weights, gradients and up to two optimizer buffers) and every
  layer's output twice per sample of a batch (kept for the backward pass, and its
  gradient), in float32; ``check_data`` adds the dataset on the input canvas;
- the run directory: a finished run is never overwritten and an unfinished one
  only resumed; a resume needs a checkpoint, keeps the schedule it was laid out
  for and the settings the checkpoint was made with, but for those that say where
  it runs (``config.RUNTIME``). A SLURM job that SLURM requeued resumes the run it
  wrote without ``--resume``, and a new run under SLURM is refused a folder holding a
  Lightning snapshot (``preemption.py``).

``check_data(plan, data)`` loads the data once the run holds its directory (so that
a second run into it is refused at once): missing or corrupt files and a shape
that does not fit the network fail there; so do, before the samples are put on the
network's input canvas, a spec with fewer classes than the data has labels (the
first step would index past its scores) and a run whose memory estimate, with the
dataset on the canvas added, does not fit (``data_bytes``); and so does a training
split that gives a rank less than one batch. Lightning would answer that with "No training batches"
and end the fit at once, and the test that follows would describe an untrained
net as a result; training batches are whole (the last, short one is dropped) and
every rank takes the same share of the split, so the check is exact. Knowing that count,
it refuses the Trainer arguments that Lightning refuses only once the fit has begun, with
a traceback: a ``limit_train_batches`` or ``overfit_batches`` share of less than one batch,
and a ``val_check_interval`` longer than the epoch they leave (``check_epoch_limits``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from convzoo.assemble import apply_swaps, build_meta
from convzoo.assemble.memory import GIB, free_bytes
from convzoo.data import DATASETS, DataModule
from convzoo.data.catalog import Dataset
from convzoo.data.module import batches_per_rank
from convzoo.errors import ConvzooError, is_int
from convzoo.files import read_yaml
from convzoo.spec import Spec, load_spec
from convzoo.train.checkpoint import (
    CHECKPOINT,
    CONFIG,
    REPORT,
    last_checkpoint,
    read_checkpoint,
    run_dir,
)
from convzoo.train.config import RUNTIME, WHOLE_RUN, TrainConfig, saved
from convzoo.train.distributed import environment
from convzoo.train.preemption import check_snapshots, requeued

BYTES = 4  # float32


@dataclass
class Plan:
    """What the checks found and the run follows: the settings (``out`` the run's folder,
    which ``config.yaml`` then records), the spec, where it runs and writes, the checkpoint
    it resumes (None for a new run), and whether it is a requeued SLURM job's, which
    continues the run it wrote (``preemption.requeued``)."""

    config: TrainConfig
    spec: Spec
    accelerator: str
    devices: int
    out: Path
    ckpt: Path | None
    requeued: bool = False
    memory: tuple[int, int] = (0, 0)  # the network's estimate: parameters, activations

    @property
    def ranks(self) -> int:
        """The run's processes: ``devices`` on each of its nodes."""
        return self.devices * self.config.num_nodes


def check(config: TrainConfig) -> Plan:
    """Every check that needs no data: names, devices, memory, the run directory."""
    spec = apply_swaps(load_spec(config.arch), config.swap)
    DATASETS.get("data", config.data)
    check_logger(config)
    accelerator, devices = _resolve_accelerator(config)
    _check_launcher(config.num_nodes, devices)
    memory = check_fits(spec, config.batch_size, accelerator, config.memory_limit)
    out = run_dir(config, spec.name)
    again = requeued(out)
    ckpt = _check_run_dir(out, config, again)
    config = replace(config, out=str(out))  # config.yaml names the folder it resumes in
    return Plan(config, spec, accelerator, devices, out, ckpt, again, memory)


def check_data(plan: Plan, data: DataModule) -> None:
    """Load ``data`` now; refuse labels the spec has no class for, a dataset that does not
    fit the memory with the network, and a split that gives a rank less than one batch."""
    data.load(check=lambda dataset: _check_dataset(plan, dataset))
    check_batches(data.train_samples, plan.config.batch_size, plan.ranks)
    check_epoch_limits(
        plan.config, batches_per_rank(data.train_samples, plan.config.batch_size, plan.ranks)
    )


def _check_dataset(plan: Plan, dataset: Dataset) -> None:
    """The dataset as loaded, before its samples are put on the network's input canvas."""
    spec = plan.spec
    if spec.classes is not None and spec.classes < dataset.classes:
        raise ConvzooError(
            f"{spec.name} has classes: {spec.classes}, but the dataset {dataset.name!r} has "
            f"{dataset.classes} classes (labels 0 to {dataset.classes - 1}); set classes: "
            f"{dataset.classes} in the spec, or train it on data with at most {spec.classes}"
        )
    c, size = plan.config, dataset.train_x.element_size()
    samples = len(dataset.train_y) + len(dataset.test_y)
    on_canvas = data_bytes(samples, spec.input, size, plan.accelerator, c.resident)
    _check_total(spec, plan.memory, c.batch_size, plan.accelerator, c.memory_limit, on_canvas)


# -- names and devices -------------------------------------------------------------------


def check_logger(config: TrainConfig) -> None:
    """``--logger-project`` and ``--logger-name`` name a W&B project and run: refused with
    another logger, which has neither."""
    if config.logger != "wandb" and (config.logger_project or config.logger_name):
        raise ConvzooError(
            "--logger-project and --logger-name name a Weights & Biases project and run; "
            f"use them with --logger wandb (this run logs to {config.logger})"
        )


def _resolve_accelerator(config: TrainConfig) -> tuple[str, int]:
    """The accelerator ``auto`` stands for, and the devices, which the machine must have."""
    accelerator = config.accelerator
    if accelerator == "auto":
        accelerator = "gpu" if torch.cuda.is_available() else "cpu"
    if accelerator == "gpu":
        available = torch.cuda.device_count()
        if config.devices > available:
            raise ConvzooError(
                f"--devices {config.devices} asks for more GPUs than this machine has "
                f"({available}); use --devices {max(available, 1)}"
                + ("" if available else " --accelerator cpu")
            )
    elif config.devices > (os.cpu_count() or 1):
        raise ConvzooError(
            f"--devices {config.devices} asks for more CPU processes than this machine has "
            f"cores ({os.cpu_count()})"
        )
    return accelerator, config.devices


def _check_launcher(num_nodes: int, devices: int) -> None:
    """Refuse a launch whose process count is not ``num_nodes x devices`` before the run
    touches its directory; Lightning checks the same only once the Trainer is built."""
    env = environment()
    if env is not None:
        env.validate_settings(devices, num_nodes)
    elif num_nodes > 1:
        raise ConvzooError(
            f"--num-nodes {num_nodes}: a run over several machines is started on each of them "
            "by torchrun or srun, and none started this one (it would wait for the other "
            "nodes forever); see the README's section Several machines, or drop --num-nodes"
        )


# -- memory ------------------------------------------------------------------------------


def estimate(spec: Spec, batch_size: int) -> tuple[int, int]:
    """Bytes for the parameters (with gradients and optimizer state) and for the activations."""
    model = build_meta(spec)
    params = sum(p.numel() for p in model.parameters())
    outputs = sum(math.prod(r.out_shape) for r in model.rows if r.out_shape is not None)
    return 4 * params * BYTES, 2 * outputs * batch_size * BYTES


def data_bytes(
    samples: int, shape: Sequence[int], size: int, accelerator: str, resident: bool
) -> int:
    """Bytes of ``samples`` on the input canvas ``shape`` (``size`` bytes a value) where they
    count against the run's memory: on the CPU twice (the canvas, and the standardized
    splits made from it), on a GPU once when the data is resident there (else not at all:
    it stays on the host)."""
    copies = 2 if accelerator == "cpu" else int(resident)
    return copies * samples * math.prod(shape) * size


def check_fits(
    spec: Spec, batch_size: int, accelerator: str, limit_gib: float | None
) -> tuple[int, int]:
    """Refuse a run whose network's estimate exceeds ``limit_gib`` (default: the free
    memory); the estimate, for ``check_data`` to add the dataset to."""
    memory = estimate(spec, batch_size)
    _check_total(spec, memory, batch_size, accelerator, limit_gib)
    return memory


def _check_total(
    spec: Spec,
    memory: tuple[int, int],
    batch_size: int,
    accelerator: str,
    limit_gib: float | None,
    dataset: int = 0,
) -> None:
    """Refuse the network's ``memory`` (parameters, activations) and ``dataset`` bytes when
    they exceed ``limit_gib`` or the free memory."""
    params, activations = memory
    limit = free_bytes(accelerator) if limit_gib is None else int(limit_gib * GIB)
    if limit is None or params + activations + dataset <= limit:
        return
    where = "set by --memory-limit" if limit_gib is not None else f"free on the {accelerator}"
    data = f"; {dataset / GIB:,.2f} GiB of data on the input canvas {list(spec.input)}"
    smaller = "the network, its input canvas" if dataset else "the network"
    raise ConvzooError(
        f"{spec.name} needs about {(params + activations + dataset) / GIB:,.1f} GiB "
        f"({params / GIB:,.2f} GiB for parameters, gradients and optimizer state; "
        f"{activations / GIB:,.2f} GiB of activations at batch size {batch_size}"
        f"{data if dataset else ''}), but {limit / GIB:,.1f} GiB are {where}. Make "
        f"{smaller} or --batch-size smaller, or raise --memory-limit GIB if the estimate is "
        "too cautious"
    )


# -- the run directory ---------------------------------------------------------------------


def _check_run_dir(out: Path, config: TrainConfig, again: bool) -> Path | None:
    """The checkpoint a resume continues (None for a new run, or for the run a requeued job,
    ``again``, had ended), which must keep its plan."""
    if again and (out / REPORT).exists():
        return None
    resume = config.resume or again
    if resume and (out / REPORT).exists():
        raise ConvzooError(
            f"--resume: {out} holds a run that has ended ({REPORT}); there is nothing to "
            "resume. Choose another --out to train again"
        )
    if resume:
        ckpt = last_checkpoint(out)
        if ckpt is None:
            raise ConvzooError(
                f"--resume: {out} holds no checkpoint to continue (looked for "
                f"{out / CHECKPOINT}); start the run without --resume"
            )
        planned = read_checkpoint(ckpt).get("convzoo", {})  # a corrupt file fails here
        _check_schedule_kept(out, planned, config)
        _check_config_kept(out, planned, config)
        return ckpt
    if (out / REPORT).exists():
        raise ConvzooError(
            f"{out} already holds a finished run ({REPORT}); choose another --out "
            "or delete that directory"
        )
    if last_checkpoint(out) is not None:
        raise ConvzooError(
            f"{out} holds an unfinished run; continue it with --resume or choose another --out"
        )
    check_snapshots(out)
    return None


def _check_schedule_kept(out: Path, planned: dict[str, Any], config: TrainConfig) -> None:
    """A resumed run continues the learning-rate schedule its checkpoint was laid out for."""
    schedule = planned.get("schedule", config.schedule)
    if schedule != config.schedule:
        raise ConvzooError(
            f"--resume: the run in {out} was trained with the {schedule} schedule; resume with "
            f"--schedule {schedule}"
        )
    if schedule in WHOLE_RUN and planned.get("epochs") != config.epochs:
        raise ConvzooError(
            f"--resume: the run in {out} was planned for {planned.get('epochs')} epochs and "
            f"its {schedule} schedule is laid out for them; resume with "
            f"--epochs {planned.get('epochs')}"
        )
    if schedule == "exponential" and planned.get("lr_decay", config.lr_decay) != config.lr_decay:
        raise ConvzooError(
            f"--resume: the run in {out} decays its learning rate by {planned['lr_decay']} an "
            f"epoch; resume with --lr-decay {planned['lr_decay']}"
        )


def _check_config_kept(out: Path, planned: dict[str, Any], config: TrainConfig) -> None:
    """A resumed run has the settings its checkpoint was made with, but for those that say
    where and how it runs (``RUNTIME``): ``config.yaml`` is the user's to edit or delete, and
    only a checkpoint written before convzoo kept the settings in it is held to that file."""
    before, source = planned.get("config"), f"{out / CHECKPOINT}"
    if before is None and (out / CONFIG).is_file():
        before, source = read_yaml(out / CONFIG, f"the run's {CONFIG}"), f"{out / CONFIG}"
    if before is None:
        return
    if not isinstance(before, dict):
        raise ConvzooError(
            f"--resume: {source} holds no mapping of settings, as a run writes it; "
            "restore the file the run wrote"
        )
    for name, value in saved(config).items():
        if name not in RUNTIME and name in before and before[name] != value:
            raise ConvzooError(
                f"--resume: the run in {out} was made with {name} = {before[name]!r} (as "
                f"{source} records), and this command gives {value!r}; resume it with "
                f"{name} = {before[name]!r}, or train anew in another --out"
            )


# -- the data ------------------------------------------------------------------------------


def check_batches(samples: int, batch_size: int, ranks: int) -> None:
    """Refuse a run whose ranks would get less than one whole batch each per epoch."""
    if batches_per_rank(samples, batch_size, ranks) >= 1:
        return
    share = samples // ranks
    over = f" over {ranks} processes" if ranks > 1 else ""
    fix = f"--batch-size {max(1, share)} or less"
    if ranks > 1:
        fix += f", or fewer processes (--devices x --num-nodes; one takes all {samples} samples)"
    raise ConvzooError(
        f"the training split has {samples} samples{over}: {share} per process, fewer than "
        f"one batch of {batch_size}, so no step would be taken and nothing trained. "
        f"Use {fix}"
    )


def check_epoch_limits(config: TrainConfig, batches: int) -> None:
    """Refuse Trainer arguments that leave an epoch of ``batches`` training batches (one a
    call, as these arguments make it) none, or that validate less often than the epoch they
    leave ends: Lightning refuses both only once the fit has begun, with a traceback."""
    given = config.trainer
    if given.get("fast_dev_run"):
        return  # it sets every limit and interval itself
    name = "overfit_batches" if given.get("overfit_batches") else "limit_train_batches"
    limit = given.get(name)
    kept = min(batches, limit) if is_int(limit) else batches
    if isinstance(limit, float):
        kept = int(batches * limit)
    if kept < 1:
        raise ConvzooError(
            f"--trainer.{name} {limit}: that share of the {batches} training batches of an "
            f"epoch is less than one batch, so nothing would be trained; give a share of at "
            f"least 1/{batches} or a count of batches (--trainer.{name} 1)"
        )
    interval = given.get("val_check_interval")
    by_epoch = given.get("check_val_every_n_epoch", 1) is not None
    validates = config.val_fraction > 0 and given.get("limit_val_batches", 1.0) != 0
    if is_int(interval) and interval > kept and by_epoch and validates:
        raise ConvzooError(
            f"--trainer.val_check_interval {interval} validates every {interval} training "
            f"batches, and an epoch of this run has {kept}; use at most {kept}, or count them "
            "across epochs with --trainer.check_val_every_n_epoch null"
        )
