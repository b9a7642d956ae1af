"""Programs: a start value and integer operations; their running values, hash and split."""

from __future__ import annotations

import hashlib
import random

from hiero.types import Problem

TEST_PERCENT = 10  # share of the program space (by hash bucket) reserved for the test split
OPS = ("+", "-", "*", "/")
STYLES = ("plain", "restate")  # how solutions are written (module doc)
OP_WORDS = {"+": "plus", "-": "minus", "*": "times", "/": "divided by"}  # the givens line's operations


def apply_op(value: int, op: str, k: int) -> int:
    """One operation on integers; `/` is exact wherever this module applies it (floor otherwise)."""
    if op == "+":
        return value + k
    if op == "-":
        return value - k
    if op == "*":
        return value * k
    if op == "/":
        return value // k
    raise ValueError(f"unknown operation {op!r}")


def program_hash(program: dict) -> str:
    """sha256 of the canonical program text, e.g. "7|+5|*2|/3" (start, then each op and operand)."""
    canon = "|".join([str(int(program["start"]))] + [f"{o}{int(k)}" for o, k in program["ops"]])
    return hashlib.sha256(canon.encode()).hexdigest()


def split_of(program: dict | str) -> str:
    """'test' iff the program's hash (or the given hash) falls in the fixed TEST_PERCENT bucket."""
    h = program if isinstance(program, str) else program_hash(program)
    return "test" if int(h[:8], 16) % 100 < TEST_PERCENT else "train"


def random_operation(rng: random.Random, value: int, max_operand: int = 9, max_factor: int = 3,
                     max_value: int = 99) -> tuple[str, int]:
    """A random (op, k) applicable to `value` that keeps the result an integer in [1, max_value]."""
    choices = {  # op -> feasible operands
        "+": list(range(1, min(max_operand, max_value - value) + 1)),
        "-": list(range(1, min(max_operand, value - 1) + 1)),
        "*": [k for k in range(2, max_factor + 1) if value * k <= max_value],
        "/": [k for k in range(2, max_factor + 1) if value % k == 0],
    }
    op = rng.choice([o for o in OPS if choices[o]])
    return op, rng.choice(choices[op])


def sample_program(rng: random.Random, n_ops: int, max_operand: int, max_factor: int, max_value: int) -> dict:
    value = rng.randint(2, max(2, min(max_operand, max_value)))
    start, ops = value, []
    for _ in range(n_ops):
        op, k = random_operation(rng, value, max_operand, max_factor, max_value)
        ops.append([op, k])
        value = apply_op(value, op, k)
    return {"start": start, "ops": ops}


def program_of(problem: Problem) -> dict:
    program = problem.meta.get("program") if isinstance(problem.meta, dict) else None
    if (not isinstance(program, dict) or not isinstance(program.get("start"), int)
            or not isinstance(program.get("ops"), list)
            or not all(isinstance(o, (list, tuple)) and len(o) == 2 and o[0] in OPS and isinstance(o[1], int)
                       for o in program["ops"])):
        raise ValueError(f"problem {problem.id!r} has no valid meta.program (not a synth problem?)")
    return program


def run_program(program: dict) -> list[int]:
    values, v = [], program["start"]
    for op, k in program["ops"]:
        v = apply_op(v, op, k)
        values.append(v)
    return values


def true_values(problem: Problem) -> list[int]:
    """The true running value after each operation (len == number of operations)."""
    return run_program(program_of(problem))
