"""Public PRM formats: tiny models saved in each format, loaded back through `load_scorer`, scored
against a direct computation from the model's logits written the way each model card / trainer does.

Each folder is built locally: a byte-level BPE trained on the fly with `tokenizers` (separators and
step tags added as tokens the way the public checkpoints have them), a random 1-layer config with a
wider initialisation so scores spread over [0, 1] (else every score is ~0.5 and any comparison passes),
`save_pretrained`, then `load_scorer(DIR)` with the format detected from the folder.
"""

from __future__ import annotations

import json
from itertools import chain

import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import (
    AutoModelForCausalLM,
    AutoModelForTokenClassification,
    AutoTokenizer,
    MistralConfig,
    MistralForCausalLM,
    PreTrainedTokenizerFast,
    Qwen2Config,
    Qwen2ForCausalLM,
    Qwen2ForTokenClassification,
)

from hiero.cli import main as cli
from hiero.data.io import write_jsonl
from hiero.reward.base import Scorer
from hiero.reward.public import PublicPRMScorer, detect_format
from hiero.reward.spec import load_scorer
from hiero.types import Solution

QS = ["Ben owns 5 cards. He loses 2 cards. How many cards?", "What is 3 * 3?", "Add 9 and 1.", "Q4"]
SOLS = [["Ben starts with 5 cards.", "5 - 2 = 3", "The answer is 3"], ["3 * 3 = 9"],
        ["9 + 1 = 10", "10 - 1 = 9", "9 + 1 = 10", "The answer is 10", "Check: 10 = 10"], []]
TEXTS = QS + list(chain(*SOLS)) + ["2 + 3 = 5", "so the answer is k", "x = 3.", "ответ так"]
QWEN_SYSTEM = (
    "Please reason step by step, and put your final answer within \\boxed{}."  # model card, verbatim
)
CHAT = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}")


def bpe(added: list[str] = (), special: list[str] = (), bos: str | None = None) -> PreTrainedTokenizerFast:
    """Byte-level BPE trained on TEXTS; `added` tokens (e.g. "ки") never merge with their neighbours."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<|endoftext|>", *special] + ([bos] if bos else [])
    tok.train_from_iterator(TEXTS * 20, trainers.BpeTrainer(
        vocab_size=350, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False))
    if bos:  # Mistral-style: encode() prepends BOS
        tok.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A", special_tokens=[(bos, tok.token_to_id(bos))]
        )
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<|endoftext|>",
                                   bos_token=bos)
    if added:
        fast.add_tokens(list(added))
    return fast


def tiny_config(cls, tok, **kw):
    return cls(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=512,
        pad_token_id=tok.pad_token_id,
        tie_word_embeddings=False,
        initializer_range=0.1,
        **kw,
    )


def save(model, tok, path):
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


def make_token_classification(path, *, qwen: bool):
    """Qwen2.5-Math-PRM style (<extra_0> special token, chat template) or a TRL PRMTrainer folder."""
    if qwen:
        tok = bpe(special=["<|im_start|>", "<|im_end|>"])
        tok.add_special_tokens({"additional_special_tokens": ["<extra_0>"]})
        tok.chat_template = CHAT
    else:
        tok = bpe(bos="<s>")
    torch.manual_seed(0)
    model = Qwen2ForTokenClassification(tiny_config(Qwen2Config, tok, num_labels=2))
    torch.nn.init.normal_(model.score.weight, std=0.3)
    return save(model, tok, path)


def make_step_tag(path, tok=None):
    """Math-Shepherd style: a causal LM whose tokenizer keeps "ки" whole and prepends BOS."""
    tok = tok or bpe(added=["ки"], bos="<s>")
    torch.manual_seed(2)
    model = MistralForCausalLM(tiny_config(MistralConfig, tok))
    torch.nn.init.normal_(model.lm_head.weight, std=1.0)
    return save(model, tok, path)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("public")
    return {"token-classification": make_token_classification(root / "qwen", qwen=True),
            "trl": make_token_classification(root / "trl", qwen=False),
            "math-shepherd": make_step_tag(root / "shepherd")}


# ----------------------------------------------------------------------------- direct computations
def direct_qwen(path, q, steps):
    """The Qwen2.5-Math-PRM model card's make_step_rewards on one solution."""
    tok = AutoTokenizer.from_pretrained(path)  # as the model cards load it
    model = AutoModelForTokenClassification.from_pretrained(path).eval()
    messages = [{"role": "system", "content": QWEN_SYSTEM}, {"role": "user", "content": q},
                {"role": "assistant", "content": "<extra_0>".join(steps) + "<extra_0>"}]
    text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=False)
    ids = tok.encode(text, return_tensors="pt")
    with torch.no_grad():
        probs = model(input_ids=ids).logits.softmax(dim=-1)[0]
    sep_id = tok.encode("<extra_0>")[0]
    return probs[ids[0] == sep_id][:, 1].tolist()


