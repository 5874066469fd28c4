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
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint, TQDMProgressBar

import convzoo
from convzoo.assemble import apply_swaps
from convzoo.data import DATASETS, DataModule
from convzoo.errors import ConvzooError
from convzoo.io import write_atomic, write_json
from convzoo.spec import load_spec
from convzoo.summary import summary
from convzoo.train.checkpoint import read_checkpoint
from convzoo.train.module import ConvzooModule
from convzoo.train.rundir import CHECKPOINT, REPORT

LOGGERS = ("csv", "tensorboard", "wandb")


@dataclass
class TrainConfig:
    """The settings of one run; ``convzoo train`` flags and ``--config`` keys by the same names."""

    arch: str
    data: str = "fashion_mnist"
    data_dir: str | None = None
    epochs: int = 5
    batch_size: int = 256
    lr: float = 0.1
    optimizer: str = "sgd"
    schedule: str = "onecycle"
    momentum: float = 0.9
    weight_decay: float = 5e-4
    label_smoothing: float = 0.0
    grad_clip: float | None = None
    swap: dict[str, str] = field(default_factory=dict)
    devices: int = 1
    strategy: str = "auto"
    accelerator: str = "auto"
    precision: str = "auto"
    compile: bool = False
    channels_last: bool = False
    logger: str = "csv"
    seed: int = 0
    out: str | None = None
    resume: bool = False
    translate: int = 0
    scale: tuple[float, float] | None = None
    flip: bool = False
    permute: int | None = None
    val_fraction: float = 0.1
    resident: bool = True
    progress: bool = True


class RunInterrupted(ConvzooError):
    """Training stopped by the user (Ctrl-C) before its last epoch; it can be resumed."""


class Throughput(Callback):
    """Training time and images per second over all ranks; validation time is left out."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.images = 0
        self._start = 0.0
        self._validation_start = 0.0
        self._epoch_images = 0

    def on_train_epoch_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self._sync(module)
        self._epoch_images = 0
        self._start = time.perf_counter()

    def on_train_batch_end(self, trainer: L.Trainer, module: L.LightningModule, outputs: Any,
                           batch: Any, batch_idx: int) -> None:  # fmt: skip
        self._epoch_images += len(batch[1]) * trainer.world_size

    def on_validation_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.training:
            return
        self._sync(module)
        self._validation_start = time.perf_counter()

    def on_validation_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.training:
            return
        self._sync(module)
        self._start += time.perf_counter() - self._validation_start

    def on_train_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self._sync(module)
        elapsed = time.perf_counter() - self._start
        self.seconds += elapsed
        self.images += self._epoch_images
        module.log("images_per_s", self._epoch_images / max(elapsed, 1e-9), prog_bar=True)

    def running_rate(self) -> float:
        """Images per second so far in the current epoch."""
        elapsed = time.perf_counter() - self._start
        return self._epoch_images / elapsed if elapsed > 0 else 0.0

    @staticmethod
    def _sync(module: L.LightningModule) -> None:
        if module.device.type == "cuda":
            torch.cuda.synchronize(module.device)


class Progress(TQDMProgressBar):
    """Lightning's bar with the running images/s of the current epoch."""

    def __init__(self, throughput: Throughput) -> None:
        super().__init__(refresh_rate=10)
        self.throughput = throughput

    def get_metrics(self, trainer: L.Trainer, module: L.LightningModule) -> dict[str, Any]:
        metrics = super().get_metrics(trainer, module)
        metrics.pop("v_num", None)
        metrics.pop("images_per_s", None)
        if trainer.training:
            metrics["img/s"] = f"{self.throughput.running_rate():,.0f}"
        return metrics


# -- checks before anything runs ---------------------------------------------------------


