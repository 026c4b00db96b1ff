"""The fast CIF path gives what pymatgen's parser and structure_row give, bit for bit."""

from __future__ import annotations

import gzip
import warnings
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from pymatgen.io.cif import CifParser

from xtalsym.structures import cif, cifparser, standard
from xtalsym.structures.cif import CifSettings, process_file
from xtalsym.structures.cifparser import FastCifParser

from .helpers import ROOT

CIF_ROOTS = [ROOT / "data" / "real", ROOT / "tests" / "data"]
CIFS = sorted(
    p for root in CIF_ROOTS for p in root.rglob("*") if p.name.endswith((".cif", ".cif.gz"))
)


def _text(path: Path) -> str:
    if path.name.endswith(".gz"):
        return gzip.open(path, "rt").read()
    return path.read_text(errors="replace")


def _parse(cls: type, text: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            parser = cls(StringIO(text), occupancy_tolerance=1.01, check_cif=False)
            return parser.parse_structures(primitive=False, on_error="ignore")
        except Exception as e:  # the same failure from both is agreement too
            return f"{type(e).__name__}: {e}"


def test_corpus_is_there():
    assert len(CIFS) > 100


def test_fast_parser_equals_pymatgen():
    for path in CIFS:
        text = _text(path)
        ref, new = _parse(CifParser, text), _parse(FastCifParser, text)
        if isinstance(ref, str):
            assert new == ref, path
            continue
        assert len(new) == len(ref), path
        for a, b in zip(ref, new, strict=True):
            assert np.array_equal(a.frac_coords, b.frac_coords), path
            assert a.labels == b.labels, path
            assert a.as_dict() == b.as_dict(), path


def test_fast_parser_keeps_one_image_per_site():
    # Two rows of one orbit (x and its inversion image -x) in P-1, and a site on the inversion
    # centre: 2 + 1 sites, as pymatgen keeps them.
    text = """data_t
_cell_length_a 4
_cell_length_b 5
_cell_length_c 6
_cell_angle_alpha 90
_cell_angle_beta 100
_cell_angle_gamma 90
_symmetry_space_group_name_H-M 'P -1'
loop_
_symmetry_equiv_pos_as_xyz
'x, y, z'
'-x, -y, -z'
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
Na1 Na 0.1 0.2 0.3
Cl1 Cl 0.5 0.5 0.5
"""
    (ref,), (new,) = _parse(CifParser, text), _parse(FastCifParser, text)
    assert len(new) == len(ref) == 3
    assert np.array_equal(new.frac_coords, ref.frac_coords)


@pytest.mark.parametrize("partial", ["order", "skip"])
def test_fast_rows_equal_structure_row(partial, monkeypatch):
    st = CifSettings(symprec=0.01, max_sites=64, partial_occupancy=partial,
                     classes=tuple(range(1, 231)), timeout_s=60)  # fmt: skip
    fast = {}
    for path in CIFS:
        fast[path] = process_file(path.parent, path.name, "x", st)
    monkeypatch.setattr(cifparser, "FastCifParser", CifParser)
    monkeypatch.setattr(cif, "row_from_structure", standard.structure_row)
    kept = 0
    for path in CIFS:
        ref = process_file(path.parent, path.name, "x", st)
        assert fast[path] == ref, path
        kept += ref["status"] == "kept"
    assert kept > 100
