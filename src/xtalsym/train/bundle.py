"""The model bundle: ``model.pt`` (state dict), ``model_card.json``, ``history.csv``.

The card holds everything needed to rebuild the network and to prepare its inputs
(architecture, class order, input size and mode, simulation and shaping settings). Inference
(logits, probabilities) is :mod:`xtalsym.inference`, re-exported here.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn

from ..inference import inference_logits, predict_logits, predict_proba
from ..io import atomic_path, check_artifact, write_json, write_table
from ..models import build_model

WEIGHTS, CARD, HISTORY = "model.pt", "model_card.json", "history.csv"


def save_bundle(
    out_dir: str | os.PathLike,
    state_dict: dict[str, torch.Tensor],
    card: dict[str, Any],
    history: pd.DataFrame,
) -> None:
    """Write the three bundle files atomically (weights last-but-one, card last)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_table(out / HISTORY, history)
    with atomic_path(out / WEIGHTS) as tmp:
        torch.save({k: v.detach().cpu() for k, v in state_dict.items()}, tmp)
    write_json(out / CARD, card)


def load_bundle(model_dir: str | os.PathLike, device: str = "cpu") -> tuple[nn.Module, dict]:
    """The trained model (eval mode, on ``device``) and its card."""
    model_dir = Path(model_dir)
    card = json.loads(check_artifact(model_dir / CARD).read_text())
    check_artifact(model_dir / WEIGHTS)
    model = build_model(card["arch"], len(card["classes"]), **card["arch_params"])
    state = torch.load(model_dir / WEIGHTS, map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model.to(device).eval(), card


__all__ = [
    "CARD", "HISTORY", "WEIGHTS", "inference_logits", "load_bundle", "predict_logits",
    "predict_proba", "save_bundle",
]  # fmt: skip
