"""The CUDA code path: training steps, mixed precision, inference and one DDP step with NCCL.

Every test here needs a CUDA GPU and is skipped without one (so on CI and on the CPU machines
they skip, with the reason); scripts/gpu_check.sh runs them on a GPU (`pytest -m cuda`). No
other test depends on a GPU.
"""

from __future__ import annotations

import json
import socket

import h5py
import numpy as np
import pandas as pd
import pytest
import torch

from tests.test_train import CLASSES, tiny_cfg, write_toy
from xtalsym.models import build_model, compose_inputs, count_parameters
from xtalsym.train import distributed as ddp
from xtalsym.train import load_bundle, predict_proba, run_train
from xtalsym.train.engine import Trainer
from xtalsym.train.precision import Precision, resolve_precision

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]

CUDA = torch.device("cuda")
QUICK = {"growth": 12, "blocks": (2, 3, 4, 3), "stem": 16, "input_size": 64}


def separable_batch(n: int = 16, size: int = 64, seed: int = 0):
    """uint8 shaped images (n, 3, 2, S, S) and labels in 0..3: class k lights a bright square
    at a class-specific place in every image (as tests/test_train.py's toy crystals)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 40, (n, 3, 2, size, size), generator=g, dtype=torch.uint8)
    y = torch.arange(n) % 4
    q = size // 4
    for i, k in enumerate(y.tolist()):
        r, c = divmod(k, 2)
        x[i, :, :, r * 2 * q + 2 : r * 2 * q + 2 + q, c * 2 * q + 2 : c * 2 * q + 2 + q] = 230
    return x, y


def train_steps(model, precision: Precision, steps: int, arch: str = "msdn") -> list[float]:
    """Losses of ``steps`` Adam steps on one fixed batch (the trainer's step)."""
    x8, y = separable_batch()
    x8, y = x8.to(CUDA), y.to(CUDA)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    scaler = precision.grad_scaler()
    losses = []
    model.train()
    for _ in range(steps):
        x = compose_inputs(x8, arch, channels_last=precision.channels_last)
        with precision.autocast():
            logits = model(x).float()
        loss = torch.nn.functional.cross_entropy(logits, y)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        losses.append(loss.item())
    return losses


def test_auto_precision_on_cuda_is_bf16_or_fp16_channels_last():
    p = resolve_precision("auto", CUDA)
    assert p.device_type == "cuda" and p.channels_last
    assert p.dtype == (torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16)
    assert not resolve_precision("fp32", CUDA).grad_scaler().is_enabled()
    assert resolve_precision("fp16", CUDA).grad_scaler().is_enabled()
    assert not resolve_precision("bf16", CUDA).grad_scaler().is_enabled()


@pytest.mark.parametrize("name", ["fp32", "bf16", "fp16"])
def test_msdn_steps_on_cuda_lower_the_loss(name):
    """A few steps of the MSDN on the GPU, channels_last, at each precision: the loss falls
    and every parameter stays finite (fp16 through the GradScaler)."""
    if name == "bf16" and not torch.cuda.is_bf16_supported():
        pytest.skip("no bf16 on this GPU")
    torch.manual_seed(0)
    precision = resolve_precision(name, CUDA)
    model = build_model("msdn", 4, **QUICK).to(CUDA).to(memory_format=torch.channels_last)
    losses = train_steps(model, precision, 12)
    assert all(np.isfinite(losses)), losses
    assert min(losses[-3:]) < 0.7 * losses[0], losses
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_paper_msdn_bf16_step_at_224_px():
    """The paper's MSDN (1,542,424 parameters) at 224 px: bf16 autocast computes the
    convolutions in bf16, the fp32 logits stay close to an fp32 forward, a step lowers the
    loss on its batch."""
    if not torch.cuda.is_bf16_supported():
        pytest.skip("no bf16 on this GPU")
    torch.manual_seed(0)
    model = build_model("msdn", 72, input_size=224).to(CUDA).to(memory_format=torch.channels_last)
    assert count_parameters(model) == 1_542_424
    x8, _ = separable_batch(8, 224)
    y = torch.arange(8, device=CUDA) % 72
    x = compose_inputs(x8.to(CUDA), "msdn", channels_last=True)
    bf16 = resolve_precision("bf16", CUDA)
    first_conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    seen = []
    hook = first_conv.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
    model.eval()
    with torch.no_grad():
        ref = model(x)
        with bf16.autocast():
            low = model(x)
    hook.remove()
    assert seen == [torch.float32, torch.bfloat16]
    # the convolutions ran in bf16 (above); autocast sums the stream logits in fp32
    assert ref.dtype == torch.float32 and low.dtype in (torch.bfloat16, torch.float32)
    assert torch.allclose(low.float(), ref, rtol=0.05, atol=0.05 * ref.abs().max().item())
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(4):
        with bf16.autocast():
            loss = torch.nn.functional.cross_entropy(model(x).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0], losses


def test_fp16_grad_scaler_skips_a_step_with_inf_gradients():
    """The fp16 GradScaler: an inf gradient skips the optimiser step (weights unchanged) and
    halves the scale; the next finite step updates the weights."""
    torch.manual_seed(0)
    fp16 = resolve_precision("fp16", CUDA)
    model = build_model("msdn", 4, **QUICK).to(CUDA)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    scaler = fp16.grad_scaler()
    x8, y = separable_batch()
    x, y = compose_inputs(x8.to(CUDA), "msdn"), y.to(CUDA)
    before = [p.detach().clone() for p in model.parameters()]
    scale0 = scaler.get_scale()
    with fp16.autocast():
        loss = torch.nn.functional.cross_entropy(model(x).float(), y)
    scaler.scale(loss * float("inf")).backward()
    scaler.step(opt)
    scaler.update()
    assert scaler.get_scale() == pytest.approx(scale0 * 0.5)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    opt.zero_grad(set_to_none=True)
    with fp16.autocast():
        loss = torch.nn.functional.cross_entropy(model(x).float(), y)
    scaler.scale(loss).backward()
    scaler.step(opt)
    scaler.update()
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


@pytest.mark.parametrize("resident", [True, False], ids=["resident", "streamed"])
def test_trainer_on_cuda_learns_and_bundle_predicts_as_on_cpu(tmp_path, resident):
    """run_train on the GPU (train.device cuda, precision auto: bf16/fp16 and channels_last),
    the split resident on the GPU or streamed in pinned batches: the loss falls, the card
    records cuda, and the bundle's predictions on the GPU match those on the CPU."""
    h5_path, split_path, weights_path = write_toy(tmp_path)
    cache = {} if resident else {"cache_gb": 1e-6}  # a budget below one crystal: streamed
    cfg = tiny_cfg(epochs=8, device="cuda", **cache)
    out, ck = tmp_path / "model", tmp_path / "ckpt"
    run_train(cfg, "m", h5_path, split_path, weights_path, out, ck)
    hist = pd.read_csv(out / "history.csv")
    assert hist["train_loss"].iloc[-1] < 0.5 * hist["train_loss"].iloc[0]
    card = json.loads((out / "model_card.json").read_text())
    assert card["device"] == "cuda" and card["precision"] == resolve_precision("auto", CUDA).name
    assert card["val_acc"] >= 0.75
    with h5py.File(h5_path) as h5:
        imgs, sg = h5["images"][:, 0], h5["spacegroup"][...]
    model, card = load_bundle(out)
    p_cpu = predict_proba(model, card, imgs, device="cpu")
    model_gpu, _ = load_bundle(out, device="cuda")
    assert next(model_gpu.parameters()).is_cuda
    p_gpu = predict_proba(model_gpu, card, imgs, device="cuda")
    assert p_gpu.shape == p_cpu.shape == (len(sg), len(CLASSES))
    np.testing.assert_allclose(p_gpu, p_cpu, atol=1e-2)  # cuDNN (TF32) vs CPU arithmetic
    top2 = np.sort(p_cpu, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > 2e-2  # argmax is only defined up to the tolerance
    assert clear.mean() > 0.5
    assert np.array_equal(p_gpu.argmax(1)[clear], p_cpu.argmax(1)[clear])
    assert np.mean(np.array(CLASSES)[p_gpu.argmax(1)] == sg) >= 0.75


class _OneRankWorld(ddp.World):
    """World size 1 treated as distributed, so the DDP code path runs on one GPU."""

    @property
    def distributed(self) -> bool:
        return True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_one_ddp_step_with_nccl_at_world_size_one(monkeypatch):
    """xtalsym.train.distributed on one GPU: the NCCL process group, the DDP-wrapped model,
    one Trainer step (gradients all-reduced), the epoch sums and the buffers' broadcast; the
    step's weights equal those of the same step without DDP."""
    if not torch.distributed.is_nccl_available():
        pytest.skip("torch built without NCCL")
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", str(_free_port()))
    world = _OneRankWorld(rank=0, size=1, local_rank=0)
    device = ddp.setup(world, CUDA)
    try:
        assert torch.distributed.is_initialized()
        assert torch.distributed.get_backend() == "nccl"
        assert device == torch.device("cuda", 0)
        fp32 = resolve_precision("fp32", device)
        torch.manual_seed(0)
        model = build_model("msdn", 4, dropout=0.0, **QUICK).to(device)
        twin = build_model("msdn", 4, dropout=0.0, **QUICK).to(device)
        twin.load_state_dict(model.state_dict())
        wrapped = ddp.wrap(model, world, device)
        assert isinstance(wrapped, torch.nn.parallel.DistributedDataParallel)
        x8, y = separable_batch()
        steps = {}
        for name, net in (("ddp", wrapped), ("plain", twin)):
            trainer = Trainer(net, "msdn", device, fp32, world, 1e-3, 0.0, None, 10, 1)
            x = trainer._inputs(x8)
            loss = trainer.criterion(trainer._forward(x), y.to(device))
            trainer.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            trainer.optimizer.step()
            steps[name] = {k: v.detach().clone() for k, v in ddp.unwrap(net).state_dict().items()}
        for k, v in steps["plain"].items():
            torch.testing.assert_close(steps["ddp"][k], v, rtol=1e-4, atol=1e-5)
        assert ddp.all_sum([1.5, 2.0], world, device) == [1.5, 2.0]
        ddp.sync_buffers(wrapped, world)
        ddp.barrier(world)
    finally:
        ddp.teardown(world)
    assert not torch.distributed.is_initialized()
