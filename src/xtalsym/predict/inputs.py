"""What a user gives ``predict``: structure files or three pattern images, to network input."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..channels import AXES, EDGE, PATTERN
from ..inference import ImageSpec, network_images

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp"})
_AXIS_SUFFIX = re.compile(r"_([xyz])$", re.IGNORECASE)


def is_image(path: Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def is_image_triple(paths: Sequence[str | Path]) -> bool:
    """Three image files: one input of three patterns (x, y, z)."""
    return len(paths) == 3 and all(is_image(Path(p)) for p in paths)


def check_axis_order(paths: Sequence[Path]) -> None:
    """ValueError when _x/_y/_z name suffixes say the images are not in x, y, z order."""
    axes = [m.group(1).lower() if (m := _AXIS_SUFFIX.search(p.stem)) else None for p in paths]
    if all(axes) and axes != list(AXES):
        raise ValueError(
            "pattern images must be given in x, y, z order; got "
            + ", ".join(f"{p} (axis {a})" for p, a in zip(paths, axes, strict=True))
        )


def split_rgb(rgb: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(E, S) of the authors' RGB images (H, W, 3) of axes x, y, z: E the channel of the
    image's axis, S the mean of the other two (equal in a lossless file; JPEG makes them
    differ slightly). Each (3, H, W) uint8."""
    e = np.stack([rgb[a][..., a] for a in range(3)])
    others = [[c for c in range(3) if c != a] for a in range(3)]
    s = np.stack([rgb[a][..., others[a]].mean(axis=-1) for a in range(3)])
    return e, np.rint(s).astype(np.uint8)


def image_inputs(paths: Sequence[Path], card: dict[str, Any], shaped: bool) -> np.ndarray:
    """Network images (1, 3, C, S, S) from three pattern images (x, y, z)."""
    from ..shaping import read_pattern_image, read_shaped_image, resize

    check_axis_order(paths)
    spec = ImageSpec.from_card(card)
    arrays = [(read_shaped_image if shaped else read_pattern_image)(p) for p in paths]
    for p, a in zip(paths, arrays, strict=True):
        if a.min() == a.max():  # no spot and no edge: nothing to classify by
            raise ValueError(f"{p}: blank image (every pixel {a.flat[0]})")
    sizes = {a.shape[0] for a in arrays}
    if len(sizes) != 1:
        raise ValueError("the three images differ in size: " + ", ".join(map(str, paths)))
    (h,) = sizes
    if h < spec.size:
        raise ValueError(
            f"{paths[0]}: images are {h} px but the model needs at least {spec.size} px"
        )
    trained = int(card["patterns"]["size"])
    if h != trained:
        logger.warning("images are %d px, the model was trained on %d px patterns", h, trained)
    if not shaped:
        return network_images(np.stack(arrays)[None], spec)
    e, s = split_rgb(arrays)
    chans = np.empty((3, spec.channels, h, h), np.uint8)
    chans[:, -1] = s  # the only channel (unshaped) or PATTERN (shaped)
    if spec.channels == 2:
        chans[:, EDGE], chans[:, PATTERN] = e, s
    return resize(chans, spec.size, spec.resize)[None].astype(np.uint8)


def save_inputs(patterns: np.ndarray, paths: Sequence[Path], folder: Path) -> list[Path]:
    """Write each pattern (n, H, W) uint8 as ``<folder>/<image stem>_input.png``."""
    from PIL import Image

    from ..io import atomic_path

    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for pat, p in zip(patterns, paths, strict=True):
        dest = folder / f"{Path(p).stem}_input.png"
        with atomic_path(dest) as tmp:
            Image.fromarray(pat).save(tmp, format="PNG")
        out.append(dest)
    return out


def pattern_set_inputs(patterns: np.ndarray, card: dict[str, Any]) -> np.ndarray:
    """Network images (R, 3, C, S, S) of raw patterns (R, n, H, W), n = 1..3: each pattern
    shaped on its own, absent slots all zero (what a set model reads as "no pattern")."""
    r, n, h, w = patterns.shape
    if n < 3 and card.get("arch") != "msdn_set":
        raise ValueError(
            f"model {card.get('name')!r} ({card.get('arch')}) needs three patterns in its beam "
            f"order; {n} given (a set model, arch msdn_set, takes one to three)"
        )
    flat = patterns.reshape(r * n, h, w)
    pad = (-len(flat)) % 3  # shaping takes crystals of three images; each is shaped alone
    flat = np.concatenate([flat, np.repeat(flat[:1], pad, axis=0)])
    shaped = network_images(flat.reshape(-1, 3, h, w), ImageSpec.from_card(card))
    shaped = shaped.reshape(-1, *shaped.shape[2:])[: r * n].reshape(r, n, *shaped.shape[2:])
    out = np.zeros((r, 3, *shaped.shape[2:]), dtype=np.uint8)
    out[:, :n] = shaped
    return out
