"""The `vllm` backend's adapter logic, against a stand-in `vllm` module at the import boundary.

vLLM needs a GPU and is not installable on CI; this checks what hiero's code does with vLLM's
outputs (finish / stop reasons, greedy n > 1, per-request seeds, order), using the field names of
vLLM's RequestOutput / CompletionOutput. It does not exercise vLLM itself.
"""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass, field

import pytest


@dataclass
class _Out:  # vllm.outputs.CompletionOutput (the fields hiero reads)
    index: int
    text: str
    token_ids: list
    finish_reason: str
    stop_reason: object = None


@dataclass
class _Req:  # vllm.outputs.RequestOutput
    outputs: list = field(default_factory=list)


class _SamplingParams:
    def __init__(self, n=1, temperature=1.0, top_p=1.0, max_tokens=16, stop=None, seed=None):
        if temperature < 1e-5 and n > 1:  # what current vLLM does
            raise ValueError("n must be 1 when using greedy sampling")
        self.n, self.temperature, self.top_p, self.max_tokens, self.stop, self.seed = (
            n, temperature, top_p, max_tokens, stop, seed)


class _LLM:
    last = None

    def __init__(self, model, **kw):
        self.model, self.kw = model, kw
        _LLM.last = self

    def get_tokenizer(self):
        return object()

    def generate(self, prompts, params, use_tqdm=True):
        self.calls = list(zip(prompts, params, strict=True))
        out = []
        for p, sp in self.calls:
            outs = []
            for j in range(sp.n):
                if "STOP" in p:
                    outs.append(_Out(j, f"{p}-{j}", [1, 2], "stop", "\n"))
                elif "LONG" in p:
                    outs.append(_Out(j, f"{p}-{j}", [1] * sp.max_tokens, "length", None))
                else:
                    outs.append(_Out(j, f"{p}-{j}", [1, 2, 3], "stop", None))  # EOS
            out.append(_Req(outs[::-1]))  # vLLM does not promise index order
        return out


@pytest.fixture
def fake_vllm(monkeypatch):
    mod = types.ModuleType("vllm")
    mod.LLM, mod.SamplingParams = _LLM, _SamplingParams
    monkeypatch.setitem(sys.modules, "vllm", mod)
    return mod


def test_outputs_map_to_completions(fake_vllm):
    from hiero.policy import load_generator

    gen = load_generator("vllm:/models/x", gpu_memory_utilization=0.5)
    assert _LLM.last.model == "/models/x" and _LLM.last.kw["enable_prefix_caching"] is True
    out = gen.generate(["a STOP", "b", "c LONG"], n=2, max_new_tokens=5, stop=["\n"], temperature=0.7, seed=3)
    assert [[c.text for c in row] for row in out] == [
        ["a STOP-0", "a STOP-1"],
        ["b-0", "b-1"],
        ["c LONG-0", "c LONG-1"],
    ]
    assert [row[0].finish_reason for row in out] == ["stop", "eos", "length"]
    assert out[0][0].stop_string == "\n" and out[2][0].n_tokens == 5
    seeds = [sp.seed for _, sp in _LLM.last.calls]
    assert len(set(seeds)) == 3  # one seed per request, from the call seed
    gen.generate(["a STOP", "b", "c LONG"], n=2, max_new_tokens=5, stop=["\n"], temperature=0.7, seed=3)
    assert [sp.seed for _, sp in _LLM.last.calls] == seeds  # same call seed, same request seeds


def test_greedy_with_n_asks_once_and_copies(fake_vllm):
    from hiero.policy.vllm_backend import VLLMGenerator

    gen = VLLMGenerator("/m")
    (row,) = gen.generate(["q"], n=3, temperature=0.0)
    assert [c.text for c in row] == ["q-0"] * 3 and _LLM.last.calls[0][1].n == 1


def test_missing_vllm_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)
    from hiero.policy.vllm_backend import VLLMGenerator

    with pytest.raises(ImportError, match="openai:URL#MODEL"):
        VLLMGenerator("/m")
