"""Figures of the evaluation: confusion matrices, training curves, robustness, comparison.

Every function takes plain arrays or tables and a path, and writes one PNG atomically.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")  # files only; never a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.colors import PowerNorm  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from .. import plotting  # noqa: E402
from ..spacegroups import CRYSTAL_SYSTEMS, crystal_system_index  # noqa: E402
from .stats import interval_of  # noqa: E402

SYSTEM_ABBREV = {
    "triclinic": "tric.",
    "monoclinic": "mono.",
    "orthorhombic": "ortho.",
    "tetragonal": "tetr.",
    "trigonal": "trig.",
    "hexagonal": "hex.",
    "cubic": "cubic",
}
DPI = 150
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def save_figure(fig: plt.Figure, path: str | os.PathLike) -> None:
    """Write ``fig`` atomically (SVG for a .svg path, else PNG) and close it."""
    plotting.save_figure(fig, path, dpi=DPI, tight=True)


def row_normalise(cm: np.ndarray) -> np.ndarray:
    """Rows of ``cm`` divided by their sums; rows without support are NaN."""
    cm = np.asarray(cm, dtype=float)
    sums = cm.sum(axis=1, keepdims=True)
    return np.divide(cm, sums, out=np.full_like(cm, np.nan), where=sums > 0)


def _system_blocks(classes: Sequence[int]) -> list[tuple[str, int, int]]:
    """(system, first index, last index) of each crystal system among ascending classes."""
    blocks: list[tuple[str, int, int]] = []
    for i, sg in enumerate(classes):
        name = CRYSTAL_SYSTEMS[crystal_system_index(sg)]
        if blocks and blocks[-1][0] == name:
            blocks[-1] = (name, blocks[-1][1], i)
        else:
            blocks.append((name, i, i))
    return blocks


def plot_confusion_sg(
    cm: np.ndarray, classes: Sequence[int], path: str | os.PathLike, title: str = ""
) -> None:
    """Row-normalised space-group confusion matrix, classes ascending, systems boxed."""
    k = len(classes)
    frac = row_normalise(cm)
    side = float(np.clip(k * 0.13, 5.0, 11.0))
    fig, ax = plt.subplots(figsize=(side + 1.6, side))
    cmap = plt.get_cmap("Blues").with_extremes(bad="#eeeeee")
    # A square-root colour scale makes the few-percent confusions visible beside the diagonal.
    im = ax.imshow(frac, cmap=cmap, norm=PowerNorm(0.5, vmin=0.0, vmax=1.0), interpolation="none")
    font = float(np.clip(300.0 / k, 4.0, 9.0))
    ticks = np.arange(k)
    ax.set_xticks(ticks, [str(c) for c in classes], rotation=90, fontsize=font)
    ax.set_yticks(ticks, [str(c) for c in classes], fontsize=font)
    ax.set_xlabel("predicted space group")
    ax.set_ylabel("true space group")
    top = ax.secondary_xaxis("top")
    centres, names = [], []
    for name, a, b in _system_blocks(classes):
        ax.add_patch(
            Rectangle((a - 0.5, a - 0.5), b - a + 1, b - a + 1, fill=False, ec="#d62728", lw=1.2)
        )
        if a > 0:
            ax.axhline(a - 0.5, color="#999999", lw=0.4)
            ax.axvline(a - 0.5, color="#999999", lw=0.4)
        centres.append((a + b) / 2)
        names.append(name if (b - a + 1) * side / k > 0.9 else SYSTEM_ABBREV[name])
    top.set_xticks(centres, names, rotation=30, ha="left", fontsize=8)
    top.tick_params(length=0)
    cbar = fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02)
    cbar.set_label("fraction of the true class (row-normalised, sqrt scale)")
    ax.set_title(title + "\nred boxes: crystal systems; grey rows: class absent", fontsize=10)
    save_figure(fig, path)


def plot_confusion_cs(cm_cs: np.ndarray, path: str | os.PathLike, title: str = "") -> None:
    """Row-normalised 7 x 7 crystal-system confusion matrix, fractions and counts annotated."""
    cm_cs = np.asarray(cm_cs)
    frac = row_normalise(cm_cs)
    fig, ax = plt.subplots(figsize=(7.2, 6.2))
    cmap = plt.get_cmap("Blues").with_extremes(bad="#eeeeee")
    im = ax.imshow(frac, cmap=cmap, vmin=0.0, vmax=1.0)
    n = len(CRYSTAL_SYSTEMS)
    support = cm_cs.sum(axis=1)
    ax.set_xticks(range(n), CRYSTAL_SYSTEMS, rotation=35, ha="right")
    ax.set_yticks(range(n), [f"{s} (n={c})" for s, c in zip(CRYSTAL_SYSTEMS, support, strict=True)])
    for i in range(n):
        for j in range(n):
            if support[i] and cm_cs[i, j]:
                v = frac[i, j]
                ax.text(
                    j,
                    i,
                    f"{v:.2f}\n({cm_cs[i, j]})",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if v > 0.55 else "black",
                )
    ax.set_xlabel("predicted crystal system")
    ax.set_ylabel("true crystal system")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03, label="fraction of the true system")
    ax.set_title(title, fontsize=10)
    save_figure(fig, path)


def plot_training_curves(histories: Mapping[str, pd.DataFrame], path: str | os.PathLike) -> None:
    """Loss and accuracy per epoch of every model: train dashed, validation solid."""
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4.2))
    colours = plt.get_cmap("tab10")
    for i, (name, h) in enumerate(histories.items()):
        c = colours(i % 10)
        for ax, key in ((ax_loss, "loss"), (ax_acc, "acc")):
            if f"train_{key}" in h:
                ax.plot(h["epoch"], h[f"train_{key}"], "--", color=c, marker=".", alpha=0.8)
            if f"val_{key}" in h:
                ax.plot(h["epoch"], h[f"val_{key}"], "-", color=c, marker="o", ms=3, label=name)
    ax_loss.set_ylabel("cross-entropy loss")
    ax_acc.set_ylabel("space-group accuracy")
    ax_acc.set_ylim(0, 1)
    for ax in (ax_loss, ax_acc):
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
    handles, labels = ax_acc.get_legend_handles_labels()
    handles += [
        plt.Line2D([], [], color="k", ls="-", label="validation"),
        plt.Line2D([], [], color="k", ls="--", label="train"),
    ]
    fig.legend(
        handles=handles,
        fontsize=8,
        loc="lower center",
        ncol=len(handles),
        bbox_to_anchor=(0.5, -0.06),
        frameon=False,
    )
    fig.suptitle("Training curves")
    save_figure(fig, path)


NOISE_AXES = {
    "jitter": "structural noise: symmetric jitter, sd per component (Å)",
    "background": "measurement noise: mean background (8-bit levels)",
    "tilt": "alignment: beam tilt, cone half-angle (degrees)",
}


def plot_robustness(
    table: pd.DataFrame,
    path: str | os.PathLike,
    chance: float | None = None,
    training: Mapping[str, tuple[float, float]] | None = None,
) -> None:
    """Space-group top-1 accuracy against each noise level, one line per model, with 95 %
    Wilson intervals as error bars.

    ``table``: columns model, noise, level, sg_top1, n (robustness.csv); ``training``: noise
    kind -> the (lo, hi) range the models were trained on (a shaded band; a vertical line
    when lo = hi). The y axis ends
    a little above the highest interval, so small accuracies stay readable.
    """
    kinds = [k for k in NOISE_AXES if k in set(table["noise"])] or sorted(set(table["noise"]))
    fig, axes = plt.subplots(1, len(kinds), figsize=(5.2 * len(kinds), 4.2), squeeze=False)
    colours = plt.get_cmap("tab10")
    models = list(dict.fromkeys(table["model"]))
    intervals = [
        interval_of(float(a), int(n)) if n and a == a else (0.0, 0.0)
        for a, n in zip(table["sg_top1"], table["n"], strict=True)
    ]
    top = max([hi for _, hi in intervals] + [chance or 0.0, 0.05])
    ymax = min(1.0, 1.15 * top + 0.02)
    for ax, kind in zip(axes[0], kinds, strict=True):
        part = table[table["noise"] == kind]
        span = float(part["level"].max() - part["level"].min()) if len(part) else 0.0
        for i, m in enumerate(models):
            rows = part[part["model"] == m].sort_values("level")
            ci = np.array([intervals[j] for j in rows.index]).reshape(-1, 2)
            acc = rows["sg_top1"].to_numpy(dtype=float)
            # distinct markers and a small sideways offset keep coinciding models visible
            dodge = (i - (len(models) - 1) / 2) * 0.012 * span
            ax.errorbar(
                rows["level"].to_numpy(dtype=float) + dodge,
                acc,
                yerr=np.abs(ci.T - acc),
                fmt="-",
                marker=MARKERS[i % len(MARKERS)],
                ms=8 - 1.2 * (i % 4),
                capsize=3,
                elinewidth=0.8,
                color=colours(i % 10),
                alpha=0.85,
                label=m,
            )
        if chance is not None:
            ax.axhline(chance, color="grey", ls=":", lw=1, label="chance")
        if training and kind in training:
            lo, hi = training[kind]
            if hi > lo:
                ax.axvspan(lo, hi, color="#d62728", alpha=0.12, label="training range")
            else:
                ax.axvline(lo, color="#d62728", ls="--", lw=1, label="training range")
        ax.set_xlabel(NOISE_AXES.get(kind, kind))
        ax.set_ylabel("space-group top-1 accuracy")
        ax.set_ylim(0, ymax)
        ax.grid(alpha=0.3)
    handles, labels = [], []
    for ax in axes[0]:  # the union, so "training level" appears even if one panel lacks it
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    fig.legend(
        handles,
        labels,
        fontsize=8,
        loc="lower center",
        ncol=len(handles),
        bbox_to_anchor=(0.5, -0.06),
        frameon=False,
    )
    n = int(table["n"].max()) if len(table) else 0
    fig.suptitle(
        f"Robustness: re-simulated test crystals (n = {n}), one noise kind at a time; "
        "bars: 95% Wilson intervals"
    )
    save_figure(fig, path)


def plot_comparison(
    table: pd.DataFrame, path: str | os.PathLike, published: float | None = None
) -> None:
    """Bars of space-group top-1 and crystal-system accuracy per model.

    ``table``: columns model, sg_top1, cs_accuracy; ``published``: the paper's MSDN figure.
    """
    fig, ax = plt.subplots(figsize=(max(5.0, 1.2 * len(table) + 2.5), 4.0))
    x = np.arange(len(table))
    w = 0.38
    b1 = ax.bar(x - w / 2, table["sg_top1"], w, label="space group (top-1)", color="#1f77b4")
    b2 = ax.bar(x + w / 2, table["cs_accuracy"], w, label="crystal system", color="#ff7f0e")
    for bars in (b1, b2):
        ax.bar_label(bars, fmt="%.2f", fontsize=8)
    if published is not None:
        ax.axhline(published, color="k", ls="--", lw=1, label=f"paper, MSDN ({published:.1%})")
    ax.set_xticks(x, table["model"])
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("test accuracy")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=3, frameon=False)
    ax.set_title("Models side by side (our test split)")
    save_figure(fig, path)
