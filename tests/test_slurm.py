"""The tiny pipeline on a real SLURM cluster, through Snakemake's SLURM executor plugin.

`scripts/slurm/local_cluster.sh start` installs (when missing), configures and starts a
single-node SLURM on localhost (munged, slurmctld, slurmd; no accounting). The tiny config then
runs through `--workflow-profile workflow/profiles/slurm` with only test-sized overrides: job
status from `squeue` (the cluster has no accounting database; MinJobAge=600 keeps finished jobs
visible), short status-check waits, memory requests capped to the tiny data, SLURM logs in the
test's directory. The profile's GPU request for training is kept: the local node offers one
stand-in GPU GRES, so the `--gpus=1` path is scheduled for real.

The SLURM run uses `shards: 2` (structures, patterns and shaping as 2 jobs each per stage and
mode, then gathered) and the local run one job per stage. Checks: every planned job ran as a SLURM job
(Snakemake's log and `squeue` history agree), each shard as its own; the outputs are the same
files as the local run's plus the shard files, data artifacts identical (the gathered ones
virtual datasets) and metrics within METRIC_TOL; a rule that raises is reported as failed, not hung. The daemons this
module started are stopped at the end, and their processes are gone.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import yaml

from .helpers import ROOT, TINY_CONFIG, VENV_BIN, tool_env

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

SCRIPT = ROOT / "scripts" / "slurm" / "local_cluster.sh"
PROFILE = ROOT / "workflow" / "profiles" / "slurm"
SNAKEMAKE = str(VENV_BIN / "snakemake")
PIPELINE_TIMEOUT_S = 900  # the tiny DAG takes about 2-3 minutes on 2 cores
FAIL_TIMEOUT_S = 180
CANNOT_RUN = 3  # local_cluster.sh: not root, or no apt-get to install SLURM
# Every stage is seeded and CPU training is deterministic at fixed thread counts, so the runs
# agree exactly in practice; metrics may differ by at most this (absolute, fractions and losses).
METRIC_TOL = 1e-6
# Data artifacts that must be identical (relative to the results root).
DATA_DIRS = ("structures", "patterns", "shaping", "split")
# The SLURM run's config shards (the local run has 1).
SHARDS = 2
# Rules of one job per stage -> the rules the sharded run has instead (logs and benchmarks).
SHARDED = {"generate_structures": ("generate_structures_shard", "gather_structures"),
           "simulate_patterns": ("simulate_patterns_shard", "gather_patterns"),
           "shape_patterns": ("shape_patterns_shard", "gather_shaping")}  # fmt: skip
# Test-sized settings. The plugin checks job status STATUS_WAIT_S after a submission or a
# finished job, then 10 s later each time nothing finished; a tiny job takes about 5 s (the
# job's own Snakemake start included), so a first check at 8 s finds most jobs done (measured:
# the tiny DAG in 89 s with 8, 116 s with 2, against 40 s by default).
STATUS_WAIT_S = 8
STATUS_ARGS = ["--slurm-status-command", "squeue",
               "--slurm-init-seconds-before-status-checks", str(STATUS_WAIT_S),
               "--seconds-between-status-checks", "2"]  # fmt: skip


def cluster(action: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(SCRIPT), action], capture_output=True, text=True, env=env, timeout=600
    )


def daemon_pids(state: Path) -> dict[str, int]:
    """PIDs recorded by local_cluster.sh (munged only when the script started it)."""
    return {p.stem: int(p.read_text()) for p in state.glob("*.pid") if p.read_text().strip()}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    """A running local SLURM cluster; stopped afterwards if this fixture started it."""
    # conftest's empty SLURM config (no 10 s scontrol wait elsewhere) is not for this module
    empty_conf = os.environ.get("SLURM_CONF") == os.devnull
    if empty_conf:
        del os.environ["SLURM_CONF"]
    try:
        yield from _local_cluster(tmp_path_factory.mktemp("slurm"))
    finally:
        if empty_conf:
            os.environ["SLURM_CONF"] = os.devnull


def _local_cluster(tmp: Path):
    env = tool_env(tmp)
    state = Path(env.get("XTALSYM_SLURM_DIR", "/tmp/xtalsym-slurm"))
    was_running = cluster("status", env).returncode == 0
    t0 = time.monotonic()
    proc = cluster("start", env)
    if proc.returncode == CANNOT_RUN:
        pytest.skip(f"cannot start a local SLURM cluster here: {proc.stderr.strip()}")
    assert proc.returncode == 0, f"local_cluster.sh start failed:\n{proc.stdout}\n{proc.stderr}"
    print(f"local SLURM cluster up in {time.monotonic() - t0:.1f} s\n{proc.stderr}")
    pids = daemon_pids(state)
    assert {"slurmctld", "slurmd"} <= set(pids)
    yield tmp
    if was_running:
        return
    proc = cluster("stop", env)
    assert proc.returncode == 0, proc.stderr
    assert not [name for name, pid in pids.items() if alive(pid)], proc.stderr
    assert cluster("status", env).returncode != 0


def node_memory_mb() -> int:
    out = subprocess.run(["sinfo", "-h", "-o", "%m"], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0].rstrip("+"))


def profile_set_resources() -> list[str]:
    """The profile's set-resources as CLI `rule:resource=value` items."""
    prof = yaml.safe_load((PROFILE / "config.yaml").read_text())
    return [
        f"{rule}:{k}={v}" for rule, res in prof["set-resources"].items() for k, v in res.items()
    ]


