"""Shared benchmark plumbing: machine description and atomic JSON results."""

from __future__ import annotations

import datetime as dt
import os
import platform
import resource
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from xtalsym.io import write_json

BENCH_DIR = Path(os.environ.get("XTALSYM_BENCH_DIR", "results/bench"))


def machine() -> dict[str, Any]:
    """Cores, CPU model, GPU (if any), Python and torch versions."""
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = None
    try:
        import torch

        if torch.cuda.is_available():
            gpu = torch.cuda.get_device_name(0)
        torch_version = torch.__version__
    except ImportError:
        torch_version = None
    return {
        "cores": os.cpu_count(),
        "cpu_model": cpu,
        "gpu": gpu,
        "python": platform.python_version(),
        "torch": torch_version,
        "platform": platform.platform(),
    }


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def timed(fn: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    """Best wall time of ``repeat`` calls (s) and the last result."""
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def write_result(subject: str, figures: dict[str, Any]) -> dict[str, Any]:
    """Write results/bench/<subject>.json with the figures, machine and date."""
    doc = {
        "subject": subject,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        **figures,
    }
    write_json(BENCH_DIR / f"{subject}.json", doc)
    return doc
