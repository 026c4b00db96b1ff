"""Train one model of config ``train.models``: resumable, early-stopped, reproducible.

Adam with L2 weight decay; cross-entropy with the split stage's class weights, or a
class-balanced sampler, or neither (``split.imbalance``); a learning rate warmed up linearly
over the first epoch (at most 10 % of all steps), then cosine-annealed to 1 % per step; early
stopping when validation accuracy (ties: lower validation loss) has not improved for
``train.patience`` epochs; the bundle keeps the best-validation epoch.

Each epoch ends with an atomic checkpoint (model, optimiser, scheduler, grad scaler, sampler
and RNG states, history, best weights). A run started again with the same config continues
from it; on CPU the final weights equal those of an uninterrupted run bit for bit, because
every epoch's data order comes from a generator seeded by (seed, epoch) and the torch RNG
(dropout) is restored.
"""

from __future__ import annotations

import json
import logging
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm import tqdm

from .. import __version__
from ..io import atomic_path, config_hash, derive_seed, write_table
from ..models import build_model, count_parameters
from ..spacegroups import resolve_classes
from .bundle import save_bundle
from .data import (
    SplitData,
    compose_inputs,
    load_splits,
    memory_budget,
    open_image_file,
    read_split_rows,
)

logger = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.pt"
HISTORY_COLUMNS = ["epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds"]
# Keys of cfg["train"] that do not change the result, so a checkpoint survives their change.
_RUNTIME_KEYS = ("models", "device", "workers", "cache_gb")


def select_device(pref: str) -> torch.device:
    """``auto``: CUDA when available, else CPU; ``cuda`` fails clearly without a GPU."""
    if pref == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("train.device is cuda but no CUDA device is available")
    if pref == "cuda" or (pref == "auto" and torch.cuda.is_available()):
        return torch.device("cuda")
    return torch.device("cpu")


