"""What does convzoo's CapsNet cost over the same network in plain PyTorch? One training step.

Both sides take the same step: forward, margin loss plus 0.0005 x the reconstruction
error of the masked decoder, backward, an Adam step; float32, the same batch of random
MNIST-shaped pixels in [0, 1]. convzoo's side is ``convzoo.build("capsnet")`` from the
registry and its head's loss (``ConvNet.loss``, what the LightningModule calls); the
plain side is written out below -- its own squash, routing loop, margin loss and
decoder -- with the same shapes and the same 8,215,568 parameters. Before timing, the
plain net gets convzoo's weights and must give the same loss and gradients, so both
compute the same thing. Steps alternate A B A B (the order flips every round, so
drift hits both alike) in one process; the result is the median step of each and the
median of the per-round ratios convzoo / plain, against a target of <= 1.1.

A second table times the routing alone (forward and backward at the same batch):
convzoo's ``DynamicRouting.route`` against the plain side's einsum loop, the
comparison behind routing's batched-matrix-product layout.

    PYTHONPATH=. python benchmarks/capsnet_step.py [--batch 32] [--rounds 20] [--device cuda]

It needs torch and PyYAML only (Lightning's version is reported when it is there).
Results: ``--out PREFIX`` writes PREFIX.md and PREFIX.json (default
``benchmarks/results/capsnet_step``).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import shlex
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

import convzoo as cz

RESULTS = Path(__file__).parent / "results" / "capsnet_step"
TARGET = 1.1


# -- CapsNet in plain PyTorch ------------------------------------------------------------


def plain_squash(s: torch.Tensor) -> torch.Tensor:
    """Shrink each capsule vector (last dim) to a length in [0, 1), keeping its direction."""
    sq = (s * s).sum(-1, keepdim=True)
    return s * (sq.sqrt() / (1.0 + sq))


def plain_routing(W: torch.Tensor, u: torch.Tensor, rounds: int) -> torch.Tensor:
    """Capsules ``u[n, i, k]`` predict ``u_hat[n, i, j, d]`` through ``W[i, j, d, k]``; routing
    by agreement turns the predictions into the capsules above, ``[n, j, d]``."""
    u_hat = torch.einsum("ijdk,nik->nijd", W, u)
    b = torch.zeros(u_hat.shape[:3], dtype=u_hat.dtype, device=u_hat.device)
    for r in range(rounds):
        c = F.softmax(b, dim=2)
        v = plain_squash(torch.einsum("nij,nijd->njd", c, u_hat))
        if r < rounds - 1:
            b = b + torch.einsum("nijd,njd->nij", u_hat, v)
    return v


class PlainCapsNet(nn.Module):
    """Conv 256@9x9 + ReLU, 32 x 8-D primary capsules (9x9 stride 2), 10 x 16-D digit
    capsules by 3 routing rounds, decoder 160 -> 512 -> 1024 -> 784 from the true class."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 256, 9)
        self.primary = nn.Conv2d(256, 32 * 8, 9, stride=2)
        self.W = nn.Parameter(0.01 * torch.randn(32 * 6 * 6, 10, 16, 8))
        self.decoder = nn.Sequential(
            nn.Linear(10 * 16, 512),
            nn.ReLU(),
            nn.Linear(512, 1024),
            nn.ReLU(),
            nn.Linear(1024, 28 * 28),
            nn.Sigmoid(),
        )

    def in_order(self) -> list[nn.Parameter]:
        """The parameters layer by layer, as convzoo's network lists them."""
        return [
            *self.conv1.parameters(),
            *self.primary.parameters(),
            self.W,
            *self.decoder.parameters(),
        ]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Digit capsules ``[n, 10, 16]``."""
        h = self.primary(F.relu(self.conv1(x)))  # [n, 256, 6, 6]
        n = h.shape[0]
        u = h.view(n, 32, 8, 36).permute(0, 1, 3, 2).reshape(n, 32 * 36, 8)
        return plain_routing(self.W, plain_squash(u), 3)

    def loss(self, digits: torch.Tensor, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Margin loss (0.9, 0.1, 0.5) plus 0.0005 x the summed squared reconstruction error."""
        length = digits.norm(dim=-1)
        t = F.one_hot(y, 10).to(length.dtype)
        margin = t * F.relu(0.9 - length) ** 2 + 0.5 * (1 - t) * F.relu(length - 0.1) ** 2
        image = self.decoder((digits * t.unsqueeze(-1)).flatten(1))
        recon = ((image - x.flatten(1)) ** 2).sum(1)
        return (margin.sum(1) + 0.0005 * recon).mean()


