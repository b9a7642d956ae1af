"""HNC, Hierarchical Node Compression: the HRM paper's tree augmentation (official `split_node`).

    hiero augment hnc TREES.jsonl -o TREES_HNC.jsonl [--p 0.5 --min-children 4 --min-depth 2 --seed 0]
    python: hnc(tree, p=0.5, min_children=4, min_depth=2, seed=0) -> new Tree (the input is untouched)
            main(HNCConfig(input=..., output=...)) -> {"trees", "merges", "nodes", "time_s", ...}

Algorithm (the HRM paper, arXiv 2503.13551, and the official `split_node` read line by line). Breadth-first
from the
root; for each node v with >= `min_children` children that was not itself moved in this pass, its
children c are tried in order: a child with depth >= `min_depth` is merged with probability `p`
(one coin per tried child, stop at the first success, so at most one child of v moves):

    c.step   <- v.step ⊕ c.step          (⊕ = MERGE_JOINER)
    c.parent <- v.parent                 (c is appended to its grandparent's children, subtree and all)
    c.depth  <- c.depth - 1              (and every node below c: the subtree moves up one level)

A moved node is not moved again, and its own children are never merged into it (the official check
`child.parent.visited`), so a step is merged at most once per pass. Afterwards (n_correct, n_total)
are recomputed exactly: `recount="leaves"` re-counts every node from its leaves (the paper; the
same result as `Tree.recompute_counts`, in one pass without its sort); `recount="delta"` subtracts the moved
subtree's counts from
its old parent only, the one node whose leaf set changes (the same result on leaf-counted trees,
and it keeps counts that are not leaf counts, e.g. from an external MCTS, consistent). The merged
node keeps its subtree's counts, so its MC score is the score of the deeper step; the old parent's
score is now estimated from one branch fewer: the "controlled noise" of the paper.

Node ids are kept (`nodes[i].id == i`): a move only relinks parent / children and shifts depths.
The output tree records its merges in `tree.meta["hnc"]`:
    {"joiner": "\\n", "passes": [{"p", "min_children", "min_depth", "seed", "recount"}],
     "merges": [{"node": id, "from": old parent id, "to": new parent id, "pass": k}]}
`merged_node_ids(tree)` reads them back (the rows builder marks those steps as merged).

Departures from the official code (default here = paper intent; none of them changes counts):
- Depth of the moved subtree. Official: only the moved node's `height` drops by one; its
  descendants keep their old height and their old, unmerged `previous_answer` lists, so their
  training rows are byte-identical to the uncompressed tree's rows and vanish in the set union.
  Here the whole subtree moves up one level and a descendant's prefix contains the merged step
  (the paper: "re-attached to the grandparent with its subtree"), so it can yield new rows. Not
  offered as a preset: the official behaviour is equivalent to not sampling those descendants.
- Joiner. Official tree steps are raw "# Step k ..." blocks concatenated with "" (each block
  carries its own newlines); its PRM800K builder joins with "\\n\\n". Our steps are single lines
  without separators, so ⊕ is the policy's step separator "\\n" (`hiero.policy.prompt.STEP_SEP`):
  a merged step reads exactly like the two steps, only the step boundary between them is gone.
- Randomness. Official: Python's global `random`, one stream over all trees. Here each tree gets
  its own stream seeded from (seed, problem id), so a tree's compression does not depend on the
  file order and `hiero rm data --kind hrm` reproduces `hiero augment hnc` exactly.
- `step_correct` (ground truth, built-in domain only) of a merged step is the AND of both parts.
"""

from __future__ import annotations

import copy
import logging
import random
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

from tqdm.auto import tqdm

from hiero.cache import derive_seed
from hiero.data.io import DataError, read_jsonl, write_jsonl
from hiero.policy.prompt import STEP_SEP
from hiero.types import ROOT, Node, Tree

log = logging.getLogger(__name__)

MERGE_JOINER = STEP_SEP
"""⊕: the text between the two parts of a merged step s_i ⊕ s_{i+1} (one definition for HNC and rows)."""


