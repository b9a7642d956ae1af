"""Solution pairs picked by a reward model (`pairs_from_scored_solutions`, `hiero po pairs --rm`), and
step-level tree pairs (`pairs_from_tree`)."""

import pytest

from hiero.cli import main as cli_main
from hiero.data.io import write_jsonl
from hiero.policy.prompt import build_prompt
from hiero.preference.pairs import pairs_from_scored_solutions, pairs_from_tree
from hiero.types import Node, Problem, Solution, Tree


def sol(pid: str, last: str, correct: bool) -> Solution:
    return Solution(
        problem_id=pid,
        question=f"Q {pid}?",
        steps=["Ann starts with 2 apples.", f"2 + 3 = {last}", f"The answer is {last}"],
        answer=last,
        correct=correct,
    )


def test_chosen_is_the_best_right_answer_above_the_threshold_and_rejected_the_greedy_error():
    a_hi, a_lo, a_bad1, a_bad2 = (
        sol("a", "5", True),
        sol("a", "5 ", True),
        sol("a", "6", False),
        sol("a", "7", False),
    )
    b_good, b_bad = sol("b", "5", True), sol("b", "4", False)  # b's right answer scores under the threshold
    c_good, c_bad1, c_bad2 = sol("c", "5", True), sol("c", "8", False), sol("c", "9", False)
    sols = [a_lo, a_bad1, a_hi, a_bad2, b_good, b_bad, c_good, c_bad1, c_bad2]
    scores = [0.80, 0.30, 0.95, 0.10, 0.60, 0.20, 0.90, 0.40, 0.05]
    greedy = {
        "a": sol("a", "1", False),
        "c": sol("c", "5", True),
    }  # c's greedy answer is right: not a rejected
    pairs = pairs_from_scored_solutions(sols, scores, 0.7, greedy)
    by = {p.meta["problem_id"]: p for p in pairs}
    assert set(by) == {"a", "c"}
    assert by["a"].chosen == a_hi.text and by["a"].rejected == greedy["a"].text
    assert by["a"].meta["rejected_greedy"] and by["a"].meta["chosen_rm"] == 0.95
    assert by["c"].chosen == c_good.text and by["c"].rejected == c_bad2.text  # the lowest-scored wrong sample
    assert not by["c"].meta["rejected_greedy"] and by["c"].meta["rejected_rm"] == 0.05
    assert by["a"].prompt == build_prompt("Q a?")
    # without greedy solutions, the lowest-scored wrong sample; two pairs per problem go down both lists
    two = pairs_from_scored_solutions(sols, scores, 0.7, None, max_per_problem=2)
    got = [(p.chosen, p.rejected) for p in two if p.meta["problem_id"] == "a"]
    assert got == [(a_hi.text, a_bad2.text), (a_lo.text, a_bad1.text)]
    assert [p.meta["problem_id"] for p in two].count("c") == 1  # one right answer: one pair
    with pytest.raises(ValueError, match="9 solutions but 8 scores"):
        pairs_from_scored_solutions(sols, scores[:-1], 0.7)


def test_greedy_without_a_reward_model_is_refused(tmp_path, capsys):
    write_jsonl(tmp_path / "s.jsonl", [sol("a", "5", True), sol("a", "6", False)])
    rc = cli_main(
        [
            "po",
            "pairs",
            "--solutions",
            str(tmp_path / "s.jsonl"),
            "--greedy",
            str(tmp_path / "s.jsonl"),
            "-o",
            str(tmp_path / "p.jsonl"),
        ]
    )
    assert rc != 0 and "--greedy" in capsys.readouterr().err and not (tmp_path / "p.jsonl").exists()


def _tree(children: list[tuple[str, bool | None]]) -> Tree:
    """Root -> "Start with 6." -> one child per (step, leaf_right): None makes the child go on to a
    right leaf "The answer is 14"; True / False makes it a terminal step, right / wrong."""
    nodes = [Node(0, None, "", 0, children=[1]), Node(1, 0, "Start with 6.", 1)]
    for step, right in children:
        k = len(nodes)
        nodes[1].children.append(k)
        if right is None:
            nodes.append(Node(k, 1, step, 2, children=[k + 1]))
            nodes.append(Node(k + 1, k, "The answer is 14", 3, terminal=True, answer="14", correct=True))
        else:
            nodes.append(Node(k, 1, step, 2, terminal=True, answer=step.split()[-1], correct=right))
    t = Tree(
        problem=Problem(id="q", question="Tom has 6 cards and gets 8 more. How many?", answer="14"),
        nodes=nodes,
    )
    t.recompute_counts()
    return t


