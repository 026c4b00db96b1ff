"""moyopy against spglib (the reference) on synthetic and literature structures: space group,
Hall number and standardized cell (the same lattice parameters and atoms; origin and atom
order may differ, see xtalsym.structures.moyolabel).

Size: 72 groups x 24 attempts of the fast generator (~1,700 crystals, ~20 s on 2 busy
cores) and every structure of data/real.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from pymatgen.core import Lattice

from xtalsym.spacegroups import PAPER_72
from xtalsym.structures.fast import generate_cell
from xtalsym.structures.fastrow import _dataset
from xtalsym.structures.moyolabel import moyo_dataset, std_cell
from xtalsym.structures.outcomes import Skip
from xtalsym.structures.standard import _spglib_cell, read_structure_file

from .helpers import ROOT

SYMPREC = 0.01


def _params(lattice: np.ndarray) -> np.ndarray:
    lat = Lattice(lattice)
    return np.array([*lat.abc, *lat.angles])


def compare(cell) -> str:
    """'same', or what differs between spglib's and moyopy's datasets of ``cell``."""
    ref, new = _dataset(cell, SYMPREC), moyo_dataset(cell, SYMPREC)
    if int(ref.number) != int(new.number):
        return "number"
    if int(ref.hall_number) != int(new.hall_number):
        return "hall_number"
    lat, _, numbers = std_cell(new)
    if Counter(np.asarray(ref.std_types).tolist()) != Counter(numbers.tolist()):
        return "std_atoms"
    if not np.allclose(_params(ref.std_lattice), _params(lat), rtol=1e-6, atol=1e-6):
        return "std_lattice"
    return "same"


def _synthetic_cells(per_group: int):
    rng = np.random.default_rng(32)
    for sg in PAPER_72:
        for i in range(per_group):
            try:
                yield generate_cell(sg, rng, 64, 0.4, i % 3 == 0, 0.5)
            except Skip:
                continue


def test_moyo_agrees_with_spglib_on_synthetic_crystals():
    outcome = Counter(compare(cell) for cell in _synthetic_cells(24))
    n = sum(outcome.values())
    assert n > 1500
    # Pseudo-symmetric crystals sit near symprec by design: the two may split the odd one.
    assert outcome["same"] >= 0.995 * n, outcome
    assert outcome["std_atoms"] == outcome["std_lattice"] == 0, outcome


@pytest.mark.parametrize("path", sorted((ROOT / "data" / "real").glob("*.cif")), ids=str)
def test_moyo_agrees_with_spglib_on_real_structures(path):
    s = read_structure_file(path)
    if not s.is_ordered:
        from xtalsym.structures.standard import order_majority

        s = order_majority(s)
    assert compare(_spglib_cell(s)) == "same"
