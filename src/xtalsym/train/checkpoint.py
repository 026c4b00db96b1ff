"""The trainer's checkpoint: its file, its identity (the run hash) and its atomic I/O.

A checkpoint is resumed only when its run hash matches: the settings that determine the
weights and the identity of every input file, so neither a changed setting nor images rewritten
by their stage (issue 22.5) ever continue a run of other data.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import torch

from ..config import strip_runtime
from ..io import artifact_id, atomic_path, config_hash

logger = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.pt"


def compute_run_hash(cfg: dict[str, Any], model_name: str, *inputs: str | os.PathLike) -> str:
    """Hash of everything that determines the trained weights: the settings (not the runtime
    keys, nor the other models) and the identity of each input file (:func:`artifact_id`), so
    images rewritten by a rerun of their stage never resume a checkpoint of the old ones."""
    tcfg = strip_runtime({"train": cfg["train"]})["train"]
    del tcfg["models"]
    return config_hash(
        {
            "train": tcfg,
            "model": {"name": model_name, **cfg["train"]["models"][model_name]},
            "classes": cfg["classes"],
            "seed": cfg["seed"],
            "imbalance": cfg["split"]["imbalance"],
            "data": [artifact_id(p) for p in inputs],
        }
    )


def save_checkpoint(path: Path, ckpt: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        torch.save(ckpt, tmp)


def load_checkpoint(path: Path, run_hash: str) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a foreign or damaged file: start over rather than fail
        logger.warning("ignoring unreadable checkpoint %s (%s)", path, e)
        return None
    if ckpt.get("run_hash") != run_hash:
        logger.warning("checkpoint %s is from a different config or data; starting over", path)
        return None
    return ckpt
