"""Built-in synthetic domain: generation, splits, reference solutions, step checking, noise."""

import json
import os
import random
import re
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hiero.data.cli import write_synth
from hiero.data.io import read_jsonl
from hiero.domains import builtin as S
from hiero.domains.builtin.sets import SynthConfig
from hiero.types import Problem, Solution

POOL = S.generate_problems(150, seed=7, max_ops=7)  # 2-7 ops: the property tests draw from it


def _problem(start, ops, name="Sam", obj="marbles"):
    return Problem(
        id="t",
        question="q",
        answer=str(S.run_program({"start": start, "ops": ops})[-1]),
        source="synth",
        meta={"program": {"start": start, "ops": ops}, "name": name, "object": obj},
    )


# ----------------------------------------------------------------------------- generation


def test_deterministic_and_ids_unique():
    a = S.generate_problems(200, seed=3)
    b = S.generate_problems(200, seed=3)
    assert [p.to_dict() for p in a] == [p.to_dict() for p in b]
    assert len({p.id for p in a}) == 200 and a[5].id == "synth-train-3-5"
    c = S.generate_problems(200, seed=4)
    assert [p.question for p in a] != [p.question for p in c]
    # a prefix of a larger draw is the smaller draw (ids are stable as n grows)
    assert [p.to_dict() for p in S.generate_problems(50, seed=3)] == [p.to_dict() for p in a[:50]]


def test_deterministic_across_processes():
    """Same seed in a fresh interpreter with another hash seed -> the same problems."""
    code = ("import json; from hiero.domains.builtin import generate_problems as g; "
            "print(json.dumps([p.to_dict() for p in g(30, 11, 'test')]))")
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert json.loads(out.stdout) == [p.to_dict() for p in S.generate_problems(30, 11, "test")]


def test_train_and_test_disjoint_by_construction():
    train = S.generate_problems(500, seed=0, split="train")
    test = S.generate_problems(300, seed=0, split="test")
    test_other_seed = S.generate_problems(150, seed=99, split="test")
    key = lambda p: S.program_hash(p.meta["program"])  # noqa: E731
    assert not {key(p) for p in train} & ({key(p) for p in test} | {key(p) for p in test_other_seed})
    assert all(S.split_of(p.meta["program"]) == "train" for p in train)
    assert all(S.split_of(p.meta["program"]) == "test" for p in test + test_other_seed)
    assert all(p.id.startswith("synth-test-") for p in test)
    # the bucket really is ~10% of the program space
    rng = random.Random(0)
    progs = [S.sample_program(rng, 3, 9, 3, 99) for _ in range(3000)]
    frac = sum(S.split_of(p) == "test" for p in progs) / len(progs)
    assert 0.07 < frac < 0.13


def test_empty_program_space_is_an_error():
    """1 op from start 2 with operands <= 2 and x/÷ 2 only: the 5 programs (+1 +2 -1 *2 /2) all
    hash to train, so the test split is empty and asking for it fails instead of looping."""
    small = {"min_ops": 1, "max_ops": 1, "max_operand": 2, "max_factor": 2}
    assert len({S.program_hash(p.meta["program"]) for p in S.generate_problems(200, 0, **small)}) == 5
    with pytest.raises(ValueError, match="distinct test problems"):
        S.generate_problems(1, seed=0, split="test", **small)
    with pytest.raises(ValueError):
        S.generate_problems(5, seed=0, min_ops=3, max_ops=2)
    with pytest.raises(ValueError):
        S.generate_problems(5, seed=0, split="dev")


@pytest.mark.parametrize("kw", [
    {},  # defaults: the embedded-policy level
    {"min_ops": 5, "max_ops": 7, "max_operand": 20, "max_factor": 9, "max_value": 500},
])
def test_values_are_integers_in_range(kw):
    probs = S.generate_problems(300, seed=1, **kw)
    lo, hi = kw.get("min_ops", 2), kw.get("max_ops", 3)
    max_operand, max_factor, max_value = (
        kw.get("max_operand", 9),
        kw.get("max_factor", 3),
        kw.get("max_value", 99),
    )
    n_ops = set()
    for p in probs:
        prog = p.meta["program"]
        assert p.source == "synth" and lo <= len(prog["ops"]) <= hi
        n_ops.add(len(prog["ops"]))
        v = prog["start"]
        assert 2 <= v <= max_operand
        for op, k in prog["ops"]:
            if op == "/":
                assert v % k == 0, (p.id, v, k)  # exact division
            assert (2 <= k <= max_factor) if op in "*/" else (1 <= k <= max_operand)
            v = S.apply_op(v, op, k)
            assert isinstance(v, int) and 1 <= v <= max_value
        assert S.true_values(p)[-1] == v == int(p.answer)
    assert n_ops == set(range(lo, hi + 1))
    ops = {op for p in probs for op, _ in p.meta["program"]["ops"]}
    assert ops == {"+", "-", "*", "/"}


