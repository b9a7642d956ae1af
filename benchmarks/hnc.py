"""HNC throughput: 1,000 trees of 5 children x depth 4 (781 nodes each) on one core; goal <= 5 s.
Also HNC + HRM row building (what `hiero rm data --kind hrm` does per tree) in trees/s.

    python benchmarks/hnc.py [--trees 1000 --children 5 --depth 4 --repeats 5 --row-trees 100] [--out FILE]

in-memory   `hiero.augment.hnc.hnc` on trees already in memory (copy + compress + exact leaf
            recount): median of --repeats runs after one warm-up run (best run reported too);
            wall time and process CPU time (the CPU figure is what one core spends even when
            other jobs share the machine)
hrm rows    `hiero.reward.rows.rows_from_tree` with kind hrm on the first --row-trees trees: PRM
            rows of the (depth, MC) buckets + merged-pair rows, from the tree and from its HNC copy
            (an HNC pass per tree included); median trees/s and rows/s of --repeats runs after a
            warm-up
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
import statistics
import tempfile
import time
from pathlib import Path

from hiero.augment.hnc import HNCConfig, hnc, main, merged_node_ids
from hiero.data.io import write_json, write_jsonl
from hiero.reward.rows import RowsConfig, rows_from_tree
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
                n = Node(
                    id=len(nodes),
                    parent=pid,
                    step=f"{rng.randint(1, 9)} + {j} = {rng.randint(1, 20)}",
                    depth=d,
                )
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
    ap.add_argument("--repeats", type=int, default=5, help="timed runs (median), after one warm-up run")
    ap.add_argument("--row-trees", type=int, default=100, help="trees for the HNC + HRM rows timing")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="runs/bench/hnc.json")
    return ap


def run(args) -> dict:
    trees = [full_tree(args.children, args.depth, args.seed + i) for i in range(args.trees)]
    walls, cpus, merges = [], [], 0
    for r in range(args.repeats + 1):  # run 0 is the warm-up
        w0, c0 = time.perf_counter(), time.process_time()
        outs = [hnc(t, seed=args.seed + r * args.trees + i) for i, t in enumerate(trees)]
        if r:
            walls.append(time.perf_counter() - w0)
            cpus.append(time.process_time() - c0)
        merges = sum(len(merged_node_ids(o)) for o in outs)
        del outs
    row_walls, n_rows = [], 0
    row_cfg = RowsConfig(kind="hrm", seed=args.seed)
    for r in range(args.repeats + 1):
        w0 = time.perf_counter()
        n_rows = sum(len(rows_from_tree(t, row_cfg, {})) for t in trees[:args.row_trees])
        if r:
            row_walls.append(time.perf_counter() - w0)
    row_med = statistics.median(row_walls)
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "trees.jsonl", Path(tmp) / "hnc.jsonl"
        write_jsonl(src, trees)
        w0, c0 = time.perf_counter(), time.process_time()
        summary = main(HNCConfig(input=str(src), output=str(dst), seed=args.seed))
        e2e_wall, e2e_cpu = time.perf_counter() - w0, time.process_time() - c0
        size_mb = src.stat().st_size / 1e6
    best, med = min(walls), statistics.median(walls)
    res = {
        "trees": args.trees,
        "nodes_per_tree": len(trees[0].nodes),
        "merges_last_run": merges,
        "in_memory_wall_s": round(med, 3),
        "in_memory_cpu_s": round(statistics.median(cpus), 3),
        "in_memory_best_wall_s": round(best, 3),
        "in_memory_runs_wall_s": [round(x, 3) for x in walls],
        "trees_per_s": round(args.trees / med, 1),
        "hrm_rows_trees": args.row_trees,
        "hrm_rows_per_tree": round(n_rows / max(1, args.row_trees), 1),
        "hrm_rows_wall_s": round(row_med, 3),
        "hrm_rows_runs_wall_s": [round(x, 3) for x in row_walls],
        "hrm_rows_trees_per_s": round(args.row_trees / row_med, 2),
        "hrm_rows_rows_per_s": round(n_rows / row_med, 1),
        "end_to_end_wall_s": round(e2e_wall, 3),
        "end_to_end_cpu_s": round(e2e_cpu, 3),
        "end_to_end_merges": summary["merges"],
        "input_mb": round(size_mb, 1),
        "goal": f"<= {GOAL_S:.0f} s for 1000 trees (in memory)",
        "goal_s": GOAL_S,
        "ratio": round(GOAL_S / med * args.trees / 1000, 2),
        "metric": f"{args.trees} trees x {len(trees[0].nodes)} nodes: {med:.2f} s in memory "
        f"({statistics.median(cpus):.2f} s CPU), {e2e_wall:.2f} s JSONL end-to-end; HNC + HRM rows "
        f"{args.row_trees / row_med:.1f} trees/s ({n_rows / row_med:.0f} rows/s)",
    }
    write_json(args.out, res)
    return res


if __name__ == "__main__":
    print(json.dumps(run(build_parser().parse_args()), indent=2))
