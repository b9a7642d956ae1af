"""A reward-model row and the label of each of its steps: the building blocks every row source shares.

    StepLabel(soft, hard, counts, known)    one step's label (UNKNOWN: context only, no label)
    make_row(question=, question_id=, steps=, labels=, kind=, source=, ...) -> Row (keywords only)
    merged_label(rule, first, second, threshold) -> the label of s_i ⊕ s_{i+1}

Trees and PRM800K (rows.py) and step-labelled solutions such as Math-Shepherd (rows_labelled.py) build
their rows with these; the row schema is documented in rows.py and checked by hiero.types.RewardRow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict


@dataclass
class StepLabel:
    soft: float
    hard: bool
    counts: list[int] | None  # [n_correct, n_total]
    known: bool = True  # False: no label (context only)


UNKNOWN = StepLabel(0.0, False, None, known=False)


class Row(TypedDict):
    """One reward-model row as written to JSONL (schema: hiero.reward.rows; checked on reading by
    hiero.types.RewardRow). Every list is aligned with `completions`."""

    prompt: str
    completions: list[str]
    labels: list[bool]
    soft_labels: list[float]
    counts: list[list[int] | None]
    merged: list[bool]
    label_mask: list[bool]
    kind: str
    source: str
    question_id: str
    meta: dict


def make_row(
    *,
    question: str,
    question_id: str,
    steps: list[str],
    labels: list[StepLabel],
    kind: str,
    source: str,
    merged: list[bool] | None = None,
    label_steps: str = "last",
    meta: dict | None = None,
) -> Row:
    """One row; the last step is always labelled, earlier ones only with label_steps='all'; `merged`
    marks the steps that are two merged steps (default: none).

    >>> r = make_row(question="q", question_id="q1", steps=["a", "b"], kind="prm", source="x",
    ...              labels=[StepLabel(1.0, True, [4, 4]), StepLabel(0.25, False, [1, 4])])
    >>> r["label_mask"], r["labels"], r["merged"]
    ([False, True], [True, False], [False, False])
    """
    n = len(steps)
    if len(labels) != n or (merged is not None and len(merged) != n):
        raise ValueError(f"row {question_id!r}: {n} steps, {len(labels)} labels, "
                         f"{n if merged is None else len(merged)} merge marks")
    mask = [lab.known and (label_steps == "all" or i == n - 1) for i, lab in enumerate(labels)]
    return Row(prompt=question, completions=steps, labels=[lab.hard for lab in labels],
               soft_labels=[lab.soft for lab in labels], counts=[lab.counts for lab in labels],
               merged=[False] * n if merged is None else merged, label_mask=mask, kind=kind, source=source,
               question_id=question_id, meta={} if meta is None else meta)


def merged_label(rule: str, first: StepLabel, second: StepLabel, threshold: float | None) -> StepLabel:
    """Label of s_i ⊕ s_{i+1} from the labels of s_i and s_{i+1} (`threshold` None: keep hard
    labels as given, for human ratings; else hard = soft >= threshold).

    >>> merged_label("product", StepLabel(0.5, True, [1, 2]), StepLabel(0.4, False, [2, 5]), 0.5).soft
    0.2
    """
    if rule in ("second", "mc"):  # on trees the merged node's subtree is the later node's: same counts
        return StepLabel(second.soft, second.hard, second.counts, second.known)
    if not (first.known and second.known):
        return UNKNOWN
    soft = min(first.soft, second.soft) if rule == "min" else first.soft * second.soft
    hard = (first.hard and second.hard) if threshold is None else soft >= threshold
    return StepLabel(soft, hard, None)
