"""The evaluate stage, the robustness sweep and the report, on small real artifacts.

A module fixture builds what the earlier stages would have written, at toy size: 14 crystals
of 7 space groups made with pymatgen and labelled by spglib, their simulated patterns (64 px)
shaped into shaped/unshaped image HDF5 files, a split, provenance tables and figures, and two
untrained model bundles (an MSDN on shaped images, a VGG baseline on unshaped ones) written
with the train stage's own ``save_bundle``. The numbers of untrained models are arbitrary; the
tests check that what is written is consistent with the model's own outputs and complete.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import re
from pathlib import Path

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from pymatgen.core import Lattice, Structure  # noqa: E402

from xtalsym.config import validate  # noqa: E402
from xtalsym.evaluate import run_evaluate, run_report, run_robustness  # noqa: E402
from xtalsym.evaluate.metrics import compute_metrics  # noqa: E402
from xtalsym.evaluate.robustness import Task, level_params, ordered_results, run_task  # noqa: E402
from xtalsym.evaluate.stats import wilson_interval  # noqa: E402
from xtalsym.inference import ImageSpec, network_images  # noqa: E402
from xtalsym.io import derive_seed, image_dataset, stamp_attrs, write_ids  # noqa: E402
from xtalsym.patterns import simulate_structure  # noqa: E402
from xtalsym.spacegroups import crystal_system  # noqa: E402
from xtalsym.structures import label, standardise  # noqa: E402
from xtalsym.train import load_bundle, predict_proba  # noqa: E402

from .helpers.toys import (  # noqa: E402  (test_predict imports them from here)
    INPUT_SIZE,
    SEED,
    make_bundle,
    patterns_params,
    toy_structures,
)


def _bar_png(path: Path, title: str) -> None:
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.bar([1, 2, 3], [3, 1, 2])
    ax.set_title(title)
    fig.savefig(path)
    plt.close(fig)


@pytest.fixture(scope="module")
def art(tmp_path_factory):
    """Toy artifacts of every stage before evaluate, in a results-like tree."""
    r = tmp_path_factory.mktemp("results")
    built = toy_structures()
    rows = []
    for sid, (number, s) in built.items():
        sg, symbol = label(s, 0.01)
        assert sg == number, (sid, sg)
        rows.append(
            {
                "id": sid,
                "source": "synthetic",
                "formula": s.composition.reduced_formula,
                "spacegroup": sg,
                "symbol": symbol,
                "crystal_system": crystal_system(sg),
                "structure": standardise(s, 0.01).to_json(),
            }
        )
    table = pd.DataFrame(rows).sort_values("id").reset_index(drop=True)
    classes = sorted(set(table["spacegroup"]))
    sdir = r / "structures"
    sdir.mkdir()
    table.to_parquet(sdir / "structures.parquet", index=False)
    outcomes = pd.DataFrame(
        {
            "source": "synthetic",
            "name": list(table["id"]) + ["attempt-x"],
            "status": ["kept"] * len(table) + ["skipped"],
            "reason": [""] * len(table) + ["generation_failed"],
            "id": list(table["id"]) + [""],
        }
    )
    outcomes.to_csv(sdir / "outcomes.csv", index=False)
    counts = table.groupby(["spacegroup", "symbol", "crystal_system"]).size()
    counts.reset_index(name="count").to_csv(sdir / "class_counts.csv", index=False)
    _bar_png(sdir / "class_counts.png", "structures per class")

    # crystal -0 of each class: test; -1: train (no val crystals, allowed here)
    split = pd.DataFrame(
        {
            "id": table["id"],
            "spacegroup": table["spacegroup"],
            "family": table["id"],
            "split": ["test" if i.endswith("-0") else "train" for i in table["id"]],
        }
    )
    pdir = r / "split"
    pdir.mkdir()
    split.to_csv(pdir / "split.csv", index=False)
    sc = split.groupby(["spacegroup", "split"]).size().unstack(fill_value=0).reset_index()
    sc["val"] = 0
    sc[["spacegroup", "train", "val", "test"]].to_csv(pdir / "class_counts.csv", index=False)
    _bar_png(pdir / "class_counts.png", "split per class")

    params = patterns_params()
    pats = np.stack(
        [
            simulate_structure(
                Structure.from_str(js, fmt="json"), params, derive_seed(SEED, "patterns", sid, 0)
            )
            for sid, js in zip(table["id"], table["structure"], strict=True)
        ]
    )
    (r / "shaping").mkdir()
    images = {}
    for mode in ("shaped", "unshaped"):
        spec = ImageSpec(
            json.dumps(validate({})["shaping"]["quirks"], sort_keys=True), mode, INPUT_SIZE
        )
        img = network_images(pats, spec)[:, None]  # (N, V=1, 3, C, S, S)
        path = r / "shaping" / f"{mode}.h5"
        with h5py.File(path, "w") as h5:
            ds = image_dataset(h5, "images", img.shape, chunk_rows=4)
            ds[...] = img
            write_ids(h5, list(table["id"]))
            h5.create_dataset("spacegroup", data=table["spacegroup"].to_numpy())
            stamp_attrs(h5, {"shaping": {}}, mode=mode)
        images[mode] = path

    models = r / "models"
    bundles = {
        "msdn": make_bundle(models, "msdn", "msdn", "shaped", classes),
        "vgg": make_bundle(models, "vgg", "vgg", "unshaped", classes),
    }
    cfg = validate(
        {
            "seed": SEED,
            "classes": classes,
            "evaluate": {
                "workers": 1,
                "robustness": {
                    "max_crystals": 5,
                    "jitter": [0.0, 0.3],
                    "background": [0.0, 60.0],
                    "tilt": [2.0],
                },
            },
        }
    )
    return {
        "root": r,
        "table": table,
        "split": split,
        "classes": classes,
        "images": images,
        "bundles": bundles,
        "cfg": cfg,
        "patterns": pats,
    }


@pytest.fixture(scope="module")
def evaluated(art):
    r = art["root"]
    out = {}
    for name, mode in (("msdn", "shaped"), ("vgg", "unshaped")):
        out[name] = run_evaluate(
            art["cfg"],
            art["bundles"][name],
            art["images"][mode],
            r / "split/split.csv",
            r / "evaluate" / name,
        )
    return out


def test_evaluation_matches_the_model_outputs(art, evaluated):
    r = art["root"]
    test_ids = sorted(art["split"].loc[art["split"]["split"] == "test", "id"])
    m = json.loads((r / "evaluate/msdn/metrics.json").read_text())
    assert m["n"] == len(test_ids) == 7 and m == json.loads(json.dumps(evaluated["msdn"]))
    assert m["model"]["arch"] == "msdn" and m["data"]["split"] == "test"
    pred = pd.read_csv(r / "evaluate/msdn/predictions.csv", dtype={"id": str})
    assert pred["id"].tolist() == test_ids
    # the model called directly on the same rows gives the same probabilities and metrics
    model, card = load_bundle(art["bundles"]["msdn"])
    rows = [list(art["table"]["id"]).index(i) for i in test_ids]
    with h5py.File(art["images"]["shaped"]) as h5:
        proba = predict_proba(model, card, h5["images"][sorted(rows), 0])
    assert pred["p_pred"].to_numpy() == pytest.approx(proba.max(axis=1), abs=1e-5)
    assert pred["pred"].tolist() == [art["classes"][i] for i in proba.argmax(axis=1)]
    y = np.array([art["classes"].index(int(s)) for s in pred["true"]])
    expected = compute_metrics(y, proba, art["classes"])
    for key in ("sg_top1", "sg_top5", "sg_balanced_accuracy", "sg_macro_f1", "cs_accuracy"):
        assert m[key] == pytest.approx(expected[key])
    assert m["sg_top1"] == pytest.approx((pred["pred"] == pred["true"]).mean())
    pc = pd.read_csv(r / "evaluate/msdn/per_class.csv")
    assert pc["support"].sum() == 7 and list(pc["spacegroup"]) == art["classes"]
    for name in ("confusion_sg.png", "confusion_cs.png"):
        assert (r / "evaluate/msdn" / name).stat().st_size > 10_000


def test_evaluation_refuses_images_of_the_other_mode(art, tmp_path):
    with pytest.raises(ValueError, match="unshaped images but model 'msdn'"):
        run_evaluate(
            art["cfg"],
            art["bundles"]["msdn"],
            art["images"]["unshaped"],
            art["root"] / "split/split.csv",
            tmp_path,
        )


def test_robustness_task_is_the_simulation_at_each_level(art):
    """A task's images are the card's simulation with one noise kind changed, seeded per id."""
    params = patterns_params()
    js = art["table"]["structure"].iloc[0]
    seed = derive_seed(SEED, "robustness", art["table"]["id"].iloc[0])
    spec = ImageSpec.from_card(load_bundle(art["bundles"]["msdn"])[1])
    levels = (("jitter", 0.0), ("jitter", 0.3), ("background", 60.0))
    out = run_task(Task((js,), (seed,), json.dumps(params), levels, (spec,)))[spec]
    assert out.shape == (3, 1, 3, 2, INPUT_SIZE, INPUT_SIZE)
    for li, (kind, level) in enumerate(levels):
        pat = simulate_structure(
            Structure.from_str(js, fmt="json"), level_params(params, kind, level), seed
        )
        assert np.array_equal(out[li, 0], network_images(pat[None], spec)[0])
    assert not np.array_equal(out[0], out[1])  # the jitter changed the patterns


def test_parallel_tasks_come_back_in_order(art):
    params = json.dumps(patterns_params())
    spec = ImageSpec.from_card(load_bundle(art["bundles"]["vgg"])[1])
    tasks = [
        Task((js,), (i,), params, (("background", 0.0),), (spec,))
        for i, js in enumerate(art["table"]["structure"].iloc[:4])
    ]
    serial = [r[spec] for r in ordered_results(None, tasks, 1)]
    with cf.ThreadPoolExecutor(2) as pool:
        parallel = [r[spec] for r in ordered_results(pool, tasks, 2)]
    assert len(parallel) == 4 and all(
        np.array_equal(a, b) for a, b in zip(serial, parallel, strict=True)
    )
    assert not np.array_equal(serial[0], serial[1])


@pytest.fixture(scope="module")
def robustness(art):
    """The robustness sweep of the toy models, run once: its output directory."""
    out = art["root"] / "evaluate"
    run_robustness(
        art["cfg"],
        art["bundles"],
        art["root"] / "structures/structures.parquet",
        art["root"] / "split/split.csv",
        out,
    )
    return out


def test_a_crystal_that_fails_to_simulate_is_left_out_of_the_sweep(art, tmp_path, caplog):
    """A test crystal the simulator rejects (no scattering factor for Es) is reported and
    skipped; the others are scored as before."""
    params = json.dumps(patterns_params())
    spec = ImageSpec.from_card(load_bundle(art["bundles"]["vgg"])[1])
    bad = Structure(Lattice.cubic(4.0), ["Es"], [[0, 0, 0]]).to_json()
    good = art["table"]["structure"].iloc[0]
    levels = (("background", 0.0),)
    both = run_task(Task((good, bad), (1, 2), params, levels, (spec,)))
    alone = run_task(Task((good,), (1,), params, levels, (spec,)))
    assert [pos for pos, _ in both.failed] == [1] and "Es" in both.failed[0][1]
    assert alone.failed == [] and np.array_equal(both[spec][:, :1], alone[spec])

    table = art["table"].copy()
    victim = art["split"].loc[art["split"]["split"] == "test", "id"].iloc[0]
    table.loc[table["id"] == victim, "structure"] = bad
    table.to_parquet(tmp_path / "structures.parquet", index=False)
    cfg = json.loads(json.dumps(art["cfg"]))
    cfg["evaluate"]["robustness"].update(max_crystals=50, displacement=[0.0], background=[0.0])
    run_robustness(
        cfg,
        {"vgg": art["bundles"]["vgg"]},
        tmp_path / "structures.parquet",
        art["root"] / "split/split.csv",
        tmp_path,
    )
    rob = pd.read_csv(tmp_path / "robustness.csv")
    n_test = int((art["split"]["split"] == "test").sum())
    assert (rob["n"] == n_test - 1).all() and rob["sg_top1"].between(0, 1).all()
    assert victim in caplog.text


def test_robustness_table_and_figure(robustness):
    out = robustness
    rob = pd.read_csv(out / "robustness.csv")
    assert list(rob.columns[:5]) == ["model", "noise", "level", "sg_top1", "n"]
    assert len(rob) == 2 * 5  # two models x (two jitter + two background + one tilt level)
    assert set(rob["model"]) == {"msdn", "vgg"} and (rob["n"] == 5).all()  # max_crystals
    assert rob["sg_top1"].between(0, 1).all()
    assert sorted(rob.loc[rob["noise"] == "background", "level"].unique()) == [0.0, 60.0]
    assert rob.loc[rob["noise"] == "tilt", "level"].tolist() == [2.0, 2.0]
    assert (out / "robustness.png").stat().st_size > 10_000


def test_report_holds_every_table_and_figure(art, evaluated, robustness):
    r = art["root"]
    examples = [r / "patterns/examples.png", r / "shaping/shaped_examples.png"]
    for fig in examples:
        fig.parent.mkdir(exist_ok=True)
        _bar_png(fig, fig.stem)
    pd.DataFrame(
        [{"id": "sg999-x", "spacegroup": 2, "reason": "no scattering factor for Es"}]
    ).to_csv(r / "split/excluded.csv", index=False)
    run_report(
        art["cfg"],
        {m: r / "evaluate" / m / "metrics.json" for m in ("msdn", "vgg")},
        {m: r / "models" / m / "history.csv" for m in ("msdn", "vgg")},
        robustness / "robustness.csv",
        r / "structures",
        r / "split",
        r / "report",
        example_figures=examples,
    )
    rep = r / "report"
    html = (rep / "index.html").read_text()
    md = (rep / "index.md").read_text()
    saved = json.loads((rep / "metrics.json").read_text())
    assert set(saved) == {"msdn", "vgg"} and saved["vgg"]["n"] == 7
    # comparison with the published figures, and the data each was measured on
    for text in (
        "80.2%",
        "17-27 points",
        "108,658 ICSD",
        "synthetic: 14 structures",
        "test split (variant 0), n = 7",
        "baseline CNN",
        "top-1 vs MSDN",
    ):
        assert text in html and text in md, text
    # the paper's qualitative finding, measured, and MSDN vs the best baseline
    for text in ("mono &lt;-&gt; ortho", "trig &lt;-&gt; hex", "msdn minus vgg"):
        assert text in html, text
    assert "mono <-> ortho" in md
    m = saved["msdn"]
    assert f"{100 * m['confusion_mono_ortho']:.1f}%" in html
    # provenance and config
    for text in (
        "generation_failed",
        "Structures kept per crystal system",
        "Split sizes",
        "max_crystals: 5",
        "input_mode: shaped",
        "Crystals left out of the split (1, excluded.csv)",
        "sg999-x",
        "Raw patterns and the network&#x27;s shaped images",
    ):
        assert text in html, text
    figures = set(re.findall(r'<img src="([^"]+)"', html))
    expected = {
        "figures/comparison.png",
        "figures/training_curves.png",
        "figures/robustness.png",
        "figures/structures_class_counts.png",
        "figures/split_class_counts.png",
        "figures/patterns_examples.png",
        "figures/shaping_shaped_examples.png",
        *(f"figures/{m}_confusion_{k}.png" for m in ("msdn", "vgg") for k in ("sg", "cs")),
    }
    assert expected <= figures
    for p in figures:
        assert (rep / p).stat().st_size > 2_000, p
        assert f"]({p})" in md
    assert (rep / "config.yaml").read_text().startswith("seed: 11")
    assert (rep / "msdn_per_class.csv").exists()
    # every accuracy with its 95% Wilson interval, differences labelled when within noise
    ci = wilson_interval(round(m["sg_top1"] * m["n"]), m["n"])
    assert f"{100 * m['sg_top1']:.1f}% [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]" in html
    assert "95% Wilson intervals" in html and "(within noise)" in html  # n = 7: all noise
    assert "figures/shaping_shaped_examples.png" in figures
    # misclassified test crystals: every wrong row of predictions.csv, with its formula
    for name in ("msdn", "vgg"):
        pred = pd.read_csv(r / "evaluate" / name / "predictions.csv")
        wrong = pd.read_csv(rep / f"{name}_misclassified.csv")
        assert list(wrong.columns) == [
            "id",
            "formula",
            "true",
            "predicted",
            "p(predicted)",
            "p(true)",
        ]
        assert set(wrong["id"]) == set(pred.loc[pred["true"] != pred["pred"], "id"])
        formulas = dict(zip(art["table"]["id"], art["table"]["formula"], strict=True))
        assert all(formulas[i] == f for i, f in zip(wrong["id"], wrong["formula"], strict=True))
        assert wrong["p(predicted)"].is_monotonic_decreasing
        assert f'href="{name}_misclassified.csv"' in html
        svg = rep / "figures" / f"{name}_confusion_sg.svg"
        assert (
            svg.read_text().lstrip().startswith("<?xml")
            and f'href="{svg.relative_to(rep)}"' in html
        )
    # the report's config hash and the cards' hashes are told apart
    assert "Config hashes:" in html and "narrower hash by design" in html


def test_robustness_figure_marks_training_noise_and_zooms_to_the_data(monkeypatch, tmp_path):
    from xtalsym.evaluate import figures

    drawn = []
    monkeypatch.setattr(figures, "save_figure", lambda fig, path: drawn.append(fig))
    rows = [
        {"model": m, "noise": k, "level": lev, "sg_top1": acc - 0.02 * j, "n": 288}
        for m, acc in (("msdn", 0.13), ("vgg", 0.09))
        for k, levels in (("jitter", [0.0, 0.05, 0.2]), ("background", [0.0, 10.0, 40.0]))
        for j, lev in enumerate(levels)
    ]
    figures.plot_robustness(
        pd.DataFrame(rows), tmp_path / "r.png", chance=1 / 72,
        training={"jitter": (0.03, 0.03), "background": (0.0, 30.0)},
    )  # fmt: skip
    (fig,) = drawn
    jitter, background = fig.axes[:2]
    for ax in (jitter, background):
        top = ax.get_ylim()[1]
        hi = wilson_interval(round(0.13 * 288), 288)[1]
        assert hi < top < 0.3  # the highest interval fits, and 13% is not squashed to the bottom
    # one training level: a vertical line there; a training range: a band over it
    vertical = [ln for ln in jitter.lines if len(set(ln.get_xdata())) == 1]
    assert any(ln.get_xdata()[0] == 0.03 for ln in vertical)
    (band,) = [p for p in background.patches if p.get_label() == "training range"]
    x0, x1 = band.get_x(), band.get_x() + band.get_width()
    assert (x0, x1) == pytest.approx((0.0, 30.0))
    plt.close(fig)


def test_evaluation_trust_outputs(art, evaluated):
    """Calibration, abstention, hierarchy, physical limit, prior and views of the test split."""
    r = art["root"]
    for name in ("msdn", "vgg"):
        m = evaluated[name]
        d = r / "evaluate" / name
        cal = json.loads((d / "calibration.json").read_text())
        # the toy split has no validation crystals: nothing to fit, T = 1
        assert cal["temperature"] == 1.0 and cal["fitted_on"] is None
        assert m["calibration"]["ece"] == pytest.approx(m["calibration"]["ece_uncalibrated"])
        assert m["hierarchy"]["space_group"]["accuracy"] == pytest.approx(m["sg_top1"])
        assert m["hierarchy"]["crystal_system"]["n_values"] == 6
        # one training crystal per class, every class its own symbol: the oracle is exact
        limit = m["physical_limit"]
        assert limit["accuracy"] == 1.0 and limit["n_symbols"] == 7
        assert limit["prior"] == "training split"
        assert m["abstention"]["curve"]["coverage"][-1] == 1.0
        assert m["abstention"]["curve"]["accuracy"][-1] == pytest.approx(m["sg_top1"])
        views = pd.read_csv(d / "views.csv")
        assert views["beams"].tolist() == ["x", "y", "z", "x+y", "x+z", "y+z", "x+y+z"]
        assert views["sg_top1"].iloc[-1] == pytest.approx(m["sg_top1"])
        assert (views["n"] == 7).all()
        for fig in ("reliability.png", "risk_coverage.png"):
            assert (d / fig).stat().st_size > 10_000
    rep = r / "report_trust"
    run_report(
        art["cfg"],
        {m: r / "evaluate" / m / "metrics.json" for m in ("msdn", "vgg")},
        {m: r / "models" / m / "history.csv" for m in ("msdn", "vgg")},
        None,
        r / "structures",
        r / "split",
        rep,
    )
    html = (rep / "index.html").read_text()
    for text in (
        "Calibration (temperature scaling)",
        "Abstention (risk-coverage)",
        "physical limit (symbol oracle)",
        "Views (single beams, pairs, all three)",
        "Class prior (logit adjustment)",
    ):
        assert text in html, text
    for fig in ("reliability", "risk_coverage", "hierarchy", "views"):
        assert f'<img src="figures/{fig}.png"' in html
        assert (rep / f"figures/{fig}.png").stat().st_size > 10_000
