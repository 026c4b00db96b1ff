"""Experimental pattern images: bit depth, size, centre and scale brought to the model's grid
(their spots found and redrawn; test_recorded.py covers angles, halos and many crystals)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from pymatgen.core import Lattice, Structure
from scipy import ndimage

from xtalsym.config import validate
from xtalsym.experimental import (
    experimental_patterns,
    find_direct_beam,
    read_detector_image,
    scale_from_camera,
)
from xtalsym.inference import ImageSpec, network_images
from xtalsym.models import build_model
from xtalsym.patterns import simulate_structure
from xtalsym.structures import standardise
from xtalsym.train.bundle import predict_proba

SIZE, SCALE = 64, 0.06


def _params() -> dict:
    p = validate({})["patterns"]
    p.update(size=SIZE, scale=SCALE, rotation="none")  # the frame as given: pixels compare
    return p


def _simulated(seed: int = 5) -> np.ndarray:
    s = Structure.from_spacegroup(
        "Pnma",
        Lattice.orthorhombic(5.5, 7.6, 5.4),
        ["Ca", "Ti", "O", "O"],
        [[0.03, 0.25, 0.99], [0, 0, 0.5], [0.48, 0.25, 0.09], [0.29, 0.04, 0.71]],
    )
    return simulate_structure(standardise(s, 0.01), _params(), seed)


def _detector(pattern: np.ndarray, f: float, shape: tuple[int, int], beam: tuple[float, float]):
    """The pattern seen on a detector f times finer, beam at ``beam`` (row, col), float."""
    rr, cc = np.mgrid[: shape[0], : shape[1]]
    coords = [SIZE / 2 + (rr - beam[0]) / f, SIZE / 2 + (cc - beam[1]) / f]
    fill = float(np.median(pattern))
    return ndimage.map_coordinates(pattern.astype(float), coords, order=1, cval=fill)


def test_shifted_rescaled_16bit_tiff_gives_the_original_prediction(tmp_path):
    pats = _simulated()
    f, shape, beam = 1.6, (150, 130), (70.3, 61.8)
    paths = []
    for k, axis in enumerate("xyz"):
        img = np.rint(_detector(pats[k], f, shape, beam) * 257).astype(np.uint16)
        path = tmp_path / f"p_{axis}.tif"
        Image.fromarray(img).save(path)
        assert Image.open(path).mode == "I;16"
        paths.append(path)
        raw, full = read_detector_image(path)
        assert full == 65535 and raw.shape == shape
        assert find_direct_beam(raw) == pytest.approx(beam, abs=0.1)
    card = {"patterns": _params()}
    back = experimental_patterns(paths, card, scale=SCALE / f, intensity="display")
    assert back.shape == (1, 3, SIZE, SIZE) and back.dtype == np.uint8
    box = np.zeros((SIZE, SIZE), bool)
    box[SIZE // 2 - 3 : SIZE // 2 + 4, SIZE // 2 - 3 : SIZE // 2 + 4] = True
    for k in range(3):
        bright = (pats[k] > 100) & ~box
        near = ndimage.maximum_filter(back[0, k], size=3)  # spots redrawn within a pixel
        assert bright.sum() >= 2 and (near[bright] > 25).all()  # every bright spot kept
    # the same prediction from a model on the original and the recovered patterns
    torch.manual_seed(0)
    model = build_model("msdn", 6, growth=4, blocks=[1, 1], stem=8, dropout=0.0, input_size=32)
    shaping = validate({})["shaping"]
    mcard = {
        "name": "toy",
        "arch": "msdn",
        "classes": [2, 14, 62, 139, 194, 225],
        "input_size": 32,
        "input_mode": "shaped",
        "shaping": shaping,
    }
    spec = ImageSpec.from_card(mcard)
    p1 = predict_proba(model, mcard, network_images(back, spec))
    assert p1.shape == (1, 6) and np.isfinite(p1).all()


def test_linear_counts_get_the_simulators_gamma_mapping(tmp_path):
    # a 16-bit linear image on the model's own grid: beam 60000 counts, spots 4000 and 1000
    img = np.full((SIZE, SIZE), 100.0)
    img[SIZE // 2, SIZE // 2] = 60000
    img[10, 20], img[40, 50] = 4100, 1100  # background 100 on top
    path = tmp_path / "lin.png"
    Image.fromarray(img.astype(np.uint16)).save(path)
    out = experimental_patterns([path] * 3, {"patterns": _params()}, scale=SCALE)
    # 255 (I / I_ref)^0.5 with I_ref = 4000: 255 and 127.5; the beam saturates; background 0
    assert out[0, 0, 10, 20] == 255 and out[0, 0, 40, 50] == 128 and out[0, 0, 32, 32] == 255
    assert out[0, 0, 0, 0] == 0
    assert scale_from_camera(400.0, 0.0251, 0.05) == pytest.approx(0.05 / (0.0251 * 400.0))
    again = experimental_patterns(
        [path] * 3,
        {"patterns": _params()},
        camera_length_mm=1.0,
        wavelength_a=1.0,
        pixel_mm=SCALE,
    )
    assert np.array_equal(again, out)


def test_images_it_cannot_use_are_refused_by_name_and_reason(tmp_path):
    card = {"patterns": _params()}

    def save(name: str, arr: np.ndarray):
        path = tmp_path / name
        Image.fromarray(arr).save(path)
        return path

    blank = save("blank.png", np.full((80, 80), 7, np.uint8))
    with pytest.raises(ValueError, match="blank.png: blank image"):
        experimental_patterns([blank] * 3, card, scale=SCALE)
    sat = np.zeros((80, 80), np.uint16)
    sat[:20] = 65535
    with pytest.raises(ValueError, match="sat.tif: saturated"):
        experimental_patterns([save("sat.tif", sat)] * 3, card, scale=SCALE)
    corner = np.random.default_rng(0).integers(0, 5, (80, 80)).astype(np.uint8)
    corner[3:6, 3:6] = 250
    with pytest.raises(ValueError, match="corner.png: no central beam.*--centre ROW,COL"):
        experimental_patterns([save("corner.png", corner)] * 3, card, scale=SCALE)
    flat = np.random.default_rng(1).integers(0, 50, (80, 80)).astype(np.uint8)
    with pytest.raises(ValueError, match="noise.png: no direct beam"):
        experimental_patterns([save("noise.png", flat)] * 3, card, scale=SCALE)
    with pytest.raises(ValueError, match="one to three pattern images"):
        experimental_patterns([blank] * 4, card, scale=SCALE)
    with pytest.raises(ValueError, match="calibration"):
        experimental_patterns([blank] * 3, card)
    bad = tmp_path / "bad.tif"
    bad.write_bytes(b"not an image")
    with pytest.raises(ValueError, match="bad.tif: not a readable image"):
        experimental_patterns([bad] * 3, card, scale=SCALE)
