"""Scale benchmark (issues 11, 17): the data stages on many synthetic crystals, 2 cores.

Runs structures -> patterns -> shaping (both modes; unshaped.h5 as the view of shaped.h5
that the rules make) -> split through the CLI, as the rules do, with config/paper.yaml's data
settings (ICSD-like class prior, 96 sites, 256 px patterns, 224 px images, the authors'
resize) at two sizes, recording per job the wall time and the peak resident memory of the
whole process tree (workers included, sampled every 0.1 s). Each stage runs as a cluster
would run it, ``SHARDS`` shard jobs and a gather job, timed apart.
Projections: the paper's 108,658 crystals on these cores (the shard jobs and the gather of
each stage, one after the other, scaled in proportion to the large size: fixed costs are
scaled too, so an upper estimate) and 1,000,000 crystals on 100 shards, one node like this
one per shard job (a shard job of the large size holds ~10,000 crystals, as such a shard
does; the gathers on the line through the two sizes). Memory must not grow with the number
of crystals: compare the two sizes' peaks.
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
import yaml

from benchmarks.common import write_result

PAPER_N = 108_658
BIG_N, BIG_SHARDS = 1_000_000, 100
SHARDS = 2  # shard jobs per stage at the large size
STAGES = ("structures", "simulate", "shape_shaped", "shape_unshaped", "split")
PAPER_CONFIG = Path(__file__).resolve().parents[1] / "config" / "paper.yaml"


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


def stage_params(n_per_class: int, workers: int) -> str:
    """config/paper.yaml's data settings for 72 x ``n_per_class`` crystals on ``workers``."""
    paper = yaml.safe_load(PAPER_CONFIG.read_text())
    st, pa, sh = paper["structures"], paper["patterns"], paper["shaping"]
    return json.dumps(
        {
            "seed": 1,
            "classes": paper["classes"],
            "structures": {
                "max_sites": st["max_sites"],
                "synthetic": {**st["synthetic"], "per_class": n_per_class},
                "workers": workers,
            },
            "patterns": {**pa, "workers": workers},
            "shaping": {**sh, "workers": workers},
        }
    )


def _commands(params: str, r: Path, shards: int) -> dict[str, list[list[str]]]:
    """Per stage the jobs in order: ``shards`` shard jobs and the gather (the split: one)."""
    x = [sys.executable, "-m", "xtalsym.cli"]
    table = f"{r}/structures/structures.parquet"
    ks = range(shards)
    manifests = [f"{r}/structures/shards/{k}.json" for k in ks]
    pat = [f"{r}/patterns-{k}.h5" for k in ks]
    return {
        "structures": [
            *([*x, "structures", "--params", params, "--shard", f"{k}/{shards}",
               "--out", f"{r}/structures"] for k in ks),
            [*x, "structures", "--params", params, "--gather", *manifests,
             "--out", f"{r}/structures"],
        ],
        "simulate": [
            *([*x, "simulate", "--params", params, "--structures", table,
               "--shard", f"{k}/{shards}", "--out", pat[k]] for k in ks),
            [*x, "simulate", "--params", params, "--structures", table, "--gather", *pat,
             "--out", f"{r}/patterns.h5"],
        ],
        "shape_shaped": [
            *([*x, "shape", "--params", params, "--patterns", pat[k], "--mode", "shaped",
               "--out", f"{r}/shaped-{k}.h5"] for k in ks),
            [*x, "shape", "--params", params, "--patterns", f"{r}/patterns.h5", "--mode",
             "shaped", "--gather", *(f"{r}/shaped-{k}.h5" for k in ks), "--out", f"{r}/shaped.h5"],
        ],
        # both modes made: unshaped.h5 is a view of shaped.h5 (rule view_unshaped), one job
        "shape_unshaped": [[*x, "shape", "--params", params, "--mode", "unshaped", "--view-of",
                            f"{r}/shaped.h5", "--out", f"{r}/unshaped.h5"]],
        "split": [[*x, "split", "--params", params, "--structures", table,
                   "--out", f"{r}/split"]],
    }  # fmt: skip


