"""PRMBench (Song et al., arXiv 2501.03124): PRMScore of a process reward model, overall and per error class.

    hiero eval prmbench --rm SPEC --data ../shared/data/prmbench/ -o prmbench.json     # + prmbench.md
    hiero eval prmbench --rm scores:SCORES.jsonl --data ../shared/data/prmbench/ -o prmbench.json
    Python: main(PRMBenchConfig(rm=SPEC, data=FOLDER, out=OUT)) -> summary dict

The protocol of the official evaluator (ssmisya/PRMBench, `mr_eval/tasks/prmtest_classified/task.py`,
the model wrappers, and `mr_visualize/.../form_latex_strs.ipynb` which builds the paper's table):

- items: every *.jsonl of the folder; id f"{classification}_{idx}" (a repeated id keeps its first
  row, as task.py does); the question is `modified_question`, the steps `modified_process`, and
  `error_steps` (1-based) the wrong ones. A few real rows name a step past the last one; as in the
  evaluator, whose loop runs over the scored steps, such a number never counts.
- a step is predicted right when its score is > the threshold (0.5, the wrappers' strict
  `validity_threshold`; `--threshold`).
- per step, positive = a right step: TP a right step predicted right, FN predicted wrong, TN a wrong
  step predicted wrong, FP predicted right. F1 and the negative class's F1 come from one confusion
  matrix pooled over all steps (micro), with the evaluator's convention that an undefined precision
  or recall is -1 and still enters the F1 formula.
- PRMScore = 0.5·F1 + 0.5·F1_neg, overall (all nine classes' items pooled) and per class, except
  multi_solutions (no wrong steps), whose score is its F1. The categories are unweighted means of
  their classes: simplicity (redundency "NR.", circular "NCL."), soundness (counterfactual "ES.",
  step_contradiction "SC.", domain_inconsistency "DC.", confidence "CI."), sensitivity
  (missing_condition "PS.", deception "DR.", multi_solutions "MS.").
- not reproduced: the evaluator's "correct" twins of the redundency items enter only its similarity
  figure, never a PRMScore, so they are not scored here.

Items the reward model cannot score (longer than its context, a separator lost) are left out and
counted, with their ids, in `n_skipped` / `skipped`. Also reported: step AUROC (wrong steps against
right ones) over all classes.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from hiero.data.io import DataError, read_jsonl
from hiero.evaluation.metrics import auroc
from hiero.evaluation.processbench import take, write_with_table
from hiero.reward.base import score_items
from hiero.reward.spec import SPEC_HELP, ScorerFlags, load_scorer

log = logging.getLogger(__name__)

CATEGORIES = {
    "simplicity": {"redundency": "NR.", "circular": "NCL."},
    "soundness": {"counterfactual": "ES.", "step_contradiction": "SC.", "domain_inconsistency": "DC.",
                  "confidence": "CI."},
    "sensitivity": {"missing_condition": "PS.", "deception": "DR.", "multi_solutions": "MS."},
}
CLASSES = [c for members in CATEGORIES.values() for c in members]


@dataclass
class PRMBenchConfig(ScorerFlags):
    """Settings of `hiero eval prmbench`."""

    rm: str = field(default="", metadata={"help": SPEC_HELP})
    data: str = field(default="", metadata={"help": "PRMBench folder of *.jsonl (or one file)"})
    threshold: float = field(
        default=0.5, metadata={"help": "a step is predicted right when its score is > this"}
    )
    limit: int = field(
        default=0, metadata={"help": "use only K items of each class, spread over it (0: all)"}
    )
    batch: int = field(default=32, metadata={"help": "solutions per forward pass"})
    out: str = field(
        default="runs/prmbench.json", metadata={"help": "output JSON file (+ the .md table beside it)"}
    )


@dataclass
class Item:
    id: str
    classification: str
    question: str
    steps: list[str]
    error_steps: list[int]  # 0-based


def read_items(data: str) -> list[Item]:
    """PRMBench items of a folder of *.jsonl (or one file), checked field by field."""
    p = Path(data)
    if not p.exists():
        raise DataError(data, None, "file not found")
    files = sorted(p.glob("*.jsonl")) if p.is_dir() else [p]
    if not files:
        raise DataError(data, None, "no *.jsonl files (expected PRMBench's prm800k_*_4o_*.jsonl)")
    items, seen = [], set()
    for f in files:
        for lineno, row in enumerate(read_jsonl(f), start=1):
            def need(key, kind, row=row, f=f, lineno=lineno):
                v = row.get(key)
                if not isinstance(v, kind) or (isinstance(v, list) and not v and key == "modified_process"):
                    raise DataError(f, lineno, f"field '{key}': expected {kind.__name__}"
                                               f"{' (non-empty)' if key == 'modified_process' else ''}")
                return v

            cls, question, steps = (
                need("classification", str),
                need("modified_question", str),
                need("modified_process", list),
            )
            errors = need("error_steps", list)
            if cls not in CLASSES:
                raise DataError(f, lineno, f"field 'classification': {cls!r} is not one of {CLASSES}")
            if not all(isinstance(s, str) for s in steps):
                raise DataError(f, lineno, "field 'modified_process': expected a list of str")
            if not all(isinstance(e, int) and not isinstance(e, bool) and e >= 1 for e in errors):
                raise DataError(f, lineno, "field 'error_steps': expected 1-based step numbers (ints >= 1)")
            iid = f"{cls}_{row.get('idx')}"
            if iid in seen:  # task.py keeps the first row of a repeated id
                continue
            seen.add(iid)
            items.append(Item(iid, cls, question, steps, sorted({e - 1 for e in errors})))
    return items


def confusion(scores: list[float], error_steps: list[int], threshold: float) -> dict[str, int]:
    """The evaluator's per-item counts (positive = a right step, predicted right when score > threshold).

    >>> confusion([0.9, 0.2, 0.7, 0.1], [1, 2], 0.5)
    {'TP': 1, 'FN': 1, 'TN': 1, 'FP': 1}
    """
    out = {"TP": 0, "FN": 0, "TN": 0, "FP": 0}
    wrong = set(error_steps)
    for k, s in enumerate(scores):
        right = s > threshold
        if k in wrong:
            out["FP" if right else "TN"] += 1
        else:
            out["TP" if right else "FN"] += 1
    return out


def f1_pair(m: dict[str, int]) -> tuple[float, float]:
    """(F1 of right steps, F1 of wrong steps) from one confusion matrix, with the evaluator's -1 convention.

    >>> [round(x, 4) for x in f1_pair({"TP": 3, "FN": 1, "TN": 2, "FP": 2})]
    [0.6667, 0.5714]
    >>> f1_pair({"TP": 4, "FN": 0, "TN": 0, "FP": 0})
    (1.0, -1.0)
    """
    def ratio(a, b):
        return a / (a + b) if a + b else -1

    def f1(p, r):
        return 2 * p * r / (p + r) if p + r else -1

    tp, fn, tn, fp = m["TP"], m["FN"], m["TN"], m["FP"]
    return f1(ratio(tp, fp), ratio(tp, fn)), f1(ratio(tn, fn), ratio(tn, fp))


def prm_score(m: dict[str, int], cls: str | None = None) -> float:
    """PRMScore of a pooled matrix: 0.5·F1 + 0.5·F1_neg (multi_solutions: F1)."""
    f1, f1_neg = f1_pair(m)
    return f1 if cls == "multi_solutions" else 0.5 * f1 + 0.5 * f1_neg


def evaluate(items: list[Item], scores: list[list[float]], threshold: float) -> dict:
    """PRMBench metrics of scored items (pure)."""
    total = {"TP": 0, "FN": 0, "TN": 0, "FP": 0}
    per_class: dict[str, dict[str, int]] = {c: dict(total) for c in CLASSES}
    counts = {c: 0 for c in CLASSES}
    flat_scores, flat_labels = [], []
    for it, sc in zip(items, scores, strict=True):
        m = confusion(sc, it.error_steps, threshold)
        counts[it.classification] += 1
        for k in m:
            total[k] += m[k]
            per_class[it.classification][k] += m[k]
        wrong = set(it.error_steps)
        flat_scores += sc
        flat_labels += [0 if k in wrong else 1 for k in range(len(sc))]
    classes = {}
    for c in CLASSES:
        if counts[c]:
            f1, f1_neg = f1_pair(per_class[c])
            classes[c] = {
                "n_items": counts[c],
                "prm_score": prm_score(per_class[c], c),
                "f1": f1,
                "f1_neg": f1_neg,
                "confusion": per_class[c],
            }
    cats = {}
    for cat, members in CATEGORIES.items():
        got = [classes[c]["prm_score"] for c in members if c in classes]
        cats[cat] = sum(got) / len(got) if len(got) == len(members) else None
    f1, f1_neg = f1_pair(total)
    return {"prm_score": prm_score(total), "f1": f1, "f1_neg": f1_neg, "confusion": total, "classes": classes,
            "categories": cats, "auroc_step_right_vs_wrong": auroc(flat_scores, flat_labels),
            "n_items": len(items), "n_steps": len(flat_scores), "n_wrong_steps": flat_labels.count(0)}


def markdown_table(res: dict, name: str) -> str:
    """The paper's layout: Overall, then each category's classes and their average, ×100."""
    def pct(x):
        return "n/a" if x is None else f"{100 * x:.1f}"

    head, row = ["model", "Overall"], [name, pct(res["prm_score"])]
    for cat, members in CATEGORIES.items():
        for c, short in members.items():
            head.append(short)
            row.append(pct(res["classes"].get(c, {}).get("prm_score")))
        head.append(f"Avg. ({cat})")
        row.append(pct(res["categories"][cat]))
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head), "| " + " | ".join(row) + " |"]
    return "\n".join(lines) + f"\n\nPRMScore ×100 (0.5·F1 + 0.5·F1_neg), threshold {res['threshold']:g}, " \
                              f"{res['n_items']} items, {res['n_steps']} steps"


def spread(items: list[Item], limit: int) -> list[Item]:
    """K items of each class, spread over it (processbench.take), classes in CLASSES order."""
    if limit <= 0:
        return items
    return [it for c in CLASSES for it in take([x for x in items if x.classification == c], limit, "spread")]


def main(cfg: PRMBenchConfig) -> dict:
    """Read -> score every step -> PRMScore overall, per class and category -> OUT.json, OUT.md."""
    t0 = time.time()
    if not cfg.rm or not cfg.data:
        raise ValueError("hiero eval prmbench needs --rm SPEC (or scores:FILE) and --data PRMBENCH_FOLDER")
    items = spread(read_items(cfg.data), cfg.limit)
    if not items:
        raise DataError(cfg.data, None, "no PRMBench items")
    scorer = load_scorer(cfg.rm, batch_size=cfg.batch, dtype=cfg.dtype, device_map=cfg.device_map,
                         max_tokens=cfg.max_tokens)
    if scorer.kind == "orm":
        raise ValueError(f"{cfg.rm} is an outcome reward model; PRMBench needs per-step scores")
    got = score_items(
        scorer,
        [it.question for it in items],
        [it.steps for it in items],
        [it.id for it in items],
        cfg.batch,
        desc="score prmbench",
    )
    keep = [i for i, s in enumerate(got.scores) if s is not None]
    if got.skipped:
        log.warning("%d of %d items could not be scored and are left out (first: %s)", len(got.skipped),
                    len(items), next(iter(got.skipped.items())))
    kept, scores = [items[i] for i in keep], [got.scores[i] for i in keep]
    res = {
        "data": cfg.data,
        "rm": cfg.rm,
        "threshold": cfg.threshold,
        **evaluate(kept, scores, cfg.threshold),
        **got.summary(),
    }
    name = Path(cfg.rm.split("#")[0].rstrip("/")).name or cfg.rm
    res["markdown"] = markdown_table(res, name)
    res["time_s"] = round(time.time() - t0, 2)
    write_with_table(
        cfg.out,
        {
            **res,
            "config": vars(cfg),
            "items": [
                {"id": it.id, "classification": it.classification, "error_steps": it.error_steps, "scores": s}
                for it, s in zip(kept, scores)
            ],
        },
        res["markdown"],
    )
    return res
