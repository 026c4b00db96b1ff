"""`make readme-results`: the README's results table is written from a run's files (a small
metrics.json and benchmark files written here), between its markers, nothing else touched;
and the Wilson intervals the report and README show."""

from __future__ import annotations

import json
import os
import runpy
import sys

import pytest
from scipy.stats import binomtest

from xtalsym.evaluate.readme import BEGIN, END, run_timing
from xtalsym.evaluate.stats import difference_is_noise, difference_text, wilson_interval

from .conftest import ROOT

SCRIPT = ROOT / "scripts" / "readme_results.py"


def run_script(*args: str) -> int:
    old = sys.argv
    sys.argv = [str(SCRIPT), *args]
    try:
        runpy.run_path(str(SCRIPT), run_name="__main__")
    except SystemExit as e:
        return int(e.code or 0)
    finally:
        sys.argv = old
    return 0


def fake_run(tmp_path):
    results = tmp_path / "results"
    (results / "report").mkdir(parents=True)
    metrics = {
        "msdn": {"n": 288, "sg_top1": 38 / 288, "sg_top5": 0.441, "cs_accuracy": 195 / 288,
                 "model": {"arch": "msdn", "input_mode": "shaped"},
                 "real_structure_check": {"evaluated": 130, "sg_top1": 31 / 130,
                                          "cs_accuracy": 76 / 130}},
        "vgg": {"n": 288, "sg_top1": 26 / 288, "sg_top5": 0.30, "cs_accuracy": 150 / 288,
                "model": {"arch": "vgg", "input_mode": "unshaped"}},
    }  # fmt: skip
    (results / "report" / "metrics.json").write_text(json.dumps(metrics))
    bench = results / "benchmarks"
    bench.mkdir()
    t0 = 1_800_000_000.0
    # (name, seconds, end time): jobs from t0 - 100 (first start) to t0 + 500 (last end)
    for name, s, end in (("a", 100.0, t0), ("b", 200.0, t0 + 300), ("c", 50.0, t0 + 500)):
        f = bench / f"{name}.tsv"
        f.write_text(f"s\th:m:s\tmax_rss\n{s}\t0:00:00\t1.0\n")
        os.utime(f, (end, end))
    (bench / "broken.tsv").write_text("")
    return results, t0


def test_table_written_between_the_markers_from_the_run(tmp_path, capsys):
    results, t0 = fake_run(tmp_path)
    before, after = "# Project\n\nIntro text.\n\n", "\n\nMore text after.\n"
    readme = tmp_path / "README.md"
    readme.write_text(before + BEGIN + "\nold numbers typed by hand: 13.2 %\n" + END + after)
    config = tmp_path / "run.yaml"
    config.write_text("classes: [2, 14, 62, 139, 194, 225]\n")
    assert run_script("--readme", str(readme), "--results", str(results),
                      "--config", str(config)) == 0  # fmt: skip
    text = readme.read_text()
    assert text.startswith(before + BEGIN) and text.endswith(END + after)
    assert "old numbers" not in text
    lo, hi = binomtest(38, 288).proportion_ci(method="wilson")
    assert f"13.2% [{100 * lo:.1f}, {100 * hi:.1f}]" in text
    lo, hi = binomtest(31, 130).proportion_ci(method="wilson")
    row = next(line for line in text.splitlines() if line.startswith("| msdn"))
    assert f"23.8% [{100 * lo:.1f}, {100 * hi:.1f}]" in row and "58.5%" in row
    assert "| 130 |" in row
    row = next(line for line in text.splitlines() if line.startswith("| vgg"))
    assert "baseline CNN" in row and "9.0%" in row and "| 288 |" in row
    assert "6 classes (chance 16.7%)" in text
    assert "10 min 00 s wall time" in text  # t0 - 100 .. t0 + 500
    assert "3 jobs, 5 min 50 s of job time" in text
    assert f"{len(os.sched_getaffinity(0))} cores" in text
    assert str(config) in text and BEGIN in capsys.readouterr().out
    # idempotent: a second run gives the same file
    run_script("--readme", str(readme), "--results", str(results), "--config", str(config))
    assert readme.read_text() == text


def test_missing_markers_or_metrics_are_errors(tmp_path, capsys):
    results, _ = fake_run(tmp_path)
    readme = tmp_path / "README.md"
    readme.write_text("no markers here\n")
    assert run_script("--readme", str(readme), "--results", str(results)) == 1
    assert "no results markers" in capsys.readouterr().err
    assert readme.read_text() == "no markers here\n"
    assert run_script("--readme", str(readme), "--results", str(tmp_path / "none")) == 1
    assert "metrics.json: no such file" in capsys.readouterr().err


def test_run_timing_without_benchmarks(tmp_path):
    assert run_timing(tmp_path) is None


@pytest.mark.parametrize(("k", "n"), [(0, 10), (3, 10), (10, 10), (38, 288), (1, 1000)])
def test_wilson_interval_matches_scipy(k, n):
    ci = binomtest(k, n).proportion_ci(method="wilson")
    assert wilson_interval(k, n) == pytest.approx((ci.low, ci.high), abs=1e-12)


def test_difference_within_noise():
    # 288 crystals each: 13.2 % vs 12.5 % is noise, 40 % vs 13 % is not
    assert difference_is_noise(38 / 288, 288, 36 / 288, 288)
    assert not difference_is_noise(0.40, 288, 0.13, 288)
    assert difference_text(0.132, 288, 0.125, 288) == "+0.7 points (within noise)"
    assert difference_text(0.40, 288, 0.13, 288) == "+27.0 points"
