"""The simulator: one crystal -> three 8-bit spot patterns (beam along x, y, z), per variant.

Per crystal, once (``prepare``): the candidate reflections hkl with |g| <= g_max that can be
excited along any of the three beams (for any beam tilt the noise allows), their Cartesian g and
each element's scattering factor (Debye-Waller included) at each g. Shared by the three beams and
all noisy variants. Per variant: structural noise and beam tilt, excitation errors, |F|² of the
union of excited reflections (one matrix product), projection, one splat for all images,
detector noise, quantisation. No Python loop over reflections or pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import noise as nz
from . import physics, render
from .crystal import Crystal, crystal_from_structure
from .scattering import element_coefficients, scattering_factors

# Reflections whose shape-factor envelope falls below this are dropped: with γ = 0.5 they would
# sit under 255·1e-2 = 2.6 levels even for a reflection as strong as I_ref.
SHAPE_CUTOFF = 1e-4
# |g·n| (Å⁻¹) below which a reflection counts as zero-order Laue zone (zolz_only).
ZOLZ_TOL = 1e-9


@dataclass(frozen=True)
class Settings:
    """The ``patterns`` config section as typed values (units in the config comments)."""

    size: int
    wavelength: float
    g_max: float
    scale: float
    thickness: float
    shape: str
    radiation: str
    debye_waller: float
    spot_sigma: float
    gamma: float
    noise: dict[str, float]

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> Settings:
        noise = {k: float(params.get("noise", {}).get(k, 0.0)) for k in nz.NOISE_KEYS}
        return cls(
            size=int(params["size"]),
            wavelength=float(params["wavelength"]),
            g_max=float(params["g_max"]),
            scale=float(params["scale"]),
            thickness=float(params["thickness"]),
            shape=str(params.get("shape", "gaussian")),
            radiation=str(params["radiation"]),
            debye_waller=float(params["debye_waller"]),
            spot_sigma=float(params["spot_sigma"]),
            gamma=float(params["gamma"]),
            noise=noise,
        )

    @property
    def s_tol(self) -> float:
        return physics.s_tolerance(self.thickness, self.shape, SHAPE_CUTOFF)


@dataclass(frozen=True)
class CrystalTables:
    """Per-crystal precomputation: candidates hkl (1 + 2P, 3) in Friedel order (0, P
    reflections, their P opposites), g (1 + 2P, 3) Å⁻¹, f_el (n_el, 1 + P) scattering factors
    with Debye-Waller (the same for g and -g)."""

    crystal: Crystal
    hkl: np.ndarray
    g: np.ndarray
    f_el: np.ndarray

    @property
    def n_pairs(self) -> int:
        return (len(self.hkl) - 1) // 2


@dataclass(frozen=True)
class Reflections:
    """Reflections kept on one or more patterns, flat: image (m,) the pattern index of each;
    hkl (m, 3); uv (m, 2) detector coordinates in Å⁻¹; s (m,) excitation error Å⁻¹; f2 (m,)
    |F|²; intensity (m,) |F|² × shape factor. Sorted by image."""

    image: np.ndarray
    hkl: np.ndarray
    uv: np.ndarray
    s: np.ndarray
    f2: np.ndarray
    intensity: np.ndarray

    def split(self, n_images: int) -> list[Reflections]:
        """One Reflections per image 0..n_images-1."""
        cuts = np.searchsorted(self.image, np.arange(1, n_images))
        fields = [np.split(getattr(self, f), cuts) for f in _FIELDS]
        return [Reflections(*parts) for parts in zip(*fields, strict=True)]

    @staticmethod
    def concat(parts: Sequence[Reflections]) -> Reflections:
        if len(parts) == 1:
            return parts[0]
        return Reflections(*(np.concatenate([getattr(p, f) for p in parts]) for f in _FIELDS))


_FIELDS = ("image", "hkl", "uv", "s", "f2", "intensity")


def prepare(crystal: Crystal, settings: Settings, prefilter: bool = True) -> CrystalTables:
    """Candidate reflections and scattering-factor tables of one crystal.

    prefilter: keep only the reflections that some beam, tilted by up to ``noise.tilt``, could
    excite (the default; False keeps the whole sphere |g| <= g_max, for checking that filter).
    """
    hkl = physics.enumerate_hkl(crystal.lattice, settings.g_max)
    p = (len(hkl) - 1) // 2
    half = hkl[: 1 + p]  # 0 and one of each Friedel pair
    g = half @ physics.reciprocal_basis(crystal.lattice)
    g_len = np.linalg.norm(g, axis=1)
    # |s| <= s_tol needs |g·n| <= s_tol (1 + λ|g|/2) + λ|g|²/2; a tilt by θ changes g·n by at
    # most |g| θ. Keep what any beam could excite, so tilted variants reuse the tables; the
    # test is symmetric in ±g, so pairs stay pairs.
    lam, theta = settings.wavelength, np.deg2rad(settings.noise["tilt"])
    margin = settings.s_tol * (1 + lam * g_len / 2) + lam * g_len**2 / 2 + g_len * theta + 1e-9
    near = (np.abs(g @ physics.BEAM_FRAMES[:, 0].T) <= margin[:, None]).any(axis=1)
    near[0] = True
    if not prefilter:
        near[:] = True
    half, g, g_len = half[near], g[near], g_len[near]
    coeffs, z = element_coefficients(crystal.elements)
    s = g_len / 2
    f_el = scattering_factors(coeffs, z, s, settings.radiation)
    if settings.debye_waller > 0:
        f_el = f_el * np.exp(-settings.debye_waller * s * s)
    return CrystalTables(
        crystal=crystal,
        hkl=np.concatenate([half, -half[1:]]),
        g=np.concatenate([g, -g[1:]]),
        f_el=f_el,
    )


def excited(
    tables: CrystalTables,
    settings: Settings,
    frames: np.ndarray = physics.BEAM_FRAMES,
    crystal: Crystal | None = None,
    zolz_only: bool = False,
    first_image: int = 0,
) -> Reflections:
    """The reflections of each beam frame (B, 3, 3) (rows n, u, v), flat, beam b as image
    first_image + b.

    Default: those with shape factor above SHAPE_CUTOFF, the pattern's selection. zolz_only:
    the zero-order Laue zone (g·n = 0) instead, whatever the excitation error, for comparing
    with zone-axis calculators. ``crystal`` overrides the tables' crystal (structural noise; the
    lattice must be the same).
    """
    crystal = tables.crystal if crystal is None else crystal
    s = physics.excitation_errors(tables.g, frames[:, 0], settings.wavelength)  # (m, B)
    if zolz_only:
        keep = np.abs(tables.g @ frames[:, 0].T) <= ZOLZ_TOL
    else:
        keep = np.abs(s) <= settings.s_tol
    # |F(-g)|² = |F(g)|² (real scattering factors): compute once per Friedel pair
    p = tables.n_pairs
    union = keep.any(axis=1)
    need = union[: 1 + p].copy()
    need[1:] |= union[1 + p :]
    f2_half = np.zeros(1 + p)
    f2_half[need] = physics.structure_factor_sq(
        tables.hkl[: 1 + p][need], tables.f_el[:, need], crystal.frac, crystal.occ, crystal.species
    )
    beam, idx = np.nonzero(keep.T)  # sorted by beam
    g = tables.g[idx]
    uv = np.einsum("ki,kji->kj", g, frames[beam, 1:])  # (k, 2): g·u, g·v of its own beam
    s_k = s[idx, beam]
    f2 = f2_half[np.where(idx > p, idx - p, idx)]
    shape = physics.shape_factor(s_k, settings.thickness, settings.shape)
    return Reflections(beam + first_image, tables.hkl[idx], uv, s_k, f2, f2 * shape)


def reflections(
    tables: CrystalTables,
    settings: Settings,
    frames: np.ndarray = physics.BEAM_FRAMES,
    crystal: Crystal | None = None,
    zolz_only: bool = False,
) -> list[Reflections]:
    """:func:`excited`, one Reflections per beam frame."""
    return excited(tables, settings, frames, crystal, zolz_only).split(frames.shape[0])


def render_patterns(
    refl: Reflections, n_images: int, settings: Settings, blurs: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Float 8-bit-level canvas of ``n_images`` patterns, flat (n_images * size * size,), and
    the pixels its spots touched (render.splat).

    Each pattern is scaled by its own I_ref, the strongest reflection on the detector other
    than the direct beam (or the direct beam when there is none). ``blurs``: extra spot width
    per image (px), added in quadrature to ``spot_sigma``, integrated intensity kept
    (peak × σ²/σ_eff²).
    """
    size, sigma = settings.size, settings.spot_sigma
    blurs = np.zeros(n_images) if blurs is None else np.asarray(blurs, dtype=np.float64)
    sigma_eff = np.hypot(sigma, blurs)[refl.image]
    row, col = physics.detector_pixels(refl.uv, size, settings.scale)
    reach = 3 * sigma_eff + 1
    inside = (row > -reach) & (row < size - 1 + reach) & (col > -reach) & (col < size - 1 + reach)
    direct = ~refl.hkl.any(axis=1)
    i_ref = np.zeros(n_images)
    others = inside & ~direct
    np.maximum.at(i_ref, refl.image[others], refl.intensity[others])
    i_direct = np.zeros(n_images)
    np.maximum.at(i_direct, refl.image[direct], refl.intensity[direct])
    i_ref = np.where(i_ref > 0, i_ref, i_direct)
    image = refl.image[inside]
    sig = sigma_eff[inside]
    peak = render.compress(refl.intensity[inside], i_ref[image], settings.gamma)
    peak *= (sigma / sig) ** 2
    return render.splat(row[inside], col[inside], peak, sig, image, n_images, size)


