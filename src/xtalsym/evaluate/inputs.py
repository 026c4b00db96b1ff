"""Older home of the network-input helpers, now in :mod:`xtalsym.inference` (re-exported)."""

from __future__ import annotations

from ..inference import ImageSpec, default_device, network_images


def sg_symbol(number: int) -> str:
    """Short Hermann-Mauguin symbol of space group ``number`` (standard setting), e.g. P2_1/c."""
    from ..structures import spacegroup_symbol

    return spacegroup_symbol(number)


__all__ = ["ImageSpec", "default_device", "network_images", "sg_symbol"]
