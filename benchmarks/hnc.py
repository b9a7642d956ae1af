"""HNC throughput: 1,000 trees of 5 children x depth 4 (781 nodes each) on one core; goal <= 5 s.

    python benchmarks/hnc.py [--trees 1000 --children 5 --depth 4 --repeats 3] [--out runs/bench/hnc.json]

in-memory   `hiero.augment.hnc.hnc` on trees already in memory (copy + compress + exact leaf
            recount), best of --repeats; wall time and process CPU time (the CPU figure is what one
            core spends even when other jobs share the machine)
end-to-end  `hiero augment hnc` as `main(HNCConfig)`: read the JSONL, validate every node, compress,
            write atomically (JSON parsing dominates)
Trees are synthetic full trees (every leaf at depth `depth`, 40% of leaves correct), the shape of
the official BFS annotation. `ratio` = goal seconds / in-memory seconds (>= 1 meets the goal).
`run(args)` is what benchmarks/run_all.py calls.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

from hiero.augment.hnc import HNCConfig, hnc, main, merged_node_ids
from hiero.data.io import write_json, write_jsonl
from hiero.types import Node, Problem, Tree

GOAL_S = 5.0


def full_tree(k: int, depth: int, seed: int) -> Tree:
    rng = random.Random(seed)
    nodes = [Node(id=0, parent=None, step="", depth=0)]
    level = [0]
    for d in range(1, depth + 1):
        nxt = []
        for pid in level:
            for j in range(k):
                n = Node(id=len(nodes), parent=pid, step=f"{rng.randint(1, 9)} + {j} = {rng.randint(1, 20)}", depth=d)
                nodes.append(n)
                nodes[pid].children.append(n.id)
                nxt.append(n.id)
        level = nxt
    for nid in level:
        leaf = nodes[nid]
        leaf.terminal, leaf.answer, leaf.correct = True, "7", rng.random() < 0.4
    t = Tree(problem=Problem(id=f"bench-{seed}", question="q", answer="7", source="synth"), nodes=nodes)
    t.recompute_counts()
    return t


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trees", type=int, default=1000)
    ap.add_argument("--children", type=int, default=5)
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=3, help="in-memory timing: best of this many runs")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="runs/bench/hnc.json")
    return ap


def run(args) -> dict:
    trees = [full_tree(args.children, args.depth, args.seed + i) for i in range(args.trees)]
    walls, cpus, merges = [], [], 0
    for r in range(args.repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        outs = [hnc(t, seed=args.seed + r * args.trees + i) for i, t in enumerate(trees)]
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
        merges = sum(len(merged_node_ids(o)) for o in outs)
        del outs
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "trees.jsonl", Path(tmp) / "hnc.jsonl"
        write_jsonl(src, trees)
        w0, c0 = time.perf_counter(), time.process_time()
        summary = main(HNCConfig(input=str(src), output=str(dst), seed=args.seed))
        e2e_wall, e2e_cpu = time.perf_counter() - w0, time.process_time() - c0
        size_mb = src.stat().st_size / 1e6
    best = min(walls)
    res = {
        "trees": args.trees, "nodes_per_tree": len(trees[0].nodes), "merges_last_run": merges,
        "in_memory_wall_s": round(best, 3), "in_memory_cpu_s": round(min(cpus), 3),
        "in_memory_runs_wall_s": [round(x, 3) for x in walls],
        "trees_per_s": round(args.trees / best, 1),
        "end_to_end_wall_s": round(e2e_wall, 3), "end_to_end_cpu_s": round(e2e_cpu, 3),
        "end_to_end_merges": summary["merges"], "input_mb": round(size_mb, 1),
        "goal": f"<= {GOAL_S:.0f} s for 1000 trees (in memory)", "goal_s": GOAL_S,
        "ratio": round(GOAL_S / best * args.trees / 1000, 2),
        "metric": f"{args.trees} trees x {len(trees[0].nodes)} nodes: {best:.2f} s in memory "
                  f"({min(cpus):.2f} s CPU), {e2e_wall:.2f} s JSONL end-to-end",
    }
    write_json(args.out, res)
    return res


if __name__ == "__main__":
    print(json.dumps(run(build_parser().parse_args()), indent=2))
