"""Training data: the images HDF5 file and the RAM budget for holding it.

Images stay uint8 until a batch is on the compute device (4x less memory and transfer), where
:func:`xtalsym.models.compose_inputs` builds the authors' inputs; the split's rows come from
:func:`xtalsym.split.read_split_rows`; :mod:`.loading` reads the images of a split for each
epoch (in memory or streamed). ``compose_inputs``, ``SplitRows`` and ``read_split_rows`` are
re-exported here for older imports.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import psutil

from ..models.inputs import compose_inputs
from ..split import SplitRows, read_split_rows

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImageFile:
    """Shape and provenance of an images HDF5 file (docs/artifacts.md, shaping row)."""

    path: Path
    shape: tuple[int, ...]  # (N, V, 3, C, S, S)
    chunk_rows: int
    attrs: dict[str, object]
    raw: Path | None = field(default=None, compare=False)  # uncompressed copy (.rawcopy)

    @property
    def n_variants(self) -> int:
        return self.shape[1]

    @property
    def size(self) -> int:
        return self.shape[-1]

    @property
    def channels(self) -> int:
        return self.shape[3]

    @property
    def row_bytes(self) -> int:
        """Bytes of one crystal's images, all variants."""
        return int(np.prod(self.shape[1:]))


def open_image_file(path: str | os.PathLike) -> ImageFile:
    with h5py.File(path, "r") as h5:
        ds = h5["images"]
        if ds.ndim != 6 or ds.shape[2] != 3 or ds.dtype != np.uint8:
            raise ValueError(f"{path}: images must be uint8 (N, V, 3, C, S, S), got {ds.shape}")
        attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in h5.attrs.items()}
        chunk_rows = ds.chunks[0] if ds.chunks else 1
        return ImageFile(Path(path), tuple(ds.shape), int(chunk_rows), attrs)


def memory_budget(cache_gb: float | None) -> int:
    """RAM budget in bytes for holding images: ``cache_gb`` or half the available memory."""
    if cache_gb is not None:
        return int(cache_gb * 1e9)
    return int(psutil.virtual_memory().available // 2)


__all__ = [
    "ImageFile",
    "SplitRows",
    "compose_inputs",
    "memory_budget",
    "open_image_file",
    "read_split_rows",
]
