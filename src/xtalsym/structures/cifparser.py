"""pymatgen's CifParser with its symmetry expansion vectorised (same sites, same order).

``CifParser._unique_coords`` applies every symmetry operation to every asymmetric-unit site
and keeps an image unless it lies within ``site_tolerance`` (fractional, per axis, periodic)
of a site kept before; it tests each image against the kept list one at a time, which makes
it the bulk of parsing a CIF. :class:`FastCifParser` computes the same images (the same BLAS
matrix-vector product per site, so bit for bit the same numbers) and the same greedy keep
rule on arrays. Magnetic CIFs keep pymatgen's code.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pymatgen.electronic_structure.core import Magmom
from pymatgen.io.cif import CifParser


class FastCifParser(CifParser):
    """:class:`pymatgen.io.cif.CifParser` with :meth:`_unique_coords` on arrays."""

    def _unique_coords(
        self,
        coords: list[tuple[float, float, float]],
        magmoms: Any = None,
        lattice: Any = None,
        labels: dict[tuple[float, float, float], str] | None = None,
    ) -> tuple[list[np.ndarray], list[Magmom], list[str]]:
        if magmoms:
            return super()._unique_coords(coords, magmoms, lattice, labels)
        labels = labels or {}
        atol = self._site_tolerance
        # (4 n_ops, 4): one gemv per site gives each op's row products as SymmOp.operate does.
        affine = np.concatenate([op.affine_matrix for op in self.symmetry_operations])
        n_ops = len(self.symmetry_operations)
        kept = np.empty((0, 3))
        coords_out: list[np.ndarray] = []
        labels_out: list[str] = []
        for tmp_coord in coords:
            img = np.dot(affine, np.append(tmp_coord, 1.0)).reshape(n_ops, 4)[:, :3]
            img = img - np.floor(img)
            near_kept = _near(img, kept, atol).any(axis=1)
            near_img = _near(img, img, atol)
            new: list[int] = []
            for j in np.flatnonzero(~near_kept).tolist():
                if not near_img[j, new].any():
                    new.append(j)
            if new:
                kept = np.concatenate([kept, img[new]])
                coords_out.extend(img[j].copy() for j in new)
                labels_out.extend([labels.get(tmp_coord, "no_label")] * len(new))
        return coords_out, [Magmom(0)] * len(coords_out), labels_out


def _near(a: np.ndarray, b: np.ndarray, atol: float) -> np.ndarray:
    """(len(a), len(b)) True where fractional points coincide within ``atol`` per axis,
    modulo lattice translations (pymatgen's ``find_in_coord_list_pbc`` rule)."""
    d = b[None, :, :] - a[:, None, :]
    d -= np.round(d)
    return (np.abs(d) < atol).all(axis=-1)
