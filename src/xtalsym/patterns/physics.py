"""Kinematic diffraction: reciprocal lattice, Ewald-sphere excitation error, shape factor,
structure factors and the projection onto the detector.

Conventions (docs/simulation-notes in the spec): reciprocal vectors without the 2π, so
|g| = 1/d in Å⁻¹; s = sinθ/λ = |g|/2; fractional coordinates r_j.

Beams and detector axes (``BEAM_FRAMES``): each beam n has detector axes (u, v), a
right-handed frame (u × v = n), cyclic in x, y, z so that a cubic crystal gives the same image
along all three:

    beam x: u = y, v = z      beam y: u = z, v = x      beam z: u = x, v = y

A reflection lands at (u, v) = (g·u, g·v) in Å⁻¹ (small-angle projection: the spot lies at the
component of g perpendicular to the beam).
"""

from __future__ import annotations

import functools

import numpy as np

# (beam, row): rows n, u, v of each beam's frame; beams in the order x, y, z.
BEAM_FRAMES = np.array(
    [
        [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],  # beam x: u = y, v = z
        [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]],  # beam y: u = z, v = x
        [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],  # beam z: u = x, v = y
    ]
)

SHAPES = ("gaussian", "sinc2")

#: patterns.beams = zone_axes: three non-redundant low-index zone axes [uvw] per crystal system
#: (direct-lattice directions of the ITA standard cell), in image order.
ZONE_AXES: dict[str, tuple[tuple[int, int, int], ...]] = {
    "triclinic": ((1, 0, 0), (0, 1, 0), (0, 0, 1)),
    "monoclinic": ((1, 0, 0), (0, 1, 0), (0, 0, 1)),
    "orthorhombic": ((1, 0, 0), (0, 1, 0), (0, 0, 1)),
    "tetragonal": ((0, 0, 1), (1, 0, 0), (1, 1, 0)),
    "trigonal": ((0, 0, 1), (1, 0, 0), (2, 1, 0)),
    "hexagonal": ((0, 0, 1), (1, 0, 0), (2, 1, 0)),
    "cubic": ((0, 0, 1), (1, 1, 0), (1, 1, 1)),
}
#: patterns.beams = drawn: each noisy variant's three zone axes are drawn, distinct, from the
#: low-index directions with |u|, |v|, |w| <= this (of the conventional cell), whatever the
#: crystal system; clean patterns keep ZONE_AXES.
MAX_AXIS_INDEX = 2
BEAMS = ("cartesian", "zone_axes", "drawn")


@functools.cache
def low_index_axes(max_index: int = MAX_AXIS_INDEX) -> np.ndarray:
    """(K, 3) int: the directions [uvw] with |u|, |v|, |w| <= max_index, gcd 1, one of each
    ±pair (first non-zero index positive). Read-only (cached: every crystal asks)."""
    r = np.arange(-max_index, max_index + 1)
    uvw = np.stack(np.meshgrid(r, r, r, indexing="ij"), -1).reshape(-1, 3)
    first = uvw[np.arange(len(uvw)), np.argmax(uvw != 0, axis=1)]
    g = np.gcd.reduce(np.abs(uvw), axis=1)
    out = uvw[(first > 0) & (g == 1)]
    out.flags.writeable = False
    return out


def axis_weights(lattice: np.ndarray, axes: np.ndarray) -> np.ndarray:
    """Probabilities (K,) of drawing each zone axis: ∝ 1 / |t|², t = u a + v b + w c (Å).

    A short lattice direction has a dense zero-order reciprocal plane (its 2D cell area is
    |t| / V), the well-populated, symmetric patterns a microscopist tilts to.
    """
    w = 1.0 / np.einsum("ki,ki->k", axes @ lattice, axes @ lattice)
    return w / w.sum()


def zone_axis_frames(lattice: np.ndarray, system: str) -> np.ndarray:
    """Beam frames (3, 3, 3) (rows n, u, v) along the zone axes of ``system`` (ZONE_AXES)."""
    return axis_frames(lattice, np.asarray(ZONE_AXES[system]))


