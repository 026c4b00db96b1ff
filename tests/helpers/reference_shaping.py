"""Reference for the shaping benchmark: a straightforward loop port of the authors' algorithm.

Tiong et al. (2020), ``Shaped_DP.py`` (MIT licence), as described step by step in
``testdata/authors-samples/README.md``: Python loops over every spot pixel x every pixel of the
image, twice (once to collect distances, once to draw), then a loop over pixels for the overlay.
It keeps their cost profile (seconds per 256 x 256 image) on purpose: it is the baseline that
``xtalsym.shaping`` is timed against and must agree with, never used by the pipeline.

The quirk switches mirror :class:`xtalsym.shaping.ShapingOptions` so tests can cross-check the
vectorised implementation on small images with every combination.
"""

from __future__ import annotations

import math

import numpy as np


def reference_shape(
    raw: np.ndarray,
    skip_shared_row_col: bool = True,
    quirky_distance: bool = True,
    all_pairs_rule: bool = True,
    line_gap: bool = True,
    wrap_256: bool = True,
    box: tuple[int, int] = (116, 138),
    min_distance: float = 10.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Shape one pattern with pixel loops: ``(E, S)`` uint8 (H, W).

    ``box``: first and one-past-last row (= column) of the central-beam box (px).
    """
    raw_f = np.asarray(raw).astype(np.float32)
    h, w = raw_f.shape
    b0, b1 = box
    masked = raw_f.copy()
    masked[b0:b1, b0:b1] = 0.0
    if masked.max() == 0:
        return _cast(raw_f, wrap_256), _cast(raw_f, wrap_256)
    s = ((masked - 0) / (masked.max() - 0)) * 256
    s = s.astype(np.float32)
    s[b0:b1, b0:b1] = raw_f[b0:b1, b0:b1]

    edge = s.copy()
    thr = 50.0
    collected = []
    for i in range(h):
        for j in range(w):
            if s[i, j] >= thr:
                for m in range(h):
                    for n in range(w):
                        if s[m, n] >= thr and _paired(i, j, m, n, skip_shared_row_col):
                            sq = (m - i) ** 2 + (n - j) ** 2
                            dq = sq - 2 if quirky_distance else sq
                            if dq >= 0 and math.sqrt(dq) >= min_distance:
                                collected.append(math.sqrt(dq))

    all_pairs = all_pairs_rule and len(collected) <= 100
    for i in range(h):
        for j in range(w):
            if s[i, j] >= thr:
                for m in range(h):
                    for n in range(w):
                        if s[m, n] >= thr and _paired(i, j, m, n, skip_shared_row_col):
                            d = math.sqrt(math.pow(n - j, 2) + math.pow(m - i, 2))
                            if all_pairs or (collected and d <= 1.7 * min(collected)):
                                k = max(abs(n - j), abs(m - i))
                                num = k if line_gap else k + 1
                                rows = np.round(np.linspace(m, i, num)).astype(int)
                                cols = np.round(np.linspace(n, j, num)).astype(int)
                                edge[rows, cols] = 255

    for i in range(h):
        for j in range(w):
            if s[i, j] > 5:
                edge[i, j] = s[i, j]
    return _cast(edge, wrap_256), _cast(s, wrap_256)


def _paired(i: int, j: int, m: int, n: int, skip_shared_row_col: bool) -> bool:
    if skip_shared_row_col:
        return i != m and j != n
    return i != m or j != n


def _cast(x: np.ndarray, wrap: bool) -> np.ndarray:
    """C-style float -> uint8: truncate, 256 wraps to 0 (or saturate)."""
    t = np.trunc(x).astype(np.int64)
    return (t % 256 if wrap else np.clip(t, 0, 255)).astype(np.uint8)
