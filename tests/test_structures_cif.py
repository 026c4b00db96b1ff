"""The cif_dir source: a generated corpus of good and bad CIFs, outcomes, chunks and resume."""

from __future__ import annotations

import gzip
import json

import pandas as pd
import pytest
from pymatgen.core import Lattice, Structure
from pymatgen.io.cif import CifWriter

from xtalsym import config
from xtalsym.structures import cif, label, run_structures
from xtalsym.structures.cif import list_cif_files

GOOD = {
    # name: (structure maker, space group)
    "oxides/rutile.cif": (lambda: Structure.from_spacegroup(
        136, Lattice.tetragonal(4.594, 2.959), ["Ti", "O"], [[0, 0, 0], [0.305, 0.305, 0]]), 136),
    "halides/nacl.cif": (lambda: Structure.from_spacegroup(
        225, Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]), 225),
    "si.cif.gz": (lambda: Structure.from_spacegroup(
        227, Lattice.cubic(5.43), ["Si"], [[0, 0, 0]]), 227),
    "mg.cif": (lambda: Structure.from_spacegroup(
        194, Lattice.hexagonal(3.21, 5.21), ["Mg"], [[1 / 3, 2 / 3, 0.25]]), 194),
}  # fmt: skip


def cif_text(s: Structure, symprec: float | None = None) -> str:
    return str(CifWriter(s, symprec=symprec))


def write(root, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if rel.endswith(".gz"):
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)


