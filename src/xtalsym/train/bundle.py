"""The model bundle: ``model.pt`` (state dict), ``model_card.json``, ``history.csv``.

The card holds everything needed to rebuild the network and to prepare its inputs
(architecture, class order, input size and mode, simulation and shaping settings).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from ..io import atomic_path, check_artifact, write_json, write_table
from ..models import build_model
from .data import compose_inputs

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


@torch.no_grad()
def predict_logits(
    model: nn.Module,
    card: dict[str, Any],
    images_uint8: np.ndarray | torch.Tensor,
    device: str = "cpu",
    batch_size: int = 64,
) -> np.ndarray:
    """Raw logits (B, n_classes) float32, columns in ``card["classes"]`` order.

    ``images_uint8``: (B, 3 axes, C, S, S) as in the shaping artifact, with C = 2 for a model
    trained on shaped images and C = 1 for unshaped, and S = ``card["input_size"]``.
    """
    images = torch.as_tensor(images_uint8)
    want_c = 2 if card["input_mode"] == "shaped" else 1
    s = card["input_size"]
    if images.ndim != 5 or tuple(images.shape[1:]) != (3, want_c, s, s):
        raise ValueError(
            f"model {card.get('name')!r} expects {card['input_mode']} images "
            f"(B, 3, {want_c}, {s}, {s}), got {tuple(images.shape)}"
        )
    model.eval()
    dev = torch.device(device)
    model.to(dev)
    out = []
    for start in range(0, images.shape[0], batch_size):
        x = compose_inputs(images[start : start + batch_size].to(dev), card["arch"])
        out.append(model(x).float().cpu())
    if not out:
        return np.zeros((0, len(card["classes"])), dtype=np.float32)
    return torch.cat(out).numpy()


def inference_logits(
    logits: np.ndarray, card: dict[str, Any], *, calibrated: bool = True
) -> np.ndarray:
    """Logits as the card says to read them: plus the card's ``logit_adjustment`` (the log
    class prior of the training split, imbalance ``logit_adjust``), then divided by the
    calibration temperature (``card["calibration"]["temperature"]``) when ``calibrated``."""
    z = np.asarray(logits, dtype=np.float64)
    adjust = card.get("logit_adjustment")
    if adjust is not None:
        z = z + np.asarray(adjust, dtype=np.float64)
    if calibrated:
        z = z / float((card.get("calibration") or {}).get("temperature") or 1.0)
    return z


def predict_proba(
    model: nn.Module,
    card: dict[str, Any],
    images_uint8: np.ndarray | torch.Tensor,
    device: str = "cpu",
    batch_size: int = 64,
    *,
    calibrated: bool = True,
) -> np.ndarray:
    """Softmax probabilities (B, n_classes) float32, columns in ``card["classes"]`` order.

    Images as for :func:`predict_logits`; the logits are read by :func:`inference_logits`
    (logit adjustment and, when ``calibrated``, the card's temperature; a card without them
    gives the plain softmax).
    """
    z = inference_logits(
        predict_logits(model, card, images_uint8, device, batch_size), card, calibrated=calibrated
    )
    if len(z) == 0:
        return z.astype(np.float32)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
