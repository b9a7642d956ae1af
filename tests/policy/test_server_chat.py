"""`/v1/chat/completions` of `hiero policy serve` (hiero/policy/server.py): a raw-style policy is
prompted in its own layout, and the reply is the generated ids decoded whole, so characters that the
byte-level tokenizer splits into several byte tokens ("×", "÷") come back intact, first character included.

Issue 30 saw chat replies start with a broken character (U+FFFD). The decoding was right all along
(the reply is `decode(generated ids)`, never a slice of a longer decode); the prompt was not: the
route sent a raw-style policy the bare message plus a blank line, a layout it never saw in training,
and at the chat default temperature 1.0 its first token was often a lone byte of the byte-level
vocabulary. Measured on the demo's policy (23 questions x 16 samples, first 6 tokens): first
character broken in 5/368 replies with that prompt, 0/368 with the policy's own (on the barely trained
policy of `hiero demo --size micro`, 94/368 and 56/368: a model that has not learnt which bytes go
together still samples lone ones at temperature 1, whatever the prompt).
"""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlparse

import pytest
import torch

from hiero.domains import builtin as synth
from hiero.policy.model import build_model
from hiero.policy.prompt import build_prompt
from hiero.policy.server import CompletionServer, ServeConfig, chat_prompt
from hiero.policy.tokenizer import train_tokenizer

QUESTION = "What is 6 × 7 ÷ 2?"
ANSWER = "6 × 7 = 42\n42 ÷ 2 = 21\nThe answer is 21"


def post(url: str, path: str, body: dict) -> tuple[int, dict]:
    u = urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    try:
        conn.request(
            "POST", "/v1" + path, body=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
        )
        r = conn.getresponse()
        return r.status, json.loads(r.read())
    finally:
        conn.close()


@pytest.fixture(scope="module")
def parrot(tmp_path_factory):
    """A tiny raw-style policy overfit to answer QUESTION with ANSWER, on a byte-level tokenizer trained
    on text without "×" or "÷" (so each is two byte tokens, neither a character on its own)."""
    path = tmp_path_factory.mktemp("parrot")
    texts = [build_prompt(p.question, p.steps) for p in synth.generate_problems(60, seed=0, split="train")]
    tok = train_tokenizer([t.replace("×", "*").replace("÷", "/") for t in texts], vocab_size=320)
    model = build_model(len(tok), n_layers=2, hidden=64, heads=2, eos_token_id=tok.eos_token_id,
                        pad_token_id=tok.pad_token_id, seed=1)
    prompt = tok(build_prompt(QUESTION))["input_ids"]
    ids = torch.tensor([prompt + tok(ANSWER)["input_ids"] + [tok.eos_token_id]])
    labels = ids.clone()
    labels[0, :len(prompt)] = -100  # learn the answer only
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a 40-token batch: one thread is fastest (and kind to busy cores)
    try:
        for _ in range(150):  # greedy decoding gives the answer from step ~40 on (< 1 s)
            out = model(input_ids=ids, labels=labels)
            opt.zero_grad()
            out.loss.backward()
            opt.step()
        logits = model(input_ids=ids).logits
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(logits[0, len(prompt) - 1 : -1].argmax(-1), ids[0, len(prompt) :]), (
        "the parrot did not learn"
    )
    model.eval()
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def server(parrot):
    s = CompletionServer(
        ServeConfig(policy=str(parrot), port=0, model_name="parrot", device="cpu")
    ).start_background()
    yield s
    s.close()


def test_a_raw_policy_is_chat_prompted_in_its_own_layout(server):
    """Not "QUESTION\\n\\n" (never seen in training) but the template the policy was trained on."""
    assert chat_prompt(server.generator, [{"role": "user", "content": QUESTION}]) == build_prompt(QUESTION)


def test_chat_reply_is_the_generated_ids_decoded_whole(server):
    tok = server.generator.tokenizer
    ids = tok(ANSWER, add_special_tokens=False)["input_ids"]
    # the case where decoding can go wrong: "×" and "÷" are each split over byte tokens
    assert any("\ufffd" in tok.decode([i]) for i in ids) and tok.decode(ids) == ANSWER
    status, body = post(
        server.url,
        "/chat/completions",
        {
            "model": "parrot",
            "messages": [{"role": "user", "content": QUESTION}],
            "temperature": 0,
            "max_tokens": 40,
        },
    )
    assert status == 200, body
    content = body["choices"][0]["message"]["content"]
    assert content == ANSWER and body["choices"][0]["n_tokens"] == len(ids) + 1  # + EOS
    assert "\ufffd" not in content and content[0] not in "ĠĊ" and not content[0].isspace()
    # the same text as the completions route given the policy's own prompt
    status, body = post(server.url, "/completions", {
        "model": "parrot", "prompt": build_prompt(QUESTION), "temperature": 0, "max_tokens": 40})
    assert status == 200 and body["choices"][0]["text"] == content


def test_sampled_chat_replies_start_clean(server):
    """At the chat default temperature (1.0) too: no reply starts with a broken or byte-marker character."""
    status, body = post(
        server.url,
        "/chat/completions",
        {
            "model": "parrot",
            "messages": [{"role": "user", "content": QUESTION}],
            "n": 8,
            "seed": 0,
            "max_tokens": 6,
        },
    )
    assert status == 200, body
    for choice in body["choices"]:
        first = choice["message"]["content"][:1]
        assert first and first not in "\ufffdĠĊ" and first.isprintable(), body["choices"]


def test_a_stream_request_is_refused_not_answered_in_one_body(server):
    status, body = post(server.url, "/chat/completions", {
        "model": "parrot", "messages": [{"role": "user", "content": QUESTION}], "stream": True})
    assert status == 400 and "stream" in body["error"]["message"]
