"""The report's trust sections: calibration, abstention, the symmetry hierarchy with the
physical limit, views, and the class prior (docs/evaluation.md explains each figure).

:func:`trust_sections` takes ``{label: metrics}`` for every evaluated set (a model on the test
split, or a model on another set, labelled e.g. ``msdn / real``) and draws the figures into
``out_dir/figures``; sets without a block (older metrics files) are left out of its table.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from . import trust_plots
from .document import Section
from .hierarchy import LEVELS, level_map
from .tables import pct

LEVEL_NAMES = {
    "crystal_system": "crystal system",
    "bravais_lattice": "Bravais lattice",
    "laue_class": "Laue class",
    "point_group": "point group",
    "diffraction_symbol": "diffraction symbol",
    "space_group": "space group",
}


def _num(v: Any, digits: int = 3) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def calibration_table(metrics: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    rows = []
    for label, m in metrics.items():
        c = m.get("calibration")
        if not c:
            continue
        before, after = c.get("uncalibrated") or {}, c.get("calibrated") or {}
        rows.append(
            {
                "set": label,
                "n": m["n"],
                "temperature": _num(c.get("temperature"), 2),
                "fitted on": c.get("source") or "-",
                "ECE before": _num(c.get("ece_uncalibrated")),
                "ECE after": _num(c.get("ece")),
                "NLL before": _num(before.get("nll")),
                "NLL after": _num(after.get("nll")),
                "mean confidence after": pct(after.get("mean_confidence")),
                "top-1": pct(m.get("sg_top1")),
            }
        )
    return pd.DataFrame(rows)


def abstention_table(metrics: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    rows = []
    for label, m in metrics.items():
        a = m.get("abstention")
        if not a:
            continue
        rows.append(
            {
                "set": label,
                "n": m["n"],
                "top-1 (all kept)": pct(m.get("sg_top1")),
                "at 80% coverage": pct(a.get("acc_at_80")),
                "at 50% coverage": pct(a.get("acc_at_50")),
                "AURC (lower is better)": _num(a.get("aurc")),
            }
        )
    return pd.DataFrame(rows)


def hierarchy_table(metrics: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    rows = []
    for label, m in metrics.items():
        h = m.get("hierarchy")
        if not h:
            continue
        row: dict[str, Any] = {"set": label, "n": m["n"]}
        for lv in LEVELS:
            row[f"{LEVEL_NAMES[lv]} ({h[lv]['n_values']})"] = pct(h[lv]["accuracy"])
        rows.append(row)
    return pd.DataFrame(rows)


def limit_table(metrics: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    rows = []
    for label, m in metrics.items():
        p = m.get("physical_limit")
        if not p:
            continue
        rows.append(
            {
                "set": label,
                "n": m["n"],
                "model top-1": pct(p["model_sg_top1"]),
                "model diffraction symbol": pct(p["model_symbol_accuracy"]),
                "physical limit (symbol oracle)": pct(p["accuracy"]),
                "gap: physics (1 - limit)": pct(p["gap_physics"]),
                "gap: model (limit - top-1)": pct(p["gap_model"]),
                "symbols / classes": f"{p['n_symbols']} / {p['n_classes']}",
                "oracle's class frequencies": p.get("prior", "-"),
            }
        )
    return pd.DataFrame(rows)


def views_wide(metrics: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    cols: dict[str, dict[str, str]] = {}
    for label, m in metrics.items():
        for r in m.get("views") or []:
            cols.setdefault(label, {})[r["beams"]] = pct(r["sg_top1"])
    if not cols:
        return pd.DataFrame()
    wide = pd.DataFrame(cols)
    wide.index.name = "beams"
    return wide.reset_index()


def prior_table(metrics: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    rows = []
    for label, m in metrics.items():
        p = m.get("prior")
        if not p:
            continue
        rows.append(
            {
                "set": label,
                "trained with": p.get("trained") or "-",
                "test imbalance (max/min class)": _num(p.get("test_imbalance"), 1),
                "top-1 without prior": pct(p["sg_top1_without_prior"]),
                "top-1 with log prior": pct(p["sg_top1_with_prior"]),
                "balanced acc. without": pct(p["sg_balanced_without_prior"]),
                "balanced acc. with": pct(p["sg_balanced_with_prior"]),
            }
        )
    return pd.DataFrame(rows)


def shared_symbols(classes: list[int]) -> pd.DataFrame:
    """The diffraction symbols that several of ``classes`` share (the kinematic ambiguities)."""
    from ..structures import spacegroup_symbol as sg_symbol

    names, index = level_map(classes, "diffraction_symbol")
    rows = []
    for i, name in enumerate(names):
        members = [c for c, j in zip(classes, index, strict=True) if j == i]
        if len(members) > 1:
            rows.append(
                {
                    "diffraction symbol (Laue class, groups of all 230 sharing it)": name,
                    "classes sharing it": ", ".join(f"{c} {sg_symbol(c)}" for c in members),
                }
            )
    return pd.DataFrame(rows)


def trust_sections(metrics: Mapping[str, Mapping[str, Any]], out_dir: Path) -> list[Section]:
    """The five sections, figures drawn into ``out_dir/figures``."""
    out = Path(out_dir)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    with_blocks = {k: m for k, m in metrics.items() if m.get("calibration")}
    if not with_blocks:
        return []
    sections = []

    cal = Section("Calibration (temperature scaling)")
    trust_plots.plot_reliability(with_blocks, out / "figures/reliability.png")
    cal.blocks += [
        (
            "text",
            "Probabilities are divided by one temperature T fitted on the validation split "
            "(minimum negative log-likelihood); T > 1 softens an over-confident model. It "
            "changes no prediction, only the probabilities. ECE: the crystal-weighted mean gap "
            "between accuracy and confidence over 15 equal-width confidence bins.",
        ),
        ("table", calibration_table(with_blocks)),
        ("figure", "figures/reliability.png", "Reliability diagrams, before and after scaling."),
    ]
    sections.append(cal)

    ab = Section("Abstention (risk-coverage)")
    trust_plots.plot_risk_coverage(with_blocks, out / "figures/risk_coverage.png")
    ab.blocks += [
        (
            "text",
            "The model may decline its least confident crystals: ranked by calibrated top "
            "probability, accuracy of the fraction kept. `xtalsym predict --min-confidence P` "
            "applies the same rule to one input.",
        ),
        ("table", abstention_table(with_blocks)),
        ("figure", "figures/risk_coverage.png", "Accuracy against coverage per set."),
    ]
    sections.append(ab)

    hi = Section("The symmetry hierarchy and the physical limit")
    trust_plots.plot_hierarchy(with_blocks, out / "figures/hierarchy.png")
    first = next(iter(with_blocks.values())).get("physical_limit") or {}
    classes = [int(c) for c in first.get("classes", [])]
    hi.blocks += [
        (
            "text",
            "Each level's probability is the sum of the class probabilities that share its "
            "value; the prediction at a level is the most probable value (column header: values "
            "among the classes). The diffraction symbol is the Laue class plus the systematic "
            "absences: what kinematic diffraction can see, since Friedel's law hides the "
            "inversion centre.",
        ),
        ("table", hierarchy_table(with_blocks)),
        (
            "text",
            "The physical limit: an oracle that knows each crystal's diffraction symbol exactly "
            "and answers the most frequent training class of that symbol. The gap up to the "
            "limit is the model's; the gap above it is physics (classes that differ only in "
            "intensity statistics).",
        ),
        ("table", limit_table(with_blocks)),
        ("figure", "figures/hierarchy.png", "Accuracy per level; black: the physical limit."),
    ]
    if classes:
        hi.blocks.append(
            ("details", "Classes that share a diffraction symbol", shared_symbols(classes))
        )
    sections.append(hi)

    wide = views_wide(with_blocks)
    if len(wide):
        vi = Section("Views (single beams, pairs, all three)")
        trust_plots.plot_views(with_blocks, out / "figures/views.png")
        vi.blocks += [
            (
                "text",
                "Space-group top-1 on the same test crystals from a subset of the three beam "
                "directions. MSDN: the sum of the chosen streams' heads (the full sum is the "
                "model); stacked-channel baselines: the other beams' channels blanked.",
            ),
            ("table", wide),
            ("figure", "figures/views.png", "Top-1 per beam subset."),
        ]
        sections.append(vi)

    pr = Section("Class prior (logit adjustment)")
    pr.blocks += [
        (
            "text",
            "Top-1 with and without the log class prior of the training split added to the "
            "logits (split.imbalance logit_adjust trains balanced and adds it at inference; "
            "for other models it is added post hoc). On a test split as imbalanced as training "
            "the prior should raise top-1; balanced accuracy shows what it costs rare classes.",
        ),
        ("table", prior_table(with_blocks)),
    ]
    sections.append(pr)
    return sections


__all__ = ["trust_sections"]
