"""Step-level quality of a reward model on fresh policy samples of the built-in domain.

    step_eval(problems, pool, scores) -> {"auroc", "auroc_within", "f1", "acc_error", "acc_correct",
                                          "threshold", "kinds": {kind: {"n", "auroc"}}, "roc", ...}
    wrong_picks(problems, pool, chosen) -> what a selection rule picked where it picked wrong
    segment_quality(problems, texts) -> per-segment quality of generated solutions (clarification, steps,
    answer)

`pool[i]` holds the solutions sampled for `problems[i]`, `scores[i][k]` the per-step scores of
`pool[i][k]`; the truth of every step is the domain's own check (`synth.check_steps`), which the
reward model never saw. Metrics:

- auroc: right steps vs wrong steps, all steps of all solutions pooled;
- auroc_within: the same inside each problem (a problem counts when it has both kinds of step),
  averaged over problems: does the model rank the steps of one question, not just tell easy
  questions from hard ones;
- ProcessBench protocol: an item is one solution, its label the index of its first wrong step
  (-1: all right); the prediction is the first step scored below a threshold. The threshold is
  tuned on the problems of even index and F1 / acc_error / acc_correct reported on the odd ones
  (a split the threshold never saw), as hiero eval processbench tunes on one split for the others;
- kinds: AUROC of right steps against the steps of each error kind of `synth.error_kinds`
  (arithmetic slip, wrong operand, misread start, ...): which errors the model sees;
- roc: the pooled ROC curve (`roc_points`), for the report's plot;
- confounds: wrong steps sit late in solutions (every step after a first error counts as wrong),
  so a score that only falls with depth gets a high pooled AUROC. `auroc_same_position` compares
  right and wrong steps at the same index (mean over indices, weighted by their wrong steps),
  `auroc_within_same_position` the same inside each problem (the strictest: neither the
  problem's difficulty nor the depth can help), `auroc_first_error` right steps against only the
  first wrong step of each solution, and
  `solution_auroc_within` the solutions of one problem by their min score, right against wrong
  answers (what best-of-N needs), averaged over problems;
- recovered solutions (right answer although some step is wrong: an error the solution later
  corrected, as "Check: ..., not X." lines do in the built-in domain): `auroc_recovered_vs_wrong`
  ranks them against wrong-answer solutions and `auroc_recovered_vs_clean` against right solutions
  with every step right, both by min score, pooled. A model that does not punish a corrected error
  like an uncorrected one keeps the first high and the second near 0.5 (HRM's claim); a PRM read
  by its min score ranks a recovered solution with the wrong ones.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from hiero.domains import builtin as synth
from hiero.domains import domain_of
from hiero.evaluation.metrics import (
    auroc,
    first_error_prediction,
    processbench_scores,
    roc_points,
    tune_threshold,
)
from hiero.types import Problem, Solution


def _rounded(x: float | None, nd: int = 4) -> float | None:
    return None if x is None else round(float(x), nd)


def step_eval(problems: list[Problem], pool: list[list[Solution]], scores: list[list[list[float]]]) -> dict:
    """Step metrics of one reward model's `scores` on `pool` (see the module doc)."""
    if not (len(problems) == len(pool) == len(scores)):
        raise ValueError(
            f"step_eval: {len(problems)} problems, {len(pool)} pool rows, {len(scores)} score rows"
        )
    xs, ys, within, by_kind = [], [], [], {}
    by_pos: dict[int, tuple[list, list]] = {}  # step index -> (scores, truths)
    fx, fy = [], []  # right steps and the first wrong step of each solution
    sol_within = []  # per problem: P(min score of a right solution > that of a wrong one)
    cells = []  # (AUROC, wrong steps) of every (problem, step index) with both kinds of step
    items: dict[int, tuple[list, list]] = {0: ([], []), 1: ([], [])}  # split -> (step scores, first errors)
    sol_min: dict[str, list[float]] = {
        "clean": [],
        "recovered": [],
        "wrong": [],
    }  # min score by solution kind
    for i, (p, row, row_scores) in enumerate(zip(problems, pool, scores, strict=True)):
        domain = domain_of(p)
        if not domain.checks_steps:
            raise ValueError(f"problem {p.id}: its domain ({domain.name}) cannot check steps")
        px, py = [], []
        right_min, wrong_min = [], []
        cell: dict[int, tuple[list, list]] = {}
        for sol, sc in zip(row, row_scores, strict=True):
            if len(sc) != len(sol.steps):
                raise ValueError(f"problem {p.id}: {len(sc)} scores for {len(sol.steps)} steps")
            if not sol.steps:
                continue
            truth = domain.step_truth(p, sol.steps)
            kinds = domain.error_kinds(p, sol.steps) or [None if t else "wrong" for t in truth]
            for j, (s, t, k) in enumerate(zip(sc, truth, kinds, strict=True)):
                px.append(s)
                py.append(int(t))
                by_pos.setdefault(j, ([], []))[0].append(s)
                by_pos[j][1].append(int(t))
                cell.setdefault(j, ([], []))[0].append(s)
                cell[j][1].append(int(t))
                if k is not None:
                    by_kind.setdefault(k, []).append(s)
            first = next((j for j, t in enumerate(truth) if not t), -1)
            upto = len(truth) if first < 0 else first + 1
            fx += sc[:upto]
            fy += [int(t) for t in truth[:upto]]
            (right_min if sol.correct else wrong_min).append(min(sc))
            sol_min["wrong" if not sol.correct else ("clean" if first < 0 else "recovered")].append(min(sc))
            items[i % 2][0].append(sc)
            items[i % 2][1].append(first)
        xs += px
        ys += py
        a = auroc(px, py)
        if a is not None:
            within.append(a)
        a = auroc(right_min + wrong_min, [1] * len(right_min) + [0] * len(wrong_min))
        if a is not None:
            sol_within.append(a)
        cells += [
            (a, len(t) - sum(t)) for a, t in ((auroc(*v), v[1]) for v in cell.values()) if a is not None
        ]
    right = [x for x, y in zip(xs, ys) if y]
    kinds = {k: {"n": len(v), "auroc": _rounded(auroc(right + v, [1] * len(right) + [0] * len(v)))}
             for k, v in sorted(by_kind.items(), key=lambda kv: -len(kv[1]))}
    out = {
        "auroc": _rounded(auroc(xs, ys)),
        "auroc_within": _rounded(np.mean(within)) if within else None,
        "n_problems_within": len(within),
        "n_steps": len(ys),
        "n_wrong_steps": len(ys) - sum(ys),
        "kinds": kinds,
        "roc": roc_points(xs, ys),
    }
    # scores that fall with depth rank late (often wrong) steps low without checking them: compare
    # right and wrong steps at the same index, weighted by the wrong steps there
    pos = {j: (auroc(*v), len(v[1]) - sum(v[1])) for j, v in sorted(by_pos.items())}
    pos_w = [(a, n) for a, n in pos.values() if a is not None]
    out.update(
        {
            "auroc_by_position": {str(j): _rounded(a) for j, (a, _) in pos.items()},
            "auroc_same_position": _rounded(sum(a * n for a, n in pos_w) / sum(n for _, n in pos_w))
            if pos_w
            else None,
            "auroc_first_error": _rounded(auroc(fx, fy)),
            "auroc_within_same_position": _rounded(sum(a * n for a, n in cells) / sum(n for _, n in cells))
            if cells
            else None,
            "solution_auroc_within": _rounded(np.mean(sol_within)) if sol_within else None,
            "n_recovered": len(sol_min["recovered"]),
            **{
                f"auroc_recovered_vs_{other}": _rounded(
                    auroc(
                        sol_min["recovered"] + sol_min[other],
                        [1] * len(sol_min["recovered"]) + [0] * len(sol_min[other]),
                    )
                )
                for other in ("wrong", "clean")
            },
        }
    )
    try:
        t, tune_f1 = tune_threshold(*items[0])
        pb = processbench_scores([first_error_prediction(s, t) for s in items[1][0]], items[1][1])
        out.update({"threshold": t, "tune_f1": _rounded(tune_f1), "f1": _rounded(pb["f1"]),
                    "acc_error": _rounded(pb["acc_error"]), "acc_correct": _rounded(pb["acc_correct"]),
                    "n_items": pb["n_error"] + pb["n_correct"]})
    except ValueError as e:  # a half without wrong (or without right) solutions: F1 undefined
        out.update({"threshold": None, "f1": None, "acc_error": None, "acc_correct": None, "f1_note": str(e)})
    return out


