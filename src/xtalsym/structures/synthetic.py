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

Selection is done in the parent as results stream in, in a fixed order: per class its own
successes (by index), then spill (by requested group, index), skipping duplicates, up to the
class target; kept rows leave in batches, so memory does not grow with the set. Classes
still short get new items in further rounds until their attempt budget (``max_attempts`` x
target) is spent; a class that stays short is reported infeasible with the reasons seen.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import signal
import threading
import warnings
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from pymatgen.core import Lattice, Structure
from tqdm import tqdm

from .. import __version__
from ..io import config_hash, derive_seed, write_json
from .chemistry import choose_cell, draw_composition, wyckoff_table
from .dedup import Deduplicator
from .fast import generate_cell
from .fastrow import row_from_cell
from .outcomes import Outcome, Skip
from .parallel import process_pool
from .prior import class_targets
from .standard import structure_row

logger = logging.getLogger(__name__)

SOURCE = "synthetic"
ATTEMPT_TIMEOUT_S = 20.0  # s; only catches a hung pyxtal call (typical attempts take ~30 ms)
LATTICE_ATTEMPTS = 4  # pyxtal lattices tried per attempt (pyxtal: 40)
COORD_ATTEMPTS = 2  # placements per lattice (pyxtal: 10); fail fast, redraw
GENERAL_P = 0.3  # chance that an attempt puts one orbit on the general position
COMPOSITION_DRAWS = 40  # compositions tried per attempt before the group counts as incompatible
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
    timeout_s: float = ATTEMPT_TIMEOUT_S


@dataclass
class SyntheticResult:
    """Kept rows (ascending ids), outcomes of every attempt, and the per-class report."""

    rows: list[dict[str, Any]]
    outcomes: list[Outcome]
    report: dict[int, dict[str, Any]] = field(default_factory=dict)


