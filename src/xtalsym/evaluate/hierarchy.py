"""The symmetry hierarchy above a space group, and probabilities marginalised onto it.

Levels, coarse to fine: crystal system, Bravais lattice, Laue class, point group, diffraction
symbol, space group. Every level is a function of the space-group number, so a model's 72 (or
230) class probabilities give each level its own probability by summing the classes that share
a value (:func:`hierarchy_probabilities`); the predicted value of a level is the argmax of that
marginal, which need not be the value of the most probable space group.

The diffraction symbol is what kinematic diffraction can see of a space group: its Laue group
(Friedel's law adds the inversion, so non-centrosymmetric groups look like their centrosymmetric
partners) and its systematic absences. Both are computed numerically from spglib's symmetry
operations of the group's default Hall setting (the ITA standard setting: monoclinic unique axis
b cell choice 1, origin choice 1, hexagonal axes for R): reflection h is absent for a general
position when some operation (R, t) has h R = h and h . t not an integer, since those terms of
the structure factor then cancel in pairs. Two space groups share a diffraction symbol when both
their Laue rotations (as matrices in the standard basis, so -3m1 and -31m differ) and their
absence patterns on the grid ``-HKL_MAX..HKL_MAX`` agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import numpy as np

from ..spacegroups import crystal_system

#: The levels of the hierarchy, coarse to fine (``space_group`` is the model's own class).
LEVELS: tuple[str, ...] = (
    "crystal_system",
    "bravais_lattice",
    "laue_class",
    "point_group",
    "diffraction_symbol",
    "space_group",
)
#: Largest |h|, |k|, |l| of the grid on which absences are compared (6_1 needs l up to 6).
HKL_MAX = 6

LAUE_OF_POINT_GROUP: dict[str, str] = {
    **dict.fromkeys(("1", "-1"), "-1"),
    **dict.fromkeys(("2", "m", "2/m"), "2/m"),
    **dict.fromkeys(("222", "mm2", "mmm"), "mmm"),
    **dict.fromkeys(("4", "-4", "4/m"), "4/m"),
    **dict.fromkeys(("422", "4mm", "-42m", "4/mmm"), "4/mmm"),
    **dict.fromkeys(("3", "-3"), "-3"),
    **dict.fromkeys(("32", "3m", "-3m"), "-3m"),
    **dict.fromkeys(("6", "-6", "6/m"), "6/m"),
    **dict.fromkeys(("622", "6mm", "-6m2", "6/mmm"), "6/mmm"),
    **dict.fromkeys(("23", "m-3"), "m-3"),
    **dict.fromkeys(("432", "-43m", "m-3m"), "m-3m"),
}
# Pearson letter of each crystal system; trigonal P lattices are hexagonal (hP).
_FAMILY = {
    "triclinic": "a",
    "monoclinic": "m",
    "orthorhombic": "o",
    "tetragonal": "t",
    "trigonal": "h",
    "hexagonal": "h",
    "cubic": "c",
}


@cache
def _first_halls() -> dict[int, int]:
    import spglib

    first: dict[int, int] = {}
    for hall in range(1, 531):
        first.setdefault(int(spglib.get_spacegroup_type(hall).number), hall)
    return first


def default_hall(number: int) -> int:
    """spglib's first Hall number of space group ``number``: the ITA standard setting."""
    number = int(number)
    if not 1 <= number <= 230:
        raise ValueError(f"space-group number must be in 1..230, got {number}")
    return _first_halls()[number]


@cache
def _type(number: int):
    import spglib

    return spglib.get_spacegroup_type(default_hall(number))


def point_group(number: int) -> str:
    """Hermann-Mauguin point group of space group ``number`` (e.g. ``4/mmm``)."""
    return str(_type(number).pointgroup_international)


def laue_class(number: int) -> str:
    """One of the 11 Laue classes (e.g. ``m-3m``)."""
    return LAUE_OF_POINT_GROUP[point_group(number)]


def bravais_lattice(number: int) -> str:
    """Pearson symbol of the Bravais lattice (aP, mP, mS, oP, oS, oI, oF, tP, tI, hR, hP, cP,
    cI, cF); A-, B- and C-centred lattices are all S."""
    letter = str(_type(number).international_short)[0]
    system = crystal_system(number)
    if letter in "ABC":
        letter = "S"
    if system == "trigonal" and letter == "P":
        return "hP"
    return _FAMILY[system] + letter


