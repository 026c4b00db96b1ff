"""Kill at any moment (issue 19): each data stage and training is SIGKILLed at seeded random
moments and rerun; the artifacts equal an uninterrupted run's. A truncated artifact is named,
with the rule that rebuilds it, by the stage that reads it; a full or read-only disk leaves no
final artifact and keeps the resumable partial.

Stages run in child processes of a fork server that imported the package once (a child
starts in milliseconds, and never inherits the test process's torch threads).
"""

from __future__ import annotations

import errno
import json
import multiprocessing
import os
import random
import signal
import time

import h5py
import numpy as np
import pandas as pd
import pytest
import torch

from xtalsym import config
from xtalsym.io import DamagedArtifactError, ResumableH5, atomic_path, check_artifact
from xtalsym.patterns import run_patterns
from xtalsym.patterns.reference import reference_structures
from xtalsym.shaping.stage import run_shaping
from xtalsym.split import run_split
from xtalsym.structures import run_structures
from xtalsym.train import run_train

from .seed_cifs import SEEDS
from .test_train import tiny_cfg, write_toy

KILLS = 3  # SIGKILLs per stage, at seeded random moments of an uninterrupted run's duration


@pytest.fixture(scope="module")
def ctx():
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # the fork server's children: one thread
    os.environ.setdefault("MPLBACKEND", "Agg")
    c = multiprocessing.get_context("forkserver")
    # Everything a stage imports on first use, so that a child's time is the stage's work.
    c.set_forkserver_preload(
        [
            "xtalsym.structures",
            "xtalsym.patterns",
            "xtalsym.shaping",
            "xtalsym.train",
            "tests.test_kill",
            "pyxtal.crystal",
            "pyxtal.symmetry",
            "pymatgen.io.cif",
            "pymatgen.symmetry.analyzer",
            "matplotlib.pyplot",
            "torch._dynamo",
        ]
    )  # fmt: skip  (torch.optim imports _dynamo late)
    warm = c.Process(target=os.getpid)  # start the server now, not inside a timed run
    warm.start()
    warm.join()
    return c


def run_child(ctx, target, args, kwargs=None, kill_after: float | None = None) -> float:
    """Run ``target(*args)`` in a child; SIGKILL it after ``kill_after`` s. Returns its
    wall time (s)."""
    t0 = time.perf_counter()
    p = ctx.Process(target=target, args=args, kwargs=kwargs or {})
    p.start()
    p.join(kill_after)
    if p.is_alive():
        os.kill(p.pid, signal.SIGKILL)
        p.join()
        assert p.exitcode in (0, -signal.SIGKILL)  # 0: it finished just before the kill
    else:
        assert p.exitcode == 0, f"{target.__name__} failed in the child (exit {p.exitcode})"
    return time.perf_counter() - t0


def kill_and_resume(ctx, target, ref_args, args, finals, same, seed, kwargs=None):
    """An uninterrupted run into ``ref_args``; then KILLS runs into ``args``, each SIGKILLed
    at a random moment, and one to completion. Each final artifact (paths ``finals`` as
    (reference, resumed) pairs) must equal the reference by ``same``, and none may exist
    after a kill unless it is already whole."""
    t_ref = run_child(ctx, target, ref_args, kwargs)
    print(f"{target.__name__}: {t_ref:.1f} s uninterrupted")
    rng = random.Random(seed)
    for _ in range(KILLS):
        run_child(ctx, target, args, kwargs, kill_after=rng.uniform(0.05, 0.9) * t_ref)
        for ref, got in finals:
            assert not got.exists() or same(ref, got), f"{got} exists but differs after a kill"
    run_child(ctx, target, args, kwargs)
    for ref, got in finals:
        assert same(ref, got), got
    return t_ref


def same_table(a, b) -> bool:
    if a.suffix == ".parquet":
        return pd.read_parquet(a).equals(pd.read_parquet(b))
    return a.read_bytes() == b.read_bytes()


