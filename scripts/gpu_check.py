"""Helpers of scripts/gpu_check.sh: the training plan (epochs that fit the time left) and the
summary (summary.json, one file with every part's status and headline figures).

    python scripts/gpu_check.py plan --work DIR --remaining S --models msdn msdn_unshaped resnet
    python scripts/gpu_check.py summary --work DIR --out OUT/summary.json

Standard library only (it runs before and after the parts that need the carried wheels).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

#: Epoch cost relative to the MSDN (planned): the unshaped MSDN is the same network; a
#: ResNet-18 on the stacked patterns about half (5.5 against 10.2 GFLOP per crystal); VGG-11
#: more (23 GFLOP, at a better use of the tensor cores).
COST = {"msdn": 1.0, "msdn_unshaped": 1.0, "resnet": 0.5, "vgg": 1.5}
#: Measured benchmark rate -> the trainer's rate (loader, optimiser, schedule, Python): a
#: conservative factor, so that the planned epochs fit.
EFFICIENCY = 0.5
#: Per model, seconds outside the epochs: process start and CUDA init, the one-off
#: uncompressed copy of the images (first model per images file), cuDNN autotuning, evaluation.
OVERHEAD_S = {"first": 50.0, "other": 30.0}
#: The rate assumed when the benchmark did not run (crystals/s at 224 px, bf16).
FALLBACK_RATE = 800.0


def _json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def split_counts(split_csv: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    with split_csv.open() as fh:
        for row in csv.DictReader(fh):
            counts[row["split"]] = counts.get(row["split"], 0) + 1
    return counts


def plan(work: Path, remaining: float, models: list[str], lo: int, hi: int) -> dict[str, Any]:
    """Epochs E (the same for every model) so that each model's share of ``remaining``
    seconds holds its overhead and E epochs at the benchmark's rate x EFFICIENCY; and each
    model's planned seconds."""
    bench = _json(work / "details" / "bench" / "training.json") or {}
    rate = bench.get("bf16_train_crystals_per_s") if bench.get("device") == "cuda" else None
    rate = float(rate or FALLBACK_RATE)
    counts = split_counts(work / "paper" / "split" / "split.csv")
    n_train, n_val = counts.get("train", 0), counts.get("val", 0)
    epoch_s = n_train / (EFFICIENCY * rate) + n_val / (2 * rate)
    # the first model on each images file (shaped, unshaped) makes its uncompressed copy
    overhead = {
        m: OVERHEAD_S["first" if m == models[0] or "unshaped" in m else "other"] for m in models
    }
    cost = {m: COST.get(m, 1.0) for m in models}
    # E epochs of every model plus the overheads fill the time: E = (T - sum O) / (e sum c)
    fits = (remaining - sum(overhead.values())) / (epoch_s * sum(cost.values()))
    epochs = max(lo, min(hi, math.floor(fits)))
    seconds = {m: overhead[m] + epochs * epoch_s * cost[m] for m in models}
    return {
        "epochs": epochs,
        "rate_crystals_per_s": round(rate, 1),
        "rate_source": "bench" if bench.get("device") == "cuda" else "assumed",
        "n_train": n_train,
        "n_val": n_val,
        "epoch_s_planned": round(epoch_s, 1),
        # planned seconds per model (the script's time caps add the slack left over)
        "seconds": {m: round(s) for m, s in seconds.items()},
    }


def junit(path: Path) -> dict[str, Any] | None:
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return None
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    if suite is None:
        return None
    out = {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}
    out["seconds"] = round(float(suite.get("time", 0)), 1)
    out["passed"] = out["tests"] - out["failures"] - out["errors"] - out["skipped"]
    out["not_passed"] = [
        f"{case.get('name')}: {child.tag} {(child.get('message') or '')[:200]}"
        for case in suite.iter("testcase")
        for child in case
        if child.tag in ("failure", "error", "skipped")
    ]
    return out


def statuses(path: Path) -> list[dict[str, Any]]:
    rows = []
    if path.exists():
        for line in path.read_text().splitlines():
            name, status, rc, seconds, cap = line.split("\t")[:5]
            rows.append(
                {
                    "part": name,
                    "status": status,
                    "rc": int(rc),
                    "s": int(seconds),
                    "cap_s": int(cap),
                }
            )
    return rows


