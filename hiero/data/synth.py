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

Noisy solutions (`render_noisy_solution`, SFT data with realistic mistakes) may contain wrong
steps and self-corrections, one format only:

    9 * 2 = 16
    Check: 9 * 2 = 18, not 16.          <- correction: the right step, then the wrong value

Checking rule (`check_steps`, ground truth for ANY candidate text, model output included):
  * context step (a statement with one number, before the first equation): right iff the number
    is the start value;
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
`main(SynthConfig(n=1000, out="synth.jsonl"))`.
Departures: the papers have no such domain; it replaces GSM8K/MATH for the CPU-sized default. Noise
also hits the context step (a misread start value), not only the operations.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

from hiero.types import Problem, Solution

TEST_PERCENT = 10  # share of the program space (by hash bucket) reserved for the test split
OPS = ("+", "-", "*", "/")

# ----------------------------------------------------------------------------- config


@dataclass
class DomainSettings:
    """How hard the built-in domain's problems are; one object for every stage that draws problems.

    The policy is trained on, trees are annotated on and every evaluation draws from the same
    settings (a policy trained on 2-3 operations and tested on 2-4 answers the 4-operation
    problems at a fraction of its accuracy). Stage configs inherit these fields (flags
    --min-ops ... --max-value); `domain_of(cfg)` reads them back.
    """

    min_ops: int = field(default=2, metadata={"help": "built-in domain: fewest operations per problem"})
    max_ops: int = field(default=3, metadata={"help": "built-in domain: most operations per problem"})
    max_operand: int = field(default=9, metadata={"help": "built-in domain: largest operand of + and - (and start value)"})
    max_factor: int = field(default=3, metadata={"help": "built-in domain: largest multiplier / divisor (2..max_factor)"})
    max_value: int = field(default=99, metadata={"help": "built-in domain: every running value stays in [1, max_value]"})

    def problems(self, n: int, seed: int, split: str = "train") -> list[Problem]:
        """`generate_problems` with these settings."""
        return generate_problems(n, seed, split, self.min_ops, self.max_ops, self.max_operand,
                                 max_factor=self.max_factor, max_value=self.max_value)


def domain_of(cfg) -> DomainSettings:
    """The DomainSettings part of a stage config (any object with those attributes)."""
    return DomainSettings(**{f: getattr(cfg, f) for f in DomainSettings.__dataclass_fields__})


@dataclass
class SynthConfig(DomainSettings):
    """Settings of `hiero data synth` (flat; every field is a flag)."""

    n: int = field(default=1000, metadata={"help": "number of problems"})
    seed: int = field(default=0, metadata={"help": "random seed (same seed, same problems)"})
    split: Literal["train", "test"] = field(default="train", metadata={"help": "which split to draw from"})
    p_error: float = field(default=0.1, metadata={"help": "noisy solutions: chance each step is wrong"})
    p_correction: float = field(default=0.5, metadata={"help": "noisy solutions: chance a wrong step is corrected"})
    solutions_per_problem: int = field(default=1, metadata={"help": "noisy solutions written per problem"})
    out: str = field(default="synth_problems.jsonl", metadata={"help": "output JSONL of problems"})
    solutions_out: str | None = field(default=None, metadata={
        "help": "also write noisy solutions (Solution JSONL with labels) to this file"})


# ----------------------------------------------------------------------------- story templates
# (name, pronoun) and (singular, plural) objects: the story varies, the program does not
NAMES = [("Sam", "he"), ("Mia", "she"), ("Leo", "he"), ("Ava", "she"), ("Ben", "he"), ("Zoe", "she"),
         ("Max", "he"), ("Lily", "she"), ("Omar", "he"), ("Nina", "she"), ("Raj", "he"), ("Emma", "she")]
OBJECTS = [("marble", "marbles"), ("sticker", "stickers"), ("apple", "apples"), ("coin", "coins"),
           ("cookie", "cookies"), ("pencil", "pencils"), ("card", "cards"), ("shell", "shells"),
           ("stamp", "stamps"), ("book", "books"), ("toy car", "toy cars"), ("balloon", "balloons")]
OPENINGS = ["{Name} has {n} {objs}.", "{Name} starts the day with {n} {objs}.",
            "There are {n} {objs} in {name}'s box.", "{Name} owns {n} {objs}."]