def direct_trl(path, q, steps, step_separator="\n"):
    """TRL PRMTrainer.tokenize_row's ids and label positions (default separator "\\n"); P(label 1) there."""
    tok = AutoTokenizer.from_pretrained(path)  # as the model cards load it
    model = AutoModelForTokenClassification.from_pretrained(path).eval()
    prompt_ids = tok(q, add_special_tokens=False)["input_ids"]
    separator_ids = tok.encode(step_separator, add_special_tokens=False)
    completions_ids = [tok(s, add_special_tokens=False)["input_ids"] + separator_ids for s in steps]
    labels = list(chain(*[[-100] * (len(c) - 1) + [1] for c in completions_ids]))
    prompt_ids = [tok.bos_token_id] + prompt_ids
    input_ids = prompt_ids + list(chain(*completions_ids))
    labels = [-100] * len(prompt_ids) + labels
    with torch.no_grad():
        probs = model(input_ids=torch.tensor([input_ids])).logits.softmax(dim=-1)[0]
    return probs[torch.tensor(labels) == 1][:, 1].tolist()


def direct_shepherd(path, q, steps):
    """The math-shepherd-mistral-7b-prm model card: logits of "+" / "-" at each "ки", P("+")."""
    tok = AutoTokenizer.from_pretrained(path)  # as the model cards load it
    model = AutoModelForCausalLM.from_pretrained(path).eval()
    candidate_tokens = tok.encode("+ -")[1:]  # the card, verbatim
    step_tag_id = tok.encode("ки")[-1]
    output = "\n".join(f"{s} ки" for s in steps)
    input_id = torch.tensor([tok.encode(f"{q} {output}")])
    assert input_id[0, 0] == tok.bos_token_id
    with torch.no_grad():
        logits = model(input_id).logits[:, :, candidate_tokens]
        scores = logits.softmax(dim=-1)[:, :, 0]
    return scores[input_id == step_tag_id].tolist()


DIRECT = {"token-classification": direct_qwen, "trl": direct_trl, "math-shepherd": direct_shepherd}


# ----------------------------------------------------------------------------- tests
@pytest.mark.parametrize("fmt", ["token-classification", "trl", "math-shepherd"])
def test_scores_match_direct_computation(folders, fmt):
    path = folders[fmt]
    assert detect_format(path) == fmt
    scorer = load_scorer(path, batch_size=2)
    assert isinstance(scorer, PublicPRMScorer) and isinstance(scorer, Scorer)
    assert scorer.format == fmt and scorer.kind == "prm"
    got = scorer.score(QS, SOLS)
    assert [len(g) for g in got] == [3, 1, 5, 0]
    for q, steps, g in zip(QS, SOLS, got):
        if steps:
            assert g == pytest.approx(DIRECT[fmt](path, q, steps), abs=1e-5)
    flat = list(chain(*got))
    # the scores really differ and are not saturated: the comparison above can fail
    assert max(flat) - min(flat) > 0.2 and 1e-3 < min(flat) and max(flat) < 1 - 1e-3


@pytest.mark.parametrize("fmt", ["token-classification", "trl", "math-shepherd"])
def test_batch_size_and_order_do_not_change_scores(folders, fmt):
    scorer = load_scorer(folders[fmt], batch_size=1)
    ref = scorer.score(QS, SOLS)
    scorer.batch_size = 8
    perm = [2, 0, 3, 1]
    got = scorer.score([QS[i] for i in perm], [SOLS[i] for i in perm])
    assert list(chain(*got)) == pytest.approx(list(chain(*[ref[i] for i in perm])), abs=1e-5)


