"""Elements for the orbits of a Wyckoff set: chemical families, charge balance, radii, volumes.

Families (weights :data:`FAMILY_WEIGHTS`): oxides, halides, chalcogenides, pnictides,
hydrogen-free polyanion compounds (phosphates, sulfates, silicates, carbonates, borates, ...)
and intermetallics. Every orbit of the set gets one element. Ionic families draw a role per
orbit (anion, or cation with an oxidation state) until the charges balance, sum m_i q_i = 0
over the orbits' multiplicities m_i; polyanion compounds also need n_O = k n_X for the
former X of an XO_k group. Sets that no ionic assignment balances become intermetallics.
Element weights are hand-set to follow the ranking of element occurrence in inorganic
structure databases (e.g. O in about half of ICSD entries; see docs/synthetic.md).

Radii (contacts) are covalent radii (pyxtal's table, close to Cordero et al., Dalton Trans.
2008);
volumes are per element and role: ions (4/3) pi r^3 x ``ION_PACKING`` with Shannon crystal
radii (pymatgen), metals their elemental volume per atom (pymatgen ``molar_volume``).
"""

from __future__ import annotations

import warnings
from functools import cache

import numpy as np

#: Family weights (sum 1): O is in about half of inorganic entries (oxides + polyanions).
FAMILIES: dict[str, float] = {
    "oxide": 0.36,
    "intermetallic": 0.22,
    "halide": 0.10,
    "chalcogenide": 0.12,
    "pnictide": 0.06,
    "polyanion": 0.14,
}

#: Anions per family: (symbol, |charge|, weight).
ANIONS: dict[str, tuple[tuple[str, int, float], ...]] = {
    "oxide": (("O", 2, 1.0),),
    "polyanion": (("O", 2, 1.0),),
    "halide": (("F", 1, 0.35), ("Cl", 1, 0.35), ("Br", 1, 0.17), ("I", 1, 0.13)),
    "chalcogenide": (("S", 2, 0.5), ("Se", 2, 0.3), ("Te", 2, 0.2)),
    "pnictide": (("N", 3, 0.45), ("P", 3, 0.35), ("As", 3, 0.2)),
}

#: Cations by oxidation state: (symbol, weight).
CATIONS: dict[int, tuple[tuple[str, float], ...]] = {
    1: (("Na", 3), ("K", 3), ("Li", 3), ("Cs", 1.5), ("Rb", 1.5), ("Ag", 1.5), ("Cu", 1.5),
        ("Tl", 0.5)),
    2: (("Ba", 3), ("Sr", 2.5), ("Ca", 3), ("Mg", 2.5), ("Zn", 2), ("Fe", 2), ("Co", 1.5),
        ("Ni", 1.5), ("Mn", 1.5), ("Cu", 2), ("Cd", 1), ("Pb", 1.5), ("Sn", 0.7), ("Hg", 0.7),
        ("Eu", 0.7), ("Be", 0.3)),
    3: (("Al", 2), ("Fe", 2), ("La", 2), ("Y", 1.5), ("Ga", 1.2), ("In", 1), ("Nd", 1.2),
        ("Ce", 0.8), ("Pr", 0.8), ("Sm", 0.8), ("Gd", 0.8), ("Dy", 0.5), ("Er", 0.5),
        ("Yb", 0.5), ("Cr", 1.2), ("Mn", 1), ("Co", 0.8), ("V", 0.7), ("Ti", 0.5), ("Sc", 0.6),
        ("Bi", 1.2), ("Sb", 0.6), ("B", 0.5)),
    4: (("Ti", 2.5), ("Si", 2), ("Zr", 1.5), ("Sn", 1.2), ("Ge", 1.2), ("Mn", 0.8), ("Ce", 0.6),
        ("Hf", 0.5), ("Te", 0.4), ("Pt", 0.5), ("Mo", 0.4), ("Th", 0.3), ("Ru", 0.3), ("Ir", 0.3)),
    5: (("Nb", 2), ("V", 1.5), ("Ta", 1.5), ("Sb", 0.8), ("Bi", 0.4), ("Mo", 0.3)),
    6: (("Mo", 2), ("W", 2), ("Cr", 0.5), ("Te", 0.5), ("U", 0.5), ("Re", 0.3)),
}  # fmt: skip

