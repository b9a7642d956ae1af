"""Compare policies after preference training (`hiero po eval`): base vs DPO vs HiPO.

    hiero po eval --models base=runs/policy,dpo=runs/dpo,hipo=runs/hipo --problems test.jsonl \\
        [--judge-base-url http://127.0.0.1:8000/v1 --judge-model gpt-4.1 --pairwise hipo:dpo] -o eval.json
    Python (the demo): compare({"base": dir0, "dpo": dir1, "hipo": dir2}, problems) -> dict

Every model answers every held-out problem greedily in its own prompt format (`hiero.policy.prompt`: the
raw template, or its chat template; DPO / HiPO models carry their base's, so all compared models share one),
through `hiero.policy.generators.evaluate_accuracy`,
and is graded by rule (`hiero.domains.answer_of`: the built-in domain's checker, or hiero.grading);
"ci95" holds 95% bootstrap intervals over problems of each accuracy, "vs_first" each model minus the first one
(paired by problem: same problems, so the interval is of the difference). When a judge
server is given, each solution is also scored with the paper's 11-criterion rubric, and chosen model
pairs are compared by the pairwise judge with the order swapped (judge.py). Judge scores are
reported under "judge" / "pairwise", apart from the rule-based "accuracy"; they never change it.
On the built-in domain each model's segments are also checked without a judge ("segments":
clarification step right, share of right steps, first-error position, answer right;
`hiero.evaluation.domain_checks.segment_quality`). On other problems (GSM8K, MATH500, ...), where no
step can be checked, "segments" holds what can be read without a judge: the share of solutions in
which the heuristic segmenter finds each segment (a restated question, reasoning, a stated answer;
`segment_presence`).

Departures from the paper: the authors' evaluation used different prompts for HiPO and baseline
models (the HiPO seed's "bugs not to copy"); here one prompt for all. The paper's benchmarks (GSM8K,
MATH500, …) are any Problem JSONL here; the demo uses the built-in domain's test split.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hiero.data.io import read_jsonl, write_json, write_jsonl
from hiero.domains import domain_of
from hiero.preference.chat import make_chat_client
from hiero.preference.judge import PairwiseJudge, RubricJudge, summarise_pairwise, summarise_rubric
from hiero.types import Problem

PROMPT_NOTE = ("each model's own prompt format (hiero.policy.prompt.prompt_format); models trained from one "
               "base share it")


@dataclass
class POEvalConfig:
    models: list[str] = field(
        default_factory=list, metadata={"help": "NAME=DIR,... (e.g. base=runs/policy,hipo=runs/hipo)"}
    )
    problems: str = field(default="", metadata={"help": "held-out Problem JSONL"})
    limit: int = field(default=0, metadata={"help": "first N problems only (0: all)"})
    max_new_tokens: int = field(default=128, metadata={"help": "generation budget per solution"})
    batch_size: int = field(default=64, metadata={"help": "prompts per generation batch"})
    judge_base_url: str | None = field(
        default=None, metadata={"help": "OpenAI-compatible judge server (off if unset)"}
    )
    judge_model: str = field(default="gpt-4.1", metadata={"help": "judge model name"})
    judge_limit: int = field(
        default=0, metadata={"help": "judge only the first N solutions per model (0: all)"}
    )
    pairwise: list[str] = field(
        default_factory=list, metadata={"help": "model pairs for the pairwise judge, X:Y,..."}
    )
    cache_dir: str = field(default="runs/cache/po", metadata={"help": "judge reply cache root"})
    out: str = field(default="runs/po_eval.json", metadata={"help": "summary JSON"})
    device: str | None = field(
        default=None, metadata={"help": "generation device (default: cuda if available)"}
    )
    solutions_out: str | None = field(
        default=None, metadata={"help": "also write every model's solutions here (JSONL)"}
    )


def parse_models(items: list[str]) -> dict[str, str]:
    """["base=runs/p", "hipo=runs/h"] -> {"base": "runs/p", "hipo": "runs/h"}."""
    out = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise ValueError(f"--models entries are NAME=DIR, got {item!r}")
        out[name] = path
    return out


def accuracy_intervals(hits: dict[str, list[bool]]) -> tuple[dict, dict]:
    """95% bootstrap intervals over problems of each model's accuracy, and of each later model's
    accuracy minus the first one's, paired by problem (every model answered the same problems)."""
    from hiero.evaluation.metrics import bootstrap_ci

    x = {k: np.asarray(v, dtype=np.float64) for k, v in hits.items()}
    if len({len(v) for v in x.values()}) > 1:
        raise ValueError(
            f"models answered different numbers of problems: { {k: len(v) for k, v in x.items()} }"
        )
    ci = {k: [round(b, 4) for b in bootstrap_ci(v)] for k, v in x.items()}
    first = next(iter(x), None)
    vs = {k: {"than": first, "delta": round(float((v - x[first]).mean()), 4),
              "ci95": [round(b, 4) for b in bootstrap_ci(v - x[first])]} for k, v in x.items() if k != first}
    return ci, vs


