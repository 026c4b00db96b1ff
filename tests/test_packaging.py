"""LICENSE and CITATION.cff agree with pyproject.toml; the paper is cited."""

import tomllib

import yaml

from .conftest import ROOT


def test_license_and_citation_agree_with_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT"
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and cff["license"] == "MIT"
    assert str(cff["version"]) == project["version"]
    paper = cff["preferred-citation"]
    assert paper["doi"] == "10.1038/s41524-020-00466-5"
    assert [a["family-names"] for a in paper["authors"]] == ["Tiong", "Kim", "Han", "Kim"]
    assert (paper["journal"], paper["volume"], paper["start"], paper["year"]) == (
        "npj Computational Materials", 6, 196, 2020,
    )  # fmt: skip


def test_make_dag_fails_clearly_without_graphviz(tmp_path):
    import shutil
    import subprocess

    make = shutil.which("make")
    if make is None:
        import pytest

        pytest.skip("make is not installed")
    empty = tmp_path / "bin"
    empty.mkdir()  # a PATH without dot (nor anything else)
    proc = subprocess.run(
        [make, "-o", "env", "dag"], cwd=ROOT, env={"PATH": str(empty)},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode != 0
    assert "graphviz's 'dot' is not installed" in proc.stderr
