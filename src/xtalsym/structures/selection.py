"""Streaming per-class selection of the synthetic source's attempts (see :mod:`.synthetic`)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from typing import Any

from .dedup import Deduplicator
from .fast import wyckoff_statistics
from .outcomes import Outcome
from .pyxtalgen import wyckoff_positions

SOURCE = "synthetic"


def item_name(sg: int, index: int, attempt: int) -> str:
    return f"sg{sg:03d}-{index:05d}-{attempt}"


class Selection:
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
                real = [n for n, _, _ in wyckoff_statistics().get(sg, [])]
                if real and min(real) > self.max_sites:
                    parts.append(
                        f"the smallest of its {len(real)} Materials Project Wyckoff sets has "
                        f"{min(real)} sites > max_sites ({self.max_sites})"
                    )
                general = wyckoff_positions(sg)[0][0]
                if general > self.max_sites:
                    parts.append(
                        f"the general position ({general} sites) exceeds max_sites "
                        f"({self.max_sites}); special positions alone often have more symmetry"
                    )
                head = f"infeasible: {count}/{target} after {self.used[sg]} attempts"
                note = "; ".join([head, *parts])
            out[sg] = {"target": target, "count": count, "attempts": self.used[sg], "note": note}
        return out
