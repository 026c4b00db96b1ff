"""Structure -> three patterns, the one wiring of prepare + simulate (pymatgen style:
settings in, :meth:`PatternCalculator.get_patterns` out)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .blas import single_threaded
from .crystal import crystal_from_structure
from .simulate import CrystalTables, Settings, prepare, simulate_crystal


class PatternCalculator:
    """Patterns of structures with one ``patterns`` config section (validated)."""

    def __init__(self, params: dict[str, Any] | Settings):
        self.settings = params if isinstance(params, Settings) else Settings.from_params(params)

    def tables(self, structure: Any) -> CrystalTables:
        """The reflection tables of a structure (a pymatgen Structure, its dict or JSON)."""
        with single_threaded():
            return prepare(crystal_from_structure(structure), self.settings)

    def get_patterns(self, structure: Any, seeds: Sequence[int | None] = (None,)) -> np.ndarray:
        """uint8 (len(seeds), 3, size, size): beams along x, y, z, one variant per seed (None:
        clean; otherwise the configured noise from ``np.random.default_rng(seed)``). One
        OpenBLAS thread meanwhile (:mod:`.blas`)."""
        with single_threaded():
            return simulate_crystal(self.tables(structure), self.settings, list(seeds))


def simulate_structure(
    structure: Any, params: dict[str, Any], seed: int | None = None
) -> np.ndarray:
    """Three uint8 patterns (3, size, size), beams along x, y, z, of one structure.

    ``structure``: a pymatgen Structure (or its dict / JSON) in the standard orientation (c along
    z, a in the xz plane); ``params``: the validated ``patterns`` config section. With seed None,
    or all noise levels 0, the clean pattern; otherwise the noise drawn from
    ``np.random.default_rng(seed)`` (one child stream per noise kind).
    """
    return PatternCalculator(params).get_patterns(structure, [seed])[0]
