"""One record per input: the loaded model and the settings of a ``predict`` call."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..experimental import experimental_patterns, read_mask, recorded_patterns
from ..inference import Bundle, mode_of, prepare_structure, resolve_tta
from ..spacegroups import crystal_system
from .inputs import image_inputs, is_image, pattern_set_inputs, save_inputs

#: In-plane rotations (every other one mirrored) a recorded pattern set is classified at; the
#: probabilities are averaged, so the answer does not depend on the patterns' angles.
ROTATIONS = 8


def ranked(proba: np.ndarray, classes: Sequence[int], top_k: int) -> list[dict[str, Any]]:
    """The ``top_k`` most probable space groups of one probability vector, best first."""
    from ..structures import spacegroup_symbol

    if int(top_k) < 1:
        raise ValueError(f"top_k must be at least 1, got {top_k}")
    order = np.argsort(-np.asarray(proba), kind="stable")[: int(top_k)]
    return [
        {
            "rank": r + 1,
            "spacegroup": int(classes[i]),
            "symbol": spacegroup_symbol(int(classes[i])),
            "crystal_system": crystal_system(classes[i]),
            "probability": round(float(proba[i]), 6),
        }
        for r, i in enumerate(order)
    ]


def true_rank(proba: np.ndarray, classes: Sequence[int], number: int) -> tuple[int, float] | None:
    """(rank, probability) of space group ``number`` among all classes (same order as
    :func:`ranked`), or None when it is not one of them."""
    classes = [int(c) for c in classes]
    if number not in classes:
        return None
    order = np.argsort(-np.asarray(proba), kind="stable")
    i = classes.index(number)
    return int(np.flatnonzero(order == i)[0]) + 1, round(float(proba[i]), 6)


def model_summary(card: dict[str, Any], model_dir: str | os.PathLike) -> dict[str, Any]:
    """What a record says about the model that made it."""
    return {
        "name": card.get("name", Path(model_dir).name),
        "path": str(model_dir),
        "arch": card.get("arch"),
        "input_mode": card.get("input_mode"),
        "n_classes": len(card["classes"]),
        "config_hash": card.get("config_hash"),
        "xtalsym_version": card.get("xtalsym_version"),
    }


class Classifier:
    """A loaded model bundle and the settings of one ``predict`` call; :meth:`record` makes
    the record of one input.

    ``shaped``: pattern images are the authors' RGB shaped images; ``top_k``: classes listed
    (capped at the model's); ``symprec`` (Å): None means the card's ``structures.symprec``;
    ``tta``: noisy variants averaged per structure, None for the library default
    (:data:`xtalsym.inference.DEFAULT_TTA` for structures, 0 for images, which are never
    simulated); ``min_confidence``: below it a decision is "undecided"; ``calibration``:
    pattern images are experimental (xtalsym.experimental: ``scale`` Å⁻¹/px, or
    ``camera_length_mm``, ``wavelength_a`` and ``pixel_mm``); ``rotations``: in-plane
    rotations averaged over for those; ``centre`` (row, col) of their direct beam (default:
    found); ``mask``: an image file, non-zero at pixels to ignore (a beam stop);
    ``save_inputs``: a folder where the patterns the model saw (unturned) are written.
    """

    def __init__(
        self,
        model_dir: str | os.PathLike,
        *,
        shaped: bool = False,
        top_k: int = 5,
        symprec: float | None = None,
        tta: int | None = None,
        min_confidence: float = 0.0,
        calibration: dict[str, float] | None = None,
        rotations: int = ROTATIONS,
        centre: tuple[float, float] | None = None,
        mask: str | os.PathLike | None = None,
        save_inputs: str | os.PathLike | None = None,
    ):
        if int(top_k) < 1:
            raise ValueError(f"top_k must be at least 1, got {top_k}")
        resolve_tta(tta, structure=True)  # a negative count fails before loading the model
        self.bundle = Bundle.load(model_dir)
        self.card, self.classes = self.bundle.card, self.bundle.classes
        self.top_k = min(int(top_k), len(self.classes))
        self.symprec = self.bundle.symprec(symprec)
        self.shaped, self.tta = shaped, tta
        if not 0.0 <= float(min_confidence) <= 1.0:
            raise ValueError(f"min_confidence must be in [0, 1], got {min_confidence}")
        self.min_confidence = float(min_confidence)
        self.calibration = dict(calibration or {})
        if int(rotations) < 1:
            raise ValueError(f"rotations must be at least 1, got {rotations}")
        # the mask is read once for every pattern set of the call
        self.recorded = {"rotations": int(rotations), "centre": centre, "mask": read_mask(mask)}
        self.save_inputs = None if save_inputs is None else Path(save_inputs)
        self.model_info = model_summary(self.card, model_dir)

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        """Mean class probabilities over the rows (variants) of ``images``."""
        return self.bundle.proba(images).mean(axis=0)

    def base(self, name: str, kind: str) -> dict[str, Any]:
        """A record with every field, nothing answered yet."""
        return {
            "input": name, "kind": kind, "status": "ok", "error": None, "spglib": None,
            "in_class_set": None, "true_rank": None, "true_probability": None,
            "model": self.model_info, "xtalsym_version": __version__, "simulation": None,
            "top_k": [], "decision": None, "hierarchy": [],
        }  # fmt: skip

    def _answer(self, rec: dict[str, Any], proba: np.ndarray) -> dict[str, Any]:
        """The top-k list, the decision (undecided below ``min_confidence``, with the
        candidates) and each level of the symmetry hierarchy with its own probability."""
        from ..evaluate.coverage import abstain
        from ..evaluate.hierarchy import hierarchy_summary

        rec["top_k"] = ranked(proba, self.classes, self.top_k)
        d = abstain(proba, self.classes, self.min_confidence, k=self.top_k)
        cands = [{"spacegroup": sg, "probability": round(p, 6)} for sg, p in d["candidates"]]
        rec["decision"] = {**d, "candidates": cands, "min_confidence": self.min_confidence}
        rec["hierarchy"] = hierarchy_summary(proba, self.classes)
        # The finest level that is as certain as asked: with one pattern the crystal system
        # may be sure while the space group is not.
        sure = [h for h in rec["hierarchy"] if h["probability"] >= self.min_confidence]
        rec["decision"]["answer"] = sure[-1] if sure else rec["hierarchy"][0]
        return rec

    def _images_record(self, paths: list[Path]) -> dict[str, Any]:
        if resolve_tta(self.tta, structure=False):
            raise ValueError("--tta applies to structure files, not to pattern images")
        rec = self.base(
            ", ".join(map(str, paths)), "shaped images" if self.shaped else "pattern images"
        )
        if self.calibration:
            pats = experimental_patterns(paths, self.card, **self.calibration, **self.recorded)
            if self.save_inputs is not None:
                save_inputs(pats[0], paths, self.save_inputs)
            images = pattern_set_inputs(pats, self.card)
        elif len(paths) == 3:
            images = image_inputs(paths, self.card, self.shaped)
        else:
            raise ValueError(
                f"{paths[0]}: {len(paths)} pattern image(s) on their own; give their "
                "calibration (--scale) so that they are read as recorded patterns (one to "
                "three), or three images in the model's own format"
            )
        rec["n_patterns"] = len(paths)
        return self._answer(rec, self.probabilities(images))

    def arrays_record(
        self, arrays: Sequence[np.ndarray], name: str = "patterns", **calibration: Any
    ) -> dict[str, Any]:
        """The record of one to three recorded patterns given as arrays (H, W) (e.g. a
        HyperSpy / pyxem signal's data), ``calibration`` as for files (``scale``, ...)."""
        names = [f"{name}[{k}]" for k in range(len(arrays))]
        pats = recorded_patterns(arrays, self.card, names=names, **calibration, **self.recorded)
        rec = self.base(name, "pattern arrays")
        rec["n_patterns"] = len(arrays)
        return self._answer(rec, self.probabilities(pattern_set_inputs(pats, self.card)))

    def record(self, inputs: Sequence[str | os.PathLike]) -> dict[str, Any]:
        """The record of one input (one structure file, or three images x, y, z).

        Raises ValueError naming the file and the reason for bad input.
        """
        paths = [Path(p) for p in inputs]
        for p in paths:
            if not p.exists():
                raise ValueError(f"{p}: no such file")
            if p.is_dir():
                raise ValueError(f"{p}: is a directory (use `xtalsym evaluate --structures DIR`)")
        if is_pattern_set(paths):
            return self._images_record(paths)
        if len(paths) != 1:
            raise ValueError(
                "give structure files, or one to three pattern images of one crystal; got "
                + ", ".join(map(str, paths))
            )
        if self.shaped:
            raise ValueError(f"{paths[0]}: --shaped applies to pattern images, not structures")
        tta = resolve_tta(self.tta, structure=True)
        structure, number, symbol = prepare_structure(paths[0], self.symprec)
        try:
            images = self.bundle.structure_images(structure, tta)
        except Exception as e:  # e.g. an element without tabulated scattering factors
            raise ValueError(f"{paths[0]}: simulation failed ({type(e).__name__}: {e})") from e
        proba = self.probabilities(images)
        rec = self.base(str(paths[0]), "structure")
        rec["spglib"] = {"spacegroup": number, "symbol": symbol,
                         "crystal_system": crystal_system(number), "symprec": self.symprec}  # fmt: skip
        found = true_rank(proba, self.classes, number)
        rec["in_class_set"] = found is not None
        if found is not None:
            rec["true_rank"], rec["true_probability"] = found
        rec["simulation"] = mode_of(tta)
        return self._answer(rec, proba)


def is_pattern_set(paths: Sequence[Path]) -> bool:
    """One to three image files: the patterns of one crystal."""
    return 1 <= len(paths) <= 3 and all(is_image(Path(p)) for p in paths)


def classify(
    inputs: Sequence[str | os.PathLike], model_dir: str | os.PathLike, **options: Any
) -> dict[str, Any]:
    """The record of one input (module docstring of :mod:`xtalsym.predict`): ``input``,
    ``kind``, ``spglib`` (space group, symbol, crystal system, symprec; structures only),
    ``in_class_set``, ``true_rank`` and ``true_probability`` (of the spglib group among all
    classes), ``model``, ``xtalsym_version``, ``simulation`` (mode clean or tta), ``top_k``
    (best first), ``decision`` and ``hierarchy``. ``options``: those of :class:`Classifier`.

    Raises ValueError naming the file and the reason for bad input.
    """
    return Classifier(model_dir, **options).record(inputs)


def predict(
    inputs: Sequence[str | os.PathLike], model_dir: str | os.PathLike, **options: Any
) -> list[dict[str, Any]]:
    """Top-k space groups of one input, best first (the ``top_k`` of :func:`classify`).

    Each entry: ``rank``, ``spacegroup``, ``symbol``, ``crystal_system``, ``probability``.
    """
    return classify(inputs, model_dir, **options)["top_k"]


def predict_files(
    inputs: Sequence[str | os.PathLike], model_dir: str | os.PathLike, **options: Any
) -> list[dict[str, Any]]:
    """One record per input: one to three image files (all of ``inputs``) are the patterns of
    one crystal, else every path is a structure file. A bad file gets a record with ``status``
    "error" and the reason in ``error``; the others are still classified. A bad model raises
    ValueError. ``options``: those of :class:`Classifier`."""
    clf = Classifier(model_dir, **options)
    paths = [Path(p) for p in inputs]
    groups = [paths] if is_pattern_set(paths) else [[p] for p in paths]
    out = []
    for group in groups:
        try:
            out.append(clf.record(group))
        except ValueError as e:
            kind = "structure" if len(group) == 1 else "pattern images"
            rec = clf.base(", ".join(map(str, group)), kind)
            rec.update(status="error", error=str(e))
            out.append(rec)
    return out


def predict_patterns(
    arrays: Sequence[np.ndarray],
    model_dir: str | os.PathLike,
    *,
    name: str = "patterns",
    scale: float | None = None,
    camera_length_mm: float | None = None,
    wavelength_a: float | None = None,
    pixel_mm: float | None = None,
    **options: Any,
) -> dict[str, Any]:
    """The record (:func:`classify`) of one to three recorded patterns of one crystal given
    as arrays (H, W), e.g. a HyperSpy / pyxem signal's ``data`` with its axis calibration as
    ``scale`` (Å⁻¹ per pixel). ``options``: those of :class:`Classifier` (rotations, centre,
    mask, top_k, min_confidence). Raises ValueError naming the reason for bad input."""
    calibration = {"scale": scale, "camera_length_mm": camera_length_mm,
                   "wavelength_a": wavelength_a, "pixel_mm": pixel_mm}  # fmt: skip
    clf = Classifier(model_dir, **options)
    return clf.arrays_record(list(arrays), name, **calibration)
