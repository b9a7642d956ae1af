"""Likelihood features: which tokens a step owns, the LM's log-probs against a plain forward pass,
one batched pass against each prefix alone, save/load, the marker-free read, a frozen backbone."""

import json

import pytest
import torch
from transformers import AutoModel, AutoModelForCausalLM

from hiero.cli import main as cli
from hiero.data.io import write_jsonl
from hiero.policy.prompt import build_prompt
from hiero.reward.collate import collate_marker, encode_marker
from hiero.reward.model import RMSpec, build_reward_model, load_reward_model, save_reward_model
from hiero.reward.scorer import RMScorer
from hiero.reward.train import read_template
from hiero.testing import make_tiny_base, noisy_reward_rows

TEXTS = [build_prompt("Mia has 4 coins. She finds 3 more coins. Then she doubles them. How many coins?"),
         "Mia starts with 4 coins.", "4 + 3 = 7", "7 * 2 = 14", "The answer is 14", "14 - 5 = 9"] * 30
Q = ["Mia has 4 coins. She finds 3 more coins. How many coins?", "What is 7 * 2?", "Q"]
SOLS = [["Mia starts with 4 coins.", "4 + 3 = 7", "7 * 2 = 14", "14 - 5 = 9", "The answer is 9"],
        ["7 * 2 = 14", "The answer is 14"],
        ["4 + 3 = 7", "7 * 2 = 15", "The answer is 15"]]
POLICY = read_template("policy")


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return make_tiny_base(tmp_path_factory.mktemp("base"), TEXTS, vocab_size=300)


def _model(base, **spec):
    torch.manual_seed(0)
    model, tok = build_reward_model(base, RMSpec(lm_features=True, template=POLICY, **spec))
    torch.nn.init.normal_(model.head.weight, std=1.0)
    torch.nn.init.normal_(model.feature_head.weight, std=0.05)  # log-probs reach -30: keep it off saturation
    return model.eval(), tok


def _plain_log_probs(base, question, steps):
    """Per-token log-probs of the solution as the LM reads it: the policy prompt, steps joined by "\\n"."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(base)
    lm = AutoModelForCausalLM.from_pretrained(base).eval()
    ids = tok(build_prompt(question, steps), add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        lp = torch.log_softmax(lm(torch.tensor([ids])).logits[0], -1)
    return ids, [float(lp[j - 1, ids[j]]) for j in range(1, len(ids))]


@pytest.mark.parametrize("marker", ["", "<|step_score|>"])
def test_each_step_owns_exactly_its_own_text(base, marker):
    model, tok = _model(base, marker_token=marker)
    for q, steps in zip(Q, SOLS, strict=True):
        ids, pos, t = encode_marker(
            tok, q, steps, model.spec.marker_id, model.spec.template, step_tokens=True
        )
        assert len(pos) == len(steps)
        for k, step in enumerate(steps):
            mine = [p for p, s in zip(t["tok_pos"], t["tok_step"], strict=True) if s == k]
            assert tok.decode([ids[p] for p in mine]) == step
            assert all(p < pos[k] for p in mine) and (k == 0 or all(p > pos[k - 1] for p in mine))
        for p, prev in zip(t["tok_pos"], t["tok_prev"], strict=True):
            assert ids[prev] != model.spec.marker_id  # the LM never predicts from a marker
            assert prev == p - 1 or (marker and ids[p - 1] == model.spec.marker_id and prev == p - 2)
        if not marker:
            assert model.spec.marker_id == -1 and ids == tok(build_prompt(q, steps))["input_ids"]
    ids, pos, t = encode_marker(tok, Q[0], SOLS[0], model.spec.marker_id, model.spec.template, orm=True,
                                step_tokens=True)
    assert len(pos) == 1 and set(t["tok_step"]) == {0}  # an ORM's one score reads every step's tokens
    assert tok.decode([ids[p] for p in t["tok_pos"]]) == "".join(SOLS[0])


def test_features_are_the_log_probs_of_a_plain_forward_pass(base):
    """Without a marker the input is the policy's own text: the features equal the sum, min and mean
    of log-probs that AutoModelForCausalLM gives each step's tokens, and the running min."""
    model, tok = _model(base, marker_token="")
    for q, steps in zip(Q, SOLS, strict=True):
        ids, pos, t = encode_marker(tok, q, steps, -1, model.spec.template, step_tokens=True)
        plain_ids, lps = _plain_log_probs(base, q, steps)
        assert plain_ids == ids
        batch = collate_marker([{"input_ids": ids, "positions": pos, **t}], tok.pad_token_id)
        with torch.no_grad():
            h = model.hidden_states(batch["input_ids"], batch["attention_mask"])
            got = model.step_features(h, batch["input_ids"], batch["batch_idx"],
                                      *(batch[k] for k in ("tok_b", "tok_pos", "tok_prev", "tok_step")))
        running = 0.0
        for k in range(len(steps)):
            mine = [lps[p - 1] for p, s in zip(t["tok_pos"], t["tok_step"], strict=True) if s == k]
            running = min([running] + mine) if k else min(mine)
            want = [sum(mine), min(mine), sum(mine) / len(mine), running]
            assert got[k].tolist() == pytest.approx(want, abs=1e-4)