def test_trl_layout_places_labels_at_separator(folders):
    scorer = load_scorer(folders["trl"])
    ids, pos = scorer.encode("Add 9 and 1.", ["9 + 1 = 10", "The answer is 10"])
    newline = scorer.tokenizer.encode("\n", add_special_tokens=False)[0]
    assert ids[0] == scorer.tokenizer.bos_token_id and [ids[p] for p in pos] == [newline, newline]
    assert pos[-1] == len(ids) - 1


def test_trl_separator_of_several_tokens(folders):
    """TRL appended the separator's ids whole and labelled the last one; so does the trl layout."""
    scorer = load_scorer(f'{folders["trl"]}#sep= ;; ки')
    assert len(scorer.layout.sep_ids) > 1
    got = scorer.score(QS[:3], SOLS[:3])
    for q, steps, g in zip(QS, SOLS, got):
        assert g == pytest.approx(direct_trl(folders["trl"], q, steps, " ;; ки"), abs=1e-5)


def test_step_tag_that_merges_with_the_step_is_refused(tmp_path):
    """A BPE whose merges glue "k " onto "ки": the tag would vanish after a step ending in k."""
    chars = sorted(set("".join(TEXTS) + "ки"))
    vocab = {c: i for i, c in enumerate(["<unk>", "<s>", "<|endoftext|>", *chars])}
    for t in ("ки", "k ", "k ки"):
        vocab[t] = len(vocab)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[("к", "и"), ("k", " "), ("k ", "ки")], unk_token="<unk>"))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", bos_token="<s>",
                                   eos_token="<|endoftext|>", pad_token="<|endoftext|>")
    assert fast.convert_ids_to_tokens(fast.encode("is k ки")) == ["i", "s", " ", "k ки"]
    assert len(fast.encode("ки")) == 1  # alone the tag is one id: only the context check catches it
    path = make_step_tag(tmp_path / "merging", fast)
    with pytest.raises(ValueError, match=r"does not stand alone after the step 'so the answer is k'"):
        load_scorer(path)


def test_separator_must_be_one_token(folders):
    with pytest.raises(ValueError, match="exactly one token id"):
        load_scorer(f'{folders["math-shepherd"]}#sep=<no such tag>')
    with pytest.raises(ValueError, match="good / bad tokens"):
        load_scorer(f'{folders["math-shepherd"]}#good=good step')


def test_layout_errors_name_the_solution(folders):
    scorer = load_scorer(folders["math-shepherd"])
    with pytest.raises(
        ValueError, match=r"solution 1 \(math-shepherd format\): step 0 contains the separator 'ки'"
    ):
        scorer.score(["q", "q"], [["1 = 1"], ["so ки"]])
    qwen = load_scorer(folders["token-classification"])
    with pytest.raises(ValueError, match="solution 0 .*step 1 contains the separator '<extra_0>'"):
        qwen.score(["q"], [["a", "b <extra_0>"]])
    qwen.max_length = 8
    with pytest.raises(ValueError, match="longer than the reward model's context"):
        qwen.score(QS[:1], SOLS[:1])


def test_forced_format_must_match_the_checkpoint(folders, tmp_path):
    with pytest.raises(ValueError, match="needs a \\*ForTokenClassification checkpoint"):
        load_scorer(f'trl:{folders["math-shepherd"]}')
    with pytest.raises(ValueError, match="needs a \\*ForCausalLM checkpoint"):
        load_scorer(f'step-tag:{folders["trl"]}')  # the old name still works
    # a causal-LM checkpoint relabelled as token classification: the head would be random
    tok = bpe(bos="<s>")
    path = save(Qwen2ForCausalLM(tiny_config(Qwen2Config, tok)), tok, tmp_path / "relabelled")
    cfg = json.loads((path / "config.json").read_text())
    cfg["architectures"] = ["Qwen2ForTokenClassification"]
    (path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match="weights missing"):
        load_scorer(path)


