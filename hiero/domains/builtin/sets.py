"""Problem sets of the built-in domain with their noisy solutions and figures (`hiero data synth` writes
them)."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

from hiero.domains.builtin.checker import check_steps
from hiero.domains.builtin.noise import render_noisy_solution
from hiero.domains.builtin.program import OPS, true_values
from hiero.domains.builtin.settings import DomainSettings, domain_of_config
from hiero.types import Problem, Solution


@dataclass
class SynthConfig(DomainSettings):
    """Settings of `hiero data synth` (flat; every field is a flag)."""

    n: int = field(default=1000, metadata={"help": "number of problems"})
    seed: int = field(default=0, metadata={"help": "random seed (same seed, same problems)"})
    split: Literal["train", "test"] = field(default="train", metadata={"help": "which split to draw from"})
    p_error: float = field(default=0.1, metadata={"help": "noisy solutions: chance each step is wrong"})
    p_correction: float = field(
        default=0.5, metadata={"help": "noisy solutions: chance a wrong step is corrected"}
    )
    p_restate: float = field(default=0.0, metadata={
        "help": "noisy solutions, style restate: chance the givens are misread (a number or an operation)"})
    p_answer: float = field(
        default=0.0,
        metadata={
            "help": "noisy solutions: chance the answer sentence is wrong (half mis-copied value, half "
                    "malformed)"
        },
    )
    solutions_per_problem: int = field(default=1, metadata={"help": "noisy solutions written per problem"})
    out: str = field(default="synth_problems.jsonl", metadata={"help": "output JSONL of problems"})
    solutions_out: str | None = field(default=None, metadata={
        "help": "also write noisy solutions (Solution JSONL with labels) to this file"})


def make_set(cfg: SynthConfig) -> tuple[list[Problem], list[Solution], dict]:
    """cfg.n problems, cfg.solutions_per_problem noisy solutions of each when cfg.solutions_out is
    set (else none), and the figures `hiero data synth` prints. Writes nothing: the caller writes
    (`hiero.data.cli.write_synth`), so a bad setting leaves no output behind."""
    if cfg.n < 1 or cfg.solutions_per_problem < 1:
        raise ValueError(
            f"need n >= 1 and solutions_per_problem >= 1, got {cfg.n}, {cfg.solutions_per_problem}"
        )
    for name in ("p_error", "p_correction", "p_restate", "p_answer"):
        if not 0.0 <= getattr(cfg, name) <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {getattr(cfg, name)}")
    if cfg.style == "plain" and (cfg.p_restate or cfg.p_answer):
        raise ValueError("--p-restate and --p-answer are for --style restate")
    problems = domain_of_config(cfg).problems(cfg.n, cfg.seed, cfg.split)
    n_ops = Counter(len(p.meta["program"]["ops"]) for p in problems)
    op_counts = Counter(op for p in problems for op, _ in p.meta["program"]["ops"])
    all_values = [v for p in problems for v in [p.meta["program"]["start"], *true_values(p)]]
    summary = {
        "out": cfg.out, "n": len(problems), "split": cfg.split, "seed": cfg.seed,
        "ops_per_problem": {str(k): n_ops[k] for k in sorted(n_ops)},
        "op_counts": {op: op_counts[op] for op in OPS},
        "value_range": [min(all_values), max(all_values)],
        "reference_all_steps_checked": sum(all(check_steps(p, p.steps)) for p in problems),
    }
    sols: list[Solution] = []
    if cfg.solutions_out:
        rng = random.Random(f"hiero-synth-noise|{cfg.seed}|{cfg.split}")
        sols = [render_noisy_solution(p, rng, cfg.p_error, cfg.p_correction, cfg.p_restate, cfg.p_answer)
                for p in problems for _ in range(cfg.solutions_per_problem)]
        n = len(sols)
        summary.update({
            "solutions_out": cfg.solutions_out, "n_solutions": n,
            "frac_with_error": sum(s.first_error != -1 for s in sols) / n,
            "frac_answer_correct": sum(bool(s.correct) for s in sols) / n,
            "frac_with_correction": sum(bool(s.meta["corrections"]) for s in sols) / n,
            "first_error_matches_injected": sum(
                s.first_error == (s.meta["injected"][0] if s.meta["injected"] else -1) for s in sols) / n,
        })
    return problems, sols, summary
