"""Write the README's results table from a finished run (``make readme-results``).

Usage: python scripts/readme_results.py [--readme README.md] [--results results]
[--config config.yaml]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from xtalsym.evaluate.readme import update_readme


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    ap.add_argument("--readme", default="README.md", help="the README to update in place")
    ap.add_argument(
        "--results", default="results",
        help="the run's results directory (report/metrics.json, benchmarks/)",
    )  # fmt: skip
    ap.add_argument("--config", default="config.yaml", help="the config the run used (named)")
    args = ap.parse_args(argv)
    results = Path(args.results)
    try:
        block = update_readme(
            args.readme, results / "report" / "metrics.json", results / "benchmarks", args.config
        )
    except ValueError as e:
        print(f"readme_results: {e}", file=sys.stderr)
        return 1
    print(block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
