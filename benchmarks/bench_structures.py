"""Structures benchmark (issue 4): synthetic generation rate, CIF parsing rate, peak memory.

* synthetic: the synthetic source over the paper's 72 classes on 2 worker processes
  (structures kept per second, generation + standardisation + labelling), for the default
  ``fast`` generator and, in the same run on fewer structures, the older ``pyxtal`` one
  (``synthetic_speedup`` is their ratio, so a busy machine affects both alike). In one
  process on a sample, the CPU time per structure split into generation and spglib labelling
  (one spglib call when spglib finds the group the crystal was built in, else a second one on
  the stored cell), and spglib's CPU ms per call by crystal system.
* cif_dir: >= 5,000 CIFs written to a temporary directory from generated structures (one
  symmetrised CIF per structure, copies with the cell scaled by up to +-3 %, 20 % gzipped),
  then the whole cif_dir stage on 2 workers (parse, order, check, standardise, label, chunk
  cache, dedup, artifact). Dedup skips most copies; the rate counts every file parsed.
* peak_rss_mb: the largest resident memory of the process tree (workers included, sampled
  every 0.1 s) during each phase; parent_rss_mb shows the parent stays small while streaming.
Projections to the paper's 108,658 structures are linear in the measured rates.
"""

from __future__ import annotations

import gzip
import logging
import re
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
from pymatgen.core import Structure
from pymatgen.io.cif import CifWriter

from benchmarks.common import write_result
from xtalsym import config
from xtalsym.spacegroups import PAPER_72
from xtalsym.structures import run_structures
from xtalsym.structures.synthetic import collect

PAPER_N = 108_658
WORKERS = 2


class PeakRSS:
    """Peak resident memory (MB) of this process and its children while the block runs."""

    def __init__(self) -> None:
        self.proc = psutil.Process()
        self.peak = self.parent = 0.0
        self._done = threading.Event()

    def _sample(self) -> None:
        while not self._done.is_set():
            total = 0
            try:
                procs = [self.proc, *self.proc.children(recursive=True)]
            except psutil.NoSuchProcess:
                procs = [self.proc]
            for p in procs:
                try:
                    total += p.memory_info().rss
                except psutil.NoSuchProcess:
                    pass
            self.peak = max(self.peak, total / 2**20)
            self.parent = max(self.parent, self.proc.memory_info().rss / 2**20)
            self._done.wait(0.1)

    def __enter__(self) -> PeakRSS:
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join()


def write_cif_corpus(rows: list[dict], root: Path, n_files: int, seed: int = 0) -> int:
    """``n_files`` CIFs under ``root`` from artifact rows: symmetrised CIF text per structure,
    copies with all cell lengths scaled by one factor in [0.97, 1.03]; every fifth gzipped."""
    rng = np.random.default_rng(seed)
    texts = []
    for row in rows:
        s = Structure.from_str(row["structure"], fmt="json")
        texts.append(str(CifWriter(s, symprec=0.01)))
    length = re.compile(r"^(_cell_length_[abc])\s+(\S+)$", re.M)
    for k in range(n_files):
        text = texts[k % len(texts)]
        f = float(rng.uniform(0.97, 1.03))
        text = length.sub(lambda m, f=f: f"{m.group(1)}   {float(m.group(2)) * f:.6f}", text)
        sub = root / f"d{k // 1000:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        if k % 5 == 4:
            with gzip.open(sub / f"icsd_{k:06d}.cif.gz", "wt") as fh:
                fh.write(text)
        else:
            (sub / f"icsd_{k:06d}.cif").write_text(text)
    return n_files


def cpu_split(classes: list[int], per_class: int) -> dict:
    """CPU ms per structure of the fast generator in one process: generation vs labelling
    (as the stage labels: one spglib call when spglib finds the group the crystal was built
    in, else two), and spglib's ms per call by crystal system (its floor on the rate)."""
    from xtalsym.spacegroups import crystal_system
    from xtalsym.structures.fastrow import _dataset, row_from_cell
    from xtalsym.structures.outcomes import Skip

    for sg in classes:  # load the Wyckoff tables first
        _try_cell(sg, np.random.default_rng(0))
    t_gen = t_lab = 0.0
    n = 0
    per_call: dict[str, list[float]] = {}
    rng = np.random.default_rng(1)
    for sg in classes:
        for _ in range(per_class):
            t0 = time.process_time()
            cell = _try_cell(sg, rng)
            t1 = time.process_time()
            t_gen += t1 - t0
            if cell is None:
                continue
            try:
                row_from_cell(*cell, "x", "synthetic", 0.01, built_in=sg)
            except Skip:
                pass
            t2 = time.process_time()
            t_lab += t2 - t1
            n += 1
            try:
                _dataset(cell, 0.01)
            except Skip:
                continue
            per_call.setdefault(crystal_system(sg), []).append(time.process_time() - t2)
    return {
        "synthetic_cpu_ms_generate": round(1e3 * t_gen / n, 2),
        "synthetic_cpu_ms_label": round(1e3 * t_lab / n, 2),
        "synthetic_label_share": round(t_lab / (t_gen + t_lab), 3),
        "spglib_cpu_ms_per_call": {
            k: round(1e3 * float(np.mean(v)), 2) for k, v in per_call.items()
        },
    }


