"""Per-step scores -> one solution score, in one function (as in huggingface/search-and-learn).

    aggregate(scores, how)   how: "min" | "prod" | "last" | "mean"

"min" and "prod" punish any bad step (PRM best-of-N), "last" reads the final step (what an ORM's
single score is), "mean" averages. An ORM's one-element list gives the same value for every rule.
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
    """
    if not scores:
        raise ValueError("aggregate: a solution with no scored steps has no score")
    if how == "min":
        return float(min(scores))
    if how == "prod":
        return float(math.prod(scores))
    if how == "last":
        return float(scores[-1])
    if how == "mean":
        return float(sum(scores) / len(scores))
    raise ValueError(f"aggregate: unknown rule {how!r}; choose from {list(AGGREGATIONS)}")
