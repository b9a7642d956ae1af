"""The built-in domain: GSM8K-like multi-step word problems whose every step can be checked.

A problem is a small *program*: a start value and a list of operations `(op, k)` with op in
+ - * /, all on integers. The question tells it as a story from varied templates (characters,
objects, verbs: buys, finds, gives away, loses, doubles, triples, splits into k equal piles, …);
the reference solution restates the start quantity, then writes one equation per operation, then
the answer line. One step per line, no blank lines:

    Question: Max owns 5 stickers. Then Max gives away 1 sticker. Next, he splits the stickers
              into 2 equal piles and keeps one pile. Later, he triples the number of stickers.
              How many stickers does Max have now?            (one line in the data)
    Max starts with 5 stickers.          <- context step (restates the start value)
    5 - 1 = 4
    4 / 2 = 2
    2 * 3 = 6
    The answer is 6

The restate style (`DomainSettings.style`, for HiPO's three segments) writes the same solution as

    Givens: 5, minus 1, divided by 2, times 3.      <- clarification: every given, in order
    5 - 1 = 4                                       <- reasoning: follows the givens as stated
    4 / 2 = 2
    2 * 3 = 6
    The final count is 6, so the answer is 6        <- answer sentence

Noisy solutions (`render_noisy_solution`, SFT data with realistic mistakes) may contain wrong
steps and self-corrections, one format only:

    9 * 2 = 16
    Check: 9 * 2 = 18, not 16.          <- correction: the right step, then the wrong value

Checking rule (`check_steps`, ground truth for ANY candidate text, model output included):
  * context step (a statement with one number, before the first equation): right iff the number
    is the start value; a givens line (restate style, "Givens: 5, minus 1, times 3."): right iff it
    states the start value and every operation of the program, in order;
  * equation step `a op b = c`: consumes the next operation of the program; right iff it is that
    operation (same op, same operand) applied to the TRUE running value and c is the true result.
    So after an uncorrected error every later equation is wrong too (the solution is off track);
  * correction step `Check: <step>, not X.`: right iff <step> is the right version of the step
    just taken (the true equation of the last operation, or the true start statement);
    after it the solution is back on track;
  * answer step `The answer is N`: right iff N is the true final value;
  * anything else (unparseable, an equation beyond the last operation, any step after the
    answer) is wrong.
`first_error` is the index of the first wrong step, -1 if none (the ProcessBench convention).

Difficulty (`DomainSettings`, shared by every stage): defaults 2–3 operations, operands ≤ 9, × and
÷ by 2 or 3 only, every running value in [1, 99]. The embedded demo narrows values to [1, 30]
(docs/embedded-default.md: a 2-layer policy's arithmetic slips fell from 32.7% to 7.0% of its
samples). Raise `max_ops`, `max_operand`, `max_factor`, `max_value` for harder sets.

Train/test split: a problem is a test problem iff the sha256 of its canonical program text
("5|-1|/2|*3": start, then each op and operand; not the story) falls in a fixed 10% bucket, and
`generate_problems(split=...)` keeps only programs of that split, so the two splits never share
an arithmetic program, whatever the seeds and settings. Within a set no question text repeats.

Run: `hiero data synth --n 1000 --seed 0 --split train -o synth.jsonl`, or from Python
`generate_problems(1000, seed=0)` (`sets.make_set(SynthConfig(...))` adds noisy solutions and figures).

The package, by job (this module re-exports what other stages use, and defines `DOMAIN`):

    program.py    programs: operations on integers, running values, hash, train/test split
    stories.py    problems: a program told as a story from templates (`generate_problems`)
    writing.py    reference solutions in each style (`solve`, the givens line, the answer sentence)
    checker.py    the truth of any step (`check_steps`), its error kinds, the three segments
    noise.py      noisy SFT solutions with realistic mistakes (`render_noisy_solution`)
    settings.py   `DomainSettings`: how hard the problems are, one object for every stage
    sets.py       a problem set with noisy solutions and its figures (what `hiero data synth` writes)
Departures: the papers have no such domain; it replaces GSM8K/MATH for the CPU-sized default. Noise
also hits the context step (a misread start value), not only the operations.
"""

from __future__ import annotations

from hiero.domains.builtin.checker import (
    ERROR_KINDS,
    SEGMENTS,
    check_steps,
    error_kinds,
    extract_answer,
    first_error,
    is_correct,
    is_givens,
    parse_equation,
    parse_givens,
    segment_checks,
    segment_spans,
    step_kind,
)
from hiero.domains.builtin.noise import render_noisy_solution
from hiero.domains.builtin.program import (
    OPS,
    STYLES,
    apply_op,
    program_hash,
    run_program,
    sample_program,
    split_of,
    true_values,
)
from hiero.domains.builtin.settings import DomainSettings, domain_of_config
from hiero.domains.builtin.stories import generate_problems
from hiero.domains.builtin.writing import answer_sentence, givens_line, solve, style_of
from hiero.types import Problem

__all__ = [
    "DOMAIN",
    "ERROR_KINDS",
    "OPS",
    "SEGMENTS",
    "STYLES",
    "BuiltinDomain",
    "DomainSettings",
    "answer_sentence",
    "apply_op",
    "check_steps",
    "error_kinds",
    "extract_answer",
    "first_error",
    "generate_problems",
    "givens_line",
    "is_correct",
    "is_givens",
    "parse_equation",
    "parse_givens",
    "program_hash",
    "render_noisy_solution",
    "run_program",
    "sample_program",
    "segment_checks",
    "segment_spans",
    "domain_of_config",
    "solve",
    "split_of",
    "step_kind",
    "style_of",
    "true_values",
]


class BuiltinDomain:
    """The `Domain` protocol for problems of source "synth": integer answers, every step checked
    against the story's program."""

    name = "built-in arithmetic"
    checks_steps = True

    def extract_answer(self, text: str | None) -> str | None:
        return extract_answer(text)

    def is_correct(self, problem: Problem, answer: str | None) -> bool:
        return answer is not None and bool(is_correct(problem, answer))

    def same_answer(self, problem: Problem, a: str, b: str) -> bool:
        return a.strip() == b.strip()  # normalised integers: equal strings or different answers

    def stated_answer(self, steps: list[str]) -> str | None:
        return extract_answer(steps[-1]) if steps else None

    def step_truth(self, problem: Problem, steps: list[str]) -> list[bool] | None:
        return check_steps(problem, steps)

    def error_kinds(self, problem: Problem, steps: list[str]) -> list[str | None] | None:
        return error_kinds(problem, steps)

    def segment_checks(self, problem: Problem, steps: list[str]) -> dict | None:
        return segment_checks(problem, steps)


DOMAIN = BuiltinDomain()