FIRST_CONNECTORS = ["{Subj}", "Then {subj}"]  # the first event directly follows the opening
CONNECTORS = ["{Subj}", "Then {subj}", "Next, {subj}", "After that, {subj}", "Later, {subj}"]
VERBS = {  # {k_objs}: k with the right noun form; {Subj}: name or pronoun (verbs are 3rd person)
    "+": ["{subj} buys {k} more {k_objs}.", "{subj} finds {k} more {k_objs}.",
          "{subj} wins {k} {k_objs} in a game.", "{subj} gets {k} {k_objs} from a friend."],
    "-": ["{subj} gives away {k} {k_objs}.", "{subj} loses {k} {k_objs}.",
          "{subj} sells {k} {k_objs}.", "{subj} trades away {k} {k_objs}."],
    "*2": ["{subj} doubles the number of {objs}.", "{subj} collects more until {pron} has twice as many {objs}."],
    "*3": ["{subj} triples the number of {objs}.", "{subj} collects more until {pron} has three times as many {objs}."],
    "*": ["{subj} collects more until {pron} has {k} times as many {objs}."],
    "/2": ["{subj} gives away half of the {objs}.", "{subj} splits the {objs} into 2 equal piles and keeps one pile."],
    "/3": ["{subj} keeps only a third of the {objs}.", "{subj} splits the {objs} into 3 equal piles and keeps one pile."],
    "/": ["{subj} splits the {objs} into {k} equal piles and keeps one pile.",
          "{subj} packs the {objs} evenly into {k} bags and keeps one bag."],
}
QUESTIONS = ["How many {objs} does {name} have now?", "How many {objs} does {name} have in the end?"]


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


# ----------------------------------------------------------------------------- programs


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


def _sample_program(rng: random.Random, n_ops: int, max_operand: int, max_factor: int, max_value: int) -> dict:
    value = rng.randint(2, max(2, min(max_operand, max_value)))
    start, ops = value, []
    for _ in range(n_ops):
        op, k = random_operation(rng, value, max_operand, max_factor, max_value)
        ops.append([op, k])
        value = apply_op(value, op, k)
    return {"start": start, "ops": ops}


def _render_question(rng: random.Random, program: dict, name: str, pron: str, objs: tuple[str, str]) -> str:
    one, many = objs
    fill = {"Name": name, "name": name, "objs": many, "pron": pron}
    parts = [rng.choice(OPENINGS).format(n=program["start"], **fill)]
    parts[0] = _cap(parts[0])
    for i, (op, k) in enumerate(program["ops"]):
        key = op + str(k) if op + str(k) in VERBS else op
        subj = name if i == 0 or rng.random() < 0.4 else pron
        lead = rng.choice(CONNECTORS if i else FIRST_CONNECTORS).format(Subj=subj, subj=subj)
        sentence = rng.choice(VERBS[key]).format(subj=lead, k=k, k_objs=one if k == 1 else many, **fill)
        parts.append(_cap(sentence))
    parts.append(rng.choice(QUESTIONS).format(**fill))
    return " ".join(parts)


def _check_difficulty(min_ops: int, max_ops: int, max_operand: int, max_factor: int, max_value: int) -> None:
    if not 1 <= min_ops <= max_ops:
        raise ValueError(f"need 1 <= min_ops <= max_ops, got min_ops={min_ops}, max_ops={max_ops}")
    if max_operand < 1 or max_factor < 2 or max_value < 3:
        raise ValueError(f"need max_operand >= 1, max_factor >= 2, max_value >= 3; got "
                         f"{max_operand}, {max_factor}, {max_value}")