def _try_cell(sg: int, rng: np.random.Generator):
    from xtalsym.structures.fast import generate_cell
    from xtalsym.structures.outcomes import Skip

    try:
        return generate_cell(sg, rng, 64, 0.2)
    except Skip:
        return None


def run(quick: bool = False) -> dict:
    logging.getLogger("xtalsym").setLevel(logging.WARNING)
    classes = [2, 14, 62, 139, 194, 225] if quick else list(PAPER_72)
    per_class = 2 if quick else 10
    workers = 1 if quick else WORKERS
    n_cifs = 100 if quick else 5000
    sconf = config.validate(
        {"structures": {"workers": workers, "synthetic": {"per_class": per_class}}}
    )["structures"]

    with PeakRSS() as mem_syn:
        t0 = time.perf_counter()
        res = collect(sconf, classes, seed=1, progress=False)
        t_syn = time.perf_counter() - t0
    n_syn = len(res.rows)
    attempts = sum(r["attempts"] for r in res.report.values())
    old = config.validate(
        {"structures": {"workers": workers,
                        "synthetic": {"per_class": 1 if quick else 2, "generator": "pyxtal"}}}
    )["structures"]  # fmt: skip
    t0 = time.perf_counter()
    res_old = collect(old, classes, seed=1, progress=False)
    t_old = time.perf_counter() - t0
    split = cpu_split(classes, 2 if quick else 4)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "cifs"
        t0 = time.perf_counter()
        write_cif_corpus(res.rows, root, n_cifs)
        t_write = time.perf_counter() - t0
        cfg = config.validate(
            {
                "classes": classes,
                "structures": {
                    "sources": ["cif_dir"],
                    "workers": workers,
                    "cif_dir": {"path": str(root), "chunk_size": 50 if quick else 500},
                },
            }
        )
        with PeakRSS() as mem_cif:
            t0 = time.perf_counter()
            run_structures(cfg, Path(tmp) / "out", progress=False)
            t_cif = time.perf_counter() - t0
        oc = pd.read_csv(Path(tmp) / "out" / "outcomes.csv", keep_default_na=False)
        # Every file must have gone through the whole parse (kept, or a duplicate of one).
        cif_outcomes = {r or "kept": int(n) for r, n in oc["reason"].value_counts().items()}

    syn_rate = n_syn / t_syn
    cif_rate = n_cifs / t_cif
    figures = {
        "quick": quick,
        "workers": workers,
        "synthetic_classes": len(classes),
        "synthetic_structures": n_syn,
        "synthetic_attempts": attempts,
        "synthetic_seconds": round(t_syn, 2),
        "synthetic_per_s": round(syn_rate, 2),
        "synthetic_generator": sconf["synthetic"]["generator"],
        "synthetic_pyxtal_structures": len(res_old.rows),
        "synthetic_pyxtal_seconds": round(t_old, 2),
        "synthetic_pyxtal_per_s": round(len(res_old.rows) / t_old, 2),
        "synthetic_speedup": round(syn_rate / (len(res_old.rows) / t_old), 2),
        **split,
        "synthetic_peak_rss_mb": round(mem_syn.peak, 1),
        "cif_files": n_cifs,
        "cif_write_seconds": round(t_write, 2),
        "cif_seconds": round(t_cif, 2),
        "cif_parsed_per_s": round(cif_rate, 2),
        "cif_peak_rss_mb": round(mem_cif.peak, 1),
        "cif_parent_rss_mb": round(mem_cif.parent, 1),
        "cif_outcomes": cif_outcomes,
        "peak_rss_mb": round(max(mem_syn.peak, mem_cif.peak), 1),
        "projected_s_108658_synthetic": round(PAPER_N / syn_rate, 1),
        "projected_s_108658_cif": round(PAPER_N / cif_rate, 1),
    }
    return write_result("structures", figures)


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
