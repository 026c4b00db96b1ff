"""The network input contract: uint8 images (B, 3 axes, C, S, S) to the float input of an
architecture, on the images' device (the authors' loader: values / 255, no normalisation)."""

from __future__ import annotations

import numpy as np
import torch

from ..channels import rgb_sources

#: Per stream a (0=x, 1=y, 2=z), the source channel of each RGB channel (xtalsym.channels).
_RGB = {c: torch.tensor([rgb_sources(a, c) for a in range(3)]) for c in (1, 2)}


def compose_inputs(
    images_uint8: np.ndarray | torch.Tensor, arch: str, *, channels_last: bool = False
) -> torch.Tensor:
    """Float network input from uint8 images (B, 3 axes, C, S, S), on the images' device.

    msdn: (B, 3, 3, S, S), stream a = the authors' RGB image of axis a (channel a = E, the
    other two = S; unshaped C = 1: S, S, S). Stacked archs: (B, 3, S, S), channel 0 of each
    axis. Values / 255, no mean or std normalisation (the authors' loader). With
    ``channels_last`` the memory is laid out so that each (3, S, S) image is channels-last.
    """
    from . import ARCHS, STACKED_ARCHS

    if arch not in ARCHS:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHS)}")
    x = torch.as_tensor(images_uint8)
    if x.ndim != 5 or x.shape[1] != 3 or x.shape[2] not in _RGB or x.shape[3] != x.shape[4]:
        raise ValueError(f"expected uint8 images (B, 3, C in 1|2, S, S), got {tuple(x.shape)}")
    if arch in STACKED_ARCHS:
        out = x[:, :, 0].float().div_(255.0)
        return out.contiguous(memory_format=torch.channels_last) if channels_last else out
    table = _RGB[x.shape[2]].to(x.device)
    streams = torch.arange(3, device=x.device)[:, None]
    rgb = x[:, streams, table]  # (B, 3, 3, S, S) uint8
    if not channels_last:
        return rgb.float().div_(255.0)
    # Lay memory out as (B, 3, S, S, 3) viewed as (B, 3, 3, S, S): flatten(0, 1) then gives
    # channels-last (3B, 3, S, S) images without another copy.
    b, _, _, s, _ = rgb.shape
    out = torch.empty((b, 3, s, s, 3), dtype=torch.float32, device=x.device)
    out.copy_(rgb.permute(0, 1, 3, 4, 2)).div_(255.0)
    return out.permute(0, 1, 4, 2, 3)