def make_corpus(root) -> dict[str, str]:
    """Good and bad CIFs under ``root``; returns name -> expected reason ("" = kept)."""
    expected = {}
    for rel, (make, _) in GOOD.items():
        # Symmetrised CIFs (with symmetry operations), as ICSD and COD ship them.
        write(root, rel, cif_text(make(), symprec=0.01))
        expected[rel] = ""
    nacl = GOOD["halides/nacl.cif"][0]()
    text = cif_text(nacl)
    write(root, "bad/empty.cif", "")
    write(root, "bad/blank.cif.gz", "\n  \n")
    expected |= {"bad/empty.cif": "empty_file", "bad/blank.cif.gz": "empty_file"}
    write(root, "bad/syntax.cif", "data_broken\n_cell_length_a 5.0\nloop_\n_atom_site_label\n{{{ '")
    write(root, "bad/binary.cif", "\x00\x01\x02 not a cif at all \x7f")
    write(root, "bad/no_atoms.cif", text[: text.index("loop_")])
    expected |= dict.fromkeys(
        ["bad/syntax.cif", "bad/binary.cif", "bad/no_atoms.cif"], "unparsable"
    )
    write(root, "bad/unknown.cif", text.replace("Na", "Qq"))
    expected["bad/unknown.cif"] = "unknown_element"
    mixed = nacl.copy()
    mixed.replace_species({"Na": {"Na": 0.5, "K": 0.5}})
    write(root, "bad/partial.cif", cif_text(mixed))
    expected["bad/partial.cif"] = "partial_occupancy"
    tiny = Structure(Lattice.cubic(0.3), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    huge = Structure(Lattice.cubic(2000.0), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    close = Structure(Lattice.cubic(5.0), ["Na", "Cl"], [[0, 0, 0], [0.02, 0, 0]])
    for name, s in (("tiny", tiny), ("huge", huge)):
        write(root, f"bad/absurd_{name}.cif", cif_text(s))
        expected[f"bad/absurd_{name}.cif"] = "absurd_cell"
    write(root, "bad/absurd_close.cif", cif_text(close))
    expected["bad/absurd_close.cif"] = "overlapping_atoms"
    kbr = Structure.from_spacegroup(225, Lattice.cubic(6.6), ["K", "Br"], [[0, 0, 0], [0.5] * 3])
    write(root, "big/supercell.cif", cif_text(kbr * (2, 2, 1)))
    expected["big/supercell.cif"] = ""  # standardised back to the 8-site cell
    write(root, "big/too_many.cif", cif_text(GOOD["oxides/rutile.cif"][0]() * (3, 3, 2)))
    expected["big/too_many.cif"] = "too_many_sites"  # 108 sites in the file > 4 x 24
    csi = Structure.from_spacegroup(221, Lattice.cubic(4.1), ["Cs", "I"], [[0, 0, 0], [0.5] * 3])
    write(root, "other/csi.cif", cif_text(csi))
    expected["other/csi.cif"] = "outside_class_set"
    # The same compound again (another determination, 0.5 % larger cell): a duplicate.
    again = GOOD["halides/nacl.cif"][0]()
    again.scale_lattice(again.volume * 1.015)
    write(root, "halides/nacl_again.cif", cif_text(again))
    expected["halides/nacl_again.cif"] = "duplicate"
    (root / "notes.txt").write_text("not a cif, ignored")
    return expected


def cif_config(root, **over):
    sc = {"sources": ["cif_dir"], "max_sites": 24, "workers": 1,
          "cif_dir": {"path": str(root), "chunk_size": 4}}  # fmt: skip
    for k, v in over.items():
        if isinstance(v, dict):
            sc.setdefault(k, {}).update(v)
        else:
            sc[k] = v
    return config.validate({"classes": [136, 194, 225, 227], "structures": sc})


def outcomes(out) -> dict[str, tuple[str, str]]:
    oc = pd.read_csv(out / "outcomes.csv", keep_default_na=False)
    assert (oc["source"] == "cif_dir").all()
    return {r.name: (r.status, r.reason) for r in oc.itertuples()}


def test_bad_cifs_skipped_with_reasons_good_kept(tmp_path):
    root = tmp_path / "cifs"
    expected = make_corpus(root)
    out = tmp_path / "out"
    run_structures(cif_config(root), out, progress=False)
    got = outcomes(out)
    assert set(got) == set(expected)  # one row per CIF, notes.txt ignored
    for name, reason in expected.items():
        assert got[name] == (("skipped", reason) if reason else ("kept", "")), name
    df = pd.read_parquet(out / "structures.parquet")
    assert list(df["id"]) == sorted(
        ["cif-big/supercell", "cif-halides/nacl", "cif-mg", "cif-oxides/rutile", "cif-si"]
    )
    assert (df["source"] == "cif_dir").all()
    for rel, (_, sg) in GOOD.items():
        row = df[df["id"] == "cif-" + rel.removesuffix(".gz").removesuffix(".cif")].iloc[0]
        assert row["spacegroup"] == sg
        assert label(Structure.from_str(row["structure"], fmt="json"), 0.01)[0] == sg
    assert df.set_index("id").loc["cif-big/supercell", "n_sites"] == 8
    cc = pd.read_csv(out / "class_counts.csv")
    assert dict(zip(cc["spacegroup"], cc["count"], strict=True)) == {136: 1, 194: 1, 225: 2, 227: 1}


def test_partial_occupancy_order_policy_and_parallel_workers(tmp_path):
    root = tmp_path / "cifs"
    expected = make_corpus(root)
    out = tmp_path / "out"
    run_structures(cif_config(root, workers=2, cif_dir={"partial_occupancy": "order"}), out,
                   progress=False)  # fmt: skip
    got = outcomes(out)
    assert got["bad/partial.cif"] == ("kept", "")  # K wins the 50/50 tie (alphabetical)
    df = pd.read_parquet(out / "structures.parquet").set_index("id")
    assert df.loc["cif-bad/partial", "formula"] == "KCl"
    expected["bad/partial.cif"] = ""
    assert got == {n: ("skipped", r) if r else ("kept", "") for n, r in expected.items()}


def test_ids_from_relative_paths():
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        for rel in ["b/x.cif", "a.cif", "a.cif.gz", "c.CIF", ".hidden.cif", "z.txt", ".git/q.cif"]:
            write(root, rel, "data_x\n")
        assert list_cif_files(root) == [
            ("cif-a.cif", "a.cif"), ("cif-a.cif.gz", "a.cif.gz"), ("cif-b/x", "b/x.cif"),
            ("cif-c", "c.CIF"),
        ]  # fmt: skip
    with pytest.raises(FileNotFoundError, match="not a directory"):
        list_cif_files(root / "gone")


def test_missing_path_is_a_clear_error(tmp_path):
    cfg = cif_config(tmp_path)
    cfg["structures"]["cif_dir"]["path"] = None
    with pytest.raises(ValueError, match="cif_dir.path"):
        run_structures(cfg, tmp_path / "out", progress=False)


def test_resume_after_interruption_skips_finished_chunks(tmp_path, monkeypatch):
    root = tmp_path / "cifs"
    make_corpus(root)
    n_files = len(list_cif_files(root))
    cfg = cif_config(root, cif_dir={"chunk_size": 5})
    n_chunks = -(-n_files // 5)
    assert n_chunks >= 4
    out = tmp_path / "out"
    real = cif.process_chunk
    calls: list[str] = []

    def interrupted(root_, files, st, dest):
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C while the third chunk is being parsed
        calls.append(dest)
        return real(root_, files, st, dest)

    monkeypatch.setattr(cif, "process_chunk", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_structures(cfg, out, progress=False)
    assert not (out / "structures.parquet").exists() and not (out / "outcomes.csv").exists()
    done = sorted((out / cif.CHUNK_DIR).glob("*/chunk-*.parquet"))
    assert [p.name for p in done] == ["chunk-00000.parquet", "chunk-00001.parquet"]
    stamps = {p: p.stat().st_mtime_ns for p in done}

    calls.clear()
    monkeypatch.setattr(cif, "process_chunk", lambda *a: (calls.append(a[3]), real(*a))[1])
    run_structures(cfg, out, progress=False)
    parsed = sorted(p.rsplit("/", 1)[-1] for p in calls)
    assert parsed == [f"chunk-{k:05d}.parquet" for k in range(2, n_chunks)]
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items())  # not rewritten

    fresh = tmp_path / "fresh"
    monkeypatch.setattr(cif, "process_chunk", real)
    run_structures(cfg, fresh, progress=False)
    pd.testing.assert_frame_equal(
        pd.read_parquet(out / "structures.parquet"), pd.read_parquet(fresh / "structures.parquet")
    )
    assert (out / "outcomes.csv").read_text() == (fresh / "outcomes.csv").read_text()

    # A changed file or setting starts a new cache (and drops the old one).
    calls.clear()
    monkeypatch.setattr(cif, "process_chunk", lambda *a: (calls.append(a[3]), real(*a))[1])
    run_structures(cif_config(root, cif_dir={"chunk_size": 5}, symprec=0.02), out, progress=False)
    assert len(calls) == n_chunks
    assert len(list((out / cif.CHUNK_DIR).iterdir())) == 1


def test_cif_and_synthetic_sources_combined(tmp_path):
    root = tmp_path / "cifs"
    write(root, "nacl.cif", cif_text(GOOD["halides/nacl.cif"][0](), symprec=0.01))
    cfg = config.validate(
        {
            "seed": 1,
            "classes": [2, 225],
            "structures": {
                "sources": ["synthetic", "cif_dir"], "max_sites": 16, "workers": 1,
                "synthetic": {"per_class": 2}, "cif_dir": {"path": str(root)},
            },
        }
    )  # fmt: skip
    out = tmp_path / "out"
    run_structures(cfg, out, progress=False)
    df = pd.read_parquet(out / "structures.parquet")
    assert df["id"].is_monotonic_increasing
    assert df["source"].value_counts().to_dict() == {"synthetic": 4, "cif_dir": 1}
    assert df.iloc[0]["id"] == "cif-nacl"
    oc = pd.read_csv(out / "outcomes.csv", keep_default_na=False)
    assert set(oc["source"]) == {"cif_dir", "synthetic"}


def test_sharded_stage_writes_the_unsharded_artifacts(tmp_path, monkeypatch):
    """Three shard jobs (CIFs by path hash, synthetic chunks round-robin) and the gather give
    the unsharded files byte for byte; the gather redoes none of the shards' work."""
    from xtalsym.structures import gather_structures, run_structures_shard, synthetic

    root = tmp_path / "cifs"
    make_corpus(root)
    cfg = cif_config(
        root,
        cif_dir={"chunk_size": 3},
        sources=["cif_dir", "synthetic"],
        synthetic={"per_class": 70},
    )  # 280 items: two synthetic cache chunks
    cfg = config.validate({**cfg, "classes": [2, 14, 194, 225]})
    one, three = tmp_path / "one", tmp_path / "three"
    run_structures(cfg, one, progress=False)

    files = [rel for _, rel in list_cif_files(root)]
    by_shard = [sorted(rel for rel in files if cif.shard_of(rel, 3) == k) for k in range(3)]
    assert sorted(sum(by_shard, [])) == sorted(files) and all(by_shard)
    manifests = [run_structures_shard(cfg, three, (k, 3), progress=False) for k in range(3)]
    m = [json.loads(p.read_text()) for p in manifests]
    assert [x["shard"] for x in m] == ["0/3", "1/3", "2/3"]
    parsed = [
        sorted(pd.concat(pd.read_parquet(p) for p in (three / x["cif_dir"]["cache"]).glob("*"))
               ["name"])
        for x in m
    ]  # fmt: skip
    assert parsed == by_shard
    assert [len(x["synthetic"]["chunks"]) for x in m] == [1, 1, 0]

    parsed_again, generated = [], []
    real_parse, real_batch = cif.process_chunk, synthetic._run_batch
    monkeypatch.setattr(
        cif, "process_chunk", lambda *a: (parsed_again.append(a), real_parse(*a))[1]
    )
    monkeypatch.setattr(
        synthetic, "_run_batch", lambda b, st: (generated.extend(b), real_batch(b, st))[1]
    )
    gather_structures(cfg, three, manifests, progress=False)
    assert parsed_again == [] and all(i >= 70 for _, i, _ in generated)  # later rounds only
    pd.testing.assert_frame_equal(
        pd.read_parquet(one / "structures.parquet"), pd.read_parquet(three / "structures.parquet")
    )
    for name in ("outcomes.csv", "class_counts.csv", "realism.csv"):
        assert (one / name).read_bytes() == (three / name).read_bytes(), name
    assert not (three / synthetic.CACHE_DIR).exists()  # removed on success, as unsharded

    with pytest.raises(ValueError, match=r"1\.json: shard 1/3, expected 0/2"):
        gather_structures(cfg, three, manifests[1:], progress=False)
