"""The shared-prompt pass gives the log-prob sums and gradients of two separate passes.

A pair's prompt runs once and its KV cache serves chosen and rejected; here both paths run on the
same tiny model and batch (prompts of different lengths, so left padding is exercised), with a
Llama-style (BOS) and a Qwen-style tokenizer, and must agree to 1e-5 in sums and in gradients.
"""

import sys
from pathlib import Path

import pytest
import torch

from hiero.preference.logps import segment_logps, segment_logps_shared_prompt
from hiero.preference.train import POTrainConfig, collate, load_model, load_tokenizer, prepare_pairs

sys.path.insert(0, str(Path(__file__).parent))
import po_helpers as H  # noqa: E402


@pytest.mark.parametrize("bos", [False, True], ids=["qwen-style", "llama-style"])
def test_shared_prompt_equals_separate_passes(tmp_path, bos):
    tok = H.make_tokenizer(tmp_path / "tok", bos=bos)
    H.make_model(tmp_path / "m", tok, seed=0)
    cfg = POTrainConfig(model=str(tmp_path / "m"), pairs="", max_length=10_000, segmenter="heuristic")
    examples, _ = prepare_pairs(H.synth_pairs(8), load_tokenizer(cfg.model), cfg)
    batch = collate(examples, tok.pad_token_id)
    assert "prompt_ids" in batch  # plain-text pairs share their prompt tokens
    assert len(set(batch["prompt_mask"].sum(1).tolist())) > 1  # different prompt lengths: left padding used
    k = 3

    def run(shared: bool):
        torch.manual_seed(0)
        model = load_model(cfg.model)
        model.train()
        if shared:
            sums, counts = segment_logps_shared_prompt(
                model,
                batch["prompt_ids"],
                batch["prompt_mask"],
                batch["resp_ids"],
                batch["resp_mask"],
                batch["resp_seg"],
                k,
            )
        else:
            sums, counts = segment_logps(
                model, batch["input_ids"], batch["attention_mask"], batch["segment_ids"], k
            )
        (sums * torch.linspace(0.5, 1.5, sums.numel()).view_as(sums)).sum().backward()
        grads = torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])
        return sums.detach(), counts, grads

    s1, c1, g1 = run(False)
    s2, c2, g2 = run(True)
    assert torch.equal(c1, c2)
    torch.testing.assert_close(s2, s1, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(g2, g1, atol=5e-5, rtol=1e-4)  # fp32 sums in another order (thread count)
    assert torch.isfinite(g2).all()


def test_pairs_with_different_prompt_tokens_fall_back(tmp_path):
    tok = H.make_tokenizer(tmp_path / "tok")
    e = {"index": 0, "chosen_ids": [5, 6, 7], "chosen_seg": [-100, 0, 0],
         "rejected_ids": [5, 8, 7], "rejected_seg": [-100, -100, 0]}  # rejected's prompt is longer
    assert "prompt_ids" not in collate([e], tok.pad_token_id)
