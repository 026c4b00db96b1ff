"""The pattern simulator: validation against pymatgen's TEMCalculator, symmetry, noise."""

from __future__ import annotations

import copy
import functools

import numpy as np
import pytest
from pymatgen.analysis.diffraction.tem import TEMCalculator
from pymatgen.core import Lattice, Structure
from scipy import ndimage

from xtalsym.config import validate
from xtalsym.patterns import (
    BEAM_FRAMES,
    Settings,
    crystal_from_structure,
    excited,
    physics,
    prepare,
    reflections,
    simulate_structure,
)
from xtalsym.patterns import noise as nz
from xtalsym.patterns.reference import CRYSTAL_SYSTEMS, reference_structure
from xtalsym.patterns.scattering import element_coefficients, scattering_factors
from xtalsym.patterns.simulate import render_patterns

NOISE_OFF = dict.fromkeys(nz.NOISE_KEYS, 0.0)


@functools.cache
def _defaults() -> dict:
    return validate({})["patterns"]


def params(**over) -> dict:
    """The validated default ``patterns`` section with one thickness (100 Å) and B (0.5 Å²),
    noise off, the Cartesian beams x, y, z in their own frame (the frame these tests check), with
    overrides."""
    p = copy.deepcopy(_defaults())
    p.update(thickness=100.0, debye_waller=0.5, beams="cartesian", rotation="none")
    p["noise"] = dict(NOISE_OFF)
    noise = over.pop("noise", {})
    p.update(over)
    p["noise"].update(noise)
    return p


def zolz(name: str, beam: int, **over):
    """Our zero-order Laue zone reflections of a reference crystal along beam 0, 1, 2 (x, y, z)."""
    s = reference_structure(name)
    st = Settings.from_params(params(**over))
    return s, reflections(prepare(crystal_from_structure(s), st), st, zolz_only=True)[beam]


# (crystal, our beam axis index, the same beam as TEMCalculator's zone axis [uvw])
TEM_CASES = [
    ("NaCl", 2, (0, 0, 1)),
    ("NaCl", 0, (1, 0, 0)),
    ("ZnS", 1, (0, 1, 0)),
    ("Mg", 2, (0, 0, 1)),
    ("ZnO", 0, (1, 0, 0)),
    ("ZnO", 1, (1, 2, 0)),
    ("Al2O3", 2, (0, 0, 1)),
    ("TiO2", 2, (0, 0, 1)),
    ("TiO2", 0, (1, 0, 0)),
    ("CaTiO3", 0, (1, 0, 0)),
    ("CaTiO3", 1, (0, 1, 0)),
    ("CaTiO3", 2, (0, 0, 1)),
    ("mono-P21c", 2, (0, 0, 1)),
    ("mono-P21c", 1, (0, 1, 0)),
    ("tric-P-1", 2, (0, 0, 1)),
]


def test_tem_cases_cover_the_crystal_systems():
    systems = {CRYSTAL_SYSTEMS[name] for name, _, _ in TEM_CASES}
    assert {"cubic", "hexagonal", "trigonal", "tetragonal", "orthorhombic"} <= systems
    assert {"monoclinic", "triclinic"} <= systems


def _tem_table(structure: Structure, uvw) -> dict:
    """TEMCalculator's reflections: hkl -> (|g| Å⁻¹, intensity, in-plane position Å⁻¹)."""
    tem = TEMCalculator(beam_direction=uvw)
    df = tem.get_pattern(structure)
    to_inv_a = 1.0 / (tem.wavelength_rel() * tem.camera_length)  # positions are λ L g
    return {
        tuple(hkl): (1.0 / d, i, np.asarray(pos) * to_inv_a)
        for hkl, d, i, pos in zip(
            df["(hkl)"],
            df["Interplanar Spacing"],
            df["Intensity (norm)"],
            df["Position"],
            strict=True,
        )
    }


