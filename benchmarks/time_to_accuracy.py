"""Seconds of training to 93% Fashion-MNIST test accuracy: ``convzoo train`` vs a raw loop.

Both train ``fastnet`` with its recipe (``registry/fastnet.yaml``: SGD Nesterov,
one-cycle, label smoothing, shifts of up to 2 px and flips, batch 512, 10
epochs) on device-resident data, in one process, runs interleaved A B A B:

- ``convzoo``: ``convzoo.train.train`` with the recipe, exactly what ``convzoo
  train fastnet`` runs (Lightning, metrics, CSV logging, a checkpoint per epoch);
- ``raw``: the same network (``convzoo.build``) and recipe as a hand-written
  PyTorch loop in this file: its own batched shift-and-flip, no Lightning, the
  loss never read on the host.

After every epoch the test accuracy is measured on the side (not timed). Each
run reports the training seconds until the first epoch whose test accuracy is
>= 93%, the steady-state epoch time (median of the epochs after the first, the
first holding any compilation and warm-up) and images/s; the table gives
medians over runs and the median of the per-pair ratios convzoo / raw. On a CPU
a full run takes many minutes, so ``--epochs 2`` measures the epoch-time ratio
only. Results: ``benchmarks/results/time_to_accuracy.{md,json}``.

    PYTHONPATH=. python benchmarks/time_to_accuracy.py --device cuda --runs 3
    .venv/bin/python benchmarks/time_to_accuracy.py --device cpu --epochs 2 --runs 3
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback
from torch.nn import functional as F

import convzoo as cz
from convzoo.data import DataModule
from convzoo.train import train
from convzoo.train.callbacks import Throughput
from convzoo.train.config import for_arch

ARCH = "fastnet"
TARGET = 0.93
RESULTS = Path(__file__).parent / "results" / "time_to_accuracy"


def accuracy_on(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Top-1 accuracy of ``model`` on the resident test split, in eval mode."""
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        right = sum(
            int((model(xb).argmax(1) == yb).sum()) for xb, yb in zip(x.split(2048), y.split(2048))
        )
    model.train(was_training)
    return right / len(y)


class EpochTest(Callback):
    """After each training epoch: the training seconds so far and the test accuracy."""

    def __init__(self, test: tuple[torch.Tensor, torch.Tensor]) -> None:
        self.test = test
        self.epochs: list[tuple[float, float]] = []

    def on_train_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        clock = next(cb for cb in trainer.callbacks if isinstance(cb, Throughput))
        x, y = (t.to(module.device) for t in self.test)
        self.epochs.append((clock.seconds, accuracy_on(module, x, y)))


def _data(recipe: dict[str, Any], name: str, data_dir: str | None) -> DataModule:
    data = DataModule(
        name,
        tuple(cz.load_spec(ARCH).input),
        data_dir,
        batch_size=recipe["batch_size"],
        val_fraction=0.0,
    )
    data.setup("fit")
    return data


def convzoo_run(
    device: str, epochs: int, out: Path, data: DataModule, data_dir: str | None
) -> list[tuple[float, float]]:
    """``convzoo train fastnet`` (the recipe, ``epochs`` of it): seconds and accuracy per epoch."""
    config, _ = for_arch(
        ARCH,
        flags={
            "epochs": epochs,
            "data": data.data,
            "data_dir": data_dir,
            "accelerator": "gpu" if device.startswith("cuda") else "cpu",
            "out": str(out),
            "progress": False,
        },
    )
    probe = EpochTest(data.splits["test"])
    train(config, callbacks=[probe])
    return probe.epochs


def shift_and_flip(x: torch.Tensor, pad: int, fill: float) -> torch.Tensor:
    """Each image shifted by up to ``pad`` pixels each way (``fill`` comes in), half mirrored."""
    n, _, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad), value=fill)
    dy, dx = (torch.randint(0, 2 * pad + 1, (2, n, 1), device=x.device)).unbind(0)
    rows = (torch.arange(h, device=x.device) + dy)[:, :, None]
    cols = (torch.arange(w, device=x.device) + dx)[:, None, :]
    shifted = padded[torch.arange(n, device=x.device)[:, None, None], 0, rows, cols].unsqueeze(1)
    mirror = torch.rand(n, 1, 1, 1, device=x.device) < 0.5
    return torch.where(mirror, shifted.flip(-1), shifted)


def raw_run(
    device: str, epochs: int, data: DataModule, recipe: dict[str, Any]
) -> list[tuple[float, float]]:
    """The recipe as a plain loop over the same resident data: seconds and accuracy per epoch."""
    torch.manual_seed(0)
    model = cz.build(ARCH).to(device)
    gpu = device.startswith("cuda")
    x, y = (t.to(device) for t in data.splits["train"])
    tx, ty = (t.to(device) for t in data.splits["test"])
    decay = [p for p in model.parameters() if p.dim() > 1]
    rest = [p for p in model.parameters() if p.dim() <= 1]
    opt = torch.optim.SGD(
        [{"params": decay, "weight_decay": 5e-4}, {"params": rest, "weight_decay": 0.0}],
        lr=recipe["lr"],
        momentum=0.9,
        nesterov=True,
        foreach=True,
    )
    batch = recipe["batch_size"]
    steps = len(y) // batch
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=recipe["lr"], total_steps=steps * epochs
    )
    sync = torch.cuda.synchronize if gpu else (lambda: None)
    autocast = torch.autocast("cuda", torch.bfloat16, enabled=gpu)
    seconds, results = 0.0, []
    for _ in range(epochs):
        sync()
        start = time.perf_counter()
        order = torch.randperm(len(y), device=device)
        for i in range(steps):
            idx = order[i * batch : (i + 1) * batch]
            xb = shift_and_flip(x[idx], recipe["translate"], data.background)
            with autocast:
                loss = F.cross_entropy(model(xb), y[idx], label_smoothing=recipe["label_smoothing"])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        sync()
        seconds += time.perf_counter() - start
        results.append((seconds, accuracy_on(model, tx, ty)))
    return results


