"""Metrics by hand: ProcessBench F1 on a 6-item fixture, threshold tuning, AUROC, bootstrap CI."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hiero.evaluation.metrics import (
    auroc,
    bootstrap_ci,
    first_error_prediction,
    processbench_scores,
    roc_points,
    tune_threshold,
)
from hiero.evaluation.processbench import Item, _labels_from_first_error, evaluate

# (label, step scores): the 6-item ProcessBench fixture
FIXTURE = [
    (-1, [0.9, 0.8]),        # 1 correct item, every score >= 0.5      -> pred -1  right
    (-1, [0.9, 0.3]),        # 2 correct item, step 1 below 0.5        -> pred  1  wrong
    (-1, [0.6, 0.7, 0.55]),  # 3 correct item                          -> pred -1  right
    (1, [0.9, 0.2, 0.1]),    # 4 error at 1, first score < 0.5 is 1    -> pred  1  right
    (0, [0.7, 0.4]),         # 5 error at 0, but step 0 scores 0.7     -> pred  1  wrong
    (2, [0.8, 0.9, 0.6]),    # 6 error at 2, nothing below 0.5         -> pred -1  wrong
]


def test_processbench_f1_by_hand():
    """Threshold 0.5: predictions [-1, 1, -1, 1, 1, -1].
    Correct items (1-3): 2 of 3 predicted -1 -> acc_correct = 2/3.
    Erroneous items (4-6): only item 4 exact -> acc_error = 1/3.
    F1 = 2·(1/3)(2/3) / (1/3 + 2/3) = 4/9 ≈ 0.4444."""
    preds = [first_error_prediction(s, 0.5) for _, s in FIXTURE]
    assert preds == [-1, 1, -1, 1, 1, -1]
    m = processbench_scores(preds, [y for y, _ in FIXTURE])
    assert m["acc_correct"] == pytest.approx(2 / 3)
    assert m["acc_error"] == pytest.approx(1 / 3)
    assert m["f1"] == pytest.approx(4 / 9)
    assert (m["n_error"], m["n_correct"]) == (3, 3)


def test_threshold_tuning_by_hand():
    """F1 as a function of the threshold t (a step is an error when its score < t):
    t <= 0.2: every item predicted -1 -> acc_error 0 -> F1 0.
    (0.2, 0.3]: correct 3/3, errors: item 4 -> 1/3 -> F1 = 2·1·(1/3)/(4/3) = 0.5.
    (0.3, 0.55]: 2/3 and 1/3 -> 4/9.   (0.55, 0.6]: 1/3 and 1/3 -> 1/3.
    (0.6, 0.7]: 1/3 and 2/3 (items 4, 6) -> 4/9.   (0.7, 0.8]: 1/3 and 3/3 -> 0.5.
    (0.8, 0.9]: no correct item survives -> 0.
    Best F1 0.5, first reached on the 0.01 grid at t = 0.21."""
    t, f1 = tune_threshold([s for _, s in FIXTURE], [y for y, _ in FIXTURE])
    assert t == pytest.approx(0.21)
    assert f1 == pytest.approx(0.5)
    # raw (regression-head) scores outside [0, 1]: midpoints between distinct scores are the grid
    t2, f2 = tune_threshold([[3.0, -1.0], [2.0, 2.5]], [1, -1])
    assert f2 == pytest.approx(1.0) and -1.0 < t2 <= 2.0
    with pytest.raises(ValueError):  # only erroneous items: F1 undefined at every threshold
        tune_threshold([[0.1], [0.9]], [0, 0])


def test_step_auroc_on_fixture():
    """Step labels from first errors: before the error 1, at it 0, after it unknown (left out).
    Positives (10): 0.9 0.8 | 0.9 0.3 | 0.6 0.7 0.55 | 0.9 | 0.8 0.9. Negatives: 0.2, 0.7, 0.6.
    Pairs won: vs 0.2 all 10; vs 0.7: six above + one tie (0.5) = 6.5; vs 0.6: seven above + one
    tie = 7.5. AUROC = 24 / 30 = 0.8."""
    items = [Item(str(i), "q", ["s"] * len(s), y, _labels_from_first_error(len(s), y))
             for i, (y, s) in enumerate(FIXTURE)]
    res = evaluate(items, [s for _, s in FIXTURE], 0.5)
    assert res["auroc_step"] == pytest.approx(0.8)
    assert res["n_labelled_steps"] == 13
    assert res["f1"] == pytest.approx(4 / 9)


def test_auroc_edge_cases():
    assert auroc([0.1, 0.2], [1, 1]) is None
    assert auroc([0.2, 0.1], [1, 0]) == 1.0
    assert auroc([0.1, 0.2], [1, 0]) == 0.0
    assert auroc([0.3, 0.3, 0.3], [1, 0, 1]) == 0.5


def test_processbench_scores_one_kind_only():
    m = processbench_scores([-1, 0], [-1, -1])
    assert m["acc_correct"] == 0.5 and m["acc_error"] is None and m["f1"] is None
    assert processbench_scores([1, 2], [0, 2])["acc_error"] == 0.5
    with pytest.raises(ValueError):
        processbench_scores([1], [1, 2])


def test_bootstrap_ci_brackets_the_mean():
    """Half right: the mean is 0.5; with 200 problems the 95% interval is about ±1.96·0.5/√200 ≈ ±0.07."""
    x = [1.0, 0.0] * 100
    lo, hi = bootstrap_ci(x, n_boot=2000, seed=0)
    assert lo < 0.5 < hi
    assert 0.04 < 0.5 - lo < 0.1 and 0.04 < hi - 0.5 < 0.1
    assert bootstrap_ci([1.0] * 10) == (1.0, 1.0)  # no spread, no interval
    assert bootstrap_ci([0.3]) == (0.3, 0.3)
    assert all(math.isnan(v) for v in bootstrap_ci([]))


def test_roc_points_area_equals_auroc_with_ties_and_thinning():
    rng = np.random.default_rng(3)
    scores = rng.integers(0, 20, 500) / 20  # many ties
    labels = (rng.random(500) < 0.3 + 0.5 * scores).astype(int)
    full = roc_points(scores, labels, max_points=10_000)
    area = np.trapezoid(full["tpr"], full["fpr"])
    assert area == pytest.approx(auroc(scores, labels), abs=1e-4)  # points are rounded to 4 places
    assert (full["fpr"][0], full["tpr"][0], full["fpr"][-1], full["tpr"][-1]) == (0.0, 0.0, 1.0, 1.0)
    assert all(np.diff(full["fpr"]) >= 0) and all(np.diff(full["tpr"]) >= 0)
    thin = roc_points(rng.random(1000), rng.integers(0, 2, 1000), max_points=51)
    assert len(thin["fpr"]) <= 51 and thin["fpr"][-1] == 1.0
    assert roc_points([0.1, 0.2], [1, 1]) is None
