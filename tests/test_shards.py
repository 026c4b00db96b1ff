"""Shards (config ``shards``): patterns and shaping per shard, gathered as virtual datasets,
give the unsharded files' arrays, rows and attributes; the gathered view survives a move of
the results directory and refuses missing or misordered shards."""

from __future__ import annotations

import json
import shutil

import h5py
import numpy as np
import pytest

from xtalsym.config import validate
from xtalsym.io import DamagedArtifactError, check_artifact
from xtalsym.patterns import gather_patterns, run_patterns
from xtalsym.shaping import gather_shaping, run_shaping
from xtalsym.shards import gather, missing_sources, parse_shard, shard_rows

from .helpers import write_reference_table


def test_shard_rows_tile_the_table_in_order():
    for n in (0, 1, 7, 100):
        for shards in (1, 3, 8):
            blocks = [shard_rows(n, k, shards) for k in range(shards)]
            assert blocks[0][0] == 0 and blocks[-1][1] == n
            assert all(a[1] == b[0] for a, b in zip(blocks, blocks[1:], strict=False))
            sizes = [hi - lo for lo, hi in blocks]
            assert max(sizes) - min(sizes) <= 1
    assert parse_shard("2/5") == (2, 5)
    for bad in ("5/5", "-1/3", "1", "a/b", "0/0"):
        with pytest.raises(ValueError, match="shard"):
            parse_shard(bad)


@pytest.fixture(scope="module")
def table(tmp_path_factory):
    """Seven crystals (one that cannot be simulated) in row groups of 3, so shards start and
    end inside row groups."""
    return write_reference_table(tmp_path_factory.mktemp("structures"))[0]


CFG = validate({
    "seed": 5,
    "patterns": {"size": 64, "scale": 0.03, "chunk_size": 2, "n_variants": 2, "workers": 1},
    "shaping": {"input_size": 32, "chunk_size": 2, "workers": 1},
})  # fmt: skip


@pytest.fixture(scope="module")
def unsharded(table, tmp_path_factory):
    d = tmp_path_factory.mktemp("unsharded")
    run_patterns(CFG, table, d / "patterns.h5")
    for mode in ("shaped", "unshaped"):
        run_shaping(CFG, d / "patterns.h5", mode, d / f"{mode}.h5")
    return d


def contents(path):
    """Datasets' values and the file's attributes but artifact_id."""
    with h5py.File(path) as f:
        attrs = {k: v for k, v in f.attrs.items() if k != "artifact_id"}
        data = {k: (ds[...], ds.is_virtual) for k, ds in f.items()}
        return attrs, data, f.attrs["artifact_id"]


def sharded_run(table, root, shards):
    parts = []
    for k in range(shards):
        p = root / "patterns" / "shards" / f"{k}.h5"
        run_patterns(CFG, table, p, shard=(k, shards))
        parts.append(p)
    gather_patterns(CFG, table, parts, root / "patterns/patterns.h5")
    for mode in ("shaped", "unshaped"):
        images = []
        for k, p in enumerate(parts):
            images.append(root / "shaping" / "shards" / f"{mode}-{k}.h5")
            run_shaping(CFG, p, mode, images[-1])
        gather_shaping(
            CFG, root / "patterns/patterns.h5", images, mode, root / f"shaping/{mode}.h5"
        )
    return parts


@pytest.mark.parametrize("shards", [3, 8])  # 8 > 7 rows: an empty shard maps nothing
def test_sharded_stages_gather_to_the_unsharded_files(table, unsharded, tmp_path, shards):
    sharded_run(table, tmp_path, shards)
    for name, ref in (("patterns/patterns.h5", "patterns.h5"), ("shaping/shaped.h5", "shaped.h5"),
                      ("shaping/unshaped.h5", "unshaped.h5")):  # fmt: skip
        a_attrs, a_data, a_id = contents(unsharded / ref)
        b_attrs, b_data, b_id = contents(tmp_path / name)
        assert a_attrs.keys() == b_attrs.keys() and a_data.keys() == b_data.keys()
        for k, v in a_attrs.items():
            assert v == b_attrs[k], (name, k)
        for k, (values, virtual) in a_data.items():
            assert not virtual and b_data[k][1], (name, k)  # gathered: virtual datasets
            np.testing.assert_array_equal(values, b_data[k][0], err_msg=f"{name}:{k}")
        assert a_id != b_id
        check_artifact(tmp_path / name)
    with h5py.File(tmp_path / "patterns/patterns.h5") as f:
        assert [x["id"] for x in json.loads(f.attrs["failed"])] == ["ref-bad"]
        assert f["patterns"][...].any()


