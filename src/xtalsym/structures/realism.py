"""Realism report: distributions of the stored structures against real-crystal statistics.

Per crystal system (and over all): sites per conventional cell, volume per atom (Å³),
shortest distance / summed covalent radii, longest cell edge (Å), share with an orbit on the
general position, and (on a subsample) the share whose spglib group changes at 0.1 Å
(pseudo-symmetry). References (docs/synthetic.md):

* sites per cell and general-position share: pyxtal's Materials Project Wyckoff statistics
  (``database/spg_num_wps_mp.csv``), restricted to the class set's groups and ``max_sites``
  and weighted like the class targets (the same mixture of groups the set asks for);
* volume per atom 13.7 Å³, longest edge 6.7 Å, fewer than 1 % of crystals with a contact
  below 0.7 x the summed radii: measured on real inorganic structures (issue 15).

Outputs: realism.csv (one row per system and measure) and realism.png.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from ..io import write_table
from ..spacegroups import CRYSTAL_SYSTEMS, crystal_system
from .placement import group_table, shortest_ratio
from .species import atomic_number, covalent_radius

PUBLISHED = {"volume_per_atom": 13.7, "longest_edge": 6.7}  # medians, real inorganics
CONTACT_LIMIT = 0.7  # shortest distance / summed radii counted as a clash
MAX_CLASH_SHARE = 0.01
PSEUDO_SAMPLE = 150  # structures re-labelled at 0.1 Å
PSEUDO_SYMPREC = 0.1  # Å
TOLERANCE = 0.25  # relative deviation of a median accepted as realistic
COLUMNS = ["spacegroup", "crystal_system", "n_sites", "a", "b", "c", "alpha", "beta",
           "gamma", "prototype", "structure"]  # fmt: skip


def _volume(a, b, c, al, be, ga) -> np.ndarray:
    ca, cb, cg = (np.cos(np.radians(x)) for x in (al, be, ga))
    return a * b * c * np.sqrt(np.clip(1 - ca**2 - cb**2 - cg**2 + 2 * ca * cb * cg, 0, None))


def _shortest(structure_json: str) -> float:
    d = json.loads(structure_json)
    lat = np.array(d["lattice"]["matrix"])
    frac = np.array([s["abc"] for s in d["sites"]])
    radii = np.array([covalent_radius(s["species"][0]["element"]) for s in d["sites"]])
    return shortest_ratio(lat, frac, radii) if len(frac) > 1 else np.inf


def structure_statistics(parquet: str | Path, batch_size: int = 2048) -> pd.DataFrame:
    """Per stored structure: system, group, sites, volume per atom, ratio, edge, general."""
    parts = []
    pf = pq.ParquetFile(parquet)
    for batch in pf.iter_batches(batch_size=batch_size, columns=COLUMNS):
        df = batch.to_pandas()
        if df.empty:
            continue
        vol = _volume(*(df[k].to_numpy(float) for k in ("a", "b", "c", "alpha", "beta", "gamma")))
        general = [
            group_table(int(sg)).letters[0] in p.split("_", 1)[1]
            for sg, p in zip(df["spacegroup"], df["prototype"], strict=True)
        ]
        parts.append(
            pd.DataFrame(
                {
                    "spacegroup": df["spacegroup"].astype(int),
                    "crystal_system": df["crystal_system"],
                    "sites_per_cell": df["n_sites"].astype(int),
                    "volume_per_atom": vol / df["n_sites"].to_numpy(float),
                    "shortest_ratio": [_shortest(s) for s in df["structure"]],
                    "longest_edge": df[["a", "b", "c"]].max(axis=1),
                    "general": general,
                    "structure": df["structure"],
                }
            )
        )
    if not parts:
        return pd.DataFrame(columns=["spacegroup", "crystal_system", "sites_per_cell",
                                     "volume_per_atom", "shortest_ratio", "longest_edge",
                                     "general", "structure"])  # fmt: skip
    return pd.concat(parts, ignore_index=True)


def pseudo_symmetry_share(structures: pd.Series, spacegroups: pd.Series) -> float:
    """Share of an evenly spaced subsample whose spglib group differs at 0.1 Å."""
    from .fastrow import _dataset
    from .outcomes import Skip

    n = len(structures)
    if n == 0:
        return float("nan")
    idx = np.unique(np.linspace(0, n - 1, min(n, PSEUDO_SAMPLE)).astype(int))
    changed = 0
    for i in idx:
        d = json.loads(structures.iloc[i])
        cell = (
            np.array(d["lattice"]["matrix"]),
            np.array([s["abc"] for s in d["sites"]]),
            [atomic_number(s["species"][0]["element"]) for s in d["sites"]],
        )
        try:
            changed += int(_dataset(cell, PSEUDO_SYMPREC).number) != int(spacegroups.iloc[i])
        except Skip:
            changed += 1
    return changed / len(idx)


def reference_statistics(
    classes: list[int], targets: dict[int, int] | None, max_sites: int
) -> pd.DataFrame:
    """Per system: MP median sites per cell and general-position share, groups weighted like
    ``targets`` (uniform without), crystals within ``max_sites``."""
    from .fast import wyckoff_statistics

    stats = wyckoff_statistics()
    rows = []
    for sg in classes:
        recs = [r for r in stats.get(int(sg), []) if r[0] <= max_sites]
        total = sum(c for _, _, c in recs)
        if not total:
            continue
        weight = (targets or {}).get(sg, 1) / total
        for n_atoms, wps, count in recs:
            rows.append((crystal_system(sg), n_atoms, 0 in wps, count * weight))
    ref = pd.DataFrame(rows, columns=["crystal_system", "n_atoms", "general", "w"])
    out = {}
    for system, g in [*ref.groupby("crystal_system"), ("all", ref)]:
        if g.empty:
            continue
        order = np.argsort(g["n_atoms"].to_numpy())
        cw = np.cumsum(g["w"].to_numpy()[order])
        median = float(g["n_atoms"].to_numpy()[order][np.searchsorted(cw, cw[-1] / 2)])
        out[system] = {"sites_per_cell": median,
                       "general_share": float((g["general"] * g["w"]).sum() / g["w"].sum())}  # fmt: skip
    return pd.DataFrame(out).T


def _measure(system: str, measure: str, values, reference: float, source: str) -> dict:
    """One realism.csv row: median and quartiles of ``values`` against ``reference``."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    med = float(np.median(v)) if len(v) else float("nan")
    q25, q75 = np.percentile(v, [25, 75]) if len(v) else (np.nan, np.nan)
    ok = bool(abs(med - reference) <= TOLERANCE * reference) if np.isfinite(reference) else None
    return {"crystal_system": system, "measure": measure, "n": len(v), "median": med,
            "q25": float(q25), "q75": float(q75), "reference": reference,
            "reference_source": source, "within_tolerance": ok}  # fmt: skip