#: Oxidation-state distribution of cations (q = 1..6) per ionic family.
Q_WEIGHTS: dict[str, tuple[float, ...]] = {
    "oxide": (0.15, 0.30, 0.28, 0.15, 0.08, 0.04),
    "polyanion": (0.35, 0.35, 0.25, 0.05, 0.0, 0.0),
    "halide": (0.40, 0.35, 0.20, 0.05, 0.0, 0.0),
    "chalcogenide": (0.25, 0.35, 0.25, 0.15, 0.0, 0.0),
    "pnictide": (0.25, 0.35, 0.35, 0.05, 0.0, 0.0),
}

#: Polyanion formers: (symbol, charge, oxygens per former, weight).
FORMERS: tuple[tuple[str, int, int, float], ...] = (
    ("P", 5, 4, 3.0), ("S", 6, 4, 2.0), ("Si", 4, 4, 2.5), ("C", 4, 3, 1.5), ("B", 3, 3, 1.2),
    ("As", 5, 4, 0.6), ("V", 5, 4, 0.6), ("Mo", 6, 4, 0.8), ("W", 6, 4, 0.6), ("Se", 6, 4, 0.3),
    ("Ge", 4, 4, 0.4), ("Cr", 6, 4, 0.3), ("N", 5, 3, 0.5),
)  # fmt: skip

#: Metals and metalloids of intermetallics: (symbol, weight).
METALS: tuple[tuple[str, float], ...] = (
    ("Al", 3), ("Ga", 2), ("In", 1.5), ("Si", 2.5), ("Ge", 2), ("Sn", 2.5), ("Pb", 1),
    ("Sb", 1.5), ("Bi", 1), ("Mg", 2), ("Ca", 1), ("Sr", 0.7), ("Ba", 1), ("Li", 1),
    ("Na", 0.5), ("K", 0.3), ("Sc", 0.6), ("Y", 1), ("La", 1.5), ("Ce", 1.5), ("Pr", 0.8),
    ("Nd", 1), ("Sm", 0.8), ("Gd", 1), ("Tb", 0.6), ("Dy", 0.6), ("Er", 0.6), ("Yb", 0.6),
    ("U", 1), ("Th", 0.5), ("Ti", 1.5), ("Zr", 1.5), ("Hf", 0.7), ("V", 1), ("Nb", 1),
    ("Ta", 0.7), ("Cr", 1), ("Mo", 1), ("W", 0.7), ("Mn", 1.5), ("Re", 0.5), ("Fe", 2),
    ("Ru", 1), ("Os", 0.4), ("Co", 2), ("Rh", 1.2), ("Ir", 0.8), ("Ni", 2.5), ("Pd", 2),
    ("Pt", 1.5), ("Cu", 2), ("Ag", 1), ("Au", 1), ("Zn", 1.5), ("Cd", 0.8), ("Hg", 0.4),
    ("B", 1), ("C", 0.5), ("Be", 0.3),
)  # fmt: skip

#: Distinct elements of an intermetallic (1..4).
N_METALS_P = (0.12, 0.45, 0.35, 0.08)

ION_PACKING = 1.5  # cell volume / summed ionic spheres: 1.5-1.7 for Al2O3, MgO, NaCl, ZnS
ALLOY_PACKING = 0.85  # intermetallic / summed elemental volumes: LaNi5 0.95, BaAl4 0.84
ROLE_DRAWS = 192  # random role assignments tried per Wyckoff set
ANION_FRACTION = (0.3, 0.85)  # accepted share of anions among the atoms


