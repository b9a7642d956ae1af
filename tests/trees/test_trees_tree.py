"""MC counts equal leaf counting: on random trees, and on trees grown by the BFS and MCTS searches."""

from __future__ import annotations

import copy

from hypothesis import given, settings
from hypothesis import strategies as st

from hiero.domains import builtin as synth
from hiero.trees.bfs import SearchSettings, grow_bfs
from hiero.trees.mcts import MCTSSettings, grow_mcts
from hiero.trees.tree import StepJudge, add_node, backup, check_tree, leaf_counts, leaf_value, new_tree
from hiero.types import Problem, Tree

PROBLEM = Problem(id="p", question="q", answer="1")
SYNTH = synth.generate_problems(4, seed=3, split="test")


@st.composite
def random_trees(draw):
    """A random tree: node i > 0 hangs under a random earlier node; leaves get random outcomes."""
    n = draw(st.integers(1, 40))
    parents = [draw(st.integers(0, i - 1)) for i in range(1, n + 1)]
    tree = new_tree(PROBLEM)
    for p in parents:
        add_node(tree, p, f"s{len(tree.nodes)}")
    for node in tree.leaves():
        node.terminal = True
        node.correct = draw(st.sampled_from([True, False, None]))  # None: unfinished
    return tree


@settings(max_examples=60, deadline=None)
@given(random_trees())
def test_recompute_and_backup_equal_leaf_counting(tree):
    """Three ways to count agree: recompute_counts, backup of every leaf, and an explicit walk."""
    by_backup = copy.deepcopy(tree)
    for leaf in by_backup.leaves():
        backup(by_backup, leaf.id, *leaf_value(leaf))
    tree.recompute_counts()
    check_tree(tree)
    check_tree(by_backup)
    assert [(n.n_correct, n.n_total) for n in tree.nodes] == [
        (n.n_correct, n.n_total) for n in by_backup.nodes
    ]
    assert tree.root.n_total == len(tree.leaves())
    assert tree.root.n_correct == sum(leaf.correct is True for leaf in tree.leaves())
    for node in tree.nodes:
        c, t = leaf_counts(tree, node.id)
        assert node.mc_score == (c / t if t else 0.0)
    # a JSON round trip keeps the counts
    assert Tree.from_dict(tree.to_dict()).to_dict() == tree.to_dict()


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10**6), children=st.integers(1, 3), rollouts=st.integers(1, 3),
       simulations=st.integers(1, 6), depth=st.integers(2, 7), p_slip=st.sampled_from([0.0, 0.3, 1.0]))
def test_mcts_stored_tree_counts_equal_leaf_counting(
    synth_oracle, seed, children, rollouts, simulations, depth, p_slip
):
    """MCTS backs up rollout outcomes incrementally; the stored tree must still equal leaf counting,
    so recompute_counts changes nothing."""
    trees = [new_tree(p) for p in SYNTH[:2]]
    gen = synth_oracle(SYNTH, p_slip=p_slip, seed=seed)
    grow_mcts(trees, gen, MCTSSettings(children=children, depth=depth, rollouts=rollouts,
                                       simulations=simulations), seed)
    for tree in trees:
        check_tree(tree)
        before = [(n.n_correct, n.n_total) for n in tree.nodes]
        tree.recompute_counts()
        assert [(n.n_correct, n.n_total) for n in tree.nodes] == before
        assert max(n.depth for n in tree.nodes) <= depth
        assert all(leaf.terminal for leaf in tree.leaves())
        rollout = set(tree.meta["rollout_nodes"])
        assert rollout <= {n.id for n in tree.nodes[1:]}


def test_bfs_root_total_is_leaf_count_and_hand_counts(synth_oracle):
    """2-op problem, no slips: reference = context, 2 equations, answer (4 steps).
    children=3, depth=5: every path ends at depth 4 with the right answer -> 3^4 = 81 leaves, 81/81.
    depth=3: the answer is never reached -> 3^3 = 27 unfinished leaves, 0/27."""
    p = next(
        q for q in synth.generate_problems(30, seed=1, split="test") if len(q.meta["program"]["ops"]) == 2
    )
    gen = synth_oracle([p], p_slip=0.0)
    for depth, expect in ((5, (81, 81)), (3, (0, 27))):
        tree = new_tree(p)
        grow_bfs([tree], gen, SearchSettings(children=3, depth=depth), seed=0)
        check_tree(tree)
        assert (tree.root.n_correct, tree.root.n_total) == expect
        assert tree.root.n_total == len(tree.leaves())
        assert len(tree.nodes) == 1 + sum(3 ** d for d in range(1, min(depth, 4) + 1))


