"""Structures stage: standard setting, labels, synthetic source, artifacts."""

from __future__ import annotations

import gzip
import itertools
import json
import warnings

import numpy as np
import pandas as pd
import pytest
from pymatgen.core import Lattice, Structure
from pymatgen.io.cif import CifWriter

from xtalsym import config
from xtalsym.io import derive_seed
from xtalsym.spacegroups import PAPER_72
from xtalsym.structures import (
    label,
    read_structure_file,
    run_structures,
    standardise,
    structure_row,
)
from xtalsym.structures.chemistry import (
    CATIONS,
    IONIC_FAMILIES,
    MAX_FORMULA_ATOMS,
    assign_sites,
    draw_composition,
    wyckoff_table,
)
from xtalsym.structures.dedup import Deduplicator
from xtalsym.structures.outcomes import REASONS, Skip
from xtalsym.structures.prior import ICSD_PERCENT, class_targets
from xtalsym.structures.selection import Selection
from xtalsym.structures.standard import order_majority
from xtalsym.structures.synthetic import collect

from .conftest import recording


def nacl() -> Structure:
    return Structure.from_spacegroup(
        "Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]
    )


def rutile() -> Structure:
    return Structure.from_spacegroup(
        136, Lattice.tetragonal(4.594, 2.959), ["Ti", "O"], [[0, 0, 0], [0.305, 0.305, 0]]
    )


def monoclinic() -> Structure:
    """A P2_1/c crystal with a general position (beta = 105 deg)."""
    lat = Lattice.monoclinic(5.1, 6.3, 7.2, 105.0)
    return Structure.from_spacegroup(14, lat, ["Fe", "O"], [[0.13, 0.27, 0.41], [0.31, 0.08, 0.19]])


def p3_1() -> Structure:
    """A chiral crystal (P3_1, 144): its mirror image is P3_2 (145)."""
    lat = Lattice.hexagonal(4.9, 5.4)
    return Structure.from_spacegroup(144, lat, ["Si", "O"], [[0.47, 0.0, 0.0], [0.41, 0.27, 0.12]])


