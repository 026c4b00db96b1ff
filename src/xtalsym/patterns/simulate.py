"""The simulator: one crystal -> three 8-bit spot patterns, per variant.

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

from ..spacegroups import crystal_system
from . import noise as nz
from . import physics, render
from .canonical import canonical_maps
from .crystal import Crystal
from .scattering import element_coefficients, scattering_factors
from .symmetry import SiteSymmetry, site_symmetry, trivial

# Reflections whose shape-factor envelope falls below this are dropped: with γ = 0.5 they would
# sit under 255·1e-2 = 2.6 levels even for a reflection as strong as I_ref.
SHAPE_CUTOFF = 1e-4
# |g·n| (Å⁻¹) below which a reflection counts as zero-order Laue zone (zolz_only).
ZOLZ_TOL = 1e-9


@dataclass(frozen=True)
class Settings:
    """The ``patterns`` config section as typed values.

    Units: ``size`` pixels (square detector); ``wavelength`` Å; ``g_max`` Å⁻¹ (largest |g| = 1/d
    kept); ``scale`` Å⁻¹ per pixel; ``thickness`` Å (crystal
    thickness along the beam); ``debye_waller`` B in Å²; ``spot_sigma`` pixels (Gaussian spot
    sigma); ``gamma`` dimensionless (8-bit level 255 (I / I_ref)^gamma);
    ``noise`` and ``ranges`` in each key's own unit (:mod:`.noise`: jitter and displacement Å
    as the standard deviation per Cartesian component, strain dimensionless, background 8-bit
    levels, dose counts at full scale).

    ``thickness`` and ``debye_waller`` are the nominal values (the middle of a configured
    range), used for clean patterns; ``ranges`` holds (lo, hi) of every key that is drawn per
    variant; ``noise`` the largest level of each noise kind.
    """

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
    ranges: dict[str, tuple[float, float]]
    beams: str = "cartesian"
    rotation: str = "none"

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> Settings:
        given = params.get("noise", {})
        ranges = {k: nz.as_range(given.get(k, 0.0)) for k in nz.NOISE_KEYS}
        ranges["thickness"] = nz.as_range(params["thickness"])
        ranges["debye_waller"] = nz.as_range(params["debye_waller"])
        return cls(
            size=int(params["size"]),
            wavelength=float(params["wavelength"]),
            g_max=float(params["g_max"]),
            scale=float(params["scale"]),
            thickness=sum(ranges["thickness"]) / 2,
            shape=str(params.get("shape", "gaussian")),
            radiation=str(params["radiation"]),
            debye_waller=sum(ranges["debye_waller"]) / 2,
            spot_sigma=float(params["spot_sigma"]),
            gamma=float(params["gamma"]),
            noise={k: ranges[k][1] for k in nz.NOISE_KEYS},
            ranges=ranges,
            beams=str(params.get("beams", "cartesian")),
            rotation=str(params.get("rotation", "none")),
        )

    @property
    def s_tol(self) -> float:
        """Largest excitation error kept (Å⁻¹), for the thinnest crystal of the range."""
        return self.s_tol_at(self.ranges["thickness"][0])

    def s_tol_at(self, thickness: float) -> float:
        return physics.s_tolerance(thickness, self.shape, SHAPE_CUTOFF)


@dataclass(frozen=True)
class Conditions:
    """How one variant is imaged: thickness (Å), Debye-Waller B (Å²), strain (3, 3) I + ε or
    None, detector scale factor, background (8-bit levels), dose (counts at 255); extra spot
    blur (px), halo level (8-bit levels) and width (Å⁻¹), intensity spread (sd of the log
    factors) and double-diffraction level (fraction of the mean allowed intensity)."""

    thickness: float
    debye_waller: float
    strain: np.ndarray | None
    scale: float
    background: float
    dose: float
    blur: float = 0.0
    halo: float = 0.0
    halo_width: float = 0.2
    spread: float = 0.0
    forbidden: float = 0.0


def nominal_conditions(settings: Settings) -> Conditions:
    """The clean pattern's conditions: nominal thickness and B, no strain, exact scale."""
    return Conditions(settings.thickness, settings.debye_waller, None, 1.0, 0.0, 0.0)


