"""Domains: how a problem's answers are read and graded, and whether its steps can be checked.

    domain_of(problem) -> Domain        by `problem.source` in DOMAINS; general math for every other source
    answer_of(problem, text) -> (answer or None, correct)

A domain implements the `Domain` protocol (hiero/domains/base.py). Two ship: the built-in
arithmetic domain (`builtin/`, source "synth": exact integers, every step checkable) and general
math (`math.py`: hiero.grading, math-verify equivalence, no step truth). Every stage that reads or
grades an answer asks `domain_of(problem)`: tree search, test-time search, sampling, evaluation.

Adding a domain is one object with the protocol's methods and one row in DOMAINS (source -> domain).
"""

from __future__ import annotations

from hiero.domains.base import Domain
from hiero.domains.builtin import DOMAIN as BUILTIN
from hiero.domains.math import DOMAIN as MATH
from hiero.types import Problem

__all__ = ["DOMAINS", "Domain", "answer_of", "domain_of"]

DOMAINS: dict[str, Domain] = {"synth": BUILTIN}  # problem.source -> domain; any other source: MATH


def domain_of(problem: Problem) -> Domain:
    """The domain serving `problem.source` (general math when none claims it)."""
    return DOMAINS.get(problem.source, MATH)


def answer_of(problem: Problem, text: str) -> tuple[str | None, bool]:
    """The final answer a whole solution text states, and whether it is right."""
    d = domain_of(problem)
    answer = d.extract_answer(text)
    return answer, d.is_correct(problem, answer)
