"""Atomic artifact writing and the HDF5 conventions shared by every stage.

Every artifact is written to a temporary file beside its destination and renamed into place,
so an interrupted run never leaves a truncated file that Snakemake would take as finished.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd

from . import __version__

logger = logging.getLogger(__name__)


#: errno values that only a write raises: a full disk or quota, a read-only file system.
WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG})


def _write_error(dest: Path, e: OSError) -> OSError:
    """The same OSError (errno kept) with a message that names what failed."""
    why = e.strerror or str(e)
    err = type(e)(e.errno, f"writing {dest} failed: {why} (no partial {dest.name} was left)")
    err.filename = str(dest)
    return err


@contextlib.contextmanager
def atomic_path(dest: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``dest``; rename it onto ``dest`` on success.

    On any error (a full disk, a read-only directory) the temporary file is removed and
    ``dest`` is left untouched; an OSError is re-raised naming ``dest``.
    """
    dest = Path(dest)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
        os.close(fd)
    except OSError as e:
        raise _write_error(dest, e) from e
    tmp_path = Path(tmp)
    # mkstemp creates 0600; give the artifact the mode a plain open() would.
    umask = os.umask(0)
    os.umask(umask)
    try:
        try:
            yield tmp_path
        except OSError as e:
            if e.errno not in WRITE_ERRNOS or str(e).startswith(f"[Errno {e.errno}] writing "):
                raise  # not a failed write, or one already named (a nested atomic write)
            raise _write_error(dest, e) from e
        try:
            os.chmod(tmp_path, 0o666 & ~umask)
            os.replace(tmp_path, dest)
        except OSError as e:
            raise _write_error(dest, e) from e
    finally:
        with contextlib.suppress(OSError):
            tmp_path.unlink(missing_ok=True)


#: The Snakemake rule that writes each pipeline artifact (by file name), so that a stage that
#: finds its input damaged can say which rule rebuilds it.
PRODUCERS = {
    "structures.parquet": "generate_structures",
    "outcomes.csv": "generate_structures",
    "patterns.h5": "simulate_patterns",  # gather_patterns when shards > 1
    "shaped.h5": "shape_patterns",
    "unshaped.h5": "shape_patterns",
    "split.csv": "split_dataset",
    "class_weights.csv": "split_dataset",
    "model.pt": "train_model",
    "model_card.json": "train_model",
}


class DamagedArtifactError(ValueError):
    """An input artifact is missing, truncated or unreadable (the message names the rule)."""


def check_artifact(path: str | os.PathLike) -> Path:
    """Return ``path`` if it is a whole artifact, else raise :class:`DamagedArtifactError`.

    Cheap structural checks that a truncated file fails: HDF5 opens (its superblock records
    the file's end) and every dataset's header reads; Parquet's footer reads; JSON parses; a
    CSV ends with a newline (as every writer here ends it); a torch file's zip directory reads.
    """
    import zipfile

    p = Path(path)
    rule = PRODUCERS.get(p.name)
    fix = (f"; rule {rule} writes it: delete it and rerun (snakemake --forcerun {rule})"
           if rule else "; delete it and rerun the stage that wrote it")  # fmt: skip
    if not p.is_file():
        raise DamagedArtifactError(f"{p}: missing{fix}")
    try:
        if p.suffix in (".h5", ".hdf5"):
            with h5py.File(p, "r") as h5:
                h5.visititems(lambda name, obj: getattr(obj, "shape", None) and None)
            from .shards import missing_sources

            # a gathered file (shards > 1) would read a missing shard as zeros
            gone = missing_sources(p)
            if gone:
                raise DamagedArtifactError(
                    f"{p}: its shard file(s) {', '.join(gone)} are missing{fix}"
                )
        elif p.suffix == ".parquet":
            import pyarrow.parquet as pq

            pq.ParquetFile(p).metadata  # noqa: B018 - reading the footer is the check
        elif p.suffix == ".json":
            json.loads(p.read_text())
        elif p.suffix == ".csv":
            size = p.stat().st_size
            with open(p, "rb") as fh:
                fh.seek(max(0, size - 1))
                if size == 0 or fh.read(1) != b"\n":
                    raise ValueError("it does not end with a newline")
        elif p.suffix == ".pt":
            with zipfile.ZipFile(p) as z:
                z.namelist()
    except DamagedArtifactError:
        raise
    except Exception as e:  # h5py OSError, ArrowInvalid, BadZipFile, ...
        raise DamagedArtifactError(f"{p}: truncated or unreadable ({type(e).__name__}: "
                                   f"{' '.join(str(e).split())[:200]}){fix}") from e  # fmt: skip
    return p


