"""Vectorised Wyckoff placement: orbit tables, lattices within a crystal system, contacts.

An orbit is expanded from its Wyckoff position's affine maps (pyxtal's tables, parsed from its
data file once per group and process): ``x_k = R_k p + t_k`` for every operation k at once, with p the drawn
free point. Orbits are placed one after another; each draws ``candidates`` free points at
once and keeps the first whose atoms are no closer than ``CONTACT`` x the summed radii to
each other, to their periodic images and to the atoms already placed. Placing orbit by orbit
turns the acceptance of a whole crystal (a product over all pairs) into one per orbit.
"""

from __future__ import annotations

import ast
import csv
import importlib.util
import re
from dataclasses import dataclass
from fractions import Fraction
from functools import cache, lru_cache
from pathlib import Path

import numpy as np

from ..spacegroups import crystal_system

CONTACT = 0.75  # shortest allowed distance / summed covalent radii
#: Lattice translations tried for the shortest image of a difference vector.
OFFSETS = np.array([[i, j, k] for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1)], float)
_ZERO = 13  # index of (0, 0, 0) in OFFSETS


@dataclass(frozen=True)
class GroupTable:
    """Wyckoff positions of one space group in pyxtal's order (index 0: general position)."""

    number: int
    system: str
    mult: np.ndarray  # (n_wp,) multiplicities in the conventional cell
    letters: tuple[str, ...]
    dof: np.ndarray  # (n_wp,) free parameters
    rot: tuple[np.ndarray, ...]  # per position (m, 3, 3): x_k = rot[k] @ p + trans[k]
    trans: tuple[np.ndarray, ...]  # per position (m, 3)

    def index(self, label: str) -> int:
        """Index of a Wyckoff label such as ``"4a"``."""
        return self.letters.index(label.lstrip("0123456789"))


LETTERS = "abcdefghijklmnopqrstuvwxyzA"  # ITA Wyckoff letters (Pmmm's general position: A)


def pyxtal_data(name: str) -> Path:
    """Path of a file in pyxtal's ``database`` folder, found without importing pyxtal (its
    import takes seconds; only its tables are needed)."""
    spec = importlib.util.find_spec("pyxtal")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("pyxtal is needed for its Wyckoff tables")
    return Path(next(iter(spec.submodule_search_locations))) / "database" / name


@lru_cache(maxsize=1)
def _wyckoff_strings() -> dict[int, str]:
    csv.field_size_limit(1 << 24)
    with pyxtal_data("wyckoff_list.csv").open() as fh:
        rows = list(csv.reader(fh))
    return {int(r[0]): r[1] for r in rows[1:] if r[0] and r[1]}


def _affine(xyz: str) -> np.ndarray:
    """(3, 4) affine map of an operation string such as ``"-y+1/2, x-y, z+1/4"``."""
    out = np.zeros((3, 4))
    for row, expr in enumerate(xyz.replace(" ", "").split(",")):
        for sign, num, var in re.findall(r"([+-]?)([\d./]*)([xyz]?)", expr):
            if not num and not var:
                continue
            value = float(Fraction(num)) if num else 1.0
            value = -value if sign == "-" else value
            out[row, "xyz".index(var) if var else 3] += value
    return out


@cache
def group_table(sg: int) -> GroupTable:
    """The Wyckoff table of space group ``sg``: pyxtal's ITA-setting list (database/
    wyckoff_list.csv, general position first), parsed once per group and process."""
    positions = ast.literal_eval(_wyckoff_strings()[int(sg)])
    aff = [np.array([_affine(op) for op in wp]) for wp in positions]
    n = len(aff)
    return GroupTable(
        number=int(sg),
        system=crystal_system(sg),
        mult=np.array([len(a) for a in aff], dtype=int),
        letters=tuple(LETTERS[n - 1 - i] for i in range(n)),
        dof=np.array([np.linalg.matrix_rank(a[0, :, :3]) for a in aff], dtype=int),
        rot=tuple(a[:, :, :3] for a in aff),
        trans=tuple(a[:, :, 3] for a in aff),
    )


def orbit(table: GroupTable, wp: int, points: np.ndarray) -> np.ndarray:
    """Fractional coordinates (K, m, 3) in [0, 1) of the orbits of K free points (K, 3)."""
    x = np.einsum("mij,kj->kmi", table.rot[wp], points) + table.trans[wp]
    return x % 1.0


def lattice_matrix(a: float, b: float, c: float, al: float, be: float, ga: float) -> np.ndarray:
    """Row-vector lattice (Å) from parameters (Å, degrees): c along z, a in the xz plane."""
    ca, cb, cg = np.cos(np.radians([al, be, ga]))
    sb = np.sin(np.radians(be))
    # b's direction: cos(angle(b, c)) = ca, cos(angle(a, b)) = cg, a = (a sb, 0, a cb).
    bz = ca
    bx = (cg - ca * cb) / sb
    by = np.sqrt(max(1.0 - bx * bx - bz * bz, 1e-12))
    return np.array([[a * sb, 0.0, a * cb], [b * bx, b * by, b * bz], [0.0, 0.0, c]])


