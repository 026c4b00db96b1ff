"""Predictions users can trust: the calibration, abstention, hierarchy, physical-limit and
prior blocks of every evaluated set's ``metrics.json``, and its per-set figures.

Keys added to the metrics (docs/evaluation.md): ``calibration`` (ECE before and after
temperature scaling, reliability bins), ``abstention`` (accuracy at 50 % and 80 % coverage,
the risk-coverage curve), ``hierarchy`` (accuracy per level of
:data:`xtalsym.evaluate.hierarchy.LEVELS`), ``physical_limit`` (the diffraction-symbol oracle
beside the model) and ``prior`` (top-1 with and without the training log prior added).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .calibration import calibration_summary, log_probabilities, softmax
from .coverage import coverage_summary
from .hierarchy import hierarchy_accuracy, oracle_accuracy
from .metrics import balanced_accuracy, confusion_matrix


def class_counts(card: dict[str, Any], train_counts: np.ndarray | None) -> tuple[np.ndarray, str]:
    """Training count per class and where it came from (given, the card's, or uniform)."""
    k = len(card["classes"])
    if train_counts is not None:
        return np.asarray(train_counts, dtype=np.float64), "training split"
    if card.get("train_class_counts") is not None:
        return np.asarray(card["train_class_counts"], dtype=np.float64), "model card"
    return np.ones(k), "unknown (uniform)"


def prior_comparison(
    y_true: np.ndarray, proba: np.ndarray, card: dict[str, Any], counts: np.ndarray
) -> dict[str, Any]:
    """Top-1 and balanced accuracy with and without the log training prior in the logits.

    A model trained with ``logit_adjust`` already carries the prior (it is removed for the
    'without' row); any other model gets it added post hoc, which is what ``logit_adjust``
    would do at inference to a balanced model.
    """
    from ..train.trainer import log_prior

    y_true = np.asarray(y_true, dtype=np.int64)
    k = proba.shape[1]
    z = log_probabilities(proba)
    adj = log_prior(counts)
    carried = card.get("logit_adjustment") is not None
    with_p, without = (z, z - adj) if carried else (z + adj, z)
    out: dict[str, Any] = {"trained": card.get("imbalance"), "prior_in_model": carried}
    for key, zz in (("without_prior", without), ("with_prior", with_p)):
        pred = zz.argmax(axis=1) if len(y_true) else np.zeros(0, np.int64)
        out[f"sg_top1_{key}"] = float((pred == y_true).mean()) if len(y_true) else 0.0
        out[f"sg_balanced_{key}"] = balanced_accuracy(confusion_matrix(y_true, pred, k))
    support = np.bincount(y_true, minlength=k)
    present = support[support > 0]
    out["test_imbalance"] = float(present.max() / present.min()) if len(present) else None
    return out


def trust_metrics(
    y_true: np.ndarray,
    proba: np.ndarray,
    card: dict[str, Any],
    *,
    proba_uncalibrated: np.ndarray | None = None,
    train_counts: np.ndarray | None = None,
) -> dict[str, Any]:
    """The five blocks of the module docstring for one prediction set (JSON-ready).

    ``proba`` (N, K): the model's calibrated probabilities in ``card["classes"]`` order;
    without ``proba_uncalibrated`` the uncalibrated ones are recovered from the card's
    temperature.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    proba = np.asarray(proba, dtype=np.float64)
    classes = [int(c) for c in card["classes"]]
    cal = card.get("calibration") or {}
    if proba_uncalibrated is None and cal.get("temperature"):
        # log p = z / T - const per row, so T log p recovers the logits up to that constant
        proba_uncalibrated = softmax(float(cal["temperature"]) * log_probabilities(proba))
    counts, counts_source = class_counts(card, train_counts)
    hierarchy = hierarchy_accuracy(y_true, proba, classes)
    limit = oracle_accuracy(y_true, classes, counts)
    top1 = hierarchy["space_group"]["accuracy"]
    limit.update(
        prior=counts_source,
        model_sg_top1=top1,
        model_symbol_accuracy=hierarchy["diffraction_symbol"]["accuracy"],
        gap_physics=1.0 - limit["accuracy"],
        gap_model=limit["accuracy"] - top1,
        classes=classes,
    )
    return {
        "calibration": calibration_summary(
            y_true,
            proba,
            proba_uncalibrated,
            temperature=cal.get("temperature"),
            source=cal.get("source", "model card" if cal else "none"),
        ),
        "abstention": coverage_summary(proba, y_true),
        "hierarchy": hierarchy,
        "physical_limit": limit,
        "prior": prior_comparison(y_true, proba, card, counts),
    }


def trust_figures(
    metrics: dict[str, Any], out_dir: str | os.PathLike, prefix: str = "", title: str = ""
) -> None:
    """``{prefix}reliability.png`` and ``{prefix}risk_coverage.png`` of one prediction set."""
    from . import trust_plots

    out = Path(out_dir)
    name = (metrics.get("model") or {}).get("name", "model")
    trust_plots.plot_reliability({name: metrics}, out / f"{prefix}reliability.png", title)
    trust_plots.plot_risk_coverage({name: metrics}, out / f"{prefix}risk_coverage.png", title)


__all__ = ["class_counts", "prior_comparison", "trust_figures", "trust_metrics"]
