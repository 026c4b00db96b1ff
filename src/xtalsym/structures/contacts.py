"""Atoms closer than any real crystal has them: the ``overlapping_atoms`` bound.

A contact is refused when two atoms (or an atom and its own periodic image) are closer than
:data:`MIN_CONTACT` x the sum of their covalent radii (:data:`.species.COVALENT_RADII`). The
bound is per element pair, not a density: superhydrides and metals at megabar pressure are
denser than any ambient crystal, yet their bonds shorten far less than their volume does.
"""

from __future__ import annotations

import numpy as np
from pymatgen.core import Structure

from .species import covalent_radius

#: Shortest allowed distance / summed covalent radii. Published ambient crystals stay above
#: about 0.7 (V=O, U-U); bonds at megabar pressure shorten by far less than a third.
MIN_CONTACT = 0.5
#: Occupancies of two sites summing to at most this are alternatives (split positions).
SPLIT_OCCUPANCY = 1.0 + 1e-6


def site_radii(structure: Structure) -> np.ndarray:
    """Covalent radius (Å) per site: the smallest of a disordered site's species."""
    return np.array(
        [min(covalent_radius(el.symbol) for el in site.species.elements) for site in structure]
    )


def closest_contact(structure: Structure) -> tuple[int, int, float, float] | None:
    """(i, j, distance Å, limit Å), i <= j, of the contact most below ``MIN_CONTACT`` x the
    summed covalent radii of sites i and j (i == j: a site and its periodic image), or None when
    there is none. Two partially occupied sites whose occupancies sum to at most 1 are
    alternative positions, not a contact."""
    radii = site_radii(structure)
    occ = np.array([site.species.num_atoms for site in structure])
    reach = MIN_CONTACT * 2.0 * float(radii.max())
    i, j, image, d = structure.get_neighbor_list(reach, exclude_self=False)
    real = (i != j) | np.any(image != 0, axis=1)  # not a site paired with itself
    real &= occ[i] + occ[j] > SPLIT_OCCUPANCY
    limit = MIN_CONTACT * (radii[i] + radii[j])
    ratio = np.where(real, d / limit, np.inf)
    if ratio.size == 0 or not ratio.min() < 1.0:
        return None
    k = int(np.argmin(ratio))
    a, b = sorted((int(i[k]), int(j[k])))
    return a, b, float(d[k]), float(limit[k])


__all__ = ["MIN_CONTACT", "closest_contact", "site_radii"]
