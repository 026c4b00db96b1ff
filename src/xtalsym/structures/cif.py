"""The cif_dir source: every ``*.cif`` / ``*.cif.gz`` under a directory, parsed in parallel.

Scale: the file list (sorted by id; with ``shards: N``, each shard's files, :func:`shard_of`)
is cut into chunks of ``chunk_size`` files; worker processes parse a chunk and write its rows
and per-file outcomes to ``<out>/.cif_chunks/<key>/chunk-00012.parquet`` (atomically).
``key`` hashes the file list (paths, sizes, modification times), the settings that change a
row, and the package version, so a rerun after an interruption skips every finished chunk and
a changed directory or setting starts afresh. Only one chunk (one batch per shard) is in
memory at a time in the parent, which streams the records in id order into the artifact (see
:mod:`.stage`).

Per file, each failure is the file's outcome, never the stage's: over ``max_file_mb`` (raw or
decompressed) -> ``file_too_large``; an I/O error or corrupt gzip -> ``unreadable``; empty ->
``empty_file``; more atom rows than the site limit allows (counted before parsing) ->
``too_many_sites``; non-physical raw numbers -> ``absurd_cell``, ``bad_coordinates``,
``bad_occupancy``; pymatgen's CifParser fails or finds no atoms -> ``unparsable`` (with what
and where, :mod:`.cifscan`); a non-element species -> ``unknown_element``; partial occupancy ->
skipped (``partial_occupancy: skip``) or ordered to the majority species of each site
(``order``); cell out of physical range -> ``absurd_cell``, atoms too close (.contacts) ->
``overlapping_atoms`` (exact duplicate rows are merged, and the outcome says so); then
standardise and label (``too_many_sites``, ``outside_class_set``, ``symmetry_failed``). A file
running past ``timeout_s`` -> ``timeout``; any other exception -> ``processing_error``; a worker
process that dies -> its chunk is redone one file per process and the culprit is ``crashed``.
The ``detail`` column says what exactly, and carries pymatgen's warnings for kept files.
Duplicates are found later, across chunks and sources. Reading one file is :mod:`.cifread`.
"""

from __future__ import annotations

import hashlib
import heapq
import json
import logging
import multiprocessing
import os
import shutil
import signal
from collections.abc import Iterator, Sequence
from concurrent.futures import as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from .. import __version__
from ..io import atomic_path
from .cifread import parse_cif, read_cif_text, shorten
from .fastrow import row_from_structure
from .outcomes import Skip
from .parallel import TimeLimitExceeded, process_pool, time_limit

logger = logging.getLogger(__name__)

SOURCE = "cif_dir"
CHUNK_DIR = ".cif_chunks"
SUFFIXES = (".cif", ".cif.gz")
CHUNK_FORMAT = 2  # of the chunk tables (part of the cache key): 2 added file_id

CHUNK_SCHEMA = pa.schema(
    [
        ("name", pa.string()),
        ("file_id", pa.string()),  # the file's id (the sort key), also when skipped
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
        ("detail", pa.string()),
    ]
)