def compare(
    models: dict[str, str],
    problems: list[Problem],
    *,
    max_new_tokens: int = 128,
    batch_size: int = 64,
    judge_client=None,
    judge_model: str = "gpt-4.1",
    judge_limit: int = 0,
    pairwise: list[tuple[str, str]] | None = None,
    cache_dir: str | Path | None = None,
    device: str | None = None,
    solutions_out: str | Path | None = None,
) -> dict:
    """Greedy accuracy of each model on `problems` (same prompt for all) and, with a judge client,
    rubric means per model and pairwise win rates. Returns a JSON-able dict. With `solutions_out`,
    every solution is also written there, one row {model, id, question, answer, solution, correct}
    per model and problem (for error analysis beyond the summary)."""
    from hiero.policy.generators import evaluate_accuracy
    from hiero.policy.hf_backend import HFGenerator

    if not problems:
        raise ValueError("no problems to evaluate on")
    result: dict = {"prompt": PROMPT_NOTE, "n": len(problems), "accuracy": {}, "models": {}}
    texts, hits = {}, {}
    for name, path in models.items():
        gen = HFGenerator(path, batch_size=batch_size, device=device)
        acc = evaluate_accuracy(
            gen, problems, batch_size=batch_size, max_new_tokens=max_new_tokens, return_texts=True
        )
        texts[name] = acc.pop("texts")
        correct = acc.pop("correct")
        result["accuracy"][name] = round(acc["accuracy"], 4)
        hits[name] = correct
        result["models"][name] = {
            "dir": str(path),
            **acc,
            "examples": [
                {"question": p.question, "solution": t, "correct": c}
                for p, t, c in list(zip(problems, texts[name], correct))[:3]
            ],
        }
        if all(domain_of(p).checks_steps for p in problems):  # segment quality checked by the domain
            from hiero.evaluation.domain_checks import segment_quality

            result.setdefault("segments", {})[name] = segment_quality(problems, texts[name])
        else:  # no step checker: which segments a solution has at all
            result.setdefault("segments", {})[name] = segment_presence(problems, texts[name])
        del gen
    result["ci95"], result["vs_first"] = accuracy_intervals(hits)
    if solutions_out:
        write_jsonl(solutions_out, ({"model": name, "id": p.id, "question": p.question, "answer": p.answer,
                                     "solution": t, "correct": c}
                                    for name in models for p, t, c in zip(problems, texts[name], hits[name])))
    if judge_client is None:
        return result
    cache = Path(cache_dir) / "judge" if cache_dir else None
    n_j = judge_limit or len(problems)
    qs, refs = [p.question for p in problems[:n_j]], [p.answer for p in problems[:n_j]]
    rubric = RubricJudge(judge_client, judge_model, cache)
    result["judge"] = {name: summarise_rubric(rubric.score(qs, texts[name][:n_j], refs)) for name in models}
    if pairwise:
        pj = PairwiseJudge(judge_client, judge_model, cache)
        result["pairwise"] = {
            f"{x}_vs_{y}": summarise_pairwise(pj.compare(qs, texts[x][:n_j], texts[y][:n_j]))
            for x, y in pairwise
        }
    result["judge_requests"] = rubric.chat.calls + (pj.chat.calls if pairwise else 0)
    return result


