"""The authors' loader resize as index selection.

Their ``MSDN/image_utils.py`` calls ``img.thumbnail((224, 224), Image.AFFINE)``; AFFINE is the
integer 0, which Pillow reads as NEAREST. Pillow's nearest resize walks the source with a
float64 accumulator: ``x = scale / 2``, then ``x += scale`` per output pixel, and takes
``int(x)``. The accumulated rounding decides the borderline pixels (256 -> 224 drops rows 4,
12, 20, 28, 35, ... rather than 3, 11, ...), so the indices are computed the same way here.
"""

from __future__ import annotations

import numpy as np


def loader_indices(n_in: int, size: int) -> np.ndarray:
    """Source rows (or columns) that Pillow's nearest thumbnail keeps, ``n_in`` -> ``size`` px.

    ``size >= n_in`` keeps every row (``thumbnail`` never enlarges; ``size > n_in`` is an
    error here because the result would not be ``size`` px).
    """
    if size < 1:
        raise ValueError(f"size must be positive, got {size}")
    if size > n_in:
        raise ValueError(f"cannot resize {n_in} px to {size} px: the loader never enlarges")
    if size == n_in:
        return np.arange(n_in)
    scale = n_in / size
    steps = np.full(size, scale)
    steps[0] = scale * 0.5
    # Sequential accumulation on purpose: it reproduces Pillow's running sum bit for bit.
    return np.add.accumulate(steps).astype(np.intp)


def resize_like_loader(images: np.ndarray, size: int) -> np.ndarray:
    """Nearest-neighbour resize of square images (..., H, H) to (..., size, size), as theirs."""
    images = np.asarray(images)
    if images.ndim < 2 or images.shape[-1] != images.shape[-2]:
        raise ValueError(f"images must be square (..., H, H), got shape {images.shape}")
    idx = loader_indices(images.shape[-1], size)
    if len(idx) == images.shape[-1]:
        return images
    return np.take(np.take(images, idx, axis=-2), idx, axis=-1)
