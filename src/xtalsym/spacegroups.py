"""Space-group class sets and crystal systems.

The class index of a model is the position of the space-group number in the ascending list
of the configured class set (the authors' network used string order; see
``AUTHORS_ORDER`` for reading their outputs).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

#: The paper's 72 space groups, ascending.
PAPER_72: tuple[int, ...] = (
    1, 2, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 19, 25, 29, 31, 33, 36, 38, 44, 47, 55, 57,
    58, 59, 60, 61, 62, 63, 64, 65, 70, 71, 74, 82, 87, 88, 107, 115, 122, 123, 127, 129, 136,
    139, 140, 141, 146, 148, 156, 160, 164, 166, 173, 176, 186, 187, 189, 191, 193, 194, 198,
    205, 216, 221, 223, 225, 227, 229, 230,
)  # fmt: skip

#: The authors' output order (numbers sorted as strings), from their SG.mat.
AUTHORS_ORDER: tuple[int, ...] = tuple(sorted(PAPER_72, key=str))

CRYSTAL_SYSTEMS: tuple[str, ...] = (
    "triclinic",
    "monoclinic",
    "orthorhombic",
    "tetragonal",
    "trigonal",
    "hexagonal",
    "cubic",
)

# Last space-group number of each crystal system (International Tables order).
_SYSTEM_BOUNDS = (2, 15, 74, 142, 167, 194, 230)


def crystal_system(sg: int) -> str:
    """Crystal system of space group number ``sg`` (1..230)."""
    sg = int(sg)
    if not 1 <= sg <= 230:
        raise ValueError(f"space-group number must be in 1..230, got {sg}")
    for name, last in zip(CRYSTAL_SYSTEMS, _SYSTEM_BOUNDS, strict=True):
        if sg <= last:
            return name
    raise AssertionError("unreachable")


def crystal_system_index(sg: int) -> int:
    """Index of ``crystal_system(sg)`` in :data:`CRYSTAL_SYSTEMS`."""
    return CRYSTAL_SYSTEMS.index(crystal_system(sg))


def resolve_classes(spec: str | Sequence[int]) -> list[int]:
    """The ascending class list for a config ``classes`` value.

    ``"paper72"`` gives :data:`PAPER_72`, ``"all230"`` every space group, a list of numbers
    that list (sorted, de-duplicated; each must be in 1..230).
    """
    if isinstance(spec, str):
        if spec == "paper72":
            return list(PAPER_72)
        if spec == "all230":
            return list(range(1, 231))
        raise ValueError(f"classes: unknown class set {spec!r} (use paper72, all230 or a list)")
    out = sorted({int(s) for s in spec})
    bad = [s for s in out if not 1 <= s <= 230]
    if bad or not out:
        raise ValueError(f"classes: space-group numbers must be in 1..230, got {bad or 'none'}")
    return out


def class_index(classes: Iterable[int]) -> dict[int, int]:
    """Map space-group number -> class index for an ascending class list."""
    return {sg: i for i, sg in enumerate(classes)}