def same_h5(a, b) -> bool:
    """Same datasets and attributes, except ``artifact_id`` (unique to every write, by design)."""

    def attrs(f):
        return {k: v for k, v in f.attrs.items() if k != "artifact_id"}

    with h5py.File(a) as fa, h5py.File(b) as fb:
        if set(fa) != set(fb) or attrs(fa) != attrs(fb):
            return False
        return all(np.array_equal(fa[k][...], fb[k][...]) for k in fa)


def same_weights(a, b) -> bool:
    wa, wb = torch.load(a, weights_only=True), torch.load(b, weights_only=True)
    return wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def structures_cfg(root) -> dict:
    return config.validate(
        {
            "seed": 5,
            "classes": [194, 225],
            "structures": {"sources": ["cif_dir", "synthetic"], "workers": 1, "max_sites": 8,
                           "synthetic": {"per_class": 1},
                           "cif_dir": {"path": str(root), "chunk_size": 1}},
        }
    )  # fmt: skip


def test_kill_structures_stage_anywhere(ctx, tmp_path):
    root = tmp_path / "cifs"
    root.mkdir()
    for name, (text, _) in SEEDS.items():
        (root / name).write_text(text)
    (root / "broken.cif").write_text(SEEDS["nacl.cif"][0][:300])
    cfg = structures_cfg(root)
    ref, out = tmp_path / "ref", tmp_path / "out"
    finals = [
        (ref / n, out / n) for n in ("structures.parquet", "outcomes.csv", "class_counts.csv")
    ]
    kill_and_resume(ctx, run_structures, (cfg, ref), (cfg, out), finals, same_table, seed=1,
                    kwargs={"progress": False})  # fmt: skip
    oc = pd.read_csv(out / "outcomes.csv", keep_default_na=False)
    assert set(oc["source"]) == {"cif_dir", "synthetic"} and (oc["status"] == "kept").sum() >= 2


@pytest.fixture(scope="module")
def structures_parquet(tmp_path_factory):
    refs = reference_structures()
    rows = [{"id": f"ref-{k}", "spacegroup": sg, "structure": refs[k].to_json()}
            for k, sg in (("Mg", 194), ("NaCl", 225), ("TiO2", 136), ("mono-P21c", 14))]  # fmt: skip
    path = tmp_path_factory.mktemp("structures") / "structures.parquet"
    pd.DataFrame(rows).to_parquet(path, index=False)
    return path


def small_cfg() -> dict:
    return config.validate(
        {
            "seed": 9,
            # 256 px x 3 variants is one 1 MB HDF5 chunk per crystal: one task per crystal
            "patterns": {"size": 256, "scale": 0.01, "chunk_size": 1, "n_variants": 3},
            "shaping": {"input_size": 32, "chunk_size": 1, "workers": 1},
        }
    )


def test_kill_patterns_and_shaping_anywhere(ctx, tmp_path, structures_parquet):
    cfg = small_cfg()
    ref, out = tmp_path / "ref" / "patterns.h5", tmp_path / "out" / "patterns.h5"
    kill_and_resume(ctx, run_patterns, (cfg, structures_parquet, ref),
                    (cfg, structures_parquet, out), [(ref, out)], same_h5, seed=2)  # fmt: skip
    sref, sout = tmp_path / "ref" / "shaped.h5", tmp_path / "out" / "shaped.h5"
    kill_and_resume(ctx, run_shaping, (cfg, ref, "shaped", sref), (cfg, out, "shaped", sout),
                    [(sref, sout)], same_h5, seed=3)  # fmt: skip
    assert not list((tmp_path / "out").glob(".*.partial"))


def test_kill_training_anywhere(ctx, tmp_path):
    h5_path, split_path, weights_path = write_toy(tmp_path, n_per_class=4, size=16)
    cfg = tiny_cfg(epochs=2)
    io = [str(h5_path), str(split_path), str(weights_path)]
    ref, out = tmp_path / "ref", tmp_path / "out"
    finals = [(ref / "model.pt", out / "model.pt")]
    kill_and_resume(ctx, run_train, (cfg, "m", *io, ref, tmp_path / "ref_ck"),
                    (cfg, "m", *io, out, tmp_path / "out_ck"), finals, same_weights, seed=4)  # fmt: skip
    a, b = pd.read_csv(ref / "history.csv"), pd.read_csv(out / "history.csv")
    assert a.drop(columns="seconds").equals(b.drop(columns="seconds"))


