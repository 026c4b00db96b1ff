"""The report a scientist opens: ``results/report/index.html`` (and ``index.md``).

One document, built from the artifacts only: the comparison of every trained model with the
published figures, the monoclinic/orthorhombic and trigonal/hexagonal confusion rates (the
paper's qualitative finding), accuracy per crystal system, training curves, confusion matrices,
robustness against noise, data provenance (sources, skips, class and split counts) and the
configuration that produced it. Figures are copied (or drawn) into ``out_dir/figures`` and
linked relatively, so the directory is self-contained; ``metrics.json`` maps model -> metrics.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from .. import __version__, paths
from ..io import atomic_path, config_hash, write_json, write_text
from ..spacegroups import CRYSTAL_SYSTEMS, crystal_system
from . import figures
from .document import Section, render_html, render_markdown
from .real import load_real, real_check_section, with_real
from .stats import with_interval
from .tables import (
    INTERVAL_NOTE,
    PAPER,
    PUBLISHED_MSDN_TOP1,
    add_intervals,
    comparison_table,
    confusion_rates_table_ci,
    pct,
    per_system_table_ci,
    pick_msdn_and_baseline,
    training_table,
)
from .trust_report import trust_sections

logger = logging.getLogger(__name__)

# ---------------------------------------------------------------------------- helpers


def _copy(src: Path, out_dir: Path, rel: str) -> str | None:
    """Copy ``src`` to ``out_dir/rel`` atomically; the relative path, or None if absent."""
    if not src.is_file():
        logger.warning("report: %s not found; left out", src)
        return None
    with atomic_path(out_dir / rel) as tmp:
        shutil.copyfile(src, tmp)
    return rel


def source_summary(structures_dir: Path) -> str:
    """'synthetic: 120 structures, cif_dir: 30 structures' from outcomes.csv (kept rows)."""
    path = structures_dir / paths.name("outcomes")
    if not path.is_file():
        return ""
    o = pd.read_csv(path, keep_default_na=False)
    kept = o[o["status"] == "kept"].groupby("source").size()
    return ", ".join(f"{src}: {n} structures" for src, n in kept.items())


def example_caption(figure: Path) -> str:
    """Caption of a stage's example figure, from its file name (xtalsym.paths)."""
    if figure.name == paths.name("patterns_figure"):
        return "Simulated patterns (beams x, y, z) of a few crystals, clean and noisy."
    mode = figure.stem.removesuffix("_examples")
    return f"Raw patterns and the network's {mode} images of them."


