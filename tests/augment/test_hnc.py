"""HNC: invariants on hand-built, random (hypothesis) and annotate-shaped trees; the CLI."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hiero.augment.hnc import (
    MERGE_JOINER,
    HNCConfig,
    hnc,
    main,
    merged_node_ids,
    merges_in_last_pass,
    tree_seed,
)
from hiero.data.io import read_jsonl, write_jsonl
from hiero.trees.tree import check_tree, leaf_counts
from hiero.types import Node, Problem, Tree


# ----------------------------------------------------------------------------- builders
def build(parents: list[int | None], correct: dict[int, bool] | None = None, qid: str = "q") -> Tree:
    """A tree from a parent list (node i's parent; ids in creation order); leaves wrong unless
    listed in `correct`. Steps are "s<i>"."""
    nodes = []
    for i, p in enumerate(parents):
        depth = 0 if p is None else nodes[p].depth + 1
        nodes.append(Node(id=i, parent=p, step="" if p is None else f"s{i}", depth=depth))
        if p is not None:
            nodes[p].children.append(i)
    for n in nodes[1:]:
        if not n.children:
            n.terminal, n.answer = True, "1"
            n.correct = bool((correct or {}).get(n.id, False))
    t = Tree(problem=Problem(id=qid, question=f"question {qid}", answer="1"), nodes=nodes)
    t.recompute_counts()
    return t


def random_tree(seed: int, max_children: int = 6, max_depth: int = 4, p_leaf: float = 0.25) -> Tree:
    rng = random.Random(seed)
    parents: list[int | None] = [None]
    depth = [0]
    frontier = [0]
    while frontier:
        pid = frontier.pop(0)
        if depth[pid] >= max_depth or (pid and rng.random() < p_leaf):
            continue
        for _ in range(rng.randint(1, max_children)):
            parents.append(pid)
            depth.append(depth[pid] + 1)
            frontier.append(len(parents) - 1)
    correct = {i: rng.random() < 0.4 for i in range(len(parents))}
    return build(parents, correct, qid=f"r{seed}")


def full_tree(k: int = 5, depth: int = 4, seed: int = 0) -> Tree:
    """k children per node, `depth` levels: (k^(depth+1) - 1) / (k - 1) nodes (781 for 5 x 4)."""
    parents: list[int | None] = [None]
    level = [0]
    for _ in range(depth):
        nxt = []
        for p in level:
            for _ in range(k):
                parents.append(p)
                nxt.append(len(parents) - 1)
        level = nxt
    rng = random.Random(seed)
    return build(parents, {i: rng.random() < 0.4 for i in level}, qid=f"full{seed}")


def check_invariants(before: Tree, after: Tree, min_children: int = 4, min_depth: int = 2) -> None:
    """Everything HNC promises, checked against the input tree."""
    check_tree(after)  # links, depth = parent + 1 everywhere, counts == leaf counting
    assert (after.root.n_correct, after.root.n_total) == (before.root.n_correct, before.root.n_total)
    assert leaf_counts(after) == leaf_counts(before)
    assert len(after.nodes) == len(before.nodes)
    merges = after.meta["hnc"]["merges"]
    moved = [m["node"] for m in merges]
    assert len(moved) == len(set(moved)), "a node was moved twice"
    olds = [m["from"] for m in merges]
    assert len(olds) == len(set(olds)), "a node gave up two children"
    for m in merges:
        c, old, new = m["node"], m["from"], m["to"]
        assert old not in moved, "a moved node absorbed one of its children"
        b_c, a_c = before.nodes[c], after.nodes[c]
        assert before.nodes[c].parent == old and before.nodes[old].parent == new
        assert a_c.parent == new and c in after.nodes[new].children and c not in after.nodes[old].children
        assert a_c.step == before.nodes[old].step + MERGE_JOINER + b_c.step
        assert a_c.depth + 1 >= min_depth  # its depth when it moved (later moves are below it)
        assert len(before.nodes[old].children) >= min_children
        # the merged node keeps its subtree, hence its counts and its MC score
        assert (a_c.n_correct, a_c.n_total) == (b_c.n_correct, b_c.n_total) == leaf_counts(after, c)
        # the old parent lost exactly that subtree
        assert after.nodes[old].n_total == before.nodes[old].n_total - b_c.n_total
        assert after.nodes[old].n_correct == before.nodes[old].n_correct - b_c.n_correct
    # untouched nodes keep their text; every other node's depth drops by its number of moved ancestors-or-self
    for b, a in zip(before.nodes, after.nodes):
        if b.id not in moved:
            assert a.step == b.step
        shift = sum(x.id in moved for x in before.path(b.id))  # path() ends at the node itself
        assert a.depth == b.depth - shift


# ----------------------------------------------------------------------------- hand-built
def test_hand_built_single_merge():
    """root -> a(1) -> {b(2), c(3), d(4), e(5)}, b -> {f(6), g(7)}; leaves c, d, e, f, g.
    With p=1 the BFS reaches a (4 children, depth-2 kids) and moves its first child b up to the
    root: b's step becomes "s1\\ns2", depth 1; f, g go to depth 2. a (nothing else qualifies: b has
    2 < 4 children) loses b's two leaves. Correct leaves: f and d. Before: a = 2/5 (0.4);
    after: a = 1/3 (d of c, d, e), b = 1/2 unchanged, root = 2/5 unchanged."""
    t = build([None, 0, 1, 1, 1, 1, 2, 2], correct={6: True, 4: True})
    before = json.dumps(t.to_dict())
    h = hnc(t, p=1.0, seed=0)
    assert json.dumps(t.to_dict()) == before, "input mutated"
    check_invariants(t, h)
    assert h.meta["hnc"]["merges"] == [{"node": 2, "from": 1, "to": 0, "pass": 0}]
    assert h.nodes[2].step == "s1" + MERGE_JOINER + "s2" and h.nodes[2].depth == 1 and h.nodes[2].parent == 0
    assert h.root.children == [1, 2] and h.nodes[1].children == [3, 4, 5]
    assert [h.nodes[i].depth for i in (6, 7)] == [2, 2]
    assert (h.nodes[1].n_correct, h.nodes[1].n_total) == (1, 3)
    assert (h.nodes[2].n_correct, h.nodes[2].n_total) == (1, 2)
    assert (h.root.n_correct, h.root.n_total) == (2, 5)
    assert merged_node_ids(h) == {2} and merges_in_last_pass(h) == 1


def test_moved_node_does_not_absorb_its_children():
    """root -> a(1) -> 4 kids b..e (2..5); b -> 4 leaves (6..9). p=1: b moves up (first child of a);
    b's children may not move into b (official `parent.visited`), so exactly one merge."""
    t = build([None, 0, 1, 1, 1, 1, 2, 2, 2, 2], correct={6: True})
    h = hnc(t, p=1.0)
    check_invariants(t, h)
    assert merged_node_ids(h) == {2}
    # without the move of b (min_depth 3 forbids it), b's first child moves into a instead
    h3 = hnc(t, p=1.0, min_depth=3)
    check_invariants(t, h3, min_depth=3)
    assert merged_node_ids(h3) == {6} and h3.nodes[6].step == "s2" + MERGE_JOINER + "s6"


