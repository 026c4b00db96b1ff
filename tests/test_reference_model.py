"""The committed models (models/reference/ and models/recorded/, built by
scripts/reference_model.py from config/reference.yaml and config/recorded.yaml): each loads, it was made with the simulation and shaping settings that
config still gives (so `predict` without --model sees what it was trained on), and its
recorded scores are the ones its metrics files hold."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xtalsym.cli import RECORDED_MODEL, REFERENCE_MODEL, model_or_reference
from xtalsym.config import schema
from xtalsym.train import load_bundle

from .helpers import effective_config

ROOT = Path(__file__).resolve().parents[1]


def runtime_keys(section: str) -> set[str]:
    props = schema()["properties"][section]["properties"]
    return {k for k, v in props.items() if v.get("x-runtime")}


#: committed bundle -> (its config, the model it trains)
BUNDLES = {
    "reference": ("config/reference.yaml", "msdn"),
    "recorded": ("config/recorded.yaml", "msdn_set"),
}


@pytest.mark.parametrize("name", sorted(BUNDLES))
def test_committed_bundle_matches_its_config(name):
    assert REFERENCE_MODEL == ROOT / "models" / "reference"
    assert RECORDED_MODEL == ROOT / "models" / "recorded"
    assert model_or_reference(None) == str(REFERENCE_MODEL)
    assert model_or_reference(None, recorded=True) == str(RECORDED_MODEL)
    config, arch = BUNDLES[name]
    model, card = load_bundle(ROOT / "models" / name)
    cfg = effective_config(ROOT / config)
    for section in ("patterns", "shaping"):
        skip = runtime_keys(section) | {"modes"}
        want = {k: v for k, v in cfg[section].items() if k not in skip}
        got = {k: v for k, v in card[section].items() if k not in skip}
        assert got == want, f"models/{name} was made with other {section} settings: retrain it"
    assert card["arch"] == cfg["train"]["models"][arch]["arch"] == arch
    assert card["input_size"] == cfg["shaping"]["input_size"]
    assert sum(p.numel() for p in model.parameters()) > 10_000


@pytest.mark.parametrize("name", sorted(BUNDLES))
def test_committed_metrics_are_recorded(name):
    for metrics in ("metrics_test.json", "metrics_real.json"):
        m = json.loads((ROOT / "models" / name / metrics).read_text())
        assert 0 <= m["sg_top1"] <= m["sg_top5"] <= 1 and m["n"] > 50
    real = json.loads((ROOT / "models" / name / "metrics_real.json").read_text())
    assert real["data"]["files"] >= 80  # the whole real-structure check set
