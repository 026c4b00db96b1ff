"""Patterns as a detector records them: canonical frames, background and spots, the set
model, drawn zone axes, double diffraction, and many crystals in one predict call."""

from __future__ import annotations

import csv
import itertools

import numpy as np
import pytest
import torch
from PIL import Image
from pymatgen.core import Lattice, Structure

from xtalsym.config import validate
from xtalsym.experimental import recorded_patterns
from xtalsym.models import build_model, compose_inputs
from xtalsym.patterns import PatternCalculator, physics
from xtalsym.patterns.canonical import canonical_maps
from xtalsym.patterns.simulate import Settings, excited
from xtalsym.predict import Classifier, predict_patterns
from xtalsym.predict.batch import folder_sets, predict_sets
from xtalsym.spots import find_spots, rotation_map, subtract_background
from xtalsym.structures import standardise

from .helpers.toys import make_bundle

RECORDED_SCALE = 0.0061  # Å⁻¹ per px of the "detector", unlike the model's 0.01


def _params(**changes) -> dict:
    p = validate({})["patterns"]
    p.update(changes)
    return p


def _perovskite() -> Structure:
    s = Structure.from_spacegroup(
        "Pnma",
        Lattice.orthorhombic(5.5, 7.6, 5.4),
        ["Ca", "Ti", "O", "O"],
        [[0.03, 0.25, 0.99], [0, 0, 0.5], [0.48, 0.25, 0.09], [0.29, 0.04, 0.71]],
    )
    return standardise(s, 0.01)


def _zone(structure: Structure, k: int = 0):
    """(uv Å⁻¹, intensity) of the clean zone-axis pattern k of ``structure``."""
    params = _params()
    calc = PatternCalculator(params)
    refl = excited(calc.tables(structure), Settings.from_params(params)).split(3)[k]
    direct = ~refl.hkl.any(axis=1)
    return refl.uv[~direct], refl.intensity[~direct]


def _record(uv, inten, angle, mirror, *, size=512, halo=0.1, width=0.2, seed=0):
    """A 16-bit detector frame: spots of sigma 1.4 px at RECORDED_SCALE, a saturating direct
    beam, a halo holding ``halo`` of the electrons decaying over ``width`` Å⁻¹, an offset
    and Poisson noise; the pattern turned by ``angle`` and mirrored when asked."""
    rng = np.random.default_rng(seed)
    uv = uv @ rotation_map(angle, mirror).T
    dose = 4e5
    counts = inten / inten.sum() * dose
    yy, xx = np.mgrid[:size, :size].astype(float)
    c, sig = size / 2, 1.4
    img = np.full((size, size), 80.0)
    rows, cols = c - uv[:, 1] / RECORDED_SCALE, c + uv[:, 0] / RECORDED_SCALE
    for r, q, n in zip(rows, cols, counts, strict=True):  # test data, a few dozen spots
        img += n / (2 * np.pi * sig**2) * np.exp(-((yy - r) ** 2 + (xx - q) ** 2) / (2 * sig**2))
    img += (
        30 * dose / (2 * np.pi * sig**2) * np.exp(-((yy - c) ** 2 + (xx - c) ** 2) / (2 * sig**2))
    )
    g = np.hypot(yy - c, xx - c) * RECORDED_SCALE
    h = np.exp(-g / width)
    img += halo * dose * h / h.sum()
    return np.clip(rng.poisson(img), 0, 65535).astype(np.uint16), rows, cols, counts


def test_canonical_frame_ignores_the_angle_and_a_mirror():
    uv, inten = _zone(_perovskite(), 1)
    ref = {tuple(np.round(uv @ m.T, 5).ravel()) for m in canonical_maps(uv, inten)}
    rng = np.random.default_rng(3)
    for angle, mirror in zip(rng.uniform(0, 360, 6), [False, True] * 3, strict=True):
        turned = uv @ rotation_map(angle, mirror).T
        got = {tuple(np.round(turned @ m.T, 5).ravel()) for m in canonical_maps(turned, inten)}
        assert got == ref


