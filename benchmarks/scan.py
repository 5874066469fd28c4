"""Dense scanning vs window by window, and how well a briefly trained SDNN reads digit strips.

1. Time: ``--arch`` (default ``lenet5_scan``: no padding, a ``conv1x1`` head) over a
   28x280 strip of 10 MNIST digits,
   once densely (``score_map``) and once window by window (``windowed_score_map``:
   a 28-wide crop every 4 columns, the output stride), both with the crops in one
   batch and one crop per call; interleaved (dense, batched, single, dense, ...)
   in one process, medians over ``--repeats``, on ``--threads`` CPU threads (1 by
   default: the ratio is about shared work, and one thread is not thrown off by
   other processes on a small machine). Target: dense >= 10x faster than window by
   window (one window per call); the batched windows are a stronger baseline,
   reported beside it. The FLOPs of
   each are counted too: what the shared convolutions save bounds the speed-up.
2. Accuracy: the net trained 2 epochs on MNIST (``--translate 2``), read over
   ``--strips`` strips of 5 test digits (gaps of 0-8 columns): exact sequences and
   digits (1 - edit distance), decoded from the dense map and from the windowed one.

Results: ``benchmarks/results/scan.md`` and ``scan_example.png``.

    .venv/bin/python benchmarks/scan.py [--repeats 20] [--strips 200] [--threads 1] [--run DIR]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from convzoo.assemble import ConvNet
from convzoo.data import DataModule
from convzoo.evaluate.scan import (
    decode,
    default_spacing,
    digit_accuracy,
    exact_share,
    geometry,
    make_strips,
    plot_scan,
    scan_model,
    score_map,
    windowed_score_map,
)
from convzoo.train import TrainConfig, load, train

RESULTS = Path(__file__).parent / "results"
Row = tuple[str, str]
MNIST = "/work/shared/data/mnist"


def trained_run(run: str | None, tmp: str, arch: str) -> Path:
    """A run directory of ``arch``: ``run`` if given, else 2 epochs of training in ``tmp``."""
    if run:
        return Path(run)
    out = Path(tmp) / arch
    config = TrainConfig(
        arch,
        data="mnist",
        data_dir=MNIST,
        epochs=2,
        accelerator="cpu",
        out=str(out),
        translate=2,
        progress=False,
    )
    train(config)
    return out


def seconds(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def flops(fn: Callable[[], object]) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def timing(
    model: ConvNet, scanner: ConvNet, strip: torch.Tensor, repeats: int
) -> tuple[dict[str, float], dict[str, int]]:
    """Median seconds and FLOPs of each way to score ``strip``, timed interleaved."""
    runs = {
        "dense": lambda: score_map(scanner, strip),
        "windows, batched": lambda: windowed_score_map(model, strip),
        "windows, one per call": lambda: windowed_score_map(model, strip, batch_size=1),
    }
    for fn in runs.values():
        fn()  # warm-up
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            times[name].append(seconds(fn))
    medians = {name: statistics.median(t) for name, t in times.items()}
    return medians, {name: flops(fn) for name, fn in runs.items()}


def speed_rows(model: ConvNet, strip: torch.Tensor, repeats: int, threads: int) -> list[Row]:
    """Time the three ways to score ``strip`` on ``threads`` threads; the table's rows."""
    grid, before = geometry(model), torch.get_num_threads()
    torch.set_num_threads(threads)
    load = os.getloadavg()[0]
    medians, counts = timing(model, scan_model(model), strip, repeats)
    load = f"load average {load:.1f} -> {os.getloadavg()[0]:.1f}"
    torch.set_num_threads(before)
    speedup = medians["windows, one per call"] / medians["dense"]
    rows = [
        ("machine", f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}"),
        ("timed on", f"{threads} CPU thread(s), {load}"),
        ("torch", torch.__version__),
        ("net", f"{model.spec.name}, window {grid.window}, output stride {grid.stride}"),
        ("strip", f"{list(strip.shape[1:])}, {grid.positions(strip.shape[-1])} windows"),
    ]
    for name in medians:
        rows.append((f"median time, {name}", f"{medians[name] * 1e3:.2f} ms ({repeats} runs)"))
        rows.append((f"FLOPs, {name}", f"{counts[name] / 1e6:.0f} M"))
    return [
        *rows,
        ("speed-up of dense over window by window (one per call)", f"{speedup:.1f}x"),
        (
            "speed-up of dense over windows batched together",
            f"{medians['windows, batched'] / medians['dense']:.1f}x",
        ),
        ("FLOP ratio windows / dense", f"{counts['windows, batched'] / counts['dense']:.1f}x"),
        ("target: dense >= 10x faster", "met" if speedup >= 10 else "not met"),
    ]


