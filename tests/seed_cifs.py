"""Good CIFs written by hand (textbook structures), the seeds of the fuzz tests.

Each is ``name: (CIF text, spglib space group)``. They carry explicit symmetry operations, as
ICSD and COD files do (a CIF with only a Hermann-Mauguin symbol makes pymatgen build the
group, about a second per file).
"""

from __future__ import annotations

_HEAD = """data_{name}
_chemical_formula_sum '{formula}'
_cell_length_a {a}
_cell_length_b {b}
_cell_length_c {c}
_cell_angle_alpha {al}
_cell_angle_beta {be}
_cell_angle_gamma {ga}
_symmetry_space_group_name_H-M '{hm}'
loop_
_symmetry_equiv_pos_as_xyz
{ops}
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
_atom_site_occupancy
{atoms}
"""


def _cif(name, formula, cell, hm, ops, atoms) -> str:
    a, b, c, al, be, ga = cell
    return _HEAD.format(
        name=name, formula=formula, a=a, b=b, c=c, al=al, be=be, ga=ga, hm=hm,
        ops="\n".join(f"'{op}'" for op in ops),
        atoms="\n".join(" ".join(map(str, row)) for row in atoms),
    )  # fmt: skip


# P4_2/mnm (136): the 16 general positions.
_P42MNM = [
    "x, y, z", "-x, -y, z", "-y+1/2, x+1/2, z+1/2", "y+1/2, -x+1/2, z+1/2",
    "-x+1/2, y+1/2, -z+1/2", "x+1/2, -y+1/2, -z+1/2", "y, x, -z", "-y, -x, -z",
    "-x, -y, -z", "x, y, -z", "y+1/2, -x+1/2, -z+1/2", "-y+1/2, x+1/2, -z+1/2",
    "x+1/2, -y+1/2, z+1/2", "-x+1/2, y+1/2, z+1/2", "-y, -x, z", "y, x, z",
]  # fmt: skip

SEEDS: dict[str, tuple[str, int]] = {
    # Rock salt, conventional cell in P1 (8 atoms): spglib finds Fm-3m.
    "nacl.cif": (_cif("NaCl", "Na Cl", (5.64, 5.64, 5.64, 90, 90, 90), "P 1", ["x, y, z"], [
        ("Na1", "Na", 0, 0, 0, 1), ("Na2", "Na", 0.5, 0.5, 0, 1), ("Na3", "Na", 0.5, 0, 0.5, 1),
        ("Na4", "Na", 0, 0.5, 0.5, 1), ("Cl1", "Cl", 0.5, 0, 0, 1), ("Cl2", "Cl", 0, 0.5, 0, 1),
        ("Cl3", "Cl", 0, 0, 0.5, 1), ("Cl4", "Cl", 0.5, 0.5, 0.5, 1),
    ]), 225),
    # Rutile TiO2 with its 16 symmetry operations, uncertainties in brackets.
    "rutile.cif": (_cif("TiO2", "Ti O2", ("4.5937(3)", "4.5937(3)", "2.9587(2)", 90, 90, 90),
                        "P 42/m n m", _P42MNM,
                        [("Ti1", "Ti", 0, 0, 0, 1), ("O1", "O", "0.3048(2)", "0.3048(2)", 0, 1)]),
                   136),
    # Diamond-structure Si, conventional cell in P1.
    "si.cif": (_cif("Si", "Si", (5.431, 5.431, 5.431, 90, 90, 90), "P 1", ["x, y, z"], [
        (f"Si{i}", "Si", *xyz, 1) for i, xyz in enumerate(
            [(0, 0, 0), (0.5, 0.5, 0), (0.5, 0, 0.5), (0, 0.5, 0.5), (0.25, 0.25, 0.25),
             (0.75, 0.75, 0.25), (0.75, 0.25, 0.75), (0.25, 0.75, 0.75)], 1)
    ]), 227),
    # hcp Mg, P1 with both atoms.
    "mg.cif": (_cif("Mg", "Mg", (3.209, 3.209, 5.211, 90, 90, 120), "P 1", ["x, y, z"], [
        ("Mg1", "Mg", "0.33333", "0.66667", 0.25, 1), ("Mg2", "Mg", "0.66667", "0.33333", 0.75, 1),
    ]), 194),
}  # fmt: skip
