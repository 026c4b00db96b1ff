"""How the CIFs of ``data/real/`` were written: published cells and Wyckoff positions.

The CIF files are the source of truth (``python -m xtalsym.realset --table`` reads them, not
this script). This script records the data they were written from, one entry per structure:
the setting (a Hall number of spglib's table, so the symmetry operations are explicit in each
CIF), the published cell (Å, degrees), the asymmetric unit (fractional coordinates) and the
reference. Rerunning it rewrites every CIF of ``data/real/`` from these entries:

    python scripts/author_real_cifs.py [--out data/real]

Values are the published ones, cross-checked against the bond lengths every reference
reports (see ``--check``, which prints the shortest cation-anion distances); cells are quoted
to the precision of the source.
"""

from __future__ import annotations

import argparse
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import spglib

ROOT = Path(__file__).resolve().parents[1]

W = "R. W. G. Wyckoff, Crystal Structures, 2nd ed. (Interscience, New York, 1963-1965)"
KWEI = "G. H. Kwei, A. C. Lawson, S. J. L. Billinge, S.-W. Cheong, J. Phys. Chem. 97, 2368 (1993)"
BOLZAN = "A. A. Bolzan, C. Fong, B. J. Kennedy, C. J. Howard, Acta Cryst. B53, 373 (1997)"
BURDETT = (
    "J. K. Burdett, T. Hughbanks, G. J. Miller, J. W. Richardson, J. V. Smith, "
    "J. Am. Chem. Soc. 109, 3639 (1987)"
)


def cub(a):
    return (a, a, a, 90, 90, 90)


def tet(a, c):
    return (a, a, c, 90, 90, 90)


def hexa(a, c):
    return (a, a, c, 90, 90, 120)


def orth(a, b, c):
    return (a, b, c, 90, 90, 90)


def mono(a, b, c, beta):
    return (a, b, c, 90, beta, 90)


E: list[dict] = []


def H(number, choice=""):
    """spglib's Hall number of space group ``number`` in setting ``choice``."""
    for hall in range(1, 531):
        st = spglib.get_spacegroup_type(hall)
        if st.number == number and st.choice == choice:
            return hall
    raise ValueError(f"no Hall setting {number} {choice!r}")


def add(stem, name, hall, cell, sites, ref, note="", centring=()):
    """One structure: ``sites`` = [(label, element, x, y, z), ...] (the asymmetric unit)."""
    E.append(
        dict(
            stem=stem,
            name=name,
            hall=hall,
            cell=cell,
            sites=sites,
            ref=ref,
            note=note,
            centring=centring,
        )
    )


# The literature data, one add() per structure, kept compact (one structure per few lines).
# fmt: off
h, t, q = 0.5, 0.25, 0.75
o8, t8 = 0.125, 0.375
third, two3 = 1 / 3, 2 / 3

# ------------------------------------------------------------------------------- cubic
FM3M, PM3M, F43M, IM3M = H(225), H(221), H(216), H(229)
FD3M2 = H(227, "2")  # origin choice 2
add("NaCl_rocksalt", "rock salt (halite)", FM3M, cub(5.6402),
    [("Na", "Na", 0, 0, 0), ("Cl", "Cl", h, h, h)], W)
add("MgO_periclase", "periclase", FM3M, cub(4.2112),
    [("Mg", "Mg", 0, 0, 0), ("O", "O", h, h, h)], W)
add("PbS_galena", "galena", FM3M, cub(5.9362),
    [("Pb", "Pb", 0, 0, 0), ("S", "S", h, h, h)], W)
add("TiC", "titanium carbide", FM3M, cub(4.3280),
    [("Ti", "Ti", 0, 0, 0), ("C", "C", h, h, h)], W)
add("CsCl", "caesium chloride", PM3M, cub(4.123),
    [("Cs", "Cs", 0, 0, 0), ("Cl", "Cl", h, h, h)], W)
add("CuZn_beta_brass", "beta-brass (ordered CuZn)", PM3M, cub(2.9539),
    [("Cu", "Cu", 0, 0, 0), ("Zn", "Zn", h, h, h)], W)
add("ZnS_sphalerite", "zinc blende (sphalerite)", F43M, cub(5.4093),
    [("Zn", "Zn", 0, 0, 0), ("S", "S", t, t, t)], W)
add("GaAs", "gallium arsenide (zinc blende type)", F43M, cub(5.6533),
    [("Ga", "Ga", 0, 0, 0), ("As", "As", t, t, t)], W)
add("CaF2_fluorite", "fluorite", FM3M, cub(5.4626),
    [("Ca", "Ca", 0, 0, 0), ("F", "F", t, t, t)], W)
add("CeO2_ceria", "cerianite (fluorite type)", FM3M, cub(5.411),
    [("Ce", "Ce", 0, 0, 0), ("O", "O", t, t, t)], W)
add("Li2O", "lithium oxide (antifluorite)", FM3M, cub(4.6114),
    [("O", "O", 0, 0, 0), ("Li", "Li", t, t, t)], W)
add("Cu", "copper (fcc)", FM3M, cub(3.6149), [("Cu", "Cu", 0, 0, 0)], W)
add("Al", "aluminium (fcc)", FM3M, cub(4.0495), [("Al", "Al", 0, 0, 0)], W)
add("Ag", "silver (fcc)", FM3M, cub(4.0862), [("Ag", "Ag", 0, 0, 0)], W)
add("Fe_alpha", "alpha-iron (bcc)", IM3M, cub(2.8665), [("Fe", "Fe", 0, 0, 0)], W)
add("W", "tungsten (bcc)", IM3M, cub(3.1652), [("W", "W", 0, 0, 0)], W)
add("Cr", "chromium (bcc)", IM3M, cub(2.8846), [("Cr", "Cr", 0, 0, 0)], W)
add("C_diamond", "diamond", FD3M2, cub(3.5668), [("C", "C", o8, o8, o8)], W)
add("Si", "silicon (diamond type)", FD3M2, cub(5.4307), [("Si", "Si", o8, o8, o8)], W)
add("SrTiO3_cubic", "strontium titanate (cubic perovskite)", PM3M, cub(3.905),
    [("Sr", "Sr", 0, 0, 0), ("Ti", "Ti", h, h, h), ("O", "O", 0, h, h)], W)
add("ReO3", "rhenium trioxide", PM3M, cub(3.7477),
    [("Re", "Re", 0, 0, 0), ("O", "O", h, 0, 0)], W)
add("AuCu3", "AuCu3 (L1_2)", PM3M, cub(3.7493),
    [("Au", "Au", 0, 0, 0), ("Cu", "Cu", 0, h, h)], W)
add("CaB6", "calcium hexaboride", PM3M, cub(4.1514),
    [("Ca", "Ca", 0, 0, 0), ("B", "B", 0.2073, h, h)], W)
