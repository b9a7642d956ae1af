"""Test-time search with a reward model: a plain name -> function table with one signature.

    STRATEGIES[name](problems, generator, scorer, cfg: SearchConfig) -> list[Solution]  (one per problem)

    best_of_n      sample N full solutions, keep one by aggregated step score (cfg.selection "rm",
                   aggregation min|prod|last|mean; an ORM's single score), or by RM-weighted majority
                   vote over final answers (selection "vote")
    majority_vote  the no-RM baseline: the most frequent final answer among N samples (scorer unused)
    step_greedy    the official HRM code's "best-of-N" for PRM/HRM: sample N candidate next steps
                   (stop at "\\n"), keep the best-scored, repeat until an answer or cfg.max_steps (8)
    beam           step-level beam search: beam_width beams, N expansions per beam, batched

Every strategy batches across problems: one `generate` call and one `score` call per search step.

Sample pool (best_of_n, majority_vote, and the curves of `hiero eval bon`): N = 1..64 are prefixes
of one pool drawn once (`hiero.policy.sampling.sample_pool`, cached on disk).

Departures from the paper / official code, on purpose:
  * Both kinds of "best-of-N" are offered under honest names: `best_of_n` reranks N full solutions
    (the paper's ORM protocol) and `step_greedy` is what the official code runs for PRM/HRM.
  * Step search picks a candidate by `cfg.step_aggregation` over the prefix's step scores, "last"
    by default (the score of the new step, as the official code does).
  * Weighted vote: negative scores (raw regression heads) are clipped to 0 before summing.
  * A step ends a step search when the problem's domain says it states an answer
    (`hiero.domains`: an explicit marker, never the last-number fallback of
    `grading.extract_answer`, which would end the search at the first step holding a number).

`OracleScorer` scores steps with the domain's ground truth (built-in: `synth.check_steps`): the
upper-bound reference line "oracle" in curves, never a trained model.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from tqdm.auto import tqdm

from hiero.cache import derive_seed
from hiero.data.io import append_jsonl, read_appended, repair_appended
from hiero.domains import domain_of
from hiero.policy.prompt import format_of
from hiero.policy.sampling import PoolSettings, make_solution, sample_pool
from hiero.reward.base import Scorer
from hiero.types import Problem, Solution

log = logging.getLogger(__name__)

Aggregation = Literal["min", "prod", "last", "mean"]


@dataclass
class SearchConfig(PoolSettings):
    """Settings every strategy reads (each uses the ones it needs); the pool's come from PoolSettings."""

    selection: Literal["rm", "vote", "majority"] = field(
        default="rm", metadata={"help": "best_of_n: argmax aggregated RM score, RM-weighted vote, plain vote"}
    )
    aggregation: Aggregation = field(default="min", metadata={"help": "step scores -> solution score"})
    step_aggregation: Aggregation = field(
        default="last", metadata={"help": "step search: prefix step scores -> candidate score"})
    beam_width: int = field(default=4, metadata={"help": "beam: beams kept per problem"})
    max_steps: int = field(default=8, metadata={"help": "step search: step limit"})
    step_tokens: int = field(default=64, metadata={"help": "token limit of one step"})
    score_batch: int = field(default=64, metadata={"help": "solutions per scorer call"})


def answer_groups(problem: Problem, answers: Sequence[str | None]) -> list[int | None]:
    """Group ids of equivalent answers in order of first appearance (None: no answer).

    Grouping is by `grade`-style equivalence against each group's first answer, so it is
    prefix-stable: the groups of the first N answers do not depend on later answers.
    """
    domain = domain_of(problem)
    reps: list[str] = []
    out: list[int | None] = []
    for a in answers:
        if a is None:
            out.append(None)
            continue
        gid = next((g for g, r in enumerate(reps) if domain.same_answer(problem, a, r)), None)
        if gid is None:
            reps.append(a)
            gid = len(reps) - 1
        out.append(gid)
    return out


# ----------------------------------------------------------------------------- scores
def aggregate_or_floor(scores: Sequence[float], how: str) -> float:
    """`aggregate(scores, how)`, and -inf for a solution with no steps (never chosen over one)."""
    if not scores:
        return -math.inf
    from hiero.reward.aggregate import aggregate

    return float(aggregate(list(scores), how))


