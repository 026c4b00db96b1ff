"""Numeric precision of training: one code path for every device.

``train.precision`` picks the autocast dtype: ``fp32`` (autocast off), ``bf16`` (bfloat16; no
loss scaling needed, same exponent range as fp32), ``fp16`` (float16 with a GradScaler against
gradient underflow), each on CPU or GPU alike, or ``auto`` (CUDA: bf16 where the GPU supports it, else
fp16; CPU: fp32, because CPUs without native bf16 instructions run bf16 kernels slower than
fp32, see results/bench/training.json). Convolutions and matrix products then run in the
low-precision dtype; the loss is computed in fp32 from fp32 logits. ``channels_last`` memory
layout is used on CUDA (tensor cores want NHWC) and can be asked for on the CPU.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass

import torch

#: Config names of the autocast dtypes; None = no autocast (fp32).
DTYPES: dict[str, torch.dtype | None] = {
    "fp32": None,
    "bf16": torch.bfloat16,
    "fp16": torch.float16,
}


@dataclass(frozen=True)
class Precision:
    """How one device computes: autocast dtype (None = fp32) and memory layout."""

    device_type: str
    dtype: torch.dtype | None
    channels_last: bool

    @property
    def name(self) -> str:
        return next(k for k, v in DTYPES.items() if v == self.dtype)

    def autocast(self) -> AbstractContextManager:
        """The forward pass's autocast region (a no-op for fp32)."""
        return torch.autocast(
            self.device_type, dtype=self.dtype or torch.float32, enabled=self.dtype is not None
        )

    def grad_scaler(self) -> torch.amp.GradScaler:
        """Loss scaling for fp16 only (bf16 and fp32 gradients do not underflow)."""
        return torch.amp.GradScaler(self.device_type, enabled=self.dtype == torch.float16)


def resolve_precision(
    pref: str, device: torch.device, *, channels_last: bool | None = None
) -> Precision:
    """The precision ``train.precision`` = ``pref`` means on ``device``.

    ``channels_last`` None: on for CUDA, off for the CPU.
    """
    cuda = device.type == "cuda"
    if pref == "auto":
        if cuda:
            pref = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        else:
            pref = "fp32"
    if pref not in DTYPES:
        raise ValueError(f"unknown precision {pref!r}; choose auto or one of {', '.join(DTYPES)}")
    if pref == "bf16" and cuda and not torch.cuda.is_bf16_supported():
        raise RuntimeError("train.precision is bf16 but this GPU has no bfloat16 support")
    return Precision(device.type, DTYPES[pref], cuda if channels_last is None else channels_last)