add("Cr3Si_A15", "Cr3Si (A15)", H(223), cub(4.5559),
    [("Si", "Si", 0, 0, 0), ("Cr", "Cr", t, 0, h)], W)
add("Nb3Sn_A15", "Nb3Sn (A15)", H(223), cub(5.289),
    [("Sn", "Sn", 0, 0, 0), ("Nb", "Nb", t, 0, h)], W)
add("MgCu2_Laves", "MgCu2 (cubic Laves, C15)", FD3M2, cub(7.034),
    [("Mg", "Mg", o8, o8, o8), ("Cu", "Cu", h, h, h)], W)
add("MgAl2O4_spinel", "spinel", FD3M2, cub(8.0832),
    [("Mg", "Mg", o8, o8, o8), ("Al", "Al", h, h, h), ("O", "O", 0.2624, 0.2624, 0.2624)],
    W)
add("Fe3O4_magnetite", "magnetite (inverse spinel)", FD3M2, cub(8.3941),
    [("Fe1", "Fe", o8, o8, o8), ("Fe2", "Fe", h, h, h),
     ("O", "O", 0.2549, 0.2549, 0.2549)],
    "M. E. Fleet, Acta Cryst. B37, 917 (1981)",
    "Fe3+ on 8a, Fe2+/Fe3+ on 16d: both written as Fe (the inverse spinel's iron lattice).")
add("Cu2O_cuprite", "cuprite", H(224, "2"), cub(4.2696),
    [("O", "O", t, t, t), ("Cu", "Cu", 0, 0, 0)], W)
add("FeS2_pyrite", "pyrite", H(205), cub(5.4166),
    [("Fe", "Fe", 0, 0, 0), ("S", "S", 0.38484, 0.38484, 0.38484)],
    "G. Brostigen, A. Kjekshus, Acta Chem. Scand. 23, 2186 (1969)")
add("CO2_dry_ice", "carbon dioxide (dry ice)", H(205), cub(5.624),
    [("C", "C", 0, 0, 0), ("O", "O", 0.1185, 0.1185, 0.1185)],
    "R. Simon, K. Peters, Acta Cryst. B36, 2750 (1980)")
add("FeSi_B20", "FeSi (B20)", H(198), cub(4.4891),
    [("Fe", "Fe", 0.1358, 0.1358, 0.1358), ("Si", "Si", 0.8442, 0.8442, 0.8442)],
    "L. Pauling, A. M. Soldate, Acta Cryst. 1, 212 (1948)")
add("MnSi_B20", "MnSi (B20)", H(198), cub(4.558),
    [("Mn", "Mn", 0.138, 0.138, 0.138), ("Si", "Si", 0.845, 0.845, 0.845)], W)
add("K2PtCl6", "potassium hexachloroplatinate", FM3M, cub(9.755),
    [("K", "K", t, t, t), ("Pt", "Pt", 0, 0, 0), ("Cl", "Cl", 0.240, 0, 0)], W)

# --------------------------------------------------------------------------- tetragonal
P42MNM = H(136)
add("TiO2_rutile", "rutile", P42MNM, tet(4.5941, 2.9589),
    [("Ti", "Ti", 0, 0, 0), ("O", "O", 0.3048, 0.3048, 0)], BURDETT)
add("SnO2_cassiterite", "cassiterite", P42MNM, tet(4.7374, 3.1864),
    [("Sn", "Sn", 0, 0, 0), ("O", "O", 0.3057, 0.3057, 0)], BOLZAN)
add("MnO2_pyrolusite", "pyrolusite (beta-MnO2)", P42MNM, tet(4.3983, 2.8730),
    [("Mn", "Mn", 0, 0, 0), ("O", "O", 0.3046, 0.3046, 0)],
    "W. H. Baur, Acta Cryst. B32, 2200 (1976)")
add("MgF2_sellaite", "sellaite (rutile type)", P42MNM, tet(4.6213, 3.0159),
    [("Mg", "Mg", 0, 0, 0), ("F", "F", 0.3030, 0.3030, 0)],
    "W. H. Baur, Acta Cryst. B32, 2200 (1976)")
add("TiO2_anatase", "anatase", H(141, "1"), tet(3.7842, 9.5146),
    [("Ti", "Ti", 0, 0, 0), ("O", "O", 0, 0, 0.2081)], BURDETT,
    "I4_1/amd origin choice 1.")
add("Sn_beta", "beta-tin (white tin)", H(141, "1"), tet(5.8316, 3.1815),
    [("Sn", "Sn", 0, 0, 0)], W, "I4_1/amd origin choice 1.")
add("ZrSiO4_zircon", "zircon", H(141, "2"), tet(6.607, 5.982),
    [("Zr", "Zr", 0, q, o8), ("Si", "Si", 0, t, t8), ("O", "O", 0, 0.0661, 0.1953)],
    "K. Robinson, G. V. Gibbs, P. H. Ribbe, Am. Mineral. 56, 782 (1971)",
    "I4_1/amd origin choice 2.")
add("CaWO4_scheelite", "scheelite", H(88, "2"), tet(5.2429, 11.3737),
    [("W", "W", 0, t, o8), ("Ca", "Ca", 0, t, 0.625), ("O", "O", 0.1507, 0.0086, 0.2106)],
    "R. M. Hazen, L. W. Finger, J. W. E. Mariathasan, J. Phys. Chem. Solids 46, 253 (1985)",
    "I4_1/a origin choice 2 (O in that origin; W-O 1.78 Å, Ca-O 2.44 and 2.48 Å as published).")
add("PbO_litharge", "litharge (alpha-PbO)", H(129, "2"), tet(3.9759, 5.023),
    [("Pb", "Pb", t, t, 0.2385), ("O", "O", q, t, 0)],
    W, "P4/nmm origin choice 2.")
add("FeSe", "iron selenide (anti-PbO)", H(129, "2"), tet(3.7734, 5.5258),
    [("Fe", "Fe", q, t, 0), ("Se", "Se", t, t, 0.2668)],
    "T. M. McQueen et al., Phys. Rev. B 79, 014522 (2009)", "P4/nmm origin choice 2.")
add("LaFeAsO", "LaFeAsO (ZrCuSiAs type)", H(129, "2"), tet(4.0355, 8.7393),
    [("La", "La", t, t, 0.1415), ("Fe", "Fe", q, t, h), ("As", "As", t, t, 0.6512),
     ("O", "O", q, t, 0)],
    "C. de la Cruz et al., Nature 453, 899 (2008)", "P4/nmm origin choice 2.")
add("CuAu_L10", "CuAu (L1_0)", H(123), tet(2.8039, 3.6710),
    [("Au", "Au", 0, 0, 0), ("Cu", "Cu", h, h, h)], W,
    "Primitive tetragonal cell of the face-centred L1_0 setting.")
