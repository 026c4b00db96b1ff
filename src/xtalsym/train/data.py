"""Training data: the HDF5 images joined with the split, composed into network inputs.

Images stay uint8 until a batch is on the compute device (4x less memory and transfer), where
:func:`compose_inputs` builds the authors' inputs. This module holds that input contract, the
images file and its join with the split, and the RAM budget; :mod:`.loading` reads the images
of a split for each epoch (in memory or streamed).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import psutil
import torch

from ..io import read_ids
from ..models import ARCHS, STACKED_ARCHS
from ..spacegroups import class_index

logger = logging.getLogger(__name__)

#: Per stream a (0=x, 1=y, 2=z), the source channel of each RGB channel: the edge image E
#: (channel 0) in channel a, the normalised pattern S (channel 1) in the other two.
_SHAPED_RGB = torch.tensor([[0 if c == a else 1 for c in range(3)] for a in range(3)])
_UNSHAPED_RGB = torch.zeros((3, 3), dtype=torch.long)


def compose_inputs(
    images_uint8: np.ndarray | torch.Tensor, arch: str, *, channels_last: bool = False
) -> torch.Tensor:
    """Float network input from uint8 images (B, 3 axes, C, S, S), on the images' device.

    msdn: (B, 3, 3, S, S), stream a = the authors' RGB image of axis a (channel a = E, the
    other two = S; unshaped C = 1: S, S, S). Stacked archs: (B, 3, S, S), channel 0 of each
    axis. Values / 255, no mean or std normalisation (the authors' loader). With
    ``channels_last`` the memory is laid out so that each (3, S, S) image is channels-last.
    """
    if arch not in ARCHS:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHS)}")
    x = torch.as_tensor(images_uint8)
    if x.ndim != 5 or x.shape[1] != 3 or x.shape[2] not in (1, 2) or x.shape[3] != x.shape[4]:
        raise ValueError(f"expected uint8 images (B, 3, C in 1|2, S, S), got {tuple(x.shape)}")
    if arch in STACKED_ARCHS:
        out = x[:, :, 0].float().div_(255.0)
        return out.contiguous(memory_format=torch.channels_last) if channels_last else out
    table = (_SHAPED_RGB if x.shape[2] == 2 else _UNSHAPED_RGB).to(x.device)
    streams = torch.arange(3, device=x.device)[:, None]
    rgb = x[:, streams, table]  # (B, 3, 3, S, S) uint8
    if not channels_last:
        return rgb.float().div_(255.0)
    # Lay memory out as (B, 3, S, S, 3) viewed as (B, 3, 3, S, S): flatten(0, 1) then gives
    # channels-last (3B, 3, S, S) images without another copy.
    b, _, _, s, _ = rgb.shape
    out = torch.empty((b, 3, s, s, 3), dtype=torch.float32, device=x.device)
    out.copy_(rgb.permute(0, 1, 3, 4, 2)).div_(255.0)
    return out.permute(0, 1, 4, 2, 3)


@dataclass(frozen=True)
class SplitRows:
    """The HDF5 rows of one split (ascending) and their class indices."""

    rows: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.rows)


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


def read_split_rows(
    images_path: str | os.PathLike, split_path: str | os.PathLike, classes: list[int]
) -> dict[str, SplitRows]:
    """Join the images' ``ids`` with split.csv; labels are indices into ``classes``.

    Crystals of the split table missing from the images, or of a space group outside
    ``classes``, are dropped with a warning; a label disagreeing with the images is an error.
    """
    with h5py.File(images_path, "r") as h5:
        ids = read_ids(h5)
        sg = h5["spacegroup"][...].astype(np.int64)
    split = pd.read_csv(split_path, dtype={"id": str})
    table = pd.DataFrame({"id": ids, "sg_img": sg, "row": np.arange(len(ids))})
    merged = split.merge(table, on="id", how="left")
    missing = merged["row"].isna()
    if missing.any():
        logger.warning("%d split ids have no images; dropped", int(missing.sum()))
        merged = merged[~missing]
    bad = merged["spacegroup"].to_numpy() != merged["sg_img"].to_numpy()
    if bad.any():
        first = merged[bad].iloc[0]
        raise ValueError(
            f"space group of {first['id']} is {first['spacegroup']} in {split_path} but "
            f"{first['sg_img']} in {images_path}"
        )
    index = class_index(classes)
    known = merged["spacegroup"].isin(list(index))
    if not known.all():
        dropped = sorted(set(merged.loc[~known, "spacegroup"].astype(int)))
        logger.warning("space groups %s are not in the class set; dropped", dropped)
        merged = merged[known]
    out = {}
    for name in ("train", "val", "test"):
        part = merged[merged["split"] == name].sort_values("row")
        rows = part["row"].to_numpy(np.int64)
        labels = part["spacegroup"].astype(int).map(index).to_numpy(np.int64)
        out[name] = SplitRows(rows, labels)
    return out


def memory_budget(cache_gb: float | None) -> int:
    """RAM budget in bytes for holding images: ``cache_gb`` or half the available memory."""
    if cache_gb is not None:
        return int(cache_gb * 1e9)
    return int(psutil.virtual_memory().available // 2)
