"""Pattern size -> network input size: the authors' loader resize, or resizes that keep spots.

``loader``: the authors' nearest resize (below). Spots are Gaussians of sigma 0.7 px and edge
lines 1 px wide, so nearest sampling 256 -> 64 keeps one pixel in 16 and loses most of both.
``max``: the maximum over each (n_in / size)² block keeps every spot and line (a spot's value
becomes its peak). ``crop``: the central half of the pattern (the inner ±n_in/4 px, where most
bright spots lie), then the block maximum: twice the detail, outer spots lost.

The authors' loader:

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


RESIZES = ("max", "crop", "loader")


def block_max(images: np.ndarray, size: int) -> np.ndarray:
    """Maximum over each block of (H / size)² pixels of square images (..., H, H)."""
    images = np.asarray(images)
    h = images.shape[-1]
    if images.ndim < 2 or images.shape[-2] != h:
        raise ValueError(f"images must be square (..., H, H), got shape {images.shape}")
    if h % size:
        raise ValueError(f"block maximum needs an integer ratio: {h} px -> {size} px")
    f = h // size
    if f == 1:
        return images
    blocks = images.reshape(*images.shape[:-2], size, f, size, f)
    return blocks.max(axis=(-3, -1))


def central_crop(images: np.ndarray) -> np.ndarray:
    """The central half (H/2 x H/2 pixels, direct beam kept at the centre) of (..., H, H)."""
    h = np.asarray(images).shape[-1]
    lo = h // 4
    return images[..., lo : lo + h // 2, lo : lo + h // 2]


def resize(images: np.ndarray, size: int, method: str) -> np.ndarray:
    """Square images (..., H, H) -> (..., size, size) by ``method`` (module docstring)."""
    if method == "loader":
        return resize_like_loader(images, size)
    if method == "max":
        return block_max(images, size)
    if method == "crop":
        return block_max(central_crop(images), size)
    raise ValueError(f"resize must be one of {', '.join(RESIZES)}, got {method!r}")