add("CaCuO2_infinite_layer", "infinite-layer CaCuO2", H(123), tet(3.8611, 3.1995),
    [("Ca", "Ca", h, h, h), ("Cu", "Cu", 0, 0, 0), ("O", "O", h, 0, 0)],
    "T. Siegrist, S. M. Zahurak, D. W. Murphy, R. S. Roth, Nature 334, 231 (1988)",
    "Published as Ca0.86Sr0.14CuO2; the A site is written as Ca (its majority species).")
add("YBa2Cu3O6", "YBa2Cu3O6 (tetragonal)", H(123), tet(3.8570, 11.8194),
    [("Y", "Y", h, h, h), ("Ba", "Ba", h, h, 0.1952), ("Cu1", "Cu", 0, 0, 0),
     ("Cu2", "Cu", 0, 0, 0.3607), ("O1", "O", 0, 0, 0.1518), ("O2", "O", 0, h, 0.3791)],
    "J. D. Jorgensen et al., Phys. Rev. B 41, 1863 (1990)")
add("In", "indium", H(139), tet(3.2523, 4.9461), [("In", "In", 0, 0, 0)], W)
add("BaFe2As2", "BaFe2As2 (ThCr2Si2 type)", H(139), tet(3.9625, 13.0168),
    [("Ba", "Ba", 0, 0, 0), ("Fe", "Fe", 0, h, t), ("As", "As", 0, 0, 0.3545)],
    "M. Rotter et al., Phys. Rev. B 78, 020503(R) (2008)")
add("ThCr2Si2", "ThCr2Si2", H(139), tet(4.043, 10.577),
    [("Th", "Th", 0, 0, 0), ("Cr", "Cr", 0, h, t), ("Si", "Si", 0, 0, 0.375)],
    "Z. Ban, M. Sikirica, Acta Cryst. 18, 594 (1965)")
add("K2NiF4", "K2NiF4", H(139), tet(4.006, 13.076),
    [("K", "K", 0, 0, 0.3521), ("Ni", "Ni", 0, 0, 0), ("F1", "F", 0, h, 0),
     ("F2", "F", 0, 0, 0.1532)],
    "D. Balz, K. Plieth, Z. Elektrochem. 59, 545 (1955)")
add("Sr2RuO4", "strontium ruthenate", H(139), tet(3.8603, 12.729),
    [("Sr", "Sr", 0, 0, 0.3531), ("Ru", "Ru", 0, 0, 0), ("O1", "O", 0, h, 0),
     ("O2", "O", 0, 0, 0.1619)],
    "T. Vogt, D. J. Buttrey, Phys. Rev. B 52, R9843 (1995)")
add("CaC2", "calcium carbide", H(139), tet(3.89, 6.38),
    [("Ca", "Ca", 0, 0, 0), ("C", "C", 0, 0, 0.406)],
    "M. Atoji, J. Chem. Phys. 35, 1950 (1961)")
add("MoSi2", "molybdenum disilicide (C11b)", H(139), tet(3.2056, 7.845),
    [("Mo", "Mo", 0, 0, 0), ("Si", "Si", 0, 0, 0.3353)], W)
add("Al3Ti_D022", "Al3Ti (D0_22)", H(139), tet(3.848, 8.596),
    [("Ti", "Ti", 0, 0, 0), ("Al1", "Al", 0, 0, h), ("Al2", "Al", 0, h, t)], W)
add("CuAl2", "CuAl2 (theta phase)", H(140), tet(6.067, 4.877),
    [("Cu", "Cu", 0, 0, t), ("Al", "Al", 0.1581, 0.6581, 0)], W)
add("CuFeS2_chalcopyrite", "chalcopyrite", H(122), tet(5.289, 10.423),
    [("Cu", "Cu", 0, 0, 0), ("Fe", "Fe", 0, 0, h), ("S", "S", 0.2574, t, o8)],
    "S. R. Hall, J. M. Stewart, Acta Cryst. B29, 579 (1973)")
add("U3Si2", "U3Si2", H(127), tet(7.3299, 3.9004),
    [("U1", "U", 0, 0, 0), ("U2", "U", 0.1815, 0.6815, h), ("Si", "Si", 0.3894, 0.8894, 0)],
    W)
add("Ni4Mo_D1a", "Ni4Mo (D1a)", H(87), tet(5.720, 3.564),
    [("Mo", "Mo", 0, 0, 0), ("Ni", "Ni", 0.4, 0.2, 0)],
    "D. Harker, J. Chem. Phys. 12, 315 (1944)")
add("BaTiO3_tetragonal", "barium titanate (tetragonal)", H(99), tet(3.9909, 4.0352),
    [("Ba", "Ba", 0, 0, 0), ("Ti", "Ti", h, h, 0.5150), ("O1", "O", h, h, -0.0250),
     ("O2", "O", h, 0, 0.4850)], KWEI,
    "Room-temperature phase; ferroelectric displacements approximate (about 0.005).")
add("SiO2_alpha_cristobalite", "alpha-cristobalite", H(92), tet(4.9709, 6.9278),
    [("Si", "Si", 0.3003, 0.3003, 0), ("O", "O", 0.2392, 0.1044, 0.1787)],
    "J. J. Pluth, J. V. Smith, J. Faber, J. Appl. Phys. 57, 1045 (1985)")

# ------------------------------------------------------------------- trigonal, hexagonal
P63MMC, P63MC, P3M1, R3MH = H(194), H(186), H(164), H(166, "H")
add("Mg", "magnesium (hcp)", P63MMC, hexa(3.2094, 5.2105), [("Mg", "Mg", third, two3, t)], W)
add("Zn", "zinc (hcp)", P63MMC, hexa(2.6649, 4.9468), [("Zn", "Zn", third, two3, t)], W)
add("Ti_alpha", "alpha-titanium (hcp)", P63MMC, hexa(2.9506, 4.6835),
    [("Ti", "Ti", third, two3, t)], W)
add("C_graphite", "graphite (hexagonal, Bernal)", P63MMC, hexa(2.464, 6.711),
    [("C1", "C", 0, 0, t), ("C2", "C", third, two3, t)],
    "P. Trucano, R. Chen, Nature 258, 136 (1975)")
add("BN_hexagonal", "hexagonal boron nitride", P63MMC, hexa(2.504, 6.661),
    [("B", "B", third, two3, t), ("N", "N", third, two3, q)],
    "R. S. Pease, Acta Cryst. 5, 356 (1952)")
add("NiAs", "nickel arsenide (niccolite)", P63MMC, hexa(3.619, 5.034),
    [("Ni", "Ni", 0, 0, 0), ("As", "As", third, two3, t)], W)
add("MoS2_2H", "molybdenite (2H-MoS2)", P63MMC, hexa(3.1604, 12.295),
    [("Mo", "Mo", third, two3, t), ("S", "S", third, two3, 0.621)],
    "R. G. Dickinson, L. Pauling, J. Am. Chem. Soc. 45, 1466 (1923)")
