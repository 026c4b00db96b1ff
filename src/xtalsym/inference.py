"""Inference: a trained model bundle, its inputs and its predictions, in one place.

Predict, evaluate and robustness all go through this module, so a user's file, the test split
and the noise sweep see the preprocessing of training:

- :class:`ImageSpec`, :func:`network_images`: raw patterns to network images as the model card
  says, through the shaping stage's own :func:`xtalsym.shaping.shape_crystals`;
- :func:`predict_logits`, :func:`inference_logits`, :func:`predict_proba`: images to logits
  and calibrated probabilities;
- :class:`Bundle`: a loaded bundle (model, card, image spec, device);
- structure files: :func:`prepare_structure` (spglib label, standard cell) and
  :func:`structure_patterns` (clean, or :data:`DEFAULT_TTA` noisy variants).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .channels import input_channels
from .config import schema_default
from .io import derive_seed

logger = logging.getLogger(__name__)

#: Noisy simulations averaged per structure by default (library and CLI alike): a model trained
#: on noisy variants only reads a noise-free pattern out of its training distribution. Measured
#: on 250 synthetic test crystals with models/reference: top-1 24.8 % clean, 48.4 % with 4.
#: Pattern images are never simulated, so for them the default is 0.
DEFAULT_TTA = 4


def resolve_tta(tta: int | None, *, structure: bool) -> int:
    """Variants to simulate: ``tta``, or None for the default (:data:`DEFAULT_TTA` for a
    structure, 0 for images). ValueError for a negative count."""
    if tta is None:
        return DEFAULT_TTA if structure else 0
    if int(tta) < 0:
        raise ValueError(f"tta must be 0 (clean) or a number of variants, got {tta}")
    return int(tta)


def tta_seeds(n: int) -> list[int]:
    """The fixed simulation seeds of test-time augmentation: variant i gets the same seed for
    every input, so an answer never depends on a file's name."""
    return [derive_seed(0, "predict-tta", i) for i in range(int(n))]


def mode_of(tta: int) -> dict[str, Any]:
    """How a structure's patterns were made, as a record field."""
    if tta <= 0:
        return {"mode": "clean", "tta": 0, "description": "one noise-free simulation"}
    return {
        "mode": "tta",
        "tta": int(tta),
        "description": f"mean probability over {tta} noisy simulations (the model card's noise, "
        "fixed seeds independent of the input)",
    }


def check_symprec(symprec: float) -> float:
    """``symprec`` (Å) as a float; ValueError outside (0, 1] (spglib crashes the process on a
    negative tolerance)."""
    symprec = float(symprec)
    if not (0 < symprec <= 1):
        raise ValueError(f"symprec must be in (0, 1] Å, got {symprec:g}")
    return symprec


def card_symprec(card: dict[str, Any]) -> float:
    """spglib tolerance (Å) for a structure classified by this model: the card's
    ``structures.symprec`` (also looked up in the images' recorded config), else the schema
    default of ``structures.symprec``."""
    for where in (card, (card.get("data_source") or {}).get("config") or {}):
        value = ((where or {}).get("structures") or {}).get("symprec")
        if isinstance(value, int | float) and value > 0:
            return float(value)
    return float(schema_default("structures", "symprec"))


def default_device() -> str:
    """cuda when available, else cpu (inference is cheap on either)."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


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
        return input_channels(self.mode)


def network_images(patterns: np.ndarray, spec: ImageSpec) -> np.ndarray:
    """uint8 (N, 3, C, S, S) from raw patterns (N, 3, H, W) uint8, axes x, y, z, shaped and
    resized by the shaping stage's :func:`~xtalsym.shaping.shape_crystals` (shaped: channel 0
    the edge image E, channel 1 the normalised pattern S; unshaped: S; S = ``spec.size``)."""
    from .shaping import ShapingOptions, shape_crystals

    patterns = np.asarray(patterns)
    if patterns.ndim != 4 or patterns.shape[1] != 3:
        raise ValueError(f"expected patterns (N, 3, H, W), got {patterns.shape}")
    opts = ShapingOptions.from_config(json.loads(spec.quirks))
    return shape_crystals(patterns, spec.mode, opts, spec.size, spec.resize)


def check_images(card: dict[str, Any], shape: Sequence[int]) -> None:
    """ValueError unless ``shape`` is (B, 3, C, S, S) as the card's model expects."""
    want_c, s = input_channels(card["input_mode"]), card["input_size"]
    if len(shape) != 5 or tuple(shape[1:]) != (3, want_c, s, s):
        raise ValueError(
            f"model {card.get('name')!r} expects {card['input_mode']} images "
            f"(B, 3, {want_c}, {s}, {s}), got {tuple(shape)}"
        )


def predict_logits(
    model: Any, card: dict[str, Any], images_uint8: Any, device: str = "cpu", batch_size: int = 64
) -> np.ndarray:
    """Raw logits (B, n_classes) float32, columns in ``card["classes"]`` order.

    ``images_uint8``: (B, 3 axes, C, S, S) as in the shaping artifact, with C = 2 for a model
    trained on shaped images and C = 1 for unshaped, and S = ``card["input_size"]``.
    """
    import torch

    from .models import compose_inputs

    images = torch.as_tensor(images_uint8)
    check_images(card, images.shape)
    model.eval()
    dev = torch.device(device)
    model.to(dev)
    out = []
    with torch.no_grad():
        for start in range(0, images.shape[0], batch_size):
            x = compose_inputs(images[start : start + batch_size].to(dev), card["arch"])
            out.append(model(x).float().cpu())
    if not out:
        return np.zeros((0, len(card["classes"])), dtype=np.float32)
    return torch.cat(out).numpy()


