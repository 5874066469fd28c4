"""Ranks started by torchrun or SLURM: their environment, detected as Lightning detects it.

Under ``torchrun`` or ``srun`` every process of a run is started by the launcher,
on every node, before convzoo runs; Lightning then only joins them. It picks
``TorchElasticEnvironment`` or ``SLURMEnvironment`` from their variables (torchrun
first: it can run inside a SLURM job) and checks the launcher's count of
processes against ``num_nodes x devices`` with a ``ValueError`` and a traceback on
every rank. The two environments here are Lightning's own, detected the same way,
whose check raises one ``ConvzooError`` instead, naming the launcher's world size
and the flags that match it; ``check`` runs it before the run writes anything,
and refuses ``--num-nodes`` above 1 where no launcher started the process, which
would otherwise wait, silent, for nodes that never come.
"""

from __future__ import annotations

import os

from lightning.fabric.plugins.environments import (
    ClusterEnvironment,
    SLURMEnvironment,
    TorchElasticEnvironment,
)

from convzoo.errors import ConvzooError


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

    def validate_settings(self, num_devices: int, num_nodes: int) -> None:
        try:
            super().validate_settings(num_devices, num_nodes)
        except ValueError:
            nodes = int(os.environ.get("SLURM_NNODES", "1"))
            per_node = self.world_size() // nodes
            raise mismatch(
                "SLURM", "SLURM_NTASKS", self.world_size(), per_node, num_nodes, num_devices
            ) from None


def check(num_nodes: int, devices: int) -> None:
    """Refuse a launch whose process count is not ``num_nodes x devices`` before the run
    touches its directory; Lightning checks the same only once the Trainer is built."""
    env = environment()
    if env is not None:
        env.validate_settings(devices, num_nodes)
    elif num_nodes > 1:
        raise ConvzooError(
            f"--num-nodes {num_nodes}: a run over several machines is started on each of them "
            "by torchrun or srun, and none started this one (it would wait for the other "
            "nodes forever); see the README's section Several machines, or drop --num-nodes"
        )


def environment() -> ClusterEnvironment | None:
    """The launcher that started this process, in Lightning's order, or None (Lightning's
    own launcher starts the ranks)."""
    for kind in (Torchrun, Slurm):
        if kind.detect():
            return kind()
    return None
