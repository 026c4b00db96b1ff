"""Learning curve: test accuracy against the number of training crystals per space group.

:func:`subset_split` keeps at most ``n`` training crystals of each class (seeded and nested:
the ``n = 10`` subset lies inside the ``n = 20`` one) and leaves validation and test alone, so
every point of the curve is scored on the same test crystals; :func:`aggregate` collects one
row per (model, n) from the trained bundles, their evaluations and the training benchmarks;
:func:`plot` draws the curve with 95 % Wilson intervals; :func:`summary` states the gain per
doubling of the data and the train-test gap at the largest size (more data or a bigger model?).
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..io import derive_seed, write_table
from .stats import Z95

logger = logging.getLogger(__name__)

# Bundle and evaluation directories of one curve point are named <model>_n<crystals per class>.
RUN_DIR = re.compile(r"^(?P<model>.+)_n(?P<n>\d+)$")
COLUMNS = [
    "model",
    "n_per_class",
    "n_train",
    "n_variants",
    "sg_top1",
    "sg_top1_lo",
    "sg_top1_hi",
    "sg_top5",
    "cs_accuracy",
    "cs_accuracy_lo",
    "cs_accuracy_hi",
    "n_test",
    "train_acc",
    "val_acc",
    "best_epoch",
    "epochs_run",
    "n_parameters",
    "train_seconds",
]


# ------------------------------------------------------------------------------ subsets


def subset_split(split_df: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """``split_df`` with its train rows cut to at most ``n`` per space group.

    Each class's train ids are sorted, then permuted by a stream derived from ``seed`` and
    the space group alone, and the first ``n`` kept: the subsets for increasing ``n`` are
    nested. A class with fewer than ``n`` train crystals keeps them all. Validation and test
    rows and the row order are unchanged.
    """
    if n < 1:
        raise ValueError(f"learning curve: crystals per class must be >= 1, got {n}")
    train = split_df["split"] == "train"
    keep = pd.Series(~train.to_numpy(), index=split_df.index)
    for sg, part in split_df[train].groupby("spacegroup", sort=True):
        order = part.index.to_numpy()[np.argsort(part["id"].astype(str).to_numpy(), kind="stable")]
        rng = np.random.default_rng(derive_seed(seed, "learning_curve", int(sg)))
        keep.loc[order[rng.permutation(len(order))[:n]]] = True
    return split_df[keep.to_numpy()]


def run_subset(
    cfg: dict[str, Any],
    split_path: str | os.PathLike,
    n: int,
    out_split: str | os.PathLike,
    out_weights: str | os.PathLike,
) -> pd.DataFrame:
    """The subset stage: split.csv -> a split with ``n`` train crystals per class, and the
    inverse-frequency class weights of that subset (as the split stage writes them)."""
    from ..spacegroups import resolve_classes
    from ..split import class_weights

    full = pd.read_csv(split_path, dtype={"id": str})
    sub = subset_split(full, n, cfg["seed"])
    per_class = sub[sub["split"] == "train"].groupby("spacegroup").size()
    short = per_class[per_class < n]
    if len(short):
        logger.warning(
            "learning curve n=%d: %d class(es) have fewer train crystals (fewest %d: %s)",
            n,
            len(short),
            int(short.min()),
            ", ".join(str(sg) for sg in short.index[:10]),
        )
    write_table(out_split, sub)
    write_table(out_weights, class_weights(sub, resolve_classes(cfg["classes"])))
    logger.info(
        "learning curve n=%d: %d train crystals in %d classes", n, per_class.sum(), len(per_class)
    )
    return sub


# --------------------------------------------------------------------------- aggregate


def wilson_bounds(p: Any, n: Any, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """95 % Wilson score interval (lower, upper) of binomial fractions ``p`` of ``n`` trials."""
    p = np.clip(np.asarray(p, dtype=float), 0.0, 1.0)
    n = np.maximum(np.asarray(n, dtype=float), 1e-12)
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)


@dataclass(frozen=True)
class Run:
    """One point of the curve: the evaluation directory (metrics.json), the model bundle
    (model_card.json, history.csv) and the training job's Snakemake benchmark (TSV or None)."""

    model: str
    n_per_class: int
    evaluation: Path
    bundle: Path
    benchmark: Path | None = None

    @classmethod
    def from_paths(
        cls, metrics: str | os.PathLike, card: str | os.PathLike, benchmark: str | None = None
    ) -> Run:
        """A run from ``.../<model>_n<n>/metrics.json`` and its bundle's model_card.json."""
        m = RUN_DIR.match(Path(metrics).parent.name)
        if m is None:
            raise ValueError(f"{metrics}: its directory is not named <model>_n<crystals>")
        return cls(
            m["model"],
            int(m["n"]),
            Path(metrics).parent,
            Path(card).parent,
            Path(benchmark) if benchmark else None,
        )


def _benchmark_seconds(path: Path | None) -> float:
    """Wall-clock seconds of a Snakemake benchmark file (its ``s`` column; NaN if absent)."""
    if path is None or not path.is_file():
        return float("nan")
    b = pd.read_csv(path, sep="\t")
    return float(b["s"].mean()) if "s" in b and len(b) else float("nan")


