"""Classify a user's own data with a trained model bundle.

:func:`classify` (one input) and :func:`predict_files` (many) take

* **structure files** (CIF, POSCAR, anything pymatgen reads): labelled by spglib at ``symprec``
  (the model card's ``structures.symprec`` when it records one, else the schema default),
  standardised (conventional cell, pymatgen's standard orientation), simulated with the model
  card's settings, shaped as the card says and classified;
* **one to three recorded pattern images** (with their calibration: ``scale`` Å⁻¹/px), any
  angle, order and zone axes, with a background: reduced to their Bragg spots and redrawn as
  the simulator draws them (:mod:`xtalsym.experimental`); :func:`predict_patterns` takes
  them as arrays, :mod:`.batch` many crystals from a manifest or folder;
* **three grayscale pattern images** in x, y, z order: shaped (unless ``shaped=True``),
  resized like the authors' loader and classified;
* **three of the authors' RGB shaped images** (``shaped=True``), x, y, z: the channel of the
  image's axis (x: R, y: G, z: B) is the edge image E, the mean of the other two the
  normalised pattern S (equal in a lossless file; JPEG makes them differ slightly).

A prediction depends on the structure and the model only, never on the file's name or format.
A structure's probabilities are the mean over ``tta`` noisy variants (default
:data:`~xtalsym.inference.DEFAULT_TTA`, the same in the library and the CLI) drawn with the
card's noise settings (the training distribution) from the fixed seeds :func:`tta_seeds` (the
same for every input); ``tta=0`` simulates it once, clean. Each result
is a record (:func:`classify`) that says which mode was used and, for a structure, its spglib
group, whether that group is one of the model's classes, and its rank and probability.

The model, its inputs and the structure path live in :mod:`xtalsym.inference`; this package
holds what is particular to a user's files: :mod:`.inputs` (reading them), :mod:`.classify`
(the records) and :mod:`.text` (the text output). Directory evaluation is
:func:`xtalsym.evaluate.structures.evaluate_structures` (also importable from here).
"""

from __future__ import annotations

from typing import Any

from ..inference import DEFAULT_TTA, card_symprec, mode_of, schema_default, tta_seeds
from .classify import (
    Classifier,
    classify,
    model_summary,
    predict,
    predict_files,
    predict_patterns,
    ranked,
    true_rank,
)
from .inputs import IMAGE_SUFFIXES, image_inputs, is_image, is_image_triple
from .text import decision_line, format_predictions, format_record, format_table, verdict


def __getattr__(name: str) -> Any:
    # evaluate imports predict's siblings; resolving these lazily keeps the import acyclic.
    if name in ("evaluate_structures", "structure_files"):
        from ..evaluate import structures

        return getattr(structures, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_TTA",
    "IMAGE_SUFFIXES",
    "Classifier",
    "card_symprec",
    "classify",
    "decision_line",
    "evaluate_structures",
    "format_predictions",
    "format_record",
    "format_table",
    "image_inputs",
    "is_image",
    "is_image_triple",
    "mode_of",
    "model_summary",
    "predict",
    "predict_files",
    "predict_patterns",
    "ranked",
    "schema_default",
    "structure_files",
    "true_rank",
    "tta_seeds",
    "verdict",
]
