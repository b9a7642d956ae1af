"""Preference losses: values worked out by hand, HiPO(0,0,0,1) == DPO exactly, masking, compat."""

import doctest
import math

import pytest
import torch

from hiero.preference import logps as logps_mod
from hiero.preference import losses
from hiero.preference.losses import PRESETS, dpo_loss, hipo_loss, normalise, sft_loss, summarise


def test_doctests():
    for mod in (losses, logps_mod):
        assert doctest.testmod(mod).failed == 0


def cols(*xs):
    return torch.tensor([list(xs)], dtype=torch.float32)


def test_hipo_worked_example():
    """K=3 segments + full, β=1 everywhere, one pair.
    policy chosen  (-1, -2, -1, -4), policy rejected (-3, -2, -4, -9)
    ref chosen     (-2, -2, -1, -5), ref rejected    (-2, -2, -2, -6)
    chosen logratios   ( 1, 0, 0, 1); rejected logratios (-1, 0, -2, -3)
    Δ = (2, 0, 2, 4); ℓ = −log σ(Δ) = (0.126928, 0.693147, 0.126928, 0.018150)
    weights mt-bias (.2, .5, .2, .1): .2·.126928 + .5·.693147 + .2·.126928 + .1·.018150 = 0.399160
    """
    pc, pr = cols(-1, -2, -1, -4), cols(-3, -2, -4, -9)
    rc, rr = cols(-2, -2, -1, -5), cols(-2, -2, -2, -6)
    valid = torch.ones(1, 4, dtype=torch.bool)
    loss, stats = hipo_loss(pc, pr, rc, rr, valid, torch.tensor(PRESETS["mt-bias"]), torch.ones(4))
    assert float(loss) == pytest.approx(0.399160, abs=1e-6)
    assert stats["margins"].tolist() == [[2.0, 0.0, 2.0, 4.0]]
    m = summarise(stats, ["clarification", "reasoning", "answer"])
    assert m["accuracies/reasoning"] == 0.0 and m["accuracies/full"] == 1.0
    assert m["rewards/answer/rejected"] == -2.0


def test_weights_0001_are_exactly_dpo():
    g = torch.Generator().manual_seed(0)
    pc, pr, rc, rr = (torch.randn(16, 4, generator=g) * 5 for _ in range(4))
    valid = torch.rand(16, 4, generator=g) > 0.3
    hipo, _ = hipo_loss(pc, pr, rc, rr, valid, torch.tensor(PRESETS["dpo"]), torch.full((4,), 0.2))
    dpo = dpo_loss(pc[:, -1], pr[:, -1], rc[:, -1], rr[:, -1], beta=0.2)
    assert torch.equal(hipo, dpo)


def test_empty_segment_is_masked_out():
    """Segment 0 empty on the rejected side: its term (which would be −log σ(0) = log 2) is dropped.
    Δ = (0, 0, 0, 2), β = 1, weights (.6, .15, .15, .1), valid segment 0 False:
    loss = .15·log 2 + .15·log 2 + .1·log(1 + e^−2) = 0.220636"""
    z = cols(0, 0, 0, 0)
    valid = torch.tensor([[False, True, True, True]])
    loss, stats = hipo_loss(cols(0, 0, 0, 2), z, z, z, valid, torch.tensor(PRESETS["rq-bias"]), torch.ones(4))
    assert float(loss) == pytest.approx(0.3 * math.log(2) + 0.1 * math.log1p(math.exp(-2)), abs=1e-6)
    assert "accuracies/clarification" not in summarise(stats, ["clarification", "reasoning", "answer"])


def test_compat_paper_offset_and_clamp():
    """β·Δ = 100 is clamped to 20, plus 0.01: −log σ(20.01) = 2.03e-9; Δ = 0: −log σ(0.01) = 0.688172."""
    z = cols(0)
    loss, _ = hipo_loss(
        cols(0), z, z, z, torch.ones(1, 1, dtype=torch.bool), torch.ones(1), torch.ones(1), compat="paper"
    )
    assert float(loss) == pytest.approx(math.log1p(math.exp(-0.01)), abs=1e-6)
    big = dpo_loss(
        torch.tensor([-100.0]), torch.tensor([-300.0]), torch.zeros(1), torch.zeros(1), 1.0, compat="paper"
    )
    assert float(big) == pytest.approx(math.log1p(math.exp(-20.01)), rel=1e-3)
    assert float(
        dpo_loss(torch.tensor([-200.0]), torch.zeros(1), torch.zeros(1), torch.zeros(1), 1.0, compat="paper")
    ) == pytest.approx(20 - 0.01, abs=1e-4)  # −log σ(−19.99) ≈ 19.99


