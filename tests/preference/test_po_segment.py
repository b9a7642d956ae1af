"""Segmenters and per-token segment ids from ONE tokenization (BOS / no-BOS / chat template), and
segment log-prob sums that add up to the whole-response sum."""

import doctest
import sys
from pathlib import Path

import pytest
import torch

from hiero.data import synth
from hiero.preference import segment
from hiero.preference.logps import segment_logps, taken_logps
from hiero.preference.segment import (
    DEFAULT_NAMES,
    HeuristicSegmenter,
    SegmentError,
    TagSegmenter,
    check_reply,
    encode,
    encode_pair,
    locate_quotes,
)
from hiero.preference.train import collate, load_model

sys.path.insert(0, str(Path(__file__).parent))
import po_helpers as H  # noqa: E402


def test_doctests_bos_and_no_bos_examples():
    assert doctest.testmod(segment).failed == 0


@pytest.fixture(scope="module")
def toks(tmp_path_factory):
    root = tmp_path_factory.mktemp("toks")
    return {"qwen": H.make_tokenizer(root / "q", bos=False), "llama": H.make_tokenizer(root / "l", bos=True)}


def synth_example():
    p = synth.generate_problems(1, seed=3)[0]
    return H.build_prompt(p.question), "\n".join(synth.solve(p))


@pytest.mark.parametrize("style", ["qwen", "llama"])
def test_token_labels_follow_character_spans(toks, style):
    tok = toks[style]
    prompt, response = synth_example()
    spans = HeuristicSegmenter().segment(prompt, response)
    assert spans["clarification"][1] > 0 and spans["answer"][0] < len(response)
    enc = encode(tok, prompt, response, spans, DEFAULT_NAMES)
    full = tok(prompt + response + tok.eos_token)["input_ids"]
    assert enc.input_ids == full  # one tokenization of prompt + response + EOS
    assert enc.segment_ids[:enc.prompt_len] == [-100] * enc.prompt_len
    assert (enc.input_ids[0] == tok.bos_token_id) == (style == "llama")
    # each segment's tokens decode to that segment's text (modulo boundary whitespace)
    for k, name in enumerate(DEFAULT_NAMES):
        ids = [i for i, s in zip(enc.input_ids, enc.segment_ids) if s == k and i != tok.eos_token_id]
        s, e = spans[name]
        assert tok.decode(ids).strip() == response[s:e].strip()
    assert enc.segment_ids[-1] == 2  # the EOS goes with the answer
    assert -1 not in enc.segment_ids  # the spans tile the response


def test_chat_template_no_duplicate_bos(toks):
    tok = toks["llama"]
    tok.chat_template = ("{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}{{ eos_token }}"
                         "{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}")
    prompt, response = synth_example()
    spans = HeuristicSegmenter().segment(prompt, response)
    c, r = encode_pair(tok, prompt, response, "The answer is 3", spans, {"answer": (0, 15)}, DEFAULT_NAMES,
                       chat_template=True)
    assert c.input_ids.count(tok.bos_token_id) == 1
    assert c.prompt_len == r.prompt_len and c.input_ids[:c.prompt_len] == r.input_ids[:r.prompt_len]
    answer_ids = [i for i, s in zip(r.input_ids, r.segment_ids) if s == 2]
    assert tok.decode(answer_ids).startswith("The answer is 3")


def test_heuristic_on_real_gsm8k_and_boxed(shared_data):
    import json

    row = json.loads((shared_data / "gsm8k" / "example_model_solutions.jsonl").open().readline())
    text = row["175b_verification"]["solution"]
    spans = HeuristicSegmenter().segment("", text)
    assert text[slice(*spans["answer"])] == "A: 18"
    assert spans["clarification"] == (0, 0)  # the first line already computes: no restatement
    boxed = "We need the sum.\n\nIt is 2+3.\nSo 2+3=5.\nThus $\\boxed{5}$.\n"
    s = HeuristicSegmenter().segment("", boxed)
    assert boxed[slice(*s["clarification"])] == "We need the sum.\n\n"
    assert boxed[slice(*s["answer"])] == "Thus $\\boxed{5}$.\n"


def test_tags_and_quotes():
    text = "Clarification: find 2+3.\nReasoning: 2+3=5\nAnswer: 5"
    assert TagSegmenter().segment("", text) == {"clarification": (0, 25), "reasoning": (25, 42), "answer": (42, 51)}
    assert locate_quotes(text, {"clarification": "", "reasoning": "Reasoning: 2+3", "answer": "Answer: 5"},
                         DEFAULT_NAMES) == {"clarification": (0, 0), "reasoning": (0, 42), "answer": (42, 51)}
    with pytest.raises(SegmentError):
        locate_quotes(text, {"clarification": "nope", "reasoning": "", "answer": ""}, DEFAULT_NAMES)
    with pytest.raises(SegmentError):
        check_reply('{"clarification": "a", "reasoning": 3, "answer": ""}', DEFAULT_NAMES)


def test_taken_logps_equal_log_softmax_gather():
    g = torch.Generator().manual_seed(0)
    logits, labels = torch.randn(37, 11, generator=g), torch.randint(0, 11, (37,), generator=g)
    ref = torch.log_softmax(logits, -1).gather(-1, labels[:, None]).squeeze(-1)
    assert torch.allclose(taken_logps(logits, labels, chunk_size=8), ref, atol=1e-6)


def test_tiling_segments_sum_to_full_and_match_plain_forward(toks, tmp_path):
    tok = toks["qwen"]
    H.make_model(tmp_path / "m", tok)
    model = load_model(str(tmp_path / "m"))
    examples = []
    for i, p in enumerate(H.synth_pairs(4)[:3]):
        sp = HeuristicSegmenter()
        c, r = encode_pair(tok, p.prompt, p.chosen, p.rejected, sp.segment("", p.chosen), sp.segment("", p.rejected),
                           DEFAULT_NAMES)
        examples.append({"index": i, "chosen_ids": c.input_ids, "chosen_seg": c.segment_ids,
                         "rejected_ids": r.input_ids, "rejected_seg": r.segment_ids})
    b = collate(examples, tok.pad_token_id)
    with torch.no_grad():
        sums, counts = segment_logps(model, b["input_ids"], b["attention_mask"], b["segment_ids"], 3)
        logits = model(input_ids=b["input_ids"], attention_mask=b["attention_mask"]).logits
    assert torch.allclose(sums[:, :3].sum(-1), sums[:, 3], atol=1e-4)
    assert torch.equal(counts[:, :3].sum(-1), counts[:, 3])
    # the whole-response sum equals the textbook computation over the completion mask
    lp = torch.log_softmax(logits[:, :-1], -1).gather(-1, b["input_ids"][:, 1:, None]).squeeze(-1)
    mask = b["segment_ids"][:, 1:] != -100
    assert torch.allclose((lp * mask).sum(-1), sums[:, 3], atol=1e-4)
