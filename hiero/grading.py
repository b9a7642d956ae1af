"""Answer extraction and equivalence: the one grader shared by search, scoring and evaluation.

    extract_answer(text)  -> str | None   the final answer a solution states
    is_equiv(pred, ref)   -> bool          does `pred` mean the same answer as the reference `ref`?
    grade(text, ref)      -> bool          extract_answer + is_equiv

Extraction, in priority order (the first form present wins, and within a form the last occurrence):
    "# Answer\\n\\nX"  (PRM800K), "#### X" (GSM8K references), "\\boxed{X}" / "\\fbox{X}" (MATH, nested
    braces handled), "The answer is X" (the built-in domain, Math-Shepherd), "A: X" at a line start
    (GSM8K model solutions), and finally the last number in the text.

Equivalence follows the PRM800K grader (openai/prm800k `grading/grader.py`) in spirit:
    1. both sides are normalised as strings: `\\text{...}` unwrapped, units words dropped after a
       number, thousands separators "1,000" removed, `$`, `\\%`, degree signs, trailing periods,
       `\\left`/`\\right`, `\\dfrac`/`\\tfrac` -> `\\frac`, spaces; equal strings are equal answers;
    2. fast path: when both sides are plain numbers (integers, decimals, a/b, \\frac{a}{b}, with
       sign) they are compared exactly as fractions, without sympy;
    3. tuples and intervals with the same brackets are compared element by element (so "(1,2]" is
       never equal to "(1,2)"), each element by this same procedure;
    4. otherwise math-verify (`parse` + `verify`, sympy-based) decides.

math-verify guards its work with `signal.alarm`, which only works on the main thread. Off the main
thread (a generation server, a DataLoader worker thread) we call it with timeouts disabled inside a
daemon worker thread that we wait on for `timeout` seconds; a comparison that runs out of time
counts as "not equivalent" (the abandoned thread finishes in the background). Very long answers
(> 400 characters) skip sympy altogether: they are compared as normalised strings only.

Departures from the PRM800K grader: it refuses sympy on answers with more than two unknown
letters; here math-verify's own guards apply. "0.5" equals "1/2" (PRM800K agrees through sympy).
"""

from __future__ import annotations

import re
import threading
from fractions import Fraction

MAX_SYMPY_CHARS = 400  # longer answers are compared as strings only (sympy can hang on them)
DEFAULT_TIMEOUT = 5  # seconds per math-verify parse / comparison

# ----------------------------------------------------------------------------- extraction
_ANSWER_HEADER = re.compile(r"^#\s*Answer\s*$", re.MULTILINE)
_ANSWER_IS = re.compile(r"[Tt]he (?:final )?answer is\s*:?\s*(.+)")
_A_COLON = re.compile(r"^\s*A:\s*(.+?)\s*$", re.MULTILINE)
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")


def last_boxed(text: str) -> str | None:
    r"""Content of the last `\boxed{...}` / `\fbox{...}` (nested braces handled), else None.

    >>> last_boxed(r"so $x = \boxed{\frac{1}{2}}$ and \boxed{3}")
    '3'
    >>> last_boxed(r"\boxed{\left( 3, \frac{\pi}{2} \right)}.")
    '\\left( 3, \\frac{\\pi}{2} \\right)'
    >>> last_boxed(r"\boxed 5")
    '5'
    """
    idx = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    if idx < 0:
        return None
    i = idx + (len("\\boxed") if text.startswith("\\boxed", idx) else len("\\fbox"))
    if text.startswith(" ", i) and not text.startswith(" {", i):  # "\boxed 5": one token
        m = re.match(r"\s*([^\s$]+)", text[i:])
        return m.group(1) if m else None
    while i < len(text) and text[i] == " ":
        i += 1
    if i >= len(text) or text[i] != "{":
        return None
    depth, start = 0, i + 1
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[start:j]
    return None  # unbalanced: no answer