add("MgZn2_Laves", "MgZn2 (hexagonal Laves, C14)", P63MMC, hexa(5.221, 8.567),
    [("Mg", "Mg", third, two3, 0.0629), ("Zn1", "Zn", 0, 0, 0),
     ("Zn2", "Zn", 0.8305, 0.6610, t)],
    "T. Ohba, Y. Kitano, Y. Komura, Acta Cryst. C40, 1 (1984)")
add("Ni3Sn_D019", "Ni3Sn (D0_19)", P63MMC, hexa(5.29, 4.24),
    [("Sn", "Sn", third, two3, t), ("Ni", "Ni", 5 / 6, two3, t)], W)
add("Na3As", "sodium arsenide", P63MMC, hexa(5.088, 8.982),
    [("As", "As", third, two3, t), ("Na1", "Na", 0, 0, t), ("Na2", "Na", third, two3, 0.583)],
    W)
add("ZnS_wurtzite", "wurtzite", P63MC, hexa(3.8227, 6.2607),
    [("Zn", "Zn", third, two3, 0), ("S", "S", third, two3, 0.375)], W)
add("ZnO_zincite", "zincite (wurtzite type)", P63MC, hexa(3.2498, 5.2066),
    [("Zn", "Zn", third, two3, 0), ("O", "O", third, two3, 0.3819)],
    "E. H. Kisi, M. M. Elcombe, Acta Cryst. C45, 1867 (1989)")
add("GaN", "gallium nitride (wurtzite type)", P63MC, hexa(3.189, 5.185),
    [("Ga", "Ga", third, two3, 0), ("N", "N", third, two3, 0.377)],
    "H. Schulz, K. H. Thiemann, Solid State Commun. 23, 815 (1977)")
add("AlN", "aluminium nitride (wurtzite type)", P63MC, hexa(3.1114, 4.9792),
    [("Al", "Al", third, two3, 0), ("N", "N", third, two3, 0.3821)],
    "H. Schulz, K. H. Thiemann, Solid State Commun. 23, 815 (1977)")
add("CdI2", "cadmium iodide", P3M1, hexa(4.24, 6.84),
    [("Cd", "Cd", 0, 0, 0), ("I", "I", third, two3, t)], W)
add("TiS2", "titanium disulfide (CdI2 type)", P3M1, hexa(3.4073, 5.6953),
    [("Ti", "Ti", 0, 0, 0), ("S", "S", third, two3, 0.2501)], W)
add("MgOH2_brucite", "brucite", P3M1, hexa(3.142, 4.766),
    [("Mg", "Mg", 0, 0, 0), ("O", "O", third, two3, 0.2216), ("H", "H", third, two3, 0.4303)],
    "F. Zigan, R. Rothbauer, Neues Jahrb. Mineral. Monatsh. 1967, 137 (1967)")
add("La2O3_A", "A-type lanthanum sesquioxide", P3M1, hexa(3.9381, 6.1361),
    [("La", "La", third, two3, 0.2467), ("O1", "O", 0, 0, 0), ("O2", "O", third, two3, 0.6470)],
    "P. Aldebert, J. P. Traverse, Mater. Res. Bull. 14, 303 (1979)")
add("Bi", "bismuth", R3MH, hexa(4.5461, 11.8623), [("Bi", "Bi", 0, 0, 0.2339)],
    "P. Cucka, C. S. Barrett, Acta Cryst. 15, 865 (1962)", "Hexagonal axes.")
add("As", "grey arsenic", R3MH, hexa(3.7598, 10.5475), [("As", "As", 0, 0, 0.2271)],
    "D. Schiferl, C. S. Barrett, J. Appl. Cryst. 2, 30 (1969)", "Hexagonal axes.")
add("Sb", "antimony", R3MH, hexa(4.3084, 11.274), [("Sb", "Sb", 0, 0, 0.2335)],
    "C. S. Barrett, P. Cucka, K. Haefner, Acta Cryst. 16, 451 (1963)", "Hexagonal axes.")
add("Hg_alpha", "alpha-mercury", R3MH, hexa(3.4645, 6.7053), [("Hg", "Hg", 0, 0, 0)],
    "C. S. Barrett, Acta Cryst. 10, 58 (1957)",
    "Hexagonal axes of the one-atom rhombohedral cell (a = 3.005 Å, alpha = 70.53 deg).")
add("CuFeO2_delafossite", "delafossite", R3MH, hexa(3.0351, 17.166),
    [("Cu", "Cu", 0, 0, 0), ("Fe", "Fe", 0, 0, h), ("O", "O", 0, 0, 0.1066)],
    "C. T. Prewitt, R. D. Shannon, D. B. Rogers, Inorg. Chem. 10, 719 (1971)")
add("Bi2Te3", "tellurobismuthite", R3MH, hexa(4.3852, 30.483),
    [("Te1", "Te", 0, 0, 0), ("Bi", "Bi", 0, 0, 0.4001), ("Te2", "Te", 0, 0, 0.7888)],
    "S. Nakajima, J. Phys. Chem. Solids 24, 479 (1963)")
add("LiCoO2", "lithium cobalt oxide", R3MH, hexa(2.8156, 14.0542),
    [("Li", "Li", 0, 0, h), ("Co", "Co", 0, 0, 0), ("O", "O", 0, 0, 0.2604)],
    "H. J. Orman, P. J. Wiseman, Acta Cryst. C40, 12 (1984)",
    "O z chosen (of z and 1/2 - z) to give the published Co-O 1.92 Å, Li-O 2.09 Å.")
add("FeTiO3_ilmenite", "ilmenite", H(148, "H"), hexa(5.0884, 14.0885),
    [("Fe", "Fe", 0, 0, 0.35537), ("Ti", "Ti", 0, 0, 0.14640),
     ("O", "O", 0.31726, 0.02375, 0.24616)],
    "B. A. Wechsler, C. T. Prewitt, Am. Mineral. 69, 176 (1984)")
add("CaMgCO32_dolomite", "dolomite", H(148, "H"), hexa(4.8069, 16.0034),
    [("Ca", "Ca", 0, 0, 0), ("Mg", "Mg", 0, 0, h), ("C", "C", 0, 0, 0.24287),
     ("O", "O", 0.24796, -0.03528, 0.24415)],
    "R. J. Reeder, S. A. Markgraf, Am. Mineral. 71, 795 (1986)")
add("Al2O3_corundum", "corundum", H(167, "H"), hexa(4.7602, 12.9933),
    [("Al", "Al", 0, 0, 0.35216), ("O", "O", 0.30624, 0, t)],
    "E. N. Maslen, V. A. Streltsov, N. R. Streltsova, N. Ishizawa, Y. Satow, "
    "Acta Cryst. B49, 973 (1993)")
add("Cr2O3_eskolaite", "eskolaite", H(167, "H"), hexa(4.9589, 13.5942),
    [("Cr", "Cr", 0, 0, 0.3475), ("O", "O", 0.3058, 0, t)],
    "L. W. Finger, R. M. Hazen, J. Appl. Phys. 51, 5362 (1980)")
