"""Byte-for-byte check of the simulator across a change: same seeds, same patterns.

``write`` simulates N crystals of a structures table with the default config (and noise
configs that take the other detector paths) and saves every pattern; ``check`` simulates
them again and compares byte for byte. Run ``write`` on the code before a change (e.g. a
``git archive`` copy of it first on PYTHONPATH), ``check`` after. Every fourth crystal also
gets a clean variant and a second seed in the same call.

    python scripts/pattern_identity.py write /tmp/ref [--n 300]
    python scripts/pattern_identity.py check /tmp/ref [--n 300]
"""

from __future__ import annotations

import argparse
import hashlib
import time
from pathlib import Path

import numpy as np
import pandas as pd

from xtalsym.config import validate
from xtalsym.patterns import PatternCalculator, tune_allocator

#: Noise overrides of the default config, one per detector path.
CASES = {
    "default": {},
    "no_dose": {"dose": 0.0},
    "no_dose_no_read": {"dose": 0.0, "read_noise": 0.0},
    "no_halo": {"halo": 0.0},
}


def simulate(structures: list[str], overrides: dict) -> list[np.ndarray]:
    params = validate({})["patterns"]
    calc = PatternCalculator({**params, "noise": {**params["noise"], **overrides}})
    out = []
    for i, s in enumerate(structures):  # crystals
        seeds = [1000 + i, None, 5000 + i] if i % 4 == 0 else [1000 + i]
        out.append(calc.get_patterns(s, seeds))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=["write", "check"])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--n", type=int, default=300, help="crystals of the default case")
    ap.add_argument("--structures", default="results/structures/structures.parquet")
    args = ap.parse_args()
    tune_allocator()
    table = pd.read_parquet(args.structures, columns=["structure"])
    rows = list(table.structure.iloc[:: max(1, len(table) // args.n)][: args.n])
    args.folder.mkdir(parents=True, exist_ok=True)
    failed = 0
    for name, overrides in CASES.items():
        structures = rows if name == "default" else rows[: max(1, args.n // 3)]
        t0 = time.perf_counter()
        patterns = simulate(structures, overrides)
        dt = time.perf_counter() - t0
        digest = hashlib.sha256(b"".join(p.tobytes() for p in patterns)).hexdigest()[:16]
        path = args.folder / f"{name}.npz"
        if args.mode == "write":
            np.savez_compressed(path, *patterns)
            verdict = "written"
        else:
            ref = np.load(path)
            bad = [i for i, p in enumerate(patterns) if not np.array_equal(ref[f"arr_{i}"], p)]
            failed += len(bad)
            verdict = "identical" if not bad else f"DIFFERENT in {len(bad)}: {bad[:10]}"
        print(f"{name}: {len(structures)} crystals, {dt:.1f} s, sha256 {digest}: {verdict}")
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
