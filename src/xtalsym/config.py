"""Configuration: load a YAML config, fill defaults, validate against the JSON schema.

The schema (``workflow/schemas/config.schema.yaml``, shipped in the package as
``xtalsym/data/config.schema.yaml``) is the single source of truth for keys, types, bounds and
defaults; Snakemake's ``validate`` and this module read the same file.
"""

from __future__ import annotations

import copy
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml


class ConfigError(ValueError):
    """A configuration problem, naming the offending key."""


def schema() -> dict[str, Any]:
    text = resources.files("xtalsym").joinpath("data/config.schema.yaml").read_text()
    return yaml.safe_load(text)


def _fill_defaults(node: dict[str, Any], sch: dict[str, Any]) -> None:
    for key, sub in sch.get("properties", {}).items():
        if key not in node and "default" in sub:
            node[key] = copy.deepcopy(sub["default"])
        if sub.get("type") == "object":
            node.setdefault(key, {})
            if isinstance(node[key], dict):
                _fill_defaults(node[key], sub)


def _key_path(err: jsonschema.ValidationError) -> str:
    return ".".join(str(p) for p in err.absolute_path) or "<top level>"


def validate(config: dict[str, Any]) -> dict[str, Any]:
    """Return a validated copy of ``config`` with defaults filled in.

    Raises :class:`ConfigError` whose message names the bad key, e.g.
    ``structures.synthetic.per_class: -3 is less than the minimum of 1``.
    """
    sch = schema()
    cfg = copy.deepcopy(config)
    validator = jsonschema.Draft202012Validator(sch)
    errors = sorted(validator.iter_errors(cfg), key=lambda e: list(e.absolute_path))
    if not errors:
        _fill_defaults(cfg, sch)
        errors = sorted(validator.iter_errors(cfg), key=lambda e: list(e.absolute_path))
    if errors:
        lines = []
        for e in errors:
            msg = e.message
            if e.validator == "additionalProperties":
                extra = sorted(set(e.instance) - set(e.schema.get("properties", {})))
                where = _key_path(e)
                names = ", ".join(k if where == "<top level>" else f"{where}.{k}" for k in extra)
                msg = f"unknown key(s) {names}"
                lines.append(f"config: {msg}")
                continue
            lines.append(f"config key {_key_path(e)}: {msg}")
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines))
    return cfg


def load(path: str | Path) -> dict[str, Any]:
    """Load and validate a YAML config file."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError as e:
        raise ConfigError(f"config file not found: {path}") from e
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from e
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    return validate(raw)