def write_text(dest: str | os.PathLike, text: str) -> None:
    with atomic_path(dest) as tmp:
        tmp.write_text(text)


def write_json(dest: str | os.PathLike, obj: Any) -> None:
    write_text(dest, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def _json_default(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def write_table(dest: str | os.PathLike, df: pd.DataFrame) -> None:
    """Write a table as CSV or Parquet, chosen by the suffix of ``dest``."""
    dest = Path(dest)
    with atomic_path(dest) as tmp:
        if dest.suffix == ".parquet":
            df.to_parquet(tmp, index=False)
        else:
            df.to_csv(tmp, index=False)


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    path = Path(path)
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


def config_hash(section: Any) -> str:
    """Short, stable hash of a config section (sorted-key JSON)."""
    blob = json.dumps(section, sort_keys=True, default=_json_default).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def stamp_attrs(h5: h5py.File | h5py.Group, config: Any, **extra: Any) -> None:
    """Record what made an HDF5 artifact as attributes: the config slice (without runtime
    keys, which do not change the content), its hash, the package version, and
    ``artifact_id``, unique to this writing of the file (see :func:`artifact_id`)."""
    from .config import strip_runtime

    config = strip_runtime(config) if isinstance(config, dict) else config
    h5.attrs["config"] = json.dumps(config, sort_keys=True, default=_json_default)
    h5.attrs["config_hash"] = config_hash(config)
    h5.attrs["xtalsym_version"] = __version__
    h5.attrs["artifact_id"] = uuid.uuid4().hex
    for k, v in extra.items():
        h5.attrs[k] = json.dumps(v, default=_json_default) if isinstance(v, dict | list) else v


def input_key(config: Any, *inputs: str | os.PathLike, **extra: Any) -> str:
    """Hash of a config slice, input files (size and mtime) and extras: the identity of an
    output, so a partial one is resumed only when nothing it depends on changed.

    Runtime keys (schema ``x-runtime``) are left out, so a run resumed with other workers
    continues; chunk sizes stay in, as they cut the output into the tasks a partial file
    records."""
    from .config import runtime_keys, split_runtime

    keys = [k for k in runtime_keys() if k[-1] != "chunk_size"]
    stats = [[st.st_size, st.st_mtime_ns] for st in map(os.stat, inputs)]
    return config_hash({"cfg": split_runtime(config, keys)[0], "inputs": stats, **extra})


def artifact_id(path: str | os.PathLike) -> str:
    """The identity of an input file, for keys that must change whenever it is rewritten.

    An HDF5 artifact's ``artifact_id`` attribute (a new one each time a stage writes it, even
    with an unchanged config: a code change can change the content); otherwise, e.g. for a
    CSV table, the SHA-256 of its bytes."""
    path = Path(path)
    if h5py.is_hdf5(path):
        with h5py.File(path, "r") as f:
            stamped = f.attrs.get("artifact_id")
        if stamped is not None:
            return str(stamped)
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class ResumableH5(contextlib.AbstractContextManager):
    """An HDF5 artifact built task by task, resumable after an interruption.

    ``with ResumableH5(dest, key, n_tasks, init) as out``: writes go to ``out.h5``, the hidden
    file ``.<name>.partial`` beside ``dest``; ``init(h5)`` creates the datasets of a new file.
    ``out.done[k]`` says whether task k finished in an earlier run; ``out.mark(k)`` records a
    finished task (flushed, so it survives a kill). On leaving the block without an error the
    file is renamed onto ``dest`` (atomic); after an error it stays and the next run with the
    same ``key`` (see :func:`input_key`) and task count resumes from it.
    """

    def __init__(self, dest: str | os.PathLike, key: str, n_tasks: int, init: Any):
        self.dest = Path(dest)
        self.path = self.dest.with_name(f".{self.dest.name}.partial")
        self.key, self.n_tasks, self.init = key, n_tasks, init

    def __enter__(self) -> ResumableH5:
        self.dest.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            try:
                self.h5 = h5py.File(self.path, "a")
                flags = self.h5.get("_tasks_done")
                self.done = np.zeros(0, bool) if flags is None else flags[...].astype(bool)
                if self.h5.attrs.get("_resume_key") == self.key and len(self.done) == self.n_tasks:
                    logger.info("resuming %s: %d of %d tasks done", self.path, self.done.sum(),
                                self.n_tasks)  # fmt: skip
                    return self
                self.h5.close()
            except OSError as e:  # an interrupted write can leave it unreadable: start again
                logger.warning("discarding unreadable partial output %s (%s)", self.path, e)
            self.path.unlink()
        self.h5 = h5py.File(self.path, "w")
        self.done = np.zeros(self.n_tasks, dtype=bool)
        self.h5.attrs["_resume_key"] = self.key
        # A dataset, not an attribute: attributes stop at 64 kB, and one flag is cheap to set.
        self.h5.create_dataset("_tasks_done", data=self.done.astype(np.uint8))
        self.init(self.h5)
        return self

    def mark(self, k: int) -> None:
        """Task ``k`` is written: record it on disk."""
        self.done[k] = True
        self.h5["_tasks_done"][k] = 1
        self.h5.flush()

    def __exit__(self, *exc: Any) -> None:
        if exc[0] is not None:
            # Keep the partial file for the next run; closing a file on a full disk can fail
            # too, and must not hide the error that stopped the run.
            with contextlib.suppress(Exception):
                self.h5.close()
            if isinstance(exc[1], OSError):
                logger.error("writing %s failed (%s); the finished tasks stay in %s and a "
                             "rerun resumes from them", self.dest, exc[1], self.path)  # fmt: skip
            return
        try:
            del self.h5.attrs["_resume_key"], self.h5["_tasks_done"]
            self.h5.close()
        except OSError as e:
            with contextlib.suppress(Exception):
                self.h5.close()
            raise _write_error(self.dest, e) from e
        os.replace(self.path, self.dest)


GZIP_LEVEL = 1


def image_dataset(
    h5: h5py.File, name: str, shape: tuple[int, ...], chunk_rows: int = 16
) -> h5py.Dataset:
    """Create a uint8 image dataset (N, ...), chunked along N and gzip-compressed.

    gzip level 1 (benchmarks/bench_compression.py, measured on real artifacts): noisy patterns
    and shaped images shrink ~2.1x (read noise fills every pixel), 4-5 % larger than level 4
    but 1.6-1.7x faster to write (measured 2026-12-01 on 128 crystals at 224 px: 6.0 vs 9.8 ms
    per shaped crystal; compressing took 3x the shaping itself at level 4), 1.4x smaller than
    lzf. At the paper's scale this is minutes of the patterns and shaping stages.
    Shuffle is a no-op on 1-byte data; it stays so the patterns stage's direct chunk writes
    match the dataset's filter pipeline.
    """
    n = shape[0]
    chunks = (max(1, min(chunk_rows, n)), *shape[1:]) if n else None
    return h5.create_dataset(
        name,
        shape=shape,
        maxshape=(None, *shape[1:]),
        dtype=np.uint8,
        chunks=chunks if n else (1, *shape[1:]),
        compression="gzip",
        compression_opts=GZIP_LEVEL,
        shuffle=True,
    )


def write_ids(h5: h5py.File, ids: list[str] | np.ndarray, name: str = "ids") -> None:
    h5.create_dataset(name, data=np.asarray(ids, dtype=object), dtype=h5py.string_dtype())


def read_ids(h5: h5py.File, name: str = "ids") -> np.ndarray:
    return h5[name].asstr()[...]


def derive_seed(seed: int, *keys: Any) -> int:
    """A 32-bit seed derived from the global ``seed`` and a stage or item key.

    Stages and items get independent, reproducible streams: same config -> same artifacts.
    """
    blob = json.dumps([int(seed), *map(str, keys)]).encode()
    return int.from_bytes(hashlib.blake2b(blob, digest_size=4).digest(), "little")
