"""Monte-Carlo tree search with PUCT selection and rollouts, batched across problems.

    grow_mcts(trees, generator, settings, seed) -> generated token count

One round, for every tree of the batch at once:
    select   from the root, follow the child maximising PUCT
                 Q(w) + c_puct * P(w) * sqrt(N(v)) / (1 + N(w)),   Q = n_correct/n_total, N = n_total,
             with a uniform prior P = 1/#children, down to a search leaf that can still grow;
    expand   sample `children` next steps of every selected leaf: ONE generate call (stop "\\n");
    simulate `rollouts` full completions of every new non-terminal child: ONE generate call;
    backup   add each new child's (n_correct, n_total) to all its ancestors.
Rounds repeat `simulations` times or until no tree can grow (every branch terminal or at depth).

Rollouts are stored in the tree: each completion is split into steps and hung below the new child
as a chain of nodes (ids listed in `tree.meta["rollout_nodes"]`), cut at the first step that states
an answer, or at the depth limit (an unfinished, wrong leaf). So a node's MC counts are exactly
leaf counting on the stored tree (the standard Math-Shepherd / OmegaPRM MC label: correct rollouts
/ all rollouts through the node), every stored node is a real single step with its own counts, and
`Tree.recompute_counts` leaves them unchanged (the property the tests check). Rollout-chain nodes
are never selected or expanded; a completion that ends (eos) without any step gets an empty
terminal leaf so that its wrong outcome is still counted.

Departures: the HRM paper cites OmegaPRM (c_puct 0.125, alpha 0.5, beta 0.9, k=16) — that method
selects rollouts by a length-penalised value and binary-searches the first error; this module is
plain PUCT-MCTS (defaults c_puct 0.125, k from the config) and leaves binary search out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hiero.cache import derive_seed
from hiero.policy.backend import Generator
from hiero.policy.prompt import RAW, PromptFormat, format_of
from hiero.trees.bfs import SearchSettings
from hiero.trees.tree import (
    StepJudge,
    add_judged,
    add_node,
    backup,
    end_as_unfinished,
    leaf_value,
    path_steps,
)
from hiero.types import ROOT, Node, Tree


@dataclass
class MCTSSettings(SearchSettings):
    c_puct: float = 0.125
    rollouts: int = 4
    simulations: int = 8


class _Search:
    """Per-tree search state: which nodes belong to the search tree, which can no longer grow."""

    def __init__(self, tree: Tree, max_depth: int, fmt: PromptFormat = RAW):
        self.tree = tree
        self.judge = StepJudge(tree.problem)
        self.max_depth = max_depth
        self.fmt = fmt
        self.expanded_kids: dict[int, list[int]] = {ROOT: []}  # search node -> its search children
        self.done: set[int] = set()  # search nodes that cannot grow any more
        self.rollout_nodes: list[int] = []

    def can_grow(self, node: Node) -> bool:
        return not node.terminal and node.depth < self.max_depth

    def puct(self, parent: Node, kid: Node, n_kids: int, c_puct: float) -> float:
        q = kid.mc_score
        return q + c_puct * (1.0 / n_kids) * math.sqrt(parent.n_total) / (1 + kid.n_total)

    def select(self, c_puct: float) -> int | None:
        """The search leaf to expand next, or None when the whole tree is done."""
        while ROOT not in self.done:
            nid = ROOT
            while True:
                kids = [k for k in self.expanded_kids[nid] if k not in self.done]
                if not self.expanded_kids[nid]:  # not expanded yet: grow here
                    return nid
                if not kids:  # every branch below is finished
                    self.done.add(nid)
                    break
                parent = self.tree.nodes[nid]
                nid = max(kids, key=lambda k: (self.puct(parent, self.tree.nodes[k], len(kids), c_puct), -k))
        return None

    def add_search_child(self, parent: int, text: str, finish_reason: str) -> Node:
        node = add_judged(self.tree, self.judge, parent, text, finish_reason, self.max_depth)
        self.expanded_kids[parent].append(node.id)
        self.expanded_kids[node.id] = []
        if not self.can_grow(node):
            self.done.add(node.id)
        return node

    def add_rollout(self, start: int, text: str, finish_reason: str) -> tuple[int, int]:
        """Hang a completion below `start` as a chain of steps; returns the leaf's (correct, total)."""
        steps = self.fmt.split(text)
        parent = start
        if not steps:  # ended at once: count the outcome with an empty leaf
            node = add_node(self.tree, parent, "", terminal=True, answer=None, correct=False)
            self.rollout_nodes.append(node.id)
            return leaf_value(node)
        for i, step in enumerate(steps):
            last = i == len(steps) - 1
            # only the completion's final step can carry its finish reason; "length" is handled below
            reason = finish_reason if last and finish_reason == "eos" else "stop"
            node = add_judged(self.tree, self.judge, parent, step, reason, self.max_depth)
            self.rollout_nodes.append(node.id)
            if node.terminal:
                return leaf_value(node)
            parent = node.id
        end_as_unfinished(node)  # ran out of tokens mid-solution
        return leaf_value(node)


