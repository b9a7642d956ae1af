"""Step-level AUROC of a reward model on labelled stepwise rows (`hiero eval steps`).

    hiero rm data --from prm800k --kind prm --eval-fraction 0 ../shared/data/prm800k/phase1_test.jsonl -o \\
        test_rows
    hiero eval steps --rm runs/rm_prm --rows test_rows/train.jsonl -o steps.json [--limit 1000 --seed 0]
    Python: main(StepEvalConfig(rm=DIR, rows=FILE, out=OUT)) -> summary dict

Rows are TRL stepwise-supervision rows as `hiero rm data` writes them (prompt, completions, labels,
label_mask, question_id). Every labelled step (label_mask true; all steps when there is no mask)
is scored and compared with its hard label (`labels`: true = a good step), so on PRM800K phase-1
test rows, which label only their last step (a human-rated candidate after the chosen previous
steps), the figure is the AUROC of the reward model against the human ratings of all +1 / -1
candidates (neutral ratings follow `hiero rm data --neutral`, dropped by default).

Per-step reward models (`--read per-step`) build only the labelled steps' prompts, exactly as
`hiero rm score` does (RMScorer.step_ids, with the model's truncation); marker-mode and public
reward models score whole rows in one pass and their labelled steps are read out.

Reported: auroc (None if one class is missing), a percentile bootstrap interval that resamples
questions (steps of one question are not independent), counts, accuracy at 0.5, mean score per
class and, when rows carry `meta.row_type` (PRM800K HRM rows: step / merged_pair), AUROC per type.
`--limit K` scores K rows drawn at random with `--seed` (0: all). OUT.json holds the summary and
every scored step (row index, step, label, score).
Tests: `.venv/bin/python -m pytest -q tests/evaluation/test_labelled_rows.py`.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hiero.data.io import write_json
from hiero.evaluation.metrics import auroc
from hiero.reward.base import skip_summary
from hiero.reward.spec import SPEC_HELP, ScorerFlags
from hiero.types import IGNORE_INDEX


@dataclass
class StepEvalConfig(ScorerFlags):
    """Settings of `hiero eval steps`."""

    rm: str = field(default="", metadata={"help": SPEC_HELP})
    rows: str = field(
        default="", metadata={"help": "stepwise rows JSONL (`hiero rm data` train.jsonl / eval.jsonl)"}
    )
    limit: int = field(default=0, metadata={"help": "score K rows drawn at random (0: all)"})
    seed: int = field(default=0, metadata={"help": "seed of --limit and of the bootstrap"})
    batch: int = field(default=64, metadata={"help": "sequences per forward pass"})
    device: str = field(default="auto", metadata={"help": "auto | cpu | cuda | cuda:N"})
    n_boot: int = field(
        default=1000, metadata={"help": "bootstrap resamples of questions for the AUROC interval"}
    )
    out: str = field(default="runs/eval_steps.json", metadata={"help": "output JSON file"})


def labelled_steps(rows: list[dict]) -> list[tuple[int, int, int]]:
    """(row index, step index, hard label 1/0) of every labelled step.

    >>> labelled_steps([{"completions": ["a", "b"], "labels": [True, False], "label_mask": [False, True]}])
    [(0, 1, 0)]
    """
    from hiero.reward.collate import row_targets

    out = []
    for r, row in enumerate(rows):
        for k, t in enumerate(row_targets(row, "hard")):
            if t != IGNORE_INDEX:
                out.append((r, k, int(t)))
    return out


def score_labelled(
    scorer, rows: list[dict], steps: list[tuple[int, int, int]], batch: int
) -> tuple[list, dict]:
    """(one score per labelled step in the order of `steps`, None where its row could not be scored;
    {"row R": reason} of those). Each row is scored once, up to its last labelled step; a scorer that
    builds one input per step (hiero's per-step mode) builds only the labelled steps' inputs."""
    from hiero.reward.base import EncodedScorer, score_items

    if getattr(scorer, "kind", None) == "orm":
        raise ValueError("an outcome reward model gives one score per solution; step AUROC needs a PRM/HRM")
    wanted: dict[int, list[int]] = defaultdict(list)
    for r, k, _ in steps:
        wanted[r].append(k)
    order = sorted(wanted)
    qs = [rows[r]["prompt"] for r in order]
    sols = [rows[r]["completions"][:max(wanted[r]) + 1] for r in order]
    names = [f"row {r + 1}" for r in order]
    if isinstance(scorer, EncodedScorer):
        got, failed = scorer.score_indexed(qs, sols, [sorted(set(wanted[r])) for r in order])
        skipped = {names[i]: why for i, why in failed.items()}
        by_row = {r: None if g is None else dict(zip(sorted(set(wanted[r])), g)) for r, g in zip(order, got)}
    else:
        res = score_items(scorer, qs, sols, names, batch)
        skipped = res.skipped
        by_row = {r: None if g is None else dict(enumerate(g)) for r, g in zip(order, res.scores)}
    return [None if by_row[r] is None else by_row[r][k] for r, k, _ in steps], skipped


def question_bootstrap(scores: list[float], labels: list[int], groups: list[str], n_boot: int,
                       seed: int) -> tuple[float | None, float | None]:
    """95% percentile interval of the AUROC, resampling questions with replacement."""
    by_group: dict[str, list[int]] = defaultdict(list)
    for i, g in enumerate(groups):
        by_group[g].append(i)
    keys = list(by_group)
    if n_boot <= 0 or len(keys) < 2:
        return None, None
    s, y = np.asarray(scores), np.asarray(labels)
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_boot):
        idx = np.concatenate([by_group[keys[j]] for j in rng.integers(0, len(keys), size=len(keys))])
        a = auroc(s[idx], y[idx])
        if a is not None:
            values.append(a)
    if not values:
        return None, None
    return float(np.quantile(values, 0.025)), float(np.quantile(values, 0.975))


def main(cfg: StepEvalConfig) -> dict:
    """Score the labelled steps of `cfg.rows` with `cfg.rm`; writes OUT.json; returns the summary."""
    from hiero.reward.spec import load_scorer
    from hiero.reward.train import load_rows

    if not cfg.rm or not cfg.rows:
        raise ValueError("hiero eval steps needs --rm DIR and --rows ROWS.jsonl")
    t0 = time.time()
    rows = load_rows(cfg.rows)
    n_rows = len(rows)
    if cfg.limit and cfg.limit < len(rows):
        keep = sorted(random.Random(cfg.seed).sample(range(len(rows)), cfg.limit))
        rows = [rows[i] for i in keep]
    steps = labelled_steps(rows)
    if not steps:
        raise ValueError(f"{cfg.rows}: no labelled steps")
    scorer = load_scorer(cfg.rm, batch_size=cfg.batch, device=cfg.device, dtype=cfg.dtype,
                         device_map=cfg.device_map, max_tokens=cfg.max_tokens)
    scores, skipped = score_labelled(scorer, rows, steps, cfg.batch)
    if skipped:  # left out of every figure, counted and named in the output
        steps = [st for st, sc in zip(steps, scores) if sc is not None]
        scores = [sc for sc in scores if sc is not None]
    labels = [y for _, _, y in steps]
    groups = [str(rows[r].get("question_id", r)) for r, _, _ in steps]
    low, high = question_bootstrap(scores, labels, groups, cfg.n_boot, cfg.seed)
    s, y = np.asarray(scores), np.asarray(labels)
    summary = {
        "rm": cfg.rm, "rows_file": cfg.rows, "rows_in_file": n_rows, "rows": len(rows), "steps": len(steps),
        "questions": len(set(groups)), "positive": int(y.sum()), "negative": int((1 - y).sum()),
        "auroc": auroc(scores, labels), "auroc_ci95": [low, high],
        "accuracy_at_0.5": float(((s >= 0.5) == (y == 1)).mean()),
        "mean_score_good": float(s[y == 1].mean()) if (y == 1).any() else None,
        "mean_score_bad": float(s[y == 0].mean()) if (y == 0).any() else None,
        "limit": cfg.limit, "seed": cfg.seed, "n_skipped_rows": len(skipped),
        "skipped": skip_summary(skipped)["skipped"],
    }
    types = [(rows[r].get("meta") or {}).get("row_type") for r, _, _ in steps]
    if len(set(types) - {None}) > 1:
        summary["auroc_by_row_type"] = {
            t: auroc(
                [sc for sc, tt in zip(scores, types) if tt == t],
                [lb for lb, tt in zip(labels, types) if tt == t],
            )
            for t in sorted(set(types) - {None})
        }
    summary["time_s"] = round(time.time() - t0, 2)
    Path(cfg.out).parent.mkdir(parents=True, exist_ok=True)
    write_json(cfg.out, {**summary, "items": [{"row": r, "step": k, "label": lab, "score": sc}
                                              for (r, k, lab), sc in zip(steps, scores, strict=True)]})
    return summary
