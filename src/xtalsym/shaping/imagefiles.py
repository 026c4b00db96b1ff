"""Shaping of plain image files (``xtalsym shaping IN.png ... --out DIR``).

Each input is a grayscale spot pattern; the output is the authors' RGB image (PNG, lossless):
the edge image in the channel of the beam axis, taken from an ``_x``/``_y``/``_z`` suffix of
the file name (default z, as a single pattern has no axis of its own).
"""

from __future__ import annotations

import logging
import os
import re
import struct
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..io import atomic_path
from .core import ShapingOptions, shape
from .resize import resize_like_loader
from .rgb import compose_rgb

logger = logging.getLogger(__name__)

#: Smallest accepted image side (px): the central-beam box must be a few pixels.
MIN_SIZE = 16
#: Largest accepted image side (px), read from the header before decoding: patterns are
#: 32-1024 px (patterns.size), so 8192 leaves room for detector images and stops bombs.
MAX_SIZE = 8192
_AXIS_SUFFIX = re.compile(r"_([xyz])$", re.IGNORECASE)


def axis_from_name(path: str | os.PathLike, default: str = "z") -> str:
    """Beam axis from a ``_x``, ``_y`` or ``_z`` suffix of the file stem (else ``default``)."""
    m = _AXIS_SUFFIX.search(Path(path).stem)
    return m.group(1).lower() if m else default


def _open_image(p: Path) -> Image.Image:
    """A fully decoded image; ValueError naming the file for anything unreadable.

    The side is checked from the header before any pixel is decoded (a decompression bomb
    costs nothing), and Pillow's warnings about bombs and truncation are errors.
    """
    if not p.is_file():
        raise ValueError(f"{p}: no such file")
    if p.stat().st_size == 0:
        raise ValueError(f"{p}: empty file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(p)
            w, h = im.size
            if max(w, h) > MAX_SIZE:
                im.close()
                raise ValueError(
                    f"{p}: image too large ({w} x {h} px, at most {MAX_SIZE} px a side)"
                )
            im.load()
            return im
    except ValueError:
        raise
    except UnidentifiedImageError as e:
        raise ValueError(f"{p}: not a readable image") from e
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ValueError(f"{p}: image too large to decode safely ({e})") from e
    except (OSError, SyntaxError, EOFError, struct.error, IndexError) as e:
        raise ValueError(f"{p}: corrupt or truncated image ({type(e).__name__}: {e})") from e
    except MemoryError as e:
        raise ValueError(f"{p}: out of memory decoding the image") from e
    except Exception as e:  # a decoder bug or an exotic file: this file's error, by name
        raise ValueError(f"{p}: cannot decode the image ({type(e).__name__}: {e})") from e


def read_pattern_image(path: str | os.PathLike, size: int | None = None) -> np.ndarray:
    """Read a pattern image (PNG, JPEG, TIFF, ...) as grayscale uint8 (H, W).

    Colour images are converted to luminance (Pillow's ITU-R 601 ``L``, alpha dropped); 16-bit
    images are scaled to 8 bits (/257); float images are clipped to 0-255, or scaled so their
    maximum is 255 when it exceeds 255. Images must be square, 16 to ``MAX_SIZE`` px, and
    ``size`` px if given. Raises ``ValueError("<path>: <reason>")`` for a missing, empty,
    unreadable, corrupt, truncated or oversized file and for a wrong size.
    """
    p = Path(path)
    im = _open_image(p)
    try:
        arr = _to_gray8(im)
    except Exception as e:  # an exotic mode or layout: this file's error, by name
        raise ValueError(f"{p}: cannot convert {im.mode} image to grayscale ({e})") from e
    finally:
        im.close()
    if arr.ndim != 2:
        raise ValueError(f"{p}: expected one grayscale channel, got shape {arr.shape}")
    h, w = arr.shape
    if h != w:
        raise ValueError(f"{p}: pattern must be square, got {w} x {h} px")
    if h < MIN_SIZE:
        raise ValueError(f"{p}: pattern too small ({w} x {h} px, need >= {MIN_SIZE})")
    if size is not None and h != size:
        raise ValueError(f"{p}: expected {size} x {size} px, got {w} x {h} px")
    return arr


def read_shaped_image(path: str | os.PathLike) -> np.ndarray:
    """An authors'-format shaped image (RGB composition) as uint8 (H, W, 3), square.

    Raises ``ValueError("<path>: <reason>")`` like :func:`read_pattern_image`, and for an
    image that is not RGB (a grayscale raw pattern given as shaped).
    """
    p = Path(path)
    im = _open_image(p)
    try:
        if im.mode not in ("RGB", "RGBA", "P"):
            raise ValueError(
                f"{p}: a shaped image must be the authors' RGB composition, got mode "
                f"{im.mode} (for raw patterns, leave out --shaped)"
            )
        arr = np.asarray(im.convert("RGB"))
    finally:
        im.close()
    if arr.shape[0] != arr.shape[1]:
        raise ValueError(f"{p}: image must be square, got {arr.shape[1]} x {arr.shape[0]} px")
    if arr.shape[0] < MIN_SIZE:
        raise ValueError(f"{p}: image too small ({arr.shape[1]} px, need >= {MIN_SIZE})")
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
