"""Noisy solutions: SFT targets with realistic mistakes and self-corrections, labelled by the checker."""

from __future__ import annotations

import random

from hiero.domains.builtin.checker import check_steps, extract_answer, is_correct
from hiero.domains.builtin.program import apply_op, program_of
from hiero.domains.builtin.writing import (
    answer_line,
    answer_sentence,
    context_line,
    equation,
    givens_line,
    style_of,
)
from hiero.types import Problem, Solution


def _slip(rng: random.Random, right: int) -> int:
    """An off-by-small arithmetic slip: right ± 1..3, never equal to right, kept >= 0 where possible."""
    delta = rng.randint(1, 3)
    wrong = right + delta if right - delta < 0 or rng.random() < 0.5 else right - delta
    return wrong


def _wrong_operand(rng: random.Random, a: int, op: str, k: int) -> int | None:
    """Another operand that still gives an integer result (None if the op has no alternative)."""
    if op == "/":
        cands = [d for d in range(2, 10) if d != k and a % d == 0]
    elif op == "*":
        cands = [m for m in (2, 3, 4) if m != k]
    else:
        cands = [x for x in (k - 1, k + 1, k + 2) if x >= 1 and x != k and (op == "+" or x <= a)]
    return rng.choice(cands) if cands else None


def _runs(start: int, ops) -> bool:
    """Does the program stay on non-negative integers (every division exact)?"""
    v = start
    for op, k in ops:
        if op == "/" and (k == 0 or v % k):
            return False
        v = apply_op(v, op, k)
        if v < 0:
            return False
    return True


def _misread(rng: random.Random, start: int, ops) -> tuple[int, list[list]] | None:
    """The program as a careless reader restates it: one number (the start value or an operand) or one
    operation (+ for -, * for /, and back) changed, half each, such that it still runs on integers."""
    numbers = [(start + d, ops) for d in (-2, -1, 1, 2) if start + d >= 1]
    for i, (op, k) in enumerate(ops):
        alts = (2, 3, 4) if op in "*/" else (k - 1, k + 1, k + 2)
        numbers += [(start, ops[:i] + [[op, x]] + ops[i + 1:]) for x in alts if x >= 1 and x != k]
    swap = {"+": "-", "-": "+", "*": "/", "/": "*"}
    operations = [(start, ops[:i] + [[swap[op], k]] + ops[i + 1:]) for i, (op, k) in enumerate(ops)]
    kinds = [numbers, operations] if rng.random() < 0.5 else [operations, numbers]
    for cands in kinds:
        cands = [c for c in cands if _runs(*c)]
        if cands:
            return rng.choice(cands)
    return None


def _write_equations(rng: random.Random, ops, start: int, last_right: str | None, p_error: float,
                     p_correction: float, steps: list[str], injected: list[int], corrections: list[int],
                     v: int | None = None) -> tuple[int, bool]:
    """Append one noisy equation per operation of the program (`start`, `ops`) to `steps`; return the
    value the solution ends on and whether a wrong equation was written.

    `v` is the value the solution holds before the first equation (default: `start`), `last_right` the
    right version of the step just taken. Each equation is wrong at p_error (a wrong operand 40% of
    the time where one exists, else an arithmetic slip), and after a wrong value a correction line
    "Check: <right step>, not X." follows at p_correction. Off track before a division that would not
    come out even, the writer corrects the step just taken, so every written value stays an integer.
    """
    v = start if v is None else v
    t = start  # the program's running value; v is the value the solution believes
    erred = False
    for op, k in ops:
        t_next = apply_op(t, op, k)
        if op == "/" and v % k:
            assert last_right is not None  # v == t (which divides) until a step has been written
            corrections.append(len(steps))
            steps.append(f"Check: {last_right}, not {v}.")
            v = t
        kk, c = k, apply_op(v, op, k)
        if rng.random() < p_error:
            alt = _wrong_operand(rng, v, op, k) if rng.random() < 0.4 else None
            if alt is not None:
                kk, c = alt, apply_op(v, op, alt)
            else:
                c = _slip(rng, c)
            injected.append(len(steps))
            erred = True
        steps.append(equation(v, op, kk, c))
        last_right = equation(t, op, k, t_next)
        v = c
        if c != t_next and rng.random() < p_correction:  # still off track: maybe correct it
            corrections.append(len(steps))
            steps.append(f"Check: {last_right}, not {c}.")
            v = t_next
        t = t_next
    return v, erred


