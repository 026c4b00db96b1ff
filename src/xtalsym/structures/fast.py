"""The fast synthetic generator: real-crystal Wyckoff statistics, own vectorised placement.

One attempt for space group ``sg``:

1. a **Wyckoff set** (the occupied positions, hence the atoms per cell) drawn with
   probability ``count ** tempering`` over its count among Materials Project structures of
   that group (pyxtal's ``database/spg_num_wps_mp.csv``: counts of (group, atoms per cell,
   Wyckoff set)), among the sets within ``max_sites``; groups without such a set fall back to
   a composition fitted to the positions (:func:`.chemistry.choose_cell`). Tempering (< 1)
   flattens Materials Project's high-throughput prototypes: full Heuslers (8c 4b 4a) are
   4,633 of its Fm-3m entries, rock salt (4a 4b) 87 and the fcc element (4a) 25;
2. an **element per orbit** from a chemical family, charge balanced (:mod:`.species`);
3. the **volume** from per-element volumes with a log-normal spread (sd 0.1 in ln), a
   **lattice** within the crystal system's constraints (:func:`.placement.draw_lattice`);
4. **placement** orbit by orbit with the contact rule (:func:`.placement.place_orbit`).

With probability ``pseudo_share`` the attempt is **pseudo-symmetric**: a near-higher metric
and free coordinates snapped to multiples of 1/4 (a supergroup arrangement), then moved by
0.012-0.03 Å (sd) within the target group, so spglib finds the group at ``symprec`` and
a supergroup at ~0.1 Å. No structure of any collection is copied: only the counts of
Wyckoff sets are used, elements, lattice and free coordinates are drawn.
"""

from __future__ import annotations

import csv
from functools import cache, lru_cache

import numpy as np

from .chemistry import IONIC_FAMILIES, choose_cell, draw_composition
from .outcomes import Skip
from .placement import draw_lattice, group_table, lattice_matrix, place_orbit, pyxtal_data
from .species import ALLOY_PACKING, assign, atomic_number, atomic_volume, covalent_radius

STATS_FILE = "spg_num_wps_mp.csv"  # in the pyxtal package's database folder
SET_DRAWS = 4  # Wyckoff sets (with their elements) tried per attempt
LATTICE_DRAWS = 6  # lattices per Wyckoff set, each 3 % larger (hard sets are not dropped)
CANDIDATES = 128  # free points drawn at once per orbit (second try)
VOLUME_SD = 0.1  # log-normal spread of the cell volume
ANION_CHARGE = {a: q for anions, _ in IONIC_FAMILIES.values() for a, q in anions}
PSEUDO_SHIFT = (0.012, 0.03)  # Å, sd of the displacements of a pseudo-symmetric crystal


@lru_cache(maxsize=1)
def wyckoff_statistics() -> dict[int, list[tuple[int, tuple[int, ...], int]]]:
    """Per space group: (atoms per cell, Wyckoff indices (0 = general), count) of pyxtal's
    Materials Project statistics."""
    out: dict[int, list] = {}
    with pyxtal_data(STATS_FILE).open() as fh:
        for rec in csv.DictReader(fh):
            wps = tuple(int(w) for w in rec["wps"].split("-"))
            out.setdefault(int(rec["spg"]), []).append(
                (int(rec["n_atoms"]), wps, int(rec["count"]))
            )
    return out


@cache
def wyckoff_sets(
    sg: int, max_sites: int, tempering: float = 1.0
) -> tuple[tuple[tuple[int, ...], ...], np.ndarray]:
    """Valid Wyckoff sets of ``sg`` within ``max_sites`` and their probabilities, proportional
    to ``count ** tempering`` (1: the Materials Project frequencies; 0: all sets alike).

    A set is kept when its atoms per cell match the multiplicities and no position without
    freedom is used twice (the table's consistency check)."""
    table = group_table(sg)
    sets, counts = [], []
    stats = wyckoff_statistics()
    rows = stats.get(int(sg), [])
    if int(sg) == 1 and not rows:
        # The statistics hold no P1 crystal: take P-1's, each orbit of m atoms as m 1a orbits
        # (a P-1 crystal whose inversion is lost).
        rows = [(n, (0,) * n, c) for n, wps, c in stats.get(2, [])]
    for n_atoms, wps, count in rows:
        if n_atoms > max_sites or max(wps) >= len(table.mult):
            continue
        fixed = [w for w in wps if table.dof[w] == 0]
        if len(fixed) != len(set(fixed)) or int(table.mult[list(wps)].sum()) != n_atoms:
            continue
        sets.append(tuple(sorted(wps)))
        counts.append(count)
    w = np.array(counts, dtype=float) ** float(tempering)
    return tuple(sets), (w / w.sum() if len(w) else w)