class _Timeout(Exception):
    pass


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise _Timeout after ``seconds`` (SIGALRM; a no-op off the main thread or on Windows)."""
    if (
        not hasattr(signal, "setitimer")
        or threading.current_thread() is not threading.main_thread()
    ):
        yield
        return

    def _raise(signum, frame):
        raise _Timeout

    old = signal.signal(signal.SIGALRM, _raise)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@lru_cache(maxsize=256)
def _wyckoff_table(sg: int) -> list[tuple[int, str, int]]:
    from pyxtal.symmetry import Group

    return wyckoff_table(Group(sg))


@lru_cache(maxsize=1)
def _bounded_crystal_class():
    """pyxtal's random_crystal with its placement loops capped (deterministic work per call).

    ``random_crystal.set_crystal`` sets ``lattice_attempts`` = 40 and ``coord_attempts`` = 10
    and loops over both: up to 400 placements per call, seconds when a composition does not
    fit. Capping them through properties keeps pyxtal's own loop; an attempt that fails here
    moves on to a fresh composition, which succeeds sooner than retrying a hard one.
    """
    from pyxtal.crystal import random_crystal

    def capped(name: str, cap: int) -> property:
        return property(
            lambda self: min(self.__dict__.get(name, cap), cap),
            lambda self, v: self.__dict__.__setitem__(name, v),
        )

    class BoundedCrystal(random_crystal):
        lattice_attempts = capped("lattice_attempts", LATTICE_ATTEMPTS)
        coord_attempts = capped("coord_attempts", COORD_ATTEMPTS)

    return BoundedCrystal


def generate_structure(
    sg: int, rng: np.random.Generator, st: Settings, general: bool = False
) -> Structure:
    """One random Structure placed by pyxtal in space group ``sg``; raises Skip.

    ``general``: put one orbit on the general position when a drawn composition allows it
    (otherwise, after half the composition draws, any placement is accepted).
    """
    table = _wyckoff_table(sg)
    for k in range(COMPOSITION_DRAWS):
        species, counts = draw_composition(rng)
        cell = choose_cell(table, counts, st.max_sites, rng, general and k < COMPOSITION_DRAWS // 2)
        if cell is not None:
            num_ions, sites = cell
            break
    else:
        raise Skip("generation_failed", "no drawn composition fits the Wyckoff positions")
    factor = st.volume_factor * float(rng.uniform(0.95, 1.2))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            crystal = _bounded_crystal_class()(
                dim=3, group=sg, species=species, numIons=num_ions, factor=factor,
                sites=sites, random_state=rng,
            )  # fmt: skip
    except _Timeout:
        raise
    except Exception as e:  # pyxtal raises many kinds on impossible placements
        raise Skip("generation_failed", f"{type(e).__name__}: {e}") from e
    if not crystal.valid:
        raise Skip("generation_failed", f"pyxtal could not place {species} {num_ions}")
    elems = [site.specie for site in crystal.atom_sites for _ in range(site.multiplicity)]
    coords = np.concatenate([site.coords for site in crystal.atom_sites])
    return Structure(Lattice(crystal.lattice.matrix), elems, coords)


def item_name(sg: int, index: int, attempt: int) -> str:
    return f"sg{sg:03d}-{index:05d}-{attempt}"


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
        except _Timeout:
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
        lat, frac, numbers = generate_cell(sg, rng, st.max_sites, st.pseudo_share, general)
        if st.setting == "ita":  # the fast row builder stores the ITA setting only
            return row_from_cell(
                lat, frac, numbers, name, SOURCE, st.symprec, max_sites=st.max_sites,
                classes=st.classes,
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


class _Selection:
    """Streaming per-class selection across rounds; kept rows go to ``emit`` in batches.

    Items arrive in ascending (requested group, index) order. A class takes its own
    successes first (by index), then spill from other groups (by requested group, index),
    skipping duplicates, up to its target. Spill into a class whose own items of the round
    are still to come waits in ``pending`` (rare: a few per thousand structures), so only
    those rows and one output batch are held in memory. Kept rows get sequential ids
    ``syn-0000000``, ascending in output order.
    """

    def __init__(
        self,
        targets: dict[int, int],
        max_attempts: int,
        max_sites: int,
        dedup: Deduplicator,
        emit: Callable[[list[dict], list[Outcome]], None],
        batch_size: int = 256,
    ):
        self.targets = targets
        self.max_sites = max_sites
        self.max_attempts = max_attempts
        self.dedup = dedup
        self.emit = emit
        self.batch_size = batch_size
        self.count: Counter = Counter()  # kept structures per class
        self.used: Counter = Counter()  # attempts spent per requested group
        self.next_index: Counter = Counter()
        self.reasons: dict[int, Counter] = defaultdict(Counter)
        self.drift: dict[int, Counter] = defaultdict(Counter)  # requested -> groups spglib found
        self.pending: dict[int, list[tuple[int, dict, str]]] = defaultdict(list)
        self.rows: list[dict] = []
        self.outcomes: list[Outcome] = []
        self.n_kept = 0

    def plan(self) -> list[tuple[int, int, int]]:
        """New items (sg, index, attempts) for every class short of its target and budget."""
        items = []
        for sg in sorted(self.targets):
            deficit = self.targets[sg] - self.count[sg]
            budget = self.max_attempts * self.targets[sg] - self.used[sg]
            for _ in range(max(deficit, 0)):
                if budget <= 0:
                    break
                n = min(self.max_attempts, budget)
                items.append((sg, self.next_index[sg], n))
                self.next_index[sg] += 1
                budget -= n
        return items

    def take(self, results: Iterator[tuple[tuple[int, int, int], list[dict]]]) -> None:
        """Select from one round's results (ascending items), emitting as batches fill."""
        for (sg, i, _), recs in results:
            self._release(below=sg)
            for rec in recs:
                self.used[sg] += 1
                name = item_name(sg, i, rec["attempt"])
                if rec["row"] is None:
                    self.reasons[sg][rec["reason"]] += 1
                    if rec["reason"] == "outside_class_set":
                        self.drift[sg][rec["detail"].split()[-1]] += 1
                    self._out(Outcome(SOURCE, name, "skipped", rec["reason"]))
                    continue
                lab = rec["row"]["spacegroup"]
                if lab != sg:
                    self.drift[sg][str(lab)] += 1
                if lab > sg:  # that class's own items of this round come later
                    self.pending[lab].append((sg, rec["row"], name))
                else:
                    self._accept(lab, sg, rec["row"], name)
        self._release(below=None)
        self.flush()

    def _release(self, below: int | None) -> None:
        for lab in sorted(k for k in self.pending if below is None or k < below):
            for sg, row, name in self.pending.pop(lab):
                self._accept(lab, sg, row, name)

    def _accept(self, lab: int, requested: int, row: dict, name: str) -> None:
        if self.count[lab] >= self.targets[lab]:
            self._out(Outcome(SOURCE, name, "skipped", "surplus"))
        elif not self.dedup.add(row):
            self.reasons[requested]["duplicate"] += 1
            self._out(Outcome(SOURCE, name, "skipped", "duplicate"))
        else:
            row = {**row, "id": f"syn-{self.n_kept:07d}"}
            self.n_kept += 1
            self.count[lab] += 1
            self.rows.append(row)
            self._out(Outcome(SOURCE, name, "kept", "", row["id"]))

    def _out(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)
        if len(self.outcomes) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        if self.rows or self.outcomes:
            self.emit(self.rows, self.outcomes)
            self.rows, self.outcomes = [], []

    def report(self) -> dict[int, dict[str, Any]]:
        """Per class: target, count, attempts and, when short, why (infeasible note)."""
        out = {}
        for sg in sorted(self.targets):
            count, target = self.count[sg], self.targets[sg]
            note = ""
            if count < target:
                parts = [f"{r} x{n}" for r, n in self.reasons[sg].most_common()]
                if self.drift[sg]:
                    found = ", ".join(f"{g} x{n}" for g, n in self.drift[sg].most_common(4))
                    parts.append(f"spglib found {found}")
                general = _wyckoff_table(sg)[0][0]
                if general > self.max_sites:
                    parts.append(
                        f"the general position ({general} sites) exceeds max_sites "
                        f"({self.max_sites}); special positions alone often have more symmetry"
                    )
                head = f"infeasible: {count}/{target} after {self.used[sg]} attempts"
                note = "; ".join([head, *parts])
            out[sg] = {"target": target, "count": count, "attempts": self.used[sg], "note": note}
        return out


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
    syn = sconf["synthetic"]
    st = Settings(
        seed=int(seed),
        classes=frozenset(int(c) for c in classes),
        symprec=float(sconf["symprec"]),
        max_sites=int(sconf["max_sites"]),
        volume_factor=float(syn["volume_factor"]),
        setting=str(sconf["setting"]),
        generator=str(syn["generator"]),
        pseudo_share=float(syn["pseudo_share"]),
    )
    dedup = dedup if dedup is not None else Deduplicator(enabled=sconf["dedup"])
    targets = class_targets(list(classes), int(syn["per_class"]), syn["prior"])
    sel = _Selection(targets, int(syn["max_attempts"]), st.max_sites, dedup, emit)
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
