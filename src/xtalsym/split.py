"""Class-balanced, stratified train/validation/test split, optionally grouped by family.

Per space group the members are shuffled (seeded) and cut by the configured ratios with
largest-remainder rounding, so each split is within one crystal of its target. With
``group_by`` the unit of assignment is a family (reduced formula, or prototype = space group
+ occupied Wyckoff letters) instead of a crystal, so no family straddles two splits: families
are assigned greedily, largest first, to the split furthest below its target.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from .io import check_artifact, derive_seed, read_ids, read_table, write_table
from .paths import name
from .spacegroups import class_index, crystal_system, resolve_classes

logger = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class SplitRows:
    """The HDF5 rows of one split (ascending) and their class indices."""

    rows: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.rows)


def split_counts(n: int, ratios: dict[str, float]) -> dict[str, int]:
    """Integer split sizes for ``n`` items: largest-remainder rounding of ``n * ratio``.

    Every split with a positive ratio gets at least one item when ``n`` allows it.
    """
    r = np.array([ratios[s] for s in SPLITS], dtype=float)
    r = r / r.sum()
    exact = n * r
    counts = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - counts), kind="stable")[: n - counts.sum()]:
        counts[i] += 1
    # Guarantee presence: move one item from the largest split to any empty positive split.
    for i in np.flatnonzero((counts == 0) & (r > 0)):
        j = int(np.argmax(counts))
        if counts[j] > 1:
            counts[j] -= 1
            counts[i] += 1
    return dict(zip(SPLITS, counts.tolist(), strict=True))


def family_key(df: pd.DataFrame, group_by: str) -> pd.Series:
    """The family of each structure: its id (no grouping), reduced formula, or prototype."""
    if group_by == "none":
        return df["id"].astype(str)
    if group_by == "formula":
        return df["formula"].astype(str)
    if group_by == "prototype":
        return df["prototype"].astype(str)
    raise ValueError(f"split.group_by: unknown value {group_by!r}")


def _assign_groups(sizes: np.ndarray, targets: dict[str, int], rng: np.random.Generator) -> list:
    """Assign groups (with member counts ``sizes``) to splits, largest group first."""
    order = rng.permutation(len(sizes))
    order = order[np.argsort(-sizes[order], kind="stable")]
    filled = dict.fromkeys(SPLITS, 0)
    out: list[str] = [""] * len(sizes)
    for g in order:
        # The split with the largest unmet share of its target takes the group.
        deficit = {s: (targets[s] - filled[s]) / max(targets[s], 1) for s in SPLITS}
        best = max(SPLITS, key=lambda s: (deficit[s], targets[s]))
        out[g] = best
        filled[best] += int(sizes[g])
    return out


def make_split(
    df: pd.DataFrame,
    ratios: dict[str, float],
    seed: int,
    *,
    min_per_class: int = 5,
    small_class_policy: str = "train_only",
    group_by: str = "none",
) -> pd.DataFrame:
    """Split table (``id``, ``spacegroup``, ``family``, ``split``) for structures ``df``.

    A class with fewer than ``min_per_class`` members (or fewer families than splits with a
    positive ratio, under ``group_by``) goes wholly to train (``train_only``) or is removed
    (``drop``, logged by name). A family spanning several space groups (possible with
    ``group_by: formula``) is assigned once, in its most common class.
    """
    df = df[["id", "spacegroup", *[c for c in ("formula", "prototype") if c in df]]].copy()
    df["family"] = family_key(df, group_by)
    df = df.sort_values("id", kind="stable").reset_index(drop=True)
    # A family belongs to one class for assignment: its most frequent space group.
    fam_class = df.groupby("family")["spacegroup"].agg(lambda s: s.value_counts().index[0])
    n_positive = sum(ratios[s] > 0 for s in SPLITS)

    assignment: dict[str, str] = {}
    dropped: list[int] = []
    for sg in sorted(fam_class.unique()):
        fams = fam_class.index[fam_class == sg]
        sizes = df["family"].value_counts().reindex(fams).to_numpy()
        if sizes.sum() < min_per_class or len(fams) < n_positive:
            if small_class_policy == "drop":
                dropped.append(int(sg))
                continue
            assignment.update(dict.fromkeys(fams, "train"))
            continue
        rng = np.random.default_rng(derive_seed(seed, "split", int(sg)))
        targets = split_counts(int(sizes.sum()), ratios)
        if group_by == "none":
            perm = rng.permutation(len(fams))
            labels = np.repeat(SPLITS, [targets[s] for s in SPLITS])
            assignment.update(zip(np.asarray(fams)[perm], labels, strict=True))
        else:
            assignment.update(zip(fams, _assign_groups(sizes, targets, rng), strict=True))
    if dropped:
        logger.warning(
            "split: dropped %d class(es) with too few members (< %d): %s",
            len(dropped),
            min_per_class,
            ", ".join(f"{sg} ({crystal_system(sg)})" for sg in dropped),
        )
    df["split"] = df["family"].map(assignment)
    return df.dropna(subset=["split"])[["id", "spacegroup", "family", "split"]]


def class_weights(split_df: pd.DataFrame, classes: list[int]) -> pd.DataFrame:
    """Inverse-frequency weights from the train split, mean 1 over classes present in train."""
    counts = split_df[split_df["split"] == "train"]["spacegroup"].value_counts()
    counts = counts.reindex(classes, fill_value=0).to_numpy(dtype=float)
    w = np.where(counts > 0, 1.0 / np.maximum(counts, 1), 0.0)
    present = counts > 0
    if present.any():
        w[present] /= w[present].mean()
    return pd.DataFrame({"spacegroup": classes, "weight": w})


def count_table(split_df: pd.DataFrame, classes: list[int]) -> pd.DataFrame:
    """Per-class counts per split (columns ``spacegroup``, train, val, test)."""
    t = pd.crosstab(split_df["spacegroup"], split_df["split"])
    t = t.reindex(index=classes, columns=list(SPLITS), fill_value=0)
    return t.rename_axis("spacegroup").reset_index().rename_axis(None, axis=1)


def plot_counts(counts: pd.DataFrame, out_png: str | Path) -> None:
    """Stacked bar chart of the per-class split counts (log scale when imbalanced)."""
    from .plotting import pyplot, save_figure

    plt = pyplot()

    fig, ax = plt.subplots(figsize=(max(8, 0.18 * len(counts)), 4))
    x = np.arange(len(counts))
    bottom = np.zeros(len(counts))
    for s, colour in zip(SPLITS, ("#4477aa", "#ee7733", "#228833"), strict=True):
        ax.bar(x, counts[s], bottom=bottom, color=colour, label=s, width=0.85)
        bottom += counts[s].to_numpy()
    ax.set_xticks(x, counts["spacegroup"].astype(str), rotation=90, fontsize=6)
    ax.set_xlabel("space group")
    ax.set_ylabel("crystals")
    ax.set_title("Crystals per space group and split")
    ax.margins(x=0.005)
    # outside the axes: a legend inside would hide the bars of the first classes
    ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), frameon=False, title="split")
    fig.tight_layout()
    save_figure(fig, out_png, dpi=110)


def failed_simulations(patterns_path: str | Path | None) -> pd.DataFrame:
    """Crystals the patterns stage could not simulate (``id``, ``reason``; none without a
    file): their rows of patterns.h5 are blank, so no stage may train or test on them."""
    failed = []
    if patterns_path is not None:
        with h5py.File(patterns_path, "r") as f:
            failed = json.loads(f.attrs.get("failed", "[]"))
    table = pd.DataFrame(failed, columns=["id", "reason"])
    return table.astype({"id": str, "reason": str})


def run_split(
    cfg: dict[str, Any],
    structures_path: str | Path,
    out_dir: str | Path,
    patterns_path: str | Path | None = None,
) -> None:
    """The split stage: structures table -> split.csv, class_counts.*, class_weights.csv and
    excluded.csv (``id``, ``spacegroup``, ``reason``: crystals left out).

    With ``patterns_path``, the crystals listed in its ``failed`` attribute are left out,
    each reported by id and reason."""
    sc = cfg["split"]
    out_dir = Path(out_dir)
    classes = resolve_classes(cfg["classes"])
    # Only the label and family columns: the structure JSON would make memory grow with N.
    path = check_artifact(structures_path)
    if path.suffix == ".parquet":
        names = set(pq.read_schema(path).names)
        cols = [c for c in ("id", "spacegroup", "formula", "prototype") if c in names]
        df = pd.read_parquet(path, columns=cols)
    else:
        df = read_table(path)
    df = df.astype({"id": str})
    failed = failed_simulations(patterns_path)
    excluded = df[["id", "spacegroup"]].merge(failed, on="id")
    for row in excluded.itertuples():
        logger.warning("split: left out %s (space group %d): %s", row.id, row.spacegroup,
                       row.reason)  # fmt: skip
    df = df[~df["id"].isin(excluded["id"])]
    split_df = make_split(
        df,
        sc["ratios"],
        cfg["seed"],
        min_per_class=sc["min_per_class"],
        small_class_policy=sc["small_class_policy"],
        group_by=sc["group_by"],
    )
    counts = count_table(split_df, classes)
    write_table(out_dir / name("split"), split_df)
    write_table(out_dir / name("split_counts"), counts)
    write_table(out_dir / name("class_weights"), class_weights(split_df, classes))
    write_table(out_dir / name("split_excluded"), excluded)
    plot_counts(counts, out_dir / name("split_counts_figure"))
    n = split_df["split"].value_counts()
    logger.info("split: %s; %d left out", ", ".join(f"{s} {n.get(s, 0)}" for s in SPLITS),
                len(excluded))  # fmt: skip


def read_split_rows(
    images_path: str | os.PathLike, split_path: str | os.PathLike, classes: list[int]
) -> dict[str, SplitRows]:
    """Join the images' ``ids`` with split.csv; labels are indices into ``classes``.

    Crystals of the split table missing from the images, or of a space group outside
    ``classes``, are dropped with a warning; a label disagreeing with the images is an error.
    """
    with h5py.File(images_path, "r") as h5:
        ids = read_ids(h5)
        sg = h5["spacegroup"][...].astype(np.int64)
    split = pd.read_csv(split_path, dtype={"id": str})
    table = pd.DataFrame({"id": ids, "sg_img": sg, "row": np.arange(len(ids))})
    merged = split.merge(table, on="id", how="left")
    missing = merged["row"].isna()
    if missing.any():
        logger.warning("%d split ids have no images; dropped", int(missing.sum()))
        merged = merged[~missing]
    bad = merged["spacegroup"].to_numpy() != merged["sg_img"].to_numpy()
    if bad.any():
        first = merged[bad].iloc[0]
        raise ValueError(
            f"space group of {first['id']} is {first['spacegroup']} in {split_path} but "
            f"{first['sg_img']} in {images_path}"
        )
    index = class_index(classes)
    known = merged["spacegroup"].isin(list(index))
    if not known.all():
        dropped = sorted(set(merged.loc[~known, "spacegroup"].astype(int)))
        logger.warning("space groups %s are not in the class set; dropped", dropped)
        merged = merged[known]
    out = {}
    for part_name in SPLITS:
        part = merged[merged["split"] == part_name].sort_values("row")
        rows = part["row"].to_numpy(np.int64)
        labels = part["spacegroup"].astype(int).map(index).to_numpy(np.int64)
        out[part_name] = SplitRows(rows, labels)
    return out
