"""Start ``train.processes`` training processes for ``xtalsym train``.

Inside a SLURM job (``SLURM_JOB_ID`` set and ``srun`` on the PATH) the processes are the tasks
of one ``srun`` job step, one per GPU, each with ``train.workers`` CPUs for its data loader;
elsewhere ``torchrun --standalone`` starts them on this machine. Either way every process runs
the same command with the same resolved config, finds its rank in the environment
(:func:`.distributed.from_env`) and joins the others. A process that a launcher started, or a
one-process config, trains itself: :func:`launch_command` then returns None.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from typing import Any

from .distributed import from_env


def launch_command(
    cfg: dict[str, Any], train_args: list[str], env: Mapping[str, str] | None = None
) -> list[str] | None:
    """The command that runs ``xtalsym train <train_args>`` (without the config options) in
    ``cfg["train"]["processes"]`` processes with ``cfg`` as their config, or None."""
    env = os.environ if env is None else env
    n = int(cfg["train"]["processes"])
    if n <= 1 or from_env(env).distributed:
        return None
    child = ["-m", "xtalsym", "train", "--params", json.dumps(cfg), *train_args]
    if env.get("SLURM_JOB_ID") and shutil.which("srun", path=env.get("PATH")):
        cpus = max(1, int(cfg["train"]["workers"]))
        # The step gets every GPU of the allocation; rank r uses the r-th (local rank).
        srun = ["srun", f"--ntasks={n}", f"--cpus-per-task={cpus}", "--kill-on-bad-exit=1"]
        return [*srun, sys.executable, *child]
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    return [*torchrun, f"--nproc-per-node={n}", *child]


def relaunch(cfg: dict[str, Any], train_args: list[str]) -> int | None:
    """Run :func:`launch_command` and return its exit status; None: train in this process."""
    cmd = launch_command(cfg, train_args)
    if cmd is None:
        return None
    return subprocess.run(cmd, check=False).returncode
