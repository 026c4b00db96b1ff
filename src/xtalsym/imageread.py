"""Opening an image file safely: the one reader of every image xtalsym accepts.

Simulated and shaped patterns (:mod:`xtalsym.shaping.imagefiles`) and recorded detector images
(:mod:`xtalsym.experimental`) all come through :func:`read_image`. Every refusal is
``ValueError("<file>: <reason>")`` (README, "What happens to bad input"):

* a missing file, a directory, an empty file, something Pillow cannot identify;
* over :data:`MAX_SIZE` px a side, read from the header before any pixel is decoded (a
  decompression bomb costs nothing), or under :data:`MIN_SIZE` px a side;
* more than one page or frame (a multi-page TIFF, an animation): which one is the pattern is
  the user's call, not ours;
* a truncated or corrupt file (Pillow's own bomb and truncation guards stay on);
* NaN or infinite pixel values (32-bit and float images).

Negative values of 32-bit and float images are kept: a dark-subtracted detector frame has
them.
"""

from __future__ import annotations

import os
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

#: Smallest accepted image side (px): the central-beam box must be a few pixels.
MIN_SIZE = 16
#: Largest accepted image side (px), read from the header before decoding: patterns are
#: 32-1024 px (patterns.size), so 8192 leaves room for detector images and stops bombs.
MAX_SIZE = 8192
#: Pillow modes of 16-bit grayscale images (full scale 65535).
SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N")
_COLOUR = ("RGB", "RGBA", "RGBX", "RGBa", "P", "PA", "CMYK", "YCbCr", "LAB", "HSV")


@dataclass(frozen=True)
class ImageArray:
    """Pixel values of one image file.

    ``values``: (H, W) uint8 for 8-bit and colour images (luminance, or (H, W, 3) RGB when
    read with ``colour=True``), float64 for 16-bit, 32-bit and float images. ``full_scale``:
    255, 65535, or None for 32-bit integer and float images (no fixed top). ``mode``: the
    file's Pillow mode (``L``, ``RGB``, ``I;16``, ``F``, ...).
    """

    values: np.ndarray
    full_scale: float | None
    mode: str


def read_image(path: str | os.PathLike, *, colour: bool = False) -> ImageArray:
    """The pixels of one image file (:class:`ImageArray`); ``colour``: colour images as RGB.

    Raises ``ValueError("<path>: <reason>")`` for each refusal of the module docstring.
    """
    p = Path(path)
    if p.is_dir():
        raise ValueError(f"{p}: is a directory, not an image")
    if not p.is_file():
        raise ValueError(f"{p}: no such file")
    if p.stat().st_size == 0:
        raise ValueError(f"{p}: empty file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(p) as im:
                _check_header(p, im)
                im.load()
                return _values(p, im, colour)
    except ValueError as e:
        if str(e).startswith(f"{p}: "):
            raise
        raise ValueError(f"{p}: corrupt image ({e})") from e
    except UnidentifiedImageError as e:
        raise ValueError(
            f"{p}: not a readable image (not an image, or a format Pillow lacks)"
        ) from e
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ValueError(
            f"{p}: image too large to decode safely ({e}); at most {MAX_SIZE} px a side: "
            "crop or bin it"
        ) from e
    except (OSError, SyntaxError, EOFError, struct.error, IndexError, KeyError, TypeError) as e:
        raise ValueError(f"{p}: corrupt or truncated image ({type(e).__name__}: {e})") from e
    except MemoryError as e:
        raise ValueError(f"{p}: out of memory decoding the image") from e
    except Exception as e:  # a decoder bug or an exotic file: still this file's error, by name
        raise ValueError(f"{p}: cannot decode the image ({type(e).__name__}: {e})") from e


def _check_header(p: Path, im: Image.Image) -> None:
    """Size and page count from the header, before any pixel is decoded."""
    w, h = im.size
    if max(w, h) > MAX_SIZE:
        raise ValueError(
            f"{p}: image too large ({w} x {h} px in its header; at most {MAX_SIZE} px a side): "
            "crop or bin it"
        )
    if min(w, h) < MIN_SIZE:
        raise ValueError(f"{p}: image too small ({w} x {h} px, need at least {MIN_SIZE} a side)")
    pages = int(getattr(im, "n_frames", 1))
    if pages > 1:
        raise ValueError(
            f"{p}: {pages} pages or frames (a multi-page TIFF or an animation); save the one "
            "pattern to classify as an image of its own"
        )


def _values(p: Path, im: Image.Image, colour: bool) -> ImageArray:
    mode = im.mode
    if mode in SIXTEEN_BIT:
        return ImageArray(np.asarray(im).astype(np.float64), 65535.0, mode)
    if mode in ("I", "F"):
        arr = np.asarray(im).astype(np.float64)
        bad = ~np.isfinite(arr)
        if bad.any():
            n_nan = int(np.isnan(arr).sum())
            raise ValueError(
                f"{p}: non-finite pixel values ({n_nan} NaN, {int(bad.sum()) - n_nan} inf); "
                "replace them (e.g. by the background) before saving"
            )
        full = None
        if mode == "I" and arr.min() >= 0 and arr.max() <= 65535:
            full = 65535.0  # a 16-bit PNG may read as 32-bit I
        return ImageArray(arr, full, mode)
    if colour and mode in _COLOUR:
        return ImageArray(np.asarray(im.convert("RGB"), dtype=np.uint8).copy(), 255.0, mode)
    gray = im if mode == "L" else im.convert("L")
    return ImageArray(np.asarray(gray, dtype=np.uint8).copy(), 255.0, mode)


__all__ = ["MAX_SIZE", "MIN_SIZE", "SIXTEEN_BIT", "ImageArray", "read_image"]