def loader_workers(requested: int) -> int:
    """DataLoader workers: the configured number, capped at the cores this process may use."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(0, min(int(requested), cores))


def read_class_weights(path: str | os.PathLike, classes: list[int]) -> np.ndarray:
    """Weight per class index from class_weights.csv (1.0 for classes it does not list)."""
    table = pd.read_csv(path)
    lookup = dict(zip(table["spacegroup"].astype(int), table["weight"].astype(float), strict=True))
    return np.array([lookup.get(sg, 1.0) for sg in classes], dtype=np.float64)


def lr_factor(step: int, warmup: int, total: int) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine from 1 to 0.01 at ``total``."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return 0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * progress))


def improved(score: list[float], best: list[float] | None, min_delta: float = 1e-4) -> bool:
    """Whether ``score`` = [accuracy, loss] beats ``best``: higher accuracy, or the same
    accuracy and a loss lower by more than ``min_delta`` (so noise-level changes do not
    reset early stopping)."""
    if best is None:
        return True
    acc, loss = score
    best_acc, best_loss = best
    if not math.isfinite(acc):  # no labels to score: every epoch counts
        return True
    return acc > best_acc or (acc == best_acc and loss < best_loss - min_delta)


def _run_hash(cfg: dict[str, Any], model_name: str, data_hash: str | None, n_rows: int) -> str:
    """Hash of everything that determines the trained weights (not device or worker count)."""
    tcfg = {k: v for k, v in cfg["train"].items() if k not in _RUNTIME_KEYS}
    return config_hash(
        {
            "train": tcfg,
            "model": {"name": model_name, **cfg["train"]["models"][model_name]},
            "classes": cfg["classes"],
            "seed": cfg["seed"],
            "imbalance": cfg["split"]["imbalance"],
            "data": [data_hash, n_rows],
        }
    )


def _finite(x: float | None) -> float | None:
    """JSON has no NaN: a missing metric (no validation crystals) is null."""
    return None if x is None or not math.isfinite(x) else float(x)


def _parse_attr(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


class _Trainer:
    """One model's optimisation state and its epoch loop."""

    def __init__(
        self,
        model: nn.Module,
        arch: str,
        device: torch.device,
        lr: float,
        weight_decay: float,
        class_weights: np.ndarray | None,
        total_steps: int,
        warmup_steps: int,
    ) -> None:
        self.model, self.arch, self.device = model, arch, device
        self.cuda = device.type == "cuda"
        self.optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: lr_factor(s, warmup_steps, total_steps)
        )
        # bf16 needs no loss scaling; fp16 (older GPUs) does.
        self.amp_dtype = None
        if self.cuda:
            self.amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        w = None if class_weights is None else torch.as_tensor(class_weights, dtype=torch.float32)
        self.criterion = nn.CrossEntropyLoss(weight=w.to(device) if w is not None else None)

    def _inputs(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device, non_blocking=True)
        return compose_inputs(x, self.arch, channels_last=self.cuda)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.cuda):
            return self.model(x).float()

    def train_epoch(
        self, data: SplitData, windows: list, batch_size: int, desc: str
    ) -> tuple[float, float]:
        """Mean training loss and accuracy over the epoch's draws."""
        self.model.train()
        n_draws = sum(len(w.positions) for w in windows)
        loss_sum = torch.zeros((), dtype=torch.float64, device=self.device)
        correct = torch.zeros((), dtype=torch.int64, device=self.device)
        seen = steps = 0
        bar = tqdm(
            total=n_draws,
            desc=desc,
            unit="crystal",
            mininterval=1.0 if sys.stderr.isatty() else 30.0,
            leave=False,
        )
        for xb, yb in data.batches(windows, batch_size):
            bar.update(len(yb))
            if len(yb) < 2:  # a lone last sample: BatchNorm baselines cannot train on it
                continue
            x, y = self._inputs(xb), yb.to(self.device, non_blocking=True)
            logits = self._forward(x)
            loss = self.criterion(logits, y)
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.scheduler.step()
            loss_sum += loss.detach().double() * len(y)
            correct += (logits.argmax(1) == y).sum()
            seen += len(y)
            steps += 1
            if steps % 20 == 1:  # .item() waits for the GPU: not every step
                bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
        bar.close()
        if not seen:
            return float("nan"), float("nan")
        return float(loss_sum) / seen, float(correct) / seen

    @torch.no_grad()
    def evaluate(self, data: SplitData, batch_size: int) -> tuple[float, float]:
        """Loss (same criterion as training) and accuracy on a split, variant 0."""
        self.model.eval()
        loss_sum, correct, seen = 0.0, 0, 0
        for xb, yb in data.batches(data.plan(None), batch_size):
            x, y = self._inputs(xb), yb.to(self.device)
            logits = self._forward(x)
            loss_sum += float(self.criterion(logits, y)) * len(y)
            correct += int((logits.argmax(1) == y).sum())
            seen += len(y)
        if not seen:
            return float("nan"), float("nan")
        return loss_sum / seen, correct / seen

    def state(self) -> dict[str, Any]:
        rng = {"torch": torch.get_rng_state()}
        if self.cuda:
            rng["cuda"] = torch.cuda.get_rng_state_all()
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": rng,
        }

    def load_state(self, ckpt: dict[str, Any]) -> None:
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        self.scaler.load_state_dict(ckpt["scaler"])
        torch.set_rng_state(ckpt["rng"]["torch"])
        if self.cuda and "cuda" in ckpt["rng"]:
            torch.cuda.set_rng_state_all(ckpt["rng"]["cuda"])


def _save_checkpoint(path: Path, ckpt: dict[str, Any]) -> None:
    with atomic_path(path) as tmp:
        torch.save(ckpt, tmp)


def _load_checkpoint(path: Path, run_hash: str) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a foreign or damaged file: start over rather than fail
        logger.warning("ignoring unreadable checkpoint %s (%s)", path, e)
        return None
    if ckpt.get("run_hash") != run_hash:
        logger.warning("checkpoint %s is from a different config or data; starting over", path)
        return None
    return ckpt


