"""The built-in arithmetic domain (source "synth", hiero.data.synth): integer answers, every step
checked against the story's program."""

from __future__ import annotations

from hiero.data import synth
from hiero.types import Problem


class BuiltinDomain:
    name = "built-in arithmetic"
    sources = ("synth",)
    checks_steps = True

    def extract_answer(self, text: str | None) -> str | None:
        return synth.extract_answer(text)

    def is_correct(self, problem: Problem, answer: str | None) -> bool:
        return answer is not None and bool(synth.is_correct(problem, answer))

    def same_answer(self, problem: Problem, a: str, b: str) -> bool:
        return a.strip() == b.strip()  # normalised integers: equal strings or different answers

    def stated_answer(self, steps: list[str]) -> str | None:
        return synth.extract_answer(steps[-1]) if steps else None

    def states_answer(self, step: str) -> bool:
        return synth.extract_answer(step) is not None

    def step_truth(self, problem: Problem, steps: list[str]) -> list[bool] | None:
        return synth.check_steps(problem, steps)

    def error_kinds(self, problem: Problem, steps: list[str]) -> list[str | None] | None:
        return synth.error_kinds(problem, steps)

    def segment_checks(self, problem: Problem, steps: list[str]) -> dict | None:
        return synth.segment_checks(problem, steps)


DOMAIN = BuiltinDomain()
