"""Reward-model rows: tree sampling counts worked out by hand, merge-label rules, PRM800K rows per
neutral policy (real phase1_test), split by question, schema validation, CLI."""

from __future__ import annotations

import argparse
import json
import random
from dataclasses import replace

import pytest

from hiero.augment.hnc import MERGE_JOINER, hnc
from hiero.data.io import DataError, read_jsonl, write_jsonl
from hiero.reward.rows import (
    RowsConfig,
    StepLabel,
    dedup,
    main,
    merged_label,
    prm800k_orm_rows,
    prm800k_step_rows,
    rows_from_tree,
    sample_nodes,
    split_by_question,
)
from hiero.types import FieldError, Node, Problem, RewardRow, Solution, Tree, validate_reward_row

J = MERGE_JOINER


def hand_tree(qid: str = "q") -> Tree:
    """root(0) -> A(1), B(2), C(3); A -> A1(4) ok, A2(5) wrong; B -> B1(6); C -> C1(7), C2(8) wrong;
    B1 -> B1a..B1e (9..13) ok.  Step of node i is "s<i>"; every leaf states an answer.
    Counts: A 1/2, B 5/5, C 0/2 | A1 1/1, A2 0/1, B1 5/5, C1 0/1, C2 0/1 | depth 3: 1/1 each."""
    parents = [None, 0, 0, 0, 1, 1, 2, 3, 3, 6, 6, 6, 6, 6]
    nodes = []
    for i, p in enumerate(parents):
        nodes.append(
            Node(
                id=i,
                parent=p,
                step="" if p is None else f"s{i}",
                depth=0 if p is None else nodes[p].depth + 1,
            )
        )
        if p is not None:
            nodes[p].children.append(i)
    for n in nodes[1:]:
        if not n.children:
            n.terminal, n.answer, n.correct = True, "1", n.id in (4, 9, 10, 11, 12, 13)
    t = Tree(problem=Problem(id=qid, question=f"question {qid}", answer="1"), nodes=nodes)
    t.recompute_counts()
    return t


def cfg(**kw) -> RowsConfig:
    return RowsConfig(inputs=["-"], out_dir="-", **kw)


def by_node(rows, node, row_type):
    (r,) = [r for r in rows if r["meta"].get("node") == node and r["meta"]["row_type"] == row_type]
    return r


# ----------------------------------------------------------------------------- tree sampling
def test_bucket_sampling_counts_by_hand():
    """Depth 1: scores 0.5 / 1.0 / 0.0, three buckets of one node -> smallest 1 -> 1 each = 3.
    Depth 2: {1.0: [A1, B1], 0.0: [A2, C1, C2]} -> smallest 2 -> max(2, int(0.2)) = 2 and
    max(2, int(0.3)) = 2 -> 4. Depth 3: one score (1.0) over 5 nodes -> min(5, 5) = 5. Total 12."""
    t = hand_tree()
    ids = sample_nodes(t, random.Random(0))
    assert len(ids) == 12 and len(set(ids)) == 12
    assert {1, 2, 3, 4, 6, 9, 10, 11, 12, 13} <= set(ids)
    assert len({5, 7, 8} & set(ids)) == 2
    # with 10 equal-score nodes at one depth only 5 are taken; 40 vs 2 -> max(2, 4) = 4 and 2
    wide = Tree(problem=Problem(id="w", question="w", answer="1"), nodes=[Node(0, None, "", 0)])
    for i in range(1, 43):
        wide.nodes.append(Node(i, 0, f"x{i}", 1, terminal=True, answer="1", correct=i <= 2))
        wide.nodes[0].children.append(i)
    wide.recompute_counts()
    got = sample_nodes(wide, random.Random(1))
    assert sum(i <= 2 for i in got) == 2 and sum(i > 2 for i in got) == 4


