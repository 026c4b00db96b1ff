"""One model's optimisation state and its epoch loop, on one process or data-parallel.

The forward pass runs under ``train.precision`` (:mod:`.precision`, the same code on CPU and
GPU); launched by torchrun or srun, each process trains on its share of every global batch
(:mod:`.distributed`) and the epoch's sums are pooled over the processes.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from . import distributed as ddp
from .data import compose_inputs
from .distributed import World
from .loading import SplitData
from .precision import Precision
from .schedule import lr_factor


class Trainer:
    """One model's optimisation state and its epoch loop."""

    def __init__(
        self,
        model: nn.Module,
        arch: str,
        device: torch.device,
        precision: Precision,
        world: World,
        lr: float,
        weight_decay: float,
        class_weights: np.ndarray | None,
        total_steps: int,
        warmup_steps: int,
    ) -> None:
        # model: the network, DDP-wrapped in a distributed run; net: the network itself.
        self.model, self.net, self.arch, self.device = model, ddp.unwrap(model), arch, device
        self.precision, self.world = precision, world
        self.cuda = device.type == "cuda"
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=lr, weight_decay=weight_decay)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: lr_factor(s, warmup_steps, total_steps)
        )
        self.scaler = precision.grad_scaler()
        w = None if class_weights is None else torch.as_tensor(class_weights, dtype=torch.float32)
        self.criterion = nn.CrossEntropyLoss(weight=w.to(device) if w is not None else None)

    def _inputs(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device, non_blocking=True)
        return compose_inputs(x, self.arch, channels_last=self.precision.channels_last)

    def _forward(self, x: torch.Tensor, model: nn.Module | None = None) -> torch.Tensor:
        with self.precision.autocast():
            return (model or self.model)(x).float()

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
            disable=not self.world.main,
        )
        part = (self.world.rank, self.world.size)
        for i, (xb, yb) in enumerate(data.batches(windows, batch_size, part)):
            n_global = min(batch_size, n_draws - i * batch_size)  # batches are full but the last
            bar.update(n_global)
            if ddp.too_small(n_global, self.world):
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
        loss_total, n_correct, n_seen = ddp.all_sum(
            [float(loss_sum), float(correct), float(seen)], self.world, self.device
        )
        if not n_seen:
            return float("nan"), float("nan")
        return loss_total / n_seen, n_correct / n_seen

    @torch.no_grad()
    def evaluate(self, data: SplitData, batch_size: int) -> tuple[float, float]:
        """Loss (same criterion as training) and accuracy on a split, variant 0; in a
        distributed run each rank scores every ``world``-th crystal and the sums are pooled."""
        self.model.eval()
        ddp.sync_buffers(self.model, self.world)
        part = (self.world.rank, self.world.size)
        loss_sum, correct, seen = 0.0, 0, 0
        for xb, yb in data.batches(data.plan(None), batch_size, part):
            if not len(yb):
                continue
            x, y = self._inputs(xb), yb.to(self.device)
            logits = self._forward(x, self.net)
            loss_sum += float(self.criterion(logits, y)) * len(y)
            correct += int((logits.argmax(1) == y).sum())
            seen += len(y)
        loss_sum, correct, seen = ddp.all_sum([loss_sum, correct, seen], self.world, self.device)
        if not seen:
            return float("nan"), float("nan")
        return loss_sum / seen, correct / seen

    @torch.no_grad()
    def logits(self, data: SplitData, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
        """Logits (N, K) float32 and labels (N,) of a split, variant 0, on this process alone
        (no collectives: rank 0 calls it for the model card)."""
        self.model.eval()
        zs, ys = [], []
        for xb, yb in data.batches(data.plan(None), batch_size):
            zs.append(self._forward(self._inputs(xb), self.net).cpu())
            ys.append(yb.cpu())
        if not zs:
            return np.zeros((0, 0), np.float32), np.zeros(0, np.int64)
        return torch.cat(zs).numpy(), torch.cat(ys).numpy().astype(np.int64)

    def state(self) -> dict[str, Any]:
        rng = {"torch": torch.get_rng_state()}
        if self.cuda:
            rng["cuda"] = torch.cuda.get_rng_state_all()
        return {
            "model": self.net.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": rng,
        }

    def load_state(self, ckpt: dict[str, Any]) -> None:
        self.net.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        self.scaler.load_state_dict(ckpt["scaler"])
        torch.set_rng_state(ckpt["rng"]["torch"])
        if self.cuda and "cuda" in ckpt["rng"]:
            torch.cuda.set_rng_state_all(ckpt["rng"]["cuda"])
