"""Uncertainty of accuracies on a finite test set: Wilson score intervals for a fraction and a
noise check for the difference of two fractions.

With n = 288 test crystals a top-1 accuracy near 13 % has a 95 % interval of about
±4 points, so a difference of a point or two between models says nothing; the report and the
README show every accuracy with its interval and label such differences as within noise.
"""

from __future__ import annotations

import math

Z95 = 1.959963984540054  # two-sided 95 % normal quantile


def wilson_interval(successes: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval (lower, upper) of a binomial fraction ``successes / n``.

    Unlike the normal approximation it stays inside [0, 1] and is sensible at 0 or n
    successes. ``n`` 0 gives (0, 1): nothing is known.
    """
    if n <= 0:
        return 0.0, 1.0
    p = min(max(successes / n, 0.0), 1.0)
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def interval_of(fraction: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson interval of an accuracy given as a fraction of ``n``."""
    return wilson_interval(round(fraction * n), n, z)


def with_interval(fraction: float | None, n: int | None) -> str:
    """'13.2% [9.8, 17.5]': an accuracy in percent with its 95 % Wilson interval."""
    if fraction is None or n is None or fraction != fraction:
        return "-"
    lo, hi = interval_of(float(fraction), int(n))
    return f"{100 * fraction:.1f}% [{100 * lo:.1f}, {100 * hi:.1f}]"


def difference_is_noise(p1: float, n1: int, p2: float, n2: int, z: float = Z95) -> bool:
    """True when ``p1 - p2`` lies within ``z`` standard errors of zero (two independent
    binomial fractions; for two models on the same test set this is conservative)."""
    if n1 <= 0 or n2 <= 0:
        return True
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return p1 == p2
    return abs(p1 - p2) < z * se


def difference_text(p1: float, n1: int, p2: float, n2: int) -> str:
    """'+3.1 points' or '-0.7 points (within noise)'."""
    d = f"{100 * (p1 - p2):+.1f} points"
    return f"{d} (within noise)" if difference_is_noise(p1, n1, p2, n2) else d
