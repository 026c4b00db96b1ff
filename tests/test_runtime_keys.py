"""The schema's runtime keys (x-runtime) are runtime only: the patterns and shaping stages
write the same pixels and the same stamped config whatever their chunk size, so leaving those
keys out of params, resume keys and run hashes is safe."""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd

from xtalsym.config import validate
from xtalsym.patterns import run_patterns
from xtalsym.patterns.reference import reference_structures
from xtalsym.shaping import run_shaping


def test_chunk_size_changes_no_pixel_and_no_stamp(tmp_path):
    refs = reference_structures()
    rows = [{"id": f"r-{k}", "spacegroup": 1, "structure": s.to_json()} for k, s in refs.items()]
    src = tmp_path / "structures.parquet"
    pd.DataFrame(rows).to_parquet(src, index=False, row_group_size=2)
    out = []
    for chunk in (1, 4):
        cfg = validate(
            {
                "seed": 5,
                "patterns": {"size": 64, "scale": 0.04, "chunk_size": chunk, "workers": 1},
                "shaping": {"input_size": 16, "chunk_size": chunk, "workers": 1},
            }
        )
        pats, imgs = tmp_path / f"p{chunk}.h5", tmp_path / f"s{chunk}.h5"
        run_patterns(cfg, src, pats)
        run_shaping(cfg, pats, "shaped", imgs)
        with h5py.File(pats) as p, h5py.File(imgs) as s:
            out.append(
                (p["patterns"][...], p.attrs["config_hash"], s["images"][...], s.attrs["config"])
            )
            assert p.attrs["artifact_id"] != s.attrs["artifact_id"]
    (pa, ha, ia, ca), (pb, hb, ib, cb) = out
    assert pa.max() > 0 and np.array_equal(pa, pb) and ha == hb
    assert ib.max() > 0 and np.array_equal(ia, ib) and ca == cb