def provenance_sections(
    structures_dir: Path, split_dir: Path, out: Path, example_figures: Sequence[Path] = ()
) -> list[tuple]:
    """Sources and counts from the structures and split stages, crystals left out, and the
    figures of the stages (``example_figures``: the patterns and shaping examples)."""
    blocks: list[tuple] = []
    outcomes = structures_dir / paths.name("outcomes")
    if outcomes.is_file():
        o = pd.read_csv(outcomes, keep_default_na=False)
        by_source = o.groupby("source")["status"].value_counts().unstack(fill_value=0).reset_index()
        by_source.columns.name = None
        by_source.insert(1, "considered", o.groupby("source").size().to_numpy())
        blocks += [
            ("text", f"Inputs considered per source and what became of them ({outcomes.name}):"),
            ("table", by_source),
        ]
        skipped = o[o["status"] != "kept"]
        if len(skipped):
            reasons = skipped["reason"].value_counts().rename_axis("reason")
            blocks += [
                ("text", "Reasons for skipping:"),
                ("table", reasons.reset_index(name="count")),
            ]
    else:
        blocks.append(("text", f"{outcomes} not found."))
    counts = structures_dir / paths.name("structure_counts")
    if counts.is_file():
        c = pd.read_csv(counts)
        per = c.groupby("crystal_system")["count"].agg(["sum", lambda s: int((s > 0).sum())])
        per.columns = ["structures", "space groups"]
        per = per.reindex([s for s in CRYSTAL_SYSTEMS if s in per.index]).reset_index()
        total = pd.DataFrame(
            [
                {
                    "crystal_system": "total",
                    "structures": int(c["count"].sum()),
                    "space groups": int((c["count"] > 0).sum()),
                }
            ]
        )
        blocks += [
            ("text", "Structures kept per crystal system (labels from spglib):"),
            ("table", pd.concat([per, total], ignore_index=True)),
        ]
    rel = _copy(
        structures_dir / paths.name("structure_counts_figure"),
        out,
        "figures/structures_class_counts.png",
    )
    if rel:
        blocks.append(("figure", rel, "Structures per space group, coloured by crystal system."))
    realism = structures_dir / paths.name("realism")
    if realism.is_file():
        r = pd.read_csv(realism)
        keep = ["sites_per_cell", "volume_per_atom", "longest_edge", "share_contact_below_0.7",
                "general_position_share"]  # fmt: skip
        r = r[r["measure"].isin(keep)]
        r = r.pivot(index="crystal_system", columns="measure", values="median")[keep]
        ref = pd.read_csv(realism).query("crystal_system == 'all'").set_index("measure")
        r.loc["reference (all)"] = [ref["reference"].get(k) for k in keep]
        blocks += [
            ("text", "Realism of the structures (medians; references in docs/synthetic.md):"),
            ("table", r.reset_index().round(3)),
        ]
    rel = _copy(
        structures_dir / paths.name("realism_figure"), out, "figures/structures_realism.png"
    )
    if rel:
        blocks.append(
            ("figure", rel, "Structure statistics against real-crystal references (realism.csv).")
        )
    split_counts = split_dir / paths.name("split_counts")
    if split_counts.is_file():
        s = pd.read_csv(split_counts)
        s["crystal_system"] = [crystal_system(g) for g in s["spacegroup"]]
        parts = [c for c in ("train", "val", "test") if c in s]
        per = s.groupby("crystal_system")[parts].sum()
        per = per.reindex([x for x in CRYSTAL_SYSTEMS if x in per.index])
        per.loc["total"] = per.sum()
        per.loc["space groups in split"] = (s[parts] > 0).sum()
        blocks += [("text", "Split sizes per crystal system:"), ("table", per.reset_index())]
    rel = _copy(
        split_dir / paths.name("split_counts_figure"), out, "figures/split_class_counts.png"
    )
    if rel:
        blocks.append(("figure", rel, "Train, validation and test crystals per space group."))
    excluded = split_dir / paths.name("split_excluded")
    if excluded.is_file():
        ex = pd.read_csv(excluded, dtype={"id": str}, keep_default_na=False)
        if len(ex):
            blocks += [
                ("text", f"Crystals left out of the split ({len(ex)}, {excluded.name}):"),
                ("table", ex),
            ]
    for fig in map(Path, example_figures):
        rel = _copy(fig, out, f"figures/{fig.parent.name}_{fig.name}")
        if rel:
            blocks.append(("figure", rel, example_caption(fig)))
    return blocks


def effective_config(cfg: Mapping[str, Any], metrics: Mapping[str, Mapping[str, Any]]) -> dict:
    """``cfg`` with ``patterns`` and ``shaping`` taken from the model cards when they agree.

    The cards are authoritative for what the models saw; a report stage handed only part of
    the configuration would otherwise show defaults for those sections.
    """
    shown = json.loads(json.dumps(cfg))
    for key in ("patterns", "shaping"):
        found = {json.dumps(m.get("model", {}).get(key), sort_keys=True) for m in metrics.values()}
        found.discard("null")
        if len(found) == 1:
            shown[key] = json.loads(found.pop())
    return shown


def _card_for_display(card: Mapping[str, Any]) -> dict[str, Any]:
    """A model card without the images' full config copy (it repeats patterns and shaping)."""
    out = dict(card)
    if isinstance(out.get("data_source"), dict):
        out["data_source"] = {k: v for k, v in out["data_source"].items() if k != "config"}
    return out


def learning_curve_section(csv_path: str | os.PathLike, out: Path) -> Section:
    """Accuracy against training crystals per class (learning_curve.csv, .png beside it)."""
    from . import learning_curve as lc

    sec = Section("Learning curve (accuracy against training-set size)")
    path = Path(csv_path)
    if not path.is_file():
        sec.blocks.append(("text", f"{path} not found."))
        return sec
    table = pd.read_csv(path)
    rel = _copy(path.with_suffix(".png"), out, "figures/learning_curve.png")
    if rel is None:
        lc.plot(table, out / "figures/learning_curve.png")
        rel = "figures/learning_curve.png"
    _copy(path, out, "learning_curve.csv")
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


