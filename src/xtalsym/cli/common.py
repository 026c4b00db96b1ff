"""What every subcommand shares: the config from --config/--params, the help format, the
argument types with their bounds, and the reference model."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..config import ConfigError, merge, validate

EPILOG = """\
Pipeline order: structures -> patterns -> shaping -> split -> train -> evaluate ->
robustness -> report (`simulate` and `shape` are short aliases of patterns and shaping).
`snakemake` runs them all with caching (see README); each subcommand also runs alone.
Run `xtalsym <command> --help` for a command's options."""


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
        raw = merge(raw, over)
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


def number_type(kind: type, lo: float | None = None, hi: float | None = None, *, open_lo=False):
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
symprec_type = number_type(float, 0.0, 1.0, open_lo=True)
#: how many classes to list: 1 or more.
top_k_type = number_type(int, 1)
#: test-time augmentation variants: 0 (clean) to 256.
tta_type = number_type(int, 0, 256)
#: a physical length or scale (mm, Å, Å⁻¹ per pixel): above 0.
positive_type = number_type(float, 0.0, open_lo=True)


#: The committed reference model (config/reference.yaml), used when --model is not given.
REFERENCE_MODEL = Path(__file__).resolve().parents[3] / "models" / "reference"
#: The model for recorded patterns (any angle and zone axes, one to three of them).
RECORDED_MODEL = REFERENCE_MODEL.parent / "recorded"


def model_or_reference(model: str | None, recorded: bool = False) -> str:
    """``model``, or a committed bundle when None: the recorded-pattern model for recorded
    pattern images (``recorded``), else the reference model (a clear error if absent)."""
    if model is not None:
        return model
    found = RECORDED_MODEL if recorded else REFERENCE_MODEL
    config = "config/recorded.yaml" if recorded else "config/reference.yaml"
    if not (found / "model_card.json").is_file():
        raise ValueError(
            f"no --model given and no committed model at {found} (a source checkout ships it; "
            f"otherwise train one: snakemake --configfile {config})"
        )
    return str(found)


def add_config_args(p: argparse.ArgumentParser) -> None:
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


def add_model_arg(p: argparse.ArgumentParser, form: str = "", several: bool = False) -> None:
    """``--model BUNDLE``, None meaning the committed reference model (``form``: which use of
    the command the default applies to, e.g. "user form "; ``several``: a list of bundles)."""
    more = (
        "; several (one --out each) are evaluated on one reading and simulation of the files"
        if several
        else ""
    )
    p.add_argument(
        "--model", metavar="BUNDLE", default=None, nargs="+" if several else None,
        help=f"model bundle directory (results/models/<name>); {form}default: the committed "
        f"reference model models/reference (config/reference.yaml){more}",
    )  # fmt: skip


def add_symprec_arg(p: argparse.ArgumentParser, form: str = "") -> None:
    """``--symprec TOL`` in Å, None meaning the model card's (``form`` as for add_model_arg)."""
    p.add_argument(
        "--symprec", type=symprec_type, default=None, metavar="TOL",
        help=f"{form}spglib tolerance in Å, in (0, 1] (default: the model card's "
        "structures.symprec, else the schema default)",
    )  # fmt: skip
