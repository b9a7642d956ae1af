"""Judge and LLM decomposer through a loopback OpenAI-compatible HTTP server started by the test
(real HTTP; its canned answers play the judge): parsing, caching, order swap, split/rewrite, and
`compare` with the judge on tiny models."""

import sys
from pathlib import Path

import pytest

from hiero.data.io import read_jsonl
from hiero.domains import answer_of
from hiero.domains import builtin as synth
from hiero.preference.chat import make_chat_client
from hiero.preference.evaluate import compare
from hiero.preference.judge import GROUPS, PairwiseJudge, RubricJudge, summarise_pairwise
from hiero.preference.pairs import attach_segments
from hiero.preference.segment import DEFAULT_NAMES, LLMSegmenter
from hiero.types import PreferencePair

sys.path.insert(0, str(Path(__file__).parent))
import po_helpers as H  # noqa: E402


@pytest.fixture()
def server():
    s = H.JudgeServer()
    yield s
    s.close()


def test_rubric_parsing_groups_and_cache(server, tmp_path):
    client = make_chat_client(server.url, "judge-model")
    judge = RubricJudge(client, "judge-model", cache_dir=tmp_path / "cache")
    scores = judge.score(["What is 2+3?", "q2"], ["2 + 3 = 5\nThe answer is 5", "MALFORMED"], ["5", "1"])
    assert len(server.requests) == 2 and server.requests[0]["temperature"] == 0.2
    assert server.requests[0]["response_format"] == {"type": "json_object"}
    good = scores[0]
    assert good["Coherence"] == pytest.approx(
        (8 + 7 + 9) / 3, abs=1e-4
    )  # hand: Logical Flow, Structure, Consistency
    assert good["Accuracy"] == pytest.approx((6 + 6 + 5 + 3) / 4)
    assert good["Goal Completion"] == pytest.approx((7 + 7 + 8 + 6) / 4)
    assert good["overall"] == pytest.approx(72 / 11, abs=1e-4) and good["verbosity"] == "adequate"
    assert "error" in scores[1]  # never guessed
    again = RubricJudge(
        make_chat_client(server.url, "judge-model"), "judge-model", cache_dir=tmp_path / "cache"
    )
    assert again.score(["What is 2+3?"], ["2 + 3 = 5\nThe answer is 5"], ["5"])[0] == good
    assert len(server.requests) == 2 and again.chat.calls == 0  # served from the disk cache
    assert set(GROUPS) == {"Coherence", "Accuracy", "Goal Completion"}


def test_pairwise_order_swap(server, tmp_path):
    judge = PairwiseJudge(make_chat_client(server.url, "m"), "m", cache_dir=tmp_path / "c")
    verdicts = judge.compare(
        ["q", "q", "q"], ["GOOD one", "bad one", "BIASED x"], ["bad two", "GOOD two", "BIASED y"]
    )
    assert verdicts == ["x", "y", "inconsistent"]  # the biased judge picks "A" in both orders
    assert len(server.requests) == 6  # every comparison asked twice, order swapped
    s = summarise_pairwise(verdicts)
    assert s["x_win_rate"] == pytest.approx(1 / 3, abs=1e-4) and s["inconsistent"] == 1


def test_llm_decomposer_split_and_rewrite(server, tmp_path):
    client = make_chat_client(server.url, "m")
    split = LLMSegmenter(client, "m", cache_dir=tmp_path / "d", mode="split")
    text = "Mia starts with 7 apples.\n7 + 5 = 12\nThe answer is 12"
    spans = split.segment("q", text)
    assert [text[slice(*spans[n])] for n in DEFAULT_NAMES] == ["Mia starts with 7 apples.\n", "7 + 5 = 12\n",
                                                               "The answer is 12"]
    assert server.requests[-1]["temperature"] == 0.2
    split2 = LLMSegmenter(client, "m", cache_dir=tmp_path / "d", mode="split")
    assert split2.segment("q", text) == spans and split2.calls == 0
    pair = PreferencePair(prompt="q", chosen=text, rejected="x\ny\nz")
    stats = attach_segments(
        [pair], "llm", llm=LLMSegmenter(client, "m", cache_dir=tmp_path / "e", mode="rewrite")
    )
    assert pair.chosen == "Find the total.\n2 + 3 = 5\nThe answer is 5" and stats["rewritten"] == 2
    assert pair.chosen[slice(*pair.chosen_segments["answer"])] == "The answer is 5"
    assert pair.meta["original_chosen"] == text


def test_compare_same_prompt_accuracy_and_judge(server, tmp_path):
    tok = H.make_tokenizer(tmp_path / "tok")
    H.make_model(tmp_path / "a", tok, seed=0)
    H.make_model(tmp_path / "b", tok, seed=1)
    problems = synth.generate_problems(3, seed=5, split="test")
    out = compare({"base": str(tmp_path / "a"), "hipo": str(tmp_path / "b")}, problems, max_new_tokens=8,
                  judge_client=make_chat_client(server.url, "j"), pairwise=[("hipo", "base")],
                  cache_dir=tmp_path / "cache", device="cpu", solutions_out=tmp_path / "solutions.jsonl")
    assert set(out["accuracy"]) == {"base", "hipo"} and out["n"] == 3
    rows = list(read_jsonl(tmp_path / "solutions.jsonl"))
    assert [(r["model"], r["id"]) for r in rows] == [(m, p.id) for m in ("base", "hipo") for p in problems]
    for name in ("base", "hipo"):  # the rows are the graded solutions the summary counts
        mine = [r for r in rows if r["model"] == name]
        assert sum(r["correct"] for r in mine) == out["models"][name]["n_correct"]
        assert all(answer_of(p, r["solution"])[1] == r["correct"] for p, r in zip(problems, mine))
        assert [r["solution"] for r in mine[:3]] == [e["solution"] for e in out["models"][name]["examples"]]
    assert out["judge"]["base"]["n"] == 3 and out["judge"]["base"]["Coherence"] == pytest.approx(8.0)
    assert out["pairwise"]["hipo_vs_base"]["n"] == 3
    prompts = [
        r["messages"][0]["content"]
        for r in server.requests
        if "Rate the solution" in r["messages"][0]["content"]
    ]
    # identical solutions of two models are judged once (cache), every question reached the judge
    assert 3 <= len(prompts) <= 6 and all(any(p.question in q for q in prompts) for p in problems)
    assert out["judge"]["hipo"]["n"] == 3
    assert all(isinstance(v, float) for v in out["accuracy"].values())  # rule-based, apart from "judge"


def test_compare_on_problems_without_a_step_checker_reports_segment_presence(tmp_path):
    """GSM8K-like problems (no step checker): "segments" holds the judge-free figures that can be read,
    the share of solutions with each segment, computed on the very solutions written out."""
    from hiero.preference.evaluate import segment_presence
    from hiero.types import Problem

    tok = H.make_tokenizer(tmp_path / "tok")
    H.make_model(tmp_path / "a", tok, seed=0)
    problems = [
        Problem(
            id=f"g{i}",
            question=f"Tom has {i} apples and buys 2 more. How many?",
            answer=str(i + 2),
            source="gsm8k",
        )
        for i in range(3)
    ]
    out = compare({"base": str(tmp_path / "a")}, problems, max_new_tokens=8, device="cpu",
                  solutions_out=tmp_path / "s.jsonl")
    texts = [r["solution"] for r in read_jsonl(tmp_path / "s.jsonl")]
    assert out["segments"]["base"] == segment_presence(problems, texts)
    assert set(out["segments"]["base"]) == {"clarification", "reasoning", "answer", "all", "n"}
