"""A crystal reduced to the arrays the simulator needs: lattice, scatterers, occupancies.

A disordered site contributes one scatterer per species (its occupancy as weight); ``site``
keeps the site index so that structural noise moves or removes a site's species together.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Crystal:
    """lattice: (3, 3) rows a, b, c in Cartesian Å; frac: (n, 3) fractional coordinates of the
    scatterers; occ: (n,) occupancies; species: (n,) index into ``elements``; site: (n,) site
    index in 0..n_sites-1."""

    lattice: np.ndarray
    frac: np.ndarray
    occ: np.ndarray
    species: np.ndarray
    site: np.ndarray
    elements: tuple[str, ...]
    n_sites: int

    def with_sites(self, frac: np.ndarray, occ: np.ndarray) -> Crystal:
        """The same crystal with new scatterer coordinates and occupancies (structural noise)."""
        return replace(self, frac=frac, occ=occ)


def _element_of(entry: dict[str, Any]) -> str:
    if "element" not in entry:
        raise ValueError(f"species without an element: {entry}")
    return str(entry["element"])


def crystal_from_dict(d: dict[str, Any]) -> Crystal:
    """Build a :class:`Crystal` from ``Structure.as_dict()`` output.

    Reads the dict directly: 10-50x faster than ``Structure.from_dict`` for the same content.
    """
    lattice = np.asarray(d["lattice"]["matrix"], dtype=np.float64)
    frac, occ, names, site = [], [], [], []
    for i, s in enumerate(d["sites"]):
        for sp in s["species"]:
            frac.append(s["abc"])
            occ.append(float(sp.get("occu", 1.0)))
            names.append(_element_of(sp))
            site.append(i)
    return _assemble(lattice, frac, occ, names, site, len(d["sites"]))


def crystal_from_structure(structure: Any) -> Crystal:
    """Build a :class:`Crystal` from a pymatgen Structure, its dict, or its JSON string."""
    if isinstance(structure, str):
        return crystal_from_dict(json.loads(structure))
    if isinstance(structure, dict):
        return crystal_from_dict(structure)
    lattice = np.asarray(structure.lattice.matrix, dtype=np.float64)
    frac, occ, names, site = [], [], [], []
    for i, s in enumerate(structure):
        for sp, o in s.species.items():
            frac.append(s.frac_coords)
            occ.append(float(o))
            names.append(sp.symbol)
            site.append(i)
    return _assemble(lattice, frac, occ, names, site, len(structure))


def _assemble(lattice, frac, occ, names, site, n_sites) -> Crystal:
    if n_sites == 0:
        raise ValueError("structure has no sites")
    elements = tuple(sorted(set(names)))
    index = {e: i for i, e in enumerate(elements)}
    return Crystal(
        lattice=lattice,
        frac=np.asarray(frac, dtype=np.float64).reshape(-1, 3),
        occ=np.asarray(occ, dtype=np.float64),
        species=np.array([index[n] for n in names], dtype=np.intp),
        site=np.asarray(site, dtype=np.intp),
        elements=elements,
        n_sites=n_sites,
    )
