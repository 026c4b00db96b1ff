"""Classify a user's own data with a trained model bundle.

:func:`classify` (one input) and :func:`predict_files` (many) take

* **structure files** (CIF, POSCAR, anything pymatgen reads): labelled by spglib at ``symprec``
  (the model card's ``structures.symprec`` when it records one, else the schema default),
  standardised (conventional cell, pymatgen's standard orientation), simulated with the model
  card's settings, shaped as the card says and classified;
* **three grayscale pattern images** in x, y, z order: shaped (unless ``shaped=True``),
  resized like the authors' loader and classified;
* **three of the authors' RGB shaped images** (``shaped=True``), x, y, z: the channel of the
  image's axis (x: R, y: G, z: B) is the edge image E, the mean of the other two the
  normalised pattern S (equal in a lossless file; JPEG makes them differ slightly).

A prediction depends on the structure and the model only, never on the file's name or format.
A structure is simulated **clean** (no noise) by default; with ``tta=N`` the probabilities are
the mean over N noisy variants drawn with the card's noise settings (the training
distribution) from the fixed seeds :func:`tta_seeds` (the same for every input). Each result
is a record (:func:`classify`) that says which mode was used and, for a structure, its spglib
group, whether that group is one of the model's classes, and its rank and probability.

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

from . import __version__
from .evaluate.inputs import (
    ImageSpec,
    default_device,
    network_images,
    sg_symbol,
)
from .io import derive_seed, write_table
from .spacegroups import class_index, crystal_system

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp"})
AXES = ("x", "y", "z")
_AXIS_SUFFIX = re.compile(r"_([xyz])$", re.IGNORECASE)
# Structures simulated and shaped per batch in evaluate_structures (bounds memory).
BATCH = 64


def schema_default(section: str, key: str) -> Any:
    """The schema's default of config key ``section.key`` (defaults are never restated)."""
    from .config import schema

    return schema()["properties"][section]["properties"][key]["default"]


def card_symprec(card: dict[str, Any]) -> float:
    """spglib tolerance (Å) for a structure classified by this model: the card's
    ``structures.symprec`` (also looked up in the images' recorded config), else the schema
    default of ``structures.symprec``."""
    for where in (card, (card.get("data_source") or {}).get("config") or {}):
        value = ((where or {}).get("structures") or {}).get("symprec")
        if isinstance(value, int | float) and value > 0:
            return float(value)
    return float(schema_default("structures", "symprec"))


def tta_seeds(n: int) -> list[int]:
    """The fixed simulation seeds of test-time augmentation: variant i gets the same seed for
    every input, so an answer never depends on a file's name."""
    return [derive_seed(0, "predict-tta", i) for i in range(int(n))]


def mode_of(tta: int) -> dict[str, Any]:
    """How a structure's patterns were made, as a record field."""
    if tta <= 0:
        return {"mode": "clean", "tta": 0, "description": "one noise-free simulation"}
    return {
        "mode": "tta",
        "tta": int(tta),
        "description": f"mean probability over {tta} noisy simulations (the model card's noise, "
        "fixed seeds independent of the input)",
    }


def _check_symprec(symprec: float) -> float:
    symprec = float(symprec)
    if not (0 < symprec <= 1):  # spglib crashes the process on a negative tolerance
        raise ValueError(f"symprec must be in (0, 1] Å, got {symprec:g}")
    return symprec


def load_model(model_dir: str | os.PathLike, device: str):
    """(model, card) of a bundle directory; ValueError naming it when it is not one."""
    from .train import load_bundle

    d = Path(model_dir)
    if not (d / "model_card.json").is_file() or not (d / "model.pt").is_file():
        raise ValueError(f"{d}: not a model bundle (model.pt and model_card.json expected)")
    return load_bundle(d, device=device)


_load = load_model


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def prepare_structure(path: Path, symprec: float) -> tuple[Any, int, str]:
    """(standardised Structure, spglib number, symbol) of a structure file.

    Partial occupancies are ordered (majority species per site). Raises ValueError naming
    the file.
    """
    from .structures import label, read_structure_file, standardise
    from .structures.standard import order_majority

    symprec = _check_symprec(symprec)
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
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    try:
        with Image.open(path) as im:
            if im.mode not in ("RGB", "RGBA", "P"):
                raise ValueError(
                    f"{path}: a shaped image must be the authors' RGB composition, got mode "
                    f"{im.mode} (for raw patterns, leave out --shaped)"
                )
            arr = np.asarray(im.convert("RGB"))
    except UnidentifiedImageError as e:
        raise ValueError(f"{path}: not a readable image") from e
    except OSError as e:
        raise ValueError(f"{path}: corrupt or truncated image ({e})") from e
    if arr.shape[0] != arr.shape[1]:
        raise ValueError(f"{path}: image must be square, got {arr.shape[1]} x {arr.shape[0]} px")
    return arr


