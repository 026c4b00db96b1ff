"""Training and inference throughput of the MSDN on this machine (crystals/s), and the loader.

A crystal is one triplet of x, y, z images. Timed: composing the uint8 images into the float
input, forward, and (training) cross-entropy backward plus an Adam step, on the device the
trainer would pick (``train.device: auto``), at the precision ``train.precision: auto`` picks
there (:mod:`xtalsym.train.precision`) and, for the paper setting, also in bf16 (on the CPU:
the figure beside fp32). Settings: the paper's (growth 32, blocks 3-6-12-8, stem 32,
224 x 224) and the quick default (growth 12, blocks 2-3-4-3, stem 16, 64 x 64).

``loader`` (benchmarks/bench_loader.py) is the input pipeline at 224 px; ``loader_crystals_per_s``
its figure for the paper config (raw copy, memory-mapped, one process), set against
``gpu_demand_crystals_per_s``: what one GPU would consume, from the training FLOPs per crystal
(counted here) at an assumed sustained rate.

On a GPU (``run(device="cuda")``, ``python -m benchmarks.bench_training --device cuda``; what
scripts/gpu_check.sh runs) the paper setting is timed at the trainer's batch of 64 and at 256,
with cuDNN autotuning and after warm-up steps, with the peak GPU memory of each, the TFLOP/s
reached and the split resident on the GPU as the loader (``loader_resident_crystals_per_s``).
``paper_epoch_s`` projects one pass over the paper's 108,658 crystals at the measured rate
(``paper_epoch_hours``: its training split, 80 %).
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import torch

from xtalsym.models import build_model, count_parameters
from xtalsym.train import compose_inputs
from xtalsym.train.device import select_device
from xtalsym.train.precision import Precision, resolve_precision

try:
    from benchmarks import bench_loader
    from benchmarks.common import write_result
except ImportError:  # run as a script from benchmarks/
    import bench_loader
    from common import write_result

N_CLASSES = 72
PAPER_N = 108_658
# Sustained training throughput assumed for one data-centre GPU in bf16 (TFLOP/s): DenseNets
# reach a small share of the tensor-core peak (A100: 312, H100: 990); 20 TFLOP/s is about what
# DenseNet-121 training at 1,000-2,000 images/s amounts to. An assumption, not a measurement.
GPU_SUSTAINED_TFLOPS = 20.0
SETTINGS = {
    "paper_224": {"growth": 32, "blocks": (3, 6, 12, 8), "stem": 32, "input_size": 224},
    "quick_64": {"growth": 12, "blocks": (2, 3, 4, 3), "stem": 16, "input_size": 64},
}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def train_flops_per_crystal(params: dict[str, Any]) -> float:
    """FLOPs of one training step (forward + backward) per crystal, counted by torch."""
    from torch.utils.flop_counter import FlopCounterMode

    model = build_model("msdn", N_CLASSES, dropout=0.2, **params)
    s = params["input_size"]
    counter = FlopCounterMode(display=False)
    with counter:
        model(torch.zeros(1, 3, 3, s, s)).sum().backward()
    return float(counter.get_total_flops())


def throughput(
    params: dict[str, Any],
    batch: int,
    steps: int,
    device: torch.device,
    precision: Precision,
    warmup: int = 1,
) -> dict[str, float]:
    """Crystals per second for training steps and for inference, after ``warmup`` steps; on
    CUDA also the peak memory allocated by each (GiB)."""
    torch.manual_seed(0)
    model = build_model("msdn", N_CLASSES, dropout=0.2, **params).to(device)
    cl = precision.channels_last
    if cl:
        model = model.to(memory_format=torch.channels_last)
    s = params["input_size"]
    images = torch.randint(0, 256, (batch, 3, 2, s, s), dtype=torch.uint8)
    labels = torch.randint(0, N_CLASSES, (batch,), device=device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    scaler = precision.grad_scaler()

    def train_step() -> None:  # the trainer's step (engine.Trainer.train_epoch)
        x = compose_inputs(images.to(device), "msdn", channels_last=cl)
        with precision.autocast():
            loss = torch.nn.functional.cross_entropy(model(x).float(), labels)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()

    @torch.no_grad()
    def infer_step() -> None:
        x = compose_inputs(images.to(device), "msdn", channels_last=cl)
        with precision.autocast():
            model(x)

    out = {"n_parameters": count_parameters(model), "batch": batch, "steps": steps}
    out["precision"] = precision.name
    for name, step, mode in (("train", train_step, True), ("infer", infer_step, False)):
        model.train(mode)
        for _ in range(warmup):  # allocations, cuDNN autotuning
            step()
        _sync(device)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        _sync(device)
        out[f"{name}_crystals_per_s"] = batch * steps / (time.perf_counter() - t0)
        if device.type == "cuda":
            out[f"{name}_peak_gib"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
    return out


def _rate(results: dict[str, Any], key: str) -> float | None:
    row = results.get(key)
    return round(row["train_crystals_per_s"], 3) if row else None


def run(quick: bool = False, device: str = "auto", size: int = 224) -> dict[str, Any]:
    """The figures (also written to training.json). ``device``: auto, cpu or cuda;
    ``size``: the paper setting's input side in pixels (quick: 32)."""
    device = select_device(device)
    cuda = device.type == "cuda"
    if cuda:
        torch.backends.cudnn.benchmark = True  # as the trainer
    default_threads = torch.get_num_threads()
    # On a CPU shared with other jobs, OpenMP barriers across threads can cost 10-100x; time
    # one thread and all of them and report the faster (both are kept in "settings").
    thread_counts = [default_threads] if cuda else [1] if quick else sorted({1, default_threads})
    auto = resolve_precision("auto", device)
    bf16 = resolve_precision("bf16", device)
    settings = {k: dict(v) for k, v in SETTINGS.items()}
    settings["paper_224"]["input_size"] = int(size)
    results: dict[str, Any] = {}
    for name, p in settings.items():
        warmup = 1
        if quick:  # seconds: small inputs, one step
            p["input_size"] = 32
            batch, steps = 2, 1
        elif cuda:  # the trainer's batch; cuDNN autotunes in the warm-up steps
            batch, steps, warmup = 64, 30, 3
        else:
            batch, steps = (8, 2) if p["input_size"] >= 224 else (32, 3)
        runs = []
        for n in thread_counts:
            torch.set_num_threads(n)
            runs.append({"threads": n, **throughput(p, batch, steps, device, auto, warmup)})
        best = max(runs, key=lambda r: r["train_crystals_per_s"])
        if name == "paper_224":  # bf16 beside the default, at the faster thread count
            torch.set_num_threads(best["threads"])
            row = best if auto == bf16 else throughput(p, batch, steps, device, bf16, warmup)
            results["paper_224_bf16"] = {"threads": best["threads"], **row}
            if cuda and not quick:  # a larger batch: how much of the GPU 64 leaves idle
                big = throughput(p, 4 * batch, steps, device, bf16, warmup)
                results["paper_224_bf16_batch256"] = big
        torch.set_num_threads(default_threads)
        results[name] = {**p, "blocks": list(p["blocks"]), **best, "by_threads": runs}
    paper, quick_row = results["paper_224"], results["quick_64"]
    bf16_row = results["paper_224_bf16"]
    flops = train_flops_per_crystal(settings["paper_224"])
    demand = GPU_SUSTAINED_TFLOPS * 1e12 / flops
    loader = bench_loader.run(quick=quick, device=device)
    loader_rate = loader["rates"]["raw_mapped"]
    rate = paper["train_crystals_per_s"]
    figures = {
        "device": device.type,
        "quick": quick,
        "input_size": settings["paper_224"]["input_size"],
        "train_crystals_per_s": round(paper["train_crystals_per_s"], 3),
        "infer_crystals_per_s": round(paper["infer_crystals_per_s"], 3),
        "precision": paper["precision"],
        "channels_last": auto.channels_last,
        "batch": paper["batch"],
        # Peak GPU memory of the timed training steps (GiB; None on the CPU).
        "train_peak_gib": paper.get("train_peak_gib"),
        # The same paper-setting step in bf16 autocast (CPU: beside fp32 above).
        "bf16_train_crystals_per_s": round(bf16_row["train_crystals_per_s"], 3),
        "bf16_infer_crystals_per_s": round(bf16_row["infer_crystals_per_s"], 3),
        "batch256_train_crystals_per_s": _rate(results, "paper_224_bf16_batch256"),
        "batch256_train_peak_gib": results.get("paper_224_bf16_batch256", {}).get("train_peak_gib"),
        "quick_train_crystals_per_s": round(quick_row["train_crystals_per_s"], 3),
        "quick_infer_crystals_per_s": round(quick_row["infer_crystals_per_s"], 3),
        # One epoch over the paper's training set (80 % of 108,658 crystals) at this speed.
        "paper_epoch_hours": None if quick else round(0.8 * PAPER_N / rate / 3600, 2),
        # One pass over all 108,658 crystals at this speed (s).
        "paper_epoch_s": None if quick else round(PAPER_N / rate, 1),
        "settings": results,
        "train_gflop_per_crystal": round(flops / 1e9, 2),
        # What the timed paper step reached (training FLOPs counted by torch / time).
        "train_tflops": round(rate * flops / 1e12, 2),
        "gpu_demand_crystals_per_s": round(demand, 1),
        "gpu_sustained_tflops_assumed": GPU_SUSTAINED_TFLOPS,
        # The paper config's loader (train.raw_copy: memory-mapped copy, one process, uint8
        # batches; composition runs on the GPU) and the old default (gzip HDF5, streamed).
        "loader_crystals_per_s": loader_rate,
        "loader_gzip_stream_crystals_per_s": loader["rates"]["stream_gzip4_w0"],
        "loader_vs_gpu_demand": round(loader_rate / demand, 2),
        # The split resident on the compute device, batches gathered there (a GPU's loader
        # when the set fits in half its memory), against the measured training rate.
        "loader_resident_crystals_per_s": loader["rates"]["resident"],
        "loader_vs_train": round(loader_rate / rate, 2),
        "loader": loader,
        "load_average": [round(x, 1) for x in os.getloadavg()],
        "note": "train/infer figures at the paper's settings (224 px); quick_* at the quick "
        "default (64 px); crystals = triplets of images; image reading excluded",
    }
    return write_result("training", figures)


def main(argv: list[str] | None = None) -> None:
    import json

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="seconds-long smoke run")
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--size", type=int, default=224, help="paper setting's input side, px")
    args = ap.parse_args(argv)
    doc = run(quick=args.quick, device=args.device, size=args.size)
    keys = [k for k, v in doc.items() if not isinstance(v, dict | list)]
    print(json.dumps({k: doc[k] for k in keys}, indent=2))


if __name__ == "__main__":
    main()
