"""The report's data-provenance section: sources and skips, class and split counts, realism,
crystals left out, and the stages' example figures (file names: :mod:`xtalsym.paths`)."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from .. import paths
from ..io import atomic_path
from ..spacegroups import CRYSTAL_SYSTEMS, crystal_system

logger = logging.getLogger(__name__)


def copy_into(src: Path, out_dir: Path, rel: str) -> str | None:
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
    rel = copy_into(
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
    rel = copy_into(
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
    rel = copy_into(
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
        rel = copy_into(fig, out, f"figures/{fig.parent.name}_{fig.name}")
        if rel:
            blocks.append(("figure", rel, example_caption(fig)))
    return blocks