def _render_restate(
    problem: Problem,
    rng: random.Random,
    p_error: float,
    p_correction: float,
    p_restate: float,
    p_answer: float,
) -> tuple[list[str], list[int], list[int], dict]:
    """Steps of a noisy restate-style solution: the givens (misread at p_restate), equations that
    follow the givens as stated (each wrong at p_error, corrected at p_correction), the answer
    sentence (wrong at p_answer: the value mis-copied or the sentence left without its answer)."""
    program = program_of(problem)
    start, ops = program["start"], [list(o) for o in program["ops"]]
    steps: list[str] = []
    injected: list[int] = []
    corrections: list[int] = []
    wrong = {"clarification": False, "reasoning": False, "answer": False}  # segments written wrong on purpose
    if p_restate and rng.random() < p_restate:
        misread = _misread(rng, start, ops)
        if misread is not None:
            start, ops = misread
            injected.append(0)
            wrong["clarification"] = True
    steps.append(givens_line(start, ops))
    # the equations follow the givens as stated (v starts equal to the stated start value, so a
    # division is exact until a wrong step; no "right version" of the givens line is ever needed)
    v, wrong["reasoning"] = _write_equations(rng, ops, start, None, p_error, p_correction, steps, injected,
                                             corrections)
    sentence = answer_sentence(v)
    if p_answer and rng.random() < p_answer:
        injected.append(len(steps))
        wrong["answer"] = True
        if rng.random() < 0.5:
            sentence = answer_sentence(v, stated=_slip(rng, v))  # the value mis-copied
        else:
            sentence = f"The final count is {v}."  # the sentence left without its answer
    steps.append(sentence)
    return steps, injected, corrections, wrong


def render_noisy_solution(problem: Problem, rng: random.Random, p_error: float, p_correction: float,
                          p_restate: float = 0.0, p_answer: float = 0.0) -> Solution:
    """A solution with realistic mistakes, labelled by `check_steps`.

    Each computing step (the context step and every equation) is wrong with probability p_error:
    an arithmetic slip (result off by 1–3), a wrong operand, or a misread start value. The
    solution then carries the wrong value forward (later equations start from it, so they are
    wrong too) unless, with probability p_correction after any wrong step, a correction line
    "Check: <right step>, not <wrong value>." follows and the solution resumes from the true value.
    meta: "injected" (indices of the wrong steps written on purpose), "corrections" (indices).

    Restate style (`problem.meta["style"]`): the givens line is misread at p_restate (one number or
    one operation) and the equations follow the givens *as stated*; the answer sentence is wrong at
    p_answer (half mis-copied value, half without its answer clause); meta "wrong_segments" says
    which of the three segments were written wrong on purpose. p_restate and p_answer are for that
    style only (plain: the context step's misreads come with p_error).
    """
    for name, x in (("p_error", p_error), ("p_correction", p_correction), ("p_restate", p_restate),
                    ("p_answer", p_answer)):
        if not 0.0 <= x <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {x}")
    if style_of(problem) == "restate":
        steps, injected, corrections, wrong = _render_restate(
            problem, rng, p_error, p_correction, p_restate, p_answer
        )
        labels = [int(ok) for ok in check_steps(problem, steps)]
        answer = extract_answer(steps[-1])
        return Solution(
            problem_id=problem.id,
            steps=steps,
            answer=answer,
            correct=is_correct(problem, answer),
            question=problem.question,
            labels=labels,
            first_error=next((i for i, y in enumerate(labels) if not y), -1),
            meta={
                "injected": injected,
                "corrections": corrections,
                "wrong_segments": wrong,
                "source": "synth-noisy",
            },
        )
    if p_restate or p_answer:
        raise ValueError(
            f"problem {problem.id!r} is written in the plain style: p_restate and p_answer are for "
            "the restate style (--style restate); the plain context step's misreads come with p_error"
        )
    program = program_of(problem)
    start = program["start"]
    steps: list[str] = []
    injected: list[int] = []
    corrections: list[int] = []

    # context step: a misread start value is the "query clarification" kind of mistake
    v = start
    if rng.random() < p_error:
        v = _slip(rng, start)
        injected.append(len(steps))
    steps.append(context_line(problem, v))
    last_right = context_line(problem, start).rstrip(".")  # the right version of the step just taken
    if v != start and rng.random() < p_correction:
        corrections.append(len(steps))
        steps.append(f"Check: {last_right}, not {v}.")
        v = start

    v, _ = _write_equations(rng, program["ops"], start, last_right, p_error, p_correction, steps, injected,
                            corrections, v=v)
    steps.append(answer_line(v))

    labels = [int(ok) for ok in check_steps(problem, steps)]
    fe = next((i for i, y in enumerate(labels) if not y), -1)
    return Solution(
        problem_id=problem.id, steps=steps, answer=str(v), correct=is_correct(problem, v),
        question=problem.question, labels=labels, first_error=fe,
        meta={"injected": injected, "corrections": corrections, "source": "synth-noisy"},
    )
