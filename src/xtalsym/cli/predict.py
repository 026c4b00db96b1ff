"""``xtalsym predict``: its parser, its help on input formats, and the command."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from ..inference import DEFAULT_TTA, schema_default
from ..predict.classify import ROTATIONS
from .common import (
    add_model_arg,
    add_symprec_arg,
    model_or_reference,
    number_type,
    positive_type,
    top_k_type,
    tta_type,
)


def pattern_image_help() -> str:
    """What a raw pattern image given to ``predict`` must be (defaults from the schema)."""
    size = schema_default("patterns", "size")
    scale = schema_default("patterns", "scale")
    gamma = schema_default("patterns", "gamma")
    return f"""\
Recorded patterns (--scale, or --camera-length/--wavelength/--pixel-size): one to three
images of one crystal, each along any low-index zone axis (no need to know which, nor the
crystal system), in any order, at any in-plane angle, mirrored or not: 8- or 16-bit PNG or
TIFF, or a 32-bit / float TIFF (negative values of a dark-subtracted frame are fine; NaN or
inf are refused), any size up to 8192 px a side, the direct beam anywhere in the central
half (or --centre ROW,COL). The diffuse background is removed (a top-hat wider than a spot),
the Bragg spots are found (5 sigma above the noise of their ring, sub-pixel), and redrawn
with the simulator's spot model on the model's grid ({scale} Å^-1/px by default), in each
candidate canonical frame of its own spots (the frame the model was trained in: its card's
patterns.rotation canonical), and the answer is the mean over them (a model trained on random
angles: over --rotations turns and mirrors). Without --model these go to the committed
recorded-pattern model (models/recorded). A beam stop or dead pixels:
--mask FILE (an image of the same size, non-zero where pixels are to be ignored).
--save-inputs DIR writes the redrawn patterns, what the model saw. A multi-page TIFF or an
animation is refused by name (no page is guessed: save the one pattern as its own image), and
so is an image over 8192 px a side, from its header before anything is decoded.

Many crystals: --images MANIFEST.csv (columns name, image_1, image_2, image_3, scale; the
last three may be empty) or --images DIR (files <name>_1, _2, _3 or <name>_x, _y, _z): one
row per crystal, appended to --output CSV as it is made (a bad row is reported with its
reason and the others go on); --resume skips the names already in --output. Several structure
files with --output are written the same way, a row per file.

Simulated patterns in the model's own format (no calibration; three files, along the model
card's beams in their order; a _x/_y/_z name suffix is checked as the first, second and
third beam), as `xtalsym patterns` writes them (docs/artifacts.md, "patterns"):
  - square, 8-bit grayscale, the card's patterns.size px (default {size} px) at
    patterns.scale Å^-1 per pixel; the direct beam at the centre pixel (row H/2, column W/2);
  - intensity 255 * (I / I_ref)^gamma (gamma = patterns.gamma, default {gamma}), I_ref the
    strongest reflection other than the direct beam.
With --shaped: the authors' RGB shaped images (edge image in the axis channel x: R, y: G,
z: B; the normalised pattern in the other two).

Structures: spglib labels them at --symprec, they are standardised and simulated with the
model card's settings: the mean over --tta noisy variants (the card's training noise, fixed
seeds: the answer depends on the structure and the model only), or one clean simulation
with --tta 0 / --clean. The output says the spglib group, whether it is one of the model's
classes, and its rank and probability.

The answer's levels: each of crystal system, Bravais lattice, Laue class, point group,
diffraction symbol and space group has its own probability; the answer is the finest level
at least --min-confidence sure (from one pattern the system is often sure, the group not).

