"""The multistream DenseNet (MSDN) and its single-stream, stacked-channel sibling.

Layout from the authors' checkpoint (docs/models.md): a DenseNet backbone shared by the three
streams (beam along x, y, z), one linear head per stream, the three logits summed; at the
paper's settings 1,542,424 trainable parameters, which leaves no room for BatchNorm's affine
scale and shift (their checkpoint has no normalisation variables at all).

Choices the checkpoint does not record (docs/models.md):
- normalisation ``norm``: ``batch`` (default) = BatchNorm without affine parameters after
  every convolution: running statistics only, no trainable parameters, so the count is
  unchanged; it makes the deep un-normalised stack train several times faster at small
  budgets. ``none`` = the authors' network exactly;
- post-activation, conv (with bias) -> [norm] -> ReLU, for every convolution;
- stem: 7 x 7 conv stride 2, then 3 x 3 max pooling stride 2 (the DenseNet-121 stem);
- transitions: 1 x 1 conv (no compression) -> [norm] -> ReLU -> 2 x 2 average pooling (ceil
  mode, so inputs as small as 16 pixels still reach the last block);
- global average pooling, dropout on the pooled features, then the heads;
- Kaiming-normal initialisation (fan-in, ReLU gain) and zero biases, which keeps activations
  at a stable scale through the depth when there is no normalisation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

NORMS: tuple[str, ...] = ("batch", "none")


def _norm(channels: int, norm: str) -> nn.Module:
    """Parameter-free BatchNorm (no affine scale or shift: running statistics only), or none."""
    if norm not in NORMS:
        raise ValueError(f"unknown norm {norm!r}; choose one of {', '.join(NORMS)}")
    return nn.BatchNorm2d(channels, affine=False) if norm == "batch" else nn.Identity()


class _DenseLayer(nn.Module):
    """1 x 1 conv (-> growth) -> [norm] -> ReLU -> 3 x 3 conv (-> growth) -> [norm] -> ReLU;
    both convolutions with biases."""

    def __init__(self, in_channels: int, growth: int, norm: str) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, growth, kernel_size=1)
        self.norm1 = _norm(growth, norm)
        self.conv2 = nn.Conv2d(growth, growth, kernel_size=3, padding=1)
        self.norm2 = _norm(growth, norm)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.norm1(self.conv1(x)))
        return F.relu(self.norm2(self.conv2(x)))


class _DenseBlock(nn.Module):
    """Each layer sees the concatenation of the block input and every earlier layer's output."""

    def __init__(self, n_layers: int, in_channels: int, growth: int, norm: str) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            _DenseLayer(in_channels + i * growth, growth, norm) for i in range(n_layers)
        )
        self.out_channels = in_channels + n_layers * growth

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for layer in self.layers:
            features.append(layer(torch.cat(features, 1)))
        return torch.cat(features, 1)


class _Transition(nn.Sequential):
    """1 x 1 conv without compression -> [norm] -> ReLU -> 2 x 2 average pooling."""

    def __init__(self, channels: int, norm: str) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, kernel_size=1)
        self.norm = _norm(channels, norm)
        self.relu = nn.ReLU(inplace=True)
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2, ceil_mode=True)


class DenseNetBackbone(nn.Module):
    """Stem, dense blocks and transitions, global average pooling -> (B, out_features)."""

    def __init__(
        self,
        in_channels: int = 3,
        stem: int = 32,
        growth: int = 32,
        blocks: Sequence[int] = (3, 6, 12, 8),
        norm: str = "batch",
    ) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, stem, kernel_size=7, stride=2, padding=3),
            _norm(stem, norm),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1, ceil_mode=True),
        )
        stages: list[nn.Module] = []
        channels = stem
        for i, n_layers in enumerate(blocks):
            block = _DenseBlock(int(n_layers), channels, growth, norm)
            stages.append(block)
            channels = block.out_channels
            if i < len(blocks) - 1:
                stages.append(_Transition(channels, norm))
        self.features = nn.Sequential(*stages)
        self.out_features = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(self.stem(x))
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)


