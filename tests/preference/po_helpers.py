"""Tiny models, tokenizers and pairs for the preference tests (built on the fly, saved and reloaded)."""

from __future__ import annotations

import random
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import AutoTokenizer, PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

from hiero.domains import builtin as synth
from hiero.policy.prompt import build_prompt
from hiero.types import PreferencePair


def synth_texts(n: int = 60, seed: int = 0) -> list[str]:
    out = []
    for p in synth.generate_problems(n, seed=seed):
        out.append(build_prompt(p.question) + "\n".join(synth.solve(p)))
    return out


def make_tokenizer(folder: Path, bos: bool = False, vocab_size: int = 400) -> PreTrainedTokenizerFast:
    """Byte-level BPE; `bos=True` is Llama-style (adds <s>), else Qwen-style (no BOS)."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<s>", "</s>", "<pad>"] if bos else ["<|endoftext|>", "<pad>"]
    tok.train_from_iterator(synth_texts(), trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    if bos:
        tok.post_processor = processors.TemplateProcessing(
            single="<s> $A", special_tokens=[("<s>", tok.token_to_id("<s>"))]
        )
        fast = PreTrainedTokenizerFast(
            tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>"
        )
    else:
        fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<pad>")
    folder.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(folder)
    return AutoTokenizer.from_pretrained(folder)


def make_model(folder: Path, tokenizer, seed: int = 0, hidden: int = 32, layers: int = 2) -> Path:
    """A tiny Qwen2 saved with its tokenizer in `folder`."""
    torch.manual_seed(seed)
    cfg = Qwen2Config(vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=2 * hidden,
                      num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
                      max_position_embeddings=512, tie_word_embeddings=True,
                      eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                      bos_token_id=tokenizer.bos_token_id)
    model = Qwen2ForCausalLM(cfg)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def synth_pairs(n: int = 8, seed: int = 0) -> list[PreferencePair]:
    """Correct reference solution (chosen) vs a noisy wrong one (rejected) for synthetic problems."""
    rng = random.Random(seed)
    out = []
    for p in synth.generate_problems(n, seed=seed):
        bad = synth.render_noisy_solution(p, rng, p_error=0.9, p_correction=0.0)
        if bad.correct:
            continue
        out.append(PreferencePair(prompt=build_prompt(p.question), chosen="\n".join(synth.solve(p)),
                                  rejected=bad.text, id=p.id))
    return out


# ----------------------------------------------------------------------------- loopback judge server
import json  # noqa: E402
import threading  # noqa: E402
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # noqa: E402

CRITERIA_SCORES = {
    "Logical Flow": 8,
    "Structural Organization": 7,
    "Consistency": 9,
    "Factual Correctness": 6,
    "Domain Knowledge Application": 6,
    "Reasoning Validity": 5,
    "Final Answer Correctness": 3,
    "Strategy Usefulness": 7,
    "Progress Toward Solution": 7,
    "Partial Success Recognition": 8,
    "Error Robustness": 6,
}


def canned_reply(prompt: str) -> str:
    """The judge's side of the conversation: deterministic answers keyed on the request text."""
    if "Rate the solution" in prompt:
        if "MALFORMED" in prompt:
            return "I think it is fine."
        return json.dumps({**CRITERIA_SCORES, "verbosity": "adequate", "final_comment": "Clear steps."})
    if "compare two solutions" in prompt:
        a = prompt.split("Solution A:", 1)[1].split("Solution B:", 1)[0]
        if "BIASED" in prompt:  # a position-biased judge: always the first one shown
            return json.dumps({"winner": "A", "reason": "first"})
        return json.dumps({"winner": "A" if "GOOD" in a else "B", "reason": "better"})
    if "split a solution" in prompt:
        sol = prompt.rsplit("Solution:\n", 1)[1].strip()
        lines = sol.splitlines()
        return json.dumps(
            {"clarification": lines[0][:12], "reasoning": lines[1][:5], "answer": lines[-1][:13]}
        )
    if "rewrite a solution" in prompt:
        return json.dumps(
            {"clarification": "Find the total.", "reasoning": "2 + 3 = 5", "answer": "The answer is 5"}
        )
    return "{}"


class JudgeServer:
    """An OpenAI-compatible /v1/chat/completions endpoint on 127.0.0.1 (real HTTP, canned replies)."""

    def __init__(self):
        self.requests: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append(body)
                reply = canned_reply(body["messages"][-1]["content"])
                data = json.dumps(
                    {
                        "id": "x",
                        "object": "chat.completion",
                        "model": body["model"],
                        "choices": [
                            {
                                "index": 0,
                                "finish_reason": "stop",
                                "message": {"role": "assistant", "content": reply},
                            }
                        ],
                        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