def test_prm_rows_from_hand_tree():
    """12 PRM rows (see above); the A row is ("s1") with soft 0.5 = 1/2, hard True (>= 0.5)."""
    rows = rows_from_tree(hand_tree(), cfg(kind="prm"), {})
    assert len(rows) == 12 and all(validate_reward_row(r) for r in rows)
    a = by_node(rows, 1, "step")
    assert a["completions"] == ["s1"] and a["soft_labels"] == [0.5] and a["labels"] == [True]
    assert a["counts"] == [[1, 2]] and a["label_mask"] == [True] and a["merged"] == [False]
    e = by_node(rows, 13, "step")
    assert e["completions"] == ["s2", "s6", "s13"] and e["label_mask"] == [False, False, True]
    assert e["counts"] == [[5, 5], [5, 5], [1, 1]]
    rows = rows_from_tree(hand_tree(), cfg(kind="prm", label_steps="all", hard_threshold=0.6), {})
    assert by_node(rows, 13, "step")["label_mask"] == [True, True, True]
    assert by_node(rows, 4, "step")["labels"] == [False, True]  # A = 0.5 < 0.6


def test_hrm_rows_from_hand_tree():
    """hnc off: 12 step rows + a merged pair for every sampled node with >= 2 steps (4 at depth 2,
    5 at depth 3) = 21. hnc on with p=1: B1 (5 children, depth-3 kids) gives B1a to B: "s6⊕s9" at
    depth 2. The HNC tree samples depth 1: 3; depth 2: {1.0: A1, B1, B1a'; 0.0: A2, C1, C2} -> all
    6; depth 3: B1b..B1e (one score, 4) -> 13 step rows + 10 pairs = 23. Union: 21 + 23 = 44 built;
    distinct: 3 (depth 1) + 6 (depth-2 steps) + 6 (depth-2 pairs) + 5 (depth-3 steps s2,s6,x) + 4
    (pairs s2, s6⊕x for x = b..e; s6⊕s9 equals the B1a' step row) = 24."""
    rows = rows_from_tree(hand_tree(), cfg(kind="hrm", hnc=False), {})
    assert len(rows) == 21 and sum(r["meta"]["row_type"] == "merged_pair" for r in rows) == 9
    pair = by_node(rows, 13, "merged_pair")
    assert pair["completions"] == ["s2", "s6" + J + "s13"] and pair["merged"] == [False, True]
    assert pair["soft_labels"][-1] == 1.0 and pair["counts"][-1] == [1, 1]
    counts: dict = {}
    rows = rows_from_tree(hand_tree(), cfg(kind="hrm", hnc=True, hnc_p=1.0), counts)
    assert len(rows) == 44 and counts["hnc_merges"] == 1
    uniq = dedup(rows)
    assert len(uniq) == 24
    merged_step = [r for r in uniq if r["completions"] == ["s2", "s6" + J + "s9"]]
    assert len(merged_step) == 1 and merged_step[0]["merged"] == [False, True]
    # an already compressed tree is used as it is (no second HNC)
    h = hnc(hand_tree(), p=1.0)
    rows_h = rows_from_tree(h, cfg(kind="hrm", hnc=True), {})
    assert len(rows_h) == 23 and all(r["meta"]["tree"] == "hnc" for r in rows_h)
    assert by_node(rows_h, 9, "step")["merged"] == [False, True]


@pytest.mark.parametrize("rule,a1,a2", [("second", 1.0, 0.0), ("mc", 1.0, 0.0), ("min", 0.5, 0.0),
                                        ("product", 0.5, 0.0)])
def test_merge_label_rules_on_tree(rule, a1, a2):
    """Pair rows A⊕A1 and A⊕A2: A = 0.5, A1 = 1.0, A2 = 0.0. second / mc -> the later step's score
    (1.0, 0.0); min -> 0.5, 0.0; product -> 0.5 * 1.0 = 0.5, 0.0. Hard: soft >= 0.5."""
    rows = rows_from_tree(hand_tree(), cfg(kind="hrm", hnc=False, merge_label=rule, bucket_fraction=1.0), {})
    r1 = by_node(rows, 4, "merged_pair")
    assert (
        r1["completions"] == ["s1" + J + "s4"] and r1["soft_labels"] == [a1] and r1["labels"] == [a1 >= 0.5]
    )
    assert r1["counts"] == ([[1, 1]] if rule in ("second", "mc") else [None])
    if any(r["meta"].get("node") == 5 for r in rows):
        assert by_node(rows, 5, "merged_pair")["soft_labels"] == [a2]


