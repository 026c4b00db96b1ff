"""The ``xtalsym`` command line: one subcommand per pipeline stage, plus ``predict``.

Each stage subcommand reads and writes the same artifacts as its Snakemake rule and runs
without Snakemake. Settings come from ``--config FILE`` (a YAML config, validated against the
schema) and/or ``--params JSON`` (a JSON object merged over it; the rules pass their own
config slice this way), defaults filling the rest.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import textwrap
from pathlib import Path
from typing import Any

from . import __version__
from .config import ConfigError, cap_workers, validate

logger = logging.getLogger("xtalsym")

EPILOG = """\
Pipeline order: structures -> simulate -> shape -> split -> train -> evaluate -> report.
`snakemake` runs them all with caching (see README); each subcommand also runs alone.
Run `xtalsym <command> --help` for a command's options."""


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def load_config(path: str | None, params: str | list[str] | None) -> dict[str, Any]:
    """The validated config from an optional YAML file and JSON overrides (merged in order)."""
    import yaml

    raw: dict[str, Any] = {}
    if path:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file not found: {p}")
        raw = yaml.safe_load(p.read_text()) or {}
        if not isinstance(raw, dict):
            raise ConfigError(f"{p}: the top level must be a mapping")
    for text in [params] if isinstance(params, str) else params or []:
        try:
            over = json.loads(text)
        except json.JSONDecodeError as e:
            raise ConfigError(f"--params is not valid JSON: {e}") from e
        raw = _merge(raw, over)
    return validate(raw)


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions as written, and every option's default (when it has one) after its help."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            "%(default)" not in text
            and action.option_strings
            and default not in (None, False, argparse.SUPPRESS)
        ):
            text += " (default: %(default)s)"
        return text


# ---------------------------------------------------------------- argument types


def _number(kind: type, lo: float | None = None, hi: float | None = None, *, open_lo=False):
    """An argparse type: ``kind`` (int or float) within bounds, else a message saying why."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not {'an integer' if kind is int else 'a number'}"
            ) from None
        if kind is float and value != value:
            raise argparse.ArgumentTypeError("NaN is not a valid value")
        if lo is not None and (value <= lo if open_lo else value < lo):
            raise argparse.ArgumentTypeError(
                f"{text} must be {'greater than' if open_lo else 'at least'} {lo:g}"
            )
        if hi is not None and value > hi:
            raise argparse.ArgumentTypeError(f"{text} must be at most {hi:g}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


#: spglib tolerance in Å: (0, 1], as structures.symprec in the schema.
symprec_type = _number(float, 0.0, 1.0, open_lo=True)
#: how many classes to list: 1 or more.
top_k_type = _number(int, 1)
#: test-time augmentation variants: 0 (clean) to 256.
tta_type = _number(int, 0, 256)


#: The committed reference model (config/reference.yaml), used when --model is not given.
REFERENCE_MODEL = Path(__file__).resolve().parents[2] / "models" / "reference"


def model_or_reference(model: str | None) -> str:
    """``model``, or the committed reference bundle when None (a clear error if absent)."""
    if model is not None:
        return model
    if not (REFERENCE_MODEL / "model_card.json").is_file():
        raise ValueError(
            f"no --model given and no reference model at {REFERENCE_MODEL} (a source checkout "
            "ships it; otherwise train one: snakemake --configfile config/reference.yaml)"
        )
    return str(REFERENCE_MODEL)


def _add_config_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("configuration")
    g.add_argument(
        "--config", metavar="FILE", help="YAML config, validated against the schema "
        "(default: the schema's built-in defaults)"
    )  # fmt: skip
    g.add_argument(
        "--params", metavar="JSON", action="append",
        help="JSON object merged over the config (repeatable, merged in order; the Snakemake "
        "rules pass their config slice this way)",
    )  # fmt: skip
    g.add_argument(
        "--threads", type=int, metavar="N",
        help="cores this run may use: caps its worker processes and torch threads",
    )  # fmt: skip


def _default_tta() -> int:
    from .predict import DEFAULT_TTA

    return DEFAULT_TTA


def _schema_default(section: str, key: str):
    from .predict import schema_default

    return schema_default(section, key)


def pattern_image_help() -> str:
    """What a raw pattern image given to ``predict`` must be (defaults from the schema)."""
    size = _schema_default("patterns", "size")
    scale = _schema_default("patterns", "scale")
    gamma = _schema_default("patterns", "gamma")
    return f"""\
