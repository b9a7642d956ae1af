"""Grading: answer extraction and equivalence, on every MATH500 and GSM8K test reference, the GSM8K
model solutions' own correctness labels, and a table of tricky cases."""

from __future__ import annotations

import json
import threading
import time

import pytest

from hiero.grading import as_number, extract_answer, grade, is_equiv, last_boxed, normalize


def _jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def test_math500_self_consistency_500_of_500(shared_data):
    """The answer extracted from each reference solution grades equal to its `answer`: 500/500."""
    rows = _jsonl(shared_data / "math500" / "test.jsonl")
    assert len(rows) == 500
    t0 = time.perf_counter()
    ok = [is_equiv(extract_answer(r["solution"]), r["answer"]) for r in rows]
    assert sum(ok) == 500
    assert time.perf_counter() - t0 < 30


def test_math500_answers_survive_rewriting(shared_data):
    """Harder than self-consistency: each answer still grades equal after cosmetic rewrites
    (\\dfrac, \\left/\\right, $…$, a trailing period, 'x = …', extra spaces) and stops grading
    equal once a digit is changed (checked where the answer is a plain number)."""
    rows = _jsonl(shared_data / "math500" / "test.jsonl")
    n_numeric = 0
    for r in rows:
        ans = r["answer"]
        rewritten = "$" + ans.replace("\\frac", "\\dfrac").replace(",", ", ") + "$."
        assert is_equiv(rewritten, ans), ans
        num = as_number(normalize(ans))
        if num is not None:
            n_numeric += 1
            assert not is_equiv(str(num + 1), ans)
    assert n_numeric > 200  # most MATH500 answers are numbers: the negative check is not vacuous


def test_gsm8k_test_references(shared_data):
    """`extract_answer` on every GSM8K test reference gives the '####' number."""
    rows = _jsonl(shared_data / "gsm8k" / "test.jsonl")
    for r in rows:
        final = r["answer"].rsplit("####", 1)[1].strip()
        assert extract_answer(r["answer"]) == final.replace(",", "")
        assert grade(r["answer"], final)


def test_gsm8k_model_solutions_agree_with_is_correct(shared_data):
    """Grading the 4 x 1,319 GPT-3 solutions ('A: x' lines) against the reference reproduces
    the file's human-checked is_correct flag on every one."""
    sols = _jsonl(shared_data / "gsm8k" / "example_model_solutions.jsonl")
    test = _jsonl(shared_data / "gsm8k" / "test.jsonl")
    agree = total = 0
    for row, ref in zip(sols, test, strict=True):
        gold = extract_answer(ref["answer"])
        assert is_equiv(extract_answer(row["ground_truth"]), gold)
        for key in ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification"):
            total += 1
            agree += grade(row[key]["solution"], gold) == row[key]["is_correct"]
    assert total == 5276 and agree == 5276


@pytest.mark.parametrize("text,expected", [
    (r"so $\boxed{\frac{1}{2}}$", r"\frac{1}{2}"),
    (r"first \boxed{1} then \boxed{\left( 3, \frac{\pi}{2} \right)}.", r"\left( 3, \frac{\pi}{2} \right)"),
    (r"\fbox{7}", "7"),
    ("Right.\n\n# Answer\n\n29", "29"),
    ("48+24 = 72\n#### 1,072", "1072"),
    ("7 + 5 = 12\nThe answer is 12", "12"),
    ("Step 5: ... The answer is: 13520", "13520"),
    ("The final answer is $\\boxed{6}$.", "6"),
    ("She makes 9 * 2 = $18 a day\nA: 18", "18"),
    ("so the total is -3.5 dollars", "-3.5"),
    ("nothing to see", None),
    ("", None),
    (r"\boxed{unbalanced", None),
])
def test_extract_answer(text, expected):
    assert extract_answer(text) == expected


EQUIVALENT = [
    (r"\frac{1}{2}", "1/2"),
    ("0.5", r"\frac12"),
    (r"\dfrac{3}{4}", "0.75"),
    ("-3", "-3.0"),
    ("1,000", "1000"),
    (r"\$1,000.00", "1000"),
    ("1,234,567", "1234567"),
    (r"5\text{ cm}", "5"),
    ("18 dollars", "18"),
    (r"10\%", "10"),
    (r"90^\circ", "90"),
    ("90°", "90"),
    (r"\text{(C)}", "C"),
    ("12.", "12"),
    ("x = 5", "5"),
    ("(1,2]", "(1, 2]"),
    (r"(-\infty, 3]", r"(-\infty,3]"),
    (r"(3,\frac{\pi}{2})", r"\left( 3, \frac{\pi}{2} \right)"),
    ("(100,200)", "(100, 200)"),
    ("2", r"\sqrt{4}"),
    (r"2\sqrt{2}", r"\sqrt{8}"),
    ("x^2+2x+1", "(x+1)^2"),
    (r"10^{10}", "10000000000"),
    (
        r"\begin{pmatrix} \frac{16}{49} \\ \frac{48}{49} \end{pmatrix}",
        r"\begin{pmatrix} 16/49 \\ 48/49 \end{pmatrix}",
    ),
    (r"x=2 \text{ or } x=3", "2, 3"),
    (r"1{,}000", "1000"),
    (r"\frac{5}{2}\text{ inches}", "2.5"),
    (r"x \in [2, 5)", "[2,5)"),
    (r"\{1,2\}", r"\{2,1\}"),
    ("2+3i", "3i+2"),
    (r"-\frac{1}{2}", r"\frac{-1}{2}"),
    (r"\pi/2", r"\frac{\pi}{2}"),
    ("10^6", "1000000"),
    (r"\text{Evelyn}", "Evelyn"),
]
NOT_EQUIVALENT = [
    ("(1,2]", "(1,2)"), ("[1,2]", "(1,2)"), ("(1,2)", "(2,1)"), ("-3", "3"), ("1/3", "0.33"), ("7", "8"),
    ("1,000", "1"), (r"\pi", "3.14"), ("5", r"\text{five}"), ("585000", "58,500"), ("(1,2,3)", "(1,2)"),
    ("", "0"), (None, "1"),
]


@pytest.mark.parametrize("pred,ref", EQUIVALENT)
def test_equivalent(pred, ref):
    assert is_equiv(pred, ref) and is_equiv(ref, pred)


@pytest.mark.parametrize("pred,ref", NOT_EQUIVALENT)
def test_not_equivalent(pred, ref):
    assert not is_equiv(pred, ref)


def test_grading_off_the_main_thread():
    """math-verify's signal-based timeouts only work on the main thread; ours must work anywhere."""
    results = {}

    def work():
        results["sym"] = is_equiv("x^2+2x+1", "(x+1)^2")
        results["neg"] = is_equiv(r"\sqrt{2}", "1.5")
        results["num"] = is_equiv("1,000", "1000")

    t = threading.Thread(target=work)
    t.start()
    t.join(60)
    assert results == {"sym": True, "neg": False, "num": True}


def test_timeout_guard():
    """A comparison sympy cannot finish in time counts as not equivalent instead of hanging."""
    t0 = time.perf_counter()
    assert not is_equiv(r"10^{10^{10^{10}}}", "1", timeout=1)
    assert time.perf_counter() - t0 < 10


def test_last_boxed_nested():
    assert last_boxed(r"\boxed{\frac{a}{\sqrt{b^{2}}}}") == r"\frac{a}{\sqrt{b^{2}}}"
    assert last_boxed("no box") is None
