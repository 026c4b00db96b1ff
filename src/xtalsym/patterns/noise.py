"""Structural and measurement noise, each part drawn from its own seeded stream.

``noise_streams(seed)`` splits ``np.random.default_rng(seed)`` into one child generator per
noise kind (made only when used), so switching one kind on or off (or changing its level)
leaves the draws of the others unchanged: a robustness sweep over one kind varies only that
kind.

Kinds (the ``patterns.noise`` config keys):
- displacement (Å): each site moves by a Gaussian vector, this standard deviation per Cartesian
  component (the species of a disordered site move together);
- vacancy: each site is emptied with this probability;
- tilt (degrees): each beam is tilted by up to this angle (uniform over the cone of tilts, random
  azimuth), detector axes with it; changes which reflections are excited;
- blur (px): extra Gaussian spot width, added in quadrature, integrated intensity kept;
- background (8-bit levels): a uniform mean level added to every pixel;
- dose (counts at full scale, 255): Poisson shot noise, counts = level / 255 × dose; 0 disables;
- read_noise (8-bit levels): Gaussian noise of this standard deviation.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.special import ndtri

from . import render
from .crystal import Crystal

NOISE_KEYS = ("displacement", "vacancy", "background", "dose", "read_noise", "blur", "tilt")
STREAMS = ("displacement", "vacancy", "tilt", "shot", "read")


def is_clean(noise: dict[str, Any]) -> bool:
    """True when every noise level is zero."""
    return all(float(noise.get(k, 0.0)) == 0.0 for k in NOISE_KEYS)


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
    displacement: float,
    vacancy: float,
    streams: Callable[[str], np.random.Generator],
) -> Crystal:
    """Random site displacements (Å, per Cartesian component) and vacancies (probability)."""
    frac, occ = crystal.frac, crystal.occ
    if displacement > 0:
        d_cart = streams("displacement").normal(0.0, displacement, size=(crystal.n_sites, 3))
        d_frac = d_cart @ np.linalg.inv(crystal.lattice)  # r_cart = r_frac @ lattice
        frac = frac + d_frac[crystal.site]
    if vacancy > 0:
        kept = streams("vacancy").random(crystal.n_sites) >= vacancy
        occ = occ * kept[crystal.site]
    return crystal.with_sites(frac, occ)


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
) -> np.ndarray:
    """uint8 images (flat) of a splat canvas (float 8-bit levels, flat, ``n_images`` images)
    with background, Poisson shot noise and Gaussian read noise.

    Without shot noise, a pixel the spots did not touch (canvas exactly 0) takes
    quantise(background + read_noise z) from a table of levels by its random index, and only
    the touched pixels are computed in float: the same result as the dense sum, without
    megabyte passes over the whole canvas. Shot noise depends on every pixel's level: dense.
    """
    if dose > 0:
        noise = GAUSS_TABLE * read_noise  # read noise per random index, 8-bit levels
        img = canvas + background
        lam = np.maximum(img, 0.0)
        lam *= dose / 255.0
        img = streams("shot").poisson(lam) * (255.0 / dose)
        if read_noise > 0:
            idx = _noise_indices(streams("read"), img.size)
            for part, ix in zip(np.split(img, n_images), np.split(idx, n_images), strict=True):
                part += noise[ix]  # image by image: small temporaries
        return render.quantise(img)
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
