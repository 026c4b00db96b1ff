"""`predict` on a structure file, on three pattern images, on the authors' RGB images and on bad
input; `evaluate --structures` on a small directory of structure files.

The bundles are untrained (their answers are arbitrary), so the tests check that every input
route reaches the network with the same images: a CIF, the three PNGs of its simulated
patterns and the authors' RGB composition of its shaped patterns must give the same
probabilities; that the answer does not depend on a file's name or format; that the records
say when the spglib group is outside the class set; and that bad options are refused.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from pymatgen.core import Lattice, Structure
from pymatgen.io.cif import CifWriter

from xtalsym import __version__
from xtalsym.cli import main
from xtalsym.evaluate.structures import evaluate_structures_many
from xtalsym.patterns import simulate_structure
from xtalsym.predict import (
    DEFAULT_TTA,
    classify,
    evaluate_structures,
    format_predictions,
    format_record,
    predict,
    predict_files,
    tta_seeds,
)
from xtalsym.shaping import ShapingOptions, compose_rgb, shape_batch
from xtalsym.spacegroups import crystal_system
from xtalsym.structures import standardise

from .test_report import make_bundle, patterns_params, toy_structures

CLASSES = [2, 14, 62, 139, 194, 221, 225]


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    return {
        "msdn": make_bundle(d, "msdn", "msdn", "shaped", CLASSES),
        "vgg": make_bundle(d, "vgg", "vgg", "unshaped", CLASSES),
    }


@pytest.fixture(scope="module")
def nacl(tmp_path_factory):
    """NaCl as a CIF, its three simulated patterns as PNGs, and their shaped RGB images."""
    d = tmp_path_factory.mktemp("nacl")
    s = toy_structures()["sg225-0"][1]
    cif = d / "nacl.cif"
    CifWriter(s).write_file(cif)
    # exactly what predict simulates by default: the standard cell, the card's settings, clean
    pats = simulate_structure(standardise(s, 0.01), patterns_params(), None)
    e, sn = shape_batch(pats, ShapingOptions())
    pngs, rgbs = [], []
    for a, axis in enumerate("xyz"):
        pngs.append(d / f"nacl_{axis}.png")
        Image.fromarray(pats[a]).save(pngs[-1])
        rgbs.append(d / f"nacl_shaped_{axis}.png")
        Image.fromarray(compose_rgb(e[a], sn[a], axis)).save(rgbs[-1])
    return {"cif": cif, "pngs": pngs, "rgbs": rgbs, "dir": d}


def _proba(results):
    return {r["spacegroup"]: r["probability"] for r in results}


def test_predict_a_cif(bundles, nacl):
    res = predict([nacl["cif"]], bundles["msdn"], top_k=5, tta=0)
    assert [r["rank"] for r in res] == [1, 2, 3, 4, 5]
    p = [r["probability"] for r in res]
    assert p == sorted(p, reverse=True) and 0 < sum(p) <= 1 + 1e-6
    for r in res:
        assert r["spacegroup"] in CLASSES and r["crystal_system"] == crystal_system(r["spacegroup"])
    # The answer is the network's own on the training-route images of this crystal (the
    # standard cell simulated clean with the card's settings, then shaped),
    # computed here without predict: a wrong cell, seed, setting or class order fails.
    from xtalsym.inference import ImageSpec, network_images
    from xtalsym.train import load_bundle, predict_proba

    model, card = load_bundle(bundles["msdn"])
    s = toy_structures()["sg225-0"][1]
    pats = simulate_structure(standardise(s, 0.01), patterns_params(), None)
    proba = predict_proba(model, card, network_images(pats[None], ImageSpec.from_card(card)))[0]
    best = sorted(range(len(CLASSES)), key=lambda i: -proba[i])[:5]
    assert [r["spacegroup"] for r in res] == [card["classes"][i] for i in best]
    assert p == pytest.approx([float(proba[i]) for i in best], abs=1e-6)
    assert predict([nacl["cif"]], bundles["msdn"], top_k=7, tta=0)[:5] == res  # deterministic
    assert sum(
        r["probability"] for r in predict([nacl["cif"]], bundles["msdn"], top_k=7, tta=0)
    ) == pytest.approx(1, abs=1e-5)
    text = format_predictions(res)
    assert "crystal system" in text and res[0]["symbol"] in text and len(text.splitlines()) == 6


def test_three_pngs_give_the_same_answer_as_the_cif(bundles, nacl):
    for name in ("msdn", "vgg"):
        from_cif = _proba(predict([nacl["cif"]], bundles[name], top_k=7, tta=0))
        from_png = _proba(predict(nacl["pngs"], bundles[name], top_k=7))
        assert from_png == pytest.approx(from_cif, abs=1e-6), name


def test_authors_rgb_shaped_images_give_the_same_answer(bundles, nacl):
    for name in ("msdn", "vgg"):
        from_cif = _proba(predict([nacl["cif"]], bundles[name], top_k=7, tta=0))
        from_rgb = _proba(predict(nacl["rgbs"], bundles[name], shaped=True, top_k=7))
        assert from_rgb == pytest.approx(from_cif, abs=1e-6), name


def test_authors_network_inputs(bundles, authors_samples):
    files = [authors_samples / "msdn-test-inputs" / f"Sample01_{a}.jpg" for a in "xyz"]
    res = predict(files, bundles["msdn"], shaped=True, top_k=3)
    assert len(res) == 3 and res[0]["probability"] >= res[-1]["probability"]


def test_bad_inputs_name_the_file(bundles, nacl, tmp_path):
    bad = tmp_path / "broken.cif"
    bad.write_text("data_x\n_cell_length_a oops\nloop_\n_atom_site_label\n")
    with pytest.raises(ValueError, match="broken.cif"):
        predict([bad], bundles["msdn"])
    empty = tmp_path / "empty.cif"
    empty.write_text("")
    with pytest.raises(ValueError, match="empty.cif: empty"):
        predict([empty], bundles["msdn"])
    with pytest.raises(ValueError, match="missing.cif: no such file"):
        predict([tmp_path / "missing.cif"], bundles["msdn"])
    with pytest.raises(ValueError, match=r"nacl_x.png: 2 pattern image\(s\) on their own"):
        predict(nacl["pngs"][:2], bundles["msdn"])
    with pytest.raises(ValueError, match=r"nacl_x.png: 1 pattern image\(s\) .*--scale"):
        predict(nacl["pngs"][:1], bundles["msdn"])
    with pytest.raises(ValueError, match="x, y, z order"):
        predict(nacl["pngs"][::-1], bundles["msdn"])
    with pytest.raises(ValueError, match=r"nacl_x.png: a shaped image must be the authors' RGB"):
        predict(nacl["pngs"], bundles["msdn"], shaped=True)
    fake = tmp_path / "fake_y.png"
    fake.write_text("not an image")
    with pytest.raises(ValueError, match="fake_y.png"):
        predict([nacl["pngs"][0], fake, nacl["pngs"][2]], bundles["msdn"])
    black = tmp_path / "black_z.png"
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(black)
    with pytest.raises(ValueError, match=r"black_z.png: blank image \(every pixel 0\)"):
        predict([*nacl["pngs"][:2], black], bundles["msdn"])
    with pytest.raises(ValueError, match="not a model bundle"):
        predict([nacl["cif"]], tmp_path)


def test_cli_predict(bundles, nacl, tmp_path, capsys):
    assert main(["predict", str(nacl["cif"]), "--model", str(bundles["msdn"]), "--json"]) == 0
    (rec,) = json.loads(capsys.readouterr().out)
    assert len(rec["top_k"]) == 5 and rec["top_k"][0]["rank"] == 1
    bad = tmp_path / "junk.poscar"
    bad.write_text("this is not\na structure\n")
    assert main(["predict", str(bad), "--model", str(bundles["msdn"])]) == 1
    assert "junk.poscar" in capsys.readouterr().err


def test_many_structure_files_written_row_by_row_and_resumed(bundles, nacl, tmp_path, capsys):
    bad = tmp_path / "junk.cif"
    bad.write_text("data_x\nnonsense\n")
    out = tmp_path / "rows.csv"
    args = ["predict", str(nacl["cif"]), str(bad), "--model", str(bundles["msdn"]), "--tta", "0"]
    assert main([*args, "--output", str(out)]) == 3  # one classified, one refused
    rows = out.read_text().splitlines()
    assert len(rows) == 3 and "junk.cif" in rows[2] and ",error," in rows[2]
    assert rows[1].startswith(str(nacl["cif"])) and ",ok," in rows[1]
    # resume: the finished rows stay, nothing is redone
    assert main([*args, "--output", str(out), "--resume"]) == 0
    assert out.read_text().splitlines() == rows
    capsys.readouterr()


@pytest.fixture(scope="module")
def structure_dir(tmp_path_factory, nacl):
    d = tmp_path_factory.mktemp("user_structures")
    built = toy_structures()
    for sid, (_, s) in built.items():
        if sid.endswith("-0") and sid != "sg062-0":
            CifWriter(s).write_file(d / f"{sid}.cif")
    built["sg062-0"][1].to(filename=str(d / "POSCAR_pnma"), fmt="poscar")
    (d / "nacl.cif").write_bytes(nacl["cif"].read_bytes())
    (d / "broken.cif").write_text("data_x\nnonsense\n")
    si = Structure.from_spacegroup("Fd-3m", Lattice.cubic(5.43), ["Si"], [[0, 0, 0]])
    CifWriter(si).write_file(d / "si_227.cif")
    og = Structure(Lattice.cubic(4.0), ["Og"], [[0, 0, 0]])  # Pm-3m, no scattering factors
    CifWriter(og).write_file(d / "og.cif")
    (d / ".hidden.cif").write_text("ignored")
    return d


@pytest.mark.filterwarnings("ignore:No Pauling electronegativity for Og")
def test_evaluate_a_directory_of_structure_files(bundles, structure_dir, tmp_path, nacl):
    out = tmp_path / "eval" / "metrics.json"
    m = evaluate_structures(structure_dir, bundles["msdn"], out, tta=0)
    # 6 CIFs + POSCAR + nacl.cif; broken, Fd-3m and Og (no scattering factors) skipped,
    # the hidden file ignored
    assert m["n"] == 8
    saved = json.loads(out.read_text())
    for key in ("sg_top1", "sg_top5", "sg_balanced_accuracy", "sg_macro_f1", "cs_accuracy"):
        assert 0 <= saved[key] <= 1
    assert {s["file"] for s in saved["skipped"]} == {"broken.cif", "si_227.cif", "og.cif"}
    assert any(
        "227" in s["reason"] and "not one of the model's" in s["reason"] for s in saved["skipped"]
    )
    pred = pd.read_csv(out.parent / "predictions.csv")
    truth = dict(zip(pred["id"], pred["true"], strict=True))
    assert truth["POSCAR_pnma"] == 62 and truth["nacl.cif"] == 225 and truth["sg014-0.cif"] == 14
    # the same file through predict gives the same answer
    top = predict([nacl["cif"]], bundles["msdn"], top_k=1, tta=0)[0]
    row = pred[pred["id"] == "nacl.cif"].iloc[0]
    assert row["pred"] == top["spacegroup"] and row["p_pred"] == pytest.approx(
        top["probability"], abs=1e-5
    )
    outcomes = pd.read_csv(out.parent / "outcomes.csv")
    assert (outcomes["status"] == "kept").sum() == 8 and len(outcomes) == 11
    # space groups are integers (empty for skipped files), never 225.0
    with (out.parent / "outcomes.csv").open() as fh:
        sg_cells = [row["spacegroup"] for row in csv.DictReader(fh)]
    assert "225" in sg_cells and "" in sg_cells and not any("." in c for c in sg_cells)
    og = outcomes[outcomes["file"] == "og.cif"].iloc[0]
    assert og["status"] == "skipped" and "simulation failed" in og["reason"]
    for name in ("per_class.csv", "confusion_sg.png", "confusion_cs.png"):
        assert (out.parent / name).stat().st_size > 0


@pytest.mark.filterwarnings("ignore:No Pauling electronegativity for Og")
def test_several_models_share_one_read_and_match_separate_runs(bundles, structure_dir, tmp_path):
    # the real-structure check's form: one job for every model of a run
    names = ("msdn", "vgg")
    outs = [tmp_path / "both" / n / "metrics.json" for n in names]
    both = evaluate_structures_many(structure_dir, [bundles[n] for n in names], outs, tta=2)
    for n, out, m in zip(names, outs, both, strict=True):
        alone = evaluate_structures(structure_dir, bundles[n], tmp_path / "alone" / n, tta=2)
        for key in ("n", "sg_top1", "sg_top5", "cs_accuracy", "skipped"):
            assert m[key] == alone[key]
        a = pd.read_csv(out.parent / "predictions.csv")
        b = pd.read_csv(tmp_path / "alone" / n / "predictions.csv")
        pd.testing.assert_frame_equal(a, b)
    with pytest.raises(ValueError, match="2 models but 1 output"):
        evaluate_structures_many(structure_dir, [bundles[n] for n in names], outs[:1])


@pytest.mark.filterwarnings("ignore:No Pauling electronegativity for Og")
def test_cli_evaluate_structures(bundles, structure_dir, tmp_path, capsys):
    out = tmp_path / "mine.json"
    rc = main(
        [
            "evaluate",
            "--structures",
            str(structure_dir),
            "--model",
            str(bundles["vgg"]),
            "--out",
            str(out),
        ]
    )
    summary = capsys.readouterr().out
    assert rc == 0 and "8 crystals (3 of 11 files skipped, reasons in " in summary
    assert "mine_outcomes.csv" in summary
    assert json.loads(out.read_text())["model"]["arch"] == "vgg"
    assert (tmp_path / "mine_predictions.csv").exists() and (
        tmp_path / "mine_confusion_sg.png"
    ).exists()
    with pytest.raises(ValueError, match="not a directory"):
        evaluate_structures(tmp_path / "nope", bundles["vgg"], out)


def rutile() -> Structure:
    return Structure.from_spacegroup(
        "P4_2/mnm", Lattice.tetragonal(4.594, 2.959), ["Ti", "O"], [[0, 0, 0], [0.3048, 0.3048, 0]]
    )


def quartz() -> Structure:
    """alpha-quartz, P3_121 (152): not one of CLASSES."""
    return Structure.from_spacegroup(
        "P3_121",
        Lattice.hexagonal(4.913, 5.405),
        ["Si", "O"],
        [[0.4697, 0, 0], [0.4135, 0.2669, 0.1191]],
    )


@pytest.fixture(scope="module")
def crystals(tmp_path_factory):
    """Rutile as rutile.cif, POSCAR and rutile.vasp (one crystal, three names and formats),
    quartz.cif, nacl.cif and a broken file."""
    d = tmp_path_factory.mktemp("crystals")
    r = rutile()
    CifWriter(r).write_file(d / "rutile.cif")
    r.to(filename=str(d / "POSCAR"), fmt="poscar")
    r.to(filename=str(d / "rutile.vasp"), fmt="poscar")
    CifWriter(quartz()).write_file(d / "quartz.cif")
    CifWriter(toy_structures()["sg225-0"][1]).write_file(d / "nacl.cif")
    (d / "bad.cif").write_text("data_x\n_cell_length_a oops\n")
    return d


@pytest.mark.parametrize("tta", [0, 2])
def test_same_crystal_under_any_name_or_format_gets_the_same_answer(bundles, crystals, tta):
    files = [crystals / n for n in ("rutile.cif", "POSCAR", "rutile.vasp")]
    recs = [classify([f], bundles["msdn"], top_k=7, tta=tta) for f in files]
    assert all(r["spglib"]["spacegroup"] == 136 for r in recs)
    first = _proba(recs[0]["top_k"])
    for r in recs[1:]:
        assert _proba(r["top_k"]) == first, r["input"]
    assert recs[0]["simulation"]["mode"] == ("tta" if tta else "clean")
    assert recs[0]["simulation"]["tta"] == tta


def test_tta_averages_noisy_variants_with_fixed_seeds(bundles, crystals):
    assert tta_seeds(3) == tta_seeds(3) and len(set(tta_seeds(3))) == 3
    clean = _proba(predict([crystals / "nacl.cif"], bundles["msdn"], top_k=7, tta=0))
    noisy = _proba(predict([crystals / "nacl.cif"], bundles["msdn"], top_k=7, tta=3))
    assert noisy != clean  # the noise reaches the network
    assert sum(noisy.values()) == pytest.approx(1, abs=1e-5)


def test_records_say_whether_the_answer_can_be_right(bundles, crystals):
    q = classify([crystals / "quartz.cif"], bundles["msdn"], top_k=3)
    assert q["spglib"]["spacegroup"] == 152 and q["spglib"]["symbol"] == "P3_121"
    assert q["in_class_set"] is False and q["true_rank"] is None and q["true_probability"] is None
    assert "NOT one of the model's 7 classes" in format_record(q)
    n = classify([crystals / "nacl.cif"], bundles["msdn"], top_k=3)
    assert n["spglib"]["spacegroup"] == 225 and n["in_class_set"] is True
    everything = classify([crystals / "nacl.cif"], bundles["msdn"], top_k=7)["top_k"]
    at = next(t for t in everything if t["spacegroup"] == 225)
    assert n["true_rank"] == at["rank"] and n["true_probability"] == at["probability"]
    text = format_record(n)
    assert f"rank {n['true_rank']} of 7" in text and "in the model's class set" in text
    assert ("not in the top 3" in text) == (n["true_rank"] > 3)
    # images carry no reference label
    img = classify(_nacl_pngs(crystals), bundles["msdn"])
    assert img["spglib"] is None and img["in_class_set"] is None and img["simulation"] is None


def _nacl_pngs(d):
    s = standardise(toy_structures()["sg225-0"][1], 0.01)
    pats = simulate_structure(s, patterns_params(), None)
    out = []
    for a, axis in enumerate("xyz"):
        out.append(d / f"img_{axis}.png")
        Image.fromarray(pats[a]).save(out[-1])
    return out


RECORD_KEYS = {
    "input", "kind", "status", "error", "spglib", "in_class_set", "true_rank",
    "true_probability", "model", "xtalsym_version", "simulation", "top_k", "decision", "hierarchy",
}  # fmt: skip


def test_cli_json_records_for_a_batch_with_a_bad_file(bundles, crystals, capsys):
    files = [str(crystals / n) for n in ("rutile.cif", "bad.cif", "quartz.cif", "nacl.cif")]
    rc = main(["predict", *files, "--model", str(bundles["vgg"]), "--json", "--top-k", "2"])
    assert rc == 3  # some failed
    captured = capsys.readouterr()
    recs = json.loads(captured.out)
    assert [r["input"] for r in recs] == files
    for r in recs:
        assert set(r) == RECORD_KEYS
        assert r["model"]["name"] == "vgg" and r["model"]["n_classes"] == len(CLASSES)
        assert r["xtalsym_version"] == __version__
    bad = recs[1]
    assert bad["status"] == "error" and "bad.cif" in bad["error"] and bad["top_k"] == []
    assert "bad.cif" in captured.err
    ok = [recs[i] for i in (0, 2, 3)]
    assert [r["spglib"]["spacegroup"] for r in ok] == [136, 152, 225]
    assert [r["in_class_set"] for r in ok] == [False, False, True]
    # the CLI averages DEFAULT_TTA noisy simulations unless told --tta 0 / --clean
    assert all(len(r["top_k"]) == 2 and r["simulation"]["mode"] == "tta" for r in ok)
    assert all(r["simulation"]["tta"] == DEFAULT_TTA for r in ok)
    # the same file in a batch and alone, with the library's default: the same record
    alone = classify([files[3]], bundles["vgg"], top_k=2)
    assert alone == recs[3]


def test_cli_table_for_many_files(bundles, crystals, capsys):
    files = [str(crystals / n) for n in ("rutile.cif", "POSCAR", "quartz.cif", "nacl.cif")]
    assert main(["predict", *files, "--model", str(bundles["msdn"])]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 + len(files) + 1  # header, one row per file, footer
    for line, f in zip(lines[1:-1], files, strict=True):
        assert line.split()[0] == f
    assert "NO" in lines[3] and "yes" in lines[4] and "4 of 4 input(s) classified" in lines[-1]
    only_bad = [str(crystals / "bad.cif"), str(crystals / "missing.cif")]
    assert main(["predict", *only_bad, "--model", str(bundles["msdn"])]) == 1
    err = capsys.readouterr().err
    assert "bad.cif" in err and "missing.cif: no such file" in err


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--symprec", "-1", "--symprec: -1 must be greater than 0"),
        ("--symprec", "0", "--symprec: 0 must be greater than 0"),
        ("--symprec", "5", "--symprec: 5 must be at most 1"),
        ("--symprec", "nan", "NaN"),
        ("--symprec", "x", "'x' is not a number"),
        ("--top-k", "0", "--top-k: 0 must be at least 1"),
        ("--top-k", "-3", "--top-k: -3 must be at least 1"),
        ("--top-k", "2.5", "'2.5' is not an integer"),
        ("--tta", "-1", "--tta: -1 must be at least 0"),
        ("--tta", "100000", "--tta: 100000 must be at most 256"),
        ("--min-confidence", "1.5", "--min-confidence: 1.5 must be at most 1"),
        ("--scale", "0", "--scale: 0 must be greater than 0"),
    ],
)
def test_bad_options_are_refused_with_a_message(bundles, crystals, capsys, option, value, message):
    with pytest.raises(SystemExit) as e:
        main(
            ["predict", str(crystals / "nacl.cif"), "--model", str(bundles["msdn"]), option, value]
        )
    assert e.value.code == 2
    assert message in capsys.readouterr().err


def test_min_confidence_abstains_and_levels_have_their_own_probability(bundles, crystals):
    from xtalsym.predict import predict_files

    sure, unsure = (
        predict_files([crystals / "nacl.cif"], bundles["msdn"], top_k=3, min_confidence=c)[0]
        for c in (0.0, 1.0)
    )
    assert (
        sure["decision"]["decided"]
        and sure["decision"]["prediction"] == (sure["top_k"][0]["spacegroup"])
    )
    assert not unsure["decision"]["decided"] and unsure["decision"]["prediction"] is None
    assert [c["spacegroup"] for c in unsure["decision"]["candidates"]] == [
        t["spacegroup"] for t in unsure["top_k"]
    ]
    assert "undecided" in format_record(unsure) and "decided" in format_record(sure)
    levels = {h["level"]: h for h in sure["hierarchy"]}
    assert list(levels) == [
        "crystal_system", "bravais_lattice", "laue_class", "point_group", "diffraction_symbol",
        "space_group",
    ]  # fmt: skip
    assert levels["space_group"]["value"].startswith(str(sure["top_k"][0]["spacegroup"]))
    top = sure["top_k"][0]["probability"]
    # a coarser level sums the classes below it: never less probable than the best class
    assert all(top - 1e-6 <= h["probability"] <= 1 + 1e-9 for h in sure["hierarchy"])
    assert "levels: crystal system" in format_record(sure)


def test_library_refuses_bad_values_too(bundles, crystals):
    nacl = [crystals / "nacl.cif"]
    with pytest.raises(ValueError, match="symprec must be in"):
        predict(nacl, bundles["msdn"], symprec=-1)
    with pytest.raises(ValueError, match="top_k must be at least 1"):
        predict(nacl, bundles["msdn"], top_k=0)
    with pytest.raises(ValueError, match="tta must be 0"):
        predict(nacl, bundles["msdn"], tta=-2)
    assert len(predict(nacl, bundles["msdn"], top_k=100)) == len(CLASSES)  # capped
    recs = predict_files(nacl, bundles["msdn"], symprec=0.1)
    assert recs[0]["spglib"]["symprec"] == 0.1
