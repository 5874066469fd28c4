"""``train(config)``: one training run from a spec and a dataset to a report.

Everything a user can get wrong -- an unknown data name, a data dir without the
files, a spec whose input does not fit the data, more devices than there are, a
run directory that already holds a finished run, ``resume`` with nothing to
resume -- is checked before the first step and raised as one ``ConvzooError``.
A run writes its logs and checkpoints under its directory and, only when it has
finished, ``report.json`` and ``report.md`` (each written to a temporary file and
renamed), so a crashed run never looks finished.
"""

from __future__ import annotations

import os
import platform
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

import convzoo
from convzoo.assemble import apply_swaps
from convzoo.data import DATASETS, DataModule
from convzoo.errors import ConvzooError
from convzoo.io import write_atomic, write_json
from convzoo.spec import Spec, load_spec
from convzoo.summary import summary
from convzoo.train.checkpoint import read_checkpoint
from convzoo.train.config import LOGGERS, TrainConfig
from convzoo.train.module import ConvzooModule
from convzoo.train.progress import Throughput, progress_callbacks, quiet_lightning
from convzoo.train.rundir import CHECKPOINT, REPORT


class RunInterrupted(ConvzooError):
    """Training stopped by the user (Ctrl-C) before its last epoch; it can be resumed."""


# -- checks before anything runs ---------------------------------------------------------


def _resolve_accelerator(config: TrainConfig) -> tuple[str, int]:
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


def _precision(config: TrainConfig, accelerator: str) -> str:
    if config.precision != "auto":
        return config.precision
    if accelerator == "gpu" and torch.cuda.is_bf16_supported():
        return "bf16-mixed"
    return "32-true"


def run_dir(config: TrainConfig, arch_name: str) -> Path:
    """``--out``, or ``runs/ARCH-DATA-TIMESTAMP``."""
    if config.out:
        return Path(config.out)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{arch_name}-{config.data}-{stamp}"


def last_checkpoint(out: Path) -> Path | None:
    """The checkpoint ``--resume`` continues: ``checkpoints/last.ckpt``."""
    path = out / CHECKPOINT
    return path if path.is_file() else None


def _check_run_dir(out: Path, resume: bool, epochs: int) -> Path | None:
    if resume:
        ckpt = last_checkpoint(out)
        if ckpt is None:
            raise ConvzooError(
                f"--resume: {out} holds no checkpoint to continue (looked for "
                f"{out / CHECKPOINT}); start the run without --resume"
            )
        planned = read_checkpoint(ckpt).get("convzoo", {})  # a corrupt file fails here
        if planned.get("schedule", "constant") != "constant" and planned.get("epochs") != epochs:
            raise ConvzooError(
                f"--resume: the run in {out} was planned for {planned.get('epochs')} epochs and "
                f"its {planned['schedule']} schedule is laid out for them; resume with "
                f"--epochs {planned.get('epochs')}"
            )
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
    return None


def _log_version(out: Path, base: str) -> str:
    """``base`` for a new run; ``base-2``, ``base-3``... for each resumed part, so no
    part of a resumed run's log is overwritten."""
    if not (out / base).exists():
        return base
    n = 2
    while (out / f"{base}-{n}").exists():
        n += 1
    return f"{base}-{n}"


def _make_logger(name: str, out: Path) -> Any:
    if name == "csv":
        from lightning.pytorch.loggers import CSVLogger

        return CSVLogger(str(out), name="", version=_log_version(out, "logs"))
    if name == "tensorboard":
        from lightning.pytorch.loggers import TensorBoardLogger

        try:
            return TensorBoardLogger(str(out), name="", version=_log_version(out, "tensorboard"))
        except ModuleNotFoundError as exc:
            raise ConvzooError("--logger tensorboard needs: pip install tensorboard") from exc
    if name == "wandb":
        try:
            import wandb  # noqa: F401
        except ImportError as exc:
            raise ConvzooError("--logger wandb needs: pip install 'convzoo[wandb]'") from exc
        from lightning.pytorch.loggers import WandbLogger

        offline = not os.environ.get("WANDB_API_KEY")
        return WandbLogger(save_dir=str(out), offline=offline, project="convzoo")
    raise ConvzooError(f"unknown logger {name!r}; use one of {', '.join(LOGGERS)}")


# -- the run -----------------------------------------------------------------------------


def report_markdown(report: dict[str, Any]) -> str:
    """The report as a Markdown table."""
    rows = [
        ("architecture", report["arch"]),
        ("data", report["data"]),
        ("test accuracy", f"{100 * report['test_acc']:.2f}%"),
        ("parameters", f"{report['params']:,}"),
        ("FLOPs per sample", f"{report['flops']:,}"),
        ("epochs", str(report["epochs"])),
        ("train time", f"{report['train_seconds']:.1f} s"),
        ("images/s", f"{report['images_per_s']:,.0f}"),
        ("device(s)", report["devices"]),
    ]
    lines = [f"# {report['arch']} on {report['data']}", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in rows]
    return "\n".join(lines) + "\n"


