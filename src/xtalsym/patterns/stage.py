"""The patterns stage: structures.parquet -> patterns.h5 (streamed, parallel) and a figure.

Memory stays bounded whatever N: the Parquet table is read in batches of ``chunk_size`` rows
(rounded up to whole HDF5 chunks), at most 2 x ``workers`` batches are in flight, and each
finished batch goes straight into the preallocated HDF5 dataset (N known from the Parquet
metadata), in row order. Workers also deflate their HDF5 chunks, which the parent writes with
``write_direct_chunk``: gzip would otherwise cap the whole run at one core's speed. The file
is built as ``.patterns.h5.partial`` and renamed at the end (``io.ResumableH5``): a run that
was interrupted resumes from its last finished batch while the structures table and the
patterns config are unchanged.

A structure that fails to simulate (e.g. an element without tabulated scattering factors) does
not stop the run: its rows get all-zero patterns, so every dataset stays row-aligned with the
structures table, and it is logged and listed with its reason in the file attribute ``failed``
(JSON list of {"id", "reason"}), for downstream stages to drop if they wish. If every
structure fails, the run raises instead (that is a bug or a wrong input, not bad luck).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import logging
import multiprocessing as mp
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pyarrow.parquet as pq
from tqdm import tqdm

from ..io import (
    ResumableH5,
    check_artifact,
    derive_seed,
    image_dataset,
    input_key,
    stamp_attrs,
)
from ..shards import gather, shard_rows, stamp_shard
from ..spacegroups import crystal_system
from .calculator import PatternCalculator
from .simulate import Settings

logger = logging.getLogger(__name__)

DETECTOR_AXES = (
    "beams x, y, z; detector axes beam x: u=y, v=z; beam y: u=z, v=x; beam z: u=x, v=y; "
    "column = W/2 + (g.u)/scale, row = H/2 - (g.v)/scale"
)
# HDF5 chunks of at most ~1 MB, the default chunk cache, so row-wise readers stay fast.
CHUNK_BYTES = 1_000_000


def tune_allocator() -> bool:
    """Let glibc keep freed memory in this process (a process-wide setting; True if applied).

    Each crystal allocates and frees megabyte arrays of slightly different sizes; by default
    glibc hands such memory back to the OS at once and faults it in again on the next crystal,
    which costs more than the arithmetic (about 2x per noisy crystal). Raising the trim and
    mmap thresholds (to 256 MB and 64 MB) keeps it in the heap. A no-op outside glibc.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
    return bool(mallopt(m_trim_threshold, 256 << 20)) and bool(mallopt(m_mmap_threshold, 64 << 20))


def variant_seeds(seed: int, structure_id: str, n_variants: int) -> list[int]:
    """The noise seed of each variant of one crystal."""
    return [derive_seed(seed, "patterns", structure_id, v) for v in range(n_variants)]


def simulate_chunk(
    ids: list[str], structures: list[str], params: dict[str, Any], seed: int
) -> tuple[np.ndarray, list[dict[str, str]]]:
    """Patterns (n, V, 3, size, size) uint8 of structures given as pymatgen JSON strings.

    Failed structures get zeros and an entry {"id", "reason"} in the returned list.
    """
    calc = PatternCalculator(params)
    n_var, size = int(params["n_variants"]), calc.settings.size
    out = np.zeros((len(ids), n_var, 3, size, size), dtype=np.uint8)
    failed = []
    for i, (sid, text) in enumerate(zip(ids, structures, strict=True)):  # crystals
        try:
            out[i] = calc.get_patterns(text, variant_seeds(seed, sid, n_var))
        except Exception as e:  # one bad structure must not stop 100k others
            failed.append({"id": sid, "reason": f"{type(e).__name__}: {e}"})
    return out, failed


def compress_rows(patterns: np.ndarray, chunk_rows: int, level: int) -> list[bytes]:
    """HDF5 chunks of ``patterns`` (n, ...) uint8, ``chunk_rows`` rows each (the last padded
    with zeros), deflated as the dataset's filters would: shuffle is the identity on 1-byte
    data, and HDF5's deflate filter writes a zlib stream at the given level."""
    out = []
    for r in range(0, len(patterns), chunk_rows):  # a few chunks per task
        block = patterns[r : r + chunk_rows]
        if len(block) < chunk_rows:
            pad = np.zeros((chunk_rows - len(block), *block.shape[1:]), dtype=np.uint8)
            block = np.concatenate([block, pad])
        out.append(zlib.compress(np.ascontiguousarray(block).tobytes(), level))
    return out


