"""Write one validated config from YAML files and JSON overrides, merged in order.

    python scripts/gpu_config.py OUT.yaml config.yaml config/paper.yaml --set '{"train": ...}'

As Snakemake merges ``--configfile`` overlays (:func:`xtalsym.config.merge`), then validated
with the schema's defaults filled in, so that each ``xtalsym <stage> --config OUT.yaml`` of
scripts/gpu_check.sh reads the same settings. A model set to null is dropped, as the rules
drop it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml

from xtalsym.config import merge, validate


def build(files: list[str], overrides: list[str]) -> dict:
    cfg: dict = {}
    for path in files:
        cfg = merge(cfg, yaml.safe_load(Path(path).read_text()) or {})
    for text in overrides:
        cfg = merge(cfg, json.loads(text))
    models = cfg.get("train", {}).get("models")
    if models:
        cfg["train"]["models"] = {name: spec for name, spec in models.items() if spec}
    return validate(cfg)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", help="the merged config (YAML) to write")
    ap.add_argument("files", nargs="+", help="YAML configs, later ones merged over earlier")
    ap.add_argument("--set", action="append", default=[], metavar="JSON", help="overrides")
    args = ap.parse_args()
    cfg = build(args.files, args.set)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(yaml.safe_dump(cfg, sort_keys=False))
    print(json.dumps({"out": args.out, "models": list(cfg["train"]["models"])}))


if __name__ == "__main__":
    main()
