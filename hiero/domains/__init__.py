"""Domains: how a problem's answers are read and graded, and whether its steps can be checked.

    domain_of(problem) -> Domain        by `problem.source`; general math for every unknown source
    answer_of(problem, text) -> (answer or None, correct)

A domain implements the `Domain` protocol (hiero/domains/base.py). Two ship: the built-in
arithmetic domain (`builtin.py`, source "synth": exact integers, every step checkable) and general
math (`math.py`: hiero.grading, math-verify equivalence, no step truth). Every stage that reads or
grades an answer asks `domain_of(problem)`: tree search, test-time search, sampling, evaluation.

Adding a domain is adding one file here that defines `DOMAIN` (an object with the protocol's
methods) with `DOMAIN.sources`, the `problem.source` values it serves: the modules of this package
are discovered on first use.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from hiero.domains.base import Domain
from hiero.domains.math import DOMAIN as MATH
from hiero.types import Problem

__all__ = ["Domain", "answer_of", "discover", "domain_of", "registry"]


def discover(package: str) -> dict[str, Domain]:
    """source -> domain, from every module of `package` that defines DOMAIN."""
    out: dict[str, Domain] = {}
    for info in pkgutil.iter_modules(importlib.import_module(package).__path__):
        domain = getattr(importlib.import_module(f"{package}.{info.name}"), "DOMAIN", None)
        for source in getattr(domain, "sources", ()):
            if source in out:
                raise ValueError(f"problem source {source!r} claimed by two domains: {out[source].name}, {domain.name}")
            out[source] = domain
    return out


@cache
def registry() -> dict[str, Domain]:
    """source -> domain for the domains shipped in this package."""
    return discover(__name__)


def domain_of(problem: Problem) -> Domain:
    """The domain serving `problem.source` (general math when none claims it)."""
    return registry().get(problem.source, MATH)


def answer_of(problem: Problem, text: str) -> tuple[str | None, bool]:
    """The final answer a whole solution text states, and whether it is right."""
    d = domain_of(problem)
    answer = d.extract_answer(text)
    return answer, d.is_correct(problem, answer)