def axis_frames(lattice: np.ndarray, axes: np.ndarray) -> np.ndarray:
    """Beam frames (B, 3, 3) (rows n, u, v) along the directions ``axes`` (B, 3) [uvw].

    n is the unit vector along [uvw] (lattice rows a, b, c in Å); u is the first of a, b, c
    not parallel to n, projected onto the detector plane and normalised; v = n × u, so the
    frame is right-handed like BEAM_FRAMES. For orthogonal cells [100] gets u = b, v = c.
    """
    frames = np.empty((len(axes), 3, 3))
    for k, uvw in enumerate(axes):  # three beams
        n = np.asarray(uvw, dtype=np.float64) @ lattice
        n /= np.linalg.norm(n)
        for vec in lattice:  # three candidates
            perp = vec - (vec @ n) * n
            if np.linalg.norm(perp) > 0.1 * np.linalg.norm(vec):
                break
        u = perp / np.linalg.norm(perp)
        frames[k] = (n, u, np.cross(n, u))
    return frames


def reciprocal_basis(lattice: np.ndarray) -> np.ndarray:
    """Rows a*, b*, c* (Å⁻¹, no 2π) of the lattice with rows a, b, c (Å): a_i · a*_j = δ_ij."""
    return np.linalg.inv(lattice).T


def enumerate_hkl(lattice: np.ndarray, g_max: float) -> np.ndarray:
    """All integer (h, k, l) with |g| <= g_max (Å⁻¹), in Friedel order; (1 + 2P, 3) int.

    Row 0 is (0, 0, 0); rows 1..P the half with the first non-zero index positive; rows
    P+1..2P their opposites -hkl in the same order, so that Friedel mates can share work.
    |h| = |g · a| <= g_max |a| bounds the search box, then the sphere is cut out of it.
    """
    bounds = np.floor(g_max * np.linalg.norm(lattice, axis=1) + 1e-9).astype(int)
    axes = [np.arange(-b, b + 1) for b in bounds]
    hkl = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    h, k, m = hkl.T
    positive = (h > 0) | ((h == 0) & ((k > 0) | ((k == 0) & (m > 0))))
    hkl = hkl[positive]
    g = hkl @ reciprocal_basis(lattice)
    half = hkl[np.einsum("ij,ij->i", g, g) <= g_max * g_max * (1 + 1e-12)]
    return np.concatenate([np.zeros((1, 3), dtype=half.dtype), half, -half])


def excitation_errors(g: np.ndarray, normals: np.ndarray, wavelength: float) -> np.ndarray:
    """Excitation error s_g = 1/λ - |k0 + g| (Å⁻¹) of each g (m, 3) for each beam (B, 3).

    k0 = n/λ. Written as -(2 g·n/λ + |g|²) / (1/λ + |k0 + g|) to avoid the cancellation of two
    numbers near 1/λ; ≈ -(g·n) - λ|g|²/2. Returns (m, B); positive inside the Ewald sphere.
    """
    k = 1.0 / wavelength
    gn = g @ normals.T  # (m, B)
    g2 = np.einsum("ij,ij->i", g, g)[:, None]
    norm_kg = np.sqrt(k * k + 2 * k * gn + g2)
    return -(2 * k * gn + g2) / (k + norm_kg)


def shape_factor(s: np.ndarray, thickness: float, kind: str = "gaussian") -> np.ndarray:
    """Kinematic shape factor of a slab of ``thickness`` t (Å) at excitation error s (Å⁻¹).

    sinc2: sinc²(π t s), the exact slab rod, with zeros at s = k/t. gaussian: exp(-π (t s)²),
    the Gaussian with the same peak (1) and integral (1/t) as sinc², a smooth stand-in for a
    specimen of varying thickness: no zero rings in zone-axis patterns.
    """
    ts = thickness * s
    if kind == "gaussian":
        return np.exp(-np.pi * ts * ts)
    if kind == "sinc2":
        return np.sinc(ts) ** 2  # numpy's sinc(x) = sin(πx)/(πx)
    raise ValueError(f"shape must be one of {SHAPES}, not {kind!r}")


