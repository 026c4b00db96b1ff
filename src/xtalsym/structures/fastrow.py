"""Artifact rows straight from arrays: the same row as :func:`.standard.structure_row`, faster.

:func:`row_from_cell` runs the steps of ``structure_row(Structure(lattice, species, frac))``
(spglib's standardised cell, ``Lattice.from_parameters`` orientation, wrapping, re-labelling
the stored cell at ``symprec``) on numpy arrays, and writes the ``structure`` column as the
exact JSON of ``Structure.to_json()`` without building pymatgen sites. Equality with
``structure_row`` is tested (tests/test_synthetic_fast.py).
"""

from __future__ import annotations

import json
from collections import Counter
from functools import cache
from typing import Any

import numpy as np
import spglib
from pymatgen.core import Composition, Element, Lattice

from .outcomes import Skip
from .standard import _quiet_spglib, _spglib_cell, artifact_row, structure_row


@cache
def _symbol(z: int) -> str:
    return Element.from_Z(int(z)).symbol


def _dataset(cell: tuple[np.ndarray, np.ndarray, np.ndarray], symprec: float) -> Any:
    try:
        with _quiet_spglib():
            ds = spglib.get_symmetry_dataset(cell, symprec=symprec)
    except Exception as e:  # spglib >= 2.5 may raise SpglibError instead of returning None
        raise Skip("symmetry_failed", str(e)) from e
    if ds is None:
        raise Skip("symmetry_failed", f"spglib: {spglib.get_error_message()}")
    return ds


def standard_cell(
    lattice: np.ndarray, frac: np.ndarray, numbers: np.ndarray, symprec: float
) -> tuple[Lattice, np.ndarray, np.ndarray, Any]:
    """(lattice, wrapped fractional coordinates, atomic numbers) of :func:`.standardise`,
    and spglib's dataset of the input cell."""
    ds = _dataset((lattice, frac, numbers), symprec)
    std = np.asarray(ds.std_lattice, dtype=np.float64)
    pos = np.asarray(ds.std_positions, dtype=np.float64)
    if np.linalg.det(std) < 0:
        pos = -pos
    lat = Lattice(std)
    out = Lattice.from_parameters(*lat.abc, *lat.angles)
    pos = np.round(pos, 10) % 1.0
    pos[pos >= 1.0 - 1e-10] = 0.0
    return out, pos, np.asarray(ds.std_types, dtype=int), ds


def structure_json(lattice: Lattice, frac: np.ndarray, symbols: list[str]) -> str:
    """``Structure(lattice, symbols, frac).to_json()`` for ordered elemental sites."""
    lat = lattice.as_dict(verbosity=1)
    del lat["@module"], lat["@class"]
    sites = [
        {
            "species": [{"element": s, "occu": 1}],
            "abc": f.tolist(),
            "properties": {},
            "label": s,
            "xyz": lattice.get_cartesian_coords(f).tolist(),
        }
        for s, f in zip(symbols, np.asarray(frac, dtype=np.float64), strict=True)
    ]
    d = {
        "@module": "pymatgen.core.structure",
        "@class": "Structure",
        "charge": 0.0,
        "lattice": lat,
        "properties": {},
        "sites": sites,
        "@version": None,
    }
    return json.dumps(d)


def row_from_cell(
    lattice: np.ndarray,
    frac: np.ndarray,
    numbers: np.ndarray,
    id: str,  # noqa: A002 - the artifact's column name
    source: str,
    symprec: float,
    *,
    max_sites: int | None = None,
    classes: frozenset[int] | set[int] | None = None,
    built_in: int | None = None,
) -> dict[str, Any]:
    """``structure_row`` of the ordered crystal (lattice rows in Å, fractional coordinates,
    atomic numbers); raises the same :class:`Skip` reasons.

    ``built_in``: the space group whose operations placed every atom exactly (the synthetic
    generator's). When spglib finds that group, idealising is a no-op and the stored cell is
    the analysed crystal after a rigid motion and a change of setting, so its label is the
    first call's and the second spglib call (half of the labelling cost) is skipped. The
    prototype's Wyckoff letters then come from the first call too: the same orbits, but where
    the group's normalizer maps positions onto each other (1a, 1b, 1c of P3m1 and P-6m2;
    0.6 % of the default's rows) possibly an equivalent choice of letters.
    """
    try:
        lat, pos, types, ds = standard_cell(lattice, frac, numbers, symprec)
    except Skip:
        raise
    except Exception as e:  # spglib could not refine this cell
        raise Skip("symmetry_failed", f"{type(e).__name__}: {e}") from e
    if max_sites is not None and len(pos) > max_sites:
        raise Skip("too_many_sites", f"{len(pos)} sites > {max_sites}")
    if built_in is None or int(ds.number) != int(built_in):
        ds = _dataset((lat.matrix, pos, types), symprec)
    number = int(ds.number)
    if classes is not None and number not in classes:
        raise Skip("outside_class_set", f"space group {number}")
    symbols = [_symbol(z) for z in types.tolist()]
    formula = Composition(dict(Counter(symbols))).reduced_formula
    return artifact_row(
        id, source, formula, ds, lat, len(pos), structure_json(lat, pos, symbols)
    )  # fmt: skip


def row_from_structure(
    structure: Any,
    id: str,  # noqa: A002 - the artifact's column name
    source: str,
    symprec: float,
    *,
    max_sites: int | None = None,
    classes: frozenset[int] | set[int] | None = None,
    setting: str = "ita",
) -> dict[str, Any]:
    """:func:`.standard.structure_row` of a pymatgen Structure, the same row: through
    :func:`row_from_cell` for an ordered structure in the ``ita`` setting (no pymatgen sites
    or JSON encoder for the stored cell), else ``structure_row`` itself."""
    if setting != "ita" or not structure.is_ordered:
        return structure_row(structure, id, source, symprec, max_sites=max_sites,
                             classes=classes, setting=setting)  # fmt: skip
    return row_from_cell(*_spglib_cell(structure), id, source, symprec, max_sites=max_sites,
                         classes=classes)  # fmt: skip
