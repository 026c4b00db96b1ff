"""Configuration: load a YAML config, fill defaults, validate against the JSON schema.

The schema (``workflow/schemas/config.schema.yaml``, shipped in the package as
``xtalsym/data/config.schema.yaml``) is the single source of truth for keys, types, bounds and
defaults; Snakemake's ``validate`` and this module read the same file.
"""

from __future__ import annotations

import copy
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    """A configuration problem, naming the offending key."""


@cache
def _schema() -> dict[str, Any]:
    text = resources.files("xtalsym").joinpath("data/config.schema.yaml").read_text()
    return yaml.safe_load(text)


def schema() -> dict[str, Any]:
    """The config JSON schema (a fresh copy; parsed once per process: parsing takes ~0.25 s,
    and per-file defaults read it for every structure file)."""
    return copy.deepcopy(_schema())


def schema_default(*keys: str) -> Any:
    """The schema's default of config key ``keys`` (e.g. ``"structures", "symprec"``; defaults
    are never restated), a copy of that value only."""
    node = _schema()
    for key in keys:
        node = node["properties"][key]
    return copy.deepcopy(node["default"])


def _fill_defaults(node: dict[str, Any], sch: dict[str, Any]) -> None:
    for key, sub in sch.get("properties", {}).items():
        if key not in node and "default" in sub:
            node[key] = copy.deepcopy(sub["default"])
        if sub.get("type") == "object":
            node.setdefault(key, {})
            if isinstance(node[key], dict):
                _fill_defaults(node[key], sub)


def _key_path(err: Any) -> str:  # a jsonschema.ValidationError
    return ".".join(str(p) for p in err.absolute_path) or "<top level>"


def validate(config: dict[str, Any]) -> dict[str, Any]:
    """Return a validated copy of ``config`` with defaults filled in.

    Raises :class:`ConfigError` whose message names the bad key, e.g.
    ``structures.synthetic.per_class: -3 is less than the minimum of 1``.
    """
    sch = schema()
    cfg = copy.deepcopy(config)
    import jsonschema  # here: readers of defaults (predict) need not import it

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


def runtime_keys(sch: dict[str, Any] | None = None) -> list[tuple[str, ...]]:
    """Paths of the keys marked ``x-runtime: true`` in the schema, e.g. ("train", "device").

    Such keys choose how a stage runs (processes, chunking, device, memory), not what it
    produces, so rule params, resume keys and run hashes leave them out."""
    out: list[tuple[str, ...]] = []

    def walk(node: dict[str, Any], path: tuple[str, ...]) -> None:
        for key, sub in node.get("properties", {}).items():
            if sub.get("x-runtime"):
                out.append((*path, key))
            elif "properties" in sub:
                walk(sub, (*path, key))

    walk(schema() if sch is None else sch, ())
    return out


def split_runtime(
    cfg: dict[str, Any], keys: list[tuple[str, ...]] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``cfg`` as (without its runtime keys, only its runtime keys), both nested like ``cfg``.

    Sections absent from ``cfg`` are absent from both, so a stage's slice splits cleanly."""
    keep = copy.deepcopy(cfg)
    runtime: dict[str, Any] = {}
    for path in runtime_keys() if keys is None else keys:
        node, dest = keep, runtime
        for part in path[:-1]:
            if not isinstance(node.get(part), dict):
                break
            node, dest = node[part], dest.setdefault(part, {})
        else:
            if path[-1] in node:
                dest[path[-1]] = node.pop(path[-1])

    def prune(d: dict[str, Any]) -> dict[str, Any]:
        return {k: prune(v) if isinstance(v, dict) else v for k, v in d.items() if v != {}}

    return keep, prune(runtime)


def strip_runtime(cfg: dict[str, Any]) -> dict[str, Any]:
    """``cfg`` without its runtime keys (see :func:`runtime_keys`)."""
    return split_runtime(cfg)[0]


# The config section whose worker count a stage's command caps (``xtalsym CMD --threads N``).
WORKER_SECTION = {
    "structures": "structures",
    "patterns": "patterns",
    "shaping": "shaping",
    "simulate": "patterns",  # the short aliases of the two above
    "shape": "shaping",
    "train": "train",
    "robustness": "evaluate",
}


def cap_workers(cfg: dict[str, Any], command: str, threads: int) -> dict[str, Any]:
    """``cfg`` with the worker processes of ``command`` capped at ``threads`` (the cores a
    Snakemake job was given), so ``--cores`` bounds the processes a job starts."""
    section = WORKER_SECTION.get(command)
    if section is None:
        return cfg
    out = copy.deepcopy(cfg)
    out[section]["workers"] = min(int(out[section]["workers"]), max(1, int(threads)))
    return out


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` merged into a copy of ``base``, nested mappings key by key (as Snakemake merges
    --configfile overlays); other values of ``over`` replace those of ``base``."""
    out = dict(base)
    for k, v in over.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


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