Several structure files give one row each (a bad file is reported by name and reason; the
others are still classified). Exit status: 0 all inputs classified, 1 none (or a bad model
or argument), 3 some failed."""


def add_predict_command(command: Callable[..., argparse.ArgumentParser]) -> None:
    p = command(
        "predict",
        help="classify structure files or three pattern images",
        description="Classify structure files (CIF, POSCAR, anything pymatgen reads: each is "
        "simulated and shaped as in training), or three pattern images in the model's beam order "
        "(shaped unless --shaped; the authors' RGB format is accepted with --shaped).",
        epilog=pattern_image_help(),
    )
    p.add_argument(
        "inputs", nargs="*", metavar="INPUT",
        help="structure file(s), or one to three pattern images of one crystal",
    )  # fmt: skip
    p.add_argument(
        "--images", metavar="CSV|DIR",
        help="many crystals: a manifest (name, image_1, image_2, image_3, scale) or a folder "
        "of <name>_1/_2/_3 images; one output row per crystal",
    )  # fmt: skip
    p.add_argument(
        "--output", metavar="CSV",
        help="with --images or several structure files: append each row to this CSV as it is "
        "made (an interruption keeps every finished row)",
    )  # fmt: skip
    p.add_argument(
        "--resume", action="store_true",
        help="with --output: skip the inputs already in it",
    )  # fmt: skip
    p.add_argument(
        "--rotations", type=number_type(int, 1, 360), default=ROTATIONS, metavar="N",
        help=f"recorded patterns, for a model trained on random angles (patterns.rotation "
        f"random): average over N in-plane rotations, every other mirrored (default "
        f"{ROTATIONS}; 1: as given); a canonical-frame model uses each pattern's candidate "
        f"frames instead",
    )  # fmt: skip
    p.add_argument(
        "--centre", type=centre_type, metavar="ROW,COL",
        help="recorded patterns: the direct beam's pixel, when it cannot be found (off the "
        "central half, or hidden)",
    )  # fmt: skip
    p.add_argument(
        "--mask", metavar="IMAGE",
        help="recorded patterns: an image of the same size, non-zero at pixels to ignore "
        "(beam stop, dead pixels)",
    )  # fmt: skip
    p.add_argument(
        "--save-inputs", metavar="DIR",
        help="recorded patterns: write the redrawn patterns the model saw to DIR",
    )  # fmt: skip
    add_model_arg(p)
    p.add_argument(
        "--shaped", action="store_true",
        help="the images are already shaped (the authors' RGB format)",
    )  # fmt: skip
    p.add_argument(
        "--min-confidence", type=number_type(float, 0.0, 1.0), default=0.0, metavar="P",
        help="below this top probability the answer is 'undecided', with the top candidates",
    )  # fmt: skip
    p.add_argument(
        "--scale", type=positive_type, metavar="A^-1/px",
        help="experimental pattern images: their scale in Å⁻¹ per pixel (any size and bit "
        "depth; the direct beam is found and the image resampled to the model's grid)",
    )  # fmt: skip
    p.add_argument(
        "--camera-length", type=positive_type, metavar="MM",
        help="experimental images: camera length in mm (with --wavelength and --pixel-size)",
    )  # fmt: skip
    p.add_argument(
        "--wavelength", type=positive_type, metavar="Å",
        help="experimental images: wavelength in Å (with --camera-length)",
    )  # fmt: skip
    p.add_argument(
        "--pixel-size", type=positive_type, metavar="MM",
        help="experimental images: detector pixel size in mm (with --camera-length)",
    )  # fmt: skip
    p.add_argument(
        "--top-k", type=top_k_type, default=5, metavar="K",
        help="how many space groups to list, 1 or more (capped at the model's classes)",
    )  # fmt: skip
    add_symprec_arg(p)
    p.add_argument(
        "--tta", type=tta_type, default=None, metavar="N",
        help=f"structures: N averages the probabilities over N noisy simulations (the model "
        f"card's training noise, fixed seeds); 0 classifies one clean simulation (default: "
        f"{DEFAULT_TTA} for structures; images are never simulated)",
    )  # fmt: skip
    p.add_argument(
        "--clean", action="store_true",
        help="the same as --tta 0: one noise-free simulation",
    )  # fmt: skip
    p.add_argument(
        "--json", action="store_true",
        help="a JSON list of records, one per input (input, spglib label, in-class flag, rank "
        "and probability of the spglib group, model, version, mode, top-k)",
    )  # fmt: skip


def centre_type(text: str) -> tuple[float, float]:
    """ROW,COL (pixels) of --centre."""
    try:
        row, col = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected ROW,COL in pixels, got {text!r}") from None
    return row, col


def experimental_calibration(args: argparse.Namespace) -> dict[str, float] | None:
    """The calibration of experimental pattern images, or None for the project's own format."""
    if args.scale is not None:
        return {"scale": args.scale}
    given = {"camera_length_mm": args.camera_length, "wavelength_a": args.wavelength,
             "pixel_mm": args.pixel_size}  # fmt: skip
    if all(v is None for v in given.values()):
        return None
    if any(v is None for v in given.values()):
        raise ValueError(
            "give --camera-length, --wavelength and --pixel-size together (or --scale)"
        )
    return given


