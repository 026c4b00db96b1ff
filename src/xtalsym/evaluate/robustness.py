"""Robustness, the paper's title claim, measured: accuracy against noise level.

Up to ``evaluate.robustness.max_crystals`` test crystals (a seeded random subset when there
are more) are re-simulated at each level of ``evaluate.robustness.jitter`` (structural
noise that keeps the space group: the standard deviation in Å of each Cartesian component of
every orbit's displacement before symmetrisation) and, separately, of
``evaluate.robustness.background`` (measurement noise, mean background in 8-bit levels) and
of ``evaluate.robustness.tilt`` (alignment: the beam-tilt cone half-angle, degrees);
every other setting, noise included, stays at the model card's training
values. Each crystal keeps one seed, ``derive_seed(seed, "robustness", id)``, at every level
(common random numbers: the noise module draws each kind from its own stream, so only the
magnitude of the varied kind changes between levels). Patterns are shaped and resized as
each model's card says, then classified.

Work is split into tasks of a few crystals (simulation of every level plus shaping for every
distinct image spec), run in ``evaluate.workers`` processes; the network runs in the main
process on each task's images as they arrive.
"""

from __future__ import annotations

import concurrent.futures as cf
import itertools
import json
import logging
import multiprocessing
import os
from collections import defaultdict, deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from ..inference import Bundle, ImageSpec, network_images
from ..io import derive_seed, write_table
from ..patterns.noise import training_range
from ..spacegroups import class_index
from . import figures
from .metrics import system_indices

logger = logging.getLogger(__name__)

NOISE_KINDS = ("jitter", "background", "tilt")
# Images of one task kept in memory at once (bytes): bounds the crystals per task.
TASK_BYTES = 64 << 20
MAX_TASK_CRYSTALS = 32


@dataclass(frozen=True)
class Task:
    """A few crystals to re-simulate at every level and shape for every image spec."""

    structures: tuple[str, ...]  # Structure JSON
    seeds: tuple[int, ...]
    patterns: str  # the card's patterns section, JSON
    levels: tuple[tuple[str, float], ...]
    specs: tuple[ImageSpec, ...]


def level_params(patterns: dict[str, Any], kind: str, level: float) -> dict[str, Any]:
    """The card's simulation settings with one noise kind set to ``level``."""
    p = json.loads(json.dumps(patterns))
    p.setdefault("noise", {})[kind] = float(level)
    return p


@dataclass
class TaskResult:
    """Network images (L levels, n crystals, 3, C, S, S) per image spec of one task, and
    ``failed``: (position in the task, reason) of each crystal that could not be simulated
    (its images are blank and must not be scored)."""

    images: dict[ImageSpec, np.ndarray]
    failed: list[tuple[int, str]]

    def __getitem__(self, spec: ImageSpec) -> np.ndarray:
        return self.images[spec]


def run_task(task: Task) -> TaskResult:
    """Simulate and shape one task's crystals at every level; a crystal that fails is
    recorded in ``failed`` and the others go on."""
    from ..patterns import PatternCalculator, Settings, simulate_crystal

    base = json.loads(task.patterns)
    calc = PatternCalculator(base)
    settings = [Settings.from_params(level_params(base, k, v)) for k, v in task.levels]
    size = settings[0].size
    n, n_lev = len(task.structures), len(task.levels)
    pats = np.zeros((n_lev, n, 3, size, size), dtype=np.uint8)
    failed: list[tuple[int, str]] = []
    for i, (s_json, seed) in enumerate(zip(task.structures, task.seeds, strict=True)):
        try:
            # Reflection tables depend on the lattice, g_max and tilt, not on the levels.
            tables = calc.tables(s_json)
            for li, st in enumerate(settings):
                pats[li, i] = simulate_crystal(tables, st, [seed])[0]
        except Exception as e:  # one bad crystal must not abort the sweep
            pats[:, i] = 0
            failed.append((i, f"{type(e).__name__}: {e}"))
    flat = pats.reshape(n_lev * n, 3, size, size)
    return TaskResult(
        {
            spec: network_images(flat, spec).reshape(
                n_lev, n, 3, spec.channels, spec.size, spec.size
            )
            for spec in task.specs
        },
        failed,
    )


def select_crystals(
    structures_path: str | os.PathLike, split_path: str | os.PathLike, max_crystals: int, seed: int
) -> pd.DataFrame:
    """Test crystals (id, spacegroup, structure), a seeded subset of ``max_crystals``."""
    split = pd.read_csv(split_path, dtype={"id": str})
    test_ids = set(split.loc[split["split"] == "test", "id"])
    table = pd.read_parquet(structures_path, columns=["id", "spacegroup", "structure"])
    table = table[table["id"].isin(test_ids)].sort_values("id").reset_index(drop=True)
    if len(table) > max_crystals:
        rng = np.random.default_rng(derive_seed(seed, "robustness", "subset"))
        keep = np.sort(rng.choice(len(table), size=max_crystals, replace=False))
        table = table.iloc[keep].reset_index(drop=True)
    return table


def ordered_results(
    pool: cf.Executor | None, tasks: list[Task], window: int
) -> Iterator[TaskResult]:
    """run_task over ``tasks`` in order, at most ``window`` in flight (bounded memory)."""
    if pool is None:
        yield from map(run_task, tasks)
        return
    pending: deque[cf.Future] = deque()
    todo = iter(tasks)
    for t in itertools.islice(todo, window):
        pending.append(pool.submit(run_task, t))
    while pending:
        result = pending.popleft().result()
        nxt = next(todo, None)
        if nxt is not None:
            pending.append(pool.submit(run_task, nxt))
        yield result