def test_bfs_slips_give_mc_zero_below_wrong_steps_and_truth_labels(synth_oracle):
    """With slips, a wrong equation (truth False) can only lead to a wrong answer: MC 0 below it;
    a node's truth label comes from synth.check_steps on its path."""
    trees = [new_tree(p) for p in SYNTH]
    grow_bfs(trees, synth_oracle(SYNTH, p_slip=0.4, seed=1), SearchSettings(children=3, depth=6), seed=0)
    wrong = [n for t in trees for n in t.nodes[1:] if n.step_correct is False]
    assert wrong, "p_slip=0.4 should produce wrong steps"
    assert all(n.n_correct == 0 for n in wrong)
    assert any(0 < t.root.mc_score < 1 for t in trees)
    for t in trees:
        check_tree(t)
        for n in t.nodes[1:]:
            assert n.step_correct == synth.check_steps(t.problem, [m.step for m in t.path(n.id)])[-1]


def test_bfs_one_generate_call_per_level_across_problems(synth_oracle):
    """The whole frontier of a level, across every tree, goes out in one call with n=children."""
    gen = synth_oracle(SYNTH, p_slip=0.0)
    trees = [new_tree(p) for p in SYNTH]
    grow_bfs(trees, gen, SearchSettings(children=2, depth=4), seed=0)
    assert len(gen.calls) == 4
    assert [len(c["prompts"]) for c in gen.calls] == [4 * 2 ** d for d in range(4)]
    assert all(c["n"] == 2 and c["stop"] == ["\n"] for c in gen.calls)


def test_mcts_two_calls_per_round_batched_across_problems(synth_oracle):
    gen = synth_oracle(SYNTH, p_slip=0.3)
    trees = [new_tree(p) for p in SYNTH]
    grow_mcts(trees, gen, MCTSSettings(children=2, depth=6, rollouts=3, simulations=3), seed=0)
    expand = [c for c in gen.calls if c["stop"]]
    rollout = [c for c in gen.calls if not c["stop"]]
    assert len(expand) == 3 and len(rollout) <= 3
    assert len(expand[0]["prompts"]) == len(SYNTH)  # one selected leaf per tree, all in one call
    assert all(c["n"] == 3 for c in rollout)


def test_judge_terminal_rules():
    p = SYNTH[0]
    judge = StepJudge(p)
    ref = synth.solve(p)
    v = judge.judge(ref, "eos")
    assert (v.terminal, v.answer, v.correct, v.step_correct) == (True, p.answer, True, True)
    v = judge.judge(ref[:2], "stop")
    assert (v.terminal, v.correct, v.step_correct) == (False, None, True)
    v = judge.judge(ref[:2], "eos")  # the model stopped without an answer: a wrong leaf
    assert (v.terminal, v.answer, v.correct) == (True, None, False)
    v = judge.judge(ref[:1] + [f"The answer is {int(p.answer) + 1}"], "stop")
    assert (v.terminal, v.correct, v.step_correct) == (True, False, False)


def test_judge_needs_an_explicit_answer_outside_the_builtin_domain():
    """grading.extract_answer falls back to the last number; a step like "3 + 4 = 7" must not end
    the solution unless the model stopped (eos), where the whole text is graded as evaluation does."""
    p = Problem(id="g", question="q", answer="7", source="gsm8k")
    judge = StepJudge(p)
    assert not judge.judge(["3 + 4 = 7"], "stop").terminal
    v = judge.judge(["3 + 4 = 7", "The answer is 7"], "stop")
    assert (v.terminal, v.answer, v.correct, v.step_correct) == (True, "7", True, None)
    v = judge.judge(["so x = \\boxed{8}"], "stop")
    assert (v.terminal, v.answer, v.correct) == (True, "8", False)
    v = judge.judge(["3 + 4 = 7", "# Answer", "7"], "stop")  # PRM800K: the line after the header
    assert (v.terminal, v.answer, v.correct) == (True, "7", True)
    v = judge.judge(["3 + 4 = 7"], "eos")
    assert (v.terminal, v.answer, v.correct) == (True, "7", True)
