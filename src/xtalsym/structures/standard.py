"""Labelling (spglib), the one standard setting every later stage relies on, and artifact rows.

Standard setting: the **ITA standard setting** of the structure's space group, spglib's
standardized conventional cell for the group's default Hall setting (monoclinic unique axis b,
cell choice 1; orthorhombic in the standard abc setting, e.g. P2_1/c not P2_1/a, Pnma not Pbnm;
hexagonal axes for rhombohedral groups; origin choice 2 where there are two), so that the glide
and screw axes of one space group always lie along the same cell axes. The cell is then
re-expressed with ``Lattice.from_parameters(a, b, c, alpha, beta, gamma)``, which fixes the
Cartesian frame:

* **c along z**;
* **a in the xz plane** (a along x whenever beta = 90 deg);
* b completes the right-handed set (b along y for orthogonal cells).

So for orthorhombic, tetragonal and cubic cells x, y, z are the zone axes [100], [010], [001];
for hexagonal and trigonal (hexagonal axes) cells x is [100], y is [120], z is [001]; for
monoclinic and triclinic cells only z is a lattice direction ([001]).
"""

from __future__ import annotations

import contextlib
import logging
import math
import warnings
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import spglib
from pymatgen.core import DummySpecies, Element, Lattice, Structure

from ..spacegroups import crystal_system
from .contacts import closest_contact
from .outcomes import Skip

logger = logging.getLogger(__name__)

#: Element of each atomic number (spglib's types are the Z of the ordered species).
_ELEMENTS = {el.Z: el for el in Element}

DEFAULT_SYMPREC = 0.01  # Å

# Physical sanity bounds for a cell (absurd_cell): generous, they only catch broken inputs.
# No density bound: dense hydrides and open frameworks are real; atoms too close for any
# crystal are overlapping_atoms (.contacts).
MIN_LENGTH = 1.0  # Å, shortest cell edge
MAX_LENGTH = 300.0  # Å, longest cell edge

ARTIFACT_COLUMNS = (
    "id", "source", "formula", "spacegroup", "symbol", "crystal_system", "n_sites",
    "a", "b", "c", "alpha", "beta", "gamma", "prototype", "structure",
)  # fmt: skip


@contextlib.contextmanager
def _quiet_spglib() -> Iterator[None]:
    """Silence spglib >= 2.5's per-call DeprecationWarning about its old error handling."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Set OLD_ERROR_HANDLING", DeprecationWarning)
        yield


def _spglib_cell(structure: Structure) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lattice, fractional coordinates, integer types) of an ordered structure for spglib."""
    if not structure.is_ordered:
        raise ValueError("spglib needs an ordered structure (order partial occupancies first)")
    numbers = np.array([site.specie.Z for site in structure], dtype=int)
    return structure.lattice.matrix, structure.frac_coords, numbers


def symmetry_dataset(structure: Structure, symprec: float = DEFAULT_SYMPREC) -> Any:
    """spglib's symmetry dataset of an ordered structure; raises Skip(symmetry_failed)."""
    try:
        with _quiet_spglib():
            ds = spglib.get_symmetry_dataset(_spglib_cell(structure), symprec=symprec)
    except Exception as e:  # spglib >= 2.5 may raise SpglibError instead of returning None
        raise Skip("symmetry_failed", str(e)) from e
    if ds is None:
        raise Skip("symmetry_failed", f"spglib: {spglib.get_error_message()}")
    return ds


def label(structure: Structure, symprec: float = DEFAULT_SYMPREC) -> tuple[int, str]:
    """spglib's space group of ``structure`` at ``symprec`` (Å): (number, Hermann-Mauguin symbol)."""
    ds = symmetry_dataset(structure, symprec)
    return int(ds.number), str(ds.international)


SETTINGS = ("ita", "pymatgen")