def rotated(s: Structure, seed: int = 0) -> Structure:
    """The same crystal in a randomly rotated Cartesian frame (a proper rotation)."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.linalg.det(q))
    return Structure(Lattice(s.lattice.matrix @ q.T), s.species, s.frac_coords)


# ---------------------------------------------------------------- standard setting and labels


def in_hall_setting(hall: int, lattice: Lattice, seed: int = 0) -> Structure:
    """A two-orbit crystal built from the operations of Hall setting ``hall`` (general positions)."""
    import spglib

    ops = spglib.get_symmetry_from_database(hall)
    rng = np.random.default_rng(seed)
    species, coords = [], []
    for el in ("Fe", "O"):
        orbit = (ops["rotations"] @ rng.random(3) + ops["translations"]) % 1.0
        keep = [p for i, p in enumerate(orbit) if not any(
            np.allclose((p - q + 0.5) % 1.0 - 0.5, 0.0, atol=1e-6) for q in orbit[:i])]  # fmt: skip
        species += [el] * len(keep)
        coords += keep
    return Structure(lattice, species, coords)


#: (Hall number of a non-standard setting, its lattice, space group, standard Hall number).
NON_STANDARD = [
    (83, Lattice.monoclinic(7.0, 6.0, 5.0, 100.0), 14, 81),  # P2_1/a -> P2_1/c
    (82, Lattice.monoclinic(5.0, 6.0, 7.0, 100.0), 14, 81),  # P2_1/n -> P2_1/c
    (294, Lattice.orthorhombic(5.0, 5.5, 7.7), 62, 292),  # Pbnm -> Pnma
    (296, Lattice.orthorhombic(5.5, 7.7, 5.0), 62, 292),  # Pmcn -> Pnma
    (299, Lattice.orthorhombic(7.0, 5.0, 6.0), 63, 298),  # Ccmm -> Cmcm
    (93, Lattice.monoclinic(5.0, 6.0, 7.0, 100.0), 15, 90),  # A2/a -> C2/c
]


@pytest.mark.parametrize(("hall", "lat", "sg", "std_hall"), NON_STANDARD)
def test_non_standard_settings_stored_in_the_ita_standard_setting(hall, lat, sg, std_hall):
    import spglib

    t = spglib.get_spacegroup_type(hall)
    assert t.number == sg and hall != std_hall, t.international_full
    s = rotated(in_hall_setting(hall, lat))
    std = standardise(s, 0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = spglib.get_symmetry_dataset(
            (std.lattice.matrix, std.frac_coords, [x.Z for x in std.species]), symprec=1e-4
        )
    assert ds.number == sg
    assert ds.hall_number == std_hall, ds.international
    # Already in the standard setting: the transformation to it is the identity.
    assert np.allclose(ds.transformation_matrix, np.eye(3), atol=1e-8)
    assert np.allclose(std.lattice.matrix[2, :2], 0.0, atol=1e-9)  # c along z
    assert abs(std.lattice.matrix[0, 1]) < 1e-9  # a in the xz plane


@pytest.mark.parametrize(
    ("make", "sg", "n_conv"),
    [(nacl, 225, 8), (rutile, 136, 6), (monoclinic, 14, 8), (p3_1, 144, 6)],
)
def test_standardise_orientation_label_and_idempotence(make, sg, n_conv):
    s = make()
    variants = [s, rotated(s, 1), rotated(s.get_primitive_structure(), 2), s * (2, 1, 1)]
    ref = None
    for v in variants:
        std = standardise(v, 0.01)
        m = std.lattice.matrix
        # c along z; a in the xz plane; right-handed
        assert np.allclose(m[2, :2], 0, atol=1e-8) and m[2, 2] > 0
        assert abs(m[0, 1]) < 1e-8 and np.linalg.det(m) > 0
        assert label(std, 0.01)[0] == sg and len(std) == n_conv
        params = np.array([*std.lattice.abc, *std.lattice.angles])
        if ref is None:
            ref = params
        assert np.allclose(params, ref, atol=1e-6)
        assert np.allclose(standardise(std).lattice.matrix, m, atol=1e-8)
    if sg in (225, 136):  # orthogonal cells: x, y, z are the zone axes [100], [010], [001]
        assert np.allclose(m, np.diag(np.diag(m)), atol=1e-8)


def test_left_handed_input_keeps_enantiomorph():
    s = p3_1()
    # Swapping a and b gives a left-handed basis describing the same crystal.
    swapped = Structure(
        Lattice(s.lattice.matrix[[1, 0, 2]]), s.species, s.frac_coords[:, [1, 0, 2]]
    )
    assert np.linalg.det(swapped.lattice.matrix) < 0
    assert label(standardise(swapped), 0.01)[0] == 144
    mirror = Structure(s.lattice, s.species, -s.frac_coords)
    assert label(standardise(mirror), 0.01)[0] == 145


def test_structure_row_columns_and_skips():
    row = structure_row(rotated(nacl().get_primitive_structure()), "x-1", "test", 0.01)
    assert row["formula"] == "NaCl" and row["spacegroup"] == 225 and row["symbol"] == "Fm-3m"
    assert row["crystal_system"] == "cubic" and row["n_sites"] == 8
    assert row["prototype"] == "225_ab"
    assert row["a"] == pytest.approx(5.64) and row["alpha"] == pytest.approx(90)
    back = Structure.from_str(row["structure"], fmt="json")
    assert len(back) == 8 and label(back, 0.01)[0] == 225
    with pytest.raises(Skip) as e:
        structure_row(nacl(), "x", "test", 0.01, max_sites=4)
    assert e.value.reason == "too_many_sites"
    with pytest.raises(Skip) as e:
        structure_row(nacl(), "x", "test", 0.01, classes={1, 2})
    assert e.value.reason == "outside_class_set"


def test_symprec_decides_the_label():
    s = rutile()
    s.translate_sites([0], [0.004, 0.0, 0.0])  # Ti off its site by 0.018 Å
    assert label(s, 0.05)[0] == 136
    assert label(s, 0.001)[0] != 136


def test_order_majority():
    s = nacl()
    s.replace_species({"Na": {"Na": 0.7, "K": 0.3}})
    s.replace_species({"Cl": {"Cl": 0.4}})  # mostly vacant -> dropped
    o = order_majority(s)
    assert o.is_ordered and o.composition.reduced_formula == "Na"


def test_read_structure_file(tmp_path):
    s = rutile()
    (tmp_path / "POSCAR").write_text(s.to(fmt="poscar"))
    cif = str(CifWriter(s))
    (tmp_path / "r.cif").write_text(cif)
    with gzip.open(tmp_path / "r.cif.gz", "wt") as fh:
        fh.write(cif)
    for name in ("POSCAR", "r.cif", "r.cif.gz"):
        got = read_structure_file(tmp_path / name)
        assert got.composition.reduced_formula == "TiO2" and label(got, 0.01)[0] == 136
    (tmp_path / "empty.cif").write_text("  \n")
    (tmp_path / "junk.cif").write_text("data_x\nthis is { not a cif\n")
    (tmp_path / "xx.cif").write_text(cif.replace("Ti", "Xx"))
    for name, needle in [("empty.cif", "empty"), ("junk.cif", "junk.cif"),
                         ("missing.cif", "no such file"), ("xx.cif", "unknown element")]:  # fmt: skip
        with pytest.raises(ValueError, match=needle):
            read_structure_file(tmp_path / name)


# ---------------------------------------------------------------- synthetic building blocks


def _balanced(species, counts) -> bool:
    """Some choice of the cations' listed oxidation states balances the anion charge."""
    anion = species[-1]
    qa = next(q for fam in IONIC_FAMILIES.values() for a, q in fam[0] if a == anion)
    states = [[q for q, els in CATIONS.items() if e in els] for e in species[:-1]]
    return any(
        sum(n * q for n, q in zip(counts[:-1], qs, strict=True)) == counts[-1] * qa
        for qs in itertools.product(*states)
    )


