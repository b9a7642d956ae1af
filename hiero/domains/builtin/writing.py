"""How solutions are written: the reference steps in each style (plain, restate)."""

from __future__ import annotations

from hiero.domains.builtin.program import OP_WORDS, STYLES, apply_op, program_of
from hiero.types import Problem


def equation(a: int, op: str, k: int, c: int) -> str:
    return f"{a} {op} {k} = {c}"


def context_line(problem: Problem, value: int) -> str:
    name, objs = problem.meta.get("name"), problem.meta.get("object")
    if name and objs:
        return f"{name} starts with {value} {objs[:-1] if value == 1 else objs}."
    return f"Start with {value}."


def answer_line(value) -> str:
    return f"The answer is {value}"


def style_of(problem: Problem) -> str:
    """How `problem`'s solutions are written: "plain" or "restate" (meta["style"])."""
    style = problem.meta.get("style", "plain") if isinstance(problem.meta, dict) else "plain"
    if style not in STYLES:
        raise ValueError(f"problem {problem.id!r}: meta.style must be one of {STYLES}, got {style!r}")
    return style


def givens_line(start: int, ops) -> str:
    """The restate style's clarification step: the start value and every operation, in order.

    >>> givens_line(5, [["-", 1], ["/", 2], ["*", 3]])
    'Givens: 5, minus 1, divided by 2, times 3.'
    """
    return "Givens: " + ", ".join([str(start)] + [f"{OP_WORDS[o]} {k}" for o, k in ops]) + "."


def answer_sentence(value, stated=None) -> str:
    """The restate style's answer step: "The final count is 6, so the answer is 6" (`stated`: the value
    the answer clause gives, when it mis-copies `value`)."""
    return f"The final count is {value}, so the answer is {value if stated is None else stated}"


def solve(problem: Problem) -> list[str]:
    """Correct steps: the context step (restate style: the givens line), one equation per operation,
    the answer step ("The answer is N"; restate style: the answer sentence)."""
    program = program_of(problem)
    restate = style_of(problem) == "restate"
    v = program["start"]
    steps = [givens_line(v, program["ops"]) if restate else context_line(problem, v)]
    for op, k in program["ops"]:
        nv = apply_op(v, op, k)
        steps.append(equation(v, op, k, nv))
        v = nv
    steps.append(answer_sentence(v) if restate else answer_line(v))
    return steps
