"""scripts/gpu_check.py, the helper of scripts/gpu_check.sh: the training plan and the summary
(no GPU needed; the script itself is run end to end in its tiny mode, docs/gpu.md)."""

from __future__ import annotations

import importlib.util
import json

import pytest

from .helpers import ROOT

spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "scripts" / "gpu_check.py")
gpu_check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gpu_check)

MODELS = ["msdn", "msdn_unshaped", "resnet"]


def work_dir(tmp_path, n_train=1000, n_val=100, rate=None):
    split = tmp_path / "paper" / "split"
    split.mkdir(parents=True)
    rows = ["id,spacegroup,split"] + [f"t{i},14,train" for i in range(n_train)]
    rows += [f"v{i},14,val" for i in range(n_val)] + ["x0,14,test"]
    (split / "split.csv").write_text("\n".join(rows) + "\n")
    if rate is not None:
        bench = tmp_path / "details" / "bench"
        bench.mkdir(parents=True)
        doc = {"device": "cuda", "bf16_train_crystals_per_s": rate}
        (bench / "training.json").write_text(json.dumps(doc))
    return tmp_path


def test_plan_fits_the_epochs_in_the_time_left(tmp_path):
    work = work_dir(tmp_path, n_train=10_000, n_val=1_000, rate=2000.0)
    plan = gpu_check.plan(work, 400.0, MODELS, 1, 100)
    assert plan["rate_source"] == "bench" and plan["n_train"] == 10_000 and plan["n_val"] == 1_000
    # 10,000 crystals at half of 2,000/s plus validation: 10.25 s per MSDN epoch
    assert plan["epoch_s_planned"] == pytest.approx(10.2, abs=0.1)
    e = plan["epochs"]
    assert sum(plan["seconds"].values()) <= 400
    overheads = 50 + 50 + 30
    assert overheads + (e + 1) * 10.25 * 2.5 > 400  # one more epoch would not fit
    assert plan["seconds"]["resnet"] < plan["seconds"]["msdn"] == plan["seconds"]["msdn_unshaped"]


def test_plan_clamps_and_assumes_a_rate_without_the_benchmark(tmp_path):
    work = work_dir(tmp_path, n_train=100_000)
    plan = gpu_check.plan(work, 60.0, MODELS, 2, 30)
    assert plan["rate_source"] == "assumed" and plan["epochs"] == 2
    assert gpu_check.plan(work_dir(tmp_path / "b", 10), 10_000.0, MODELS, 2, 30)["epochs"] == 30


def test_summary_collects_parts_models_and_claims(tmp_path):
    work = work_dir(tmp_path)
    (work / "status.tsv").write_text("setup\tok\t0\t3\t60\ntrain_resnet\ttimeout\t124\t90\t90\n")
    for name, top1 in (("msdn", 0.5), ("resnet", 0.3), ("msdn_unshaped", 0.45)):
        m = work / "paper" / "models" / name
        m.mkdir(parents=True)
        (m / "model_card.json").write_text(json.dumps({"arch": name, "epochs_run": 4}))
        e = work / "paper" / "evaluate" / name
        e.mkdir(parents=True)
        (e / "metrics.json").write_text(json.dumps({"sg_top1": top1, "n": 10}))
    doc = gpu_check.summary(work)
    assert [p["status"] for p in doc["parts"]] == ["ok", "timeout"]
    assert doc["parts"][1] == {"part": "train_resnet", "status": "timeout", "rc": 124, "s": 90,
                               "cap_s": 90}  # fmt: skip
    assert doc["paper"]["split"] == {"train": 1000, "val": 100, "test": 1}
    assert doc["paper"]["models"]["msdn"]["epochs_run"] == 4
    assert doc["paper"]["claims"] == {
        "msdn_minus_resnet_points": 20.0,
        "msdn_minus_msdn_unshaped_points": 5.0,
    }
    assert doc["bench"] is None and doc["cuda_tests"] is None
