"""Reward-model rows from solutions with a hard label per step: Math-Shepherd (`hiero rm data --from
math-shepherd`).

    hiero rm data --kind prm|hrm|orm --from math-shepherd \\
        ../shared/data/math_shepherd/openr_samples_math-shepherd.jsonl -o rows/
    python: main(RowsConfig(inputs=[...], out_dir=..., kind="hrm", source="math-shepherd"))  # reward.rows

Input: the raw Math-Shepherd file (`input` / `label` with ` ки` step tags), its conversion by
`hiero data convert --format math-shepherd`, or any Solution JSONL whose `labels` give one 0/1 per
step (ProcessBench and LateBench conversions too: their `meta.n_labelled` says how many leading
steps carry a source label, and only those make rows).

Rows (the same schema and rules as PRM800K's in rows.py, one labelled "candidate" per position):
- PRM: for each labelled step i, (question, steps[:i+1]), the label on step i (`--label-steps all`
  also labels the prefix with its own labels). Math-Shepherd's "+" is 1, "-" is 0; soft labels are
  1.0 / 0.0 (the file keeps only the hard Monte-Carlo estimate, not its counts).
- HRM: the PRM rows plus (steps[:i-1], s_{i-1} ⊕ s_i) for i >= 1, labelled by --merge-label
  (second: s_i's label; min / product: the AND of the two hard labels), as rows.merged_label does
  for PRM800K's human ratings.
- ORM: each finished solution (one with an answer) once, labelled by its `correct` flag, which the
  Math-Shepherd converter reads off the last step's label; unfinished ones are skipped and counted.
Question ids group the solutions of one question (the converter hashes the question text), so the
train / eval split never puts one question on both sides.
"""

from __future__ import annotations

from pathlib import Path

from hiero.augment.hnc import merge_steps
from hiero.data.io import DataError, read_jsonl
from hiero.reward.row_labels import StepLabel, make_row, merged_label
from hiero.types import Solution

SOURCE = "math-shepherd"


def load_labelled(path: str | Path) -> list[Solution]:
    """Solutions with per-step labels: the raw Math-Shepherd file is converted on the fly."""
    from hiero.data.sources import run_converter
    from hiero.data.sources_common import iter_records

    path = Path(path)
    first = next((rec for _, rec in iter_records(path)), None)
    if first is None:
        raise DataError(path, None, "no records")
    if isinstance(first, dict) and "input" in first and "label" in first:
        return run_converter("math-shepherd", path).records
    sols = list(read_jsonl(path, Solution))
    for i, s in enumerate(sols, start=1):
        if s.labels is None:
            raise DataError(
                path,
                i,
                "field 'labels': missing (a solution with one 0/1 label per step is needed; "
                "make one with `hiero data convert --format math-shepherd`)",
            )
        if s.question is None:
            raise DataError(path, i, "field 'question': missing")
    return sols


def _label(x: int) -> StepLabel:
    return StepLabel(float(x), bool(x), None)


def labelled_rows(sol: Solution, cfg, counts: dict) -> list[dict]:
    """PRM / HRM / ORM rows of one labelled solution (`cfg` is a rows.RowsConfig)."""
    q, qid, steps = sol.question or "", sol.problem_id, sol.steps
    labels = [_label(x) for x in sol.labels]
    if cfg.kind == "orm":
        if sol.answer is None or sol.correct is None:
            counts["orm_unfinished_skipped"] = counts.get("orm_unfinished_skipped", 0) + 1
            return []
        lab = _label(int(sol.correct))
        return [make_row(question=q, question_id=qid, steps=list(steps), labels=[lab] * len(steps),
                         kind="orm", source=SOURCE, meta={"row_type": "solution"})]
    n = int(sol.meta.get("n_labelled", len(steps)))  # ProcessBench / LateBench: filled-in labels after
    rows = []
    for i in range(min(n, len(steps))):
        meta = {"row_type": "step", "step": i}
        rows.append(make_row(question=q, question_id=qid, steps=steps[:i + 1], labels=labels[:i + 1],
                             kind=cfg.kind, source=SOURCE, label_steps=cfg.label_steps, meta=meta))
        if cfg.kind == "hrm" and i >= 1:
            mlab = merged_label(cfg.merge_label, labels[i - 1], labels[i], None)
            rows.append(make_row(question=q, question_id=qid,
                                 steps=steps[:i - 1] + [merge_steps(steps[i - 1], steps[i])],
                                 labels=labels[:i - 1] + [mlab], merged=[False] * (i - 1) + [True],
                                 kind=cfg.kind, source=SOURCE,
                                 label_steps=cfg.label_steps, meta={**meta, "row_type": "merged_pair"}))
    return rows
