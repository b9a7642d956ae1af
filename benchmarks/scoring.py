"""Step scoring throughput: one marker pass per solution vs the official one-prompt-per-step.

    python benchmarks/scoring.py [--rm DIR] [--solutions 128] [--steps 6] [--batch-size 32] [--out FILE]

marker    hiero's default: each solution encoded once with a marker id after every step; the head
          is read at the markers, so one forward pass scores all 6 steps
per-step  the HRM paper's code: the official prompt (question, previous reasoning, current step)
          built for every step and classified at its last token: 6 sequences per solution, each
          repeating the question and the steps before it

Same model object (backbone + head), same solutions (synthetic 4-operation problems: context step,
4 equations, answer line = 6 steps), same batch size and length-sorted dynamic padding; only the
input layout differs. Without --rm a tiny Qwen2 the size of the embedded policy (4 layers, d=128) is
built. Figure: solutions scored per second of wall time (best of --repeats), ratio marker /
per-step (goal >= 5x). CPU runs use --threads (default 1: on a shared 2-core machine, 2 threads
contending with other processes are slower and far noisier than 1). Results go to --out (JSON)
and a table is printed; `run(args)` is what benchmarks/run_all.py calls.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from hiero.data.io import write_json
from hiero.domains import builtin as synth
from hiero.reward.model import RMSpec, build_reward_model, load_reward_model
from hiero.reward.scorer import RMScorer
from hiero.testing import make_tiny_base


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rm", default="", help="a marker-mode reward model folder (default: a fresh tiny one)")
    ap.add_argument("--solutions", type=int, default=128, help="solutions to score")
    ap.add_argument("--steps", type=int, default=6, help="steps per solution (ops = steps - 2)")
    ap.add_argument("--batch-size", type=int, default=32, help="sequences per forward pass (both modes)")
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=3, help="timed repeats; the best is reported")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("runs/bench/scoring.json"))
    return ap


def _solutions(n: int, steps: int, seed: int) -> tuple[list[str], list[list[str]]]:
    ops = steps - 2  # context step + one equation per op + answer line
    problems = synth.generate_problems(n, seed, split="test", min_ops=ops, max_ops=ops)
    sols = [synth.solve(p) for p in problems]
    assert all(len(s) == steps for s in sols), "synthetic solutions did not have the asked step count"
    return [p.question for p in problems], sols


def _model(args, questions, sols, tmp: Path):
    if args.rm:
        model, tok, spec = load_reward_model(args.rm, device=args.device)
        if spec.scoring != "marker":
            raise ValueError(f"--rm {args.rm}: needs a marker-mode reward model")
        return model, tok, spec
    texts = questions + [s for sol in sols for s in sol]
    base = make_tiny_base(tmp / "base", texts, vocab_size=512, hidden=args.hidden, layers=args.layers,
                          heads=4, seed=args.seed)
    model, tok = build_reward_model(base, RMSpec(scoring="marker", loss="soft_ce"))
    return model.to(args.device).eval(), tok, model.spec


def _time(scorer: RMScorer, questions, sols, repeats: int) -> tuple[float, list[list[float]]]:
    scorer.score(questions[:4], sols[:4])  # warm-up (allocator, kernels)
    best, scores = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        scores = scorer.score(questions, sols)
        best = min(best, time.perf_counter() - t0)
    return best, scores


def run(args) -> dict:
    torch.set_num_threads(args.threads)
    questions, sols = _solutions(args.solutions, args.steps, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        model, tok, spec = _model(args, questions, sols, Path(tmp))
    per_step_spec = RMSpec(**{**spec.__dict__, "scoring": "per-step", "pooling": "last"})
    marker = RMScorer(model, tok, spec, batch_size=args.batch_size)
    per_step = RMScorer(model, tok, per_step_spec, batch_size=args.batch_size)
    tokens = {
        "marker": sum(len(e["input_ids"]) for e in marker._encode_marker(questions, sols)),
        "per-step": sum(len(e["input_ids"]) for e in per_step._encode_per_step(questions, sols)),
    }
    with torch.inference_mode():
        t_marker, s_marker = _time(marker, questions, sols, args.repeats)
        t_step, s_step = _time(per_step, questions, sols, args.repeats)
    assert [len(s) for s in s_marker] == [len(s) for s in s_step] == [args.steps] * len(sols)
    n = len(sols)
    rows = {
        "marker": {"seconds": round(t_marker, 4), "solutions_per_s": round(n / t_marker, 2),
                   "forward_sequences": n, "tokens": tokens["marker"]},
        "per-step": {"seconds": round(t_step, 4), "solutions_per_s": round(n / t_step, 2),
                     "forward_sequences": n * args.steps, "tokens": tokens["per-step"]},
    }
    ratio = rows["marker"]["solutions_per_s"] / rows["per-step"]["solutions_per_s"]
    result = {
        "benchmark": "scoring", "metric": f"{rows['marker']['solutions_per_s']:.1f} vs "
        f"{rows['per-step']['solutions_per_s']:.1f} solutions/s (marker vs per-step)",
        "ratio": round(ratio, 2), "goal": ">= 5x", "met": ratio >= 5, "modes": rows,
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "n_params": sum(p.numel() for p in model.parameters()), "torch_threads": torch.get_num_threads(),
    }
    write_json(args.out, result)
    print("| mode | solutions/s | seconds | sequences | tokens |\n|---|---|---|---|---|")
    for name, r in rows.items():
        print(
            f"| {name} | {r['solutions_per_s']:.1f} | {r['seconds']:.3f} | {r['forward_sequences']} | "
            f"{r['tokens']} |"
        )
    print(f"marker / per-step = {ratio:.2f}x (goal >= 5x)")
    return result


if __name__ == "__main__":
    res = run(build_parser().parse_args())
    print(json.dumps({k: res[k] for k in ("ratio", "metric")}))
