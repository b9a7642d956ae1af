"""Scoring ProcessBench with a public PRM: `hiero eval processbench` vs the model card's loop.

    python benchmarks/public_prm.py [--limit 0] [--threads 1] [--shape tiny] [--dtype fp32]
                                    [--out FILE]

Model: a random-weight Qwen2.5-Math-PRM in the real published layout (hiero.testing.build_public_prm:
Qwen's real BPE and chat template, backbone + the score.0 / ReLU / score.2 head); --shape tiny (the
default: 1 layer of width 32), small (4 layers of width 256) or 1.5b (Qwen2.5-Math-1.5B's sizes: 28
layers of width 1536, for a GPU).
Data: the real ProcessBench splits in ../shared/data/processbench (all 3,400 items, or --limit per
split spread over it).

hiero       `hiero.evaluation.processbench.main` on the folder, as the CLI runs it: items encoded once,
            sorted by length, batches of 32 under a 16,384-token budget, right padding, the step
            scores read at <extra_0>, then the metrics and the output files.
card loop   the Qwen2.5-Math-PRM-7B model card's code on the same loaded model: for each item
            apply_chat_template, encode, one forward pass of that item alone, make_step_rewards.

Same model object and thread count: --threads sets torch's threads and the tokenizer's (Rust) threads,
which hiero's batched encode would otherwise spread over every core. Figures: items per second of wall
time of the scoring alone (hiero's `score_items` on the loaded scorer against the card loop, the model
loaded once for both: `ratio`, goal >= 5x) and of the whole command (loading, tokenizing, metrics,
files). On a GPU both sides run there (the card's `.to(model.device)`). Needs the extra
`real-tokenizers`; `run(args)` is what benchmarks/run_all.py calls.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import torch

from hiero.data.io import write_json

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "processbench"
SHAPES = {
    "tiny": None,  # hiero.testing.TINY: 1 layer, width 32, 2 heads, 1 KV head
    "small": dict(hidden_size=256, intermediate_size=704, num_hidden_layers=4, num_attention_heads=4,
                  num_key_value_heads=2),
    "1.5b": dict(hidden_size=1536, intermediate_size=8960, num_hidden_layers=28, num_attention_heads=12,
                 num_key_value_heads=2),  # Qwen2.5-Math-1.5B's config
}


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--limit", type=int, default=0, help="items per split, spread (0: all 3,400)")
    ap.add_argument("--threads", type=int, default=1, help="torch and tokenizer threads, both sides")
    ap.add_argument("--shape", choices=sorted(SHAPES), default="tiny")
    ap.add_argument("--dtype", choices=["fp32", "bf16", "fp16"], default="fp32")
    ap.add_argument("--out", type=Path, default=Path("runs/bench/public_prm.json"))
    return ap


def card_loop(model, tokenizer, items: list[dict]) -> list[list[float]]:
    """The model card, verbatim in substance (the model object is hiero's, so both read the same weights)."""
    system = "Please reason step by step, and put your final answer within \\boxed{}."
    step_sep_id = tokenizer.encode("<extra_0>")[0]
    out = []
    for it in items:
        messages = [{"role": "system", "content": system}, {"role": "user", "content": it["problem"]},
                    {"role": "assistant", "content": "<extra_0>".join(it["steps"]) + "<extra_0>"}]
        conversation_str = tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=False
        )
        input_ids = tokenizer.encode(conversation_str, return_tensors="pt").to(model.device)
        with torch.no_grad():
            logits = model(input_ids=input_ids)
        probabilities = torch.softmax(logits, dim=-1) * (input_ids == step_sep_id).unsqueeze(-1)
        sample = probabilities[0]
        out.append(sample[sample != 0].view(-1, 2)[:, 1].tolist())
    return out


def run(args) -> dict:
    from hiero.cli import keep_freed_memory

    keep_freed_memory()  # as the CLI does ($HIERO_MALLOC=system: glibc's defaults); both sides share it
    torch.set_num_threads(args.threads)
    # the tokenizer's thread pool: sequential for one thread (read at each call); else its size, read when
    # the pool starts (this process's first parallel encode)
    tok_env = (
        {"TOKENIZERS_PARALLELISM": "false"} if args.threads == 1 else {"RAYON_NUM_THREADS": str(args.threads)}
    )
    saved = {k: os.environ.get(k) for k in tok_env}
    os.environ.update(tok_env)
    try:
        return _run(args)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _run(args) -> dict:
    from hiero.evaluation.processbench import SPLITS, ProcessBenchConfig, main, take
    from hiero.reward.base import score_items
    from hiero.reward.spec import load_scorer
    from hiero.testing import build_public_prm

    with tempfile.TemporaryDirectory() as tmp:
        folder = build_public_prm("qwen-prm", Path(tmp) / "qwen-prm", shape=SHAPES[args.shape])
        items = []
        for s in SPLITS:
            items += take(json.loads((args.data / f"{s}.json").read_text()), args.limit, "spread")
        data = args.data
        if args.limit:
            data = Path(tmp) / "pb"
            data.mkdir()
            for s in SPLITS:
                (data / f"{s}.json").write_text(
                    json.dumps(take(json.loads((args.data / f"{s}.json").read_text()), args.limit, "spread"))
                )
        cfg = ProcessBenchConfig(rm=f"qwen-prm:{folder}", data=str(data), out=str(Path(tmp) / "pb.json"),
                                 dtype=args.dtype)
        t0 = time.perf_counter()
        res = main(cfg)
        t_hiero = time.perf_counter() - t0
        # the scorer the command builds: its batch size and token budget
        scorer = load_scorer(cfg.rm, batch_size=cfg.batch, max_tokens=cfg.max_tokens, dtype=args.dtype)
        questions, solutions = [it["problem"] for it in items], [it["steps"] for it in items]
        t0 = time.perf_counter()
        scored = score_items(scorer, questions, solutions, [it["id"] for it in items])
        t_score = time.perf_counter() - t0
        t0 = time.perf_counter()
        ref = card_loop(scorer.model, scorer.tokenizer, items)
        t_card = time.perf_counter() - t0
        ours = json.loads((Path(tmp) / "pb.json").read_text())["items"]
        flat = [x for s in SPLITS for x in ours[s]]
        diff = max(abs(a - b) for it, r in zip(flat, ref) for a, b in zip(it["scores"], r))
        diff = max(diff, max(abs(a - b) for s, r in zip(scored.scores, ref) for a, b in zip(s, r)))
        device = torch.cuda.get_device_name() if scorer.device.type == "cuda" else "cpu"
    n = len(items)
    result = {
        "items": n,
        "threads": args.threads,
        "shape": args.shape,
        "dtype": args.dtype,
        "device": device,
        "command_s": round(t_hiero, 2),
        "command_items_per_s": round(n / t_hiero, 1),
        "hiero_scoring_s": round(t_score, 2),
        "hiero_scoring_items_per_s": round(n / t_score, 1),
        "card_s": round(t_card, 2),
        "card_items_per_s": round(n / t_card, 1),
        "ratio": round(t_card / t_score, 2),
        "ratio_with_loading_and_metrics": round(t_card / t_hiero, 2),
        "goal": ">= 5x",
        "max_abs_score_diff": diff,
        "n_skipped": res["n_skipped"],
        "average_f1": res["average_f1"],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_json(args.out, result)
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    run(build_parser().parse_args())