def summary(epochs: list[tuple[float, float]], images: int) -> dict[str, Any]:
    """Time to the target, steady-state epoch time and images/s of one run."""
    times = [b - a for a, b in zip([0.0] + [s for s, _ in epochs], [s for s, _ in epochs])]
    steady = statistics.median(times[1:]) if len(times) > 1 else times[0]
    reached = next((s for s, acc in epochs if acc >= TARGET), None)
    return {
        "seconds_to_target": reached,
        "first_epoch_s": times[0],
        "steady_epoch_s": steady,
        "images_per_s": images / steady,
        "final_accuracy": epochs[-1][1],
        "per_epoch": epochs,
    }


def _median(runs: list[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in runs if r[key] is not None]
    return statistics.median(values) if len(values) == len(runs) else None


def machine(device: str) -> str:
    """The device's name: the GPU's, or the CPU's with its thread count."""
    if device.startswith("cuda"):
        return torch.cuda.get_device_name()
    return f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads"


def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "not reached" if value is None else format(value, spec)


def report(result: dict[str, Any]) -> str:
    """The Markdown table of one benchmark run."""
    rows = []
    for name in ("convzoo", "raw"):
        runs = result[name]
        rows.append(
            f"| {name} | {_fmt(_median(runs, 'seconds_to_target'))} | "
            f"{_fmt(_median(runs, 'first_epoch_s'))} | "
            f"{_fmt(_median(runs, 'steady_epoch_s'), '.3f')} | "
            f"{_fmt(_median(runs, 'images_per_s'), ',.0f')} | "
            f"{_fmt(100 * statistics.median(r['final_accuracy'] for r in runs))} |"
        )
    ratio = result["ratio_steady_epoch"]
    lines = [
        "# Time to 93% Fashion-MNIST test accuracy: `convzoo train` vs a raw loop",
        "",
        f"`{ARCH}` with its recipe, {result['epochs']} epoch(s), {result['runs']} runs each, "
        f"interleaved. Device: {result['machine']}; torch {result['torch']}, "
        f"lightning {result['lightning']}, Python {result['python']}. Medians over runs; "
        "the first epoch holds compilation and warm-up, test evaluation is not timed.",
        "",
        "| loop | s to 93% | first epoch (s) | steady epoch (s) | images/s | final test acc (%) |",
        "|---|---:|---:|---:|---:|---:|",
        *rows,
        "",
        f"Ratio convzoo / raw, steady epoch time, median of pairs: **{ratio:.3f}** "
        f"(target <= 1.05: {'met' if ratio <= 1.05 else 'missed'}).",
    ]
    if result["device"].startswith("cuda"):
        best = _median(result["convzoo"], "seconds_to_target")
        verdict = "not reached" if best is None else ("met" if best <= 2 else "missed")
        lines.append(
            f"Seconds to 93% with `convzoo train`: target <= 2 s (milestone 5 s): {verdict}."
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--epochs", type=int, help="default: the recipe's")
    parser.add_argument("--data-dir", help="folder with Fashion-MNIST's files")
    parser.add_argument(
        "--data", default="fashion_mnist", help="another dataset: synthetic for a smoke run"
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    logging.getLogger("lightning").setLevel(logging.ERROR)
    made = cz.load_spec(ARCH).recipe
    assert made is not None, f"{ARCH} has no recipe"
    recipe = dict(made)
    epochs = args.epochs or recipe["epochs"]
    data = _data(recipe, args.data, args.data_dir)
    images = len(data.splits["train"][1]) // recipe["batch_size"] * recipe["batch_size"]
    runs: dict[str, list[dict[str, Any]]] = {"convzoo": [], "raw": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.runs):  # alternate which goes first, so drift cancels
            order = ("convzoo", "raw") if r % 2 == 0 else ("raw", "convzoo")
            for name in order:
                epochs_seen = (
                    convzoo_run(args.device, epochs, Path(tmp) / f"run{r}", data, args.data_dir)
                    if name == "convzoo"
                    else raw_run(args.device, epochs, data, recipe)
                )
                runs[name].append(summary(epochs_seen, images))
                print(name, r, json.dumps(runs[name][-1]["per_epoch"]), flush=True)
    pairs = [
        c["steady_epoch_s"] / w["steady_epoch_s"] for c, w in zip(runs["convzoo"], runs["raw"])
    ]
    result = {
        "arch": ARCH,
        "device": args.device,
        "machine": machine(args.device),
        "torch": torch.__version__,
        "lightning": L.__version__,
        "python": platform.python_version(),
        "epochs": epochs,
        "runs": args.runs,
        "ratio_steady_epoch": statistics.median(pairs),
        **runs,
    }
    text = report(result)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    suffix = "gpu" if args.device.startswith("cuda") else "cpu"
    Path(f"{args.out}_{suffix}.md").write_text(text)
    Path(f"{args.out}_{suffix}.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
