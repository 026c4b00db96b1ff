"""Deduplication across sources on (reduced formula, space group, primitive-cell size).

Two entries with the same key are taken as the same crystal (repeated determinations of one
compound are common in ICSD and COD). The key is cheap and streams over 100k structures
with a set of small tuples; it is deliberately coarse: two distinct polymorphs with the same
formula, space group and cell size are merged too (conservative for train/test leakage).
The first structure seen is kept; the stage feeds sources in the order cif_dir,
materials_project, synthetic, so measured structures win over generated ones.
"""

from __future__ import annotations

from typing import Any

from .standard import centring_factor


def dedup_key(row: dict[str, Any]) -> tuple[str, int, int]:
    """(reduced formula, space group, sites in the primitive cell) of an artifact row."""
    n_prim = int(row["n_sites"]) // centring_factor(str(row["symbol"]))
    return str(row["formula"]), int(row["spacegroup"]), n_prim


class Deduplicator:
    """Remembers the keys of kept rows; ``add`` says whether a row is new."""

    def __init__(self, enabled: bool = True):
        self.enabled = bool(enabled)
        self.seen: set[tuple[str, int, int]] = set()

    def add(self, row: dict[str, Any]) -> bool:
        """True (and remember it) when ``row`` is new or deduplication is off."""
        if not self.enabled:
            return True
        key = dedup_key(row)
        if key in self.seen:
            return False
        self.seen.add(key)
        return True

    def __len__(self) -> int:
        return len(self.seen)
