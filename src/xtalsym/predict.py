"""Classify a user's own data with a trained model bundle.

:func:`predict` takes one of

* **one structure file** (CIF, POSCAR, anything pymatgen reads): standardised (conventional
  cell, pymatgen's standard orientation, spglib at ``symprec``), simulated with the model
  card's settings, shaped as the card says and classified;
* **three grayscale pattern images** in x, y, z order: shaped (unless ``shaped=True``),
  resized like the authors' loader and classified;
* **three of the authors' RGB shaped images** (``shaped=True``), x, y, z: the channel of the
  image's axis (x: R, y: G, z: B) is the edge image E, the mean of the other two the
  normalised pattern S (equal in a lossless file; JPEG makes them differ slightly).

Simulation of a structure uses the card's noise settings (the training distribution) with a
fixed seed derived from the file name, so the same file always gives the same answer;
``clean=True`` simulates without noise instead.

:func:`evaluate_structures` runs the same path over a directory of structure files, labelled
by spglib, and writes the evaluate stage's metrics JSON, predictions, per-class table and
confusion figures.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from .evaluate.inputs import (
    ImageSpec,
    default_device,
    network_images,
    sg_symbol,
    simulate_structures,
    simulation_seed,
)
from .io import write_table
from .spacegroups import class_index, crystal_system

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp"})
DEFAULT_SYMPREC = 0.01  # Å, the config default of structures.symprec
AXES = ("x", "y", "z")
_AXIS_SUFFIX = re.compile(r"_([xyz])$", re.IGNORECASE)
# Structures simulated and shaped per batch in evaluate_structures (bounds memory).
BATCH = 64


def _load(model_dir: str | os.PathLike, device: str):
    from .train import load_bundle

    d = Path(model_dir)
    if not (d / "model_card.json").is_file() or not (d / "model.pt").is_file():
        raise ValueError(f"{d}: not a model bundle (model.pt and model_card.json expected)")
    return load_bundle(d, device=device)


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def prepare_structure(path: Path, symprec: float) -> tuple[Any, int, str]:
    """(standardised Structure, spglib number, symbol) of a structure file.

    Partial occupancies are ordered (majority species per site). Raises ValueError naming
    the file.
    """
    from .structures import label, read_structure_file, standardise
    from .structures.standard import order_majority

    s = read_structure_file(path)
    try:
        if not s.is_ordered:
            logger.info("%s: partial occupancies; keeping the majority species per site", path)
            s = order_majority(s)
        number, symbol = label(s, symprec)
        return standardise(s, symprec), number, symbol
    except Exception as e:  # spglib, pymatgen: any failure is this file's problem
        raise ValueError(f"{path}: symmetry analysis failed ({type(e).__name__}: {e})") from e


def _check_axis_order(paths: Sequence[Path]) -> None:
    axes = [m.group(1).lower() if (m := _AXIS_SUFFIX.search(p.stem)) else None for p in paths]
    if all(axes) and axes != list(AXES):
        raise ValueError(
            "pattern images must be given in x, y, z order; got "
            + ", ".join(f"{p} (axis {a})" for p, a in zip(paths, axes, strict=True))
        )


def _read_rgb(path: Path) -> np.ndarray:
    """An authors'-format shaped image as uint8 (H, W, 3); ValueError naming the file."""
    from .shaping.imagefiles import read_shaped_image

    return read_shaped_image(path)


def image_inputs(paths: Sequence[Path], card: dict[str, Any], shaped: bool) -> np.ndarray:
    """Network images (1, 3, C, S, S) from three pattern images (x, y, z)."""
    from .shaping import read_pattern_image, resize_like_loader

    _check_axis_order(paths)
    spec = ImageSpec.from_card(card)
    if shaped:
        rgb = [_read_rgb(p) for p in paths]
        sizes = {a.shape[0] for a in rgb}
    else:
        pats = [read_pattern_image(p) for p in paths]
        sizes = {a.shape[0] for a in pats}
    if len(sizes) != 1:
        raise ValueError("the three images differ in size: " + ", ".join(map(str, paths)))
    (h,) = sizes
    if h < spec.size:
        raise ValueError(
            f"{paths[0]}: images are {h} px but the model needs at least {spec.size} px"
        )
    trained = int(card["patterns"]["size"])
    if h != trained:
        logger.warning("images are %d px, the model was trained on %d px patterns", h, trained)
    if not shaped:
        return network_images(np.stack(pats)[None], spec)
    e = np.stack([rgb[a][..., a] for a in range(3)])
    others = [[c for c in range(3) if c != a] for a in range(3)]
    s = np.stack([rgb[a][..., others[a]].mean(axis=-1) for a in range(3)])
    s = np.rint(s).astype(np.uint8)
    chans = np.stack([e, s], axis=1) if spec.mode == "shaped" else s[:, None]
    return resize_like_loader(chans, spec.size)[None].astype(np.uint8)


def structure_inputs(
    structures: Sequence[Any], names: Sequence[str], card: dict[str, Any], clean: bool
) -> np.ndarray:
    """Network images (N, 3, C, S, S) of standardised structures, simulated per the card."""
    seeds = [None if clean else simulation_seed(n) for n in names]
    pats = simulate_structures(structures, card["patterns"], seeds)
    return network_images(pats, ImageSpec.from_card(card))


def ranked(proba: np.ndarray, classes: Sequence[int], top_k: int) -> list[dict[str, Any]]:
    """The ``top_k`` most probable space groups of one probability vector, best first."""
    order = np.argsort(-np.asarray(proba), kind="stable")[: max(1, int(top_k))]
    return [
        {
            "rank": r + 1,
            "spacegroup": int(classes[i]),
            "symbol": sg_symbol(classes[i]),
            "crystal_system": crystal_system(classes[i]),
            "probability": round(float(proba[i]), 6),
        }
        for r, i in enumerate(order)
    ]