def standardise(
    structure: Structure, symprec: float = DEFAULT_SYMPREC, setting: str = "ita"
) -> Structure:
    """The conventional cell in the ITA standard setting, in the frame of the module docstring.

    ``ita``: spglib's standardized conventional cell (``std_lattice``, ``std_positions``,
    idealised and symmetrised at ``symprec`` Å) of the default Hall setting of the group.
    ``pymatgen``: ``get_conventional_standard_structure()`` instead, which orders the axes by
    length, so one group comes in several settings (P2_1/c and P2_1/a, Pnma and Pbnm); kept
    for the ablation. Fractional coordinates wrapped into [0, 1); site properties dropped.
    Raises Skip(symmetry_failed).
    """
    if setting == "pymatgen":
        from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

        with _quiet_spglib():
            conv = SpacegroupAnalyzer(
                structure, symprec=symprec
            ).get_conventional_standard_structure()
        lattice, frac = conv.lattice.matrix, conv.frac_coords
        types = [site.specie.Z for site in conv]
    elif setting == "ita":
        ds = symmetry_dataset(structure, symprec)
        lattice = np.asarray(ds.std_lattice, dtype=np.float64)
        frac = np.asarray(ds.std_positions, dtype=np.float64)
        types = ds.std_types
    else:
        raise ValueError(f"setting must be one of {', '.join(SETTINGS)}, got {setting!r}")
    # A left-handed basis (-a, -b, -c) has the same parameters: flip the coordinates instead of
    # mirroring the crystal, which would swap enantiomorphic groups (P3_1 <-> P3_2).
    if np.linalg.det(lattice) < 0:
        frac = -frac
    lat = Lattice(lattice)
    lattice = Lattice.from_parameters(*lat.abc, *lat.angles)
    frac = np.round(frac, 10) % 1.0
    frac[frac >= 1.0 - 1e-10] = 0.0
    species = [_ELEMENTS[int(z)] for z in types]
    return Structure(lattice, species, frac)


def order_majority(structure: Structure) -> Structure:
    """Keep the majority species of each site (occupancy set to 1); drop mostly-vacant sites.

    Ties go to the first species by (-occupancy, symbol), so the result never depends on the
    order of the file. Sites then closer than 0.05 Å are merged.
    """
    species, coords = [], []
    for site in structure:
        items = sorted(site.species.items(), key=lambda kv: (-kv[1], str(kv[0])))
        sp, occ = items[0]
        if 1.0 - site.species.num_atoms > occ:
            continue  # the vacancy is the majority
        species.append(sp)
        coords.append(site.frac_coords)
    if not species:
        raise Skip("partial_occupancy", "every site is mostly vacant")
    out = Structure(structure.lattice, species, coords)
    out.merge_sites(tol=0.05, mode="delete")
    return out


def check_species(structure: Structure) -> None:
    """Raise Skip(unknown_element) when a site holds a species that is not an element."""
    for sp in structure.composition:
        if isinstance(sp, DummySpecies) or not hasattr(sp, "Z"):
            raise Skip("unknown_element", str(sp))


