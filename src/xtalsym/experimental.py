"""Experimental pattern images for ``xtalsym predict``: any size and bit depth, any centre.

A detector image (8- or 16-bit PNG or TIFF, or 32-bit integer / float TIFF) becomes a pattern
like the simulator's (docs/artifacts.md): ``card["patterns"]["size"]`` pixels square, the
direct beam at pixel (size/2, size/2), ``card["patterns"]["scale"]`` Å⁻¹ per pixel, 8-bit.

1. :func:`read_detector_image`: the raw values (float64) and the file's full scale.
2. :func:`check_image`: refuses blank and saturated images by name and reason.
3. :func:`find_direct_beam`: the brightest blob after smoothing, refined to sub-pixel by the
   centroid of its upper half (so a saturated, flat-topped beam is centred too); refused when
   it is not well above the background or not in the central half of the image.
4. :func:`resample_pattern`: bilinear resampling onto the model's grid around the beam; when
   the image is finer than the model by a factor f >= 2, a max filter of f pixels first
   keeps spots that the sampling would step over.
5. Intensities: ``display`` keeps an already display-mapped image (scaled so its maximum is
   255, as a simulated pattern's saturated direct beam); ``linear`` (raw detector counts)
   subtracts the median background and applies the simulator's mapping 255 (I / I_ref)^gamma
   per pixel, I_ref the brightest pixel outside the direct beam (``BEAM_RADIUS`` px).

The calibration is ``scale`` (Å⁻¹ per pixel of the image) or, from the camera,
:func:`scale_from_camera` (camera length, wavelength and detector pixel size).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

#: Fraction of pixels at full scale above which an image counts as saturated.
MAX_SATURATED = 0.02
#: The beam must exceed the median by this many robust standard deviations (after smoothing).
MIN_BEAM_SNR = 8.0
#: Radius (pixels of the model grid) around the direct beam left out of I_ref (linear mode).
BEAM_RADIUS = 4
INTENSITY_MODES = ("display", "linear")


def scale_from_camera(camera_length_mm: float, wavelength_a: float, pixel_mm: float) -> float:
    """Å⁻¹ per pixel: a spot at r on the detector has g = r / (λ L) (small angles)."""
    for name, v in (("camera length", camera_length_mm), ("wavelength", wavelength_a),
                    ("pixel size", pixel_mm)):  # fmt: skip
        if not v > 0:
            raise ValueError(f"{name} must be positive, got {v}")
    return float(pixel_mm) / (float(wavelength_a) * float(camera_length_mm))


def read_detector_image(path: str | os.PathLike) -> tuple[np.ndarray, float | None]:
    """(values (H, W) float64, full scale: 255, 65535, or None for 32-bit / float images).

    Colour images are read as luminance; negative values (a dark-subtracted frame) are kept.
    ValueError naming the file for every refusal of :func:`xtalsym.imageread.read_image`
    (missing, not an image, truncated, over 8192 px a side, several pages, NaN or inf).
    """
    from .imageread import read_image

    img = read_image(path)
    return img.values.astype(np.float64), img.full_scale


def check_image(img: np.ndarray, full_scale: float | None, name: str) -> None:
    """ValueError ``"<name>: blank ..."`` or ``"<name>: saturated ..."``."""
    if float(img.max() - img.min()) <= 0 or float(np.std(img)) < 1e-9 * max(1.0, abs(img.max())):
        raise ValueError(f"{name}: blank image (every pixel {img.flat[0]:g})")
    if full_scale is not None:
        frac = float(np.mean(img >= full_scale))
        if frac > MAX_SATURATED:
            raise ValueError(
                f"{name}: saturated ({100 * frac:.1f}% of pixels at full scale {full_scale:g}; "
                f"at most {100 * MAX_SATURATED:.0f}% allowed)"
            )


def find_direct_beam(img: np.ndarray, name: str = "image") -> tuple[float, float]:
    """Sub-pixel (row, column) of the direct beam; ValueError when there is none near the
    centre."""
    from scipy import ndimage

    h, w = img.shape
    sigma = max(1.0, min(h, w) / 256.0)
    smooth = ndimage.gaussian_filter(img.astype(np.float64), sigma)
    bg = float(np.median(smooth))
    noise = 1.4826 * float(np.median(np.abs(smooth - bg))) or 1e-12
    r0, c0 = np.unravel_index(int(np.argmax(smooth)), smooth.shape)
    peak = float(smooth[r0, c0])
    if peak - bg < MIN_BEAM_SNR * noise:
        raise ValueError(
            f"{name}: no direct beam (brightest blob {peak - bg:.3g} above the median, "
            f"noise {noise:.3g})"
        )
    dist = np.hypot((r0 - (h - 1) / 2) / h, (c0 - (w - 1) / 2) / w)
    if dist > 0.25:
        raise ValueError(
            f"{name}: no central beam (brightest blob at row {r0}, column {c0}, outside the "
            "central half of the image)"
        )
    rad = int(np.ceil(4 * sigma)) + 3
    r_lo, r_hi = max(0, r0 - rad), min(h, r0 + rad + 1)
    c_lo, c_hi = max(0, c0 - rad), min(w, c0 + rad + 1)
    win = img[r_lo:r_hi, c_lo:c_hi].astype(np.float64)
    top = float(win.max())
    weight = np.clip(win - (bg + 0.5 * (top - bg)), 0, None)
    rr, cc = np.mgrid[r_lo:r_hi, c_lo:c_hi]
    total = weight.sum()
    if total <= 0:
        return float(r0), float(c0)
    return float((weight * rr).sum() / total), float((weight * cc).sum() / total)


def resample_pattern(
    img: np.ndarray,
    centre: tuple[float, float],
    scale_in: float,
    size: int,
    scale_out: float,
    fill: float = 0.0,
) -> np.ndarray:
    """float64 (size, size): the model's grid (``scale_out`` Å⁻¹/px, beam at size/2) sampled
    from ``img`` (``scale_in`` Å⁻¹/px, beam at ``centre``); outside the image ``fill``."""
    from scipy import ndimage

    if not scale_in > 0:
        raise ValueError(f"image scale must be positive, got {scale_in}")
    f = float(scale_out) / float(scale_in)  # image pixels per model pixel
    src = img.astype(np.float64)
    if f >= 2:
        src = ndimage.maximum_filter(src, size=int(np.floor(f)))
    g = (np.arange(size) - size / 2) * f
    rows = centre[0] + g[:, None] + 0 * g[None, :]
    cols = centre[1] + 0 * g[:, None] + g[None, :]
    return ndimage.map_coordinates(src, [rows, cols], order=1, mode="constant", cval=fill)


def to_8bit(pattern: np.ndarray, intensity: str, gamma: float) -> np.ndarray:
    """uint8 pattern from resampled values (module docstring, step 5)."""
    if intensity not in INTENSITY_MODES:
        raise ValueError(f"intensity must be one of {', '.join(INTENSITY_MODES)}")
    p = np.asarray(pattern, dtype=np.float64)
    if intensity == "display":
        top = float(p.max())
        out = 255.0 * np.clip(p, 0, None) / (top if top > 0 else 1.0)
    else:
        i = np.clip(p - float(np.median(p)), 0, None)
        size = p.shape[0]
        yy, xx = np.mgrid[:size, : p.shape[1]]
        outside = np.hypot(yy - size / 2, xx - p.shape[1] / 2) > BEAM_RADIUS
        ref = float(i[outside].max()) if outside.any() else 0.0
        out = 255.0 * np.clip(i / (ref if ref > 0 else 1.0), 0, 1) ** float(gamma)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def experimental_patterns(
    paths: Sequence[str | os.PathLike],
    card: dict[str, Any],
    *,
    scale: float | None = None,
    camera_length_mm: float | None = None,
    wavelength_a: float | None = None,
    pixel_mm: float | None = None,
    intensity: str = "linear",
) -> np.ndarray:
    """uint8 (3, size, size) patterns (x, y, z) on the model card's grid, ready for
    :func:`xtalsym.inference.network_images` (add a leading axis).

    Calibration: ``scale`` (Å⁻¹ per image pixel) or camera length (mm), wavelength (Å) and
    detector pixel size (mm). ValueError naming the file and the reason for every image it
    cannot use (wrong count, unreadable, blank, saturated, no central beam).
    """
    if len(paths) != 3:
        raise ValueError(f"three pattern images (x, y, z) expected, got {len(paths)}")
    if scale is None:
        if None in (camera_length_mm, wavelength_a, pixel_mm):
            raise ValueError(
                "give the image calibration: --scale (Å⁻¹/px), or camera length, wavelength "
                "and pixel size"
            )
        scale = scale_from_camera(camera_length_mm, wavelength_a, pixel_mm)
    pat = card["patterns"]
    size, scale_out, gamma = int(pat["size"]), float(pat["scale"]), float(pat["gamma"])
    out = np.empty((3, size, size), dtype=np.uint8)
    for k, path in enumerate(paths):
        img, full = read_detector_image(path)
        check_image(img, full, str(path))
        centre = find_direct_beam(img, str(path))
        fill = float(np.median(img))
        out[k] = to_8bit(resample_pattern(img, centre, scale, size, scale_out, fill), intensity,
                         gamma)  # fmt: skip
    return out


__all__ = [
    "check_image",
    "experimental_patterns",
    "find_direct_beam",
    "read_detector_image",
    "resample_pattern",
    "scale_from_camera",
    "to_8bit",
]
