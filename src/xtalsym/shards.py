"""Shards of the per-crystal stages and their gathered view (config ``shards``).

With ``shards: N > 1`` the patterns and shaping stages run as N jobs each: shard k takes the
contiguous block of rows :func:`shard_rows` gives it (so the shards laid end to end are the
unsharded file's row order) and writes its own HDF5 file. :func:`gather` then writes the
stage's artifact as an HDF5 file of *virtual datasets* over the shard files: no pixel is
copied, and readers (split, shaping, training) open it as they open an ordinary file. Source
paths are stored relative to the gathered file, so the results directory can be moved whole;
the shard files must stay beside it (:func:`missing_sources` says which are gone: HDF5 would
read a missing source as zeros).

Each shard file records ``shard`` ("k/N"), ``rows`` ([start, stop) in the whole table) and
``rows_total``; the gather checks that the shards tile 0..rows_total in order and agree on
their datasets and on every attribute except ``artifact_id`` and ``failed`` (concatenated).
The gathered file carries the unsharded file's attributes, and a new ``artifact_id``.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Sequence
from pathlib import Path

import h5py

#: Attributes of a shard file that describe the shard, not the artifact (not gathered).
SHARD_ATTRS = ("shard", "rows", "rows_total")
#: Attributes allowed to differ between shards: a new one is made, or the lists are joined.
PER_FILE_ATTRS = ("artifact_id", "failed")


def parse_shard(text: str) -> tuple[int, int]:
    """``"k/N"`` -> (k, N), 0 <= k < N."""
    try:
        k, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise ValueError(f"shard must be K/N (e.g. 0/4), got {text!r}") from None
    if not (n >= 1 and 0 <= k < n):
        raise ValueError(f"shard {text!r}: need 0 <= K < N")
    return k, n


def shard_rows(n_rows: int, shard: int, shards: int) -> tuple[int, int]:
    """Rows [start, stop) of shard ``shard`` of ``shards`` over ``n_rows`` rows: contiguous
    blocks differing in size by at most one row (shard k starts at floor(k n / N))."""
    return shard * n_rows // shards, (shard + 1) * n_rows // shards


def stamp_shard(h5: h5py.File, shard: tuple[int, int], rows: tuple[int, int], total: int) -> None:
    """Record which part of the whole table the file ``h5`` holds."""
    h5.attrs["shard"] = f"{shard[0]}/{shard[1]}"
    h5.attrs["rows"] = list(rows)
    h5.attrs["rows_total"] = total


def _attrs(h5: h5py.File) -> dict[str, object]:
    return {k: (v.decode() if isinstance(v, bytes) else v) for k, v in h5.attrs.items()}


def _same(a: object, b: object) -> bool:
    try:
        return bool(a == b) if not hasattr(a, "shape") else bool((a == b).all())
    except Exception:
        return False


def gather(shard_paths: Sequence[str | os.PathLike], out_path: str | os.PathLike) -> int:
    """Write ``out_path``: every top-level dataset of the shard files, laid end to end along
    axis 0 as virtual datasets (source paths relative to ``out_path``'s directory), with the
    shards' common attributes. Returns the number of rows. Raises ValueError naming the shard
    when the shards do not tile one table or disagree."""
    from .io import atomic_path

    out_path = Path(out_path)
    paths = [Path(p) for p in shard_paths]
    if not paths:
        raise ValueError(f"{out_path}: no shard files to gather")
    metas = []
    for p in paths:
        with h5py.File(p, "r") as f:
            attrs = _attrs(f)
            missing = [k for k in SHARD_ATTRS if k not in attrs]
            if missing:
                raise ValueError(f"{p}: not a shard file (no {', '.join(missing)} attribute)")
            dsets = {
                name: (obj.shape, obj.dtype)
                for name, obj in f.items()
                if isinstance(obj, h5py.Dataset)
            }
            metas.append((p, attrs, dsets))
    _, first, first_dsets = metas[0]
    total, n_shards = int(first["rows_total"]), len(paths)
    at = 0
    for k, (p, attrs, dsets) in enumerate(metas):
        if attrs["shard"] != f"{k}/{n_shards}":
            raise ValueError(f"{p}: shard {attrs['shard']}, expected {k}/{n_shards} (in order)")
        start, stop = (int(x) for x in attrs["rows"])
        if start != at or int(attrs["rows_total"]) != total:
            raise ValueError(f"{p}: rows {start}..{stop} of {attrs['rows_total']}, expected "
                             f"to start at {at} of {total}")  # fmt: skip
        if dsets.keys() != first_dsets.keys():
            raise ValueError(f"{p}: datasets {sorted(dsets)} != {sorted(first_dsets)}")
        for name, (shape, dtype) in dsets.items():
            if shape[0] != stop - start or shape[1:] != first_dsets[name][0][1:]:
                raise ValueError(f"{p}: {name} has shape {shape} for rows {start}..{stop}")
            if dtype != first_dsets[name][1]:
                raise ValueError(f"{p}: {name} is {dtype}, shard 0's is {first_dsets[name][1]}")
        for key in set(attrs) | set(first):
            if key in SHARD_ATTRS or key in PER_FILE_ATTRS:
                continue
            if not _same(attrs.get(key), first.get(key)):
                raise ValueError(f"{p}: attribute {key!r} differs from shard 0's ({paths[0]})")
        at = stop
    if at != total:
        raise ValueError(f"shards end at row {at} of {total}: {paths[-1]} is not the last")

    with atomic_path(out_path) as tmp, h5py.File(tmp, "w") as out:
        for name, (shape, dtype) in first_dsets.items():
            layout = h5py.VirtualLayout(shape=(total, *shape[1:]), dtype=dtype)
            for p, attrs, dsets in metas:
                start, stop = (int(x) for x in attrs["rows"])
                if stop > start:  # an empty shard maps nothing
                    rel = os.path.relpath(p.resolve(), out_path.parent.resolve())
                    layout[start:stop] = h5py.VirtualSource(
                        rel, name, shape=dsets[name][0], dtype=dtype
                    )
            out.create_virtual_dataset(name, layout)
        for key, value in first.items():
            if key not in SHARD_ATTRS:
                out.attrs[key] = value
        if "failed" in first:
            failed = [f for _, attrs, _ in metas for f in json.loads(attrs["failed"])]
            out.attrs["failed"] = json.dumps(failed)
        out.attrs["artifact_id"] = uuid.uuid4().hex
    return total


def missing_sources(path: str | os.PathLike) -> list[str]:
    """Source files of the virtual datasets of HDF5 file ``path`` that do not exist (as
    HDF5 resolves them: relative to the file's directory); empty for an ordinary file."""
    path = Path(path)
    missing: set[str] = set()
    with h5py.File(path, "r") as f:
        for obj in f.values():
            if isinstance(obj, h5py.Dataset) and obj.is_virtual:
                for src in obj.virtual_sources():
                    name = src.file_name
                    if name == ".":
                        continue
                    full = Path(name) if os.path.isabs(name) else path.parent / name
                    if not full.is_file():
                        missing.add(str(full))
    return sorted(missing)
