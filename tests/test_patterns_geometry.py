"""The rendered image against independent geometry: spot positions on the detector after the
standard setting and the detector mapping, TEMCalculator's spacings and angles, and the side of
the Ewald sphere. A mirrored detector axis, a sign flip of the beam or a wrong setting fails."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.analysis.diffraction.tem import TEMCalculator
from pymatgen.core import Lattice, Structure

from xtalsym.patterns import Settings, crystal_from_structure, physics, prepare, reflections
from xtalsym.patterns.simulate import simulate_crystal
from xtalsym.structures import standardise

from .test_patterns import params
from .test_structures import in_hall_setting


def pnma_in_pbnm() -> Structure:
    """A Pnma crystal written in the Pbnm setting (a = 5.0, b = 5.5, c = 7.7 Å there)."""
    return in_hall_setting(294, Lattice.orthorhombic(5.0, 5.5, 7.7), seed=3)


def spot_pixels(structure: Structure, beam: int, hkl: tuple[int, int, int]):
    """(row, col) where our detector mapping puts reflection hkl of ``structure``."""
    g = np.asarray(hkl, float) @ physics.reciprocal_basis(structure.lattice.matrix)
    frame = physics.BEAM_FRAMES[beam]
    row, col = physics.detector_pixels(np.array([g @ frame[1], g @ frame[2]]), 256, 0.01)
    return float(row), float(col)


def test_spots_land_where_the_documented_mapping_puts_them():
    """Pnma (from Pbnm) in the ITA setting: a = 5.5, b = 7.7, c = 5.0 Å; beam z has u = x
    (a*), v = y (b*): (200) right of the centre, (020) above it, on the rendered image."""
    s = standardise(pnma_in_pbnm(), 0.01)
    assert np.allclose(s.lattice.abc, (5.5, 7.7, 5.0))  # the standard setting's axes
    st = Settings.from_params(params())
    image = simulate_crystal(prepare(crystal_from_structure(s), st), st, [None])[0][2]
    c = 128
    for hkl, (dr, dc) in {(2, 0, 0): (0, 2 / 5.5), (0, 2, 0): (-2 / 7.7, 0)}.items():
        row, col = spot_pixels(s, 2, hkl)
        assert row == pytest.approx(c + dr / 0.01) and col == pytest.approx(c + dc / 0.01)
        r, q = int(round(row)), int(round(col))
        assert image[r, q] > 100, hkl  # a bright spot there ...
        assert image[2 * c - r, q] > 100  # ... and its Friedel mate, mirrored through the centre
    # 100 and 010 are forbidden in Pnma (h00: h = 2n, 0k0: k = 2n): dark where they would be
    for hkl in [(1, 0, 0), (0, 1, 0)]:
        r, q = (int(round(x)) for x in spot_pixels(s, 2, hkl))
        assert image[r, q] == 0, hkl


def test_handedness_of_the_detector():
    """u × v = n for every beam, so no detector axis is mirrored; and a crystal rotated by +90°
    about z turns its beam-z pattern by +90° (counter-clockwise, v up)."""
    for n, u, v in physics.BEAM_FRAMES:
        assert np.allclose(np.cross(u, v), n)
    st = Settings.from_params(params())
    lat = Lattice.orthorhombic(4.0, 6.0, 5.0)
    s = Structure(lat, ["Fe", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    rot = Structure(Lattice([[0, 4.0, 0], [-6.0, 0, 0], [0, 0, 5.0]]), s.species, s.frac_coords)
    a = simulate_crystal(prepare(crystal_from_structure(s), st), st, [None])[0][2]
    b = simulate_crystal(prepare(crystal_from_structure(rot), st), st, [None])[0][2]
    # (u, v) -> (-v, u) with column 128 + u/scale and row 128 - v/scale: b[i, j] = a[j, 256 - i],
    # i.e. np.rot90 (counter-clockwise) shifted by the centre pixel
    np.testing.assert_array_equal(np.rot90(a, 1)[:-1, :], b[1:, :])
    assert not np.array_equal(np.rot90(a, -1)[1:, :], b[:-1, :])  # not the clockwise turn


@pytest.mark.parametrize("beam,uvw", [(2, (0, 0, 1)), (0, (1, 0, 0)), (1, (0, 1, 0))])
def test_spacings_and_angles_match_temcalculator(beam, uvw):
    """On the standard-setting cell, every zone-axis spot's distance from the centre is
    TEMCalculator's 1/d and the angle between two spots its interplanar angle."""
    s = standardise(pnma_in_pbnm(), 0.01)
    tem = TEMCalculator(beam_direction=uvw)
    st = Settings.from_params(params())
    r = reflections(prepare(crystal_from_structure(s), st), st, zolz_only=True)[beam]
    hkls = [tuple(int(x) for x in h) for h in r.hkl if any(h) and np.abs(h).max() <= 2]
    assert len(hkls) >= 8 and all(np.dot(h, uvw) == 0 for h in hkls)
    d = tem.get_interplanar_spacings(s, hkls)
    uv = {tuple(int(x) for x in h): q for h, q in zip(r.hkl, r.uv, strict=True)}
    for h in hkls:
        assert np.linalg.norm(uv[h]) == pytest.approx(1 / d[h], rel=1e-9)
    for h1, h2 in zip(hkls, hkls[1:], strict=False):
        cos = uv[h1] @ uv[h2] / (np.linalg.norm(uv[h1]) * np.linalg.norm(uv[h2]))
        angle = np.degrees(np.arccos(np.clip(cos, -1, 1)))
        assert angle == pytest.approx(tem.get_interplanar_angle(s, h1, h2), abs=1e-6)


def test_excited_side_of_the_ewald_sphere():
    """A reflection on the Ewald sphere of a beam along +n (g·n = -λ|g|²/2 for k0 = n/λ) is
    excited (s = 0); its mirror through the detector plane is not. A sign flip of the beam
    or of the small-angle term swaps them."""
    lam = 0.0251
    n = np.array([[0.0, 0.0, 1.0]])
    gp = 1.2
    gz = (-1 / lam) + np.sqrt(1 / lam**2 - gp**2)  # exactly on the sphere |k0 + g| = 1/λ
    on = np.array([[gp, 0.0, gz]])
    off = np.array([[gp, 0.0, -gz]])
    s_on = physics.excitation_errors(on, n, lam)[0, 0]
    s_off = physics.excitation_errors(off, n, lam)[0, 0]
    assert abs(s_on) < 1e-12
    assert abs(s_off) > 5 * physics.s_tolerance(500.0, "gaussian", 1e-4)
    assert gz < 0
