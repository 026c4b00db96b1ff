"""The structures stage: run the configured sources, deduplicate, write the artifacts.

Sources run in the order cif_dir, materials_project, synthetic (measured structures win
duplicates over generated ones; ids ascend in that order too). Outputs in ``out_dir``:
structures.parquet, outcomes.csv, class_counts.csv and class_counts.png, realism.csv and
realism.png (distributions against real-crystal statistics, :mod:`.realism`; docs/artifacts.md).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..io import write_json, write_table
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
    sconf: dict[str, Any],
    classes: list[int],
    out_dir: Path,
    w: ArtifactWriter,
    dedup,
    progress,
    shards: int = 1,
) -> None:
    caches = cif.parse_shards(sconf, classes, out_dir, shards, progress=progress)
    for table in cif.iter_tables(caches):
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


def shard_manifest(out_dir: str | Path, k: int) -> Path:
    """Where shard job ``k`` of the structures stage writes its manifest."""
    return Path(out_dir) / "shards" / f"{k}.json"


def run_structures_shard(
    cfg: dict[str, Any], out_dir: str | Path, shard: tuple[int, int], progress: bool = True
) -> Path:
    """Shard ``k`` of ``N`` of the structures stage (config ``shards``): the CIFs whose path
    hashes to shard k (:func:`.cif.shard_of`) and the k-th of every N chunks of the synthetic
    source's first round, parsed or generated into the stage's caches in ``out_dir``, where
    :func:`run_structures` (``shards=N``) reads them back instead of redoing them; so the
    artifact is the unsharded one. The Materials Project source is left to that job. Writes
    and returns the manifest ``out_dir/shards/{k}.json`` (what was cached where)."""
    sconf = cfg["structures"]
    classes = resolve_classes(cfg["classes"])
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    k, n = shard
    manifest: dict[str, Any] = {"shard": f"{k}/{n}"}
    if "cif_dir" in sconf["sources"]:
        cache, n_chunks = cif.parse_directory(sconf, classes, out_dir, progress, shard)
        manifest["cif_dir"] = {"cache": cache.relative_to(out_dir).as_posix(),
                               "chunks": n_chunks}  # fmt: skip
    if "synthetic" in sconf["sources"]:
        cache = out_dir / synthetic.CACHE_DIR
        names = synthetic.run_shard(sconf, classes, cfg["seed"], cache, shard, progress)
        manifest["synthetic"] = {"cache": synthetic.CACHE_DIR, "chunks": names}
    dest = shard_manifest(out_dir, k)
    write_json(dest, manifest)
    logger.info("structures shard %d/%d -> %s", k, n, dest)
    return dest


def gather_structures(
    cfg: dict[str, Any], out_dir: str | Path, manifests: list[str | Path], progress: bool = True
) -> None:
    """:func:`run_structures` after the shard jobs whose ``manifests`` (shard order) are
    given: ValueError naming the file unless they are shards 0..N-1 of one N. A cache a
    manifest names that is gone is only a warning: the stage redoes that part."""
    n = len(manifests)
    for k, path in enumerate(manifests):
        m = json.loads(Path(path).read_text())
        if m.get("shard") != f"{k}/{n}":
            raise ValueError(f"{path}: shard {m.get('shard')}, expected {k}/{n} (in order)")
        for source in ("cif_dir", "synthetic"):
            cache = m.get(source, {}).get("cache")
            if cache and not (Path(out_dir) / cache).is_dir():
                logger.warning("%s: its %s cache %s is gone; redoing it", path, source, cache)
    run_structures(cfg, out_dir, progress, shards=n)


def run_structures(
    cfg: dict[str, Any], out_dir: str | Path, progress: bool = True, shards: int = 1
) -> None:
    """The structures stage (uses ``cfg["structures"]``, ``cfg["classes"]``, ``cfg["seed"]``).

    ``shards``: the N of the shard jobs (:func:`run_structures_shard`) that ran before, whose
    cached work this job reads back (the CIF caches are laid out per shard)."""
    sconf = cfg["structures"]
    classes = resolve_classes(cfg["classes"])
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sources = list(sconf["sources"])
    dedup = Deduplicator(enabled=sconf["dedup"])
    report: dict[int, dict[str, Any]] = {}

    with ArtifactWriter(out_dir) as w:
        if "cif_dir" in sources:
            _write_cif_source(sconf, classes, out_dir, w, dedup, progress, shards)
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
