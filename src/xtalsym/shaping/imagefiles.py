"""Shaping of plain image files (``xtalsym shape IN.png ... --out DIR``).

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
from PIL import Image, UnidentifiedImageError

from ..io import atomic_path
from .core import ShapingOptions, compose_rgb, shape
from .resize import resize_like_loader

logger = logging.getLogger(__name__)

#: Smallest accepted image side (px): the central-beam box must be a few pixels.
MIN_SIZE = 16
_AXIS_SUFFIX = re.compile(r"_([xyz])$", re.IGNORECASE)


def axis_from_name(path: str | os.PathLike, default: str = "z") -> str:
    """Beam axis from a ``_x``, ``_y`` or ``_z`` suffix of the file stem (else ``default``)."""
    m = _AXIS_SUFFIX.search(Path(path).stem)
    return m.group(1).lower() if m else default


def read_pattern_image(path: str | os.PathLike, size: int | None = None) -> np.ndarray:
    """Read a pattern image (PNG, JPEG, TIFF, ...) as grayscale uint8 (H, W).

    Colour images are converted to luminance (Pillow's ITU-R 601 ``L``); 16-bit images are
    scaled to 8 bits (/257); float images are clipped to 0-255, or scaled so their maximum
    is 255 when it exceeds 255. Images must be square, at least 16 px, and ``size`` px if
    given. Raises ``ValueError("<path>: <reason>")`` for a missing, empty, unreadable or
    corrupt file and for a wrong size.
    """
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"{p}: no such file")
    if p.stat().st_size == 0:
        raise ValueError(f"{p}: empty file")
    try:
        with Image.open(p) as im:
            im.load()
            arr = _to_gray8(im)
    except UnidentifiedImageError as e:
        raise ValueError(f"{p}: not a readable image") from e
    except (OSError, SyntaxError, ValueError) as e:
        raise ValueError(f"{p}: corrupt or truncated image ({e})") from e
    h, w = arr.shape
    if h != w:
        raise ValueError(f"{p}: pattern must be square, got {w} x {h} px")
    if h < MIN_SIZE:
        raise ValueError(f"{p}: pattern too small ({w} x {h} px, need >= {MIN_SIZE})")
    if size is not None and h != size:
        raise ValueError(f"{p}: expected {size} x {size} px, got {w} x {h} px")
    return arr


def _to_gray8(im: Image.Image) -> np.ndarray:
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        a = np.asarray(im).astype(np.float64) / 257.0
        return np.rint(a).astype(np.uint8)
    if im.mode in ("I", "F"):
        a = np.asarray(im).astype(np.float64)
        if not np.isfinite(a).all():
            raise ValueError("non-finite pixel values")
        top = a.max() if a.size else 0.0
        if top > 255:
            a = a * (255.0 / top)
        return np.clip(np.rint(a), 0, 255).astype(np.uint8)
    if im.mode != "L":
        im = im.convert("L")
    return np.asarray(im, dtype=np.uint8).copy()


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
