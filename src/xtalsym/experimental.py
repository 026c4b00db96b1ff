"""Recorded pattern images for ``xtalsym predict``: any size, bit depth, centre and angle.

A detector image (8- or 16-bit PNG or TIFF, or 32-bit integer / float TIFF) becomes a pattern
like the simulator's (docs/artifacts.md): ``card["patterns"]["size"]`` pixels square, the
direct beam at pixel (size/2, size/2), ``card["patterns"]["scale"]`` Å⁻¹ per pixel, 8-bit.

1. :func:`read_detector_image`: the raw values (float64) and the file's full scale.
2. :func:`check_image`: refuses blank and saturated images by name and reason.
3. :func:`find_direct_beam`: the brightest blob after smoothing, refined to sub-pixel by the
   centroid of its upper half (so a saturated, flat-topped beam is centred too); refused when
   it is not well above the background or not in the central half of the image.
4. :func:`pattern_spots`: the diffuse background removed and the Bragg spots found
   (:mod:`xtalsym.spots`: top-hat, significance per ring of the noise, sub-pixel centroids,
   integrated intensities; a ``mask`` for a beam stop); ``display`` images (already mapped
   as 255 (I / I_ref)^gamma) are mapped back to intensities first.
5. :func:`recorded_patterns`: the spots redrawn with the simulator's spot model on the
   model's grid, in each candidate canonical frame (:mod:`xtalsym.patterns.canonical`, as in
   training) or, for models trained on random angles, at several rotations and mirrors: the
   model's answer is averaged over them, so it does not depend on the pattern's angle.

The calibration is ``scale`` (Å⁻¹ per pixel of the image) or, from the camera,
:func:`scale_from_camera` (camera length, wavelength and detector pixel size).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from .imageread import MIN_SIZE, read_image
from .patterns.canonical import canonical_maps
from .spots import SNR, Spots, find_spots, render_spots, rotation_map, subtract_background

#: Fraction of pixels at full scale above which an image counts as saturated.
MAX_SATURATED = 0.02
#: The beam must exceed the median by this many robust standard deviations (after smoothing).
MIN_BEAM_SNR = 8.0
#: Top-hat disk radius (px of the image): wider than a spot, narrower than the halo.
BACKGROUND_RADIUS = 6
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
            f"noise {noise:.3g}); if it is hidden or faint, give --centre ROW,COL"
        )
    dist = np.hypot((r0 - (h - 1) / 2) / h, (c0 - (w - 1) / 2) / w)
    if dist > 0.25:
        raise ValueError(
            f"{name}: no central beam (brightest blob at row {r0}, column {c0}, outside the "
            "central half of the image); give the beam's pixel with --centre ROW,COL"
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


def frame_maps(found: Sequence[Spots], rotation: str, rotations: int) -> list[list[np.ndarray]]:
    """Per row of the network batch, one (2, 2) map per pattern: ``canonical`` (the model's
    training frame, :mod:`xtalsym.patterns.canonical`): every candidate frame of each pattern,
    as many rows as the pattern with the most; ``random``: ``rotations`` turns, every other
    mirrored, the patterns of a row at fixed offsets from each other (each zone is a tilt of
    its own); ``none``: the patterns as they are."""
    if rotation == "canonical":
        maps = [canonical_maps(f.uv, f.intensity) for f in found]
        return [[m[r % len(m)] for m in maps] for r in range(max(len(m) for m in maps))]
    if rotation == "random":
        offsets = 360.0 * ((np.arange(len(found)) * 0.618034) % 1.0)
        step = 360.0 / max(1, rotations)
        return [
            [rotation_map(r * step + (o if r else 0.0), bool(r % 2)) for o in offsets]
            for r in range(max(1, rotations))
        ]
    return [[np.eye(2)] * len(found)]


def pattern_spots(
    img: np.ndarray,
    scale: float,
    *,
    name: str = "image",
    centre: tuple[float, float] | None = None,
    mask: np.ndarray | None = None,
    intensity: str = "linear",
    gamma: float = 0.5,
) -> Spots:
    """The Bragg spots (xtalsym.spots) of one recorded pattern: ``scale`` Å⁻¹ per px of the
    image; ``centre`` (row, col) of the direct beam, px (default: found); ``mask`` True at
    pixels to ignore (beam stop, dead pixels); ``intensity`` linear (counts) or display (an
    image already mapped as 255 (I / I_ref)^``gamma``, whose mapping is undone).

    ValueError naming ``name`` when there is no direct beam or no Bragg spot.
    """
    if intensity not in INTENSITY_MODES:
        raise ValueError(f"intensity must be one of {', '.join(INTENSITY_MODES)}")
    x = np.asarray(img, dtype=np.float64)
    if mask is not None and mask.shape != x.shape:
        raise ValueError(f"{name}: the mask is {mask.shape[::-1]} px, the image {x.shape[::-1]}")
    if intensity == "display":
        x = 255.0 * (np.clip(x, 0, None) / max(float(x.max()), 1e-12)) ** (1.0 / gamma)
    if centre is None:
        centre = find_direct_beam(x if mask is None else np.where(mask, 0, x), name)
    elif not (0 <= centre[0] < x.shape[0] and 0 <= centre[1] < x.shape[1]):
        raise ValueError(f"{name}: --centre {centre} lies outside the {x.shape[1]} x "
                         f"{x.shape[0]} px image")  # fmt: skip
    background = subtract_background(x, BACKGROUND_RADIUS, mask)
    found = find_spots(background, centre, scale, mask=mask,
                       beam_radius=_beam_radius(x, centre))  # fmt: skip
    if not len(found):
        raise ValueError(
            f"{name}: no Bragg spot found ({SNR:g} sigma above the background outside the "
            "direct beam); if a beam stop hides the centre, give --mask"
        )
    return found


def _beam_radius(img: np.ndarray, centre: tuple[float, float]) -> float:
    """Radius (px) of the direct beam's disc: where the image stays above half the beam's
    height over the median (a saturated beam is broad), plus a margin."""
    r0, c0 = int(round(centre[0])), int(round(centre[1]))
    bg = float(np.median(img))
    half = bg + 0.5 * (float(img[r0, c0]) - bg)
    # the run of pixels above half height that holds the centre, along the row
    right = img[r0, c0 : c0 + 65] > half
    left = img[r0, max(0, c0 - 64) : c0 + 1][::-1] > half
    width = max(int(np.argmin(right)) if not right.all() else len(right),
                int(np.argmin(left)) if not left.all() else len(left))  # fmt: skip
    return max(4.0, 2.0 * width + 3)


def read_mask(path: str | os.PathLike | None) -> np.ndarray | None:
    """bool (H, W) of a mask image file, True where it is non-zero (pixels to ignore); None
    for None."""
    return None if path is None else read_detector_image(path)[0] != 0


def experimental_patterns(
    paths: Sequence[str | os.PathLike], card: dict[str, Any], **options: Any
) -> np.ndarray:
    """:func:`recorded_patterns` of image files (``options`` its own: calibration, intensity,
    centre, mask, rotations). ValueError naming the file and the reason for every image it
    cannot use (unreadable, blank, saturated, no central beam, no spot)."""
    arrays = [read_detector_image(p) for p in paths]
    return recorded_patterns([a for a, _ in arrays], card, names=[str(p) for p in paths],
                             full_scales=[f for _, f in arrays], **options)  # fmt: skip


def recorded_patterns(
    images: Sequence[np.ndarray],
    card: dict[str, Any],
    *,
    names: Sequence[str] | None = None,
    full_scales: Sequence[float | None] | None = None,
    scale: float | None = None,
    camera_length_mm: float | None = None,
    wavelength_a: float | None = None,
    pixel_mm: float | None = None,
    intensity: str = "linear",
    centre: tuple[float, float] | None = None,
    mask: np.ndarray | None = None,
    rotations: int = 1,
) -> np.ndarray:
    """uint8 (R, n, size, size): the n (1-3) recorded patterns (H, W) of one crystal (e.g. a
    HyperSpy / pyxem signal's data) redrawn on the model card's grid (:func:`pattern_spots`,
    :func:`xtalsym.spots.render_spots`), once per row of :func:`frame_maps` (the card's
    ``patterns.rotation``); ``names`` for messages, ``full_scales`` for the saturation check,
    ``mask`` True at pixels to ignore.

    Calibration: ``scale`` (Å⁻¹ per image pixel) or camera length (mm), wavelength (Å) and
    detector pixel size (mm). ValueError naming the image and the reason for every one it
    cannot use."""
    if not 1 <= len(images) <= 3:
        raise ValueError(f"one to three pattern images expected, got {len(images)}")
    if scale is None:
        if None in (camera_length_mm, wavelength_a, pixel_mm):
            raise ValueError(
                "give the image calibration: --scale (Å⁻¹ per pixel), or --camera-length "
                "(mm), --wavelength (Å) and --pixel-size (mm), from which scale = pixel size / "
                "(wavelength x camera length)"
            )
        scale = scale_from_camera(camera_length_mm, wavelength_a, pixel_mm)
    if not float(scale) > 0:
        raise ValueError(f"image scale must be positive, got {scale}")
    names = list(names or [f"image {k + 1}" for k in range(len(images))])
    full_scales = list(full_scales or [None] * len(images))
    pat = card["patterns"]
    size, scale_out, gamma = int(pat["size"]), float(pat["scale"]), float(pat["gamma"])
    found = []
    for img, full, name in zip(images, full_scales, names, strict=True):
        img = np.asarray(img, dtype=np.float64)
        if img.ndim != 2 or min(img.shape) < MIN_SIZE:
            raise ValueError(
                f"{name}: expected a 2D image of at least {MIN_SIZE} x {MIN_SIZE} px, got "
                f"{img.shape}"
            )
        if not np.isfinite(img).all():
            raise ValueError(f"{name}: non-finite pixel values")
        check_image(img, full, name)
        found.append(pattern_spots(img, float(scale), name=name, centre=centre, mask=mask,
                                   intensity=intensity, gamma=gamma))  # fmt: skip
    rows = frame_maps(found, str(pat.get("rotation", "none")), rotations)
    out = np.empty((len(rows), len(found), size, size), dtype=np.uint8)
    for r, maps in enumerate(rows):
        for k, (spots, m) in enumerate(zip(found, maps, strict=True)):
            out[r, k] = render_spots(spots, size, scale_out, float(pat["spot_sigma"]), gamma, m)
    return out


__all__ = [
    "check_image",
    "experimental_patterns",
    "find_direct_beam",
    "read_detector_image",
    "read_mask",
    "pattern_spots",
    "recorded_patterns",
    "scale_from_camera",
]
