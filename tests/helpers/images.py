"""Image files for the image-reader tests: encoded bytes, a recorded-looking pattern, and the
header surgery hostile files are made of (PNG chunks, TIFF IFD entries)."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image


def encode(arr: np.ndarray, fmt: str = "PNG", **kw) -> bytes:
    """``arr`` saved by Pillow in ``fmt`` (PNG, TIFF, ...)."""
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format=fmt, **kw)
    return buf.getvalue()


def png_chunk(tag: bytes, body: bytes, crc: bool = True) -> bytes:
    """One PNG chunk; ``crc=False`` leaves a wrong checksum."""
    check = zlib.crc32(tag + body) if crc else zlib.crc32(tag + body) ^ 0xFFFF
    return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", check)


def png_claiming(width: int, height: int) -> bytes:
    """A few hundred bytes of valid 8-bit grayscale PNG whose header claims ``width`` x
    ``height`` px: a decompression bomb (two rows of data; the rest would follow)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * (width + 1) * 2, 9)
    return b"\x89PNG\r\n\x1a\n" + b"".join(
        png_chunk(tag, body) for tag, body in ((b"IHDR", ihdr), (b"IDAT", idat), (b"IEND", b""))
    )


def png_with_size(data: bytes, width: int, height: int, crc: bool = True) -> bytes:
    """A PNG whose IHDR says ``width`` x ``height`` (the pixel data unchanged)."""
    ihdr = struct.pack(">II", width, height) + data[24:29]
    return data[:8] + png_chunk(b"IHDR", ihdr, crc) + data[33:]


def tiff_with_size(data: bytes, width: int, height: int) -> bytes:
    """A little-endian TIFF whose first IFD says ``width`` x ``height`` (as LONG values)."""
    assert data[:4] == b"II*\0", "little-endian TIFF expected"
    out = bytearray(data)
    ifd = struct.unpack_from("<I", data, 4)[0]
    for k in range(struct.unpack_from("<H", data, ifd)[0]):
        at = ifd + 2 + 12 * k
        tag = struct.unpack_from("<H", data, at)[0]
        if tag in (256, 257):  # ImageWidth, ImageLength
            struct.pack_into("<HHII", out, at, tag, 4, 1, width if tag == 256 else height)
    return bytes(out)


def recorded_pattern(seed: int = 0, n: int = 96) -> np.ndarray:
    """uint16 (n, n): a detector-like spot pattern, the direct beam at the centre, a tilted
    lattice of Bragg spots and a noisy background."""
    rng = np.random.default_rng(seed)
    rr, cc = np.mgrid[:n, :n].astype(float)
    img = 20 + rng.normal(0, 2, (n, n))
    c, step = n / 2, 11 + seed
    img += 3000 * np.exp(-((rr - c) ** 2 + (cc - c) ** 2) / 8.0)
    i, j = np.mgrid[-4:5, -4:5].reshape(2, -1)
    for r, q in zip(c + i * step, c + j * step * 0.8, strict=True):
        if (r, q) != (c, c) and 3 < r < n - 3 and 3 < q < n - 3:
            img += 400 * np.exp(-((rr - r) ** 2 + (cc - q) ** 2) / 2.9)
    return np.clip(img, 0, 65535).astype(np.uint16)