add("Fe2O3_hematite", "hematite", H(167, "H"), hexa(5.0356, 13.7489),
    [("Fe", "Fe", 0, 0, 0.35530), ("O", "O", 0.3059, 0, t)],
    "R. L. Blake, R. E. Hessevick, T. Zoltai, L. W. Finger, Am. Mineral. 51, 123 (1966)")
add("CaCO3_calcite", "calcite", H(167, "H"), hexa(4.9896, 17.0610),
    [("Ca", "Ca", 0, 0, 0), ("C", "C", 0, 0, t), ("O", "O", 0.2578, 0, t)],
    "H. Effenberger, K. Mereiter, J. Zemann, Z. Kristallogr. 156, 233 (1981)")
add("LiNbO3", "lithium niobate", H(161, "H"), hexa(5.1483, 13.8631),
    [("Nb", "Nb", 0, 0, 0), ("Li", "Li", 0, 0, 0.2829), ("O", "O", 0.0492, 0.3446, 0.0647)],
    "S. C. Abrahams, J. M. Reddy, J. L. Bernstein, J. Phys. Chem. Solids 27, 997 (1966)")
add("BaTiO3_rhombohedral", "barium titanate (rhombohedral)", H(160, "R"),
    (4.0036, 4.0036, 4.0036, 89.839, 89.839, 89.839),
    [("Ba", "Ba", 0, 0, 0), ("Ti", "Ti", 0.487, 0.487, 0.487), ("O", "O", 0.511, 0.511, 0.018)],
    KWEI,
    "Rhombohedral axes, low-temperature phase; ferroelectric displacements approximate "
    "(about 0.005).")
add("SiO2_alpha_quartz", "alpha-quartz", H(154), hexa(4.9134, 5.4052),
    [("Si", "Si", 0.4697, 0, two3), ("O", "O", 0.4135, 0.2669, 0.1191 + two3)],
    "Y. Le Page, G. Donnay, Acta Cryst. B32, 2456 (1976)",
    "P3_221 (the enantiomorph refined); the published coordinates shifted by z + 2/3 to the "
    "origin of International Tables (Si on 3a, x, 0, 2/3).")
add("Se_trigonal", "trigonal selenium", H(152), hexa(4.3662, 4.9536),
    [("Se", "Se", 0.2254, 0, third)],
    "P. Cherin, P. Unger, Acta Cryst. B28, 313 (1972)")
add("Te", "tellurium", H(152), hexa(4.4572, 5.929), [("Te", "Te", 0.2633, 0, third)],
    "C. Adenis, V. Langer, O. Lindqvist, Acta Cryst. C45, 941 (1989)")
add("Ca5PO43F_fluorapatite", "fluorapatite", H(176), hexa(9.3973, 6.8782),
    [("Ca1", "Ca", third, two3, 0.0010), ("Ca2", "Ca", 0.2415, 0.9928, t),
     ("P", "P", 0.3982, 0.3689, t), ("O1", "O", 0.3264, 0.4850, t),
     ("O2", "O", 0.5880, 0.4668, t), ("O3", "O", 0.3418, 0.2572, 0.0704),
     ("F", "F", 0, 0, t)],
    "K. Sudarsanan, P. E. Mackie, R. A. Young, Mater. Res. Bull. 7, 1331 (1972)")
add("beta_Si3N4", "beta-silicon nitride", H(176), hexa(7.6044, 2.9063),
    [("Si", "Si", 0.1733, 0.7694, t), ("N1", "N", third, two3, t),
     ("N2", "N", 0.3298, 0.0311, t)],
    "R. Grün, Acta Cryst. B35, 800 (1979)")
add("WC", "tungsten carbide", H(187), hexa(2.9063, 2.8386),
    [("W", "W", 0, 0, 0), ("C", "C", third, two3, h)], W)
add("Fe2P", "iron phosphide Fe2P", H(189), hexa(5.865, 3.456),
    [("Fe1", "Fe", 0.2568, 0, 0), ("Fe2", "Fe", 0.5946, 0, h), ("P1", "P", third, two3, 0),
     ("P2", "P", 0, 0, h)],
    "B. Carlsson, M. Gölin, S. Rundqvist, J. Solid State Chem. 8, 57 (1973)")
add("MgB2", "magnesium diboride (AlB2 type)", H(191), hexa(3.0864, 3.5215),
    [("Mg", "Mg", 0, 0, 0), ("B", "B", third, two3, h)],
    "J. Nagamatsu et al., Nature 410, 63 (2001)")
add("AlB2", "aluminium diboride", H(191), hexa(3.009, 3.262),
    [("Al", "Al", 0, 0, 0), ("B", "B", third, two3, h)], W)
add("CaCu5", "CaCu5", H(191), hexa(5.082, 4.078),
    [("Ca", "Ca", 0, 0, 0), ("Cu1", "Cu", third, two3, 0), ("Cu2", "Cu", h, 0, h)], W)
add("LaNi5", "LaNi5 (CaCu5 type)", H(191), hexa(5.017, 3.987),
    [("La", "La", 0, 0, 0), ("Ni1", "Ni", third, two3, 0), ("Ni2", "Ni", h, 0, h)], W)
add("Mn5Si3", "Mn5Si3 (D8_8)", H(193), hexa(6.910, 4.814),
    [("Mn1", "Mn", third, two3, 0), ("Mn2", "Mn", 0.2358, 0, t), ("Si", "Si", 0.5992, 0, t)],
    "B. Aronsson, Acta Chem. Scand. 14, 1414 (1960)")
add("UCl3", "uranium trichloride", H(176), hexa(7.443, 4.321),
    [("U", "U", third, two3, t), ("Cl", "Cl", 0.3858, 0.3009, t)], W)

# ------------------------------------------------------------------------- orthorhombic
PBNM, PNMA = H(62, "cab"), H(62)
add("CaTiO3_perovskite", "perovskite (CaTiO3)", PBNM, orth(5.388, 5.447, 7.654),
    [("Ca", "Ca", 0.9934, 0.0349, t), ("Ti", "Ti", 0, h, 0), ("O1", "O", 0.0706, 0.4832, t),
     ("O2", "O", 0.7109, 0.2884, 0.0371)],
    "S. Sasaki, C. T. Prewitt, J. D. Bass, W. A. Schulze, Acta Cryst. C43, 1668 (1987)",
    "Pbnm setting of Pnma.")
add("GdFeO3", "gadolinium orthoferrite", PBNM, orth(5.346, 5.616, 7.668),
    [("Gd", "Gd", 0.9841, 0.0608, t), ("Fe", "Fe", 0, h, 0), ("O1", "O", 0.0953, 0.4657, t),
     ("O2", "O", 0.6987, 0.3018, 0.0499)],
    "M. Marezio, J. P. Remeika, P. D. Dernier, Acta Cryst. B26, 2008 (1970)",
    "Pbnm setting of Pnma.")
