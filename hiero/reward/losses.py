"""Reward-model losses: pure functions of head outputs and targets, one function per variant.

Every loss takes the head outputs read at the scored positions (one row per labelled step) and
the targets of those steps, and returns per-example losses (no reduction) so the trainer chooses
how to average. Rows whose target is IGNORE_INDEX must be removed *before* calling (see
`select_labelled`): the losses never see -100.

    hard_ce_loss(logits (N, 2), targets (N,) in {0, 1})   cross-entropy, official head for human labels
    soft_ce_loss(logits (N, 2), targets (N,) in [0, 1])   cross-entropy against the soft target
                                                           distribution (1 - t, t) (MC score t)
    mse_loss(outputs (N, 1) or (N,), targets (N,))         squared error on a 1-output head, official for
                                                           Monte-Carlo labels (HRM code: MSE on the MC score)

    step_scores(outputs, loss) -> (N,)   score of each step: P(class 1) for CE heads, raw output for MSE

Departure from the official code: the paper's code has only hard CE (human labels) and MSE (MC
labels); soft-label CE is added because it keeps the score a probability while still using the
MC score (Qwen2.5-Math-PRM style).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from hiero.types import IGNORE_INDEX


def hard_ce_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Two-class cross-entropy, -log softmax(logits)[target].

    logits  (N, 2) float; targets (N,) with values 0 or 1 (float or int). Returns (N,).
    """
    if logits.shape[-1] != 2:
        raise ValueError(f"hard_ce_loss needs a 2-class head, got {logits.shape[-1]} outputs")
    t = targets.float()
    if not torch.all((t == 0) | (t == 1)):
        raise ValueError("hard_ce_loss needs targets in {0, 1}; use --loss soft_ce or mse for soft labels")
    return F.cross_entropy(logits.float(), t.long(), reduction="none")


def soft_ce_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy against the distribution (1 - t, t): -(1 - t) log p0 - t log p1.

    logits  (N, 2) float; targets (N,) float in [0, 1]. Returns (N,).
    With t in {0, 1} this equals `hard_ce_loss`.
    """
    if logits.shape[-1] != 2:
        raise ValueError(f"soft_ce_loss needs a 2-class head, got {logits.shape[-1]} outputs")
    t = targets.float()
    logp = F.log_softmax(logits.float(), dim=-1)
    return -((1.0 - t) * logp[:, 0] + t * logp[:, 1])


def mse_loss(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Squared error of a 1-output head against the target: (y - t)^2.

    outputs (N, 1) or (N,) float; targets (N,) float. Returns (N,).
    """
    y = outputs.float().reshape(-1)
    return (y - targets.float()) ** 2


LOSSES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "hard_ce": hard_ce_loss,
    "soft_ce": soft_ce_loss,
    "mse": mse_loss,
}

# head width each loss needs
N_OUTPUTS = {"hard_ce": 2, "soft_ce": 2, "mse": 1}


def step_scores(outputs: torch.Tensor, loss: str) -> torch.Tensor:
    """Per-step score from head outputs (N, n_out): P(class 1) for CE heads, raw output for MSE."""
    if N_OUTPUTS[loss] == 2:
        return torch.softmax(outputs.float(), dim=-1)[:, 1]
    return outputs.float().reshape(-1)


def select_labelled(outputs: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Keep the rows whose target is not IGNORE_INDEX.

    outputs (N, n_out); targets (N,) float with IGNORE_INDEX (-100) for unlabelled steps.
    The comparison is on the float value: a target is never turned into a bool on the way.
    """
    keep = targets != IGNORE_INDEX
    return outputs[keep], targets[keep]


def accuracy(outputs: torch.Tensor, targets: torch.Tensor, loss: str) -> torch.Tensor:
    """Fraction of steps whose score is on the same side of 0.5 as the target (detached, scalar)."""
    s = step_scores(outputs.detach(), loss)
    return ((s > 0.5) == (targets > 0.5)).float().mean()
