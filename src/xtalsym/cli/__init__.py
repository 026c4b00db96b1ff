"""The ``xtalsym`` command line: one subcommand per pipeline stage, plus ``predict``.

Each stage subcommand reads and writes the same artifacts as its Snakemake rule and runs
without Snakemake (the names of stages, rules, subcommands and functions: docs/architecture.md).
Settings come from ``--config FILE`` (a YAML config, validated against the schema) and/or
``--params JSON`` (a JSON object merged over it; the rules pass their own config slice this
way), defaults filling the rest.

- :mod:`.common`: config loading, help format, argument types, the reference model;
- :mod:`.parsers`: ``build_parser`` and one parser builder per stage;
- :mod:`.predict`: the ``predict`` subcommand;
- :mod:`.run`: ``dispatch``, the stage function each subcommand calls.
"""

from __future__ import annotations

import logging
import sys

from ..config import ConfigError
from .common import (
    RECORDED_MODEL,
    REFERENCE_MODEL,
    HelpFormatter,
    load_config,
    model_or_reference,
    symprec_type,
    top_k_type,
    tta_type,
)
from .parsers import STAGE_COMMANDS, build_parser
from .predict import experimental_calibration, pattern_image_help, run_predict
from .run import dispatch, summary_line

logger = logging.getLogger("xtalsym")


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


__all__ = [
    "RECORDED_MODEL",
    "REFERENCE_MODEL",
    "STAGE_COMMANDS",
    "HelpFormatter",
    "build_parser",
    "dispatch",
    "experimental_calibration",
    "load_config",
    "main",
    "model_or_reference",
    "pattern_image_help",
    "run_predict",
    "summary_line",
    "symprec_type",
    "top_k_type",
    "tta_type",
]