# -- the two steps -----------------------------------------------------------------------


def loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The training loss: convzoo's as its LightningModule computes it (the head's loss of
    the scores, with the pixels in [0, 1]), the plain net's from its digit capsules."""
    return model.loss(model(x), y, x)


def copy_weights(source: nn.Module, target: PlainCapsNet) -> None:
    """Give ``target`` the parameters of ``source``, layer by layer (their shapes must agree)."""
    with torch.no_grad():
        for a, b in zip(source.parameters(), target.in_order(), strict=True):
            assert a.shape == b.shape, f"shapes differ: {tuple(a.shape)} vs {tuple(b.shape)}"
            b.copy_(a)


def check_same(built: nn.Module, plain: PlainCapsNet, x: torch.Tensor, y: torch.Tensor) -> None:
    """The two nets (with the same weights) give the same loss and gradients, in float64."""
    nets = [copy.deepcopy(m).double() for m in (built, plain)]
    losses = []
    for model in nets:
        value = loss(model, x.double(), y)
        value.backward()
        losses.append(value.detach())
    torch.testing.assert_close(losses[0], losses[1], rtol=1e-9, atol=1e-12)
    for a, b in zip(nets[0].parameters(), nets[1].in_order(), strict=True):
        torch.testing.assert_close(a.grad, b.grad, rtol=1e-7, atol=1e-12)


Sync = Callable[[], None]


def timed(run: Callable[[], Any], sync: Sync) -> float:
    sync()
    start = time.perf_counter()
    run()
    sync()
    return time.perf_counter() - start