def config_hash_note(report_hash: str, cards: Mapping[str, Mapping[str, Any]]) -> str:
    """Why the report's config hash and the model cards' hashes differ."""
    per_model = ", ".join(f"{n}: {c.get('config_hash', '-')}" for n, c in cards.items())
    return (
        f"Config hashes: {report_hash} above is the hash of the whole configuration shown "
        "(config.yaml beside this page). Each model card's config_hash "
        f"({per_model}) is a different, narrower hash by design: of what determines that "
        "model's weights only (its train settings without device, worker and cache settings, its "
        "entry in train.models, classes, seed, split.imbalance, and the hash and row count of "
        "the image file it was trained on), so changing, say, the report's settings leaves "
        "the cards' hashes unchanged; equal card hashes mean identically trained models."
    )


# ------------------------------------------------------------------------------- build


def build_report(
    cfg: dict[str, Any],
    metrics_paths: Mapping[str, str | os.PathLike],
    history_paths: Mapping[str, str | os.PathLike],
    robustness_csv: str | os.PathLike | None,
    structures_dir: str | os.PathLike,
    split_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    example_figures: Sequence[str | os.PathLike] = (),
    real_metrics_paths: Mapping[str, str | os.PathLike] | None = None,
    *,
    learning_curve: str | os.PathLike | None = None,
) -> None:
    """Write ``index.html``, ``index.md``, ``metrics.json``, ``config.yaml`` and the figures.

    ``metrics_paths``/``history_paths``: model name -> ``metrics.json`` (its confusion figures
    and ``per_class.csv`` beside it) / ``history.csv``; ``robustness_csv``: robustness.csv
    (robustness.png beside it) or None; ``example_figures``: the stages' example figures (patterns
    and shaping). File names inside the stage directories: :mod:`xtalsym.paths`.
    ``real_metrics_paths``: model name -> the
    ``metrics.json`` of its real-structure check (``predictions.csv`` beside it), or None when
    the check is disabled.
    (robustness.png beside it) or None; ``learning_curve``: learning_curve.csv
    (learning_curve.png beside it) or None.
    """
    out = Path(out_dir)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    metrics = {n: json.loads(Path(p).read_text()) for n, p in metrics_paths.items()}
    if not metrics:
        raise ValueError("build_report: no metrics given")
    real = load_real(real_metrics_paths)
    write_json(out / "metrics.json", with_real(metrics, real))
    msdn, base = pick_msdn_and_baseline(metrics)
    sections: list[Section] = []

    comp = Section("Model comparison (space group and crystal system, test split)")
    comp.blocks += [
        (
            "text",
            f"Every trained model on our test split, beside the published figures ({PAPER}). "
            "Ours are measured on the data named in the last column, not on the paper's ICSD set: "
            "compare gaps between models, not absolute numbers across data sets. Balanced accuracy "
            "and macro F1 average over the space groups present in the test split.",
        ),
        (
            "table",
            add_intervals(comparison_table(metrics, source_summary(Path(structures_dir))), metrics),
        ),
        ("text", INTERVAL_NOTE),
    ]
    figures.plot_comparison(
        pd.DataFrame(
            [
                {"model": n, "sg_top1": m["sg_top1"], "cs_accuracy": m["cs_accuracy"]}
                for n, m in metrics.items()
            ]
        ),
        out / "figures/comparison.png",
        published=PUBLISHED_MSDN_TOP1,
    )
    comp.blocks.append(
        (
            "figure",
            "figures/comparison.png",
            "Test accuracy per model; dashed: the paper's MSDN (80.2%, ICSD).",
        )
    )
    sections.append(comp)
    sections.append(real_check_section(real, real_metrics_paths))

    conf = Section("Confusion between close crystal systems (the paper's qualitative finding)")
    conf.blocks += [
        (
            "text",
            "The paper reports the largest gains of MSDN over conventional CNNs between "
            "symmetrically close systems. Rate A <-> B: crystals of A predicted as B plus B "
            "predicted as A, over all crystals of A and B (crystal system of the predicted space "
            f"group). Last row: MSDN ({msdn}) minus the best baseline ({base}); negative means "
            "MSDN confuses them less.",
        ),
        ("table", confusion_rates_table_ci(metrics)),
        ("text", "Accuracy per true crystal system (95% Wilson intervals):"),
        ("table", per_system_table_ci(metrics)),
    ]
    sections.append(conf)
    sections += trust_sections(metrics, out)

    hist = {n: pd.read_csv(p) for n, p in history_paths.items() if Path(p).is_file()}
    train = Section("Training")
    if hist:
        figures.plot_training_curves(hist, out / "figures/training_curves.png")
        train.blocks += [
            (
                "figure",
                "figures/training_curves.png",
                "Loss and accuracy per epoch; dashed: training, solid: validation.",
            ),
            ("table", training_table(hist)),
        ]
    else:
        train.blocks.append(("text", "No training history found."))
    sections.append(train)

    for name, path in metrics_paths.items():
        src = Path(path).parent
        m = metrics[name]
        sec = Section(f"Confusion matrices: {name}")
        for fig, caption in (
            ("confusion_sg", "space groups in ascending order, crystal systems boxed"),
            ("confusion_cs", "crystal systems"),
        ):
            rel = _copy(src / paths.name(fig), out, f"figures/{name}_{fig}.png")
            if rel:
                sec.blocks.append(
                    ("figure", rel, f"{name}, row-normalised, {caption} (n = {m['n']}).")
                )
        sec.blocks += confusion_zoom(src, name, out)
        sec.blocks += misclassified_blocks(src, name, Path(structures_dir), out)
        pc_path = src / paths.name("per_class")
        if pc_path.is_file():
            pc = pd.read_csv(pc_path)
            _copy(pc_path, out, f"{name}_per_class.csv")
            shown = pc.round({"precision": 3, "recall": 3, "f1": 3})
            sec.blocks.append(
                (
                    "details",
                    f"Per-class precision, recall, F1 and support ({name}_per_class.csv)",
                    shown,
                )
            )
        sections.append(sec)

    rob = Section("Robustness to noise")
    if robustness_csv and Path(robustness_csv).is_file():
        table = pd.read_csv(robustness_csv)
        rob_png = Path(robustness_csv).parent / paths.name("robustness_figure")
        rel = _copy(rob_png, out, "figures/robustness.png")
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
    sections.append(rob)

    if learning_curve:
        sections.append(learning_curve_section(learning_curve, out))

    prov = Section("Data provenance")
    prov.blocks += provenance_sections(
        Path(structures_dir), Path(split_dir), out, [Path(f) for f in example_figures]
    )
    sections.append(prov)

    cards = {n: _card_for_display(m.get("model", {})) for n, m in metrics.items()}
    shown = effective_config(cfg, metrics)
    cfg_text = yaml.safe_dump(shown, sort_keys=False)
    write_text(out / "config.yaml", cfg_text)
    conf_sec = Section("Configuration")
    conf_sec.blocks += [
        (
            "text",
            f"The configuration of this run (config hash {config_hash(shown)}), also in "
            "config.yaml; the patterns and shaping sections are those recorded in the model cards "
            "(what the models were trained and evaluated with).",
        ),
        ("code", cfg_text),
        (
            "text",
            "The models, as their cards record them (simulation and shaping settings are "
            "in each results/models/<model>/model_card.json):",
        ),
        ("code", yaml.safe_dump(cards, sort_keys=False)),
        ("text", config_hash_note(config_hash(shown), cards)),
        ("link", "metrics.json", "All metrics as JSON (model -> metrics)"),
    ]
    sections.append(conf_sec)

    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    title = "xtalsym: space-group identification from noisy diffraction patterns"
    intro = (
        f"Report built {stamp} by xtalsym {__version__}; {len(metrics)} model(s): "
        f"{', '.join(metrics)}. Reproduces {PAPER}."
    )
    write_text(out / "index.md", render_markdown(title, intro, sections))
    write_text(out / "index.html", render_html(title, intro, sections))
    logger.info("report written to %s", out / "index.html")