add("Mg2SiO4_forsterite", "forsterite (olivine)", PBNM, orth(4.7535, 10.1943, 5.9807),
    [("Mg1", "Mg", 0, 0, 0), ("Mg2", "Mg", 0.9915, 0.2774, t), ("Si", "Si", 0.4262, 0.0940, t),
     ("O1", "O", 0.7657, 0.0913, t), ("O2", "O", 0.2215, 0.4474, t),
     ("O3", "O", 0.2777, 0.1628, 0.0331)],
    "K. Fujino, S. Sasaki, Y. Takéuchi, R. Sadanaga, Acta Cryst. B37, 513 (1981)",
    "Pbnm setting of Pnma.")
add("CaCO3_aragonite", "aragonite", H(62, "bca"), orth(4.9614, 7.9671, 5.7404),
    [("Ca", "Ca", t, 0.41502, 0.75985), ("C", "C", t, 0.76211, -0.08516),
     ("O1", "O", t, 0.92238, -0.09453), ("O2", "O", 0.47347, 0.68065, -0.08620)],
    "J. P. R. de Villiers, Am. Mineral. 56, 758 (1971)", "Pmcn setting of Pnma.")
add("Fe3C_cementite", "cementite", PNMA, orth(5.0837, 6.7475, 4.5165),
    [("Fe1", "Fe", 0.0336, t, 0.8409), ("Fe2", "Fe", 0.1762, 0.0680, 0.3329),
     ("C", "C", 0.8773, t, 0.4432)],
    "I. G. Wood et al., J. Phys.: Condens. Matter 16, 9125 (2004)")
add("SnS_herzenbergite", "herzenbergite (SnS)", PNMA, orth(11.200, 3.987, 4.334),
    [("Sn", "Sn", 0.1194, t, 0.1198), ("S", "S", 0.8508, t, 0.4793)], W)
add("TiO2_brookite", "brookite", H(61), orth(9.174, 5.449, 5.138),
    [("Ti", "Ti", 0.1289, 0.0972, 0.8628), ("O1", "O", 0.0095, 0.1491, 0.1835),
     ("O2", "O", 0.2314, 0.1110, 0.5366)],
    "E. P. Meagher, G. A. Lager, Can. Mineral. 17, 77 (1979)")
add("FeS2_marcasite", "marcasite", H(58), orth(4.4431, 5.4245, 3.3871),
    [("Fe", "Fe", 0, 0, 0), ("S", "S", 0.2003, 0.3783, 0)], W)
add("Al2SiO5_andalusite", "andalusite", H(58), orth(7.7980, 7.9031, 5.5566),
    [("Al1", "Al", 0, 0, 0.2419), ("Al2", "Al", 0.3705, 0.1391, h),
     ("Si", "Si", 0.2460, 0.2520, 0), ("OA", "O", 0.4233, 0.3629, h),
     ("OB", "O", 0.4246, 0.3629, 0), ("OC", "O", 0.1030, 0.4003, 0),
     ("OD", "O", 0.2305, 0.1339, 0.2394)],
    "J. K. Winter, S. Ghose, Am. Mineral. 64, 573 (1979)")
add("PbO2_alpha", "alpha-PbO2 (scrutinyite)", H(60), orth(4.977, 5.949, 5.444),
    [("Pb", "Pb", 0, 0.1779, t), ("O", "O", 0.2685, 0.4040, 0.4170)], W)
add("U_alpha", "alpha-uranium", H(63), orth(2.854, 5.869, 4.955),
    [("U", "U", 0, 0.1025, t)],
    "C. S. Barrett, M. H. Mueller, R. L. Hitterman, Phys. Rev. 129, 625 (1963)")
add("CrB", "chromium boride", H(63), orth(2.969, 7.858, 2.932),
    [("Cr", "Cr", 0, 0.146, t), ("B", "B", 0, 0.440, t)], W)
add("CaIrO3_postperovskite", "CaIrO3 (post-perovskite type)", H(63), orth(3.1444, 9.8620, 7.2969),
    [("Ca", "Ca", 0, 0.2498, t), ("Ir", "Ir", 0, 0, 0), ("O1", "O", 0, 0.9224, t),
     ("O2", "O", 0, 0.6292, 0.0533)],
    "F. Rodi, D. Babel, Z. Anorg. Allg. Chem. 336, 17 (1965)",
    "Signs of the O y coordinates chosen to give the published Ir-O distances (1.98, 2.06 Å).")
add("I2_iodine", "iodine", H(64), orth(7.136, 4.686, 9.784), [("I", "I", 0, 0.1543, 0.1174)],
    "F. van Bolhuis, P. B. Koster, T. Migchelsen, Acta Cryst. 23, 90 (1967)")
add("P_black", "black phosphorus", H(64), orth(3.3136, 10.478, 4.3763),
    [("P", "P", 0, 0.10168, 0.08056)],
    "A. Brown, S. Rundqvist, Acta Cryst. 19, 684 (1965)")
add("Ga_alpha", "alpha-gallium", H(64), orth(4.5192, 7.6586, 4.5258),
    [("Ga", "Ga", 0, 0.1549, 0.0810)],
    "B. D. Sharma, J. Donohue, Z. Kristallogr. 117, 293 (1962)")
add("La2CuO4_LTO", "La2CuO4 (orthorhombic)", H(64, "a-cb"), orth(5.3542, 5.4018, 13.1504),
    [("La", "La", 0, -0.0070, 0.3614), ("Cu", "Cu", 0, 0, 0), ("O1", "O", t, t, -0.0070),
     ("O2", "O", 0, 0.0330, 0.1830)],
    "J. D. Jorgensen et al., Phys. Rev. B 38, 11337 (1988)", "Bmab setting of Cmce.")
add("YBa2Cu3O7", "YBa2Cu3O7", H(47), orth(3.8185, 3.8856, 11.6804),
    [("Y", "Y", h, h, h), ("Ba", "Ba", h, h, 0.1843), ("Cu1", "Cu", 0, 0, 0),
     ("Cu2", "Cu", 0, 0, 0.3556), ("O1", "O", 0, h, 0), ("O2", "O", h, 0, 0.3779),
     ("O3", "O", 0, h, 0.3790), ("O4", "O", 0, 0, 0.1590)],
    "M. A. Beno et al., Appl. Phys. Lett. 51, 57 (1987)")
add("V2O5", "vanadium pentoxide", H(59, "2"), orth(11.512, 3.564, 4.368),
    [("V", "V", 0.10118, t, 0.89166), ("O1", "O", 0.10430, t, 0.53110),
     ("O2", "O", -0.06894, t, 0.00311), ("O3", "O", t, t, 0.00312)],
    "R. Enjalbert, J. Galy, Acta Cryst. C42, 1467 (1986)",
    "Pmmn origin choice 2; V-O 1.58, 1.78, 1.88 (x2), 2.02 Å as published.")
