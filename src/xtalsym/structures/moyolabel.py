"""moyopy's symmetry dataset in spglib's terms: the same space group and Hall setting.

moyopy (Rust, from the spglib organisation) with ``Setting.spglib()`` reports spglib's Hall
numbers. Its standardized cell is the same cell up to the choice among equivalent origins and
the order of the atoms, so the stored cells (and the Wyckoff letters of the prototype, where
the group's normalizer maps positions onto each other) stay spglib's: spglib is the reference
and the fallback; tests/test_moyo.py measures where the two agree.
"""

from __future__ import annotations

from typing import Any

import moyopy
import numpy as np

from .outcomes import Skip

_SETTING = moyopy.Setting.spglib()


def moyo_dataset(cell: tuple[np.ndarray, np.ndarray, np.ndarray], symprec: float) -> Any:
    """moyopy's dataset of (lattice rows Å, fractional coordinates, atomic numbers) at
    ``symprec`` Å in spglib's setting; raises Skip(symmetry_failed)."""
    lattice, frac, numbers = cell
    try:
        c = moyopy.Cell(np.asarray(lattice, float).tolist(), np.asarray(frac, float).tolist(),
                        np.asarray(numbers, int).tolist())  # fmt: skip
        return moyopy.MoyoDataset(c, symprec=symprec, setting=_SETTING)
    except Exception as e:  # moyopy raises for cells it cannot analyse
        raise Skip("symmetry_failed", f"moyopy: {e}") from e


def std_cell(ds: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lattice rows Å, fractional coordinates, atomic numbers) of the standardized cell."""
    c = ds.std_cell
    return np.asarray(c.basis, float), np.asarray(c.positions, float), np.asarray(c.numbers)
