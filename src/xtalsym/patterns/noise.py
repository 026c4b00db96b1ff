"""Structural and measurement noise, each part drawn from its own seeded stream.

``noise_streams(seed)`` splits ``np.random.default_rng(seed)`` into one child generator per
noise kind (made only when used), so switching one kind on or off (or changing its level)
leaves the draws of the others unchanged: a robustness sweep over one kind varies only that
kind.

Kinds (the ``patterns.noise`` config keys); the structural ones keep the space group unless
named otherwise:
- jitter (Å): every orbit moves along its free Wyckoff parameters, a Gaussian displacement of
  this standard deviation per Cartesian component made symmetric over the group
  (:mod:`.symmetry`), so systematic absences stay exact;
- strain: a random lattice strain (standard deviation of each tensor component, clipped at 3
  sd) restricted to what the point group allows (cubic: isotropic; tetragonal: a and c; ...);
- vacancy: each orbit's occupancy is lowered by a uniform fraction of up to this value;
- displacement (Å): static disorder, each site moved independently by a Gaussian of this
  standard deviation per Cartesian component (rms 3D displacement sqrt(3) times it). It breaks
  the symmetry: forbidden reflections appear with intensity ~ (2π g σ)² of the allowed ones;
- tilt (degrees): each beam is tilted by up to this angle (uniform over the cone of tilts, random
  azimuth), detector axes with it; changes which reflections are excited;
- scale_error: the detector scale (camera length) is off by a uniform factor 1 ± this;
- blur (px): extra Gaussian spot width, added in quadrature, integrated intensity kept;
- background (8-bit levels): a uniform mean level added to every pixel;
- dose (counts at full scale, 255): shot noise, counts = level / 255 × dose (Gaussian limit of
  the Poisson distribution, variance = counts); 0 disables;
- read_noise (8-bit levels): Gaussian noise of this standard deviation;
- halo (8-bit levels) and halo_width (Å⁻¹): a diffuse background around the direct beam
  (inelastic and thermal diffuse scattering), level x exp(-|g| / width), both drawn per variant;
- spread: the intensity model's uncertainty, a log-normal factor of this standard deviation on
  every reflection and an exp(ε0 + ε1 s) factor (ε of this sd) on every element's scattering
  factor (other codes' tables and excitation-error models, dynamical redistribution);
- forbidden: double diffraction, kinematically forbidden reflections that are the sum of two
  allowed ones on the same pattern (glide and screw absences, never centring absences) get up
  to this fraction of the mean allowed intensity.

Beyond noise, a variant is imaged along its own zone axes (``patterns.beams: drawn``, stream
``axes``) and, with ``patterns.rotation: random``, turned by a random in-plane angle and mirrored
with probability 1/2 (with ``canonical``, the stream ``rotation`` picks one candidate frame).

``background`` and ``dose`` (like ``patterns.thickness`` and ``patterns.debye_waller``) take a
number or a range [lo, hi]: a range is drawn uniformly per variant from the ``imaging`` stream.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.special import ndtri

from . import render
from .crystal import Crystal
from .symmetry import SiteSymmetry, symmetrise_displacements, symmetrise_strain

NOISE_KEYS = (
    "jitter", "strain", "displacement", "vacancy", "background", "dose", "read_noise", "blur",
    "tilt", "scale_error", "halo", "halo_width", "spread", "forbidden",
)  # fmt: skip
# Appended, never reordered: each kind keeps its stream when others are added.
STREAMS = (
    "displacement", "vacancy", "tilt", "shot", "read", "jitter", "strain", "imaging", "axes",
    "rotation", "detector", "intensity",
)  # fmt: skip
#: Strains are clipped at this many standard deviations (bounds the reflection prefilter).
STRAIN_CLIP = 3.0


def as_range(value: Any) -> tuple[float, float]:
    """(lo, hi) of a config value that is a number or a range [lo, hi]."""
    if isinstance(value, list | tuple):
        lo, hi = (float(v) for v in value)
        if hi < lo:
            raise ValueError(f"range [{lo}, {hi}] has hi < lo")
        return lo, hi
    return float(value), float(value)


#: Kinds whose level is a bound: each variant draws up to it (tilt within the cone, vacancy
#: fraction, scale error of either sign), so training covers [0, level].
UP_TO_KEYS = ("tilt", "vacancy", "scale_error", "spread", "forbidden")


def training_range(kind: str, value: Any) -> tuple[float, float]:
    """(lo, hi) of the levels of noise ``kind`` that a training set made with ``value`` saw:
    [0, level] for the kinds drawn up to their level, else :func:`as_range`."""
    lo, hi = as_range(value)
    return (0.0, hi) if kind in UP_TO_KEYS else (lo, hi)


def is_clean(noise: dict[str, Any]) -> bool:
    """True when every noise level is zero (a halo width alone draws nothing)."""
    return all(as_range(noise.get(k, 0.0))[1] == 0.0 for k in NOISE_KEYS if k != "halo_width")


def noise_stream(seed: int, kind: str) -> np.random.Generator:
    """The generator of one noise kind: child STREAMS.index(kind) of default_rng(seed), i.e.
    ``np.random.default_rng(seed).spawn(5)[i]``, built alone (only enabled kinds pay for it)."""
    ss = np.random.SeedSequence(seed, spawn_key=(STREAMS.index(kind),))
    return np.random.default_rng(ss)


def noise_streams(seed: int) -> Callable[[str], np.random.Generator]:
    """kind -> its generator, made on first use (see noise_stream)."""
    return functools.cache(functools.partial(noise_stream, seed))


def perturb_crystal(
    crystal: Crystal,
    sym: SiteSymmetry,
    noise: dict[str, float],
    streams: Callable[[str], np.random.Generator],
) -> Crystal:
    """Symmetric jitter, static-disorder displacements (Å per Cartesian component) and orbit
    vacancies (module docstring) of ``crystal``, whose operations are ``sym``."""
    frac, occ, n = crystal.frac, crystal.occ, crystal.n_sites
    inv = np.linalg.inv(crystal.lattice)  # r_cart = r_frac @ lattice
    d_frac = np.zeros((n, 3))
    if noise["jitter"] > 0:
        d = streams("jitter").normal(0.0, noise["jitter"], size=(n, 3)) @ inv
        d_frac += symmetrise_displacements(sym, d)
    if noise["displacement"] > 0:
        d_frac += streams("displacement").normal(0.0, noise["displacement"], size=(n, 3)) @ inv
    if d_frac.any():
        frac = frac + d_frac[crystal.site]
    if noise["vacancy"] > 0:
        lowered = noise["vacancy"] * streams("vacancy").random(n)
        occ = occ * (1.0 - lowered[sym.orbit])[crystal.site]
    return crystal.with_sites(frac, occ)


def strain_matrix(
    sym: SiteSymmetry, lattice: np.ndarray, sigma: float, rng: np.random.Generator
) -> np.ndarray:
    """I + ε (3, 3): a symmetric random strain the point group allows, |ε| <= STRAIN_CLIP σ.

    The strained lattice is ``lattice @ (I + ε)``; its reciprocal vectors are g (I + ε)⁻¹.
    """
    eps = rng.normal(0.0, sigma, size=(3, 3))
    eps = symmetrise_strain(sym, lattice, (eps + eps.T) / 2)
    eps = (eps + eps.T) / 2
    top = np.abs(np.linalg.eigvalsh(eps)).max()
    if top > STRAIN_CLIP * sigma:
        eps *= STRAIN_CLIP * sigma / top
    return np.eye(3) + eps


def tilt_frames(frames: np.ndarray, tilt_deg: float, rng: np.random.Generator) -> np.ndarray:
    """Rotate each beam frame (B, 3, 3) (rows n, u, v) by a random small tilt.

    The rotation axis lies in the detector plane at a uniform random azimuth; the angle is
    tilt·sqrt(U), U uniform, so tilts are uniform over the cone of half-angle ``tilt_deg``.
    """
    n_beams = frames.shape[0]
    phi = rng.uniform(0.0, 2 * np.pi, n_beams)
    theta = np.deg2rad(tilt_deg) * np.sqrt(rng.random(n_beams))
    axis = np.cos(phi)[:, None] * frames[:, 1] + np.sin(phi)[:, None] * frames[:, 2]  # (B, 3)
    # Rodrigues: x' = x cosθ + (a × x) sinθ + a (a·x)(1 - cosθ), for every row of every frame.
    cos, sin = np.cos(theta)[:, None, None], np.sin(theta)[:, None, None]
    a = axis[:, None, :]
    cross = np.cross(np.broadcast_to(a, frames.shape), frames)
    dot = np.einsum("bi,bki->bk", axis, frames)[:, :, None]
    return frames * cos + cross * sin + a * dot * (1 - cos)


def rotate_frames(frames: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each beam frame (B, 3, 3) (rows n, u, v) turned about n by a uniform angle and, with
    probability 1/2, mirrored (v -> -v: a detector read out flipped)."""
    phi = rng.uniform(0.0, 2 * np.pi, frames.shape[0])[:, None]
    flip = np.where(rng.random(frames.shape[0]) < 0.5, -1.0, 1.0)[:, None]
    u, v = frames[:, 1], frames[:, 2]
    out = frames.copy()
    out[:, 1] = np.cos(phi) * u + np.sin(phi) * v
    out[:, 2] = flip * (np.cos(phi) * v - np.sin(phi) * u)
    return out