def image_inputs(paths: Sequence[Path], card: dict[str, Any], shaped: bool) -> np.ndarray:
    """Network images (1, 3, C, S, S) from three pattern images (x, y, z)."""
    from .shaping import read_pattern_image, resize

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
    return resize(chans, spec.size, spec.resize)[None].astype(np.uint8)


def structure_patterns(structure: Any, card: dict[str, Any], tta: int = 0) -> np.ndarray:
    """Raw uint8 patterns (V, 3, H, W) of one standardised structure: V = 1 clean pattern
    (``tta`` 0), or ``tta`` noisy variants from :func:`tta_seeds`."""
    from .patterns.crystal import crystal_from_structure
    from .patterns.simulate import Settings, prepare, simulate_crystal

    settings = Settings.from_params(card["patterns"])
    tables = prepare(crystal_from_structure(structure), settings)
    seeds: list[int | None] = tta_seeds(tta) if tta > 0 else [None]
    return simulate_crystal(tables, settings, seeds)


def structure_inputs(structure: Any, card: dict[str, Any], tta: int = 0) -> np.ndarray:
    """Network images (V, 3, C, S, S) of one standardised structure (see structure_patterns)."""
    return network_images(structure_patterns(structure, card, tta), ImageSpec.from_card(card))


def ranked(proba: np.ndarray, classes: Sequence[int], top_k: int) -> list[dict[str, Any]]:
    """The ``top_k`` most probable space groups of one probability vector, best first."""
    if int(top_k) < 1:
        raise ValueError(f"top_k must be at least 1, got {top_k}")
    order = np.argsort(-np.asarray(proba), kind="stable")[: int(top_k)]
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
    the record of one input."""

    def __init__(
        self,
        model_dir: str | os.PathLike,
        *,
        shaped: bool = False,
        top_k: int = 5,
        symprec: float | None = None,
        tta: int = 0,
    ):
        from .train import predict_proba

        if int(top_k) < 1:
            raise ValueError(f"top_k must be at least 1, got {top_k}")
        if int(tta) < 0:
            raise ValueError(f"tta must be 0 (clean) or a number of variants, got {tta}")
        self.device = default_device()
        self.model, self.card = load_model(model_dir, self.device)
        self.classes = [int(c) for c in self.card["classes"]]
        self.top_k = min(int(top_k), len(self.classes))
        self.symprec = _check_symprec(card_symprec(self.card) if symprec is None else symprec)
        self.shaped, self.tta = shaped, int(tta)
        self.model_info = model_summary(self.card, model_dir)
        self._proba = predict_proba

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        """Mean class probabilities over the rows (variants) of ``images``."""
        p = self._proba(self.model, self.card, images, device=self.device)
        return p.mean(axis=0)

    def _base(self, name: str, kind: str) -> dict[str, Any]:
        return {
            "input": name,
            "kind": kind,
            "status": "ok",
            "error": None,
            "spglib": None,
            "in_class_set": None,
            "true_rank": None,
            "true_probability": None,
            "model": self.model_info,
            "xtalsym_version": __version__,
            "simulation": None,
            "top_k": [],
        }

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
        is_structure = len(paths) == 1 and not is_image(paths[0])
        if not is_structure and not (len(paths) == 3 and all(is_image(p) for p in paths)):
            raise ValueError(
                "give structure files, or three pattern images in x, y, z order; got "
                + ", ".join(map(str, paths))
            )
        if not is_structure:
            if self.tta:
                raise ValueError("--tta applies to structure files, not to pattern images")
            rec = self._base(
                ", ".join(map(str, paths)), "shaped images" if self.shaped else "pattern images"
            )
            proba = self.probabilities(image_inputs(paths, self.card, self.shaped))
            rec["top_k"] = ranked(proba, self.classes, self.top_k)
            return rec
        if self.shaped:
            raise ValueError(f"{paths[0]}: --shaped applies to pattern images, not structures")
        structure, number, symbol = prepare_structure(paths[0], self.symprec)
        try:
            images = structure_inputs(structure, self.card, self.tta)
        except Exception as e:  # e.g. an element without tabulated scattering factors
            raise ValueError(f"{paths[0]}: simulation failed ({type(e).__name__}: {e})") from e
        proba = self.probabilities(images)
        rec = self._base(str(paths[0]), "structure")
        rec["spglib"] = {
            "spacegroup": number,
            "symbol": symbol,
            "crystal_system": crystal_system(number),
            "symprec": self.symprec,
        }
        found = true_rank(proba, self.classes, number)
        rec["in_class_set"] = found is not None
        if found is not None:
            rec["true_rank"], rec["true_probability"] = found
        rec["simulation"] = mode_of(self.tta)
        rec["top_k"] = ranked(proba, self.classes, self.top_k)
        return rec


def classify(
    inputs: Sequence[str | os.PathLike],
    model_dir: str | os.PathLike,
    *,
    shaped: bool = False,
    top_k: int = 5,
    symprec: float | None = None,
    tta: int = 0,
) -> dict[str, Any]:
    """The record of one input (module docstring): ``input``, ``kind``, ``spglib`` (space
    group, symbol, crystal system, symprec; structures only), ``in_class_set``, ``true_rank``
    and ``true_probability`` (of the spglib group among all classes), ``model``,
    ``xtalsym_version``, ``simulation`` (mode clean or tta) and ``top_k`` (best first).

    Raises ValueError naming the file and the reason for bad input.
    """
    clf = Classifier(model_dir, shaped=shaped, top_k=top_k, symprec=symprec, tta=tta)
    return clf.record(inputs)


def predict(
    inputs: Sequence[str | os.PathLike],
    model_dir: str | os.PathLike,
    *,
    shaped: bool = False,
    top_k: int = 5,
    symprec: float | None = None,
    tta: int = 0,
) -> list[dict[str, Any]]:
    """Top-k space groups of one input, best first (the ``top_k`` of :func:`classify`).

    Each entry: ``rank``, ``spacegroup``, ``symbol``, ``crystal_system``, ``probability``.
    """
    return classify(inputs, model_dir, shaped=shaped, top_k=top_k, symprec=symprec, tta=tta)[
        "top_k"
    ]


def predict_files(
    inputs: Sequence[str | os.PathLike],
    model_dir: str | os.PathLike,
    *,
    shaped: bool = False,
    top_k: int = 5,
    symprec: float | None = None,
    tta: int = 0,
) -> list[dict[str, Any]]:
    """One record per input: three images (all of ``inputs`` image files) are one input, else
    every path is a structure file. A bad file gets a record with ``status`` "error" and the
    reason in ``error``; the others are still classified. A bad model raises ValueError."""
    clf = Classifier(model_dir, shaped=shaped, top_k=top_k, symprec=symprec, tta=tta)
    paths = [Path(p) for p in inputs]
    groups = (
        [paths] if len(paths) == 3 and all(is_image(p) for p in paths) else [[p] for p in paths]
    )
    out = []
    for group in groups:
        try:
            out.append(clf.record(group))
        except ValueError as e:
            kind = "structure" if len(group) == 1 else "pattern images"
            rec = clf._base(", ".join(map(str, group)), kind)
            rec.update(status="error", error=str(e))
            out.append(rec)
    return out


def format_predictions(results: Sequence[dict[str, Any]]) -> str:
    """Human-readable table of a top-k list (:func:`predict`)."""
    lines = [f"{'rank':>4}  {'space group':<16}{'crystal system':<16}{'probability':>11}"]
    for r in results:
        sg = f"{r['spacegroup']:>3}  {r['symbol']}"
        lines.append(f"{r['rank']:>4}  {sg:<16}{r['crystal_system']:<16}{r['probability']:>11.3f}")
    return "\n".join(lines)


def verdict(rec: dict[str, Any]) -> str:
    """One line on whether the answer can be right: the spglib group, in the class set or not,
    its rank and probability."""
    sg = rec.get("spglib")
    if not sg:
        return "no reference label (pattern images): nothing to check the answer against"
    n = rec["model"]["n_classes"]
    head = f"spglib: {sg['spacegroup']} ({sg['symbol']}) at symprec {sg['symprec']:g} Å"
    if not rec["in_class_set"]:
        return (
            f"{head}; NOT one of the model's {n} classes: no prediction can be right "
            "(the nearest classes it knows are listed)"
        )
    k = len(rec["top_k"])
    where = f"rank {rec['true_rank']} of {n}, probability {rec['true_probability']:.3f}"
    flag = "" if rec["true_rank"] <= k else f"; not in the top {k}"
    return f"{head}; in the model's class set: {where}{flag}"


def format_record(rec: dict[str, Any]) -> str:
    """The text output of one input: header, verdict, mode, top-k table."""
    m = rec["model"]
    sim = rec.get("simulation")
    how = f"; patterns: {sim['mode']} ({sim['description']})" if sim else ""
    return "\n".join(
        [
            f"{rec['input']}",
            f"  model {m['name']} ({m['arch']}, {m['input_mode']}, {m['n_classes']} classes), "
            f"xtalsym {rec['xtalsym_version']}{how}",
            f"  {verdict(rec)}",
            format_predictions(rec["top_k"]),
        ]
    )


def format_table(records: Sequence[dict[str, Any]]) -> str:
    """One row per input: file, spglib group, in class set, its rank and probability, the
    top-1 and its probability, the top-k list; failed inputs with their reason."""
    rows = []
    blank = ("in set", "rank", "p(true)", "top-1", "p(top-1)", "top-k")
    for r in records:
        if r["status"] != "ok":
            rows.append({"input": r["input"], "spglib": "failed", **dict.fromkeys(blank, "")})
            continue
        sg, top = r.get("spglib"), r["top_k"][0]
        rows.append(
            {
                "input": r["input"],
                "spglib": f"{sg['spacegroup']} {sg['symbol']}" if sg else "-",
                "in set": "-" if sg is None else ("yes" if r["in_class_set"] else "NO"),
                "rank": "-" if r["true_rank"] is None else str(r["true_rank"]),
                "p(true)": "-" if r["true_probability"] is None else f"{r['true_probability']:.3f}",
                "top-1": f"{top['spacegroup']} {top['symbol']}",
                "p(top-1)": f"{top['probability']:.3f}",
                "top-k": " ".join(str(t["spacegroup"]) for t in r["top_k"]),
            }
        )
    table = pd.DataFrame(rows)
    ok = [r for r in records if r["status"] == "ok"]
    first = (ok or records)[0]
    m, sim = first["model"], next((r["simulation"] for r in ok if r["simulation"]), None)
    foot = (
        f"model {m['name']} ({m['n_classes']} classes), xtalsym {first['xtalsym_version']}"
        + (f", patterns {sim['mode']} ({sim['description']})" if sim else "")
        + f"; {len(ok)} of {len(records)} input(s) classified"
        + ("" if len(ok) == len(records) else " (the reasons for the others on stderr)")
    )
    return table.to_string(index=False) + "\n" + foot


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
    symprec: float | None = None,
    *,
    tta: int = 0,
) -> dict[str, Any]:
    """Evaluate a model on every structure file of a directory, labels from spglib.

    Each file is simulated as :func:`classify` does (clean, or the mean over ``tta`` noisy
    variants with fixed seeds), so a file gets the same answer here as from ``predict``.
    ``symprec`` (Å): None means the card's ``structures.symprec``, else the schema default.
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
    if int(tta) < 0:
        raise ValueError(f"tta must be 0 (clean) or a number of variants, got {tta}")
    out = Path(out_path)
    if out.suffix.lower() != ".json":
        out = out / "metrics.json"
    prefix = "" if out.stem == "metrics" else f"{out.stem}_"
    files = structure_files(src)
    if not files:
        raise ValueError(f"{src}: no files")
    device = default_device()
    model, card = load_model(model_dir, device)
    symprec = _check_symprec(card_symprec(card) if symprec is None else symprec)
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
    variants = max(1, int(tta))
    done: list[tuple[str, int]] = []
    probas = []
    for a in tqdm(range(0, len(kept), BATCH), desc="simulate and classify", unit="batch"):
        pats, ok = [], []
        for name, structure, y in kept[a : a + BATCH]:
            try:
                pats.append(structure_patterns(structure, card, tta))
            except Exception as e:  # e.g. an element without tabulated scattering factors
                skip(name, f"{src / name}: simulation failed ({type(e).__name__}: {e})")
                continue
            ok.append((name, y))
        if ok:
            images = network_images(np.concatenate(pats), spec)
            p = predict_proba(model, card, images, device=device)
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
        "evaluated": len(done),
        "skipped": len(skipped),
        "outcomes": str(out.parent / f"{prefix}outcomes.csv"),
        "symprec": symprec,
        "simulation": mode_of(tta),
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