Pattern images (three files, beams along x, y, z, in that order; a _x/_y/_z name suffix is
checked). Each must be what `xtalsym simulate` writes (docs/artifacts.md, "patterns"):
  - square, 8-bit grayscale (colour is converted to luminance, 16 bit scaled to 8), with the
    side and scale the model was trained on: its card's patterns.size px (default {size} px)
    at patterns.scale Å^-1 per pixel (default {scale} Å^-1/px); another side is resized to
    the network input with a warning (the scale then differs from training), one smaller
    than the network input is refused;
  - the direct beam (g = 0) at the centre pixel (row H/2, column W/2);
  - intensity 255 * (I / I_ref)^gamma (gamma = patterns.gamma, default {gamma}), I_ref the
    strongest reflection other than the direct beam;
  - detector axes: u to the right (columns), v up (rows decrease); beam x: u = y, v = z;
    beam y: u = z, v = x; beam z: u = x, v = y (Cartesian axes of the standard cell: c along
    z, a in the xz plane, docs/artifacts.md "Orientation of x, y, z").
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


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="xtalsym",
        description="Space-group identification from simulated 2D diffraction patterns "
        "(XRD-Edge shaping + multistream DenseNet, after Tiong et al. 2020).",
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    ap.add_argument("--version", action="version", version=f"xtalsym {__version__}")
    ap.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, **kw) -> argparse.ArgumentParser:
        kw["description"] = textwrap.fill(kw["description"], 92)
        return sub.add_parser(name, formatter_class=HelpFormatter, **kw)

    p = command(
        "structures",
        help="collect crystal structures (synthetic, CIF directory, Materials Project)",
        description="Collect, label (spglib) and standardise structures; writes "
        "structures.parquet, outcomes.csv, class_counts.csv/.png into --out.",
    )
    _add_config_args(p)
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")

    p = command(
        "simulate",
        help="simulate noisy 2D diffraction patterns along x, y, z",
        description="Simulate three 2D spot patterns per structure into an HDF5 file.",
    )
    _add_config_args(p)
    p.add_argument(
        "--structures", required=True, metavar="PARQUET",
        help="structures.parquet from `xtalsym structures`",
    )  # fmt: skip
    p.add_argument(
        "--out", required=True, metavar="H5",
        help="patterns HDF5 to write (uint8 (N, variants, 3, H, W), docs/artifacts.md)",
    )  # fmt: skip
    p.add_argument("--figure", metavar="PNG", help="also plot example patterns here")

    p = command(
        "shape",
        help="shape patterns into XRD-Edge images (HDF5, or plain image files)",
        description="Shape patterns (the authors' XRD-Edge algorithm). Either "
        "`--patterns H5 --mode MODE --out H5` (pipeline), or `IN.png ... --out DIR` "
        "(image files: writes the authors' RGB composition per file; the beam axis is taken "
        "from a _x/_y/_z name suffix, z otherwise).",
    )
    _add_config_args(p)
    p.add_argument(
        "images", nargs="*", metavar="IN",
        help="pattern image files (square, 8-bit grayscale; see `xtalsym predict --help`)",
    )  # fmt: skip
    p.add_argument("--patterns", metavar="H5", help="patterns.h5 from `xtalsym simulate`")
    p.add_argument(
        "--mode", choices=["shaped", "unshaped"], default="shaped",
        help="shaped: edge image E and normalised pattern S per axis; unshaped: S only "
        "(the ablation input)",
    )  # fmt: skip
    p.add_argument(
        "--out", required=True, metavar="PATH",
        help="output HDF5 (with --patterns) or directory (with image files)",
    )  # fmt: skip
    p.add_argument("--figure", metavar="PNG", help="also plot raw vs shaped examples here")

    p = command(
        "split",
        help="stratified train/val/test split and class weights",
        description="Split structures per space group; writes split.csv, class_counts.*, "
        "class_weights.csv into --out.",
    )
    _add_config_args(p)
    p.add_argument(
        "--structures", required=True, metavar="PARQUET",
        help="structures.parquet from `xtalsym structures`",
    )  # fmt: skip
    p.add_argument(
        "--patterns", metavar="H5", help="patterns.h5: its failed crystals are left out"
    )  # fmt: skip
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")

    p = command(
        "train",
        help="train one model (MSDN or a baseline), resumable",
        description="Train the model named in config train.models; writes the bundle "
        "(model.pt, model_card.json, history.csv) and a per-epoch checkpoint.",
    )
    _add_config_args(p)
    p.add_argument("--model", required=True, help="model name (a key of train.models)")
    p.add_argument(
        "--images", required=True, metavar="H5",
        help="shaped.h5 or unshaped.h5 from `xtalsym shape` (the model's input mode)",
    )  # fmt: skip
    p.add_argument(
        "--split", required=True, metavar="CSV", help="split.csv from `xtalsym split`"
    )  # fmt: skip
    p.add_argument(
        "--weights", required=True, metavar="CSV", help="class_weights.csv from `xtalsym split`"
    )  # fmt: skip
    p.add_argument("--out", required=True, metavar="DIR", help="model bundle directory")
    p.add_argument(
        "--checkpoint-dir", required=True, metavar="DIR",
        help="where the per-epoch checkpoint lives (an interrupted run resumes from it)",
    )  # fmt: skip

    p = command(
        "evaluate",
        help="evaluate a trained model (test split, or your own structure files)",
        description="Pipeline form: --model BUNDLE --images H5 --split CSV --out DIR. "
        "User form: --structures DIR --model BUNDLE --out metrics.json evaluates on every "
        "structure file in DIR, labelled by spglib, simulated (--tta noisy variants, or "
        "clean with --tta 0) and shaped as in training.",
    )
    _add_config_args(p)
    p.add_argument(
        "--model", metavar="BUNDLE", default=None,
        help="model bundle directory (results/models/<name>); user form default: the "
        "committed reference model models/reference",
    )  # fmt: skip
    p.add_argument(
        "--images", metavar="H5", help="pipeline form: the shaped/unshaped HDF5 of the model"
    )  # fmt: skip
    p.add_argument("--split", metavar="CSV", help="pipeline form: split.csv (test rows used)")
    p.add_argument(
        "--structures", metavar="DIR",
        help="user form: directory of CIF/POSCAR/... files (searched recursively)",
    )  # fmt: skip
    p.add_argument(
        "--symprec", type=symprec_type, default=None,
        help="user form: spglib tolerance in Å, in (0, 1] (default: the model card's "
        "structures.symprec, else the schema default)",
    )  # fmt: skip
    p.add_argument(
        "--tta", type=tta_type, default=_default_tta(),
        help="user form: N averages over N noisy variants (the model card's training noise, "
        "fixed seeds); 0 simulates each structure clean",
    )  # fmt: skip
    p.add_argument(
        "--out", required=True, metavar="PATH",
        help="output directory (pipeline form) or metrics JSON path (user form)",
    )  # fmt: skip

    p = command(
        "robustness",
        help="accuracy of each model against noise level",
        description="Re-simulate test crystals at increasing noise levels and classify.",
    )
    _add_config_args(p)
    p.add_argument(
        "--models", required=True, nargs="+", metavar="BUNDLE", help="model bundle directories"
    )  # fmt: skip
    p.add_argument(
        "--structures", required=True, metavar="PARQUET",
        help="structures.parquet (the test crystals are re-simulated from it)",
    )  # fmt: skip
    p.add_argument("--split", required=True, metavar="CSV", help="split.csv (test rows used)")
    p.add_argument(
        "--out", required=True, metavar="DIR", help="output directory (robustness.csv, .png)"
    )  # fmt: skip

    p = command(
        "report",
        help="build the HTML/Markdown report",
        description="Collect metrics, curves, robustness and provenance into --out.",
    )
    _add_config_args(p)
    p.add_argument(
        "--metrics", required=True, nargs="+", metavar="JSON",
        help="metrics.json per model (results/evaluate/<model>/metrics.json; the directory "
        "name is the model name)",
    )  # fmt: skip
    p.add_argument(
        "--histories", required=True, nargs="+", metavar="CSV",
        help="history.csv per model (results/models/<model>/history.csv)",
    )  # fmt: skip
    p.add_argument("--robustness", metavar="CSV", help="robustness.csv, if the sweep ran")
    p.add_argument(
        "--real-metrics", nargs="+", metavar="JSON",
        help="real-structure check metrics, results/evaluate/<model>/real/metrics.json",
    )  # fmt: skip
    p.add_argument(
        "--structures-dir", required=True, metavar="DIR",
        help="the structures stage's output directory (provenance)",
    )  # fmt: skip
    p.add_argument(
        "--split-dir", required=True, metavar="DIR",
        help="the split stage's output directory (split sizes)",
    )  # fmt: skip
    p.add_argument(
        "--figures", nargs="*", default=[], metavar="PNG", help="example figures of the stages"
    )  # fmt: skip
    p.add_argument(
        "--learning-curve", metavar="CSV", help="learning_curve.csv (.png beside it)"
    )  # fmt: skip
    p.add_argument("--out", required=True, metavar="DIR", help="report directory")

    p = command(
        "learning-curve",
        help="learning curve: train subsets of a split, and accuracy against their size",
        description="`subset`: a split with at most N train crystals per space group (seeded, "
        "nested; val and test unchanged) and its class weights. `aggregate`: one row per "
        "(model, N) from evaluations in <model>_n<N> directories -> learning_curve.csv/.png.",
    )
    lc = p.add_subparsers(
        dest="action", metavar="ACTION", required=True, help="subset or aggregate (see above)"
    )
    q = lc.add_parser("subset", help="train rows cut to N per space group")
    _add_config_args(q)
    q.add_argument("--split", required=True, metavar="CSV", help="split.csv of the split stage")
    q.add_argument(
        "--per-class", required=True, type=int, metavar="N", help="train crystals per group"
    )  # fmt: skip
    q.add_argument("--out-split", required=True, metavar="CSV", help="the subset split.csv")
    q.add_argument(
        "--out-weights", required=True, metavar="CSV", help="class weights of the subset"
    )  # fmt: skip
    q = lc.add_parser("aggregate", help="learning_curve.csv and learning_curve.png")
    _add_config_args(q)
    q.add_argument("--metrics", required=True, nargs="+", metavar="JSON", help=".../<model>_n<N>/")
    q.add_argument("--cards", required=True, nargs="+", metavar="JSON", help="model_card.json")
    q.add_argument("--benchmarks", nargs="+", metavar="TSV", help="training benchmarks")
    q.add_argument("--out", required=True, metavar="DIR", help="where the curve is written")

    p = command(
        "predict",
        help="classify structure files or three pattern images",
        description="Classify structure files (CIF, POSCAR, anything pymatgen reads: each is "
        "simulated and shaped as in training), or three pattern images in x, y, z order "
        "(shaped unless --shaped; the authors' RGB format is accepted with --shaped).",
        epilog=pattern_image_help(),
    )
    p.add_argument(
        "inputs", nargs="+", metavar="INPUT",
        help="structure file(s), or three pattern images x, y, z",
    )  # fmt: skip
    p.add_argument(
        "--model", metavar="BUNDLE", default=None,
        help="model bundle directory (results/models/<name>); default: the committed "
        "reference model models/reference (config/reference.yaml)",
    )  # fmt: skip
    p.add_argument(
        "--shaped", action="store_true",
        help="the images are already shaped (the authors' RGB format)",
    )  # fmt: skip
    p.add_argument(
        "--min-confidence", type=_number(float, 0.0, 1.0), default=0.0, metavar="P",
        help="below this top probability the answer is 'undecided', with the top candidates",
    )  # fmt: skip
    p.add_argument(
        "--scale", type=_number(float, 0.0, open_lo=True), metavar="A^-1/px",
        help="experimental pattern images: their scale in Å⁻¹ per pixel (any size and bit "
        "depth; the direct beam is found and the image resampled to the model's grid)",
    )  # fmt: skip
    p.add_argument(
        "--camera-length", type=_number(float, 0.0, open_lo=True), metavar="MM",
        help="experimental images: camera length in mm (with --wavelength and --pixel-size)",
    )  # fmt: skip
    p.add_argument(
        "--wavelength", type=_number(float, 0.0, open_lo=True), metavar="Å",
        help="experimental images: wavelength in Å (with --camera-length)",
    )  # fmt: skip
    p.add_argument(
        "--pixel-size", type=_number(float, 0.0, open_lo=True), metavar="MM",
        help="experimental images: detector pixel size in mm (with --camera-length)",
    )  # fmt: skip
    p.add_argument(
        "--top-k", type=top_k_type, default=5, metavar="K",
        help="how many space groups to list, 1 or more (capped at the model's classes)",
    )  # fmt: skip
    p.add_argument(
        "--symprec", type=symprec_type, default=None, metavar="TOL",
        help="spglib tolerance in Å, in (0, 1] (default: the model card's structures.symprec, "
        "else the schema default)",
    )  # fmt: skip
    p.add_argument(
        "--tta", type=tta_type, default=None, metavar="N",
        help=f"structures: N averages the probabilities over N noisy simulations (the model "
        f"card's training noise, fixed seeds); 0 classifies one clean simulation (default: "
        f"{_default_tta()} for structures; images are never simulated)",
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
    return ap


def _name_of(path: str) -> str:
    """Model name from a metrics/history path like results/evaluate/<name>/metrics.json."""
    return Path(path).parent.name


def summary_line(m: dict[str, Any]) -> str:
    """The evaluate command's one-line summary, counting skipped files in the user form."""
    data = m.get("data") or {}
    head = f"{m['n']} crystals"
    if "files" in data:
        head += (
            f" ({data['skipped']} of {data['files']} files skipped, reasons in "
            f"{data.get('outcomes', 'outcomes.csv')})"
        )
    return (
        f"{head}: space group top-1 {m['sg_top1']:.3f}, top-5 {m['sg_top5']:.3f}, "
        f"balanced {m['sg_balanced_accuracy']:.3f}, crystal system {m['cs_accuracy']:.3f}"
    )


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
    from .predict import DEFAULT_TTA, format_record, format_table, is_image, predict_files

    images = len(args.inputs) == 3 and all(is_image(Path(p)) for p in args.inputs)
    if args.clean:
        args.tta = 0
    elif args.tta is None:
        args.tta = 0 if images else DEFAULT_TTA
    records = predict_files(
        args.inputs,
        model_or_reference(args.model),
        shaped=args.shaped,
        top_k=args.top_k,
        symprec=args.symprec,
        tta=args.tta,
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


def dispatch(args: argparse.Namespace) -> int:
    cmd = args.command
    if cmd == "predict":
        return run_predict(args)

    cfg = load_config(args.config, args.params)
    if args.threads:
        cfg = cap_workers(cfg, cmd, args.threads)
        if cmd in ("train", "evaluate", "robustness"):
            import torch

            torch.set_num_threads(args.threads)
    if cmd == "structures":
        from .structures import run_structures

        run_structures(cfg, args.out)
    elif cmd == "simulate":
        from .patterns import run_simulation

        run_simulation(cfg, args.structures, args.out, figure_path=args.figure)
    elif cmd == "shape":
        from . import shaping

        opts = shaping.ShapingOptions.from_config(cfg["shaping"]["quirks"])
        if args.patterns:
            shaping.run_shaping(cfg, args.patterns, args.mode, args.out, figure_path=args.figure)
        elif args.images:
            outcomes = shaping.shape_image_files([Path(p) for p in args.images], args.out, opts)
            bad = [o for o in outcomes if o[1] != "ok"]
            for path, _, reason in bad:
                print(f"skipped {path}: {reason}", file=sys.stderr)
            print(f"shaped {len(outcomes) - len(bad)} of {len(outcomes)} image(s) into {args.out}")
            return 1 if len(bad) == len(outcomes) else 0
        else:
            raise SystemExit("xtalsym shape: give --patterns H5 or image files")
    elif cmd == "split":
        from .split import run_split

        run_split(cfg, args.structures, args.out, patterns_path=args.patterns)
    elif cmd == "train":
        from .train import run_training
        from .train.launch import relaunch

        paths = {"images": args.images, "split": args.split, "weights": args.weights}
        paths |= {"out": args.out, "checkpoint-dir": args.checkpoint_dir}
        argv = ["--model", args.model, *(f"--{k}={v}" for k, v in paths.items())]
        rc = relaunch(cfg, argv)  # train.processes > 1: one process per GPU via srun/torchrun
        if rc is not None:
            return rc
        run_training(
            cfg, args.model, args.images, args.split, args.weights, args.out, args.checkpoint_dir
        )
    elif cmd == "evaluate":
        if args.structures:
            from .predict import evaluate_structures

            m = evaluate_structures(
                args.structures, model_or_reference(args.model), args.out,
                symprec=args.symprec, tta=args.tta,
            )  # fmt: skip
        elif args.images and args.split and args.model:
            from .evaluate import run_evaluation

            m = run_evaluation(cfg, args.model, args.images, args.split, args.out)
        else:
            raise SystemExit(
                "xtalsym evaluate: give --structures DIR, or --model, --images and --split"
            )
        print(summary_line(m))
    elif cmd == "robustness":
        from .evaluate import run_robustness

        dirs = {Path(d).name: d for d in args.models}
        run_robustness(cfg, dirs, args.structures, args.split, args.out)
    elif cmd == "learning-curve":
        from .evaluate import learning_curve as lcm

        if args.action == "subset":
            lcm.run_subset(cfg, args.split, args.per_class, args.out_split, args.out_weights)
        else:
            benches = args.benchmarks or [None] * len(args.metrics)
            if not len(args.metrics) == len(args.cards) == len(benches):
                raise ValueError("--metrics, --cards and --benchmarks must be as many each")
            runs = [
                lcm.Run.from_paths(*t) for t in zip(args.metrics, args.cards, benches, strict=True)
            ]
            from .spacegroups import resolve_classes

            lcm.run_aggregate(runs, args.out, n_classes=len(resolve_classes(cfg["classes"])))
    elif cmd == "report":
        from .evaluate import build_report

        build_report(
            cfg,
            {_name_of(p): p for p in args.metrics},
            {_name_of(p): p for p in args.histories},
            args.robustness,
            args.structures_dir,
            args.split_dir,
            args.out,
            example_figures=args.figures,
            real_metrics_paths=(
                {Path(p).parent.parent.name: p for p in args.real_metrics}
                if args.real_metrics
                else None
            ),
            learning_curve=args.learning_curve,
        )
        print(f"report: {Path(args.out) / 'index.html'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    try:
        return dispatch(args)
    except ConfigError as e:
        print(f"xtalsym: {e}", file=sys.stderr)
        return 2
    except (ValueError, OSError, RuntimeError) as e:  # OSError: e.g. a full disk, named
        print(f"xtalsym {args.command}: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
