"""Batched tree annotation vs a naive one-call-per-node loop, same model, same problems, same BFS.

    python benchmarks/annotate.py [--policy DIR] [--problems 16 --children 3 --depth 4] [--out FILE]

batched  `hiero.trees.annotate`: all problems searched together, ONE generate call per BFS level
         (the whole frontier, n=children), on the `hf` backend (KV cache, shared-prefix prefill)
naive    the official code's pattern: one request with n=children per node, one problem at a time
         (the same BFS driven through a wrapper that splits every call into one call per prompt)

Both run `grow_bfs` with the same settings and seed; the figure is generated tokens per second
of wall time, and the ratio batched / naive (goal >= 3x). Without --policy a quick-preset policy
is trained once into runs/bench/policy_quick (about 3 minutes on 2 cores) and reused after.
Results go to --out (JSON) and a table is printed; `run(args)` is what benchmarks/run_all.py calls.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from hiero.data.io import write_json
from hiero.domains import builtin as synth
from hiero.trees.bfs import SearchSettings, grow_bfs
from hiero.trees.tree import check_tree, new_tree


class OneCallPerNode:
    """Generator wrapper: every prompt of a call goes to the inner backend as its own call."""

    def __init__(self, inner):
        self.inner = inner

    def generate(self, prompts, **kw):
        return [self.inner.generate([p], **kw)[0] for p in prompts]


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--policy", default="", help="policy model folder (default: train the quick preset once)")
    ap.add_argument(
        "--policy-cache", default="runs/bench/policy_quick", help="where the default policy lives"
    )
    ap.add_argument("--problems", type=int, default=16, help="synthetic test problems")
    ap.add_argument("--children", type=int, default=3)
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--step-tokens", type=int, default=32)
    ap.add_argument("--temperature", type=float, default=0.1, help="sampling temperature (official: 0.1)")
    ap.add_argument("--batch-size", type=int, default=256, help="hf backend: rows decoded together")
    ap.add_argument("--device", default=None, help="cpu / cuda (default: cuda if available)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="runs/bench/annotate.json")
    return ap


def _policy(args) -> str:
    if args.policy:
        return args.policy
    folder = Path(args.policy_cache)
    if not (folder / "config.json").exists():
        from hiero.policy.sft import main as train
        from hiero.policy.sft import preset_config

        print(f"training the quick policy into {folder} (once) ...", file=sys.stderr)
        train(preset_config("quick", output=str(folder)))
    return str(folder)


def _time_bfs(gen, problems, s: SearchSettings, seed: int, per_problem: bool) -> dict:
    t0 = time.perf_counter()
    tokens, nodes = 0, 0
    groups = [[p] for p in problems] if per_problem else [problems]
    for group in groups:
        trees = [new_tree(p) for p in group]
        tokens += grow_bfs(trees, gen, s, seed)
        for t in trees:
            check_tree(t)
            nodes += len(t.nodes) - 1
    seconds = time.perf_counter() - t0
    return {"seconds": round(seconds, 3), "generated_tokens": tokens, "nodes": nodes,
            "tokens_per_s": round(tokens / seconds, 1)}


def run(args) -> dict:
    from hiero.policy.hf_backend import HFGenerator

    policy = _policy(args)
    gen = HFGenerator(policy, device=args.device, batch_size=args.batch_size)
    problems = synth.generate_problems(args.problems, seed=args.seed, split="test")
    s = SearchSettings(children=args.children, depth=args.depth, temperature=args.temperature,
                       step_tokens=args.step_tokens)
    gen.generate(["warm up"], n=1, max_new_tokens=2)  # first-call allocations out of the timing
    batched = _time_bfs(gen, problems, s, args.seed, per_problem=False)
    calls_before = gen.stats["calls"]
    naive = _time_bfs(OneCallPerNode(gen), problems, s, args.seed, per_problem=True)
    naive["calls"] = gen.stats["calls"] - calls_before
    ratio = batched["tokens_per_s"] / naive["tokens_per_s"]
    result = {
        "benchmark": "annotate", "policy": policy, "device": gen.device,
        "settings": {"problems": args.problems, "children": args.children, "depth": args.depth,
                     "step_tokens": args.step_tokens, "temperature": args.temperature, "seed": args.seed,
                     "batch_size": args.batch_size},
        "batched": batched, "naive": naive, "ratio": round(ratio, 2), "goal": ">= 3x",
        "metric": f"{batched['tokens_per_s']:.0f} vs {naive['tokens_per_s']:.0f} tok/s",
    }
    write_json(args.out, result)
    print(
        f"| annotator | tokens | seconds | tokens/s |\n|---|---|---|---|\n"
        f"| batched (1 call per level) | {batched['generated_tokens']} | {batched['seconds']} | "
        f"{batched['tokens_per_s']} |\n"
        f"| naive (1 call per node, {naive['calls']} calls) | {naive['generated_tokens']} | "
        f"{naive['seconds']} | "
        f"{naive['tokens_per_s']} |\n| ratio | | | {ratio:.2f}x (goal >= 3x) |"
    )
    return result


if __name__ == "__main__":
    res = run(build_parser().parse_args())
    print(json.dumps({k: res[k] for k in ("ratio", "metric")}))