def draw_lattice(system: str, volume: float, rng: np.random.Generator, pseudo: bool = False):
    """Cell parameters (a, b, c in Å, angles in degrees) of ``volume`` Å³ within ``system``.

    Axis ratios are log-normal (sd 0.3 in ln) around 1 (c/a around 1.2 for uniaxial cells);
    monoclinic beta = 90 + |N(0, 12)| deg (<= 125), triclinic angles 90 + N(0, 10) deg.
    ``pseudo``: angles and ratios close to a higher-symmetry metric (0.2-1 deg, 0.4-1.5 % off).
    """
    al = be = ga = 90.0
    if pseudo:
        r = np.exp(rng.choice([-1, 1], size=2) * rng.uniform(0.004, 0.015, size=2))
        dev = rng.choice([-1, 1], size=3) * rng.uniform(0.2, 1.0, size=3)
    else:
        r = np.exp(rng.normal(0.0, 0.3, size=2))
        dev = rng.normal(0.0, 10.0, size=3)
    if system in ("tetragonal", "trigonal", "hexagonal"):
        ratios = (1.0, 1.0, (1.0 if pseudo else 1.2) * r[1])
        if system != "tetragonal":
            ga = 120.0
    elif system == "cubic":
        ratios = (1.0, 1.0, 1.0)
    else:
        ratios = (1.0, r[0], r[1] * (1.0 if pseudo else 1.1))
        if system == "monoclinic":
            be = 90.0 + (abs(dev[1]) if pseudo else min(abs(dev[1]), 35.0))
        elif system == "triclinic":
            al, be, ga = 90.0 + np.clip(dev, -25.0, 25.0)
    ca, cb, cg = np.cos(np.radians([al, be, ga]))
    shape = np.sqrt(max(1 - ca**2 - cb**2 - cg**2 + 2 * ca * cb * cg, 1e-6))
    scale = (volume / (np.prod(ratios) * shape)) ** (1.0 / 3.0)
    a, b, c = (scale * x for x in ratios)
    return float(a), float(b), float(c), float(al), float(be), float(ga)


def _min_d2(diff: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Squared shortest distances (Å²) over the 27 nearest images of fractional ``diff``
    (..., 3); shape (..., 27) before the minimum so that callers may mask images."""
    diff = diff - np.round(diff)
    cart = (diff[..., None, :] + OFFSETS) @ lat
    return np.einsum("...i,...i->...", cart, cart)


def place_orbit(
    table: GroupTable,
    wp: int,
    radius: float,
    placed: np.ndarray,
    placed_r: np.ndarray,
    lat: np.ndarray,
    points: np.ndarray,
) -> np.ndarray | None:
    """Coordinates (m, 3) of the first of the candidate free ``points`` (K, 3) whose orbit
    keeps every contact (to itself, its images and ``placed``) at least ``CONTACT`` x the
    summed radii (Å); None if none does.

    Every atom of an orbit sees the orbit, and the union of orbits already placed, as its
    first atom does (the group maps one onto the other), so only the first atom's contacts
    are checked: (K, m + n) pairs instead of (K, m (m + n)).
    """
    x = orbit(table, wp, points)  # (K, m, 3)
    n_cand, m = x.shape[:2]
    if np.einsum("ij,ij->i", lat, lat).min() < (CONTACT * 2 * radius) ** 2:
        return None  # an atom would touch its own image along a cell edge
    # The orbit's own atoms, then the placed ones; the first atom against all of them.
    others = np.concatenate([x, np.broadcast_to(placed, (n_cand, *placed.shape))], axis=1)
    limit = (CONTACT * np.concatenate([np.full(m, 2 * radius), radius + placed_r])) ** 2
    diff = others - x[:, :1]
    diff -= np.round(diff)
    cart = diff @ lat
    d2 = np.einsum("kni,kni->kn", cart, cart)
    d2[:, 0] = np.inf
    ok = (d2 >= limit).all(axis=1)
    # The screen above takes the nearest image by rounding; confirm the pick over 27 images.
    for k in np.flatnonzero(ok)[:4]:
        d2 = _min_d2(others[k] - x[k, :1], lat)
        d2[0, _ZERO] = np.inf
        if not (d2.min(axis=-1) < limit).any():
            return x[k]
    return None


def shortest_ratio(lat: np.ndarray, frac: np.ndarray, radii: np.ndarray) -> float:
    """Shortest interatomic distance / summed radii of a crystal (periodic images included)."""
    n = len(frac)
    iu, ju = np.triu_indices(n)
    d2 = _min_d2(frac[ju] - frac[iu], lat)
    d2[iu == ju, _ZERO] = np.inf
    ratio = np.sqrt(d2.min(axis=-1)) / (radii[iu] + radii[ju])
    return float(ratio.min())