def test_compositions_are_plausible():
    rng = np.random.default_rng(0)
    anions = {a for fam in IONIC_FAMILIES.values() for a, _ in fam[0]}
    n_ionic = 0
    for _ in range(400):
        species, counts = draw_composition(rng)
        assert len(set(species)) == len(species) and min(counts) >= 1
        assert sum(counts) <= MAX_FORMULA_ATOMS and np.gcd.reduce(counts) == 1
        if species[-1] in anions and len(species) > 1:
            n_ionic += 1
            assert _balanced(species, counts), (species, counts)
    assert 150 < n_ionic < 350  # both ionic and intermetallic families are drawn


@pytest.mark.parametrize("sg", [2, 14, 62, 139, 166, 225, 230])
def test_assign_sites_respects_wyckoff_positions(sg):
    from pyxtal.symmetry import Group

    table = wyckoff_table(Group(sg))
    mult = {f"{m}{letter}": (m, dof) for m, letter, dof in table}
    rng = np.random.default_rng(sg)
    general = f"{table[0][0]}{table[0][1]}"
    n_ok = 0
    for k in range(40):
        z = int(rng.integers(1, 5))
        num = [z * table[-1][0], z * table[-1][0] * 2, table[0][0]]
        sites = assign_sites(table, num, rng, general=bool(k % 2))
        if sites is None:
            continue
        n_ok += 1
        fixed = [w for ws in sites for w in ws if mult[w][1] == 0]
        assert len(fixed) == len(set(fixed))  # a fixed position holds one orbit
        assert [sum(mult[w][0] for w in ws) for ws in sites] == num
        if k % 2:
            assert any(general in ws for ws in sites)
    assert n_ok >= 10


def test_class_targets():
    assert class_targets([1, 2, 3], 5, "none") == {1: 5, 2: 5, 3: 5}
    t = class_targets(list(PAPER_72), 20, "icsd")
    assert sum(t.values()) == 20 * 72 and min(t.values()) >= 1
    top5 = sorted(t, key=t.get, reverse=True)[:5]
    assert set(top5) == {14, 225, 62, 2, 15}
    assert set(ICSD_PERCENT) == set(PAPER_72)
    t230 = class_targets(list(range(1, 231)), 4, "icsd")  # groups outside the table get a floor
    assert sum(t230.values()) == 920 and t230[3] >= 1 and t230[14] > t230[3]


# ---------------------------------------------------------------- synthetic source


def _sconf(**over):
    cfg = config.validate({"structures": over})
    return cfg["structures"]


