"""Reward model heads: one marker pass == per-prefix passes, ORM, pooling, save/load, encoders."""

import pytest
import torch
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

from hiero.reward.collate import encode_marker
from hiero.reward.model import RMSpec, build_reward_model, load_reward_model, save_reward_model
from hiero.reward.scorer import RMScorer
from hiero.testing import make_tiny_base

TEXTS = ["Mia has 4 coins. She finds 3 more coins. Then she doubles the number of coins. How many coins?",
         "Mia starts with 4 coins.", "4 + 3 = 7", "7 * 2 = 14", "The answer is 14", "14 - 5 = 9"] * 30
Q = ["Mia has 4 coins. She finds 3 more coins. How many coins?", "What is 7 * 2?", "Q"]
SOLS = [
    ["Mia starts with 4 coins.", "4 + 3 = 7", "7 * 2 = 14", "14 - 5 = 9", "9 + 1 = 10", "The answer is 10"],
    ["7 * 2 = 14", "The answer is 14"],
    ["4 + 3 = 7", "7 * 2 = 15", "The answer is 15"],
]


def flat(scores):
    return [x for row in scores for x in row]


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return make_tiny_base(tmp_path_factory.mktemp("base"), TEXTS, vocab_size=300)


def _model(base, **spec):
    torch.manual_seed(0)
    model, tok = build_reward_model(base, RMSpec(**spec))
    torch.nn.init.normal_(model.head.weight, std=1.0)  # a loud head: differences would show
    torch.nn.init.normal_(model.head.bias, std=1.0)
    return model.eval(), tok


@pytest.mark.parametrize("loss", ["mse", "soft_ce"])
def test_one_marker_pass_equals_scoring_each_prefix(base, loss):
    """Batched one-pass marker scores (right padding, length-sorted batches) equal, to 1e-5, the score
    of the last marker of each prefix steps[:k+1] run alone, unpadded."""
    model, tok = _model(base, scoring="marker", loss=loss)
    scorer = RMScorer(model, tok, model.spec, batch_size=2)
    batched = scorer.score(Q, SOLS)
    spread = []
    with torch.no_grad():
        for q, steps, got in zip(Q, SOLS, batched, strict=True):
            assert len(got) == len(steps)
            for k in range(len(steps)):
                ids, pos = encode_marker(tok, q, steps[:k + 1], model.spec.marker_id, model.spec.template)
                x = torch.tensor([ids])
                out = model.marker_outputs(x, torch.ones_like(x), torch.tensor([0]), torch.tensor([pos[-1]]))
                alone = (torch.softmax(out, -1)[0, 1] if loss == "soft_ce" else out[0, 0]).item()
                assert got[k] == pytest.approx(alone, abs=1e-5)
                spread.append(alone)
    assert max(spread) - min(spread) > 1e-3  # the scores really vary, so equality is not vacuous
    assert flat(scorer.score(Q[::-1], SOLS[::-1])) == pytest.approx(
        flat(batched[::-1]), abs=1e-6
    )  # input order kept
    assert flat(RMScorer(model, tok, model.spec, batch_size=1).score(Q, SOLS)) == pytest.approx(
        flat(batched), abs=1e-5
    )


def test_orm_gives_one_score_per_solution(base):
    model, tok = _model(base, kind="orm", scoring="marker")
    scores = RMScorer(model, tok, model.spec).score(Q, SOLS)
    assert [len(s) for s in scores] == [1, 1, 1]
    with torch.no_grad():  # the ORM input has no markers between steps: one marker, after the last
        for q, steps, got in zip(Q, SOLS, scores, strict=True):
            ids, pos = encode_marker(tok, q, steps, model.spec.marker_id, model.spec.template, orm=True)
            assert pos == [len(ids) - 1] and ids.count(model.spec.marker_id) == 1
            x = torch.tensor([ids])
            out = model.marker_outputs(x, torch.ones_like(x), torch.tensor([0]), torch.tensor(pos))
            assert got[0] == pytest.approx(out.item(), abs=1e-5)
    per_step, tok2 = _model(base, kind="orm", scoring="per-step")
    assert [len(s) for s in RMScorer(per_step, tok2, per_step.spec).score(Q, SOLS)] == [1, 1, 1]


def test_last_token_pooling_with_pad_equal_to_eos(base):
    """pad == eos here; a real eos inside a row must not be mistaken for padding, and left or right
    padding both read the last attended position."""
    model, tok = _model(base, scoring="per-step")
    assert tok.pad_token_id == tok.eos_token_id and model.spec.pooling == "last"
    e, a = tok.eos_token_id, 7
    ids = torch.tensor([[a, a, e, e], [a, e, e, e], [e, e, a, a]])
    mask = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0], [0, 0, 1, 1]])
    with torch.no_grad():
        h = model.hidden_states(ids, mask)
        want = model.head(h[torch.arange(3), torch.tensor([2, 0, 3])])
        assert torch.allclose(model.pooled_outputs(ids, mask), want)


@pytest.mark.parametrize("scoring", ["marker", "per-step"])
def test_save_load_round_trip(base, tmp_path, scoring):
    model, tok = _model(base, scoring=scoring, loss="soft_ce", kind="hrm")
    before = RMScorer(model, tok, model.spec).score(Q, SOLS)
    save_reward_model(model, tok, tmp_path / "rm")
    loaded, tok2, spec = load_reward_model(tmp_path / "rm")
    assert spec.kind == "hrm" and spec.scoring == scoring and spec.loss == "soft_ce"
    assert spec.template == model.spec.template and spec.marker_id == model.spec.marker_id
    assert flat(RMScorer(loaded, tok2, spec).score(Q, SOLS)) == pytest.approx(flat(before), abs=1e-6)


def _tiny_bert(path):
    wp = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    wp.normalizer = normalizers.BertNormalizer(lowercase=True)
    wp.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    wp.train_from_iterator(
        TEXTS, trainers.WordPieceTrainer(vocab_size=200, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]"])
    )
    wp.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    tok = PreTrainedTokenizerFast(
        tokenizer_object=wp, pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]"
    )
    BertModel(BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=64, max_position_embeddings=256)).save_pretrained(path)
    tok.save_pretrained(path)
    return path


def test_encoder_backbone_per_step_only(tmp_path):
    path = _tiny_bert(tmp_path / "bert")
    model, tok = build_reward_model(path, RMSpec(scoring="per-step"))
    assert model.spec.pooling == "first"  # reads [CLS]
    assert [len(s) for s in RMScorer(model, tok, model.spec).score(Q, SOLS)] == [6, 2, 3]
    with pytest.raises(ValueError, match="causal"):
        build_reward_model(path, RMSpec(scoring="marker"))
