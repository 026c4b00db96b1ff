"""The shaping stage: patterns.h5 -> {shaped,unshaped}.h5 (streamed, parallel, resumable).

Memory stays bounded whatever N: workers read ``chunk_size`` crystals at a time straight from
the patterns file, at most 2 x ``workers`` chunks are in flight, and each finished chunk goes
into the preallocated output dataset in row order. The output is built in a hidden
``.<name>.partial`` file and renamed onto the destination at the end (``io.ResumableH5``); a
run that was interrupted resumes from it, skipping the chunks it had finished, as long as the
input, the shaping config and the mode are unchanged.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import json
import logging
import multiprocessing as mp
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from tqdm import tqdm

from ..channels import MODE_CHANNELS
from ..io import (
    ResumableH5,
    check_artifact,
    image_dataset,
    input_key,
    read_ids,
    stamp_attrs,
    write_ids,
)
from ..shards import SHARD_ATTRS, gather
from .core import ShapingOptions, shape_batch, unshaped_batch
from .resize import resize

logger = logging.getLogger(__name__)

MODES = MODE_CHANNELS
#: HDF5 chunks of at most ~1 MB, so row-wise readers (training) stay fast.
CHUNK_BYTES = 1_000_000
#: Patterns shaped and resized at a time inside a chunk.
RESIZE_BLOCK = 64


def shape_crystals(
    patterns: np.ndarray, mode: str, opts: ShapingOptions, size: int, method: str = "loader"
) -> np.ndarray:
    """Images (n, V, 3, C, size, size) uint8 of patterns (n, V, 3, H, W) in ``mode``.

    ``shaped``: C = 2, the edge image E and the normalised pattern S; ``unshaped``: C = 1, S.
    Both resized by ``method`` (``shaping.resize``: max, crop or loader).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    lead, (h, w) = patterns.shape[:-2], patterns.shape[-2:]
    flat = patterns.reshape(-1, h, w)
    out = np.empty((len(flat), MODES[mode], size, size), np.uint8)
    # Full-size intermediates for a few images at a time only: memory ~ the output.
    for a in range(0, len(flat), RESIZE_BLOCK):
        block = flat[a : a + RESIZE_BLOCK]
        chans = shape_batch(block, opts) if mode == "shaped" else (unshaped_batch(block, opts),)
        for c, img in enumerate(chans):
            out[a : a + len(block), c] = resize(img, size, method)
    return out.reshape(*lead, MODES[mode], size, size)


def _shape_chunk(
    patterns_path: str,
    start: int,
    stop: int,
    mode: str,
    quirks: dict[str, Any],
    size: int,
    method: str,
) -> np.ndarray:
    """Worker task: read crystals start..stop from the patterns file and shape them."""
    with h5py.File(patterns_path, "r") as f:
        patterns = f["patterns"][start:stop]
    return shape_crystals(patterns, mode, ShapingOptions.from_config(quirks), size, method)


@contextlib.contextmanager
def _executor(workers: int) -> Iterator[Callable[..., cf.Future]]:
    """Yield submit(fn, *args) -> Future; worker processes when workers > 1.

    Workers are spawned, not forked: they import only numpy, h5py and this package, and
    inherit no open HDF5 handle or progress-bar thread from the parent.
    """
    if workers <= 1:

        def submit(fn: Callable[..., Any], *args: Any) -> cf.Future:
            fut: cf.Future = cf.Future()
            fut.set_result(fn(*args))
            return fut

        yield submit
        return
    with cf.ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as ex:
        yield ex.submit