def test_truncated_artifacts_are_named_with_their_rule(tmp_path, structures_parquet):
    cfg = small_cfg()
    pat = tmp_path / "patterns.h5"
    run_patterns(cfg, structures_parquet, pat)
    for name, rule, reader in [
        ("structures.parquet", "generate_structures",
         lambda p: run_patterns(cfg, p, tmp_path / "x.h5")),
        ("patterns.h5", "simulate_patterns",
         lambda p: run_shaping(cfg, p, "shaped", tmp_path / "y.h5")),
        ("structures.parquet", "generate_structures",
         lambda p: run_split(config.validate({}), p, tmp_path / "split")),
    ]:  # fmt: skip
        src = structures_parquet if name.endswith("parquet") else pat
        cut = tmp_path / "cut" / name
        cut.parent.mkdir(exist_ok=True)
        data = src.read_bytes()
        cut.write_bytes(data[: len(data) * 2 // 3])
        with pytest.raises(DamagedArtifactError, match=rf"{cut}: truncated .*rule {rule}"):
            reader(cut)
    h5_path, split_path, weights_path = write_toy(tmp_path, n_per_class=4)
    raw = h5_path.read_bytes()
    h5_path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DamagedArtifactError, match=r"shaped.h5: truncated .*rule shape_patterns"):
        run_train(
            tiny_cfg(), "m", h5_path, split_path, weights_path, tmp_path / "m", tmp_path / "c"
        )
    split_path.write_bytes(split_path.read_bytes()[:-7])
    with pytest.raises(
        DamagedArtifactError, match=r"split.csv: truncated .*newline.*split_dataset"
    ):
        check_artifact(split_path)


def test_full_disk_leaves_no_final_artifact(tmp_path, monkeypatch):
    dest = tmp_path / "table.csv"
    with pytest.raises(OSError, match=rf"writing {dest} failed: No space left on device") as e:
        with atomic_path(dest) as tmp:
            tmp.write_text("half a table")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert e.value.errno == errno.ENOSPC
    assert list(tmp_path.iterdir()) == []  # neither the artifact nor its temporary file

    # Read-only output: the temporary file cannot be made; the message names the artifact.
    def readonly(*a, **kw):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr("tempfile.mkstemp", readonly)
    with pytest.raises(
        OSError, match=r"writing .*structures.parquet failed: Read-only file system"
    ):
        run_structures(config.validate({"structures": {"synthetic": {"per_class": 1}}}),
                       tmp_path / "ro", progress=False)  # fmt: skip
    assert not (tmp_path / "ro" / "structures.parquet").exists()


def test_full_disk_mid_stage_keeps_the_partial_and_resumes(tmp_path, structures_parquet, monkeypatch,
                                                             caplog):  # fmt: skip
    cfg = small_cfg()
    out = tmp_path / "patterns.h5"
    real, calls = ResumableH5.mark, []

    def disk_full_on_third(self, k):
        calls.append(k)
        if len(calls) == 3:  # of four tasks
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(self, k)

    monkeypatch.setattr(ResumableH5, "mark", disk_full_on_third)
    with pytest.raises(OSError, match="No space left"):
        run_patterns(cfg, structures_parquet, out)
    assert not out.exists() and (tmp_path / ".patterns.h5.partial").exists()
    assert "finished tasks stay in" in caplog.text and "patterns.h5" in caplog.text
    monkeypatch.setattr(ResumableH5, "mark", real)
    run_patterns(cfg, structures_parquet, out)  # resumes from the partial file
    run_patterns(cfg, structures_parquet, tmp_path / "fresh.h5")
    assert same_h5(out, tmp_path / "fresh.h5")
    with h5py.File(out) as h5:
        assert json.loads(h5.attrs["failed"]) == []