def _pick(items, rng: np.random.Generator, size=None):
    w = np.array([x[-1] for x in items], dtype=float)
    return rng.choice(len(items), size=size, p=w / w.sum())


#: Covalent radii (Å) from pyxtal's element table (close to Cordero et al. 2008).
COVALENT_RADII: dict[str, float] = {
    "H": 0.31, "He": 0.28, "Li": 1.28, "Be": 0.96, "B": 0.84, "C": 0.78, "N": 0.78, "O": 0.7,
    "F": 0.57, "Ne": 0.58, "Na": 1.66, "Mg": 1.41, "Al": 1.21, "Si": 1.11, "P": 1.07,
    "S": 1.25, "Cl": 1.02, "Ar": 1.06, "K": 2.03, "Ca": 1.76, "Sc": 1.7, "Ti": 1.6, "V": 1.53,
    "Cr": 1.39, "Mn": 1.39, "Fe": 1.32, "Co": 1.26, "Ni": 1.24, "Cu": 1.32, "Zn": 1.22,
    "Ga": 1.22, "Ge": 1.2, "As": 1.19, "Se": 1.2, "Br": 1.2, "Kr": 1.16, "Rb": 2.2, "Sr": 1.95,
    "Y": 1.9, "Zr": 1.75, "Nb": 1.64, "Mo": 1.54, "Tc": 1.47, "Ru": 1.46, "Rh": 1.42,
    "Pd": 1.39, "Ag": 1.45, "Cd": 1.44, "In": 1.42, "Sn": 1.39, "Sb": 1.39, "Te": 1.38,
    "I": 1.39, "Xe": 1.4, "Cs": 2.44, "Ba": 2.15, "La": 2.07, "Ce": 2.04, "Pr": 2.03,
    "Nd": 2.01, "Pm": 1.99, "Sm": 1.98, "Eu": 1.98, "Gd": 1.96, "Tb": 1.94, "Dy": 1.92,
    "Ho": 1.92, "Er": 1.89, "Tm": 1.9, "Yb": 1.87, "Lu": 1.87, "Hf": 1.75, "Ta": 1.7,
    "W": 1.62, "Re": 1.51, "Os": 1.44, "Ir": 1.41, "Pt": 1.36, "Au": 1.36, "Hg": 1.32,
    "Tl": 1.45, "Pb": 1.46, "Bi": 1.48, "Po": 1.4, "At": 1.5, "Rn": 1.5, "Fr": 2.6, "Ra": 2.21,
    "Ac": 2.15, "Th": 2.06, "Pa": 2.0, "U": 1.96, "Np": 1.9, "Pu": 1.87,
}  # fmt: skip


def covalent_radius(symbol: str) -> float:
    """Covalent radius (Å) of an element (1.5 Å for one missing from the table)."""
    return COVALENT_RADII.get(symbol, 1.5)


@cache
def atomic_number(symbol: str) -> int:
    from pymatgen.core import Element

    return int(Element(symbol).Z)


@cache
def atomic_volume(symbol: str, charge: int) -> float:
    """Volume (Å³) an atom of ``symbol`` takes in a crystal: as an ion of ``charge`` (Shannon
    crystal radius, x ION_PACKING) or, for charge 0, as in its elemental solid."""
    from pymatgen.core import Element

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        el = Element(symbol)
        if charge:
            radii = {int(k): float(v) for k, v in el.ionic_radii.items()}
            r = radii.get(charge)
            if r is None:  # nearest tabulated state of the same sign
                same = [k for k in radii if k * charge > 0] or list(radii)
                r = radii[min(same, key=lambda k: abs(k - charge))] if same else 1.0
            return ION_PACKING * 4.0 / 3.0 * np.pi * r**3
        mv = el.molar_volume
    if mv is None:
        return 2.2 * 4.0 / 3.0 * np.pi * covalent_radius(symbol) ** 3
    return float(mv) / 0.602214076  # cm³/mol -> Å³ per atom


