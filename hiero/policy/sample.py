"""`hiero policy sample`: N full solutions per problem from any policy, graded, as Solution JSONL.

    hiero policy sample --policy runs/policy --problems test.jsonl --n 8 -o solutions.jsonl

The file feeds `hiero po pairs --from solutions` (a correct vs an incorrect solution of one
problem), `hiero rm score` and `hiero eval processbench --data`. Samples come from the same
prefix-stable pool as best-of-N (`hiero.policy.sampling.sample_pool`, cached in `--cache-dir`
when given), so `--n 4` is the first 4 of `--n 8` for the same seed.

For built-in-domain problems every solution also gets the ground truth of each step
(`labels`, from `synth.check_steps`) and `first_error` (-1: none), so reward models and
ProcessBench-style metrics can be measured against truth on sampled, not injected, errors.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

from hiero.data.io import DataError, read_jsonl, write_jsonl
from hiero.domains import domain_of
from hiero.policy.sampling import PoolSettings, policy_id, sample_pool
from hiero.types import Problem, Solution


@dataclass
class SampleConfig:
    """`hiero policy sample`."""

    policy: str = field(
        default="", metadata={"help": "generator: model DIR, hf:DIR, openai:URL#MODEL or vllm:DIR"}
    )
    problems: str = field(default="", metadata={"help": "Problem JSONL"})
    out: str = field(default="", metadata={"help": "output Solution JSONL"})
    n: int = field(default=4, metadata={"help": "solutions per problem"})
    temperature: float = field(
        default=0.7, metadata={"help": "sampling temperature (0: greedy, then n is 1)"}
    )
    top_p: float = field(default=1.0, metadata={"help": "nucleus sampling"})
    max_new_tokens: int = field(default=256, metadata={"help": "token limit of one solution"})
    limit: int = field(default=0, metadata={"help": "only the first N problems (0: all)"})
    seed: int = field(default=0, metadata={"help": "sampling seed"})
    batch_problems: int = field(default=64, metadata={"help": "problems per generate call"})
    cache_dir: str = field(default="", metadata={"help": "folder caching the sample pool ('' = none)"})


def with_truth(problem: Problem, solution: Solution) -> Solution:
    """Attach per-step ground truth where the problem's domain checks steps (others have none to give)."""
    ok = domain_of(problem).step_truth(problem, solution.steps) if solution.steps else None
    if ok is None:
        return solution
    return replace(
        solution, labels=[int(x) for x in ok], first_error=next((i for i, t in enumerate(ok) if not t), -1)
    )


def sample(problems: list[Problem], generator, cfg: SampleConfig) -> list[list[Solution]]:
    """cfg.n graded solutions per problem (one per problem when temperature is 0)."""
    n = 1 if cfg.temperature <= 0 else cfg.n
    search = PoolSettings(
        n=n,
        temperature=cfg.temperature,
        top_p=cfg.top_p,
        max_new_tokens=cfg.max_new_tokens,
        seed=cfg.seed,
        gen_batch=cfg.batch_problems,
        pool_chunk=min(8, n),
        cache_dir=cfg.cache_dir,
        policy_id=policy_id(cfg.policy) if cfg.cache_dir else cfg.policy,
    )
    pool = sample_pool(problems, generator, search)
    return [[with_truth(p, s) for s in row] for p, row in zip(problems, pool, strict=True)]


def main(cfg: SampleConfig, generator=None) -> dict:
    if not (cfg.policy or generator) or not cfg.problems or not cfg.out:
        raise ValueError("policy sample needs --policy, --problems and -o/--out")
    problems = list(read_jsonl(cfg.problems, Problem))
    if cfg.limit > 0:
        problems = problems[:cfg.limit]
    if not problems:
        raise DataError(cfg.problems, None, "no problems in the file")
    if generator is None:
        from hiero.policy import load_generator

        generator = load_generator(cfg.policy)
    t0 = time.time()
    rows = sample(problems, generator, cfg)
    flat = [s for row in rows for s in row]
    write_jsonl(cfg.out, flat)
    return {
        "output": cfg.out,
        "problems": len(problems),
        "solutions": len(flat),
        "accuracy": round(sum(bool(s.correct) for s in flat) / len(flat), 4),
        "pass_at_n": round(sum(any(s.correct for s in row) for row in rows) / len(rows), 4),
        "with_correct_and_wrong": sum(
            any(s.correct for s in row) and not all(s.correct for s in row) for row in rows
        ),
        "time_s": round(time.time() - t0, 2),
    }
