"""Self-training losses by hand: CE + λ·log(1 + KL(π_ref ‖ π)) on a 2-token vocabulary."""

from __future__ import annotations

import math

import pytest
import torch

from hiero.selftrain.losses import selftrain_loss, shift_for_next_token, token_ce, token_kl
from hiero.types import IGNORE_INDEX

I = IGNORE_INDEX  # noqa: E741 (reads like the matrices in the worked example)


def worked_example():
    """One sequence of 4 positions, vocabulary {0, 1}; labels [I, 0, 1, I] (prompt, 2 response
    tokens, padding). After the shift, logits at positions 0 and 1 predict labels 0 and 1.
    Model:     pos 0 logits [ln 3, 0] -> π = [0.75, 0.25];   pos 1 [0, 0] -> [0.5, 0.5]
    Reference: pos 0 and 1 logits [0, 0] -> π_ref = [0.5, 0.5]
    Positions 2 and 3 hold garbage logits that must not count (no response label follows them).
    """
    logits = torch.tensor([[[math.log(3.0), 0.0], [0.0, 0.0], [50.0, -50.0], [-9.0, 9.0]]])
    ref = torch.tensor([[[0.0, 0.0], [0.0, 0.0], [-50.0, 50.0], [3.0, 1.0]]])
    labels = torch.tensor([[I, 0, 1, I]])
    return logits, ref, labels


def test_shift_happens_once():
    logits, _, labels = worked_example()
    lg, tgt, mask = shift_for_next_token(logits, labels)
    assert lg.shape == (1, 3, 2)
    assert tgt.tolist() == [[0, 1, 0]] and mask.tolist() == [[True, True, False]]


def test_worked_two_token_example():
    """CE  = ½(−ln 0.75 − ln 0.5) = ½(0.287682 + 0.693147) = 0.490415
    KL  = ½(½ ln(0.5/0.75) + ½ ln(0.5/0.25) + 0) = ½ · ½ ln(4/3) = 0.0719205
    log1p: 0.490415 + 0.1 · ln(1.0719205) = 0.490415 + 0.1 · 0.0694521 = 0.4973602
    plain: 0.490415 + 0.1 · 0.0719205 = 0.4976071"""
    logits, ref, labels = worked_example()
    assert token_ce(logits, labels).item() == pytest.approx(0.490415, abs=1e-6)
    assert token_kl(ref, logits, labels).item() == pytest.approx(0.0719205, abs=1e-6)
    loss, m = selftrain_loss(logits, ref, labels, lam=0.1, kl_form="log1p")
    assert loss.shape == (1,)
    assert loss.item() == pytest.approx(0.4973602, abs=1e-6)
    assert m["kl"] == pytest.approx(0.0719205, abs=1e-6) and m["n_tokens"] == 2
    plain, _ = selftrain_loss(logits, ref, labels, lam=0.1, kl_form="plain")
    assert plain.item() == pytest.approx(0.4976071, abs=1e-6)
    with pytest.raises(ValueError):
        selftrain_loss(logits, ref, labels, kl_form="bogus")


def test_kl_of_identical_distributions_is_zero():
    torch.manual_seed(0)
    logits = torch.randn(3, 7, 11)
    labels = torch.randint(0, 11, (3, 7))
    labels[:, :2] = I
    assert torch.allclose(token_kl(logits.clone(), logits, labels), torch.zeros(3), atol=1e-6)
    loss, _ = selftrain_loss(logits, logits.clone(), labels, lam=5.0)
    assert torch.allclose(loss, token_ce(logits, labels), atol=1e-6)  # λ·log(1 + 0) = 0 for any λ


def test_per_example_means_and_padding():
    """Two rows: a row's loss does not depend on the other row or on its own padding length."""
    logits, ref, labels = worked_example()
    padded_l = torch.cat([logits, torch.randn(1, 3, 2)], dim=1)
    padded_r = torch.cat([ref, torch.randn(1, 3, 2)], dim=1)
    padded_y = torch.cat([labels, torch.full((1, 3), I)], dim=1)
    other_l, other_r = torch.randn(1, 7, 2), torch.randn(1, 7, 2)
    other_y = torch.tensor([[I, 1, 1, 0, 1, 1, 0]])
    loss, _ = selftrain_loss(torch.cat([padded_l, other_l]), torch.cat([padded_r, other_r]),
                             torch.cat([padded_y, other_y]))
    assert loss[0].item() == pytest.approx(0.4973602, abs=1e-6)
    alone, _ = selftrain_loss(other_l, other_r, other_y)
    assert loss[1].item() == pytest.approx(alone.item(), abs=1e-6)


def test_gradient_reaches_policy_not_reference():
    logits, ref, labels = worked_example()
    logits.requires_grad_(True)
    ref.requires_grad_(True)
    loss, _ = selftrain_loss(logits, ref, labels)
    loss.sum().backward()
    assert ref.grad is None
    assert logits.grad[0, 0].abs().sum() > 0
    assert logits.grad[0, 2:].abs().sum() == 0  # positions without a next response token


def test_ce_matches_transformers_loss():
    """With one example, our per-example CE equals the model's own shifted LM loss."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    model = Qwen2ForCausalLM(
        Qwen2Config(
            vocab_size=20,
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=2,
        )
    )
    ids = torch.randint(0, 20, (1, 9))
    labels = ids.clone()
    labels[:, :4] = I
    out = model(input_ids=ids, labels=labels)
    assert token_ce(out.logits, labels).item() == pytest.approx(out.loss.item(), abs=1e-5)
