"""The built-in domain's restate style: givens line, equations, answer sentence, each segment checked
on its own (hiero.domains.builtin.segment_checks), noise per segment, and the pairs that differ in one
segment."""

import random

import pytest

from hiero.domains import builtin as S
from hiero.evaluation.domain_checks import segment_quality
from hiero.preference.pairs import pairs_from_segments
from hiero.preference.segment import HeuristicSegmenter
from hiero.types import Problem, Solution


def _problem(start, ops, name="Max", obj="stickers"):
    return Problem(
        id="t",
        question="q",
        answer=str(S.run_program({"start": start, "ops": ops})[-1]),
        source="synth",
        meta={"program": {"start": start, "ops": ops}, "name": name, "object": obj, "style": "restate"},
    )


P = _problem(5, [["-", 1], ["/", 2], ["*", 3]])  # 5 - 1 = 4, 4 / 2 = 2, 2 * 3 = 6
RIGHT = ["Givens: 5, minus 1, divided by 2, times 3.", "5 - 1 = 4", "4 / 2 = 2", "2 * 3 = 6",
         "The final count is 6, so the answer is 6"]


def test_the_style_changes_the_writing_not_the_problems():
    plain = S.generate_problems(300, seed=4, max_value=30)
    restate = S.generate_problems(300, seed=4, max_value=30, style="restate")
    assert [(p.id, p.question, p.answer, p.meta["program"]) for p in plain] == \
           [(p.id, p.question, p.answer, p.meta["program"]) for p in restate]
    assert "style" not in plain[0].meta and restate[0].meta["style"] == "restate"
    for p in restate:
        assert S.is_givens(p.steps[0]) and p.steps[-1].startswith("The final count is ")
        assert all(S.check_steps(p, p.steps))
        assert S.segment_checks(p, p.steps) | {"equations": 0, "equations_right": 0} == {
            "clarification": True, "reasoning": True, "answer": True, "equations": 0, "equations_right": 0}
        assert S.is_correct(p, S.extract_answer(p.steps[-1]))
    assert S.solve(P) == RIGHT
    with pytest.raises(ValueError, match="style"):
        S.generate_problems(3, seed=0, style="fancy")


@pytest.mark.parametrize(
    "steps, truth, kinds, checks",
    [
        (RIGHT, [1, 1, 1, 1, 1], [None] * 5, (True, True, True, 3)),
        # a misread number: the reasoning follows the givens as stated, so it is right on its own terms
        (
            [
                "Givens: 7, minus 1, divided by 2, times 3.",
                "7 - 1 = 6",
                "6 / 2 = 3",
                "3 * 3 = 9",
                "The final count is 9, so the answer is 9",
            ],
            [0, 0, 0, 0, 0],
            ["givens", "carried", "carried", "carried", "carried"],
            (False, True, True, 3),
        ),
        (
            [
                "Givens: 6, minus 1, divided by 5, times 3.",
                "6 - 1 = 5",
                "5 / 5 = 1",
                "1 * 3 = 3",
                "The final count is 3, so the answer is 3",
            ],
            [0, 0, 0, 0, 0],
            ["givens", "carried", "operand", "carried", "carried"],
            (False, True, True, 3),
        ),
        # a misread operation
        (
            [
                "Givens: 5, plus 1, divided by 2, times 3.",
                "5 + 1 = 6",
                "6 / 2 = 3",
                "3 * 3 = 9",
                "The final count is 9, so the answer is 9",
            ],
            [0, 0, 0, 0, 0],
            ["givens", "operand", "carried", "carried", "carried"],
            (False, True, True, 3),
        ),
        # an arithmetic slip in the reasoning, faithfully copied into the answer
        (
            [
                "Givens: 5, minus 1, divided by 2, times 3.",
                "5 - 1 = 4",
                "4 / 2 = 2",
                "2 * 3 = 7",
                "The final count is 7, so the answer is 7",
            ],
            [1, 1, 1, 0, 0],
            [None, None, None, "arithmetic", "carried"],
            (True, False, True, 2),
        ),
        # the value mis-copied into the answer clause; the sentence without its answer
        (
            RIGHT[:-1] + ["The final count is 6, so the answer is 5"],
            [1, 1, 1, 1, 0],
            [None] * 4 + ["answer"],
            (True, True, False, 3),
        ),
        (
            RIGHT[:-1] + ["The final count is 6."],
            [1, 1, 1, 1, 0],
            [None] * 4 + ["format"],
            (True, True, False, 3),
        ),
        (
            RIGHT[:-1] + ["The final count is 5, so the answer is 6"],
            [1, 1, 1, 1, 1],
            [None] * 5,
            (True, True, False, 3),
        ),
        # a givens line that does not parse, and no answer at all
        (
            ["Givens: 5, less 1, halved, times 3.", "5 - 1 = 4"],
            [0, 1],
            ["givens", None],
            (False, False, False, 1),
        ),
    ],
)
def test_each_segment_is_checked_on_its_own_terms(steps, truth, kinds, checks):
    assert [int(x) for x in S.check_steps(P, steps)] == truth
    assert S.error_kinds(P, steps) == kinds
    got = S.segment_checks(P, steps)
    assert (got["clarification"], got["reasoning"], got["answer"], got["equations_right"]) == checks