@pytest.mark.parametrize("name,beam,uvw", TEM_CASES)
def test_zone_axis_matches_temcalculator(name, beam, uvw):
    """Same reflections, |g| within 1e-6 Å⁻¹, relative |F|² within 1e-6, same 2D geometry.

    Settings made equal: electron factors, no Debye-Waller (TEMCalculator ignores its
    debye_waller_factors argument), no shape factor (TEMCalculator has none: compare |F|²).
    TEMCalculator enumerates hkl in [-10, 11]³, so compare within the sphere both cover.
    """
    s, ours = zolz(name, beam, debye_waller=0.0, radiation="electron")
    theirs = _tem_table(s, uvw)
    g_cmp = min(1.2, 10.0 / max(s.lattice.abc)) * 0.999
    g_ours = np.linalg.norm(ours.uv, axis=1)
    sel = ours.hkl.any(axis=1) & (g_ours <= g_cmp)
    mine = {tuple(h): k for k, h in zip(np.flatnonzero(sel), ours.hkl[sel], strict=True)}
    their_keys = {h for h, v in theirs.items() if v[0] <= g_cmp}
    assert len(mine) >= 20
    assert set(mine) == their_keys
    keys = sorted(mine)
    idx = np.array([mine[k] for k in keys])
    g_t = np.array([theirs[k][0] for k in keys])
    i_t = np.array([theirs[k][1] for k in keys])
    p_t = np.array([theirs[k][2] for k in keys])
    np.testing.assert_allclose(g_ours[idx], g_t, rtol=0, atol=1e-6)
    i_o = ours.f2[idx]
    np.testing.assert_allclose(i_o / i_o.max(), i_t / i_t.max(), rtol=0, atol=1e-6)
    # positions: each program uses its own in-plane frame; compare all dot products
    p_o = ours.uv[idx]
    np.testing.assert_allclose(p_o @ p_o.T, p_t @ p_t.T, rtol=0, atol=1e-6)
    assert (i_t > 1e-3).sum() >= 10  # a real pattern, not all absences


def test_debye_waller_damps_by_exp_minus_2bs2():
    """With B > 0 our |F|² equals TEMCalculator's times exp(-2 B s²), s = |g|/2 (one B for
    every atom factors out of F)."""
    b = 0.8
    s, ours = zolz("CaTiO3", 2, debye_waller=b)
    theirs = _tem_table(s, (0, 0, 1))
    keep = [k for k, h in enumerate(map(tuple, ours.hkl)) if any(h) and h in theirs]
    g = np.linalg.norm(ours.uv[keep], axis=1)
    undamped = ours.f2[keep] * np.exp(2 * b * (g / 2) ** 2)
    i_t = np.array([theirs[tuple(h)][1] for h in ours.hkl[keep]])
    np.testing.assert_allclose(undamped / undamped.max(), i_t / i_t.max(), rtol=0, atol=1e-6)
    assert np.ptp(np.exp(-2 * b * (g / 2) ** 2)) > 0.3  # the damping is not a no-op here


def test_scattering_factors_match_pymatgen():
    s = reference_structure("SrTiO3")
    tem = TEMCalculator()
    hkls = [(1, 0, 0), (1, 1, 0), (2, 1, 1), (3, 2, 0)]
    bragg = tem.bragg_angles({h: s.lattice.d_hkl(h) for h in hkls})
    f_e_tem = tem.electron_scattering_factors(s, bragg)
    f_x_tem = tem.x_ray_factors(s, bragg)
    elements = ["O", "Sr", "Ti"]
    coeffs, z = element_coefficients(elements)
    s_vals = np.array([0.5 / s.lattice.d_hkl(h) for h in hkls])
    f_e = scattering_factors(coeffs, z, s_vals, "electron")
    f_x = scattering_factors(coeffs, z, s_vals, "xray")
    for i, el in enumerate(elements):
        np.testing.assert_allclose(f_e[i], [f_e_tem[el][h] for h in hkls], rtol=1e-9)
        np.testing.assert_allclose(f_x[i], [f_x_tem[el][h] for h in hkls], rtol=1e-9)
    # forward scattering: X-ray f(0) = Z; electron f(0) finite and largest
    f0 = scattering_factors(coeffs, z, np.array([0.0, 0.3]), "xray")
    np.testing.assert_allclose(f0[:, 0], z)
    fe = scattering_factors(coeffs, z, np.array([0.0, 0.3]), "electron")
    assert np.all(np.isfinite(fe)) and np.all(fe[:, 0] > fe[:, 1])


