"""The README's results table, written from a finished run (``make readme-results``).

The numbers come from the report's ``metrics.json`` (model -> metrics) and the machine, date
and wall time from Snakemake's per-rule benchmark files (``results/benchmarks/*.tsv`` or
``*.txt``: column ``s`` is a job's run time in seconds, the file is written when the job ends),
so nothing in the table is typed by hand. The block between :data:`BEGIN` and :data:`END` in
the README is replaced; the rest of the file is kept byte for byte.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from .document import md_table
from .stats import with_interval
from .tables import model_role, pct

BEGIN = "<!-- results:begin (written by `make readme-results` from a run; do not edit) -->"
END = "<!-- results:end -->"


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo on Linux, else the platform's description)."""
    info = Path("/proc/cpuinfo")
    if info.is_file():
        for line in info.read_text(errors="replace").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown CPU"


def machine() -> dict[str, Any]:
    """Where the table is generated: cores usable by this process, CPU model, system."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return {
        "nproc": cores,
        "cpu": cpu_model(),
        "system": f"{platform.system()} {platform.machine()}",
    }


def run_timing(bench_dir: str | os.PathLike) -> dict[str, Any] | None:
    """Wall time of a run from its benchmark files: the first job's start (end time minus
    its ``s``) to the last job's end; also the sum of job times and the end date (UTC).
    None without benchmark files."""
    files = sorted(p for p in Path(bench_dir).glob("*") if p.suffix in (".tsv", ".txt"))
    starts, ends, total = [], [], 0.0
    for f in files:
        try:
            t = pd.read_csv(f, sep="\t")
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
            continue
        if "s" not in t or not len(t):
            continue
        seconds = float(t["s"].iloc[-1])
        end = f.stat().st_mtime
        starts.append(end - seconds)
        ends.append(end)
        total += seconds
    if not ends:
        return None
    return {
        "jobs": len(ends),
        "wall_s": max(ends) - min(starts),
        "job_s": total,
        "finished": dt.datetime.fromtimestamp(max(ends), dt.UTC),
    }


def minutes(seconds: float) -> str:
    m, s = divmod(round(seconds), 60)
    return f"{m} min {s:02d} s" if m else f"{s} s"


#: The real-structure check's columns of :func:`results_table`.
REAL_COLUMNS = (
    "real-structure check: SG top-1 [95% CI]",
    "real: crystal system",
    "real structures",
)


def results_table(metrics: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """One row per model: role, space-group top-1 with its 95 % Wilson interval, top-5,
    crystal-system accuracy (with interval), test crystals; with a real-structure check in
    the metrics also its top-1 (interval), crystal system and structures."""
    rows = []
    has_real = any(m.get("real_structure_check") for m in metrics.values())
    for name, m in metrics.items():
        n = int(m["n"])
        row = {
            "model": name,
            "role": model_role(m, name),
            "SG top-1 [95% CI]": with_interval(m["sg_top1"], n),
            "SG top-5": pct(m.get("sg_top5")),
            "crystal system [95% CI]": with_interval(m["cs_accuracy"], n),
            "test crystals": n,
        }
        real = m.get("real_structure_check")
        if has_real:
            if real:
                k = int(real["evaluated"])
                values = (with_interval(real["sg_top1"], k), pct(real["cs_accuracy"]), k)
            else:
                values = ("-",) * len(REAL_COLUMNS)
            row.update(zip(REAL_COLUMNS, values, strict=True))
        rows.append(row)
    return pd.DataFrame(rows)


def results_block(
    metrics: Mapping[str, Mapping[str, Any]],
    timing: dict[str, Any] | None,
    host: dict[str, Any],
    config: str = "",
    n_classes: int | None = None,
) -> str:
    """The Markdown between the markers: the table and one line on machine, date and time."""
    chance = f", {n_classes} classes (chance {100 / n_classes:.1f}%)" if n_classes else ""
    where = f"{host['nproc']} cores ({host['cpu']}, {host['system']})"
    if timing:
        when = (
            f"run finished {timing['finished']:%Y-%m-%d %H:%M} UTC on {where}: "
            f"{minutes(timing['wall_s'])} wall time from the first job's start to the last "
            f"job's end ({timing['jobs']} jobs, {minutes(timing['job_s'])} of job time; "
            "environment set-up excluded)"
        )
    else:
        when = f"generated on {where}; no benchmark files, so no timing"
    cfg = f" with `{config}`" if config else ""
    return "\n".join(
        [
            BEGIN,
            "",
            md_table(results_table(metrics)),
            "",
            f"Test split{cfg}{chance}; real-structure check: the literature structures of "
            "data/real (never used for training or selection); brackets: 95 % Wilson "
            "intervals. Measured by the "
            f"pipeline, {when}.",
            "",
            END,
        ]
    )


def replace_block(text: str, block: str) -> str:
    """``text`` with the part from BEGIN to END replaced by ``block`` (which includes them)."""
    a, b = text.find(BEGIN), text.find(END)
    if a < 0 or b < a:
        raise ValueError(f"README has no results markers ({BEGIN!r} ... {END!r})")
    return text[:a] + block + text[b + len(END) :]


def update_readme(
    readme: str | os.PathLike,
    metrics_json: str | os.PathLike,
    bench_dir: str | os.PathLike,
    config: str = "",
    host: dict[str, Any] | None = None,
) -> str:
    """Rewrite the results block of ``readme`` from a run; returns the new block.

    ``config``: the YAML config the run used (named in the text; its ``classes`` give the
    chance level), merged over the working directory's ``config.yaml`` as Snakemake does.
    """
    from ..io import write_text

    mpath = Path(metrics_json)
    if not mpath.is_file():
        raise ValueError(f"{mpath}: no such file (run the pipeline first: make run)")
    metrics = json.loads(mpath.read_text())
    if not isinstance(metrics, dict) or not metrics:
        raise ValueError(f"{mpath}: expected a JSON object model -> metrics")
    n_classes = _n_classes(Path(config)) if config else None
    block = results_block(metrics, run_timing(bench_dir), host or machine(), config, n_classes)
    path = Path(readme)
    write_text(path, replace_block(path.read_text(), block))
    return block


def _n_classes(config: Path) -> int | None:
    """Classes of a config file merged over ./config.yaml (Snakemake's view); None if unknown."""
    import yaml

    from ..config import ConfigError, merge, validate
    from ..spacegroups import resolve_classes

    if not config.is_file():
        return None
    raw = yaml.safe_load(config.read_text()) or {}
    base = Path("config.yaml")  # the repo root: make runs there
    if base.is_file() and base.resolve() != config.resolve():
        raw = merge(yaml.safe_load(base.read_text()) or {}, raw)
    try:
        return len(resolve_classes(validate(raw)["classes"]))
    except (ConfigError, ValueError):
        return None
