"""The ``pyxtal`` generator of the synthetic source: pyxtal places a drawn composition in a
space group (slower, larger and looser crystals than :mod:`.fast`)."""

from __future__ import annotations

import warnings
from functools import lru_cache
from typing import Any

import numpy as np
from pymatgen.core import Lattice, Structure

from .chemistry import choose_cell, draw_composition, wyckoff_table
from .outcomes import Skip
from .parallel import TimeLimitExceeded

LATTICE_ATTEMPTS = 4  # pyxtal lattices tried per attempt (pyxtal: 40)
COORD_ATTEMPTS = 2  # placements per lattice (pyxtal: 10); fail fast, redraw
COMPOSITION_DRAWS = 40  # compositions tried per attempt before the group counts as incompatible


@lru_cache(maxsize=256)
def wyckoff_positions(sg: int) -> list[tuple[int, str, int]]:
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
    sg: int, rng: np.random.Generator, st: Any, general: bool = False
) -> Structure:
    """One random Structure placed by pyxtal in space group ``sg``; raises Skip.

    ``general``: put one orbit on the general position when a drawn composition allows it
    (otherwise, after half the composition draws, any placement is accepted).
    """
    table = wyckoff_positions(sg)
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
    except TimeLimitExceeded:
        raise
    except Exception as e:  # pyxtal raises many kinds on impossible placements
        raise Skip("generation_failed", f"{type(e).__name__}: {e}") from e
    if not crystal.valid:
        raise Skip("generation_failed", f"pyxtal could not place {species} {num_ions}")
    elems = [site.specie for site in crystal.atom_sites for _ in range(site.multiplicity)]
    coords = np.concatenate([site.coords for site in crystal.atom_sites])
    return Structure(Lattice(crystal.lattice.matrix), elems, coords)