def test_xray_factors_change_relative_intensities():
    """X-ray factors fall off more slowly than electron ones: outer spots gain weight."""
    _, el = zolz("CaTiO3", 2, radiation="electron")
    _, xr = zolz("CaTiO3", 2, radiation="xray")
    assert np.array_equal(el.hkl, xr.hkl)
    g = np.linalg.norm(el.uv, axis=1)
    outer = g > 0.8
    rel_el, rel_xr = el.f2 / el.f2.max(), xr.f2 / xr.f2.max()
    assert rel_xr[outer].sum() > 1.5 * rel_el[outer].sum()


def test_unknown_element_is_a_clear_error():
    with pytest.raises(ValueError, match="Es"):
        element_coefficients(["Na", "Es"])


def test_excitation_error_exact_and_small_angle():
    lam = 0.0251
    rng = np.random.default_rng(0)
    g = rng.normal(0, 0.7, size=(50, 3))
    n = BEAM_FRAMES[:, 0]
    s = physics.excitation_errors(g, n, lam)
    exact = 1 / lam - np.linalg.norm(n[None] / lam + g[:, None], axis=2)
    np.testing.assert_allclose(s, exact, rtol=0, atol=1e-10)
    # near the zone (small g·n) the small-angle form of simulation-notes.md holds
    gn = g @ n.T
    approx = -gn - lam * (g * g).sum(1)[:, None] / 2
    near = np.abs(gn) < 0.05
    assert near.sum() >= 5
    assert np.abs(s - approx)[near].max() < 1e-4


def test_shape_factors_peak_and_integral():
    t = 100.0
    s = np.linspace(-0.5, 0.5, 200001)
    ds = s[1] - s[0]
    for kind in ("gaussian", "sinc2"):
        f = physics.shape_factor(s, t, kind)
        assert f.max() == pytest.approx(1.0)
        assert f.sum() * ds == pytest.approx(1 / t, rel=1e-2)  # both integrate to 1/t
    assert physics.shape_factor(np.array([0.01]), t, "sinc2")[0] == pytest.approx(0, abs=1e-12)


def _image(name: str, **over) -> np.ndarray:
    return simulate_structure(reference_structure(name), params(**over))


@pytest.mark.parametrize("name", ["NaCl", "SrTiO3"])
def test_cubic_same_pattern_along_x_y_z(name):
    im = _image(name).astype(int)
    assert (im[2] > 20).sum() > 20
    assert np.abs(im[0] - im[2]).max() <= 1 and np.abs(im[1] - im[2]).max() <= 1
    assert (im[0] == im[2]).mean() > 0.9999


def _rot90_about_centre(img: np.ndarray) -> np.ndarray:
    """The y image of a tetragonal crystal from its x image (4-fold about z, see the frames):
    out[r, k] = img[size - k, r], a 90° rotation about pixel (size/2, size/2)."""
    out = np.zeros_like(img)
    out[:, 1:] = img[:0:-1, :].T
    return out


def test_tetragonal_x_and_y_equivalent_z_different():
    im = _image("TiO2").astype(int)
    # The 4-fold rotation maps beam x (u=y, v=z) onto beam y with (u, v) -> (v, -u) in our
    # y frame (u=z, v=x): the y image is the x image turned by 90° about the centre pixel.
    mapped = _rot90_about_centre(im[0])
    assert (im[1] > 20).sum() > 10
    assert np.abs(im[1][1:, 1:] - mapped[1:, 1:]).max() <= 1
    # and a = b != c: the z pattern (square) differs from x (rectangular)
    assert np.abs(im[2] - im[0]).max() > 50


def test_orthorhombic_x_and_y_differ():
    im = _image("CaTiO3").astype(int)
    assert np.abs(im[1][1:, 1:] - _rot90_about_centre(im[0])[1:, 1:]).max() > 50


def _rotate_about_centre(img: np.ndarray, degrees: float) -> np.ndarray:
    """img rotated by ``degrees`` about pixel (size/2, size/2), bicubic."""
    c = img.shape[0] / 2
    rr, cc = np.mgrid[0 : img.shape[0], 0 : img.shape[1]].astype(float)
    a = np.deg2rad(degrees)
    r_src = c + (rr - c) * np.cos(a) - (cc - c) * np.sin(a)
    c_src = c + (rr - c) * np.sin(a) + (cc - c) * np.cos(a)
    return ndimage.map_coordinates(img.astype(float), [r_src, c_src], order=3, mode="constant")