def check_cell(structure: Structure) -> None:
    """Raise Skip for a structure outside the physical bounds of this module.

    ``absurd_cell``: non-finite lattice, cell edges or angles out of range, or coplanar cell
    vectors; ``bad_coordinates``: non-finite coordinates; ``bad_occupancy``: a non-finite or
    negative occupancy, or a site summing to more than 1; ``overlapping_atoms``: two sites (or
    a site and its periodic image) closer than half their summed covalent radii
    (:func:`.contacts.closest_contact`).
    """
    lat = structure.lattice
    n = len(structure)
    if n == 0:
        raise Skip("unparsable", "no atoms")
    if not np.all(np.isfinite(lat.matrix)):
        raise Skip("absurd_cell", "non-finite lattice vectors")
    abc = np.array(lat.abc)
    if not np.all(np.isfinite(abc)) or abc.min() < MIN_LENGTH or abc.max() > MAX_LENGTH:
        raise Skip("absurd_cell", f"cell lengths {np.round(abc, 3).tolist()} Å")
    angles = np.array(lat.angles)
    if not np.all(np.isfinite(angles)) or angles.min() <= 0 or angles.max() >= 180:
        raise Skip("absurd_cell", f"cell angles {np.round(angles, 3).tolist()} deg")
    if not math.isfinite(lat.volume) or not lat.volume > 1e-6 * float(np.prod(abc)):
        raise Skip("absurd_cell", f"cell volume {lat.volume:.3g} Å³ (coplanar cell vectors)")
    frac = structure.frac_coords
    if not np.all(np.isfinite(frac)):
        i = int(np.argwhere(~np.isfinite(frac))[0, 0])
        raise Skip("bad_coordinates", f"site {i} ({structure[i].species}) at {frac[i].tolist()}")
    occ = np.array([sum(site.species.values()) for site in structure])
    each = np.array([o for site in structure for o in site.species.values()])
    if not np.all(np.isfinite(each)) or each.min() < 0 or occ.max() > 1 + 1e-6:
        i = int(np.argmax(~np.isfinite(occ) | (occ > 1 + 1e-6) | (occ < 0)))
        raise Skip("bad_occupancy", f"site {i} ({structure[i].species}) occupancy {occ[i]:g}")
    clash = closest_contact(structure)
    if clash is not None:
        i, j, d, limit = clash
        pair = f"site {i} ({structure[i].species}) and its periodic image" if i == j else (
            f"sites {i} ({structure[i].species}) and {j} ({structure[j].species})")  # fmt: skip
        raise Skip("overlapping_atoms", f"{pair} {d:.3f} Å apart (under {limit:.2f} Å, half "
                   "their summed covalent radii)")  # fmt: skip


def prototype(number: int, wyckoffs: list[str], equivalent_atoms: np.ndarray) -> str:
    """Space group + sorted Wyckoff letters of the occupied orbits, e.g. ``62_ccd`` (CaTiO3)."""
    orbits = sorted({int(i) for i in equivalent_atoms})
    return f"{number}_" + "".join(sorted(wyckoffs[i] for i in orbits))


def centring_factor(symbol: str) -> int:
    """Lattice points per conventional cell from the centring letter of a HM symbol."""
    return {"P": 1, "A": 2, "B": 2, "C": 2, "I": 2, "R": 3, "F": 4}[symbol[0]]


def structure_row(
    structure: Structure,
    id: str,  # noqa: A002 - the artifact's column name
    source: str,
    symprec: float = DEFAULT_SYMPREC,
    *,
    max_sites: int | None = None,
    classes: frozenset[int] | set[int] | None = None,
    setting: str = "ita",
) -> dict[str, Any]:
    """One row of structures.parquet: standardise ``structure`` and label the stored cell.

    The label is spglib's on the standardised cell that is stored, so re-labelling the
    ``structure`` column always gives ``spacegroup``. Raises :class:`Skip` for
    ``too_many_sites`` (with ``max_sites``), ``outside_class_set`` (with ``classes``) and
    ``symmetry_failed``.
    """
    try:
        std = standardise(structure, symprec, setting)
    except Skip:
        raise
    except Exception as e:  # spglib could not refine this cell
        raise Skip("symmetry_failed", f"{type(e).__name__}: {e}") from e
    if max_sites is not None and len(std) > max_sites:
        raise Skip("too_many_sites", f"{len(std)} sites > {max_sites}")
    ds = symmetry_dataset(std, symprec)
    number = int(ds.number)
    if classes is not None and number not in classes:
        raise Skip("outside_class_set", f"space group {number}")
    return artifact_row(
        id, source, std.composition.reduced_formula, ds, std.lattice, len(std), std.to_json()
    )


