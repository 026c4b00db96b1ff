"""The whole DAG on the tiny config, through Snakemake itself: artifacts and reruns.

One module-scoped run of the tiny config (a handful of space groups, a few crystals each,
small images, one epoch) into a temporary results directory; then dry runs that check that
Snakemake reruns exactly the stages a config change affects.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import h5py
import pandas as pd
import pytest
import yaml

from xtalsym import __version__

from .conftest import ROOT, TINY_CONFIG, effective_config, tool_env

pytestmark = pytest.mark.slow

SNAKEMAKE = str(ROOT / ".venv" / "bin" / "snakemake")
DATA_RULES = {"generate_structures", "simulate_patterns", "shape_patterns", "split_dataset"}
EVAL_RULES = {"evaluate_model", "evaluate_robustness", "build_report"}


def snakemake(results: Path, tmp: Path, *extra: str, configfile: Path = TINY_CONFIG):
    # Targets first: anything after --config would be read as more key=value pairs.
    cmd = [SNAKEMAKE, *extra, "--cores", "2", "--configfile", str(configfile),
           "--config", f"results={results}"]  # fmt: skip
    return subprocess.run(
        cmd, cwd=ROOT, capture_output=True, text=True, env=tool_env(tmp), timeout=1200
    )


def planned_rules(results: Path, tmp: Path, configfile: Path = TINY_CONFIG) -> set[str]:
    """Rules a dry run would execute (from Snakemake's job-stats table)."""
    proc = snakemake(results, tmp, "-n", "--quiet", "rules", configfile=configfile)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = proc.stdout + proc.stderr
    rules = set(re.findall(r"^([a-z_]+)\s+\d+\s*$", text, flags=re.M))
    return rules - {"total", "all"}


def variant(tmp: Path, name: str, edit) -> Path:
    cfg = yaml.safe_load(TINY_CONFIG.read_text())
    edit(cfg)
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("e2e")
    results = tmp / "results"
    proc = snakemake(results, tmp)
    if proc.returncode != 0:
        logs = "\n".join(
            f"--- {p.name}\n{p.read_text()[-2000:]}" for p in sorted((results / "logs").glob("*"))
        )
        pytest.fail(f"snakemake failed:\n{proc.stderr[-4000:]}\n{logs}")
    return tmp, results


def test_every_artifact_exists_with_documented_shape(run):
    tmp, r = run
    cfg = effective_config(TINY_CONFIG)
    classes = cfg["classes"]

    s = pd.read_parquet(r / "structures/structures.parquet")
    cols = {"id", "source", "formula", "spacegroup", "symbol", "crystal_system", "n_sites",
            "a", "b", "c", "alpha", "beta", "gamma", "prototype", "structure"}  # fmt: skip
    assert cols <= set(s.columns)
    assert s["id"].is_unique and s["spacegroup"].isin(classes).all() and len(s) >= 30
    for name in ("outcomes.csv", "class_counts.csv", "class_counts.png"):
        assert (r / "structures" / name).stat().st_size > 0

    size, n_var = cfg["patterns"]["size"], cfg["patterns"]["n_variants"]
    with h5py.File(r / "patterns/patterns.h5") as f:
        assert f["patterns"].shape == (len(s), n_var, 3, size, size)
        assert f["patterns"].dtype == "uint8" and f["patterns"].compression == "gzip"
        assert f["patterns"].chunks is not None
        assert list(f["ids"].asstr()[...]) == list(s["id"])
        assert f.attrs["xtalsym_version"] == __version__
        assert json.loads(f.attrs["config"])["patterns"]["size"] == size
        assert f["patterns"][0].max() > 0

    sz = cfg["shaping"]["input_size"]
    for mode, c in (("shaped", 2), ("unshaped", 1)):
        with h5py.File(r / f"shaping/{mode}.h5") as f:
            assert f["images"].shape == (len(s), n_var, 3, c, sz, sz)
            assert f["images"].dtype == "uint8" and f["images"].compression == "gzip"
            assert list(f["ids"].asstr()[...]) == list(s["id"])
            assert f.attrs["mode"] == mode

    split = pd.read_csv(r / "split/split.csv")
    assert set(split["split"]) == {"train", "val", "test"}
    assert set(split["id"]) <= set(s["id"])
    for name in ("class_counts.csv", "class_weights.csv", "class_counts.png"):
        assert (r / "split" / name).stat().st_size > 0

    for model in cfg["train"]["models"]:
        bundle = r / "models" / model
        card = json.loads((bundle / "model_card.json").read_text())
        assert card["classes"] == classes and card["input_size"] == sz
        assert (bundle / "model.pt").stat().st_size > 0
        assert len(pd.read_csv(bundle / "history.csv")) == cfg["train"]["epochs"]
        assert (r / "train" / model / "checkpoint.pt").exists()
        m = json.loads((r / "evaluate" / model / "metrics.json").read_text())
        for key in ("sg_top1", "sg_top5", "sg_balanced_accuracy", "cs_accuracy"):
            assert 0.0 <= m[key] <= 1.0
        assert m["n"] == (split["split"] == "test").sum()

    rob = pd.read_csv(r / "evaluate/robustness.csv")
    assert set(rob["model"]) == set(cfg["train"]["models"])
    report = json.loads((r / "report/metrics.json").read_text())
    assert set(report) >= set(cfg["train"]["models"])
    html = (r / "report/index.html").read_text()
    assert "msdn" in html and "80.2" in html
    for p in re.findall(r'src="([^"]+)"', html):
        assert (r / "report" / p).exists(), p

    # One log and one benchmark record per rule.
    logs = {p.stem for p in (r / "logs").glob("*.log")}
    assert {"generate_structures", "simulate_patterns", "split_dataset", "build_report"} <= logs
    assert len(list((r / "benchmarks").glob("*.tsv"))) >= 8


def test_nothing_to_do_after_a_complete_run(run):
    tmp, r = run
    assert planned_rules(r, tmp) == set()


def test_shaping_change_reruns_shaping_and_downstream_only(run):
    tmp, r = run
    cfg = variant(tmp, "shaping", lambda c: c["shaping"].update({"quirks": {"line_gap": False}}))
    rules = planned_rules(r, tmp, cfg)
    assert "shape_patterns" in rules and "train_model" in rules and "build_report" in rules
    assert not rules & {"generate_structures", "simulate_patterns", "split_dataset"}


def test_evaluation_change_reruns_only_evaluation(run):
    tmp, r = run
    cfg = variant(tmp, "evaluate", lambda c: c["evaluate"].update({"top_k": 3}))
    rules = planned_rules(r, tmp, cfg)
    assert rules and rules <= EVAL_RULES


def test_new_structure_source_reruns_everything(run):
    tmp, r = run
    cif_dir = tmp / "cifs"
    cif_dir.mkdir(exist_ok=True)

    def edit(c):
        c["structures"]["sources"] = ["synthetic", "cif_dir"]
        c["structures"]["cif_dir"] = {"path": str(cif_dir)}

    rules = planned_rules(r, tmp, variant(tmp, "source", edit))
    assert DATA_RULES | {"train_model"} | EVAL_RULES <= rules


def test_same_config_gives_identical_data_artifacts(run, tmp_path):
    """Seeds: rerunning the data stages from scratch reproduces them bit for bit."""
    _, r = run
    r2 = tmp_path / "again"
    proc = snakemake(r2, tmp_path, f"{r2}/split/split.csv", f"{r2}/shaping/shaped.h5")
    assert proc.returncode == 0, proc.stderr[-3000:]
    a = pd.read_parquet(r / "structures/structures.parquet")
    b = pd.read_parquet(r2 / "structures/structures.parquet")
    pd.testing.assert_frame_equal(a, b)
    with h5py.File(r / "shaping/shaped.h5") as f, h5py.File(r2 / "shaping/shaped.h5") as g:
        assert (f["images"][...] == g["images"][...]).all()
    pd.testing.assert_frame_equal(
        pd.read_csv(r / "split/split.csv"), pd.read_csv(r2 / "split/split.csv")
    )


def test_learning_curve_adds_only_its_own_jobs_and_the_report(run):
    """Enabling evaluate.learning_curve on a finished run plans its subset, training and
    evaluation per (model, n), the aggregation and the report, and reruns no main stage."""
    tmp, r = run
    curve = {"enabled": True, "sizes": [2, 4], "models": ["msdn"]}
    cfg = variant(tmp, "curve", lambda c: c["evaluate"].update({"learning_curve": curve}))
    lc_rules = {f"learning_curve_{s}" for s in ("subset", "train", "evaluate", "aggregate")}
    assert planned_rules(r, tmp, cfg) == lc_rules | {"build_report"}