def accuracy_rows(model: ConvNet, strips: torch.Tensor, sequences: torch.Tensor) -> list[Row]:
    """Read ``strips`` from the dense and the windowed map; the table's rows; the plot."""
    grid = geometry(model)
    dense, windowed = score_map(model, strips), windowed_score_map(model, strips)
    spacing = default_spacing(grid)
    read_dense, read_windowed = decode(dense, spacing), decode(windowed, spacing)
    plot_scan(RESULTS / "scan_example.png", strips[0], dense[0], read_dense[0], sequences[0], grid)
    same = float((dense.argmax(1) == windowed.argmax(1)).float().mean())
    return [
        ("strips read", f"{len(strips)} strips of {sequences.shape[1]} test digits, gaps 0-8"),
        ("sequence accuracy, dense", f"{exact_share(read_dense, sequences):.1%}"),
        ("digit accuracy, dense", f"{digit_accuracy(read_dense, sequences):.1%}"),
        ("sequence accuracy, windowed", f"{exact_share(read_windowed, sequences):.1%}"),
        ("digit accuracy, windowed", f"{digit_accuracy(read_windowed, sequences):.1%}"),
        ("largest logit difference, dense vs windowed", f"{(dense - windowed).abs().max():.3g}"),
        ("positions with the same top class, dense vs windowed", f"{same:.1%}"),
    ]


NOTE = """
The FLOP ratio bounds the speed-up over the batched windows: overlapping windows
share their convolutions only in the dense pass. A net that pads its
convolutions (allconv) sees zeros at a lone window's border where the dense pass
sees the neighbouring digits, so its two maps differ; nets without padding, like
lenet5_scan, agree exactly (tests/evaluate/test_scan.py checks every position).

Decoding (`convzoo.evaluate.scan.decode`): runs of one top class reaching
probability 0.7, strongest first, at least 0.8 window apart. Example strip:
scan_example.png.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--strips", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1, help="CPU threads while timing")
    parser.add_argument("--arch", default="lenet5_scan", help="a net with a conv1x1 head")
    parser.add_argument("--run", help="reuse a trained run directory of --arch")
    args = parser.parse_args()
    logging.getLogger("lightning").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        run = trained_run(args.run, tmp, args.arch)
        report = json.loads((run / "report.json").read_text())
        model = load(run).net  # the inputs below are prepared as the run prepared them
    datamodule = DataModule("mnist", (1, 28, 28), MNIST)
    datamodule.setup()
    images, labels = datamodule.splits["test"]
    fill = datamodule.background
    wide, _ = make_strips(images, labels, digits=10, count=1, gap=(0, 0), seed=1, fill=fill)
    strips, sequences = make_strips(images, labels, digits=5, count=args.strips, fill=fill)
    rows = [
        *speed_rows(model, wide, args.repeats, args.threads),
        ("training", f"2 epochs, translate 2, test accuracy {report['test_acc']:.2%}"),
        *accuracy_rows(model, strips, sequences),
    ]
    table = [f"| {k} | {v} |" for k, v in rows]
    text = "\n".join(
        [
            "# Dense scan vs window by window (benchmarks/scan.py)",
            "",
            "| | |",
            "|---|---|",
            *table,
            NOTE,
        ]
    )
    (RESULTS / "scan.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