def _simulate_compressed(
    ids: list[str],
    structures: list[str],
    params: dict[str, Any],
    seed: int,
    chunk_rows: int,
    level: int,
) -> tuple[list[bytes], list[dict[str, str]]]:
    """simulate_chunk, then compress in the worker: the parent only writes bytes, so gzip
    does not serialise the run on one core."""
    patterns, failed = simulate_chunk(ids, structures, params, seed)
    return compress_rows(patterns, chunk_rows, level), failed


def _batches(
    pf: pq.ParquetFile, chunk_size: int, start: int = 0, stop: int | None = None
) -> Iterator[tuple[list[str], np.ndarray, list[str]]]:
    """Rows start..stop of the table in batches of exactly ``chunk_size`` rows (the last one
    shorter), decoding only the row groups that hold them."""
    meta = pf.metadata
    stop = meta.num_rows if stop is None else stop
    groups, first, at = [], None, 0
    for g in range(meta.num_row_groups):
        rows = meta.row_group(g).num_rows
        if at < stop and at + rows > start:
            groups.append(g)
            first = at if first is None else first
        at += rows
    if not groups or stop <= start:
        return
    skip, left = start - first, stop - start
    cols: dict[str, list] = {"id": [], "spacegroup": [], "structure": []}

    def emit(n: int) -> tuple[list[str], np.ndarray, list[str]]:
        out = {k: v[:n] for k, v in cols.items()}
        for v in cols.values():
            del v[:n]
        return out["id"], np.asarray(out["spacegroup"], dtype=np.int64), out["structure"]

    for batch in pf.iter_batches(batch_size=chunk_size, row_groups=groups, columns=list(cols)):
        if skip >= batch.num_rows:
            skip -= batch.num_rows
            continue
        batch = batch.slice(skip, left)
        skip, left = 0, left - batch.num_rows
        for k, v in batch.to_pydict().items():
            cols[k].extend(v)
        while len(cols["id"]) >= chunk_size:
            yield emit(chunk_size)
        if left == 0:
            break
    if cols["id"]:
        yield emit(len(cols["id"]))


