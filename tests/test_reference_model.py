"""The committed reference model (models/reference/, built by scripts/reference_model.py from
config/reference.yaml): it loads, it was made with the simulation and shaping settings that
config still gives (so `predict` without --model sees what it was trained on), and its
recorded scores are the ones its metrics files hold."""

from __future__ import annotations

import json
from pathlib import Path

from xtalsym.cli import REFERENCE_MODEL, model_or_reference
from xtalsym.config import schema
from xtalsym.train import load_bundle

from .helpers import effective_config

ROOT = Path(__file__).resolve().parents[1]


def runtime_keys(section: str) -> set[str]:
    props = schema()["properties"][section]["properties"]
    return {k for k, v in props.items() if v.get("x-runtime")}


def test_reference_bundle_matches_its_config():
    assert REFERENCE_MODEL == ROOT / "models" / "reference"
    assert model_or_reference(None) == str(REFERENCE_MODEL)
    model, card = load_bundle(REFERENCE_MODEL)
    cfg = effective_config(ROOT / "config" / "reference.yaml")
    for section in ("patterns", "shaping"):
        skip = runtime_keys(section) | {"modes"}
        want = {k: v for k, v in cfg[section].items() if k not in skip}
        got = {k: v for k, v in card[section].items() if k not in skip}
        assert got == want, f"models/reference was made with other {section} settings: retrain it"
    assert card["arch"] == cfg["train"]["models"]["msdn"]["arch"]
    assert card["input_size"] == cfg["shaping"]["input_size"]
    assert sum(p.numel() for p in model.parameters()) > 10_000


def test_reference_metrics_are_recorded():
    for name in ("metrics_test.json", "metrics_real.json"):
        m = json.loads((REFERENCE_MODEL / name).read_text())
        assert 0 <= m["sg_top1"] <= m["sg_top5"] <= 1 and m["n"] > 50
    real = json.loads((REFERENCE_MODEL / "metrics_real.json").read_text())
    assert real["data"]["files"] >= 80  # the whole real-structure check set