@dataclass(frozen=True)
class CifSettings:
    """Everything that changes a parsed row (part of the chunk cache key)."""

    symprec: float
    max_sites: int
    partial_occupancy: str
    classes: tuple[int, ...]
    timeout_s: float | None = None  # per file, s (None: no limit)
    max_bytes: int | None = None  # per file, raw and decompressed (None: no limit)
    setting: str = "ita"  # structures.setting


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
    h.update(json.dumps([asdict(st), chunk, __version__, CHUNK_FORMAT]).encode())
    for sid, rel in files:
        stat = (root / rel).stat()
        h.update(f"{sid}\0{rel}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def process_file(root: Path, rel: str, sid: str, st: CifSettings) -> dict[str, Any]:
    """One chunk record: outcome columns, plus the artifact row when kept.

    Never raises for the file's sake: any failure of reading, parsing, ordering, labelling or
    standardising, or a run past ``st.timeout_s``, becomes the record's reason and detail.
    """
    rec: dict[str, Any] = {"name": rel, "file_id": sid, "status": "skipped", "reason": "",
                           "id": None, "detail": ""}  # fmt: skip
    try:
        with time_limit(st.timeout_s):
            s, notes = parse_cif(read_cif_text(root / rel, st.max_bytes), st)
            row = row_from_structure(
                s, sid, SOURCE, st.symprec, max_sites=st.max_sites,
                classes=frozenset(st.classes), setting=st.setting,
            )  # fmt: skip
    except Skip as e:
        rec["reason"], rec["detail"] = e.reason, shorten(e.detail, 500)
        return rec
    except TimeLimitExceeded as e:
        rec["reason"], rec["detail"] = "timeout", str(e)
        return rec
    except MemoryError:
        rec["reason"], rec["detail"] = "crashed", "out of memory"
        return rec
    except Exception as e:  # a bug or an input no check foresaw: this file's outcome only
        logger.warning("%s: unexpected %s: %s", rel, type(e).__name__, e)
        rec["reason"], rec["detail"] = "processing_error", shorten(f"{type(e).__name__}: {e}")
        return rec
    rec.update(row)
    rec["status"] = "kept"
    rec["detail"] = shorten("; ".join(notes), 500)
    return rec


def _isolated_child(conn: Any, root: Path, rel: str, sid: str, st: CifSettings) -> None:
    conn.send(process_file(root, rel, sid, st))
    conn.close()


def process_file_isolated(root: Path, rel: str, sid: str, st: CifSettings) -> dict[str, Any]:
    """:func:`process_file` in a process of its own: a crash or a hang in native code becomes
    the file's outcome (``crashed``, ``timeout``) instead of the stage's failure."""
    ctx = multiprocessing.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_isolated_child, args=(send, root, rel, sid, st), daemon=True)
    proc.start()
    send.close()
    wait = 2 * st.timeout_s + 10 if st.timeout_s else None  # SIGALRM normally fires first
    rec, hung = None, False
    try:
        hung = not recv.poll(wait)  # data, or EOF when the child dies
        if not hung:
            rec = recv.recv()
    except (EOFError, OSError):
        rec = None  # the child died before sending
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join()
        recv.close()
    if rec is not None:
        return rec
    code = proc.exitcode
    why = f"killed by {signal.Signals(-code).name}" if code and code < 0 else f"exit code {code}"
    logger.warning("%s: the worker process died (%s)", rel, "hung" if hung else why)
    return {"name": rel, "file_id": sid, "status": "skipped", "id": None,
            "reason": "timeout" if hung else "crashed",
            "detail": f"over {wait:g} s in native code" if hung else f"worker process {why}"}  # fmt: skip


def process_chunk(
    root: str, files: Sequence[tuple[str, str]], st: CifSettings, dest: str, isolated: bool = False
) -> tuple[int, int]:
    """Parse ``files`` and write the chunk table to ``dest``; returns (kept, files).

    ``isolated``: each file in a process of its own (after a worker died on this chunk).
    """
    root_p = Path(root)
    one = process_file_isolated if isolated else process_file
    recs = [one(root_p, rel, sid, st) for sid, rel in files]
    table = pa.Table.from_pylist(recs, schema=CHUNK_SCHEMA)
    with atomic_path(dest) as tmp:
        pq.write_table(table, tmp)
    return sum(r["status"] == "kept" for r in recs), len(recs)


def chunk_path(cache: Path, k: int) -> Path:
    return cache / f"chunk-{k:05d}.parquet"


def _parse_chunks(
    root: Path, chunks: list, todo: list[int], st: CifSettings, cache: Path, workers: int, bar
) -> list[int]:
    """Parse chunks ``todo`` into cache files; returns those still to do after a worker died.

    A worker that dies (the kernel's OOM killer, a crash in native code) breaks the pool. The
    chunks that were running or queued then (the lowest unfinished, at most 2 x workers) are
    redone one file per process, so only the culprit file is lost ("crashed"); the rest go
    to a fresh pool.
    """
    try:
        with process_pool(min(workers, len(todo))) as pool:
            if pool is None:
                for k in todo:
                    process_chunk(str(root), chunks[k], st, str(chunk_path(cache, k)))
                    bar.update(len(chunks[k]))
                return []
            futs = [
                pool.submit(process_chunk, str(root), chunks[k], st, str(chunk_path(cache, k)))
                for k in todo
            ]
            for fut in as_completed(futs):
                bar.update(fut.result()[1])
        return []
    except BrokenProcessPool:
        left = [k for k in todo if not chunk_path(cache, k).exists()]
        suspects, rest = left[: 2 * workers], left[2 * workers :]
        logger.warning("a cif_dir worker died; redoing chunk(s) %s one file per process",
                       suspects)  # fmt: skip
        for k in suspects:
            process_chunk(str(root), chunks[k], st, str(chunk_path(cache, k)), isolated=True)
            bar.update(len(chunks[k]))
        return rest