def run_predict(args: argparse.Namespace) -> int:
    """``xtalsym predict``: records as text, a table (several inputs) or JSON; exit status 0
    all classified, 1 none, 3 some failed."""
    from ..predict import Classifier, format_record, format_table, predict_files
    from ..predict.batch import pattern_sets

    options = {
        "shaped": args.shaped,
        "top_k": args.top_k,
        "symprec": args.symprec,
        "tta": 0 if args.clean else args.tta,  # None: the library default (structures only)
        "min_confidence": args.min_confidence,
        "calibration": experimental_calibration(args),
        "rotations": args.rotations,
        "centre": args.centre,
        "mask": args.mask,
        "save_inputs": args.save_inputs,
    }
    # recorded patterns (a calibration given) default to the recorded-pattern model
    model = model_or_reference(args.model, recorded=options["calibration"] is not None)
    if args.images:
        if args.inputs:
            raise ValueError("give either --images or input files, not both")
        return run_batch(args, Classifier(model, **options), pattern_sets(args.images))
    if not args.inputs:
        raise ValueError("give structure files, pattern images, or --images MANIFEST|DIR")
    if args.output:  # many structure files: a row each, written as made
        sets = [{"name": p, "images": [p], "scale": None} for p in args.inputs]
        return run_batch(args, Classifier(model, **options), sets)
    if args.resume:
        raise ValueError("--resume goes with --output")
    records = predict_files(args.inputs, model, **options)
    failed = [r for r in records if r["status"] != "ok"]
    if args.json:
        print(json.dumps(records, indent=2))
    elif len(records) == 1 and not failed:
        print(format_record(records[0]))
    elif len(records) > 1:
        print(format_table(records))
    for r in failed:
        print(f"xtalsym predict: error: {r['error']}", file=sys.stderr)
    if not failed:
        return 0
    return 1 if len(failed) == len(records) else 3


def run_batch(args: argparse.Namespace, clf: object, sets: list[dict]) -> int:
    """Many inputs (``--images``, or structure files with ``--output``): one CSV row each
    (stdout, or appended to --output as made), progress on stderr; exit status as
    :func:`run_predict`."""
    import csv

    from tqdm import tqdm

    from ..predict.batch import OUTPUT_COLUMNS, predict_sets

    if args.resume and not args.output:
        raise ValueError("--resume needs --output")
    out = None if args.output else csv.DictWriter(sys.stdout, fieldnames=OUTPUT_COLUMNS)
    if out is not None:
        out.writeheader()
    n_ok = n_bad = 0
    rows = predict_sets(sets, clf, args.output, args.resume)
    for row in tqdm(rows, total=len(sets), unit="crystal", disable=None, file=sys.stderr):
        if out is not None:
            out.writerow(row)
        if row["status"] == "ok":
            n_ok += 1
        else:
            n_bad += 1
            print(f"xtalsym predict: {row['name']}: {row['error']}", file=sys.stderr)
    if not n_bad:
        return 0
    return 1 if not n_ok else 3