@cache
def _position_table(sg: int) -> list[tuple[int, str, int]]:
    """(multiplicity, letter, dof) per position, as :func:`.chemistry.wyckoff_table`."""
    t = group_table(sg)
    return [(int(m), ltr, int(d)) for m, ltr, d in zip(t.mult, t.letters, t.dof, strict=True)]


def _fallback_set(sg: int, max_sites: int, rng: np.random.Generator):
    """(Wyckoff indices, elements, charges) from a composition fitted to the positions."""
    table = group_table(sg)
    for _ in range(20):
        species, counts = draw_composition(rng)
        cell = choose_cell(_position_table(sg), counts, max_sites, rng)
        if cell is None:
            continue
        anion = ANION_CHARGE.get(species[-1]) if len(species) > 1 else None
        wps, elements, charges = [], [], []
        for k, (el, labels) in enumerate(zip(species, cell[1], strict=True)):
            # ionic volumes for ionic compositions (cations as 2+: only the volume uses it)
            q = 0 if anion is None else (-anion if k == len(species) - 1 else 2)
            for lab in labels:
                wps.append(table.index(lab))
                elements.append(el)
                charges.append(q)
        return wps, elements, charges
    return None


def draw_set(sg: int, max_sites: int, rng: np.random.Generator, general=False, tempering=1.0):
    """(Wyckoff indices, elements, charges or None) for one attempt, or None."""
    sets, p = wyckoff_sets(sg, max_sites, tempering)
    if not sets:
        return _fallback_set(sg, max_sites, rng)
    if general:
        with_general = np.array([0 in s for s in sets])
        if with_general.any():
            p = np.where(with_general, p, 0.0)
            p = p / p.sum()
    wps = list(sets[rng.choice(len(sets), p=p)])
    elements, charges, _ = assign(group_table(sg).mult[wps], rng)
    return wps, elements, charges


def generate_cell(
    sg: int,
    rng: np.random.Generator,
    max_sites: int,
    pseudo_share: float,
    general=False,
    tempering=1.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lattice rows Å, fractional coordinates, atomic numbers) of one crystal placed in
    ``sg`` (Wyckoff sets tempered as :func:`wyckoff_sets`); raises Skip(generation_failed)."""
    table = group_table(sg)
    for _ in range(SET_DRAWS):
        drawn = draw_set(sg, max_sites, rng, general, tempering)
        if drawn is None:
            break
        wps, elements, charges = drawn
        charges = charges or [0] * len(wps)
        mult = table.mult[wps]
        radii = np.array([covalent_radius(e) for e in elements])
        vols = np.array([atomic_volume(e, q) for e, q in zip(elements, charges, strict=True)])
        volume = float((mult * vols).sum()) * (ALLOY_PACKING if not any(charges) else 1.0)
        # fixed positions first (they cannot move out of the way), then large atoms, then
        # large orbits: the hardest to fit go in while there is room
        order = sorted(range(len(wps)), key=lambda i: (table.dof[wps[i]] > 0, -radii[i], -mult[i]))
        for t in range(LATTICE_DRAWS):
            pseudo = bool(rng.random() < pseudo_share)
            v = volume * 1.03**t * float(np.exp(rng.normal(0.0, VOLUME_SD)))
            params = draw_lattice(table.system, v, rng, pseudo)
            lat = lattice_matrix(*params)
            shift = rng.uniform(*PSEUDO_SHIFT) / np.array(params[:3]) if pseudo else None
            coords = _place(table, wps, order, radii, lat, rng, shift)
            if coords is not None:
                numbers = np.repeat([atomic_number(e) for e in elements], mult)
                frac = np.concatenate(coords)
                return lat, frac, numbers
    raise Skip("generation_failed", f"no Wyckoff set of group {sg} placed within the contact rule")


def _place(table, wps, order, radii, lat, rng, shift):
    """Per orbit (in the order of ``wps``) its coordinates, or None when one does not fit."""
    placed = np.empty((0, 3))
    placed_r = np.empty(0)
    coords: list[np.ndarray | None] = [None] * len(wps)
    for i in order:
        w = wps[i]
        m = int(table.mult[w])
        x = None
        # a few candidates first (most orbits fit at once), then many
        for k in (1,) if table.dof[w] == 0 else (16, CANDIDATES):
            pts = rng.random((k, 3))
            if shift is not None and table.dof[w]:
                pts = np.round(pts * 4) / 4 + rng.normal(0.0, 1.0, (k, 3)) * shift
            x = place_orbit(table, w, float(radii[i]), placed, placed_r, lat, pts)
            if x is not None:
                break
        if x is None:
            return None
        coords[i] = x
        placed = np.concatenate([placed, x])
        placed_r = np.concatenate([placed_r, np.full(m, radii[i])])
    return coords
