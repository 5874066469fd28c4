"""What a run logs while it trains, and the report it writes when it has ended.

Logs: a run's metrics go to CSV (the default), TensorBoard, or Weights & Biases.
Each resumed part of a run logs into a folder of its own (``logs``, ``logs-2``,
...), so no part's log is overwritten. W&B runs offline unless ``WANDB_API_KEY``
is set, in the project ``--logger-project`` (else ``WANDB_PROJECT``, else
``convzoo``) as the run ``--logger-name`` (else ``WANDB_NAME``); a logger whose
package is missing says what to install. Every logger gets the run's settings as
hyperparameters (``log_settings``), so a run can be told from another in any of
them, the learning rate at every logged step (``learning_rate_monitor``), which
the CSV log otherwise lacks, and ``hp_metric``, the test accuracy (``HpMetric``).

The report: what the run measured, how big the net is, where it ran, with what.
``report.json`` (strict JSON) and ``report.md`` are written only when a run has
finished -- or has diverged, in which case the report says so (``status``), at
which step and with what learning rate, and carries no test accuracy. The report says
how many test images the test scored (``TestCount``); a test that Lightning's
``limit_test_batches`` or ``fast_dev_run`` cut short carries no test accuracy either,
only the accuracy on those images (``partial_test_acc``).
``read_report`` reads it back, for ``evaluate`` and ``scan``: it says which dataset
and which data settings the run used.
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Mapping
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, LearningRateMonitor
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

from convzoo.data.prepared import RECORDED
from convzoo.errors import ConvzooError, install_hint
from convzoo.files import read_bounded, write_atomic, write_json
from convzoo.spec import Spec
from convzoo.summary import summary
from convzoo.train.checkpoint import CHECKPOINT, REPORT
from convzoo.train.config import LOGGERS, TrainConfig, problem
from convzoo.version import VERSION, code_fingerprint

# -- the logs --------------------------------------------------------------------------------

WANDB_PROJECT = "convzoo"  # when WANDB_PROJECT is not set

CODE = code_fingerprint()  # the source this process loaded, not what is on disk later


def _log_version(out: Path, base: str) -> str:
    """``base`` for a new run; ``base-2``, ``base-3``... for each resumed part, so no
    part of a resumed run's log is overwritten."""
    if not (out / base).exists():
        return base
    n = 2
    while (out / f"{base}-{n}").exists():
        n += 1
    return f"{base}-{n}"


def make_logger(
    name: str, out: Path, project: str | None = None, run_name: str | None = None
) -> Any:
    """The Lightning logger ``name`` writing under ``out``; for W&B, in ``project`` (else
    ``$WANDB_PROJECT``, else convzoo) as the run ``run_name`` (else ``$WANDB_NAME``)."""
    if name == "csv":
        return CSVLogger(str(out), name="", version=_log_version(out, "logs"))
    if name == "tensorboard":
        try:
            return TensorBoardLogger(
                str(out), name="", version=_log_version(out, "tensorboard"), default_hp_metric=False
            )
        except ModuleNotFoundError as exc:
            raise ConvzooError(
                f"--logger tensorboard needs: {install_hint('tensorboard')}"
            ) from exc
    if name == "wandb":
        try:
            import wandb  # noqa: F401
        except ImportError as exc:
            raise ConvzooError(f"--logger wandb needs: {install_hint('wandb')}") from exc
        from lightning.pytorch.loggers import WandbLogger

        offline = not os.environ.get("WANDB_API_KEY")
        project = project or os.environ.get("WANDB_PROJECT") or WANDB_PROJECT
        run_name = run_name or os.environ.get("WANDB_NAME")
        return WandbLogger(save_dir=str(out), offline=offline, project=project, name=run_name)
    raise ConvzooError(f"unknown logger {name!r}; use one of {', '.join(LOGGERS)}")