def test_question_mentions_every_operand_in_order_and_templates_vary():
    probs = S.generate_problems(300, seed=2)
    for p in probs[:50]:
        assert "\n" not in p.question and p.question.endswith("?")
        assert str(p.meta["program"]["start"]) in p.question
        assert p.meta["name"] in p.question and p.meta["object"].split()[-1][:-1] in p.question
    openings = {p.question.split(".")[0].replace(p.meta["name"], "N") for p in probs}
    names = {p.meta["name"] for p in probs}
    objects = {p.meta["object"] for p in probs}
    assert len(names) >= 8 and len(objects) >= 8 and len(openings) > 20


# ----------------------------------------------------------------------------- reference solutions


def test_solve_format_and_passes_check():
    p = _problem(7, [["+", 5], ["-", 3], ["*", 2], ["/", 3]])
    assert S.solve(p) == [
        "Sam starts with 7 marbles.",
        "7 + 5 = 12",
        "12 - 3 = 9",
        "9 * 2 = 18",
        "18 / 3 = 6",
        "The answer is 6",
    ]
    assert S.true_values(p) == [12, 9, 18, 6]
    for q in POOL:
        steps = S.solve(q)
        assert steps == q.steps and len(steps) == len(q.meta["program"]["ops"]) + 2
        assert all(S.check_steps(q, steps)) and S.first_error(q, steps) == -1
        assert S.is_correct(q, S.extract_answer("\n".join(steps)))


def test_survives_jsonl_round_trip(tmp_path):
    summary = write_synth(
        SynthConfig(
            n=40,
            seed=5,
            split="test",
            out=str(tmp_path / "p.jsonl"),
            solutions_out=str(tmp_path / "s.jsonl"),
            p_error=0.3,
            solutions_per_problem=2,
        )
    )
    probs = list(read_jsonl(tmp_path / "p.jsonl", Problem))
    sols = list(read_jsonl(tmp_path / "s.jsonl", Solution))
    assert len(probs) == 40 and len(sols) == 80 and summary["n"] == 40 and summary["n_solutions"] == 80
    assert summary["reference_all_steps_checked"] == 40 and summary["first_error_matches_injected"] == 1.0
    assert 0 < summary["frac_with_error"] < 1
    by_id = {p.id: p for p in probs}
    for s in sols:
        assert [int(x) for x in S.check_steps(by_id[s.problem_id], s.steps)] == s.labels
    assert [p.to_dict() for p in probs] == [p.to_dict() for p in S.generate_problems(40, 5, "test")]


def test_main_bad_settings_leave_no_output(tmp_path):
    for bad in ({"p_error": 1.5}, {"n": 0}, {"min_ops": 5, "max_ops": 3}):
        cfg = SynthConfig(n=bad.pop("n", 10), out=str(tmp_path / "p.jsonl"),
                            solutions_out=str(tmp_path / "s.jsonl"), **bad)
        with pytest.raises(ValueError):
            write_synth(cfg)
        assert not any(tmp_path.iterdir())


# ----------------------------------------------------------------------------- checking by hand


