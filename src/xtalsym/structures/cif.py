"""The cif_dir source: every ``*.cif`` / ``*.cif.gz`` under a directory, parsed in parallel.

Scale: the file list (sorted by id) is cut into chunks of ``chunk_size`` files; worker
processes parse a chunk and write its rows and per-file outcomes to
``<out>/.cif_chunks/<key>/chunk-00012.parquet`` (atomically). ``key`` hashes the file list
(paths, sizes, modification times), the settings that change a row, and the package version,
so a rerun after an interruption skips every finished chunk and a changed directory or
setting starts afresh. Only one chunk is in memory at a time in the parent, which streams the
chunks into the artifact (see :mod:`.stage`).

Per file: empty -> ``empty_file``; pymatgen's CifParser fails or finds no atoms ->
``unparsable``; a non-element species -> ``unknown_element``; partial occupancy -> skipped
(``partial_occupancy: skip``) or ordered to the majority species of each site (``order``);
cell out of physical range -> ``absurd_cell``; then standardise and label
(``too_many_sites``, ``outside_class_set``, ``symmetry_failed``). Duplicates are found later,
across chunks and sources.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import shutil
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import as_completed
from dataclasses import asdict, dataclass
from io import StringIO
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from .. import __version__
from ..io import atomic_path
from .outcomes import Skip
from .parallel import process_pool
from .standard import check_cell, check_species, order_majority, structure_row

logger = logging.getLogger(__name__)

SOURCE = "cif_dir"
CHUNK_DIR = ".cif_chunks"
SUFFIXES = (".cif", ".cif.gz")
EARLY_SITE_FACTOR = 4  # a file with > 4 x max_sites atoms is too big in any setting

CHUNK_SCHEMA = pa.schema(
    [
        ("name", pa.string()),
        ("status", pa.string()),
        ("reason", pa.string()),
        ("id", pa.string()),
        ("source", pa.string()),
        ("formula", pa.string()),
        ("spacegroup", pa.int64()),
        ("symbol", pa.string()),
        ("crystal_system", pa.string()),
        ("n_sites", pa.int64()),
        ("a", pa.float64()),
        ("b", pa.float64()),
        ("c", pa.float64()),
        ("alpha", pa.float64()),
        ("beta", pa.float64()),
        ("gamma", pa.float64()),
        ("prototype", pa.string()),
        ("structure", pa.string()),
    ]
)


@dataclass(frozen=True)
class CifSettings:
    """Everything that changes a parsed row (part of the chunk cache key)."""

    symprec: float
    setting: str
    max_sites: int
    partial_occupancy: str
    classes: tuple[int, ...]


def _strip_suffix(rel: str) -> str:
    for suf in (".cif.gz", ".cif"):
        if rel.lower().endswith(suf):
            return rel[: -len(suf)]
    return rel


def list_cif_files(root: str | Path) -> list[tuple[str, str]]:
    """(id, relative path) of every CIF under ``root``, sorted by id.

    The id is ``cif-<relative path without .cif/.cif.gz>``; when two files share it
    (``a.cif`` and ``a.cif.gz``) the full relative path is used for both.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"structures.cif_dir.path: not a directory: {root}")
    rels = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for f in filenames:
            if f.lower().endswith(SUFFIXES) and not f.startswith("."):
                rels.append(Path(dirpath, f).relative_to(root).as_posix())
    stems: dict[str, int] = {}
    for rel in rels:
        stems[_strip_suffix(rel)] = stems.get(_strip_suffix(rel), 0) + 1
    out = [
        (f"cif-{_strip_suffix(rel) if stems[_strip_suffix(rel)] == 1 else rel}", rel)
        for rel in rels
    ]
    return sorted(out)


