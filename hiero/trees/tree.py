"""Tree utilities the search algorithms share: growing a tree, judging a step, MC counts.

    new_tree(problem, meta)             a Tree holding only the root (the question)
    add_node(tree, parent, step, ...)   append a child node (id = len(nodes)), depth = parent + 1
    path_steps(tree, node_id)           the step texts from the first step down to `node_id`
    StepJudge(problem)                  is a step terminal, which answer, is it correct, is it true
    backup(tree, node_id, dc, dt)       add (n_correct, n_total) to a node and all its ancestors
    leaf_counts(tree, node_id)          (correct leaves, all leaves) below a node, by walking it
    check_tree(tree)                    structural checks + counts == leaf counting (ValueError)
    tree_stats(trees)                   summary figures for a set of trees

The MC score of a node is the fraction of correct leaves in its subtree (the HRM paper, arXiv 2503.13551): a
leaf is a
terminal step graded against the reference, or an unfinished step at the depth limit (wrong).
`types.Tree.recompute_counts` sets every node's counts that way; `backup` keeps them equal while
a search grows the tree, and `leaf_counts` is an independent walk the tests compare against.

A step is terminal when it states a final answer or when the model ended the text (finish_reason
"eos"); an eos without an answer is a wrong leaf. "States a final answer" needs an explicit marker
("The answer is N", "\\boxed{..}", "#### N", or the line after a "# Answer" header); the answer
is extracted with `hiero.domains.builtin.extract_answer` for the built-in domain and
`hiero.grading.extract_answer` otherwise (at eos: from the whole solution, as evaluation grades it,
so there its last-number fallback applies). A step cut by the token limit stays a step: the next
level continues from it (raise `step_tokens` for models with long steps).

Built-in-domain problems also get `step_correct`, the ground truth of the step from
`hiero.domains.builtin.check_steps` (used later to measure reward models against truth).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from hiero.domains import domain_of
from hiero.types import ROOT, Node, Problem, Tree


def new_tree(problem: Problem, meta: dict | None = None) -> Tree:
    """A tree with only the root node (id ROOT, empty step, depth 0)."""
    return Tree(problem=problem, nodes=[Node(id=ROOT, parent=None, step="", depth=0)], meta=dict(meta or {}))


def add_node(tree: Tree, parent: int, step: str, **fields) -> Node:
    """Append a child of `parent`; `fields` are further Node fields (terminal, answer, ...)."""
    node = Node(id=len(tree.nodes), parent=parent, step=step, depth=tree.nodes[parent].depth + 1, **fields)
    tree.nodes.append(node)
    tree.nodes[parent].children.append(node.id)
    return node


def path_steps(tree: Tree, node_id: int) -> list[str]:
    """Step texts from depth 1 down to `node_id` (empty for the root)."""
    return [n.step for n in tree.path(node_id)]


# ----------------------------------------------------------------------------- judging steps
@dataclass
class Verdict:
    terminal: bool
    answer: str | None
    correct: bool | None  # only for terminal steps
    step_correct: bool | None  # ground truth (built-in domain), else None


class StepJudge:
    """Judges the steps of one problem through its domain (hiero.domains): answer, grade, truth."""

    def __init__(self, problem: Problem):
        self.problem = problem
        self.domain = domain_of(problem)

    def answer_of(self, steps: list[str], finish_reason: str) -> str | None:
        """The final answer the last step states (the domain's explicit markers); when the model
        ended the text (eos), the answer of the whole solution."""
        if finish_reason == "eos":
            return self.domain.extract_answer("\n".join(steps))
        return self.domain.stated_answer(steps)

    def judge(self, steps: list[str], finish_reason: str) -> Verdict:
        """Judge the last of `steps` (the path from the first step), ended by `finish_reason`."""
        answer = self.answer_of(steps, finish_reason)
        terminal = answer is not None or finish_reason == "eos"
        correct = self.domain.is_correct(self.problem, answer) if terminal else None
        truth = self.domain.step_truth(self.problem, steps) if self.domain.checks_steps else None
        truth = bool(truth[-1]) if truth is not None else None
        return Verdict(terminal, answer, correct, truth)


def end_as_unfinished(node: Node) -> None:
    """Make `node` an unfinished leaf: it hit the depth or token limit without an answer (wrong)."""
    node.terminal, node.answer, node.correct = True, None, False


def add_judged(
    tree: Tree, judge: StepJudge, parent: int, step: str, finish_reason: str, max_depth: int
) -> Node:
    """Add a judged child; a non-terminal step at `max_depth` becomes an unfinished (wrong) leaf."""
    v = judge.judge(path_steps(tree, parent) + [step], finish_reason)
    node = add_node(tree, parent, step, terminal=v.terminal, answer=v.answer, correct=v.correct,
                    step_correct=v.step_correct)
    if not node.terminal and node.depth >= max_depth:
        end_as_unfinished(node)
    return node


def leaf_value(node: Node) -> tuple[int, int]:
    """(n_correct, n_total) of a leaf: one leaf, correct only if graded correct."""
    return int(node.correct is True), 1


# ----------------------------------------------------------------------------- MC counts
def backup(tree: Tree, node_id: int, d_correct: int, d_total: int) -> None:
    """Add (d_correct, d_total) to `node_id` and every ancestor (the MCTS backup phase)."""
    nid: int | None = node_id
    while nid is not None:
        node = tree.nodes[nid]
        node.n_correct += d_correct
        node.n_total += d_total
        nid = node.parent


def leaf_counts(tree: Tree, node_id: int = ROOT) -> tuple[int, int]:
    """(correct leaves, all leaves) in the subtree of `node_id`, by an explicit walk."""
    correct = total = 0
    stack = [node_id]
    while stack:
        node = tree.nodes[stack.pop()]
        if node.children:
            stack.extend(node.children)
        elif node.id != ROOT:
            c, t = leaf_value(node)
            correct, total = correct + c, total + t
    return correct, total


def check_tree(tree: Tree) -> None:
    """Raise ValueError if links, depths or counts are inconsistent (counts must equal leaf counting)."""
    for node in tree.nodes:
        for c in node.children:
            if not 0 < c < len(tree.nodes) or tree.nodes[c].parent != node.id:
                raise ValueError(
                    f"tree {tree.problem.id}: node {node.id} lists child {c} whose parent differs"
                )
            if tree.nodes[c].depth != node.depth + 1:
                raise ValueError(
                    f"tree {tree.problem.id}: node {c} depth {tree.nodes[c].depth} != parent + 1"
                )
        if node.id != ROOT and node.id not in tree.nodes[node.parent].children:
            raise ValueError(f"tree {tree.problem.id}: node {node.id} missing from its parent's children")
        if (node.n_correct, node.n_total) != leaf_counts(tree, node.id):
            raise ValueError(f"tree {tree.problem.id}: node {node.id} counts {node.n_correct}/{node.n_total} "
                             f"!= leaf counting {leaf_counts(tree, node.id)}")


def tree_stats(trees: Iterable[Tree]) -> dict:
    """Figures for a set of trees: sizes, root MC, and (built-in domain) how MC tracks the truth."""
    n_trees = n_nodes = n_leaves = n_correct_leaves = n_any_correct = 0
    root_mc = []
    # truth vs MC on non-root nodes with ground truth: mean MC of true steps vs of false steps
    mc_true, mc_false = [], []
    for tree in trees:
        n_trees += 1
        n_nodes += len(tree.nodes) - 1
        leaves = tree.leaves()
        n_leaves += len(leaves)
        n_correct_leaves += sum(leaf.correct is True for leaf in leaves)
        n_any_correct += any(leaf.correct is True for leaf in leaves)
        root_mc.append(tree.root.mc_score)
        for node in tree.nodes[1:]:
            if node.step_correct is True:
                mc_true.append(node.mc_score)
            elif node.step_correct is False:
                mc_false.append(node.mc_score)

    def mean(xs):
        return round(sum(xs) / len(xs), 4) if xs else None

    return {
        "trees": n_trees, "nodes": n_nodes, "leaves": n_leaves,
        "leaf_accuracy": round(n_correct_leaves / n_leaves, 4) if n_leaves else None,
        "mean_root_mc": mean(root_mc),
        "solved_fraction": round(n_any_correct / n_trees, 4) if n_trees else None,
        "mean_mc_true_steps": mean(mc_true), "mean_mc_false_steps": mean(mc_false),
        "true_steps": len(mc_true), "false_steps": len(mc_false),
    }