def _executor(workers: int) -> cf.Executor | None:
    if workers <= 1:
        return None
    # spawn: the parent holds torch (and its thread pools); forking it is unsafe.
    return cf.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))


def run_robustness(
    cfg: dict[str, Any],
    model_dirs: dict[str, str | os.PathLike],
    structures_path: str | os.PathLike,
    split_path: str | os.PathLike,
    out_dir: str | os.PathLike,
) -> None:
    """Accuracy of every model against each noise kind and level (module docstring).

    Writes ``robustness.csv`` (``model``, ``noise``, ``level``, ``sg_top1``, ``n``,
    ``cs_accuracy``) and ``robustness.png`` into ``out_dir``.
    """
    ev = cfg["evaluate"]
    rob = ev["robustness"]
    seed = int(cfg["seed"])
    crystals = select_crystals(structures_path, split_path, int(rob["max_crystals"]), seed)
    if crystals.empty:
        raise ValueError(f"{split_path}: no test crystals in {structures_path}")
    levels = tuple((kind, float(v)) for kind in NOISE_KINDS for v in rob[kind])
    if not levels:
        raise ValueError("evaluate.robustness: no jitter, background or tilt levels given")

    models = {name: Bundle.load(d) for name, d in model_dirs.items()}
    # Models trained on the same simulation settings share one re-simulation.
    groups: dict[str, list[str]] = defaultdict(list)
    for name, b in models.items():
        groups[json.dumps(b.card["patterns"], sort_keys=True)].append(name)

    sg = crystals["spacegroup"].to_numpy(np.int64)
    seeds = [derive_seed(seed, "robustness", i) for i in crystals["id"]]
    counts: dict[tuple[str, int], np.ndarray] = {}  # (model, level index) -> [n, sg ok, cs ok]
    tasks: list[tuple[list[str], np.ndarray, Task]] = []
    for pjson, names in groups.items():
        specs = tuple(dict.fromkeys(models[m].spec for m in names))
        per_crystal = len(levels) * 3 * sum(s.channels * s.size**2 for s in specs)
        step = int(np.clip(TASK_BYTES // max(1, per_crystal), 1, MAX_TASK_CRYSTALS))
        for a in range(0, len(crystals), step):
            idx = np.arange(a, min(a + step, len(crystals)))
            t = Task(
                tuple(crystals["structure"].iloc[idx]),
                tuple(seeds[i] for i in idx),
                pjson,
                levels,
                specs,
            )
            tasks.append((names, idx, t))

    # Starting worker processes costs seconds: worth it only with tasks for each.
    workers = max(1, min(int(ev["workers"]), len(tasks) // 2))
    logger.info(
        "robustness: %d crystals x %d levels, %d model(s), %d task(s), %d worker(s)",
        len(crystals),
        len(levels),
        len(models),
        len(tasks),
        workers,
    )
    pool = _executor(workers)
    try:
        results = ordered_results(pool, [t for _, _, t in tasks], 2 * workers)
        for (names, idx, _), result in tqdm(
            zip(tasks, results, strict=True), total=len(tasks), desc="robustness", unit="task"
        ):
            simulated = np.ones(len(idx), dtype=bool)
            for pos, reason in result.failed:
                simulated[pos] = False
                logger.warning("robustness: left out %s: %s", crystals["id"].iloc[idx[pos]], reason)
            for m in names:
                bundle = models[m]
                classes = bundle.classes
                index = class_index(classes)
                known = np.array([int(s) in index for s in sg[idx]]) & simulated
                if not known.any():
                    continue
                y = np.array([index[int(s)] for s in sg[idx][known]])
                systems = system_indices(classes)
                x = result[bundle.spec][:, known]  # every level in one batch
                proba = bundle.proba(x.reshape(-1, *x.shape[2:]))
                pred = proba.argmax(axis=1).reshape(len(levels), len(y))
                for li in range(len(levels)):
                    c = counts.setdefault((m, li), np.zeros(3, np.int64))
                    c += (len(y), (pred[li] == y).sum(), (systems[pred[li]] == systems[y]).sum())
    finally:
        if pool:
            pool.shutdown()

    rows = []
    for m in models:
        for li, (kind, level) in enumerate(levels):
            n, ok, cs_ok = counts.get((m, li), np.zeros(3, np.int64))
            rows.append(
                {
                    "model": m,
                    "noise": kind,
                    "level": level,
                    "sg_top1": ok / n if n else float("nan"),
                    "cs_accuracy": cs_ok / n if n else float("nan"),
                    "n": int(n),
                }
            )
    table = pd.DataFrame(rows, columns=["model", "noise", "level", "sg_top1", "n", "cs_accuracy"])
    out = Path(out_dir)
    write_table(out / "robustness.csv", table)
    n_classes = min(len(b.classes) for b in models.values())
    noise = next(iter(models.values())).card["patterns"].get("noise", {})
    figures.plot_robustness(
        table,
        out / "robustness.png",
        chance=1.0 / n_classes,
        training={k: training_range(k, noise[k]) for k in NOISE_KINDS if k in noise},
    )
    for kind in NOISE_KINDS:
        part = table[table["noise"] == kind]
        if len(part):
            logger.info(
                "robustness, %s:\n%s",
                kind,
                part.pivot(index="level", columns="model", values="sg_top1").round(3),
            )
