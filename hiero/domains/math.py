"""General math (GSM8K, MATH, PRM800K, ProcessBench, any Problem JSONL): answers read and compared
by hiero.grading (boxed / "The answer is" / "####" / "# Answer", math-verify equivalence); steps
cannot be checked.

A step states a final answer only with an explicit marker ("####", \\boxed, \\fbox, "answer is"),
or as the line after a PRM800K "# Answer" header step: `grading.extract_answer` would otherwise fall
back to the last number, which nearly every step has."""

from __future__ import annotations

import re

from hiero import grading
from hiero.types import Problem

_EXPLICIT_ANSWER = re.compile(r"####|\\boxed|\\fbox|answer is", re.IGNORECASE)
_ANSWER_HEADER = re.compile(r"^\s*#\s*Answer\s*$", re.IGNORECASE)


class MathDomain:
    name = "general math"
    checks_steps = False

    def extract_answer(self, text: str | None) -> str | None:
        return grading.extract_answer(text)

    def is_correct(self, problem: Problem, answer: str | None) -> bool:
        return answer is not None and bool(grading.is_equiv(answer, problem.answer))

    def same_answer(self, problem: Problem, a: str, b: str) -> bool:
        return a.strip() == b.strip() or bool(grading.is_equiv(a, b))

    def stated_answer(self, steps: list[str]) -> str | None:
        if not steps:
            return None
        step = steps[-1]
        if len(steps) > 1 and _ANSWER_HEADER.match(steps[-2]) and step.strip():
            return grading.extract_answer("\n".join(steps[-2:]))
        return grading.extract_answer(step) if _EXPLICIT_ANSWER.search(step) else None

    def step_truth(self, problem: Problem, steps: list[str]) -> list[bool] | None:
        return None

    def error_kinds(self, problem: Problem, steps: list[str]) -> list[str | None] | None:
        return None

    def segment_checks(self, problem: Problem, steps: list[str]) -> dict | None:
        return None


DOMAIN = MathDomain()
