"""`--loss dpo` gives TRL DPOTrainer's loss on the same tiny models, pairs and batch (fp32, 1e-4).

TRL is a test-only dependency. Both sides tokenize plain text the same way (prompt, then
prompt + response + EOS, completion = where they diverge), which is checked token by token first.
"""

import sys
from pathlib import Path

import pytest
import torch

from hiero.preference.train import (
    POTrainConfig,
    collate,
    load_model,
    load_tokenizer,
    pair_loss,
    prepare_pairs,
    reference_logps,
)

sys.path.insert(0, str(Path(__file__).parent))
import po_helpers as H  # noqa: E402

trl = pytest.importorskip("trl")


@pytest.mark.parametrize("bos", [False, True], ids=["qwen-style", "llama-style"])
def test_dpo_loss_matches_trl(tmp_path, bos):
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    tok = H.make_tokenizer(tmp_path / "tok", bos=bos)
    H.make_model(tmp_path / "policy", tok, seed=0)
    H.make_model(tmp_path / "ref", tok, seed=1)  # a different reference, so the loss is not just log 2
    pairs = H.synth_pairs(6)[:4]
    beta = 0.3

    args = DPOConfig(output_dir=str(tmp_path / "trl"), beta=beta, bf16=False, fp16=False, report_to="none",
                     per_device_train_batch_size=len(pairs), max_length=None, use_cpu=True,
                     dataset_num_proc=None, logging_steps=1)
    trainer = DPOTrainer(
        model=load_model(str(tmp_path / "policy")),
        ref_model=load_model(str(tmp_path / "ref")),
        args=args,
        processing_class=load_tokenizer(str(tmp_path / "policy")),
        train_dataset=Dataset.from_list(
            [{"prompt": p.prompt, "chosen": p.chosen, "rejected": p.rejected} for p in pairs]
        ),
    )
    rows = [trainer.train_dataset[i] for i in range(len(pairs))]
    trl_batch = trainer.data_collator(rows)
    trainer.model.train()
    with torch.no_grad():
        trl_loss = float(trainer.compute_loss(trainer.model, trl_batch))

    cfg = POTrainConfig(model=str(tmp_path / "policy"), pairs="", loss="dpo", beta=beta, max_length=10_000)
    tokenizer = load_tokenizer(cfg.model)
    examples, stats = prepare_pairs(pairs, tokenizer, cfg)
    assert stats["pairs_used"] == len(pairs)
    for e, row in zip(examples, rows):  # identical token sequences and completion boundaries
        assert e["chosen_ids"] == row["prompt_ids"] + row["chosen_ids"]
        assert e["rejected_ids"] == row["prompt_ids"] + row["rejected_ids"]
        assert e["chosen_seg"].count(-100) == len(row["prompt_ids"])
    if bos:
        assert examples[0]["chosen_ids"][0] == tokenizer.bos_token_id
        assert examples[0]["chosen_ids"].count(tokenizer.bos_token_id) == 1
    assert examples[0]["chosen_ids"][-1] == tokenizer.eos_token_id

    batch = collate(examples, tokenizer.pad_token_id)
    ref = reference_logps(load_model(str(tmp_path / "ref")), examples, 3, tokenizer.pad_token_id)
    policy = load_model(cfg.model)
    policy.train()
    with torch.no_grad():
        loss, metrics = pair_loss(
            policy, batch, ref, torch.tensor([0.0, 0.0, 0.0, 1.0]), torch.full((4,), beta)
        )
    assert abs(float(loss) - trl_loss) < 1e-4, (float(loss), trl_loss)
    assert abs(float(loss) - 0.6931) > 1e-3  # a real difference between policy and reference