def score_solutions(scorer: Scorer, questions: Sequence[str], solutions: Sequence[Sequence[str]],
                    batch: int = 64, desc: str | None = None) -> list[list[float]]:
    """Per-step scores of many solutions, `batch` at a time (empty solutions get [] unscored)."""
    out: list[list[float]] = [[] for _ in solutions]
    todo = [i for i, s in enumerate(solutions) if s]
    starts = range(0, len(todo), max(1, batch))
    for s in tqdm(starts, desc=desc, disable=desc is None or len(starts) < 2, dynamic_ncols=True):
        idx = todo[s:s + batch]
        got = scorer.score([questions[i] for i in idx], [list(solutions[i]) for i in idx])
        if len(got) != len(idx):
            raise ValueError(f"scorer returned {len(got)} score lists for {len(idx)} solutions")
        for i, g in zip(idx, got):
            out[i] = [float(x) for x in g]
    return out


def select(agg_scores: Sequence[float] | None, groups: Sequence[int | None], method: str) -> int:
    """Index of the chosen candidate among N (pure; ties go to the earliest candidate).

    rm        argmax of the aggregated scores
    vote      the answer group with the largest sum of max(score, 0); its best-scored member
    majority  the most frequent answer group; its first member
    Candidates without an answer (group None) are never chosen unless no candidate has one:
    a solution that states no answer cannot be right, whatever its steps score.

    >>> select([0.2, 0.9, 0.5], [0, 1, 0], "rm")
    1
    >>> select([0.2, 0.9, 0.5], [0, None, 0], "rm")   # the best-scored one states no answer
    2
    >>> select([0.2, 0.9, 0.5], [0, 1, 0], "majority")
    0
    >>> select([0.4, 0.9, 0.6], [0, 1, 0], "vote")   # group 0 weighs 1.0 > 0.9; best member is 2
    2
    """
    n = len(groups)
    if n == 0:
        raise ValueError("no candidates to select from")
    if method == "rm":
        answered = [i for i in range(n) if groups[i] is not None] or list(range(n))
        return max(answered, key=lambda i: (agg_scores[i], -i))
    if method not in ("vote", "majority"):
        raise ValueError(f"unknown selection method {method!r}")
    weight: dict[int, float] = {}
    for i, g in enumerate(groups):
        if g is not None:
            w = 1.0 if method == "majority" else max(float(agg_scores[i]), 0.0)
            weight[g] = weight.get(g, 0.0) + w
    if not weight:
        return 0
    first = {g: groups.index(g) for g in weight}
    best = max(weight, key=lambda g: (weight[g], -first[g]))
    members = [i for i, g in enumerate(groups) if g == best]
    if method == "majority":
        return members[0]
    return max(members, key=lambda i: (agg_scores[i], -i))


# ----------------------------------------------------------------------------- sample pool
# ----------------------------------------------------------------------------- strategies
def best_of_n(problems, generator, scorer, cfg: SearchConfig) -> list[Solution]:
    """Rerank the first `cfg.n` solutions of the sample pool (see `select` for the rules)."""
    pool = [row[:cfg.n] for row in sample_pool(problems, generator, cfg)]
    method = "majority" if scorer is None else cfg.selection
    scores = None
    if method != "majority":
        flat = [s for row in pool for s in row]
        per_step = score_solutions(
            scorer, [s.question for s in flat], [s.steps for s in flat], cfg.score_batch
        )
        it = iter(per_step)
        scores = [[next(it) for _ in row] for row in pool]
    chosen = []
    for i, (p, row) in enumerate(zip(problems, pool)):
        groups = answer_groups(p, [s.answer for s in row])
        agg = [aggregate_or_floor(x, cfg.aggregation) for x in scores[i]] if scores else None
        k = select(agg, groups, method)
        chosen.append(_tagged(row[k], "best_of_n", selection=method,
                              score=None if agg is None else agg[k]))
    return chosen