def test_background_is_removed_every_spot_kept_and_none_found_in_pure_background():
    uv, inten = _zone(_perovskite(), 2)
    on_detector = np.abs(uv).max(axis=1) < 240 * RECORDED_SCALE
    uv, inten = uv[on_detector], inten[on_detector]
    img, rows, cols, counts = _record(uv, inten, 25.0, False, halo=0.2, width=0.15)
    centre = (256.0, 256.0)
    bg = subtract_background(img.astype(float), 6)
    found = find_spots(bg, centre, RECORDED_SCALE)
    # every spot with 200 or more electrons (far above the halo's shot noise) is found
    strong = counts >= 200
    assert strong.sum() >= 8
    want = np.stack([cols[strong] - 256, 256 - rows[strong]], 1) * RECORDED_SCALE
    dist = np.linalg.norm(want[:, None] - found.uv[None], axis=2).min(axis=1)
    assert (dist < RECORDED_SCALE).all(), dist / RECORDED_SCALE  # within a pixel
    # nothing at all in a frame of halo, beam, offset and noise only
    empty, *_ = _record(uv[:0], inten[:0] + 1, 0.0, False, halo=0.2, width=0.15, seed=1)
    none = find_spots(subtract_background(empty.astype(float), 6), centre, RECORDED_SCALE)
    assert len(none) == 0


def test_a_recorded_pattern_is_redrawn_as_the_simulator_draws_it_in_its_canonical_frame():
    s = _perovskite()
    params = _params(rotation="canonical")
    card = {"patterns": params}
    clean = PatternCalculator(params).get_patterns(s, [None])[0]
    for k, (angle, mirror) in enumerate([(37.0, True), (200.0, False), (-71.0, True)]):
        uv, inten = _zone(s, k)
        img, *_ = _record(uv, inten, angle, mirror, seed=k)
        redrawn = recorded_patterns([img], card, scale=RECORDED_SCALE)  # (R, 1, 256, 256)
        spots_clean = clean[k] > 60
        best = max((r[0] > 60).astype(float).ravel() @ spots_clean.ravel() for r in redrawn)
        # the canonical candidates include the clean pattern's frame: its spots coincide
        assert best >= 0.8 * spots_clean.sum()


def test_canonical_simulation_does_not_depend_on_the_beam_frame():
    params = _params(rotation="canonical")
    calc = PatternCalculator(params)
    tables = calc.tables(_perovskite())
    st = Settings.from_params(params)
    turned = tables.frames.copy()
    turned[:, 1:] = np.einsum("ij,bjk->bik", rotation_map(53.0), tables.frames[:, 1:])
    a = excited(tables, st).split(3)
    b = excited(tables, st, turned).split(3)
    for ra, rb in zip(a, b, strict=True):
        ma, mb = canonical_maps(ra.uv, ra.intensity), canonical_maps(rb.uv, rb.intensity)
        ia = {render_spots_key(ra, m) for m in ma}
        ib = {render_spots_key(rb, m) for m in mb}
        assert ia == ib


def render_spots_key(refl, m) -> tuple:
    return tuple(np.round(refl.uv @ m.T, 5).ravel())


def test_the_set_model_does_not_depend_on_the_order_and_ignores_absent_patterns():
    torch.manual_seed(0)
    m = build_model("msdn_set", 5, growth=4, blocks=[1, 1], stem=8, input_size=32).eval()
    u = torch.randint(0, 255, (2, 3, 2, 32, 32), dtype=torch.uint8)
    outs = [m(compose_inputs(u[:, list(p)], "msdn_set")) for p in itertools.permutations(range(3))]
    for o in outs[1:]:
        torch.testing.assert_close(o, outs[0], atol=1e-5, rtol=1e-5)
    # one pattern in any slot: the same answer
    one = torch.zeros_like(u)
    one[:, 2] = u[:, 0]
    alone = torch.zeros_like(u)
    alone[:, 0] = u[:, 0]
    torch.testing.assert_close(
        m(compose_inputs(one, "msdn_set")), m(compose_inputs(alone, "msdn_set")), atol=1e-5,
        rtol=1e-5,
    )  # fmt: skip
    with pytest.raises(ValueError, match="at least one pattern"):
        m(compose_inputs(torch.zeros_like(u), "msdn_set"))


