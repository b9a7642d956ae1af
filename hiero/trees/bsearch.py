"""OmegaPRM-style annotation: sample full solutions, binary-search the first error of each wrong one.

    grow_bsearch(trees, generator, settings, seed) -> generated token count

For every tree of the batch at once:
    sample   `samples` full solutions from the question: ONE generate call;
    search   for each wrong solution s_1..s_m, binary-search its first error: with lo = the last
             step known to reach the right answer (some completion through it is correct) and
             hi = the leaf, check the middle step with `rollouts` full completions from it (ONE
             generate call per round for every pending check of every tree); a correct
             completion moves lo up, none moves hi down, until hi = lo + 1: step hi is the first
             step from which the policy no longer reaches the answer.
All completions are stored in the tree as a prefix tree: a completion walks down existing
non-terminal nodes with the same step text and adds new nodes below, always ending in a new leaf
of its own. So every completion is exactly one leaf, a node's (n_correct, n_total) is leaf
counting over every completion through it (what `Tree.recompute_counts` gives), and knowledge is
shared: a prefix that some other completion already solved needs no check.

Labels this gives (see `hiero.reward.rows`, `--hard-label any-correct`): a step is good iff some
completion through it reached the right answer (Math-Shepherd's "hard estimation", OmegaPRM's
MC > 0). On the sampled solutions this is exactly the binary-search first error: steps before it
are good, it and every later step are not. The tree records the sampled solutions' leaf ids in
`meta["solutions"]`, so the rows builder can label whole solutions (`--nodes solutions`).

Cost: `samples` completions plus about log2(steps) x `rollouts` per wrong solution, against
children^depth step generations for a full bfs tree: the same budget annotates far more problems.

Departures from OmegaPRM (arXiv 2406.06592): no MCTS over rollouts (their selection by a
length-penalised value, alpha 0.5 / beta 0.9), only the binary search it uses to locate errors;
a problem none of whose samples is right gets no search (its steps stay MC 0: the policy does not
solve it), as OmegaPRM skips questions it cannot solve.
"""

from __future__ import annotations

from dataclasses import dataclass

from hiero.cache import derive_seed
from hiero.policy.backend import Generator
from hiero.policy.prompt import RAW, PromptFormat, format_of
from hiero.trees.bfs import SearchSettings
from hiero.trees.tree import StepJudge, add_node, end_as_unfinished, path_steps
from hiero.types import ROOT, Tree


@dataclass
class BSearchSettings(SearchSettings):
    samples: int = 8  # full solutions sampled per problem
    rollouts: int = 4  # completions per checked step (OmegaPRM: k)


def hang_completion(tree: Tree, judge: StepJudge, start: int, text: str, finish_reason: str,
                    max_depth: int, fmt: PromptFormat = RAW) -> int:
    """Add one completion below node `start` as a path of steps; returns its (new) leaf id.

    Steps are judged one by one; the path ends at the first terminal step (an answer, or the model's
    end of text), or as an unfinished (wrong) leaf at `max_depth` or when the text runs out without
    an answer. Existing non-terminal nodes with the same step text are reused, the leaf never is.
    """
    steps = fmt.split(text)
    node_id, prefix = start, path_steps(tree, start)
    if not steps:  # ended at once: an empty, wrong leaf still counts the outcome
        return add_node(tree, start, "", terminal=True, answer=None, correct=False).id
    for i, step in enumerate(steps):
        prefix = prefix + [step]
        reason = finish_reason if i == len(steps) - 1 and finish_reason == "eos" else "stop"
        v = judge.judge(prefix, reason)
        depth = tree.nodes[node_id].depth + 1
        last = v.terminal or depth >= max_depth or i == len(steps) - 1
        if not last:
            same = next((c for c in tree.nodes[node_id].children
                         if tree.nodes[c].step == step and not tree.nodes[c].terminal), None)
            if same is not None:
                node_id = same
                continue
        node = add_node(tree, node_id, step, terminal=v.terminal, answer=v.answer, correct=v.correct,
                        step_correct=v.step_correct)
        node_id = node.id
        if last:
            if not node.terminal:
                end_as_unfinished(node)
            return node_id
    raise AssertionError("unreachable: the last step always ends the path")