def merge_steps(first: str, second: str) -> str:
    """s_i ⊕ s_{i+1}.

    >>> merge_steps("2 + 3 = 5", "5 * 2 = 10")
    '2 + 3 = 5\\n5 * 2 = 10'
    """
    return first + MERGE_JOINER + second


def _and(a: bool | None, b: bool | None) -> bool | None:
    """Truth of a merged step: False if either part is false, None if either is unknown."""
    if a is False or b is False:
        return False
    if a is None or b is None:
        return None
    return True


def _copy_nodes(nodes: list[Node]) -> list[Node]:
    """Independent copies of the nodes (children lists copied); ~5x faster than copy.copy."""
    out = []
    new = object.__new__
    for n in nodes:
        c = new(Node)
        d = n.__dict__.copy()
        d["children"] = n.children[:]
        c.__dict__ = d
        out.append(c)
    return out


def check_params(p: float, min_children: int, min_depth: int, recount: str = "leaves") -> None:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"hnc: p must be in [0, 1], got {p}")
    # a node must keep at least one child, or it would turn into a (wrong) leaf and change counts
    if min_children < 2:
        raise ValueError(f"hnc: min_children must be >= 2, got {min_children}")
    # depth 1 would merge a first step into the root, which has no step and no parent
    if min_depth < 2:
        raise ValueError(f"hnc: min_depth must be >= 2, got {min_depth}")
    if recount not in ("leaves", "delta"):
        raise ValueError(f"hnc: recount must be 'leaves' or 'delta', got {recount!r}")


def hnc(tree: Tree, p: float = 0.5, min_children: int = 4, min_depth: int = 2, seed: int = 0, *,
        rng: random.Random | None = None, recount: Literal["leaves", "delta"] = "leaves") -> Tree:
    """A compressed copy of `tree` (see the module docstring); `rng` overrides `seed`."""
    check_params(p, min_children, min_depth, recount)
    rand = (rng or random.Random(seed)).random
    nodes = _copy_nodes(tree.nodes)
    moved = bytearray(len(nodes))  # 1: re-attached to its grandparent in this pass
    info = copy.deepcopy(tree.meta.get("hnc")) or {"joiner": MERGE_JOINER, "passes": [], "merges": []}
    if info.get("joiner", MERGE_JOINER) != MERGE_JOINER:
        raise ValueError(f"hnc: tree {tree.problem.id} was compressed with joiner {info['joiner']!r}, "
                         f"this build joins with {MERGE_JOINER!r}")
    pass_no = len(info["passes"])
    merges = info["merges"]
    queue = deque([ROOT])
    order = []  # BFS pop order: every node after its (old and new) parent
    while queue:
        v = nodes[queue.popleft()]
        order.append(v)
        kids = v.children
        queue.extend(kids)  # the moved child is still visited at its old level, as in the official BFS
        if len(kids) < min_children or moved[v.id] or v.parent is None:
            continue
        for cid in kids:
            c = nodes[cid]
            if c.depth >= min_depth and rand() < p:
                g = nodes[v.parent]
                c.step = v.step + MERGE_JOINER + c.step
                c.step_correct = _and(v.step_correct, c.step_correct)
                c.parent = g.id
                kids.remove(cid)  # safe: the loop ends right here
                g.children.append(cid)
                stack = [cid]
                while stack:  # the whole subtree moves up one level
                    n = nodes[stack.pop()]
                    n.depth -= 1
                    stack.extend(n.children)
                if recount == "delta":
                    v.n_correct -= c.n_correct
                    v.n_total -= c.n_total
                moved[cid] = 1
                merges.append({"node": cid, "from": v.id, "to": g.id, "pass": pass_no})
                break
    info["passes"].append({"p": p, "min_children": min_children, "min_depth": min_depth,
                           "seed": seed if rng is None else "rng", "recount": recount})
    meta = copy.deepcopy(tree.meta)
    meta["hnc"] = info
    out = Tree(problem=copy.copy(tree.problem), nodes=nodes, meta=meta)
    if recount == "leaves":
        _recount_leaves(order, len(nodes))
    return out


