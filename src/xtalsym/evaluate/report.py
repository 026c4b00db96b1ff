"""The report a scientist opens: ``results/report/index.html`` (and ``index.md``).

One document, built from the artifacts only: the comparison of every trained model with the
published figures, the monoclinic/orthorhombic and trigonal/hexagonal confusion rates (the
paper's qualitative finding), accuracy per crystal system, training curves, confusion matrices,
robustness against noise, data provenance (sources, skips, class and split counts) and the
configuration that produced it. Figures are copied (or drawn) into ``out_dir/figures`` and
linked relatively, so the directory is self-contained; ``metrics.json`` maps model -> metrics.

This module assembles the document; :mod:`.sections` (per-model sections, robustness, learning
curve) and :mod:`.provenance` build the larger sections, :mod:`.document` writes HTML and
Markdown.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from .. import __version__
from ..io import config_hash, write_json, write_text
from . import figures
from .document import Section, render_html, render_markdown
from .provenance import example_caption, provenance_sections, source_summary
from .real import load_real, real_check_section, with_real
from .sections import (
    MISCLASSIFIED_SHOWN,
    confusion_section,
    confusion_zoom,
    learning_curve_section,
    misclassified_blocks,
    misclassified_table,
    robustness_section,
)
from .tables import (
    INTERVAL_NOTE,
    PAPER,
    PUBLISHED_MSDN_TOP1,
    add_intervals,
    comparison_table,
    confusion_rates_table_ci,
    per_system_table_ci,
    pick_msdn_and_baseline,
    training_table,
)
from .trust_report import trust_sections

logger = logging.getLogger(__name__)

# ---------------------------------------------------------------------------- helpers


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


def run_report(
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
        raise ValueError("report: no metrics given")
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
        sections.append(confusion_section(name, path, metrics[name], Path(structures_dir), out))
    sections.append(robustness_section(robustness_csv, out))
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


__all__ = [
    "MISCLASSIFIED_SHOWN",
    "run_report",
    "config_hash_note",
    "confusion_zoom",
    "effective_config",
    "example_caption",
    "learning_curve_section",
    "misclassified_blocks",
    "misclassified_table",
    "provenance_sections",
    "source_summary",
]
