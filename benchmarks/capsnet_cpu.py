"""The first steps of CapsNet's recipe on a CPU: ``convzoo train capsnet``, stopped early.

The recipe in ``registry/capsnet.yaml`` runs 641 epochs (300,000 steps of 128): weeks on
a CPU. This script trains exactly as ``convzoo train capsnet --data-dir DIR --accelerator
cpu --seed SEED`` does -- the same settings from ``for_arch`` (the recipe), the same
``train`` -- with one Lightning callback that stops the run after ``--steps`` optimizer
steps and times them. Its learning rate is the recipe's at those steps (the exponential
schedule does not depend on the planned epochs). ``train`` then tests on all 10,000 test
images as it always does: accuracy above 10% (chance) says the recipe learns.

    .venv/bin/python benchmarks/capsnet_cpu.py --data-dir ../shared/data/mnist [--steps 50]

Writes ``benchmarks/results/reproduce/capsnet_cpu.md`` and ``.json`` (``--out PREFIX``).
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback

import convzoo as cz
from convzoo.train import train
from convzoo.train.config import for_arch

RESULTS = Path(__file__).parent / "results" / "reproduce" / "capsnet_cpu"


class StopAfter(Callback):
    """Stops training once ``steps`` optimizer steps are done; notes when each call ended."""

    def __init__(self, steps: int) -> None:
        self.steps = steps
        self.marks: list[tuple[int, float]] = []

    def on_train_batch_end(
        self, trainer: L.Trainer, module: L.LightningModule, outputs: Any, batch: Any, index: int
    ) -> None:
        self.marks.append((trainer.global_step, time.perf_counter()))
        if trainer.global_step >= self.steps:
            trainer.should_stop = True

    def seconds_per_step(self) -> float:
        """Mean step time after the first call (its warm-up left out)."""
        (s0, t0), (s1, t1) = self.marks[0], self.marks[-1]
        return (t1 - t0) / max(1, s1 - s0)


def train_losses(out: Path) -> list[tuple[int, float]]:
    """(step, the training loss of that step) as the run logged them."""
    rows = csv.DictReader((out / "logs" / "metrics.csv").open())
    return [(int(r["step"]), float(r["train_loss_step"])) for r in rows if r.get("train_loss_step")]


def markdown(result: dict[str, Any]) -> str:
    """The result as the Markdown file says it."""
    r, v, c = result, result["versions"], result["report"]["config"]
    losses = ", ".join(f"{loss:.3f} (step {step})" for step, loss in r["train_losses"])
    learns = "above" if r["test_acc"] > 0.1 else "**not above**"
    images = r["steps"] * c["batch_size"]
    return "\n".join(
        [
            "# CapsNet's recipe on a CPU: the first steps",
            "",
            f"`{r['command']}` (seed {r['seed']}): `convzoo train capsnet` with the recipe of "
            f"`registry/capsnet.yaml` ({c['optimizer']} lr {c['lr']}, weight decay "
            f"{c['weight_decay']}, {c['schedule']} schedule x{c['lr_decay']} per epoch at every "
            f"step, batch {c['batch_size']}, shifts of up to {c['translate']} pixels, "
            f"validation share {c['val_fraction']}), stopped after {r['steps']} optimizer steps "
            "by a callback; then the run's usual test on all 10,000 MNIST test images.",
            "",
            f"Machine: {r['machine']}; Python {v['python']}, torch {v['torch']}, "
            f"lightning {v['lightning']}, convzoo {v['convzoo']}.",
            "",
            "| | |",
            "|---|---|",
            f"| optimizer steps | {r['steps']} (batch {c['batch_size']}: {images:,} images, "
            f"{images / 60000:.2f} epochs) |",
            f"| step time | {r['seconds_per_step']:.2f} s/step (mean after the first call) |",
            f"| train loss (margin + reconstruction) | {losses} |",
            f"| test loss | {r['test_loss']:.4f} |",
            f"| test accuracy | {100 * r['test_acc']:.2f}% ({learns} chance, 10%) |",
            f"| whole command | {r['wall_seconds']:.0f} s (test pass included) |",
            "",
            f"At this speed the recipe's 300,000 steps would take "
            f"{r['seconds_per_step'] * 300_000 / 86400:.0f} days here; the reproduction "
            "(<= 0.35% test error) runs on a GPU: `benchmarks/reproduce_capsnet_gpu.sh`.",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS, help="writes OUT.md and OUT.json")
    args = parser.parse_args()
    start = time.perf_counter()
    config, origins = for_arch(
        "capsnet",
        {},
        {"data_dir": args.data_dir, "accelerator": "cpu", "seed": args.seed, "progress": False},
    )
    stop = StopAfter(args.steps)
    report = train(config, origins, callbacks=[stop])
    result = {
        "command": shlex.join([Path(sys.executable).name, *sys.argv]),
        "seed": args.seed,
        "steps": stop.marks[-1][0],
        "seconds_per_step": stop.seconds_per_step(),
        "train_losses": train_losses(Path(report["run_dir"])),
        "test_acc": report["test_acc"],
        "test_loss": report["test_loss"],
        "wall_seconds": time.perf_counter() - start,
        "machine": report["devices"],
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "lightning": L.__version__,
            "convzoo": cz.__version__,
        },
        "report": report,
    }
    text = markdown(result)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".md").write_text(text)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
