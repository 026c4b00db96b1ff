"""Calibration: expected calibration error, reliability bins, temperature scaling.

Confidence is the largest class probability of a crystal; a model is calibrated when, among
crystals predicted with confidence c, a fraction c is right. Temperature scaling divides the
logits by one scalar T > 0 fitted on the validation split by minimising the negative
log-likelihood (a bounded 1D search on log T); it changes no ranking, so accuracy and top-k
stay the same, and only the probabilities move.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Equal-width confidence bins of the ECE and the reliability diagram.
N_BINS = 15
#: Search range of the temperature (log-uniform bounds).
T_RANGE = (0.05, 20.0)


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of ``logits / temperature`` (N, K), float64."""
    z = np.asarray(logits, dtype=np.float64) / float(temperature)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def log_probabilities(proba: np.ndarray, floor: float = 1e-30) -> np.ndarray:
    """Logits equivalent to probabilities (log p, floored so a zero stays finite)."""
    return np.log(np.maximum(np.asarray(proba, dtype=np.float64), floor))


def nll(logits: np.ndarray, y_true: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood (nats) of the true classes at ``temperature``."""
    z = np.asarray(logits, dtype=np.float64) / float(temperature)
    m = z.max(axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(z - m).sum(axis=1))
    return float(np.mean(lse - z[np.arange(len(z)), np.asarray(y_true, np.int64)]))


def fit_temperature(logits: np.ndarray, y_true: np.ndarray) -> float:
    """The T in :data:`T_RANGE` minimising the NLL of ``y_true`` (1.0 when there are no rows)."""
    from scipy.optimize import minimize_scalar

    y_true = np.asarray(y_true, dtype=np.int64)
    if len(y_true) == 0:
        return 1.0
    lo, hi = np.log(T_RANGE[0]), np.log(T_RANGE[1])
    res = minimize_scalar(
        lambda u: nll(logits, y_true, np.exp(u)),
        bounds=(lo, hi),
        method="bounded",
        options={"xatol": 1e-4},
    )
    return float(np.exp(res.x))


def reliability_bins(
    confidence: np.ndarray, correct: np.ndarray, n_bins: int = N_BINS
) -> dict[str, np.ndarray]:
    """Per equal-width bin of (0, 1]: ``count``, mean ``confidence``, ``accuracy`` (0 where
    empty) and the bin ``edges`` (n_bins + 1). A confidence c falls in bin ceil(c n) - 1."""
    conf = np.asarray(confidence, dtype=np.float64)
    corr = np.asarray(correct, dtype=np.float64)
    b = np.clip(np.ceil(conf * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
    count = np.bincount(b, minlength=n_bins)
    csum = np.bincount(b, weights=conf, minlength=n_bins)
    asum = np.bincount(b, weights=corr, minlength=n_bins)
    nz = count > 0
    mean_conf = np.divide(csum, count, out=np.zeros(n_bins), where=nz)
    acc = np.divide(asum, count, out=np.zeros(n_bins), where=nz)
    return {
        "edges": np.linspace(0.0, 1.0, n_bins + 1),
        "count": count,
        "confidence": mean_conf,
        "accuracy": acc,
    }


def expected_calibration_error(
    proba: np.ndarray, y_true: np.ndarray, n_bins: int = N_BINS
) -> float:
    """ECE: sum over bins of (bin count / N) x |accuracy - mean confidence| (top-1)."""
    proba = np.asarray(proba)
    y_true = np.asarray(y_true, dtype=np.int64)
    if len(y_true) == 0:
        return 0.0
    bins = reliability_bins(proba.max(axis=1), proba.argmax(axis=1) == y_true, n_bins)
    gap = np.abs(bins["accuracy"] - bins["confidence"])
    return float((bins["count"] * gap).sum() / len(y_true))


def calibration_summary(
    y_true: np.ndarray,
    proba: np.ndarray,
    proba_uncalibrated: np.ndarray | None = None,
    temperature: float | None = None,
    source: str | None = None,
) -> dict[str, Any]:
    """JSON-ready: ``temperature``, its ``source``, ``ece`` (of ``proba``), ``ece_uncalibrated``
    and the NLLs when the uncalibrated probabilities are given, and both reliability tables."""
    y_true = np.asarray(y_true, dtype=np.int64)
    out: dict[str, Any] = {"temperature": temperature, "source": source, "n_bins": N_BINS}

    def block(p: np.ndarray) -> dict[str, Any]:
        p = np.asarray(p)
        b = reliability_bins(p.max(axis=1), p.argmax(axis=1) == y_true) if len(y_true) else None
        return {
            "ece": expected_calibration_error(p, y_true),
            "nll": nll(log_probabilities(p), y_true) if len(y_true) else None,
            "mean_confidence": float(p.max(axis=1).mean()) if len(y_true) else None,
            "bins": {k: v.tolist() for k, v in b.items() if k != "edges"} if b else None,
        }

    out["calibrated"] = block(proba)
    out["ece"] = out["calibrated"]["ece"]
    if proba_uncalibrated is not None:
        out["uncalibrated"] = block(proba_uncalibrated)
        out["ece_uncalibrated"] = out["uncalibrated"]["ece"]
    return out


__all__ = [
    "N_BINS",
    "calibration_summary",
    "expected_calibration_error",
    "fit_temperature",
    "log_probabilities",
    "nll",
    "reliability_bins",
    "softmax",
]
