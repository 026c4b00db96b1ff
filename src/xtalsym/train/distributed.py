"""Data-parallel training across processes (torch DistributedDataParallel).

One process per GPU (or, with the gloo backend, per CPU process), started by ``torchrun`` or
by ``srun`` inside a SLURM allocation; :func:`from_env` reads the rank and world size either
launcher leaves in the environment. Without one, training is a single process as before.

``train.batch_size`` stays the *global* batch: every rank computes the same epoch plan (it is a
pure function of (seed, epoch)), cuts the same global batches and takes every ``world``-th
draw of each, so the sequence of optimiser steps, the learning-rate schedule and the
checkpoint do not depend on the number of processes, and a run may resume on a different
number of GPUs. DDP averages the ranks' gradients, which for equal sub-batches is the gradient
of the global batch's mean loss (exactly so without class weights). Rank 0 writes checkpoints
and the bundle; BatchNorm running statistics are rank 0's (DDP broadcasts its buffers).
"""

from __future__ import annotations

import datetime
import logging
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

logger = logging.getLogger(__name__)

#: First port of the rendezvous when srun (not torchrun) starts the processes; the job id is
#: added so that jobs sharing a node do not collide.
_SLURM_BASE_PORT = 29500
#: How long a collective may wait for the slowest rank (s).
_TIMEOUT_S = 3600


@dataclass(frozen=True)
class World:
    """This process's place among the training processes."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    @property
    def main(self) -> bool:
        """Rank 0: the one that logs, writes checkpoints and the bundle."""
        return self.rank == 0


def from_env(env: Mapping[str, str] | None = None) -> World:
    """The world that torchrun (RANK, WORLD_SIZE, LOCAL_RANK) or an srun job step
    (SLURM_PROCID, SLURM_STEP_NUM_TASKS, SLURM_LOCALID) describes; one process otherwise.

    A SLURM batch script itself is not a step (no SLURM_STEP_NUM_TASKS), so a one-task
    ``sbatch`` job, as Snakemake submits it, trains in one process.
    """
    env = os.environ if env is None else env
    if "WORLD_SIZE" in env and "RANK" in env:
        return World(int(env["RANK"]), int(env["WORLD_SIZE"]), int(env.get("LOCAL_RANK", 0)))
    if "SLURM_STEP_NUM_TASKS" in env and "SLURM_PROCID" in env:
        return World(
            int(env["SLURM_PROCID"]),
            int(env["SLURM_STEP_NUM_TASKS"]),
            int(env.get("SLURM_LOCALID", 0)),
        )
    return World()


def _slurm_rendezvous(env: dict[str, str]) -> None:
    """MASTER_ADDR (first host of the step) and MASTER_PORT for an srun-started world."""
    if "MASTER_ADDR" not in env:
        nodes = env.get("SLURM_STEP_NODELIST") or env.get("SLURM_JOB_NODELIST", "")
        host = ""
        if nodes:
            try:
                out = subprocess.run(
                    ["scontrol", "show", "hostnames", nodes],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout.split()
                host = out[0] if out else ""
            except (OSError, subprocess.CalledProcessError):
                host = ""
        env["MASTER_ADDR"] = host or env.get("SLURM_LAUNCH_NODE_IPADDR", "127.0.0.1")
    if "MASTER_PORT" not in env:
        env["MASTER_PORT"] = str(_SLURM_BASE_PORT + int(env.get("SLURM_JOB_ID", 0)) % 20000)


def setup(world: World, device: torch.device) -> torch.device:
    """Join the process group (nccl on CUDA, gloo on the CPU); this rank's device."""
    if not world.distributed:
        return device
    if device.type == "cuda":
        device = torch.device("cuda", world.local_rank % torch.cuda.device_count())
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        if "MASTER_ADDR" not in os.environ or "MASTER_PORT" not in os.environ:
            _slurm_rendezvous(os.environ)  # type: ignore[arg-type]
        dist.init_process_group(
            "nccl" if device.type == "cuda" else "gloo",
            init_method="env://",
            rank=world.rank,
            world_size=world.size,
            # Rank 0 may write the raw training copy while the others wait (minutes).
            timeout=datetime.timedelta(seconds=_TIMEOUT_S),
            device_id=device if device.type == "cuda" else None,
        )
    logger.info("rank %d of %d on %s", world.rank, world.size, device)
    return device


def teardown(world: World) -> None:
    if world.distributed and dist.is_initialized():
        dist.destroy_process_group()


def wrap(model: nn.Module, world: World, device: torch.device) -> nn.Module:
    """The model DistributedDataParallel-wrapped (parameters broadcast from rank 0)."""
    if not world.distributed:
        return model
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)


def unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def too_small(n_global: int, world: World) -> bool:
    """Whether a global batch of ``n_global`` draws is skipped: it cannot give every rank two
    draws (BatchNorm needs two; all ranks see the same plan, so all skip it together)."""
    return n_global < 2 * world.size


def all_sum(values: list[float], world: World, device: torch.device) -> list[float]:
    """Element-wise sum of ``values`` over all ranks (float64)."""
    if not world.distributed:
        return list(values)
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


def sync_buffers(model: nn.Module, world: World) -> None:
    """Rank 0's buffers (BatchNorm running statistics) on every rank, before evaluating."""
    if not world.distributed:
        return
    for buf in unwrap(model).buffers():
        dist.broadcast(buf, src=0)


def barrier(world: World) -> None:
    if world.distributed:
        dist.barrier()
