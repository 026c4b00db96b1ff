"""The space-group operations of a crystal as maps on its sites, for noise that keeps the group.

A displacement field or a strain is made symmetric by averaging it over the group (the Reynolds
projection): every operation carries the field onto itself, so spglib finds the same space
group on the perturbed crystal and kinematically forbidden reflections stay at zero. Free
Wyckoff parameters move, fixed ones do not; orbits move as one.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import spglib

from .crystal import Crystal

#: spglib tolerance (Å) for the operations: stored cells are symmetrised, so a tight one is safe.
SYMPREC = 1e-3
#: Largest fractional mismatch accepted when matching an operated site to a site.
MATCH_TOL = 1e-3


@dataclass(frozen=True)
class SiteSymmetry:
    """rotations (G, 3, 3) int, acting on fractional column vectors; perm (G, n_sites): the
    site that operation k sends site i to; orbit (n_sites,): orbit index of each site;
    number: the space group (1 when unknown)."""

    rotations: np.ndarray
    perm: np.ndarray
    orbit: np.ndarray
    number: int = 1

    @property
    def order(self) -> int:
        return len(self.rotations)


def trivial(n_sites: int) -> SiteSymmetry:
    """The identity only (P1): noise then acts site by site."""
    return SiteSymmetry(np.eye(3, dtype=int)[None], np.arange(n_sites)[None], np.arange(n_sites))


def site_symmetry(crystal: Crystal) -> SiteSymmetry:
    """The operations of ``crystal`` (spglib at SYMPREC) as site permutations.

    A site's type is its majority species. Falls back to :func:`trivial` when spglib finds no
    symmetry or an operation does not map the sites onto themselves.
    """
    n = crystal.n_sites
    pos = np.zeros((n, 3))
    pos[crystal.site] = crystal.frac
    best = np.zeros(n)
    types = np.zeros(n, dtype=int)
    for k in np.argsort(crystal.occ, kind="stable"):  # a handful of scatterers per site at most
        s = crystal.site[k]
        if crystal.occ[k] >= best[s]:
            best[s], types[s] = crystal.occ[k], crystal.species[k]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ds = spglib.get_symmetry_dataset((crystal.lattice, pos, types + 1), symprec=SYMPREC)
        except Exception:  # spglib >= 2.5 raises where older versions returned None
            ds = None
    if ds is None:
        return trivial(n)
    rot = np.asarray(ds.rotations, dtype=int)
    images = np.einsum("kij,nj->kni", rot, pos) + np.asarray(ds.translations)[:, None, :]
    # Chebyshev distance (G, n, n) of each operated site to each site, modulo lattice vectors,
    # one coordinate at a time: a max over a trailing axis of 3 is numpy's slowest reduction.
    dist = np.zeros((len(rot), n, n))
    for c in range(3):  # coordinates
        diff = images[:, :, c, None] - pos[None, None, :, c]
        diff -= np.round(diff)
        np.maximum(dist, np.abs(diff, out=diff), out=dist)
    perm = dist.argmin(axis=-1)
    ok = np.take_along_axis(dist, perm[..., None], axis=-1)[..., 0] < MATCH_TOL
    same_type = types[perm] == types[None, :]
    if not (ok.all() and same_type.all()):
        return trivial(n)
    # Orbit of a site: the smallest site index it is sent to.
    return SiteSymmetry(rot, perm, perm.min(axis=0), int(ds.number))


def symmetrise_displacements(sym: SiteSymmetry, d_frac: np.ndarray) -> np.ndarray:
    """The symmetric part (n_sites, 3) of a fractional displacement field (n_sites, 3).

    d_sym[perm[k, i]] = mean over k of R_k d[i]: invariant under every operation.
    """
    moved = np.einsum("kij,nj->kni", sym.rotations, d_frac)  # (G, n, 3)
    out = np.zeros_like(d_frac)
    np.add.at(out, sym.perm.reshape(-1), moved.reshape(-1, 3))
    return out / sym.order


def symmetrise_strain(sym: SiteSymmetry, lattice: np.ndarray, eps: np.ndarray) -> np.ndarray:
    """The part (3, 3) of a Cartesian strain tensor that every point operation keeps.

    ``lattice`` rows a, b, c (Å); a fractional rotation R acts on Cartesian vectors as
    L^T R L^-T.
    """
    lt = lattice.T
    r_cart = lt @ sym.rotations @ np.linalg.inv(lt)  # (G, 3, 3)
    return np.einsum("kij,jl,kml->im", r_cart, eps, r_cart) / sym.order
