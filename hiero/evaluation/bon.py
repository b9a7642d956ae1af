"""Best-of-N curves: accuracy vs N for every reward model and aggregation, like the paper's tables.

    hiero eval bon --policy DIR --rm orm=DIR --rm prm=DIR --rm hrm=DIR --n 1,2,4,8,16,24,32,64 -o OUT
    hiero eval bon --candidates gsm8k_model_solutions.jsonl --problems gsm8k_test.jsonl --rm prm=DIR -o OUT
    Python: main(BonConfig(policy=..., rm=["prm=DIR"], out=...)) -> summary dict

Reads problems (`--problems` Problem JSONL; without it the built-in domain's test split), draws ONE
pool of max(N) solutions per problem (`policy.sampling.sample_pool`, cached on disk), scores every
pooled solution once with every reward model, then evaluates each selection rule on the first N
samples for every N. Methods (curve names):

    majority          plain majority vote over final answers (no reward model)
    pass@N            some sample among the N is right: the coverage ceiling, not a selection rule
    NAME              an ORM: the solution with the highest score
    NAME:AGG          a PRM/HRM: highest aggregated step score, AGG in --aggregations (min|prod|last|mean)
    NAME+vote         RM-weighted majority vote (ORM score or the --primary aggregation as weight)
    oracle            domains that check steps (built-in): ground-truth step labels (`OracleScorer`), min

Uncertainty: a 95% percentile bootstrap over problems (`--bootstrap` resamples). With `--subsets K`
each point is also averaged over K random N-subsets of the pool per problem (lower variance than
the one prefix; K = 0, the default, uses the prefix, which is what a separate run with N samples
would draw). `--search step_greedy,beam --search-n 2,4,8,16,24` also runs those strategies with each
per-step reward model (and the oracle) at every N: accuracy vs N candidate steps per step with 95%
intervals (results.json `search`, a second table in table.md, search.png), the HRM paper's headline
curve. The candidate steps of a prefix are drawn once for the largest N and shared by every N, reward
model and strategy (`strategies.StepCandidates`), and kept in the cache folder (`steps-HASH.jsonl`,
one line per generate call), so a search that stopped, or the same search with another reward model,
draws only the candidates the file lacks.

Pre-generated candidates (`--candidates` Solution JSONL grouped by problem_id, e.g. GSM8K's four
example model solutions per question) replace the pool; N is capped by the smallest group.
`--scores NAME=FILE` (repeatable; FILE alone is named by its stem) adds a reward model whose scores
were computed beforehand (hiero.reward.precomputed): JSONL rows {"id", "scores"[, "kind"]}, where a
candidate's id is its `meta.id` or, without one, f"{problem_id}#{k}" with k its 0-based index among
the candidates of that problem in file order; `hiero rm score --input CANDIDATES -o FILE` writes
exactly these ids. A missing id, a row of the wrong length (ORM files: 1 score), a duplicate id or a
non-number is a DataError naming file, line, id and field, and nothing is written.
`--rm NAME=SPEC` takes any reward-model spec (hiero.reward.spec: DIR, FORMAT:DIR[#k=v], scores:FILE);
`--scores NAME=FILE` is `--rm NAME=scores:FILE`. A candidate a model cannot score (longer than its
context, a separator lost) is never chosen and is counted in results.json's `skipped`.
Grading: by the problem's domain (hiero.domains: built-in checker or math equivalence); a candidate
with `correct` already set keeps it when no problem file gives the reference answer.

Built-in domain only: every per-step RM is also checked step by step against the domain's ground
truth on the same pool (`step_eval`: step AUROC, AUROC within a problem, ProcessBench F1 with the
threshold tuned on the other half of the problems, AUROC per error kind; hiero.evaluation.domain_checks),
and `wrong_picks` describes, per selection rule at the largest N, the wrong solutions it chose where
a right one was in the pool (error kind, missing answer, length).

Outputs in OUT: results.json (curves with CI, step_eval, wrong_picks, markdown table),
curves.png (accuracy vs N, log-x, one line per RM), table.md.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from hiero.cache import fingerprint
from hiero.data.io import DataError, read_jsonl, write_json
from hiero.data.problems import SYNTH, is_synth, read_problems
from hiero.domains import domain_of
from hiero.evaluation import domain_checks
from hiero.evaluation.metrics import bootstrap_ci
from hiero.evaluation.plots import plot_curves, plot_search
from hiero.policy.sampling import policy_id, sample_pool, sampling_key
from hiero.reward.base import score_items
from hiero.reward.precomputed import solution_ids
from hiero.reward.spec import ScorerFlags
from hiero.search.strategies import (
    STRATEGIES,
    OracleScorer,
    SearchConfig,
    aggregate_or_floor,
    answer_groups,
    select,
)
from hiero.types import Problem, Solution

log = logging.getLogger(__name__)


@dataclass
class BonConfig(ScorerFlags):
    """Settings of `hiero eval bon`."""

    policy: str = field(
        default="", metadata={"help": "policy: model folder or backend spec (not with --candidates)"}
    )
    rm: list[str] = field(default_factory=list, metadata={
        "help": "reward models NAME=SPEC (repeatable; SPEC: DIR, FORMAT:DIR[#k=v], scores:FILE)"})
    scores: list[str] = field(
        default_factory=list,
        metadata={
            "help": "precomputed scores NAME=FILE or FILE (repeatable; with --candidates): as --rm "
                    "NAME=scores:FILE"
        },
    )
    problems: str = field(
        default="",
        metadata={
            "help": "Problem JSONL, or the built-in domain: synth[:n=100,seed=1,max_value=30,...] "
                    "(hiero.data.problems; "
            "'' = synth: 100 test problems, seed 1); with --candidates, the file holding their references"
        },
    )
    candidates: str = field(
        default="", metadata={"help": "pre-generated Solution JSONL grouped by problem_id"}
    )
    limit: int = field(default=0, metadata={"help": "use only the first K problems (0: all)"})
    n: list[int] = field(default_factory=lambda: [1, 2, 4, 8, 16, 24, 32, 64], metadata={"help": "N values"})
    aggregations: list[str] = field(default_factory=lambda: ["min", "prod", "last", "mean"],
                                    metadata={"help": "step-score aggregations for PRM/HRM"})
    primary: str = field(default="min", metadata={"help": "aggregation of the main plot lines and of +vote"})
    oracle: bool = field(
        default=True, metadata={"help": "add the ground-truth oracle line (built-in domain)"}
    )
    subsets: int = field(
        default=0, metadata={"help": "average each point over K random N-subsets (0: prefix)"}
    )
    bootstrap: int = field(
        default=1000, metadata={"help": "bootstrap resamples for the 95 percent intervals"}
    )
    search: list[str] = field(default_factory=list, metadata={"help": "also run step_greedy and/or beam"})
    search_n: list[int] = field(default_factory=lambda: [4], metadata={
        "help": "candidates per step for --search, one or more N (2,4,8,16,24: the HRM paper's curve); the "
                "candidates of a prefix are drawn once and shared across N and reward models"})
    beam_width: int = field(default=4, metadata={"help": "beam width for --search beam"})
    max_steps: int = field(default=8, metadata={"help": "step limit for --search"})
    temperature: float = field(default=0.7, metadata={"help": "sampling temperature"})
    top_p: float = field(default=1.0, metadata={"help": "nucleus sampling"})
    max_new_tokens: int = field(default=256, metadata={"help": "token limit of a sampled solution"})
    step_tokens: int = field(default=64, metadata={"help": "token limit of one step (--search)"})
    seed: int = field(default=0, metadata={"help": "sampling and bootstrap seed"})
    score_batch: int = field(default=64, metadata={"help": "solutions per scorer call"})
    cache_dir: str = field(default="", metadata={"help": "sample-pool cache folder ('' = OUT/cache)"})
    out: str = field(default="runs/eval_bon", metadata={"help": "output folder"})


# ----------------------------------------------------------------------------- inputs
def load_problems(cfg: BonConfig) -> list[Problem]:
    problems = read_problems(cfg.problems or SYNTH, n=100, seed=1, split="test")
    return problems[:cfg.limit] if cfg.limit > 0 else problems


def load_candidates(cfg: BonConfig) -> tuple[list[Problem], list[list[Solution]]]:
    """Problems and their candidate groups from --candidates (+ --problems for the references)."""
    groups: dict[str, list[Solution]] = {}
    rows = list(read_jsonl(cfg.candidates, Solution))
    for s, sid in zip(rows, solution_ids(rows)):  # meta.id: how --scores rows name the candidate
        groups.setdefault(s.problem_id, []).append(replace(s, meta={**s.meta, "id": sid}))
    known = {p.id: p for p in read_jsonl(cfg.problems, Problem)} if cfg.problems else {}
    problems, pool = [], []
    for pid, sols in groups.items():
        p = known.get(pid)
        if p is None:
            if cfg.problems:
                raise DataError(cfg.candidates, None, f"problem_id {pid!r} is not in {cfg.problems}")
            if any(s.correct is None for s in sols) or sols[0].question is None:
                raise DataError(cfg.candidates, None, f"problem {pid!r}: without --problems every candidate "
                                                     "needs 'question' and 'correct'")
            p = Problem(id=pid, question=sols[0].question, answer="", source="")
        graded = []
        domain = domain_of(p)
        for s in sols:
            answer = s.answer if s.answer is not None else domain.extract_answer(s.text)
            correct = domain.is_correct(p, answer) if p.id in known else bool(s.correct)
            graded.append(replace(s, answer=answer, correct=correct, question=s.question or p.question))
        problems.append(p)
        pool.append(graded)
    if cfg.limit > 0:
        problems, pool = problems[:cfg.limit], pool[:cfg.limit]
    return problems, pool


def load_rms(cfg: BonConfig) -> dict:
    """--rm NAME=SPEC and --scores NAME=FILE -> {name: Scorer} (hiero.reward.spec.load_scorer)."""
    from hiero.reward.spec import load_named

    specs = list(cfg.rm)
    for item in cfg.scores:
        name, eq, path = item.partition("=")
        specs.append(f"{name}=scores:{path}" if eq else f"{Path(item).stem}=scores:{item}")
    if (
        any(s.partition("=")[2].startswith("scores:") or s.startswith("scores:") for s in specs)
        and not cfg.candidates
    ):
        raise ValueError("precomputed scores need --candidates: they name pre-generated candidates by id")
    return load_named(
        specs,
        reserved=("majority", "oracle", "pass@N"),
        batch_size=cfg.score_batch,
        dtype=cfg.dtype,
        device_map=cfg.device_map,
        max_tokens=cfg.max_tokens,
    )


# ----------------------------------------------------------------------------- curves
def check_aggregations(rms: dict, aggregations: list[str], primary: str) -> None:
    """Before any work: the --primary aggregation must mean something for every per-step reward model
    ("prod" multiplies probabilities: hiero.reward.aggregate); other rules a model's scores cannot take
    are left out of its curves with a warning."""
    from hiero.reward.aggregate import aggregations_for
    from hiero.reward.base import scale_of

    for name, scorer in rms.items():
        if name == "oracle" or scorer.kind == "orm":
            continue
        usable = aggregations_for(scorer)
        if primary not in usable:
            raise ValueError(
                f"--primary {primary}: --rm {name}'s scores are not probabilities ({scale_of(scorer)}); "
                f"choose one of {list(usable)}"
            )
        left = [a for a in aggregations if a not in usable]
        if left:
            log.warning("--rm %s: aggregation(s) %s left out: its scores are not probabilities (%s)", name,
                        ",".join(left), scale_of(scorer))


def method_table(rms: dict, aggregations: list[str], primary: str) -> dict[str, tuple]:
    """Curve name -> (rm name or None, selection, aggregation); only the aggregations that a model's
    scores can take (`aggregate.aggregations_for`)."""
    from hiero.reward.aggregate import aggregations_for

    methods: dict[str, tuple] = {"majority": (None, "majority", None), "pass@N": (None, "pass", None)}
    for name, scorer in rms.items():
        if name == "oracle":
            methods["oracle"] = (name, "rm", "min")
        elif scorer.kind == "orm":
            methods[name] = (name, "rm", "last")
            methods[f"{name}+vote"] = (name, "vote", "last")
        else:
            for agg in aggregations:
                if agg in aggregations_for(scorer):
                    methods[f"{name}:{agg}"] = (name, "rm", agg)
            methods[f"{name}+vote"] = (name, "vote", primary)
    return methods


def per_problem_correct(pool, groups, agg_scores, method, n, subsets, rng) -> np.ndarray:
    """(P,) fraction of right choices per problem with N candidates (prefix, or K random subsets)."""
    rm, how, agg = method
    out = np.zeros(len(pool))
    for i, row in enumerate(pool):
        size = len(row)
        picks = [list(range(n))] if subsets <= 0 or n >= size else [
            sorted(rng.choice(size, size=n, replace=False).tolist()) for _ in range(subsets)]
        hits = 0.0
        for idx in picks:
            if how == "pass":
                hits += any(row[j].correct for j in idx)
                continue
            scores = None if rm is None else [agg_scores[(rm, agg)][i][j] for j in idx]
            k = select(scores, [groups[i][j] for j in idx], how)
            hits += bool(row[idx[k]].correct)
        out[i] = hits / len(picks)
    return out


def step_search_curves(problems, generator, rms: dict, cfg: BonConfig, search_cfg: SearchConfig) -> dict:
    """Accuracy vs N of each step-level strategy (--search) with each per-step reward model, 95% intervals.

    One `StepCandidates` pool serves every run: a prefix's candidate steps are drawn once for the
    largest N and each search at N reads the first N of them, so the curve costs about what its largest
    N costs alone (the HRM paper draws this curve, N = 2..24, for step_greedy on PRM800K)."""
    from hiero.search.strategies import StepCandidates

    if generator is None:
        raise ValueError("--search needs --policy (it generates step by step)")
    bad = [s for s in cfg.search if s not in ("step_greedy", "beam")]
    if bad:
        raise ValueError(f"--search takes step_greedy and/or beam, got {bad[0]!r}")
    ns = sorted(set(cfg.search_n))
    if not ns or ns[0] < 1:
        raise ValueError(f"--search-n {cfg.search_n}: give one or more N >= 1")
    pool = StepCandidates(max(ns), step_cache_path(problems, generator, search_cfg, max(ns)))
    if pool.loaded:
        log.info("step search: candidates of %d partial solutions read from %s", pool.loaded, pool.path)
    out = {}
    for strategy in cfg.search:
        for name, scorer in rms.items():
            if scorer.kind == "orm" or getattr(scorer, "precomputed", False):
                continue  # step search needs per-step scores (PRM/HRM only, as in the HRM code)
            curve = {"n": ns, "acc": [], "ci_low": [], "ci_high": [], "strategy": strategy, "rm": name}
            for n in ns:
                t0 = time.perf_counter()
                step_cfg = replace(search_cfg, n=n, beam_width=cfg.beam_width, max_steps=cfg.max_steps)
                chosen = STRATEGIES[strategy](problems, generator, scorer, step_cfg, pool=pool)
                x = np.array([float(bool(s.correct)) for s in chosen])
                log.info("step search: %s %s N=%d: accuracy %.3f, %.0f s (%d candidate steps drawn so far)",
                         name, strategy, n, x.mean(), time.perf_counter() - t0, pool.generated)
                ci = bootstrap_ci(x, cfg.bootstrap, seed=cfg.seed)
                curve["acc"].append(float(x.mean()))
                curve["ci_low"].append(ci[0])
                curve["ci_high"].append(ci[1])
            out[f"{name} {strategy}"] = curve
    log.info("step search: %d candidate steps drawn for %d searches", pool.generated,
             len(out) * len(ns))
    return out


def step_cache_path(problems, generator, search_cfg: SearchConfig, n_max: int) -> Path | None:
    """The file keeping the step search's candidates (`StepCandidates`), named after what fixes them:
    the sampling (`sampling_key`), the step token limit and N_max."""
    if not search_cfg.cache_dir:
        return None
    from hiero.policy.prompt import format_of

    key = {**sampling_key(problems, search_cfg, format_of(generator)), "step_tokens": search_cfg.step_tokens,
           "n_max": n_max}
    return Path(search_cfg.cache_dir) / f"steps-{fingerprint(key)}.jsonl"


def markdown_table(n_values: list[int], curves: dict) -> str:
    """Methods as rows, N as columns, accuracy % with the 95% interval (best-of-N curves, and the step
    search curves in the HRM paper's layout: a row per reward model and strategy, N candidates per step)."""
    head = "| method | " + " | ".join(f"N={n}" for n in n_values) + " |"
    lines = [head, "|" + "---|" * (len(n_values) + 1)]
    for name, c in curves.items():
        cells = [
            f"{100 * a:.1f} ({100 * lo:.0f}–{100 * hi:.0f})"
            for a, lo, hi in zip(c["acc"], c["ci_low"], c["ci_high"])
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def check_settings(cfg: BonConfig) -> None:
    if any(n < 1 for n in cfg.n):
        raise ValueError(f"--n {','.join(map(str, cfg.n))}: every N must be at least 1")
    if cfg.search and (not cfg.search_n or any(n < 1 for n in cfg.search_n)):
        raise ValueError(
            f"--search-n {','.join(map(str, cfg.search_n))}: give one or more N, each at least 1"
        )


def candidate_pool(cfg: BonConfig, search_cfg: SearchConfig) -> tuple[list, list, object]:
    """(problems, candidates per problem, the generator or None): --candidates as given, else sampled."""
    if cfg.candidates:
        problems, pool = load_candidates(cfg)
        return problems, pool, None
    if not cfg.policy:
        raise ValueError("give --policy (to sample solutions) or --candidates (pre-generated ones)")
    from hiero.policy import load_generator

    problems = load_problems(cfg)
    generator = load_generator(cfg.policy)
    return problems, sample_pool(problems, generator, search_cfg), generator


def usable_n(cfg: BonConfig, pool: list) -> tuple[list[int], list[int], int]:
    """(the N values the pool holds, those left out, the candidates every problem has)."""
    pool_size = min(len(row) for row in pool)
    n_values = sorted({n for n in cfg.n if 1 <= n <= pool_size})
    dropped = sorted(set(cfg.n) - set(n_values))
    if dropped:
        log.warning("N values %s exceed the %d candidates per problem and are left out", dropped, pool_size)
    if not n_values:
        raise ValueError(f"no N value fits the {pool_size} candidates per problem")
    return n_values, dropped, pool_size


def score_pool(rms: dict, methods: dict, pool: list, batch: int) -> tuple[dict, dict, dict]:
    """Every candidate scored once per reward model, aggregated once per aggregation a curve uses:
    ({(rm, agg): per problem, per candidate}, {per-step rm: per problem, per candidate, per step},
    {rm: what was skipped})."""
    flat = [s for row in pool for s in row]
    ids = [s.meta.get("id", f"{s.problem_id}#{k}") for row in pool for k, s in enumerate(row)]
    agg_scores: dict[tuple[str, str], list[list[float]]] = {}
    step_scores: dict[str, list[list[list[float]]]] = {}
    skipped: dict[str, dict] = {}
    for name, scorer in rms.items():
        log.info("scoring %d candidates with %s", len(flat), name)
        shown = getattr(scorer, "progress", None)
        if shown is False:  # a scorer with its own batching shows its own bar for this long pass
            scorer.progress = True
        try:
            res = score_items(scorer, [s.question for s in flat], [s.steps for s in flat], ids, batch,
                              desc=f"score {name}")
        finally:
            if shown is False:
                scorer.progress = False
        if res.skipped:  # never chosen (aggregate -inf), counted in results.json
            log.warning("%s: %d of %d candidates could not be scored", name, len(res.skipped), len(flat))
            skipped[name] = res.summary()
        steps = [[] if x is None else x for x in res.scores]
        if name != "oracle" and getattr(scorer, "kind", "prm") != "orm":
            it = iter(steps)
            step_scores[name] = [[next(it) for _ in row] for row in pool]
        for agg in {m[2] for m in methods.values() if m[0] == name}:
            it = iter(aggregate_or_floor(x, agg) for x in steps)
            agg_scores[(name, agg)] = [[next(it) for _ in row] for row in pool]
    return agg_scores, step_scores, skipped


def accuracy_curves(cfg: BonConfig, methods: dict, pool: list, groups: list, agg_scores: dict,
                    n_values: list[int]) -> dict:
    """Accuracy vs N of every method with 95% bootstrap intervals over problems."""
    rng = np.random.default_rng(cfg.seed)
    curves = {}
    for name, method in methods.items():
        acc, lo, hi = [], [], []
        for n in n_values:
            x = per_problem_correct(pool, groups, agg_scores, method, n, cfg.subsets, rng)
            ci = bootstrap_ci(x, cfg.bootstrap, seed=cfg.seed)
            acc.append(float(x.mean()))
            lo.append(ci[0])
            hi.append(ci[1])
        curves[name] = {"acc": acc, "ci_low": lo, "ci_high": hi, "rm": method[0], "selection": method[1],
                        "aggregation": method[2]}
    return curves


def step_checks(problems, pool, groups, methods, agg_scores, step_scores, n: int) -> tuple[dict, dict]:
    """Where the domain checks steps: how well each RM checks them, and what its wrong picks at N were."""
    if not all(domain_of(p).checks_steps for p in problems):
        return {}, {}
    step_eval = {name: domain_checks.step_eval(problems, pool, sc) for name, sc in step_scores.items()}
    picks = {}
    for name, (rm, how, agg) in methods.items():
        if how in ("rm", "vote") and name != "oracle":
            chosen = [select([agg_scores[(rm, agg)][i][j] for j in range(n)], groups[i][:n], how)
                      for i in range(len(pool))]
            picks[name] = domain_checks.wrong_picks(problems, [row[:n] for row in pool], chosen)
    return step_eval, picks


def write_figures(
    out: Path, cfg: BonConfig, rms: dict, n_values, curves, search, n_problems: int
) -> tuple[str, dict]:
    """curves.png (+ search.png) and table.md; returns (the Markdown tables, the files written)."""
    out.mkdir(parents=True, exist_ok=True)
    primary_lines = ["majority", "pass@N"] + [
        n if (n == "oracle" or sc.kind == "orm") else f"{n}:{cfg.primary}" for n, sc in rms.items()]
    plot_curves(
        n_values, curves, out / "curves.png", primary=primary_lines, title=f"best-of-N, {n_problems} problems"
    )
    table = markdown_table(n_values, curves)
    files = {
        "results": str(out / "results.json"),
        "plot": str(out / "curves.png"),
        "table": str(out / "table.md"),
    }
    if search:
        search_ns = next(iter(search.values()))["n"]
        table += (
            "\n\nStep-level search, N candidate steps per step (one pool of candidates per prefix, shared "
            "across N):\n\n" + markdown_table(search_ns, search)
        )
        files["search_plot"] = str(plot_search(search_ns, search, out / "search.png",
                                               title=f"step-level search, {n_problems} problems"))
    (out / "table.md").write_text(table + "\n", encoding="utf-8")
    return table, files


def main(cfg: BonConfig) -> dict:
    """Check -> load the reward models -> one pool of candidates -> score it once -> curves with CIs,
    step checks, step-level search -> JSON, PNG, Markdown."""
    t0 = time.time()
    out = Path(cfg.out)
    search_cfg = SearchConfig(
        n=max(cfg.n), n_max=max(cfg.n), temperature=cfg.temperature, top_p=cfg.top_p, seed=cfg.seed,
        max_new_tokens=cfg.max_new_tokens, step_tokens=cfg.step_tokens, score_batch=cfg.score_batch,
        cache_dir=cfg.cache_dir or str(out / "cache"), policy_id=policy_id(cfg.policy) if cfg.policy else "")
    check_settings(cfg)
    rms: dict = load_rms(cfg)  # before any sampling: a bad spec fails at once
    check_aggregations(rms, cfg.aggregations, cfg.primary)
    problems, pool, generator = candidate_pool(cfg, search_cfg)
    if not problems:
        raise ValueError("no problems to evaluate")
    n_values, dropped, pool_size = usable_n(cfg, pool)
    pool = [row[:pool_size] for row in pool]
    if cfg.oracle and all(domain_of(p).checks_steps for p in problems):
        rms["oracle"] = OracleScorer(problems)
    methods = method_table(rms, cfg.aggregations, cfg.primary)
    agg_scores, step_scores, skipped = score_pool(rms, methods, pool, cfg.score_batch)
    groups = [answer_groups(p, [s.answer for s in row]) for p, row in zip(problems, pool)]
    curves = accuracy_curves(cfg, methods, pool, groups, agg_scores, n_values)
    step_eval, picks = step_checks(problems, pool, groups, methods, agg_scores, step_scores, n_values[-1])
    search = step_search_curves(problems, generator, rms, cfg, search_cfg) if cfg.search else {}
    table, files = write_figures(out, cfg, rms, n_values, curves, search, len(problems))
    result = {
        "n": n_values,
        "n_dropped": dropped,
        "n_problems": len(problems),
        "pool_size": pool_size,
        "source": "candidates"
        if cfg.candidates
        else ("synth" if is_synth(cfg.problems or SYNTH) else "problems"),
        "rms": {k: v.kind for k, v in rms.items()},
        "curves": curves,
        "search": search,
        "step_eval": step_eval,
        "skipped": skipped,
        "wrong_picks": {"n": n_values[-1], **picks} if picks else {},
        "sample_accuracy": float(np.mean([s.correct for row in pool for s in row])),
        "markdown": table,
        "files": files,
        "time_s": round(time.time() - t0, 2),
        "config": vars(cfg),
    }
    write_json(out / "results.json", result)
    return result