def _subtree_solved(tree: Tree, node_id: int) -> bool:
    """Does some completion through `node_id` reach the right answer? (walks the subtree)"""
    stack = [node_id]
    while stack:
        node = tree.nodes[stack.pop()]
        if not node.children and node.correct is True:
            return True
        stack.extend(node.children)
    return False


class _FirstError:
    """Binary-search state of one wrong sampled solution: spine = node ids root..leaf."""

    def __init__(self, tree: Tree, leaf: int):
        self.tree = tree
        self.spine = [ROOT] + [n.id for n in tree.path(leaf)]
        self.lo, self.hi = 0, len(self.spine) - 1  # lo: known to reach the answer; hi: known not to
        self.checked: set[int] = set()

    def next_check(self) -> int | None:
        """The spine node to check next, or None when the first error is found."""
        while self.hi - self.lo > 1:
            # knowledge from other completions: move lo up past solved prefixes, hi down past checked ones
            solved = [i for i in range(self.lo + 1, self.hi) if _subtree_solved(self.tree, self.spine[i])]
            if solved:
                self.lo = max(solved)
                continue
            mid = (self.lo + self.hi) // 2
            if self.spine[mid] in self.checked:
                self.hi = mid  # checked, and (see above) still unsolved
                continue
            return self.spine[mid]
        return None


def grow_bsearch(trees: list[Tree], gen: Generator, s: BSearchSettings, seed: int) -> int:
    """Sample solutions for every tree, then binary-search each wrong one's first error."""
    if s.samples < 1 or s.rollouts < 1:
        raise ValueError(f"bsearch needs samples >= 1 and rollouts >= 1, got {s.samples}, {s.rollouts}")
    judges = [StepJudge(t.problem) for t in trees]
    budget = s.step_tokens * s.depth
    fmt = format_of(gen)
    tokens = 0
    outs = gen.generate(
        [fmt.prompt(t.problem.question) for t in trees],
        n=s.samples,
        max_new_tokens=budget,
        stop=None,
        temperature=s.temperature,
        top_p=s.top_p,
        seed=derive_seed(seed, "bsearch", "sample"),
    )
    searches: list[tuple[int, _FirstError]] = []
    for ti, (tree, comps) in enumerate(zip(trees, outs, strict=True)):
        leaves = []
        for comp in comps:
            tokens += comp.n_tokens
            leaves.append(
                hang_completion(tree, judges[ti], ROOT, comp.text, comp.finish_reason, s.depth, fmt)
            )
        tree.meta["solutions"] = leaves
        if any(tree.nodes[leaf].correct is True for leaf in leaves):  # unsolved problems get no search
            searches += [
                (ti, _FirstError(tree, leaf)) for leaf in leaves if tree.nodes[leaf].correct is not True
            ]
    rnd = 0
    while True:
        pending: dict[tuple[int, int], list[_FirstError]] = {}
        for ti, fe in searches:
            nid = fe.next_check()
            if nid is not None:
                pending.setdefault((ti, nid), []).append(fe)
        if not pending:
            break
        keys = list(pending)
        prompts = [fmt.prompt(trees[ti].problem.question, path_steps(trees[ti], nid)) for ti, nid in keys]
        budgets = [s.step_tokens * max(1, s.depth - trees[ti].nodes[nid].depth) for ti, nid in keys]
        outs = gen.generate(
            prompts,
            n=s.rollouts,
            max_new_tokens=max(budgets),
            stop=None,
            temperature=s.temperature,
            top_p=s.top_p,
            seed=derive_seed(seed, "bsearch", "check", rnd),
        )
        for (ti, nid), comps in zip(keys, outs, strict=True):
            for comp in comps:
                tokens += comp.n_tokens
                hang_completion(trees[ti], judges[ti], nid, comp.text, comp.finish_reason, s.depth, fmt)
            for fe in pending[(ti, nid)]:
                fe.checked.add(nid)
        rnd += 1
    for tree in trees:
        tree.recompute_counts()
        tree.meta["first_errors"] = [_first_unsolved(tree, leaf) for leaf in tree.meta["solutions"]]
    return tokens


def _first_unsolved(tree: Tree, leaf: int) -> int:
    """0-based index of the first step of the solution ending at `leaf` with no correct completion
    through it, -1 if every step has one (the solution's MC first error)."""
    for i, node in enumerate(tree.path(leaf)):
        if node.n_correct == 0:
            return i
    return -1
