"""The unshaped images as a view of the shaped ones: no pixel shaped, compressed or stored twice.

Channel :data:`~xtalsym.channels.PATTERN` of a shaped image is the unshaped image bit for bit
(the same normalisation and resize; tests/test_shards.py checks it), so a run that makes both
modes writes unshaped.h5 as HDF5 virtual datasets over shaped.h5: ``images`` maps the shaped
file's channel S, ``ids`` and ``spacegroup`` map its own. Readers open it as an ordinary
file; its attributes are the shaped file's but ``mode`` (unshaped), ``artifact_id`` (new) and
``view_of``. At the paper's size this saves the unshaped stage (a third of the shaping time)
and its 5.5 GiB. The source path is stored relative to the view, so the directory moves whole.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import h5py

from ..channels import PATTERN
from ..io import atomic_path, check_artifact


def unshaped_view(
    cfg: dict[str, Any],
    shaped_path: str | os.PathLike,
    out_path: str | os.PathLike,
    patterns_path: str | os.PathLike | None = None,
    figure_path: str | os.PathLike | None = None,
) -> int:
    """Write ``out_path`` (unshaped.h5) as a view of ``shaped_path`` (shaped.h5, itself an
    ordinary or a gathered file), and the stage's unshaped figure from ``patterns_path``;
    returns the number of crystals. ValueError if ``shaped_path`` is not a shaped images file."""
    shaped_path, out_path = check_artifact(shaped_path), Path(out_path)
    with h5py.File(shaped_path, "r") as f:
        if f.attrs.get("mode") != "shaped" or "images" not in f:
            raise ValueError(
                f"{shaped_path}: not a shaped images file (mode {f.attrs.get('mode')})"
            )
        attrs = dict(f.attrs)
        meta = {
            name: (ds.shape, ds.dtype) for name, ds in f.items() if isinstance(ds, h5py.Dataset)
        }
    rel = os.path.relpath(shaped_path.resolve(), out_path.parent.resolve())
    with atomic_path(out_path) as tmp, h5py.File(tmp, "w") as out:
        for name, (shape, dtype) in meta.items():
            src = h5py.VirtualSource(rel, name, shape=shape, dtype=dtype)
            if name == "images":  # (N, V, 3, 2, S, S) -> channel S only
                shape = (*shape[:3], 1, *shape[4:])
                src = src[:, :, :, PATTERN : PATTERN + 1]
            layout = h5py.VirtualLayout(shape=shape, dtype=dtype)
            if shape[0]:
                layout[...] = src
            out.create_virtual_dataset(name, layout)
        for key, value in attrs.items():
            out.attrs[key] = value
        out.attrs["mode"] = "unshaped"
        out.attrs["artifact_id"] = uuid.uuid4().hex
        out.attrs["view_of"] = f"{shaped_path.name}: images[:, :, :, {PATTERN}] (channel S)"
    if figure_path is not None and patterns_path is not None:
        from .stage import stage_figure

        stage_figure(cfg, patterns_path, figure_path, "unshaped")
    return meta["images"][0][0]
