"""The cif_dir source on hostile input: the three defects of issue 19, physical sanity, CIF error
messages that say what and where, per-file time and size limits, and a worker that dies."""

from __future__ import annotations

import gzip
import os
import signal
import time

import numpy as np
import pandas as pd
import pytest

from xtalsym import config
from xtalsym.structures import cif, run_structures
from xtalsym.structures.cif import CifSettings, process_file

from .seed_cifs import SEEDS

NACL, _ = SEEDS["nacl.cif"]
RUTILE, _ = SEEDS["rutile.cif"]
CLASSES = [136, 194, 225, 227]


def settings(**over) -> CifSettings:
    base = dict(symprec=0.01, setting="ita", max_sites=64, partial_occupancy="skip", classes=tuple(CLASSES),
                timeout_s=60.0, max_bytes=20_000_000)  # fmt: skip
    return CifSettings(**(base | over))


def one(tmp_path, text: str | bytes, name: str = "x.cif", **over) -> dict:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return process_file(tmp_path, name, "cif-x", settings(**over))


def run(root, **sc) -> dict[str, tuple[str, str, str]]:
    cfg = config.validate({"classes": CLASSES, "structures": {"sources": ["cif_dir"], "workers": 1,
                           "cif_dir": {"path": str(root), "chunk_size": 3}} | sc})  # fmt: skip
    out = root.parent / "out"
    run_structures(cfg, out, progress=False)
    oc = pd.read_csv(out / "outcomes.csv", keep_default_na=False)
    return {r.name: (r.status, r.reason, r.detail) for r in oc.itertuples()}


def big_cif(n: int) -> str:
    rng = np.random.default_rng(0)
    rows = "\n".join(f"Na{i} Na {x:.5f} {y:.5f} {z:.5f} 1" for i, (x, y, z) in
                     enumerate(rng.random((n, 3))))  # fmt: skip
    head = NACL.split("_atom_site_label")[0].replace("5.64", "80.0")
    return (
        head
        + "_atom_site_label\n_atom_site_type_symbol\n"
        + "".join(f"_atom_site_fract_{a}\n" for a in "xyz")
        + "_atom_site_occupancy\n"
        + rows
        + "\n"
    )


def test_the_three_defects_of_issue_19(tmp_path):
    root = tmp_path / "cifs"
    root.mkdir()
    (root / "good.cif").write_text(NACL)
    (root / "rutile.cif.gz").write_bytes(gzip.compress(RUTILE.encode()))
    (root / "corrupt.cif.gz").write_bytes(gzip.compress(RUTILE.encode())[:-30])
    (root / "garbage.cif.gz").write_bytes(b"\x1f\x8b\x08\x00" + os.urandom(200))
    (root / "negative.cif").write_text(NACL.replace("_cell_length_b 5.64", "_cell_length_b -4.2"))
    (root / "huge.cif").write_text(big_cif(20_000))
    got = run(root)
    assert got["good.cif"][:2] == ("kept", "") and got["rutile.cif.gz"][:2] == ("kept", "")
    assert got["corrupt.cif.gz"][:2] == ("skipped", "unreadable")
    assert "Compressed file ended" in got["corrupt.cif.gz"][2]
    assert got["garbage.cif.gz"][:2] == ("skipped", "unreadable")
    assert got["negative.cif"] == ("skipped", "absurd_cell", "line 4: _cell_length_b = -4.2 Å")
    assert got["huge.cif"][:2] == ("skipped", "too_many_sites")
    assert "20000 sites" in got["huge.cif"][2]
    t0 = time.process_time()  # CPU time: a loaded machine does not make it flaky
    assert one(tmp_path, big_cif(20_000))["reason"] == "too_many_sites"
    assert time.process_time() - t0 < 5  # was ~2 min: the whole file was parsed first


@pytest.mark.parametrize(
    ("edit", "reason", "detail"),
    [
        (("_cell_length_a 5.64", "_cell_length_a inf"), "absurd_cell", "line 3: _cell_length_a = inf"),
        (("_cell_angle_beta 90", "_cell_angle_beta 190"), "absurd_cell", "_cell_angle_beta = 190"),
        (("_cell_length_c 5.64", "_cell_length_c 0"), "absurd_cell", "_cell_length_c = 0"),
        (("Cl4 Cl 0.5 0.5 0.5", "Cl4 Cl 0.5 nan 0.5"), "bad_coordinates",
         "atom Cl4: _atom_site_fract_y = 'nan'"),
        (("Cl4 Cl 0.5 0.5 0.5", "Cl4 Cl 0.5 ? 0.5"), "bad_coordinates", "_atom_site_fract_y = '?'"),
        (("Cl4 Cl 0.5 0.5 0.5 1", "Cl4 Cl 0.5 0.5 0.5 1.5"), "bad_occupancy",
         "atom Cl4: _atom_site_occupancy = 1.5"),
        (("Cl4 Cl 0.5 0.5 0.5 1", "Cl4 Cl 0.5 0.5 0.5 -inf"), "bad_occupancy", "= -inf"),
        (("Cl4 Cl 0.5 0.5 0.5 1", "Cl4 Cl 0.5 0.5 0.5 1\nK1 K 0.5 0.5 0.5 1"), "bad_occupancy",
         "sum to more than 1"),
        (("Cl4 Cl 0.5 0.5 0.5 1", "Cl4 Cl 0.5 0.5 0.5 1\nK1 K 0.52 0.5 0.5 1"),
         "overlapping_atoms", "0.113 Å apart"),
    ],
)  # fmt: skip
def test_physical_sanity(tmp_path, edit, reason, detail):
    assert edit[0] in NACL
    rec = one(tmp_path, NACL.replace(*edit))
    assert (rec["status"], rec["reason"]) == ("skipped", reason)
    assert detail in rec["detail"]