@pytest.mark.parametrize("name", ["Mg", "ZnO"])
def test_hexagonal_z_pattern_is_six_fold(name):
    # spot level: rotating every reflection by 60° lands on a reflection of equal intensity
    st = Settings.from_params(params())
    r = reflections(prepare(crystal_from_structure(reference_structure(name)), st), st)[2]
    strong = r.intensity > 1e-6 * r.intensity.max()
    uv, inten = r.uv[strong], r.intensity[strong]
    assert len(uv) >= 19
    for deg, symmetric in ((60, True), (120, True), (90, False)):
        a = np.deg2rad(deg)
        rot = uv @ np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])
        dist = np.linalg.norm(rot[:, None] - r.uv[None], axis=2)
        j = dist.argmin(axis=1)
        hit = dist[np.arange(len(uv)), j] < 1e-9
        if symmetric:
            assert hit.all()
            # 1e-6: the lattice from cell parameters carries ~1e-16 asymmetries
            np.testing.assert_allclose(r.intensity[j], inten, rtol=1e-6)
        else:
            assert not hit.all()
    # image level: the rendered pattern (wide spots for interpolation) is 6-fold, not 4-fold
    im = _image(name, spot_sigma=1.5).astype(float)[2]
    im[120:137, 120:137] = 0  # the saturated direct beam says nothing about symmetry
    err60 = np.abs(_rotate_about_centre(im, 60) - im).max()
    err90 = np.abs(_rotate_about_centre(im, 90) - im).max()
    assert err60 < 12 < 60 < err90


@pytest.mark.parametrize("name", ["ZnS", "ZnO", "tric-P-1"])
def test_friedel_pairs_equal(name):
    crystal = crystal_from_structure(reference_structure(name))
    st = Settings.from_params(params())
    t = prepare(crystal, st)
    f_el = np.concatenate([t.f_el, t.f_el[:, 1:]], axis=1)  # tables hold one of each pair
    args = (f_el, crystal.frac, crystal.occ, crystal.species)
    f2_plus = physics.structure_factor_sq(t.hkl, *args)
    f2_minus = physics.structure_factor_sq(-t.hkl, *args)
    # the tables' Friedel order: row 0 is g = 0, then P reflections, then their opposites
    p = t.n_pairs
    assert not t.hkl[0].any() and np.array_equal(t.hkl[1 : 1 + p], -t.hkl[1 + p :])
    np.testing.assert_allclose(f2_plus, f2_minus, rtol=1e-9, atol=1e-12 * f2_plus.max())
    # zone-axis images are then centrosymmetric about the centre pixel
    im = simulate_structure(reference_structure(name), params()).astype(int)[2]
    assert np.abs(im[1:, 1:] - im[:0:-1, :0:-1]).max() <= 1


def test_noncentrosymmetric_phases_are_not_trivial():
    """ZnS has F(g) != F(-g) as complex numbers (only |F| agrees): the test above can fail."""
    crystal = crystal_from_structure(reference_structure("ZnS"))
    hkl = np.array([[1, 1, 1]])
    phase = 2 * np.pi * hkl @ crystal.frac.T
    f = (np.exp(1j * phase) * crystal.occ).sum()
    f_minus = (np.exp(-1j * phase) * crystal.occ).sum()
    assert abs(f - f_minus) > 1


def test_lattice_size_shows():
    """Doubling the lattice halves the spot spacing: the detector scale is fixed."""
    st = Settings.from_params(params())
    first = []
    for a in (4.0, 8.0):
        s = Structure(Lattice.cubic(a), ["Cu"], [[0, 0, 0]])
        r = reflections(prepare(crystal_from_structure(s), st), st)[2]
        g = np.linalg.norm(r.uv, axis=1)
        first.append(g[g > 0].min())
    assert first == pytest.approx([0.25, 0.125])
    im = simulate_structure(Structure(Lattice.cubic(4.0), ["Cu"], [[0, 0, 0]]), params())[2]
    assert im[128, 128 + 25] > 100 and im[128, 128 + 12] == 0  # 0.25 Å⁻¹ / 0.01 = 25 px


