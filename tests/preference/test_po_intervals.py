"""Intervals of `hiero po eval`: per-model accuracy and the paired difference to the first model."""

import pytest

from hiero.preference.evaluate import accuracy_intervals


def test_paired_difference_and_its_interval():
    base = [True, False] * 50                   # 50%
    dpo = [True, True] + base[2:]               # one more right answer: +1 point on 100 problems
    ci, vs = accuracy_intervals({"base": base, "dpo": dpo})
    assert vs["dpo"]["than"] == "base" and vs["dpo"]["delta"] == pytest.approx(0.01)
    # paired by problem: the difference is one problem's flip, so its interval lies in [0, 0.03];
    # the two accuracies' own intervals are some ±10 points wide and overlap almost entirely
    lo, hi = vs["dpo"]["ci95"]
    assert 0.0 <= lo <= 0.01 <= hi <= 0.03
    assert ci["base"][0] < 0.45 and ci["base"][1] > 0.55 and ci["base"][0] <= 0.5 <= ci["base"][1]
    assert "base" not in vs


def test_identical_models_differ_by_exactly_zero():
    hits = [True, False, False, True, True]
    ci, vs = accuracy_intervals({"a": hits, "b": list(hits), "c": [not h for h in hits]})
    assert vs["b"] == {"than": "a", "delta": 0.0, "ci95": [0.0, 0.0]}
    assert vs["c"]["delta"] == pytest.approx(-0.2)
    assert ci["a"] == ci["b"]


def test_models_on_different_problem_sets_are_refused():
    with pytest.raises(ValueError, match="different numbers of problems"):
        accuracy_intervals({"a": [True], "b": [True, False]})