def test_degenerate_cell_is_named_as_such(tmp_path):
    """Angles of 120, 120, 120 deg: valid numbers, a cell of zero volume (pymatgen refuses it;
    its reason, not only "no structures", reaches the user)."""
    text = NACL
    for angle in ("alpha", "beta", "gamma"):
        assert f"_cell_angle_{angle} 90" in text
        text = text.replace(f"_cell_angle_{angle} 90", f"_cell_angle_{angle} 120")
    rec = one(tmp_path, text)
    assert (rec["status"], rec["reason"]) == ("skipped", "absurd_cell")
    assert "below threshold" in rec["detail"]


def test_exact_duplicate_rows_are_merged_and_said(tmp_path):
    rec = one(
        tmp_path, NACL.replace("Cl4 Cl 0.5 0.5 0.5 1", "Cl4 Cl 0.5 0.5 0.5 1\nCl5 Cl 0.5 0.5 0.5 1")
    )
    assert rec["status"] == "kept" and rec["spacegroup"] == 225 and rec["n_sites"] == 8
    assert "merged 1 exact duplicate atom row(s) (Cl5 = Cl4)" in rec["detail"]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("_cell_length_a 5.64", "_cell_lenght_a 5.64"),
         "no _cell_length_a (line 3 has _cell_lenght_a: a typo?)"),
        (("_cell_length_a 5.64", "_cell_length_a 5.6.4"), "line 3: _cell_length_a = '5.6.4' is not a number"),
        (("Cl4 Cl 0.5 0.5 0.5", "Cl4 Cl 0.5 O.5 0.5"),
         "line 27: atom Cl4: _atom_site_fract_y = 'O.5' is not a number"),
        (("loop_\n_atom_site_label", "lop_\n_atom_site_label"), "line 13: unexpected 'lop_' (did you mean loop_?)"),
        (("Cl4 Cl 0.5 0.5 0.5 1\n", "Cl4 Cl 0.5\n"),
         "the loop of _atom_site_label has 45 values for 6 columns (the last row, line 27, has 3)"),
        (("_atom_site_fract_x", "_atom_site_frac_x"), "no _atom_site_fract_x (line 16 has _atom_site_frac_x"),
    ],
)  # fmt: skip
def test_cif_errors_say_what_and_where(tmp_path, edit, message):
    assert edit[0] in NACL
    rec = one(tmp_path, NACL.replace(*edit))
    assert rec["reason"] == "unparsable"
    assert message in rec["detail"], rec["detail"]


def test_truncated_file_and_pymatgen_warnings(tmp_path):
    rec = one(tmp_path, NACL[: NACL.index("_atom_site_occupancy") + 5])
    assert rec["reason"] == "unparsable" and "truncated" in rec["detail"]
    # An element guessed from the site label: kept, and pymatgen's warning is in the outcome.
    text = (
        NACL.replace("_atom_site_type_symbol\n", "").replace(" Na 0", " 0").replace(" Cl 0", " 0")
    )
    text = text.replace("Na1 ", "NA1 ")
    rec = one(tmp_path, text)
    assert rec["status"] == "kept" and "NA1 parsed as Na" in rec["detail"]


def test_size_limits_and_gzip_bomb(tmp_path):
    rec = one(tmp_path, NACL, max_bytes=500)
    assert rec["reason"] == "file_too_large" and "> 0.0005 MB" in rec["detail"]
    bomb = gzip.compress(b"#" * 30_000_000)  # 30 kB on disk
    t0 = time.process_time()
    rec = one(tmp_path, bomb, "bomb.cif.gz", max_bytes=1_000_000)
    assert rec["reason"] == "file_too_large" and "decompressed" in rec["detail"]
    assert time.process_time() - t0 < 5
    rec = one(tmp_path, b"data_x\n\x00\x00\x00binary")
    assert rec["reason"] == "unparsable" and "NUL byte" in rec["detail"]