def artifact_row(
    id: str,  # noqa: A002 - the artifact's column name
    source: str,
    formula: str,
    ds: Any,
    lattice: Any,
    n_sites: int,
    structure_json: str,
) -> dict[str, Any]:
    """The structures.parquet row of a labelled, stored cell (``ds``: its spglib dataset,
    ``lattice``: its pymatgen Lattice, ``structure_json``: its Structure JSON)."""
    number = int(ds.number)
    return {
        "id": id,
        "source": source,
        "formula": formula,
        "spacegroup": number,
        "symbol": str(ds.international),
        "crystal_system": crystal_system(number),
        "n_sites": int(n_sites),
        "a": float(lattice.a),
        "b": float(lattice.b),
        "c": float(lattice.c),
        "alpha": float(lattice.alpha),
        "beta": float(lattice.beta),
        "gamma": float(lattice.gamma),
        "prototype": prototype(number, list(ds.wyckoffs), np.asarray(ds.equivalent_atoms)),
        "structure": structure_json,
    }


def read_structure_file(
    path: str | Path, *, max_file_mb: float | None = -1, timeout_s: float | None = -1
) -> Structure:
    """Read any structure file pymatgen understands (CIF, .cif.gz, POSCAR, ...).

    Returns the structure as written (partial occupancies kept); pymatgen's warnings about it
    (an element guessed from a site label, merged duplicate rows) are logged, naming the file,
    and kept in ``structure.properties["read_warnings"]``. Raises
    ``ValueError("<path>: <reason>")`` for a missing, empty, oversized, unreadable or corrupt
    file, a CIF error (what and where: line or tag, :mod:`.cifscan`), a parse running past
    ``timeout_s``, sites that name no chemical element, and non-physical cells, coordinates,
    occupancies or overlapping atoms (:func:`check_cell`). ``max_file_mb`` and ``timeout_s``
    default (-1) to the config schema's ``structures.cif_dir`` values; None means no limit.
    """
    from ..config import schema_default
    from .cifread import read_cif_structure, read_cif_text, shorten
    from .parallel import TimeLimitExceeded, time_limit

    path = Path(path)
    if max_file_mb == -1:
        max_file_mb = schema_default("structures", "cif_dir", "max_file_mb")
    if timeout_s == -1:
        timeout_s = schema_default("structures", "cif_dir", "timeout_s")
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    is_cif = path.name.lower().endswith((".cif", ".cif.gz", ".mcif"))
    notes: list[str] = []
    try:
        with time_limit(timeout_s):
            # The text first, for every format: size and gzip limits, empty and binary files.
            text = read_cif_text(path, int(max_file_mb * 1e6) if max_file_mb else None)
            if not text.strip():
                raise Skip("empty_file")
            if is_cif:
                structure, notes = read_cif_structure(text)
            else:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    try:
                        structure = Structure.from_file(path)
                    except Exception as e:
                        raise Skip("unparsable", shorten(f"{type(e).__name__}: {e}")) from e
                notes = [shorten(str(w.message)) for w in caught
                         if issubclass(w.category, UserWarning)]  # fmt: skip
                check_species(structure)
            check_cell(structure)
    except Skip as e:
        what = {"empty_file": "empty file", "unparsable": "not a readable structure"}.get(
            e.reason, e.reason.replace("_", " ")
        )
        raise ValueError(f"{path}: {what}" + (f" ({e.detail})" if e.detail else "")) from e
    except TimeLimitExceeded as e:
        raise ValueError(f"{path}: reading took too long ({e}; limit timeout_s)") from None
    except MemoryError as e:
        raise ValueError(f"{path}: out of memory while reading") from e
    except Exception as e:  # a case no check foresaw: still this file's error, by name
        raise ValueError(f"{path}: cannot be read ({type(e).__name__}: {e})") from e
    for note in dict.fromkeys(notes):
        logger.warning("%s: %s", path, note)
    structure.properties["read_warnings"] = list(dict.fromkeys(notes))
    return structure


@lru_cache(maxsize=1)
def _symbols() -> dict[int, str]:
    out: dict[int, str] = {}
    for hall in range(530, 0, -1):  # the first Hall setting of each group is its standard one
        with _quiet_spglib():
            t = spglib.get_spacegroup_type(hall)
        out[int(t.number)] = str(t.international_short)
    return out


def spacegroup_symbol(number: int) -> str:
    """Short Hermann-Mauguin symbol of space group ``number`` (spglib's, e.g. ``P2_1/c``)."""
    return _symbols()[int(number)]
