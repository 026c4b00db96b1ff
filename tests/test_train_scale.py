"""Training at scale on the CPU: mixed precision (bf16, fp16) and data-parallel (DDP, gloo)."""

import dataclasses
import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import torch

from xtalsym.models import build_model
from xtalsym.train import distributed as ddp
from xtalsym.train import load_bundle, predict_proba, run_train
from xtalsym.train.data import open_image_file, read_split_rows
from xtalsym.train.engine import Trainer
from xtalsym.train.launch import launch_command
from xtalsym.train.loading import load_splits
from xtalsym.train.precision import resolve_precision
from xtalsym.train.rawcopy import ensure_raw_copy, open_raw

from .test_train import CLASSES, tiny_cfg, write_toy

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_resolve_precision():
    cpu = torch.device("cpu")
    assert resolve_precision("auto", cpu).dtype is None  # fp32: no native bf16 on most CPUs
    p = resolve_precision("bf16", cpu)
    assert p.dtype == torch.bfloat16 and p.name == "bf16" and not p.channels_last
    assert not p.grad_scaler().is_enabled()
    assert resolve_precision("fp16", cpu).grad_scaler().is_enabled()
    assert resolve_precision("fp32", cpu, channels_last=True).channels_last
    with pytest.raises(ValueError, match="unknown precision"):
        resolve_precision("fp8", cpu)


@pytest.mark.parametrize("name", ["bf16", "fp16"])
def test_one_mixed_precision_step_on_cpu(tmp_path, name):
    """The trainer's own step (autocast, grad scaler, channels-last inputs and weights, the
    path a GPU takes) on the CPU: convolutions run in the low-precision dtype, the step
    changes the fp32 weights and the loss is finite."""
    h5_path, split_path, _ = write_toy(tmp_path)
    f = open_image_file(h5_path)
    data = load_splits(f, read_split_rows(h5_path, split_path, CLASSES), 10**9, 0)
    torch.manual_seed(0)
    model = build_model("msdn", 4, growth=4, blocks=[1, 1, 1], stem=8, input_size=16)
    model = model.to(memory_format=torch.channels_last)
    precision = resolve_precision(name, torch.device("cpu"), channels_last=True)
    trainer = Trainer(
        model, "msdn", torch.device("cpu"), precision, ddp.World(), 0.01, 0.0, None, 10, 1
    )
    seen = []
    model.backbone.stem[0].register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    windows = data["train"].plan(np.random.default_rng(0))
    first = [windows[0]]  # a few batches of the epoch
    loss, acc = trainer.train_epoch(data["train"], first, 8, "step")
    assert seen and set(seen) == {precision.dtype}
    assert np.isfinite(loss) and 0 <= acc <= 1
    after = model.state_dict()
    assert all(after[k].dtype == torch.float32 for k in after if after[k].is_floating_point())
    assert any(not torch.equal(before[k], after[k]) for k in before)
    if name == "fp16":
        assert trainer.scaler.is_enabled() and trainer.scaler.get_scale() > 0
    val_loss, val_acc = trainer.evaluate(data["val"], 8)
    assert np.isfinite(val_loss) and 0 <= val_acc <= 1


def test_short_bf16_run_learns_and_the_bundle_predicts(tmp_path):
    h5_path, split_path, weights_path = write_toy(tmp_path)
    cfg = tiny_cfg(epochs=8, precision="bf16")
    out = tmp_path / "model"
    run_train(cfg, "m", h5_path, split_path, weights_path, out, tmp_path / "ck")
    hist = pd.read_csv(out / "history.csv")
    assert hist["train_loss"].iloc[-1] < 0.5 * hist["train_loss"].iloc[0]
    card = json.loads((out / "model_card.json").read_text())
    assert card["precision"] == "bf16" and card["processes"] == 1
    assert card["val_acc"] >= 0.75
    model, card = load_bundle(out)
    with h5py.File(h5_path) as h5:
        imgs, sg = h5["images"][:, 0], h5["spacegroup"][...]
    acc = np.mean(np.array(CLASSES)[predict_proba(model, card, imgs).argmax(1)] == sg)
    assert acc >= 0.75


