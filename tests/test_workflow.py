"""The whole DAG on the tiny config, through Snakemake itself: artifacts and reruns.

One module-scoped run of the tiny config (a handful of space groups, a few crystals each,
small images, one epoch) into a temporary results directory; then dry runs that check that
Snakemake reruns exactly the stages a config change affects.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import h5py
import pandas as pd
import pytest
import yaml

from xtalsym import __version__
from xtalsym.config import runtime_keys
from xtalsym.config import schema as config_schema

from .helpers import ROOT, TINY_CONFIG, VENV_BIN, effective_config, tool_env

pytestmark = pytest.mark.slow

SNAKEMAKE = str(VENV_BIN / "snakemake")
DATA_RULES = {"generate_structures", "simulate_patterns", "shape_patterns", "split_dataset"}
EVAL_RULES = {"evaluate_model", "evaluate_real", "evaluate_robustness", "build_report"}


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


def planned_jobs(results: Path, tmp: Path, *extra: str, configfile: Path = TINY_CONFIG):
    """Jobs per rule a dry run would execute (``extra``: targets first, then options)."""
    proc = snakemake(results, tmp, *extra, "-n", "--quiet", "rules", configfile=configfile)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = re.findall(r"^([a-z_]+)\s+(\d+)\s*$", proc.stdout + proc.stderr, flags=re.M)
    return {rule: int(n) for rule, n in rows if rule not in ("total", "all")}


def variant(tmp: Path, name: str, edit) -> Path:
    cfg = yaml.safe_load(TINY_CONFIG.read_text())
    edit(cfg)
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.fixture(scope="module")
def run(tiny_run):
    """(tmp dir, results dir) of the session's local tiny run (conftest.tiny_run)."""
    return tiny_run.tmp, tiny_run.wait()


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
            assert f["images"].dtype == "uint8"
            if mode == "shaped":
                assert f["images"].compression == "gzip"
            else:  # both modes made: a view of the shaped images' channel S
                assert f["images"].is_virtual and f.attrs["view_of"].startswith("shaped.h5")
            assert list(f["ids"].asstr()[...]) == list(s["id"])
            assert f.attrs["mode"] == mode

    split = pd.read_csv(r / "split/split.csv")
    assert set(split["split"]) == {"train", "val", "test"}
    assert set(split["id"]) <= set(s["id"])
    for name in ("class_counts.csv", "class_weights.csv", "class_counts.png", "excluded.csv"):
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
    # the report shows what evaluate measured, and every stage's figure (the shaping one too)
    msdn = json.loads((r / "evaluate/msdn/metrics.json").read_text())
    assert f"{100 * msdn['sg_top1']:.1f}%" in html
    shown = set(re.findall(r'src="([^"]+)"', html))
    for fig in ("patterns_examples", "shaping_shaped_examples", "shaping_unshaped_examples"):
        assert f"figures/{fig}.png" in shown, fig
    for p in shown:
        assert (r / "report" / p).stat().st_size > 1000, p

    # The real-structure check: every model on data/real, in the report beside the test split.
    n_files = len(list((ROOT / cfg["evaluate"]["real_structures"]).glob("*.cif")))
    for model in cfg["train"]["models"]:
        real = json.loads((r / "evaluate" / model / "real/metrics.json").read_text())
        assert real["data"]["files"] == n_files and 0 < real["n"] <= real["data"]["in_classes"]
        assert set(pd.read_csv(r / "evaluate" / model / "real/predictions.csv")["true"]) <= set(
            classes
        )
        check = report[model]["real_structure_check"]
        assert check["sg_top1"] == real["sg_top1"] and check["files"] == n_files
    assert "Real-structure check" in html and f"/ {n_files}</td>" in html

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


def changed_runtime_keys(cfg: dict) -> dict[str, object]:
    """Every key the schema marks x-runtime, with a value other than its value in ``cfg``
    (read from the schema, so a new runtime key is covered without editing this test)."""
    sch = config_schema()
    out = {}
    for path in runtime_keys(sch):
        node, value = sch, cfg
        for part in path:
            node, value = node["properties"][part], value[part]
        if "enum" in node:
            new = next(v for v in node["enum"] if v != value)
        elif isinstance(value, bool):
            new = not value
        elif value is None or isinstance(value, float):
            new = 1.5 if value is None else 2 * value
        else:
            new = value + 1
        out[".".join(path)] = new
    return out


def set_dotted(c: dict, dotted: str, value) -> None:
    *head, last = dotted.split(".")
    for part in head:
        c = c.setdefault(part, {})
    c[last] = value


