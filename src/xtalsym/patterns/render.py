"""Spots to 8-bit images: intensity compression, Gaussian splatting, quantisation.

The 8-bit mapping is applied to each spot's peak before splatting,

    peak = 255 (I / I_ref)^γ,   I_ref = the strongest reflection other than g = 0 on the image,

so that the spot shape does not depend on its intensity (every spot 1-3 px wide, as in the
authors' samples), weak reflections survive (γ = 0.5 maps 10⁻³ I_ref to level 8) and the
direct beam, always stronger than I_ref kinematically, saturates at 255 (peaks are capped at
2 x 255, see PEAK_CAP).
"""

from __future__ import annotations

import numpy as np

FULL_SCALE = 255.0
# Spot peaks are capped here before splatting: the direct beam can be 10⁴ x I_ref, and an
# uncapped Gaussian that tall would still be tens of levels at the 3σ edge of its stencil,
# drawing a square. Capped, it saturates a compact 3 x 3 px core like the samples' centre.
PEAK_CAP = 2 * FULL_SCALE


def compress(intensity: np.ndarray, i_ref: np.ndarray | float, gamma: float) -> np.ndarray:
    """Spot peak levels min(255 (I / I_ref)^γ, PEAK_CAP); 0 where I_ref <= 0. ``i_ref`` is a
    scalar or one value per spot."""
    i_ref = np.asarray(i_ref, dtype=np.float64)
    ok = i_ref > 0
    ratio = np.maximum(intensity, 0.0) / np.where(ok, i_ref, 1.0)
    peak = FULL_SCALE * np.power(ratio, gamma)
    peak[~np.broadcast_to(ok, peak.shape)] = 0.0
    return np.minimum(peak, PEAK_CAP, out=peak)


def splat(
    rows: np.ndarray,
    cols: np.ndarray,
    peaks: np.ndarray,
    sigmas: np.ndarray,
    image: np.ndarray,
    n_images: int,
    size: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Sum of 2D Gaussians of height ``peaks`` and width ``sigmas`` (px) at (rows, cols) (float
    px) on ``n_images`` images of size x size; ``image`` is each spot's image index.

    Each spot is drawn on a (2r+1)² stencil, r = ceil(3 max σ), as an outer product of two 1D
    Gaussians; all stencils of all images go through one bincount. Returns the flat float
    canvas (n_images * size * size,) and the flat indices its stencils touched (with repeats):
    every other pixel is exactly 0, so later steps work on those pixels only.
    """
    if not rows.size:
        return np.zeros(n_images * size * size), np.zeros(0, dtype=np.intp)
    r = int(np.ceil(3 * sigmas.max()))
    off = np.arange(-r, r + 1)
    r0 = np.rint(rows).astype(np.intp)
    c0 = np.rint(cols).astype(np.intp)
    rr = r0[:, None] + off  # (n, K)
    cc = c0[:, None] + off
    k = (-0.5 / (sigmas * sigmas))[:, None]
    wy = np.exp(k * (rr - rows[:, None]) ** 2) * peaks[:, None]
    wx = np.exp(k * (cc - cols[:, None]) ** 2)
    ok_r = (rr >= 0) & (rr < size)
    ok_c = (cc >= 0) & (cc < size)
    w = wy[:, :, None] * wx[:, None, :]
    flat = (image[:, None, None] * size + rr[:, :, None]) * size + cc[:, None, :]
    ok = ok_r[:, :, None] & ok_c[:, None, :]
    touched = flat[ok]
    canvas = np.bincount(touched, weights=w[ok], minlength=n_images * size * size)
    return canvas, touched


def quantise(images: np.ndarray) -> np.ndarray:
    """Round and clip float levels to uint8 (0..255), in place on ``images``."""
    np.rint(images, out=images)
    np.clip(images, 0.0, FULL_SCALE, out=images)
    return images.astype(np.uint8)


def quantise_touched(canvas: np.ndarray, touched: np.ndarray) -> np.ndarray:
    """uint8 image (flat) of a splat canvas: quantise(canvas) computed on the touched pixels
    only (all others are exactly 0). Repeated indices write the same value."""
    out = np.zeros(canvas.shape, dtype=np.uint8)
    out[touched] = quantise(canvas[touched])
    return out
