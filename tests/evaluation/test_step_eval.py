"""Per-kind error breakdown and step metrics on hand-made solutions with known answers."""

from __future__ import annotations

import pytest

from hiero.domains import builtin as synth
from hiero.evaluation.domain_checks import step_eval, wrong_picks
from hiero.types import Problem, Solution

# start 5, +3 -> 8, *2 -> 16
P = Problem(id="p", question="q", answer="16", source="synth",
            meta={"program": {"start": 5, "ops": [["+", 3], ["*", 2]]}})

RIGHT = ["Start with 5.", "5 + 3 = 8", "8 * 2 = 16", "The answer is 16"]
ARITH = ["Start with 5.", "5 + 3 = 9", "9 * 2 = 18", "The answer is 18"]        # slip, then carried
OPERAND = ["Start with 5.", "5 + 4 = 9", "9 * 2 = 18", "The answer is 18"]      # wrong operand
START = ["Start with 6.", "6 + 3 = 9", "9 * 2 = 18", "The answer is 18"]        # misread start
AFTER = ["Start with 5.", "5 + 3 = 8", "8 * 2 = 16", "The answer is 16", "Also 1 + 1 = 2"]
NOANS = ["Start with 5.", "5 + 3 = 8", "8 * 2 = 17"]                            # slip, no answer


def sol(steps: list[str]) -> Solution:
    ans = synth.extract_answer(steps[-1]) if steps and steps[-1].startswith("The answer") else None
    return Solution(problem_id="p", question="q", steps=steps, answer=ans, correct=synth.is_correct(P, ans))


def test_error_kinds_of_hand_made_solutions():
    assert synth.error_kinds(P, RIGHT) == [None] * 4
    assert synth.error_kinds(P, ARITH) == [None, "arithmetic", "carried", "carried"]
    assert synth.error_kinds(P, OPERAND) == [None, "operand", "carried", "carried"]
    assert synth.error_kinds(P, START) == ["start", "carried", "carried", "carried"]
    assert synth.error_kinds(P, AFTER) == [None, None, None, None, "after_answer"]
    assert synth.error_kinds(P, NOANS) == [None, None, "arithmetic"]
    assert synth.error_kinds(P, ["Start with 5.", "blah", "5 + 3 = 8"])[1] == "format"
    # a kind is given exactly where check_steps says wrong
    for steps in (RIGHT, ARITH, OPERAND, START, AFTER, NOANS):
        assert [k is None for k in synth.error_kinds(P, steps)] == synth.check_steps(P, steps)


def test_per_kind_auroc_sees_what_the_scores_see():
    # a scorer that catches arithmetic slips (0.1) but trusts wrong operands (0.95); right steps 0.9,
    # except one right step at 0.3
    pool = [[sol(RIGHT), sol(ARITH), sol(OPERAND)]]
    scores = [[[0.9, 0.9, 0.3, 0.9], [0.9, 0.1, 0.2, 0.2], [0.9, 0.95, 0.2, 0.2]]]
    out = step_eval([P], pool, scores)
    assert out["n_steps"] == 12 and out["n_wrong_steps"] == 6
    assert out["kinds"]["arithmetic"] == {"n": 1, "auroc": 1.0}  # 0.1 below every right step
    # operand 0.95 is above all six right steps: AUROC 0
    assert out["kinds"]["operand"] == {"n": 1, "auroc": 0.0}
    # carried 0.2 x4: below every right step, 0.3 included -> 1.0
    assert out["kinds"]["carried"] == {"n": 4, "auroc": 1.0}
    # all steps: 6 right vs wrong [0.1, 0.2, 0.2, 0.95, 0.2, 0.2]: 5 of the 6 lie below all right
    # steps, 0.95 above all of them -> 30 of 36 pairs (metrics are rounded to 4 places)
    assert out["auroc"] == round(30 / 36, 4)
    assert out["auroc_within"] == out["auroc"]  # one problem


def test_auroc_within_averages_problems_and_processbench_uses_the_other_half():
    q = Problem(id="q", question="q2", answer="16", source="synth", meta=P.meta)
    # problem 0 (tuning half): slip scored 0.2; problem 1 (reported half): slip scored 0.6
    pool = [[sol(RIGHT), sol(ARITH)], [sol(RIGHT), sol(ARITH)]]
    scores = [[[0.9] * 4, [0.9, 0.2, 0.2, 0.2]], [[0.9] * 4, [0.9, 0.6, 0.6, 0.6]]]
    out = step_eval([P, q], pool, scores)
    assert out["auroc_within"] == 1.0 and out["n_problems_within"] == 2
    # pooled: right 0.9 (8 steps) vs wrong 0.2 x3, 0.6 x3 -> all below -> 1.0
    assert out["auroc"] == 1.0
    # tuned on problem 0: the smallest threshold in (0.2, 0.9] that flags step 1 -> 0.21
    assert out["threshold"] == pytest.approx(0.21)
    # on problem 1 the slip at 0.6 is above 0.21: the error is missed, the right one is kept
    assert (out["acc_error"], out["acc_correct"], out["f1"]) == (0.0, 1.0, 0.0)


def test_step_eval_rejects_misaligned_scores():
    with pytest.raises(ValueError, match="3 scores for 4 steps"):
        step_eval([P], [[sol(RIGHT)]], [[[0.1, 0.2, 0.3]]])