def test_runtime_keys_rerun_nothing_and_reach_the_commands(run):
    """Workers, chunk sizes, device and RAM budget do not change results: no job is planned,
    yet the commands get the new values (and --threads from the rule's threads)."""
    tmp, r = run
    changes = changed_runtime_keys(effective_config(TINY_CONFIG))
    assert {"patterns.workers", "shaping.chunk_size", "train.device", "train.cache_gb",
            "evaluate.workers", "structures.workers"} <= set(changes)  # fmt: skip

    def edit(c):
        for dotted, value in changes.items():
            set_dotted(c, dotted, value)

    cfg = variant(tmp, "runtime", edit)
    assert planned_rules(r, tmp, cfg) == set(), changes
    proc = snakemake(r, tmp, str(r / "patterns/patterns.h5"), "-n", "-p", "--forcerun",
                     "simulate_patterns", configfile=cfg)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    command = next(line for line in proc.stdout.splitlines() if "xtalsym patterns" in line)
    runtime = json.loads(re.findall(r"--params '([^']+)'", command)[1])
    assert runtime["patterns"]["chunk_size"] == changes["patterns.chunk_size"]
    assert runtime["train"]["device"] == changes["train.device"]
    assert f"--threads {changes['patterns.workers']}" in command


def test_robustness_levels_rerun_only_the_sweep_and_the_report(run):
    tmp, r = run
    cfg = variant(
        tmp, "levels", lambda c: c["evaluate"]["robustness"].update({"background": [0.0, 30.0]})
    )
    assert planned_rules(r, tmp, cfg) == {"evaluate_robustness", "build_report"}


def test_adding_a_model_trains_only_that_model(run):
    tmp, r = run
    cfg = variant(tmp, "model", lambda c: c["train"]["models"].update(
        {"vgg_shaped": {"arch": "vgg", "input": "shaped"}}))  # fmt: skip
    proc = snakemake(r, tmp, "-n", configfile=cfg)
    assert proc.returncode == 0, proc.stderr[-3000:]
    trained = set(re.findall(r"wildcards: model=(\w+)", proc.stdout))
    assert trained == {"vgg_shaped"}
    # the list of image modes to make is no setting of the shaping jobs themselves
    fewer = variant(tmp, "modes", lambda c: c["shaping"].update({"modes": ["shaped"]}))
    assert planned_rules(r, tmp, fewer) <= {"build_report"}