def test_step_pairs_continue_the_text_and_leaf_pairs_end_it():
    tree = _tree([("6 + 8 = 14", None), ("6 + 8 = 15", False)])
    step = pairs_from_tree(tree, response="step")
    assert [(p.chosen, p.rejected) for p in step] == [("6 + 8 = 14\n", "6 + 8 = 15")]
    assert step[0].meta["continues"] == {
        "chosen": True,
        "rejected": False,
    }  # the wrong step ended its solution
    assert step[0].prompt.endswith("Start with 6.\n")
    tree = _tree([("6 + 8 = 14", None), ("The answer is 6", False)])
    assert pairs_from_tree(tree, response="step")[0].meta["continues"] == {"chosen": True, "rejected": False}
    leaf = pairs_from_tree(_tree([("6 + 8 = 14", None), ("6 + 8 = 15", False)]), response="leaf")
    assert [(p.chosen, p.rejected, p.meta.get("continues")) for p in leaf] == [
        ("6 + 8 = 14\nThe answer is 14", "6 + 8 = 15", None)]


def test_prm800k_step_pairs_by_hand():
    """+1 vs -1 candidates at one position under a prefix with no -1 step; earliest position first; the
    labelers' chosen +1 step first; a step stating the answer ends the text (no separator, no continue)."""
    from hiero.preference.pairs import pairs_from_prm800k

    alts = [{"step": 0, "text": "x = 2", "rating": -1, "chosen": False, "human": False},
            {"step": 1, "text": "so y = 4", "rating": 1, "chosen": False, "human": False},
            {"step": 1, "text": "so y = 5", "rating": 1, "chosen": True, "human": False},
            {"step": 1, "text": "so y = 6", "rating": -1, "chosen": False, "human": False},
            {"step": 2, "text": "y is 4\n\n# Answer\n\n4", "rating": 1, "chosen": True, "human": False},
            {"step": 2, "text": "y is 7\n\n# Answer\n\n7", "rating": -1, "chosen": False, "human": False}]
    s = Solution(problem_id="p", question="Find y.", steps=["x = 1", "so y = 5", "y is 4\n\n# Answer\n\n4"],
                 labels=[1, 1, 1], meta={"ratings": [None, 1, 1], "alternatives": alts})
    pairs = pairs_from_prm800k(s, max_pairs=5)
    assert [(p.meta["step"], p.chosen, p.rejected) for p in pairs] == [
        (1, "so y = 5\n", "so y = 6\n"), (2, "y is 4\n\n# Answer\n\n4", "y is 7\n\n# Answer\n\n7")]
    assert (
        pairs[0].prompt == build_prompt("Find y.", ["x = 1"]) and pairs[0].meta["continues"]["chosen"] is True
    )
    assert pairs[1].meta["continues"] == {"chosen": False, "rejected": False}
    assert len(pairs_from_prm800k(s, max_pairs=1)) == 1
    s.meta["ratings"] = [None, -1, 1]  # a wrong step in the prefix: no pair after it
    assert [p.meta["step"] for p in pairs_from_prm800k(s, max_pairs=5)] == [1]


def test_prm800k_real_step_pairs(shared_data, tmp_path, capsys):
    """phase1_test through `hiero po pairs --prm800k`: pairs formed and counted; one row checked by hand."""
    import json

    out = tmp_path / "pairs.jsonl"
    assert cli_main(["po", "pairs", "--prm800k", str(shared_data / "prm800k" / "phase1_test.jsonl"),
                     "--max-per-problem", "100", "-o", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["by_source"] == {"prm800k": 237} and summary["pairs"] == 237  # measured
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert all(r["chosen"] != r["rejected"] and r["meta"]["source"] == "prm800k" for r in rows)
    # raw line 3, step 1: the chosen completion (+1) vs the first -1 one, after the human step 0
    r = next(
        r
        for r in rows
        if r["prompt"].startswith("Question: Compute $58_9 - 18_9.$") and r["meta"]["step"] == 1
    )
    assert r["prompt"] == build_prompt("Compute $58_9 - 18_9.$ Express your answer in base $9.$",
                                       ["Subtraction works the same in base $9$ as in base $10$."])
    assert (
        r["chosen"]
        == "So we just find the difference of the numbers in the right column, which is $8-8=0$.\n"
    )
    assert r["rejected"] == "So, let's convert each number to base $10$ and then subtract.\n"
    assert r["meta"]["continues"] == {"chosen": True, "rejected": True}
    # the default, one pair per labelled solution
    assert cli_main(["po", "pairs", "--prm800k", str(shared_data / "prm800k" / "phase1_test.jsonl"),
                     "-o", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["pairs"] == 76
