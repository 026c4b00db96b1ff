"""Run every benchmark (`make bench`) and print a short table.

`python -m benchmarks.run_all [--quick] [subject ...]`; each subject writes
results/bench/<subject>.json.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time

SUBJECTS = ("structures", "simulation", "shaping", "training", "scale", "compression")

# The headline figure(s) of each subject for the summary table.
HEADLINES = {
    "structures": ("synthetic_per_s", "cif_parsed_per_s"),
    "simulation": ("ours_patterns_per_s", "speedup_vs_pymatgen"),
    "shaping": ("patterns_per_s", "speedup_vs_reference"),
    "training": (
        "train_crystals_per_s",
        "bf16_train_crystals_per_s",
        "loader_crystals_per_s",
    ),
    "scale": ("n_crystals", "projected_total_s_108658"),
    "compression": ("patterns_ratio", "shaped_ratio"),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("subjects", nargs="*", metavar="SUBJECT", help=f"any of {', '.join(SUBJECTS)}")
    ap.add_argument("--quick", action="store_true", help="seconds-long smoke run")
    args = ap.parse_args(argv)
    unknown = set(args.subjects) - set(SUBJECTS)
    if unknown:
        ap.error(f"unknown subject(s): {', '.join(sorted(unknown))}")
    args.subjects = args.subjects or list(SUBJECTS)
    rows, failed = [], []
    for subject in args.subjects:
        t0 = time.perf_counter()
        print(f"== {subject}", flush=True)
        try:
            mod = importlib.import_module(f"benchmarks.bench_{subject}")
            doc = mod.run(quick=args.quick)
        except Exception as e:  # report every subject, then fail
            print(f"   failed: {type(e).__name__}: {e}", flush=True)
            failed.append(subject)
            continue
        figs = {k: doc.get(k) for k in HEADLINES[subject]}
        rows.append((subject, time.perf_counter() - t0, figs))
    print("\nsubject      seconds  headline figures (results/bench/<subject>.json)")
    for subject, secs, figs in rows:
        print(f"{subject:<12} {secs:7.1f}  {json.dumps(figs)}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