def _clean(ans: str) -> str:
    """Trim what surrounds a stated answer: spaces, $…$, a trailing period."""
    ans = ans.strip()
    ans = ans.rstrip(".").strip()
    if len(ans) >= 2 and ans.startswith("$") and ans.endswith("$"):
        ans = ans.strip("$").strip()
    return ans.rstrip(".").strip()


# words a model puts between "the answer is" and the value ("The answer is actually 2.33, which is ...")
_FILLER = re.compile(r"(?:(?:actually|approximately|about|around|roughly|exactly|simply|just|indeed|now|then|"
                     r"therefore|thus|so)\s+)+", re.IGNORECASE)
# a value (a number, with a unit word) that a ", which ..." clause follows: the value ends at the comma
_VALUE_THEN_CLAUSE = re.compile(r"(-?\$?\d[\d,]*(?:\.\d+)?%?(?:\s+[A-Za-z]+)?),\s")


def _stated(ans: str) -> str:
    """The value in a free-form "The answer is …" line: the sentence ends at ". " and a worked
    expression gives its result ("2 * 1 = 2 bolts" -> "2 bolts"); filler words before the value and a
    clause after it (", which …") are dropped (SmolLM2-135M-Instruct writes both).

    >>> _stated("16. So, 16 glasses are needed")
    '16.'
    >>> _stated("2 * 1 = 2 bolts.")
    '2 bolts.'
    >>> _stated("3.5 liters")
    '3.5 liters'
    >>> _stated("actually 2.33, which is the actual amount of money she needs")
    '2.33'
    >>> _stated("approximately 24 apples, so she has enough"), _stated("(1, 2)"), _stated("1,250 dollars")
    ('24 apples', '(1, 2)', '1,250 dollars')
    """
    ans = re.split(r"(?<=\.)\s", ans, maxsplit=1)[0]
    ans = ans.rsplit("=", 1)[1].strip() if "=" in ans and "\\" not in ans else ans
    ans = _FILLER.sub("", ans, count=1) if _FILLER.match(ans) else ans
    m = _VALUE_THEN_CLAUSE.match(ans)
    return m.group(1) if m else ans


def extract_answer(text: str | None) -> str | None:
    """The final answer a solution states, or None when it states none.

    >>> extract_answer("So a pencil costs 29 cents.\\n\\n# Answer\\n\\n29")
    '29'
    >>> extract_answer("48+24 = <<48+24=72>>72\\n#### 72")
    '72'
    >>> extract_answer("7 + 5 = 12\\nThe answer is 12")
    '12'
    >>> extract_answer("2 bolts each\\n\\nThe answer is 2 * 1 = 2 bolts. That is all.")
    '2 bolts'
    >>> extract_answer("So, the answer is 120 + 240 = 440. The answer is 240.")
    '240'
    >>> extract_answer("She makes $18 a day\\nA: 18")
    '18'
    >>> extract_answer("it costs 1,250 dollars")
    '1250'
    >>> extract_answer("no digits here") is None
    True
    """
    if not text:
        return None
    headers = list(_ANSWER_HEADER.finditer(text))
    if headers:
        rest = [line for line in text[headers[-1].end():].splitlines() if line.strip()]
        if rest:
            return _clean(rest[0])
    if "####" in text:
        tail = text.rsplit("####", 1)[1].strip().splitlines()
        if tail and tail[0].strip():
            return _clean(tail[0]).replace(",", "") if _is_plain_number(tail[0]) else _clean(tail[0])
    boxed = last_boxed(text)
    if boxed is not None:
        return boxed.strip()
    hits = _ANSWER_IS.findall(text)
    if hits:
        ans = hits[-1]
        # a line that states two answers: the last one that holds a value counts
        while (again := _ANSWER_IS.search(ans)) is not None and re.search(r"\d", again.group(1)):
            ans = again.group(1)
        inner = last_boxed(ans)
        return inner.strip() if inner is not None else _clean(_stated(ans))
    hits = _A_COLON.findall(text)
    if hits:
        return _clean(hits[-1])
    nums = _NUMBER.findall(text)
    if nums:
        return nums[-1].replace(",", "")
    return None