def test_time_limit_cuts_a_slow_parse(tmp_path):
    # Symmetry from the Hermann-Mauguin symbol only: pymatgen builds F m -3 m op by op
    # (~1 s); a 0.05 s limit cuts it and the file is a timeout, not a stalled stage.
    text = NACL.replace("'P 1'", "'F m -3 m'").replace(
        "loop_\n_symmetry_equiv_pos_as_xyz\n'x, y, z'\n", ""
    )
    text = "\n".join(ln for ln in text.splitlines() if not ln.startswith(("Na2", "Na3", "Na4", "Cl1",
                                                                        "Cl2", "Cl3")))  # fmt: skip
    assert "equiv_pos" not in text and "Cl4" in text
    rec = one(tmp_path, text, timeout_s=0.05)
    assert (rec["reason"], rec["detail"]) == ("timeout", "over 0.05 s")
    assert one(tmp_path, text, timeout_s=None)["status"] == "kept"


def test_a_worker_that_dies_costs_only_its_file(tmp_path, monkeypatch):
    root = tmp_path / "cifs"
    root.mkdir()
    for name, (text, _) in SEEDS.items():
        (root / name).write_text(text)
    (root / "killer.cif").write_text(NACL)
    real, parent = cif.process_file, os.getpid()

    def dies_on_killer(root_, rel, sid, st):
        if rel == "killer.cif" and os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)  # as the kernel's OOM killer would
        return real(root_, rel, sid, st)

    monkeypatch.setattr(cif, "process_file", dies_on_killer)
    got = run(root, workers=2)
    assert got["killer.cif"][:2] == ("skipped", "crashed")
    assert "SIGKILL" in got["killer.cif"][2]
    assert all(got[n][0] == "kept" for n in SEEDS)


def test_structure_file_reader_says_what_and_where(tmp_path, caplog):
    """The reader behind `xtalsym predict` and `evaluate --structures` (issue 20)."""
    from xtalsym.structures import read_structure_file

    cases = {
        "typo.cif": (("_cell_length_a 5.64", "_cell_lenght_a 5.64"),
                     "typo.cif: not a readable structure (no _cell_length_a (line 3 has _cell_lenght_a"),
        "number.cif": (("_cell_length_c 5.64", "_cell_length_c 5,64"),
                       "number.cif: not a readable structure (line 5: _cell_length_c = '5,64' is not a number"),
        "coord.cif": (("Cl4 Cl 0.5 0.5 0.5", "Cl4 Cl 0.5 0.5 x"),
                      "coord.cif: not a readable structure (line 27: atom Cl4: _atom_site_fract_z = 'x'"),
        "lop.cif": (("loop_\n_atom_site_label", "lop_\n_atom_site_label"),
                    "lop.cif: not a readable structure (line 13: unexpected 'lop_' (did you mean loop_?)"),
        "negative.cif": (("_cell_length_b 5.64", "_cell_length_b -4.2"),
                         "negative.cif: absurd cell (line 4: _cell_length_b = -4.2 Å)"),
        "overlap.cif": (("Cl4 Cl 0.5 0.5 0.5 1", "Cl4 Cl 0.5 0.5 0.5 1\nK1 K 0.52 0.5 0.5 1"),
                        "overlap.cif: overlapping atoms (sites"),
    }  # fmt: skip
    for name, (edit, message) in cases.items():
        (tmp_path / name).write_text(NACL.replace(*edit))
        with pytest.raises(ValueError) as e:
            read_structure_file(tmp_path / name)
        assert message in str(e.value), str(e.value)
    (tmp_path / "cut.cif").write_text(NACL[: NACL.index("Cl2") + 8])  # in the middle of a row
    with pytest.raises(ValueError, match=r"cut.cif: .*line 25, has 3\): a truncated file"):
        read_structure_file(tmp_path / "cut.cif")
    (tmp_path / "gz.cif.gz").write_bytes(gzip.compress(NACL.encode())[:-9])
    with pytest.raises(ValueError, match="gz.cif.gz: unreadable .*EOFError"):
        read_structure_file(tmp_path / "gz.cif.gz")
    (tmp_path / "POSCAR").write_text("junk\n1.0\n1 0 0\n0 1 0\n")
    with pytest.raises(ValueError, match="POSCAR: not a readable structure"):
        read_structure_file(tmp_path / "POSCAR")
    # pymatgen's warning (an element guessed from a site label) is passed on, naming the file
    text = (
        NACL.replace("_atom_site_type_symbol\n", "").replace(" Na 0", " 0").replace(" Cl 0", " 0")
    )
    (tmp_path / "label.cif").write_text(text.replace("Na1 ", "NA1 "))
    with caplog.at_level("WARNING"):
        s = read_structure_file(tmp_path / "label.cif")
    assert s.composition.reduced_formula == "NaCl"
    assert "label.cif: NA1 parsed as Na" in caplog.text
    assert s.properties["read_warnings"] == ["NA1 parsed as Na"]
