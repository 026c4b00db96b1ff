"""Figures, the one way every stage makes and writes them: matplotlib's Agg backend (files
only, never a display) and an atomic write that closes the figure."""

from __future__ import annotations

import os
from typing import Any

from .io import atomic_path


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend (imported on first use: stages that draw
    nothing never load matplotlib)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(
    fig: Any, path: str | os.PathLike, *, dpi: float | None = None, tight: bool = False
) -> None:
    """Write ``fig`` atomically (SVG for a .svg path, else PNG) and close it.

    ``dpi``: dots per inch, None for the figure's own; ``tight``: crop to the drawn area.
    """
    fmt = "svg" if str(path).lower().endswith(".svg") else "png"
    kw: dict[str, Any] = {"format": fmt}
    if dpi is not None:
        kw["dpi"] = dpi
    if tight:
        kw["bbox_inches"] = "tight"
    with atomic_path(path) as tmp:
        fig.savefig(tmp, **kw)
    pyplot().close(fig)
