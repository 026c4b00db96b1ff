"""The evaluate stage: a trained model on the test split, metrics, predictions and figures.

Outputs (docs/artifacts.md, evaluate row) in ``out_dir``: ``metrics.json`` (see
:func:`xtalsym.evaluate.metrics.compute_metrics`, plus the model's card summary and the data it
was measured on), ``predictions.csv`` (``id``, ``true``, ``pred``, ``p_pred``, ``p_true``,
``top5``: the five best space groups, best first, space-separated), ``per_class.csv``
(``spacegroup``, ``symbol``, ``crystal_system``, ``precision``, ``recall``, ``f1``,
``support``, ``predicted``), ``confusion_sg.png`` and ``confusion_cs.png``; from
:mod:`xtalsym.evaluate.trust` the calibration, abstention, hierarchy, physical-limit and
prior blocks of ``metrics.json`` with ``reliability.png`` and ``risk_coverage.png``; for the
test split also ``views.csv`` (accuracy from each subset of beams) and ``calibration.json``
(the temperature used and where it was fitted).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd
from tqdm import tqdm

from ..io import check_artifact, read_ids, write_json, write_table
from ..spacegroups import crystal_system
from ..structures import spacegroup_symbol
from . import figures
from .metrics import compute_metrics, confusion_matrix, per_class, top_k
from .trust import trust_figures, trust_metrics

logger = logging.getLogger(__name__)

# Bytes of images read from HDF5 at once (chunk-aligned slabs, never one read per crystal).
SLAB_BYTES = 64 << 20
# Card keys copied into metrics.json, so a metrics file says what it measured.
CARD_KEYS = (
    "name",
    "arch",
    "arch_params",
    "input_mode",
    "input_size",
    "data_source",
    "config_hash",
    "xtalsym_version",
    "best_epoch",
    "patterns",
    "shaping",
)


def card_summary(card: dict[str, Any]) -> dict[str, Any]:
    return {k: card[k] for k in CARD_KEYS if k in card}


def iter_rows(
    images_path: str | os.PathLike, rows: np.ndarray, variant: int = 0
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (positions into ``rows``, uint8 images (n, 3, C, S, S)) for ascending file rows.

    Reads contiguous chunk-aligned slabs of the ``images`` dataset and keeps the wanted rows.
    """
    rows = np.asarray(rows, dtype=np.int64)
    with h5py.File(images_path, "r") as h5:
        ds = h5["images"]
        n_file = ds.shape[0]
        chunk = ds.chunks[0] if ds.chunks else 1
        row_bytes = int(np.prod(ds.shape[1:]))
        step = max(chunk, (SLAB_BYTES // max(1, row_bytes)) // chunk * chunk)
        for start in range(0, n_file, step):
            lo, hi = np.searchsorted(rows, [start, start + step])
            if hi > lo:
                slab = ds[start : min(start + step, n_file), variant]
                yield np.arange(lo, hi), slab[rows[lo:hi] - start]


def per_class_table(y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence[int]) -> pd.DataFrame:
    cm = confusion_matrix(y_true, y_pred, len(classes))
    pc = per_class(cm)
    return pd.DataFrame(
        {
            "spacegroup": list(classes),
            "symbol": [spacegroup_symbol(c) for c in classes],
            "crystal_system": [crystal_system(c) for c in classes],
            "precision": pc["precision"],
            "recall": pc["recall"],
            "f1": pc["f1"],
            "support": pc["support"],
            "predicted": cm.sum(axis=0),
        }
    )


def write_evaluation(
    out_dir: str | os.PathLike,
    ids: Sequence[str],
    y_true: np.ndarray,
    proba: np.ndarray,
    card: dict[str, Any],
    *,
    top_k_extra: int = 5,
    data: dict[str, Any] | None = None,
    prefix: str = "",
    metrics_path: str | os.PathLike | None = None,
    extra: dict[str, Any] | None = None,
    proba_uncalibrated: np.ndarray | None = None,
    train_counts: np.ndarray | None = None,
    views: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Metrics, predictions, per-class table and both confusion figures of one prediction set.

    Also the trust blocks (:func:`xtalsym.evaluate.trust.trust_metrics`): ``proba`` is read as
    calibrated with the card's temperature, ``proba_uncalibrated`` (optional) gives the ECE
    before calibration, ``train_counts`` (per class; default the card's
    ``train_class_counts``) the physical limit's and the prior's class frequencies, ``views``
    (rows of :func:`xtalsym.evaluate.views.views_table`) go to ``{prefix}views.csv``.

    ``y_true``: class indices into ``card["classes"]``; ``proba``: (N, K) in that order.
    Files go to ``out_dir`` as ``{prefix}predictions.csv`` etc.; the metrics JSON to
    ``metrics_path`` (default ``out_dir/metrics.json``), with ``extra`` keys added. Returns
    the metrics.
    """
    out = Path(out_dir)
    classes = [int(c) for c in card["classes"]]
    cls = np.asarray(classes)
    y_true = np.asarray(y_true, dtype=np.int64)
    metrics = compute_metrics(y_true, proba, classes, top_k_extra)
    metrics["model"] = card_summary(card)
    metrics["data"] = dict(data or {})
    metrics["top_k"] = int(top_k_extra)
    metrics.update(
        trust_metrics(
            y_true, proba, card, proba_uncalibrated=proba_uncalibrated, train_counts=train_counts
        )
    )
    if views is not None:
        metrics["views"] = views
        write_table(out / f"{prefix}views.csv", pd.DataFrame(views))
    metrics.update(extra or {})

    best = top_k(proba, 5)
    y_pred = best[:, 0] if len(y_true) else np.zeros(0, np.int64)
    rows = np.arange(len(y_true))
    predictions = pd.DataFrame(
        {
            "id": list(ids),
            "true": cls[y_true],
            "pred": cls[y_pred],
            "p_pred": np.round(proba[rows, y_pred], 6),
            "p_true": np.round(proba[rows, y_true], 6),
            "top5": [" ".join(map(str, cls[b])) for b in best],
        }
    )
    write_table(out / f"{prefix}predictions.csv", predictions)
    write_table(out / f"{prefix}per_class.csv", per_class_table(y_true, y_pred, classes))

    name = card.get("name", "model")
    title = (
        f"{name}: n = {metrics['n']}, space-group top-1 {metrics['sg_top1']:.3f}, "
        f"crystal system {metrics['cs_accuracy']:.3f}"
    )
    cm = confusion_matrix(y_true, y_pred, len(classes))
    figures.plot_confusion_sg(cm, classes, out / f"{prefix}confusion_sg.png", title)
    figures.plot_confusion_cs(
        np.asarray(metrics["cs_confusion"]), out / f"{prefix}confusion_cs.png", title
    )
    trust_figures(metrics, out, prefix, title)
    write_json(metrics_path or out / "metrics.json", metrics)
    logger.info("%s", title)
    return metrics


def run_evaluate(
    cfg: dict[str, Any],
    model_dir: str | os.PathLike,
    images_path: str | os.PathLike,
    split_path: str | os.PathLike,
    out_dir: str | os.PathLike,
) -> dict[str, Any]:
    """Evaluate the bundle in ``model_dir`` on the test split (variant 0) of ``images_path``.

    Classes come from the model card; crystals of other space groups are dropped (warned).
    Writes the files of the module docstring into ``out_dir`` and returns the metrics.
    """
    from ..inference import Bundle, inference_logits
    from ..split import read_split_rows
    from .calibration import fit_temperature, nll, softmax
    from .views import view_logits, views_table

    check_artifact(images_path)
    check_artifact(split_path)
    bundle = Bundle.load(model_dir)
    card, classes = bundle.card, bundle.classes
    from ..spacegroups import resolve_classes

    if resolve_classes(cfg["classes"]) != classes:
        logger.warning("config classes differ from the model card's; using the card's")
    with h5py.File(images_path, "r") as h5:
        mode = h5.attrs.get("mode")
        all_ids = read_ids(h5)
    if mode is not None and str(mode) != card["input_mode"]:
        raise ValueError(
            f"{images_path} holds {mode} images but model {card.get('name')!r} was trained on "
            f"{card['input_mode']} images"
        )
    splits = read_split_rows(images_path, split_path, classes)
    test, val = splits["test"], splits["val"]
    if len(test) == 0:
        raise ValueError(f"{split_path}: no test crystals of the model's classes")
    subsets: dict[tuple[int, ...], np.ndarray] = {}
    with tqdm(total=len(test), desc=f"evaluate {card.get('name', '')}", unit="crystal") as bar:
        for pos, images in iter_rows(images_path, test.rows, variant=0):
            for s, z in view_logits(bundle.model, card, images, device=bundle.device).items():
                subsets.setdefault(s, np.zeros((len(test), len(classes)), np.float32))[pos] = z
            bar.update(len(pos))
    z_test = inference_logits(subsets[(0, 1, 2)], card, calibrated=False)
    calibration = dict(card.get("calibration") or {})
    if calibration.get("temperature") is not None:
        source = "model card (fitted on the validation split after training)"
    else:  # a bundle from before calibration: fit here, on the same validation split
        z_val = np.zeros((len(val), len(classes)), np.float32)
        for pos, images in iter_rows(images_path, val.rows, variant=0):
            z_val[pos] = bundle.logits(images)
        z_val = inference_logits(z_val, card, calibrated=False)
        t = fit_temperature(z_val, val.labels)
        source = "validation split (fitted by evaluate)" if len(val) else "none (no val split)"
        calibration = {"temperature": t, "fitted_on": "val" if len(val) else None, "n": len(val)}
        if len(val):
            calibration.update(
                val_nll_before=nll(z_val, val.labels), val_nll_after=nll(z_val, val.labels, t)
            )
    temperature = float(calibration["temperature"])
    write_json(Path(out_dir) / "calibration.json", {**calibration, "source": source})
    card = {**card, "calibration": {**calibration, "source": source}}
    data = {
        "split": "test",
        "variant": 0,
        "images": str(images_path),
        "split_file": str(split_path),
    }
    return write_evaluation(
        out_dir,
        all_ids[test.rows],
        test.labels,
        softmax(z_test, temperature),
        card,
        top_k_extra=int(cfg["evaluate"]["top_k"]),
        data=data,
        proba_uncalibrated=softmax(z_test),
        train_counts=np.bincount(splits["train"].labels, minlength=len(classes)),
        views=views_table(subsets, test.labels, card),
    )


__all__ = ["iter_rows", "per_class_table", "run_evaluate", "write_evaluation"]