def test_snakemake_report_is_built_with_captions(run):
    tmp, r = run
    out = tmp / "snakemake_report.html"
    proc = snakemake(r, tmp, "--report", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    html = out.read_text()
    for name in ("examples.png", "shaped_examples.png", "class_counts.png", "robustness.png",
                 "confusion_sg.png"):  # fmt: skip
        assert name in html, name
    assert "the network&#x27;s input in the &quot;shaped&quot; mode" in html or (
        "network's input in the &quot;shaped&quot; mode" in html
    )


def test_forced_shaping_rerun_retrains_instead_of_resuming(run, tmp_path):
    """Issue 22.5: images rewritten by `--forcerun shape_patterns` (as after a shaping code
    change, config unchanged) must not resume the finished checkpoint of the old images."""
    _, r = run
    copy = tmp_path / "results"
    shutil.copytree(r, copy)
    with h5py.File(copy / "shaping/shaped.h5") as f:
        old_id = f.attrs["artifact_id"]
    target = copy / "models/msdn/model.pt"
    target_mtime0 = max(p.stat().st_mtime for p in (copy / "logs").glob("*.log"))
    # the target first: --forcerun takes every rule name that follows it
    proc = snakemake(copy, tmp_path, str(target), "--forcerun", "shape_patterns")
    assert proc.returncode == 0, proc.stderr[-3000:]
    with h5py.File(copy / "shaping/shaped.h5") as f:
        new_id = f.attrs["artifact_id"]
    assert new_id != old_id
    ran = {p.stem for p in (copy / "logs").glob("*.log") if p.stat().st_mtime > target_mtime0}
    assert ran == {"shape_patterns_shaped", "train_model_msdn"}, ran
    log = (copy / "logs/train_model_msdn.log").read_text()
    assert "resuming" not in log and "epoch 1/1" in log
    card = json.loads((copy / "models/msdn/model_card.json").read_text())
    assert card["data_source"]["artifact_id"] == new_id


def test_new_structure_source_reruns_everything(run):
    tmp, r = run
    cif_dir = tmp / "cifs"
    cif_dir.mkdir(exist_ok=True)

    def edit(c):
        c["structures"]["sources"] = ["synthetic", "cif_dir"]
        c["structures"]["cif_dir"] = {"path": str(cif_dir)}

    rules = planned_rules(r, tmp, variant(tmp, "source", edit))
    assert DATA_RULES | {"train_model"} | EVAL_RULES <= rules


def test_learning_curve_adds_only_its_own_jobs_and_the_report(run):
    """Enabling evaluate.learning_curve on a finished run plans its subset, training and
    evaluation per (model, n), the aggregation and the report, and reruns no main stage."""
    tmp, r = run
    curve = {"enabled": True, "sizes": [2, 4], "models": ["msdn"]}
    cfg = variant(tmp, "curve", lambda c: c["evaluate"].update({"learning_curve": curve}))
    lc_rules = {f"learning_curve_{s}" for s in ("subset", "train", "evaluate", "aggregate")}
    assert planned_rules(r, tmp, cfg) == lc_rules | {"build_report"}


SHARD_RULES = {"generate_structures_shard", "gather_structures", "simulate_patterns_shard",
               "gather_patterns", "shape_patterns_shard", "gather_shaping"}  # fmt: skip


def test_same_seed_gives_identical_data_artifacts_sharded_or_not(run, tmp_path):
    """The data stages rerun from scratch with the same seed, now with shards: 3 (structures,
    patterns and the shaped images as 3 jobs each; unshaped.h5 a view of shaped.h5 either
    way), reproduce the run's structures table and split bit for bit, and the gathered
    patterns.h5 and {mode}.h5 are virtual datasets with the unsharded
    run's arrays, rows, ids, labels and attributes. shards: 1 plans no shard or gather job."""
    tmp, r = run
    unsharded = planned_jobs(r, tmp, "--forceall")
    assert not set(unsharded) & SHARD_RULES
    assert unsharded["generate_structures"] == 1 and unsharded["simulate_patterns"] == 1
    assert unsharded["shape_patterns"] == 1 and unsharded["view_unshaped"] == 1

    cfg = variant(tmp_path, "shards", lambda c: c.update({"shards": 3}))
    r3 = tmp_path / "results"
    files = ["patterns/patterns.h5", "shaping/shaped.h5", "shaping/unshaped.h5"]
    targets = [str(r3 / f) for f in [*files, "split/split.csv"]]
    assert planned_jobs(r3, tmp_path, *targets, configfile=cfg) == {
        "generate_structures_shard": 3, "gather_structures": 1, "simulate_patterns_shard": 3,
        "gather_patterns": 1,
        "shape_patterns_shard": 3, "gather_shaping": 1, "view_unshaped": 1, "split_dataset": 1,
    }  # fmt: skip
    proc = snakemake(r3, tmp_path, *targets, configfile=cfg)
    assert proc.returncode == 0, proc.stderr[-3000:]
    pd.testing.assert_frame_equal(
        pd.read_parquet(r / "structures/structures.parquet"),
        pd.read_parquet(r3 / "structures/structures.parquet"),
    )
    for name in ("outcomes.csv", "class_counts.csv"):
        assert (r / "structures" / name).read_bytes() == (r3 / "structures" / name).read_bytes()
    assert len(list((r3 / "structures/shards").glob("*.json"))) == 3
    assert len(list((r3 / "patterns/shards").glob("*.h5"))) == 3
    assert len(list((r3 / "shaping/shards").glob("*.h5"))) == 3  # shaped only
    for rel in files:
        with h5py.File(r / rel) as f, h5py.File(r3 / rel) as g:
            assert f.keys() == g.keys() and len(f.keys()) == 3, rel
            for name in f:
                # unshaped.h5 is a view in both runs; the others are gathered shards
                assert f[name].is_virtual == rel.endswith("unshaped.h5"), (rel, name)
                assert g[name].is_virtual, (rel, name)
                assert f[name].shape == g[name].shape and f[name].dtype == g[name].dtype
                assert (f[name][...] == g[name][...]).all(), (rel, name)
            attrs = {k: v for k, v in f.attrs.items() if k != "artifact_id"}
            assert attrs == {k: v for k, v in g.attrs.items() if k != "artifact_id"}, rel
            assert f.attrs["artifact_id"] != g.attrs["artifact_id"]
    # ids and labels: the structures table's, in its order
    s = pd.read_parquet(r / "structures/structures.parquet")
    with h5py.File(r3 / "shaping/shaped.h5") as g:
        assert list(g["ids"].asstr()[...]) == list(s["id"])
        assert list(g["spacegroup"][...]) == list(s["spacegroup"])
    for fig in ("patterns/examples.png", "shaping/shaped_examples.png"):
        assert (r3 / fig).stat().st_size > 1000
    # split reads the gathered view unchanged
    assert (r / "split/split.csv").read_bytes() == (r3 / "split/split.csv").read_bytes()
