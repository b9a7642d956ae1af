"""Per-step scores -> one solution score, in one function (as in huggingface/search-and-learn).

    aggregate(scores, how)   how: "min" | "prod" | "last" | "mean"

"min" and "prod" punish any bad step (PRM best-of-N), "last" reads the final step (what an ORM's
single score is), "mean" averages. An ORM's one-element list gives the same value for every rule.
"prod" multiplies probabilities (P(every step right) if they were independent): it refuses a score
outside [0, 1], and `aggregations_for(scorer)` leaves it out for a scorer whose scores are not
probabilities (hiero.reward.base); min / last / mean only order scores and take any scale.
"""

from __future__ import annotations

import math
from typing import Literal

How = Literal["min", "prod", "last", "mean"]
AGGREGATIONS: tuple[str, ...] = ("min", "prod", "last", "mean")


def aggregate(scores: list[float], how: How = "min") -> float:
    """Combine one solution's per-step scores.

    >>> aggregate([0.9, 0.5, 0.8], "min")
    0.5
    >>> round(aggregate([0.9, 0.5, 0.8], "prod"), 6)
    0.36
    >>> aggregate([0.9, 0.5, 0.8], "last")
    0.8
    >>> round(aggregate([0.9, 0.5, 0.8], "mean"), 6)
    0.733333
    >>> aggregate([0.7], "prod")
    0.7
    >>> aggregate([-2.0, -1.0], "prod")
    Traceback (most recent call last):
    ...
    ValueError: aggregate prod multiplies probabilities; a step score of -2 is not one (use min, last or ...
    """
    if not scores:
        raise ValueError("aggregate: a solution with no scored steps has no score")
    if how == "min":
        return float(min(scores))
    if how == "prod":
        bad = next((x for x in scores if not 0.0 <= x <= 1.0), None)
        if bad is not None:
            raise ValueError(f"aggregate prod multiplies probabilities; a step score of {bad:g} is not one "
                             "(use min, last or mean for scores that are not probabilities)")
        return float(math.prod(scores))
    if how == "last":
        return float(scores[-1])
    if how == "mean":
        return float(sum(scores) / len(scores))
    raise ValueError(f"aggregate: unknown rule {how!r}; choose from {list(AGGREGATIONS)}")


def aggregations_for(scorer) -> tuple[str, ...]:
    """The rules that mean something for `scorer`'s scores: all for probabilities, no "prod" otherwise."""
    from hiero.reward.base import is_probability

    return AGGREGATIONS if is_probability(scorer) else tuple(a for a in AGGREGATIONS if a != "prod")