def run_shaping(
    cfg: dict[str, Any],
    patterns_path: str | os.PathLike,
    mode: str,
    out_path: str | os.PathLike,
    figure_path: str | os.PathLike | None = None,
) -> None:
    """Shape every pattern of ``patterns_path`` into ``out_path`` ({mode}.h5, docs/artifacts.md).

    Reads cfg["shaping"] (and cfg["seed"] for the figure's choice of crystals). Datasets:
    ``images`` uint8 (N, V, 3, C, S, S), S = ``shaping.input_size``, C = 2 (E, S) for
    ``shaped`` and 1 (S) for ``unshaped``; ``ids``, ``spacegroup`` as in the input; attrs:
    the config slice (stamp_attrs), ``mode``, ``quirks``, ``patterns_config_hash``.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    params = cfg["shaping"]
    opts = ShapingOptions.from_config(params["quirks"])
    size, chunk = int(params["input_size"]), int(params["chunk_size"])
    workers = int(params["workers"])
    patterns_path, out_path = check_artifact(patterns_path), Path(out_path)
    with h5py.File(patterns_path, "r") as f:
        if "patterns" not in f:
            raise ValueError(f"{patterns_path}: no 'patterns' dataset")
        full = f["patterns"].shape
        if len(full) != 5:
            raise ValueError(f"{patterns_path}: patterns must be (N, V, 3, H, H), got {full}")
        n, n_var, n_ax, h, w = full
        ids, spacegroup = read_ids(f), f["spacegroup"][...]
        patterns_hash = f.attrs.get("config_hash", "")
        # a patterns shard (config shards > 1) makes an images shard of the same rows
        shard = {k: f.attrs[k] for k in SHARD_ATTRS if k in f.attrs}
    if n_ax != 3 or h != w:
        raise ValueError(f"{patterns_path}: patterns must be (N, V, 3, H, H), got {full}")
    if size > h:
        raise ValueError(f"shaping.input_size {size} px exceeds the pattern size {h} px")
    side = h // 2 if params["resize"] == "crop" else h
    if params["resize"] != "loader" and side % size:
        raise ValueError(
            f"shaping.resize {params['resize']} needs an integer ratio: {side} px -> {size} px "
            "(use resize: loader for the authors' nearest resize)"
        )

    cfg_slice = {"seed": cfg["seed"], "shaping": params}
    shape = (n, n_var, 3, MODES[mode], size, size)
    starts = list(range(0, n, chunk))
    key = input_key(cfg_slice, patterns_path, mode=mode, n=n)
    row_bytes = int(np.prod(shape[1:]))

    def init(h5: h5py.File) -> None:
        image_dataset(h5, "images", shape, chunk_rows=max(1, CHUNK_BYTES // row_bytes))

    logger.info(
        "shaping %d crystals x %d variants x 3 axes (%s, %d px) with %d worker(s)",
        n, n_var, mode, size, workers,
    )  # fmt: skip
    t0 = time.perf_counter()
    with (
        _executor(workers) as submit,
        ResumableH5(out_path, key, len(starts), init) as out,
        tqdm(total=n, unit="crystal", desc=mode, mininterval=2.0) as bar,
    ):
        ds = out.h5["images"]
        bar.update(sum(min(chunk, n - s) for s, d in zip(starts, out.done, strict=True) if d))
        pending: deque[tuple[int, int, cf.Future]] = deque()

        def drain_one() -> None:
            k, start, fut = pending.popleft()
            images = fut.result()
            ds[start : start + len(images)] = images
            out.mark(k)
            bar.update(len(images))

        # In process, write each chunk at once (nothing runs ahead of it).
        in_flight = 2 * workers if workers > 1 else 1
        for k, start in enumerate(starts):
            if out.done[k]:
                continue
            stop = min(n, start + chunk)
            args = (str(patterns_path), start, stop, mode, opts.quirks(), size, params["resize"])
            pending.append((k, start, submit(_shape_chunk, *args)))
            if len(pending) >= in_flight:
                drain_one()
        while pending:
            drain_one()
        _finalise(out.h5, ids, spacegroup, cfg_slice, mode, opts, patterns_hash)
        out.h5.attrs.update(shard)
    dt = time.perf_counter() - t0
    logger.info("wrote %s (%d crystals, %.1f s, %.0f patterns/s)", out_path, n, dt,
                n * n_var * 3 / max(dt, 1e-9))  # fmt: skip
    if figure_path is not None:
        stage_figure(cfg, patterns_path, figure_path, mode)


def stage_figure(
    cfg: dict[str, Any], patterns_path: str | os.PathLike, figure_path: str | os.PathLike, mode: str
) -> None:
    """The shaping stage's figure of ``mode`` images, from the patterns file."""
    from .figure import plot_examples

    opts = ShapingOptions.from_config(cfg["shaping"]["quirks"])
    plot_examples(patterns_path, figure_path, opts, mode=mode, seed=int(cfg["seed"]))


def gather_shaping(
    cfg: dict[str, Any],
    patterns_path: str | os.PathLike,
    shard_paths: list[str | os.PathLike],
    mode: str,
    out_path: str | os.PathLike,
    figure_path: str | os.PathLike | None = None,
) -> None:
    """{mode}.h5 as virtual datasets over the images shards of :func:`run_shaping`
    (xtalsym.shards.gather), checked row by row against the (gathered) patterns file's ids,
    and the stage's figure from that patterns file."""
    patterns_path = check_artifact(patterns_path)
    n = gather(shard_paths, out_path)
    with h5py.File(patterns_path, "r") as f, h5py.File(out_path, "r") as g:
        same = n == len(f["ids"]) and (read_ids(f) == read_ids(g)).all()
        wrong_mode = g.attrs["mode"] != mode
    if not same or wrong_mode:
        Path(out_path).unlink()
        why = f"not mode {mode}" if wrong_mode else f"not the rows of {patterns_path}"
        raise ValueError(f"{len(shard_paths)} shards gathered into {out_path}: {why}")
    logger.info("gathered %d shards into %s (%d crystals)", len(shard_paths), out_path, n)
    if figure_path is not None:
        stage_figure(cfg, patterns_path, figure_path, mode)


def _finalise(
    h5: h5py.File,
    ids: np.ndarray,
    spacegroup: np.ndarray,
    cfg_slice: dict[str, Any],
    mode: str,
    opts: ShapingOptions,
    patterns_hash: str,
) -> None:
    for name in ("ids", "spacegroup"):
        if name in h5:
            del h5[name]
    write_ids(h5, ids)
    h5.create_dataset("spacegroup", data=np.asarray(spacegroup, dtype=np.int64))
    stamp_attrs(
        h5,
        cfg_slice,
        mode=mode,
        quirks=json.dumps(opts.quirks(), sort_keys=True),
        patterns_config_hash=patterns_hash,
    )
