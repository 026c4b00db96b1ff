"""The split stage: stratification, ratios, small classes, grouping, seeds, outputs."""

import json

import h5py
import numpy as np
import pandas as pd
import pytest

from xtalsym import config
from xtalsym.split import SPLITS, class_weights, make_split, run_split, split_counts

RATIOS = {"train": 0.8, "val": 0.1, "test": 0.1}


def toy_structures(seed=0, sizes=None):
    rng = np.random.default_rng(seed)
    sizes = sizes or {14: 57, 225: 31, 62: 23, 2: 12, 166: 2}
    rows = []
    for sg, n in sizes.items():
        for i in range(n):
            fam = f"F{sg}_{rng.integers(0, max(2, n // 3))}"
            rows.append(
                {"id": f"s{sg:03d}-{i:03d}", "spacegroup": sg, "formula": fam, "prototype": fam}
            )
    return pd.DataFrame(rows)


def test_split_counts_within_one_and_sums():
    # From 5 members on (the default min_per_class) presence and +-1 hold together at 80/10/10.
    for n in range(5, 60):
        c = split_counts(n, RATIOS)
        assert sum(c.values()) == n
        for s in SPLITS:
            assert abs(c[s] - n * RATIOS[s]) <= 1, (n, c)
            assert c[s] >= 1


def test_stratified_split_properties():
    df = toy_structures()
    out = make_split(df, RATIOS, seed=7)
    assert out["id"].is_unique and set(out["id"]) == set(df["id"])
    for sg, g in out.groupby("spacegroup"):
        n = len(g)
        counts = g["split"].value_counts()
        if n >= 5:
            for s in SPLITS:
                assert counts.get(s, 0) >= 1, (sg, s)
                assert abs(counts.get(s, 0) - n * RATIOS[s]) <= 1, (sg, s, counts)
    # The 2-member class (166) goes to train only under the default policy.
    assert set(out[out["spacegroup"] == 166]["split"]) == {"train"}


def test_small_class_drop_warns_with_name(caplog):
    out = make_split(toy_structures(), RATIOS, seed=7, small_class_policy="drop")
    assert 166 not in set(out["spacegroup"])
    assert "166" in caplog.text and "trigonal" in caplog.text


def test_seeds():
    df = toy_structures()
    a = make_split(df, RATIOS, seed=1)
    b = make_split(df, RATIOS, seed=1)
    c = make_split(df, RATIOS, seed=2)
    pd.testing.assert_frame_equal(a, b)
    assert not a["split"].equals(c["split"])


@pytest.mark.parametrize("group_by", ["formula", "prototype"])
def test_group_by_keeps_families_whole(group_by):
    df = toy_structures(sizes={14: 80, 225: 60, 62: 40})
    out = make_split(df, RATIOS, seed=3, group_by=group_by)
    per_family = out.groupby("family")["split"].nunique()
    assert (per_family == 1).all()
    for _, g in out.groupby("spacegroup"):
        assert set(g["split"]) == set(SPLITS)


def test_class_weights_inverse_frequency():
    split_df = pd.DataFrame(
        {"spacegroup": [1, 1, 1, 2, 5], "split": ["train", "train", "train", "train", "test"]}
    )
    w = class_weights(split_df, [1, 2, 5]).set_index("spacegroup")["weight"]
    assert w[1] == pytest.approx(0.5) and w[2] == pytest.approx(1.5) and w[5] == 0.0


def test_run_split_writes_artifacts(tmp_path):
    df = toy_structures()
    src = tmp_path / "structures.parquet"
    df.to_parquet(src)
    cfg = config.validate({"classes": sorted(df["spacegroup"].unique().tolist())})
    run_split(cfg, src, tmp_path / "split")
    for name in ("split.csv", "class_counts.csv", "class_weights.csv", "class_counts.png"):
        assert (tmp_path / "split" / name).stat().st_size > 0
    counts = pd.read_csv(tmp_path / "split" / "class_counts.csv")
    assert counts[list(SPLITS)].to_numpy().sum() == len(df)
    assert (tmp_path / "split" / "class_counts.png").read_bytes()[:4] == b"\x89PNG"


def test_crystals_that_failed_to_simulate_are_left_out_with_their_reason(tmp_path, caplog):
    """patterns.h5 lists failed crystals (blank rows): no split may hold them."""
    df = toy_structures()
    src = tmp_path / "structures.parquet"
    df.to_parquet(src)
    bad = {"s014-003": "ValueError: no scattering factor for Es", "s225-010": "empty cell"}
    patterns = tmp_path / "patterns.h5"
    with h5py.File(patterns, "w") as f:
        f.attrs["failed"] = json.dumps([{"id": i, "reason": r} for i, r in bad.items()])
    cfg = config.validate({"classes": sorted(df["spacegroup"].unique().tolist())})
    run_split(cfg, src, tmp_path / "split", patterns_path=patterns)
    split = pd.read_csv(tmp_path / "split" / "split.csv")
    assert set(split["id"]) == set(df["id"]) - set(bad)
    excluded = pd.read_csv(tmp_path / "split" / "excluded.csv")
    assert dict(zip(excluded["id"], excluded["reason"], strict=True)) == bad
    assert sorted(excluded["spacegroup"]) == [14, 225]
    assert "s014-003" in caplog.text and "Es" in caplog.text
    counts = pd.read_csv(tmp_path / "split" / "class_counts.csv").set_index("spacegroup")
    assert counts.loc[14, list(SPLITS)].sum() == 56  # 57 made, one failed

    # Without a patterns file (or with no failures) nothing is left out.
    run_split(cfg, src, tmp_path / "all")
    assert len(pd.read_csv(tmp_path / "all" / "split.csv")) == len(df)
    assert pd.read_csv(tmp_path / "all" / "excluded.csv").empty