class _Done:
    """A finished result with the AsyncResult interface (workers = 1: in-process, no pickling)."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def get(self) -> Any:
        return self.value


@contextlib.contextmanager
def _pool(workers: int) -> Iterator[Callable[..., Any]]:
    """Yield submit(fn, *args) -> object with .get(); worker processes when workers > 1.

    The simulating process(es) get tune_allocator(). The pool starts all its processes here,
    before the HDF5 file is opened and the progress bar's thread exists; fork lets them inherit the imported modules (spawn would re-import
    pymatgen in every worker).
    """
    if workers <= 1:
        tune_allocator()
        yield lambda fn, *args: _Done(fn(*args))
        return
    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    with mp.get_context(method).Pool(workers, initializer=tune_allocator) as pool:
        yield lambda fn, *args: pool.apply_async(fn, args)


def _check_direct_write(ds: h5py.Dataset, rows_per_chunk: int) -> None:
    """compress_rows reproduces exactly this chunking and filter pipeline; fail loudly if not."""
    if (
        ds.compression != "gzip"
        or ds.dtype != np.uint8
        or ds.scaleoffset
        or ds.fletcher32
        or ds.chunks[0] != rows_per_chunk
    ):
        raise RuntimeError(f"unexpected HDF5 filters on {ds.name}: cannot write chunks directly")


def run_patterns(
    cfg: dict[str, Any],
    structures_path: str | Path,
    out_path: str | Path,
    figure_path: str | Path | None = None,
    shard: tuple[int, int] | None = None,
) -> None:
    """Simulate every structure of ``structures_path`` into ``out_path`` (patterns.h5).

    Reads only cfg["patterns"] and cfg["seed"]. Datasets: ``patterns`` uint8
    (N, V, 3, size, size), ``ids`` str (N,), ``spacegroup`` int (N,), row-aligned with the
    Parquet table; attributes: the config slice (stamp_attrs), ``failed``, ``detector_axes``.
    ``shard`` (k, N): only the rows of shard k of N (xtalsym.shards), recorded in the file's
    shard attributes; :func:`gather_patterns` joins the shards. Each crystal's noise seeds
    depend on its id only, so a shard's rows equal those rows of the unsharded file.
    """
    params, seed = cfg["patterns"], int(cfg["seed"])
    settings = Settings.from_params(params)
    n_var, size = int(params["n_variants"]), settings.size
    workers, chunk = int(params["workers"]), int(params["chunk_size"])
    pf = pq.ParquetFile(check_artifact(structures_path))
    n_total = pf.metadata.num_rows
    lo, hi = (0, n_total) if shard is None else shard_rows(n_total, *shard)
    n = hi - lo
    row_bytes = n_var * 3 * size * size
    rows_per_chunk = max(1, min(CHUNK_BYTES // row_bytes, n))  # as image_dataset clips it
    # tasks cover whole HDF5 chunks, so each task's chunks are written as they come
    task_rows = -(-chunk // rows_per_chunk) * rows_per_chunk
    n_tasks = -(-n // task_rows)
    cfg_slice = {"seed": seed, "patterns": params}

    def init(h5: h5py.File) -> None:
        image_dataset(h5, "patterns", (n, n_var, 3, size, size), chunk_rows=rows_per_chunk)
        h5.create_dataset("ids", shape=(n,), dtype=h5py.string_dtype())
        h5.create_dataset("spacegroup", shape=(n,), dtype=np.int64)
        h5.attrs["_failed"] = "[]"

    what = "" if shard is None else f" (shard {shard[0]}/{shard[1]}: rows {lo}..{hi})"
    logger.info("simulating %d structures x %d variants with %d worker(s)%s", n, n_var, workers,
                what)  # fmt: skip
    key = input_key(cfg_slice, structures_path, n=n, rows=[lo, hi, n_total])
    with (
        _pool(workers) as submit,
        ResumableH5(out_path, key, n_tasks, init) as out,
        tqdm(total=n, unit="crystal", desc="patterns", mininterval=2.0) as bar,
    ):
        h5 = out.h5
        ds, ds_ids, ds_sg = h5["patterns"], h5["ids"], h5["spacegroup"]
        _check_direct_write(ds, rows_per_chunk)
        level = int(ds.compression_opts)
        # Failures of tasks finished before an interruption are kept in the partial file.
        failed: list[dict[str, str]] = json.loads(h5.attrs["_failed"])
        pending: deque[tuple[int, int, list[str], np.ndarray, Any]] = deque()

        def drain_one() -> None:
            k, at, ids, sgs, fut = pending.popleft()
            blocks, bad = fut.get()
            for j, data in enumerate(blocks):
                ds.id.write_direct_chunk((at + j * rows_per_chunk, 0, 0, 0, 0), data)
            ds_ids[at : at + len(ids)] = ids
            ds_sg[at : at + len(ids)] = sgs
            for f in bad:
                logger.warning("structure %s failed to simulate: %s", f["id"], f["reason"])
            if bad:
                failed.extend(bad)
                h5.attrs["_failed"] = json.dumps(failed)
            out.mark(k)
            bar.update(len(ids))

        # In process, write each batch at once (nothing runs ahead of it).
        in_flight = 2 * workers if workers > 1 else 1
        start = 0
        for k, (ids, sgs, structures) in enumerate(_batches(pf, task_rows, lo, hi)):
            if out.done[k]:
                bar.update(len(ids))
            else:
                fut = submit(
                    _simulate_compressed, ids, structures, params, seed, rows_per_chunk, level
                )
                pending.append((k, start, ids, sgs, fut))
                if len(pending) >= in_flight:
                    drain_one()
            start += len(ids)
        while pending:
            drain_one()
        if start != n:
            raise RuntimeError(f"{structures_path}: read {start} rows, metadata says {n}")
        # a bug, not bad structures: do not leave a blank file (a shard may be all bad luck:
        # the gather checks the whole table)
        if n and len(failed) == n and shard is None:
            raise RuntimeError(f"every structure failed to simulate, e.g. {failed[0]}")
        del h5.attrs["_failed"]
        stamp_attrs(h5, cfg_slice, failed=failed, detector_axes=DETECTOR_AXES)
        if shard is not None:
            stamp_shard(h5, shard, (lo, hi), n_total)
    logger.info("wrote %s (%d structures, %d failed)", out_path, n, len(failed))
    if figure_path is not None:
        plot_examples(structures_path, params, figure_path, seed)


def gather_patterns(
    cfg: dict[str, Any],
    structures_path: str | Path,
    shard_paths: list[str | Path],
    out_path: str | Path,
    figure_path: str | Path | None = None,
) -> None:
    """patterns.h5 as virtual datasets over the shard files of :func:`run_patterns`
    (xtalsym.shards.gather), checked against the structures table, and the stage's figure."""
    pf = pq.ParquetFile(check_artifact(structures_path))
    n = gather(shard_paths, out_path)
    if n != pf.metadata.num_rows:
        Path(out_path).unlink()
        raise ValueError(f"{len(shard_paths)} shards hold {n} rows, {structures_path} has "
                         f"{pf.metadata.num_rows}: gather the shards of this table")  # fmt: skip
    with h5py.File(out_path, "r") as h5:
        failed = json.loads(h5.attrs["failed"])
    if n and len(failed) == n:
        Path(out_path).unlink()
        raise RuntimeError(f"every structure failed to simulate, e.g. {failed[0]}")
    logger.info("gathered %d shards into %s (%d structures, %d failed)", len(shard_paths),
                out_path, n, len(failed))  # fmt: skip
    if figure_path is not None:
        plot_examples(structures_path, cfg["patterns"], figure_path, int(cfg["seed"]))