def majority_vote(problems, generator, scorer, cfg: SearchConfig) -> list[Solution]:
    """The no-RM baseline: most frequent final answer among the first `cfg.n` pool samples."""
    pool = [row[:cfg.n] for row in sample_pool(problems, generator, cfg)]
    return [_tagged(row[select(None, answer_groups(p, [s.answer for s in row]), "majority")], "majority_vote")
            for p, row in zip(problems, pool)]


def _tagged(sol: Solution, strategy: str, **meta) -> Solution:
    return replace(sol, meta={**sol.meta, "strategy": strategy, **meta})


@dataclass
class _Path:
    """A partial solution during step search: its steps, their latest scores, finished or not."""

    steps: list[str]
    scores: list[float]
    done: bool = False


class StepCandidates:
    """Candidate next steps per (problem, partial solution), generated once and reused by every search
    that reaches the same prefix: other N (a search at N reads the first N candidates), other reward
    models, step_greedy and beam alike; and each scorer's step scores, computed once per candidate.

    The first N of N_max samples of a prompt are N samples of it: with the hf backend they are exactly
    the samples a call with n = N gives (per-row seeds, hiero.policy.hf_backend), so a search through
    the pool chooses what the same search without it would; with any backend they are N i.i.d. draws.
    A prefix's candidates are drawn at search step len(prefix), seeded by (seed, step), as without it.

    With `path` the drawn candidates also go to disk, one appended line per generate call (a crash
    loses at most the call it was in), and are read back on the next run: a search that stopped, or
    the same searches with another reward model, draws only what the file lacks. The caller names
    the file after everything that fixes the candidates (policy, prompt format, problems, sampling
    settings, N_max); problems are keyed by their index in the list searched.
    """

    def __init__(self, n_max: int, path: str | Path | None = None):
        self.n_max = n_max
        self.texts: dict[tuple, list[tuple[str, str]]] = {}  # (problem, steps) -> [(text, finish_reason)]
        self.scores: dict[tuple, list[float]] = {}  # (scorer id, problem, steps) -> step scores
        self.generated = 0  # completions drawn (what the reuse saves is the rest)
        self.path = Path(path) if path else None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            repair_appended(self.path)
            for rec in read_appended(self.path):
                for x in rec["prefixes"]:
                    self.texts[(x["problem"], tuple(x["steps"]))] = [tuple(c) for c in x["candidates"]]
        self.loaded = len(self.texts)  # prefixes read from `path`

    def add(self, keys: list[tuple], candidates: list[list[tuple[str, str]]]) -> None:
        """Candidates of one generate call, in memory and (with `path`) appended to disk as one line."""
        for k, comps in zip(keys, candidates, strict=True):
            self.texts[k] = comps
        if self.path is not None:
            append_jsonl(self.path, {"prefixes": [
                {"problem": i, "steps": list(steps), "candidates": [list(c) for c in comps]}
                for (i, steps), comps in zip(keys, candidates)
            ]})


def _expand(problems, paths: list[tuple[int, _Path]], generator, scorer, cfg, n: int, it: int,
            pool: StepCandidates | None = None) -> list[list[_Path]]:
    """One batched search step: n scored children for each (problem index, path); through `pool`, the
    candidates and scores it already holds are reused and only the missing ones are generated / scored."""
    fmt = format_of(generator)
    pool = pool if pool is not None else StepCandidates(n)
    keys = [(i, tuple(p.steps)) for i, p in paths]
    todo = list(dict.fromkeys(k for k in keys if len(pool.texts.get(k, ())) < n))
    if todo:
        want = max(n, pool.n_max)
        prompts = [fmt.prompt(problems[i].question, list(steps)) for i, steps in todo]
        outs = generator.generate(
            prompts,
            n=want,
            max_new_tokens=cfg.step_tokens,
            stop=[fmt.step_sep],
            temperature=cfg.temperature,
            top_p=cfg.top_p,
            seed=derive_seed(cfg.seed, "step", it),
        )
        pool.add(todo, [[(c.text, c.finish_reason) for c in comps] for comps in outs])
        pool.generated += want * len(todo)
    children: list[list[_Path]] = []
    for (i, p), k in zip(paths, keys):
        kids = []
        for text, finish in pool.texts[k][:n]:
            step = text.strip()
            if not step:  # the model ended without writing a step: nothing to add
                continue
            ends = finish == "eos" or domain_of(problems[i]).stated_answer(p.steps + [step]) is not None
            kids.append(_Path(p.steps + [step], [], ends or len(p.steps) + 1 >= cfg.max_steps))
        children.append(kids)
    flat = [(i, kid) for (i, _), kids in zip(paths, children) for kid in kids]
    skey = [(id(scorer), i, tuple(kid.steps)) for i, kid in flat]
    new = list(dict.fromkeys(x for x in skey if x not in pool.scores))
    scores = score_solutions(scorer, [problems[x[1]].question for x in new], [list(x[2]) for x in new],
                             cfg.score_batch)
    pool.scores.update(zip(new, scores))
    for (_, kid), key in zip(flat, skey):
        kid.scores = pool.scores[key]
    return children


