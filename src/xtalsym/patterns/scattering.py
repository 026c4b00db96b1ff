"""Atomic scattering factors for electrons and X-rays, from pymatgen's tabulated parameters.

pymatgen ships ``atomic_scattering_params.json`` beside its diffraction module: four Gaussians
(a_i in Å, b_i in Å²) per element, H to Cf. Its XRD and TEM calculators use them as

    X-ray     f_x(s) = Z - C_MB s² Σ_i a_i exp(-b_i s²)          (electrons, e)
    electron  f_e(s) = K_MB (Z - f_x(s)) / s²  =  K_MB C_MB Σ_i a_i exp(-b_i s²)   (Å)

with s = sinθ/λ = |g|/2 (Å⁻¹), C_MB = 41.78214 and K_MB = 0.023934 (the Mott-Bethe formula;
C_MB = 1/K_MB to 5 digits, so the electron form is the tabulated Gaussian sum). We use the same
file and constants, so our factors equal TEMCalculator's to rounding, and the electron form is
evaluated without the 0/0 at s = 0: f_e(0) = K_MB C_MB Σ a_i is finite (the direct beam).
"""

from __future__ import annotations

import functools
import json
from importlib import resources

import numpy as np
from pymatgen.core.periodic_table import Element

# Constants of pymatgen's XRD/TEM calculators (see the module docstring).
C_MOTT_BETHE = 41.78214
K_MOTT_BETHE = 0.023934

RADIATIONS = ("electron", "xray")


@functools.lru_cache(maxsize=1)
def _table() -> dict[str, np.ndarray]:
    """pymatgen's Gaussian parameters, element symbol -> (4, 2) array of (a_i Å, b_i Å²)."""
    path = resources.files("pymatgen.analysis.diffraction").joinpath(
        "atomic_scattering_params.json"
    )
    raw = json.loads(path.read_text())
    return {sym: np.asarray(c, dtype=np.float64) for sym, c in raw.items()}


@functools.lru_cache(maxsize=1)
def _atomic_numbers() -> dict[str, float]:
    return {sym: float(Element(sym).Z) for sym in _table()}


def known_elements() -> frozenset[str]:
    """Element symbols with tabulated parameters."""
    return frozenset(_table())


def element_coefficients(elements: list[str] | tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian parameters and atomic numbers of ``elements``.

    Returns ``coeffs`` (n_el, 4, 2) and ``z`` (n_el,). Raises ValueError naming an element
    without tabulated parameters (Es and heavier).
    """
    table = _table()
    missing = [e for e in elements if e not in table]
    if missing:
        raise ValueError(f"no tabulated scattering factors for {', '.join(missing)}")
    coeffs = np.stack([table[e] for e in elements]) if elements else np.zeros((0, 4, 2))
    z = np.array([_atomic_numbers()[e] for e in elements], dtype=np.float64)
    return coeffs, z


def scattering_factors(
    coeffs: np.ndarray, z: np.ndarray, s: np.ndarray, radiation: str = "electron"
) -> np.ndarray:
    """Atomic scattering factors f (n_el, n_s) at s = sinθ/λ = |g|/2 (Å⁻¹).

    electron: Å (Mott-Bethe, first Born approximation); xray: electrons. ``coeffs`` and ``z``
    from :func:`element_coefficients`.
    """
    s2 = np.asarray(s, dtype=np.float64) ** 2
    # (n_el, 4, 1) * (1, n_s) -> sum over the 4 Gaussians
    gauss = np.einsum("ek,eks->es", coeffs[:, :, 0], np.exp(-coeffs[:, :, 1, None] * s2))
    if radiation == "electron":
        return K_MOTT_BETHE * C_MOTT_BETHE * gauss
    if radiation == "xray":
        return z[:, None] - C_MOTT_BETHE * s2 * gauss
    raise ValueError(f"radiation must be one of {RADIATIONS}, not {radiation!r}")
