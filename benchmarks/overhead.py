"""Is a convzoo-built network as fast as the same network written by hand?

Builds ``lenet5_modern`` and ``convnet4`` with convzoo and writes the same
layers by hand as a plain ``nn.Sequential``; times one forward+backward+SGD
step of each, interleaved (A, B, A, B, ...) in one process so that machine
noise hits both alike, and reports the median ratio built / hand-written.
The target is <= 1.02. Results go to ``benchmarks/results/overhead.md``.

    .venv/bin/python benchmarks/overhead.py [--rounds 30] [--batch 256] [--device cpu]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from pathlib import Path

import torch
from torch import nn

import convzoo as cz

RESULTS = Path(__file__).parent / "results" / "overhead.md"


def lenet5_modern() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 120, 5), nn.ReLU(),
        nn.Flatten(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )  # fmt: skip


def convnet4() -> nn.Module:
    def unit(cin: int, cout: int) -> list[nn.Module]:
        return [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU()]

    return nn.Sequential(
        *unit(1, 32), *unit(32, 32), nn.MaxPool2d(2),
        *unit(32, 64), *unit(64, 64), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 100), nn.ReLU(), nn.Linear(100, 10),
    )  # fmt: skip


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
    for _ in range(rounds):
        times["built"].append(step_time(built, x, y, opts[id(built)]))
        times["hand"].append(step_time(hand, x, y, opts[id(hand)]))
    ratios = [b / h for b, h in zip(times["built"], times["hand"])]
    return {
        "arch": arch,
        "params": n_built,
        "built_ms": 1e3 * statistics.median(times["built"]),
        "hand_ms": 1e3 * statistics.median(times["hand"]),
        "ratio": statistics.median(ratios),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.manual_seed(0)
    rows = [compare(arch, args.rounds, args.batch, args.device) for arch in HAND]
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
    lines += ["", "Target: ratio <= 1.02.", ""]
    text = "\n".join(lines)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)


if __name__ == "__main__":
    main()
