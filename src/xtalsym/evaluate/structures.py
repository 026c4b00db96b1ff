"""Evaluation on a directory of the user's structure files, labelled by spglib.

Each file goes through the same path as ``predict`` (:mod:`xtalsym.inference`): read,
labelled and standardised at ``symprec``, simulated with the model card's settings (the mean
over ``tta`` noisy variants, or clean), shaped as in training and classified; the evaluate
stage's files are written beside the metrics JSON.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from .. import inference as inf
from ..io import write_table
from ..spacegroups import class_index

logger = logging.getLogger(__name__)

# Structures simulated and shaped per batch (bounds memory).
BATCH = 64
# Documentation beside the structures (data/real/README.md) is not a structure file.
DOC_SUFFIXES = frozenset({".md", ".rst"})


def structure_files(directory: Path) -> list[Path]:
    """Every non-hidden file under ``directory`` but documentation (``DOC_SUFFIXES``), sorted
    (pymatgen decides what it reads)."""
    return sorted(
        p
        for p in directory.rglob("*")
        if p.is_file()
        and p.suffix.lower() not in DOC_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(directory).parts)
    )


def evaluate_structures(
    structures_dir: str | os.PathLike,
    model_dir: str | os.PathLike,
    out_path: str | os.PathLike,
    symprec: float | None = None,
    *,
    tta: int | None = None,
) -> dict[str, Any]:
    """Evaluate a model on every structure file of a directory, labels from spglib.

    Each file is simulated as :func:`xtalsym.predict.classify` does (the mean over ``tta``
    noisy variants with fixed seeds, None: :data:`~xtalsym.inference.DEFAULT_TTA`; 0: one
    clean simulation), so a file gets the same answer here as from ``predict``.
    ``symprec`` (Å): None means the card's ``structures.symprec``, else the schema default.
    Files that cannot be read, analysed, or whose space group is not among the model's
    classes are skipped and reported by name and reason (log, ``outcomes.csv``, and the
    metrics' ``skipped`` list). Writes the metrics JSON at ``out_path`` (a directory means
    ``out_path/metrics.json``) and, beside it, ``predictions.csv``, ``per_class.csv``,
    ``outcomes.csv``, ``confusion_sg.png`` and ``confusion_cs.png`` (prefixed with the JSON's
    stem when it is not ``metrics``). Returns the metrics.
    """
    from .stage import write_evaluation

    src = Path(structures_dir)
    if not src.is_dir():
        raise ValueError(f"{src}: not a directory")
    tta = inf.resolve_tta(tta, structure=True)
    out = Path(out_path)
    if out.suffix.lower() != ".json":
        out = out / "metrics.json"
    prefix = "" if out.stem == "metrics" else f"{out.stem}_"
    files = structure_files(src)
    if not files:
        raise ValueError(f"{src}: no files")
    bundle = inf.Bundle.load(model_dir)
    card, classes = bundle.card, bundle.classes
    symprec = bundle.symprec(symprec)
    index = class_index(classes)

    outcomes: dict[str, dict[str, Any]] = {}  # file -> outcome row

    def skip(name: str, reason: str) -> None:
        logger.warning("skipped %s", reason)
        outcomes[name] = {
            "file": name,
            "status": "skipped",
            "reason": reason,
            "spacegroup": None,
            "symbol": None,
        }

    kept: list[tuple[str, Any, int]] = []
    for f in tqdm(files, desc="read structures", unit="file"):
        name = str(f.relative_to(src))
        try:
            structure, number, symbol = inf.prepare_structure(f, symprec)
            if number not in index:
                raise ValueError(
                    f"{f}: space group {number} ({symbol}) is not one of the model's "
                    f"{len(classes)} classes"
                )
        except ValueError as e:
            skip(name, str(e))
            continue
        kept.append((name, structure, index[number]))
        outcomes[name] = {
            "file": name,
            "status": "kept",
            "reason": "",
            "spacegroup": number,
            "symbol": symbol,
        }

    variants = max(1, int(tta))
    done: list[tuple[str, int]] = []
    probas = []
    for a in tqdm(range(0, len(kept), BATCH), desc="simulate and classify", unit="batch"):
        pats, ok = [], []
        for name, structure, y in kept[a : a + BATCH]:
            try:
                pats.append(inf.structure_patterns(structure, card, tta))
            except Exception as e:  # e.g. an element without tabulated scattering factors
                skip(name, f"{src / name}: simulation failed ({type(e).__name__}: {e})")
                continue
            ok.append((name, y))
        if ok:
            p = bundle.proba(bundle.images(np.concatenate(pats)))
            probas.append(p.reshape(len(ok), variants, -1).mean(axis=1))
            done += ok
    table = pd.DataFrame(list(outcomes.values()), columns=list(OUTCOME_COLUMNS))
    table["spacegroup"] = table["spacegroup"].astype("Int64")  # integers, empty when skipped
    write_table(out.parent / f"{prefix}outcomes.csv", table)
    if not done:
        raise ValueError(f"{src}: none of the {len(files)} files could be evaluated (see log)")
    proba = np.concatenate(probas)
    skipped = [{"file": o["file"], "reason": o["reason"]} for o in outcomes.values() if o["reason"]]
    data = {
        "structures_dir": str(src),
        "files": len(files),
        "in_classes": len(kept),  # readable, and labelled with one of the model's classes
        "evaluated": len(done),
        "skipped": len(skipped),
        "outcomes": str(out.parent / f"{prefix}outcomes.csv"),
        "symprec": symprec,
        "simulation": inf.mode_of(tta),
        "labels": "spglib",
    }
    metrics = write_evaluation(
        out.parent,
        [n for n, _ in done],
        np.array([y for _, y in done]),
        proba,
        card,
        data=data,
        prefix=prefix,
        metrics_path=out,
        extra={"skipped": skipped},
    )
    return metrics


OUTCOME_COLUMNS = ("file", "status", "reason", "spacegroup", "symbol")