def test_ipo_and_hinge_by_hand():
    """Δ = 2, β = 0.5: IPO (2 − 1)² = 1; hinge max(0, 1 − 1) = 0; β = 0.25: hinge 1 − 0.5 = 0.5."""
    z = cols(0)
    one = torch.ones(1, 1, dtype=torch.bool)
    ipo, _ = hipo_loss(cols(2), z, z, z, one, torch.ones(1), torch.tensor([0.5]), term="ipo")
    hinge, _ = hipo_loss(cols(2), z, z, z, one, torch.ones(1), torch.tensor([0.25]), term="hinge")
    assert float(ipo) == pytest.approx(1.0) and float(hinge) == pytest.approx(0.5)


def test_mean_normalisation_and_sft():
    """sums (−6, 0, −4) over counts (3, 0, 2) -> means (−2, 0, −2); SFT = 4/2 = 2 per token."""
    sums, counts = torch.tensor([[-6.0, 0.0, -4.0]]), torch.tensor([[3, 0, 2]])
    assert normalise(sums, counts, "mean").tolist() == [[-2.0, 0.0, -2.0]]
    assert float(sft_loss(torch.tensor([-4.0]), torch.tensor([2]))) == 2.0


def test_chosen_preferred_lowers_the_loss():
    z = torch.zeros(4, 4)
    valid = torch.ones(4, 4, dtype=torch.bool)
    deltas = torch.tensor([[-1.0], [0.0], [1.0], [3.0]]).expand(4, 4)
    loss, _ = hipo_loss(deltas, z, z, z, valid, torch.tensor(PRESETS["full-bias"]), torch.full((4,), 0.2))
    assert torch.all(loss[1:] < loss[:-1])


def test_dpop_penalty_by_hand():
    """DPOP (Smaug eq. 3), β = 1, λ = 2, two pairs, one column.
    pair 1: chosen logratio −3 − (−2) = −1, rejected −4 − (−2) = −2: Δ = 1, penalty 2·1 = 2,
            ℓ = −log σ(1 − 2) = log(1 + e) = 1.313262 (plain DPO: log(1 + e^−1) = 0.313262).
    pair 2: chosen logratio +1 ≥ 0, no penalty: ℓ = −log σ(1 − (−2)) = log(1 + e^−3) = 0.048587."""
    one = torch.ones(2, 1, dtype=torch.bool)
    pc, pr = torch.tensor([[-3.0], [-1.0]]), torch.tensor([[-4.0], [-4.0]])
    rc, rr = torch.tensor([[-2.0], [-2.0]]), torch.tensor([[-2.0], [-2.0]])
    loss, stats = hipo_loss(pc, pr, rc, rr, one, torch.ones(1), torch.ones(1), dpop_lambda=2.0)
    assert loss.tolist() == pytest.approx([math.log1p(math.e), math.log1p(math.exp(-3))], abs=1e-6)
    plain, _ = hipo_loss(pc, pr, rc, rr, one, torch.ones(1), torch.ones(1))
    assert float(plain[0]) == pytest.approx(math.log1p(math.exp(-1)), abs=1e-6)
    assert float(plain[1]) == float(loss[1])
    # the penalty pushes the chosen log-prob up: its gradient is larger than DPO's alone
    pc.requires_grad_(True)
    hipo_loss(pc, pr, rc, rr, one, torch.ones(1), torch.ones(1), dpop_lambda=2.0)[0][0].backward()
    # d/dpc of −log σ(pc − rc − (pr − rr) − λ(rc − pc)) = −(1 + λ)·σ(−z), z = −1
    assert float(pc.grad[0, 0]) == pytest.approx(-3 * torch.sigmoid(torch.tensor(1.0)).item(), abs=1e-6)
    assert stats["margins"].tolist() == [[1.0], [3.0]]  # reward margins are reported without the penalty