def test_off_zone_beam_shows_reflections_near_the_sphere():
    """Along x of a monoclinic cell (not a lattice direction) the spots are off-zone
    reflections (g·n != 0) close to the Ewald sphere."""
    st = Settings.from_params(params())
    s = reference_structure("mono-P21c")
    r = reflections(prepare(crystal_from_structure(s), st), st)[0]
    g = r.hkl @ np.linalg.inv(s.lattice.matrix).T
    off = np.abs(g[:, 0]) > 1e-6
    assert off.sum() >= 5
    assert np.all(np.abs(r.s) <= st.s_tol + 1e-12)
    # visible in 8 bits: 255 (I / I_ref)^0.5 > 35 levels
    assert r.intensity[off].max() > 0.02 * r.intensity[r.hkl.any(axis=1)].max()


def test_pattern_format_and_direct_beam():
    im = _image("CaTiO3")
    assert im.shape == (3, 256, 256) and im.dtype == np.uint8
    assert np.all(im[:, 128, 128] == 255)
    # the saturated direct beam stays a compact core (peaks are capped before splatting)
    assert np.all((im[:, 120:137, 120:137] == 255).sum(axis=(1, 2)) <= 9)
    # sparse, bright centre, falling off outwards
    assert np.all((im > 0).mean(axis=(1, 2)) < 0.05)
    rr = np.hypot(*np.mgrid[-128:128, -128:128])
    inner, outer = im[:, rr < 60].astype(float).mean(), im[:, rr > 90].astype(float).mean()
    assert inner > 3 * outer


NOISY = {"displacement": 0.05, "vacancy": 0.1, "background": 3.0, "dose": 500.0}
NOISY |= {"read_noise": 2.0, "blur": 0.5, "tilt": 0.3}


def test_noise_reproducible_per_seed():
    s = reference_structure("Mg")
    p = params(noise=NOISY)
    a, b = simulate_structure(s, p, seed=11), simulate_structure(s, p, seed=11)
    assert np.array_equal(a, b)
    c = simulate_structure(s, p, seed=12)
    assert not np.array_equal(a, c)
    clean = simulate_structure(s, params())
    assert np.array_equal(simulate_structure(s, p, seed=None), simulate_structure(s, params()))
    assert np.array_equal(simulate_structure(s, params(), seed=11), clean)
    assert (a > 0).mean() > 0.5 > (clean > 0).mean()


def test_noise_kinds_draw_from_independent_streams():
    """Adding a background leaves the other draws unchanged: the images differ by exactly
    the background wherever nothing clips."""
    s = reference_structure("CaTiO3")
    base = {"tilt": 0.3, "displacement": 0.05, "read_noise": 2.0, "background": 10.0}
    a = simulate_structure(s, params(noise=base), seed=3).astype(int)
    b = simulate_structure(s, params(noise=base | {"background": 14.0}), seed=3).astype(int)
    ok = (a > 0) & (a < 251)
    assert ok.mean() > 0.9
    assert np.all(b[ok] - a[ok] == 4)
    # and the tilt and displacement draws are the same: same spots
    assert np.array_equal(a > 100, b > 104)


@pytest.mark.parametrize(
    "kind,level",
    [("displacement", 0.1), ("vacancy", 0.3), ("tilt", 0.5), ("blur", 1.0), ("dose", 200.0)],
)
def test_each_noise_kind_changes_the_pattern(kind, level):
    s = reference_structure("TiO2")
    clean = simulate_structure(s, params()).astype(int)
    noisy = simulate_structure(s, params(noise={kind: level}), seed=5).astype(int)
    assert np.abs(noisy - clean).max() > 5


@pytest.mark.parametrize("name", ["CaTiO3", "tric-P-1"])
def test_candidate_prefilter_loses_nothing_under_tilt(name):
    """The per-crystal candidate set (kept for any tilt up to noise.tilt) gives the same
    reflections as the whole sphere |g| <= g_max, for beams tilted up to that limit."""
    st = Settings.from_params(params(noise={"tilt": 1.0}))
    crystal = crystal_from_structure(reference_structure(name))
    fast, full = prepare(crystal, st), prepare(crystal, st, prefilter=False)
    assert len(fast.hkl) < len(full.hkl) / 2
    rng = np.random.default_rng(0)
    for _ in range(5):
        frames = nz.tilt_frames(BEAM_FRAMES, 1.0, rng)
        for a, b in zip(reflections(fast, st, frames), reflections(full, st, frames), strict=True):
            key_a = {tuple(h): i for h, i in zip(a.hkl, a.intensity, strict=True)}
            key_b = {tuple(h): i for h, i in zip(b.hkl, b.intensity, strict=True)}
            assert key_a.keys() == key_b.keys() and len(key_a) > 10
            assert all(key_a[k] == pytest.approx(key_b[k], rel=1e-12) for k in key_a)


