"""Solution pairs picked by a reward model (`pairs_from_scored_solutions`, `hiero po pairs --rm`), and
step-level tree pairs (`pairs_from_tree`)."""

import pytest

from hiero.cli import main as cli_main
from hiero.data.io import write_jsonl
from hiero.policy.prompt import build_prompt
from hiero.preference.pairs import pairs_from_scored_solutions, pairs_from_tree
from hiero.types import Node, Problem, Solution, Tree


def sol(pid: str, last: str, correct: bool) -> Solution:
    return Solution(problem_id=pid, question=f"Q {pid}?", steps=["Ann starts with 2 apples.", f"2 + 3 = {last}",
                                                                 f"The answer is {last}"], answer=last, correct=correct)


def test_chosen_is_the_best_right_answer_above_the_threshold_and_rejected_the_greedy_error():
    a_hi, a_lo, a_bad1, a_bad2 = sol("a", "5", True), sol("a", "5 ", True), sol("a", "6", False), sol("a", "7", False)
    b_good, b_bad = sol("b", "5", True), sol("b", "4", False)  # b's right answer scores under the threshold
    c_good, c_bad1, c_bad2 = sol("c", "5", True), sol("c", "8", False), sol("c", "9", False)
    sols = [a_lo, a_bad1, a_hi, a_bad2, b_good, b_bad, c_good, c_bad1, c_bad2]
    scores = [0.80, 0.30, 0.95, 0.10, 0.60, 0.20, 0.90, 0.40, 0.05]
    greedy = {"a": sol("a", "1", False), "c": sol("c", "5", True)}  # c's greedy answer is right: not a rejected
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
    rc = cli_main(["po", "pairs", "--solutions", str(tmp_path / "s.jsonl"), "--greedy", str(tmp_path / "s.jsonl"),
                   "-o", str(tmp_path / "p.jsonl")])
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
    t = Tree(problem=Problem(id="q", question="Tom has 6 cards and gets 8 more. How many?", answer="14"), nodes=nodes)
    t.recompute_counts()
    return t


def test_step_pairs_continue_the_text_and_leaf_pairs_end_it():
    tree = _tree([("6 + 8 = 14", None), ("6 + 8 = 15", False)])
    step = pairs_from_tree(tree, response="step")
    assert [(p.chosen, p.rejected) for p in step] == [("6 + 8 = 14\n", "6 + 8 = 15")]
    assert step[0].meta["continues"] == {"chosen": True, "rejected": False}  # the wrong step ended its solution
    assert step[0].prompt.endswith("Start with 6.\n")
    tree = _tree([("6 + 8 = 14", None), ("The answer is 6", False)])
    assert pairs_from_tree(tree, response="step")[0].meta["continues"] == {"chosen": True, "rejected": False}
    leaf = pairs_from_tree(_tree([("6 + 8 = 14", None), ("6 + 8 = 15", False)]), response="leaf")
    assert [(p.chosen, p.rejected, p.meta.get("continues")) for p in leaf] == [
        ("6 + 8 = 14\nThe answer is 14", "6 + 8 = 15", None)]
