"""Bragg spots of a recorded pattern: background removed, spots found, re-rendered.

A detector image holds what the simulator never draws: a diffuse halo around the beam,
a dark offset, Poisson noise, spots of the microscope's own size, perhaps a beam stop. The
network was trained on the simulator's spots, so a recorded pattern is reduced to its spots
and drawn again with the simulator's spot model (:func:`render_spots`):

1. :func:`subtract_background`: a white top-hat (scipy.ndimage) a few spot widths wide
   removes everything broader than a spot (halo, offset, gradients); masked pixels
   (a beam stop, dead columns) are filled with the local background first.
2. :func:`find_spots`: local maxima of the top-hat image smoothed at the spot size
   (scikit-image ``peak_local_max``) that stand out by ``SNR`` times the noise at their
   radius (robust, per ring, so the halo's stronger shot noise raises the bar near the
   beam); sub-pixel centroids and integrated intensities from a window around each.
3. :func:`render_spots`: the spots on the model's grid (its Å⁻¹ per pixel, beam at the
   centre), each at 255 (I / I_ref)^γ with the simulator's spot width, the direct beam
   saturated, after a map of the plane (into the canonical frame, or a rotation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .patterns import physics, render

#: A spot must exceed the noise at its radius by this many standard deviations.
SNR = 5.0
#: Spot sigma (px of the image) assumed when it cannot be measured.
DEFAULT_SIGMA = 1.0
#: Rings (px) over which the noise level is estimated.
RING_PX = 8


@dataclass(frozen=True)
class Spots:
    """The Bragg spots of one image: ``uv`` (n, 2) Å⁻¹ from the direct beam (u right, v up),
    ``intensity`` (n,) integrated counts above the background, ``sigma`` the spot width (px
    of the image). The direct beam is not among them."""

    uv: np.ndarray
    intensity: np.ndarray
    sigma: float

    def __len__(self) -> int:
        return len(self.intensity)


def subtract_background(
    img: np.ndarray, radius: float, mask: np.ndarray | None = None
) -> np.ndarray:
    """float64 image minus its background: a white top-hat of half-width ``radius`` px, so
    every structure wider than the window (halo, offset, gradients) goes. Masked pixels
    (``mask`` True) are first set to the median of the unmasked ones and come out 0."""
    from scipy import ndimage

    x = np.asarray(img, dtype=np.float64)
    if mask is not None:
        x = x.copy()
        # a blurred, grown mask edge: a beam stop's rim must not read as a spot
        grown = ndimage.binary_dilation(mask, iterations=max(1, int(radius)))
        x[grown] = float(np.median(x[~grown])) if (~grown).any() else 0.0
        mask = grown
    # a square footprint: separable min / max filters, a few ms on a detector frame
    out = ndimage.white_tophat(x, size=2 * max(2, int(np.ceil(radius))) + 1)
    if mask is not None:
        out[mask] = 0.0
    return out


def _ring_levels(
    smooth: np.ndarray, centre: tuple[float, float], valid: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel background level and noise: the median and the robust sd (1.4826 MAD) of
    ``smooth`` in rings of RING_PX around ``centre``, over the ``valid`` pixels."""
    h, w = smooth.shape
    yy, xx = np.ogrid[:h, :w]
    ring = (np.hypot(yy - centre[0], xx - centre[1]) // RING_PX).astype(np.intp)
    n = int(ring.max()) + 1
    # every other row and column: as robust, a quarter of the sorting
    sub_ring, sub_valid = ring[::2, ::2], valid[::2, ::2]
    order = np.argsort(sub_ring[sub_valid], kind="stable")
    values = smooth[::2, ::2][sub_valid][order]
    bounds = np.searchsorted(sub_ring[sub_valid][order], np.arange(n + 1))
    level, sd = np.zeros(n), np.zeros(n)
    for k in range(n):  # rings (tens), not pixels
        v = values[bounds[k] : bounds[k + 1]]
        if v.size >= 8:
            level[k] = np.median(v)
            sd[k] = 1.4826 * np.median(np.abs(v - level[k]))
    # rings too small or empty (the corners, a masked centre) take the largest noise seen
    sd = np.where(sd > 0, sd, sd.max() if (sd > 0).any() else 1e-12)
    return level[ring], sd[ring]


def find_spots(
    img: np.ndarray,
    centre: tuple[float, float],
    scale: float,
    *,
    mask: np.ndarray | None = None,
    beam_radius: float | None = None,
    sigma: float | None = None,
) -> Spots:
    """The Bragg spots of a background-subtracted image (:func:`subtract_background`).

    ``centre`` (row, col) of the direct beam, px; ``scale`` Å⁻¹ per px; ``mask`` True where
    pixels are not to be trusted; ``beam_radius`` px around the beam left out (default: 4
    spot widths, more for a broad saturated beam); ``sigma`` the spot width in px (default:
    measured from the brightest spots).
    """
    from scipy import ndimage
    from skimage.feature import peak_local_max

    sig = float(sigma) if sigma else DEFAULT_SIGMA
    smooth = ndimage.gaussian_filter(img, sig)
    valid = np.ones(img.shape, bool) if mask is None else ~mask
    level, noise = _ring_levels(smooth, centre, valid)
    significant = (smooth - level > SNR * noise) & valid
    peaks = peak_local_max(
        np.where(significant, smooth, 0.0), min_distance=max(2, int(round(2 * sig))),
        exclude_border=1,
    )  # fmt: skip
    radius = max(3.0, 4 * sig) if beam_radius is None else float(beam_radius)
    far = np.hypot(peaks[:, 0] - centre[0], peaks[:, 1] - centre[1]) > radius
    peaks = peaks[far]
    if sigma is None and len(peaks):
        sig = _measure_sigma(img, peaks)
    rows, cols, inten = _integrate(img, peaks, max(2, int(np.ceil(2.5 * sig))))
    uv = np.stack([(cols - centre[1]) * scale, (centre[0] - rows) * scale], axis=1)
    keep = inten > 0
    return Spots(uv[keep], inten[keep], sig)


def _windows(img: np.ndarray, peaks: np.ndarray, half: int):
    """Windows (n, 2h+1, 2h+1) of ``img`` around ``peaks`` (zero outside) and their row and
    column offsets."""
    off = np.arange(-half, half + 1)
    rr = peaks[:, 0, None, None] + off[None, :, None]
    cc = peaks[:, 1, None, None] + off[None, None, :]
    inside = (rr >= 0) & (rr < img.shape[0]) & (cc >= 0) & (cc < img.shape[1])
    win = np.where(
        inside, img[np.clip(rr, 0, img.shape[0] - 1), np.clip(cc, 0, img.shape[1] - 1)], 0
    )
    return np.clip(win, 0, None), off


def _measure_sigma(img: np.ndarray, peaks: np.ndarray) -> float:
    """Median Gaussian sigma (px) of the ten brightest spots from their second moments."""
    win, off = _windows(img, peaks, 4)
    total = win.sum(axis=(1, 2))
    top = np.argsort(-total)[:10]
    win, total = win[top], np.maximum(total[top], 1e-12)
    mr = (win.sum(2) * off).sum(1) / total
    mc = (win.sum(1) * off).sum(1) / total
    vr = (win.sum(2) * off**2).sum(1) / total - mr**2
    vc = (win.sum(1) * off**2).sum(1) / total - mc**2
    return float(np.clip(np.sqrt(np.median((vr + vc) / 2)), 0.5, 6.0))


def _integrate(img: np.ndarray, peaks: np.ndarray, half: int):
    """Sub-pixel centroids (rows, cols) and summed intensities of windows around ``peaks``."""
    if not len(peaks):
        return np.zeros(0), np.zeros(0), np.zeros(0)
    win, off = _windows(img, peaks, half)
    total = win.sum(axis=(1, 2))
    safe = np.maximum(total, 1e-12)
    rows = peaks[:, 0] + (win.sum(2) * off).sum(1) / safe
    cols = peaks[:, 1] + (win.sum(1) * off).sum(1) / safe
    return rows, cols, total


def render_spots(
    spots: Spots,
    size: int,
    scale: float,
    spot_sigma: float,
    gamma: float,
    m: np.ndarray | None = None,
) -> np.ndarray:
    """uint8 (size, size) pattern as the simulator draws one: the spots at ``scale`` Å⁻¹/px
    around a saturated direct beam at (size/2, size/2), each at 255 (I / I_ref)^γ (I_ref the
    strongest spot on the image) with Gaussian width ``spot_sigma`` px; ``m`` (2, 2) maps
    the spots' uv first (a rotation, perhaps with a mirror: uv @ m.T)."""
    uv = spots.uv if m is None else spots.uv @ np.asarray(m).T
    uv = np.concatenate([np.zeros((1, 2)), uv])
    row, col = physics.detector_pixels(uv, size, scale)
    reach = 3 * spot_sigma + 1
    inside = (row > -reach) & (row < size - 1 + reach) & (col > -reach) & (col < size - 1 + reach)
    inside[0] = True
    inten = np.concatenate([[0.0], spots.intensity])
    i_ref = float(inten[1:][inside[1:]].max(initial=0.0))
    peak = render.compress(inten, i_ref, gamma)
    peak[0] = render.PEAK_CAP
    n = int(inside.sum())
    canvas, touched = render.splat(
        row[inside], col[inside], peak[inside], np.full(n, spot_sigma), np.zeros(n, np.intp), 1,
        size,
    )  # fmt: skip
    return render.quantise_touched(canvas, touched).reshape(size, size)


def rotation_map(angle_deg: float, mirror: bool = False) -> np.ndarray:
    """(2, 2) map: a mirror (v -> -v) if asked, then a counter-clockwise turn by the angle."""
    t = np.deg2rad(angle_deg)
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    return rot @ np.diag([1.0, -1.0 if mirror else 1.0])
