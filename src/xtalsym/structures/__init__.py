"""The structures stage: crystals from the synthetic, cif_dir and materials_project sources,
labelled by spglib and stored in one standard setting (see :mod:`.standard` for the
orientation of x, y, z). Entry point: :func:`run_structures`."""

from .stage import gather_structures, run_structures, run_structures_shard
from .standard import (
    label,
    read_structure_file,
    spacegroup_symbol,
    standardise,
    structure_row,
)

__all__ = [
    "gather_structures",
    "label",
    "read_structure_file",
    "run_structures",
    "run_structures_shard",
    "spacegroup_symbol",
    "standardise",
    "structure_row",
]
