"""OmegaPRM-style binary search: counts are leaf counts, and the searched first error is the true one.

With the test oracle generator, a completion reaches the right answer iff every step of its path is
right, so "some completion through the step is right" holds exactly for the steps before the first
error: the binary search must find `synth.first_error` of every sampled wrong solution, with at most
ceil(log2(steps)) checks each.
"""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from hiero.domains import builtin as synth
from hiero.trees.bsearch import BSearchSettings, grow_bsearch, hang_completion
from hiero.trees.tree import StepJudge, check_tree, new_tree
from hiero.types import ROOT

PROBLEMS = synth.generate_problems(3, seed=5, split="test")


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10**6), samples=st.integers(1, 6), rollouts=st.integers(1, 3),
       p_slip=st.sampled_from([0.0, 0.3, 0.7]))
def test_bsearch_finds_the_true_first_error(synth_oracle, seed, samples, rollouts, p_slip):
    gen = synth_oracle(PROBLEMS, p_slip=p_slip, seed=seed)
    trees = [new_tree(p) for p in PROBLEMS]
    grow_bsearch(
        trees, gen, BSearchSettings(depth=8, step_tokens=64, samples=samples, rollouts=rollouts), seed
    )
    check_tree(trees[0])  # counts equal leaf counting
    checks = sum(len(c["prompts"]) for c in gen.calls[1:])  # every call after the first is a round of checks
    budget = 0
    for tree in trees:
        check_tree(tree)
        sols = tree.meta["solutions"]
        assert len(sols) == samples and len(set(sols)) == samples  # one new leaf per sample
        solved = any(tree.nodes[leaf].correct for leaf in sols)
        for leaf, found in zip(sols, tree.meta["first_errors"], strict=True):
            steps = [n.step for n in tree.path(leaf)]
            if solved:
                assert found == synth.first_error(tree.problem, steps)
            if not tree.nodes[leaf].correct and solved:
                budget += math.ceil(math.log2(len(steps) + 1))
    assert checks <= budget


def test_hang_completion_shares_prefixes_but_never_leaves(synth_oracle):
    p = PROBLEMS[0]
    tree, judge = new_tree(p), StepJudge(p)
    text = "\n".join(synth.solve(p))
    a = hang_completion(tree, judge, ROOT, text, "eos", 10)
    b = hang_completion(tree, judge, ROOT, text, "eos", 10)
    assert a != b and tree.nodes[a].parent == tree.nodes[b].parent  # same prefix, two leaves
    assert len(tree.nodes) == 1 + len(synth.solve(p)) + 1
    assert tree.nodes[a].correct is True and tree.nodes[a].terminal
    c = hang_completion(tree, judge, ROOT, text, "length", 2)  # depth limit: an unfinished, wrong leaf
    assert tree.nodes[c].depth == 2 and tree.nodes[c].terminal and tree.nodes[c].correct is False
    tree.recompute_counts()
    check_tree(tree)
    assert (tree.root.n_correct, tree.root.n_total) == (2, 3)