def test_merged_label_function():
    """first 0.5 (1/2), second 0.4 (2/5): second -> 0.4 with counts [2, 5]; min -> 0.4; product
    -> 0.2; with threshold None (human labels) hard = AND of the hard labels."""
    a, b = StepLabel(0.5, True, [1, 2]), StepLabel(0.4, False, [2, 5])
    assert merged_label("second", a, b, 0.5) == StepLabel(0.4, False, [2, 5])
    assert merged_label("mc", a, b, 0.5) == StepLabel(0.4, False, [2, 5])
    assert merged_label("min", a, b, 0.3) == StepLabel(0.4, True, None)
    assert merged_label("product", a, b, 0.5).soft == pytest.approx(0.2)
    assert merged_label("min", StepLabel(1.0, True, None), StepLabel(0.0, False, None), None).hard is False


def test_orm_rows_from_tree():
    """9 finished leaves (A1, A2, C1, C2, B1a..B1e); 6 correct. An unfinished leaf is skipped."""
    t = hand_tree()
    t.nodes[7].answer = None  # C1 hit the depth limit: not a solution
    counts: dict = {}
    rows = rows_from_tree(t, cfg(kind="orm"), counts)
    assert len(rows) == 8 and counts["orm_unfinished_skipped"] == 1
    assert sum(r["labels"][-1] for r in rows) == 6
    assert all(r["label_mask"] == [False] * (len(r["completions"]) - 1) + [True] for r in rows)
    assert by_node(rows, 11, "solution")["completions"] == ["s2", "s6", "s11"]


# ----------------------------------------------------------------------------- PRM800K (hand-built)
def prm_solution(ratings=(1, 1)) -> Solution:
    """Chosen a (step 0), b (step 1). Candidates: step 0: a (+1, chosen), a2 (-1); step 1: b (+1,
    chosen), b2 (0), b3 (-1), b4 (unrated)."""
    alts = [{"step": 0, "text": "a", "rating": 1, "chosen": True, "human": False},
            {"step": 0, "text": "a2", "rating": -1, "chosen": False, "human": False},
            {"step": 1, "text": "b", "rating": 1, "chosen": True, "human": False},
            {"step": 1, "text": "b2", "rating": 0, "chosen": False, "human": False},
            {"step": 1, "text": "b3", "rating": -1, "chosen": False, "human": False},
            {"step": 1, "text": "b4", "rating": None, "chosen": False, "human": False}]
    return Solution(problem_id="p", steps=["a", "b"], question="Q", meta={
        "alternatives": alts, "ratings": list(ratings), "step_sources": ["chosen", "chosen"],
        "finish_reason": "solution"})


@pytest.mark.parametrize(
    "neutral,n_prm,b2", [("drop", 4, None), ("positive", 5, True), ("negative", 5, False)]
)
def test_prm800k_rows_by_hand(neutral, n_prm, b2):
    """drop: [a] 1, [a2] 0, [a, b] 1, [a, b3] 0 = 4 (b2 dropped, b4 unrated); positive / negative
    add [a, b2]. HRM adds a merged row for every step-1 candidate: [a⊕b], [a⊕b3] (+ [a⊕b2])."""
    counts: dict = {}
    rows = prm800k_step_rows(prm_solution(), cfg(kind="prm", neutral=neutral), counts)
    assert len(rows) == n_prm and counts["unrated_skipped"] == 1
    texts = {tuple(r["completions"]): r["labels"][-1] for r in rows}
    assert texts[("a2",)] is False and texts[("a", "b")] is True and texts[("a", "b3")] is False
    assert texts.get(("a", "b2")) is b2
    hrm = prm800k_step_rows(prm_solution(), cfg(kind="hrm", neutral=neutral), {})
    merged = {r["completions"][0]: r["labels"][0] for r in hrm if r["meta"]["row_type"] == "merged_pair"}
    assert len(hrm) == 2 * n_prm - 2 and merged["a" + J + "b"] is True and merged["a" + J + "b3"] is False
    assert all(
        r["merged"] == [True] and r["source"] == "prm800k"
        for r in hrm
        if r["meta"]["row_type"] == "merged_pair"
    )