def describe(problem: Problem, sol: Solution) -> dict:
    """Features of one solution that explain a pick: length, answer, first error and its kind."""
    kinds = synth.error_kinds(problem, sol.steps) if sol.steps else []
    first = next((j for j, k in enumerate(kinds) if k is not None), -1)
    n_ops = len(problem.meta["program"]["ops"])
    return {
        "n_steps": len(sol.steps),
        "expected_steps": n_ops + 2,
        "answered": sol.answer is not None,
        "correct": bool(sol.correct),
        "first_error": first,
        "first_kind": kinds[first] if first >= 0 else None,
        "repeated_steps": len(sol.steps) - len(set(sol.steps)),
    }


def wrong_picks(problems: list[Problem], pool: list[list[Solution]], chosen: list[int]) -> dict:
    """Where a rule picked a wrong solution: what it picked, against the right ones it passed over.

    Counts over the problems where the pick is wrong although the pool holds a right answer:
    the first-error kind of the pick, whether it states an answer, and how its length compares
    with the story's (ops + context + answer) and with the right solutions of the same pool.
    """
    missed = [i for i, (row, k) in enumerate(zip(pool, chosen, strict=True))
              if not row[k].correct and any(s.correct for s in row)]
    feats = [describe(problems[i], pool[i][chosen[i]]) for i in missed]
    right_len = [np.mean([len(s.steps) for s in pool[i] if s.correct]) for i in missed]
    return {
        "n_problems": len(problems),
        "n_wrong_with_right_available": len(missed),
        "first_error_kind": dict(
            Counter(f["first_kind"] or "none (wrong answer only)" for f in feats).most_common()
        ),
        "no_answer": sum(not f["answered"] for f in feats),
        "shorter_than_story": sum(f["n_steps"] < f["expected_steps"] for f in feats),
        "longer_than_story": sum(f["n_steps"] > f["expected_steps"] for f in feats),
        "with_repeated_steps": sum(f["repeated_steps"] > 0 for f in feats),
        "mean_steps_picked": _rounded(np.mean([f["n_steps"] for f in feats])) if feats else None,
        "mean_steps_right": _rounded(np.mean(right_len)) if feats else None,
        "mean_first_error": _rounded(np.mean([f["first_error"] for f in feats if f["first_error"] >= 0]))
        if any(f["first_error"] >= 0 for f in feats)
        else None,
    }