def test_training_keeps_random_subsets_of_one_to_three_patterns():
    m = build_model("msdn_set", 5, growth=4, blocks=[1], stem=8, input_size=16, subsets=[1, 1, 1])
    x = torch.ones(3000, 3, 3, 16, 16)
    kept = m.train().present(x).sum(1)
    counts = torch.bincount(kept, minlength=4)[1:].float() / 3000
    assert torch.allclose(counts, torch.full((3,), 1 / 3), atol=0.05)
    assert (m.eval().present(x).sum(1) == 3).all()


def test_drawn_zone_axes_are_distinct_low_index_directions():
    axes = physics.low_index_axes()
    assert len(axes) == 49 and np.abs(axes).max() == 2
    assert len({tuple(a) for a in axes} | {tuple(-a) for a in axes}) == 98
    params = _params(beams="drawn", rotation="none")
    calc = PatternCalculator(params)
    tables = calc.tables(_perovskite())
    from xtalsym.patterns import noise as nz
    from xtalsym.patterns.simulate import variant_frames

    st = Settings.from_params(params)
    seen = set()
    for seed in range(20):
        f = variant_frames(tables, st, nz.noise_streams(seed))
        n = f[:, 0]
        assert np.abs(np.abs(n @ n.T) - np.eye(3)).max() < 0.999  # three different beams
        np.testing.assert_allclose(np.cross(f[:, 1], f[:, 2]), f[:, 0], atol=1e-9)
        seen |= {tuple(np.round(v, 6)) for v in n}
    assert len(seen) > 10  # drawn, not assigned


def test_double_diffraction_lights_screw_absences_but_never_centring_absences():
    # P2_1 (b unique) in the hk0 zone: 0k0 with k odd is absent, (1,1,0) + (-1,0,0) reaches it
    hkl = np.array([[0, 0, 0], [1, 0, 0], [-1, 0, 0], [1, 1, 0], [-1, -1, 0], [0, 1, 0],
                    [0, -1, 0], [0, 2, 0]])  # fmt: skip
    f2 = np.array([100.0, 4, 4, 3, 3, 0, 0, 5])
    out = physics.double_diffraction(hkl, f2, np.zeros(len(hkl), int), np.full(len(hkl), 0.1))
    assert out[5] > 0 and out[6] > 0
    np.testing.assert_array_equal(out[f2 > 0], f2[f2 > 0])
    # I-centring: h + k + l odd absent; sums of allowed reflections never are
    grid = np.array(list(itertools.product(range(-2, 3), repeat=3)))
    grid = grid[grid[:, 2] == 0]
    f2c = np.where(grid.sum(1) % 2 == 0, 1.0, 0.0)
    outc = physics.double_diffraction(grid, f2c, np.zeros(len(grid), int), np.ones(len(grid)))
    np.testing.assert_array_equal(outc, f2c)


@pytest.fixture(scope="module")
def set_bundle(tmp_path_factory):
    return make_bundle(tmp_path_factory.mktemp("m"), "msdn_set", "msdn_set", "shaped",
                       [62, 225, 227])  # fmt: skip


def _save16(path, img):
    Image.fromarray(img).save(path)
    return path


