"""Classification metrics from predicted probabilities, in plain numpy.

Conventions (fixed, so numbers are comparable between runs and models):

* Labels are class indices into an ascending list of space-group numbers (``classes``);
  probabilities are (N, K) with columns in that order.
* Top-k: a crystal counts when its true class is among the k largest probabilities (ties
  broken by class order, the same ranking as ``predictions.csv``).
* Per class: precision = TP / predicted, recall = TP / support, F1 = 2PR / (P + R); a ratio
  with a zero denominator is 0 (sklearn's ``zero_division=0``).
* Balanced accuracy (mean recall) and macro F1 average over the classes **present in the
  true labels** (support > 0). Classes that are only predicted still cost precision and
  recall of the classes they were confused with, but are not averaged themselves: a test
  split missing a class is not scored on it.
* Crystal-system metrics use the crystal system of the predicted space group.
* Confusion rate between systems A and B: (A predicted as B + B predicted as A) divided by
  the number of crystals of A and B; directional rates ``A->B`` divide by A's count only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..spacegroups import CRYSTAL_SYSTEMS, crystal_system_index

#: The paper's qualitative finding: the pairs of systems MSDN separates better than CNNs.
CONFUSION_PAIRS: dict[str, tuple[str, str]] = {
    "confusion_mono_ortho": ("monoclinic", "orthorhombic"),
    "confusion_trig_hex": ("trigonal", "hexagonal"),
}


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def top_k(proba: np.ndarray, k: int) -> np.ndarray:
    """Class indices (N, min(k, K)) of the k largest probabilities, best first (stable ties)."""
    proba = np.asarray(proba)
    k = min(int(k), proba.shape[1])
    return np.argsort(-proba, axis=1, kind="stable")[:, :k]


def top_k_accuracy(y_true: np.ndarray, proba: np.ndarray, k: int) -> float:
    """Fraction of rows whose true class is among the k most probable."""
    y_true = np.asarray(y_true)
    if len(y_true) == 0:
        return 0.0
    return float((top_k(proba, k) == y_true[:, None]).any(axis=1).mean())


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts (n_classes, n_classes): row = true class, column = predicted class."""
    y_true, y_pred = np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)
    flat = np.bincount(y_true * n_classes + y_pred, minlength=n_classes * n_classes)
    return flat.reshape(n_classes, n_classes)


def per_class(cm: np.ndarray) -> dict[str, np.ndarray]:
    """Precision, recall, F1 and support per class from a confusion matrix."""
    tp = np.diag(cm).astype(float)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    precision = _ratio(tp, predicted)
    recall = _ratio(tp, support)
    f1 = _ratio(2 * precision * recall, precision + recall)
    return {"precision": precision, "recall": recall, "f1": f1, "support": support}


def balanced_accuracy(cm: np.ndarray) -> float:
    """Mean recall over the classes present in the true labels."""
    pc = per_class(cm)
    present = pc["support"] > 0
    return float(pc["recall"][present].mean()) if present.any() else 0.0


def macro_f1(cm: np.ndarray) -> float:
    """Mean F1 over the classes present in the true labels."""
    pc = per_class(cm)
    present = pc["support"] > 0
    return float(pc["f1"][present].mean()) if present.any() else 0.0


def system_indices(classes: Sequence[int]) -> np.ndarray:
    """Crystal-system index (into CRYSTAL_SYSTEMS) of each class."""
    return np.array([crystal_system_index(sg) for sg in classes], dtype=np.int64)


def confusion_rates(cm_cs: np.ndarray) -> dict[str, float | None]:
    """Symmetric and directional confusion rates between the systems of CONFUSION_PAIRS.

    None where neither system (directional: the source system) occurs in the true labels.
    """
    support = cm_cs.sum(axis=1)
    out: dict[str, float | None] = {}
    for key, (a, b) in CONFUSION_PAIRS.items():
        i, j = CRYSTAL_SYSTEMS.index(a), CRYSTAL_SYSTEMS.index(b)
        den = support[i] + support[j]
        out[key] = float((cm_cs[i, j] + cm_cs[j, i]) / den) if den else None
        for src, dst in ((i, j), (j, i)):
            name = f"{CRYSTAL_SYSTEMS[src]}->{CRYSTAL_SYSTEMS[dst]}"
            out[name] = float(cm_cs[src, dst] / support[src]) if support[src] else None
    return out


def compute_metrics(
    y_true: np.ndarray, proba: np.ndarray, classes: Sequence[int], top_k_extra: int = 5
) -> dict[str, Any]:
    """Every metric of one prediction set, JSON-ready.

    ``y_true``: class indices (N,); ``proba``: (N, K) in ``classes`` order. Keys: ``sg_top1``,
    ``sg_top5``, ``sg_balanced_accuracy``, ``sg_macro_f1``, ``cs_accuracy`` (fractions),
    ``n``; ``sg_top{k}`` for ``top_k_extra``; ``cs_per_system`` (accuracy and count per
    true system present); ``cs_confusion`` (7 x 7 counts, rows true, CRYSTAL_SYSTEMS
    order); the confusion rates of :func:`confusion_rates`; ``n_classes_present``.
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    proba = np.asarray(proba)
    n_classes = len(classes)
    if proba.ndim != 2 or proba.shape != (len(y_true), n_classes):
        raise ValueError(f"proba must be ({len(y_true)}, {n_classes}), got {proba.shape}")
    y_pred = proba.argmax(axis=1) if len(y_true) else np.zeros(0, np.int64)
    cm = confusion_matrix(y_true, y_pred, n_classes)
    systems = system_indices(classes)
    cs_true, cs_pred = systems[y_true], systems[y_pred]
    cm_cs = confusion_matrix(cs_true, cs_pred, len(CRYSTAL_SYSTEMS))
    cs_support = cm_cs.sum(axis=1)
    metrics: dict[str, Any] = {
        "n": int(len(y_true)),
        "sg_top1": top_k_accuracy(y_true, proba, 1),
        "sg_top5": top_k_accuracy(y_true, proba, 5),
        f"sg_top{int(top_k_extra)}": top_k_accuracy(y_true, proba, top_k_extra),
        "sg_balanced_accuracy": balanced_accuracy(cm),
        "sg_macro_f1": macro_f1(cm),
        "cs_accuracy": float((cs_true == cs_pred).mean()) if len(y_true) else 0.0,
        "cs_balanced_accuracy": balanced_accuracy(cm_cs),
        "cs_per_system": {
            name: {"accuracy": float(cm_cs[i, i] / cs_support[i]), "n": int(cs_support[i])}
            for i, name in enumerate(CRYSTAL_SYSTEMS)
            if cs_support[i]
        },
        "cs_confusion": cm_cs.tolist(),
        "n_classes_present": int((cm.sum(axis=1) > 0).sum()),
    }
    metrics.update(confusion_rates(cm_cs))
    return metrics