def test_p0_is_identity_and_min_children_respected():
    t = random_tree(3)
    h = hnc(t, p=0.0, seed=5)
    assert [n.to_dict() for n in h.nodes] == [n.to_dict() for n in t.nodes]
    assert h.meta["hnc"]["merges"] == []
    wide = build([None, 0, 1, 1, 1, 2])  # a has 3 children: below min_children 4
    assert merged_node_ids(hnc(wide, p=1.0)) == set()
    assert merged_node_ids(hnc(wide, p=1.0, min_children=3)) == {2}


def test_bad_parameters_rejected():
    t = random_tree(1)
    for kw in ({"p": 1.5}, {"min_children": 1}, {"min_depth": 1}, {"recount": "nope"}):
        with pytest.raises(ValueError):
            hnc(t, **kw)


def test_second_pass_accumulates_and_step_correct_is_and():
    t = full_tree(4, 3, seed=2)
    for n in t.nodes[1:]:
        n.step_correct = n.id % 3 != 0
    h1 = hnc(t, p=1.0, seed=1)
    for m in h1.meta["hnc"]["merges"]:
        assert h1.nodes[m["node"]].step_correct == (
            t.nodes[m["from"]].step_correct and t.nodes[m["node"]].step_correct
        )
    h2 = hnc(h1, p=1.0, seed=1)
    check_tree(h2)
    assert len(h2.meta["hnc"]["passes"]) == 2
    assert merges_in_last_pass(h2) == sum(m["pass"] == 1 for m in h2.meta["hnc"]["merges"]) > 0
    assert (h2.root.n_correct, h2.root.n_total) == (t.root.n_correct, t.root.n_total)


# ----------------------------------------------------------------------------- properties
@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 10**6), tree_seed_=st.integers(0, 10**6), p=st.sampled_from([0.0, 0.3, 0.5, 1.0]),
       min_children=st.integers(2, 5), min_depth=st.integers(2, 4), max_children=st.integers(1, 6))
def test_hnc_invariants_on_random_trees(seed, tree_seed_, p, min_children, min_depth, max_children):
    t = random_tree(tree_seed_, max_children=max_children)
    before = t.to_dict()
    h = hnc(t, p=p, min_children=min_children, min_depth=min_depth, seed=seed)
    assert t.to_dict() == before
    check_invariants(t, h, min_children, min_depth)
    # deterministic by seed; "delta" recount equals leaf recount on leaf-counted trees
    assert hnc(t, p, min_children, min_depth, seed=seed).to_dict() == h.to_dict()
    d = hnc(t, p, min_children, min_depth, seed=seed, recount="delta")
    assert [(n.n_correct, n.n_total) for n in d.nodes] == [(n.n_correct, n.n_total) for n in h.nodes]
    # our one-pass recount equals Tree.recompute_counts
    again = Tree.from_dict(h.to_dict())
    again.recompute_counts()
    assert [(n.n_correct, n.n_total) for n in again.nodes] == [(n.n_correct, n.n_total) for n in h.nodes]
    if p == 0.0:
        assert h.meta["hnc"]["merges"] == []