def test_segment_spans_tile_the_text_and_match_the_heuristic_on_right_solutions():
    text = "\n".join(RIGHT)
    spans = S.segment_spans(RIGHT)
    assert text[slice(*spans["clarification"])] == RIGHT[0] + "\n"
    assert text[slice(*spans["answer"])] == RIGHT[-1]
    assert spans["clarification"][1] == spans["reasoning"][0] and spans["reasoning"][1] == spans["answer"][0]
    for p in S.generate_problems(50, seed=1, style="restate"):
        assert HeuristicSegmenter().segment("", "\n".join(p.steps)) == S.segment_spans(p.steps)
    # a malformed answer sentence is still the answer segment (the heuristic finds no answer cue in it)
    bad = RIGHT[:-1] + ["The final count is 6."]
    assert "\n".join(bad)[slice(*S.segment_spans(bad)["answer"])] == "The final count is 6."
    no_answer = RIGHT[:3]
    assert S.segment_spans(no_answer)["answer"][0] == S.segment_spans(no_answer)["answer"][1]


def test_noise_goes_where_it_is_asked_at_the_asked_rates():
    problems = S.generate_problems(1500, seed=2, max_value=30, style="restate")
    rng = random.Random(0)
    sols = [S.render_noisy_solution(p, rng, 0.1, 0.0, p_restate=0.3, p_answer=0.2) for p in problems]
    wrong = {k: 0 for k in S.SEGMENTS}
    for p, s in zip(problems, sols, strict=True):
        checks = S.segment_checks(p, s.steps)
        for k in S.SEGMENTS:
            # a segment written wrong on purpose is found wrong, and only those (p_correction 0)
            assert (not checks[k]) == s.meta["wrong_segments"][k], (s.steps, checks)
            wrong[k] += not checks[k]
        if all(checks[k] for k in S.SEGMENTS):
            assert s.correct and s.labels == [1] * len(s.steps)
        assert s.labels == [int(x) for x in S.check_steps(p, s.steps)]
    n = len(sols)
    assert 0.26 < wrong["clarification"] / n < 0.34  # a misread is found for almost every program
    assert 0.16 < wrong["answer"] / n < 0.24
    assert 0.15 < wrong["reasoning"] / n < 0.35  # 0.1 per equation, 2-3 equations
    assert sum(s.correct for s in sols) / n < 0.6


def test_restate_corrections_are_right_steps_and_resume_from_the_stated_program():
    problems = S.generate_problems(600, seed=4, max_value=30, style="restate")
    rng = random.Random(1)
    n_checks = 0
    for p in problems:
        s = S.render_noisy_solution(p, rng, 0.4, 0.6, p_restate=0.2)
        assert s.labels == [int(x) for x in S.check_steps(p, s.steps)]
        start, ops = S.parse_givens(s.steps[0])
        stated = [start]
        for op, k in ops:
            stated.append(S.apply_op(stated[-1], op, k))
        for i in s.meta["corrections"]:
            # the right version of the step just taken under the givens as stated; the checker
            # (the true program) agrees whenever the givens were read right
            j = sum(S.parse_equation(x) is not None for x in s.steps[1:i])
            assert S.parse_equation(s.steps[i][len("Check: "):].split(", not")[0]) == (
                stated[j - 1], *ops[j - 1], stated[j]), s.steps
            if not s.meta["wrong_segments"]["clarification"]:
                assert s.labels[i] == 1, s.steps
            n_checks += 1
    assert n_checks > 100  # corrections after slips and after a wrong value that does not divide