def simulate_crystal(
    tables: CrystalTables, settings: Settings, seeds: Sequence[int | None]
) -> np.ndarray:
    """uint8 patterns (V, 3, size, size), beams x, y, z, one variant per seed.

    A variant with seed None, or settings without noise, is the clean pattern.
    """
    n = settings.noise
    clean_settings = nz.is_clean(n)
    refls, streams = [], []
    for v, seed in enumerate(seeds):  # variants (a handful), not reflections
        if seed is None or clean_settings:
            refls.append(excited(tables, settings, first_image=3 * v))
            streams.append(None)
            continue
        st = nz.noise_streams(seed)
        crystal = nz.perturb_crystal(tables.crystal, n["displacement"], n["vacancy"], st)
        frames = physics.BEAM_FRAMES
        if n["tilt"] > 0:
            frames = nz.tilt_frames(frames, n["tilt"], st("tilt"))
        refls.append(excited(tables, settings, frames, crystal, first_image=3 * v))
        streams.append(st)
    blurs = np.repeat([0.0 if st is None else n["blur"] for st in streams], 3)
    canvas, touched = render_patterns(Reflections.concat(refls), 3 * len(seeds), settings, blurs)
    per_variant = 3 * settings.size * settings.size
    out = np.empty((len(seeds), per_variant), dtype=np.uint8)
    for v, st in enumerate(streams):
        lo = v * per_variant
        part = canvas[lo : lo + per_variant]
        mine = (
            touched if len(seeds) == 1 else touched[(touched >= lo) & (touched < lo + per_variant)]
        )
        mine = mine - lo if lo else mine
        if st is None:
            out[v] = render.quantise_touched(part, mine)
        else:
            out[v] = nz.detector_image(part, mine, n["background"], n["dose"], n["read_noise"], st)
    return out.reshape(len(seeds), 3, settings.size, settings.size)


def simulate_patterns(
    structure: Any, params: dict[str, Any], seed: int | None = None
) -> np.ndarray:
    """Three uint8 patterns (3, size, size), beams along x, y, z, of one structure.

    ``structure``: a pymatgen Structure (or its dict / JSON) in the standard orientation (c along
    z, a in the xz plane); ``params``: the validated ``patterns`` config section. With seed None,
    or all noise levels 0, the clean pattern; otherwise the noise drawn from
    ``np.random.default_rng(seed)`` (one child stream per noise kind).
    """
    settings = Settings.from_params(params)
    tables = prepare(crystal_from_structure(structure), settings)
    return simulate_crystal(tables, settings, [seed])[0]