def _resolve_accelerator(config: TrainConfig) -> tuple[str, int]:
    accelerator = config.accelerator
    if accelerator not in ("auto", "cpu", "gpu", "cuda"):
        raise ConvzooError(f"--accelerator {accelerator!r}: use auto, cpu or gpu")
    if accelerator == "auto":
        accelerator = "gpu" if torch.cuda.is_available() else "cpu"
    if config.devices < 1:
        raise ConvzooError(f"--devices {config.devices}: give a positive number")
    if accelerator in ("gpu", "cuda"):
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
    return ("gpu" if accelerator == "cuda" else accelerator), config.devices


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
    raise ConvzooError(f"unknown --logger {name!r}; use one of {', '.join(LOGGERS)}")


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


def train(config: TrainConfig) -> dict[str, Any]:
    """Train, test and report; returns the report (also written under the run directory)."""
    spec = apply_swaps(load_spec(config.arch), config.swap)
    DATASETS.get("data", config.data)
    if config.logger not in LOGGERS:
        raise ConvzooError(f"unknown --logger {config.logger!r}; use one of {', '.join(LOGGERS)}")
    accelerator, devices = _resolve_accelerator(config)
    out = run_dir(config, spec.name)
    ckpt = _check_run_dir(out, config.resume, config.epochs)
    datamodule = DataModule(
        config.data, tuple(spec.input), config.data_dir, batch_size=config.batch_size,
        val_fraction=config.val_fraction, seed=config.seed, translate=config.translate,
        scale=tuple(config.scale) if config.scale else None, flip=config.flip,
        resident=config.resident, permute=config.permute,
    )  # fmt: skip
    datamodule.load()  # missing or corrupt files, shape mismatch: fail before any step
    L.seed_everything(config.seed, workers=True, verbose=False)
    module = ConvzooModule(
        spec.to_dict(), optimizer=config.optimizer, lr=config.lr, momentum=config.momentum,
        weight_decay=config.weight_decay, schedule=config.schedule,
        label_smoothing=config.label_smoothing, channels_last=config.channels_last,
        compile=config.compile,
    )  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    throughput = Throughput()
    last = ModelCheckpoint(
        dirpath=out / "checkpoints", filename="last", save_top_k=1, enable_version_counter=False
    )
    callbacks: list[Callback] = [last, throughput]
    if config.progress:
        callbacks.append(Progress(throughput))
    trainer = L.Trainer(
        max_epochs=config.epochs, accelerator=accelerator, devices=devices,
        strategy=config.strategy, precision=_precision(config, accelerator),
        logger=_make_logger(config.logger, out), callbacks=callbacks,
        enable_progress_bar=config.progress, enable_model_summary=False,
        log_every_n_steps=10, default_root_dir=str(out), gradient_clip_val=config.grad_clip,
    )  # fmt: skip
    try:
        trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt, weights_only=True)
    except SystemExit:  # Lightning exits after a graceful shutdown on Ctrl-C
        if not trainer.interrupted:
            raise
    if trainer.interrupted:
        raise RunInterrupted(
            f"training was interrupted after {trainer.current_epoch} epoch(s); no report was "
            f"written. Continue it with: convzoo train ... --out {out} --resume"
        )
    tested = trainer.test(module, datamodule=datamodule, verbose=False)
    table = summary(spec)
    report = {
        "arch": spec.name,
        "data": config.data,
        "test_acc": float(tested[0]["test_acc"]),
        "test_loss": float(tested[0]["test_loss"]),
        "params": table.params,
        "flops": table.flops,
        "epochs": trainer.current_epoch,
        "train_seconds": throughput.seconds,
        "images_per_s": throughput.images / max(throughput.seconds, 1e-9),
        "devices": _device_label(accelerator, devices * trainer.num_nodes),
        "world_size": trainer.world_size,
        "precision": str(trainer.precision),
        "seed": config.seed,
        "spec": spec.to_dict(),
        "config": {k: v for k, v in asdict(config).items() if k != "progress"},
        "versions": {
            "torch": torch.__version__,
            "lightning": L.__version__,
            "convzoo": convzoo.__version__,
        },
        "checkpoint": str(out / CHECKPOINT),
        "run_dir": str(out),
    }
    if trainer.is_global_zero:
        write_atomic(out / "report.md", report_markdown(report))
        write_json(out / REPORT, report)
    return report
