"""The parsers of the pipeline stages' subcommands, one builder per stage (xtalsym.cli)."""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Callable

from .. import __version__
from ..inference import DEFAULT_TTA
from .common import EPILOG, HelpFormatter, add_config_args, add_model_arg, add_symprec_arg, tta_type

Command = Callable[..., argparse.ArgumentParser]


def build_parser() -> argparse.ArgumentParser:
    """The ``xtalsym`` parser: one subcommand per stage (:data:`STAGE_COMMANDS`), ``predict``."""
    from .predict import add_predict_command

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
        p = sub.add_parser(name, formatter_class=HelpFormatter, **kw)
        p.set_defaults(command=name)  # the stage's name, also when called by an alias
        return p

    for add in STAGE_COMMANDS.values():
        add(command)
    add_predict_command(command)
    return ap


def _structures(command: Command) -> None:
    p = command(
        "structures",
        help="collect crystal structures (synthetic, CIF directory, Materials Project)",
        description="Collect, label (spglib) and standardise structures; writes "
        "structures.parquet, outcomes.csv, class_counts.csv/.png into --out.",
    )
    add_config_args(p)
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    _shard_options(
        p,
        "only shard K of N: the CIFs whose path hashes to K and every N-th chunk of the "
        "synthetic crystals, cached in --out for the --gather job; writes DIR/shards/K.json",
        "JSON",
        "the shard jobs' manifests (in shard order): write the artifacts, reading back "
        "what the shards cached (the same files as without shards)",
    )


def _shard_options(p, shard_help: str, gather_metavar: str, gather_help: str) -> None:
    """--shard K/N or --gather FILE...: a data stage's shard job, or its gather."""
    group = p.add_mutually_exclusive_group()
    group.add_argument("--shard", metavar="K/N", help=shard_help)
    group.add_argument("--gather", nargs="+", metavar=gather_metavar, help=gather_help)


def _patterns(command: Command) -> None:
    p = command(
        "patterns",
        aliases=["simulate"],
        help="simulate noisy 2D diffraction patterns along x, y, z",
        description="Simulate three 2D spot patterns per structure into an HDF5 file.",
    )
    add_config_args(p)
    p.add_argument(
        "--structures", required=True, metavar="PARQUET",
        help="structures.parquet from `xtalsym structures`",
    )  # fmt: skip
    p.add_argument(
        "--out", required=True, metavar="H5",
        help="patterns HDF5 to write (uint8 (N, variants, 3, H, W), docs/artifacts.md)",
    )  # fmt: skip
    p.add_argument("--figure", metavar="PNG", help="also plot example patterns here")
    _shard_options(
        p,
        "simulate only shard K of N (contiguous rows; config shards, xtalsym.shards)",
        "H5",
        "write --out as virtual datasets over these shard files (in shard order) "
        "instead of simulating",
    )


def _shaping(command: Command) -> None:
    p = command(
        "shaping",
        aliases=["shape"],
        help="shape patterns into XRD-Edge images (HDF5, or plain image files)",
        description="Shape patterns (the authors' XRD-Edge algorithm). Either "
        "`--patterns H5 --mode MODE --out H5` (pipeline), or `IN.png ... --out DIR` "
        "(image files: writes the authors' RGB composition per file; the beam axis is taken "
        "from a _x/_y/_z name suffix, z otherwise).",
    )
    add_config_args(p)
    p.add_argument(
        "images", nargs="*", metavar="IN",
        help="pattern image files (square, 8-bit grayscale; see `xtalsym predict --help`)",
    )  # fmt: skip
    p.add_argument("--patterns", metavar="H5", help="patterns.h5 from `xtalsym patterns`")
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
    p.add_argument(
        "--gather", nargs="+", metavar="H5",
        help="with --patterns (the gathered patterns.h5): write --out as virtual datasets "
        "over these images shards (in shard order) instead of shaping",
    )  # fmt: skip
    p.add_argument(
        "--view-of", metavar="H5",
        help="with --mode unshaped: write --out as a view of this shaped.h5's channel S (the "
        "unshaped image, bit for bit) instead of shaping; --patterns only for the figure",
    )  # fmt: skip


