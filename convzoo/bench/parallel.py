"""``--parallel-cells``: independent cells at the same time, one worker process per device.

Each worker runs one cell, ``python -m convzoo.cli bench SUITE --out OUT
--only CELL --devices 1``, with ``CUDA_VISIBLE_DEVICES`` naming its GPU (on the
CPU, its share of the cores in ``OMP_NUM_THREADS``) and its output in the
cell's ``log.txt``. Workers write their cell's result or error themselves; a
worker that dies without one (out of memory, a segfault, a kill) takes only its
cell down: the cell is recorded as failed with the exit status and the end of
the log, and the next cell starts on the freed device.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import IO

import torch

from convzoo.bench.files import LOG, cell_dir, ended, status
from convzoo.bench.options import BenchOptions
from convzoo.bench.suite import Cell, Suite
from convzoo.errors import ConvzooError

POLL_SECONDS = 0.2
LOG_TAIL = 4000


def uses_gpu(accelerator: str) -> bool:
    """Whether cells will train on GPUs."""
    return accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available())


def gpu_ids() -> list[str]:
    """The GPUs this process may use, as ``CUDA_VISIBLE_DEVICES`` names them."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [v.strip() for v in visible.split(",") if v.strip()]
    return [str(i) for i in range(torch.cuda.device_count())]


def validate_parallel(devices: int, strategy: str, accelerator: str) -> None:
    """``--parallel-cells`` needs one device per worker and no multi-device strategy."""
    if strategy != "auto":
        raise ConvzooError(
            f"--parallel-cells trains each cell on one device; it does not combine with "
            f"--strategy {strategy} (use --devices N --strategy {strategy} without "
            "--parallel-cells to train one cell at a time on all devices)"
        )
    if devices < 1:
        raise ConvzooError(f"--devices {devices}: give a positive number")
    if uses_gpu(accelerator):
        available, what = len(gpu_ids()), "GPUs"
    else:
        available, what = os.cpu_count() or 1, "CPU cores"
    if devices > available:
        raise ConvzooError(
            f"--parallel-cells --devices {devices}: this machine has {available} {what}"
        )


def worker_command(
    suite: Suite, out: Path, cell: Cell, gpu: bool, data_dir: str | None
) -> list[str]:
    """The command line of the worker that runs ``cell``, its data read from ``data_dir``."""
    return [
        sys.executable,
        "-m",
        "convzoo.cli",
        "bench",
        str(suite.path),
        "--out",
        str(out.resolve()),
        "--only",
        cell.id,
        *(["--epochs", str(suite.epochs)] if suite.epochs is not None else []),
        "--devices",
        "1",
        "--accelerator",
        "gpu" if gpu else "cpu",
        *(["--data-dir", data_dir] if data_dir is not None else []),
    ]


def _worker_env(slot: int, devices: int, gpu: bool) -> dict[str, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if gpu:
        env["CUDA_VISIBLE_DEVICES"] = gpu_ids()[slot]
    else:
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // devices))
    return env


def _tail(path: Path) -> str:
    try:
        return path.read_text(errors="replace")[-LOG_TAIL:]
    except OSError:
        return ""


def _finish(out: Path, cell: Cell, code: int) -> dict[str, object]:
    log = cell_dir(out, cell) / LOG
    why = f"the worker exited with status {code} and left no result; see {log}"
    return ended(out, cell, why, _tail(log))


def run_parallel(
    suite: Suite,
    cells: list[Cell],
    options: BenchOptions,
    log: Callable[[str], None],
) -> None:
    """Run ``cells`` in up to ``options.devices`` worker processes at once; returns when all
    ended."""
    out, devices, gpu = options.out, options.devices, uses_gpu(options.accelerator)
    data_dir = options.absolute_data_dir()
    pending = deque(cells)
    free = list(range(devices))
    running: dict[int, tuple[subprocess.Popen[bytes], Cell, IO[bytes]]] = {}
    finished = 0
    try:
        while pending or running:
            while free and pending:
                slot, cell = free.pop(0), pending.popleft()
                folder = cell_dir(out, cell)
                folder.mkdir(parents=True, exist_ok=True)
                output: IO[bytes] = (folder / LOG).open("wb")
                process = subprocess.Popen(
                    worker_command(suite, out, cell, gpu, data_dir),
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    env=_worker_env(slot, devices, gpu),
                )
                running[slot] = (process, cell, output)
                where = f"GPU {gpu_ids()[slot]}" if gpu else f"CPU worker {slot}"
                log(f"started {cell.id} on {where}")
            time.sleep(POLL_SECONDS)
            for slot, (process, cell, output) in list(running.items()):
                if process.poll() is None:
                    continue
                output.close()
                del running[slot]
                free.append(slot)
                finished += 1
                row = _finish(out, cell, process.returncode)
                log(f"[{finished}/{len(cells)}] {cell.id}: {status(row)}")
    finally:
        for process, _, output in running.values():
            process.terminate()
            process.wait()
            output.close()