def grow_mcts(trees: list[Tree], gen: Generator, s: MCTSSettings, seed: int) -> int:
    """Run `s.simulations` batched MCTS rounds on every tree; returns tokens generated."""
    if s.rollouts < 1:
        raise ValueError(f"mcts needs rollouts >= 1, got {s.rollouts}")
    fmt = format_of(gen)
    searches = [_Search(t, s.depth, fmt) for t in trees]
    tokens = 0
    for rnd in range(s.simulations):
        selected = [(srch, nid) for srch in searches if (nid := srch.select(s.c_puct)) is not None]
        if not selected:
            break
        # expand: one call for every selected leaf of every tree
        prompts = [
            fmt.prompt(srch.tree.problem.question, path_steps(srch.tree, nid)) for srch, nid in selected
        ]
        outs = gen.generate(prompts, n=s.children, max_new_tokens=s.step_tokens, stop=[fmt.step_sep],
                            temperature=s.temperature, top_p=s.top_p, seed=derive_seed(seed, "expand", rnd))
        fresh: list[tuple[_Search, Node]] = []
        for (srch, nid), comps in zip(selected, outs, strict=True):
            for comp in comps:
                tokens += comp.n_tokens
                node = srch.add_search_child(nid, comp.text.strip(), comp.finish_reason)
                if srch.can_grow(node):
                    fresh.append((srch, node))
                else:  # terminal or at the depth limit: the child is its own leaf
                    node.n_correct, node.n_total = leaf_value(node)
                    backup(srch.tree, nid, node.n_correct, node.n_total)
        if not fresh:
            continue
        # simulate: one call for every rollout of every new child; a rollout may write at most
        # the steps left before the depth limit
        prompts = [
            fmt.prompt(srch.tree.problem.question, path_steps(srch.tree, node.id)) for srch, node in fresh
        ]
        budget = s.step_tokens * max(s.depth - min(node.depth for _, node in fresh), 1)
        outs = gen.generate(prompts, n=s.rollouts, max_new_tokens=budget, stop=None,
                            temperature=s.temperature, top_p=s.top_p, seed=derive_seed(seed, "rollout", rnd))
        for (srch, node), comps in zip(fresh, outs, strict=True):
            correct = total = 0
            for comp in comps:
                tokens += comp.n_tokens
                c, t = srch.add_rollout(node.id, comp.text, comp.finish_reason)
                correct, total = correct + c, total + t
            # the rollout chains' own nodes: every one lies on exactly one chain
            _count_chains(srch.tree, node.id)
            backup(srch.tree, srch.tree.nodes[node.id].parent, correct, total)
    for srch in searches:
        srch.tree.meta["rollout_nodes"] = srch.rollout_nodes
    return tokens


def _count_chains(tree: Tree, node_id: int) -> None:
    """Set counts of `node_id` and its (rollout-only, freshly added) subtree by leaf counting."""
    order = []
    stack = [node_id]
    while stack:
        nid = stack.pop()
        order.append(nid)
        stack.extend(tree.nodes[nid].children)
    for nid in reversed(order):  # children before parents
        node = tree.nodes[nid]
        if node.children:
            node.n_correct = sum(tree.nodes[c].n_correct for c in node.children)
            node.n_total = sum(tree.nodes[c].n_total for c in node.children)
        else:
            node.n_correct, node.n_total = leaf_value(node)
