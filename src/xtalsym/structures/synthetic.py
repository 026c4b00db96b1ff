"""The synthetic source: random crystals per space group (pyxtal), labelled by spglib.

Work is split into *items* (requested group, index); item (sg, i) draws from its own stream
``derive_seed(seed, "structures", "synthetic", sg, i)``, so the output does not depend on the
number of workers. An item makes up to ``max_attempts`` attempts: draw a plausible composition
(:mod:`.chemistry`), let pyxtal place it in the group, standardise and label with spglib. It
stops at the first structure that spglib puts in the requested group; structures that land in
another class of the set are kept as candidates for that class ("spill"), those outside the set
are dropped and counted.

Selection is done in the parent, in a fixed order: per class its own successes (by index),
then spill (by requested group, index), skipping duplicates, up to the class target. Classes
still short get new items in further rounds until their attempt budget (``max_attempts`` x
target) is spent; a class that stays short is reported infeasible with the reasons seen.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
from pymatgen.core import Lattice, Structure
from tqdm import tqdm

from ..io import derive_seed
from .chemistry import choose_cell, draw_composition, wyckoff_table
from .dedup import Deduplicator
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


@dataclass(frozen=True)
class Settings:
    """What a worker needs to run an item (picklable)."""

    seed: int
    classes: frozenset[int]
    symprec: float
    max_sites: int
    volume_factor: float
    timeout_s: float = ATTEMPT_TIMEOUT_S


@dataclass
class SyntheticResult:
    """Kept rows (sorted by id), outcomes of every attempt, and the per-class report."""

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


def item_id(sg: int, index: int, attempt: int) -> str:
    return f"syn-{sg:03d}-{index:05d}-{attempt}"


def run_item(sg: int, index: int, n_attempts: int, st: Settings) -> list[dict[str, Any]]:
    """Attempts for item (sg, index): one record per attempt, stopping at a match of ``sg``."""
    rng = np.random.default_rng(derive_seed(st.seed, "structures", SOURCE, sg, index))
    records: list[dict[str, Any]] = []
    for a in range(n_attempts):
        rec: dict[str, Any] = {"sg": sg, "index": index, "attempt": a, "row": None}
        # After an attempt that spglib put in another group, insist on the general position.
        last = records[-1] if records else {}
        drifted = last.get("row") is not None or last.get("reason") == "outside_class_set"
        general = drifted or rng.random() < GENERAL_P
        try:
            with time_limit(st.timeout_s):
                s = generate_structure(sg, rng, st, general)
                rec["row"] = structure_row(
                    s, item_id(sg, index, a), SOURCE, st.symprec,
                    max_sites=st.max_sites, classes=st.classes,
                )  # fmt: skip
        except Skip as e:
            rec["reason"], rec["detail"] = e.reason, e.detail
        except _Timeout:
            rec["reason"], rec["detail"] = "timeout", f"> {st.timeout_s:g} s"
        records.append(rec)
        if rec["row"] is not None and rec["row"]["spacegroup"] == sg:
            break
    return records


def _run_batch(batch: Sequence[tuple[int, int, int]], st: Settings) -> list[list[dict]]:
    return [run_item(sg, i, n, st) for sg, i, n in batch]


def _run_items(
    items: list[tuple[int, int, int]],
    st: Settings,
    pool: ProcessPoolExecutor | None,
    workers: int,
    bar: tqdm,
) -> dict[tuple[int, int], list[dict]]:
    """Run items inline (no pool) or in the pool; results keyed by (sg, index)."""
    out: dict[tuple[int, int], list[dict]] = {}
    if pool is None:
        for sg, i, n in items:
            out[(sg, i)] = run_item(sg, i, n, st)
            bar.update(1)
        return out
    # Small batches: few round trips, yet slow groups do not leave a worker idle at the end.
    size = max(1, min(8, len(items) // (workers * 6)))
    batches = [items[k : k + size] for k in range(0, len(items), size)]
    futures = {pool.submit(_run_batch, b, st): b for b in batches}
    for fut in as_completed(futures):
        for (sg, i, _), recs in zip(futures[fut], fut.result(), strict=True):
            out[(sg, i)] = recs
        bar.update(len(futures[fut]))
    return out


class _Selection:
    """Per-class bookkeeping across rounds: kept rows, attempts spent, reasons, outcomes."""

    def __init__(
        self, targets: dict[int, int], max_attempts: int, max_sites: int, dedup: Deduplicator
    ):
        self.targets = targets
        self.max_sites = max_sites
        self.max_attempts = max_attempts
        self.dedup = dedup
        self.accepted: dict[int, list[dict]] = defaultdict(list)
        self.used: Counter = Counter()  # attempts spent per requested group
        self.next_index: Counter = Counter()
        self.reasons: dict[int, Counter] = defaultdict(Counter)
        self.drift: dict[int, Counter] = defaultdict(Counter)  # requested -> groups spglib found
        self.outcomes: list[Outcome] = []

    def plan(self) -> list[tuple[int, int, int]]:
        """New items (sg, index, attempts) for every class short of its target and budget."""
        items = []
        for sg in sorted(self.targets):
            deficit = self.targets[sg] - len(self.accepted[sg])
            budget = self.max_attempts * self.targets[sg] - self.used[sg]
            for _ in range(max(deficit, 0)):
                if budget <= 0:
                    break
                n = min(self.max_attempts, budget)
                items.append((sg, self.next_index[sg], n))
                self.next_index[sg] += 1
                budget -= n
        return items

    def take(self, results: dict[tuple[int, int], list[dict]]) -> None:
        """Keep, per class, its own successes then spill, skipping duplicates and surplus."""
        own: dict[int, list[dict]] = defaultdict(list)
        spill: dict[int, list[dict]] = defaultdict(list)
        for sg, i in sorted(results):
            for rec in results[(sg, i)]:
                self.used[sg] += 1
                if rec["row"] is None:
                    self.reasons[sg][rec["reason"]] += 1
                    if rec["reason"] == "outside_class_set":
                        self.drift[sg][rec["detail"].split()[-1]] += 1
                    name = item_name(sg, i, rec["attempt"])
                    self.outcomes.append(Outcome(SOURCE, name, "skipped", rec["reason"]))
                    continue
                lab = rec["row"]["spacegroup"]
                (own if lab == sg else spill)[lab].append(rec)
                if lab != sg:
                    self.drift[sg][str(lab)] += 1
        for sg in sorted(set(own) | set(spill)):
            for rec in own[sg] + spill[sg]:
                row = rec["row"]
                name = item_name(rec["sg"], rec["index"], rec["attempt"])
                if len(self.accepted[sg]) >= self.targets[sg]:
                    self.outcomes.append(Outcome(SOURCE, name, "skipped", "surplus"))
                elif not self.dedup.add(row):
                    self.reasons[rec["sg"]]["duplicate"] += 1
                    self.outcomes.append(Outcome(SOURCE, name, "skipped", "duplicate"))
                else:
                    self.accepted[sg].append(row)
                    self.outcomes.append(Outcome(SOURCE, name, "kept", "", row["id"]))

    def report(self) -> dict[int, dict[str, Any]]:
        """Per class: target, count, attempts and, when short, why (infeasible note)."""
        out = {}
        for sg in sorted(self.targets):
            count, target = len(self.accepted[sg]), self.targets[sg]
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
    dedup: Deduplicator | None = None,
    progress: bool = True,
) -> SyntheticResult:
    """Generate the synthetic source for ``structures`` config ``sconf`` and ``classes``.

    ``dedup`` (shared across sources) rejects structures already kept by another source.
    """
    syn = sconf["synthetic"]
    st = Settings(
        seed=int(seed),
        classes=frozenset(int(c) for c in classes),
        symprec=float(sconf["symprec"]),
        max_sites=int(sconf["max_sites"]),
        volume_factor=float(syn["volume_factor"]),
    )
    dedup = dedup if dedup is not None else Deduplicator(enabled=sconf["dedup"])
    targets = class_targets(list(classes), int(syn["per_class"]), syn["prior"])
    sel = _Selection(targets, int(syn["max_attempts"]), st.max_sites, dedup)
    workers = int(sconf["workers"])

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
            sel.take(_run_items(items, st, pool, workers, bar))

    report = sel.report()
    for sg, r in report.items():
        if r["note"]:
            logger.warning("synthetic space group %d: %s", sg, r["note"])
    rows = sorted((r for rs in sel.accepted.values() for r in rs), key=lambda r: r["id"])
    logger.info(
        "synthetic: %d of %d wanted structures in %d attempts",
        len(rows), sum(targets.values()), sum(sel.used.values()),
    )  # fmt: skip
    return SyntheticResult(
        rows=rows, outcomes=sorted(sel.outcomes, key=lambda o: o.name), report=report
    )
