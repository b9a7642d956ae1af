"""Real-data converters: every shared file converts and gives the counts its SOURCE.md states.

Each file is parsed once per module (module-scope fixtures) to keep the runtime small.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter

import pytest

from hiero.data import sources
from hiero.data.io import DataError
from hiero.data.sources_prm800k import rating_label, step_rows
from hiero.data.sources_text import _shepherd_steps
from hiero.types import FieldError, PreferencePair, Problem, Solution


def _conv(shared_data, fmt, rel, **opts):
    return sources.run_converter(fmt, shared_data / rel, **opts)


# ----------------------------------------------------------------------------- module-scope caches
@pytest.fixture(scope="module")
def processbench(shared_data):
    return {split: _conv(shared_data, "processbench", f"processbench/{split}.json")
            for split in ("gsm8k", "math", "olympiadbench", "omnimath")}


@pytest.fixture(scope="module")
def prm_raw(shared_data):
    return _conv(shared_data, "prm800k", "prm800k/phase1_test.jsonl")


@pytest.fixture(scope="module")
def prm_stepwise_train(shared_data):
    return _conv(shared_data, "prm800k-stepwise", "prm800k/phase1_train_plus.stepwise-critic.jsonl.gz")


@pytest.fixture(scope="module")
def model_solutions(shared_data):
    return _conv(shared_data, "gsm8k-model-solutions", "gsm8k/example_model_solutions.jsonl")


# ----------------------------------------------------------------------------- ProcessBench
@pytest.mark.parametrize("split,rows,no_error", [
    ("gsm8k", 400, 193), ("math", 1000, 406), ("olympiadbench", 1000, 339), ("omnimath", 1000, 241)])
def test_processbench_counts_match_source_md(processbench, split, rows, no_error):
    res = processbench[split]
    assert res.kind == "solution" and len(res.records) == rows
    assert sum(s.first_error == -1 for s in res.records) == no_error
    # SOURCE.md: final_answer_correct=True on exactly half of every split
    assert sum(s.correct for s in res.records) == rows // 2


def test_processbench_label_rule(processbench):
    """label k -> labels 1 before k, 0 from k on, n_labelled = k + 1; label -1 -> all 1."""
    for s in processbench["math"].records:
        k, n = s.first_error, len(s.steps)
        if k == -1:
            assert s.labels == [1] * n and s.meta["n_labelled"] == n
        else:
            assert s.labels == [1] * k + [0] * (n - k) and s.meta["n_labelled"] == k + 1
    mean_steps = sum(len(s.steps) for s in processbench["gsm8k"].records) / 400
    assert round(mean_steps, 1) == 5.2  # SOURCE.md: gsm8k mean 5.2 steps, max 16
    assert max(len(s.steps) for s in processbench["gsm8k"].records) == 16


# ----------------------------------------------------------------------------- PRM800K raw
def test_prm800k_phase1_test_counts(prm_raw):
    """SOURCE.md: 106 solutions over 101 problems, 1,873 steps, 5,192 rated completions
    (+1: 2,245; -1: 1,970; 0: 867; null: 110), 257 human completions, 90 solution / 16 give_up."""
    info = prm_raw.info
    assert len(prm_raw.records) == 106 and info["problems"] == 101
    assert info["steps"] == 1873 and info["completions"] == 5192
    assert info["completion_ratings"] == {"-1": 1970, "0": 867, "1": 2245, "null": 110}
    assert info["human_completions"] == 257
    assert info["finish_reason"] == {"give_up": 16, "solution": 90}
    # every candidate the labelers saw is kept: 5,192 completions + 257 human ones
    assert sum(len(s.meta["alternatives"]) for s in prm_raw.records) == 5192 + 257


def test_prm800k_trajectory_rule(prm_raw):
    """Trajectory = chosen (or human) step per position; give_up lines stop before the last step."""
    for s in prm_raw.records:
        if s.meta["finish_reason"] == "solution":
            assert "# Answer" in s.steps[-1] and s.answer is not None
        else:
            assert s.answer is None and s.correct is False
        for i in range(len(s.meta["step_sources"])):
            alt = [a for a in s.meta["alternatives"] if a["step"] == i and a["text"] == s.steps[i]]
            assert alt and (alt[0]["chosen"] or alt[0]["human"])
    # 1,873 raw steps minus the 16 last steps of give_up lines (nothing chosen there)
    assert sum(len(s.steps) for s in prm_raw.records) == 1873 - 16
    # graded answers: 89 of the 90 finished solutions match ground_truth_answer; the other
    # states 585000 for the reference 58,500
    wrong = [s.answer for s in prm_raw.records if s.meta["finish_reason"] == "solution" and not s.correct]
    assert sum(s.correct for s in prm_raw.records) == 89 and wrong == ["585000"]


def test_prm800k_neutral_policies(shared_data, prm_raw):
    """Rows = rated candidates: 5,192 completions - 110 unrated + 257 human = 5,339 with neutral
    positive; `drop` removes the 867 neutral ones; labels follow the policy."""
    rows = {
        pol: [r for s in prm_raw.records for r in step_rows(s, pol)]
        for pol in ("positive", "negative", "drop")
    }
    assert len(rows["positive"]) == len(rows["negative"]) == 5339
    assert len(rows["drop"]) == 5339 - 867
    assert Counter(r["label"] for r in rows["positive"]) == {1: 2245 + 867 + 257, 0: 1970}
    assert Counter(r["label"] for r in rows["negative"]) == {1: 2245 + 257, 0: 1970 + 867}
    assert rating_label(0, False, "drop") is None and rating_label(None, True, "drop") == 1
    # the prev_steps of a row are the chosen steps before its position
    r = rows["positive"][10]
    sol = next(
        s
        for s in prm_raw.records
        if s.question == r["question"] and s.steps[: len(r["prev_steps"])] == r["prev_steps"]
    )
    assert isinstance(sol, Solution)
    emitted = _conv(shared_data, "prm800k", "prm800k/phase1_test.jsonl", emit="rows", neutral="drop")
    assert emitted.kind == "step_row" and len(emitted.records) == 5339 - 867


def test_prm800k_phase2_found_error(shared_data):
    """Phase 2 (9 real lines, all found_error): the trajectory ends at the -1 step, labelled 0."""
    res = _conv(shared_data, "prm800k", "prm800k/phase2_raw_examples.jsonl", neutral="negative")
    assert len(res.records) == 9 and res.info["finish_reason"] == {"found_error": 9}
    for s in res.records:
        assert s.meta["phase"] == 2 and s.meta["ratings"][-1] == -1 and s.labels[-1] == 0
        assert s.first_error == s.meta["ratings"].index(-1)
        last = len(s.steps) - 1
        assert any(a["step"] == last and a["text"] == s.steps[-1] and a["rating"] == -1
                   for a in s.meta["alternatives"])
        assert s.correct is False and s.meta["step_sources"][-1] == "found_error"


# ----------------------------------------------------------------------------- PRM800K stepwise
def test_stepwise_train_counts(prm_stepwise_train):
    """SOURCE.md: 51,835 step labels over 900 problems; -1: 19,656, +1: 18,782, 0: 10,234,
    null: 3,163; is_solution 808."""
    info = prm_stepwise_train.info
    assert info["rows"] == 51835 and info["problems"] == 900
    assert info["ratings"] == {"-1": 19656, "0": 10234, "1": 18782, "null": 3163}
    assert info["is_solution"] == 808
    sols = prm_stepwise_train.records
    assert len(sols) == 900 and sum(s.correct for s in sols) == 808
    # rebuilding loses no label: every row is an alternative of exactly one solution
    assert sum(len(s.meta["alternatives"]) for s in sols) == 51835


def test_stepwise_rows(shared_data):
    res = _conv(shared_data, "prm800k-stepwise", "prm800k/phase1_test.stepwise-critic.parquet",
                emit="rows", neutral="positive")
    # 5,449 rows; the 110 unrated (null, not human) completions give no row
    assert res.info["rows"] == 5449 and len(res.records) == 5449 - 110
    assert all(r["label"] in (0, 1) for r in res.records)


def test_stepwise_rebuild_equals_raw(shared_data, prm_raw):
    """The stepwise test file rebuilds exactly the raw trajectories (5 lines labelled twice merge:
    106 raw lines -> 101 distinct trajectories), step texts included."""
    sw = _conv(shared_data, "prm800k-stepwise", "prm800k/phase1_test.stepwise-critic.parquet")
    raw_keys = {(s.question, tuple(s.steps)) for s in prm_raw.records}
    sw_keys = {(s.question, tuple(s.steps)) for s in sw.records}
    assert len(raw_keys) == 101 and sw_keys == raw_keys
    # the same rows come out of both views (neutral positive keeps every rated candidate)
    assert sum(len(step_rows(s, "positive")) for s in sw.records) == 5339
    # the stepwise is_solution flag and our grading of the raw answer agree except on one
    # line where the labeler accepted 585000 for the reference 58,500
    by_key = {(s.question, tuple(s.steps)): s for s in prm_raw.records}
    disagree = [s for s in sw.records if s.correct != by_key[(s.question, tuple(s.steps))].correct]
    assert len(disagree) == 1 and disagree[0].answer == "585000"


# ----------------------------------------------------------------------------- GSM8K, MATH
def test_gsm8k_problems(shared_data):
    train = _conv(shared_data, "gsm8k", "gsm8k/train.jsonl")
    test = _conv(shared_data, "gsm8k", "gsm8k/test.jsonl")
    assert len(train.records) == 7473 and len(test.records) == 1319
    p = train.records[0]
    assert isinstance(p, Problem) and p.id == "gsm8k-train-0" and p.answer == "72"
    assert p.steps == [
        "Natalia sold 48/2 = 24 clips in May.",
        "Natalia sold 48+24 = 72 clips altogether in April and May.",
    ]
    assert not any("<<" in s for q in test.records for s in q.steps)
    kept = _conv(shared_data, "gsm8k", "gsm8k/train.jsonl", keep_calc=True).records[0]
    assert kept.steps[0] == "Natalia sold 48/2 = <<48/2=24>>24 clips in May."
    soc = _conv(shared_data, "gsm8k", "gsm8k/test_socratic.jsonl", socratic="drop")
    assert len(soc.records) == 1319 and " ** " not in soc.records[0].steps[0]
    assert soc.records[0].answer == test.records[0].answer == "18"


def test_gsm8k_model_solutions(model_solutions):
    """1,319 x 4 solutions; is_correct counts 286 / 515 / 458 / 742 (SOURCE.md)."""
    assert len(model_solutions.records) == 1319 * 4
    assert model_solutions.info["is_correct"] == {
        "6b_finetuning": 286, "6b_verification": 515, "175b_finetuning": 458, "175b_verification": 742}
    per_model = Counter(s.meta["model"] for s in model_solutions.records if s.correct)
    assert per_model == Counter(model_solutions.info["is_correct"])
    s = model_solutions.records[3]
    assert s.problem_id == "gsm8k-test-0" and s.answer == "18" and s.steps[-1] == "A: 18"


def test_math500(shared_data):
    res = _conv(shared_data, "math500", "math500/test.jsonl")
    assert len(res.records) == 500
    assert res.info["subjects"]["Algebra"] == 124 and res.info["levels"] == {
        "1": 43, "2": 90, "3": 105, "4": 128, "5": 134}
    assert res.records[0].answer == r"\left( 3, \frac{\pi}{2} \right)"


# ----------------------------------------------------------------------------- Math-Shepherd, prefs,
# LateBench
def test_math_shepherd(shared_data):
    res = _conv(shared_data, "math-shepherd", "math_shepherd/openr_samples_math-shepherd.jsonl")
    assert len(res.records) == 7
    first = res.records[0]
    assert first.question.startswith("Janet pays $40/hour") and first.question.endswith("in a year?")
    assert first.steps[0] == "Janet spends 3 hours + 5 hours = <<3+5=8>>8 hours per week on music lessons."
    assert first.labels[:2] == [1, 1] and first.labels[-1] == 0 and first.answer == "13520"
    assert all(len(s.labels) == len(s.steps) for s in res.records)


def test_math_shepherd_tag_mismatch_is_a_field_error():
    with pytest.raises(FieldError, match="label"):
        _shepherd_steps("Q? Step 1: a ки\nStep 2: b ки", "Q? Step 1: a +\nStep 2: b ?")


def test_prefs(shared_data):
    rel = "math_stackexchange_prefs/metacognition_prhegde_first5_decomposed.jsonl"
    res = _conv(shared_data, "prefs", rel)
    assert len(res.records) == 5 and all(isinstance(p, PreferencePair) for p in res.records)
    p = res.records[0]
    assert p.prompt.startswith("I was reading up on the Fibonacci") and p.chosen.startswith("Wikipedia")
    # the GPT-written segments are not verbatim in the answers: they are kept in meta
    # (the authors' columns Rq / Mt / Ra under the names HiPO reads)
    assert p.chosen_segments is None and set(p.meta["decomposed"]["chosen"]) == {
        "clarification",
        "reasoning",
        "answer",
    }
    dec = _conv(shared_data, "prefs", rel, prefs_text="decomposed").records[0]
    a, b = dec.chosen_segments["reasoning"]
    assert dec.chosen[a:b] == p.meta["decomposed"]["chosen"]["reasoning"].strip()
    assert dec.chosen_segments["clarification"][0] == 0 and dec.chosen_segments["answer"][1] == len(
        dec.chosen
    )


def test_latebench(shared_data):
    res = _conv(shared_data, "latebench", "prm800k/latebench_prm800k_phase2_100.json")
    assert len(res.records) == 100 and res.info["with_error"] == 85
    assert res.info["finish_reason"] == {"found_error": 85, "give_up": 1, "solution": 14}


# ----------------------------------------------------------------------------- summary
def test_summarize_real_data(shared_data):
    summary = sources.summarize_real_data(shared_data)
    assert summary["missing"] == []
    files = summary["files"]
    assert files["processbench/omnimath.json"]["records"] == 1000
    assert files["prm800k/phase1_test.jsonl"]["records"] == 106
    assert files["prm800k/phase1_train_plus.stepwise-critic.jsonl.gz"]["rows"] == 51835
    assert files["gsm8k/train.jsonl"]["records"] == 7473
    assert summary["cpu_seconds"] < 10


# ----------------------------------------------------------------------------- malformed input
@pytest.mark.parametrize("fmt,rel,drop", [
    ("gsm8k", "gsm8k/train.jsonl", "question"),
    ("gsm8k-model-solutions", "gsm8k/example_model_solutions.jsonl", "175b_verification"),
    ("math500", "math500/test.jsonl", "problem"),
    ("prm800k", "prm800k/phase1_test.jsonl", "label"),
    ("math-shepherd", "math_shepherd/openr_samples_math-shepherd.jsonl", "label"),
    ("prefs", "math_stackexchange_prefs/metacognition_prhegde_first5_decomposed.jsonl", "output_b"),
])
def test_missing_field_on_line_3(shared_data, tmp_path, fmt, rel, drop):
    """Two real lines, then the third real line without one field: DataError FILE:3: field."""
    lines = (shared_data / rel).read_text(encoding="utf-8").splitlines()[:3]
    rec = json.loads(lines[2])
    del rec[drop]
    src = tmp_path / "bad.jsonl"
    src.write_text("\n".join([lines[0], lines[1], json.dumps(rec)]) + "\n", encoding="utf-8")
    with pytest.raises(DataError) as e:
        sources.convert(fmt, src, tmp_path / "out.jsonl")
    assert f"{src}:3:" in str(e.value) and drop in str(e.value)
    assert not (tmp_path / "out.jsonl").exists()


def test_stepwise_bad_rating_on_line_3(shared_data, tmp_path):
    with gzip.open(shared_data / "prm800k" / "phase1_train_plus.stepwise-critic.jsonl.gz", "rt") as f:
        lines = [next(f).rstrip("\n") for _ in range(3)]
    rec = json.loads(lines[2])
    rec["rating"] = 2
    src = tmp_path / "bad.jsonl"
    src.write_text("\n".join([lines[0], lines[1], json.dumps(rec)]) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.jsonl:3: field 'rating'"):
        sources.run_converter("prm800k-stepwise", src)
