"""Breadth-first tree expansion, as in the official HRM code, batched across nodes and problems.

    grow_bfs(trees, generator, settings, seed) -> generated token count

Every non-terminal node gets `children` sampled next steps (one step each: stop at "\\n"), level by
level down to `depth` levels, at temperature 0.1 by default. A node's MC score is then correct
leaves / all leaves below it (`Tree.recompute_counts`); an unfinished leaf at the depth limit counts
as wrong. Departures from the official code: it sends one request (n=5) per node; here the whole
frontier of a level, across every tree of the batch, goes out in ONE `generate` call (n=children),
which is what makes annotation fast on a local model (see benchmarks/annotate.py). The tree and its
counts are the same as per-node requests would give for a backend that samples each prompt
independently.
"""

from __future__ import annotations

from dataclasses import dataclass

from hiero.cache import derive_seed
from hiero.policy.backend import Generator
from hiero.policy.prompt import format_of
from hiero.trees.tree import StepJudge, add_judged, path_steps
from hiero.types import Tree


@dataclass
class SearchSettings:
    """The sampling settings both searches share (a view of AnnotateConfig)."""

    children: int = 5
    depth: int = 5
    temperature: float = 0.1
    top_p: float = 1.0
    step_tokens: int = 64


def grow_bfs(trees: list[Tree], gen: Generator, s: SearchSettings, seed: int) -> int:
    """Expand every tree (each holding only its root) into a full BFS tree; returns tokens generated."""
    judges = [StepJudge(t.problem) for t in trees]
    fmt = format_of(gen)
    tokens = 0
    for level in range(s.depth):
        frontier = [(ti, node.id) for ti, t in enumerate(trees) for node in t.nodes
                    if node.depth == level and not node.terminal]
        if not frontier:
            break
        prompts = [fmt.prompt(trees[ti].problem.question, path_steps(trees[ti], nid)) for ti, nid in frontier]
        outs = gen.generate(prompts, n=s.children, max_new_tokens=s.step_tokens, stop=[fmt.step_sep],
                            temperature=s.temperature, top_p=s.top_p, seed=derive_seed(seed, "bfs", level))
        for (ti, nid), comps in zip(frontier, outs, strict=True):
            for comp in comps:
                tokens += comp.n_tokens
                add_judged(trees[ti], judges[ti], nid, comp.text.strip(), comp.finish_reason, s.depth)
    for t in trees:
        t.recompute_counts()
    return tokens
