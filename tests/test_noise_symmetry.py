"""Noise that keeps the space group; imaging conditions drawn per variant (issue: what the
network sees)."""

from __future__ import annotations

import numpy as np
import pytest
from pymatgen.core import Lattice, Structure

from xtalsym.patterns import Settings, crystal_from_structure, physics, prepare, reflections
from xtalsym.patterns import noise as nz
from xtalsym.patterns.reference import reference_structure
from xtalsym.patterns.simulate import draw_conditions, excited, simulate_crystal
from xtalsym.patterns.symmetry import site_symmetry
from xtalsym.structures import label, standardise

from .test_patterns import params
from .test_structures import in_hall_setting


def perturbed_structure(s: Structure, noise: dict, seed: int) -> Structure:
    st = Settings.from_params(params(noise=noise))
    tables = prepare(crystal_from_structure(s), st)
    c = nz.perturb_crystal(tables.crystal, tables.symmetry, st.noise, nz.noise_streams(seed))
    lattice = tables.crystal.lattice
    if st.noise["strain"] > 0:
        cond = draw_conditions(st, tables, nz.noise_streams(seed))
        lattice = lattice @ cond.strain
    return Structure(Lattice(lattice), [c.elements[i] for i in c.species], c.frac)


def pnma_absent(hkl: np.ndarray) -> np.ndarray:
    """Reflection conditions of Pnma (62, ITA): 0kl k+l=2n, hk0 h=2n, h00, 0k0, 00l even."""
    h, k, m = hkl.T
    return (
        ((h == 0) & ((k + m) % 2 == 1))
        | ((m == 0) & (h % 2 == 1))
        | ((k == 0) & (m == 0) & (h % 2 == 1))
        | ((h == 0) & (m == 0) & (k % 2 == 1))
        | ((h == 0) & (k == 0) & (m % 2 == 1))
    )


def forbidden_f2(s: Structure) -> tuple[float, float]:
    """(largest |F|² of the Pnma-forbidden reflections, median |F|² of the allowed ones)."""
    st = Settings.from_params(params())
    c = crystal_from_structure(s)
    t = prepare(c, st, prefilter=False)
    half = t.hkl[1 : 1 + t.n_pairs]
    f2 = physics.structure_factor_sq(half, t.f_el[:, 1:], c.frac, c.occ, c.species)
    bad = pnma_absent(half)
    assert bad.sum() > 20
    return float(f2[bad].max()), float(np.median(f2[~bad]))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_symmetric_noise_keeps_group_and_absences(seed):
    s = standardise(reference_structure("CaTiO3"), 0.01)
    assert label(s, 0.01)[0] == 62
    noisy = perturbed_structure(s, {"jitter": 0.1, "strain": 0.02, "vacancy": 0.3}, seed)
    assert not np.allclose(noisy.frac_coords, s.frac_coords, atol=1e-3)  # it did move
    assert label(noisy, 0.01)[0] == 62
    assert label(noisy, 1e-4)[0] == 62  # exactly, not only within the tolerance
    worst, typical = forbidden_f2(noisy)
    assert worst < 1e-12 * typical


def test_static_disorder_breaks_absences():
    s = standardise(reference_structure("CaTiO3"), 0.01)
    noisy = perturbed_structure(s, {"displacement": 0.1}, 1)
    assert label(noisy, 1e-4)[0] != 62
    worst, typical = forbidden_f2(noisy)
    assert worst > 1e-3 * typical


def test_site_symmetry_orbits_of_perovskite():
    c = crystal_from_structure(standardise(reference_structure("CaTiO3"), 0.01))
    sym = site_symmetry(c)
    assert sym.order == 8  # mmm, primitive
    sizes = sorted(np.bincount(sym.orbit)[np.unique(sym.orbit)].tolist())
    assert sizes == [4, 4, 4, 8]  # Ca 4c, Ti 4b, O1 4c, O2 8d


def test_strain_respects_crystal_system():
    rng = np.random.default_rng(0)
    for name, check in [
        ("NaCl", lambda a, b, c: np.allclose([a, b], c)),  # cubic: isotropic
        ("TiO2", lambda a, b, c: np.isclose(a, b) and not np.isclose(a, c)),
    ]:
        s = standardise(reference_structure(name), 0.01)
        c = crystal_from_structure(s)
        m = nz.strain_matrix(site_symmetry(c), c.lattice, 0.02, rng)
        lat = Lattice(c.lattice @ m)
        base = np.array(s.lattice.abc)
        assert check(*(np.array(lat.abc) / base)) and not np.allclose(lat.abc, base)
        assert np.allclose(lat.angles, s.lattice.angles, atol=1e-6)


