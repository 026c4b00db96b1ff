"""Train one model of config ``train.models``: resumable, early-stopped, reproducible.

Adam with L2 weight decay; cross-entropy with the split stage's class weights, or a
class-balanced sampler, or neither (``split.imbalance``); a learning rate warmed up linearly
over the first epoch (at most 10 % of all steps), then cosine-annealed to 1 % per step; early
stopping when validation accuracy (ties: lower validation loss) has not improved for
``train.patience`` epochs; the bundle keeps the best-validation epoch. The forward pass runs
under ``train.precision`` (:mod:`.precision`, the same code on CPU and GPU) and, launched by
torchrun or srun, data-parallel over processes (:mod:`.distributed`, :mod:`.engine`).

Each epoch ends with an atomic checkpoint (model, optimiser, scheduler, grad scaler, sampler
and RNG states, history, best weights). A run started again with the same config continues
from it; on CPU the final weights equal those of an uninterrupted run bit for bit, because
every epoch's data order comes from a generator seeded by (seed, epoch) and its dropout
from the torch RNG seeded by (seed, epoch, rank).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from .. import __version__
from ..channels import input_channels
from ..io import check_artifact, derive_seed, write_table
from ..models import build_model, count_parameters
from ..spacegroups import resolve_classes
from . import distributed as ddp
from .bundle import save_bundle
from .checkpoint import CHECKPOINT, compute_run_hash, load_checkpoint, save_checkpoint
from .data import memory_budget, open_image_file, read_split_rows
from .device import loader_workers, select_device
from .distributed import World
from .engine import Trainer
from .loading import load_splits
from .precision import resolve_precision
from .rawcopy import copy_path, ensure_raw_copy
from .schedule import improved

logger = logging.getLogger(__name__)

HISTORY_COLUMNS = ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds"]


def read_class_weights(path: str | os.PathLike, classes: list[int]) -> np.ndarray:
    """Weight per class index from class_weights.csv (1.0 for classes it does not list)."""
    table = pd.read_csv(path)
    lookup = dict(zip(table["spacegroup"].astype(int), table["weight"].astype(float), strict=True))
    return np.array([lookup.get(sg, 1.0) for sg in classes], dtype=np.float64)


def _finite(x: float | None) -> float | None:
    """JSON has no NaN: a missing metric (no validation crystals) is null."""
    return None if x is None or not math.isfinite(x) else float(x)


def log_prior(counts: np.ndarray) -> np.ndarray:
    """Log class prior of the training split, add-one smoothed so an absent class stays finite."""
    counts = np.asarray(counts, dtype=np.float64)
    return np.log((counts + 1.0) / (counts.sum() + len(counts)))


def validation_calibration(
    logits: np.ndarray | None, y: np.ndarray | None, card: dict[str, Any]
) -> dict[str, Any]:
    """The card's ``calibration`` entry: the temperature fitted on the validation logits (read
    with the card's logit adjustment), or 1.0 without validation crystals."""
    from ..evaluate.calibration import fit_temperature, nll
    from .bundle import inference_logits

    if logits is None or y is None or len(y) == 0:
        return {"temperature": 1.0, "fitted_on": None, "n": 0}
    z = inference_logits(logits, card, calibrated=False)
    t = fit_temperature(z, y)
    return {
        "temperature": t,
        "fitted_on": "val",
        "n": int(len(y)),
        "val_nll_before": nll(z, y),
        "val_nll_after": nll(z, y, t),
    }


