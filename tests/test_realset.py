"""The real-structure check set (data/real): files, README table, coverage, and its evaluation.

The catalogue reads and labels every committed CIF exactly as the pipeline does; the README
must be the table generated from it; the set must keep its promised coverage. The evaluation
part runs ``evaluate_structures`` with an untrained bundle on a copy of a few of the files
(answers arbitrary: the tests check the counting and the report's section).
"""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
import yaml

from xtalsym.cli import build_parser
from xtalsym.config import validate
from xtalsym.evaluate.real import (
    KEY,
    TITLE,
    per_structure_table,
    real_check_section,
    real_summary,
    summary_table,
    with_real,
)
from xtalsym.evaluate.structures import evaluate_structures
from xtalsym.realset import catalogue, cif_files, coverage, main, readme_text
from xtalsym.spacegroups import CRYSTAL_SYSTEMS, PAPER_72

from .conftest import ROOT
from .test_report import make_bundle

REAL = ROOT / "data" / "real"


@pytest.fixture(scope="module")
def cat() -> pd.DataFrame:
    return catalogue(REAL)


def test_readme_is_the_table_generated_from_the_files(cat):
    assert (REAL / "README.md").read_text() == readme_text(cat), (
        "data/real/README.md is stale: run python -m xtalsym.realset --table"
    )
    assert len(cat) == len(cif_files(REAL)) == len(list(REAL.glob("*.cif")))


def test_every_file_labels_as_it_declares(cat):
    wrong = cat[cat["published"] != cat["spacegroup"]]
    assert wrong.empty, wrong[["file", "published", "spacegroup", "symbol"]].to_string()
    assert cat["reference"].str.len().min() > 10
    assert cat["name"].str.len().min() > 0
    # one entry per structure type: no duplicated (formula, space group)
    assert not cat.duplicated(["formula", "spacegroup"]).any()


def test_coverage(cat):
    cov = coverage(cat)
    assert set(cov["per_system"]) == set(CRYSTAL_SYSTEMS)
    assert cov["files"] >= 80
    assert cov["paper72_classes"] >= 40
    assert set(cov["paper72_list"]) <= set(PAPER_72)
    assert cov["max_sites"] <= validate({})["structures"]["max_sites"]
    # the structures outside the paper's classes are marked as such, not relabelled
    outside = cat[~cat["in_paper72"]]
    assert len(outside) and not outside["spacegroup"].isin(PAPER_72).any()
    assert "| SiO2_alpha_quartz.cif |" in readme_text(cat)


def test_every_cif_spells_out_its_symmetry_and_source():
    for path in cif_files(REAL):
        text = path.read_text()
        for tag in (
            "_space_group_symop_operation_xyz",
            "_space_group_IT_number",
            "_symmetry_space_group_name_H-M",
            "_publ_section_references",
        ):
            assert tag in text, f"{path.name}: no {tag}"


def test_table_check_flags_a_stale_readme(tmp_path, capsys):
    d = tmp_path / "real"
    d.mkdir()
    for name in ("NaCl_rocksalt.cif", "TiO2_rutile.cif"):
        shutil.copy(REAL / name, d / name)
    assert main(["--dir", str(d), "--table"]) == 0
    assert main(["--dir", str(d), "--table", "--check"]) == 0
    (d / "README.md").write_text((d / "README.md").read_text().replace("rutile", "anatase"))
    assert main(["--dir", str(d), "--table", "--check"]) == 1
    assert "stale" in capsys.readouterr().err


def test_the_set_is_not_a_training_source():
    cfg = validate(yaml.safe_load((ROOT / "config.yaml").read_text()))
    assert cfg["evaluate"]["real_structures"] == "data/real"
    path = cfg["structures"]["cif_dir"]["path"]
    assert "cif_dir" not in cfg["structures"]["sources"] or path != "data/real"
    assert validate({"evaluate": {"real_structures": None}})["evaluate"]["real_structures"] is None