def draw_conditions(
    settings: Settings,
    tables: CrystalTables,
    streams: Any,
) -> Conditions:
    """One variant's imaging conditions, each range drawn uniformly (noise.STREAMS "imaging")."""
    r, n = settings.ranges, settings.noise
    u = streams("imaging").random(6)

    def pick(key: str, x: float) -> float:
        lo, hi = r[key]
        return lo + (hi - lo) * x

    strain = None
    if n["strain"] > 0:
        strain = nz.strain_matrix(tables.symmetry, tables.crystal.lattice, n["strain"],
                                  streams("strain"))  # fmt: skip
    # The detector and intensity-model draws have streams of their own, so that configs
    # without them keep every earlier draw.
    d = streams("detector").random(5) if _any(n, DETECTOR_KEYS) else np.zeros(5)
    return Conditions(
        thickness=pick("thickness", u[0]),
        debye_waller=pick("debye_waller", u[1]),
        strain=strain,
        scale=1.0 + n["scale_error"] * (2 * u[2] - 1),
        background=pick("background", u[3]),
        dose=pick("dose", u[4]),
        blur=pick("blur", d[0]),
        halo=pick("halo", d[1]),
        halo_width=max(pick("halo_width", d[2]), 1e-6),
        spread=n["spread"] * d[3],
        forbidden=n["forbidden"] * d[4],
    )


#: Noise keys drawn from the ``detector`` stream.
DETECTOR_KEYS = ("blur", "halo", "spread", "forbidden")


def _any(noise: dict[str, float], keys: tuple[str, ...]) -> bool:
    return any(noise[k] > 0 for k in keys)


@dataclass(frozen=True)
class CrystalTables:
    """Per-crystal precomputation: candidates hkl (1 + 2P, 3) in Friedel order (0, P
    reflections, their P opposites), g (1 + 2P, 3) Å⁻¹, f_el (n_el, 1 + P) scattering factors
    with the nominal Debye-Waller factor (the same for g and -g); the crystal's operations as
    site maps (for symmetric structural noise); the beam frames (3, 3, 3) (rows n, u, v) of
    clean patterns; with ``beams: drawn`` the zone axes (K, 3) a variant draws from and their
    probabilities (K,) (physics.axis_weights)."""

    crystal: Crystal
    hkl: np.ndarray
    g: np.ndarray
    f_el: np.ndarray
    symmetry: SiteSymmetry
    frames: np.ndarray
    axes: np.ndarray | None = None
    axis_p: np.ndarray | None = None

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
    n = settings.noise
    symmetric = n["jitter"] > 0 or n["strain"] > 0 or n["vacancy"] > 0
    zone = settings.beams != "cartesian"
    sym = site_symmetry(crystal) if symmetric or zone else trivial(crystal.n_sites)
    frames = physics.BEAM_FRAMES
    if zone:
        frames = physics.zone_axis_frames(crystal.lattice, crystal_system(sym.number))
    axes = axis_p = None
    normals = frames[:, 0]
    if settings.beams == "drawn":
        axes = physics.low_index_axes()
        axis_p = physics.axis_weights(crystal.lattice, axes)
        t = (axes @ crystal.lattice).astype(np.float64)
        normals = np.concatenate([normals, t / np.linalg.norm(t, axis=1, keepdims=True)])
    hkl = physics.enumerate_hkl(crystal.lattice, settings.g_max)
    p = (len(hkl) - 1) // 2
    half = hkl[: 1 + p]  # 0 and one of each Friedel pair
    g = half @ physics.reciprocal_basis(crystal.lattice)
    g_len = np.linalg.norm(g, axis=1)
    # |s| <= s_tol needs |g·n| <= s_tol (1 + λ|g|/2) + λ|g|²/2; a tilt by θ changes g·n by at
    # most |g| θ. Keep what any beam could excite, so tilted variants reuse the tables; the
    # test is symmetric in ±g, so pairs stay pairs.
    # A strain ε moves g by at most |g| |ε| / (1 - |ε|).
    lam, theta = settings.wavelength, np.deg2rad(settings.noise["tilt"])
    e = nz.STRAIN_CLIP * settings.noise["strain"]
    theta += e / max(1.0 - e, 1e-6)
    margin = settings.s_tol * (1 + lam * g_len / 2) + lam * g_len**2 / 2 + g_len * theta + 1e-9
    near = (np.abs(g @ normals.T) <= margin[:, None]).any(axis=1)
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
        symmetry=sym,
        frames=frames,
        axes=axes,
        axis_p=axis_p,
    )


