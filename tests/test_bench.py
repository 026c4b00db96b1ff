"""Every `make bench` subject in its quick mode (seconds each), so that no benchmark rots.

Each subject writes <subject>.json under a temporary results directory; the test checks the
file holds the subject's headline figures (benchmarks/run_all.py HEADLINES) as finite positive
numbers. Timings are never asserted: the figures depend on the machine and its load.
"""

from __future__ import annotations

import importlib
import json
import math

import pytest

from benchmarks import common
from benchmarks.run_all import HEADLINES, SUBJECTS


@pytest.mark.parametrize("subject", SUBJECTS)
def test_quick_bench_writes_headlines(subject, tmp_path, monkeypatch):
    monkeypatch.setattr(common, "BENCH_DIR", tmp_path)
    mod = importlib.import_module(f"benchmarks.bench_{subject}")
    returned = mod.run(quick=True)
    doc = json.loads((tmp_path / f"{subject}.json").read_text())
    assert doc["subject"] == subject
    assert doc["machine"]["cores"] >= 1
    for key in HEADLINES[subject]:
        value = doc[key]
        assert isinstance(value, int | float) and not isinstance(value, bool), (key, value)
        assert math.isfinite(value) and value > 0, (key, value)
        assert returned[key] == value


def test_every_subject_has_headlines():
    assert set(HEADLINES) == set(SUBJECTS)
