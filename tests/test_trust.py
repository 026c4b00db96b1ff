"""Calibration, abstention, the symmetry hierarchy, the physical limit, views and the prior,
checked against hand-computed values and the International Tables' reflection conditions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xtalsym.evaluate.calibration import (
    expected_calibration_error,
    fit_temperature,
    nll,
    reliability_bins,
    softmax,
)
from xtalsym.evaluate.coverage import abstain, accuracy_at_coverage, coverage_summary
from xtalsym.evaluate.hierarchy import (
    absent_reflections,
    bravais_lattice,
    diffraction_symbol,
    hierarchy_accuracy,
    hierarchy_probabilities,
    hierarchy_summary,
    laue_class,
    level_map,
    oracle_accuracy,
    oracle_predictions,
    point_group,
)
from xtalsym.evaluate.trust import prior_comparison, trust_metrics
from xtalsym.evaluate.views import SUBSETS, subset_name, view_logits, views_table
from xtalsym.models import build_model
from xtalsym.spacegroups import PAPER_72
from xtalsym.train.bundle import inference_logits, predict_logits, predict_proba

# ------------------------------------------------------------------------ calibration


def test_ece_by_hand():
    # confidences 0.9 (right), 0.9 (wrong), 0.6 (right), 0.3 (right); 15 bins of width 1/15:
    # 0.9 -> bin 13, 0.6 -> bin 8, 0.3 -> bin 4 (ceil(c * 15) - 1)
    proba = np.array(
        [
            [0.9, 0.05, 0.03, 0.02],
            [0.9, 0.05, 0.03, 0.02],
            [0.2, 0.6, 0.1, 0.1],
            [0.25, 0.25, 0.3, 0.2],
        ]
    )
    y = np.array([0, 1, 1, 2])
    bins = reliability_bins(proba.max(1), proba.argmax(1) == y)
    assert bins["count"][[4, 8, 13]].tolist() == [1, 1, 2] and bins["count"].sum() == 4
    assert bins["accuracy"][13] == 0.5 and bins["confidence"][13] == pytest.approx(0.9)
    # |0.5 - 0.9| * 2/4 + |1 - 0.6| / 4 + |1 - 0.3| / 4 = 0.2 + 0.1 + 0.175
    assert expected_calibration_error(proba, y) == pytest.approx(0.475)
    perfect = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert expected_calibration_error(perfect, np.array([0, 1])) == 0.0


def test_nll_and_softmax_by_hand():
    z = np.array([[0.0, np.log(3.0)]])  # p = (1/4, 3/4)
    assert softmax(z)[0] == pytest.approx([0.25, 0.75])
    assert nll(z, np.array([1])) == pytest.approx(-np.log(0.75))
    # T = 2 halves the logits: p = (1, sqrt 3) / (1 + sqrt 3)
    assert nll(z, np.array([0]), 2.0) == pytest.approx(np.log(1 + np.sqrt(3)))


def test_temperature_is_recovered():
    rng = np.random.default_rng(0)
    z = 3.0 * rng.normal(size=(4000, 6))
    p = softmax(z, 2.0)  # the truth is softer than the logits say: T = 2
    y = np.array([rng.choice(6, p=row) for row in p])
    t = fit_temperature(z, y)
    assert t == pytest.approx(2.0, rel=0.08)
    assert nll(z, y, t) < nll(z, y, 1.0)
    assert expected_calibration_error(softmax(z, t), y) < expected_calibration_error(softmax(z), y)
    assert fit_temperature(z[:0], y[:0]) == 1.0


# ------------------------------------------------------------------------- abstention


def test_risk_coverage_by_hand():
    # confidences 0.9, 0.8, 0.7, 0.6 (rows shuffled), right / wrong / right / right
    proba = np.array([[0.7, 0.3], [0.9, 0.1], [0.4, 0.6], [0.2, 0.8]])
    y = np.array([0, 0, 1, 0])  # conf 0.7 right, 0.9 right, 0.6 right, 0.8 wrong
    s = coverage_summary(proba, y)
    assert s["curve"]["accuracy"] == pytest.approx([1.0, 0.5, 2 / 3, 0.75])
    assert s["curve"]["coverage"] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert s["acc_at_50"] == 0.5  # the 2 most confident
    assert s["acc_at_80"] == 0.75  # ceil(3.2) = 4
    assert s["aurc"] == pytest.approx((0 + 0.5 + 1 / 3 + 0.25) / 4)
    assert accuracy_at_coverage(proba, y, 0.25) == 1.0


def test_abstain_says_undecided_below_the_threshold():
    p = np.array([0.1, 0.55, 0.3, 0.05])
    sure = abstain(p, [1, 2, 14, 225], 0.5, k=2)
    assert sure["decided"] and sure["prediction"] == 2
    assert sure["candidates"] == [(2, pytest.approx(0.55)), (14, pytest.approx(0.3))]
    unsure = abstain(p, [1, 2, 14, 225], 0.6)
    assert not unsure["decided"] and unsure["prediction"] is None
    assert [c for c, _ in unsure["candidates"]] == [2, 14, 1]


# ---------------------------------------------------------------------- the hierarchy

# (space group, reflections that must be absent, reflections that must be present), from the
# International Tables' reflection conditions of the standard setting.
ITA_CONDITIONS = {
    1: ([], [(1, 0, 0), (0, 0, 1), (1, 1, 1)]),
    4: ([(0, 1, 0), (0, 3, 0)], [(0, 2, 0), (1, 0, 1), (1, 1, 0)]),  # 0k0: k = 2n
    7: ([(1, 0, 1), (0, 0, 1)], [(0, 1, 0), (1, 0, 2), (1, 1, 1)]),  # h0l: l = 2n
    14: ([(1, 0, 1), (2, 0, 1), (0, 1, 0)], [(1, 0, 2), (0, 2, 0), (0, 1, 1), (1, 1, 1)]),
    15: ([(1, 0, 0), (2, 0, 1), (0, 1, 0)], [(1, 1, 0), (2, 0, 2), (1, 1, 1)]),
    19: ([(1, 0, 0), (0, 1, 0), (0, 0, 1)], [(2, 0, 0), (0, 0, 2), (1, 1, 0), (0, 1, 1)]),
    # Pnma: 0kl k+l = 2n; hk0 h = 2n; h00, 0k0, 00l = 2n; h0l free
    62: ([(0, 1, 2), (1, 1, 0), (0, 0, 1), (1, 0, 0)], [(0, 1, 1), (2, 1, 0), (1, 0, 1)]),
    # I4_1/a: I; hk0 h, k = 2n; 00l l = 4n
    88: ([(1, 0, 0), (1, 1, 0), (0, 0, 2)], [(2, 0, 0), (2, 2, 0), (0, 0, 4), (1, 0, 1)]),
    # I4_1/amd: hhl 2h + l = 4n; 00l l = 4n
    141: ([(1, 1, 0), (2, 2, 2), (0, 0, 2)], [(2, 2, 0), (1, 1, 2), (0, 0, 4), (1, 0, 1)]),
    # R-3m (hexagonal axes): -h + k + l = 3n
    166: ([(1, 0, 0), (0, 0, 1), (1, 0, 2)], [(1, 0, 1), (0, 0, 3), (0, 1, 2)]),
    173: ([(0, 0, 1)], [(0, 0, 2), (1, 0, 1)]),  # 000l: l = 2n
    # P6_3/mmc: hh-2hl l = 2n; h-h0l free
    194: ([(1, 1, 1), (0, 0, 1)], [(1, 1, 2), (1, 0, 1), (1, -1, 1)]),
    198: ([(1, 0, 0), (0, 1, 0), (0, 0, 3)], [(2, 0, 0), (1, 1, 0), (1, 1, 1)]),
    225: ([(1, 0, 0), (1, 1, 0), (2, 1, 0)], [(1, 1, 1), (2, 0, 0), (2, 2, 0)]),
    # Fd-3m: F; 0kl k + l = 4n; 00l l = 4n
    227: ([(2, 0, 0), (0, 2, 4), (1, 1, 0)], [(1, 1, 1), (2, 2, 0), (0, 0, 4), (0, 2, 2)]),
    229: ([(1, 0, 0), (1, 1, 1)], [(1, 1, 0), (2, 1, 1)]),
    # Ia-3d: I; 0kl k, l = 2n; hhl 2h + l = 4n; 00l l = 4n
    230: ([(0, 1, 1), (2, 2, 2), (0, 0, 2)], [(2, 1, 1), (1, 1, 2), (0, 2, 2), (0, 0, 4)]),
}


@pytest.mark.parametrize("number", sorted(ITA_CONDITIONS))
def test_absences_match_the_international_tables(number):
    absent, present = ITA_CONDITIONS[number]
    hkl = np.array(absent + present)
    got = absent_reflections(number, hkl)
    assert got.tolist() == [True] * len(absent) + [False] * len(present)


def test_diffraction_symbols_group_what_diffraction_cannot_tell_apart():
    same = [{216, 225}, {186, 194}, {187, 189, 191}, {1, 2}, {160, 166}, {4, 11}, {5, 8, 12}]
    for group in same:
        assert len({diffraction_symbol(n) for n in group}) == 1, group
    differ = [(225, 227), (221, 229), (14, 11), (164, 166), (62, 63), (149, 150), (225, 229)]
    for a, b in differ:
        assert diffraction_symbol(a) != diffraction_symbol(b), (a, b)
    assert diffraction_symbol(225) == "m-3m (209/216/225)"
    names, _ = level_map(PAPER_72, "diffraction_symbol")
    assert len(names) == 51  # of the paper's 72 classes


def test_levels_of_a_few_groups():
    assert [laue_class(n) for n in (2, 14, 62, 88, 139, 148, 166, 176, 194, 205, 216)] == [
        "-1", "2/m", "mmm", "4/m", "4/mmm", "-3", "-3m", "6/m", "6/mmm", "m-3", "m-3m",
    ]  # fmt: skip
    assert [point_group(n) for n in (1, 7, 25, 82, 160, 187, 216)] == [
        "1", "m", "mm2", "-4", "3m", "-6m2", "-43m",
    ]  # fmt: skip
    assert [bravais_lattice(n) for n in (2, 14, 15, 38, 44, 70, 139, 156, 166, 194, 221, 229)] == [
        "aP", "mP", "mS", "oS", "oI", "oF", "tI", "hP", "hR", "hP", "cP", "cI",
    ]  # fmt: skip


CLASSES = [1, 2, 14, 216, 225, 227]


def test_marginals_sum_the_classes_of_each_value():
    proba = np.array([[0.05, 0.1, 0.45, 0.15, 0.05, 0.2], [0.0, 0.0, 0.0, 0.3, 0.3, 0.4]])
    h = hierarchy_probabilities(proba, CLASSES)
    names, p = h["crystal_system"]
    assert names == ["triclinic", "monoclinic", "cubic"]
    assert p == pytest.approx(np.array([[0.15, 0.45, 0.4], [0.0, 0.0, 1.0]]))
    names, p = h["diffraction_symbol"]
    assert len(names) == 4  # {1, 2}, {14}, {216, 225}, {227}
    assert p[1] == pytest.approx([0.0, 0.0, 0.6, 0.4])
    for _, q in h.values():
        assert q.sum(axis=1) == pytest.approx([1.0, 1.0])
    # row 1: top space group 227, but the symbol {216, 225} holds 0.6 -> marginal argmax differs
    acc = hierarchy_accuracy(np.array([2, 4]), proba, CLASSES)
    assert acc["space_group"]["accuracy"] == 0.5  # 14 right, 227 for 225 wrong
    assert acc["diffraction_symbol"]["accuracy"] == 1.0
    assert acc["diffraction_symbol"]["from_top1"] == 0.5
    assert acc["point_group"]["n_values"] == 5


def test_the_oracle_picks_the_most_frequent_class_of_the_symbol():
    counts = np.array([5, 9, 4, 2, 7, 3])
    pick = oracle_predictions(CLASSES, counts)
    assert [CLASSES[i] for i in pick] == [2, 2, 14, 225, 225, 227]
    y = np.array([0, 1, 2, 3, 4, 5, 5, 1])  # the oracle misses 1 and 216
    o = oracle_accuracy(y, CLASSES, counts)
    assert o["accuracy"] == pytest.approx(6 / 8) and o["n_symbols"] == 4
    tie = oracle_predictions(CLASSES, np.ones(6))
    assert [CLASSES[i] for i in tie] == [1, 1, 14, 216, 216, 227]  # lowest number on ties


def test_prior_comparison_by_hand():
    card = {"classes": [1, 2], "imbalance": "class_weights"}
    # p(class 1) = 0.4 everywhere; the prior (9 + 1) / (10 + 2) vs (1 + 1) / 12 flips it
    proba = np.array([[0.4, 0.6]] * 4)
    out = prior_comparison(np.array([0, 0, 0, 1]), proba, card, np.array([9, 1]))
    assert out["sg_top1_without_prior"] == 0.25 and out["sg_top1_with_prior"] == 0.75
    assert out["sg_balanced_without_prior"] == 0.5 and out["sg_balanced_with_prior"] == 0.5
    assert out["test_imbalance"] == 3.0 and not out["prior_in_model"]


def test_trust_metrics_blocks():
    rng = np.random.default_rng(3)
    z = rng.normal(size=(40, len(CLASSES))) * 2
    y = rng.integers(0, len(CLASSES), 40)
    card = {"classes": CLASSES, "calibration": {"temperature": 1.7}}
    m = trust_metrics(y, softmax(z, 1.7), card, proba_uncalibrated=softmax(z))
    assert m["calibration"]["temperature"] == 1.7
    assert m["calibration"]["ece_uncalibrated"] == pytest.approx(
        expected_calibration_error(softmax(z), y)
    )
    top1 = float((z.argmax(1) == y).mean())
    assert m["hierarchy"]["space_group"]["accuracy"] == pytest.approx(top1)
    assert m["physical_limit"]["gap_model"] == pytest.approx(m["physical_limit"]["accuracy"] - top1)
    assert m["physical_limit"]["prior"] == "unknown (uniform)"
    assert m["abstention"]["acc_at_50"] >= 0.0 and len(m["abstention"]["curve"]["coverage"]) == 40
    # without the uncalibrated probabilities, the card's temperature recovers them
    again = trust_metrics(y, softmax(z, 1.7), card)
    assert again["calibration"]["ece_uncalibrated"] == pytest.approx(
        m["calibration"]["ece_uncalibrated"]
    )


# --------------------------------------------------------------- bundle and the views


def _card(arch: str, classes: list[int]) -> dict:
    return {
        "name": arch,
        "arch": arch,
        "classes": classes,
        "input_size": 32,
        "input_mode": "shaped",
        "imbalance": "class_weights",
    }


@pytest.mark.parametrize(("arch", "align"), [("msdn", False), ("msdn", True), ("vgg", False)])
def test_views_of_all_three_beams_are_the_model(arch, align):
    torch.manual_seed(0)
    kw = {"align_streams": True} if align else {}
    model = build_model(
        arch, 4, growth=4, blocks=[1, 1], stem=8, dropout=0.0, input_size=32, **kw
    )  # fmt: skip
    card = _card(arch, [1, 2, 14, 225])
    images = np.random.default_rng(1).integers(0, 255, (5, 3, 2, 32, 32), dtype=np.uint8)
    v = view_logits(model, card, images, batch_size=2)
    assert set(v) == set(SUBSETS) and len(SUBSETS) == 7
    assert v[(0, 1, 2)] == pytest.approx(predict_logits(model, card, images), abs=1e-4)
    if arch == "msdn":  # the streams' heads add up
        assert v[(0, 1)] + v[(2,)] == pytest.approx(v[(0, 1, 2)], abs=1e-4)
    assert not np.allclose(v[(0,)], v[(1,)])
    rows = views_table(v, np.array([0, 1, 2, 3, 0]), card)
    assert [r["beams"] for r in rows] == ["x", "y", "z", "x+y", "x+z", "y+z", "x+y+z"]
    assert subset_name((0, 2)) == "x+z"
    full = (v[(0, 1, 2)].argmax(1) == np.array([0, 1, 2, 3, 0])).mean()
    assert rows[-1]["sg_top1"] == pytest.approx(full)


def test_inference_logits_add_the_prior_then_divide_by_the_temperature():
    card = {"logit_adjustment": [np.log(0.8), np.log(0.2)], "calibration": {"temperature": 2.0}}
    z = np.array([[0.0, 1.0]])
    assert inference_logits(z, card) == pytest.approx((z + np.log([0.8, 0.2])) / 2)
    assert inference_logits(z, card, calibrated=False) == pytest.approx(z + np.log([0.8, 0.2]))
    assert inference_logits(z, {}) == pytest.approx(z)
    torch.manual_seed(0)
    model = build_model("msdn", 2, growth=4, blocks=[1], stem=8, dropout=0.0, input_size=32)
    images = np.zeros((3, 3, 2, 32, 32), dtype=np.uint8)
    c = {**_card("msdn", [1, 2]), **card}
    p = predict_proba(model, c, images)
    assert p == pytest.approx(softmax(inference_logits(predict_logits(model, c, images), c)))
    assert p.sum(axis=1) == pytest.approx(1.0)


def test_hierarchy_summary_of_one_prediction():
    p = np.array([0.05, 0.1, 0.25, 0.3, 0.3, 0.0])
    s = {r["level"]: (r["value"], r["probability"]) for r in hierarchy_summary(p, CLASSES)}
    assert s["crystal_system"] == ("cubic", pytest.approx(0.6))
    assert s["diffraction_symbol"] == ("m-3m (209/216/225)", pytest.approx(0.6))
    assert s["space_group"] == ("216", pytest.approx(0.3))  # tie 216/225: the first
    assert list(s) == [
        "crystal_system",
        "bravais_lattice",
        "laue_class",
        "point_group",
        "diffraction_symbol",
        "space_group",
    ]
