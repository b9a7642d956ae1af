"""The `Domain` protocol: what a stage may ask about a problem's answers and steps."""

from __future__ import annotations

from typing import Protocol

from hiero.types import Problem


class Domain(Protocol):
    name: str
    checks_steps: bool  # True when `step_truth` knows every step's truth

    def extract_answer(self, text: str | None) -> str | None:
        """The final answer a whole solution text states (None: none)."""

    def is_correct(self, problem: Problem, answer: str | None) -> bool:
        """Is `answer` right for `problem`? None (no answer stated) is wrong."""

    def same_answer(self, problem: Problem, a: str, b: str) -> bool:
        """Are two stated answers the same answer (for votes)?"""

    def stated_answer(self, steps: list[str]) -> str | None:
        """The answer the LAST of `steps` states, by an explicit marker; None when that step does
        not end the solution (a step holding a number is not an answer)."""

    def step_truth(self, problem: Problem, steps: list[str]) -> list[bool] | None:
        """The truth of every step, where the domain can check steps; else None."""

    def error_kinds(self, problem: Problem, steps: list[str]) -> list[str | None] | None:
        """What kind of error each step makes (None: a right step), where the domain can tell; else None."""

    def segment_checks(self, problem: Problem, steps: list[str]) -> dict | None:
        """Each of HiPO's segments (clarification, reasoning, answer) right or not, checked on its own
        terms, where the domain can tell (hiero.domains.builtin.segment_checks); else None."""
