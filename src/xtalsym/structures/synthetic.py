"""The synthetic source: random crystals per space group, labelled by spglib.

Two generators (``structures.synthetic.generator``): ``fast`` (default, :mod:`.fast`: Wyckoff
sets from real-crystal statistics, own vectorised placement, rows from arrays) and
``pyxtal`` (pyxtal places a drawn composition; slower, larger and looser crystals).

Work is split into *items* (requested group, index); item (sg, i) draws from its own stream
``derive_seed(seed, "structures", "synthetic", sg, i)``, so the output does not depend on the
number of workers. An item makes up to ``max_attempts`` attempts: draw a plausible composition
and place it in the group, standardise and label with spglib. It
stops at the first structure that spglib puts in the requested group; structures that land in
another class of the set are kept as candidates for that class ("spill"), those outside the set
are dropped and counted.

Modules: this one schedules items (in-process or a pool, a resumable cache of finished
chunks); :mod:`.fast` and :mod:`.pyxtalgen` are the generators; :mod:`.selection` keeps rows
per class. Selection is done in the parent as results stream in, in a fixed order: per class its own
successes (by index), then spill (by requested group, index), skipping duplicates, up to the
class target; kept rows leave in batches, so memory does not grow with the set. Classes
still short get new items in further rounds until their attempt budget (``max_attempts`` x
target) is spent; a class that stays short is reported infeasible with the reasons seen.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pymatgen.core import Lattice, Structure
from tqdm import tqdm

from .. import __version__
from ..io import config_hash, derive_seed, write_json
from .dedup import Deduplicator
from .fast import generate_cell
from .fastrow import row_from_cell
from .outcomes import Outcome, Skip
from .parallel import TimeLimitExceeded, process_pool, time_limit
from .prior import class_targets
from .pyxtalgen import generate_structure
from .selection import SOURCE, Selection, item_name
from .standard import structure_row

logger = logging.getLogger(__name__)

ATTEMPT_TIMEOUT_S = 20.0  # s; only catches a hung pyxtal call (typical attempts take ~30 ms)
GENERAL_P = 0.3  # chance that an attempt puts one orbit on the general position
MAX_ROUNDS = 6
CACHE_ITEMS = 256  # items per resumable cache file
CACHE_DIR = ".synthetic_items"  # in the stage's output directory


@dataclass(frozen=True)
class Settings:
    """What a worker needs to run an item (picklable)."""

    seed: int
    classes: frozenset[int]
    symprec: float
    max_sites: int
    volume_factor: float
    setting: str = "ita"
    generator: str = "fast"
    pseudo_share: float = 0.0
    set_tempering: float = 1.0
    timeout_s: float = ATTEMPT_TIMEOUT_S


@dataclass
class SyntheticResult:
    """Kept rows (ascending ids), outcomes of every attempt, and the per-class report."""

    rows: list[dict[str, Any]]
    outcomes: list[Outcome]
    report: dict[int, dict[str, Any]] = field(default_factory=dict)


def run_item(sg: int, index: int, n_attempts: int, st: Settings) -> list[dict[str, Any]]:
    """Attempts for item (sg, index): one record per attempt, stopping at a match of ``sg``."""
    rng = np.random.default_rng(derive_seed(st.seed, "structures", SOURCE, sg, index))
    records: list[dict[str, Any]] = []
    for a in range(n_attempts):
        rec: dict[str, Any] = {"sg": sg, "index": index, "attempt": a, "row": None}
        # After an attempt that spglib put in another group, insist on the general position.
        last = records[-1] if records else {}
        drifted = last.get("row") is not None or last.get("reason") == "outside_class_set"
        general = drifted or (st.generator == "pyxtal" and rng.random() < GENERAL_P)
        try:
            with time_limit(st.timeout_s):
                rec["row"] = _attempt(sg, rng, st, general, item_name(sg, index, a))
        except Skip as e:
            rec["reason"], rec["detail"] = e.reason, e.detail
        except TimeLimitExceeded:
            rec["reason"], rec["detail"] = "timeout", f"> {st.timeout_s:g} s"
        records.append(rec)
        if rec["row"] is not None and rec["row"]["spacegroup"] == sg:
            break
    return records


def _attempt(
    sg: int, rng: np.random.Generator, st: Settings, general: bool, name: str
) -> dict[str, Any]:
    """One generated, standardised and labelled row (raises Skip)."""
    if st.generator == "fast":
        lat, frac, numbers = generate_cell(
            sg, rng, st.max_sites, st.pseudo_share, general, st.set_tempering
        )
        if st.setting == "ita":  # the fast row builder stores the ITA setting only
            return row_from_cell(
                lat, frac, numbers, name, SOURCE, st.symprec, max_sites=st.max_sites,
                classes=st.classes, built_in=sg,
            )  # fmt: skip
        s = Structure(Lattice(lat), [int(z) for z in numbers], frac)
    else:
        s = generate_structure(sg, rng, st, general)
    return structure_row(
        s, name, SOURCE, st.symprec, max_sites=st.max_sites, classes=st.classes,
        setting=st.setting,
    )  # fmt: skip


def _run_batch(batch: Sequence[tuple[int, int, int]], st: Settings) -> list[list[dict]]:
    return [run_item(sg, i, n, st) for sg, i, n in batch]


def _inline(fn: Callable[..., Any], *args: Any) -> Future:
    fut: Future = Future()
    fut.set_result(fn(*args))
    return fut


def _chunk_path(cache: Path, st: Settings, chunk: Sequence[tuple[int, int, int]]) -> Path:
    """Cache file of a chunk of items: what decides their records (settings, items, code)."""
    settings = {**asdict(st), "classes": sorted(st.classes)}
    key = config_hash([settings, list(chunk), __version__])
    return cache / f"items-{key}.json"


def _ordered_results(
    items: list[tuple[int, int, int]],
    st: Settings,
    pool: ProcessPoolExecutor | None,
    workers: int,
    bar: tqdm,
    cache: Path | None = None,
) -> Iterator[tuple[tuple[int, int, int], list[dict]]]:
    """(item, attempt records) in the order of ``items``, run inline or in the pool.

    At most ``4 x workers`` batches are in flight, so memory does not grow with the number
    of items; small batches keep a slow group from leaving a worker idle. With ``cache``,
    the records of every ``CACHE_ITEMS`` items are saved as they finish and read back instead
    of recomputed on the next run: an interrupted stage resumes from its last finished chunk.
    """
    chunks = [items[k : k + CACHE_ITEMS] for k in range(0, len(items), CACHE_ITEMS)]
    paths = [_chunk_path(cache, st, c) if cache else None for c in chunks]
    cached = [p is not None and p.exists() for p in paths]
    submit = pool.submit if pool is not None else _inline
    cap = 64 if st.generator == "fast" else 8  # fast items take ~1 ms: fewer, larger tasks
    size = 1 if pool is None else max(1, min(cap, len(items) // (workers * 6)))
    todo = (
        (k, c[j : j + size])
        for k, c in enumerate(chunks)
        if not cached[k]
        for j in range(0, len(c), size)
    )
    window: deque = deque()
    for k, chunk in enumerate(chunks):
        if cached[k]:
            records = json.loads(paths[k].read_text())
            bar.update(len(chunk))
            yield from zip(chunk, records, strict=True)
            continue
        done: list[list[dict]] = []
        while len(done) < len(chunk):
            while len(window) < 4 * workers and (nxt := next(todo, None)) is not None:
                window.append((*nxt, submit(_run_batch, nxt[1], st)))
            _, batch, fut = window.popleft()
            records = fut.result()
            bar.update(len(batch))
            done.extend(records)
            yield from zip(batch, records, strict=True)
        if paths[k] is not None:
            write_json(paths[k], done)


def _settings(sconf: dict[str, Any], classes: Sequence[int], seed: int) -> Settings:
    syn = sconf["synthetic"]
    return Settings(
        seed=int(seed),
        classes=frozenset(int(c) for c in classes),
        symprec=float(sconf["symprec"]),
        max_sites=int(sconf["max_sites"]),
        volume_factor=float(syn["volume_factor"]),
        setting=str(sconf["setting"]),
        generator=str(syn["generator"]),
        pseudo_share=float(syn["pseudo_share"]),
        set_tempering=float(syn["set_tempering"]),
    )


def _targets(sconf: dict[str, Any], classes: Sequence[int]) -> dict[int, int]:
    syn = sconf["synthetic"]
    return class_targets(list(classes), int(syn["per_class"]), syn["prior"])


def run_shard(
    sconf: dict[str, Any],
    classes: Sequence[int],
    seed: int,
    cache: str | Path,
    shard: tuple[int, int],
    progress: bool = True,
) -> list[str]:
    """Shard ``k`` of ``N``: the first round's cache chunks ``j`` with ``j % N == k``.

    The first round's items depend on the targets only, so shard jobs can run them ahead
    of :func:`generate`, which then reads them from ``cache`` as it reads a resumed run's
    (the N shards cover the whole first round; the later rounds, for classes still short, a
    few per cent of the attempts, it runs itself).
    Returns the cache file names written or found.
    """
    k, n = shard
    st, targets = _settings(sconf, classes, seed), _targets(sconf, classes)
    sel = Selection(targets, int(sconf["synthetic"]["max_attempts"]), st.max_sites,
                    Deduplicator(enabled=False), lambda rows, outcomes: None)  # fmt: skip
    items = sel.plan()
    mine = [items[j : j + CACHE_ITEMS] for j in range(k * CACHE_ITEMS, len(items), n * CACHE_ITEMS)]
    cache = Path(cache)
    cache.mkdir(parents=True, exist_ok=True)
    # Every chunk but the last of the round is CACHE_ITEMS long, so the concatenation of
    # this shard's chunks is cut again into the same chunks (the same cache files).
    flat = [item for chunk in mine for item in chunk]
    workers = int(sconf["workers"])
    bar = tqdm(total=len(flat), desc=f"synthetic {k}/{n}", unit="item", disable=not progress)
    with process_pool(workers) as pool, bar:
        for _ in _ordered_results(flat, st, pool, workers, bar, cache):
            pass
    return [_chunk_path(cache, st, chunk).name for chunk in mine]


def generate(
    sconf: dict[str, Any],
    classes: Sequence[int],
    seed: int,
    emit: Callable[[list[dict], list[Outcome]], None],
    dedup: Deduplicator | None = None,
    progress: bool = True,
    cache: str | Path | None = None,
) -> dict[int, dict[str, Any]]:
    """Generate the synthetic source for ``structures`` config ``sconf`` and ``classes``.

    Kept rows (ascending ids) and the outcome of every attempt are passed to
    ``emit(rows, outcomes)`` in batches of about 256 as they are selected, so memory stays
    bounded whatever ``per_class``; returns the per-class report. ``dedup`` (shared across
    sources) rejects structures already kept by another source. ``cache``: a directory for
    the records of finished items, so an interrupted run resumes (removed on success).
    """
    st, targets = _settings(sconf, classes, seed), _targets(sconf, classes)
    dedup = dedup if dedup is not None else Deduplicator(enabled=sconf["dedup"])
    sel = Selection(targets, int(sconf["synthetic"]["max_attempts"]), st.max_sites, dedup, emit)
    workers = int(sconf["workers"])
    if cache is not None:
        cache = Path(cache)
        cache.mkdir(parents=True, exist_ok=True)

    items = sel.plan()
    bar = tqdm(total=len(items), desc="synthetic", unit="item", disable=not progress)
    with process_pool(workers) as pool, bar:
        for rnd in range(MAX_ROUNDS):
            if rnd:
                items = sel.plan()
                if not items:
                    break
                bar.total += len(items)
                bar.refresh()
            sel.take(_ordered_results(items, st, pool, workers, bar, cache))

    if cache is not None:
        shutil.rmtree(cache, ignore_errors=True)
    report = sel.report()
    for sg, r in report.items():
        if r["note"]:
            logger.warning("synthetic space group %d: %s", sg, r["note"])
    logger.info(
        "synthetic: %d of %d wanted structures in %d attempts",
        sel.n_kept, sum(targets.values()), sum(sel.used.values()),
    )  # fmt: skip
    return report


def collect(sconf: dict[str, Any], classes: Sequence[int], seed: int, **kw: Any) -> SyntheticResult:
    """:func:`generate` with every row and outcome kept in memory (tests, small sets)."""
    rows: list[dict] = []
    outcomes: list[Outcome] = []

    def emit(r: list[dict], o: list[Outcome]) -> None:
        rows.extend(r)
        outcomes.extend(o)

    report = generate(sconf, classes, seed, emit, **kw)
    return SyntheticResult(rows=rows, outcomes=outcomes, report=report)


__all__ = ["CACHE_DIR", "Settings", "SyntheticResult", "collect", "generate", "run_item",
           "run_shard", "time_limit"]  # fmt: skip
