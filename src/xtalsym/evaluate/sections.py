"""The report's per-model sections: confusion matrices with their zoom and misclassified
crystals, robustness to noise, and the learning curve."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from .. import paths
from ..spacegroups import crystal_system
from . import figures
from .document import Section
from .provenance import copy_into
from .stats import with_interval
from .tables import pct


def learning_curve_section(csv_path: str | os.PathLike, out: Path) -> Section:
    """Accuracy against training crystals per class (learning_curve.csv, .png beside it)."""
    from . import learning_curve as lc

    sec = Section("Learning curve (accuracy against training-set size)")
    path = Path(csv_path)
    if not path.is_file():
        sec.blocks.append(("text", f"{path} not found."))
        return sec
    table = pd.read_csv(path)
    rel = copy_into(path.with_suffix(".png"), out, "figures/learning_curve.png")
    if rel is None:
        lc.plot(table, out / "figures/learning_curve.png")
        rel = "figures/learning_curve.png"
    copy_into(path, out, "learning_curve.csv")
    sec.blocks += [
        (
            "text",
            "Each model retrained on nested subsets of the training split (at most N crystals "
            "per space group, the same validation and test crystals throughout) and scored on "
            "the test split. A curve still rising at the largest N says more data is the lever; "
            "a flat curve with training accuracy near test accuracy (both low) says the model "
            "is too small; training far above test says it memorises, so more (or more varied) "
            "data and regularisation, not width, come first.",
        ),
        ("figure", rel, "Test accuracy against training crystals per class; bars: 95% Wilson."),
        *(("text", line) for line in lc.summary(table)),
    ]
    shown = pd.DataFrame(
        {
            "model": table["model"],
            "per class": table["n_per_class"],
            "train crystals": table["n_train"],
            "variants": table["n_variants"],
            "SG top-1": [
                with_interval(p, n) for p, n in zip(table["sg_top1"], table["n_test"], strict=True)
            ],
            "SG top-5": table["sg_top5"].map(pct),
            "CS accuracy": [
                with_interval(p, n)
                for p, n in zip(table["cs_accuracy"], table["n_test"], strict=True)
            ],
            "train acc": table["train_acc"].map(pct),
            "test n": table["n_test"],
            "epochs": table["epochs_run"],
            "train time (s)": table["train_seconds"].round(0),
        }
    )
    sec.blocks += [("table", shown), ("link", "learning_curve.csv", "The table as CSV")]
    return sec


def _class_list(src: Path, pred: pd.DataFrame) -> list[int]:
    pc = src / "per_class.csv"
    if pc.is_file():
        return [int(c) for c in pd.read_csv(pc)["spacegroup"]]
    return sorted({int(c) for c in pred["true"]} | {int(c) for c in pred["pred"]})


def confusion_zoom(src: Path, name: str, out: Path) -> list[tuple]:
    """A vector (SVG) copy of the space-group confusion matrix, drawn from predictions.csv,
    for zooming into the 72 x 72 classes; [] without predictions."""
    import numpy as np

    path = src / "predictions.csv"
    if not path.is_file():
        return []
    pred = pd.read_csv(path)
    classes = _class_list(src, pred)
    index = {c: i for i, c in enumerate(classes)}
    keep = pred["true"].isin(index) & pred["pred"].isin(index)
    cm = np.zeros((len(classes), len(classes)), dtype=np.int64)
    np.add.at(
        cm,
        (
            pred.loc[keep, "true"].map(index).to_numpy(),
            pred.loc[keep, "pred"].map(index).to_numpy(),
        ),
        1,
    )
    rel = f"figures/{name}_confusion_sg.svg"
    figures.plot_confusion_sg(cm, classes, out / rel, title=f"{name} (n = {int(keep.sum())})")
    return [
        (
            "link",
            rel,
            f"{name}: the space-group confusion matrix as a zoomable vector figure (SVG); the "
            "crystal-system matrix above is the same grouped by system",
        )
    ]


def misclassified_table(predictions: Path, structures_dir: Path) -> pd.DataFrame:
    """The misclassified crystals of a predictions.csv, most confident mistakes first: id,
    formula (from structures.parquet when the ids are its ids), true and predicted space group
    with symbols and crystal systems, and the probabilities of both."""
    from ..structures import spacegroup_symbol

    pred = pd.read_csv(predictions, dtype={"id": str})
    wrong = pred[pred["true"] != pred["pred"]].copy()
    formula: dict[str, str] = {}
    parquet = structures_dir / "structures.parquet"
    if parquet.is_file() and len(wrong):
        import pyarrow.parquet as pq

        names = set(pq.read_schema(parquet).names)
        if {"id", "formula"} <= names:
            t = pd.read_parquet(parquet, columns=["id", "formula"])
            formula = dict(zip(t["id"].astype(str), t["formula"], strict=True))

    def label(sg: int) -> str:
        return f"{int(sg)} {spacegroup_symbol(int(sg))} ({crystal_system(int(sg))})"

    table = pd.DataFrame(
        {
            "id": wrong["id"],
            "formula": [formula.get(i, "-") for i in wrong["id"]],
            "true": [label(v) for v in wrong["true"]],
            "predicted": [label(v) for v in wrong["pred"]],
            "p(predicted)": wrong["p_pred"].round(3),
            "p(true)": wrong["p_true"].round(3) if "p_true" in wrong else "-",
        }
    )
    return table.sort_values("p(predicted)", ascending=False, kind="stable").reset_index(drop=True)


#: Misclassified crystals shown in the page (all of them are in the linked CSV).
MISCLASSIFIED_SHOWN = 30


def misclassified_blocks(src: Path, name: str, structures_dir: Path, out: Path) -> list[tuple]:
    """Report blocks: the most confident mistakes of one model, and the CSV of all of them."""
    path = src / "predictions.csv"
    if not path.is_file():
        return []
    table = misclassified_table(path, structures_dir)
    rel = f"{name}_misclassified.csv"
    from ..io import write_table

    write_table(out / rel, table)
    n = len(pd.read_csv(path))
    shown = table.head(MISCLASSIFIED_SHOWN)
    more = f", the {len(shown)} most confident shown" if len(table) > len(shown) else ""
    return [
        (
            "details",
            f"Misclassified test crystals: {len(table)} of {n}{more} ({rel})",
            shown,
        ),
        ("link", rel, f"All misclassified crystals of {name} (CSV)"),
    ]


def confusion_section(
    name: str,
    metrics_path: str | os.PathLike,
    m: Mapping[str, Any],
    structures_dir: Path,
    out: Path,
) -> Section:
    """Confusion matrices of model ``name`` (figures beside its ``metrics.json``), the zoom on
    close crystal systems, misclassified crystals and the per-class table."""
    src = Path(metrics_path).parent
    sec = Section(f"Confusion matrices: {name}")
    for fig, caption in (
        ("confusion_sg", "space groups in ascending order, crystal systems boxed"),
        ("confusion_cs", "crystal systems"),
    ):
        rel = copy_into(src / paths.name(fig), out, f"figures/{name}_{fig}.png")
        if rel:
            sec.blocks.append(("figure", rel, f"{name}, row-normalised, {caption} (n = {m['n']})."))
    sec.blocks += confusion_zoom(src, name, out)
    sec.blocks += misclassified_blocks(src, name, structures_dir, out)
    pc_path = src / paths.name("per_class")
    if pc_path.is_file():
        pc = pd.read_csv(pc_path)
        copy_into(pc_path, out, f"{name}_per_class.csv")
        shown = pc.round({"precision": 3, "recall": 3, "f1": 3})
        sec.blocks.append(
            (
                "details",
                f"Per-class precision, recall, F1 and support ({name}_per_class.csv)",
                shown,
            )
        )
    return sec


def robustness_section(robustness_csv: str | os.PathLike | None, out: Path) -> Section:
    """Accuracy against each noise kind and level (robustness.csv), or a note that the sweep
    did not run."""
    rob = Section("Robustness to noise")
    if robustness_csv and Path(robustness_csv).is_file():
        table = pd.read_csv(robustness_csv)
        rob_png = Path(robustness_csv).parent / paths.name("robustness_figure")
        rel = copy_into(rob_png, out, "figures/robustness.png")
        if rel is None:
            figures.plot_robustness(table, out / "figures/robustness.png")
            rel = "figures/robustness.png"
        rob.blocks += [
            (
                "text",
                "Test crystals re-simulated at increasing noise, one kind at a time (the "
                "other noise at the training values), shaped and classified by each model.",
            ),
            (
                "figure",
                rel,
                "Space-group top-1 accuracy against noise level with 95% Wilson intervals; "
                "dotted: chance; dashed red: the noise level the models were trained at.",
            ),
        ]
        for kind, part in table.groupby("noise", sort=False):
            wide = part.pivot(index="level", columns="model", values="sg_top1").reset_index()
            wide = wide.rename(columns={"level": f"{kind} level"})
            wide.columns.name = None
            n_of = part.groupby(["level", "model"])["n"].max()
            for col in wide.columns[1:]:
                wide[col] = [
                    with_interval(v, int(n_of.get((lev, col), 0)))
                    for lev, v in zip(wide[f"{kind} level"], wide[col], strict=True)
                ]
            rob.blocks += [
                (
                    "text",
                    f"Space-group top-1 accuracy, {kind} (n = {int(part['n'].max())} crystals):",
                ),
                ("table", wide),
            ]
    else:
        rob.blocks.append(("text", "Robustness sweep not run (evaluate.robustness.enabled)."))
    return rob
