"""Build (or refresh) the committed reference model, models/reference/, from config/reference.yaml.

    python scripts/reference_model.py [--cores 2] [--skip-train]

Runs the reference config's MSDN through Snakemake (results/reference/), evaluates it on the
real-structure check set (data/real, never used for training or model selection), and copies
the bundle (model.pt, model_card.json, history.csv) with both metrics files into
models/reference/. tests/test_reference_model.py checks that the committed card still matches
the simulation and shaping settings of the config.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results" / "reference"
DEST = ROOT / "models" / "reference"
MODEL = "msdn_set"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cores", type=int, default=2, help="Snakemake cores")
    ap.add_argument("--skip-train", action="store_true", help="only evaluate and copy")
    args = ap.parse_args()
    metrics = RESULTS / "evaluate" / MODEL / "metrics.json"
    t0 = time.perf_counter()
    if not args.skip_train:
        cmd = [
            "snakemake", str(metrics.relative_to(ROOT)), "--cores", str(args.cores),
            "--workflow-profile", "workflow/profiles/default",
            "--configfile", "config.yaml", "config/reference.yaml",
        ]  # fmt: skip
        subprocess.run(cmd, cwd=ROOT, check=True)
    bundle = RESULTS / "models" / MODEL
    real = RESULTS / "evaluate" / MODEL / "real" / "metrics.json"
    real.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "xtalsym", "evaluate", "--structures", str(ROOT / "data" / "real"),
         "--model", str(bundle), "--out", str(real)],
        cwd=ROOT, check=True,
    )  # fmt: skip
    DEST.mkdir(parents=True, exist_ok=True)
    for name in ("model.pt", "model_card.json", "history.csv"):
        shutil.copy2(bundle / name, DEST / name)
    shutil.copy2(metrics, DEST / "metrics_test.json")
    shutil.copy2(real, DEST / "metrics_real.json")
    summary = {k: json.loads((DEST / f"metrics_{k}.json").read_text()) for k in ("test", "real")}
    line = {
        k: {m: round(v[m], 4) for m in ("sg_top1", "sg_top5", "cs_accuracy", "n")}
        for k, v in summary.items()
    }
    print(json.dumps({"seconds": round(time.perf_counter() - t0), **line}, indent=2))


if __name__ == "__main__":
    main()
