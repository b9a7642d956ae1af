"""Small, pure metrics shared by the evaluations: bootstrap confidence intervals, AUROC, ProcessBench F1.

    bootstrap_ci(values, n_boot=1000, alpha=0.05, seed=0)  -> (low, high) of the mean, resampling items
    auroc(scores, labels)                                   -> area under the ROC curve (ties count 1/2)
    roc_points(scores, labels, max_points=101)              -> {"fpr": [...], "tpr": [...]} for a plot
    first_error_prediction(step_scores, threshold)          -> index of the first step scored < threshold, -1
                                                            if none
    processbench_scores(preds, labels)                      -> acc_error, acc_correct, F1 (ProcessBench
                                                            protocol)

ProcessBench (arXiv 2412.06559) defines F1 as the harmonic mean of the accuracy on erroneous items
(predicted first-error index exactly equal to the label) and the accuracy on correct items
(predicted -1); it is not classic precision/recall (its paper's definition).

Run the tests: `.venv/bin/pytest tests/evaluation -q`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def bootstrap_ci(
    values: Sequence[float], n_boot: int = 1000, alpha: float = 0.05, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of `values` (one value per problem).

    The unit resampled is the problem: a curve point's uncertainty comes from which problems were
    drawn, which is what a reader comparing two reward models on the same set wants to know.
    With fewer than two values the interval collapses to the mean.
    """
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return float("nan"), float("nan")
    if x.size == 1 or n_boot <= 0:
        return float(x.mean()), float(x.mean())
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(n_boot, x.size))
    means = x[idx].mean(axis=1)
    return float(np.quantile(means, alpha / 2)), float(np.quantile(means, 1 - alpha / 2))


def auroc(scores: Sequence[float], labels: Sequence[int]) -> float | None:
    """P(score of a random positive > score of a random negative), ties counting one half.

    Computed from average ranks (Mann-Whitney U), so it is exact with ties. Returns None when only
    one class is present (the AUROC is undefined there).

    >>> auroc([0.9, 0.8, 0.3, 0.1], [1, 1, 0, 0])
    1.0
    >>> auroc([0.5, 0.5], [1, 0])
    0.5
    """
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels).astype(bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(s.size, dtype=np.float64)
    sorted_s = s[order]
    i = 0
    while i < s.size:  # average rank over each run of tied scores
        j = i
        while j + 1 < s.size and sorted_s[j + 1] == sorted_s[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    u = ranks[y].sum() - n_pos * (n_pos + 1) / 2
    return float(u / (n_pos * n_neg))


def roc_points(scores: Sequence[float], labels: Sequence[int], max_points: int = 101) -> dict | None:
    """The ROC curve as false / true positive rates at each distinct threshold, from (0, 0) to (1, 1).

    Thresholds run from the highest score down; tied scores move both rates at once, so the
    trapezoid area under these points equals `auroc`. Longer curves are thinned to about
    `max_points` points (always keeping both ends). None when only one class is present.

    >>> roc_points([0.9, 0.8, 0.3, 0.1], [1, 0, 1, 0])
    {'fpr': [0.0, 0.0, 0.5, 0.5, 1.0], 'tpr': [0.0, 0.5, 0.5, 1.0, 1.0]}
    """
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels).astype(bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last = np.r_[np.nonzero(np.diff(s))[0], s.size - 1]  # the last index of each run of tied scores
    tpr = np.r_[0.0, np.cumsum(y)[last] / n_pos]
    fpr = np.r_[0.0, np.cumsum(~y)[last] / n_neg]
    if tpr.size > max_points:
        keep = np.unique(np.r_[np.linspace(0, tpr.size - 1, max_points).round().astype(int)])
        tpr, fpr = tpr[keep], fpr[keep]
    return {"fpr": [round(float(x), 4) for x in fpr], "tpr": [round(float(x), 4) for x in tpr]}


def first_error_prediction(step_scores: Sequence[float], threshold: float) -> int:
    """ProcessBench prediction: the first step whose score is below `threshold`, or -1 if none.

    >>> first_error_prediction([0.9, 0.4, 0.2], 0.5)
    1
    >>> first_error_prediction([0.9, 0.6], 0.5)
    -1
    """
    for i, s in enumerate(step_scores):
        if s < threshold:
            return i
    return -1


def processbench_scores(preds: Sequence[int], labels: Sequence[int]) -> dict:
    """Accuracy on erroneous items (label >= 0, exact index), on correct items (label -1), and F1.

    F1 = 2·a_err·a_cor / (a_err + a_cor), 0 when both are 0. A split with no item of one kind gets
    None for that accuracy and for F1.
    """
    if len(preds) != len(labels):
        raise ValueError(f"{len(preds)} predictions for {len(labels)} labels")
    err = [p == y for p, y in zip(preds, labels) if y >= 0]
    cor = [p == -1 for p, y in zip(preds, labels) if y < 0]
    a_err = sum(err) / len(err) if err else None
    a_cor = sum(cor) / len(cor) if cor else None
    if a_err is None or a_cor is None:
        f1 = None
    else:
        f1 = 0.0 if a_err + a_cor == 0 else 2 * a_err * a_cor / (a_err + a_cor)
    return {"acc_error": a_err, "acc_correct": a_cor, "f1": f1, "n_error": len(err), "n_correct": len(cor)}


def tune_threshold(step_scores: Sequence[Sequence[float]], labels: Sequence[int],
                   grid: Sequence[float] | None = None) -> tuple[float, float]:
    """The threshold maximising ProcessBench F1 on one split; returns (threshold, F1).

    Default grid: 0.00, 0.01, …, 1.00 when every score lies in [0, 1] (probability heads), else the
    midpoints between consecutive distinct scores (regression heads give raw values). Ties keep the
    smallest threshold. Raises ValueError when the split lacks erroneous or correct items.
    """
    if grid is None:
        flat = np.asarray([s for row in step_scores for s in row], dtype=np.float64)
        if flat.size and flat.min() >= 0.0 and flat.max() <= 1.0:
            grid = np.round(np.linspace(0.0, 1.0, 101), 2).tolist()
        else:
            u = np.unique(flat)
            grid = (
                ([float(u[0]) - 1.0] + ((u[:-1] + u[1:]) / 2).tolist() + [float(u[-1]) + 1.0])
                if u.size
                else [0.5]
            )
    if not any(y >= 0 for y in labels) or not any(y < 0 for y in labels):
        raise ValueError(
            "tuning the threshold needs both erroneous and correct items (F1 is undefined otherwise)"
        )
    best_t, best_f1 = float(grid[0]), -1.0
    for t in grid:
        f1 = processbench_scores([first_error_prediction(s, t) for s in step_scores], labels)["f1"]
        if f1 > best_f1:
            best_t, best_f1 = float(t), f1
    return best_t, best_f1
