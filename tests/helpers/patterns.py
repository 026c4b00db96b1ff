"""Synthetic spot patterns shared by the shaping tests and the shaping benchmark."""

from __future__ import annotations

import numpy as np


def lattice_patterns(n: int, size: int = 256, seed: int = 0) -> np.ndarray:
    """``n`` synthetic spot patterns (n, size, size) uint8: a random 2D lattice of Gaussian
    spots (sigma 0.7 px) with random intensities, a bright direct beam at the centre and a
    faint noisy background, like the authors' raw samples.
    """
    rng = np.random.default_rng(seed)
    out = np.zeros((n, size, size), np.float64)
    centre = size / 2
    yy, xx = np.mgrid[-2:3, -2:3]
    for i in range(n):  # images
        a = rng.uniform(0.07, 0.2) * size
        b = a * rng.uniform(0.8, 1.6)
        phi = rng.uniform(0, np.pi)
        gamma = rng.uniform(np.pi / 3, 2 * np.pi / 3)
        v1 = a * np.array([np.sin(phi), np.cos(phi)])
        v2 = b * np.array([np.sin(phi + gamma), np.cos(phi + gamma)])
        h, k = np.mgrid[-12:13, -12:13].reshape(2, -1)
        pos = centre + h[:, None] * v1 + k[:, None] * v2
        keep = (np.abs(pos - centre) < size / 2 - 4).all(axis=1) & ((h != 0) | (k != 0))
        pos = pos[keep]
        amp = 255 * rng.random(len(pos)) ** 2 * np.exp(-np.hypot(*(pos - centre).T) / size)
        ri, ci = np.rint(pos).astype(int).T
        frac = pos - np.rint(pos)
        g = np.exp(
            -((yy[None] - frac[:, 0, None, None]) ** 2 + (xx[None] - frac[:, 1, None, None]) ** 2)
            / (2 * 0.7**2)
        )
        np.add.at(
            out[i],
            (ri[:, None, None] + yy[None], ci[:, None, None] + xx[None]),
            amp[:, None, None] * g,
        )
        c = int(centre)
        out[i, c - 1 : c + 2, c - 1 : c + 2] += 255
        out[i] += rng.poisson(0.5, (size, size))
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