def inference_logits(
    logits: np.ndarray, card: dict[str, Any], *, calibrated: bool = True
) -> np.ndarray:
    """Logits as the card says to read them: plus the card's ``logit_adjustment`` (the log
    class prior of the training split, imbalance ``logit_adjust``), then divided by the
    calibration temperature (``card["calibration"]["temperature"]``) when ``calibrated``."""
    z = np.asarray(logits, dtype=np.float64)
    adjust = card.get("logit_adjustment")
    if adjust is not None:
        z = z + np.asarray(adjust, dtype=np.float64)
    if calibrated:
        z = z / float((card.get("calibration") or {}).get("temperature") or 1.0)
    return z


def predict_proba(
    model: Any,
    card: dict[str, Any],
    images_uint8: Any,
    device: str = "cpu",
    batch_size: int = 64,
    *,
    calibrated: bool = True,
) -> np.ndarray:
    """Softmax probabilities (B, n_classes) float32, columns in ``card["classes"]`` order.

    Images as for :func:`predict_logits`; the logits are read by :func:`inference_logits`
    (logit adjustment and, when ``calibrated``, the card's temperature; a card without them
    gives the plain softmax).
    """
    z = inference_logits(
        predict_logits(model, card, images_uint8, device, batch_size), card, calibrated=calibrated
    )
    if len(z) == 0:
        return z.astype(np.float32)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)


@dataclass
class Bundle:
    """A loaded model bundle: the network (eval mode, on ``device``), its card and image spec."""

    path: Path
    model: Any
    card: dict[str, Any]
    device: str

    @classmethod
    def load(cls, model_dir: str | os.PathLike, device: str | None = None) -> Bundle:
        """The bundle in ``model_dir``; ValueError naming it when it is not one."""
        from .train.bundle import load_bundle

        d = Path(model_dir)
        if not (d / "model_card.json").is_file() or not (d / "model.pt").is_file():
            raise ValueError(f"{d}: not a model bundle (model.pt and model_card.json expected)")
        device = device or default_device()
        model, card = load_bundle(d, device=device)
        return cls(d, model, card, device)

    @property
    def classes(self) -> list[int]:
        return [int(c) for c in self.card["classes"]]

    @property
    def spec(self) -> ImageSpec:
        return ImageSpec.from_card(self.card)

    def symprec(self, symprec: float | None = None) -> float:
        """spglib tolerance (Å) for structures: ``symprec``, or None for the card's."""
        return check_symprec(card_symprec(self.card) if symprec is None else symprec)

    def images(self, patterns: np.ndarray) -> np.ndarray:
        """Network images (N, 3, C, S, S) of raw patterns (N, 3, H, W)."""
        return network_images(patterns, self.spec)

    def logits(self, images: np.ndarray) -> np.ndarray:
        return predict_logits(self.model, self.card, images, device=self.device)

    def proba(self, images: np.ndarray, *, calibrated: bool = True) -> np.ndarray:
        """Probabilities (N, K) of network images, as :func:`predict_proba`."""
        return predict_proba(
            self.model, self.card, images, device=self.device, calibrated=calibrated
        )

    def structure_images(self, structure: Any, tta: int = 0) -> np.ndarray:
        """Network images (V, 3, C, S, S) of one standardised structure."""
        return self.images(structure_patterns(structure, self.card, tta))


def prepare_structure(path: Path, symprec: float) -> tuple[Any, int, str]:
    """(standardised Structure, spglib number, symbol) of a structure file at ``symprec`` Å.

    Partial occupancies are ordered (majority species per site). Raises ValueError naming
    the file.
    """
    from .structures import label, read_structure_file, standardise
    from .structures.standard import order_majority

    symprec = check_symprec(symprec)
    s = read_structure_file(path)
    try:
        if not s.is_ordered:
            logger.info("%s: partial occupancies; keeping the majority species per site", path)
            s = order_majority(s)
        number, symbol = label(s, symprec)
        return standardise(s, symprec), number, symbol
    except Exception as e:  # spglib, pymatgen: any failure is this file's problem
        raise ValueError(f"{path}: symmetry analysis failed ({type(e).__name__}: {e})") from e


def structure_patterns(structure: Any, card: dict[str, Any], tta: int = 0) -> np.ndarray:
    """Raw uint8 patterns (V, 3, H, W) of one standardised structure with the card's
    simulation settings: V = 1 clean pattern (``tta`` 0), or ``tta`` noisy variants drawn
    from :func:`tta_seeds`."""
    from .patterns import PatternCalculator

    seeds: list[int | None] = tta_seeds(tta) if tta > 0 else [None]
    return PatternCalculator(card["patterns"]).get_patterns(structure, seeds)


__all__ = [
    "DEFAULT_TTA",
    "Bundle",
    "ImageSpec",
    "card_symprec",
    "check_images",
    "check_symprec",
    "default_device",
    "inference_logits",
    "mode_of",
    "network_images",
    "predict_logits",
    "predict_proba",
    "prepare_structure",
    "resolve_tta",
    "schema_default",
    "structure_patterns",
    "tta_seeds",
]
