"""Shaping of plain image files (``xtalsym shaping IN.png ... --out DIR``).

Each input is a grayscale spot pattern; the output is the authors' RGB image (PNG, lossless):
the edge image in the channel of the beam axis, taken from an ``_x``/``_y``/``_z`` suffix of
the file name (default z, as a single pattern has no axis of its own).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image

from ..imageread import SIXTEEN_BIT, ImageArray, read_image
from ..io import atomic_path
from .core import ShapingOptions, shape
from .resize import resize_like_loader
from .rgb import compose_rgb

logger = logging.getLogger(__name__)

_AXIS_SUFFIX = re.compile(r"_([xyz])$", re.IGNORECASE)


def axis_from_name(path: str | os.PathLike, default: str = "z") -> str:
    """Beam axis from a ``_x``, ``_y`` or ``_z`` suffix of the file stem (else ``default``)."""
    m = _AXIS_SUFFIX.search(Path(path).stem)
    return m.group(1).lower() if m else default


def read_pattern_image(path: str | os.PathLike, size: int | None = None) -> np.ndarray:
    """Read a pattern image (PNG, JPEG, TIFF, ...) as grayscale uint8 (H, W).

    Colour images are converted to luminance (Pillow's ITU-R 601 ``L``, alpha dropped); 16-bit
    images are scaled to 8 bits (/257); 32-bit and float images are clipped to 0-255, or scaled
    so their maximum is 255 when it exceeds 255. Images must be square, 16 to 8192 px
    (:mod:`xtalsym.imageread`), and ``size`` px if given. Raises ``ValueError("<path>: <reason>")`` for
    every refusal of :func:`xtalsym.imageread.read_image` and for a wrong size.
    """
    p = Path(path)
    arr = _to_gray8(read_image(p))
    h, w = arr.shape
    if h != w:
        raise ValueError(f"{p}: pattern must be square, got {w} x {h} px")
    if size is not None and h != size:
        raise ValueError(f"{p}: expected {size} x {size} px, got {w} x {h} px")
    return arr


def read_shaped_image(path: str | os.PathLike) -> np.ndarray:
    """An authors'-format shaped image (RGB composition) as uint8 (H, W, 3), square.

    Raises ``ValueError("<path>: <reason>")`` like :func:`read_pattern_image`, and for an
    image that is not RGB (a grayscale raw pattern given as shaped).
    """
    p = Path(path)
    img = read_image(p, colour=True)
    if img.values.ndim != 3:
        raise ValueError(
            f"{p}: a shaped image must be the authors' RGB composition, got mode "
            f"{img.mode} (for raw patterns, leave out --shaped)"
        )
    arr = img.values
    if arr.shape[0] != arr.shape[1]:
        raise ValueError(f"{p}: image must be square, got {arr.shape[1]} x {arr.shape[0]} px")
    return arr


def _to_gray8(img: ImageArray) -> np.ndarray:
    """8-bit grayscale of :func:`read_image`'s pixels (rules of :func:`read_pattern_image`)."""
    if img.values.dtype == np.uint8:
        return img.values
    if img.mode in SIXTEEN_BIT:
        return np.rint(img.values / 257.0).astype(np.uint8)
    a = img.values
    top = float(a.max())
    if top > 255:
        a = a * (255.0 / top)
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)


def shape_image_files(
    paths: Iterable[str | os.PathLike],
    out_dir: str | os.PathLike,
    opts: ShapingOptions | None = None,
    size: int | None = None,
) -> list[tuple[str, str, str]]:
    """Shape each pattern image into the authors' RGB image, written as ``out_dir/<stem>.png``.

    ``size``: also resize like their loader (px). Returns one ``(path, status, reason)`` per
    input, status ``ok`` or ``skipped``; a bad image is reported and skipped, never fatal.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    outcomes: list[tuple[str, str, str]] = []
    used: set[str] = set()
    for path in paths:
        path = Path(path)
        try:
            pattern = read_pattern_image(path)
            axis = axis_from_name(path)
            e, s = shape(pattern, opts)
            if size is not None:
                e, s = resize_like_loader(e, size), resize_like_loader(s, size)
            rgb = compose_rgb(e, s, axis)
        except ValueError as e:
            logger.warning("skipped %s", e)
            outcomes.append((str(path), "skipped", str(e).removeprefix(f"{path}: ")))
            continue
        name = path.stem
        # Two inputs with the same stem (different folders) must not overwrite each other.
        while name in used:
            name = f"{path.parent.name or 'x'}-{name}"
        used.add(name)
        with atomic_path(out_dir / f"{name}.png") as tmp:
            Image.fromarray(rgb).save(tmp, format="PNG")
        outcomes.append((str(path), "ok", ""))
    return outcomes