def _device_label(accelerator: str, devices: int) -> str:
    if accelerator == "gpu":
        return f"{devices} x {torch.cuda.get_device_name(0)}"
    return f"{devices} x CPU ({platform.machine()}, {torch.get_num_threads()} threads)"


@dataclass
class _Run:
    """What the steps of ``train`` hand on: the spec, where it runs and where it writes."""

    config: TrainConfig
    spec: Spec
    accelerator: str
    devices: int
    out: Path
    ckpt: Path | None


def _plan(config: TrainConfig) -> _Run:
    """Every check that needs no data: names, devices, the run directory."""
    spec = apply_swaps(load_spec(config.arch), config.swap)
    DATASETS.get("data", config.data)
    accelerator, devices = _resolve_accelerator(config)
    out = run_dir(config, spec.name)
    return _Run(
        config, spec, accelerator, devices, out, _check_run_dir(out, config.resume, config.epochs)
    )


def _datamodule(run: _Run) -> DataModule:
    """The data, loaded now: missing or corrupt files and a shape mismatch fail before any step."""
    c = run.config
    datamodule = DataModule(
        c.data,
        tuple(run.spec.input),
        c.data_dir,
        batch_size=c.batch_size,
        val_fraction=c.val_fraction,
        seed=c.seed,
        translate=c.translate,
        scale=tuple(c.scale) if c.scale else None,
        flip=c.flip,
        resident=c.resident,
        permute=c.permute,
    )
    datamodule.load()
    return datamodule


def _module(run: _Run) -> ConvzooModule:
    c = run.config
    L.seed_everything(c.seed, workers=True, verbose=False)
    return ConvzooModule(
        run.spec.to_dict(),
        optimizer=c.optimizer,
        lr=c.lr,
        momentum=c.momentum,
        weight_decay=c.weight_decay,
        schedule=c.schedule,
        label_smoothing=c.label_smoothing,
        channels_last=c.channels_last,
        compile=c.compile,
    )


def _trainer(run: _Run, throughput: Throughput) -> L.Trainer:
    c = run.config
    run.out.mkdir(parents=True, exist_ok=True)
    last = ModelCheckpoint(
        dirpath=run.out / "checkpoints", filename="last", save_top_k=1, enable_version_counter=False
    )
    shown, bar = progress_callbacks(throughput, c.progress)
    return L.Trainer(
        max_epochs=c.epochs,
        accelerator=run.accelerator,
        devices=run.devices,
        strategy=c.strategy,
        precision=_precision(c, run.accelerator),
        logger=_make_logger(c.logger, run.out),
        callbacks=[last, throughput, *shown],
        enable_progress_bar=bar,
        enable_model_summary=False,
        log_every_n_steps=10,
        default_root_dir=str(run.out),
        gradient_clip_val=c.grad_clip,
    )


def _fit(run: _Run, trainer: L.Trainer, module: ConvzooModule, data: DataModule) -> None:
    """``trainer.fit``; a Ctrl-C ends as ``RunInterrupted``, which says how to resume."""
    try:
        trainer.fit(module, datamodule=data, ckpt_path=run.ckpt, weights_only=True)
    except SystemExit:  # Lightning exits after a graceful shutdown on Ctrl-C
        if not trainer.interrupted:
            raise
    if trainer.interrupted:
        raise RunInterrupted(
            f"training was interrupted after {trainer.current_epoch} epoch(s); no report was "
            f"written. Continue it with: convzoo train ... --out {run.out} --resume"
        )


def _report(
    run: _Run, trainer: L.Trainer, tested: dict[str, Any], throughput: Throughput
) -> dict[str, Any]:
    table = summary(run.spec)
    return {
        "arch": run.spec.name,
        "data": run.config.data,
        "test_acc": float(tested["test_acc"]),
        "test_loss": float(tested["test_loss"]),
        "params": table.params,
        "flops": table.flops,
        "epochs": trainer.current_epoch,
        "train_seconds": throughput.seconds,
        "images_per_s": throughput.images / max(throughput.seconds, 1e-9),
        "devices": _device_label(run.accelerator, run.devices * trainer.num_nodes),
        "world_size": trainer.world_size,
        "precision": str(trainer.precision),
        "seed": run.config.seed,
        "spec": run.spec.to_dict(),
        "config": {k: v for k, v in asdict(run.config).items() if k != "progress"},
        "versions": {
            "torch": torch.__version__,
            "lightning": L.__version__,
            "convzoo": convzoo.__version__,
        },
        "checkpoint": str(run.out / CHECKPOINT),
        "run_dir": str(run.out),
    }


def train(config: TrainConfig) -> dict[str, Any]:
    """Train, test and report; returns the report (also written under the run directory)."""
    run = _plan(config)
    data = _datamodule(run)
    module = _module(run)
    throughput = Throughput()
    with quiet_lightning(config.verbose):
        trainer = _trainer(run, throughput)
        _fit(run, trainer, module, data)
        tested = trainer.test(module, datamodule=data, verbose=False)[0]
    report = _report(run, trainer, tested, throughput)
    if trainer.is_global_zero:
        write_atomic(run.out / "report.md", report_markdown(report))
        write_json(run.out / REPORT, report)
    return report
