"""Figures of the trust blocks: reliability diagrams, risk-coverage curves, accuracy per
hierarchy level beside the physical limit, accuracy per beam subset.

Each function takes ``{label: metrics}`` (metrics.json dicts with the blocks of
:mod:`xtalsym.evaluate.trust`) and a path, and writes one PNG atomically.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from .figures import MARKERS, plt, save_figure
from .hierarchy import LEVELS

LEVEL_LABELS = {
    "crystal_system": "crystal\nsystem",
    "bravais_lattice": "Bravais\nlattice",
    "laue_class": "Laue\nclass",
    "point_group": "point\ngroup",
    "diffraction_symbol": "diffraction\nsymbol",
    "space_group": "space\ngroup",
}


def plot_reliability(
    metrics: Mapping[str, Mapping[str, Any]], path: str | os.PathLike, title: str = ""
) -> None:
    """One panel per set: accuracy against mean confidence per bin, before (grey, when known)
    and after temperature scaling, the diagonal for perfect calibration."""
    n = max(1, len(metrics))
    cols = min(n, 3)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 4.0 * rows), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    for ax, (label, m) in zip(axes.ravel(), metrics.items(), strict=False):
        cal = m.get("calibration") or {}
        ax.plot([0, 1], [0, 1], ":", color="k", lw=1)
        for key, colour, name in (
            ("uncalibrated", "#999999", "before"),
            ("calibrated", "#1f77b4", "after"),
        ):
            block = cal.get(key)
            if not block or not block.get("bins"):
                continue
            b = block["bins"]
            count = np.asarray(b["count"])
            keep = count > 0
            size = 10 + 120 * count[keep] / max(1, count.max())
            ax.plot(
                np.asarray(b["confidence"])[keep],
                np.asarray(b["accuracy"])[keep],
                "-",
                color=colour,
                lw=1,
            )
            ax.scatter(
                np.asarray(b["confidence"])[keep],
                np.asarray(b["accuracy"])[keep],
                s=size,
                color=colour,
                alpha=0.8,
                label=f"{name}: ECE {block['ece']:.3f}",
            )
        t = cal.get("temperature")
        ax.set_title(f"{label}" + (f" (T = {t:.2f})" if t else ""), fontsize=9)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("confidence (top probability)")
        ax.set_ylabel("accuracy")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")
    fig.suptitle(
        (title + "\n" if title else "") + "Reliability: dot area = crystals per bin", fontsize=10
    )
    save_figure(fig, path)


def plot_risk_coverage(
    metrics: Mapping[str, Mapping[str, Any]], path: str | os.PathLike, title: str = ""
) -> None:
    """Accuracy of the most confident crystals against the fraction kept, one line per set."""
    fig, ax = plt.subplots(figsize=(6.0, 4.4))
    colours = plt.get_cmap("tab10")
    for i, (label, m) in enumerate(metrics.items()):
        a = m.get("abstention") or {}
        c = a.get("curve") or {}
        if not c.get("coverage"):
            continue
        ax.plot(
            c["coverage"],
            c["accuracy"],
            "-",
            color=colours(i % 10),
            label=f"{label}: {a['acc_at_50']:.2f} @50%, {a['acc_at_80']:.2f} @80%",
        )
        ax.plot(
            [0.5, 0.8],
            [a["acc_at_50"], a["acc_at_80"]],
            MARKERS[i % len(MARKERS)],
            color=colours(i % 10),
        )
    for c in (0.5, 0.8):
        ax.axvline(c, color="grey", ls=":", lw=1)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("coverage (fraction of crystals kept, most confident first)")
    ax.set_ylabel("space-group accuracy of those kept")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    ax.set_title((title + "\n" if title else "") + "Risk-coverage", fontsize=10)
    save_figure(fig, path)


def plot_hierarchy(metrics: Mapping[str, Mapping[str, Any]], path: str | os.PathLike) -> None:
    """Grouped bars: accuracy per hierarchy level per set; a black tick on the space-group bar
    marks the physical limit (diffraction-symbol oracle) of that set."""
    labels = list(metrics)
    fig, ax = plt.subplots(figsize=(max(7.0, 1.3 * len(LEVELS) + 0.5 * len(labels)), 4.4))
    x = np.arange(len(LEVELS))
    w = 0.8 / max(1, len(labels))
    colours = plt.get_cmap("tab10")
    for i, label in enumerate(labels):
        h = metrics[label].get("hierarchy") or {}
        vals = [h.get(lv, {}).get("accuracy", np.nan) for lv in LEVELS]
        xs = x - 0.4 + w * (i + 0.5)
        ax.bar(xs, vals, w, color=colours(i % 10), label=label)
        limit = (metrics[label].get("physical_limit") or {}).get("accuracy")
        if limit is not None:
            j = LEVELS.index("space_group")
            ax.plot([xs[j] - w / 2, xs[j] + w / 2], [limit, limit], "-", color="k", lw=2.5)
    ax.plot([], [], "-", color="k", lw=2.5, label="physical limit (symbol oracle)")
    ax.set_xticks(x, [LEVEL_LABELS[lv] for lv in LEVELS], fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("accuracy (marginal argmax per level)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=3, frameon=False)
    ax.set_title("Accuracy down the symmetry hierarchy")
    save_figure(fig, path)


def plot_views(metrics: Mapping[str, Mapping[str, Any]], path: str | os.PathLike) -> None:
    """Space-group top-1 from each beam subset (x, y, z, pairs, all three), one line per model."""
    fig, ax = plt.subplots(figsize=(7.0, 4.2))
    colours = plt.get_cmap("tab10")
    names: list[str] = []
    for i, (label, m) in enumerate(metrics.items()):
        rows = m.get("views") or []
        if not rows:
            continue
        names = [r["beams"] for r in rows]
        ax.plot(
            range(len(rows)),
            [r["sg_top1"] for r in rows],
            "-",
            marker=MARKERS[i % len(MARKERS)],
            color=colours(i % 10),
            label=f"{label} ({rows[0]['method']})",
        )
    ax.set_xticks(range(len(names)), names)
    ax.set_ylim(0, 1)
    ax.set_xlabel("beams the prediction uses")
    ax.set_ylabel("space-group top-1 accuracy")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title("Views: single beams, pairs and all three (same test crystals)")
    save_figure(fig, path)


__all__ = ["plot_hierarchy", "plot_reliability", "plot_risk_coverage", "plot_views"]