add("NaNO2", "sodium nitrite (ferroelectric)", H(44, "bca"), orth(3.569, 5.563, 5.384),
    [("Na", "Na", 0, 0.5865, 0), ("N", "N", 0, 0.1200, 0), ("O", "O", 0, 0, 0.1941)],
    "M. I. Kay, B. C. Frazer, Acta Cryst. 14, 56 (1961)", "Im2m setting of Imm2.")
add("BaTiO3_orthorhombic", "barium titanate (orthorhombic)", H(38),
    orth(3.9841, 5.6741, 5.6916),
    [("Ba", "Ba", 0, 0, 0), ("Ti", "Ti", h, 0, 0.5100), ("O1", "O", 0, 0, 0.4890),
     ("O2", "O", h, 0.2567, 0.2329)], KWEI,
    "Ferroelectric displacements approximate (to about 0.005 in fractional units).")

# --------------------------------------------------------------------------- monoclinic
add("ZrO2_baddeleyite", "baddeleyite", H(14, "b1"), mono(5.1505, 5.2116, 5.3173, 99.230),
    [("Zr", "Zr", 0.2754, 0.0395, 0.2083), ("O1", "O", 0.0700, 0.3317, 0.3447),
     ("O2", "O", 0.4496, 0.7569, 0.4792)],
    "C. J. Howard, R. J. Hill, B. E. Reichert, Acta Cryst. B44, 116 (1988)")
add("CePO4_monazite", "monazite-(Ce)", H(14, "b2"), mono(6.7880, 7.0163, 6.4650, 103.43),
    [("Ce", "Ce", 0.2820, 0.1590, 0.1004), ("P", "P", 0.3048, 0.1635, 0.6121),
     ("O1", "O", 0.2508, 0.0059, 0.4444), ("O2", "O", 0.3810, 0.3312, 0.4966),
     ("O3", "O", 0.4745, 0.1068, 0.8037), ("O4", "O", 0.1268, 0.2153, 0.7127)],
    "Y. Ni, J. M. Hughes, A. N. Mariano, Am. Mineral. 80, 21 (1995)", "P2_1/n setting.")
add("VO2_M1", "vanadium dioxide (M1)", H(14, "b1"), mono(5.7517, 4.5378, 5.3825, 122.646),
    [("V", "V", 0.23947, 0.97894, 0.02646), ("O1", "O", 0.10616, 0.21185, 0.20859),
     ("O2", "O", 0.40051, 0.70258, 0.29884)],
    "J. M. Longo, P. Kierkegaard, Acta Chem. Scand. 24, 420 (1970)")
add("MoO2", "tugarinovite (MoO2)", H(14, "b1"), mono(5.6109, 4.8562, 5.6285, 120.95),
    [("Mo", "Mo", 0.2316, 0.9916, 0.0164), ("O1", "O", 0.1123, 0.2171, 0.2335),
     ("O2", "O", 0.3908, 0.6969, 0.2989)],
    "B. G. Brandt, A. C. Skapski, Acta Chem. Scand. 21, 661 (1967)")
add("CuO_tenorite", "tenorite", H(15, "b1"), mono(4.6837, 3.4226, 5.1288, 99.54),
    [("Cu", "Cu", t, t, 0), ("O", "O", 0, 0.4184, t)],
    "S. Åsbrink, L.-J. Norrby, Acta Cryst. B26, 8 (1970)")
add("CaMgSi2O6_diopside", "diopside", H(15, "b1"), mono(9.746, 8.899, 5.251, 105.63),
    [("Ca", "Ca", 0, 0.3015, t), ("Mg", "Mg", 0, 0.9082, t),
     ("Si", "Si", 0.2862, 0.0933, 0.2293), ("O1", "O", 0.1156, 0.0873, 0.1422),
     ("O2", "O", 0.3611, 0.2500, 0.3180), ("O3", "O", 0.3505, 0.0176, 0.9953)],
    "J. R. Clark, D. E. Appleman, J. J. Papike, Mineral. Soc. Am. Spec. Pap. 2, 31 (1969)")
add("Li2CO3_zabuyelite", "zabuyelite (Li2CO3)", H(15, "b1"), mono(8.359, 4.973, 6.194, 114.83),
    [("Li", "Li", 0.1965, 0.4484, 0.8352), ("C", "C", 0, 0.0657, t),
     ("O1", "O", 0, 0.3236, t), ("O2", "O", 0.1459, 0.9372, 0.3132)],
    "H. Effenberger, J. Zemann, Z. Kristallogr. 150, 133 (1979)")
add("Ga2O3_beta", "beta-gallium oxide", H(12, "b1"), mono(12.214, 3.0371, 5.7981, 103.83),
    [("Ga1", "Ga", 0.09050, 0, 0.79460), ("Ga2", "Ga", 0.34140, 0, 0.68570),
     ("O1", "O", 0.16740, 0, 0.10100), ("O2", "O", 0.49570, 0, 0.25530),
     ("O3", "O", 0.82790, 0, 0.43650)],
    "J. Åhman, G. Svensson, J. Albertsson, Acta Cryst. C52, 1336 (1996)")
add("Li2MnO3", "lithium manganate Li2MnO3", H(12, "b1"), mono(4.9246, 8.5216, 5.0245, 109.34),
    [("Li1", "Li", 0, h, 0), ("Li2", "Li", 0, 0, h), ("Li3", "Li", 0, 0.6606, h),
     ("Mn", "Mn", 0, 0.1672, 0), ("O1", "O", 0.2189, 0, 0.2273),
     ("O2", "O", 0.2540, 0.3212, 0.2233)],
    "P. Strobel, B. Lambert-Andron, J. Solid State Chem. 75, 90 (1988)")
add("MnWO4_huebnerite", "huebnerite (wolframite type)", H(13, "b1"),
    mono(4.8238, 5.7504, 4.9901, 91.18),
    [("Mn", "Mn", h, 0.6853, t), ("W", "W", 0, 0.1795, t),
     ("O1", "O", 0.2108, 0.1024, 0.9425), ("O2", "O", 0.2516, 0.3752, 0.3933)],
    "H. Weitzel, Z. Kristallogr. 144, 238 (1976)")

# ---------------------------------------------------------------------------- triclinic
add("Al2SiO5_kyanite", "kyanite", H(2), (7.1262, 7.8520, 5.5724, 89.99, 101.11, 106.03),
    [("Al1", "Al", 0.3254, 0.7040, 0.4582), ("Al2", "Al", 0.2974, 0.6989, 0.9505),
     ("Al3", "Al", 0.0998, 0.3862, 0.6403), ("Al4", "Al", 0.1120, 0.9175, 0.1649),
     ("Si1", "Si", 0.2962, 0.0649, 0.7066), ("Si2", "Si", 0.2910, 0.3317, 0.1892),
     ("O1", "O", 0.1095, 0.1468, 0.1288), ("O2", "O", 0.1230, 0.6856, 0.1812),
     ("O3", "O", 0.2747, 0.4545, 0.9547), ("O4", "O", 0.2831, 0.9354, 0.9353),
     ("O5", "O", 0.1219, 0.6307, 0.6389), ("O6", "O", 0.2822, 0.4453, 0.4288),
     ("O7", "O", 0.2915, 0.9467, 0.4659), ("O8", "O", 0.5008, 0.2749, 0.2440),
     ("O9", "O", 0.1084, 0.1520, 0.6669), ("O10", "O", 0.5015, 0.2312, 0.7553)],
    "J. K. Winter, S. Ghose, Am. Mineral. 64, 573 (1979)")
