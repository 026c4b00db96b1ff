"""Abstention: accuracy against coverage when the model may decline its least sure crystals.

Crystals are ranked by confidence (largest class probability, ties in input order); keeping the
m most confident gives coverage m / N and the accuracy of those m (the risk-coverage curve,
risk = 1 - accuracy). Accuracy at coverage c keeps the ceil(c N) most confident crystals.
:func:`abstain` is the same rule for one prediction at a confidence threshold (``xtalsym
predict --min-confidence P``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

#: Coverages reported as numbers (beside the curve).
COVERAGES: tuple[float, ...] = (0.5, 0.8)


def risk_coverage(proba: np.ndarray, y_true: np.ndarray) -> dict[str, np.ndarray]:
    """``coverage`` (m / N, m = 1..N), ``accuracy`` of the m most confident, and their
    ``confidence`` threshold (the m-th largest confidence)."""
    proba = np.asarray(proba)
    y_true = np.asarray(y_true, dtype=np.int64)
    n = len(y_true)
    if n == 0:
        return {k: np.zeros(0) for k in ("coverage", "accuracy", "confidence")}
    conf = proba.max(axis=1)
    order = np.argsort(-conf, kind="stable")
    correct = (proba.argmax(axis=1) == y_true)[order]
    m = np.arange(1, n + 1)
    return {
        "coverage": m / n,
        "accuracy": np.cumsum(correct) / m,
        "confidence": conf[order],
    }


def accuracy_at_coverage(proba: np.ndarray, y_true: np.ndarray, coverage: float) -> float:
    """Accuracy of the ceil(coverage x N) most confident crystals (0 when there are none)."""
    curve = risk_coverage(proba, y_true)
    n = len(curve["accuracy"])
    if n == 0:
        return 0.0
    m = min(n, max(1, math.ceil(round(coverage * n, 9))))
    return float(curve["accuracy"][m - 1])


def coverage_summary(proba: np.ndarray, y_true: np.ndarray) -> dict[str, Any]:
    """JSON-ready: ``acc_at_50``, ``acc_at_80``, ``aurc`` (area under the risk-coverage curve,
    mean risk over m = 1..N; lower is better) and the curve at up to 101 points."""
    curve = risk_coverage(proba, y_true)
    n = len(curve["coverage"])
    out: dict[str, Any] = {
        f"acc_at_{round(c * 100)}": accuracy_at_coverage(proba, y_true, c) for c in COVERAGES
    }
    out["aurc"] = float(np.mean(1.0 - curve["accuracy"])) if n else None
    keep = np.unique(np.linspace(0, n - 1, min(n, 101)).round().astype(int)) if n else []
    out["curve"] = {k: np.round(v[keep], 6).tolist() for k, v in curve.items()}
    return out


def abstain(
    proba: np.ndarray, classes: Sequence[int], min_confidence: float, k: int = 3
) -> dict[str, Any]:
    """One prediction with abstention: ``decided`` (top probability >= ``min_confidence``),
    ``prediction`` (the space group, or None when undecided) and the ``candidates``: the k
    most probable (space group, probability), best first."""
    p = np.asarray(proba, dtype=np.float64).ravel()
    order = np.argsort(-p, kind="stable")[: max(1, int(k))]
    decided = bool(p[order[0]] >= float(min_confidence))
    return {
        "decided": decided,
        "prediction": int(classes[order[0]]) if decided else None,
        "candidates": [(int(classes[i]), float(p[i])) for i in order],
    }


__all__ = ["COVERAGES", "abstain", "accuracy_at_coverage", "coverage_summary", "risk_coverage"]
