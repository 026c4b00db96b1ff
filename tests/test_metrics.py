"""Every metric against values computed by hand on a small fixed prediction set.

Classes [2, 14, 15, 62, 166, 194] (triclinic, monoclinic x2, orthorhombic, trigonal,
hexagonal); eight crystals. Space group 15 (index 2) never occurs in the true labels but is
predicted once, which tests the "classes present in the true labels" averaging.

  crystal  true  pred  true's rank   crystal system true -> pred
  1        0     0     1             tric -> tric
  2        1     1     1             mono -> mono
  3        1     3     2             mono -> ortho
  4        1     2     3             mono -> mono (wrong space group, right system)
  5        3     3     1             ortho -> ortho
  6        3     1     2             ortho -> mono
  7        4     5     6 (last)      trig -> hex
  8        5     5     1             hex -> hex
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from xtalsym.evaluate import metrics as M
from xtalsym.evaluate.stage import write_evaluation
from xtalsym.spacegroups import CRYSTAL_SYSTEMS

CLASSES = [2, 14, 15, 62, 166, 194]
Y_TRUE = np.array([0, 1, 1, 1, 3, 3, 4, 5])
PROBA = np.array(
    [
        [0.70, 0.10, 0.05, 0.05, 0.05, 0.05],
        [0.05, 0.60, 0.10, 0.10, 0.10, 0.05],
        [0.05, 0.30, 0.10, 0.40, 0.10, 0.05],
        [0.10, 0.15, 0.40, 0.20, 0.10, 0.05],
        [0.05, 0.10, 0.05, 0.60, 0.10, 0.10],
        [0.05, 0.50, 0.05, 0.30, 0.05, 0.05],
        [0.20, 0.15, 0.15, 0.15, 0.01, 0.34],
        [0.10, 0.10, 0.10, 0.10, 0.10, 0.50],
    ]
)

# By hand: TP per class 1,1,0,1,0,1; predicted 1,2,1,2,0,2; support 1,3,0,2,1,1.
PRECISION = [1.0, 0.5, 0.0, 0.5, 0.0, 0.5]
RECALL = [1.0, 1 / 3, 0.0, 0.5, 0.0, 1.0]
F1 = [1.0, 0.4, 0.0, 0.5, 0.0, 2 / 3]
SUPPORT = [1, 3, 0, 2, 1, 1]


def test_fixture_is_a_probability_set():
    assert np.allclose(PROBA.sum(axis=1), 1.0)


def test_confusion_matrix_counts():
    cm = M.confusion_matrix(Y_TRUE, PROBA.argmax(axis=1), len(CLASSES))
    expected = np.zeros((6, 6), int)
    for t, p in [(0, 0), (1, 1), (1, 3), (1, 2), (3, 3), (3, 1), (4, 5), (5, 5)]:
        expected[t, p] += 1
    assert (cm == expected).all()


def test_top_k_accuracy_by_hand():
    assert M.top_k_accuracy(Y_TRUE, PROBA, 1) == pytest.approx(4 / 8)
    assert M.top_k_accuracy(Y_TRUE, PROBA, 2) == pytest.approx(6 / 8)  # misses 4 and 7
    assert M.top_k_accuracy(Y_TRUE, PROBA, 5) == pytest.approx(7 / 8)  # misses 7
    assert M.top_k_accuracy(Y_TRUE, PROBA, 6) == 1.0
    assert M.top_k_accuracy(Y_TRUE, PROBA, 50) == 1.0  # k beyond the class count


def test_top_k_ties_follow_class_order():
    assert M.top_k(np.array([[0.25, 0.25, 0.5]]), 2).tolist() == [[2, 0]]


def test_per_class_precision_recall_f1_support():
    pc = M.per_class(M.confusion_matrix(Y_TRUE, PROBA.argmax(axis=1), 6))
    assert pc["precision"] == pytest.approx(PRECISION)
    assert pc["recall"] == pytest.approx(RECALL)
    assert pc["f1"] == pytest.approx(F1)
    assert pc["support"].tolist() == SUPPORT


def test_balanced_accuracy_and_macro_f1_over_present_classes():
    cm = M.confusion_matrix(Y_TRUE, PROBA.argmax(axis=1), 6)
    # present: 0, 1, 3, 4, 5 (class 2 is only predicted)
    assert M.balanced_accuracy(cm) == pytest.approx((1 + 1 / 3 + 0.5 + 0 + 1) / 5)
    assert M.macro_f1(cm) == pytest.approx((1 + 0.4 + 0.5 + 0 + 2 / 3) / 5)


def test_compute_metrics_by_hand():
    m = M.compute_metrics(Y_TRUE, PROBA, CLASSES, top_k_extra=2)
    assert m["n"] == 8
    assert m["sg_top1"] == pytest.approx(0.5)
    assert m["sg_top5"] == pytest.approx(0.875)
    assert m["sg_top2"] == pytest.approx(0.75)
    assert m["sg_balanced_accuracy"] == pytest.approx(2.8333333 / 5)
    assert m["sg_macro_f1"] == pytest.approx(2.5666667 / 5)
    # crystal systems: wrong only for crystals 3, 6, 7
    assert m["cs_accuracy"] == pytest.approx(5 / 8)
    per = m["cs_per_system"]
    assert set(per) == {"triclinic", "monoclinic", "orthorhombic", "trigonal", "hexagonal"}
    assert per["monoclinic"] == {"accuracy": pytest.approx(2 / 3), "n": 3}
    assert per["orthorhombic"]["accuracy"] == pytest.approx(0.5)
    assert per["trigonal"]["accuracy"] == 0.0 and per["hexagonal"]["accuracy"] == 1.0
    # mono <-> ortho: 1 + 1 of 3 + 2; trig <-> hex: 1 + 0 of 1 + 1
    assert m["confusion_mono_ortho"] == pytest.approx(0.4)
    assert m["monoclinic->orthorhombic"] == pytest.approx(1 / 3)
    assert m["orthorhombic->monoclinic"] == pytest.approx(0.5)
    assert m["confusion_trig_hex"] == pytest.approx(0.5)
    assert m["trigonal->hexagonal"] == 1.0 and m["hexagonal->trigonal"] == 0.0
    cs = np.array(m["cs_confusion"])
    mono, ortho = CRYSTAL_SYSTEMS.index("monoclinic"), CRYSTAL_SYSTEMS.index("orthorhombic")
    assert cs.shape == (7, 7) and cs.sum() == 8 and cs[mono, mono] == 2 and cs[ortho, mono] == 1
    assert m["n_classes_present"] == 5
    json.dumps(m)  # JSON-ready


def test_confusion_rates_none_without_support():
    m = M.compute_metrics(np.array([0, 0]), np.array([[0.9, 0.1], [0.2, 0.8]]), [2, 225])
    assert m["confusion_mono_ortho"] is None and m["monoclinic->orthorhombic"] is None
    assert m["cs_accuracy"] == 0.5


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="proba must be"):
        M.compute_metrics(Y_TRUE, PROBA[:, :5], CLASSES)


def test_write_evaluation_files(tmp_path):
    card = {"name": "toy", "arch": "msdn", "input_mode": "shaped", "classes": CLASSES}
    ids = [f"c{i}" for i in range(8)]
    m = write_evaluation(tmp_path, ids, Y_TRUE, PROBA, card, data={"split": "test"})
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["sg_top1"] == m["sg_top1"] == 0.5 and saved["model"]["name"] == "toy"
    for key in ("sg_top1", "sg_top5", "sg_balanced_accuracy", "sg_macro_f1", "cs_accuracy", "n"):
        assert key in saved
    pred = pd.read_csv(tmp_path / "predictions.csv")
    assert list(pred.columns[:5]) == ["id", "true", "pred", "p_pred", "p_true"]
    assert pred["true"].tolist() == [2, 14, 14, 14, 62, 62, 166, 194]
    assert pred["pred"].tolist() == [2, 14, 62, 15, 62, 14, 194, 194]
    assert pred.loc[6, "top5"] == "194 2 14 15 62"  # 166 is last: not in the top five
    assert pred.loc[2, "p_pred"] == pytest.approx(0.4) and pred.loc[2, "p_true"] == 0.3
    pc = pd.read_csv(tmp_path / "per_class.csv")
    assert pc["spacegroup"].tolist() == CLASSES
    assert pc.loc[1, "symbol"] == "P2_1/c" and pc.loc[4, "crystal_system"] == "trigonal"
    assert pc["f1"].to_numpy() == pytest.approx(F1)
    assert pc["support"].tolist() == SUPPORT and pc["predicted"].tolist() == [1, 2, 1, 2, 0, 2]
    for name in ("confusion_sg.png", "confusion_cs.png"):
        with Image.open(tmp_path / name) as im:
            assert im.format == "PNG" and min(im.size) > 400