def test_gathered_view_moves_with_its_directory_and_refuses_missing_shards(table, tmp_path):
    parts = sharded_run(table, tmp_path / "a", 2)
    with h5py.File(tmp_path / "a/patterns/patterns.h5") as f:
        before = f["patterns"][...]
    shutil.move(tmp_path / "a", tmp_path / "b")
    moved = tmp_path / "b/patterns/patterns.h5"
    with h5py.File(moved) as f:
        np.testing.assert_array_equal(f["patterns"][...], before)
    assert missing_sources(moved) == []
    # shards out of order, or not all of them, are refused
    moved_parts = [tmp_path / "b" / p.relative_to(tmp_path / "a") for p in parts]
    with pytest.raises(ValueError, match="expected 0/2"):
        gather(moved_parts[::-1], tmp_path / "x.h5")
    with pytest.raises(ValueError, match="expected 0/1"):
        gather(moved_parts[:1], tmp_path / "x.h5")
    assert not (tmp_path / "x.h5").exists()
    # HDF5 reads a missing source as zeros: check_artifact (every stage's input check) refuses
    moved_parts[1].unlink()
    assert missing_sources(moved) == [str(moved_parts[1])]
    with pytest.raises(DamagedArtifactError, match=r"shards/1\.h5"):
        check_artifact(moved)


@pytest.mark.parametrize("shards", [1, 3])
def test_unshaped_view_reads_as_the_shaped_unshaped_file(table, unsharded, tmp_path, shards):
    """unshaped.h5 as a view of shaped.h5 (ordinary, or itself gathered from 3 shards): the
    computed unshaped file's images, ids, labels and attributes but mode-independent ones;
    readers see an ordinary file, a moved directory still reads, a missing source is refused."""
    from xtalsym.shaping import unshaped_view
    from xtalsym.train.data import open_image_file

    if shards == 1:
        shaped = tmp_path / "shaped.h5"
        shutil.copy(unsharded / "shaped.h5", shaped)
    else:
        sharded_run(table, tmp_path, shards)
        shaped = tmp_path / "shaping/shaped.h5"
    view = shaped.parent / "unshaped_view.h5"
    assert unshaped_view(CFG, shaped, view) == 7
    a_attrs, a_data, _ = contents(unsharded / "unshaped.h5")
    b_attrs, b_data, b_id = contents(view)
    assert a_data.keys() == b_data.keys()
    for name, (values, _) in a_data.items():
        np.testing.assert_array_equal(values, b_data[name][0], err_msg=name)
        assert b_data[name][1], name  # virtual
    assert b_attrs.pop("view_of").startswith("shaped.h5: images[:, :, :, 1]")
    assert a_attrs == b_attrs and b_id != contents(shaped)[2]
    assert open_image_file(view).shape == open_image_file(unsharded / "unshaped.h5").shape

    moved = tmp_path / "moved"
    shutil.copytree(shaped.parent, moved)
    np.testing.assert_array_equal(contents(moved / view.name)[1]["images"][0],
                                  a_data["images"][0])  # fmt: skip
    (moved / "shaped.h5").unlink()
    with pytest.raises(DamagedArtifactError, match="shaped.h5"):
        check_artifact(moved / view.name)
    with pytest.raises(ValueError, match="not a shaped images file"):
        unshaped_view(CFG, unsharded / "unshaped.h5", tmp_path / "x.h5")