def shard_of(rel: str, shards: int) -> int:
    """The shard of the file at relative path ``rel``: a stable hash of the path, so a file
    keeps its shard when others are added or removed (only that shard's cache is redone)."""
    return int.from_bytes(hashlib.sha1(rel.encode()).digest()[:8], "big") % shards


def parse_directory(
    sconf: dict[str, Any],
    classes: Sequence[int],
    out_dir: str | Path,
    progress: bool = True,
    shard: tuple[int, int] = (0, 1),
    listing: Sequence[tuple[str, str]] | None = None,
) -> tuple[Path, int]:
    """Parse the CIFs of ``shard`` (k, N) into chunk files, skipping finished ones;
    returns (cache dir, chunk count). Shard (0, 1) is every file. ``listing``: the
    directory's :func:`list_cif_files`, when the caller has it already."""
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
        timeout_s=float(c["timeout_s"]) if c["timeout_s"] else None,
        max_bytes=int(c["max_file_mb"] * 1e6) if c["max_file_mb"] else None,
    )
    size = int(c["chunk_size"])
    k, n = shard
    listing = list_cif_files(root) if listing is None else listing
    files = [f for f in listing if n == 1 or shard_of(f[1], n) == k]
    chunks = [files[j : j + size] for j in range(0, len(files), size)]
    cache = Path(out_dir) / CHUNK_DIR / cache_key(root, files, st, size)
    cache.mkdir(parents=True, exist_ok=True)
    todo = [j for j in range(len(chunks)) if not chunk_path(cache, j).exists()]
    logger.info(
        "cif_dir %s%s: %d files in %d chunks, %d already parsed (cache %s)",
        root, f" shard {k}/{n}" if n > 1 else "", len(files), len(chunks),
        len(chunks) - len(todo), cache,
    )  # fmt: skip
    n_todo = sum(len(chunks[j]) for j in todo)
    workers = int(sconf["workers"])
    with tqdm(total=n_todo, desc="cif_dir", unit="file", disable=not progress) as bar:
        while todo:
            todo = _parse_chunks(root, chunks, todo, st, cache, workers, bar)
    return cache, len(chunks)


def parse_shards(
    sconf: dict[str, Any],
    classes: Sequence[int],
    out_dir: str | Path,
    shards: int = 1,
    progress: bool = True,
) -> list[tuple[Path, int]]:
    """:func:`parse_directory` for every shard (what shard jobs parsed is read back), then
    the caches of other file lists or settings are removed; [(cache dir, chunk count)]."""
    path = sconf["cif_dir"].get("path")
    listing = list_cif_files(Path(path).expanduser().resolve()) if path else None
    caches = [parse_directory(sconf, classes, out_dir, progress, (k, shards), listing)
              for k in range(shards)]  # fmt: skip
    keep = {cache for cache, _ in caches}
    for other in (Path(out_dir) / CHUNK_DIR).iterdir():
        if other.is_dir() and other not in keep:
            shutil.rmtree(other, ignore_errors=True)
    return caches


def iter_tables(caches: Sequence[tuple[Path, int]], batch: int = 500) -> Iterator[pa.Table]:
    """The records of every shard's chunks, in id order (the unsharded order), in tables of
    at most ``batch`` rows (one chunk each when there is one shard); one batch per shard in
    memory."""
    if len(caches) == 1:
        yield from iter_chunks(*caches[0])
        return

    def records(cache: Path, n_chunks: int) -> Iterator[dict[str, Any]]:
        for k in range(n_chunks):
            for b in pq.ParquetFile(chunk_path(cache, k)).iter_batches(batch_size=batch):
                yield from b.to_pylist()

    out: list[dict[str, Any]] = []
    for rec in heapq.merge(*(records(*c) for c in caches), key=lambda r: r["file_id"]):
        out.append(rec)
        if len(out) == batch:
            yield pa.Table.from_pylist(out, schema=CHUNK_SCHEMA)
            out = []
    if out:
        yield pa.Table.from_pylist(out, schema=CHUNK_SCHEMA)


def iter_chunks(cache: Path, n_chunks: int) -> Iterator[pa.Table]:
    """The chunk tables in id order, one at a time."""
    for k in range(n_chunks):
        yield pq.read_table(chunk_path(cache, k))