def init_weights(module: nn.Module) -> None:
    """Kaiming-normal (fan-in, ReLU) convolutions and linears, zero biases, unit BatchNorm."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d) and m.affine:
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def check_input(x: torch.Tensor, ndim: int, channels: tuple[int, ...], size: int) -> None:
    """Raise a clear ValueError when ``x`` is not (B, *channels, size, size)."""
    want = (*channels, size, size)
    if x.ndim != ndim or tuple(x.shape[1:]) != want:
        raise ValueError(
            f"expected input of shape (B, {', '.join(map(str, want))}), got {tuple(x.shape)}"
        )


class _DenseNetClassifier(nn.Module):
    """The shared construction: a DenseNet backbone over 3-channel images, dropout and the
    heads a subclass adds in :meth:`_add_heads` (before the weights are initialised)."""

    def __init__(
        self,
        n_classes: int,
        *,
        growth: int = 32,
        blocks: Sequence[int] = (3, 6, 12, 8),
        stem: int = 32,
        dropout: float = 0.2,
        input_size: int = 224,
        norm: str = "batch",
    ) -> None:
        super().__init__()
        self.input_size = int(input_size)
        self.backbone = DenseNetBackbone(3, stem, growth, blocks, norm)
        self.dropout = nn.Dropout(dropout)
        self._add_heads(n_classes)
        init_weights(self)

    def _add_heads(self, n_classes: int) -> None:
        raise NotImplementedError


class MSDN(_DenseNetClassifier):
    """Multistream DenseNet: one shared backbone over the x, y, z streams, a head per stream.

    Input (B, 3 streams, 3 RGB channels, S, S) float in [0, 1]; output logits (B, n_classes),
    the sum of the three heads' logits. ``align_streams``: roll each stream's channels so its
    edge image comes first (not in the authors' network; docs/models.md).
    """

    n_streams = 3

    def __init__(self, n_classes: int, *, align_streams: bool = False, **kw: Any) -> None:
        super().__init__(n_classes, **kw)
        # Stream a's RGB image holds the edge image in channel a (the authors' colours), so
        # the shared backbone would see the edge image in a different channel per stream.
        # align_streams rolls stream a's channels by a: edge image first in every stream
        # (unshaped streams, S in all three channels, are unchanged).
        self.align_streams = bool(align_streams)

    def _add_heads(self, n_classes: int) -> None:
        self.heads = nn.ModuleList(
            nn.Linear(self.backbone.out_features, n_classes) for _ in range(self.n_streams)
        )

    def stream_features(self, x: torch.Tensor) -> torch.Tensor:
        """The shared backbone's features of each stream, (B, 3, F), streams aligned first
        when ``align_streams``."""
        check_input(x, 5, (self.n_streams, 3), self.input_size)
        if self.align_streams:
            a = torch.arange(self.n_streams, device=x.device)
            x = x[:, a[:, None], (a[:, None] + a) % 3]
        # All streams through the shared backbone in one batch of 3B images.
        return self.backbone(x.flatten(0, 1)).view(x.shape[0], self.n_streams, -1)

    def stream_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Each stream's head output, (B, 3, n_classes); :meth:`forward` is their sum."""
        feats = self.stream_features(x)
        feats = self.dropout(feats)
        return torch.stack([head(feats[:, i]) for i, head in enumerate(self.heads)], 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.stream_logits(x).sum(1)


class MSDNSet(MSDN):
    """The MSDN over a set of one to three patterns (any order, any zone axes): one shared
    backbone per pattern, the features pooled over the patterns present (mean and max, so the
    answer does not depend on their order), one head.

    Input as :class:`MSDN` (B, 3 slots, 3 RGB channels, S, S), streams always aligned (a slot
    has no axis of its own); an all-zero slot is an absent pattern (a recorded or simulated
    pattern always holds its direct beam). ``subsets``: in training, the probabilities of
    keeping 1, 2 or 3 of a crystal's patterns (chosen at random), so that the network learns
    to answer from fewer; None keeps all.
    """

    def __init__(
        self, n_classes: int, *, subsets: Sequence[float] | None = None, **kw: Any
    ) -> None:
        kw["align_streams"] = True
        super().__init__(n_classes, **kw)
        p = None if subsets is None else torch.tensor([float(v) for v in subsets])
        if p is not None and (p.shape != (3,) or (p < 0).any() or p.sum() <= 0):
            raise ValueError(f"subsets must be 3 non-negative probabilities, got {subsets}")
        self.subsets = None if p is None else p / p.sum()

    def _add_heads(self, n_classes: int) -> None:
        self.head = nn.Linear(2 * self.backbone.out_features, n_classes)

    def present(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3) bool: the slots that hold a pattern, in training a random subset of them."""
        mask = x.flatten(2).amax(2) > 0
        if not (self.training and self.subsets is not None):
            return mask
        b = x.shape[0]
        keep = torch.multinomial(self.subsets.to(x.device), b, replacement=True) + 1  # (B,)
        rank = torch.rand(b, 3, device=x.device).argsort(1).argsort(1)  # random slot order
        rank = torch.where(mask, rank, 3)  # absent slots last
        return mask & (rank < keep[:, None])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, 5, (self.n_streams, 3), self.input_size)
        mask = self.present(x)  # channel order does not matter for "all zero"
        if not bool(mask.any(1).all()):
            raise ValueError("every crystal needs at least one pattern (a non-zero image)")
        feats = self.stream_features(x)
        m = mask[:, :, None].to(feats.dtype)
        mean = (feats * m).sum(1) / m.sum(1)
        peak = feats.masked_fill(~mask[:, :, None], float("-inf")).amax(1)
        return self.head(self.dropout(torch.cat([mean, peak], 1)))


class DenseNetStacked(_DenseNetClassifier):
    """Single-stream DenseNet on the three patterns stacked as channels (B, 3, S, S)."""

    def _add_heads(self, n_classes: int) -> None:
        self.head = nn.Linear(self.backbone.out_features, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, 4, (3,), self.input_size)
        return self.head(self.dropout(self.backbone(x)))
