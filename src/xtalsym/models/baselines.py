"""Conventional CNN baselines on the three patterns stacked as channels (B, 3, S, S).

Both take their base width from the MSDN's ``stem`` (width = 2 x stem), so at the paper's
stem of 32 they have their textbook widths (VGG-11: 64-128-256-512-512; ResNet-18:
64-128-256-512) and at the quick default they shrink with the MSDN. Both use BatchNorm, as
conventional CNNs of the paper's time did (VGG-BN, ResNet); global average pooling makes them
accept any input size.
"""

from __future__ import annotations

import torch
from torch import nn

from .msdn import check_input, init_weights

# VGG-11 layout: convolutions per stage and the stage width as a multiple of the base width.
VGG11_STAGES: tuple[tuple[int, int], ...] = ((1, 1), (1, 2), (2, 4), (2, 8), (2, 8))
# ResNet-18 layout: basic blocks per stage and stage width multiples.
RESNET18_STAGES: tuple[tuple[int, int], ...] = ((2, 1), (2, 2), (2, 4), (2, 8))


def _conv_bn_relu(cin: int, cout: int) -> list[nn.Module]:
    return [
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    ]


class VGG(nn.Module):
    """VGG-11-style CNN with BatchNorm: 3 x 3 conv stages, max pooling, a two-layer classifier."""

    def __init__(
        self,
        n_classes: int,
        *,
        width: int = 64,
        dropout: float = 0.2,
        input_size: int = 224,
        stages: tuple[tuple[int, int], ...] = VGG11_STAGES,
    ) -> None:
        super().__init__()
        self.input_size = int(input_size)
        layers: list[nn.Module] = []
        cin = 3
        for n_convs, mult in stages:
            for _ in range(n_convs):
                layers += _conv_bn_relu(cin, width * mult)
                cin = width * mult
            layers.append(nn.MaxPool2d(2, 2, ceil_mode=True))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Linear(cin, cin),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(cin, n_classes),
        )
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, 4, (3,), self.input_size)
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


class _BasicBlock(nn.Module):
    """Two 3 x 3 conv-BN layers with an identity (or 1 x 1 projection) shortcut."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    """ResNet-18 layout: 7 x 7 stem, max pooling, four stages of two basic blocks, GAP, FC."""

    def __init__(
        self,
        n_classes: int,
        *,
        width: int = 64,
        dropout: float = 0.2,
        input_size: int = 224,
        stages: tuple[tuple[int, int], ...] = RESNET18_STAGES,
    ) -> None:
        super().__init__()
        self.input_size = int(input_size)
        self.stem = nn.Sequential(
            nn.Conv2d(3, width, 7, stride=2, padding=3, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=2, padding=1),
        )
        blocks: list[nn.Module] = []
        cin = width
        for i, (n_blocks, mult) in enumerate(stages):
            for j in range(n_blocks):
                stride = 2 if (i > 0 and j == 0) else 1
                blocks.append(_BasicBlock(cin, width * mult, stride))
                cin = width * mult
        self.layers = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(cin, n_classes)
        init_weights(self)
        # Zero the last BN of each residual branch: every block starts as the identity, which
        # speeds up early training (Goyal et al. 2017).
        for m in self.modules():
            if isinstance(m, _BasicBlock):
                nn.init.zeros_(m.bn2.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, 4, (3,), self.input_size)
        x = self.pool(self.layers(self.stem(x)))
        return self.fc(self.dropout(torch.flatten(x, 1)))
