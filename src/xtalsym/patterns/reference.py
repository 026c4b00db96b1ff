"""Small, known crystals of every crystal system, for validation, tests and benchmarks.

Built with ``Structure.from_spacegroup`` and re-expressed in pymatgen's standard orientation
(``Lattice.from_parameters``: c along z, a in the xz plane), as the structures stage stores them.
Literature-like parameters where a mineral is named; the low-symmetry ones are made up.
"""

from __future__ import annotations

from pymatgen.core import Lattice, Structure

# name -> (space group, lattice parameters a, b, c Å, alpha, beta, gamma deg, species, coords)
_SPECS = {
    "NaCl": ("Fm-3m", (5.64, 5.64, 5.64, 90, 90, 90), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]),
    "ZnS": ("F-43m", (5.41, 5.41, 5.41, 90, 90, 90), ["Zn", "S"], [[0, 0, 0], [0.25] * 3]),
    "SrTiO3": (
        "Pm-3m",
        (3.905, 3.905, 3.905, 90, 90, 90),
        ["Sr", "Ti", "O"],
        [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0]],
    ),
    "Mg": ("P6_3/mmc", (3.21, 3.21, 5.21, 90, 90, 120), ["Mg"], [[1 / 3, 2 / 3, 0.25]]),
    "ZnO": (
        "P6_3mc",
        (3.25, 3.25, 5.21, 90, 90, 120),
        ["Zn", "O"],
        [[1 / 3, 2 / 3, 0], [1 / 3, 2 / 3, 0.382]],
    ),
    "Al2O3": (
        "R-3c",
        (4.76, 4.76, 12.99, 90, 90, 120),
        ["Al", "O"],
        [[0, 0, 0.352], [0.306, 0, 0.25]],
    ),
    "TiO2": (
        "P4_2/mnm",
        (4.594, 4.594, 2.959, 90, 90, 90),
        ["Ti", "O"],
        [[0, 0, 0], [0.305] * 2 + [0]],
    ),
    "CaTiO3": (
        "Pnma",
        (5.44, 7.64, 5.38, 90, 90, 90),
        ["Ca", "Ti", "O", "O"],
        [[0.035, 0.25, 0.99], [0, 0, 0.5], [0.49, 0.25, 0.07], [0.29, 0.04, 0.71]],
    ),
    "mono-P21c": (
        "P2_1/c",
        (5.1, 6.3, 7.9, 90, 104, 90),
        ["Fe", "Si", "O"],
        [[0.1, 0.2, 0.3], [0.7, 0.35, 0.2], [0.3, 0.1, 0.05]],
    ),
    "tric-P-1": (
        "P-1",
        (5.1, 6.2, 7.3, 82, 97, 105),
        ["Ca", "P", "O"],
        [[0.12, 0.23, 0.31], [0.61, 0.37, 0.18], [0.33, 0.09, 0.77]],
    ),
}

CRYSTAL_SYSTEMS = {
    "NaCl": "cubic",
    "ZnS": "cubic",
    "SrTiO3": "cubic",
    "Mg": "hexagonal",
    "ZnO": "hexagonal",
    "Al2O3": "trigonal",
    "TiO2": "tetragonal",
    "CaTiO3": "orthorhombic",
    "mono-P21c": "monoclinic",
    "tric-P-1": "triclinic",
}


def reference_structure(name: str) -> Structure:
    """One of the named crystals (``CRYSTAL_SYSTEMS`` keys) in the standard orientation."""
    sg, params, species, coords = _SPECS[name]
    s = Structure.from_spacegroup(sg, Lattice.from_parameters(*params), species, coords)
    return Structure(Lattice.from_parameters(*s.lattice.parameters), s.species, s.frac_coords)


def reference_structures() -> dict[str, Structure]:
    """All named crystals, name -> Structure."""
    return {name: reference_structure(name) for name in _SPECS}