def segment_presence(problems: list[Problem], texts: list[str]) -> dict:
    """The share of solutions in which the heuristic segmenter finds each segment (clarification: the
    question restated or its givens named; reasoning; answer: a stated final answer), and the share
    with all three: the judge-free segment figures for problems whose steps cannot be checked.

    >>> p = Problem(id="q", question="Tom has 3 apples and buys 2 more. How many apples?", answer="5")
    >>> segment_presence([p, p], ["Tom has 3 apples and buys 2.\\n3 + 2 = 5\\nThe answer is 5", "5"])
    {'clarification': 0.5, 'reasoning': 1.0, 'answer': 0.5, 'all': 0.5, 'n': 2}
    """
    from hiero.preference.segment import DEFAULT_NAMES, HeuristicSegmenter, has_segment

    seg = HeuristicSegmenter(names=DEFAULT_NAMES)
    spans = [seg.segment(p.question, t) for p, t in zip(problems, texts, strict=True)]
    has = [{k: has_segment(s, k) for k in DEFAULT_NAMES} for s in spans]
    n = max(len(has), 1)
    out = {k: round(sum(h[k] for h in has) / n, 4) for k in DEFAULT_NAMES}
    return {**out, "all": round(sum(all(h.values()) for h in has) / n, 4), "n": len(has)}


def main(cfg: POEvalConfig) -> dict:
    models = parse_models(cfg.models)
    if not models or not cfg.problems:
        raise ValueError("--models and --problems are required")
    problems = list(read_jsonl(cfg.problems, Problem))
    problems = problems[:cfg.limit] if cfg.limit else problems
    pairs = []
    for item in cfg.pairwise:
        x, sep, y = item.partition(":")
        if not sep or x not in models or y not in models:
            raise ValueError(f"--pairwise entries are X:Y with X and Y among {sorted(models)}, got {item!r}")
        pairs.append((x, y))
    client = make_chat_client(cfg.judge_base_url, cfg.judge_model) if cfg.judge_base_url else None
    result = compare(
        models,
        problems,
        max_new_tokens=cfg.max_new_tokens,
        batch_size=cfg.batch_size,
        judge_client=client,
        judge_model=cfg.judge_model,
        judge_limit=cfg.judge_limit,
        pairwise=pairs,
        cache_dir=cfg.cache_dir,
        device=cfg.device,
        solutions_out=cfg.solutions_out,
    )
    write_json(cfg.out, result)
    return result


def judge_file(
    path: str, out: str, base_url: str, model: str = "gpt-4.1", cache_dir: str = "runs/cache/po"
) -> dict:
    """Rubric-score rows {question, response[, reference]} of a JSONL file; writes one score per row."""
    rows = list(read_jsonl(path))
    for i, r in enumerate(rows, start=1):
        if not isinstance(r.get("question"), str) or not isinstance(r.get("response"), str):
            from hiero.data.io import DataError

            raise DataError(path, i, "fields 'question' and 'response' must be strings")
    judge = RubricJudge(make_chat_client(base_url, model), model, Path(cache_dir) / "judge")
    scores = judge.score([r["question"] for r in rows], [r["response"] for r in rows],
                         [str(r.get("reference", "")) for r in rows])
    write_jsonl(out, [{**r, "judge": s} for r, s in zip(rows, scores)])
    summary = summarise_rubric(scores)
    print(json.dumps(summary, indent=2))
    return summary
