"""aggregate(scores, how): hand-computed values, doctests, and bad input."""

import doctest
import math

import pytest

import hiero.reward.aggregate as agg_module
from hiero.reward.aggregate import AGGREGATIONS, aggregate, aggregations_for


def test_doctests():
    result = doctest.testmod(agg_module, optionflags=doctest.ELLIPSIS)
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


def test_raw_mse_scores_are_ordered_but_never_multiplied():
    """min / last / mean only order scores (any scale); prod of 1.2 and -0.3 would be -0.36, a
    "probability" below zero that ranks a solution with a bad step above one with none: refused."""
    assert aggregate([1.2, -0.3], "min") == -0.3 and aggregate([-0.3, 1.2], "last") == 1.2
    assert math.isclose(aggregate([1.2, -0.3], "mean"), 0.45)
    with pytest.raises(ValueError, match="prod multiplies probabilities; a step score of 1.2"):
        aggregate([1.2, -0.3], "prod")


def test_aggregations_left_for_a_scorer_follow_its_declared_scale():
    class Prob:
        probability = True

    class Raw:
        probability = False

    assert aggregations_for(Prob()) == AGGREGATIONS
    assert aggregations_for(Raw()) == ("min", "last", "mean")
    assert aggregations_for(object()) == ("min", "last", "mean")  # undeclared: not a probability


def test_bad_input():
    with pytest.raises(ValueError, match="no scored steps"):
        aggregate([], "min")
    with pytest.raises(ValueError, match="unknown rule"):
        aggregate([0.5], "max")