def run_training(
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
    ``on_epoch_end(epoch, history_row)`` runs after each epoch's checkpoint is written.
    """
    tcfg = cfg["train"]
    if not tcfg["models"].get(model_name):
        names = ", ".join(m for m, spec in tcfg["models"].items() if spec)
        raise ValueError(f"model {model_name!r} is not in train.models ({names})")
    spec = tcfg["models"][model_name]
    arch, input_mode = spec["arch"], spec["input"]
    classes = resolve_classes(cfg["classes"])
    imbalance = cfg["split"]["imbalance"]
    seed = derive_seed(cfg["seed"], "train", model_name)
    device = select_device(tcfg["device"])
    ckpt_path = Path(ckpt_dir) / CHECKPOINT

    image_file = open_image_file(images_path)
    mode = image_file.attrs.get("mode")
    if mode is not None and mode != input_mode:
        raise ValueError(f"{model_name} trains on {input_mode} images but {images_path} is {mode}")
    if image_file.channels != (2 if input_mode == "shaped" else 1):
        raise ValueError(f"{images_path}: {image_file.channels} channels for {input_mode} images")
    splits = read_split_rows(images_path, split_path, classes)
    if not len(splits["train"]):
        raise ValueError(f"no training crystals: {split_path} has no train rows in the class set")
    workers = loader_workers(tcfg["workers"])
    data = load_splits(image_file, splits, memory_budget(tcfg.get("cache_gb")), workers)
    if not len(splits["val"]):
        logger.warning("no validation crystals: model selection and early stopping use train")

    weights = read_class_weights(weights_path, classes)
    class_weights = weights if imbalance == "class_weights" else None
    class_probs = weights if imbalance == "sampler" else None

    arch_params = {
        "growth": int(tcfg["growth"]),
        "blocks": [int(b) for b in tcfg["blocks"]],
        "stem": int(tcfg["stem"]),
        "dropout": float(tcfg["dropout"]),
        "input_size": image_file.size,
        "norm": tcfg["norm"],
    }
    torch.manual_seed(seed)
    model = build_model(arch, len(classes), **arch_params).to(device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
        torch.backends.cudnn.benchmark = True

    epochs, batch_size = int(tcfg["epochs"]), int(tcfg["batch_size"])
    steps_per_epoch = math.ceil(len(splits["train"]) / batch_size)
    total = epochs * steps_per_epoch
    trainer = _Trainer(
        model,
        arch,
        device,
        float(tcfg["lr"]),
        float(tcfg["weight_decay"]),
        class_weights,
        total_steps=total,
        warmup_steps=max(1, min(steps_per_epoch, total // 10)),
    )
    run_hash = _run_hash(cfg, model_name, image_file.attrs.get("config_hash"), image_file.shape[0])

    history: list[dict[str, Any]] = []
    best: dict[str, Any] = {"epoch": 0, "score": None, "val_acc": None, "val_loss": None}
    best_state: dict[str, torch.Tensor] | None = None
    bad_epochs, stopped, start = 0, False, 0
    ckpt = _load_checkpoint(ckpt_path, run_hash)
    if ckpt is not None:
        trainer.load_state(ckpt)
        history, best, best_state = ckpt["history"], ckpt["best"], ckpt["best_state"]
        bad_epochs, stopped, start = ckpt["bad_epochs"], ckpt["stopped"], ckpt["epoch"]
        logger.info("resuming %s from %s after epoch %d", model_name, ckpt_path, start)
    logger.info(
        "%s: %s, %d parameters, %d train / %d val crystals, %s, imbalance=%s, on %s",
        model_name,
        arch,
        count_parameters(model),
        len(splits["train"]),
        len(splits["val"]),
        input_mode,
        imbalance,
        device,
    )

    for epoch in range(start + 1, epochs + 1):
        if stopped:
            break
        t0 = time.perf_counter()
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
        _save_checkpoint(
            ckpt_path,
            {
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
            },
        )
        write_table(Path(ckpt_dir) / "history.csv", pd.DataFrame(history, columns=HISTORY_COLUMNS))
        if on_epoch_end is not None:
            on_epoch_end(epoch, row)
        if stopped:
            logger.info("early stop after epoch %d (best epoch %d)", epoch, best["epoch"])

    card = {
        "name": model_name,
        "arch": arch,
        "arch_params": arch_params,
        "n_parameters": count_parameters(model),
        "classes": classes,
        "input_size": image_file.size,
        "input_mode": input_mode,
        "patterns": cfg.get("patterns"),
        "shaping": cfg.get("shaping"),
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
        "train_seconds": float(sum(r["seconds"] for r in history)),
    }
    save_bundle(out_dir, best_state, card, pd.DataFrame(history, columns=HISTORY_COLUMNS))
    logger.info("wrote %s (best epoch %d, val acc %s)", out_dir, best["epoch"], best["val_acc"])
