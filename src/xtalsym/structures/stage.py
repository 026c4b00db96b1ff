"""The structures stage: run the configured sources, deduplicate, write the artifacts.

Sources run in the order cif_dir, materials_project, synthetic (measured structures win
duplicates over generated ones; ids ascend in that order too). Outputs in ``out_dir``:
structures.parquet, outcomes.csv, class_counts.csv and class_counts.png, realism.csv and
realism.png (distributions against real-crystal statistics, :mod:`.realism`; docs/artifacts.md).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..io import write_table
from ..spacegroups import CRYSTAL_SYSTEMS, crystal_system, resolve_classes
from . import cif, mp, synthetic
from .dedup import Deduplicator
from .outcomes import Outcome
from .prior import class_targets
from .realism import write_realism
from .standard import spacegroup_symbol
from .writer import ArtifactWriter

logger = logging.getLogger(__name__)

#: One colour per crystal system (matplotlib's tab10), used by every class-count figure.
SYSTEM_COLOURS = dict(
    zip(
        CRYSTAL_SYSTEMS,
        ("#7f7f7f", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#d62728", "#8c564b"),
        strict=True,
    )
)


def _write_cif_source(
    sconf: dict[str, Any], classes: list[int], out_dir: Path, w: ArtifactWriter, dedup, progress
) -> None:
    cache, n_chunks = cif.parse_directory(sconf, classes, out_dir, progress=progress)
    for table in cif.iter_chunks(cache, n_chunks):
        kept = pc.equal(table.column("status"), "kept").to_pylist()
        keep_mask, outcomes = [], []
        rows = table.select(["formula", "spacegroup", "symbol", "n_sites"]).to_pylist()
        for rec, is_kept, row in zip(
            table.select(["name", "reason", "id", "detail"]).to_pylist(), kept, rows, strict=True
        ):
            ok = is_kept and dedup.add(row)
            keep_mask.append(ok)
            reason = "" if ok else (rec["reason"] or "duplicate")
            outcomes.append(
                Outcome(
                    cif.SOURCE,
                    rec["name"],
                    "kept" if ok else "skipped",
                    reason,
                    rec["id"] if ok else "",
                    rec["detail"] or "",
                )  # fmt: skip
            )
        w.write_rows(table.filter(pa.array(keep_mask, type=pa.bool_())))
        w.write_outcomes(outcomes)


def _write_rows_dedup(rows, outcomes, w: ArtifactWriter, dedup: Deduplicator) -> None:
    """Write rows not seen before; outcomes of the rest become duplicates."""
    dup = set()
    kept = []
    for row in rows:
        if dedup.add(row):
            kept.append(row)
        else:
            dup.add(row["id"])
    w.write_rows(kept)
    w.write_outcomes(
        Outcome(o.source, o.name, "skipped", "duplicate") if o.id in dup else o for o in outcomes
    )


def class_counts(
    counts: dict[int, int], classes: list[int], report: dict[int, dict[str, Any]] | None = None
) -> pd.DataFrame:
    """class_counts.csv: every class of the set, its count, and the synthetic target/note."""
    report = report or {}
    return pd.DataFrame(
        {
            "spacegroup": classes,
            "symbol": [spacegroup_symbol(sg) for sg in classes],
            "crystal_system": [crystal_system(sg) for sg in classes],
            "count": [int(counts.get(sg, 0)) for sg in classes],
            "target": pd.array([report.get(sg, {}).get("target") for sg in classes], "Int64"),
            "note": [report.get(sg, {}).get("note", "") for sg in classes],
        }
    )


def plot_class_counts(df: pd.DataFrame, dest: str | Path, title: str = "") -> None:
    """Bar chart of counts per space group, coloured by crystal system (targets as ticks)."""
    from ..plotting import pyplot, save_figure

    plt = pyplot()
    from matplotlib.patches import Patch

    n = len(df)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.16 * n + 1.5), 3.6), dpi=120)
    x = range(n)
    ax.bar(x, df["count"], color=[SYSTEM_COLOURS[s] for s in df["crystal_system"]], width=0.8)
    if df["target"].notna().any():
        ax.scatter(x, df["target"].astype(float), marker="_", color="black", s=40, lw=1,
                   label="synthetic target", zorder=3)  # fmt: skip
    step = 1 if n <= 80 else max(1, n // 60)
    ax.set_xticks(list(x)[::step])
    ax.set_xticklabels(df["spacegroup"].astype(str).tolist()[::step], rotation=90, fontsize=6)
    ax.set_xlim(-0.6, n - 0.4)
    top = max(float(df["count"].max()), float(df["target"].astype(float).max(skipna=True) or 0))
    ax.set_ylim(0, 1.25 * max(top, 1.0))  # head-room for the legend
    ax.set_xlabel("space group")
    ax.set_ylabel("structures")
    ax.set_title(title or f"{int(df['count'].sum())} structures in {n} classes", fontsize=9)
    present = [s for s in CRYSTAL_SYSTEMS if s in set(df["crystal_system"])]
    handles = [Patch(color=SYSTEM_COLOURS[s], label=s) for s in present]
    if df["target"].notna().any():
        handles += ax.get_legend_handles_labels()[0]
    ax.legend(handles=handles, fontsize=6, ncol=len(handles), frameon=False, loc="upper center")
    fig.tight_layout()
    save_figure(fig, dest)


def run_structures(cfg: dict[str, Any], out_dir: str | Path, progress: bool = True) -> None:
    """The structures stage (uses ``cfg["structures"]``, ``cfg["classes"]``, ``cfg["seed"]``)."""
    sconf = cfg["structures"]
    classes = resolve_classes(cfg["classes"])
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sources = list(sconf["sources"])
    dedup = Deduplicator(enabled=sconf["dedup"])
    report: dict[int, dict[str, Any]] = {}

    with ArtifactWriter(out_dir) as w:
        if "cif_dir" in sources:
            _write_cif_source(sconf, classes, out_dir, w, dedup, progress)
        if "materials_project" in sources:
            rows, outcomes = mp.run_materials_project(sconf, classes, out_dir)
            _write_rows_dedup(rows, outcomes, w, dedup)
        if "synthetic" in sources:
            cache = out_dir / synthetic.CACHE_DIR
            report = synthetic.generate(
                sconf, classes, cfg["seed"], w.write, dedup, progress, cache=cache
            )

    syn = sconf["synthetic"]
    targets = (
        class_targets(classes, int(syn["per_class"]), syn["prior"])
        if "synthetic" in sources
        else None
    )
    write_realism(
        out_dir / "structures.parquet", out_dir, classes, targets, int(sconf["max_sites"])
    )
    df = class_counts(dict(w.counts), classes, report)
    write_table(out_dir / "class_counts.csv", df)
    plot_class_counts(df, out_dir / "class_counts.png")
    for src in sources:
        skipped = {r: n for (s, r), n in sorted(w.skipped.items()) if s == src}
        logger.info("%s: kept %d, skipped %s", src, w.kept.get(src, 0), skipped or "none")
    empty = [sg for sg in classes if not w.counts.get(sg)]
    if empty:
        logger.warning("%d classes have no structure: %s", len(empty), empty)
    logger.info("structures: %d kept in %d classes -> %s", w.n_rows, len(w.counts), out_dir)