def _parse_attr(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def run_train(
    cfg: dict[str, Any],
    model_name: str,
    images_path: str | os.PathLike,
    split_path: str | os.PathLike,
    weights_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    ckpt_dir: str | os.PathLike,
    *,
    on_epoch_end: Callable[[int, dict[str, Any]], None] | None = None,
) -> None:
    """Train ``cfg["train"]["models"][model_name]``; write the bundle to ``out_dir``.

    Resumes from ``ckpt_dir/checkpoint.pt`` when it matches the config and data.
    ``on_epoch_end(epoch, history_row)`` runs after each epoch's checkpoint is written (on
    every rank of a distributed run).
    """
    world = ddp.from_env()
    if not world.main:  # one log per run: rank 0's
        logging.getLogger("xtalsym").setLevel(logging.WARNING)
    device = ddp.setup(world, select_device(cfg["train"]["device"]))
    paths = (images_path, split_path, weights_path, out_dir, ckpt_dir)
    try:
        _run(cfg, model_name, *paths, world, device, on_epoch_end)
    finally:
        ddp.teardown(world)


def _run(
    cfg: dict[str, Any],
    model_name: str,
    images_path: str | os.PathLike,
    split_path: str | os.PathLike,
    weights_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    ckpt_dir: str | os.PathLike,
    world: World,
    device: torch.device,
    on_epoch_end: Callable[[int, dict[str, Any]], None] | None,
) -> None:
    tcfg = cfg["train"]
    if not tcfg["models"].get(model_name):
        names = ", ".join(m for m, spec in tcfg["models"].items() if spec)
        raise ValueError(f"model {model_name!r} is not in train.models ({names})")
    spec = tcfg["models"][model_name]
    arch, input_mode = spec["arch"], spec["input"]
    classes = resolve_classes(cfg["classes"])
    imbalance = cfg["split"]["imbalance"]
    seed = derive_seed(cfg["seed"], "train", model_name)
    precision = resolve_precision(tcfg["precision"], device)
    ckpt_path = Path(ckpt_dir) / CHECKPOINT

    for path in (images_path, split_path, weights_path):
        check_artifact(path)
    image_file = open_image_file(images_path)
    mode = image_file.attrs.get("mode")
    if mode is not None and mode != input_mode:
        raise ValueError(f"{model_name} trains on {input_mode} images but {images_path} is {mode}")
    if image_file.channels != input_channels(input_mode):
        raise ValueError(f"{images_path}: {image_file.channels} channels for {input_mode} images")
    splits = read_split_rows(images_path, split_path, classes)
    if not len(splits["train"]):
        raise ValueError(f"no training crystals: {split_path} has no train rows in the class set")
    workers = loader_workers(tcfg["workers"])
    if tcfg["raw_copy"]:  # shared by the models trained on these images
        cache = Path(ckpt_dir).parent / "raw"
        if world.main:
            ensure_raw_copy(image_file, cache)
        ddp.barrier(world)
        image_file = dataclasses.replace(image_file, raw=copy_path(image_file, cache))
    data = load_splits(image_file, splits, memory_budget(tcfg["cache_gb"]), workers, device)
    if not len(splits["val"]):
        logger.warning("no validation crystals: model selection and early stopping use train")

    weights = read_class_weights(weights_path, classes)
    # logit_adjust trains balanced like class_weights; the prior returns at inference (card)
    class_weights = weights if imbalance in ("class_weights", "logit_adjust") else None
    class_probs = weights if imbalance == "sampler" else None

    arch_params = {
        "growth": int(tcfg["growth"]),
        "blocks": [int(b) for b in tcfg["blocks"]],
        "stem": int(tcfg["stem"]),
        "dropout": float(tcfg["dropout"]),
        "input_size": image_file.size,
        "norm": tcfg["norm"],
        "align_streams": bool(tcfg["align_streams"]),
    }
    if arch == "msdn_set":
        arch_params["subsets"] = [float(v) for v in tcfg["pattern_subsets"]]
    torch.manual_seed(seed)
    model = build_model(arch, len(classes), **arch_params).to(device)
    if precision.channels_last:
        model = model.to(memory_format=torch.channels_last)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True

    epochs, batch_size = int(tcfg["epochs"]), int(tcfg["batch_size"])
    steps_per_epoch = math.ceil(len(splits["train"]) / batch_size)
    total = epochs * steps_per_epoch
    trainer = Trainer(
        ddp.wrap(model, world, device),
        arch,
        device,
        precision,
        world,
        float(tcfg["lr"]),
        float(tcfg["weight_decay"]),
        class_weights,
        total_steps=total,
        warmup_steps=max(1, min(steps_per_epoch, total // 10)),
    )
    run_hash = compute_run_hash(cfg, model_name, images_path, split_path, weights_path)

    history: list[dict[str, Any]] = []
    best: dict[str, Any] = {"epoch": 0, "score": None, "val_acc": None, "val_loss": None}
    best_state: dict[str, torch.Tensor] | None = None
    bad_epochs, stopped, start = 0, False, 0
    ckpt = load_checkpoint(ckpt_path, run_hash)
    if ckpt is not None:
        trainer.load_state(ckpt)
        history, best, best_state = ckpt["history"], ckpt["best"], ckpt["best_state"]
        bad_epochs, stopped, start = ckpt["bad_epochs"], ckpt["stopped"], ckpt["epoch"]
        logger.info("resuming %s from %s after epoch %d", model_name, ckpt_path, start)
    logger.info(
        "%s: %s, %d parameters, %d train / %d val crystals, %s, imbalance=%s, on %s x %d, %s",
        model_name,
        arch,
        count_parameters(model),
        len(splits["train"]),
        len(splits["val"]),
        input_mode,
        imbalance,
        device,
        world.size,
        precision.name,
    )

    for epoch in range(start + 1, epochs + 1):
        if stopped:
            break
        t0 = time.perf_counter()
        # Dropout from (seed, epoch, rank): a resumed epoch replays it without RNG state.
        torch.manual_seed(derive_seed(seed, "dropout", epoch, world.rank))
        # The sampler: this epoch's order, draws and variants from (seed, epoch) alone.
        rng = np.random.default_rng(derive_seed(seed, "epoch", epoch))
        windows = data["train"].plan(rng, class_probs)
        train_loss, train_acc = trainer.train_epoch(
            data["train"], windows, batch_size, f"{model_name} {epoch}/{epochs}"
        )
        if len(splits["val"]):
            val_loss, val_acc = trainer.evaluate(data["val"], batch_size)
            score = [val_acc, val_loss]
        else:
            val_loss, val_acc = float("nan"), float("nan")
            score = [train_acc, train_loss]
        row = {
            "epoch": epoch,
            "train_loss": train_loss,
            "train_acc": train_acc,
            "val_loss": val_loss,
            "val_acc": val_acc,
            "lr": float(trainer.optimizer.param_groups[0]["lr"]),
            "seconds": time.perf_counter() - t0,
        }
        history.append(row)
        if improved(score, best["score"]):
            best = {"epoch": epoch, "score": score, "val_acc": val_acc, "val_loss": val_loss}
            best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
            bad_epochs = 0
        else:
            bad_epochs += 1
        stopped = bad_epochs >= int(tcfg["patience"])
        logger.info(
            "%s epoch %d/%d: train loss %.4f acc %.3f | val loss %.4f acc %.3f | lr %.2e | %.1f s",
            model_name,
            epoch,
            epochs,
            train_loss,
            train_acc,
            val_loss,
            val_acc,
            row["lr"],
            row["seconds"],
        )
        if world.main:
            ckpt = {
                "format": 1,
                "run_hash": run_hash,
                "epoch": epoch,
                **trainer.state(),
                "sampler": {"kind": imbalance, "seed": seed, "next_epoch": epoch + 1},
                "history": history,
                "best": best,
                "best_state": best_state,
                "bad_epochs": bad_epochs,
                "stopped": stopped,
            }
            save_checkpoint(ckpt_path, ckpt)
            history_df = pd.DataFrame(history, columns=HISTORY_COLUMNS)
            write_table(Path(ckpt_dir) / "history.csv", history_df)
        ddp.barrier(world)  # no rank runs ahead of the checkpoint it would resume from
        if on_epoch_end is not None:
            on_epoch_end(epoch, row)
        if stopped:
            logger.info("early stop after epoch %d (best epoch %d)", epoch, best["epoch"])

    if not world.main:  # rank 0 writes the bundle; the others wait for it
        ddp.barrier(world)
        return
    train_counts = np.bincount(splits["train"].labels, minlength=len(classes))
    inference: dict[str, Any] = {"train_class_counts": train_counts.tolist()}
    if imbalance == "logit_adjust":
        inference["logit_adjustment"] = log_prior(train_counts).tolist()
    model.load_state_dict(best_state)
    val_logits, val_y = (
        trainer.logits(data["val"], batch_size) if len(splits["val"]) else (None, None)
    )
    inference["calibration"] = validation_calibration(val_logits, val_y, inference)
    card = {
        "name": model_name,
        "arch": arch,
        "arch_params": arch_params,
        "n_parameters": count_parameters(model),
        "classes": classes,
        "input_size": image_file.size,
        "input_mode": input_mode,
        "patterns": cfg["patterns"],
        "shaping": cfg["shaping"],
        # spglib tolerance of the training labels: user files are labelled with it too.
        "structures": {"symprec": float(cfg["structures"]["symprec"])},
        "config_hash": run_hash,
        "data_source": {
            "path": str(images_path),
            **{k: _parse_attr(v) for k, v in image_file.attrs.items()},
        },
        "xtalsym_version": __version__,
        "best_epoch": int(best["epoch"]),
        "val_acc": _finite(best["val_acc"]),
        "val_loss": _finite(best["val_loss"]),
        "epochs_run": len(history),
        "stopped_early": bool(stopped),
        "imbalance": imbalance,
        "seed": seed,
        "n_train": len(splits["train"]),
        "n_val": len(splits["val"]),
        "device": device.type,
        "precision": precision.name,
        "processes": world.size,
        "train_seconds": float(sum(r["seconds"] for r in history)),
        **inference,
    }
    save_bundle(out_dir, best_state, card, pd.DataFrame(history, columns=HISTORY_COLUMNS))
    ddp.barrier(world)
    logger.info("wrote %s (best epoch %d, val acc %s)", out_dir, best["epoch"], best["val_acc"])