def _recount_leaves(order: list[Node], n: int) -> None:
    """`Tree.recompute_counts` in one linear pass (children before parents, no sort): a leaf counts
    1, correct iff `correct is True`; an inner node sums its children. Tests check the equality."""
    correct = [0] * n
    total = [0] * n
    for node in reversed(order):
        if node.children:
            c, t = correct[node.id], total[node.id]
        elif node.parent is not None:
            c, t = int(node.correct is True), 1
        else:
            c, t = 0, 0  # a root without children
        node.n_correct, node.n_total = c, t
        if node.parent is not None:
            correct[node.parent] += c
            total[node.parent] += t


def merged_node_ids(tree: Tree) -> set[int]:
    """Ids of nodes whose step is a merged step (from every HNC pass recorded in the tree's meta)."""
    info = tree.meta.get("hnc")
    return {m["node"] for m in info["merges"]} if info else set()


def merges_in_last_pass(tree: Tree) -> int:
    """How many steps the most recent HNC pass merged (0 for an uncompressed tree)."""
    info = tree.meta.get("hnc")
    if not info or not info["passes"]:
        return 0
    last = len(info["passes"]) - 1
    return sum(m["pass"] == last for m in info["merges"])


def tree_seed(seed: int, tree: Tree) -> int:
    """The per-tree HNC seed used by the CLI and by `hiero rm data --kind hrm` (same seed, same tree)."""
    return derive_seed(seed, "hnc", tree.problem.id)


# ----------------------------------------------------------------------------- CLI entry
@dataclass
class HNCConfig:
    """Settings of `hiero augment hnc`."""

    input: str = field(
        default="", metadata={"help": "trees JSONL (hiero.types.Tree rows, e.g. from annotate)"}
    )
    output: str = field(default="", metadata={"help": "compressed trees JSONL (written atomically)"})
    p: float = field(default=0.5, metadata={"help": "merge probability per tried child (official 0.5)"})
    min_children: int = field(default=4, metadata={"help": "only nodes with at least this many children "
                                                           "give up a child (official 4)"})
    min_depth: int = field(default=2, metadata={"help": "only children at this depth or deeper move up "
                                                        "(official 2)"})
    seed: int = field(
        default=0, metadata={"help": "seed; each tree uses derive_seed(seed, 'hnc', problem id)"}
    )
    recount: Literal["leaves", "delta"] = field(default="leaves", metadata={
        "help": "leaves: recount every node from its leaves (paper); delta: adjust only the old parents"})


def main(cfg: HNCConfig) -> dict:
    """Compress every tree of `cfg.input` into `cfg.output`; returns counts and timing."""
    if not cfg.input or not cfg.output:
        raise ValueError("augment hnc: an input trees file and -o OUTPUT are required")
    check_params(cfg.p, cfg.min_children, cfg.min_depth, cfg.recount)
    stats = {"trees": 0, "nodes": 0, "merges": 0, "trees_with_merges": 0}
    t0 = time.perf_counter()

    def compressed():
        for tree in tqdm(read_jsonl(cfg.input, Tree), desc="hnc", unit="tree", mininterval=1.0):
            out = hnc(tree, cfg.p, cfg.min_children, cfg.min_depth, seed=tree_seed(cfg.seed, tree),
                      recount=cfg.recount)
            n = merges_in_last_pass(out)
            stats["trees"] += 1
            stats["nodes"] += len(out.nodes) - 1
            stats["merges"] += n
            stats["trees_with_merges"] += n > 0
            yield out
        if stats["trees"] == 0:  # raised inside the atomic write: no output file is left
            raise DataError(cfg.input, None, "no trees in the file (give a trees JSONL from hiero annotate)")

    write_jsonl(cfg.output, compressed())  # atomic: bad input leaves no partial output
    dt = time.perf_counter() - t0
    summary = {**stats, "time_s": round(dt, 3), "trees_per_s": round(stats["trees"] / dt, 1) if dt else None,
               "output": cfg.output}
    log.info("hnc: %d trees, %d merges in %.2fs -> %s", stats["trees"], stats["merges"], dt, cfg.output)
    return summary
