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
STYLES = ("plain", "restate")  # how solutions are written (module doc)
OP_WORDS = {"+": "plus", "-": "minus", "*": "times", "/": "divided by"}  # the givens line's operations

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
    style: Literal["plain", "restate"] = field(default="plain", metadata={
        "help": "built-in domain: how solutions are written; plain: the start value, equations, 'The answer is N'; "
                "restate: the givens restated, equations, an answer sentence (three segments that can each go wrong)"})

    def problems(self, n: int, seed: int, split: str = "train") -> list[Problem]:
        """`generate_problems` with these settings."""
        return generate_problems(n, seed, split, self.min_ops, self.max_ops, self.max_operand,
                                 max_factor=self.max_factor, max_value=self.max_value, style=self.style)


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
    p_restate: float = field(default=0.0, metadata={
        "help": "noisy solutions, style restate: chance the givens are misread (a number or an operation)"})
    p_answer: float = field(default=0.0, metadata={
        "help": "noisy solutions: chance the answer sentence is wrong (half mis-copied value, half malformed)"})
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
                      max_operand: int = 9, *, max_factor: int = 3, max_value: int = 99,
                      style: str = "plain") -> list[Problem]:
    """`n` distinct problems of `split`, deterministic in all arguments.

    Programs are drawn at random and kept only if they belong to `split` (hash bucket); a question
    text already in the set is drawn again. Programs themselves may repeat under different stories:
    deduplicating programs would starve the small 2-operation space and make the test split (10% of
    the programs) skew towards long problems. ids are "synth-<split>-<seed>-<i>";
    meta["program"] = {"start", "ops"}. `style` changes how the reference steps are written
    (meta["style"], set only for "restate"), never which problems are drawn.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if style not in STYLES:
        raise ValueError(f"style must be one of {STYLES}, got {style!r}")
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
            meta={"program": program, "name": name, "object": objs[1], "hash": h[:16], "split": split,
                  **({"style": style} if style != "plain" else {})},
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
    program = _program(problem)
    restate = style_of(problem) == "restate"
    v = program["start"]
    steps = [givens_line(v, program["ops"]) if restate else _context(problem, v)]
    for op, k in program["ops"]:
        nv = apply_op(v, op, k)
        steps.append(_equation(v, op, k, nv))
        v = nv
    steps.append(answer_sentence(v) if restate else _answer_line(v))
    return steps


# ----------------------------------------------------------------------------- parsing and checking
_NUM = r"[-−]?\d+"
# "a op b = c", optionally followed by a unit ("12 marbles") and a full stop
_EQ = re.compile(rf"^\s*({_NUM})\s*([-+*/×x÷−])\s*({_NUM})\s*=\s*({_NUM})(?:\s+[A-Za-z][A-Za-z ]*)?\s*\.?\s*$")
_CHECK = re.compile(r"^\s*check\s*:\s*(.*?)\s*,\s*not\s+([-−]?[\d.,]+)\s*\.?\s*$", re.IGNORECASE)
_ANSWER = re.compile(r"answer\s+is\s*:?\s*\$?\s*([-−+]?\d[\d,]*(?:\.\d+)?|[-−+]?\.\d+)", re.IGNORECASE)
_INT = re.compile(r"(?<![\d.])[-−]?\d+(?!\d|\.\d)")  # "5." ends a sentence; "5.5" is no integer
_OP_ALIASES = {"×": "*", "x": "*", "÷": "/", "−": "-"}
_GIVENS = re.compile(r"^\s*givens\s*:\s*(.*?)\s*\.?\s*$", re.IGNORECASE)
_GIVEN_OP = re.compile(r"^(plus|minus|times|divided by)\s+(\d+)$")
_WORD_OPS = {w: o for o, w in OP_WORDS.items()}
_SENTENCE = re.compile(r"^\s*the final count is (?P<value>-?\d+), so the answer is (?P<stated>-?\d+)\s*\.?\s*$",
                       re.IGNORECASE)


def _int(text: str) -> int:
    return int(text.replace("−", "-"))


def parse_equation(step: str) -> tuple[int, str, int, int] | None:
    """`"9 * 2 = 18"` -> (9, "*", 2, 18); × x ÷ − accepted; None if not an equation."""
    m = _EQ.match(step)
    if not m:
        return None
    a, op, b, c = m.groups()
    return _int(a), _OP_ALIASES.get(op, op), _int(b), _int(c)


def is_givens(step: str) -> bool:
    """Is this step a givens line ("Givens: 5, minus 1, ..."), well formed or not?"""
    return _GIVENS.match(step) is not None


def parse_givens(step: str) -> tuple[int, list[list]] | None:
    """`"Givens: 5, minus 1, times 3."` -> (5, [["-", 1], ["*", 3]]); None if not a well-formed givens line.

    >>> parse_givens("Givens: 5, minus 1, divided by 2.")
    (5, [['-', 1], ['/', 2]])
    >>> parse_givens("Givens: 5, less 1.") is None
    True
    """
    m = _GIVENS.match(step)
    if not m:
        return None
    items = [x.strip() for x in m.group(1).split(",")]
    if not items or not re.fullmatch(r"\d+", items[0]):
        return None
    ops = []
    for item in items[1:]:
        g = _GIVEN_OP.match(item)
        if not g:
            return None
        ops.append([_WORD_OPS[g.group(1)], int(g.group(2))])
    return int(items[0]), ops


def _statement_value(step: str) -> int | None:
    """The one integer of a plain statement ("Sam starts with 7 marbles."), else None."""
    nums = _INT.findall(step)
    return _int(nums[0]) if len(nums) == 1 else None


def step_kind(step: str) -> str:
    """Which kind of step this is: "equation", "correction", "answer", "context" or "other".

    "context" means a plain statement with exactly one number, or a givens line (only right before any
    equation).

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
    return "context" if _statement_value(step) is not None or is_givens(step) else "other"


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
        if is_givens(step) and j == 0:
            last = "context"
            given = parse_givens(step)
            out.append(given is not None and given == (program["start"], [list(o) for o in ops]))
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
               "correction", "givens")


