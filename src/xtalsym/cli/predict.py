"""``xtalsym predict``: its parser, its help on input formats, and the command."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from ..inference import DEFAULT_TTA, schema_default
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
Pattern images (three files, along the model card's beams in their order: patterns.beams
zone_axes (the default) takes three zone axes of the crystal's system, e.g. cubic [001] [110]
[111], orthorhombic [100] [010] [001] (xtalsym.patterns.physics.ZONE_AXES); cartesian
(config/paper.yaml) the x, y, z of the standard cell; a _x/_y/_z name suffix is checked as
the first, second and third beam). Each must be what `xtalsym patterns` writes
(docs/artifacts.md, "patterns"):
  - square, 8-bit grayscale (colour is converted to luminance, 16 bit scaled to 8), with the
    side and scale the model was trained on: its card's patterns.size px (default {size} px)
    at patterns.scale Å^-1 per pixel (default {scale} Å^-1/px); another side is resized to
    the network input with a warning (the scale then differs from training), one smaller
    than the network input is refused;
  - the direct beam (g = 0) at the centre pixel (row H/2, column W/2);
  - intensity 255 * (I / I_ref)^gamma (gamma = patterns.gamma, default {gamma}), I_ref the
    strongest reflection other than the direct beam;
  - detector axes: u to the right (columns), v up (rows decrease); zone axes: u along the
    first of a, b, c not parallel to the beam n, projected onto the detector, v = n × u;
    cartesian: beam x: u = y, v = z; beam y: u = z, v = x; beam z: u = x, v = y (c along z,
    a in the xz plane; docs/artifacts.md "Orientation of x, y, z").
With --shaped: the authors' RGB shaped images (edge image in the axis channel x: R, y: G,
z: B; the normalised pattern in the other two).

Structures: spglib labels them at --symprec, they are standardised and simulated with the
model card's settings: the mean over --tta noisy variants (the card's training noise, fixed
seeds: the answer depends on the structure and the model only), or one clean simulation
with --tta 0 / --clean. The output says
the spglib group, whether it is one of the model's classes, and its rank and probability.

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
        "inputs", nargs="+", metavar="INPUT",
        help="structure file(s), or three pattern images (the model's three beams, in order)",
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
    from ..predict import format_record, format_table, predict_files

    records = predict_files(
        args.inputs,
        model_or_reference(args.model),
        shaped=args.shaped,
        top_k=args.top_k,
        symprec=args.symprec,
        tta=0 if args.clean else args.tta,  # None: the library default (structures only)
        min_confidence=args.min_confidence,
        calibration=experimental_calibration(args),
    )
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
