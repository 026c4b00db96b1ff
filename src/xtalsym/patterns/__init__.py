"""The patterns stage: kinematic 2D spot diffraction patterns along x, y, z, with noise.

Public API: :func:`simulate_structure` (one structure -> (3, size, size) uint8),
:class:`PatternCalculator` (settings in, ``get_patterns(structure, seeds)`` out),
:func:`run_patterns` (the stage: structures.parquet -> patterns.h5),
:func:`gather_patterns` (shard files -> patterns.h5, config ``shards``), :func:`plot_examples`.
Lower level, for validation and reuse: :func:`prepare`, :func:`reflections`,
:func:`simulate_crystal`, :class:`Settings`, :func:`crystal_from_structure`.
"""

from .calculator import PatternCalculator, simulate_structure
from .crystal import Crystal, crystal_from_structure
from .physics import BEAM_FRAMES
from .simulate import (
    CrystalTables,
    Reflections,
    Settings,
    excited,
    prepare,
    reflections,
    simulate_crystal,
)
from .stage import gather_patterns, plot_examples, run_patterns, tune_allocator

__all__ = [
    "BEAM_FRAMES",
    "Crystal",
    "PatternCalculator",
    "CrystalTables",
    "Reflections",
    "Settings",
    "crystal_from_structure",
    "excited",
    "gather_patterns",
    "plot_examples",
    "prepare",
    "reflections",
    "run_patterns",
    "simulate_crystal",
    "simulate_structure",
    "tune_allocator",
]
