"""The learning-rate schedule and the early-stopping comparison of the trainer."""

from __future__ import annotations

import math


def lr_factor(step: int, warmup: int, total: int) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine from 1 to 0.01 at ``total``."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return 0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * progress))


def improved(score: list[float], best: list[float] | None, min_delta: float = 1e-4) -> bool:
    """Whether ``score`` = [accuracy, loss] beats ``best``: higher accuracy, or the same
    accuracy and a loss lower by more than ``min_delta`` (so noise-level changes do not
    reset early stopping)."""
    if best is None:
        return True
    acc, loss = score
    best_acc, best_loss = best
    if not math.isfinite(acc):  # no labels to score: every epoch counts
        return True
    return acc > best_acc or (acc == best_acc and loss < best_loss - min_delta)
