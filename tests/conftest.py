"""Shared fixtures and paths."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SAMPLES = SHARED / "testdata" / "authors-samples"
TINY_CONFIG = ROOT / "tests" / "data" / "tiny_config.yaml"
VENV_BIN = ROOT / ".venv" / "bin"


@pytest.fixture
def authors_samples() -> Path:
    """The authors' sample images (../shared beside the project; CI always has it)."""
    if not SAMPLES.is_dir():
        pytest.skip(f"authors' samples not found at {SAMPLES} (../shared is absent in this clone)")
    return SAMPLES


@pytest.fixture
def one_torch_thread():
    """Tiny models gain nothing from intra-op threads, and on a busy machine OpenMP barriers
    across threads cost 10-100x (measured: 2 s vs 9 ms per forward on 2 loaded cores)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def effective_config(configfile: Path) -> dict:
    """The config Snakemake sees: config.yaml with ``configfile`` merged over it."""
    import yaml

    from xtalsym.cli import _merge
    from xtalsym.config import validate

    base = yaml.safe_load((ROOT / "config.yaml").read_text())
    return validate(_merge(base, yaml.safe_load(configfile.read_text())))


def tool_env(tmp_path: Path) -> dict[str, str]:
    """Environment for running the project's tools in a subprocess."""
    env = dict(os.environ)
    env["PATH"] = f"{VENV_BIN}:{env.get('PATH', '')}"
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    return env


def recording(fn, calls: list, key=lambda *a: a, interrupt_on: int | None = None):
    """``fn`` that appends ``key(*args)`` to ``calls`` for every call and, on call number
    ``interrupt_on``, raises KeyboardInterrupt instead (a Ctrl-C in the middle of a stage)."""

    def wrapper(*args, **kw):
        calls.append(key(*args))
        if len(calls) == interrupt_on:
            raise KeyboardInterrupt("simulated interruption")
        return fn(*args, **kw)

    return wrapper