@pytest.mark.parametrize("marker", ["", "<|step_score|>"])
def test_one_batched_pass_equals_each_prefix_alone(base, marker):
    model, tok = _model(base, marker_token=marker, loss="soft_ce")
    batched = RMScorer(model, tok, model.spec, batch_size=2).score(Q, SOLS)
    spread = []
    for q, steps, got in zip(Q, SOLS, batched, strict=True):
        for k in range(len(steps)):
            alone = RMScorer(model, tok, model.spec, batch_size=1).score([q], [steps[:k + 1]])[0][-1]
            assert got[k] == pytest.approx(alone, abs=1e-5)
            spread.append(alone)
    assert max(spread) - min(spread) > 1e-3


def test_save_load_round_trip_keeps_both_heads(base, tmp_path):
    model, tok = _model(base, marker_token="", kind="hrm", loss="hard_ce")
    before = RMScorer(model, tok, model.spec).score(Q, SOLS)
    save_reward_model(model, tok, tmp_path / "rm")
    loaded, tok2, spec = load_reward_model(tmp_path / "rm")
    assert spec.lm_features and spec.marker_token == "" and spec.marker_id == -1 and spec.template == POLICY
    assert torch.equal(loaded.feature_head.weight, model.feature_head.weight)
    after = RMScorer(loaded, tok2, spec).score(Q, SOLS)
    assert [x for r in after for x in r] == pytest.approx([x for r in before for x in r], abs=1e-6)


def test_without_the_hidden_head_the_score_is_a_function_of_the_features(base):
    model, tok = _model(base, marker_token="", hidden_head=False, loss="mse")
    scores = RMScorer(model, tok, model.spec).score(Q, SOLS)
    for q, steps, got in zip(Q, SOLS, scores, strict=True):
        ids, pos, t = encode_marker(tok, q, steps, -1, model.spec.template, step_tokens=True)
        batch = collate_marker([{"input_ids": ids, "positions": pos, **t}], tok.pad_token_id)
        with torch.no_grad():
            h = model.hidden_states(batch["input_ids"], batch["attention_mask"])
            f = model.step_features(h, batch["input_ids"], batch["batch_idx"],
                                    *(batch[k] for k in ("tok_b", "tok_pos", "tok_prev", "tok_step")))
            assert got == pytest.approx(model.feature_head(f)[:, 0].tolist(), abs=1e-5)


def test_bad_combinations_are_clear_errors(base):
    with pytest.raises(ValueError, match="needs --read marker or step-end"):
        build_reward_model(base, RMSpec(lm_features=True, scoring="per-step"))
    with pytest.raises(ValueError, match="needs lm_features"):
        build_reward_model(base, RMSpec(hidden_head=False))


