"""Chemically plausible random compositions for the synthetic source.

A composition is drawn from one of five families (oxides, halides, chalcogenides, pnictides /
nitrides, intermetallics). Ionic families are charge balanced: cation oxidation states q_i
and counts n_i satisfy sum n_i q_i = m |q_X| for m anions X. Intermetallics use common
binary and ternary ratios. The number of formula units Z is then chosen so that every
species count is a sum of Wyckoff multiplicities of the requested space group, each position
without free parameters used once, and the cell holds at most ``max_atoms`` atoms. The
positions are chosen here and handed to pyxtal (``sites``), which then only draws the free
coordinates and the lattice: much faster than letting pyxtal search and merge positions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import reduce

import numpy as np

#: Cations by their common oxidation state.
CATIONS: dict[int, tuple[str, ...]] = {
    1: ("Li", "Na", "K", "Rb", "Cs", "Ag", "Cu", "Tl"),
    2: ("Be", "Mg", "Ca", "Sr", "Ba", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Cd", "Sn", "Pb",
        "Hg", "Eu"),
    3: ("B", "Al", "Ga", "In", "Sc", "Y", "La", "Ce", "Pr", "Nd", "Sm", "Gd", "Dy", "Er",
        "Yb", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Bi", "Sb"),
    4: ("Si", "Ge", "Sn", "Ti", "Zr", "Hf", "Ce", "Th", "Mn", "Mo", "W", "Pb", "Te", "Pt",
        "Ru", "Ir"),
    5: ("Nb", "Ta", "V", "P", "As", "Sb", "Bi", "Mo"),
    6: ("Mo", "W", "Cr", "S", "Se", "Te", "U"),
}  # fmt: skip

#: Anions (symbol, |charge|) and the cation oxidation-state distribution (q = 1..6) per family.
IONIC_FAMILIES: dict[str, tuple[tuple[tuple[str, int], ...], tuple[float, ...]]] = {
    "oxide": ((("O", 2),), (0.15, 0.30, 0.28, 0.15, 0.08, 0.04)),
    "halide": ((("F", 1), ("Cl", 1), ("Br", 1), ("I", 1)), (0.35, 0.35, 0.20, 0.10, 0.0, 0.0)),
    "chalcogenide": ((("S", 2), ("Se", 2), ("Te", 2)), (0.20, 0.35, 0.30, 0.15, 0.0, 0.0)),
    "pnictide": ((("N", 3), ("P", 3), ("As", 3)), (0.20, 0.30, 0.40, 0.10, 0.0, 0.0)),
}

#: Metals and metalloids for intermetallic compounds.
METALS: tuple[str, ...] = (
    "Li", "Na", "K", "Mg", "Ca", "Sr", "Ba", "Al", "Ga", "In", "Tl", "Si", "Ge", "Sn", "Pb",
    "Sb", "Bi", "Sc", "Y", "La", "Ce", "Nd", "Sm", "Gd", "Er", "Ti", "Zr", "Hf", "V", "Nb",
    "Ta", "Cr", "Mo", "W", "Mn", "Re", "Fe", "Ru", "Os", "Co", "Rh", "Ir", "Ni", "Pd", "Pt",
    "Cu", "Ag", "Au", "Zn", "Cd", "Hg", "B", "C",
)  # fmt: skip

#: Common intermetallic ratios for 1, 2 and 3 elements.
INTERMETALLIC_RATIOS: dict[int, tuple[tuple[int, ...], ...]] = {
    1: ((1,),),
    2: ((1, 1), (1, 2), (1, 3), (2, 3), (1, 5), (3, 5), (2, 1), (3, 1), (1, 4), (2, 7)),
    3: ((1, 1, 1), (1, 2, 1), (1, 1, 2), (2, 1, 1), (1, 2, 2), (1, 4, 1), (2, 2, 1),
        (1, 1, 4), (1, 2, 5)),
}  # fmt: skip

FAMILIES: tuple[str, ...] = ("oxide", "halide", "chalcogenide", "pnictide", "intermetallic")
FAMILY_WEIGHTS: tuple[float, ...] = (0.35, 0.15, 0.15, 0.05, 0.30)

MAX_FORMULA_ATOMS = 14  # atoms per formula unit


def _reduce(counts: Sequence[int]) -> list[int]:
    g = reduce(math.gcd, counts)
    return [c // g for c in counts]


def _ionic(family: str, rng: np.random.Generator) -> tuple[list[str], list[int]] | None:
    anions, q_weights = IONIC_FAMILIES[family]
    anion, qa = anions[rng.integers(len(anions))]
    k = int(rng.choice([1, 2, 3], p=[0.55, 0.35, 0.10]))
    p = np.asarray(q_weights) / sum(q_weights)
    qs = (rng.choice(6, size=k, p=p) + 1).tolist()
    ns = [1] * k if k == 1 else rng.integers(1, 4, size=k).tolist()
    charge = sum(n * q for n, q in zip(ns, qs, strict=True))
    scale = qa // math.gcd(charge, qa)
    ns = [n * scale for n in ns]
    m = charge * scale // qa
    counts = _reduce([*ns, m])
    if sum(counts) > MAX_FORMULA_ATOMS:
        return None
    elements: list[str] = []
    for q in qs:
        pool = [e for e in CATIONS[q] if e != anion and e not in elements]
        if not pool:
            return None
        elements.append(pool[rng.integers(len(pool))])
    return [*elements, anion], counts


def _intermetallic(rng: np.random.Generator) -> tuple[list[str], list[int]]:
    k = int(rng.choice([1, 2, 3], p=[0.1, 0.6, 0.3]))
    elements = rng.choice(METALS, size=k, replace=False).tolist()
    ratios = INTERMETALLIC_RATIOS[k]
    return elements, list(ratios[rng.integers(len(ratios))])


def draw_composition(rng: np.random.Generator) -> tuple[list[str], list[int]]:
    """(species, counts per formula unit), e.g. (["Ca", "Ti", "O"], [1, 1, 3])."""
    while True:
        family = FAMILIES[rng.choice(len(FAMILIES), p=FAMILY_WEIGHTS)]
        out = _intermetallic(rng) if family == "intermetallic" else _ionic(family, rng)
        if out is not None:
            return out


def wyckoff_table(group) -> list[tuple[int, str, int]]:
    """(multiplicity, letter, degrees of freedom) of each Wyckoff position of a pyxtal Group."""
    return [(int(w.multiplicity), str(w.letter), int(w.get_dof())) for w in group.Wyckoff_positions]


def _fill(
    n: int,
    table: Sequence[tuple[int, str, int]],
    used: set[int],
    rng: np.random.Generator,
    budget: list[int],
) -> list[int] | None:
    """Indices of Wyckoff positions whose multiplicities sum to ``n`` (randomised search).

    Positions without freedom (dof 0) hold one orbit only, so they are taken from ``used``.
    Larger positions are tried first more often (weight ~ multiplicity): few orbits per species,
    as in most real crystals.
    """
    if n == 0:
        return []
    cands = [k for k, (m, _, d) in enumerate(table) if m <= n and (d > 0 or k not in used)]
    if not cands:
        return None
    mult = np.array([table[k][0] for k in cands], dtype=float)
    order = np.argsort(-(np.log(mult) + rng.gumbel(size=len(cands))))
    for j in order:
        budget[0] -= 1
        if budget[0] < 0:
            return None
        k = cands[j]
        fixed = table[k][2] == 0
        if fixed:
            used.add(k)
        rest = _fill(n - table[k][0], table, used, rng, budget)
        if rest is not None:
            return [k, *rest]
        if fixed:
            used.discard(k)
    return None


def assign_sites(
    table: Sequence[tuple[int, str, int]],
    num_ions: Sequence[int],
    rng: np.random.Generator,
    general: bool = False,
    max_nodes: int = 300,
) -> list[list[str]] | None:
    """Wyckoff labels (e.g. ``["4a", "8c"]``) per species for ``num_ions`` atoms, or None.

    ``general``: one species (drawn among those with enough atoms) takes one orbit of the
    general position. Structures with special positions only often have a higher symmetry
    than the group they were built in (R-3 -> R-3m, I4/m -> I4/mmm).
    """
    used: set[int] = set()
    budget = [max_nodes]
    out: list[list[str]] = [[] for _ in num_ions]
    left = [int(n) for n in num_ions]
    if general:
        g = int(np.argmax([m for m, _, _ in table]))
        able = [s for s, n in enumerate(left) if n >= table[g][0]]
        if not able:
            return None
        s = able[rng.integers(len(able))]
        out[s].append(f"{table[g][0]}{table[g][1]}")
        left[s] -= table[g][0]
    for s in sorted(range(len(left)), key=lambda s: -left[s]):
        picks = _fill(left[s], table, used, rng, budget)
        if picks is None:
            return None
        out[s] += [f"{table[k][0]}{table[k][1]}" for k in picks]
    return out


def choose_cell(
    table: Sequence[tuple[int, str, int]],
    counts: Sequence[int],
    max_atoms: int,
    rng: np.random.Generator,
    general: bool = False,
) -> tuple[list[int], list[list[str]]] | None:
    """Atoms per species in the conventional cell (Z x counts) and their Wyckoff positions.

    Z is drawn with weight 1/Z among the values that keep the cell within ``max_atoms`` (small
    cells are favoured); the first Z whose counts fit the group's positions (with an orbit on
    the general position if ``general``) wins. None if none fits.
    """
    per_fu = sum(counts)
    zs = np.arange(1, max_atoms // per_fu + 1)
    if len(zs) == 0:
        return None
    order = zs[np.argsort(-(-np.log(zs) + rng.gumbel(size=len(zs))))]
    smallest = min(m for m, _, _ in table)
    for z in order.tolist():
        num_ions = [z * c for c in counts]
        if min(num_ions) < smallest:
            continue
        sites = assign_sites(table, num_ions, rng, general=general)
        if sites is not None:
            return num_ions, sites
    return None
