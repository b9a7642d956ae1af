"""Pick a generation backend from one string, and measure a policy's greedy accuracy.

    load_generator("runs/policy")                           # hf backend on a model folder
    load_generator("hf:runs/policy")                        # the same, explicit
    load_generator("openai:http://127.0.0.1:8000/v1#qwen")  # any OpenAI-compatible server, model "qwen"
    load_generator("vllm:/models/Qwen2.5-Math-7B-Instruct") # in-process vLLM (GPU, extra `vllm`)

    evaluate_accuracy(gen, problems)  -> {"accuracy", "n", "n_correct", "no_answer", "generated_tokens", ...}

Backends are imported only when asked for, so `import hiero.policy` stays light.
"""

from __future__ import annotations

import time

from tqdm.auto import tqdm

from hiero.domains import answer_of
from hiero.policy.backend import Generator
from hiero.policy.prompt import format_of
from hiero.types import Problem


def load_generator(spec: str, **kwargs) -> Generator:
    """A Generator from "hf:DIR" (or a plain DIR), "openai:BASE_URL#MODEL" or "vllm:DIR".

    kwargs go to the backend's constructor (e.g. batch_size=, device=, concurrency=).
    """
    kind, sep, rest = spec.partition(":")
    if not sep or kind not in ("hf", "openai", "vllm"):  # a plain path ("C:\\..." included)
        kind, rest = "hf", spec
    if not rest:
        raise ValueError(f"generator spec {spec!r} names no model")
    if kind == "hf":
        from hiero.policy.hf_backend import HFGenerator

        return HFGenerator(rest, **kwargs)
    if kind == "openai":
        from hiero.policy.openai_backend import OpenAIGenerator

        base_url, hash_, model = rest.partition("#")
        if not hash_ or not model:
            raise ValueError(f"openai spec must be 'openai:BASE_URL#MODEL', got {spec!r}")
        return OpenAIGenerator(base_url, model, **kwargs)
    from hiero.policy.vllm_backend import VLLMGenerator

    return VLLMGenerator(rest, **kwargs)


def evaluate_accuracy(generator: Generator, problems: list[Problem], *, batch_size: int = 64,
                      max_new_tokens: int = 128, return_texts: bool = False, desc: str = "eval") -> dict:
    """Greedy accuracy of `generator` on `problems` (one full solution each, batched calls).

    Returns accuracy, n, n_correct, no_answer (share of solutions stating no answer),
    generated_tokens, time_s, tokens_per_s; with return_texts also "texts" and "correct" lists.
    """
    t0 = time.time()
    texts, n_tokens = [], 0
    fmt = format_of(generator)
    bar = tqdm(total=len(problems), desc=desc, unit="problem", dynamic_ncols=True, leave=False)
    for k in range(0, len(problems), batch_size):
        chunk = problems[k:k + batch_size]
        outs = generator.generate([fmt.prompt(p.question) for p in chunk], n=1,
                                  max_new_tokens=max_new_tokens, temperature=0.0, seed=0)
        texts += [o[0].text for o in outs]
        n_tokens += sum(o[0].n_tokens for o in outs)
        bar.update(len(chunk))
    bar.close()
    graded = [answer_of(p, t) for p, t in zip(problems, texts)]
    n_correct = sum(ok for _, ok in graded)
    elapsed = time.time() - t0
    out = {
        "accuracy": n_correct / len(problems) if problems else 0.0,
        "n": len(problems),
        "n_correct": n_correct,
        "no_answer": sum(a is None for a, _ in graded) / len(problems) if problems else 0.0,
        "generated_tokens": n_tokens,
        "time_s": round(elapsed, 2),
        "tokens_per_s": round(n_tokens / max(elapsed, 1e-9), 1),
    }
    if return_texts:
        out["texts"], out["correct"] = texts, [ok for _, ok in graded]
    return out