def realism_table(stats: pd.DataFrame, ref: pd.DataFrame) -> pd.DataFrame:
    """realism.csv: per system and measure the median (quartiles) and the reference;
    ``within_tolerance`` for medians within 25 % (clashes: share below 1 %)."""
    rows: list[dict[str, Any]] = []
    systems = [s for s in CRYSTAL_SYSTEMS if s in set(stats["crystal_system"])] + ["all"]
    mp, real = "Materials Project (pyxtal)", "real inorganics (issue 15)"
    for system in systems:
        g = stats if system == "all" else stats[stats["crystal_system"] == system]
        r = ref.loc[system] if system in ref.index else {"sites_per_cell": np.nan,
                                                         "general_share": np.nan}  # fmt: skip
        rows += [
            _measure(system, "sites_per_cell", g["sites_per_cell"], float(r["sites_per_cell"]), mp),
            _measure(
                system, "volume_per_atom", g["volume_per_atom"], PUBLISHED["volume_per_atom"], real
            ),  # fmt: skip
            _measure(system, "longest_edge", g["longest_edge"], PUBLISHED["longest_edge"], real),
            _measure(system, "shortest_distance_ratio", g["shortest_ratio"], np.nan, ""),
        ]
        clash = _measure(system, "share_contact_below_0.7",
                         (g["shortest_ratio"] < CONTACT_LIMIT).astype(float), np.nan, "")  # fmt: skip
        clash.update(median=float((g["shortest_ratio"] < CONTACT_LIMIT).mean()) if len(g) else np.nan,
                     q25=np.nan, q75=np.nan, reference=MAX_CLASH_SHARE,
                     reference_source=f"{real}: < 1 %")  # fmt: skip
        clash["within_tolerance"] = bool(clash["median"] < MAX_CLASH_SHARE) if len(g) else None
        general = _measure(system, "general_position_share", g["general"].astype(float),
                           float(r["general_share"]), mp)  # fmt: skip
        general.update(median=float(g["general"].mean()) if len(g) else np.nan, q25=np.nan,
                       q75=np.nan, within_tolerance=None)  # fmt: skip
        rows += [clash, general]
    return pd.DataFrame(rows)


