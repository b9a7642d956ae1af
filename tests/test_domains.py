"""hiero.domains: the two shipped domains, the DOMAINS table, and one rule for
"this step states the answer" shared by tree annotation (StepJudge) and step search."""

from __future__ import annotations

import pytest

from hiero.domains import DOMAINS, answer_of, domain_of
from hiero.domains import builtin as synth
from hiero.trees.tree import StepJudge
from hiero.types import Problem

MATH = Problem(id="m1", question="What is 2 + 3?", answer="5", source="gsm8k")


def test_the_source_picks_the_domain():
    assert set(DOMAINS) == {"synth"}
    p = synth.generate_problems(1, seed=3, split="test")[0]
    assert domain_of(p).checks_steps and domain_of(p).step_truth(p, p.steps) == [True] * len(p.steps)
    assert domain_of(p).error_kinds(p, p.steps) == [None] * len(p.steps)
    assert answer_of(p, "\n".join(p.steps)) == (p.answer, True)
    d = domain_of(MATH)
    assert d.name == "general math" and not d.checks_steps and d.step_truth(MATH, ["2 + 3 = 5"]) is None
    assert answer_of(MATH, "2 + 3 = 5\nSo the answer is $\\boxed{5}$.") == ("5", True)
    assert d.same_answer(MATH, "0.5", "\\frac{1}{2}") and not d.same_answer(MATH, "5", "6")


@pytest.mark.parametrize(("steps", "answer"), [
    (["2 + 3 = 5"], None),                         # a number is not an answer
    (["2 + 3 = 5", "The answer is 5"], "5"),
    (["so \\boxed{5}"], "5"),
    (["#### 5"], "5"),
    (["2 + 3 = 5", "# Answer"], None),              # PRM800K: the header alone does not end it ...
    (["2 + 3 = 5", "# Answer", "5"], "5"),          # ... the line after it does
])
def test_one_rule_ends_a_solution_in_annotation_and_in_step_search(steps, answer):
    d = domain_of(MATH)
    assert d.stated_answer(steps) == answer
    verdict = StepJudge(MATH).judge(steps, "stop")  # what tree annotation stores
    assert verdict.terminal == (answer is not None) and verdict.answer == answer


def test_adding_a_domain_is_one_row(monkeypatch):
    class Toy:
        name = "toy"
        checks_steps = False

        def extract_answer(self, text):
            return text.split()[-1] if text else None

        def is_correct(self, problem, answer):
            return answer == problem.answer

    monkeypatch.setitem(DOMAINS, "toy", Toy())
    p = Problem(id="t", question="q", answer="5", source="toy")
    assert domain_of(p).name == "toy" and answer_of(p, "it is 5") == ("5", True)
    assert domain_of(MATH).name == "general math"