def training_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> Callable[[], None]:
    """One step of ``model`` with an Adam of its own: zero the gradients, loss, backward, step."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def run() -> None:
        opt.zero_grad(set_to_none=True)
        loss(model, x, y).backward()
        opt.step()

    return run


def alternate(
    runs: dict[str, Callable[[], Any]], rounds: int, warmup: int, sync: Sync
) -> dict[str, list[float]]:
    """Each run ``warmup`` times, then ``rounds`` rounds A B / B A; per-run times in seconds."""
    for _ in range(warmup):
        for run in runs.values():
            run()
    times: dict[str, list[float]] = {name: [] for name in runs}
    order = list(runs.items())
    for r in range(rounds):
        for name, run in order if r % 2 == 0 else order[::-1]:
            times[name].append(timed(run, sync))
    return times


def summary(times: dict[str, list[float]]) -> dict[str, Any]:
    """Medians, ranges and the median of the per-round ratios convzoo / plain."""
    a, b = times["convzoo"], times["plain"]
    ratios = [x / y for x, y in zip(a, b)]
    return {
        "convzoo_ms": 1e3 * statistics.median(a),
        "plain_ms": 1e3 * statistics.median(b),
        "convzoo_ms_range": [1e3 * min(a), 1e3 * max(a)],
        "plain_ms_range": [1e3 * min(b), 1e3 * max(b)],
        "ratio": statistics.median(ratios),
        "ratio_range": [min(ratios), max(ratios)],
        "rounds": len(ratios),
    }


def measure(batch: int, rounds: int, warmup: int, device: str) -> dict[str, Any]:
    """Both training steps, then both routings, each alternating A B / B A."""
    torch.manual_seed(0)
    built = cz.build("capsnet").to(device)
    plain = PlainCapsNet().to(device)
    params = [sum(p.numel() for p in m.parameters()) for m in (built, plain)]
    assert params[0] == params[1], f"the plain net differs: {params[1]:,} vs {params[0]:,}"
    x = torch.rand(batch, 1, 28, 28, device=device)
    y = torch.randint(0, 10, (batch,), device=device)
    copy_weights(built, plain)
    check_same(built, plain, x[:4], y[:4])
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    steps = alternate(
        {"convzoo": training_step(built, x, y), "plain": training_step(plain, x, y)},
        rounds,
        warmup,
        sync,
    )
    routing = built.layers[3]
    u = plain_squash(torch.randn(batch, 1152, 8, device=device)).requires_grad_()
    routes = alternate(
        {
            "convzoo": lambda: routing.route(u)[0].sum().backward(),
            "plain": lambda: plain_routing(routing.weight, u, 3).sum().backward(),
        },
        rounds,
        warmup,
        sync,
    )
    return {"params": params[0], "step": summary(steps), "routing": summary(routes)}


def processor() -> str:
    """The CPU's model name (Linux's /proc/cpuinfo), else what ``platform`` knows."""
    info = Path("/proc/cpuinfo")
    lines = info.read_text().splitlines() if info.exists() else []
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return names[0] if names else platform.processor() or "unknown CPU"


def machine(device: str) -> dict[str, Any]:
    """Where it ran and with which versions."""
    try:
        import lightning

        lightning_version = lightning.__version__
    except ImportError:
        lightning_version = "not installed"
    on_gpu = device.startswith("cuda")
    return {
        "device": device,
        "processor": torch.cuda.get_device_name() if on_gpu else processor(),
        "machine": platform.machine(),
        "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "lightning": lightning_version,
        "convzoo": cz.__version__,
        "python": platform.python_version(),
        "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }


def markdown(result: dict[str, Any]) -> str:
    """The result as the Markdown file says it."""
    m, s, r = result["machine"], result["step"], result["routing"]
    met = s["ratio"] <= TARGET
    verdict = (
        f"**met**: {s['ratio']:.3f} <= {TARGET}"
        if met
        else f"**missed**: {s['ratio']:.3f} > {TARGET}"
    )
    return "\n".join(
        [
            "# CapsNet training step: convzoo vs plain PyTorch",
            "",
            f"One training step (forward, margin + 0.0005 x reconstruction loss, backward, Adam) "
            f"of CapsNet ({result['params']:,} parameters), batch {result['batch']} of random "
            f"28x28 pixels, float32; median of {s['rounds']} alternating rounds after "
            f"{result['warmup']} warm-up steps each, in one process. The plain net, given "
            "convzoo's weights, gave the same loss and gradients before timing.",
            "",
            f"Machine: {m['device']} ({m['processor']}, {m['machine']}, {m['cpu_cores']} cores, "
            f"{m['torch_threads']} torch threads); torch {m['torch']}, lightning {m['lightning']}, "
            f"convzoo {m['convzoo']}, Python {m['python']}; load average {m['load_average']:.2f} "
            "when it started (above 0: other jobs were running).",
            "",
            f"Command: `{result['command']}`",
            "",
            "| what | convzoo (ms) | plain (ms) | ratio convzoo/plain (median, min-max) |",
            "|---|---:|---:|---:|",
            f"| training step | {s['convzoo_ms']:.1f} | {s['plain_ms']:.1f} | {s['ratio']:.3f} "
            f"({s['ratio_range'][0]:.3f}-{s['ratio_range'][1]:.3f}) |",
            f"| routing alone, forward + backward | {r['convzoo_ms']:.1f} | {r['plain_ms']:.1f} | "
            f"{r['ratio']:.3f} ({r['ratio_range'][0]:.3f}-{r['ratio_range'][1]:.3f}) |",
            "",
            f"Target: step ratio <= {TARGET}. {verdict}.",
            "",
            "The plain side routes with einsum over [batch, 1152, 10, 16] predictions; "
            "convzoo's routing lays them out as one [1152, 16] matrix per (sample, class) "
            "and uses batched matrix products, which the routing row compares.",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="writes OUT.md and OUT.json")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    load = machine(args.device)  # before the work, so the load average is the others'
    result = {
        "command": shlex.join(["python", *sys.argv]),
        "batch": args.batch,
        "warmup": args.warmup,
        "target": TARGET,
        **measure(args.batch, args.rounds, args.warmup, args.device),
        "machine": load,
    }
    result["met"] = result["step"]["ratio"] <= TARGET
    text = markdown(result)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".md").write_text(text)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
