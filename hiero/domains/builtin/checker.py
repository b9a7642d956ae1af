"""The truth of any candidate step: parsing, the step checker, its error kinds, the segments."""

from __future__ import annotations

import re

from hiero.domains.builtin.program import OP_WORDS, OPS, apply_op, program_of, run_program
from hiero.domains.builtin.writing import style_of
from hiero.types import Problem

_NUM = r"[-−]?\d+"
# "a op b = c", optionally followed by a unit ("12 marbles") and a full stop
_EQ = re.compile(
    rf"^\s*({_NUM})\s*([-+*/×x÷−])\s*({_NUM})\s*=\s*({_NUM})(?:\s+[A-Za-z][A-Za-z ]*)?\s*\.?\s*$"
)
_CHECK = re.compile(r"^\s*check\s*:\s*(.*?)\s*,\s*not\s+([-−]?[\d.,]+)\s*\.?\s*$", re.IGNORECASE)
_ANSWER = re.compile(r"answer\s+is\s*:?\s*\$?\s*([-−+]?\d[\d,]*(?:\.\d+)?|[-−+]?\.\d+)", re.IGNORECASE)
_INT = re.compile(r"(?<![\d.])[-−]?\d+(?!\d|\.\d)")  # "5." ends a sentence; "5.5" is no integer
_OP_ALIASES = {"×": "*", "x": "*", "÷": "/", "−": "-"}
_GIVENS = re.compile(r"^\s*givens\s*:\s*(.*?)\s*\.?\s*$", re.IGNORECASE)
_GIVEN_OP = re.compile(r"^(plus|minus|times|divided by)\s+(\d+)$")
_WORD_OPS = {w: o for o, w in OP_WORDS.items()}
_SENTENCE = re.compile(
    r"^\s*the final count is (?P<value>-?\d+), so the answer is (?P<stated>-?\d+)\s*\.?\s*$", re.IGNORECASE
)


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
        got = (
            extract_answer(answer)
            if _ANSWER.search(answer)
            else extract_answer(f"answer is {answer.strip()}")
        )
    return got is not None and got == extract_answer(f"answer is {problem.answer}")


def check_steps(problem: Problem, steps: list[str]) -> list[bool]:
    """Ground-truth correctness of each step of any candidate solution (rules in the module doc)."""
    program = program_of(problem)
    ops, values = program["ops"], run_program(program)
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

    >>> p = Problem(id="x", question="", answer="8", source="synth",
    ...             meta={"program": {"start": 5, "ops": [["+", 3]]}})
    >>> error_kinds(p, ["Start with 5.", "5 + 3 = 8", "The answer is 8"])
    [None, None, None]
    >>> error_kinds(p, ["Start with 6.", "6 + 3 = 9", "The answer is 9", "Hmm."])
    ['start', 'carried', 'carried', 'after_answer']
    >>> error_kinds(p, ["Start with 5.", "5 + 3 = 9", "9 * 2 = 18", "The answer is 7"])
    [None, 'arithmetic', 'extra', 'answer']
    >>> error_kinds(p, ["Start with 5.", "5 + 4 = 9", "Check: 5 + 3 = 8, not 9.", "The answer is 8"])
    [None, 'operand', None, None]
    """
    program = program_of(problem)
    ops, values = program["ops"], run_program(program)
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


def _segment_ends(steps: list[str]) -> tuple[bool, bool]:
    """(the first step is a clarification, the last step is an answer attempt): the first is a givens
    line or a statement of one number, the last (another step) is no equation and no check."""
    first = bool(steps) and (is_givens(steps[0]) or (parse_equation(steps[0]) is None
                                                     and _statement_value(steps[0]) is not None))
    last = len(steps) > int(first) and not _CHECK.match(steps[-1]) and parse_equation(steps[-1]) is None
    return first, last


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

    >>> p = Problem(id="x", question="", answer="8", source="synth",
    ...             meta={"program": {"start": 5, "ops": [["+", 3]]},
    ...             "style": "restate"})
    >>> segment_checks(p, ["Givens: 6, plus 3.", "6 + 3 = 9", "The final count is 9, so the answer is 9"])
    {'clarification': False, 'reasoning': True, 'answer': True, 'equations': 1, 'equations_right': 1}
    >>> segment_checks(p, ["Givens: 5, plus 3.", "5 + 3 = 8", "The final count is 8."])
    {'clarification': True, 'reasoning': True, 'answer': False, 'equations': 1, 'equations_right': 1}
    """
    program = program_of(problem)
    restate = style_of(problem) == "restate"
    start, ops = program["start"], [list(o) for o in program["ops"]]
    body = [x.strip() for x in steps]
    has_first, has_last = _segment_ends(body)
    clarification = False
    if has_first:
        given = parse_givens(body[0]) if is_givens(body[0]) else None
        stated = None if is_givens(body[0]) else _statement_value(body[0])
        if given is not None:
            clarification = given == (start, ops)
            start, ops = given
        elif stated is not None:
            clarification = stated == start
            start = stated
    answer_step = body[-1] if has_last else None
    body = body[int(has_first):len(body) - int(has_last)]
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
    first, last = _segment_ends(steps)
    c_end = starts[1] if first else 0
    a_start = starts[len(steps) - 1] if last else end
    return {
        "clarification": (0, min(c_end, end)),
        "reasoning": (min(c_end, a_start), a_start),
        "answer": (a_start, end),
    }
