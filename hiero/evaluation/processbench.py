"""Step-level evaluation of a reward model with the ProcessBench protocol (arXiv 2412.06559).

    hiero eval processbench --rm DIR --data ../shared/data/processbench/math.json \\
        --tune-on ../shared/data/processbench/gsm8k.json -o pb_math.json
    hiero eval processbench --rm DIR --data synth -o pb_synth.json     # built-in domain, known first errors
    Python: main(ProcessBenchConfig(rm=DIR, data=FILE, out=OUT)) -> summary dict

Protocol: the reward model scores every step; the predicted first error is the first step whose
score is below a threshold (-1 if none). Accuracy on erroneous items counts an exact index match,
accuracy on correct items counts a -1 prediction, and F1 is their harmonic mean (REFERENCE.md §3).
A scalar PRM needs that threshold: `--tune-on FILE` picks the F1-maximising value on another split
(ProcessBench's gsm8k split, conventionally) over a grid (see `metrics.tune_threshold`); otherwise
`--threshold` (default 0.5) is used. Both the threshold and where it came from are reported.

Also reported: step-level AUROC of the scores against ground-truth step labels, where known:
ProcessBench items give "good" for steps before the labelled first error and "bad" at it (later
steps are unlabelled and left out); Solution files give their `labels` (else the same rule from
`first_error`; steps past `meta.n_labelled` are unlabelled, as in the ProcessBench converter's
output); the built-in domain gives every step's truth from `synth.check_steps`.

Inputs: a ProcessBench JSON array (id, problem, steps, label, final_answer_correct), a Solution
JSONL whose rows have `question` and `first_error` (e.g. helper converters' output), or `synth`
(noisy built-in-domain solutions). `--rm oracle` scores with the built-in domain's ground truth
(synth data only): a sanity check that F1 = 1.
OUT.json holds the summary plus, per item, its label, prediction, step scores and step labels.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path

from hiero.data.io import DataError, read_json, read_jsonl, write_json
from hiero.evaluation.metrics import auroc, first_error_prediction, processbench_scores, tune_threshold
from hiero.scoring.strategies import SynthOracleScorer, score_solutions
from hiero.types import FieldError, Solution


@dataclass
class ProcessBenchConfig:
    """Settings of `hiero eval processbench`."""

    rm: str = field(default="", metadata={"help": "reward model folder ('oracle': ground truth, synth only)"})
    data: str = field(default="synth", metadata={"help": "ProcessBench .json, Solution .jsonl, or 'synth'"})
    tune_on: str = field(default="", metadata={"help": "split to tune the threshold on ('' = use --threshold)"})
    threshold: float = field(default=0.5, metadata={"help": "step score below which a step is an error"})
    limit: int = field(default=0, metadata={"help": "use only the first K items (0: all)"})
    synth_n: int = field(default=200, metadata={"help": "synth data: number of solutions"})
    synth_seed: int = field(default=2, metadata={"help": "synth data: problem and noise seed"})
    p_error: float = field(default=0.4, metadata={"help": "synth data: per-step error rate"})
    p_correction: float = field(default=0.2, metadata={"help": "synth data: chance an error is corrected"})
    batch: int = field(default=32, metadata={"help": "solutions per scorer call"})
    out: str = field(default="runs/processbench.json", metadata={"help": "output JSON file"})


@dataclass
class Item:
    """One evaluation item: steps, labelled first error, per-step truth (None: unknown)."""

    id: str
    question: str
    steps: list[str]
    label: int
    step_labels: list[int | None]


def _labels_from_first_error(n_steps: int, first: int) -> list[int | None]:
    """Steps before the first error are good (1), it is bad (0), later ones unknown (None)."""
    if first < 0:
        return [1] * n_steps
    return [1] * first + [0] + [None] * (n_steps - first - 1)


def read_processbench(path: str) -> list[Item]:
    """Items of a ProcessBench JSON array, checked field by field (errors name the item)."""
    data = read_json(path)
    if not isinstance(data, list):
        raise DataError(path, None, "expected a JSON array of ProcessBench items")
    items = []
    for i, d in enumerate(data):
        where = f"item {i}"
        if not isinstance(d, dict):
            raise DataError(path, None, f"{where}: expected an object")
        steps, label, problem = d.get("steps"), d.get("label"), d.get("problem")
        if not isinstance(problem, str):
            raise DataError(path, None, f"{where}: field 'problem': expected str")
        if not isinstance(steps, list) or not steps or not all(isinstance(s, str) for s in steps):
            raise DataError(path, None, f"{where}: field 'steps': expected a non-empty list of str")
        if isinstance(label, bool) or not isinstance(label, int) or not -1 <= label < len(steps):
            raise DataError(path, None, f"{where}: field 'label': expected an int in [-1, {len(steps) - 1}], got {label!r}")
        items.append(Item(str(d.get("id", i)), problem, steps, label, _labels_from_first_error(len(steps), label)))
    return items


def read_solutions(path: str) -> list[Item]:
    """Items from a Solution JSONL whose rows carry `question` and `first_error`."""
    items = []
    for lineno, s in enumerate(read_jsonl(path, Solution), start=1):
        try:
            if s.question is None:
                raise FieldError("question", "is missing (needed to score the steps)")
            if s.first_error is None:
                raise FieldError("first_error", "is missing (the ground truth of this evaluation)")
            if not -1 <= s.first_error < len(s.steps):
                raise FieldError("first_error", f"{s.first_error} outside [-1, {len(s.steps) - 1}]")
        except FieldError as e:
            raise DataError(path, lineno, str(e)) from None
        if s.labels is not None:
            labels: list[int | None] = list(s.labels)
            n_labelled = s.meta.get("n_labelled")  # converters mark steps after the first error unlabelled
            if isinstance(n_labelled, int):
                labels[n_labelled:] = [None] * (len(labels) - n_labelled)
        else:
            labels = _labels_from_first_error(len(s.steps), s.first_error)
        items.append(Item(f"{s.problem_id}#{lineno}", s.question, s.steps, s.first_error, labels))
    return items


def synth_items(n: int, seed: int, p_error: float, p_correction: float) -> tuple[list[Item], list]:
    """Noisy built-in-domain solutions with their exact first errors and step truths."""
    from hiero.data import synth

    problems = synth.generate_problems(n, seed=seed, split="test")
    rng = random.Random(seed)
    items = []
    for p in problems:
        sol = synth.render_noisy_solution(p, rng, p_error, p_correction)
        truth = synth.check_steps(p, sol.steps)
        items.append(Item(p.id, p.question, sol.steps, synth.first_error(p, sol.steps), [int(t) for t in truth]))
    return items, problems


def load_items(data: str, cfg: ProcessBenchConfig) -> tuple[list[Item], list]:
    if data == "synth":
        items, problems = synth_items(cfg.synth_n, cfg.synth_seed, cfg.p_error, cfg.p_correction)
    elif not Path(data).exists():
        raise DataError(data, None, "file not found")
    elif data.endswith(".json") or data.endswith(".json.gz"):
        items, problems = read_processbench(data), []
    else:
        items, problems = read_solutions(data), []
    return (items[:cfg.limit] if cfg.limit > 0 else items), problems


def load_rm(cfg: ProcessBenchConfig, problems: list):
    if cfg.rm == "oracle":
        return SynthOracleScorer(problems)  # raises on non-synth data
    if not cfg.rm:
        raise ValueError("give --rm DIR (a trained PRM/HRM folder)")
    from hiero.scoring.scorer import load_scorer

    scorer = load_scorer(cfg.rm)
    if scorer.kind == "orm":
        raise ValueError(f"{cfg.rm} is an outcome reward model; ProcessBench needs per-step scores (PRM/HRM)")
    return scorer


def evaluate(items: list[Item], step_scores: list[list[float]], threshold: float) -> dict:
    """ProcessBench metrics and step AUROC for scored items at one threshold (pure)."""
    preds = [first_error_prediction(s, threshold) for s in step_scores]
    metrics = processbench_scores(preds, [it.label for it in items])
    pairs = [(sc, lab) for it, ss in zip(items, step_scores) for sc, lab in zip(ss, it.step_labels) if lab is not None]
    metrics["auroc_step"] = auroc([p[0] for p in pairs], [p[1] for p in pairs]) if pairs else None
    metrics["n_labelled_steps"] = len(pairs)
    return {**metrics, "preds": preds}


def main(cfg: ProcessBenchConfig) -> dict:
    """Read -> score every step -> (tune threshold) -> metrics -> OUT.json."""
    t0 = time.time()
    items, problems = load_items(cfg.data, cfg)
    if not items:
        raise ValueError(f"{cfg.data}: no items")
    tune_items, tune_problems = load_items(cfg.tune_on, cfg) if cfg.tune_on else ([], [])
    scorer = load_rm(cfg, problems + tune_problems)

    def score(its: list[Item], name: str) -> list[list[float]]:
        got = score_solutions(scorer, [it.question for it in its], [it.steps for it in its], cfg.batch,
                              desc=f"score {name}")
        for it, g in zip(its, got):
            if len(g) != len(it.steps):
                raise ValueError(f"the scorer gave {len(g)} scores for the {len(it.steps)} steps of item {it.id}")
        return got

    threshold, source, tune_f1 = cfg.threshold, "fixed (--threshold)", None
    if tune_items:
        threshold, tune_f1 = tune_threshold(score(tune_items, "tune split"), [it.label for it in tune_items])
        source = f"tuned on {cfg.tune_on}"
    scores = score(items, "data")
    res = evaluate(items, scores, threshold)
    preds = res.pop("preds")
    summary = {
        "data": cfg.data, "rm": cfg.rm, "threshold": threshold, "threshold_source": source,
        "tune_f1": tune_f1, "n_items": len(items), **res, "time_s": round(time.time() - t0, 2),
    }
    per_item = [{"id": it.id, "label": it.label, "pred": p, "scores": s, "step_labels": it.step_labels}
                for it, p, s in zip(items, preds, scores)]
    write_json(cfg.out, {**summary, "config": vars(cfg), "items": per_item})
    return summary
