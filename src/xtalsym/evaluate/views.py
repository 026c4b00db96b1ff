"""Views: what each beam direction (x, y, z) contributes, from the same test crystals.

The MSDN sums one head's logits per stream (:class:`xtalsym.models.MSDN`), so the prediction
from a subset of beams is the sum of that subset's heads: one backbone pass gives all seven
subsets, and the full subset is exactly the model's output. A stacked-channel model (VGG,
ResNet, stacked DenseNet) has no per-beam head; there a left-out beam is a blank (zero)
channel, which the network never saw in training, so its single-beam numbers are a lower
bound rather than a clean ablation. The set MSDN (``msdn_set``) is trained on one to three
patterns: a left-out pattern is simply absent, its numbers with one or two patterns are what
a user with one or two patterns gets (beams x, y, z then name the first, second and third
pattern, along whatever zone axes were drawn).
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

import numpy as np
import torch
from torch import nn

from ..channels import AXES

#: How a subset's answer is read, per architecture (others: the left-out beams blanked).
VIEW_METHODS = {"msdn": "heads summed", "msdn_set": "patterns left out of the set"}
#: Beam subsets, as indices into (x, y, z): singles, pairs, all three.
SUBSETS: tuple[tuple[int, ...], ...] = tuple(
    c for r in (1, 2, 3) for c in combinations(range(3), r)
)


def subset_name(subset: tuple[int, ...]) -> str:
    """``x``, ``x+y``, ``x+y+z``."""
    return "+".join(AXES[i] for i in subset)


@torch.no_grad()
def view_logits(
    model: nn.Module,
    card: dict[str, Any],
    images_uint8: np.ndarray | torch.Tensor,
    device: str = "cpu",
    batch_size: int = 64,
) -> dict[tuple[int, ...], np.ndarray]:
    """Raw logits (B, K) of every subset of :data:`SUBSETS`; ``(0, 1, 2)`` is the model's own
    output. Images (B, 3 axes, C, S, S) uint8 as for :func:`xtalsym.inference.predict_logits`.
    """
    from ..inference import check_images
    from ..models import compose_inputs

    images = torch.as_tensor(images_uint8)
    check_images(card, images.shape)
    dev = torch.device(device)
    model.eval().to(dev)
    parts: dict[tuple[int, ...], list[torch.Tensor]] = {s: [] for s in SUBSETS}
    for start in range(0, images.shape[0], batch_size):
        x = compose_inputs(images[start : start + batch_size].to(dev), card["arch"])
        if card["arch"] == "msdn":
            per = model.stream_logits(x).float()
            for s in SUBSETS:
                parts[s].append(per[:, list(s)].sum(1).cpu())
        else:
            for s in SUBSETS:
                keep = torch.zeros(3, device=dev)
                keep[list(s)] = 1.0
                # a set model reads an all-zero pattern as absent; stacked ones a blank channel
                keep = keep.view(1, 3, *([1] * (x.ndim - 2)))
                parts[s].append(model(x * keep).float().cpu())
    k = len(card["classes"])
    return {
        s: torch.cat(v).numpy() if v else np.zeros((0, k), np.float32) for s, v in parts.items()
    }


def views_table(
    logits: dict[tuple[int, ...], np.ndarray],
    y_true: np.ndarray,
    card: dict[str, Any],
) -> list[dict[str, Any]]:
    """One row per subset: ``beams``, ``n_beams``, ``sg_top1``, ``cs_accuracy``, ``n``
    (logits read with the card's logit adjustment; the temperature changes no argmax)."""
    from ..inference import inference_logits
    from .metrics import system_indices

    y_true = np.asarray(y_true, dtype=np.int64)
    systems = system_indices([int(c) for c in card["classes"]])
    rows = []
    for s in SUBSETS:
        pred = inference_logits(logits[s], card, calibrated=False).argmax(axis=1)
        n = len(y_true)
        rows.append(
            {
                "beams": subset_name(s),
                "n_beams": len(s),
                "sg_top1": float((pred == y_true).mean()) if n else 0.0,
                "cs_accuracy": float((systems[pred] == systems[y_true]).mean()) if n else 0.0,
                "n": n,
                "method": VIEW_METHODS.get(card["arch"], "other beams blanked"),
            }
        )
    return rows


__all__ = ["AXES", "SUBSETS", "subset_name", "view_logits", "views_table"]
