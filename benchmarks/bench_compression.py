"""Compression benchmark (issue 11): size against write and read speed of the HDF5 codecs.

Real artifacts of a small run (structures -> patterns -> shaped, the default settings at the
paper's 224 px input and its resize, the authors' nearest ``loader``: the default ``max`` needs
an integer ratio and 256 px -> 224 px is not one) are rewritten with each codec h5py has built in, chunked as the stages
chunk them (~1 MB of rows per chunk), side by side in one process. Per codec and artifact:

- ``ratio``: raw bytes / file bytes;
- ``write_mb_s``: raw MB/s written by one process (the stages compress in their workers);
- ``read_seq_mb_s``: raw MB/s reading the whole dataset in order (the next stage's access);
- ``read_rows_per_s``: random single crystals per s (training's access, one process).

``patterns_clean`` is the same crystals without noise, to show what the noise costs on disk.
Shuffle is left out: it is the identity on 1-byte data.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from benchmarks.common import write_result
from xtalsym.config import validate
from xtalsym.patterns.stage import CHUNK_BYTES, run_patterns
from xtalsym.shaping.stage import run_shaping
from xtalsym.structures import run_structures

CODECS: dict[str, dict[str, Any]] = {
    "none": {},
    "lzf": {"compression": "lzf"},
    "gzip1": {"compression": "gzip", "compression_opts": 1},
    "gzip4": {"compression": "gzip", "compression_opts": 4},
    "gzip9": {"compression": "gzip", "compression_opts": 9},
}
CHOSEN = "gzip4"  # xtalsym.io.image_dataset


def measure(data: np.ndarray, path: Path, codec: dict[str, Any], n_random: int) -> dict:
    """Write ``data`` (N, ...) uint8 with ``codec``; sizes and speeds (raw MB, one process)."""
    raw_mb = data.nbytes / 1e6
    chunk_rows = max(1, min(len(data), CHUNK_BYTES // int(np.prod(data.shape[1:]))))
    t0 = time.perf_counter()
    with h5py.File(path, "w") as f:
        f.create_dataset("a", data=data, chunks=(chunk_rows, *data.shape[1:]), **codec)
    t_write = time.perf_counter() - t0
    rows = np.random.default_rng(0).integers(0, len(data), n_random)
    with h5py.File(path, "r") as f:
        ds = f["a"]
        t0 = time.perf_counter()
        back = ds[...]
        t_seq = time.perf_counter() - t0
        t0 = time.perf_counter()
        for r in rows:
            ds[int(r)]
        t_rand = time.perf_counter() - t0
    assert np.array_equal(back, data)
    return {
        "ratio": round(data.nbytes / path.stat().st_size, 2),
        "write_mb_s": round(raw_mb / t_write, 1),
        "read_seq_mb_s": round(raw_mb / t_seq, 1),
        "read_rows_per_s": round(n_random / t_rand, 1),
    }


def make_artifacts(d: Path, per_class: int) -> dict[str, np.ndarray]:
    """Patterns (noisy and clean) and shaped images of 72 x ``per_class`` synthetic crystals."""
    cfg = validate(
        {
            "seed": 1,
            "classes": "paper72",
            "structures": {"workers": 2, "synthetic": {"per_class": per_class}},
            "patterns": {"workers": 2},
            "shaping": {"workers": 2, "input_size": 224, "resize": "loader"},
        }
    )
    run_structures(cfg, d / "structures", progress=False)
    table = d / "structures" / "structures.parquet"
    run_patterns(cfg, table, d / "patterns.h5")
    run_shaping(cfg, d / "patterns.h5", "shaped", d / "shaped.h5")
    # Every noise level 0; widths stay (a width without its level draws nothing).
    noise = {k: v if k.endswith("_width") else 0 for k, v in cfg["patterns"]["noise"].items()}
    clean = validate({**cfg, "patterns": {**cfg["patterns"], "noise": noise}})
    run_patterns(clean, table, d / "clean.h5")
    out = {}
    for name, (file, key) in {
        "patterns": ("patterns.h5", "patterns"),
        "patterns_clean": ("clean.h5", "patterns"),
        "shaped": ("shaped.h5", "images"),
    }.items():
        with h5py.File(d / file, "r") as f:
            out[name] = f[key][...]
    return out


def run(quick: bool = False) -> dict:
    per_class, n_random = (1, 50) if quick else (4, 400)
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="xtalsym-compression-") as d:
        arrays = make_artifacts(Path(d), per_class)
        for name, data in arrays.items():
            results[name] = {
                codec: measure(data, Path(d) / f"{name}-{codec}.h5", opts, n_random)
                for codec, opts in CODECS.items()
            }
    chosen = {name: r[CHOSEN] for name, r in results.items()}

    def versus(name: str, other: str) -> dict[str, float]:
        a, b = results[name][CHOSEN], results[name][other]
        return {k: round(a[k] / b[k], 2) for k in a}

    figures = {
        "n_crystals": len(arrays["patterns"]),
        "chosen": CHOSEN,
        "patterns_ratio": chosen["patterns"]["ratio"],
        "shaped_ratio": chosen["shaped"]["ratio"],
        "codecs": results,
        # Ratios of the chosen codec's figures to another codec's, per artifact.
        "chosen_vs": {
            name: {other: versus(name, other) for other in CODECS if other != CHOSEN}
            for name in results
        },
    }
    return write_result("compression", figures)


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