def test_prm800k_merge_rule_uses_previous_rating():
    """Chosen a rated -1: second keeps the candidate's label, min / product give 0."""
    sol = prm_solution(ratings=(-1, 1))
    for rule, want in (("second", True), ("min", False), ("product", False)):
        rows = prm800k_step_rows(sol, cfg(kind="hrm", merge_label=rule), {})
        (r,) = [r for r in rows if r["completions"] == ["a" + J + "b"]]
        assert r["labels"] == [want]
    rows = prm800k_step_rows(sol, cfg(kind="prm", label_steps="all"), {})
    assert [r for r in rows if r["completions"] == ["a", "b"]][0]["labels"] == [False, True]


def test_prm800k_orm_builder_by_hand():
    """Steps [a, b, c]; step 2: +1 c (chosen), c2; -1 x, y; step 1: -1 z. Correct: [a,b,c] twice
    (chosen, and c as a +1 alternative) and [a,b,c2]; the -1 run is steps 2, 1: [a,b,x], [a,b,y] ->
    (2 <= 4*3) -> [a,z,x], [a,z,y] are the wrong ones. After dedup: 2 correct, 2 wrong."""
    alts = [{"step": 2, "text": t, "rating": r, "chosen": t == "c", "human": False}
            for t, r in (("c", 1), ("c2", 1), ("x", -1), ("y", -1))]
    alts.append({"step": 1, "text": "z", "rating": -1, "chosen": False, "human": False})
    sol = Solution(problem_id="p", steps=["a", "b", "c"], question="Q", meta={"alternatives": alts})
    rows = dedup(prm800k_orm_rows(sol, cfg(kind="orm"), {}))
    got = {tuple(r["completions"]): r["labels"][-1] for r in rows}
    assert got == {
        ("a", "b", "c"): True,
        ("a", "b", "c2"): True,
        ("a", "z", "x"): False,
        ("a", "z", "y"): False,
    }


# ----------------------------------------------------------------------------- PRM800K (real)
def _raw_counts(path):
    """Independent count over the raw file: rated candidates of the 'solution' lines."""
    pos = neg = neu = later = 0
    for line in open(path, encoding="utf-8"):
        rec = json.loads(line)
        if rec["label"]["finish_reason"] != "solution":
            continue
        for i, st in enumerate(rec["label"]["steps"]):
            for c in st["completions"] or []:
                r = c["rating"]
                pos, neg, neu = pos + (r == 1), neg + (r == -1), neu + (r == 0)
                later += i >= 1 and r in (1, -1)
    return pos, neg, neu, later


@pytest.fixture(scope="module")
def prm_converted(shared_data, tmp_path_factory):
    """phase1_test converted once by A's converter (grading is the slow part); rows re-derive
    labels from the stored ratings, so the neutral policy of the conversion does not matter."""
    from hiero.data.sources import convert

    out = tmp_path_factory.mktemp("prm") / "phase1_test.solutions.jsonl"
    convert("prm800k", shared_data / "prm800k" / "phase1_test.jsonl", out)
    return out


