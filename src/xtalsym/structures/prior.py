"""Per-class target counts for the synthetic source: uniform, or an ICSD-like frequency prior.

The paper's data set follows ICSD frequencies (P2_1/c, Fm-3m, Pnma, C2/c, P-1 dominate).
:data:`ICSD_PERCENT` gives approximate relative frequencies (percent of ICSD entries, rounded,
compiled from published ICSD space-group statistics; not an exact count of any ICSD release)
for the paper's 72 groups. Groups outside that table (class sets ``all230`` or a list) get
:data:`DEFAULT_PERCENT`. Only the ratios matter: targets are scaled so that their mean is
``per_class``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

ICSD_PERCENT: dict[int, float] = {
    1: 0.40, 2: 4.70, 4: 1.00, 5: 0.45, 6: 0.15, 7: 0.40, 8: 0.40, 9: 0.80, 10: 0.15,
    11: 1.50, 12: 3.40, 13: 0.50, 14: 8.50, 15: 4.60, 19: 1.30, 25: 0.10, 29: 0.35,
    31: 0.30, 33: 0.70, 36: 0.50, 38: 0.20, 44: 0.15, 47: 0.60, 55: 0.60, 57: 0.40,
    58: 0.50, 59: 0.30, 60: 0.80, 61: 1.20, 62: 7.10, 63: 2.60, 64: 0.80, 65: 0.40,
    70: 0.40, 71: 0.60, 74: 0.60, 82: 0.30, 87: 0.50, 88: 0.50, 107: 0.20, 115: 0.15,
    122: 0.40, 123: 1.60, 127: 0.60, 129: 1.00, 136: 0.70, 139: 3.50, 140: 1.20,
    141: 1.00, 146: 0.30, 148: 1.00, 156: 0.20, 160: 0.60, 164: 2.00, 166: 3.00,
    173: 0.30, 176: 0.80, 186: 0.90, 187: 0.50, 189: 0.80, 191: 2.00, 193: 0.60,
    194: 4.00, 198: 0.50, 205: 0.40, 216: 2.50, 221: 3.40, 223: 0.50, 225: 7.50,
    227: 3.50, 229: 1.00, 230: 0.40,
}  # fmt: skip

DEFAULT_PERCENT = 0.10


def largest_remainder(weights: np.ndarray, total: int, minimum: int = 1) -> np.ndarray:
    """Integers proportional to ``weights`` summing to ``total``, each >= ``minimum``."""
    w = np.asarray(weights, dtype=float)
    n = len(w)
    spare = total - minimum * n
    if spare < 0:
        raise ValueError(f"cannot give {n} classes at least {minimum} each from {total}")
    exact = spare * w / w.sum()
    out = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - out), kind="stable")[: spare - int(out.sum())]:
        out[i] += 1
    return out + minimum


def class_targets(classes: Sequence[int], per_class: int, prior: str) -> dict[int, int]:
    """Wanted structures per space group: ``per_class`` each, or ICSD-like with that mean."""
    classes = list(classes)
    if prior == "none":
        return dict.fromkeys(classes, int(per_class))
    if prior != "icsd":
        raise ValueError(f"structures.synthetic.prior: unknown prior {prior!r}")
    w = np.array([ICSD_PERCENT.get(sg, DEFAULT_PERCENT) for sg in classes])
    counts = largest_remainder(w, per_class * len(classes), minimum=1)
    return dict(zip(classes, counts.tolist(), strict=True))