def _split(command: Command) -> None:
    p = command(
        "split",
        help="stratified train/val/test split and class weights",
        description="Split structures per space group; writes split.csv, class_counts.*, "
        "class_weights.csv into --out.",
    )
    add_config_args(p)
    p.add_argument(
        "--structures", required=True, metavar="PARQUET",
        help="structures.parquet from `xtalsym structures`",
    )  # fmt: skip
    p.add_argument(
        "--patterns", metavar="H5", help="patterns.h5: its failed crystals are left out"
    )  # fmt: skip
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")


def _train(command: Command) -> None:
    p = command(
        "train",
        help="train one model (MSDN or a baseline), resumable",
        description="Train the model named in config train.models; writes the bundle "
        "(model.pt, model_card.json, history.csv) and a per-epoch checkpoint.",
    )
    add_config_args(p)
    p.add_argument("--model", required=True, help="model name (a key of train.models)")
    p.add_argument(
        "--images", required=True, metavar="H5",
        help="shaped.h5 or unshaped.h5 from `xtalsym shaping` (the model's input mode)",
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


def _evaluate(command: Command) -> None:
    p = command(
        "evaluate",
        help="evaluate a trained model (test split, or your own structure files)",
        description="Pipeline form: --model BUNDLE --images H5 --split CSV --out DIR. "
        "User form: --structures DIR --model BUNDLE --out metrics.json evaluates on every "
        "structure file in DIR, labelled by spglib, simulated (--tta noisy variants, or "
        "clean with --tta 0) and shaped as in training.",
    )
    add_config_args(p)
    add_model_arg(p, "user form ", several=True)
    p.add_argument(
        "--images", metavar="H5", help="pipeline form: the shaped/unshaped HDF5 of the model"
    )  # fmt: skip
    p.add_argument("--split", metavar="CSV", help="pipeline form: split.csv (test rows used)")
    p.add_argument(
        "--structures", metavar="DIR",
        help="user form: directory of CIF/POSCAR/... files (searched recursively)",
    )  # fmt: skip
    add_symprec_arg(p, "user form: ")
    p.add_argument(
        "--tta", type=tta_type, default=DEFAULT_TTA,
        help="user form: N averages over N noisy variants (the model card's training noise, "
        "fixed seeds); 0 simulates each structure clean",
    )  # fmt: skip
    p.add_argument(
        "--out", required=True, metavar="PATH", nargs="+",
        help="output directory (pipeline form) or metrics JSON path (user form; one per "
        "--model)",
    )  # fmt: skip


def _robustness(command: Command) -> None:
    p = command(
        "robustness",
        help="accuracy of each model against noise level",
        description="Re-simulate test crystals at increasing noise levels and classify.",
    )
    add_config_args(p)
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


def _report(command: Command) -> None:
    p = command(
        "report",
        help="build the HTML/Markdown report",
        description="Collect metrics, curves, robustness and provenance into --out.",
    )
    add_config_args(p)
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


def _learning_curve(command: Command) -> None:
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
    add_config_args(q)
    q.add_argument("--split", required=True, metavar="CSV", help="split.csv of the split stage")
    q.add_argument(
        "--per-class", required=True, type=int, metavar="N", help="train crystals per group"
    )  # fmt: skip
    q.add_argument("--out-split", required=True, metavar="CSV", help="the subset split.csv")
    q.add_argument(
        "--out-weights", required=True, metavar="CSV", help="class weights of the subset"
    )  # fmt: skip
    q = lc.add_parser("aggregate", help="learning_curve.csv and learning_curve.png")
    add_config_args(q)
    q.add_argument("--metrics", required=True, nargs="+", metavar="JSON", help=".../<model>_n<N>/")
    q.add_argument("--cards", required=True, nargs="+", metavar="JSON", help="model_card.json")
    q.add_argument("--benchmarks", nargs="+", metavar="TSV", help="training benchmarks")
    q.add_argument("--out", required=True, metavar="DIR", help="where the curve is written")


#: Stage (subcommand) -> its parser builder, in pipeline order (names: docs/architecture.md).
STAGE_COMMANDS: dict[str, Callable[[Command], None]] = {
    "structures": _structures,
    "patterns": _patterns,
    "shaping": _shaping,
    "split": _split,
    "train": _train,
    "evaluate": _evaluate,
    "robustness": _robustness,
    "report": _report,
    "learning-curve": _learning_curve,
}