add("NaAlSi3O8_low_albite", "low albite", H(2), (8.142, 12.785, 7.159, 94.19, 116.61, 87.68),
    [("Na", "Na", 0.2683, 0.9889, 0.1466), ("T1o", "Al", 0.0089, 0.1684, 0.2088),
     ("T1m", "Si", 0.0038, 0.8203, 0.2374), ("T2o", "Si", 0.6917, 0.1103, 0.3152),
     ("T2m", "Si", 0.6817, 0.8812, 0.3608), ("OA1", "O", 0.0053, 0.1312, 0.9665),
     ("OA2", "O", 0.5919, 0.9972, 0.2804), ("OBo", "O", 0.8127, 0.1098, 0.1909),
     ("OBm", "O", 0.8204, 0.8507, 0.2590), ("OCo", "O", 0.0134, 0.3023, 0.2694),
     ("OCm", "O", 0.0237, 0.6938, 0.2289), ("ODo", "O", 0.1971, 0.1098, 0.3890),
     ("ODm", "O", 0.1840, 0.8683, 0.4359)],
    "G. E. Harlow, G. E. Brown, Am. Mineral. 65, 986 (1980)",
    "C-1 setting (the feldspar convention), written with its C-centring operations.",
    centring=((0.5, 0.5, 0.0),))
# fmt: on


# ------------------------------------------------------------------------------ writing
def _term(coef, var):
    return {1: f"+{var}", -1: f"-{var}"}.get(int(coef), f"{int(coef):+d}*{var}")


def symop_strings(hall: int, centring=()) -> list[str]:
    """The general position of a Hall setting as CIF operations ('x,y,z', '-y,x-y,z+1/3')."""
    ds = spglib.get_symmetry_from_database(hall)
    rots, trans = list(ds["rotations"]), [np.asarray(v, float) for v in ds["translations"]]
    for c in centring:  # a non-standard centring (C-1), not in spglib's table
        rots, trans = rots + rots, trans + [(v + np.asarray(c)) % 1.0 for v in trans]
    ops = []
    for r, v in zip(rots, trans, strict=True):
        parts = []
        for i in range(3):
            s = "".join(_term(r[i, j], "xyz"[j]) for j in range(3) if r[i, j])
            f = Fraction(float(v[i]) % 1.0).limit_denominator(12)
            if f:
                s += f"+{f}"
            parts.append(s.lstrip("+"))
        op = ",".join(parts)
        if op not in ops:
            ops.append(op)
    return ops


def _num(v: float) -> str:
    return f"{float(v):.6f}".rstrip("0").rstrip(".") if abs(v) > 1e-12 else "0"


def cif_text(e: dict) -> str:
    from pymatgen.core import Composition

    st = spglib.get_spacegroup_type(e["hall"])
    hm = str(st.international_full if st.number in range(3, 16) else st.international)
    hm = hm.replace("_", "")
    if e["centring"]:
        hm = "C -1"
    comp = Composition({s[1]: 1 for s in e["sites"]})  # placeholder, replaced by caller
    del comp
    a, b, c, al, be, ga = e["cell"]
    lines = [
        f"# {e['name']}: written for xtalsym's real-structure check (data/real/README.md)",
        "# from the published cell and Wyckoff positions of the reference below.",
        f"data_{e['stem']}",
        f"_chemical_name_common '{e['name']}'",
        f"_chemical_formula_sum '{e['formula']}'",
        "_publ_section_references",
        ";",
        e["ref"],
        ";",
    ]
    if e["note"]:
        lines += ["_publ_section_comment", ";", e["note"], ";"]
    lines += [
        f"_symmetry_space_group_name_H-M '{hm}'",
        f"_space_group_IT_number {st.number}",
        f"_cell_length_a {a}",
        f"_cell_length_b {b}",
        f"_cell_length_c {c}",
        f"_cell_angle_alpha {al}",
        f"_cell_angle_beta {be}",
        f"_cell_angle_gamma {ga}",
        "loop_",
        "_space_group_symop_operation_xyz",
        *(f"'{op}'" for op in symop_strings(e["hall"], e["centring"])),
        "loop_",
        "_atom_site_label",
        "_atom_site_type_symbol",
        "_atom_site_fract_x",
        "_atom_site_fract_y",
        "_atom_site_fract_z",
        "_atom_site_occupancy",
    ]
    for lab, el, x, y, z in e["sites"]:
        lines.append(f"{lab} {el} {_num(x % 1.0)} {_num(y % 1.0)} {_num(z % 1.0)} 1.0")
    return "\n".join(lines) + "\n"


def formula_of(path: Path) -> str:
    from xtalsym.structures.standard import read_structure_file

    s = read_structure_file(path)
    comp = s.composition.reduced_composition
    return " ".join(f"{el}{_num(n) if n != 1 else ''}" for el, n in comp.items())


def neighbours(path: Path) -> str:
    """Shortest distance from each species to any other atom (Å), for the bond check."""
    from xtalsym.structures.standard import read_structure_file

    s = read_structure_file(path)
    out = []
    for el in sorted({str(x.specie) for x in s}):
        best = (9.9, "")
        for site in s:
            if str(site.specie) != el:
                continue
            for n in s.get_neighbors(site, 3.2):
                best = min(best, (round(n.nn_distance, 3), str(n.specie)))
        out.append(f"{el}-{best[1]} {best[0]:.3f}")
    return ", ".join(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(ROOT / "data/real"))
    p.add_argument("--check", action="store_true", help="print labels and shortest bonds")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stems = [e["stem"] for e in E]
    if len(set(stems)) != len(stems):
        raise SystemExit("duplicate stems")
    for e in E:
        path = out / f"{e['stem']}.cif"
        e["formula"] = "?"
        path.write_text(cif_text(e))
        e["formula"] = formula_of(path)
        path.write_text(cif_text(e))
        if args.check:
            from xtalsym.structures.standard import label, read_structure_file, standardise

            s = read_structure_file(path)
            n, sym = label(s, 0.01)
            want = spglib.get_spacegroup_type(e["hall"]).number
            flag = "" if n == want else f"   <-- declared {want}"
            nconv = len(standardise(s, 0.01))
            print(f"{e['stem']:28s} {n:3d} {sym:10s} {nconv:3d} | {neighbours(path)}{flag}")
    print(f"{len(E)} CIFs written to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
