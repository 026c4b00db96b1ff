"""The canonical in-plane frame of a spot pattern, found from its spots alone.

A recorded pattern's in-plane angle is set by the specimen and the microscope, and a detector
may be read out mirrored. The same rule, applied to the simulator's reflections in training
and to the spots found in a recorded image at prediction, turns every pattern into one frame:

1. the strong spots: intensity >= STRONG x the strongest, |g| <= G_MAX, not the direct beam;
2. g1, the shortest of them, goes along +u (every spot within TIE of its length is a
   candidate: a square lattice gives four, a hexagonal six);
3. of the shortest strong spots not parallel to g1 and their Friedel mates, those with v > 0:
   the mirror (v -> -v) is chosen so that they make an acute angle with g1; when it cannot
   tell (an angle near 90°, or acute and obtuse ones of the same length) both are candidates.

:func:`canonical_maps` returns every candidate map; training draws one of them, prediction
averages the model's answer over all, so ties left by the lattice's symmetry cost nothing.
"""

from __future__ import annotations

import numpy as np

#: A spot is strong from this fraction of the strongest spot's intensity.
STRONG = 0.05
#: Spots beyond this |g| (Å⁻¹) are not used: both a simulated and a recorded pattern hold
#: them whatever the detector's size and scale.
G_MAX = 1.0
#: Relative difference of lengths below which two spots are as short as each other.
TIE = 0.04
#: Angles (degrees) this close to 90° leave the mirror undecided.
RIGHT_ANGLE_TOL = 5.0
#: Candidates kept at most (a cubic [111] pattern has twelve).
MAX_MAPS = 12


def _rotation(vec: np.ndarray) -> np.ndarray:
    """2x2 rotation taking ``vec`` to the +u axis."""
    t = np.arctan2(vec[1], vec[0])
    c, s = np.cos(t), np.sin(t)
    return np.array([[c, s], [-s, c]])


def canonical_maps(uv: np.ndarray, intensity: np.ndarray) -> np.ndarray:
    """(K, 2, 2) linear maps M (rotation, or rotation then mirror) with uv' = uv @ M.T, one
    per candidate canonical frame of a pattern (module docstring); the identity alone when
    the pattern has no strong spot. ``uv`` (n, 2) Å⁻¹ from the direct beam (which, at g = 0,
    may be among them), ``intensity`` (n,)."""
    g = np.linalg.norm(uv, axis=1)
    inside = (g > 1e-9) & (g <= G_MAX)
    if not inside.any():
        return np.eye(2)[None]
    top = float(intensity[inside].max())
    strong = inside & (intensity >= STRONG * top)
    pts, lens = uv[strong], g[strong]
    first = np.flatnonzero(lens <= lens.min() * (1 + TIE))
    maps = []
    for i in first[:MAX_MAPS]:  # the tied shortest spots (a dozen at most), not all spots
        rot = _rotation(pts[i])
        turned = pts @ rot.T
        for mirror in _mirrors(turned, lens):
            maps.append(np.diag([1.0, -1.0]) @ rot if mirror else rot)
    return np.stack(maps[:MAX_MAPS])


def _mirrors(turned: np.ndarray, lens: np.ndarray) -> tuple[bool, ...]:
    """Which of (no mirror, mirror) are candidates, for spots turned so that g1 is along +u."""
    u, v = turned[:, 0], turned[:, 1]
    off_axis = np.abs(v) > np.sin(np.deg2rad(10.0)) * lens  # not parallel to g1
    if not off_axis.any():
        return (False, True)
    second = off_axis & (lens <= lens[off_axis].min() * (1 + TIE))
    # Friedel mates fold onto v > 0: the angle with g1 of each such spot
    angle = np.degrees(np.arctan2(np.abs(v[second]), u[second] * np.sign(v[second])))
    acute = angle < 90.0 - RIGHT_ANGLE_TOL
    obtuse = angle > 90.0 + RIGHT_ANGLE_TOL
    if acute.any() == obtuse.any():  # both, or all near 90°
        return (False, True)
    # a mirror turns the angle φ of the v > 0 mate into 180° - φ
    return (bool(obtuse.any()),)


def apply_map(uv: np.ndarray, m: np.ndarray) -> np.ndarray:
    """uv (n, 2) through the map ``m`` (2, 2)."""
    return uv @ m.T