def halo_levels(size: int, scale: float, level: float, width: float) -> np.ndarray:
    """(size, size) diffuse background, 8-bit levels: ``level`` exp(-|g| / ``width``) around
    the direct beam at pixel (size/2, size/2); ``scale`` Å⁻¹/px, ``width`` Å⁻¹."""
    radii, pixel_radius = _radii(size, scale)
    # exp once per distinct distance (a few thousand for size² pixels): elementwise, so each
    # pixel gets the value the full grid would give it.
    return (level * np.exp(-radii / width)).take(pixel_radius).reshape(size, size)


@functools.lru_cache(maxsize=8)
def _radii(size: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """The distinct distances |g| (Å⁻¹) of a size x size detector's pixels from the direct
    beam, sorted, and each pixel's index into them (flat, row-major). Read-only arrays."""
    yy, xx = np.ogrid[:size, :size]
    r = np.hypot(yy - size / 2, xx - size / 2) * scale
    radii, inverse = np.unique(r, return_inverse=True)
    inverse = inverse.ravel().astype(np.intp)
    for a in (radii, inverse):
        a.flags.writeable = False
    return radii, inverse


def gaussian_table(bits: int = 16) -> np.ndarray:
    """Standard-normal quantiles at the 2^bits midpoints, scaled to unit variance.

    Indexing it with uniform random 16-bit integers (``Generator.bytes``) draws Gaussian noise
    4x faster than ``Generator.standard_normal`` (the cost of a noisy pattern is dominated by this draw);
    tails are cut at |z| = 4.2, irrelevant for 8-bit read noise.
    """
    n = 1 << bits
    q = ndtri((np.arange(n) + 0.5) / n)
    return q / q.std()


GAUSS_TABLE = gaussian_table()


def detector_image(
    canvas: np.ndarray,
    touched: np.ndarray,
    background: float,
    dose: float,
    read_noise: float,
    streams: Callable[[str], np.random.Generator],
    n_images: int = 3,
    halo: np.ndarray | None = None,
) -> np.ndarray:
    """uint8 images (flat) of a splat canvas (float 8-bit levels, flat, ``n_images`` images)
    with a halo, background, Poisson shot noise and Gaussian read noise.

    ``halo``: levels (size²,) added to every image (halo_levels, flat), before the
    background. A pixel the spots did not touch (canvas exactly 0) has a level that depends
    on its place in the image only, so that part is computed per image position, not per
    pixel of every image, and only the touched pixels are computed from the canvas: the same
    result as the dense sum (canvas + halo) + background, without its passes over the whole
    canvas. Without shot noise, an untouched pixel without halo takes quantise(background +
    read_noise z) from a table of levels by its random index.
    """
    if dose > 0:
        return _shot_noise_image(canvas, touched, background, dose, read_noise,
                                 streams("shot"), n_images, halo)  # fmt: skip
    if halo is not None:
        canvas = (canvas.reshape(n_images, -1) + halo).ravel()
        touched = np.arange(canvas.size)  # every pixel is lit
    if read_noise > 0:
        idx = _noise_indices(streams("read"), canvas.size)
        table, levels, steps = _untouched_levels(read_noise, background)
        out = _lookup_monotone(idx, levels, steps)
        extra = table[idx[touched]]
    else:
        out = np.full(canvas.shape, render.quantise(np.array([background]))[0], dtype=np.uint8)
        extra = background
    out[touched] = render.quantise(canvas[touched] + extra)
    return out


def _shot_noise_image(
    canvas: np.ndarray,
    touched: np.ndarray,
    background: float,
    dose: float,
    read_noise: float,
    rng: np.random.Generator,
    n_images: int,
    halo: np.ndarray | None,
) -> np.ndarray:
    """detector_image with shot noise: quantise(level + sd z), level = (canvas + halo) +
    background, sd² = max(level, 0) 255 / dose + read_noise² (8-bit levels²; the Gaussian
    limit of Poisson counts, within a level of them above ~10 counts), z from one 16-bit
    table index per pixel."""
    per = canvas.size // n_images
    gain, floor = 255.0 / dose, read_noise * read_noise
    level = np.full(per, float(background)) if halo is None else halo + background
    sd = _noise_sd(level, gain, floor)
    idx = _noise_indices(rng, canvas.size)
    out = np.empty(canvas.size, dtype=np.uint8)
    for i in range(n_images):  # images: temporaries of one image
        part = GAUSS_TABLE.take(idx[i * per : (i + 1) * per])
        part *= sd
        part += level
        out[i * per : (i + 1) * per] = render.quantise(part)
    # The spots' pixels, in the order of operations of the dense sum (so, bit for bit).
    level = canvas[touched]
    if halo is not None:
        level += halo.take(touched % per)
    level += background
    noise = _noise_sd(level, gain, floor)
    noise *= GAUSS_TABLE.take(idx[touched])
    level += noise
    out[touched] = render.quantise(level)
    return out


def _noise_sd(level: np.ndarray, gain: float, floor: float) -> np.ndarray:
    """sqrt(max(level, 0) gain + floor), a new array."""
    sd = np.maximum(level, 0.0)
    sd *= gain
    sd += floor
    return np.sqrt(sd, out=sd)


# Steps of the untouched-pixel level above which a gather beats comparisons (see below).
MAX_STEPS = 16


@functools.lru_cache(maxsize=16)
def _untouched_levels(read_noise: float, background: float) -> tuple:
    """For each 16-bit noise index: the float level of an untouched pixel, background +
    read_noise z, its quantised uint8 level (non-decreasing, as z is), and the indices where
    that level steps up (with repeats for steps of several levels). Read-only arrays."""
    table = GAUSS_TABLE * read_noise + background
    levels = render.quantise(table.copy())
    rise = np.diff(levels.astype(np.int64))
    steps = np.repeat(np.arange(1, levels.size), rise)
    for a in (table, levels, steps):
        a.flags.writeable = False
    return table, levels, steps


def _lookup_monotone(idx: np.ndarray, levels: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """levels[idx] for a non-decreasing table: levels[0] + the number of steps <= idx.

    A few comparisons of the 16-bit indices (one per level step, typically ~8) cost less than
    a gather, which numpy does through a 64-bit copy of the indices.
    """
    if steps.size > MAX_STEPS:
        return levels[idx]
    out = np.full(idx.shape, levels[0], dtype=np.uint8)
    for s in steps.tolist():  # level steps, not pixels; Python ints keep the uint16 loop
        out += (idx >= s).view(np.uint8)
    return out


def _noise_indices(rng: np.random.Generator, n: int) -> np.ndarray:
    """n uniform 16-bit indices into GAUSS_TABLE."""
    return np.frombuffer(rng.bytes(2 * n), dtype="<u2")