def segment_quality(problems: list[Problem], texts: list[str]) -> dict:
    """Segment-level quality of one model's solutions, checked by the domain instead of a judge.

    For HiPO's three segments on the built-in domain: `clarification_right` = share of solutions whose
    first step restates the start value rightly (the query-clarification segment); `step_accuracy` =
    share of right steps over all steps written (the reasoning segment, steps after a wrong one count
    as checked against the solver's running value, `synth.check_steps`); `all_steps_right` = share of
    solutions with no wrong step; `mean_first_error` = mean index of the first wrong step among the
    solutions that have one (later is better); `answer_right` = the final answer (the answer segment);
    `first_error_kind` = how many solutions' first wrong step is of each kind (`synth.error_kinds`:
    arithmetic, operand, start, ...), where the domain can tell, most common first.

    Where the domain checks each segment on its own terms (`Domain.segment_checks`; the restate
    style shows it best), also `by_segment`: the share of solutions whose clarification (givens
    restated rightly), reasoning (every equation follows the stated givens, right arithmetic) and
    answer (the answer sentence states the value reached, well formed) are right, and
    `equation_accuracy`, the share of right equations given the stated givens.
    """
    from hiero.policy.prompt import split_steps

    if len(problems) != len(texts):
        raise ValueError(f"segment_quality: {len(problems)} problems, {len(texts)} texts")
    n_steps = n_right = clar = clean = 0
    firsts, answers, kinds = [], 0, Counter()
    segs, n_eq, n_eq_right = Counter(), 0, 0
    checked_segments = True
    for p, text in zip(problems, texts, strict=True):
        steps = split_steps(text)
        domain = domain_of(p)
        checks = domain.segment_checks(p, steps)
        if checks is None:
            checked_segments = False
        else:
            segs.update(k for k in synth.SEGMENTS if checks[k])
            n_eq, n_eq_right = n_eq + checks["equations"], n_eq_right + checks["equations_right"]
        truth = (domain.step_truth(p, steps) or []) if steps else []
        n_steps += len(truth)
        n_right += sum(truth)
        clar += bool(truth and truth[0])
        first = next((j for j, t in enumerate(truth) if not t), -1)
        clean += bool(truth) and first < 0
        if first >= 0:
            firsts.append(first)
            kind = domain.error_kinds(p, steps)
            if kind is not None:
                kinds[kind[first]] += 1
        answers += domain.is_correct(p, domain.extract_answer(text))
    n = max(len(problems), 1)
    out = {"n": len(problems), "clarification_right": _rounded(clar / n),
           "step_accuracy": _rounded(n_right / max(n_steps, 1)), "all_steps_right": _rounded(clean / n),
           "mean_first_error": _rounded(np.mean(firsts)) if firsts else None,
           "answer_right": _rounded(answers / n), "first_error_kind": dict(kinds.most_common())}
    if checked_segments and problems:
        out["by_segment"] = {k: _rounded(segs[k] / n) for k in synth.SEGMENTS}
        out["equation_accuracy"] = _rounded(n_eq_right / max(n_eq, 1))
    return out
