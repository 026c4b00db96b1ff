"""The shaping stage: XRD-Edge images from spot patterns (Tiong et al. 2020).

- :mod:`.core`: the authors' algorithm, vectorised (``shape``, ``shape_batch``).
- :mod:`.rgb`: their RGB composition (``compose_rgb``, ``shape_rgb``).
- :mod:`.resize`: their loader's nearest resize as index selection.
- :mod:`.stage`: patterns.h5 -> {shaped,unshaped}.h5 (``run_shaping``; shards: ``gather_shaping``).
- :mod:`.view`: unshaped.h5 as a view of shaped.h5's channel S (``unshaped_view``).
- :mod:`.figure`: raw vs shaped examples (``plot_examples``).
- :mod:`.imagefiles`: shaping plain image files (``shape_image_files``).
"""

from ..channels import AXIS_CHANNEL
from .core import (
    ShapingOptions,
    c_cast_uint8,
    central_box,
    join_pairs,
    normalise_batch,
    rasterise_lines,
    shape,
    shape_batch,
    unshaped_batch,
)
from .figure import plot_examples
from .imagefiles import axis_from_name, read_pattern_image, read_shaped_image, shape_image_files
from .resize import RESIZES, block_max, loader_indices, resize, resize_like_loader
from .rgb import compose_rgb, shape_rgb
from .stage import gather_shaping, run_shaping, shape_crystals
from .view import unshaped_view

__all__ = [
    "AXIS_CHANNEL",
    "ShapingOptions",
    "axis_from_name",
    "c_cast_uint8",
    "central_box",
    "compose_rgb",
    "join_pairs",
    "loader_indices",
    "normalise_batch",
    "plot_examples",
    "rasterise_lines",
    "read_pattern_image",
    "RESIZES",
    "block_max",
    "resize",
    "read_shaped_image",
    "resize_like_loader",
    "gather_shaping",
    "run_shaping",
    "shape",
    "shape_batch",
    "shape_crystals",
    "shape_image_files",
    "shape_rgb",
    "unshaped_batch",
    "unshaped_view",
]