def test_prm800k_phase1_test_rows(shared_data, prm_converted, tmp_path):
    pos, neg, neu, later = _raw_counts(shared_data / "prm800k" / "phase1_test.jsonl")
    path = prm_converted
    stats = {}
    for neutral in ("drop", "positive", "negative"):
        s = main(RowsConfig(inputs=[str(path)], out_dir=str(tmp_path / neutral), kind="prm", source="prm800k",
                            neutral=neutral))
        stats[neutral] = s
        assert s["inputs"] == 90 and s["give_up_skipped"] == 16
        assert s["rows_built"] == pos + neg + (0 if neutral == "drop" else neu)
        assert s["train"]["rows"] + s["eval"]["rows"] == s["rows_built"] - s["duplicates_removed"]
        train = list(read_jsonl(tmp_path / neutral / "train.jsonl", RewardRow))
        evl = list(read_jsonl(tmp_path / neutral / "eval.jsonl", RewardRow))
        assert not {r["question_id"] for r in train} & {r["question_id"] for r in evl}
    assert stats["drop"]["neutral_dropped"] == neu
    assert (stats["drop"]["rows_built"], pos, neg, neu) == (3171, 1861, 1310, 724)  # measured on phase1_test
    n_pos = lambda s: s["train"]["positive_fraction"] * s["train"]["labelled_steps"]  # noqa: E731
    assert n_pos(stats["positive"]) > n_pos(stats["drop"])
    h = main(RowsConfig(inputs=[str(path)], out_dir=str(tmp_path / "hrm"), kind="hrm", source="prm800k"))
    assert h["rows_built"] == pos + neg + later
    o = main(RowsConfig(inputs=[str(path)], out_dir=str(tmp_path / "orm"), kind="orm", source="prm800k"))
    assert o["train"]["rows"] + o["eval"]["rows"] >= 90  # at least the chosen trajectory of each


def test_prm800k_raw_equals_converted(shared_data, prm_converted, tmp_path):
    """The raw file (converted on the fly) gives the same rows as A's Solution JSONL."""
    raw, conv = shared_data / "prm800k" / "phase1_test.jsonl", prm_converted
    a = main(RowsConfig(inputs=[str(raw)], out_dir=str(tmp_path / "a"), kind="hrm", source="prm800k"))
    b = main(RowsConfig(inputs=[str(conv)], out_dir=str(tmp_path / "b"), kind="hrm", source="prm800k"))
    assert (tmp_path / "a" / "train.jsonl").read_text() == (tmp_path / "b" / "train.jsonl").read_text()
    assert a["rows_built"] == b["rows_built"]


# ----------------------------------------------------------------------------- split, schema, CLI
def test_split_by_question():
    rows = [r for i in range(10) for r in rows_from_tree(hand_tree(f"q{i}"), cfg(kind="prm"), {})]
    train, evl = split_by_question(rows, 0.3, seed=0)
    qt, qe = {r["question_id"] for r in train}, {r["question_id"] for r in evl}
    assert len(qe) == 3 and len(qt) == 7 and not qt & qe and len(train) + len(evl) == len(rows)
    assert split_by_question(rows, 0.3, seed=0) == (train, evl)
    one = [r for r in rows if r["question_id"] == "q0"]
    assert split_by_question(one, 0.3, 0) == (one, [])
    assert len({r["question_id"] for r in split_by_question(rows[:24], 0.01, 0)[1]}) == 1  # at least one


def test_validate_row_names_the_field(tmp_path):
    good = rows_from_tree(hand_tree(), cfg(kind="prm"), {})[0]
    validate_reward_row(json.loads(json.dumps(good)))
    bad_cases = {"labels[0]": lambda r: r.update(labels=[1] * len(r["completions"])),
                 "soft_labels[0]": lambda r: r["soft_labels"].__setitem__(0, 1.5),
                 "label_mask": lambda r: r.update(label_mask=[False] * len(r["completions"])),
                 "counts[0]": lambda r: r["counts"].__setitem__(0, [3, 2]),
                 "merged": lambda r: r.update(merged=[False] * (len(r["completions"]) + 1)),
                 "kind": lambda r: r.update(kind="xrm"),
                 "completions": lambda r: r.update(completions=[])}
    for field, breaker in bad_cases.items():
        row = json.loads(json.dumps(good))
        breaker(row)
        with pytest.raises(FieldError) as e:
            validate_reward_row(row)
        assert e.value.field == field
    p = tmp_path / "rows.jsonl"
    bad = json.loads(json.dumps(good))
    bad["soft_labels"][0] = "high"
    write_jsonl(p, [good, bad])
    with pytest.raises(DataError, match=r"rows.jsonl:2: field 'soft_labels\[0\]'"):
        list(read_jsonl(p, RewardRow))


