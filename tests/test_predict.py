"""`predict` on a structure file, on three pattern images, on the authors' RGB images and on bad
input; `evaluate --structures` on a small directory of structure files.

The bundles are untrained (their answers are arbitrary), so the tests check that every input
route reaches the network with the same images: a CIF, the three PNGs of its simulated
patterns and the authors' RGB composition of its shaped patterns must give the same
probabilities.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from PIL import Image
from pymatgen.core import Lattice, Structure
from pymatgen.io.cif import CifWriter

from xtalsym.cli import main
from xtalsym.evaluate.inputs import simulation_seed
from xtalsym.patterns import simulate_patterns
from xtalsym.predict import evaluate_structures, format_predictions, predict
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
    # exactly what predict simulates: the standard cell, the card's settings, the file's seed
    pats = simulate_patterns(standardise(s, 0.01), patterns_params(), simulation_seed("nacl.cif"))
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
    res = predict([nacl["cif"]], bundles["msdn"], top_k=5)
    assert [r["rank"] for r in res] == [1, 2, 3, 4, 5]
    p = [r["probability"] for r in res]
    assert p == sorted(p, reverse=True) and 0 < sum(p) <= 1 + 1e-6
    for r in res:
        assert r["spacegroup"] in CLASSES and r["crystal_system"] == crystal_system(r["spacegroup"])
    # The answer is the network's own on the training-route images of this crystal (the
    # standard cell simulated with the card's settings and the file's seed, then shaped),
    # computed here without predict: a wrong cell, seed, setting or class order fails.
    from xtalsym.evaluate.inputs import ImageSpec, network_images
    from xtalsym.train import load_bundle, predict_proba

    model, card = load_bundle(bundles["msdn"])
    s = toy_structures()["sg225-0"][1]
    pats = simulate_patterns(standardise(s, 0.01), patterns_params(), simulation_seed("nacl.cif"))
    proba = predict_proba(model, card, network_images(pats[None], ImageSpec.from_card(card)))[0]
    best = sorted(range(len(CLASSES)), key=lambda i: -proba[i])[:5]
    assert [r["spacegroup"] for r in res] == [card["classes"][i] for i in best]
    assert p == pytest.approx([float(proba[i]) for i in best], abs=1e-6)
    assert predict([nacl["cif"]], bundles["msdn"], top_k=7)[:5] == res  # deterministic
    assert sum(
        r["probability"] for r in predict([nacl["cif"]], bundles["msdn"], top_k=7)
    ) == pytest.approx(1, abs=1e-5)
    text = format_predictions(res)
    assert "crystal system" in text and res[0]["symbol"] in text and len(text.splitlines()) == 6


def test_three_pngs_give_the_same_answer_as_the_cif(bundles, nacl):
    for name in ("msdn", "vgg"):
        from_cif = _proba(predict([nacl["cif"]], bundles[name], top_k=7))
        from_png = _proba(predict(nacl["pngs"], bundles[name], top_k=7))
        assert from_png == pytest.approx(from_cif, abs=1e-6), name


def test_authors_rgb_shaped_images_give_the_same_answer(bundles, nacl):
    for name in ("msdn", "vgg"):
        from_cif = _proba(predict([nacl["cif"]], bundles[name], top_k=7))
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
    with pytest.raises(ValueError, match="three pattern images"):
        predict(nacl["pngs"][:2], bundles["msdn"])
    with pytest.raises(ValueError, match="x, y, z order"):
        predict(nacl["pngs"][::-1], bundles["msdn"])
    with pytest.raises(ValueError, match=r"nacl_x.png: a shaped image must be the authors' RGB"):
        predict(nacl["pngs"], bundles["msdn"], shaped=True)
    fake = tmp_path / "fake_y.png"
    fake.write_text("not an image")
    with pytest.raises(ValueError, match="fake_y.png"):
        predict([nacl["pngs"][0], fake, nacl["pngs"][2]], bundles["msdn"])
    with pytest.raises(ValueError, match="not a model bundle"):
        predict([nacl["cif"]], tmp_path)


def test_cli_predict(bundles, nacl, tmp_path, capsys):
    assert main(["predict", str(nacl["cif"]), "--model", str(bundles["msdn"]), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out) == 5 and out[0]["rank"] == 1
    bad = tmp_path / "junk.poscar"
    bad.write_text("this is not\na structure\n")
    assert main(["predict", str(bad), "--model", str(bundles["msdn"])]) == 1
    assert "junk.poscar" in capsys.readouterr().err


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
    m = evaluate_structures(structure_dir, bundles["msdn"], out)
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
    top = predict([nacl["cif"]], bundles["msdn"], top_k=1)[0]
    row = pred[pred["id"] == "nacl.cif"].iloc[0]
    assert row["pred"] == top["spacegroup"] and row["p_pred"] == pytest.approx(
        top["probability"], abs=1e-5
    )
    outcomes = pd.read_csv(out.parent / "outcomes.csv")
    assert (outcomes["status"] == "kept").sum() == 8 and len(outcomes) == 11
    og = outcomes[outcomes["file"] == "og.cif"].iloc[0]
    assert og["status"] == "skipped" and "simulation failed" in og["reason"]
    for name in ("per_class.csv", "confusion_sg.png", "confusion_cs.png"):
        assert (out.parent / name).stat().st_size > 0


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
    assert rc == 0 and "8 crystals" in capsys.readouterr().out
    assert json.loads(out.read_text())["model"]["arch"] == "vgg"
    assert (tmp_path / "mine_predictions.csv").exists() and (
        tmp_path / "mine_confusion_sg.png"
    ).exists()
    with pytest.raises(ValueError, match="not a directory"):
        evaluate_structures(tmp_path / "nope", bundles["vgg"], out)