def test_world_from_launcher_environment():
    assert ddp.from_env({}) == ddp.World(0, 1, 0)
    torchrun = {"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"}
    assert ddp.from_env(torchrun) == ddp.World(3, 4, 1)
    step = {"SLURM_PROCID": "1", "SLURM_STEP_NUM_TASKS": "2", "SLURM_LOCALID": "1"}
    assert ddp.from_env(step) == ddp.World(1, 2, 1)
    # A batch script (no job step) is one process even when the job has several tasks.
    assert not ddp.from_env({"SLURM_PROCID": "0", "SLURM_NTASKS": "2"}).distributed
    assert ddp.too_small(3, ddp.World(1, 2, 1)) and not ddp.too_small(4, ddp.World(1, 2, 1))
    assert ddp.too_small(1, ddp.World()) and not ddp.too_small(2, ddp.World())


def test_launch_command_srun_in_a_slurm_job_else_torchrun(tmp_path):
    cfg = tiny_cfg(processes=3, workers=4)
    argv = ["--model", "m"]
    assert launch_command(tiny_cfg(), argv, {}) is None  # one process: train here
    assert launch_command(cfg, argv, {"RANK": "0", "WORLD_SIZE": "3"}) is None  # launched
    local = launch_command(cfg, argv, {"PATH": ""})
    assert local[1:4] == ["-m", "torch.distributed.run", "--standalone"]
    assert "--nproc-per-node=3" in local and local[-2:] == argv
    child = local[local.index("xtalsym") - 1 :]
    assert child[:4] == ["-m", "xtalsym", "train", "--params"]
    assert json.loads(child[4]) == cfg
    (tmp_path / "srun").write_text("#!/bin/sh\n")
    (tmp_path / "srun").chmod(0o755)
    job = {"SLURM_JOB_ID": "42", "PATH": str(tmp_path)}
    srun = launch_command(cfg, argv, job)
    assert srun[:3] == ["srun", "--ntasks=3", "--cpus-per-task=4"]
    assert srun[srun.index("xtalsym") - 2 :][:3] == [sys.executable, "-m", "xtalsym"]
    # Without srun on the PATH a SLURM job falls back to torchrun.
    assert launch_command(cfg, argv, {"SLURM_JOB_ID": "42", "PATH": ""})[0] == sys.executable


DDP_SCRIPT = textwrap.dedent(
    """
    import json, os, signal, sys
    from xtalsym.train import run_train

    cfg, args, log, kill_at = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    rank = int(os.environ.get("RANK", os.environ.get("SLURM_PROCID")))

    def record(epoch, row):
        with open(f"{log}.{rank}", "a") as f:
            f.write(f"{epoch}\\n")
        if epoch == kill_at and rank == 0:  # hard kill after the checkpoint: no clean-up
            os.kill(os.getpid(), signal.SIGKILL)

    run_train(cfg, "m", *args, on_epoch_end=record)
    """
)


def _script(tmp_path, cfg, args, kill_at):
    script = tmp_path / "ddp_train.py"
    script.write_text(DDP_SCRIPT)
    return [str(script), json.dumps(cfg), json.dumps(args), str(tmp_path / "ran"), str(kill_at)]


