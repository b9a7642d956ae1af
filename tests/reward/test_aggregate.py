"""aggregate(scores, how): hand-computed values, doctests, and bad input."""

import doctest
import math

import pytest

import hiero.reward.aggregate as agg_module
from hiero.reward.aggregate import AGGREGATIONS, aggregate


def test_doctests():
    result = doctest.testmod(agg_module)
    assert result.attempted >= 5 and result.failed == 0


def test_values_by_hand():
    """[0.5, 0.2, 1.0]: min 0.2, prod 0.1, last 1.0, mean 1.7/3 = 0.566667."""
    s = [0.5, 0.2, 1.0]
    assert aggregate(s, "min") == 0.2
    assert aggregate(s, "prod") == pytest.approx(0.1)
    assert aggregate(s, "last") == 1.0
    assert aggregate(s, "mean") == pytest.approx(0.566667, abs=1e-6)


def test_orm_single_score_is_the_same_under_every_rule():
    assert {aggregate([0.37], how) for how in AGGREGATIONS} == {0.37}


def test_raw_mse_scores_are_allowed_and_order_matters_only_for_last():
    assert aggregate([1.2, -0.3], "min") == -0.3 and aggregate([-0.3, 1.2], "last") == 1.2
    assert math.isclose(aggregate([1.2, -0.3], "prod"), -0.36)


def test_bad_input():
    with pytest.raises(ValueError, match="no scored steps"):
        aggregate([], "min")
    with pytest.raises(ValueError, match="unknown rule"):
        aggregate([0.5], "max")