def test_all_72_space_groups_reachable():
    """Each of the paper's 72 classes gets its count from the synthetic source."""
    sconf = _sconf(max_sites=32, workers=2, synthetic={"per_class": 2, "max_attempts": 12})
    res = collect(sconf, PAPER_72, seed=11, progress=False)
    short = {sg: r["note"] for sg, r in res.report.items() if r["count"] < r["target"]}
    assert not short, short
    assert sorted({r["spacegroup"] for r in res.rows}) == list(PAPER_72)
    # Labels re-checked by spglib on the stored (standard) structure, at the configured symprec.
    for row in res.rows:
        s = Structure.from_str(row["structure"], fmt="json")
        assert label(s, sconf["symprec"]) == (row["spacegroup"], row["symbol"])
        assert len(s) == row["n_sites"] <= 32
    kept = [o for o in res.outcomes if o.status == "kept"]
    assert sorted(o.id for o in kept) == [r["id"] for r in res.rows]
    assert {o.reason for o in res.outcomes} <= set(REASONS) | {""}


def test_infeasible_class_is_reported_with_reason():
    # Ia-3d's smallest orbit has 16 sites: nothing fits into 12.
    sconf = _sconf(max_sites=12, workers=1, synthetic={"per_class": 2, "max_attempts": 2})
    res = collect(sconf, [2, 230], seed=3, progress=False)
    assert res.report[2]["count"] == 2 and res.report[2]["note"] == ""
    r = res.report[230]
    assert r["count"] == 0 and r["attempts"] == 4
    assert (
        r["note"].startswith("infeasible: 0/2 after 4 attempts")
        and "generation_failed" in r["note"]
    )


def test_synthetic_independent_of_workers_and_seeded():
    classes = [2, 14, 63, 166, 221]
    one = collect(_sconf(max_sites=24, workers=1, synthetic={"per_class": 3}), classes, 5, progress=False)  # fmt: skip
    two = collect(_sconf(max_sites=24, workers=2, synthetic={"per_class": 3}), classes, 5, progress=False)  # fmt: skip
    assert one.rows == two.rows and one.outcomes == two.outcomes
    other = collect(_sconf(max_sites=24, workers=1, synthetic={"per_class": 3}), classes, 6, progress=False)  # fmt: skip
    assert [r["structure"] for r in other.rows] != [r["structure"] for r in one.rows]
    assert derive_seed(5, "structures", "synthetic", 2, 0) != derive_seed(6, "structures", "synthetic", 2, 0)  # fmt: skip


def test_interrupted_synthetic_source_resumes_from_cached_items(tmp_path, monkeypatch):
    import xtalsym.structures.synthetic as syn

    monkeypatch.setattr(syn, "CACHE_ITEMS", 4)
    sconf = _sconf(max_sites=24, workers=1, synthetic={"per_class": 3})
    classes = [2, 14, 63, 166, 221]
    want = collect(sconf, classes, 5, progress=False)
    real, calls, item = syn.run_item, [], lambda *a: a[:2]
    monkeypatch.setattr(syn, "run_item", recording(real, calls, item, interrupt_on=9))
    cache = tmp_path / "cache"
    with pytest.raises(KeyboardInterrupt):
        collect(sconf, classes, 5, progress=False, cache=cache)
    assert list(cache.glob("items-*.json"))
    calls.clear()
    monkeypatch.setattr(syn, "run_item", recording(real, calls, item))
    got = collect(sconf, classes, 5, progress=False, cache=cache)
    assert got.rows == want.rows and got.outcomes == want.outcomes and got.report == want.report
    assert not {(2, 0), (2, 1), (2, 2), (14, 0)} & set(calls)  # the first chunk was read back
    assert not cache.exists()  # removed once the source finished