# ----------------------------------------------------------------------------- normalisation
_UNIT_WORDS = (
    "degrees?|cm|centimeters?|meters?|m|km|kilometers?|mm|inches|inch|in|feet|foot|ft|yards?|miles?|"
    "units?|sq|square|cubic|hours?|hrs?|minutes?|mins?|seconds?|secs?|days?|weeks?|months?|years?|"
    "dollars?|cents?|pounds?|lbs?|ounces?|oz|grams?|g|kg|kilograms?|liters?|l|ml|gallons?|mph|"
    "points?|people|students|apples|marbles|eggs|pages|boxes|books|cookies|ways|times|percent"
)
_UNIT_AFTER_NUMBER = re.compile(
    r"(?<=[\d}])\s*(?:\^?\{?\s*(?:" + _UNIT_WORDS + r")\b[\s^{}0-9]*)+$", re.IGNORECASE
)
_THOUSANDS = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?")


def _unwrap_text(s: str) -> str:
    r"""\text{abc} -> abc, \mbox{..} and \textbf{..} likewise (innermost first)."""
    pattern = re.compile(r"\\(?:text|textbf|textit|mbox|mathrm|mathbf)\s*\{([^{}]*)\}")
    prev = None
    while prev != s:
        prev, s = s, pattern.sub(r"\1", s)
    return s


def normalize(ans: str) -> str:
    r"""PRM800K-style string normalisation of one answer.

    >>> normalize(r"\$1,000.")
    '1000'
    >>> normalize(r"\dfrac{3}{4}")
    '\\frac{3}{4}'
    >>> normalize(r"5\text{ cm}^2")
    '5'
    >>> normalize(r"90^\circ")
    '90'
    >>> normalize(r"\left( 3, \frac{\pi}{2} \right)")
    '(3,\\frac{\\pi}{2})'
    """
    s = ans.strip()
    s = s.replace("\n", " ")
    s = re.sub(r"(?<!\\)\\[!,;: ]", " ", s)  # LaTeX spacing commands (not the row break "\\\\")
    s = re.sub(r"\\(?:d|t)frac", r"\\frac", s)
    s = s.replace("\\left", "").replace("\\right", "")
    s = _unwrap_text(s)
    s = re.sub(r"\^\s*\{?\\circ\}?", "", s).replace("°", "").replace("\\circ", "")
    s = s.replace("\\$", "").replace("$", "").replace("\\%", "").replace("%", "")
    s = s.replace("{,}", ",")  # LaTeX thousands separator "1{,}000"
    s = re.sub(r"\s+(?:or|and)\s+", ",", s)  # "x=2 or x=3" -> "x=2,x=3"
    s = re.sub(r"(^|,)\s*[a-zA-Z]\s*=\s*(?=[^=,]+(,|$))", r"\1", s)  # "x = 5" -> "5", per element
    s = s.strip().rstrip(".").strip()
    s = _UNIT_AFTER_NUMBER.sub("", s).strip()
    # drop spaces, but keep one where it ends a command before a letter ("\\pi r" is not "\\pir")
    s = re.sub(r"(\\[a-zA-Z]+)\s+(?=[a-zA-Z])", "\\1\x00", s).replace(" ", "").replace("\x00", " ")
    if _THOUSANDS.fullmatch(s):  # only a whole-answer number: "(100,200)" stays a tuple
        s = s.replace(",", "")
    if re.fullmatch(r"-?\d+\.0+", s):  # "12.00" -> "12"
        s = s.split(".")[0]
    return s


# ----------------------------------------------------------------------------- numbers (fast path)
_FRAC = re.compile(r"(-?)\\frac\{?(-?\d+)\}?\{?(-?\d+)\}?")


def _is_plain_number(s: str) -> bool:
    return re.fullmatch(r"\s*-?[\d,]*\.?\d+\s*\.?\s*", s) is not None


