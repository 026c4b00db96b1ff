"""Build (or refresh) a committed model: models/reference/ from config/reference.yaml (the
ordered MSDN, for structure files) or models/recorded/ from config/recorded.yaml (the set MSDN,
for recorded patterns).

    python scripts/reference_model.py [--config config/recorded.yaml] [--cores 2] [--skip-train]

Runs the config's model through Snakemake (its ``results`` folder), evaluates it on the
real-structure check set (data/real, never used for training or model selection), and copies
the bundle (model.pt, model_card.json, history.csv) with both metrics files into models/<name>/.
tests/test_reference_model.py checks that each committed card still matches the simulation and
shaping settings of its config.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
#: config -> (model trained, committed folder)
BUILDS = {
    "config/reference.yaml": ("msdn", "models/reference"),
    "config/recorded.yaml": ("msdn_set", "models/recorded"),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cores", type=int, default=2, help="Snakemake cores")
    ap.add_argument("--skip-train", action="store_true", help="only evaluate and copy")
    ap.add_argument("--config", default="config/reference.yaml", choices=sorted(BUILDS))
    args = ap.parse_args()
    model, dest = BUILDS[args.config]
    results = ROOT / yaml.safe_load((ROOT / args.config).read_text())["results"]
    metrics = results / "evaluate" / model / "metrics.json"
    t0 = time.perf_counter()
    if not args.skip_train:
        cmd = [
            "snakemake", str(metrics.relative_to(ROOT)), "--cores", str(args.cores),
            "--workflow-profile", "workflow/profiles/default",
            "--configfile", "config.yaml", args.config,
        ]  # fmt: skip
        subprocess.run(cmd, cwd=ROOT, check=True)
    bundle = results / "models" / model
    real = results / "evaluate" / model / "real" / "metrics.json"
    real.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "xtalsym", "evaluate", "--structures", str(ROOT / "data" / "real"),
         "--model", str(bundle), "--out", str(real)],
        cwd=ROOT, check=True,
    )  # fmt: skip
    dest = ROOT / dest
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("model.pt", "model_card.json", "history.csv"):
        shutil.copy2(bundle / name, dest / name)
    shutil.copy2(metrics, dest / "metrics_test.json")
    shutil.copy2(real, dest / "metrics_real.json")
    summary = {k: json.loads((dest / f"metrics_{k}.json").read_text()) for k in ("test", "real")}
    line = {
        k: {m: round(v[m], 4) for m in ("sg_top1", "sg_top5", "cs_accuracy", "n")}
        for k, v in summary.items()
    }
    print(json.dumps({"seconds": round(time.perf_counter() - t0), **line}, indent=2))


if __name__ == "__main__":
    main()