def error_kinds(problem: Problem, steps: list[str]) -> list[str | None]:
    """Why each step is wrong (None: right), walking the steps as `check_steps` does.

    arithmetic    an equation whose own arithmetic is false (a op b != c)
    operand       arithmetic right, but not the story's next operation (wrong op or operand)
    start         the context step misreads the start value
    givens        the givens line misreads a number or an operation (restate style)
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
        if is_givens(step) and j == 0:
            given = parse_givens(step)
            running = given[0] if given else program["start"]
            kinds.append(None if ok else "givens")
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


SEGMENTS = ("clarification", "reasoning", "answer")  # HiPO's Rq / Mt / Ra, as segment_checks names them


def segment_checks(problem: Problem, steps: list[str]) -> dict:
    """HiPO's three segments of one solution, each checked on its own terms (the judge-free counterpart
    of the HiPO paper's organisation / flow / consistency scores):

    clarification  the first step restates the problem rightly: a givens line equal to the program
                   (restate style), or a context step stating the start value (plain style);
    reasoning      every equation applies the next operation *the clarification stated* to the value the
                   solution holds (the stated start, then each result), with right arithmetic, one
                   equation per stated operation, nothing unparseable in between ("Check:" lines set the
                   value held); `equations` / `equations_right` count them;
    answer         the last step (when it is no equation) states the value the reasoning reached, well
                   formed (restate style: the whole answer sentence, "The final count is N, so the
                   answer is N", both values; plain: "The answer is N").

    So a misread givens line followed by faithful arithmetic is a wrong clarification and a right
    reasoning; the answer is right overall iff all three are (`check_steps` is the step-level truth).

    >>> p = Problem(id="x", question="", answer="8", source="synth", meta={"program": {"start": 5, "ops": [["+", 3]]},
    ...             "style": "restate"})
    >>> segment_checks(p, ["Givens: 6, plus 3.", "6 + 3 = 9", "The final count is 9, so the answer is 9"])
    {'clarification': False, 'reasoning': True, 'answer': True, 'equations': 1, 'equations_right': 1}
    >>> segment_checks(p, ["Givens: 5, plus 3.", "5 + 3 = 8", "The final count is 8."])
    {'clarification': True, 'reasoning': True, 'answer': False, 'equations': 1, 'equations_right': 1}
    """
    program = _program(problem)
    restate = style_of(problem) == "restate"
    start, ops = program["start"], [list(o) for o in program["ops"]]
    body = [x.strip() for x in steps]
    clarification = False
    if body and is_givens(body[0]):
        given = parse_givens(body[0])
        if given is not None:
            clarification = given == (start, ops)
            start, ops = given
        body = body[1:]
    elif body and parse_equation(body[0]) is None and _statement_value(body[0]) is not None:
        clarification = _statement_value(body[0]) == start
        start = _statement_value(body[0])
        body = body[1:]
    # the last step is the answer attempt unless it is an equation or a check (then none was written)
    answer_step = body[-1] if body and not _CHECK.match(body[-1]) and parse_equation(body[-1]) is None else None
    if answer_step is not None:
        body = body[:-1]
    held, j, n_right, stray = start, 0, 0, False
    for step in body:
        check = _CHECK.match(step)
        eq = parse_equation(check.group(1) if check else step)
        if eq is None:
            stray = True
            continue
        if check:
            held = eq[3]
            continue
        a, op, b, c = eq
        ok = (j < len(ops) and a == held and [op, b] == ops[j]
              and not (op == "/" and (b == 0 or a % b)) and apply_op(a, op, b) == c)
        n_right += ok
        j, held = j + 1, c
    reasoning = not stray and j == len(ops) and n_right == j
    answer = False
    if answer_step is not None:
        if restate:
            m = _SENTENCE.match(answer_step)
            answer = bool(m) and int(m["value"]) == held and int(m["stated"]) == held
        else:
            answer = _ANSWER.search(answer_step) is not None and extract_answer(answer_step) == str(held)
    return {"clarification": clarification, "reasoning": reasoning, "answer": answer, "equations": j,
            "equations_right": n_right}


def segment_spans(steps: list[str], sep: str = "\n") -> dict[str, tuple[int, int]]:
    """Character spans of the three segments in `sep.join(steps)`, as `segment_checks` reads them: the
    first step (a givens line or context statement) is the clarification, the last step (unless it is
    an equation or a check) the answer, the steps between the reasoning; boundaries at step starts,
    so the spans tile the text.

    >>> segment_spans(["Givens: 5, plus 3.", "5 + 3 = 8", "The final count is 8."])
    {'clarification': (0, 19), 'reasoning': (19, 29), 'answer': (29, 50)}
    """
    starts = [0]
    for step in steps:
        starts.append(starts[-1] + len(step) + len(sep))
    end = max(starts[-1] - len(sep), 0)
    first = steps and (is_givens(steps[0]) or (parse_equation(steps[0]) is None
                                               and _statement_value(steps[0]) is not None))
    last = (len(steps) > int(bool(first)) and not _CHECK.match(steps[-1]) and parse_equation(steps[-1]) is None)
    c_end = starts[1] if first else 0
    a_start = starts[len(steps) - 1] if last else end
    return {"clarification": (0, min(c_end, end)), "reasoning": (min(c_end, a_start), a_start), "answer": (a_start, end)}


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


def _render_restate(problem: Problem, rng: random.Random, p_error: float, p_correction: float, p_restate: float,
                    p_answer: float) -> tuple[list[str], list[int], list[int], dict]:
    """Steps of a noisy restate-style solution: the givens (misread at p_restate), equations that
    follow the givens as stated (each wrong at p_error, corrected at p_correction), the answer
    sentence (wrong at p_answer: the value mis-copied or the sentence left without its answer)."""
    program = _program(problem)
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
    v = t = start  # v: the value the solution holds; t: the stated program's value
    last_right = None  # the right version of the last equation; set before v can leave t
    for op, k in ops:
        t_next = apply_op(t, op, k)
        if op == "/" and v % k:  # v != t (the stated program divides): correct the step just taken
            assert last_right is not None
            corrections.append(len(steps))
            steps.append(f"Check: {_equation(*last_right)}, not {v}.")
            v = t
        kk, c = k, apply_op(v, op, k)
        if rng.random() < p_error:
            alt = _wrong_operand(rng, v, op, k) if rng.random() < 0.4 else None
            if alt is not None:
                kk, c = alt, apply_op(v, op, alt)
            else:
                c = _slip(rng, c)
            injected.append(len(steps))
            wrong["reasoning"] = True
        steps.append(_equation(v, op, kk, c))
        last_right = (t, op, k, t_next)
        v = c
        if c != t_next and rng.random() < p_correction:
            corrections.append(len(steps))
            steps.append(f"Check: {_equation(*last_right)}, not {c}.")
            v = t_next
        t = t_next
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
        steps, injected, corrections, wrong = _render_restate(problem, rng, p_error, p_correction, p_restate, p_answer)
        labels = [int(ok) for ok in check_steps(problem, steps)]
        answer = extract_answer(steps[-1])
        return Solution(
            problem_id=problem.id, steps=steps, answer=answer, correct=is_correct(problem, answer),
            question=problem.question, labels=labels, first_error=next((i for i, y in enumerate(labels) if not y), -1),
            meta={"injected": injected, "corrections": corrections, "wrong_segments": wrong, "source": "synth-noisy"})
    if p_restate or p_answer:
        raise ValueError(f"problem {problem.id!r} is written in the plain style: p_restate and p_answer are for "
                         "the restate style (--style restate); the plain context step's misreads come with p_error")
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
    for name in ("p_error", "p_correction", "p_restate", "p_answer"):
        if not 0.0 <= getattr(cfg, name) <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {getattr(cfg, name)}")
    if cfg.style == "plain" and (cfg.p_restate or cfg.p_answer):
        raise ValueError("--p-restate and --p-answer are for --style restate")
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
        sols = [render_noisy_solution(p, rng, cfg.p_error, cfg.p_correction, cfg.p_restate, cfg.p_answer)
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
