"""Self-training losses (HRM paper §self-training): CE + λ·log(1 + KL(π_ref ‖ π)), pure functions.

    shift_for_next_token(logits, labels)                 -> logits[:, :-1], labels[:, 1:], mask
    token_ce(logits, labels)                             -> (B,) mean next-token CE over response tokens
    token_kl(ref_logits, logits, labels)                 -> (B,) mean per-token KL(π_ref ‖ π) over the
                                                         vocabulary
    selftrain_loss(logits, ref_logits, labels, lam, kl_form) -> (B,) losses, metrics

Shapes: logits and ref_logits (B, T, V) from one forward pass each over the same input_ids (B, T);
labels (B, T) hold the input ids at response positions and IGNORE_INDEX at prompt and padding.
Labels are shifted ONCE, here (position t's logits predict token t+1); callers pass unshifted ones.

Per example i with response positions R_i (labels != IGNORE_INDEX after the shift):
    CE_i = -1/|R_i| Σ_{t∈R_i} log π(y_t | y_<t)
    KL_i =  1/|R_i| Σ_{t∈R_i} Σ_v π_ref(v | y_<t) [log π_ref(v | y_<t) − log π(v | y_<t)]
    loss_i = CE_i + λ·log(1 + KL_i)      (kl_form "log1p", the paper)   or   CE_i + λ·KL_i ("plain")
The batch loss is the mean of loss_i. Departures: the paper does not say whether KL is averaged per
token or summed, nor at which level the log is taken; we average per token within an example and
take log(1 + ·) per example, so the penalty does not grow with response length. The official code
stores the reference logits on disk and shifts the labels twice; here the reference is a forward
pass of the frozen model on the fly (see train.py) and the shift happens once.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

from hiero.types import IGNORE_INDEX


def shift_for_next_token(logits: torch.Tensor, labels: torch.Tensor):
    """(B, T, V), (B, T) -> logits (B, T-1, V), targets (B, T-1) with IGNORE_INDEX -> 0, mask (B, T-1)."""
    logits = logits[:, :-1, :]
    targets = labels[:, 1:]
    mask = targets != IGNORE_INDEX
    return logits, targets.masked_fill(~mask, 0), mask


def _masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of x (B, T) over mask (B, T) per row; rows without a position give 0."""
    m = mask.to(x.dtype)
    return (x * m).sum(-1) / m.sum(-1).clamp(min=1.0)


def token_ce(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(B,) mean next-token cross-entropy over the response tokens of each example."""
    lg, tgt, mask = shift_for_next_token(logits, labels)
    logp = torch.log_softmax(lg.float(), dim=-1)
    nll = -logp.gather(-1, tgt.unsqueeze(-1)).squeeze(-1)
    return _masked_mean(nll, mask)


def token_kl(ref_logits: torch.Tensor, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(B,) mean over response positions of KL(π_ref ‖ π), summed over the vocabulary.

    Gradients flow into `logits` only (the reference is detached). Zero iff both distributions agree.
    """
    lg, _, mask = shift_for_next_token(logits, labels)
    ref, _, _ = shift_for_next_token(ref_logits.detach(), labels)
    logp = torch.log_softmax(lg.float(), dim=-1)
    ref_logp = torch.log_softmax(ref.float(), dim=-1)
    kl = F.kl_div(logp, ref_logp, log_target=True, reduction="none").sum(-1)  # Σ_v p_ref (log p_ref − log p)
    return _masked_mean(kl, mask)


def selftrain_loss(logits: torch.Tensor, ref_logits: torch.Tensor, labels: torch.Tensor, lam: float = 0.1,
                   kl_form: Literal["log1p", "plain"] = "log1p") -> tuple[torch.Tensor, dict]:
    """(B,) per-example CE + λ·log(1 + KL) (or + λ·KL), and detached batch-mean metrics."""
    ce = token_ce(logits, labels)
    kl = token_kl(ref_logits, logits, labels)
    if kl_form == "log1p":
        penalty = torch.log1p(kl)
    elif kl_form == "plain":
        penalty = kl
    else:
        raise ValueError(f"kl_form must be 'log1p' or 'plain', got {kl_form!r}")
    loss = ce + lam * penalty
    metrics = {"ce": float(ce.detach().mean()), "kl": float(kl.detach().mean()),
               "n_tokens": float((labels[:, 1:] != IGNORE_INDEX).sum())}
    return loss, metrics