def as_number(s: str) -> Fraction | None:
    r"""A normalised plain number as an exact fraction, else None (e.g. symbolic, tuple).

    >>> as_number("-12"), as_number("0.5"), as_number("3/4"), as_number(r"\frac{3}{4}"), as_number("x")
    (Fraction(-12, 1), Fraction(1, 2), Fraction(3, 4), Fraction(3, 4), None)
    """
    if re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)", s):
        return Fraction(s)
    m = re.fullmatch(r"([+-]?\d+)/(\d+)", s)
    if m and int(m.group(2)) != 0:
        return Fraction(int(m.group(1)), int(m.group(2)))
    m = _FRAC.fullmatch(s)
    if m and int(m.group(3)) != 0:
        value = Fraction(int(m.group(2)), int(m.group(3)))
        return -value if m.group(1) else value
    return None


# ----------------------------------------------------------------------------- tuples / intervals
def _split_top_level(s: str) -> list[str]:
    """Split on commas that are not inside (), [], {}."""
    parts, depth, cur = [], 0, []
    for ch in s:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


def _bracketed(s: str) -> tuple[str, list[str], str] | None:
    """'(a,b]' -> ('(', ['a', 'b'], ']') when the outer brackets enclose the whole string."""
    if len(s) < 2 or s[0] not in "([" or s[-1] not in ")]":
        return None
    depth = 0
    for i, ch in enumerate(s):
        depth += ch in "([{"
        depth -= ch in ")]}"
        if depth == 0 and i < len(s) - 1:
            return None  # "(a)+(b)": the first bracket closes early
    inner = _split_top_level(s[1:-1])
    return (s[0], inner, s[-1]) if len(inner) >= 2 else None


# ----------------------------------------------------------------------------- math-verify
def _math_verify(pred: str, ref: str, timeout: int) -> bool:
    from math_verify import parse, verify  # imported lazily: it pulls in sympy (~1 s)

    on_main = threading.current_thread() is threading.main_thread()

    def run(t) -> bool:
        gold = parse(f"${ref}$", parsing_timeout=t)
        target = parse(f"${pred}$", parsing_timeout=t)
        if not gold or not target:
            return False
        return bool(verify(gold, target, timeout_seconds=t))

    if on_main:
        return run(timeout)
    # off the main thread: no signals; wait on a daemon thread instead
    result: list[bool] = []
    worker = threading.Thread(target=lambda: result.append(run(None)), daemon=True)
    worker.start()
    worker.join(timeout)
    return bool(result and result[0])


def is_equiv(pred: str | None, ref: str | None, *, timeout: int = DEFAULT_TIMEOUT) -> bool:
    r"""Does the predicted answer mean the same as the reference? (See the module docstring.)

    >>> is_equiv("1,000", "1000"), is_equiv(r"\dfrac{1}{2}", "0.5"), is_equiv("(1,2]", "(1,2)")
    (True, True, False)
    """
    if pred is None or ref is None:
        return False
    p, r = normalize(str(pred)), normalize(str(ref))
    if not p or not r:
        return False
    if p == r:
        return True
    np_, nr = as_number(p), as_number(r)
    if np_ is not None and nr is not None:
        return np_ == nr
    bp, br = _bracketed(p), _bracketed(r)
    if bp is not None and br is not None:
        # same brackets, same arity, elementwise equal (PRM800K grader's tuple/interval rule)
        return (bp[0] == br[0] and bp[2] == br[2] and len(bp[1]) == len(br[1])
                and all(is_equiv(a, b, timeout=timeout) for a, b in zip(bp[1], br[1], strict=True)))
    if len(p) > MAX_SYMPY_CHARS or len(r) > MAX_SYMPY_CHARS:
        return False
    try:
        return _math_verify(p, r, timeout)
    except Exception:  # math-verify raises on exotic LaTeX; an unparsable answer is not equivalent
        return False


def grade(text: str | None, ref: str | None) -> bool:
    """Extract the answer a solution states and compare it with the reference."""
    return is_equiv(extract_answer(text), ref)