def test_a_plain_trl_row_is_completed_and_a_broken_one_named():
    row = validate_reward_row({"prompt": "2 + 3?", "completions": ["2 + 3 = 5", "The answer is 5"],
                               "labels": [True, False]})
    assert row["kind"] == "prm" and row["source"] == "trl" and len(row["question_id"]) == 16
    assert row["soft_labels"] == [1.0, 0.0] and row["label_mask"] == [True, True]
    assert row["merged"] == [False, False] and row["counts"] == [None, None]
    with pytest.raises(FieldError) as e:  # a plain row with a label per step too few
        validate_reward_row({"prompt": "q", "completions": ["a", "b"], "labels": [True]})
    assert e.value.field == "labels"
    with pytest.raises(FieldError) as e:  # one of hiero's fields present: the row is checked in full
        validate_reward_row({"prompt": "q", "completions": ["a"], "labels": [True], "kind": "prm"})
    assert e.value.field == "question_id"


def test_rm_data_cli(tmp_path):
    from hiero.cli import main as cli_main

    trees = tmp_path / "trees.jsonl"
    write_jsonl(trees, [hand_tree(f"q{i}") for i in range(5)])
    out = tmp_path / "rows"
    assert cli_main(["rm", "data", "--kind", "hrm", "--from", "trees", str(trees), "-o", str(out),
                     "--hnc", "false", "--merge-label", "min", "--eval-fraction", "0.4"]) == 0
    stats = json.loads((out / "stats.json").read_text())
    assert stats["train"]["questions"] == 3 and stats["eval"]["questions"] == 2
    assert stats["train"]["rows"] + stats["eval"]["rows"] == 5 * 21
    assert stats["config"]["merge_label"] == "min"
    rows = list(read_jsonl(out / "train.jsonl", RewardRow))
    assert all(r["kind"] == "hrm" and r["source"] == "trees" for r in rows)
    # the parser function works on any argparse sub-parsers (what hiero.reward.cli calls)
    from hiero.reward.cli import add_rm_data_parser

    parser = argparse.ArgumentParser()
    add_rm_data_parser(parser.add_subparsers(dest="cmd"))
    args = parser.parse_args(
        ["data", "a.jsonl", "b.jsonl", "-o", "x", "--from", "prm800k", "--neutral", "positive"]
    )
    from hiero.config import config_from_args

    c = config_from_args(RowsConfig, args)
    assert (c.inputs, c.out_dir, c.source, c.neutral, c.kind) == (
        ["a.jsonl", "b.jsonl"],
        "x",
        "prm800k",
        "positive",
        "prm",
    )
    # bad config -> exit 2, nothing written
    assert cli_main(["rm", "data", "--kind", "hrm", "--from", "prm800k", "--merge-label", "mc", str(trees),
                     "-o", str(tmp_path / "none")]) == 2
    assert not (tmp_path / "none").exists()


def test_rows_are_deterministic(tmp_path):
    trees = tmp_path / "t.jsonl"
    write_jsonl(trees, [replace(hand_tree(f"q{i}")) for i in range(4)])
    for d in ("a", "b"):
        main(RowsConfig(inputs=[str(trees)], out_dir=str(tmp_path / d), kind="hrm"))
    assert (tmp_path / "a" / "train.jsonl").read_text() == (tmp_path / "b" / "train.jsonl").read_text()
