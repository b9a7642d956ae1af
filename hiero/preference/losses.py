"""Preference losses as pure functions of per-segment log-prob sums (DPO, IPO, hinge, HiPO).

Every function takes log-probs already reduced per segment, so HiPO is only new math on the tensors
DPO uses. Shapes: B pairs, K named segments; column K is the whole response ("full"):

    policy_chosen, policy_rejected, ref_chosen, ref_rejected : (B, K+1) float log-prob sums (or means)
    valid      : (B, K+1) bool, segment non-empty on BOTH sides (the full column is always True)
    weights    : (K+1,) float, (w_1 … w_K, w_full)
    betas      : (K+1,) float, β per term

    Δ_k = [logπθ(y_w,k) − logπref(y_w,k)] − [logπθ(y_l,k) − logπref(y_l,k)]        (HiPO, per segment)
    L   = Σ_k w_k·valid_k·ℓ(β_k·Δ_k) + w_full·ℓ(β·Δ_full)                           (HiPO loss)
    ℓ   = −log σ(z)  ("dpo", DPO eq. 7)  ·  max(0, 1 − z)  ("hinge", SLiC)
          (Δ − 1/(2β))²  ("ipo", IPO eq. 17; uses Δ, not β·Δ)

DPOP (Pal et al. 2024, "Smaug", arXiv 2402.13228, eq. 3), optional, λ ≥ 0 (`dpop_lambda`):
    Δ_k ← Δ_k − λ·max(0, logπref(y_w,k) − logπθ(y_w,k))
penalises a chosen side whose likelihood falls below the reference's, the failure DPO shows on
pairs that differ in a few tokens (an arithmetic slip). λ = 0 is DPO / HiPO exactly.

With weights (0, …, 0, 1) HiPO is exactly DPO (a test checks bit-equality).

Worked example (also a test): one pair, K = 1 segment, β = 1, policy (chosen, rejected) sums
(−1, −3) on both columns and reference (−2, −2): Δ = (−1+2) − (−3+2) = 2, ℓ_dpo = −log σ(2) =
log(1 + e^−2) = 0.126928; weights (0.5, 0.5) give 0.5·0.126928 + 0.5·0.126928 = 0.126928.

Departures from the HiPO paper (arXiv 2604.20140) / the authors' code:
- A term whose segment is empty on either side is masked out (contributes 0) for that pair; the
  authors' code emitted a constant −log σ(0.01) ≈ log 2 there.
- ``compat="paper"`` reproduces the authors' +0.01 inside σ and the clamp of β·Δ to ±20 (applied
  before the offset); it is off by default. Their per-example "strength" |label|/3 and final
  clamp(loss, min=0) are not reproduced: our pairs carry no vote strength and the clamp is a no-op.
- The batch loss is the mean of per-pair losses, masked terms counting as 0 (not re-normalised by
  the number of valid pairs per term), so a term's weight means the same thing in every batch size.
- IPO here is ``(Δ − 1/(2β))²`` on whatever normalisation the trainer uses; with ``--norm mean``
  (per-token averages) it equals TRL's length-normalised IPO.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

# (w_Rq, w_Mt, w_Ra, w_full), from the paper
PRESETS: dict[str, tuple[float, ...]] = {
    "rq-bias": (0.60, 0.15, 0.15, 0.10),
    "mt-bias": (0.20, 0.50, 0.20, 0.10),
    "ra-bias": (0.15, 0.20, 0.50, 0.15),
    "full-bias": (0.10, 0.20, 0.20, 0.50),
    "dpo": (0.0, 0.0, 0.0, 1.0),
}

PAPER_OFFSET = 0.01  # authors' code: logsigmoid(β·Δ + 0.01)
PAPER_CLAMP = 20.0  # authors' code: β·Δ clamped to ±20


def sigmoid_loss(delta: torch.Tensor, beta: torch.Tensor, compat: str = "none") -> torch.Tensor:
    """DPO: −log σ(β·Δ). Δ, β broadcastable; returns their broadcast shape.

    >>> round(float(sigmoid_loss(torch.tensor(0.0), torch.tensor(0.2))), 6)   # log 2
    0.693147
    >>> round(float(sigmoid_loss(torch.tensor(200.0), torch.tensor(1.0), "paper")), 9)  # −log σ(20.01)
    2e-09
    """
    z = beta * delta
    if compat == "paper":
        z = z.clamp(-PAPER_CLAMP, PAPER_CLAMP) + PAPER_OFFSET
    return -F.logsigmoid(z)


def hinge_loss(delta: torch.Tensor, beta: torch.Tensor, compat: str = "none") -> torch.Tensor:
    """SLiC hinge: max(0, 1 − β·Δ).

    >>> float(hinge_loss(torch.tensor(2.0), torch.tensor(0.25)))   # 1 − 0.5
    0.5
    """
    z = beta * delta
    if compat == "paper":
        z = z.clamp(-PAPER_CLAMP, PAPER_CLAMP)
    return torch.relu(1 - z)


def ipo_loss(delta: torch.Tensor, beta: torch.Tensor, compat: str = "none") -> torch.Tensor:
    """IPO: (Δ − 1/(2β))²; β plays the role of the regulariser τ.

    >>> float(ipo_loss(torch.tensor(1.0), torch.tensor(0.25)))   # (1 − 2)²
    1.0
    """
    return (delta - 1 / (2 * beta)) ** 2


TERM_LOSSES = {"dpo": sigmoid_loss, "hinge": hinge_loss, "ipo": ipo_loss}


def normalise(sums: torch.Tensor, counts: torch.Tensor, how: str) -> torch.Tensor:
    """`sum`: log-prob sums as they are; `mean`: per-token averages (0 for an empty segment).

    sums, counts: (..., K+1) -> (..., K+1)
    """
    if how == "sum":
        return sums
    if how == "mean":
        return sums / counts.clamp(min=1)
    raise ValueError(f"normalisation must be 'sum' or 'mean', got {how!r}")


def hipo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    ref_chosen: torch.Tensor,
    ref_rejected: torch.Tensor,
    valid: torch.Tensor,
    weights: torch.Tensor,
    betas: torch.Tensor,
    *,
    term: str = "dpo",
    compat: str = "none",
    dpop_lambda: float = 0.0,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """HiPO: Σ_k w_k·ℓ(β_k·Δ_k) over segments and the full response (shapes in the module doc).

    Returns (per-pair losses (B,), detached per-term tensors: chosen/rejected rewards β·logratio,
    margins β·Δ (B, K+1, without the DPOP penalty), and the validity mask used).
    """
    chosen_logratios = policy_chosen - ref_chosen  # (B, K+1)
    rejected_logratios = policy_rejected - ref_rejected
    delta = chosen_logratios - rejected_logratios
    penalised = delta - dpop_lambda * torch.relu(-chosen_logratios) if dpop_lambda else delta
    per_term = TERM_LOSSES[term](penalised, betas, compat)
    valid = valid.clone()
    valid[:, -1] = True  # the whole response always counts
    per_term = torch.where(valid, per_term, torch.zeros_like(per_term))
    losses = (per_term * weights).sum(dim=-1)
    stats = {
        "rewards_chosen": (betas * chosen_logratios).detach(),
        "rewards_rejected": (betas * rejected_logratios).detach(),
        "margins": (betas * delta).detach(),
        "terms": per_term.detach(),
        "valid": valid,
    }
    return losses, stats


def dpo_loss(policy_chosen: torch.Tensor, policy_rejected: torch.Tensor, ref_chosen: torch.Tensor,
             ref_rejected: torch.Tensor, beta: float, *, compat: str = "none") -> torch.Tensor:
    """Plain DPO on whole-response log-probs, all shapes (B,) -> per-pair losses (B,).

    >>> pc, pr = torch.tensor([-1.0]), torch.tensor([-3.0])
    >>> rc, rr = torch.tensor([-2.0]), torch.tensor([-2.0])
    >>> round(float(dpo_loss(pc, pr, rc, rr, beta=1.0)), 6)    # −log σ(2)
    0.126928
    """
    delta = (policy_chosen - ref_chosen) - (policy_rejected - ref_rejected)
    return sigmoid_loss(delta, torch.as_tensor(beta, dtype=delta.dtype), compat)


def sft_loss(chosen_logp_sum: torch.Tensor, chosen_tokens: torch.Tensor) -> torch.Tensor:
    """Negative log-likelihood per token of the chosen response (B,) -> (B,); counters chosen
    log-probs falling during DPO (the optional SFT term)."""
    return -chosen_logp_sum / chosen_tokens.clamp(min=1)


def summarise(stats: dict[str, torch.Tensor], names: list[str]) -> dict[str, float]:
    """Batch means per term over the pairs where the term is valid (terms with none are left out)."""
    out = {}
    valid = stats["valid"]
    for k, name in enumerate([*names, "full"]):
        m = valid[:, k]
        if not bool(m.any()):
            continue
        out[f"rewards/{name}/chosen"] = float(stats["rewards_chosen"][m, k].mean())
        out[f"rewards/{name}/rejected"] = float(stats["rewards_rejected"][m, k].mean())
        out[f"margins/{name}"] = float(stats["margins"][m, k].mean())
        out[f"accuracies/{name}"] = float((stats["margins"][m, k] > 0).float().mean())
        out[f"loss_terms/{name}"] = float(stats["terms"][m, k].mean())
    return out
