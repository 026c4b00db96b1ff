"""Ablation of what the network sees: one row per change, alone and all together.

Each row is the default config (config.yaml) with an overlay; "none" switches every change
off (the authors' nearest resize, pymatgen's conventional cell, per-atom displacement noise,
one imaging condition, Cartesian beams), a named row switches only that change on, "all" is
the default. Rows that share the structures settings share one structures stage. Only the
MSDN model (``train.models.msdn``) is trained per row, scored on its test split and on the
real-structure check (reported, never used to choose). Writes results/ablation/ablation.csv
and a Markdown table (results/ablation/ablation.md).

    python scripts/ablation.py [--rows none,resize,...] [--cores 2]
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import time
from pathlib import Path

import yaml

from xtalsym.config import merge

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "ablation"

OFF = {
    "resize": {"shaping": {"resize": "loader"}},
    "setting": {"structures": {"setting": "pymatgen"}},
    "noise": {"patterns": {"noise": {"jitter": 0.0, "strain": 0.0, "displacement": 0.02}}},
    "imaging": {
        "patterns": {
            "thickness": 100.0,
            "debye_waller": 0.5,
            "noise": {"background": 2.0, "dose": 0.0, "tilt": 0.2, "scale_error": 0.0},
        }
    },
    "beams": {"patterns": {"beams": "cartesian"}},
}
ROWS = ("none", *OFF, "all")


def overlay(row: str) -> dict:
    """The config overlay of a row: every change off except the row's own."""
    cfg: dict = {
        "results": str((OUT / row).relative_to(ROOT)),
        "evaluate": {"robustness": {"enabled": False}},
        "train": {"models": {"densenet_stacked": None}},
    }
    for change, off in OFF.items():
        if row not in ("all", change):
            cfg = merge(cfg, off)
    return cfg


def run(row: str, cores: int) -> dict:
    dest = OUT / row
    dest.mkdir(parents=True, exist_ok=True)
    cfg_path = dest / "overlay.yaml"
    cfg = overlay(row)
    cfg_path.write_text(yaml.safe_dump(cfg))
    # Rows with the same structures settings share the structures stage (copied in).
    setting = cfg.get("structures", {}).get("setting", "ita")
    shared = OUT / f"_structures_{setting}"
    if (shared / "structures.parquet").exists() and not (dest / "structures").exists():
        shutil.copytree(shared, dest / "structures")
    target = dest / "evaluate" / "msdn" / "metrics.json"
    real = target.parent / "real" / "metrics.json"
    t0 = time.perf_counter()
    cmd = [
        "snakemake", str(target.relative_to(ROOT)), str(real.relative_to(ROOT)),
        "--cores", str(cores),
        "--rerun-triggers", "mtime", "--configfile", "config.yaml", str(cfg_path),
    ]  # fmt: skip
    subprocess.run(cmd, cwd=ROOT, check=True)
    if not shared.exists():
        shutil.copytree(dest / "structures", shared)
    m = json.loads(target.read_text())
    r = json.loads(real.read_text())
    return {
        "row": row,
        "sg_top1": m["sg_top1"],
        "sg_top5": m["sg_top5"],
        "cs_accuracy": m["cs_accuracy"],
        "n": m["n"],
        "real_top1": r["sg_top1"],
        "real_n": r["n"],
        "seconds": round(time.perf_counter() - t0, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", default=",".join(ROWS), help="comma-separated rows to run")
    ap.add_argument("--cores", type=int, default=2, help="Snakemake cores")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    results = []
    for row in args.rows.split(","):
        results.append(run(row, args.cores))
        print(json.dumps(results[-1]), flush=True)
    table = OUT / "ablation.csv"
    old = []
    if table.exists():
        import csv

        with table.open() as fh:
            old = [r for r in csv.DictReader(fh) if r["row"] not in {x["row"] for x in results}]
    rows = old + results
    import pandas as pd

    df = pd.DataFrame(rows)
    df["order"] = df["row"].map({r: i for i, r in enumerate(ROWS)})
    df = df.sort_values("order").drop(columns="order")
    df.to_csv(table, index=False)
    md = [
        "| change on | MSDN top-1 | top-5 | crystal system | n | real-structure top-1 (n) | s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in df.to_dict("records"):
        md.append(
            f"| {r['row']} | {100 * float(r['sg_top1']):.1f}% | {100 * float(r['sg_top5']):.1f}% "
            f"| {100 * float(r['cs_accuracy']):.1f}% | {r['n']} "
            f"| {100 * float(r['real_top1']):.1f}% ({r['real_n']}) | {r['seconds']} |"
        )
    md.append(f"\n{platform.node()}, {time.strftime('%Y-%m-%d')}, config.yaml + overlay, seed 1234")
    (OUT / "ablation.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
