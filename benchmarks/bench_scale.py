"""Scale benchmark (issue 11): the data stages on many synthetic crystals, 2 cores.

Runs structures -> patterns -> shaping (both modes) -> split through the CLI, as the rules do,
at two sizes, recording per stage the wall time and the peak resident memory of the whole
process tree (workers included, sampled every 0.1 s); then projects time and disk to the
paper's 108,658 crystals. Memory must not grow with the number of crystals: compare the two
sizes' peaks.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from benchmarks.common import write_result

PAPER_N = 108_658
STAGES = ("structures", "simulate", "shape_shaped", "shape_unshaped", "split")


def _tree_rss(proc: psutil.Process) -> int:
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def run_measured(cmd: list[str]) -> tuple[float, float]:
    """Run ``cmd``; return (wall seconds, peak RSS of its process tree in MB)."""
    t0 = time.perf_counter()
    popen = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    ps = psutil.Process(popen.pid)
    peak = 0
    done = threading.Event()

    def sample():
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss(ps))
            time.sleep(0.1)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    _, err = popen.communicate()
    done.set()
    t.join()
    if popen.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} failed:\n{err[-2000:]}")
    return time.perf_counter() - t0, peak / 2**20


def run_size(n_per_class: int, workdir: Path, workers: int) -> dict:
    """All data stages for 72 x ``n_per_class`` synthetic crystals."""
    r = workdir / f"n{n_per_class}"
    params = json.dumps(
        {
            "seed": 1,
            "classes": "paper72",
            "structures": {"synthetic": {"per_class": n_per_class}, "workers": workers},
            "patterns": {"workers": workers, "chunk_size": 256},
            "shaping": {"workers": workers, "chunk_size": 512, "input_size": 224},
        }
    )
    x = [sys.executable, "-m", "xtalsym.cli"]
    cmds = {
        "structures": [*x, "structures", "--params", params, "--out", f"{r}/structures"],
        "simulate": [*x, "simulate", "--params", params, "--structures",
                     f"{r}/structures/structures.parquet", "--out", f"{r}/patterns.h5"],
        "shape_shaped": [*x, "shape", "--params", params, "--patterns", f"{r}/patterns.h5",
                         "--mode", "shaped", "--out", f"{r}/shaped.h5"],
        "shape_unshaped": [*x, "shape", "--params", params, "--patterns", f"{r}/patterns.h5",
                           "--mode", "unshaped", "--out", f"{r}/unshaped.h5"],
        "split": [*x, "split", "--params", params, "--structures",
                  f"{r}/structures/structures.parquet", "--out", f"{r}/split"],
    }  # fmt: skip
    out: dict = {}
    for stage in STAGES:
        secs, peak = run_measured(cmds[stage])
        out[stage] = {"seconds": round(secs, 2), "peak_rss_mb": round(peak, 1)}
    import pandas as pd

    n = len(pd.read_parquet(f"{r}/structures/structures.parquet", columns=["id"]))
    sizes = {
        "structures": (r / "structures/structures.parquet").stat().st_size,
        "simulate": (r / "patterns.h5").stat().st_size,
        "shape_shaped": (r / "shaped.h5").stat().st_size,
        "shape_unshaped": (r / "unshaped.h5").stat().st_size,
        "split": (r / "split/split.csv").stat().st_size,
    }
    for stage in STAGES:
        out[stage]["bytes"] = sizes[stage]
        out[stage]["per_s"] = round(n / out[stage]["seconds"], 1)
    return {"n_crystals": n, "stages": out}


def summarise(a: dict, b: dict, workers: int) -> dict:
    """Figures from the two sizes ``a`` (small) and ``b`` (large), projected to PAPER_N.

    Peak memory is projected linearly from the two sizes (never below the larger's): an upper
    estimate, since what grows (allocator caches, bookkeeping) levels off.
    """
    n = b["n_crystals"]
    projection = {}
    for stage in STAGES:
        sa, sb = a["stages"][stage], b["stages"][stage]
        slope = (sb["peak_rss_mb"] - sa["peak_rss_mb"]) / (n - a["n_crystals"])
        projection[stage] = {
            "seconds": round(sb["seconds"] * PAPER_N / n, 0),
            "gib": round(sb["bytes"] * PAPER_N / n / 2**30, 2),
            "peak_rss_mb": round(sb["peak_rss_mb"] + max(slope, 0.0) * (PAPER_N - n), 0),
        }
    peak_ratio = max(b["stages"][s]["peak_rss_mb"] / a["stages"][s]["peak_rss_mb"] for s in STAGES)
    return {
        "workers": workers,
        "n_crystals": n,
        "small": a,
        "large": b,
        "peak_rss_ratio_large_vs_small": round(peak_ratio, 2),
        "crystal_ratio_large_vs_small": round(n / a["n_crystals"], 1),
        "projected_108658": projection,
        "projected_total_s_108658": sum(p["seconds"] for p in projection.values()),
        "projected_total_gib_108658": round(sum(p["gib"] for p in projection.values()), 2),
        "design": "one job per stage with a worker pool over chunks (see README, Paper scale)",
    }


def run(quick: bool = False) -> dict:
    workers = psutil.cpu_count() or 2
    small, large = (2, 4) if quick else (70, 280)  # 72 x 280 ~ 20,000 crystals
    with tempfile.TemporaryDirectory(prefix="xtalsym-scale-") as d:
        a = run_size(small, Path(d), workers)
        b = run_size(large, Path(d), workers)
    return write_result("scale", summarise(a, b, workers))


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
