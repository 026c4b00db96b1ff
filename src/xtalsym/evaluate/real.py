"""The report's real-structure check: every model on the literature structures of ``data/real``.

The per-model evaluation is ``xtalsym evaluate --structures DIR`` (:func:`xtalsym.predict.
evaluate_structures`, rule ``evaluate_real``), which writes ``metrics.json`` and
``predictions.csv`` under ``results/evaluate/<model>/real/``. This module turns those into the
report's summary (:func:`real_summary`, also added to the report's ``metrics.json`` as each
model's ``real_structure_check``) and its section (:func:`real_check_section`). The set is
never used for training or model selection: it only shows how a model trained on synthetic
crystals does on real ones.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from .document import Section
from .tables import pct

KEY = "real_structure_check"
TITLE = "Real-structure check (literature structures, never used for training)"


def load_real(paths: Mapping[str, str | os.PathLike] | None) -> dict[str, dict[str, Any]]:
    """model -> the metrics JSON of its real-structure evaluation (missing files left out)."""
    return {
        n: json.loads(Path(p).read_text()) for n, p in (paths or {}).items() if Path(p).is_file()
    }


def real_summary(m: Mapping[str, Any]) -> dict[str, Any]:
    """The numbers the report shows for one model: accuracies and how many files counted."""
    data = m.get("data", {})
    n = int(m["n"])
    return {
        "structures_dir": data.get("structures_dir"),
        "files": int(data.get("files", n)),
        "in_classes": int(data.get("in_classes", n)),
        "evaluated": n,
        "sg_top1": m["sg_top1"],
        "sg_top5": m["sg_top5"],
        "cs_accuracy": m["cs_accuracy"],
    }


def with_real(
    metrics: Mapping[str, Mapping[str, Any]], real: Mapping[str, Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    """``metrics`` (model -> metrics) with each model's ``real_structure_check`` summary added."""
    out = {n: dict(m) for n, m in metrics.items()}
    for n, r in real.items():
        if n in out:
            out[n][KEY] = real_summary(r)
    return out


def summary_table(real: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    rows = []
    for name, m in real.items():
        s = real_summary(m)
        rows.append(
            {
                "model": name,
                "space group top-1": pct(s["sg_top1"]),
                "top-5": pct(s["sg_top5"]),
                "crystal system": pct(s["cs_accuracy"]),
                "evaluated / in classes / files": (
                    f"{s['evaluated']} / {s['in_classes']} / {s['files']}"
                ),
            }
        )
    return pd.DataFrame(rows)


def per_structure_table(paths: Mapping[str, str | os.PathLike]) -> pd.DataFrame | None:
    """One row per evaluated file: its spglib group and each model's top-1 (with a mark)."""
    table: pd.DataFrame | None = None
    for name, p in paths.items():
        pred_path = Path(p).parent / "predictions.csv"
        if not pred_path.is_file():
            continue
        pr = pd.read_csv(pred_path)
        col = pd.DataFrame(
            {
                "file": pr["id"],
                "spglib": pr["true"],
                name: [
                    f"{int(p)} {'ok' if int(p) == int(t) else 'x'}"
                    for p, t in zip(pr["pred"], pr["true"], strict=True)
                ],
            }
        )
        table = col if table is None else table.merge(col, on=["file", "spglib"], how="outer")
    return None if table is None else table.sort_values("file").reset_index(drop=True)


def real_check_section(
    real: Mapping[str, Mapping[str, Any]], paths: Mapping[str, str | os.PathLike] | None
) -> Section:
    """The report section; says so when the check was not run (``evaluate.real_structures``)."""
    sec = Section(TITLE)
    if not real:
        sec.blocks.append(
            ("text", "Real-structure check not run (evaluate.real_structures is null).")
        )
        return sec
    first = real_summary(next(iter(real.values())))
    sec.blocks += [
        (
            "text",
            f"Every model on the literature structures of {first['structures_dir']} (each a "
            "CIF written from a published cell and Wyckoff positions; see its README), "
            "labelled by spglib, simulated with the model card's settings and noise (a fixed "
            "seed per file) and shaped as in training. Accuracy is over the files whose space "
            "group is one of the model's classes; the others are counted and skipped. The set "
            "is never used for training or model selection: compare it with the test split "
            "above to see how far synthetic training transfers to real crystals.",
        ),
        ("table", summary_table(real)),
    ]
    per = per_structure_table(paths or {})
    if per is not None and len(per):
        sec.blocks.append(
            ("details", "Per structure: spglib group and each model's top-1 (ok / x)", per)
        )
    return sec