def planned_jobs(results: Path, env: dict[str, str]) -> dict[str, int]:
    """Jobs per rule that the SLURM run of the tiny config would execute (dry run's table)."""
    cmd = [SNAKEMAKE, "-n", "--quiet", "rules", "--configfile", str(TINY_CONFIG),
           "--config", f"results={results}", f"shards={SHARDS}"]  # fmt: skip
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = re.findall(r"^([a-z_]+)\s+(\d+)\s*$", proc.stdout + proc.stderr, flags=re.M)
    return {rule: int(n) for rule, n in rows if rule not in ("total", "all")}


def slurm_command(tmp: Path, results: Path, rules: list[str], timeout_s: int) -> list[str]:
    # The rules request paper-scale memory; the tiny data needs little, and the local node may
    # have less than one paper-scale request. A command-line --set-resources replaces the
    # profile's, so the profile's own entries (training's GPU) are passed on with the caps.
    mem = min(2000, node_memory_mb() // 2)
    caps = [f"{rule}:mem_mb={mem}" for rule in rules]
    return ["timeout", "-k", "20", str(timeout_s), SNAKEMAKE,
            "--workflow-profile", str(PROFILE), *STATUS_ARGS,
            "--slurm-logdir", str(tmp / "slurm_logs"),
            "--configfile", str(TINY_CONFIG), "--config", f"results={results}",
            f"shards={SHARDS}", "--set-resources", *profile_set_resources(), *caps]  # fmt: skip


def failure_report(proc: subprocess.CompletedProcess, results: Path) -> str:
    logs = "\n".join(
        f"--- {p.name}\n{p.read_text()[-1500:]}" for p in sorted((results / "logs").glob("*"))
    )
    return f"rc={proc.returncode}\n{proc.stdout[-6000:]}\n{proc.stderr[-6000:]}\n{logs}"


@pytest.fixture(scope="module")
def runs(slurm, tiny_run):
    """The tiny config through SLURM, beside the session's local run of it (conftest)."""
    tmp = slurm
    env = tool_env(tmp)
    remote = tmp / "slurm"
    jobs = planned_jobs(remote, env)
    assert jobs, "the dry run planned no jobs"

    t0 = time.monotonic()
    proc = subprocess.run(
        slurm_command(tmp, remote, sorted(jobs), PIPELINE_TIMEOUT_S),
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=PIPELINE_TIMEOUT_S + 60,
    )  # fmt: skip
    slurm_s = time.monotonic() - t0
    local = tiny_run.wait()
    print(f"SLURM run: {slurm_s:.0f} s; both runs: {time.monotonic() - t0:.0f} s")
    if proc.returncode != 0:
        pytest.fail("SLURM run failed:\n" + failure_report(proc, remote))
    return {"tmp": tmp, "local": local, "slurm": remote, "jobs": jobs,
            "log": proc.stdout + proc.stderr}  # fmt: skip


def slurm_history(run_id: str) -> list[dict[str, str]]:
    """Jobs of one Snakemake run as `squeue` remembers them (MinJobAge=600)."""
    out = subprocess.run(
        ["squeue", "--states=all", "-h", "--name", run_id, "-o", "%i|%T|%k"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    rows = [line.split("|", 2) for line in out.splitlines() if line.strip()]
    return [{"id": i, "state": s, "comment": c} for i, s, c in rows]


def test_every_job_ran_as_a_slurm_job(runs):
    log, jobs = runs["log"], runs["jobs"]
    run_id = re.search(r"SLURM run ID: (\S+)", log).group(1)
    submitted = re.findall(r"submitted with SLURM jobid (\d+) \(log: (\S+)\)", log)
    by_rule: dict[str, set[str]] = {}
    for job_id, path in submitted:
        rule = re.search(r"/rule_([a-z_]+)/", path).group(1)
        by_rule.setdefault(rule, set()).add(job_id)
        assert Path(path).exists(), f"SLURM log of job {job_id} missing"
    assert {rule: len(ids) for rule, ids in by_rule.items()} == jobs

    history = slurm_history(run_id)
    assert {h["id"] for h in history} == {job_id for job_id, _ in submitted}
    assert all(h["state"] == "COMPLETED" for h in history), history
    for h in history:  # the plugin's job comment: rule_<rule>[_wildcards_<values>]
        rule = re.match(r"rule_(.+?)(_wildcards_.*)?$", h["comment"]).group(1)
        assert h["id"] in by_rule[rule]
    # Each shard of each per-crystal stage was a SLURM job of its own, with its wildcards.
    modes = jobs["gather_shaping"]
    assert jobs["generate_structures_shard"] == SHARDS and jobs["gather_structures"] == 1
    assert jobs["simulate_patterns_shard"] == SHARDS and jobs["gather_patterns"] == 1
    assert modes >= 1 and jobs["shape_patterns_shard"] == SHARDS * modes
    assert not {"generate_structures", "simulate_patterns", "shape_patterns"} & set(jobs)
    for rule in ("generate_structures_shard", "simulate_patterns_shard", "shape_patterns_shard"):
        comments = {h["comment"] for h in history if h["id"] in by_rule[rule]}
        assert len(comments) == len(by_rule[rule]) == jobs[rule], comments
        assert all(c.startswith(f"rule_{rule}_wildcards_") for c in comments), comments
    # Training asked for a GPU in the plugin's syntax and SLURM granted it.
    train_ids = by_rule["train_model"]
    for job_id in train_ids:
        show = subprocess.run(
            ["scontrol", "show", "job", job_id], capture_output=True, text=True, check=True
        ).stdout
        assert "gres/gpu=1" in show or "gres:gpu:1" in show, show


def relative_files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def h5_contents(path: Path) -> dict[str, object]:
    """Every dataset's values and every object's attributes, by HDF5 path (not
    ``artifact_id``: unique to each writing of a file by design)."""
    items: dict[str, object] = {}
    with h5py.File(path) as f:
        items["/@"] = {k: v for k, v in f.attrs.items() if k != "artifact_id"}

        def visit(name, obj):
            items[f"{name}@"] = dict(obj.attrs)
            if isinstance(obj, h5py.Dataset):
                items[name] = obj[...]

        f.visititems(visit)
    return items


def sharded_names(local: set[str]) -> set[str]:
    """The files of a run with SHARDS shards, from the files of the same run with one: shard
    files beside patterns.h5 and each {mode}.h5, and the logs and benchmarks of the shard and
    gather jobs instead of the single job's."""
    # the modes shaped by a job of their own (with both, unshaped.h5 is a view: view_unshaped)
    modes = sorted(
        m.group(1) for f in local if (m := re.fullmatch(r"logs/shape_patterns_(\w+)\.log", f))
    )
    out = set()
    for f in local:
        d, name = f.split("/", 1)
        stem, ext = os.path.splitext(name)
        if d in ("logs", "benchmarks") and stem in SHARDED:
            shard_rule, gather_rule = SHARDED[stem]
            out |= {f"{d}/{shard_rule}_{k}{ext}" for k in range(SHARDS)}
            out.add(f"{d}/{gather_rule}{ext}")
        elif d in ("logs", "benchmarks") and stem.startswith("shape_patterns_"):
            mode = stem.removeprefix("shape_patterns_")
            shard_rule, gather_rule = SHARDED["shape_patterns"]
            out |= {f"{d}/{shard_rule}_{mode}-{k}{ext}" for k in range(SHARDS)}
            out.add(f"{d}/{gather_rule}_{mode}{ext}")
        else:
            out.add(f)
    out |= {f"structures/shards/{k}.json" for k in range(SHARDS)}
    out |= {f"patterns/shards/{k}.h5" for k in range(SHARDS)}
    out |= {f"shaping/shards/{m}-{k}.h5" for m in modes for k in range(SHARDS)}
    return out


def test_outputs_complete_and_data_identical_to_local_run(runs):
    local, remote = runs["local"], runs["slurm"]
    assert relative_files(remote) == sharded_names(relative_files(local))
    gathered = [p for p in remote.glob("*/*.h5") if p.parent.name in ("patterns", "shaping")]
    assert len(gathered) >= 3
    for path in gathered:  # virtual datasets over the shard files, nothing copied
        with h5py.File(path) as f:
            assert all(ds.is_virtual for ds in f.values()), path
    compared = 0
    for rel in sorted(relative_files(local)):
        if rel.split("/")[0] not in DATA_DIRS:
            continue
        a, b = local / rel, remote / rel
        if rel.endswith(".h5"):
            ca, cb = h5_contents(a), h5_contents(b)
            assert ca.keys() == cb.keys(), rel
            for key, value in ca.items():
                if isinstance(value, np.ndarray):
                    np.testing.assert_array_equal(value, cb[key], err_msg=f"{rel}:{key}")
                else:
                    assert value == cb[key], f"{rel}:{key}"
        elif rel.endswith(".parquet"):
            pd.testing.assert_frame_equal(pd.read_parquet(a), pd.read_parquet(b))
        elif rel.endswith(".csv"):
            assert a.read_bytes() == b.read_bytes(), rel
        else:
            continue
        compared += 1
    assert compared >= 6  # structures table, patterns, 2 image modes, split tables


def test_metrics_match_local_run(runs):
    local, remote = runs["local"], runs["slurm"]
    keys = ("sg_top1", "sg_top5", "sg_balanced_accuracy", "sg_macro_f1", "cs_accuracy", "n")
    models = sorted(p.parent.name for p in (local / "evaluate").glob("*/metrics.json"))
    assert models
    for model in models:
        a = json.loads((local / "evaluate" / model / "metrics.json").read_text())
        b = json.loads((remote / "evaluate" / model / "metrics.json").read_text())
        for key in keys:
            assert abs(a[key] - b[key]) <= METRIC_TOL, (model, key, a[key], b[key])
        ha = pd.read_csv(local / "models" / model / "history.csv").drop(columns="seconds")
        hb = pd.read_csv(remote / "models" / model / "history.csv").drop(columns="seconds")
        pd.testing.assert_frame_equal(ha, hb, check_exact=False, atol=METRIC_TOL, rtol=0)
    rob_path = Path("evaluate") / "robustness.csv"
    if (local / rob_path).exists():
        ra, rb = pd.read_csv(local / rob_path), pd.read_csv(remote / rob_path)
        pd.testing.assert_frame_equal(ra, rb, check_exact=False, atol=METRIC_TOL, rtol=0)


FAILING_WORKFLOW = """
rule all:
    input: "ok.txt", "boom.txt"

rule ok:
    output: "ok.txt"
    resources: mem_mb=100, runtime=5
    shell: "echo $SLURM_JOB_ID > {output}"

rule boom:
    output: "boom.txt"
    resources: mem_mb=100, runtime=5
    run:
        raise ValueError("deliberate failure")
"""


def test_a_rule_that_raises_is_reported_failed_not_hung(slurm):
    tmp = slurm / "failing"
    tmp.mkdir()
    (tmp / "Snakefile").write_text(FAILING_WORKFLOW)
    cmd = ["timeout", "-k", "20", str(FAIL_TIMEOUT_S), SNAKEMAKE,
           "--workflow-profile", str(PROFILE), *STATUS_ARGS, "--retries", "0",
           "--slurm-logdir", str(tmp / "slurm_logs")]  # fmt: skip
    t0 = time.monotonic()
    proc = subprocess.run(
        cmd, cwd=tmp, capture_output=True, text=True, env=tool_env(tmp), timeout=FAIL_TIMEOUT_S + 60
    )
    elapsed = time.monotonic() - t0
    log = proc.stdout + proc.stderr
    assert proc.returncode not in (0, 124, 137), f"rc={proc.returncode} after {elapsed:.0f} s"
    assert "Error in rule boom" in log and "deliberate failure" in log
    assert (tmp / "ok.txt").read_text().strip().isdigit()  # the other rule ran, in SLURM
    assert not (tmp / "boom.txt").exists()
    run_id = re.search(r"SLURM run ID: (\S+)", log).group(1)
    states = {h["comment"]: h["state"] for h in slurm_history(run_id)}
    assert states == {"rule_ok": "COMPLETED", "rule_boom": "FAILED"}
    assert elapsed < FAIL_TIMEOUT_S / 2


DDP_JOB = """#!/bin/bash
#SBATCH --ntasks=2 --cpus-per-task=1 --mem=2000 --time=15
env | grep -E '^SLURM_(STEP_NUM_TASKS|PROCID|NTASKS)=' | sed 's/^/batch: /'
srun --ntasks=2 bash -c 'echo "task: $SLURM_PROCID of $SLURM_STEP_NUM_TASKS"'
OMP_NUM_THREADS=1 {python} -m xtalsym train --params "$(cat {cfg})" --model m \\
    --images {images} --split {split} --weights {weights} --out {out} --checkpoint-dir {ckpt}
"""


def test_ddp_training_in_a_two_task_job_starts_its_own_srun(slurm):
    """`xtalsym train` with train.processes = 2 in the batch script of a 2-task job (the
    script is no job step: no SLURM_STEP_NUM_TASKS) starts `srun --ntasks=2`; the two tasks
    find their ranks and rank 0's host (scontrol), train with gloo and write one bundle."""
    from .test_train import tiny_cfg, write_toy

    tmp = slurm / "ddp"
    tmp.mkdir()
    images, split, weights = write_toy(tmp)
    (tmp / "cfg.json").write_text(json.dumps(tiny_cfg(epochs=3, processes=2, workers=1)))
    script = tmp / "job.sh"
    script.write_text(DDP_JOB.format(python=VENV_BIN / "python", cfg=tmp / "cfg.json",
        images=images, split=split, weights=weights, out=tmp / "out", ckpt=tmp / "train" / "m"))  # fmt: skip
    proc = subprocess.run(
        ["sbatch", "--wait", "--parsable", f"--output={tmp / 'job.log'}", str(script)],
        capture_output=True, text=True, env=tool_env(tmp), timeout=600,
    )  # fmt: skip
    log = (tmp / "job.log").read_text() if (tmp / "job.log").exists() else ""
    assert proc.returncode == 0, f"{proc.stderr}\n{log[-3000:]}"
    assert "batch: SLURM_NTASKS=2" in log and "batch: SLURM_STEP_NUM_TASKS" not in log
    assert "task: 0 of 2" in log and "task: 1 of 2" in log
    assert "rank 0 of 2 on cpu" in log and "on cpu x 2" in log
    card = json.loads((tmp / "out" / "model_card.json").read_text())
    assert card["processes"] == 2
    hist = pd.read_csv(tmp / "out" / "history.csv")
    assert list(hist["epoch"]) == [1, 2, 3]
    assert hist["train_loss"].iloc[-1] < hist["train_loss"].iloc[0]