BENCH_KEYS = (
    "device", "input_size", "precision", "channels_last", "batch", "train_crystals_per_s",
    "infer_crystals_per_s", "train_peak_gib", "bf16_train_crystals_per_s",
    "batch256_train_crystals_per_s", "batch256_train_peak_gib", "train_tflops",
    "train_gflop_per_crystal", "paper_epoch_s", "paper_epoch_hours", "loader_crystals_per_s",
    "loader_resident_crystals_per_s", "loader_vs_train", "quick_train_crystals_per_s",
)  # fmt: skip
METRIC_KEYS = ("sg_top1", "sg_top5", "sg_balanced_accuracy", "cs_accuracy", "n")
CARD_KEYS = (
    "arch", "input_mode", "input_size", "n_parameters", "device", "precision", "epochs_run",
    "best_epoch", "val_acc", "n_train", "n_val", "train_seconds", "seed",
)  # fmt: skip


#: The settings summary.json repeats (the whole config is in details/paper/config.json).
SETTINGS = {
    "seed": None,
    "classes": None,
    "structures": ("max_sites", "synthetic"),
    "patterns": ("size", "beams", "rotation", "n_variants", "noise"),
    "shaping": ("input_size", "resize", "modes"),
    "split": ("ratios", "imbalance"),
    "train": (
        "models", "epochs", "batch_size", "lr", "weight_decay", "dropout", "growth", "blocks",
        "stem", "norm", "align_streams", "precision", "raw_copy",
    ),
}  # fmt: skip


def settings(cfg: dict[str, Any] | None) -> dict[str, Any] | None:
    if cfg is None:
        return None
    out = {}
    for key, sub in SETTINGS.items():
        if key in cfg:
            out[key] = cfg[key] if sub is None else {k: cfg[key].get(k) for k in sub}
    return out


def model_row(d: Path, name: str) -> dict[str, Any]:
    card = _json(d / "models" / name / "model_card.json") or {}
    metrics = _json(d / "evaluate" / name / "metrics.json") or {}
    row = {k: metrics.get(k) for k in METRIC_KEYS}
    row |= {k: card.get(k) for k in CARD_KEYS}
    return row


def summary(work: Path) -> dict[str, Any]:
    details = work / "details"
    out: dict[str, Any] = {"parts": statuses(work / "status.tsv")}
    out["environment"] = _json(details / "environment.json")
    out["cuda_tests"] = junit(details / "cuda_tests.xml")
    bench = _json(details / "bench" / "training.json")
    out["bench"] = {k: bench.get(k) for k in BENCH_KEYS} if bench else None
    paper = work / "paper"
    cfg = details / "paper" / "config.json"
    out["paper"] = {
        "settings": settings(_json(cfg)),
        "plan": _json(details / "paper" / "plan.json"),
    }
    if (paper / "split" / "split.csv").exists():
        out["paper"]["split"] = split_counts(paper / "split" / "split.csv")
    models = {}
    for d in sorted((paper / "models").glob("*")) if (paper / "models").is_dir() else []:
        models[d.name] = model_row(paper, d.name)
    out["paper"]["models"] = models
    top1 = {m: r["sg_top1"] for m, r in models.items() if r.get("sg_top1") is not None}
    claims = {}
    if "msdn" in top1:
        for other in ("resnet", "vgg", "msdn_unshaped"):
            if other in top1:
                claims[f"msdn_minus_{other}_points"] = round(100 * (top1["msdn"] - top1[other]), 1)
    out["paper"]["claims"] = claims
    ref = work / "reference"
    if ref.exists():
        out["reference"] = {
            "test": {k: (_json(ref / "evaluate" / "msdn_set" / "metrics.json") or {}).get(k)
                     for k in METRIC_KEYS},
            "real": {k: (_json(ref / "evaluate" / "msdn_set" / "real.json") or {}).get(k)
                     for k in METRIC_KEYS},
            "card": {k: (_json(ref / "models" / "msdn_set" / "model_card.json") or {}).get(k)
                     for k in CARD_KEYS},
        }  # fmt: skip
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("plan", help="epochs and per-model seconds (JSON on stdout)")
    p.add_argument("--work", type=Path, required=True)
    p.add_argument("--remaining", type=float, required=True, help="seconds left for training")
    p.add_argument("--models", nargs="+", required=True)
    p.add_argument("--min-epochs", type=int, default=2)
    p.add_argument("--max-epochs", type=int, default=30)
    s = sub.add_parser("summary", help="write summary.json")
    s.add_argument("--work", type=Path, required=True)
    s.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    if args.cmd == "plan":
        doc = plan(args.work, args.remaining, args.models, args.min_epochs, args.max_epochs)
        print(json.dumps(doc))
    else:
        args.out.write_text(json.dumps(summary(args.work), indent=1) + "\n")


if __name__ == "__main__":
    main()
