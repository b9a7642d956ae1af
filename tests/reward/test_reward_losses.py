"""Reward-model losses against values worked out by hand."""

import math

import pytest
import torch

from hiero.reward.losses import (
    LOSSES,
    N_OUTPUTS,
    accuracy,
    hard_ce_loss,
    mse_loss,
    select_labelled,
    soft_ce_loss,
    step_scores,
)
from hiero.types import IGNORE_INDEX


def test_hard_ce_by_hand():
    """logits (0, ln 3): softmax = (1/4, 3/4).
    target 1 -> -ln(3/4) = 0.287682; target 0 -> -ln(1/4) = ln 4 = 1.386294."""
    logits = torch.tensor([[0.0, math.log(3)], [0.0, math.log(3)]])
    got = hard_ce_loss(logits, torch.tensor([1.0, 0.0]))
    assert got.tolist() == pytest.approx([0.287682, 1.386294], abs=1e-6)


def test_soft_ce_by_hand_and_equals_hard_at_0_1():
    """logits (0, ln 3), p = (1/4, 3/4), target t = 0.6:
    -(0.4 ln(1/4) + 0.6 ln(3/4)) = 0.4 * 1.386294 + 0.6 * 0.287682 = 0.554518 + 0.172609 = 0.727127."""
    logits = torch.tensor([[0.0, math.log(3)]])
    assert soft_ce_loss(logits, torch.tensor([0.6])).item() == pytest.approx(0.727127, abs=1e-6)
    x = torch.randn(5, 2)
    t = torch.tensor([0.0, 1.0, 1.0, 0.0, 1.0])
    assert torch.allclose(soft_ce_loss(x, t), hard_ce_loss(x, t), atol=1e-6)


def test_mse_by_hand():
    """(0.5 - 0.2)^2 = 0.09; (-1 - 0)^2 = 1; (1 x 1 head, shape (N, 1) or (N,) alike)."""
    got = mse_loss(torch.tensor([[0.5], [-1.0]]), torch.tensor([0.2, 0.0]))
    assert got.tolist() == pytest.approx([0.09, 1.0], abs=1e-6)
    assert torch.equal(got, mse_loss(torch.tensor([0.5, -1.0]), torch.tensor([0.2, 0.0])))


def test_hard_ce_rejects_soft_targets_and_wrong_head():
    with pytest.raises(ValueError, match="soft"):
        hard_ce_loss(torch.zeros(1, 2), torch.tensor([0.5]))
    with pytest.raises(ValueError, match="2-class"):
        soft_ce_loss(torch.zeros(1, 1), torch.tensor([0.5]))


def test_scores_and_ignore_selection():
    """P(class 1) of logits (0, ln 3) = 3/4; an MSE head's score is its raw output.
    IGNORE_INDEX rows are removed by value (-100 is not a truthy 'label 1')."""
    assert step_scores(torch.tensor([[0.0, math.log(3)]]), "soft_ce").item() == pytest.approx(0.75)
    assert step_scores(torch.tensor([[1.7]]), "mse").item() == pytest.approx(1.7)
    out, t = select_labelled(torch.arange(6.0).reshape(3, 2), torch.tensor([1.0, float(IGNORE_INDEX), 0.0]))
    assert out.tolist() == [[0.0, 1.0], [4.0, 5.0]] and t.tolist() == [1.0, 0.0]
    assert accuracy(torch.tensor([[0.9], [0.2]]), torch.tensor([1.0, 1.0]), "mse").item() == 0.5
    assert set(LOSSES) == set(N_OUTPUTS)


def test_losses_are_differentiable():
    x = torch.zeros(3, 2, requires_grad=True)
    soft_ce_loss(x, torch.tensor([0.2, 0.5, 1.0])).sum().backward()
    # d/dz1 of -(1-t) log p0 - t log p1 at z = 0: p1 - t = 0.5 - t
    assert x.grad[:, 1].tolist() == pytest.approx([0.3, 0.0, -0.5], abs=1e-6)