def hkl_grid(hmax: int = HKL_MAX) -> np.ndarray:
    """Integer reflections (M, 3) with |h|, |k|, |l| <= hmax, 000 left out."""
    r = np.arange(-hmax, hmax + 1)
    g = np.stack(np.meshgrid(r, r, r, indexing="ij"), axis=-1).reshape(-1, 3)
    return g[np.any(g != 0, axis=1)]


def symmetry_operations(number: int) -> tuple[np.ndarray, np.ndarray]:
    """Rotations (n, 3, 3) int and translations (n, 3) of the default Hall setting, centring
    translations included."""
    import spglib

    ops = spglib.get_symmetry_from_database(default_hall(number))
    return np.asarray(ops["rotations"], dtype=np.int64), np.asarray(ops["translations"], float)


def absent_reflections(number: int, hkl: np.ndarray | None = None) -> np.ndarray:
    """Boolean (M,): True where reflection ``hkl[m]`` is systematically absent (general
    position, standard setting). ``hkl`` defaults to :func:`hkl_grid`."""
    hkl = hkl_grid() if hkl is None else np.asarray(hkl, dtype=np.int64).reshape(-1, 3)
    rot, trans = symmetry_operations(number)
    h = hkl.astype(np.float64)
    # h R per distinct rotation (centring repeats each one), exact small integers in float
    urot, inv = np.unique(rot.reshape(len(rot), 9), axis=0, return_inverse=True)
    hr = h[None] @ urot.reshape(-1, 3, 3).astype(np.float64)
    fixed = np.all(np.abs(hr - h[None]) < 0.5, axis=2)[inv.ravel()]  # (n, M)
    phase = trans @ h.T  # (n, M)
    off = np.abs(phase - np.round(phase)) > 1e-6
    return np.any(fixed & off, axis=0)


def _laue_rotations(number: int) -> bytes:
    rot, _ = symmetry_operations(number)
    both = np.unique(np.concatenate([rot, -rot]).reshape(-1, 9), axis=0)
    return both.astype(np.int8).tobytes()


@cache
def _signature(number: int) -> tuple[bytes, bytes]:
    return _laue_rotations(number), np.packbits(absent_reflections(number)).tobytes()


@cache
def _symbol_members() -> dict[tuple[bytes, bytes], tuple[int, ...]]:
    groups: dict[tuple[bytes, bytes], list[int]] = {}
    for n in range(1, 231):
        groups.setdefault(_signature(n), []).append(n)
    return {k: tuple(v) for k, v in groups.items()}


def diffraction_symbol(number: int) -> str:
    """The diffraction symbol of space group ``number``, named by its Laue class and every
    space group (of all 230) that shares it, e.g. ``m-3m (209/216/225)``."""
    members = _symbol_members()[_signature(int(number))]
    return f"{laue_class(number)} ({'/'.join(map(str, members))})"


def level_value(level: str, number: int) -> str:
    """The value of ``level`` (one of :data:`LEVELS`) for space group ``number``."""
    funcs = {
        "crystal_system": crystal_system,
        "bravais_lattice": bravais_lattice,
        "laue_class": laue_class,
        "point_group": point_group,
        "diffraction_symbol": diffraction_symbol,
        "space_group": lambda n: str(int(n)),
    }
    if level not in funcs:
        raise ValueError(f"unknown level {level!r}; choose one of {', '.join(LEVELS)}")
    return funcs[level](int(number))


def level_map(classes: Sequence[int], level: str) -> tuple[list[str], np.ndarray]:
    """Values of ``level`` among ``classes`` (first-appearance order) and each class's index
    into them (K,)."""
    values = [level_value(level, c) for c in classes]
    names = list(dict.fromkeys(values))
    lookup = {v: i for i, v in enumerate(names)}
    return names, np.array([lookup[v] for v in values], dtype=np.int64)


