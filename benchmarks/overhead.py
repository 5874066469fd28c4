"""What does convzoo cost over plain PyTorch? Two comparisons, side by side in one process.

1. Step: ``lenet5_modern`` and ``convnet4`` built by convzoo vs the same layers
   written by hand as a plain ``nn.Sequential``; one forward+backward+SGD step
   each, interleaved (A, B, A, B, ...) so machine noise hits both alike; median
   ratio built / hand-written. Target <= 1.02.
2. Epoch: a hand-written training loop (device-resident batches, the same
   optimizer, schedule and precision) vs ``convzoo train`` (Lightning, metrics,
   logging, checkpointing), one epoch of Fashion-MNIST each, interleaved, >= 5
   repeats; median epoch-time ratio. Target <= 1.05. ``convzoo train`` runs
   twice per repeat: as it trains (``steps_per_call`` 10) and with one optimizer
   step per Lightning step, which shows Lightning's fixed cost per step.

Results go to ``benchmarks/results/overhead.md``.

    .venv/bin/python benchmarks/overhead.py [--rounds 30] [--repeats 5] [--device cpu]
"""

from __future__ import annotations

import argparse
import logging
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

import convzoo as cz
from convzoo.data import DataModule
from convzoo.train import TrainConfig, train

RESULTS = Path(__file__).parent / "results" / "overhead.md"


def lenet5_modern() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 120, 5),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(120, 84),
        nn.ReLU(),
        nn.Linear(84, 10),
    )


def convnet4() -> nn.Module:
    def unit(cin: int, cout: int) -> list[nn.Module]:
        return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU()]

    return nn.Sequential(
        *unit(1, 32),
        *unit(32, 32),
        nn.MaxPool2d(2),
        *unit(32, 64),
        *unit(64, 64),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * 7 * 7, 100),
        nn.ReLU(),
        nn.Linear(100, 10),
    )


HAND = {"lenet5_modern": lenet5_modern, "convnet4": convnet4}


def step_time(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, opt: torch.optim.Optimizer
) -> float:
    sync = torch.cuda.synchronize if x.is_cuda else (lambda: None)
    sync()
    start = time.perf_counter()
    opt.zero_grad(set_to_none=True)
    nn.functional.cross_entropy(model(x), y).backward()
    opt.step()
    sync()
    return time.perf_counter() - start


def compare(arch: str, rounds: int, batch: int, device: str) -> dict:
    built = cz.build(arch).to(device)
    hand = HAND[arch]().to(device)
    n_built = sum(p.numel() for p in built.parameters())
    n_hand = sum(p.numel() for p in hand.parameters())
    assert n_built == n_hand, f"{arch}: the hand-written net differs ({n_built} vs {n_hand})"
    x = torch.randn(batch, *built.spec.input, device=device)
    y = torch.randint(0, 10, (batch,), device=device)
    opts = {id(m): torch.optim.SGD(m.parameters(), lr=0.01) for m in (built, hand)}
    times: dict[str, list[float]] = {"built": [], "hand": []}
    for _ in range(3):  # warm-up
        step_time(built, x, y, opts[id(built)])
        step_time(hand, x, y, opts[id(hand)])
    for r in range(rounds):  # alternate which goes first, so drift cancels
        order = [("built", built), ("hand", hand)]
        for name, model in order if r % 2 == 0 else order[::-1]:
            times[name].append(step_time(model, x, y, opts[id(model)]))
    ratios = [b / h for b, h in zip(times["built"], times["hand"])]
    return {
        "arch": arch,
        "params": n_built,
        "built_ms": 1e3 * statistics.median(times["built"]),
        "hand_ms": 1e3 * statistics.median(times["hand"]),
        "ratio": statistics.median(ratios),
    }


def plain_epoch(arch: str, data: DataModule, device: str, batch: int, lr: float) -> float:
    """Seconds for one epoch of a hand-written loop: same data, optimizer and schedule."""
    torch.manual_seed(0)
    model = cz.build(arch).to(device)
    x, y = (t.to(device) for t in data.splits["train"])
    decay = [p for p in model.parameters() if p.dim() > 1]
    rest = [p for p in model.parameters() if p.dim() <= 1]
    opt = torch.optim.SGD(
        [{"params": decay, "weight_decay": 5e-4}, {"params": rest, "weight_decay": 0.0}],
        lr=lr,
        momentum=0.9,
        nesterov=True,
    )
    steps = len(y) // batch
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    sync()
    start = time.perf_counter()
    order = torch.randperm(len(y), device=device)
    for i in range(steps):
        idx = order[i * batch : (i + 1) * batch]
        loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    sync()
    return time.perf_counter() - start