def test_full_tree_merge_rate():
    """5-ary depth-4 tree: nodes with >= 4 children whose children are at depth >= 2 are the
    5 + 25 + 125 = 155 nodes at depths 1-3; each tries up to 5 coins of p=0.5, so it gives up a
    child with probability 1 - 0.5^5 = 0.96875, unless it was moved itself. A node at depth 1 is
    never moved (its children at depth 2 are the first movable), so the expectation is a bit
    below 155 * 0.969 = 150; moved nodes can't give up a child, so 120-150 is the plausible range."""
    t = full_tree()
    assert len(t.nodes) == 781
    counts = [len(merged_node_ids(hnc(t, seed=s))) for s in range(5)]
    assert all(100 <= c <= 150 for c in counts), counts
    assert len(set(counts)) > 1  # the seed matters


# ----------------------------------------------------------------------------- annotate-shaped trees
class _FakePolicy:
    """A Generator that writes synth steps: the right next step with prob 0.7, else a wrong
    arithmetic line or a wrong answer; deterministic per (seed, prompt)."""

    def __init__(self, problems):
        self.by_question = {p.question: p for p in problems}

    def generate(self, prompts, *, n=1, max_new_tokens=256, stop=None, temperature=0.0, top_p=1.0, seed=None):
        from hiero.domains import builtin as synth
        from hiero.policy.backend import Completion

        out = []
        for prompt in prompts:
            q = prompt.split("Question: ", 1)[1].split("\nAnswer:\n", 1)[0]
            done = prompt.split("\nAnswer:\n", 1)[1].count("\n")
            right = synth.solve(self.by_question[q])
            rng = random.Random(f"{seed}:{prompt}")
            comps = []
            for _ in range(n):
                r = rng.random()
                if r < 0.7 and done < len(right):
                    text = right[done]
                elif r < 0.85:
                    text = f"{rng.randint(1, 9)} + {rng.randint(1, 9)} = {rng.randint(1, 30)}"
                else:
                    text = f"The answer is {rng.randint(1, 40)}"
                comps.append(Completion(text, 5, "stop"))
            out.append(comps)
        return out


@pytest.fixture(scope="module")
def annotated_trees():
    from hiero.domains import builtin as synth
    from hiero.trees.bfs import SearchSettings, grow_bfs
    from hiero.trees.tree import new_tree

    problems = synth.generate_problems(6, seed=3)
    trees = [new_tree(p, {"mode": "bfs"}) for p in problems]
    grow_bfs(trees, _FakePolicy(problems), SearchSettings(children=5, depth=5), seed=0)
    return trees


def test_hnc_on_annotated_trees(annotated_trees):
    total = 0
    for t in annotated_trees:
        check_tree(t)
        h = hnc(t, seed=tree_seed(0, t))
        check_invariants(t, h)
        total += len(merged_node_ids(h))
        # ground truth of merged steps: true only if both parts were true
        for m in h.meta["hnc"]["merges"]:
            a, b = t.nodes[m["from"]].step_correct, t.nodes[m["node"]].step_correct
            assert h.nodes[m["node"]].step_correct == (None if None in (a, b) else a and b)
    assert total > 0


# ----------------------------------------------------------------------------- CLI / main
def test_cli_augment_hnc(tmp_path, annotated_trees):
    from hiero.cli import main as cli_main

    src, dst = tmp_path / "trees.jsonl", tmp_path / "hnc.jsonl"
    write_jsonl(src, annotated_trees)
    assert cli_main(["augment", "hnc", str(src), "-o", str(dst), "--p", "0.5", "--seed", "7"]) == 0
    out = list(read_jsonl(dst, Tree))
    assert len(out) == len(annotated_trees)
    for t, h in zip(annotated_trees, out):
        check_invariants(t, h)
        assert h.to_dict() == hnc(t, 0.5, seed=tree_seed(7, t)).to_dict()  # main == per-tree API
    summary = main(HNCConfig(input=str(src), output=str(tmp_path / "b.jsonl"), seed=7))
    assert summary["trees"] == len(annotated_trees)
    assert summary["merges"] == sum(len(merged_node_ids(h)) for h in out)


def test_cli_bad_input_no_output(tmp_path, capsys):
    from hiero.cli import main as cli_main

    src, dst = tmp_path / "trees.jsonl", tmp_path / "hnc.jsonl"
    good = json.dumps(random_tree(1).to_dict())
    src.write_text(good + "\n" + json.dumps({"problem": {"id": "x", "question": "q", "answer": "1"},
                                             "nodes": [{"id": 0, "step": "", "depth": "zero"}]}) + "\n")
    assert cli_main(["augment", "hnc", str(src), "-o", str(dst)]) == 2
    err = capsys.readouterr().err
    assert "trees.jsonl:2" in err and "nodes[0].depth" in err
    assert not dst.exists()
