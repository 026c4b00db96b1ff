"""Helpers shared between test modules (plain functions and constants; fixtures live in
conftest.py). The shaping oracle (reference_shaping) and the synthetic lattice patterns
(patterns) are also the shaping benchmark's baseline and input."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
SAMPLES = SHARED / "testdata" / "authors-samples"
TINY_CONFIG = ROOT / "tests" / "data" / "tiny_config.yaml"
# The tools of the environment running the tests (snakemake, xtalsym), wherever it lives.
VENV_BIN = Path(sys.executable).parent


def on_ci() -> bool:
    """CI sets CI=true: data it must have (../shared) is then required, not optional."""
    return os.environ.get("CI", "").lower() == "true"


def effective_config(configfile: Path) -> dict:
    """The config Snakemake sees: config.yaml with ``configfile`` merged over it."""
    import yaml

    from xtalsym.config import merge, validate

    base = yaml.safe_load((ROOT / "config.yaml").read_text())
    return validate(merge(base, yaml.safe_load(configfile.read_text())))


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


#: The reference crystals of the stage tests: six crystal systems.
SPACEGROUPS = {"NaCl": 225, "Mg": 194, "TiO2": 136, "CaTiO3": 62, "mono-P21c": 14, "tric-P-1": 2}


def write_reference_table(directory: Path) -> tuple[Path, list[dict]]:
    """structures.parquet in ``directory`` with the SPACEGROUPS crystals and, third, one that
    cannot be simulated (Es: no scattering factors), in row groups of 3; (path, rows)."""
    import pandas as pd

    from xtalsym.patterns.reference import reference_structures

    refs = reference_structures()
    rows = [
        {"id": f"ref-{name}", "spacegroup": sg, "structure": refs[name].to_json()}
        for name, sg in SPACEGROUPS.items()
    ]
    bad = refs["NaCl"].copy()
    bad.replace_species({"Na": "Es"})
    rows.insert(2, {"id": "ref-bad", "spacegroup": 225, "structure": bad.to_json()})
    path = directory / "structures.parquet"
    pd.DataFrame(rows).to_parquet(path, index=False, row_group_size=3)
    return path, rows


class TinyRun:
    """The tiny config through Snakemake on this machine, started in the background so that
    the SLURM tests can run theirs beside it; tests/test_workflow.py reuses the same run."""

    TIMEOUT_S = 1200

    def __init__(self, tmp: Path) -> None:
        self.tmp, self.results = tmp, tmp / "results"
        self._log = tmp / "snakemake.log"
        cmd = [str(VENV_BIN / "snakemake"), "--cores", "2", "--configfile", str(TINY_CONFIG),
               "--config", f"results={self.results}"]  # fmt: skip
        with self._log.open("w") as log:
            self._proc = subprocess.Popen(
                cmd, cwd=ROOT, env=tool_env(tmp), stdout=log, stderr=subprocess.STDOUT
            )

    def wait(self) -> Path:
        """The results directory once the run has finished; fails the test if it failed."""
        import pytest

        rc = self._proc.wait(timeout=self.TIMEOUT_S)
        if rc != 0:
            logs = "\n".join(
                f"--- {p.name}\n{p.read_text()[-2000:]}"
                for p in sorted((self.results / "logs").glob("*"))
            )
            pytest.fail(f"snakemake failed (rc={rc}):\n{self._log.read_text()[-4000:]}\n{logs}")
        return self.results

    def stop(self) -> None:
        """Stop the run if it is still going (Snakemake then cleans up its own jobs)."""
        if self._proc.poll() is None:
            self._proc.terminate()
            self._proc.wait(timeout=60)
