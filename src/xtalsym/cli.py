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
from pathlib import Path
from typing import Any

from . import __version__
from .config import ConfigError, validate

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


def load_config(path: str | None, params: str | None) -> dict[str, Any]:
    """The validated config from an optional YAML file and an optional JSON override."""
    import yaml

    raw: dict[str, Any] = {}
    if path:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file not found: {p}")
        raw = yaml.safe_load(p.read_text()) or {}
        if not isinstance(raw, dict):
            raise ConfigError(f"{p}: the top level must be a mapping")
    if params:
        try:
            over = json.loads(params)
        except json.JSONDecodeError as e:
            raise ConfigError(f"--params is not valid JSON: {e}") from e
        raw = _merge(raw, over)
    return validate(raw)


def _add_config_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("configuration")
    g.add_argument("--config", metavar="FILE", help="YAML config (default: built-in defaults)")
    g.add_argument("--params", metavar="JSON", help="JSON object merged over the config")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="xtalsym",
        description="Space-group identification from simulated 2D diffraction patterns "
        "(XRD-Edge shaping + multistream DenseNet, after Tiong et al. 2020).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--version", action="version", version=f"xtalsym {__version__}")
    ap.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser(
        "structures",
        help="collect crystal structures (synthetic, CIF directory, Materials Project)",
        description="Collect, label (spglib) and standardise structures; writes "
        "structures.parquet, outcomes.csv, class_counts.csv/.png into --out.",
    )
    _add_config_args(p)
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")

    p = sub.add_parser(
        "simulate",
        help="simulate noisy 2D diffraction patterns along x, y, z",
        description="Simulate three 2D spot patterns per structure into an HDF5 file.",
    )
    _add_config_args(p)
    p.add_argument("--structures", required=True, metavar="PARQUET")
    p.add_argument("--out", required=True, metavar="H5")
    p.add_argument("--figure", metavar="PNG", help="also plot example patterns here")

    p = sub.add_parser(
        "shape",
        help="shape patterns into XRD-Edge images (HDF5, or plain image files)",
        description="Shape patterns (the authors' XRD-Edge algorithm). Either "
        "`--patterns H5 --mode MODE --out H5` (pipeline), or `IN.png ... --out DIR` "
        "(image files: writes the authors' RGB composition per file; the beam axis is taken "
        "from a _x/_y/_z name suffix, z otherwise).",
    )
    _add_config_args(p)
    p.add_argument("images", nargs="*", metavar="IN", help="pattern image files")
    p.add_argument("--patterns", metavar="H5", help="patterns.h5 from `xtalsym simulate`")
    p.add_argument("--mode", choices=["shaped", "unshaped"], default="shaped")
    p.add_argument("--out", required=True, metavar="PATH", help="output H5 or directory")
    p.add_argument("--figure", metavar="PNG", help="also plot raw vs shaped examples here")

    p = sub.add_parser(
        "split",
        help="stratified train/val/test split and class weights",
        description="Split structures per space group; writes split.csv, class_counts.*, "
        "class_weights.csv into --out.",
    )
    _add_config_args(p)
    p.add_argument("--structures", required=True, metavar="PARQUET")
    p.add_argument("--out", required=True, metavar="DIR")

    p = sub.add_parser(
        "train",
        help="train one model (MSDN or a baseline), resumable",
        description="Train the model named in config train.models; writes the bundle "
        "(model.pt, model_card.json, history.csv) and a per-epoch checkpoint.",
    )
    _add_config_args(p)
    p.add_argument("--model", required=True, help="model name (a key of train.models)")
    p.add_argument("--images", required=True, metavar="H5", help="shaped or unshaped images")
    p.add_argument("--split", required=True, metavar="CSV")
    p.add_argument("--weights", required=True, metavar="CSV", help="class_weights.csv")
    p.add_argument("--out", required=True, metavar="DIR", help="model bundle directory")
    p.add_argument("--checkpoint-dir", required=True, metavar="DIR")

    p = sub.add_parser(
        "evaluate",
        help="evaluate a trained model (test split, or your own structure files)",
        description="Pipeline form: --model BUNDLE --images H5 --split CSV --out DIR. "
        "User form: --structures DIR --model BUNDLE --out metrics.json evaluates on every "
        "structure file in DIR, labelled by spglib, simulated and shaped as in training.",
    )
    _add_config_args(p)
    p.add_argument("--model", required=True, metavar="BUNDLE", help="results/models/<name>")
    p.add_argument("--images", metavar="H5")
    p.add_argument("--split", metavar="CSV")
    p.add_argument("--structures", metavar="DIR", help="directory of CIF/POSCAR/... files")
    p.add_argument("--symprec", type=float, default=0.01, help="spglib tolerance, Å")
    p.add_argument("--out", required=True, metavar="PATH")

    p = sub.add_parser(
        "robustness",
        help="accuracy of each model against noise level",
        description="Re-simulate test crystals at increasing noise levels and classify.",
    )
    _add_config_args(p)
    p.add_argument("--models", required=True, nargs="+", metavar="BUNDLE")
    p.add_argument("--structures", required=True, metavar="PARQUET")
    p.add_argument("--split", required=True, metavar="CSV")
    p.add_argument("--out", required=True, metavar="DIR")

    p = sub.add_parser(
        "report",
        help="build the HTML/Markdown report",
        description="Collect metrics, curves, robustness and provenance into --out.",
    )
    _add_config_args(p)
    p.add_argument("--metrics", required=True, nargs="+", metavar="JSON")
    p.add_argument("--histories", required=True, nargs="+", metavar="CSV")
    p.add_argument("--robustness", metavar="CSV")
    p.add_argument("--structures-dir", required=True, metavar="DIR")
    p.add_argument("--split-dir", required=True, metavar="DIR")
    p.add_argument("--out", required=True, metavar="DIR")

    p = sub.add_parser(
        "predict",
        help="classify a structure file or three pattern images",
        description="Classify one structure file (CIF, POSCAR, anything pymatgen reads: it is "
        "simulated and shaped as in training), or three pattern images in x, y, z order "
        "(shaped unless --shaped; the authors' RGB format is accepted with --shaped).",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT")
    p.add_argument("--model", required=True, metavar="BUNDLE", help="results/models/<name>")
    p.add_argument("--shaped", action="store_true", help="images are already shaped")
    p.add_argument("--top-k", type=int, default=5)
    p.add_argument("--symprec", type=float, default=0.01, help="spglib tolerance, Å")
    p.add_argument(
        "--clean",
        action="store_true",
        help="simulate noise-free patterns (default: the model's training noise, fixed seed)",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    return ap


def _name_of(path: str) -> str:
    """Model name from a metrics/history path like results/evaluate/<name>/metrics.json."""
    return Path(path).parent.name


def dispatch(args: argparse.Namespace) -> int:
    cmd = args.command
    if cmd == "predict":
        from .predict import format_predictions, predict

        results = predict(
            args.inputs,
            args.model,
            shaped=args.shaped,
            top_k=args.top_k,
            symprec=args.symprec,
            clean=args.clean,
        )
        print(json.dumps(results, indent=2) if args.json else format_predictions(results))
        return 0

    cfg = load_config(args.config, args.params)
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

        run_split(cfg, args.structures, args.out)
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

            m = evaluate_structures(args.structures, args.model, args.out, symprec=args.symprec)
        elif args.images and args.split:
            from .evaluate import run_evaluation

            m = run_evaluation(cfg, args.model, args.images, args.split, args.out)
        else:
            raise SystemExit("xtalsym evaluate: give --structures DIR, or --images and --split")
        print(
            f"{m['n']} crystals: space group top-1 {m['sg_top1']:.3f}, top-5 {m['sg_top5']:.3f}, "
            f"balanced {m['sg_balanced_accuracy']:.3f}, crystal system {m['cs_accuracy']:.3f}"
        )
    elif cmd == "robustness":
        from .evaluate import run_robustness

        dirs = {Path(d).name: d for d in args.models}
        run_robustness(cfg, dirs, args.structures, args.split, args.out)
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
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        print(f"xtalsym {args.command}: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