def _ionic_roles(
    family: str, mult: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, str, int] | None:
    """Charge per orbit (negative: anion) balancing the set, the anion and its |charge|."""
    anions = ANIONS[family]
    a_sym, qa, _ = anions[_pick(anions, rng)]
    n = len(mult)
    p = np.asarray(Q_WEIGHTS[family], dtype=float)
    q = rng.choice(6, size=(ROLE_DRAWS, n), p=p / p.sum()) + 1
    anion = rng.random((ROLE_DRAWS, n)) < rng.uniform(0.3, 0.7)
    charge = np.where(anion, -qa, q)
    former = np.zeros((ROLE_DRAWS, n), dtype=bool)
    k_o = 0
    if family == "polyanion":
        f_sym, f_q, k_o, _ = FORMERS[_pick(FORMERS, rng)]
        former = ~anion & (rng.random((ROLE_DRAWS, n)) < 0.35)
        charge = np.where(former, f_q, charge)
    n_an = (anion * mult).sum(axis=1)
    ok = ((charge * mult).sum(axis=1) == 0) & (n_an > 0) & (~anion).any(axis=1)
    share = n_an / mult.sum()
    ok &= (share >= ANION_FRACTION[0]) & (share <= ANION_FRACTION[1])
    if family == "polyanion":
        n_f = (former * mult).sum(axis=1)
        ok &= (n_f > 0) & (n_f * k_o == n_an) & (~anion & ~former).any(axis=1)
    hit = np.flatnonzero(ok)
    if not len(hit):
        return None
    row = hit[0]
    ch = charge[row].copy()
    if family == "polyanion":
        ch[former[row]] = 100 + FORMERS.index(next(f for f in FORMERS if f[0] == f_sym))
    return ch, a_sym, qa


def assign(mult: np.ndarray, rng: np.random.Generator) -> tuple[list[str], list[int], str]:
    """(element per orbit, charge per orbit (0 for metals), family) for orbits of ``mult``."""
    names = list(FAMILIES)
    fam = names[rng.choice(len(names), p=np.array(list(FAMILIES.values())))]
    roles = None if fam == "intermetallic" or len(mult) < 2 else _ionic_roles(fam, mult, rng)
    if roles is None:
        return _metals(len(mult), rng), [0] * len(mult), "intermetallic"
    ch, a_sym, qa = roles
    alt = ANIONS[fam]
    elements: list[str] = []
    charges: list[int] = []
    chosen: dict[int, list[str]] = {}
    for c in ch.tolist():
        if c >= 100:  # polyanion former
            sym, c = FORMERS[c - 100][0], FORMERS[c - 100][1]
        elif c < 0:
            # mixed-anion compounds are rare: mostly the one anion
            sym = a_sym if rng.random() < 0.92 or len(alt) == 1 else alt[_pick(alt, rng)][0]
        else:
            prev = chosen.get(c, [])
            pool = [x for x in CATIONS[c] if x[0] not in elements and x[0] != a_sym]
            if prev and (rng.random() < 0.45 or not pool):
                sym = prev[rng.integers(len(prev))]
            elif pool:
                sym = pool[_pick(pool, rng)][0]
            else:
                return _metals(len(mult), rng), [0] * len(mult), "intermetallic"
            chosen.setdefault(c, []).append(sym)
        elements.append(sym)
        charges.append(int(c))
    return elements, charges, fam


def _metals(n_orbits: int, rng: np.random.Generator) -> list[str]:
    k = min(n_orbits, int(rng.choice(4, p=N_METALS_P)) + 1)
    idx = _pick(METALS, rng, size=64)
    picks: list[str] = []
    for i in idx.tolist():
        if METALS[i][0] not in picks:
            picks.append(METALS[i][0])
        if len(picks) == k:
            break
    # every chosen element on at least one orbit, the rest at random
    owner = np.concatenate([rng.permutation(k), rng.integers(k, size=n_orbits - k)])
    return [picks[j] for j in rng.permutation(owner)]