@pytest.mark.parametrize("read_noise,background", [(1.5, 2.0), (0.0, 3.0), (12.0, 20.0)])
def test_sparse_detector_equals_dense_sum(read_noise, background):
    """detector_image computes only the pixels the spots touched; the dense formula
    quantise(canvas + background + read_noise z) over every pixel gives the same image."""
    st = Settings.from_params(params())
    t = prepare(crystal_from_structure(reference_structure("CaTiO3")), st)
    canvas, touched = render_patterns(excited(t, st), 3, st)
    fast = nz.detector_image(canvas, touched, background, 0, read_noise, nz.noise_streams(4))
    dense = canvas + background
    if read_noise > 0:
        idx = np.frombuffer(nz.noise_stream(4, "read").bytes(2 * canvas.size), dtype="<u2")
        dense = dense + nz.GAUSS_TABLE[idx] * read_noise
    want = np.clip(np.rint(dense), 0, 255).astype(np.uint8)
    assert np.array_equal(fast, want)
    assert len(np.unique(touched)) < 0.2 * canvas.size  # sparse indeed


def test_noise_streams_are_the_spawned_children_of_default_rng():
    children = np.random.default_rng(21).spawn(len(nz.STREAMS))
    streams = nz.noise_streams(21)
    for kind, child in zip(nz.STREAMS, children, strict=True):
        assert streams(kind).random() == child.random()
    assert streams("read") is streams("read")  # made once, then reused


def test_gaussian_table_is_standard_normal():
    z = nz.GAUSS_TABLE
    assert z.mean() == pytest.approx(0, abs=1e-12) and z.std() == pytest.approx(1, rel=1e-12)
    assert np.all(np.diff(z) > 0) and 4.0 < z.max() < 4.5
    # fraction beyond 2 sigma as for a normal distribution
    assert (np.abs(z) > 2).mean() == pytest.approx(0.0455, abs=2e-3)


def test_tilt_breaks_friedel_symmetry_of_the_image():
    s = reference_structure("NaCl")
    im = simulate_structure(s, params(noise={"tilt": 0.5}), seed=2).astype(int)[2]
    assert np.abs(im[1:, 1:] - im[:0:-1, :0:-1]).max() > 20


def test_disordered_site_uses_occupancies():
    """A site half Na, half K scatters as the average of the two."""
    st = Settings.from_params(params())
    lat = Lattice.cubic(5.0)
    mixed = Structure(lat, [{"Na": 0.5, "K": 0.5}], [[0, 0, 0]])
    c = crystal_from_structure(mixed)
    assert c.n_sites == 1 and len(c.elements) == 2
    t = prepare(c, st)
    half = t.hkl[: 1 + t.n_pairs]
    f_avg = 0.5 * (t.f_el[0] + t.f_el[1])
    f2 = physics.structure_factor_sq(half, t.f_el, c.frac, c.occ, c.species)
    np.testing.assert_allclose(f2, f_avg**2, rtol=1e-12)
    # the dict and JSON forms give the same crystal as the Structure
    for form in (mixed.as_dict(), mixed.to_json()):
        c2 = crystal_from_structure(form)
        assert c2.elements == c.elements and np.allclose(c2.occ, c.occ)


def test_calculator_makes_one_pattern_per_seed_as_simulate_structure_does():
    from xtalsym.patterns import PatternCalculator

    p = params(noise={"background": 10.0, "dose": 300.0})  # Poisson noise differs per seed
    s = reference_structure("SrTiO3")
    calc = PatternCalculator(p)
    many = calc.get_patterns(s.to_json(), [None, 7, 8])
    assert many.shape == (3, 3, p["size"], p["size"]) and many.dtype == np.uint8
    assert np.array_equal(many[0], simulate_structure(s, p))  # None: clean
    assert np.array_equal(many[1], simulate_structure(s, p, seed=7))
    assert not np.array_equal(many[1], many[2])  # each seed its own noise