def test_check_steps_hand_cases():
    p = _problem(7, [["+", 5], ["*", 2], ["/", 4]])  # true values 12, 24, 6
    ok = S.check_steps
    assert (
        ok(p, ["Sam starts with 7 marbles.", "7 + 5 = 12", "12 * 2 = 24", "24 / 4 = 6", "The answer is 6"])
        == [True] * 5
    )
    # robust parsing: unicode operators, no spaces, units, full stops, another context wording
    assert ok(p, ["Sam has 7 marbles", "7+5=12.", "12 × 2 = 24 marbles", "24 ÷ 4 = 6", "the answer is 6."]) \
        == [True] * 5
    # slip at step 1, carried forward: everything after is off track
    assert ok(
        p, ["Sam starts with 7 marbles.", "7 + 5 = 13", "13 * 2 = 26", "26 / 4 = 6", "The answer is 6"]
    ) == [True, False, False, False, True]
    # right numbers, wrong operation / operand
    assert ok(p, ["7 * 5 = 35"]) == [False]
    assert ok(p, ["7 + 4 = 11"]) == [False]
    # correction brings the solution back on track
    assert ok(
        p, ["7 + 5 = 13", "Check: 7 + 5 = 12, not 13.", "12 * 2 = 24", "24 / 4 = 6", "The answer is 6"]
    ) == [False, True, True, True, True]
    # a wrong correction, a correction with nothing to correct, a context correction
    assert ok(p, ["7 + 5 = 13", "Check: 7 + 5 = 14, not 13."]) == [False, False]
    assert ok(p, ["Check: 7 + 5 = 12, not 13."]) == [False]
    assert ok(p, ["Sam starts with 8 marbles.", "Check: Sam starts with 7 marbles, not 8.", "7 + 5 = 12"]) \
        == [False, True, True]
    # unparseable, a statement after equations, too many equations, steps after the answer
    assert ok(
        p, ["Let me think.", "7 + 5 = 12", "So Sam has 12.", "12 * 2 = 24", "24 / 4 = 6", "6 + 1 = 7"]
    ) == [False, True, False, True, True, False]
    assert ok(p, ["The answer is 6", "7 + 5 = 12"]) == [True, False]
    assert ok(p, ["7 + 5 = 12", "12 * 2 = 24", "24 / 4 = 6", "6 + 1 = 7", "Check: 6 + 1 = 7, not 8."]) \
        == [True, True, True, False, False]
    assert ok(p, ["The answer is 12"]) == [False]
    assert ok(p, []) == [] and S.first_error(p, []) == -1
    assert S.first_error(p, ["7 + 5 = 12", "12 * 2 = 25", "The answer is 6"]) == 1


@settings(max_examples=50, deadline=None)
@given(idx=st.integers(0, len(POOL) - 1),
       steps=st.lists(st.one_of(
           st.text(max_size=30),
           st.text(alphabet="0123456789+-*/=x×÷−., Checkno:Theanswris", max_size=30),
           st.builds(lambda a, o, b, c: f"{a} {o} {b} = {c}", st.integers(-5, 120), st.sampled_from("+-*/x"),
                     st.integers(-5, 12), st.integers(-5, 120)),
       ), max_size=6))
def test_check_steps_never_crashes_on_arbitrary_text(idx, steps):
    labels = S.check_steps(POOL[idx], steps)
    assert len(labels) == len(steps) and all(isinstance(x, bool) for x in labels)
    assert S.first_error(POOL[idx], steps) == next((i for i, y in enumerate(labels) if not y), -1)
    assert all(S.step_kind(s) in {"equation", "correction", "answer", "context", "other"} for s in steps)


def test_step_kind():
    kinds = [S.step_kind(s) for s in S.solve(POOL[0]) + ["Check: 1 + 1 = 2, not 3.", "no numbers here"]]
    assert kinds == ["context"] + ["equation"] * len(POOL[0].meta["program"]["ops"]) + [
        "answer", "correction", "other"]


def test_extract_answer_and_is_correct():
    cases = {
        "7 + 5 = 12\nThe answer is 12": "12",
        "The answer is 12.": "12",
        "the answer is: $1,200": "1200",
        "So the answer is 6.0": "6",
        "The answer is −4": "-4",
        "The answer is 2.5": "2.5",
        "The answer is 3\nwait, the answer is 5": "5",
        "12 - 3 = 9": None,
        "The answer is unknown": None,
        "": None,
    }
    for text, want in cases.items():
        assert S.extract_answer(text) == want, text
    assert S.extract_answer(None) is None
    p = _problem(7, [["+", 5]])
    assert S.is_correct(p, "12") and S.is_correct(p, 12) and S.is_correct(p, "The answer is 12.")
    assert S.is_correct(p, " 12.0 ")
    assert not S.is_correct(p, "13") and not S.is_correct(p, None) and not S.is_correct(p, "twelve")
    assert not S.is_correct(p, True)


