"""The built-in domain's ground truth as a `Scorer` (`--rm oracle`): what a perfect PRM would score."""

from __future__ import annotations

from collections.abc import Sequence

from hiero.domains import domain_of
from hiero.types import Problem


class OracleScorer:
    """Ground-truth step scores where the problems' domain checks steps (the built-in domain): 1.0
    for a true step, 0.0 for a wrong one.

    Questions are matched to their Problem by text, so it scores exactly what a trained PRM would
    see. The reference line "oracle" in curves: what a perfect process reward model would choose.
    """

    kind = "prm"
    name = "oracle"
    probability = True  # 1.0 / 0.0: P(step right), known

    def __init__(self, problems: Sequence[Problem]):
        self._by_question = {p.question: p for p in problems if domain_of(p).checks_steps}
        if not self._by_question:
            raise ValueError("the oracle scorer needs problems whose domain checks steps (source 'synth')")

    def score(self, questions: list[str], solutions: list[list[str]]) -> list[list[float]]:
        out = []
        for q, steps in zip(questions, solutions, strict=True):
            if q not in self._by_question:
                raise ValueError(f"oracle scorer: unknown question {q[:60]!r}")
            p = self._by_question[q]
            out.append([1.0 if ok else 0.0 for ok in domain_of(p).step_truth(p, list(steps))])
        return out