def test_detect_hiero_folder_and_unknown(tmp_path):
    from hiero.reward.model import RMSpec, build_reward_model, save_reward_model
    from hiero.testing import make_tiny_base

    base = make_tiny_base(tmp_path / "base", TEXTS * 5, vocab_size=300)
    model, tok = build_reward_model(base, RMSpec(loss="hard_ce"))
    save_reward_model(model, tok, tmp_path / "rm")
    assert detect_format(tmp_path / "rm") == "hiero"
    assert type(load_scorer(tmp_path / "rm")).__name__ == "RMScorer"
    (tmp_path / "odd").mkdir()
    (tmp_path / "odd" / "config.json").write_text(json.dumps({"architectures": ["BertModel"]}))
    with pytest.raises(ValueError, match="give FORMAT:DIR"):
        detect_format(tmp_path / "odd")
    with pytest.raises(FileNotFoundError, match="not a reward-model folder"):
        detect_format(tmp_path)


def test_rm_score_cli_public_formats(folders, tmp_path, capsys):
    sols = [Solution("p1", SOLS[0], question=QS[0]), Solution("p1", SOLS[2], question=QS[2]),
            Solution("p2", SOLS[1], question=QS[1], meta={"id": "mine"})]
    write_jsonl(tmp_path / "in.jsonl", sols)
    out = tmp_path / "o.jsonl"
    assert (
        cli(
            [
                "rm",
                "score",
                "--rm",
                str(folders["trl"]),
                "--input",
                str(tmp_path / "in.jsonl"),
                "-o",
                str(out),
            ]
        )
        == 0
    )
    summary = json.loads(capsys.readouterr().out)
    assert summary["format"] == "trl" and summary["steps"] == 9
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["p1#0", "p1#1", "mine"] and {r["kind"] for r in rows} == {"prm"}
    ref = load_scorer(folders["trl"]).score([s.question for s in sols], [s.steps for s in sols])
    assert [r["scores"] for r in rows] == [pytest.approx(r, abs=1e-6) for r in ref]
    # a forced format that does not fit: exit 2, one line naming the folder, nothing written
    out2 = tmp_path / "o2.jsonl"
    rc = cli(["rm", "score", "--rm", f"math-shepherd:{folders['trl']}", "--input",
              str(tmp_path / "in.jsonl"), "-o", str(out2)])
    assert rc == 2 and "ForCausalLM" in capsys.readouterr().err and not out2.exists()


def test_eval_commands_take_rm_format(folders, tmp_path, capsys):
    """`hiero eval processbench` and `hiero eval bon` load public folders, auto or forced."""
    items = [{"id": f"t-{i}", "problem": q, "steps": s, "label": (-1 if i % 2 else 0)}
             for i, (q, s) in enumerate(zip(QS, SOLS)) if s]
    data = tmp_path / "pb.json"
    data.write_text(json.dumps(items))
    for spec in (f"math-shepherd:{folders['math-shepherd']}", str(folders["math-shepherd"])):
        out = tmp_path / f"pb_{len(spec)}.json"
        assert cli(["eval", "processbench", "--rm", spec, "--data", str(data), "-o", str(out)]) == 0
        res = json.loads(out.read_text())
        ref = load_scorer(folders["math-shepherd"]).score(
            [it["problem"] for it in items], [it["steps"] for it in items]
        )
        assert [it["scores"] for it in res["items"]] == [pytest.approx(r, abs=1e-6) for r in ref]
    assert cli(["eval", "processbench", "--rm", f"token-classification:{folders['math-shepherd']}",
                "--data", str(data), "-o", str(tmp_path / "bad.json")]) == 2
    assert "ForTokenClassification" in capsys.readouterr().err
    cands = [
        Solution(f"p{i}", s, question=q, correct=bool(k), meta={})
        for i, (q, s) in enumerate(zip(QS, SOLS))
        if s
        for k in range(2)
    ]
    write_jsonl(tmp_path / "cands.jsonl", cands)
    assert (
        cli(
            [
                "eval",
                "bon",
                "--candidates",
                str(tmp_path / "cands.jsonl"),
                "--rm",
                f"q=token-classification:{folders['token-classification']}",
                "--n",
                "1,2",
                "--bootstrap",
                "10",
                "-o",
                str(tmp_path / "bon"),
            ]
        )
        == 0
    )
    res = json.loads((tmp_path / "bon" / "results.json").read_text())
    assert res["rms"] == {"q": "prm"} and "q:min" in res["curves"]
