"""What is special about a run over several processes: strategies, launchers, timeouts, rank zero.

The ranks run Lightning's own strategies; convzoo adds no launcher. What it adds:

- ``strategy(name, timeout)``: Lightning's strategy ``name`` with a timeout on every
  collective, and for DDP the settings that suit small nets (``SMALL_NET``).
- Ranks that torchrun or SLURM started: ``environment()`` detects the launcher from
  its variables as Lightning does (torchrun first: it can run inside a SLURM job),
  with Lightning's own environments (``Torchrun``, ``Slurm``), whose check of the
  launcher's count of processes against ``num_nodes x devices`` raises one
  ``ConvzooError`` naming the launcher's world size and the flags that match it,
  instead of a ``ValueError`` and a traceback on every rank. Lightning is always
  handed that environment (in the strategy, else as a plugin: ``plugins``), so that
  under SLURM it never makes its own, whose signal handler would write snapshots and
  requeue the job: ``Slurm`` leaves SLURM's signals to convzoo (``preemption.py``).
- A rank that stops answering (stopped, swapped out, deadlocked): the others give up
  after ``ddp_timeout`` seconds with a backend error (``is_timeout``); a rank that
  was killed is noticed at once, its peers' connections closed (``is_lost``). Rank
  zero then names the ranks that hung or died -- it launched them, so it can see
  their processes -- ends them, so that no process is left behind, and raises one
  ``RankTimeout`` instead of a traceback (``timed_out``). Ranks that a launcher
  started are that launcher's to end.
- Only rank zero writes a run's files and holds its directory's lock (``is_rank_zero``).
"""

from __future__ import annotations

import inspect
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.fabric.plugins.environments import (
    ClusterEnvironment,
    SLURMEnvironment,
    TorchElasticEnvironment,
)
from lightning.pytorch.strategies import DDPStrategy, StrategyRegistry
from lightning.pytorch.utilities import rank_zero_only

from convzoo.errors import ConvzooError


def is_rank_zero() -> bool:
    """False in the extra processes of a DDP run (rank zero writes the run's files)."""
    return getattr(rank_zero_only, "rank", 0) == 0


def mismatch(
    launcher: str, variable: str, world: int, per_node: int, num_nodes: int, devices: int
) -> ConvzooError:
    """The error for a launcher that started ``world`` processes, ``per_node`` on each node,
    when the run asks for ``num_nodes x devices``."""
    return ConvzooError(
        f"{launcher} started {world} processes ({variable}={world}), {per_node} per node, but "
        f"--num-nodes {num_nodes} x --devices {devices} makes {num_nodes * devices}; run "
        f"convzoo train with --num-nodes {max(world // per_node, 1)} --devices {per_node}"
    )


class Torchrun(TorchElasticEnvironment):
    """torchrun's ranks (``TORCHELASTIC_RUN_ID`` set), whose count must be the run's."""

    launcher = "torchrun"

    def validate_settings(self, num_devices: int, num_nodes: int) -> None:
        per_node = int(os.environ.get("LOCAL_WORLD_SIZE", num_devices))
        if (num_nodes * num_devices, num_devices) != (self.world_size(), per_node):
            raise mismatch(
                "torchrun", "WORLD_SIZE", self.world_size(), per_node, num_nodes, num_devices
            )


class Slurm(SLURMEnvironment):
    """SLURM's tasks (``srun``), whose count must be the run's."""

    launcher = "srun"

    def __init__(self) -> None:
        super().__init__(auto_requeue=False)  # SLURM's signals are convzoo's: preemption.py

    def validate_settings(self, num_devices: int, num_nodes: int) -> None:
        try:
            super().validate_settings(num_devices, num_nodes)
        except ValueError:
            nodes = int(os.environ.get("SLURM_NNODES", "1"))
            per_node = self.world_size() // nodes
            raise mismatch(
                "SLURM", "SLURM_NTASKS", self.world_size(), per_node, num_nodes, num_devices
            ) from None


def environment() -> ClusterEnvironment | None:
    """The launcher that started this process, in Lightning's order, or None (Lightning's
    own launcher starts the ranks)."""
    for kind in (Torchrun, Slurm):
        if kind.detect():
            return kind()
    return None


def plugins(strategy: Any) -> list[ClusterEnvironment]:
    """The launcher's environment as a Trainer plugin, where ``strategy`` does not carry it."""
    env = environment()
    if env is None or getattr(strategy, "cluster_environment", None) is not None:
        return []
    return [env]


class RankTimeout(ConvzooError):
    """A DDP collective timed out or lost its peer: a rank hung or died. The run can be
    resumed."""

    exit_code = 1


# What matters for small nets, whose step is short next to DDP's bookkeeping: no search
# for unused parameters after every backward (a strategy name can still ask for it),
# gradients that are views of the all-reduce buckets (no copy in and out), and a static
# graph (every step uses every parameter the same way), which lets DDP skip its checks.
SMALL_NET = {"find_unused_parameters": False, "gradient_as_bucket_view": True, "static_graph": True}


def strategy(name: str, timeout: int) -> Any:
    """Lightning's strategy ``name``, with a collective timeout where it takes one; a DDP
    strategy with the settings of ``SMALL_NET`` its name does not override.

    In ranks that torchrun or SLURM started (``environment``) the strategy takes that
    launcher's environment, which checks the run's size, and ``auto`` is DDP when there
    is more than one rank: Lightning's own choice for one device would train each rank
    alone, all into the same run directory."""
    env = environment()
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


PEER_GONE = ("connection reset by peer", "connection closed by peer")  # gloo, of a killed rank


def is_lost(exc: BaseException) -> bool:
    """Whether ``exc`` is a collective that lost a rank: it timed out (``is_timeout``), or the
    rank it talked to is gone (``PEER_GONE``: a rank that was killed closes its sockets)."""
    return is_timeout(exc) or any(words in str(exc).lower() for words in PEER_GONE)


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


def timed_out(
    trainer: L.Trainer, timeout: int, out: Path, exc: BaseException | None = None
) -> RankTimeout:
    """End the ranks this process launched and say which of them hung or died (``exc``, the
    error that lost them, tells a timeout from a rank that is gone); ranks that a launcher
    (torchrun, srun) started are that launcher's to end."""
    seen, procs = _ranks(trainer)
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    waited = exc is None or is_timeout(exc)
    if waited:
        how = f"waited {timeout} s (--ddp-timeout) for the other ranks and gave up"
    else:
        how = "lost its connection to another rank"
    who = "; ".join(seen) if seen else f"another rank {'stopped answering' if waited else 'ended'}"
    environment = getattr(trainer.strategy, "cluster_environment", None)
    if not procs and getattr(environment, "creates_processes_externally", False):
        ended = (
            f"This rank ends now; {getattr(environment, 'launcher', 'the launcher')}, which "
            "started the ranks, ends the others"
        )
    else:
        ended = "Every process of the run was ended"
    return RankTimeout(
        f"DDP rank {trainer.global_rank} {how}: {who}. {ended}; continue it with "
        f"convzoo train ... --out {out} --resume"
    )
