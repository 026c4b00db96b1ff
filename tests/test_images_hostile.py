"""Hostile and unusual image files (issue 35): one reader for every image, fuzzed, and the
decompression bomb, multi-page TIFF and NaN cases through ``xtalsym predict A B C --scale``.

Asserted: every file is read or refused with ``ValueError("<file>: <reason>")``, never another
exception, both by the readers and by the whole ``classify`` path of recorded patterns; on the
command line the refusal names the file and the reason, without a traceback.
"""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from xtalsym.cli import main
from xtalsym.cli.common import REFERENCE_MODEL
from xtalsym.cli.predict import pattern_image_help
from xtalsym.experimental import read_detector_image
from xtalsym.imageread import MAX_SIZE, read_image
from xtalsym.predict import classify
from xtalsym.shaping import read_pattern_image

from .helpers import ROOT
from .helpers.images import encode, png_claiming, png_with_size, recorded_pattern, tiff_with_size

SCALE = ["--scale", "0.01"]
_RNG = np.random.default_rng(35)
_SMALL = _RNG.integers(0, 255, (24, 24)).astype(np.uint8)
#: Small valid files of every kind the readers accept, the seeds of the fuzz.
SEEDS: dict[str, bytes] = {
    "png8": encode(_SMALL),
    "png16": encode(_SMALL.astype(np.uint16) * 257),
    "tif8": encode(_SMALL, "TIFF"),
    "tif16": encode(_SMALL.astype(np.uint16) * 257, "TIFF"),
    "tif_float": encode(_SMALL.astype(np.float32) - 100.0, "TIFF"),
    "tif_lzw": encode(_SMALL, "TIFF", compression="tiff_lzw"),
}
#: Header sizes to lie with: refused from the header, or small enough to decode fast.
LIES = [0, 1, 15, 16, 23, 25, 100, MAX_SIZE + 1, 60_000, 2**31 - 1, 2**32 - 1]
FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@st.composite
def mutants(draw, seeds: dict[str, bytes]) -> bytes:
    """A seed truncated, bit-flipped, or lying about its size in the header (and flipped)."""
    data = bytearray(seeds[draw(st.sampled_from(sorted(seeds)))])
    kind = draw(st.sampled_from(["truncate", "flip", "header", "header+flip"]))
    if kind == "truncate":
        return bytes(data[: draw(st.integers(0, len(data) - 1))])
    if kind.startswith("header"):
        w, h = draw(st.sampled_from(LIES)), draw(st.sampled_from(LIES))
        if data.startswith(b"\x89PNG"):
            data = bytearray(png_with_size(bytes(data), w, h, crc=draw(st.booleans())))
        else:
            data = bytearray(tiff_with_size(bytes(data), min(w, 2**32 - 1), h))
    if kind.endswith("flip"):
        for at, bit in draw(st.lists(st.tuples(st.integers(0, len(data) - 1),
                                               st.integers(0, 7)), min_size=1, max_size=8)):  # fmt: skip
            data[at] ^= 1 << bit
    return bytes(data)


def _read_or_refuse(read, path):
    """``read(path)``, or None when it refuses the file by name; any other error fails."""
    try:
        return read(path)
    except ValueError as e:
        assert str(e).startswith(f"{path}: "), e
        return None


@FUZZ
@given(data=mutants(SEEDS), suffix=st.sampled_from([".png", ".tif"]))
def test_fuzzed_images_are_read_or_refused_by_name(tmp_path, data, suffix):
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(data)
    img = _read_or_refuse(read_image, path)
    if img is not None:
        assert img.values.ndim == 2 and img.values.dtype in (np.uint8, np.float64)
        assert min(img.values.shape) >= 16 and np.isfinite(img.values).all()
    pattern = _read_or_refuse(read_pattern_image, path)
    if pattern is not None:
        assert pattern.dtype == np.uint8 and pattern.shape[0] == pattern.shape[1]
    raw = _read_or_refuse(read_detector_image, path)
    if raw is not None:
        assert raw[0].dtype == np.float64 and np.isfinite(raw[0]).all()
    assert (img is None) == (raw is None)  # one reader: the same files refused


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """Three good recorded patterns (16-bit PNG), and the bytes of a 16-bit PNG and TIFF one."""
    d = tmp_path_factory.mktemp("recorded")
    paths = []
    for k in range(3):
        paths.append(d / f"good_{k}.png")
        paths[-1].write_bytes(encode(recorded_pattern(k)))
    seeds = {"png16": encode(recorded_pattern(1)), "tif16": encode(recorded_pattern(1), "TIFF")}
    return paths, seeds