def cache_key(root: Path, files: Sequence[tuple[str, str]], st: CifSettings, chunk: int) -> str:
    """Hash of the file list (with sizes and mtimes), the settings and the package version."""
    h = hashlib.sha256()
    h.update(json.dumps([asdict(st), chunk, __version__]).encode())
    for sid, rel in files:
        stat = (root / rel).stat()
        h.update(f"{sid}\0{rel}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def read_cif_text(path: Path) -> str:
    """The text of a .cif or .cif.gz file (undecodable bytes replaced)."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as fh:
        return fh.read().decode("utf-8", errors="replace")


def parse_cif(text: str, st: CifSettings):
    """The first structure of a CIF text, ordered per the policy and sanity-checked."""
    from pymatgen.io.cif import CifParser

    if not text.strip():
        raise Skip("empty_file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pymatgen warns per odd tag: floods a 100k run
            parser = CifParser(StringIO(text), check_cif=False)
            structures = parser.parse_structures(primitive=False, on_error="ignore")
    except Exception as e:
        raise Skip("unparsable", f"{type(e).__name__}: {e}") from e
    if not structures or len(structures[0]) == 0:
        raise Skip("unparsable", "no structure with atoms")
    s = structures[0]
    check_species(s)
    if not s.is_ordered:
        if st.partial_occupancy == "skip":
            raise Skip("partial_occupancy")
        s = order_majority(s)
    if len(s) > EARLY_SITE_FACTOR * st.max_sites:
        raise Skip("too_many_sites", f"{len(s)} sites in the file")
    check_cell(s)
    return s


def process_file(root: Path, rel: str, sid: str, st: CifSettings) -> dict[str, Any]:
    """One chunk record: outcome columns, plus the artifact row when kept."""
    rec: dict[str, Any] = {"name": rel, "status": "skipped", "reason": "", "id": None}
    try:
        s = parse_cif(read_cif_text(root / rel), st)
        row = structure_row(
            s, sid, SOURCE, st.symprec, max_sites=st.max_sites, classes=frozenset(st.classes),
            setting=st.setting,
        )  # fmt: skip
    except Skip as e:
        rec["reason"] = e.reason
        return rec
    except OSError as e:
        logger.debug("%s: %s", rel, e)
        rec["reason"] = "unparsable"
        return rec
    rec.update(row)
    rec["status"] = "kept"
    return rec


def process_chunk(
    root: str, files: Sequence[tuple[str, str]], st: CifSettings, dest: str
) -> tuple[int, int]:
    """Parse ``files`` and write the chunk table to ``dest``; returns (kept, files)."""
    root_p = Path(root)
    recs = [process_file(root_p, rel, sid, st) for sid, rel in files]
    table = pa.Table.from_pylist(recs, schema=CHUNK_SCHEMA)
    with atomic_path(dest) as tmp:
        pq.write_table(table, tmp)
    return sum(r["status"] == "kept" for r in recs), len(recs)


def chunk_path(cache: Path, k: int) -> Path:
    return cache / f"chunk-{k:05d}.parquet"


def parse_directory(
    sconf: dict[str, Any],
    classes: Sequence[int],
    out_dir: str | Path,
    progress: bool = True,
) -> tuple[Path, int]:
    """Parse every CIF into chunk files (skipping finished ones); (cache dir, chunk count)."""
    c = sconf["cif_dir"]
    if not c.get("path"):
        raise ValueError("structures.sources has cif_dir but structures.cif_dir.path is not set")
    root = Path(c["path"]).expanduser().resolve()
    st = CifSettings(
        symprec=float(sconf["symprec"]),
        setting=str(sconf["setting"]),
        max_sites=int(sconf["max_sites"]),
        partial_occupancy=str(c["partial_occupancy"]),
        classes=tuple(sorted(int(x) for x in classes)),
    )
    size = int(c["chunk_size"])
    files = list_cif_files(root)
    chunks = [files[k : k + size] for k in range(0, len(files), size)]
    base = Path(out_dir) / CHUNK_DIR
    cache = base / cache_key(root, files, st, size)
    cache.mkdir(parents=True, exist_ok=True)
    todo = [k for k in range(len(chunks)) if not chunk_path(cache, k).exists()]
    logger.info(
        "cif_dir %s: %d files in %d chunks, %d already parsed (cache %s)",
        root, len(files), len(chunks), len(chunks) - len(todo), cache,
    )  # fmt: skip
    n_todo = sum(len(chunks[k]) for k in todo)
    workers = int(sconf["workers"])
    with tqdm(total=n_todo, desc="cif_dir", unit="file", disable=not progress) as bar:
        with process_pool(min(workers, len(todo))) as pool:
            if pool is None:
                for k in todo:
                    process_chunk(str(root), chunks[k], st, str(chunk_path(cache, k)))
                    bar.update(len(chunks[k]))
            else:
                futs = [
                    pool.submit(process_chunk, str(root), chunks[k], st, str(chunk_path(cache, k)))
                    for k in todo
                ]
                for fut in as_completed(futs):
                    bar.update(fut.result()[1])
    # Older caches (other files or settings) are of no further use.
    for other in base.iterdir():
        if other.is_dir() and other != cache:
            shutil.rmtree(other, ignore_errors=True)
    return cache, len(chunks)


def iter_chunks(cache: Path, n_chunks: int) -> Iterator[pa.Table]:
    """The chunk tables in id order, one at a time."""
    for k in range(n_chunks):
        yield pq.read_table(chunk_path(cache, k))