def test_wrong_picks_describes_what_was_chosen():
    pool = [
        [sol(RIGHT), sol(ARITH)],
        [sol(RIGHT), sol(NOANS)],
        [sol(RIGHT), sol(OPERAND)],
        [sol(ARITH), sol(START)],
    ]
    problems = [P, P, P, P]
    out = wrong_picks(problems, pool, chosen=[1, 1, 0, 0])
    # problem 3 has no right solution: not counted; problem 2 picked right
    assert out["n_wrong_with_right_available"] == 2
    assert out["first_error_kind"] == {"arithmetic": 2}
    assert out["no_answer"] == 1 and out["shorter_than_story"] == 1
    assert out["mean_steps_picked"] == 3.5 and out["mean_steps_right"] == 4.0
    assert out["mean_first_error"] == 1.5


def test_segment_quality_counts_each_segment_by_hand():
    from hiero.evaluation.domain_checks import segment_quality

    p = synth.generate_problems(1, seed=4, split="test", min_ops=2, max_ops=2)[0]
    ref = synth.solve(p)  # context, two equations, answer
    a, op, k, c = synth.parse_equation(ref[1])
    wrong_eq = f"{a} {op} {k} = {c + 1}"  # arithmetic slip at step 1; what follows carries the slip
    texts = ["\n".join(ref),                                   # all right
             "\n".join([ref[0], wrong_eq, "The answer is 0"]),  # first error at 1, answer wrong
             "\n".join(["Start with 999.", *ref[1:]])]          # clarification wrong, first error at 0
    q = segment_quality([p] * 3, texts)
    assert q["n"] == 3
    assert q["clarification_right"] == round(2 / 3, 4)
    assert q["all_steps_right"] == round(1 / 3, 4)
    assert q["mean_first_error"] == 0.5
    assert q["answer_right"] == round(2 / 3, 4)  # the third restates a wrong start, then goes on right
    assert q["first_error_kind"] == {"arithmetic": 1, "start": 1}  # the clean solution counts under no kind
    truth = [synth.check_steps(p, t.split("\n")) for t in texts]
    assert q["step_accuracy"] == round(sum(map(sum, truth)) / sum(map(len, truth)), 4)


def test_a_score_that_only_falls_with_depth_is_caught_by_the_controlled_metrics():
    # every wrong step is at index >= 1 and the scores fall with the index, whatever the step says:
    # pooled AUROC looks good, right vs wrong at the same index is chance, and so is ranking the
    # right solution above the wrong ones by their min score
    pool = [[sol(RIGHT), sol(ARITH), sol(OPERAND)], [sol(RIGHT), sol(ARITH), sol(OPERAND)]]
    depth = [[[1.0 - 0.2 * j for j in range(len(s.steps))] for s in row] for row in pool]
    got = step_eval([P, P], pool, depth)
    assert got["auroc"] > 0.7
    assert got["auroc_same_position"] == 0.5 and got["solution_auroc_within"] == 0.5
    assert got["auroc_within_same_position"] == 0.5
    assert got["auroc_by_position"]["0"] is None  # index 0 is right everywhere: undefined there
    # a model that checks steps scores 1 on both at once
    truth = [[[float(t) for t in synth.check_steps(P, s.steps)] for s in row] for row in pool]
    got = step_eval([P, P], pool, truth)
    assert got["auroc_same_position"] == 1.0 and got["auroc_first_error"] == 1.0
    assert got["auroc_within_same_position"] == 1.0
    assert got["solution_auroc_within"] == 1.0


# a slip corrected by the next line: right answer through a wrong step
CORRECTED = ["Start with 5.", "5 + 3 = 9", "Check: 5 + 3 = 8, not 9.", "8 * 2 = 16", "The answer is 16"]


def test_recovered_solutions_are_ranked_against_wrong_and_clean_ones():
    assert synth.check_steps(P, CORRECTED) == [True, False, True, True, True]
    assert sol(CORRECTED).correct
    pool = [[sol(RIGHT), sol(RIGHT), sol(CORRECTED), sol(CORRECTED), sol(ARITH)]]
    # min scores: clean 0.9, 0.7; recovered 0.8, 0.1; wrong 0.2
    scores = [
        [[0.9] * 4, [0.7] * 4, [0.9, 0.8, 0.9, 0.9, 0.9], [0.9, 0.1, 0.9, 0.9, 0.9], [0.9, 0.2, 0.2, 0.2]]
    ]
    out = step_eval([P], pool, scores)
    assert out["n_recovered"] == 2
    # recovered {0.8, 0.1} vs wrong {0.2}: 1 of 2 pairs above
    assert out["auroc_recovered_vs_wrong"] == 0.5
    # recovered {0.8, 0.1} vs clean {0.9, 0.7}: 0.8 > 0.7 only -> 1 of 4 pairs
    assert out["auroc_recovered_vs_clean"] == 0.25
    # a pool without recovered solutions has no such AUROC
    none = step_eval([P], [[sol(RIGHT), sol(ARITH)]], [[[0.9] * 4, [0.9, 0.2, 0.2, 0.2]]])
    assert none["n_recovered"] == 0 and none["auroc_recovered_vs_wrong"] is None
