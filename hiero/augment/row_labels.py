"""A reward-model row and the label of each of its steps: the building blocks every row source shares.

    StepLabel(soft, hard, counts, known)    one step's label (UNKNOWN: context only, no label)
    make_row(question, qid, steps, labels, merged, kind, source, label_steps, meta) -> row dict
    merged_label(rule, first, second, threshold) -> the label of s_i ⊕ s_{i+1}

Trees and PRM800K (rows.py) and step-labelled solutions such as Math-Shepherd (rows_labelled.py) build
their rows with these; the row schema is documented in rows.py and checked by hiero.types.RewardRow.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class StepLabel:
    soft: float
    hard: bool
    counts: list[int] | None  # [n_correct, n_total]
    known: bool = True  # False: no label (context only)


UNKNOWN = StepLabel(0.0, False, None, known=False)


def make_row(question: str, qid: str, steps: list[str], labels: list[StepLabel], merged: list[bool],
             kind: str, source: str, label_steps: str, meta: dict) -> dict:
    """One row; the last step is always labelled, earlier ones only with label_steps='all'."""
    n = len(steps)
    mask = [lab.known and (label_steps == "all" or i == n - 1) for i, lab in enumerate(labels)]
    return {"prompt": question, "completions": steps, "labels": [lab.hard for lab in labels],
            "soft_labels": [lab.soft for lab in labels], "counts": [lab.counts for lab in labels],
            "merged": merged, "label_mask": mask, "kind": kind, "source": source, "question_id": qid,
            "meta": meta}


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