def generate_problems(n: int, seed: int, split: str = "train", min_ops: int = 2, max_ops: int = 3,
                      max_operand: int = 9, *, max_factor: int = 3, max_value: int = 99) -> list[Problem]:
    """`n` distinct problems of `split`, deterministic in all arguments.

    Programs are drawn at random and kept only if they belong to `split` (hash bucket); a question
    text already in the set is drawn again. Programs themselves may repeat under different stories:
    deduplicating programs would starve the small 2-operation space and make the test split (10% of
    the programs) skew towards long problems. ids are "synth-<split>-<seed>-<i>";
    meta["program"] = {"start", "ops"}.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    _check_difficulty(min_ops, max_ops, max_operand, max_factor, max_value)
    # str seeds hash with sha512 inside `random`, so this is stable across runs and machines
    rng = random.Random(f"hiero-synth|{seed}|{split}|{min_ops}|{max_ops}|{max_operand}|{max_factor}|{max_value}")
    problems: list[Problem] = []
    seen: set[str] = set()
    misses = 0  # draws in a row that gave nothing new: a long run means the space is used up
    while len(problems) < n:
        if misses > 5000:
            raise ValueError(f"only {len(problems)} distinct {split} problems found for n={n} with "
                             f"{min_ops}-{max_ops} ops, max_operand={max_operand}: widen the settings")
        program = _sample_program(rng, rng.randint(min_ops, max_ops), max_operand, max_factor, max_value)
        h = program_hash(program)
        if split_of(h) != split:
            misses += 1
            continue
        name, pron = rng.choice(NAMES)
        objs = rng.choice(OBJECTS)
        question = _render_question(rng, program, name, pron, objs)
        if question in seen:
            misses += 1
            continue
        seen.add(question)
        misses = 0
        values = _run(program)
        problem = Problem(
            id=f"synth-{split}-{seed}-{len(problems)}",
            question=question,
            answer=str(values[-1]),
            source="synth",
            meta={"program": program, "name": name, "object": objs[1], "hash": h[:16], "split": split},
        )
        problem.steps = solve(problem)
        problems.append(problem)
    return problems


# ----------------------------------------------------------------------------- reference solution


def _program(problem: Problem) -> dict:
    program = problem.meta.get("program") if isinstance(problem.meta, dict) else None
    if (not isinstance(program, dict) or not isinstance(program.get("start"), int)
            or not isinstance(program.get("ops"), list)
            or not all(isinstance(o, (list, tuple)) and len(o) == 2 and o[0] in OPS and isinstance(o[1], int)
                       for o in program["ops"])):
        raise ValueError(f"problem {problem.id!r} has no valid meta.program (not a synth problem?)")
    return program


def _run(program: dict) -> list[int]:
    values, v = [], program["start"]
    for op, k in program["ops"]:
        v = apply_op(v, op, k)
        values.append(v)
    return values


def true_values(problem: Problem) -> list[int]:
    """The true running value after each operation (len == number of operations)."""
    return _run(_program(problem))


def _equation(a: int, op: str, k: int, c: int) -> str:
    return f"{a} {op} {k} = {c}"


def _context(problem: Problem, value: int) -> str:
    name, objs = problem.meta.get("name"), problem.meta.get("object")
    if name and objs:
        return f"{name} starts with {value} {objs[:-1] if value == 1 else objs}."
    return f"Start with {value}."


def _answer_line(value) -> str:
    return f"The answer is {value}"


def solve(problem: Problem) -> list[str]:
    """Correct steps: the context step, one equation per operation, "The answer is N"."""
    program = _program(problem)
    steps, v = [_context(problem, program["start"])], program["start"]
    for op, k in program["ops"]:
        nv = apply_op(v, op, k)
        steps.append(_equation(v, op, k, nv))
        v = nv
    steps.append(_answer_line(v))
    return steps


# ----------------------------------------------------------------------------- parsing and checking
_NUM = r"[-−]?\d+"
# "a op b = c", optionally followed by a unit ("12 marbles") and a full stop
_EQ = re.compile(rf"^\s*({_NUM})\s*([-+*/×x÷−])\s*({_NUM})\s*=\s*({_NUM})(?:\s+[A-Za-z][A-Za-z ]*)?\s*\.?\s*$")
_CHECK = re.compile(r"^\s*check\s*:\s*(.*?)\s*,\s*not\s+([-−]?[\d.,]+)\s*\.?\s*$", re.IGNORECASE)
_ANSWER = re.compile(r"answer\s+is\s*:?\s*\$?\s*([-−+]?\d[\d,]*(?:\.\d+)?|[-−+]?\.\d+)", re.IGNORECASE)
_INT = re.compile(r"(?<![\d.])[-−]?\d+(?!\d|\.\d)")  # "5." ends a sentence; "5.5" is no integer
_OP_ALIASES = {"×": "*", "x": "*", "÷": "/", "−": "-"}


def _int(text: str) -> int:
    return int(text.replace("−", "-"))


def parse_equation(step: str) -> tuple[int, str, int, int] | None:
    """`"9 * 2 = 18"` -> (9, "*", 2, 18); × x ÷ − accepted; None if not an equation."""
    m = _EQ.match(step)
    if not m:
        return None
    a, op, b, c = m.groups()
    return _int(a), _OP_ALIASES.get(op, op), _int(b), _int(c)


def _statement_value(step: str) -> int | None:
    """The one integer of a plain statement ("Sam starts with 7 marbles."), else None."""
    nums = _INT.findall(step)
    return _int(nums[0]) if len(nums) == 1 else None


def step_kind(step: str) -> str:
    """Which kind of step this is: "equation", "correction", "answer", "context" or "other".

    "context" means a plain statement with exactly one number (only right before any equation).

    >>> [step_kind(s) for s in ["Sam starts with 7 marbles.", "7 + 5 = 12", "Check: 7 + 5 = 12, not 13.",
    ...                         "The answer is 12", "Hmm."]]
    ['context', 'equation', 'correction', 'answer', 'other']
    """
    if _CHECK.match(step):
        return "correction"
    if parse_equation(step) is not None:
        return "equation"
    if _ANSWER.search(step):
        return "answer"
    return "context" if _statement_value(step) is not None else "other"


def extract_answer(text: str | None) -> str | None:
    """The number after the last "answer is" in `text`, normalised ("1,200." -> "1200", "6.0" -> "6").

    >>> extract_answer("7 + 5 = 12\\nThe answer is 12")
    '12'
    >>> extract_answer("12 - 3 = 9") is None
    True
    """
    if not text:
        return None
    found = _ANSWER.findall(text)
    if not found:
        return None
    raw = found[-1].replace(",", "").replace("−", "-").lstrip("+")
    try:
        value = float(raw)
    except ValueError:
        return None
    return str(int(value)) if value == int(value) else str(value)


def is_correct(problem: Problem, answer: str | int | None) -> bool:
    """Does `answer` (a number or text holding "The answer is N" / a bare number) equal the reference?"""
    if answer is None:
        return False
    if isinstance(answer, bool):
        return False
    if isinstance(answer, int):
        got = str(answer)
    else:
        got = extract_answer(answer) if _ANSWER.search(answer) else extract_answer(f"answer is {answer.strip()}")
    return got is not None and got == extract_answer(f"answer is {problem.answer}")


def check_steps(problem: Problem, steps: list[str]) -> list[bool]:
    """Ground-truth correctness of each step of any candidate solution (rules in the module doc)."""
    program = _program(problem)
    ops, values = program["ops"], _run(program)
    before = [program["start"]] + values  # before[j]: true value before operation j
    out: list[bool] = []
    j = 0  # operations consumed so far
    last = None  # kind of the last checked step: "context" or "eq", for corrections
    answered = False
    for step in steps:
        step = step.strip()
        if answered:  # nothing may follow the answer line
            out.append(False)
            continue
        check = _CHECK.match(step)
        if check:
            inner = check.group(1)
            eq = parse_equation(inner)
            if eq is not None:
                ok = last == "eq" and 1 <= j <= len(ops) and eq == (before[j - 1], *ops[j - 1], before[j])
            else:
                ok = last == "context" and j == 0 and _statement_value(inner) == program["start"]
            out.append(ok)
            continue
        eq = parse_equation(step)
        if eq is not None:
            ok = j < len(ops) and eq == (before[j], ops[j][0], ops[j][1], before[j + 1])
            j += 1
            last = "eq"
            out.append(ok)
            continue
        if _ANSWER.search(step):
            answered = True
            out.append(extract_answer(step) == str(values[-1] if values else program["start"]))
            continue
        value = _statement_value(step)
        if value is not None and j == 0:
            last = "context"
            out.append(value == program["start"])
            continue
        out.append(False)  # unparseable, or a statement once equations have started
    return out


# kinds of wrong step `error_kinds` tells apart (the first five are what the issue tracker asks about)
ERROR_KINDS = ("arithmetic", "operand", "start", "format", "after_answer", "carried", "extra", "answer",
               "correction")


def error_kinds(problem: Problem, steps: list[str]) -> list[str | None]:
    """Why each step is wrong (None: right), walking the steps as `check_steps` does.

    arithmetic    an equation whose own arithmetic is false (a op b != c)
    operand       arithmetic right, but not the story's next operation (wrong op or operand)
    start         the context step misreads the start value
    carried       right operation and arithmetic, from a wrong running value (an earlier error
                  carried forward); also an answer that repeats a wrong running value
    extra         an equation beyond the story's last operation
    answer        an answer line that states neither the true value nor the running value
    correction    a "Check: ..." line that is not the right version of the step just taken
    format        a step that parses as nothing checkable (or a statement once equations began)
    after_answer  any step after the answer line

    >>> p = Problem(id="x", question="", answer="8", source="synth", meta={"program": {"start": 5, "ops": [["+", 3]]}})
    >>> error_kinds(p, ["Start with 5.", "5 + 3 = 8", "The answer is 8"])
    [None, None, None]
    >>> error_kinds(p, ["Start with 6.", "6 + 3 = 9", "The answer is 9", "Hmm."])
    ['start', 'carried', 'carried', 'after_answer']
    >>> error_kinds(p, ["Start with 5.", "5 + 3 = 9", "9 * 2 = 18", "The answer is 7"])
    [None, 'arithmetic', 'extra', 'answer']
    >>> error_kinds(p, ["Start with 5.", "5 + 4 = 9", "Check: 5 + 3 = 8, not 9.", "The answer is 8"])
    [None, 'operand', None, None]
    """
    program = _program(problem)
    ops, values = program["ops"], _run(program)
    before = [program["start"]] + values
    truth = check_steps(problem, steps)
    kinds: list[str | None] = []
    j, answered, running = 0, False, program["start"]  # running: the value the solution believes
    for step, ok in zip(steps, truth, strict=True):
        step = step.strip()
        if answered:
            kinds.append("after_answer")
            continue
        if _CHECK.match(step):
            eq = parse_equation(_CHECK.match(step).group(1))
            if ok:
                running = eq[3] if eq is not None else program["start"]
            kinds.append(None if ok else "correction")
            continue
        eq = parse_equation(step)
        if eq is not None:
            a, op, b, c = eq
            if ok:
                kind = None
            elif j >= len(ops):
                kind = "extra"
            elif op not in OPS or (op == "/" and (b == 0 or a % b)) or apply_op(a, op, b) != c:
                kind = "arithmetic"
            elif [op, b] != list(ops[j]):
                kind = "operand"
            else:
                kind = "carried" if a != before[j] else "arithmetic"
            j, running = j + 1, c
            kinds.append(kind)
            continue
        if _ANSWER.search(step):
            answered = True
            said = extract_answer(step)
            kinds.append(None if ok else ("carried" if said == str(running) else "answer"))
            continue
        value = _statement_value(step)
        if value is not None and j == 0:
            running = value
            kinds.append(None if ok else "start")
            continue
        kinds.append("format")
    return kinds


def first_error(problem: Problem, steps: list[str]) -> int:
    """0-based index of the first wrong step, -1 if every step is right."""
    for i, ok in enumerate(check_steps(problem, steps)):
        if not ok:
            return i
    return -1


# ----------------------------------------------------------------------------- noisy solutions


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


def render_noisy_solution(problem: Problem, rng: random.Random, p_error: float, p_correction: float) -> Solution:
    """A solution with realistic mistakes, labelled by `check_steps`.

    Each computing step (the context step and every equation) is wrong with probability p_error:
    an arithmetic slip (result off by 1–3), a wrong operand, or a misread start value. The
    solution then carries the wrong value forward (later equations start from it, so they are
    wrong too) unless, with probability p_correction after any wrong step, a correction line
    "Check: <right step>, not <wrong value>." follows and the solution resumes from the true value.
    meta: "injected" (indices of the wrong steps written on purpose), "corrections" (indices).
    """
    if not (0.0 <= p_error <= 1.0 and 0.0 <= p_correction <= 1.0):
        raise ValueError(f"p_error and p_correction must be in [0, 1], got {p_error}, {p_correction}")
    program = _program(problem)
    start = program["start"]
    steps: list[str] = []
    injected: list[int] = []
    corrections: list[int] = []

    # context step: a misread start value is the "query clarification" kind of mistake
    v = start
    if rng.random() < p_error:
        v = _slip(rng, start)
        injected.append(len(steps))
    steps.append(_context(problem, v))
    last_right = _context(problem, start).rstrip(".")  # the right version of the step just taken
    if v != start and rng.random() < p_correction:
        corrections.append(len(steps))
        steps.append(f"Check: {last_right}, not {v}.")
        v = start

    t = start  # true running value; v is the value the solution believes
    for op, k in program["ops"]:
        t_next = apply_op(t, op, k)
        if op == "/" and v % k:
            # off track and the division would not come out even: the writer notices and corrects
            # the step just taken, so every written value stays an integer (as in real solutions)
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
        steps.append(_equation(v, op, kk, c))
        last_right = _equation(t, op, k, t_next)
        v = c
        if c != t_next and rng.random() < p_correction:  # still off track: maybe correct it
            corrections.append(len(steps))
            steps.append(f"Check: {last_right}, not {c}.")
            v = t_next
        t = t_next
    steps.append(_answer_line(v))

    labels = [int(ok) for ok in check_steps(problem, steps)]
    fe = next((i for i, y in enumerate(labels) if not y), -1)
    return Solution(
        problem_id=problem.id, steps=steps, answer=str(v), correct=is_correct(problem, v),
        question=problem.question, labels=labels, first_error=fe,
        meta={"injected": injected, "corrections": corrections, "source": "synth-noisy"},
    )


# ----------------------------------------------------------------------------- entry point


def main(cfg: SynthConfig) -> dict:
    """Write cfg.n problems (and optionally noisy solutions) as JSONL; return measured figures.

    Everything is built before anything is written, and each file is written atomically, so a bad
    setting leaves no output behind.
    """
    from hiero.data.io import write_jsonl

    if cfg.n < 1 or cfg.solutions_per_problem < 1:
        raise ValueError(f"need n >= 1 and solutions_per_problem >= 1, got {cfg.n}, {cfg.solutions_per_problem}")
    if not (0.0 <= cfg.p_error <= 1.0 and 0.0 <= cfg.p_correction <= 1.0):
        raise ValueError(f"p_error and p_correction must be in [0, 1], got {cfg.p_error}, {cfg.p_correction}")
    problems = domain_of(cfg).problems(cfg.n, cfg.seed, cfg.split)
    n_ops = Counter(len(p.meta["program"]["ops"]) for p in problems)
    op_counts = Counter(op for p in problems for op, _ in p.meta["program"]["ops"])
    all_values = [v for p in problems for v in [p.meta["program"]["start"], *true_values(p)]]
    summary = {
        "out": cfg.out, "n": len(problems), "split": cfg.split, "seed": cfg.seed,
        "ops_per_problem": {str(k): n_ops[k] for k in sorted(n_ops)},
        "op_counts": {op: op_counts[op] for op in OPS},
        "value_range": [min(all_values), max(all_values)],
        "reference_all_steps_checked": sum(all(check_steps(p, p.steps)) for p in problems),
    }
    sols: list[Solution] = []
    if cfg.solutions_out:
        rng = random.Random(f"hiero-synth-noise|{cfg.seed}|{cfg.split}")
        sols = [render_noisy_solution(p, rng, cfg.p_error, cfg.p_correction)
                for p in problems for _ in range(cfg.solutions_per_problem)]
        n = len(sols)
        summary.update({
            "solutions_out": cfg.solutions_out, "n_solutions": n,
            "frac_with_error": sum(s.first_error != -1 for s in sols) / n,
            "frac_answer_correct": sum(bool(s.correct) for s in sols) / n,
            "frac_with_correction": sum(bool(s.meta["corrections"]) for s in sols) / n,
            "first_error_matches_injected": sum(
                s.first_error == (s.meta["injected"][0] if s.meta["injected"] else -1) for s in sols) / n,
        })
    write_jsonl(cfg.out, problems)
    if cfg.solutions_out:
        write_jsonl(cfg.solutions_out, sols)
    return summary
