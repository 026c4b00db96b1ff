"""The realistic-pattern check (scripts/realistic_check.py): the detector-image writer (no abTEM),
the evaluator on a made-up predictions CSV, and abTEM's Bloch waves on Cu [001] when abTEM is
installed."""

from __future__ import annotations

import importlib.util
import json
import math
import sys

import numpy as np
import pandas as pd
import pytest

from .conftest import ROOT

SCRIPT = ROOT / "scripts" / "realistic_check.py"


@pytest.fixture(scope="module")
def rc():
    spec = importlib.util.spec_from_file_location("realistic_check", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["realistic_check"] = mod  # dataclasses look their module up by name
    spec.loader.exec_module(mod)
    return mod


KW = dict(size=128, scale=0.01, spot_fwhm=1.5, background_width=0.2)


def centroid(img: np.ndarray) -> tuple[float, float]:
    rr, cc = np.indices(img.shape)
    return float((img * rr).sum() / img.sum()), float((img * cc).sum() / img.sum())


def test_halo_holds_the_requested_fraction(rc):
    uv = np.array([[0.0, 0.0], [0.3, 0.0], [0.0, -0.25]])
    intensity = np.array([0.8, 0.1, 0.1])
    spots = rc.expected_electrons(uv, intensity, background_fraction=0.0, dose=1e5, **KW)
    both = rc.expected_electrons(uv, intensity, background_fraction=0.12, dose=1e5, **KW)
    assert both.sum() == pytest.approx(1e5, rel=1e-6)  # every spot inside: all electrons land
    halo = both - spots * (1 - 0.12)
    assert halo.sum() / both.sum() == pytest.approx(0.12, rel=1e-6)
    # Recorded (Poisson, offset; nothing saturates): the counts above the offset keep it.
    rng = np.random.default_rng(0)
    img = rc.record(both, offset=100.0, read_noise=0.0, rng=rng).astype(float) - 100.0
    assert img.max() < 65535 - 100
    assert img.sum() / 1e5 == pytest.approx(1.0, rel=0.01)
    away = np.hypot(*(np.indices(img.shape) - 64.0)) > 40  # the halo's tail, no spot there
    assert img[away].sum() == pytest.approx(halo[away].sum(), rel=0.05)


def test_spot_is_pixel_integrated_and_centred(rc):
    img = rc.expected_electrons(
        np.array([[0.205, 0.0]]), np.array([1.0]), background_fraction=0.0, dose=1e4, **KW
    )
    assert img.sum() == pytest.approx(1e4, rel=1e-9)
    r, c = centroid(img)
    assert (r, c) == pytest.approx((64.0, 64.0 + 20.5), abs=1e-6)


@pytest.mark.parametrize(
    "angle, mirror, expect",
    [(0, False, (0, 30)), (90, False, (-30, 0)), (180, False, (0, -30)), (30, False, None),
     (0, True, (0, -30)), (90, True, (30, 0))],
)  # fmt: skip
def test_rotation_and_mirror_move_a_spot(rc, angle, mirror, expect):
    """A spot at u = 0.3 Å⁻¹ (30 px right) turned counter-clockwise (v up: rows fall)."""
    img = rc.expected_electrons(
        np.array([[0.3, 0.0]]), np.array([1.0]), background_fraction=0.0, dose=1e4,
        angle_deg=angle, mirror=mirror, **KW,
    )  # fmt: skip
    r, c = centroid(img)
    if expect is None:
        a = math.radians(angle)
        expect = (-30 * math.sin(a), 30 * math.cos(a))
    assert (r - 64, c - 64) == pytest.approx(expect, abs=1e-4)


def test_uint16_saturates_and_seed_reproduces(rc):
    uv, intensity = np.array([[0.0, 0.0], [0.2, 0.1]]), np.array([0.9, 0.1])
    kw = dict(background_fraction=0.1, dose=5e7, offset=200.0, read_noise=3.0, **KW)
    a = rc.detector_image(uv, intensity, rng=np.random.default_rng(7), **kw)
    b = rc.detector_image(uv, intensity, rng=np.random.default_rng(7), **kw)
    c = rc.detector_image(uv, intensity, rng=np.random.default_rng(8), **kw)
    assert a.dtype == np.uint16 and a.shape == (128, 128)
    assert (a == 65535).any()  # the direct beam saturates
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert a.min() > 200 - 6 * 3  # the offset, less read noise


def test_png16_round_trip(rc, tmp_path):
    from xtalsym.experimental import read_detector_image

    img = (np.arange(64 * 64, dtype=np.uint32).reshape(64, 64) * 16).astype(np.uint16)
    rc.write_png16(tmp_path / "x.png", img)
    arr, full = read_detector_image(tmp_path / "x.png")
    assert full == 65535.0 and np.array_equal(arr, img)
    assert not list(tmp_path.glob(".*.tmp"))


def test_draws_are_seeded_and_in_range(rc):
    s = rc.Settings()
    a = rc.draw_conditions(np.random.default_rng(3), s)
    assert a == rc.draw_conditions(np.random.default_rng(3), s)
    assert s.scale[0] <= a["scale"] <= s.scale[1]
    for im in a["images"]:
        assert s.thickness[0] <= im["thickness"] <= s.thickness[1]
        assert s.background_fraction[0] <= im["background_fraction"] <= s.background_fraction[1]
        assert 0 <= im["angle_deg"] < 360


def fake_manifest(n: int = 8) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    rows = []
    for i in range(n):
        row = {"name": f"c{i}", "scale": 0.007, "spacegroup": 225, "crystal_system": "cubic"}
        for k in (1, 2, 3):
            row |= {f"image_{k}": f"images/c{i}_{k}.png", f"zone_axis_{k}": "[001]",
                    f"thickness_{k}": float(rng.uniform(100, 500)),
                    f"background_fraction_{k}": float(rng.uniform(0.02, 0.2)),
                    f"angle_deg_{k}": float(rng.uniform(0, 360)), f"mirror_{k}": int(k == 1)}  # fmt: skip
        rows.append(row)
    return pd.DataFrame(rows)


def test_evaluate_on_fake_predictions(rc, tmp_path):
    m = fake_manifest()[list(rc.MANIFEST_COLUMNS)]
    m.to_csv(tmp_path / "manifest.csv", index=False)
    # c0-c3 right, c4 right crystal system and in top-5, c5 wrong, c6 an error, c7 missing.
    rows = [("ok", "", 225, "cubic", "225;227;216;229;221") for _ in range(4)]
    rows += [("ok", "", 227, "cubic", "227;225"), ("ok", "", 194, "hexagonal", "194;186")]
    rows += [("error", "c6_2.png: no direct beam", "", "", "")]
    pred = pd.DataFrame(
        [{"name": f"c{i}", "status": s, "error": e, "top1_spacegroup": sg,
          "top1_probability": 0.5, "top1_crystal_system": cs, "top5_spacegroups": t5}
         for i, (s, e, sg, cs, t5) in enumerate(rows)]
    )  # fmt: skip
    pred.to_csv(tmp_path / "pred.csv", index=False)
    out = tmp_path / "docs" / "realistic_results"
    code = rc.main(["evaluate", "--manifest", str(tmp_path / "manifest.csv"),
                    "--predictions", str(tmp_path / "pred.csv"), "--out", str(out)])  # fmt: skip
    assert code == 0
    summary = json.loads(out.with_suffix(".json").read_text())
    o = summary["overall"]
    assert (o["top1"]["correct"], o["top5"]["correct"], o["cs"]["correct"]) == (4, 5, 5)
    assert o["top1"]["n"] == 8 and 0 < o["top1"]["lo"] < 0.5 < o["top1"]["hi"] < 1
    assert summary["n_predicted"] == 6
    assert {e["name"] for e in summary["errors"]} == {"c6", "c7"}
    assert sum(r["top1"]["n"] for r in summary["by_thickness"]) == 8
    assert sum(r["top1"]["n"] for r in summary["by_angle"]) == 24  # one per image
    assert sum(r["top1"]["n"] for r in summary["by_mirrored_images"]) == 8
    md = out.with_suffix(".md").read_text()
    assert "50.0 %" in md and "no direct beam" in md
    assert out.with_suffix(".png").stat().st_size > 1000


def test_generate_without_abtem_says_how_to_install(rc, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "abtem", None)  # import abtem now raises ImportError
    monkeypatch.setitem(sys.modules, "abtem.bloch", None)
    with pytest.raises(SystemExit) as e:
        rc.main(["generate", "--real", "data/real", "--out", "unused"])
    assert "pip install 'xtalsym[realistic]'" in str(e.value)


def test_bloch_waves_cu_001(rc):
    """abTEM's Bloch waves on Cu (fcc) along [001], few beams: allowed reflections (h, k, l all
    even or all odd) lit, 4-fold symmetric."""
    pytest.importorskip("abtem", reason="the Bloch-wave check needs abTEM (xtalsym[realistic])")
    from pymatgen.core import Lattice, Structure

    from xtalsym.patterns import physics

    a = 3.615
    cu = Structure(Lattice.cubic(a), ["Cu"] * 4,
                   [[0, 0, 0], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])  # fmt: skip
    s = rc.Settings(g_max=1.2, g_min=1.0, n_wedge=3)
    sfa = rc.structure_factors(cu, s, s.g_max)
    frame = physics.zone_axis_frames(cu.lattice.matrix, "cubic")[0]
    uv, intensity, info = rc.bloch_spots(sfa, frame, 250.0, s)
    assert info["n_beams"] < 50
    assert intensity.sum() == pytest.approx(1.0, abs=1e-3)  # no absorption: unitary
    hkl = info["hkl"]
    assert (hkl[:, 2] == 0).all()  # the zero-order zone at [001]
    assert ((hkl % 2 == 0).all(1) | (hkl % 2 == 1).all(1)).all()
    lit = {tuple(h) for h, i in zip(hkl, intensity, strict=True) if i > 1e-4}
    assert {(2, 0, 0), (0, 2, 0), (-2, 0, 0), (0, -2, 0), (2, 2, 0)} <= lit
    # (u, v) of 200 is a* (u along a); turned by 90°, the pattern maps onto itself.
    i200 = np.flatnonzero((hkl == [2, 0, 0]).all(1))[0]
    assert uv[i200] == pytest.approx([2 / a, 0.0], abs=1e-9)
    turned = np.column_stack([-uv[:, 1], uv[:, 0]])
    d = np.linalg.norm(turned[:, None] - uv[None], axis=2)
    j = d.argmin(1)
    assert d.min(1).max() < 1e-9
    assert np.allclose(intensity[j], intensity, rtol=1e-4, atol=1e-9)
