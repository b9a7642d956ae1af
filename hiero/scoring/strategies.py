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

Sample pool (best_of_n, majority_vote, and the curves of `hiero eval bon`): `sample_pool` draws
N_max full solutions per problem ONCE, in chunks of `pool_chunk` samples, chunk c with its own seed;
a run asking for N samples takes the first N of the same chunks, so N = 1..64 are prefixes of one
pool and a whole accuracy-vs-N curve costs one generation pass. The pool is cached on disk under a
hash of (policy id, problems, seed, temperature, top_p, max_new_tokens, chunking, pool size).

Departures from the paper / official code, on purpose:
  * Both kinds of "best-of-N" are offered under honest names: `best_of_n` reranks N full solutions
    (the paper's ORM protocol) and `step_greedy` is what the official code runs for PRM/HRM.
  * Step search picks a candidate by `cfg.step_aggregation` over the prefix's step scores, "last"
    by default (the score of the new step, as the official code does).
  * Weighted vote: negative scores (raw regression heads) are clipped to 0 before summing.
  * A step "states an answer" (ends a step search) when it matches an explicit answer marker
    ("The answer is", \\boxed{}, "####", "# Answer"), never by the last-number fallback of
    `grading.extract_answer`, which would end the search at the first step holding a number.

`SynthOracleScorer` scores steps with the built-in domain's ground truth (`synth.check_steps`): the
upper-bound reference line "oracle" in curves, never a trained model.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from tqdm.auto import tqdm

from hiero.cache import fingerprint
from hiero.data.io import read_jsonl, write_jsonl
from hiero.policy.backend import Generator
from hiero.policy.prompt import STEP_SEP, build_prompt, split_steps
from hiero.scoring.base import Scorer
from hiero.types import Problem, Solution

log = logging.getLogger(__name__)

Aggregation = Literal["min", "prod", "last", "mean"]


@dataclass
class SearchConfig:
    """Settings every strategy reads (each uses the ones it needs)."""

    n: int = field(default=8, metadata={"help": "samples (best_of_n) or candidates per step / per beam"})
    selection: Literal["rm", "vote", "majority"] = field(
        default="rm", metadata={"help": "best_of_n: argmax aggregated RM score, RM-weighted vote, plain vote"})
    aggregation: Aggregation = field(default="min", metadata={"help": "step scores -> solution score"})
    step_aggregation: Aggregation = field(
        default="last", metadata={"help": "step search: prefix step scores -> candidate score"})
    beam_width: int = field(default=4, metadata={"help": "beam: beams kept per problem"})
    max_steps: int = field(default=8, metadata={"help": "step search: step limit"})
    temperature: float = field(default=0.7, metadata={"help": "sampling temperature"})
    top_p: float = field(default=1.0, metadata={"help": "nucleus sampling"})
    max_new_tokens: int = field(default=256, metadata={"help": "token limit of a full solution"})
    step_tokens: int = field(default=64, metadata={"help": "token limit of one step"})
    seed: int = field(default=0, metadata={"help": "sampling seed"})
    n_max: int = field(default=0, metadata={"help": "pool size per problem (0: n); N <= n_max are prefixes"})
    pool_chunk: int = field(default=8, metadata={"help": "samples per generate call and seed in the pool"})
    gen_batch: int = field(default=64, metadata={"help": "problems per generate call"})
    score_batch: int = field(default=64, metadata={"help": "solutions per scorer call"})
    cache_dir: str = field(default="", metadata={"help": "folder caching sample pools ('' = no cache)"})
    policy_id: str = field(default="", metadata={"help": "identity of the policy in cache keys"})


# ----------------------------------------------------------------------------- grading
_ANSWER_MARK = re.compile(r"the answer is|\\boxed\{|####|^#\s*answer", re.IGNORECASE | re.MULTILINE)


def extract_final_answer(problem: Problem, text: str) -> str | None:
    """The final answer a solution text states (built-in domain: `synth`; otherwise `grading`)."""
    if problem.source == "synth":
        from hiero.data import synth

        return synth.extract_answer(text)
    from hiero import grading

    return grading.extract_answer(text)


def grade(problem: Problem, answer: str | None) -> bool:
    """Is `answer` right for `problem`? None (no answer stated) is wrong."""
    if answer is None:
        return False
    if problem.source == "synth":
        from hiero.data import synth

        return bool(synth.is_correct(problem, answer))
    from hiero import grading

    return bool(grading.is_equiv(answer, problem.answer))


def states_answer(problem: Problem, step: str) -> bool:
    """Does this single step end the solution by stating a final answer?"""
    if problem.source == "synth":
        from hiero.data import synth

        return synth.extract_answer(step) is not None
    return bool(_ANSWER_MARK.search(step))


def make_solution(problem: Problem, steps: list[str], **meta) -> Solution:
    """A graded Solution for `problem` from its steps."""
    answer = extract_final_answer(problem, STEP_SEP.join(steps)) if steps else None
    return Solution(problem_id=problem.id, steps=steps, answer=answer, correct=grade(problem, answer),
                    question=problem.question, meta=meta)


def answer_groups(problem: Problem, answers: Sequence[str | None]) -> list[int | None]:
    """Group ids of equivalent answers in order of first appearance (None: no answer).

    Grouping is by `grade`-style equivalence against each group's first answer, so it is
    prefix-stable: the groups of the first N answers do not depend on later answers.
    """
    reps: list[str] = []
    out: list[int | None] = []
    for a in answers:
        if a is None:
            out.append(None)
            continue
        gid = next((g for g, r in enumerate(reps) if _same_answer(problem, a, r)), None)
        if gid is None:
            reps.append(a)
            gid = len(reps) - 1
        out.append(gid)
    return out


def _same_answer(problem: Problem, a: str, b: str) -> bool:
    if a.strip() == b.strip():
        return True
    if problem.source == "synth":
        return False  # integers: equal strings or different answers
    from hiero import grading

    return bool(grading.is_equiv(a, b))


# ----------------------------------------------------------------------------- scores
def aggregate_or_floor(scores: Sequence[float], how: str) -> float:
    """`aggregate(scores, how)`, and -inf for a solution with no steps (never chosen over one)."""
    if not scores:
        return -math.inf
    from hiero.scoring.aggregate import aggregate

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
def _pool_key(problems: Sequence[Problem], cfg: SearchConfig, size: int) -> dict:
    return {"policy": cfg.policy_id, "problems": fingerprint([p.to_dict() for p in problems]),
            "seed": cfg.seed, "temperature": cfg.temperature, "top_p": cfg.top_p,
            "max_new_tokens": cfg.max_new_tokens, "chunk": cfg.pool_chunk, "gen_batch": cfg.gen_batch,
            "size": size}


def sample_pool(problems: Sequence[Problem], generator: Generator, cfg: SearchConfig,
                size: int | None = None) -> list[list[Solution]]:
    """`size` (default max(n, n_max)) graded full solutions per problem, prefix-stable in `size`.

    Chunk c of problem batch b is one `generate` call with seed (cfg.seed, c, b), so asking for
    fewer samples replays the same first chunks. Cached under `cfg.cache_dir` when set.
    """
    size = size or max(cfg.n, cfg.n_max)
    chunk = max(1, cfg.pool_chunk)
    n_chunks = math.ceil(size / chunk)
    path = None
    if cfg.cache_dir:
        path = Path(cfg.cache_dir) / f"pool-{fingerprint(_pool_key(problems, cfg, n_chunks * chunk))}.jsonl"
        if path.exists():
            return _read_pool(path, problems, size)
    from hiero.search.tree import derive_seed

    pool: list[list[Solution]] = [[] for _ in problems]
    batches = list(range(0, len(problems), max(1, cfg.gen_batch)))
    bar = tqdm(total=n_chunks * len(batches), desc="sample pool", dynamic_ncols=True,
               disable=n_chunks * len(batches) < 2)
    for c in range(n_chunks):
        for b in batches:
            part = problems[b:b + cfg.gen_batch]
            outs = generator.generate(
                [build_prompt(p.question) for p in part], n=chunk, max_new_tokens=cfg.max_new_tokens,
                stop=None, temperature=cfg.temperature, top_p=cfg.top_p, seed=derive_seed(cfg.seed, "pool", c, b))
            for j, (p, comps) in enumerate(zip(part, outs, strict=True)):
                for k, comp in enumerate(comps):
                    pool[b + j].append(make_solution(p, split_steps(comp.text), sample=c * chunk + k,
                                                     finish_reason=comp.finish_reason))
            bar.update(1)
    bar.close()
    if path is not None:
        write_jsonl(path, (s for row in pool for s in row))
    return [row[:size] for row in pool]


def _read_pool(path: Path, problems: Sequence[Problem], size: int) -> list[list[Solution]]:
    rows: dict[str, list[Solution]] = {}
    for s in read_jsonl(path, Solution):
        rows.setdefault(s.problem_id, []).append(s)
    log.info("reusing sample pool %s", path)
    return [rows[p.id][:size] for p in problems]


def sample_solutions(problems: Sequence[Problem], generator: Generator, *, max_new_tokens: int = 256,
                     seed: int = 0, batch: int = 64, desc: str | None = "greedy") -> list[Solution]:
    """One greedy (temperature 0) graded solution per problem."""
    out = []
    for b in tqdm(range(0, len(problems), batch), desc=desc, disable=desc is None, dynamic_ncols=True):
        part = problems[b:b + batch]
        comps = generator.generate([build_prompt(p.question) for p in part], n=1, max_new_tokens=max_new_tokens,
                                   stop=None, temperature=0.0, seed=seed)
        out += [make_solution(p, split_steps(c[0].text)) for p, c in zip(part, comps, strict=True)]
    return out


# ----------------------------------------------------------------------------- strategies
def best_of_n(problems, generator, scorer, cfg: SearchConfig) -> list[Solution]:
    """Rerank the first `cfg.n` solutions of the sample pool (see `select` for the rules)."""
    pool = [row[:cfg.n] for row in sample_pool(problems, generator, cfg)]
    method = "majority" if scorer is None else cfg.selection
    scores = None
    if method != "majority":
        flat = [s for row in pool for s in row]
        per_step = score_solutions(scorer, [s.question for s in flat], [s.steps for s in flat], cfg.score_batch)
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


def _expand(problems, paths: list[tuple[int, _Path]], generator, scorer, cfg, n: int, it: int) -> list[list[_Path]]:
    """One batched search step: n scored children for each (problem index, path)."""
    from hiero.search.tree import derive_seed

    prompts = [build_prompt(problems[i].question, p.steps) for i, p in paths]
    outs = generator.generate(prompts, n=n, max_new_tokens=cfg.step_tokens, stop=[STEP_SEP],
                              temperature=cfg.temperature, top_p=cfg.top_p, seed=derive_seed(cfg.seed, "step", it))
    children: list[list[_Path]] = []
    for (i, p), comps in zip(paths, outs, strict=True):
        kids = []
        for c in comps:
            step = c.text.strip()
            if not step:  # the model ended without writing a step: nothing to add
                continue
            ends = c.finish_reason == "eos" or states_answer(problems[i], step)
            kids.append(_Path(p.steps + [step], [], ends or len(p.steps) + 1 >= cfg.max_steps))
        children.append(kids)
    flat = [(i, k) for (i, _), kids in zip(paths, children) for k in kids]
    scores = score_solutions(scorer, [problems[i].question for i, _ in flat], [k.steps for _, k in flat],
                             cfg.score_batch)
    for (_, k), s in zip(flat, scores):
        k.scores = s
    return children


def step_greedy(problems, generator, scorer, cfg: SearchConfig) -> list[Solution]:
    """Greedy step search: N candidate next steps, keep the best by `cfg.step_aggregation`."""
    state = [_Path([], []) for _ in problems]
    for it in range(cfg.max_steps):
        active = [(i, p) for i, p in enumerate(state) if not p.done]
        if not active:
            break
        for (i, p), kids in zip(active, _expand(problems, active, generator, scorer, cfg, cfg.n, it)):
            if not kids:
                p.done = True
                continue
            state[i] = max(kids, key=lambda k: aggregate_or_floor(k.scores, cfg.step_aggregation))
    return [make_solution(p, s.steps, strategy="step_greedy", step_scores=s.scores) for p, s in zip(problems, state)]


def beam(problems, generator, scorer, cfg: SearchConfig) -> list[Solution]:
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
        for (i, _), kids in zip(active, _expand(problems, active, generator, scorer, cfg, n, it)):
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
class SynthOracleScorer:
    """Ground-truth step scores on the built-in domain: 1.0 for a true step, 0.0 for a wrong one.

    Questions are matched to their Problem by text, so it scores exactly what a trained PRM would
    see. The reference line "oracle" in curves: what a perfect process reward model would choose.
    """

    kind = "prm"
    name = "oracle"

    def __init__(self, problems: Sequence[Problem]):
        self._by_question = {p.question: p for p in problems if p.source == "synth"}
        if not self._by_question:
            raise ValueError("the oracle scorer needs built-in-domain (source 'synth') problems")

    def score(self, questions: list[str], solutions: list[list[str]]) -> list[list[float]]:
        from hiero.data import synth

        out = []
        for q, steps in zip(questions, solutions, strict=True):
            if q not in self._by_question:
                raise ValueError(f"oracle scorer: unknown question {q[:60]!r}")
            out.append([1.0 if ok else 0.0 for ok in synth.check_steps(self._by_question[q], list(steps))])
        return out