def test_restate_noise_needs_the_restate_style():
    plain = S.generate_problems(2, seed=0)[0]
    with pytest.raises(ValueError, match="restate"):
        S.render_noisy_solution(plain, random.Random(0), 0.1, 0.5, p_restate=0.2)
    with pytest.raises(ValueError, match="p_answer"):
        S.render_noisy_solution(P, random.Random(0), 0.1, 0.5, p_answer=1.5)


def test_plain_noise_is_unchanged_by_the_new_arguments():
    problems = S.generate_problems(100, seed=5)
    a = [S.render_noisy_solution(p, random.Random(f"x{i}"), 0.3, 0.5).steps for i, p in enumerate(problems)]
    b = [
        S.render_noisy_solution(p, random.Random(f"x{i}"), 0.3, 0.5, 0.0, 0.0).steps
        for i, p in enumerate(problems)
    ]
    assert a == b


def _sol(steps, pid="t"):
    answer = S.extract_answer(steps[-1])
    return Solution(problem_id=pid, steps=steps, answer=answer, correct=S.is_correct(P, answer), question="q")


def test_pairs_differ_in_one_known_segment():
    misread = ["Givens: 5, plus 1, divided by 2, times 3.", "5 + 1 = 6", "6 / 2 = 3", "3 * 3 = 9",
               "The final count is 9, so the answer is 9"]
    slip = RIGHT[:3] + ["2 * 3 = 7", "The final count is 7, so the answer is 7"]
    miscopy = RIGHT[:-1] + ["The final count is 6, so the answer is 5"]
    two_wrong = slip[:-1] + ["The final count is 7."]
    sols = [_sol(x) for x in (RIGHT, misread, slip, miscopy, two_wrong, slip)]
    pairs = pairs_from_segments(sols, {"t": P}, max_per_problem=5, seed=0)
    assert sorted(p.meta["segment"] for p in pairs) == [
        "answer",
        "clarification",
        "reasoning",
    ]  # one each, no dup
    by = {p.meta["segment"]: p for p in pairs}
    assert by["clarification"].rejected == "\n".join(misread)
    assert by["reasoning"].rejected == "\n".join(slip) and by["answer"].rejected == "\n".join(miscopy)
    for p in pairs:
        assert p.chosen == "\n".join(RIGHT) and p.prompt.startswith("Question: q")
        c, r = p.chosen_segments, p.rejected_segments
        assert p.chosen[slice(*c["clarification"])] == RIGHT[0] + "\n"
        assert p.rejected[slice(*r["answer"])] == p.rejected.splitlines()[-1]
    assert len(pairs_from_segments(sols, {"t": P}, max_per_problem=1)) == 1
    # no pair without a solution right in every segment
    assert pairs_from_segments([_sol(misread), _sol(slip)], {"t": P}) == []
    with pytest.raises(ValueError, match="no such problem"):
        pairs_from_segments([_sol(RIGHT, pid="other")], {"t": P})


def test_segment_quality_reports_each_segment():
    texts = ["\n".join(RIGHT), "\n".join(RIGHT[:-1] + ["The final count is 6."]),
             "\n".join(["Givens: 5, plus 1, divided by 2, times 3.", "5 + 1 = 6", "6 / 2 = 3", "3 * 3 = 9",
                        "The final count is 9, so the answer is 9"]),
             "\n".join(RIGHT[:3] + ["2 * 3 = 7", "The final count is 7, so the answer is 7"])]
    q = segment_quality([P] * 4, texts)
    assert q["by_segment"] == {"clarification": 0.75, "reasoning": 0.75, "answer": 0.75}
    assert q["equation_accuracy"] == round(11 / 12, 4) and q["answer_right"] == 0.25
    plain = S.generate_problems(2, seed=0)
    assert segment_quality(plain, ["\n".join(p.steps) for p in plain])["by_segment"] == {
        "clarification": 1.0, "reasoning": 1.0, "answer": 1.0}