def test_standard_setting_absences_on_the_beams():
    """A P2_1/c crystal built as P2_1/a comes out with c along z and b along y: the y-beam
    (h0l zone) shows the c-glide absences (l odd) and its x- and z- patterns differ."""
    s = standardise(in_hall_setting(83, Lattice.monoclinic(7.0, 6.0, 5.0, 100.0)), 0.01)
    st = Settings.from_params(params())
    r = reflections(prepare(crystal_from_structure(s), st), st, zolz_only=True)[1]  # beam y
    h0l = r.hkl[:, 1] == 0
    assert h0l.all() and len(r.hkl) > 30
    odd = (r.hkl[:, 2] % 2 == 1) & r.hkl.any(axis=1)
    assert r.f2[odd].max() < 1e-12 * np.median(r.f2[~odd])
    assert r.f2[~odd & r.hkl.any(axis=1)].min() >= 0


def test_imaging_conditions_drawn_within_ranges():
    p = params(thickness=[50.0, 500.0], debye_waller=[0.2, 2.0],
               noise={"background": [0.0, 30.0], "dose": [300.0, 3000.0], "scale_error": 0.03,
                      "strain": 0.01})  # fmt: skip
    st = Settings.from_params(p)
    tables = prepare(crystal_from_structure(reference_structure("Mg")), st)
    conds = [draw_conditions(st, tables, nz.noise_streams(k)) for k in range(40)]
    for key, (lo, hi) in [("thickness", (50, 500)), ("background", (0, 30)), ("dose", (300, 3000))]:
        v = np.array([getattr(c, key) for c in conds])
        assert v.min() >= lo and v.max() <= hi and v.std() > 0.15 * (hi - lo)
    scales = np.array([c.scale for c in conds])
    assert np.all(np.abs(scales - 1) <= 0.03) and scales.std() > 0.005
    # background shows in the image: mean level of empty pixels follows the drawn value
    im = simulate_crystal(tables, st, [7])[0]
    cond = draw_conditions(st, tables, nz.noise_streams(7))
    assert abs(np.median(im) - cond.background) < 3 + 0.15 * cond.background


def test_training_range_of_each_noise_kind():
    """The robustness figure's training band: tilts up to 0.3 deg train on the whole cone
    [0, 0.3], a jitter sd of 0.02 A on that level, a background range on the range; the
    levels actually drawn lie in that band."""
    assert nz.training_range("tilt", 0.3) == (0.0, 0.3)
    assert nz.training_range("vacancy", 0.1) == (0.0, 0.1)
    assert nz.training_range("jitter", 0.02) == (0.02, 0.02)
    assert nz.training_range("background", [5, 30]) == (5.0, 30.0)
    frames = np.broadcast_to(np.eye(3), (3, 3, 3)).copy()
    rng = np.random.default_rng(0)
    tilts = [np.degrees(np.arccos(np.clip(nz.tilt_frames(frames, 0.3, rng)[:, 0] @ [1, 0, 0], -1, 1)))
             for _ in range(50)]  # fmt: skip
    lo, hi = nz.training_range("tilt", 0.3)
    assert lo <= np.min(tilts) < 0.1 and 0.25 < np.max(tilts) <= hi + 1e-9


def test_thicker_crystal_fewer_off_zone_spots_and_scale_moves_spots():
    st = Settings.from_params(params(thickness=[50.0, 500.0]))
    t = prepare(crystal_from_structure(reference_structure("tric-P-1")), st)
    thin = draw_conditions(st, t, nz.noise_streams(0))
    from dataclasses import replace

    thin = replace(thin, thickness=50.0, strain=None, scale=1.0)
    thick = replace(thin, thickness=500.0)
    n_thin = len(excited(t, st, conditions=thin).hkl)
    n_thick = len(excited(t, st, conditions=thick).hkl)
    assert n_thin > 1.5 * n_thick
    far = replace(thin, scale=1.03)
    a, b = excited(t, st, conditions=thin), excited(t, st, conditions=far)
    np.testing.assert_allclose(b.uv, 1.03 * a.uv)


@pytest.mark.parametrize(
    ("name", "axes"),
    [("NaCl", [(0, 0, 1), (1, 1, 0), (1, 1, 1)]), ("Mg", [(0, 0, 1), (1, 0, 0), (2, 1, 0)]),
     ("tric-P-1", [(1, 0, 0), (0, 1, 0), (0, 0, 1)])],
)  # fmt: skip
def test_zone_axis_beams(name, axes):
    """beams = zone_axes: each pattern's zero-order Laue zone is the plane hkl · [uvw] = 0 of
    its zone axis, the frames are right-handed, and a cubic crystal's three images differ."""
    s = standardise(reference_structure(name), 0.01)
    st = Settings.from_params(params(beams="zone_axes"))
    t = prepare(crystal_from_structure(s), st)
    for frame in t.frames:
        assert np.allclose(np.cross(frame[1], frame[2]), frame[0])
    for r, uvw in zip(reflections(t, st, zolz_only=True), axes, strict=True):
        assert len(r.hkl) > 10 and np.all(r.hkl @ np.array(uvw) == 0)
    if name == "NaCl":
        im = simulate_crystal(t, st, [None])[0]
        assert not np.array_equal(im[0], im[1]) and not np.array_equal(im[1], im[2])