def test_cli_trains_heads_with_a_frozen_backbone(base, tmp_path):
    """--backbone-lr 0 leaves every backbone weight as it was; the heads move."""
    train, _ = noisy_reward_rows(16, 0)
    write_jsonl(tmp_path / "data" / "train.jsonl", train)
    rc = cli(["rm", "train", "--kind", "prm", "--data", str(tmp_path / "data"), "--base", str(base),
              "-o", str(tmp_path / "rm"), "--max-steps", "3", "--batch-size", "4", "--loss", "hard_ce",
              "--label-type", "hard", "--head", "both", "--read", "step-end", "--template", "policy",
              "--backbone-lr", "0"])
    assert rc == 0
    trained, _, spec = load_reward_model(tmp_path / "rm")
    start = AutoModelForCausalLM.from_pretrained(base)
    for (name, a), (_, b) in zip(
        trained.backbone.state_dict().items(), start.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name
    fresh, _ = build_reward_model(base, RMSpec(lm_features=True, loss="hard_ce"))
    assert not torch.equal(trained.feature_head.weight, fresh.feature_head.weight)
    assert json.loads((tmp_path / "rm" / "train_summary.json").read_text())["steps"] == 3


def test_reading_checks_every_combination():
    """The two choices (where a step is read, what scores it) and the options that depend on them."""
    from hiero.reward.model import HEADS, READS, reading

    ok = {(r, h) for r in READS for h in HEADS if r != "per-step" or h == "hidden"}
    for r in READS:
        for h in HEADS:
            if (r, h) in ok:
                flags = reading(r, h)
                spec = RMSpec(**flags)
                assert (spec.read, spec.head) == (r, h)  # stored flags read back as the same choices
            else:
                with pytest.raises(ValueError, match="needs --read marker or step-end"):
                    reading(r, h)
    with pytest.raises(ValueError, match="truncation fit applies to --read per-step"):
        reading("marker", "hidden", truncation="fit")
    with pytest.raises(ValueError, match="pooling first applies to --read per-step"):
        reading("step-end", "hidden", pooling="first")
    # a folder written before the two choices existed reads back as its flags say
    old = RMSpec.from_dict(
        {"scoring": "marker", "marker_token": "", "lm_features": True, "hidden_head": False}
    )
    assert (old.read, old.head) == ("step-end", "likelihood")


def test_cli_trains_only_the_top_layers(base, tmp_path):
    """--train-layers 1: the top block and the final norm learn; the embeddings and lower blocks stay as they
    were."""
    train, _ = noisy_reward_rows(16, 0)
    write_jsonl(tmp_path / "data" / "train.jsonl", train)
    rc = cli(["rm", "train", "--kind", "prm", "--data", str(tmp_path / "data"), "--base", str(base),
              "-o", str(tmp_path / "rm"), "--max-steps", "3", "--batch-size", "4", "--loss", "hard_ce",
              "--label-type", "hard", "--read", "step-end", "--lr", "1e-2", "--train-layers", "1"])
    assert rc == 0
    trained, _, _ = load_reward_model(tmp_path / "rm")
    start = AutoModel.from_pretrained(base)
    n_layers = start.config.num_hidden_layers
    top = f"layers.{n_layers - 1}."
    for (name, a), (_, b) in zip(
        trained.backbone.state_dict().items(), start.state_dict().items(), strict=True
    ):
        learns = top in name or name.startswith("norm.")
        assert torch.equal(a, b) != learns, name
    summary = json.loads((tmp_path / "rm" / "train_summary.json").read_text())
    assert summary["train_layers"] == 1 and 0 < summary["backbone_trainable"] < summary["backbone_total"]
    with pytest.raises(ValueError, match="--train-layers 9: the backbone has"):
        from hiero.reward.model import train_top_layers

        train_top_layers(start, 9)


def test_evaluation_batches_by_tokens_without_changing_the_figures(base):
    """A token budget cuts long rows into smaller evaluation batches (bounded attention memory), same
    figures."""
    from hiero.reward.model import reading
    from hiero.reward.train import encode_rows, evaluate

    train, _ = noisy_reward_rows(12, 1)
    spec = RMSpec(kind="prm", loss="hard_ce", label_type="hard", **reading("step-end", "hidden"))
    torch.manual_seed(0)
    model, tok = build_reward_model(base, spec)
    examples, _ = encode_rows(train, tok, spec)
    one = evaluate(model.eval(), examples, spec, tok.pad_token_id, batch_size=64, max_tokens=10**9)
    small = evaluate(model, examples, spec, tok.pad_token_id, batch_size=64, max_tokens=60)
    assert one["n_steps"] == small["n_steps"] > 0 and abs(one["acc"] - small["acc"]) < 1e-6
    assert abs(one["loss"] - small["loss"]) < 1e-5
