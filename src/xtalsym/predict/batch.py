"""Many crystals' patterns in one call: a manifest or a folder in, one row per crystal out.

``xtalsym predict --images MANIFEST.csv`` (columns ``name, image_1, image_2, image_3,
scale``; image_2, image_3 and scale may be empty, paths relative to the manifest's folder) or
``--images DIR`` (files ``<name>_1.png``, ``<name>_2.png``, ... or ``<name>_x/_y/_z``, one
crystal per name). The model is loaded once; each crystal's row is appended to the output
CSV as soon as it is made, so an interruption keeps every finished row and ``--resume``
skips the names already there. A bad row (missing file, unreadable image, no spots) gets a
row with ``status`` error and the reason, and the others are still classified.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .inputs import is_image

#: One row per crystal.
OUTPUT_COLUMNS = (
    "name", "status", "error", "n_patterns", "top1_spacegroup", "top1_symbol",
    "top1_probability", "top1_crystal_system", "crystal_system", "crystal_system_probability",
    "answer_level", "answer", "top5_spacegroups", "top5_probabilities",
)  # fmt: skip
_SUFFIX = re.compile(r"^(?P<name>.+)_(?P<k>[123xyz])$", re.IGNORECASE)


def read_manifest(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Pattern sets of a manifest CSV: dicts with ``name``, ``images`` (1-3 paths) and
    ``scale`` (Å⁻¹/px or None). ValueError naming the file when it lacks the columns."""
    path = Path(path)
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = {"name", "image_1"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(
                f"{path}: a manifest needs the columns name, image_1 (and optionally image_2, "
                f"image_3, scale); missing {', '.join(sorted(missing))}"
            )
        rows = list(reader)
    sets = []
    for i, row in enumerate(rows, start=2):  # line numbers as an editor shows them
        images = [row.get(f"image_{k}") or "" for k in (1, 2, 3)]
        scale = (row.get("scale") or "").strip()
        sets.append({
            "name": (row.get("name") or "").strip() or f"{path.name}:{i}",
            "images": [path.parent / p.strip() for p in images if p.strip()],
            "scale": scale or None,
        })  # fmt: skip
    return sets


def folder_sets(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Pattern sets of a folder: image files ``<name>_1``, ``_2``, ``_3`` (or ``_x``,
    ``_y``, ``_z``) grouped by name, in name order; no scale (the call's)."""
    groups: dict[str, list[tuple[str, Path]]] = {}
    for p in sorted(Path(path).iterdir()):
        m = _SUFFIX.match(p.stem)
        if p.is_file() and is_image(p) and m:
            groups.setdefault(m["name"], []).append((m["k"].lower(), p))
    if not groups:
        raise ValueError(f"{path}: no pattern images named <name>_1, _2, _3 (or _x, _y, _z)")
    return [
        {"name": n, "images": [p for _, p in sorted(g)], "scale": None}
        for n, g in sorted(groups.items())
    ]


def pattern_sets(path: str | os.PathLike) -> list[dict[str, Any]]:
    """:func:`folder_sets` of a folder, else :func:`read_manifest`."""
    p = Path(path)
    if not p.exists():
        raise ValueError(f"{p}: no such manifest or folder")
    return folder_sets(p) if p.is_dir() else read_manifest(p)


def output_row(name: str, rec: dict[str, Any]) -> dict[str, Any]:
    """The CSV row (OUTPUT_COLUMNS) of one record."""
    row: dict[str, Any] = {c: "" for c in OUTPUT_COLUMNS}
    row.update(name=name, status=rec["status"], error=rec.get("error") or "")
    row["n_patterns"] = rec.get("n_patterns", "")
    if rec["status"] != "ok":
        return row
    top, levels = rec["top_k"][0], {h["level"]: h for h in rec["hierarchy"]}
    answer = rec["decision"]["answer"]
    row.update(
        top1_spacegroup=top["spacegroup"], top1_symbol=top["symbol"],
        top1_probability=top["probability"], top1_crystal_system=top["crystal_system"],
        crystal_system=levels["crystal_system"]["value"],
        crystal_system_probability=round(levels["crystal_system"]["probability"], 6),
        answer_level=answer["level"], answer=answer["value"],
        top5_spacegroups=";".join(str(t["spacegroup"]) for t in rec["top_k"][:5]),
        top5_probabilities=";".join(f"{t['probability']:.6f}" for t in rec["top_k"][:5]),
    )  # fmt: skip
    return row


def _scale(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"scale {text!r} is not a number (Å⁻¹ per pixel)") from None


def finished_names(output: str | os.PathLike) -> set[str]:
    """Names already in an output CSV (a cut-off last line is ignored)."""
    p = Path(output)
    if not p.is_file():
        return set()
    with open(p, newline="", encoding="utf-8") as f:
        return {r["name"] for r in csv.DictReader(f) if r.get("status") in ("ok", "error")}


def predict_sets(
    sets: list[dict[str, Any]],
    clf: Any,
    output: str | os.PathLike | None = None,
    resume: bool = False,
) -> Iterator[dict[str, Any]]:
    """Classify each pattern set with ``clf`` (a :class:`~xtalsym.predict.Classifier`; a
    set's own scale replaces the call's calibration), yielding its row and appending it to
    ``output`` (CSV) as soon as it is made. ``resume`` skips the names already in
    ``output``; without it an existing ``output`` is replaced."""
    done = finished_names(output) if (resume and output) else set()
    fh = writer = None
    if output is not None:
        new = not (resume and Path(output).is_file())
        fh = open(output, "w" if new else "a", newline="", encoding="utf-8")  # noqa: SIM115
        writer = csv.DictWriter(fh, fieldnames=OUTPUT_COLUMNS)
        if new:
            writer.writeheader()
            fh.flush()
    base = dict(clf.calibration)
    try:
        for s in sets:
            if s["name"] in done:
                continue
            try:
                clf.calibration = {"scale": _scale(s["scale"])} if s["scale"] else base
                if not s["images"]:
                    raise ValueError("no image given")
                rec = clf.record(s["images"])
            except ValueError as e:
                rec = {"status": "error", "error": str(e)}
            except Exception as e:  # one crystal's surprise must not end a long batch
                rec = {"status": "error", "error": f"{type(e).__name__}: {e}"}
            row = output_row(s["name"], rec)
            if writer is not None:
                writer.writerow(row)
                fh.flush()
            yield row
    finally:
        clf.calibration = base
        if fh is not None:
            fh.close()