def test_the_good_recorded_patterns_are_classified(recorded, one_torch_thread):
    paths, seeds = recorded
    assert (REFERENCE_MODEL / "model_card.json").is_file()  # predict's default model
    assert classify(paths, REFERENCE_MODEL, calibration={"scale": 0.01})["top_k"]
    dark = paths[1].parent / "dark.tif"  # float, dark-subtracted: negative values are fine
    Image.fromarray(recorded_pattern(1).astype(np.float32) - 100.0).save(dark)
    assert read_detector_image(dark)[0].min() < 0
    assert classify([paths[0], dark, paths[2]], REFERENCE_MODEL, calibration={"scale": 0.01})[
        "top_k"
    ]


@settings(FUZZ, max_examples=30)
@given(data=st.data())
def test_fuzzed_images_through_classify(recorded, one_torch_thread, tmp_path, data):
    paths, seeds = recorded
    bad = tmp_path / "fuzz_1.png"
    bad.write_bytes(data.draw(mutants(seeds)))
    try:
        rec = classify([paths[0], bad, paths[2]], REFERENCE_MODEL, calibration={"scale": 0.01})
    except ValueError as e:
        assert str(bad) in str(e), e
    else:
        assert rec["status"] == "ok" and rec["top_k"]


def _multipage() -> bytes:
    first, second = Image.fromarray(recorded_pattern(0)), Image.fromarray(recorded_pattern(1))
    buf = io.BytesIO()
    first.save(buf, format="TIFF", save_all=True, append_images=[second])
    return buf.getvalue()


def _nan_tiff() -> bytes:
    img = recorded_pattern(1).astype(np.float32)
    img[10, 20] = np.nan
    img[30, 40] = np.inf
    return encode(img, "TIFF")


HOSTILE = {
    "bomb.png": (png_claiming(60_000, 60_000), "too large"),
    "stack.tif": (_multipage(), "2 pages or frames"),
    "nan.tif": (_nan_tiff(), "non-finite pixel values (1 NaN, 1 inf)"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_images_through_predict_name_the_file(recorded, one_torch_thread, tmp_path,
                                                      capsys, name):  # fmt: skip
    paths, _ = recorded
    data, reason = HOSTILE[name]
    bad = tmp_path / name
    bad.write_bytes(data)
    rc = main(["predict", str(paths[0]), str(bad), str(paths[2]), *SCALE])  # default model
    err = capsys.readouterr().err
    assert rc != 0 and f"{bad}: " in err and reason in err, err
    assert "Traceback" not in err


def test_the_bomb_of_issue_35_on_the_command_line(recorded, tmp_path):
    """A ~300-byte PNG claiming 60,000 x 60,000 px: a named refusal, not Pillow's traceback."""
    paths, _ = recorded
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_claiming(60_000, 60_000))
    assert bomb.stat().st_size < 400
    with pytest.raises(Image.DecompressionBombError):  # Pillow alone: an exception
        Image.open(bomb)
    out = subprocess.run(
        [sys.executable, "-m", "xtalsym", "predict", str(bomb), *map(str, paths[1:]), *SCALE],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert out.returncode != 0
    assert f"{bomb}: image too large" in out.stderr and "Traceback" not in out.stderr, out.stderr


def test_predict_help_says_what_happens_to_multipage_and_oversize_images():
    text = " ".join(pattern_image_help().split())
    assert "A multi-page TIFF or an animation is refused by name" in text
    assert f"over {MAX_SIZE} px a side, from its header" in text
