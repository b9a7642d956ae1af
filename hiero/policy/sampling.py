"""Sampling graded solutions from a policy: the pool that best-of-N, `hiero policy sample`, preference
pairs and evaluation all draw from (greedy accuracy: `hiero.policy.generators.evaluate_accuracy`).

    make_solution(problem, steps, **meta)            -> Solution graded by the problem's domain
    sample_pool(problems, generator, cfg[, size])    -> size solutions per problem, prefix-stable
    policy_id(spec)                                  -> the policy's identity in cache keys

Pool: `sample_pool` draws N_max full solutions per problem ONCE, in chunks of `pool_chunk` samples,
chunk c with its own seed; a run asking for N samples takes the first N of the same chunks, so
N = 1..64 are prefixes of one pool and a whole accuracy-vs-N curve costs one generation pass. Each
chunk is cached on disk as its own file, under a hash of (policy id, prompt format, problems, seed,
temperature, top_p, max_new_tokens, chunking) plus its index: a larger pool later draws only the chunks
it lacks (N up to 16 after N up to 8 samples 8 more per problem, not 16), and a run stopped mid-pool
resumes at the first chunk not written.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from hiero.cache import derive_seed, fingerprint, path_hash
from hiero.data.io import read_jsonl, write_jsonl
from hiero.domains import answer_of
from hiero.policy.backend import Generator
from hiero.policy.prompt import RAW, STEP_SEP, PromptFormat, format_of
from hiero.types import Problem, Solution

log = logging.getLogger(__name__)


@dataclass
class PoolSettings:
    """How a sample pool is drawn (test-time search configs extend it)."""

    n: int = field(
        default=8, metadata={"help": "samples per problem (best_of_n), or candidates per step / per beam"}
    )
    temperature: float = field(default=0.7, metadata={"help": "sampling temperature"})
    top_p: float = field(default=1.0, metadata={"help": "nucleus sampling"})
    max_new_tokens: int = field(default=256, metadata={"help": "token limit of a full solution"})
    seed: int = field(default=0, metadata={"help": "sampling seed"})
    n_max: int = field(default=0, metadata={"help": "pool size per problem (0: n); N <= n_max are prefixes"})
    pool_chunk: int = field(default=8, metadata={"help": "samples per generate call and seed in the pool"})
    gen_batch: int = field(default=64, metadata={"help": "problems per generate call"})
    cache_dir: str = field(default="", metadata={"help": "folder caching sample pools ('' = no cache)"})
    policy_id: str = field(default="", metadata={"help": "identity of the policy in cache keys"})


def policy_id(spec: str) -> str:
    """The policy's identity in cache keys: the spec, plus a content hash when it is a folder."""
    p = Path(spec)
    return f"{spec}#{path_hash(p)}" if p.is_dir() else spec


def make_solution(problem: Problem, steps: list[str], **meta) -> Solution:
    """A Solution for `problem` from its steps, its answer read and graded by the problem's domain."""
    answer, correct = answer_of(problem, STEP_SEP.join(steps)) if steps else (None, False)
    return Solution(problem_id=problem.id, steps=steps, answer=answer, correct=correct,
                    question=problem.question, meta=meta)


def sampling_key(problems: Sequence[Problem], cfg: PoolSettings, fmt: PromptFormat = RAW) -> dict:
    """What fixes the samples drawn for `problems` (cache keys of the sample pool and of the step search's
    candidates add what else they depend on): policy, prompt format, problems, seed, temperature, top_p."""
    return {
        "prompt": fmt.describe(),
        "policy": cfg.policy_id,
        "problems": fingerprint([p.to_dict() for p in problems]),
        "seed": cfg.seed,
        "temperature": cfg.temperature,
        "top_p": cfg.top_p,
    }


def _pool_key(problems: Sequence[Problem], cfg: PoolSettings, fmt: PromptFormat = RAW) -> dict:
    return {**sampling_key(problems, cfg, fmt), "max_new_tokens": cfg.max_new_tokens, "chunk": cfg.pool_chunk,
            "gen_batch": cfg.gen_batch}


def sample_pool(problems: Sequence[Problem], generator: Generator, cfg: PoolSettings,
                size: int | None = None) -> list[list[Solution]]:
    """`size` (default max(n, n_max)) graded full solutions per problem, prefix-stable in `size`.

    Chunk c of problem batch b is one `generate` call with seed (cfg.seed, c, b), so asking for
    fewer samples replays the same first chunks. With `cfg.cache_dir` each chunk is a file of its
    own (`pool-HASH-cC.jsonl`, written atomically once drawn): chunks found there are read, not drawn.
    """
    size = size or max(cfg.n, cfg.n_max)
    chunk = max(1, cfg.pool_chunk)
    n_chunks = math.ceil(size / chunk)
    fmt = format_of(generator)
    paths: list[Path | None] = [None] * n_chunks
    cached: dict[int, list[list[Solution]]] = {}
    if cfg.cache_dir:
        key = fingerprint(_pool_key(problems, cfg, fmt))
        for c in range(n_chunks):
            paths[c] = Path(cfg.cache_dir) / f"pool-{key}-c{c}.jsonl"
            if paths[c].exists():
                cached[c] = _read_chunk(paths[c], problems, chunk)
        if cached:
            log.info("sample pool: %d of %d chunks read from %s", len(cached), n_chunks, cfg.cache_dir)

    batches = list(range(0, len(problems), max(1, cfg.gen_batch)))
    todo = [c for c in range(n_chunks) if c not in cached]
    bar = tqdm(
        total=len(todo) * chunk * len(problems),
        desc="sample pool",
        unit="solution",
        dynamic_ncols=True,
        disable=len(todo) * len(batches) < 2,
    )
    for c in todo:
        rows: list[list[Solution]] = [[] for _ in problems]
        for b in batches:
            part = problems[b:b + cfg.gen_batch]
            outs = generator.generate(
                [fmt.prompt(p.question) for p in part],
                n=chunk,
                max_new_tokens=cfg.max_new_tokens,
                stop=None,
                temperature=cfg.temperature,
                top_p=cfg.top_p,
                seed=derive_seed(cfg.seed, "pool", c, b),
            )
            for j, (p, comps) in enumerate(zip(part, outs, strict=True)):
                for k, comp in enumerate(comps):
                    rows[b + j].append(make_solution(p, fmt.split(comp.text), sample=c * chunk + k,
                                                     finish_reason=comp.finish_reason))
            bar.update(chunk * len(part))
        if paths[c] is not None:
            write_jsonl(paths[c], (s for row in rows for s in row))
        cached[c] = rows
    bar.close()
    return [[s for c in range(n_chunks) for s in cached[c][i]][:size] for i in range(len(problems))]


def _read_chunk(path: Path, problems: Sequence[Problem], chunk: int) -> list[list[Solution]]:
    """A cached chunk, per problem in `problems` order. The hash covers the problems, so a file without
    `chunk` solutions of each of them is a damaged cache: an error naming it and the problem."""
    rows: dict[str, list[Solution]] = {}
    for s in read_jsonl(path, Solution):
        rows.setdefault(s.problem_id, []).append(s)
    out = [rows.get(p.id, []) for p in problems]
    for p, row in zip(problems, out):
        if len(row) != chunk:
            raise ValueError(f"{path}: sample-pool cache chunk holds {len(row)} solutions of problem {p.id}, "
                             f"not {chunk}; delete the file to draw the chunk again")
    return out
