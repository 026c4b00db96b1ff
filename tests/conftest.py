"""Shared fixtures. Plain helpers and paths live in tests/helpers (re-exported here for the
modules that still import them from conftest)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import (  # noqa: F401
    ROOT,
    SAMPLES,
    SHARED,
    TINY_CONFIG,
    VENV_BIN,
    TinyRun,
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


@pytest.fixture(autouse=True, scope="session")
def no_slurm_controller_wait():
    """Point SLURM's tools at an empty config for every test but the SLURM ones.

    The SLURM executor plugin runs ``scontrol show config`` when Snakemake starts (for its help
    text), and where scontrol is installed but no controller answers (after the SLURM tests
    stop their cluster) that waits 10 s per Snakemake start; with an empty config it fails at
    once. tests/test_slurm.py lifts this for its module.
    """
    if "SLURM_CONF" in os.environ:
        yield
        return
    os.environ["SLURM_CONF"] = os.devnull
    yield
    os.environ.pop("SLURM_CONF", None)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Iterator[TinyRun]:
    """One local run of the tiny config per session (started on first use, in the
    background): the SLURM tests compare their run with it, tests/test_workflow.py checks
    its artifacts and plans reruns on it."""
    run = TinyRun(tmp_path_factory.mktemp("tiny_run"))
    yield run
    run.stop()  # nobody waited (e.g. the SLURM tests skipped and no workflow test ran)


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
