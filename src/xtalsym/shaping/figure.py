"""Figure of the shaping stage: raw and shaped images side by side, per axis, a few crystals."""

from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np

from ..channels import AXES
from ..io import read_ids
from .core import ShapingOptions, shape_batch, unshaped_batch
from .rgb import compose_rgb


def pick_examples(spacegroup: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """Row indices of up to ``n`` crystals of different space groups (seeded, sorted)."""
    rng = np.random.default_rng(seed)
    groups = np.unique(spacegroup)
    chosen = rng.choice(groups, size=min(n, len(groups)), replace=False)
    rows = [int(rng.choice(np.flatnonzero(spacegroup == g))) for g in chosen]
    if len(rows) < n:  # fewer groups than panels: fill with other crystals
        rest = np.setdiff1d(np.arange(len(spacegroup)), rows)
        rows += rng.choice(rest, size=min(n - len(rows), len(rest)), replace=False).tolist()
    return np.sort(np.asarray(rows, dtype=np.intp))


def plot_examples(
    patterns_path: str | os.PathLike,
    out_png: str | os.PathLike,
    opts: ShapingOptions | None = None,
    n: int = 4,
    mode: str = "shaped",
    seed: int = 0,
) -> None:
    """Plot ``n`` crystals of ``patterns_path`` (variant 0): per axis the raw pattern and its
    shaped image (the authors' RGB composition), or the unshaped input for ``mode="unshaped"``.
    """
    from ..plotting import pyplot, save_figure

    plt = pyplot()

    with h5py.File(patterns_path, "r") as f:
        sg = f["spacegroup"][...]
        ids = read_ids(f)
        rows = pick_examples(sg, n, seed) if len(sg) else np.zeros(0, np.intp)
        raw = f["patterns"][rows, 0] if len(rows) else np.zeros((0, 3, 8, 8), np.uint8)
    k = len(rows)
    fig, axes = plt.subplots(
        max(k, 1), 6, figsize=(12, 2.1 * max(k, 1) + 0.4), squeeze=False, layout="constrained"
    )
    if k:
        h, w = raw.shape[-2:]
        flat = raw.reshape(-1, h, w)
        if mode == "shaped":
            e, s = shape_batch(flat, opts)
        else:
            e = s = unshaped_batch(flat, opts)
        e, s = e.reshape(raw.shape), s.reshape(raw.shape)
    for i in range(max(k, 1)):
        for j, axis in enumerate(AXES):
            a_raw, a_out = axes[i, 2 * j], axes[i, 2 * j + 1]
            if k:
                a_raw.imshow(raw[i, j], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
                out = compose_rgb(e[i, j], s[i, j], axis) if mode == "shaped" else s[i, j]
                a_out.imshow(out, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            if i == 0:
                a_raw.set_title(f"raw, beam {axis}", fontsize=9)
                a_out.set_title(f"{mode}, beam {axis}", fontsize=9)
            for a in (a_raw, a_out):
                a.set_xticks([])
                a.set_yticks([])
        if k:
            axes[i, 0].set_ylabel(f"{ids[rows[i]]}\nSG {sg[rows[i]]}", fontsize=8)
    if not k:
        fig.suptitle("no crystals")
    out_png = Path(out_png)
    save_figure(fig, out_png, dpi=110)
