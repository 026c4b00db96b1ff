"""The patterns stage runner: structures.parquet -> patterns.h5 and the examples figure."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pandas as pd
import pytest

from xtalsym import __version__
from xtalsym.config import strip_runtime, validate
from xtalsym.io import config_hash, derive_seed
from xtalsym.patterns import run_patterns, simulate_structure
from xtalsym.patterns.reference import reference_structures

from .conftest import recording
from .helpers import write_reference_table


@pytest.fixture(scope="module")
def structures_parquet(tmp_path_factory) -> tuple:
    """Six crystals of six systems plus one that cannot be simulated (Es: no factors)."""
    return write_reference_table(tmp_path_factory.mktemp("structures"))


def small_config(**patterns) -> dict:
    cfg = validate({"seed": 99, "patterns": {"size": 96, "scale": 0.025, "chunk_size": 2}})
    cfg["patterns"].update(patterns)
    return cfg


@pytest.mark.parametrize("workers", [1, 2])
def test_run_simulation_writes_aligned_reproducible_patterns(structures_parquet, tmp_path, workers):
    path, rows = structures_parquet
    cfg = small_config(n_variants=2, workers=workers)
    out, fig = tmp_path / "patterns" / "patterns.h5", tmp_path / "patterns" / "examples.png"
    run_patterns(cfg, path, out, figure_path=fig)
    assert fig.stat().st_size > 10_000
    assert sorted(p.name for p in out.parent.iterdir()) == ["examples.png", "patterns.h5"]
    with h5py.File(out) as f:
        pats = f["patterns"]
        assert pats.shape == (len(rows), 2, 3, 96, 96) and pats.dtype == np.uint8
        assert pats.compression == "gzip" and pats.chunks[0] >= 1
        assert list(f["ids"].asstr()[...]) == [r["id"] for r in rows]
        assert list(f["spacegroup"][...]) == [r["spacegroup"] for r in rows]
        assert f.attrs["xtalsym_version"] == __version__
        stamped = json.loads(f.attrs["config"])
        # the slice that made it, without runtime keys (workers, chunk_size change no pixel)
        assert stamped == strip_runtime({"seed": 99, "patterns": cfg["patterns"]})
        assert f.attrs["config_hash"] == config_hash(stamped)
        failed = json.loads(f.attrs["failed"])
        assert [x["id"] for x in failed] == ["ref-bad"] and "Es" in failed[0]["reason"]
        data = pats[...]
    assert data[2].max() == 0  # the failed row is blank, the others are patterns
    good = [i for i, r in enumerate(rows) if r["id"] != "ref-bad"]
    assert all(data[i, :, :, 48, 48].min() == 255 for i in good)
    # each variant is the API's pattern with derive_seed(seed, "patterns", id, v)
    refs = reference_structures()
    for i in (0, 5):
        sid = rows[i]["id"]
        for v in range(2):
            seed = derive_seed(99, "patterns", sid, v)
            want = simulate_structure(refs[sid[4:]], cfg["patterns"], seed)
            assert np.array_equal(data[i, v], want)
        assert not np.array_equal(data[i, 0], data[i, 1])  # variants differ


def test_workers_do_not_change_the_result(structures_parquet, tmp_path):
    path, _ = structures_parquet
    outs = []
    for workers in (1, 2):
        out = tmp_path / f"w{workers}.h5"
        run_patterns(small_config(workers=workers, chunk_size=3), path, out)
        with h5py.File(out) as f:
            outs.append(f["patterns"][...])
    assert np.array_equal(*outs)


def test_clean_config_gives_clean_patterns(structures_parquet, tmp_path):
    path, rows = structures_parquet
    cfg = small_config(workers=1)
    cfg["patterns"]["noise"] = dict.fromkeys(cfg["patterns"]["noise"], 0)
    cfg["patterns"]["beams"] = "zone_axes"  # drawn axes are a geometry, not noise
    out = tmp_path / "clean.h5"
    run_patterns(cfg, path, out)
    with h5py.File(out) as f:
        first = f["patterns"][0, 0]
    assert np.array_equal(
        first, simulate_structure(reference_structures()["NaCl"], cfg["patterns"])
    )
    assert (first == 0).mean() > 0.9  # no background


def test_only_the_patterns_section_and_seed_matter(structures_parquet, tmp_path):
    path, _ = structures_parquet
    a, b = small_config(workers=1), small_config(workers=1)
    b["shaping"]["input_size"] = 32
    b["split"]["min_per_class"] = 2
    outs = []
    for i, cfg in enumerate((a, b)):
        run_patterns(cfg, path, tmp_path / f"{i}.h5")
        with h5py.File(tmp_path / f"{i}.h5") as f:
            outs.append((f["patterns"][...], f.attrs["config_hash"]))
    assert np.array_equal(outs[0][0], outs[1][0]) and outs[0][1] == outs[1][1]


def test_empty_table(tmp_path):
    path = tmp_path / "empty.parquet"
    pd.DataFrame({"id": pd.Series([], dtype=str), "spacegroup": pd.Series([], dtype=int),
                  "structure": pd.Series([], dtype=str)}).to_parquet(path)  # fmt: skip
    run_patterns(small_config(workers=1), path, tmp_path / "e.h5")
    with h5py.File(tmp_path / "e.h5") as f:
        assert f["patterns"].shape == (0, 1, 3, 96, 96) and len(f["ids"]) == 0


def test_all_structures_failing_is_an_error(structures_parquet, tmp_path):
    _, rows = structures_parquet
    bad = [r for r in rows if r["id"] == "ref-bad"]
    path = tmp_path / "bad.parquet"
    pd.DataFrame(bad).to_parquet(path, index=False)
    with pytest.raises(RuntimeError, match="every structure failed"):
        run_patterns(small_config(workers=1), path, tmp_path / "bad.h5")
    assert not (tmp_path / "bad.h5").exists()  # nothing half-written under the artifact's name


def test_interrupted_simulation_resumes_from_its_last_finished_batch(
    structures_parquet, tmp_path, monkeypatch
):
    import xtalsym.patterns.stage as stage

    path, rows = structures_parquet
    cfg = small_config(workers=1, size=256, n_variants=3, chunk_size=2)  # 4 batches of 2
    real, calls, ids = stage._simulate_compressed, [], lambda *a: a[0]
    monkeypatch.setattr(stage, "_simulate_compressed", recording(real, calls, ids, interrupt_on=3))
    out = tmp_path / "patterns.h5"
    with pytest.raises(KeyboardInterrupt):
        run_patterns(cfg, path, out)
    assert not out.exists() and (tmp_path / ".patterns.h5.partial").exists()
    calls.clear()
    monkeypatch.setattr(stage, "_simulate_compressed", recording(real, calls, ids))
    run_patterns(cfg, path, out)
    assert calls == [[r["id"] for r in rows[4:6]], [rows[6]["id"]]]  # only the unfinished ones
    run_patterns(cfg, path, tmp_path / "fresh.h5")
    with h5py.File(out) as a, h5py.File(tmp_path / "fresh.h5") as b:
        assert np.array_equal(a["patterns"][...], b["patterns"][...])
        assert list(a["ids"].asstr()[...]) == [r["id"] for r in rows]
        assert json.loads(a.attrs["failed"]) == json.loads(b.attrs["failed"])
        assert [x["id"] for x in json.loads(a.attrs["failed"])] == ["ref-bad"]
        assert "_tasks_done" not in a and "_failed" not in a.attrs
    assert not list(tmp_path.glob(".*partial"))


def test_compression_benchmark_measures_real_codecs(tmp_path):
    """The codec comparison behind image_dataset's gzip level round-trips and orders sizes."""
    from benchmarks.bench_compression import CODECS, measure

    data = np.zeros((24, 3, 64, 64), np.uint8)
    data[:, :, 20:23, 30:33] = 200  # a sparse spot pattern
    r = {c: measure(data, tmp_path / f"{c}.h5", opts, n_random=8) for c, opts in CODECS.items()}
    assert r["none"]["ratio"] < 1.05 < 5 < r["lzf"]["ratio"] <= r["gzip4"]["ratio"]
    assert r["gzip1"]["ratio"] <= r["gzip4"]["ratio"] <= r["gzip9"]["ratio"]
    assert all(v["read_rows_per_s"] > 0 and v["write_mb_s"] > 0 for v in r.values())