def _row(run: Run) -> dict[str, Any]:
    metrics = json.loads((run.evaluation / "metrics.json").read_text())
    card = json.loads((run.bundle / "model_card.json").read_text())
    hist_path = run.bundle / "history.csv"
    hist = pd.read_csv(hist_path) if hist_path.is_file() else pd.DataFrame()
    best = hist[hist["epoch"] == card.get("best_epoch")] if len(hist) else hist
    n_test = int(metrics["n"])
    return {
        "model": run.model,
        "n_per_class": run.n_per_class,
        "n_train": int(card["n_train"]),
        "n_variants": int((card.get("patterns") or {}).get("n_variants", 1)),
        "sg_top1": float(metrics["sg_top1"]),
        "sg_top5": float(metrics["sg_top5"]),
        "cs_accuracy": float(metrics["cs_accuracy"]),
        "n_test": n_test,
        "train_acc": float(best["train_acc"].iloc[0]) if len(best) else float("nan"),
        "val_acc": float(card["val_acc"]) if card.get("val_acc") is not None else float("nan"),
        "best_epoch": int(card.get("best_epoch", 0)),
        "epochs_run": int(card.get("epochs_run", len(hist))),
        "n_parameters": int(card.get("n_parameters", 0)),
        "train_seconds": _benchmark_seconds(run.benchmark),
    }


def aggregate(runs: Sequence[Run]) -> pd.DataFrame:
    """One row per run (columns :data:`COLUMNS`), sorted by model then crystals per class.

    Accuracies are fractions of the ``n_test`` test crystals, with 95 % Wilson bounds;
    ``train_acc`` is the training accuracy at the selected (best validation) epoch, and
    ``train_seconds`` the training job's wall time from its benchmark (NaN without one).
    """
    if not runs:
        raise ValueError("learning curve: no runs to aggregate")
    t = pd.DataFrame([_row(r) for r in runs])
    for key in ("sg_top1", "cs_accuracy"):
        t[f"{key}_lo"], t[f"{key}_hi"] = wilson_bounds(t[key], t["n_test"])
    return t[COLUMNS].sort_values(["model", "n_per_class"], kind="stable").reset_index(drop=True)


def summary(table: pd.DataFrame) -> list[str]:
    """Sentences per model: top-1 from the smallest to the largest size, the gain per
    doubling over the last step, and the train-test gap at the largest size."""
    out = []
    for model, t in table.groupby("model", sort=False):
        t = t.sort_values("n_per_class")
        first, last = t.iloc[0], t.iloc[-1]
        text = (
            f"{model}: space-group top-1 {100 * first.sg_top1:.1f}% at {first.n_per_class} "
            f"crystals per class, {100 * last.sg_top1:.1f}% "
            f"[{100 * last.sg_top1_lo:.1f}, {100 * last.sg_top1_hi:.1f}] at {last.n_per_class}"
        )
        if len(t) > 1:
            prev = t.iloc[-2]
            doublings = np.log2(last.n_train / prev.n_train) if prev.n_train else 0.0
            if doublings > 0:
                gain = 100 * (last.sg_top1 - prev.sg_top1) / doublings
                text += f"; {gain:+.1f} points per doubling of the training set over the last step"
        if np.isfinite(last.train_acc):
            text += (
                f"; training accuracy {100 * last.train_acc:.1f}% at the selected epoch "
                f"(train minus test: {100 * (last.train_acc - last.sg_top1):+.1f} points)"
            )
        out.append(text + ".")
    return out


def run_aggregate(
    runs: Sequence[Run], out_dir: str | os.PathLike, n_classes: int | None = None
) -> pd.DataFrame:
    """The aggregation stage: learning_curve.csv and learning_curve.png into ``out_dir``."""
    out = Path(out_dir)
    table = aggregate(runs)
    write_table(out / "learning_curve.csv", table)
    plot(table, out / "learning_curve.png", n_classes=n_classes)
    for line in summary(table):
        logger.info("%s", line)
    return table


# -------------------------------------------------------------------------------- plot


def plot(table: pd.DataFrame, path: str | os.PathLike, n_classes: int | None = None) -> None:
    """Space-group top-1 and crystal-system accuracy against training crystals per class
    (log x), one line per model, 95 % Wilson error bars; dotted: chance (1 / classes)."""
    from . import figures

    plt = figures.plt
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharex=True)
    panels = (("sg_top1", "space group, top-1"), ("cs_accuracy", "crystal system"))
    n_models = table["model"].nunique()
    for i, (model, t) in enumerate(table.groupby("model", sort=False)):
        t = t.sort_values("n_per_class")
        # models side by side at each size (a few % on the log axis), so bars stay apart
        x = t["n_per_class"] * 1.04 ** (i - (n_models - 1) / 2)
        for ax, (key, _) in zip(axes, panels, strict=True):
            err = np.vstack([t[key] - t[f"{key}_lo"], t[f"{key}_hi"] - t[key]]) * 100
            ax.errorbar(
                x,
                100 * t[key],
                yerr=err,
                marker=figures.MARKERS[i % len(figures.MARKERS)],
                capsize=3,
                color=f"C{i}",
                label=model,
            )
        axes[0].plot(x, 100 * t["sg_top5"], ls="--", lw=0.8, color=f"C{i}")
    sizes = sorted(table["n_per_class"].unique())
    for ax, (_, title) in zip(axes, panels, strict=True):
        ax.set_xscale("log")
        ax.set_xticks(sizes, [str(s) for s in sizes])
        ax.minorticks_off()
        ax.set_xlabel("training crystals per space group")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(title)
        ax.set_ylim(0, 100)
        ax.grid(alpha=0.3)
    if n_classes:
        axes[0].axhline(100 / n_classes, ls=":", color="grey", label="chance")
    axes[0].legend(fontsize=8)
    n_test = int(table["n_test"].max())
    fig.suptitle(f"Learning curve (n = {n_test} test crystals; dashed: top-5)", fontsize=10)
    figures.save_figure(fig, path)