def _srun_like(tmp_path, cfg, args, kill_at):
    """Two processes with the environment an ``srun --ntasks=2`` job step gives its tasks
    (SLURM_PROCID, SLURM_STEP_NUM_TASKS, SLURM_LOCALID; the rendezvous address is given, as
    finding the first host needs scontrol). Like srun --kill-on-bad-exit, rank 1 is killed
    when rank 0 fails."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = {**os.environ, "OMP_NUM_THREADS": "1", "MASTER_ADDR": "127.0.0.1"}
    base["MASTER_PORT"] = str(port)
    procs = []
    for r in range(2):
        env = {**base, "SLURM_PROCID": str(r), "SLURM_STEP_NUM_TASKS": "2"}
        procs.append(
            subprocess.Popen(
                [sys.executable, *_script(tmp_path, cfg, args, kill_at)],
                env={**env, "SLURM_LOCALID": str(r)},
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    _, err = procs[0].communicate(timeout=240)
    if procs[0].returncode:
        procs[1].kill()
    procs[1].communicate(timeout=240)
    return procs[0].returncode, err


ARG_NAMES = ("images", "split", "weights", "out", "checkpoint-dir")


def _ran(tmp_path, rank):
    path = tmp_path / f"ran.{rank}"
    epochs = [int(e) for e in path.read_text().split()] if path.exists() else []
    path.unlink(missing_ok=True)
    return epochs


def test_ddp_two_cpu_processes_train_resume_and_match_one_process(tmp_path):
    """2 processes, gloo: started as srun starts them and killed after epoch 2, then started
    again by ``xtalsym train`` (train.processes = 2: torchrun), the run resumes (epochs 3-4
    only), its loss falls, the bundle predicts, and (no BatchNorm, no dropout, no class
    weights: the averaged gradient is the global batch's) the weights match a one-process
    run of the same config."""
    h5_path, split_path, weights_path = write_toy(tmp_path)
    cfg = tiny_cfg(epochs=4, norm="none", dropout=0.0, imbalance="none", lr=0.02, processes=2)
    out, ck = tmp_path / "out", tmp_path / "ck"
    args = [str(h5_path), str(split_path), str(weights_path), str(out), str(ck)]
    rc, err = _srun_like(tmp_path, cfg, args, kill_at=2)
    assert rc == -9, err[-3000:]  # rank 0 SIGKILLed itself after epoch 2's checkpoint
    assert _ran(tmp_path, 0) == [1, 2] and not (out / "model.pt").exists()
    _ran(tmp_path, 1)
    first = torch.load(ck / "checkpoint.pt", weights_only=True)
    assert first["epoch"] == 2
    steps_2 = int(next(iter(first["optimizer"]["state"].values()))["step"])

    # Started again by the command line with train.processes = 2, which launches torchrun.
    cmd = [sys.executable, "-m", "xtalsym", "train", "--params", json.dumps(cfg), "--model=m"]
    cmd += [f"--{k}={v}" for k, v in zip(ARG_NAMES, args, strict=True)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "resuming m" in proc.stderr and "x 2, fp32" in proc.stderr
    final = torch.load(ck / "checkpoint.pt", weights_only=True)
    assert int(next(iter(final["optimizer"]["state"].values()))["step"]) == 2 * steps_2
    hist = pd.read_csv(out / "history.csv")
    assert list(hist["epoch"]) == [1, 2, 3, 4]
    assert hist["seconds"].iloc[:2].tolist() == [r["seconds"] for r in first["history"]]
    assert hist["train_loss"].iloc[-1] < 0.5 * hist["train_loss"].iloc[0]
    model, card = load_bundle(out)
    assert card["processes"] == 2 and card["precision"] == "fp32"
    with h5py.File(h5_path) as h5:
        imgs, sg = h5["images"][:, 0], h5["spacegroup"][...]
    acc = np.mean(np.array(CLASSES)[predict_proba(model, card, imgs).argmax(1)] == sg)
    assert acc >= 0.75

    ref = tmp_path / "ref"
    run_train(cfg, "m", h5_path, split_path, weights_path, ref, tmp_path / "ref_ck")
    a = torch.load(ck / "checkpoint.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "ref_ck" / "checkpoint.pt", weights_only=True)["model"]
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-3, atol=1e-5)
    ref_hist = pd.read_csv(ref / "history.csv")
    np.testing.assert_allclose(hist["train_loss"], ref_hist["train_loss"], rtol=1e-4)


def test_raw_copy_mapped_resident_and_streamed_sources_deliver_the_same_batches(tmp_path):
    h5_path, split_path, _ = write_toy(tmp_path, variants=2)
    f = open_image_file(h5_path)
    raw = ensure_raw_copy(f, tmp_path / "raw")
    assert raw.stat().st_size >= f.shape[0] * f.row_bytes  # uncompressed: the raw size
    with h5py.File(h5_path) as h5:
        assert np.array_equal(open_raw(raw), h5["images"][...])
    assert ensure_raw_copy(f, tmp_path / "raw") == raw  # found, not rewritten
    fr = dataclasses.replace(f, raw=raw)
    splits = read_split_rows(h5_path, split_path, CLASSES)
    ram = load_splits(f, splits, 10**9, 0)
    mapped = load_splits(fr, splits, 10**9, 0)
    stream = load_splits(fr, splits, f.row_bytes * 12, 1)
    assert isinstance(mapped["train"].source.data, np.memmap) and not stream["train"].in_memory
    windows = ram["train"].plan(np.random.default_rng(7))
    ref_x, ref_y = map(torch.cat, zip(*ram["train"].batches(windows, 5), strict=True))
    resident = {k: s.source.resident(torch.device("cpu"), s.n_variants) for k, s in ram.items()}
    for source in (mapped["train"], stream["train"], resident["train"]):
        x, y = map(torch.cat, zip(*source.batches(windows, 5), strict=True))
        assert torch.equal(x, ref_x) and torch.equal(y, ref_y)
        # Rank r of 2 gets draws r, r + 2, ... of every global batch of 5.
        parts = [list(source.batches(windows, 5, (r, 2))) for r in range(2)]
        for k, (xg, _) in enumerate(ram["train"].batches(windows, 5)):
            for r in range(2):
                assert torch.equal(parts[r][k][0], xg[r::2])
    val = ram["val"].plan(None)
    ref_v = torch.cat([x for x, _ in ram["val"].batches(val, 4)])
    for source in (mapped["val"], resident["val"]):
        assert torch.equal(torch.cat([x for x, _ in source.batches(val, 4)]), ref_v)


def test_training_from_the_raw_copy_gives_the_same_weights(tmp_path):
    h5_path, split_path, weights_path = write_toy(tmp_path)
    states = {}
    for name, extra in {"gzip": {}, "raw": {"raw_copy": True}}.items():
        out, ck = tmp_path / name, tmp_path / "train" / name
        run_train(tiny_cfg(epochs=1, **extra), "m", h5_path, split_path, weights_path, out, ck)
        states[name] = torch.load(out / "model.pt", weights_only=True)
    assert len(list((tmp_path / "train" / "raw").glob("*.raw.npy"))) == 1
    a, b = states["gzip"], states["raw"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_workflow_asks_slurm_for_one_task_per_gpu(tmp_path):
    """train.processes = 2 on CUDA: the train_model jobs carry tasks = 2, one task per GPU,
    two GPUs and mpi = srun (the SLURM plugin then runs the rule in the batch step, where
    xtalsym starts its own srun); with one process the request is unchanged."""
    root = Path(__file__).resolve().parents[1]
    multi = tmp_path / "multi.yaml"
    multi.write_text("train:\n  processes: 2\n  device: cuda\n")
    base = [sys.executable, "-m", "snakemake", "-n", "--cores", "1"]
    base += ["--config", f"results={tmp_path / 'r'}", "--configfile"]
    tiny = str(root / "tests" / "data" / "tiny_config.yaml")
    outs = {}
    for name, files in {"multi": [tiny, str(multi)], "one": [tiny]}.items():
        proc = subprocess.run(
            [*base, *files], cwd=root, capture_output=True, text=True, timeout=300
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        outs[name] = [ln for ln in proc.stdout.splitlines() if "resources:" in ln]
    train = [ln for ln in outs["multi"] if "gpu=" in ln]
    assert train and all("tasks=2" in ln and "tasks_per_gpu=1" in ln for ln in train)
    assert all("mpi=srun" in ln and "gpu=2" in ln for ln in train)
    assert not any("mpi=" in ln or "tasks=" in ln for ln in outs["one"])
