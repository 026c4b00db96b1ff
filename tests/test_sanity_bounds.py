"""Physical sanity bounds (issue 35): no published structure refused, garbage still refused.

The dense structures of tests/data/dense/ (superhydrides and atomic hydrogen at megabar
pressure, an open framework) are written from the literature, references in each file.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest
from pymatgen.core import Lattice, Structure

from xtalsym import config
from xtalsym.structures import label, read_structure_file, run_structures
from xtalsym.structures.contacts import MIN_CONTACT, closest_contact
from xtalsym.structures.outcomes import Skip
from xtalsym.structures.standard import check_cell

ROOT = Path(__file__).resolve().parents[1]
DENSE = ROOT / "tests" / "data" / "dense"
#: file -> (spglib space group, reduced formula)
EXPECTED = {
    "LaH10_Fm-3m.cif": (225, "LaH10"),
    "H3S_Im-3m.cif": (229, "H3S"),
    "H_I41amd.cif": (141, "H2"),
    "sodalite_P-43n.cif": (218, "Na4Al3Si3ClO12"),
}


def test_every_dense_file_has_its_references():
    assert sorted(p.name for p in DENSE.glob("*.cif")) == sorted(EXPECTED)
    for p in DENSE.glob("*.cif"):
        text = p.read_text()
        assert text.startswith("#") and "doi:10." in text.split("_symmetry_space_group")[0]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_dense_structures_pass_the_reader_of_evaluate(name):
    s = read_structure_file(DENSE / name)  # the reader `evaluate --structures` uses
    assert (label(s, 0.01)[0], s.composition.reduced_formula) == EXPECTED[name]


def test_denser_than_the_old_volume_bound_and_still_kept(tmp_path):
    """Atomic hydrogen at ~500 GPa has about half the 2 Å³ per atom the old bound asked for;
    the cif_dir stage keeps every dense file too."""
    s = read_structure_file(DENSE / "H_I41amd.cif")
    assert s.volume / len(s) < 1.5
    cfg = config.validate({"classes": [141, 218, 225, 229],
                           "structures": {"sources": ["cif_dir"], "workers": 1,
                                          "cif_dir": {"path": str(DENSE)}}})  # fmt: skip
    run_structures(cfg, tmp_path / "out", progress=False)
    oc = pd.read_csv(tmp_path / "out" / "outcomes.csv", keep_default_na=False)
    assert sorted(oc["name"]) == sorted(EXPECTED)
    assert (oc["status"] == "kept").all(), oc.to_dict("records")


def test_no_published_structure_of_data_real_is_refused(caplog):
    caplog.set_level(logging.ERROR)
    files = sorted((ROOT / "data" / "real").glob("*.cif"))
    assert len(files) > 100
    refused = []
    for f in files:
        try:
            read_structure_file(f)
        except ValueError as e:
            refused.append(str(e))
    assert refused == []


def _skip_of(s: Structure) -> Skip | None:
    try:
        check_cell(s)
    except Skip as e:
        return e
    return None


@pytest.mark.parametrize(
    ("structure", "reason", "detail"),
    [
        (Structure(Lattice.cubic(4.0), ["Na", "Cl", "Cl"], [[0, 0, 0], [0, 0, 0], [.5, .5, .5]]),
         "overlapping_atoms", "sites 0 (Na1) and 1 (Cl1) 0.000 Å apart"),
        (Structure(Lattice.cubic(5.0), ["Na", "Cl"], [[0, 0, 0], [0.02, 0, 0]]),
         "overlapping_atoms", "0.100 Å apart (under 1.34 Å, half their summed covalent radii)"),
        (Structure(Lattice.cubic(1.2), ["Na"], [[0, 0, 0]]),
         "overlapping_atoms", "site 0 (Na1) and its periodic image 1.200 Å apart"),
        (Structure(Lattice.cubic(5.0), ["Fe"] * 40, [[k / 40, 0, 0] for k in range(40)]),
         "overlapping_atoms", "0.125 Å apart"),
        (Structure(Lattice.cubic(0.5), ["H"], [[0, 0, 0]]), "absurd_cell", "cell lengths"),
        (Structure(Lattice.cubic(500.0), ["H"], [[0, 0, 0]]), "absurd_cell", "cell lengths"),
        (Structure(Lattice.from_parameters(3, 3, 3, 60, 60, 120), ["Na"], [[0, 0, 0]]),
         "absurd_cell", "coplanar"),
    ],
)  # fmt: skip
def test_garbage_cells_fail_with_a_clear_reason(structure, reason, detail):
    e = _skip_of(structure)
    assert e is not None and e.reason == reason
    assert detail in e.detail


def test_the_bound_is_per_element_pair():
    """0.45 Å is a broken file for two oxygens but a far-compressed H-H pair's business."""
    oo = Structure(Lattice.cubic(6.0), ["O", "O"], [[0, 0, 0], [0.075, 0, 0]])
    hh = Structure(Lattice.cubic(6.0), ["H", "H"], [[0, 0, 0], [0.075, 0, 0]])
    assert _skip_of(oo).reason == "overlapping_atoms"
    assert _skip_of(hh) is None
    # just above and below MIN_CONTACT x the summed radii of Na and Cl (1.66 + 1.02 Å)
    limit = MIN_CONTACT * (1.66 + 1.02)
    for d, clash in ((1.01 * limit, False), (0.99 * limit, True)):
        s = Structure(Lattice.cubic(8.0), ["Na", "Cl"], [[0, 0, 0], [d / 8.0, 0, 0]])
        assert (closest_contact(s) is not None) is clash, d


def test_split_positions_are_alternatives_not_contacts():
    """Two half-occupied sites 0.4 Å apart are one atom's two positions (a published
    disordered structure); fully occupied, they are two atoms on top of each other."""
    split = Structure(Lattice.cubic(6.0), [{"O": 0.5}, {"O": 0.5}, "Mg"],
                      [[0, 0, 0], [0.4 / 6.0, 0, 0], [0.5, 0.5, 0.5]])  # fmt: skip
    assert _skip_of(split) is None
    full = Structure(Lattice.cubic(6.0), ["O", "O", "Mg"],
                     [[0, 0, 0], [0.4 / 6.0, 0, 0], [0.5, 0.5, 0.5]])  # fmt: skip
    assert _skip_of(full).reason == "overlapping_atoms"
