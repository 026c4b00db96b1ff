"""Pattern -> network input resizes: the block maximum keeps every spot, nearest loses most."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from xtalsym.patterns import simulate_structure
from xtalsym.patterns.reference import reference_structures
from xtalsym.shaping import ShapingOptions, block_max, resize, shape_crystals
from xtalsym.shaping.resize import central_crop

from .test_patterns import params

LEVEL = 40  # 8-bit level of a "bright" spot peak


@pytest.fixture(scope="module")
def patterns() -> np.ndarray:
    """Clean patterns (n, 1, 3, 256, 256) of the reference crystals."""
    out = [simulate_structure(s, params()) for s in reference_structures().values()]
    return np.stack(out)[:, None]


def bright_spots(image: np.ndarray) -> np.ndarray:
    """(row, col) of the local maxima above LEVEL, the direct beam excluded."""
    peak = (image == ndimage.maximum_filter(image, size=3)) & (image > LEVEL)
    peak[image.shape[0] // 2, image.shape[1] // 2] = False
    return np.argwhere(peak)


def lost_fraction(patterns: np.ndarray, method: str) -> float:
    net = shape_crystals(patterns, "unshaped", ShapingOptions(), 64, method)[:, 0, :, 0]
    lost = total = 0
    for raw, small in zip(patterns[:, 0].reshape(-1, 256, 256), net.reshape(-1, 64, 64),
                          strict=True):  # fmt: skip
        spots = bright_spots(raw)
        total += len(spots)
        lost += int((small[spots[:, 0] // 4, spots[:, 1] // 4] == 0).sum())
    assert total > 100
    return lost / total


def test_block_max_keeps_every_bright_spot(patterns):
    assert lost_fraction(patterns, "max") == 0.0


def test_nearest_loader_loses_spots(patterns):
    assert lost_fraction(patterns, "loader") > 0.2


def test_block_max_and_crop_geometry():
    x = np.arange(16 * 16).reshape(16, 16)
    out = block_max(x, 4)
    assert out.shape == (4, 4) and out[0, 0] == x[:4, :4].max() and out[3, 3] == x.max()
    c = central_crop(x)
    assert c.shape == (8, 8) and c[0, 0] == x[4, 4]
    assert resize(x, 4, "crop").shape == (4, 4)
    with pytest.raises(ValueError, match="integer ratio"):
        block_max(np.zeros((10, 10)), 4)
    with pytest.raises(ValueError, match="resize must be"):
        resize(x, 4, "bicubic")
