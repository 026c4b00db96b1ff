"""The image channel rules, defined once (docs/artifacts.md, shaping row).

Every image the pipeline makes is (..., 3 axes, C, S, S): axis 0, 1, 2 is the beam along
x, y, z. A shaped image has C = 2 (channel :data:`EDGE` the edge image E, channel
:data:`PATTERN` the normalised pattern S), an unshaped one C = 1 (S only). The authors' RGB
image of axis a holds E in channel a (x: R, y: G, z: B) and S in the other two.
"""

from __future__ import annotations

#: Beam axes, in the order of every (..., 3, ...) axis dimension.
AXES: tuple[str, str, str] = ("x", "y", "z")
#: RGB channel holding the edge image of each axis.
AXIS_CHANNEL: dict[str, int] = {a: i for i, a in enumerate(AXES)}
#: Channel indices in a shaped image.
EDGE, PATTERN = 0, 1
#: Channels per axis of each input mode.
MODE_CHANNELS: dict[str, int] = {"shaped": 2, "unshaped": 1}


def input_channels(mode: str) -> int:
    """Channels per axis of ``mode`` images: 2 (E, S) shaped, 1 (S) unshaped."""
    try:
        return MODE_CHANNELS[mode]
    except KeyError:
        raise ValueError(f"input mode must be shaped or unshaped, got {mode!r}") from None


def rgb_sources(axis: int, channels: int) -> tuple[int, int, int]:
    """The image channel behind each RGB channel of axis ``axis`` (0, 1, 2): E in channel
    ``axis`` and S in the others for shaped images (``channels`` 2), S in all three for
    unshaped ones (``channels`` 1)."""
    if channels == 1:
        return (0, 0, 0)
    return tuple(EDGE if c == axis else PATTERN for c in range(3))  # type: ignore[return-value]