def excited(
    tables: CrystalTables,
    settings: Settings,
    frames: np.ndarray | None = None,
    crystal: Crystal | None = None,
    zolz_only: bool = False,
    first_image: int = 0,
    conditions: Conditions | None = None,
    rng: np.random.Generator | None = None,
) -> Reflections:
    """The reflections of each beam frame (B, 3, 3) (rows n, u, v), flat, beam b as image
    first_image + b.

    Default: those with shape factor above SHAPE_CUTOFF, the pattern's selection. zolz_only:
    the zero-order Laue zone (g·n = 0) instead, whatever the excitation error, for comparing
    with zone-axis calculators. ``crystal`` overrides the tables' crystal (structural noise; the
    lattice must be the same). ``conditions``: the variant's thickness, B, strain, detector
    scale and intensity-model noise (default: nominal_conditions); ``rng`` draws the latter
    (needed when conditions.spread or conditions.forbidden is above 0).
    """
    crystal = tables.crystal if crystal is None else crystal
    frames = tables.frames if frames is None else frames
    cond = nominal_conditions(settings) if conditions is None else conditions
    g_all = tables.g if cond.strain is None else tables.g @ np.linalg.inv(cond.strain)
    s = physics.excitation_errors(g_all, frames[:, 0], settings.wavelength)  # (m, B)
    if zolz_only:
        keep = np.abs(g_all @ frames[:, 0].T) <= ZOLZ_TOL
    else:
        keep = np.abs(s) <= settings.s_tol_at(cond.thickness)
    # |F(-g)|² = |F(g)|² (real scattering factors): compute once per Friedel pair
    p = tables.n_pairs
    union = keep.any(axis=1)
    need = union[: 1 + p].copy()
    need[1:] |= union[1 + p :]
    f_el = tables.f_el[:, need]
    if cond.spread > 0:
        # Another code's scattering-factor table: each element off by exp(ε0 + ε1 s).
        eps = cond.spread * rng.standard_normal((2, f_el.shape[0], 1))
        s_need = np.linalg.norm(tables.g[: 1 + p][need], axis=1) / 2
        f_el = f_el * np.exp(eps[0] + eps[1] * s_need)
    f2_half = np.zeros(1 + p)
    f2_half[need] = physics.structure_factor_sq(
        tables.hkl[: 1 + p][need], f_el, crystal.frac, crystal.occ, crystal.species
    )
    delta_b = cond.debye_waller - settings.debye_waller
    if delta_b:
        # One B for every atom: |F|² scales by exp(-2 ΔB s²), s = |g|/2.
        s2 = np.einsum("ij,ij->i", tables.g[: 1 + p], tables.g[: 1 + p]) / 4
        f2_half *= np.exp(-2.0 * delta_b * s2)
    beam, idx = np.nonzero(keep.T)  # sorted by beam
    g = g_all[idx]
    uv = np.einsum("ki,kji->kj", g, frames[beam, 1:]) * cond.scale  # (k, 2): g·u, g·v
    s_k = s[idx, beam]
    f2 = f2_half[np.where(idx > p, idx - p, idx)]
    hkl = tables.hkl[idx]
    if cond.forbidden > 0:
        f2 = physics.double_diffraction(hkl, f2, beam, cond.forbidden * rng.random(len(f2)))
    if cond.spread > 0:
        f2 = f2 * np.exp(cond.spread * rng.standard_normal(len(f2)))
    shape = physics.shape_factor(s_k, cond.thickness, settings.shape)
    return Reflections(beam + first_image, hkl, uv, s_k, f2, f2 * shape)


def reflections(
    tables: CrystalTables,
    settings: Settings,
    frames: np.ndarray | None = None,
    crystal: Crystal | None = None,
    zolz_only: bool = False,
) -> list[Reflections]:
    """:func:`excited`, one Reflections per beam frame."""
    frames = tables.frames if frames is None else frames
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


