"""The `hf` backend against transformers' own `generate`, and its batching invariances."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from hiero.policy import load_generator
from hiero.policy.hf_backend import HFGenerator
from hiero.policy.prompt import build_prompt


def _reference_greedy(path, prompt: str, max_new_tokens: int) -> list[int]:
    """transformers' generate, one prompt at a time (no padding, no prefix tricks)."""
    model = AutoModelForCausalLM.from_pretrained(path).eval()
    tok = AutoTokenizer.from_pretrained(path)
    ids = tok(prompt, return_tensors="pt")["input_ids"]
    out = model.generate(
        ids,
        attention_mask=torch.ones_like(ids),
        max_new_tokens=max_new_tokens,
        do_sample=False,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    return out[0, ids.shape[1]:].tolist()


def test_greedy_matches_transformers_generate(tiny_policy, test_problems):
    """Left padding, shared-prefix KV reuse and row dropping change nothing in greedy decoding."""
    prompts = [build_prompt(p.question) for p in test_problems[:4]] + [
        build_prompt(test_problems[0].question, ["x"])
    ]
    gen = HFGenerator(tiny_policy, device="cpu")
    outs = gen.generate(prompts, n=1, max_new_tokens=12, temperature=0.0)
    tok = gen.tokenizer
    for prompt, row in zip(prompts, outs, strict=True):
        ref = _reference_greedy(tiny_policy, prompt, 12)
        ref_text = tok.decode([t for t in ref if t != tok.eos_token_id], skip_special_tokens=False)
        assert row[0].text == ref_text
        assert row[0].n_tokens == len(ref)


def test_tree_prompts_share_the_question_prefill(tiny_policy, test_problems):
    """Nodes of one tree share the question: it is prefilled once, and greedy text is unchanged."""
    q = test_problems[2].question
    prompts = [build_prompt(q, ["a = 1"]), build_prompt(q, ["b = 2", "c"]), build_prompt(q)]
    gen = HFGenerator(tiny_policy, device="cpu")
    outs = gen.generate(prompts, n=1, max_new_tokens=8, temperature=0.0)
    assert gen.stats["prefill_tokens"] < gen.stats["prompt_tokens"]
    plain = HFGenerator(tiny_policy, device="cpu", prefix_reuse=False).generate(
        prompts, n=1, max_new_tokens=8
    )
    assert [r[0].text for r in outs] == [r[0].text for r in plain]


def test_prefix_reuse_and_batch_size_do_not_change_samples(tiny_policy, test_problems):
    prompts = [
        build_prompt(test_problems[0].question, ["step a"]),
        build_prompt(test_problems[0].question, ["b"]),
    ]
    kw = dict(n=3, max_new_tokens=10, temperature=1.0, seed=7)
    a = HFGenerator(tiny_policy, device="cpu").generate(prompts, **kw)
    b = HFGenerator(tiny_policy, device="cpu", prefix_reuse=False, batch_size=3).generate(prompts, **kw)
    c = HFGenerator(tiny_policy, device="cpu").generate(prompts[:1], **kw)  # alone in its call
    assert [[x.text for x in r] for r in a] == [[x.text for x in r] for r in b]
    assert [x.text for x in a[0]] == [x.text for x in c[0]]
    assert len({x.text for x in a[0]}) > 1  # n samples of one prompt differ
    d = HFGenerator(tiny_policy, device="cpu").generate(prompts, **{**kw, "seed": 8})
    assert [[x.text for x in r] for r in a] != [[x.text for x in r] for r in d]


def test_stop_strings_cut_the_text_and_say_which(tiny_policy, test_problems):
    gen = HFGenerator(tiny_policy, device="cpu")
    free = gen.generate(
        [build_prompt(test_problems[1].question)], n=4, max_new_tokens=30, temperature=1.0, seed=3
    )[0]
    # pick a character the untrained model does write, and stop on it
    stop = next(ch for c in free for ch in c.text if ch.strip())
    cut = gen.generate(
        [build_prompt(test_problems[1].question)],
        n=4,
        max_new_tokens=30,
        temperature=1.0,
        seed=3,
        stop=[stop],
    )[0]
    for full, c in zip(free, cut, strict=True):
        if c.finish_reason == "stop":
            assert c.stop_string == stop and stop not in c.text and full.text.startswith(c.text)
    assert any(c.finish_reason == "stop" for c in cut)


def test_load_generator_specs(tiny_policy, tmp_path):
    assert isinstance(load_generator(str(tiny_policy), device="cpu"), HFGenerator)
    assert isinstance(load_generator(f"hf:{tiny_policy}", device="cpu"), HFGenerator)
    with pytest.raises(FileNotFoundError, match="config.json"):
        load_generator(str(tmp_path))
    with pytest.raises(ValueError, match="openai:BASE_URL#MODEL"):
        load_generator("openai:http://127.0.0.1:1/v1")


def test_generation_stays_inside_the_position_table(tiny_policy):
    """A prompt longer than the model's context is refused by index; a row stops at the table's end."""
    from hiero.policy.model import build_model

    tok = AutoTokenizer.from_pretrained(tiny_policy)
    model = build_model(len(tok), n_layers=1, hidden=32, heads=2, max_positions=40, eos_token_id=None, seed=2)
    gen = HFGenerator(model, tok, device="cpu")
    short = "Question: what is 1 + 2?\nAnswer:\n"
    n = len(tok(short)["input_ids"])
    out = gen.generate([short], max_new_tokens=100, temperature=0.0)[0][0]
    assert out.finish_reason == "length" and out.n_tokens == 40 - n
    with pytest.raises(ValueError, match=r"prompt 1 has \d+ tokens; .* reads at most 40"):
        gen.generate([short, short * 4], max_new_tokens=4)