def convzoo_epoch(
    arch: str, device: str, batch: int, lr: float, out: Path, steps_per_call: int
) -> float:
    """Seconds of training (validation excluded) in one epoch of ``convzoo train``."""
    accelerator = "gpu" if device.startswith("cuda") else "cpu"
    report = train(
        TrainConfig(
            arch,
            data="fashion_mnist",
            epochs=1,
            batch_size=batch,
            lr=lr,
            accelerator=accelerator,
            precision="32-true",
            out=str(out),
            progress=False,
            steps_per_call=steps_per_call,
        )
    )
    return report["train_seconds"]


def compare_epochs(arch: str, repeats: int, batch: int, device: str) -> dict:
    data = DataModule("fashion_mnist", tuple(cz.load_spec(arch).input), batch_size=batch)
    data.setup("fit")
    times: dict[str, list[float]] = {"plain": [], "ours": [], "single": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(repeats):  # alternate the order, so drift cancels
            order = ["plain", "ours", "single"] if r % 2 == 0 else ["single", "ours", "plain"]
            for name in order:
                if name == "plain":
                    seconds = plain_epoch(arch, data, device, batch, 0.1)
                else:
                    steps = 10 if name == "ours" else 1
                    out = Path(tmp) / f"{name}{r}"
                    seconds = convzoo_epoch(arch, device, batch, 0.1, out, steps)
                times[name].append(seconds)
    plain = times["plain"]
    return {
        "arch": arch,
        "plain_s": statistics.median(plain),
        "convzoo_s": statistics.median(times["ours"]),
        "single_s": statistics.median(times["single"]),
        "ratio": statistics.median(o / p for o, p in zip(times["ours"], plain)),
        "single_ratio": statistics.median(o / p for o, p in zip(times["single"], plain)),
        "repeats": repeats,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epoch-archs", nargs="+", default=["convnet2", "lenet5_modern"])
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.manual_seed(0)
    logging.getLogger("lightning").setLevel(logging.ERROR)
    rows = [compare(arch, args.rounds, args.batch, args.device) for arch in HAND]
    epochs = [compare_epochs(a, args.repeats, args.batch, args.device) for a in args.epoch_archs]
    device = (
        torch.cuda.get_device_name()
        if args.device.startswith("cuda")
        else platform.processor() or platform.machine()
    )
    lines = [
        "# Overhead of a convzoo-built network vs the same net written by hand",
        "",
        f"One forward+backward+SGD step, batch {args.batch}, median of {args.rounds} interleaved "
        f"rounds. Device: {args.device} ({device}, {torch.get_num_threads()} threads). "
        f"torch {torch.__version__}, convzoo {cz.__version__}, Python {platform.python_version()}.",
        "",
        "| architecture | params | built (ms) | hand-written (ms) | ratio built/hand (median) |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['arch']} | {r['params']:,} | {r['built_ms']:.2f} | {r['hand_ms']:.2f} | "
            f"{r['ratio']:.3f} |"
        )
    lines += [
        "",
        "Target: ratio <= 1.02.",
        "",
        "## A training epoch: hand-written loop vs `convzoo train`",
        "",
        f"One epoch of Fashion-MNIST (batch {args.batch}, SGD Nesterov, one-cycle, float32), "
        f"median of {args.repeats} interleaved repeats. Both keep the data on the device; "
        "`convzoo train` adds Lightning, torchmetrics accuracy, CSV logging and a checkpoint "
        "per epoch. Validation is not timed. `convnet2` is the network `make run` trains; "
        "`lenet5_modern`, with the shortest steps, shows the fixed per-step cost at its largest. "
        "`convzoo train` takes 10 optimizer steps per Lightning step (`--steps-per-call`, "
        "its default); the last two columns run it with one, as Lightning's automatic "
        "optimization would.",
        "",
        "| architecture | plain loop (s) | convzoo train (s) | ratio convzoo/plain (median) "
        "| 1 step per call (s) | ratio (median) |",
        "|---|---:|---:|---:|---:|---:|",
        *[
            f"| {e['arch']} | {e['plain_s']:.2f} | {e['convzoo_s']:.2f} | {e['ratio']:.3f} "
            f"| {e['single_s']:.2f} | {e['single_ratio']:.3f} |"
            for e in epochs
        ],
        "",
        "Target: ratio convzoo/plain <= 1.05: "
        + ", ".join(f"{e['arch']} {'met' if e['ratio'] <= 1.05 else 'missed'}" for e in epochs)
        + ".",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