def run_size(n_per_class: int, workdir: Path, workers: int, shards: int) -> dict:
    """All data stages for 72 x ``n_per_class`` crystals (``shards`` jobs per stage + gather).

    Per stage: ``seconds`` (all its jobs, one after the other), ``peak_rss_mb`` (the largest
    job's), with shards also ``shard_seconds`` (each shard job's) and ``gather_seconds``."""
    r = workdir / f"n{n_per_class}"
    out: dict = {}
    for stage, cmds in _commands(stage_params(n_per_class, workers), r, shards).items():
        runs = [run_measured(cmd) for cmd in cmds]
        out[stage] = {"seconds": round(sum(t for t, _ in runs), 2),
                      "peak_rss_mb": round(max(m for _, m in runs), 1)}  # fmt: skip
        if len(runs) > 1:
            out[stage]["shard_seconds"] = [round(t, 2) for t, _ in runs[:-1]]
            out[stage]["gather_seconds"] = round(runs[-1][0], 2)
    import pandas as pd

    n = len(pd.read_parquet(f"{r}/structures/structures.parquet", columns=["id"]))
    files = {"structures": ["structures/structures.parquet"], "simulate": ["patterns*.h5"],
             "shape_shaped": ["shaped*.h5"], "shape_unshaped": ["unshaped*.h5"],
             "split": ["split/split.csv"]}  # fmt: skip
    for stage, globs in files.items():
        out[stage]["bytes"] = sum(p.stat().st_size for g in globs for p in r.glob(g))
        out[stage]["per_s"] = round(n / out[stage]["seconds"], 1)
    return {"n_crystals": n, "shards": shards, "stages": out}


def _line(xa: float, ya: float, xb: float, yb: float, x: float) -> float:
    """The line through (xa, ya) and (xb, yb) at x, never below yb (fixed cost + per crystal)."""
    return max(yb, ya + (yb - ya) * (x - xa) / (xb - xa))


def summarise(a: dict, b: dict, workers: int) -> dict:
    """Figures from the two sizes ``a`` (small) and ``b`` (large), projected to PAPER_N on
    these cores and to BIG_N on BIG_SHARDS nodes like this one.

    Peak memory is projected linearly from the two sizes (never below the larger's): an upper
    estimate, since what grows (allocator caches, bookkeeping) levels off.
    """
    n = b["n_crystals"]
    projection, big = {}, {}
    for stage in STAGES:
        sa, sb = a["stages"][stage], b["stages"][stage]
        slope = (sb["peak_rss_mb"] - sa["peak_rss_mb"]) / (n - a["n_crystals"])
        projection[stage] = {
            "seconds": round(sb["seconds"] * PAPER_N / n, 0),
            "gib": round(sb["bytes"] * PAPER_N / n / 2**30, 2),
            "peak_rss_mb": round(sb["peak_rss_mb"] + max(slope, 0.0) * (PAPER_N - n), 0),
        }
        if "shard_seconds" in sb:  # shard jobs + a gather
            per_shard = n / len(sb["shard_seconds"])
            shard_s = max(sb["shard_seconds"]) * (BIG_N / BIG_SHARDS) / per_shard
            gather_s = _line(a["n_crystals"], sa["gather_seconds"], n, sb["gather_seconds"], BIG_N)
        else:  # one job (split over the label table, the unshaped view)
            shard_s, gather_s = 0.0, _line(a["n_crystals"], sa["seconds"], n, sb["seconds"], BIG_N)
        big[stage] = {"shard_seconds": round(shard_s), "gather_seconds": round(gather_s)}
        big[stage]["seconds"] = big[stage]["shard_seconds"] + big[stage]["gather_seconds"]
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
        f"projected_{BIG_N}_on_{BIG_SHARDS}_shards": big,
        f"projected_total_s_{BIG_N}_on_{BIG_SHARDS}_shards": sum(
            p["seconds"] for p in big.values()
        ),
        "settings": f"{PAPER_CONFIG.name}'s data settings; large size as {b.get('shards', 1)} "
        "shard jobs + a gather per stage",
    }


def run(quick: bool = False) -> dict:
    workers = psutil.cpu_count() or 2
    small, large = (2, 4) if quick else (70, 280)  # 72 x 280 ~ 20,000 crystals
    with tempfile.TemporaryDirectory(prefix="xtalsym-scale-") as d:
        a = run_size(small, Path(d), workers, shards=SHARDS)
        b = run_size(large, Path(d), workers, shards=SHARDS)
    return write_result("scale", summarise(a, b, workers))


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
