"""The reward-model scoring protocol, shared by search strategies and evaluation.

    scorer.score(questions, solutions) -> per-step scores
        questions: list[str] (B), solutions: list[list[str]] (B, steps per solution)
        returns list (B) of list[float]: one score per step for PRM/HRM (higher = better);
        an ORM returns a one-element list per solution (the whole-solution score)

`kind` is "orm", "prm" or "hrm"; step-level search needs a per-step scorer (prm/hrm).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class Scorer(Protocol):
    kind: str

    def score(self, questions: list[str], solutions: list[list[str]]) -> list[list[float]]: ...