def predict(
    inputs: Sequence[str | os.PathLike],
    model_dir: str | os.PathLike,
    *,
    shaped: bool = False,
    top_k: int = 5,
    symprec: float = DEFAULT_SYMPREC,
    clean: bool = False,
) -> list[dict[str, Any]]:
    """Top-k space groups of one input (module docstring), best first.

    Each entry: ``rank``, ``spacegroup``, ``symbol``, ``crystal_system``, ``probability``.
    Raises ValueError naming the file and the reason for bad input.
    """
    from .train import predict_proba

    paths = [Path(p) for p in inputs]
    for p in paths:
        if not p.exists():
            raise ValueError(f"{p}: no such file")
        if p.is_dir():
            raise ValueError(f"{p}: is a directory (use `xtalsym evaluate --structures DIR`)")
    is_structure = len(paths) == 1 and not is_image(paths[0])
    if not is_structure and not (len(paths) == 3 and all(is_image(p) for p in paths)):
        raise ValueError(
            "give one structure file, or three pattern images in x, y, z order; got "
            + ", ".join(map(str, paths))
        )
    if is_structure and shaped:
        raise ValueError(f"{paths[0]}: --shaped applies to pattern images, not structures")
    device = default_device()
    model, card = _load(model_dir, device)
    if is_structure:
        structure, number, symbol = prepare_structure(paths[0], symprec)
        logger.info(
            "%s: spglib space group %d (%s) at symprec %g Å", paths[0], number, symbol, symprec
        )
        images = structure_inputs([structure], [paths[0].name], card, clean)
    else:
        images = image_inputs(paths, card, shaped)
    proba = predict_proba(model, card, images, device=device)[0]
    return ranked(proba, [int(c) for c in card["classes"]], top_k)


def format_predictions(results: Sequence[dict[str, Any]]) -> str:
    """Human-readable table of :func:`predict`'s output."""
    lines = [f"{'rank':>4}  {'space group':<16}{'crystal system':<16}{'probability':>11}"]
    for r in results:
        sg = f"{r['spacegroup']:>3}  {r['symbol']}"
        lines.append(f"{r['rank']:>4}  {sg:<16}{r['crystal_system']:<16}{r['probability']:>11.3f}")
    return "\n".join(lines)


def structure_files(directory: Path) -> list[Path]:
    """Every non-hidden file under ``directory``, sorted (pymatgen decides what it reads)."""
    return sorted(
        p
        for p in directory.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(directory).parts)
    )


def evaluate_structures(
    structures_dir: str | os.PathLike,
    model_dir: str | os.PathLike,
    out_path: str | os.PathLike,
    symprec: float = DEFAULT_SYMPREC,
    *,
    clean: bool = False,
) -> dict[str, Any]:
    """Evaluate a model on every structure file of a directory, labels from spglib.

    Files that cannot be read, analysed, or whose space group is not among the model's
    classes are skipped and reported by name and reason (log, ``outcomes.csv``, and the
    metrics' ``skipped`` list). Writes the metrics JSON at ``out_path`` (a directory means
    ``out_path/metrics.json``) and, beside it, ``predictions.csv``, ``per_class.csv``,
    ``outcomes.csv``, ``confusion_sg.png`` and ``confusion_cs.png`` (prefixed with the JSON's
    stem when it is not ``metrics``). Returns the metrics.
    """
    from .evaluate.stage import write_evaluation
    from .train import predict_proba

    src = Path(structures_dir)
    if not src.is_dir():
        raise ValueError(f"{src}: not a directory")
    out = Path(out_path)
    if out.suffix.lower() != ".json":
        out = out / "metrics.json"
    prefix = "" if out.stem == "metrics" else f"{out.stem}_"
    files = structure_files(src)
    if not files:
        raise ValueError(f"{src}: no files")
    device = default_device()
    model, card = _load(model_dir, device)
    classes = [int(c) for c in card["classes"]]
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
            structure, number, symbol = prepare_structure(f, symprec)
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

    spec = ImageSpec.from_card(card)
    done: list[tuple[str, int]] = []
    probas = []
    for a in tqdm(range(0, len(kept), BATCH), desc="simulate and classify", unit="batch"):
        pats, ok = [], []
        for name, structure, y in kept[a : a + BATCH]:
            seed = None if clean else simulation_seed(Path(name).name)
            try:
                pats.append(simulate_structures([structure], card["patterns"], [seed])[0])
            except Exception as e:  # e.g. an element without tabulated scattering factors
                skip(name, f"{src / name}: simulation failed ({type(e).__name__}: {e})")
                continue
            ok.append((name, y))
        if ok:
            images = network_images(np.stack(pats), spec)
            probas.append(predict_proba(model, card, images, device=device))
            done += ok
    write_table(out.parent / f"{prefix}outcomes.csv", pd.DataFrame(list(outcomes.values())))
    if not done:
        raise ValueError(f"{src}: none of the {len(files)} files could be evaluated (see log)")
    proba = np.concatenate(probas)
    skipped = [{"file": o["file"], "reason": o["reason"]} for o in outcomes.values() if o["reason"]]
    data = {
        "structures_dir": str(src),
        "files": len(files),
        "evaluated": len(done),
        "skipped": len(skipped),
        "symprec": symprec,
        "simulation": "clean" if clean else "model card noise, fixed seed per file name",
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