def plot_realism(stats: pd.DataFrame, table: pd.DataFrame, dest: str | Path) -> None:
    """Four distributions (synthetic histograms, reference medians) and per-system medians."""
    from ..plotting import pyplot, save_figure

    plt = pyplot()

    fig, axes = plt.subplots(2, 3, figsize=(11, 6.2), dpi=110)
    allrow = table[table["crystal_system"] == "all"].set_index("measure")
    panels = [
        ("sites_per_cell", "sites per conventional cell", np.arange(0, 66, 2)),
        ("volume_per_atom", "volume per atom (Å³)", np.linspace(0, 50, 51)),
        ("shortest_ratio", "shortest distance / summed radii", np.linspace(0.5, 2.0, 61)),
        ("longest_edge", "longest cell edge (Å)", np.linspace(0, 25, 51)),
    ]
    key = {"shortest_ratio": "shortest_distance_ratio"}
    for ax, (col, title, bins) in zip(axes.flat[:4], panels, strict=True):
        v = stats[col].to_numpy(float)
        ax.hist(v[np.isfinite(v)], bins=bins, color="#1f77b4", alpha=0.8, label="this set")
        ref = (
            allrow.loc[key.get(col, col), "reference"]
            if key.get(col, col) in allrow.index
            else np.nan
        )
        if np.isfinite(ref):
            ax.axvline(ref, color="black", ls="--", lw=1, label="reference median")
        if col == "shortest_ratio":
            ax.axvline(CONTACT_LIMIT, color="#d62728", lw=1, label="0.7 (clash)")
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=6, frameon=False, loc="upper right")
    per = table[table["crystal_system"] != "all"]
    for ax, measure, title in ((axes.flat[4], "sites_per_cell", "median sites per cell"),
                               (axes.flat[5], "general_position_share", "general-position share")):  # fmt: skip
        g = per[per["measure"] == measure]
        x = np.arange(len(g))
        ax.bar(x - 0.2, g["median"], width=0.4, label="this set", color="#1f77b4")
        ax.bar(x + 0.2, g["reference"], width=0.4, label="Materials Project", color="#7f7f7f")
        ax.set_xticks(x)
        ax.set_xticklabels([s[:5] for s in g["crystal_system"]], fontsize=7, rotation=30)
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=6, frameon=False, loc="upper right")
    fig.suptitle(f"{len(stats)} structures vs real-crystal statistics", fontsize=10)
    fig.tight_layout()
    save_figure(fig, dest)


def write_realism(
    parquet: str | Path,
    out_dir: str | Path,
    classes: list[int],
    targets: dict[int, int] | None,
    max_sites: int,
) -> pd.DataFrame:
    """realism.csv and realism.png in ``out_dir`` for the structures in ``parquet``."""
    stats = structure_statistics(parquet)
    table = realism_table(stats, reference_statistics(classes, targets, max_sites))
    share = pseudo_symmetry_share(stats["structure"], stats["spacegroup"])
    table = pd.concat(
        [
            table,
            pd.DataFrame(
                [
                    {
                        "crystal_system": "all",
                        "measure": "pseudo_symmetry_share_0.1A",
                        "n": min(len(stats), PSEUDO_SAMPLE),
                        "median": share,
                        "q25": np.nan,
                        "q75": np.nan,
                        "reference": np.nan,
                        "reference_source": "group changes at symprec 0.1 Å",
                        "within_tolerance": None,
                    }
                ]
            ),
        ],  # fmt: skip
        ignore_index=True,
    )
    out_dir = Path(out_dir)
    write_table(out_dir / "realism.csv", table)
    plot_realism(stats, table, out_dir / "realism.png")
    return table
