"""`vllm` generation backend: in-process vLLM on GPU (optional extra: `pip install -e ".[vllm]"`).

    gen = VLLMGenerator("/models/Qwen2.5-Math-7B-Instruct", gpu_memory_utilization=0.85)
    gen.generate(prompts, n=5, max_new_tokens=64, stop=["\\n"], temperature=0.1, seed=0)

All prompts of a call go to vLLM in one `LLM.generate`, which schedules them with continuous
batching; automatic prefix caching is on, so the nodes of one reasoning tree (which share the
question) reuse its KV blocks, as the `hf` backend does by hand. vLLM's `stop_reason` tells a stop
string (a step boundary) from EOS, the same distinction the other backends make.

Seeding: vLLM seeds each request; here request i gets (seed, i), so a call with the same seed and
prompts gives the same completions. vLLM needs a GPU: on CPU-only machines use `hf` or point the
`openai` backend at a `vllm serve` running elsewhere.
"""

from __future__ import annotations

from hiero.policy.backend import Completion


class VLLMGenerator:
    """Implements `Generator` on `vllm.LLM`."""

    def __init__(
        self,
        model_dir: str,
        *,
        dtype: str = "auto",
        gpu_memory_utilization: float = 0.85,
        tensor_parallel_size: int = 1,
        max_model_len: int | None = None,
        enable_prefix_caching: bool = True,
        **llm_kwargs,
    ):
        try:
            from vllm import LLM
        except ImportError:
            raise ImportError("the vllm backend needs vLLM on a GPU machine: pip install -e '.[vllm]' "
                              "(or serve the model with `vllm serve` and use openai:URL#MODEL)") from None
        from hiero.runs import check_finished

        check_finished(model_dir)  # not a folder a hiero training run is still writing
        self.llm = LLM(model=model_dir, dtype=dtype, gpu_memory_utilization=gpu_memory_utilization,
                       tensor_parallel_size=tensor_parallel_size, max_model_len=max_model_len,
                       enable_prefix_caching=enable_prefix_caching, **llm_kwargs)
        self.tokenizer = self.llm.get_tokenizer()
        self.name = model_dir
        self.stats = {"calls": 0, "generated_tokens": 0}

    def generate(
        self,
        prompts: list[str],
        *,
        n: int = 1,
        max_new_tokens: int = 256,
        stop: list[str] | None = None,
        temperature: float = 0.0,
        top_p: float = 1.0,
        seed: int | None = None,
    ) -> list[list[Completion]]:
        from vllm import SamplingParams

        if n < 1 or max_new_tokens < 1:
            raise ValueError(
                f"need n >= 1 and max_new_tokens >= 1, got n={n}, max_new_tokens={max_new_tokens}"
            )
        if not prompts:
            return []
        greedy = temperature <= 0
        # vLLM refuses n > 1 with greedy sampling; greedy samples are identical, so ask once and copy
        params = [
            SamplingParams(
                n=1 if greedy else n,
                temperature=temperature,
                top_p=top_p if temperature > 0 else 1.0,
                max_tokens=max_new_tokens,
                stop=list(stop or []) or None,
                seed=None if seed is None else (seed * 1_000_003 + i) % (2**31),
            )
            for i in range(len(prompts))
        ]
        outs = self.llm.generate(list(prompts), params, use_tqdm=False)
        self.stats["calls"] += 1
        result = []
        for out in outs:
            row = []
            for c in sorted(out.outputs, key=lambda c: c.index):
                if c.finish_reason == "length":
                    reason, matched = "length", None
                elif isinstance(c.stop_reason, str):
                    reason, matched = "stop", c.stop_reason
                else:  # None (EOS) or a stop token id
                    reason, matched = "eos", None
                row.append(Completion(c.text, len(c.token_ids), reason, matched))
                self.stats["generated_tokens"] += len(c.token_ids)
            result.append(row * n if greedy else row)
        return result
