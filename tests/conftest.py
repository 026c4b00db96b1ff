"""Shared fixtures. Plain helpers and paths live in tests/helpers (re-exported here for the
modules that still import them from conftest)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .helpers import (  # noqa: F401
    ROOT,
    SAMPLES,
    SHARED,
    TINY_CONFIG,
    VENV_BIN,
    effective_config,
    on_ci,
    recording,
    tool_env,
)


def require_shared(path: Path, what: str) -> Path:
    """``path`` under ../shared; skipped when absent, except under CI=true, where it fails."""
    if not path.exists():
        msg = f"{what} not found at {path} (../shared is absent in this clone)"
        if on_ci():
            pytest.fail(f"{msg}; CI must provide it")
        pytest.skip(msg)
    return path


@pytest.fixture
def authors_samples() -> Path:
    """The authors' sample images (../shared beside the project; CI always has it)."""
    return require_shared(SAMPLES, "authors' samples")


@pytest.fixture
def one_torch_thread():
    """Tiny models gain nothing from intra-op threads, and on a busy machine OpenMP barriers
    across threads cost 10-100x (measured: 2 s vs 9 ms per forward on 2 loaded cores)."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
