"""DDP that cannot hang: a timeout on every collective, and a clear end when a rank stops.

Lightning's DDP strategies take a collective timeout; convzoo passes its
``ddp_timeout`` to whichever strategy of the name given accepts one. When a rank
stops answering (stopped, swapped out, deadlocked) the others give up after that
many seconds with a backend error: rank zero then names the ranks that hung or
died -- it launched them, so it can see their processes -- ends them, so that
no process is left behind, and raises one ``RankTimeout`` instead of a traceback.
Ranks that torchrun or SLURM started get that launcher's environment (``launched``).
"""

from __future__ import annotations

import inspect
from datetime import timedelta
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.strategies import DDPStrategy, StrategyRegistry

from convzoo.errors import ConvzooError
from convzoo.train import launched


class RankTimeout(ConvzooError):
    """A DDP collective timed out: a rank hung or died. The run can be resumed."""

    exit_code = 1


# What matters for small nets, whose step is short next to DDP's bookkeeping: no search
# for unused parameters after every backward (a strategy name can still ask for it),
# gradients that are views of the all-reduce buckets (no copy in and out), and a static
# graph (every step uses every parameter the same way), which lets DDP skip its checks.
SMALL_NET = {"find_unused_parameters": False, "gradient_as_bucket_view": True, "static_graph": True}


def strategy(name: str, timeout: int) -> Any:
    """Lightning's strategy ``name``, with a collective timeout where it takes one; a DDP
    strategy with the settings of ``SMALL_NET`` its name does not override.

    In ranks that torchrun or SLURM started (``launched``) the strategy takes that
    launcher's environment, which checks the run's size, and ``auto`` is DDP when there
    is more than one rank: Lightning's own choice for one device would train each rank
    alone, all into the same run directory."""
    env = launched.environment()
    if name == "auto" and env is not None and env.world_size() > 1:
        name = "ddp"
    if name not in StrategyRegistry:
        return name
    entry = StrategyRegistry[name]
    cls, params = entry["strategy"], entry["init_params"]
    accepted = inspect.signature(cls).parameters
    if "timeout" not in accepted:
        return name
    if env is not None and "cluster_environment" in accepted:
        params = {**params, "cluster_environment": env}
    if issubclass(cls, DDPStrategy):
        params = {**SMALL_NET, **params}
        if params["find_unused_parameters"]:  # asked for: the graph may change between steps
            params["static_graph"] = False
    return cls(**params, timeout=timedelta(seconds=timeout))


def is_timeout(exc: BaseException) -> bool:
    """Whether ``exc`` is a collective that timed out (gloo: "Timed out waiting" or, from a
    peer's connection, "Application timeout caused pair closure"; NCCL's watchdog: a
    ``DistBackendError``)."""
    text = str(exc).lower()
    return isinstance(exc, torch.distributed.DistError) or "timed out" in text or "timeout" in text


def _state(pid: int) -> str:
    """The kernel's one-letter state of a process (``T``: stopped), or ``?``."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return "?"
    return stat.rsplit(")", 1)[-1].split()[0]


def _ranks(trainer: L.Trainer) -> tuple[list[str], list[Any]]:
    """What became of each rank this process launched, and their processes."""
    procs = list(getattr(getattr(trainer.strategy, "launcher", None), "procs", []) or [])
    seen = []
    for rank, proc in enumerate(procs, start=1):
        if proc.poll() is not None:
            seen.append(f"rank {rank} (process {proc.pid}) died with status {proc.returncode}")
        elif _state(proc.pid) in ("T", "t"):
            seen.append(f"rank {rank} (process {proc.pid}) is stopped")
    return seen, procs


def timed_out(trainer: L.Trainer, timeout: int, out: Path) -> RankTimeout:
    """End the ranks this process launched and say which of them hung or died; ranks that
    a launcher (torchrun, srun) started are that launcher's to end."""
    seen, procs = _ranks(trainer)
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    who = "; ".join(seen) if seen else "another rank stopped answering"
    environment = getattr(trainer.strategy, "cluster_environment", None)
    if getattr(environment, "creates_processes_externally", False):
        ended = (
            f"This rank ends now; {getattr(environment, 'launcher', 'the launcher')}, which "
            "started the ranks, ends the others"
        )
    else:
        ended = "Every process of the run was ended"
    return RankTimeout(
        f"DDP rank {trainer.global_rank} waited {timeout} s (--ddp-timeout) for the other "
        f"ranks and gave up: {who}. {ended}; continue it with "
        f"convzoo train ... --out {out} --resume"
    )
