"""Model builders: the MSDN and the baselines it is compared with (docs/models.md).

``msdn`` and ``msdn_set`` take (B, 3 streams, 3 channels, S, S); the stacked-channel architectures
(``densenet_stacked``, ``vgg``, ``resnet``) take (B, 3, S, S), one channel per beam axis.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from .baselines import VGG, ResNet
from .inputs import compose_inputs
from .msdn import MSDN, NORMS, DenseNetStacked, MSDNSet

#: Architecture names accepted by :func:`build_model` (config ``train.models.*.arch``).
ARCHS: tuple[str, ...] = ("msdn", "msdn_set", "densenet_stacked", "vgg", "resnet")
#: Architectures whose input is the three patterns stacked as channels, (B, 3, S, S).
STACKED_ARCHS: frozenset[str] = frozenset({"densenet_stacked", "vgg", "resnet"})


def build_model(
    arch: str,
    n_classes: int,
    *,
    growth: int = 32,
    blocks: Sequence[int] = (3, 6, 12, 8),
    stem: int = 32,
    dropout: float = 0.2,
    input_size: int = 224,
    norm: str = "batch",
    align_streams: bool = False,
    subsets: Sequence[float] | None = None,
) -> nn.Module:
    """A freshly initialised model (uses torch's global RNG: seed it first).

    ``growth``, ``blocks`` and ``stem`` set the DenseNet width and depth (msdn,
    densenet_stacked); the VGG and ResNet baselines take their base width as 2 x ``stem``.
    ``input_size`` is the square input side in pixels that ``forward`` accepts. ``norm``
    (msdn, densenet_stacked): ``batch`` = parameter-free BatchNorm after each convolution,
    ``none`` = no normalisation, the authors' network exactly; either way the MSDN counts
    1,542,424 trainable parameters at the paper's settings (docs/models.md).
    ``align_streams`` (msdn): the edge image in the first channel of every stream.
    ``subsets`` (msdn_set): training probabilities of keeping 1, 2 or 3 patterns.
    """
    if arch not in ARCHS:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHS)}")
    if n_classes < 1:
        raise ValueError(f"n_classes must be >= 1, got {n_classes}")
    if arch in ("msdn", "msdn_set", "densenet_stacked"):
        dense = {
            "growth": int(growth),
            "blocks": tuple(int(b) for b in blocks),
            "stem": int(stem),
            "dropout": float(dropout),
            "input_size": int(input_size),
            "norm": norm,
        }
        if arch == "densenet_stacked":
            return DenseNetStacked(n_classes, **dense)
        if arch == "msdn_set":
            return MSDNSet(n_classes, subsets=subsets, **dense)
        return MSDN(n_classes, align_streams=bool(align_streams), **dense)
    cls = VGG if arch == "vgg" else ResNet
    return cls(n_classes, width=2 * int(stem), dropout=float(dropout), input_size=int(input_size))


def count_parameters(model: nn.Module) -> int:
    """Number of trainable scalars (parameters with ``requires_grad``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


__all__ = [
    "ARCHS",
    "MSDN",
    "MSDNSet",
    "NORMS",
    "STACKED_ARCHS",
    "VGG",
    "DenseNetStacked",
    "ResNet",
    "build_model",
    "compose_inputs",
    "count_parameters",
]