def s_tolerance(thickness: float, kind: str, cutoff: float) -> float:
    """Largest |s| (Å⁻¹) whose shape-factor envelope is still >= ``cutoff``.

    gaussian: exp(-π t² s²) = cutoff; sinc2: its envelope 1/(π t s)² = cutoff.
    """
    if kind == "gaussian":
        return float(np.sqrt(np.log(1.0 / cutoff) / np.pi) / thickness)
    return float(1.0 / (np.pi * thickness * np.sqrt(cutoff)))


def structure_factor_sq(
    hkl: np.ndarray,
    f_el: np.ndarray,
    frac: np.ndarray,
    occ: np.ndarray,
    species: np.ndarray,
) -> np.ndarray:
    """|F(g)|² for each hkl (m, 3).

    F(g) = Σ_j occ_j f_{e(j)}(g) exp(2πi hkl·r_j); ``f_el`` (n_el, m) holds each element's
    scattering factor at each g, Debye-Waller factor included. The sum over scatterers is done
    per element as a real matrix product: (m, n) phases @ (n, n_el) occupancy weights.
    """
    phase = (2 * np.pi) * (hkl @ frac.T)  # (m, n)
    weights = np.zeros((frac.shape[0], f_el.shape[0]))
    weights[np.arange(frac.shape[0]), species] = occ
    re = np.einsum("me,em->m", np.cos(phase) @ weights, f_el)
    im = np.einsum("me,em->m", np.sin(phase) @ weights, f_el)
    return re * re + im * im


#: Double diffraction routes intensity through the strongest beams: the forbidden reflections
#: lit are the sums of one of this many strongest allowed reflections and another allowed one.
DD_STRONG = 32
# Packed hkl keys: index offset and base (|h|, |k|, |l| < 128).
_KEY_O, _KEY_B = 128, 256


def double_diffraction(
    hkl: np.ndarray, f2: np.ndarray, image: np.ndarray, level: np.ndarray
) -> np.ndarray:
    """|F|² with forbidden reflections lit by double diffraction.

    A reflection of ``image`` b with |F|² ~ 0 (a systematic absence) that is the sum g1 + g2
    of two allowed reflections of the same image, g1 among its DD_STRONG strongest, gets
    ``level`` (per reflection) times the image's mean allowed |F|². Centring absences are
    never such a sum (the allowed reflections form a lattice), glide and screw absences are.
    """
    direct = ~hkl.any(axis=1)
    tiny = 1e-9 * max(float(f2.max(initial=0.0)), 1e-300)
    allowed, absent = (f2 > tiny) & ~direct, (f2 <= tiny) & ~direct
    if not (allowed.any() and absent.any()):
        return f2
    key = ((hkl[:, 0] + _KEY_O) * _KEY_B + hkl[:, 1] + _KEY_O) * _KEY_B + hkl[:, 2] + _KEY_O
    offset = _KEY_O * (_KEY_B * _KEY_B + _KEY_B + 1)
    out = f2.copy()
    for b in np.unique(image[absent]):  # the images of one variant, not reflections
        mine_a = np.flatnonzero(allowed & (image == b))
        if not mine_a.size:
            continue
        strong = mine_a[np.argsort(-f2[mine_a])[:DD_STRONG]]
        mine_f = np.flatnonzero(absent & (image == b))
        partner = key[mine_f, None] - key[None, strong] + offset  # key of g - g1
        lit = np.isin(partner, key[mine_a]).any(axis=1)
        out[mine_f[lit]] = level[mine_f[lit]] * f2[mine_a].mean()
    return out


def detector_pixels(uv: np.ndarray, size: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Image row and column (float pixels) of detector coordinates uv (..., 2) in Å⁻¹.

    The direct beam sits at pixel (size/2, size/2); columns grow with u, rows shrink with v
    (v points up on screen): the (u, v) plane seen with the beam n pointing at the viewer.
    """
    c = size / 2
    return c - uv[..., 1] / scale, c + uv[..., 0] / scale
