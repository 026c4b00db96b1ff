"""An uncompressed training copy of an images file, read by memory mapping.

Decoding gzip chunks limits one process to a few hundred 224-px crystals per second
(results/bench/training.json, ``loader``), below what a GPU trains on. ``train.raw_copy``
decodes the images once into a ``.npy`` file beside the checkpoints; the loader then maps it:
a batch is a gather from the page cache (thousands of crystals/s, no decode), every process of
a distributed run shares the same cached pages instead of holding its own copy in RAM, and
streaming reads plain byte ranges. The cost is disk: the raw size (108,658 shaped crystals x
3 x 2 x 224 x 224 B = 32.7 GB, against about 12 GB gzip).

The copy is named after the source file's identity (absolute path, size, modification time,
``config_hash``, ``artifact_id``), so models trained on the same images share it and a
rewritten source gets a new one; it is written atomically, slab by slab in bounded memory.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
from pathlib import Path

import h5py
import numpy as np

from ..io import atomic_path
from .data import ImageFile
from .loading import slab_rows

logger = logging.getLogger(__name__)


def copy_path(image_file: ImageFile, cache_dir: str | os.PathLike) -> Path:
    """Where the raw copy of ``image_file`` lives in ``cache_dir``."""
    st = image_file.path.stat()
    ident = [str(image_file.path.resolve()), st.st_size, st.st_mtime_ns]
    ident += [str(image_file.attrs.get(k)) for k in ("config_hash", "artifact_id")]
    key = hashlib.blake2b(json.dumps(ident).encode(), digest_size=6).hexdigest()
    return Path(cache_dir) / f"{image_file.path.stem}-{key}.raw.npy"


def ensure_raw_copy(image_file: ImageFile, cache_dir: str | os.PathLike) -> Path:
    """The raw copy's path, written first if it does not exist yet. Jobs training other
    models on the same images at the same time wait on a lock file instead of decoding it
    again (an advisory ``flock``; on a shared file system without locks each writes its own
    temporary copy and the last rename wins, which is still correct)."""
    path = copy_path(image_file, cache_dir)
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
        except OSError:  # no locks on this file system
            pass
        if not path.exists():
            _write_copy(image_file, path)
    return path


def _write_copy(image_file: ImageFile, path: Path) -> None:
    n = image_file.shape[0]
    gb = n * image_file.row_bytes / 1e9
    logger.info(
        "writing an uncompressed copy of %s for training: %s (%.2f GB)", image_file.path, path, gb
    )
    step = slab_rows(image_file)
    with atomic_path(path) as tmp:
        # np.save-compatible header, then rows appended slab by slab (bounded memory).
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=image_file.shape)
        with h5py.File(image_file.path, "r") as h5:
            ds = h5["images"]
            for start in range(0, n, step):
                out[start : start + step] = ds[start : start + step]
        out.flush()
        del out


def open_raw(path: str | os.PathLike) -> np.ndarray:
    """The raw copy, memory-mapped read-only."""
    return np.load(path, mmap_mode="r")