def _pick_examples(pf: pq.ParquetFile, max_crystals: int) -> list[tuple[str, str, str]]:
    """(id, crystal system, structure JSON) of the first crystal of each of up to
    ``max_crystals`` crystal systems, spread from triclinic to cubic."""
    ids, systems = [], []
    for batch in pf.iter_batches(batch_size=4096, columns=["id", "spacegroup"]):
        d = batch.to_pydict()
        ids.extend(d["id"])
        systems.extend(crystal_system(int(sg)) for sg in d["spacegroup"])
    first: dict[str, str] = {}
    for sid, system in zip(ids, systems, strict=True):
        first.setdefault(system, sid)
    order = ["triclinic", "monoclinic", "orthorhombic", "tetragonal", "trigonal", "hexagonal"]
    order.append("cubic")
    present = [s for s in order if s in first]
    if len(present) > max_crystals:  # spread the choice over the range of symmetries
        keep = np.linspace(0, len(present) - 1, max_crystals).round().astype(int)
        present = [present[i] for i in sorted(set(keep))]
    wanted = {first[s]: s for s in present}
    found: dict[str, str] = {}
    for batch in pf.iter_batches(batch_size=4096, columns=["id", "structure"]):
        d = batch.to_pydict()
        for sid, text in zip(d["id"], d["structure"], strict=True):
            if sid in wanted:
                found[sid] = text
        if len(found) == len(wanted):
            break
    return [(sid, wanted[sid], found[sid]) for sid in wanted]


def plot_examples(
    structures_path: str | Path,
    params: dict[str, Any],
    out_png: str | Path,
    seed: int,
    max_crystals: int = 4,
) -> None:
    """Figure: the x, y, z patterns of a few crystals of different crystal systems, clean and
    with the configured noise (variant 0 as stored in patterns.h5). Axes in reciprocal space
    (Å⁻¹, the direct beam at 0; each beam's detector axes as in docs/artifacts.md) and a colour
    bar of the stored 8-bit intensity."""
    from ..plotting import pyplot, save_figure

    plt = pyplot()

    pf = pq.ParquetFile(structures_path)
    examples = _pick_examples(pf, max_crystals)
    settings = Settings.from_params(params)
    rows = max(1, len(examples))
    fig, axes = plt.subplots(
        rows, 6, figsize=(14, 2.5 * rows + 0.9), squeeze=False, layout="constrained"
    )
    for ax in axes.ravel():
        ax.set_axis_off()
    size, scale = settings.size, settings.scale
    # pixel edges in Å⁻¹: column c is u = (c - size/2) * scale, row r is v = (size/2 - r) * scale
    extent = (-(size / 2 + 0.5) * scale, (size / 2 - 0.5) * scale,
              -(size / 2 - 0.5) * scale, (size / 2 + 0.5) * scale)  # fmt: skip
    # (horizontal, vertical) reciprocal axes of the beams x, y, z
    detector = (("y", "z"), ("z", "x"), ("x", "y"))
    im = None
    for r, (sid, system, text) in enumerate(examples):
        seeds = [None, variant_seeds(seed, sid, 1)[0]]
        images = PatternCalculator(settings).get_patterns(text, seeds)  # (2, 3, H, W)
        for c in range(6):
            kind, beam = divmod(c, 3)
            ax = axes[r, c]
            ax.set_axis_on()
            im = ax.imshow(
                images[kind, beam], cmap="gray", vmin=0, vmax=255, interpolation="nearest",
                extent=extent,
            )  # fmt: skip
            title = f"beam {'xyz'[beam]}, {'clean' if kind == 0 else 'noisy'}"
            ax.set_title(f"{sid} ({system})\n{title}" if c == 0 else title, fontsize=8)
            hor, ver = detector[beam]
            ax.set_xlabel(f"$g_{hor}$ (Å⁻¹)", fontsize=7, labelpad=1)
            ax.set_ylabel(f"$g_{ver}$ (Å⁻¹)", fontsize=7, labelpad=1)
            ax.tick_params(labelsize=6, length=2)
    if im is not None:
        bar = fig.colorbar(im, ax=axes, fraction=0.015, pad=0.01)
        bar.set_label(f"8-bit intensity, 255·(I/I_ref)^{settings.gamma:g}", fontsize=8)
        bar.ax.tick_params(labelsize=7)
    noise = ", ".join(f"{k}={v:g}" for k, v in settings.noise.items())
    fig.suptitle(
        f"Simulated patterns (λ={settings.wavelength:g} Å, {settings.scale:g} Å⁻¹/px, "
        f"t={settings.thickness:g} Å); noise: {noise}",
        fontsize=9,
    )
    save_figure(fig, out_png, dpi=110)
    logger.info("wrote %s", out_png)