def step_greedy(
    problems, generator, scorer, cfg: SearchConfig, pool: StepCandidates | None = None
) -> list[Solution]:
    """Greedy step search: N candidate next steps, keep the best by `cfg.step_aggregation` (`pool`: the
    candidates shared with other searches, `StepCandidates`)."""
    state = [_Path([], []) for _ in problems]
    for it in range(cfg.max_steps):
        active = [(i, p) for i, p in enumerate(state) if not p.done]
        if not active:
            break
        for (i, p), kids in zip(active, _expand(problems, active, generator, scorer, cfg, cfg.n, it, pool)):
            if not kids:
                p.done = True
                continue
            state[i] = max(kids, key=lambda k: aggregate_or_floor(k.scores, cfg.step_aggregation))
    return [
        make_solution(p, s.steps, strategy="step_greedy", step_scores=s.scores)
        for p, s in zip(problems, state)
    ]


def beam(
    problems, generator, scorer, cfg: SearchConfig, pool: StepCandidates | None = None
) -> list[Solution]:
    """Step-level beam search: keep `beam_width` paths per problem, `n` children per path.

    The first step expands the single empty path into beam_width·n children. A finished path
    (answer stated, model ended, or step limit) leaves the beam and takes up one of the
    beam_width slots, so search stops once beam_width paths have finished. The answer is the
    finished path with the best `cfg.aggregation` score (an unfinished one if none finished).
    Identical children of one problem are kept once.
    """
    beams: list[list[_Path]] = [[_Path([], [])] for _ in problems]
    finished: list[list[_Path]] = [[] for _ in problems]
    for it in range(cfg.max_steps):
        active = [(i, p) for i, bs in enumerate(beams) for p in bs if len(finished[i]) < cfg.beam_width]
        if not active:
            break
        n = cfg.n * cfg.beam_width if it == 0 else cfg.n
        pooled: list[list[_Path]] = [[] for _ in problems]
        for (i, _), kids in zip(active, _expand(problems, active, generator, scorer, cfg, n, it, pool)):
            pooled[i].extend(kids)
        for i in {i for i, _ in active}:
            seen, ranked = set(), []
            for k in sorted(pooled[i], key=lambda k: -aggregate_or_floor(k.scores, cfg.step_aggregation)):
                if tuple(k.steps) not in seen:
                    seen.add(tuple(k.steps))
                    ranked.append(k)
            keep = ranked[:max(0, cfg.beam_width - len(finished[i]))]
            finished[i] += [k for k in keep if k.done]
            beams[i] = [k for k in keep if not k.done]
    out = []
    for p, fin, bs in zip(problems, finished, beams):
        cands = fin or bs or [_Path([], [])]
        best = max(cands, key=lambda k: aggregate_or_floor(k.scores, cfg.aggregation))
        out.append(make_solution(p, best.steps, strategy="beam", step_scores=best.scores))
    return out


STRATEGIES: dict[str, Callable[..., list[Solution]]] = {
    "best_of_n": best_of_n,
    "majority_vote": majority_vote,
    "step_greedy": step_greedy,
    "beam": beam,
}


# ----------------------------------------------------------------------------- oracle
from hiero.reward.oracle import OracleScorer  # noqa: E402,F401  (re-exported: the "oracle" curve)