def test_not_a_synth_problem():
    with pytest.raises(ValueError, match="meta.program"):
        S.check_steps(Problem(id="x", question="q", answer="1"), ["1 + 1 = 2"])


# ----------------------------------------------------------------------------- properties


def _mutate(step: str, rng: random.Random) -> str:
    """Change one number of a correct step so that the step becomes wrong."""
    nums = list(re.finditer(r"\d+", step))
    m = rng.choice(nums)
    new = str(int(m.group()) + rng.choice([1, 2, 3]))
    return step[:m.start()] + new + step[m.end():]


@settings(max_examples=100, deadline=None)
@given(idx=st.integers(0, len(POOL) - 1), pos=st.floats(0, 1, exclude_max=True), seed=st.integers(0, 10**6))
def test_first_error_finds_a_directly_mutated_step(idx, pos, seed):
    p = POOL[idx]
    steps = S.solve(p)
    i = int(pos * len(steps))
    rng = random.Random(seed)
    steps[i] = _mutate(steps[i], rng)
    labels = S.check_steps(p, steps)
    assert S.first_error(p, steps) == i
    # the other steps still start from the true values, so only the mutated one is wrong
    assert labels == [True] * i + [False] + [True] * (len(steps) - i - 1)


@settings(max_examples=100, deadline=None)
@given(idx=st.integers(0, len(POOL) - 1), seed=st.integers(0, 10**6),
       p_error=st.floats(0, 1), p_correction=st.floats(0, 1))
def test_noisy_solution_labels_match_injected_errors(idx, seed, p_error, p_correction):
    p = POOL[idx]
    sol = S.render_noisy_solution(p, random.Random(seed), p_error, p_correction)
    injected = sol.meta["injected"]
    assert sol.first_error == S.first_error(p, sol.steps) == (injected[0] if injected else -1)
    assert sol.labels == [int(x) for x in S.check_steps(p, sol.steps)]
    assert sol.steps[-1] == f"The answer is {sol.answer}"
    assert sol.correct == S.is_correct(p, sol.answer) == (S.extract_answer(sol.text) == p.answer)
    assert sol.labels[-1] == int(sol.correct)
    for c in sol.meta["corrections"]:  # every correction states the true value, so it is right
        assert sol.steps[c].startswith("Check: ") and sol.labels[c] == 1
    assert all(re.fullmatch(r"-?\d+", n) for s in sol.steps for n in re.findall(r"-?[\d.]+\d|\d", s))
    if not injected:
        assert sol.steps == S.solve(p)


@settings(max_examples=60, deadline=None)
@given(idx=st.integers(0, len(POOL) - 1), seed=st.integers(0, 10**6))
def test_always_corrected_errors_give_the_right_answer(idx, seed):
    p = POOL[idx]
    sol = S.render_noisy_solution(p, random.Random(seed), p_error=0.6, p_correction=1.0)
    assert sol.correct and sol.answer == p.answer
    # only the injected steps are wrong; each is followed by its correction
    assert [i for i, y in enumerate(sol.labels) if not y] == sol.meta["injected"]
    assert [i + 1 for i in sol.meta["injected"]] == sol.meta["corrections"]


def test_every_step_wrong_without_corrections():
    rng = random.Random(0)
    for p in POOL[:50]:
        sol = S.render_noisy_solution(p, rng, p_error=1.0, p_correction=0.0)
        assert sol.first_error == 0 and sol.meta["injected"][0] == 0
        eqs = [i for i, s in enumerate(sol.steps) if S.parse_equation(s)]
        assert len(eqs) == len(p.meta["program"]["ops"])
        assert set(sol.meta["injected"]) == {0, *eqs}  # context and every operation were corrupted


def test_noise_rates_are_roughly_as_asked():
    rng = random.Random(1)
    sols = [S.render_noisy_solution(p, rng, 0.1, 0.5) for p in POOL for _ in range(4)]
    n_steps = sum(1 + len(p.meta["program"]["ops"]) for p in POOL) * 4
    rate = sum(len(s.meta["injected"]) for s in sols) / n_steps
    assert 0.07 < rate < 0.13
    clean = [s for s in sols if not s.meta["injected"]]
    assert clean and all(s.labels == [1] * len(s.steps) and s.correct for s in clean)
    with pytest.raises(ValueError):
        S.render_noisy_solution(POOL[0], rng, 1.5, 0.0)
