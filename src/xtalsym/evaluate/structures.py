"""Evaluation on a directory of the user's structure files, labelled by spglib.

Each file goes through the same path as ``predict`` (:mod:`xtalsym.inference`): read,
labelled and standardised at ``symprec``, simulated with the model card's settings (the mean
over ``tta`` noisy variants, or clean), shaped as in training and classified; the evaluate
stage's files are written beside the metrics JSON.
"""

from __future__ import annotations

import json
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
    return evaluate_structures_many(structures_dir, [model_dir], [out_path], symprec, tta=tta)[0]


def evaluate_structures_many(
    structures_dir: str | os.PathLike,
    model_dirs: list[str | os.PathLike],
    out_paths: list[str | os.PathLike],
    symprec: float | None = None,
    *,
    tta: int | None = None,
) -> list[dict[str, Any]]:
    """:func:`evaluate_structures` for several models at once: each file is read and
    labelled once per ``symprec`` and simulated once per simulation settings (models of one
    run share both), then shaped and classified per model. Returns the metrics per model."""
    src = Path(structures_dir)
    if not src.is_dir():
        raise ValueError(f"{src}: not a directory")
    if len(model_dirs) != len(out_paths):
        raise ValueError(f"{len(model_dirs)} models but {len(out_paths)} output paths")
    tta = inf.resolve_tta(tta, structure=True)
    files = structure_files(src)
    if not files:
        raise ValueError(f"{src}: no files")
    read: dict[float, dict[str, Any]] = {}  # symprec -> file name -> labelled or ValueError
    simulated: dict[str, dict[str, Any]] = {}  # patterns JSON -> file name -> patterns or error
    out = []
    for model_dir, out_path in zip(model_dirs, out_paths, strict=True):
        bundle = inf.Bundle.load(model_dir)
        sp = bundle.symprec(symprec)
        if sp not in read:
            read[sp] = {
                str(f.relative_to(src)): _read(f, sp)
                for f in tqdm(files, desc="read structures", unit="file")
            }
        key = json.dumps(bundle.card["patterns"], sort_keys=True)
        out.append(
            _evaluate_one(
                src, files, bundle, Path(out_path), sp, tta, read[sp], simulated.setdefault(key, {})
            )
        )
    return out


def _read(f: Path, symprec: float) -> Any:
    """(Structure, number, symbol) of a file, or the ValueError that says why not."""
    try:
        return inf.prepare_structure(f, symprec)
    except ValueError as e:
        return e


def _simulate(structure: Any, card: dict[str, Any], tta: int) -> Any:
    """The file's patterns, or the exception its simulation raised."""
    try:
        return inf.structure_patterns(structure, card, tta)
    except Exception as e:  # e.g. an element without tabulated scattering factors
        return e


def _evaluate_one(
    src: Path,
    files: list[Path],
    bundle: inf.Bundle,
    out: Path,
    symprec: float,
    tta: int,
    read: dict[str, Any],
    simulated: dict[str, Any],
) -> dict[str, Any]:
    from .stage import write_evaluation

    card, classes = bundle.card, bundle.classes
    if out.suffix.lower() != ".json":
        out = out / "metrics.json"
    prefix = "" if out.stem == "metrics" else f"{out.stem}_"
    index = class_index(classes)
    outcomes: dict[str, dict[str, Any]] = {}  # file -> outcome row

    def skip(name: str, reason: str) -> None:
        logger.warning("skipped %s", reason)
        outcomes[name] = _outcome(name, "skipped", reason, None, None)

    kept: list[tuple[str, Any, int]] = []
    for name, got in read.items():
        if isinstance(got, ValueError):
            skip(name, str(got))
            continue
        structure, number, symbol = got
        if number not in index:
            skip(
                name,
                f"{src / name}: space group {number} ({symbol}) is not one of the model's "
                f"{len(classes)} classes",
            )
            continue
        kept.append((name, structure, index[number]))
        outcomes[name] = _outcome(name, "kept", "", number, symbol)

    variants = max(1, int(tta))
    done: list[tuple[str, int]] = []
    probas = []
    for a in tqdm(range(0, len(kept), BATCH), desc="simulate and classify", unit="batch"):
        pats, ok = [], []
        for name, structure, y in kept[a : a + BATCH]:
            if name not in simulated:
                simulated[name] = _simulate(structure, card, tta)
            got = simulated[name]
            if isinstance(got, Exception):
                skip(name, f"{src / name}: simulation failed ({type(got).__name__}: {got})")
                continue
            pats.append(got)
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
    return write_evaluation(
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


def _outcome(*values: Any) -> dict[str, Any]:
    return dict(zip(OUTCOME_COLUMNS, values, strict=True))


OUTCOME_COLUMNS = ("file", "status", "reason", "spacegroup", "symbol")