def _loggable(value: Any) -> Any:
    """``value`` as data every logger stores and a safe YAML loader reads back: tuples as
    lists, paths as strings."""
    if isinstance(value, Mapping):
        return {str(k): _loggable(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_loggable(v) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


def run_settings(config: TrainConfig, trainer: L.Trainer) -> dict[str, Any]:
    """Every setting of the run as plain data: ``config``'s fields, with the accelerator,
    devices and precision that ``trainer`` resolved ``auto`` to, and its number of nodes."""
    settings = {f.name: _loggable(getattr(config, f.name)) for f in fields(config)}
    device = trainer.strategy.root_device.type
    settings.update(
        accelerator="gpu" if device == "cuda" else device,
        devices=trainer.num_devices,
        num_nodes=trainer.num_nodes,
        precision=str(trainer.precision),
    )
    return settings


def log_settings(trainer: L.Trainer, config: TrainConfig) -> dict[str, Any]:
    """Log ``run_settings`` as hyperparameters to every logger of ``trainer``; returns them."""
    settings = run_settings(config, trainer)
    for logger in trainer.loggers:
        logger.log_hyperparams(settings)
    return settings


def learning_rate_monitor() -> LearningRateMonitor:
    """Lightning's callback that logs each optimizer's learning rate (``lr-SGD``, one column
    per parameter group) at every logged step."""
    return LearningRateMonitor(logging_interval="step")


class TestCount(Callback):
    """How much of the test split the test scored: its images over every rank (``images``),
    of the split's ``split_images`` (``fit`` says), and whether it scored every batch
    (``whole``). ``limit_test_batches`` and ``fast_dev_run`` cut a test short, and the
    accuracy of part of the test split is not the test accuracy."""

    __test__ = False  # not a test class, whatever pytest makes of the name

    def __init__(self) -> None:
        self.images, self.split_images, self.whole = 0, 0, True
        self._seen = 0

    def on_test_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._seen = 0

    def on_test_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        self._seen += len(batch[1])

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        seen = torch.tensor(self._seen, device=pl_module.device)
        self.images = int(trainer.strategy.reduce(seen, reduce_op="sum"))
        loaders = trainer.test_dataloaders
        loaders = loaders if isinstance(loaders, (list, tuple)) else [loaders]
        self.whole = all(
            scored >= len(loader) for scored, loader in zip(trainer.num_test_batches, loaders)
        )


class HpMetric(Callback):
    """``hp_metric``, the number TensorBoard's HPARAMS tab ranks runs by, is the test
    accuracy, logged when testing ends (Lightning's placeholder, -1, is switched off):
    with the settings as TensorBoard's hyperparameters, as a metric for the others. A test
    cut short (``count``, which must end before this) has no test accuracy to log."""

    def __init__(self, settings: dict[str, Any], count: TestCount) -> None:
        self.settings, self.count = settings, count

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        accuracy = trainer.callback_metrics.get("test_acc")
        if accuracy is None or not self.count.whole:
            return
        metric = {"hp_metric": float(accuracy)}
        for logger in trainer.loggers:
            if isinstance(logger, TensorBoardLogger):
                logger.log_hyperparams(self.settings, metrics=metric)
            else:
                logger.log_metrics(metric, step=trainer.global_step)


# -- the report ------------------------------------------------------------------------------


def report_markdown(report: dict[str, Any]) -> str:
    """The report as a Markdown table."""
    if report.get("status") == "diverged":
        rows = [
            ("architecture", report["arch"]),
            ("data", report["data"]),
            ("status", f"diverged at step {report['diverged_at_step']:,}"),
            ("learning rate then", f"{report['lr_at_divergence']:.4g}"),
            ("parameters", f"{report['params']:,}"),
            ("epochs finished", str(report["epochs"])),
        ]
    else:
        rows = [
            ("architecture", report["arch"]),
            ("data", report["data"]),
            *_test_rows(report),
            ("parameters", f"{report['params']:,}"),
            ("FLOPs per sample", f"{report['flops']:,}"),
            ("epochs", str(report["epochs"])),
            ("train time", duration(report["train_seconds"])),
            ("images/s", f"{report['images_per_s']:,.0f}"),
            ("device(s)", report["devices"]),
        ]
        if report.get("first_call_seconds") is not None:
            compiled = report.get("config", {}).get("compile")
            held = "compilation and warm-up" if compiled else "warm-up"
            rows.insert(
                -2,
                (
                    "first training call",
                    f"{duration(report['first_call_seconds'])} ({held}, part of the train time)",
                ),
            )
    origins = report.get("settings_from", {})
    for origin, label in (
        ("recipe", "from the recipe"),
        ("config", "from --config"),
        ("flag", "from flags"),
    ):
        names = [name for name, came in origins.items() if came == origin]
        if names:
            rows.append((f"settings {label}", ", ".join(names)))
    lines = [f"# {report['arch']} on {report['data']}", "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in rows]
    return "\n".join(lines) + "\n"


def _test_rows(report: dict[str, Any]) -> list[tuple[str, str]]:
    """The test accuracy and the images it covers; a test cut short has none, only the
    accuracy on the images it scored. A report written before convzoo counted the images
    shows the accuracy alone."""
    images, split = report.get("test_images"), report.get("test_split_images")
    if report.get("test_acc") is not None:
        covered = f" ({images:,} test images)" if images is not None else ""
        return [("test accuracy", f"{100 * report['test_acc']:.2f}%{covered}")]
    return [
        ("test accuracy", f"none: the test was cut short ({images:,} of {split:,} images)"),
        (f"accuracy on those {images:,}", f"{100 * report['partial_test_acc']:.2f}%"),
    ]


def duration(value: float) -> str:
    """A duration in seconds, to three significant digits (``0.00412 s``, ``12.3 s``,
    ``1,234 s``): a short run's time is not rounded to nothing."""
    if value >= 1000:
        return f"{value:,.0f} s"
    return f"{value:.3g} s"


def device_label(accelerator: str, devices: int) -> str:
    """``2 x NVIDIA H200`` or ``1 x CPU (x86_64, 2 threads)``."""
    if accelerator == "gpu":
        return f"{devices} x {torch.cuda.get_device_name(0)}"
    return f"{devices} x CPU ({platform.machine()}, {torch.get_num_threads()} threads)"


def _common(config: TrainConfig, spec: Spec, out: Path) -> dict[str, Any]:
    table = summary(spec)
    return {
        "arch": spec.name,
        "data": config.data,
        "params": table.params,
        "flops": table.flops,
        "seed": config.seed,
        "spec": spec.to_dict(),
        "config": {k: v for k, v in asdict(config).items() if k != "progress"},
        "versions": {
            "torch": torch.__version__,
            "lightning": L.__version__,
            "convzoo": VERSION,
            "code": CODE,
        },
        "checkpoint": str(out / CHECKPOINT),
        "run_dir": str(out),
    }


def finished(
    config: TrainConfig,
    spec: Spec,
    out: Path,
    trainer: L.Trainer,
    tested: dict[str, Any],
    seconds: float,
    images: int,
    devices: str,
    count: TestCount,
    first_call: float | None = None,
) -> dict[str, Any]:
    """The report of a finished run; time and images/s add up over every resumed part.
    ``first_call`` (seconds, part of the training time) holds the warm-up (and with
    ``compile`` the compilation). A test that ``count`` says was cut short gives no
    ``test_acc`` and ``test_loss``: its figures are ``partial_test_acc`` and
    ``partial_test_loss``, over ``test_images``."""
    scored = {"acc": float(tested["test_acc"]), "loss": float(tested["test_loss"])}
    whole = {f"test_{k}": v if count.whole else None for k, v in scored.items()}
    partial = {} if count.whole else {f"partial_test_{k}": v for k, v in scored.items()}
    return {
        "status": "ok",
        **_common(config, spec, out),
        **whole,
        **partial,
        "test_images": count.images,
        "test_split_images": count.split_images,
        "epochs": trainer.current_epoch,
        "train_seconds": seconds,
        "images_per_s": images / max(seconds, 1e-9),
        "first_call_seconds": first_call,
        "devices": devices,
        "world_size": trainer.world_size,
        "precision": str(trainer.precision),
    }


def diverged(
    config: TrainConfig, spec: Spec, out: Path, error: str, step: int, lr: float
) -> dict[str, Any]:
    """The report of a run stopped at its first non-finite loss."""
    return {
        "status": "diverged",
        **_common(config, spec, out),
        "error": error,
        "diverged_at_step": step,
        "lr_at_divergence": lr,
    }


def write(report: dict[str, Any], out: Path) -> None:
    """``report.md`` and then ``report.json`` (the file that marks the run as done)."""
    write_atomic(out / "report.md", report_markdown(report))
    write_json(out / REPORT, report)


def read_report(run: Path | None) -> dict[str, Any]:
    """The run's ``report.json``, or an empty dict without a run directory.

    What ``evaluate`` and ``scan`` read of it -- the dataset and the settings that prepare
    its test split (``RECORDED``) -- must be what a run writes: a value edited into
    another type or out of its setting's range is refused, naming the file and the key,
    never used to prepare the data otherwise than the run did."""
    if run is None:
        return {}
    path = run / REPORT
    try:
        report = json.loads(read_bounded(path, "the run's report"))
    except ValueError as exc:
        raise ConvzooError(f"{path}: cannot read the run's report ({exc})") from exc
    if not isinstance(report, dict):
        raise ConvzooError(
            f"{path}: the run's report is not a JSON object, as a run writes it; restore it"
        )
    config = report.get("config", {})
    if not isinstance(config, dict):
        raise ConvzooError(
            f"{path}: config: expected the run's settings (a JSON object), as a run writes "
            "them; restore them"
        )
    for key, value in [("data", report.get("data")), *((k, config.get(k)) for k in RECORDED)]:
        wrong = None if value is None else problem(key, value)
        if wrong:
            where = key if key == "data" else f"config.{key}"
            raise ConvzooError(
                f"{path}: {where}: {wrong}, which no run writes; restore the value the run wrote"
            )
    return report
