"""Network inputs exactly as a model's card says, shared by evaluation, robustness and predict.

A model card records the simulation settings (``patterns``), the shaping quirks, the input
mode (shaped: E and S per axis; unshaped: S) and the input size; every path that turns a
structure or a pattern into network input goes through :func:`network_images`, so the test
split, the robustness sweep and a user's own files see the same preprocessing as training.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class ImageSpec:
    """How patterns become network images: shaping quirks (JSON), mode, size (pixels) and
    resize method (``shaping.resize``; cards from before it existed used the loader's)."""

    quirks: str
    mode: str
    size: int
    resize: str = "loader"

    @classmethod
    def from_card(cls, card: dict[str, Any]) -> ImageSpec:
        shaping = card.get("shaping") or {}
        quirks = json.dumps(shaping.get("quirks") or {}, sort_keys=True)
        resize = shaping.get("resize", "loader")
        return cls(quirks, card["input_mode"], int(card["input_size"]), resize)

    @property
    def channels(self) -> int:
        return 2 if self.mode == "shaped" else 1


def network_images(patterns: np.ndarray, spec: ImageSpec) -> np.ndarray:
    """uint8 (N, 3, C, S, S) from raw patterns (N, 3, H, W) uint8, axes x, y, z.

    shaped: channel 0 the edge image E, channel 1 the normalised pattern S; unshaped: S.
    Resized to S = ``spec.size`` by ``spec.resize``.
    """
    from ..shaping import ShapingOptions, resize, shape_batch, unshaped_batch

    patterns = np.asarray(patterns)
    if patterns.ndim != 4 or patterns.shape[1] != 3:
        raise ValueError(f"expected patterns (N, 3, H, W), got {patterns.shape}")
    n, _, h, w = patterns.shape
    flat = patterns.reshape(n * 3, h, w)
    opts = ShapingOptions.from_config(json.loads(spec.quirks))
    if spec.mode == "shaped":
        e, s = shape_batch(flat, opts)
        chans = np.stack([e, s], axis=1)  # (3N, 2, H, W)
    else:
        chans = unshaped_batch(flat, opts)[:, None]
    out = resize(chans, spec.size, spec.resize)
    return np.ascontiguousarray(out, dtype=np.uint8).reshape(n, 3, spec.channels, *out.shape[-2:])


def simulate_structures(
    structures: Sequence[Any], patterns_params: dict[str, Any], seeds: Sequence[int | None]
) -> np.ndarray:
    """Raw uint8 patterns (N, 3, H, W) of standardised structures, one seed each."""
    from ..patterns import simulate_patterns

    size = int(patterns_params["size"])
    out = np.empty((len(structures), 3, size, size), dtype=np.uint8)
    for i, (s, seed) in enumerate(zip(structures, seeds, strict=True)):  # per crystal
        out[i] = simulate_patterns(s, patterns_params, seed)
    return out


def sg_symbol(number: int) -> str:
    """Short Hermann-Mauguin symbol of space group ``number`` (standard setting), e.g. P2_1/c."""
    from ..structures import spacegroup_symbol

    return spacegroup_symbol(number)


def default_device() -> str:
    """cuda when available, else cpu (evaluation is cheap on either)."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