def test_selection_streams_own_first_then_spill():
    """Own successes win over spill that arrives earlier; spill fills a class after its own;
    rows leave in small batches with ascending ids; duplicates and surplus are named."""

    def rec(attempt, lab, formula):
        row = {"spacegroup": lab, "formula": formula, "symbol": "P1", "n_sites": 4, "id": ""}
        return {"attempt": attempt, "row": row}

    batches = []
    sel = Selection({2: 2, 14: 1, 62: 1}, max_attempts=3, max_sites=24,
                     dedup=Deduplicator(), emit=lambda r, o: batches.append((r, o)), batch_size=2)  # fmt: skip
    assert sel.plan() == [(2, 0, 3), (2, 1, 3), (14, 0, 3), (62, 0, 3)]
    results = [
        ((2, 0, 3), [rec(0, 14, "A"), rec(1, 2, "B")]),  # spill into 14 before 14's own item
        ((2, 1, 3), [{"attempt": 0, "row": None, "reason": "timeout", "detail": ""},
                     rec(1, 2, "B")]),  # duplicate of the first 2
        ((14, 0, 3), [rec(0, 14, "C")]),  # own success: kept, the earlier spill is surplus
        ((62, 0, 3), [rec(0, 2, "D"), rec(1, 62, "E")]),  # spill back into 2, which has room
    ]  # fmt: skip
    sel.take(iter(results))
    rows = [r for b in batches for r in b[0]]
    outcomes = {o.name: (o.status, o.reason) for b in batches for o in b[1]}
    assert len(batches) > 1 and all(len(b[1]) <= 2 for b in batches)
    assert [(r["id"], r["spacegroup"], r["formula"]) for r in rows] == [
        ("syn-0000000", 2, "B"), ("syn-0000001", 14, "C"),
        ("syn-0000002", 2, "D"), ("syn-0000003", 62, "E"),
    ]  # fmt: skip
    assert outcomes["sg002-00000-0"] == ("skipped", "surplus")
    assert outcomes["sg002-00001-0"] == ("skipped", "timeout")
    assert outcomes["sg002-00001-1"] == ("skipped", "duplicate")
    assert outcomes["sg062-00000-0"] == ("kept", "")
    assert sel.plan() == [] and sel.used == {2: 4, 14: 1, 62: 2}
    assert sel.drift[2] == {"14": 1} and sel.drift[62] == {"2": 1}


# ---------------------------------------------------------------- the stage and its artifacts


def test_run_structures_artifacts(tmp_path):
    cfg = config.validate(
        {
            "seed": 2,
            "classes": [2, 14, 62, 225],
            "structures": {"max_sites": 24, "workers": 1, "synthetic": {"per_class": 3, "prior": "icsd"}},
        }
    )  # fmt: skip
    out = tmp_path / "structures"
    run_structures(cfg, out, progress=False)
    df = pd.read_parquet(out / "structures.parquet")
    assert list(df.columns) == [
        "id", "source", "formula", "spacegroup", "symbol", "crystal_system", "n_sites",
        "a", "b", "c", "alpha", "beta", "gamma", "prototype", "structure",
    ]  # fmt: skip
    assert df["id"].is_monotonic_increasing and df["id"].is_unique
    assert df["id"].str.fullmatch(r"syn-\d{7}").all()
    assert set(df["source"]) == {"synthetic"} and df["spacegroup"].isin([2, 14, 62, 225]).all()
    targets = class_targets([2, 14, 62, 225], 3, "icsd")
    cc = pd.read_csv(out / "class_counts.csv")
    assert list(cc.columns[:4]) == ["spacegroup", "symbol", "crystal_system", "count"]
    assert dict(zip(cc["spacegroup"], cc["count"], strict=True)) == targets
    assert dict(zip(cc["spacegroup"], cc["target"], strict=True)) == targets
    assert df["spacegroup"].value_counts().to_dict() == targets
    assert cc.loc[cc["spacegroup"] == 14, "symbol"].item() == "P2_1/c"
    oc = pd.read_csv(out / "outcomes.csv", keep_default_na=False)
    assert list(oc.columns) == ["source", "name", "status", "reason", "id", "detail"]
    assert sorted(oc.loc[oc["status"] == "kept", "id"]) == list(df["id"])
    assert (oc.loc[oc["status"] == "skipped", "reason"] != "").all()
    assert (out / "class_counts.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    json.loads(df["structure"].iloc[0])


def test_time_limit_interrupts_a_hung_call():
    import time

    from xtalsym.structures.parallel import TimeLimitExceeded, time_limit

    t0 = time.perf_counter()
    with pytest.raises(TimeLimitExceeded), time_limit(0.2):
        time.sleep(5)
    assert time.perf_counter() - t0 < 2
    with time_limit(5):  # a call that finishes in time is untouched
        time.sleep(0.01)
