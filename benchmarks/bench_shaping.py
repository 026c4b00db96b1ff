"""Shaping benchmark: the vectorised XRD-Edge against a straightforward loop port.

Both run, side by side, on the same patterns: the authors' nine raw samples (when
../shared/testdata is present) and synthetic lattice patterns. Figures:

- ``reference_s_per_image``, ``ours_s_per_image``: mean single-core time per 256 x 256 image
  (ours: ``shape_batch`` on the whole set, best of several runs);
- ``speedup_vs_reference``: their ratio (goal >= 1000);
- ``identical``: both give the same E and S on every benchmark pattern;
- ``patterns_per_s``: ``shape_batch`` throughput on 2 cores, through the stage's worker pool
  (2 processes reading chunks from an HDF5 patterns file and resizing to the configured input
  size, as ``run_shaping``'s workers do; the parent only collects);
- ``stage_patterns_per_s``: ``run_shaping`` end to end (HDF5 in, resize, gzip HDF5 out).
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
import tempfile
import time
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from PIL import Image

from benchmarks.common import timed, write_result
from benchmarks.reference_shaping import reference_shape
from xtalsym.config import validate
from xtalsym.io import write_ids
from xtalsym.shaping import shape_batch
from xtalsym.shaping.stage import _shape_chunk, run_shaping

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "testdata" / "authors-samples"


def lattice_patterns(n: int, size: int = 256, seed: int = 0) -> np.ndarray:
    """``n`` synthetic spot patterns (n, size, size) uint8: a random 2D lattice of Gaussian
    spots (sigma 0.7 px) with random intensities, a bright direct beam at the centre and a
    faint noisy background, like the authors' raw samples.
    """
    rng = np.random.default_rng(seed)
    out = np.zeros((n, size, size), np.float64)
    centre = size / 2
    yy, xx = np.mgrid[-2:3, -2:3]
    for i in range(n):  # images
        a = rng.uniform(0.07, 0.2) * size
        b = a * rng.uniform(0.8, 1.6)
        phi = rng.uniform(0, np.pi)
        gamma = rng.uniform(np.pi / 3, 2 * np.pi / 3)
        v1 = a * np.array([np.sin(phi), np.cos(phi)])
        v2 = b * np.array([np.sin(phi + gamma), np.cos(phi + gamma)])
        h, k = np.mgrid[-12:13, -12:13].reshape(2, -1)
        pos = centre + h[:, None] * v1 + k[:, None] * v2
        keep = (np.abs(pos - centre) < size / 2 - 4).all(axis=1) & ((h != 0) | (k != 0))
        pos = pos[keep]
        amp = 255 * rng.random(len(pos)) ** 2 * np.exp(-np.hypot(*(pos - centre).T) / size)
        ri, ci = np.rint(pos).astype(int).T
        frac = pos - np.rint(pos)
        g = np.exp(
            -((yy[None] - frac[:, 0, None, None]) ** 2 + (xx[None] - frac[:, 1, None, None]) ** 2)
            / (2 * 0.7**2)
        )
        np.add.at(
            out[i],
            (ri[:, None, None] + yy[None], ci[:, None, None] + xx[None]),
            amp[:, None, None] * g,
        )
        c = int(centre)
        out[i, c - 1 : c + 2, c - 1 : c + 2] += 255
        out[i] += rng.poisson(0.5, (size, size))
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def benchmark_patterns(quick: bool) -> tuple[np.ndarray, list[str]]:
    """The patterns both implementations run on, with names."""
    pats, names = [], []
    if SAMPLES.is_dir():
        files = sorted((SAMPLES / "raw").glob("*.png"))
        if quick:
            files = [f for f in files if f.stem in ("sample3_x", "sample3_y")]
        for f in files:
            pats.append(np.asarray(Image.open(f).convert("L")))
            names.append(f.stem)
    n_syn = (0 if pats else 1) if quick else 6
    for i, p in enumerate(lattice_patterns(n_syn, seed=2020)):
        pats.append(p)
        names.append(f"lattice{i}")
    return np.stack(pats), names


def _pool_throughput(
    patterns: np.ndarray, n_total: int, chunk: int, workers: int, size: int
) -> float:
    """Patterns per second of the stage's worker path on a pool: read a chunk of crystals from
    HDF5, ``shape_batch``, resize to ``size`` px like the loader, return to the parent."""
    reps = -(-n_total // len(patterns))
    big = np.tile(patterns, (reps, 1, 1))[:n_total]
    n_cryst = n_total // 3
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "patterns.h5"
        with h5py.File(path, "w") as f:
            f["patterns"] = big[: n_cryst * 3].reshape(n_cryst, 1, 3, *big.shape[1:])
        bounds = [(a, min(n_cryst, a + chunk)) for a in range(0, n_cryst, chunk)]
        ctx = mp.get_context("spawn")
        with cf.ProcessPoolExecutor(workers, mp_context=ctx) as ex:
            list(ex.map(_warm, range(workers)))  # start-up is not throughput
            t0 = time.perf_counter()
            futs = [
                ex.submit(_shape_chunk, str(path), a, b, "shaped", {}, size, "max")
                for a, b in bounds
            ]
            for fut in futs:
                fut.result()
            dt = time.perf_counter() - t0
    return n_cryst * 3 / dt


def _warm(_: int) -> int:
    shape_batch(np.zeros((1, 256, 256), np.uint8))
    return 0


def _stage_throughput(patterns: np.ndarray, n_total: int, workers: int) -> float:
    """Patterns per second of run_shaping end to end (64 px output, the default config)."""
    n_cryst = max(1, n_total // 3)
    reps = -(-n_cryst * 3 // len(patterns))
    big = np.tile(patterns, (reps, 1, 1))[: n_cryst * 3].reshape(n_cryst, 1, 3, 256, 256)
    cfg = validate({"shaping": {"workers": workers, "chunk_size": 64}})
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "patterns.h5"
        with h5py.File(src, "w") as f:
            f["patterns"] = big
            write_ids(f, [f"b-{i}" for i in range(n_cryst)])
            f["spacegroup"] = np.ones(n_cryst, np.int64)
        t0 = time.perf_counter()
        run_shaping(cfg, src, "shaped", Path(tmp) / "shaped.h5")
        dt = time.perf_counter() - t0
    return n_cryst * 3 / dt


def run(quick: bool = False) -> dict[str, Any]:
    patterns, names = benchmark_patterns(quick)
    n = len(patterns)

    t0 = time.perf_counter()
    ref = [reference_shape(p) for p in patterns]
    ref_s = time.perf_counter() - t0

    ours_s, (e, s) = timed(lambda: shape_batch(patterns), repeat=3 if quick else 10)
    identical = all(
        np.array_equal(e[i], ref[i][0]) and np.array_equal(s[i], ref[i][1]) for i in range(n)
    )
    mismatched = [names[i] for i in range(n) if not np.array_equal(e[i], ref[i][0])]

    n_pool = 96 if quick else 3072
    size = int(validate({})["shaping"]["input_size"])
    pool_rate = _pool_throughput(patterns, n_pool, 16 if quick else 128, workers=2, size=size)
    stage_rate = _stage_throughput(patterns, 48 if quick else 1536, workers=2)

    figures = {
        "n_patterns": n,
        "patterns": names,
        "image_size": int(patterns.shape[-1]),
        "reference_s_per_image": ref_s / n,
        "ours_s_per_image": ours_s / n,
        "speedup_vs_reference": (ref_s / n) / (ours_s / n),
        "identical": bool(identical),
        "mismatched": mismatched,
        "patterns_per_s": pool_rate,
        "patterns_per_s_workers": 2,
        "patterns_per_s_n": n_pool // 3 * 3,
        "patterns_per_s_output_px": size,
        "stage_patterns_per_s": stage_rate,
        "quick": quick,
    }
    return write_result("shaping", figures)


if __name__ == "__main__":
    import json

    print(json.dumps(run(), indent=2))