CLASSES = [14, 62, 136, 194, 225]
SUBSET = [
    "NaCl_rocksalt.cif",  # 225
    "Cu.cif",  # 225
    "TiO2_rutile.cif",  # 136
    "Mg.cif",  # 194
    "ZrO2_baddeleyite.cif",  # 14
    "Mg2SiO4_forsterite.cif",  # 62
    "SiO2_alpha_quartz.cif",  # 154: outside the classes
    "C_diamond.cif",  # 227: outside the classes
]


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory, cat):
    """Two untrained bundles evaluated on a copy of SUBSET (with the set's README beside it)."""
    tmp = tmp_path_factory.mktemp("real")
    d = tmp / "real"
    d.mkdir()
    for name in SUBSET:
        shutil.copy(REAL / name, d / name)
    shutil.copy(REAL / "README.md", d / "README.md")
    paths = {}
    for name, arch, mode in (("msdn", "msdn", "shaped"), ("vgg", "vgg", "unshaped")):
        bundle = make_bundle(tmp / "models", name, arch, mode, CLASSES)
        paths[name] = tmp / "evaluate" / name / "real" / "metrics.json"
        evaluate_structures(d, bundle, paths[name], tta=0)
    return paths


def test_evaluation_counts_files_in_and_outside_the_classes(evaluated, cat):
    labels = dict(zip(cat["file"], cat["spacegroup"], strict=True))
    in_classes = sum(labels[f] in CLASSES for f in SUBSET)
    for path in evaluated.values():
        m = json.loads(path.read_text())
        s = real_summary(m)
        assert s["files"] == len(SUBSET)  # the README is documentation, not a structure
        assert s["in_classes"] == s["evaluated"] == in_classes == 6
        assert {x["file"] for x in m["skipped"]} == {"SiO2_alpha_quartz.cif", "C_diamond.cif"}
        pred = pd.read_csv(path.parent / "predictions.csv")
        assert dict(zip(pred["id"], pred["true"], strict=True)) == {
            f: labels[f] for f in SUBSET if labels[f] in CLASSES
        }


def test_report_section_and_metrics(evaluated):
    real = {n: json.loads(p.read_text()) for n, p in evaluated.items()}
    table = summary_table(real)
    assert list(table["model"]) == ["msdn", "vgg"]
    assert set(table["evaluated / in classes / files"]) == {"6 / 6 / 8"}
    m = real["msdn"]
    assert table.loc[0, "space group top-1"] == f"{100 * m['sg_top1']:.1f}%"

    per = per_structure_table(evaluated)
    assert len(per) == 6 and set(per.columns) == {"file", "spglib", "msdn", "vgg"}
    pred = pd.read_csv(evaluated["vgg"].parent / "predictions.csv")
    first = pred.sort_values("id").iloc[0]
    mark = "ok" if first["pred"] == first["true"] else "x"
    assert per.loc[0, "vgg"] == f"{first['pred']} {mark}"

    sec = real_check_section(real, evaluated)
    assert sec.title == TITLE and [b[0] for b in sec.blocks] == ["text", "table", "details"]
    assert "never used for training" in sec.blocks[0][1]
    off = real_check_section({}, None)
    assert "not run" in off.blocks[0][1]

    merged = with_real({"msdn": {"sg_top1": 0.5}, "vgg": {"sg_top1": 0.4}}, real)
    assert merged["msdn"][KEY]["sg_top1"] == m["sg_top1"] and merged["msdn"]["sg_top1"] == 0.5


def test_cli_report_takes_real_metrics():
    args = build_parser().parse_args(
        ["report", "--metrics", "m.json", "--histories", "h.csv", "--structures-dir", "s",
         "--split-dir", "p", "--out", "o",
         "--real-metrics", "results/evaluate/msdn/real/metrics.json"]
    )  # fmt: skip
    assert args.real_metrics == ["results/evaluate/msdn/real/metrics.json"]