def test_many_crystals_one_bad_row_written_as_made_and_resumed(tmp_path, set_bundle):
    s = _perovskite()
    names = []
    for k in range(3):
        uv, inten = _zone(s, k)
        img, *_ = _record(uv, inten, 30.0 * k, bool(k % 2), seed=k)
        names.append(_save16(tmp_path / f"cao_{k + 1}.png", img).name)
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(
        "name,image_1,image_2,image_3,scale\n"
        f"good,{names[0]},{names[1]},{names[2]},{RECORDED_SCALE}\n"
        f"missing,{names[0]},nowhere.png,,{RECORDED_SCALE}\n"
        f"one,{names[1]},,,{RECORDED_SCALE}\n"
    )
    from xtalsym.predict.batch import read_manifest

    clf = Classifier(set_bundle)
    out = tmp_path / "pred.csv"
    rows = list(predict_sets(read_manifest(manifest), clf, out))
    assert [r["status"] for r in rows] == ["ok", "error", "ok"]
    assert "nowhere.png" in rows[1]["error"]
    assert rows[2]["n_patterns"] == 1
    with open(out, newline="") as f:
        written = list(csv.DictReader(f))
    assert [r["name"] for r in written] == ["good", "missing", "one"]
    assert written[0]["top1_spacegroup"] in {"62", "225", "227"}
    # resume: nothing is redone
    again = list(predict_sets(read_manifest(manifest), clf, out, resume=True))
    assert again == []
    # a folder of <name>_1/_2/_3 files gives the same sets
    assert folder_sets(tmp_path)[0]["images"] == [tmp_path / n for n in names]


def test_patterns_as_arrays_give_the_files_answer(tmp_path, set_bundle):
    uv, inten = _zone(_perovskite(), 0)
    img, *_ = _record(uv, inten, 12.0, False)
    path = _save16(tmp_path / "p_1.png", img)
    rec = predict_patterns([img], set_bundle, scale=RECORDED_SCALE)
    rec_file = Classifier(set_bundle, calibration={"scale": RECORDED_SCALE}).record([path])
    assert rec["top_k"] == rec_file["top_k"]
    assert rec["decision"]["answer"]["level"] in {h["level"] for h in rec["hierarchy"]}


def test_views_of_the_set_model_leave_patterns_out():
    from xtalsym.evaluate.views import view_logits

    torch.manual_seed(1)
    m = build_model("msdn_set", 5, growth=4, blocks=[1, 1], stem=8, input_size=32).eval()
    card = {"arch": "msdn_set", "classes": [1, 2, 3, 4, 5], "input_mode": "shaped",
            "input_size": 32, "name": "toy"}  # fmt: skip
    u = torch.randint(1, 255, (2, 3, 2, 32, 32), dtype=torch.uint8)
    views = view_logits(m, card, u)
    alone = torch.zeros_like(u)
    alone[:, 1] = u[:, 1]  # the second pattern only: what a user with one pattern has
    want = m(compose_inputs(alone, "msdn_set")).detach().numpy()
    np.testing.assert_allclose(views[(1,)], want, atol=1e-5)
    np.testing.assert_allclose(views[(0, 1, 2)], m(compose_inputs(u, "msdn_set")).detach().numpy(),
                               atol=1e-5)  # fmt: skip


def test_a_mask_hides_what_lies_under_it_through_files_and_arrays(tmp_path, set_bundle):
    from xtalsym.experimental import pattern_spots

    uv, inten = _zone(_perovskite(), 0)
    img, *_ = _record(uv, inten, 0.0, False)
    hot = img.copy()
    hot[60:64, 400:404] = 60000  # a hot patch far from every spot
    stop = np.zeros(img.shape, np.uint8)
    stop[55:70, 395:410] = 255
    # the patch's centre, row 61.5 and column 401.5, as uv (Å⁻¹) from the beam at (256, 256)
    patch = np.array([401.5 - 256, 256 - 61.5]) * RECORDED_SCALE

    def near_patch(spots) -> bool:
        return bool((np.linalg.norm(spots.uv - patch, axis=1) < 10 * RECORDED_SCALE).any())

    assert near_patch(pattern_spots(hot.astype(float), RECORDED_SCALE))
    assert not near_patch(pattern_spots(hot.astype(float), RECORDED_SCALE, mask=stop > 0))
    path, mask = _save16(tmp_path / "hot_1.png", hot), tmp_path / "stop.png"
    Image.fromarray(stop).save(mask)
    clf = Classifier(set_bundle, calibration={"scale": RECORDED_SCALE}, mask=mask)
    from_file = clf.record([path])
    from_arrays = predict_patterns([hot], set_bundle, scale=RECORDED_SCALE, mask=mask)
    assert from_file["top_k"] == from_arrays["top_k"]