def frame_spots(
    refl: Reflections, settings: Settings, rng: np.random.Generator | None = None
) -> Reflections:
    """``refl`` with each image's spots in its canonical frame (``rotation: canonical``,
    :mod:`.canonical`): one of the candidate frames drawn by ``rng`` (None: the first, for
    clean patterns); unchanged for other rotation settings."""
    if settings.rotation != "canonical" or not len(refl.image):
        return refl
    uv = refl.uv.copy()
    for b in np.unique(refl.image):  # the images of one variant, not reflections
        mine = refl.image == b
        maps = canonical_maps(refl.uv[mine], refl.intensity[mine])
        m = maps[0 if rng is None else rng.integers(len(maps))]
        uv[mine] = refl.uv[mine] @ m.T
    return Reflections(refl.image, refl.hkl, uv, refl.s, refl.f2, refl.intensity)


def variant_frames(tables: CrystalTables, settings: Settings, streams: Any) -> np.ndarray:
    """The beam frames (3, 3, 3) of one noisy variant: its drawn zone axes (``beams:
    drawn``: three distinct, from the ``axes`` stream), turned in plane and mirrored
    (``rotation: random``), then tilted (``noise.tilt``)."""
    frames = tables.frames
    if tables.axes is not None:
        pick = streams("axes").choice(len(tables.axes), 3, replace=False, p=tables.axis_p)
        frames = physics.axis_frames(tables.crystal.lattice, tables.axes[pick])
    if settings.rotation == "random":
        frames = nz.rotate_frames(frames, streams("rotation"))
    if settings.noise["tilt"] > 0:
        frames = nz.tilt_frames(frames, settings.noise["tilt"], streams("tilt"))
    return frames


def simulate_crystal(
    tables: CrystalTables, settings: Settings, seeds: Sequence[int | None]
) -> np.ndarray:
    """uint8 patterns (V, 3, size, size), one variant per seed.

    A variant with seed None, or settings without noise, is the clean pattern (nominal
    thickness and B, no background, the tables' frames). A noisy variant draws its structural
    noise, beams (:func:`variant_frames`) and imaging conditions (:func:`draw_conditions`)
    from its seed's streams.
    """
    n = settings.noise
    clean_settings = nz.is_clean(n) and settings.rotation != "random" and tables.axes is None
    refls, streams, conds = [], [], []
    for v, seed in enumerate(seeds):  # variants (a handful), not reflections
        if seed is None or clean_settings:
            refls.append(frame_spots(excited(tables, settings, first_image=3 * v), settings))
            streams.append(None)
            conds.append(None)
            continue
        st = nz.noise_streams(seed)
        cond = draw_conditions(settings, tables, st)
        crystal = nz.perturb_crystal(tables.crystal, tables.symmetry, n, st)
        frames = variant_frames(tables, settings, st)
        refl = excited(tables, settings, frames, crystal, first_image=3 * v, conditions=cond,
                       rng=st("intensity"))  # fmt: skip
        refls.append(frame_spots(refl, settings, st("rotation")))
        streams.append(st)
        conds.append(cond)
    blurs = np.repeat([0.0 if c is None else c.blur for c in conds], 3)
    canvas, touched = render_patterns(Reflections.concat(refls), 3 * len(seeds), settings, blurs)
    per_variant = 3 * settings.size * settings.size
    out = np.empty((len(seeds), per_variant), dtype=np.uint8)
    for v, (st, cond) in enumerate(zip(streams, conds, strict=True)):
        lo = v * per_variant
        part = canvas[lo : lo + per_variant]
        mine = (
            touched if len(seeds) == 1 else touched[(touched >= lo) & (touched < lo + per_variant)]
        )
        mine = mine - lo if lo else mine
        if st is None:
            out[v] = render.quantise_touched(part, mine)
            continue
        halo = None
        if cond.halo > 0:
            halo = nz.halo_levels(settings.size, settings.scale, cond.halo, cond.halo_width)
        out[v] = nz.detector_image(part, mine, cond.background, cond.dose, n["read_noise"], st,
                                   halo=None if halo is None else halo.ravel())  # fmt: skip
    return out.reshape(len(seeds), 3, settings.size, settings.size)