def marginalise(proba: np.ndarray, index: np.ndarray, n_values: int) -> np.ndarray:
    """Sum the columns of ``proba`` (N, K) that share a value: (N, n_values)."""
    onehot = np.zeros((len(index), n_values), dtype=np.float64)
    onehot[np.arange(len(index)), index] = 1.0
    return np.asarray(proba, dtype=np.float64) @ onehot


def hierarchy_probabilities(
    proba: np.ndarray, classes: Sequence[int]
) -> dict[str, tuple[list[str], np.ndarray]]:
    """Level -> (value names, probabilities (N, n_values)) for every level of :data:`LEVELS`.

    ``proba``: (N, K) class probabilities in ``classes`` order (rows sum to 1, and so does
    every level's). For ``xtalsym predict``: report each level's argmax and its probability.
    """
    proba = np.atleast_2d(np.asarray(proba, dtype=np.float64))
    out = {}
    for level in LEVELS:
        names, index = level_map(classes, level)
        out[level] = (names, marginalise(proba, index, len(names)))
    return out


def hierarchy_accuracy(
    y_true: np.ndarray, proba: np.ndarray, classes: Sequence[int]
) -> dict[str, dict[str, float | int]]:
    """Per level: ``accuracy`` of the marginal's argmax, ``from_top1`` (the level of the most
    probable space group), ``n_values`` (distinct values among the classes)."""
    y_true = np.asarray(y_true, dtype=np.int64)
    proba = np.asarray(proba)
    top1 = proba.argmax(axis=1) if len(y_true) else np.zeros(0, np.int64)
    out: dict[str, dict[str, float | int]] = {}
    for level, (names, p) in hierarchy_probabilities(proba, classes).items():
        _, index = level_map(classes, level)
        truth = index[y_true]
        pred = p.argmax(axis=1) if len(y_true) else np.zeros(0, np.int64)
        out[level] = {
            "accuracy": float((pred == truth).mean()) if len(y_true) else 0.0,
            "from_top1": float((index[top1] == truth).mean()) if len(y_true) else 0.0,
            "n_values": len(names),
        }
    return out


def oracle_predictions(classes: Sequence[int], train_counts: np.ndarray) -> np.ndarray:
    """Per class index: the class an oracle that knows only the diffraction symbol picks, i.e.
    the most frequent training class of that symbol (ties: the lowest space-group number)."""
    counts = np.asarray(train_counts, dtype=float)
    _, index = level_map(classes, "diffraction_symbol")
    pick = np.empty(len(classes), dtype=np.int64)
    for s in np.unique(index):
        members = np.flatnonzero(index == s)  # ascending class order
        pick[members] = members[np.argmax(counts[members])]
    return pick


def oracle_accuracy(
    y_true: np.ndarray, classes: Sequence[int], train_counts: np.ndarray
) -> dict[str, float | int]:
    """The physical limit: top-1 of the diffraction-symbol oracle on ``y_true``, and the
    number of diffraction symbols among the classes."""
    y_true = np.asarray(y_true, dtype=np.int64)
    pick = oracle_predictions(classes, train_counts)
    names, _ = level_map(classes, "diffraction_symbol")
    acc = float((pick[y_true] == y_true).mean()) if len(y_true) else 0.0
    return {"accuracy": acc, "n_symbols": len(names), "n_classes": len(classes)}


def hierarchy_summary(proba: np.ndarray, classes: Sequence[int]) -> list[dict[str, object]]:
    """For one prediction (K,): per level, coarse to fine, the most probable ``value`` and its
    ``probability`` (the marginal), as ``xtalsym predict`` reports them."""
    p = np.asarray(proba, dtype=np.float64).reshape(1, -1)
    out: list[dict[str, object]] = []
    for level, (names, q) in hierarchy_probabilities(p, classes).items():
        i = int(np.argmax(q[0]))
        out.append({"level": level, "value": names[i], "probability": float(q[0, i])})
    return out


__all__ = [
    "LEVELS",
    "absent_reflections",
    "bravais_lattice",
    "diffraction_symbol",
    "hierarchy_accuracy",
    "hierarchy_probabilities",
    "hierarchy_summary",
    "laue_class",
    "level_map",
    "oracle_accuracy",
    "oracle_predictions",
    "point_group",
]
