"""The authors' RGB images: the edge image E in the channel of the beam axis, S in the others
(the rule is :mod:`xtalsym.channels`)."""

from __future__ import annotations

import numpy as np

from ..channels import AXIS_CHANNEL
from .core import ShapingOptions, shape


def compose_rgb(e: np.ndarray, s: np.ndarray, axis: str) -> np.ndarray:
    """The authors' RGB image(s): E in the channel of ``axis`` (x R, y G, z B), S in the others.

    ``e``, ``s``: (..., H, W) uint8. Returns (..., H, W, 3) uint8.
    """
    if axis not in AXIS_CHANNEL:
        raise ValueError(f"axis must be one of x, y, z, got {axis!r}")
    chans = [s, s, s]
    chans[AXIS_CHANNEL[axis]] = e
    return np.stack(chans, axis=-1)


def shape_rgb(pattern: np.ndarray, axis: str, opts: ShapingOptions | None = None) -> np.ndarray:
    """One pattern shaped into the authors' RGB image (H, W, 3) uint8."""
    if axis not in AXIS_CHANNEL:
        raise ValueError(f"axis must be one of x, y, z, got {axis!r}")
    e, s = shape(pattern, opts)
    return compose_rgb(e, s, axis)
